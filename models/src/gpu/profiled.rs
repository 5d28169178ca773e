//! [`ProfiledGpuModel`]: the roofline's iteration structure with each operator's time
//! interpolated in measured tables, as AIConfigurator and Vidur do, and the roofline outside
//! them.
//!
//! # Tables
//!
//! A profile (`kind: profiled`, written by `kvcsim calibrate gpu --profiled`) carries
//! [`OperatorTable`]s, each one operator class measured over a grid of shapes, with the
//! table's source named, and the roofline curves used as fallback. Tables hold rank-local
//! (sharded) shapes, so tensor parallelism enters only through the shape it gives:
//!
//! | class | key (must equal the instance's) | axes |
//! |---|---|---|
//! | `gemm` | – | `m` (rows), `n`, `k` |
//! | `prefill_attention` | `q_heads, kv_heads, head_dim` (rank-local) | `batch`, `isl` |
//! | `decode_attention` | `q_heads, kv_heads, head_dim` (rank-local) | `batch`, `kv_tokens` (context + 1) |
//! | `norm`, `rope`, `activation`, `residual`, `embedding` | `width` (rank-local elements per token) | `tokens` |
//! | `allreduce` | `gpus` | `bytes` |
//!
//! An instance uses a table when its key matches the instance's shape (for a TP degree or a
//! model that no table has, such as all-reduce over 16 GPUs or Qwen3's heads, the class uses
//! the roofline curve alone), and only when the model's elements are the tables'
//! `dtype_bytes` (2: fp16/bf16 measurements); an fp8 model runs on the roofline.
//!
//! # Time of one operator call
//!
//! The call's shape is mapped to a point `s` of the table's axes: a GEMM's `(m, n, k)`, a
//! pass's tokens, an all-reduce's bytes, decode attention's `(sequences, mean context + 1)`,
//! prefill attention's `(pieces, mean new tokens)`. With `s*` the point clamped into the
//! table's box, `T(s*)` the table's value there ([`grid`](super::grid)'s rule) and `R` the
//! fallback roofline,
//!
//! ```text
//! t = T(s*) · R(call) / R(s*)
//! ```
//!
//! Inside the box, for a call of exactly the table's kind of shape (every case but prefill
//! pieces that differ or have cached prefixes) `R(call) = R(s*)` and `t = T(s)`: exact at
//! measured points, the table's interpolation between them. Outside it the roofline's shape
//! dependence carries the table's edge value on, so the model is continuous at the edge (the
//! ratio of measured to roofline is held at its edge value). A mixed prefill takes the table's
//! value for its uniform equivalent, corrected by the roofline for the difference (cached
//! tokens read, unequal pieces).

use serde::{Deserialize, Serialize};

use super::grid::{self, Grid};
use super::ops::{AttentionShape, Features, Peaks};
use super::roofline::pass_curve;
use super::{
    Batch, GpuModel, IterationBreakdown, OpCall, PassClass, RooflineGpuModel, RooflineParams,
};
use crate::hardware::{GpuSpec, InvalidField, LlmSpec};

/// Largest number of nodes of one table (a bound on profile size and build time).
pub const MAX_TABLE_NODES: usize = 200_000;

/// Operator class of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableClass {
    /// Linear layers and the LM head.
    Gemm,
    /// Prefill attention.
    PrefillAttention,
    /// Decode attention.
    DecodeAttention,
    /// RMSNorm.
    Norm,
    /// Rotary embedding.
    Rope,
    /// SiLU-and-multiply.
    Activation,
    /// Residual add.
    Residual,
    /// Embedding gather.
    Embedding,
    /// Tensor-parallel all-reduce.
    Allreduce,
}

/// Which key fields a class's table has.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    None,
    Heads,
    Width,
    Gpus,
}

