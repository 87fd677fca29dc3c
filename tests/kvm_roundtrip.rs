//! State → KVM → state is the identity: a deterministic, seeded generator
//! makes a wide set of valid vCPU states for the host-fitted `max` model
//! (real, protected, paged and 64-bit modes; segments incl. unusable
//! ones; FPU/SSE; debug registers; MSRs through the MSR layer; LAPIC
//! registers and timers in every mode, xAPIC and x2APIC; pending events;
//! MP states), each is imported into a KVM vCPU and exported again, and
//! the two are compared field by field.
//!
//! Skips (printing why) when /dev/kvm is absent or unusable.
//!
//! Two things move on their own between the import and the export: the
//! guest TSC and the APIC timer's current count both run in real time. They
//! are compared with a tolerance of [`SLACK_NS`]; everything else exactly.

use std::sync::Arc;

use nestor::apic::regs::{off, timer_mode};
use nestor::apic::{self, LVT_MASKED, Lvt};
use nestor::arch::msr_index::*;
use nestor::kvm::caps::{self, KvmCaps};
use nestor::kvm::cpuid::{Unsupported, fit_model};
use nestor::kvm::vm::KvmVm;
use nestor::machine::clock;
use nestor::machine::memory::GuestMemory;
use nestor::model::parse::parse_model;
use nestor::model::{CpuModel, Feature};
use nestor::msr::{self, Initiator, MsrCtx};
use nestor::state::segment::ar;
use nestor::state::{
    Activity, PendingException, SegReg, Segment, VcpuState, cr0, cr4, efer, rflags, shadow,
};
use nestor::vm::VmCpuModel;
use serde_json::Value;

/// How far the free-running parts (TSC, APIC timer) may move between
/// import and export.
const SLACK_NS: u64 = 5_000_000_000;
/// The VM clock at both transfers.
const NOW: u64 = 1_000_000_000_000;
/// Guest RAM for the test VM (PAE page-directory pointers are read from it).
const RAM: u64 = 4 << 20;
const STATES: u64 = 1000;

fn usable_kvm() -> Option<(kvm_ioctls::Kvm, KvmCaps)> {
    let kvm = match caps::open() {
        Ok(k) => k,
        Err(e) => {
            println!("SKIP: {e}");
            return None;
        }
    };
    let caps = match KvmCaps::probe(&kvm).and_then(|c| c.require_for_run().map(|()| c)) {
        Ok(c) => c,
        Err(e) => {
            println!("SKIP: /dev/kvm unusable: {e}");
            return None;
        }
    };
    Some((kvm, caps))
}

/// xorshift64*: deterministic, seeded.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
    fn canonical(&mut self) -> u64 {
        ((self.next() << 16) as i64 >> 16) as u64
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Real,
    Protected,
    ProtectedPaged,
    Pae,
    Long,
}

fn data_attr(r: &mut Rng, dpl: u32) -> u32 {
    let mut a = ar::P | ar::S | ar::ACCESSED | (dpl << ar::DPL_SHIFT);
    if r.chance(70) {
        a |= ar::RW;
    }
    if r.chance(10) {
        a |= ar::DC;
    }
    if r.chance(50) {
        a |= ar::DB;
    }
    if r.chance(50) {
        a |= ar::G;
    }
    if r.chance(20) {
        a |= ar::AVL;
    }
    a
}

