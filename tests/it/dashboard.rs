//! The managers' dashboard written by `utfall demo`: per-unit pages hold no
//! other unit's figures, and the numbers behind the charts equal the
//! register's suppressed tables (read here with polars) and the funnel limits
//! at the unit's n around the municipality's published value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use polars::prelude::*;
use utfall_dashboards::funnel::{LEVELS, proportion_limits};

use crate::support::{ok, read_parquet, s};

struct Demo {
    register: PathBuf,
    index: PathBuf,
    _tmp: tempfile::TempDir,
}

/// A demo municipality (with its targets and dashboard), built once.
fn demo() -> &'static Demo {
    static D: OnceLock<Demo> = OnceLock::new();
    D.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("demo");
        let printed = ok(&["demo", "--out", s(&out), "--clients", "3000", "--quiet"]);
        // The demo's last line is the dashboard's path.
        let index = PathBuf::from(printed.lines().last().unwrap().trim());
        assert!(index.ends_with("dashboard/index.html") && index.exists(), "{printed}");
        Demo { register: out.join("register"), index, _tmp: tmp }
    })
}

/// The values of an attribute, in order.
fn attrs<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

/// The html of section `id` (up to the next section).
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no section {id}"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap()]
}

/// The n-th figure (from 0) of a piece of html.
fn figure(html: &str, k: usize) -> &str {
    let start = html.match_indices("<figure").nth(k).unwrap_or_else(|| panic!("no figure {k}")).0;
    let rest = &html[start..];
    &rest[..rest.find("</figure>").unwrap()]
}

/// Table rows (`<tr ...>` to `</tr>`) of a piece of html.
fn rows(html: &str) -> Vec<&str> {
    html.split("<tr").skip(1).map(|r| &r[..r.find("</tr>").unwrap()]).collect()
}

fn attr<'a>(row: &'a str, name: &str) -> Option<&'a str> {
    attrs(row, name).first().copied()
}

fn num(text: Option<&str>) -> Option<f64> {
    text.filter(|t| !t.is_empty()).map(|t| t.parse().unwrap())
}

/// `indicators_public` rows of one indicator (no instrument), split and period type.
struct Published {
    frame: DataFrame,
}

impl Published {
    fn read(demo: &Demo, indicator: &str, split: &str, period_type: &str) -> Published {
        let frame = read_parquet(&demo.register.join("indicators_public.parquet"))
            .lazy()
            .filter(
                col("indicator_id")
                    .eq(lit(indicator))
                    .and(col("split").eq(lit(split)))
                    .and(col("period_type").eq(lit(period_type))),
            )
            .sort(["period_start", "split_value"], Default::default())
            .collect()
            .unwrap();
        Published { frame }
    }

    fn strings(&self, name: &str) -> Vec<String> {
        let c = self.frame.column(name).unwrap().cast(&DataType::String).unwrap();
        c.str().unwrap().iter().map(|v| v.unwrap_or_default().to_string()).collect()
    }

    fn floats(&self, name: &str) -> Vec<Option<f64>> {
        let c = self.frame.column(name).unwrap().cast(&DataType::Float64).unwrap();
        c.f64().unwrap().iter().collect()
    }
}

