//! Resource limits: every size a user controls is checked against a documented limit, or an
//! estimate of the memory or work it implies, before anything is allocated.
//!
//! ```text
//!   scenario / flags ──▶ Limits::check(field, value, limit) ──ok──▶ allocate, run
//!                                        │ over
//!                                        ▼
//!        exit 2: "`cluster.instances` 1000000 needs about 350.0 GB, above the limit of 8.0 GB;
//!                 pass --allow-large to run it anyway"
//! ```
//!
//! The limits keep a typo (`instances: 1000000`, `rate_scale: 1e-300`) from turning into a
//! minutes-long hang or an abort with `memory allocation of N bytes failed` and no field named.
//! A machine that really has the memory (or the patience) passes `--allow-large`, which lifts
//! every limit here; what cannot be represented at all (a simulated time past 2^62 ns) stays an
//! error. Each limit's value and the reason for it are on its constant.

/// How strictly sizes are checked (`--allow-large` lifts the limits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Accept sizes above the limits.
    pub allow_large: bool,
}

/// Most memory a run may be estimated to need before `--allow-large` is required: 8 GiB, what a
/// laptop or a CI runner has to spare.
pub const MEMORY_BYTES: u64 = 8 << 30;

/// Fixed memory of one serving instance before any request, bytes: about 350 KB, measured on
/// the default scenario (`run --set cluster.instances=N`, resident set over N, issue 13).
pub const INSTANCE_BYTES: u64 = 350_000;

/// Memory of one cache-table entry sized up front, bytes: a slab node and an index slot of
/// about 32 bytes each (`kvcsim_models::cache::PRESIZE_MAX_ENTRIES` caps the entries).
pub const ENTRY_BYTES: u64 = 64;

/// Most requests a run may hold: 10 million. Arrivals are held in memory with their block ids
/// (about 1 KB a request with ~60 blocks of 8 bytes plus the per-request record).
pub const REQUESTS: u64 = 10_000_000;

/// Most requests the synthetic generator may draw during warm-up (discarded): 100 million,
/// about ten seconds of generation (the generator draws about 10 million requests a second).
pub const WARMUP_REQUESTS: u64 = 100_000_000;

/// Most `timeseries.parquet` rows (instances x intervals): 10 million, about 1 GB of rows.
pub const TIMESERIES_ROWS: u64 = 10_000_000;

/// Latest simulated time that can be represented with room for arithmetic: 2^62 ns (146 years).
/// Not lifted by `--allow-large`.
pub const SIM_TIME_NS: u64 = 1 << 62;

/// Most pending events of `bench engine`: 50 million (about 1.6 GB at 32 bytes an entry).
pub const BENCH_PENDING: u64 = 50_000_000;

/// Most events of one `bench engine` measurement: 10^10, about three minutes at the measured
/// 50 Mevents/s.
pub const BENCH_EVENTS: u64 = 10_000_000_000;

/// Most queue pairs of `bench rdma --qps`: 65,536 (per-QP state is allocated up front; perftest
/// runs use 1 to a few hundred).
pub const BENCH_QPS: u64 = 65_536;

/// Most records `bench metadata` loads: 20 million (the backends hold a few hundred bytes a key).
pub const BENCH_KEYS: u64 = 20_000_000;

/// Most operations of one `bench metadata` run: 100 million (one latency sample of 8 bytes
/// each, and minutes of simulation).
pub const BENCH_OPS: u64 = 100_000_000;

/// A size over its limit: what the user gave, and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{field}` {value} {detail}; {hint}")]
pub struct LimitError {
    /// The field or flag.
    pub field: String,
    /// The value given.
    pub value: String,
    /// What the limit is.
    pub detail: String,
    /// How to get past it.
    pub hint: String,
}

impl LimitError {
    /// Always true: the size is the user's.
    pub fn is_user_error(&self) -> bool {
        true
    }
}

impl Limits {
    /// Checks `value` of `field` against `limit` (a count).
    pub fn count(&self, field: &str, value: u64, limit: u64) -> Result<(), LimitError> {
        if self.allow_large || value <= limit {
            return Ok(());
        }
        Err(LimitError {
            field: field.into(),
            value: value.to_string(),
            detail: format!("is above the limit of {limit}"),
            hint: "pass --allow-large to run it anyway".into(),
        })
    }

    /// Checks the `bytes` that `value` of `field` is estimated to need against
    /// [`MEMORY_BYTES`].
    pub fn memory(&self, field: &str, value: impl ToString, bytes: u64) -> Result<(), LimitError> {
        if self.allow_large || bytes <= MEMORY_BYTES {
            return Ok(());
        }
        Err(LimitError {
            field: field.into(),
            value: value.to_string(),
            detail: format!(
                "needs about {}, above the limit of {}",
                gb(bytes),
                gb(MEMORY_BYTES)
            ),
            hint: "pass --allow-large to run it anyway".into(),
        })
    }

    /// Checks a simulated time, which no flag lifts past [`SIM_TIME_NS`].
    pub fn sim_time(&self, field: &str, value: impl ToString, ns: f64) -> Result<(), LimitError> {
        if ns.is_finite() && ns < SIM_TIME_NS as f64 {
            return Ok(());
        }
        Err(LimitError {
            field: field.into(),
            value: value.to_string(),
            detail: format!(
                "puts simulated time at {ns:.3e} ns, past the {SIM_TIME_NS} ns (146 years) kvcsim can represent"
            ),
            hint: "use a value closer to 1".into(),
        })
    }
}

fn gb(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

/// Checks that a count flag is at least 1 (`--keys 0`).
pub fn at_least_one(flag: &str, value: u64) -> Result<(), LimitError> {
    if value >= 1 {
        return Ok(());
    }
    Err(LimitError {
        field: flag.into(),
        value: value.to_string(),
        detail: "must be at least 1".into(),
        hint: "give a positive count".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_over_its_limit_names_field_value_limit_and_flag() {
        let err = Limits::default()
            .count("--pending", 100_000_000_000, BENCH_PENDING)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`--pending` 100000000000"), "{err}");
        assert!(
            err.contains("50000000") && err.contains("--allow-large"),
            "{err}"
        );
        let large = Limits { allow_large: true };
        assert!(large.count("--pending", u64::MAX, BENCH_PENDING).is_ok());
    }

    #[test]
    fn memory_estimate_is_refused_in_gigabytes() {
        let err = Limits::default()
            .memory("cluster.instances", 1_000_000, 1_000_000 * INSTANCE_BYTES)
            .unwrap_err()
            .to_string();
        assert!(err.contains("350.0 GB") && err.contains("8.6 GB"), "{err}");
    }

    #[test]
    fn simulated_time_past_2_62_is_refused_even_with_allow_large() {
        let large = Limits { allow_large: true };
        assert!(
            large
                .sim_time("workload.rate_scale", 1e-300, f64::INFINITY)
                .is_err()
        );
        assert!(
            large
                .sim_time("workload.rate_scale", 1e-300, f64::NAN)
                .is_err()
        );
        assert!(large.sim_time("workload.rate_scale", 1.0, 3.6e12).is_ok());
    }
}
