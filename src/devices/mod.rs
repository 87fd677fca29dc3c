//! Device models of the PC platform, one file per device. Each implements
//! `machine::device::Device` and knows nothing about the CPU.
