-- Days between a client's consecutive assessments on the same instrument and
-- domain (lag), per instrument: how often follow-up assessments happen.
WITH gaps AS (
    SELECT
        instrument,
        assessed - lag(assessed) OVER (
            PARTITION BY client_id, case_id, instrument, domain ORDER BY assessed, assessment_id
        ) AS days
    FROM assessments
)
SELECT
    instrument,
    count(days) AS follow_ups,
    avg(days) AS mean_days,
    median(days) AS median_days,
    min(days) AS min_days,
    max(days) AS max_days
FROM gaps
WHERE days IS NOT NULL
GROUP BY instrument
ORDER BY instrument
