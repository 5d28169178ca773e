//! placeholder

pub mod net;
pub mod perftest;
