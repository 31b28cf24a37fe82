//! The `utfall` command. Exit codes: 0 ok, 1 failure, 2 bad input or usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use utfall_indicators::{Catalogue, IndicatorError, Targets};
use utfall_ingest::{BuildError, BuildOptions, Key, Progress, SourceSpec};

mod analyst;
mod contract;
mod model;

/// mimalloc returns memory to the system more readily than glibc's per-thread
/// arenas under polars' thread pool (lower peak memory; see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "utfall", version, about = "Client-outcome analytics for municipal social services", long_about = None)]
struct Cli {
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything on a built-in synthetic municipality into one folder.
    Demo {
        /// Output folder (exports, truth, key and register go here).
        #[arg(long, default_value = "utfall-demo")]
        out: PathBuf,
        /// Number of synthetic clients.
        #[arg(long, default_value_t = 20_000)]
        clients: usize,
        /// Share of export rows with an injected fault, to show the quarantine.
        #[arg(long, default_value_t = 0.01)]
        dirty_rate: f64,
        /// Disclosure threshold (default: the catalogue's, 5).
        #[arg(long)]
        threshold: Option<u32>,
    },
    /// Write a seeded synthetic municipality: exports, mapping file and ground truth.
    Synth {
        /// Output folder; `exports/` and `truth/` are written in it.
        #[arg(long)]
        out: PathBuf,
        /// Number of clients.
        #[arg(long, default_value_t = 20_000)]
        clients: usize,
        /// Random seed: the same seed and size give identical files.
        #[arg(long, default_value_t = 2021)]
        seed: u64,
        /// Share of rows with one injected fault (bad check digit, dates out of
        /// order, unknown code, duplicate, missing value, wrong encoding, ...).
        #[arg(long, default_value_t = 0.0)]
        dirty_rate: f64,
        /// Also write the exports as three source systems' monthly deliveries
        /// (`sources/`: an initial load and 24 months, with late rows,
        /// corrections, withdrawals and one re-delivered month).
        #[arg(long)]
        deliveries: bool,
    },
    /// Build the register from exports: validate, pseudonymise, merge deliveries, publish atomically.
    Build {
        /// A source system's folder, with its mapping file (DIR/mapping.toml):
        /// its export files, or one sub-folder per delivery (docs/exchange-format.md).
        /// Repeat for several sources; an id two sources deliver is kept from the first.
        #[arg(long, value_name = "NAME=DIR", value_parser = parse_source, required_unless_present = "input")]
        source: Vec<SourceSpec>,
        /// One source's folder (named `main`), instead of --source.
        #[arg(long, conflicts_with = "source")]
        input: Option<PathBuf>,
        /// Mapping file (TOML) of --input; default: INPUT/mapping.toml.
        #[arg(long, requires = "input")]
        mapping: Option<PathBuf>,
        /// Read every delivery again, even those the current register already holds.
        #[arg(long)]
        full: bool,
        /// Pseudonymisation key file (made by `utfall key new`).
        #[arg(long)]
        key: PathBuf,
        /// Register path; replaced atomically, the previous build is kept for rollback.
        #[arg(long)]
        register: PathBuf,
        /// Reference date of the exports (YYYY-MM-DD); default today.
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        #[command(flatten)]
        indicators: IndicatorArgs,
        /// Build the register only; compute no indicators.
        #[arg(long)]
        no_indicators: bool,
    },
    /// Compute baselines, indicators, disclosure control and target status into the register.
    Indicators {
        /// Register path (made by `utfall build`); a new build with the derived tables replaces it atomically.
        #[arg(long)]
        register: PathBuf,
        #[command(flatten)]
        indicators: IndicatorArgs,
    },
    /// Run one read-only SQL query (or a named query) over the register.
    Query(analyst::QueryArgs),
    /// Interactive read-only SQL shell over the register (history, completion, `\d TABLE`).
    Sql(analyst::ShellArgs),
    /// Run report notebooks (Markdown with SQL and chart cells) into self-contained HTML.
    Notebook {
        #[command(subcommand)]
        command: analyst::NotebookCommand,
    },
    /// Write the managers' dashboard: self-contained HTML pages (targets, trends, funnel plots).
    Dashboard(DashboardArgs),
    /// Build a cohort from its definition (an entry event, criteria, variables
    /// and outcomes in windows around each index date: docs/definitions.md) and
    /// write its members with their variables as Parquet. Row-level and
    /// pseudonymous: for analysts and evaluators, not managers.
    Cohort {
        /// The cohort definition (TOML).
        spec: PathBuf,
        /// Register path (made by `utfall build` or `utfall demo`).
        #[arg(long, env = "UTFALL_REGISTER")]
        register: PathBuf,
        /// The Parquet file to write (client_id, index_date, then every variable and outcome).
        #[arg(long)]
        out: PathBuf,
    },
    /// The optional risk model: train (with its model card), score, explain.
    Model {
        #[command(subcommand)]
        command: model::ModelCommand,
    },
    /// Outcome-contract studies (social impact bonds): evaluate, simulate.
    Contract {
        #[command(subcommand)]
        command: contract::ContractCommand,
    },
    /// Manage the pseudonymisation key.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(clap::Args, Clone, Default)]
struct IndicatorArgs {
    /// Indicator catalogue (TOML); default: the built-in one (pipelines/indicators/catalogue.toml).
    #[arg(long)]
    catalogue: Option<PathBuf>,
    /// Targets file (TOML) of client-centred targets per unit.
    #[arg(long)]
    targets: Option<PathBuf>,
    /// Disclosure threshold: counts below it are withheld from managers
    /// (overrides the catalogue's `settings.threshold`; recorded in the manifest).
    #[arg(long)]
    threshold: Option<u32>,
}

impl IndicatorArgs {
    fn load(&self) -> anyhow::Result<(Catalogue, Targets)> {
        let cat = match &self.catalogue {
            Some(p) => Catalogue::load(p).map_err(|e| BadUsage(e.to_string()))?,
            None => Catalogue::builtin(),
        };
        let cat = match self.threshold {
            Some(t) => cat.with_threshold(t).map_err(|e| BadUsage(e.to_string()))?,
            None => cat,
        };
        let targets = match &self.targets {
            Some(p) => Targets::load(p, &cat).map_err(|e| BadUsage(e.to_string()))?,
            None => Targets::default(),
        };
        Ok((cat, targets))
    }
}

#[derive(clap::Args)]
struct DashboardArgs {
    /// Register path (built with indicators).
    #[arg(long, env = "UTFALL_REGISTER")]
    register: PathBuf,
    #[command(flatten)]
    limits: analyst::LimitArgs,
    /// Output folder: index.html (every unit), and with --per-unit one page per unit.
    #[arg(long)]
    out: PathBuf,
    /// Also write one page per unit holding only that unit's figures and the
    /// municipality's aggregates (enheter/UNIT.html), to hand to each unit manager.
    #[arg(long)]
    per_unit: bool,
    /// Language of the labels: sv (default) or en.
    #[arg(long, default_value = "sv", value_parser = ["sv", "en"])]
    lang: String,
    /// Dashboard specification (TOML); default: the built-in one (dashboards/default.toml).
    #[arg(long)]
    spec: Option<PathBuf>,
}

impl DashboardArgs {
    fn options(&self) -> anyhow::Result<utfall_dashboards::Options> {
        let spec = match &self.spec {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| BadUsage(format!("cannot read {}: {e}", p.display())))?;
                utfall_dashboards::Spec::parse(&text, &p.display().to_string())?
            }
            None => utfall_dashboards::Spec::builtin(),
        };
        let lang = utfall_dashboards::Lang::parse(&self.lang).expect("clap checked the language");
        Ok(utfall_dashboards::Options { spec, lang, per_unit: self.per_unit })
    }
}