fn gen_segments(s: &mut VcpuState, r: &mut Rng, mode: Mode) {
    if mode == Mode::Real {
        for sr in SegReg::ALL {
            let sel = r.next() as u16;
            let attr = if sr == SegReg::Cs {
                ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED
            } else {
                ar::P | ar::S | ar::RW | ar::ACCESSED
            };
            *s.seg_mut(sr) = Segment::new(sel, u64::from(sel) << 4, 0xFFFF, attr);
        }
    } else {
        let cpl = if r.chance(50) { 0 } else { 3 };
        let long = mode == Mode::Long;
        let mut cs_attr = ar::P | ar::S | ar::CODE | ar::ACCESSED | (cpl << ar::DPL_SHIFT);
        if r.chance(70) {
            cs_attr |= ar::RW;
        }
        if long && r.chance(80) {
            cs_attr |= ar::L;
        } else {
            cs_attr |= ar::DB;
        }
        cs_attr |= ar::G;
        *s.seg_mut(SegReg::Cs) = Segment::new(
            (r.below(0x2000) as u16) << 3 | cpl as u16,
            if long { 0 } else { r.next() & 0xFFFF_F000 },
            0xFFFF_FFFF,
            cs_attr,
        );
        for sr in [SegReg::Ss, SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs] {
            let unusable =
                sr != SegReg::Ss && r.chance(25) || sr == SegReg::Ss && long && r.chance(20);
            let base = if matches!(sr, SegReg::Fs | SegReg::Gs) && long {
                r.canonical()
            } else {
                r.next() & 0xFFFF_FFFF
            };
            *s.seg_mut(sr) = if unusable {
                Segment::new(
                    (r.below(4) as u16) | if sr == SegReg::Ss { cpl as u16 } else { 0 },
                    base,
                    0,
                    ar::UNUSABLE,
                )
            } else {
                let dpl = if sr == SegReg::Ss {
                    cpl
                } else {
                    r.below(4) as u32
                };
                let mut a = data_attr(r, dpl);
                if sr == SegReg::Ss {
                    a |= ar::RW;
                }
                Segment::new(
                    (r.below(0x2000) as u16) << 3 | dpl as u16,
                    base,
                    r.next() as u32,
                    a,
                )
            };
        }
    }
    s.tr = Segment::new(
        (r.below(0x2000) as u16) << 3,
        if mode == Mode::Long {
            r.canonical()
        } else {
            r.next() & 0xFFFF_FFFF
        },
        r.next() as u32 & 0xFFFFF,
        ar::P | ar::TYPE_TSS_BUSY,
    );
    s.ldtr = if r.chance(50) {
        Segment::new(0, 0, 0, ar::UNUSABLE)
    } else {
        Segment::new(
            (r.below(0x2000) as u16) << 3,
            r.next() & 0xFFFF_FFFF,
            r.next() as u32 & 0xFFFF,
            ar::P | ar::TYPE_LDT,
        )
    };
    s.gdtr.base = if mode == Mode::Long {
        r.canonical()
    } else {
        r.next() & 0xFFFF_FFFF
    };
    s.gdtr.limit = r.next() as u16;
    s.idtr.base = if mode == Mode::Long {
        r.canonical()
    } else {
        r.next() & 0xFFFF_FFFF
    };
    s.idtr.limit = r.next() as u16;
}

fn gen_control(s: &mut VcpuState, r: &mut Rng, m: &CpuModel, mode: Mode) {
    s.cr.cr0 = cr0::ET | if r.chance(50) { cr0::NE } else { 0 };
    for bit in [cr0::MP, cr0::EM, cr0::TS, cr0::WP, cr0::AM] {
        if r.chance(40) {
            s.cr.cr0 |= bit;
        }
    }
    if r.chance(20) {
        s.cr.cr0 |= cr0::CD;
        if r.chance(50) {
            s.cr.cr0 |= cr0::NW;
        }
    }
    if mode != Mode::Real {
        s.cr.cr0 |= cr0::PE;
    }
    if matches!(mode, Mode::ProtectedPaged | Mode::Pae | Mode::Long) {
        s.cr.cr0 |= cr0::PG;
    }
    let mut cr4 = 0;
    for bit in [
        cr4::VME,
        cr4::PVI,
        cr4::TSD,
        cr4::DE,
        cr4::PSE,
        cr4::PGE,
        cr4::PCE,
        cr4::OSFXSR,
        cr4::OSXMMEXCPT,
    ] {
        if r.chance(40) {
            cr4 |= bit;
        }
    }
    if m.has(Feature::Umip) && r.chance(40) {
        cr4 |= cr4::UMIP;
    }
    if m.has(Feature::Mce) && r.chance(40) {
        cr4 |= cr4::MCE;
    }
    if matches!(mode, Mode::Pae | Mode::Long) {
        cr4 |= cr4::PAE;
    }
    s.cr.cr4 = cr4;
    s.cr.cr2 = r.next();
    // CR3 inside the test VM's RAM (PAE: 32-byte aligned PDPT).
    s.cr.cr3 = r.below(RAM) & !0xFFF;
    if mode == Mode::Pae {
        s.cr.cr3 |= r.below(128) << 5;
    }
    let mut e = 0;
    if r.chance(50) {
        e |= efer::SCE;
    }
    if m.has(Feature::Nx) && r.chance(50) {
        e |= efer::NXE;
    }
    if mode == Mode::Long {
        e |= efer::LME | efer::LMA;
    }
    s.efer = e;
    let mut fl = rflags::FIXED1;
    for bit in [
        rflags::CF,
        rflags::PF,
        rflags::AF,
        rflags::ZF,
        rflags::SF,
        rflags::IF,
        rflags::DF,
        rflags::OF,
        rflags::NT,
        rflags::RF,
        rflags::AC,
        rflags::ID,
    ] {
        if r.chance(50) {
            fl |= bit;
        }
    }
    fl |= r.below(4) << 12;
    s.rflags = fl;
}

