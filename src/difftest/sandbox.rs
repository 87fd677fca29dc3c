//! The sandbox a generated sequence runs in: 2 MiB of guest memory with a
//! 4-level identity map (4 KiB pages, so system structures can be
//! read-only), a GDT with 64-bit code and data for CPL 0 and CPL 3, a
//! 64-bit TSS (RSP0 for exceptions taken at CPL 3), an IDT whose every
//! vector enters a stub that does `OUT vector, AL` (a port exit on both
//! backends, with nothing changed but RIP), the code page and the data
//! and stack pages the comparison covers.
//!
//! Both backends get the same bytes ([`Sandbox::write_fixed`] and
//! [`Sandbox::write_sequence`]) and start from the same [`VcpuState`]
//! ([`Sandbox::initial_state`]).

use crate::machine::memory::GuestMemory;
use crate::state::segment::ar;
use crate::state::{DescriptorTable, SegReg, Segment, VcpuState, cr0, cr4, efer, rflags};

/// Guest RAM size.
pub const RAM: u64 = 2 << 20;
pub const GDT: u64 = 0x1000;
pub const IDT: u64 = 0x2000;
pub const TSS: u64 = 0x3000;
pub const PML4: u64 = 0x4000;
const PDPT: u64 = 0x5000;
const PD: u64 = 0x6000;
const PT: u64 = 0x7000;
/// Exception stubs: vector v at `STUBS + 8 v` (`OUT v, AL; JMP $`).
pub const STUBS: u64 = 0x8000;
/// Bytes per stub.
pub const STUB_SIZE: u64 = 8;
/// The generated sequence (one page: sequences are short).
pub const CODE: u64 = 0x1_0000;
pub const CODE_SIZE: u64 = 0x1000;
/// Two data pages: memory operands point into them, and accesses near the
/// end of the first one cross into the second.
pub const DATA: u64 = 0x2_0000;
pub const DATA_SIZE: u64 = 0x2000;
/// The stack of the sequence (CPL 0 or 3) and, for CPL 3, the CPL-0
/// stack exceptions switch to (TSS.RSP0).
pub const STACK: u64 = 0x3_0000;
pub const KSTACK: u64 = 0x4_0000;
/// Initial RSP: mid-page, so pushes and pops both stay in the page.
pub const STACK_TOP: u64 = STACK + 0x800;
pub const KSTACK_TOP: u64 = KSTACK + 0x1000;

/// The pages compared after every step: (guest physical address, length).
pub const COMPARED: [(u64, u64); 3] = [(DATA, DATA_SIZE), (STACK, 0x1000), (KSTACK, 0x1000)];

/// Selectors (GDT layout: null, kernel code, kernel data, user code, user
/// data, 64-bit TSS in two slots).
pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_SS: u16 = 0x10;
pub const USER_CS: u16 = 0x18 | 3;
pub const USER_SS: u16 = 0x20 | 3;
pub const TSS_SEL: u16 = 0x28;

/// Privilege of the generated code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    /// CPL 0 (supervisor).
    Kernel,
    /// CPL 3 (user).
    User,
}

impl Privilege {
    pub fn name(self) -> &'static str {
        match self {
            Privilege::Kernel => "supervisor",
            Privilege::User => "user",
        }
    }
}

// Page-table entry bits (SDM Vol. 3A, 4.5 "4-Level Paging").
const P: u64 = 1;
const RW: u64 = 2;
const US: u64 = 4;

/// The fixed part of the sandbox.
pub struct Sandbox;

