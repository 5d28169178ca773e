//! Regression tests of issue 13: each finding of the bad-input corpus, by name. Every case is
//! either refused with exit 2 and a message naming the field (or flag), the value and the limit,
//! or accepted and run to completion; none panics, hangs or allocates without bound.

use std::fs;
use std::path::Path;

use super::{kvcsim, write_trace};

/// A small run: 20 synthetic requests, plus `sets`, into `out`.
fn run_with(out: &Path, sets: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "run",
        "--set",
        "workload.synthetic.limit.requests=20",
        "--out",
        out.to_str().unwrap(),
    ];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    kvcsim(&args)
}

fn refused(r: (i32, String, String), wants: &[&str]) {
    let (code, _, err) = r;
    assert_eq!(code, 2, "{err}");
    for w in wants {
        assert!(err.contains(w), "want `{w}` in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

fn accepted(r: (i32, String, String)) {
    let (code, _, err) = r;
    assert_eq!(code, 0, "{err}");
}

fn tiny_trace(dir: &Path) -> String {
    let p = dir.join("t.jsonl");
    write_trace(
        &p,
        &[
            (0, 1024, 4, &[1, 2]),
            (100, 1024, 4, &[1, 3]),
            (200, 1536, 4, &[1, 2, 4]),
        ],
    );
    p.display().to_string()
}

// ---- Panics and aborts ----

#[test]
fn capacity_blocks_of_1e18_runs_without_capacity_overflow() {
    let d = tempfile::tempdir().unwrap();
    accepted(run_with(
        &d.path().join("o"),
        &["cache.capacity_blocks=1000000000000000000"],
    ));
}

#[test]
fn cache_replay_capacity_u64_max_and_1e9_run_without_allocating_it() {
    let d = tempfile::tempdir().unwrap();
    let t = tiny_trace(d.path());
    for cap in ["18446744073709551615", "1000000000"] {
        accepted(kvcsim(&[
            "cache",
            "replay",
            &t,
            "--block-size",
            "512",
            "--capacity",
            cap,
        ]));
    }
}

#[test]
fn bench_engine_pending_0_is_refused_not_a_panic() {
    refused(
        kvcsim(&["bench", "engine", "--pending", "0", "--events", "10"]),
        &["--pending", "at least 1"],
    );
}

#[test]
fn a_million_instances_is_refused_naming_the_field_and_memory() {
    let d = tempfile::tempdir().unwrap();
    refused(
        run_with(&d.path().join("o"), &["cluster.instances=1000000"]),
        &["cluster.instances", "1000000", "GB", "--allow-large"],
    );
}

#[test]
fn rate_scale_1e_300_and_1e_6_are_refused_naming_rate_scale() {
    let d = tempfile::tempdir().unwrap();
    refused(
        run_with(&d.path().join("o"), &["workload.rate_scale=1e-300"]),
        &["workload.rate_scale", "1e-300"],
    );
    refused(
        run_with(&d.path().join("o"), &["workload.rate_scale=1e-6"]),
        &["workload.rate_scale", "time-series rows", "10000000"],
    );
}

#[test]
fn timeseries_interval_of_1e_9_and_below_is_refused() {
    let d = tempfile::tempdir().unwrap();
    refused(
        run_with(&d.path().join("o"), &["output.timeseries_interval_s=1e-9"]),
        &["output.timeseries_interval_s", "time-series rows"],
    );
    refused(
        run_with(&d.path().join("o"), &["output.timeseries_interval_s=1e-12"]),
        &["output.timeseries_interval_s", "one nanosecond"],
    );
}

#[test]
fn a_tier_of_1e15_gb_runs_without_allocating_it() {
    let d = tempfile::tempdir().unwrap();
    accepted(run_with(
        &d.path().join("o"),
        &["cache.tiers=[{kind: dram, capacity_gb: 1e15}]"],
    ));
}

fn sweep_spec(dir: &Path, body: &str) -> String {
    let p = dir.join("s.yaml");
    fs::write(
        &p,
        format!("base:\n  workload: {{ synthetic: {{ limit: {{ requests: 5 }} }} }}\n{body}"),
    )
    .unwrap();
    p.display().to_string()
}

#[test]
fn a_billion_seeds_is_refused_before_the_grid_is_built() {
    let d = tempfile::tempdir().unwrap();
    let s = sweep_spec(d.path(), "seeds: 1000000000\n");
    let out = d.path().join("o");
    refused(
        kvcsim(&["sweep", &s, "--out", out.to_str().unwrap()]),
        &["seeds", "1000000000", "100000"],
    );
}

#[test]
fn bench_sizes_past_their_limits_are_refused() {
    refused(
        kvcsim(&["bench", "engine", "--pending", "100000000000"]),
        &["--pending", "100000000000", "--allow-large"],
    );
    refused(
        kvcsim(&[
            "bench",
            "metadata",
            "--backend",
            "redis",
            "--keys",
            "100000000000",
        ]),
        &["--keys", "100000000000", "--allow-large"],
    );
}

#[test]
fn bench_rdma_qps_past_its_limit_is_refused() {
    let profile = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/hardware/network/connectx6-100g-roce.yaml");
    refused(
        kvcsim(&[
            "bench",
            "rdma",
            "--profile",
            profile.to_str().unwrap(),
            "--test",
            "read_lat",
            "--qps",
            "1000000000000",
        ]),
        &["--qps", "1000000000000", "65536"],
    );
}

// ---- Hangs ----

#[test]
fn a_synthetic_rate_of_1e9_is_refused_not_generated_for_hours() {
    let d = tempfile::tempdir().unwrap();
    refused(
        run_with(
            &d.path().join("o"),
            &["workload.synthetic.arrivals.rate_per_s=1e9"],
        ),
        &["rate_per_s", "warmup_s", "100000000"],
    );
    refused(
        kvcsim(&[
            "trace",
            "synth",
            "--out",
            d.path().join("t.jsonl").to_str().unwrap(),
            "--requests",
            "5",
            "--spec",
            &{
                let p = d.path().join("spec.yaml");
                fs::write(&p, "arrivals: {kind: poisson, rate_per_s: 1e9}\n").unwrap();
                p.display().to_string()
            },
        ]),
        &["rate_per_s", "warm-up"],
    );
}

#[test]
fn a_range_of_a_billion_steps_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let s = sweep_spec(
        d.path(),
        "parameters:\n  - {path: workload.rate_scale, range: {from: 1, to: 2, steps: 1000000000}}\n",
    );
    let out = d.path().join("o");
    refused(
        kvcsim(&["sweep", &s, "--out", out.to_str().unwrap()]),
        &["steps", "1000000000"],
    );
}

#[test]
fn sweep_jobs_100000_on_four_points_is_clamped_and_runs() {
    let d = tempfile::tempdir().unwrap();
    let s = sweep_spec(
        d.path(),
        "parameters:\n  - {path: cluster.instances, values: [1, 2, 3, 4]}\n",
    );
    let out = d.path().join("o");
    accepted(kvcsim(&[
        "sweep",
        &s,
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "100000",
    ]));
}

#[test]
fn bench_engine_events_u64_max_is_refused() {
    refused(
        kvcsim(&["bench", "engine", "--events", "18446744073709551615"]),
        &["--events", "18446744073709551615"],
    );
}

// ---- Accepted when it should fail ----

#[test]
fn unknown_keys_inside_parameterless_eviction_policies_are_refused() {
    let d = tempfile::tempdir().unwrap();
    refused(
        run_with(&d.path().join("o"), &["cache.eviction={kind: lru, foo: 1}"]),
        &["cache.eviction", "foo"],
    );
    refused(
        run_with(
            &d.path().join("o"),
            &["cache.tiers=[{kind: dram, capacity_gb: 1, eviction: {kind: fifo, foo: 1}}]"],
        ),
        &["cache.tiers", "foo"],
    );
}

#[test]
fn cache_links_are_checked_without_a_tier() {
    let d = tempfile::tempdir().unwrap();
    refused(
        run_with(&d.path().join("o"), &["cache.links.pcie_lanes=0"]),
        &["cache.links", "pcie_lanes"],
    );
    refused(
        run_with(&d.path().join("o"), &["cache.links.nic_gbit_per_s=-400"]),
        &["cache.links", "nic_gbit_per_s", "-400"],
    );
}

#[test]
fn a_json_array_line_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("a.jsonl");
    fs::write(&t, "[5, 1000, 10, [0, 1]]\n").unwrap();
    refused(
        kvcsim(&["trace", "stats", t.to_str().unwrap()]),
        &["a.jsonl:1", "found an array"],
    );
}

const PERFTEST: &str =
    "---------------------------------------------------------------------------------------
                    RDMA_Write BW Test
 Link type       : IB
---------------------------------------------------------------------------------------
 #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]
 2          5000           9.88               VALUE               5.128076
 65536      5000           11613.43           11611.74           0.185788
---------------------------------------------------------------------------------------
";

#[test]
fn perftest_tables_with_nan_inf_or_negative_values_are_refused() {
    let d = tempfile::tempdir().unwrap();
    for bad in ["nan", "inf", "-9.78"] {
        let f = d.path().join("ib_write_bw.txt");
        fs::write(&f, PERFTEST.replace("VALUE", bad)).unwrap();
        refused(
            kvcsim(&[
                "calibrate",
                f.to_str().unwrap(),
                "-o",
                d.path().join("p.yaml").to_str().unwrap(),
            ]),
            &["ib_write_bw.txt", "line 6", bad],
        );
    }
}

#[test]
fn an_empty_perftest_outputs_folder_is_refused() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("perftest_outputs")).unwrap();
    refused(
        kvcsim(&["validate", "rdma", "--data", d.path().to_str().unwrap()]),
        &["perftest_outputs", "no perftest outputs"],
    );
}

