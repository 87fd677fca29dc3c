/*
 * fw_cfg: the QEMU firmware configuration interface at 0x510/0x511:
 * signature, ID, CPU count (= cpus=N argument), RAM size (consistent with
 * the multiboot memory info), file directory, reads past an item's end and
 * of a missing item.
 */
#include "libnest.h"

static u32 be32(u32 v) { return __builtin_bswap32(v); }
static u16 be16(u16 v) { return __builtin_bswap16(v); }

int main(int argc, char **argv)
{
	report(fw_cfg_present(), "signature \"QEMU\"");
	u32 id = 0;
	fw_cfg_read(FW_CFG_ID, &id, 4);
	report(id & 1, "ID: traditional interface (%x)", id);

	int cpus = fw_cfg_u16(FW_CFG_NB_CPUS);
	u64 want = arg_u64("cpus", 0);
	if (want)
		report(cpus == (int)want, "CPU count %d = %lu", cpus, want);
	else
		report(cpus >= 1, "CPU count %d", cpus);
	u16 maxc = fw_cfg_u16(FW_CFG_MAX_CPUS);
	report(maxc == 0 || maxc >= cpus, "max CPUs (%u) >= CPU count", maxc);

	u64 ram = fw_cfg_u64(FW_CFG_RAM_SIZE);
	report(ram >= (16ul << 20) && (ram & 0xfffff) == 0, "RAM size %lu MiB, a whole number of MiB", ram >> 20);
	u64 mb = arg_u64("mem", 0);
	if (mb)
		report(ram == mb << 20, "RAM size = mem=%lu MiB", mb);

	u8 sig[8];
	fw_cfg_read(FW_CFG_SIGNATURE, sig, 8);
	report(!memcmp(sig, "QEMU", 4) && !sig[4] && !sig[7], "reads past the end of an item return 0");
	u64 none = 0x1234;
	fw_cfg_read(0x7777, &none, 8);
	report(none == 0, "a missing item reads as 0");

	u32 count = 0;
	fw_cfg_read(FW_CFG_FILE_DIR, &count, 4);
	count = be32(count);
	report(count < 4096, "file directory: %u entries", count);
	bool names_ok = true;
	for (u32 i = 0; i < count && i < 64; i++) {
		struct {
			u32 size;
			u16 select, reserved;
			char name[56];
		} f;
		/* Re-select and skip to entry i (the data offset is sequential). */
		outw(FW_CFG_FILE_DIR, 0x510);
		for (u32 k = 0; k < 4 + 64 * i; k++)
			inb(0x511);
		for (u32 k = 0; k < sizeof(f); k++)
			((u8 *)&f)[k] = inb(0x511);
		names_ok &= f.name[55] == 0 && f.name[0] && be16(f.select) >= 0x20;
		if (i < 8)
			report_info("file %s: key %x, %u bytes", f.name, be16(f.select), be32(f.size));
	}
	report(names_ok, "file entries: NUL-terminated names, keys >= 0x20");
	return report_summary();
}