fn gen_fpu(s: &mut VcpuState, r: &mut Rng, m: &CpuModel) {
    let f = &mut s.fpu;
    f.fcw = (r.next() as u16 & 0x1F3F) | 0x40;
    f.fsw = r.next() as u16;
    f.fop = r.next() as u16 & 0x7FF;
    f.fip = r.canonical();
    f.fdp = r.canonical();
    f.mxcsr = r.next() as u32 & 0xFFFF;
    for reg in &mut f.regs {
        reg.significand = r.next();
        reg.sign_exp = r.next() as u16;
        if r.chance(20) {
            *reg = Default::default();
        }
    }
    let abridged = r.next() as u8;
    f.ftw = nestor::interp::exec::x87::tags_from_abridged(f, abridged);
    for x in &mut f.xmm {
        *x = [r.next(), r.next()];
    }
    if m.has(Feature::Avx) {
        for y in &mut f.ymm_hi {
            *y = [r.next(), r.next()];
        }
    }
    if m.has(Feature::Pku) {
        f.pkru = r.next() as u32;
    }
    s.xcr0 = 1;
    if m.has(Feature::Xsave) && r.chance(70) {
        s.xcr0 |= 2;
        if m.has(Feature::Avx) && r.chance(70) {
            s.xcr0 |= 4;
        }
    }
}

fn gen_apic(s: &mut VcpuState, r: &mut Rng, m: &CpuModel, x2apic: bool) {
    let ctx = MsrCtx {
        model: m,
        clock_tsc: clock::tsc_at(NOW),
        apic_now: NOW,
    };
    let tsc = msr::read(s, &ctx, IA32_TSC, Initiator::Host).unwrap_or(0);
    let a = &mut s.apic;
    a.tpr = r.below(256) as u32;
    a.svr = (r.below(256) as u32) | 0x100 | if r.chance(20) { 0x200 } else { 0 };
    for i in 1..8 {
        a.isr[i] = if r.chance(20) { 1 << r.below(32) } else { 0 };
        a.irr[i] = if r.chance(30) { r.next() as u32 } else { 0 };
        a.tmr[i] = a.irr[i] & r.next() as u32;
    }
    a.esr = r.next() as u32 & 0xEC;
    a.icr = r.next() & 0x000C_CFFF;
    if x2apic {
        a.icr |= r.next() & 0xFFFF_FFFF_0000_0000;
        a.ldr = apic::deliver::x2apic_ldr(a.id);
    } else {
        a.icr |= r.next() & 0xFF00_0000_0000_0000;
        a.ldr = r.next() as u32 & 0xFF00_0000;
        a.dfr = if r.chance(50) {
            0xFFFF_FFFF
        } else {
            0x0FFF_FFFF
        };
    }
    let writable = [
        0x0001_07FF,
        0x0007_00FF,
        0x0001_07FF,
        0x0001_07FF,
        0x0001_A7FF,
        0x0001_A7FF,
        0x0001_00FF,
    ];
    for (i, w) in writable.iter().enumerate() {
        a.lvt[i] =
            (r.next() as u32 & w & !0x6_0000) | 0x20 | if r.chance(50) { LVT_MASKED } else { 0 };
        if i == Lvt::Lint0 as usize || i == Lvt::Lint1 as usize {
            // Fixed, NMI or ExtINT delivery.
            a.lvt[i] = (a.lvt[i] & !0x700) | r.pick(&[0u32, 0x400, 0x700]);
        } else if i != Lvt::Timer as usize {
            a.lvt[i] &= !0x700;
        }
    }
    a.timer_divide = r.pick(&[0u32, 1, 2, 3, 8, 9, 0xA, 0xB]);
    let mode = if m.has(Feature::TscDeadline) {
        r.pick(&[
            timer_mode::ONE_SHOT,
            timer_mode::PERIODIC,
            timer_mode::TSC_DEADLINE,
        ])
    } else {
        r.pick(&[timer_mode::ONE_SHOT, timer_mode::PERIODIC])
    };
    let t = Lvt::Timer as usize;
    a.lvt[t] = (a.lvt[t] & !(3 << 17)) | mode << 17;
    a.timer_initial = 0;
    a.tsc_deadline = 0;
    if mode == timer_mode::TSC_DEADLINE {
        // Minutes in the future, so it does not fire between the transfers.
        if r.chance(70) {
            a.tsc_deadline = tsc + (1 << 40) + r.below(1 << 36);
        }
    } else if r.chance(70) {
        // A count running now, long enough to outlast the test.
        a.timer_initial = (r.next() as u32) | 0x8000_0000;
        a.timer_load_time = NOW - r.below(1 << 20);
    }
    let _ = off::TPR;
}

