//! The register schema, defined once. The exchange format (what exports must
//! hold after mapping), the Parquet tables, the data dictionary in
//! `docs/data-dictionary.md` and every later stage derive from these statics.

use polars::prelude::{DataType, Field, PlSmallStr, Schema};

/// Version of the register schema, written into every manifest.
pub const SCHEMA_VERSION: &str = "1.0.0";

/// What a pseudonymised id stands for: each has its own key domain, so the
/// same source id gives unrelated pseudonyms as a household and a caseworker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pseudonym {
    Household,
    /// A caseworker (handläggare): continuity is measured with it, and it is
    /// never published below the disclosure threshold.
    Caseworker,
}

/// How a column's value is read from an export and stored in the register.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A personnummer in the export; stored as the client's keyed pseudonym
    /// (`client_id`). In `clients` it also yields `birth_year` and `sex`.
    Personnummer,
    /// An identifier of the source system (case id, intervention id, ...).
    Id,
    /// A source identifier that could point at a person (a household, a
    /// caseworker): stored as a keyed pseudonym, each kind in its own key domain.
    PseudonymisedId(Pseudonym),
    /// A calendar date (`YYYY-MM-DD`, or the mapping's formats).
    Date,
    /// A calendar month (`YYYY-MM`), stored as the first day of the month.
    Month,
    /// A whole number within bounds.
    Int { min: i64, max: i64 },
    /// A decimal number within bounds (decimal comma or point, per mapping).
    Decimal { min: f64, max: f64 },
    /// A value from a code list, after the mapping's code translation.
    Code(&'static CodeList),
    /// Free text up to a length; anything written like a personnummer is masked.
    Text { max_chars: usize },
    /// Yes/no (`1/0`, `true/false`, `ja/nej`, `j/n`, `yes/no`).
    Bool,
}

/// A code list. `Fixed` lists are national and the indicators depend on them;
/// `Local` lists (units, districts, instruments) belong to the municipality and
/// are declared in its mapping file.
#[derive(Debug)]
pub struct CodeList {
    pub name: &'static str,
    pub codes: Codes,
    pub description: &'static str,
}

#[derive(Debug)]
pub enum Codes {
    /// (code, Swedish label, English label)
    Fixed(&'static [(&'static str, &'static str, &'static str)]),
    Local,
}

impl PartialEq for CodeList {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl CodeList {
    /// The codes of a national list (empty for a municipality's own list).
    pub fn codes_list(&self) -> Vec<&'static str> {
        match self.codes {
            Codes::Fixed(list) => list.iter().map(|(c, _, _)| *c).collect(),
            Codes::Local => Vec::new(),
        }
    }

    pub fn contains(&self, code: &str) -> bool {
        match self.codes {
            Codes::Fixed(list) => list.iter().any(|(c, _, _)| *c == code),
            Codes::Local => true,
        }
    }
}

#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub description: &'static str,
}

/// A reference from one table's column to another table's key.
#[derive(Debug)]
pub struct Reference {
    pub column: &'static str,
    pub table: &'static str,
    /// When true, the referencing row's `client_id` must equal the referenced
    /// row's `client_id` (an assessment belongs to its case's client).
    pub same_client: bool,
}

#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub swedish: &'static str,
    pub description: &'static str,
    pub columns: &'static [Column],
    /// The export column that identifies a row. Rows sharing it are either
    /// exact duplicates (merged) or conflicting (the later ones rejected).
    pub key: &'static str,
    /// Pairs (earlier, later) of date columns that must be in order when both are present.
    pub order: &'static [(&'static str, &'static str)],
    /// A (type, value) pair of columns whose value must lie in the value
    /// domain of its row's type ([`outcome_domain`]); rows outside it are
    /// quarantined with reason `value_domain`.
    pub value_domain: Option<(&'static str, &'static str)>,
    pub references: &'static [Reference],
    /// Register sort order, chosen for the queries that matter.
    pub sort: &'static [&'static str],
    pub sort_rationale: &'static str,
}

const fn col(name: &'static str, kind: Kind, required: bool, description: &'static str) -> Column {
    Column { name, kind, required, description }
}

