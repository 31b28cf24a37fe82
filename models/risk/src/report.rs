//! The evaluation as Parquet tables and the model card (one self-contained
//! HTML page, plotters SVG): intended use, data window, label caveats,
//! features and excluded attributes, discrimination, calibration, error
//! rates and calibration by group, and known limits.

use std::fmt::Write as _;
use std::path::Path;

use ndarray::Array2;
use plotters::prelude::*;
use polars::prelude::*;
use utfall_disclosure::Policy;
use utfall_report::chart::{FONT, PALETTE, legend, plot_error, svg_image};
use utfall_report::format::{fixed3 as num, percent as pct};
use utfall_report::{Page, count_cell, count_span, escape};

use crate::metrics::{AtThreshold, Estimate, Evaluation, evaluate};
use crate::model::Fitted;
use crate::spec::Spec;
use crate::{Artefact, ModelError, bools, clusters};

/// One group's evaluation.
pub struct GroupEvaluation {
    pub group: String,
    pub level: String,
    pub evaluation: Evaluation,
}

/// The test set's evaluation per level of every group in the spec
/// (a missing attribute is the level "unknown").
pub fn group_evaluations(spec: &Spec, test: &DataFrame, p: &[f64]) -> Result<Vec<GroupEvaluation>, ModelError> {
    let y = bools(test, "label")?;
    let cluster = clusters(test)?;
    let mut out = Vec::new();
    let defined = spec.defined_groups.iter().map(|g| &g.name);
    for g in spec.groups.iter().chain(defined) {
        let levels: Vec<String> = test
            .column(g)?
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| v.unwrap_or("unknown").to_string())
            .collect();
        let mut distinct = levels.clone();
        distinct.sort();
        distinct.dedup();
        for level in distinct {
            let idx: Vec<usize> = (0..levels.len()).filter(|&i| levels[i] == level).collect();
            let pick = |v: &[f64]| idx.iter().map(|&i| v[i]).collect::<Vec<_>>();
            let yy: Vec<bool> = idx.iter().map(|&i| y[i]).collect();
            let cc: Vec<u64> = idx.iter().map(|&i| cluster[i]).collect();
            let evaluation = evaluate(&yy, &pick(p), &cc, &spec.thresholds, spec.calibration_bins);
            out.push(GroupEvaluation { group: g.clone(), level, evaluation });
        }
    }
    Ok(out)
}

fn opt(e: Option<Estimate>) -> [Option<f64>; 3] {
    e.map_or([None; 3], |e| [Some(e.value), Some(e.low), Some(e.high)])
}

/// One evaluated set: (set, group, level, evaluation).
type Row<'a> = (&'a str, &'a str, &'a str, &'a Evaluation);
/// A rate with its interval, read off the counts at a threshold.
type Rate = fn(&AtThreshold) -> Option<Estimate>;

fn write(dir: &Path, name: &str, mut df: DataFrame) -> Result<(), ModelError> {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).map_err(ModelError::io(&path))?;
    utfall_register::store::write_parquet(&mut df, file)?;
    Ok(())
}

