/*
 * bench_irq: an interrupt-heavy workload for benchmarking the
 * interpreter's interrupt and exception delivery, IRET and the local APIC.
 * One iteration:
 *
 *   1. xAPIC self-IPIs through the ICR (MMIO), taken with IF=1 by a
 *      handler that counts and EOIs;
 *   2. pairs of self-IPIs of two priority classes sent with IF=0: the
 *      higher vector must be taken first;
 *   3. INT 0x60 "system calls": the handler returns rax * 3 + 1;
 *   4. exceptions taken and returned from: #BP (INT3, a trap), #UD (UD2),
 *      #DE (DIV by 0), #GP(0) (a non-canonical load), the handler checks
 *      the saved RIP and resumes after the instruction;
 *   5. a computation with the APIC timer in periodic mode and a short
 *      period; the results are checked against closed forms, so an
 *      interrupt that corrupts state shows;
 *   6. x2APIC (when CPUID has it): self-IPIs through the SELF IPI MSR and
 *      the ICR MSR, then back to xAPIC (through disabled) next iteration.
 *      Odd iterations run step 5 in x2APIC mode.
 *
 * Every handler's count is compared with the number of events raised.
 * Timer ticks depend on time, so they are only required to be >= 1.
 *
 * Arguments: iterations=N (default below, about 2e8 instructions).
 * Exits 0 when every check passed, 1 otherwise.
 */
#include "libnest.h"

#define DEFAULT_ITERATIONS 1000

#define TIMER_VEC 0x40
#define IPI_VEC 0x50
#define X2_SELF_VEC 0x51
#define X2_ICR_VEC 0x52
#define PRIO_LO 0x58
#define PRIO_HI 0x78
#define SWI_VEC 0x60

#define NIPI 256        /* xAPIC self-IPIs per iteration */
#define NPAIR 32        /* priority pairs */
#define NSWI 512        /* INT n */
#define NEXC 64         /* each of #BP #UD #DE #GP */
#define NX2 128         /* each of SELF IPI MSR, ICR MSR */
#define NCOMP 8192      /* loop length of the timed computation */
#define TIMER_PERIOD 2000

#define MSR_X2APIC_EOI 0x80b
#define MSR_X2APIC_ICR 0x830
#define MSR_X2APIC_SELF_IPI 0x83f

static volatile u64 cnt[256];
static volatile u64 ticks;
static volatile bool x2mode;
static volatile u8 prio_log[4];
static volatile u32 prio_n;
static volatile u64 exp_rip, fix_rip;
static u64 err_ipi, err_prio, err_swi, err_exc_rip, err_comp, err_x2;

static inline void eoi(void)
{
	if (x2mode)
		wrmsr(MSR_X2APIC_EOI, 0);
	else
		mmio_write32(APIC_BASE + APIC_EOI, 0);
}

static inline void lapic_write(u32 reg, u32 v)
{
	if (x2mode)
		wrmsr(0x800 + (reg >> 4), v);
	else
		mmio_write32(APIC_BASE + reg, v);
}

static void ipi_isr(struct ex_regs *r)
{
	cnt[r->vector]++;
	eoi();
}

static void prio_isr(struct ex_regs *r)
{
	prio_log[prio_n++ & 3] = (u8)r->vector;
	cnt[r->vector]++;
	eoi();
}

static void timer_isr(struct ex_regs *r)
{
	ticks++;
	eoi();
}

static void swi_isr(struct ex_regs *r)
{
	cnt[r->vector]++;
	r->rax = r->rax * 3 + 1;
}

static void exc_isr(struct ex_regs *r)
{
	cnt[r->vector]++;
	if (r->rip != exp_rip || (r->vector == 13 && r->error_code != 0))
		err_exc_rip++;
	r->rip = fix_rip;
}

/* Waits with IF=1 (bounded) until *c reaches want; true if it is exactly want. */
static bool wait_count(volatile u64 *c, u64 want)
{
	for (long i = 0; i < 10000000 && *c < want; i++) {
		sti_nop_cli();
		pause();
	}
	return *c == want;
}

static inline void xapic_self_ipi(u8 vec)
{
	mmio_write32(APIC_BASE + APIC_ICR, APIC_DEST_SELF | APIC_DM_FIXED | vec);
	while (mmio_read32(APIC_BASE + APIC_ICR) & APIC_ICR_BUSY)
		pause();
}

/* Sends n IPIs with send(vec), each awaited (IF=1) before the next, so that
 * none can merge with a still-pending one. */
