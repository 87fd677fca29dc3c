//! Multiboot v1 (Multiboot Specification version 0.6.96).
//!
//! - Section 3.1.1 "The layout of Multiboot header": the header is found in
//!   the first 8192 bytes of the image, 32-bit aligned.
//! - Section 3.1.2 "The magic fields of Multiboot header": magic, flags,
//!   checksum; flag bits 0–15 are requirements (a loader that cannot honour
//!   one must refuse the image), bits 16–31 optional.
//! - Section 3.1.3 "The address fields of Multiboot header" (flag 16).
//! - Section 3.2 "Machine state": the register state at entry.
//! - Section 3.3 "Boot information format": the MBI.
//!
//! Placement. Image segments must lie in RAM and outside the EBDA/VGA/BIOS
//! area 0x9FC00–0xFFFFF (where the ACPI tables go). The module (initrd)
//! goes page-aligned just above the image (QEMU does the same). The boot
//! information block — MBI, a small GDT, the module list, the memory map and
//! the strings — goes at 0x9000 like QEMU's (kvm-unit-tests allocates pages
//! from the end of its image upwards, so low memory is the safe place);
//! if the image covers that, the first free page of conventional memory
//! above page 0, else the first free page above 1 MiB. Page 0 is never used
//! (kvm-unit-tests copies its AP trampoline there).

use super::LoadError;
use super::elf;
use crate::apic;
use crate::firmware::memmap::{self, EBDA_BASE, UPPER_MEM_BASE};
use crate::machine::layout::{BIOS_AREA_END, HIGH_RAM_BASE};
use crate::machine::memory::{GuestMemory, PAGE_SIZE};
use crate::state::segment::ar;
use crate::state::{DescriptorTable, SegReg, Segment, VcpuState, cr0, gpr};

/// Header magic (section 3.1.2).
pub const HEADER_MAGIC: u32 = 0x1BAD_B002;
/// EAX at entry (section 3.2).
pub const BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;
/// The header must be within this many bytes of the start (section 3.1.1).
pub const SEARCH_LEN: usize = 8192;
/// The boot loader name reported in the MBI.
pub const BOOT_LOADER_NAME: &str = "nestor";
/// Preferred address of the boot information block (QEMU's MBI address).
pub const INFO_PREFERRED_ADDR: u64 = 0x9000;

/// Multiboot header flags (section 3.1.2).
pub mod header_flags {
    /// Modules must be page aligned (nestor always aligns them).
    pub const PAGE_ALIGN: u32 = 1 << 0;
    /// mem_* fields (and the memory map) must be provided (always are).
    pub const MEMORY_INFO: u32 = 1 << 1;
    /// Video mode table requested: ignored, nestor has no display; the MBI
    /// does not set its VBE/framebuffer flags, which tells the kernel that
    /// no video information is present.
    pub const VIDEO_MODE: u32 = 1 << 2;
    /// The address fields at offsets 12–28 are valid (a.out kludge).
    pub const ADDRESS: u32 = 1 << 16;
    /// Required bits (0–15) that nestor honours or may ignore.
    pub const SUPPORTED_REQUIRED: u32 = PAGE_ALIGN | MEMORY_INFO | VIDEO_MODE;
}

/// MBI `flags` bits (section 3.3).
pub mod info_flags {
    /// `mem_lower` / `mem_upper` are valid.
    pub const MEMORY: u32 = 1 << 0;
    /// `cmdline` is valid.
    pub const CMDLINE: u32 = 1 << 2;
    /// `mods_count` / `mods_addr` are valid.
    pub const MODS: u32 = 1 << 3;
    /// `mmap_length` / `mmap_addr` are valid.
    pub const MMAP: u32 = 1 << 6;
    /// `boot_loader_name` is valid.
    pub const BOOT_LOADER_NAME: u32 = 1 << 9;
}

