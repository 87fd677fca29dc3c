//! Address decoding: which device owns an I/O port or an MMIO address.
//!
//! Port lookup is one table index (a 64 Ki-entry table of device slots);
//! MMIO lookup is a search over a short sorted list. Both are built once when
//! the machine is assembled and never change while the guest runs.

/// Index of a device in the machine's device list.
pub type DeviceId = u16;

/// Port table entry meaning "no device".
const NONE: DeviceId = DeviceId::MAX;

pub struct IoBus {
    ports: Box<[DeviceId]>,
}

impl Default for IoBus {
    fn default() -> Self {
        IoBus {
            ports: vec![NONE; 0x1_0000].into_boxed_slice(),
        }
    }
}

impl IoBus {
    /// Routes ports `first .. first + count` to `dev`.
    pub fn register(&mut self, first: u16, count: u32, dev: DeviceId) {
        for p in u32::from(first)..(u32::from(first) + count).min(0x1_0000) {
            self.ports[p as usize] = dev;
        }
    }

    #[inline]
    pub fn lookup(&self, port: u16) -> Option<DeviceId> {
        let d = self.ports[usize::from(port)];
        (d != NONE).then_some(d)
    }
}

#[derive(Clone, Copy, Debug)]
struct MmioRange {
    start: u64,
    len: u64,
    dev: DeviceId,
}

#[derive(Default)]
pub struct MmioBus {
    ranges: Vec<MmioRange>,
}

impl MmioBus {
    /// Routes `[start, start + len)` to `dev`. Overlapping ranges are a
    /// machine-assembly bug and are refused.
    pub fn register(&mut self, start: u64, len: u64, dev: DeviceId) -> Result<(), String> {
        let end = start + len;
        if let Some(r) = self
            .ranges
            .iter()
            .find(|r| start < r.start + r.len && r.start < end)
        {
            return Err(format!(
                "MMIO range {start:#x}+{len:#x} overlaps {:#x}+{:#x}",
                r.start, r.len
            ));
        }
        self.ranges.push(MmioRange { start, len, dev });
        self.ranges.sort_by_key(|r| r.start);
        Ok(())
    }

    /// The device at `gpa` and the offset into its range.
    #[inline]
    pub fn lookup(&self, gpa: u64) -> Option<(DeviceId, u64)> {
        let i = self.ranges.partition_point(|r| r.start <= gpa);
        let r = self.ranges.get(i.checked_sub(1)?)?;
        (gpa - r.start < r.len).then_some((r.dev, gpa - r.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_and_mmio_lookup() {
        let mut io = IoBus::default();
        io.register(0x3F8, 8, 3);
        assert_eq!(io.lookup(0x3FF), Some(3));
        assert_eq!(io.lookup(0x400), None);
        let mut mm = MmioBus::default();
        mm.register(0xFEC0_0000, 0x1000, 1).expect("ioapic");
        mm.register(0xFED0_0000, 0x400, 2).expect("hpet");
        assert!(mm.register(0xFEC0_0800, 0x1000, 9).is_err());
        assert_eq!(mm.lookup(0xFEC0_0010), Some((1, 0x10)));
        assert_eq!(mm.lookup(0xFED0_0400), None);
        assert_eq!(mm.lookup(0x1000), None);
    }
}
