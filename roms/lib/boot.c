/*
 * 64-bit start-up: per-CPU area, IDT, TSS, command line, exception
 * dispatch, the page allocator and exit().
 */
#include "libnest.h"

extern char isr_stubs[], idt32_stubs[], _end[];
extern u64 idt32[32];
extern u32 mb_magic, mb_info;
extern char stacks[];
extern void user_return_entry(void);
extern void user_fault_return(void);

struct idt_entry {
	u16 off0, sel;
	u8 ist, type;
	u16 off1;
	u32 off2, rsvd;
} __attribute__((packed));

struct tss64 {
	u32 rsvd0;
	u64 rsp[3];
	u64 rsvd1;
	u64 ist[7];
	u64 rsvd2;
	u16 rsvd3, iomap_base;
} __attribute__((packed));

static struct idt_entry idt[256] __aligned(16);
static struct desc_ptr idt_desc;
static struct tss64 tss[MAX_CPUS] __aligned(16);
static u8 ist_stacks[MAX_CPUS][3][IST_SIZE] __aligned(16);
static u8 rsp0_stacks[MAX_CPUS][2 * IST_SIZE] __aligned(16);
struct percpu percpu_area[MAX_CPUS] __aligned(64);
static handler_t handlers[256];

int boot_argc;
char *boot_argv[32];
static char cmdline[1024];
u32 mbi_flags, mbi_mods_count, mbi_mods_addr;
static u64 heap_next, mem_size;

static const char *const exception_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "22", "23",
	"24", "25", "26", "27", "#HV", "#VC", "#SX", "31",
};

void __noreturn exit(int code)
{
	outl((u32)code, DEBUG_EXIT_PORT);
	for (;;)
		asm volatile("cli; hlt");
}

void __noreturn abort(void)
{
	printf("aborted\n");
	exit(0x3f);
}

void set_gdt_entry(int sel, u32 base, u32 limit, u8 access, u8 flags)
{
	u64 d = (limit & 0xffff) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40) |
		((u64)((limit >> 16) & 0xf) << 48) | ((u64)(flags & 0xf) << 52) | ((u64)(base >> 24) << 56);
	gdt[sel >> 3] = d;
}

static void set_idt_gate(int v, u64 addr, int dpl)
{
	struct idt_entry *e = &idt[v];
	e->off0 = (u16)addr;
	e->sel = KERNEL_CS;
	e->ist = 0;
	e->type = 0x8e | (dpl << 5);
	e->off1 = (u16)(addr >> 16);
	e->off2 = (u32)(addr >> 32);
	e->rsvd = 0;
}

void set_idt_ist(int v, int ist) { idt[v].ist = (u8)ist; }
void set_idt_dpl(int v, int dpl) { idt[v].type = (idt[v].type & ~0x60) | (dpl << 5); }
void set_idt_type(int v, int type) { idt[v].type = (idt[v].type & 0xf0) | (type & 0xf); }
void set_idt_present(int v, bool p) { idt[v].type = (idt[v].type & 0x7f) | (p ? 0x80 : 0); }
void *idt_base(void) { return idt; }
u64 ist_stack_top(int cpu, int ist) { return (u64)&ist_stacks[cpu][ist - 1][IST_SIZE]; }
void set_tss_rsp0(u64 rsp) { tss[smp_id()].rsp[0] = rsp; }

handler_t handle_irq(int vector, handler_t h)
{
	handler_t old = handlers[vector];
	handlers[vector] = h;
	return old;
}

static void setup_idt(void)
{
	for (int v = 0; v < 256; v++)
		set_idt_gate(v, (u64)isr_stubs + 16 * v, 0);
	set_idt_gate(USER_RET_VECTOR, (u64)user_return_entry, 3);
	/* #BP and #OF are raised by INT3/INTO, which check the gate's DPL. */
	set_idt_dpl(3, 3);
	set_idt_dpl(4, 3);
	idt_desc.limit = sizeof(idt) - 1;
	idt_desc.base = (u64)idt;
	for (int v = 0; v < 32; v++) {
		u64 a = (u64)idt32_stubs + 16 * v;
		idt32[v] = (a & 0xffff) | ((u64)KERNEL_CS32 << 16) | (0x8eull << 40) | ((a >> 16) << 48);
	}
}

