//! A minimal platform for running small programs on one interpreter vCPU:
//! RAM, a byte-capturing "serial" port at 0x3F8 and an exit port at 0xF4,
//! with the vCPU put directly in real, 32-bit protected or 64-bit mode.
//! Used by the integration tests (which assemble programs with iced's
//! assembler) and the criterion benchmarks; not part of nestor's user
//! interface.

use std::rc::Rc;

use crate::apic::ApicAction;
use crate::interp::{Cpu, Interp, Platform, RunExit};
use crate::machine::memory::GuestMemory;
use crate::model::parse::parse_model;
use crate::state::segment::ar;
use crate::state::{SegReg, Segment, cr0, cr4, efer};
use crate::vm::VmCpuModel;

pub struct TestPlatform {
    pub mem: GuestMemory,
    pub serial: Vec<u8>,
    pub exit: Option<u32>,
    pub io_log: Vec<(u16, u32)>,
    /// The platform time (`now`, derived from the instruction count) of
    /// each port write, in order.
    pub io_now: Vec<u64>,
}

impl Platform for TestPlatform {
    fn mem(&self) -> &GuestMemory {
        &self.mem
    }
    fn io_in(&mut self, _now: u64, port: u16, _size: u8) -> u32 {
        match port {
            0x3FD => 0x60,
            0xE0 => 0x1234_5678,
            _ => 0xFFFF_FFFF,
        }
    }
    fn io_out(&mut self, now: u64, port: u16, _size: u8, value: u32) {
        self.io_log.push((port, value));
        self.io_now.push(now);
        match port {
            0x3F8 => self.serial.push(value as u8),
            0xF4 => self.exit = Some(value),
            _ => {}
        }
    }
    fn mmio_read(&mut self, _now: u64, _gpa: u64, _size: u8) -> u64 {
        u64::MAX
    }
    fn mmio_write(&mut self, _now: u64, _gpa: u64, _size: u8, _value: u64) {}
    fn apic_action(&mut self, _now: u64, _vcpu: u32, _action: ApicAction) {}
    fn pic_ack(&mut self, _now: u64) -> Option<u8> {
        None
    }
    fn pic_intr(&self) -> bool {
        false
    }
    fn wants_exit(&self) -> bool {
        self.exit.is_some()
    }
}

/// Where test code is loaded.
pub const CODE: u64 = 0x10_0000;
/// Top of the test stack.
pub const STACK: u64 = 0x8_0000;
/// A scratch data area.
pub const DATA: u64 = 0x20_0000;
/// The IDT (256 × 16 bytes) used by `with_idt`.
pub const IDT: u64 = 0x3000;
const GDT: u64 = 0x1000;
const PML4: u64 = 0x5_0000;

pub struct Harness {
    pub interp: Interp,
    pub plat: TestPlatform,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Real,
    Prot32,
    Long64,
}