/// Applies random values to every MSR the plan moves, through the MSR
/// layer (values the model refuses are skipped).
fn gen_msrs(s: &mut VcpuState, r: &mut Rng, m: &CpuModel, host_tsc: Option<u64>) {
    let ctx = MsrCtx {
        model: m,
        clock_tsc: clock::tsc_at(NOW),
        apic_now: NOW,
    };
    let pat_types = [0u64, 1, 4, 5, 6, 7];
    for idx in msr::saved_msrs(m) {
        let v = match idx {
            // A host whose TSC cannot be written keeps its own: start there.
            IA32_TSC => host_tsc.unwrap_or(r.next() >> 2 | 1 << 40),
            IA32_TSC_ADJUST => r.next(),
            IA32_TSC_DEADLINE | IA32_APIC_BASE | IA32_EFER | IA32_FS_BASE | IA32_GS_BASE => {
                continue;
            }
            IA32_PAT => (0..8).fold(0, |acc, i| acc | r.pick(&pat_types) << (8 * i)),
            IA32_MISC_ENABLE => {
                msr::misc_enable_reset(m)
                    | (r.next() & msr::misc_enable::WRITABLE & !msr::misc_enable::XD_DISABLE)
            }
            IA32_FEATURE_CONTROL => r.below(2),
            IA32_DEBUGCTL => 0,
            IA32_MCG_STATUS => r.below(16),
            IA32_MTRR_DEF_TYPE => r.pick(&[0u64, 6]) | r.below(2) << 10 | r.below(2) << 11,
            IA32_SYSENTER_CS => r.next() & 0xFFFF,
            IA32_FMASK | IA32_TSC_AUX => r.next() & 0xFFFF_FFFF,
            IA32_STAR => r.next(),
            _ if (IA32_MTRR_PHYSBASE0..=IA32_MTRR_PHYSMASK7).contains(&idx) => {
                if idx % 2 == 0 {
                    (r.below(1 << 20) << 12) | r.pick(&[0u64, 6])
                } else {
                    (r.below(1 << 20) << 12) | 1 << 11
                }
            }
            _ if (IA32_MC0_CTL..IA32_MC0_CTL + 128).contains(&idx) => {
                if idx % 4 == 0 {
                    r.pick(&[0, u64::MAX])
                } else {
                    r.next()
                }
            }
            _ => r.canonical(),
        };
        let _ = msr::write(s, &ctx, idx, v, Initiator::Host);
    }
}

fn gen_events(s: &mut VcpuState, r: &mut Rng) {
    if s.activity != Activity::Active {
        return;
    }
    match r.below(4) {
        0 => {
            // Not #BP/#OF: KVM never reports software exceptions (its API
            // has no instruction length for them), see `kvm::convert`.
            let (v, ec) = r.pick(&[
                (0u8, false),
                (6, false),
                (8, true),
                (13, true),
                (14, true),
                (17, true),
                (1, false),
                (10, true),
            ]);
            s.events.exception = Some(PendingException {
                vector: v,
                error_code: ec.then(|| if v == 8 { 0 } else { r.next() as u32 & 0xFFFF }),
                payload: match v {
                    14 if r.chance(70) => Some(r.canonical()),
                    1 if r.chance(70) => Some(r.below(16) | 1 << 14),
                    _ => None,
                },
            });
        }
        1 => s.events.injected_interrupt = Some(32 + r.below(224) as u8),
        _ => {}
    }
    s.events.nmi_pending = r.chance(30);
    s.events.nmi_blocked = r.chance(30);
    if s.rflags & rflags::IF != 0 {
        s.events.interrupt_shadow = r.pick(&[0, shadow::STI, shadow::MOV_SS]);
    } else {
        s.events.interrupt_shadow = r.pick(&[0, shadow::MOV_SS]);
    }
}

