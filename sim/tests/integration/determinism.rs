//! The same scenario and seed give byte-identical Parquet files.

use std::path::Path;

use kvcsim::run::run_to_dir;
use kvcsim::scenario::load;

#[test]
fn default_scenario_twice_gives_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = load(None, &["workload.synthetic.limit.requests=300".into()]).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run_to_dir(&s, &a, false, &mut ()).unwrap();
    run_to_dir(&s, &b, false, &mut ()).unwrap();
    for f in [
        "requests.parquet",
        "timeseries.parquet",
        "scenario.resolved.yaml",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
    let rows = read_rows(&a.join("requests.parquet"));
    assert_eq!(rows, 300);
}

#[test]
fn different_seeds_give_different_workloads() {
    let dir = tempfile::tempdir().unwrap();
    let s1 = load(
        None,
        &[
            "workload.synthetic.limit.requests=100".into(),
            "seed=1".into(),
        ],
    )
    .unwrap();
    let s2 = load(
        None,
        &[
            "workload.synthetic.limit.requests=100".into(),
            "seed=2".into(),
        ],
    )
    .unwrap();
    run_to_dir(&s1, &dir.path().join("a"), false, &mut ()).unwrap();
    run_to_dir(&s2, &dir.path().join("b"), false, &mut ()).unwrap();
    assert_ne!(
        std::fs::read(dir.path().join("a/requests.parquet")).unwrap(),
        std::fs::read(dir.path().join("b/requests.parquet")).unwrap()
    );
}

fn read_rows(path: &Path) -> usize {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    r.metadata().file_metadata().num_rows() as usize
}

/// Golden summary of a small default-scenario run: any change to a model that moves these
/// figures shows up here for review (`cargo insta review`). Wall-clock fields are left out.
#[test]
fn default_scenario_summary_is_stable() {
    let s = load(None, &["workload.synthetic.limit.requests=300".into()]).unwrap();
    let (_, mut summary) = kvcsim::run::simulate(&s, &mut ()).unwrap();
    summary.wall_s = None;
    summary.events_per_s = None;
    insta::assert_json_snapshot!(summary);
}
