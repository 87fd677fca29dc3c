//! Threaded dispatch: every op ends by jumping straight to the next op's
//! handler, so a block runs as one chain of tail calls with no central
//! loop between instructions.
//!
//! Instruction handlers keep the simple form `fn(&mut Ctx, &Op) -> Exec`.
//! What a block stores for each op is a [`Handler`]: a wrapper generated
//! per instruction handler ([`handler`]) that calls it (inlined where
//! small), counts the retired instruction, checks the attention word and
//! tail-calls the next op. The chain stops at the first op that does not
//! complete normally and reports which op it was and why ([`Halt`]).
//!
//! Every block's ops are followed by a sentinel op ([`Op::sentinel`])
//! whose handler ends the chain, so "the next op" always exists. Chains
//! are at most one block long (plus the sentinel): even if the compiler
//! did not turn the tail calls into jumps, the recursion is bounded.

use super::{Ctx, Exec, Op, Stop};

/// Why a chain of ops stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Why {
    /// The block's sentinel was reached: every op completed; the next RIP
    /// is the sentinel's `rip`.
    End,
    /// The op completed and set RIP itself (taken branch).
    Jump,
    /// The op completed and the block loop must look at the CPU (the op
    /// asked for it, or it set an attention bit). RIP is the op's
    /// `next_rip`.
    Exit,
    /// The op raised an exception (pending in `Cpu::fault`); RIP is the
    /// op's `rip`.
    Fault,
}

/// Where and why a chain stopped: the op (inside the slice the chain was
/// started on) and the reason.
#[derive(Clone, Copy, Debug)]
pub struct Halt {
    pub op: *const Op,
    pub why: Why,
}

/// The threaded form of a handler.
///
/// # Safety
/// The pointer must point at an op of a slice that ends with a sentinel op
/// after it (every op's successor exists), and the slice must stay alive
/// and unmodified while the chain runs.
pub type Threaded = unsafe fn(&mut Ctx, *const Op) -> Halt;

/// What an op stores: its instruction handler in threaded form.
#[derive(Clone, Copy)]
pub struct Handler(pub Threaded);

/// Instruction handlers in their plain form.
pub trait HandlerFn: Fn(&mut Ctx, &Op) -> Exec + Copy {}
impl<F: Fn(&mut Ctx, &Op) -> Exec + Copy> HandlerFn for F {}

/// Wraps the instruction handler `f` (a fn item: a zero-sized type naming
/// one function, so the wrapper is generated for it and calls it
/// directly).
pub const fn handler<F: HandlerFn>(_f: F) -> Handler {
    const {
        assert!(
            std::mem::size_of::<F>() == 0,
            "handlers must be fn items, not fn pointers or capturing closures"
        )
    };
    Handler(threaded::<F>)
}

/// Wraps an instruction handler that only reads and writes registers,
/// flags and RIP: it can raise exceptions but never sets an attention
/// bit (no memory, I/O or system state), so its wrapper skips the
/// attention check.
pub const fn pure<F: HandlerFn>(_f: F) -> Handler {
    const {
        assert!(
            std::mem::size_of::<F>() == 0,
            "handlers must be fn items, not fn pointers or capturing closures"
        )
    };
    Handler(threaded_pure::<F>)
}

/// The wrapper of a register-only handler `F` (see [`pure`]).
///
/// # Safety
/// As for [`Threaded`].
unsafe fn threaded_pure<F: HandlerFn>(ctx: &mut Ctx, p: *const Op) -> Halt {
    // SAFETY: as in `threaded`.
    let f: F = unsafe { std::mem::zeroed() };
    // SAFETY: `p` points at a live op (the caller's contract).
    let r = f(ctx, unsafe { &*p });
    if r.is_ok() {
        ctx.cpu.icount += 1;
        debug_assert_eq!(ctx.cpu.attention, 0, "a pure handler set attention");
        // SAFETY: as in `continue_after`.
        unsafe {
            let next = p.add(1);
            return ((*next).exec.0)(ctx, next);
        }
    }
    // SAFETY: the caller's contract, passed on.
    unsafe { continue_after(ctx, p, r) }
}

