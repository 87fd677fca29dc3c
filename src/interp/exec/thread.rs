//! Threaded dispatch: every op ends by jumping straight to the next op's
//! handler, so a block runs as one chain of tail calls with no central
//! loop between instructions.
//!
//! Instruction handlers keep the simple form `fn(&mut Ctx, &Op) -> Exec`.
//! What a block stores for each op is a [`Handler`]: a wrapper generated
//! per instruction handler ([`handler`]) that calls it (inlined where
//! small), checks the attention word (general handlers only) and
//! tail-calls the next op. The chain stops at the first op that does not
//! complete normally, having set RIP, and says why ([`Why`]).
//!
//! Every block's ops are followed by a sentinel op ([`Op::sentinel`])
//! whose handler ends the chain, so "the next op" always exists.
//!
//! Retired instructions are counted per block, not per op: whoever enters
//! a block adds its length to `Cpu::icount` first, so while an op runs the
//! count is ahead of the exact one by the op's `left` (itself and the ops
//! after it in the block). Ops that go straight on to the next op need no
//! count at all. Everything that leaves the block early or looks at the
//! count corrects it: the full handlers' wrapper ([`threaded`]) makes it
//! exact before the handler runs (devices read the clock from it), taken
//! branches take back the instructions they skip, and a chain that stops
//! leaves it exact.

use super::{Ctx, Exec, Op, Stop};

/// How a chain of ops ended. In every case `Cpu::rip` has been set: to the
/// next instruction, to a branch target, or to a faulting instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Why {
    /// Every op completed (the block's sentinel was reached) or a branch
    /// was taken, and nothing needs the run loop: the next block may run.
    Continue,
    /// The last op completed and the run loop must look at the CPU: the op
    /// asked for it ([`Stop::Exit`]) or an attention bit is set.
    Stop,
    /// The op raised an exception, pending in `Cpu::fault`; RIP is the
    /// faulting instruction's.
    Fault,
}

/// The threaded form of a handler.
///
/// # Safety
/// The pointer must point at an op of a slice that ends with a sentinel op
/// after it (every op's successor exists), and the slice must stay alive
/// and unmodified while the chain runs.
pub type Threaded = unsafe fn(&mut Ctx, *const Op) -> Why;

/// What an op stores: its instruction handler in threaded form.
#[derive(Clone, Copy)]
pub struct Handler(pub Threaded);

/// Instruction handlers in their plain form.
pub trait HandlerFn: Fn(&mut Ctx, &Op) -> Exec + Copy {}
impl<F: Fn(&mut Ctx, &Op) -> Exec + Copy> HandlerFn for F {}

/// Compile-time check that a handler type is a fn item: a zero-sized type
/// naming one function, which the wrappers call without storing it.
struct FnItem<F>(std::marker::PhantomData<F>);

impl<F> FnItem<F> {
    const CHECK: () = assert!(
        std::mem::size_of::<F>() == 0,
        "handlers must be fn items, not fn pointers or capturing closures"
    );
}

/// The fn item `F` a wrapper was generated for (the wrappers are only
/// named by the constructors below, which check `FnItem::<F>::CHECK`).
#[inline(always)]
fn conjure<F: Copy>() -> F {
    let () = FnItem::<F>::CHECK;
    // SAFETY: `F` is zero-sized (checked above at compile time) and a fn
    // item has no invariant beyond existing, so this is the very fn item
    // that was passed to the constructor.
    unsafe { std::mem::zeroed() }
}

/// Wraps the instruction handler `f` (a fn item: a zero-sized type naming
/// one function, so the wrapper is generated for it and calls it
/// directly).
pub const fn handler<F: HandlerFn>(_f: F) -> Handler {
    let () = FnItem::<F>::CHECK;
    Handler(threaded::<F>)
}

/// Wraps an instruction handler that only reads and writes registers,
/// flags and RIP: it can raise exceptions but never sets an attention
/// bit (no memory, I/O or system state), so its wrapper skips the
/// attention check.
pub const fn pure<F: HandlerFn>(_f: F) -> Handler {
    let () = FnItem::<F>::CHECK;
    Handler(threaded_pure::<F, false>)
}

