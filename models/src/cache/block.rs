//! [`BlockId`] and a fast, deterministic hash map keyed by it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

/// A KV block, named by the trace's prefix-chained block hash: the hash of a block covers its
/// own tokens and every token before it, so equal ids mean identical whole prefixes, and a
/// block is only useful if all blocks before it in its chain are present too.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct BlockId(pub u64);

/// A hash map keyed by [`BlockId`], with [`BlockHasher`]: deterministic (no random seed, so
/// runs are reproducible even if someone iterates it) and cheap.
pub type BlockMap<V> = HashMap<BlockId, V, BuildHasherDefault<BlockHasher>>;

/// Multiplicative (Fx-style, as in rustc's `FxHasher`) hasher for `u64` keys. Block ids from
/// traces are often small sequential integers (Mooncake's `hash_ids`), which an identity hash
/// would pile into a few buckets; multiplying by an odd constant spreads them over all bits.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockHasher(u64);

/// 2^64 / golden ratio, odd: the multiplier of Fibonacci hashing (Knuth, TAOCP vol. 3, §6.4).
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for BlockHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(MULTIPLIER);
    }

    fn finish(&self) -> u64 {
        // Fold the well-mixed high bits into the low bits the table indexes by.
        self.0 ^ (self.0 >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn sequential_ids_spread_over_buckets() {
        let build = BuildHasherDefault::<BlockHasher>::default();
        let mut buckets = [0u32; 64];
        for i in 0..6400u64 {
            buckets[(build.hash_one(BlockId(i)) % 64) as usize] += 1;
        }
        let (min, max) = (buckets.iter().min().unwrap(), buckets.iter().max().unwrap());
        assert!(*min > 50 && *max < 150, "min {min}, max {max}");
    }
}
