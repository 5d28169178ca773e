//! `kvcsim validate rdma`: for every real perftest output, calibrate a profile on its hardware
//! group, replay the same experiment with `bench rdma` on the fitted profile, and compare.
//!
//! Groups are hardware: the file-name prefix before `_ib_` (`cx3_qdr`, `efa_m6i_srd`, ...); all
//! files of a group are fitted together into one profile, starting from the generic defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::input_error;
use kvcsim_models::net::NetworkProfile;
use kvcsim_models::perftest::{
    Calibration, FitRow, Measure, PerftestRun, RunSettings, calibrate, error_summary, observations,
    parse_perftest,
};
use serde::Serialize;

use crate::bench::rdma as bench;

/// Targets of issue 4.
pub const LAT_MEDIAN: f64 = 0.03;
/// Max latency error across sizes.
pub const LAT_MAX: f64 = 0.10;
/// Median bandwidth / message-rate error.
pub const BW_MEDIAN: f64 = 0.05;
/// Median leave-one-size-out error.
pub const CV_MEDIAN: f64 = 0.10;

/// One file's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct FileResult {
    /// File name.
    pub file: String,
    /// Hardware group.
    pub group: String,
    /// `read_lat`, ...
    pub test: String,
    /// Rows compared.
    pub sizes: usize,
    /// Replay vs measured: median and max |rel error| (latency: t_typical; BW: average and rate).
    pub replay_median: f64,
    /// See `replay_median`.
    pub replay_max: f64,
    /// Fitted closed form vs measured, median |rel error|.
    pub fit_median: f64,
    /// Leave-one-size-out: median and max |rel error|.
    pub cv_median: f64,
    /// See `cv_median`.
    pub cv_max: f64,
    /// All targets met.
    pub pass: bool,
    /// Replay rows.
    #[serde(skip)]
    pub rows: Vec<FitRow>,
}

/// Everything `validate rdma` produced.
#[derive(Debug)]
pub struct Report {
    /// Per file.
    pub files: Vec<FileResult>,
    /// Per group: the calibration.
    pub groups: BTreeMap<String, Calibration>,
}

/// The hardware group of a perftest output file name: the part before the tool name
/// (`cx3_qdr_ib_read_lat_a.txt` → `cx3_qdr`, `ib_hdrclass_loopback_write_bw_8M.txt` →
/// `ib_hdrclass_loopback`).
pub fn group_of(file: &str) -> String {
    if let Some((g, _)) = file.split_once("_ib_") {
        return g.to_string();
    }
    let words: Vec<&str> = file.split('_').collect();
    let end = words
        .iter()
        .position(|w| matches!(*w, "read" | "write" | "send" | "atomic"))
        .unwrap_or(words.len());
    words[..end].join("_")
}

/// Replays every row of `runs` on `profile` with the simulator; `max_iters` caps iterations.
pub fn replay(
    file: &str,
    runs: &[PerftestRun],
    profile: &NetworkProfile,
    max_iters: Option<u64>,
) -> Vec<FitRow> {
    use kvcsim_models::perftest::Metric;
    let mut out = Vec::new();
    let all = observations(file, runs);
    for obs in all.iter().filter(|o| o.metric != Metric::MsgRateMpps) {
        let mut s: RunSettings = obs.settings;
        if let Some(cap) = max_iters {
            s.iterations = s.iterations.min(cap);
        }
        let row = &bench::run(profile, &s, &[obs.bytes], 1)[0];
        let mut push = |metric: &str, measured: f64, model: f64| {
            out.push(FitRow {
                file: file.to_string(),
                test: s.test.short_name().to_string(),
                bytes: obs.bytes,
                metric: metric.to_string(),
                measured,
                model,
                rel_error: model / measured - 1.0,
            })
        };
        match (row.lat, row.bw) {
            (Some(l), _) => push("t_typical_us", obs.measured, l.t_typical_us),
            (_, Some(b)) => {
                push("bw_avg_mib_s", obs.measured, b.bw_avg_mib_s);
                let rate = all
                    .iter()
                    .find(|o| {
                        o.metric == Metric::MsgRateMpps
                            && o.bytes == obs.bytes
                            && o.settings == obs.settings
                    })
                    .map_or(f64::NAN, |o| o.measured);
                push("msg_rate_mpps", rate, b.msg_rate_mpps);
            }
            _ => {}
        }
    }
    out
}

/// The shipped profile a group's calibration starts from (None: the generic defaults), as a
/// user would pass `--base`: RoCE groups the ConnectX-6 RoCE prior, EFA the EFA prior, HDR-class
/// IB the ConnectX-6 IB prior; ConnectX-3 starts from the generic defaults.
pub fn base_for(group: &str) -> Option<&'static str> {
    if group.contains("roce") {
        Some("connectx6-100g-roce.yaml")
    } else if group.starts_with("efa") {
        Some("aws-efa-srd.yaml")
    } else if group.contains("hdr") {
        Some("connectx6-100g-ib.yaml")
    } else {
        None
    }
}

