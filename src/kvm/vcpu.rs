//! One KVM vCPU and its state transfer: [`KvmVcpu::import_state`] loads a
//! `VcpuState` into KVM, [`KvmVcpu::export_state`] reads it back. These
//! are the KVM backend's halves of a handoff (the interpreter's are
//! `interp::Cpu::import` / `export`).
//!
//! KVM's ordering rules, followed on import:
//!
//! 1. KVM_SET_REGS before KVM_SET_VCPU_EVENTS (SET_REGS drops a pending
//!    exception);
//! 2. KVM_SET_SREGS (which holds the APIC base) before KVM_SET_LAPIC,
//!    before KVM_SET_MSRS (IA32_TSC_DEADLINE is only accepted once the
//!    LAPIC timer is in TSC-deadline mode);
//! 3. within the MSRs, IA32_TSC before IA32_TSC_DEADLINE (the MSR layer's
//!    save order);
//! 4. KVM_SET_MP_STATE before KVM_SET_VCPU_EVENTS (a latched INIT makes
//!    the wait-for-SIPI MP states invalid).
//!
//! Times: `now` is the VM's clock in nanoseconds (the clock the devices
//! and the interpreter's TSC and APIC timer use); the guest TSC and the
//! APIC timer's phase are converted against it.

use std::sync::Arc;

use kvm_ioctls::VcpuFd;

use super::KvmError;
use super::caps::KvmCaps;
use super::convert::{self, Shape};
use super::lapic;
use super::msrs::{self, MsrPlan};
use crate::apic;
use crate::arch::msr_index::{IA32_APIC_BASE, IA32_EFER};
use crate::machine::clock;
use crate::msr::{self, Initiator, MsrCtx};
use crate::state::VcpuState;
use crate::vm::VmCpuModel;

fn err(what: &'static str) -> impl Fn(kvm_ioctls::Error) -> KvmError {
    move |e| KvmError(format!("{what} failed: {e}"))
}

/// A KVM vCPU with what its state transfer needs.
pub struct KvmVcpu {
    pub fd: VcpuFd,
    pub index: u32,
    model: Arc<VmCpuModel>,
    shape: Shape,
    plan: Arc<MsrPlan>,
    xsave: bool,
    xcrs: bool,
    debugregs: bool,
    /// The state last imported or exported: supplies what KVM does not
    /// hold (see `convert`).
    template: VcpuState,
    /// Problems met by transfers since the last import (refused MSR
    /// values), one line each.
    pub warnings: Vec<String>,
    /// MSR values KVM refused at the last import (index, value).
    pub refused_msrs: Vec<(u32, u64)>,
}

fn x2apic_mode(s: &VcpuState) -> bool {
    let m = apic::base::EN | apic::base::EXTD;
    s.msrs.apic_base & m == m
}

impl KvmVcpu {
    pub(crate) fn new(
        fd: VcpuFd,
        index: u32,
        model: Arc<VmCpuModel>,
        shape: Shape,
        plan: Arc<MsrPlan>,
        caps: &KvmCaps,
    ) -> KvmVcpu {
        let (template, _) = model.reset_vcpu(index, 0);
        KvmVcpu {
            fd,
            index,
            model,
            shape,
            plan,
            // KVM_GET/SET_XSAVE move 4096 bytes; a host whose XSAVE area
            // is larger needs KVM_GET_XSAVE2, so fall back to KVM_SET_FPU.
            xsave: caps.xsave && caps.xsave2_size <= 4096,
            xcrs: caps.xcrs,
            debugregs: caps.debugregs,
            template,
            warnings: Vec::new(),
            refused_msrs: Vec::new(),
        }
    }

