//! SVG line plots (plotters, SVG backend only).

use std::path::Path;

use plotters::prelude::*;

use super::write_text_atomic;

/// One line of a plot: a name and its (x, y) points, in x order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points.
    pub points: Vec<(f64, f64)>,
}

/// Colours of successive series (Okabe-Ito, distinguishable with colour-vision deficiencies),
/// then grey.
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// Writes a line plot of `series` as an SVG file (atomically): x on a log scale when
/// `log_x` (and every x is positive), y in [0, y_max].
pub fn write_line_plot_svg(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
) -> crate::error::Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 600)).into_drawing_area();
        root.fill(&WHITE)?;
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (x_min, x_max) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        let (x_min, x_max) = if x_min.is_finite() {
            (x_min, x_max.max(x_min * 1.0001 + 1e-9))
        } else {
            (1.0, 10.0)
        };
        let y_max = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max);
        let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .draw()?;
                for (i, s) in series.iter().enumerate() {
                    let colour = PALETTE[i % PALETTE.len()];
                    chart
                        .draw_series(LineSeries::new(
                            s.points.iter().copied(),
                            colour.stroke_width(2),
                        ))?
                        .label(s.name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                        });
                    chart.draw_series(
                        s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())),
                    )?;
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::LowerRight)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .draw()?;
            }};
        }
        if log_x && x_min > 0.0 {
            draw!(builder.build_cartesian_2d((x_min..x_max).log_scale(), 0.0..y_max)?);
        } else {
            draw!(builder.build_cartesian_2d(x_min..x_max, 0.0..y_max)?);
        }
        root.present()?;
    }
    Ok(write_text_atomic(path, &svg)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_an_svg_with_every_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.svg");
        let series = vec![
            Series {
                name: "lru".into(),
                points: vec![(10.0, 0.1), (100.0, 0.3)],
            },
            Series {
                name: "belady".into(),
                points: vec![(10.0, 0.2), (100.0, 0.35)],
            },
        ];
        write_line_plot_svg(&path, "t", "x", "y", &series, true).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("belady") && svg.contains("lru"));
        // Deterministic: the same plot twice gives the same bytes.
        let again = dir.path().join("q.svg");
        write_line_plot_svg(&again, "t", "x", "y", &series, true).unwrap();
        assert_eq!(svg, std::fs::read_to_string(&again).unwrap());
    }
}
