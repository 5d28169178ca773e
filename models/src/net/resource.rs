//! Shared resources with a "next free time": FIFO servers, multi-unit servers, and the packet
//! train that crosses streaming resources (links, PCIe) with per-packet cut-through.
//!
//! A message of `n` packets crossing a chain of streaming stages follows the max-plus pipeline
//! recursion: at each stage it starts when its first packet has arrived and the stage is free,
//! its first packet leaves one packet-time later, and its last packet leaves no earlier than the
//! whole message's occupancy after the start nor earlier than one last-packet time after the
//! last packet arrived. For equal packets on idle stages this is the textbook
//! `Σ tᵢ + (n − 1)·max tᵢ`; under load it is exact FIFO queueing of whole messages.

/// A message in flight between stages: when its first and its last packet are complete, ns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Train {
    /// Time the first packet is fully available at this point, ns.
    pub head_ns: f64,
    /// Time the last packet is fully available at this point, ns.
    pub tail_ns: f64,
}

impl Train {
    /// A message that exists as a whole at `t_ns` (a WR, a completion).
    pub fn at(t_ns: f64) -> Self {
        Train {
            head_ns: t_ns,
            tail_ns: t_ns,
        }
    }

    /// Both ends later by `d_ns` (a pure delay: propagation, PCIe latency).
    pub fn delayed(self, d_ns: f64) -> Self {
        Train {
            head_ns: self.head_ns + d_ns,
            tail_ns: self.tail_ns + d_ns,
        }
    }

    /// The same train shifted so that its head is at `head_ns` (no earlier than now).
    pub fn shifted_to(self, head_ns: f64) -> Self {
        let d = (head_ns - self.head_ns).max(0.0);
        self.delayed(d)
    }
}

/// How a message occupies a streaming resource: first-packet, last-packet and total times, ns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamShape {
    /// Serialisation time of the first packet.
    pub first_ns: f64,
    /// Serialisation time of the last packet.
    pub last_ns: f64,
    /// Serialisation time of the whole message.
    pub total_ns: f64,
}

impl StreamShape {
    /// `payload` bytes cut into packets of at most `mtu` bytes, each with `header` extra bytes,
    /// at `bytes_per_ns`. A zero-byte message is one header-only packet.
    pub fn packets(payload: u64, mtu: u64, header: f64, bytes_per_ns: f64) -> Self {
        let n = payload.div_ceil(mtu).max(1);
        let first = payload.min(mtu) as f64 + header;
        let last = (payload - (n - 1) * mtu.min(payload)) as f64 + header;
        let total = payload as f64 + n as f64 * header;
        StreamShape {
            first_ns: first / bytes_per_ns,
            last_ns: last / bytes_per_ns,
            total_ns: total / bytes_per_ns,
        }
    }
}

impl StreamShape {
    /// The shape on a port shared with `bulk` long transfers: under per-flow fair arbitration
    /// (round robin between queue pairs, the fluid limit of [`super::FlowNetwork`]) a message
    /// gets `1 / (bulk + 1)` of the link, so every serialisation time is `bulk + 1` times
    /// longer. `bulk = 0` is the shape itself, unchanged.
    pub fn shared(self, bulk: u32) -> Self {
        if bulk == 0 {
            return self;
        }
        let k = f64::from(bulk) + 1.0;
        StreamShape {
            first_ns: self.first_ns * k,
            last_ns: self.last_ns * k,
            total_ns: self.total_ns * k,
        }
    }
}

/// A single FIFO server: work is served in the order it is offered.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FifoServer {
    free_at_ns: f64,
}

impl FifoServer {
    /// Time the server becomes free, ns.
    pub fn free_at_ns(&self) -> f64 {
        self.free_at_ns
    }

    /// Offers work ready at `ready_ns` that holds the server for `occupancy_ns`; returns its start.
    pub fn serve(&mut self, ready_ns: f64, occupancy_ns: f64) -> f64 {
        let start = ready_ns.max(self.free_at_ns);
        self.free_at_ns = start + occupancy_ns;
        start
    }

    /// Streams a packet train through the server (see the module docs); returns the output train.
    pub fn stream(&mut self, input: Train, shape: StreamShape) -> Train {
        let start = input.head_ns.max(self.free_at_ns);
        let head = start + shape.first_ns;
        let tail = (start + shape.total_ns).max(input.tail_ns + shape.last_ns);
        self.free_at_ns = tail;
        Train {
            head_ns: head,
            tail_ns: tail,
        }
    }
}

/// `k` identical FIFO servers fed from one queue (a NIC's processing units).
#[derive(Clone, Debug, PartialEq)]
pub struct MultiServer {
    free_at_ns: Vec<f64>,
}

impl MultiServer {
    /// `units` idle servers (at least one).
    pub fn new(units: u32) -> Self {
        MultiServer {
            free_at_ns: vec![0.0; units.max(1) as usize],
        }
    }

    /// Work ready at `ready_ns` goes to the unit that frees first; returns its start.
    pub fn serve(&mut self, ready_ns: f64, occupancy_ns: f64) -> f64 {
        let (i, _) = self
            .free_at_ns
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .expect("at least one unit");
        let start = ready_ns.max(self.free_at_ns[i]);
        self.free_at_ns[i] = start + occupancy_ns;
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_of_equal_packets_is_sum_plus_bottleneck() {
        // 4 packets of 1000 B through stages of 1, 2 and 0.5 B/ns: Σt = 1000+500+2000 = 3500,
        // plus (n-1)·max t = 3·2000 = 6000 → 9500 ns.
        let mut stages = [FifoServer::default(); 3];
        let rates = [1.0, 2.0, 0.5];
        let mut t = Train::at(0.0);
        for (s, r) in stages.iter_mut().zip(rates) {
            t = s.stream(t, StreamShape::packets(4000, 1000, 0.0, r));
        }
        assert!((t.tail_ns - 9500.0).abs() < 1e-9, "{t:?}");
    }

    #[test]
    fn fifo_queues_back_to_back_work() {
        let mut s = FifoServer::default();
        assert_eq!(s.serve(0.0, 10.0), 0.0);
        assert_eq!(s.serve(5.0, 10.0), 10.0);
        assert_eq!(s.serve(30.0, 10.0), 30.0);
    }

    #[test]
    fn multi_server_runs_units_in_parallel() {
        let mut m = MultiServer::new(2);
        assert_eq!(m.serve(0.0, 10.0), 0.0);
        assert_eq!(m.serve(0.0, 10.0), 0.0);
        assert_eq!(m.serve(0.0, 10.0), 10.0);
    }

    #[test]
    fn zero_byte_message_is_one_header_packet() {
        let s = StreamShape::packets(0, 4096, 40.0, 4.0);
        assert_eq!((s.first_ns, s.last_ns, s.total_ns), (10.0, 10.0, 10.0));
        let s = StreamShape::packets(5000, 4096, 0.0, 1.0);
        assert_eq!((s.first_ns, s.last_ns, s.total_ns), (4096.0, 904.0, 5000.0));
    }
}
