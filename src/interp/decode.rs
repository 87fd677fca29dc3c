//! Decoding with iced-x86 into [`Op`]s, and block building.
//!
//! Each instruction family (`exec/*.rs`) exposes a `decode` function that
//! recognises its mnemonics, picks a handler specialised for the operand
//! form and size, and fills the op's operand fields. Anything no family
//! claims becomes an op that raises #UD and logs the mnemonic once.

use iced_x86::{Decoder, DecoderError, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

use super::cache::{Block, CodeCache, FetchMode, MAX_BLOCK_OPS};
use super::cpu::{Mode, ZERO_REG};
use super::exec::{self, Ctx, Exec, Handler, Op, Stop, handler};
use crate::state::SegReg;

/// What a family decoder returns: the handler, and whether the block must
/// end after this instruction (control transfers, mode changes).
pub struct Decoded {
    pub exec: Handler,
    pub ends_block: bool,
    /// The instruction does nothing but retire (NOP and its hint-space
    /// relatives): inside a block it needs no op of its own.
    pub retire_only: bool,
}

impl Decoded {
    pub fn next(exec: Handler) -> Option<Self> {
        Some(Decoded {
            exec,
            ends_block: false,
            retire_only: false,
        })
    }
    pub fn end(exec: Handler) -> Option<Self> {
        Some(Decoded {
            exec,
            ends_block: true,
            retire_only: false,
        })
    }
    /// An instruction that only retires (see `retire_only`).
    pub fn retire(exec: Handler) -> Option<Self> {
        Some(Decoded {
            exec,
            ends_block: false,
            retire_only: true,
        })
    }
}

/// The fetch mode of the CPU's current state (cached in `Cpu::fetch_mode`
/// by `refresh_mode`).
pub fn fetch_mode(ctx: &Ctx) -> FetchMode {
    FetchMode(ctx.cpu.fetch_mode)
}

/// Computes the fetch-mode key: code size, mode, and the CS limit outside
/// 64-bit mode (fetches are limit-checked at decode time).
pub fn compute_fetch_mode(cpu: &super::cpu::Cpu) -> u64 {
    let m = match cpu.mode {
        Mode::Real => 0,
        Mode::V86 => 1,
        Mode::Protected => 2,
        Mode::Compat => 3,
        Mode::Long => 4,
    };
    let limit = if cpu.mode == Mode::Long {
        0xFFFF_FFFF
    } else {
        cpu.s.seg(SegReg::Cs).limit
    };
    // The TLB key (user/supervisor) is part of it: execute permission
    // depends on it, and the RIP → block cache relies on this key.
    u64::from(cpu.code_bits) | m << 8 | u64::from(cpu.tlb.user()) << 16 | u64::from(limit) << 32
}

/// Can the op's memory operand take the 64-bit flat fast path (linear
/// address = effective address; see [`Ctx::host_fast`])? 64-bit code, a
/// 64-bit address size and a segment other than FS/GS.
pub fn flat64(op: &Op, ctx: &Ctx) -> bool {
    ctx.cpu.mode == Mode::Long
        && ctx.cpu.code_bits == 64
        && op.asize == 2
        && op.seg != SegReg::Fs as u8
        && op.seg != SegReg::Gs as u8
}

/// The address form of the op's memory operand for the access fast path
/// (`mem::AF_*`): flat when [`flat64`], without index when there is none,
/// else with its scale (`AF_FLAT_S1 + scale`; handlers that do not
/// specialise on the scale read it as `AF_FLAT`).
pub fn addr_form(op: &Op, ctx: &Ctx) -> u8 {
    use super::mem::{AF_FLAT_BD, AF_FLAT_S1, AF_SEG};
    match (flat64(op, ctx), op.index == ZERO_REG) {
        (false, _) => AF_SEG,
        (true, false) => AF_FLAT_S1 + (op.scale & 3),
        (true, true) => AF_FLAT_BD,
    }
}

/// Register number of a general register: 0–15 by encoding, 16–19 for
/// AH/CH/DH/BH; None for anything else.
pub fn gpr(r: Register) -> Option<u8> {
    Some(match r {
        Register::AH => 16,
        Register::CH => 17,
        Register::DH => 18,
        Register::BH => 19,
        // `number()` counts 8-bit registers in encoding order with AH–BH at
        // 4–7; the full register's number is the architectural index.
        _ if r.is_gpr() => r.full_register().number() as u8,
        _ => return None,
    })
}

/// Segment register number (ES=0 … GS=5).
pub fn sreg(r: Register) -> Option<u8> {
    Some(match r {
        Register::ES => 0,
        Register::CS => 1,
        Register::SS => 2,
        Register::DS => 3,
        Register::FS => 4,
        Register::GS => 5,
        _ => return None,
    })
}

/// The value of immediate operand `i`, sign- or zero-extended as the
/// instruction defines it.
pub fn imm(insn: &Instruction, i: u32) -> u64 {
    match insn.op_kind(i) {
        OpKind::Immediate8 => u64::from(insn.immediate8()),
        OpKind::Immediate8_2nd => u64::from(insn.immediate8_2nd()),
        OpKind::Immediate16 => u64::from(insn.immediate16()),
        OpKind::Immediate32 => u64::from(insn.immediate32()),
        OpKind::Immediate64 => insn.immediate64(),
        OpKind::Immediate8to16 => insn.immediate8to16() as u16 as u64,
        OpKind::Immediate8to32 => insn.immediate8to32() as u32 as u64,
        OpKind::Immediate8to64 => insn.immediate8to64() as u64,
        OpKind::Immediate32to64 => insn.immediate32to64() as u64,
        _ => 0,
    }
}

pub fn is_imm(k: OpKind) -> bool {
    matches!(
        k,
        OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64
    )
}

/// Legacy prefixes of an encoded instruction: (operand-size 66, address-size 67).
fn prefixes(bytes: &[u8]) -> (bool, bool) {
    let (mut o, mut a) = (false, false);
    for &b in bytes {
        match b {
            0x66 => o = true,
            0x67 => a = true,
            0xF0 | 0xF2 | 0xF3 | 0x2E | 0x36 | 0x3E | 0x26 | 0x64 | 0x65 => {}
            _ => break,
        }
    }
    (o, a)
}

/// Address size (0 = 16, 1 = 32, 2 = 64) for code of `bits` with or
/// without a 67 prefix.
fn address_size(bits: u32, prefix67: bool) -> u8 {
    match (bits, prefix67) {
        (64, false) => 2,
        (64, true) | (32, false) | (16, true) => 1,
        _ => 0,
    }
}

/// Fills the memory-operand fields of `op` from `insn` (explicit memory
/// operand, if any).
fn fill_memory(insn: &Instruction, op: &mut Op) {
    let seg = sreg(insn.memory_segment()).unwrap_or(SegReg::Ds as u8);
    op.seg = seg;
    let base = insn.memory_base();
    if base == Register::RIP || base == Register::EIP {
        // RIP-relative: iced computed the absolute address from the IP.
        op.base = ZERO_REG;
        op.index = ZERO_REG;
        op.disp = insn.memory_displacement64();
        return;
    }
    op.base = gpr(base).filter(|&r| r < 16).unwrap_or(ZERO_REG);
    op.index = gpr(insn.memory_index())
        .filter(|&r| r < 16)
        .unwrap_or(ZERO_REG);
    op.scale = insn.memory_index_scale().trailing_zeros() as u8;
    op.disp = insn.memory_displacement64();
}

/// Fills the generic fields of an op from a decoded instruction.
fn base_op(insn: &Instruction, bytes: &[u8], bits: u32) -> Op {
    let mut op = Op::new(handler(unimplemented_op));
    op.len = insn.len() as u8;
    let (_, a67) = prefixes(bytes);
    op.asize = address_size(bits, a67);
    op.rep = if insn.has_rep_prefix() || insn.has_repe_prefix() {
        1
    } else if insn.has_repne_prefix() {
        2
    } else {
        0
    };
    let has_mem = (0..insn.op_count()).any(|i| insn.op_kind(i) == OpKind::Memory);
    if has_mem {
        fill_memory(insn, &mut op);
    } else {
        // String and XLAT operands: segment (override-able) is DS.
        op.seg = sreg(insn.segment_prefix()).unwrap_or(SegReg::Ds as u8);
    }
    if insn.op_count() > 0
        && let Some(r) = gpr(insn.op0_register())
    {
        op.r0 = r;
    }
    if insn.op_count() > 1
        && let Some(r) = gpr(insn.op1_register())
    {
        op.r1 = r;
    }
    op
}

/// Handler for instructions nestor does not implement: #UD (the mnemonic
/// was logged at decode time).
fn unimplemented_op(ctx: &mut Ctx, _op: &Op) -> Exec {
    Err(ctx.cpu.ud())
}

/// Handler for encodings that are invalid: #UD.
fn invalid_op(ctx: &mut Ctx, _op: &Op) -> Exec {
    Err(ctx.cpu.ud())
}

/// Handler for an instruction that extends past the CS limit: #GP(0).
fn fetch_limit_op(ctx: &mut Ctx, _op: &Op) -> Exec {
    Err(ctx.cpu.gp(0))
}

/// Picks the handler for one instruction.
fn select(insn: &Instruction, op: &mut Op, ctx: &Ctx) -> Decoded {
    type FamilyDecoder = fn(&Instruction, &mut Op, &Ctx) -> Option<Decoded>;
    let families: [FamilyDecoder; 13] = [
        // SIMD first: SSE2 MOVSD/CMPSD share mnemonics with the string
        // instructions (the SIMD decoder only claims xmm forms).
        exec::sse::decode,
        exec::alu::decode,
        exec::data::decode,
        exec::stack::decode,
        exec::ctrl::decode,
        exec::shift::decode,
        exec::muldiv::decode,
        exec::bits::decode,
        exec::string::decode,
        exec::io::decode,
        exec::system::decode,
        exec::hypercall::decode,
        exec::x87::decode,
    ];
    for f in families {
        if let Some(d) = f(insn, op, ctx) {
            return d;
        }
    }
    if insn.mnemonic() == Mnemonic::INVALID {
        return Decoded {
            exec: handler(invalid_op),
            ends_block: true,
            retire_only: false,
        };
    }
    super::events::log_unimplemented(insn.mnemonic());
    Decoded {
        exec: handler(unimplemented_op),
        ends_block: true,
        retire_only: false,
    }
}

/// Builds the block starting at `rip` (physical `pa`, host bytes `host`
/// to the end of the page), inserts it and returns its id.
pub fn build_block(
    ctx: &mut Ctx,
    cache: &mut CodeCache,
    pa: u64,
    host: Option<*const u8>,
    rip: u64,
    mode: FetchMode,
) -> Result<u32, Stop> {
    if cache.full() {
        cache.flush();
    }
    let bits = u32::from(ctx.cpu.code_bits);
    let cs = *ctx.cpu.s.seg(SegReg::Cs);
    let check_limit = ctx.cpu.mode != Mode::Long;
    let ip_mask: u64 = match bits {
        64 => u64::MAX,
        32 => 0xFFFF_FFFF,
        _ => 0xFFFF,
    };
    let first = cache.ops.len() as u32;
    let mut ip = rip;
    let mut page_off = (pa & 0xFFF) as usize;
    let pa_page = pa & !0xFFF;
    let mut pages = [pa_page, pa_page];
    // Instructions decoded, and ops pushed: instructions that only retire
    // (NOPs, followed jumps) get no op unless they start the block.
    let mut n = 0usize;
    let mut k = 0usize;
    // Per op: what the passes after decoding need to know.
    let mut facts = [OpFacts::default(); MAX_BLOCK_OPS];
    // Where execution goes on after the last instruction decoded.
    let mut end_rip = rip;
    let mut insn = Instruction::default();
    let la_page = cs.base.wrapping_add(rip) & !0xFFF;
    let mut followed = 0;
    loop {
        // Gather up to 15 bytes: the rest of this page, then the next page.
        let mut buf = [0u8; 15];
        let in_page = (4096 - page_off).min(15);
        match host {
            // SAFETY: `host` points at `pa` inside a RAM/ROM page and the
            // block never reads past the page end (`in_page`).
            Some(h) => unsafe {
                let p = h.sub((pa & 0xFFF) as usize).add(page_off);
                std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), in_page);
            },
            None => {
                // MMIO fetch: read through the platform, byte by byte.
                for (i, b) in buf.iter_mut().take(in_page).enumerate() {
                    let now = ctx.cpu.now();
                    *b = ctx
                        .plat()
                        .mmio_read(now, pa_page + (page_off + i) as u64, 1)
                        as u8;
                }
            }
        }
        let mut avail = in_page;
        let mut second_page = None;
        if in_page < 15 {
            let la_next = cs
                .base
                .wrapping_add(ip.wrapping_add(in_page as u64) & ip_mask);
            match ctx.fetch_translate(la_next) {
                Ok((pa2, Some(h2))) => {
                    // SAFETY: `h2` points at the start of a RAM/ROM page.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            h2,
                            buf.as_mut_ptr().add(in_page),
                            15 - in_page,
                        )
                    };
                    avail = 15;
                    second_page = Some(pa2 & !0xFFF);
                }
                Ok((_, None)) => {}
                Err(e) if n == 0 => {
                    // The first instruction may need the next page; decode
                    // what we have and raise the fetch fault only if needed.
                    let mut d = Decoder::with_ip(bits, &buf[..avail], ip, DecoderOptions::NONE);
                    d.decode_out(&mut insn);
                    if d.last_error() == DecoderError::NoMoreBytes {
                        return Err(e);
                    }
                }
                Err(_) => {}
            }
        }
        let mut d = Decoder::with_ip(bits, &buf[..avail], ip, DecoderOptions::NONE);
        d.decode_out(&mut insn);
        if d.last_error() == DecoderError::NoMoreBytes {
            // Truncated by an unreadable next page: end the block here (the
            // next block's first instruction will raise the fault).
            if n == 0 {
                let mut op = Op::new(handler(invalid_op));
                op.rip = ip;
                op.next_rip = ip;
                push_op(cache, op);
                k += 1;
                n += 1;
                end_rip = ip;
            }
            break;
        }
        let len = insn.len();
        let mut op = base_op(&insn, &buf[..len], bits);
        let mut dec = select(&insn, &mut op, ctx);
        let over_limit = check_limit && ip.wrapping_add(len as u64 - 1) > u64::from(cs.limit);
        if over_limit {
            dec = Decoded {
                exec: handler(fetch_limit_op),
                ends_block: true,
                retire_only: false,
            };
        }
        op.exec = dec.exec;
        op.alt = dec.exec;
        if k < MAX_BLOCK_OPS && !over_limit {
            facts[k] = OpFacts {
                before: 0,
                flags_op: exec::alu::fusable_flags_op(&insn)
                    .map(|(code, imm, bits)| (code, imm, bits, false))
                    .or_else(|| {
                        exec::alu::fusable_mem_flags_op(&insn, &op, ctx)
                            .map(|(code, imm, bits)| (code, imm, bits, true))
                    }),
                jcc: exec::ctrl::fusable_jcc(&insn, ctx),
                dead_flags: exec::alu::dead_flags_form(&insn),
                kills_flags: exec::alu::overwrites_flags(&insn),
                pair_kind: exec::pair::kind(&insn, &op, ctx),
                switch_jump: exec::ctrl::is_switch_jump(&insn, &op, ctx),
            };
            // A Jcc back to this block's start: a loop.
            if let Some(cc) = facts[k].jcc
                && op.imm == rip
            {
                op.exec = exec::ctrl::JCC_LOOP[usize::from(cc & 15)];
            }
        }
        op.rip = ip;
        op.next_rip = ip.wrapping_add(len as u64) & ip_mask;
        // An unconditional jump to this page: decode on at its target
        // (the jump becomes an op that only retires).
        let follow = exec::ctrl::followable_jmp(&insn, ctx).filter(|&t| {
            !over_limit
                && followed < MAX_FOLLOWED_JMPS
                && n + 1 < MAX_BLOCK_OPS
                && page_off + len < 4096
                && cs.base.wrapping_add(t) & !0xFFF == la_page
        });
        if let Some(target) = follow {
            op.exec = exec::ctrl::JMP_FOLLOWED;
            op.next_rip = target;
        }
        // An instruction that only retires needs no op inside a block: it
        // is counted with the op before it (see `Op::before`). The first
        // one stays, as the block's first op is what one-at-a-time
        // execution at the block's RIP runs.
        let retire_only = dec.retire_only || follow.is_some();
        if k == 0 || over_limit || !retire_only {
            if k < MAX_BLOCK_OPS {
                facts[k].before = n as u8;
            }
            push_op(cache, op);
            k += 1;
        }
        n += 1;
        end_rip = op.next_rip;
        if let Some(target) = follow {
            followed += 1;
            ip = target;
            page_off = (cs.base.wrapping_add(target) & 0xFFF) as usize;
            continue;
        }
        let crosses = page_off + len > 4096;
        if let (true, Some(p2)) = (crosses, second_page) {
            pages[1] = p2;
        }
        let next_ip = ip.wrapping_add(len as u64);
        if dec.ends_block
            || n >= MAX_BLOCK_OPS
            || page_off + len >= 4096
            || next_ip & ip_mask != next_ip
        {
            break;
        }
        ip = next_ip;
        page_off += len;
    }
    // A newly marked page is logged; every vCPU's TLB (this one's too, at
    // its next attention or slice) then stops granting direct writes to it.
    // Until then this vCPU's own writes could miss the block: protect now.
    for page in if pages[1] != pa_page {
        &pages[..]
    } else {
        &pages[..1]
    } {
        if !ctx.plat().mem().is_code_page(*page) {
            ctx.plat().mem().mark_code_page(*page);
            ctx.cpu.tlb.protect_code_page(*page);
        }
    }
    // An ALU op followed by one that overwrites every flag: its own flags
    // can never be seen (ops of a chain run back to back; a budget end or
    // single step between them runs each op's full `alt` handler).
    // Instructions folded away between them (NOPs, followed jumps) touch
    // no flags.
    let mut flags_dead = [false; MAX_BLOCK_OPS];
    for j in 0..k.saturating_sub(1).min(MAX_BLOCK_OPS - 1) {
        if let (Some(h), true) = (facts[j].dead_flags, facts[j + 1].kills_flags) {
            cache.ops[first as usize + j].exec = h;
            flags_dead[j] = true;
        }
    }
    fuse_pairs(cache, first as usize, k, rip, &facts);
    let kinds: [Option<u8>; MAX_BLOCK_OPS] = std::array::from_fn(|j| {
        if flags_dead[j] {
            facts[j].pair_kind.1
        } else {
            facts[j].pair_kind.0
        }
    });
    ctx.cpu.stats.pairs_built += pair_ops(cache, first as usize, k, &kinds);
    // What each op counts when it leaves the block (see `exec::thread`).
    for (i, op) in cache.ops[first as usize..].iter_mut().enumerate() {
        op.before = facts[i].before;
        op.left = (n - usize::from(facts[i].before)) as u8;
        op.idx = i as u8;
    }
    // The sentinel ends the block's threaded chain (see `exec::thread`).
    cache.push_op(Op::sentinel(end_rip));
    ctx.cpu.stats.blocks_built += 1;
    ctx.cpu.stats.insns_decoded += n as u64;
    Ok(cache.insert(Block {
        pa,
        rip,
        mode,
        first,
        len: k as u16,
        insns: n as u16,
        pages,
        live: true,
    }))
}

