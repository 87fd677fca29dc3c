//! Named CPU models (`-cpu NAME`).
//!
//! The QEMU-derived presets transcribe `builtin_x86_defs[]` of QEMU's
//! `target/i386/cpu.c` at qemu/qemu commit
//! 0048035a870312f2fd0f3dd28115398d26e419bb: vendor, family/model/stepping,
//! `level`/`xlevel`, `model_id` and the CPUID feature words. QEMU's
//! MSR-backed words (`vmx-*` controls, ARCH_CAPABILITIES MSR bits, ...) are
//! not part of a [`CpuModel`] and are left out. Like QEMU's
//! `x86_cpu_load_model()`, every preset also sets `hypervisor`.
//!
//! `max` is nestor's own model: everything the software CPU implements.

use super::{CacheKind, CacheLevel, CpuModel, Feature, FeatureSet, Vendor};

/// Names accepted by `preset()`, for help text and errors.
pub const PRESET_NAMES: &[&str] = &[
    "qemu64",
    "max",
    "Skylake-Server",
    "Icelake-Server",
    "EPYC",
    "EPYC-Milan",
    "IvyBridge",
    "Opteron_G1",
];

/// A named CPU model, or None. Names compare case-sensitively like QEMU (but accept also lowercase).
///
/// The QEMU models are their `-v1` definitions, so `NAME-v1` is accepted too.
pub fn preset(name: &str) -> Option<CpuModel> {
    let canonical = PRESET_NAMES
        .iter()
        .copied()
        .find(|&n| n == name || n.to_ascii_lowercase() == name)
        .or_else(|| {
            let base = name.strip_suffix("-v1")?;
            PRESET_NAMES
                .iter()
                .copied()
                .filter(|&n| n != "qemu64" && n != "max")
                .find(|&n| n == base || n.to_ascii_lowercase() == base)
        })?;
    Some(match canonical {
        "qemu64" => qemu64(),
        "max" => max(),
        "Skylake-Server" => skylake_server(),
        "Icelake-Server" => icelake_server(),
        "EPYC" => epyc(),
        "EPYC-Milan" => epyc_milan(),
        "IvyBridge" => ivybridge(),
        "Opteron_G1" => opteron_g1(),
        _ => unreachable!("preset `{canonical}` listed but not built"),
    })
}

/// The features nestor's software CPU implements (what `max` enables, minus vmx/svm and their sub-features).
///
/// Deliberately absent: `ss ht tm pbe ds acpi`, `xsaves`, `mpx` (opt in with `+mpx`) and `vmx`/`svm` with their
/// sub-features (opt in with `+vmx` / `+svm`). OSXSAVE and OSPKE are dynamic
/// CPUID bits, never model features.
#[rustfmt::skip] // tabular feature lists
pub fn max_features() -> FeatureSet {
    use Feature::*;
    FeatureSet::from_slice(&[
        // CPUID.1:EDX
        Fpu, Vme, De, Pse, Tsc, Msr, Pae, Mce, Cx8, Apic, Sep, Mtrr, Pge, Mca, Cmov, Pat, Pse36,
        Clflush, Mmx, Fxsr, Sse, Sse2,
        // CPUID.1:ECX
        Sse3, Monitor, Ssse3, Cx16, Pcid, Sse4_1, Sse4_2, X2apic, Movbe, Popcnt, TscDeadline,
        Xsave, Avx, Rdrand, Hypervisor, F16c, Fma, Aes, Pclmulqdq,
        // CPUID.6:EAX
        Arat,
        // CPUID.7.0:EBX
        Fsgsbase, TscAdjust, Bmi1, Avx2, Smep, Bmi2, Erms, Invpcid, Rdseed, Adx, Smap,
        Clflushopt, Clwb,
        // CPUID.7.0:ECX
        Umip, Pku, La57, Rdpid, Pks,
        // CPUID.7.0:EDX
        Fsrm, MdClear, SpecCtrl, Stibp, FlushL1d, ArchCapabilities, Ssbd,
        // CPUID.0xD.1:EAX
        Xsaveopt, Xsavec, Xgetbv1,
        // CPUID.0x80000001:EDX
        Syscall, Nx, Pdpe1gb, Rdtscp, Lm,
        // CPUID.0x80000001:ECX
        LahfLm, Abm,
        // CPUID.0x80000007:EDX
        Invtsc,
    ])
}

