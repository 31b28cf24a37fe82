--- title = "Upprepade utredningar per barn (repeat investigations per child)"
--- purpose = """
--- Children and young people (child and youth welfare) by the number of
--- investigations (utredningar) started for them in the period, with the share
--- of all investigated children: the Hässelby-Vällingby analysis, where most
--- children were investigated more than once."""
--- [params]
--- from = { type = "date", default = "2023-01-01", doc = "First day of the period" }
--- to = { type = "date", default = "2024-12-31", doc = "Last day of the period" }
WITH per_child AS (
    SELECT client_id, count(*) AS investigations
    FROM cases
    WHERE area = 'child_youth'
      AND investigation_started BETWEEN $from AND $to
    GROUP BY client_id
)
SELECT
    investigations,
    count(*) AS children,
    CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () AS share_of_children,
    CAST(sum(count(*)) OVER (ORDER BY investigations DESC) AS DOUBLE) / sum(count(*)) OVER () AS share_with_at_least_this_many
FROM per_child
GROUP BY investigations
ORDER BY investigations
