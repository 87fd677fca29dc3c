//! ACPI tables for a multiboot-booted machine, written into guest RAM in
//! the BIOS area 0xE0000–0xFFFFF (reported reserved in the memory map, see
//! [`super::memmap`]), where OSPMs and kvm-unit-tests' `lib/acpi.c` search
//! for the RSDP on 16-byte boundaries.
//!
//! References are to the ACPI 6.x specification by section; table numbers
//! differ between 6.x editions, so tables are named by title:
//! - 5.2.5.3 RSDP ("Root System Description Pointer Structure")
//! - 5.2.6 "System Description Table Header"
//! - 5.2.7 RSDT, 5.2.8 XSDT
//! - 5.2.9 FADT ("FADT Format", "Fixed ACPI Description Table Fixed Feature
//!   Flags", 5.2.9.3 "IA-PC Boot Architecture Flags")
//! - 5.2.10 FACS ("Firmware ACPI Control Structure")
//! - 5.2.11.1 DSDT, with AML encodings from 20.2 "AML Grammar Definition"
//! - 5.2.12 MADT ("Multiple APIC Description Table Format"): 5.2.12.2
//!   Processor Local APIC, 5.2.12.3 I/O APIC, 5.2.12.5 Interrupt Source
//!   Override (flags: "MPS INTI Flags"), 5.2.12.7 Local APIC NMI
//! - 5.2.3.2 "Generic Address Structure"
//! - The HPET table is defined by the IA-PC HPET specification 1.0a, 3.2.4
//!   "The ACPI 2.0 HPET Description Table".
//!
//! Layout: RSDP at 0xE0000, FACS at 0xE0040 (64-byte aligned, as 5.2.10
//! requires), then DSDT, FADT, MADT, HPET, RSDT and XSDT on 16-byte
//! boundaries. The tables describe the devices at the ports and addresses of
//! [`crate::machine::layout`]: PM block 0x600 (24-bit PM timer at 0x608),
//! SCI on IRQ 9, reset register 0xCF9, IOAPIC 0xFEC00000, HPET 0xFED00000.
//! The FADT has SMI_CMD = 0: ACPI is permanently enabled, so PM1_CNT.SCI_EN
//! must read as 1.

use crate::apic::APIC_DEFAULT_BASE;
use crate::machine::layout::{BIOS_AREA, BIOS_AREA_END, HPET_BASE, IOAPIC_BASE, irq, port};
use crate::machine::memory::GuestMemory;

/// Where the RSDP goes (the first 16-byte slot of the BIOS area).
pub const RSDP_ADDR: u64 = BIOS_AREA;
/// Where the FACS goes (64-byte aligned).
pub const FACS_ADDR: u64 = BIOS_AREA + 0x40;
/// The IOAPIC's ID in the MADT. 0, as QEMU reports and as the IOAPIC ID
/// register reads after reset; IOAPIC IDs are a separate namespace from
/// local APIC IDs on xAPIC systems with system-bus interrupt delivery.
pub const IOAPIC_ID: u8 = 0;
/// HPET "Event Timer Block ID" (= bits 31:0 of the HPET's General
/// Capabilities register, which the HPET device must match): vendor 0x8086,
/// legacy-replacement capable, 64-bit counter, 3 timers, revision 1 — the
/// value QEMU's HPET reports.
pub const HPET_BLOCK_ID: u32 = 0x8086_A201;
/// SLP_TYP values of \_S5 (soft off) in the DSDT: PM1a/PM1b.
pub const S5_SLP_TYP: [u8; 2] = [5, 5];
/// Largest CPU count: an xAPIC Processor Local APIC entry holds an 8-bit
/// APIC ID, and ID 0xFF is the broadcast address.
pub const MAX_CPUS: u32 = 255;

const OEM_ID: &[u8; 6] = b"NESTOR";
const OEM_TABLE_ID: &[u8; 8] = b"NESTORVM";
const CREATOR_ID: &[u8; 4] = b"NSTR";
const HEADER_LEN: usize = 36;

