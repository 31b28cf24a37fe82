//! The rows a model predicts for (one per closed case, or per household and
//! year) with their labels, and the feature catalogue: every feature is
//! computed from the register with polars, **as of the row's prediction
//! moment `at`**: only events dated on or before `at` count, so nothing the
//! model sees comes from after the moment it would have been used.

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Deserialize;
use utfall_indicators::catalogue::Catalogue;
use utfall_indicators::entities::{
    Tables, assistance_years, inner, last_complete_month, left, long_term, months, rereferred,
};
use utfall_register::scan::scan;
use utfall_register::schema;

/// Attributes the evaluation can be broken down by (never features unless a
/// feature is explicitly defined from them; `age_band` is both).
pub const GROUPS: [&str; 3] = ["sex", "age_band", "district"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A number; `nullable` ones get a missing-value indicator column.
    Numeric { nullable: bool },
    /// Text levels, one-hot encoded against the most frequent training level.
    Categorical,
}

/// One feature of the catalogue.
pub struct FeatureDef {
    pub name: &'static str,
    /// The raw columns it yields (numeric ones are f64).
    pub columns: &'static [&'static str],
    pub kind: Kind,
    /// Outcomes it is defined for.
    pub outcomes: &'static [Outcome],
    /// Client attributes it is computed from (checked against `excluded`).
    pub uses: &'static [&'static str],
    pub description: &'static str,
}

const BOTH: &[Outcome] = &[Outcome::Rereferral12m, Outcome::LongTermAssistanceNextYear];

pub static FEATURES: &[FeatureDef] = &[
    FeatureDef {
        name: "unit",
        columns: &["unit"],
        kind: Kind::Categorical,
        outcomes: BOTH,
        uses: &[],
        description: "Unit (enhet) of the case",
    },
    FeatureDef {
        name: "age_band",
        columns: &["age_band"],
        kind: Kind::Categorical,
        outcomes: BOTH,
        uses: &["birth_year"],
        description: "Age band at the prediction moment (the indicator catalogue's bands)",
    },
    FeatureDef {
        name: "prior_cases",
        columns: &["prior_cases"],
        kind: Kind::Numeric { nullable: false },
        outcomes: BOTH,
        uses: &[],
        description: "The client's earlier cases in the same area (opened before this case), capped at 3",
    },
    FeatureDef {
        name: "intervention_end",
        columns: &["planned_end", "unplanned_end"],
        kind: Kind::Numeric { nullable: false },
        outcomes: BOTH,
        uses: &[],
        description: "How the case's last ended intervention ended: planned (1/0), unplanned (1/0)",
    },
    FeatureDef {
        name: "intervention_decision",
        columns: &["granted", "denied"],
        kind: Kind::Numeric { nullable: false },
        outcomes: BOTH,
        uses: &[],
        description: "The case has a granted intervention (1/0), a denied one (1/0)",
    },
    FeatureDef {
        name: "school_attendance",
        columns: &["school_attendance"],
        kind: Kind::Numeric { nullable: true },
        outcomes: &[Outcome::Rereferral12m],
        uses: &[],
        description: "Latest school-attendance share observed in the case",
    },
    FeatureDef {
        name: "employment_at_exit",
        columns: &["employment"],
        kind: Kind::Numeric { nullable: true },
        outcomes: BOTH,
        uses: &[],
        description: "Latest employment-or-studies observation in the case (1/0)",
    },
    FeatureDef {
        name: "baseline_severity",
        columns: &["baseline_severity"],
        kind: Kind::Numeric { nullable: true },
        outcomes: BOTH,
        uses: &[],
        description: "Mean baseline assessment in the case, in instrument SDs from the caseness cut-off (positive = worse)",
    },
    FeatureDef {
        name: "household_cases",
        columns: &["household_cases"],
        kind: Kind::Numeric { nullable: false },
        outcomes: BOTH,
        uses: &["household_id"],
        description: "Other members of the household with a case opened by the prediction moment",
    },
    FeatureDef {
        name: "household_assistance_months",
        columns: &["assistance_months"],
        kind: Kind::Numeric { nullable: false },
        outcomes: BOTH,
        uses: &["household_id"],
        description: "Months with income support to the household in the 12 months up to the prediction moment",
    },
    FeatureDef {
        name: "case_open",
        columns: &["case_open"],
        kind: Kind::Numeric { nullable: false },
        outcomes: &[Outcome::LongTermAssistanceNextYear],
        uses: &[],
        description: "The case is still open at the prediction moment (1/0)",
    },
    FeatureDef {
        name: "contacts",
        columns: &["log_contacts"],
        kind: Kind::Numeric { nullable: false },
        outcomes: BOTH,
        uses: &[],
        description: "Contacts in the case up to the prediction moment, log(1 + n)",
    },
    FeatureDef {
        name: "case_days",
        columns: &["log_case_days"],
        kind: Kind::Numeric { nullable: false },
        outcomes: BOTH,
        uses: &[],
        description: "Days from the case's opening to the prediction moment, log(1 + days)",
    },
];

