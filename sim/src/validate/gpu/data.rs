//! Readers of the measured operator tables in `../shared/gpu` (see its `SOURCES.md`):
//! Vidur's per-layer operator CSVs and NCCL all-reduce CSVs (read with the `csv` crate), and
//! AIConfigurator's kernel database (Parquet, read with arrow). Times are converted from
//! milliseconds to seconds here, once.
//!
//! Every error names the file and, where there is one, the line (CSV, 1-based, header = 1) or
//! row (Parquet, 0-based) and the column.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

impl DataError {
    /// Every case is the data's (a file given by the user): a missing, unreadable or malformed
    /// table is exit 2.
    pub fn is_user_error(&self) -> bool {
        match self {
            DataError::Io { .. }
            | DataError::Csv { .. }
            | DataError::Parquet { .. }
            | DataError::MissingColumn { .. }
            | DataError::BadValue { .. } => true,
        }
    }
}

/// Why a data file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The CSV is malformed.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause (it carries the line).
        source: csv::Error,
    },
    /// The Parquet file is malformed.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// A required column is absent.
    #[error("{path}: no column `{column}`")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
    },
    /// A cell does not hold what its column must.
    #[error("{path}: {at}, column `{column}`: {reason}, got `{value}`")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// `line N` (CSV) or `row N` (Parquet).
        at: String,
        /// The column.
        column: String,
        /// The cell.
        value: String,
        /// What it must be.
        reason: &'static str,
    },
}

/// The operators of one row of a Vidur `mlp.csv`, in column order.
pub const VIDUR_OPS: [&str; 10] = [
    "emb",
    "input_layernorm",
    "attn_pre_proj",
    "attn_rope",
    "attn_post_proj",
    "post_attention_layernorm",
    "mlp_up_proj",
    "mlp_act",
    "mlp_down_proj",
    "add",
];

/// One row of a Vidur `mlp.csv`: a model's layer at one token count and TP degree.
#[derive(Clone, Debug, PartialEq)]
pub struct VidurLayerRow {
    /// CSV line (header = 1).
    pub line: u64,
    /// Query heads (whole model).
    pub n_head: u64,
    /// KV heads (whole model).
    pub n_kv_head: u64,
    /// Residual width.
    pub n_embd: u64,
    /// MLP width.
    pub n_expanded_embd: u64,
    /// Whether the MLP is gated.
    pub gated: bool,
    /// Tokens in the batch.
    pub tokens: u64,
    /// Tensor-parallel degree whose sharded shapes ran.
    pub tp: u64,
    /// Median seconds of each of [`VIDUR_OPS`].
    pub op_s: [f64; VIDUR_OPS.len()],
}

/// One all-reduce measurement: group size, buffer bytes, seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct AllReduceRow {
    /// GPUs in the group.
    pub gpus: u64,
    /// Buffer bytes.
    pub bytes: f64,
    /// Seconds.
    pub time_s: f64,
    /// Whether the call ran inside a CUDA graph (AIConfigurator's `vllm_graph`); Vidur and
    /// nccl-tests time eager calls.
    pub graph: bool,
}

/// One GEMM of AIConfigurator's grid.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmRow {
    /// `gemm_dtype`.
    pub dtype: String,
    /// Tokens.
    pub m: u64,
    /// Output features.
    pub n: u64,
    /// Input features.
    pub k: u64,
    /// Seconds.
    pub time_s: f64,
}

