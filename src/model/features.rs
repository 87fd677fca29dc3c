//! The CPU feature table: every feature nestor knows, with the name QEMU
//! spells it by and the CPUID bit that enumerates it.
//!
//! Adding a feature is one row in [`feature_table!`]. Names follow QEMU's
//! `target/i386/cpu.c` feature-word tables so that `-cpu` strings from
//! kvm-unit-tests' `unittests.cfg` parse unchanged.

use bitvec::prelude::*;
use serde::{Deserialize, Serialize};

/// A CPUID output register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CpuidReg {
    Eax,
    Ebx,
    Ecx,
    Edx,
}

/// Where a feature is enumerated: CPUID.(EAX=leaf, ECX=subleaf):reg[bit].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuidBit {
    pub leaf: u32,
    pub subleaf: u32,
    pub reg: CpuidReg,
    pub bit: u8,
}

/// One row of the feature table.
#[derive(Clone, Copy, Debug)]
pub struct FeatureInfo {
    pub feature: Feature,
    /// QEMU's canonical spelling (`-cpu MODEL,+name`).
    pub name: &'static str,
    pub cpuid: CpuidBit,
}

macro_rules! feature_table {
    ( $( $variant:ident = $name:literal : $leaf:literal / $sub:literal, $reg:ident [ $bit:literal ] ; )* ) => {
        /// A CPU feature. The discriminant indexes [`FEATURES`] and [`FeatureSet`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum Feature { $( $variant, )* }

        /// Every feature, in declaration order (index = `Feature as usize`).
        pub const FEATURES: &[FeatureInfo] = &[
            $( FeatureInfo {
                feature: Feature::$variant,
                name: $name,
                cpuid: CpuidBit { leaf: $leaf, subleaf: $sub, reg: CpuidReg::$reg, bit: $bit },
            }, )*
        ];
    };
}