/// `evaluation.parquet` (one row per set, group and level), `thresholds.parquet`
/// (and per threshold), `calibration.parquet` (and per bin) and, for
/// logistic models, `coefficients.parquet`.
pub fn write_tables(
    dir: &Path,
    a: &Artefact,
    test: &Evaluation,
    train: &Evaluation,
    groups: &[GroupEvaluation],
) -> Result<(), ModelError> {
    let mut all: Vec<(&str, &str, &str, &Evaluation)> =
        vec![("train", "all", "all", train), ("test", "all", "all", test)];
    all.extend(groups.iter().map(|g| ("test", g.group.as_str(), g.level.as_str(), &g.evaluation)));
    let s = |f: &dyn Fn(&Row) -> Option<f64>| all.iter().map(f).collect::<Vec<_>>();
    let text = |k: usize| all.iter().map(|r| [r.0, r.1, r.2][k].to_string()).collect::<Vec<_>>();
    let version = vec![a.version.clone(); all.len()];
    let df = DataFrame::new_infer_height(vec![
        Column::new("model_version".into(), version),
        Column::new("set".into(), text(0)),
        Column::new("group".into(), text(1)),
        Column::new("level".into(), text(2)),
        Column::new("n".into(), all.iter().map(|r| r.3.n).collect::<Vec<_>>()),
        Column::new("positives".into(), all.iter().map(|r| r.3.positives).collect::<Vec<_>>()),
        Column::new("observed".into(), s(&|r| Some(r.3.observed))),
        Column::new("mean_predicted".into(), s(&|r| Some(r.3.mean_predicted))),
        Column::new("auc".into(), s(&|r| opt(r.3.auc)[0])),
        Column::new("auc_low".into(), s(&|r| opt(r.3.auc)[1])),
        Column::new("auc_high".into(), s(&|r| opt(r.3.auc)[2])),
        Column::new("brier".into(), s(&|r| Some(r.3.brier.value))),
        Column::new("brier_low".into(), s(&|r| Some(r.3.brier.low))),
        Column::new("brier_high".into(), s(&|r| Some(r.3.brier.high))),
        Column::new("calibration_intercept".into(), s(&|r| opt(r.3.intercept)[0])),
        Column::new("calibration_slope".into(), s(&|r| opt(r.3.slope)[0])),
        Column::new("slope_low".into(), s(&|r| opt(r.3.slope)[1])),
        Column::new("slope_high".into(), s(&|r| opt(r.3.slope)[2])),
        Column::new("ece".into(), s(&|r| Some(r.3.ece))),
    ])?;
    write(dir, "evaluation.parquet", df)?;

    let mut rows: Vec<(&str, &str, &str, &AtThreshold)> = Vec::new();
    for r in &all {
        rows.extend(r.3.at.iter().map(|t| (r.0, r.1, r.2, t)));
    }
    let t = |k: usize| rows.iter().map(|r| [r.0, r.1, r.2][k].to_string()).collect::<Vec<_>>();
    let c = |f: &dyn Fn(&AtThreshold) -> u64| rows.iter().map(|r| f(r.3)).collect::<Vec<_>>();
    let rate = |f: Rate, k: usize| rows.iter().map(|r| opt(f(r.3))[k]).collect::<Vec<_>>();
    let mut columns = vec![
        Column::new("model_version".into(), vec![a.version.clone(); rows.len()]),
        Column::new("set".into(), t(0)),
        Column::new("group".into(), t(1)),
        Column::new("level".into(), t(2)),
        Column::new("threshold".into(), rows.iter().map(|r| r.3.threshold).collect::<Vec<_>>()),
        Column::new("flagged".into(), c(&|x| x.flagged)),
        Column::new("tp".into(), c(&|x| x.tp)),
        Column::new("fp".into(), c(&|x| x.fp)),
        Column::new("fn".into(), c(&|x| x.fn_)),
        Column::new("tn".into(), c(&|x| x.tn)),
    ];
    let rates: [(&str, Rate); 4] = [
        ("precision", AtThreshold::precision),
        ("recall", AtThreshold::recall),
        ("false_positive_rate", AtThreshold::false_positive_rate),
        ("false_negative_rate", AtThreshold::false_negative_rate),
    ];
    for (name, f) in rates {
        columns.push(Column::new(name.into(), rate(f, 0)));
        columns.push(Column::new(format!("{name}_low").into(), rate(f, 1)));
        columns.push(Column::new(format!("{name}_high").into(), rate(f, 2)));
    }
    write(dir, "thresholds.parquet", DataFrame::new_infer_height(columns)?)?;

    let mut bins: Vec<(&str, &str, usize, &crate::metrics::Bin)> = Vec::new();
    for r in all.iter().filter(|r| r.0 == "test") {
        bins.extend(r.3.curve.iter().enumerate().map(|(k, b)| (r.1, r.2, k + 1, b)));
    }
    let df = DataFrame::new_infer_height(vec![
        Column::new("model_version".into(), vec![a.version.clone(); bins.len()]),
        Column::new("group".into(), bins.iter().map(|b| b.0.to_string()).collect::<Vec<_>>()),
        Column::new("level".into(), bins.iter().map(|b| b.1.to_string()).collect::<Vec<_>>()),
        Column::new("bin".into(), bins.iter().map(|b| b.2 as u32).collect::<Vec<_>>()),
        Column::new("n".into(), bins.iter().map(|b| b.3.n).collect::<Vec<_>>()),
        Column::new("mean_predicted".into(), bins.iter().map(|b| b.3.mean_predicted).collect::<Vec<_>>()),
        Column::new("observed".into(), bins.iter().map(|b| b.3.observed).collect::<Vec<_>>()),
        Column::new("observed_low".into(), bins.iter().map(|b| b.3.observed_low).collect::<Vec<_>>()),
        Column::new("observed_high".into(), bins.iter().map(|b| b.3.observed_high).collect::<Vec<_>>()),
    ])?;
    write(dir, "calibration.parquet", df)?;

    if let Fitted::Logistic { intercept, coefficients } = &a.fitted {
        let cols = &a.encoding.columns;
        let df = DataFrame::new_infer_height(vec![
            Column::new(
                "column".into(),
                std::iter::once("(intercept)".to_string())
                    .chain(cols.iter().map(|c| c.name.clone()))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "feature".into(),
                std::iter::once(String::new()).chain(cols.iter().map(|c| c.feature.clone())).collect::<Vec<_>>(),
            ),
            Column::new(
                "coefficient".into(),
                std::iter::once(*intercept).chain(coefficients.iter().copied()).collect::<Vec<_>>(),
            ),
            Column::new("mean".into(), std::iter::once(0.0).chain(cols.iter().map(|c| c.mean)).collect::<Vec<_>>()),
            Column::new("sd".into(), std::iter::once(1.0).chain(cols.iter().map(|c| c.sd)).collect::<Vec<_>>()),
        ])?;
        write(dir, "coefficients.parquet", df)?;
    }
    Ok(())
}

