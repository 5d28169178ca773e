//! `kvcsim validate ...`: validation cases against real measurements.

use std::path::PathBuf;

use crate::error::Context;
use clap::{Args, Subcommand};

use crate::error::input_error;
use crate::validate::rdma;

/// Validation cases.
#[derive(Debug, Subcommand)]
pub enum ValidateCommand {
    /// Calibrate on every perftest output in DATA/perftest_outputs, replay with `bench rdma`,
    /// compare; prints a markdown table.
    Rdma(ValidateRdmaArgs),
    /// Fit the GPU model's operator curves to every measured table in DATA (../shared/gpu),
    /// compare per GPU, model, TP and operator class, cross-validate; prints a markdown table
    /// and exits 1 when a target is missed (unless allowed with --allow-miss).
    Gpu(ValidateGpuArgs),
}

/// Arguments of `kvcsim validate gpu`.
#[derive(Debug, Args)]
pub struct ValidateGpuArgs {
    /// The measured tables (holding vidur/ and aiconfigurator/), e.g. ../shared/gpu.
    #[arg(long)]
    data: PathBuf,
    /// Framework whose AIConfigurator tables are read.
    #[arg(long, value_enum, default_value = "vllm")]
    framework: crate::validate::gpu::Framework,
    /// Also write the table to this markdown file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the section between `<!-- validate gpu: begin -->` and `<!-- validate gpu:
    /// end -->` of this markdown file with the table.
    #[arg(long)]
    readme: Option<PathBuf>,
    /// A missed target to tolerate: a substring of the check's name as printed
    /// (`GPU / source / class / measure`). Repeatable; each must match a missed check.
    #[arg(long)]
    allow_miss: Vec<String>,
}

/// Arguments of `kvcsim validate rdma`.
#[derive(Debug, Args)]
pub struct ValidateRdmaArgs {
    /// The calibration folder (holding perftest_outputs/), e.g. ../shared/calibration.
    #[arg(long)]
    data: PathBuf,
    /// Folder of the shipped network profiles used as calibration bases.
    #[arg(long, default_value = "scenarios/hardware/network")]
    profiles: PathBuf,
    /// Also write the table to this markdown file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Cap the iterations of each replay (faster, for smoke tests).
    #[arg(long)]
    max_iters: Option<u64>,
}

/// Runs `kvcsim validate ...`.
pub fn run(cmd: ValidateCommand) -> crate::error::Result<()> {
    match cmd {
        ValidateCommand::Rdma(a) => {
            if !a.data.join("perftest_outputs").is_dir() {
                return Err(input_error(format!(
                    "{} has no perftest_outputs/ folder",
                    a.data.display()
                )));
            }
            let report = rdma::validate(&a.data, &a.profiles, a.max_iters)?;
            let md = rdma::markdown(&report);
            print!("{md}");
            if let Some(out) = a.out {
                let tmp = out.with_extension("md.tmp");
                std::fs::write(&tmp, &md).with_context(|| format!("writing {}", tmp.display()))?;
                std::fs::rename(&tmp, &out)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            Ok(())
        }
        ValidateCommand::Gpu(a) => validate_gpu(a),
    }
}

const README_BEGIN: &str = "<!-- validate gpu: begin -->";
const README_END: &str = "<!-- validate gpu: end -->";

fn validate_gpu(a: ValidateGpuArgs) -> crate::error::Result<()> {
    use crate::validate::gpu::{self, report};
    if !a.data.is_dir() {
        return Err(input_error(format!(
            "--data {} is not a folder",
            a.data.display()
        )));
    }
    let v = gpu::validate(&a.data, a.framework)?;
    let command = format!(
        "kvcsim validate gpu --data {} --framework {}",
        a.data.display(),
        a.framework.folder()
    );
    let mut md = report::markdown(&v, &command);
    let mut profiled = Vec::new();
    for entry in &gpu::observe::GPUS {
        let Ok((fallback, _)) = gpu::profile_params(&v, entry.3) else {
            continue;
        };
        let spec = kvcsim_models::hardware::load_gpu(entry.3)?;
        let tables = gpu::tables::gpu_tables(&a.data, entry, a.framework)?;
        profiled.push((
            entry.3.to_string(),
            gpu::tables::leave_one_out(&tables, &fallback, &spec),
        ));
    }
    md.push_str(&report::profiled_markdown(&profiled));
    print!("{md}");
    if let Some(out) = &a.out {
        write_atomic(out, &md)?;
    }
    if let Some(readme) = &a.readme {
        let text = std::fs::read_to_string(readme)
            .map_err(|e| input_error(format!("cannot read {}: {e}", readme.display())))?;
        let (Some(b), Some(e)) = (text.find(README_BEGIN), text.find(README_END)) else {
            return Err(input_error(format!(
                "{} has no `{README_BEGIN}` ... `{README_END}` section",
                readme.display()
            )));
        };
        let new = format!("{}{README_BEGIN}\n{md}{}", &text[..b], &text[e..]);
        write_atomic(readme, &new)?;
    }
    let checks = report::checks(&v);
    let missed: Vec<_> = checks.iter().filter(|c| !c.met()).collect();
    let mut unexplained = Vec::new();
    for c in &missed {
        if !a.allow_miss.iter().any(|m| c.name.contains(m.as_str())) {
            unexplained.push(c);
        }
    }
    for m in &a.allow_miss {
        if !missed.iter().any(|c| c.name.contains(m.as_str())) {
            eprintln!("note: --allow-miss `{m}` matches no missed target (it may be met now)");
        }
    }
    eprintln!(
        "{} targets checked, {} met, {} missed ({} allowed)",
        checks.len(),
        checks.len() - missed.len(),
        missed.len(),
        missed.len() - unexplained.len()
    );
    if unexplained.is_empty() {
        Ok(())
    } else {
        for c in &unexplained {
            eprintln!(
                "missed: {}: {:.1}% > {:.0}%",
                c.name,
                100.0 * c.value,
                100.0 * c.target
            );
        }
        Err(crate::error::internal(format!(
            "{} GPU model targets missed",
            unexplained.len()
        )))
    }
}

fn write_atomic(path: &std::path::Path, text: &str) -> crate::error::Result<()> {
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