/// `utfall dashboard`: render every page, then write each atomically.
fn dashboard(args: &DashboardArgs, quiet: bool) -> anyhow::Result<PathBuf> {
    let options = args.options()?;
    let session = args.limits.open(&args.register)?;
    let written = utfall_dashboards::write(&session, &args.out, &options)?;
    if !quiet {
        println!("dashboard: {}", written.index.display());
        if let Some((_, first)) = written.units.first() {
            println!(
                "  {} unit pages (each only its unit's figures and the municipality's): {}/",
                written.units.len(),
                first.parent().unwrap_or(Path::new(".")).display()
            );
        }
    }
    Ok(written.index)
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a new random key file (readable by its owner only; never overwritten).
    New {
        /// Where to write the key. Keep it apart from the register and back it up:
        /// without it, next month's register cannot be linked to this one.
        #[arg(long)]
        out: PathBuf,
    },
}

/// A reader that goes away (`utfall query --list | head -1`) ends the command
/// quietly and successfully, as with other Unix tools: printing to a closed
/// pipe is the end of the output, not a crash. Any other panic is reported
/// as before.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("UTFALL_LOG"))
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e
                .downcast_ref::<BuildError>()
                .map(BuildError::exit_code)
                .or_else(|| e.downcast_ref::<BadUsage>().map(|_| 2))
                .or_else(|| e.downcast_ref::<IndicatorError>().map(IndicatorError::exit_code))
                .or_else(|| e.downcast_ref::<utfall_queries::QueryError>().map(utfall_queries::QueryError::exit_code))
                .or_else(|| {
                    e.downcast_ref::<utfall_notebooks::NotebookError>().map(utfall_notebooks::NotebookError::exit_code)
                })
                .or_else(|| e.downcast_ref::<utfall_risk::ModelError>().map(utfall_risk::ModelError::exit_code))
                .or_else(|| {
                    e.downcast_ref::<utfall_contracts::ContractError>().map(utfall_contracts::ContractError::exit_code)
                })
                .or_else(|| {
                    e.downcast_ref::<utfall_dashboards::DashboardError>()
                        .map(utfall_dashboards::DashboardError::exit_code)
                })
                .unwrap_or(1);
            eprintln!("error: {e:#}");
            ExitCode::from(code as u8)
        }
    }
}

