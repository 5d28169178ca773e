//! Figures of data a run may not have: lower cache tiers, a metadata service, preemption
//! columns and `transfers.parquet`. Each section appears only when its data exist.

use plotters::prelude::SeriesLabelPosition;

use super::chart::{self, Bars, Line, XAxis};
use super::data::ParquetTable;
use super::html::Page;
use super::run::{RunFolder, Source, axes, samples, thinning_note, time_lines};
use super::series::{self, Combine, Sample};
use crate::error::input_error;

/// Hit blocks of `tier` per timeseries row: lower tiers have their own column; HBM's are the
/// row's hit blocks less those of the lower tiers.
fn tier_hit_samples(r: &RunFolder, tier: &str) -> crate::error::Result<Vec<Sample>> {
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

pub(super) fn tier_figures(page: &mut Page, runs: &[RunFolder]) -> crate::error::Result<()> {
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

fn has_nonzero(t: &ParquetTable, column: &str) -> crate::error::Result<bool> {
    Ok(t.f64s_if_present(column)?
        .is_some_and(|v| v.iter().any(|x| *x != 0.0)))
}

fn bin_ns(r: &RunFolder) -> crate::error::Result<f64> {
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

pub(super) fn metadata_figures(page: &mut Page, runs: &[RunFolder]) -> crate::error::Result<()> {
    let with: Vec<bool> = runs
        .iter()
        .map(|r| has_nonzero(&r.requests, "metadata_ns"))
        .collect::<crate::error::Result<_>>()?;
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
    // Not fixed at 1: shares are often far below it.
    a.legend = SeriesLabelPosition::UpperRight;
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

pub(super) fn preemption_figures(page: &mut Page, runs: &[RunFolder]) -> crate::error::Result<()> {
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
        // Every run has the columns; a run without a single preemption needs no figure.
        let nonzero = |t: &super::data::ParquetTable| -> bool {
            t.has(column) && t.f64s(column).is_ok_and(|v| v.iter().any(|&x| x > 0.0))
        };
        let happened = runs
            .iter()
            .any(|r| nonzero(&r.timeseries) || nonzero(&r.requests));
        if (!in_timeseries && !in_requests) || !happened {
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

pub(super) fn transfer_figures(page: &mut Page, runs: &[RunFolder]) -> crate::error::Result<()> {
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
