--- title = "Förändring i skattningar per enhet (assessment change by unit)"
--- purpose = """
--- From the baselines table: per unit, instrument and domain, the clients with a
--- baseline and a later assessment, the mean baseline and change, and the shares
--- with reliable improvement, reliable deterioration and recovery."""
--- [params]
--- instrument = { type = "text", optional = true, doc = "One instrument's code; all when left out" }
SELECT
    unit,
    instrument,
    domain,
    count(*) AS paired,
    avg(baseline_score) AS mean_baseline,
    avg(change) AS mean_change,
    CAST(count(*) FILTER (WHERE reliable_improvement) AS DOUBLE) / count(*) AS share_reliable_improvement,
    CAST(count(*) FILTER (WHERE reliable_deterioration) AS DOUBLE) / count(*) AS share_reliable_deterioration,
    CAST(count(*) FILTER (WHERE recovered) AS DOUBLE) / count(*) FILTER (WHERE case_at_baseline) AS share_recovered
FROM baselines
WHERE paired
  AND ($instrument IS NULL OR instrument = $instrument)
GROUP BY unit, instrument, domain
ORDER BY unit, instrument, domain