pub static AREA: CodeList = CodeList {
    name: "area",
    description: "Area of social services (verksamhetsområde)",
    codes: Codes::Fixed(&[
        ("child_youth", "Barn och unga", "Child and youth welfare"),
        ("adult_substance", "Vuxna missbruk", "Adults, substance use"),
        ("financial_assistance", "Ekonomiskt bistånd", "Financial assistance"),
        ("psychiatry", "Socialpsykiatri", "Social psychiatry"),
        ("disability", "Funktionsnedsättning", "Disability"),
    ]),
};
pub static ORIGIN: CodeList = CodeList {
    name: "origin",
    description: "How the case came in",
    codes: Codes::Fixed(&[
        ("report", "Anmälan", "Report of concern"),
        ("application", "Ansökan", "Application"),
        ("own_request", "Egen begäran", "Own request"),
        ("police_lob", "Polis/LOB", "Police (LOB)"),
        ("other", "Annat", "Other"),
    ]),
};
pub static REPORT_KIND: CodeList = CodeList {
    name: "report_kind",
    description: "Report of concern or application",
    codes: Codes::Fixed(&[("report", "Anmälan", "Report of concern"), ("application", "Ansökan", "Application")]),
};
pub static REPORTER: CodeList = CodeList {
    name: "reporter",
    description: "Who reported or applied",
    codes: Codes::Fixed(&[
        ("police", "Polis", "Police"),
        ("school", "Skola/förskola", "School or preschool"),
        ("health_care", "Hälso- och sjukvård", "Health care"),
        ("social_services", "Socialtjänst", "Social services"),
        ("family", "Anhörig", "Family member"),
        ("self", "Den enskilde", "The client"),
        ("other", "Annan", "Other"),
    ]),
};
pub static PRELIM_OUTCOME: CodeList = CodeList {
    name: "prelim_outcome",
    description: "Outcome of the preliminary assessment (förhandsbedömning)",
    codes: Codes::Fixed(&[
        ("investigation", "Utredning inleds", "Investigation opened"),
        ("no_investigation", "Utredning inleds ej", "No investigation"),
        ("transferred", "Överlämnad", "Transferred"),
    ]),
};
pub static APPLICATION_CHANNEL: CodeList = CodeList {
    name: "application_channel",
    description: "How an application or report arrived",
    codes: Codes::Fixed(&[
        ("digital", "Digitalt", "Digital"),
        ("paper", "Papper", "Paper"),
        ("in_person", "Besök", "In person"),
        ("phone", "Telefon", "Phone"),
    ]),
};
pub static CONTACT_CHANNEL: CodeList = CodeList {
    name: "contact_channel",
    description: "Channel of a contact with the client",
    codes: Codes::Fixed(&[
        ("in_person", "Personligt möte", "In person"),
        ("phone", "Telefon", "Phone"),
        ("video", "Video", "Video"),
        ("chat", "Chatt", "Chat"),
        ("letter", "Brev", "Letter"),
    ]),
};
pub static INTERVENTION_TYPE: CodeList = CodeList {
    name: "intervention_type",
    description: "Type of intervention (insats)",
    codes: Codes::Fixed(&[
        ("family_treatment", "Familjebehandling", "Family treatment"),
        ("contact_person", "Kontaktperson/-familj", "Contact person or family"),
        ("foster_care", "Familjehem", "Foster care"),
        ("residential_care", "HVB", "Residential care (HVB)"),
        ("outpatient_treatment", "Öppenvårdsbehandling", "Outpatient treatment"),
        ("residential_treatment", "Institutionsvård", "Residential treatment"),
        ("supported_housing", "Boendestöd", "Supported housing"),
        ("employment_support", "Arbetsmarknadsinsats", "Employment support"),
        ("financial_assistance", "Ekonomiskt bistånd", "Financial assistance"),
        ("other", "Annan insats", "Other"),
    ]),
};
pub static END_REASON: CodeList = CodeList {
    name: "end_reason",
    description: "Whether an intervention ended as planned",
    codes: Codes::Fixed(&[
        ("planned", "Planerat avslut", "Planned end"),
        ("unplanned", "Oplanerat avslut", "Unplanned end"),
    ]),
};
pub static PAYMENT_REASON: CodeList = CodeList {
    name: "payment_reason",
    description: "Main reason for the need of financial assistance",
    codes: Codes::Fixed(&[
        ("unemployment", "Arbetslöshet", "Unemployment"),
        ("sickness", "Sjukdom", "Sickness"),
        ("low_income", "Otillräcklig inkomst", "Insufficient income"),
        ("social_reasons", "Sociala skäl", "Social reasons"),
        ("awaiting_benefit", "Väntar på annan ersättning", "Awaiting other benefit"),
        ("other", "Annat", "Other"),
    ]),
};
pub static OUTCOME_TYPE: CodeList = CodeList {
    name: "outcome_type",
    description: "Type of outcome observation (utfall)",
    codes: Codes::Fixed(&[
        ("employment_or_studies", "Arbete eller studier", "Employment or studies"),
        (
            "employment_status",
            "Sysselsättning enligt registermatchning",
            "Employment status from the quarterly register match (1 = employed or studying)",
        ),
        ("stable_housing", "Stabilt boende", "Stable housing"),
        ("school_attendance", "Skolnärvaro", "School attendance (share of days)"),
        ("self_sufficient", "Självförsörjning", "Self-sufficient"),
        ("placement", "Placering utanför hemmet", "Placement out of home"),
        (
            "earnings",
            "Inkomst enligt arbetsgivardeklaration",
            "Earnings in the quarter from the employers' monthly declarations (arbetsgivardeklaration), SEK; 0 without earnings",
        ),
    ]),
};
/// What an outcome observation's `value` may be, per outcome type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueDomain {
    /// 1 (yes) or 0 (no).
    Binary,
    /// A share from 0 to 1 (e.g. of school days attended).
    Share,
    /// A whole number, 0 or more.
    Count,
    /// An amount, 0 or more (e.g. annual earnings).
    Amount,
}

impl ValueDomain {
    pub fn contains(self, v: f64) -> bool {
        match self {
            ValueDomain::Binary => v == 0.0 || v == 1.0,
            ValueDomain::Share => (0.0..=1.0).contains(&v),
            ValueDomain::Count => v >= 0.0 && v.fract() == 0.0,
            ValueDomain::Amount => v >= 0.0 && v.is_finite(),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ValueDomain::Binary => "1 (yes) or 0 (no)",
            ValueDomain::Share => "a share from 0 to 1",
            ValueDomain::Count => "a whole number, 0 or more",
            ValueDomain::Amount => "an amount, 0 or more",
        }
    }
}

/// The value domain of each outcome type (every code of [`OUTCOME_TYPE`] has one).
pub static OUTCOME_DOMAINS: &[(&str, ValueDomain)] = &[
    ("employment_or_studies", ValueDomain::Binary),
    ("employment_status", ValueDomain::Binary),
    ("stable_housing", ValueDomain::Binary),
    ("school_attendance", ValueDomain::Share),
    ("self_sufficient", ValueDomain::Binary),
    ("placement", ValueDomain::Binary),
    ("earnings", ValueDomain::Amount),
];

pub fn outcome_domain(outcome_type: &str) -> Option<ValueDomain> {
    OUTCOME_DOMAINS.iter().find(|(t, _)| *t == outcome_type).map(|(_, d)| *d)
}

pub static SEX: CodeList = CodeList {
    name: "sex",
    description: "Legal sex as coded in the personnummer",
    codes: Codes::Fixed(&[("F", "Kvinna", "Female"), ("M", "Man", "Male")]),
};
pub static UNIT: CodeList =
    CodeList { name: "unit", description: "Organisational unit (enhet), per municipality", codes: Codes::Local };
pub static DISTRICT: CodeList =
    CodeList { name: "district", description: "District (stadsdel), per municipality", codes: Codes::Local };
pub static INSTRUMENT: CodeList =
    CodeList { name: "instrument", description: "Assessment instrument, per municipality", codes: Codes::Local };
pub static DOMAIN: CodeList =
    CodeList { name: "domain", description: "Life domain of an assessment or goal", codes: Codes::Local };

/// Every code list, for the mapping file and the data dictionary.
pub static CODE_LISTS: &[&CodeList] = &[
    &AREA,
    &ORIGIN,
    &REPORT_KIND,
    &REPORTER,
    &PRELIM_OUTCOME,
    &APPLICATION_CHANNEL,
    &CONTACT_CHANNEL,
    &INTERVENTION_TYPE,
    &END_REASON,
    &PAYMENT_REASON,
    &OUTCOME_TYPE,
    &UNIT,
    &DISTRICT,
    &INSTRUMENT,
    &DOMAIN,
];

const PNR_DESC: &str = "Personnummer or samordningsnummer of the client; replaced by the pseudonym client_id";

pub static CLIENTS: Table = Table {
    name: "clients",
    swedish: "klienter",
    description: "One row per client. Birth year and sex are derived from the personnummer before it is dropped.",
    columns: &[
        col("personnummer", Kind::Personnummer, true, PNR_DESC),
        col(
            "household_id",
            Kind::PseudonymisedId(Pseudonym::Household),
            false,
            "Household (hushåll) in the source system; pseudonymised",
        ),
        col("district", Kind::Code(&DISTRICT), true, "District (stadsdel) of residence"),
    ],
    key: "personnummer",
    order: &[],
    value_domain: None,
    references: &[],
    sort: &["client_id"],
    sort_rationale: "by client: point look-ups and joins from every other table",
};

