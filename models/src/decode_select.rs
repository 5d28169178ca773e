//! Choosing the decode instance of a disaggregated request (prefill done, KV to ship).
//!
//! A candidate is a decode instance that can reserve the request's KV now (its free and
//! evictable blocks cover the blocks it lacks). Among candidates:
//!
//! * `least-loaded` (default): the fewest tokens still owed (uncomputed prompt plus ungenerated
//!   output of the requests assigned to it), ties to the lower index: Dynamo's and DistServe's
//!   decode placement by load.
//! * `kv-aware`: the most leading prompt blocks already cached on the instance (those need not
//!   cross the fabric), then the least load: the decode-side prefix reuse of Mooncake's
//!   conductor and Dynamo's KV-aware decode routing.
//!
//! No candidate: the request waits at the decode pool until one frees room (the caller queues
//! it, first come first served).

use serde::{Deserialize, Serialize};

/// The decode-selection policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecodeSelection {
    /// Fewest owed tokens.
    #[default]
    LeastLoaded,
    /// Longest cached prefix, then fewest owed tokens.
    KvAware,
}

/// One decode instance as the selection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeCandidate {
    /// Whether it can reserve the request's KV now.
    pub fits: bool,
    /// Leading prompt blocks it caches.
    pub cached_prefix_blocks: usize,
    /// Tokens owed to the requests assigned to it.
    pub outstanding_tokens: u64,
}

impl DecodeSelection {
    /// The chosen candidate's index, or `None` when none fits.
    pub fn choose(self, candidates: &[DecodeCandidate]) -> Option<usize> {
        let fitting = candidates.iter().enumerate().filter(|(_, c)| c.fits);
        match self {
            DecodeSelection::LeastLoaded => fitting
                .min_by_key(|&(i, c)| (c.outstanding_tokens, i))
                .map(|(i, _)| i),
            DecodeSelection::KvAware => fitting
                .min_by_key(|&(i, c)| {
                    (
                        std::cmp::Reverse(c.cached_prefix_blocks),
                        c.outstanding_tokens,
                        i,
                    )
                })
                .map(|(i, _)| i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(fits: bool, cached: usize, load: u64) -> DecodeCandidate {
        DecodeCandidate {
            fits,
            cached_prefix_blocks: cached,
            outstanding_tokens: load,
        }
    }

    #[test]
    fn least_loaded_takes_the_lightest_instance_that_fits() {
        let cs = [
            c(true, 5, 300),
            c(false, 0, 10),
            c(true, 0, 200),
            c(true, 9, 200),
        ];
        assert_eq!(DecodeSelection::LeastLoaded.choose(&cs), Some(2));
    }

    #[test]
    fn kv_aware_takes_the_longest_cached_prefix_then_the_load() {
        let cs = [
            c(true, 5, 300),
            c(false, 20, 10),
            c(true, 9, 400),
            c(true, 9, 200),
        ];
        assert_eq!(DecodeSelection::KvAware.choose(&cs), Some(3));
    }

    #[test]
    fn nothing_fits_nothing_is_chosen() {
        let cs = [c(false, 5, 300), c(false, 0, 10)];
        assert_eq!(DecodeSelection::LeastLoaded.choose(&cs), None);
        assert_eq!(DecodeSelection::KvAware.choose(&cs), None);
        assert_eq!(DecodeSelection::KvAware.choose(&[]), None);
    }
}
