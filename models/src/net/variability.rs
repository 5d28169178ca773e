//! Per-stage service-time variability of the RDMA path, and the random source that draws it.
//!
//! ```text
//!  traversal of a stage = deterministic base (the closed form)
//!                       + body  ~ Exp(mean = body_mean_ns)                      (every traversal)
//!                       + tail  ~ Pareto(scale = tail_min_ns, shape = tail_shape) with prob. tail_prob
//! ```
//!
//! Stages and where a traversal is drawn ([`Stage`]): `host` at each post call (the posting CPU
//! is held: an interruption of the posting thread delays everything behind it) and at each
//! completion or payload noticed by a polling CPU; `pcie` at each PCIe transaction latency
//! (doorbell, DMA read round trip, delivery, CQE); `nic` at each NIC pipeline traversal; `switch`
//! at each switch hop; `recv` at each RECV an incoming SEND consumes (the responder NIC fetches
//! the RECV WQE and the receiver polls its receive CQ: perftest's SEND p99 is 0.4 µs wider
//! than WRITE's on the same host, ConnectX-3 rows). The body is the small, always-present spread (cache misses, PCIe credit
//! waits: perftest's `t_typical − t_min` of 0.05–0.2 µs); the tail is the rare, long delay of
//! an interruption of a polling core (timer tick, an interrupt, SMI: perftest's 99.9 %
//! percentile 5–10 µs above the median while the 99 % one is within 0.2 µs, ConnectX-3 rows of
//! `../shared/calibration/perftest_outputs_parsed.csv`). A Pareto tail is the usual shape of OS
//! noise durations (Hoefler et al., "Characterizing the Influence of System Noise on
//! Large-Scale Applications by Simulation", SC 2010, model noise as heavy-tailed detours).
//!
//! [`Noise`] owns the generator: the caller hands it a named stream of the run (deterministic
//! for a seed). A profile with `jitter: none` draws nothing and every time equals the closed form.

use rand::RngExt;
use rand_distr::{Distribution, Exp1, Pareto};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

/// The distribution of one stage's extra delay per traversal (all zero: no variability).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageNoise {
    /// Mean of the exponential body, ns.
    #[serde(default)]
    pub body_mean_ns: f64,
    /// Probability that a traversal also takes a tail delay (dimensionless, 0–1).
    #[serde(default)]
    pub tail_prob: f64,
    /// Smallest tail delay (Pareto scale), ns.
    #[serde(default)]
    pub tail_min_ns: f64,
    /// Pareto shape α of the tail (> 1 keeps the mean finite: α/(α−1) · tail_min_ns).
    #[serde(default = "d_shape")]
    pub tail_shape: f64,
}

fn d_shape() -> f64 {
    2.0
}

impl Default for StageNoise {
    fn default() -> Self {
        StageNoise {
            body_mean_ns: 0.0,
            tail_prob: 0.0,
            tail_min_ns: 0.0,
            tail_shape: d_shape(),
        }
    }
}

impl StageNoise {
    /// True if every draw is zero.
    pub fn is_zero(&self) -> bool {
        self.body_mean_ns <= 0.0 && (self.tail_prob <= 0.0 || self.tail_min_ns <= 0.0)
    }

    /// Mean extra delay per traversal, ns.
    pub fn mean_ns(&self) -> f64 {
        let tail = if self.tail_shape > 1.0 {
            self.tail_min_ns * self.tail_shape / (self.tail_shape - 1.0)
        } else {
            f64::INFINITY
        };
        self.body_mean_ns
            + if self.tail_prob > 0.0 {
                self.tail_prob * tail
            } else {
                0.0
            }
    }

    /// One draw, ns.
    pub fn sample(&self, rng: &mut Pcg64) -> f64 {
        let mut x = 0.0;
        if self.body_mean_ns > 0.0 {
            let e: f64 = Exp1.sample(rng);
            x += e * self.body_mean_ns;
        }
        if self.tail_prob > 0.0 && self.tail_min_ns > 0.0 && rng.random::<f64>() < self.tail_prob {
            x += Pareto::new(self.tail_min_ns, self.tail_shape)
                .expect("validated shape")
                .sample(rng);
        }
        x
    }