/// Where each table was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcpiTables {
    /// Root System Description Pointer.
    pub rsdp: u64,
    /// Root System Description Table (32-bit entries).
    pub rsdt: u64,
    /// Extended System Description Table (64-bit entries).
    pub xsdt: u64,
    /// Fixed ACPI Description Table ("FACP").
    pub fadt: u64,
    /// Firmware ACPI Control Structure.
    pub facs: u64,
    /// Differentiated System Description Table.
    pub dsdt: u64,
    /// Multiple APIC Description Table ("APIC").
    pub madt: u64,
    /// HPET description table.
    pub hpet: u64,
    /// End (exclusive) of the table area.
    pub end: u64,
}

/// Why the tables could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcpiError(pub String);

impl std::fmt::Display for AcpiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AcpiError {}

/// A table under construction, little-endian fields at fixed offsets.
struct Table(Vec<u8>);

impl Table {
    fn new(len: usize) -> Self {
        Table(vec![0; len])
    }
    fn put(&mut self, off: usize, bytes: &[u8]) {
        self.0[off..off + bytes.len()].copy_from_slice(bytes);
    }
    fn u8(&mut self, off: usize, v: u8) {
        self.put(off, &[v]);
    }
    fn u16(&mut self, off: usize, v: u16) {
        self.put(off, &v.to_le_bytes());
    }
    fn u32(&mut self, off: usize, v: u32) {
        self.put(off, &v.to_le_bytes());
    }
    fn u64(&mut self, off: usize, v: u64) {
        self.put(off, &v.to_le_bytes());
    }
    /// A Generic Address Structure (5.2.3.2): address space (0 = memory,
    /// 1 = I/O), register bit width, bit offset 0, access size (1 = byte,
    /// 2 = word, 3 = dword, 4 = qword), address.
    fn gas(&mut self, off: usize, space: u8, bits: u8, access: u8, addr: u64) {
        self.put(off, &[space, bits, 0, access]);
        self.u64(off + 4, addr);
    }
    /// Fills the System Description Table Header (5.2.6) and the checksum.
    fn finish(mut self, sig: &[u8; 4], revision: u8) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.put(0, sig);
        self.u32(4, len);
        self.u8(8, revision);
        self.put(10, OEM_ID);
        self.put(16, OEM_TABLE_ID);
        self.u32(24, 1);
        self.put(28, CREATOR_ID);
        self.u32(32, 1);
        self.0[9] = checksum(&self.0);
        self.0
    }
}

/// The byte that makes `bytes` (with it at zero) sum to 0 mod 256.
fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)))
}

const GAS_MEMORY: u8 = 0;
const GAS_IO: u8 = 1;

/// FADT fixed feature flags (5.2.9, "Fixed ACPI Description Table Fixed
/// Feature Flags").
mod fadt_flags {
    pub const WBINVD: u32 = 1 << 0;
    pub const PROC_C1: u32 = 1 << 2;
    /// Power button is a control method device or absent (absent here).
    pub const PWR_BUTTON: u32 = 1 << 4;
    /// Sleep button likewise.
    pub const SLP_BUTTON: u32 = 1 << 5;
    // Bit 8 TMR_VAL_EXT (32-bit PM timer) stays clear: the timer is 24-bit.
    pub const RESET_REG_SUP: u32 = 1 << 10;
}

/// IA-PC Boot Architecture Flags (5.2.9.3): legacy ISA devices present (RTC,
/// PIT, PIC, COM1); no VGA.
const IAPC_BOOT_ARCH: u16 = (1 << 0) | (1 << 2);

fn dsdt() -> Vec<u8> {
    // DefName(\_S5_, DefPackage(4) {5, 5, 0, 0}) (20.2.5.1 NameOp 0x08,
    // 20.2.5.4 PackageOp 0x12 PkgLength NumElements, 20.2.3 BytePrefix
    // 0x0A, ZeroOp 0x00). PkgLength 8 counts itself and what follows.
    let [a, b] = S5_SLP_TYP;
    let aml = [
        0x08, b'\\', b'_', b'S', b'5', b'_', 0x12, 0x08, 0x04, 0x0A, a, 0x0A, b, 0x00, 0x00,
    ];
    let mut t = Table::new(HEADER_LEN + aml.len());
    t.put(HEADER_LEN, &aml);
    // Revision 2: 64-bit AML integers.
    t.finish(b"DSDT", 2)
}

