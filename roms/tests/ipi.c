/*
 * ipi: brings up the APs with INIT-SIPI-SIPI, then sends fixed IPIs
 * (physical and logical destinations, the self, all-including-self and
 * all-excluding-self shorthands), NMIs, and x2APIC self-IPIs. Needs -smp 2
 * or more.
 */
#include "libnest.h"

#define IPI_VEC 0x50
static volatile u32 hits[MAX_CPUS], nmis[MAX_CPUS];

static void ipi_isr(struct ex_regs *r)
{
	__atomic_fetch_add(&hits[smp_id()], 1, __ATOMIC_SEQ_CST);
	apic_eoi();
}

static void nmi_isr(struct ex_regs *r) { __atomic_fetch_add(&nmis[smp_id()], 1, __ATOMIC_SEQ_CST); }

static bool wait_for(volatile u32 *p, u32 v)
{
	for (long i = 0; i < 100000000 && *p < v; i++) {
		sti_nop_cli();
		pause();
	}
	return *p >= v;
}

static void reset_hits(void)
{
	for (int i = 0; i < MAX_CPUS; i++)
		hits[i] = 0;
}

static void send_to_bsp(void *arg) { apic_icr_write(APIC_DM_FIXED | IPI_VEC, percpu_area[0].apic_id); }

static void set_logical(void *arg)
{
	apic_write(APIC_DFR, 0xffffffff);
	apic_write(APIC_LDR, (1u << smp_id()) << 24);
}

int main(int argc, char **argv)
{
	handle_irq(IPI_VEC, ipi_isr);
	handle_exception(2, nmi_isr);
	int want = fw_cfg_nb_cpus();
	int n = smp_init();
	report(n == want && n >= 2, "INIT-SIPI-SIPI: %d of %d CPUs online", n, want);
	if (n < 2) {
		report_skip("IPIs need two CPUs");
		return report_summary();
	}
	bool distinct = true;
	for (int i = 1; i < n; i++)
		distinct &= percpu_area[i].apic_id != percpu_area[0].apic_id;
	report(distinct, "APs have their own APIC IDs");

	u32 ap = percpu_area[1].apic_id;
	reset_hits();
	apic_icr_write(APIC_DM_FIXED | IPI_VEC, ap);
	report(wait_for(&hits[1], 1) && hits[0] == 0, "fixed IPI, physical destination: BSP → AP");

	reset_hits();
	on_cpu_async(1, send_to_bsp, NULL);
	report(wait_for(&hits[0], 1) && hits[1] == 0, "fixed IPI: AP → BSP");
	while (!cpu_idle(1))
		pause();

	reset_hits();
	apic_icr_write(APIC_DEST_SELF | APIC_DM_FIXED | IPI_VEC, 0);
	report(wait_for(&hits[0], 1) && hits[1] == 0, "self IPI (shorthand)");

	reset_hits();
	apic_icr_write(APIC_DEST_ALLINC | APIC_DM_FIXED | IPI_VEC, 0);
	bool all = wait_for(&hits[0], 1);
	for (int i = 1; i < n; i++)
		all &= wait_for(&hits[i], 1);
	report(all, "all-including-self IPI reaches every CPU");

	reset_hits();
	apic_icr_write(APIC_DEST_ALLBUT | APIC_DM_FIXED | IPI_VEC, 0);
	all = true;
	for (int i = 1; i < n; i++)
		all &= wait_for(&hits[i], 1);
	delay_us(1000);
	sti_nop_cli();
	report(all && hits[0] == 0, "all-excluding-self IPI skips the sender");

	apic_icr_write(APIC_DM_NMI, ap);
	report(wait_for(&nmis[1], 1) && nmis[0] == 0, "NMI IPI to the AP");
	apic_icr_write(APIC_DEST_SELF | APIC_DM_NMI, 0);
	report(wait_for(&nmis[0], 1), "self NMI");

	if (!x2apic_enabled()) {
		for (int i = 0; i < n && i < 8; i++)
			on_cpu(i, set_logical, NULL);
		reset_hits();
		apic_icr_write(APIC_DEST_LOGICAL | APIC_DM_FIXED | IPI_VEC, 1u << 1);
		report(wait_for(&hits[1], 1) && hits[0] == 0, "fixed IPI, flat logical destination");
		reset_hits();
		apic_icr_write(APIC_DEST_LOGICAL | APIC_DM_FIXED | IPI_VEC, 3);
		report(wait_for(&hits[0], 1) && wait_for(&hits[1], 1), "logical destination with two CPUs");
	}

	if (x2apic_enable()) {
		reset_hits();
		wrmsr(0x83f, IPI_VEC); /* SELF IPI register */
		report(wait_for(&hits[0], 1), "x2APIC SELF IPI register");
		reset_hits();
		apic_icr_write(APIC_DEST_SELF | APIC_DM_FIXED | IPI_VEC, 0);
		report(wait_for(&hits[0], 1), "x2APIC self IPI via ICR");
		xapic_enable();
	} else {
		report_skip("x2APIC: CPUID lacks it");
	}
	return report_summary();
}
