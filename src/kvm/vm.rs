//! A KVM VM for nestor's machine: the split irqchip (in-kernel local
//! APICs; nestor's PIC and IOAPIC stay in userspace), guest RAM and ROM as
//! memory slots, and vCPUs with the model's CPUID.

use std::sync::Arc;

use kvm_bindings::{
    KVM_CAP_EXCEPTION_PAYLOAD, KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_X2APIC_API,
    KVM_CAP_X86_TRIPLE_FAULT_EVENT, KVM_MEM_READONLY, KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK,
    KVM_X2APIC_API_USE_32BIT_IDS, kvm_enable_cap, kvm_userspace_memory_region,
};
use kvm_ioctls::{Kvm, VmFd};

use super::KvmError;
use super::caps::KvmCaps;
use super::convert::Shape;
use super::cpuid::to_kvm_cpuid;
use super::msrs::MsrPlan;
use super::vcpu::KvmVcpu;
use crate::devices::ioapic::PINS as IOAPIC_PINS;
use crate::machine::clock::TSC_HZ;
use crate::machine::memory::GuestMemory;
use crate::model::Feature;
use crate::model::cpuid::supported_xcr0;
use crate::vm::VmCpuModel;

/// Where KVM puts the real-mode TSS and the identity-mapped page table it
/// needs on Intel hosts without unrestricted guest (QEMU's addresses; a
/// free hole below the pc-testdev window at 0xFF000000).
const TSS_ADDR: usize = 0xFEFF_D000;
const IDENTITY_MAP_ADDR: u64 = 0xFEFF_C000;

// KVM_X86_SETUP_MCE (kvm-ioctls does not wrap it): `_IOW(KVMIO, 0x9c, __u64)`.
vmm_sys_util::ioctl_iow_nr!(KVM_X86_SETUP_MCE, kvm_bindings::KVMIO, 0x9c, u64);

/// A VM and what every vCPU of it shares.
pub struct KvmVm {
    pub kvm: Kvm,
    pub fd: VmFd,
    pub caps: Arc<KvmCaps>,
    pub model: Arc<VmCpuModel>,
    pub shape: Shape,
    /// The MSR transfer plan, probed on the first vCPU.
    plan: Option<Arc<MsrPlan>>,
    /// One line per capability the VM runs without (for the run's log).
    pub warnings: Vec<String>,
}

fn enable(vm: &VmFd, cap: u32, arg: u64) -> Result<(), kvm_ioctls::Error> {
    let mut c = kvm_enable_cap {
        cap,
        ..Default::default()
    };
    c.args[0] = arg;
    vm.enable_cap(&c)
}

impl KvmVm {
    /// Creates the VM with a split irqchip (`IOAPIC_PINS` GSIs reserved for
    /// nestor's IOAPIC) and the optional capabilities the state transfer
    /// uses.
    pub fn new(kvm: Kvm, caps: Arc<KvmCaps>, model: Arc<VmCpuModel>) -> Result<KvmVm, KvmError> {
        caps.require_for_run()?;
        let fd = kvm
            .create_vm()
            .map_err(|e| KvmError(format!("KVM_CREATE_VM failed: {e}")))?;
        let mut warnings = Vec::new();
        if let Err(e) = fd.set_tss_address(TSS_ADDR) {
            warnings.push(format!("KVM_SET_TSS_ADDR failed: {e}"));
        }
        if let Err(e) = fd.set_identity_map_address(IDENTITY_MAP_ADDR) {
            warnings.push(format!("KVM_SET_IDENTITY_MAP_ADDR failed: {e}"));
        }
        enable(&fd, KVM_CAP_SPLIT_IRQCHIP, IOAPIC_PINS as u64)
            .map_err(|e| KvmError(format!("enabling KVM_CAP_SPLIT_IRQCHIP failed: {e}")))?;
        let mut shape = Shape {
            xfeatures: supported_xcr0(model.model()) | 0b11,
            ..Shape::default()
        };
        let x2 = KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK;
        if caps.x2apic_api & x2 == x2 {
            shape.x2apic_ids = enable(&fd, KVM_CAP_X2APIC_API, u64::from(x2)).is_ok();
        }
        if !shape.x2apic_ids && model.model().has(Feature::X2apic) {
            warnings
                .push("KVM_CAP_X2APIC_API unavailable: x2APIC IDs above 255 cannot be used".into());
        }
        if caps.exception_payload {
            shape.exception_payload = enable(&fd, KVM_CAP_EXCEPTION_PAYLOAD, 1).is_ok();
        }
        if !shape.exception_payload {
            warnings.push(
                "KVM_CAP_EXCEPTION_PAYLOAD unavailable: pending exceptions transfer as injected"
                    .into(),
            );
        }
        if caps.triple_fault_event {
            shape.triple_fault_event = enable(&fd, KVM_CAP_X86_TRIPLE_FAULT_EVENT, 1).is_ok();
        }
        Ok(KvmVm {
            kvm,
            fd,
            caps,
            model,
            shape,
            plan: None,
            warnings,
        })
    }

