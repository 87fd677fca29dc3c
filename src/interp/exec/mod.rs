//! Instruction handlers, one file per family, and the types they share.
//!
//! A decoded instruction is an [`Op`]: the handler chosen at decode time
//! plus operands resolved into register numbers, a displacement and an
//! immediate, so executing it never re-inspects the encoding. Handlers get
//! a [`Ctx`] (the vCPU and the platform) and return [`Exec`].

pub mod alu;
pub mod bits;
pub mod ctrl;
pub mod data;
pub mod far;
pub mod hypercall;
pub mod io;
pub mod muldiv;
pub mod pair;
pub mod shift;
pub mod sse;
pub mod stack;
pub mod string;
pub mod system;
pub mod thread;
pub mod x87;

pub use thread::{
    Handler, fast, fast_jump, fused, fused_loop, fused_mem, fused_switch, handler, pure, pure_loop,
};

use super::cpu::Cpu;
use super::platform::Platform;

/// Why a handler stopped the straight-line execution of its block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Stop {
    /// The instruction completed and set RIP itself (taken branch).
    Jump,
    /// The instruction completed and changed state the block loop must
    /// re-examine (mode, interrupt flag, paging ...). RIP not yet advanced.
    Exit,
    /// The instruction raised an exception (details in `Cpu::fault`);
    /// architectural state is as before the instruction.
    Fault,
}

pub type Exec = Result<(), Stop>;

/// The vCPU and its surroundings during execution: the [`Cpu`] itself
/// (not a pointer to it, so that handlers reach registers at a fixed offset
/// from the one pointer they get, with no load in between) and, through
/// the pointer the run loop stores in it, the platform.
#[repr(transparent)]
pub struct Ctx {
    pub cpu: Cpu,
}

/// The platform a vCPU runs against, stored in the [`Cpu`] while it runs
/// (see [`Ctx::enter`]).
#[derive(Default)]
pub struct PlatformSlot(Option<std::ptr::NonNull<dyn Platform>>);

impl Ctx {
    /// The execution context of `cpu` running against `plat`: valid for
    /// as long as both borrows.
    pub fn enter<'a>(cpu: &'a mut Cpu, plat: &'a mut dyn Platform) -> &'a mut Ctx {
        // SAFETY: only the lifetime is erased. The pointer is dereferenced
        // only through the `&'a mut Ctx` returned here (`plat`, `parts`),
        // so never after `plat`'s borrow ends; the next `enter` replaces
        // it.
        let erased: &'static mut dyn Platform = unsafe { std::mem::transmute(plat) };
        cpu.plat = PlatformSlot(Some(std::ptr::NonNull::from(erased)));
        // SAFETY: `Ctx` is a transparent wrapper of `Cpu`.
        unsafe { &mut *(cpu as *mut Cpu as *mut Ctx) }
    }

    /// The platform.
    #[inline]
    pub fn plat(&mut self) -> &mut dyn Platform {
        self.parts().1
    }

    /// The vCPU and the platform, borrowed together.
    #[inline]
    pub fn parts(&mut self) -> (&mut Cpu, &mut dyn Platform) {
        let Some(mut p) = self.cpu.plat.0 else {
            unreachable!("a Ctx is only made by Ctx::enter, which sets the platform")
        };
        // SAFETY: set by `enter` from a borrow that outlives `self`; the
        // platform is a separate object from the Cpu, and `&mut self`
        // makes this the only use of the pointer.
        (&mut self.cpu, unsafe { p.as_mut() })
    }
}