pub static CASES: Table = Table {
    name: "cases",
    swedish: "ärenden",
    description: "A case (ärende) from opening to closure, with its investigation and decision dates.",
    columns: &[
        col("case_id", Kind::Id, true, "Case id in the source system"),
        col("personnummer", Kind::Personnummer, true, PNR_DESC),
        col("unit", Kind::Code(&UNIT), true, "Unit (enhet) responsible"),
        col("area", Kind::Code(&AREA), true, "Area of social services"),
        col("origin", Kind::Code(&ORIGIN), true, "How the case came in"),
        col("opened", Kind::Date, true, "Date the case was opened"),
        col("investigation_started", Kind::Date, false, "Date the investigation (utredning) started"),
        col("decided", Kind::Date, false, "Date of the decision (beslut) ending the investigation"),
        col("closed", Kind::Date, false, "Date the case was closed (empty while open)"),
        col(
            "caseworker_id",
            Kind::PseudonymisedId(Pseudonym::Caseworker),
            false,
            "Caseworker (handläggare) responsible for the case at the export; pseudonymised in its own key domain",
        ),
    ],
    key: "case_id",
    order: &[
        ("opened", "investigation_started"),
        ("investigation_started", "decided"),
        ("opened", "decided"),
        ("opened", "closed"),
    ],
    value_domain: None,
    references: &[Reference { column: "personnummer", table: "clients", same_client: false }],
    sort: &["opened", "case_id"],
    sort_rationale: "by opening date: period filters prune row groups; case id makes the order total",
};

pub static REPORTS: Table = Table {
    name: "reports",
    swedish: "anmälningar och ansökningar",
    description: "Reports of concern (anmälan) and applications (ansökan), with the preliminary assessment.",
    columns: &[
        col("report_id", Kind::Id, true, "Report or application id in the source system"),
        col("personnummer", Kind::Personnummer, true, PNR_DESC),
        col("case_id", Kind::Id, false, "Case the report belongs to or opened"),
        col("kind", Kind::Code(&REPORT_KIND), true, "Report of concern or application"),
        col("received", Kind::Date, true, "Date received"),
        col("reporter", Kind::Code(&REPORTER), false, "Who reported or applied"),
        col("channel", Kind::Code(&APPLICATION_CHANNEL), false, "How it arrived (digital, paper, ...)"),
        col("prelim_decided", Kind::Date, false, "Date of the preliminary assessment decision"),
        col("prelim_outcome", Kind::Code(&PRELIM_OUTCOME), false, "Outcome of the preliminary assessment"),
    ],
    key: "report_id",
    order: &[("received", "prelim_decided")],
    value_domain: None,
    references: &[
        Reference { column: "personnummer", table: "clients", same_client: false },
        Reference { column: "case_id", table: "cases", same_client: true },
    ],
    sort: &["received", "report_id"],
    sort_rationale: "by date received: period filters and re-referral windows",
};

pub static ASSESSMENTS: Table = Table {
    name: "assessments",
    swedish: "bedömningar",
    description: "Scores on assessment instruments (e.g. Outcomes-Star-style scales), per domain and date.",
    columns: &[
        col("assessment_id", Kind::Id, true, "Assessment id in the source system"),
        col("personnummer", Kind::Personnummer, true, PNR_DESC),
        col("case_id", Kind::Id, true, "Case the assessment belongs to"),
        col("instrument", Kind::Code(&INSTRUMENT), true, "Instrument"),
        col("domain", Kind::Code(&DOMAIN), true, "Domain (or 'total')"),
        col("score", Kind::Decimal { min: -1000.0, max: 1000.0 }, true, "Score on the instrument's scale"),
        col("assessed", Kind::Date, true, "Date of the assessment"),
        col(
            "caseworker_id",
            Kind::PseudonymisedId(Pseudonym::Caseworker),
            false,
            "Caseworker (handläggare) who made the assessment; pseudonymised in its own key domain",
        ),
    ],
    key: "assessment_id",
    order: &[],
    value_domain: None,
    references: &[Reference { column: "case_id", table: "cases", same_client: true }],
    sort: &["client_id", "instrument", "domain", "assessed", "assessment_id"],
    sort_rationale: "by client, instrument, domain and date: baseline/latest pairing reads consecutive rows",
};

pub static GOALS: Table = Table {
    name: "goals",
    swedish: "mål",
    description: "Goals set with the client: level at baseline, target level and attained level; goal attainment score.",
    columns: &[
        col("goal_id", Kind::Id, true, "Goal id in the source system"),
        col("personnummer", Kind::Personnummer, true, PNR_DESC),
        col("case_id", Kind::Id, true, "Case the goal belongs to"),
        col("domain", Kind::Code(&DOMAIN), true, "Life domain of the goal"),
        col("set_date", Kind::Date, true, "Date the goal was set with the client"),
        col("baseline_level", Kind::Int { min: 1, max: 10 }, true, "Level at baseline (1-10)"),
        col("target_level", Kind::Int { min: 1, max: 10 }, true, "Target level (1-10)"),
        col("attained_level", Kind::Int { min: 1, max: 10 }, false, "Level attained at follow-up (1-10)"),
        col("followed_up", Kind::Date, false, "Date of the follow-up"),
        col(
            "gas_score",
            Kind::Int { min: -2, max: 2 },
            false,
            "Goal attainment scaling score, -2..+2 (0 = target met)",
        ),
        col(
            "weight",
            Kind::Decimal { min: 0.0, max: 100.0 },
            false,
            "Weight of the goal in the GAS T-score (default 1)",
        ),
    ],
    key: "goal_id",
    order: &[("set_date", "followed_up")],
    value_domain: None,
    references: &[Reference { column: "case_id", table: "cases", same_client: true }],
    sort: &["client_id", "set_date", "goal_id"],
    sort_rationale: "by client and date: goal attainment rolls up per client first",
};

pub static INTERVENTIONS: Table = Table {
    name: "interventions",
    swedish: "insatser",
    description: "Interventions (insatser) applied for, granted or denied, with start, end and cost.",
    columns: &[
        col("intervention_id", Kind::Id, true, "Intervention id in the source system"),
        col("personnummer", Kind::Personnummer, true, PNR_DESC),
        col("case_id", Kind::Id, true, "Case the intervention was decided in"),
        col("type", Kind::Code(&INTERVENTION_TYPE), true, "Type of intervention"),
        col("provider", Kind::Text { max_chars: 200 }, false, "Provider (own unit or external)"),
        col("decided", Kind::Date, true, "Date of the decision"),
        col("granted", Kind::Bool, true, "Granted (true) or denied (false)"),
        col("started", Kind::Date, false, "Date the intervention started"),
        col("ended", Kind::Date, false, "Date the intervention ended"),
        col("end_reason", Kind::Code(&END_REASON), false, "Planned or unplanned end"),
        col("cost_sek", Kind::Decimal { min: 0.0, max: 100_000_000.0 }, false, "Total cost in SEK"),
        col(
            "caseworker_id",
            Kind::PseudonymisedId(Pseudonym::Caseworker),
            false,
            "Caseworker (handläggare) who prepared the decision; pseudonymised in its own key domain",
        ),
    ],
    key: "intervention_id",
    order: &[("started", "ended"), ("decided", "ended")],
    value_domain: None,
    references: &[Reference { column: "case_id", table: "cases", same_client: true }],
    sort: &["decided", "intervention_id"],
    sort_rationale: "by decision date: period filters prune row groups",
};