/// A feature as the design sees it: its raw columns and how they are
/// encoded, from the catalogue or written in the definition language.
pub struct Shape {
    pub name: String,
    pub columns: Vec<String>,
    pub kind: Kind,
    pub description: String,
}

/// The shapes of a spec's (or an artefact's) catalogue features, then its
/// `[[feature]]`s (checked when the spec was read).
pub fn shapes(features: &[String], defined: &[utfall_definitions::VariableSpec]) -> Vec<Shape> {
    let mut out: Vec<Shape> = features
        .iter()
        .map(|name| {
            let def = feature(name).expect("spec checked");
            Shape {
                name: name.clone(),
                columns: def.columns.iter().map(|c| c.to_string()).collect(),
                kind: def.kind,
                description: def.description.to_string(),
            }
        })
        .collect();
    for f in defined {
        let v = f.check(utfall_definitions::Role::Known).expect("spec checked");
        let kind = if v.is_category() { Kind::Categorical } else { Kind::Numeric { nullable: v.nullable() } };
        out.push(Shape { name: f.name.clone(), columns: vec![f.name.clone()], kind, description: describe(f) });
    }
    out
}

/// A variable written in the language (a `[[feature]]`, a `[label]`) in words, for the model card.
pub fn describe(f: &utfall_definitions::VariableSpec) -> String {
    let mut s = format!("{} of {}", f.aggregate.name(), f.table);
    if let Some(c) = &f.column {
        s.push_str(&format!(" `{c}`"));
    }
    let filter: Vec<String> = f.filter.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    if !filter.is_empty() {
        s.push_str(&format!(" where {}", filter.join(", ")));
    }
    if let Some(is) = &f.is {
        s.push_str(&format!(" is {is}"));
    }
    if !f.same.is_empty() {
        s.push_str(&format!(", the same {} as the row's", f.same.join(" and ")));
    }
    if let Some(w) = &f.window {
        let anchor = f.anchor.as_deref().map_or("the prediction moment".to_string(), |a| format!("the row's {a}"));
        s.push_str(&format!(", in {w} of {anchor}"));
    }
    if f.by != utfall_definitions::variable::By::Client {
        s.push_str(&format!(", by {}", f.by.name()));
    }
    if !f.bands.is_empty() {
        let bands: Vec<String> = f.bands.iter().map(|b| b.to_string()).collect();
        s.push_str(&format!(", in bands from {}", bands.join(", ")));
    }
    if !f.severity.is_empty() {
        let norms: Vec<&str> = f.severity.keys().map(String::as_str).collect();
        s.push_str(&format!(", in SDs from the caseness cut-off of {} (positive = worse), averaged", norms.join(", ")));
    }
    if let Some(x) = f.fill {
        s.push_str(&format!(", {x} where none"));
    }
    if let Some(c) = f.cap {
        s.push_str(&format!(", capped at {c}"));
    }
    if f.transform.is_some() {
        s.push_str(", as log(1 + x)");
    }
    s + " (written in the definition language)"
}