/// The wrapper of instruction handler `F`.
///
/// # Safety
/// As for [`Threaded`].
unsafe fn threaded<F: HandlerFn>(ctx: &mut Ctx, p: *const Op) -> Halt {
    // SAFETY: `F` is zero-sized (checked in `handler`, the only place that
    // names this function) and a fn item has no invariant beyond existing:
    // this is the fn item that was passed to `handler`.
    let f: F = unsafe { std::mem::zeroed() };
    // SAFETY: `p` points at a live op (the caller's contract).
    let r = f(ctx, unsafe { &*p });
    // SAFETY: the caller's contract, passed on.
    unsafe { continue_after(ctx, p, r) }
}

/// After the op at `p` ran with result `r`: counts it, and either goes on
/// with the next op or stops the chain.
///
/// # Safety
/// As for [`Threaded`].
#[inline(always)]
unsafe fn continue_after(ctx: &mut Ctx, p: *const Op, r: Exec) -> Halt {
    if r.is_ok() {
        ctx.cpu.icount += 1;
        if ctx.cpu.attention == 0 {
            // SAFETY: a non-sentinel op is always followed by another op
            // of the same slice (the sentinel at the latest).
            unsafe {
                let next = p.add(1);
                return ((*next).exec.0)(ctx, next);
            }
        }
        return Halt {
            op: p,
            why: Why::Exit,
        };
    }
    if r == Err(Stop::Jump) {
        ctx.cpu.icount += 1;
        return Halt {
            op: p,
            why: Why::Jump,
        };
    }
    stopped(ctx, p, r)
}

/// The op at `p` stopped the chain with `r` (an exit or a fault).
#[cold]
#[inline(never)]
fn stopped(ctx: &mut Ctx, p: *const Op, r: Exec) -> Halt {
    let why = match r {
        Ok(()) | Err(Stop::Exit) => Why::Exit,
        Err(Stop::Jump) => Why::Jump,
        Err(Stop::Fault) => {
            return Halt {
                op: p,
                why: Why::Fault,
            };
        }
    };
    ctx.cpu.icount += 1;
    Halt { op: p, why }
}

/// The sentinel's handler: the end of the block.
unsafe fn block_end(_ctx: &mut Ctx, p: *const Op) -> Halt {
    Halt {
        op: p,
        why: Why::End,
    }
}

impl Op {
    /// The op placed after a block's last op: it ends the chain, and its
    /// `rip` is where execution goes on.
    pub fn sentinel(next_rip: u64) -> Op {
        let mut op = Op::new(Handler(block_end));
        op.rip = next_rip;
        op.next_rip = next_rip;
        op
    }

    /// Runs the chain starting at `ops[0]`.
    ///
    /// The slice must end with a sentinel ([`Op::sentinel`]); blocks in the
    /// code cache and the pair built by [`run_single`] do.
    #[inline(always)]
    pub fn run_chain(ctx: &mut Ctx, ops: &[Op]) -> Halt {
        debug_assert!(ops.last().is_some_and(|o| o.is_sentinel()));
        let p = ops.as_ptr();
        // SAFETY: `ops` ends with a sentinel, so every op but the last has
        // a successor in the slice, and the chain stops at the sentinel;
        // `ops` is borrowed for the whole call.
        unsafe { ((*p).exec.0)(ctx, p) }
    }

    /// Is this a block-end sentinel?
    pub fn is_sentinel(&self) -> bool {
        std::ptr::fn_addr_eq(self.exec.0, block_end as Threaded)
    }
}

/// Runs exactly one op (a copy of `op`, followed by a sentinel): the
/// one-at-a-time path (single step, budget end). Returns why it stopped;
/// `Halt::op` points into a temporary and must not be used.
pub fn run_single(ctx: &mut Ctx, op: &Op) -> Why {
    let pair = [*op, Op::sentinel(op.next_rip)];
    Op::run_chain(ctx, &pair).why
}