#[test]
fn bench_metadata_keys_0_and_scan_max_0_are_refused() {
    refused(
        kvcsim(&["bench", "metadata", "--backend", "redis", "--keys", "0"]),
        &["--keys", "at least 1"],
    );
    refused(
        kvcsim(&[
            "bench",
            "metadata",
            "--backend",
            "redis",
            "--workload",
            "ycsb-e",
            "--scan-max",
            "0",
        ]),
        &["--scan-max", "at least 1"],
    );
}

// ---- Silently wrong ----

#[test]
fn a_one_step_range_between_two_ends_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let s = sweep_spec(
        d.path(),
        "parameters:\n  - {path: workload.rate_scale, range: {from: 1, to: 2, steps: 1}}\n",
    );
    let out = d.path().join("o");
    refused(
        kvcsim(&["sweep", &s, "--out", out.to_str().unwrap()]),
        &["steps: 1", "2"],
    );
}

// ---- Exit 1 for the user's mistake ----

#[test]
fn calibrate_and_trace_synth_into_a_folder_are_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("ib_write_bw.txt");
    fs::write(&f, PERFTEST.replace("VALUE", "9.78")).unwrap();
    let dir = d.path().display().to_string();
    refused(
        kvcsim(&["calibrate", f.to_str().unwrap(), "-o", &dir]),
        &[&dir, "is a folder"],
    );
    refused(
        kvcsim(&["trace", "synth", "--requests", "5", "--out", &dir]),
        &[&dir],
    );
}

