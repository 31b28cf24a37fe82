--- title = "Dagar från anmälan till beslut (days from report to decision)"
--- purpose = """
--- For reports of concern received in the period whose case reached a decision:
--- the days from the report to the decision, per unit (median, mean, share
--- within four months). A process measure, kept beside results, never instead."""
--- [params]
--- from = { type = "date", default = "2024-01-01", doc = "First day reports were received" }
--- to = { type = "date", default = "2024-12-31", doc = "Last day reports were received" }
--- unit = { type = "text", optional = true, doc = "One unit's code; all units when left out" }
WITH decided AS (
    SELECT c.unit, c.decided - r.received AS days
    FROM reports r
    JOIN cases c ON c.case_id = r.case_id
    WHERE r.kind = 'report'
      AND r.received BETWEEN $from AND $to
      AND c.decided IS NOT NULL
      AND c.decided >= r.received
      AND ($unit IS NULL OR c.unit = $unit)
)
SELECT
    unit,
    count(*) AS decisions,
    median(days) AS median_days,
    avg(days) AS mean_days,
    min(days) AS min_days,
    max(days) AS max_days,
    CAST(count(*) FILTER (WHERE days <= 122) AS DOUBLE) / count(*) AS share_within_4_months
FROM decided
GROUP BY unit
ORDER BY unit
