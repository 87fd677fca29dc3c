//! Running the machine on KVM.
//!
//! **One host thread per vCPU**, the board (memory, devices, nestor's PIC
//! and IOAPIC) behind one mutex, and the main thread driving device timers.
//! Why: with the in-kernel local APIC a halted vCPU waits *inside* KVM_RUN
//! and IPIs go from vCPU to vCPU inside KVM, so vCPUs must be able to block
//! independently; multiplexing them on one thread would need a time slice
//! per vCPU, and every spin-wait on another vCPU (IPI round trips, locks)
//! would cost a slice. Exits that need a device are short and serialise on
//! the board lock, as they would on one thread. Other threads reach a vCPU
//! thread with a kick (`kick.rs`): the 8259 raising INTR for the BSP, and
//! the end of the run.
//!
//! Time: devices see `now` = the VM clock at start + host time elapsed
//! (nanoseconds), the same unit the interpreter's virtual clock uses;
//! `Limits::timeout_ns` is therefore wall-clock time here. There is no
//! instruction count under KVM, so `--max-insns` is refused, and a hang
//! (every vCPU halted for good) is not detected: it ends at the timeout.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kvm_ioctls::{Kvm, VcpuExit, VmFd};

use super::KvmError;
use super::caps::{self, KvmCaps};
use super::cpuid::{Unsupported, model_for_host};
use super::irq;
use super::kick::{ImmediateExit, Threads, kick_signal};
use super::vcpu::KvmVcpu;
use super::vm::KvmVm;
use crate::apic::{self, ApicAction};
use crate::devices::ioapic::IoApic;
use crate::interp::Platform;
use crate::machine::board::Board;
use crate::machine::device::ExitRequest;
use crate::machine::{Boot, Limits, MachineConfig, MachineParts, Outcome};
use crate::state::VcpuState;

/// Exit counts for `--stats`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExitStats {
    pub io: u64,
    pub mmio: u64,
    pub ioapic_eoi: u64,
    pub irq_window: u64,
    pub interrupted: u64,
    pub pic_injections: u64,
    pub msis: u64,
}

/// A point at which a KVM run stops so that another backend can continue
/// from the same state (`--handoff kvm-to-interp@...`). Counts start at the
/// beginning of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopAt {
    /// After the Nth device exit (port I/O or MMIO, all vCPUs together,
    /// in the order the board serialises them; a string I/O exit counts
    /// once). Single-vCPU guests whose device accesses do not depend on
    /// time reach the same guest point on every run.
    Exits(u64),
    /// After the `nth` guest write (OUT/OUTS exit) to `port`.
    PortWrite { port: u16, nth: u64 },
}

/// How a run ended: the guest (or a limit) ended it, or it reached its
/// [`StopAt`] point.
#[derive(Clone, Debug, PartialEq, Eq)]
enum End {
    Guest(Outcome),
    Stopped,
}

/// What the threads share under one lock.
struct Shared {
    board: Board,
    /// The level-triggered IOAPIC pins last given to KVM as EOI routes.
    eoi_pins: Vec<(u32, u64)>,
    stats: ExitStats,
    /// Guest writes to the [`StopAt::PortWrite`] port so far.
    port_writes: u64,
}

/// What every thread of a run sees.
struct RunCtx<'a> {
    vm: &'a VmFd,
    shared: Mutex<Shared>,
    /// Wakes the timer thread when a device deadline moved earlier.
    timer_wake: Condvar,
    /// The time the timer thread sleeps until (ns).
    timer_at: AtomicU64,
    stop: AtomicBool,
    outcome: Mutex<Option<End>>,
    stop_at: Option<StopAt>,
    /// The BSP should look at the 8259's INTR.
    pic_pending: AtomicBool,
    /// The BSP holds an 8259 interrupt it could not inject yet and asked
    /// KVM for an interrupt-window exit.
    bsp_wants_window: AtomicBool,
    threads: Threads,
    start: Instant,
    base_ns: u64,
}