/// `design.parquet`: row id, household, side, label and the standardised
/// design columns (named as in the artefact), for an independent refit.
pub fn write_design(
    dir: &Path,
    a: &Artefact,
    train: &DataFrame,
    x_train: &Array2<f64>,
    test: &DataFrame,
    x_test: &Array2<f64>,
) -> Result<(), ModelError> {
    let stack = |name: &str| -> Result<Column, ModelError> {
        let mut c = train.column(name)?.clone();
        c.append(test.column(name)?)?;
        Ok(c)
    };
    let side: Vec<&str> =
        std::iter::repeat_n("train", train.height()).chain(std::iter::repeat_n("test", test.height())).collect();
    let mut columns = vec![stack("row_id")?, stack("household_id")?, Column::new("side".into(), side), stack("label")?];
    for (j, c) in a.encoding.columns.iter().enumerate() {
        let v: Vec<f64> = x_train.column(j).iter().chain(x_test.column(j).iter()).copied().collect();
        columns.push(Column::new(c.name.as_str().into(), v));
    }
    write(dir, "design.parquet", DataFrame::new_infer_height(columns)?)
}

fn interval(e: Option<Estimate>, f: fn(f64) -> String) -> String {
    match e {
        Some(e) => format!("{} ({}–{})", f(e.value), f(e.low), f(e.high)),
        None => "not defined".into(),
    }
}

