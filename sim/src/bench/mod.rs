//! Built-in benchmarks (`kvcsim bench ...`): measured, reported, never asserted in tests.

pub mod engine;
pub mod metadata;

pub mod rdma;