pub fn feature(name: &str) -> Option<&'static FeatureDef> {
    FEATURES.iter().find(|f| f.name == name)
}

/// What is predicted. Each outcome fixes the unit of prediction, the moment
/// the prediction is made (`at`) and the horizon after which its label is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// One row per closed case, predicted at closure: does the client come
    /// back (new case or report in the same area) within 12 months? The
    /// definition of the `not_rereferred_12m` indicator, inverted.
    #[serde(rename = "rereferral_12m")]
    Rereferral12m,
    /// One row per household and calendar year with income support, predicted
    /// at the year's end: does the household receive support in 10 or more
    /// months of the next year (Socialstyrelsen's long-term assistance)?
    LongTermAssistanceNextYear,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Rereferral12m => "rereferral_12m",
            Outcome::LongTermAssistanceNextYear => "long_term_assistance_next_year",
        }
    }

    /// Months after `at` until the label is known.
    pub fn horizon_months(self) -> u32 {
        12
    }

    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Rereferral12m => {
                "re-referral (återaktualisering) within 12 months of a case's closure: a new case or a report in the same area, for the same client; predicted at closure, one row per closed case"
            }
            Outcome::LongTermAssistanceNextYear => {
                "long-term financial assistance next year: the household receives income support in 10 or more of the next calendar year's 12 months; predicted at the end of a year with support, one row per household and year"
            }
        }
    }
}

/// The register's tables a model reads.
pub struct Register {
    pub t: Tables,
    pub interventions: LazyFrame,
    pub outcomes: LazyFrame,
    pub clients: LazyFrame,
    pub cat: Catalogue,
}

impl Register {
    pub fn scan(dir: &Path, as_of: NaiveDate) -> PolarsResult<Register> {
        Ok(Register {
            t: Tables::scan(dir, as_of)?.with_client_attributes()?,
            interventions: scan(dir, &schema::INTERVENTIONS)?,
            outcomes: scan(dir, &schema::OUTCOMES)?,
            clients: scan(dir, &schema::CLIENTS)?,
            cat: Catalogue::builtin(),
        })
    }
}

/// The rows of an outcome: `row_id`, `client_id`, `household_id`,
/// `case_id`, `area`, `unit`, `opened` (the case's), `at` (the prediction
/// moment), `observable` (the label's horizon has passed by the as-of date),
/// `label` (null unless observable), and the group attributes `sex`,
/// `district`, `age_band`. Sorted by `row_id`. Without `label` (a spec that
/// writes its own), every row of the outcome, with `observable` and `label`
/// left empty and the compiled label not computed.
pub fn rows(outcome: Outcome, r: &Register, population: crate::Population, label: bool) -> PolarsResult<DataFrame> {
    let as_of = r.t.as_of;
    let h = outcome.horizon_months();
    let clients = r.clients.clone().select([
        col("client_id"),
        col("household_id"),
        col("sex"),
        col("district"),
        col("birth_year"),
    ]);
    let base = match outcome {
        Outcome::Rereferral12m => {
            let mut closed = r.t.cases.clone().filter(col("closed").is_not_null()).select([
                col("case_id"),
                col("client_id"),
                col("area"),
                col("unit"),
                col("opened"),
                col("closed"),
            ]);
            if population == crate::Population::Current && label {
                // Not yet observable: no label to look for.
                closed = closed.filter(col("closed").dt().offset_by(months(h)).gt(lit(as_of)));
            }
            let closed = if label {
                let back = rereferred(&r.t, closed.clone(), h, true)?;
                closed.join(back, [col("case_id")], [col("case_id")], left())
            } else {
                closed.with_column(lit(NULL).cast(DataType::Boolean).alias("__back"))
            };
            closed
                .with_columns([
                    col("case_id").alias("row_id"),
                    col("closed").alias("at"),
                    col("closed").dt().offset_by(months(h)).lt_eq(lit(as_of)).alias("observable"),
                ])
                .with_columns([when(col("observable"))
                    .then(col("__back").is_not_null())
                    .otherwise(lit(NULL).cast(DataType::Boolean))
                    .alias("label")])
                .drop(cols(["closed", "__back"]))
                .join(clients, [col("client_id")], [col("client_id")], inner())
                .collect()?
        }
        Outcome::LongTermAssistanceNextYear => household_years(r, &clients)?,
    };
    let base = if label {
        base
    } else {
        let none = lit(NULL).cast(DataType::Boolean);
        base.lazy().with_columns([none.clone().alias("observable"), none.alias("label")]).collect()?
    };
    finish(base.lazy(), r)
}