#[test]
fn trace_synth_into_an_unwritable_place_is_exit_2() {
    // /proc accepts no new files, whoever runs the test (root included).
    refused(
        kvcsim(&[
            "trace",
            "synth",
            "--requests",
            "5",
            "--out",
            "/proc/kvcsim-issue-13.jsonl",
        ]),
        &["/proc/", "kvcsim-issue-13.jsonl"],
    );
}

#[test]
fn bench_metadata_theta_negative_or_nan_names_theta() {
    for theta in ["-1", "NaN"] {
        refused(
            kvcsim(&[
                "bench",
                "metadata",
                "--backend",
                "redis",
                "--keys",
                "100",
                "--ops",
                "100",
                &format!("--theta={theta}"),
            ]),
            &["--theta", theta],
        );
    }
}

// ---- Poor messages ----

#[test]
fn tier_with_both_or_neither_capacity_shows_what_was_given() {
    let d = tempfile::tempdir().unwrap();
    refused(
        run_with(
            &d.path().join("o"),
            &["cache.tiers=[{kind: dram, capacity_gb: 1, capacity_blocks: 5}]"],
        ),
        &["cache.tiers[0]", "5 and 1", "both"],
    );
    refused(
        run_with(&d.path().join("o"), &["cache.tiers=[{kind: ssd}]"]),
        &["cache.tiers[0]", "(neither)"],
    );
}

