//! The report of one run folder, or of several overlaid (one colour per run).
//!
//! ```text
//!  scenario.resolved.yaml ─▶ header (model, GPUs, router, cache, tiers, metadata, seed, version)
//!  summary.json           ─▶ summary tables (every number, exact value in data-v)
//!  requests.parquet       ─▶ CDFs of TTFT, TPOT, E2E; metadata share; preemptions if present
//!  timeseries.parquet     ─▶ load, batch, GPU, cache and hit ratio over time; hits by tier
//!  transfers.parquet      ─▶ bytes transferred over time (only when the file exists)
//! ```

use std::path::{Path, PathBuf};

use plotters::prelude::SeriesLabelPosition;
use serde_json::Value;

use super::chart::{self, Axes, Line, XAxis};
use super::data::{ParquetTable, read_json, read_yaml, yaml_at, yaml_text};
use super::html::{Page, table, text_cell};
use super::series::{self, Combine, Sample};
use super::{optional, summary_tables};
use crate::error::input_error;

/// A run's output folder, read.
pub struct RunFolder {
    /// Name in legends and table headers.
    pub label: String,
    /// The folder.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary: Value,
    /// `scenario.resolved.yaml`, when present.
    pub scenario: Option<serde_norway::Value>,
    /// `requests.parquet`.
    pub requests: ParquetTable,
    /// `timeseries.parquet`.
    pub timeseries: ParquetTable,
    /// `transfers.parquet`, when present.
    pub transfers: Option<ParquetTable>,
}

/// Whether `dir` looks like a run's output folder.
pub fn is_run_folder(dir: &Path) -> bool {
    dir.join("summary.json").is_file() && dir.join("requests.parquet").is_file()
}

impl RunFolder {
    /// Reads a run folder; `label` names it in the report.
    pub fn read(dir: &Path, label: String) -> crate::error::Result<RunFolder> {
        for f in ["summary.json", "requests.parquet", "timeseries.parquet"] {
            if !dir.join(f).is_file() {
                return Err(input_error(format!(
                    "{}: not a run's output folder (no {f})",
                    dir.display()
                )));
            }
        }
        let scenario_path = dir.join("scenario.resolved.yaml");
        let transfers_path = dir.join("transfers.parquet");
        Ok(RunFolder {
            label,
            dir: dir.to_path_buf(),
            summary: read_json(&dir.join("summary.json"))?,
            scenario: scenario_path
                .is_file()
                .then(|| read_yaml(&scenario_path))
                .transpose()?,
            requests: ParquetTable::read(&dir.join("requests.parquet"))?,
            timeseries: ParquetTable::read(&dir.join("timeseries.parquet"))?,
            transfers: transfers_path
                .is_file()
                .then(|| ParquetTable::read(&transfers_path))
                .transpose()?,
        })
    }

