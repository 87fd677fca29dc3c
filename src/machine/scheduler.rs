//! Running the machine: vCPUs round-robin on one host thread in fixed
//! instruction quanta, devices and timers driven by virtual time, interrupt
//! messages delivered between slices. The same input always gives the same
//! interleaving, the same output and the same instruction count.

use super::clock::NS_PER_INSN;
use super::device::ExitRequest;
use super::interrupts;
use super::pc::Machine;
use crate::interp::RunExit;

/// Instructions a vCPU runs before the next one gets its turn.
pub const QUANTUM: u64 = 10_000;

/// When to stop a run that the guest does not end.
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    pub max_insns: Option<u64>,
    /// Virtual-time limit in nanoseconds.
    pub timeout_ns: Option<u64>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The guest wrote `code` to the isa-debug-exit port.
    DebugExit(u32),
    /// The guest powered off (ACPI S5, "Shutdown" port).
    PowerOff,
    /// The guest requested a system reset.
    Reset,
    /// A vCPU triple-faulted (shutdown state).
    TripleFault { vcpu: u32 },
    /// `--max-insns` instructions retired.
    InsnLimit,
    /// The virtual-time limit passed.
    Timeout,
    /// Every vCPU is halted and nothing can wake one.
    Hang,
    /// The execution backend could not go on (KVM: internal error, failed
    /// VM entry); `reason` is one line.
    Failed { vcpu: u32, reason: String },
}

impl Outcome {
    /// Process exit status, as QEMU with isa-debug-exit reports it
    /// (`(code << 1) | 1`), and 0 / 124 / 125 / 126 for the other endings.
    pub fn exit_status(&self) -> i32 {
        match self {
            Outcome::DebugExit(v) => ((v << 1) | 1) as i32 & 0xFF,
            Outcome::PowerOff | Outcome::Reset => 0,
            Outcome::InsnLimit | Outcome::Timeout | Outcome::Hang => 124,
            Outcome::TripleFault { .. } => 125,
            Outcome::Failed { .. } => 126,
        }
    }

    /// One line describing the ending, for stderr.
    pub fn describe(&self) -> String {
        match self {
            Outcome::DebugExit(v) => {
                format!("guest exited with code {v} (status {})", self.exit_status())
            }
            Outcome::PowerOff => "guest powered off".into(),
            Outcome::Reset => "guest requested a system reset".into(),
            Outcome::TripleFault { vcpu } => format!("vCPU {vcpu} triple-faulted (shutdown)"),
            Outcome::InsnLimit => "instruction limit reached (--max-insns)".into(),
            Outcome::Timeout => "timeout: virtual-time limit reached (--timeout)".into(),
            Outcome::Hang => "hang: every vCPU is halted and nothing can wake one".into(),
            Outcome::Failed { vcpu, reason } => format!("vCPU {vcpu}: backend failure: {reason}"),
        }
    }
}

impl Machine {
    /// Delivers queued interrupt messages to the local APICs.
    fn deliver_messages(&mut self) {
        while !self.board.messages.is_empty() {
            let msgs = std::mem::take(&mut self.board.messages);
            let vm = self.vm.clone();
            for m in &msgs {
                interrupts::deliver_message(&mut self.vcpus, vm.model(), m);
            }
        }
    }

    /// Moves bytes typed on an interactive terminal into the UART. (Input
    /// from a terminal arrives at host-determined times, so such runs are
    /// not reproducible; file input is fed at time 0 instead.)
    fn poll_serial_input(&mut self) {
        let Some(rx) = &self.serial_rx else { return };
        let bytes: Vec<u8> = rx.try_iter().collect();
        if !bytes.is_empty() {
            self.board.serial_input(&bytes);
        }
    }

    /// Re-derives the APIC timer deadlines of vCPUs that changed them.
    fn refresh_timers(&mut self) {
        let vm = self.vm.clone();
        for (v, d) in self.vcpus.iter_mut().zip(self.apic_deadlines.iter_mut()) {
            if v.cpu.timer_dirty {
                interrupts::refresh_timer(v, vm.model(), self.now, d);
            }
        }
    }

    /// Fires device timers and local APIC timers that are due.
    fn fire_timers(&mut self) {
        self.board.fire_timers(self.now);
        let vm = self.vm.clone();
        for (v, d) in self.vcpus.iter_mut().zip(self.apic_deadlines.iter_mut()) {
            if d.is_some_and(|t| t <= self.now) {
                interrupts::fire_timer(v, vm.model(), self.now, d);
            }
        }
    }

    /// The earliest virtual time at which a timer needs attention.
    fn next_deadline(&self) -> Option<u64> {
        let apic = self.apic_deadlines.iter().flatten().copied().min();
        match (self.board.next_deadline(), apic) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs until the guest ends the run or a limit is reached.
    pub fn run(&mut self, limits: &Limits) -> Outcome {
        let n = self.vcpus.len();
        loop {
            self.poll_serial_input();
            self.deliver_messages();
            if let Some(req) = self.board.requests.exit.take() {
                return match req {
                    ExitRequest::DebugExit(v) => Outcome::DebugExit(v),
                    ExitRequest::PowerOff => Outcome::PowerOff,
                    ExitRequest::Reset => Outcome::Reset,
                };
            }
            self.refresh_timers();
            self.fire_timers();
            self.deliver_messages();
            if limits.max_insns.is_some_and(|m| self.retired >= m) {
                return Outcome::InsnLimit;
            }
            if limits.timeout_ns.is_some_and(|t| self.now >= t) {
                return Outcome::Timeout;
            }
            let deadline = match (self.next_deadline(), limits.timeout_ns) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut progressed = false;
            for k in 0..n {
                let i = (self.rr + k) % n;
                let mut budget = QUANTUM;
                if let Some(d) = deadline {
                    budget = budget.min(d.saturating_sub(self.now).div_ceil(NS_PER_INSN).max(1));
                }
                if let Some(m) = limits.max_insns {
                    budget = budget.min(m.saturating_sub(self.retired));
                }
                if budget == 0 {
                    break;
                }
                let interp = &mut self.vcpus[i];
                interp.cpu.begin_slice(self.now, deadline);
                let before = interp.cpu.icount;
                let r = interp.run(&mut self.board, budget);
                let delta = interp.cpu.icount - before;
                self.now = interp.cpu.now();
                self.retired += delta;
                progressed |= delta > 0;
                if r == RunExit::Shutdown {
                    return Outcome::TripleFault { vcpu: i as u32 };
                }
                if self.vcpus[i].cpu.timer_dirty {
                    let vm = self.vm.clone();
                    interrupts::refresh_timer(
                        &mut self.vcpus[i],
                        vm.model(),
                        self.now,
                        &mut self.apic_deadlines[i],
                    );
                }
                if self.board.requests.exit.is_some() {
                    break;
                }
                if !self.board.messages.is_empty() {
                    self.deliver_messages();
                }
                if deadline.is_some_and(|d| self.now >= d) {
                    break;
                }
            }
            self.rr = (self.rr + 1) % n;
            if !progressed && self.board.requests.exit.is_none() && self.board.messages.is_empty() {
                // Everyone is halted: skip to the next timer.
                match deadline {
                    Some(d) if d > self.now => self.now = d,
                    Some(_) => {}
                    None => return Outcome::Hang,
                }
            }
        }
    }
}
