--- title = "Indikator över tid (indicator trend)"
--- purpose = """
--- One indicator's series over time from the suppressed indicator table: the
--- total, or one unit, with n, value and 95% interval per period; suppressed
--- cells show as NULL with the reason."""
--- [params]
--- indicator = { type = "text", default = "not_rereferred_12m", doc = "Indicator id (see the catalogue)" }
--- period_type = { type = "text", default = "quarter", doc = "month, quarter or year (months per unit only where the catalogue's settings.monthly_splits names unit)" }
--- unit = { type = "text", optional = true, doc = "One unit's code; the total when left out" }
SELECT
    period_start,
    period,
    split_value AS unit,
    n,
    numerator,
    value,
    ci_low,
    ci_high,
    suppressed,
    suppression
FROM indicators_public
WHERE indicator_id = $indicator
  AND period_type = $period_type
  AND (($unit IS NULL AND split = 'total') OR (split = 'unit' AND split_value = $unit))
ORDER BY period_start
