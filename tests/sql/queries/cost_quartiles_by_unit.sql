-- Intervention cost per client and unit, split into quartiles within each unit
-- (ntile), with each quartile's clients, mean and share of the unit's cost.
WITH per_client AS (
    SELECT c.unit, i.client_id, sum(i.cost_sek) AS cost_sek
    FROM interventions i
    JOIN cases c ON c.case_id = i.case_id
    WHERE i.granted AND i.cost_sek IS NOT NULL
    GROUP BY c.unit, i.client_id
),
quartiled AS (
    SELECT unit, client_id, cost_sek,
           ntile(4) OVER (PARTITION BY unit ORDER BY cost_sek, client_id) AS quartile
    FROM per_client
)
SELECT
    unit,
    quartile,
    count(*) AS clients,
    avg(cost_sek) AS mean_cost_sek,
    min(cost_sek) AS min_cost_sek,
    max(cost_sek) AS max_cost_sek,
    sum(cost_sek) / sum(sum(cost_sek)) OVER (PARTITION BY unit) AS share_of_unit_cost
FROM quartiled
GROUP BY unit, quartile
ORDER BY unit, quartile