/* Per-CPU state: GS base, IDT, TSS. Called on every CPU. */
void setup_cpu(int cpu)
{
	struct percpu *pc = &percpu_area[cpu];
	pc->self = pc;
	pc->cpu_id = cpu;
	pc->ex_vector = -1;
	wrmsr(MSR_GS_BASE, (u64)pc);
	asm volatile("lidt %0" :: "m"(idt_desc));

	struct tss64 *t = &tss[cpu];
	memset(t, 0, sizeof(*t));
	t->rsp[0] = (u64)&rsp0_stacks[cpu][sizeof(rsp0_stacks[cpu])];
	for (int i = 1; i <= 3; i++)
		t->ist[i - 1] = ist_stack_top(cpu, i);
	t->iomap_base = sizeof(*t);
	int sel = TSS_SEL_BASE + 16 * cpu;
	u64 base = (u64)t;
	set_gdt_entry(sel, (u32)base, sizeof(*t) - 1, 0x89, 0);
	gdt[(sel >> 3) + 1] = base >> 32;
	asm volatile("ltr %w0" :: "r"(sel));
}

static void parse_cmdline(void)
{
	u32 *mbi = (u32 *)(u64)mb_info;
	if (mb_magic != 0x2BADB002 || !mbi)
		return;
	mbi_flags = mbi[0];
	if (mbi_flags & BIT(0))
		mem_size = ((u64)mbi[2] + 1024) * 1024;
	if (mbi_flags & BIT(3)) {
		mbi_mods_count = mbi[5];
		mbi_mods_addr = mbi[6];
		u32 *mods = (u32 *)(u64)mbi_mods_addr;
		for (u32 i = 0; i < mbi_mods_count; i++)
			if (mods[4 * i + 1] > heap_next)
				heap_next = mods[4 * i + 1];
	}
	if (mbi_flags & BIT(2)) {
		const char *s = (const char *)(u64)mbi[4];
		size_t n = strlen(s);
		if (n >= sizeof(cmdline))
			n = sizeof(cmdline) - 1;
		memcpy(cmdline, s, n);
		cmdline[n] = 0;
	}
	char *p = cmdline;
	while (*p && boot_argc < (int)ARRAY_SIZE(boot_argv) - 1) {
		while (*p == ' ')
			*p++ = 0;
		if (!*p)
			break;
		boot_argv[boot_argc++] = p;
		while (*p && *p != ' ')
			p++;
	}
	*p = 0;
	boot_argv[boot_argc] = NULL;
}

const char *get_arg(const char *key)
{
	size_t n = strlen(key);
	for (int i = 1; i < boot_argc; i++) {
		const char *a = boot_argv[i];
		if (!strncmp(a, key, n) && (a[n] == '=' || a[n] == 0))
			return a[n] ? a + n + 1 : a + n;
	}
	return NULL;
}

u64 arg_u64(const char *key, u64 dflt)
{
	const char *v = get_arg(key);
	return v && *v ? strtoul(v, NULL, 0) : dflt;
}

u64 ram_size(void) { return mem_size; }

void *alloc_pages(int n)
{
	u64 p = heap_next;
	heap_next += (u64)n * 4096;
	if (mem_size && heap_next > mem_size) {
		printf("out of memory\n");
		abort();
	}
	memset((void *)p, 0, (size_t)n * 4096);
	return (void *)p;
}

void *alloc_page(void) { return alloc_pages(1); }

bool cpu_has_ext_leaf(u32 leaf) { return cpuid(0x80000000).a >= leaf; }

