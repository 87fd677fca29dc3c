//! nestor's bundled guest images, built from `roms/` by `build.rs`.
//!
//! Each image is a multiboot v1 ELF32 kernel (64-bit code inside, like
//! kvm-unit-tests' `.flat` files) that prints `PASS:`/`FAIL:`/`SKIP:` lines
//! on COM1 and ends by writing to the isa-debug-exit port 0xF4, so the run's
//! status is `(code << 1) | 1`. The metadata comes from `roms/images.toml`.

/// Status meaning "the guest shut down (triple fault)" rather than exiting
/// through port 0xF4.
pub const SHUTDOWN: i32 = -1;

/// One bundled guest image and how to run it.
#[derive(Debug)]
pub struct Rom {
    /// Unique short name (`roms/tests/NAME.c`).
    pub name: &'static str,
    /// One line saying what the image covers.
    pub description: &'static str,
    /// The ELF32 multiboot image.
    pub image: &'static [u8],
    /// Kernel command line arguments (after the image name).
    pub args: &'static str,
    /// Arguments (replacing `args`) for a quick run when the default one is
    /// long: what `cargo test` and `nestor selftest` use for benchmarks.
    pub quick_args: Option<&'static str>,
    /// Number of vCPUs to run it with.
    pub smp: u32,
    /// CPU model string (`max`, `max,+x2apic`, ...).
    pub cpu: &'static str,
    /// Expected exit status: `(code << 1) | 1` for a port 0xF4 exit (1 =
    /// all passed), or [`SHUTDOWN`].
    pub expect_status: i32,
}

include!(concat!(env!("OUT_DIR"), "/roms.rs"));

/// Every bundled image, in `roms/images.toml` order.
pub fn all() -> &'static [Rom] {
    ROMS
}

/// The image called `name`.
pub fn find(name: &str) -> Option<&'static Rom> {
    ROMS.iter().find(|r| r.name == name)
}