// Rows transcribed from QEMU's `feature_word_info[]` in `target/i386/cpu.c`,
// qemu/qemu commit 0048035a870312f2fd0f3dd28115398d26e419bb (a 2025 snapshot,
// around QEMU 10.0: it already names `eraps`, `fdp-excptn-only`, `avx10`).
// Every (leaf, subleaf, register, bit) below was checked against that table.
//
// Only CPUID words are listed; QEMU's MSR-backed words (arch-capabilities MSR
// bits, `vmx-*`, ...) are not features here. Bits that QEMU leaves NULL
// (e.g. OSXSAVE, OSPKE, RDPRU) are absent; OSXSAVE/OSPKE are dynamic and are
// described by [`OSXSAVE_BIT`] / [`OSPKE_BIT`]. The AMD copies of the
// CPUID.1:EDX bits in CPUID.80000001:EDX (fpu, pse, ...) are not separate
// features, exactly as in QEMU: the CPUID code mirrors them for AMD vendors
// (see [`AMD_EDX_ALIASES`]). No QEMU name occurs twice across these words.
feature_table! {
    // CPUID.1:EDX
    Fpu = "fpu": 0x1/0, Edx[0];
    Vme = "vme": 0x1/0, Edx[1];
    De = "de": 0x1/0, Edx[2];
    Pse = "pse": 0x1/0, Edx[3];
    Tsc = "tsc": 0x1/0, Edx[4];
    Msr = "msr": 0x1/0, Edx[5];
    Pae = "pae": 0x1/0, Edx[6];
    Mce = "mce": 0x1/0, Edx[7];
    Cx8 = "cx8": 0x1/0, Edx[8];
    Apic = "apic": 0x1/0, Edx[9];
    Sep = "sep": 0x1/0, Edx[11];
    Mtrr = "mtrr": 0x1/0, Edx[12];
    Pge = "pge": 0x1/0, Edx[13];
    Mca = "mca": 0x1/0, Edx[14];
    Cmov = "cmov": 0x1/0, Edx[15];
    Pat = "pat": 0x1/0, Edx[16];
    Pse36 = "pse36": 0x1/0, Edx[17];
    Pn = "pn": 0x1/0, Edx[18];
    Clflush = "clflush": 0x1/0, Edx[19];
    Ds = "ds": 0x1/0, Edx[21];
    Acpi = "acpi": 0x1/0, Edx[22];
    Mmx = "mmx": 0x1/0, Edx[23];
    Fxsr = "fxsr": 0x1/0, Edx[24];
    Sse = "sse": 0x1/0, Edx[25];
    Sse2 = "sse2": 0x1/0, Edx[26];
    Ss = "ss": 0x1/0, Edx[27];
    Ht = "ht": 0x1/0, Edx[28];
    Tm = "tm": 0x1/0, Edx[29];
    Ia64 = "ia64": 0x1/0, Edx[30];
    Pbe = "pbe": 0x1/0, Edx[31];

    // CPUID.1:ECX (QEMU's canonical name for SSE3 is "pni"; "sse3" is an alias)
    Sse3 = "pni": 0x1/0, Ecx[0];
    Pclmulqdq = "pclmulqdq": 0x1/0, Ecx[1];
    Dtes64 = "dtes64": 0x1/0, Ecx[2];
    Monitor = "monitor": 0x1/0, Ecx[3];
    DsCpl = "ds-cpl": 0x1/0, Ecx[4];
    Vmx = "vmx": 0x1/0, Ecx[5];
    Smx = "smx": 0x1/0, Ecx[6];
    Est = "est": 0x1/0, Ecx[7];
    Tm2 = "tm2": 0x1/0, Ecx[8];
    Ssse3 = "ssse3": 0x1/0, Ecx[9];
    Cid = "cid": 0x1/0, Ecx[10];
    Fma = "fma": 0x1/0, Ecx[12];
    Cx16 = "cx16": 0x1/0, Ecx[13];
    Xtpr = "xtpr": 0x1/0, Ecx[14];
    Pdcm = "pdcm": 0x1/0, Ecx[15];
    Pcid = "pcid": 0x1/0, Ecx[17];
    Dca = "dca": 0x1/0, Ecx[18];
    Sse4_1 = "sse4.1": 0x1/0, Ecx[19];
    Sse4_2 = "sse4.2": 0x1/0, Ecx[20];
    X2apic = "x2apic": 0x1/0, Ecx[21];
    Movbe = "movbe": 0x1/0, Ecx[22];
    Popcnt = "popcnt": 0x1/0, Ecx[23];
    TscDeadline = "tsc-deadline": 0x1/0, Ecx[24];
    Aes = "aes": 0x1/0, Ecx[25];
    Xsave = "xsave": 0x1/0, Ecx[26];
    Avx = "avx": 0x1/0, Ecx[28];
    F16c = "f16c": 0x1/0, Ecx[29];
    Rdrand = "rdrand": 0x1/0, Ecx[30];
    Hypervisor = "hypervisor": 0x1/0, Ecx[31];

    // CPUID.6:EAX
    Arat = "arat": 0x6/0, Eax[2];

    // CPUID.7.0:EBX
    Fsgsbase = "fsgsbase": 0x7/0, Ebx[0];
    TscAdjust = "tsc-adjust": 0x7/0, Ebx[1];
    Sgx = "sgx": 0x7/0, Ebx[2];
    Bmi1 = "bmi1": 0x7/0, Ebx[3];
    Hle = "hle": 0x7/0, Ebx[4];
    Avx2 = "avx2": 0x7/0, Ebx[5];
    FdpExcptnOnly = "fdp-excptn-only": 0x7/0, Ebx[6];
    Smep = "smep": 0x7/0, Ebx[7];
    Bmi2 = "bmi2": 0x7/0, Ebx[8];
    Erms = "erms": 0x7/0, Ebx[9];
    Invpcid = "invpcid": 0x7/0, Ebx[10];
    Rtm = "rtm": 0x7/0, Ebx[11];
    ZeroFcsFds = "zero-fcs-fds": 0x7/0, Ebx[13];
    Mpx = "mpx": 0x7/0, Ebx[14];
    Avx512f = "avx512f": 0x7/0, Ebx[16];
    Avx512dq = "avx512dq": 0x7/0, Ebx[17];
    Rdseed = "rdseed": 0x7/0, Ebx[18];
    Adx = "adx": 0x7/0, Ebx[19];
    Smap = "smap": 0x7/0, Ebx[20];
    Avx512ifma = "avx512ifma": 0x7/0, Ebx[21];
    Pcommit = "pcommit": 0x7/0, Ebx[22];
    Clflushopt = "clflushopt": 0x7/0, Ebx[23];
    Clwb = "clwb": 0x7/0, Ebx[24];
    IntelPt = "intel-pt": 0x7/0, Ebx[25];
    Avx512pf = "avx512pf": 0x7/0, Ebx[26];
    Avx512er = "avx512er": 0x7/0, Ebx[27];
    Avx512cd = "avx512cd": 0x7/0, Ebx[28];
    ShaNi = "sha-ni": 0x7/0, Ebx[29];
    Avx512bw = "avx512bw": 0x7/0, Ebx[30];
    Avx512vl = "avx512vl": 0x7/0, Ebx[31];

    // CPUID.7.0:ECX (bit 4, OSPKE, is dynamic and unnamed in QEMU)
    Avx512vbmi = "avx512vbmi": 0x7/0, Ecx[1];
    Umip = "umip": 0x7/0, Ecx[2];
    Pku = "pku": 0x7/0, Ecx[3];
    Waitpkg = "waitpkg": 0x7/0, Ecx[5];
    Avx512vbmi2 = "avx512vbmi2": 0x7/0, Ecx[6];
    Gfni = "gfni": 0x7/0, Ecx[8];
    Vaes = "vaes": 0x7/0, Ecx[9];
    Vpclmulqdq = "vpclmulqdq": 0x7/0, Ecx[10];
    Avx512vnni = "avx512vnni": 0x7/0, Ecx[11];
    Avx512bitalg = "avx512bitalg": 0x7/0, Ecx[12];
    Avx512Vpopcntdq = "avx512-vpopcntdq": 0x7/0, Ecx[14];
    La57 = "la57": 0x7/0, Ecx[16];
    Rdpid = "rdpid": 0x7/0, Ecx[22];
    BusLockDetect = "bus-lock-detect": 0x7/0, Ecx[24];
    Cldemote = "cldemote": 0x7/0, Ecx[25];
    Movdiri = "movdiri": 0x7/0, Ecx[27];
    Movdir64b = "movdir64b": 0x7/0, Ecx[28];
    Sgxlc = "sgxlc": 0x7/0, Ecx[30];
    Pks = "pks": 0x7/0, Ecx[31];

    // CPUID.7.0:EDX
    Avx512_4vnniw = "avx512-4vnniw": 0x7/0, Edx[2];
    Avx512_4fmaps = "avx512-4fmaps": 0x7/0, Edx[3];
    Fsrm = "fsrm": 0x7/0, Edx[4];
    Avx512Vp2intersect = "avx512-vp2intersect": 0x7/0, Edx[8];
    MdClear = "md-clear": 0x7/0, Edx[10];
    Serialize = "serialize": 0x7/0, Edx[14];
    TsxLdtrk = "tsx-ldtrk": 0x7/0, Edx[16];
    ArchLbr = "arch-lbr": 0x7/0, Edx[19];
    AmxBf16 = "amx-bf16": 0x7/0, Edx[22];
    Avx512Fp16 = "avx512-fp16": 0x7/0, Edx[23];
    AmxTile = "amx-tile": 0x7/0, Edx[24];
    AmxInt8 = "amx-int8": 0x7/0, Edx[25];
    SpecCtrl = "spec-ctrl": 0x7/0, Edx[26];
    Stibp = "stibp": 0x7/0, Edx[27];
    FlushL1d = "flush-l1d": 0x7/0, Edx[28];
    ArchCapabilities = "arch-capabilities": 0x7/0, Edx[29];
    CoreCapability = "core-capability": 0x7/0, Edx[30];
    Ssbd = "ssbd": 0x7/0, Edx[31];

    // CPUID.7.1:EAX
    Sha512 = "sha512": 0x7/1, Eax[0];
    Sm3 = "sm3": 0x7/1, Eax[1];
    Sm4 = "sm4": 0x7/1, Eax[2];
    AvxVnni = "avx-vnni": 0x7/1, Eax[4];
    Avx512Bf16 = "avx512-bf16": 0x7/1, Eax[5];
    Cmpccxadd = "cmpccxadd": 0x7/1, Eax[7];
    Fzrm = "fzrm": 0x7/1, Eax[10];
    Fsrs = "fsrs": 0x7/1, Eax[11];
    Fsrc = "fsrc": 0x7/1, Eax[12];
    Fred = "fred": 0x7/1, Eax[17];
    Lkgs = "lkgs": 0x7/1, Eax[18];
    Wrmsrns = "wrmsrns": 0x7/1, Eax[19];
    AmxFp16 = "amx-fp16": 0x7/1, Eax[21];
    AvxIfma = "avx-ifma": 0x7/1, Eax[23];
    Lam = "lam": 0x7/1, Eax[26];

    // CPUID.7.2:EDX
    IntelPsfd = "intel-psfd": 0x7/2, Edx[0];
    IpredCtrl = "ipred-ctrl": 0x7/2, Edx[1];
    RrsbaCtrl = "rrsba-ctrl": 0x7/2, Edx[2];
    DdpdU = "ddpd-u": 0x7/2, Edx[3];
    BhiCtrl = "bhi-ctrl": 0x7/2, Edx[4];
    McdtNo = "mcdt-no": 0x7/2, Edx[5];

    // CPUID.0xD.1:EAX
    Xsaveopt = "xsaveopt": 0xD/1, Eax[0];
    Xsavec = "xsavec": 0xD/1, Eax[1];
    Xgetbv1 = "xgetbv1": 0xD/1, Eax[2];
    Xsaves = "xsaves": 0xD/1, Eax[3];
    Xfd = "xfd": 0xD/1, Eax[4];

    // CPUID.0x80000001:EDX (only the bits that are not AMD copies of CPUID.1:EDX)
    Syscall = "syscall": 0x8000_0001/0, Edx[11];
    Nx = "nx": 0x8000_0001/0, Edx[20];
    Mmxext = "mmxext": 0x8000_0001/0, Edx[22];
    FxsrOpt = "fxsr-opt": 0x8000_0001/0, Edx[25];
    Pdpe1gb = "pdpe1gb": 0x8000_0001/0, Edx[26];
    Rdtscp = "rdtscp": 0x8000_0001/0, Edx[27];
    Lm = "lm": 0x8000_0001/0, Edx[29];
    ThreeDNowExt = "3dnowext": 0x8000_0001/0, Edx[30];
    ThreeDNow = "3dnow": 0x8000_0001/0, Edx[31];

    // CPUID.0x80000001:ECX
    LahfLm = "lahf-lm": 0x8000_0001/0, Ecx[0];
    CmpLegacy = "cmp-legacy": 0x8000_0001/0, Ecx[1];
    Svm = "svm": 0x8000_0001/0, Ecx[2];
    Extapic = "extapic": 0x8000_0001/0, Ecx[3];
    Cr8legacy = "cr8legacy": 0x8000_0001/0, Ecx[4];
    Abm = "abm": 0x8000_0001/0, Ecx[5];
    Sse4a = "sse4a": 0x8000_0001/0, Ecx[6];
    Misalignsse = "misalignsse": 0x8000_0001/0, Ecx[7];
    ThreeDNowPrefetch = "3dnowprefetch": 0x8000_0001/0, Ecx[8];
    Osvw = "osvw": 0x8000_0001/0, Ecx[9];
    Ibs = "ibs": 0x8000_0001/0, Ecx[10];
    Xop = "xop": 0x8000_0001/0, Ecx[11];
    Skinit = "skinit": 0x8000_0001/0, Ecx[12];
    Wdt = "wdt": 0x8000_0001/0, Ecx[13];
    Lwp = "lwp": 0x8000_0001/0, Ecx[15];
    Fma4 = "fma4": 0x8000_0001/0, Ecx[16];
    Tce = "tce": 0x8000_0001/0, Ecx[17];
    NodeidMsr = "nodeid-msr": 0x8000_0001/0, Ecx[19];
    Tbm = "tbm": 0x8000_0001/0, Ecx[21];
    Topoext = "topoext": 0x8000_0001/0, Ecx[22];
    PerfctrCore = "perfctr-core": 0x8000_0001/0, Ecx[23];
    PerfctrNb = "perfctr-nb": 0x8000_0001/0, Ecx[24];

    // CPUID.0x80000007:EDX
    Invtsc = "invtsc": 0x8000_0007/0, Edx[8];

    // CPUID.0x80000008:EBX (QEMU spells AMD's IBRS bit plain "ibrs")
    Clzero = "clzero": 0x8000_0008/0, Ebx[0];
    Xsaveerptr = "xsaveerptr": 0x8000_0008/0, Ebx[2];
    Wbnoinvd = "wbnoinvd": 0x8000_0008/0, Ebx[9];
    Ibpb = "ibpb": 0x8000_0008/0, Ebx[12];
    AmdIbrs = "ibrs": 0x8000_0008/0, Ebx[14];
    AmdStibp = "amd-stibp": 0x8000_0008/0, Ebx[15];
    StibpAlwaysOn = "stibp-always-on": 0x8000_0008/0, Ebx[17];
    AmdSsbd = "amd-ssbd": 0x8000_0008/0, Ebx[24];
    VirtSsbd = "virt-ssbd": 0x8000_0008/0, Ebx[25];
    AmdNoSsb = "amd-no-ssb": 0x8000_0008/0, Ebx[26];
    AmdPsfd = "amd-psfd": 0x8000_0008/0, Ebx[28];

    // CPUID.0x8000000A:EDX (SVM features)
    Npt = "npt": 0x8000_000A/0, Edx[0];
    Lbrv = "lbrv": 0x8000_000A/0, Edx[1];
    SvmLock = "svm-lock": 0x8000_000A/0, Edx[2];
    NripSave = "nrip-save": 0x8000_000A/0, Edx[3];
    TscScale = "tsc-scale": 0x8000_000A/0, Edx[4];
    VmcbClean = "vmcb-clean": 0x8000_000A/0, Edx[5];
    Flushbyasid = "flushbyasid": 0x8000_000A/0, Edx[6];
    Decodeassists = "decodeassists": 0x8000_000A/0, Edx[7];
    PauseFilter = "pause-filter": 0x8000_000A/0, Edx[10];
    Pfthreshold = "pfthreshold": 0x8000_000A/0, Edx[12];
    Avic = "avic": 0x8000_000A/0, Edx[13];
    VVmsaveVmload = "v-vmsave-vmload": 0x8000_000A/0, Edx[15];
    Vgif = "vgif": 0x8000_000A/0, Edx[16];
    Vnmi = "vnmi": 0x8000_000A/0, Edx[25];
    SvmeAddrChk = "svme-addr-chk": 0x8000_000A/0, Edx[28];

    // CPUID.0x80000021:EAX
    NoNestedDataBp = "no-nested-data-bp": 0x8000_0021/0, Eax[0];
    LfenceAlwaysSerializing = "lfence-always-serializing": 0x8000_0021/0, Eax[2];
    NullSelClrBase = "null-sel-clr-base": 0x8000_0021/0, Eax[6];
    AutoIbrs = "auto-ibrs": 0x8000_0021/0, Eax[8];
    Eraps = "eraps": 0x8000_0021/0, Eax[24];
    Sbpb = "sbpb": 0x8000_0021/0, Eax[27];
    IbpbBrtype = "ibpb-brtype": 0x8000_0021/0, Eax[28];
    SrsoNo = "srso-no": 0x8000_0021/0, Eax[29];
    SrsoUserKernelNo = "srso-user-kernel-no": 0x8000_0021/0, Eax[30];
}