impl TableClass {
    /// Name as in YAML.
    pub fn name(self) -> &'static str {
        match self {
            TableClass::Gemm => "gemm",
            TableClass::PrefillAttention => "prefill_attention",
            TableClass::DecodeAttention => "decode_attention",
            TableClass::Norm => "norm",
            TableClass::Rope => "rope",
            TableClass::Activation => "activation",
            TableClass::Residual => "residual",
            TableClass::Embedding => "embedding",
            TableClass::Allreduce => "allreduce",
        }
    }

    /// Names of the axes, in order.
    pub fn axes(self) -> &'static [&'static str] {
        match self {
            TableClass::Gemm => &["m", "n", "k"],
            TableClass::PrefillAttention => &["batch", "isl"],
            TableClass::DecodeAttention => &["batch", "kv_tokens"],
            TableClass::Allreduce => &["bytes"],
            _ => &["tokens"],
        }
    }

    fn key(self) -> KeyKind {
        match self {
            TableClass::Gemm => KeyKind::None,
            TableClass::PrefillAttention | TableClass::DecodeAttention => KeyKind::Heads,
            TableClass::Allreduce => KeyKind::Gpus,
            _ => KeyKind::Width,
        }
    }

    /// The element-wise class of a pass table.
    pub fn pass(self) -> Option<PassClass> {
        Some(match self {
            TableClass::Norm => PassClass::Norm,
            TableClass::Rope => PassClass::Rope,
            TableClass::Activation => PassClass::Activation,
            TableClass::Residual => PassClass::Residual,
            TableClass::Embedding => PassClass::Embedding,
            _ => return None,
        })
    }
}

/// One axis of a table: its name and strictly increasing positive coordinates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    /// Axis name (the class's, in order: see the module docs).
    pub name: String,
    /// Coordinates.
    pub values: Vec<f64>,
}

/// One measured operator table (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorTable {
    /// Operator class.
    pub class: TableClass,
    /// Where the measurements come from (data set, file, kernel, filters).
    pub source: String,
    /// Rank-local query heads (attention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q_heads: Option<u64>,
    /// Rank-local KV heads (attention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_heads: Option<u64>,
    /// Head width (attention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<u64>,
    /// Rank-local elements per token (element-wise passes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u64>,
    /// GPUs in the group (all-reduce).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u64>,
    /// The axes.
    pub axes: Vec<Axis>,
    /// Measured microseconds per node, row-major (last axis fastest); `null` where not
    /// measured.
    pub time_us: Vec<Option<f64>>,
}

fn bad(i: usize, table: &OperatorTable, what: String, reason: &'static str) -> InvalidField {
    InvalidField::new(
        "tables",
        format!("tables[{i}] ({}): {what}", table.class.name()),
        reason,
    )
}