/// A usage error found after argument parsing (exit code 2).
#[derive(Debug)]
struct BadUsage(String);

impl std::error::Error for BadUsage {}

impl std::fmt::Display for BadUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_source(arg: &str) -> Result<SourceSpec, String> {
    SourceSpec::parse(arg)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Synth { out, clients, seed, dirty_rate, deliveries } => {
            let summary = synth(&out, clients, seed, dirty_rate, quiet)?;
            if deliveries {
                let d = utfall_synth::generate_deliveries(&summary, seed)?;
                if !quiet {
                    println!(
                        "  sources: {} ({} deliveries, {} rows; {} late, {} corrected, {} withdrawn)",
                        d.dir.display(),
                        d.deliveries,
                        d.rows,
                        d.late,
                        d.corrected,
                        d.withdrawn
                    );
                }
            }
        }
        Command::Key { command: KeyCommand::New { out } } => {
            let key = Key::create(&out)?;
            if !quiet {
                println!(
                    "wrote key {} to {}\nKeep it safe and apart from the register: it links pseudonyms across builds.",
                    key.id(),
                    out.display()
                );
            }
        }
        Command::Build { source, input, mapping, full, key, register, as_of, indicators, no_indicators } => {
            // Read the catalogue and targets first: a bad file fails before the build.
            let defs = if no_indicators { None } else { Some(indicators.load()?) };
            let defs = defs.as_ref().map(|(c, t)| (c, t));
            let mut opts = match input {
                Some(input) => {
                    let mapping = mapping.unwrap_or_else(|| input.join("mapping.toml"));
                    BuildOptions::single(&input, &mapping, &key, &register, as_of)
                }
                None => BuildOptions { sources: source, key, register, as_of, full: false },
            };
            opts.full = full;
            build(&opts, defs, quiet)?;
        }
        Command::Indicators { register, indicators } => {
            let (cat, targets) = indicators.load()?;
            compute_indicators(&register, &cat, &targets, quiet)?;
        }
        Command::Demo { out, clients, dirty_rate, threshold } => demo(&out, clients, dirty_rate, threshold, quiet)?,
        Command::Query(args) => analyst::query(args)?,
        Command::Sql(args) => analyst::shell(args)?,
        Command::Notebook { command } => analyst::notebook(command, quiet)?,
        Command::Model { command } => model::run(command, quiet)?,
        Command::Contract { command } => contract::run(command, quiet)?,
        Command::Dashboard(args) => {
            dashboard(&args, quiet)?;
        }
        Command::Cohort { spec, register, out } => cohort(&spec, &register, &out, quiet)?,
    }
    Ok(())
}

