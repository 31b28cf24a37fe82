-- The 20 households with the most financial assistance in 2024, their rank and
-- the running share of all assistance paid (window functions over an aggregate).
WITH per_household AS (
    SELECT household_id, sum(amount_sek) AS amount_sek, count(*) AS payments
    FROM payments
    WHERE month >= DATE '2024-01-01' AND month < DATE '2025-01-01'
    GROUP BY household_id
),
ranked AS (
    SELECT
        household_id,
        amount_sek,
        payments,
        row_number() OVER (ORDER BY amount_sek DESC, household_id) AS rank,
        sum(amount_sek) OVER (ORDER BY amount_sek DESC, household_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            / sum(amount_sek) OVER () AS running_share
    FROM per_household
)
SELECT rank, household_id, amount_sek, payments, running_share
FROM ranked
WHERE rank <= 20
ORDER BY rank
