//! Device models of the PC platform, one file per device. Each implements
//! `machine::device::Device` and knows nothing about the CPU.
//!
//! | Device | File | I/O ports | MMIO | GSI |
//! |---|---|---|---|---|
//! | 16550A UART (COM1) | [`uart`] | 0x3F8–0x3FF | – | 4 |
//! | isa-debug-exit, "Shutdown" port | [`debug_exit`] | 0xF4–0xF7, 0x8900 | – | – |
//! | QEMU fw_cfg (I/O interface) | [`fw_cfg`] | 0x510–0x511 | – | – |
//! | 8259A PIC pair + ELCR | [`pic`] (through [`router`]) | 0x20–0x21, 0xA0–0xA1, 0x4D0–0x4D1 | – | inputs 0–15 |
//! | 82093AA IOAPIC | [`ioapic`] (through [`router`]) | – | 0xFEC00000 (4 KiB) | inputs 0–23 |
//! | Interrupt router | [`router`] | the PIC and ELCR ports | the IOAPIC page | all |
//! | 8254 PIT + port 0x61 | [`pit`] | 0x40–0x43, 0x61 | – | 0 (IOAPIC pin 2) |
//! | MC146818 RTC / CMOS | [`rtc`] | 0x70–0x71 | – | 8 |
//! | QEMU pc-testdev | [`testdev`] | 0xE0–0xEB, 0x2000–0x2017 | 0xFF000000 (64 KiB) | drives 0–23 |
//! | PCI host (mechanism #1), i440FX, pci-testdev | [`pci`] | 0xCF8, 0xCFA–0xCFF, BAR1 (0xC000, 256) | BAR0 (0xE0000000, 4 KiB) | 11 (unused) |
//! | ACPI PM registers | [`acpi_pm`] | 0x600–0x60B | – | 9 (SCI) |
//! | Port 0x92, reset control, keyboard controller | [`misc`] | 0x60, 0x64, 0x92, 0xCF9 | – | – |
//! | HPET | [`hpet`] | – | 0xFED00000 (1 KiB) | per timer |
//!
//! Every device is deterministic: time comes only from `DeviceCtx::now`
//! (virtual nanoseconds), and no guest-supplied value can make a device
//! panic. Each module's tests drive the device through the `Device` trait
//! with the context from [`testutil`].

pub mod acpi_pm;
pub mod debug_exit;
pub mod fw_cfg;
pub mod hpet;
pub mod ioapic;
pub mod misc;
pub mod pci;
pub mod pic;
pub mod pit;
pub mod router;
pub mod rtc;
pub mod testdev;
pub mod uart;

/// Little-endian bytes `value[0..size]` (size 1, 2, 4 or 8) as a slice helper
/// for devices whose registers are byte arrays.
pub(crate) fn le_bytes(value: u64, size: u8) -> impl Iterator<Item = u8> {
    (0..u32::from(size.min(8))).map(move |i| (value >> (8 * i)) as u8)
}

/// Assembles a little-endian value of `size` bytes from `byte(i)`.
pub(crate) fn from_le(size: u8, mut byte: impl FnMut(u32) -> u8) -> u64 {
    (0..u32::from(size.min(8))).fold(0u64, |acc, i| acc | (u64::from(byte(i)) << (8 * i)))
}

/// A `DeviceCtx` for unit tests: owns everything the context borrows.
#[cfg(test)]
pub(crate) mod testutil {
    use crate::machine::device::{DeviceCtx, DeviceRequests, ExitRequest, MachineInfo};
    use crate::machine::irq::IrqSink;
    use crate::machine::memory::GuestMemory;

    /// The machine around a device under test.
    pub struct TestEnv {
        pub now: u64,
        pub mem: GuestMemory,
        pub irq: IrqSink,
        pub requests: DeviceRequests,
        pub info: MachineInfo,
    }

    impl TestEnv {
        pub fn new() -> Self {
            TestEnv {
                now: 0,
                mem: GuestMemory::new(1 << 20).expect("test memory"),
                irq: IrqSink::default(),
                requests: DeviceRequests::default(),
                info: MachineInfo {
                    cpus: 2,
                    ram_bytes: 256 << 20,
                    low_ram: 256 << 20,
                    high_ram: 0,
                },
            }
        }

        pub fn ctx(&mut self) -> DeviceCtx<'_> {
            DeviceCtx {
                now: self.now,
                mem: &self.mem,
                irq: &mut self.irq,
                requests: &mut self.requests,
                info: &self.info,
            }
        }

        /// The GSI changes made since the last call.
        pub fn irqs(&mut self) -> Vec<(u32, bool)> {
            self.irq.drain().collect()
        }

        /// The exit request made since the last call.
        pub fn exit(&mut self) -> Option<ExitRequest> {
            self.requests.exit.take()
        }
    }
}
