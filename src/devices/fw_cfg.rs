//! QEMU's fw_cfg, I/O-port interface only (QEMU docs/specs/fw_cfg.rst):
//! a 16-bit selector written to port 0x510, item bytes read one at a time
//! from port 0x511.
//!
//! Items (all little-endian):
//!
//! | Key | Name | Value |
//! |---|---|---|
//! | 0x0000 | signature | `"QEMU"` |
//! | 0x0001 | ID | 1 (traditional interface, no DMA) |
//! | 0x0002 | UUID | 16 zero bytes |
//! | 0x0003 | RAM size | u64 = `MachineInfo::ram_bytes` |
//! | 0x0004 | no-graphic | u16 1 (no display) |
//! | 0x0005 | number of CPUs | u16 |
//! | 0x000F | max CPUs | u16 |
//! | 0x0011 | "max RAM" (kvm-unit-tests' bare-metal key) | u64 0 = no limit |
//! | 0x0019 | file directory | u32 (big-endian) count 0 |
//!
//! Unknown keys, and reads past the end of an item, read as 0. As in
//! QEMU, the write-channel bit (0x4000) does not change which item is
//! read and data writes are ignored; the architecture-local bit (0x8000)
//! selects a separate key space ([`FwCfg::add_item`]). Reads of 2 or 4
//! bytes return that many consecutive item bytes; 1-byte writes are data
//! writes (ignored), 2- and 4-byte writes to 0x510 select.

use crate::machine::device::{Device, DeviceCtx, MachineInfo};
use crate::machine::layout::port;

/// Well-known item keys.
pub mod key {
    /// "QEMU".
    pub const SIGNATURE: u16 = 0x00;
    /// Interface feature bits.
    pub const ID: u16 = 0x01;
    /// Machine UUID.
    pub const UUID: u16 = 0x02;
    /// RAM size in bytes (u64).
    pub const RAM_SIZE: u16 = 0x03;
    /// No graphics (u16).
    pub const NOGRAPHIC: u16 = 0x04;
    /// Number of CPUs (u16).
    pub const NB_CPUS: u16 = 0x05;
    /// Maximum number of CPUs (u16).
    pub const MAX_CPUS: u16 = 0x0F;
    /// kvm-unit-tests' "max RAM" (u64, 0 = no limit; not a QEMU key).
    pub const MAX_RAM: u16 = 0x11;
    /// The file directory.
    pub const FILE_DIR: u16 = 0x19;
    /// Architecture-local key space.
    pub const ARCH_LOCAL: u16 = 0x8000;
    /// Write-channel bit (ignored for lookups).
    pub const WRITE_CHANNEL: u16 = 0x4000;
}

/// The fw_cfg device. Register it on ports [`FwCfg::BASE`]..+2.
#[derive(Debug)]
pub struct FwCfg {
    /// (key without the write-channel bit, contents), sorted by key.
    items: Vec<(u16, Vec<u8>)>,
    selected: u16,
    offset: usize,
}

impl FwCfg {
    /// The selector port; the data port follows it.
    pub const BASE: u16 = port::FW_CFG_SELECTOR;
    /// Number of ports decoded.
    pub const PORT_COUNT: u32 = 2;

    /// The standard items for a machine described by `info`.
    pub fn new(info: &MachineInfo) -> Self {
        let cpus = u16::try_from(info.cpus).unwrap_or(u16::MAX);
        let mut f = FwCfg {
            items: Vec::new(),
            selected: 0,
            offset: 0,
        };
        f.add_item(key::SIGNATURE, b"QEMU".to_vec());
        f.add_item(key::ID, 1u32.to_le_bytes().to_vec());
        f.add_item(key::UUID, vec![0; 16]);
        f.add_item(key::RAM_SIZE, info.ram_bytes.to_le_bytes().to_vec());
        f.add_item(key::NOGRAPHIC, 1u16.to_le_bytes().to_vec());
        f.add_item(key::NB_CPUS, cpus.to_le_bytes().to_vec());
        f.add_item(key::MAX_CPUS, cpus.to_le_bytes().to_vec());
        f.add_item(key::MAX_RAM, 0u64.to_le_bytes().to_vec());
        f.add_item(key::FILE_DIR, 0u32.to_be_bytes().to_vec());
        f
    }

