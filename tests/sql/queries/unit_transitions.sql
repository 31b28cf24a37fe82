-- Each client's first and latest unit (first_value / last_value over the
-- client's cases in opening order) and how many clients moved between them.
WITH ends AS (
    SELECT DISTINCT
        client_id,
        first_value(unit) OVER w AS first_unit,
        last_value(unit) OVER w AS latest_unit,
        count(*) OVER (PARTITION BY client_id) AS cases
    FROM cases
    WINDOW w AS (PARTITION BY client_id ORDER BY opened, case_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
SELECT first_unit, latest_unit, count(*) AS clients, avg(cases) AS mean_cases
FROM ends
WHERE cases >= 2
GROUP BY first_unit, latest_unit
ORDER BY first_unit, latest_unit
