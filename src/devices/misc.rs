//! Small system-control ports: System Control Port A (0x92), the PIIX
//! reset control register (0xCF9) and a minimal 8042 keyboard controller
//! (0x60 data, 0x64 status/command).
//!
//! | Port | Behaviour |
//! |---|---|
//! | 0x92 | bit 0: a 0→1 write requests a reset; bit 1: A20 gate; reads return the last write |
//! | 0xCF9 | a write with bit 2 (RST_CPU) set requests a reset (0x06, 0x0E, ...); bits 1 and 3 are stored and read back |
//! | 0x64 read | status: 0x1C (system flag, keyboard not inhibited, last write was a command; bit 3 follows the last write) plus bit 0 when a byte waits in the output buffer |
//! | 0x64 write | controller commands: 0x20 read / 0x60 write the command byte, 0xA7/0xA8 aux off/on, 0xA9/0xAB interface tests (0x00), 0xAA self-test (0x55), 0xAD/0xAE keyboard off/on, 0xC0 read input port, 0xD0/0xD1 read/write the output port (bit 0 low = reset, bit 1 = A20), 0xD2/0xD3 echo the next data byte, 0xDD/0xDF A20 off/on, 0xF0–0xFE pulse output lines (bit 0 pulsed = reset, so 0xFE resets) |
//! | 0x60 read | the next output-buffer byte, 0x00 when empty |
//! | 0x60 write | a command's data byte, or a keyboard command answered with ACK (0xFA; 0xFF adds 0xAA, 0xF2 adds 0xAB 0x83, 0xEE echoes) |
//!
//! No keyboard or mouse input exists, and the controller raises no IRQ 1
//! or IRQ 12. The A20 state is reported to the machine through
//! [`SystemPorts::a20_enabled`].

use std::collections::VecDeque;

use crate::machine::device::{Device, DeviceCtx, ExitRequest};
use crate::machine::layout::port;

/// Status register bits.
pub mod status {
    /// Output buffer full.
    pub const OBF: u8 = 1 << 0;
    /// System flag (self-test passed).
    pub const SYS: u8 = 1 << 2;
    /// Last write was to the command port.
    pub const CMD: u8 = 1 << 3;
    /// Keyboard not inhibited.
    pub const UNLOCKED: u8 = 1 << 4;
}

/// Output port bits.
const OUT_RESET: u8 = 1 << 0;
const OUT_A20: u8 = 1 << 1;

/// Which command the next data byte belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    None,
    CommandByte,
    OutputPort,
    Echo,
    Aux,
}

/// Port 0x92, 0xCF9 and the keyboard controller. Register it on
/// [`SystemPorts::PORTS`].
#[derive(Clone, Debug)]
pub struct SystemPorts {
    port92: u8,
    reset_control: u8,
    command_byte: u8,
    output_port: u8,
    last_was_command: bool,
    pending: Pending,
    output: VecDeque<u8>,
}

impl Default for SystemPorts {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemPorts {
    /// (first port, count) ranges decoded.
    pub const PORTS: [(u16, u32); 4] = [
        (port::KBD_DATA, 1),
        (port::KBD_STATUS, 1),
        (port::PORT92, 1),
        (port::RESET_CONTROL, 1),
    ];

    /// Power-up state: A20 enabled through the controller's output port.
    pub fn new() -> Self {
        SystemPorts {
            port92: 0,
            reset_control: 0,
            command_byte: 0x45,
            output_port: OUT_RESET | OUT_A20,
            last_was_command: true,
            pending: Pending::None,
            output: VecDeque::new(),
        }
    }

    /// The A20 gate (port 0x92 bit 1 OR the controller's output port bit 1).
    pub fn a20_enabled(&self) -> bool {
        self.port92 & 2 != 0 || self.output_port & OUT_A20 != 0
    }

    fn reset(ctx: &mut DeviceCtx) {
        ctx.requests.exit = Some(ExitRequest::Reset);
    }

