//! What `evaluate` and `simulate` write: Parquet tables, the INDIGO-shaped
//! JSON export and an HTML report with its charts.

use std::fmt::Write as _;
use std::path::Path;

use chrono::NaiveDate;
use plotters::prelude::*;
use polars::prelude::*;
use serde_json::{Value, json};
use utfall_disclosure::Policy;
use utfall_register::store::{write_atomically, write_bytes_atomically, write_parquet};
use utfall_report::chart::{FONT, PALETTE, legend, padded, plot_error, svg_image};
use utfall_report::format::{fixed3 as f3, money};
use utfall_report::{Page, count_span, escape};

use crate::simulate::Simulated;
use crate::spec::{Method, Spec};
use crate::{ContractError, Evaluation};

fn write(dir: &Path, name: &str, mut df: DataFrame) -> Result<(), ContractError> {
    let path = dir.join(name);
    write_atomically(&path, |f| write_parquet(&mut df, f.try_clone()?).map_err(std::io::Error::other))
        .map_err(|e| ContractError::Write(format!("{}: {e}", path.display())))
}

fn date_col(name: &str, v: Vec<Option<NaiveDate>>) -> Result<Column, ContractError> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let days: Vec<Option<i32>> = v.into_iter().map(|d| d.map(|d| (d - epoch).num_days() as i32)).collect();
    Column::new(name.into(), days).cast(&DataType::Date).map_err(|e| ContractError::Write(e.to_string()))
}

fn frame(columns: Vec<Column>) -> Result<DataFrame, ContractError> {
    DataFrame::new_infer_height(columns).map_err(|e| ContractError::Write(e.to_string()))
}

/// Why bootstrap replicates gave no estimate, with how often ("" when all did).
fn failures(e: &crate::Effect) -> String {
    e.replicate_failures.iter().map(|(r, n)| format!("{n}: {r}")).collect::<Vec<_>>().join("; ")
}

/// A count as the policy lets it be shown (marked for the disclosure audit).
fn count(p: &Policy, n: usize) -> String {
    count_span(p, n as u64)
}

/// The Parquet tables of an evaluation.
pub fn write_tables(dir: &Path, ev: &Evaluation) -> Result<(), ContractError> {
    let spec = &ev.spec;
    let part = |p: usize| &ev.enrolments[ev.participants[p]];
    // Per participant and metric achieved: when, and what it paid.
    let l = &ev.lines;
    write(
        dir,
        "contract_outcomes.parquet",
        frame(vec![
            Column::new("contract_id".into(), vec![spec.id.clone(); l.len()]),
            Column::new(
                "client_id".into(),
                l.iter().map(|x| part(x.participant).client_id.clone()).collect::<Vec<_>>(),
            ),
            Column::new("case_id".into(), l.iter().map(|x| part(x.participant).case_id.clone()).collect::<Vec<_>>()),
            date_col("enrolled", l.iter().map(|x| Some(part(x.participant).enrolled())).collect())?,
            Column::new(
                "outcome_metric_id".into(),
                l.iter().map(|x| spec.outcome_metrics[x.metric].id.clone()).collect::<Vec<_>>(),
            ),
            date_col("achieved", l.iter().map(|x| Some(x.date)).collect())?,
            Column::new(
                "payment_period".into(),
                l.iter().map(|x| x.period.map(|p| spec.outcome_payment_periods[p].id.clone())).collect::<Vec<_>>(),
            ),
            Column::new("price".into(), l.iter().map(|x| x.price).collect::<Vec<_>>()),
            Column::new("paid".into(), l.iter().map(|x| x.paid).collect::<Vec<_>>()),
            Column::new("note".into(), l.iter().map(|x| x.note.to_string()).collect::<Vec<_>>()),
        ])?,
    )?;
    money_tables(dir, ev)?;
    let periods = &spec.outcome_payment_periods;
    let t = &ev.totals;
    write(
        dir,
        "contract_payments.parquet",
        frame(vec![
            Column::new("contract_id".into(), vec![spec.id.clone(); t.len()]),
            Column::new("payment_period".into(), t.iter().map(|x| periods[x.period].id.clone()).collect::<Vec<_>>()),
            date_col("period_start", t.iter().map(|x| Some(periods[x.period].from)).collect())?,
            date_col("period_end", t.iter().map(|x| Some(periods[x.period].to)).collect())?,
            Column::new("outcomes".into(), t.iter().map(|x| x.outcomes as u64).collect::<Vec<_>>()),
            Column::new("gross".into(), t.iter().map(|x| x.gross).collect::<Vec<_>>()),
            Column::new("paid".into(), t.iter().map(|x| x.paid).collect::<Vec<_>>()),
            Column::new("cumulative_paid".into(), t.iter().map(|x| x.cumulative).collect::<Vec<_>>()),
            Column::new("planned".into(), t.iter().map(|x| periods[x.period].planned).collect::<Vec<_>>()),
            Column::new("currency".into(), vec![spec.pricing.currency.clone(); t.len()]),
        ])?,
    )?;
    let e = &ev.effect;
    write(
        dir,
        "contract_effect.parquet",
        frame(vec![
            Column::new("contract_id".into(), vec![spec.id.clone()]),
            Column::new("method".into(), vec![e.method.name().to_string()]),
            Column::new("estimand".into(), vec![e.estimand.clone()]),
            Column::new("outcome".into(), vec![e.outcome.clone()]),
            Column::new("estimate".into(), vec![e.estimate.estimate]),
            Column::new("ci_low".into(), vec![e.estimate.ci_low]),
            Column::new("ci_high".into(), vec![e.estimate.ci_high]),
            Column::new("bootstrap_se".into(), vec![e.bootstrap_se]),
            Column::new("percentile_low".into(), vec![e.estimate.percentile_low]),
            Column::new("percentile_high".into(), vec![e.estimate.percentile_high]),
            Column::new("participants".into(), vec![e.n_treated as u64]),
            Column::new("comparisons".into(), vec![e.n_comparison as u64]),
            Column::new("matched_pairs".into(), vec![e.matching.as_ref().map(|m| m.result.pairs.len() as u64)]),
            Column::new("matched_difference".into(), vec![e.matching.as_ref().map(|m| m.result.unadjusted)]),
            Column::new("bootstrap_replicates".into(), vec![e.replicates as u64]),
            Column::new("bootstrap_requested".into(), vec![e.replicates_requested as u64]),
            Column::new("two_group_difference".into(), vec![e.two_group.as_ref().map(|t| t.estimate)]),
            Column::new("two_group_ci_low".into(), vec![e.two_group.as_ref().map(|t| t.ci_low)]),
            Column::new("two_group_ci_high".into(), vec![e.two_group.as_ref().map(|t| t.ci_high)]),
            Column::new("bootstrap_failures".into(), vec![failures(e)]),
            Column::new("seed".into(), vec![spec.validation.seed]),
            Column::new("spec_sha256".into(), vec![spec.sha256.clone()]),
            Column::new("register_manifest_sha256".into(), vec![ev.manifest_sha256.clone()]),
            // The interval's standard error and where it came from.
            Column::new("se".into(), vec![e.estimate.se]),
            Column::new(
                "se_method".into(),
                vec![match e.interval {
                    crate::spec::Interval::Bootstrap => "bootstrap",
                    crate::spec::Interval::MatchedPairs => "matched_pairs",
                }],
            ),
        ])?,
    )?;
    // The estimation units: one row per enrolment used.
    let u = &e.units;
    let enrol = |i: usize| {
        let k = e.enrolment[i];
        if k < ev.enrolments.len() { &ev.enrolments[k] } else { &ev.historical[k - ev.enrolments.len()] }
    };
    let mut columns = vec![
        Column::new("client_id".into(), (0..u.len()).map(|i| enrol(i).client_id.clone()).collect::<Vec<_>>()),
        Column::new("household_id".into(), (0..u.len()).map(|i| enrol(i).household_id.clone()).collect::<Vec<_>>()),
        Column::new("case_id".into(), (0..u.len()).map(|i| enrol(i).case_id.clone()).collect::<Vec<_>>()),
        date_col("index_month", (0..u.len()).map(|i| Some(enrol(i).index)).collect())?,
        Column::new("treated".into(), u.iter().map(|x| x.treated).collect::<Vec<_>>()),
        Column::new("cluster".into(), u.iter().map(|x| x.cluster as u64).collect::<Vec<_>>()),
        Column::new("y_pre".into(), u.iter().map(|x| x.y_pre).collect::<Vec<_>>()),
        Column::new("y_post".into(), u.iter().map(|x| x.y_post).collect::<Vec<_>>()),
        Column::new("propensity_logit".into(), e.logit.clone()),
        Column::new("matched_row".into(), e.partner.iter().map(|p| p.map(|p| p as u64)).collect::<Vec<_>>()),
    ];
    if let Some(m) = &e.matching {
        for (j, name) in m.names.iter().enumerate() {
            columns.push(Column::new(format!("x_{name}").into(), u.iter().map(|x| x.x[j]).collect::<Vec<_>>()));
        }
    }
    write(dir, "contract_study.parquet", frame(columns)?)?;
    if let Some(m) = &e.matching {
        let b = &m.balance;
        write(
            dir,
            "contract_balance.parquet",
            frame(vec![
                Column::new("covariate".into(), b.iter().map(|r| r.covariate.clone()).collect::<Vec<_>>()),
                Column::new("mean_treated_before".into(), b.iter().map(|r| r.before.mean_t).collect::<Vec<_>>()),
                Column::new("mean_comparison_before".into(), b.iter().map(|r| r.before.mean_c).collect::<Vec<_>>()),
                Column::new("smd_before".into(), b.iter().map(|r| r.before.smd(r.pooled_sd)).collect::<Vec<_>>()),
                Column::new(
                    "variance_ratio_before".into(),
                    b.iter().map(|r| r.before.variance_ratio()).collect::<Vec<_>>(),
                ),
                Column::new("mean_treated_after".into(), b.iter().map(|r| r.after.mean_t).collect::<Vec<_>>()),
                Column::new("mean_comparison_after".into(), b.iter().map(|r| r.after.mean_c).collect::<Vec<_>>()),
                Column::new("smd_after".into(), b.iter().map(|r| r.after.smd(r.pooled_sd)).collect::<Vec<_>>()),
                Column::new(
                    "variance_ratio_after".into(),
                    b.iter().map(|r| r.after.variance_ratio()).collect::<Vec<_>>(),
                ),
            ])?,
        )?;
        let mut terms = vec!["intercept".to_string()];
        terms.extend(m.names.iter().cloned());
        let mut coef = vec![m.result.propensity.intercept];
        coef.extend(m.result.propensity.coefficients.iter().copied());
        write(
            dir,
            "contract_propensity.parquet",
            frame(vec![
                Column::new("term".into(), terms),
                Column::new("coefficient".into(), coef),
                Column::new("adjustment_coefficient".into(), m.result.adjustment.clone()),
            ])?,
        )?;
    }
    if let Some(d) = &e.did {
        let r = &d.event_time;
        let est = |f: fn(&crate::Estimate) -> f64| r.iter().map(|x| x.estimate.as_ref().map(f)).collect::<Vec<_>>();
        write(
            dir,
            "contract_event_time.parquet",
            frame(vec![
                Column::new("event_quarter".into(), r.iter().map(|x| x.quarter).collect::<Vec<_>>()),
                Column::new("mean_treated".into(), r.iter().map(|x| x.mean_treated).collect::<Vec<_>>()),
                Column::new("mean_comparison".into(), r.iter().map(|x| x.mean_comparison).collect::<Vec<_>>()),
                Column::new("n_treated".into(), r.iter().map(|x| x.n_treated as u64).collect::<Vec<_>>()),
                Column::new("n_comparison".into(), r.iter().map(|x| x.n_comparison as u64).collect::<Vec<_>>()),
                Column::new("estimate".into(), est(|e| e.estimate)),
                Column::new("ci_low".into(), est(|e| e.ci_low)),
                Column::new("ci_high".into(), est(|e| e.ci_high)),
            ])?,
        )?;
    }
    Ok(())
}