/// A decoded instruction.
///
/// The meaning of `r0`/`r1` and `imm` depends on the handler. Memory
/// operands are `seg:[base + index << scale + disp]` masked to the address
/// size; an absent base or index is [`ZERO_REG`](super::cpu::ZERO_REG), and
/// RIP-relative operands have their absolute address folded into `disp`.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Op {
    pub exec: Handler,
    /// The handler for this instruction alone: `exec` unless `exec` was
    /// fused with the next op's at block build (CMP/TEST + Jcc), in which
    /// case one-at-a-time execution (single step, budget end) uses this.
    pub alt: Handler,
    /// RIP of this instruction and of the next one (blocks are keyed by
    /// RIP, so both are fixed). The block loop leaves `Cpu::rip` at the
    /// block's start while it runs; handlers use these instead.
    pub rip: u64,
    pub next_rip: u64,
    pub disp: u64,
    pub imm: u64,
    pub len: u8,
    pub r0: u8,
    pub r1: u8,
    /// Third register operand (VEX sources, SHLD/SHRD, IMUL three-operand).
    pub r2: u8,
    pub base: u8,
    pub index: u8,
    pub scale: u8,
    pub seg: u8,
    /// Address-size mask selector: 0 = 16-bit, 1 = 32-bit, 2 = 64-bit.
    pub asize: u8,
    /// Operand size in bytes where a handler serves several sizes.
    pub osize: u8,
    /// REP/REPE/REPNE prefix: 0 none, 1 REP/REPE, 2 REPNE.
    pub rep: u8,
    /// Instructions from this op to the end of its block, this one
    /// included. A block's instructions are counted when it is entered
    /// (`Cpu::icount` runs ahead by `left` while the op executes), so ops
    /// that neither stop the chain nor look at the count pay nothing; see
    /// [`thread`].
    pub left: u8,
    /// This op's index in its block (the block's first op is `idx` ops
    /// back): lets a branch to its own block's start re-enter it directly
    /// ([`thread::fused_loop`], [`thread::pure_loop`]).
    pub idx: u8,
    /// Guest instructions in this op's block before it. Equal to `idx`
    /// unless instructions that only retire (NOPs, followed jumps) were
    /// folded into the op before them at block build: they have no op of
    /// their own but are counted like the others.
    pub before: u8,
    /// A second small immediate (ENTER level, far pointer selector).
    pub imm2: u16,
}

const _: () = assert!(std::mem::size_of::<Op>() == 64, "an op is one cache line");

/// Length of the register file (`Cpu::regs`): every register field of an
/// op in the code cache is below this.
pub const REG_SLOTS: usize = 32;

/// Address masks by `Op::asize` (indexed with `& 3`, so the lookup needs no
/// bounds check).
pub const ASIZE_MASK: [u64; 4] = [0xFFFF, 0xFFFF_FFFF, u64::MAX, u64::MAX];

/// The new value of a register used at address size `mask` (rCX, rSI,
/// rDI in string and LOOP instructions): a 16-bit update keeps bits 63:16,
/// a 32-bit one zero-extends (as every 32-bit register write does).
#[inline(always)]
pub fn addr_reg_update(old: u64, new: u64, mask: u64) -> u64 {
    if mask == 0xFFFF {
        (old & !0xFFFF) | (new & 0xFFFF)
    } else {
        new & mask
    }
}

impl Op {
    /// A placeholder op (used while a block is being built).
    pub fn new(exec: Handler) -> Self {
        Op {
            exec,
            alt: exec,
            rip: 0,
            next_rip: 0,
            disp: 0,
            imm: 0,
            len: 0,
            r0: 0,
            r1: 0,
            r2: 0,
            base: super::cpu::ZERO_REG,
            index: super::cpu::ZERO_REG,
            scale: 0,
            seg: 3,
            asize: 2,
            osize: 8,
            rep: 0,
            left: 1,
            idx: 0,
            before: 0,
            imm2: 0,
        }
    }
}

/// Picks a handler monomorphised for an operand width in bits:
/// `by_width!(bits, f)` or `by_width!(bits, f, CONST_ARGS...)`.
#[macro_export]
macro_rules! by_width {
    ($bits:expr, $f:ident $(, $c:expr)*) => {
        $crate::by_width_with!(handler, $bits, $f $(, $c)*)
    };
}

/// [`by_width!`] for handlers that only touch registers, flags and RIP
/// (see [`thread::pure`]).
#[macro_export]
macro_rules! by_width_pure {
    ($bits:expr, $f:ident $(, $c:expr)*) => {
        $crate::by_width_with!(pure, $bits, $f $(, $c)*)
    };
}

/// The width dispatch behind [`by_width!`] and [`by_width_pure!`], with
/// the wrapper constructor (`handler` or `pure`) as the first argument.
#[macro_export]
macro_rules! by_width_with {
    ($wrap:ident, $bits:expr, $f:ident $(, $c:expr)*) => {
        match $bits {
            8 => $crate::interp::exec::$wrap($f::<$crate::interp::exec::W8 $(, $c)*>),
            16 => $crate::interp::exec::$wrap($f::<$crate::interp::exec::W16 $(, $c)*>),
            32 => $crate::interp::exec::$wrap($f::<$crate::interp::exec::W32 $(, $c)*>),
            _ => $crate::interp::exec::$wrap($f::<$crate::interp::exec::W64 $(, $c)*>),
        }
    };
}