/// Byte offsets inside the boot information block. The MBI offsets are
/// those of section 3.3; the rest is nestor's layout.
pub mod mbi {
    /// `flags`: which fields are valid ([`super::info_flags`]).
    pub const FLAGS: u64 = 0;
    /// `mem_lower`: KiB of memory from 0.
    pub const MEM_LOWER: u64 = 4;
    /// `mem_upper`: KiB of memory from 1 MiB to the first hole.
    pub const MEM_UPPER: u64 = 8;
    /// `cmdline`: physical address of the NUL-terminated command line.
    pub const CMDLINE: u64 = 16;
    /// `mods_count`: number of modules.
    pub const MODS_COUNT: u64 = 20;
    /// `mods_addr`: physical address of the module list.
    pub const MODS_ADDR: u64 = 24;
    /// `mmap_length`: bytes of memory map.
    pub const MMAP_LENGTH: u64 = 44;
    /// `mmap_addr`: physical address of the memory map.
    pub const MMAP_ADDR: u64 = 48;
    /// `boot_loader_name`: physical address of the NUL-terminated name.
    pub const BOOT_LOADER_NAME: u64 = 64;
    /// Space kept for the MBI (the 0.6.96 structure ends at 116).
    pub const SIZE: u64 = 0x80;
    /// A flat GDT (null, null, code 0x10, data 0x18) follows the MBI; the
    /// entry state's GDTR points here.
    pub const GDT: u64 = SIZE;
    /// Bytes of GDT (four descriptors).
    pub const GDT_SIZE: u64 = 4 * 8;
    /// The module list (one 16-byte entry: start, end, string, reserved).
    pub const MODULE: u64 = GDT + GDT_SIZE;
    /// Bytes of the module entry.
    pub const MODULE_SIZE: u64 = 16;
    /// The memory map (section 3.3 "mmap_*": 24-byte entries whose `size`
    /// field of 20 does not count itself).
    pub const MMAP: u64 = MODULE + MODULE_SIZE;
    /// Bytes per memory map entry, including its `size` field.
    pub const MMAP_ENTRY_SIZE: u64 = 24;
}

/// Conventional memory reported in `mem_lower`, in KiB: up to the EBDA, as
/// a PC BIOS reports through INT 12h, consistent with the memory map.
pub const MEM_LOWER_KIB: u32 = (EBDA_BASE / 1024) as u32;

/// Entry-state CS selector, matching the GDT in the boot information block.
pub const CODE_SELECTOR: u16 = 0x10;
/// Entry-state DS/ES/FS/GS/SS selector, matching that GDT.
pub const DATA_SELECTOR: u16 = 0x18;
/// Flat 4 GiB 32-bit descriptors (type 0xB / 0x3 = accessed, G = D = 1).
const GDT_CODE: u64 = 0x00CF_9B00_0000_FFFF;
const GDT_DATA: u64 = 0x00CF_9300_0000_FFFF;

/// The multiboot header address fields (section 3.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressFields {
    /// Physical address the header's magic is loaded at.
    pub header_addr: u32,
    /// Physical address of the first byte loaded (the text segment).
    pub load_addr: u32,
    /// End of the bytes taken from the file; 0 = to the end of the file.
    pub load_end_addr: u32,
    /// End of the BSS (zeroed after the loaded bytes); 0 = no BSS.
    pub bss_end_addr: u32,
    /// Physical entry point.
    pub entry_addr: u32,
}

/// A validated multiboot header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultibootHeader {
    /// File offset of the magic.
    pub offset: usize,
    /// The header's `flags` ([`header_flags`]).
    pub flags: u32,
    /// Present when flag 16 is set.
    pub address: Option<AddressFields>,
}

/// A boot module: its bytes and its string (module command line).
#[derive(Clone, Copy, Debug)]
pub struct Module<'a> {
    /// The module's contents.
    pub data: &'a [u8],
    /// Its string (the MBI module entry's `string`; no NUL bytes).
    pub string: &'a str,
}

/// Where a loaded multiboot kernel starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootInfo {
    /// Physical entry point (EIP).
    pub entry: u64,
    /// Physical address of the MBI (EBX).
    pub mbi_addr: u64,
    /// End of the loaded image including BSS (exclusive physical address).
    pub image_end: u64,
}

fn le32(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off.checked_add(4)?)?
        .try_into()
        .ok()
        .map(u32::from_le_bytes)
}