impl RunCtx<'_> {
    fn now(&self) -> u64 {
        self.base_ns
            .saturating_add(self.start.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64)
    }

    /// Ends the run with `o` (the first outcome wins) and kicks every vCPU.
    fn finish(&self, o: Outcome) {
        self.end(End::Guest(o));
    }

    fn end(&self, e: End) {
        if let Ok(mut slot) = self.outcome.lock()
            && slot.is_none()
        {
            *slot = Some(e);
        }
        self.stop.store(true, Ordering::SeqCst);
        self.threads.kick_all();
        self.timer_wake.notify_all();
    }

    fn lock(&self) -> Result<MutexGuard<'_, Shared>, KvmError> {
        self.shared
            .lock()
            .map_err(|_| KvmError("a vCPU thread panicked while holding the board".into()))
    }

    /// Counts a device exit against the run's [`StopAt`] point (under the
    /// board lock, so the count follows the order the board saw the
    /// accesses in); reaching it stops every vCPU. `out_port` is the port
    /// of a guest write.
    fn count_device_exit(&self, sh: &mut Shared, out_port: Option<u16>) {
        let reached = match self.stop_at {
            None => false,
            Some(StopAt::Exits(n)) => sh.stats.io + sh.stats.mmio >= n,
            Some(StopAt::PortWrite { port, nth }) => {
                sh.port_writes += u64::from(out_port == Some(port));
                sh.port_writes >= nth
            }
        };
        if reached {
            self.end(End::Stopped);
        }
    }

    /// Everything that may follow a device access, under the lock: IOAPIC
    /// messages to KVM, EOI routes, device exit requests, the PIC's INTR
    /// for the BSP, an earlier device deadline for the timer thread.
    fn after_board(&self, sh: &mut Shared, on_bsp: bool) -> Result<(), KvmError> {
        let msgs = std::mem::take(&mut sh.board.messages);
        if !msgs.is_empty() {
            sh.stats.msis += msgs.len() as u64;
            irq::deliver(self.vm, &msgs)?;
        }
        let pins = irq::level_pins(&sh.board.router);
        if pins != sh.eoi_pins {
            irq::set_eoi_routes(self.vm, &pins)?;
            sh.eoi_pins = pins;
        }
        if let Some(req) = sh.board.requests.exit.take() {
            self.finish(match req {
                ExitRequest::DebugExit(v) => Outcome::DebugExit(v),
                ExitRequest::PowerOff => Outcome::PowerOff,
                ExitRequest::Reset => Outcome::Reset,
            });
        }
        // The 8259's INTR goes to the BSP: tell it (kick it if it may be
        // waiting inside KVM_RUN).
        if sh.board.router.pic_has_interrupt()
            && !self.pic_pending.swap(true, Ordering::SeqCst)
            && !on_bsp
        {
            self.threads.kick(0);
        }
        if sh
            .board
            .next_deadline()
            .is_some_and(|d| d < self.timer_at.load(Ordering::SeqCst))
        {
            self.timer_wake.notify_all();
        }
        Ok(())
    }
}

/// A machine running on KVM. Field order is drop order: the vCPU and VM
/// file descriptors go before the board, whose memory KVM maps.
pub struct KvmMachine {
    vcpus: Vec<KvmVcpu>,
    vm: KvmVm,
    board: Option<Board>,
    /// Exit counts of the last run.
    pub stats: ExitStats,
    /// The VM clock (ns) the next run starts at.
    pub now: u64,
    /// Every vCPU's state at the end of the last run.
    pub final_states: Vec<VcpuState>,
}

impl KvmMachine {
    /// Opens /dev/kvm, fits the model of `cfg` to the host
    /// ([`model_for_host`], `spec` being the `--cpu` string), assembles the
    /// machine and takes it onto KVM. Warnings go to `warn`, one line each.
    pub fn boot(
        cfg: MachineConfig,
        boot: Boot,
        spec: &str,
        policy: Unsupported,
        warn: &mut dyn FnMut(&str),
    ) -> Result<KvmMachine, KvmError> {
        let (cfg, kvm, caps) = KvmMachine::fit(cfg, spec, policy, warn)?;
        let parts = MachineParts::build(cfg, boot).map_err(|e| KvmError(e.0))?;
        KvmMachine::new(parts, kvm, caps, 0, warn)
    }