/// The calibration curve: mean predicted against observed per bin, with the
/// observed rate's 95% interval and the diagonal of perfect calibration.
pub fn calibration_chart(e: &Evaluation, alt: &str) -> Result<String, String> {
    let top = e
        .curve
        .iter()
        .map(|b| b.mean_predicted.max(b.observed_high))
        .fold(0.0_f64, f64::max)
        .mul_add(1.1, 0.0)
        .clamp(0.05, 1.0);
    svg_image(520, 420, alt, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..top, 0.0..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("predicted probability (mean per bin)")
            .y_desc("observed share")
            .x_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(DashedLineSeries::new([(0.0, 0.0), (top, top)], 6, 4, PALETTE[6].stroke_width(1)))
            .map_err(plot_error)?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[6].stroke_width(1)));
        chart
            .draw_series(e.curve.iter().map(|b| {
                PathElement::new(
                    vec![(b.mean_predicted, b.observed_low), (b.mean_predicted, b.observed_high)],
                    PALETTE[0].stroke_width(1),
                )
            }))
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(
                e.curve.iter().map(|b| (b.mean_predicted, b.observed)),
                PALETTE[0].stroke_width(2),
            ))
            .map_err(plot_error)?
            .label("observed (95% interval)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[0].stroke_width(2)));
        chart
            .draw_series(e.curve.iter().map(|b| Circle::new((b.mean_predicted, b.observed), 3, PALETTE[0].filled())))
            .map_err(plot_error)?;
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

fn threshold_rows(out: &mut String, label: &str, e: &Evaluation, policy: &Policy) {
    for t in &e.at {
        let r = |x: Option<Estimate>| interval(x, pct);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(label),
            pct(t.threshold),
            count_cell(policy, t.flagged),
            r(t.precision()),
            r(t.recall()),
            r(t.false_positive_rate()),
            r(t.false_negative_rate())
        );
    }
}

