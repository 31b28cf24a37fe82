--- title = "Ärendeflöde per månad (monthly case flow)"
--- purpose = """
--- Cases opened and closed per month, the net change, and the running net
--- change since the start of the period, per area of social services."""
--- [params]
--- from = { type = "date", default = "2024-01-01", doc = "First day of the period" }
--- to = { type = "date", default = "2024-12-31", doc = "Last day of the period" }
WITH events AS (
    SELECT area, CAST(date_trunc('month', opened) AS DATE) AS month, 1 AS opened, 0 AS closed
    FROM cases WHERE opened BETWEEN $from AND $to
    UNION ALL
    SELECT area, CAST(date_trunc('month', closed) AS DATE) AS month, 0 AS opened, 1 AS closed
    FROM cases WHERE closed BETWEEN $from AND $to
),
monthly AS (
    SELECT area, month, sum(opened) AS opened, sum(closed) AS closed
    FROM events
    GROUP BY area, month
)
SELECT
    area,
    month,
    opened,
    closed,
    opened - closed AS net_change,
    sum(opened - closed) OVER (PARTITION BY area ORDER BY month ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running_net_change
FROM monthly
ORDER BY area, month
