//! Everything of the machine but the vCPUs: guest memory, the devices and
//! the buses that decode addresses to them, the interrupt router, and the
//! queue of interrupt messages for the local APICs.
//!
//! The board is what a running vCPU sees as its [`Platform`]: port and
//! MMIO accesses, APIC messages, the PIC's INTR/INTA.

use crate::apic::ApicAction;
use crate::devices::router::InterruptRouter;
use crate::interp::Platform;
use crate::machine::bus::{DeviceId, IoBus, MmioBus};
use crate::machine::device::{Device, DeviceCtx, DeviceRequests, MachineInfo, ones};
use crate::machine::irq::{ApicMessage, IrqSink};
use crate::machine::memory::GuestMemory;

/// Device id the buses use for the interrupt router.
const ROUTER: DeviceId = DeviceId::MAX - 1;

/// Per-device access counters for `--stats`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeviceStats {
    pub io: u64,
    pub mmio: u64,
}

pub struct Board {
    pub mem: GuestMemory,
    devices: Vec<Box<dyn Device>>,
    io: IoBus,
    mmio: MmioBus,
    pub router: InterruptRouter,
    irq: IrqSink,
    pub requests: DeviceRequests,
    pub info: MachineInfo,
    /// Interrupt messages waiting for delivery to local APICs.
    pub messages: Vec<ApicMessage>,
    pub stats: Vec<DeviceStats>,
    router_stats: DeviceStats,
    /// Accesses that reached no device.
    pub unclaimed: DeviceStats,
}

impl Board {
    pub fn new(mem: GuestMemory, info: MachineInfo) -> Self {
        let mut b = Board {
            mem,
            devices: Vec::new(),
            io: IoBus::default(),
            mmio: MmioBus::default(),
            router: InterruptRouter::new(),
            irq: IrqSink::default(),
            requests: DeviceRequests::default(),
            info,
            messages: Vec::new(),
            stats: Vec::new(),
            router_stats: DeviceStats::default(),
            unclaimed: DeviceStats::default(),
        };
        for (first, count) in InterruptRouter::PORTS {
            b.io.register(first, count, ROUTER);
        }
        let (base, size) = InterruptRouter::MMIO;
        // The router's range is fixed and registered first: cannot overlap.
        let _ = b.mmio.register(base, size, ROUTER);
        b
    }

    /// Adds a device decoding `ports` (first, count) and `mmio` (base, size).
    pub fn add(
        &mut self,
        dev: Box<dyn Device>,
        ports: &[(u16, u32)],
        mmio: &[(u64, u64)],
    ) -> Result<DeviceId, String> {
        let id = self.devices.len() as DeviceId;
        for &(first, count) in ports {
            self.io.register(first, count, id);
        }
        for &(base, size) in mmio {
            self.mmio.register(base, size, id)?;
        }
        self.devices.push(dev);
        self.stats.push(DeviceStats::default());
        Ok(id)
    }

    /// Names and access counts of the devices, for `--stats`.
    pub fn device_stats(&self) -> Vec<(&'static str, DeviceStats)> {
        let mut v: Vec<_> = self
            .devices
            .iter()
            .map(|d| d.name())
            .zip(self.stats.iter().copied())
            .collect();
        v.push(("irq-router", self.router_stats));
        v
    }

    /// Runs `f` on device `id` with a context for virtual time `now`, then
    /// applies the interrupt-line changes it made.
    fn call<R>(
        &mut self,
        id: DeviceId,
        now: u64,
        f: impl FnOnce(&mut dyn Device, &mut DeviceCtx) -> R,
    ) -> R {
        let mut ctx = DeviceCtx {
            now,
            mem: &self.mem,
            irq: &mut self.irq,
            requests: &mut self.requests,
            info: &self.info,
        };
        let r = if id == ROUTER {
            f(&mut self.router, &mut ctx)
        } else {
            f(self.devices[usize::from(id)].as_mut(), &mut ctx)
        };
        self.settle();
        r
    }

    /// Applies pending line changes and collects the router's messages.
    fn settle(&mut self) {
        if !self.irq.is_empty() {
            self.router.apply(&mut self.irq);
        }
        if self.router.has_messages() {
            self.messages.extend(self.router.take_messages());
        }
    }

    fn count(&mut self, id: DeviceId, mmio: bool) {
        let s = if id == ROUTER {
            &mut self.router_stats
        } else {
            &mut self.stats[usize::from(id)]
        };
        if mmio {
            s.mmio += 1;
        } else {
            s.io += 1;
        }
    }

    /// The earliest device deadline.
    pub fn next_deadline(&self) -> Option<u64> {
        self.devices.iter().filter_map(|d| d.next_deadline()).min()
    }