fn gen_state(vm: &VmCpuModel, seed: u64, legacy_paging: bool, host_tsc: Option<u64>) -> VcpuState {
    let mut r = Rng::new(seed);
    let m = vm.model();
    let (mut s, _) = vm.reset_vcpu(0, 0);
    let mut modes = vec![Mode::Real, Mode::Protected];
    if legacy_paging {
        modes.extend([Mode::ProtectedPaged, Mode::Pae]);
    }
    if m.has(Feature::Lm) {
        modes.push(Mode::Long);
    }
    let mode = r.pick(&modes);
    for g in s.gpr.iter_mut() {
        *g = r.next();
    }
    s.rip = if mode == Mode::Long {
        r.canonical()
    } else {
        r.next() & 0xFFFF_FFFF
    };
    gen_control(&mut s, &mut r, m, mode);
    gen_segments(&mut s, &mut r, mode);
    for d in s.dr.dr.iter_mut() {
        *d = r.canonical();
    }
    s.dr.dr6 = 0xFFFF_0FF0 | r.below(16) | r.below(2) << 14;
    s.dr.dr7 = 0x400 | (r.next() & 0xFFFF_23FF);
    gen_fpu(&mut s, &mut r, m);
    gen_msrs(&mut s, &mut r, m, host_tsc);
    let x2 = m.has(Feature::X2apic) && r.chance(40);
    if x2 {
        s.msrs.apic_base |= apic::base::EXTD;
        s.apic.id = s.apic.initial_id;
    }
    gen_apic(&mut s, &mut r, m, x2);
    s.activity = r.pick(&[
        Activity::Active,
        Activity::Active,
        Activity::Halted,
        Activity::WaitForSipi,
        Activity::Shutdown,
    ]);
    gen_events(&mut s, &mut r);
    if s.activity == Activity::WaitForSipi {
        s.events.nmi_pending = false;
    }
    s
}

/// Recursive field-by-field diff of two JSON trees: "path: left != right".
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                diff(
                    &format!("{path}.{k}"),
                    v,
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), v, w, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} != {b}")),
        _ => {}
    }
}

fn hex_diff(a: &VcpuState, b: &VcpuState) -> Vec<String> {
    let mut out = Vec::new();
    diff(
        "state",
        &serde_json::to_value(a).unwrap_or(Value::Null),
        &serde_json::to_value(b).unwrap_or(Value::Null),
        &mut out,
    );
    out
}

/// Compares with tolerance what runs by itself (TSC, APIC timer count),
/// then makes those fields equal so the rest compares exactly.
fn settle_free_running(
    m: &CpuModel,
    tsc_writable: bool,
    before: &VcpuState,
    after: &mut VcpuState,
) -> Vec<String> {
    let mut out = Vec::new();
    let ctx = MsrCtx {
        model: m,
        clock_tsc: clock::tsc_at(NOW),
        apic_now: NOW,
    };
    let tsc = |s: &VcpuState| msr::read(s, &ctx, IA32_TSC, Initiator::Host).unwrap_or(0);
    let (t0, t1) = (tsc(before), tsc(after));
    // KVM's TSC may run at the host's rate (~3 GHz): allow 4 ticks/ns.
    if tsc_writable && t1.wrapping_sub(t0) > 4 * SLACK_NS {
        out.push(format!("TSC moved from {t0:#x} to {t1:#x}"));
    }
    after.msrs.tsc_offset = before.msrs.tsc_offset;
    let (c0, c1) = (
        before.apic.timer_current(NOW),
        after.apic.timer_current(NOW),
    );
    let shifted = u64::from(c0.saturating_sub(c1)) << before.apic.timer_shift();
    let periodic = before.apic.timer_mode() == timer_mode::PERIODIC;
    if shifted > SLACK_NS && !periodic {
        out.push(format!("APIC timer current count {c0} became {c1}"));
    }
    after.apic.timer_load_time = before.apic.timer_load_time;
    out
}

