//! Kernel-TCP OS noise: the delays a received message meets between the NIC and the waiting
//! thread, each a mechanism with its own state (no random draw: the tail comes from the load
//! and the idle gaps of the workload).
//!
//! ```text
//!  packet DMA'd ─▶ interrupt (moderation timer) ─▶ softirq on the core (per packet)
//!        ─▶ wake-up: scheduler (wakeup_ns) + idle-state exit (how long the core slept)
//!        ─▶ run queue (every core of the host busy?) ─▶ recv syscall, stack, copy
//! ```
//!
//! * Interrupt moderation (`ethtool -C rx-usecs`): the NIC raises the receive interrupt
//!   `rx_usecs` after the first packet of a quiet period; packets arriving while the timer is
//!   armed share that interrupt. `adaptive` models net_dim (Linux `lib/dim`, used by mlx5 and
//!   others): the timer scales with the packet rate the host sees, from `min_usecs` at low rates
//!   to `max_usecs` at `high_rate_per_s` and above (the rate is the inverse of the last gap).
//! * Idle states: a core that idled for `d` sits in the deepest state whose target residency is
//!   at most `d` (the menu governor with a perfect prediction) and pays its exit latency.
//! * Softirq: NAPI receive processing holds the receiving core per packet.
//! * Run queue: with `cores` cores per host, a woken thread that finds every core busy waits
//!   until the first one frees, at most `run_queue_max_wait_ns` (CFS preempts the running task
//!   after its wake-up granularity).

use serde::{Deserialize, Serialize};

/// NIC receive-interrupt moderation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum InterruptModeration {
    /// An interrupt per packet, immediately.
    #[default]
    Off,
    /// Fixed `rx-usecs`.
    Fixed {
        /// Timer from the first packet to the interrupt, µs.
        rx_usecs: f64,
    },
    /// Rate-adaptive (net_dim).
    Adaptive {
        /// Timer at low packet rates, µs.
        min_usecs: f64,
        /// Timer at `high_rate_per_s` and above, µs.
        max_usecs: f64,
        /// Packet rate at which the timer reaches `max_usecs`, packets/s.
        high_rate_per_s: f64,
    },
}

impl InterruptModeration {
    /// Moderation timer for a packet arriving `gap_ns` after the previous one on the host, ns.
    pub fn timer_ns(&self, gap_ns: f64) -> f64 {
        match *self {
            InterruptModeration::Off => 0.0,
            InterruptModeration::Fixed { rx_usecs } => rx_usecs * 1e3,
            InterruptModeration::Adaptive {
                min_usecs,
                max_usecs,
                high_rate_per_s,
            } => {
                let rate = if gap_ns > 0.0 {
                    1e9 / gap_ns
                } else {
                    f64::INFINITY
                };
                let f = (rate / high_rate_per_s).clamp(0.0, 1.0);
                (min_usecs + (max_usecs - min_usecs) * f) * 1e3
            }
        }
    }
}

/// One idle state of a core.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CState {
    /// Name (`C1`, `C1E`, `C6`).
    pub name: String,
    /// Time to leave the state, ns.
    pub exit_latency_ns: f64,
    /// Shortest idle period for which the governor picks the state, ns.
    pub target_residency_ns: f64,
}

/// The OS-noise mechanisms of kernel TCP. The default is all off (the unloaded closed form).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsNoise {
    /// Receive-interrupt moderation.
    #[serde(default)]
    pub moderation: InterruptModeration,
    /// Idle states, any order (none: cores never sleep, as with `idle=poll`).
    #[serde(default)]
    pub cstates: Vec<CState>,
    /// NAPI softirq work per received packet, ns.
    #[serde(default)]
    pub softirq_ns_per_packet: f64,
    /// Cores per host running the application's threads (0: unlimited, no run-queue delay).
    #[serde(default)]
    pub cores: u32,
    /// Longest run-queue wait of a woken thread, ns (CFS wake-up preemption).
    #[serde(default = "d_rq")]
    pub run_queue_max_wait_ns: f64,
}

fn d_rq() -> f64 {
    // [S] Linux kernel/sched/fair.c: sysctl_sched_wakeup_granularity = 1 ms (before EEVDF).
    1.0e6
}

impl Default for OsNoise {
    fn default() -> Self {
        OsNoise {
            moderation: InterruptModeration::Off,
            cstates: Vec::new(),
            softirq_ns_per_packet: 0.0,
            cores: 0,
            run_queue_max_wait_ns: d_rq(),
        }
    }
}

