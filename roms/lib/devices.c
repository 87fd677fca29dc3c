/* Drivers: 16550 UART, fw_cfg, local APIC, IOAPIC, 8259, 8254, PCI, ACPI. */
#include "libnest.h"

/* ---- serial ---- */
void serial_init(void)
{
	outb(0x00, COM1 + 1); /* IER: no interrupts */
	outb(0x80, COM1 + 3); /* LCR: DLAB */
	outb(0x01, COM1 + 0); /* divisor 1: 115200 baud */
	outb(0x00, COM1 + 1);
	outb(0x03, COM1 + 3); /* 8N1 */
	outb(0x07, COM1 + 2); /* FIFO on, cleared */
	outb(0x03, COM1 + 4); /* DTR | RTS */
}

void serial_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		pause();
	outb((u8)c, COM1);
}

/* ---- fw_cfg ---- */
void fw_cfg_read(u16 key, void *buf, u32 len)
{
	u8 *p = buf;
	outw(key, 0x510);
	while (len--)
		*p++ = inb(0x511);
}

u64 fw_cfg_u64(u16 key)
{
	u64 v = 0;
	fw_cfg_read(key, &v, 8);
	return v;
}

u16 fw_cfg_u16(u16 key)
{
	u16 v = 0;
	fw_cfg_read(key, &v, 2);
	return v;
}

bool fw_cfg_present(void)
{
	char sig[4];
	fw_cfg_read(FW_CFG_SIGNATURE, sig, 4);
	return !memcmp(sig, "QEMU", 4);
}

int fw_cfg_nb_cpus(void)
{
	return fw_cfg_present() ? fw_cfg_u16(FW_CFG_NB_CPUS) : 1;
}

/* ---- local APIC ---- */
bool x2apic_enabled(void)
{
	return (rdmsr(MSR_APIC_BASE) & (APIC_EN | APIC_EXTD)) == (APIC_EN | APIC_EXTD);
}

u32 apic_read(u32 reg)
{
	if (x2apic_enabled())
		return (u32)rdmsr(0x800 + (reg >> 4));
	return mmio_read32(APIC_BASE + reg);
}

void apic_write(u32 reg, u32 val)
{
	if (x2apic_enabled())
		wrmsr(0x800 + (reg >> 4), val);
	else
		mmio_write32(APIC_BASE + reg, val);
}

void apic_icr_write(u32 low, u32 dest)
{
	if (x2apic_enabled()) {
		wrmsr(0x830, ((u64)dest << 32) | low);
		return;
	}
	mmio_write32(APIC_BASE + APIC_ICR2, dest << 24);
	mmio_write32(APIC_BASE + APIC_ICR, low);
	while (mmio_read32(APIC_BASE + APIC_ICR) & APIC_ICR_BUSY)
		pause();
}

u32 apic_id(void)
{
	if (x2apic_enabled())
		return (u32)rdmsr(0x802);
	return mmio_read32(APIC_BASE + APIC_ID) >> 24;
}

void apic_eoi(void) { apic_write(APIC_EOI, 0); }

void xapic_enable(void)
{
	u64 base = rdmsr(MSR_APIC_BASE);
	if (base & APIC_EXTD)
		wrmsr(MSR_APIC_BASE, base & ~(APIC_EN | APIC_EXTD));
	wrmsr(MSR_APIC_BASE, (base & ~APIC_EXTD) | APIC_EN);
	apic_write(APIC_SPIV, 0x1ff);
}

bool x2apic_enable(void)
{
	if (!HAS_X2APIC())
		return false;
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_EN | APIC_EXTD);
	apic_write(APIC_SPIV, 0x1ff);
	return true;
}

void apic_disable(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) & ~(APIC_EN | APIC_EXTD));
}

bool apic_isr_set(int vec) { return (apic_read(APIC_ISR + (vec / 32) * 0x10) >> (vec % 32)) & 1; }
bool apic_irr_set(int vec) { return (apic_read(APIC_IRR + (vec / 32) * 0x10) >> (vec % 32)) & 1; }

/* ---- IOAPIC ---- */
u32 ioapic_read(u32 reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(u32 reg, u32 val)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, val);
}

u64 ioapic_read_redir(int pin)
{
	return ioapic_read(0x10 + 2 * pin) | ((u64)ioapic_read(0x11 + 2 * pin) << 32);
}

void ioapic_write_redir(int pin, u64 e)
{
	ioapic_write(0x10 + 2 * pin, IOAPIC_MASKED);
	ioapic_write(0x11 + 2 * pin, (u32)(e >> 32));
	ioapic_write(0x10 + 2 * pin, (u32)e);
}

int ioapic_max_pin(void) { return (ioapic_read(1) >> 16) & 0xff; }

/* ---- 8259 PIC ---- */
void pic_init(u8 master_base, u8 slave_base)
{
	outb(0x11, 0x20); /* ICW1: edge, cascade, ICW4 */
	outb(0x11, 0xa0);
	outb(master_base, 0x21); /* ICW2 */
	outb(slave_base, 0xa1);
	outb(0x04, 0x21); /* ICW3: slave on IRQ2 */
	outb(0x02, 0xa1);
	outb(0x01, 0x21); /* ICW4: 8086 mode, normal EOI */
	outb(0x01, 0xa1);
	pic_set_mask(0xffff);
}

void pic_set_mask(u16 mask)
{
	outb((u8)mask, 0x21);
	outb((u8)(mask >> 8), 0xa1);
}

u16 pic_get_mask(void) { return inb(0x21) | ((u16)inb(0xa1) << 8); }

void pic_eoi(int irq)
{
	if (irq >= 8)
		outb(0x20, 0xa0);
	outb(0x20, 0x20);
}

