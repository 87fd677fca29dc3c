//! `VcpuState` ↔ KVM's per-vCPU structures, both ways, as pure functions
//! (no ioctls here; `vcpu.rs` calls them in KVM's order).
//!
//! What KVM cannot hold is taken from a *template* state on export (the
//! state last imported into, or exported from, the vCPU): FCS/FDS (KVM's
//! XSAVE image is the 64-bit format, which has none), the nested state
//! when the host has no nested virtualization, `is_bsp`, the APIC's
//! initial ID, SMBASE and the VMX capability values when KVM does not
//! offer them. Normalisations KVM applies on its side are listed where
//! they happen (unusable segments, the shadow bits' encoding, exceptions
//! already being delivered).

use kvm_bindings::{
    KVM_MP_STATE_HALTED, KVM_MP_STATE_INIT_RECEIVED, KVM_MP_STATE_RUNNABLE,
    KVM_MP_STATE_SIPI_RECEIVED, KVM_MP_STATE_UNINITIALIZED, KVM_VCPUEVENT_VALID_NMI_PENDING,
    KVM_VCPUEVENT_VALID_PAYLOAD, KVM_VCPUEVENT_VALID_SHADOW, KVM_VCPUEVENT_VALID_SIPI_VECTOR,
    KVM_VCPUEVENT_VALID_SMM, KVM_VCPUEVENT_VALID_TRIPLE_FAULT, KVM_X86_SHADOW_INT_MOV_SS,
    KVM_X86_SHADOW_INT_STI, kvm_debugregs, kvm_dtable, kvm_fpu, kvm_mp_state, kvm_regs,
    kvm_segment, kvm_sregs, kvm_vcpu_events, kvm_xcrs, kvm_xsave,
};

use super::KvmError;
use crate::interp::exec::x87::tags_from_abridged;
use crate::state::fpu::F80;
use crate::state::segment::ar;
use crate::state::{
    Activity, DescriptorTable, FpuState, PendingException, SegReg, Segment, VcpuState, gpr, shadow,
};

/// What the VM enabled that changes the shape of the transferred data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// KVM_CAP_EXCEPTION_PAYLOAD is enabled: pending vs injected exceptions
    /// and their CR2/DR6 payload are kept apart.
    pub exception_payload: bool,
    /// KVM_CAP_X86_TRIPLE_FAULT_EVENT is enabled: a shutdown can be pending.
    pub triple_fault_event: bool,
    /// KVM_CAP_X2APIC_API with 32-bit IDs: the x2APIC ID register holds
    /// the whole ID in KVM_GET/SET_LAPIC.
    pub x2apic_ids: bool,
    /// The XSAVE components the guest may use (XCR0 bits allowed by the
    /// model); the XSTATE_BV written never goes beyond them.
    pub xfeatures: u64,
}

// --- general registers --------------------------------------------------

pub fn regs_to_kvm(s: &VcpuState) -> kvm_regs {
    let g = &s.gpr;
    kvm_regs {
        rax: g[gpr::RAX],
        rbx: g[gpr::RBX],
        rcx: g[gpr::RCX],
        rdx: g[gpr::RDX],
        rsi: g[gpr::RSI],
        rdi: g[gpr::RDI],
        rsp: g[gpr::RSP],
        rbp: g[gpr::RBP],
        r8: g[8],
        r9: g[9],
        r10: g[10],
        r11: g[11],
        r12: g[12],
        r13: g[13],
        r14: g[14],
        r15: g[15],
        rip: s.rip,
        rflags: s.rflags,
    }
}

pub fn regs_from_kvm(s: &mut VcpuState, r: &kvm_regs) {
    s.gpr = [
        r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi, r.r8, r.r9, r.r10, r.r11, r.r12,
        r.r13, r.r14, r.r15,
    ];
    s.rip = r.rip;
    s.rflags = r.rflags;
}

// --- segments and system registers -------------------------------------

