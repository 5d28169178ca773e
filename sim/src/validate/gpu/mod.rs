//! `kvcsim validate gpu` and `kvcsim calibrate gpu`: the roofline's operator curves fitted to
//! the measured operator tables of `../shared/gpu`, and checked against them.
//!
//! ```text
//!  data.rs     Vidur CSVs, AIConfigurator Parquet  ──▶  rows (seconds)
//!  observe.rs  rows ──▶ (class, features x of the modelled shape, measured t)   per GPU, source
//!  mod.rs      fit c per unit (relative least squares, bounded) ──▶ modelled c·x vs t,
//!              leave-one-model-out and leave-one-TP-out refits, layer sums, profile
//!  report.rs   markdown tables
//! ```

pub mod data;
pub mod observe;
pub mod report;
pub mod tables;

use std::collections::BTreeMap;
use std::path::Path;

use kvcsim_models::gpu::RooflineParams;
use kvcsim_models::gpu::fit::{NormalEquations, dot, fit_median};
use kvcsim_models::gpu::ops::{AllReduceCurve, KernelCurve};
use kvcsim_models::hardware::load_gpu;
use rayon::prelude::*;
use statrs::statistics::{Data, Median, OrderStatistics};

pub use observe::{Class, Framework};
use observe::{Obs, Unit, VidurLayer};

/// Validation targets of issue 11: median |relative error| per operator class, of a whole
/// layer and of all-reduce in-sample, and in cross-validation.
pub const TARGET_FIT: f64 = 0.10;
/// Cross-validation target.
pub const TARGET_CV: f64 = 0.15;

/// A fitted unit and its errors.
#[derive(Clone, Debug)]
pub struct UnitResult {
    /// GPU profile.
    pub gpu: String,
    /// Source of the rows.
    pub source: String,
    /// Class.
    pub class: Class,
    /// Fitted coefficients (`None`: nothing to fit).
    pub coef: Option<Vec<f64>>,
    /// Per row: model, TP, measured and modelled seconds, and the leave-one-model-out and
    /// leave-one-TP-out predictions (when the unit has two or more groups).
    pub rows: Vec<RowResult>,
}

/// One row of a unit.
#[derive(Clone, Debug)]
pub struct RowResult {
    /// Group keys.
    pub model: String,
    /// TP degree (0: none).
    pub tp: u64,
    /// Measured seconds.
    pub measured_s: f64,
    /// Modelled seconds (in-sample fit).
    pub modelled_s: f64,
    /// Leave-one-model-out prediction.
    pub cv_model_s: Option<f64>,
    /// Leave-one-TP-out prediction.
    pub cv_tp_s: Option<f64>,
    /// Vidur layer row.
    pub layer: Option<usize>,
}

impl RowResult {
    /// |modelled / measured − 1| of a prediction.
    pub fn error(&self, predicted: f64) -> f64 {
        (predicted / self.measured_s - 1.0).abs()
    }
}

/// Everything `validate gpu` reports.
#[derive(Clone, Debug)]
pub struct Validation {
    /// Fitted units.
    pub units: Vec<UnitResult>,
    /// Vidur layers: per GPU, the layer rows with measured, modelled and CV sums.
    pub layers: Vec<LayerResult>,
}

/// One Vidur layer row: Σ of its operators.
#[derive(Clone, Debug)]
pub struct LayerResult {
    /// GPU profile.
    pub gpu: String,
    /// The layer row.
    pub layer: VidurLayer,
    /// Σ modelled.
    pub modelled_s: f64,
    /// Σ leave-one-model-out predictions.
    pub cv_model_s: Option<f64>,
    /// Σ leave-one-TP-out predictions.
    pub cv_tp_s: Option<f64>,
}

/// Rounds of reweighting of the median (least-absolute-deviation) fit of a whole unit.
const FIT_ROUNDS: usize = 30;
/// Rounds for a cross-validation fold, started from the whole unit's fit.
const FOLD_ROUNDS: usize = 6;