/// The wrapper of a register-only handler `F` (see [`pure`]); `LOOP`: a
/// taken branch goes to the start of the op's own block ([`pure_loop`]).
///
/// # Safety
/// As for [`Threaded`], and with `LOOP` a taken branch goes to the start
/// of the op's block.
unsafe fn threaded_pure<F: HandlerFn, const LOOP: bool>(ctx: &mut Ctx, p: *const Op) -> Why {
    let f: F = conjure();
    #[cfg(debug_assertions)]
    let attention = ctx.cpu.attention;
    // SAFETY: `p` points at a live op (the caller's contract).
    let r = f(ctx, unsafe { &*p });
    #[cfg(debug_assertions)]
    debug_assert_eq!(ctx.cpu.attention, attention, "a pure handler set attention");
    if r.is_ok() {
        // SAFETY: as in `continue_after`.
        unsafe {
            let next = p.add(1);
            return ((*next).exec.0)(ctx, next);
        }
    }
    if r == Err(Stop::Jump) {
        if LOOP {
            // SAFETY: the caller's contract, passed on.
            return unsafe { loop_back(ctx, p, 1) };
        }
        // SAFETY: `p` points at a live op (the caller's contract).
        leave_block(ctx, unsafe { &*p }, 1);
        return link(ctx);
    }
    // SAFETY: as above.
    stopped_early(ctx, unsafe { &*p }, r)
}

/// The fast path of a handler: does the whole instruction and returns
/// `true`, or changes nothing and returns `false` (the full handler then
/// runs).
pub trait FastFn: Fn(&mut Ctx, &Op) -> bool + Copy {}
impl<F: Fn(&mut Ctx, &Op) -> bool + Copy> FastFn for F {}

/// Wraps a handler split into a frame-less fast path `F` (memory operand
/// in the TLB...) and the full handler `S`. The fast path inlines into
/// the wrapper with no call, so it needs no stack frame; when it declines,
/// the wrapper tail-calls the full handler's wrapper. Like a [`pure`]
/// handler, a fast path never sets an attention bit: it touches registers
/// and RAM through TLB host pointers only (writes to code pages never get
/// one), so its wrapper skips the attention check.
pub const fn fast<F: FastFn, S: HandlerFn>(_f: F, _s: S) -> Handler {
    let () = FnItem::<F>::CHECK;
    let () = FnItem::<S>::CHECK;
    Handler(threaded_fast::<F, S>)
}

/// The wrapper of a split handler (see [`fast`]).
///
/// # Safety
/// As for [`Threaded`].
unsafe fn threaded_fast<F: FastFn, S: HandlerFn>(ctx: &mut Ctx, p: *const Op) -> Why {
    let f: F = conjure();
    #[cfg(debug_assertions)]
    let attention = ctx.cpu.attention;
    // SAFETY: `p` points at a live op (the caller's contract).
    if f(ctx, unsafe { &*p }) {
        #[cfg(debug_assertions)]
        debug_assert_eq!(ctx.cpu.attention, attention, "a fast path set attention");
        // SAFETY: `p` points at a live op followed by another (the
        // caller's contract).
        unsafe {
            let next = p.add(1);
            ((*next).exec.0)(ctx, next)
        }
    } else {
        // SAFETY: the caller's contract, passed on.
        unsafe { threaded::<S>(ctx, p) }
    }
}

/// Wraps a near jump split into a frame-less fast path `F`, which returns
/// `true` when it has jumped (RIP set, nothing else changed but what a
/// RAM read leaves), and the full handler `S` that runs otherwise.
pub const fn fast_jump<F: FastFn, S: HandlerFn>(_f: F, _s: S) -> Handler {
    let () = FnItem::<F>::CHECK;
    let () = FnItem::<S>::CHECK;
    Handler(threaded_fast_jump::<F, S>)
}

/// The wrapper of a split jump (see [`fast_jump`]).
///
/// # Safety
/// As for [`Threaded`].
unsafe fn threaded_fast_jump<F: FastFn, S: HandlerFn>(ctx: &mut Ctx, p: *const Op) -> Why {
    let f: F = conjure();
    // SAFETY: `p` points at a live op (the caller's contract).
    if f(ctx, unsafe { &*p }) {
        // SAFETY: as above.
        leave_block(ctx, unsafe { &*p }, 1);
        link(ctx)
    } else {
        // SAFETY: the caller's contract, passed on.
        unsafe { threaded::<S>(ctx, p) }
    }
}

