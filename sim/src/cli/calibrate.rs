//! `kvcsim calibrate`: fit a network profile to perftest outputs.

use std::path::PathBuf;

use crate::error::Context;
use clap::Args;
use kvcsim_models::net::NetworkProfile;
use kvcsim_models::perftest::{calibrate, error_summary, parse_perftest};

use crate::error::input_error;

/// Arguments of `kvcsim calibrate`: a network profile from perftest outputs, or
/// `calibrate gpu`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CalibrateArgs {
    /// `gpu`: fit the GPU model to measured operator tables instead.
    #[command(subcommand)]
    what: Option<CalibrateCommand>,
    /// perftest text outputs (client side, or interleaved server + client).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where to write the fitted profile (YAML).
    #[arg(short = 'o', long = "output", required = true)]
    output: Option<PathBuf>,
    /// Profile whose values the data do not constrain are kept (default: generic IB defaults).
    #[arg(long)]
    base: Option<PathBuf>,
    /// Name of the fitted profile (default: the output file stem).
    #[arg(long)]
    name: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// What else `calibrate` fits.
#[derive(Debug, clap::Subcommand)]
pub enum CalibrateCommand {
    /// Fit the GPU model's operator curves to measured tables (../shared/gpu) and write a
    /// profile for `cluster.gpu_model` / `bench gpu --gpu-model`.
    Gpu(super::calibrate_gpu::CalibrateGpuArgs),
}

/// Runs `kvcsim calibrate`.
pub fn run(a: CalibrateArgs) -> crate::error::Result<()> {
    if let Some(CalibrateCommand::Gpu(g)) = a.what {
        return super::calibrate_gpu::run(g);
    }
    let Some(output) = a.output.clone() else {
        return Err(input_error("calibrate needs -o PROFILE.yaml"));
    };
    let base = match &a.base {
        Some(p) => {
            NetworkProfile::load(p).with_context(|| format!("loading --base {}", p.display()))?
        }
        None => NetworkProfile::default(),
    };
    let mut files = Vec::new();
    for p in &a.files {
        let text = std::fs::read_to_string(p)
            .map_err(|e| input_error(format!("cannot read {}: {e}", p.display())))?;
        let runs =
            parse_perftest(&text).map_err(|e| input_error(format!("{}: {e}", p.display())))?;
        let name = p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().to_string(),
        );
        files.push((name, runs));
    }
    if output.is_dir() {
        return Err(input_error(format!(
            "-o {}: is a folder; give the profile's file name, e.g. {}",
            output.display(),
            output.join("calibrated.yaml").display()
        )));
    }
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(input_error(format!(
            "output folder {} does not exist",
            parent.display()
        )));
    }
    let cal = calibrate(&base, &files);
    let mut profile = cal.profile.clone();
    profile.name = a.name.clone().unwrap_or_else(|| {
        output
            .file_stem()
            .map_or("calibrated".into(), |s| s.to_string_lossy().to_string())
    });
    let (fm, fx) = error_summary(&cal.rows);
    let (cm, cx) = error_summary(&cal.cv_rows);
    let inputs: Vec<String> = a.files.iter().map(|p| p.display().to_string()).collect();
    profile.description = format!(
        "Fitted by `kvcsim calibrate` from {} perftest output(s): {}. Fitted: {}. From headers: {}. \
         Fit |rel error| median {:.2}% max {:.2}%; leave-one-size-out median {:.2}% max {:.2}%. \
         Other values: base profile `{}`.",
        inputs.len(),
        inputs.join(", "),
        cal.fitted.join(", "),
        if cal.from_header.is_empty() {
            "none".into()
        } else {
            cal.from_header.join(", ")
        },
        fm * 100.0,
        fx * 100.0,
        cm * 100.0,
        cx * 100.0,
        base.name
    );
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        *first = "kvcsim".into(); // not the build path of the binary
    }
    let yaml = format!(
        "# Produced by: {}\n# Do not edit by hand; re-run the command above. Units are in the field names.\n{}",
        args.join(" "),
        profile.to_yaml()
    );
    // Through a temporary file and a rename; a folder as `-o` is refused naming it (exit 2).
    crate::output::write_text_atomic(&output, &yaml)?;
    if a.json {
        let rows: Vec<_> = cal.rows.iter().collect();
        println!(
            "{}",
            serde_json::json!({
                "rows": rows,
                "cv_rows": cal.cv_rows,
                "fit_median_abs_rel_error": fm,
                "fit_max_abs_rel_error": fx,
                "cv_median_abs_rel_error": cm,
                "cv_max_abs_rel_error": cx,
                "fitted": cal.fitted,
                "from_header": cal.from_header,
            })
        );
    } else {
        println!(
            "{:<40} {:<11} {:>9} {:<14} {:>12} {:>12} {:>9} {:>9}",
            "file", "test", "bytes", "metric", "measured", "model", "rel_err", "cv_err"
        );
        for r in &cal.rows {
            let cv = cal
                .cv_rows
                .iter()
                .find(|c| {
                    c.file == r.file
                        && c.bytes == r.bytes
                        && c.metric == r.metric
                        && c.test == r.test
                })
                .map_or(f64::NAN, |c| c.rel_error);
            println!(
                "{:<40} {:<11} {:>9} {:<14} {:>12.4} {:>12.4} {:>8.2}% {:>8.2}%",
                r.file,
                r.test,
                r.bytes,
                r.metric,
                r.measured,
                r.model,
                r.rel_error * 100.0,
                cv * 100.0
            );
        }
        println!("fitted: {}", cal.fitted.join(", "));
        println!("from headers: {}", cal.from_header.join(", "));
        println!(
            "fit |rel error|: median {:.2}%, max {:.2}%",
            fm * 100.0,
            fx * 100.0
        );
        println!(
            "leave-one-size-out |rel error|: median {:.2}%, max {:.2}%",
            cm * 100.0,
            cx * 100.0
        );
        println!("wrote {}", output.display());
    }
    Ok(())
}