fn facs() -> Vec<u8> {
    // 5.2.10: no checksum; version 2; waking vectors written by the OS.
    let mut t = Table::new(64);
    t.put(0, b"FACS");
    t.u32(4, 64);
    t.u8(32, 2);
    t.0
}

fn fadt(facs: u64, dsdt: u64) -> Vec<u8> {
    let pm1a_evt = port::ACPI_PM_BASE;
    let pm1a_cnt = port::ACPI_PM_BASE + 4;
    let pm_tmr = port::ACPI_PM_TIMER;
    let mut t = Table::new(276);
    // FIRMWARE_CTRL (X_FIRMWARE_CTRL must then be 0) and DSDT / X_DSDT.
    t.u32(36, facs as u32);
    t.u32(40, dsdt as u32);
    t.u16(46, irq::SCI as u16);
    // SMI_CMD, ACPI_ENABLE, ACPI_DISABLE = 0: always in ACPI mode.
    t.u32(56, u32::from(pm1a_evt));
    t.u32(64, u32::from(pm1a_cnt));
    t.u32(76, u32::from(pm_tmr));
    t.u8(88, 4); // PM1_EVT_LEN: status + enable, 16 bits each
    t.u8(89, 2); // PM1_CNT_LEN
    t.u8(91, 4); // PM_TMR_LEN
    // P_LVL2_LAT > 100 and P_LVL3_LAT > 1000: no C2/C3.
    t.u16(96, 0x0FFF);
    t.u16(98, 0x0FFF);
    t.u16(109, IAPC_BOOT_ARCH);
    use fadt_flags::*;
    t.u32(
        112,
        WBINVD | PROC_C1 | PWR_BUTTON | SLP_BUTTON | RESET_REG_SUP,
    );
    // RESET_REG: I/O port 0xCF9, value 6 (system reset + reset CPU).
    t.gas(116, GAS_IO, 8, 1, u64::from(port::RESET_CONTROL));
    t.u8(128, 0x06);
    t.u8(131, 0); // FADT Minor Version
    t.u64(140, dsdt); // X_DSDT
    t.gas(148, GAS_IO, 32, 2, u64::from(pm1a_evt));
    t.gas(172, GAS_IO, 16, 2, u64::from(pm1a_cnt));
    t.gas(208, GAS_IO, 32, 3, u64::from(pm_tmr));
    // Revision 6 (ACPI 6.0 layout, 276 bytes).
    t.finish(b"FACP", 6)
}

fn madt(cpus: u32) -> Vec<u8> {
    let mut entries: Vec<u8> = Vec::new();
    for i in 0..cpus {
        // Processor Local APIC: type 0, length 8, ACPI processor UID,
        // APIC ID, flags (bit 0 Enabled).
        entries.extend_from_slice(&[0, 8, i as u8, i as u8]);
        entries.extend_from_slice(&1u32.to_le_bytes());
    }
    // I/O APIC: type 1, length 12, ID, reserved, address, GSI base.
    entries.extend_from_slice(&[1, 12, IOAPIC_ID, 0]);
    entries.extend_from_slice(&(IOAPIC_BASE as u32).to_le_bytes());
    entries.extend_from_slice(&0u32.to_le_bytes());
    // Interrupt Source Overrides: type 2, length 10, bus 0 (ISA), source
    // IRQ, GSI, MPS INTI flags (bits 1:0 polarity, 3:2 trigger mode).
    let mut iso = |source: u32, gsi: u32, flags: u16| {
        entries.extend_from_slice(&[2, 10, 0, source as u8]);
        entries.extend_from_slice(&gsi.to_le_bytes());
        entries.extend_from_slice(&flags.to_le_bytes());
    };
    // The PIT's IRQ 0 is wired to IOAPIC pin 2; bus-conforming polarity
    // and trigger (edge, active high).
    iso(irq::PIT, irq::PIT_IOAPIC_PIN, 0);
    // The SCI: level-triggered (0b11 << 2), active high (0b01).
    iso(irq::SCI, irq::SCI, 0x000D);
    // Local APIC NMI: type 4, length 6, all processors (UID 0xFF), flags
    // conforming, LINT1.
    entries.extend_from_slice(&[4, 6, 0xFF, 0, 0, 1]);

    let mut t = Table::new(HEADER_LEN + 8 + entries.len());
    t.u32(36, APIC_DEFAULT_BASE as u32);
    t.u32(40, 1); // PCAT_COMPAT: dual 8259s present
    t.put(44, &entries);
    t.finish(b"APIC", 4)
}