/// [`by_width!`] for handlers split into a fast path and a full handler
/// (see [`thread::fast`]): `by_width_fast!(bits, fast_fn [CONSTS], full_fn
/// [CONSTS])`.
#[macro_export]
macro_rules! by_width_fast {
    ($bits:expr, $f:ident [$($c:expr),*], $s:ident [$($d:expr),*]) => {
        match $bits {
            8 => $crate::interp::exec::fast(
                $f::<$crate::interp::exec::W8 $(, $c)*>,
                $s::<$crate::interp::exec::W8 $(, $d)*>,
            ),
            16 => $crate::interp::exec::fast(
                $f::<$crate::interp::exec::W16 $(, $c)*>,
                $s::<$crate::interp::exec::W16 $(, $d)*>,
            ),
            32 => $crate::interp::exec::fast(
                $f::<$crate::interp::exec::W32 $(, $c)*>,
                $s::<$crate::interp::exec::W32 $(, $d)*>,
            ),
            _ => $crate::interp::exec::fast(
                $f::<$crate::interp::exec::W64 $(, $c)*>,
                $s::<$crate::interp::exec::W64 $(, $d)*>,
            ),
        }
    };
}

/// [`by_width_fast!`] for a fast path whose last const parameter is the
/// memory operand's address form (`mem::AF_*`), picked from `af`:
/// `by_width_fast_af!(af, bits, fast_fn [CONSTS], full_fn [CONSTS])`.
#[macro_export]
macro_rules! by_width_fast_af {
    ($af:expr, $bits:expr, $f:ident [$($c:expr),*], $s:ident [$($d:expr),*]) => {
        match $af {
            $crate::interp::mem::AF_FLAT_BD => $crate::by_width_fast!(
                $bits, $f[$($c,)* { $crate::interp::mem::AF_FLAT_BD }], $s[$($d),*]
            ),
            // AF_FLAT and the scale-specific forms (AF_FLAT_S1 ..= +3).
            1 | 3..=6 => $crate::by_width_fast!(
                $bits, $f[$($c,)* { $crate::interp::mem::AF_FLAT }], $s[$($d),*]
            ),
            _ => $crate::by_width_fast!(
                $bits, $f[$($c,)* { $crate::interp::mem::AF_SEG }], $s[$($d),*]
            ),
        }
    };
}

/// [`by_width_fast_af!`] that also specialises indexed forms on their
/// scale (`mem::AF_FLAT_S1` ...): for the hottest memory handlers.
#[macro_export]
macro_rules! by_width_fast_afs {
    ($af:expr, $bits:expr, $f:ident [$($c:expr),*], $s:ident [$($d:expr),*]) => {
        match $af {
            3 => $crate::by_width_fast!($bits, $f[$($c,)* 3], $s[$($d),*]),
            4 => $crate::by_width_fast!($bits, $f[$($c,)* 4], $s[$($d),*]),
            5 => $crate::by_width_fast!($bits, $f[$($c,)* 5], $s[$($d),*]),
            6 => $crate::by_width_fast!($bits, $f[$($c,)* 6], $s[$($d),*]),
            af => $crate::by_width_fast_af!(af, $bits, $f[$($c),*], $s[$($d),*]),
        }
    };
}

/// Operand sizes handlers are generic over, with their bit width and mask.
pub trait Width: Copy {
    const BITS: u32;
    const MASK: u64;
    const BYTES: usize;
}

macro_rules! width {
    ($name:ident, $bits:expr) => {
        #[derive(Clone, Copy)]
        pub struct $name;
        impl Width for $name {
            const BITS: u32 = $bits;
            const MASK: u64 = if $bits == 64 {
                u64::MAX
            } else {
                (1u64 << $bits) - 1
            };
            const BYTES: usize = $bits / 8;
        }
    };
}
width!(W8, 8);
width!(W16, 16);
width!(W32, 32);
width!(W64, 64);

impl Ctx {
    /// Effective address of the op's memory operand (before segmentation).
    #[inline(always)]
    pub fn ea(&self, op: &Op) -> u64 {
        (self
            .gpr(op.base)
            .wrapping_add(self.gpr(op.index) << (op.scale & 3))
            .wrapping_add(op.disp))
            & ASIZE_MASK[op.asize as usize & 3]
    }