/// The rows of a cohort's entries (a spec's `[rows]`): one per entry into a
/// case (an entry whose row has no case is not a row: a score is about a
/// case), at the entry's index date; `row_id` is `CASE:DATE`, one per case
/// and day. Their `observable` and `label` are left to the spec's `[[label]]`s.
pub fn entry_rows(cohort: &utfall_definitions::CohortSpec, dir: &Path, r: &Register) -> PolarsResult<DataFrame> {
    let checked = cohort.check().map_err(|e| polars_err!(ComputeError: "rows.{e}"))?;
    let members = checked.build(dir, r.t.as_of)?.frame;
    let none = lit(NULL).cast(DataType::Boolean);
    let base = members
        .lazy()
        .filter(col("case_id").is_not_null())
        .select([
            col("client_id"),
            col("household_id"),
            col("case_id"),
            col("index_date").cast(DataType::Date).alias("at"),
        ])
        .join(
            r.t.cases.clone().select([col("case_id"), col("area"), col("unit"), col("opened")]),
            [col("case_id")],
            [col("case_id")],
            inner(),
        )
        .join(
            r.clients.clone().select([col("client_id"), col("sex"), col("district"), col("birth_year")]),
            [col("client_id")],
            [col("client_id")],
            inner(),
        )
        .with_columns([
            (col("case_id") + lit(":") + col("at").cast(DataType::String)).alias("row_id"),
            none.clone().alias("observable"),
            none.alias("label"),
        ])
        .unique_stable(Some(cols(["row_id"])), UniqueKeepStrategy::First);
    finish(base, r)
}

/// A model's rows in their one shape (see [`rows`]): the age band added, the
/// columns in order, sorted by `row_id`.
fn finish(base: LazyFrame, r: &Register) -> PolarsResult<DataFrame> {
    let age = col("at").dt().year().cast(DataType::Int32) - col("birth_year").cast(DataType::Int32);
    base.with_columns([utfall_indicators::age_band(&r.cat, age).alias("age_band")])
        .select([
            col("row_id"),
            col("client_id"),
            col("household_id"),
            col("case_id"),
            col("area"),
            col("unit"),
            col("opened"),
            col("at"),
            col("observable"),
            col("label"),
            col("sex"),
            col("district"),
            col("age_band"),
        ])
        .sort(["row_id"], SortMultipleOptions::default())
        .collect()
}

