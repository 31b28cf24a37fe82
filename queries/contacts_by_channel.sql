--- title = "Kontakter per kanal (contacts by channel)"
--- purpose = """
--- Contacts in the period per unit and channel, the clients reached and the
--- contacts per client reached, and each channel's share of the unit's
--- contacts: in-person meetings are not the only contacts that count."""
--- [params]
--- from = { type = "date", default = "2024-01-01", doc = "First day of the period" }
--- to = { type = "date", default = "2024-12-31", doc = "Last day of the period" }
SELECT
    c.unit,
    k.channel,
    count(*) AS contacts,
    count(DISTINCT k.client_id) AS clients,
    CAST(count(*) AS DOUBLE) / count(DISTINCT k.client_id) AS contacts_per_client,
    CAST(count(*) AS DOUBLE) / sum(count(*)) OVER (PARTITION BY c.unit) AS share_of_unit
FROM contacts k
JOIN cases c ON c.case_id = k.case_id
WHERE k.date BETWEEN $from AND $to
GROUP BY c.unit, k.channel
ORDER BY c.unit, k.channel
