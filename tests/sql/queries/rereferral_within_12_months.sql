-- Closed cases in 2023 and whether the same client came back with a new report
-- or application within 365 days of the closure (date arithmetic, a join on a
-- date window, and a correlated NOT EXISTS for those who did not).
WITH closed AS (
    SELECT case_id, client_id, area, closed
    FROM cases
    WHERE closed BETWEEN DATE '2023-01-01' AND DATE '2023-12-31'
),
came_back AS (
    SELECT DISTINCT c.case_id
    FROM closed c
    JOIN reports r
      ON r.client_id = c.client_id
     AND r.received > c.closed
     AND r.received <= c.closed + INTERVAL '365 days'
),
never_back AS (
    SELECT c.case_id
    FROM closed c
    WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE r.client_id = c.client_id AND r.received > c.closed)
)
SELECT
    c.area,
    count(*) AS closed_cases,
    count(b.case_id) AS came_back_within_a_year,
    CAST(count(b.case_id) AS DOUBLE) / count(*) AS share_came_back,
    count(n.case_id) AS never_came_back
FROM closed c
LEFT JOIN came_back b ON b.case_id = c.case_id
LEFT JOIN never_back n ON n.case_id = c.case_id
GROUP BY c.area
ORDER BY c.area
