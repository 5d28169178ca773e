//! Integration: `validate rdma` on the shared calibration data, when it is present.

use std::path::Path;

#[test]
fn validation_runs_on_shared_calibration_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = root.join("../shared/calibration");
    if !data.join("perftest_outputs").is_dir() {
        // CI runs with ../shared present: there a missing folder is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {} is absent: the validation cannot run",
            data.display()
        );
        eprintln!(
            "skip: {} not found (validation needs the shared calibration data)",
            data.display()
        );
        return;
    }
    let report = kvcsim::validate::rdma::validate(
        &data,
        &root.join("scenarios/hardware/network"),
        Some(2000),
    )
    .expect("validation runs");
    assert!(!report.files.is_empty());
    // The ConnectX-3 set is the reference calibration: every file meets its targets.
    for f in report.files.iter().filter(|f| f.group == "cx3_qdr") {
        assert!(f.pass, "{} misses its targets: {f:?}", f.file);
    }
}
