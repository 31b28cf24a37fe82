-- For cases closed in 2023: outcome observations of the same client in the
-- 12 months after closure, per area and outcome type (join on a date window).
SELECT
    k.area,
    o.type,
    count(DISTINCT k.case_id) AS cases_observed,
    count(*) AS observations,
    avg(o.value) AS mean_value,
    avg(o.observed - k.closed) AS mean_days_after_closure
FROM cases k
JOIN outcomes o
  ON o.client_id = k.client_id
 AND o.observed > k.closed
 AND o.observed <= k.closed + INTERVAL '12 months'
WHERE k.closed BETWEEN DATE '2023-01-01' AND DATE '2023-12-31'
GROUP BY k.area, o.type
ORDER BY k.area, o.type