/// One row per household and calendar year with income support whose year
/// has ended by the as-of date, under the client and case of the year's
/// latest payment; `at` is 31 December.
fn household_years(r: &Register, clients: &LazyFrame) -> PolarsResult<DataFrame> {
    let last_year = (last_complete_month(r.t.as_of) + 1).div_euclid(12) - 1;
    let per_year = assistance_years(&r.t).drop(cols(["anchor"]));
    let next = per_year.clone().select([
        col("household_id"),
        (col("year") - lit(1)).alias("year"),
        col("months").alias("next_months"),
    ]);
    let df = per_year
        .join(next, [col("household_id"), col("year")], [col("household_id"), col("year")], left())
        .join(
            r.t.cases.clone().select([col("case_id"), col("area"), col("unit"), col("opened")]),
            [col("case_id")],
            [col("case_id")],
            inner(),
        )
        .join(clients.clone().drop(cols(["household_id"])), [col("client_id")], [col("client_id")], inner())
        .with_columns([
            (col("household_id") + lit(":") + col("year").cast(DataType::String)).alias("row_id"),
            col("year").lt(lit(last_year)).alias("observable"),
        ])
        .with_columns([when(col("observable"))
            .then(long_term(col("next_months").fill_null(lit(0)), r.cat.long_term_min_months()))
            .otherwise(lit(NULL).cast(DataType::Boolean))
            .alias("label")])
        .collect()?;
    // 31 December of the row's year, as a date.
    let years = df.column("year")?.i32()?;
    let at: Vec<Option<NaiveDate>> = years.iter().map(|y| y.and_then(|y| NaiveDate::from_ymd_opt(y, 12, 31))).collect();
    let mut df = df;
    df.with_column(Column::new("at".into(), at))?;
    Ok(df)
}

/// The raw feature columns of `names` for `rows`, in row order: the rows'
/// columns plus every feature's `columns` (numeric ones as f64).
pub fn compute(rows: &DataFrame, names: &[String], r: &Register) -> PolarsResult<DataFrame> {
    let keys = rows.clone().lazy().select([
        col("row_id"),
        col("client_id"),
        col("household_id"),
        col("case_id"),
        col("area"),
        col("opened"),
        col("at"),
    ]);
    let mut out = rows.clone().lazy();
    let attach = |out: LazyFrame, part: LazyFrame, fill: &[(&str, f64)]| {
        let mut joined = out.join(part, [col("row_id")], [col("row_id")], left());
        for (c, v) in fill {
            joined = joined.with_columns([col(*c).cast(DataType::Float64).fill_null(lit(*v))]);
        }
        joined
    };
    for name in names {
        let def = feature(name).ok_or_else(|| polars_err!(ComputeError: "unknown feature {name}"))?;
        out = match def.name {
            "unit" | "age_band" => out,
            "case_days" => {
                let days =
                    (col("at").cast(DataType::Int32) - col("opened").cast(DataType::Int32)).cast(DataType::Float64);
                out.with_columns([when(days.clone().lt(lit(0.0)))
                    .then(lit(0.0))
                    .otherwise(days)
                    .alias("log_case_days")])
            }
            other => {
                let (part, fill) = part(other, &keys, r)?;
                attach(out, part, fill)
            }
        };
    }
    let mut df = out.sort(["row_id"], SortMultipleOptions::default()).collect()?;
    // Counts and durations enter as log(1 + x).
    for name in ["log_contacts", "log_case_days"] {
        if df.column(name).is_ok() {
            let logged: Vec<Option<f64>> = df.column(name)?.f64()?.iter().map(|v| v.map(f64::ln_1p)).collect();
            df.with_column(Column::new(name.into(), logged))?;
        }
    }
    Ok(df)
}

/// What one feature adds: its columns per row, and the value a row without
/// any event gets (none: missing).
type Part = (LazyFrame, &'static [(&'static str, f64)]);

/// The columns of one feature joined from the register, as of each row's `at`.
fn part(name: &str, keys: &LazyFrame, r: &Register) -> PolarsResult<Part> {
    Ok(match name {
        "prior_cases" => (prior_cases(keys, r), &[("prior_cases", 0.0)]),
        "intervention_end" => (intervention_end(keys, r), &[("planned_end", 0.0), ("unplanned_end", 0.0)]),
        "intervention_decision" => (intervention_decision(keys, r), &[("granted", 0.0), ("denied", 0.0)]),
        "school_attendance" | "employment_at_exit" => (observed_value(keys, r, name), &[]),
        "baseline_severity" => (baseline_severity(keys, r), &[]),
        "household_cases" => (household_cases(keys, r), &[("household_cases", 0.0)]),
        "household_assistance_months" => (household_assistance_months(keys, r), &[("assistance_months", 0.0)]),
        "contacts" => (contacts(keys, r), &[("log_contacts", 0.0)]),
        "case_open" => (case_open(keys, r), &[("case_open", 0.0)]),
        other => return Err(polars_err!(ComputeError: "feature {other} has no computation")),
    })
}