/// The activity payments, the savings' costs per enrolment and the money per
/// period, where the spec has activity payments, savings or an investment.
fn money_tables(dir: &Path, ev: &Evaluation) -> Result<(), ContractError> {
    let spec = &ev.spec;
    let part = |p: usize| &ev.enrolments[ev.participants[p]];
    let period_id = |x: Option<usize>| x.map(|p| spec.outcome_payment_periods[p].id.clone());
    if !spec.activity_payments.is_empty() {
        let l = &ev.activity;
        write(
            dir,
            "contract_activity.parquet",
            frame(vec![
                Column::new("contract_id".into(), vec![spec.id.clone(); l.len()]),
                Column::new(
                    "client_id".into(),
                    l.iter().map(|x| part(x.participant).client_id.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "case_id".into(),
                    l.iter().map(|x| part(x.participant).case_id.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "activity_payment_id".into(),
                    l.iter().map(|x| spec.activity_payments[x.metric].id.clone()).collect::<Vec<_>>(),
                ),
                date_col("earned", l.iter().map(|x| Some(x.date)).collect())?,
                Column::new("payment_period".into(), l.iter().map(|x| period_id(x.period)).collect::<Vec<_>>()),
                Column::new("price".into(), l.iter().map(|x| x.price).collect::<Vec<_>>()),
                Column::new("paid".into(), l.iter().map(|x| x.paid).collect::<Vec<_>>()),
                Column::new("note".into(), l.iter().map(|x| x.note.to_string()).collect::<Vec<_>>()),
            ])?,
        )?;
    }
    if let Some(s) = &ev.savings {
        let c = &s.costs;
        write(
            dir,
            "contract_savings.parquet",
            frame(vec![
                Column::new("contract_id".into(), vec![spec.id.clone(); c.len()]),
                Column::new("client_id".into(), c.iter().map(|x| x.1.clone()).collect::<Vec<_>>()),
                Column::new("participant".into(), c.iter().map(|x| x.0.is_some()).collect::<Vec<_>>()),
                Column::new("cost".into(), c.iter().map(|x| x.2).collect::<Vec<_>>()),
            ])?,
        )?;
    }
    if spec.activity_payments.is_empty() && ev.savings.is_none() && ev.statement.is_none() {
        return Ok(());
    }
    let periods = &spec.outcome_payment_periods;
    let mut order: Vec<usize> = (0..periods.len()).collect();
    order.sort_by_key(|i| periods[*i].from);
    let in_period = |ls: &[crate::ratecard::PaymentLine], i: usize| -> f64 {
        // + 0.0: an empty sum is -0.0
        ls.iter().filter(|l| l.period == Some(i)).map(|l| l.paid).sum::<f64>() + 0.0
    };
    let (mut act, mut out, mut sav, mut tot, mut cum) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut running = 0.0;
    for i in &order {
        let (a, b, c) = (in_period(&ev.activity, *i), in_period(&ev.lines, *i), in_period(&ev.savings_lines, *i));
        running += a + b + c;
        act.push(a);
        out.push(b);
        sav.push(c);
        tot.push(a + b + c);
        cum.push(running);
    }
    let capital = ev.statement.as_ref().map(|s| s.capital);
    write(
        dir,
        "contract_money.parquet",
        frame(vec![
            Column::new("contract_id".into(), vec![spec.id.clone(); order.len()]),
            Column::new("payment_period".into(), order.iter().map(|i| periods[*i].id.clone()).collect::<Vec<_>>()),
            date_col("from", order.iter().map(|i| Some(periods[*i].from)).collect())?,
            date_col("to", order.iter().map(|i| Some(periods[*i].to)).collect())?,
            Column::new("activity_paid".into(), act),
            Column::new("outcomes_paid".into(), out),
            Column::new("savings_paid".into(), sav),
            Column::new("paid".into(), tot),
            Column::new("cumulative".into(), cum.clone()),
            Column::new("capital".into(), vec![capital; order.len()]),
            Column::new("balance".into(), cum.iter().map(|c| capital.map(|k| c - k)).collect::<Vec<_>>()),
        ])?,
    )
}

fn v(x: impl Into<Value>) -> Value {
    json!({ "value": x.into() })
}

/// The contract, its results and payments in the shape of the INDIGO data
/// standard's project (`outcome_metrics`, `outcome_pricings`, `results`,
/// `outcome_payment_commitments`, `transactions`), values as `{"value": ...}`.
pub fn indigo(ev: &Evaluation) -> Value {
    let spec = &ev.spec;
    let cur = &spec.pricing.currency;
    let achieved_by = |m: usize| {
        let mut who: Vec<usize> = ev.achievements.iter().filter(|a| a.metric == m).map(|a| a.participant).collect();
        who.sort();
        who.dedup();
        who.len()
    };
    let metrics: Vec<Value> = spec
        .outcome_metrics
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "definition": v(m.definition.clone()),
                "target_population": v(spec.target_group.description.clone()),
                "unit_type_of_targeted_service_users_or_beneficiaries": v("Individual"),
                "outcome_validation_method": v(spec.validation.method.indigo()),
                "data_source_for_outcome_validation": v(format!("Administrative data: utfall register, table {}", m.table)),
                "notes": format!("rule: {}; follow-up {} months from enrolment", m.rule(), spec.follow_up_months),
            })
        })
        .collect();
    let pricings: Vec<Value> = spec
        .outcome_metrics
        .iter()
        .map(|m| {
            json!({
                "outcome_metric_id": v(m.id.clone()),
                "currency": v(cur.clone()),
                "price_per_unit": { "amount": v(m.price_per_unit) },
                "maximum_price_if_all_targets_achieved": { "amount": v(format!("{}", spec.pricing.cap_per_participant)) },
                "price_description": v(format!("paid once per participant; at most {} per participant over all outcomes and {} in total", spec.pricing.cap_per_participant, spec.pricing.cap_total)),
            })
        })
        .collect();
    let (first, last) = (spec.enrolment.from, ev.as_of);
    let results: Vec<Value> = spec
        .outcome_metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            json!({
                "outcome_metric_id": v(m.id.clone()),
                "result_level": v("Outcome level"),
                "result_type": v(if ev.as_of >= spec.outcome_payment_periods.iter().map(|p| p.to).max().unwrap_or(ev.as_of) { "Final" } else { "Interim" }),
                "period": { "start_date": v(first.to_string()), "end_date": v(last.to_string()) },
                "number_engaged_in_impact_bond": v(ev.participants.len()),
                "number_with_positive_social_outcomes": v(achieved_by(i)),
            })
        })
        .collect();
    let commitments: Vec<Value> = ev
        .totals
        .iter()
        .map(|t| {
            let p = &spec.outcome_payment_periods[t.period];
            json!({
                "organisation_id": v(spec.parties.outcome_payer.clone()),
                "maximum_potential_outcome_payment": { "currency": v(cur.clone()), "amount": v(spec.pricing.cap_total) },
                "result_type": v("Interim"),
                "period": { "start_date": v(p.from.to_string()), "end_date": v(p.to.to_string()) },
                "total_outcome_payments": { "currency": v(cur.clone()), "amount": v(t.paid) },
                "notes": format!("payment period {}; planned {}; outcomes {}; before caps {}", p.id, p.planned.map(|x| x.to_string()).unwrap_or_else(|| "not given".into()), t.outcomes, t.gross),
            })
        })
        .collect();
    // One outcome-payment transaction per metric and period.
    let mut transactions = Vec::new();
    for (pi, p) in spec.outcome_payment_periods.iter().enumerate() {
        for (mi, m) in spec.outcome_metrics.iter().enumerate() {
            let paid: f64 = ev.lines.iter().filter(|l| l.period == Some(pi) && l.metric == mi).map(|l| l.paid).sum();
            if paid > 0.0 {
                transactions.push(json!({
                    "outcome_metric_id": v(m.id.clone()),
                    "date": v(p.to.to_string()),
                    "sending_organisation_id": v(spec.parties.outcome_payer.clone()),
                    "receiving_organisation_id": v(spec.parties.investor.clone()),
                    "transaction_type": v("Outcome Payment"),
                    "money": { "currency": v(cur.clone()), "amount": v(paid) },
                }));
            }
        }
    }
    for l in ev.activity.iter().filter(|l| l.paid > 0.0) {
        transactions.push(json!({
            "activity_payment_id": v(spec.activity_payments[l.metric].id.clone()),
            "date": v(l.date.to_string()),
            "sending_organisation_id": v(spec.parties.outcome_payer.clone()),
            "receiving_organisation_id": v(spec.parties.investor.clone()),
            "transaction_type": v("Activity Payment"),
            "money": { "currency": v(cur.clone()), "amount": v(l.paid) },
        }));
    }
    for l in ev.savings_lines.iter().filter(|l| l.paid > 0.0) {
        transactions.push(json!({
            "date": v(l.date.to_string()),
            "sending_organisation_id": v(spec.parties.outcome_payer.clone()),
            "receiving_organisation_id": v(spec.parties.investor.clone()),
            "transaction_type": v("Savings Payment"),
            "money": { "currency": v(cur.clone()), "amount": v(l.paid) },
        }));
    }
    let investments: Vec<Value> = match (&spec.investment, &ev.statement) {
        (Some(inv), Some(st)) => vec![json!({
            "organisation_id": v(spec.parties.investor.clone()),
            "investment_type": v("Up-front capital"),
            "amount": { "currency": v(cur.clone()), "amount": v(inv.amount) },
            "minimum_guaranteed_return": { "currency": v(cur.clone()), "amount": v(inv.guaranteed_share * inv.amount - inv.amount) },
            "maximum_potential_return": st.ceiling.map(|c| json!({ "currency": v(cur.clone()), "amount": v(c - inv.amount) })),
            "repaid": { "currency": v(cur.clone()), "amount": v(st.repaid) },
            "notes": format!("{:.0}% of the capital repaid on activity whatever the outcomes; the rest from outcome and savings payments; return capped at {}", inv.guaranteed_share * 100.0, inv.return_cap.map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "nothing (no cap)".into())),
        })],
        _ => Vec::new(),
    };
    let savings = ev.savings.as_ref().map(|s| {
        json!({
            "method": s.method.name(),
            "savings_per_participant": s.per_participant.estimate,
            "ci95": [s.per_participant.ci_low, s.per_participant.ci_high],
            "participants": s.n_treated,
            "comparisons": s.n_comparison,
            "mean_cost_participants": s.mean_treated,
            "mean_cost_comparisons": s.mean_comparison,
            "basis_per_participant": s.basis,
            "payable": s.payable,
            "settled": s.settled.to_string(),
            "bootstrap_replicates_used": s.replicates,
        })
    });
    let e = &ev.effect;
    json!({
        "id": spec.id,
        "investments": investments,
        "savings": savings,
        "name": v(spec.title.clone()),
        "purpose_and_classifications": { "policy_sector": v("Employment and training") },
        "service_and_beneficiaries": {
            "target_population": v(spec.target_group.description.clone()),
            "intervention": v(spec.service.description.clone()),
        },
        "outcome_metrics": metrics,
        "outcome_pricings": pricings,
        "results": results,
        "outcome_payment_commitments": commitments,
        "transactions": transactions,
        "evaluation": {
            "method": e.method.name(),
            "estimand": e.estimand,
            "outcome": e.outcome,
            "estimate": e.estimate.estimate,
            "ci95": [e.estimate.ci_low, e.estimate.ci_high],
            "interval": match e.interval {
                crate::spec::Interval::Bootstrap => format!("estimate ± 1.96 bootstrap standard errors; {} of {} replicates resampling households gave an estimate, seed {}", e.replicates, e.replicates_requested, spec.validation.seed),
                crate::spec::Interval::MatchedPairs => "estimate ± 1.96 matched-pairs standard errors (the bias-adjusted pair differences, clustered by the participant's household)".to_string(),
            },
            "bootstrap_replicates_requested": e.replicates_requested,
            "bootstrap_replicates_used": e.replicates,
            "bootstrap_failures": failures(e),
            "two_group_comparison": e.two_group.as_ref().map(|t| json!({"difference": t.estimate, "ci95": [t.ci_low, t.ci_high]})),
            "bootstrap_se": e.bootstrap_se,
            "se": e.estimate.se,
            "percentile_interval": [e.estimate.percentile_low, e.estimate.percentile_high],
            "participants": e.n_treated,
            "comparisons": e.n_comparison,
        },
        "notes": format!("Generated by utfall from register manifest {} (as of {}), specification {} (sha256 {}).", ev.manifest_sha256, ev.as_of, spec.file, spec.sha256),
    })
}

