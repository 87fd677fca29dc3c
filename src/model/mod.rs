//! CPU models: the feature table, named presets, `MODEL,+feat,-feat` parsing,
//! CPUID leaf generation and the virtualization capabilities derived from a model.
//!
//! A VM owns exactly one [`CpuModel`]; every vCPU shares it and only the
//! APIC-ID fields of CPUID differ between vCPUs (see [`cpuid`]).

pub mod cpuid;
pub mod features;
pub mod parse;
pub mod presets;
pub mod vmx_caps;

pub use features::{CpuidReg, Feature, FeatureSet};

use serde::{Deserialize, Serialize};

/// The CPU vendor, which selects vendor-specific CPUID leaves, MSRs and
/// RESET/INIT details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Vendor {
    #[serde(rename = "GenuineIntel")]
    Intel,
    #[serde(rename = "AuthenticAMD")]
    Amd,
}

impl Vendor {
    /// The 12-byte vendor string of CPUID leaf 0 (EBX, EDX, ECX order).
    pub fn id_string(self) -> &'static str {
        match self {
            Vendor::Intel => "GenuineIntel",
            Vendor::Amd => "AuthenticAMD",
        }
    }
    pub fn from_id_string(s: &str) -> Option<Vendor> {
        match s {
            "GenuineIntel" => Some(Vendor::Intel),
            "AuthenticAMD" => Some(Vendor::Amd),
            _ => None,
        }
    }
}

/// One cache level as CPUID leaves 2/4 (Intel) and 0x80000005/6 (AMD) describe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheLevel {
    /// 1, 2 or 3.
    pub level: u8,
    pub kind: CacheKind,
    pub size_kib: u32,
    pub ways: u16,
    pub line_size: u16,
    /// Logical processors sharing this cache is derived from the topology;
    /// this says whether the cache is per core (`false`) or per package (`true`).
    pub shared_by_package: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheKind {
    Data,
    Instruction,
    Unified,
}

/// A CPU model: everything CPUID enumerates, plus the physical-address width
/// that drives reserved-bit checks in paging.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuModel {
    /// Preset name it was built from (`qemu64`, `max`, ...).
    pub name: String,
    pub vendor: Vendor,
    /// Display family / model (already combining base and extended fields).
    pub family: u32,
    pub model: u32,
    pub stepping: u32,
    pub features: FeatureSet,
    /// MAXPHYADDR, CPUID.80000008:EAX[7:0].
    pub phys_bits: u8,
    /// Highest basic leaf (CPUID.0:EAX) and extended leaf (CPUID.80000000:EAX).
    pub max_leaf: u32,
    pub max_ext_leaf: u32,
    /// Brand string, up to 48 bytes (leaves 0x80000002..4).
    pub brand: String,
    pub caches: Vec<CacheLevel>,
}

impl CpuModel {
    #[inline]
    pub fn has(&self, f: Feature) -> bool {
        self.features.has(f)
    }

    /// Linear-address width: 57 with LA57, otherwise 48.
    pub fn virt_bits(&self) -> u8 {
        if self.has(Feature::La57) { 57 } else { 48 }
    }

    /// CPUID.1:EAX, the processor signature (also EDX after RESET/INIT).
    pub fn signature(&self) -> u32 {
        let (base_family, ext_family) = if self.family >= 0xF {
            (0xF, self.family - 0xF)
        } else {
            (self.family, 0)
        };
        // Extended model is used for family 6 and 15 (both vendors treat
        // family 0xF+ this way; Intel also for family 6).
        let uses_ext_model = self.family == 6 || self.family >= 0xF;
        let (base_model, ext_model) = if uses_ext_model {
            (self.model & 0xF, (self.model >> 4) & 0xF)
        } else {
            (self.model & 0xF, 0)
        };
        (ext_family & 0xFF) << 20
            | ext_model << 16
            | (base_family & 0xF) << 8
            | base_model << 4
            | (self.stepping & 0xF)
    }

    /// The physical-address mask for MAXPHYADDR: bits [phys_bits-1:0].
    pub fn phys_addr_mask(&self) -> u64 {
        (1u64 << self.phys_bits) - 1
    }

    /// Is linear address `addr` canonical with 57-bit addresses (CR4.LA57 = 1)
    /// or 48-bit ones?
    #[inline]
    pub fn is_canonical_for(&self, addr: u64, la57: bool) -> bool {
        let shift = if la57 { 64 - 57 } else { 64 - 48 };
        (((addr << shift) as i64) >> shift) as u64 == addr
    }

    /// Is `addr` canonical for this model's linear-address width?
    pub fn is_canonical(&self, addr: u64) -> bool {
        let shift = 64 - u32::from(self.virt_bits());
        (((addr << shift) as i64) >> shift) as u64 == addr
    }
}
