--- title = "Klienter i flera enheter (clients in several units)"
--- purpose = """
--- Per unit, the clients with a case open in the period and how many of them
--- also had a case open in another unit at some time in the same period:
--- the overlap that coordinated planning (SIP) is for."""
--- [params]
--- from = { type = "date", default = "2024-01-01", doc = "First day of the period" }
--- to = { type = "date", default = "2024-12-31", doc = "Last day of the period" }
WITH client_units AS (
    SELECT DISTINCT client_id, unit
    FROM cases
    WHERE opened <= $to
      AND (closed IS NULL OR closed >= $from)
),
units_per_client AS (
    SELECT client_id, count(*) AS units
    FROM client_units
    GROUP BY client_id
)
SELECT
    cu.unit,
    count(*) AS clients,
    count(*) FILTER (WHERE u.units >= 2) AS also_in_other_units,
    CAST(count(*) FILTER (WHERE u.units >= 2) AS DOUBLE) / count(*) AS share_in_several_units,
    max(u.units) AS most_units_for_one_client
FROM client_units cu
JOIN units_per_client u ON u.client_id = cu.client_id
GROUP BY cu.unit
ORDER BY cu.unit
