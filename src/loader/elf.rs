//! A small ELF reader: just enough to load a kernel by its program headers.
//!
//! Sources: the System V ABI "gABI" chapter 4 (ELF header, "Object File
//! Format") and chapter 5 (program header, "Program Loading"), and the
//! i386 / x86-64 psABI supplements for the machine numbers. Only
//! little-endian ELF32 and ELF64 executables for EM_386 or EM_X86_64 are
//! accepted. Every field read from the file is bounds-checked: a corrupt or
//! truncated file gives a [`LoadError`] with one line naming the problem,
//! never a panic.

use super::LoadError;

/// `e_ident[EI_MAG0..4]`.
pub const ELF_MAGIC: [u8; 4] = [0x7F, b'E', b'L', b'F'];
/// `e_ident[EI_CLASS]`: 32-bit objects.
pub const ELFCLASS32: u8 = 1;
/// `e_ident[EI_CLASS]`: 64-bit objects.
pub const ELFCLASS64: u8 = 2;
/// `e_ident[EI_DATA]`: two's complement little-endian.
pub const ELFDATA2LSB: u8 = 1;
/// `e_version` / `e_ident[EI_VERSION]`: the only version.
pub const EV_CURRENT: u32 = 1;
/// `e_type`: executable file.
pub const ET_EXEC: u16 = 2;
/// `e_machine`: Intel 80386 (i386 psABI).
pub const EM_386: u16 = 3;
/// `e_machine`: AMD x86-64 (x86-64 psABI; also x32 in ELF32 files).
pub const EM_X86_64: u16 = 62;
/// `p_type`: loadable segment.
pub const PT_LOAD: u32 = 1;
/// `e_phnum` escape meaning "the real count is in section header 0".
const PN_XNUM: u16 = 0xFFFF;

/// ELF file class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfClass {
    /// ELFCLASS32: 32-bit addresses and offsets.
    Elf32,
    /// ELFCLASS64: 64-bit addresses and offsets.
    Elf64,
}

/// Layout of the header and program header of one class.
struct ClassLayout {
    ehdr_size: usize,
    phdr_size: usize,
}

const LAYOUT32: ClassLayout = ClassLayout {
    ehdr_size: 52,
    phdr_size: 32,
};
const LAYOUT64: ClassLayout = ClassLayout {
    ehdr_size: 64,
    phdr_size: 56,
};

/// One PT_LOAD program header, already checked against the file: its file
/// bytes are `file[offset .. offset + filesz]`, `filesz <= memsz`, and the
/// physical and virtual ranges do not wrap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadSegment {
    /// Index of the program header in the table (for messages).
    pub index: usize,
    /// `p_offset`: file offset of the segment's bytes.
    pub offset: u64,
    /// `p_vaddr`: virtual address of the first byte.
    pub vaddr: u64,
    /// `p_paddr`: physical address of the first byte (where it is loaded).
    pub paddr: u64,
    /// `p_filesz`: bytes taken from the file.
    pub filesz: u64,
    /// `p_memsz`: bytes in memory; those past `filesz` are zero (BSS).
    pub memsz: u64,
    /// `p_flags` (PF_X = 1, PF_W = 2, PF_R = 4).
    pub flags: u32,
}

impl LoadSegment {
    /// The segment's bytes in the file.
    pub fn data<'a>(&self, file: &'a [u8]) -> &'a [u8] {
        // The range was checked in `parse`; an empty slice is the safe
        // answer if the caller passes a different file.
        let start = usize::try_from(self.offset).ok();
        let end = self
            .offset
            .checked_add(self.filesz)
            .and_then(|e| usize::try_from(e).ok());
        start
            .zip(end)
            .and_then(|(a, b)| file.get(a..b))
            .unwrap_or(&[])
    }
}

/// What a loader needs from an ELF executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfImage {
    /// 32- or 64-bit file.
    pub class: ElfClass,
    /// `e_machine` ([`EM_386`] or [`EM_X86_64`]).
    pub machine: u16,
    /// `e_entry` (a virtual address).
    pub entry: u64,
    /// The PT_LOAD segments with a non-zero memory size, in file order.
    pub segments: Vec<LoadSegment>,
}

/// Does `file` start with the ELF magic?
pub fn is_elf(file: &[u8]) -> bool {
    file.starts_with(&ELF_MAGIC)
}