/// CPUID.1:ECX[27], OSXSAVE: not a model feature (QEMU leaves it unnamed);
/// reads as 1 when the model has XSAVE and CR4.OSXSAVE is set.
pub const OSXSAVE_BIT: CpuidBit = CpuidBit {
    leaf: 0x1,
    subleaf: 0,
    reg: CpuidReg::Ecx,
    bit: 27,
};

/// CPUID.7.0:ECX[4], OSPKE: not a model feature (QEMU leaves it unnamed);
/// reads as 1 when the model has PKU and CR4.PKE is set.
pub const OSPKE_BIT: CpuidBit = CpuidBit {
    leaf: 0x7,
    subleaf: 0,
    reg: CpuidReg::Ecx,
    bit: 4,
};

/// The CPUID.1:EDX features that AMD CPUs also report at the same bit of
/// CPUID.80000001:EDX (QEMU's `CPUID_EXT2_AMD_ALIASES`). QEMU copies them
/// there if and only if the vendor is AMD; they have no names of their own.
pub const AMD_EDX_ALIASES: &[Feature] = &[
    Feature::Fpu,
    Feature::Vme,
    Feature::De,
    Feature::Pse,
    Feature::Tsc,
    Feature::Msr,
    Feature::Pae,
    Feature::Mce,
    Feature::Cx8,
    Feature::Apic,
    Feature::Mtrr,
    Feature::Pge,
    Feature::Mca,
    Feature::Cmov,
    Feature::Pat,
    Feature::Pse36,
    Feature::Mmx,
    Feature::Fxsr,
];