/// Fits one unit (least squares, then [`fit_median`] from there) and its cross-validation
/// folds.
pub fn evaluate(unit: &Unit) -> UnitResult {
    let lower = unit.class.lower_bounds();
    let k = lower.len();
    let mut total = NormalEquations::new(k);
    for o in &unit.obs {
        total.add(&o.x, o.t);
    }
    let rows_of = |keep: &(dyn Fn(&Obs) -> bool + Sync)| -> Vec<(&[f64], f64)> {
        unit.obs
            .iter()
            .filter(|o| keep(o) && o.t > 0.0 && o.t.is_finite())
            .map(|o| (o.x.as_slice(), o.t))
            .collect()
    };
    let coef = total
        .solve_bounded(lower)
        .map(|ls| fit_median(&rows_of(&|_| true), lower, ls, FIT_ROUNDS));
    let cv = |key: &(dyn Fn(&Obs) -> Option<String> + Sync)| -> Vec<Option<f64>> {
        let groups: std::collections::BTreeSet<String> = unit.obs.iter().filter_map(key).collect();
        let Some(start) = coef.as_ref().filter(|_| groups.len() >= 2) else {
            return vec![None; unit.obs.len()];
        };
        let fold: BTreeMap<&String, Vec<f64>> = groups
            .par_iter()
            .map(|g| {
                let rows = rows_of(&|o| key(o).as_ref() != Some(g));
                (g, fit_median(&rows, lower, start.clone(), FOLD_ROUNDS))
            })
            .collect();
        unit.obs
            .iter()
            .map(|o| fold.get(&key(o)?).map(|c| dot(c, &o.x)))
            .collect()
    };
    let cv_model = cv(&|o: &Obs| (!o.model.is_empty()).then(|| o.model.clone()));
    let cv_tp = cv(&|o: &Obs| (o.tp > 0).then(|| o.tp.to_string()));
    let rows = unit
        .obs
        .iter()
        .zip(cv_model.into_iter().zip(cv_tp))
        .map(|(o, (m, t))| RowResult {
            model: o.model.clone(),
            tp: o.tp,
            measured_s: o.t,
            modelled_s: coef.as_ref().map_or(f64::NAN, |c| dot(c, &o.x)),
            cv_model_s: m,
            cv_tp_s: t,
            layer: o.layer,
        })
        .collect();
    UnitResult {
        gpu: unit.gpu.clone(),
        source: unit.source.clone(),
        class: unit.class,
        coef,
        rows,
    }
}

/// Reads every GPU's tables under `data`, fits and cross-validates every unit.
pub fn validate(data: &Path, framework: Framework) -> crate::error::Result<Validation> {
    let mut units = Vec::new();
    let mut layers = Vec::new();
    for gpu in &observe::GPUS {
        let spec = load_gpu(gpu.3)?;
        let (gpu_units, gpu_layers) = observe::gpu_units(data, gpu, &spec, framework)?;
        let results: Vec<UnitResult> = gpu_units.par_iter().map(evaluate).collect();
        layers.extend(layer_sums(gpu.3, &results, gpu_layers));
        units.extend(results);
    }
    if units.is_empty() {
        return Err(crate::error::input_error(format!(
            "no operator tables found under {} (expected vidur/ and aiconfigurator/ as in ../shared/gpu)",
            data.display()
        )));
    }
    Ok(Validation { units, layers })
}

/// Whether a Vidur model folder (`meta-llama/Llama-2-70b-hf`) holds the model profile `name`
/// (`llama-2-70b`): case-insensitively, the folder ends with the name or has it followed by `-`
/// (so `llama-2-7b` is not `Llama-2-70b-hf`).
pub fn folder_is_model(folder: &str, name: &str) -> bool {
    let (f, n) = (folder.to_lowercase(), name.to_lowercase());
    f.ends_with(&n) || f.contains(&format!("{n}-"))
}

