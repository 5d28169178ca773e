//! The summary tables of a run report: every number of each run's `summary.json`, read as an
//! untyped value so that keys added later appear without a change here.
//!
//! Three tables: latencies (objects with `mean`, `p50`, ...: one row per latency and run),
//! tiers (the `tiers` array: one row per tier and run) and everything else (one row per key,
//! a column per run). Each number's cell carries `data-key`, its JSON pointer in
//! `summary.json`, `data-run`, the run's index, and `data-v`, the exact value.

use serde_json::Value;

use super::html::{escape, number_cell, table, text_cell};
use super::run::RunFolder;

/// Known keys: label with unit. Others are shown by their key.
const LABELS: [(&str, &str); 17] = [
    ("ttft_ms", "TTFT"),
    ("tpot_ms", "TPOT"),
    ("e2e_ms", "E2E"),
    ("metadata_ms", "metadata lookup"),
    ("requests_completed", "requests completed"),
    ("requests_rejected", "requests rejected"),
    (
        "metadata_share_of_ttft",
        "metadata share of TTFT (fraction)",
    ),
    (
        "block_hit_ratio",
        "block hit ratio (fraction of prompt blocks)",
    ),
    (
        "token_hit_ratio",
        "token hit ratio (fraction of prompt tokens)",
    ),
    ("throughput_tokens_per_s", "output throughput (tokens/s)"),
    (
        "total_tokens_per_s",
        "prompt + output throughput (tokens/s)",
    ),
    (
        "gpu_busy_fraction",
        "GPU busy (fraction, mean over instances)",
    ),
    ("simulated_s", "simulated time (s)"),
    ("events", "events handled"),
    ("wall_s", "simulation loop wall clock (s)"),
    ("events_per_s", "events per wall-clock second"),
    ("preemptions", "preemptions"),
];

fn label(key: &str) -> String {
    LABELS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| key.replace('_', " "), |(_, l)| l.to_string())
}

/// A latency-like object: every value a number, and a `mean` or `p50` among the keys.
fn is_stats(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        (o.contains_key("mean") || o.contains_key("p50")) && o.values().all(Value::is_number)
    })
}

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn cell(v: &Value, pointer: &str, run: usize) -> String {
    match v.as_f64() {
        Some(x) => number_cell(
            x,
            &format!(" data-key=\"{}\" data-run=\"{run}\"", escape(pointer)),
        ),
        None if v.is_null() => text_cell(""),
        None => text_cell(&v.to_string()),
    }
}

