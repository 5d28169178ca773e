//! Distributions of the synthetic workload: real-valued ([`Dist`], tokens or seconds) and counts
//! ([`CountDist`]), as serde tagged enums (`kind: log-normal`), validated, then sampled.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1, Geometric, StandardNormal};
use serde::{Deserialize, Serialize};

use super::spec::{SpecError, check};

/// A distribution of a non-negative quantity (tokens, or seconds: the field name says which).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Dist {
    /// Always `value`.
    Constant {
        /// The value (≥ 0).
        value: f64,
    },
    /// Uniform on `[min, max]`.
    Uniform {
        /// Lower bound (≥ 0).
        min: f64,
        /// Upper bound (≥ `min`).
        max: f64,
    },
    /// Log-normal with the given *linear* mean and log-space standard deviation: `exp(μ + σZ)`,
    /// `Z ~ N(0,1)`, `μ = ln(mean) − σ²/2`, so the mean is `mean` and the median
    /// `mean·exp(−σ²/2)`; `sigma` 0 is the constant `mean`.
    LogNormal {
        /// Mean (> 0).
        mean: f64,
        /// Standard deviation of the logarithm (≥ 0, at most 4).
        sigma: f64,
    },
    /// Exponential with the given mean (coefficient of variation 1).
    Exponential {
        /// Mean (> 0).
        mean: f64,
    },
}

impl Dist {
    /// Checks the parameters; `path` names this distribution in the spec.
    pub(crate) fn validate(&self, path: &str) -> Result<(), SpecError> {
        match *self {
            Dist::Constant { value } => check(
                path,
                "value",
                value,
                value >= 0.0,
                "must be finite and >= 0",
            ),
            Dist::Uniform { min, max } => {
                check(path, "min", min, min >= 0.0, "must be finite and >= 0")?;
                check(path, "max", max, max >= min, "must be finite and >= min")
            }
            Dist::LogNormal { mean, sigma } => {
                check(path, "mean", mean, mean > 0.0, "must be finite and > 0")?;
                check(
                    path,
                    "sigma",
                    sigma,
                    (0.0..=4.0).contains(&sigma),
                    "must be in [0, 4]",
                )
            }
            Dist::Exponential { mean } => {
                check(path, "mean", mean, mean > 0.0, "must be finite and > 0")
            }
        }
    }

    /// The mean of the distribution.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Constant { value } => value,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::LogNormal { mean, .. } | Dist::Exponential { mean } => mean,
        }
    }

    /// One draw (uses one or two `u64` from `rng` whatever the parameters, except `Constant`: none).
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Constant { value } => value,
            Dist::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
            Dist::LogNormal { mean, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mean.ln() - sigma * sigma / 2.0 + sigma * z).exp()
            }
            Dist::Exponential { mean } => mean * Distribution::<f64>::sample(&Exp1, rng),
        }
    }

    /// A token count: a draw rounded to the nearest integer, at least `min`.
    pub(crate) fn sample_tokens<R: Rng + ?Sized>(&self, rng: &mut R, min: u32) -> u32 {
        // `as` saturates: huge draws become u32::MAX, NaN cannot occur for validated parameters.
        (self.sample(rng).round() as u32).max(min)
    }

    /// A duration in whole nanoseconds.
    pub(crate) fn sample_ns<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        (self.sample(rng) * 1e9).round() as u64
    }
}

/// A distribution of a count that is at least 1 (turns per session, tool calls per loop).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CountDist {
    /// Always `value`.
    Constant {
        /// The count (≥ 1).
        value: u32,
    },
    /// Uniform on the integers `min..=max`.
    Uniform {
        /// Smallest count (≥ 1).
        min: u32,
        /// Largest count (≥ `min`).
        max: u32,
    },
    /// `1 + Geometric(p)` with `p = 1/mean`: `P(k) = (1−p)^(k−1) p` for `k ≥ 1`, so the mean is
    /// `mean` (memoryless: after each turn the session continues with probability `1 − p`).
    Geometric {
        /// Mean count (≥ 1, at most 10⁶).
        mean: f64,
    },
}

