//! The PC's physical address map and I/O port assignments (shared by the
//! loader, the firmware tables and the devices so they agree).

/// RAM below 4 GiB ends at this address at most; the rest of RAM is mapped
/// from 4 GiB up (the gap holds MMIO: PCI BARs, IOAPIC, HPET, LAPIC, BIOS).
pub const LOW_RAM_LIMIT: u64 = 0xC000_0000;
/// RAM above the PCI hole starts here.
pub const HIGH_RAM_BASE: u64 = 0x1_0000_0000;

/// Where the BIOS area tables (ACPI RSDP) are searched: 0xE0000–0xFFFFF.
pub const BIOS_AREA: u64 = 0xE_0000;
pub const BIOS_AREA_END: u64 = 0x10_0000;

/// IOAPIC MMIO base (index register at +0, data at +0x10).
pub const IOAPIC_BASE: u64 = 0xFEC0_0000;
/// HPET MMIO base.
pub const HPET_BASE: u64 = 0xFED0_0000;
/// pc-testdev's RAM-like MMIO window ("IORAM", 64 KiB).
pub const TESTDEV_IOMEM_BASE: u64 = 0xFF00_0000;
pub const TESTDEV_IOMEM_SIZE: u64 = 0x1_0000;
/// 32-bit PCI memory BARs are assigned from here.
pub const PCI_MMIO_BASE: u64 = 0xE000_0000;
/// PCI I/O BARs are assigned from here.
pub const PCI_IO_BASE: u16 = 0xC000;

/// I/O ports.
pub mod port {
    pub const PIC_MASTER: u16 = 0x20;
    pub const PIC_SLAVE: u16 = 0xA0;
    pub const PIT: u16 = 0x40;
    pub const KBD_DATA: u16 = 0x60;
    pub const KBD_STATUS: u16 = 0x64;
    pub const CMOS_INDEX: u16 = 0x70;
    pub const CMOS_DATA: u16 = 0x71;
    pub const PORT92: u16 = 0x92;
    /// pc-testdev: scratch register for string I/O tests.
    pub const TESTDEV_SCRATCH: u16 = 0xE0;
    /// pc-testdev: "flush page" port.
    pub const TESTDEV_FLUSH_PAGE: u16 = 0xE4;
    /// isa-debug-exit: a write of V ends the run with status (V << 1) | 1.
    pub const DEBUG_EXIT: u16 = 0xF4;
    pub const ELCR: u16 = 0x4D0;
    pub const FW_CFG_SELECTOR: u16 = 0x510;
    pub const FW_CFG_DATA: u16 = 0x511;
    /// ACPI PM register block (PIIX4-like): PM1a event at +0, PM1a control
    /// at +4, PM timer at +8.
    pub const ACPI_PM_BASE: u16 = 0x600;
    pub const ACPI_PM_TIMER: u16 = ACPI_PM_BASE + 8;
    pub const PCI_CONFIG_ADDRESS: u16 = 0xCF8;
    pub const PCI_CONFIG_DATA: u16 = 0xCFC;
    /// Reset control register.
    pub const RESET_CONTROL: u16 = 0xCF9;
    pub const COM1: u16 = 0x3F8;
    /// pc-testdev: ports 0x2000 + n assert/deassert GSI n.
    pub const TESTDEV_IRQ_BASE: u16 = 0x2000;
    /// Bochs/QEMU "Shutdown" string port (kvm-unit-tests fallback exit).
    pub const BOCHS_SHUTDOWN: u16 = 0x8900;
}

/// GSIs of ISA devices (PIC IRQ n = IOAPIC pin n, except the PIT which the
/// MADT overrides to pin 2, as on real PCs).
pub mod irq {
    pub const PIT: u32 = 0;
    pub const PIT_IOAPIC_PIN: u32 = 2;
    pub const COM1: u32 = 4;
    pub const RTC: u32 = 8;
    pub const SCI: u32 = 9;
    /// The PCI INTx line all PCI devices share (pci-testdev).
    pub const PCI_INTX: u32 = 11;
}