/// A segment register in KVM's form. The VMX access-rights layout nestor
/// keeps (`ar`) is the descriptor's attribute bits, so the fields map one
/// to one; bits outside the defined ones are not representable.
pub fn segment_to_kvm(seg: &Segment) -> kvm_segment {
    let a = seg.attr;
    let bit = |m: u32| u8::from(a & m != 0);
    kvm_segment {
        base: seg.base,
        limit: seg.limit,
        selector: seg.selector,
        type_: (a & ar::TYPE_MASK) as u8,
        present: bit(ar::P),
        dpl: ((a & ar::DPL_MASK) >> ar::DPL_SHIFT) as u8,
        db: bit(ar::DB),
        s: bit(ar::S),
        l: bit(ar::L),
        g: bit(ar::G),
        avl: bit(ar::AVL),
        unusable: bit(ar::UNUSABLE),
        padding: 0,
    }
}

/// The inverse of [`segment_to_kvm`]. KVM (VMX) reports an unusable
/// segment with every other attribute clear and "not present", and marks a
/// non-present segment unusable on the way in.
pub fn segment_from_kvm(k: &kvm_segment) -> Segment {
    let flag = |v: u8, m: u32| if v != 0 { m } else { 0 };
    let attr = u32::from(k.type_) & ar::TYPE_MASK
        | flag(k.s, ar::S)
        | (u32::from(k.dpl) & 3) << ar::DPL_SHIFT
        | flag(k.present, ar::P)
        | flag(k.avl, ar::AVL)
        | flag(k.l, ar::L)
        | flag(k.db, ar::DB)
        | flag(k.g, ar::G)
        | flag(k.unusable, ar::UNUSABLE);
    Segment {
        selector: k.selector,
        base: k.base,
        limit: k.limit,
        attr,
    }
}

fn dtable_to_kvm(t: &DescriptorTable) -> kvm_dtable {
    kvm_dtable {
        base: t.base,
        limit: t.limit,
        padding: [0; 3],
    }
}

fn dtable_from_kvm(t: &kvm_dtable) -> DescriptorTable {
    DescriptorTable {
        base: t.base,
        limit: t.limit,
    }
}

/// Segments, descriptor tables, CR0/2/3/4/8, EFER and the APIC base.
/// CR8 is the TPR's priority class (the LAPIC import that follows sets
/// the full TPR).
pub fn sregs_to_kvm(s: &VcpuState) -> kvm_sregs {
    let seg = |r: SegReg| segment_to_kvm(s.seg(r));
    kvm_sregs {
        cs: seg(SegReg::Cs),
        ds: seg(SegReg::Ds),
        es: seg(SegReg::Es),
        fs: seg(SegReg::Fs),
        gs: seg(SegReg::Gs),
        ss: seg(SegReg::Ss),
        tr: segment_to_kvm(&s.tr),
        ldt: segment_to_kvm(&s.ldtr),
        gdt: dtable_to_kvm(&s.gdtr),
        idt: dtable_to_kvm(&s.idtr),
        cr0: s.cr.cr0,
        cr2: s.cr.cr2,
        cr3: s.cr.cr3,
        cr4: s.cr.cr4,
        cr8: u64::from(s.apic.tpr >> 4),
        efer: s.efer,
        apic_base: s.msrs.apic_base,
        // Injected interrupts travel in the vCPU events.
        interrupt_bitmap: [0; 4],
    }
}

/// Segments, descriptor tables and control registers. EFER and the APIC
/// base are returned for the caller to pass through the MSR layer.
pub fn sregs_from_kvm(s: &mut VcpuState, k: &kvm_sregs) -> (u64, u64) {
    *s.seg_mut(SegReg::Cs) = segment_from_kvm(&k.cs);
    *s.seg_mut(SegReg::Ds) = segment_from_kvm(&k.ds);
    *s.seg_mut(SegReg::Es) = segment_from_kvm(&k.es);
    *s.seg_mut(SegReg::Fs) = segment_from_kvm(&k.fs);
    *s.seg_mut(SegReg::Gs) = segment_from_kvm(&k.gs);
    *s.seg_mut(SegReg::Ss) = segment_from_kvm(&k.ss);
    s.tr = segment_from_kvm(&k.tr);
    s.ldtr = segment_from_kvm(&k.ldt);
    s.gdtr = dtable_from_kvm(&k.gdt);
    s.idtr = dtable_from_kvm(&k.idt);
    s.cr.cr0 = k.cr0;
    s.cr.cr2 = k.cr2;
    s.cr.cr3 = k.cr3;
    s.cr.cr4 = k.cr4;
    (k.efer, k.apic_base)
}

