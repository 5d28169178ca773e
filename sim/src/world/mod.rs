//! The world: wires models together and gives events their meaning.

pub mod rdma_bench;
