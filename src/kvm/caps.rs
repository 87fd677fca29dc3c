//! What the host's /dev/kvm offers: KVM_CHECK_EXTENSION for the
//! capabilities the backend uses, the supported (and emulated) CPUID, the
//! MSR index list and the sizes of variable-length state.
//!
//! `nestor kvm-info` prints [`KvmCaps::report`]; the backend calls
//! [`KvmCaps::require_for_run`] before building a VM, so a host that lacks
//! something essential fails with one line naming it, and optional
//! capabilities degrade with a warning where they are used.

use kvm_bindings::{KVM_MAX_CPUID_ENTRIES, kvm_cpuid_entry2};
use kvm_ioctls::{Cap, Kvm};

use super::KvmError;

/// Capability numbers the `kvm-ioctls` `Cap` enum does not name (values
/// from `<linux/kvm.h>`; the bindings export them as constants).
mod raw {
    pub use kvm_bindings::{
        KVM_CAP_EXCEPTION_PAYLOAD, KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_X2APIC_API,
        KVM_CAP_X86_APIC_BUS_CYCLES_NS, KVM_CAP_X86_DISABLE_EXITS, KVM_CAP_X86_TRIPLE_FAULT_EVENT,
    };
}

/// The capabilities of one host, probed once.
#[derive(Clone, Debug, Default)]
pub struct KvmCaps {
    pub api_version: i32,
    /// KVM_CAP_IRQCHIP: in-kernel PIC + IOAPIC + LAPIC.
    pub irqchip: bool,
    /// KVM_CAP_SPLIT_IRQCHIP: in-kernel LAPIC only (PIC and IOAPIC in userspace).
    pub split_irqchip: bool,
    /// KVM_CAP_X2APIC_API: 32-bit x2APIC IDs in KVM_GET/SET_LAPIC and MSIs.
    pub x2apic_api: u32,
    /// KVM_CAP_TSC_CONTROL: KVM_SET_TSC_KHZ per vCPU.
    pub tsc_control: bool,
    /// KVM_CAP_GET_TSC_KHZ.
    pub get_tsc_khz: bool,
    pub tsc_deadline_timer: bool,
    /// KVM_CAP_XSAVE and KVM_CAP_XSAVE2 (the size of the XSAVE buffer, 0 if absent).
    pub xsave: bool,
    pub xsave2_size: u32,
    pub xcrs: bool,
    pub vcpu_events: bool,
    pub debugregs: bool,
    pub mp_state: bool,
    pub immediate_exit: bool,
    /// KVM_CAP_X86_USER_SPACE_MSR: the mask of exit reasons offered.
    pub user_space_msr: u32,
    pub msr_filter: bool,
    /// KVM_CAP_NESTED_STATE: the size of the nested-state buffer (0 = none).
    pub nested_state_size: u32,
    pub exception_payload: bool,
    pub triple_fault_event: bool,
    pub mce: bool,
    /// Number of MCE banks KVM supports (KVM_CAP_MCE's value).
    pub mce_banks: u32,
    pub signal_msi: bool,
    pub irq_routing: bool,
    pub set_guest_debug: bool,
    pub sync_regs: bool,
    pub user_nmi: bool,
    /// KVM_CAP_READONLY_MEM: read-only memory slots (the firmware ROM).
    pub readonly_mem: bool,
    pub disable_exits: u32,
    pub apic_bus_cycles_ns: bool,
    pub nr_vcpus: usize,
    pub max_vcpus: usize,
    pub nr_memslots: usize,
    /// The host TSC frequency KVM reports for a new vCPU, in kHz.
    pub host_tsc_khz: Option<u32>,
    pub supported_cpuid: Vec<kvm_cpuid_entry2>,
    pub emulated_cpuid: Vec<kvm_cpuid_entry2>,
    /// KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and emulates.
    pub msr_index_list: Vec<u32>,
    /// KVM_GET_MSR_FEATURE_INDEX_LIST.
    pub feature_msrs: Vec<u32>,
    /// Behaviour probed on a scratch vCPU (see [`HostQuirks`]).
    pub quirks: HostQuirks,
}

/// Deviations from KVM's documented behaviour found by probing (a
/// paravirtual KVM need not implement everything the same way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostQuirks {
    /// KVM_SET_SREGS keeps CR0.PG outside long mode (32-bit and PAE
    /// paging can be restored).
    pub legacy_paging: bool,
    /// A host-initiated write of IA32_TSC sets the guest TSC.
    pub tsc_writable: bool,
}

impl Default for HostQuirks {
    fn default() -> Self {
        HostQuirks {
            legacy_paging: true,
            tsc_writable: true,
        }
    }
}

