--- title = "Månader med ekonomiskt bistånd per hushåll (assistance months per household)"
--- purpose = """
--- Households by the number of months in the period with a financial
--- assistance payment, with their payments; 10 or more of 12 months is
--- long-term assistance (långvarigt ekonomiskt bistånd)."""
--- [params]
--- from = { type = "date", default = "2024-01-01", doc = "First month (its first day)" }
--- to = { type = "date", default = "2024-12-31", doc = "Last day of the last month" }
WITH per_household AS (
    SELECT household_id, count(DISTINCT month) AS months, sum(amount_sek) AS amount_sek
    FROM payments
    WHERE month BETWEEN $from AND $to
    GROUP BY household_id
)
SELECT
    months,
    count(*) AS households,
    sum(amount_sek) AS amount_sek,
    avg(amount_sek) AS mean_amount_per_household,
    CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () AS share_of_households,
    months >= 10 AS long_term
FROM per_household
GROUP BY months
ORDER BY months
