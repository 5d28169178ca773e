//! Sweeps: identical files whatever the number of threads, shards that merge into the
//! unsharded sweep, resumption after an interruption, and errors that name the parameter.

use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::{Array, RecordBatch, StringArray, UInt64Array};
use kvcsim::sweep::{self, Plan, RunOptions, Shard};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{kvcsim, write_trace};

/// 2 capacities x 2 routers x 2 seeds = 8 points of 60 requests each.
const SPEC: &str = "\
set:
  workload.synthetic.limit.requests: 60
parameters:
  - path: cache.capacity_blocks
    values: [20, 200]
  - path: router.kind
    values: [round-robin, cache-aware]
seeds: 2
";

fn plan_in(dir: &Path, text: &str) -> Plan {
    let spec = dir.join("sweep.yaml");
    std::fs::write(&spec, text).unwrap();
    sweep::plan(sweep::load_spec(&spec).unwrap()).unwrap()
}

fn run(plan: &Plan, out: &Path, jobs: usize, shard: Shard, resume: bool) -> sweep::SweepReport {
    let opts = RunOptions {
        jobs,
        shard,
        resume,
    };
    sweep::run_sweep(plan, out, &opts, &()).unwrap()
}

fn bytes(path: impl AsRef<Path>) -> Vec<u8> {
    let path = path.as_ref();
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every deterministic file of a sweep folder, by relative path (not timings.parquet).
fn deterministic_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !["timings.parquet", "timings.json"]
                .contains(&p.file_name().unwrap().to_str().unwrap())
            {
                files.push((p.strip_prefix(root).unwrap().to_path_buf(), bytes(&p)));
            }
        }
    }
    files.sort();
    files
}

fn assert_same_sweep(a: &Path, b: &Path) {
    let (fa, fb) = (deterministic_files(a), deterministic_files(b));
    let names = |f: &[(PathBuf, Vec<u8>)]| f.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&fa), names(&fb), "different files");
    for ((p, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(x == y, "{} differs", p.display());
    }
}

fn batch(path: &Path) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.len(), 1, "small tables are one batch");
    batches[0].clone()
}

fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = b.column_by_name(name).unwrap();
    let col = col.as_any().downcast_ref::<StringArray>().unwrap();
    (0..col.len())
        .map(|i| (!col.is_null(i)).then(|| col.value(i).to_string()))
        .collect()
}

#[test]
fn one_or_two_jobs_give_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_in(dir.path(), SPEC);
    assert_eq!(plan.points.len(), 8);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let report = run(&plan, &a, 1, Shard::ALL, false);
    assert_eq!((report.points, report.kept, report.failed.len()), (8, 0, 0));
    run(&plan, &b, 2, Shard::ALL, false);
    assert_same_sweep(&a, &b);

    let s = batch(&a.join("summary.parquet"));
    assert_eq!(s.num_rows(), 8);
    let names: Vec<String> = s
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        &names[..4],
        ["point_id", "cache.capacity_blocks", "router.kind", "seed"]
    );
    assert!(!names.iter().any(|n| n == "wall_s" || n == "events_per_s"));
    let ids = s.column_by_name("point_id").unwrap();
    let ids = ids.as_any().downcast_ref::<UInt64Array>().unwrap();
    assert_eq!(ids.values().to_vec(), (0..8).collect::<Vec<u64>>());
    assert!(
        strings(&s, "status")
            .iter()
            .all(|v| v.as_deref() == Some("ok"))
    );
    assert_eq!(batch(&a.join("timings.parquet")).num_rows(), 8);
    assert!(a.join("points/point=7/_SUCCESS").is_file());
    assert!(!a.join(".tmp").exists());
}

#[test]
fn merged_shards_equal_the_unsharded_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_in(dir.path(), SPEC);
    let (full, s0, s1, merged) = (
        dir.path().join("full"),
        dir.path().join("s0"),
        dir.path().join("s1"),
        dir.path().join("merged"),
    );
    run(&plan, &full, 2, Shard::ALL, false);
    let r0 = run(&plan, &s0, 1, Shard { index: 0, count: 2 }, false);
    let r1 = run(&plan, &s1, 1, Shard { index: 1, count: 2 }, false);
    assert_eq!((r0.points, r1.points), (4, 4));
    assert!(s0.join("points/point=2").exists() && !s0.join("points/point=1").exists());

    // A shard alone is not the whole sweep.
    let err = sweep::merge(std::slice::from_ref(&s0), &merged).unwrap_err();
    assert!(format!("{err:#}").contains("4 of 8 points"), "{err:#}");

    let report = sweep::merge(&[s0.clone(), s1.clone()], &merged).unwrap();
    assert_eq!(report.points, 8);
    assert_same_sweep(&full, &merged);

    // Merging into one of the shard folders works too.
    sweep::merge(&[s0.clone(), s1.clone()], &s1).unwrap();
    assert_same_sweep(&full, &s1);

    // A shard of another spec is refused.
    let other_dir = dir.path().join("other");
    std::fs::create_dir(&other_dir).unwrap();
    let other = plan_in(&other_dir, &SPEC.replace("[20, 200]", "[20, 300]"));
    let o1 = dir.path().join("o1");
    run(&other, &o1, 1, Shard { index: 1, count: 2 }, false);
    let err = sweep::merge(&[s0, o1], &dir.path().join("bad")).unwrap_err();
    assert!(
        format!("{err:#}").contains("not a shard of the same sweep"),
        "{err:#}"
    );
}

