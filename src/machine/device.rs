//! The interface between the machine and its devices.
//!
//! A device sees port and MMIO accesses, virtual time and its interrupt
//! lines — never the CPU. Everything it needs from the machine comes in a
//! [`DeviceCtx`]; everything it wants done (raise an IRQ, end the run)
//! goes out through it. Devices are deterministic: time comes only from
//! `ctx.now` (virtual nanoseconds), never from the host.

use super::irq::IrqSink;
use super::memory::GuestMemory;

/// Facts about the machine that firmware-like devices report (fw_cfg).
#[derive(Clone, Debug, Default)]
pub struct MachineInfo {
    pub cpus: u32,
    pub ram_bytes: u64,
    pub low_ram: u64,
    pub high_ram: u64,
}

/// Why a run ends, as requested by a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitRequest {
    /// isa-debug-exit: the run ends with status `(value << 1) | 1`.
    DebugExit(u32),
    /// The guest asked for a system reset (port 0xCF9, port 0x92, keyboard
    /// controller pulse).
    Reset,
    /// The guest asked to power off (ACPI sleep, "Shutdown" on port 0x8900).
    PowerOff,
}

/// What a device may ask of the machine during an access or a timer.
#[derive(Debug, Default)]
pub struct DeviceRequests {
    pub exit: Option<ExitRequest>,
}

/// The machine as a device sees it during one call.
pub struct DeviceCtx<'a> {
    /// Virtual time in nanoseconds (see `machine::clock`).
    pub now: u64,
    /// Guest memory, for DMA.
    pub mem: &'a GuestMemory,
    /// Interrupt lines (GSIs) the device raises and lowers.
    pub irq: &'a mut IrqSink,
    pub requests: &'a mut DeviceRequests,
    pub info: &'a MachineInfo,
}

/// A device model. Access sizes are 1, 2, 4 (and 8 for MMIO) bytes; reads of
/// nothing return all ones, as on a PC bus.
///
/// Devices are `Send`: the KVM backend runs vCPUs on their own threads and
/// reaches the board (devices included) through a lock.
pub trait Device: Send {
    /// Short name for logs and `--stats` ("uart", "pit", ...).
    fn name(&self) -> &'static str;

    fn io_read(&mut self, _port: u16, size: u8, _ctx: &mut DeviceCtx) -> u32 {
        ones(size) as u32
    }

    fn io_write(&mut self, _port: u16, _size: u8, _value: u32, _ctx: &mut DeviceCtx) {}

    /// `offset` is relative to the start of the registered MMIO range.
    fn mmio_read(&mut self, _offset: u64, size: u8, _ctx: &mut DeviceCtx) -> u64 {
        ones(size)
    }

    fn mmio_write(&mut self, _offset: u64, _size: u8, _value: u64, _ctx: &mut DeviceCtx) {}

    /// The earliest virtual time at which the device needs [`Device::on_timer`]
    /// (e.g. a PIT or HPET period ends), if any. Queried after every call
    /// into the device and after each timer.
    fn next_deadline(&self) -> Option<u64> {
        None
    }

    /// Virtual time has reached the device's deadline.
    fn on_timer(&mut self, _ctx: &mut DeviceCtx) {}

    /// Bytes arriving from the host for a character device (the UART's
    /// receive side). Devices without input ignore them.
    fn push_input(&mut self, _bytes: &[u8]) {}
}

/// All-ones value of `size` bytes.
#[inline]
pub fn ones(size: u8) -> u64 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        4 => 0xFFFF_FFFF,
        _ => u64::MAX,
    }
}
