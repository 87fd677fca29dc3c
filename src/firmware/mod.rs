//! What firmware would leave in memory for the guest: ACPI tables and the
//! memory map.

pub mod acpi;
pub mod memmap;