#[test]
fn vcpu_state_round_trips_through_kvm() {
    let Some((kvm, caps)) = usable_kvm() else {
        return;
    };
    let quirks = caps.quirks;
    let model = match fit_model(parse_model("max").expect("max"), &caps, Unsupported::Drop) {
        Ok(f) => f.model,
        Err(e) => panic!("{e}"),
    };
    let vm_model = Arc::new(VmCpuModel::new(model.clone(), 1));
    let mut mem = GuestMemory::new(RAM).expect("memory");
    let mut vm = KvmVm::new(kvm, Arc::new(caps), vm_model.clone()).expect("VM");
    // SAFETY: `mem` is declared before `vm`, so it outlives it.
    unsafe { vm.map_memory(&mut mem) }.expect("map memory");
    let mut vcpu = vm.create_vcpu(0).expect("vCPU");
    for w in &vm.warnings {
        println!("note: {w}");
    }
    if !quirks.legacy_paging {
        println!(
            "note: host quirk: CR0.PG cannot be restored outside long mode; no 32-bit/PAE paged states generated"
        );
    }
    if !quirks.tsc_writable {
        println!("note: host quirk: IA32_TSC writes are ignored; the TSC is not compared");
    }
    let mut failures = Vec::new();
    let mut refused = std::collections::BTreeMap::new();
    let mut modes = std::collections::BTreeMap::new();
    let ctx = MsrCtx {
        model: &model,
        clock_tsc: clock::tsc_at(NOW),
        apic_now: NOW,
    };
    for seed in 0..STATES {
        let host_tsc = if quirks.tsc_writable {
            None
        } else {
            nestor::kvm::msrs::get_one(&vcpu.fd, IA32_TSC)
        };
        let s = gen_state(&vm_model, seed, quirks.legacy_paging, host_tsc);
        let mode = match (s.cr.cr0 & cr0::PE, s.cr.cr0 & cr0::PG, s.efer & efer::LMA) {
            (0, _, _) => "real",
            (_, 0, _) => "protected",
            (_, _, 0) => "paged",
            _ => "long",
        };
        *modes.entry(mode).or_insert(0) += 1;
        if let Err(e) = vcpu.import_state(&s, NOW) {
            failures.push(format!("seed {seed}: import: {e}"));
            continue;
        }
        let mut back = match vcpu.export_state(NOW) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("seed {seed}: export: {e}"));
                continue;
            }
        };
        // An MSR value KVM refused (reported by the import) stays KVM's:
        // compare the rest.
        let mut expect = s.clone();
        for &(idx, v) in &vcpu.refused_msrs {
            *refused.entry(format!("{idx:#x}={v:#x}")).or_insert(0) += 1;
            if let Ok(kv) = msr::read(&back, &ctx, idx, Initiator::Host) {
                let _ = msr::write(&mut expect, &ctx, idx, kv, Initiator::Host);
            }
        }
        let mut d = settle_free_running(&model, quirks.tsc_writable, &expect, &mut back);
        d.extend(hex_diff(&expect, &back));
        d.extend(
            vcpu.warnings
                .iter()
                .filter(|w| !w.starts_with("KVM refused MSR"))
                .cloned(),
        );
        if !d.is_empty() {
            failures.push(format!("seed {seed}:\n    {}", d.join("\n    ")));
        }
    }
    println!("{STATES} generated states (modes {modes:?}) round-tripped through KVM");
    if !refused.is_empty() {
        println!(
            "note: MSR values this host's KVM refused (reported at import, not compared): {refused:?}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {STATES} states differ after state → KVM → state:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The states the machine actually boots with (RESET for the BSP and an
/// AP) round-trip too.
#[test]
fn reset_states_round_trip_through_kvm() {
    let Some((kvm, caps)) = usable_kvm() else {
        return;
    };
    let quirks = caps.quirks;
    let caps = Arc::new(caps);
    let model = fit_model(parse_model("max").expect("max"), &caps, Unsupported::Drop)
        .expect("fits")
        .model;
    let vm_model = Arc::new(VmCpuModel::new(model, 2));
    let mut mem = GuestMemory::new(RAM).expect("memory");
    let mut vm = KvmVm::new(kvm, caps, vm_model.clone()).expect("VM");
    // SAFETY: `mem` outlives `vm` (declared first).
    unsafe { vm.map_memory(&mut mem) }.expect("map memory");
    for i in 0..2 {
        let mut vcpu = vm.create_vcpu(i).expect("vCPU");
        let (s, _) = vm_model.reset_vcpu(i, 0);
        vcpu.import_state(&s, 0).expect("import");
        let mut back = vcpu.export_state(0).expect("export");
        let mut d = settle_free_running(vm_model.model(), quirks.tsc_writable, &s, &mut back);
        d.extend(hex_diff(&s, &back));
        d.extend(vcpu.warnings.iter().cloned());
        assert!(d.is_empty(), "vCPU {i} RESET state:\n{}", d.join("\n"));
    }
}
