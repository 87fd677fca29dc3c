//! nestor's bundled guest images, built from `roms/` by `build.rs`.