fn cohort(spec: &Path, register: &Path, out: &Path, quiet: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(spec).map_err(|e| BadUsage(format!("cannot read {}: {e}", spec.display())))?;
    utfall_register::store::install_schema(register);
    let cohort = utfall_definitions::CohortSpec::parse(&text)
        .and_then(|s| s.check())
        .map_err(|e| BadUsage(format!("{}: {e}", spec.display())))?;
    let build = utfall_register::store::CurrentBuild::open(register).map_err(|e| BadUsage(e.to_string()))?;
    let mut members = cohort.build(&build.dir, build.as_of)?;
    members.write(out).with_context(|| format!("writing {}", out.display()))?;
    if !quiet {
        println!("cohort: {}", spec.display());
        for (step, left) in &members.attrition {
            println!("  {left:>9}  {step}");
        }
        println!("wrote {} members to {}", members.frame.height(), out.display());
    }
    Ok(())
}

fn synth(out: &Path, clients: usize, seed: u64, dirty_rate: f64, quiet: bool) -> anyhow::Result<utfall_synth::Summary> {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(clients as u64) };
    bar.set_style(ProgressStyle::with_template("synth   {bar:40} {pos}/{len} clients ({eta})").expect("template"));
    let cfg = utfall_synth::Config { clients, seed, dirty_rate };
    let summary = utfall_synth::generate(&cfg, out, &mut |n| bar.set_position(n)).map_err(|e| match e {
        utfall_synth::SynthError::Config(m) => anyhow::Error::new(BadUsage(m)),
        other => anyhow::Error::new(other),
    })?;
    bar.finish_and_clear();
    if !quiet {
        let rows: u64 = summary.files.iter().map(|f| f.2).sum();
        println!("synth: {} clients, {} export rows, {} injected faults", summary.clients, rows, summary.faults);
        println!(
            "  exports: {}\n  mapping: {}\n  truth:   {}",
            summary.exports.display(),
            summary.mapping.display(),
            summary.truth.display()
        );
    }
    Ok(summary)
}

