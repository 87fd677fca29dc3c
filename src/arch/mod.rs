//! Architectural numbers with the names the manuals give them: MSR indices,
//! VMX control bits. Shared by the CPU model, the MSR layer, the interpreter
//! and the KVM backend so that `grep VM_ENTRY_LOAD_BNDCFGS` finds every user.

pub mod msr_index;
pub mod vmx;