#[test]
fn an_interrupted_sweep_resumes_to_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_in(dir.path(), SPEC);
    let full = dir.path().join("full");
    run(&plan, &full, 2, Shard::ALL, false);

    // Interrupted after one shard: the rest of the points and the tables are missing.
    let resumed = dir.path().join("resumed");
    run(&plan, &resumed, 1, Shard { index: 1, count: 2 }, false);
    // ...and mid-point: a point without its marker, a half-written point in .tmp/.
    std::fs::remove_file(resumed.join("points/point=3/_SUCCESS")).unwrap();
    std::fs::remove_file(resumed.join("points/point=3/requests.parquet")).unwrap();
    let half = resumed.join(".tmp/point=4.999");
    std::fs::create_dir_all(&half).unwrap();
    std::fs::write(half.join("requests.parquet"), "PAR1 half").unwrap();
    std::fs::remove_file(resumed.join("summary.parquet")).unwrap();

    let report = run(&plan, &resumed, 2, Shard::ALL, true);
    assert_eq!((report.points, report.kept), (8, 3));
    assert_same_sweep(&full, &resumed);

    // Resuming a complete sweep runs nothing and changes nothing.
    let report = run(&plan, &resumed, 2, Shard::ALL, true);
    assert_eq!(report.kept, 8);
    assert_same_sweep(&full, &resumed);
}

#[test]
fn a_killed_sweep_resumes_to_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("sweep.yaml");
    std::fs::write(&spec, SPEC.replace("requests: 60", "requests: 400")).unwrap();
    let (full, killed) = (dir.path().join("full"), dir.path().join("killed"));
    let args = |out: &Path, resume: bool| {
        let mut a = vec![
            "sweep".to_string(),
            spec.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--jobs".into(),
            "2".into(),
        ];
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvcsim"))
        .args(args(&killed, false))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the first point is in place (or give up waiting: then it simply finished).
    let first = killed.join("points/point=0");
    for _ in 0..2000 {
        if first.exists() || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    child.wait().unwrap();

    let a = args(&killed, true);
    let (code, _, err) = kvcsim(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let a = args(&full, false);
    let (code, _, err) = kvcsim(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    assert_same_sweep(&full, &killed);
}

#[test]
fn a_bad_parameter_is_exit_2_naming_it_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("s.yaml");
    let out = dir.path().join("out");
    std::fs::write(
        &spec,
        "parameters:\n  - path: cluster.instancs\n    values: [2, 4]\n",
    )
    .unwrap();
    let (code, _, err) = kvcsim(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("parameter `cluster.instancs` = 2")
            && err.contains("did you mean `instances`"),
        "{err}"
    );
    std::fs::write(
        &spec,
        "parameters:\n  - path: workload.rate_scale\n    values: [1.0, -2.0]\n",
    )
    .unwrap();
    let (code, _, err) = kvcsim(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("parameter `workload.rate_scale` = -2.0") && err.contains("positive"),
        "{err}"
    );
    assert!(
        !out.exists(),
        "nothing may be written before every point is valid"
    );
    let (code, _, err) = kvcsim(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--shard",
        "2/2",
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_failed_point_is_recorded_and_the_others_run() {
    let dir = tempfile::tempdir().unwrap();
    write_trace(
        &dir.path().join("good.jsonl"),
        &[(0, 32, 2, &[1, 2]), (5, 32, 2, &[1, 3])],
    );
    write_trace(&dir.path().join("bad.jsonl"), &[(0, 32, 2, &[1, 2])]);
    let mut bad = std::fs::read_to_string(dir.path().join("bad.jsonl")).unwrap();
    bad += "{\"timestamp\": 5, \"input_length\": 32}\n";
    std::fs::write(dir.path().join("bad.jsonl"), bad).unwrap();
    let spec = dir.path().join("s.yaml");
    std::fs::write(
        &spec,
        "set:\n  workload.synthetic: null\n  workload.block_size: 16\nparameters:\n  - path: workload.trace\n    values: [good.jsonl, bad.jsonl]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let (code, _, err) = kvcsim(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1 of 2 points failed"), "{err}");
    let s = batch(&out.join("summary.parquet"));
    assert_eq!(
        strings(&s, "status"),
        vec![Some("ok".to_string()), Some("failed".to_string())]
    );
    let errors = strings(&s, "error");
    assert!(errors[0].is_none());
    assert!(
        errors[1].as_deref().unwrap().contains("bad.jsonl"),
        "{errors:?}"
    );
    assert_eq!(
        s.column_by_name("requests_completed").unwrap().null_count(),
        1
    );
    assert!(out.join("points/point=1/_FAILED").is_file());
    assert!(out.join("points/point=0/requests.parquet").is_file());

    // Another spec into the same folder is refused.
    std::fs::write(
        &spec,
        "set:\n  workload.synthetic: null\n  workload.block_size: 16\nparameters:\n  - path: workload.trace\n    values: [good.jsonl]\n",
    )
    .unwrap();
    let (code, _, err) = kvcsim(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holds another sweep"), "{err}");
}