/// Runs the validation on `data_dir` (the `calibration` folder holding `perftest_outputs/`),
/// with base profiles from `profiles_dir` (`scenarios/hardware/network`).
pub fn validate(
    data_dir: &Path,
    profiles_dir: &Path,
    max_iters: Option<u64>,
) -> crate::error::Result<Report> {
    let dir = data_dir.join("perftest_outputs");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| input_error(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(input_error(format!(
            "{} holds no perftest outputs (*.txt); nothing to validate",
            dir.display()
        )));
    }
    let mut groups: BTreeMap<String, Vec<(String, Vec<PerftestRun>)>> = BTreeMap::new();
    for p in &paths {
        let name = p.file_name().expect("file").to_string_lossy().to_string();
        let text = std::fs::read_to_string(p)
            .map_err(|e| input_error(format!("cannot read {}: {e}", p.display())))?;
        let runs =
            parse_perftest(&text).map_err(|e| input_error(format!("{}: {e}", p.display())))?;
        groups
            .entry(group_of(&name))
            .or_default()
            .push((name, runs));
    }
    let mut files = Vec::new();
    let mut cals = BTreeMap::new();
    for (group, members) in &groups {
        let base = match base_for(group) {
            Some(f) => NetworkProfile::load(&profiles_dir.join(f))?,
            None => NetworkProfile::default(),
        };
        let cal = calibrate(&base, members);
        for (name, runs) in members {
            let rows = replay(name, runs, &cal.profile, max_iters);
            let (rm, rx) = error_summary(&rows);
            let fit: Vec<FitRow> = cal
                .rows
                .iter()
                .filter(|r| &r.file == name)
                .cloned()
                .collect();
            let cv: Vec<FitRow> = cal
                .cv_rows
                .iter()
                .filter(|r| &r.file == name)
                .cloned()
                .collect();
            let (fm, _) = error_summary(&fit);
            let (cm, cx) = error_summary(&cv);
            let lat = runs[0].test.measure == Measure::Latency;
            // With a single message size in the whole group nothing is left to fit a fold on:
            // cross-validation does not apply.
            let group_sizes: std::collections::BTreeSet<u64> =
                cal.rows.iter().map(|r| r.bytes).collect();
            let (cm, cx) = if group_sizes.len() < 2 {
                (f64::NAN, f64::NAN)
            } else {
                (cm, cx)
            };
            let cv_ok = cm.is_nan() || cm <= CV_MEDIAN;
            let pass = if lat {
                rm <= LAT_MEDIAN && rx <= LAT_MAX && cv_ok
            } else {
                rm <= BW_MEDIAN && cv_ok
            };
            files.push(FileResult {
                file: name.clone(),
                group: group.clone(),
                test: runs[0].test.short_name().to_string(),
                sizes: rows
                    .iter()
                    .map(|r| r.bytes)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len(),
                replay_median: rm,
                replay_max: rx,
                fit_median: fm,
                cv_median: cm,
                cv_max: cx,
                pass,
                rows,
            });
        }
        cals.insert(group.clone(), cal);
    }
    Ok(Report {
        files,
        groups: cals,
    })
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "–".into()
    }
}

/// The markdown table of a report.
pub fn markdown(report: &Report) -> String {
    let mut o = String::new();
    o.push_str("| file | test | sizes | replay median | replay max | fit median | LOSO-CV median | LOSO-CV max | targets | met |\n");
    o.push_str("|---|---|---:|---:|---:|---:|---:|---:|---|:---:|\n");
    for f in &report.files {
        let targets = if f.test.ends_with("_lat") {
            "median ≤ 3%, max ≤ 10%, CV ≤ 10%"
        } else {
            "median ≤ 5%, CV ≤ 10%"
        };
        o.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            f.file,
            f.test,
            f.sizes,
            pct(f.replay_median),
            pct(f.replay_max),
            pct(f.fit_median),
            pct(f.cv_median),
            pct(f.cv_max),
            targets,
            if f.pass { "yes" } else { "**no**" }
        ));
    }
    o.push_str("\nFitted parameters per hardware group:\n\n");
    for (g, cal) in &report.groups {
        let base = base_for(g).unwrap_or("generic defaults");
        o.push_str(&format!("- `{g}` (base {base}): {}", cal.fitted.join(", ")));
        if !cal.from_header.is_empty() {
            o.push_str(&format!(" (from headers: {})", cal.from_header.join(", ")));
        }
        o.push('\n');
    }
    o
}