/// QEMU's `CPUID_FP87 | ... | CPUID_SSE2` list shared by most models from
/// Conroe on (CPUID.1:EDX = 0x078BFBFF).
#[rustfmt::skip] // tabular feature lists
const MODERN_1_EDX: &[Feature] = {
    use Feature::*;
    &[
        Fpu, Vme, De, Pse, Tsc, Msr, Pae, Mce, Cx8, Apic, Sep, Mtrr, Pge, Mca, Cmov, Pat, Pse36,
        Clflush, Mmx, Fxsr, Sse, Sse2,
    ]
};

fn features(groups: &[&[Feature]]) -> FeatureSet {
    let mut set = FeatureSet::empty();
    for f in groups.iter().flat_map(|g| g.iter()) {
        set.insert(*f);
    }
    // QEMU's x86_cpu_load_model() sets CPUID_EXT_HYPERVISOR on every model.
    set.insert(Feature::Hypervisor);
    set
}

fn cache(level: u8, kind: CacheKind, size_kib: u32, ways: u16) -> CacheLevel {
    CacheLevel {
        level,
        kind,
        size_kib,
        ways,
        line_size: 64,
        shared_by_package: level == 3,
    }
}

/// QEMU's `legacy_l1d_cache` / `legacy_l1i_cache` / `legacy_l2_cache` /
/// `legacy_l3_cache` (CPUID leaf 4), used by Intel models without `cache_info`.
fn qemu_legacy_intel_caches() -> Vec<CacheLevel> {
    vec![
        cache(1, CacheKind::Data, 32, 8),
        cache(1, CacheKind::Instruction, 32, 8),
        cache(2, CacheKind::Unified, 4 * 1024, 16),
        cache(3, CacheKind::Unified, 16 * 1024, 16),
    ]
}

/// qemu64: `builtin_x86_defs[]` "qemu64" (AuthenticAMD like QEMU; family 15
/// model 107 stepping 1, signature 0x00060FB1). phys-bits is QEMU's TCG
/// default of 40.
#[rustfmt::skip] // tabular feature lists
fn qemu64() -> CpuModel {
    use Feature::*;
    CpuModel {
        name: "qemu64".into(),
        vendor: Vendor::Amd,
        family: 15,
        model: 107,
        stepping: 1,
        features: features(&[
            // FEAT_1_EDX: PPRO_FEATURES | MTRR | CLFLUSH | MCA | PSE36 (no VME)
            &[
                Fpu, De, Pse, Tsc, Msr, Mce, Cx8, Pge, Cmov, Pat, Fxsr, Mmx, Sse, Sse2, Pae, Sep,
                Apic, Mtrr, Clflush, Mca, Pse36,
            ],
            // FEAT_1_ECX
            &[Sse3, Cx16],
            // FEAT_8000_0001_EDX
            &[Lm, Syscall, Nx],
            // FEAT_8000_0001_ECX (QEMU's qemu64 does list SVM)
            &[LahfLm, Svm],
        ]),
        phys_bits: 40,
        max_leaf: 0xD,
        max_ext_leaf: 0x8000_000A,
        brand: "QEMU Virtual CPU version 2.5+".into(),
        // QEMU's legacy AMD cache info (leaves 0x80000005/6: legacy_l1d_cache_amd,
        // legacy_l1i_cache_amd, legacy_l2_cache_amd) plus legacy_l3_cache.
        caches: vec![
            cache(1, CacheKind::Data, 64, 2),
            cache(1, CacheKind::Instruction, 64, 2),
            cache(2, CacheKind::Unified, 512, 16),
            cache(3, CacheKind::Unified, 16 * 1024, 16),
        ],
    }
}

