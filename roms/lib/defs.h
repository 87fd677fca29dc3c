/* Constants shared by the C and assembly parts of nestor's guest library. */
#ifndef NESTOR_DEFS_H
#define NESTOR_DEFS_H

/* Where images are linked (identity mapped). */
#define IMAGE_BASE 0x200000

/* GDT selectors (see entry32.S for the table itself). */
#define KERNEL_CS   0x08 /* 64-bit code, DPL 0 */
#define KERNEL_DS   0x10 /* flat 4 GiB data, DPL 0 */
#define KERNEL_CS32 0x18 /* flat 32-bit code, DPL 0 */
#define KERNEL_CS16 0x20 /* 16-bit code, base 0, limit 64 KiB */
#define KERNEL_DS16 0x28 /* 16-bit data, base 0, limit 64 KiB */
#define USER_DS     0x33 /* flat data, DPL 3 */
#define USER_CS     0x3b /* 64-bit code, DPL 3 */
#define USER_CS32   0x43 /* 32-bit code, DPL 3 */
#define SPARE_SEL   0x48 /* free for tests */
#define TSS_SEL_BASE 0x50 /* 16-byte TSS descriptor per CPU */
#define MAX_CPUS    16
#define GDT_ENTRIES (10 + 2 * MAX_CPUS)

#define STACK_SIZE  16384
#define IST_SIZE    4096

/* Per-CPU area (GS base points at it). */
#define PERCPU_SELF      0
#define PERCPU_EX_FIXUP  8
#define PERCPU_EX_VECTOR 16
#define PERCPU_EX_ERROR  24
#define PERCPU_EX_CR2    32
#define PERCPU_EX_RIP    40
#define PERCPU_CPU_ID    48
#define PERCPU_APIC_ID   52
#define PERCPU_USER_RSP  56
#define PERCPU_USER_RET  64
#define PERCPU_SIZE      256

/* Low memory used by the library. */
#define AP_TRAMPOLINE    0x8000 /* SIPI vector 0x08 */
#define LOW_SCRATCH      0x10000 /* 64 KiB free for tests' real-mode code */

/* Vector used by user-mode code to return to the kernel. */
#define USER_RET_VECTOR  0x80

/* Control register bits. */
#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_TS (1 << 3)
#define CR0_NE (1 << 5)
#define CR0_WP (1 << 16)
#define CR0_AM (1 << 18)
#define CR0_PG (1 << 31)
#define CR4_VME (1 << 0)
#define CR4_PSE (1 << 4)
#define CR4_PAE (1 << 5)
#define CR4_PGE (1 << 7)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define CR4_UMIP (1 << 11)
#define CR4_LA57 (1 << 12)
#define CR4_PCIDE (1 << 17)
#define CR4_OSXSAVE (1 << 18)
#define CR4_SMEP (1 << 20)
#define CR4_SMAP (1 << 21)
#define CR4_PKE (1 << 22)

#define MSR_EFER 0xc0000080
#define EFER_SCE (1 << 0)
#define EFER_LME (1 << 8)
#define EFER_LMA (1 << 10)
#define EFER_NXE (1 << 11)
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102

#endif