    /// Opens /dev/kvm, checks it can run a machine and fits the model of
    /// `cfg` to the host ([`model_for_host`]). A machine that may run on
    /// KVM at some point (a handoff) is built from the fitted
    /// configuration whichever backend starts it: the CPU model cannot
    /// change under a running guest.
    pub fn fit(
        mut cfg: MachineConfig,
        spec: &str,
        policy: Unsupported,
        warn: &mut dyn FnMut(&str),
    ) -> Result<(MachineConfig, Kvm, Arc<KvmCaps>), KvmError> {
        let kvm = caps::open()?;
        let caps = KvmCaps::probe(&kvm)?;
        caps.require_for_run()?;
        let fitted = model_for_host(spec, cfg.model, &caps, policy)?;
        for w in &fitted.warnings {
            warn(w);
        }
        cfg.model = fitted.model;
        Ok((cfg, kvm, Arc::new(caps)))
    }

    /// Takes an assembled machine onto KVM at VM time `now` (0 at boot;
    /// the other backend's clock at a handoff): maps its memory, creates
    /// the vCPUs with the model's CPUID and loads each one's state.
    /// One line per capability it runs without goes to `warn`.
    pub fn new(
        parts: MachineParts,
        kvm: Kvm,
        caps: Arc<KvmCaps>,
        now: u64,
        warn: &mut dyn FnMut(&str),
    ) -> Result<KvmMachine, KvmError> {
        let MachineParts {
            vm: model,
            states,
            mut board,
        } = parts;
        let mut vm = KvmVm::new(kvm, caps, Arc::new(model))?;
        // SAFETY: `board` (and so its memory) moves into the KvmMachine
        // together with `vm`, and is declared after it, so it is dropped
        // after the VM and its vCPUs; RAM and ROM are anonymous mappings
        // whose addresses do not change when the board moves.
        unsafe { vm.map_memory(&mut board.mem)? };
        let mut vcpus = Vec::with_capacity(states.len());
        for (i, s) in states.iter().enumerate() {
            let mut v = vm.create_vcpu(i as u32)?;
            v.import_state(s, now)?;
            for w in &v.warnings {
                warn(&format!("vCPU {i}: {w}"));
            }
            vcpus.push(v);
        }
        for w in &vm.warnings {
            warn(w);
        }
        Ok(KvmMachine {
            vcpus,
            vm,
            board: Some(board),
            stats: ExitStats::default(),
            now,
            final_states: states,
        })
    }

    /// Leaves KVM: the VM and its vCPUs are destroyed (so KVM no longer
    /// maps the board's memory) and the machine is returned as parts —
    /// the CPU model, every vCPU's state at the end of the last run and
    /// the board with the same memory and devices — with the VM clock.
    pub fn into_parts(self) -> Result<(MachineParts, u64), KvmError> {
        let KvmMachine {
            vcpus,
            vm,
            board,
            now,
            final_states,
            ..
        } = self;
        // vCPU fds (and their kvm_run mappings) first, then the VM.
        drop(vcpus);
        let model = (*vm.model).clone();
        drop(vm);
        let board =
            board.ok_or_else(|| KvmError("the machine lost its board in an earlier run".into()))?;
        let parts = MachineParts {
            vm: model,
            states: final_states,
            board,
        };
        Ok((parts, now))
    }

    /// vCPU `i`'s guest TSC as KVM holds it now (IA32_TSC through
    /// KVM_GET_MSRS), e.g. to check a handoff kept it monotonic.
    pub fn guest_tsc(&self, i: usize) -> Option<u64> {
        let v = self.vcpus.get(i)?;
        super::msrs::get_one(&v.fd, crate::arch::msr_index::IA32_TSC)
    }

    /// The board (devices, memory) between runs.
    pub fn board(&self) -> Option<&Board> {
        self.board.as_ref()
    }