/// Wraps a fused pair: a flag-setting op that cannot fault (register
/// CMP/TEST) and the Jcc after it, executed together by `F`, which
/// returns whether the branch is taken (target in the op's `disp`). The
/// pair counts as two instructions; the Jcc's own op is skipped.
pub const fn fused<F: FastFn>(_f: F) -> Handler {
    let () = FnItem::<F>::CHECK;
    Handler(threaded_fused::<F, false>)
}

/// The wrapper of a fused pair (see [`fused`]); `LOOP`: the branch goes
/// to the start of the op's own block ([`fused_loop`]).
///
/// # Safety
/// As for [`Threaded`], and the op after `p` is the pair's Jcc (so the op
/// after that exists too); with `LOOP` the branch target is the start of
/// the op's block.
unsafe fn threaded_fused<F: FastFn, const LOOP: bool>(ctx: &mut Ctx, p: *const Op) -> Why {
    let f: F = conjure();
    // SAFETY: `p` points at a live op (the caller's contract).
    let op = unsafe { &*p };
    if f(ctx, op) {
        if LOOP {
            // SAFETY: the caller's contract, passed on.
            return unsafe { loop_back(ctx, p, 2) };
        }
        return take_branch(ctx, op, op.disp, 2);
    }
    // SAFETY: the Jcc at `p + 1` is not a sentinel, so `p + 2` is an op
    // of the same slice (the caller's contract).
    unsafe {
        let next = p.add(2);
        ((*next).exec.0)(ctx, next)
    }
}

/// Wraps two adjacent ops that a block runs as one (see
/// [`super::pair`]): the fast path `A` of the op at `p` (with its full
/// handler `SA`) and the fast path `B` of the op after it (full handler
/// `SB`). Neither stops the chain when it succeeds, so the pair needs no
/// count (the block's count covers both) and goes on to the op after the
/// second. When `A` declines, `SA` runs and the chain goes on to the
/// second op as usual; when `B` declines, `SB` runs for the second op.
pub const fn pair<A: FastFn, SA: HandlerFn, B: FastFn, SB: HandlerFn>(
    _a: A,
    _sa: SA,
    _b: B,
    _sb: SB,
) -> Handler {
    let () = FnItem::<A>::CHECK;
    let () = FnItem::<SA>::CHECK;
    let () = FnItem::<B>::CHECK;
    let () = FnItem::<SB>::CHECK;
    Handler(threaded_pair::<A, SA, B, SB>)
}

/// The wrapper of a pair (see [`pair`]).
///
/// # Safety
/// As for [`Threaded`], and the op after `p` is not a sentinel.
unsafe fn threaded_pair<A: FastFn, SA: HandlerFn, B: FastFn, SB: HandlerFn>(
    ctx: &mut Ctx,
    p: *const Op,
) -> Why {
    let a: A = conjure();
    let b: B = conjure();
    #[cfg(debug_assertions)]
    let attention = ctx.cpu.attention;
    // SAFETY: `p` points at a live op (the caller's contract).
    if !a(ctx, unsafe { &*p }) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { threaded::<SA>(ctx, p) };
    }
    // SAFETY: the op after `p` is a live op, not a sentinel, so the one
    // after it exists too (the caller's contract).
    unsafe {
        let second = p.add(1);
        if !b(ctx, &*second) {
            return threaded::<SB>(ctx, second);
        }
        #[cfg(debug_assertions)]
        debug_assert_eq!(
            ctx.cpu.attention, attention,
            "a paired fast path set attention"
        );
        let next = p.add(2);
        ((*next).exec.0)(ctx, next)
    }
}

/// Wraps a bounds-checked switch dispatch: a fused register CMP + Jcc
/// (`F`, returning whether the branch is taken, target in the op's
/// `disp`) and, two ops on, the switch-table jump `J` (full handler `SJ`)
/// that runs when the branch is not taken — `cmp idx, N; ja default;
/// jmp [table + idx * 8]`, three instructions.
pub const fn fused_switch<F: FastFn, J: FastFn, SJ: HandlerFn>(_f: F, _j: J, _sj: SJ) -> Handler {
    let () = FnItem::<F>::CHECK;
    let () = FnItem::<J>::CHECK;
    let () = FnItem::<SJ>::CHECK;
    Handler(threaded_fused_switch::<F, J, SJ>)
}