impl HostQuirks {
    fn probe(vm: &kvm_ioctls::VmFd) -> HostQuirks {
        let mut q = HostQuirks::default();
        let Ok(vcpu) = vm.create_vcpu(0) else {
            return q;
        };
        if let Ok(mut sr) = vcpu.get_sregs() {
            // Protected mode with 32-bit paging (CR3 needs no memory).
            sr.cr0 = 0x8000_0011;
            sr.cr4 = 0;
            sr.efer = 0;
            if vcpu.set_sregs(&sr).is_ok() {
                q.legacy_paging = vcpu.get_sregs().is_ok_and(|g| g.cr0 & 0x8000_0000 != 0);
            }
        }
        let want: u64 = 1 << 52;
        let entry = |data| kvm_bindings::kvm_msr_entry {
            index: crate::arch::msr_index::IA32_TSC,
            data,
            ..Default::default()
        };
        if let Ok(mut m) = kvm_bindings::Msrs::from_entries(&[entry(want)])
            && vcpu.set_msrs(&m).is_ok_and(|n| n == 1)
            && vcpu.get_msrs(&mut m).is_ok_and(|n| n == 1)
        {
            // Within a minute of host TSC ticks of what was written.
            let got = m.as_slice()[0].data;
            q.tsc_writable = got.wrapping_sub(want) < 1 << 38;
        }
        q
    }
}

/// The KVM device: /dev/kvm, or `$NESTOR_KVM_DEVICE` when set (tests use
/// it to check that everything skips cleanly without KVM).
pub fn device_path() -> std::path::PathBuf {
    std::env::var_os("NESTOR_KVM_DEVICE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/dev/kvm".into())
}

/// Opens the KVM device with a one-line error saying why it cannot be used.
pub fn open() -> Result<Kvm, KvmError> {
    let path = device_path();
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| KvmError(format!("bad KVM device path {}", path.display())))?;
    Kvm::new_with_path(c.as_c_str()).map_err(|e| {
        let why = match e.errno() {
            libc::ENOENT => "not present (no KVM on this host)".to_string(),
            libc::EACCES => "permission denied (add the user to the kvm group)".to_string(),
            _ => e.to_string(),
        };
        KvmError(format!("cannot open {}: {why}", path.display()))
    })
}

impl KvmCaps {
    /// Probes everything through `kvm` and a scratch VM (some capabilities
    /// are only reported per VM).
    pub fn probe(kvm: &Kvm) -> Result<KvmCaps, KvmError> {
        let api_version = kvm.get_api_version();
        if api_version != 12 {
            return Err(KvmError(format!(
                "KVM_GET_API_VERSION returned {api_version}; nestor needs API version 12"
            )));
        }
        let vm = kvm
            .create_vm()
            .map_err(|e| KvmError(format!("KVM_CREATE_VM failed: {e}")))?;
        let has = |c: Cap| vm.check_extension(c);
        let int = |c: Cap| vm.check_extension_int(c);
        let raw = |c: u32| vm.check_extension_raw(u64::from(c));
        let supported_cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map(|c| c.as_slice().to_vec())
            .unwrap_or_default();
        let emulated_cpuid = kvm
            .get_emulated_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map(|c| c.as_slice().to_vec())
            .unwrap_or_default();
        let msr_index_list = kvm
            .get_msr_index_list()
            .map(|l| l.as_slice().to_vec())
            .unwrap_or_default();
        let feature_msrs = kvm
            .get_msr_feature_index_list()
            .map(|l| l.as_slice().to_vec())
            .unwrap_or_default();
        let get_tsc_khz = has(Cap::GetTscKhz);
        let quirks = HostQuirks::probe(&vm);
        let host_tsc_khz = if get_tsc_khz {
            vm.create_vcpu(1).ok().and_then(|v| v.get_tsc_khz().ok())
        } else {
            None
        };
        Ok(KvmCaps {
            api_version,
            irqchip: has(Cap::Irqchip),
            split_irqchip: raw(raw::KVM_CAP_SPLIT_IRQCHIP) > 0,
            x2apic_api: raw(raw::KVM_CAP_X2APIC_API).max(0) as u32,
            tsc_control: has(Cap::TscControl),
            get_tsc_khz,
            tsc_deadline_timer: has(Cap::TscDeadlineTimer),
            xsave: has(Cap::Xsave),
            xsave2_size: int(Cap::Xsave2).max(0) as u32,
            xcrs: has(Cap::Xcrs),
            vcpu_events: has(Cap::VcpuEvents),
            debugregs: has(Cap::Debugregs),
            mp_state: has(Cap::MpState),
            immediate_exit: has(Cap::ImmediateExit),
            user_space_msr: int(Cap::X86UserSpaceMsr).max(0) as u32,
            msr_filter: has(Cap::X86MsrFilter),
            nested_state_size: int(Cap::NestedState).max(0) as u32,
            exception_payload: raw(raw::KVM_CAP_EXCEPTION_PAYLOAD) > 0,
            triple_fault_event: raw(raw::KVM_CAP_X86_TRIPLE_FAULT_EVENT) > 0,
            mce: has(Cap::Mce),
            mce_banks: int(Cap::Mce).max(0) as u32,
            signal_msi: has(Cap::SignalMsi),
            irq_routing: has(Cap::IrqRouting),
            set_guest_debug: has(Cap::SetGuestDebug),
            sync_regs: has(Cap::SyncRegs),
            user_nmi: has(Cap::UserNmi),
            readonly_mem: has(Cap::ReadonlyMem),
            disable_exits: raw(raw::KVM_CAP_X86_DISABLE_EXITS).max(0) as u32,
            apic_bus_cycles_ns: raw(raw::KVM_CAP_X86_APIC_BUS_CYCLES_NS) > 0,
            nr_vcpus: kvm.get_nr_vcpus(),
            max_vcpus: kvm.get_max_vcpus(),
            nr_memslots: kvm.get_nr_memslots(),
            host_tsc_khz,
            supported_cpuid,
            emulated_cpuid,
            msr_index_list,
            feature_msrs,
            quirks,
        })
    }

