//! The report of a sweep folder: each metric of `summary.parquet` against each swept parameter,
//! one line per combination of the other parameters' values, the mean over seeds with an error
//! bar from the lowest to the highest seed; then every point in a table sortable by any column.

use std::path::Path;

use plotters::prelude::SeriesLabelPosition;

use super::chart::{self, Axes, Line, XAxis};
use super::data::{Cell, ParquetTable, read_yaml, yaml_at, yaml_text};
use super::html::{Page, escape, number_cell, table, text_cell};
use crate::error::input_error;

/// Whether `dir` looks like a sweep's output folder.
pub fn is_sweep_folder(dir: &Path) -> bool {
    dir.join("sweep.resolved.yaml").is_file() && dir.join("summary.parquet").is_file()
}

/// A metric drawn against the parameters: column, name, y-axis title (with unit), and whether
/// it is drawn only when some point has a non-zero value (features a sweep may not use).
struct Metric {
    column: &'static str,
    name: &'static str,
    y_label: &'static str,
    only_if_nonzero: bool,
}

const fn m(column: &'static str, name: &'static str, y_label: &'static str) -> Metric {
    Metric {
        column,
        name,
        y_label,
        only_if_nonzero: false,
    }
}

const fn optional(column: &'static str, name: &'static str, y_label: &'static str) -> Metric {
    Metric {
        column,
        name,
        y_label,
        only_if_nonzero: true,
    }
}

const METRICS: [Metric; 17] = [
    m("ttft_ms_p50", "TTFT p50", "TTFT p50 (ms)"),
    m("ttft_ms_p90", "TTFT p90", "TTFT p90 (ms)"),
    m("ttft_ms_p99", "TTFT p99", "TTFT p99 (ms)"),
    m("tpot_ms_p50", "TPOT p50", "TPOT p50 (ms)"),
    m("tpot_ms_p90", "TPOT p90", "TPOT p90 (ms)"),
    m("e2e_ms_p50", "E2E p50", "E2E p50 (ms)"),
    m("e2e_ms_p90", "E2E p90", "E2E p90 (ms)"),
    m(
        "block_hit_ratio",
        "block hit ratio",
        "hit blocks / prompt blocks",
    ),
    m(
        "throughput_tokens_per_s",
        "output throughput",
        "output tokens/s",
    ),
    m(
        "gpu_busy_fraction",
        "GPU busy",
        "busy fraction (mean over instances)",
    ),
    optional(
        "requests_rejected",
        "requests rejected",
        "requests rejected",
    ),
    optional(
        "metadata_share_of_ttft",
        "metadata share of TTFT",
        "metadata time / TTFT",
    ),
    optional(
        "dram_block_hit_ratio",
        "DRAM hit ratio",
        "DRAM hit blocks / prompt blocks",
    ),
    optional(
        "ssd_block_hit_ratio",
        "SSD hit ratio",
        "SSD hit blocks / prompt blocks",
    ),
    optional(
        "remote_block_hit_ratio",
        "remote hit ratio",
        "remote hit blocks / prompt blocks",
    ),
    optional("preemptions", "preemptions", "preemptions"),
    optional(
        "recomputed_tokens",
        "recomputed tokens",
        "tokens recomputed",
    ),
];

/// The unit of a parameter, guessed from how its path ends (README: units are in names).
fn parameter_unit(path: &str) -> &'static str {
    let last = path.rsplit('.').next().unwrap_or(path);
    let suffixes = [
        ("_blocks", "blocks"),
        ("_tokens", "tokens"),
        ("_per_s", "per second"),
        ("_gb", "GB"),
        ("_us", "us"),
        ("_s", "s"),
        ("_fraction", "fraction"),
        ("instances", "count"),
        ("rate_scale", "x arrival rate"),
        ("threads", "count"),
    ];
    suffixes
        .iter()
        .find(|(s, _)| last.ends_with(s))
        .map_or("value", |(_, u)| u)
}

