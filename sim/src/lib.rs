//! kvcsim: a discrete-event simulator of the KV cache of LLM serving clusters.
//!
//! ```text
//!   traces (kvcsim-traces) ──requests──▶ world (lifecycle, routing) ──events──▶ engine
//!                                           │ asks
//!                                           ▼
//!                                 models (kvcsim-models): GPU, network, metadata, cache tiers
//!                                           │ records
//!                                           ▼
//!                                 output: Parquet, summary.json, tables
//! ```
//!
//! A sweep (`sweep`) runs many such pure runs over a grid of parameters in parallel.
//!
//! The binary `kvcsim` (see `src/main.rs`) is a thin clap front end over this library.
#![warn(missing_docs)]

pub mod bench;
pub mod cache_replay;
pub mod capacity;
pub mod cli;
pub mod engine;
pub mod error;
pub mod limits;
pub mod metadata_replay;
pub mod output;
pub mod records;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sweep;
pub mod validate;
pub mod world;
