//! `utfall model train | score | explain`: the optional risk model.

use std::path::PathBuf;

use clap::Subcommand;
use utfall_risk::score::{explain, score};
use utfall_risk::spec::Spec;
use utfall_risk::{Artefact, TrainOptions, train};

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Train a model from its specification on the current register; write its
    /// versioned artefact, evaluation tables and model card to OUT/VERSION/.
    Train {
        /// The model specification (TOML), e.g. models/risk/specs/rereferral_12m.toml.
        #[arg(long)]
        spec: PathBuf,
        /// Register path (made by `utfall build` or `utfall demo`).
        #[arg(long, env = "UTFALL_REGISTER")]
        register: PathBuf,
        /// Folder of model artefacts; each training writes OUT/NAME-vVERSION-HASH/.
        #[arg(long, default_value = "model-artefacts")]
        out: PathBuf,
        /// Also write design.parquet: the standardised training and test design
        /// matrices with labels (row-level data: keep it with the register).
        #[arg(long)]
        export_design: bool,
        /// Disclosure threshold of the model card: counts below it are
        /// withheld (default: the threshold the register's indicators use).
        #[arg(long)]
        threshold: Option<u32>,
        /// Train although the training or test set is below the spec's minimums
        /// (split.min_rows, min_class, max_prevalence_gap); the card then warns at its top.
        #[arg(long)]
        allow_weak_split: bool,
    },
    /// Score the current population (outcome not yet known) and write the
    /// scores, score_drift and score_overrides tables into a new build of the register.
    Score {
        /// The artefact folder (or its model.json).
        #[arg(long)]
        model: PathBuf,
        #[arg(long, env = "UTFALL_REGISTER")]
        register: PathBuf,
    },
    /// Show how one client's current score is made up, feature by feature.
    Explain {
        #[arg(long)]
        model: PathBuf,
        #[arg(long, env = "UTFALL_REGISTER")]
        register: PathBuf,
        /// The client's pseudonymous id (client_id in the register).
        #[arg(long)]
        client: String,
    },
}

fn ci(v: f64, lo: f64, hi: f64) -> String {
    format!("{v:.3} (95% CI {lo:.3} to {hi:.3})")
}

pub fn run(command: ModelCommand, quiet: bool) -> anyhow::Result<()> {
    match command {
        ModelCommand::Train { spec, register, out, export_design, threshold, allow_weak_split } => {
            // The register's local columns, which the spec's definitions may read.
            utfall_register::store::install_schema(&register);
            let spec = Spec::load(&spec).map_err(utfall_risk::ModelError::from)?;
            let t = train(&spec, &register, &out, &TrainOptions { export_design, threshold, allow_weak_split })?;
            let e = &t.evaluation;
            let h = &t.artefact.headline;
            let s = &t.artefact.split;
            if !quiet {
                println!("model {}", t.artefact.version);
                println!(
                    "  split: {} training rows ({} households), {} test rows ({} households) from {}; no household on both sides",
                    s.train_rows, s.train_households, s.test_rows, s.test_households, s.test_from
                );
                println!("  test AUC {}", ci(h.auc, h.auc_low, h.auc_high));
                println!("  Brier {}", ci(e.brier.value, e.brier.low, e.brier.high));
                if let Some(sl) = e.slope {
                    println!("  calibration slope {}", ci(sl.value, sl.low, sl.high));
                }
                println!(
                    "  expected calibration error {:.3}; observed {:.1}%, mean predicted {:.1}%",
                    e.ece,
                    100.0 * e.observed,
                    100.0 * e.mean_predicted
                );
                println!("  model card: {}", t.dir.join("model_card.html").display());
            }
            println!("{}", t.dir.display());
        }
        ModelCommand::Score { model, register } => {
            utfall_register::store::install_schema(&register);
            let a = Artefact::read(&model)?;
            let r = score(&a, &register)?;
            for w in &r.warnings {
                eprintln!("warning: {w}");
            }
            if !quiet {
                println!(
                    "scored {} rows with {}: {} low, {} medium, {} high (advisory: a person decides)",
                    r.rows, a.version, r.bands[0], r.bands[1], r.bands[2]
                );
                println!("  model trained on build {} (as of {})", a.register_build, a.register_as_of);
                let worst = r.drift.iter().max_by(|x, y| x.1.total_cmp(&y.1));
                if let Some((v, psi, status)) = worst {
                    println!("  drift: largest PSI {psi:.3} ({v}, {status}); every variable in score_drift");
                }
                println!("  tables scores, score_drift, score_overrides in {}", r.build_dir.display());
            }
        }
        ModelCommand::Explain { model, register, client } => {
            utfall_register::store::install_schema(&register);
            let a = Artefact::read(&model)?;
            for e in explain(&a, &register, &client)? {
                println!(
                    "{} (case {}, unit {}, predicted at {}): score {:.3}, band {} [{}]",
                    e.row_id, e.case_id, e.unit, e.at, e.score, e.band, a.version
                );
                println!(
                    "  contributions in {} against the training average ({} {:.3}):",
                    e.unit_name,
                    if e.unit_name == "log-odds" { "intercept" } else { "root probability" },
                    e.baseline
                );
                println!("  {:<40} {:>10} {:>12}", "feature", "value", "contribution");
                for (name, value, c) in e.contributions.iter().filter(|c| c.2 != 0.0) {
                    let value = value.map_or("missing".to_string(), |v| format!("{v:.3}"));
                    println!("  {name:<40} {value:>10} {c:>+12.3}");
                }
            }
            println!(
                "Advisory: the score ranks, a person decides; it says nothing about what an intervention would do."
            );
        }
    }
    Ok(())
}