    /// Slot `n` of the register file (0–15 the GPRs, 16 the zero slot).
    #[inline(always)]
    pub fn gpr(&self, n: u8) -> u64 {
        debug_assert!((n as usize) < REG_SLOTS);
        // SAFETY: ops reach handlers only from the code-cache arena, and
        // `CodeCache::push_op` keeps every register field below
        // `REG_SLOTS`, the register file's length.
        unsafe { *self.cpu.regs.get_unchecked(n as usize) }
    }

    /// Mutable slot `n` of the register file (see [`Self::gpr`]).
    #[inline(always)]
    pub fn gpr_mut(&mut self, n: u8) -> &mut u64 {
        debug_assert!((n as usize) < REG_SLOTS);
        // SAFETY: as in `gpr`.
        unsafe { self.cpu.regs.get_unchecked_mut(n as usize) }
    }

    /// Reads register `n` at width `W`. For 8-bit registers, 16..=19 are
    /// AH, CH, DH, BH.
    #[inline(always)]
    pub fn reg<W: Width>(&self, n: u8) -> u64 {
        if W::BITS == 8 && n >= 16 {
            (self.gpr(n - 16) >> 8) & 0xFF
        } else {
            debug_assert!(n < 16, "register {n} at {} bits", W::BITS);
            self.gpr(n) & W::MASK
        }
    }

    /// Writes register `n` at width `W` (32-bit writes zero the upper half;
    /// 8- and 16-bit writes merge).
    #[inline(always)]
    pub fn set_reg<W: Width>(&mut self, n: u8, v: u64) {
        debug_assert!(n < 16 || (W::BITS == 8 && n < 20), "register {n}");
        match W::BITS {
            64 => *self.gpr_mut(n) = v,
            32 => *self.gpr_mut(n) = v & 0xFFFF_FFFF,
            16 => {
                let r = self.gpr_mut(n);
                *r = (*r & !0xFFFF) | (v & 0xFFFF);
            }
            _ => {
                if n >= 16 {
                    let r = self.gpr_mut(n - 16);
                    *r = (*r & !0xFF00) | ((v & 0xFF) << 8);
                } else {
                    let r = self.gpr_mut(n);
                    *r = (*r & !0xFF) | (v & 0xFF);
                }
            }
        }
    }

    /// Reads the op's memory operand at width `W`.
    #[inline(always)]
    pub fn load<W: Width>(&mut self, op: &Op) -> Result<u64, Stop> {
        let ea = self.ea(op);
        self.read_seg::<W>(op.seg, ea)
    }

    /// Reads the memory operand of a read-modify-write instruction. The
    /// location is checked for writing before it is read, so a page fault
    /// reports a write access (error code W = 1) as the processor does:
    /// it translates the destination of ADD, BTS, XCHG, CMPXCHG... with
    /// write intent (found by `nestor difftest`: a not-present page gives
    /// error code 6 at CPL 3, not 4; SDM Vol. 3A, 4.7 "Page-Fault
    /// Exceptions", W/R flag).
    #[inline(always)]
    pub fn load_rmw<W: Width>(&mut self, op: &Op) -> Result<u64, Stop> {
        let ea = self.ea(op);
        self.read_seg_rmw::<W>(op.seg, ea)
    }

    /// [`Self::load_rmw`] for an explicit segment and offset.
    #[inline(always)]
    pub fn read_seg_rmw<W: Width>(&mut self, seg: u8, ea: u64) -> Result<u64, Stop> {
        let la = self.linear(seg, ea, W::BYTES, true)?;
        self.probe_write(la, W::BYTES)?;
        self.read_la(la, W::BYTES)
    }

    /// Writes the op's memory operand at width `W`.
    #[inline(always)]
    pub fn store<W: Width>(&mut self, op: &Op, v: u64) -> Exec {
        let ea = self.ea(op);
        self.write_seg::<W>(op.seg, ea, v)
    }
}

/// Operand width in bits of operand `i` of `insn` (register or memory).
pub fn operand_bits(insn: &iced_x86::Instruction, i: u32) -> u32 {
    use iced_x86::OpKind;
    match insn.op_kind(i) {
        OpKind::Register => (insn.op_register(i).size() * 8) as u32,
        OpKind::Memory => (insn.memory_size().size() * 8) as u32,
        _ => 0,
    }
}

impl Ctx {
    /// RIP of the next instruction.
    #[inline(always)]
    pub fn next_rip(&self, op: &Op) -> u64 {
        op.next_rip
    }
}
