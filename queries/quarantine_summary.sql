--- title = "Karantän: avvisade rader (quarantine: rejected rows)"
--- purpose = """
--- What the last build rejected, per table and reason, with the files and the
--- first and last line concerned: where to fix the source data."""
SELECT
    "table",
    reason,
    count(*) AS rows_rejected,
    count(DISTINCT source_file) AS files,
    min(source_file) AS first_file,
    min(line) AS first_line,
    max(line) AS last_line
FROM quarantine
GROUP BY "table", reason
ORDER BY "table", reason
