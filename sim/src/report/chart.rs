//! The report's figures, drawn with plotters' SVG backend into strings that the page inlines.
//!
//! Two kinds: line charts (CDFs, time series, sweep metrics with min–max error bars over seeds;
//! x linear, logarithmic or categorical) and grouped bar charts (bytes per tier). Colours are the
//! Okabe-Ito palette of `output::plot`, so figures stay distinguishable in grey print and for
//! readers with colour-vision deficiencies.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::output::plot::PALETTE;

/// Pixel size of every figure (the page scales it to the column width).
const SIZE: (u32, u32) = (760, 420);
/// Series drawn with a marker at every point when they have at most this many points.
const MARKER_MAX_POINTS: usize = 60;

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Legend label.
    pub name: String,
    /// Palette index.
    pub colour: usize,
    /// (x, y) in x order.
    pub points: Vec<(f64, f64)>,
    /// Per point, the (low, high) of an error bar; empty for none.
    pub errors: Vec<(f64, f64)>,
}

impl Line {
    /// A line without error bars.
    pub fn new(name: impl Into<String>, colour: usize, points: Vec<(f64, f64)>) -> Line {
        Line {
            name: name.into(),
            colour,
            points,
            errors: Vec::new(),
        }
    }
}

/// How the x axis maps values.
#[derive(Debug, Clone, PartialEq)]
pub enum XAxis {
    /// Linear.
    Linear,
    /// Logarithmic (every x must be positive; falls back to linear otherwise).
    Log,
    /// Categories at x = 0, 1, 2, ..., labelled by these names.
    Categories(Vec<String>),
}

/// Titles and scales of a chart.
#[derive(Debug, Clone)]
pub struct Axes<'a> {
    /// Title drawn above the plot.
    pub title: &'a str,
    /// X axis title, with its unit.
    pub x_label: &'a str,
    /// Y axis title, with its unit.
    pub y_label: &'a str,
    /// X scale.
    pub x: XAxis,
    /// Fixed top of the y axis (1 for fractions and CDFs); else the data's maximum plus 8 %.
    pub y_max: Option<f64>,
    /// Logarithmic y axis (when every value is positive; else linear from 0).
    pub log_y: bool,
    /// Where the legend goes.
    pub legend: SeriesLabelPosition,
}

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn x_range(lines: &[Line], axis: &XAxis) -> (f64, f64) {
    if let XAxis::Categories(names) = axis {
        return (-0.5, names.len().max(1) as f64 - 0.5);
    }
    let (lo, hi) = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi > lo {
        (lo, hi)
    } else if lo > 0.0 {
        (lo * 0.9, lo * 1.1)
    } else {
        (lo - 1.0, lo + 1.0)
    }
}

fn y_max(lines: &[Line], fixed: Option<f64>) -> f64 {
    if let Some(m) = fixed {
        return m;
    }
    let max = lines
        .iter()
        .flat_map(|l| {
            l.points
                .iter()
                .map(|p| p.1)
                .chain(l.errors.iter().map(|e| e.1))
        })
        .filter(|y| y.is_finite())
        .fold(0.0f64, f64::max);
    if max > 0.0 { max * 1.08 } else { 1.0 }
}

/// The positive y range of a log axis: the data's span widened by 20 % each way.
fn y_log_range(lines: &[Line]) -> Option<(f64, f64)> {
    let ys = lines.iter().flat_map(|l| {
        l.points
            .iter()
            .map(|p| p.1)
            .chain(l.errors.iter().flat_map(|e| [e.0, e.1]))
    });
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    (lo > 0.0 && lo.is_finite() && hi.is_finite()).then(|| (lo / 1.2, hi * 1.2))
}

/// A tick label: integers without decimals, others to four significant digits with trailing
/// zeros dropped, scientific below 0.001.
fn tick(v: f64) -> String {
    let a = v.abs();
    if v == v.trunc() && a < 1e15 {
        format!("{}", v as i64)
    } else if a >= 1e-3 {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.decimals$}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.1e}")
    }
}

