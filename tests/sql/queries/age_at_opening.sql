-- Cases opened 2022-2024 by area and the client's age band at opening
-- (join, CASE, date parts).
SELECT
    k.area,
    CASE
        WHEN extract(year FROM k.opened) - c.birth_year < 13 THEN '0-12'
        WHEN extract(year FROM k.opened) - c.birth_year < 21 THEN '13-20'
        WHEN extract(year FROM k.opened) - c.birth_year < 30 THEN '21-29'
        WHEN extract(year FROM k.opened) - c.birth_year < 65 THEN '30-64'
        ELSE '65+'
    END AS age_band,
    count(*) AS cases,
    count(DISTINCT k.client_id) AS clients,
    sum(CASE WHEN c.sex = 'F' THEN 1 ELSE 0 END) AS cases_women
FROM cases k
JOIN clients c ON c.client_id = k.client_id
WHERE k.opened BETWEEN DATE '2022-01-01' AND DATE '2024-12-31'
GROUP BY 1, 2
ORDER BY 1, 2
