//! Loading guest images: multiboot v1 kernels (ELF32/ELF64) and firmware
//! images mapped below 4 GiB.

pub mod elf;

pub use elf::{ElfClass, ElfImage, LoadSegment};

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