fn category_label(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

/// Draws a line chart and returns its SVG.
pub fn line_chart(axes: &Axes, lines: &[Line]) -> crate::error::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let (x_lo, x_hi) = x_range(lines, &axes.x);
        let y_hi = y_max(lines, axes.y_max);
        let log = axes.x == XAxis::Log && x_lo > 0.0;
        let y_log = if axes.log_y { y_log_range(lines) } else { None };
        let mut builder = chart_builder(&root, axes.title);
        let categories = match &axes.x {
            XAxis::Categories(names) => Some(names.as_slice()),
            _ => None,
        };
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                let mut mesh = chart.configure_mesh();
                mesh.x_desc(axes.x_label)
                    .y_desc(axes.y_label)
                    .label_style(("sans-serif", 16))
                    .axis_desc_style(("sans-serif", 18));
                let label = |x: &f64| match categories {
                    Some(names) => category_label(names, *x),
                    None => tick(*x),
                };
                let y_tick = |y: &f64| tick(*y);
                mesh.x_label_formatter(&label).y_label_formatter(&y_tick);
                match categories {
                    Some(names) => {
                        mesh.x_labels(names.len() * 2 + 1).disable_x_mesh();
                    }
                    // Fewer ticks than plotters' default keep the labels of a log axis over
                    // several decades apart; over fewer, the default's are needed.
                    None if log && x_hi / x_lo >= 100.0 => {
                        mesh.x_labels(8);
                    }
                    None => {}
                }
                mesh.draw()?;
                for line in lines {
                    let c = colour(line.colour);
                    // Thinner strokes where many long lines overlap (per-instance series).
                    let busy = lines.len() > 2 && line.points.len() > MARKER_MAX_POINTS;
                    let style = c.stroke_width(if busy { 1 } else { 2 });
                    chart
                        .draw_series(LineSeries::new(line.points.iter().copied(), style))?
                        .label(line.name.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
                    if line.points.len() <= MARKER_MAX_POINTS {
                        chart.draw_series(
                            line.points.iter().map(|&p| Circle::new(p, 3, c.filled())),
                        )?;
                    }
                    chart.draw_series(line.points.iter().zip(&line.errors).map(
                        |(&(x, y), &(lo, hi))| {
                            ErrorBar::new_vertical(x, lo, y, hi, c.stroke_width(1), 8)
                        },
                    ))?;
                }
                legend(&mut chart, axes.legend.clone(), lines.len())?;
            }};
        }
        match (log, y_log) {
            (true, Some((y_lo, y_hi))) => draw!(
                builder.build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())?
            ),
            (true, None) => {
                draw!(builder.build_cartesian_2d((x_lo..x_hi).log_scale(), 0.0..y_hi)?)
            }
            (false, Some((y_lo, y_hi))) => {
                draw!(builder.build_cartesian_2d(x_lo..x_hi, (y_lo..y_hi).log_scale())?)
            }
            (false, None) => draw!(builder.build_cartesian_2d(x_lo..x_hi, 0.0..y_hi)?),
        }
        root.present()?;
    }
    Ok(svg)
}

/// One group of bars: a name (legend), a palette index and a value per category.
#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    /// Legend label.
    pub name: String,
    /// Palette index.
    pub colour: usize,
    /// One value per category.
    pub values: Vec<f64>,
}

/// Draws a grouped bar chart (one cluster of bars per category) and returns its SVG.
pub fn bar_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    categories: &[String],
    groups: &[Bars],
) -> crate::error::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let top = groups
            .iter()
            .flat_map(|g| g.values.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.08 } else { 1.0 };
        let mut chart = chart_builder(&root, title)
            .build_cartesian_2d(-0.5..categories.len().max(1) as f64 - 0.5, 0.0..top)?;
        let label = |x: &f64| category_label(categories, *x);
        let y_tick = |y: &f64| tick(*y);
        chart
            .configure_mesh()
            .y_label_formatter(&y_tick)
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .x_labels(categories.len() * 2 + 1)
            .x_label_formatter(&label)
            .disable_x_mesh()
            .draw()?;
        let width = 0.8 / groups.len().max(1) as f64;
        for (g, bars) in groups.iter().enumerate() {
            let c = colour(bars.colour);
            chart
                .draw_series(bars.values.iter().enumerate().map(|(i, &v)| {
                    let x0 = i as f64 - 0.4 + g as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.92, v)], c.filled())
                }))?
                .label(bars.name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight, groups.len())?;
        root.present()?;
    }
    Ok(svg)
}

