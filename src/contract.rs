//! `utfall contract evaluate | simulate`: outcome-contract studies.

use std::path::PathBuf;

use clap::Subcommand;
use utfall_contracts::spec::Spec;
use utfall_contracts::{ContractError, evaluate, report, simulate};

#[derive(Subcommand)]
pub enum ContractCommand {
    /// Evaluate a contract on the current register: outcomes achieved per
    /// participant, payments per period against the caps, and the effect
    /// estimate of its validation method with a 95% bootstrap interval.
    /// Writes Parquet tables, indigo.json and report.html to OUT.
    Evaluate {
        /// The contract specification (TOML), e.g. contracts/jobbsteget.toml.
        spec: PathBuf,
        /// Register path (made by `utfall build` or `utfall demo`).
        #[arg(long, env = "UTFALL_REGISTER")]
        register: PathBuf,
        /// Output folder.
        #[arg(long, default_value = "contract-results")]
        out: PathBuf,
        /// Override the specification's number of bootstrap replicates.
        #[arg(long)]
        bootstrap: Option<usize>,
        /// Override the specification's validation method: matched_comparison,
        /// difference_in_differences, two_group_comparison, pre_post or historical_comparison.
        #[arg(long)]
        method: Option<String>,
        /// Override the specification's bootstrap seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Disclosure threshold of the report (default: the register's; it can be raised, not lowered).
        #[arg(long)]
        threshold: Option<u32>,
    },
    /// Before signing: payments and investor return under the specification's
    /// assumed effects, take-up and follow-up windows (table and chart in OUT).
    Simulate {
        spec: PathBuf,
        #[arg(long, env = "UTFALL_REGISTER")]
        register: PathBuf,
        #[arg(long, default_value = "contract-simulation")]
        out: PathBuf,
        /// Disclosure threshold of the report (default: the register's; it can be raised, not lowered).
        #[arg(long)]
        threshold: Option<u32>,
    },
}

pub fn run(command: ContractCommand, quiet: bool) -> anyhow::Result<()> {
    match command {
        ContractCommand::Evaluate { spec, register, out, bootstrap, method, seed, threshold } => {
            let mut overrides = Vec::new();
            if let Some(b) = bootstrap {
                overrides.push(("bootstrap_replicates", toml::Value::Integer(b as i64)));
            }
            if let Some(m) = method {
                overrides.push(("method", toml::Value::String(m)));
            }
            if let Some(x) = seed {
                overrides.push(("seed", toml::Value::Integer(x as i64)));
            }
            utfall_register::store::install_schema(&register);
            let spec = Spec::read_with(&spec, &overrides).map_err(ContractError::from)?;
            let ev = evaluate(&spec, &register, threshold)?;
            report::write_evaluation(&out, &ev)?;
            if !quiet {
                let e = &ev.effect;
                let paid: f64 = ev.lines.iter().map(|l| l.paid).sum();
                let cur = &spec.pricing.currency;
                println!(
                    "contract {}: {} enrolments in the target group, {} participants, {} outcomes achieved, {:.0} {cur} paid for outcomes",
                    spec.id,
                    ev.enrolments.len(),
                    ev.participants.len(),
                    ev.achievements.len(),
                    paid,
                );
                if !ev.activity.is_empty() {
                    let paid: f64 = ev.activity.iter().map(|l| l.paid).sum();
                    println!("  activity: {} payments earned, {paid:.0} {cur} paid", ev.activity.len());
                }
                if let Some(s) = &ev.savings {
                    let e = &s.per_participant;
                    println!(
                        "  savings: {:.0} {cur} per participant (95% CI {:.0} to {:.0}), {} participants vs {} comparisons over the whole follow-up; {:.0} {cur} payable on {}",
                        e.estimate, e.ci_low, e.ci_high, s.n_treated, s.n_comparison, s.payable, s.settled
                    );
                }
                if let Some(st) = &ev.statement {
                    println!(
                        "  investor: {:.0} {cur} repaid of {:.0} {cur} capital ({:.2} times){}",
                        st.repaid,
                        st.capital,
                        st.multiple,
                        st.ceiling.map(|c| format!(", at most {c:.0} {cur} under the return cap")).unwrap_or_default()
                    );
                }
                if let Some(t) = &e.two_group {
                    println!(
                        "  two-group comparison (unadjusted): {:+.4} (95% CI {:+.4} to {:+.4})",
                        t.estimate, t.ci_low, t.ci_high
                    );
                }
                println!(
                    "  {}: {:+.4} (95% CI {:+.4} to {:+.4}), {} participants vs {} comparisons, {} of {} bootstrap replicates gave an estimate",
                    e.method.name(),
                    e.estimate.estimate,
                    e.estimate.ci_low,
                    e.estimate.ci_high,
                    e.n_treated,
                    e.n_comparison,
                    e.replicates,
                    e.replicates_requested
                );
                for (reason, n) in &e.replicate_failures {
                    println!("  {n} replicates gave no estimate: {reason}");
                }
                println!("  wrote {}", out.join("report.html").display());
            }
        }
        ContractCommand::Simulate { spec, register, out, threshold } => {
            utfall_register::store::install_schema(&register);
            let spec = Spec::read(&spec).map_err(ContractError::from)?;
            let s = simulate::simulate(&spec, &register, threshold)?;
            report::write_simulation(&out, &spec, &s)?;
            if !quiet {
                println!("effect  take-up  follow-up  participants  investment  expected payments  multiple  P(loss)");
                for x in &s.scenarios {
                    println!(
                        "{:+6.2}  {:7.2}  {:9}  {:12}  {:10.0}  {:17.0}  {:8.2}  {:6.1}%",
                        x.effect,
                        x.take_up,
                        x.follow_up_months,
                        x.participants,
                        x.investment,
                        x.payments_mean,
                        x.multiple_mean,
                        x.probability_of_loss * 100.0
                    );
                }
                println!("  wrote {}", out.join("simulation.html").display());
            }
        }
    }
    Ok(())
}