impl OperatorTable {
    fn validate(&self, i: usize) -> Result<(), InvalidField> {
        let names = self.class.axes();
        let given: Vec<&str> = self.axes.iter().map(|a| a.name.as_str()).collect();
        if given != names {
            return Err(bad(
                i,
                self,
                format!("axes [{}]", given.join(", ")),
                "axes must be named as the class's, in order (gemm: m, n, k; prefill_attention: batch, isl; decode_attention: batch, kv_tokens; passes: tokens; allreduce: bytes)",
            ));
        }
        let mut nodes = 1usize;
        for a in &self.axes {
            if a.values.is_empty() {
                return Err(bad(
                    i,
                    self,
                    format!("axis {} is empty", a.name),
                    "every axis needs a value",
                ));
            }
            for (j, v) in a.values.iter().enumerate() {
                if !(v.is_finite() && *v > 0.0) || (j > 0 && *v <= a.values[j - 1]) {
                    return Err(bad(
                        i,
                        self,
                        format!("axis {} value {v} (index {j})", a.name),
                        "axis values must be positive, finite and strictly increasing",
                    ));
                }
            }
            nodes = nodes.saturating_mul(a.values.len());
        }
        if nodes > MAX_TABLE_NODES {
            return Err(bad(
                i,
                self,
                format!("{nodes} nodes"),
                "a table has at most 200000 nodes",
            ));
        }
        if self.time_us.len() != nodes {
            return Err(bad(
                i,
                self,
                format!(
                    "time_us has {} values for {nodes} nodes",
                    self.time_us.len()
                ),
                "time_us needs one value (or null) per node, row-major",
            ));
        }
        if let Some((j, t)) = self
            .time_us
            .iter()
            .enumerate()
            .find_map(|(j, t)| t.filter(|t| !(t.is_finite() && *t > 0.0)).map(|t| (j, t)))
        {
            return Err(bad(
                i,
                self,
                format!("time_us[{j}] = {t}"),
                "times must be positive and finite",
            ));
        }
        if self.time_us.iter().all(Option::is_none) {
            return Err(bad(
                i,
                self,
                "no measured time".into(),
                "a table needs a measured node",
            ));
        }
        let key = self.class.key();
        for (name, v, kind) in [
            ("q_heads", self.q_heads, KeyKind::Heads),
            ("kv_heads", self.kv_heads, KeyKind::Heads),
            ("head_dim", self.head_dim, KeyKind::Heads),
            ("width", self.width, KeyKind::Width),
            ("gpus", self.gpus, KeyKind::Gpus),
        ] {
            match (v, kind == key) {
                (None, true) => {
                    return Err(bad(
                        i,
                        self,
                        format!("no {name}"),
                        "this class's tables need the key field",
                    ));
                }
                (Some(v), false) => {
                    return Err(bad(
                        i,
                        self,
                        format!("{name}: {v}"),
                        "this class's tables do not take the field",
                    ));
                }
                (Some(0), true) => {
                    return Err(bad(
                        i,
                        self,
                        format!("{name}: 0"),
                        "key fields must be at least 1",
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn same_key(&self, other: &OperatorTable) -> bool {
        (
            self.class,
            self.q_heads,
            self.kv_heads,
            self.head_dim,
            self.width,
            self.gpus,
        ) == (
            other.class,
            other.q_heads,
            other.kv_heads,
            other.head_dim,
            other.width,
            other.gpus,
        )
    }

    /// The axes' coordinates.
    pub fn axis_values(&self) -> Vec<Vec<f64>> {
        self.axes.iter().map(|a| a.values.clone()).collect()
    }

    /// Measured seconds per node.
    pub fn times_s(&self) -> Vec<Option<f64>> {
        self.time_us.iter().map(|t| t.map(|t| t * 1e-6)).collect()
    }

    /// The fallback roofline's seconds at table coordinates `x`, for this table's key and
    /// elements of `dtype_bytes` (`link_bytes_per_s`: one NVLink direction).
    pub fn roofline_at(
        &self,
        fallback: &RooflineParams,
        peaks: &Peaks,
        link_bytes_per_s: f64,
        dtype_bytes: f64,
        x: &[f64],
    ) -> f64 {
        let attention = || AttentionShape {
            q_heads: self.q_heads.unwrap_or(1),
            kv_heads: self.kv_heads.unwrap_or(1),
            head_dim: self.head_dim.unwrap_or(1),
            act_bytes: dtype_bytes,
            kv_bytes: dtype_bytes,
        };
        match self.class {
            TableClass::Gemm => fallback.gemm.time(&Features::gemm_dims(
                peaks,
                x[0],
                x[1],
                x[2],
                dtype_bytes,
                dtype_bytes,
            )),
            TableClass::PrefillAttention => fallback
                .prefill_attention
                .time(&attention().uniform_prefill(peaks, x[0], x[1])),
            TableClass::DecodeAttention => fallback
                .decode_attention
                .time(&attention().decode_read(peaks, x[0], x[0] * x[1])),
            TableClass::Allreduce => {
                fallback
                    .allreduce
                    .time(self.gpus.unwrap_or(1), x[0], link_bytes_per_s)
            }
            class => {
                let pass = class.pass().expect("the other classes are passes");
                // Tables are of gated MLPs (every model in the data is).
                let bytes = pass.passes(true) * x[0] * self.width.unwrap_or(1) as f64 * dtype_bytes;
                pass_curve(fallback, pass).time(&Features::memory_pass(peaks, bytes))
            }
        }
    }
}

fn two() -> u64 {
    2
}

/// Parameters of a [`ProfiledGpuModel`]: `cluster.gpu_model: {kind: profiled, ...}` or a
/// profile file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfiledParams {
    /// Bytes per weight, activation and KV element of the measurements (2: fp16/bf16).
    #[serde(default = "two")]
    pub dtype_bytes: u64,
    /// Roofline curves used outside the tables and for calls no table covers.
    pub fallback: RooflineParams,
    /// Measured operator tables.
    pub tables: Vec<OperatorTable>,
}

impl ProfiledParams {
    /// Checks the fallback and every table; errors name the table and what is wrong.
    pub fn validate(&self) -> Result<(), InvalidField> {
        if self.dtype_bytes == 0 {
            return Err(InvalidField::new("dtype_bytes", 0, "must be at least 1"));
        }
        self.fallback.validate()?;
        for (i, t) in self.tables.iter().enumerate() {
            t.validate(i)?;
            if let Some(j) = self.tables[..i].iter().position(|o| o.same_key(t)) {
                return Err(bad(
                    i,
                    t,
                    format!("same class and key as tables[{j}]"),
                    "one table per class and key",
                ));
            }
        }
        Ok(())
    }
}

/// A table resolved for one instance.
#[derive(Clone, Debug)]
struct Resolved {
    table: usize,
    grid: Grid,
}

/// Profiled [`GpuModel`] of one instance: see the module docs.
#[derive(Clone, Debug)]
pub struct ProfiledGpuModel {
    roofline: RooflineGpuModel,
    params: ProfiledParams,
    peaks: Peaks,
    link: f64,
    gemm: Option<Resolved>,
    prefill: Option<Resolved>,
    decode: Option<Resolved>,
    /// Norm, rope, activation, residual, embedding.
    passes: [Option<Resolved>; 5],
    allreduce: Option<Resolved>,
}

fn pass_index(class: PassClass) -> usize {
    match class {
        PassClass::Norm => 0,
        PassClass::Rope => 1,
        PassClass::Activation => 2,
        PassClass::Residual => 3,
        PassClass::Embedding => 4,
    }
}

impl ProfiledGpuModel {
    /// A model of `llm` on `tp` GPUs of type `gpu` (see the module docs for which tables it
    /// uses). Fails when `tp` is zero or a parameter or table is invalid.
    pub fn new(
        llm: LlmSpec,
        gpu: GpuSpec,
        tp: u64,
        params: ProfiledParams,
    ) -> Result<Self, InvalidField> {
        params.validate()?;
        let usable = llm.dtype_bytes == params.dtype_bytes;
        let peaks = gpu.peaks_for_weight_bytes(params.dtype_bytes);
        let link = gpu.nvlink_unidirectional_bw_bytes_per_s();
        let roofline = RooflineGpuModel::new(llm, gpu, tp, params.fallback.clone())?;
        let mut m = ProfiledGpuModel {
            roofline,
            params,
            peaks,
            link,
            gemm: None,
            prefill: None,
            decode: None,
            passes: Default::default(),
            allreduce: None,
        };
        if !usable {
            return Ok(m);
        }
        let shape = *m.roofline.shape();
        let heads = (
            Some(shape.attention.q_heads),
            Some(shape.attention.kv_heads),
            Some(shape.attention.head_dim),
        );
        let width = |class: PassClass| match class {
            PassClass::Norm | PassClass::Residual | PassClass::Embedding => shape.hidden,
            PassClass::Rope => {
                (shape.attention.q_heads + shape.attention.kv_heads) * shape.attention.head_dim
            }
            PassClass::Activation => shape.intermediate.div_ceil(shape.tp),
        };
        for (i, t) in m.params.tables.iter().enumerate() {
            let slot = match t.class {
                TableClass::Gemm => &mut m.gemm,
                TableClass::PrefillAttention | TableClass::DecodeAttention => {
                    if (t.q_heads, t.kv_heads, t.head_dim) != heads {
                        continue;
                    }
                    if t.class == TableClass::PrefillAttention {
                        &mut m.prefill
                    } else {
                        &mut m.decode
                    }
                }
                TableClass::Allreduce => {
                    if t.gpus != Some(tp) {
                        continue;
                    }
                    &mut m.allreduce
                }
                class => {
                    let pass = class.pass().expect("a pass");
                    if t.width != Some(width(pass)) {
                        continue;
                    }
                    &mut m.passes[pass_index(pass)]
                }
            };
            let r = |x: &[f64]| {
                t.roofline_at(
                    &m.params.fallback,
                    &peaks,
                    link,
                    m.params.dtype_bytes as f64,
                    x,
                )
            };
            *slot = Some(Resolved {
                table: i,
                grid: Grid::new(t.axis_values(), &t.times_s(), &r),
            });
        }
        Ok(m)
    }

    /// The roofline that gives the structure and the fallback.
    pub fn roofline(&self) -> &RooflineGpuModel {
        &self.roofline
    }

    /// `(class, source)` of every table this instance uses.
    pub fn tables_used(&self) -> Vec<(&'static str, &str)> {
        let mut slots: Vec<&Resolved> = [&self.gemm, &self.prefill, &self.decode, &self.allreduce]
            .into_iter()
            .chain(&self.passes)
            .flatten()
            .collect();
        slots.sort_by_key(|r| r.table);
        slots
            .iter()
            .map(|r| {
                let t = &self.params.tables[r.table];
                (t.class.name(), t.source.as_str())
            })
            .collect()
    }

    /// `T(s*) · R(call) / R(s*)` (module docs); the roofline's `roofline_s` when no table
    /// covers the call.
    fn op_time(&self, op: &OpCall<'_>, roofline_s: f64) -> f64 {
        let mut x = [0.0f64; 3];
        let (slot, same_shape) = match *op {
            OpCall::Gemm { m, n, k } => {
                x = [m as f64, n as f64, k as f64];
                (&self.gemm, true)
            }
            OpCall::Pass { class, tokens, .. } => {
                x[0] = tokens as f64;
                (&self.passes[pass_index(class)], true)
            }
            OpCall::AllReduce { bytes } => {
                x[0] = bytes;
                (&self.allreduce, true)
            }
            OpCall::DecodeAttention {
                sequences,
                context_sum,
            } => {
                let s = sequences as f64;
                x[0] = s;
                x[1] = context_sum as f64 / s + 1.0;
                (&self.decode, true)
            }
            OpCall::PrefillAttention { pieces } => {
                let (mut n, mut new, mut uniform) = (0u64, 0u64, true);
                for p in pieces.iter().filter(|p| p.new_tokens > 0) {
                    uniform &= p.cached_tokens == 0 && (n == 0 || p.new_tokens * n == new);
                    n += 1;
                    new += p.new_tokens;
                }
                if n == 0 {
                    return roofline_s;
                }
                x[0] = n as f64;
                x[1] = new as f64 / n as f64;
                (&self.prefill, uniform)
            }
        };
        let Some(r) = slot else {
            return roofline_s;
        };
        let x = &mut x[..r.grid.dims()];
        let clamped = r.grid.clamp(x);
        let t = r.grid.eval(x);
        if same_shape && !clamped {
            return t;
        }
        let at = self.params.tables[r.table].roofline_at(
            &self.params.fallback,
            &self.peaks,
            self.link,
            self.params.dtype_bytes as f64,
            x,
        );
        if at > 0.0 && at.is_finite() {
            t * roofline_s / at
        } else {
            t
        }
    }

    fn timer(&self) -> impl Fn(&OpCall<'_>, f64) -> f64 + '_ {
        |op, r| self.op_time(op, r)
    }
}

impl GpuModel for ProfiledGpuModel {
    fn iteration_time(&self, batch: &Batch) -> f64 {
        self.breakdown(batch).total_s()
    }

    fn breakdown(&self, batch: &Batch) -> IterationBreakdown {
        self.roofline.breakdown_with(batch, &self.timer())
    }

    fn decode_iterations(
        &self,
        decodes: u64,
        context_sum: u64,
        max: usize,
        within_s: f64,
        out: &mut Vec<f64>,
    ) {
        self.roofline.decode_iterations_with(
            &self.timer(),
            decodes,
            context_sum,
            max,
            within_s,
            out,
        );
    }
}

/// The leave-one-out predictions of every measured node of `table` (see
/// [`grid::leave_one_out`]): `(coordinates, measured seconds, predicted seconds)`.
pub fn table_leave_one_out(
    table: &OperatorTable,
    fallback: &RooflineParams,
    gpu: &GpuSpec,
    dtype_bytes: u64,
) -> Vec<(Vec<f64>, f64, f64)> {
    let peaks = gpu.peaks_for_weight_bytes(dtype_bytes);
    let link = gpu.nvlink_unidirectional_bw_bytes_per_s();
    let axes = table.axis_values();
    let r = |x: &[f64]| table.roofline_at(fallback, &peaks, link, dtype_bytes as f64, x);
    grid::leave_one_out(&axes, &table.times_s(), &r)
        .into_iter()
        .map(|(node, t, p)| (grid::coordinates(&axes, node), t, p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{load_gpu, load_llm};

    fn axis(name: &str, values: &[f64]) -> Axis {
        Axis {
            name: name.into(),
            values: values.to_vec(),
        }
    }

    fn table(class: TableClass, axes: Vec<Axis>, time_us: Vec<Option<f64>>) -> OperatorTable {
        OperatorTable {
            class,
            source: "fixture".into(),
            q_heads: None,
            kv_heads: None,
            head_dim: None,
            width: None,
            gpus: None,
            axes,
            time_us,
        }
    }

    /// Decode attention of Llama-3.1-8B at TP 1 (32 q, 8 kv heads of 128): batch 1, 8, 64 by
    /// kv_tokens 128, 1024, 8192, t = 5 us * batch^0.5 * (kv/128)^0.7, increasing on both axes.
    fn decode_table() -> OperatorTable {
        let (b, kv) = ([1.0, 8.0, 64.0], [128.0, 1024.0, 8192.0]);
        let mut t = Vec::new();
        for x in b {
            for y in kv {
                t.push(Some(5.0 * f64::sqrt(x) * (y / 128.0f64).powf(0.7)));
            }
        }
        OperatorTable {
            q_heads: Some(32),
            kv_heads: Some(8),
            head_dim: Some(128),
            ..table(
                TableClass::DecodeAttention,
                vec![axis("batch", &b), axis("kv_tokens", &kv)],
                t,
            )
        }
    }

    /// A GEMM grid over m = 1, 64, 4096 by the QKV shape of Llama-3.1-8B (n = 6144, k = 4096).
    fn gemm_table() -> OperatorTable {
        table(
            TableClass::Gemm,
            vec![
                axis("m", &[1.0, 64.0, 4096.0]),
                axis("n", &[6144.0]),
                axis("k", &[4096.0]),
            ],
            vec![Some(40.0), Some(45.0), Some(400.0)],
        )
    }

    fn allreduce_table() -> OperatorTable {
        OperatorTable {
            gpus: Some(2),
            ..table(
                TableClass::Allreduce,
                vec![axis("bytes", &[1e3, 1e6])],
                vec![Some(5.0), Some(20.0)],
            )
        }
    }

    fn params(tables: Vec<OperatorTable>) -> ProfiledParams {
        ProfiledParams {
            dtype_bytes: 2,
            fallback: RooflineParams::default(),
            tables,
        }
    }

    fn model(tp: u64, tables: Vec<OperatorTable>) -> ProfiledGpuModel {
        let llm = load_llm("llama-3.1-8b").unwrap();
        let gpu = load_gpu("h100-sxm").unwrap();
        ProfiledGpuModel::new(llm, gpu, tp, params(tables)).unwrap()
    }

    fn decode_op(batch: u64, kv_tokens: u64) -> OpCall<'static> {
        OpCall::DecodeAttention {
            sequences: batch,
            context_sum: batch * (kv_tokens - 1),
        }
    }

    fn time(m: &ProfiledGpuModel, op: &OpCall<'_>) -> f64 {
        m.op_time(op, m.roofline().op_time(op))
    }

    #[test]
    fn exact_at_measured_points() {
        let m = model(1, vec![decode_table(), gemm_table()]);
        let d = decode_table();
        for (i, b) in [1u64, 8, 64].into_iter().enumerate() {
            for (j, kv) in [128u64, 1024, 8192].into_iter().enumerate() {
                let want = d.time_us[3 * i + j].unwrap() * 1e-6;
                assert_eq!(time(&m, &decode_op(b, kv)), want, "batch {b} kv {kv}");
            }
        }
        let qkv = OpCall::Gemm {
            m: 64,
            n: 6144,
            k: 4096,
        };
        assert_eq!(time(&m, &qkv), 45.0 * 1e-6);
        // Through the whole iteration: 64 decodes at context 1023 -> 32 layers x the node.
        let mut b = Batch::new();
        b.push_decodes(64, 64 * 1023);
        let want = 32.0 * d.time_us[7].unwrap() * 1e-6;
        assert!((m.breakdown(&b).decode_attention_s / want - 1.0).abs() < 1e-12);
    }

    #[test]
    fn monotone_between_measured_points() {
        let m = model(1, vec![decode_table()]);
        let mut last_b = 0.0;
        for b in 1..=64u64 {
            let mut last_kv = 0.0;
            for kv in (128..=8192u64).step_by(97) {
                let t = time(&m, &decode_op(b, kv));
                assert!(t >= last_kv, "batch {b} kv {kv}: {t} < {last_kv}");
                last_kv = t;
            }
            let t = time(&m, &decode_op(b, 2000));
            assert!(t >= last_b, "batch {b}: {t} < {last_b}");
            last_b = t;
        }
        // Between nodes, the value lies between the cell's corner values.
        let t = time(&m, &decode_op(20, 3000));
        let d = decode_table();
        let (lo, hi) = (d.time_us[4].unwrap(), d.time_us[8].unwrap());
        assert!(t * 1e6 > lo && t * 1e6 < hi, "{t}");
    }

    #[test]
    fn roofline_scaled_to_the_edge_outside_the_grid() {
        let m = model(1, vec![decode_table(), gemm_table()]);
        let edge = decode_op(64, 8192);
        let far = decode_op(256, 32768);
        let r = |op: &OpCall<'_>| m.roofline().op_time(op);
        let want = 80.0 * 5.0 * 8.0 * 64f64.powf(0.7) * 1e-6 / 80.0 * r(&far) / r(&edge);
        assert!((time(&m, &far) / want - 1.0).abs() < 1e-12);
        // Continuous at the edge, and growing beyond it as the roofline does.
        let just = decode_op(64, 8193);
        assert!((time(&m, &just) / time(&m, &edge) - 1.0).abs() < 1e-3);
        assert!(time(&m, &far) > time(&m, &edge));
        // Below the smallest measured m of the GEMM grid: m = 1 is the edge; a GEMM shape the
        // grid lacks (n = 4096) is clamped to n = 6144 and scaled by the roofline.
        let o_proj = OpCall::Gemm {
            m: 1,
            n: 4096,
            k: 4096,
        };
        let at = OpCall::Gemm {
            m: 1,
            n: 6144,
            k: 4096,
        };
        let want = 40e-6 * r(&o_proj) / r(&at);
        assert!((time(&m, &o_proj) / want - 1.0).abs() < 1e-12);
    }

    #[test]
    fn classes_without_a_matching_table_use_the_roofline() {
        // All-reduce measured on 2 GPUs: a TP-4 instance has no table and uses the curve.
        let m4 = model(4, vec![allreduce_table(), decode_table()]);
        let op = OpCall::AllReduce { bytes: 1e5 };
        assert_eq!(time(&m4, &op), m4.roofline().op_time(&op));
        // Decode heads at TP 4 are 8 q / 2 kv: the TP-1 table does not apply either.
        assert_eq!(
            time(&m4, &decode_op(8, 1024)),
            m4.roofline().op_time(&decode_op(8, 1024))
        );
        let m2 = model(2, vec![allreduce_table()]);
        assert_eq!(time(&m2, &OpCall::AllReduce { bytes: 1e6 }), 20.0 * 1e-6);
        assert_eq!(m2.tables_used(), vec![("allreduce", "fixture")]);
        // An fp8 model runs on the roofline alone (the tables are of 2-byte elements).
        let mut llm = load_llm("llama-3.1-8b").unwrap();
        llm.dtype_bytes = 1;
        let gpu = load_gpu("h100-sxm").unwrap();
        let fp8 = ProfiledGpuModel::new(llm, gpu, 1, params(vec![decode_table()])).unwrap();
        assert!(fp8.tables_used().is_empty());
    }

    #[test]
    fn mixed_prefill_is_corrected_by_the_roofline() {
        let prefill = OperatorTable {
            q_heads: Some(32),
            kv_heads: Some(8),
            head_dim: Some(128),
            ..table(
                TableClass::PrefillAttention,
                vec![axis("batch", &[1.0, 4.0]), axis("isl", &[128.0, 1024.0])],
                vec![Some(20.0), Some(100.0), Some(50.0), Some(300.0)],
            )
        };
        let m = model(1, vec![prefill]);
        let uniform = [crate::gpu::PrefillPiece {
            new_tokens: 1024,
            cached_tokens: 0,
        }; 4];
        assert_eq!(
            time(&m, &OpCall::PrefillAttention { pieces: &uniform }),
            300.0 * 1e-6
        );
        // 1024 new after 4096 cached: the (1, 1024) node times the roofline's ratio.
        let cached = [crate::gpu::PrefillPiece {
            new_tokens: 1024,
            cached_tokens: 4096,
        }];
        let op = OpCall::PrefillAttention { pieces: &cached };
        let bare = [crate::gpu::PrefillPiece {
            new_tokens: 1024,
            cached_tokens: 0,
        }];
        let r = |op: &OpCall<'_>| m.roofline().op_time(op);
        let want = 100e-6 * r(&op) / r(&OpCall::PrefillAttention { pieces: &bare });
        assert!((time(&m, &op) / want - 1.0).abs() < 1e-9);
        assert!(time(&m, &op) > 100e-6);
    }

    #[test]
    fn decode_iterations_equal_iteration_time_bit_for_bit() {
        let m = model(2, vec![decode_table(), gemm_table(), allreduce_table()]);
        let (decodes, ctx) = (37, 37 * 1500);
        let mut fast = Vec::new();
        m.decode_iterations(decodes, ctx, 50, f64::INFINITY, &mut fast);
        assert_eq!(fast.len(), 50);
        for (j, f) in fast.iter().enumerate() {
            let slow =
                m.iteration_time(Batch::new().push_decodes(decodes, ctx + j as u64 * decodes));
            assert_eq!(f.to_bits(), slow.to_bits(), "iteration {j}");
        }
    }

    #[test]
    fn bad_tables_are_clear_errors() {
        let yaml = serde_norway::to_string(&crate::gpu::GpuModelConfig::Profiled(params(vec![
            decode_table(),
        ])))
        .unwrap();
        assert!(yaml.starts_with("kind: profiled"), "{yaml}");
        let back: crate::gpu::GpuModelConfig = serde_norway::from_str(&yaml).unwrap();
        back.validate().unwrap();
        let err = serde_norway::from_str::<crate::gpu::GpuModelConfig>(
            &yaml.replace("kv_heads:", "kv_head:"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("kv_head"), "{err}");
        let check = |t: OperatorTable| params(vec![t]).validate().unwrap_err();
        let mut t = decode_table();
        t.axes[1].name = "context".into();
        let e = check(t);
        assert!(
            e.value.contains("tables[0] (decode_attention)") && e.value.contains("context"),
            "{e:?}"
        );
        let mut t = decode_table();
        t.time_us.pop();
        assert!(check(t).value.contains("8 values for 9 nodes"));
        let mut t = decode_table();
        t.axes[0].values = vec![1.0, 8.0, 8.0];
        assert!(check(t).reason.contains("strictly increasing"));
        let mut t = decode_table();
        t.head_dim = None;
        assert!(check(t).value.contains("no head_dim"));
        let mut t = decode_table();
        t.time_us[3] = Some(-1.0);
        assert!(check(t).value.contains("time_us[3] = -1"));
        let e = params(vec![decode_table(), decode_table()])
            .validate()
            .unwrap_err();
        assert!(e.value.contains("same class and key as tables[0]"), "{e:?}");
    }
}