    /// Runs every vCPU until the guest ends the run or the time limit.
    pub fn run(&mut self, limits: &Limits) -> Result<Outcome, KvmError> {
        Ok(self.run_until(limits, None)?.unwrap_or(Outcome::Timeout))
    }

    /// Runs every vCPU until the guest ends the run (`Some(outcome)`), the
    /// time limit (`Some(Timeout)`, measured from this run's start) or the
    /// `stop` point (`None`). At a stop, every vCPU has completed the
    /// instruction it was in (see `vcpu_loop`) and `final_states`, `now`
    /// and the board are ready for [`KvmMachine::into_parts`].
    pub fn run_until(
        &mut self,
        limits: &Limits,
        stop: Option<StopAt>,
    ) -> Result<Option<Outcome>, KvmError> {
        if limits.max_insns.is_some() {
            return Err(KvmError(
                "--max-insns cannot be counted under --accel kvm; use --timeout".into(),
            ));
        }
        let board = self
            .board
            .take()
            .ok_or_else(|| KvmError("the machine lost its board in an earlier run".into()))?;
        let ctx = RunCtx {
            vm: &self.vm.fd,
            shared: Mutex::new(Shared {
                board,
                eoi_pins: Vec::new(),
                stats: ExitStats::default(),
                port_writes: 0,
            }),
            timer_wake: Condvar::new(),
            timer_at: AtomicU64::new(u64::MAX),
            stop: AtomicBool::new(false),
            outcome: Mutex::new(None),
            stop_at: stop,
            pic_pending: AtomicBool::new(false),
            bsp_wants_window: AtomicBool::new(false),
            threads: Threads::new(self.vcpus.len(), kick_signal()?),
            start: Instant::now(),
            base_ns: self.now,
        };
        // The board may come from another backend with interrupt state in
        // flight: queued IOAPIC messages, level-triggered pins whose EOIs
        // KVM must report, the 8259's INTR raised for the BSP.
        {
            let mut sh = ctx.lock()?;
            ctx.after_board(&mut sh, true)?;
        }
        let timeout = limits.timeout_ns.map(|t| self.now.saturating_add(t));
        let results: Vec<Result<VcpuState, KvmError>> = std::thread::scope(|sc| {
            let handles: Vec<_> = self
                .vcpus
                .iter_mut()
                .enumerate()
                .map(|(i, v)| {
                    let ctx = &ctx;
                    sc.spawn(move || {
                        ctx.threads.enter(i);
                        let r = vcpu_loop(v, i, ctx);
                        ctx.threads.leave(i);
                        if let Err(e) = &r {
                            ctx.finish(Outcome::Failed {
                                vcpu: i as u32,
                                reason: e.0.clone(),
                            });
                        }
                        let now = ctx.now();
                        r.and_then(|()| v.export_state(now))
                    })
                })
                .collect();
            timer_loop(&ctx, timeout);
            ctx.finish(Outcome::Timeout);
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(KvmError("a vCPU thread panicked".into())))
                })
                .collect()
        });
        self.now = ctx.now();
        let outcome = match ctx.outcome.lock().ok().and_then(|mut o| o.take()) {
            Some(End::Stopped) => None,
            Some(End::Guest(o)) => Some(o),
            None => Some(Outcome::Timeout),
        };
        let shared = ctx
            .shared
            .into_inner()
            .map_err(|_| KvmError("a vCPU thread panicked while holding the board".into()))?;
        self.board = Some(shared.board);
        self.stats = shared.stats;
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(s) => self.final_states[i] = s,
                // A vCPU that failed already set the outcome; its state
                // stays the last one known.
                Err(e) if !matches!(outcome, Some(Outcome::Failed { .. })) => return Err(e),
                Err(_) => {}
            }
        }
        Ok(outcome)
    }
}