// --- x87 / SSE / AVX ----------------------------------------------------

/// Offsets in the standard-format XSAVE area (SDM Vol. 1 Table 10-2
/// "Format of an FXSAVE Area", 64-bit form, and 13.4 / Table 13-1).
mod xsave_off {
    pub const FCW: usize = 0;
    pub const FSW: usize = 2;
    pub const FTW: usize = 4;
    pub const FOP: usize = 6;
    pub const FIP: usize = 8;
    pub const FDP: usize = 16;
    pub const MXCSR: usize = 24;
    pub const ST0: usize = 32;
    pub const XMM0: usize = 160;
    pub const XSTATE_BV: usize = 512;
    pub const YMM_HI: usize = 576;
    pub const BNDREGS: usize = 960;
    pub const BNDCSR: usize = 1024;
    pub const PKRU: usize = 2688;
}

/// XSAVE state-component bits.
mod xfeature {
    pub const X87: u64 = 1 << 0;
    pub const SSE: u64 = 1 << 1;
    pub const AVX: u64 = 1 << 2;
    pub const BNDREGS: u64 = 1 << 3;
    pub const BNDCSR: u64 = 1 << 4;
    pub const PKRU: u64 = 1 << 9;
}

fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
    buf[off..off + bytes.len()].copy_from_slice(bytes);
}

fn get<const N: usize>(buf: &[u8], off: usize) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&buf[off..off + N]);
    b
}

fn u64_at(buf: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(get(buf, off))
}

fn f80_bytes(r: F80) -> [u8; 10] {
    let mut b = [0u8; 10];
    b[..8].copy_from_slice(&r.significand.to_le_bytes());
    b[8..].copy_from_slice(&r.sign_exp.to_le_bytes());
    b
}

fn f80_from(b: &[u8]) -> F80 {
    F80 {
        significand: u64::from_le_bytes(get(b, 0)),
        sign_exp: u16::from_le_bytes(get(b, 8)),
    }
}