fn event_chart(d: &crate::DidDetails, alt: &str) -> Result<String, String> {
    let pts: Vec<(i32, f64, f64, f64)> = d
        .event_time
        .iter()
        .filter_map(|r| r.estimate.as_ref().map(|e| (r.quarter, e.estimate, e.ci_low, e.ci_high)))
        .collect();
    let (lo, hi) = padded(pts.iter().map(|p| p.2).fold(0.0, f64::min), pts.iter().map(|p| p.3).fold(0.0, f64::max));
    let (x0, x1) =
        (pts.first().map(|p| p.0).unwrap_or(-1) as f64 - 0.5, pts.last().map(|p| p.0).unwrap_or(1) as f64 + 0.5);
    svg_image(640, 380, alt, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, lo..hi)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("quarters from the index quarter")
            .y_desc("participants − comparison, vs quarter before")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:+.2}"))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(DashedLineSeries::new([(x0, 0.0), (x1, 0.0)], 6, 4, PALETTE[6].stroke_width(1)))
            .map_err(plot_error)?;
        chart
            .draw_series(
                pts.iter()
                    .map(|p| PathElement::new(vec![(p.0 as f64, p.2), (p.0 as f64, p.3)], PALETTE[0].stroke_width(2))),
            )
            .map_err(plot_error)?
            .label("95% bootstrap interval")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[0].stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|p| Circle::new((p.0 as f64, p.1), 4, PALETTE[0].filled())))
            .map_err(plot_error)?
            .label("estimate")
            .legend(|(x, y)| Circle::new((x + 9, y), 4, PALETTE[0].filled()));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

