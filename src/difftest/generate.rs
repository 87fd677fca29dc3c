//! The sequence generator: seeded, reproducible (sequence `i` of seed `s`
//! depends on nothing else), table-driven from iced-x86's opcode tables.
//!
//! Every `Code` whose mnemonic is in [`MNEMONICS`], which is valid in
//! 64-bit mode, whose CPUID features the CPU model has and whose operands
//! the generator knows how to fill is a candidate. Operands are random
//! registers (never RSP or R15: R15 is the data pointer and RSP the stack),
//! immediates biased to edge values, or memory operands based on R15 (the
//! data pages) or RSP. A few instructions get helpers in front of them
//! (a small RCX and data pointers before string instructions, a zeroed or
//! sign-extended RDX before a division half of the time).

use iced_x86::{
    Code, CpuidFeature, Decoder, DecoderOptions, Encoder, Instruction, Mnemonic, OpCodeOperandKind,
    OpKind, Register, RepPrefixKind,
};

use super::sandbox::{CODE, CODE_SIZE, DATA, DATA_SIZE, Privilege};
use crate::model::{CpuModel, Feature};

/// A small deterministic PRNG (SplitMix64): no host randomness reaches a
/// sequence.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// A value biased towards the edges arithmetic cares about.
    pub fn value(&mut self) -> u64 {
        match self.below(8) {
            0 => self.below(17),
            1 => self.pick(&[
                0,
                1,
                u64::MAX,
                0x7F,
                0x80,
                0xFF,
                0x7FFF,
                0x8000,
                0xFFFF,
                0x7FFF_FFFF,
                0x8000_0000,
                0xFFFF_FFFF,
                0x1_0000_0000,
                0x7FFF_FFFF_FFFF_FFFF,
                0x8000_0000_0000_0000,
            ]),
            2 => self.next_u64() >> self.below(64),
            3 => (self.below(64) as i64 - 32) as u64,
            _ => self.next_u64(),
        }
    }
}

/// The mnemonics sequences are made of (SDM Vol. 2 instruction names).
pub const MNEMONICS: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Add, Or, Adc, Sbb, And, Sub, Xor, Cmp, Test, Inc, Dec, Neg, Not, Mul, Imul, Div, Idiv, Rol,
        Ror, Rcl, Rcr, Shl, Shr, Sar, Shld, Shrd, Bt, Bts, Btr, Btc, Bsf, Bsr, Bswap, Popcnt,
        Lzcnt, Tzcnt, Andn, Bextr, Blsi, Blsmsk, Blsr, Bzhi, Pdep, Pext, Rorx, Sarx, Shlx, Shrx,
        Mulx, Adcx, Adox, Cmovo, Cmovno, Cmovb, Cmovae, Cmove, Cmovne, Cmovbe, Cmova, Cmovs,
        Cmovns, Cmovp, Cmovnp, Cmovl, Cmovge, Cmovle, Cmovg, Seto, Setno, Setb, Setae, Sete, Setne,
        Setbe, Seta, Sets, Setns, Setp, Setnp, Setl, Setge, Setle, Setg, Lea, Mov, Movzx, Movsx,
        Movsxd, Xchg, Xadd, Cmpxchg, Cmpxchg8b, Cmpxchg16b, Push, Pop, Pushfq, Popfq, Cbw, Cwde,
        Cdqe, Cwd, Cdq, Cqo, Clc, Stc, Cmc, Cld, Std, Lahf, Sahf, Movbe, Crc32, Xlatb,
    ]
};

/// String instructions (built with iced's string constructors, each with
/// its helpers).
const STRINGS: &[Mnemonic] = {
    use Mnemonic::*;
    &[
        Movsb, Movsw, Movsd, Movsq, Stosb, Stosw, Stosd, Stosq, Lodsb, Lodsw, Lodsd, Lodsq, Cmpsb,
        Cmpsw, Cmpsd, Cmpsq, Scasb, Scasw, Scasd, Scasq,
    ]
};