    /// Adds or replaces item `key` (the write-channel bit is ignored).
    pub fn add_item(&mut self, key: u16, contents: Vec<u8>) {
        let key = key & !key::WRITE_CHANNEL;
        match self.items.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => {
                if let Some(item) = self.items.get_mut(i) {
                    item.1 = contents;
                }
            }
            Err(i) => self.items.insert(i, (key, contents)),
        }
    }

    fn current(&self) -> &[u8] {
        let key = self.selected & !key::WRITE_CHANNEL;
        match self.items.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => self.items.get(i).map_or(&[], |(_, v)| v.as_slice()),
            Err(_) => &[],
        }
    }

    fn next_byte(&mut self) -> u8 {
        let b = self.current().get(self.offset).copied().unwrap_or(0);
        self.offset = self.offset.saturating_add(1);
        b
    }
}

impl Device for FwCfg {
    fn name(&self) -> &'static str {
        "fw_cfg"
    }

    fn io_read(&mut self, _port: u16, size: u8, _ctx: &mut DeviceCtx) -> u32 {
        // Both ports read data (QEMU's combined port behaves the same).
        super::from_le(size, |_| self.next_byte()) as u32
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32, _ctx: &mut DeviceCtx) {
        if port == Self::BASE && size >= 2 {
            self.selected = value as u16;
            self.offset = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::testutil::TestEnv;

    fn read(f: &mut FwCfg, env: &mut TestEnv, k: u16, n: usize) -> Vec<u8> {
        f.io_write(0x510, 2, u32::from(k), &mut env.ctx());
        (0..n)
            .map(|_| f.io_read(0x511, 1, &mut env.ctx()) as u8)
            .collect()
    }

    #[test]
    fn items_as_kvm_unit_tests_read_them() {
        let mut env = TestEnv::new();
        let mut f = FwCfg::new(&env.info);
        // (key, bytes read, expected)
        let table: Vec<(u16, usize, Vec<u8>)> = vec![
            (key::SIGNATURE, 4, b"QEMU".to_vec()),
            (key::ID, 4, vec![1, 0, 0, 0]),
            (key::RAM_SIZE, 8, (256u64 << 20).to_le_bytes().to_vec()),
            (key::NB_CPUS, 2, vec![2, 0]),
            (key::MAX_CPUS, 2, vec![2, 0]),
            (key::MAX_RAM, 8, vec![0; 8]),
            (0x1234, 4, vec![0; 4]),                            // unknown key
            (key::SIGNATURE, 6, b"QEMU\0\0".to_vec()),          // past the end
            (key::NB_CPUS | key::WRITE_CHANNEL, 2, vec![2, 0]), // write bit ignored
            (key::NB_CPUS | key::ARCH_LOCAL, 2, vec![0, 0]),    // separate space
        ];
        for (k, n, want) in table {
            assert_eq!(read(&mut f, &mut env, k, n), want, "key {k:#x}");
        }
    }

    #[test]
    fn reselect_restarts_and_wide_reads() {
        let mut env = TestEnv::new();
        let mut f = FwCfg::new(&env.info);
        assert_eq!(read(&mut f, &mut env, key::SIGNATURE, 2), b"QE");
        assert_eq!(read(&mut f, &mut env, key::SIGNATURE, 2), b"QE");
        f.io_write(0x510, 2, 0, &mut env.ctx());
        assert_eq!(
            f.io_read(0x511, 4, &mut env.ctx()),
            u32::from_le_bytes(*b"QEMU")
        );
        // A byte write is a (dropped) data write, not a selection.
        f.io_write(0x510, 1, 5, &mut env.ctx());
        assert_eq!(f.io_read(0x511, 1, &mut env.ctx()), 0);
        f.add_item(0x8001, vec![9]);
        assert_eq!(read(&mut f, &mut env, 0x8001, 2), vec![9, 0]);
    }
}