/// The main thread during a run: fires device timers when they are due and
/// ends the run at the time limit.
fn timer_loop(ctx: &RunCtx, timeout: Option<u64>) {
    let Ok(mut sh) = ctx.lock() else {
        return;
    };
    let mut window_backoff = 500_000;
    while !ctx.stop.load(Ordering::SeqCst) {
        let now = ctx.now();
        if timeout.is_some_and(|t| now >= t) {
            ctx.finish(Outcome::Timeout);
            break;
        }
        sh.board.fire_timers(now);
        if let Err(e) = ctx.after_board(&mut sh, false) {
            ctx.finish(Outcome::Failed {
                vcpu: 0,
                reason: e.0,
            });
            break;
        }
        let next = [sh.board.next_deadline(), timeout]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(u64::MAX);
        ctx.timer_at.store(next, Ordering::SeqCst);
        // Sleep until the deadline (at most 50 ms, to notice the stop flag).
        let mut wait = next.saturating_sub(ctx.now()).min(50_000_000);
        // A halted BSP waits inside KVM_RUN, and not every KVM leaves it
        // for an interrupt window (this host's does not): kick it so it
        // can see it is ready, backing off while the guest keeps the
        // interrupt blocked.
        if ctx.bsp_wants_window.load(Ordering::SeqCst) {
            ctx.threads.kick(0);
            wait = wait.min(window_backoff);
            window_backoff = (window_backoff * 2).min(64_000_000);
        } else {
            window_backoff = 500_000;
        }
        sh = match ctx.timer_wake.wait_timeout(sh, Duration::from_nanos(wait)) {
            Ok((g, _)) => g,
            Err(_) => return,
        };
    }
}

/// Gives the 8259's interrupt to the BSP when it can take it.
///
/// Whether INTR reaches the CPU follows nestor's rule
/// ([`apic::extint_accepted`]: APIC disabled in hardware *or software*, or
/// LINT0 in ExtINT mode), which accepts more than KVM's own ExtINT path
/// (KVM_INTERRUPT needs a hardware-disabled APIC or LINT0 ExtINT). So the
/// vector is acknowledged here and delivered as an injected external
/// interrupt through KVM_SET_VCPU_EVENTS, when RFLAGS.IF = 1 and nothing
/// else is being delivered; a halted BSP wakes up, as it would for INTR.
/// Until then the BSP asks KVM for an interrupt-window exit, and the timer
/// thread kicks it now and then (not every KVM leaves a halted vCPU for
/// the window; this host's does not).
fn pic_to_bsp(v: &mut KvmVcpu, ctx: &RunCtx) -> Result<(), KvmError> {
    if !ctx.pic_pending.load(Ordering::SeqCst) {
        return Ok(());
    }
    let idle = |v: &mut KvmVcpu, wants: bool| {
        v.fd.get_kvm_run().request_interrupt_window = u8::from(wants);
        if ctx.bsp_wants_window.swap(wants, Ordering::SeqCst) != wants && wants {
            ctx.timer_wake.notify_all();
        }
    };
    if !ctx.lock()?.board.router.pic_has_interrupt() {
        ctx.pic_pending.store(false, Ordering::SeqCst);
        idle(v, false);
        return Ok(());
    }
    let fd = &v.fd;
    let e = |what: &'static str| {
        move |err: kvm_ioctls::Error| KvmError(format!("{what} failed: {err}"))
    };
    let apic_base = fd.get_sregs().map_err(e("KVM_GET_SREGS"))?.apic_base;
    let page = fd.get_lapic().map_err(e("KVM_GET_LAPIC"))?;
    let lapic =
        super::lapic::lapic_from_kvm(&page, false, 0, &Default::default(), &Default::default());
    let rflags = fd.get_regs().map_err(e("KVM_GET_REGS"))?.rflags;
    let mut ev = fd.get_vcpu_events().map_err(e("KVM_GET_VCPU_EVENTS"))?;
    let busy = ev.interrupt.injected != 0
        || ev.interrupt.shadow != 0
        || ev.exception.injected != 0
        || ev.exception.pending != 0
        || ev.nmi.injected != 0;
    if !apic::extint_accepted(apic_base, &lapic) || rflags & crate::state::rflags::IF == 0 || busy {
        idle(v, true);
        return Ok(());
    }
    let mut sh = ctx.lock()?;
    let vector = sh.board.pic_ack(ctx.now());
    sh.stats.pic_injections += u64::from(vector.is_some());
    ctx.pic_pending.store(false, Ordering::SeqCst);
    ctx.after_board(&mut sh, true)?;
    drop(sh);
    idle(v, false);
    if let Some(vector) = vector {
        ev.interrupt.injected = 1;
        ev.interrupt.nr = vector;
        ev.interrupt.soft = 0;
        v.fd.set_vcpu_events(&ev)
            .map_err(e("KVM_SET_VCPU_EVENTS"))?;
        let mp = v.fd.get_mp_state().map_err(e("KVM_GET_MP_STATE"))?;
        if mp.mp_state == kvm_bindings::KVM_MP_STATE_HALTED {
            let running = kvm_bindings::kvm_mp_state {
                mp_state: kvm_bindings::KVM_MP_STATE_RUNNABLE,
            };
            v.fd.set_mp_state(running).map_err(e("KVM_SET_MP_STATE"))?;
        }
    }
    Ok(())
}

