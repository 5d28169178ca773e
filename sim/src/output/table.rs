//! A column-oriented table written as Parquet with arrow's writer.
//!
//! Models and the world push typed records; each output turns them into a [`Table`] whose
//! column names carry their units (`_ns`, `_tokens`, ...). Files are Snappy-compressed and
//! contain nothing time- or host-dependent, so equal tables give byte-identical files.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array,
    UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::write_atomic;

/// The values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Unsigned 64-bit integers (counts, nanoseconds).
    U64(Vec<u64>),
    /// Unsigned 32-bit integers (ids, token counts).
    U32(Vec<u32>),
    /// Floating-point values (fractions, rates).
    F64(Vec<f64>),
    /// Strings, nullable (`None` is null).
    Str(Vec<Option<String>>),
    /// Unsigned 64-bit integers, nullable (a metric of a failed sweep point).
    OptU64(Vec<Option<u64>>),
    /// Signed 64-bit integers, nullable (integer sweep parameters).
    OptI64(Vec<Option<i64>>),
    /// Floating-point values, nullable.
    OptF64(Vec<Option<f64>>),
    /// Booleans, nullable.
    OptBool(Vec<Option<bool>>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::U64(v) => v.len(),
            Column::U32(v) => v.len(),
            Column::F64(v) => v.len(),
            Column::Str(v) => v.len(),
            Column::OptU64(v) => v.len(),
            Column::OptI64(v) => v.len(),
            Column::OptF64(v) => v.len(),
            Column::OptBool(v) => v.len(),
        }
    }

    fn to_arrow(&self) -> (DataType, bool, ArrayRef) {
        match self {
            Column::U64(v) => (
                DataType::UInt64,
                false,
                Arc::new(UInt64Array::from(v.clone())),
            ),
            Column::U32(v) => (
                DataType::UInt32,
                false,
                Arc::new(UInt32Array::from(v.clone())),
            ),
            Column::F64(v) => (
                DataType::Float64,
                false,
                Arc::new(Float64Array::from(v.clone())),
            ),
            Column::Str(v) => (DataType::Utf8, true, Arc::new(StringArray::from(v.clone()))),
            Column::OptU64(v) => (
                DataType::UInt64,
                true,
                Arc::new(UInt64Array::from(v.clone())),
            ),
            Column::OptI64(v) => (DataType::Int64, true, Arc::new(Int64Array::from(v.clone()))),
            Column::OptF64(v) => (
                DataType::Float64,
                true,
                Arc::new(Float64Array::from(v.clone())),
            ),
            Column::OptBool(v) => (
                DataType::Boolean,
                true,
                Arc::new(BooleanArray::from(v.clone())),
            ),
        }
    }
}

/// Properties of every Parquet file kvcsim writes: Snappy, and nothing time- or host-dependent.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by(format!("kvcsim {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Named columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    columns: Vec<(String, Column)>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a column (builder style).
    pub fn with(mut self, name: &str, column: Column) -> Self {
        self.columns.push((name.to_string(), column));
        self
    }

    /// Number of rows (0 for a table without columns).
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    /// Column names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(n, _)| n.as_str())
    }

    /// The Arrow record batch of this table.
    pub fn to_record_batch(&self) -> crate::error::Result<RecordBatch> {
        let rows = self.rows();
        let mut fields = Vec::with_capacity(self.columns.len());
        let mut arrays = Vec::with_capacity(self.columns.len());
        for (name, col) in &self.columns {
            if col.len() != rows {
                return Err(crate::error::internal(format!(
                    "column {name} has {} rows, expected {rows}",
                    col.len()
                )));
            }
            let (dt, nullable, array) = col.to_arrow();
            fields.push(Field::new(name, dt, nullable));
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }

    /// Writes the table as a Parquet file, atomically.
    pub fn write_parquet(&self, path: &Path) -> crate::error::Result<()> {
        let batch = self.to_record_batch()?;
        write_atomic(path, |w| {
            let mut writer = ArrowWriter::try_new(w, batch.schema(), Some(writer_properties()))?;
            writer.write(&batch)?;
            writer.close()?;
            Ok(())
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        Table::new()
            .with("id", Column::U64(vec![1, 2, 3]))
            .with("ratio", Column::F64(vec![0.5, 0.25, 1.0]))
            .with(
                "name",
                Column::Str(vec![Some("a".into()), None, Some("c".into())]),
            )
            .with("count", Column::OptU64(vec![Some(1), None, Some(3)]))
            .with("delta", Column::OptI64(vec![Some(-1), Some(0), None]))
            .with("mean", Column::OptF64(vec![None, Some(0.5), Some(1.5)]))
            .with("flag", Column::OptBool(vec![Some(true), None, Some(false)]))
    }

    #[test]
    fn equal_tables_give_identical_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        sample().write_parquet(&a).unwrap();
        sample().write_parquet(&b).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    }

    #[test]
    fn ragged_columns_are_rejected() {
        let t = Table::new()
            .with("a", Column::U64(vec![1]))
            .with("b", Column::U64(vec![]));
        assert!(t.to_record_batch().is_err());
    }

    #[test]
    fn reads_back_with_parquet_reader() {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        sample().write_parquet(&path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<_> = reader.map(Result::unwrap).collect();
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
        let schema = batches[0].schema();
        assert_eq!(schema.field(2).name(), "name");
        assert!(schema.field(3).is_nullable() && !schema.field(0).is_nullable());
        assert_eq!(batches[0].column(3).null_count(), 1);
        assert_eq!(schema.field(5).data_type(), &DataType::Float64);
    }
}
