--- title = "Insatser efter utfall (interventions by outcome)"
--- purpose = """
--- Granted interventions that ended in the period, per type and end reason
--- (planned or unplanned), with their length and cost, and the share of the
--- clients with an employment-or-studies observation of 1 within a year after
--- the end."""
--- [params]
--- from = { type = "date", default = "2023-01-01", doc = "First day interventions ended" }
--- to = { type = "date", default = "2024-12-31", doc = "Last day interventions ended" }
WITH ended AS (
    SELECT intervention_id, client_id, type, ended, ended - started AS days,
           coalesce(end_reason, 'unknown') AS end_reason, cost_sek
    FROM interventions
    WHERE granted
      AND started IS NOT NULL
      AND ended BETWEEN $from AND $to
),
employed_after AS (
    SELECT DISTINCT e.intervention_id
    FROM ended e
    JOIN outcomes o ON o.client_id = e.client_id
    WHERE o.type = 'employment_or_studies'
      AND o.value = 1
      AND o.observed > e.ended
      AND o.observed <= e.ended + INTERVAL '365 days'
)
SELECT
    e.type,
    e.end_reason,
    count(*) AS interventions,
    count(DISTINCT e.client_id) AS clients,
    avg(e.days) AS mean_days,
    median(e.days) AS median_days,
    sum(e.cost_sek) AS cost_sek,
    CAST(count(a.intervention_id) AS DOUBLE) / count(*) AS share_employed_or_studying_within_a_year
FROM ended e
LEFT JOIN employed_after a ON a.intervention_id = e.intervention_id
GROUP BY e.type, e.end_reason
ORDER BY e.type, e.end_reason
