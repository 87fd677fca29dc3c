/*
 * pic: the 8259 pair: initialization, IMR, IRR/ISR reads, EOI, the slave
 * cascade, IRQs from pc-testdev's GSI ports and from the PIT (IRQ 0),
 * delivered through the local APIC's LINT0 in ExtINT mode, and with the
 * local APIC globally disabled (INTR straight to the CPU).
 */
#include "libnest.h"

#define MASTER_VEC 0x20
#define SLAVE_VEC 0x28
static volatile int count[16];
static volatile u8 isr_seen[16];

static void irq_isr(struct ex_regs *r)
{
	int irq = (int)r->vector - MASTER_VEC;
	count[irq]++;
	isr_seen[irq] = irq < 8 ? pic_read_isr(0) : pic_read_isr(1);
	pic_eoi(irq);
}

static bool wait_for(volatile int *p, int v)
{
	for (long i = 0; i < 50000000 && *p < v; i++) {
		sti_nop_cli();
		pause();
	}
	return *p >= v;
}

static void settle(void)
{
	for (int i = 0; i < 10000; i++)
		sti_nop_cli();
}

static void pulse(int irq)
{
	set_gsi_line(irq, 1);
	set_gsi_line(irq, 0);
}

static void run_checks(const char *how)
{
	report_prefix_push(how);
	for (int i = 0; i < 16; i++)
		count[i] = 0;
	pic_init(MASTER_VEC, SLAVE_VEC);
	report(pic_get_mask() == 0xffff, "all lines masked after init");
	pic_set_mask(0xffff & ~(1 << 3) & ~(1 << 2) & ~(1 << 14));
	report(pic_get_mask() == (0xffff & ~((1 << 3) | (1 << 2) | (1 << 14))), "IMR reads back");

	pulse(3);
	report(wait_for(&count[3], 1), "IRQ 3 (master) delivered at vector 0x23");
	report(isr_seen[3] & (1 << 3), "ISR bit 3 set in the handler");
	report(pic_read_isr(0) == 0, "EOI cleared ISR");
	pulse(14);
	report(wait_for(&count[14], 1), "IRQ 14 (slave, cascade on IRQ 2) delivered at vector 0x2e");
	report(isr_seen[14] & (1 << 6), "slave ISR bit 6 set in the handler");

	/* Masked: latched in IRR, delivered when unmasked. */
	pic_set_mask(0xffff & ~(1 << 2));
	pulse(3);
	settle();
	report(count[3] == 1 && (pic_read_irr(0) & (1 << 3)), "masked IRQ 3 waits in IRR");
	pic_set_mask(0xffff & ~(1 << 2) & ~(1 << 3));
	report(wait_for(&count[3], 2), "unmasking delivers it");

	/* PIT channel 0 on IRQ 0. */
	pic_set_mask(0xfffe);
	pit_set_periodic(11932); /* ~100 Hz */
	report(wait_for(&count[0], 3), "PIT periodic: three IRQ 0 interrupts");
	pit_stop();
	pic_set_mask(0xffff);
	report_prefix_pop();
}

int main(int argc, char **argv)
{
	for (int v = MASTER_VEC; v < MASTER_VEC + 16; v++)
		handle_irq(v, irq_isr);
	/* Keep the IOAPIC out of the way. */
	for (int pin = 0; pin <= ioapic_max_pin(); pin++)
		ioapic_write_redir(pin, IOAPIC_MASKED);
	outb(inb(0x4d0) & ~(1 << 3), 0x4d0); /* IRQ 3: edge */
	outb(inb(0x4d1) & ~(1 << 6), 0x4d1); /* IRQ 14: edge */

	xapic_enable();
	apic_write(APIC_LVT0, APIC_DM_EXTINT);
	run_checks("LINT0 ExtINT");

	apic_disable();
	run_checks("APIC disabled");
	xapic_enable();
	return report_summary();
}