/// Registers the generator may name, by size (no RSP, no R15).
const R8: &[Register] = {
    use Register::*;
    &[
        AL, CL, DL, BL, AH, CH, DH, BH, BPL, SIL, DIL, R8L, R9L, R10L, R11L, R12L, R13L, R14L,
    ]
};
const R16: &[Register] = {
    use Register::*;
    &[
        AX, CX, DX, BX, BP, SI, DI, R8W, R9W, R10W, R11W, R12W, R13W, R14W,
    ]
};
const R32: &[Register] = {
    use Register::*;
    &[
        EAX, ECX, EDX, EBX, EBP, ESI, EDI, R8D, R9D, R10D, R11D, R12D, R13D, R14D,
    ]
};
const R64: &[Register] = {
    use Register::*;
    &[
        RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14,
    ]
};

/// R15 points here: memory operands reach both data pages with a signed
/// 32-bit displacement and most with an 8-bit one around the middle.
pub const DATA_PTR: u64 = DATA + 0x800;

/// The model feature a CPUID feature of iced's tables needs; `None` for
/// baseline x86-64, `Err` for features the generator does not handle.
fn model_feature(f: CpuidFeature) -> Result<Option<Feature>, ()> {
    use CpuidFeature as C;
    Ok(match f {
        C::INTEL8086 | C::INTEL186 | C::INTEL286 | C::INTEL386 | C::INTEL486 | C::X64 => None,
        C::CMOV => Some(Feature::Cmov),
        C::CX8 => Some(Feature::Cx8),
        C::CMPXCHG16B => Some(Feature::Cx16),
        C::POPCNT => Some(Feature::Popcnt),
        C::LZCNT => Some(Feature::Abm),
        C::BMI1 => Some(Feature::Bmi1),
        C::BMI2 => Some(Feature::Bmi2),
        C::MOVBE => Some(Feature::Movbe),
        C::ADX => Some(Feature::Adx),
        C::SSE4_2 => Some(Feature::Sse4_2),
        _ => return Err(()),
    })
}

fn operand_ok(k: OpCodeOperandKind) -> bool {
    use OpCodeOperandKind as K;
    matches!(
        k,
        K::r8_reg
            | K::r8_opcode
            | K::r8_or_mem
            | K::r16_reg
            | K::r16_rm
            | K::r16_opcode
            | K::r16_or_mem
            | K::r32_reg
            | K::r32_rm
            | K::r32_opcode
            | K::r32_vvvv
            | K::r32_or_mem
            | K::r64_reg
            | K::r64_rm
            | K::r64_opcode
            | K::r64_vvvv
            | K::r64_or_mem
            | K::mem
            | K::al
            | K::cl
            | K::ax
            | K::eax
            | K::rax
            | K::imm8
            | K::imm8_const_1
            | K::imm8sex16
            | K::imm8sex32
            | K::imm8sex64
            | K::imm16
            | K::imm32
            | K::imm32sex64
            | K::imm64
    )
}

/// One generated instruction: its bytes at its address, and iced's decoding
/// of them.
#[derive(Clone, Debug)]
pub struct GenInstr {
    /// Offset in the code page.
    pub offset: u64,
    pub bytes: Vec<u8>,
    pub instr: Instruction,
}

/// A generated test case: initial registers, flags and data, and the code.
#[derive(Clone, Debug)]
pub struct Sequence {
    /// Its number in the batch (with the seed, all it depends on).
    pub index: u64,
    pub privilege: Privilege,
    pub gpr: [u64; 16],
    /// Initial status flags and DF.
    pub flags: u64,
    /// The two data pages.
    pub data: Vec<u8>,
    /// The stack page.
    pub stack: Vec<u8>,
    pub instrs: Vec<GenInstr>,
}

/// The candidate instructions for a CPU model.
pub struct Generator {
    codes: Vec<Code>,
    strings: Vec<Code>,
}

impl Generator {
    pub fn new(model: &CpuModel) -> Generator {
        let mut codes = Vec::new();
        let mut strings = Vec::new();
        for code in Code::values() {
            let oc = code.op_code();
            if !oc.is_instruction() || !oc.mode64() {
                continue;
            }
            let m = code.mnemonic();
            let is_string = STRINGS.contains(&m);
            if !MNEMONICS.contains(&m) && !is_string {
                continue;
            }
            if matches!(m, Mnemonic::Lahf | Mnemonic::Sahf) && !model.has(Feature::LahfLm) {
                continue;
            }
            let mut ins = Instruction::default();
            ins.set_code(code);
            let features_ok = ins
                .cpuid_features()
                .iter()
                .all(|&f| match model_feature(f) {
                    Ok(None) => true,
                    Ok(Some(f)) => model.has(f),
                    Err(()) => false,
                });
            if !features_ok {
                continue;
            }
            if is_string {
                // The 64-bit address-size forms only.
                if oc.address_size() == 0 || oc.address_size() == 64 {
                    strings.push(code);
                }
                continue;
            }
            if (0..oc.op_count()).all(|i| operand_ok(oc.op_kind(i))) {
                codes.push(code);
            }
        }
        strings.dedup();
        Generator { codes, strings }
    }

