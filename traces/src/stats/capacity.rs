//! Cache capacities for the LRU statistics: a block count, or a percentage of the trace's unique
//! blocks.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An LRU cache size.
///
/// Text form (parse, display, serde): `"1000"` is [`Capacity::Blocks`], `"5%"` or `"0.5%"` is
/// [`Capacity::PercentOfUnique`]. Serde also accepts a bare integer for blocks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Capacity {
    /// This many blocks (≥ 1).
    Blocks(u64),
    /// This percentage (> 0, finite; above 100 allowed) of the trace's unique blocks, rounded to
    /// the nearest block (halves away from zero) and at least 1.
    PercentOfUnique(f64),
}

impl Capacity {
    /// The capacity in blocks for a trace with `unique_blocks` distinct blocks.
    pub fn resolve(&self, unique_blocks: u64) -> u64 {
        match *self {
            Capacity::Blocks(n) => n,
            Capacity::PercentOfUnique(percent) => {
                ((unique_blocks as f64 * percent / 100.0).round() as u64).max(1)
            }
        }
    }
}

/// A capacity string that is neither a positive integer nor a positive percentage.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "capacity {value:?}: {reason}; expected a block count such as \"1000\" \
     or a percentage of unique blocks such as \"5%\""
)]
pub struct CapacityParseError {
    /// The text given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl CapacityParseError {
    /// Always true: the capacity text is the user's.
    pub fn is_user_error(&self) -> bool {
        true
    }
}

impl FromStr for Capacity {
    type Err = CapacityParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |reason| CapacityParseError {
            value: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        if let Some(percent) = trimmed.strip_suffix('%') {
            let percent: f64 = percent
                .trim()
                .parse()
                .map_err(|_| error("not a number before %"))?;
            if !percent.is_finite() || percent <= 0.0 {
                return Err(error("percentage must be positive and finite"));
            }
            Ok(Capacity::PercentOfUnique(percent))
        } else {
            let blocks: u64 = trimmed
                .parse()
                .map_err(|_| error("not a non-negative integer"))?;
            if blocks == 0 {
                return Err(error("must be at least 1 block"));
            }
            Ok(Capacity::Blocks(blocks))
        }
    }
}

impl fmt::Display for Capacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capacity::Blocks(n) => write!(f, "{n}"),
            Capacity::PercentOfUnique(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for Capacity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Capacity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Blocks(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Blocks(n) => Capacity::from_str(&n.to_string()).map_err(serde::de::Error::custom),
            Raw::Text(text) => Capacity::from_str(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        assert_eq!("1000".parse(), Ok(Capacity::Blocks(1000)));
        assert_eq!(" 5% ".parse(), Ok(Capacity::PercentOfUnique(5.0)));
        assert_eq!("0.5%".parse(), Ok(Capacity::PercentOfUnique(0.5)));
        assert_eq!(Capacity::PercentOfUnique(1.0).to_string(), "1%");
        assert_eq!(Capacity::PercentOfUnique(0.5).to_string(), "0.5%");
        assert_eq!(Capacity::Blocks(7).to_string(), "7");
        for bad in ["0", "-3", "x", "%", "0%", "-1%", "nan%", "inf%", "1.5"] {
            assert!(bad.parse::<Capacity>().is_err(), "{bad}");
        }
        assert_eq!(
            "0%".parse::<Capacity>().unwrap_err().to_string(),
            "capacity \"0%\": percentage must be positive and finite; expected a block count \
             such as \"1000\" or a percentage of unique blocks such as \"5%\""
        );
    }

    #[test]
    fn resolves_against_unique_blocks() {
        // The conversation trace has 182,790 unique blocks: 1% = 1827.9 -> 1828.
        assert_eq!(Capacity::PercentOfUnique(1.0).resolve(182_790), 1828);
        assert_eq!(Capacity::PercentOfUnique(50.0).resolve(182_790), 91_395);
        assert_eq!(Capacity::PercentOfUnique(25.0).resolve(2), 1); // 0.5 rounds up
        assert_eq!(Capacity::PercentOfUnique(1.0).resolve(10), 1); // 0.1 -> at least 1
        assert_eq!(Capacity::PercentOfUnique(1.0).resolve(0), 1);
        assert_eq!(Capacity::Blocks(5).resolve(0), 5);
    }

    #[test]
    fn serde_round_trip() {
        let caps: Vec<Capacity> = serde_json::from_str(r#"["1%", "1000", 64]"#).unwrap();
        assert_eq!(
            caps,
            [
                Capacity::PercentOfUnique(1.0),
                Capacity::Blocks(1000),
                Capacity::Blocks(64)
            ]
        );
        assert_eq!(
            serde_json::to_string(&caps).unwrap(),
            r#"["1%","1000","64"]"#
        );
        assert!(serde_json::from_str::<Capacity>("0").is_err());
    }
}
