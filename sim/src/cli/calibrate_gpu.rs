//! `kvcsim calibrate gpu`: fit the GPU model's operator curves to measured tables and write a
//! profile that scenarios take as `cluster.gpu_model: PROFILE.yaml`.

use std::path::PathBuf;

use crate::error::Context;
use clap::Args;
use kvcsim_models::gpu::{GpuModelConfig, ProfiledParams};

use crate::error::input_error;
use crate::validate::gpu::{self, Framework, observe::GPUS, unit_errors};

/// Arguments of `kvcsim calibrate gpu`.
#[derive(Debug, Args)]
pub struct CalibrateGpuArgs {
    /// GPU profile with measured tables: a100-80gb or h100-sxm.
    #[arg(long)]
    gpu: String,
    /// Model profile (`llama-2-70b`, ...): fit the linear and element-wise curves to its Vidur
    /// tables only, and model `--measurements` with it. Default: every model of the GPU.
    #[arg(long)]
    model: Option<String>,
    /// The measured tables (vidur/ and aiconfigurator/).
    #[arg(long, default_value = "../shared/gpu")]
    data: PathBuf,
    /// Framework whose AIConfigurator attention and all-reduce tables are used.
    #[arg(long, value_enum, default_value = "vllm")]
    framework: Framework,
    /// End-to-end step times of your serving stack (CSV: kind, tp, batch, new_tokens,
    /// cached_tokens, context_tokens, time_ms); fits `cpu.per_iteration_s` on top of the
    /// operator fit. Needs --model.
    #[arg(long)]
    measurements: Option<PathBuf>,
    /// Write a profiled model (`kind: profiled`): the measured operator tables of the GPU as
    /// grids, interpolated, with the fitted roofline as their fallback; the header gives each
    /// table's source and the leave-one-out errors.
    #[arg(long)]
    profiled: bool,
    /// Where to write the profile (YAML).
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
    /// Print the report (fitted parameters, per-unit errors, per-row measured vs modelled)
    /// as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `kvcsim calibrate gpu`.
pub fn run(a: CalibrateGpuArgs) -> crate::error::Result<()> {
    if !GPUS.iter().any(|g| g.3 == a.gpu) {
        let names: Vec<_> = GPUS.iter().map(|g| g.3).collect();
        return Err(input_error(format!(
            "--gpu {}: no measured tables for it; GPUs with tables: {}",
            a.gpu,
            names.join(", ")
        )));
    }
    if !a.data.is_dir() {
        return Err(input_error(format!(
            "--data {} is not a folder",
            a.data.display()
        )));
    }
    if let Some(parent) = a.output.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(input_error(format!(
            "output folder {} does not exist",
            parent.display()
        )));
    }
    let mut v = gpu::validate(&a.data, a.framework)?;
    if let Some(model) = &a.model {
        match gpu::restrict_to_model(&a.data, a.framework, &a.gpu, model) {
            Ok(only) => v = only,
            Err(e) if a.measurements.is_some() => {
                eprintln!("note: {e:#}; the operator curves are fitted on every model");
            }
            Err(e) => return Err(e),
        }
    }
    let (mut params, mut fitted) = gpu::profile_params(&v, &a.gpu)?;
    let mut host_note = None;
    if let Some(path) = &a.measurements {
        let Some(model) = &a.model else {
            return Err(input_error(
                "--measurements needs --model (the served model profile)",
            ));
        };
        let llm = kvcsim_models::hardware::load_llm(model)
            .map_err(|e| input_error(format!("--model: {e}")))?;
        let spec = kvcsim_models::hardware::load_gpu(&a.gpu)?;
        let steps =
            gpu::data::read_step_measurements(path).map_err(|e| input_error(e.to_string()))?;
        let (s, before, after) = gpu::fit_host_cost(&mut params, &llm, &spec, &steps)?;
        fitted.push(format!("cpu.per_iteration_s: {}", path.display()));
        host_note = Some(format!(
            "# cpu.per_iteration_s = {:.1} us fitted to {} steps of {}: median |rel err| {:.1}% before, {:.1}% after.\n",
            s * 1e6,
            steps.len(),
            path.display(),
            100.0 * before,
            100.0 * after
        ));
    }
    let entry = GPUS.iter().find(|g| g.3 == a.gpu).expect("checked above");
    let mut table_note = String::new();
    let config = if a.profiled {
        let tables = gpu::tables::gpu_tables(&a.data, entry, a.framework)?;
        let spec = kvcsim_models::hardware::load_gpu(&a.gpu)?;
        table_note.push_str(
            "# Operator tables (kind: profiled; class [key]: measured / nodes; source):\n",
        );
        for t in &tables {
            let key = [
                ("q_heads", t.q_heads),
                ("kv_heads", t.kv_heads),
                ("head_dim", t.head_dim),
                ("width", t.width),
                ("gpus", t.gpus),
            ]
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
            .collect::<Vec<_>>()
            .join(", ");
            table_note.push_str(&format!(
                "#   {} [{key}]: {} / {}; {}\n",
                t.class.name(),
                t.time_us.iter().filter(|v| v.is_some()).count(),
                t.time_us.len(),
                t.source
            ));
        }
        table_note.push_str(
            "# Leave-one-out median |rel err| per class (each measured node predicted from the table without it) / the fallback roofline's at the same nodes:\n",
        );
        for c in gpu::tables::leave_one_out(&tables, &params, &spec) {
            let pct =
                |v: Vec<f64>| gpu::median(v).map_or("-".into(), |x| format!("{:.1}%", 100.0 * x));
            table_note.push_str(&format!(
                "#   {:<18} {} / {} ({} nodes)\n",
                c.class.name(),
                pct(c.loo.clone()),
                pct(c.roofline.clone()),
                c.loo.len()
            ));
        }
        GpuModelConfig::Profiled(ProfiledParams {
            dtype_bytes: 2,
            fallback: params,
            tables,
        })
    } else {
        GpuModelConfig::Roofline(params)
    };
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(first) = args.first_mut() {
        *first = "kvcsim".into();
    }
    let mut header = format!(
        "# GPU model profile for {}, fitted to the measured operator tables of {} (see its SOURCES.md).\n\
         # Produced by: {}\n\
         # Do not edit by hand; re-run the command above. Units are in the field names.\n\
         # Curves fitted (class: source):\n",
        a.gpu,
        a.data.display(),
        args.join(" ")
    );
    for f in &fitted {
        header.push_str(&format!("#   {f}\n"));
    }
    if let Some(note) = &host_note {
        header.push_str(note);
    }
    header.push_str(&table_note);
    header.push_str(
        "# Not calibrated by the operator tables: cpu.* (RooflineParams' published defaults unless fitted above).\n\
         # Fit errors, median |rel err| (fit / leave-one-model-out / leave-one-TP-out):\n",
    );
    let used = |u: &gpu::UnitResult| {
        u.gpu == a.gpu
            && fitted
                .iter()
                .any(|f| f == &format!("{}: {}", u.class.name(), u.source))
    };
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.1}%", 100.0 * x));
    let mut units = Vec::new();
    for u in v.units.iter().filter(|u| used(u)) {
        let (fit, p90, cvm, cvt) = unit_errors(u);
        header.push_str(&format!(
            "#   {:<18} {} / {} / {}\n",
            u.class.name(),
            pct(fit),
            pct(cvm),
            pct(cvt)
        ));
        units.push(serde_json::json!({
            "class": u.class.name(),
            "source": u.source,
            "fit_median_abs_rel_error": fit,
            "fit_p90_abs_rel_error": p90,
            "cv_model_median_abs_rel_error": cvm,
            "cv_tp_median_abs_rel_error": cvt,
            "rows": u.rows.iter().map(|r| serde_json::json!({
                "model": r.model, "tp": r.tp, "measured_s": r.measured_s,
                "modelled_s": r.modelled_s, "cv_model_s": r.cv_model_s, "cv_tp_s": r.cv_tp_s,
            })).collect::<Vec<_>>(),
        }));
    }
    let yaml = format!("{header}{}", serde_norway::to_string(&config)?);
    let tmp = a.output.with_extension("yaml.tmp");
    std::fs::write(&tmp, yaml).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &a.output).with_context(|| format!("writing {}", a.output.display()))?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"gpu": a.gpu, "fitted": fitted, "params": config, "units": units})
        );
    } else {
        print!("{header}");
        println!("wrote {}", a.output.display());
    }
    Ok(())
}