fn support_chart(m: &crate::MatchingDetails, alt: &str) -> Result<String, String> {
    const BINS: usize = 20;
    let hist = |t: bool| {
        let mut h = [0.0; BINS];
        let n = m.scores.iter().filter(|s| s.0 == t).count().max(1) as f64;
        for (_, p) in m.scores.iter().filter(|s| s.0 == t) {
            h[((p * BINS as f64) as usize).min(BINS - 1)] += 1.0 / n;
        }
        h
    };
    let (ht, hc) = (hist(true), hist(false));
    let top = ht.iter().chain(hc.iter()).fold(0.0_f64, |a, b| a.max(*b)) * 1.1;
    svg_image(640, 340, alt, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..1.0, 0.0..top.max(0.01))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("propensity score")
            .y_desc("share of the group")
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .draw()
            .map_err(plot_error)?;
        for (h, colour, label, off) in
            [(&hc, PALETTE[6], "comparison pool", 0.0), (&ht, PALETTE[0], "participants", 0.5)]
        {
            let w = 1.0 / BINS as f64;
            chart
                .draw_series(h.iter().enumerate().map(|(i, y)| {
                    let x = i as f64 * w + off * w;
                    Rectangle::new([(x, 0.0), (x + w / 2.0, *y)], colour.filled())
                }))
                .map_err(plot_error)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}

/// The HTML report.
pub fn html(ev: &Evaluation) -> Result<String, ContractError> {
    let mut o = String::new();
    contract_section(&mut o, ev);
    ratecard_section(&mut o, ev);
    money_section(&mut o, ev);
    effect_section(&mut o, ev);
    if let Some(m) = &ev.effect.matching {
        matching_section(&mut o, &ev.spec, &ev.policy, m)?;
    }
    if let Some(d) = &ev.effect.did {
        did_section(&mut o, &ev.policy, d, &ev.effect.estimate)?;
    }
    definitions_section(&mut o, ev);
    Ok(Page { lang: "en", title: &ev.spec.title, extra_style: "" }.render(&o))
}

/// The title and the contract's terms.
fn contract_section(o: &mut String, ev: &Evaluation) {
    let spec = &ev.spec;
    let cur = &spec.pricing.currency;
    let _ = write!(
        o,
        "<main><h1>{t}</h1><p class=\"summary\">Outcome contract (socialt utfallskontrakt) <code>{id}</code>: {d}</p>",
        t = escape(&spec.title),
        id = escape(&spec.id),
        d = escape(&spec.description)
    );
    let _ = write!(
        o,
        "<h2>Contract</h2><table><tbody>\
         <tr><th>Target group</th><td>{}</td></tr><tr><th>Enrolment window</th><td>{} to {}</td></tr>\
         <tr><th>Service</th><td>{} ({})</td></tr><tr><th>Follow-up</th><td>{} months from enrolment</td></tr>\
         <tr><th>Outcome payer / investor / provider / evaluator</th><td>{} / {} / {} / {}</td></tr>\
         <tr><th>Caps</th><td>{} {cur} per participant, {} {cur} in total</td></tr></tbody></table>",
        escape(&spec.target_group.description),
        spec.enrolment.from,
        spec.enrolment.to,
        escape(&spec.service.description),
        escape(&{
            let f: Vec<String> =
                spec.service.filter.iter().map(|(k, v)| format!("{k} = {}", crate::spec::filter_text(v))).collect();
            format!(
                "{} where {}, starting within {} of the index date",
                spec.service.table,
                f.join(", "),
                spec.service.within
            )
        }),
        spec.follow_up_months,
        escape(&spec.parties.outcome_payer),
        escape(&spec.parties.investor),
        escape(&spec.parties.provider),
        escape(&spec.parties.evaluator),
        money(spec.pricing.cap_per_participant),
        money(spec.pricing.cap_total),
    );
}

/// The rate card, what was achieved and paid, per metric and per period.
fn ratecard_section(o: &mut String, ev: &Evaluation) {
    let spec = &ev.spec;
    let policy = &ev.policy;
    let p = policy;
    let cur = &spec.pricing.currency;
    // Rate card and achievements.
    let _ = write!(
        o,
        "<h2>Rate card and outcomes achieved</h2><p>{} enrolments in the target group, {} participants. Counts below {t} are shown as &lt;{t} ({policy}).</p>\
         <table><thead><tr><th>Metric</th><th>Definition</th><th>Rule</th><th class=\"num\">Price ({cur})</th><th class=\"num\">Participants achieving</th><th class=\"num\">Paid ({cur})</th></tr></thead><tbody>",
        count(p, ev.enrolments.len()),
        count(p, ev.participants.len()),
        t = p.threshold,
        policy = escape(&p.describe()),
    );
    for (i, m) in spec.outcome_metrics.iter().enumerate() {
        let n = ev.achievements.iter().filter(|a| a.metric == i).count();
        let paid: f64 = ev.lines.iter().filter(|l| l.metric == i).map(|l| l.paid).sum();
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&m.id),
            escape(&m.definition),
            escape(&m.rule()),
            money(m.price_per_unit),
            count(p, n),
            if p.is_small(n as u64) { "–".into() } else { money(paid) }
        );
    }
    o.push_str("</tbody></table>");
    let _ = write!(
        o,
        "<h2>Payments per period</h2><table><thead><tr><th>Period</th><th>From</th><th>To</th><th class=\"num\">Outcomes</th><th class=\"num\">Before caps</th><th class=\"num\">Paid</th><th class=\"num\">Cumulative</th><th class=\"num\">Planned</th></tr></thead><tbody>"
    );
    for t in &ev.totals {
        let p = &spec.outcome_payment_periods[t.period];
        let small = policy.is_small(t.outcomes as u64);
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&p.id),
            p.from,
            p.to,
            count(policy, t.outcomes),
            if small { "–".into() } else { money(t.gross) },
            if small { "–".into() } else { money(t.paid) },
            money(t.cumulative),
            p.planned.map(money).unwrap_or_else(|| "–".into())
        );
    }
    let outside = ev.lines.iter().filter(|l| l.period.is_none()).count();
    let total: f64 = ev.lines.iter().map(|l| l.paid).sum();
    let _ = write!(
        o,
        "</tbody></table><p>Total paid: <strong>{} {cur}</strong>. Outcomes outside every payment period (not paid): {}.</p>",
        money(total),
        count(p, outside)
    );
}