fn hpet() -> Vec<u8> {
    let mut t = Table::new(56);
    t.u32(36, HPET_BLOCK_ID);
    t.gas(40, GAS_MEMORY, 64, 0, HPET_BASE);
    t.u8(52, 0); // HPET number
    t.u16(53, 0); // main counter minimum clock tick in periodic mode
    t.u8(55, 0); // no page protection
    t.finish(b"HPET", 1)
}

fn rsdt(tables: &[u64]) -> Vec<u8> {
    let mut t = Table::new(HEADER_LEN + 4 * tables.len());
    for (i, &a) in tables.iter().enumerate() {
        t.u32(HEADER_LEN + 4 * i, a as u32);
    }
    t.finish(b"RSDT", 1)
}

fn xsdt(tables: &[u64]) -> Vec<u8> {
    let mut t = Table::new(HEADER_LEN + 8 * tables.len());
    for (i, &a) in tables.iter().enumerate() {
        t.u64(HEADER_LEN + 8 * i, a);
    }
    t.finish(b"XSDT", 1)
}

fn rsdp(rsdt: u64, xsdt: u64) -> Vec<u8> {
    let mut t = Table::new(36);
    t.put(0, b"RSD PTR ");
    t.put(9, OEM_ID);
    t.u8(15, 2);
    t.u32(16, rsdt as u32);
    t.u32(20, 36);
    t.u64(24, xsdt);
    // Checksum over the ACPI 1.0 part (bytes 0–19), then over everything.
    t.0[8] = checksum(&t.0[..20]);
    t.0[32] = checksum(&t.0);
    t.0
}

/// Builds the ACPI tables for a machine with `cpus` processors (APIC ID =
/// ACPI processor UID = index) and writes them into `mem`'s BIOS area.
pub fn build_acpi_tables(mem: &GuestMemory, cpus: u32) -> Result<AcpiTables, AcpiError> {
    if cpus == 0 || cpus > MAX_CPUS {
        return Err(AcpiError(format!(
            "cannot describe {cpus} CPUs in the MADT (1 to {MAX_CPUS} supported)"
        )));
    }
    let write = |addr: u64, bytes: &[u8]| -> Result<(), AcpiError> {
        if addr + bytes.len() as u64 > BIOS_AREA_END {
            return Err(AcpiError(format!(
                "ACPI tables do not fit below {BIOS_AREA_END:#x}"
            )));
        }
        mem.write(addr, bytes)
            .map_err(|e| AcpiError(format!("cannot write ACPI tables: {:#x} is not RAM", e.0)))
    };
    // Tables go one after the other from the FACS on, 16-byte aligned;
    // each is built once the addresses it refers to are known.
    let mut next = FACS_ADDR;
    let mut place = |bytes: Vec<u8>| -> Result<u64, AcpiError> {
        let at = next;
        write(at, &bytes)?;
        next = (at + bytes.len() as u64).next_multiple_of(16);
        Ok(at)
    };
    let facs = place(self::facs())?;
    let dsdt = place(self::dsdt())?;
    let fadt = place(self::fadt(facs, dsdt))?;
    let madt = place(self::madt(cpus))?;
    let hpet = place(self::hpet())?;
    let list = [fadt, madt, hpet];
    let rsdt = place(self::rsdt(&list))?;
    let xsdt = place(self::xsdt(&list))?;
    let end = next;
    write(RSDP_ADDR, &self::rsdp(rsdt, xsdt))?;
    Ok(AcpiTables {
        rsdp: RSDP_ADDR,
        rsdt,
        xsdt,
        fadt,
        facs,
        dsdt,
        madt,
        hpet,
        end,
    })
}

#[cfg(test)]
#[path = "acpi_tests.rs"]
mod tests;
