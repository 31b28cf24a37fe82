//! The dashboard's charts, drawn by plotters as SVG from figures already
//! suppressed: a trend with its confidence band and target line, a funnel
//! plot, bars with whiskers, and a baseline/follow-up histogram pair.
//! Colours are Okabe-Ito; every meaning carried by colour is also carried by
//! a line style, a shape or the table beside the chart.

use plotters::prelude::*;
use utfall_report::chart::{FONT, PALETTE, legend, padded, plot_error, short, svg_image};

use crate::Lang;

const WIDTH: u32 = 760;
const HEIGHT: u32 = 340;
const GRID: RGBColor = RGBColor(235, 235, 235);
/// Control limits: 95% dashed, 99.8% solid, in grey.
const LIMIT: RGBColor = RGBColor(90, 90, 90);

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// An estimate with its 95% interval.
pub type Estimate = (f64, f64, f64);

/// How values are written on an axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// 0..1, written as per cent.
    Share,
    Number,
}

impl Scale {
    /// A proportion is a share; anything else a number.
    pub fn of(share: bool) -> Scale {
        if share { Scale::Share } else { Scale::Number }
    }

    pub fn axis(self, v: f64, lang: Lang) -> String {
        match self {
            Scale::Share => lang.number(&format!("{:.0}", v * 100.0)) + lang.percent_sign(),
            Scale::Number => lang.number(&short(v)),
        }
    }
}

/// One line of a trend chart: a value (or a gap) per period.
pub struct Series {
    pub label: String,
    pub points: Vec<Option<Estimate>>,
}

/// Draw SVG into a string, with an accessible name.
fn svg(alt: &str, height: u32, draw: impl FnOnce(&Area) -> Result<(), String>) -> Result<String, String> {
    svg_image(WIDTH, height, alt, draw)
}

fn no_data(root: &Area, lang: Lang) -> Result<(), String> {
    root.draw(&Text::new(
        lang.pick("Inga visbara data", "No data that can be shown").to_string(),
        (WIDTH as i32 / 2 - 110, HEIGHT as i32 / 2),
        (FONT, 18),
    ))
    .map_err(plot_error)
}

/// Periods on an evenly spaced axis, lines with their 95% bands (a gap where
/// a period is withheld), and dashed horizontal target lines.
pub fn trend(
    periods: &[String],
    series: &[Series],
    targets: &[(f64, String)],
    scale: Scale,
    alt: &str,
    lang: Lang,
) -> Result<String, String> {
    svg(alt, HEIGHT, |root| {
        let values = series.iter().flat_map(|s| s.points.iter().flatten().flat_map(|e| [e.0, e.1, e.2]));
        let values: Vec<f64> = values.chain(targets.iter().map(|t| t.0)).collect();
        if periods.is_empty() || series.iter().all(|s| s.points.iter().all(Option::is_none)) {
            return no_data(root, lang);
        }
        let (lo, hi) = padded(
            values.iter().copied().fold(f64::INFINITY, f64::min),
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        let (lo, hi) = if scale == Scale::Share { (lo.max(0.0), hi.min(1.0)) } else { (lo, hi) };
        // Room above the data for the legend.
        let hi = hi + (hi - lo) * 0.22 * (series.len() + targets.len()).min(4) as f64 / 2.0;
        let n = periods.len();
        let step = n.div_ceil(10).max(1);
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), lo..hi)
            .map_err(plot_error)?;
        let period_label = |v: &f64| {
            let i = v.round();
            let on = (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n && (i as usize).is_multiple_of(step);
            if on { periods[i as usize].clone() } else { String::new() }
        };
        chart
            .configure_mesh()
            .x_labels((n * 2).clamp(2, 80))
            .x_label_formatter(&period_label)
            .y_label_formatter(&|v| scale.axis(*v, lang))
            .light_line_style(GRID)
            .label_style((FONT, 12))
            .draw()
            .map_err(plot_error)?;
        for (k, s) in series.iter().enumerate() {
            // The first series blue, the municipality beside a unit grey.
            let color = if k == 0 { PALETTE[0] } else { PALETTE[6] };
            // Contiguous runs of shown periods: a withheld period breaks the line and the band.
            let mut runs: Vec<Vec<(f64, Estimate)>> = vec![Vec::new()];
            for (i, p) in s.points.iter().enumerate() {
                match p {
                    Some(e) => runs.last_mut().expect("one run").push((i as f64, *e)),
                    None if !runs.last().expect("one run").is_empty() => runs.push(Vec::new()),
                    None => {}
                }
            }
            for run in runs.iter().filter(|r| !r.is_empty()) {
                let band: Vec<(f64, f64)> =
                    run.iter().map(|(x, e)| (*x, e.2)).chain(run.iter().rev().map(|(x, e)| (*x, e.1))).collect();
                chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.18).filled()))).map_err(plot_error)?;
                chart
                    .draw_series(LineSeries::new(run.iter().map(|(x, e)| (*x, e.0)), color.stroke_width(2)))
                    .map_err(plot_error)?;
            }
            let style = ShapeStyle::from(color).filled();
            let points = s.points.iter().enumerate().filter_map(|(i, p)| p.map(|e| (i as f64, e.0)));
            let drawn = if k == 0 {
                chart.draw_series(points.map(|p| Circle::new(p, 3, style).into_dyn())).map_err(plot_error)?
            } else {
                chart.draw_series(points.map(|p| TriangleMarker::new(p, 5, style).into_dyn())).map_err(plot_error)?
            };
            drawn
                .label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        for (value, label) in targets {
            let target = PALETTE[5];
            chart
                .draw_series(DashedLineSeries::new(
                    [(-0.5, *value), (n as f64 - 0.5, *value)],
                    8,
                    5,
                    target.stroke_width(2),
                ))
                .map_err(plot_error)?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 8, y), (x + 12, y), (x + 18, y)], target.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