/// Number of features in the table.
pub const FEATURE_COUNT: usize = FEATURES.len();

impl Feature {
    pub fn info(self) -> &'static FeatureInfo {
        &FEATURES[self as usize]
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    /// Looks a feature up by name; `_` and `-` are interchangeable, as in QEMU.
    pub fn from_name(name: &str) -> Option<Feature> {
        let norm = |s: &str| s.replace('_', "-").to_ascii_lowercase();
        let want = norm(name);
        if let Some(f) = FEATURES.iter().find(|f| f.name == want) {
            return Some(f.feature);
        }
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == want)
            .map(|(_, f)| *f)
    }
}

/// Alternative spellings QEMU also accepts (already `_`→`-` normalised).
///
/// These are the `object_property_add_alias()` calls of QEMU's
/// `x86_cpu_initfn()` that target a feature of this table. The legacy
/// underscore spellings there (`sse4_1`, `lahf_lm`, `ds_cpl`, `tsc_adjust`,
/// `fxsr_opt`, `nrip_save`, `svm_lock`, ...) need no entry: QEMU's
/// `-cpu` parser turns `_` into `-` first, and so does [`Feature::from_name`].
const ALIASES: &[(&str, Feature)] = &[
    ("sse3", Feature::Sse3),
    ("pclmuldq", Feature::Pclmulqdq),
    ("sse4-1", Feature::Sse4_1),
    ("sse4-2", Feature::Sse4_2),
    ("xd", Feature::Nx),
    ("ffxsr", Feature::FxsrOpt),
    ("i64", Feature::Lm),
];