u8 pic_read_isr(int slave)
{
	u16 p = slave ? 0xa0 : 0x20;
	outb(0x0b, p);
	return inb(p);
}

u8 pic_read_irr(int slave)
{
	u16 p = slave ? 0xa0 : 0x20;
	outb(0x0a, p);
	return inb(p);
}

/* ---- 8254 PIT ---- */
void pit_set_oneshot(u16 count)
{
	outb(0x30, 0x43); /* channel 0, lo/hi, mode 0 */
	outb((u8)count, 0x40);
	outb((u8)(count >> 8), 0x40);
}

void pit_set_periodic(u16 count)
{
	outb(0x34, 0x43); /* channel 0, lo/hi, mode 2 */
	outb((u8)count, 0x40);
	outb((u8)(count >> 8), 0x40);
}

u16 pit_read_count(void)
{
	outb(0x00, 0x43); /* latch channel 0 */
	u8 lo = inb(0x40);
	u8 hi = inb(0x40);
	return lo | ((u16)hi << 8);
}

void pit_stop(void) { outb(0x30, 0x43); }

/*
 * Busy-waits using the ACPI PM timer (3.579545 MHz, 24 bits; port from the
 * FADT, else 0x608). Bounded: if the timer does not run, it gives up after
 * a number of reads proportional to the delay.
 */
void delay_us(u32 us)
{
	static u16 pm;
	if (!pm) {
		pm = acpi_pm_timer_port();
		if (!pm)
			pm = 0x608;
	}
	u64 want = (u64)us * 3579545 / 1000000 + 1, done = 0, spins = 0;
	u32 prev = inl(pm) & 0xffffff;
	while (done < want && spins++ < want * 64 + 100000) {
		u32 now = inl(pm) & 0xffffff;
		done += (now - prev) & 0xffffff;
		prev = now;
		pause();
	}
}

/* ---- PCI ---- */
static void pci_select(int bus, int dev, int fn, int off)
{
	outl(0x80000000u | (bus << 16) | (dev << 11) | (fn << 8) | (off & 0xfc), 0xcf8);
}

u32 pci_config_read32(int bus, int dev, int fn, int off)
{
	pci_select(bus, dev, fn, off);
	return inl(0xcfc);
}

void pci_config_write32(int bus, int dev, int fn, int off, u32 v)
{
	pci_select(bus, dev, fn, off);
	outl(v, 0xcfc);
}

u16 pci_config_read16(int bus, int dev, int fn, int off)
{
	pci_select(bus, dev, fn, off);
	return inw(0xcfc + (off & 2));
}

u8 pci_config_read8(int bus, int dev, int fn, int off)
{
	pci_select(bus, dev, fn, off);
	return inb(0xcfc + (off & 3));
}

/* ---- ACPI ---- */
u8 acpi_checksum(const void *p, u32 len)
{
	u8 sum = 0;
	const u8 *b = p;
	while (len--)
		sum += *b++;
	return sum;
}

static struct rsdp *scan_rsdp(u64 start, u64 end)
{
	for (u64 a = start; a < end; a += 16) {
		struct rsdp *r = (struct rsdp *)a;
		if (!memcmp(r->signature, "RSD PTR ", 8) && acpi_checksum(r, 20) == 0)
			return r;
	}
	return NULL;
}

struct rsdp *acpi_find_rsdp(void)
{
	u64 ebda = (u64)*(volatile u16 *)0x40e << 4;
	struct rsdp *r = NULL;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		r = scan_rsdp(ebda, ebda + 1024);
	return r ? r : scan_rsdp(0xe0000, 0x100000);
}

void *acpi_find_table(const char *sig)
{
	struct rsdp *r = acpi_find_rsdp();
	if (!r)
		return NULL;
	if (r->revision >= 2 && r->xsdt_address) {
		struct acpi_header *x = (struct acpi_header *)r->xsdt_address;
		u32 n = (x->length - sizeof(*x)) / 8;
		u8 *ents = (u8 *)(x + 1);
		for (u32 i = 0; i < n; i++) {
			u64 a;
			memcpy(&a, ents + 8 * i, 8);
			if (!memcmp(((struct acpi_header *)a)->signature, sig, 4))
				return (void *)a;
		}
	}
	struct acpi_header *t = (struct acpi_header *)(u64)r->rsdt_address;
	if (!t)
		return NULL;
	u32 n = (t->length - sizeof(*t)) / 4;
	u32 *ents = (u32 *)(t + 1);
	for (u32 i = 0; i < n; i++) {
		struct acpi_header *h = (struct acpi_header *)(u64)ents[i];
		if (!memcmp(h->signature, sig, 4))
			return h;
	}
	return NULL;
}

u16 acpi_pm_timer_port(void)
{
	static u16 cached;
	if (cached)
		return cached;
	u8 *fadt = acpi_find_table("FACP");
	if (!fadt)
		return 0;
	u32 port;
	memcpy(&port, fadt + 76, 4);
	cached = (u16)port;
	return cached;
}

int acpi_madt_cpus(u32 *ids, int max)
{
	struct acpi_header *m = acpi_find_table("APIC");
	if (!m)
		return -1;
	u8 *p = (u8 *)m + 44, *end = (u8 *)m + m->length;
	int n = 0;
	while (p + 2 <= end && p[1]) {
		u32 flags, id = ~0u;
		if (p[0] == 0) {
			memcpy(&flags, p + 4, 4);
			id = p[3];
		} else if (p[0] == 9) {
			memcpy(&flags, p + 8, 4);
			memcpy(&id, p + 4, 4);
		} else {
			flags = 0;
		}
		if (flags & 1) {
			if (ids && n < max)
				ids[n] = id;
			n++;
		}
		p += p[1];
	}
	return n;
}
