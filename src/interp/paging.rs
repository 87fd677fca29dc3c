//! Page walks: 32-bit (with PSE/PSE-36), PAE, 4-level and 5-level paging
//! (SDM Vol. 3A Chapter 5 "Paging"; section numbers below are the 2024
//! edition's), with permission checks, accessed/dirty updates and #PF
//! error codes.

use super::cpu::Cpu;
use crate::machine::memory::GuestMemory;
use crate::state::{cr0, cr4, efer};

/// Kind of access being translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

/// #PF error-code bits (SDM 5.7, Figure 5-12).
pub mod pfec {
    pub const P: u32 = 1 << 0;
    pub const W: u32 = 1 << 1;
    pub const U: u32 = 1 << 2;
    pub const RSVD: u32 = 1 << 3;
    pub const ID: u32 = 1 << 4;
    pub const PK: u32 = 1 << 5;
}

const PTE_P: u64 = 1 << 0;
const PTE_W: u64 = 1 << 1;
const PTE_U: u64 = 1 << 2;
const PTE_A: u64 = 1 << 5;
const PTE_D: u64 = 1 << 6;
const PTE_PS: u64 = 1 << 7;
const PTE_G: u64 = 1 << 8;
const PTE_XD: u64 = 1 << 63;

/// A successful translation and the rights the whole walk grants, so the
/// TLB can be filled for other access kinds too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the accessed byte.
    pub pa: u64,
    /// Every level has U/S = 1 (a user-mode address).
    pub user: bool,
    /// Every level has R/W = 1.
    pub writable: bool,
    /// Some level has XD = 1 with EFER.NXE = 1.
    pub nx: bool,
    /// The leaf's dirty flag is (now) set.
    pub dirty: bool,
    pub global: bool,
    /// Protection key of the leaf (4-level/5-level paging only).
    pub pkey: u8,
}

/// Who performs the access, for the U/S checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requester {
    /// A user-mode access: CPL 3 and not an implicit supervisor access
    /// (descriptor tables, TSS, IDT are supervisor-mode accesses at any CPL).
    pub user: bool,
    /// An implicit supervisor-mode access (SMAP applies regardless of AC).
    pub implicit: bool,
}

/// A page fault: error code for the #PF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFault {
    pub error_code: u32,
}

fn pf(present: bool, acc: Access, req: Requester, extra: u32, cpu: &Cpu) -> PageFault {
    let mut ec = extra;
    if present {
        ec |= pfec::P;
    }
    if acc == Access::Write {
        ec |= pfec::W;
    }
    if req.user {
        ec |= pfec::U;
    }
    // I/D is reported for instruction fetches when NX or SMEP is enabled
    // (SDM 5.7).
    if acc == Access::Exec && (cpu.s.efer & efer::NXE != 0 || cpu.cr4(cr4::SMEP)) {
        ec |= pfec::ID;
    }
    PageFault { error_code: ec }
}

/// A PAE PDPTE with reserved bits set: the MOV to CR0/CR3/CR4 gets #GP(0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadPdpte;

/// Loads the four PAE PDPTEs from CR3 (SDM 5.4.1): a present entry with
/// reserved bits set makes the MOV to CR3/CR0/CR4 fault with #GP(0).
pub fn load_pdptes(mem: &GuestMemory, cr3: u64, phys_mask: u64) -> Result<[u64; 4], BadPdpte> {
    let base = cr3 & 0xFFFF_FFE0;
    let mut out = [0u64; 4];
    for (i, e) in out.iter_mut().enumerate() {
        let v = mem.read_u64(base + 8 * i as u64).unwrap_or(0);
        // Bits 2:1, 8:5 and 63:MAXPHYADDR are reserved in PDPTEs.
        let rsvd = 0x1E6 | !phys_mask;
        if v & PTE_P != 0 && v & rsvd != 0 {
            return Err(BadPdpte);
        }
        *e = v;
    }
    Ok(out)
}