    /// The fields by path under `prefix`, for validation and reports.
    pub fn fields(&self, prefix: &'static str) -> [(String, f64); 4] {
        [
            (format!("{prefix}.body_mean_ns"), self.body_mean_ns),
            (format!("{prefix}.tail_prob"), self.tail_prob),
            (format!("{prefix}.tail_min_ns"), self.tail_min_ns),
            (format!("{prefix}.tail_shape"), self.tail_shape),
        ]
    }
}

/// A stage of the path that has its own variability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// A host CPU posting or noticing a completion.
    Host,
    /// One PCIe transaction latency.
    Pcie,
    /// One NIC pipeline traversal.
    Nic,
    /// One switch hop.
    Switch,
    /// The responder consuming a RECV for an incoming SEND (WQE fetch, receive CQ).
    Recv,
}

/// Per-stage variability of a profile (`jitter: {kind: stages, ...}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageJitter {
    /// Host post and poll.
    #[serde(default)]
    pub host: StageNoise,
    /// PCIe transactions.
    #[serde(default)]
    pub pcie: StageNoise,
    /// NIC pipeline.
    #[serde(default)]
    pub nic: StageNoise,
    /// Switch hops.
    #[serde(default)]
    pub switch: StageNoise,
    /// RECV consumption of an incoming SEND (only SEND exercises it).
    #[serde(default)]
    pub recv: StageNoise,
}

impl StageJitter {
    /// The stage's distribution.
    pub fn stage(&self, s: Stage) -> &StageNoise {
        match s {
            Stage::Host => &self.host,
            Stage::Pcie => &self.pcie,
            Stage::Nic => &self.nic,
            Stage::Switch => &self.switch,
            Stage::Recv => &self.recv,
        }
    }

    /// True if the stage of field path `field` (`jitter.<stage>.…`) has a tail.
    pub fn has_tail(&self, field: &str) -> bool {
        let s = match field.split('.').nth(1) {
            Some("host") => &self.host,
            Some("pcie") => &self.pcie,
            Some("nic") => &self.nic,
            Some("switch") => &self.switch,
            Some("recv") => &self.recv,
            _ => return true,
        };
        s.tail_prob > 0.0
    }

    /// Every field by path (`jitter.host.tail_prob`, ...).
    pub fn fields(&self) -> Vec<(String, f64)> {
        let mut v = Vec::new();
        for (name, s) in [
            ("jitter.host", &self.host),
            ("jitter.pcie", &self.pcie),
            ("jitter.nic", &self.nic),
            ("jitter.switch", &self.switch),
            ("jitter.recv", &self.recv),
        ] {
            v.extend(s.fields(name));
        }
        v
    }
}

/// The random source of a [`NetworkModel`](super::NetworkModel): the stage distributions and
/// the generator of one named stream.
#[derive(Clone, Debug)]
pub struct Noise {
    stages: StageJitter,
    rng: Pcg64,
}

impl Noise {
    /// Draws `stages` from `rng`.
    pub fn new(stages: StageJitter, rng: Pcg64) -> Self {
        Noise { stages, rng }
    }

    /// One traversal of `stage`, ns.
    pub fn draw(&mut self, stage: Stage) -> f64 {
        let s = *self.stages.stage(stage);
        if s.is_zero() {
            return 0.0;
        }
        s.sample(&mut self.rng)
    }

    /// The generator (other mechanisms of the model draw from the same stream).
    pub fn rng(&mut self) -> &mut Pcg64 {
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sample_mean_matches_the_formula() {
        // body 100 ns + 1 % × Pareto(2000, 3) of mean 3000 → 130 ns.
        let s = StageNoise {
            body_mean_ns: 100.0,
            tail_prob: 0.01,
            tail_min_ns: 2000.0,
            tail_shape: 3.0,
        };
        assert!((s.mean_ns() - 130.0).abs() < 1e-9);
        let mut rng = Pcg64::seed_from_u64(3);
        let n = 400_000;
        let m = (0..n).map(|_| s.sample(&mut rng)).sum::<f64>() / f64::from(n);
        assert!((m - 130.0).abs() < 0.03 * 130.0, "{m}");
    }

    #[test]
    fn zero_stage_draws_zero() {
        let mut n = Noise::new(StageJitter::default(), Pcg64::seed_from_u64(1));
        assert_eq!(n.draw(Stage::Host), 0.0);
    }
}
