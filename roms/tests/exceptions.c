/*
 * exceptions: delivery of the architectural exceptions in long mode (and a
 * few only reachable in 32-bit mode): vectors, error codes (segment
 * selectors, IDT bit), CR2, the saved RIP (fault vs trap), #DF and IST
 * stack switching.
 */
#include "libnest.h"

extern u32 into_overflow(u32), into_no_overflow(u32), bound_check(u32);

static void test_de(void)
{
	u64 at;
	u32 a = 1, d = 0, zero = 0;
	asm volatile("leaq 2f(%%rip), %0\n\t" ASM_TRY("1f") "2: divl %3\n\t1:\n\t" ASM_TRY_END
		     : "=&r"(at), "+a"(a), "+d"(d) : "r"(zero) : "memory");
	report(exception_vector() == 0 && exception_rip() == at, "#DE on DIV by zero, RIP at the DIV");
	/* Quotient overflow: 0x100000000 / 1 does not fit in 32 bits. */
	a = 0; d = 1; u32 one = 1;
	asm volatile(ASM_TRY("1f") "divl %2\n\t1:\n\t" ASM_TRY_END : "+a"(a), "+d"(d) : "r"(one) : "memory");
	report(exception_vector() == 0, "#DE on DIV quotient overflow");
	s32 sa = (s32)0x80000000, sd = -1, m1 = -1;
	asm volatile(ASM_TRY("1f") "idivl %2\n\t1:\n\t" ASM_TRY_END : "+a"(sa), "+d"(sd) : "r"(m1) : "memory");
	report(exception_vector() == 0, "#DE on IDIV INT_MIN / -1");
}

static void test_ud(void)
{
	u64 at;
	asm volatile("leaq 2f(%%rip), %0\n\t" ASM_TRY("1f") "2: ud2\n\t1:\n\t" ASM_TRY_END : "=r"(at) :: "memory");
	report(exception_vector() == 6 && exception_rip() == at, "#UD on UD2, RIP at the UD2");
	asm volatile(ASM_TRY("1f") ".byte 0xce\n\t1:\n\t" ASM_TRY_END ::: "memory");
	report(exception_vector() == 6, "#UD on INTO in 64-bit mode");
	asm volatile(ASM_TRY("1f") "lock; nop\n\t1:\n\t" ASM_TRY_END ::: "memory");
	report(exception_vector() == 6, "#UD on LOCK NOP");
}

static void test_gp(void)
{
	u16 sel = 0x1ff8; /* beyond the GDT limit */
	asm volatile(ASM_TRY("1f") "mov %0, %%fs\n\t1:\n\t" ASM_TRY_END :: "r"(sel) : "memory");
	report(exception_vector() == 13 && exception_error_code() == 0x1ff8,
	       "#GP(selector) loading FS beyond the GDT limit (error %lx)", exception_error_code());

	sel = USER_DS; /* RPL 3 != CPL 0 */
	asm volatile(ASM_TRY("1f") "mov %0, %%ss\n\t1:\n\t" ASM_TRY_END :: "r"(sel) : "memory");
	report(exception_vector() == 13 && exception_error_code() == (USER_DS & ~3u),
	       "#GP(selector) loading SS with RPL != CPL (error %lx)", exception_error_code());

	sel = KERNEL_CS; /* code segment is not readable-writable data for SS */
	asm volatile(ASM_TRY("1f") "mov %0, %%ss\n\t1:\n\t" ASM_TRY_END :: "r"(sel) : "memory");
	report(exception_vector() == 13 && exception_error_code() == KERNEL_CS,
	       "#GP(selector) loading SS with a code segment");

	volatile u64 *nc = (volatile u64 *)0x8000000000000000ul;
	u64 v = 0;
	asm volatile(ASM_TRY("1f") "movq (%1), %0\n\t1:\n\t" ASM_TRY_END : "+r"(v) : "r"(nc) : "memory");
	report(exception_vector() == 13 && exception_error_code() == 0, "#GP(0) on a non-canonical access");

	asm volatile(ASM_TRY("1f") "wrmsr\n\t1:\n\t" ASM_TRY_END :: "c"(0xdeadbeef), "a"(0), "d"(0) : "memory");
	report_tcg_quirk(exception_vector() == 13 && exception_error_code() == 0, "#GP(0) on WRMSR to a missing MSR");

	/* INT n through a DPL 0 gate from CPL 3 → #GP(vector * 8 + 2). */
	u64 *pml4 = boot_pml4;
	u64 *pt_user = alloc_page();
	u64 *pd = alloc_page(), *pdpt = alloc_page();
	/* Map user_page (code) and a stack at 1 TiB (PML4 slot 2) with U=1. */
	u64 va = 2ul << 39;
	pml4[2] = (u64)pdpt | 7;
	pdpt[0] = (u64)pd | 7;
	pd[0] = (u64)pt_user | 7;
	pt_user[0] = (u64)user_page | 5; /* P | U, read-only */
	u8 *ustack = alloc_page();
	pt_user[1] = (u64)ustack | 7;
	/* A code page for user mode: "int $0x41; int $0x80". */
	u8 *ucode = alloc_page();
	ucode[0] = 0xcd, ucode[1] = 0x41, ucode[2] = 0xcd, ucode[3] = USER_RET_VECTOR;
	pt_user[2] = (u64)ucode | 5;
	flush_tlb();
	u64 r = run_user(va + 0x2000, 0, 0, va + 0x2000);
	report_tcg_quirk(r == (u64)-1 && exception_vector() == 13 && exception_error_code() == (0x41 * 8 + 2),
	       "#GP(IDT vector 0x41) on INT 0x41 from CPL 3 through a DPL 0 gate (error %lx)",
	       exception_error_code());
	r = run_user(va + (user_ret - user_page), 0x1234, 0, va + 0x2000);
	report(r == 0x1234, "CPL 3 round trip through a DPL 3 gate");
	u64 cr0 = 0;
	ucode[0] = 0x0f, ucode[1] = 0x20, ucode[2] = 0xc0; /* mov %cr0, %rax */
	ucode[3] = 0xcd, ucode[4] = USER_RET_VECTOR;
	r = run_user(va + 0x2000, 0, 0, va + 0x2000);
	report(r == (u64)-1 && exception_vector() == 13 && exception_error_code() == 0,
	       "#GP(0) on MOV from CR0 at CPL 3");
	(void)cr0;
	pml4[2] = 0;
	flush_tlb();
}

