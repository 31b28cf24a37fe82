-- Goal attainment scores per life domain: the distribution of followed-up
-- goals over -2..+2 (conditional aggregates) and the share met or exceeded.
SELECT
    domain,
    count(*) AS goals,
    count(gas_score) AS followed_up,
    count(*) FILTER (WHERE gas_score = -2) AS much_less,
    count(*) FILTER (WHERE gas_score = -1) AS less,
    count(*) FILTER (WHERE gas_score = 0) AS met,
    count(*) FILTER (WHERE gas_score = 1) AS more,
    count(*) FILTER (WHERE gas_score = 2) AS much_more,
    avg(gas_score) AS mean_gas,
    CAST(count(*) FILTER (WHERE gas_score >= 0) AS DOUBLE) / count(gas_score) AS share_met_or_better,
    avg(followed_up - set_date) AS mean_days_to_follow_up
FROM goals
GROUP BY domain
ORDER BY domain
