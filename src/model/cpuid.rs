//! CPUID leaves generated from a [`CpuModel`] (SDM Vol. 2A "CPUID";
//! APM Vol. 3 Appendix E "Obtaining Processor Information Via CPUID").
//!
//! [`CpuidTable::build`] produces the static leaves once per VM (the model is
//! frozen before any vCPU runs). [`CpuidTable::query`] is what the CPUID
//! instruction returns on one vCPU: it fills in the APIC ID and the bits
//! that follow the vCPU's own state (OSXSAVE, OSPKE, APIC enable, the XSAVE
//! area size for the current XCR0, IA32_MISC_ENABLE limits).

use super::features::{AMD_EDX_ALIASES, OSPKE_BIT, OSXSAVE_BIT};
use super::{CacheKind, CacheLevel, CpuModel, CpuidReg, Feature, Vendor};
use serde::Serialize;

/// One CPUID leaf/subleaf and its output registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CpuidEntry {
    pub leaf: u32,
    pub subleaf: u32,
    /// The subleaf (ECX) selects the output (KVM_CPUID_FLAG_SIGNIFCANT_INDEX).
    pub indexed: bool,
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

/// How the VM's logical processors are arranged: one package, one thread
/// per core, `cpus` cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Topology {
    pub cpus: u32,
}

/// Per-vCPU inputs to CPUID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuidDynamic {
    pub apic_id: u32,
    /// CR4.OSXSAVE.
    pub osxsave: bool,
    /// CR4.PKE.
    pub ospke: bool,
    /// IA32_APIC_BASE.EN (CPUID.1:EDX.APIC reads 0 when the APIC is disabled).
    pub apic_enabled: bool,
    /// XCR0 and IA32_XSS, for the XSAVE area sizes in leaf 0xD.
    pub xcr0: u64,
    pub xss: u64,
    /// IA32_MISC_ENABLE (Intel): bit 22 limits CPUID.0:EAX to 2, bit 18
    /// controls CPUID.1:ECX.MONITOR, bit 34 hides NX.
    pub misc_enable: u64,
}

/// XSAVE state components nestor implements: (bit, size, standard offset)
/// (SDM Vol. 1 13.4 and Table 13-1 "XSAVE State Components").
pub const XSAVE_COMPONENTS: &[(u32, u32, u32)] = &[
    (2, 256, 576), // AVX: YMM_Hi128
    (3, 64, 960),  // MPX: BNDREGS
    (4, 64, 1024), // MPX: BNDCSR
    (9, 8, 2688),  // PKRU
];
/// Size of the legacy region plus the XSAVE header.
pub const XSAVE_LEGACY_SIZE: u32 = 576;

/// The XCR0 bits this model supports (x87 and SSE always; AVX, MPX and PKRU
/// when the model has them).
pub fn supported_xcr0(model: &CpuModel) -> u64 {
    if !model.has(Feature::Xsave) {
        return 0;
    }
    let mut v = 0b11;
    if model.has(Feature::Avx) {
        v |= 1 << 2;
    }
    if model.has(Feature::Mpx) {
        v |= 0b11 << 3;
    }
    if model.has(Feature::Pku) {
        v |= 1 << 9;
    }
    v
}

/// Size of a standard-format XSAVE area holding the components in `mask`.
pub fn xsave_size(mask: u64) -> u32 {
    XSAVE_COMPONENTS
        .iter()
        .filter(|(bit, _, _)| mask & (1 << bit) != 0)
        .map(|&(_, size, offset)| offset + size)
        .max()
        .unwrap_or(0)
        .max(XSAVE_LEGACY_SIZE)
}

/// Size of a compacted-format XSAVE area holding the components in `mask`.
pub fn xsave_compacted_size(mask: u64) -> u32 {
    XSAVE_LEGACY_SIZE
        + XSAVE_COMPONENTS
            .iter()
            .filter(|(bit, _, _)| mask & (1 << bit) != 0)
            .map(|&(_, size, _)| size)
            .sum::<u32>()
}