/// Feature `prior_cases`.
fn prior_cases(keys: &LazyFrame, r: &Register) -> LazyFrame {
    keys.clone()
        .join(
            r.t.cases.clone().select([col("client_id"), col("area").alias("__area"), col("opened").alias("__opened")]),
            [col("client_id")],
            [col("client_id")],
            inner(),
        )
        .filter(col("__area").eq(col("area")).and(col("__opened").lt(col("opened"))))
        .group_by([col("row_id")])
        .agg([len().cast(DataType::Float64).alias("__n")])
        .select([
            col("row_id"),
            when(col("__n").gt(lit(3.0))).then(lit(3.0)).otherwise(col("__n")).alias("prior_cases"),
        ])
}

/// Feature `intervention_end`.
fn intervention_end(keys: &LazyFrame, r: &Register) -> LazyFrame {
    keys.clone()
        .join(
            r.interventions.clone().filter(col("ended").is_not_null()).select([
                col("case_id"),
                col("ended"),
                col("end_reason"),
                col("intervention_id"),
            ]),
            [col("case_id")],
            [col("case_id")],
            inner(),
        )
        .filter(col("ended").lt_eq(col("at")))
        .sort(["row_id", "ended", "intervention_id"], SortMultipleOptions::default())
        .group_by([col("row_id")])
        .agg([col("end_reason").last()])
        .select([
            col("row_id"),
            col("end_reason").eq(lit("planned")).cast(DataType::Float64).alias("planned_end"),
            col("end_reason").eq(lit("unplanned")).cast(DataType::Float64).alias("unplanned_end"),
        ])
}

/// Feature `intervention_decision`.
fn intervention_decision(keys: &LazyFrame, r: &Register) -> LazyFrame {
    keys.clone()
        .join(
            r.interventions.clone().select([col("case_id"), col("decided"), col("granted")]),
            [col("case_id")],
            [col("case_id")],
            inner(),
        )
        .filter(col("decided").lt_eq(col("at")))
        .group_by([col("row_id")])
        .agg([
            col("granted").cast(DataType::Float64).max().alias("granted"),
            col("granted").not().cast(DataType::Float64).max().alias("denied"),
        ])
}

/// The latest observation of an outcome type on the case, as of `at`.
fn observed_value(keys: &LazyFrame, r: &Register, name: &str) -> LazyFrame {
    let (ty, column) = if name == "school_attendance" {
        ("school_attendance", "school_attendance")
    } else {
        ("employment_or_studies", "employment")
    };
    keys.clone()
        .join(
            r.outcomes.clone().filter(col("type").eq(lit(ty))).select([
                col("case_id"),
                col("observed"),
                col("observation_id"),
                col("value"),
            ]),
            [col("case_id")],
            [col("case_id")],
            inner(),
        )
        .filter(col("observed").lt_eq(col("at")))
        .sort(["row_id", "observed", "observation_id"], SortMultipleOptions::default())
        .group_by([col("row_id")])
        .agg([col("value").last().cast(DataType::Float64).alias(column)])
}

