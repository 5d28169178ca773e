//! The measured operator tables of `../shared/gpu` as the grids of a profiled GPU model
//! (`kvcsim calibrate gpu --profiled`), and their leave-one-out validation (`validate gpu`).
//!
//! | class | source | key | axes |
//! |---|---|---|---|
//! | gemm | AIConfigurator GEMM grid, `gemm_dtype` bfloat16 | – | m, n, k |
//! | prefill_attention | AIConfigurator context attention (the framework's kernel, full attention, bf16 KV, head 128) | rank-local heads | batch, isl |
//! | decode_attention | AIConfigurator generation attention (same filters) | rank-local heads | batch, step + 1 |
//! | norm, rope, activation, residual, embedding | Vidur `mlp.csv`, every model and TP of the GPU | rank-local width | tokens |
//! | allreduce | the framework's graph-captured custom all-reduce, nccl-tests where it has none | GPUs | bytes |
//!
//! Repeated measurements of one node (Vidur repeats some token counts; two models may share
//! a width) are merged by their median.

use std::collections::BTreeMap;
use std::path::Path;

use kvcsim_models::gpu::{Axis, OpCall, OperatorTable, TableClass};

use super::data::{self, VIDUR_OPS};
use super::observe::{Class, Framework, sorted_files, vidur_op, vidur_shape};

/// Points of one table being collected: coordinates (as integers where they are) to seconds.
#[derive(Default)]
struct Points {
    sources: Vec<String>,
    points: Vec<(Vec<f64>, f64)>,
}

impl Points {
    fn add_source(&mut self, s: String) {
        if !self.sources.contains(&s) {
            self.sources.push(s);
        }
    }
}

/// Key of a table: class and its key fields (q, kv, head, width, gpus).
type Key = (TableClass, [u64; 5]);

fn table(key: Key, p: Points) -> OperatorTable {
    let (class, [q, kv, hd, width, gpus]) = key;
    let dims = class.axes().len();
    let mut axes: Vec<Vec<f64>> = vec![Vec::new(); dims];
    for (x, _) in &p.points {
        for d in 0..dims {
            axes[d].push(x[d]);
        }
    }
    for a in &mut axes {
        a.sort_by(f64::total_cmp);
        a.dedup();
    }
    let nodes: usize = axes.iter().map(Vec::len).product();
    let mut at: Vec<Vec<f64>> = vec![Vec::new(); nodes];
    for (x, t) in p.points {
        let mut node = 0;
        for d in 0..dims {
            let i = axes[d].partition_point(|v| *v < x[d]);
            node = node * axes[d].len() + i;
        }
        at[node].push(t);
    }
    let opt = |v: u64| (v > 0).then_some(v);
    OperatorTable {
        class,
        source: p.sources.join("; "),
        q_heads: opt(q),
        kv_heads: opt(kv),
        head_dim: opt(hd),
        width: opt(width),
        gpus: opt(gpus),
        axes: class
            .axes()
            .iter()
            .zip(axes)
            .map(|(name, values)| Axis {
                name: name.to_string(),
                values,
            })
            .collect(),
        time_us: at
            .into_iter()
            .map(|v| super::median(v).map(|t| t * 1e6))
            .collect(),
    }
}