static void ipi_burst(void (*send)(u8), u8 vec, int n, u64 *err)
{
	u64 c = cnt[vec];
	for (int k = 0; k < n; k++) {
		sti();
		send(vec);
		for (long i = 0; i < 1000000 && cnt[vec] == c; i++)
			pause();
		cli();
		c++;
	}
	*err += !wait_count(&cnt[vec], c);
}

static void x2_self_ipi(u8 vec) { wrmsr(MSR_X2APIC_SELF_IPI, vec); }
static void x2_icr_self_ipi(u8 vec) { wrmsr(MSR_X2APIC_ICR, APIC_DEST_SELF | APIC_DM_FIXED | vec); }

static void do_bp(void)
{
	/* A trap: the saved RIP is the next instruction. */
	asm volatile("leaq 1f(%%rip), %%rax\n\t"
		     "movq %%rax, %0\n\t"
		     "movq %%rax, %1\n\t"
		     "int3\n"
		     "1:"
		     : "=m"(exp_rip), "=m"(fix_rip) :: "rax", "memory");
}

static void do_ud(void)
{
	asm volatile("leaq 0f(%%rip), %%rax\n\t"
		     "movq %%rax, %0\n\t"
		     "leaq 1f(%%rip), %%rax\n\t"
		     "movq %%rax, %1\n"
		     "0:\tud2\n"
		     "1:"
		     : "=m"(exp_rip), "=m"(fix_rip) :: "rax", "memory");
}

static void do_de(void)
{
	u64 a = 1, d = 0, c = 0;
	asm volatile("leaq 0f(%%rip), %%r8\n\t"
		     "movq %%r8, %0\n\t"
		     "leaq 1f(%%rip), %%r8\n\t"
		     "movq %%r8, %1\n"
		     "0:\tdivq %%rcx\n"
		     "1:"
		     : "=m"(exp_rip), "=m"(fix_rip), "+a"(a), "+d"(d), "+c"(c) :: "r8", "memory");
}

static void do_gp(void)
{
	u64 p = 0x8000000000000000ul;
	asm volatile("leaq 0f(%%rip), %%r8\n\t"
		     "movq %%r8, %0\n\t"
		     "leaq 1f(%%rip), %%r8\n\t"
		     "movq %%r8, %1\n"
		     "0:\tmovq (%2), %2\n"
		     "1:"
		     : "=m"(exp_rip), "=m"(fix_rip), "+r"(p) :: "r8", "memory");
}

/* Sum of m^2 for m < N (N < 2^21, no overflow). */
static u64 sum_sq(u64 n) { return n ? (n - 1) * n * (2 * n - 1) / 6 : 0; }
/* XOR of 0..x. */
static u64 xor_upto(u64 x) { u64 t[4] = { x, 1, x + 1, 0 }; return t[x & 3]; }

/* Computes with the periodic timer running; checks the closed forms. */
static void timed_compute(u32 it)
{
	lapic_write(APIC_TDCR, 0xb); /* divide by 1 */
	lapic_write(APIC_LVTT, TIMER_VEC | APIC_LVT_TIMER_PERIODIC);
	lapic_write(APIC_TMICT, TIMER_PERIOD);
	u64 s1 = 0, s2 = 0, s3 = 0, a = it;
	sti();
	for (u64 k = 0; k < NCOMP; k++) {
		asm volatile("" : "+r"(k));
		s1 += (k + a) * (k + a);
		s2 += k * k * k;
		s3 ^= k;
	}
	cli();
	lapic_write(APIC_TMICT, 0);
	lapic_write(APIC_LVTT, APIC_LVT_MASKED);
	u64 h = (u64)NCOMP * (NCOMP - 1) / 2;
	err_comp += s1 != sum_sq(a + NCOMP) - sum_sq(a);
	err_comp += s2 != h * h;
	err_comp += s3 != xor_upto(NCOMP - 1);
}