/// One vCPU thread: KVM_RUN, dispatch the exit, repeat until the run ends.
fn vcpu_loop(v: &mut KvmVcpu, i: usize, ctx: &RunCtx) -> Result<(), KvmError> {
    let immediate_exit: *mut u8 = &mut v.fd.get_kvm_run().immediate_exit;
    // SAFETY: the byte is in this vCPU's kvm_run mapping, which lives as
    // long as `v` (borrowed for this whole function); the guard is dropped
    // at the end of this function, on this thread.
    let _guard = unsafe { ImmediateExit::register(immediate_exit) };
    let bsp = i == 0;
    loop {
        // KVM finishes an I/O or MMIO access only when KVM_RUN is entered
        // again ("the corresponding operations are complete (and guest
        // state is consistent) only after userspace has re-entered the
        // kernel with KVM_RUN", KVM API, KVM_RUN); with immediate_exit set
        // it finishes it and returns EINTR without running any further
        // instruction. So a stopping vCPU enters once more that way, and
        // its exported state is at an instruction boundary.
        let stopping = ctx.stop.load(Ordering::SeqCst);
        v.fd.set_kvm_immediate_exit(u8::from(stopping));
        if bsp && !stopping {
            pic_to_bsp(v, ctx)?;
        }
        let mut io = None;
        let mut device = false;
        match v.fd.run() {
            Ok(VcpuExit::IoIn(..)) => io = Some(true),
            Ok(VcpuExit::IoOut(..)) => io = Some(false),
            Ok(VcpuExit::MmioRead(addr, data)) => {
                device = true;
                let mut sh = ctx.lock()?;
                sh.stats.mmio += 1;
                let val = sh.board.mmio_read(ctx.now(), addr, data.len() as u8);
                let n = data.len().min(8);
                data[..n].copy_from_slice(&val.to_le_bytes()[..n]);
                ctx.after_board(&mut sh, bsp)?;
                ctx.count_device_exit(&mut sh, None);
            }
            Ok(VcpuExit::MmioWrite(addr, data)) => {
                device = true;
                let mut b = [0u8; 8];
                let n = data.len().min(8);
                b[..n].copy_from_slice(&data[..n]);
                let mut sh = ctx.lock()?;
                sh.stats.mmio += 1;
                sh.board
                    .mmio_write(ctx.now(), addr, n as u8, u64::from_le_bytes(b));
                ctx.after_board(&mut sh, bsp)?;
                ctx.count_device_exit(&mut sh, None);
            }
            Ok(VcpuExit::IoapicEoi(vector)) => {
                let mut sh = ctx.lock()?;
                sh.stats.ioapic_eoi += 1;
                // The in-kernel LAPIC retired a level-triggered vector.
                let eoi = ApicAction::Eoi {
                    vector: Some(vector),
                    level: true,
                };
                sh.board.apic_action(ctx.now(), i as u32, eoi);
                ctx.after_board(&mut sh, bsp)?;
            }
            Ok(VcpuExit::IrqWindowOpen) => {
                if let Ok(mut sh) = ctx.lock() {
                    sh.stats.irq_window += 1;
                }
            }
            Ok(VcpuExit::Intr) => {}
            // With the in-kernel LAPIC, HLT stays in KVM; a HLT exit means
            // a vCPU that can never be woken.
            Ok(VcpuExit::Hlt) => {}
            Ok(VcpuExit::Shutdown) => {
                ctx.finish(Outcome::TripleFault { vcpu: i as u32 });
                return Ok(());
            }
            Ok(VcpuExit::SystemEvent(kind, _)) => {
                ctx.finish(match kind {
                    kvm_bindings::KVM_SYSTEM_EVENT_RESET => Outcome::Reset,
                    kvm_bindings::KVM_SYSTEM_EVENT_SHUTDOWN => Outcome::PowerOff,
                    _ => Outcome::TripleFault { vcpu: i as u32 },
                });
                return Ok(());
            }
            Ok(VcpuExit::InternalError) => {
                let e = super::vcpu::internal_error(v);
                return Err(KvmError(format!("KVM internal error: {e}")));
            }
            Ok(VcpuExit::FailEntry(reason, cpu)) => {
                return Err(KvmError(format!(
                    "VM entry failed (hardware reason {reason:#x}, host CPU {cpu})"
                )));
            }
            Ok(other) => {
                return Err(KvmError(format!("unexpected KVM exit {other:?}")));
            }
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                if stopping {
                    return Ok(());
                }
                if let Ok(mut sh) = ctx.lock() {
                    sh.stats.interrupted += 1;
                }
            }
            Err(e) => return Err(KvmError(format!("KVM_RUN failed: {e}"))),
        }
        if let Some(is_in) = io {
            device = true;
            io_exit(v, ctx, bsp, is_in)?;
        }
        // Finishing a string I/O instruction may take further exits, each
        // handled above; any other exit while stopping ends the loop.
        if stopping && !device {
            return Ok(());
        }
    }
}

