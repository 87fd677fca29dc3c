//! Loading guest images: multiboot v1 kernels (ELF32/ELF64 or a.out-kludge
//! images) and firmware images mapped below 4 GiB.
//!
//! Two ways to boot a machine:
//!
//! - **Multiboot** ([`load_kernel`]): the kernel is loaded by its ELF
//!   program headers (or its multiboot address fields), the multiboot
//!   information structure (MBI), command line, memory map and the optional
//!   initrd module are placed in free RAM, and the BSP starts in the
//!   multiboot machine state ([`multiboot_entry_state`]): 32-bit protected
//!   mode, paging off, EAX = 0x2BADB002, EBX = MBI. This is how
//!   kvm-unit-tests images (`x86/*.flat`, ELF32 files) are run. The caller
//!   also builds the ACPI tables (`firmware::acpi`), which live in the BIOS
//!   area that the loader keeps free.
//! - **Firmware** ([`load_firmware`], `--bios FILE`): a BIOS image is mapped
//!   as ROM ending at 4 GiB with its last 128 KiB copied to 0xE0000–0xFFFFF;
//!   the BSP starts from its RESET state at the reset vector.
//!
//! Every problem with a file is a [`LoadError`] holding one line that names
//! it; nothing read from a file can panic the loader. Callers prefix the
//! file name (`"{path}: {err}"`).

pub mod elf;
pub mod firmware;
pub mod multiboot;

#[cfg(test)]
mod tests;

pub use elf::{ElfClass, ElfImage, LoadSegment};
pub use firmware::load_firmware;
pub use multiboot::{BootInfo, Module, load_multiboot, multiboot_entry_state};

use crate::machine::memory::GuestMemory;

/// Why an image could not be loaded: one line naming the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError(String);

impl LoadError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        LoadError(msg.into())
    }

    /// The message (without a file name).
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// The string given to the initrd module (multiboot module command line).
pub const INITRD_MODULE_STRING: &str = "initrd";

/// Loads a multiboot v1 kernel `image` into `mem` with the command line
/// `cmdline` (by convention "IMAGE_PATH ARGS": kvm-unit-tests drops the
/// first word) and at most one module, `initrd` (for kvm-unit-tests, the
/// `KEY=VALUE` environment file). Returns where to start the BSP; apply it
/// with [`multiboot_entry_state`].
pub fn load_kernel(
    mem: &GuestMemory,
    image: &[u8],
    cmdline: &str,
    initrd: Option<&[u8]>,
) -> Result<BootInfo, LoadError> {
    let module = initrd.map(|data| Module {
        data,
        string: INITRD_MODULE_STRING,
    });
    load_multiboot(mem, image, cmdline, module)
}
