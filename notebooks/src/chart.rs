//! Chart cells: a small declarative spec (TOML) drawn by plotters as SVG.
//!
//! ```toml
//! type = "line"          # line, bar, histogram, scatter
//! data = "trend"         # an SQL cell above, by name ... or sql = "SELECT ..."
//! x = "period_start"     # line/scatter: number or date; bar: the category; histogram: the values
//! y = "value"            # not for histogram
//! low = "ci_low"         # line: a confidence band; bar: whiskers (with high)
//! high = "ci_high"
//! series = "unit"        # line/scatter: one line or colour per value
//! bins = 20              # histogram
//! title = "..."
//! x_label = "..."
//! y_label = "..."
//! ```

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use plotters::prelude::*;
use serde::Deserialize;
use utfall_disclosure::Policy;
use utfall_queries::Answer;
use utfall_report::chart::{FONT, PALETTE, date_label, legend, padded, plot_error, short};

use crate::suppress::Suppression;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    #[serde(rename = "type")]
    pub kind: ChartKind,
    /// The name of an SQL cell above whose result is drawn.
    pub data: Option<String>,
    /// Or the chart's own query.
    pub sql: Option<String>,
    pub x: String,
    pub y: Option<String>,
    pub low: Option<String>,
    pub high: Option<String>,
    pub series: Option<String>,
    pub bins: Option<usize>,
    pub title: Option<String>,
    pub x_label: Option<String>,
    pub y_label: Option<String>,
    /// Count columns of the chart's own query (as a SQL cell's `counts=`).
    pub counts: Option<Vec<String>>,
    /// A sentence under the chart.
    pub caption: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    Line,
    Bar,
    Histogram,
    Scatter,
}

impl ChartKind {
    pub fn name(self) -> &'static str {
        match self {
            ChartKind::Line => "line",
            ChartKind::Bar => "bar",
            ChartKind::Histogram => "histogram",
            ChartKind::Scatter => "scatter",
        }
    }
}

impl ChartSpec {
    /// Combinations the spec's fields allow.
    pub fn check(&self) -> Result<(), String> {
        let kind = self.kind.name();
        if self.data.is_some() == self.sql.is_some() {
            return Err("a chart takes its rows from exactly one of `data` (an SQL cell's name) or `sql`".into());
        }
        if self.counts.is_some() && self.sql.is_none() {
            return Err("`counts` belongs to the chart's own `sql`; a `data` cell declares its counts itself".into());
        }
        match self.kind {
            ChartKind::Histogram if self.y.is_some() => Err("a histogram counts `x`; it takes no `y`".into()),
            ChartKind::Histogram if self.series.is_some() || self.low.is_some() || self.high.is_some() => {
                Err("a histogram takes no `series`, `low` or `high`".into())
            }
            ChartKind::Histogram => Ok(()),
            _ if self.y.is_none() => Err(format!("a {kind} chart needs `y`")),
            _ if self.bins.is_some() => Err(format!("`bins` is for histograms, not a {kind} chart")),
            ChartKind::Bar if self.series.is_some() => Err(format!("a {kind} chart takes no `series`")),
            ChartKind::Scatter if self.low.is_some() || self.high.is_some() => {
                Err("a scatter chart takes no `low`/`high`".into())
            }
            _ if self.low.is_some() != self.high.is_some() => Err("`low` and `high` go together".into()),
            _ => Ok(()),
        }
    }