/// The CPUID leaves of one VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuidTable {
    entries: Vec<CpuidEntry>,
    vendor: Vendor,
    max_leaf: u32,
    max_ext_leaf: u32,
}

/// First leaf of the hypervisor range; nestor identifies itself there.
pub const HYPERVISOR_LEAF: u32 = 0x4000_0000;
/// Hypervisor vendor signature in leaf 0x40000000 (EBX, ECX, EDX).
pub const HYPERVISOR_SIGNATURE: &[u8; 12] = b"NestorNestor";

fn le_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

/// AMD's 4-bit associativity encoding for CPUID 0x80000006 (APM Vol. 3 E.4.5).
fn amd_assoc(ways: u16) -> u32 {
    match ways {
        0 => 0,
        1 => 1,
        2 => 2,
        3..=4 => 4,
        5..=6 => 5,
        7..=8 => 6,
        9..=16 => 8,
        17..=32 => 0xA,
        33..=48 => 0xB,
        49..=64 => 0xC,
        65..=96 => 0xD,
        97..=128 => 0xE,
        _ => 0xF,
    }
}

fn cache_type_code(kind: CacheKind) -> u32 {
    match kind {
        CacheKind::Data => 1,
        CacheKind::Instruction => 2,
        CacheKind::Unified => 3,
    }
}

/// Deterministic-cache-parameters leaf layout shared by Intel leaf 4 and
/// AMD leaf 0x8000001D.
fn cache_params(c: &CacheLevel, topo: Topology, intel: bool) -> [u32; 4] {
    let sharing = if c.shared_by_package { topo.cpus } else { 1 };
    let sets = (c.size_kib * 1024 / (u32::from(c.ways) * u32::from(c.line_size))).max(1);
    let mut eax = cache_type_code(c.kind) | u32::from(c.level) << 5 | 1 << 8;
    eax |= (sharing.max(1) - 1).min(0xFFF) << 14;
    if intel {
        // Bits 31:26: addressable core IDs in the package, minus one.
        eax |= (topo.cpus.next_power_of_two() - 1).min(63) << 26;
    }
    let ebx = (u32::from(c.line_size) - 1) | (u32::from(c.ways) - 1) << 22;
    let edx = if c.level == 3 { 1 << 1 } else { 0 }; // inclusive L3
    [eax, ebx, sets - 1, edx]
}