impl Sandbox {
    /// Writes GDT, IDT, TSS, page tables and stubs into `mem` (done once;
    /// the sequence cannot write them: their pages are read-only and
    /// CR0.WP is set).
    pub fn write_fixed(mem: &GuestMemory) -> Result<(), String> {
        let w = |gpa: u64, v: u64| {
            mem.write_u64(gpa, v)
                .map_err(|_| format!("sandbox write at {gpa:#x} outside guest RAM"))
        };
        // GDT (SDM Vol. 3A, 3.4.5 "Segment Descriptors"); accessed bits
        // preset so neither backend writes the table.
        let gdt: [u64; 5] = [
            0,
            0x00AF_9B00_0000_FFFF, // CPL-0 64-bit code
            0x00CF_9300_0000_FFFF, // CPL-0 data
            0x00AF_FB00_0000_FFFF, // CPL-3 64-bit code
            0x00CF_F300_0000_FFFF, // CPL-3 data
        ];
        for (i, d) in gdt.iter().enumerate() {
            w(GDT + 8 * i as u64, *d)?;
        }
        // 64-bit TSS descriptor, busy (type 11), limit 0x67 (SDM Vol. 3A,
        // 8.2.3 "TSS Descriptor in 64-bit mode").
        let base = TSS;
        let lo = 0x67 | ((base & 0xFF_FFFF) << 16) | (0x8B << 40) | ((base >> 24) & 0xFF) << 56;
        w(GDT + 0x28, lo)?;
        w(GDT + 0x30, base >> 32)?;
        // TSS: RSP0 at offset 4, IST1 at 0x24 (SDM Vol. 3A, Figure 8-11);
        // I/O map base past the limit (no bitmap).
        mem.write_u32(TSS + 4, KSTACK_TOP as u32)
            .and_then(|()| mem.write_u32(TSS + 8, (KSTACK_TOP >> 32) as u32))
            .and_then(|()| mem.write_u32(TSS + 0x24, KSTACK_TOP as u32))
            .and_then(|()| mem.write_u32(TSS + 0x28, (KSTACK_TOP >> 32) as u32))
            .and_then(|()| mem.write_u16(TSS + 0x66, 0x68))
            .map_err(|_| "sandbox TSS outside guest RAM".to_string())?;
        // IDT: 64-bit interrupt gates (type 14), DPL 3 so INT3 from CPL 3
        // reaches its handler, IST 1 so every frame lands on the CPL-0
        // stack page and never on the sequence's stack (SDM Vol. 3A,
        // 7.14.1 and 7.14.5).
        for v in 0..256u64 {
            let h = STUBS + STUB_SIZE * v;
            let lo = (h & 0xFFFF)
                | (u64::from(KERNEL_CS) << 16)
                | (0xEE01u64 << 32)
                | ((h >> 16) & 0xFFFF) << 48;
            w(IDT + 16 * v, lo)?;
            w(IDT + 16 * v + 8, h >> 32)?;
            // OUT imm8, AL; JMP $ (never reached: the OUT ends the run).
            let stub = [0xE6, v as u8, 0xEB, 0xFE, 0x90, 0x90, 0x90, 0x90];
            mem.write(h, &stub)
                .map_err(|_| "sandbox stubs outside guest RAM".to_string())?;
        }
        // Paging: PML4[0] → PDPT[0] → PD[0] → PT (4 KiB pages, first 2 MiB).
        w(PML4, PDPT | P | RW | US)?;
        w(PDPT, PD | P | RW | US)?;
        w(PD, PT | P | RW | US)?;
        for i in 0..512u64 {
            let pa = i << 12;
            let writable = (DATA..DATA + DATA_SIZE).contains(&pa) || pa == STACK || pa == KSTACK;
            let mapped = writable
                || (GDT..=STUBS + 0xFFF).contains(&pa)
                || (CODE..CODE + CODE_SIZE).contains(&pa);
            // Everything else mapped is user-accessible (no SMEP/SMAP); system
            // pages and the code are read-only (CR0.WP=1 protects them at
            // CPL 0 too). The rest of the 2 MiB is not present, so a wild
            // pointer faults instead of corrupting the sandbox.
            // The CPL-0 stack is supervisor-only: CPL-3 code cannot
            // scribble on it.
            let user = if pa == KSTACK { 0 } else { US };
            let e = if mapped {
                pa | P | user | if writable { RW } else { 0 }
            } else {
                0
            };
            w(PT + 8 * i, e)?;
        }
        Ok(())
    }

    /// Writes the code of a sequence (padded with INT3) into the code page.
    pub fn write_sequence(mem: &GuestMemory, code: &[u8]) -> Result<(), String> {
        let mut page = vec![0xCCu8; CODE_SIZE as usize];
        let n = code.len().min(page.len());
        page[..n].copy_from_slice(&code[..n]);
        mem.write(CODE, &page)
            .map_err(|_| "sandbox code page outside guest RAM".to_string())
    }

    /// Writes the initial contents of the compared pages.
    pub fn write_data(mem: &GuestMemory, data: &[u8], stack: &[u8]) -> Result<(), String> {
        let err = |_| "sandbox data outside guest RAM".to_string();
        mem.write(DATA, data).map_err(err)?;
        mem.write(STACK, stack).map_err(err)?;
        mem.write(KSTACK, &[0u8; 0x1000]).map_err(err)
    }

    /// 64-bit mode at `privilege`, paging on, RIP at the code page, the
    /// given GPRs (RSP is the sandbox stack) and status flags.
    pub fn initial_state(
        reset: &VcpuState,
        privilege: Privilege,
        gpr: [u64; 16],
        flags: u64,
    ) -> VcpuState {
        let mut s = reset.clone();
        s.gpr = gpr;
        s.gpr[crate::state::gpr::RSP] = STACK_TOP;
        s.rip = CODE;
        s.rflags = rflags::FIXED1 | (flags & (rflags::STATUS | rflags::DF));
        s.cr.cr0 = cr0::PE | cr0::MP | cr0::ET | cr0::NE | cr0::WP | cr0::PG;
        s.cr.cr3 = PML4;
        s.cr.cr4 = cr4::PAE;
        s.efer = efer::LME | efer::LMA | efer::NXE | efer::SCE;
        let code64 = ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::L | ar::G;
        let data = ar::P | ar::S | ar::RW | ar::ACCESSED | ar::DB | ar::G;
        let (cs, ss, dpl) = match privilege {
            Privilege::Kernel => (KERNEL_CS, KERNEL_SS, 0),
            Privilege::User => (USER_CS, USER_SS, 3 << ar::DPL_SHIFT),
        };
        *s.seg_mut(SegReg::Cs) = Segment::new(cs, 0, 0xFFFF_FFFF, code64 | dpl);
        for r in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
            *s.seg_mut(r) = Segment::new(ss, 0, 0xFFFF_FFFF, data | dpl);
        }
        s.tr = Segment::new(TSS_SEL, TSS, 0x67, ar::P | ar::TYPE_TSS_BUSY);
        s.ldtr = Segment::new(0, 0, 0, ar::UNUSABLE);
        s.gdtr = DescriptorTable {
            base: GDT,
            limit: 0x37,
        };
        s.idtr = DescriptorTable {
            base: IDT,
            limit: 256 * 16 - 1,
        };
        s
    }
}