/// Translates linear address `la` for access `acc` by `req`.
pub fn walk(
    cpu: &Cpu,
    mem: &GuestMemory,
    la: u64,
    acc: Access,
    req: Requester,
) -> Result<Translation, PageFault> {
    let s = &cpu.s;
    if s.cr.cr0 & cr0::PG == 0 {
        return Ok(Translation {
            pa: la & 0xFFFF_FFFF,
            user: true,
            writable: true,
            nx: false,
            dirty: true,
            global: false,
            pkey: 0,
        });
    }
    let phys_mask = cpu.model().phys_addr_mask();
    let nxe = s.efer & efer::NXE != 0;
    let pae = s.cr.cr4 & cr4::PAE != 0;
    let long = s.efer & efer::LMA != 0;

    // (entry address, entry value) of each level visited, for A/D updates.
    let mut visited: [(u64, u64, bool); 5] = [(0, 0, false); 5];
    let mut n = 0usize;
    let mut user = true;
    let mut writable = true;
    let mut nx = false;

    let (leaf_pa, leaf_entry, leaf_addr);
    if !pae {
        // 32-bit paging (SDM 5.3): 10 + 10 + 12 bits.
        let la = la & 0xFFFF_FFFF;
        let pde_addr = (s.cr.cr3 & 0xFFFF_F000) | ((la >> 22) << 2);
        let pde = u64::from(mem.read_u32(pde_addr).unwrap_or(0));
        if pde & PTE_P == 0 {
            return Err(pf(false, acc, req, 0, cpu));
        }
        user &= pde & PTE_U != 0;
        writable &= pde & PTE_W != 0;
        if pde & PTE_PS != 0 && s.cr.cr4 & cr4::PSE != 0 {
            // 4-MByte page; PSE-36 puts PA bits 39:32 in PDE bits 20:13
            // (up to MAXPHYADDR), bit 21 is reserved (SDM 5.3, Table 5-4).
            let hi = (pde >> 13) & 0xFF;
            let pa_hi_mask = (phys_mask >> 32) & 0xFF;
            if pde & (1 << 21) != 0 || hi & !pa_hi_mask != 0 {
                return Err(pf(true, acc, req, pfec::RSVD, cpu));
            }
            visited[n] = (pde_addr, pde, true);
            n += 1;
            leaf_pa = (pde & 0xFFC0_0000) | (hi << 32) | (la & 0x3F_FFFF);
            leaf_entry = pde;
            leaf_addr = pde_addr;
        } else {
            visited[n] = (pde_addr, pde, true);
            n += 1;
            let pte_addr = (pde & 0xFFFF_F000) | (((la >> 12) & 0x3FF) << 2);
            let pte = u64::from(mem.read_u32(pte_addr).unwrap_or(0));
            if pte & PTE_P == 0 {
                return Err(pf(false, acc, req, 0, cpu));
            }
            user &= pte & PTE_U != 0;
            writable &= pte & PTE_W != 0;
            visited[n] = (pte_addr, pte, true);
            n += 1;
            leaf_pa = (pte & 0xFFFF_F000) | (la & 0xFFF);
            leaf_entry = pte;
            leaf_addr = pte_addr;
        }
    } else {
        // Reserved bits common to every PAE/4-level/5-level entry: physical
        // address bits at or above MAXPHYADDR (up to bit 51 with IA-32e
        // paging, where 62:52 are ignored or the protection key; up to bit
        // 62 with PAE paging), and XD when EFER.NXE = 0 (SDM 5.4, 5.5).
        let top = if long {
            (1u64 << 52) - 1
        } else {
            (1u64 << 63) - 1
        };
        let rsvd_common = (!phys_mask & top) | if nxe { 0 } else { PTE_XD };
        let mut table;
        let mut level;
        if long {
            let la57 = s.cr.cr4 & cr4::LA57 != 0;
            level = if la57 { 5 } else { 4 };
            table = s.cr.cr3 & phys_mask & !0xFFF;
        } else {
            // PAE (SDM 5.4): the PDPTE registers select the page directory.
            let pdpte = cpu.pdptes[((la >> 30) & 3) as usize];
            if pdpte & PTE_P == 0 {
                return Err(pf(false, acc, req, 0, cpu));
            }
            level = 2;
            table = pdpte & phys_mask & !0xFFF;
        }
        loop {
            let shift = 12 + 9 * (level - 1);
            let addr = table | (((la >> shift) & 0x1FF) << 3);
            let e = mem.read_u64(addr).unwrap_or(0);
            if e & PTE_P == 0 {
                return Err(pf(false, acc, req, 0, cpu));
            }
            let mut rsvd = rsvd_common;
            let is_large = level <= 3 && e & PTE_PS != 0 && (level < 3 || long);
            if level >= 4 || (level == 3 && !long) {
                // PML5E/PML4E: PS is reserved.
                rsvd |= PTE_PS;
            }
            if level == 3
                && e & PTE_PS != 0
                && long
                && !cpu.model().has(crate::model::Feature::Pdpe1gb)
            {
                rsvd |= PTE_PS;
            }
            if is_large {
                // Large-page PA bits below the page size (above the PAT bit
                // 12) are reserved: 20:13 for 2 MiB, 29:13 for 1 GiB.
                rsvd |= ((1u64 << shift) - 1) & !0x1FFF;
            }
            if e & rsvd != 0 {
                return Err(pf(true, acc, req, pfec::RSVD, cpu));
            }
            user &= e & PTE_U != 0;
            writable &= e & PTE_W != 0;
            nx |= nxe && e & PTE_XD != 0;
            visited[n] = (addr, e, true);
            n += 1;
            if level == 1 || is_large {
                let page_mask = (1u64 << shift) - 1;
                leaf_pa = (e & phys_mask & !page_mask & !0xFFF) | (la & page_mask);
                leaf_entry = e;
                leaf_addr = addr;
                break;
            }
            table = e & phys_mask & !0xFFF;
            level -= 1;
        }
    }

    // Protection keys (SDM 5.6.2) apply to data accesses with 4/5-level
    // paging: PKRU to user-mode addresses, PKRS to supervisor-mode ones,
    // whatever the CPL.
    let pkey = if long {
        ((leaf_entry >> 59) & 0xF) as u8
    } else {
        0
    };
    let mut pk_err = 0;
    if long && acc != Access::Exec {
        let (enabled, rights) = if user {
            (s.cr.cr4 & cr4::PKE != 0, u64::from(s.fpu.pkru))
        } else {
            (s.cr.cr4 & cr4::PKS != 0, s.msrs.pkrs)
        };
        if enabled {
            let ad = (rights >> (2 * pkey)) & 1 != 0;
            let wd = (rights >> (2 * pkey + 1)) & 1 != 0;
            // WD stops user-mode writes, and supervisor-mode writes only
            // when CR0.WP = 1 (SDM 5.6.2, for PKRU and PKRS alike).
            let write_denied = wd && (req.user || s.cr.cr0 & cr0::WP != 0);
            if ad || (acc == Access::Write && write_denied) {
                pk_err = pfec::PK;
            }
        }
    }

    // Permission checks (SDM 5.6 "Access Rights"). The error code's PK
    // flag reports a protection-key violation even when another check
    // fails too (SDM 5.7.3: PK is set if the access "caused a
    // protection-key violation").
    let wp = s.cr.cr0 & cr0::WP != 0;
    let prot = |cpu: &Cpu| pf(true, acc, req, pk_err, cpu);
    if req.user && !user {
        return Err(prot(cpu));
    }
    match acc {
        Access::Write => {
            if !writable && (req.user || wp) {
                return Err(prot(cpu));
            }
        }
        Access::Exec => {
            if nx {
                return Err(prot(cpu));
            }
            if !req.user && user && s.cr.cr4 & cr4::SMEP != 0 {
                return Err(prot(cpu));
            }
        }
        Access::Read => {}
    }
    if !req.user && user && acc != Access::Exec && s.cr.cr4 & cr4::SMAP != 0 {
        // SMAP (SDM 5.6.1): supervisor data accesses to user-mode addresses
        // fault if implicit, or if EFLAGS.AC = 0.
        if req.implicit || cpu.rflags & crate::state::rflags::AC == 0 {
            return Err(prot(cpu));
        }
    }
    if pk_err != 0 {
        return Err(prot(cpu));
    }

    // Accessed flags on every level, dirty on the leaf for writes
    // (SDM 5.8). Updates are atomic in hardware; nestor runs one vCPU at a
    // time, so a read-modify-write suffices.
    let entry_size_8 = pae;
    for &(addr, e, _) in &visited[..n] {
        let mut new = e | PTE_A;
        if addr == leaf_addr && acc == Access::Write {
            new |= PTE_D;
        }
        if new != e {
            let _ = if entry_size_8 {
                mem.write_u64(addr, new)
            } else {
                mem.write_u32(addr, new as u32)
            };
        }
    }
    let dirty = leaf_entry & PTE_D != 0 || acc == Access::Write;
    Ok(Translation {
        pa: leaf_pa,
        user,
        writable,
        nx,
        dirty,
        global: leaf_entry & PTE_G != 0 && s.cr.cr4 & cr4::PGE != 0,
        pkey,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::testkit::{DATA, Harness, Mode};

    /// The PD entry mapping [`DATA`] in the test harness's page tables.
    const DATA_PDE: u64 = 0x5_0000 + 0x2000 + 8 * (DATA >> 21);

    /// Error codes of user accesses to a user page with protection key 1
    /// (SDM 5.6.2 and 5.7.3): PK is reported whenever the key denies the
    /// access, also when the R/W check fails as well (kvm-unit-tests
    /// access.c expects the same).
    #[test]
    fn protection_key_violation_sets_pk_with_other_violations() {
        // (PDE R/W, PKRU bits for key 1 (AD | WD << 1), access, error code)
        let cases: [(bool, u32, Access, Option<u32>); 8] = [
            (true, 0, Access::Write, None),
            (true, 0b01, Access::Read, Some(0x25)),
            (true, 0b01, Access::Write, Some(0x27)),
            (true, 0b10, Access::Read, None),
            (true, 0b10, Access::Write, Some(0x27)),
            (false, 0, Access::Write, Some(0x07)),
            (false, 0b01, Access::Write, Some(0x27)),
            (false, 0b10, Access::Write, Some(0x27)),
        ];
        for (rw, key1, acc, want) in cases {
            let mut h = Harness::new("max", Mode::Long64, &[0x90]);
            let pde = DATA | 0x85 | if rw { 2 } else { 0 } | 1 << 59;
            h.plat.mem.write_u64(DATA_PDE, pde).expect("pde");
            h.interp.cpu.s.cr.cr4 |= cr4::PKE;
            h.interp.cpu.s.cr.cr0 |= cr0::WP;
            h.interp.cpu.s.fpu.pkru = key1 << 2;
            let req = Requester {
                user: true,
                implicit: false,
            };
            let got = walk(&h.interp.cpu, &h.plat.mem, DATA + 8, acc, req)
                .err()
                .map(|f| f.error_code);
            assert_eq!(got, want, "rw={rw} pkru key1={key1:#b} {acc:?}");
        }
    }
}