impl CpuidTable {
    /// Generates every leaf of `model` for a VM with topology `topo`.
    pub fn build(model: &CpuModel, topo: Topology) -> Self {
        let mut t = CpuidTable {
            entries: Vec::new(),
            vendor: model.vendor,
            max_leaf: model.max_leaf,
            max_ext_leaf: model.max_ext_leaf,
        };
        let f = &model.features;
        let bits = |leaf, sub, reg| f.cpuid_bits(leaf, sub, reg);
        let intel = model.vendor == Vendor::Intel;
        let mut add = |leaf: u32, subleaf: u32, indexed: bool, r: [u32; 4]| {
            let [eax, ebx, ecx, edx] = r;
            t.entries.push(CpuidEntry {
                leaf,
                subleaf,
                indexed,
                eax,
                ebx,
                ecx,
                edx,
            });
        };
        let vendor = le_words(model.vendor.id_string().as_bytes());
        let cpus_pow2 = topo.cpus.max(1).next_power_of_two();
        let core_bits = cpus_pow2.trailing_zeros();

        for leaf in 0..=model.max_leaf {
            match leaf {
                0 => add(
                    0,
                    0,
                    false,
                    [model.max_leaf, vendor[0], vendor[2], vendor[1]],
                ),
                1 => {
                    let mut edx = bits(1, 0, CpuidReg::Edx);
                    // HTT: more than one logical processor in the package.
                    let mut ebx = 8 << 8; // CLFLUSH line size: 8 × 8 bytes
                    if topo.cpus > 1 {
                        edx |= 1 << 28;
                        ebx |= cpus_pow2.min(255) << 16;
                    }
                    add(
                        1,
                        0,
                        false,
                        [model.signature(), ebx, bits(1, 0, CpuidReg::Ecx), edx],
                    );
                }
                // "No cache descriptors; use leaf 4" (descriptor FFH).
                2 if intel => add(2, 0, false, [0x0000_FF01, 0, 0, 0]),
                4 if intel => {
                    let mut sub = 0;
                    for c in &model.caches {
                        add(4, sub, true, cache_params(c, topo, true));
                        sub += 1;
                    }
                    add(4, sub, true, [0; 4]);
                }
                5 if model.has(Feature::Monitor) => {
                    // Smallest/largest monitor line 64 bytes; EMX and IBE.
                    add(5, 0, false, [64, 64, 3, 0]);
                }
                6 => add(6, 0, false, [bits(6, 0, CpuidReg::Eax), 0, 0, 0]),
                7 => {
                    let max_sub = if bits(7, 2, CpuidReg::Edx) != 0 {
                        2
                    } else if bits(7, 1, CpuidReg::Eax) != 0 {
                        1
                    } else {
                        0
                    };
                    let r = |reg| bits(7, 0, reg);
                    add(
                        7,
                        0,
                        true,
                        [
                            max_sub,
                            r(CpuidReg::Ebx),
                            r(CpuidReg::Ecx),
                            r(CpuidReg::Edx),
                        ],
                    );
                    if max_sub >= 1 {
                        add(7, 1, true, [bits(7, 1, CpuidReg::Eax), 0, 0, 0]);
                    }
                    if max_sub >= 2 {
                        add(7, 2, true, [0, 0, 0, bits(7, 2, CpuidReg::Edx)]);
                    }
                }
                // Leaf 0xB is offered for both vendors (as QEMU does; AMD
                // implements it since Zen).
                0xB => {
                    // SMT level: one thread per core; core level: all CPUs.
                    add(0xB, 0, true, [0, 1, 1 << 8, 0]);
                    add(0xB, 1, true, [core_bits, topo.cpus, 1 | 2 << 8, 0]);
                    add(0xB, 2, true, [0, 0, 2, 0]);
                }
                0xD if model.has(Feature::Xsave) => {
                    let xcr0 = supported_xcr0(model);
                    let max_size = xsave_size(xcr0);
                    add(
                        0xD,
                        0,
                        true,
                        [xcr0 as u32, max_size, max_size, (xcr0 >> 32) as u32],
                    );
                    add(0xD, 1, true, [bits(0xD, 1, CpuidReg::Eax), 0, 0, 0]);
                    for &(bit, size, offset) in XSAVE_COMPONENTS {
                        if xcr0 & (1 << bit) != 0 {
                            add(0xD, bit, true, [size, offset, 0, 0]);
                        }
                    }
                }
                4 | 0xD => add(leaf, 0, true, [0; 4]),
                _ => add(leaf, 0, false, [0; 4]),
            }
        }

        let sig = HYPERVISOR_SIGNATURE;
        let hv = le_words(sig);
        add(
            HYPERVISOR_LEAF,
            0,
            false,
            [HYPERVISOR_LEAF, hv[0], hv[1], hv[2]],
        );

        let brand = {
            let mut b = model.brand.as_bytes().to_vec();
            b.truncate(47);
            b.resize(48, 0);
            le_words(&b)
        };
        let l1 = |kind| model.caches.iter().find(|c| c.level == 1 && c.kind == kind);
        let level = |n| model.caches.iter().find(|c| c.level == n);
        for leaf in 0x8000_0000..=model.max_ext_leaf {
            match leaf {
                0x8000_0000 => {
                    // AMD repeats the vendor string here; Intel returns zeros.
                    let v = if intel {
                        [0; 3]
                    } else {
                        [vendor[0], vendor[2], vendor[1]]
                    };
                    add(leaf, 0, false, [model.max_ext_leaf, v[0], v[1], v[2]]);
                }
                0x8000_0001 => {
                    let mut edx = bits(leaf, 0, CpuidReg::Edx);
                    if !intel {
                        for &a in AMD_EDX_ALIASES {
                            if model.has(a) {
                                edx |= 1 << a.info().cpuid.bit;
                            }
                        }
                    }
                    let eax = if intel { 0 } else { model.signature() };
                    add(leaf, 0, false, [eax, 0, bits(leaf, 0, CpuidReg::Ecx), edx]);
                }
                0x8000_0002..=0x8000_0004 => {
                    let i = ((leaf - 0x8000_0002) * 4) as usize;
                    add(
                        leaf,
                        0,
                        false,
                        [brand[i], brand[i + 1], brand[i + 2], brand[i + 3]],
                    );
                }
                0x8000_0005 if !intel => {
                    // L1 data (ECX) and instruction (EDX) caches: size in KiB,
                    // associativity, lines per tag 1, line size.
                    let enc = |c: Option<&CacheLevel>| {
                        c.map_or(0, |c| {
                            c.size_kib << 24
                                | u32::from(c.ways) << 16
                                | 1 << 8
                                | u32::from(c.line_size)
                        })
                    };
                    // TLBs: 2M/4M pages 255-entry fully associative; 4K pages 255 entries.
                    add(
                        leaf,
                        0,
                        false,
                        [
                            0xFF40_FF40,
                            0xFF40_FF40,
                            enc(l1(CacheKind::Data)),
                            enc(l1(CacheKind::Instruction)),
                        ],
                    );
                }
                0x8000_0006 => {
                    let l2 = level(2).map_or(0, |c| {
                        c.size_kib << 16 | amd_assoc(c.ways) << 12 | u32::from(c.line_size)
                    });
                    let l3 = match level(3) {
                        Some(c) if !intel => {
                            (c.size_kib / 512) << 18
                                | amd_assoc(c.ways) << 12
                                | u32::from(c.line_size)
                        }
                        _ => 0,
                    };
                    add(leaf, 0, false, [0, 0, l2, l3]);
                }
                0x8000_0007 => add(leaf, 0, false, [0, 0, 0, bits(leaf, 0, CpuidReg::Edx)]),
                0x8000_0008 => {
                    let eax = u32::from(model.phys_bits) | u32::from(model.virt_bits()) << 8;
                    // AMD: number of cores minus one, and APIC-ID bits for cores.
                    let ecx = if intel {
                        0
                    } else {
                        (topo.cpus.max(1) - 1) | core_bits << 12
                    };
                    add(leaf, 0, false, [eax, bits(leaf, 0, CpuidReg::Ebx), ecx, 0]);
                }
                0x8000_000A if model.has(Feature::Svm) => {
                    // SVM revision 1, 16 ASIDs (APM Vol. 3 E.4.9).
                    add(leaf, 0, false, [1, 16, 0, bits(leaf, 0, CpuidReg::Edx)]);
                }
                0x8000_001D if !intel => {
                    let mut sub = 0;
                    for c in &model.caches {
                        add(leaf, sub, true, cache_params(c, topo, false));
                        sub += 1;
                    }
                    add(leaf, sub, true, [0; 4]);
                }
                // Extended APIC ID (dynamic), compute-unit/core ID, node ID.
                0x8000_001E if !intel => add(leaf, 0, false, [0, 0, 0, 0]),
                0x8000_0021 => add(leaf, 0, false, [bits(leaf, 0, CpuidReg::Eax), 0, 0, 0]),
                0x8000_001D => add(leaf, 0, true, [0; 4]),
                _ => add(leaf, 0, false, [0; 4]),
            }
        }
        t
    }

