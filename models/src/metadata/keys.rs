//! How a KV block becomes a key of the metadata store, and so where it sits in a tree.
//!
//! The paper keys blocks by their 32-byte SHA-256 and issues a *range query* for every run of
//! consecutive block ids. Sherman and CHIME store 8-byte keys (DM §1, §2), and a range over
//! SHA-256 values would not return the run's blocks; so the setup implies that the trees were
//! keyed by the trace's integer block ids, which the Mooncake release allocates in first-seen
//! order. That is [`KeyOrder::BlockId`], the default: the blocks a request creates get
//! consecutive ids, hence adjacent keys, hence the same or neighbouring leaves.
//!
//! * [`KeyOrder::BlockId`]: key = block id.
//! * [`KeyOrder::Hashed`]: key = [`mix64`]`(block id)`, a fixed 64-bit mix standing in for a
//!   cryptographic hash: contiguous blocks are scattered over the whole tree, and a "range"
//!   over a run touches one leaf per block.
//! * [`KeyOrder::PrefixPosition`]: key = (prefix root, position): the first time a request
//!   references blocks never seen before, it opens a new root (a counter); each such block's
//!   key is `root << 20 | position in the request`. Blocks of one prompt are adjacent even
//!   when the trace's ids are not allocated in order (any hash-keyed trace).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Key;

/// How block ids map to keys (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyOrder {
    /// Key = the trace's block id (what the paper's setup implies).
    #[default]
    BlockId,
    /// Key = a 64-bit mix of the block id (SHA-256-like scattering).
    Hashed,
    /// Key = (prefix root, position in the request).
    PrefixPosition,
}

impl KeyOrder {
    /// True when a run of consecutive blocks is a contiguous key interval.
    pub fn runs_are_contiguous(self) -> bool {
        !matches!(self, KeyOrder::Hashed)
    }
}

/// SplitMix64's finaliser (Steele, Lea, Flood, OOPSLA 2014): a fixed bijective 64-bit mix.
pub fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Bits of a [`KeyOrder::PrefixPosition`] key that hold the position.
const POSITION_BITS: u32 = 20;

/// Maps block ids to keys under one [`KeyOrder`], remembering assignments where the order
/// needs them.
#[derive(Clone, Debug, Default)]
pub struct KeyMapper {
    order: KeyOrder,
    assigned: HashMap<u64, Key>,
    next_root: u64,
}

impl KeyMapper {
    /// A mapper for `order`.
    pub fn new(order: KeyOrder) -> Self {
        KeyMapper {
            order,
            assigned: HashMap::new(),
            next_root: 0,
        }
    }

    /// The order.
    pub fn order(&self) -> KeyOrder {
        self.order
    }

    /// Keys of a request's `blocks` (prompt order); assigns keys to blocks seen first here.
    pub fn keys_of_request(&mut self, blocks: &[u64]) -> Vec<Key> {
        match self.order {
            KeyOrder::BlockId => blocks.to_vec(),
            KeyOrder::Hashed => blocks.iter().map(|&b| mix64(b)).collect(),
            KeyOrder::PrefixPosition => {
                let mut root = None;
                let mut out = Vec::with_capacity(blocks.len());
                for (pos, &b) in blocks.iter().enumerate() {
                    let key = match self.assigned.get(&b) {
                        Some(&k) => k,
                        None => {
                            let r = *root.get_or_insert_with(|| {
                                self.next_root += 1;
                                self.next_root
                            });
                            let pos = (pos as u64).min((1 << POSITION_BITS) - 1);
                            let k = (r << POSITION_BITS) | pos;
                            self.assigned.insert(b, k);
                            k
                        }
                    };
                    out.push(key);
                }
                out
            }
        }
    }

    /// The key of an already-seen block (evictions), if known.
    pub fn key_of(&self, block: u64) -> Option<Key> {
        match self.order {
            KeyOrder::BlockId => Some(block),
            KeyOrder::Hashed => Some(mix64(block)),
            KeyOrder::PrefixPosition => self.assigned.get(&block).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_position_keeps_a_prompt_adjacent_and_reuses_keys() {
        let mut m = KeyMapper::new(KeyOrder::PrefixPosition);
        let a = m.keys_of_request(&[0, 900, 17]);
        assert_eq!(a, vec![1 << 20, (1 << 20) | 1, (1 << 20) | 2]);
        // A later request sharing block 0 and 900 keeps their keys; its new block opens root 2.
        let b = m.keys_of_request(&[0, 900, 5]);
        assert_eq!(b, vec![1 << 20, (1 << 20) | 1, (2 << 20) | 2]);
        assert_eq!(m.key_of(5), Some((2 << 20) | 2));
    }

    #[test]
    fn hashed_keys_scatter_neighbours() {
        let mut m = KeyMapper::new(KeyOrder::Hashed);
        let k = m.keys_of_request(&[10, 11]);
        assert!(k[0].abs_diff(k[1]) > 1 << 40);
        assert_eq!(mix64(10), k[0]);
    }
}
