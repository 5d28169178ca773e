//! Request traces for kvcsim: readers for public LLM-serving traces, a synthetic workload
//! generator, and the statistics that characterise a trace's prefix reuse.
//!
//! ```text
//!  conversation_trace.jsonl ─┐                          ┌─► stats::compute ─► TraceStats
//!  AzureLLM...code.csv ──────┼─► TraceReader ─► Request ┤      (hit ratios, LRU curve)
//!  synth::SynthSpec ─────────┴─► synth::generate ───────┴─► the simulator / write_jsonl
//! ```
//!
//! A [`Request`] is an arrival time, input and output lengths in tokens, and the prefix-chained
//! ids of the KV blocks of its input (Mooncake's `hash_ids`): equal ids mean equal token
//! prefixes, so a cache keyed by block id sees exactly the reuse the trace holds.
//!
//! ```
//! use kvcsim_traces::{ReadOptions, Request, TraceReader, write_jsonl};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("tiny.jsonl");
//! let requests = vec![
//!     Request { index: 0, arrival_ns: 0, input_tokens: 700, output_tokens: 9, block_ids: vec![0, 1] },
//!     Request { index: 1, arrival_ns: 2_000_000, input_tokens: 500, output_tokens: 3, block_ids: vec![0] },
//! ];
//! write_jsonl(&requests, std::fs::File::create(&path).unwrap()).unwrap();
//! let back: Vec<Request> = TraceReader::open(&path, &ReadOptions::default())
//!     .unwrap()
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! assert_eq!(back, requests);
//! ```
#![warn(missing_docs)]

mod error;
mod hash;
mod reader;
mod request;
pub mod stats;
pub mod synth;
mod writer;

pub use error::TraceError;
pub use reader::{AZURE_HEADER, ReadOptions, TraceFormat, TraceReader, read_all};
pub use request::Request;
pub use writer::write_jsonl;

#[cfg(test)]
mod tests {
    /// Everything a run owns must be `Send` (house style: sweeps run in parallel).
    #[test]
    fn public_types_are_send() {
        fn send<T: Send>() {}
        send::<crate::TraceReader>();
        send::<crate::synth::Generator>();
        send::<crate::TraceError>();
        send::<crate::stats::TraceStats>();
    }
}
