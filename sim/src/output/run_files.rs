//! The cluster run's Parquet files, written as the run goes.
//!
//! [`RunFiles`] is the [`RecordSink`] of a run writing into a folder: it buffers
//! [`ROW_GROUP_ROWS`] rows per table, then writes them as one Parquet row group to a temporary
//! file, so memory stays bounded by the buffer whatever the run's length. [`RunFiles::finish`]
//! closes the files and renames them into place; dropping it unfinished (an error, a panic)
//! removes the temporaries. Equal runs push equal records, so the files are byte-identical.
//!
//! Column names and units are here and in README ("Outputs"), nowhere else.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Context;
use arrow_schema::Schema;
use kvcsim_models::tiers::{TIER_NAMES, TierCounters};
use parquet::arrow::ArrowWriter;

use super::table::writer_properties;
use super::{Column, Table, temp_name};
use crate::records::{OpRecord, RecordSink, RequestRecord, TimeseriesRow, TransferRecord};
use crate::scenario::Slo;

/// Rows per Parquet row group (and the most rows a table buffers).
pub const ROW_GROUP_ROWS: usize = 65_536;

macro_rules! column {
    ($rows:expr, $variant:ident, $field:ident) => {
        Column::$variant($rows.iter().map(|r| r.$field).collect())
    };
}

/// The `requests.parquet` table of `rows`; `meets_slo` is null for every row without an SLO.
pub fn requests_table(r: &[RequestRecord], slo: Option<&Slo>) -> Table {
    Table::new()
        .with("request_id", column!(r, U64, request_id))
        .with("arrival_ns", column!(r, U64, arrival_ns))
        .with("instance", column!(r, U32, instance))
        .with("input_tokens", column!(r, U64, input_tokens))
        .with("output_tokens", column!(r, U64, output_tokens))
        .with("blocks", column!(r, U64, blocks))
        .with("hit_blocks", column!(r, U64, hit_blocks))
        .with("hbm_hit_blocks", column!(r, U64, hbm_hit_blocks))
        .with("dram_hit_blocks", column!(r, U64, dram_hit_blocks))
        .with("ssd_hit_blocks", column!(r, U64, ssd_hit_blocks))
        .with("remote_hit_blocks", column!(r, U64, remote_hit_blocks))
        .with("cached_tokens", column!(r, U64, cached_tokens))
        .with("queue_ns", column!(r, U64, queue_ns))
        .with("load_ns", column!(r, U64, load_ns))
        .with("prefill_ns", column!(r, U64, prefill_ns))
        .with("ttft_ns", column!(r, U64, ttft_ns))
        .with("tpot_ns", column!(r, U64, tpot_ns))
        .with("e2e_ns", column!(r, U64, e2e_ns))
        .with("finish_ns", column!(r, U64, finish_ns))
        .with("metadata_ns", column!(r, U64, metadata_ns))
        .with("preemptions", column!(r, U32, preemptions))
        .with("recomputed_tokens", column!(r, U64, recomputed_tokens))
        .with("prefill_instance", column!(r, U32, prefill_instance))
        .with("decode_instance", column!(r, U32, decode_instance))
        .with("decode_wait_ns", column!(r, U64, decode_wait_ns))
        .with("transfer_ns", column!(r, U64, transfer_ns))
        .with("transfer_bytes", column!(r, U64, transfer_bytes))
        .with(
            "meets_slo",
            Column::OptBool(r.iter().map(|r| slo.map(|s| s.meets(r))).collect()),
        )
}

