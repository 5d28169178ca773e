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

use super::chart::{self, Axes, Bars, Line, XAxis};
use super::data::{ParquetTable, read_json, read_yaml, yaml_at, yaml_text};
use super::html::{Page, table, text_cell};
use super::series::{self, Combine, Sample};
use super::summary_tables;
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
    pub fn read(dir: &Path, label: String) -> anyhow::Result<RunFolder> {
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
    fn tiers(&self) -> Vec<String> {
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

    fn instances(&self) -> anyhow::Result<usize> {
        let ids = self.timeseries.f64s("instance")?;
        Ok(ids.iter().fold(0.0f64, |m, &i| m.max(i + 1.0)) as usize)
    }
}

/// Renders the report of `runs` (one, or several compared).
pub fn render(runs: &[RunFolder]) -> anyhow::Result<String> {
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
    tier_figures(&mut page, runs)?;
    metadata_figures(&mut page, runs)?;
    preemption_figures(&mut page, runs)?;
    transfer_figures(&mut page, runs)?;
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

fn axes<'a>(title: &'a str, x_label: &'a str, y_label: &'a str, x: XAxis) -> Axes<'a> {
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

fn latency_figures(page: &mut Page, runs: &[RunFolder]) -> anyhow::Result<()> {
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
enum Source {
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

fn samples(r: &RunFolder, n: Source, d: Source) -> anyhow::Result<Vec<Sample>> {
    let ts = &r.timeseries;
    let time = ts.f64s("time_ns")?;
    let instance = ts.f64s("instance")?;
    let interval = ts.f64s("interval_ns")?;
    let values = |s: Source| -> anyhow::Result<Vec<f64>> {
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
fn time_lines(
    runs: &[RunFolder],
    per_run: &dyn Fn(&RunFolder) -> anyhow::Result<Vec<Sample>>,
    combine: Combine,
) -> anyhow::Result<(Vec<Line>, String)> {
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

fn thinning_note(runs: &[RunFolder]) -> String {
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

fn time_figures(page: &mut Page, runs: &[RunFolder]) -> anyhow::Result<()> {
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

/// Hit blocks of `tier` per timeseries row: lower tiers have their own column; HBM's are the
/// row's hit blocks less those of the lower tiers.
fn tier_hit_samples(r: &RunFolder, tier: &str) -> anyhow::Result<Vec<Sample>> {
    let mut s = samples(r, Source::Column("hit_blocks"), Source::IntervalS)?;
    let lower = ["dram", "ssd", "remote"];
    for low in lower {
        let Some(hits) = r.timeseries.f64s_if_present(&format!("{low}_hit_blocks"))? else {
            continue;
        };
        for (sample, h) in s.iter_mut().zip(hits) {
            if tier == "hbm" {
                sample.n -= h;
            } else if tier == low {
                sample.n = h;
            }
        }
    }
    if !lower.contains(&tier) && tier != "hbm" {
        return Err(input_error(format!(
            "{}: unknown tier `{tier}` in summary.json",
            r.dir.display()
        )));
    }
    Ok(s)
}

fn tier_figures(page: &mut Page, runs: &[RunFolder]) -> anyhow::Result<()> {
    if runs.iter().all(|r| r.tiers().len() <= 1) {
        return Ok(());
    }
    page.heading("Cache tiers");
    let mut all_tiers: Vec<String> = Vec::new();
    for r in runs {
        for t in r.tiers() {
            if !all_tiers.contains(&t) {
                all_tiers.push(t);
            }
        }
    }
    let thinned = thinning_note(runs);
    if let [one] = runs {
        let mut lines = Vec::new();
        for (i, tier) in one.tiers().iter().enumerate() {
            let points = series::cluster(&tier_hit_samples(one, tier)?, Combine::Sum);
            lines.push(Line::new(tier.clone(), i, points));
        }
        let a = axes(
            "Hit blocks by tier",
            "simulated time (s)",
            "hit blocks per second",
            XAxis::Linear,
        );
        page.figure(
            "fig-tier-hits",
            &chart::line_chart(&a, &lines)?,
            &format!(
                "Prompt blocks found per second of each interval, by the tier they came from, summed over instances.{thinned}"
            ),
        );
    } else {
        for tier in &all_tiers {
            let mut lines = Vec::new();
            for (i, r) in runs.iter().enumerate() {
                if r.tiers().contains(tier) {
                    let points = series::cluster(&tier_hit_samples(r, tier)?, Combine::Sum);
                    lines.push(Line::new(r.label.clone(), i, points));
                }
            }
            let title = format!("Hit blocks from {tier}");
            let a = axes(
                &title,
                "simulated time (s)",
                "hit blocks per second",
                XAxis::Linear,
            );
            page.figure(
                &format!("fig-tier-hits-{tier}"),
                &chart::line_chart(&a, &lines)?,
                &format!("Prompt blocks found in {tier} per second, summed over instances; one line per run that has the tier.{thinned}"),
            );
        }
    }
    // Bytes read and written per tier, from summary.json.
    let mut categories = Vec::new();
    for t in &all_tiers {
        categories.push(format!("{t} read"));
        categories.push(format!("{t} written"));
    }
    let groups: Vec<Bars> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let tiers = r.summary["tiers"].as_array().cloned().unwrap_or_default();
            let gb = |tier: &str, key: &str| {
                tiers
                    .iter()
                    .find(|t| t["tier"] == tier)
                    .and_then(|t| t[key].as_f64())
                    .map_or(0.0, |b| b * 1e-9)
            };
            Bars {
                name: r.label.clone(),
                colour: i,
                values: all_tiers
                    .iter()
                    .flat_map(|t| [gb(t, "bytes_read"), gb(t, "bytes_written")])
                    .collect(),
            }
        })
        .collect();
    page.figure(
        "fig-tier-bytes",
        &chart::bar_chart(
            "Bytes moved per tier",
            "tier and direction",
            "GB (10^9 bytes)",
            &categories,
            &groups,
        )?,
        "Bytes read out of and written into each tier over the whole run (summary.json), all instances.",
    );
    Ok(())
}

fn has_nonzero(t: &ParquetTable, column: &str) -> anyhow::Result<bool> {
    Ok(t.f64s_if_present(column)?
        .is_some_and(|v| v.iter().any(|x| *x != 0.0)))
}

fn bin_ns(r: &RunFolder) -> anyhow::Result<f64> {
    let interval = r
        .timeseries
        .f64s("interval_ns")?
        .first()
        .copied()
        .unwrap_or(1e9);
    let arrivals = r.requests.f64s("arrival_ns")?;
    let span = arrivals.iter().copied().fold(0.0f64, f64::max);
    Ok(series::bin_width(interval, span))
}

fn metadata_figures(page: &mut Page, runs: &[RunFolder]) -> anyhow::Result<()> {
    let with: Vec<bool> = runs
        .iter()
        .map(|r| has_nonzero(&r.requests, "metadata_ns"))
        .collect::<anyhow::Result<_>>()?;
    if !with.contains(&true) {
        return Ok(());
    }
    page.heading("Metadata service");
    let mut share = Vec::new();
    let mut cdf = Vec::new();
    for (i, r) in runs.iter().enumerate().filter(|(i, _)| with[*i]) {
        let meta = r.requests.f64s("metadata_ns")?;
        let ttft = r.requests.f64s("ttft_ns")?;
        let arrivals = r.requests.f64s("arrival_ns")?;
        share.push(Line::new(
            r.label.clone(),
            i,
            series::binned_ratio(&arrivals, &meta, &ttft, bin_ns(r)?),
        ));
        let ms: Vec<f64> = meta.iter().map(|v| v * 1e-6).collect();
        cdf.push(Line::new(r.label.clone(), i, series::cdf(&ms)));
    }
    let mut a = axes(
        "Metadata share of TTFT",
        "arrival time (s)",
        "metadata time / TTFT",
        XAxis::Linear,
    );
    a.y_max = Some(1.0);
    page.figure(
        "fig-metadata-share",
        &chart::line_chart(&a, &share)?,
        "Sum of metadata lookup time over sum of TTFT, requests binned by arrival time.",
    );
    let mut a = axes(
        "Metadata lookup time distribution",
        "arrival to lookup reply (ms, log scale)",
        "fraction of requests",
        XAxis::Log,
    );
    a.y_max = Some(1.0);
    a.legend = SeriesLabelPosition::LowerRight;
    page.figure(
        "fig-metadata-cdf",
        &chart::line_chart(&a, &cdf)?,
        "Cumulative distribution of the time from arrival to the metadata service's reply, completed requests.",
    );
    Ok(())
}

fn preemption_figures(page: &mut Page, runs: &[RunFolder]) -> anyhow::Result<()> {
    let specs = [
        (
            "fig-preemptions",
            "preemptions",
            "Preemptions",
            "preemptions per second",
        ),
        (
            "fig-recomputed",
            "recomputed_tokens",
            "Recomputed tokens",
            "tokens recomputed per second",
        ),
    ];
    let mut heading = false;
    for (id, column, title, y_label) in specs {
        let in_timeseries = runs.iter().any(|r| r.timeseries.has(column));
        let in_requests = runs.iter().any(|r| r.requests.has(column));
        if !in_timeseries && !in_requests {
            continue;
        }
        if !heading {
            page.heading("Preemption");
            heading = true;
        }
        let (lines, caption) = if in_timeseries {
            let (lines, note) = time_lines(
                runs,
                &|r| {
                    if r.timeseries.has(column) {
                        samples(r, Source::Column(column), Source::IntervalS)
                    } else {
                        Ok(Vec::new())
                    }
                },
                Combine::Sum,
            )?;
            (
                lines,
                format!("{title} per second of each interval (timeseries.parquet). {note}"),
            )
        } else {
            let mut lines = Vec::new();
            for (i, r) in runs
                .iter()
                .enumerate()
                .filter(|(_, r)| r.requests.has(column))
            {
                let values = r.requests.f64s(column)?;
                let arrivals = r.requests.f64s("arrival_ns")?;
                let points = series::binned_rate(&arrivals, &values, bin_ns(r)?);
                lines.push(Line::new(r.label.clone(), i, points));
            }
            (
                lines,
                format!("{title} per second, requests binned by arrival time (requests.parquet)."),
            )
        };
        let a = axes(title, "simulated time (s)", y_label, XAxis::Linear);
        page.figure(id, &chart::line_chart(&a, &lines)?, &caption);
    }
    Ok(())
}

/// Columns of `transfers.parquet` the figure uses, when present: the bytes of a transfer and
/// the time it ended (the first of these names the file has).
const TRANSFER_BYTES: &str = "bytes";
const TRANSFER_TIMES: [&str; 3] = ["finish_ns", "end_ns", "time_ns"];

fn transfer_figures(page: &mut Page, runs: &[RunFolder]) -> anyhow::Result<()> {
    let with: Vec<(usize, &RunFolder, &ParquetTable)> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.transfers.as_ref().map(|t| (i, r, t)))
        .collect();
    if with.is_empty() {
        return Ok(());
    }
    page.heading("Transfers");
    let mut lines = Vec::new();
    for &(i, r, t) in &with {
        let time = TRANSFER_TIMES.iter().find(|c| t.has(c));
        match time.filter(|_| t.has(TRANSFER_BYTES)) {
            Some(time) => {
                let times = t.f64s(time)?;
                let gb: Vec<f64> = t.f64s(TRANSFER_BYTES)?.iter().map(|b| b * 1e-9).collect();
                let points = series::binned_rate(&times, &gb, bin_ns(r)?);
                lines.push(Line::new(r.label.clone(), i, points));
            }
            None => page.paragraph(&format!(
                "{}: transfers.parquet has {} rows; columns {} (no `{TRANSFER_BYTES}` and end-time column to plot).",
                r.label,
                t.len(),
                t.columns().join(", ")
            )),
        }
    }
    if !lines.is_empty() {
        let a = axes(
            "KV transfers",
            "simulated time (s)",
            "GB per second (10^9 bytes/s)",
            XAxis::Linear,
        );
        page.figure(
            "fig-transfers",
            &chart::line_chart(&a, &lines)?,
            "Bytes of KV transfers (transfers.parquet) by the time they ended, per second of each bin.",
        );
    }
    Ok(())
}
