//! Interrupt lines and interrupt messages.
//!
//! Devices drive GSI lines through an [`IrqSink`]; the machine applies the
//! changes to the interrupt controllers (8259 PIC pair and IOAPIC) after the
//! device call returns. Controllers that target local APICs emit
//! [`ApicMessage`]s, which the machine delivers to the vCPUs' APIC state.

/// Number of GSIs (IOAPIC pins).
pub const NUM_GSIS: usize = 24;

/// Level changes requested by devices during one call.
#[derive(Debug, Default)]
pub struct IrqSink {
    changes: Vec<(u32, bool)>,
}

impl IrqSink {
    /// Drives GSI `gsi` to `level` (true = asserted). Edge-triggered users
    /// pulse it: `set(gsi, true); set(gsi, false)`.
    pub fn set(&mut self, gsi: u32, level: bool) {
        self.changes.push((gsi, level));
    }

    pub fn pulse(&mut self, gsi: u32) {
        self.set(gsi, true);
        self.set(gsi, false);
    }

    /// Takes the changes in the order they were made.
    pub fn drain(&mut self) -> std::vec::Drain<'_, (u32, bool)> {
        self.changes.drain(..)
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Delivery modes of interrupt messages (SDM Vol. 3A 11.6.1, Table 11-? ICR
/// delivery mode; the IOAPIC redirection entries use the same encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryMode {
    Fixed,
    LowestPriority,
    Smi,
    Nmi,
    Init,
    StartUp,
    ExtInt,
}

impl DeliveryMode {
    pub fn from_bits(v: u32) -> Option<Self> {
        Some(match v & 7 {
            0 => DeliveryMode::Fixed,
            1 => DeliveryMode::LowestPriority,
            2 => DeliveryMode::Smi,
            4 => DeliveryMode::Nmi,
            5 => DeliveryMode::Init,
            6 => DeliveryMode::StartUp,
            7 => DeliveryMode::ExtInt,
            _ => return None,
        })
    }
}

/// Destination of an interrupt message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Physical destination mode: an APIC ID (0xFF / 0xFFFFFFFF broadcast).
    Physical(u32),
    /// Logical destination mode: matched against each APIC's LDR/DFR.
    Logical(u32),
    /// ICR shorthands.
    SelfOnly,
    AllIncludingSelf,
    AllExcludingSelf,
}

/// An interrupt message to local APICs (from the IOAPIC, an IPI, or MSI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApicMessage {
    pub vector: u8,
    pub mode: DeliveryMode,
    pub dest: Destination,
    /// Level-triggered (the APIC sets TMR and the EOI goes back to the IOAPIC).
    pub level_triggered: bool,
    /// For INIT level de-assert IPIs: level bit clear.
    pub assert: bool,
    /// The sending vCPU for IPIs (for the "self" shorthands), None for devices.
    pub source: Option<u32>,
    /// x2APIC destination format (32-bit IDs).
    pub x2apic: bool,
}