/// A unit's point on a funnel plot.
pub struct FunnelPoint {
    pub label: String,
    pub n: f64,
    pub value: f64,
}

/// Units as points (x = n, y = value), the municipality's value as the
/// centre line, and the 95% (dashed) and 99.8% (solid) control limits.
pub fn funnel(
    points: &[FunnelPoint],
    centre: f64,
    limits: &[(f64, [(f64, f64); 2])],
    scale: Scale,
    alt: &str,
    lang: Lang,
) -> Result<String, String> {
    svg(alt, HEIGHT + 40, |root| {
        if points.is_empty() || limits.is_empty() {
            return no_data(root, lang);
        }
        // The y range holds the points and the limits from half the smallest
        // unit on (the limits at n = 2 span almost everything).
        let from_n = points.iter().map(|p| p.n).fold(f64::INFINITY, f64::min) / 2.0;
        let ys: Vec<f64> = points
            .iter()
            .map(|p| p.value)
            .chain(limits.iter().filter(|(n, _)| *n >= from_n).flat_map(|(_, l)| [l[1].0, l[1].1]))
            .chain([centre])
            .collect();
        let (lo, hi) = padded(
            ys.iter().copied().fold(f64::INFINITY, f64::min),
            ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        let (lo, hi) = if scale == Scale::Share { (lo.max(0.0), hi.min(1.0)) } else { (lo, hi) };
        let x_max = limits.last().map_or(1.0, |l| l.0);
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, lo..hi)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(lang.pick("antal i nämnaren (n)", "number in the denominator (n)"))
            .x_label_formatter(&|v| lang.number(&format!("{v:.0}")))
            .y_label_formatter(&|v| scale.axis(*v, lang))
            .light_line_style(GRID)
            .label_style((FONT, 12))
            .draw()
            .map_err(plot_error)?;
        let inside = |v: &f64| (lo..=hi).contains(v);
        for (k, level) in
            [lang.pick("95 % gräns", "95% limit"), lang.pick("99,8 % gräns", "99.8% limit")].into_iter().enumerate()
        {
            for side in 0..2 {
                let line = limits
                    .iter()
                    .map(|(n, l)| (*n, if side == 0 { l[k].0 } else { l[k].1 }))
                    .filter(|(_, v)| inside(v))
                    .collect::<Vec<_>>();
                let drawn = if k == 0 {
                    chart.draw_series(DashedLineSeries::new(line, 6, 4, LIMIT.stroke_width(1))).map_err(plot_error)?
                } else {
                    chart.draw_series(LineSeries::new(line, LIMIT.stroke_width(1))).map_err(plot_error)?
                };
                if side == 0 {
                    drawn.label(level).legend(move |(x, y)| {
                        if k == 0 {
                            PathElement::new(vec![(x, y), (x + 6, y)], LIMIT.stroke_width(1))
                        } else {
                            PathElement::new(vec![(x, y), (x + 18, y)], LIMIT.stroke_width(1))
                        }
                    });
                }
            }
        }
        chart
            .draw_series(LineSeries::new([(0.0, centre), (x_max, centre)], PALETTE[7].stroke_width(2)))
            .map_err(plot_error)?
            .label(lang.pick("kommunen", "municipality"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[7].stroke_width(2)));
        let style = ShapeStyle::from(PALETTE[0]).filled();
        chart
            .draw_series(points.iter().map(|p| {
                EmptyElement::at((p.n, p.value))
                    + Circle::new((0, 0), 5, style)
                    + Text::new(p.label.clone(), (7, -14), (FONT, 11).into_font().color(&RGBColor(40, 40, 40)))
            }))
            .map_err(plot_error)?
            .label(lang.pick("enhet", "unit"))
            .legend(move |(x, y)| Circle::new((x + 9, y), 4, style));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

/// Horizontal bars with 95% whiskers, one per category (None: withheld, no
/// bar), and the municipality's value as a vertical reference line.
pub fn bars(
    rows: &[(String, Option<Estimate>)],
    reference: Option<f64>,
    scale: Scale,
    alt: &str,
    lang: Lang,
) -> Result<String, String> {
    let n = rows.len();
    let height = (n as u32 * 26 + 90).max(160);
    svg(alt, height, |root| {
        let shown: Vec<f64> = rows.iter().filter_map(|r| r.1).flat_map(|e| [e.0, e.1, e.2]).chain(reference).collect();
        if shown.is_empty() {
            return no_data(root, lang);
        }
        let top = shown.iter().copied().fold(0.0_f64, f64::max);
        let (_, top) = padded(0.0, top);
        let top = if scale == Scale::Share { top.min(1.0) } else { top };
        let longest = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(4) as u32;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size((longest * 7 + 16).clamp(60, 280))
            .build_cartesian_2d(0.0..top, -0.5..(n as f64 - 0.5))
            .map_err(plot_error)?;
        let category = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                rows[n - 1 - i as usize].0.clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n.max(2) * 2 + 1)
            .y_label_formatter(&category)
            .x_label_formatter(&|v| scale.axis(*v, lang))
            .light_line_style(GRID)
            .label_style((FONT, 12))
            .draw()
            .map_err(plot_error)?;
        let shown: Vec<(f64, Estimate)> =
            rows.iter().enumerate().filter_map(|(i, r)| r.1.map(|e| ((n - 1 - i) as f64, e))).collect();
        chart
            .draw_series(
                shown
                    .iter()
                    .map(|(y, e)| Rectangle::new([(0.0, y - 0.33), (e.0, y + 0.33)], PALETTE[0].mix(0.85).filled())),
            )
            .map_err(plot_error)?;
        chart
            .draw_series(shown.iter().map(|(y, e)| PathElement::new(vec![(e.1, *y), (e.2, *y)], BLACK.stroke_width(1))))
            .map_err(plot_error)?;
        chart
            .draw_series(shown.iter().flat_map(|(y, e)| {
                [e.1, e.2].map(|v| PathElement::new(vec![(v, y - 0.15), (v, y + 0.15)], BLACK.stroke_width(1)))
            }))
            .map_err(plot_error)?;
        if let Some(r) = reference {
            chart
                .draw_series(DashedLineSeries::new([(r, -0.5), (r, n as f64 - 0.5)], 6, 4, PALETTE[7].stroke_width(1)))
                .map_err(plot_error)?;
        }
        Ok(())
    })
}

/// Baseline and follow-up counts per bin side by side (withheld bins empty).
pub fn distribution(
    labels: &[String],
    baseline: &[Option<u64>],
    follow_up: &[Option<u64>],
    alt: &str,
    lang: Lang,
) -> Result<String, String> {
    svg(alt, 260, |root| {
        let top = baseline.iter().chain(follow_up).flatten().copied().max().unwrap_or(0);
        if top == 0 {
            return no_data(root, lang);
        }
        let n = labels.len();
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(34)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..(top as f64 * 1.1))
            .map_err(plot_error)?;
        let label = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&label)
            .y_desc(lang.pick("klienter", "clients"))
            .y_label_formatter(&|v| lang.number(&format!("{v:.0}")))
            .light_line_style(GRID)
            .label_style((FONT, 12))
            .draw()
            .map_err(plot_error)?;
        for (k, (series, name)) in [
            (baseline, lang.pick("vid start", "at baseline")),
            (follow_up, lang.pick("vid uppföljning", "at follow-up")),
        ]
        .into_iter()
        .enumerate()
        {
            let color = PALETTE[k];
            let offset = if k == 0 { -0.38 } else { 0.02 };
            chart
                .draw_series(series.iter().enumerate().filter_map(|(i, c)| {
                    c.map(|c| {
                        let x = i as f64 + offset;
                        Rectangle::new([(x, 0.0), (x + 0.36, c as f64)], color.mix(0.9).filled())
                    })
                }))
                .map_err(plot_error)?
                .label(name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (x, y) pixel pairs of every `<tag ...>` whose attributes include `with`.
    fn shapes(svg: &str, tag: &str, with: &str) -> Vec<Vec<(f64, f64)>> {
        svg.split(&format!("<{tag} "))
            .skip(1)
            .map(|rest| &rest[..rest.find("/>").unwrap()])
            .filter(|attrs| attrs.contains(with))
            .map(|attrs| {
                let p = attrs.find("points=\"").unwrap() + 8;
                let end = attrs[p..].find('"').unwrap();
                attrs[p..p + end]
                    .split_whitespace()
                    .map(|xy| {
                        let (x, y) = xy.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    const BLUE: &str = "stroke=\"#0072B2\" stroke-width=\"2\"";

    #[test]
    fn the_trend_band_is_drawn_at_the_interval() {
        let periods: Vec<String> = ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"].map(String::from).to_vec();
        let est = [(0.60, 0.50, 0.70), (0.65, 0.55, 0.72), (0.62, 0.58, 0.66), (0.40, 0.31, 0.49)];
        let series = [Series { label: "kommunen".into(), points: est.iter().map(|e| Some(*e)).collect() }];
        let svg = trend(&periods, &series, &[(0.7, "mål".into())], Scale::Share, "Trend: x", Lang::Sv).unwrap();
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"Trend: x\""), "an accessible name");
        // The line's pixels give the value -> pixel map (y = a + b v); the band's
        // vertices (the highs left to right, then the lows right to left) must follow it.
        let lines = shapes(&svg, "polyline", BLUE);
        assert_eq!(lines.len(), 2, "the series' line and its legend entry");
        let line = &lines[0];
        assert_eq!(line.len(), 4);
        // From the highest (0.65) and lowest (0.40) values: the widest base against pixel rounding.
        let b = (line[1].1 - line[3].1) / (est[1].0 - est[3].0);
        let a = line[3].1 - b * est[3].0;
        let px = |v: f64| a + b * v;
        for (p, e) in line.iter().zip(&est) {
            assert!((p.1 - px(e.0)).abs() <= 1.0, "line {p:?} vs {e:?}");
        }
        let bands = shapes(&svg, "polygon", "fill=\"#0072B2\"");
        assert_eq!(bands.len(), 1);
        let band = &bands[0];
        let want: Vec<f64> = est.iter().map(|e| e.2).chain(est.iter().rev().map(|e| e.1)).collect();
        assert_eq!(band.len(), want.len());
        for (p, v) in band.iter().zip(&want) {
            assert!((p.1 - px(*v)).abs() <= 1.0, "band vertex {p:?} should be at {v}");
        }
        // The band's x follow the periods of the line.
        assert_eq!(band[0].0, line[0].0);
        assert_eq!(band[3].0, line[3].0);
    }

    #[test]
    fn a_withheld_period_breaks_the_line_and_the_band() {
        let periods: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        let e = Some((0.5, 0.4, 0.6));
        let series = [Series { label: "k".into(), points: vec![e, e, None, e, e] }];
        let svg = trend(&periods, &series, &[], Scale::Share, "t", Lang::En).unwrap();
        assert_eq!(shapes(&svg, "polygon", "fill=\"#0072B2\"").len(), 2, "two bands");
        assert_eq!(shapes(&svg, "polyline", BLUE).len(), 2 + 1, "two runs and the legend's line");
        let empty =
            trend(&periods, &[Series { label: "k".into(), points: vec![None; 5] }], &[], Scale::Share, "t", Lang::En)
                .unwrap();
        assert!(empty.contains("No data that can be shown"));
    }

    #[test]
    fn axis_labels_follow_the_language() {
        assert_eq!(Scale::Share.axis(0.7, Lang::Sv), "70\u{a0}%");
        assert_eq!(Scale::Share.axis(0.7, Lang::En), "70%");
        assert_eq!(Scale::Number.axis(52.5, Lang::Sv), "52,5");
    }
}