    /// What nestor's KVM backend cannot run without. Each missing piece is
    /// named; everything else degrades where it is used.
    pub fn require_for_run(&self) -> Result<(), KvmError> {
        let mut missing = Vec::new();
        let mut need = |ok: bool, name: &str| {
            if !ok {
                missing.push(name.to_string());
            }
        };
        need(
            self.split_irqchip,
            "KVM_CAP_SPLIT_IRQCHIP (in-kernel LAPIC with nestor's PIC and IOAPIC)",
        );
        need(self.signal_msi, "KVM_CAP_SIGNAL_MSI (IOAPIC interrupts)");
        need(self.irq_routing, "KVM_CAP_IRQ_ROUTING (IOAPIC EOIs)");
        need(self.mp_state, "KVM_CAP_MP_STATE");
        need(self.vcpu_events, "KVM_CAP_VCPU_EVENTS");
        need(self.immediate_exit, "KVM_CAP_IMMEDIATE_EXIT (vCPU kicks)");
        need(
            !self.supported_cpuid.is_empty(),
            "KVM_GET_SUPPORTED_CPUID (empty)",
        );
        if missing.is_empty() {
            Ok(())
        } else {
            Err(KvmError(format!(
                "this host's KVM lacks {}",
                missing.join(", ")
            )))
        }
    }

    /// The supported-CPUID entry for (leaf, subleaf), if KVM lists it.
    pub fn supported(&self, leaf: u32, subleaf: u32) -> Option<&kvm_cpuid_entry2> {
        find_entry(&self.supported_cpuid, leaf, subleaf)
    }

    /// The emulated-CPUID entry for (leaf, subleaf), if KVM lists it.
    pub fn emulated(&self, leaf: u32, subleaf: u32) -> Option<&kvm_cpuid_entry2> {
        find_entry(&self.emulated_cpuid, leaf, subleaf)
    }