/// The wrapper of a bounds-checked switch dispatch (see [`fused_switch`]).
///
/// # Safety
/// As for [`Threaded`], and the ops after `p` are the Jcc and the jump.
unsafe fn threaded_fused_switch<F: FastFn, J: FastFn, SJ: HandlerFn>(
    ctx: &mut Ctx,
    p: *const Op,
) -> Why {
    let f: F = conjure();
    let j: J = conjure();
    // SAFETY: `p` points at a live op (the caller's contract).
    let op = unsafe { &*p };
    if f(ctx, op) {
        return take_branch(ctx, op, op.disp, 2);
    }
    // SAFETY: the jump's op is two on (the caller's contract).
    let jump = unsafe { p.add(2) };
    // SAFETY: as above.
    if j(ctx, unsafe { &*jump }) {
        leave_block(ctx, op, 3);
        return link(ctx);
    }
    // SAFETY: the caller's contract, passed on.
    unsafe { threaded::<SJ>(ctx, jump) }
}

/// The fast path of a fused pair whose first instruction reads memory:
/// `Some(taken)` when it did the whole pair, `None` (nothing changed) when
/// the operand is not in the TLB.
pub trait MemFusedFn: Fn(&mut Ctx, &Op) -> Option<bool> + Copy {}
impl<F: Fn(&mut Ctx, &Op) -> Option<bool> + Copy> MemFusedFn for F {}

/// [`fused`] for a CMP/TEST with a memory operand (`F`) and the Jcc after
/// it, whose target is the Jcc op's `imm` (the first op's `disp` is the
/// operand's). When `F` declines, the CMP/TEST's full handler `S` runs and
/// the chain goes on to the Jcc's own op.
pub const fn fused_mem<F: MemFusedFn, S: HandlerFn>(_f: F, _s: S) -> Handler {
    let () = FnItem::<F>::CHECK;
    let () = FnItem::<S>::CHECK;
    Handler(threaded_fused_mem::<F, S>)
}

/// The wrapper of a fused pair with a memory operand (see [`fused_mem`]).
///
/// # Safety
/// As for [`Threaded`], and the op after `p` is the pair's Jcc.
unsafe fn threaded_fused_mem<F: MemFusedFn, S: HandlerFn>(ctx: &mut Ctx, p: *const Op) -> Why {
    let f: F = conjure();
    // SAFETY: `p` points at a live op (the caller's contract).
    let op = unsafe { &*p };
    match f(ctx, op) {
        Some(true) => {
            // SAFETY: the Jcc op follows (the caller's contract).
            take_branch(ctx, op, unsafe { (*p.add(1)).imm }, 2)
        }
        // SAFETY: the Jcc at `p + 1` is not a sentinel, so `p + 2` is an
        // op of the same slice (the caller's contract).
        Some(false) => unsafe {
            let next = p.add(2);
            ((*next).exec.0)(ctx, next)
        },
        // SAFETY: the caller's contract, passed on.
        None => unsafe { threaded::<S>(ctx, p) },
    }
}

/// [`fused`] for a pair whose branch goes back to the start of its own
/// block (a loop): a taken branch re-enters the block directly.
pub const fn fused_loop<F: FastFn>(_f: F) -> Handler {
    let () = FnItem::<F>::CHECK;
    Handler(threaded_fused::<F, true>)
}

/// [`pure`] for a conditional branch to the start of its own block (a
/// loop): a taken branch re-enters the block directly.
pub const fn pure_loop<F: HandlerFn>(_f: F) -> Handler {
    let () = FnItem::<F>::CHECK;
    Handler(threaded_pure::<F, true>)
}

