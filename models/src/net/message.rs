//! Two-sided messages for RPC-style services (Redis over kernel TCP, RPCs over RDMA SEND), on
//! top of the verbs paths of [`NetworkModel`].
//!
//! ```text
//!  client thread ──send_message──▶ (wire) ──receive_message──▶ server application
//!       ▲                                                         │ (its CPU work is the
//!       └──receive_message(app thread) ◀── (wire) ◀──send_message─┘  caller's model)
//! ```
//!
//! An RPC is two messages. The sender's side is [`NetworkModel::send_message`]: the sending
//! thread's CPU pays the post (RDMA: `post_ns`; TCP: `syscall + stack + copy`), then the
//! requester NIC and the wire. The receiver's side is [`NetworkModel::receive_message`]: RDMA
//! delivers into a posted RECV (NIC, RECV WQE, DMA write, poll); kernel TCP pays the NIC, the
//! DMA write, the interrupt wake-up and the receive path (stack, `recv` syscall, copy). With
//! `app_thread = Some(t)` that receive path occupies CPU thread `t` (a client blocked in
//! `recv`); with `None` it is pure latency, for servers whose application thread the caller
//! models itself (Redis's event loop, whose per-request cost already counts its syscalls).

use super::model::{HostId, NetworkModel, Verb, VerbOp};
use super::resource::Train;

impl NetworkModel {
    /// CPU thread `thread` of `host` does `work_ns` of work ready at `ready_ns` (FIFO behind the
    /// thread's earlier work); returns when it ends, ns.
    pub fn cpu_work(&mut self, ready_ns: f64, host: HostId, thread: u32, work_ns: f64) -> f64 {
        let start = self.cpu_mut(host, thread).serve(ready_ns, work_ns);
        start + work_ns
    }

    /// Sender side of a two-sided message `op` (its verb must be [`Verb::Send`]) posted at
    /// `now_ns` by CPU thread `thread` of `op.requester`. Returns the message as it reaches the
    /// receiver's side; hand it to [`receive_message`](Self::receive_message) at its head time.
    pub fn send_message(&mut self, now_ns: f64, op: &VerbOp, thread: u32) -> Train {
        debug_assert_eq!(op.verb, Verb::Send, "two-sided messages are SENDs");
        let at_nic = self.post_on(now_ns, op.requester, thread, std::slice::from_ref(op));
        self.request(at_nic, op)
    }

    /// Receiver side of message `op` arriving as `arriving`: returns when the receiving
    /// application has the payload, ns. See the module docs for `app_thread`.
    pub fn receive_message(
        &mut self,
        arriving: Train,
        op: &VerbOp,
        app_thread: Option<u32>,
    ) -> f64 {
        let Some(t_p) = self.tcp().cloned() else {
            let r = self.respond(arriving, op);
            return r.delivered_ns.expect("a SEND is delivered");
        };
        let p = &self.profile;
        let bytes = Self::request_payload(op);
        let (wire, pcie) = (self.wire(bytes), self.pcie(bytes));
        let (hops, nic_lat, pcie_lat) = (p.switch.hops, p.nic.latency_ns, p.pcie.latency_ns);
        let svc = self.unit_service_ns;
        let packets = self.packets(bytes);
        let me = app_thread.unwrap_or(0);
        self.cpu_mut(op.responder, me);
        let s = &mut self.hosts[op.responder.0 as usize];
        let mut t = arriving;
        if hops > 0 {
            t = s.ingress.stream(t, wire.shared(s.bulk_ingress));
        }
        let start = s.nic_units.serve(t.head_ns, svc);
        t = s.dma_write.stream(t.shifted_to(start + nic_lat), pcie);
        // Without an application thread the receiving core is the host's thread 0 (the softirq
        // core); its idleness decides the idle state it wakes from.
        let ready = Self::tcp_wake(s, &t_p, t.tail_ns + pcie_lat, packets, me as usize);
        let cost = t_p.stack_ns + t_p.syscall_ns + t_p.copy_ns_per_byte * bytes as f64;
        match app_thread {
            Some(thread) => self.cpu_work(ready, op.responder, thread, cost),
            None => ready + cost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::profile::{NetworkProfile, TcpParams, Transport};
    use super::*;

    fn tcp() -> NetworkProfile {
        NetworkProfile {
            transport: Transport::TcpKernel(TcpParams::default()),
            ..Default::default()
        }
    }

    #[test]
    fn rdma_message_matches_the_send_path() {
        // A message is a SEND: same delivery time as the verbs path computes.
        let p = NetworkProfile::default();
        let op = VerbOp::new(Verb::Send, HostId(0), HostId(1), 64);
        let idle = NetworkModel::idle_timing(&p, &op);
        let mut net = NetworkModel::new(p, 2);
        net.warm_qp(HostId(0), op.qp);
        let t = net.send_message(0.0, &op, 0);
        let d = net.receive_message(t, &op, None);
        assert!((d - idle.delivered_ns.unwrap()).abs() < 1e-9);
    }

    #[test]
    fn tcp_receive_charges_the_app_thread_only_when_asked() {
        // Two messages arriving together: the blocked application thread serialises their
        // receive paths (stack + syscall + copy each); as pure latency they overlap.
        let p = tcp();
        let t_p = TcpParams::default();
        let op = VerbOp::new(Verb::Send, HostId(0), HostId(1), 0);
        let mut net = NetworkModel::new(p.clone(), 2);
        let arr = Train::at(1000.0);
        let a = net.receive_message(arr, &op, Some(3));
        let b = net.receive_message(arr, &op, Some(3));
        assert!(
            (b - a - (t_p.stack_ns + t_p.syscall_ns)).abs() < 1.0,
            "{a} {b}"
        );
        let mut net = NetworkModel::new(p, 2);
        let a = net.receive_message(arr, &op, None);
        let b = net.receive_message(arr, &op, None);
        // Only the NIC/DMA stages queue (tens of ns).
        assert!(b - a < 100.0, "{a} {b}");
    }

    #[test]
    fn threads_post_in_parallel() {
        let p = NetworkProfile::default();
        let op = VerbOp::new(Verb::Read, HostId(0), HostId(1), 8);
        let mut net = NetworkModel::new(p.clone(), 2);
        let a = net.post_on(0.0, HostId(0), 0, &[op]);
        let b = net.post_on(0.0, HostId(0), 1, &[op]);
        let c = net.post_on(0.0, HostId(0), 1, &[op]);
        assert_eq!(a, b);
        assert!((c - b - p.host.post_ns).abs() < 1e-9);
    }
}