/// Little-endian field reads that fail instead of panicking.
struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, off: usize, what: &str) -> Result<[u8; N], LoadError> {
        off.checked_add(N)
            .and_then(|end| self.buf.get(off..end))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| {
                LoadError::new(format!(
                    "ELF file truncated: {what} at offset {off:#x} is past the end ({} bytes)",
                    self.buf.len()
                ))
            })
    }
    fn u8(&self, off: usize, what: &str) -> Result<u8, LoadError> {
        Ok(self.bytes::<1>(off, what)?[0])
    }
    fn u16(&self, off: usize, what: &str) -> Result<u16, LoadError> {
        Ok(u16::from_le_bytes(self.bytes(off, what)?))
    }
    fn u32(&self, off: usize, what: &str) -> Result<u32, LoadError> {
        Ok(u32::from_le_bytes(self.bytes(off, what)?))
    }
    fn u64(&self, off: usize, what: &str) -> Result<u64, LoadError> {
        Ok(u64::from_le_bytes(self.bytes(off, what)?))
    }
    /// A 32-bit field in ELF32, a 64-bit field in ELF64 ("address" or
    /// "offset" sized).
    fn word(&self, class: ElfClass, off: usize, what: &str) -> Result<u64, LoadError> {
        match class {
            ElfClass::Elf32 => self.u32(off, what).map(u64::from),
            ElfClass::Elf64 => self.u64(off, what),
        }
    }
}

/// Parses and validates the ELF header and program headers of `file`.
pub fn parse(file: &[u8]) -> Result<ElfImage, LoadError> {
    let r = Reader { buf: file };
    // gABI ch. 4 "ELF Identification" (e_ident).
    if !is_elf(file) {
        return Err(LoadError::new("not an ELF file (bad magic)"));
    }
    let class = match r.u8(4, "e_ident[EI_CLASS]")? {
        ELFCLASS32 => ElfClass::Elf32,
        ELFCLASS64 => ElfClass::Elf64,
        c => {
            return Err(LoadError::new(format!(
                "ELF header: unsupported class {c} (expected 1 = ELF32 or 2 = ELF64)"
            )));
        }
    };
    let data = r.u8(5, "e_ident[EI_DATA]")?;
    if data != ELFDATA2LSB {
        return Err(LoadError::new(format!(
            "ELF header: data encoding {data} is not little-endian (ELFDATA2LSB = 1)"
        )));
    }
    let ident_version = r.u8(6, "e_ident[EI_VERSION]")?;
    if u32::from(ident_version) != EV_CURRENT {
        return Err(LoadError::new(format!(
            "ELF header: unsupported e_ident version {ident_version} (expected 1)"
        )));
    }
    let layout = match class {
        ElfClass::Elf32 => &LAYOUT32,
        ElfClass::Elf64 => &LAYOUT64,
    };
    if file.len() < layout.ehdr_size {
        return Err(LoadError::new(format!(
            "ELF file truncated: the {}-byte ELF header does not fit in {} bytes",
            layout.ehdr_size,
            file.len()
        )));
    }
    // gABI ch. 4 "ELF Header": field offsets differ between the classes
    // only from e_entry on (e_entry, e_phoff, e_shoff are word-sized).
    let e_type = r.u16(16, "e_type")?;
    if e_type != ET_EXEC {
        return Err(LoadError::new(format!(
            "ELF header: type {e_type} is not an executable (ET_EXEC = 2)"
        )));
    }
    let machine = r.u16(18, "e_machine")?;
    let machine_ok = match class {
        ElfClass::Elf32 => machine == EM_386 || machine == EM_X86_64,
        ElfClass::Elf64 => machine == EM_X86_64,
    };
    if !machine_ok {
        return Err(LoadError::new(format!(
            "ELF header: machine {machine} is not x86 (EM_386 = 3 for ELF32, EM_X86_64 = 62)"
        )));
    }
    let version = r.u32(20, "e_version")?;
    if version != EV_CURRENT {
        return Err(LoadError::new(format!(
            "ELF header: unsupported version {version} (expected 1)"
        )));
    }
    let (entry, phoff, phentsize_off, phnum_off) = match class {
        ElfClass::Elf32 => (
            r.word(class, 24, "e_entry")?,
            r.word(class, 28, "e_phoff")?,
            42,
            44,
        ),
        ElfClass::Elf64 => (
            r.word(class, 24, "e_entry")?,
            r.word(class, 32, "e_phoff")?,
            54,
            56,
        ),
    };
    let phentsize = r.u16(phentsize_off, "e_phentsize")?;
    let phnum = r.u16(phnum_off, "e_phnum")?;
    if phnum == 0 {
        return Err(LoadError::new(
            "ELF header: no program headers (e_phnum = 0)",
        ));
    }
    if phnum == PN_XNUM {
        return Err(LoadError::new(
            "ELF header: extended program header numbering (e_phnum = 0xFFFF) is not supported",
        ));
    }
    if usize::from(phentsize) < layout.phdr_size {
        return Err(LoadError::new(format!(
            "ELF header: program header entry size {phentsize} is smaller than {}",
            layout.phdr_size
        )));
    }
    let table_len = u64::from(phentsize) * u64::from(phnum);
    let table_end = phoff.checked_add(table_len);
    if table_end.is_none_or(|end| end > file.len() as u64) {
        return Err(LoadError::new(format!(
            "ELF file truncated: program header table at offset {phoff:#x} ({phnum} entries of \
             {phentsize} bytes) extends past the end of the file ({} bytes)",
            file.len()
        )));
    }
    // Fits in the file, so it fits in usize.
    let phoff = phoff as usize;

    let mut segments = Vec::new();
    for i in 0..usize::from(phnum) {
        let base = phoff + i * usize::from(phentsize);
        if let Some(seg) = parse_phdr(&r, class, base, i, file.len() as u64)? {
            segments.push(seg);
        }
    }
    if segments.is_empty() {
        return Err(LoadError::new(
            "ELF file has no loadable (PT_LOAD) segment with a non-zero size",
        ));
    }
    Ok(ElfImage {
        class,
        machine,
        entry,
        segments,
    })
}