#[test]
fn a_unit_page_holds_no_figure_of_any_other_unit() {
    let d = demo();
    let dir = d.index.parent().unwrap().join("enheter");
    let units: BTreeSet<String> = Published::read(d, "not_rereferred_12m", "unit", "year")
        .strings("split_value")
        .into_iter()
        .chain(
            read_parquet(&d.register.join("target_status.parquet"))
                .column("unit")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|u| u.unwrap().to_string()),
        )
        .collect();
    assert!(units.len() >= 4, "{units:?}");
    for a in &units {
        for b in &units {
            assert!(a == b || !a.contains(b.as_str()), "unit codes must not contain one another: {a} {b}");
        }
    }
    let index = std::fs::read_to_string(&d.index).unwrap();
    for unit in &units {
        assert!(index.contains(&format!("data-unit=\"{unit}\"")), "the municipality's page shows {unit}");
        let page = std::fs::read_to_string(dir.join(format!("{unit}.html"))).unwrap();
        // Every table row belongs to this unit or to the municipality's aggregates ...
        let owners: BTreeSet<&str> = attrs(&page, "data-unit").into_iter().collect();
        assert_eq!(owners, BTreeSet::from([unit.as_str(), "*"]), "{unit}");
        // ... and no other unit is named anywhere: not in a table, a chart or a caption.
        for other in units.iter().filter(|o| *o != unit) {
            assert!(!page.contains(other.as_str()), "{unit}'s page names {other}");
        }
    }
    // The unit's own funnel row carries its published n.
    let p = Published::read(d, "not_rereferred_12m", "unit", "year");
    let (names, ns, periods) = (p.strings("split_value"), p.floats("n"), p.strings("period"));
    let total = Published::read(d, "not_rereferred_12m", "total", "year");
    let shown_years: Vec<String> =
        total.strings("period").into_iter().zip(total.floats("value")).filter_map(|(p, v)| v.map(|_| p)).collect();
    let year = shown_years.last().unwrap();
    let mut checked = 0;
    for ((unit, n), period) in names.iter().zip(&ns).zip(&periods) {
        if period != year {
            continue;
        }
        let page = std::fs::read_to_string(dir.join(format!("{unit}.html"))).unwrap();
        let funnel = figure(section(&page, "ind-0"), 1);
        let row = rows(funnel).into_iter().find(|r| attr(r, "data-unit") == Some(unit)).unwrap();
        assert_eq!(num(attr(row, "data-n")), *n, "{unit}");
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn the_trend_band_equals_the_indicator_table() {
    let d = demo();
    let page = std::fs::read_to_string(&d.index).unwrap();
    let trend = figure(section(&page, "ind-0"), 0);
    let want = Published::read(d, "not_rereferred_12m", "total", "quarter");
    let starts = want.strings("period_start");
    let (values, lows, highs) = (want.floats("value"), want.floats("ci_low"), want.floats("ci_high"));
    let got: Vec<&str> = rows(trend).into_iter().filter(|r| attr(r, "data-unit") == Some("*")).collect();
    assert_eq!(got.len(), starts.len(), "one row per published quarter");
    let mut withheld = 0;
    for (i, row) in got.iter().enumerate() {
        assert_eq!(attr(row, "data-period"), Some(starts[i].as_str()));
        assert_eq!(num(attr(row, "data-value")), values[i], "{}", starts[i]);
        assert_eq!(num(attr(row, "data-low")), lows[i], "{}", starts[i]);
        assert_eq!(num(attr(row, "data-high")), highs[i], "{}", starts[i]);
        if values[i].is_none() {
            assert!(row.contains(">..<"), "a withheld quarter shows ..");
            withheld += 1;
        }
    }
    assert!(got.len() - withheld >= 8, "enough quarters shown to mean something");
    // A unit's page draws the unit's own series beside the municipality's.
    let unit_rows = Published::read(d, "not_rereferred_12m", "unit", "quarter");
    let (units, unit_starts, unit_lows) =
        (unit_rows.strings("split_value"), unit_rows.strings("period_start"), unit_rows.floats("ci_low"));
    let unit = &units[0];
    let unit_page =
        std::fs::read_to_string(d.index.parent().unwrap().join("enheter").join(format!("{unit}.html"))).unwrap();
    let want: BTreeMap<&str, Option<f64>> = units
        .iter()
        .zip(&unit_starts)
        .zip(&unit_lows)
        .filter(|((u, _), _)| *u == unit)
        .map(|((_, s), l)| (s.as_str(), *l))
        .collect();
    let got: BTreeMap<&str, Option<f64>> = rows(figure(section(&unit_page, "ind-0"), 0))
        .into_iter()
        .filter(|r| attr(r, "data-unit") == Some(unit.as_str()))
        .map(|r| (attr(r, "data-period").unwrap(), num(attr(r, "data-low"))))
        .filter(|(_, l)| l.is_some())
        .collect();
    let want: BTreeMap<&str, Option<f64>> = want.into_iter().filter(|(_, l)| l.is_some()).collect();
    assert_eq!(got, want);
}

#[test]
fn funnel_limits_are_the_binomial_limits_at_the_units_n_around_the_municipality() {
    let d = demo();
    let page = std::fs::read_to_string(&d.index).unwrap();
    let funnel = figure(section(&page, "ind-0"), 1);
    let total = Published::read(d, "not_rereferred_12m", "total", "year");
    let (periods, values) = (total.strings("period"), total.floats("value"));
    let (year, p0) = periods.iter().zip(&values).filter_map(|(p, v)| v.map(|v| (p, v))).next_back().unwrap();
    assert!(funnel.contains(&format!(
        "<h3>Jämförelse mellan enheter · Ej återaktualiserade inom 12 månader efter avslut · {year}</h3>"
    )));
    let mut checked = 0;
    for row in rows(funnel) {
        let Some(n) = num(attr(row, "data-n")) else { continue };
        for (name, level) in [("data-limits95", LEVELS[0]), ("data-limits998", LEVELS[1])] {
            let (lo, hi) = attr(row, name).unwrap().split_once(' ').unwrap();
            let want = proportion_limits(p0, n as u64, level);
            assert_eq!((lo.parse::<f64>().unwrap(), hi.parse::<f64>().unwrap()), want, "{row}");
        }
        checked += 1;
    }
    assert!(checked >= 4, "{checked} units on the funnel");
}

#[test]
fn every_figure_states_its_definition_period_and_register_date_and_withholds_small_counts() {
    let d = demo();
    let page = std::fs::read_to_string(&d.index).unwrap();
    let figures = page.matches("<figure").count();
    assert!(figures >= 20, "{figures} figures");
    for k in 0..figures {
        let fig = figure(&page, k);
        let caption = &fig[fig.find("<figcaption>").unwrap()..fig.find("</figcaption>").unwrap()];
        assert!(caption.contains("registret per 2025-12-31"), "figure {k}: {caption}");
        assert!(caption.contains(" · period "), "figure {k}: {caption}");
        assert!(caption.contains("katalog 2026.2"), "figure {k}: {caption}");
        assert!(fig.contains("<svg role=\"img\" aria-label=\""), "figure {k} has an accessible chart");
        assert_eq!(fig.matches("<table").count(), 1, "figure {k} has the table behind its chart");
    }
    // Indicator figures name the definition and its version.
    assert!(page.contains("Definition <code>not_rereferred_12m</code> v1"));
    // A withheld cell in indicators_public shows as "..", never as a number.
    assert!(page.matches(">..<").count() > 0);
    let english = tempfile::tempdir().unwrap();
    ok(&["dashboard", "--register", s(&d.register), "--out", s(english.path()), "--lang", "en", "--quiet"]);
    let en = std::fs::read_to_string(english.path().join("index.html")).unwrap();
    assert!(en.contains("<html lang=\"en\">") && en.contains("Targets at a glance") && en.contains("register as of"));
    assert!(!en.contains("Målen i översikt") && !english.path().join("enheter").exists());
}

#[test]
fn a_bad_spec_or_register_is_refused_by_name_and_the_last_pages_are_kept() {
    let d = demo();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dash");
    ok(&["dashboard", "--register", s(&d.register), "--out", s(&out), "--quiet"]);
    let before = std::fs::read(out.join("index.html")).unwrap();
    let spec = tmp.path().join("spec.toml");
    let mut args = vec!["dashboard", "--register", s(&d.register), "--out", s(&out), "--spec", s(&spec)];
    std::fs::write(&spec, "title_sv = \"a\"\ntitle_en = \"b\"\n[[indicator]]\nid = \"no_such_indicator\"\n").unwrap();
    let (code, _, err) = crate::support::run(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("spec.toml: indicator[0]: 'no_such_indicator' has no rows"), "{err}");
    std::fs::write(&spec, "title_sv = \"a\"\ntitle_en = \"b\"\n[[indicator]]\nid = \"recovery\"\n").unwrap();
    let (code, _, err) = crate::support::run(&args);
    assert!(code == 2 && err.contains("instrument and domain"), "{err}");
    std::fs::write(&spec, "title_sv = \"a\"\n[[indicator]]\nid = \"recovery\"\n").unwrap();
    let (code, _, err) = crate::support::run(&args);
    assert!(code == 2 && err.contains("spec.toml:1:") && err.contains("title_en"), "{err}");
    args.truncate(6);
    args.extend(["--lang", "fr"]);
    assert_eq!(crate::support::run(&args).0, 2);
    assert_eq!(std::fs::read(out.join("index.html")).unwrap(), before, "the last good page is kept");
    // Derived tables from an older utfall (a column missing) are named, not misread.
    let old = tmp.path().join("old");
    std::fs::create_dir(&old).unwrap();
    for entry in std::fs::read_dir(std::fs::canonicalize(&d.register).unwrap()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, old.join(path.file_name().unwrap())).unwrap();
        }
    }
    let mut status = read_parquet(&old.join("target_status.parquet")).drop("measure").unwrap();
    ParquetWriter::new(std::fs::File::create(old.join("target_status.parquet")).unwrap()).finish(&mut status).unwrap();
    let (code, _, err) = crate::support::run(&["dashboard", "--register", s(&old), "--out", s(&out)]);
    assert!(
        code == 2 && err.contains("target_status has no column 'measure'") && err.contains("utfall indicators"),
        "{err}"
    );
    // A register built without indicators has nothing to show.
    let dirty = crate::support::dirty();
    let bare = tmp.path().join("bare");
    crate::support::build_with(&dirty.dir.join("exports"), &dirty.key, &bare, &["--no-indicators"]);
    let (code, _, err) = crate::support::run(&["dashboard", "--register", s(&bare), "--out", s(&out)]);
    assert!(code == 2 && err.contains("no indicators"), "{code} {err}");
}