pub static PAYMENTS: Table = Table {
    name: "payments",
    swedish: "utbetalningar",
    description: "Financial assistance payments per household and month.",
    columns: &[
        col("payment_id", Kind::Id, true, "Payment id in the source system"),
        col("personnummer", Kind::Personnummer, true, "Personnummer of the applicant; replaced by client_id"),
        col(
            "household_id",
            Kind::PseudonymisedId(Pseudonym::Household),
            true,
            "Household the payment is for; pseudonymised",
        ),
        col("case_id", Kind::Id, true, "Financial assistance case"),
        col("month", Kind::Month, true, "Month the assistance is for (YYYY-MM)"),
        col("amount_sek", Kind::Decimal { min: 0.0, max: 1_000_000.0 }, true, "Amount paid in SEK"),
        col("reason", Kind::Code(&PAYMENT_REASON), true, "Main reason for the need"),
    ],
    key: "payment_id",
    order: &[],
    value_domain: None,
    references: &[Reference { column: "case_id", table: "cases", same_client: true }],
    sort: &["month", "household_id", "payment_id"],
    sort_rationale: "by month then household: 10-of-12-month and exit windows scan consecutive months",
};

pub static CONTACTS: Table = Table {
    name: "contacts",
    swedish: "kontakter",
    description: "Contacts with the client, by channel.",
    columns: &[
        col("contact_id", Kind::Id, true, "Contact id in the source system"),
        col("personnummer", Kind::Personnummer, true, PNR_DESC),
        col("case_id", Kind::Id, true, "Case of the contact"),
        col("date", Kind::Date, true, "Date of the contact"),
        col("channel", Kind::Code(&CONTACT_CHANNEL), true, "Channel"),
        col(
            "caseworker_id",
            Kind::PseudonymisedId(Pseudonym::Caseworker),
            false,
            "Caseworker (handläggare) who had the contact; pseudonymised in its own key domain",
        ),
    ],
    key: "contact_id",
    order: &[],
    value_domain: None,
    references: &[Reference { column: "case_id", table: "cases", same_client: true }],
    sort: &["date", "contact_id"],
    sort_rationale: "by date: contacts per period and channel",
};

pub static OUTCOMES: Table = Table {
    name: "outcomes",
    swedish: "utfallsobservationer",
    description: "Observed outcomes (employment or studies, housing, school attendance, ...).",
    columns: &[
        col("observation_id", Kind::Id, true, "Observation id in the source system"),
        col("personnummer", Kind::Personnummer, true, PNR_DESC),
        col("case_id", Kind::Id, false, "Case the observation belongs to, if any"),
        col("type", Kind::Code(&OUTCOME_TYPE), true, "Type of outcome"),
        col("observed", Kind::Date, true, "Date observed"),
        col(
            "value",
            Kind::Decimal { min: -1_000_000.0, max: 1_000_000.0 },
            true,
            "Value in the outcome type's domain: 1/0 for yes/no outcomes, a share from 0 to 1 for attendance (reason value_domain otherwise)",
        ),
    ],
    key: "observation_id",
    order: &[],
    value_domain: Some(("type", "value")),
    references: &[
        Reference { column: "personnummer", table: "clients", same_client: false },
        Reference { column: "case_id", table: "cases", same_client: true },
    ],
    sort: &["client_id", "type", "observed", "observation_id"],
    sort_rationale: "by client, type and date: follow-up windows per client",
};

/// Every entity table, in dependency order (a table only references earlier ones).
pub static TABLES: &[&Table] =
    &[&CLIENTS, &CASES, &REPORTS, &ASSESSMENTS, &GOALS, &INTERVENTIONS, &PAYMENTS, &CONTACTS, &OUTCOMES];

/// The table named `name`, with its local columns where the register (or
/// the build) being read declares some ([`crate::local::install`]).
pub fn table(name: &str) -> Option<&'static Table> {
    crate::local::installed(name).or_else(|| TABLES.iter().copied().find(|t| t.name == name))
}

/// Every entity table as [`table`] returns it, in [`TABLES`]' order.
pub fn tables() -> Vec<&'static Table> {
    TABLES.iter().map(|t| table(t.name).expect("a table of TABLES")).collect()
}

/// One column of a register (Parquet) table.
#[derive(Debug, Clone)]
pub struct RegisterColumn {
    pub name: &'static str,
    pub dtype: DataType,
    pub nullable: bool,
    pub description: &'static str,
}

impl Kind {
    fn dtype(self) -> DataType {
        match self {
            Kind::Personnummer | Kind::Id | Kind::PseudonymisedId(_) | Kind::Code(_) | Kind::Text { .. } => {
                DataType::String
            }
            Kind::Date | Kind::Month => DataType::Date,
            Kind::Int { .. } => DataType::Int32,
            Kind::Decimal { .. } => DataType::Float64,
            Kind::Bool => DataType::Boolean,
        }
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The register column an export column becomes (personnummer becomes client_id).
    pub fn register_name(export_name: &'static str, kind: Kind) -> &'static str {
        if kind == Kind::Personnummer { "client_id" } else { export_name }
    }

    /// The key column's name in the register.
    pub fn register_key(&self) -> &'static str {
        let c = self.column(self.key).expect("key is a column");
        Table::register_name(c.name, c.kind)
    }

    /// Columns of this table in the register, in order.
    pub fn register_columns(&self) -> Vec<RegisterColumn> {
        let mut out = Vec::new();
        for c in self.columns {
            out.push(RegisterColumn {
                name: Table::register_name(c.name, c.kind),
                dtype: c.kind.dtype(),
                nullable: !c.required,
                description: if c.kind == Kind::Personnummer {
                    "Keyed pseudonym of the client (HMAC-SHA256 of the personnummer)"
                } else {
                    c.description
                },
            });
            if self.name == "clients" && c.kind == Kind::Personnummer {
                out.push(RegisterColumn {
                    name: "birth_year",
                    dtype: DataType::Int32,
                    nullable: false,
                    description: "Birth year, derived from the personnummer",
                });
                out.push(RegisterColumn {
                    name: "sex",
                    dtype: DataType::String,
                    nullable: false,
                    description: "Legal sex (F/M), derived from the personnummer",
                });
            }
        }
        out
    }

    pub fn register_schema(&self) -> Schema {
        self.register_columns().into_iter().map(|c| Field::new(PlSmallStr::from_static(c.name), c.dtype)).collect()
    }

    /// File name of this table in the register.
    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.name)
    }
}

