//! Markdown tables of a [`Validation`], and the target check.

use std::collections::BTreeMap;
use std::fmt::Write;

use kvcsim_models::gpu::ops::{AllReduceCurve, KernelCurve};

use super::{Class, TARGET_CV, TARGET_FIT, UnitResult, Validation, median, p90, unit_errors};

/// One target checked: what, the figure, the limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// `GPU / source / class / measure`.
    pub name: String,
    /// Median |relative error|.
    pub value: f64,
    /// Limit.
    pub target: f64,
}

impl Check {
    /// Whether the figure meets the target.
    pub fn met(&self) -> bool {
        self.value <= self.target
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{:.1}%", 100.0 * v))
}

/// Every target: per unit fit ≤ 10% and CV ≤ 15%; per GPU layer fit ≤ 10% and CV ≤ 15%.
pub fn checks(v: &Validation) -> Vec<Check> {
    let mut out = Vec::new();
    let mut push = |name: String, fit, cvm, cvt| {
        for (what, value, target) in [
            ("fit", fit, TARGET_FIT),
            ("CV model", cvm, TARGET_CV),
            ("CV TP", cvt, TARGET_CV),
        ] {
            if let Some(value) = value {
                out.push(Check {
                    name: format!("{name} / {what}"),
                    value,
                    target,
                });
            }
        }
    };
    for u in &v.units {
        let (fit, _, cvm, cvt) = unit_errors(u);
        push(
            format!("{} / {} / {}", u.gpu, u.source, u.class.name()),
            fit,
            cvm,
            cvt,
        );
    }
    for (gpu, rows) in layers_by_gpu(v) {
        let (fit, cvm, cvt) = layer_errors(&rows);
        push(format!("{gpu} / vidur eager fp16 / layer"), fit, cvm, cvt);
    }
    out
}

fn layers_by_gpu(v: &Validation) -> BTreeMap<String, Vec<&super::LayerResult>> {
    let mut m: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for l in &v.layers {
        m.entry(l.gpu.clone()).or_default().push(l);
    }
    m
}

fn layer_errors(rows: &[&super::LayerResult]) -> (Option<f64>, Option<f64>, Option<f64>) {
    let err = |p: f64, m: f64| (p / m - 1.0).abs();
    let fit = rows
        .iter()
        .map(|l| err(l.modelled_s, l.layer.measured_s))
        .collect();
    let cvm = rows
        .iter()
        .filter_map(|l| l.cv_model_s.map(|p| err(p, l.layer.measured_s)))
        .collect();
    let cvt = rows
        .iter()
        .filter_map(|l| l.cv_tp_s.map(|p| err(p, l.layer.measured_s)))
        .collect();
    (median(fit), median(cvm), median(cvt))
}

/// The whole report: summary with targets, fitted curves, per model and TP detail.
pub fn markdown(v: &Validation, command: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Command: `{command}`\n");
    let _ = writeln!(
        s,
        "Median |modelled / measured − 1| per GPU, source and operator class (in-sample fit, p90 \
         of the fit, leave-one-model-out CV, leave-one-TP-out CV). Targets: fit ≤ {:.0}%, CV ≤ \
         {:.0}%; ✗ marks a miss. *model* groups are the model folders for Vidur, the rank-local \
         head configuration for AIConfigurator attention, the (n, k) shape for the GEMM grid; \
         *TP* groups are TP degrees (all-reduce: GPUs).\n",
        100.0 * TARGET_FIT,
        100.0 * TARGET_CV
    );
    let _ = writeln!(
        s,
        "| GPU | source | class | rows | fit | p90 | CV model | CV TP |"
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|---:|---:|---:|");
    let mark = |v: Option<f64>, t: f64| match v {
        Some(x) if x > t => format!("{} ✗", pct(Some(x))),
        other => pct(other),
    };
    for u in &v.units {
        let (fit, p, cvm, cvt) = unit_errors(u);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            u.gpu,
            u.source,
            u.class.name(),
            u.rows.len(),
            mark(fit, TARGET_FIT),
            pct(p),
            mark(cvm, TARGET_CV),
            mark(cvt, TARGET_CV)
        );
    }
    for (gpu, rows) in layers_by_gpu(v) {
        let (fit, cvm, cvt) = layer_errors(&rows);
        let all: Vec<f64> = rows
            .iter()
            .map(|l| (l.modelled_s / l.layer.measured_s - 1.0).abs())
            .collect();
        let _ = writeln!(
            s,
            "| {gpu} | vidur eager fp16 | **layer** (Σ ops) | {} | {} | {} | {} | {} |",
            rows.len(),
            mark(fit, TARGET_FIT),
            pct(p90(all)),
            mark(cvm, TARGET_CV),
            mark(cvt, TARGET_CV)
        );
    }

    let _ = writeln!(
        s,
        "\nFitted curves (`t = latency + sequences·per_seq + bytes/(bw·mbu) + flops/(peak·mfu)`; \
         all-reduce `t = latency + 2(tp−1)·step + 2(tp−1)/tp·bytes/(link·eff)`):\n"
    );
    let _ = writeln!(
        s,
        "| GPU | source | class | latency µs | per-seq µs / step µs | mbu / link eff | mfu |"
    );
    let _ = writeln!(s, "|---|---|---|---:|---:|---:|---:|");
    for u in &v.units {
        let _ = writeln!(s, "{}", curve_row(u));
    }

    let _ = writeln!(
        s,
        "\nPer model and TP degree (Vidur, median fit error of each class and of the layer):\n"
    );
    let classes = [
        Class::Gemm,
        Class::Norm,
        Class::Rope,
        Class::Activation,
        Class::Residual,
        Class::Embedding,
    ];
    let _ = write!(s, "| GPU | model | TP |");
    for c in classes {
        let _ = write!(s, " {} |", c.name());
    }
    let _ = writeln!(s, " layer |");
    let _ = writeln!(s, "|---|---|---:|{}---:|", "---:|".repeat(classes.len()));
    let mut keys: Vec<(String, String, u64)> = v
        .layers
        .iter()
        .map(|l| (l.gpu.clone(), l.layer.model.clone(), l.layer.tp))
        .collect();
    keys.dedup();
    keys.sort();
    keys.dedup();
    for (gpu, model, tp) in keys {
        let _ = write!(s, "| {gpu} | {model} | {tp} |");
        for c in classes {
            let errs: Vec<f64> = v
                .units
                .iter()
                .filter(|u| u.gpu == gpu && u.class == c && u.source.starts_with("vidur"))
                .flat_map(|u| u.rows.iter())
                .filter(|r| r.model == model && r.tp == tp)
                .map(|r| r.error(r.modelled_s))
                .collect();
            let _ = write!(s, " {} |", pct(median(errs)));
        }
        let errs: Vec<f64> = v
            .layers
            .iter()
            .filter(|l| l.gpu == gpu && l.layer.model == model && l.layer.tp == tp)
            .map(|l| (l.modelled_s / l.layer.measured_s - 1.0).abs())
            .collect();
        let _ = writeln!(s, " {} |", pct(median(errs)));
    }
    s
}

fn curve_row(u: &UnitResult) -> String {
    let Some(c) = &u.coef else {
        return format!(
            "| {} | {} | {} | – | – | – | – |",
            u.gpu,
            u.source,
            u.class.name()
        );
    };
    if u.class == Class::AllReduce {
        let a = AllReduceCurve::from_coefficients(c);
        format!(
            "| {} | {} | {} | {:.2} | {:.3} | {:.3} | – |",
            u.gpu,
            u.source,
            u.class.name(),
            a.latency_s * 1e6,
            a.step_latency_s * 1e6,
            a.bus_efficiency
        )
    } else {
        let k = KernelCurve::from_coefficients(c);
        format!(
            "| {} | {} | {} | {:.2} | {:.3} | {:.3} | {:.3} |",
            u.gpu,
            u.source,
            u.class.name(),
            k.latency_s * 1e6,
            k.per_sequence_s * 1e6,
            k.mbu,
            k.mfu
        )
    }
}

/// The profiled model's leave-one-out errors, per GPU and class (`rows`: GPU and its classes),
/// beside the calibrated roofline's at the same nodes.
pub fn profiled_markdown(rows: &[(String, Vec<super::tables::ClassLoo>)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nProfiled model (`kind: profiled`, `kvcsim calibrate gpu --profiled`): every measured \
         node of every operator table predicted from the table without it (interpolation between \
         its measured neighbours, or the fallback roofline scaled to the nearest measured nodes \
         at the edge of the measured region), median and p90 of |predicted / measured − 1|; \
         beside it the calibrated roofline (the profile's fallback) at the same nodes. At a \
         measured node the profiled model returns the measurement itself.\n"
    );
    let _ = writeln!(
        s,
        "| GPU | class | tables | nodes | profiled LOO | LOO p90 | roofline | roofline p90 |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
    for (gpu, classes) in rows {
        for c in classes {
            let _ = writeln!(
                s,
                "| {gpu} | {} | {} | {} | {} | {} | {} | {} |",
                c.class.name(),
                c.tables,
                c.loo.len(),
                pct(median(c.loo.clone())),
                pct(p90(c.loo.clone())),
                pct(median(c.roofline.clone())),
                pct(p90(c.roofline.clone()))
            );
        }
    }
    s
}
