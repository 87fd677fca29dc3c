/*
 * ioapic: the IOAPIC's version register and redirection table, then edge
 * and level interrupts raised through pc-testdev's GSI ports (0x2000 + n):
 * one interrupt per edge, Remote IRR while a level interrupt is in service,
 * re-delivery when the line is still high at EOI, masking.
 */
#include "libnest.h"

#define EDGE_GSI 14
#define LEVEL_GSI 15
#define VEC_EDGE 0x60
#define VEC_LEVEL 0x61

static volatile int edges, levels, keep_high;
static volatile u64 redir_in_service;

static void edge_isr(struct ex_regs *r)
{
	edges++;
	apic_eoi();
}

static void level_isr(struct ex_regs *r)
{
	levels++;
	redir_in_service = ioapic_read_redir(LEVEL_GSI);
	if (!keep_high || levels >= 2)
		set_gsi_line(LEVEL_GSI, 0);
	apic_eoi();
}

static bool wait_for(volatile int *p, int v)
{
	for (long i = 0; i < 10000000 && *p < v; i++) {
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

int main(int argc, char **argv)
{
	xapic_enable();
	handle_irq(VEC_EDGE, edge_isr);
	handle_irq(VEC_LEVEL, level_isr);
	u32 ver = ioapic_read(1);
	int max = ioapic_max_pin();
	report((ver & 0xff) == 0x11 || (ver & 0xff) == 0x20, "IOAPIC version %x", ver & 0xff);
	report(max >= 23, "%d redirection entries", max + 1);
	u64 e = ((u64)apic_id() << 56) | 0x1234 | IOAPIC_MASKED;
	ioapic_write_redir(EDGE_GSI, e);
	u64 back = ioapic_read_redir(EDGE_GSI);
	report((back & ~(u64)(IOAPIC_DELIV_STATUS | IOAPIC_REMOTE_IRR)) == (e & ~(u64)(IOAPIC_DELIV_STATUS | IOAPIC_REMOTE_IRR)),
	       "redirection entry reads back (%lx)", back);

	/* Edge: one interrupt per rising edge. */
	u64 dest = (u64)apic_id() << 56;
	set_gsi_line(EDGE_GSI, 0);
	ioapic_write_redir(EDGE_GSI, dest | VEC_EDGE);
	set_gsi_line(EDGE_GSI, 1);
	report(wait_for(&edges, 1), "edge-triggered interrupt delivered");
	settle();
	report(edges == 1, "a line held high gives one edge interrupt");
	set_gsi_line(EDGE_GSI, 0);
	set_gsi_line(EDGE_GSI, 1);
	set_gsi_line(EDGE_GSI, 0);
	report(wait_for(&edges, 2), "a second edge, a second interrupt");

	/* Masked edge: nothing. */
	ioapic_write_redir(EDGE_GSI, dest | VEC_EDGE | IOAPIC_MASKED);
	set_gsi_line(EDGE_GSI, 1);
	set_gsi_line(EDGE_GSI, 0);
	settle();
	report(edges == 2, "masked entry: no interrupt");

	/* Level: Remote IRR set while in service; lowered in the handler. */
	set_gsi_line(LEVEL_GSI, 0);
	ioapic_write_redir(LEVEL_GSI, dest | VEC_LEVEL | IOAPIC_LEVEL);
	set_gsi_line(LEVEL_GSI, 1);
	report(wait_for(&levels, 1), "level-triggered interrupt delivered");
	report(redir_in_service & IOAPIC_REMOTE_IRR, "Remote IRR set while in service");
	settle();
	report(!(ioapic_read_redir(LEVEL_GSI) & IOAPIC_REMOTE_IRR), "Remote IRR cleared by the EOI");
	report(levels == 1, "line lowered before EOI: one interrupt");

	/* Level with the line still high at EOI: delivered again. */
	levels = 0;
	keep_high = 1;
	set_gsi_line(LEVEL_GSI, 1);
	report(wait_for(&levels, 2), "line still high at EOI: the interrupt comes again");
	settle();
	report(levels == 2, "and stops once the line is low (%d)", levels);

	/* Level while masked, then unmasked with the line high: delivered. */
	levels = 0;
	keep_high = 0;
	ioapic_write_redir(LEVEL_GSI, dest | VEC_LEVEL | IOAPIC_LEVEL | IOAPIC_MASKED);
	set_gsi_line(LEVEL_GSI, 1);
	settle();
	report(levels == 0, "masked level entry: no interrupt");
	ioapic_write_redir(LEVEL_GSI, dest | VEC_LEVEL | IOAPIC_LEVEL);
	report(wait_for(&levels, 1), "unmasking with the line high delivers it");
	ioapic_write_redir(LEVEL_GSI, IOAPIC_MASKED);
	ioapic_write_redir(EDGE_GSI, IOAPIC_MASKED);
	return report_summary();
}