/// The quarantine table: every rejected row with where it came from and why.
pub static QUARANTINE_COLUMNS: &[(&str, DataType, &str)] = &[
    ("table", DataType::String, "Register table the row was meant for"),
    (
        "source_file",
        DataType::String,
        "Export file: SOURCE/DELIVERY/FILE for a source with deliveries, else relative to the input folder",
    ),
    ("line", DataType::UInt64, "Line (CSV) or row (Excel) in the file, 1-based"),
    ("column", DataType::String, "Column name in the export (empty when the whole row is at fault)"),
    ("column_number", DataType::UInt32, "Column number in the export, 1-based"),
    ("reason", DataType::String, "Reason code (see the data dictionary)"),
    ("message", DataType::String, "What is wrong, in words"),
    ("record", DataType::String, "The rejected row, with anything written like a personnummer masked"),
];

/// Reason codes for rejected rows, for the data dictionary and the quarantine.
pub static REASONS: &[(&str, &str)] = &[
    ("pnr_format", "The personnummer is not written as 10 or 12 digits"),
    ("pnr_date", "The personnummer holds an impossible date of birth"),
    ("pnr_check_digit", "The personnummer's check digit is wrong"),
    ("missing_value", "A mandatory field is empty"),
    ("malformed_date", "A date is not written in an accepted format"),
    ("impossible_date", "A date does not exist (e.g. 2023-02-30)"),
    ("malformed_number", "A number cannot be read"),
    ("out_of_range", "A number is outside the column's bounds"),
    ("unknown_code", "A code is not in the code list or the mapping"),
    ("bad_bool", "A yes/no field holds something else"),
    ("too_long", "A field is longer than allowed"),
    ("invalid_utf8", "A field is not valid UTF-8 (the file may be Windows-1252)"),
    ("field_count", "The row has another number of fields than the header"),
    ("id_personnummer", "An id column holds a personnummer (it would leak into the register)"),
    ("date_order", "An end date is before its start date"),
    ("value_domain", "An outcome value is outside its outcome type's domain (yes/no as 1/0, a share from 0 to 1, ...)"),
    ("duplicate_id", "The id was already used by a different row (the first one is kept)"),
    ("unknown_reference", "The row refers to a client or case not in the register (missing or rejected)"),
    ("client_mismatch", "The row's client differs from the client of the case it refers to"),
    (
        "source_conflict",
        "Another source, listed earlier in the build, delivers the same id with other content (its row is kept)",
    ),
];

/// The lineage table: where every accepted row of an entity table came from.
pub const LINEAGE: &str = "lineage";

pub static LINEAGE_COLUMNS: &[(&str, DataType, &str)] = &[
    ("table", DataType::String, "Entity table of the row"),
    ("id", DataType::String, "The row's key in that table (client_id for clients, the source's id otherwise)"),
    ("source", DataType::String, "Source system (`--source NAME=DIR`; `main` for `--input`)"),
    (
        "delivery",
        DataType::String,
        "Delivery folder whose version of the row is in the register (`snapshot` for a source without deliveries)",
    ),
    ("file", DataType::String, "Export file in the delivery"),
    ("line", DataType::UInt64, "Line (CSV) or row (Excel) in the file, 1-based"),
];

// ------------------------------------------------------------ derived tables

/// The period types of the derived tables (`period_type`): a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodType {
    Month,
    Quarter,
    Year,
}

impl PeriodType {
    pub const ALL: [PeriodType; 3] = [PeriodType::Month, PeriodType::Quarter, PeriodType::Year];

    /// From the `period_type` column.
    pub fn parse(text: &str) -> Option<PeriodType> {
        PeriodType::ALL.into_iter().find(|p| p.name() == text)
    }

    pub fn name(self) -> &'static str {
        match self {
            PeriodType::Month => "month",
            PeriodType::Quarter => "quarter",
            PeriodType::Year => "year",
        }
    }

    /// Months in one period.
    pub fn months(self) -> i32 {
        match self {
            PeriodType::Month => 1,
            PeriodType::Quarter => 3,
            PeriodType::Year => 12,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Unit,
    District,
    Sex,
    AgeBand,
}

/// The one-way splits of the derived tables (`split`).
impl Split {
    pub const ALL: [Split; 4] = [Split::Unit, Split::District, Split::Sex, Split::AgeBand];

    pub fn parse(text: &str) -> Option<Split> {
        Split::ALL.into_iter().find(|s| s.name() == text)
    }

    pub fn name(self) -> &'static str {
        match self {
            Split::Unit => "unit",
            Split::District => "district",
            Split::Sex => "sex",
            Split::AgeBand => "age_band",
        }
    }
}

/// The `split` column of the derived tables: the total (`total`, with
/// `split_value` `all`) or one of the one-way splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SplitOf {
    Total,
    By(Split),
}

impl SplitOf {
    pub fn parse(text: &str) -> Option<SplitOf> {
        if text == "total" { Some(SplitOf::Total) } else { Split::parse(text).map(SplitOf::By) }
    }

    pub fn name(self) -> &'static str {
        match self {
            SplitOf::Total => "total",
            SplitOf::By(s) => s.name(),
        }
    }
}

/// What an indicator's value is (`measure`): a share or a mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Proportion,
    Mean,
}

impl Measure {
    pub fn name(self) -> &'static str {
        match self {
            Measure::Proportion => "proportion",
            Measure::Mean => "mean",
        }
    }

    pub fn parse(text: &str) -> Option<Measure> {
        [Measure::Proportion, Measure::Mean].into_iter().find(|m| m.name() == text)
    }
}

/// A table computed from the entity tables (by `utfall indicators`), written
/// into the same build of the register.
#[derive(Debug)]
pub struct DerivedTable {
    pub name: &'static str,
    pub swedish: &'static str,
    pub description: &'static str,
    /// What one row is.
    pub grain: &'static str,
    /// Whether the table may be shown to managers (small counts suppressed).
    pub for_managers: bool,
    pub columns: &'static [RegisterColumn],
}

impl DerivedTable {
    pub fn schema(&self) -> Schema {
        self.columns.iter().map(|c| Field::new(PlSmallStr::from_static(c.name), c.dtype.clone())).collect()
    }

    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.name)
    }
}

const fn dcol(name: &'static str, dtype: DataType, nullable: bool, description: &'static str) -> RegisterColumn {
    RegisterColumn { name, dtype, nullable, description }
}

