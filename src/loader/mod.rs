//! Loading guest images: multiboot v1 kernels (ELF32/ELF64) and firmware
//! images mapped below 4 GiB.
