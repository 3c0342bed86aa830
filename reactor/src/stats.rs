//! Counters: cheap to bump on the hot path, readable at any time as plain snapshots.

use std::cell::Cell;

/// A counter shared between a port and its transports (a `Cell`: no borrow to check).
#[derive(Debug, Default)]
pub(crate) struct Counter(Cell<u64>);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.set(self.0.get().wrapping_add(n));
    }

    #[inline]
    pub fn set(&self, value: u64) {
        self.0.set(value);
    }

    #[inline]
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// What one UDP port has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Datagrams delivered to the protocol.
    pub datagrams_in: u64,
    /// Bytes delivered to the protocol.
    pub bytes_in: u64,
    /// Datagrams handed to the kernel.
    pub datagrams_out: u64,
    /// Bytes handed to the kernel.
    pub bytes_out: u64,
    /// Datagrams dropped on send because there was no room, in the kernel (`EWOULDBLOCK`,
    /// `ENOBUFS`) or in the reactor's bounded send queue: UDP has no back-pressure, so gyre
    /// counts them instead of blocking or spinning.
    pub send_drops: u64,
    /// Datagrams longer than the port's maximum packet size: counted, logged, not delivered.
    pub truncated: u64,
    /// ICMP "port unreachable" reports (connected ports) passed to `connection_refused`.
    pub refused: u64,
    /// Receive errors other than the above.
    pub read_errors: u64,
    /// Datagrams the kernel dropped because this port's receive queue was full
    /// (`SO_RXQ_OVFL`, Linux): the reader fell behind. The kernel reports its count with the
    /// next datagram it queues after the drops, so this catches up when traffic resumes.
    pub kernel_drops: u64,
    /// System calls that sent several datagrams at once with UDP GSO (`UDP_SEGMENT`, Linux);
    /// their datagrams are counted in `datagrams_out` as usual.
    pub gso_sends: u64,
    /// ICMP errors the kernel reported about datagrams this port sent (ports listening with
    /// [`icmp_errors`](crate::udp::ListenOptions::icmp_errors) on), each passed to
    /// `icmp_error`.
    pub icmp_errors: u64,
    /// Receives that returned several datagrams the kernel coalesced into one buffer (UDP
    /// GRO, ports listening with [`gro`](crate::udp::ListenOptions::gro)); their datagrams
    /// are counted in `datagrams_in` one by one.
    pub gro_receives: u64,
}

#[derive(Debug, Default)]
pub(crate) struct PortCounters {
    pub datagrams_in: Counter,
    pub bytes_in: Counter,
    pub datagrams_out: Counter,
    pub bytes_out: Counter,
    pub send_drops: Counter,
    pub truncated: Counter,
    pub refused: Counter,
    pub read_errors: Counter,
    pub kernel_drops: Counter,
    pub gso_sends: Counter,
    pub icmp_errors: Counter,
    pub gro_receives: Counter,
}

impl PortCounters {
    /// Counts datagrams that left, and their bytes.
    #[inline]
    pub fn count_sent(&self, datagrams: u64, bytes: u64) {
        self.datagrams_out.add(datagrams);
        self.bytes_out.add(bytes);
    }

    pub fn snapshot(&self) -> PortStats {
        PortStats {
            datagrams_in: self.datagrams_in.get(),
            bytes_in: self.bytes_in.get(),
            datagrams_out: self.datagrams_out.get(),
            bytes_out: self.bytes_out.get(),
            send_drops: self.send_drops.get(),
            truncated: self.truncated.get(),
            refused: self.refused.get(),
            read_errors: self.read_errors.get(),
            kernel_drops: self.kernel_drops.get(),
            gso_sends: self.gso_sends.get(),
            icmp_errors: self.icmp_errors.get(),
            gro_receives: self.gro_receives.get(),
        }
    }
}

/// What the reactor has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReactorStats {
    /// Loop turns (`run_once` calls).
    pub turns: u64,
    /// Readiness events returned by `poll`.
    pub events: u64,
    /// Delayed calls run.
    pub timers_fired: u64,
    /// Queued calls run (`call_soon`, `call_from_thread`, results from worker threads).
    pub calls_run: u64,
    /// Ports open now.
    pub ports_open: u64,
    /// Totals over all ports, open and closed.
    pub ports: PortStats,
    /// Callbacks that failed or panicked, each logged: protocol callbacks, delayed calls,
    /// queued calls, triggers, a protocol's `Drop`, and tasks (futures) that panicked.
    pub callback_failures: u64,
}

/// The reactor's own counters: plain fields of its core.
#[derive(Debug, Default)]
pub(crate) struct ReactorCounters {
    pub turns: u64,
    pub events: u64,
    pub calls_run: u64,
    pub callback_failures: u64,
    /// Totals of ports already closed, so reactor totals survive a port's end.
    pub closed_ports: PortStats,
}

impl PortStats {
    pub(crate) fn plus(self, o: PortStats) -> PortStats {
        PortStats {
            datagrams_in: self.datagrams_in + o.datagrams_in,
            bytes_in: self.bytes_in + o.bytes_in,
            datagrams_out: self.datagrams_out + o.datagrams_out,
            bytes_out: self.bytes_out + o.bytes_out,
            send_drops: self.send_drops + o.send_drops,
            truncated: self.truncated + o.truncated,
            refused: self.refused + o.refused,
            read_errors: self.read_errors + o.read_errors,
            kernel_drops: self.kernel_drops + o.kernel_drops,
            gso_sends: self.gso_sends + o.gso_sends,
            icmp_errors: self.icmp_errors + o.icmp_errors,
            gro_receives: self.gro_receives + o.gro_receives,
        }
    }
}