/// A set of features, one bit per [`Feature`].
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FeatureSet(BitArr!(for FEATURE_COUNT, in u64, Lsb0));

impl FeatureSet {
    pub const fn empty() -> Self {
        FeatureSet(BitArray::ZERO)
    }
    pub fn from_slice(features: &[Feature]) -> Self {
        let mut set = Self::empty();
        for &f in features {
            set.insert(f);
        }
        set
    }
    #[inline]
    pub fn has(&self, f: Feature) -> bool {
        self.0[f as usize]
    }
    pub fn insert(&mut self, f: Feature) {
        self.0.set(f as usize, true);
    }
    pub fn remove(&mut self, f: Feature) {
        self.0.set(f as usize, false);
    }
    pub fn iter(&self) -> impl Iterator<Item = Feature> + '_ {
        self.0
            .iter_ones()
            .filter(|&i| i < FEATURE_COUNT)
            .map(|i| FEATURES[i].feature)
    }
    /// The features of this set enumerated at CPUID.(leaf, subleaf):reg, as a register value.
    pub fn cpuid_bits(&self, leaf: u32, subleaf: u32, reg: CpuidReg) -> u32 {
        self.iter()
            .map(|f| f.info().cpuid)
            .filter(|c| c.leaf == leaf && c.subleaf == subleaf && c.reg == reg)
            .fold(0, |acc, c| acc | (1u32 << c.bit))
    }
}

