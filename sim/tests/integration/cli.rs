//! The binary's behaviour on bad input: a clear message naming the culprit, exit code 2, and
//! nothing already written lost.

use super::{kvcsim, write_trace};

#[test]
fn unknown_scenario_key_suggests_the_nearest() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.yaml");
    std::fs::write(&f, "workload:\n  synthetic: {}\ncluster:\n  instancs: 2\n").unwrap();
    let (code, _, err) = kvcsim(&[
        "run",
        f.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("s.yaml")
            && err.contains("cluster")
            && err.contains("did you mean `instances`"),
        "{err}"
    );
}

#[test]
fn negative_and_nan_values_are_rejected_with_path_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let (code, _, err) = kvcsim(&[
        "run",
        "--set",
        "cache.capacity_blocks=-5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cache.capacity_blocks") && err.contains("-5"),
        "{err}"
    );
    let (code, _, err) = kvcsim(&[
        "run",
        "--set",
        "workload.rate_scale=.nan",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("workload.rate_scale") && err.contains("NaN"),
        "{err}"
    );
}

#[test]
fn missing_trace_file_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = kvcsim(&[
        "run",
        "--set",
        "workload.synthetic=",
        "--set",
        "workload.trace=/nonexistent/t.jsonl",
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/t.jsonl"), "{err}");
}

#[test]
fn malformed_trace_line_is_named_and_earlier_outputs_survive() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    // A good run first.
    let (code, _, err) = kvcsim(&[
        "run",
        "--set",
        "workload.synthetic.limit.requests=50",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let before = std::fs::read(out.join("requests.parquet")).unwrap();
    // Then a bad trace into the same folder.
    let trace = dir.path().join("bad.jsonl");
    write_trace(&trace, &[(0, 32, 1, &[1, 2])]);
    let mut text = std::fs::read_to_string(&trace).unwrap();
    text +=
        "{\"timestamp\": 5, \"input_length\": 32, \"output_length\": 1, \"hash_ids\": [1, 2, 3]}\n";
    std::fs::write(&trace, text).unwrap();
    let (code, _, err) = kvcsim(&[
        "run",
        "--set",
        "workload.synthetic=",
        "--set",
        &format!("workload.trace={}", trace.display()),
        "--set",
        "workload.block_size=16",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.jsonl") && err.contains('2'), "{err}");
    assert_eq!(
        std::fs::read(out.join("requests.parquet")).unwrap(),
        before,
        "earlier output was touched"
    );
}

#[test]
fn help_and_version_work() {
    let (code, out, _) = kvcsim(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("run") && out.contains("trace"));
    let (code, out, _) = kvcsim(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("kvcsim "));
}
