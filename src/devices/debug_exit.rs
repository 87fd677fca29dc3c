//! QEMU's isa-debug-exit at port 0xF4 (4 ports) and the Bochs/QEMU
//! "Shutdown" string port 0x8900.
//!
//! A write of V (of any size) to 0xF4–0xF7 requests
//! `ExitRequest::DebugExit(V)`; the machine turns it into the exit status
//! `(V << 1) | 1`. Writing the bytes `S h u t d o w n` in sequence to port
//! 0x8900 requests `ExitRequest::PowerOff` (kvm-unit-tests' fallback when
//! there is no exit device). Reads return all ones (nothing to read).

use crate::machine::device::{Device, DeviceCtx, ExitRequest};
use crate::machine::layout::port;

const SHUTDOWN: &[u8] = b"Shutdown";

/// The exit device. Register it on [`DebugExit::PORTS`].
#[derive(Debug, Default)]
pub struct DebugExit {
    /// How many bytes of "Shutdown" have been matched so far.
    matched: usize,
}

impl DebugExit {
    /// (first port, count) ranges the device decodes.
    pub const PORTS: [(u16, u32); 2] = [(port::DEBUG_EXIT, 4), (port::BOCHS_SHUTDOWN, 1)];

    /// A device that has seen no shutdown bytes yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn shutdown_byte(&mut self, b: u8, ctx: &mut DeviceCtx) {
        if SHUTDOWN.get(self.matched) == Some(&b) {
            self.matched += 1;
        } else {
            // Restart, counting this byte if it begins the string.
            self.matched = usize::from(b == SHUTDOWN[0]);
        }
        if self.matched == SHUTDOWN.len() {
            self.matched = 0;
            ctx.requests.exit = Some(ExitRequest::PowerOff);
        }
    }
}

impl Device for DebugExit {
    fn name(&self) -> &'static str {
        "debug-exit"
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32, ctx: &mut DeviceCtx) {
        if port == port::BOCHS_SHUTDOWN {
            for b in super::le_bytes(u64::from(value), size) {
                self.shutdown_byte(b, ctx);
            }
        } else {
            let v = crate::machine::device::ones(size) as u32 & value;
            ctx.requests.exit = Some(ExitRequest::DebugExit(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::TestEnv;

    #[test]
    fn debug_exit_values() {
        // (port, size, value written, value requested)
        let table: &[(u16, u8, u32, u32)] = &[
            (0xF4, 4, 0, 0),
            (0xF4, 4, 1, 1),
            (0xF4, 4, 38, 38),
            (0xF4, 1, 0x1_23, 0x23),
            (0xF4, 2, 0xFFFF_0102, 0x0102),
            (0xF7, 1, 5, 5),
        ];
        for &(p, size, v, want) in table {
            let mut d = DebugExit::new();
            let mut env = TestEnv::new();
            d.io_write(p, size, v, &mut env.ctx());
            assert_eq!(
                env.exit(),
                Some(ExitRequest::DebugExit(want)),
                "{p:#x} {v:#x}"
            );
        }
    }

    #[test]
    fn shutdown_string() {
        let mut d = DebugExit::new();
        let mut env = TestEnv::new();
        for &b in b"xxShutShutdow" {
            d.io_write(0x8900, 1, u32::from(b), &mut env.ctx());
        }
        assert_eq!(env.exit(), None);
        d.io_write(0x8900, 1, u32::from(b'n'), &mut env.ctx());
        assert_eq!(env.exit(), Some(ExitRequest::PowerOff));
        // "SShutdown": the second S restarts the match.
        for &b in b"SShutdown" {
            d.io_write(0x8900, 1, u32::from(b), &mut env.ctx());
        }
        assert_eq!(env.exit(), Some(ExitRequest::PowerOff));
        // Word writes deliver their bytes in order.
        for w in [u32::from_le_bytes(*b"Shut"), u32::from_le_bytes(*b"down")] {
            d.io_write(0x8900, 4, w, &mut env.ctx());
        }
        assert_eq!(env.exit(), Some(ExitRequest::PowerOff));
    }

    #[test]
    fn reads_are_all_ones() {
        let mut d = DebugExit::new();
        let mut env = TestEnv::new();
        assert_eq!(d.io_read(0xF4, 4, &mut env.ctx()), 0xFFFF_FFFF);
        assert_eq!(d.io_read(0x8900, 1, &mut env.ctx()), 0xFF);
    }
}
