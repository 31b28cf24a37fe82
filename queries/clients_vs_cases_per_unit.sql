--- title = "Klienter och ärenden per enhet (clients vs cases per unit)"
--- purpose = """
--- Cases open at any time in the period, and the distinct clients behind them,
--- per unit: a unit's case count overstates the people it serves when clients
--- have several cases. Also the cases opened and closed within the period."""
--- [params]
--- from = { type = "date", default = "2024-01-01", doc = "First day of the period" }
--- to = { type = "date", default = "2024-12-31", doc = "Last day of the period" }
WITH open_in_period AS (
    SELECT *
    FROM cases
    WHERE opened <= $to
      AND (closed IS NULL OR closed >= $from)
)
SELECT
    unit,
    count(*) AS cases,
    count(DISTINCT client_id) AS clients,
    CAST(count(*) AS DOUBLE) / count(DISTINCT client_id) AS cases_per_client,
    count(*) FILTER (WHERE opened >= $from) AS opened_in_period,
    count(*) FILTER (WHERE closed <= $to) AS closed_in_period
FROM open_in_period
GROUP BY unit
ORDER BY unit