pub static BASELINES: DerivedTable = DerivedTable {
    name: "baselines",
    swedish: "baslinjer",
    description: "Baseline (earliest) and latest assessment per client, case, instrument and domain, with the change and the reliable change index (Jacobson & Truax).",
    grain: "one row per client_id, case_id, instrument, domain",
    for_managers: false,
    columns: &[
        dcol("client_id", DataType::String, false, "Keyed pseudonym of the client"),
        dcol("case_id", DataType::String, false, "Case the assessments belong to"),
        dcol("unit", DataType::String, false, "Unit (enhet) of the case"),
        dcol("instrument", DataType::String, false, "Instrument"),
        dcol("domain", DataType::String, false, "Domain (or 'total')"),
        dcol("assessments", DataType::UInt32, false, "Number of assessments on this instrument and domain in the case"),
        dcol("baseline_date", DataType::Date, false, "Date of the earliest assessment (the baseline)"),
        dcol("baseline_score", DataType::Float64, false, "Score at baseline"),
        dcol("latest_date", DataType::Date, false, "Date of the latest assessment"),
        dcol("latest_score", DataType::Float64, false, "Score at the latest assessment"),
        dcol(
            "paired",
            DataType::Boolean,
            false,
            "True when the latest assessment is on a later date than the baseline",
        ),
        dcol("change", DataType::Float64, true, "latest_score - baseline_score (paired only)"),
        dcol(
            "rci",
            DataType::Float64,
            true,
            "Reliable change index (change / S_diff), signed so that positive is better; null when the instrument is not in the catalogue",
        ),
        dcol("reliable_improvement", DataType::Boolean, true, "RCI > 1.96 (improvement beyond measurement error)"),
        dcol("reliable_deterioration", DataType::Boolean, true, "RCI < -1.96"),
        dcol(
            "case_at_baseline",
            DataType::Boolean,
            true,
            "Baseline score on the clinical side of the instrument's caseness cut-off",
        ),
        dcol(
            "recovered",
            DataType::Boolean,
            true,
            "A case at baseline and not a case at the latest assessment (null unless case_at_baseline)",
        ),
    ],
};

pub static GOAL_ATTAINMENT: DerivedTable = DerivedTable {
    name: "goal_attainment",
    swedish: "måluppfyllelse",
    description: "Goal attainment scaling (Kiresuk & Sherman) T-score per client and case, over the goals scored at follow-up.",
    grain: "one row per client_id, case_id with at least one scored goal",
    for_managers: false,
    columns: &[
        dcol("client_id", DataType::String, false, "Keyed pseudonym of the client"),
        dcol("case_id", DataType::String, false, "Case the goals belong to"),
        dcol("unit", DataType::String, false, "Unit (enhet) of the case"),
        dcol("goals", DataType::UInt32, false, "Goals with a GAS score"),
        dcol("goals_met", DataType::UInt32, false, "Goals scored 0 or above (target met or exceeded)"),
        dcol("followed_up", DataType::Date, false, "Latest follow-up date of the scored goals"),
        dcol(
            "t_score",
            DataType::Float64,
            false,
            "GAS T-score: 50 + 10 sum(w x) / sqrt((1 - rho) sum(w^2) + rho (sum w)^2)",
        ),
    ],
};

/// Columns shared by `indicators` and `indicators_public`.
macro_rules! indicator_columns {
    ($($extra:expr),* $(,)?) => {
        &[
            dcol("indicator_id", DataType::String, false, "Indicator id in the catalogue"),
            dcol("version", DataType::Int32, false, "Version of the indicator's definition"),
            dcol("catalogue_version", DataType::String, false, "Version of the indicator catalogue"),
            dcol("kind", DataType::String, false, "Kind of indicator (how it is computed)"),
            dcol("name_sv", DataType::String, false, "Name in Swedish"),
            dcol("name_en", DataType::String, false, "Name in English"),
            dcol("measure", DataType::String, false, "'proportion' (numerator / n) or 'mean' (of a value per counted row)"),
            dcol("higher_is_better", DataType::Boolean, false, "Whether a higher value is a better result"),
            dcol("instrument", DataType::String, true, "Instrument (assessment indicators only)"),
            dcol("domain", DataType::String, true, "Domain (assessment indicators only)"),
            dcol("period_type", DataType::String, false, "'month', 'quarter' or 'year'"),
            dcol("period_start", DataType::Date, false, "First day of the period"),
            dcol("period", DataType::String, false, "Period label: 2024, 2024-Q1, 2024-03"),
            dcol("split", DataType::String, false, "'total', 'unit', 'district', 'sex' or 'age_band'"),
            dcol("split_value", DataType::String, false, "Value of the split ('all' for the total)"),
            dcol("n", DataType::Int64, true, "Denominator: rows counted (clients, cases, households, pairs or goals, per the kind)"),
            dcol("numerator", DataType::Int64, true, "Rows meeting the criterion (proportions only)"),
            dcol("value", DataType::Float64, true, "numerator / n, or the mean"),
            dcol("sd", DataType::Float64, true, "Standard deviation of the value per row (means only)"),
            dcol("ci_low", DataType::Float64, true, "Lower limit of the confidence interval"),
            dcol("ci_high", DataType::Float64, true, "Upper limit of the confidence interval"),
            dcol("ci_method", DataType::String, false, "'wilson' (proportions) or 't' (means)"),
            $($extra,)*
        ]
    };
}

pub static INDICATORS: DerivedTable = DerivedTable {
    name: "indicators",
    swedish: "indikatorer",
    description: "Every indicator of the catalogue per period and split, with numerator, denominator, value and confidence interval. Not suppressed: for analysts with access to the register.",
    grain: "one row per indicator, instrument, domain, period and split value with at least one counted row",
    for_managers: false,
    columns: indicator_columns!(),
};

pub static INDICATORS_PUBLIC: DerivedTable = DerivedTable {
    name: "indicators_public",
    swedish: "indikatorer (röjandeskyddade)",
    description: "The indicators with small counts suppressed (primary and complementary) and audited against an outsider's linear program over everything published together: what managers' dashboards and reports read. A cell whose population is small has n and value withheld; one whose numerator or its complement is small has its value withheld and n shown. Withheld figures are null (shown as '..').",
    grain: "as `indicators`, but months for the municipality's total only (and for the splits the catalogue's settings.monthly_splits names)",
    for_managers: true,
    columns: indicator_columns!(
        dcol(
            "suppressed",
            DataType::Boolean,
            false,
            "True when the cell's value (numerator, value, sd, interval) is withheld"
        ),
        dcol(
            "suppression",
            DataType::String,
            true,
            "Why the value is withheld: 'primary' (n, the numerator or n - numerator below the threshold) or 'complementary' (withheld so that no small count can be recomputed or narrowed)"
        ),
        dcol(
            "n_suppression",
            DataType::String,
            true,
            "Why n is withheld: 'primary' (n below the threshold) or 'complementary'; null when n is shown"
        ),
    ),
};