/// Whether positive values span two decades or more (then a log y axis reads better).
fn spans_decades(values: &[f64]) -> bool {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    lo > 0.0 && hi / lo >= 100.0
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Null => "null".into(),
        // Parameter values as written (shortest round-trip form: 0.5, 800).
        Cell::Num(v) => format!("{v}"),
        Cell::Bool(b) => b.to_string(),
        Cell::Text(s) => s.clone(),
    }
}

/// A sweep folder, read.
pub struct SweepFolder {
    label: String,
    resolved: serde_norway::Value,
    parameters: Vec<String>,
    summary: ParquetTable,
}

impl SweepFolder {
    /// Reads `sweep.resolved.yaml` and `summary.parquet` of `dir`.
    pub fn read(dir: &Path, label: String) -> crate::error::Result<SweepFolder> {
        let resolved_path = dir.join("sweep.resolved.yaml");
        let resolved = read_yaml(&resolved_path)?;
        let parameters = resolved
            .get("parameters")
            .and_then(|p| p.as_sequence())
            .ok_or_else(|| {
                input_error(format!("{}: no `parameters` list", resolved_path.display()))
            })?
            .iter()
            .map(yaml_text)
            .collect();
        Ok(SweepFolder {
            label,
            resolved,
            parameters,
            summary: ParquetTable::read(&dir.join("summary.parquet"))?,
        })
    }
}