/// One program header (gABI ch. 5 "Program Header"); `None` if it is not a
/// PT_LOAD segment that occupies memory.
fn parse_phdr(
    r: &Reader,
    class: ElfClass,
    base: usize,
    index: usize,
    file_len: u64,
) -> Result<Option<LoadSegment>, LoadError> {
    let p_type = r.u32(base, "p_type")?;
    if p_type != PT_LOAD {
        return Ok(None);
    }
    // ELF32: type, offset, vaddr, paddr, filesz, memsz, flags, align (4 bytes
    // each). ELF64: type, flags (4 bytes), then offset, vaddr, paddr,
    // filesz, memsz, align (8 bytes each).
    let (offset, vaddr, paddr, filesz, memsz, flags) = match class {
        ElfClass::Elf32 => (
            r.word(class, base + 4, "p_offset")?,
            r.word(class, base + 8, "p_vaddr")?,
            r.word(class, base + 12, "p_paddr")?,
            r.word(class, base + 16, "p_filesz")?,
            r.word(class, base + 20, "p_memsz")?,
            r.u32(base + 24, "p_flags")?,
        ),
        ElfClass::Elf64 => (
            r.word(class, base + 8, "p_offset")?,
            r.word(class, base + 16, "p_vaddr")?,
            r.word(class, base + 24, "p_paddr")?,
            r.word(class, base + 32, "p_filesz")?,
            r.word(class, base + 40, "p_memsz")?,
            r.u32(base + 4, "p_flags")?,
        ),
    };
    if filesz > memsz {
        return Err(LoadError::new(format!(
            "ELF program header {index}: file size {filesz:#x} is larger than memory size {memsz:#x}"
        )));
    }
    if offset.checked_add(filesz).is_none_or(|end| end > file_len) {
        return Err(LoadError::new(format!(
            "ELF program header {index}: segment data at offset {offset:#x} ({filesz:#x} bytes) \
             extends past the end of the file ({file_len} bytes)"
        )));
    }
    let limit = match class {
        ElfClass::Elf32 => 1u128 << 32,
        ElfClass::Elf64 => 1u128 << 64,
    };
    for (what, addr) in [("physical", paddr), ("virtual", vaddr)] {
        if u128::from(addr) + u128::from(memsz) > limit {
            return Err(LoadError::new(format!(
                "ELF program header {index}: {what} range {addr:#x} + {memsz:#x} wraps around \
                 the address space"
            )));
        }
    }
    if memsz == 0 {
        return Ok(None);
    }
    Ok(Some(LoadSegment {
        index,
        offset,
        vaddr,
        paddr,
        filesz,
        memsz,
        flags,
    }))
}

impl ElfImage {
    /// The entry point as a physical address: `e_entry` translated through
    /// the PT_LOAD segment whose virtual range contains it (as GRUB does for
    /// kernels linked with p_vaddr != p_paddr); unchanged if no segment
    /// contains it.
    pub fn physical_entry(&self) -> u64 {
        self.segments
            .iter()
            .find(|s| self.entry >= s.vaddr && self.entry - s.vaddr < s.memsz)
            .map_or(self.entry, |s| s.paddr + (self.entry - s.vaddr))
    }
}