/// Finds and validates the multiboot header of `image`.
pub fn find_header(image: &[u8]) -> Result<MultibootHeader, LoadError> {
    let window = &image[..image.len().min(SEARCH_LEN)];
    let mut bad_checksum = None;
    for off in (0..window.len().saturating_sub(11)).step_by(4) {
        if le32(window, off) != Some(HEADER_MAGIC) {
            continue;
        }
        let (Some(flags), Some(checksum)) = (le32(window, off + 4), le32(window, off + 8)) else {
            continue;
        };
        let sum = HEADER_MAGIC.wrapping_add(flags).wrapping_add(checksum);
        if sum != 0 {
            bad_checksum.get_or_insert((off, sum));
            continue;
        }
        return validate_header(window, off, flags);
    }
    Err(match bad_checksum {
        Some((off, sum)) => LoadError::new(format!(
            "multiboot header at offset {off:#x}: bad checksum (magic + flags + checksum = \
             {sum:#x}, not 0)"
        )),
        None => LoadError::new(format!(
            "no multiboot header (magic {HEADER_MAGIC:#x}, 4-byte aligned) in the first \
             {SEARCH_LEN} bytes"
        )),
    })
}

fn validate_header(window: &[u8], off: usize, flags: u32) -> Result<MultibootHeader, LoadError> {
    let unsupported = flags & 0xFFFF & !header_flags::SUPPORTED_REQUIRED;
    if unsupported != 0 {
        return Err(LoadError::new(format!(
            "multiboot header at offset {off:#x}: requires unsupported features (flag bits \
             {unsupported:#x})"
        )));
    }
    let address = if flags & header_flags::ADDRESS != 0 {
        let field = |i: usize| {
            le32(window, off + 12 + 4 * i).ok_or_else(|| {
                LoadError::new(format!(
                    "multiboot header at offset {off:#x}: address fields (flag 16) extend past \
                     the end of the file or the first {SEARCH_LEN} bytes"
                ))
            })
        };
        Some(AddressFields {
            header_addr: field(0)?,
            load_addr: field(1)?,
            load_end_addr: field(2)?,
            bss_end_addr: field(3)?,
            entry_addr: field(4)?,
        })
    } else {
        None
    };
    Ok(MultibootHeader {
        offset: off,
        flags,
        address,
    })
}

/// One piece of the image to copy into guest memory.
struct Piece<'a> {
    what: String,
    paddr: u64,
    data: &'a [u8],
    memsz: u64,
}

/// The image's pieces and entry point, by the address fields (flag 16).
fn pieces_from_address_fields<'a>(
    image: &'a [u8],
    hdr: &MultibootHeader,
    a: &AddressFields,
) -> Result<(Vec<Piece<'a>>, u64), LoadError> {
    let err = |msg: String| LoadError::new(format!("multiboot address fields: {msg}"));
    if a.load_addr > a.header_addr {
        return Err(err(format!(
            "load_addr {:#x} is above header_addr {:#x}",
            a.load_addr, a.header_addr
        )));
    }
    let start = (hdr.offset as u64)
        .checked_sub(u64::from(a.header_addr - a.load_addr))
        .ok_or_else(|| {
            err(format!(
                "header_addr - load_addr = {:#x} is more than the header's file offset {:#x}",
                a.header_addr - a.load_addr,
                hdr.offset
            ))
        })?;
    let file_len = image.len() as u64;
    let load_len = if a.load_end_addr == 0 {
        file_len - start
    } else if a.load_end_addr < a.load_addr {
        return Err(err(format!(
            "load_end_addr {:#x} is below load_addr {:#x}",
            a.load_end_addr, a.load_addr
        )));
    } else {
        u64::from(a.load_end_addr - a.load_addr)
    };
    if start + load_len > file_len {
        return Err(err(format!(
            "{load_len:#x} bytes to load from file offset {start:#x} extend past the end of \
             the file ({file_len} bytes)"
        )));
    }
    let load_end = u64::from(a.load_addr) + load_len;
    let memsz = if a.bss_end_addr == 0 {
        load_len
    } else if u64::from(a.bss_end_addr) < load_end {
        return Err(err(format!(
            "bss_end_addr {:#x} is below the end of the loaded text/data {load_end:#x}",
            a.bss_end_addr
        )));
    } else {
        u64::from(a.bss_end_addr) - u64::from(a.load_addr)
    };
    let data = image
        .get(start as usize..(start + load_len) as usize)
        .ok_or_else(|| {
            err(format!(
                "file range {start:#x}+{load_len:#x} is not in the file"
            ))
        })?;
    let piece = Piece {
        what: "the image (multiboot address fields)".into(),
        paddr: u64::from(a.load_addr),
        data,
        memsz,
    };
    Ok((vec![piece], u64::from(a.entry_addr)))
}

