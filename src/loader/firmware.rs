//! `--bios FILE`: a PC firmware image (SeaBIOS, a test ROM).
//!
//! The image is mapped read-only so that it ends at 4 GiB: its last 16 bytes
//! hold the reset vector 0xFFFFFFF0 where the BSP starts after RESET (SDM
//! Vol. 3A 10.1.4 "First Instruction Executed"; CS.base = 0xFFFF0000). Real
//! chipsets also decode the last 128 KiB of the flash at 0xE0000–0xFFFFF
//! (the "isa-bios" alias): firmware runs its 16-bit code there after the
//! first far jump. nestor copies those bytes into RAM at that address
//! instead of aliasing the ROM, which behaves like a chipset whose shadow
//! RAM (PAM registers) is already unlocked: the guest can write there,
//! which SeaBIOS does anyway after it has copied itself. An image smaller
//! than 128 KiB is copied whole, ending at 1 MiB (as QEMU does).
//!
//! Size rules: not empty, a whole number of 4 KiB pages (guest memory maps
//! ROM by pages; flash parts come in such sizes, usually 64 KiB multiples),
//! at most 16 MiB (the top 16 MiB of the 32-bit space). Images larger
//! than 16 MiB - 64 KiB overlap the pc-testdev window at
//! 0xFF000000–0xFF00FFFF; which of the two a guest sees there is up to the
//! machine's address decoding, not the loader.
//!
//! No multiboot information and no ACPI tables are built on this path: the
//! firmware sets up the machine itself; the BSP starts from its RESET
//! state.

use super::LoadError;
use crate::machine::layout::BIOS_AREA_END;
use crate::machine::memory::{GuestMemory, PAGE_SIZE};

/// Largest accepted firmware image.
pub const MAX_FIRMWARE_SIZE: usize = 16 << 20;
/// How much of the image is also visible below 1 MiB.
pub const LOW_BIOS_WINDOW: usize = 128 << 10;

/// Where a firmware image went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirmwareMap {
    /// Guest-physical start of the ROM (it ends at 4 GiB).
    pub rom_base: u64,
    /// Guest-physical start of the RAM copy of the image's tail (it ends at
    /// 1 MiB).
    pub low_copy_base: u64,
}

/// Checks a firmware image's size (see the module documentation).
pub fn validate_firmware(image: &[u8]) -> Result<(), LoadError> {
    let len = image.len();
    if len == 0 {
        return Err(LoadError::new("firmware image is empty"));
    }
    if len > MAX_FIRMWARE_SIZE {
        return Err(LoadError::new(format!(
            "firmware image of {len} bytes is larger than 16 MiB"
        )));
    }
    if !(len as u64).is_multiple_of(PAGE_SIZE) {
        return Err(LoadError::new(format!(
            "firmware image size {len} is not a multiple of 4 KiB"
        )));
    }
    Ok(())
}

/// Maps `image` as ROM ending at 4 GiB and copies its last 128 KiB (or all
/// of it, if smaller) into RAM ending at 1 MiB.
pub fn load_firmware(mem: &mut GuestMemory, image: &[u8]) -> Result<FirmwareMap, LoadError> {
    validate_firmware(image)?;
    let len = image.len();
    let rom_base = (1u64 << 32) - len as u64;
    let tail_len = len.min(LOW_BIOS_WINDOW);
    let tail = &image[len - tail_len..];
    let low_copy_base = BIOS_AREA_END - tail_len as u64;
    mem.write(low_copy_base, tail).map_err(|e| {
        LoadError::new(format!(
            "cannot copy the firmware below 1 MiB: {:#x} is not RAM",
            e.0
        ))
    })?;
    mem.set_rom(rom_base, image.to_vec())
        .map_err(|e| LoadError::new(e.to_string()))?;
    Ok(FirmwareMap {
        rom_base,
        low_copy_base,
    })
}