    /// Runs the timers of devices whose deadline has passed.
    pub fn fire_timers(&mut self, now: u64) {
        for id in 0..self.devices.len() {
            // A device may have several expiries due; bound the loop.
            for _ in 0..64 {
                match self.devices[id].next_deadline() {
                    Some(d) if d <= now => {
                        self.call(id as DeviceId, now, |dev, ctx| dev.on_timer(ctx))
                    }
                    _ => break,
                }
            }
        }
    }

    /// Pushes input bytes into a device's queue (the UART), by name.
    pub fn device_mut(&mut self, name: &str) -> Option<&mut Box<dyn Device>> {
        self.devices.iter_mut().find(|d| d.name() == name)
    }

    /// Feeds host input to the serial port (COM1).
    pub fn serial_input(&mut self, bytes: &[u8]) {
        if let Some(d) = self.device_mut("uart") {
            d.push_input(bytes);
        }
    }

    /// Drives a GSI from outside a device call (tests, the machine).
    pub fn set_gsi(&mut self, gsi: u32, level: bool) {
        self.irq.set(gsi, level);
        self.settle();
    }
}

impl Platform for Board {
    fn mem(&self) -> &GuestMemory {
        &self.mem
    }

    fn io_in(&mut self, now: u64, port: u16, size: u8) -> u32 {
        match self.io.lookup(port) {
            Some(id) => {
                self.count(id, false);
                self.call(id, now, |d, ctx| d.io_read(port, size, ctx))
            }
            None => {
                self.unclaimed.io += 1;
                ones(size) as u32
            }
        }
    }

    fn io_out(&mut self, now: u64, port: u16, size: u8, value: u32) {
        match self.io.lookup(port) {
            Some(id) => {
                self.count(id, false);
                self.call(id, now, |d, ctx| d.io_write(port, size, value, ctx));
            }
            None => self.unclaimed.io += 1,
        }
    }

    fn mmio_read(&mut self, now: u64, gpa: u64, size: u8) -> u64 {
        match self.mmio.lookup(gpa) {
            Some((id, off)) => {
                self.count(id, true);
                self.call(id, now, |d, ctx| d.mmio_read(off, size, ctx))
            }
            None => {
                self.unclaimed.mmio += 1;
                ones(size)
            }
        }
    }

    fn mmio_write(&mut self, now: u64, gpa: u64, size: u8, value: u64) {
        match self.mmio.lookup(gpa) {
            Some((id, off)) => {
                self.count(id, true);
                self.call(id, now, |d, ctx| d.mmio_write(off, size, value, ctx));
            }
            None => self.unclaimed.mmio += 1,
        }
    }

    fn apic_action(&mut self, _now: u64, vcpu: u32, action: ApicAction) {
        match action {
            ApicAction::SendIpi { icr, x2apic } => {
                if let Some(m) = crate::apic::deliver::icr_to_message(icr, x2apic, vcpu) {
                    self.messages.push(m);
                }
            }
            ApicAction::SelfIpi(v) => self
                .messages
                .push(crate::apic::deliver::self_ipi_message(v, vcpu)),
            ApicAction::Eoi {
                vector: Some(v),
                level: true,
            } => {
                self.router.eoi(v);
                self.settle();
            }
            _ => {}
        }
    }

    fn pic_ack(&mut self, _now: u64) -> Option<u8> {
        self.router
            .pic_has_interrupt()
            .then(|| self.router.pic_acknowledge())
    }

    fn pic_intr(&self) -> bool {
        self.router.pic_has_interrupt()
    }

    fn wants_exit(&self) -> bool {
        self.requests.exit.is_some() || !self.messages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::uart::{Uart, UartOutput};
    use crate::machine::layout::port;

    #[test]
    fn serial_input_reaches_the_uart_receiver() {
        let mem = GuestMemory::new(1 << 20).expect("memory");
        let mut b = Board::new(mem, MachineInfo::default());
        let out = UartOutput::Buffer(Default::default());
        b.add(
            Box::new(Uart::new(out)),
            &[(port::COM1, Uart::PORT_COUNT)],
            &[],
        )
        .expect("uart");
        assert_eq!(b.io_in(0, port::COM1 + 5, 1) & 1, 0, "LSR.DR clear");
        b.serial_input(b"hi");
        b.fire_timers(0);
        assert_eq!(b.io_in(0, port::COM1 + 5, 1) & 1, 1, "LSR.DR set");
        assert_eq!(b.io_in(0, port::COM1, 1), u32::from(b'h'));
        assert_eq!(b.io_in(0, port::COM1, 1), u32::from(b'i'));
        assert_eq!(b.io_in(0, port::COM1 + 5, 1) & 1, 0);
    }
}