/// Build the register and, with a catalogue, its indicators, into one build
/// published atomically: a failure at any step leaves the previous register.
fn build(
    opts: &BuildOptions,
    indicators: Option<(&Catalogue, &Targets)>,
    quiet: bool,
) -> anyhow::Result<utfall_ingest::BuildReport> {
    let spinner = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner.set_message("reading and validating exports");
    let progress = |p| match p {
        Progress::Read { file, rows } => spinner.println(format!("  read {file}: {rows} rows")),
        Progress::Stage(s) => spinner.set_message(s),
    };
    let report = (|| -> anyhow::Result<(utfall_ingest::BuildReport, Vec<String>)> {
        let mut staged = utfall_ingest::stage(opts, &progress)?;
        let mut warnings = Vec::new();
        if let Some((cat, targets)) = indicators {
            spinner.set_message("computing indicators");
            let (dir, based_on) = (staged.dir().to_path_buf(), staged.manifest.build_id.clone());
            let previous = utfall_register::Store::new(&opts.register).ok().and_then(|s| s.current());
            warnings = utfall_indicators::compute_into(
                &dir,
                &mut staged.manifest,
                based_on,
                cat,
                targets,
                previous.as_deref(),
            )?;
        }
        spinner.set_message("publishing");
        Ok((staged.publish()?, warnings))
    })();
    spinner.finish_and_clear();
    let (report, warnings) = report?;
    if !quiet {
        let m = &report.manifest;
        println!("register: {} (build {}, {:.1} s)", opts.register.display(), m.build_id, m.build_seconds);
        if m.sources.iter().any(|s| s.deliveries.iter().any(|d| d.period.is_some())) {
            for src in &m.sources {
                let last = src.deliveries.iter().filter(|d| !d.replaced).filter_map(|d| d.period.clone()).max();
                println!(
                    "  source {}: {} deliveries (latest period {})",
                    src.name,
                    src.deliveries.len(),
                    last.unwrap_or_else(|| "-".into())
                );
            }
        }
        println!(
            "  {:<14} {:>10} {:>10} {:>9} {:>7} {:>10}",
            "table", "rows in", "accepted", "rejected", "merged", "superseded"
        );
        for (t, c) in &m.tables {
            let note = if c.supplied { "" } else { "  (no export mapped)" };
            println!(
                "  {t:<14} {:>10} {:>10} {:>9} {:>7} {:>10}{note}",
                c.rows_in, c.accepted, c.rejected, c.merged, c.superseded
            );
        }
        println!("  quarantine: {} rows ({}/quarantine.parquet)", m.quarantine_rows, opts.register.display());
    }
    for w in &report.manifest.warnings {
        eprintln!("warning: {w}");
    }
    print_indicators(&report.manifest, &warnings, quiet);
    Ok(report)
}

/// `utfall indicators`: the derived tables of the current register, in a new build.
fn compute_indicators(register: &Path, cat: &Catalogue, targets: &Targets, quiet: bool) -> anyhow::Result<()> {
    let spinner = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner.set_message("computing indicators");
    let report = utfall_indicators::run(register, cat, targets);
    spinner.finish_and_clear();
    let report = report?;
    print_indicators(&report.manifest, &report.warnings, quiet);
    Ok(())
}

fn print_indicators(manifest: &utfall_register::Manifest, warnings: &[String], quiet: bool) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let Some(run) = manifest.indicators.as_ref().filter(|_| !quiet) else { return };
    println!(
        "indicators: catalogue {} ({} definitions), {:.1} s",
        run.catalogue_version,
        run.definitions.len(),
        run.seconds
    );
    for (t, rows) in &run.tables {
        println!("  {t:<18} {rows:>9} rows");
    }
    println!(
        "  disclosure control (counts below {}): {} cells suppressed, {} more to protect them",
        run.threshold, run.suppressed_primary, run.suppressed_complementary
    );
    let a = &run.audit;
    println!(
        "  attacker's audit: {} sensitive counts, none narrower than {} ({} linear programs, {} rounds, {} figures more withheld)",
        a.sensitive, run.threshold, a.programs, a.rounds, a.repaired
    );
}

