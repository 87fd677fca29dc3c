/*
 * acpi: finds the RSDP, checks every table's checksum (RSDT, XSDT, FADT,
 * DSDT, MADT, ...), the FADT's PM timer port (0x608) counting up
 * monotonically, and the MADT: processor count = fw_cfg CPU count, an
 * IOAPIC at 0xFEC00000, the IRQ 0 → GSI 2 override.
 */
#include "libnest.h"

static bool table_ok(struct acpi_header *h)
{
	return h && h->length >= sizeof(*h) && acpi_checksum(h, h->length) == 0;
}

int main(int argc, char **argv)
{
	struct rsdp *r = acpi_find_rsdp();
	report(r != NULL, "RSDP found at %p", r);
	if (!r)
		return report_summary();
	report(acpi_checksum(r, 20) == 0, "RSDP checksum");
	if (r->revision >= 2)
		report(acpi_checksum(r, r->length) == 0, "RSDP extended checksum");
	struct acpi_header *rsdt = (struct acpi_header *)(u64)r->rsdt_address;
	report(rsdt && !memcmp(rsdt->signature, "RSDT", 4) && table_ok(rsdt), "RSDT signature and checksum");
	if (r->revision >= 2 && r->xsdt_address) {
		struct acpi_header *x = (struct acpi_header *)r->xsdt_address;
		report(!memcmp(x->signature, "XSDT", 4) && table_ok(x), "XSDT signature and checksum");
	}
	bool all = true;
	u32 n = (rsdt->length - sizeof(*rsdt)) / 4, *ents = (u32 *)(rsdt + 1);
	for (u32 i = 0; i < n; i++) {
		struct acpi_header *h = (struct acpi_header *)(u64)ents[i];
		bool ok = table_ok(h);
		report_info("%.4s rev %u length %u%s", h->signature, h->revision, h->length, ok ? "" : " BAD CHECKSUM");
		all &= ok;
	}
	report(all && n > 0, "checksums of the %u tables the RSDT lists", n);

	u8 *fadt = acpi_find_table("FACP");
	report(fadt != NULL, "FADT present");
	if (fadt) {
		u32 dsdt;
		memcpy(&dsdt, fadt + 40, 4);
		report(dsdt && table_ok((struct acpi_header *)(u64)dsdt) && !memcmp((char *)(u64)dsdt, "DSDT", 4),
		       "DSDT signature and checksum");
	}
	u16 pm = acpi_pm_timer_port();
	report(pm == 0x608, "PM timer at port %x", pm);
	if (pm) {
		bool mono = true;
		u32 prev = inl(pm) & 0xffffff, first = prev;
		for (int i = 0; i < 2000; i++) {
			u32 now = inl(pm) & 0xffffff;
			mono &= ((now - prev) & 0xffffff) < 0x800000;
			prev = now;
		}
		delay_us(2000);
		u32 later = inl(pm) & 0xffffff;
		report(mono, "PM timer reads never go backwards");
		report(((later - first) & 0xffffff) > 0, "PM timer advances (%u ticks)", (later - first) & 0xffffff);
	}

	struct acpi_header *madt = acpi_find_table("APIC");
	report(table_ok(madt), "MADT present, checksum");
	if (madt) {
		u32 ids[MAX_CPUS];
		int cpus = acpi_madt_cpus(ids, MAX_CPUS);
		report(cpus == fw_cfg_nb_cpus(), "MADT enabled processors (%d) = fw_cfg CPU count (%d)", cpus, fw_cfg_nb_cpus());
		u32 lapic;
		memcpy(&lapic, (u8 *)madt + 36, 4);
		report(lapic == APIC_BASE, "MADT local APIC address %x", lapic);
		bool ioapic = false, override = false;
		u8 *p = (u8 *)madt + 44, *end = (u8 *)madt + madt->length;
		while (p + 2 <= end && p[1]) {
			if (p[0] == 1) {
				u32 addr;
				memcpy(&addr, p + 4, 4);
				ioapic |= addr == IOAPIC_BASE;
			} else if (p[0] == 2) {
				u32 gsi;
				memcpy(&gsi, p + 4, 4);
				override |= p[3] == 0 && gsi == 2;
			}
			p += p[1];
		}
		report(ioapic, "MADT lists the IOAPIC at 0xfec00000");
		report(override, "MADT overrides IRQ 0 to GSI 2");
	}
	return report_summary();
}