    /// The static leaves (APIC-ID fields 0, dynamic bits clear), in
    /// ascending (leaf, subleaf) order.
    pub fn entries(&self) -> &[CpuidEntry] {
        &self.entries
    }

    /// The static leaves as one vCPU sees them: [`entries`](Self::entries)
    /// with its APIC ID filled in (for a hypervisor that takes a CPUID table
    /// per vCPU and handles the state-dependent bits itself).
    pub fn entries_for_apic_id(&self, apic_id: u32) -> Vec<CpuidEntry> {
        self.entries
            .iter()
            .map(|e| {
                let mut r = [e.eax, e.ebx, e.ecx, e.edx];
                set_apic_id(e.leaf, &mut r, apic_id);
                let [eax, ebx, ecx, edx] = r;
                CpuidEntry {
                    eax,
                    ebx,
                    ecx,
                    edx,
                    ..*e
                }
            })
            .collect()
    }

    fn find(&self, leaf: u32, subleaf: u32) -> Option<&CpuidEntry> {
        self.entries
            .iter()
            .find(|e| e.leaf == leaf && (!e.indexed || e.subleaf == subleaf))
    }

    /// What CPUID returns on a vCPU for EAX=`leaf`, ECX=`subleaf`.
    pub fn query(&self, leaf: u32, subleaf: u32, d: &CpuidDynamic) -> [u32; 4] {
        let intel = self.vendor == Vendor::Intel;
        let limit_basic = intel && d.misc_enable & (1 << 22) != 0;
        let max_basic = if limit_basic {
            self.max_leaf.min(2)
        } else {
            self.max_leaf
        };
        let in_range = if leaf >= 0x8000_0000 {
            leaf <= self.max_ext_leaf
        } else if leaf >= HYPERVISOR_LEAF {
            leaf == HYPERVISOR_LEAF
        } else {
            leaf <= max_basic
        };
        let entry = if in_range {
            self.find(leaf, subleaf)
        } else if intel {
            // SDM Vol. 2A CPUID: an input above the maximum returns the data
            // of the highest basic leaf. AMD returns zeros.
            self.find(max_basic, subleaf)
        } else {
            None
        };
        let Some(e) = entry else { return [0; 4] };
        let (leaf, subleaf) = (e.leaf, e.subleaf);
        let mut r = [e.eax, e.ebx, e.ecx, e.edx];
        let set = |r: &mut [u32; 4], reg: CpuidReg, bit: u8, on: bool| {
            let i = reg as usize;
            if on {
                r[i] |= 1 << bit;
            } else {
                r[i] &= !(1 << bit);
            }
        };
        set_apic_id(leaf, &mut r, d.apic_id);
        match leaf {
            0 if limit_basic => r[0] = max_basic,
            1 => {
                if r[2] & (1 << 26) != 0 {
                    set(&mut r, OSXSAVE_BIT.reg, OSXSAVE_BIT.bit, d.osxsave);
                }
                if r[3] & (1 << 9) != 0 && !d.apic_enabled {
                    r[3] &= !(1 << 9);
                }
                if intel && d.misc_enable & (1 << 18) == 0 {
                    r[2] &= !(1 << 3);
                }
            }
            7 if subleaf == 0 && r[2] & (1 << 3) != 0 => {
                set(&mut r, OSPKE_BIT.reg, OSPKE_BIT.bit, d.ospke);
            }
            0xD if subleaf == 0 => r[1] = xsave_size(d.xcr0),
            0xD if subleaf == 1 && r[0] & (1 << 3) != 0 => {
                r[1] = xsave_compacted_size(d.xcr0 | d.xss);
            }
            0x8000_0001 if intel && d.misc_enable & (1 << 34) != 0 => r[3] &= !(1 << 20),
            _ => {}
        }
        r
    }
}