impl Harness {
    /// A vCPU of `model` in `mode` with `code` at [`CODE`].
    pub fn new(model: &str, mode: Mode, code: &[u8]) -> Self {
        let vm = Rc::new(VmCpuModel::new(parse_model(model).expect("model"), 1));
        let (mut s, _) = vm.reset_vcpu(0, 0);
        let mem = GuestMemory::new(64 << 20).expect("memory");
        mem.write(CODE, code).expect("code");
        // GDT: null, 64-bit code (0x08), 32-bit code (0x10), data (0x18),
        // 16-bit code (0x20), 16-bit data (0x28), user 64-bit code (0x33),
        // user data (0x3B).
        let gdt: [u64; 8] = [
            0,
            0x00AF_9B00_0000_FFFF,
            0x00CF_9B00_0000_FFFF,
            0x00CF_9300_0000_FFFF,
            0x0000_9B00_0000_FFFF,
            0x0000_9300_0000_FFFF,
            0x00AF_FB00_0000_FFFF,
            0x00CF_F300_0000_FFFF,
        ];
        for (i, d) in gdt.iter().enumerate() {
            mem.write_u64(GDT + 8 * i as u64, *d).expect("gdt");
        }
        s.gdtr.base = GDT;
        s.gdtr.limit = (gdt.len() * 8 - 1) as u16;
        let code64 = ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::L | ar::G;
        let code32 = ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::DB | ar::G;
        let data = ar::P | ar::S | ar::RW | ar::ACCESSED | ar::DB | ar::G;
        match mode {
            Mode::Real => {
                s.rip = CODE & 0xFFFF;
                let cs = s.seg_mut(SegReg::Cs);
                cs.selector = (CODE >> 4) as u16;
                cs.base = CODE;
                s.gpr[4] = 0x8000;
            }
            Mode::Prot32 | Mode::Long64 => {
                s.cr.cr0 = cr0::PE | cr0::ET | cr0::NE;
                for sr in [SegReg::Ds, SegReg::Es, SegReg::Ss, SegReg::Fs, SegReg::Gs] {
                    *s.seg_mut(sr) = Segment::new(0x18, 0, 0xFFFF_FFFF, data);
                }
                *s.seg_mut(SegReg::Cs) = Segment::new(0x10, 0, 0xFFFF_FFFF, code32);
                s.rip = CODE;
                s.gpr[4] = STACK;
                if mode == Mode::Long64 {
                    // Identity-map 4 GiB with 1 GiB pages... use 2 MiB pages
                    // (PDPT at PML4+0x1000, PDs after it).
                    mem.write_u64(PML4, (PML4 + 0x1000) | 7).expect("pml4");
                    for g in 0..4u64 {
                        let pd = PML4 + 0x2000 + g * 0x1000;
                        mem.write_u64(PML4 + 0x1000 + 8 * g, pd | 7).expect("pdpt");
                        for i in 0..512u64 {
                            let pa = (g << 30) | (i << 21);
                            mem.write_u64(pd + 8 * i, pa | 0x87).expect("pd");
                        }
                    }
                    s.cr.cr3 = PML4;
                    s.cr.cr4 = cr4::PAE;
                    s.cr.cr0 |= cr0::PG;
                    s.efer = efer::LME | efer::LMA;
                    *s.seg_mut(SegReg::Cs) = Segment::new(0x08, 0, 0xFFFF_FFFF, code64);
                }
            }
        }
        let cpu = Cpu::new(vm, 0, s);
        Harness {
            interp: Interp::new(cpu),
            plat: TestPlatform {
                mem,
                serial: Vec::new(),
                exit: None,
                io_log: Vec::new(),
                io_now: Vec::new(),
            },
        }
    }

    /// Installs a 64-bit IDT whose every vector points at `handler`.
    pub fn with_idt64(mut self, handler: u64) -> Self {
        for v in 0..256u64 {
            let lo = (handler & 0xFFFF)
                | (0x08 << 16)
                | (0x8E00u64 << 32)
                | ((handler >> 16) & 0xFFFF) << 48;
            let hi = handler >> 32;
            self.plat.mem.write_u64(IDT + 16 * v, lo).expect("idt");
            self.plat.mem.write_u64(IDT + 16 * v + 8, hi).expect("idt");
        }
        self.interp.cpu.s.idtr.base = IDT;
        self.interp.cpu.s.idtr.limit = 256 * 16 - 1;
        self
    }

    /// Runs until the exit port is written (returns its value), or the
    /// budget is used, or the CPU halts/shuts down.
    pub fn run(&mut self, budget: u64) -> (RunExit, Option<u32>) {
        let mut left = budget;
        loop {
            let before = self.interp.cpu.icount;
            let r = self.interp.run(&mut self.plat, left);
            left = left.saturating_sub(self.interp.cpu.icount - before);
            if self.plat.exit.is_some() || r != RunExit::Exit || left == 0 {
                return (r, self.plat.exit);
            }
        }
    }

    pub fn reg(&self, n: usize) -> u64 {
        self.interp.cpu.regs[n]
    }
}