pub static TARGET_STATUS: DerivedTable = DerivedTable {
    name: "target_status",
    swedish: "målstatus",
    description: "Client-centred targets per unit and period: met, not met or not measurable, with the trend against the previous period. Computed from the suppressed indicators.",
    grain: "one row per target, unit and period",
    for_managers: true,
    columns: &[
        dcol("target_id", DataType::String, false, "Target id in the targets file"),
        dcol("unit", DataType::String, false, "Unit (enhet)"),
        dcol("indicator_id", DataType::String, false, "Indicator the target is set on"),
        dcol("version", DataType::Int32, false, "Version of the indicator's definition"),
        dcol("instrument", DataType::String, true, "Instrument the target is on (assessment indicators only)"),
        dcol("domain", DataType::String, true, "Domain the target is on (assessment indicators only)"),
        dcol("description", DataType::String, false, "The target in words, as written in the targets file"),
        dcol("measure", DataType::String, false, "'proportion' or 'mean', as the indicator's"),
        dcol("period_type", DataType::String, false, "'month', 'quarter' or 'year'"),
        dcol("period_start", DataType::Date, false, "First day of the period"),
        dcol("period", DataType::String, false, "Period label"),
        dcol("direction", DataType::String, false, "'at_least' or 'at_most'"),
        dcol("target", DataType::Float64, false, "Target value"),
        dcol("n", DataType::Int64, true, "Denominator (null when suppressed or no data)"),
        dcol("value", DataType::Float64, true, "Indicator value (null when suppressed or no data)"),
        dcol("ci_low", DataType::Float64, true, "Lower confidence limit"),
        dcol("ci_high", DataType::Float64, true, "Upper confidence limit"),
        dcol(
            "status",
            DataType::String,
            false,
            "'met' (the whole interval on the target's side), 'not_met' (the whole interval on the other side) or 'not_measurable'",
        ),
        dcol(
            "reason",
            DataType::String,
            true,
            "Why not measurable: 'no_data', 'too_few' (suppressed) or 'interval_straddles_target'",
        ),
        dcol(
            "suppression",
            DataType::String,
            true,
            "When the value is withheld: 'primary' (too few clients) or 'complementary' (withheld to protect another cell), as in indicators_public",
        ),
        dcol("change", DataType::Float64, true, "Change of the value since the previous period"),
        dcol("change_low", DataType::Float64, true, "Lower confidence limit of the change (Newcombe/MOVER)"),
        dcol("change_high", DataType::Float64, true, "Upper confidence limit of the change"),
        dcol(
            "trend",
            DataType::String,
            false,
            "'improving', 'worsening', 'no_clear_change' (the change's interval holds 0) or 'not_measurable'",
        ),
    ],
};

/// Every derived table, in the order they are computed.
/// Published figures that changed since the previous build, and why (issue 18).
pub static REVISIONS: DerivedTable = DerivedTable {
    name: "revisions",
    swedish: "revideringar",
    description: "Every published figure (a cell of indicators_public in both this build and the one before) whose n or value changed, by how much, and why: rows that arrived late for its period, corrections, withdrawals, a new definition version, events after the period (follow-up windows), disclosure control, another export date. A figure of a closed period changes only with a reason here.",
    grain: "one row per indicator, instrument, domain, period and split value whose published n or value changed",
    for_managers: true,
    columns: &[
        dcol("indicator_id", DataType::String, false, "Indicator id in the catalogue"),
        dcol("name_sv", DataType::String, false, "Name in Swedish"),
        dcol("name_en", DataType::String, false, "Name in English"),
        dcol("measure", DataType::String, false, "'proportion' (numerator / n) or 'mean' (of a value per counted row)"),
        dcol("instrument", DataType::String, true, "Instrument (assessment indicators only)"),
        dcol("domain", DataType::String, true, "Domain (assessment indicators only)"),
        dcol("period_type", DataType::String, false, "'month', 'quarter' or 'year'"),
        dcol("period_start", DataType::Date, false, "First day of the period"),
        dcol("period", DataType::String, false, "Period label: 2024, 2024-Q1, 2024-03"),
        dcol("split", DataType::String, false, "'total', 'unit', 'district', 'sex' or 'age_band'"),
        dcol("split_value", DataType::String, false, "Value of the split ('all' for the total)"),
        dcol("closed", DataType::Boolean, false, "The period had ended by the previous build's last data date"),
        dcol("version_before", DataType::Int32, false, "Definition version in the previous build"),
        dcol("version", DataType::Int32, false, "Definition version now"),
        dcol("n_before", DataType::Int64, true, "Published n in the previous build (null: withheld)"),
        dcol("n", DataType::Int64, true, "Published n now (null: withheld)"),
        dcol("value_before", DataType::Float64, true, "Published value in the previous build (null: withheld)"),
        dcol("value", DataType::Float64, true, "Published value now (null: withheld)"),
        dcol("change", DataType::Float64, true, "value - value_before, where both are published"),
        dcol(
            "reasons",
            DataType::String,
            false,
            "Why, comma-separated: late_rows (rows of the period, in the tables the indicator reads, that arrived since), corrections (rows of the period delivered again with other content: a correction, or a later stage such as a decision or closure), withdrawals (rows of the period withdrawn), definition (a new version), earlier_events / later_events (changes only before or after the period, that its windows reach), disclosure_control (withheld in one build), as_of (another export date), unexplained",
        ),
        dcol("previous_build", DataType::String, false, "The build compared with"),
    ],
};

pub static DERIVED: &[&DerivedTable] =
    &[&BASELINES, &GOAL_ATTAINMENT, &INDICATORS, &INDICATORS_PUBLIC, &TARGET_STATUS, &REVISIONS];

/// Rows a build added, changed and removed against the build before it
/// (written by `utfall build`; issue 18).
pub static ROW_CHANGES: DerivedTable = DerivedTable {
    name: "row_changes",
    swedish: "radändringar",
    description: "Rows of each entity table that this build added, changed or removed compared with the build it replaced, per source and month of the row's own date.",
    grain: "one row per table, source, month and change with at least one row",
    for_managers: false,
    columns: &[
        dcol("table", DataType::String, false, "Entity table"),
        dcol(
            "source",
            DataType::String,
            false,
            "Source of the row's version (for removed rows: of the version removed)",
        ),
        dcol(
            "period",
            DataType::Date,
            true,
            "Month of the row's own date (cases: opened, payments: month, ...); null for clients",
        ),
        dcol("change", DataType::String, false, "'added', 'changed' (same id, other content) or 'removed'"),
        dcol("rows", DataType::UInt64, false, "Rows"),
    ],
};