/// The op at `p`, `done` instructions long, branched to the start of its
/// own block: enters the block again (counting it) if it fits before
/// `Cpu::link_end`, without a RIP-cache probe. The block is still valid:
/// whatever could drop it (a write to its page, a TLB flush, a mode
/// change) stops the chain before the branch. Otherwise returns to the
/// run loop with RIP at the block start and the count exact.
///
/// # Safety
/// As for [`Threaded`], and the op's `idx` is its index in a block that
/// starts `idx` ops back.
#[inline(always)]
unsafe fn loop_back(ctx: &mut Ctx, p: *const Op, done: u8) -> Why {
    // SAFETY: `p` points at a live op (the caller's contract).
    let op = unsafe { &*p };
    // The exact count after the branch is `icount - (left - done)`; the
    // block is `before + left` instructions long.
    let icount = ctx.cpu.icount + u64::from(op.before) + u64::from(done);
    // SAFETY: the block's first op is `idx` ops back (the caller's
    // contract).
    let first = unsafe { p.sub(usize::from(op.idx)) };
    if icount <= ctx.cpu.link_end {
        ctx.cpu.icount = icount;
        // SAFETY: `first` is the live block's first op, followed by the
        // rest of the block and its sentinel.
        return unsafe { ((*first).exec.0)(ctx, first) };
    }
    leave_block(ctx, op, done);
    // SAFETY: as above.
    ctx.cpu.rip = unsafe { (*first).rip };
    Why::Continue
}

/// The wrapper of instruction handler `F`.
///
/// # Safety
/// As for [`Threaded`].
#[inline(never)]
unsafe fn threaded<F: HandlerFn>(ctx: &mut Ctx, p: *const Op) -> Why {
    let f: F = conjure();
    // SAFETY: `p` points at a live op (the caller's contract).
    let op = unsafe { &*p };
    // The exact count while the handler runs: the instructions before
    // this one.
    ctx.cpu.icount -= u64::from(op.left);
    let r = f(ctx, op);
    // SAFETY: the caller's contract, passed on.
    unsafe { continue_after(ctx, p, r) }
}

/// After the op at `p` ran with result `r`, the count being exact (the
/// instructions before the op): counts it, and either goes on with the
/// next op (the count running ahead again) or stops the chain.
///
/// # Safety
/// As for [`Threaded`].
#[inline(always)]
unsafe fn continue_after(ctx: &mut Ctx, p: *const Op, r: Exec) -> Why {
    if r.is_ok() {
        // SAFETY: `p` points at a live op, and a non-sentinel op is always
        // followed by another op of the same slice (the sentinel at the
        // latest): the caller's contract.
        unsafe {
            if ctx.cpu.attention == 0 {
                ctx.cpu.icount += u64::from((*p).left);
                let next = p.add(1);
                return ((*next).exec.0)(ctx, next);
            }
            ctx.cpu.icount += 1;
            ctx.cpu.rip = (*p).next_rip;
        }
        return Why::Stop;
    }
    if r == Err(Stop::Jump) {
        // The branch set RIP; it may have written memory (CALL).
        ctx.cpu.icount += 1;
        return if ctx.cpu.attention == 0 {
            link(ctx)
        } else {
            Why::Stop
        };
    }
    // SAFETY: `p` points at a live op (the caller's contract).
    stopped(ctx, unsafe { &*p }, r)
}

/// `op`, `done` instructions long (2 for a fused pair), left its block by
/// a taken branch: the count, ahead by `op.left`, becomes exact.
#[inline(always)]
fn leave_block(ctx: &mut Ctx, op: &Op, done: u8) {
    ctx.cpu.icount -= u64::from(op.left - done);
}

/// `op`, `done` instructions long, ends in a branch taken to `target`
/// (checked at decode time): leaves its block and links to the next.
#[inline(always)]
fn take_branch(ctx: &mut Ctx, op: &Op, target: u64, done: u8) -> Why {
    ctx.cpu.rip = target;
    leave_block(ctx, op, done);
    link(ctx)
}

/// As [`stopped`], for an op that ran with the count still ahead.
#[cold]
#[inline(never)]
fn stopped_early(ctx: &mut Ctx, op: &Op, r: Exec) -> Why {
    ctx.cpu.icount -= u64::from(op.left);
    stopped(ctx, op, r)
}