/// One attention measurement of AIConfigurator (prefill or decode).
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionRow {
    /// `kernel_source`.
    pub kernel: String,
    /// Sequences.
    pub batch: u64,
    /// Prompt tokens per sequence (prefill); 1 for decode.
    pub isl: u64,
    /// Tokens already in the KV cache per sequence (`step`; decode), 0 for prefill.
    pub cached: u64,
    /// Rank-local query heads.
    pub heads: u64,
    /// Rank-local KV heads.
    pub kv_heads: u64,
    /// Head width.
    pub head_dim: u64,
    /// `kv_cache_dtype`.
    pub kv_dtype: String,
    /// `window_size` (0 = full attention).
    pub window: u64,
    /// Seconds.
    pub time_s: f64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A CSV with named columns.
struct CsvTable {
    path: PathBuf,
    columns: HashMap<String, usize>,
    records: Vec<(u64, csv::StringRecord)>,
}

impl CsvTable {
    fn read(path: &Path) -> Result<Self, DataError> {
        let file = File::open(path).map_err(io(path))?;
        let csv_err = |source| DataError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut reader = csv::Reader::from_reader(file);
        let columns = reader
            .headers()
            .map_err(csv_err)?
            .iter()
            .enumerate()
            .map(|(i, h)| (h.to_string(), i))
            .collect();
        let mut records = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(csv_err)?;
            let line = rec.position().map_or(0, |p| p.line());
            records.push((line, rec));
        }
        Ok(CsvTable {
            path: path.to_path_buf(),
            columns,
            records,
        })
    }

    fn column(&self, name: &str) -> Result<usize, DataError> {
        self.columns
            .get(name)
            .copied()
            .ok_or_else(|| DataError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
            })
    }

    fn bad(&self, line: u64, column: &str, value: &str, reason: &'static str) -> DataError {
        DataError::BadValue {
            path: self.path.clone(),
            at: format!("line {line}"),
            column: column.to_string(),
            value: value.to_string(),
            reason,
        }
    }

    /// A non-negative finite number.
    fn number(
        &self,
        rec: &(u64, csv::StringRecord),
        col: usize,
        name: &str,
    ) -> Result<f64, DataError> {
        let cell = rec.1.get(col).unwrap_or("");
        match cell.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(self.bad(rec.0, name, cell, "must be a finite number, not negative")),
        }
    }

    /// A positive integer (integral floats such as `2048.0` are accepted).
    fn count(
        &self,
        rec: &(u64, csv::StringRecord),
        col: usize,
        name: &str,
    ) -> Result<u64, DataError> {
        let v = self.number(rec, col, name)?;
        if v >= 1.0 && v.fract() == 0.0 && v < 2f64.powi(53) {
            Ok(v as u64)
        } else {
            let cell = rec.1.get(col).unwrap_or("");
            Err(self.bad(rec.0, name, cell, "must be a positive integer"))
        }
    }
}

/// Reads a Vidur `mlp.csv` (per-layer operator timings, ms).
pub fn read_vidur_layers(path: &Path) -> Result<Vec<VidurLayerRow>, DataError> {
    let t = CsvTable::read(path)?;
    let names: Vec<String> = VIDUR_OPS
        .iter()
        .map(|op| format!("time_stats.{op}.median"))
        .collect();
    let op_cols = names
        .iter()
        .map(|n| t.column(n))
        .collect::<Result<Vec<_>, _>>()?;
    let desc = [
        "n_head",
        "n_kv_head",
        "n_embd",
        "n_expanded_embd",
        "num_tokens",
        "num_tensor_parallel_workers",
    ];
    let desc_cols = desc
        .iter()
        .map(|n| t.column(n))
        .collect::<Result<Vec<_>, _>>()?;
    let gated_col = t.column("use_gated_mlp")?;
    let mut rows = Vec::with_capacity(t.records.len());
    for rec in &t.records {
        let mut v = [0u64; 6];
        for (i, (&c, name)) in desc_cols.iter().zip(desc).enumerate() {
            v[i] = t.count(rec, c, name)?;
        }
        let mut op_s = [0.0; VIDUR_OPS.len()];
        for (i, (&c, name)) in op_cols.iter().zip(&names).enumerate() {
            op_s[i] = t.number(rec, c, name)? * 1e-3;
        }
        let gated = match rec.1.get(gated_col).unwrap_or("").trim() {
            "True" | "true" | "1" => true,
            "False" | "false" | "0" => false,
            other => return Err(t.bad(rec.0, "use_gated_mlp", other, "must be True or False")),
        };
        if v[0] % v[1] != 0 || v[2] % v[0] != 0 {
            return Err(t.bad(
                rec.0,
                "n_kv_head",
                &v[1].to_string(),
                "must divide n_head, which must divide n_embd",
            ));
        }
        rows.push(VidurLayerRow {
            line: rec.0,
            n_head: v[0],
            n_kv_head: v[1],
            n_embd: v[2],
            n_expanded_embd: v[3],
            gated,
            tokens: v[4],
            tp: v[5],
            op_s,
        });
    }
    Ok(rows)
}