impl OsNoise {
    /// Exit latency of the state a core enters after idling `idle_ns`, ns.
    pub fn wake_exit_ns(&self, idle_ns: f64) -> f64 {
        self.cstates
            .iter()
            .filter(|c| c.target_residency_ns <= idle_ns)
            .map(|c| c.exit_latency_ns)
            .fold(0.0, f64::max)
    }

    /// The fields by path, for validation.
    pub fn fields(&self) -> Vec<(String, f64)> {
        let mut v = vec![
            (
                "transport.os_noise.softirq_ns_per_packet".to_string(),
                self.softirq_ns_per_packet,
            ),
            (
                "transport.os_noise.run_queue_max_wait_ns".to_string(),
                self.run_queue_max_wait_ns,
            ),
        ];
        match self.moderation {
            InterruptModeration::Off => {}
            InterruptModeration::Fixed { rx_usecs } => {
                v.push(("transport.os_noise.moderation.rx_usecs".into(), rx_usecs))
            }
            InterruptModeration::Adaptive {
                min_usecs,
                max_usecs,
                high_rate_per_s,
            } => v.extend([
                ("transport.os_noise.moderation.min_usecs".into(), min_usecs),
                ("transport.os_noise.moderation.max_usecs".into(), max_usecs),
                (
                    "transport.os_noise.moderation.high_rate_per_s".into(),
                    high_rate_per_s.max(f64::MIN_POSITIVE),
                ),
            ]),
        }
        for (i, c) in self.cstates.iter().enumerate() {
            v.push((
                format!("transport.os_noise.cstates[{i}].exit_latency_ns"),
                c.exit_latency_ns,
            ));
            v.push((
                format!("transport.os_noise.cstates[{i}].target_residency_ns"),
                c.target_residency_ns,
            ));
        }
        v
    }
}

/// Per-host receive state of the moderation timer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct RxIrq {
    /// When the armed timer fires (−∞: none armed).
    fire_at_ns: Option<f64>,
    /// Arrival of the previous packet.
    last_arrival_ns: Option<f64>,
}

impl RxIrq {
    /// A message whose last packet lands in host memory at `arrival_ns`: when its interrupt runs.
    pub(super) fn interrupt_at(&mut self, m: &InterruptModeration, arrival_ns: f64) -> f64 {
        let gap = self
            .last_arrival_ns
            .map_or(f64::INFINITY, |l| (arrival_ns - l).max(0.0));
        self.last_arrival_ns = Some(arrival_ns.max(self.last_arrival_ns.unwrap_or(0.0)));
        if let Some(f) = self.fire_at_ns
            && arrival_ns <= f
        {
            return f;
        }
        let fire = arrival_ns + m.timer_ns(gap);
        self.fire_at_ns = Some(fire);
        fire
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skx() -> OsNoise {
        // Linux drivers/idle/intel_idle.c, skx_cstates (µs): C1 2/2, C1E 10/20, C6 133/600.
        OsNoise {
            cstates: vec![
                CState {
                    name: "C1".into(),
                    exit_latency_ns: 2e3,
                    target_residency_ns: 2e3,
                },
                CState {
                    name: "C1E".into(),
                    exit_latency_ns: 10e3,
                    target_residency_ns: 20e3,
                },
                CState {
                    name: "C6".into(),
                    exit_latency_ns: 133e3,
                    target_residency_ns: 600e3,
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn deeper_idle_costs_longer_exits() {
        let n = skx();
        assert_eq!(n.wake_exit_ns(1e3), 0.0);
        assert_eq!(n.wake_exit_ns(5e3), 2e3);
        assert_eq!(n.wake_exit_ns(100e3), 10e3);
        assert_eq!(n.wake_exit_ns(1e9), 133e3);
    }

    #[test]
    fn fixed_moderation_shares_one_interrupt() {
        let m = InterruptModeration::Fixed { rx_usecs: 8.0 };
        let mut irq = RxIrq::default();
        assert_eq!(irq.interrupt_at(&m, 1000.0), 9000.0);
        assert_eq!(irq.interrupt_at(&m, 5000.0), 9000.0); // timer already armed
        assert_eq!(irq.interrupt_at(&m, 20_000.0), 28_000.0);
    }

    #[test]
    fn adaptive_moderation_grows_with_rate() {
        let m = InterruptModeration::Adaptive {
            min_usecs: 1.0,
            max_usecs: 64.0,
            high_rate_per_s: 1e6,
        };
        assert!((m.timer_ns(1e9) - 1e3).abs() < 0.1); // 1 packet/s: ≈ min
        assert_eq!(m.timer_ns(1e3), 64e3); // 1 Mpps: max
    }
}