/// Fills in the fields of leaf `leaf` that hold the vCPU's APIC ID:
/// CPUID.1:EBX[31:24], the x2APIC ID in CPUID.0xB/0x1F:EDX, and AMD's
/// extended APIC ID and core ID in CPUID.0x8000001E:EAX/EBX.
fn set_apic_id(leaf: u32, r: &mut [u32; 4], apic_id: u32) {
    match leaf {
        1 => r[1] = (r[1] & 0x00FF_FFFF) | (apic_id & 0xFF) << 24,
        0xB | 0x1F => r[3] = apic_id,
        0x8000_001E => {
            r[0] = apic_id;
            r[1] = apic_id & 0xFF;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::presets::preset;

    fn table(name: &str) -> CpuidTable {
        CpuidTable::build(&preset(name).expect("preset"), Topology { cpus: 2 })
    }

    #[test]
    fn vendor_strings_leaf0() {
        let t = table("max");
        let r = t.query(0, 0, &CpuidDynamic::default());
        let mut s = Vec::new();
        for w in [r[1], r[3], r[2]] {
            s.extend_from_slice(&w.to_le_bytes());
        }
        assert_eq!(&s, b"GenuineIntel");
        let r = table("EPYC-Milan").query(0, 0, &CpuidDynamic::default());
        assert_eq!(&r[1].to_le_bytes(), b"Auth");
    }

    #[test]
    fn leaf1_signature_and_apic_id() {
        let m = preset("max").expect("max");
        let t = CpuidTable::build(&m, Topology { cpus: 4 });
        let d = CpuidDynamic {
            apic_id: 3,
            apic_enabled: true,
            ..Default::default()
        };
        let r = t.query(1, 0, &d);
        assert_eq!(r[0], m.signature());
        assert_eq!(r[1] >> 24, 3);
        assert_ne!(r[3] & (1 << 9), 0, "APIC bit while enabled");
        let r = t.query(
            1,
            0,
            &CpuidDynamic {
                apic_enabled: false,
                ..d
            },
        );
        assert_eq!(
            r[3] & (1 << 9),
            0,
            "APIC bit hidden when IA32_APIC_BASE.EN=0"
        );
    }

    #[test]
    fn osxsave_follows_cr4() {
        let t = table("max");
        let off = t.query(1, 0, &CpuidDynamic::default());
        let on = t.query(
            1,
            0,
            &CpuidDynamic {
                osxsave: true,
                ..Default::default()
            },
        );
        assert_eq!(off[2] & (1 << 27), 0);
        assert_ne!(on[2] & (1 << 27), 0);
    }

    #[test]
    fn xsave_sizes_follow_xcr0() {
        let t = table("max");
        let d = CpuidDynamic {
            xcr0: 0b11,
            ..Default::default()
        };
        assert_eq!(t.query(0xD, 0, &d)[1], 576);
        let d = CpuidDynamic {
            xcr0: 0b111,
            ..Default::default()
        };
        assert_eq!(t.query(0xD, 0, &d)[1], 832);
        // Sub-leaf 2: AVX state is 256 bytes at offset 576.
        assert_eq!(t.query(0xD, 2, &d)[..2], [256, 576]);
    }

    #[test]
    fn out_of_range_leaf_intel_returns_highest_basic_amd_zero() {
        let t = table("max");
        let d = CpuidDynamic::default();
        assert_eq!(t.query(0x7FFF_0000, 0, &d), t.query(t.max_leaf, 0, &d));
        let amd = table("EPYC-Milan");
        assert_eq!(amd.query(0x7FFF_0000, 0, &d), [0; 4]);
    }

    #[test]
    fn phys_and_virt_bits_leaf_80000008() {
        let m = preset("max").expect("max");
        let t = CpuidTable::build(&m, Topology { cpus: 1 });
        let r = t.query(0x8000_0008, 0, &CpuidDynamic::default());
        assert_eq!(r[0] & 0xFF, u32::from(m.phys_bits));
        assert_eq!((r[0] >> 8) & 0xFF, 57, "max has LA57");
    }

    #[test]
    fn brand_string() {
        let t = table("max");
        let mut s = Vec::new();
        for leaf in 0x8000_0002..=0x8000_0004 {
            for w in t.query(leaf, 0, &CpuidDynamic::default()) {
                s.extend_from_slice(&w.to_le_bytes());
            }
        }
        assert!(s.starts_with(b"nestor max CPU\0"));
    }
}