fn relative(data: &Path, file: &Path) -> String {
    file.strip_prefix(data)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// The tables of one GPU (`gpu` as in [`GPUS`](super::observe::GPUS)) under `data`, in a fixed order
/// (class, then key).
pub fn gpu_tables(
    data: &Path,
    gpu: &(&str, &str, &str, &str),
    framework: Framework,
) -> crate::error::Result<Vec<OperatorTable>> {
    let (vidur_gpu, _, aic_gpu, _) = *gpu;
    let mut by_key: BTreeMap<Key, Points> = BTreeMap::new();
    let aic = data.join("aiconfigurator/systems/data").join(aic_gpu);
    let fw = framework.folder();

    for file in sorted_files(&aic.join("gemm").join(fw), "gemm_perf.parquet", 1)? {
        let p = by_key.entry((TableClass::Gemm, [0; 5])).or_default();
        p.add_source(format!("{} (gemm_dtype bfloat16)", relative(data, &file)));
        for r in data::read_aic_gemm(&file)?
            .iter()
            .filter(|r| r.dtype == "bfloat16")
        {
            p.points
                .push((vec![r.m as f64, r.n as f64, r.k as f64], r.time_s));
        }
    }
    let kernel = framework.attention_kernel(aic_gpu);
    for (name, decode, class) in [
        (
            "context_attention_perf.parquet",
            false,
            TableClass::PrefillAttention,
        ),
        (
            "generation_attention_perf.parquet",
            true,
            TableClass::DecodeAttention,
        ),
    ] {
        for file in sorted_files(&aic.join("attention").join(fw), name, 1)? {
            for r in data::read_aic_attention(&file, decode)?.iter().filter(|r| {
                r.kernel == kernel && r.head_dim == 128 && r.window == 0 && r.kv_dtype == "bfloat16"
            }) {
                let p = by_key
                    .entry((class, [r.heads, r.kv_heads, r.head_dim, 0, 0]))
                    .or_default();
                p.add_source(format!(
                    "{} (kernel_source {kernel}, full attention, bf16 KV)",
                    relative(data, &file)
                ));
                let second = if decode { r.cached + 1 } else { r.isl };
                p.points
                    .push((vec![r.batch as f64, second as f64], r.time_s));
            }
        }
    }

    let compute = data.join("vidur/data/profiling/compute").join(vidur_gpu);
    for file in sorted_files(&compute, "mlp.csv", 2)? {
        for row in data::read_vidur_layers(&file)? {
            let shape = vidur_shape(&row);
            for (op, &t) in VIDUR_OPS.iter().zip(&row.op_s) {
                let Some((class, kernel)) = vidur_op(op) else {
                    continue;
                };
                let call = match kernel {
                    Some(k) => shape.op(k, row.tokens),
                    None => shape.embedding_op(row.tokens),
                };
                let OpCall::Pass {
                    class: pass, width, ..
                } = call
                else {
                    continue;
                };
                let table_class = match (class, pass) {
                    (Class::Norm, _) => TableClass::Norm,
                    (Class::Rope, _) => TableClass::Rope,
                    (Class::Activation, _) => TableClass::Activation,
                    (Class::Residual, _) => TableClass::Residual,
                    _ => TableClass::Embedding,
                };
                let p = by_key
                    .entry((table_class, [0, 0, 0, width, 0]))
                    .or_default();
                p.add_source(format!("{} (eager fp16)", relative(data, &file)));
                p.points.push((vec![row.tokens as f64], t));
            }
        }
    }

    // All-reduce: the graph-captured custom kernel of the framework, else nccl-tests (as the
    // roofline profile's curve).
    let mut allreduce: Vec<(String, Vec<data::AllReduceRow>)> = Vec::new();
    for file in sorted_files(
        &aic.join("comm").join(fw),
        "custom_allreduce_perf.parquet",
        1,
    )? {
        let rows: Vec<_> = data::read_aic_custom_allreduce(&file)?
            .into_iter()
            .filter(|r| r.graph)
            .collect();
        if !rows.is_empty() {
            allreduce.push((format!("{} (graph)", relative(data, &file)), rows));
        }
    }
    if allreduce.is_empty()
        && let Some(file) = sorted_files(&aic.join("comm/nccl"), "nccl_perf.parquet", 1)?.pop()
    {
        allreduce.push((
            format!("{} (all_reduce, half)", relative(data, &file)),
            data::read_aic_nccl(&file)?,
        ));
    }
    for (src, rows) in allreduce {
        for r in rows.iter().filter(|r| r.gpus > 1) {
            let p = by_key
                .entry((TableClass::Allreduce, [0, 0, 0, 0, r.gpus]))
                .or_default();
            p.add_source(src.clone());
            p.points.push((vec![r.bytes], r.time_s));
        }
    }
    Ok(by_key.into_iter().map(|(k, p)| table(k, p)).collect())
}

/// Leave-one-out errors of one GPU's tables, per class: `(class, tables, nodes, LOO errors,
/// roofline errors at the same nodes)`.
pub struct ClassLoo {
    /// Class.
    pub class: TableClass,
    /// Tables of the class.
    pub tables: usize,
    /// |predicted / measured − 1| of every measured node, held out.
    pub loo: Vec<f64>,
    /// |roofline / measured − 1| at the same nodes (the calibrated fallback).
    pub roofline: Vec<f64>,
}

/// [`ClassLoo`] of every class of `tables`, with `fallback` the roofline profile of the GPU.
pub fn leave_one_out(
    tables: &[OperatorTable],
    fallback: &kvcsim_models::gpu::RooflineParams,
    spec: &kvcsim_models::hardware::GpuSpec,
) -> Vec<ClassLoo> {
    use rayon::prelude::*;
    let peaks = spec.peaks_for_weight_bytes(2);
    let link = spec.nvlink_unidirectional_bw_bytes_per_s();
    let per_table: Vec<(TableClass, Vec<f64>, Vec<f64>)> = tables
        .par_iter()
        .map(|t| {
            let mut loo = Vec::new();
            let mut roof = Vec::new();
            for (x, measured, predicted) in
                kvcsim_models::gpu::table_leave_one_out(t, fallback, spec, 2)
            {
                loo.push((predicted / measured - 1.0).abs());
                let r = t.roofline_at(fallback, &peaks, link, 2.0, &x);
                roof.push((r / measured - 1.0).abs());
            }
            (t.class, loo, roof)
        })
        .collect();
    let mut out: Vec<ClassLoo> = Vec::new();
    for (class, loo, roof) in per_table {
        match out.iter_mut().find(|c| c.class == class) {
            Some(c) => {
                c.tables += 1;
                c.loo.extend(loo);
                c.roofline.extend(roof);
            }
            None => out.push(ClassLoo {
                class,
                tables: 1,
                loo,
                roofline: roof,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a 2 x 2 grid with one node missing and one measured twice: the axes are the
    /// sorted distinct coordinates, the repeated node takes the median, the missing one null.
    #[test]
    fn points_become_a_row_major_grid() {
        let p = Points {
            sources: vec!["a".into(), "b".into()],
            points: vec![
                (vec![4.0, 10.0], 3e-6),
                (vec![1.0, 10.0], 1e-6),
                (vec![1.0, 20.0], 2e-6),
                (vec![1.0, 20.0], 4e-6),
            ],
        };
        let t = table((TableClass::DecodeAttention, [32, 8, 128, 0, 0]), p);
        assert_eq!(t.axes[0].values, vec![1.0, 4.0]);
        assert_eq!(t.axes[1].values, vec![10.0, 20.0]);
        let us: Vec<Option<f64>> = t.time_us.iter().map(|v| v.map(|x| x.round())).collect();
        assert_eq!(us, vec![Some(1.0), Some(3.0), Some(3.0), None]);
        assert_eq!((t.q_heads, t.width, t.gpus), (Some(32), None, None));
        assert_eq!(t.source, "a; b");
        kvcsim_models::gpu::ProfiledParams {
            dtype_bytes: 2,
            fallback: Default::default(),
            tables: vec![t],
        }
        .validate()
        .unwrap();
    }
}