    /// Tiers configured, as `summary.json` lists them (`hbm` first).
    pub(super) fn tiers(&self) -> Vec<String> {
        self.summary["tiers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["tier"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn scenario_text(&self, path: &str) -> Option<String> {
        self.scenario
            .as_ref()
            .and_then(|s| yaml_at(s, path))
            .map(yaml_text)
    }

    fn instances(&self) -> crate::error::Result<usize> {
        let ids = self.timeseries.f64s("instance")?;
        Ok(ids.iter().fold(0.0f64, |m, &i| m.max(i + 1.0)) as usize)
    }
}

/// Renders the report of `runs` (one, or several compared).
pub fn render(runs: &[RunFolder]) -> crate::error::Result<String> {
    let title = match runs {
        [one] => format!("kvcsim run: {}", one.label),
        _ => format!("kvcsim: {} runs compared", runs.len()),
    };
    let mut page = Page::new(&title);
    page.heading("Scenario");
    page.raw(&scenario_table(runs));
    page.heading("Summary");
    page.paragraph(
        "Every number of summary.json (hover a cell or read its data-v attribute for the exact \
         value). Latencies are means and Hyndman-Fan type-8 percentiles over completed requests.",
    );
    page.raw(&summary_tables::render(runs));
    latency_figures(&mut page, runs)?;
    time_figures(&mut page, runs)?;
    optional::tier_figures(&mut page, runs)?;
    optional::metadata_figures(&mut page, runs)?;
    optional::preemption_figures(&mut page, runs)?;
    optional::transfer_figures(&mut page, runs)?;
    Ok(page.finish())
}

/// Header rows: label and the dotted path(s) they show.
fn scenario_table(runs: &[RunFolder]) -> String {
    let mut head = vec!["".to_string()];
    head.extend(runs.iter().map(|r| r.label.clone()));
    let mut rows = Vec::new();
    let mut row = |name: &str, f: &dyn Fn(&RunFolder) -> String| {
        let mut cells = vec![format!("<th>{}</th>", super::html::escape(name))];
        cells.extend(runs.iter().map(|r| text_cell(&f(r))));
        rows.push((String::new(), cells));
    };
    let get = |r: &RunFolder, p: &str| r.scenario_text(p).unwrap_or_else(|| "?".into());
    row("folder", &|r| r.dir.display().to_string());
    row("workload", &|r| workload_text(r));
    row("model", &|r| get(r, "model"));
    row("GPUs", &|r| {
        let (n, tp) = (
            get(r, "cluster.instances"),
            get(r, "cluster.tensor_parallel"),
        );
        let total = n.parse::<u64>().ok().zip(tp.parse::<u64>().ok());
        let total = total.map_or("?".into(), |(n, tp)| (n * tp).to_string());
        format!(
            "{total} x {} ({n} instances x TP {tp})",
            get(r, "cluster.gpu")
        )
    });
    row("router", &|r| get(r, "router.kind"));
    row("scheduler", &|r| {
        format!(
            "max {} batch tokens, {} running, chunked prefill {}",
            get(r, "cluster.scheduler.max_batch_tokens"),
            get(r, "cluster.scheduler.max_running"),
            get(r, "cluster.scheduler.chunked_prefill")
        )
    });
    row("HBM cache", &|r| {
        let cap = r
            .scenario_text("cache.capacity_blocks")
            .filter(|c| c != "none")
            .map_or("derived from HBM".into(), |c| format!("{c} blocks"));
        format!(
            "{cap} per instance, eviction {}",
            get(r, "cache.eviction.kind")
        )
    });
    row("lower tiers", &|r| {
        let tiers = r.scenario.as_ref().and_then(|s| yaml_at(s, "cache.tiers"));
        match tiers.and_then(|t| t.as_sequence()) {
            Some(list) if !list.is_empty() => list
                .iter()
                .map(|t| {
                    let cap = ["capacity_gb", "capacity_blocks"]
                        .iter()
                        .find_map(|k| t.get(*k).filter(|v| !v.is_null()).map(|v| (k, v)))
                        .map_or(String::new(), |(k, v)| {
                            format!(" {} {}", yaml_text(v), k.trim_start_matches("capacity_"))
                        });
                    let shared = t.get("shared").and_then(|s| s.as_bool()) == Some(true);
                    format!(
                        "{}{cap}{}",
                        t.get("kind").map(yaml_text).unwrap_or_default(),
                        if shared { " (shared)" } else { "" }
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            _ => "none (HBM only)".into(),
        }
    });
    row("metadata service", &|r| match r
        .scenario
        .as_ref()
        .and_then(|s| yaml_at(s, "metadata.backends"))
    {
        Some(b) if !b.is_null() => yaml_text(b),
        _ => "none".into(),
    });
    row("seed", &|r| get(r, "seed"));
    row("kvcsim version", &|r| get(r, "kvcsim_version"));
    table("scenario", "", &head, &rows)
}

fn workload_text(r: &RunFolder) -> String {
    let get = |p: &str| r.scenario_text(p);
    let source = match get("workload.trace").filter(|t| t != "none") {
        Some(trace) => format!("trace {trace}"),
        None => format!(
            "synthetic, {} requests, {} arrivals at {}/s",
            get("workload.synthetic.limit.requests").unwrap_or_else(|| "?".into()),
            get("workload.synthetic.arrivals.kind").unwrap_or_else(|| "?".into()),
            get("workload.synthetic.arrivals.rate_per_s").unwrap_or_else(|| "?".into()),
        ),
    };
    let mut s = source;
    if let Some(scale) = get("workload.rate_scale").filter(|s| s != "1.0" && s != "1") {
        s += &format!(", rate x {scale}");
    }
    if let Some(max) = get("workload.max_requests").filter(|m| m != "none") {
        s += &format!(", first {max}");
    }
    s
}

pub(super) fn axes<'a>(title: &'a str, x_label: &'a str, y_label: &'a str, x: XAxis) -> Axes<'a> {
    Axes {
        title,
        x_label,
        y_label,
        x,
        y_max: None,
        log_y: false,
        legend: SeriesLabelPosition::UpperRight,
    }
}

fn latency_figures(page: &mut Page, runs: &[RunFolder]) -> crate::error::Result<()> {
    page.heading("Latency");
    let specs = [
        (
            "fig-ttft-cdf",
            "TTFT",
            "ttft_ns",
            "time to first token (arrival to first token)",
        ),
        (
            "fig-tpot-cdf",
            "TPOT",
            "tpot_ns",
            "time per output token after the first (requests with more than one output token)",
        ),
        (
            "fig-e2e-cdf",
            "E2E",
            "e2e_ns",
            "end-to-end latency (arrival to last token)",
        ),
    ];
    for (id, name, column, what) in specs {
        let mut lines = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            let mut values = r.requests.f64s(column)?;
            if column == "tpot_ns" {
                let outputs = r.requests.f64s("output_tokens")?;
                values = values
                    .into_iter()
                    .zip(outputs)
                    .filter(|(_, o)| *o > 1.0)
                    .map(|(v, _)| v)
                    .collect();
            }
            let ms: Vec<f64> = values.iter().map(|v| v * 1e-6).collect();
            lines.push(Line::new(r.label.clone(), i, series::cdf(&ms)));
        }
        let title = format!("{name} distribution");
        let x_label = format!("{name} (ms, log scale)");
        let mut a = axes(&title, &x_label, "fraction of requests", XAxis::Log);
        a.y_max = Some(1.0);
        a.legend = SeriesLabelPosition::LowerRight;
        let svg = chart::line_chart(&a, &lines)?;
        page.figure(
            id,
            &svg,
            &format!("Cumulative distribution of the {what}, completed requests."),
        );
    }
    Ok(())
}

/// Where a time-series value comes from: a numerator and a denominator per timeseries row.
#[derive(Clone, Copy)]
pub(super) enum Source {
    Column(&'static str),
    /// Seconds of the row's interval.
    IntervalS,
    One,
}

struct TimeFigure {
    id: &'static str,
    title: &'static str,
    y_label: &'static str,
    caption: &'static str,
    n: Source,
    d: Source,
    combine: Combine,
    fraction: bool,
}

const TIME_FIGURES: [TimeFigure; 6] = [
    TimeFigure {
        id: "fig-running",
        title: "Running requests",
        y_label: "requests admitted",
        caption: "Requests admitted and not finished at the end of each interval.",
        n: Source::Column("running"),
        d: Source::One,
        combine: Combine::Sum,
        fraction: false,
    },
    TimeFigure {
        id: "fig-waiting",
        title: "Waiting requests",
        y_label: "requests queued",
        caption: "Requests routed to an instance and waiting for admission, end of each interval.",
        n: Source::Column("waiting"),
        d: Source::One,
        combine: Combine::Sum,
        fraction: false,
    },
    TimeFigure {
        id: "fig-batch-tokens",
        title: "Batch tokens",
        y_label: "tokens processed per second",
        caption: "Prefill and decode tokens processed per second of each interval.",
        n: Source::Column("batch_tokens"),
        d: Source::IntervalS,
        combine: Combine::Sum,
        fraction: false,
    },
    TimeFigure {
        id: "fig-gpu-busy",
        title: "GPU busy",
        y_label: "busy fraction of the interval",
        caption: "Fraction of each interval with an iteration running on the instance's GPUs.",
        n: Source::Column("gpu_busy_fraction"),
        d: Source::One,
        combine: Combine::Mean,
        fraction: true,
    },
    TimeFigure {
        id: "fig-cache-occupancy",
        title: "HBM cache occupancy",
        y_label: "KV blocks in use",
        caption: "KV blocks in HBM in use (cached plus reserved by running requests), end of each interval.",
        n: Source::Column("cache_blocks"),
        d: Source::One,
        combine: Combine::Sum,
        fraction: false,
    },
    TimeFigure {
        id: "fig-hit-ratio",
        title: "Prefix hit ratio",
        y_label: "hit blocks / looked-up blocks",
        caption: "Blocks found in any tier over blocks looked up, admissions of each interval (intervals without lookups left out).",
        n: Source::Column("hit_blocks"),
        d: Source::Column("lookup_blocks"),
        combine: Combine::Ratio,
        fraction: true,
    },
];

/// Instances drawn one line each in a single-run report; beyond, the cluster line is drawn.
const MAX_INSTANCE_LINES: usize = 8;

pub(super) fn samples(r: &RunFolder, n: Source, d: Source) -> crate::error::Result<Vec<Sample>> {
    let ts = &r.timeseries;
    let time = ts.f64s("time_ns")?;
    let instance = ts.f64s("instance")?;
    let interval = ts.f64s("interval_ns")?;
    let values = |s: Source| -> crate::error::Result<Vec<f64>> {
        Ok(match s {
            Source::Column(c) => ts.f64s(c)?,
            Source::IntervalS => interval.iter().map(|i| i * 1e-9).collect(),
            Source::One => vec![1.0; ts.len()],
        })
    };
    let (nv, dv) = (values(n)?, values(d)?);
    Ok((0..ts.len())
        .map(|i| Sample {
            time_ns: time[i],
            instance: instance[i],
            n: nv[i],
            d: dv[i],
        })
        .collect())
}

/// Lines of one time figure: per instance for a single run with few instances, else the
/// cluster line of each run. Returns the lines and the caption's note on what a line is.
pub(super) fn time_lines(
    runs: &[RunFolder],
    per_run: &dyn Fn(&RunFolder) -> crate::error::Result<Vec<Sample>>,
    combine: Combine,
) -> crate::error::Result<(Vec<Line>, String)> {
    let how = match combine {
        Combine::Sum => "summed over instances",
        Combine::Mean => "mean over instances",
        Combine::Ratio => "over all instances",
    };
    if let [one] = runs {
        let instances = one.instances()?;
        if instances <= MAX_INSTANCE_LINES {
            let lines = series::per_instance(&per_run(one)?)
                .into_iter()
                .map(|(i, p)| Line::new(format!("instance {i}"), i as usize, p))
                .collect();
            return Ok((lines, "One line per instance.".into()));
        }
        let line = Line::new("cluster", 0, series::cluster(&per_run(one)?, combine));
        return Ok((vec![line], format!("{instances} instances, {how}.")));
    }
    let mut lines = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        lines.push(Line::new(
            r.label.clone(),
            i,
            series::cluster(&per_run(r)?, combine),
        ));
    }
    Ok((lines, format!("One line per run, {how}.")))
}

pub(super) fn thinning_note(runs: &[RunFolder]) -> String {
    let longest = runs
        .iter()
        .map(|r| r.timeseries.len() / r.instances().unwrap_or(1).max(1))
        .max()
        .unwrap_or(0);
    if longest > series::TIME_POINTS {
        format!(
            " Consecutive intervals averaged {} at a time.",
            longest.div_ceil(series::TIME_POINTS)
        )
    } else {
        String::new()
    }
}

fn time_figures(page: &mut Page, runs: &[RunFolder]) -> crate::error::Result<()> {
    page.heading("Load and cache over time");
    let thinned = thinning_note(runs);
    for f in &TIME_FIGURES {
        let (lines, note) = time_lines(runs, &|r| samples(r, f.n, f.d), f.combine)?;
        let mut a = axes(f.title, "simulated time (s)", f.y_label, XAxis::Linear);
        if f.fraction {
            a.y_max = Some(1.0);
            a.legend = SeriesLabelPosition::LowerRight;
        }
        let svg = chart::line_chart(&a, &lines)?;
        page.figure(f.id, &svg, &format!("{} {note}{thinned}", f.caption));
    }
    Ok(())
}