    fn status(&self) -> u8 {
        let obf = if self.output.is_empty() {
            0
        } else {
            status::OBF
        };
        let cmd = if self.last_was_command {
            status::CMD
        } else {
            0
        };
        status::SYS | status::UNLOCKED | cmd | obf
    }

    fn controller_command(&mut self, v: u8, ctx: &mut DeviceCtx) {
        self.pending = Pending::None;
        match v {
            0x20 => self.output.push_back(self.command_byte),
            0x60 => self.pending = Pending::CommandByte,
            0xA7 => self.command_byte |= 0x20,
            0xA8 => self.command_byte &= !0x20,
            0xA9 | 0xAB => self.output.push_back(0x00),
            0xAA => self.output.push_back(0x55),
            0xAD => self.command_byte |= 0x10,
            0xAE => self.command_byte &= !0x10,
            0xC0 => self.output.push_back(0x00),
            0xD0 => self.output.push_back(self.output_port),
            0xD1 => self.pending = Pending::OutputPort,
            0xD2 | 0xD3 => self.pending = Pending::Echo,
            0xD4 => self.pending = Pending::Aux,
            0xDD => self.output_port &= !OUT_A20,
            0xDF => self.output_port |= OUT_A20,
            // Pulse output lines 3:0 low for the bits that are 0; line 0
            // is the CPU reset.
            0xF0..=0xFE if v & 1 == 0 => Self::reset(ctx),
            _ => {}
        }
    }

    fn data_write(&mut self, v: u8, ctx: &mut DeviceCtx) {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::CommandByte => self.command_byte = v,
            Pending::OutputPort => {
                self.output_port = v;
                if v & OUT_RESET == 0 {
                    Self::reset(ctx);
                }
            }
            Pending::Echo => self.output.push_back(v),
            Pending::Aux => {} // no mouse
            Pending::None => {
                let reply: &[u8] = match v {
                    0xEE => &[0xEE],
                    0xF2 => &[0xFA, 0xAB, 0x83],
                    0xFF => &[0xFA, 0xAA],
                    _ => &[0xFA],
                };
                self.output.extend(reply.iter().copied());
            }
        }
    }

    fn read_port(&mut self, p: u16) -> u8 {
        match p {
            port::KBD_DATA => self.output.pop_front().unwrap_or(0),
            port::KBD_STATUS => self.status(),
            port::PORT92 => self.port92,
            port::RESET_CONTROL => self.reset_control,
            _ => 0xFF,
        }
    }

    fn write_port(&mut self, p: u16, v: u8, ctx: &mut DeviceCtx) {
        match p {
            port::KBD_DATA => {
                self.last_was_command = false;
                self.data_write(v, ctx);
            }
            port::KBD_STATUS => {
                self.last_was_command = true;
                self.controller_command(v, ctx);
            }
            port::PORT92 => {
                let rising = v & 1 != 0 && self.port92 & 1 == 0;
                self.port92 = v;
                if rising {
                    Self::reset(ctx);
                }
            }
            port::RESET_CONTROL => {
                self.reset_control = v & 0x0A;
                if v & 0x04 != 0 {
                    Self::reset(ctx);
                }
            }
            _ => {}
        }
    }
}