/// Payments on activity, the measured savings and the investor's statement
/// (nothing where the spec has none of them).
fn money_section(o: &mut String, ev: &Evaluation) {
    let spec = &ev.spec;
    let p = &ev.policy;
    let cur = &spec.pricing.currency;
    if !spec.activity_payments.is_empty() {
        let _ = write!(
            o,
            "<h2>Payments on activity</h2><table><thead><tr><th>Payment</th><th>Definition</th><th>Per</th><th class=\"num\">Price ({cur})</th><th class=\"num\">Earned</th><th class=\"num\">Paid ({cur})</th></tr></thead><tbody>"
        );
        for (i, a) in spec.activity_payments.iter().enumerate() {
            let n = ev.activity.iter().filter(|l| l.metric == i).count();
            let paid: f64 = ev.activity.iter().filter(|l| l.metric == i).map(|l| l.paid).sum();
            let per = match (a.per, a.max_months) {
                (crate::spec::Per::Participant, _) => "participant started".to_string(),
                (crate::spec::Per::MonthInService, None) => "whole month in service".to_string(),
                (crate::spec::Per::MonthInService, Some(m)) => format!("whole month in service (at most {m})"),
            };
            let _ = write!(
                o,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(&a.id),
                escape(&a.definition),
                per,
                money(a.price),
                count(p, n),
                if p.is_small(n as u64) { "–".into() } else { money(paid) }
            );
        }
        o.push_str("</tbody></table>");
    }
    if let (Some(s), Some(spec_s)) = (&ev.savings, &spec.savings) {
        let e = &s.per_participant;
        let items: Vec<String> = spec_s
            .cost
            .iter()
            .map(|c| {
                let f: Vec<String> =
                    c.filter.iter().map(|(k, v)| format!("{k} = {}", crate::spec::filter_text(v))).collect();
                format!(
                    "{} ({} of {}{}{}, at {} {cur})",
                    c.name,
                    c.aggregate.name(),
                    c.table,
                    c.column.as_ref().map(|c| format!(" {c}")).unwrap_or_default(),
                    if f.is_empty() { String::new() } else { format!(" where {}", f.join(", ")) },
                    c.price
                )
            })
            .collect();
        let _ = write!(
            o,
            "<h2>Savings</h2><p class=\"summary\">{def}<br>Cost over the {m} months of follow-up: {items}.<br>\
             Comparison: {method}, {nt} participants and {nc} comparison enrolments whose whole follow-up is observed (comparisons that later started the service left out). \
             Mean cost {mt} {cur} (participants) against {mc} {cur} (comparisons).<br>\
             Savings per participant <strong>{est} {cur}</strong> (95% CI {lo} to {hi}: the estimate ± 1.96 bootstrap standard errors, households resampled, {r} of {rr} replicates gave an estimate).<br>\
             Paid: {share:.0}% of {basis} {cur} per participant ({what}) for {nt} participants = <strong>{payable} {cur}</strong>, settled {settled}.</p>",
            def = escape(&spec_s.definition),
            m = spec.follow_up_months,
            items = escape(&items.join("; ")),
            method = s.method.name().replace('_', " "),
            nt = count(p, s.n_treated),
            nc = count(p, s.n_comparison),
            mt = money(s.mean_treated),
            mc = money(s.mean_comparison),
            est = money(e.estimate),
            lo = money(e.ci_low),
            hi = money(e.ci_high),
            r = s.replicates,
            rr = s.replicates_requested,
            share = spec_s.share * 100.0,
            basis = money(s.basis),
            what = match spec_s.basis {
                crate::spec::SavingsBasis::Estimate => "the estimate, not below 0",
                crate::spec::SavingsBasis::LowerBound => "the interval's lower end, not below 0",
            },
            payable = money(s.payable),
            settled = s.settled,
        );
    }
    if let (Some(st), Some(inv)) = (&ev.statement, &spec.investment) {
        let _ = write!(
            o,
            "<h2>The investor's statement</h2><table><tbody>\
             <tr><th>Capital put up front</th><td class=\"num\">{cap} {cur}</td></tr>\
             <tr><th>Activity payments earned</th><td class=\"num\">{ag} {cur}</td></tr>\
             <tr><th>Activity payments paid (at most {gs:.0}% of the capital)</th><td class=\"num\">{ap} {cur}</td></tr>\
             <tr><th>Outcome payments</th><td class=\"num\">{op} {cur}</td></tr>\
             <tr><th>Savings payment</th><td class=\"num\">{sp} {cur}</td></tr>\
             <tr><th>Repaid{ceiling}</th><td class=\"num\"><strong>{rep} {cur}</strong></td></tr>\
             <tr><th>Net to the investor</th><td class=\"num\">{net} {cur} ({mult:.2} times the capital)</td></tr>\
             </tbody></table>",
            cap = money(st.capital),
            ag = money(st.activity_gross),
            gs = inv.guaranteed_share * 100.0,
            ap = money(st.activity_paid),
            op = money(st.outcomes_paid),
            sp = money(st.savings_paid),
            ceiling = st
                .ceiling
                .map(|c| format!(
                    " (the return capped at {:.0}%: at most {} {cur})",
                    inv.return_cap.unwrap_or(0.0) * 100.0,
                    money(c)
                ))
                .unwrap_or_default(),
            rep = money(st.repaid),
            net = money(st.net),
            mult = st.multiple,
        );
    }
}