/// Renders the report of a sweep.
pub fn render(sweep: &SweepFolder) -> crate::error::Result<String> {
    let s = &sweep.summary;
    let mut page = Page::new(&format!("kvcsim sweep: {}", sweep.label));
    let status = if s.has("status") {
        s.cells("status")?
    } else {
        vec![Cell::Text("ok".into()); s.len()]
    };
    let ok: Vec<bool> = status
        .iter()
        .map(|c| *c == Cell::Text("ok".into()))
        .collect();
    let params: Vec<(String, Vec<Cell>)> = sweep
        .parameters
        .iter()
        .map(|p| Ok((p.clone(), s.cells(p)?)))
        .collect::<crate::error::Result<_>>()?;

    page.heading("Sweep");
    page.raw(&header_table(sweep, &params, &ok)?);
    let params = axes_of(&sweep.resolved, params);

    page.heading("Metrics against parameters");
    page.paragraph(
        "Each point is the mean over the seeds of the points with those parameter values; the \
         error bar spans the lowest to the highest seed. Failed points are left out.",
    );
    for metric in &METRICS {
        if !s.has(metric.column) || !s.is_numeric(metric.column) {
            continue;
        }
        let y = s.f64s(metric.column)?;
        let present: Vec<f64> = y
            .iter()
            .zip(&ok)
            .filter(|(v, ok)| **ok && v.is_finite())
            .map(|(v, _)| *v)
            .collect();
        if present.is_empty() || (metric.only_if_nonzero && present.iter().all(|v| *v == 0.0)) {
            continue;
        }
        for (pi, (path, values)) in params.iter().enumerate() {
            let others: Vec<&(String, Vec<Cell>)> = params
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != pi)
                .map(|(_, p)| p)
                .collect();
            let (x_axis, xs) = x_positions(values);
            let lines = lines_of(&y, &ok, &xs, &others);
            let unit = if path.contains(" + ") {
                "values advancing together"
            } else {
                parameter_unit(path)
            };
            let log_y = spans_decades(&present);
            let x_label = match x_axis {
                XAxis::Log => format!("{path} ({unit}, log scale)"),
                _ => format!("{path} ({unit})"),
            };
            let title = format!("{} against {path}", metric.name);
            let a = Axes {
                title: &title,
                x_label: &x_label,
                y_label: metric.y_label,
                x: x_axis,
                y_max: None,
                log_y,
                legend: SeriesLabelPosition::UpperRight,
            };
            let lines_are = if others.is_empty() {
                "one line".to_string()
            } else {
                format!(
                    "one line per value of {}",
                    others
                        .iter()
                        .map(|(p, _)| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            page.figure(
                &format!("fig-sweep-{}-vs-{}", metric.column, path.replace(" + ", "+")),
                &chart::line_chart(&a, &lines)?,
                &format!(
                    "{} ({}) of each point against {path}, {lines_are}; mean over seeds, bars from min to max{}.",
                    metric.name,
                    metric.column,
                    if log_y { "; log y" } else { "" }
                ),
            );
        }
    }

    page.heading("Points");
    page.paragraph("Every point of summary.parquet (columns null at every point left out). Click a column header to sort.");
    page.raw(&points_table(s)?);
    Ok(page.finish())
}

fn header_table(
    sweep: &SweepFolder,
    params: &[(String, Vec<Cell>)],
    ok: &[bool],
) -> crate::error::Result<String> {
    let r = &sweep.resolved;
    let text = |p: &str| yaml_at(r, p).map(yaml_text).unwrap_or_else(|| "?".into());
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, value: String| {
        rows.push((
            String::new(),
            vec![format!("<th>{}</th>", escape(name)), text_cell(&value)],
        ));
    };
    let failed = ok.iter().filter(|o| !**o).count();
    row(
        "points",
        format!("{} ({} ok, {failed} failed)", ok.len(), ok.len() - failed),
    );
    for (path, values) in params {
        let mut distinct: Vec<String> = Vec::new();
        for v in values {
            let t = cell_text(v);
            if !distinct.contains(&t) {
                distinct.push(t);
            }
        }
        row(&format!("parameter {path}"), distinct.join(", "));
    }
    if sweep.summary.has("seed") {
        let mut seeds: Vec<String> = Vec::new();
        for c in sweep.summary.cells("seed")? {
            let t = cell_text(&c);
            if !seeds.contains(&t) {
                seeds.push(t);
            }
        }
        row("seeds", seeds.join(", "));
    }
    for (name, path) in [
        ("model", "spec.base.model"),
        ("instances", "spec.base.cluster.instances"),
        ("GPU", "spec.base.cluster.gpu"),
        ("router (base)", "spec.base.router.kind"),
    ] {
        if yaml_at(r, path).is_some() {
            row(name, text(path));
        }
    }
    if let Some(set) = yaml_at(r, "spec.set").filter(|s| !s.is_null()) {
        row("set on every point", yaml_text(set));
    }
    if yaml_at(r, "shard").is_some() {
        row("shard", text("shard"));
    }
    row("spec hash", text("spec_hash"));
    row("kvcsim version", text("kvcsim_version"));
    Ok(table("sweep", "", &[], &rows))
}

/// The sweep's axes: a parameter alone, or the parameters of a `zip` (which advance together)
/// as one axis named `a + b`, its values `x / y`.
fn axes_of(
    resolved: &serde_norway::Value,
    params: Vec<(String, Vec<Cell>)>,
) -> Vec<(String, Vec<Cell>)> {
    let zips: Vec<Vec<String>> = yaml_at(resolved, "spec.parameters")
        .and_then(|p| p.as_sequence())
        .into_iter()
        .flatten()
        .filter_map(|axis| axis.get("zip")?.as_sequence())
        .map(|zip| {
            zip.iter()
                .filter_map(|p| p.get("path").map(yaml_text))
                .collect()
        })
        .collect();
    let mut axes: Vec<(String, Vec<Cell>)> = Vec::new();
    for (path, cells) in &params {
        let Some(zip) = zips.iter().find(|z| z.contains(path)) else {
            axes.push((path.clone(), cells.clone()));
            continue;
        };
        if zip.first() != Some(path) {
            continue;
        }
        let members: Vec<&(String, Vec<Cell>)> =
            params.iter().filter(|(p, _)| zip.contains(p)).collect();
        let joined = (0..cells.len())
            .map(|row| {
                let values: Vec<String> = members.iter().map(|(_, c)| cell_text(&c[row])).collect();
                Cell::Text(values.join(" / "))
            })
            .collect();
        let name = members.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>();
        axes.push((name.join(" + "), joined));
    }
    axes
}

/// X positions of a parameter's values: numbers where every value is one (log scale when all
/// are positive and span a factor of 4 or more), else categories in first-seen order.
fn x_positions(values: &[Cell]) -> (XAxis, Vec<f64>) {
    let numbers: Option<Vec<f64>> = values
        .iter()
        .map(|c| match c {
            Cell::Num(v) => Some(*v),
            _ => None,
        })
        .collect();
    if let Some(xs) = numbers.filter(|xs| !xs.is_empty()) {
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let axis = if lo > 0.0 && hi / lo >= 4.0 {
            XAxis::Log
        } else {
            XAxis::Linear
        };
        return (axis, xs);
    }
    let mut names: Vec<String> = Vec::new();
    let xs = values
        .iter()
        .map(|c| {
            let t = cell_text(c);
            let i = names.iter().position(|n| *n == t).unwrap_or_else(|| {
                names.push(t);
                names.len() - 1
            });
            i as f64
        })
        .collect();
    (XAxis::Categories(names), xs)
}

/// One line per combination of the other parameters (first-seen order): per x, the mean of
/// `y` over the ok points, with (min, max) error bars.
fn lines_of(y: &[f64], ok: &[bool], xs: &[f64], others: &[&(String, Vec<Cell>)]) -> Vec<Line> {
    /// A line's key (the other parameters' values) and, per x, the values over seeds.
    type Group = (String, Vec<(f64, Vec<f64>)>);
    let mut groups: Vec<Group> = Vec::new();
    for row in 0..y.len() {
        if !ok[row] || !y[row].is_finite() {
            continue;
        }
        let key = others
            .iter()
            .map(|(p, v)| format!("{p}={}", cell_text(&v[row])))
            .collect::<Vec<_>>()
            .join(", ");
        let g = match groups.iter().position(|(k, _)| *k == key) {
            Some(g) => g,
            None => {
                groups.push((key, Vec::new()));
                groups.len() - 1
            }
        };
        let points = &mut groups[g].1;
        match points.iter_mut().find(|(x, _)| *x == xs[row]) {
            Some((_, ys)) => ys.push(y[row]),
            None => points.push((xs[row], vec![y[row]])),
        }
    }
    groups
        .into_iter()
        .enumerate()
        .map(|(i, (key, mut points))| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut line = Line::new(
                if key.is_empty() { "all".into() } else { key },
                i,
                Vec::new(),
            );
            for (x, ys) in points {
                let mean = ys.iter().sum::<f64>() / ys.len() as f64;
                let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                line.points.push((x, mean));
                line.errors.push((lo, hi));
            }
            line
        })
        .collect()
}

/// Every row of `summary.parquet`; numbers carry `data-col` and their exact `data-v`.
fn points_table(s: &ParquetTable) -> crate::error::Result<String> {
    let mut columns: Vec<(String, Vec<Cell>)> = Vec::new();
    for name in s.columns() {
        let cells = s.cells(&name)?;
        if cells.iter().any(|c| *c != Cell::Null) {
            columns.push((name, cells));
        }
    }
    let point_ids = s.f64s("point_id")?;
    let head: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    let rows = (0..s.len())
        .map(|row| {
            let cells = columns
                .iter()
                .map(|(name, cells)| match &cells[row] {
                    Cell::Num(v) => number_cell(*v, &format!(" data-col=\"{}\"", escape(name))),
                    Cell::Null => "<td></td>".to_string(),
                    other => text_cell(&cell_text(other)),
                })
                .collect();
            (format!(" data-point=\"{}\"", point_ids[row]), cells)
        })
        .collect::<Vec<_>>();
    Ok(table("points", "sortable", &head, &rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_average_with_min_max_bars_per_combination_of_the_others() {
        // Two capacities x two routers x two seeds.
        let cap = |v: f64| Cell::Num(v);
        let router = |s: &str| Cell::Text(s.into());
        let capacity: Vec<Cell> = [100.0, 100.0, 100.0, 100.0, 800.0, 800.0, 800.0, 800.0]
            .map(cap)
            .to_vec();
        let routers: Vec<Cell> = ["rr", "rr", "ca", "ca", "rr", "rr", "ca", "ca"]
            .map(router)
            .to_vec();
        let y = [1.0, 3.0, 10.0, 20.0, 5.0, 5.0, f64::NAN, 40.0];
        let ok = [true, true, true, true, true, true, true, false];
        let (axis, xs) = x_positions(&capacity);
        assert_eq!(axis, XAxis::Log);
        let other = ("router.kind".to_string(), routers);
        let lines = lines_of(&y, &ok, &xs, &[&other]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].name, "router.kind=rr");
        assert_eq!(lines[0].points, vec![(100.0, 2.0), (800.0, 5.0)]);
        assert_eq!(lines[0].errors, vec![(1.0, 3.0), (5.0, 5.0)]);
        // The null value and the failed point are left out.
        assert_eq!(lines[1].points, vec![(100.0, 15.0)]);
        assert_eq!(lines[1].errors, vec![(10.0, 20.0)]);
    }

    #[test]
    fn failed_points_are_listed_with_their_error_and_left_out_of_figures() {
        use crate::output::{Column, Table};
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("sweep.resolved.yaml"),
            "kvcsim_version: 0.1.0\nspec_hash: 0\nparameters: [cache.capacity_blocks]\nspec: {}\npoints: []\n",
        )
        .unwrap();
        Table::new()
            .with("point_id", Column::U64(vec![0, 1, 2]))
            .with(
                "cache.capacity_blocks",
                Column::OptI64(vec![Some(100), Some(200), Some(400)]),
            )
            .with("seed", Column::U64(vec![1, 1, 1]))
            .with(
                "ttft_ms_p50",
                Column::OptF64(vec![Some(5.0), None, Some(2.0)]),
            )
            .with(
                "status",
                Column::Str(vec![
                    Some("ok".into()),
                    Some("failed".into()),
                    Some("ok".into()),
                ]),
            )
            .with(
                "error",
                Column::Str(vec![None, Some("line 3: bad <json>".into()), None]),
            )
            .write_parquet(&dir.path().join("summary.parquet"))
            .unwrap();
        assert!(is_sweep_folder(dir.path()));
        let html = render(&SweepFolder::read(dir.path(), "s".into()).unwrap()).unwrap();
        assert!(html.contains("3 (2 ok, 1 failed)"), "header");
        assert!(
            html.contains("line 3: bad &lt;json&gt;"),
            "error listed, escaped"
        );
        let fig = &html[html
            .find("id=\"fig-sweep-ttft_ms_p50-vs-cache.capacity_blocks\"")
            .unwrap()..];
        assert!(fig[..fig.find("</figure>").unwrap()].contains("<svg"));
        let failed = &html[html.find("<tr data-point=\"1\"").unwrap()..];
        let failed = &failed[..failed.find("</tr>").unwrap()];
        assert!(!failed.contains("data-col=\"ttft_ms_p50\""), "{failed}");
        // Figures of metrics the file lacks are not drawn.
        assert!(!html.contains("fig-sweep-tpot_ms_p50"));
    }

    #[test]
    fn a_zip_is_one_axis() {
        let resolved: serde_norway::Value = serde_norway::from_str(
            "spec:\n  parameters:\n  - {path: a, values: [1, 2]}\n  - zip:\n    - {path: b, values: [x, y]}\n    - {path: c, values: [3, 4]}\n",
        )
        .unwrap();
        let params = vec![
            ("a".to_string(), vec![Cell::Num(1.0), Cell::Num(2.0)]),
            (
                "b".to_string(),
                vec![Cell::Text("x".into()), Cell::Text("y".into())],
            ),
            ("c".to_string(), vec![Cell::Num(3.0), Cell::Num(4.0)]),
        ];
        let axes = axes_of(&resolved, params);
        assert_eq!(axes.len(), 2);
        assert_eq!(axes[1].0, "b + c");
        assert_eq!(
            axes[1].1,
            vec![Cell::Text("x / 3".into()), Cell::Text("y / 4".into())]
        );
    }

    #[test]
    fn text_parameters_are_categories_in_first_seen_order() {
        let v = ["b", "a", "b"].map(|s| Cell::Text(s.into())).to_vec();
        let (axis, xs) = x_positions(&v);
        assert_eq!(axis, XAxis::Categories(vec!["b".into(), "a".into()]));
        assert_eq!(xs, vec![0.0, 1.0, 0.0]);
        assert_eq!(parameter_unit("cache.capacity_blocks"), "blocks");
        assert_eq!(parameter_unit("router.kind"), "value");
    }
}