impl Device for SystemPorts {
    fn name(&self) -> &'static str {
        "system-ports"
    }

    /// Byte registers: wider accesses see all ones above the first byte.
    fn io_read(&mut self, p: u16, size: u8, _ctx: &mut DeviceCtx) -> u32 {
        let v = u32::from(self.read_port(p));
        (v | !0xFF) & crate::machine::device::ones(size) as u32
    }

    fn io_write(&mut self, p: u16, _size: u8, value: u32, ctx: &mut DeviceCtx) {
        self.write_port(p, value as u8, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::TestEnv;

    fn run(seq: &[(u16, u8)]) -> (SystemPorts, TestEnv) {
        let mut s = SystemPorts::new();
        let mut env = TestEnv::new();
        for &(p, v) in seq {
            s.io_write(p, 1, u32::from(v), &mut env.ctx());
        }
        (s, env)
    }

    #[test]
    fn reset_sources_table() {
        // (writes, reset requested)
        let table: &[(&[(u16, u8)], bool)] = &[
            (&[(0xCF9, 0x06)], true),
            (&[(0xCF9, 0x0E)], true),
            (&[(0xCF9, 0x02)], false),
            (&[(0x92, 0x01)], true),
            (&[(0x92, 0x02)], false),
            (&[(0x92, 0x03), (0x92, 0x03)], true), // the first write
            (&[(0x64, 0xFE)], true),
            (&[(0x64, 0xFC)], true),
            (&[(0x64, 0xFF)], false),
            (&[(0x64, 0xAD), (0x64, 0xAE)], false),
            (&[(0x64, 0xD1), (0x60, 0xDE)], true), // output port bit 0 low
            (&[(0x64, 0xD1), (0x60, 0xDF)], false),
        ];
        for &(seq, want) in table {
            let (_, mut env) = run(seq);
            assert_eq!(env.exit() == Some(ExitRequest::Reset), want, "{seq:x?}");
        }
        // Port 0x92 resets only on a 0→1 transition of bit 0.
        let (mut s, mut env) = run(&[(0x92, 0x01)]);
        env.exit();
        s.io_write(0x92, 1, 0x03, &mut env.ctx());
        assert_eq!(env.exit(), None);
    }

    #[test]
    fn controller_status_and_replies() {
        let (mut s, mut env) = run(&[]);
        assert_eq!(s.io_read(0x64, 1, &mut env.ctx()), 0x1C);
        assert_eq!(s.io_read(0x60, 1, &mut env.ctx()), 0x00);
        // (command, data bytes produced)
        let table: &[(u8, &[u8])] = &[
            (0xAA, &[0x55]),
            (0xAB, &[0x00]),
            (0x20, &[0x45]),
            (0xD0, &[0x03]),
        ];
        for &(cmd, want) in table {
            s.io_write(0x64, 1, u32::from(cmd), &mut env.ctx());
            for &b in want {
                assert_eq!(
                    s.io_read(0x64, 1, &mut env.ctx()) & 1,
                    1,
                    "OBF for {cmd:#x}"
                );
                assert_eq!(s.io_read(0x60, 1, &mut env.ctx()), u32::from(b));
            }
            assert_eq!(s.io_read(0x64, 1, &mut env.ctx()) & 1, 0);
        }
        // Command byte round trip; keyboard commands get ACKs.
        for (p, v) in [(0x64, 0x60), (0x60, 0x47), (0x64, 0x20)] {
            s.io_write(p, 1, v, &mut env.ctx());
        }
        assert_eq!(s.io_read(0x60, 1, &mut env.ctx()), 0x47);
        s.io_write(0x60, 1, 0xFF, &mut env.ctx());
        assert_eq!(
            s.io_read(0x64, 1, &mut env.ctx()),
            0x15,
            "data write clears bit 3"
        );
        assert_eq!(s.io_read(0x60, 1, &mut env.ctx()), 0xFA);
        assert_eq!(s.io_read(0x60, 1, &mut env.ctx()), 0xAA);
        assert_eq!(env.exit(), None);
    }

    #[test]
    fn a20_gate() {
        let (mut s, mut env) = run(&[(0x64, 0xDD)]);
        assert!(!s.a20_enabled());
        s.io_write(0x92, 1, 0x02, &mut env.ctx());
        assert!(s.a20_enabled());
        assert_eq!(s.io_read(0x92, 1, &mut env.ctx()), 0x02);
        s.io_write(0x92, 1, 0x00, &mut env.ctx());
        s.io_write(0x64, 1, 0xD1, &mut env.ctx());
        s.io_write(0x60, 1, 0x03, &mut env.ctx());
        assert!(s.a20_enabled());
        assert_eq!(s.io_read(0xCF9, 1, &mut env.ctx()), 0);
        s.io_write(0xCF9, 1, 0x0A, &mut env.ctx());
        assert_eq!(s.io_read(0xCF9, 1, &mut env.ctx()), 0x0A);
    }
}