    fn msr_ctx(&self, now: u64) -> MsrCtx<'_> {
        MsrCtx {
            model: self.model.model(),
            clock_tsc: clock::tsc_at(now),
            apic_now: now,
        }
    }

    /// Loads `s` into KVM at VM time `now`.
    pub fn import_state(&mut self, s: &VcpuState, now: u64) -> Result<(), KvmError> {
        self.warnings.clear();
        let fd = &self.fd;
        fd.set_regs(&convert::regs_to_kvm(s))
            .map_err(err("KVM_SET_REGS"))?;
        fd.set_sregs(&convert::sregs_to_kvm(s))
            .map_err(err("KVM_SET_SREGS"))?;
        if self.xsave {
            let x = convert::xsave_to_kvm(&s.fpu, &self.shape);
            // SAFETY: `x` is a full 4096-byte kvm_xsave, and `self.xsave`
            // is only set when the host's XSAVE size (KVM_CAP_XSAVE2) is at
            // most 4096 bytes, so KVM reads no further than `x`.
            unsafe { fd.set_xsave(&x) }.map_err(err("KVM_SET_XSAVE"))?;
        } else {
            fd.set_fpu(&convert::fpu_to_kvm(&s.fpu))
                .map_err(err("KVM_SET_FPU"))?;
        }
        if self.xcrs {
            fd.set_xcrs(&convert::xcrs_to_kvm(s))
                .map_err(err("KVM_SET_XCRS"))?;
        }
        // KVM_SET_LAPIC applies a timer-mode change like a guest write to
        // LVTT: leaving or entering TSC-deadline mode clears TMICT *after*
        // copying the page in. A second SET, with the mode now unchanged,
        // restores the count. (KVM's mode may differ from the template's
        // if the guest ran since, so this is done every time.)
        let page = lapic::lapic_to_kvm(&s.apic, x2apic_mode(s), now, &self.shape);
        for _ in 0..2 {
            fd.set_lapic(&page).map_err(err("KVM_SET_LAPIC"))?;
        }
        let ctx = MsrCtx {
            model: self.model.model(),
            clock_tsc: clock::tsc_at(now),
            apic_now: now,
        };
        let refused = msrs::import(fd, &self.plan, s, &ctx)?;
        for (m, v) in &refused {
            self.warnings
                .push(format!("KVM refused MSR {m:#x} = {v:#x}"));
        }
        self.refused_msrs = refused;
        fd.set_mp_state(convert::mp_state_to_kvm(s))
            .map_err(err("KVM_SET_MP_STATE"))?;
        fd.set_vcpu_events(&convert::events_to_kvm(s, &self.shape)?)
            .map_err(err("KVM_SET_VCPU_EVENTS"))?;
        if self.debugregs {
            fd.set_debug_regs(&convert::debugregs_to_kvm(s))
                .map_err(err("KVM_SET_DEBUGREGS"))?;
        }
        self.template = s.clone();
        Ok(())
    }

    /// Reads the vCPU's state out of KVM at VM time `now`.
    pub fn export_state(&mut self, now: u64) -> Result<VcpuState, KvmError> {
        let mut s = self.template.clone();
        let ctx = self.msr_ctx(now);
        let fd = &self.fd;
        convert::regs_from_kvm(&mut s, &fd.get_regs().map_err(err("KVM_GET_REGS"))?);
        let sregs = fd.get_sregs().map_err(err("KVM_GET_SREGS"))?;
        let (efer, apic_base) = convert::sregs_from_kvm(&mut s, &sregs);
        let mut warnings = Vec::new();
        for (m, v) in [(IA32_EFER, efer), (IA32_APIC_BASE, apic_base)] {
            if let Err(e) = msr::write(&mut s, &ctx, m, v, Initiator::Host) {
                warnings.push(format!(
                    "MSR {m:#x}: KVM's value {v:#x} refused by the model ({e})"
                ));
            }
        }
        if self.xsave {
            let x = fd.get_xsave().map_err(err("KVM_GET_XSAVE"))?;
            s.fpu = convert::xsave_from_kvm(&x, &s.fpu);
        } else {
            let f = fd.get_fpu().map_err(err("KVM_GET_FPU"))?;
            s.fpu = convert::fpu_from_kvm(&f, &s.fpu);
        }
        if self.xcrs {
            convert::xcrs_from_kvm(&mut s, &fd.get_xcrs().map_err(err("KVM_GET_XCRS"))?);
        }
        let k = fd.get_lapic().map_err(err("KVM_GET_LAPIC"))?;
        s.apic = lapic::lapic_from_kvm(&k, x2apic_mode(&s), now, &self.shape, &s.apic);
        warnings.extend(msrs::export(fd, &self.plan, &mut s, &ctx)?);
        s.activity =
            convert::mp_state_from_kvm(&fd.get_mp_state().map_err(err("KVM_GET_MP_STATE"))?)?;
        let ev = fd.get_vcpu_events().map_err(err("KVM_GET_VCPU_EVENTS"))?;
        convert::events_from_kvm(&mut s, &ev);
        if self.debugregs {
            convert::debugregs_from_kvm(
                &mut s,
                &fd.get_debug_regs().map_err(err("KVM_GET_DEBUGREGS"))?,
            );
        }
        self.template = s.clone();
        self.warnings.extend(warnings);
        Ok(s)
    }
}

/// The suberror and data words of a KVM_EXIT_INTERNAL_ERROR, for messages
/// (the run loop and `nestor difftest` both report them).
pub fn internal_error(v: &mut KvmVcpu) -> String {
    let run = v.fd.get_kvm_run();
    // SAFETY: the exit reason is KVM_EXIT_INTERNAL_ERROR, so the kernel
    // filled the `internal` member of the exit union.
    let ie = unsafe { run.__bindgen_anon_1.internal };
    let n = (ie.ndata as usize).min(ie.data.len());
    let data: Vec<String> = ie.data[..n].iter().map(|d| format!("{d:#x}")).collect();
    let what = match ie.suberror {
        1 => "emulation failure",
        2 => "simultaneous exception",
        3 => "delivery event",
        4 => "unexpected exit reason",
        _ => "unknown",
    };
    format!(
        "suberror {} ({what}), data [{}]",
        ie.suberror,
        data.join(", ")
    )
}
