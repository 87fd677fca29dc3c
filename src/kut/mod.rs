//! The kvm-unit-tests runner: `unittests.cfg` parsing, mapping of QEMU
//! parameters onto nestor's, result classification and reporting.
