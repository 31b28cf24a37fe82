--- title = "Förhandsbedömningar inom 14 dagar (preliminary assessments within 14 days)"
--- purpose = """
--- Per month reports of concern were received: reports, preliminary assessments
--- decided, the share decided within 14 days of receipt (SoL 11:1a), and the
--- share that opened an investigation."""
--- [params]
--- from = { type = "date", default = "2024-01-01", doc = "First day reports were received" }
--- to = { type = "date", default = "2024-12-31", doc = "Last day reports were received" }
SELECT
    CAST(date_trunc('month', received) AS DATE) AS month,
    count(*) AS reports,
    count(prelim_decided) AS assessed,
    CAST(count(*) FILTER (WHERE prelim_decided - received <= 14) AS DOUBLE) / count(prelim_decided) AS share_within_14_days,
    CAST(count(*) FILTER (WHERE prelim_outcome = 'investigation') AS DOUBLE) / count(prelim_decided) AS share_investigated
FROM reports
WHERE kind = 'report'
  AND received BETWEEN $from AND $to
GROUP BY CAST(date_trunc('month', received) AS DATE)
ORDER BY month