fn demo(out: &Path, clients: usize, dirty_rate: f64, threshold: Option<u32>, quiet: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let summary = synth(out, clients, 2021, dirty_rate, quiet)?;
    let sources = utfall_synth::generate_deliveries(&summary, 2021)?;
    let key = out.join("demo.key");
    if !key.exists() {
        Key::create(&key)?;
    }
    let register = out.join("register");
    // Three source systems with monthly deliveries; the register is built as
    // they arrived: first everything that had arrived by the end of 2025,
    // then the December deliveries and the re-delivered June of 2024, which
    // revises published figures.
    let specs = utfall_synth::deliveries::SOURCES
        .iter()
        .map(|s| SourceSpec::new(s.0, &sources.dir.join(s.0), None).map_err(BadUsage))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = BuildOptions {
        sources: specs,
        key,
        register: register.clone(),
        as_of: Some(utfall_synth::as_of()),
        full: false,
    };
    let later = utfall_synth::deliveries::arrived_after(&sources.dir, utfall_synth::as_of())?;
    let targets_path = out.join("targets.toml");
    std::fs::write(&targets_path, utfall_indicators::targets::DEMO_TARGETS)
        .with_context(|| format!("writing {}", targets_path.display()))?;
    let cat = match threshold {
        Some(t) => Catalogue::builtin().with_threshold(t).map_err(|e| BadUsage(e.to_string()))?,
        None => Catalogue::builtin(),
    };
    let targets = Targets::load(&targets_path, &cat)?;
    let _ = std::fs::remove_dir_all(&register);
    let _ = std::fs::remove_dir_all(out.join(".register.builds"));
    // A folder whose name starts with a dot is not a delivery: the later ones wait there.
    let hide = |d: &Path, hidden: bool| -> anyhow::Result<()> {
        let name = d.file_name().expect("a delivery folder").to_string_lossy().into_owned();
        let waiting = d.with_file_name(format!(".{name}"));
        let (from, to) = if hidden { (d, waiting.as_path()) } else { (waiting.as_path(), d) };
        std::fs::rename(from, to).with_context(|| format!("moving {}", from.display()))
    };
    for d in &later {
        hide(d, true)?;
    }
    if !quiet {
        println!("build 1: the deliveries that had arrived by {}", utfall_synth::as_of());
    }
    let first = build(&opts, Some((&cat, &targets)), quiet);
    for d in &later {
        hide(d, false)?;
    }
    first?;
    if !quiet {
        let names: Vec<String> = later
            .iter()
            .map(|d| {
                format!(
                    "{}/{}",
                    d.parent().and_then(|p| p.file_name()).unwrap_or_default().to_string_lossy(),
                    d.file_name().unwrap_or_default().to_string_lossy()
                )
            })
            .collect();
        println!("\nbuild 2: then arrived {}", names.join(", "));
    }
    let second = build(&opts, Some((&cat, &targets)), quiet)?;
    if !quiet {
        let revised = second
            .manifest
            .indicators
            .as_ref()
            .and_then(|r| r.tables.iter().find(|t| t.0 == "revisions"))
            .map_or(0, |t| t.1);
        println!(
            "  revisions: {revised} published figures changed since build 1 (the revisions table, and the dashboard's revisions page)"
        );
    }
    let args = DashboardArgs {
        register: register.clone(),
        limits: analyst::LimitArgs::default(),
        out: out.join("dashboard"),
        per_unit: true,
        lang: "sv".into(),
        spec: None,
    };
    let index = dashboard(&args, true)?;
    if !quiet {
        println!("\nNext:");
        println!("  the register (Parquet, one file per table): {}/", register.display());
        println!("  what was built from what, with counts:       {}/manifest.json", register.display());
        println!("  rejected rows with file, line and reason:    {}/quarantine.parquet", register.display());
        println!("  three source systems' monthly deliveries:    {}/", sources.dir.display());
        println!("  the same exports as one snapshot:            {}/", summary.exports.display());
        println!("  where every row came from:                   {}/lineage.parquet", register.display());
        println!(
            "  what build 2 changed, and revised figures:   {}/row_changes.parquet, revisions.parquet",
            register.display()
        );
        println!("  the planted truth (effects, per-case risks): {}/", summary.truth.display());
        println!("  indicators with intervals (analysts):        {}/indicators.parquet", register.display());
        println!(
            "  suppressed indicators and target status:     {}/indicators_public.parquet, target_status.parquet",
            register.display()
        );
        println!("  the demo's targets file:                     {}", targets_path.display());
        println!("\nAsk it in SQL, or render a report:");
        println!("  utfall query --register {} --list", register.display());
        println!("  utfall sql --register {}", register.display());
        println!(
            "  utfall notebook run notebooks/monthly_outcome_report.md --register {} --out report.html",
            register.display()
        );
        println!("\nThe managers' dashboard (open it in a browser; one page per unit beside it):");
    }
    // The demo's last line is the dashboard's path, quiet or not.
    println!("{}", index.display());
    Ok(())
}