/// The `timeseries.parquet` table of `rows`.
pub fn timeseries_table(t: &[TimeseriesRow]) -> Table {
    let mut table = Table::new()
        .with("time_ns", column!(t, U64, time_ns))
        .with("interval_ns", column!(t, U64, interval_ns))
        .with("instance", column!(t, U32, instance))
        .with("running", column!(t, U64, running))
        .with("waiting", column!(t, U64, waiting))
        .with("batch_tokens", column!(t, U64, batch_tokens))
        .with("iterations", column!(t, U64, iterations))
        .with("gpu_busy_fraction", column!(t, F64, gpu_busy_fraction))
        .with("cache_blocks", column!(t, U64, cache_blocks))
        .with("cached_blocks", column!(t, U64, cached_blocks))
        .with("lookups", column!(t, U64, lookups))
        .with("lookup_blocks", column!(t, U64, lookup_blocks))
        .with("hit_blocks", column!(t, U64, hit_blocks));
    let per_tier = |f: fn(&TierCounters) -> u64, k: usize| {
        Column::U64(t.iter().map(|row| f(&row.tiers[k])).collect())
    };
    for (k, name) in TIER_NAMES.iter().enumerate().skip(1) {
        table = table.with(&format!("{name}_hit_blocks"), per_tier(|c| c.hit_blocks, k));
    }
    for (k, name) in TIER_NAMES.iter().enumerate() {
        table = table
            .with(&format!("{name}_bytes_read"), per_tier(|c| c.bytes_read, k))
            .with(
                &format!("{name}_bytes_written"),
                per_tier(|c| c.bytes_written, k),
            )
            .with(&format!("{name}_evictions"), per_tier(|c| c.evictions, k));
    }
    for (k, name) in TIER_NAMES.iter().enumerate().skip(1) {
        table = table.with(
            &format!("{name}_blocks"),
            Column::U64(t.iter().map(|row| row.tier_blocks[k]).collect()),
        );
    }
    table
        .with("preemptions", column!(t, U64, preemptions))
        .with("recomputed_tokens", column!(t, U64, recomputed_tokens))
        .with("nic_tx_bytes", column!(t, U64, nic_tx_bytes))
        .with("nic_rx_bytes", column!(t, U64, nic_rx_bytes))
        .with("nic_tx_utilisation", column!(t, F64, nic_tx_utilisation))
        .with("nic_rx_utilisation", column!(t, F64, nic_rx_utilisation))
}

/// The `transfers.parquet` table of `rows`.
pub fn transfers_table(t: &[TransferRecord]) -> Table {
    Table::new()
        .with(
            "kind",
            Column::Str(t.iter().map(|r| Some(r.kind.to_string())).collect()),
        )
        .with("request_id", column!(t, U64, request_id))
        .with("source", column!(t, U32, source))
        .with("destination", column!(t, U32, destination))
        .with("bytes", column!(t, U64, bytes))
        .with("start_ns", column!(t, U64, start_ns))
        .with("end_ns", column!(t, U64, end_ns))
}

/// Makes the table of a buffer of rows.
type ToTable<R> = Box<dyn Fn(&[R]) -> Table + Send>;

/// One Parquet file written a row group at a time into a temporary file.
struct StreamingTable<R> {
    path: PathBuf,
    tmp: PathBuf,
    to_table: ToTable<R>,
    rows: Vec<R>,
    writer: Option<ArrowWriter<fs::File>>,
}

impl<R> StreamingTable<R> {
    fn new(path: PathBuf, to_table: ToTable<R>) -> Self {
        StreamingTable {
            tmp: temp_name(&path),
            path,
            to_table,
            rows: Vec::new(),
            writer: None,
        }
    }