static void test_np_ss(void)
{
	/* A present-bit-clear data segment → #NP(selector). */
	set_gdt_entry(SPARE_SEL, 0, 0xfffff, 0x13, 0xc);
	u16 sel = SPARE_SEL;
	asm volatile(ASM_TRY("1f") "mov %0, %%fs\n\t1:\n\t" ASM_TRY_END :: "r"(sel) : "memory");
	report(exception_vector() == 11 && exception_error_code() == SPARE_SEL,
	       "#NP(selector) loading a not-present segment (error %lx)", exception_error_code());
	gdt[SPARE_SEL >> 3] = 0;

	/* Not-present IDT gate → #NP(vector * 8 + 2). */
	set_idt_present(0x42, false);
	asm volatile(ASM_TRY("1f") "int $0x42\n\t1:\n\t" ASM_TRY_END ::: "memory");
	report_tcg_quirk(exception_vector() == 11 && exception_error_code() == (0x42 * 8 + 2),
	       "#NP(IDT vector 0x42) on INT through a not-present gate (error %lx)", exception_error_code());
	set_idt_present(0x42, true);

	/* A non-canonical address formed from RSP → #SS(0). */
	u64 off = 0x8000000000000000ul, v = 0;
	asm volatile(ASM_TRY("1f") "movq (%%rsp,%1,1), %0\n\t1:\n\t" ASM_TRY_END : "+r"(v) : "r"(off) : "memory");
	report_tcg_quirk(exception_vector() == 12 && exception_error_code() == 0,
			 "#SS(0) on a non-canonical stack access (vector %d)", exception_vector());
}

static void test_pf(void)
{
	volatile u64 *p = (volatile u64 *)0x100000000000ul; /* 16 TiB: not mapped */
	u64 v = 0;
	asm volatile(ASM_TRY("1f") "movq (%1), %0\n\t1:\n\t" ASM_TRY_END : "+r"(v) : "r"(p) : "memory");
	report(exception_vector() == 14 && exception_cr2() == (u64)p && exception_error_code() == 0,
	       "#PF read of an unmapped address: CR2 and error code 0 (error %lx)", exception_error_code());
	asm volatile(ASM_TRY("1f") "movq $1, 8(%0)\n\t1:\n\t" ASM_TRY_END :: "r"(p) : "memory");
	report(exception_vector() == 14 && exception_cr2() == (u64)p + 8 && exception_error_code() == 2,
	       "#PF write of an unmapped address: CR2 and error code 2 (error %lx)", exception_error_code());
	/* An access straddling into an unmapped page reports the first unmapped byte. */
	asm volatile(ASM_TRY("1f") "movq (%1), %0\n\t1:\n\t" ASM_TRY_END : "+r"(v) : "r"(0xfffffffcul) : "memory");
	/* 0xfffffffc..0x100000003: the upper half at 4 GiB is not mapped. */
	report(exception_vector() == 14 && exception_cr2() == 0x100000000ul,
	       "#PF on a page-crossing access: CR2 is the first byte of the missing page (%lx)", exception_cr2());
}

