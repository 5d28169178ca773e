//! SLO attainment and goodput of whole runs, checked against the records they summarise.

use kvcsim::run::{simulate, simulate_to_dir};
use kvcsim::scenario::load;

use super::kvcsim;

const SMALL: &[&str] = &[
    "workload.synthetic.limit.requests=300",
    "slo={ttft_ms: 400, tpot_ms: 30}",
];

#[test]
fn attainment_counts_requests_meeting_every_target() {
    let overrides: Vec<String> = SMALL.iter().map(|s| s.to_string()).collect();
    let s = load(None, &overrides).unwrap();
    let (run, summary) = simulate(&s, &mut ()).unwrap();
    let reqs = &run.records.requests;
    // Counted here from the records, apart from the summary's builder.
    let meeting = reqs
        .iter()
        .filter(|r| r.ttft_ns <= 400_000_000 && r.tpot_ns <= 30_000_000)
        .count() as f64;
    let offered = reqs.len() as f64 + run.records.rejected as f64;
    let attainment = summary.slo_attainment.unwrap();
    assert_eq!(attainment, meeting / offered);
    assert!(
        attainment > 0.0 && attainment < 1.0,
        "a target that binds: {attainment}"
    );
    assert_eq!(summary.slo_met, Some(attainment >= 0.99));
    let first = reqs.iter().map(|r| r.arrival_ns).min().unwrap();
    let span_s = (run.out.end.as_nanos() - first) as f64 * 1e-9;
    assert!((summary.goodput_requests_per_s.unwrap() - meeting / span_s).abs() < 1e-9);
    // The default scenario has 4 instances of TP 1.
    assert_eq!(
        summary.goodput_per_gpu.unwrap(),
        summary.goodput_requests_per_s.unwrap() / 4.0
    );

    // Without an SLO: no figures.
    let s = load(None, &overrides[..1]).unwrap();
    let (_, plain) = simulate(&s, &mut ()).unwrap();
    assert_eq!(
        (plain.slo_attainment, plain.goodput_requests_per_s),
        (None, None)
    );
}

#[test]
fn requests_file_marks_each_request() {
    use arrow_array::{Array, BooleanArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let dir = tempfile::tempdir().unwrap();
    let overrides: Vec<String> = SMALL.iter().map(|s| s.to_string()).collect();
    let s = load(None, &overrides).unwrap();
    let summary = simulate_to_dir(&s, dir.path(), &mut ()).unwrap();
    let file = std::fs::File::open(dir.path().join("requests.parquet")).unwrap();
    let mut met = 0;
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
    {
        let batch = batch.unwrap();
        let col = batch.column_by_name("meets_slo").unwrap();
        let col = col.as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!(col.null_count(), 0);
        met += col.true_count();
    }
    let offered = summary.requests_completed + summary.requests_rejected;
    assert_eq!(summary.slo_attainment, Some(met as f64 / offered as f64));
}

#[test]
fn bad_slos_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    for (set, field) in [
        ("slo={ttft_ms: -3}", "slo.ttft_ms"),
        ("slo={tpot_ms: .nan}", "slo.tpot_ms"),
        ("slo={percentile: 90}", "at least one target"),
        ("slo={ttft_msec: 5}", "ttft_ms"),
    ] {
        let (code, _, err) = kvcsim(&["run", "--set", set, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 2, "{set}: {err}");
        assert!(err.contains(field), "{set}: {err}");
    }
}
