//! `kvcsim report`: the report of the default run and of the example sweep holds every figure,
//! and every number of its summary tables equals the files the run or sweep wrote.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use super::{kvcsim, write_trace};

/// The figures of every run report.
const RUN_FIGURES: [&str; 9] = [
    "fig-ttft-cdf",
    "fig-tpot-cdf",
    "fig-e2e-cdf",
    "fig-running",
    "fig-waiting",
    "fig-batch-tokens",
    "fig-gpu-busy",
    "fig-cache-occupancy",
    "fig-hit-ratio",
];

fn run_ok(args: &[&str]) {
    let (code, out, err) = kvcsim(args);
    assert_eq!(code, 0, "kvcsim {args:?}\n{out}\n{err}");
}

/// The HTML of the figure with this id (up to its closing tag); panics when absent.
fn figure<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<figure id=\"{id}\""))
        .unwrap_or_else(|| panic!("figure {id} missing"));
    let end = html[start..].find("</figure>").unwrap() + start;
    &html[start..end]
}

fn assert_figure(html: &str, id: &str) {
    let f = figure(html, id);
    assert!(f.contains("<svg") && f.contains("</svg>"), "{id}: no SVG");
    let caption = &f[f.find("<figcaption>").expect("caption") + 12..];
    assert!(caption.len() > 20, "{id}: caption too short: {caption}");
}

/// The value of attribute `name` in one tag's text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// Every `<td ...>text</td>` with a `data-v`: (the tag's attributes, the shown text).
fn number_cells(html: &str) -> Vec<(&str, &str)> {
    html.split("<td ")
        .skip(1)
        .filter_map(|rest| {
            let close = rest.find('>')?;
            let tag = &rest[..close];
            attr(tag, "data-v")?;
            let text = &rest[close + 1..close + 1 + rest[close + 1..].find("</td>")?];
            Some((tag, text))
        })
        .collect()
}

/// The shown text rounds the exact value (to four significant digits at least).
fn assert_shown(text: &str, exact: f64) {
    let shown: f64 = text
        .parse()
        .unwrap_or_else(|_| panic!("cell text `{text}`"));
    let tolerance = 5e-4 * exact.abs().max(1e-300);
    assert!(
        (shown - exact).abs() <= tolerance,
        "shown {text} for {exact}"
    );
}

/// Every number of a JSON value with its JSON pointer.
fn leaves(v: &Value, pointer: String, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                leaves(c, format!("{pointer}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                leaves(c, format!("{pointer}/{i}"), out);
            }
        }
        Value::Number(n) => out.push((pointer, n.as_f64().unwrap())),
        _ => {}
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every summary cell of run `run` equals `summary`, and every number of `summary` has one.
fn assert_summary_tables(html: &str, run: usize, summary: &Value) {
    let run_text = run.to_string();
    let cells: Vec<(&str, &str, f64)> = number_cells(html)
        .into_iter()
        .filter(|(tag, _)| attr(tag, "data-run") == Some(run_text.as_str()))
        .map(|(tag, text)| {
            let key = attr(tag, "data-key").expect("summary cells name their key");
            let v: f64 = attr(tag, "data-v").unwrap().parse().unwrap();
            (key, text, v)
        })
        .collect();
    let mut expected = Vec::new();
    leaves(summary, String::new(), &mut expected);
    assert!(expected.len() > 20, "summary.json too small: {expected:?}");
    for (pointer, value) in &expected {
        let found: Vec<_> = cells.iter().filter(|(k, _, _)| k == pointer).collect();
        assert_eq!(found.len(), 1, "{pointer}: {} cells", found.len());
        let (_, text, v) = found[0];
        assert_eq!(*v, *value, "{pointer}");
        assert_shown(text, *value);
    }
    assert_eq!(
        cells.len(),
        expected.len(),
        "cells without a summary.json number"
    );
}

fn assert_self_contained(html: &str) {
    for remote in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(remote), "the report refers out: {remote}");
    }
}