impl CountDist {
    /// Checks the parameters; `path` names this distribution in the spec.
    pub(crate) fn validate(&self, path: &str) -> Result<(), SpecError> {
        match *self {
            CountDist::Constant { value } => {
                check(path, "value", value, value >= 1, "must be >= 1")
            }
            CountDist::Uniform { min, max } => {
                check(path, "min", min, min >= 1, "must be >= 1")?;
                check(path, "max", max, max >= min, "must be >= min")
            }
            CountDist::Geometric { mean } => check(
                path,
                "mean",
                mean,
                (1.0..=1e6).contains(&mean),
                "must be in [1, 1e6]",
            ),
        }
    }

    /// The exact mean.
    pub fn mean(&self) -> f64 {
        match *self {
            CountDist::Constant { value } => f64::from(value),
            CountDist::Uniform { min, max } => (f64::from(min) + f64::from(max)) / 2.0,
            CountDist::Geometric { mean } => mean,
        }
    }

    /// One draw.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        match *self {
            CountDist::Constant { value } => value,
            CountDist::Uniform { min, max } => rng.random_range(min..=max),
            CountDist::Geometric { mean } => match Geometric::new(1.0 / mean) {
                Ok(geometric) => u32::try_from(geometric.sample(rng))
                    .unwrap_or(u32::MAX)
                    .saturating_add(1),
                Err(_) => 1, // unreachable for validated means
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_pcg::Pcg64;

    fn rng() -> Pcg64 {
        Pcg64::new(7, 11)
    }

    fn mean_of(n: usize, mut draw: impl FnMut() -> f64) -> f64 {
        (0..n).map(|_| draw()).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_declared_means() {
        // 200k draws: standard error of the mean <= sigma_rel * mean / 447; tolerance 2%.
        const TOLERANCE: f64 = 0.02;
        let mut r = rng();
        for dist in [
            Dist::Constant { value: 3.0 },
            Dist::Uniform {
                min: 10.0,
                max: 30.0,
            },
            Dist::LogNormal {
                mean: 250.0,
                sigma: 1.0,
            },
            Dist::Exponential { mean: 45.0 },
        ] {
            let m = mean_of(200_000, || dist.sample(&mut r));
            assert!((m / dist.mean() - 1.0).abs() < TOLERANCE, "{dist:?}: {m}");
        }
        for dist in [
            CountDist::Constant { value: 3 },
            CountDist::Uniform { min: 1, max: 6 },
            CountDist::Geometric { mean: 4.0 },
            CountDist::Geometric { mean: 1.0 },
        ] {
            let m = mean_of(200_000, || f64::from(dist.sample(&mut r)));
            assert!((m / dist.mean() - 1.0).abs() < TOLERANCE, "{dist:?}: {m}");
        }
    }

    #[test]
    fn tokens_round_and_clamp() {
        let mut r = rng();
        assert_eq!(Dist::Constant { value: 0.4 }.sample_tokens(&mut r, 1), 1);
        assert_eq!(Dist::Constant { value: 2.5 }.sample_tokens(&mut r, 0), 3);
        assert_eq!(
            Dist::Constant { value: 1e12 }.sample_tokens(&mut r, 0),
            u32::MAX
        );
        assert_eq!(
            Dist::Constant { value: 1.5 }.sample_ns(&mut r),
            1_500_000_000
        );
        assert!((0..1000).all(|_| CountDist::Geometric { mean: 2.0 }.sample(&mut r) >= 1));
    }

    #[test]
    fn validation_names_field_and_value() {
        let e = Dist::LogNormal {
            mean: f64::NAN,
            sigma: 1.0,
        }
        .validate("sessions.user_tokens")
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`sessions.user_tokens.mean` = NaN: must be finite and > 0"
        );
        let e = Dist::Uniform { min: 5.0, max: 1.0 }
            .validate("x")
            .unwrap_err();
        assert_eq!(e.to_string(), "`x.max` = 1: must be finite and >= min");
        let e = CountDist::Constant { value: 0 }
            .validate("sessions.turns")
            .unwrap_err();
        assert_eq!(e.to_string(), "`sessions.turns.value` = 0: must be >= 1");
        assert!(
            Dist::Exponential {
                mean: f64::INFINITY
            }
            .validate("x")
            .is_err()
        );
        assert!(Dist::Constant { value: -1.0 }.validate("x").is_err());
        assert!(CountDist::Geometric { mean: 0.5 }.validate("x").is_err());
    }
}