/// `op` stopped the chain with `r`, the count being exact (the
/// instructions before `op`): an exit or a fault.
#[cold]
#[inline(never)]
fn stopped(ctx: &mut Ctx, op: &Op, r: Exec) -> Why {
    match r {
        Err(Stop::Fault) => {
            ctx.cpu.rip = op.rip;
            Why::Fault
        }
        Err(Stop::Jump) => {
            ctx.cpu.icount += 1;
            Why::Stop
        }
        Ok(()) | Err(Stop::Exit) => {
            ctx.cpu.icount += 1;
            ctx.cpu.rip = op.next_rip;
            Why::Stop
        }
    }
}

/// The sentinel's handler: the end of the block; execution goes on at the
/// sentinel's `rip`.
unsafe fn block_end(ctx: &mut Ctx, p: *const Op) -> Why {
    // SAFETY: `p` points at the live sentinel (the caller's contract).
    ctx.cpu.rip = unsafe { (*p).rip };
    link(ctx)
}

/// How many instructions a chain may run (about: it enters no block that
/// would end past this) before returning to the run loop. Every block has
/// at least one instruction, so this also bounds the number of blocks
/// entered. Small in debug builds, where the tail calls are real calls and
/// every op deepens the stack.
pub const LINK_INSNS: u64 = if cfg!(debug_assertions) { 64 } else { 4096 };

/// After a taken branch or a block end, with RIP set, the count exact and
/// nothing needing the run loop: goes straight into the block at RIP
/// (counting its instructions) when the RIP cache has it and the whole
/// block fits before `Cpu::link_end` (the run budget, bounded by
/// [`LINK_INSNS`]); otherwise returns to the run loop, which finds (or
/// builds) the block.
#[inline(always)]
fn link(ctx: &mut Ctx) -> Why {
    let cpu = &mut ctx.cpu;
    if let Some((ops, len)) = cpu.rip_cache.probe(cpu.rip, cpu.tlb.generation) {
        let icount = cpu.icount + len;
        if icount <= cpu.link_end {
            cpu.icount = icount;
            // SAFETY: the entry's stamp matches, so `ops` points at a
            // block's ops and its sentinel in the code-cache arena, which
            // nothing can change while a chain runs.
            return unsafe { ((*ops).exec.0)(ctx, ops) };
        }
    }
    Why::Continue
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

    /// Runs the chain starting at `ops[0]` (a whole block, whose
    /// instructions this counts) and returns how it ended (RIP set
    /// accordingly, the count exact).
    ///
    /// The slice must end with a sentinel ([`Op::sentinel`]); blocks in the
    /// code cache and the pair built by [`run_single`] do.
    #[inline(always)]
    pub fn run_chain(ctx: &mut Ctx, ops: &[Op]) -> Why {
        debug_assert!(ops.last().is_some_and(|o| o.is_sentinel()));
        debug_assert_eq!(usize::from(ops[0].left), ops.len() - 1);
        // SAFETY: `ops` ends with a sentinel and is borrowed for the whole
        // call.
        unsafe { Self::run_chain_at(ctx, ops.as_ptr()) }
    }

    /// [`Op::run_chain`] for the block whose first op is at `p`.
    ///
    /// # Safety
    /// `p` points at the first op of a block followed by the rest of its
    /// ops and its sentinel, which stay alive and unmodified while the
    /// chain runs.
    #[inline(always)]
    pub unsafe fn run_chain_at(ctx: &mut Ctx, p: *const Op) -> Why {
        // SAFETY: `p` points at a live op (the caller's contract).
        ctx.cpu.icount += u64::from(unsafe { (*p).left });
        // SAFETY: every op but the sentinel has a successor, and the chain
        // stops at the sentinel (the caller's contract).
        unsafe { ((*p).exec.0)(ctx, p) }
    }

    /// Is this a block-end sentinel?
    pub fn is_sentinel(&self) -> bool {
        std::ptr::fn_addr_eq(self.exec.0, block_end as Threaded)
    }
}

/// Runs exactly one op (a copy of `op` with its unfused handler, followed
/// by a sentinel): the one-at-a-time path (single step, budget end).
pub fn run_single(ctx: &mut Ctx, op: &Op) -> Why {
    ctx.cpu.link_end = 0;
    let mut one = *op;
    one.exec = one.alt;
    one.left = 1;
    one.idx = 0;
    one.before = 0;
    let pair = [one, Op::sentinel(op.next_rip)];
    Op::run_chain(ctx, &pair)
}