#[test]
fn default_run_report_has_every_figure_and_the_summary_json_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("default");
    run_ok(&["run", "--out", out.to_str().unwrap(), "--report"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for id in RUN_FIGURES {
        assert_figure(&html, id);
    }
    // HBM only, no metadata service, no preemption: none of their figures.
    for absent in [
        "fig-tier-hits",
        "fig-tier-bytes",
        "fig-metadata-share",
        "fig-preemptions",
        "fig-transfers",
    ] {
        assert!(!html.contains(absent), "{absent} drawn without its data");
    }
    assert!(html.contains("llama-3.1-8b") && html.contains("cache-aware"));
    assert_summary_tables(&html, 0, &read_json(&out.join("summary.json")));
    assert_self_contained(&html);

    // `kvcsim report` on the folder writes the same bytes (nothing time-dependent).
    let again = dir.path().join("again.html");
    run_ok(&[
        "report",
        out.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(std::fs::read(&again).unwrap() == html.as_bytes());
}

fn numbers(b: &RecordBatch, name: &str) -> Option<Vec<Option<f64>>> {
    let col = b.column_by_name(name)?;
    let get = |i: usize| -> Option<f64> {
        if col.is_null(i) {
            return None;
        }
        Some(match col.data_type() {
            DataType::UInt64 => col.as_any().downcast_ref::<UInt64Array>().unwrap().value(i) as f64,
            DataType::Int64 => col
                .as_any()
                .downcast_ref::<arrow_array::Int64Array>()
                .unwrap()
                .value(i) as f64,
            DataType::Float64 => col
                .as_any()
                .downcast_ref::<arrow_array::Float64Array>()
                .unwrap()
                .value(i),
            _ => return None,
        })
    };
    matches!(
        col.data_type(),
        DataType::UInt64 | DataType::Int64 | DataType::Float64
    )
    .then(|| (0..col.len()).map(get).collect())
}

fn read_batch(path: &Path) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.len(), 1);
    batches[0].clone()
}

/// `scenarios/sweeps/example.yaml` with 200 requests a point (its `set`), base made absolute.
fn example_sweep_spec(dir: &Path) -> PathBuf {
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let text = std::fs::read_to_string(scenarios.join("sweeps/example.yaml")).unwrap();
    let base = scenarios.join("default.yaml");
    let reduced = text
        .replace(
            "base: ../default.yaml",
            &format!("base: {}", base.display()),
        )
        .replace(
            "workload.synthetic.limit.requests: 10000",
            "workload.synthetic.limit.requests: 200",
        );
    assert!(reduced.contains("requests: 200") && reduced.contains(&base.display().to_string()));
    let spec = dir.join("example.yaml");
    std::fs::write(&spec, reduced).unwrap();
    spec
}

#[test]
fn example_sweep_report_has_every_figure_and_the_points_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let spec = example_sweep_spec(dir.path());
    let out = dir.path().join("sweep");
    run_ok(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "2",
        "--report",
    ]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let metrics = [
        "ttft_ms_p50",
        "ttft_ms_p90",
        "ttft_ms_p99",
        "tpot_ms_p50",
        "tpot_ms_p90",
        "e2e_ms_p50",
        "e2e_ms_p90",
        "block_hit_ratio",
        "throughput_tokens_per_s",
        "gpu_busy_fraction",
    ];
    for m in metrics {
        for p in ["cache.capacity_blocks", "router.kind"] {
            let id = format!("fig-sweep-{m}-vs-{p}");
            assert_figure(&html, &id);
            // Lines per value of the other parameter, named in the legend.
            let f = figure(&html, &id);
            let legend = if p == "router.kind" {
                "cache.capacity_blocks=800"
            } else {
                "router.kind=least-outstanding-tokens"
            };
            assert!(f.contains(legend), "{id}: no line for {legend}");
        }
    }
    assert!(html.contains("class=\"sortable\"") && html.contains("<script>"));
    assert_self_contained(&html);

    // The points table: every number equals summary.parquet and the point's summary.json.
    let summary = read_batch(&out.join("summary.parquet"));
    let rows: Vec<&str> = html.split("<tr data-point=\"").skip(1).collect();
    assert_eq!(rows.len(), 24);
    let mut checked_json = 0;
    for row in rows {
        let row = &row[..row.find("</tr>").unwrap()];
        let id: usize = row[..row.find('"').unwrap()].parse().unwrap();
        let point = read_json(&out.join(format!("points/point={id}/summary.json")));
        let cells = number_cells(row);
        let mut columns = 0;
        for name in summary.schema().fields().iter().map(|f| f.name().clone()) {
            let Some(values) = numbers(&summary, &name) else {
                continue;
            };
            let cell = cells
                .iter()
                .find(|(tag, _)| attr(tag, "data-col") == Some(name.as_str()));
            let Some(expected) = values[id] else {
                assert!(cell.is_none(), "{name} null at point {id} but shown");
                continue;
            };
            let (tag, text) = cell.unwrap_or_else(|| panic!("point {id}: no {name}"));
            let v: f64 = attr(tag, "data-v").unwrap().parse().unwrap();
            assert_eq!(v, expected, "point {id} {name}");
            assert_shown(text, expected);
            columns += 1;
            // The same number in the point's summary.json (latencies flattened as `ttft_ms_p50`).
            let json = point.get(&name).and_then(Value::as_f64).or_else(|| {
                let (metric, stat) = name.rsplit_once('_')?;
                point.get(metric)?.get(stat)?.as_f64()
            });
            if let Some(json) = json {
                assert_eq!(v, json, "point {id} {name} vs summary.json");
                checked_json += 1;
            }
        }
        assert!(columns >= 30, "point {id}: {columns} numeric columns");
    }
    assert!(
        checked_json >= 24 * 20,
        "{checked_json} numbers checked against summary.json"
    );
}

/// Rewrites a Parquet file with one more u64 column.
fn add_column(path: &Path, name: &str, value: impl Fn(usize) -> u64) {
    let b = read_batch(path);
    let mut fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(name, DataType::UInt64, false));
    let mut columns: Vec<ArrayRef> = b.columns().to_vec();
    columns.push(Arc::new(UInt64Array::from(
        (0..b.num_rows()).map(value).collect::<Vec<_>>(),
    )));
    write_batch(
        path,
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap(),
    );
}