    /// Maps guest RAM (and the firmware ROM, read-only) into the VM.
    ///
    /// # Safety
    ///
    /// KVM accesses the host memory of `mem` until the VM is destroyed or
    /// the slots are removed: `mem` must stay alive (and its mappings in
    /// place) for as long as this VM exists.
    pub unsafe fn map_memory(&self, mem: &mut GuestMemory) -> Result<(), KvmError> {
        let mut slots: Vec<(u64, *mut u8, u64, u32)> = mem
            .ram_regions()
            .into_iter()
            .map(|(gpa, host, len)| (gpa, host, len, 0))
            .collect();
        if let Some((gpa, host, len)) = mem.rom_region() {
            if !self.caps.readonly_mem {
                return Err(KvmError(
                    "this host's KVM lacks KVM_CAP_READONLY_MEM, needed for --bios firmware".into(),
                ));
            }
            slots.push((gpa, host, len, KVM_MEM_READONLY));
        }
        for (slot, (gpa, host, len, flags)) in slots.into_iter().enumerate() {
            let region = kvm_userspace_memory_region {
                slot: slot as u32,
                flags,
                guest_phys_addr: gpa,
                memory_size: len,
                userspace_addr: host as u64,
            };
            // SAFETY: `host..host+len` is a live anonymous mapping owned by
            // `mem` (RAM regions and the ROM mapping are never remapped),
            // and the caller keeps `mem` alive as long as the VM.
            unsafe { self.fd.set_user_memory_region(region) }.map_err(|e| {
                KvmError(format!(
                    "KVM_SET_USER_MEMORY_REGION {gpa:#x}+{len:#x} failed: {e}"
                ))
            })?;
        }
        Ok(())
    }

    /// Creates vCPU `index` (APIC ID = index) with the model's CPUID.
    pub fn create_vcpu(&mut self, index: u32) -> Result<KvmVcpu, KvmError> {
        let fd = self
            .fd
            .create_vcpu(u64::from(index))
            .map_err(|e| KvmError(format!("KVM_CREATE_VCPU {index} failed: {e}")))?;
        let model = self.model.model();
        let cpuid = to_kvm_cpuid(&self.model.cpuid().entries_for_apic_id(index))?;
        fd.set_cpuid2(&cpuid)
            .map_err(|e| KvmError(format!("KVM_SET_CPUID2 failed: {e}")))?;
        if self.caps.mce && model.has(Feature::Mca) {
            let mcg_cap = crate::msr::mcg_cap(model);
            // SAFETY: KVM_X86_SETUP_MCE reads one u64 from the pointer,
            // which refers to a live local; the fd is a vCPU fd.
            let r =
                unsafe { vmm_sys_util::ioctl::ioctl_with_ref(&fd, KVM_X86_SETUP_MCE(), &mcg_cap) };
            if r != 0 && index == 0 {
                self.warnings.push(format!(
                    "KVM_X86_SETUP_MCE({mcg_cap:#x}) failed: {}; KVM's machine-check banks differ from the model",
                    std::io::Error::last_os_error()
                ));
            }
        }
        if self.caps.tsc_control {
            if let Err(e) = fd.set_tsc_khz((TSC_HZ / 1000) as u32)
                && index == 0
            {
                self.warnings.push(format!(
                    "KVM_SET_TSC_KHZ failed: {e}; the guest TSC runs at the host's rate"
                ));
            }
        } else if index == 0 {
            self.warnings.push(format!(
                "no KVM_CAP_TSC_CONTROL: the guest TSC runs at the host's {} instead of 1 GHz",
                self.caps
                    .host_tsc_khz
                    .map_or("rate".to_string(), |k| format!("{} MHz", k / 1000))
            ));
        }
        let plan = match &self.plan {
            Some(p) => p.clone(),
            None => {
                let p = Arc::new(MsrPlan::probe(model, &self.caps, &fd));
                if let Some(w) = p.warning() {
                    self.warnings.push(w);
                }
                self.plan = Some(p.clone());
                p
            }
        };
        Ok(KvmVcpu::new(
            fd,
            index,
            self.model.clone(),
            self.shape,
            plan,
            &self.caps,
        ))
    }
}