    /// Human-readable report for `nestor kvm-info`.
    pub fn report(&self) -> String {
        use std::fmt::Write;
        let yn = |b: bool| if b { "yes" } else { "no" };
        let mut s = String::new();
        let mut line = |k: &str, v: String| {
            let _ = writeln!(s, "{k:<28} {v}");
        };
        line("API version", self.api_version.to_string());
        line("IRQCHIP", yn(self.irqchip).into());
        line("SPLIT_IRQCHIP", yn(self.split_irqchip).into());
        line("X2APIC_API", format!("{:#x}", self.x2apic_api));
        line("TSC_CONTROL", yn(self.tsc_control).into());
        line(
            "GET_TSC_KHZ",
            match self.host_tsc_khz {
                Some(k) => format!("yes ({k} kHz)"),
                None => yn(self.get_tsc_khz).into(),
            },
        );
        line("TSC_DEADLINE_TIMER", yn(self.tsc_deadline_timer).into());
        line("XSAVE", yn(self.xsave).into());
        line(
            "XSAVE2",
            if self.xsave2_size > 0 {
                format!("yes ({} bytes)", self.xsave2_size)
            } else {
                "no".into()
            },
        );
        line("XCRS", yn(self.xcrs).into());
        line("VCPU_EVENTS", yn(self.vcpu_events).into());
        line("DEBUGREGS", yn(self.debugregs).into());
        line("MP_STATE", yn(self.mp_state).into());
        line("IMMEDIATE_EXIT", yn(self.immediate_exit).into());
        line(
            "X86_USER_SPACE_MSR",
            format!("{:#x} (exit-reason mask)", self.user_space_msr),
        );
        line("X86_MSR_FILTER", yn(self.msr_filter).into());
        line(
            "NESTED_STATE",
            if self.nested_state_size > 0 {
                format!("yes ({} bytes)", self.nested_state_size)
            } else {
                "no".into()
            },
        );
        line("EXCEPTION_PAYLOAD", yn(self.exception_payload).into());
        line("X86_TRIPLE_FAULT_EVENT", yn(self.triple_fault_event).into());
        line(
            "MCE",
            format!("{} ({} banks)", yn(self.mce), self.mce_banks),
        );
        line("SIGNAL_MSI", yn(self.signal_msi).into());
        line("IRQ_ROUTING", yn(self.irq_routing).into());
        line("USER_NMI", yn(self.user_nmi).into());
        line("READONLY_MEM", yn(self.readonly_mem).into());
        line("SET_GUEST_DEBUG", yn(self.set_guest_debug).into());
        line("SYNC_REGS", yn(self.sync_regs).into());
        line("X86_DISABLE_EXITS", format!("{:#x}", self.disable_exits));
        line("X86_APIC_BUS_CYCLES_NS", yn(self.apic_bus_cycles_ns).into());
        line(
            "vCPUs",
            format!(
                "{} recommended, {} max; {} memory slots",
                self.nr_vcpus, self.max_vcpus, self.nr_memslots
            ),
        );
        line(
            "supported CPUID",
            format!("{} entries", self.supported_cpuid.len()),
        );
        line(
            "emulated CPUID",
            format!("{} entries", self.emulated_cpuid.len()),
        );
        line(
            "MSR index list",
            format!("{} MSRs", self.msr_index_list.len()),
        );
        line("feature MSRs", format!("{} MSRs", self.feature_msrs.len()));
        line(
            "quirk: legacy paging",
            if self.quirks.legacy_paging {
                "restorable".into()
            } else {
                "KVM_SET_SREGS drops CR0.PG outside long mode".into()
            },
        );
        line(
            "quirk: TSC",
            if self.quirks.tsc_writable {
                "writable".into()
            } else {
                "IA32_TSC writes are ignored (guest TSC = host TSC)".into()
            },
        );
        s
    }

    /// The CPUID and MSR lists in full, for `nestor kvm-info --verbose`.
    pub fn report_lists(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "supported CPUID (leaf.subleaf: eax ebx ecx edx [flags]):"
        );
        for e in &self.supported_cpuid {
            let _ = writeln!(
                s,
                "  {:08x}.{:<2x} {:08x} {:08x} {:08x} {:08x} [{:x}]",
                e.function, e.index, e.eax, e.ebx, e.ecx, e.edx, e.flags
            );
        }
        let _ = writeln!(s, "emulated CPUID:");
        for e in &self.emulated_cpuid {
            let _ = writeln!(
                s,
                "  {:08x}.{:<2x} {:08x} {:08x} {:08x} {:08x} [{:x}]",
                e.function, e.index, e.eax, e.ebx, e.ecx, e.edx, e.flags
            );
        }
        let _ = writeln!(s, "MSR index list:");
        for chunk in self.msr_index_list.chunks(8) {
            let v: Vec<String> = chunk.iter().map(|m| format!("{m:#010x}")).collect();
            let _ = writeln!(s, "  {}", v.join(" "));
        }
        let _ = writeln!(s, "feature MSRs:");
        for chunk in self.feature_msrs.chunks(8) {
            let v: Vec<String> = chunk.iter().map(|m| format!("{m:#010x}")).collect();
            let _ = writeln!(s, "  {}", v.join(" "));
        }
        s
    }
}

/// The entry for (leaf, subleaf) in a KVM CPUID list: subleaf only matters
/// for entries flagged KVM_CPUID_FLAG_SIGNIFCANT_INDEX.
pub fn find_entry(list: &[kvm_cpuid_entry2], leaf: u32, subleaf: u32) -> Option<&kvm_cpuid_entry2> {
    use kvm_bindings::KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    list.iter().find(|e| {
        e.function == leaf && (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX == 0 || e.index == subleaf)
    })
}
