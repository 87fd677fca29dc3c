/*
 * nestor's freestanding guest library: everything a test image may call.
 * Images enter at main(argc, argv); its return value r ends the run with
 * exit(r), i.e. status (r << 1) | 1 on the isa-debug-exit port.
 */
#ifndef LIBNEST_H
#define LIBNEST_H

#include "defs.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long s64;
typedef unsigned long size_t;
typedef long ssize_t;
typedef unsigned long uintptr_t;
typedef _Bool bool;
#define true 1
#define false 0
#define NULL ((void *)0)

typedef __builtin_va_list va_list;
#define va_start __builtin_va_start
#define va_end __builtin_va_end
#define va_arg __builtin_va_arg

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(n) (1ul << (n))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((u64)(a) - 1))
#define barrier() asm volatile("" ::: "memory")
#define READ_ONCE(x) (*(volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define __noreturn __attribute__((noreturn))
#define __aligned(n) __attribute__((aligned(n)))
#define __unused __attribute__((unused))

/* ---- string.c ---- */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
u64 strtoul(const char *s, const char **end, int base);

/* ---- printf.c ---- */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
void puts(const char *s);
/* One PASS:/FAIL: line; returns cond. */
bool report(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* PASS: when cond holds, XFAIL: otherwise (an expected failure). */
bool report_xfail(bool xfail, bool cond, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* PASS when cond holds; when it does not, SKIP on QEMU TCG (a known
 * deviation of QEMU from the SDM, named in the message) and FAIL elsewhere. */
bool report_tcg_quirk(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True under QEMU's TCG accelerator (CPUID brand "QEMU TCG CPU ..."). */
bool on_qemu_tcg(void);
void report_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void report_prefix_push(const char *p);
void report_prefix_pop(void);
/* Prints "SUMMARY: ..." and returns 0 when nothing failed, 1 otherwise. */
int report_summary(void);
void __noreturn exit(int code);
void __noreturn abort(void);
#define assert(c) do { if (!(c)) { printf("assertion failed: %s (%s:%d)\n", #c, __FILE__, __LINE__); abort(); } } while (0)

/* ---- port I/O ---- */
static inline void outb(u8 v, u16 p) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outw(u16 v, u16 p) { asm volatile("outw %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outl(u32 v, u16 p) { asm volatile("outl %0, %1" :: "a"(v), "Nd"(p)); }
static inline u8 inb(u16 p) { u8 v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u16 inw(u16 p) { u16 v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u32 inl(u16 p) { u32 v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline void io_delay(void) { outb(0, 0x80); }

/* ---- MMIO ---- */
static inline u32 mmio_read32(u64 a) { return *(volatile u32 *)a; }
static inline void mmio_write32(u64 a, u32 v) { *(volatile u32 *)a = v; }

/* ---- CPU helpers ---- */
struct cpuid { u32 a, b, c, d; };
static inline struct cpuid cpuid_count(u32 leaf, u32 sub)
{
	struct cpuid r;
	asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "0"(leaf), "2"(sub));
	return r;
}
static inline struct cpuid cpuid(u32 leaf) { return cpuid_count(leaf, 0); }
static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return lo | ((u64)hi << 32);
}
static inline void wrmsr(u32 msr, u64 v)
{
	asm volatile("wrmsr" :: "a"((u32)v), "d"((u32)(v >> 32)), "c"(msr) : "memory");
}
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | ((u64)hi << 32);
}
#define DEF_CR(n) \
	static inline u64 read_cr##n(void) { u64 v; asm volatile("mov %%cr" #n ", %0" : "=r"(v) :: "memory"); return v; } \
	static inline void write_cr##n(u64 v) { asm volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); }
DEF_CR(0)
DEF_CR(2)
DEF_CR(3)
DEF_CR(4)
DEF_CR(8)
static inline u64 read_rflags(void) { u64 f; asm volatile("pushfq; popq %0" : "=r"(f) :: "memory"); return f; }
static inline void write_rflags(u64 f) { asm volatile("pushq %0; popfq" :: "r"(f) : "memory", "cc"); }
static inline void cli(void) { asm volatile("cli" ::: "memory"); }
static inline void sti(void) { asm volatile("sti" ::: "memory"); }
/* sti; nop so that an interrupt is taken right here (in the STI shadow's end). */
static inline void sti_nop_cli(void) { asm volatile("sti; nop; cli" ::: "memory"); }
static inline void safe_halt(void) { asm volatile("sti; hlt" ::: "memory"); }
static inline void pause(void) { asm volatile("pause" ::: "memory"); }
static inline void invlpg(const void *va) { asm volatile("invlpg (%0)" :: "r"(va) : "memory"); }
static inline void flush_tlb(void) { write_cr3(read_cr3()); }
static inline u64 xgetbv(u32 idx) { u32 a, d; asm volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(idx)); return a | ((u64)d << 32); }
static inline u16 read_cs(void) { u16 v; asm volatile("mov %%cs, %0" : "=r"(v)); return v; }
static inline u16 read_ss(void) { u16 v; asm volatile("mov %%ss, %0" : "=r"(v)); return v; }
static inline u16 read_ds(void) { u16 v; asm volatile("mov %%ds, %0" : "=r"(v)); return v; }
static inline u16 read_es(void) { u16 v; asm volatile("mov %%es, %0" : "=r"(v)); return v; }
static inline void write_es(u16 v) { asm volatile("mov %0, %%es" :: "r"(v)); }
static inline void write_ds(u16 v) { asm volatile("mov %0, %%ds" :: "r"(v)); }
static inline u16 str(void) { u16 v; asm volatile("str %0" : "=r"(v)); return v; }

/* CPUID feature tests. */
#define CPUID_FEATURE(leaf, sub, reg, bit) ((cpuid_count(leaf, sub).reg >> (bit)) & 1)
bool cpu_has_ext_leaf(u32 leaf);
#define HAS_APIC()     CPUID_FEATURE(1, 0, d, 9)
#define HAS_X2APIC()   CPUID_FEATURE(1, 0, c, 21)
#define HAS_TSC_DEADLINE() CPUID_FEATURE(1, 0, c, 24)
#define HAS_XSAVE()    CPUID_FEATURE(1, 0, c, 26)
#define HAS_PSE()      CPUID_FEATURE(1, 0, d, 3)
#define HAS_PAE()      CPUID_FEATURE(1, 0, d, 6)
#define HAS_PGE()      CPUID_FEATURE(1, 0, d, 13)
#define HAS_SSE2()     CPUID_FEATURE(1, 0, d, 26)
#define HAS_SMEP()     CPUID_FEATURE(7, 0, b, 7)
#define HAS_SMAP()     CPUID_FEATURE(7, 0, b, 20)
#define HAS_LA57()     CPUID_FEATURE(7, 0, c, 16)
#define HAS_NX()       (cpu_has_ext_leaf(0x80000001) && CPUID_FEATURE(0x80000001, 0, d, 20))
#define HAS_1G_PAGES() (cpu_has_ext_leaf(0x80000001) && CPUID_FEATURE(0x80000001, 0, d, 26))

/* ---- exceptions and interrupts (boot.c, isr.S) ---- */
struct ex_regs {
	u64 rax, rbx, rcx, rdx, rsi, rdi, rbp;
	u64 r8, r9, r10, r11, r12, r13, r14, r15;
	u64 vector, error_code;
	u64 rip, cs, rflags, rsp, ss;
};
typedef void (*handler_t)(struct ex_regs *regs);
/* Installs a handler for a vector (NULL: back to the default). Returns the old one. */
handler_t handle_irq(int vector, handler_t h);
#define handle_exception handle_irq
/* Sets the IST index (0 = none) and DPL of a vector's gate. */
void set_idt_ist(int vector, int ist);
void set_idt_dpl(int vector, int dpl);
void set_idt_type(int vector, int type); /* 0xE interrupt gate, 0xF trap gate */
void set_idt_present(int vector, bool present);
void *idt_base(void);
u64 ist_stack_top(int cpu, int ist);
void set_tss_rsp0(u64 rsp);

/*
 * ASM_TRY(label): if the next instructions fault before reaching `label`,
 * execution resumes at `label` and exception_vector() reports the vector
 * (-1 when nothing faulted). Use inside extended asm (%% escapes).
 */
#define ASM_TRY(label) \
	"movq $-1, %%gs:" __stringify(PERCPU_EX_VECTOR) "\n\t" \
	"movq $" label ", %%gs:" __stringify(PERCPU_EX_FIXUP) "\n\t"
#define ASM_TRY_END "movq $0, %%gs:" __stringify(PERCPU_EX_FIXUP) "\n\t"
#define __stringify_1(x) #x
#define __stringify(x) __stringify_1(x)

struct percpu {
	struct percpu *self;
	u64 ex_fixup;
	s64 ex_vector;
	u64 ex_error;
	u64 ex_cr2;
	u64 ex_rip;
	u32 cpu_id;
	u32 apic_id;
	u64 user_rsp;
	u64 user_ret;
	u8 pad[PERCPU_SIZE - 72];
};
static inline struct percpu *this_cpu(void)
{
	struct percpu *p;
	asm volatile("movq %%gs:0, %0" : "=r"(p));
	return p;
}
static inline int smp_id(void) { return this_cpu()->cpu_id; }
static inline int exception_vector(void) { return (int)this_cpu()->ex_vector; }
static inline u64 exception_error_code(void) { return this_cpu()->ex_error; }
static inline u64 exception_cr2(void) { return this_cpu()->ex_cr2; }
static inline u64 exception_rip(void) { return this_cpu()->ex_rip; }

/* Common instruction probes: return the exception vector or -1. */
int rdmsr_safe(u32 msr, u64 *val);
int wrmsr_safe(u32 msr, u64 val);
int write_cr0_safe(u64 v);
int write_cr4_safe(u64 v);
int xsetbv_safe(u32 idx, u64 v);
int read_byte_safe(const volatile void *p, u8 *val);
int write_byte_safe(volatile void *p, u8 val);
int call_safe(void *fn);

/* Descriptor tables. */
struct desc_ptr { u16 limit; u64 base; } __attribute__((packed));
extern u64 gdt[GDT_ENTRIES];
void set_gdt_entry(int sel, u32 base, u32 limit, u8 access, u8 flags);

/* ---- user mode (isr.S) ---- */
/* Runs `entry(arg1, arg2)` at CPL 3 with the given stack; returns its rax,
 * or -1 after an exception (exception_vector() says which). */
u64 run_user(u64 entry, u64 arg1, u64 arg2, u64 user_stack);
/* Position-independent user-mode probes in their own 4 KiB page. */
extern char user_page[], user_read[], user_write[], user_exec[], user_ret[], user_page_end[];

/* ---- 32-bit protected mode (modeswitch.S) ---- */
/* Leaves long mode for 32-bit protected mode without paging and EFER.LME,
 * calls fn(arg) (cdecl), then re-enters long mode with CR3/CR4 given. */
u32 call32_ex(u32 fn, u32 arg, u64 cr3, u64 cr4);
u32 call32(u32 fn, u32 arg);
/* Exception record of the 32-bit IDT (idt32 in modeswitch.S). */
extern volatile u32 ex32_vector, ex32_error, ex32_cr2, ex32_fixup;

/* ---- memory ---- */
u64 ram_size(void);
void *alloc_page(void);          /* zeroed 4 KiB page, above the image */
void *alloc_pages(int n);
extern u64 boot_pml4[512];      /* the identity map's root */
extern u64 boot_efer;

/* ---- boot info ---- */
extern int boot_argc;
extern char *boot_argv[];
const char *get_arg(const char *key); /* "key=value" → value, "key" → "" */
u64 arg_u64(const char *key, u64 dflt);
extern u32 mbi_flags, mbi_mods_count, mbi_mods_addr;

/* ---- serial (devices.c) ---- */
#define COM1 0x3f8
void serial_init(void);
void serial_putc(char c);

/* ---- exit ---- */
#define DEBUG_EXIT_PORT 0xf4

/* ---- fw_cfg ---- */
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_FILE_DIR 0x19
void fw_cfg_read(u16 key, void *buf, u32 len);
u64 fw_cfg_u64(u16 key);
u16 fw_cfg_u16(u16 key);
bool fw_cfg_present(void);
int fw_cfg_nb_cpus(void);

/* ---- local APIC ---- */
#define APIC_BASE 0xfee00000ul
#define MSR_APIC_BASE 0x1b
#define APIC_EN (1ul << 11)
#define APIC_EXTD (1ul << 10)
#define APIC_BSP (1ul << 8)
#define APIC_ID 0x20
#define APIC_LVR 0x30
#define APIC_TPR 0x80
#define APIC_PPR 0xa0
#define APIC_EOI 0xb0
#define APIC_LDR 0xd0
#define APIC_DFR 0xe0
#define APIC_SPIV 0xf0
#define APIC_ISR 0x100
#define APIC_TMR 0x180
#define APIC_IRR 0x200
#define APIC_ESR 0x280
#define APIC_ICR 0x300
#define APIC_ICR2 0x310
#define APIC_LVTT 0x320
#define APIC_LVTTHMR 0x330
#define APIC_LVTPC 0x340
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_LVTERR 0x370
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR 0x3e0
#define APIC_SELF_IPI 0x3f0
/* ICR bits */
#define APIC_DM_FIXED 0x000
#define APIC_DM_LOWEST 0x100
#define APIC_DM_SMI 0x200
#define APIC_DM_NMI 0x400
#define APIC_DM_INIT 0x500
#define APIC_DM_STARTUP 0x600
#define APIC_DM_EXTINT 0x700
#define APIC_DEST_LOGICAL 0x800
#define APIC_ICR_BUSY 0x1000
#define APIC_INT_ASSERT 0x4000
#define APIC_INT_LEVELTRIG 0x8000
#define APIC_DEST_SELF 0x40000
#define APIC_DEST_ALLINC 0x80000
#define APIC_DEST_ALLBUT 0xc0000
#define APIC_LVT_MASKED (1 << 16)
#define APIC_LVT_TIMER_ONESHOT (0 << 17)
#define APIC_LVT_TIMER_PERIODIC (1 << 17)
#define APIC_LVT_TIMER_TSCDEADLINE (2 << 17)
#define MSR_TSC_DEADLINE 0x6e0
bool x2apic_enabled(void);
u32 apic_read(u32 reg);
void apic_write(u32 reg, u32 val);
void apic_icr_write(u32 low, u32 dest);
u32 apic_id(void);
void apic_eoi(void);
void xapic_enable(void);   /* APIC enabled, xAPIC mode, SPIV software enable */
bool x2apic_enable(void);  /* false when CPUID lacks x2APIC */
void apic_disable(void);
bool apic_isr_set(int vec);
bool apic_irr_set(int vec);

/* ---- IOAPIC ---- */
#define IOAPIC_BASE 0xfec00000ul
u32 ioapic_read(u32 reg);
void ioapic_write(u32 reg, u32 val);
u64 ioapic_read_redir(int pin);
void ioapic_write_redir(int pin, u64 entry);
int ioapic_max_pin(void);
#define IOAPIC_MASKED (1ul << 16)
#define IOAPIC_LEVEL (1ul << 15)
#define IOAPIC_REMOTE_IRR (1ul << 14)
#define IOAPIC_LOW_ACTIVE (1ul << 13)
#define IOAPIC_DELIV_STATUS (1ul << 12)

/* ---- 8259 PIC ---- */
void pic_init(u8 master_base, u8 slave_base);
void pic_set_mask(u16 mask); /* bit n masks IRQ n */
u16 pic_get_mask(void);
void pic_eoi(int irq);
u8 pic_read_isr(int slave);
u8 pic_read_irr(int slave);

/* ---- 8254 PIT ---- */
#define PIT_HZ 1193182
void pit_set_oneshot(u16 count);  /* channel 0, mode 0 */
void pit_set_periodic(u16 count); /* channel 0, mode 2 */
u16 pit_read_count(void);
void pit_stop(void);
/* Busy-waits about `us` microseconds on the ACPI PM timer (bounded). */
void delay_us(u32 us);

/* ---- pc-testdev ---- */
#define TESTDEV_SCRATCH 0xe0
#define TESTDEV_IRQ_PORT(gsi) (0x2000 + (gsi))
static inline void set_gsi_line(int gsi, int level) { outb(level, TESTDEV_IRQ_PORT(gsi)); }

/* ---- ACPI ---- */
struct acpi_header {
	char signature[4];
	u32 length;
	u8 revision, checksum;
	char oem_id[6], oem_table_id[8];
	u32 oem_revision, creator_id, creator_revision;
} __attribute__((packed));
struct rsdp {
	char signature[8];
	u8 checksum;
	char oem_id[6];
	u8 revision;
	u32 rsdt_address;
	u32 length;
	u64 xsdt_address;
	u8 ext_checksum, reserved[3];
} __attribute__((packed));
struct rsdp *acpi_find_rsdp(void);
void *acpi_find_table(const char *sig); /* via XSDT when present, else RSDT */
u8 acpi_checksum(const void *p, u32 len);
u16 acpi_pm_timer_port(void);  /* from the FADT, 0 if not found */
int acpi_madt_cpus(u32 *apic_ids, int max);

/* ---- PCI ---- */
u32 pci_config_read32(int bus, int dev, int fn, int off);
void pci_config_write32(int bus, int dev, int fn, int off, u32 v);
u16 pci_config_read16(int bus, int dev, int fn, int off);
u8 pci_config_read8(int bus, int dev, int fn, int off);

/* ---- SMP (smp.c) ---- */
int cpu_count(void);       /* CPUs online (1 until smp_init) */
int smp_init(void);        /* INIT-SIPI-SIPI all APs; returns CPUs online */
void on_cpu(int cpu, void (*fn)(void *), void *arg);       /* waits for completion */
void on_cpu_async(int cpu, void (*fn)(void *), void *arg);
bool cpu_idle(int cpu);
extern struct percpu percpu_area[MAX_CPUS];
extern volatile u32 cpus_online;

/* ---- spinlocks ---- */
struct spinlock { volatile int v; };
static inline void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE))
		while (l->v)
			pause();
}
static inline void spin_unlock(struct spinlock *l) { __atomic_store_n(&l->v, 0, __ATOMIC_RELEASE); }

int main(int argc, char **argv);

#endif