#[test]
fn set_of_a_missing_tier_index_names_the_index() {
    let d = tempfile::tempdir().unwrap();
    refused(
        run_with(&d.path().join("o"), &["cache.tiers.5.kind=dram"]),
        &["cache.tiers", "5"],
    );
}

#[test]
fn a_malformed_network_profile_is_named_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("net.yaml");
    fs::write(&p, "name: x\nlink_gbit_per_s: [\n").unwrap();
    let f = d.path().join("ib_write_bw.txt");
    fs::write(&f, PERFTEST.replace("VALUE", "9.78")).unwrap();
    refused(
        kvcsim(&[
            "calibrate",
            f.to_str().unwrap(),
            "--base",
            p.to_str().unwrap(),
            "-o",
            d.path().join("o.yaml").to_str().unwrap(),
        ]),
        &["net.yaml", "invalid network profile"],
    );
}

#[test]
fn sweep_merge_of_a_corrupt_point_names_the_file() {
    let d = tempfile::tempdir().unwrap();
    let s = sweep_spec(
        d.path(),
        "parameters:\n  - {path: cluster.instances, values: [1, 2]}\n",
    );
    let a = d.path().join("a");
    accepted(kvcsim(&["sweep", &s, "--out", a.to_str().unwrap()]));
    fs::write(a.join("points/point=1/summary.json"), "{ not json").unwrap();
    let m = d.path().join("m");
    refused(
        kvcsim(&[
            "sweep",
            "merge",
            a.to_str().unwrap(),
            "--out",
            m.to_str().unwrap(),
        ]),
        &["point 1", "summary.json", "not a run summary"],
    );
}

// ---- Output folders ----

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn out_into_a_folder_of_unrelated_files_is_refused_unless_force() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("mine");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("requests.parquet"), "the user's").unwrap();
    refused(
        run_with(&out, &[]),
        &["mine", "not a kvcsim output", "--force"],
    );
    assert_eq!(
        fs::read_to_string(out.join("requests.parquet")).unwrap(),
        "the user's"
    );
    let (code, _, err) = kvcsim(&[
        "run",
        "--set",
        "workload.synthetic.limit.requests=20",
        "--out",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(names(&out).contains(&".kvcsim-output".to_string()));
}

#[test]
fn a_rerun_replaces_the_folder_whole_and_a_failed_one_leaves_it_untouched() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    accepted(run_with(&out, &["seed=1"]));
    let before = fs::read(out.join("requests.parquet")).unwrap();
    // A run that fails after the folder was checked (its trace is malformed) changes nothing.
    let t = d.path().join("bad.jsonl");
    fs::write(&t, "{\"timestamp\": 0}\n").unwrap();
    let (code, _, _) = kvcsim(&[
        "run",
        "--set",
        &format!("workload.trace={}", t.display()),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert_eq!(fs::read(out.join("requests.parquet")).unwrap(), before);
    assert_eq!(
        names(d.path()),
        ["bad.jsonl", "o"],
        "no staging folder left"
    );
    accepted(run_with(&out, &["seed=2"]));
    let resolved = fs::read_to_string(out.join("scenario.resolved.yaml")).unwrap();
    assert!(resolved.contains("seed: 2"), "{resolved}");
}

#[test]
fn a_killed_runs_staging_folder_is_removed_and_the_old_output_survives() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    accepted(run_with(&out, &["seed=1"]));
    let before = fs::read(out.join("summary.json")).unwrap();
    // A long run, killed while it works: its files are only in its staging folder.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kvcsim"))
        .args([
            "run",
            "--set",
            "workload.synthetic.limit.requests=1000000",
            "--set",
            "seed=7",
            "--out",
            out.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let staging = d.path().join(format!(".o.kvcsim-staging.{}", child.id()));
    while !staging.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(staging.exists(), "a killed run leaves its staging folder");
    assert_eq!(fs::read(out.join("summary.json")).unwrap(), before);
    accepted(run_with(&out, &["seed=3"]));
    assert!(
        !staging.exists(),
        "the next run removes a dead run's staging folder"
    );
    assert_eq!(names(d.path()), ["o"]);
}
