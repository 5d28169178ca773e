//! Built-in benchmarks (`kvcsim bench ...`): measured, reported, never asserted in tests.

pub mod engine;
pub mod metadata;
pub mod perftest_world;

pub mod rdma;
