//! kvcsim's integration tests: one binary, themed modules.

mod cli;
mod determinism;
mod disaggregation;
mod fast_forward;
mod fuzz;
mod hand_computed;
mod metadata;
mod plan;
mod preemption;
mod replay;
mod report;
mod robustness;
mod routing;
mod slo;
mod sweeps;
mod tiers;

use std::path::Path;

/// Writes a Mooncake JSONL trace: (timestamp ms, input tokens, output tokens, hash_ids).
pub fn write_trace(path: &Path, rows: &[(u64, u64, u64, &[u64])]) {
    let mut s = String::new();
    for (ts, input, output, ids) in rows {
        let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
        s += &format!(
            "{{\"timestamp\": {ts}, \"input_length\": {input}, \"output_length\": {output}, \"hash_ids\": [{}]}}\n",
            ids.join(", ")
        );
    }
    std::fs::write(path, s).unwrap();
}

/// The GPU model of a scenario's (first pool's) instances, at TP 1.
pub fn gpu(s: &kvcsim::scenario::Scenario) -> Box<dyn kvcsim_models::gpu::GpuModel> {
    s.gpu_model.build(s.llm.clone(), s.gpu.clone(), 1).unwrap()
}

/// Seconds as the engine rounds them to nanoseconds.
pub fn ns(secs: f64) -> u64 {
    kvcsim::engine::SimDuration::from_secs_f64(secs).as_nanos()
}

/// Runs the `kvcsim` binary: (exit code, stdout, stderr).
pub fn kvcsim(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvcsim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
