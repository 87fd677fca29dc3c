//! Kicking a vCPU thread out of KVM_RUN.
//!
//! A vCPU thread may be blocked inside KVM_RUN (a halted guest waits there
//! with an in-kernel LAPIC). Another thread that needs it back in userspace
//! (the 8259 raised INTR for the BSP, the run is over) sets whatever flag
//! the vCPU thread checks and then sends it [`kick_signal`]. The signal
//! handler sets `kvm_run.immediate_exit` of the thread it interrupts, so a
//! kick that arrives between the vCPU thread's last check and its entry
//! into KVM_RUN is not lost: KVM_RUN returns EINTR at once.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::OnceLock;

use super::KvmError;

thread_local! {
    /// This thread's `kvm_run.immediate_exit` byte, or null.
    static IMMEDIATE_EXIT: Cell<*mut u8> = const { Cell::new(std::ptr::null_mut()) };
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // Async-signal-safe: a const-initialised thread-local without a
    // destructor is a plain TLS load, and the store is one byte.
    IMMEDIATE_EXIT.with(|p| {
        let p = p.get();
        if !p.is_null() {
            // SAFETY: the pointer was registered by this very thread (see
            // `ImmediateExit::register`) and points into its vCPU's kvm_run
            // mapping, which outlives the registration.
            unsafe { p.write_volatile(1) };
        }
    });
}

/// The real-time signal used for kicks (installed once per process).
pub fn kick_signal() -> Result<libc::c_int, KvmError> {
    static SIGNAL: OnceLock<Result<libc::c_int, String>> = OnceLock::new();
    SIGNAL
        .get_or_init(|| {
            let sig = vmm_sys_util::signal::SIGRTMIN();
            vmm_sys_util::signal::register_signal_handler(sig, on_kick)
                .map(|()| sig)
                .map_err(|e| format!("cannot install the vCPU kick signal handler: {e}"))
        })
        .clone()
        .map_err(KvmError)
}

/// While alive, kicks delivered to this thread set `byte` to 1.
pub struct ImmediateExit;

impl ImmediateExit {
    /// Registers `byte` (this thread's vCPU's `kvm_run.immediate_exit`).
    ///
    /// # Safety
    ///
    /// `byte` must stay valid until the returned guard is dropped, and the
    /// guard must be dropped on this thread.
    pub unsafe fn register(byte: *mut u8) -> ImmediateExit {
        IMMEDIATE_EXIT.with(|p| p.set(byte));
        ImmediateExit
    }
}

impl Drop for ImmediateExit {
    fn drop(&mut self) {
        IMMEDIATE_EXIT.with(|p| p.set(std::ptr::null_mut()));
    }
}

/// The pthread of each running vCPU thread, so other threads can kick it.
/// A thread removes itself before it ends; kicks are sent under the lock,
/// so a kick never reaches a thread that has gone.
pub struct Threads {
    ids: Mutex<Vec<Option<libc::pthread_t>>>,
    signal: libc::c_int,
}

impl Threads {
    pub fn new(n: usize, signal: libc::c_int) -> Threads {
        Threads {
            ids: Mutex::new(vec![None; n]),
            signal,
        }
    }

    /// Records the calling thread as vCPU `i`'s.
    pub fn enter(&self, i: usize) {
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        if let Ok(mut ids) = self.ids.lock()
            && let Some(slot) = ids.get_mut(i)
        {
            *slot = Some(me);
        }
    }

    /// Forgets vCPU `i`'s thread (called by that thread before it ends).
    pub fn leave(&self, i: usize) {
        if let Ok(mut ids) = self.ids.lock()
            && let Some(slot) = ids.get_mut(i)
        {
            *slot = None;
        }
    }

    /// Kicks vCPU `i`'s thread out of KVM_RUN (no-op if it is not running).
    pub fn kick(&self, i: usize) {
        if let Ok(ids) = self.ids.lock()
            && let Some(Some(t)) = ids.get(i)
        {
            // SAFETY: `t` is a live thread: it removes itself under this
            // lock before it exits, and we hold the lock while signalling.
            unsafe { libc::pthread_kill(*t, self.signal) };
        }
    }

    pub fn kick_all(&self) {
        if let Ok(ids) = self.ids.lock() {
            for t in ids.iter().flatten() {
                // SAFETY: as in `kick`.
                unsafe { libc::pthread_kill(*t, self.signal) };
            }
        }
    }
}