fn write_batch(path: &Path, batch: RecordBatch) {
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn optional_data_brings_its_figures_and_runs_compare_one_colour_each() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("tiered"), dir.path().join("plain"));
    run_ok(&[
        "run",
        "--out",
        a.to_str().unwrap(),
        "--set",
        "workload.synthetic.limit.requests=150",
        "--set",
        "cache.capacity_blocks=60",
        "--set",
        "cache.tiers=[{kind: dram, capacity_blocks: 400}]",
        "--set",
        "metadata.backends=[{kind: sherman}]",
    ]);
    run_ok(&[
        "run",
        "--out",
        b.to_str().unwrap(),
        "--set",
        "workload.synthetic.limit.requests=150",
        "--set",
        "router.kind=round-robin",
    ]);
    // Columns and files the report looks for when they exist.
    add_column(&a.join("timeseries.parquet"), "preemptions", |i| {
        (i % 3) as u64
    });
    add_column(&a.join("requests.parquet"), "recomputed_tokens", |i| {
        (i % 5) as u64 * 100
    });
    let transfers = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("finish_ns", DataType::UInt64, false),
            Field::new("bytes", DataType::UInt64, false),
        ])),
        vec![
            Arc::new(UInt64Array::from(vec![1_000_000_000u64, 2_500_000_000])),
            Arc::new(UInt64Array::from(vec![64u64 << 20, 32 << 20])),
        ],
    )
    .unwrap();
    write_batch(&a.join("transfers.parquet"), transfers);

    let one = dir.path().join("one.html");
    run_ok(&[
        "report",
        a.to_str().unwrap(),
        "--out",
        one.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&one).unwrap();
    for id in RUN_FIGURES.iter().chain(&[
        "fig-tier-hits",
        "fig-tier-bytes",
        "fig-metadata-share",
        "fig-metadata-cdf",
        "fig-preemptions",
        "fig-recomputed",
        "fig-transfers",
    ]) {
        assert_figure(&html, id);
    }
    assert!(figure(&html, "fig-tier-hits").contains("dram"));
    assert!(html.contains("sherman"));
    assert_summary_tables(&html, 0, &read_json(&a.join("summary.json")));

    let both = dir.path().join("both.html");
    run_ok(&[
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        both.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&both).unwrap();
    assert!(html.contains("2 runs compared"));
    for id in RUN_FIGURES {
        assert_figure(&html, id);
        let f = figure(&html, id);
        assert!(
            f.contains("tiered") && f.contains("plain"),
            "{id}: not both runs"
        );
    }
    // Tier figures per tier, the plain run having HBM only.
    assert_figure(&html, "fig-tier-hits-hbm");
    assert_figure(&html, "fig-tier-hits-dram");
    assert_summary_tables(&html, 0, &read_json(&a.join("summary.json")));
    assert_summary_tables(&html, 1, &read_json(&b.join("summary.json")));
}

#[test]
fn folders_that_are_not_outputs_are_exit_2_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (code, _, err) = kvcsim(&["report", empty.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("empty") && err.contains("neither a run"),
        "{err}"
    );
    let missing = dir.path().join("missing");
    let (code, _, err) = kvcsim(&["report", missing.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("missing") && err.contains("no such folder"),
        "{err}"
    );
    // A run folder whose table lost a column the report needs.
    let run = dir.path().join("run");
    run_ok(&[
        "run",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "workload.synthetic.limit.requests=20",
    ]);
    std::fs::write(run.join("requests.parquet"), b"not parquet").unwrap();
    let (code, _, err) = kvcsim(&["report", run.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("requests.parquet"), "{err}");
    assert!(!run.join("report.html").exists());

    // `run --report` of a metadata replay (no requests or timeseries) is refused before running.
    let trace = dir.path().join("t.jsonl");
    write_trace(&trace, &[(0, 64, 1, &[0, 1]), (100, 64, 1, &[0, 2])]);
    let scenario = dir.path().join("replay.yaml");
    std::fs::write(
        &scenario,
        format!(
            "mode: metadata-replay\nworkload: {{trace: {}, block_size: 16}}\nmetadata:\n  backends: [{{kind: redis}}]\n",
            trace.display()
        ),
    )
    .unwrap();
    let replay = dir.path().join("replay");
    let (code, _, err) = kvcsim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        replay.to_str().unwrap(),
        "--report",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--report covers cluster runs"), "{err}");
    assert!(!replay.exists());
}

#[test]
fn a_run_that_preempts_gets_its_preemption_figures() {
    // 120 HBM blocks of 512 tokens for the default workload: decode growth preempts (11
    // preemptions in this run; summary.json says how many, the figures show when).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pre");
    run_ok(&[
        "run",
        "--out",
        out.to_str().unwrap(),
        "--report",
        "--set",
        "workload.synthetic.limit.requests=200",
        "--set",
        "cache.capacity_blocks=120",
    ]);
    let summary = read_json(&out.join("summary.json"));
    assert!(summary["preemptions"].as_u64().unwrap() > 0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_figure(&html, "fig-preemptions");
    assert_figure(&html, "fig-recomputed");
}