static u64 bp_rsp;
static int bp_count;
static void bp_handler(struct ex_regs *r)
{
	bp_count++;
	bp_rsp = (u64)r;
}

static void test_bp_ist(void)
{
	u64 after;
	asm volatile(ASM_TRY("1f") "int3\n\t2:\n\t1:\n\t" ASM_TRY_END "leaq 2b(%%rip), %0" : "=r"(after) :: "memory");
	report(exception_vector() == 3 && exception_rip() == after, "#BP on INT3 is a trap: RIP after the INT3");
	asm volatile(ASM_TRY("1f") ".byte 0xcd, 0x03\n\t2:\n\t1:\n\t" ASM_TRY_END "leaq 2b(%%rip), %0" : "=r"(after) :: "memory");
	report(exception_vector() == 3 && exception_rip() == after, "INT 3 (CD 03) delivers vector 3");

	handle_exception(3, bp_handler);
	asm volatile("int3" ::: "memory");
	u64 stack = (u64)&bp_rsp;
	report(bp_count == 1 && bp_rsp < (u64)__builtin_frame_address(0) + 65536 && bp_rsp > stack - 65536,
	       "#BP handler without IST runs on the current stack");
	set_idt_ist(3, 2);
	asm volatile("int3" ::: "memory");
	u64 top = ist_stack_top(0, 2);
	report(bp_count == 2 && bp_rsp < top && bp_rsp >= top - IST_SIZE, "#BP handler with IST2 runs on the IST2 stack");
	set_idt_ist(3, 0);
	handle_exception(3, NULL);
}

static u64 df_frame, df_error, df_rip;
static void df_handler(struct ex_regs *r)
{
	df_frame = (u64)r;
	df_error = r->error_code;
	df_rip = r->rip;
	r->rip = this_cpu()->ex_fixup; /* resume after the probe */
	this_cpu()->ex_fixup = 0;
	this_cpu()->ex_vector = 8;
}

static void test_df(void)
{
	/* #GP whose gate is not present → #NP during delivery → #DF. */
	handle_exception(8, df_handler);
	set_idt_ist(8, 1);
	set_idt_present(13, false);
	u64 v = 0;
	asm volatile(ASM_TRY("1f") "movq (%1), %0\n\t1:\n\t" ASM_TRY_END : "+r"(v) : "r"(0x8000000000000000ul) : "memory");
	set_idt_present(13, true);
	u64 top = ist_stack_top(0, 1);
	report(exception_vector() == 8 && df_error == 0, "#DF on #GP with a not-present #GP gate (error 0)");
	report(df_frame < top && df_frame >= top - IST_SIZE, "#DF handler ran on IST1");

	/* #PF whose gate is not present → #NP → #DF as well. */
	df_frame = 0;
	set_idt_present(14, false);
	asm volatile(ASM_TRY("1f") "movq (%1), %0\n\t1:\n\t" ASM_TRY_END : "+r"(v) : "r"(0x100000000000ul) : "memory");
	set_idt_present(14, true);
	report(exception_vector() == 8 && df_frame, "#DF on #PF with a not-present #PF gate");

	/* A benign first exception (#BP) followed by #NP is not a #DF. */
	set_idt_present(3, false);
	asm volatile(ASM_TRY("1f") "int3\n\t1:\n\t" ASM_TRY_END ::: "memory");
	set_idt_present(3, true);
	report(exception_vector() == 11, "#NP (not #DF) on INT3 with a not-present gate");
	report_tcg_quirk(exception_error_code() == (3 * 8 + 2), "#NP error code is vector * 8 + IDT (error %lx)",
			 exception_error_code());
	set_idt_ist(8, 0);
	handle_exception(8, NULL);
}

static void test_32bit(void)
{
	report(call32((u32)(u64)into_overflow, 0) == 4, "#OF on INTO with OF=1 (32-bit mode)");
	report(call32((u32)(u64)into_no_overflow, 0) == ~0u, "no exception on INTO with OF=0 (32-bit mode)");
	report(call32((u32)(u64)bound_check, 15) == ~0u, "BOUND within range passes (32-bit mode)");
	report(call32((u32)(u64)bound_check, 21) == 5, "#BR on BOUND out of range (32-bit mode)");
}

int main(int argc, char **argv)
{
	test_de();
	test_ud();
	test_gp();
	test_np_ss();
	test_pf();
	test_bp_ist();
	test_df();
	test_32bit();
	return report_summary();
}