/// IvyBridge-v1 (family 6 model 58 stepping 9), QEMU's definition.
#[rustfmt::skip] // tabular feature lists
fn ivybridge() -> CpuModel {
    use Feature::*;
    CpuModel {
        name: "IvyBridge".into(),
        vendor: Vendor::Intel,
        family: 6,
        model: 58,
        stepping: 9,
        features: features(&[
            MODERN_1_EDX,
            // FEAT_1_ECX
            &[
                Avx, Xsave, Aes, TscDeadline, Popcnt, X2apic, Sse4_2, Sse4_1, Cx16, Ssse3,
                Pclmulqdq, Sse3, F16c, Rdrand,
            ],
            // FEAT_7_0_EBX
            &[Fsgsbase, Smep, Erms],
            // FEAT_8000_0001_EDX / ECX
            &[Lm, Rdtscp, Nx, Syscall],
            &[LahfLm],
            // FEAT_XSAVE, FEAT_6_EAX
            &[Xsaveopt],
            &[Arat],
        ]),
        phys_bits: 40,
        max_leaf: 0xD,
        max_ext_leaf: 0x8000_0008,
        brand: "Intel Xeon E3-12xx v2 (Ivy Bridge)".into(),
        caches: qemu_legacy_intel_caches(),
    }
}

/// Opteron_G1-v1 (family 15 model 6 stepping 1), QEMU's definition.
fn opteron_g1() -> CpuModel {
    use Feature::*;
    CpuModel {
        name: "Opteron_G1".into(),
        vendor: Vendor::Amd,
        family: 15,
        model: 6,
        stepping: 1,
        features: features(&[MODERN_1_EDX, &[Sse3], &[Lm, Nx, Syscall]]),
        phys_bits: 40,
        max_leaf: 5,
        max_ext_leaf: 0x8000_0008,
        brand: "AMD Opteron 240 (Gen 1 Class Opteron)".into(),
        caches: vec![
            cache(1, CacheKind::Data, 64, 2),
            cache(1, CacheKind::Instruction, 64, 2),
            cache(2, CacheKind::Unified, 512, 16),
        ],
    }
}

/// max: nestor's "everything implemented" model, an Icelake-SP signature.
fn max() -> CpuModel {
    CpuModel {
        name: "max".into(),
        vendor: Vendor::Intel,
        family: 6,
        model: 0x6A,
        stepping: 6,
        features: max_features(),
        phys_bits: 46,
        max_leaf: 0xD,
        max_ext_leaf: 0x8000_0008,
        brand: "nestor max CPU".into(),
        caches: vec![
            cache(1, CacheKind::Data, 48, 12),
            cache(1, CacheKind::Instruction, 32, 8),
            cache(2, CacheKind::Unified, 1280, 20),
            cache(3, CacheKind::Unified, 32 * 1024, 16),
        ],
    }
}

/// Skylake-Server-v1 (family 6 model 85 stepping 4).
#[rustfmt::skip] // tabular feature lists
fn skylake_server() -> CpuModel {
    use Feature::*;
    CpuModel {
        name: "Skylake-Server".into(),
        vendor: Vendor::Intel,
        family: 6,
        model: 85,
        stepping: 4,
        features: features(&[
            MODERN_1_EDX,
            // FEAT_1_ECX
            &[
                Avx, Xsave, Aes, Popcnt, X2apic, Sse4_2, Sse4_1, Cx16, Ssse3, Pclmulqdq, Sse3,
                TscDeadline, Fma, Movbe, Pcid, F16c, Rdrand,
            ],
            // FEAT_8000_0001_EDX / ECX
            &[Lm, Pdpe1gb, Rdtscp, Nx, Syscall],
            &[Abm, LahfLm, ThreeDNowPrefetch],
            // FEAT_7_0_EBX
            &[
                Fsgsbase, Bmi1, Hle, Avx2, Smep, Bmi2, Erms, Invpcid, Rtm, Rdseed, Adx, Smap,
                Clwb, Avx512f, Avx512dq, Avx512bw, Avx512cd, Avx512vl, Clflushopt,
            ],
            // FEAT_7_0_ECX
            &[Pku],
            // FEAT_XSAVE (XSAVES only from -v5)
            &[Xsaveopt, Xsavec, Xgetbv1],
            // FEAT_6_EAX
            &[Arat],
            // Not in QEMU's definition (QEMU adds it only with +vmx): nestor's
            // Intel server presets expose VMX.
            &[Vmx],
        ]),
        phys_bits: 46,
        max_leaf: 0xD,
        max_ext_leaf: 0x8000_0008,
        brand: "Intel Xeon Processor (Skylake)".into(),
        caches: qemu_legacy_intel_caches(),
    }
}

