/* Application processor bring-up (INIT-SIPI-SIPI) and on_cpu(). */
#include "libnest.h"

extern char ap_tramp_start[], ap_tramp_end[];
void setup_cpu(int cpu);

volatile u32 cpus_online = 1;

struct work {
	void (*fn)(void *);
	void *arg;
	volatile int pending;
};
static struct work work[MAX_CPUS];

int cpu_count(void) { return (int)cpus_online; }

void __noreturn ap_main(int id)
{
	if (id >= MAX_CPUS)
		for (;;)
			asm volatile("cli; hlt");
	setup_cpu(id);
	xapic_enable();
	percpu_area[id].apic_id = apic_id();
	__atomic_fetch_add(&cpus_online, 1, __ATOMIC_SEQ_CST);
	sti();
	for (;;) {
		while (!__atomic_load_n(&work[id].pending, __ATOMIC_ACQUIRE))
			pause();
		work[id].fn(work[id].arg);
		__atomic_store_n(&work[id].pending, 0, __ATOMIC_RELEASE);
	}
}

int smp_init(void)
{
	int want = fw_cfg_nb_cpus();
	if (want > MAX_CPUS)
		want = MAX_CPUS;
	if (want <= 1 || cpus_online > 1)
		return (int)cpus_online;
	memcpy((void *)AP_TRAMPOLINE, ap_tramp_start, ap_tramp_end - ap_tramp_start);
	if (!(rdmsr(MSR_APIC_BASE) & APIC_EN))
		xapic_enable();
	apic_write(APIC_SPIV, apic_read(APIC_SPIV) | 0x100);
	apic_icr_write(APIC_DEST_ALLBUT | APIC_DM_INIT | APIC_INT_ASSERT, 0);
	delay_us(10000);
	for (int i = 0; i < 2; i++) {
		apic_icr_write(APIC_DEST_ALLBUT | APIC_DM_STARTUP | (AP_TRAMPOLINE >> 12), 0);
		delay_us(200);
	}
	/* Wait up to about 2 s for everyone. */
	for (int i = 0; i < 2000 && cpus_online < (u32)want; i++)
		delay_us(1000);
	return (int)cpus_online;
}

void on_cpu_async(int cpu, void (*fn)(void *), void *arg)
{
	while (__atomic_load_n(&work[cpu].pending, __ATOMIC_ACQUIRE))
		pause();
	work[cpu].fn = fn;
	work[cpu].arg = arg;
	__atomic_store_n(&work[cpu].pending, 1, __ATOMIC_RELEASE);
}

void on_cpu(int cpu, void (*fn)(void *), void *arg)
{
	if (cpu == smp_id()) {
		fn(arg);
		return;
	}
	on_cpu_async(cpu, fn, arg);
	while (__atomic_load_n(&work[cpu].pending, __ATOMIC_ACQUIRE))
		pause();
}

bool cpu_idle(int cpu) { return !__atomic_load_n(&work[cpu].pending, __ATOMIC_ACQUIRE); }