#[test]
fn the_targets_overview_shows_each_units_latest_yearly_status() {
    let d = demo();
    // Every demo target is followed per year: the latest year per target and unit, by polars.
    let latest = read_parquet(&d.register.join("target_status.parquet"))
        .lazy()
        .filter(col("period_type").eq(lit("year")))
        .sort(["period_start"], Default::default())
        .group_by([col("target_id"), col("unit")])
        .agg([col("status").last(), col("period").last()])
        .collect()
        .unwrap();
    let status = latest.column("status").unwrap().str().unwrap().clone();
    let count = |s: &str| status.iter().filter(|v| *v == Some(s)).count();
    let page = std::fs::read_to_string(&d.index).unwrap();
    let overview = section(&page, "targets");
    let tally = format!(
        "✔ {} uppnådda</span> <span class=\"status not_met\">✖ {} ej uppnådda</span> \
         <span class=\"status not_measurable\">? {} ej mätbara",
        count("met"),
        count("not_met"),
        count("not_measurable")
    );
    assert!(overview.contains(&tally), "{tally}\n{overview}");
    let shown = rows(overview).into_iter().filter(|r| attr(r, "data-unit").is_some()).count();
    assert_eq!(shown, latest.height(), "one row per target and unit");
    assert!(latest.height() >= 10);
}