fn xsave_bytes(x: &kvm_xsave) -> Vec<u8> {
    x.region.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The FPU/SSE/AVX/MPX/PKRU state as KVM_SET_XSAVE's standard-format area.
pub fn xsave_to_kvm(f: &FpuState, shape: &Shape) -> kvm_xsave {
    use xsave_off as o;
    let mut b = vec![0u8; 4096];
    put(&mut b, o::FCW, &f.fcw.to_le_bytes());
    put(&mut b, o::FSW, &f.fsw.to_le_bytes());
    b[o::FTW] = f.abridged_tag();
    put(&mut b, o::FOP, &f.fop.to_le_bytes());
    put(&mut b, o::FIP, &f.fip.to_le_bytes());
    put(&mut b, o::FDP, &f.fdp.to_le_bytes());
    put(&mut b, o::MXCSR, &f.mxcsr.to_le_bytes());
    // MXCSR_MASK (offset 28) is the processor's, ignored on restore.
    let top = f.top();
    for i in 0..8 {
        put(&mut b, o::ST0 + 16 * i, &f80_bytes(f.regs[(top + i) % 8]));
    }
    for (i, x) in f.xmm.iter().enumerate() {
        put(&mut b, o::XMM0 + 16 * i, &x[0].to_le_bytes());
        put(&mut b, o::XMM0 + 16 * i + 8, &x[1].to_le_bytes());
    }
    let mut bv = xfeature::X87 | xfeature::SSE;
    if shape.xfeatures & xfeature::AVX != 0 {
        bv |= xfeature::AVX;
        for (i, y) in f.ymm_hi.iter().enumerate() {
            put(&mut b, o::YMM_HI + 16 * i, &y[0].to_le_bytes());
            put(&mut b, o::YMM_HI + 16 * i + 8, &y[1].to_le_bytes());
        }
    }
    if shape.xfeatures & (xfeature::BNDREGS | xfeature::BNDCSR) != 0 {
        bv |= xfeature::BNDREGS | xfeature::BNDCSR;
        for (i, r) in f.bnd.iter().enumerate() {
            put(&mut b, o::BNDREGS + 16 * i, &r[0].to_le_bytes());
            put(&mut b, o::BNDREGS + 16 * i + 8, &r[1].to_le_bytes());
        }
        put(&mut b, o::BNDCSR, &f.bndcfgu.to_le_bytes());
        put(&mut b, o::BNDCSR + 8, &f.bndstatus.to_le_bytes());
    }
    if shape.xfeatures & xfeature::PKRU != 0 {
        bv |= xfeature::PKRU;
        put(&mut b, o::PKRU, &f.pkru.to_le_bytes());
    }
    put(&mut b, o::XSTATE_BV, &bv.to_le_bytes());
    let mut x = kvm_xsave::default();
    for (w, c) in x.region.iter_mut().zip(b.chunks_exact(4)) {
        *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    x
}

/// The inverse of [`xsave_to_kvm`]. Components whose XSTATE_BV bit is
/// clear are in their initial state (zero). FCS/FDS come from `template`.
pub fn xsave_from_kvm(x: &kvm_xsave, template: &FpuState) -> FpuState {
    use xsave_off as o;
    let b = xsave_bytes(x);
    let bv = u64_at(&b, o::XSTATE_BV);
    let mut f = template.clone();
    f.fcw = u16::from_le_bytes(get(&b, o::FCW));
    f.fsw = u16::from_le_bytes(get(&b, o::FSW));
    f.fop = u16::from_le_bytes(get(&b, o::FOP));
    f.fip = u64_at(&b, o::FIP);
    f.fdp = u64_at(&b, o::FDP);
    f.mxcsr = u32::from_le_bytes(get(&b, o::MXCSR));
    let top = f.top();
    for i in 0..8 {
        f.regs[(top + i) % 8] = f80_from(&b[o::ST0 + 16 * i..]);
    }
    f.ftw = tags_from_abridged(&f, b[o::FTW]);
    for (i, x) in f.xmm.iter_mut().enumerate() {
        *x = [
            u64_at(&b, o::XMM0 + 16 * i),
            u64_at(&b, o::XMM0 + 16 * i + 8),
        ];
    }
    let on = |m: u64| bv & m != 0;
    for (i, y) in f.ymm_hi.iter_mut().enumerate() {
        *y = if on(xfeature::AVX) {
            [
                u64_at(&b, o::YMM_HI + 16 * i),
                u64_at(&b, o::YMM_HI + 16 * i + 8),
            ]
        } else {
            [0; 2]
        };
    }
    for (i, r) in f.bnd.iter_mut().enumerate() {
        *r = if on(xfeature::BNDREGS) {
            [
                u64_at(&b, o::BNDREGS + 16 * i),
                u64_at(&b, o::BNDREGS + 16 * i + 8),
            ]
        } else {
            [0; 2]
        };
    }
    (f.bndcfgu, f.bndstatus) = if on(xfeature::BNDCSR) {
        (u64_at(&b, o::BNDCSR), u64_at(&b, o::BNDCSR + 8))
    } else {
        (0, 0)
    };
    f.pkru = if on(xfeature::PKRU) {
        u32::from_le_bytes(get(&b, o::PKRU))
    } else {
        0
    };
    f
}

/// The legacy KVM_SET_FPU form, for hosts without KVM_CAP_XSAVE (x87 and
/// SSE only).
pub fn fpu_to_kvm(f: &FpuState) -> kvm_fpu {
    let mut k = kvm_fpu {
        fcw: f.fcw,
        fsw: f.fsw,
        ftwx: f.abridged_tag(),
        last_opcode: f.fop,
        last_ip: f.fip,
        last_dp: f.fdp,
        mxcsr: f.mxcsr,
        ..Default::default()
    };
    let top = f.top();
    for i in 0..8 {
        k.fpr[i][..10].copy_from_slice(&f80_bytes(f.regs[(top + i) % 8]));
    }
    for (i, x) in f.xmm.iter().enumerate() {
        k.xmm[i][..8].copy_from_slice(&x[0].to_le_bytes());
        k.xmm[i][8..].copy_from_slice(&x[1].to_le_bytes());
    }
    k
}

pub fn fpu_from_kvm(k: &kvm_fpu, template: &FpuState) -> FpuState {
    let mut f = template.clone();
    f.fcw = k.fcw;
    f.fsw = k.fsw;
    f.fop = k.last_opcode;
    f.fip = k.last_ip;
    f.fdp = k.last_dp;
    f.mxcsr = k.mxcsr;
    let top = f.top();
    for i in 0..8 {
        f.regs[(top + i) % 8] = f80_from(&k.fpr[i]);
    }
    f.ftw = tags_from_abridged(&f, k.ftwx);
    for (i, x) in f.xmm.iter_mut().enumerate() {
        *x = [
            u64::from_le_bytes(get(&k.xmm[i], 0)),
            u64::from_le_bytes(get(&k.xmm[i], 8)),
        ];
    }
    f
}

pub fn xcrs_to_kvm(s: &VcpuState) -> kvm_xcrs {
    let mut x = kvm_xcrs {
        nr_xcrs: 1,
        ..Default::default()
    };
    x.xcrs[0].xcr = 0;
    x.xcrs[0].value = s.xcr0;
    x
}

pub fn xcrs_from_kvm(s: &mut VcpuState, x: &kvm_xcrs) {
    let n = (x.nr_xcrs as usize).min(x.xcrs.len());
    if let Some(x0) = x.xcrs[..n].iter().find(|x| x.xcr == 0) {
        s.xcr0 = x0.value;
    }
}

// --- debug registers ----------------------------------------------------

pub fn debugregs_to_kvm(s: &VcpuState) -> kvm_debugregs {
    kvm_debugregs {
        db: s.dr.dr,
        dr6: s.dr.dr6,
        dr7: s.dr.dr7,
        ..Default::default()
    }
}

pub fn debugregs_from_kvm(s: &mut VcpuState, d: &kvm_debugregs) {
    s.dr.dr = d.db;
    s.dr.dr6 = d.dr6;
    s.dr.dr7 = d.dr7;
}

// --- events and activity ------------------------------------------------

/// nestor's shadow bits (STI = 1, MOV SS = 2) in KVM's encoding (MOV SS =
/// 1, STI = 2). VMX cannot hold both; KVM keeps MOV SS then.
fn shadow_to_kvm(v: u8) -> u8 {
    let mut k = 0;
    if v & shadow::MOV_SS != 0 {
        k |= KVM_X86_SHADOW_INT_MOV_SS as u8;
    }
    if v & shadow::STI != 0 {
        k |= KVM_X86_SHADOW_INT_STI as u8;
    }
    k
}

fn shadow_from_kvm(k: u8) -> u8 {
    let mut v = 0;
    if k & KVM_X86_SHADOW_INT_MOV_SS as u8 != 0 {
        v |= shadow::MOV_SS;
    }
    if k & KVM_X86_SHADOW_INT_STI as u8 != 0 {
        v |= shadow::STI;
    }
    v
}

/// Pending and in-flight events. A pending exception becomes KVM's
/// "pending" exception (delivered, payload included, at the next entry)
/// when the VM has exception payloads enabled, else an "injected" one
/// (its CR2/DR6 payload is then already in the registers).
pub fn events_to_kvm(s: &VcpuState, shape: &Shape) -> Result<kvm_vcpu_events, KvmError> {
    let ev = &s.events;
    let mut k = kvm_vcpu_events {
        flags: KVM_VCPUEVENT_VALID_NMI_PENDING
            | KVM_VCPUEVENT_VALID_SHADOW
            | KVM_VCPUEVENT_VALID_SIPI_VECTOR
            | KVM_VCPUEVENT_VALID_SMM,
        ..Default::default()
    };
    if let Some(e) = ev.exception {
        if e.vector > 31 || e.vector == 2 {
            return Err(KvmError(format!(
                "pending exception vector {} cannot be an exception under KVM",
                e.vector
            )));
        }
        k.exception.nr = e.vector;
        k.exception.has_error_code = u8::from(e.error_code.is_some());
        k.exception.error_code = e.error_code.unwrap_or(0);
        if shape.exception_payload {
            k.exception.pending = 1;
            k.exception_has_payload = u8::from(e.payload.is_some());
            k.exception_payload = e.payload.unwrap_or(0);
        } else {
            k.exception.injected = 1;
        }
    }
    if shape.exception_payload {
        k.flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
    }
    if let Some(v) = ev.injected_interrupt {
        k.interrupt.injected = 1;
        k.interrupt.nr = v;
    }
    k.interrupt.shadow = shadow_to_kvm(ev.interrupt_shadow);
    k.nmi.pending = u8::from(ev.nmi_pending);
    k.nmi.masked = u8::from(ev.nmi_blocked);
    k.sipi_vector = u32::from(ev.sipi_vector.unwrap_or(0));
    k.smi.latched_init = u8::from(ev.init_pending);
    if shape.triple_fault_event {
        k.flags |= KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
        k.triple_fault.pending = u8::from(s.activity == Activity::Shutdown);
    }
    Ok(k)
}

/// The inverse of [`events_to_kvm`]. An exception or NMI KVM reports as
/// already being delivered ("injected") comes back as pending: delivery
/// restarts from the beginning, which is what re-injection does. A
/// pending SIPI is not visible here (KVM_GET_MP_STATE applies it). KVM
/// never reports a pending #BP or #OF (software exceptions: its API has
/// no instruction length for them), so those are lost on export.
pub fn events_from_kvm(s: &mut VcpuState, k: &kvm_vcpu_events) {
    let ev = &mut s.events;
    ev.exception =
        (k.exception.pending != 0 || k.exception.injected != 0).then(|| PendingException {
            vector: k.exception.nr,
            error_code: (k.exception.has_error_code != 0).then_some(k.exception.error_code),
            payload: (k.flags & KVM_VCPUEVENT_VALID_PAYLOAD != 0
                && k.exception.pending != 0
                && k.exception_has_payload != 0)
                .then_some(k.exception_payload),
        });
    ev.injected_interrupt =
        (k.interrupt.injected != 0 && k.interrupt.soft == 0).then_some(k.interrupt.nr);
    if k.flags & KVM_VCPUEVENT_VALID_SHADOW != 0 {
        ev.interrupt_shadow = shadow_from_kvm(k.interrupt.shadow);
    }
    ev.nmi_pending = k.nmi.pending != 0 || k.nmi.injected != 0;
    ev.nmi_blocked = k.nmi.masked != 0;
    if k.flags & KVM_VCPUEVENT_VALID_SMM != 0 {
        ev.init_pending = k.smi.latched_init != 0;
    }
    ev.sipi_vector = None;
    if k.flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT != 0 && k.triple_fault.pending != 0 {
        s.activity = Activity::Shutdown;
    }
}

/// The activity state as KVM's MP state. A shutdown has no MP state (it is
/// a pending triple-fault event, see [`events_to_kvm`]); a latched SIPI is
/// SIPI_RECEIVED with the vector in the events.
pub fn mp_state_to_kvm(s: &VcpuState) -> kvm_mp_state {
    let mp_state = match s.activity {
        Activity::Active | Activity::Shutdown => KVM_MP_STATE_RUNNABLE,
        Activity::Halted => KVM_MP_STATE_HALTED,
        Activity::WaitForSipi if s.events.sipi_vector.is_some() => KVM_MP_STATE_SIPI_RECEIVED,
        Activity::WaitForSipi => KVM_MP_STATE_INIT_RECEIVED,
    };
    kvm_mp_state { mp_state }
}

pub fn mp_state_from_kvm(m: &kvm_mp_state) -> Result<Activity, KvmError> {
    Ok(match m.mp_state {
        KVM_MP_STATE_RUNNABLE => Activity::Active,
        KVM_MP_STATE_HALTED => Activity::Halted,
        // UNINITIALIZED: an AP that never received INIT; it waits too.
        KVM_MP_STATE_INIT_RECEIVED | KVM_MP_STATE_UNINITIALIZED | KVM_MP_STATE_SIPI_RECEIVED => {
            Activity::WaitForSipi
        }
        other => return Err(KvmError(format!("unexpected KVM MP state {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::presets::preset;
    use crate::state::reset::ResetParams;

    fn state() -> VcpuState {
        let m = preset("max").expect("max");
        VcpuState::reset(
            &m,
            ResetParams {
                apic_id: 0,
                is_bsp: true,
                clock_tsc: 0,
            },
        )
        .0
    }

    #[test]
    fn segments_map_field_by_field() {
        let s = Segment::new(
            0x1B,
            0x1234_5000,
            0xFFFF_FFFF,
            ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::L | ar::G | (3 << ar::DPL_SHIFT),
        );
        let k = segment_to_kvm(&s);
        assert_eq!(
            (k.type_, k.present, k.dpl, k.l, k.db, k.g),
            (0xB, 1, 3, 1, 0, 1)
        );
        assert_eq!(segment_from_kvm(&k), s);
        let u = Segment::new(0, 0, 0, ar::UNUSABLE);
        assert_eq!(segment_from_kvm(&segment_to_kvm(&u)), u);
    }

    #[test]
    fn shadow_bits_swap_encoding() {
        assert_eq!(shadow_to_kvm(shadow::STI), KVM_X86_SHADOW_INT_STI as u8);
        assert_eq!(
            shadow_to_kvm(shadow::MOV_SS),
            KVM_X86_SHADOW_INT_MOV_SS as u8
        );
        for v in 0..4 {
            assert_eq!(shadow_from_kvm(shadow_to_kvm(v)), v);
        }
    }

    #[test]
    fn xsave_area_round_trip_and_stack_order() {
        let mut s = state();
        let f = &mut s.fpu;
        f.fsw = 3 << 11; // TOP = 3
        f.regs[3] = F80 {
            significand: 0x8000_0000_0000_0001,
            sign_exp: 0x3FFF,
        };
        f.ftw = !(3 << 6); // R3 valid, others empty
        f.xmm[5] = [1, 2];
        f.ymm_hi[15] = [3, 4];
        f.pkru = 0x55;
        f.fip = 0x1234;
        let shape = Shape {
            xfeatures: 0x207,
            ..Shape::default()
        };
        let k = xsave_to_kvm(&s.fpu, &shape);
        let b = xsave_bytes(&k);
        // ST(0) is physical R3.
        assert_eq!(u64_at(&b, xsave_off::ST0), 0x8000_0000_0000_0001);
        assert_eq!(b[xsave_off::FTW], 1 << 3);
        assert_eq!(u64_at(&b, xsave_off::XSTATE_BV), 0x207);
        assert_eq!(xsave_from_kvm(&k, &s.fpu), s.fpu);
        // Without AVX in the shape, YMM upper halves are not transferred.
        let k = xsave_to_kvm(&s.fpu, &Shape::default());
        assert_eq!(xsave_from_kvm(&k, &s.fpu).ymm_hi[15], [0, 0]);
    }

    #[test]
    fn legacy_fpu_round_trip() {
        let mut s = state();
        s.fpu.xmm[15] = [7, 8];
        s.fpu.mxcsr = 0x1F80 | 0x40;
        assert_eq!(fpu_from_kvm(&fpu_to_kvm(&s.fpu), &s.fpu), s.fpu);
    }

    #[test]
    fn events_round_trip() {
        let mut s = state();
        s.events.exception = Some(PendingException {
            vector: 14,
            error_code: Some(2),
            payload: Some(0xdead_b000),
        });
        s.events.injected_interrupt = Some(0x41);
        s.events.nmi_pending = true;
        s.events.nmi_blocked = true;
        s.events.interrupt_shadow = shadow::STI;
        let shape = Shape {
            exception_payload: true,
            triple_fault_event: true,
            ..Shape::default()
        };
        let k = events_to_kvm(&s, &shape).expect("valid");
        let mut back = state();
        events_from_kvm(&mut back, &k);
        assert_eq!(back.events, s.events);
        s.events.exception = Some(PendingException {
            vector: 40,
            error_code: None,
            payload: None,
        });
        assert!(events_to_kvm(&s, &shape).is_err());
    }

    #[test]
    fn activity_maps_to_mp_state() {
        let mut s = state();
        for a in [Activity::Active, Activity::Halted, Activity::WaitForSipi] {
            s.activity = a;
            assert_eq!(mp_state_from_kvm(&mp_state_to_kvm(&s)).expect("known"), a);
        }
    }
}