    /// Every column the spec names.
    fn columns(&self) -> Vec<&str> {
        [Some(&self.x), self.y.as_ref(), self.low.as_ref(), self.high.as_ref(), self.series.as_ref()]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

const WIDTH: u32 = 760;
const HEIGHT: u32 = 360;
/// A drawn chart and what the reader must be told about it.
#[derive(Debug)]
pub struct Drawn {
    pub svg: String,
    /// e.g. "3 points withheld (counts below 5)".
    pub notes: Vec<String>,
}

/// A column as numbers (dates as days since 1970-01-01), and whether it was a date.
fn numbers(answer: &Answer, name: &str) -> Result<(Vec<Option<f64>>, bool), String> {
    let index = column_index(answer, name)?;
    let data_type = answer.schema.field(index).data_type().clone();
    let is_date = matches!(data_type, DataType::Date32 | DataType::Date64 | DataType::Timestamp(..));
    if !(data_type.is_numeric() || is_date) {
        return Err(format!("column '{name}' is {data_type}, not a number or a date"));
    }
    let mut out = Vec::with_capacity(answer.rows());
    for batch in &answer.batches {
        let column = batch.column(index);
        let column = if is_date { cast(column, &DataType::Date32).map_err(|e| e.to_string())? } else { column.clone() };
        let column = if is_date {
            cast(&cast(&column, &DataType::Int32).map_err(|e| e.to_string())?, &DataType::Float64)
        } else {
            cast(&column, &DataType::Float64)
        }
        .map_err(|e| e.to_string())?;
        let values = column.as_primitive::<Float64Type>();
        out.extend(
            (0..values.len()).map(|r| (values.is_valid(r) && values.value(r).is_finite()).then(|| values.value(r))),
        );
    }
    Ok((out, is_date))
}

/// A column as text.
fn texts(answer: &Answer, name: &str) -> Result<Vec<Option<String>>, String> {
    let index = column_index(answer, name)?;
    let mut out = Vec::with_capacity(answer.rows());
    for batch in &answer.batches {
        let column = cast(batch.column(index), &DataType::Utf8).map_err(|e| e.to_string())?;
        let values = column.as_string::<i32>();
        out.extend((0..values.len()).map(|r| values.is_valid(r).then(|| values.value(r).to_string())));
    }
    Ok(out)
}

fn column_index(answer: &Answer, name: &str) -> Result<usize, String> {
    answer.schema.index_of(name).map_err(|_| {
        let have: Vec<&str> = answer.schema.fields().iter().map(|f| f.name().as_str()).collect();
        format!("no column '{name}' in the chart's data (columns: {})", have.join(", "))
    })
}

/// Draw a chart from its rows; withheld rows are left out and said so.
pub fn draw(spec: &ChartSpec, answer: &Answer, suppression: &Suppression, policy: &Policy) -> Result<Drawn, String> {
    let threshold = policy.threshold;
    for c in spec.columns() {
        column_index(answer, c)?;
    }
    let keep: Vec<bool> = (0..answer.rows()).map(|r| !suppression.withheld.get(r).copied().unwrap_or(false)).collect();
    let withheld = keep.iter().filter(|k| !**k).count();
    let mut notes = Vec::new();
    if withheld > 0 {
        notes.push(format!(
            "{withheld} of {} row{} withheld (counts below {threshold}, or that would reveal them).",
            answer.rows(),
            if answer.rows() == 1 { "" } else { "s" }
        ));
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let kept = keep.iter().filter(|k| **k).count();
        if kept == 0 {
            root.draw(&Text::new(
                "Inga data att visa (no data to show)".to_string(),
                (WIDTH as i32 / 2 - 150, HEIGHT as i32 / 2),
                (FONT, 18),
            ))
            .map_err(plot_error)?;
        } else {
            match spec.kind {
                ChartKind::Line | ChartKind::Scatter => xy(spec, answer, &keep, &root)?,
                ChartKind::Bar => bar(spec, answer, &keep, &root)?,
                ChartKind::Histogram => notes.extend(histogram(spec, answer, &keep, &root, policy, suppression)?),
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(Drawn { svg, notes })
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// (low, high) of an interval.
type Interval = (f64, f64);
/// x, y and the interval around y.
type Point = (f64, f64, Option<Interval>);

fn xy(spec: &ChartSpec, answer: &Answer, keep: &[bool], root: &Area) -> Result<(), String> {
    let (x, x_is_date) = numbers(answer, &spec.x)?;
    let (y, _) = numbers(answer, spec.y.as_deref().expect("checked"))?;
    let band = match (&spec.low, &spec.high) {
        (Some(l), Some(h)) => Some((numbers(answer, l)?.0, numbers(answer, h)?.0)),
        _ => None,
    };
    let series = match &spec.series {
        Some(s) => texts(answer, s)?,
        None => vec![None; answer.rows()],
    };
    // Points per series, in order of first appearance.
    let mut order: Vec<String> = Vec::new();
    let mut points: BTreeMap<usize, Vec<Point>> = BTreeMap::new();
    for r in 0..answer.rows() {
        let (Some(xv), Some(yv)) = (x[r], y[r]) else { continue };
        if !keep[r] {
            continue;
        }
        let name = series[r].clone().unwrap_or_default();
        let index = order.iter().position(|n| *n == name).unwrap_or_else(|| {
            order.push(name);
            order.len() - 1
        });
        let b = band.as_ref().and_then(|(l, h)| l[r].zip(h[r]));
        points.entry(index).or_default().push((xv, yv, b));
    }
    if points.is_empty() {
        return Err("no row has both x and y".into());
    }
    for p in points.values_mut() {
        p.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let all = || points.values().flatten();
    let ys = all().flat_map(|p| [Some(p.1), p.2.map(|b| b.0), p.2.map(|b| b.1)]).flatten();
    let (y0, y1) = padded(ys.clone().fold(f64::INFINITY, f64::min), ys.fold(f64::NEG_INFINITY, f64::max));
    let (x0, x1) =
        padded(all().map(|p| p.0).fold(f64::INFINITY, f64::min), all().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max));
    // Dates (periods) go on an axis of their own values, evenly spaced.
    let dates = if x_is_date { distinct(all().map(|p| p.0)) } else { Vec::new() };
    let month_only = dates.iter().all(|d| date_label(*d, false).ends_with("-01"));
    if x_is_date {
        for p in points.values_mut().flatten() {
            p.0 = dates.partition_point(|d| *d < p.0) as f64;
        }
    }
    let (x0, x1) = if x_is_date { (-0.5, dates.len() as f64 - 0.5) } else { (x0, x1) };
    let step = dates.len().div_ceil(12).max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(spec.title.clone().unwrap_or_default(), (FONT, 17))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_error)?;
    let x_format = |v: &f64| {
        if !x_is_date {
            return short(*v);
        }
        let i = v.round();
        let on_point = (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < dates.len();
        if on_point && (i as usize).is_multiple_of(step) {
            date_label(dates[i as usize], month_only)
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc(spec.x_label.clone().unwrap_or_else(|| spec.x.clone()))
        .y_desc(spec.y_label.clone().unwrap_or_else(|| spec.y.clone().unwrap_or_default()))
        .x_label_formatter(&x_format)
        .y_label_formatter(&|v| short(*v))
        .x_labels(if x_is_date { dates.len().clamp(2, 60) } else { 10 })
        .light_line_style(RGBColor(235, 235, 235))
        .label_style((FONT, 12))
        .draw()
        .map_err(plot_error)?;
    for (index, pts) in &points {
        let color = PALETTE[index % PALETTE.len()];
        if spec.kind == ChartKind::Line {
            let banded: Vec<(f64, (f64, f64))> = pts.iter().filter_map(|p| p.2.map(|b| (p.0, b))).collect();
            if banded.len() >= 2 {
                let polygon: Vec<(f64, f64)> =
                    banded.iter().map(|(x, b)| (*x, b.1)).chain(banded.iter().rev().map(|(x, b)| (*x, b.0))).collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(polygon, color.mix(0.18).filled())))
                    .map_err(plot_error)?;
            }
            let drawn = chart
                .draw_series(LineSeries::new(pts.iter().map(|p| (p.0, p.1)), color.stroke_width(2)))
                .map_err(plot_error)?;
            if spec.series.is_some() {
                drawn
                    .label(order[*index].clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
            }
        }
        let drawn =
            chart.draw_series(pts.iter().map(|p| Circle::new((p.0, p.1), 3, color.filled()))).map_err(plot_error)?;
        if spec.kind == ChartKind::Scatter && spec.series.is_some() {
            drawn.label(order[*index].clone()).legend(move |(x, y)| Circle::new((x + 9, y), 4, color.filled()));
        }
    }
    if spec.series.is_some() {
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

/// Horizontal bars (long category names stay readable), with whiskers for an interval.
fn bar(spec: &ChartSpec, answer: &Answer, keep: &[bool], root: &Area) -> Result<(), String> {
    let labels = texts(answer, &spec.x)?;
    let (y, _) = numbers(answer, spec.y.as_deref().expect("checked"))?;
    let band = match (&spec.low, &spec.high) {
        (Some(l), Some(h)) => Some((numbers(answer, l)?.0, numbers(answer, h)?.0)),
        _ => None,
    };
    let rows: Vec<(String, f64, Option<Interval>)> = (0..answer.rows())
        .filter(|&r| keep[r])
        .filter_map(|r| {
            let b = band.as_ref().and_then(|(l, h)| l[r].zip(h[r]));
            y[r].map(|v| (labels[r].clone().unwrap_or_else(|| "(saknas)".into()), v, b))
        })
        .collect();
    if rows.is_empty() {
        return Err("no row has a value".into());
    }
    let values = rows.iter().flat_map(|r| [Some(r.1), r.2.map(|b| b.0), r.2.map(|b| b.1)]).flatten();
    let lo = values.clone().fold(0.0_f64, f64::min);
    let hi = values.fold(0.0_f64, f64::max);
    let (_, hi) = padded(lo, hi);
    let lo = if lo < 0.0 { padded(lo, hi).0 } else { 0.0 };
    let n = rows.len();
    let names: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let longest = names.iter().map(|s| s.chars().count()).max().unwrap_or(4) as u32;
    let mut chart = ChartBuilder::on(root)
        .caption(spec.title.clone().unwrap_or_default(), (FONT, 17))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size((longest * 7 + 16).clamp(60, 260))
        .build_cartesian_2d(lo..hi, -0.5..(n as f64 - 0.5))
        .map_err(plot_error)?;
    let category = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
            names[n - 1 - i as usize].clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(spec.y_label.clone().unwrap_or_else(|| spec.y.clone().unwrap_or_default()))
        .y_desc(spec.x_label.clone().unwrap_or_default())
        .y_labels(n.max(2) * 2 + 1)
        .y_label_formatter(&category)
        .x_label_formatter(&|v| short(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .label_style((FONT, 12))
        .draw()
        .map_err(plot_error)?;
    let color = PALETTE[0];
    // The first row on top.
    chart
        .draw_series(rows.iter().enumerate().map(|(i, r)| {
            let pos = (n - 1 - i) as f64;
            Rectangle::new([(0.0_f64.max(lo), pos - 0.35), (r.1, pos + 0.35)], color.mix(0.85).filled())
        }))
        .map_err(plot_error)?;
    let whiskers: Vec<_> = rows.iter().enumerate().filter_map(|(i, r)| r.2.map(|b| ((n - 1 - i) as f64, b))).collect();
    chart
        .draw_series(
            whiskers.iter().map(|(pos, (l, h))| PathElement::new(vec![(*l, *pos), (*h, *pos)], BLACK.stroke_width(1))),
        )
        .map_err(plot_error)?;
    chart
        .draw_series(whiskers.iter().flat_map(|(pos, (l, h))| {
            [*l, *h].map(|v| PathElement::new(vec![(v, pos - 0.15), (v, pos + 0.15)], BLACK.stroke_width(1)))
        }))
        .map_err(plot_error)?;
    Ok(())
}

/// Counts of `x` in equal bins; bins with a count below the threshold are
/// drawn empty (they would count individuals) and said so.
fn histogram(
    spec: &ChartSpec,
    answer: &Answer,
    keep: &[bool],
    root: &Area,
    policy: &Policy,
    suppression: &Suppression,
) -> Result<Vec<String>, String> {
    let (x, x_is_date) = numbers(answer, &spec.x)?;
    let values: Vec<f64> = (0..answer.rows()).filter(|&r| keep[r]).filter_map(|r| x[r]).collect();
    if values.is_empty() {
        return Err(format!("column '{}' has no values", spec.x));
    }
    let bins = spec.bins.unwrap_or(20).clamp(1, 200);
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let width = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
    let mut counts = vec![0u64; bins];
    for v in &values {
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    // Suppression in the histogram is of its own counts (a bin of two is two people),
    // unless the analyst asked for the unsuppressed copy (no rows flagged, no threshold applied).
    let mut notes = Vec::new();
    if suppression.active {
        let threshold = policy.threshold;
        let small = counts.iter().filter(|c| **c > 0 && policy.is_small(**c)).count();
        if small > 0 {
            for c in counts.iter_mut().filter(|c| policy.is_small(**c)) {
                *c = 0;
            }
            notes.push(format!(
                "{small} bin{} with fewer than {threshold} withheld.",
                if small == 1 { "" } else { "s" }
            ));
        }
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.08;
    let mut chart = ChartBuilder::on(root)
        .caption(spec.title.clone().unwrap_or_default(), (FONT, 17))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo..(lo + width * bins as f64), 0.0..top)
        .map_err(plot_error)?;
    let x_format = |v: &f64| if x_is_date { date_label(*v, false) } else { short(*v) };
    chart
        .configure_mesh()
        .x_desc(spec.x_label.clone().unwrap_or_else(|| spec.x.clone()))
        .y_desc(spec.y_label.clone().unwrap_or_else(|| "antal (count)".into()))
        .x_label_formatter(&x_format)
        .y_label_formatter(&|v| short(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .label_style((FONT, 12))
        .draw()
        .map_err(plot_error)?;
    chart
        .draw_series(counts.iter().enumerate().map(|(i, c)| {
            let x0 = lo + width * i as f64;
            Rectangle::new([(x0, 0.0), (x0 + width, *c as f64)], PALETTE[0].mix(0.85).filled())
        }))
        .map_err(plot_error)?;
    Ok(notes)
}

/// Distinct values, sorted.
fn distinct(xs: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut values: Vec<f64> = xs.collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> ChartSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn specs_are_checked() {
        assert!(spec("type = \"line\"\ndata = \"a\"\nx = \"m\"\ny = \"v\"").check().is_ok());
        let e = spec("type = \"line\"\nx = \"m\"\ny = \"v\"").check().unwrap_err();
        assert!(e.contains("exactly one of"), "{e}");
        let e = spec("type = \"histogram\"\ndata = \"a\"\nx = \"m\"\ny = \"v\"").check().unwrap_err();
        assert!(e.contains("no `y`"), "{e}");
        let e = spec("type = \"line\"\ndata = \"a\"\nx = \"m\"\ny = \"v\"\nlow = \"l\"").check().unwrap_err();
        assert!(e.contains("go together"), "{e}");
        let e = spec("type = \"bar\"\ndata = \"a\"\nx = \"m\"\ny = \"v\"\nseries = \"s\"").check().unwrap_err();
        assert!(e.contains("no `series`"), "{e}");
    }

    fn answer() -> Answer {
        use datafusion::arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, StringArray};
        use datafusion::arrow::record_batch::RecordBatch;
        use std::sync::Arc;
        let batch = RecordBatch::try_from_iter([
            ("unit", Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef),
            ("day", Arc::new(Date32Array::from(vec![19723, 19754, 19783])) as ArrayRef),
            ("n", Arc::new(Int64Array::from(vec![40, 3, 25])) as ArrayRef),
            ("value", Arc::new(Float64Array::from(vec![0.5, 0.9, 0.25])) as ArrayRef),
            ("low", Arc::new(Float64Array::from(vec![0.4, 0.6, 0.1])) as ArrayRef),
            ("high", Arc::new(Float64Array::from(vec![0.6, 0.99, 0.4])) as ArrayRef),
        ])
        .unwrap();
        Answer { schema: batch.schema(), batches: vec![batch], elapsed: Default::default() }
    }

    #[test]
    fn every_kind_draws_and_withheld_rows_are_left_out_and_said() {
        let a = answer();
        let policy = Policy::new(5, utfall_disclosure::Source::Default).unwrap();
        let s = crate::suppress::small_counts(&a, Some(&["n".to_string()]), &policy).unwrap();
        let scatter = spec("type = \"scatter\"\ndata = \"d\"\nx = \"n\"\ny = \"value\"");
        let drawn = draw(&scatter, &a, &s, &policy).unwrap();
        // b (3) is small; c (25), the smallest row that gives it room, goes with it.
        assert_eq!(drawn.svg.matches("<circle").count(), 1, "the withheld rows are not drawn");
        assert_eq!(drawn.notes, ["2 of 3 rows withheld (counts below 5, or that would reveal them)."]);
        let unsuppressed = draw(&scatter, &a, &Suppression::default(), &policy).unwrap();
        assert_eq!(unsuppressed.svg.matches("<circle").count(), 3);
        assert!(unsuppressed.notes.is_empty());

        let line = spec("type = \"line\"\ndata = \"d\"\nx = \"day\"\ny = \"value\"\nlow = \"low\"\nhigh = \"high\"");
        let drawn = draw(&line, &a, &Suppression::default(), &policy).unwrap();
        assert!(drawn.svg.contains("<polygon") && drawn.svg.contains("<polyline"), "band and line");
        assert!(drawn.svg.contains("2024-01") && drawn.svg.contains("2024-03"), "month labels");

        let bar = spec("type = \"bar\"\ndata = \"d\"\nx = \"unit\"\ny = \"value\"\nlow = \"low\"\nhigh = \"high\"");
        let drawn = draw(&bar, &a, &s, &policy).unwrap();
        let label = |l: &str| drawn.svg.contains(&format!(">\n{l}\n</text>"));
        assert!(label("a") && !label("c") && !label("b"), "the withheld units have no bar: {}", drawn.svg);

        let histogram = spec("type = \"histogram\"\ndata = \"d\"\nx = \"value\"\nbins = 2");
        let drawn = draw(&histogram, &a, &Suppression::default(), &policy).unwrap();
        assert!(drawn.svg.contains("<rect"));
        let err = draw(&spec("type = \"bar\"\ndata = \"d\"\nx = \"unit\"\ny = \"nope\""), &a, &s, &policy).unwrap_err();
        assert!(err.contains("no column 'nope'"), "{err}");
    }
}
