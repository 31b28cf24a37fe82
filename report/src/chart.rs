//! The plotters helpers every chart shares: palette, font, padding,
//! legend, and an SVG with an accessible name.

use chrono::NaiveDate;
use plotters::prelude::*;

pub const FONT: &str = "sans-serif";

/// Okabe-Ito: distinguishable with the common colour-vision deficiencies.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

pub fn date_label(days: f64, month_only: bool) -> String {
    let date = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid") + chrono::Duration::days(days.round() as i64);
    if month_only { date.format("%Y-%m").to_string() } else { date.format("%Y-%m-%d").to_string() }
}

/// Round-number bounds with a little room.
pub fn padded(min: f64, max: f64) -> (f64, f64) {
    if !(min.is_finite() && max.is_finite()) {
        return (0.0, 1.0);
    }
    if (max - min).abs() < f64::EPSILON {
        let pad = if min == 0.0 { 1.0 } else { min.abs() * 0.1 };
        return (min - pad, max + pad);
    }
    let pad = (max - min) * 0.05;
    (min - pad, max + pad)
}

/// The series' legend in a corner, on a light box.
pub fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font((FONT, 12))
        .draw()
        .map_err(plot_error)
}

/// An SVG drawn by `draw` on a white `width` x `height` canvas, with
/// `role="img"` and `alt` as its accessible name.
pub fn svg_image(
    width: u32,
    height: u32,
    alt: &str,
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        draw(&root)?;
        root.present().map_err(plot_error)?;
    }
    let alt = crate::escape(alt);
    Ok(out.replacen("<svg ", &format!("<svg role=\"img\" aria-label=\"{alt}\" "), 1))
}

pub fn plot_error<E: std::fmt::Debug>(e: E) -> String {
    format!("drawing the chart: {e:?}")
}

/// A compact axis label.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1} M", v / 1e6)
    } else if a >= 100.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(short(1234567.0), "1.2 M");
        assert_eq!(short(0.256), "0.26");
        assert_eq!(date_label(19723.0, true), "2024-01");
        assert_eq!(padded(0.0, 0.0), (-1.0, 1.0));
    }

    #[test]
    fn an_svg_has_its_name() {
        let svg = svg_image(20, 10, "a <chart>", |_| Ok(())).unwrap();
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"a &lt;chart&gt;\" "), "{svg}");
    }
}