// ------------------------------------------------------------ model outputs

/// Advisory risk scores written by `utfall model score` (issue 6).
pub static SCORES: DerivedTable = DerivedTable {
    name: "scores",
    swedish: "riskpoäng",
    description: "Advisory risk scores of the current population (rows whose outcome is not yet known), from one model version. A score ranks and explains; a person decides. Prediction is not an effect: a score says nothing about what an intervention would do.",
    grain: "one row per scored row of the model's outcome (a closed case, or a household and year)",
    for_managers: false,
    columns: &[
        dcol("model_version", DataType::String, false, "Model version (name-vVERSION-HASH) the score comes from"),
        dcol("row_id", DataType::String, false, "What was scored: a case id, or household:year"),
        dcol("client_id", DataType::String, false, "Keyed pseudonym of the client"),
        dcol("case_id", DataType::String, false, "The case the score is for (the year's latest case for a household)"),
        dcol("unit", DataType::String, false, "Unit (enhet) of the case"),
        dcol("at", DataType::Date, false, "The prediction moment (closure, or 31 December)"),
        dcol("score", DataType::Float64, false, "Predicted probability of the outcome"),
        dcol("band", DataType::String, false, "Risk band: 'low', 'medium' or 'high' (the model's band limits)"),
        dcol(
            "top_features",
            DataType::String,
            false,
            "The three largest contributions to this score, signed (log-odds for logistic models, probability points for trees)",
        ),
        dcol(
            "support",
            DataType::Boolean,
            false,
            "The case has a granted intervention decided by the prediction moment",
        ),
    ],
};

/// Population stability of each feature and of the score (`utfall model score`).
pub static SCORE_DRIFT: DerivedTable = DerivedTable {
    name: "score_drift",
    swedish: "drift",
    description: "Population stability index (PSI) of each raw feature and of the score, between the model's training rows and the scored population.",
    grain: "one row per model_version and variable",
    for_managers: false,
    columns: &[
        dcol("model_version", DataType::String, false, "Model version"),
        dcol("variable", DataType::String, false, "Raw feature column, or 'score'"),
        dcol(
            "psi",
            DataType::Float64,
            false,
            "Population stability index: sum (a - e) ln(a / e) over the training bins",
        ),
        dcol("status", DataType::String, false, "'stable', 'moderate' or 'drifted' (the model's PSI limits)"),
    ],
};

/// Decisions that go against the score, per unit (`utfall model score`).
pub static SCORE_OVERRIDES: DerivedTable = DerivedTable {
    name: "score_overrides",
    swedish: "avvikande_beslut",
    description: "Per unit: scored rows, high-band rows without support (no granted intervention in the case) and low-band rows with support. Counts, not judgements: the reasons are in the case files.",
    grain: "one row per model_version and unit",
    for_managers: false,
    columns: &[
        dcol("model_version", DataType::String, false, "Model version"),
        dcol("unit", DataType::String, false, "Unit (enhet)"),
        dcol("scored", DataType::UInt32, false, "Scored rows"),
        dcol("high", DataType::UInt32, false, "Rows in the high band"),
        dcol("high_without_support", DataType::UInt32, false, "High-band rows whose case has no granted intervention"),
        dcol("low", DataType::UInt32, false, "Rows in the low band"),
        dcol("low_with_support", DataType::UInt32, false, "Low-band rows whose case has a granted intervention"),
    ],
};

/// The tables `utfall model score` writes into a build.
pub static MODEL_OUTPUTS: &[&DerivedTable] = &[&SCORES, &SCORE_DRIFT, &SCORE_OVERRIDES];

// ------------------------------------------------------------ query names

/// The quarantine table's name (its file is `quarantine.parquet`).
pub const QUARANTINE: &str = "quarantine";

/// The build's row counts per table, read from its `manifest.json` (no file
/// of its own): table, rows_in, accepted, rejected, merged, superseded,
/// withdrawn, masked_values, supplied, reconciles.
pub const LOAD_COUNTS: &str = "load_counts";

/// One table a build of the register can hold, as the SQL surface names it:
/// the stable, documented table names (`utfall query`, notebooks, dashboards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryTable {
    pub name: &'static str,
    pub swedish: &'static str,
    pub description: &'static str,
    /// Entity table, quarantine, or a derived table.
    pub family: TableFamily,
    /// May be shown to managers (small counts already suppressed).
    pub for_managers: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFamily {
    Entity,
    Quarantine,
    /// Read from the build's manifest, not from a Parquet file.
    Manifest,
    /// Where each accepted row came from.
    Lineage,
    Derived,
}

impl QueryTable {
    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.name)
    }
}

/// Every table a build can hold, in documentation order: entity tables, the
/// quarantine and the load counts, then the derived tables.
pub fn query_tables() -> Vec<QueryTable> {
    let entity = TABLES.iter().map(|t| QueryTable {
        name: t.name,
        swedish: t.swedish,
        description: t.description,
        family: TableFamily::Entity,
        for_managers: false,
    });
    let quarantine = std::iter::once(QueryTable {
        name: QUARANTINE,
        swedish: "karantän",
        description: "Every rejected export row, with its file, line, column and reason.",
        family: TableFamily::Quarantine,
        for_managers: false,
    })
    .chain(std::iter::once(QueryTable {
        name: LOAD_COUNTS,
        swedish: "inläsning",
        description: "Rows per table of the build: read, accepted, rejected, merged, superseded (from the manifest; rows_in = accepted + rejected + merged + superseded).",
        family: TableFamily::Manifest,
        for_managers: false,
    }))
    .chain(std::iter::once(QueryTable {
        name: LINEAGE,
        swedish: "härkomst",
        description: "Every accepted row's source, delivery, file and line.",
        family: TableFamily::Lineage,
        for_managers: false,
    }));
    let changes = std::iter::once(QueryTable {
        name: ROW_CHANGES.name,
        swedish: ROW_CHANGES.swedish,
        description: ROW_CHANGES.description,
        family: TableFamily::Lineage,
        for_managers: false,
    });
    let derived = DERIVED.iter().chain(MODEL_OUTPUTS).map(|t| QueryTable {
        name: t.name,
        swedish: t.swedish,
        description: t.description,
        family: TableFamily::Derived,
        for_managers: t.for_managers,
    });
    entity.chain(quarantine).chain(changes).chain(derived).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_type_has_a_value_domain() {
        let Codes::Fixed(codes) = &OUTCOME_TYPE.codes else { panic!("outcome types are a fixed code list") };
        for (code, _, _) in codes.iter() {
            assert!(outcome_domain(code).is_some(), "outcome type {code} has no value domain");
        }
        assert_eq!(codes.len(), OUTCOME_DOMAINS.len(), "a domain for a type that is not a code");
    }
}