/// What block build learns about each op's instruction while decoding,
/// for the passes after it (dead flags, fusion, pairing).
#[derive(Clone, Copy, Default)]
struct OpFacts {
    /// Instructions before the op in the block (see `Op::before`).
    before: u8,
    /// A CMP/TEST that can fuse with a following Jcc: (operation,
    /// immediate form?, bits, memory operand?).
    flags_op: Option<(u8, bool, u32, bool)>,
    /// The condition of a fusable Jcc.
    jcc: Option<u8>,
    /// The handler to use if its flags are dead, and whether it overwrites
    /// all flags (see `alu::dead_flags_form`).
    dead_flags: Option<Handler>,
    kills_flags: bool,
    /// Its kinds (flags live, flags dead) for running it paired with its
    /// neighbour (`exec::pair`).
    pair_kind: (Option<u8>, Option<u8>),
    /// A switch-table jump (see `alu::fused_cmp_jcc_switch`).
    switch_jump: bool,
}

/// How many unconditional jumps one block may follow (bounds the
/// duplication of code reached by several jumps).
const MAX_FOLLOWED_JMPS: u32 = 4;

/// Fuses each CMP/TEST (of registers, or of a flat `[base + disp]`
/// operand) immediately followed by a Jcc into one op (the Jcc's op stays,
/// skipped by the fused one; see `exec::thread::fused`, `fused_mem`); a
/// register CMP + JA/JAE right before a switch-table jump fuses with the
/// jump too (`fused_switch`).
/// A pair with a folded-away instruction between them is not fused (the
/// fused op retires exactly two).
fn fuse_pairs(
    cache: &mut CodeCache,
    first: usize,
    k: usize,
    rip: u64,
    facts: &[OpFacts; MAX_BLOCK_OPS],
) {
    for j in 0..k.saturating_sub(1).min(MAX_BLOCK_OPS - 1) {
        let (Some((code, imm, bits, mem)), Some(cc)) = (facts[j].flags_op, facts[j + 1].jcc) else {
            continue;
        };
        if facts[j + 1].before != facts[j].before + 1 {
            continue;
        }
        let target = cache.ops[first + j + 1].imm;
        let op = &mut cache.ops[first + j];
        if mem {
            // The operand's displacement stays; the target is read from
            // the Jcc's op.
            op.exec = exec::alu::fused_cmp_m_jcc(code, imm, bits, cc);
        } else {
            // A branch back to the block's start (`rip`) is a loop.
            op.exec = exec::alu::fused_cmp_jcc(code, imm, bits, cc, target == rip);
            op.disp = target;
            // A bounds check right before a switch-table jump.
            if j + 2 < k.min(MAX_BLOCK_OPS)
                && facts[j + 2].switch_jump
                && facts[j + 2].before == facts[j + 1].before + 1
                && target != rip
                && let Some(h) = exec::alu::fused_cmp_jcc_switch(code, imm, bits, cc)
            {
                op.exec = h;
            }
        }
    }
}

/// Runs adjacent ops that pair ([`exec::pair`]) with one handler, left to
/// right; the second op of a pair does not start another (the pair runs
/// it, so its own handler only serves one-at-a-time execution and entries
/// into the block, which never land on it).
/// Returns the number of pairs.
fn pair_ops(
    cache: &mut CodeCache,
    first: usize,
    k: usize,
    kinds: &[Option<u8>; MAX_BLOCK_OPS],
) -> u64 {
    let mut pairs = 0;
    let mut j = 0;
    while j + 1 < k.min(MAX_BLOCK_OPS) {
        if let (Some(a), Some(b)) = (kinds[j], kinds[j + 1])
            && let Some(h) = exec::pair::handler(a, b)
        {
            cache.ops[first + j].exec = h;
            pairs += 1;
            j += 2;
        } else {
            j += 1;
        }
    }
    pairs
}

fn push_op(cache: &mut CodeCache, op: Op) {
    cache.push_op(op);
}