/// Feature `baseline_severity`.
fn baseline_severity(keys: &LazyFrame, r: &Register) -> LazyFrame {
    let known: Vec<(String, f64, f64, f64)> = r
        .cat
        .instruments
        .iter()
        .map(|i| (i.code.clone(), if i.higher_is_better { -1.0 } else { 1.0 }, i.cutoff, i.sd))
        .collect();
    let null = || lit(NULL).cast(DataType::Float64);
    let start = || when(lit(false)).then(null()).when(lit(false)).then(null());
    let (mut sign, mut cutoff, mut sd) = (start(), start(), start());
    for (code, s, c, d) in &known {
        sign = sign.when(col("instrument").eq(lit(code.clone()))).then(lit(*s));
        cutoff = cutoff.when(col("instrument").eq(lit(code.clone()))).then(lit(*c));
        sd = sd.when(col("instrument").eq(lit(code.clone()))).then(lit(*d));
    }
    let severity = sign.otherwise(lit(NULL).cast(DataType::Float64))
        * (col("score").cast(DataType::Float64) - cutoff.otherwise(lit(NULL).cast(DataType::Float64)))
        / sd.otherwise(lit(NULL).cast(DataType::Float64));
    keys.clone()
        .join(
            r.t.assessments.clone().select([
                col("case_id"),
                col("instrument"),
                col("domain"),
                col("assessed"),
                col("assessment_id"),
                col("score"),
            ]),
            [col("case_id")],
            [col("case_id")],
            inner(),
        )
        .filter(col("assessed").lt_eq(col("at")))
        .sort(["row_id", "instrument", "domain", "assessed", "assessment_id"], SortMultipleOptions::default())
        .group_by([col("row_id"), col("instrument"), col("domain")])
        .agg([col("score").first()])
        .with_columns([severity.alias("__sev")])
        // A fixed order of the terms: the same mean every run.
        .sort(["row_id", "__sev"], SortMultipleOptions::default())
        .group_by([col("row_id")])
        .agg([col("__sev").mean().alias("baseline_severity")])
}

/// Feature `household_cases`.
fn household_cases(keys: &LazyFrame, r: &Register) -> LazyFrame {
    let members = r.clients.clone().select([col("client_id").alias("__member"), col("household_id")]);
    keys.clone()
        .join(members, [col("household_id")], [col("household_id")], inner())
        .filter(col("__member").neq(col("client_id")))
        .join(
            r.t.cases.clone().select([col("client_id").alias("__member"), col("opened").alias("__opened")]),
            [col("__member")],
            [col("__member")],
            inner(),
        )
        .filter(col("__opened").lt_eq(col("at")))
        .group_by([col("row_id")])
        .agg([col("__member").n_unique().cast(DataType::Float64).alias("household_cases")])
}

/// Feature `household_assistance_months`.
fn household_assistance_months(keys: &LazyFrame, r: &Register) -> LazyFrame {
    keys.clone()
        .join(
            r.t.payments.clone().select([col("household_id"), col("month")]),
            [col("household_id")],
            [col("household_id")],
            inner(),
        )
        .filter(col("month").lt_eq(col("at")).and(col("month").gt(col("at").dt().offset_by(lit("-12mo")))))
        .group_by([col("row_id")])
        .agg([col("month").n_unique().cast(DataType::Float64).alias("assistance_months")])
}

/// Feature `contacts`.
fn contacts(keys: &LazyFrame, r: &Register) -> LazyFrame {
    keys.clone()
        .join(r.t.contacts.clone().select([col("case_id"), col("date")]), [col("case_id")], [col("case_id")], inner())
        .filter(col("date").lt_eq(col("at")))
        .group_by([col("row_id")])
        .agg([len().cast(DataType::Float64).alias("__n")])
        .select([col("row_id"), col("__n").alias("log_contacts")])
}

/// Feature `case_open`.
fn case_open(keys: &LazyFrame, r: &Register) -> LazyFrame {
    keys.clone()
        .join(r.t.cases.clone().select([col("case_id"), col("closed")]), [col("case_id")], [col("case_id")], inner())
        .select([
            col("row_id"),
            (col("closed").is_null().or(col("closed").gt(col("at")))).cast(DataType::Float64).alias("case_open"),
        ])
}