/// The image's pieces and entry point, by its ELF program headers.
fn pieces_from_elf(image: &[u8]) -> Result<(Vec<Piece<'_>>, u64), LoadError> {
    let elf = elf::parse(image)?;
    let pieces = elf
        .segments
        .iter()
        .map(|s| Piece {
            what: format!("ELF program header {}", s.index),
            paddr: s.paddr,
            data: s.data(image),
            memsz: s.memsz,
        })
        .collect();
    Ok((pieces, elf.physical_entry()))
}

/// Is `[start, start + len)` inside one RAM region of `mem`?
fn ram_contains(mem: &GuestMemory, start: u64, len: u64) -> bool {
    let Some(end) = start.checked_add(len) else {
        return false;
    };
    end <= mem.low_ram() || (start >= HIGH_RAM_BASE && end - HIGH_RAM_BASE <= mem.high_ram())
}

fn write(mem: &GuestMemory, addr: u64, data: &[u8]) -> Result<(), LoadError> {
    mem.write(addr, data)
        .map_err(|e| LoadError::new(format!("cannot write guest memory at {:#x}: not RAM", e.0)))
}

/// Writes `len` zero bytes at `addr` (BSS).
fn zero(mem: &GuestMemory, addr: u64, len: u64) -> Result<(), LoadError> {
    const CHUNK: u64 = 64 * 1024;
    let zeros = [0u8; CHUNK as usize];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(CHUNK);
        write(mem, addr + done, &zeros[..n as usize])?;
        done += n;
    }
    Ok(())
}