    fn push(&mut self, row: R) -> crate::error::Result<()> {
        self.rows.push(row);
        if self.rows.len() >= ROW_GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered rows as one row group (the schema comes from the first group).
    fn flush(&mut self) -> crate::error::Result<()> {
        let batch = (self.to_table)(&self.rows).to_record_batch()?;
        if self.writer.is_none() {
            let file = fs::File::create(&self.tmp)
                .with_context(|| format!("cannot create {}", self.tmp.display()))?;
            let schema: Arc<Schema> = batch.schema();
            self.writer = Some(ArrowWriter::try_new(
                file,
                schema,
                Some(writer_properties()),
            )?);
        }
        let w = self.writer.as_mut().expect("created above");
        w.write(&batch)
            .and_then(|()| w.flush())
            .with_context(|| format!("cannot write {}", self.tmp.display()))?;
        self.rows.clear();
        Ok(())
    }

    /// Writes what is buffered (an empty table if nothing ever was), syncs and renames.
    fn finish(mut self) -> crate::error::Result<()> {
        if !self.rows.is_empty() || self.writer.is_none() {
            self.flush()?;
        }
        let file = self
            .writer
            .take()
            .expect("flushed above")
            .into_inner()
            .with_context(|| format!("cannot write {}", self.tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("cannot sync {}", self.tmp.display()))?;
        fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("cannot move {} into place", self.path.display()))
    }
}

impl<R> Drop for StreamingTable<R> {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The record sink of a run writing into a folder: `requests.parquet` (rows in completion
/// order), `timeseries.parquet` (interval, then instance) and, when asked, `metadata_ops.parquet`
/// (completion order) and `transfers.parquet` (completion order).
pub struct RunFiles {
    requests: StreamingTable<RequestRecord>,
    timeseries: StreamingTable<TimeseriesRow>,
    metadata_ops: Option<StreamingTable<OpRecord>>,
    transfers: Option<StreamingTable<TransferRecord>>,
    error: Option<crate::error::Error>,
}

impl RunFiles {
    /// Files in `dir` (which must exist), with `metadata_ops.parquet` if `metadata_ops` and
    /// `transfers.parquet` if `transfers`; nothing is created before the first row group.
    /// `slo` fills the `meets_slo` column.
    pub fn new(dir: &Path, metadata_ops: bool, transfers: bool, slo: Option<Slo>) -> Self {
        RunFiles {
            requests: StreamingTable::new(
                dir.join("requests.parquet"),
                Box::new(move |r| requests_table(r, slo.as_ref())),
            ),
            timeseries: StreamingTable::new(
                dir.join("timeseries.parquet"),
                Box::new(timeseries_table),
            ),
            metadata_ops: metadata_ops.then(|| {
                StreamingTable::new(
                    dir.join("metadata_ops.parquet"),
                    Box::new(super::metadata::ops_table) as ToTable<OpRecord>,
                )
            }),
            transfers: transfers.then(|| {
                StreamingTable::new(
                    dir.join("transfers.parquet"),
                    Box::new(transfers_table) as ToTable<TransferRecord>,
                )
            }),
            error: None,
        }
    }

    fn keep(&mut self, result: crate::error::Result<()>) {
        if let Err(e) = result
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    /// Completes both files; the first write error of the run, if any.
    pub fn finish(self) -> crate::error::Result<()> {
        let RunFiles {
            requests,
            timeseries,
            metadata_ops,
            transfers,
            error,
        } = self;
        if let Some(e) = error {
            return Err(e);
        }
        requests.finish()?;
        timeseries.finish()?;
        transfers.map_or(Ok(()), StreamingTable::finish)?;
        metadata_ops.map_or(Ok(()), StreamingTable::finish)
    }
}

impl RecordSink for RunFiles {
    fn request(&mut self, record: &RequestRecord) {
        if self.error.is_none() {
            let r = self.requests.push(record.clone());
            self.keep(r);
        }
    }

    fn interval(&mut self, row: &TimeseriesRow) {
        if self.error.is_none() {
            let r = self.timeseries.push(row.clone());
            self.keep(r);
        }
    }

    fn metadata_op(&mut self, op: &OpRecord) {
        if self.error.is_none()
            && let Some(t) = &mut self.metadata_ops
        {
            let r = t.push(op.clone());
            self.keep(r);
        }
    }

    fn transfer(&mut self, t: &TransferRecord) {
        if self.error.is_none()
            && let Some(table) = &mut self.transfers
        {
            let r = table.push(t.clone());
            self.keep(r);
        }
    }

    fn failed(&self) -> bool {
        self.error.is_some()
    }
}