/// Icelake-Server-v1 (family 6 model 134 stepping 0; QEMU's -v4 changes
/// the model to 106 and adds sha-ni, avx512ifma, rdpid, fsrm).
#[rustfmt::skip] // tabular feature lists
fn icelake_server() -> CpuModel {
    use Feature::*;
    CpuModel {
        name: "Icelake-Server".into(),
        vendor: Vendor::Intel,
        family: 6,
        model: 134,
        stepping: 0,
        features: features(&[
            MODERN_1_EDX,
            // FEAT_1_ECX
            &[
                Avx, Xsave, Aes, Popcnt, X2apic, Sse4_2, Sse4_1, Cx16, Ssse3, Pclmulqdq, Sse3,
                TscDeadline, Fma, Movbe, Pcid, F16c, Rdrand,
            ],
            // FEAT_8000_0001_EDX / ECX
            &[Lm, Pdpe1gb, Rdtscp, Nx, Syscall],
            &[Abm, LahfLm, ThreeDNowPrefetch],
            // FEAT_8000_0008_EBX
            &[Wbnoinvd],
            // FEAT_7_0_EBX
            &[
                Fsgsbase, Bmi1, Hle, Avx2, Smep, Bmi2, Erms, Invpcid, Rtm, Rdseed, Adx, Smap,
                Clwb, Avx512f, Avx512dq, Avx512bw, Avx512cd, Avx512vl, Clflushopt,
            ],
            // FEAT_7_0_ECX
            &[
                Avx512vbmi, Umip, Pku, Avx512vbmi2, Gfni, Vaes, Vpclmulqdq, Avx512vnni,
                Avx512bitalg, Avx512Vpopcntdq, La57,
            ],
            // FEAT_7_0_EDX
            &[SpecCtrl, Ssbd],
            // FEAT_XSAVE (XSAVES only from -v5)
            &[Xsaveopt, Xsavec, Xgetbv1],
            // FEAT_6_EAX
            &[Arat],
            // Not in QEMU's definition (QEMU adds it only with +vmx): nestor's
            // Intel server presets expose VMX.
            &[Vmx],
        ]),
        phys_bits: 46,
        max_leaf: 0xD,
        max_ext_leaf: 0x8000_0008,
        brand: "Intel Xeon Processor (Icelake)".into(),
        caches: qemu_legacy_intel_caches(),
    }
}

/// EPYC-v1 (family 23 model 1 stepping 2), caches from `epyc_cache_info`.
#[rustfmt::skip] // tabular feature lists
fn epyc() -> CpuModel {
    use Feature::*;
    CpuModel {
        name: "EPYC".into(),
        vendor: Vendor::Amd,
        family: 23,
        model: 1,
        stepping: 2,
        features: features(&[
            MODERN_1_EDX,
            // FEAT_1_ECX
            &[
                Rdrand, F16c, Avx, Xsave, Aes, Popcnt, Movbe, Sse4_2, Sse4_1, Cx16, Fma, Ssse3,
                Monitor, Pclmulqdq, Sse3,
            ],
            // FEAT_8000_0001_EDX
            &[Lm, Rdtscp, Pdpe1gb, FxsrOpt, Mmxext, Nx, Syscall],
            // FEAT_8000_0001_ECX
            &[
                Osvw, ThreeDNowPrefetch, Misalignsse, Sse4a, Abm, Cr8legacy, Svm, LahfLm,
                Topoext,
            ],
            // FEAT_7_0_EBX
            &[Fsgsbase, Bmi1, Avx2, Smep, Bmi2, Rdseed, Adx, Smap, Clflushopt, ShaNi],
            // FEAT_XSAVE
            &[Xsaveopt, Xsavec, Xgetbv1],
            // FEAT_6_EAX
            &[Arat],
            // FEAT_SVM
            &[Npt, NripSave],
        ]),
        phys_bits: 48,
        max_leaf: 0xD,
        max_ext_leaf: 0x8000_001E,
        brand: "AMD EPYC Processor".into(),
        caches: vec![
            cache(1, CacheKind::Data, 32, 8),
            cache(1, CacheKind::Instruction, 64, 4),
            cache(2, CacheKind::Unified, 512, 8),
            cache(3, CacheKind::Unified, 8 * 1024, 16),
        ],
    }
}

