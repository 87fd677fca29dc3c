/*
 * pci: configuration mechanism #1, enumeration of bus 0, the host bridge,
 * and pci-testdev (1b36:0005): IDs, class, header type, BAR types and sizes
 * (found by writing all-ones). SKIPs the pci-testdev part without one.
 */
#include "libnest.h"

int main(int argc, char **argv)
{
	outl(0x80000000, 0xcf8);
	report(inl(0xcf8) == 0x80000000, "CONFIG_ADDRESS reads back");
	u32 id0 = pci_config_read32(0, 0, 0, 0);
	report(id0 != 0xffffffff && id0 != 0, "host bridge at 00:00.0 (%04x:%04x)", id0 & 0xffff, id0 >> 16);
	report(pci_config_read16(0, 0, 0, 0x0a) == 0x0600, "00:00.0 is a host bridge (class 0600)");

	int found = -1, devices = 0, empty = -1;
	for (int dev = 0; dev < 32; dev++) {
		u32 id = pci_config_read32(0, dev, 0, 0);
		if ((id & 0xffff) == 0xffff) {
			if (empty < 0)
				empty = dev;
			continue;
		}
		devices++;
		u8 ht = pci_config_read8(0, dev, 0, 0x0e);
		report_info("00:%02x.0 %04x:%04x class %04x header %x", dev, id & 0xffff, id >> 16,
			    pci_config_read16(0, dev, 0, 0x0a), ht);
		if (id == 0x00051b36 && found < 0)
			found = dev;
	}
	report(devices >= 1, "%d devices on bus 0", devices);
	if (empty >= 0)
		report(pci_config_read32(0, empty, 0, 0) == 0xffffffff && pci_config_read32(0, empty, 0, 8) == 0xffffffff,
		       "an empty slot (00:%02x.0) reads all-ones", empty);
	if (found < 0) {
		report_skip("pci-testdev (1b36:0005) is not present");
		return report_summary();
	}
	int d = found;
	report_info("pci-testdev at 00:%02x.0", d);
	report(pci_config_read8(0, d, 0, 0x0e) == 0, "header type 0");
	report(pci_config_read16(0, d, 0, 0x0a) == 0x00ff, "class 00ff (%04x)", pci_config_read16(0, d, 0, 0x0a));

	u32 bar0 = pci_config_read32(0, d, 0, 0x10), bar1 = pci_config_read32(0, d, 0, 0x14);
	report(!(bar0 & 1), "BAR0 is memory (%x)", bar0);
	report(bar1 & 1, "BAR1 is I/O (%x)", bar1);
	pci_config_write32(0, d, 0, 0x10, 0xffffffff);
	u32 sz0 = ~(pci_config_read32(0, d, 0, 0x10) & ~0xfu) + 1;
	pci_config_write32(0, d, 0, 0x10, bar0);
	pci_config_write32(0, d, 0, 0x14, 0xffffffff);
	u32 sz1 = (~(pci_config_read32(0, d, 0, 0x14) & ~0x3u) + 1) & 0xffff;
	pci_config_write32(0, d, 0, 0x14, bar1);
	report(sz0 == 4096, "BAR0 size 4 KiB (%u)", sz0);
	report(sz1 >= 4 && !(sz1 & (sz1 - 1)), "BAR1 size a power of two (%u)", sz1);
	report(pci_config_read32(0, d, 0, 0x10) == bar0 && pci_config_read32(0, d, 0, 0x14) == bar1, "BARs restored");

	report((bar0 & ~0xfu) != 0 && (bar1 & ~0x3u) != 0, "BARs are assigned (%x, %x)", bar0, bar1);
	return report_summary();
}