    /// How many distinct instruction forms sequences draw from.
    pub fn forms(&self) -> usize {
        self.codes.len() + self.strings.len()
    }

    /// Sequence `index` of the batch `seed`: `len` generated instructions
    /// (plus helpers), at `privilege`.
    pub fn sequence(&self, seed: u64, index: u64, len: usize, privilege: Privilege) -> Sequence {
        let mut rng = Rng::new(seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
        // Warm up so neighbouring indices diverge at once.
        rng.next_u64();
        let mut gpr = [0u64; 16];
        for g in gpr.iter_mut() {
            *g = rng.value();
        }
        gpr[15] = DATA_PTR;
        let flags = rng.next_u64() & 0xFFF;
        let mut data = vec![0u8; DATA_SIZE as usize];
        fill(&mut rng, &mut data);
        let mut stack = vec![0u8; 0x1000];
        fill(&mut rng, &mut stack);
        let mut b = Builder {
            rng,
            out: Vec::new(),
            offset: 0,
            privilege,
        };
        for _ in 0..len {
            if b.offset + 64 > CODE_SIZE {
                break;
            }
            // A few operand combinations cannot be encoded (AH with a REX
            // prefix): draw again.
            for _ in 0..8 {
                let done = if !self.strings.is_empty() && b.rng.chance(1, 16) {
                    let code = b.rng.pick(&self.strings);
                    b.string(code)
                } else if !self.codes.is_empty() {
                    let code = b.rng.pick(&self.codes);
                    b.instruction(code)
                } else {
                    true
                };
                if done {
                    break;
                }
            }
        }
        Sequence {
            index,
            privilege,
            gpr,
            flags,
            data,
            stack,
            instrs: b.out,
        }
    }
}

/// The size of a form's first operand in bits (0 if it has none).
fn op0_bits(code: Code) -> u32 {
    use OpCodeOperandKind as K;
    let oc = code.op_code();
    if oc.op_count() == 0 {
        return 0;
    }
    match oc.op_kind(0) {
        K::r8_reg | K::r8_opcode | K::r8_or_mem | K::al | K::cl => 8,
        K::r16_reg | K::r16_rm | K::r16_opcode | K::r16_or_mem | K::ax => 16,
        K::r32_reg | K::r32_rm | K::r32_opcode | K::r32_vvvv | K::r32_or_mem | K::eax => 32,
        _ => 64,
    }
}

fn fill(rng: &mut Rng, buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let v = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

struct Builder {
    rng: Rng,
    out: Vec<GenInstr>,
    offset: u64,
    privilege: Privilege,
}

impl Builder {
    /// Encodes `ins` at the next offset and appends it (dropped silently if
    /// iced refuses the operand combination, e.g. AH with a REX prefix).
    fn emit(&mut self, ins: &Instruction) -> bool {
        let rip = CODE + self.offset;
        let mut enc = Encoder::new(64);
        let Ok(len) = enc.encode(ins, rip) else {
            return false;
        };
        let bytes = enc.take_buffer();
        let mut dec = Decoder::with_ip(64, &bytes, rip, DecoderOptions::NONE);
        let decoded = dec.decode();
        if decoded.is_invalid() || decoded.len() != len {
            return false;
        }
        self.out.push(GenInstr {
            offset: self.offset,
            bytes,
            instr: decoded,
        });
        self.offset += len as u64;
        true
    }

    fn reg(&mut self, size: u32) -> Register {
        match size {
            1 => self.rng.pick(R8),
            2 => self.rng.pick(R16),
            4 => self.rng.pick(R32),
            _ => self.rng.pick(R64),
        }
    }

    /// A memory operand: mostly R15-based into the data pages (some
    /// crossing the page boundary inside them, some running off their end
    /// into unmapped memory), sometimes RSP-based or with an index.
    fn memory(&mut self, ins: &mut Instruction, op: u32) {
        ins.set_op_kind(op, OpKind::Memory);
        let lo = DATA as i64 - DATA_PTR as i64;
        let (base, disp) = match self.rng.below(16) {
            0 => (Register::RSP, self.rng.below(0x200) as i64 - 0x100),
            1 => (Register::R15, 0x1000 + lo - self.rng.below(16) as i64),
            2 => (Register::R15, 0x2000 + lo - self.rng.below(16) as i64),
            3..=6 => (Register::R15, self.rng.below(256) as i64 - 128),
            _ => (Register::R15, lo + self.rng.below(DATA_SIZE) as i64),
        };
        ins.set_memory_base(base);
        if self.rng.chance(1, 8) {
            ins.set_memory_index(self.rng.pick(R64));
            ins.set_memory_index_scale(self.rng.pick(&[1, 2, 4, 8]));
        } else {
            ins.set_memory_index(Register::None);
            ins.set_memory_index_scale(1);
        }
        ins.set_memory_displacement64(disp as u64);
        ins.set_memory_displ_size(if (-128..128).contains(&disp) { 1 } else { 4 });
        ins.set_segment_prefix(Register::None);
    }

    fn imm(&mut self, ins: &mut Instruction, op: u32, kind: OpKind, bits: u32) {
        ins.set_op_kind(op, kind);
        let v = self.rng.value();
        match kind {
            OpKind::Immediate8 => ins.set_immediate8(v as u8),
            OpKind::Immediate8_2nd => ins.set_immediate8_2nd(v as u8),
            OpKind::Immediate16 => ins.set_immediate16(v as u16),
            OpKind::Immediate32 => ins.set_immediate32(v as u32),
            OpKind::Immediate64 => ins.set_immediate64(v),
            OpKind::Immediate8to16 => ins.set_immediate8to16(v as i8 as i16),
            OpKind::Immediate8to32 => ins.set_immediate8to32(v as i8 as i32),
            OpKind::Immediate8to64 => ins.set_immediate8to64(v as i8 as i64),
            OpKind::Immediate32to64 => ins.set_immediate32to64(v as i32 as i64),
            _ => {}
        }
        let _ = bits;
    }

    fn set_reg(ins: &mut Instruction, op: u32, r: Register) {
        ins.set_op_kind(op, OpKind::Register);
        ins.set_op_register(op, r);
    }

    /// A random instance of `code`, with its helpers; false if it could
    /// not be encoded.
    fn instruction(&mut self, code: Code) -> bool {
        let oc = code.op_code();
        let mut ins = Instruction::default();
        ins.set_code(code);
        let mut has_mem = false;
        let mut shift_by_cl = false;
        for i in 0..oc.op_count() {
            use OpCodeOperandKind as K;
            match oc.op_kind(i) {
                K::r8_reg | K::r8_opcode => {
                    let r = self.reg(1);
                    Self::set_reg(&mut ins, i, r)
                }
                K::r16_reg | K::r16_rm | K::r16_opcode => {
                    let r = self.reg(2);
                    Self::set_reg(&mut ins, i, r)
                }
                K::r32_reg | K::r32_rm | K::r32_opcode | K::r32_vvvv => {
                    let r = self.reg(4);
                    Self::set_reg(&mut ins, i, r)
                }
                K::r64_reg | K::r64_rm | K::r64_opcode | K::r64_vvvv => {
                    let r = self.reg(8);
                    Self::set_reg(&mut ins, i, r)
                }
                k @ (K::r8_or_mem | K::r16_or_mem | K::r32_or_mem | K::r64_or_mem) => {
                    if self.rng.chance(1, 2) {
                        has_mem = true;
                        self.memory(&mut ins, i);
                    } else {
                        let size = match k {
                            K::r8_or_mem => 1,
                            K::r16_or_mem => 2,
                            K::r32_or_mem => 4,
                            _ => 8,
                        };
                        let r = self.reg(size);
                        Self::set_reg(&mut ins, i, r);
                    }
                }
                K::mem => {
                    has_mem = true;
                    self.memory(&mut ins, i);
                }
                K::al => Self::set_reg(&mut ins, i, Register::AL),
                K::cl => {
                    shift_by_cl = true;
                    Self::set_reg(&mut ins, i, Register::CL)
                }
                K::ax => Self::set_reg(&mut ins, i, Register::AX),
                K::eax => Self::set_reg(&mut ins, i, Register::EAX),
                K::rax => Self::set_reg(&mut ins, i, Register::RAX),
                K::imm8_const_1 => {
                    ins.set_op_kind(i, OpKind::Immediate8);
                    ins.set_immediate8(1);
                }
                K::imm8 => {
                    let kind = if i > 0 && ins.op_kind(i - 1) == OpKind::Immediate8 {
                        OpKind::Immediate8_2nd
                    } else {
                        OpKind::Immediate8
                    };
                    self.imm(&mut ins, i, kind, 8)
                }
                K::imm8sex16 => self.imm(&mut ins, i, OpKind::Immediate8to16, 8),
                K::imm8sex32 => self.imm(&mut ins, i, OpKind::Immediate8to32, 8),
                K::imm8sex64 => self.imm(&mut ins, i, OpKind::Immediate8to64, 8),
                K::imm16 => self.imm(&mut ins, i, OpKind::Immediate16, 16),
                K::imm32 => self.imm(&mut ins, i, OpKind::Immediate32, 32),
                K::imm32sex64 => self.imm(&mut ins, i, OpKind::Immediate32to64, 32),
                K::imm64 => self.imm(&mut ins, i, OpKind::Immediate64, 64),
                _ => return false,
            }
        }
        let m = code.mnemonic();
        // 16-bit SHLD/SHRD with a count above 16 leave the result undefined
        // (SDM Vol. 2B SHLD/SHRD): keep the count in range.
        let double16 = matches!(m, Mnemonic::Shld | Mnemonic::Shrd) && op0_bits(code) == 16;
        if double16 && ins.op_kind(2) == OpKind::Immediate8 {
            let n = self.rng.below(17) as u8;
            ins.set_immediate8(n | (self.rng.below(2) as u8) << 5);
        }
        if has_mem && oc.can_use_lock_prefix() && self.rng.chance(1, 4) {
            ins.set_has_lock_prefix(true);
        }
        // Helpers. Divisions: a zero or sign-extended high half half the
        // time, so they do not all raise #DE.
        if matches!(m, Mnemonic::Div | Mnemonic::Idiv) && self.rng.chance(1, 2) {
            let size = op0_bits(code);
            let helper = match (m, size) {
                (Mnemonic::Div, 8) => {
                    Instruction::with2(Code::Xor_r32_rm32, Register::EDX, Register::EDX)
                }
                (Mnemonic::Div, 16) => {
                    Instruction::with2(Code::Xor_r16_rm16, Register::DX, Register::DX)
                }
                (Mnemonic::Div, 32) => {
                    Instruction::with2(Code::Xor_r32_rm32, Register::EDX, Register::EDX)
                }
                (Mnemonic::Div, _) => {
                    Instruction::with2(Code::Xor_r32_rm32, Register::EDX, Register::EDX)
                }
                (_, 16) => Ok(Instruction::with(Code::Cwd)),
                (_, 32) => Ok(Instruction::with(Code::Cdq)),
                (_, 64) => Ok(Instruction::with(Code::Cqo)),
                _ => Ok(Instruction::with(Code::Cbw)),
            };
            if let Ok(h) = helper {
                self.emit(&h);
            }
        }
        if shift_by_cl && double16 {
            let n = self.rng.below(17) as u32;
            if let Ok(h) = Instruction::with2(Code::Mov_r8_imm8, Register::CL, n) {
                self.emit(&h);
            }
        }
        // POPF at CPL 0 must not set TF: the #DB would come after the
        // terminator's port exit, which the interpreter delivers before
        // returning and KVM only at its next entry (not a difference).
        if m == Mnemonic::Popfq && self.privilege == Privilege::Kernel {
            let h = Instruction::with2(
                Code::Btr_rm64_imm8,
                iced_x86::MemoryOperand::with_base(Register::RSP),
                8u32,
            );
            if let Ok(h) = h {
                self.emit(&h);
            }
        }
        if m == Mnemonic::Xlatb {
            self.pointer(Register::RBX, 0x100);
        }
        self.emit(&ins)
    }

    /// LEA `reg`, [R15 + d]: a pointer into the data pages with `room`
    /// bytes either side.
    fn pointer(&mut self, reg: Register, room: u64) {
        let lo = DATA as i64 - DATA_PTR as i64 + room as i64;
        let d = lo + self.rng.below(DATA_SIZE - 2 * room) as i64;
        let mut ins = Instruction::default();
        ins.set_code(Code::Lea_r64_m);
        Self::set_reg(&mut ins, 0, reg);
        ins.set_op_kind(1, OpKind::Memory);
        ins.set_memory_base(Register::R15);
        ins.set_memory_index(Register::None);
        ins.set_memory_index_scale(1);
        ins.set_memory_displacement64(d as u64);
        ins.set_memory_displ_size(if (-128..128).contains(&d) { 1 } else { 4 });
        self.emit(&ins);
    }

    /// A string instruction with a REP prefix half the time, after its
    /// helpers: RCX small, RSI/RDI into the data pages.
    fn string(&mut self, code: Code) -> bool {
        use Mnemonic::*;
        let m = code.mnemonic();
        let rep = match m {
            Cmpsb | Cmpsw | Cmpsd | Cmpsq | Scasb | Scasw | Scasd | Scasq => self.rng.pick(&[
                RepPrefixKind::None,
                RepPrefixKind::Repe,
                RepPrefixKind::Repne,
            ]),
            _ => self.rng.pick(&[RepPrefixKind::None, RepPrefixKind::Repe]),
        };
        if rep != RepPrefixKind::None {
            let n = self.rng.below(9) as u32;
            if let Ok(h) = Instruction::with2(Code::Mov_r32_imm32, Register::ECX, n) {
                self.emit(&h);
            }
        }
        let seg = Register::None;
        let built = match m {
            Movsb => Instruction::with_movsb(64, seg, rep),
            Movsw => Instruction::with_movsw(64, seg, rep),
            Movsd => Instruction::with_movsd(64, seg, rep),
            Movsq => Instruction::with_movsq(64, seg, rep),
            Stosb => Instruction::with_stosb(64, rep),
            Stosw => Instruction::with_stosw(64, rep),
            Stosd => Instruction::with_stosd(64, rep),
            Stosq => Instruction::with_stosq(64, rep),
            Lodsb => Instruction::with_lodsb(64, seg, rep),
            Lodsw => Instruction::with_lodsw(64, seg, rep),
            Lodsd => Instruction::with_lodsd(64, seg, rep),
            Lodsq => Instruction::with_lodsq(64, seg, rep),
            Cmpsb => Instruction::with_cmpsb(64, seg, rep),
            Cmpsw => Instruction::with_cmpsw(64, seg, rep),
            Cmpsd => Instruction::with_cmpsd(64, seg, rep),
            Cmpsq => Instruction::with_cmpsq(64, seg, rep),
            Scasb => Instruction::with_scasb(64, rep),
            Scasw => Instruction::with_scasw(64, rep),
            Scasd => Instruction::with_scasd(64, rep),
            _ => Instruction::with_scasq(64, rep),
        };
        let Ok(ins) = built else {
            return false;
        };
        if matches!(
            m,
            Movsb
                | Movsw
                | Movsd
                | Movsq
                | Lodsb
                | Lodsw
                | Lodsd
                | Lodsq
                | Cmpsb
                | Cmpsw
                | Cmpsd
                | Cmpsq
        ) {
            self.pointer(Register::RSI, 0x80);
        }
        if !matches!(m, Lodsb | Lodsw | Lodsd | Lodsq) {
            self.pointer(Register::RDI, 0x80);
        }
        self.emit(&ins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::parse_model;

    #[test]
    fn sequences_are_reproducible_and_seed_dependent() {
        let model = parse_model("max").expect("model");
        let g = Generator::new(&model);
        assert!(g.forms() > 300, "only {} instruction forms", g.forms());
        let a = g.sequence(42, 7, 16, Privilege::User);
        let b = g.sequence(42, 7, 16, Privilege::User);
        let c = g.sequence(43, 7, 16, Privilege::User);
        let bytes =
            |s: &Sequence| -> Vec<u8> { s.instrs.iter().flat_map(|i| i.bytes.clone()).collect() };
        assert_eq!(bytes(&a), bytes(&b));
        assert_eq!((a.gpr, a.flags, &a.data), (b.gpr, b.flags, &b.data));
        assert_ne!(bytes(&a), bytes(&c));
        assert!(a.instrs.len() >= 16);
    }
}
