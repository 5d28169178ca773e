//! Validation cases: the simulator checked against real measurements.

pub mod gpu;
pub mod rdma;