impl std::fmt::Debug for FeatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Feature::name))
            .finish()
    }
}

/// Serialised as the list of QEMU feature names, so a saved model stays
/// readable and survives reordering of the table.
impl Serialize for FeatureSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Feature::name))
    }
}

impl<'de> Deserialize<'de> for FeatureSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        let mut set = FeatureSet::empty();
        for n in names {
            let f = Feature::from_name(&n)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown CPU feature `{n}`")))?;
            set.insert(f);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for f in FEATURES {
            assert!(seen.insert(f.name), "duplicate feature name `{}`", f.name);
        }
    }

    #[test]
    fn names_are_canonical_qemu_spellings() {
        for f in FEATURES {
            assert!(!f.name.is_empty());
            assert!(!f.name.contains('_'), "`{}` must use '-'", f.name);
            assert_eq!(f.name, f.name.to_ascii_lowercase());
            // Every canonical name must look itself up.
            assert_eq!(Feature::from_name(f.name), Some(f.feature), "{}", f.name);
        }
    }

    #[test]
    fn cpuid_bits_are_unique() {
        let mut seen = HashSet::new();
        for f in FEATURES {
            let c = f.cpuid;
            assert!(c.bit < 32);
            assert!(
                seen.insert((c.leaf, c.subleaf, c.reg, c.bit)),
                "`{}` reuses CPUID.({:#x},{}):{:?}[{}]",
                f.name,
                c.leaf,
                c.subleaf,
                c.reg,
                c.bit
            );
        }
        for dynamic in [OSXSAVE_BIT, OSPKE_BIT] {
            assert!(
                !seen.contains(&(dynamic.leaf, dynamic.subleaf, dynamic.reg, dynamic.bit)),
                "dynamic bit must not be a feature"
            );
        }
    }

    #[test]
    fn discriminants_match_table_index() {
        for (i, f) in FEATURES.iter().enumerate() {
            assert_eq!(f.feature as usize, i, "{}", f.name);
            assert_eq!(f.feature.info().name, f.name);
        }
        assert_eq!(FEATURE_COUNT, FEATURES.len());
    }

    #[test]
    fn lookup_accepts_qemu_aliases() {
        assert_eq!(Feature::from_name("sse4_1"), Some(Feature::Sse4_1));
        assert_eq!(Feature::from_name("sse4-1"), Some(Feature::Sse4_1));
        assert_eq!(Feature::from_name("sse4.1"), Some(Feature::Sse4_1));
        assert_eq!(Feature::from_name("sse4_2"), Some(Feature::Sse4_2));
        assert_eq!(Feature::from_name("sse3"), Some(Feature::Sse3));
        assert_eq!(Feature::from_name("pni"), Some(Feature::Sse3));
        assert_eq!(Feature::from_name("pclmuldq"), Some(Feature::Pclmulqdq));
        assert_eq!(Feature::from_name("xd"), Some(Feature::Nx));
        assert_eq!(Feature::from_name("ffxsr"), Some(Feature::FxsrOpt));
        assert_eq!(Feature::from_name("fxsr_opt"), Some(Feature::FxsrOpt));
        assert_eq!(Feature::from_name("i64"), Some(Feature::Lm));
        assert_eq!(Feature::from_name("lahf_lm"), Some(Feature::LahfLm));
        assert_eq!(Feature::from_name("ds_cpl"), Some(Feature::DsCpl));
        assert_eq!(Feature::from_name("tsc_adjust"), Some(Feature::TscAdjust));
        assert_eq!(Feature::from_name("nrip_save"), Some(Feature::NripSave));
        assert_eq!(
            Feature::from_name("tsc-deadline"),
            Some(Feature::TscDeadline)
        );
        assert_eq!(Feature::from_name("ibrs"), Some(Feature::AmdIbrs));
        assert_eq!(Feature::from_name("osxsave"), None);
        assert_eq!(Feature::from_name("no-such-feature"), None);
        for (alias, _) in ALIASES {
            assert!(!alias.contains('_'), "alias `{alias}` is not normalised");
            assert!(FEATURES.iter().all(|f| f.name != *alias));
        }
    }

    #[test]
    fn spot_check_bits() {
        let at = |f: Feature| {
            let c = f.info().cpuid;
            (c.leaf, c.subleaf, c.reg, c.bit)
        };
        assert_eq!(at(Feature::Vmx), (1, 0, CpuidReg::Ecx, 5));
        assert_eq!(at(Feature::X2apic), (1, 0, CpuidReg::Ecx, 21));
        assert_eq!(at(Feature::La57), (7, 0, CpuidReg::Ecx, 16));
        assert_eq!(at(Feature::Pks), (7, 0, CpuidReg::Ecx, 31));
        assert_eq!(at(Feature::Lam), (7, 1, CpuidReg::Eax, 26));
        assert_eq!(at(Feature::ArchCapabilities), (7, 0, CpuidReg::Edx, 29));
        assert_eq!(at(Feature::Lm), (0x8000_0001, 0, CpuidReg::Edx, 29));
        assert_eq!(at(Feature::Svm), (0x8000_0001, 0, CpuidReg::Ecx, 2));
        assert_eq!(at(Feature::NripSave), (0x8000_000A, 0, CpuidReg::Edx, 3));
        assert_eq!(at(Feature::Invtsc), (0x8000_0007, 0, CpuidReg::Edx, 8));
        assert_eq!(at(Feature::VirtSsbd), (0x8000_0008, 0, CpuidReg::Ebx, 25));
    }

    #[test]
    fn amd_edx_aliases_are_1_edx_features() {
        for f in AMD_EDX_ALIASES {
            let c = f.info().cpuid;
            assert_eq!((c.leaf, c.subleaf, c.reg), (1, 0, CpuidReg::Edx));
        }
        // QEMU's CPUID_EXT2_AMD_ALIASES mask.
        let mask = AMD_EDX_ALIASES
            .iter()
            .fold(0u32, |m, f| m | 1 << f.info().cpuid.bit);
        assert_eq!(mask, 0x0183_F3FF);
    }

    #[test]
    fn cpuid_bits_builds_register() {
        let set = FeatureSet::from_slice(&[Feature::Fpu, Feature::Sse2, Feature::Sse3]);
        assert_eq!(set.cpuid_bits(1, 0, CpuidReg::Edx), 1 | 1 << 26);
        assert_eq!(set.cpuid_bits(1, 0, CpuidReg::Ecx), 1);
        assert_eq!(set.cpuid_bits(7, 0, CpuidReg::Ebx), 0);
    }
}
