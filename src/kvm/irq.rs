//! nestor's interrupt controllers in front of KVM's in-kernel local APICs
//! (the split irqchip):
//!
//! - an interrupt message of nestor's IOAPIC becomes KVM_SIGNAL_MSI;
//! - the 8259's INTR reaches the BSP as an injected event (see
//!   `run::pic_to_bsp`);
//! - for level-triggered IOAPIC pins, a GSI route of the same shape tells
//!   KVM which vectors need an EOI exit (KVM_EXIT_IOAPIC_EOI), which goes
//!   back to the IOAPIC (remote IRR).

use kvm_bindings::{KVM_IRQ_ROUTING_MSI, KvmIrqRouting, kvm_irq_routing_entry, kvm_msi};
use kvm_ioctls::VmFd;

use super::KvmError;
use crate::devices::ioapic::{PINS, redir};
use crate::devices::router::InterruptRouter;
use crate::machine::irq::{ApicMessage, DeliveryMode, Destination};

/// MSI address and data for a message (Intel SDM Vol. 3A 11.11 "Message
/// Signalled Interrupts"). Returns None for the ICR shorthands, which
/// only IPIs use (those stay inside KVM's local APICs).
pub fn msi_for(m: &ApicMessage) -> Option<kvm_msi> {
    let (dest, logical) = match m.dest {
        Destination::Physical(d) => (d, false),
        Destination::Logical(d) => (d, true),
        _ => return None,
    };
    let dm: u32 = match m.mode {
        DeliveryMode::Fixed => 0,
        DeliveryMode::LowestPriority => 1,
        DeliveryMode::Smi => 2,
        DeliveryMode::Nmi => 4,
        DeliveryMode::Init => 5,
        DeliveryMode::StartUp => 6,
        DeliveryMode::ExtInt => 7,
    };
    let mut addr = 0xFEE0_0000 | (dest & 0xFF) << 12;
    if logical {
        addr |= 1 << 2;
    }
    if m.mode == DeliveryMode::LowestPriority {
        addr |= 1 << 3;
    }
    let mut data = u32::from(m.vector) | dm << 8;
    if m.assert {
        data |= 1 << 14;
    }
    if m.level_triggered {
        data |= 1 << 15;
    }
    Some(kvm_msi {
        address_lo: addr,
        // Destination bits 31:8 (KVM_CAP_X2APIC_API's extended IDs).
        address_hi: dest & 0xFFFF_FF00,
        data,
        ..Default::default()
    })
}

/// Sends IOAPIC messages to KVM's local APICs.
pub fn deliver(vm: &VmFd, msgs: &[ApicMessage]) -> Result<(), KvmError> {
    for m in msgs {
        if let Some(msi) = msi_for(m) {
            vm.signal_msi(msi)
                .map_err(|e| KvmError(format!("KVM_SIGNAL_MSI failed: {e}")))?;
        }
    }
    Ok(())
}

/// The redirection entries that need EOI exits: (pin, entry) of every
/// unmasked level-triggered pin.
pub fn level_pins(router: &InterruptRouter) -> Vec<(u32, u64)> {
    // Only what the route depends on: not the status bits (remote IRR,
    // delivery status), so routes change only when the guest reprograms.
    (0..PINS)
        .map(|p| (p as u32, router.ioapic().entry(p) & redir::WRITABLE))
        .filter(|(_, e)| e & redir::LEVEL != 0 && e & redir::MASKED == 0)
        .collect()
}

/// Installs GSI routes mirroring `pins`, so that KVM exits on the EOI of
/// their vectors. (The routes are only read for that: interrupts are sent
/// with KVM_SIGNAL_MSI by [`deliver`].)
pub fn set_eoi_routes(vm: &VmFd, pins: &[(u32, u64)]) -> Result<(), KvmError> {
    let mut table = KvmIrqRouting::new(pins.len())
        .map_err(|e| KvmError(format!("GSI routing table: {e:?}")))?;
    for (slot, &(pin, e)) in table.as_mut_slice().iter_mut().zip(pins) {
        let mut r = kvm_irq_routing_entry {
            gsi: pin,
            type_: KVM_IRQ_ROUTING_MSI,
            ..Default::default()
        };
        let dest = (e >> 56) as u32;
        let mut addr = 0xFEE0_0000 | dest << 12;
        if e & redir::DEST_LOGICAL != 0 {
            addr |= 1 << 2;
        }
        r.u.msi.address_lo = addr;
        r.u.msi.data = (e & 0x7FF) as u32 | 1 << 15;
        *slot = r;
    }
    vm.set_gsi_routing(&table)
        .map_err(|e| KvmError(format!("KVM_SET_GSI_ROUTING failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioapic_message_as_msi() {
        let m = ApicMessage {
            vector: 0x31,
            mode: DeliveryMode::Fixed,
            dest: Destination::Physical(2),
            level_triggered: true,
            assert: true,
            source: None,
            x2apic: false,
        };
        let msi = msi_for(&m).expect("routable");
        assert_eq!(msi.address_lo, 0xFEE0_2000);
        assert_eq!(msi.data, 0x31 | 1 << 14 | 1 << 15);
        let l = ApicMessage {
            mode: DeliveryMode::LowestPriority,
            dest: Destination::Logical(0x3),
            level_triggered: false,
            ..m
        };
        let msi = msi_for(&l).expect("routable");
        assert_eq!(msi.address_lo, 0xFEE0_300C);
        assert_eq!(msi.data, 0x131 | 1 << 14);
        let s = ApicMessage {
            dest: Destination::SelfOnly,
            ..m
        };
        assert!(msi_for(&s).is_none());
    }
}