/// EPYC-Milan-v1 (family 25 model 1 stepping 1), caches from
/// `epyc_milan_cache_info`. QEMU's definition already has svm, npt and
/// nrip-save.
#[rustfmt::skip] // tabular feature lists
fn epyc_milan() -> CpuModel {
    use Feature::*;
    CpuModel {
        name: "EPYC-Milan".into(),
        vendor: Vendor::Amd,
        family: 25,
        model: 1,
        stepping: 1,
        features: features(&[
            MODERN_1_EDX,
            // FEAT_1_ECX
            &[
                Rdrand, F16c, Avx, Xsave, Aes, Popcnt, Movbe, Sse4_2, Sse4_1, Cx16, Fma, Ssse3,
                Monitor, Pclmulqdq, Sse3, Pcid,
            ],
            // FEAT_8000_0001_EDX
            &[Lm, Rdtscp, Pdpe1gb, FxsrOpt, Mmxext, Nx, Syscall],
            // FEAT_8000_0001_ECX
            &[
                Osvw, ThreeDNowPrefetch, Misalignsse, Sse4a, Abm, Cr8legacy, Svm, LahfLm,
                Topoext, PerfctrCore,
            ],
            // FEAT_8000_0008_EBX (QEMU's CPUID_8000_0008_EBX_STIBP is "amd-stibp")
            &[Clzero, Xsaveerptr, Wbnoinvd, Ibpb, AmdIbrs, AmdStibp, AmdSsbd],
            // FEAT_7_0_EBX
            &[
                Fsgsbase, Bmi1, Avx2, Smep, Bmi2, Rdseed, Adx, Smap, Clflushopt, ShaNi, Clwb,
                Erms, Invpcid,
            ],
            // FEAT_7_0_ECX
            &[Umip, Rdpid, Pku],
            // FEAT_7_0_EDX
            &[Fsrm],
            // FEAT_XSAVE
            &[Xsaveopt, Xsavec, Xgetbv1, Xsaves],
            // FEAT_6_EAX
            &[Arat],
            // FEAT_SVM
            &[Npt, NripSave, SvmeAddrChk],
        ]),
        phys_bits: 48,
        max_leaf: 0xD,
        max_ext_leaf: 0x8000_001E,
        brand: "AMD EPYC-Milan Processor".into(),
        caches: vec![
            cache(1, CacheKind::Data, 32, 8),
            cache(1, CacheKind::Instruction, 32, 8),
            cache(2, CacheKind::Unified, 512, 8),
            cache(3, CacheKind::Unified, 32 * 1024, 16),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CpuidReg;

    #[test]
    fn every_preset_name_resolves() {
        for &name in PRESET_NAMES {
            let m = preset(name).unwrap_or_else(|| panic!("preset `{name}` missing"));
            assert_eq!(m.name, name);
            assert!(m.brand.len() <= 48, "{name}: brand too long");
            assert!(m.max_leaf >= 5, "{name}");
            assert!(m.max_ext_leaf >= 0x8000_0008, "{name}");
            assert!(m.has(Feature::Lm), "{name}");
            assert!(m.has(Feature::Hypervisor), "{name}");
            assert!(m.phys_bits >= 36 && m.phys_bits <= 52, "{name}");
            assert!(!m.caches.is_empty(), "{name}");
            for c in &m.caches {
                assert_eq!(c.line_size, 64);
                assert!(c.size_kib > 0 && c.ways > 0);
            }
            // Lowercase spelling is accepted too.
            assert_eq!(preset(&name.to_ascii_lowercase()).as_ref(), Some(&m));
        }
        assert_eq!(
            preset("Icelake-Server-v1").map(|m| m.name),
            Some("Icelake-Server".into())
        );
        assert!(preset("ICELAKE-SERVER").is_none());
        assert!(preset("nosuchcpu").is_none());
        assert!(preset("max-v1").is_none());
    }

    #[test]
    fn max_is_exactly_max_features() {
        let m = preset("max").unwrap();
        assert_eq!(m.features, max_features());
        assert_eq!(m.vendor, Vendor::Intel);
        assert_eq!(m.signature(), 0x0006_06A6);
        assert_eq!(m.phys_bits, 46);
        for f in [
            Feature::Vmx,
            Feature::Svm,
            Feature::Mpx,
            Feature::Npt,
            Feature::NripSave,
        ] {
            assert!(!m.has(f), "max must not have {}", f.name());
        }
        for f in [
            Feature::La57,
            Feature::Pks,
            Feature::Pku,
            Feature::Pcid,
            Feature::Invpcid,
            Feature::X2apic,
            Feature::TscDeadline,
            Feature::Invtsc,
            Feature::ArchCapabilities,
        ] {
            assert!(m.has(f), "max must have {}", f.name());
        }
        assert_eq!(max_features().iter().count(), 78);
    }

    #[test]
    fn icelake_server_has_vmx() {
        let m = preset("Icelake-Server").unwrap();
        assert_eq!(m.vendor, Vendor::Intel);
        assert!(m.has(Feature::Vmx));
        assert!(m.has(Feature::La57));
        assert!(!m.has(Feature::Svm));
        assert_eq!(m.signature(), 0x0008_0660);
        assert!(preset("Skylake-Server").unwrap().has(Feature::Vmx));
        assert_eq!(preset("Skylake-Server").unwrap().signature(), 0x0005_0654);
    }

    #[test]
    fn amd_presets_have_svm() {
        for name in ["EPYC-Milan", "EPYC"] {
            let m = preset(name).unwrap();
            assert_eq!(m.vendor, Vendor::Amd);
            for f in [Feature::Svm, Feature::Npt, Feature::NripSave] {
                assert!(m.has(f), "{name} must have {}", f.name());
            }
            assert!(!m.has(Feature::Vmx));
        }
        assert_eq!(preset("EPYC-Milan").unwrap().signature(), 0x00A0_0F11);
        assert_eq!(preset("EPYC").unwrap().signature(), 0x0080_0F12);
    }

    #[test]
    fn qemu64_matches_qemu() {
        let m = preset("qemu64").unwrap();
        assert_eq!(m.vendor, Vendor::Amd);
        assert_eq!((m.family, m.model, m.stepping), (15, 107, 1));
        // QEMU: family 15 -> base 0xF, ext 0; model 107 = 0x6B -> ext 6, base 0xB.
        assert_eq!(m.signature(), 0x0006_0FB1);
        assert_eq!(m.phys_bits, 40);
        assert_eq!((m.max_leaf, m.max_ext_leaf), (0xD, 0x8000_000A));
        assert_eq!(m.brand, "QEMU Virtual CPU version 2.5+");
        // The familiar qemu64 feature words (AMD aliases in 80000001:EDX are
        // added by the CPUID code, not stored in the model).
        let f = &m.features;
        assert_eq!(f.cpuid_bits(1, 0, CpuidReg::Edx), 0x078B_FBFD);
        assert_eq!(f.cpuid_bits(1, 0, CpuidReg::Ecx), 0x8000_2001);
        assert_eq!(f.cpuid_bits(0x8000_0001, 0, CpuidReg::Edx), 0x2010_0800);
        assert_eq!(f.cpuid_bits(0x8000_0001, 0, CpuidReg::Ecx), 0x0000_0005);
        assert_eq!(f.cpuid_bits(7, 0, CpuidReg::Ebx), 0);
    }

    #[test]
    fn modern_intel_1_edx_word() {
        let m = preset("Icelake-Server").unwrap();
        assert_eq!(m.features.cpuid_bits(1, 0, CpuidReg::Edx), 0x078B_FBFF);
    }
}