static void iteration(u32 it, bool have_x2)
{
	x2mode = false;
	xapic_enable();

	/* 1. xAPIC self-IPIs. */
	ipi_burst(xapic_self_ipi, IPI_VEC, NIPI, &err_ipi);

	/* 2. Both pending with IF=0: the higher priority class first. */
	for (int k = 0; k < NPAIR; k++) {
		u64 lo = cnt[PRIO_LO], hi = cnt[PRIO_HI];
		prio_n = 0;
		xapic_self_ipi(PRIO_LO);
		xapic_self_ipi(PRIO_HI);
		bool both = wait_count(&cnt[PRIO_LO], lo + 1) && wait_count(&cnt[PRIO_HI], hi + 1);
		err_prio += !both || prio_n != 2 || prio_log[0] != PRIO_HI || prio_log[1] != PRIO_LO;
	}

	/* 3. INT n. */
	for (u64 k = 0; k < NSWI; k++) {
		u64 x = k + it;
		asm volatile("int %1" : "+a"(x) : "i"(SWI_VEC) : "memory");
		err_swi += x != (k + it) * 3 + 1;
	}

	/* 4. Exceptions. */
	for (int k = 0; k < NEXC; k++) {
		do_bp();
		do_ud();
		do_de();
		do_gp();
	}

	/* 5. Periodic timer while computing (xAPIC on even iterations). */
	if (!(it & 1) || !have_x2)
		timed_compute(it);

	/* 6. x2APIC self-IPIs. */
	if (have_x2) {
		cli();
		x2apic_enable();
		x2mode = true;
		ipi_burst(x2_self_ipi, X2_SELF_VEC, NX2, &err_x2);
		ipi_burst(x2_icr_self_ipi, X2_ICR_VEC, NX2, &err_x2);
		if (it & 1)
			timed_compute(it);
	}
}

int main(int argc, char **argv)
{
	u64 iterations = arg_u64("iterations", DEFAULT_ITERATIONS);
	u16 pm = acpi_pm_timer_port();
	bool have_x2 = HAS_X2APIC();

	printf("bench_irq: %lu iterations%s\n", iterations, have_x2 ? "" : " (no x2APIC)");
	handle_irq(TIMER_VEC, timer_isr);
	handle_irq(IPI_VEC, ipi_isr);
	handle_irq(X2_SELF_VEC, ipi_isr);
	handle_irq(X2_ICR_VEC, ipi_isr);
	handle_irq(PRIO_LO, prio_isr);
	handle_irq(PRIO_HI, prio_isr);
	handle_irq(SWI_VEC, swi_isr);
	handle_exception(3, exc_isr);
	handle_exception(6, exc_isr);
	handle_exception(0, exc_isr);
	handle_exception(13, exc_isr);

	u32 t0 = pm ? inl(pm) & 0xffffff : 0;
	for (u64 it = 0; it < iterations; it++)
		iteration((u32)it, have_x2);
	u32 t1 = pm ? inl(pm) & 0xffffff : 0;
	x2mode = false;
	xapic_enable();

	u64 n = iterations;
	u64 t = ticks;
	printf("bench_irq: %lu timer ticks\n", t);
	if (pm)
		printf("bench_irq: PM timer ticks %u (mod 2^24)\n", (t1 - t0) & 0xffffff);
	if (n && !t) {
		/* A fast CPU with a slow APIC clock may finish a short run
		 * between two ticks: then one more must come. */
		lapic_write(APIC_TDCR, 0xb);
		lapic_write(APIC_LVTT, TIMER_VEC | APIC_LVT_TIMER_PERIODIC);
		lapic_write(APIC_TMICT, TIMER_PERIOD);
		wait_count(&ticks, 1);
		lapic_write(APIC_TMICT, 0);
		lapic_write(APIC_LVTT, APIC_LVT_MASKED);
	}
	report(cnt[IPI_VEC] == n * NIPI && err_ipi == 0, "xAPIC self-IPIs: %lu handled (expected %lu)", cnt[IPI_VEC], n * NIPI);
	report(cnt[PRIO_LO] == n * NPAIR && cnt[PRIO_HI] == n * NPAIR && err_prio == 0,
	       "priority: higher class first (%lu pairs wrong)", err_prio);
	report(cnt[SWI_VEC] == n * NSWI && err_swi == 0, "INT 0x%x: %lu handled, %lu results wrong", SWI_VEC, cnt[SWI_VEC], err_swi);
	report(cnt[3] == n * NEXC, "#BP: %lu handled", cnt[3]);
	report(cnt[6] == n * NEXC, "#UD: %lu handled", cnt[6]);
	report(cnt[0] == n * NEXC, "#DE: %lu handled", cnt[0]);
	report(cnt[13] == n * NEXC, "#GP: %lu handled", cnt[13]);
	report(err_exc_rip == 0, "exceptions: saved RIP and error code (%lu wrong)", err_exc_rip);
	report(err_comp == 0, "computation under the periodic timer (%lu wrong)", err_comp);
	report(!n || ticks >= 1, "periodic timer ticked (%lu)", ticks);
	if (have_x2)
		report(cnt[X2_SELF_VEC] == n * NX2 && cnt[X2_ICR_VEC] == n * NX2 && err_x2 == 0,
		       "x2APIC self-IPIs: %lu via SELF IPI, %lu via ICR (expected %lu each)",
		       cnt[X2_SELF_VEC], cnt[X2_ICR_VEC], n * NX2);
	else
		report_skip("x2APIC: CPUID lacks it");
	return report_summary();
}