/// The model card: one self-contained page.
pub fn model_card(
    spec: &Spec,
    a: &Artefact,
    test: &Evaluation,
    train: &Evaluation,
    groups: &[GroupEvaluation],
    policy: &Policy,
    weak_split: &[String],
) -> String {
    let mut h = String::new();
    let title = format!("Model card: {} ({})", a.title_en, a.title_sv);
    if !weak_split.is_empty() {
        let _ = writeln!(
            h,
            "<div class=\"card-warning\"><p><strong>Warning: trained with --allow-weak-split.</strong> The split is below the specification's minimums, so the figures on this card cannot be relied on: {}.</p></div>",
            escape(&weak_split.join("; "))
        );
    }
    let _ = writeln!(h, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        h,
        "<p class=\"summary\">Model version <code>{}</code> · algorithm {} · trained {} · register build <code>{}</code> (as of {}, manifest SHA-256 <code>{}</code>) · spec <code>{}</code> v{} (SHA-256 <code>{}</code>) · utfall {}</p>",
        escape(&a.version),
        match a.fitted {
            Fitted::Logistic { .. } =>
                format!("logistic regression, standardised features, L2 penalty alpha = {}", a.alpha),
            Fitted::Tree { ref nodes } =>
                format!("classification tree ({} nodes), leaf probabilities from training frequencies", nodes.len()),
        },
        escape(&a.trained_at),
        escape(&a.register_build),
        a.register_as_of,
        &a.register_manifest_sha256[..16],
        escape(&spec.file),
        a.spec_version,
        &a.spec_sha256[..16],
        escape(&a.tool_version)
    );
    h.push_str("<h2>Intended use</h2>\n<div class=\"card-warning\"><p><strong>Advisory only.</strong> The score ranks clients so that staff can prioritise whom to offer support and follow-up. It is never an automatic decision: a person decides, and may and should depart from the score where the case file says otherwise (departures are counted in <code>score_overrides</code>). Every score carries this model version.</p><p><strong>Prediction is not an effect.</strong> A risk score says nothing about what an intervention would do for the client; it must not be used to judge an intervention or a unit's performance.</p></div>\n");
    let outcome = if a.labels.is_empty() {
        a.unit().describe()
    } else {
        let labels: Vec<String> =
            a.labels.iter().map(|l| format!("\"{}\": {}", l.name, crate::features::describe(l))).collect();
        format!(
            "the label {} (any of them), after the prediction moment; on the rows of {}",
            labels.join("; or "),
            a.unit().describe()
        )
    };
    let _ = writeln!(h, "<h2>Outcome and data</h2>\n<p>Outcome: {}.</p>", escape(&outcome));
    let s = &a.split;
    let d = |v: Option<chrono::NaiveDate>| v.map_or("-".to_string(), |d| d.to_string());
    let _ = writeln!(
        h,
        "<p>Split by time and by household: training on {} rows ({} households) predicted {} to {}, whose outcome was known by {}; test on {} rows ({} households) predicted {} to {}. {} households had rows on both sides and were kept on one side only (seeded hash, seed {}): no household is in both sets.</p>",
        count_span(policy, s.train_rows),
        count_span(policy, s.train_households),
        d(s.train_first),
        d(s.train_last),
        s.test_from,
        count_span(policy, s.test_rows),
        count_span(policy, s.test_households),
        d(s.test_first),
        d(s.test_last),
        count_span(policy, s.households_assigned),
        s.seed
    );
    h.push_str("<h3>Label caveats</h3>\n<ul>\n<li>The label is produced by the social services' own system: a re-referral or a payment is recorded only when the service acts. It shifts when law, practice or recording changes, and it misses clients who moved away or turned elsewhere.</li>\n");
    for c in &spec.label_caveats {
        let _ = writeln!(h, "<li>{}</li>", escape(c));
    }
    h.push_str("</ul>\n<h3>Features</h3>\n<table><thead><tr><th>feature</th><th>what it is (as of the prediction moment)</th></tr></thead><tbody>\n");
    for f in crate::features::shapes(&a.features, &a.defined_features) {
        let _ = writeln!(h, "<tr><td><code>{}</code></td><td>{}</td></tr>", escape(&f.name), escape(&f.description));
    }
    let _ = writeln!(
        h,
        "</tbody></table>\n<p>Explicitly excluded (never features; used only to audit by group): {}.</p>",
        if a.excluded.is_empty() {
            "none".into()
        } else {
            a.excluded.iter().map(|x| format!("<code>{}</code>", escape(x))).collect::<Vec<_>>().join(", ")
        }
    );

    h.push_str("<h2>How well it works (test set)</h2>\n<table><thead><tr><th>measure</th><th>test</th><th>training</th></tr></thead><tbody>\n");
    let rows: [(&str, String, String); 6] = [
        (
            "rows (positives)",
            format!("{} ({})", count_span(policy, test.n), count_span(policy, test.positives)),
            format!("{} ({})", count_span(policy, train.n), count_span(policy, train.positives)),
        ),
        ("AUC, 95% CI (households as clusters)", interval(test.auc, num), interval(train.auc, num)),
        ("Brier score, 95% CI", interval(Some(test.brier), num), interval(Some(train.brier), num)),
        ("calibration slope, 95% CI (1 is ideal)", interval(test.slope, num), interval(train.slope, num)),
        ("calibration intercept (0 is ideal)", interval(test.intercept, num), interval(train.intercept, num)),
        (
            "expected calibration error (equal-frequency bins)",
            format!("{} ({} bins)", pct(test.ece), test.curve.len()),
            pct(train.ece),
        ),
    ];
    for (k, v, t) in rows {
        let _ = writeln!(h, "<tr><td>{k}</td><td class=\"num\">{v}</td><td class=\"num\">{t}</td></tr>");
    }
    let _ = writeln!(
        h,
        "<tr><td>observed share / mean predicted</td><td class=\"num\">{} / {}</td><td class=\"num\">{} / {}</td></tr></tbody></table>",
        pct(test.observed),
        pct(test.mean_predicted),
        pct(train.observed),
        pct(train.mean_predicted)
    );
    let alt = format!(
        "Calibration curve on the test set: observed share against mean predicted probability in {} bins; expected calibration error {}",
        test.curve.len(),
        pct(test.ece)
    );
    match calibration_chart(test, &alt) {
        Ok(svg) => {
            let _ = writeln!(h, "<figure>{svg}<figcaption>{}</figcaption></figure>", escape(&alt));
        }
        Err(e) => {
            let _ = writeln!(h, "<p>{}</p>", escape(&e));
        }
    }
    h.push_str("<h3>At the thresholds</h3>\n<table><thead><tr><th>set</th><th>threshold</th><th>flagged</th><th>precision</th><th>recall</th><th>false-positive rate</th><th>false-negative rate</th></tr></thead><tbody>\n");
    threshold_rows(&mut h, "test", test, policy);
    h.push_str("</tbody></table>\n");

    let _ = writeln!(
        h,
        "<h2>By group</h2>\n<p>Calibration and error rates by group are a standing output: at the same score, the observed share can differ between groups. Groups with fewer than {t} positives or negatives are withheld (<code>..</code>), and every count below {t} is shown as &lt;{t} (disclosure policy: {}). Rates at threshold {}.</p>",
        escape(&policy.describe()),
        pct(a.thresholds[0]),
        t = policy.threshold
    );
    h.push_str("<table><thead><tr><th>group</th><th>level</th><th>n</th><th>observed</th><th>mean predicted</th><th>AUC (95% CI)</th><th>calibration slope</th><th>ECE</th><th>false-positive rate</th><th>false-negative rate</th></tr></thead><tbody>\n");
    for g in groups {
        let e = &g.evaluation;
        let shown = !policy.is_small(e.positives) && !policy.is_small(e.n - e.positives);
        if !shown {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num count withheld\">..</td><td class=\"num\">..</td><td class=\"num\">..</td><td class=\"num\">..</td><td class=\"num\">..</td><td class=\"num\">..</td><td class=\"num\">..</td><td class=\"num\">..</td></tr>",
                escape(&g.group),
                escape(&g.level)
            );
            continue;
        }
        let t = &e.at[0];
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td>{}<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&g.group),
            escape(&g.level),
            count_cell(policy, e.n),
            pct(e.observed),
            pct(e.mean_predicted),
            interval(e.auc, num),
            e.slope.map_or("-".into(), |s| num(s.value)),
            pct(e.ece),
            t.false_positive_rate().map_or("-".into(), |r| pct(r.value)),
            t.false_negative_rate().map_or("-".into(), |r| pct(r.value)),
        );
    }
    h.push_str("</tbody></table>\n");

    if let Fitted::Logistic { intercept, coefficients } = &a.fitted {
        h.push_str("<h2>Coefficients</h2>\n<p>Log-odds per standard deviation of each design column (categories against the most frequent level). They describe association in the training data, not causes.</p>\n<table><thead><tr><th>column</th><th>coefficient</th><th>odds ratio per SD</th></tr></thead><tbody>\n");
        let _ = writeln!(h, "<tr><td>(intercept)</td><td class=\"num\">{intercept:.4}</td><td></td></tr>");
        let mut order: Vec<usize> = (0..coefficients.len()).collect();
        order.sort_by(|&x, &y| coefficients[y].abs().total_cmp(&coefficients[x].abs()));
        for j in order {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td class=\"num\">{:+.4}</td><td class=\"num\">{:.3}</td></tr>",
                escape(&a.encoding.columns[j].name),
                coefficients[j],
                coefficients[j].exp()
            );
        }
        h.push_str("</tbody></table>\n");
        let refs: Vec<String> =
            a.encoding.reference.iter().map(|(f, l)| format!("{} = {}", escape(f), escape(l))).collect();
        let _ = writeln!(h, "<p>Reference levels: {}.</p>", refs.join("; "));
    }
    h.push_str("<h2>Known limits</h2>\n<ul>\n<li>Trained on this municipality's register for the window above; a new register, new units or a change in practice need a new training and a new card. Drift between training and scoring is checked on every scoring run (<code>score_drift</code>).</li>\n<li>Only what the register records can be used: risk that is never written down is invisible to the model, and groups recorded less completely get less accurate scores.</li>\n");
    for l in &spec.limits {
        let _ = writeln!(h, "<li>{}</li>", escape(l));
    }
    h.push_str("</ul>\n");
    Page {
        lang: "en",
        title: &title,
        extra_style: ".card-warning{border-left:4px solid #D55E00;padding:.4em .8em;background:#fff6ef}\n",
    }
    .render(&h)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nine rows in two groups, every figure below worked out by hand.
    #[test]
    fn group_metrics_match_a_hand_computation() {
        let spec = Spec::parse(
            &include_str!("../specs/rereferral_12m.toml")
                .replace("groups = [\"sex\", \"age_band\", \"district\"]", "groups = [\"sex\"]")
                .replace("thresholds = [0.4, 0.55]", "thresholds = [0.5]")
                .replace("calibration_bins = 10", "calibration_bins = 2"),
            "tiny.toml",
        )
        .unwrap();
        let sex = ["F", "F", "F", "F", "M", "M", "M", "M", "M"];
        let label = [true, false, true, false, true, false, false, true, false];
        let p = [0.8, 0.6, 0.4, 0.2, 0.7, 0.7, 0.3, 0.9, 0.1];
        let households: Vec<String> = (1..=9).map(|i| format!("H{i}")).collect();
        let df = DataFrame::new_infer_height(vec![
            Column::new("sex".into(), sex.to_vec()),
            Column::new("label".into(), label.to_vec()),
            Column::new("household_id".into(), households),
        ])
        .unwrap();
        let groups = group_evaluations(&spec, &df, &p).unwrap();
        assert_eq!(groups.len(), 2);
        let (f, m) = (&groups[0].evaluation, &groups[1].evaluation);
        assert_eq!((groups[0].level.as_str(), groups[1].level.as_str()), ("F", "M"));
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} != {b}");
        // F: positives 0.8, 0.4; negatives 0.6, 0.2. Pairs won: 0.8>0.6, 0.8>0.2, 0.4>0.2 = 3 of 4.
        close(f.auc.unwrap().value, 0.75);
        // Brier: (0.2^2 + 0.6^2 + 0.6^2 + 0.2^2) / 4.
        close(f.brier.value, 0.2);
        close(f.observed, 0.5);
        close(f.mean_predicted, 0.5);
        // At 0.5: TP 0.8, FP 0.6, FN 0.4, TN 0.2.
        let t = &f.at[0];
        assert_eq!((t.tp, t.fp, t.fn_, t.tn, t.flagged), (1, 1, 1, 1, 2));
        close(t.false_positive_rate().unwrap().value, 0.5);
        close(t.false_negative_rate().unwrap().value, 0.5);
        close(t.precision().unwrap().value, 0.5);
        // Two bins of two: {0.2 (0), 0.4 (1)} and {0.6 (0), 0.8 (1)}: |0.5 - 0.3| and |0.5 - 0.7|.
        close(f.ece, 0.2);
        // M: positives 0.7, 0.9; negatives 0.7, 0.3, 0.1. Pairs: 0.5 (tie) + 1 + 1 + 3 = 5.5 of 6.
        close(m.auc.unwrap().value, 5.5 / 6.0);
        // Brier: (0.3^2 + 0.7^2 + 0.3^2 + 0.1^2 + 0.1^2) / 5 = 0.69 / 5.
        close(m.brier.value, 0.138);
        close(m.observed, 0.4);
        close(m.mean_predicted, 0.54);
        let t = &m.at[0];
        assert_eq!((t.tp, t.fp, t.fn_, t.tn), (2, 1, 0, 2));
        close(t.false_positive_rate().unwrap().value, 1.0 / 3.0);
        close(t.false_negative_rate().unwrap().value, 0.0);
        close(t.precision().unwrap().value, 2.0 / 3.0);
        // Wilson interval of the false-positive rate 1/3 (z = 1.96): independent formula.
        let (k, n, zq) = (1.0, 3.0, 1.959964_f64);
        let phat = k / n;
        let centre = (phat + zq * zq / (2.0 * n)) / (1.0 + zq * zq / n);
        let half = zq / (1.0 + zq * zq / n) * (phat * (1.0 - phat) / n + zq * zq / (4.0 * n * n)).sqrt();
        let fpr = t.false_positive_rate().unwrap();
        assert!((fpr.low - (centre - half)).abs() < 1e-5 && (fpr.high - (centre + half)).abs() < 1e-5, "{fpr:?}");
    }
}
