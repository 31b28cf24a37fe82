//! The synthetic municipality's source systems: Swedish column names, code
//! values and file formats, and the mapping file that translates them.

use std::collections::BTreeMap;

use utfall_register::mapping::{Encoding, Format, Mapping, Source, TableMapping};
use utfall_register::schema::{self, Codes, Kind};

/// A unit of the synthetic municipality: (code, Swedish name in exports, area).
pub const UNITS: &[(&str, &str, &str)] = &[
    ("bou_norr", "Barn och unga Norr", "child_youth"),
    ("bou_soder", "Barn och unga Söder", "child_youth"),
    ("bou_oster", "Barn och unga Öster", "child_youth"),
    ("bou_vaster", "Barn och unga Väster", "child_youth"),
    ("vux_beroende", "Vuxenenheten Beroende", "adult_substance"),
    ("fs_norr", "Försörjningsstöd Norr", "financial_assistance"),
    ("fs_syd", "Försörjningsstöd Syd", "financial_assistance"),
    ("socpsyk", "Socialpsykiatri", "psychiatry"),
];

/// Districts: (code, Swedish name in exports).
pub const DISTRICTS: &[(&str, &str)] =
    &[("norr", "Norr"), ("soder", "Söder"), ("oster", "Öster"), ("vaster", "Väster"), ("centrum", "Centrum")];

/// Instruments' domains: (code, Swedish name in exports).
pub const DOMAINS: &[(&str, &str)] = &[
    ("boende", "Boende"),
    ("halsa", "Hälsa"),
    ("relationer", "Relationer"),
    ("sysselsattning", "Sysselsättning"),
    ("skola", "Skola"),
    ("fritid", "Fritid"),
    ("total", "Totalt"),
];

pub const INSTRUMENTS: &[(&str, &str)] = &[("stjarna", "Stjärnan"), ("psykbel", "Psykisk belastning")];

/// (table, file, (exchange-format column, Swedish header) per column).
pub type ExportFile = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

pub const FILES: &[ExportFile] = &[
    (
        "clients",
        "klienter.csv",
        &[("personnummer", "Personnummer"), ("household_id", "HushållsID"), ("district", "Stadsdel")],
    ),
    (
        "cases",
        "arenden.csv",
        &[
            ("case_id", "Ärendenr"),
            ("personnummer", "Personnummer"),
            ("unit", "Enhet"),
            ("area", "Verksamhet"),
            ("origin", "Aktualisering"),
            ("opened", "Öppnat"),
            ("investigation_started", "Utredning inledd"),
            ("decided", "Beslutsdatum"),
            ("closed", "Avslutat"),
            ("caseworker_id", "Handläggare"),
        ],
    ),
    (
        "reports",
        "anmalningar.csv",
        &[
            ("report_id", "Id"),
            ("personnummer", "Personnummer"),
            ("case_id", "Ärendenr"),
            ("kind", "Typ"),
            ("received", "Inkommen"),
            ("reporter", "Anmälare"),
            ("channel", "Kanal"),
            ("prelim_decided", "Förhandsbedömning klar"),
            ("prelim_outcome", "Förhandsbedömning"),
        ],
    ),
    (
        "assessments",
        "bedomningar.csv",
        &[
            ("assessment_id", "BedömningsID"),
            ("personnummer", "Personnummer"),
            ("case_id", "Ärendenr"),
            ("instrument", "Instrument"),
            ("domain", "Område"),
            ("score", "Poäng"),
            ("assessed", "Datum"),
            ("caseworker_id", "Handläggare"),
        ],
    ),
    (
        "goals",
        "mal.csv",
        &[
            ("goal_id", "MålID"),
            ("personnummer", "Personnummer"),
            ("case_id", "Ärendenr"),
            ("domain", "Område"),
            ("set_date", "Fastställt"),
            ("baseline_level", "Nivå start"),
            ("target_level", "Målnivå"),
            ("attained_level", "Uppnådd nivå"),
            ("followed_up", "Uppföljt"),
            ("gas_score", "GAS"),
            ("weight", "Vikt"),
        ],
    ),
    (
        "interventions",
        "insatser.csv",
        &[
            ("intervention_id", "INSATS_ID"),
            ("personnummer", "PNR"),
            ("case_id", "ARENDE"),
            ("type", "INSATSTYP"),
            ("provider", "UTFORARE"),
            ("decided", "BESLUT_DATUM"),
            ("granted", "BEVILJAD"),
            ("started", "START"),
            ("ended", "SLUT"),
            ("end_reason", "AVSLUTSORSAK"),
            ("cost_sek", "KOSTNAD"),
            ("caseworker_id", "HANDLAGGARE"),
        ],
    ),
    (
        "payments",
        "utbetalningar.csv",
        &[
            ("payment_id", "UtbetalningsID"),
            ("personnummer", "Personnummer"),
            ("household_id", "HushållsID"),
            ("case_id", "Ärendenr"),
            ("month", "Avser månad"),
            ("amount_sek", "Belopp"),
            ("reason", "Orsak"),
        ],
    ),
    (
        "contacts",
        "kontakter.csv",
        &[
            ("contact_id", "KontaktID"),
            ("personnummer", "Personnummer"),
            ("case_id", "Ärendenr"),
            ("date", "Datum"),
            ("channel", "Kontaktform"),
            ("caseworker_id", "Handläggare"),
        ],
    ),
    (
        "outcomes",
        "utfall.csv",
        &[
            ("observation_id", "ObservationsID"),
            ("personnummer", "Personnummer"),
            ("case_id", "Ärendenr"),
            ("type", "Utfallstyp"),
            ("observed", "Datum"),
            ("value", "Värde"),
        ],
    ),
];

