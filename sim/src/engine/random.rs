//! Named, independent random streams derived from one master seed.
//!
//! Every consumer asks for its own stream by a stable name (`"arrivals"`, `"router"`,
//! `"instance/3/jitter"`). The stream is a PCG-XSL-RR 128/64 generator (`rand_pcg::Pcg64`,
//! portable and specified, unlike `StdRng`) whose *state* comes from the master seed and whose
//! *stream selector* (PCG's increment) comes from a 64-bit FNV-1a hash of the name. Adding a
//! new consumer therefore never shifts the draws of another, and the same (seed, name) gives the
//! same sequence on every platform and every kvcsim build.

use rand_pcg::Pcg64;

/// The generator every stream uses.
pub type StreamRng = Pcg64;

/// Factory of named streams for one run. Holds only the seed: no global state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomStreams {
    seed: u64,
}

impl RandomStreams {
    /// Streams for master seed `seed`.
    pub fn new(seed: u64) -> Self {
        RandomStreams { seed }
    }

    /// The master seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream named `name`.
    pub fn stream(&self, name: &str) -> StreamRng {
        // State: the seed expanded through SplitMix64 so nearby seeds give distant states.
        let mut x = self.seed;
        let hi = splitmix64(&mut x);
        let lo = splitmix64(&mut x);
        let state = (u128::from(hi) << 64) | u128::from(lo);
        let stream = u128::from(fnv1a64(name.as_bytes()));
        Pcg64::new(state, stream)
    }
}

/// FNV-1a, 64-bit (Fowler, Noll, Vo; IETF draft-eastlake-fnv): stable across Rust releases,
/// unlike `std::hash::DefaultHasher`.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64 step (Steele, Lea, Flood, OOPSLA 2014), the usual seed expander.
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn first(rng: &mut StreamRng, n: usize) -> Vec<u64> {
        (0..n).map(|_| rng.next_u64()).collect()
    }

    #[test]
    fn same_seed_and_name_give_same_sequence() {
        let s = RandomStreams::new(42);
        assert_eq!(
            first(&mut s.stream("arrivals"), 8),
            first(&mut s.stream("arrivals"), 8)
        );
    }

    #[test]
    fn names_and_seeds_give_different_sequences() {
        let a = first(&mut RandomStreams::new(42).stream("arrivals"), 4);
        let b = first(&mut RandomStreams::new(42).stream("lengths"), 4);
        let c = first(&mut RandomStreams::new(43).stream("arrivals"), 4);
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn sequence_is_pinned_across_builds() {
        // Golden values: if this changes, every recorded result of every user changes. Recorded
        // from rand_pcg 0.10 (the stream of seed 1, name "golden") when the test compared the
        // stream with itself and so could never fail (issue 13).
        let v = first(&mut RandomStreams::new(1).stream("golden"), 2);
        assert_eq!(v, [1_715_626_204_670_472_301, 5_006_008_501_659_619_180]);
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