fn chart_builder<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, ("sans-serif", 21))
        .margin(12)
        .x_label_area_size(54)
        .y_label_area_size(84);
    builder
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    series: usize,
) -> crate::error::Result<()> {
    if series > 1 {
        chart
            .configure_series_labels()
            .position(position)
            .label_font(("sans-serif", 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| crate::error::internal(format!("cannot draw a legend: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes(x: XAxis) -> Axes<'static> {
        Axes {
            title: "title",
            x_label: "x (s)",
            y_label: "y (ms)",
            x,
            y_max: None,
            log_y: false,
            legend: SeriesLabelPosition::UpperRight,
        }
    }

    #[test]
    fn line_chart_has_titles_legend_and_error_bars() {
        let mut a = Line::new("alpha", 0, vec![(1.0, 2.0), (10.0, 3.0)]);
        a.errors = vec![(1.5, 2.5), (2.0, 4.0)];
        let b = Line::new("beta", 1, vec![(1.0, 1.0), (10.0, 1.0)]);
        let svg = line_chart(&axes(XAxis::Log), &[a.clone(), b.clone()]).unwrap();
        for text in ["title", "x (s)", "y (ms)", "alpha", "beta"] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert!(svg.starts_with("<svg"));
        // Deterministic.
        assert_eq!(svg, line_chart(&axes(XAxis::Log), &[a, b]).unwrap());
    }

    #[test]
    fn categorical_axis_labels_each_category() {
        let names = vec!["round-robin".to_string(), "cache-aware".to_string()];
        let line = Line::new("m", 0, vec![(0.0, 1.0), (1.0, 2.0)]);
        let svg = line_chart(&axes(XAxis::Categories(names)), &[line]).unwrap();
        assert!(svg.contains("round-robin") && svg.contains("cache-aware"));
        let svg = bar_chart(
            "bytes",
            "tier",
            "GB",
            &["dram".into(), "ssd".into()],
            &[Bars {
                name: "read".into(),
                colour: 0,
                values: vec![1.0, 2.0],
            }],
        )
        .unwrap();
        assert!(svg.contains("dram") && svg.contains("ssd") && svg.contains("GB"));
    }

    #[test]
    fn ticks_are_short_and_log_y_needs_positive_values() {
        assert_eq!(tick(100.0), "100");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(0.1 + 0.2), "0.3");
        assert_eq!(tick(0.00012), "1.2e-4");
        assert_eq!(tick(0.0125), "0.0125");
        assert_eq!(tick(1234.25), "1234");
        let line = Line::new("m", 0, vec![(1.0, 10.0), (2.0, 1000.0)]);
        assert_eq!(
            y_log_range(std::slice::from_ref(&line)),
            Some((10.0 / 1.2, 1200.0))
        );
        let zero = Line::new("z", 0, vec![(1.0, 0.0)]);
        assert_eq!(y_log_range(&[line.clone(), zero]), None);
        let mut a = axes(XAxis::Log);
        a.log_y = true;
        assert!(line_chart(&a, &[line]).is_ok());
    }

    #[test]
    fn empty_and_degenerate_data_do_not_fail() {
        assert!(line_chart(&axes(XAxis::Linear), &[]).is_ok());
        let single = Line::new("one", 0, vec![(5.0, 0.0)]);
        assert!(line_chart(&axes(XAxis::Log), &[single]).is_ok());
    }
}