/// The summary tables of `runs`, as HTML.
pub fn render(runs: &[RunFolder]) -> String {
    let many = runs.len() > 1;
    let summaries: Vec<&serde_json::Map<String, Value>> =
        runs.iter().filter_map(|r| r.summary.as_object()).collect();
    // Keys of every run: known ones in the order of LABELS, then the others by name.
    let mut keys: Vec<&String> = Vec::new();
    for s in &summaries {
        for k in s.keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let rank = |k: &str| {
        LABELS
            .iter()
            .position(|(l, _)| *l == k)
            .unwrap_or(LABELS.len())
    };
    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    let mut html = String::new();

    // Latencies.
    let stat_keys: Vec<&String> = keys
        .iter()
        .copied()
        .filter(|k| summaries.iter().any(|s| s.get(*k).is_some_and(is_stats)))
        .collect();
    if !stat_keys.is_empty() {
        let mut stats: Vec<String> = Vec::new();
        for k in &stat_keys {
            for s in &summaries {
                if let Some(o) = s.get(*k).and_then(Value::as_object) {
                    for name in o.keys() {
                        if !stats.contains(name) {
                            stats.push(name.clone());
                        }
                    }
                }
            }
        }
        let mut head = vec!["latency".to_string()];
        if many {
            head.push("run".into());
        }
        head.extend(stats.iter().map(|s| format!("{s} (ms)")));
        let mut rows = Vec::new();
        for k in &stat_keys {
            for (run, s) in summaries.iter().enumerate() {
                let Some(o) = s.get(*k).and_then(Value::as_object) else {
                    continue;
                };
                let mut cells = vec![text_cell(&label(k))];
                if many {
                    cells.push(text_cell(&runs[run].label));
                }
                for stat in &stats {
                    let pointer = format!("/{}/{}", pointer_escape(k), pointer_escape(stat));
                    cells.push(cell(o.get(stat).unwrap_or(&Value::Null), &pointer, run));
                }
                rows.push((String::new(), cells));
            }
        }
        html += &table("summary-latency", "summary", &head, &rows);
    }

    // Tiers.
    let tier_rows: Vec<(usize, usize, &serde_json::Map<String, Value>)> = summaries
        .iter()
        .enumerate()
        .flat_map(|(run, s)| {
            s.get("tiers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .filter_map(move |(i, t)| t.as_object().map(|o| (run, i, o)))
        })
        .collect();
    if !tier_rows.is_empty() {
        let mut fields: Vec<&String> = Vec::new();
        for (_, _, o) in &tier_rows {
            for (k, v) in o.iter() {
                if v.is_number() && !fields.contains(&k) {
                    fields.push(k);
                }
            }
        }
        let mut head = vec!["tier".to_string()];
        if many {
            head.push("run".into());
        }
        head.extend(fields.iter().map(|f| tier_label(f)));
        let rows = tier_rows
            .iter()
            .map(|(run, i, o)| {
                let mut cells = vec![text_cell(
                    o.get("tier").and_then(Value::as_str).unwrap_or("?"),
                )];
                if many {
                    cells.push(text_cell(&runs[*run].label));
                }
                for f in &fields {
                    let pointer = format!("/tiers/{i}/{}", pointer_escape(f));
                    cells.push(cell(o.get(*f).unwrap_or(&Value::Null), &pointer, *run));
                }
                (String::new(), cells)
            })
            .collect::<Vec<_>>();
        html += &table("summary-tiers", "summary", &head, &rows);
    }

    // Everything else: scalars, and numbers nested in other objects.
    let mut head = vec!["".to_string()];
    head.extend(runs.iter().map(|r| r.label.clone()));
    let mut rows = Vec::new();
    for k in keys
        .iter()
        .filter(|k| !stat_keys.contains(k) && k.as_str() != "tiers")
    {
        let mut leaves: Vec<(String, String)> = Vec::new();
        for s in &summaries {
            if let Some(v) = s.get(*k) {
                collect_leaves(
                    v,
                    &format!("/{}", pointer_escape(k)),
                    &label(k),
                    &mut leaves,
                );
            }
        }
        let mut seen = Vec::new();
        for (pointer, name) in leaves {
            if seen.contains(&pointer) {
                continue;
            }
            seen.push(pointer.clone());
            let mut cells = vec![format!("<th>{}</th>", escape(&name))];
            for (run, r) in runs.iter().enumerate() {
                cells.push(cell(
                    r.summary.pointer(&pointer).unwrap_or(&Value::Null),
                    &pointer,
                    run,
                ));
            }
            rows.push((String::new(), cells));
        }
    }
    html += &table("summary-totals", "summary", &head, &rows);
    html
}

fn tier_label(field: &str) -> String {
    match field {
        "hit_blocks" => "hit blocks".into(),
        "block_hit_ratio" => "hit ratio (fraction of prompt blocks)".into(),
        "bytes_read" => "bytes read".into(),
        "bytes_written" => "bytes written".into(),
        "evictions" => "evictions (blocks)".into(),
        other => other.replace('_', " "),
    }
}

/// Every scalar under `v` with its pointer and a label (nested keys joined by " / ").
fn collect_leaves(v: &Value, pointer: &str, name: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                collect_leaves(
                    child,
                    &format!("{pointer}/{}", pointer_escape(k)),
                    &format!("{name} / {}", k.replace('_', " ")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                collect_leaves(
                    child,
                    &format!("{pointer}/{i}"),
                    &format!("{name} / {i}"),
                    out,
                );
            }
        }
        _ => out.push((pointer.to_string(), name.to_string())),
    }
}