/// A port I/O exit: each of the `count` accesses of `size` bytes goes to
/// the board (string I/O repeats the access).
fn io_exit(v: &mut KvmVcpu, ctx: &RunCtx, bsp: bool, is_in: bool) -> Result<(), KvmError> {
    let run = v.fd.get_kvm_run();
    // SAFETY: the exit reason is KVM_EXIT_IO (the caller saw IoIn/IoOut
    // and nothing ran since), so the kernel filled the `io` member.
    let info = unsafe { run.__bindgen_anon_1.io };
    let size = usize::from(info.size);
    if !matches!(size, 1 | 2 | 4) {
        return Err(KvmError(format!(
            "I/O exit of {size} bytes on port {:#x}",
            info.port
        )));
    }
    let len = size * info.count as usize;
    let base = (run as *mut kvm_bindings::kvm_run).cast::<u8>();
    // SAFETY: the kernel puts the `count * size` data bytes at
    // `data_offset` inside the vCPU's kvm_run mapping (as kvm-ioctls'
    // own `VcpuFd::run` relies on); `run` is borrowed mutably, so nothing
    // else aliases them while the slice lives.
    let data = unsafe { std::slice::from_raw_parts_mut(base.add(info.data_offset as usize), len) };
    let mut sh = ctx.lock()?;
    sh.stats.io += 1;
    let now = ctx.now();
    let port = info.port;
    for chunk in data.chunks_mut(size) {
        if is_in {
            let val = sh.board.io_in(now, port, size as u8);
            chunk.copy_from_slice(&val.to_le_bytes()[..size]);
        } else {
            let mut b = [0u8; 4];
            b[..size].copy_from_slice(chunk);
            sh.board
                .io_out(now, port, size as u8, u32::from_le_bytes(b));
        }
    }
    ctx.after_board(&mut sh, bsp)?;
    // After the board's own requests, so that a guest ending the run with
    // this very access is not handed off instead.
    ctx.count_device_exit(&mut sh, (!is_in).then_some(port));
    Ok(())
}

/// Fails to compile if the board cannot move to vCPU threads.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Board>();
    send::<IoApic>();
};