/// The effect estimate with its estimand and interval, after the plain
/// two-group comparison that every report opens with.
fn effect_section(o: &mut String, ev: &Evaluation) {
    let (spec, p) = (&ev.spec, &ev.policy);
    if let Some(t) = &ev.effect.two_group {
        let _ = write!(
            o,
            "<h2>Two-group comparison</h2><p class=\"summary\">Participants' mean minus the comparison enrolments' mean of the outcome, nothing adjusted: <strong>{:+.3}</strong> (95% CI {:+.3} to {:+.3}, household bootstrap). This is the effect only if taking part was decided at random; the estimate below adjusts for what the method can.</p>",
            t.estimate, t.ci_low, t.ci_high
        );
    }
    // The effect.
    let e = &ev.effect;
    let _ = write!(
        o,
        "<h2>Effect estimate: {}</h2><p class=\"summary\">Estimand: {}.<br>Outcome: {}.<br>Estimate <strong>{:+.3}</strong> (95% CI {:+.3} to {:+.3}: the estimate ± 1.96 {} ({:.4}); bootstrap resampling whole households: {} of {} replicates gave an estimate{}, seed {}; percentile interval {:+.3} to {:+.3}), {} participants and {} comparison enrolments.</p>",
        e.method.name().replace('_', " "),
        escape(&e.estimand),
        escape(&e.outcome),
        e.estimate.estimate,
        e.estimate.ci_low,
        e.estimate.ci_high,
        match e.interval {
            crate::spec::Interval::Bootstrap => "bootstrap standard errors",
            crate::spec::Interval::MatchedPairs =>
                "matched-pairs standard errors (the spread of the bias-adjusted pair differences, pairs of one participant household together, conditional on the matches)",
        },
        e.estimate.se,
        e.replicates,
        e.replicates_requested,
        if e.replicate_failures.is_empty() {
            String::new()
        } else {
            format!(" (the others: {})", escape(&failures(e)))
        },
        spec.validation.seed,
        e.estimate.percentile_low,
        e.estimate.percentile_high,
        count(p, e.n_treated),
        count(p, e.n_comparison)
    );
}

/// The propensity model, balance and common support.
fn matching_section(o: &mut String, spec: &Spec, p: &Policy, m: &crate::MatchingDetails) -> Result<(), ContractError> {
    let _ = write!(
        o,
        "<h3>Propensity model</h3><p>Logistic regression (unpenalised maximum likelihood) of taking part on the covariates at the index month. Matching: 1:1 nearest neighbour on the logit of the score, without replacement, participants with the highest score first, caliper {} SD of the logit ({:.3}). The estimate is the matched difference ({:+.4}) adjusted for what is left of the covariates' imbalance within pairs, by a linear regression of the outcome on the covariates among the matched comparisons (Abadie and Imbens 2011).</p><table><thead><tr><th>Term</th><th class=\"num\">Coefficient</th></tr></thead><tbody><tr><td>intercept</td><td class=\"num\">{:.4}</td></tr>",
        spec.validation.caliper_sd, m.result.caliper, m.result.unadjusted, m.result.propensity.intercept
    );
    for (n, c) in m.names.iter().zip(&m.result.propensity.coefficients) {
        let _ = write!(o, "<tr><td>{}</td><td class=\"num\">{c:.4}</td></tr>", escape(n));
    }
    let _ = write!(
        o,
        "</tbody></table><h3>Balance before and after matching</h3><p>Standardised mean difference (SMD; denominator: the pooled SD before matching) and variance ratio (participants / comparison). |SMD| below 0.1 and variance ratios between 0.5 and 2 are the usual marks of balance.</p><table><thead><tr><th>Covariate</th><th class=\"num\">Mean, participants</th><th class=\"num\">Mean, comparison: before → after</th><th class=\"num\">SMD: before → after</th><th class=\"num\">Variance ratio: before → after</th></tr></thead><tbody>"
    );
    for b in &m.balance {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{} → {}</td><td class=\"num\">{} → {}</td><td class=\"num\">{} → {}</td></tr>",
            escape(&b.covariate),
            f3(b.before.mean_t),
            f3(b.before.mean_c),
            f3(b.after.mean_c),
            f3(b.before.smd(b.pooled_sd)),
            f3(b.after.smd(b.pooled_sd)),
            f3(b.before.variance_ratio()),
            f3(b.after.variance_ratio())
        );
    }
    let chart =
        support_chart(m, "Propensity scores of participants and the comparison pool").map_err(ContractError::Write)?;
    let _ = write!(
        o,
        "</tbody></table><h3>Common support</h3><p>Score range (logit): participants {:.2} to {:.2}, comparison pool {:.2} to {:.2}. Participants outside the pool's range: {}; participants without a comparison within the caliper (left out of the estimate): {}. Matched pairs: {}.</p><figure>{chart}</figure>",
        m.range_t.0,
        m.range_t.1,
        m.range_c.0,
        m.range_c.1,
        count(p, m.outside_support),
        count(p, m.unmatched),
        count(p, m.result.pairs.len())
    );
    Ok(())
}

/// The pre-trend check and the event-time estimates.
fn did_section(
    o: &mut String,
    policy: &Policy,
    d: &crate::DidDetails,
    main: &crate::Estimate,
) -> Result<(), ContractError> {
    let p = policy;
    match &d.placebo {
        Some(p) => {
            let _ = write!(
                o,
                "<h3>Pre-trend check</h3><p>Placebo difference-in-differences inside the pre-period (its late half against its early half): {:+.3} (95% CI {:+.3} to {:+.3}), beside the effect estimate {:+.3} (95% CI {:+.3} to {:+.3}). {}</p>",
                p.estimate,
                p.ci_low,
                p.ci_high,
                main.estimate,
                main.ci_low,
                main.ci_high,
                placebo_verdict(p, main.estimate)
            );
        }
        None => {
            o.push_str("<h3>Pre-trend check</h3><p>The pre-period has one quarter: no placebo test is possible.</p>")
        }
    }
    let chart = event_chart(d, "Event-time estimates with 95% intervals").map_err(ContractError::Write)?;
    let _ = write!(
        o,
        "<h3>Event time</h3><p>Per quarter from the index quarter: the participants' mean minus the comparison mean, relative to the same difference in the last pre-period quarter, with a 95% interval (± 1.96 bootstrap standard errors).</p><figure>{chart}</figure><table><thead><tr><th class=\"num\">Quarter</th><th class=\"num\">Participants</th><th class=\"num\">Comparison</th><th class=\"num\">Estimate</th><th class=\"num\">95% CI</th></tr></thead><tbody>"
    );
    for r in &d.event_time {
        let _ = write!(
            o,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{} ({})</td><td class=\"num\">{} ({})</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            r.quarter,
            r.mean_treated.map(f3).unwrap_or_else(|| "–".into()),
            count(p, r.n_treated),
            r.mean_comparison.map(f3).unwrap_or_else(|| "–".into()),
            count(p, r.n_comparison),
            r.estimate.as_ref().map(|e| f3(e.estimate)).unwrap_or_else(|| "–".into()),
            r.estimate.as_ref().map(|e| format!("{} to {}", f3(e.ci_low), f3(e.ci_high))).unwrap_or_else(|| "–".into()),
        );
    }
    o.push_str("</tbody></table>");
    Ok(())
}