/// One end-to-end step a user logged from a serving stack (`calibrate gpu --measurements`).
#[derive(Clone, Debug, PartialEq)]
pub struct StepRow {
    /// CSV line.
    pub line: u64,
    /// Prefill (true) or decode step.
    pub prefill: bool,
    /// Tensor-parallel degree.
    pub tp: u64,
    /// Sequences of this one shape in the step.
    pub batch: u64,
    /// Per sequence: new tokens (prefill).
    pub new_tokens: u64,
    /// Per sequence: cached tokens reused (prefill).
    pub cached_tokens: u64,
    /// Per sequence: tokens of KV context (decode).
    pub context_tokens: u64,
    /// Seconds of the whole step.
    pub time_s: f64,
}

/// Reads a step-time CSV: columns `kind` (prefill|decode), `tp`, `batch`, `new_tokens`,
/// `cached_tokens` (prefill), `context_tokens` (decode), `time_ms`. Cells a kind does not use
/// may be empty.
pub fn read_step_measurements(path: &Path) -> Result<Vec<StepRow>, DataError> {
    let t = CsvTable::read(path)?;
    let col = |n| t.column(n);
    let (kind, tp, batch, new, cached, context, time) = (
        col("kind")?,
        col("tp")?,
        col("batch")?,
        col("new_tokens")?,
        col("cached_tokens")?,
        col("context_tokens")?,
        col("time_ms")?,
    );
    let mut rows = Vec::new();
    for rec in &t.records {
        let prefill = match rec.1.get(kind).unwrap_or("").trim() {
            "prefill" => true,
            "decode" => false,
            other => return Err(t.bad(rec.0, "kind", other, "must be prefill or decode")),
        };
        let zero_if_empty = |c: usize, name: &str| -> Result<u64, DataError> {
            if rec.1.get(c).unwrap_or("").trim().is_empty() {
                Ok(0)
            } else {
                Ok(t.number(rec, c, name)? as u64)
            }
        };
        let row = StepRow {
            line: rec.0,
            prefill,
            tp: t.count(rec, tp, "tp")?,
            batch: t.count(rec, batch, "batch")?,
            new_tokens: if prefill {
                t.count(rec, new, "new_tokens")?
            } else {
                0
            },
            cached_tokens: zero_if_empty(cached, "cached_tokens")?,
            context_tokens: zero_if_empty(context, "context_tokens")?,
            time_s: t.number(rec, time, "time_ms")? * 1e-3,
        };
        if row.time_s <= 0.0 {
            return Err(t.bad(rec.0, "time_ms", "0", "must be positive"));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Reads a Vidur `all_reduce.csv` (NCCL, eager, `size` in bytes, ms). Only groups that sit
/// on one node (`devices_per_node == num_workers`) are kept: tensor parallelism stays in a
/// node.
pub fn read_vidur_allreduce(path: &Path) -> Result<Vec<AllReduceRow>, DataError> {
    let t = CsvTable::read(path)?;
    let (time, workers, size, per_node) = (
        t.column("time_stats.all_reduce.median")?,
        t.column("num_workers")?,
        t.column("size")?,
        t.column("devices_per_node")?,
    );
    let mut rows = Vec::new();
    for rec in &t.records {
        let gpus = t.count(rec, workers, "num_workers")?;
        let on_node = t.count(rec, per_node, "devices_per_node")?;
        if on_node != gpus {
            continue;
        }
        rows.push(AllReduceRow {
            gpus,
            bytes: t.count(rec, size, "size")? as f64,
            time_s: t.number(rec, time, "time_stats.all_reduce.median")? * 1e-3,
            graph: false,
        });
    }
    Ok(rows)
}

/// A Parquet file's columns, as numbers or strings.
pub struct ParquetTable {
    path: PathBuf,
    rows: usize,
    columns: HashMap<String, ParquetColumn>,
}

enum ParquetColumn {
    Number(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

impl ParquetTable {
    /// Reads every column of `path` whose type is a number or a string.
    pub fn read(path: &Path) -> Result<Self, DataError> {
        let file = File::open(path).map_err(io(path))?;
        let pq = |source| DataError::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(pq)?
            .build()
            .map_err(pq)?;
        let mut columns: HashMap<String, ParquetColumn> = HashMap::new();
        let mut rows = 0;
        for batch in reader {
            let batch: RecordBatch = batch.map_err(|e| pq(e.into()))?;
            rows += batch.num_rows();
            for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
                let Some(values) = convert(array.as_ref()) else {
                    continue;
                };
                match (columns.get_mut(field.name()), values) {
                    (Some(ParquetColumn::Number(v)), ParquetColumn::Number(mut new)) => {
                        v.append(&mut new)
                    }
                    (Some(ParquetColumn::Text(v)), ParquetColumn::Text(mut new)) => {
                        v.append(&mut new)
                    }
                    (None, values) => {
                        columns.insert(field.name().clone(), values);
                    }
                    _ => {}
                }
            }
        }
        Ok(ParquetTable {
            path: path.to_path_buf(),
            rows,
            columns,
        })
    }

    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn missing(&self, name: &str) -> DataError {
        DataError::MissingColumn {
            path: self.path.clone(),
            column: name.to_string(),
        }
    }

    fn bad(&self, row: usize, column: &str, value: String, reason: &'static str) -> DataError {
        DataError::BadValue {
            path: self.path.clone(),
            at: format!("row {row}"),
            column: column.to_string(),
            value,
            reason,
        }
    }

    /// Column `name` as finite non-negative numbers.
    pub fn numbers(&self, name: &str) -> Result<Vec<f64>, DataError> {
        match self.columns.get(name) {
            Some(ParquetColumn::Number(v)) => v
                .iter()
                .enumerate()
                .map(|(row, x)| match x {
                    Some(x) if x.is_finite() && *x >= 0.0 => Ok(*x),
                    _ => Err(self.bad(
                        row,
                        name,
                        format!("{x:?}"),
                        "must be a finite number, not negative",
                    )),
                })
                .collect(),
            Some(ParquetColumn::Text(_)) => {
                Err(self.bad(0, name, "text".into(), "must be numeric"))
            }
            None => Err(self.missing(name)),
        }
    }

    /// Column `name` as positive integers.
    pub fn counts(&self, name: &str) -> Result<Vec<u64>, DataError> {
        let v = self.numbers(name)?;
        v.iter()
            .enumerate()
            .map(|(row, &x)| {
                if x >= 1.0 && x.fract() == 0.0 && x < 2f64.powi(53) {
                    Ok(x as u64)
                } else {
                    Err(self.bad(row, name, x.to_string(), "must be a positive integer"))
                }
            })
            .collect()
    }

    /// Column `name` as integers, zero allowed.
    pub fn integers(&self, name: &str) -> Result<Vec<u64>, DataError> {
        let v = self.numbers(name)?;
        v.iter()
            .enumerate()
            .map(|(row, &x)| {
                if x.fract() == 0.0 && x < 2f64.powi(53) {
                    Ok(x as u64)
                } else {
                    Err(self.bad(row, name, x.to_string(), "must be an integer"))
                }
            })
            .collect()
    }

    /// Column `name` as strings (null as empty).
    pub fn strings(&self, name: &str) -> Result<Vec<String>, DataError> {
        match self.columns.get(name) {
            Some(ParquetColumn::Text(v)) => {
                Ok(v.iter().map(|s| s.clone().unwrap_or_default()).collect())
            }
            Some(ParquetColumn::Number(v)) => Ok(v
                .iter()
                .map(|x| x.map(|x| x.to_string()).unwrap_or_default())
                .collect()),
            None => Err(self.missing(name)),
        }
    }

    /// Column `name` as strings when present, else `default` for every row.
    pub fn strings_or(&self, name: &str, default: &str) -> Result<Vec<String>, DataError> {
        if self.columns.contains_key(name) {
            self.strings(name)
        } else {
            Ok(vec![default.to_string(); self.rows])
        }
    }
}

fn convert(array: &dyn Array) -> Option<ParquetColumn> {
    fn nums<T: arrow_array::ArrowPrimitiveType>(
        a: &dyn Array,
        f: impl Fn(T::Native) -> f64,
    ) -> ParquetColumn {
        let p = a.as_primitive::<T>();
        ParquetColumn::Number(
            (0..p.len())
                .map(|i| p.is_valid(i).then(|| f(p.value(i))))
                .collect(),
        )
    }
    Some(match array.data_type() {
        DataType::Float64 => nums::<Float64Type>(array, |x| x),
        DataType::Float32 => nums::<Float32Type>(array, f64::from),
        DataType::Int64 => nums::<Int64Type>(array, |x| x as f64),
        DataType::Int32 => nums::<Int32Type>(array, f64::from),
        DataType::UInt64 => nums::<UInt64Type>(array, |x| x as f64),
        DataType::UInt32 => nums::<UInt32Type>(array, f64::from),
        DataType::Utf8 => {
            let s = array.as_string::<i32>();
            ParquetColumn::Text(
                (0..s.len())
                    .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
                    .collect(),
            )
        }
        DataType::LargeUtf8 => {
            let s = array.as_string::<i64>();
            ParquetColumn::Text(
                (0..s.len())
                    .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
                    .collect(),
            )
        }
        DataType::Utf8View => {
            let s = array.as_string_view();
            ParquetColumn::Text(
                (0..s.len())
                    .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
                    .collect(),
            )
        }
        _ => return None,
    })
}

/// Reads an AIConfigurator `gemm_perf.parquet`.
pub fn read_aic_gemm(path: &Path) -> Result<Vec<GemmRow>, DataError> {
    let t = ParquetTable::read(path)?;
    let dtype = t.strings("gemm_dtype")?;
    let (m, n, k) = (t.counts("m")?, t.counts("n")?, t.counts("k")?);
    let lat = t.numbers("latency")?;
    Ok((0..t.rows())
        .map(|i| GemmRow {
            dtype: dtype[i].clone(),
            m: m[i],
            n: n[i],
            k: k[i],
            time_s: lat[i] * 1e-3,
        })
        .collect())
}

/// Reads an AIConfigurator `context_attention_perf.parquet` or
/// `generation_attention_perf.parquet` (`step` = cached tokens for decode).
pub fn read_aic_attention(path: &Path, decode: bool) -> Result<Vec<AttentionRow>, DataError> {
    let t = ParquetTable::read(path)?;
    let kernel = t.strings("kernel_source")?;
    let batch = t.counts("batch_size")?;
    let isl = t.counts("isl")?;
    let step = t.integers("step")?;
    let heads = t.counts("num_heads")?;
    let kv_heads = t.counts("num_key_value_heads")?;
    let head_dim = t.counts("head_dim")?;
    let kv_dtype = t.strings("kv_cache_dtype")?;
    // A100 vLLM tables carry no window column: full attention only.
    let window = if t.columns.contains_key("window_size") {
        t.integers("window_size")?
    } else {
        vec![0; t.rows()]
    };
    let lat = t.numbers("latency")?;
    Ok((0..t.rows())
        .map(|i| AttentionRow {
            kernel: kernel[i].clone(),
            batch: batch[i],
            isl: isl[i],
            cached: if decode { step[i] } else { 0 },
            heads: heads[i],
            kv_heads: kv_heads[i],
            head_dim: head_dim[i],
            kv_dtype: kv_dtype[i].clone(),
            window: window[i],
            time_s: lat[i] * 1e-3,
        })
        .collect())
}

/// Reads the all-reduce rows of an AIConfigurator `nccl_perf.parquet` (half precision:
/// `message_size` elements of 2 B).
pub fn read_aic_nccl(path: &Path) -> Result<Vec<AllReduceRow>, DataError> {
    let t = ParquetTable::read(path)?;
    let op = t.strings("op_name")?;
    let dtype = t.strings("nccl_dtype")?;
    let gpus = t.counts("num_gpus")?;
    let size = t.counts("message_size")?;
    let lat = t.numbers("latency")?;
    Ok((0..t.rows())
        .filter(|&i| op[i] == "all_reduce" && dtype[i] == "half")
        .map(|i| AllReduceRow {
            gpus: gpus[i],
            bytes: size[i] as f64 * 2.0,
            time_s: lat[i] * 1e-3,
            graph: false,
        })
        .collect())
}

/// Reads an AIConfigurator `custom_allreduce_perf.parquet` (bf16 elements of 2 B); `graph`
/// from the `backend` column (`*_graph`; rows without one count as graph captures, the
/// collector's default).
pub fn read_aic_custom_allreduce(path: &Path) -> Result<Vec<AllReduceRow>, DataError> {
    let t = ParquetTable::read(path)?;
    let backend = t.strings_or("backend", "graph")?;
    let gpus = t.counts("num_gpus")?;
    let size = t.counts("message_size")?;
    let lat = t.numbers("latency")?;
    Ok((0..t.rows())
        .map(|i| AllReduceRow {
            gpus: gpus[i],
            bytes: size[i] as f64 * 2.0,
            time_s: lat[i] * 1e-3,
            graph: !backend[i].ends_with("eager"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Column, Table};

    const VIDUR_HEADER: &str = "time_stats.emb.median,time_stats.input_layernorm.median,time_stats.attn_pre_proj.median,time_stats.attn_rope.median,time_stats.attn_post_proj.median,time_stats.post_attention_layernorm.median,time_stats.mlp_up_proj.median,time_stats.mlp_act.median,time_stats.mlp_down_proj.median,time_stats.add.median,n_head,n_kv_head,n_embd,n_expanded_embd,vocab_size,use_gated_mlp,num_tokens,num_tensor_parallel_workers";

    #[test]
    fn vidur_layers_read_and_convert_to_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mlp.csv");
        std::fs::write(
            &p,
            format!("{VIDUR_HEADER}\n1,2,3,4,5,6,7,8,9,10,32,8,4096,14336,128256,True,512,2\n"),
        )
        .unwrap();
        let rows = read_vidur_layers(&p).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.n_head, r.n_kv_head, r.tokens, r.tp, r.line),
            (32, 8, 512, 2, 2)
        );
        assert!(r.gated);
        assert_eq!(r.op_s[0], 1e-3);
        assert_eq!(r.op_s[9], 10e-3);
    }

    #[test]
    fn vidur_errors_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        std::fs::write(
            &p,
            format!(
                "{VIDUR_HEADER}\n1,2,3,4,5,6,7,8,9,10,32,8,4096,14336,128256,True,512,2\n1,2,x,4,5,6,7,8,9,10,32,8,4096,14336,128256,True,512,2\n"
            ),
        )
        .unwrap();
        let msg = read_vidur_layers(&p).unwrap_err().to_string();
        assert!(
            msg.contains("bad.csv")
                && msg.contains("line 3")
                && msg.contains("time_stats.attn_pre_proj.median")
                && msg.contains("`x`"),
            "{msg}"
        );
        std::fs::write(&p, "a,b\n1,2\n").unwrap();
        let msg = read_vidur_layers(&p).unwrap_err().to_string();
        assert!(msg.contains("no column `time_stats.emb.median`"), "{msg}");
        let msg = read_vidur_layers(&dir.path().join("none.csv"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("none.csv"), "{msg}");
    }

    #[test]
    fn step_measurements_read_and_errors_name_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("steps.csv");
        std::fs::write(
            &p,
            "kind,tp,batch,new_tokens,cached_tokens,context_tokens,time_ms\nprefill,2,1,128,0,,12.5\ndecode,2,8,,,1000,9\n",
        )
        .unwrap();
        let rows = read_step_measurements(&p).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].prefill && rows[0].new_tokens == 128 && rows[0].time_s == 0.0125);
        assert!(!rows[1].prefill && rows[1].context_tokens == 1000 && rows[1].batch == 8);
        std::fs::write(
            &p,
            "kind,tp,batch,new_tokens,cached_tokens,context_tokens,time_ms\nprefil,2,1,128,0,,12.5\n",
        )
        .unwrap();
        let msg = read_step_measurements(&p).unwrap_err().to_string();
        assert!(
            msg.contains("line 2") && msg.contains("`kind`") && msg.contains("prefil"),
            "{msg}"
        );
    }

    #[test]
    fn vidur_allreduce_keeps_single_node_groups() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("all_reduce.csv");
        std::fs::write(
            &p,
            ",time_stats.all_reduce.median,num_workers,size,devices_per_node\n0,0.02,2,2048,2\n1,0.05,4,2048,2\n",
        )
        .unwrap();
        let rows = read_vidur_allreduce(&p).unwrap();
        assert_eq!(
            rows,
            vec![AllReduceRow {
                gpus: 2,
                bytes: 2048.0,
                time_s: 2e-5,
                graph: false
            }]
        );
    }

    #[test]
    fn aic_tables_read_from_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let gemm = dir.path().join("gemm_perf.parquet");
        Table::new()
            .with(
                "gemm_dtype",
                Column::Str(vec![Some("bfloat16".into()), Some("fp8".into())]),
            )
            .with("m", Column::U64(vec![1, 2]))
            .with("n", Column::U64(vec![4096, 4096]))
            .with("k", Column::U64(vec![1024, 1024]))
            .with("latency", Column::F64(vec![0.01, 0.02]))
            .write_parquet(&gemm)
            .unwrap();
        let rows = read_aic_gemm(&gemm).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[1].dtype.as_str(), rows[1].m, rows[1].time_s),
            ("fp8", 2, 2e-5)
        );

        let nccl = dir.path().join("nccl_perf.parquet");
        Table::new()
            .with(
                "op_name",
                Column::Str(vec![Some("all_reduce".into()), Some("all_gather".into())]),
            )
            .with(
                "nccl_dtype",
                Column::Str(vec![Some("half".into()), Some("half".into())]),
            )
            .with("num_gpus", Column::U64(vec![8, 8]))
            .with("message_size", Column::U64(vec![1024, 1024]))
            .with("latency", Column::F64(vec![0.01, 0.02]))
            .write_parquet(&nccl)
            .unwrap();
        let rows = read_aic_nccl(&nccl).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].bytes, 2048.0);

        let bad = dir.path().join("bad.parquet");
        Table::new()
            .with("m", Column::F64(vec![1.0, 2.5]))
            .with("n", Column::U64(vec![1, 1]))
            .with("k", Column::U64(vec![1, 1]))
            .with("gemm_dtype", Column::Str(vec![None, None]))
            .with("latency", Column::F64(vec![0.01, 0.02]))
            .write_parquet(&bad)
            .unwrap();
        let msg = read_aic_gemm(&bad).unwrap_err().to_string();
        assert!(
            msg.contains("bad.parquet") && msg.contains("row 1") && msg.contains("`m`"),
            "{msg}"
        );
    }
}
