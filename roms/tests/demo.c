/*
 * demo: what `nestor run` shows with no image. Prints a banner, what the
 * CPU says about itself, the machine's CPU count and RAM size, then runs a
 * few quick checks and exits 0 when they pass.
 */
#include "libnest.h"

static void cpu_strings(char *vendor, char *brand)
{
	struct cpuid c = cpuid(0);
	memcpy(vendor + 0, &c.b, 4);
	memcpy(vendor + 4, &c.d, 4);
	memcpy(vendor + 8, &c.c, 4);
	vendor[12] = 0;
	brand[0] = 0;
	if (cpu_has_ext_leaf(0x80000004)) {
		for (u32 i = 0; i < 3; i++) {
			c = cpuid(0x80000002 + i);
			memcpy(brand + 16 * i + 0, &c.a, 4);
			memcpy(brand + 16 * i + 4, &c.b, 4);
			memcpy(brand + 16 * i + 8, &c.c, 4);
			memcpy(brand + 16 * i + 12, &c.d, 4);
		}
		brand[48] = 0;
	}
	char *p = brand;
	while (*p == ' ')
		p++;
	memmove(brand, p, strlen(p) + 1);
}

static volatile u32 hello_mask;

static void say_hello(void *arg)
{
	__atomic_fetch_or(&hello_mask, 1u << smp_id(), __ATOMIC_SEQ_CST);
	printf("  hello from CPU %d (APIC ID %u)\n", smp_id(), apic_id());
}

static u64 fib(u64 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(int argc, char **argv)
{
	char vendor[13], brand[49];
	printf("\n");
	printf("  _ __   ___  ___| |_ ___  _ __\n");
	printf(" | '_ \\ / _ \\/ __| __/ _ \\| '__|\n");
	printf(" | | | |  __/\\__ \\ || (_) | |\n");
	printf(" |_| |_|\\___||___/\\__\\___/|_|   guest demo\n\n");

	cpu_strings(vendor, brand);
	struct cpuid c1 = cpuid(1);
	u32 family = ((c1.a >> 8) & 0xf) + ((c1.a >> 20) & 0xff);
	u32 model = ((c1.a >> 4) & 0xf) | ((c1.a >> 12) & 0xf0);
	printf("CPU vendor: %s\n", vendor);
	printf("CPU brand:  %s\n", brand[0] ? brand : "(none)");
	printf("family %u model %u stepping %u\n", family, model, c1.a & 0xf);
	int ncpus = fw_cfg_nb_cpus();
	printf("CPUs:       %d\n", ncpus);
	printf("RAM:        %lu MiB\n", ram_size() >> 20);
	printf("command line:");
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n\n");

	report(!memcmp(vendor, "GenuineIntel", 12) || !memcmp(vendor, "AuthenticAMD", 12),
	       "CPUID vendor is GenuineIntel or AuthenticAMD");
	report(fw_cfg_present(), "fw_cfg signature");
	report(ram_size() >= (16ul << 20), "at least 16 MiB of RAM");
	report(rdmsr(MSR_EFER) & EFER_LMA, "long mode active (EFER.LMA)");
	report(fib(20) == 6765, "recursion: fib(20) = 6765");

	u64 before = rdtsc();
	asm volatile(ASM_TRY("1f") "ud2\n\t1:\n\t" ASM_TRY_END ::: "memory");
	report(exception_vector() == 6, "UD2 raises #UD and is caught");
	report(rdtsc() > before, "TSC counts up");

	if (ncpus > 1) {
		int up = smp_init();
		report(up == ncpus, "%d of %d CPUs started", up, ncpus);
		for (int i = 0; i < up; i++)
			on_cpu(i, say_hello, NULL);
		report(hello_mask == (1u << up) - 1, "every CPU ran on_cpu()");
	}
	printf("\n");
	return report_summary();
}