/// What a pre-period placebo says, never more: an interval that excludes 0
/// is evidence of differing trends; one that covers 0 but also holds a
/// difference as large as the estimated effect is inconclusive (failing to
/// reject is not evidence of parallel trends); only an interval around 0
/// narrower than the effect is reassuring, and then only at that size.
pub fn placebo_verdict(placebo: &crate::Estimate, main: f64) -> &'static str {
    let widest = placebo.ci_low.abs().max(placebo.ci_high.abs());
    if !placebo.covers(0.0) {
        "<strong>The interval excludes 0: the groups' trends differed before enrolment, and the parallel-trends assumption is in doubt.</strong>"
    } else if widest >= main.abs() {
        "<strong>Inconclusive:</strong> the interval covers 0 but also holds differences in trend as large as the effect estimated, so this check can neither support nor rule out parallel trends."
    } else {
        "The interval covers 0 and is narrower than the effect estimated: no sign of differing trends as large as the effect (which is not proof that the trends were parallel)."
    }
}

/// What the numbers mean and what they rest on.
fn definitions_section(o: &mut String, ev: &Evaluation) {
    let spec = &ev.spec;
    let _ = writeln!(
        o,
        "<h2>Definitions and limits</h2><ul>\
         <li>The target group, step by step over every date in the register (then the enrolment window keeps {} enrolments): {}. A comparison enrolment's outcomes are censored from the quarter its client later starts the service.</li>\
         <li>Outcomes count after enrolment (the service's start) and within {} months, up to the register's date {}. Payments are made in date order against the participant cap and then the total cap; an outcome outside every payment period is not paid.</li>\
         <li>{}</li>\
         <li>Specification <code>{}</code> (sha256 {}); register manifest sha256 {}.</li></ul></main>",
        count(&ev.policy, ev.enrolments.len()),
        ev.attrition
            .iter()
            .map(|(step, n)| format!("{} ({})", escape(step), count(&ev.policy, *n)))
            .collect::<Vec<_>>()
            .join("; "),
        spec.follow_up_months,
        ev.as_of,
        match spec.validation.method {
            Method::TwoGroupComparison =>
                "A two-group comparison adjusts for nothing: it estimates the effect only where taking part was decided at random; otherwise it mixes the effect with every difference between the groups.",
            Method::MatchedComparison =>
                "A matched comparison removes differences in the covariates the propensity model holds, not in anything the register does not record.",
            Method::DifferenceInDifferences =>
                "Difference-in-differences removes fixed differences between the groups; it assumes their outcomes would have moved in parallel without the service.",
            Method::PrePost =>
                "Pre-post compares participants with themselves: any change would also be counted without the service.",
            Method::HistoricalComparison =>
                "A historical comparison assumes nothing but the service changed since the historical cohort.",
        },
        escape(&spec.file),
        spec.sha256,
        ev.manifest_sha256
    );
}

/// Write everything `evaluate` produces into `dir`.
pub fn write_evaluation(dir: &Path, ev: &Evaluation) -> Result<(), ContractError> {
    std::fs::create_dir_all(dir).map_err(ContractError::io(dir))?;
    write_tables(dir, ev)?;
    let json = serde_json::to_string_pretty(&indigo(ev)).map_err(|e| ContractError::Write(e.to_string()))?;
    let path = dir.join("indigo.json");
    write_bytes_atomically(&path, json.as_bytes()).map_err(ContractError::io(&path))?;
    let path = dir.join("report.html");
    write_bytes_atomically(&path, html(ev)?.as_bytes()).map_err(ContractError::io(&path))?;
    Ok(())
}

/// How activity payments, savings and the investment enter the simulation,
/// with the mean of each kind of payment per scenario ("" where the spec has none).
fn simulation_money(spec: &Spec, sc: &[crate::simulate::Scenario]) -> String {
    let mut o = String::new();
    if !spec.activity_payments.is_empty() {
        o.push_str("<li>Activity payments: one per participant on enrolment; payments per month in service draw the months from the register's participants' own services.</li>");
    }
    if let Some(s) = &spec.savings {
        let _ = write!(
            o,
            "<li>Savings: the baseline histories' mean cost over the follow-up less the simulated participants' (their drawn histories' costs), times the participants, {:.0}% of it paid when the last participant's follow-up ends (on the estimate: a simulation has no interval to take a lower end of).</li>",
            s.share * 100.0
        );
    }
    if let Some(inv) = &spec.investment {
        let _ = write!(
            o,
            "<li>The investment: activity payments repay at most {:.0}% of the capital; {}.</li>",
            inv.guaranteed_share * 100.0,
            inv.return_cap
                .map(|r| format!("all payments together at most {:.0}% above it", r * 100.0))
                .unwrap_or_else(|| "no cap on the return".into())
        );
    }
    if o.is_empty() {
        return o;
    }
    o.push_str("<li>Expected payments by kind (outcomes / activity / savings): ");
    let rows: Vec<String> = sc
        .iter()
        .map(|x| {
            format!(
                "effect {:+.1}, take-up {:.0}%, {} months: {} / {} / {}",
                x.effect * 100.0,
                x.take_up * 100.0,
                x.follow_up_months,
                money(x.outcomes_mean),
                money(x.activity_mean),
                money(x.savings_mean)
            )
        })
        .collect();
    o.push_str(&escape(&rows.join("; ")));
    o.push_str(".</li>");
    o
}