fn align_up(x: u64) -> Option<u64> {
    Some(x.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

/// The lowest page-aligned address `>= from` where `len` bytes fit in one
/// of `regions` without touching any `busy` range.
fn find_free(len: u64, from: u64, regions: &[(u64, u64)], busy: &[(u64, u64)]) -> Option<u64> {
    for &(rs, re) in regions {
        let mut a = align_up(rs.max(from))?;
        while let Some(end) = a.checked_add(len).filter(|&e| e <= re) {
            // A zero-length block still needs its address to be free.
            let probe_end = end.max(a + 1);
            match busy.iter().find(|b| a < b.1 && b.0 < probe_end) {
                Some(b) => a = align_up(b.1)?,
                None => return Some(a),
            }
        }
    }
    None
}

/// Loads the multiboot kernel `image` and builds its boot information.
/// See the module documentation for where everything goes.
pub fn load_multiboot(
    mem: &GuestMemory,
    image: &[u8],
    cmdline: &str,
    module: Option<Module>,
) -> Result<BootInfo, LoadError> {
    let hdr = find_header(image)?;
    let (pieces, entry) = match &hdr.address {
        Some(a) => pieces_from_address_fields(image, &hdr, a)?,
        None if elf::is_elf(image) => pieces_from_elf(image)?,
        None => {
            return Err(LoadError::new(
                "not an ELF file and the multiboot header has no address fields (flag 16)",
            ));
        }
    };
    if entry >= 1 << 32 {
        return Err(LoadError::new(format!(
            "entry point {entry:#x} is not reachable from 32-bit protected mode (above 4 GiB)"
        )));
    }
    if cmdline.contains('\0') {
        return Err(LoadError::new("command line contains a NUL byte"));
    }
    if module.is_some_and(|m| m.string.contains('\0')) {
        return Err(LoadError::new("module string contains a NUL byte"));
    }

    // Check every piece before writing anything.
    let mut busy = Vec::new();
    let mut image_end = 0;
    for p in pieces.iter().filter(|p| p.memsz > 0) {
        let end = p.paddr.saturating_add(p.memsz);
        if !ram_contains(mem, p.paddr, p.memsz) {
            return Err(LoadError::new(format!(
                "{}: {:#x}–{:#x} is outside guest RAM (RAM: 0–{:#x}{})",
                p.what,
                p.paddr,
                end,
                mem.low_ram(),
                if mem.high_ram() > 0 {
                    format!(", {HIGH_RAM_BASE:#x}–{:#x}", HIGH_RAM_BASE + mem.high_ram())
                } else {
                    String::new()
                }
            )));
        }
        if p.paddr < BIOS_AREA_END && EBDA_BASE < end {
            return Err(LoadError::new(format!(
                "{}: {:#x}–{:#x} overlaps the BIOS area {EBDA_BASE:#x}–{BIOS_AREA_END:#x}",
                p.what, p.paddr, end
            )));
        }
        busy.push((p.paddr, end));
        image_end = image_end.max(end);
    }
    for p in pieces.iter().filter(|p| p.memsz > 0) {
        write(mem, p.paddr, p.data)?;
        zero(
            mem,
            p.paddr + p.data.len() as u64,
            p.memsz - p.data.len() as u64,
        )?;
    }

    let regions = memmap::loader_ram_below_4g(mem);
    // The module: page aligned just above the image, else anywhere free.
    let module_at = match &module {
        Some(m) => {
            let len = m.data.len() as u64;
            let at = find_free(len, image_end, &regions, &busy)
                .or_else(|| find_free(len, 0, &regions, &busy))
                .ok_or_else(|| {
                    LoadError::new(format!(
                        "the module ({len} bytes) does not fit in free RAM below 4 GiB"
                    ))
                })?;
            write(mem, at, m.data)?;
            busy.push((at, at + len));
            Some((at, at + len))
        }
        None => None,
    };

    let module_string = module.as_ref().map(|m| m.string);
    let len = info_block_len(mem, cmdline, module_string);
    let low: Vec<(u64, u64)> = regions
        .iter()
        .copied()
        .filter(|r| r.1 <= EBDA_BASE)
        .collect();
    let info_at = find_free(len, INFO_PREFERRED_ADDR, &low, &busy)
        .or_else(|| find_free(len, 0, &low, &busy))
        .or_else(|| find_free(len, UPPER_MEM_BASE, &regions, &busy))
        .ok_or_else(|| {
            LoadError::new(format!(
                "the boot information ({len} bytes) does not fit in free RAM below 4 GiB"
            ))
        })?;
    let info = build_info_block(mem, info_at, cmdline, module_string, module_at);
    write(mem, info_at, &info)?;
    Ok(BootInfo {
        entry,
        mbi_addr: info_at,
        image_end,
    })
}

/// Size of the boot information block: MBI, GDT, module entry, memory map,
/// then the boot loader name, command line and module string (with NULs).
fn info_block_len(mem: &GuestMemory, cmdline: &str, module: Option<&str>) -> u64 {
    let map_len = memmap::memory_map(mem).len() as u64 * mbi::MMAP_ENTRY_SIZE;
    let strings = BOOT_LOADER_NAME.len() + cmdline.len() + module.map_or(0, str::len) + 3;
    mbi::MMAP + map_len + strings as u64
}

/// Builds the boot information block for physical address `base` (below
/// 4 GiB, as are the module's `[start, end)`).
fn build_info_block(
    mem: &GuestMemory,
    base: u64,
    cmdline: &str,
    module: Option<&str>,
    module_range: Option<(u64, u64)>,
) -> Vec<u8> {
    let map = memmap::memory_map(mem);
    let mmap_len = map.len() as u64 * mbi::MMAP_ENTRY_SIZE;
    let mut b = vec![0u8; (mbi::MMAP + mmap_len) as usize];
    let put32 = |b: &mut Vec<u8>, off: u64, v: u32| {
        b[off as usize..off as usize + 4].copy_from_slice(&v.to_le_bytes());
    };
    let put64 = |b: &mut Vec<u8>, off: u64, v: u64| {
        b[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes());
    };
    // Addresses in the MBI are 32-bit; the block and the module are below
    // 4 GiB (the placement regions are).
    let abs = |off: u64| (base + off) as u32;
    let push_str = |b: &mut Vec<u8>, s: &str| {
        let at = abs(b.len() as u64);
        b.extend_from_slice(s.as_bytes());
        b.push(0);
        at
    };
    let name_at = push_str(&mut b, BOOT_LOADER_NAME);
    let cmdline_at = push_str(&mut b, cmdline);

    // Section 3.3: mem_lower, and mem_upper = KiB from 1 MiB up to the
    // first hole, i.e. the end of RAM below the PCI hole.
    let mut flags =
        info_flags::MEMORY | info_flags::CMDLINE | info_flags::MMAP | info_flags::BOOT_LOADER_NAME;
    put32(&mut b, mbi::MEM_LOWER, MEM_LOWER_KIB);
    let upper_kib = (mem.low_ram().saturating_sub(UPPER_MEM_BASE) / 1024) as u32;
    put32(&mut b, mbi::MEM_UPPER, upper_kib);
    put32(&mut b, mbi::CMDLINE, cmdline_at);
    put32(&mut b, mbi::BOOT_LOADER_NAME, name_at);
    // "mods": one entry (mod_start, mod_end exclusive, string, reserved).
    if let (Some(string), Some((start, end))) = (module, module_range) {
        flags |= info_flags::MODS;
        let string_at = push_str(&mut b, string);
        put32(&mut b, mbi::MODS_COUNT, 1);
        put32(&mut b, mbi::MODS_ADDR, abs(mbi::MODULE));
        put32(&mut b, mbi::MODULE, start as u32);
        put32(&mut b, mbi::MODULE + 4, end as u32);
        put32(&mut b, mbi::MODULE + 8, string_at);
    }
    // "mmap": `size` (20, not counting itself), base_addr, length, type.
    put32(&mut b, mbi::MMAP_LENGTH, mmap_len as u32);
    put32(&mut b, mbi::MMAP_ADDR, abs(mbi::MMAP));
    for (i, r) in map.iter().enumerate() {
        let e = mbi::MMAP + i as u64 * mbi::MMAP_ENTRY_SIZE;
        put32(&mut b, e, (mbi::MMAP_ENTRY_SIZE - 4) as u32);
        put64(&mut b, e + 4, r.base);
        put64(&mut b, e + 12, r.len);
        put32(&mut b, e + 20, r.kind as u32);
    }
    put32(&mut b, mbi::FLAGS, flags);
    // The flat GDT (descriptor format of SDM Vol. 3A 3.4.5).
    put64(&mut b, mbi::GDT + u64::from(CODE_SELECTOR), GDT_CODE);
    put64(&mut b, mbi::GDT + u64::from(DATA_SELECTOR), GDT_DATA);
    b
}

/// Puts `state` (a BSP after RESET) into the multiboot machine state of
/// section 3.2: 32-bit protected mode with paging off, flat 4 GiB CS
/// (0x10) and DS/ES/FS/GS/SS (0x18), EFLAGS = 2 (IF = VM = 0), EAX =
/// 0x2BADB002, EBX = the MBI, EIP = the entry point.
///
/// The spec leaves GDTR and IDTR undefined. GDTR points at the flat GDT in
/// the boot information block (selectors match it, so a kernel that reloads
/// segments before loading its own GDT still works); IDTR has limit 0, so
/// an exception before the kernel installs an IDT shuts the CPU down
/// (triple fault) instead of running garbage. kvm-unit-tests loads its own
/// GDT and IDT immediately. ESP is undefined too and left at 0.
///
/// Also does what firmware would have done: IA32_APIC_BASE gets its global
/// enable bit (on AMD models RESET leaves the local APIC disabled).
pub fn multiboot_entry_state(state: &mut VcpuState, boot: &BootInfo) {
    // CR0: PE (and ET, which is fixed to 1); paging and caching controls
    // clear as a BIOS leaves them. EFER = 0 and CR4 = 0: no long mode, no PAE.
    state.cr.cr0 = cr0::PE | cr0::ET;
    state.cr.cr4 = 0;
    state.efer = 0;
    state.rflags = 0x2;
    state.rip = boot.entry;
    state.gpr[gpr::RAX] = u64::from(BOOTLOADER_MAGIC);
    state.gpr[gpr::RBX] = boot.mbi_addr;

    let code = ar::P | ar::S | ar::CODE | ar::RW | ar::ACCESSED | ar::DB | ar::G;
    let data = ar::P | ar::S | ar::RW | ar::ACCESSED | ar::DB | ar::G;
    *state.seg_mut(SegReg::Cs) = Segment::new(CODE_SELECTOR, 0, 0xFFFF_FFFF, code);
    for sr in [SegReg::Ds, SegReg::Es, SegReg::Fs, SegReg::Gs, SegReg::Ss] {
        *state.seg_mut(sr) = Segment::new(DATA_SELECTOR, 0, 0xFFFF_FFFF, data);
    }
    state.gdtr = DescriptorTable {
        base: boot.mbi_addr + mbi::GDT,
        limit: (mbi::GDT_SIZE - 1) as u16,
    };
    state.idtr = DescriptorTable { base: 0, limit: 0 };
    // A model without a local APIC has IA32_APIC_BASE = 0: leave it.
    if state.msrs.apic_base != 0 {
        state.msrs.apic_base |= apic::base::EN;
    }
}