/// The provider system (interventions) exports differently from the case system.
pub const PROVIDER_TABLE: &str = "interventions";

pub fn file_of(table: &str) -> &'static str {
    FILES.iter().find(|f| f.0 == table).map(|f| f.1).expect("known table")
}

/// The file format of a table's export.
pub fn format_of(table: &str) -> (Encoding, u8, u8, &'static str) {
    if table == PROVIDER_TABLE {
        (Encoding::Windows1252, b',', b'.', "%Y%m%d")
    } else {
        (Encoding::Utf8, b';', b',', "%Y-%m-%d")
    }
}

/// The export value of a code in the source systems: the Swedish label for
/// national lists, the Swedish name for the municipality's own lists.
pub fn source_code(list: &str, code: &'static str) -> &'static str {
    let local: Option<&[(&str, &str)]> = match list {
        "district" => Some(DISTRICTS),
        "domain" => Some(DOMAINS),
        "instrument" => Some(INSTRUMENTS),
        _ => None,
    };
    if let Some(l) = local {
        return l.iter().find(|(c, _)| *c == code).map(|(_, s)| *s).expect("known local code");
    }
    if list == "unit" {
        return UNITS.iter().find(|u| u.0 == code).map(|u| u.1).expect("known unit");
    }
    let cl = schema::CODE_LISTS.iter().find(|c| c.name == list).expect("known list");
    match cl.codes {
        Codes::Fixed(codes) => codes.iter().find(|c| c.0 == code).map(|c| c.1).expect("known code"),
        Codes::Local => code,
    }
}

/// The mapping file for the synthetic municipality's exports.
pub fn mapping() -> Mapping {
    let mut tables = BTreeMap::new();
    for (table, file, columns) in FILES {
        let (encoding, delimiter, decimal, date) = format_of(table);
        let format = if *table == PROVIDER_TABLE {
            Format {
                encoding: Some(encoding),
                delimiter: Some(delimiter as char),
                decimal: Some(decimal as char),
                date_formats: Some(vec![date.to_string(), "%Y-%m-%d".to_string()]),
            }
        } else {
            Format::default()
        };
        tables.insert(
            table.to_string(),
            TableMapping {
                file: file.to_string(),
                sheet: None,
                format,
                columns: columns.iter().map(|(c, s)| (c.to_string(), s.to_string())).collect(),
                ignore: vec![],
                local: vec![],
            },
        );
    }
    let mut codes: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for cl in schema::CODE_LISTS {
        let entries: Vec<(String, String)> = match (cl.name, &cl.codes) {
            ("unit", _) => UNITS.iter().map(|u| (u.1.to_string(), u.0.to_string())).collect(),
            ("district", _) => DISTRICTS.iter().map(|d| (d.1.to_string(), d.0.to_string())).collect(),
            ("domain", _) => DOMAINS.iter().map(|d| (d.1.to_string(), d.0.to_string())).collect(),
            ("instrument", _) => INSTRUMENTS.iter().map(|d| (d.1.to_string(), d.0.to_string())).collect(),
            (_, Codes::Fixed(list)) => list.iter().map(|(c, sv, _)| (sv.to_string(), c.to_string())).collect(),
            (_, Codes::Local) => vec![],
        };
        codes.insert(cl.name.to_string(), entries.into_iter().collect());
    }
    Mapping {
        source: Source {
            name: "Synthetic municipality (case system + provider system)".into(),
            format: Format {
                encoding: Some(Encoding::Utf8),
                delimiter: Some(';'),
                decimal: Some(','),
                date_formats: Some(vec!["%Y-%m-%d".into()]),
            },
        },
        tables,
        codes,
        local_codes: Default::default(),
    }
}

/// Column kinds of a table in export order, for fault injection.
pub fn kinds(table: &str) -> Vec<(&'static str, Kind, bool)> {
    schema::table(table).expect("known table").columns.iter().map(|c| (c.name, c.kind, c.required)).collect()
}