void dispatch_interrupt(struct ex_regs *r)
{
	int v = (int)r->vector;
	struct percpu *pc = this_cpu();
	if (handlers[v]) {
		handlers[v](r);
		return;
	}
	if (pc->ex_fixup || ((r->cs & 3) == 3 && pc->user_rsp)) {
		pc->ex_vector = v;
		pc->ex_error = r->error_code;
		pc->ex_cr2 = v == 14 ? read_cr2() : 0;
		pc->ex_rip = r->rip;
		if ((r->cs & 3) == 3) {
			r->rip = (u64)user_fault_return;
			r->cs = KERNEL_CS;
			r->ss = KERNEL_DS;
			r->rsp = pc->user_rsp;
			r->rflags &= ~BIT(9);
		} else {
			r->rip = pc->ex_fixup;
			pc->ex_fixup = 0;
		}
		return;
	}
	printf("FAIL: unhandled %s%d%s at RIP=%lx CS=%lx error=%lx CR2=%lx RSP=%lx on CPU %d\n",
	       v < 32 ? "exception " : "interrupt ", v, v < 32 ? exception_names[v] : "",
	       r->rip, r->cs, r->error_code, v == 14 ? read_cr2() : 0, r->rsp, pc->cpu_id);
	abort();
}

/* ---- common probes ---- */
int rdmsr_safe(u32 msr, u64 *val)
{
	u32 lo = 0, hi = 0;
	asm volatile(ASM_TRY("1f") "rdmsr\n\t1:\n\t" ASM_TRY_END
		     : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
	*val = lo | ((u64)hi << 32);
	return exception_vector();
}

int wrmsr_safe(u32 msr, u64 val)
{
	asm volatile(ASM_TRY("1f") "wrmsr\n\t1:\n\t" ASM_TRY_END
		     :: "a"((u32)val), "d"((u32)(val >> 32)), "c"(msr) : "memory");
	return exception_vector();
}

int write_cr0_safe(u64 v)
{
	asm volatile(ASM_TRY("1f") "mov %0, %%cr0\n\t1:\n\t" ASM_TRY_END :: "r"(v) : "memory");
	return exception_vector();
}

int write_cr4_safe(u64 v)
{
	asm volatile(ASM_TRY("1f") "mov %0, %%cr4\n\t1:\n\t" ASM_TRY_END :: "r"(v) : "memory");
	return exception_vector();
}

int xsetbv_safe(u32 idx, u64 v)
{
	asm volatile(ASM_TRY("1f") "xsetbv\n\t1:\n\t" ASM_TRY_END
		     :: "a"((u32)v), "d"((u32)(v >> 32)), "c"(idx) : "memory");
	return exception_vector();
}

int read_byte_safe(const volatile void *p, u8 *val)
{
	u8 v = 0;
	asm volatile(ASM_TRY("1f") "movb (%1), %0\n\t1:\n\t" ASM_TRY_END
		     : "+q"(v) : "r"(p) : "memory");
	*val = v;
	return exception_vector();
}

int write_byte_safe(volatile void *p, u8 val)
{
	asm volatile(ASM_TRY("1f") "movb %1, (%0)\n\t1:\n\t" ASM_TRY_END
		     :: "r"(p), "q"(val) : "memory");
	return exception_vector();
}

int call_safe(void *fn)
{
	/* A fault on the fetch of the target leaves the return address pushed:
	 * RSP is restored from r12 at the landing label. */
	asm volatile("mov %%rsp, %%r12\n\t" ASM_TRY("1f") "call *%0\n\t1:\n\tmov %%r12, %%rsp\n\t" ASM_TRY_END
		     :: "r"(fn) : "memory", "rax", "rcx", "rdx", "rsi", "rdi",
		        "r8", "r9", "r10", "r11", "r12");
	return exception_vector();
}

void __noreturn boot_main(void)
{
	serial_init();
	heap_next = ALIGN_UP((u64)_end, 4096);
	parse_cmdline();
	heap_next = ALIGN_UP(heap_next, 4096);
	if (fw_cfg_present())
		mem_size = fw_cfg_u64(FW_CFG_RAM_SIZE);
	setup_idt();
	setup_cpu(0);
	/* Firmware may have left the 8259s at vectors 8-15, where exceptions
	 * live: move them to 0x20/0x28 and mask every line. */
	pic_init(0x20, 0x28);
	percpu_area[0].apic_id = HAS_APIC() ? (cpuid(1).b >> 24) : 0;
	int r = main(boot_argc, boot_argv);
	exit(r);
}
