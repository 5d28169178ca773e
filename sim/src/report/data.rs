//! Reading an output folder's files for the report: Parquet tables by column name, `summary.json`
//! and the resolved YAML as untyped values, so the report follows whatever columns and keys a
//! folder holds (older runs lack newer columns; optional ones are only looked for).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{
    Array, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::input_error;

/// A Parquet file read whole, its columns looked up by name.
pub struct ParquetTable {
    path: PathBuf,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

/// One cell, typed as the column is.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Null.
    Null,
    /// Any integer or floating-point column.
    Num(f64),
    /// A boolean column.
    Bool(bool),
    /// A string column.
    Text(String),
}

impl ParquetTable {
    /// Reads `path`; a missing or unreadable file is an input error naming it.
    pub fn read(path: &Path) -> crate::error::Result<ParquetTable> {
        let file = File::open(path)
            .map_err(|e| input_error(format!("cannot open {}: {e}", path.display())))?;
        let not_parquet = |e: parquet::errors::ParquetError| {
            input_error(format!(
                "{}: not a readable Parquet file: {e}",
                path.display()
            ))
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(not_parquet)?;
        let schema = builder.schema().clone();
        let batches = builder
            .with_batch_size(64 * 1024)
            .build()
            .map_err(not_parquet)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| input_error(format!("{}: {e}", path.display())))?;
        Ok(ParquetTable {
            path: path.to_path_buf(),
            schema,
            batches,
        })
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Column names in file order.
    pub fn columns(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Whether the file has the column.
    pub fn has(&self, name: &str) -> bool {
        self.schema.index_of(name).is_ok()
    }

    /// Whether a column holds numbers (integers or floats).
    pub fn is_numeric(&self, name: &str) -> bool {
        self.schema
            .field_with_name(name)
            .is_ok_and(|f| f.data_type().is_numeric())
    }

    /// A column as cells; an input error when it is absent or of an unsupported type.
    pub fn cells(&self, name: &str) -> crate::error::Result<Vec<Cell>> {
        let index = self.schema.index_of(name).map_err(|_| {
            input_error(format!(
                "{}: no column `{name}` (has: {})",
                self.path.display(),
                self.columns().join(", ")
            ))
        })?;
        let mut out = Vec::with_capacity(self.len());
        for batch in &self.batches {
            let column = batch.column(index);
            macro_rules! push {
                ($ty:ty, $conv:expr) => {{
                    let a = column
                        .as_any()
                        .downcast_ref::<$ty>()
                        .expect("array type matches its schema");
                    for i in 0..a.len() {
                        out.push(if a.is_null(i) {
                            Cell::Null
                        } else {
                            $conv(a.value(i))
                        });
                    }
                }};
            }
            match column.data_type() {
                DataType::UInt64 => push!(UInt64Array, |v: u64| Cell::Num(v as f64)),
                DataType::UInt32 => push!(UInt32Array, |v: u32| Cell::Num(f64::from(v))),
                DataType::Int64 => push!(Int64Array, |v: i64| Cell::Num(v as f64)),
                DataType::Int32 => push!(Int32Array, |v: i32| Cell::Num(f64::from(v))),
                DataType::Float64 => push!(Float64Array, Cell::Num),
                DataType::Boolean => push!(BooleanArray, Cell::Bool),
                DataType::Utf8 => push!(StringArray, |v: &str| Cell::Text(v.to_string())),
                other => {
                    return Err(input_error(format!(
                        "{}: column `{name}` has type {other}, which the report does not read",
                        self.path.display()
                    )));
                }
            }
        }
        Ok(out)
    }

    /// A numeric column as `f64` (nulls as NaN).
    pub fn f64s(&self, name: &str) -> crate::error::Result<Vec<f64>> {
        let cells = self.cells(name)?;
        if !self.is_numeric(name) {
            return Err(input_error(format!(
                "{}: column `{name}` is not numeric",
                self.path.display()
            )));
        }
        Ok(cells
            .into_iter()
            .map(|c| match c {
                Cell::Num(v) => v,
                _ => f64::NAN,
            })
            .collect())
    }

    /// A numeric column when the file has it, else `None`.
    pub fn f64s_if_present(&self, name: &str) -> crate::error::Result<Option<Vec<f64>>> {
        if self.has(name) {
            self.f64s(name).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Reads a JSON file as an untyped value.
pub fn read_json(path: &Path) -> crate::error::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| input_error(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| input_error(format!("{}: {e}", path.display())))
}

/// Reads a YAML file as an untyped value.
pub fn read_yaml(path: &Path) -> crate::error::Result<serde_norway::Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| input_error(format!("cannot read {}: {e}", path.display())))?;
    serde_norway::from_str(&text).map_err(|e| input_error(format!("{}: {e}", path.display())))
}

/// The value at a dotted path of a YAML mapping (`cluster.gpu`), if every step exists.
pub fn yaml_at<'a>(value: &'a serde_norway::Value, path: &str) -> Option<&'a serde_norway::Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// A YAML value as short text: scalars as written, sequences and mappings as compact JSON.
pub fn yaml_text(value: &serde_norway::Value) -> String {
    use serde_norway::Value;
    match value {
        Value::Null => "none".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Column, Table};

    #[test]
    fn reads_columns_by_name_with_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        Table::new()
            .with("n", Column::U64(vec![1, 2]))
            .with("x", Column::OptF64(vec![Some(0.5), None]))
            .with("s", Column::Str(vec![Some("a".into()), None]))
            .write_parquet(&path)
            .unwrap();
        let read = ParquetTable::read(&path).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read.f64s("n").unwrap(), vec![1.0, 2.0]);
        let x = read.f64s("x").unwrap();
        assert!(x[0] == 0.5 && x[1].is_nan());
        assert_eq!(
            read.cells("s").unwrap(),
            vec![Cell::Text("a".into()), Cell::Null]
        );
        assert!(read.f64s("s").is_err());
        let missing = read.f64s("nope").unwrap_err().to_string();
        assert!(
            missing.contains("nope") && missing.contains("t.parquet"),
            "{missing}"
        );
        assert_eq!(read.f64s_if_present("nope").unwrap(), None);
    }

    #[test]
    fn yaml_paths_and_text() {
        let v: serde_norway::Value =
            serde_norway::from_str("a: {b: 3, c: [1, 2]}\nd: null\n").unwrap();
        assert_eq!(yaml_at(&v, "a.b").map(yaml_text).as_deref(), Some("3"));
        assert_eq!(yaml_at(&v, "a.c").map(yaml_text).as_deref(), Some("[1,2]"));
        assert_eq!(yaml_at(&v, "d").map(yaml_text).as_deref(), Some("none"));
        assert!(yaml_at(&v, "a.x").is_none());
    }
}