/// [`validate`] of one GPU whose Vidur (linear and element-wise) rows are only those of the
/// model profile `model` ([`folder_is_model`]).
pub fn restrict_to_model(
    data: &Path,
    framework: Framework,
    gpu: &str,
    model: &str,
) -> crate::error::Result<Validation> {
    let entry = observe::GPUS
        .iter()
        .find(|g| g.3 == gpu)
        .ok_or_else(|| crate::error::input_error(format!("no measured tables for GPU {gpu}")))?;
    let spec = load_gpu(gpu)?;
    let (mut units, layers) = observe::gpu_units(data, entry, &spec, framework)?;
    let mut models = std::collections::BTreeSet::new();
    for u in units
        .iter_mut()
        .filter(|u| u.source.starts_with("vidur") && u.class != Class::AllReduce)
    {
        models.extend(u.obs.iter().map(|o| o.model.clone()));
        u.obs.retain(|o| folder_is_model(&o.model, model));
    }
    if !layers.iter().any(|l| folder_is_model(&l.model, model)) {
        return Err(crate::error::input_error(format!(
            "--model {model}: no Vidur tables of such a model for {gpu}; models: {}",
            models.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    units.retain(|u| !u.obs.is_empty());
    let results: Vec<UnitResult> = units.iter().map(evaluate).collect();
    let mut layers = layer_sums(gpu, &results, layers);
    layers.retain(|l| folder_is_model(&l.layer.model, model));
    Ok(Validation {
        units: results,
        layers,
    })
}

fn layer_sums(gpu: &str, results: &[UnitResult], layers: Vec<VidurLayer>) -> Vec<LayerResult> {
    let mut sums: Vec<(f64, Option<f64>, Option<f64>)> =
        vec![(0.0, Some(0.0), Some(0.0)); layers.len()];
    for r in results
        .iter()
        .filter(|r| r.source.starts_with("vidur") && r.class != Class::AllReduce)
    {
        for row in &r.rows {
            let Some(i) = row.layer else { continue };
            let s = &mut sums[i];
            s.0 += row.modelled_s;
            s.1 = s.1.zip(row.cv_model_s).map(|(a, b)| a + b);
            s.2 = s.2.zip(row.cv_tp_s).map(|(a, b)| a + b);
        }
    }
    layers
        .into_iter()
        .zip(sums)
        .map(|(layer, (m, cm, ct))| LayerResult {
            gpu: gpu.to_string(),
            layer,
            modelled_s: m,
            cv_model_s: cm,
            cv_tp_s: ct,
        })
        .collect()
}

/// Median of `v`, `None` when empty.
pub fn median(v: Vec<f64>) -> Option<f64> {
    (!v.is_empty()).then(|| Data::new(v).median())
}

/// 90th percentile of `v`, `None` when empty.
pub fn p90(v: Vec<f64>) -> Option<f64> {
    (!v.is_empty()).then(|| Data::new(v).percentile(90))
}

/// Summary errors of a unit: in-sample, leave-one-model-out and leave-one-TP-out medians.
pub fn unit_errors(u: &UnitResult) -> (Option<f64>, Option<f64>, Option<f64>, Option<f64>) {
    let fit: Vec<f64> = u.rows.iter().map(|r| r.error(r.modelled_s)).collect();
    let cvm: Vec<f64> = u
        .rows
        .iter()
        .filter_map(|r| r.cv_model_s.map(|p| r.error(p)))
        .collect();
    let cvt: Vec<f64> = u
        .rows
        .iter()
        .filter_map(|r| r.cv_tp_s.map(|p| r.error(p)))
        .collect();
    (median(fit.clone()), p90(fit), median(cvm), median(cvt))
}

/// The host cost fitted to end-to-end steps: `cpu.per_iteration_s` is the median over the
/// steps of `measured − modelled with per_iteration_s = 0` (the least-absolute-deviation
/// estimate of a constant), floored at 0. Returns the fitted seconds and the median
/// |relative error| of the steps before (with `params` as given) and after.
pub fn fit_host_cost(
    params: &mut RooflineParams,
    llm: &kvcsim_models::hardware::LlmSpec,
    gpu: &kvcsim_models::hardware::GpuSpec,
    steps: &[data::StepRow],
) -> crate::error::Result<(f64, f64, f64)> {
    use kvcsim_models::gpu::{Batch, GpuModel, RooflineGpuModel};
    if steps.is_empty() {
        return Err(crate::error::input_error("--measurements holds no steps"));
    }
    let model_at = |p: &RooflineParams, row: &data::StepRow| -> crate::error::Result<f64> {
        let m = RooflineGpuModel::new(llm.clone(), gpu.clone(), row.tp, p.clone())?;
        let mut b = Batch::new();
        if row.prefill {
            for _ in 0..row.batch {
                b.push_prefill(row.new_tokens, row.cached_tokens);
            }
        } else {
            b.push_decodes(row.batch, row.batch * row.context_tokens);
        }
        Ok(m.iteration_time(&b))
    };
    let err = |p: &RooflineParams| -> crate::error::Result<f64> {
        let e = steps
            .iter()
            .map(|r| Ok((model_at(p, r)? / r.time_s - 1.0).abs()))
            .collect::<crate::error::Result<Vec<f64>>>()?;
        Ok(median(e).unwrap_or(f64::NAN))
    };
    let before = err(params)?;
    let mut bare = params.clone();
    bare.cpu.per_iteration_s = 0.0;
    let residuals = steps
        .iter()
        .map(|r| Ok(r.time_s - model_at(&bare, r)?))
        .collect::<crate::error::Result<Vec<f64>>>()?;
    let fitted = median(residuals).unwrap_or(0.0).max(0.0);
    params.cpu.per_iteration_s = fitted;
    Ok((fitted, before, err(params)?))
}

/// Which units' sources a profile slot takes.
type SourceFilter = dyn Fn(&str) -> bool;

/// The profile `calibrate gpu` writes for `gpu`: Vidur's curves for the linear and element-wise
/// classes, the framework's attention curves and its graph-captured all-reduce (nccl-tests
/// where the framework has none); host costs stay at their uncalibrated defaults.
pub fn profile_params(
    v: &Validation,
    gpu: &str,
) -> crate::error::Result<(RooflineParams, Vec<String>)> {
    let mut p = RooflineParams::default();
    let mut fitted = Vec::new();
    let find = |class: Class, source: &dyn Fn(&str) -> bool| {
        v.units
            .iter()
            .find(|u| u.gpu == gpu && u.class == class && source(&u.source))
            .and_then(|u| u.coef.clone().map(|c| (u.source.clone(), c)))
    };
    let vidur = |s: &str| s == "vidur eager fp16";
    let aic = |s: &str| s.starts_with("aic");
    let kernels: [(Class, &SourceFilter, &mut KernelCurve); 8] = [
        (Class::Gemm, &vidur, &mut p.gemm),
        (Class::Norm, &vidur, &mut p.norm),
        (Class::Rope, &vidur, &mut p.rope),
        (Class::Activation, &vidur, &mut p.activation),
        (Class::Residual, &vidur, &mut p.residual),
        (Class::Embedding, &vidur, &mut p.embedding),
        (Class::PrefillAttention, &aic, &mut p.prefill_attention),
        (Class::DecodeAttention, &aic, &mut p.decode_attention),
    ];
    for (class, source, slot) in kernels {
        let (src, c) = find(class, source).ok_or_else(|| {
            crate::error::input_error(format!("no {} table for {gpu}", class.name()))
        })?;
        *slot = KernelCurve::from_coefficients(&c);
        fitted.push(format!("{}: {src}", class.name()));
    }
    let graph = |s: &str| s.starts_with("aic") && s.ends_with("custom graph");
    let nccl = |s: &str| s.starts_with("aic nccl-tests");
    let (src, c) = find(Class::AllReduce, &graph)
        .or_else(|| find(Class::AllReduce, &nccl))
        .ok_or_else(|| crate::error::input_error(format!("no all-reduce table for {gpu}")))?;
    p.allreduce = AllReduceCurve::from_coefficients(&c);
    fitted.push(format!("allreduce: {src}"));
    p.validate()?;
    Ok((p, fitted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvcsim_models::gpu::ops::{Features, Peaks};

    /// A unit whose rows follow `t = 2 us + bytes / (bw 0.8)` exactly for two models and two
    /// TP degrees: the fit, and every cross-validation fold, must reproduce them.
    #[test]
    fn exact_curve_is_recovered_in_sample_and_in_cv() {
        let peaks = Peaks {
            hbm_bw_bytes_per_s: 1e12,
            flops_per_s: 1e15,
        };
        let mut obs = Vec::new();
        for (model, scale) in [("a", 1.0), ("b", 3.0)] {
            for tp in [1u64, 2] {
                for mb in [1.0, 10.0, 100.0] {
                    let bytes = mb * 1e6 * scale / tp as f64;
                    let x = Features::memory_pass(&peaks, bytes);
                    obs.push(Obs {
                        model: model.into(),
                        tp,
                        x: x.0.to_vec(),
                        t: 2e-6 + bytes / 0.8e12,
                        layer: None,
                    });
                }
            }
        }
        let unit = Unit {
            gpu: "g".into(),
            source: "s".into(),
            class: Class::Norm,
            obs,
        };
        let r = evaluate(&unit);
        let curve = KernelCurve::from_coefficients(r.coef.as_ref().unwrap());
        assert!((curve.latency_s - 2e-6).abs() < 1e-12, "{curve:?}");
        assert!((curve.mbu - 0.8).abs() < 1e-9, "{curve:?}");
        for row in &r.rows {
            assert!(row.error(row.modelled_s) < 1e-9);
            assert!(row.error(row.cv_model_s.unwrap()) < 1e-9);
            assert!(row.error(row.cv_tp_s.unwrap()) < 1e-9);
        }
        let (fit, _, cvm, cvt) = unit_errors(&r);
        assert!(fit.unwrap() < 1e-9 && cvm.unwrap() < 1e-9 && cvt.unwrap() < 1e-9);
    }

    #[test]
    fn model_profiles_find_their_folders() {
        assert!(folder_is_model("meta-llama/Llama-2-70b-hf", "llama-2-70b"));
        assert!(folder_is_model("meta-llama/Llama-2-7b-hf", "llama-2-7b"));
        assert!(!folder_is_model("meta-llama/Llama-2-70b-hf", "llama-2-7b"));
        assert!(folder_is_model("meta-llama/Meta-Llama-3-8B", "llama-3-8b"));
        assert!(!folder_is_model(
            "meta-llama/Meta-Llama-3-8B",
            "llama-3.1-8b"
        ));
    }

    #[test]
    fn empty_data_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = validate(dir.path(), Framework::Vllm).unwrap_err();
        assert!(err.to_string().contains("no operator tables"), "{err}");
    }
}