#[test]
fn no_page_shows_a_count_below_the_threshold() {
    let d = demo();
    let dir = d.index.parent().unwrap();
    let mut pages = vec![d.index.clone()];
    pages.extend(std::fs::read_dir(dir.join("enheter")).unwrap().map(|e| e.unwrap().path()));
    let (mut counts, mut withheld) = (0, 0);
    for page in &pages {
        let html = std::fs::read_to_string(page).unwrap();
        // Every count is marked by the report kit (values are not).
        for cell in html.split("<span class=\"count\">").skip(1) {
            let text = &cell[..cell.find("</span>").unwrap()];
            if text == ".." {
                withheld += 1;
            } else if let Ok(count) = text.parse::<u64>() {
                assert!(count >= 5, "{}: a count of {count}", page.display());
                counts += 1;
            }
        }
        for n in attrs(&html, "data-n").into_iter().filter(|n| !n.is_empty()) {
            assert!(n.parse::<u64>().unwrap() >= 5, "{}: n = {n}", page.display());
        }
    }
    assert!(counts > 500 && withheld > 20, "{counts} counts, {withheld} withheld");
}

/// The demo's second build revises published figures: the page says how
/// many, lists the closed periods' ones in place, and the revisions page
/// beside it lists every one (rows equal the `revisions` table's).
#[test]
fn revised_figures_are_summarised_on_the_page_and_listed_beside_it() {
    let d = demo();
    let revisions = read_parquet(&d.register.join("revisions.parquet"));
    assert!(revisions.height() > 0, "the December deliveries and the re-delivered June revise figures");
    let closed = revisions.column("closed").unwrap().bool().unwrap().iter().filter(|c| *c == Some(true)).count();
    let page = std::fs::read_to_string(&d.index).unwrap();
    let banner = format!("<strong>Reviderade siffror.</strong> {} publicerade siffror", revisions.height());
    assert!(page.contains(&banner), "the banner counts the revisions");
    assert!(page.contains(&format!("Reviderade siffror för avslutade perioder ({closed})")));
    let list = std::fs::read_to_string(d.index.with_file_name("revideringar.html")).unwrap();
    assert_eq!(list.matches("<tr data-unit=").count(), revisions.height());
    assert!(list.contains("default-src 'none'"), "the page is inert");
}