fn simulation_chart(s: &Simulated, alt: &str) -> Result<String, String> {
    let sc = &s.scenarios;
    let top = sc.iter().map(|x| x.payments_p95.max(x.investment)).fold(0.0, f64::max) * 1.1 / 1e6;
    let (x0, x1) = padded(
        sc.iter().map(|x| x.effect).fold(f64::INFINITY, f64::min),
        sc.iter().map(|x| x.effect).fold(f64::NEG_INFINITY, f64::max),
    );
    let mut keys: Vec<(u32, u64)> = sc.iter().map(|x| (x.follow_up_months, (x.take_up * 1e6) as u64)).collect();
    keys.sort();
    keys.dedup();
    svg_image(680, 420, alt, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, 0.0..top.max(0.01))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("assumed effect (percentage points)")
            .y_desc("outcome payments (million)")
            .x_label_formatter(&|v| format!("{:+.0}", v * 100.0))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .draw()
            .map_err(plot_error)?;
        for (i, (f, t)) in keys.iter().enumerate() {
            let colour = PALETTE[i % 6];
            let rows: Vec<_> =
                sc.iter().filter(|x| x.follow_up_months == *f && (x.take_up * 1e6) as u64 == *t).collect();
            chart
                .draw_series(LineSeries::new(
                    rows.iter().map(|x| (x.effect, x.payments_mean / 1e6)),
                    colour.stroke_width(2),
                ))
                .map_err(plot_error)?
                .label(format!("{f} months, take-up {:.0}%", *t as f64 / 1e4))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
            chart
                .draw_series(rows.iter().map(|x| {
                    PathElement::new(
                        vec![(x.effect, x.payments_p05 / 1e6), (x.effect, x.payments_p95 / 1e6)],
                        colour.stroke_width(1),
                    )
                }))
                .map_err(plot_error)?;
            if let Some(r) = rows.first() {
                chart
                    .draw_series(DashedLineSeries::new(
                        [(x0, r.investment / 1e6), (x1, r.investment / 1e6)],
                        6,
                        4,
                        colour.stroke_width(1),
                    ))
                    .map_err(plot_error)?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// Write what `simulate` produces into `dir`.
pub fn write_simulation(dir: &Path, spec: &Spec, s: &Simulated) -> Result<(), ContractError> {
    std::fs::create_dir_all(dir).map_err(ContractError::io(dir))?;
    let sc = &s.scenarios;
    write(
        dir,
        "contract_simulation.parquet",
        frame(vec![
            Column::new("contract_id".into(), vec![spec.id.clone(); sc.len()]),
            Column::new("effect".into(), sc.iter().map(|x| x.effect).collect::<Vec<_>>()),
            Column::new("take_up".into(), sc.iter().map(|x| x.take_up).collect::<Vec<_>>()),
            Column::new("follow_up_months".into(), sc.iter().map(|x| x.follow_up_months).collect::<Vec<_>>()),
            Column::new("participants".into(), sc.iter().map(|x| x.participants as u64).collect::<Vec<_>>()),
            Column::new("baseline_share".into(), sc.iter().map(|x| x.baseline_share).collect::<Vec<_>>()),
            Column::new("investment".into(), sc.iter().map(|x| x.investment).collect::<Vec<_>>()),
            Column::new("payments_mean".into(), sc.iter().map(|x| x.payments_mean).collect::<Vec<_>>()),
            Column::new("payments_p05".into(), sc.iter().map(|x| x.payments_p05).collect::<Vec<_>>()),
            Column::new("payments_p95".into(), sc.iter().map(|x| x.payments_p95).collect::<Vec<_>>()),
            Column::new("multiple_mean".into(), sc.iter().map(|x| x.multiple_mean).collect::<Vec<_>>()),
            Column::new("irr".into(), sc.iter().map(|x| x.irr).collect::<Vec<_>>()),
            Column::new("probability_of_loss".into(), sc.iter().map(|x| x.probability_of_loss).collect::<Vec<_>>()),
            Column::new("outcomes_mean".into(), sc.iter().map(|x| x.outcomes_mean).collect::<Vec<_>>()),
            Column::new("activity_mean".into(), sc.iter().map(|x| x.activity_mean).collect::<Vec<_>>()),
            Column::new("savings_mean".into(), sc.iter().map(|x| x.savings_mean).collect::<Vec<_>>()),
        ])?,
    )?;
    let cur = &spec.pricing.currency;
    let sim = spec.simulation.as_ref().expect("checked by simulate");
    let mut o = String::new();
    let chart = simulation_chart(s, "Expected outcome payments by assumed effect").map_err(ContractError::Write)?;
    let _ = write!(
        o,
        "<main><h1>Simulation: {t}</h1><p class=\"summary\">Before signing: outcome payments and investor return under assumed effects, take-up and follow-up windows. {} enrolments of the target group in the enrolment window; the investor funds {} {cur} per participant at enrolment. Each scenario: {} simulated contracts (seed {}). Lines: expected payments; whiskers: 5th to 95th percentile; dashed: the investment.</p><figure>{chart}</figure>\
         <table><thead><tr><th class=\"num\">Effect (points)</th><th class=\"num\">Take-up</th><th class=\"num\">Follow-up (months)</th><th class=\"num\">Participants</th><th class=\"num\">Baseline share</th><th class=\"num\">Investment</th><th class=\"num\">Expected payments</th><th class=\"num\">5th–95th percentile</th><th class=\"num\">Multiple</th><th class=\"num\">IRR (annual)</th><th class=\"num\">P(loss)</th></tr></thead><tbody>",
        count(&s.policy, s.eligible),
        money(sim.investment_per_participant),
        sim.replications,
        sim.seed,
        t = escape(&spec.title),
    );
    for x in sc {
        let _ = write!(
            o,
            "<tr><td class=\"num\">{:+.1}</td><td class=\"num\">{:.0}%</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}%</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} – {}</td><td class=\"num\">{:.2}</td><td class=\"num\">{}</td><td class=\"num\">{:.0}%</td></tr>",
            x.effect * 100.0,
            x.take_up * 100.0,
            x.follow_up_months,
            x.participants,
            x.baseline_share * 100.0,
            money(x.investment),
            money(x.payments_mean),
            money(x.payments_p05),
            money(x.payments_p95),
            x.multiple_mean,
            x.irr.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "–".into()),
            x.probability_of_loss * 100.0
        );
    }
    let hist: Vec<String> =
        s.histories.iter().map(|(f, n)| format!("{} with {f} months observed", count(&s.policy, *n))).collect();
    let _ = writeln!(
        o,
        "</tbody></table><h2>How it is computed</h2><ul><li>Baseline histories: {}. A simulated participant draws one history; an assumed effect of d points turns a history that does not achieve <code>{}</code> into one that does with probability d / (1 − baseline share), keeping real timings and sustainment.</li><li>Participants = take-up × the enrolments in the enrolment window, each enrolling on a uniformly drawn day of the window; every outcome within the follow-up is payable, subject to the caps ({} {cur} per participant, {} {cur} in total).</li>{money}<li>Specification <code>{}</code> (sha256 {}); register as of {}, manifest sha256 {}.</li></ul></main>",
        match sim.histories {
            crate::spec::Histories::Comparison =>
                format!("target-group enrolments in the register that did not take part ({})", hist.join(", ")),
            crate::spec::Histories::Participants => format!(
                "the register's participants, from their service start ({}); an assumed effect adds to what they achieved, so effect 0 is the participants' own record, not the contract without the service",
                hist.join(", ")
            ),
        },
        escape(&spec.outcome_metrics[sim.metric_index(spec)].id),
        money(spec.pricing.cap_per_participant),
        money(spec.pricing.cap_total),
        escape(&spec.file),
        spec.sha256,
        s.as_of,
        s.manifest_sha256,
        money = simulation_money(spec, sc),
    );
    let title = format!("Simulation: {}", spec.title);
    let page = Page { lang: "en", title: &title, extra_style: "" }.render(&o);
    let path = dir.join("simulation.html");
    write_bytes_atomically(&path, page.as_bytes()).map_err(ContractError::io(&path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(estimate: f64, low: f64, high: f64) -> crate::Estimate {
        crate::Estimate { estimate, ci_low: low, ci_high: high, se: 0.0, percentile_low: low, percentile_high: high }
    }

    #[test]
    fn a_placebo_that_cannot_reject_is_not_evidence_of_parallel_trends() {
        // Covers 0 but would hold the whole effect of 0.10: inconclusive.
        assert!(placebo_verdict(&interval(0.01, -0.08, 0.12), 0.10).starts_with("<strong>Inconclusive"));
        // Covers 0 and is narrower than the effect.
        assert!(
            placebo_verdict(&interval(0.0, -0.02, 0.03), 0.10).starts_with("The interval covers 0 and is narrower")
        );
        // Excludes 0.
        assert!(placebo_verdict(&interval(0.05, 0.01, 0.09), 0.10).contains("excludes 0"));
        for v in ["no evidence that", "parallel trends hold"] {
            assert!(!placebo_verdict(&interval(0.0, -0.2, 0.2), 0.1).contains(v));
        }
    }
}
