/*
 * smc: self-modifying code. Code written and then executed; code that
 * patches the instruction right after itself and its own loop body;
 * instructions straddling a page boundary; writes through an alias mapping
 * of the code's physical page; REP MOVSB copying code over running code.
 */
#include "libnest.h"

extern char smc_inc_start[], smc_inc_end[], smc_loop_start[], smc_loop_end[];
extern char smc_fwd_start[], smc_fwd_end[];

typedef u32 (*fn_t)(void);

static u32 call(void *p) { return ((fn_t)p)(); }

/* "mov $imm32, %eax; ret" at p. */
static void emit_mov_ret(u8 *p, u32 imm)
{
	p[0] = 0xb8;
	memcpy(p + 1, &imm, 4);
	p[5] = 0xc3;
}

int main(int argc, char **argv)
{
	u8 *page = alloc_pages(3);

	/* Write code, run it, rewrite it, run it again. */
	emit_mov_ret(page, 1);
	report(call(page) == 1, "write an instruction, then execute it");
	page[1] = 2;
	report(call(page) == 2, "rewrite its immediate: the new value is used");
	emit_mov_ret(page, 3);
	page[5] = 0x90; /* nop; then mov $4 / ret below */
	emit_mov_ret(page + 6, 4);
	report(call(page) == 4, "replace RET with NOP: execution falls through");

	/* Code that patches itself. */
	u8 *p = page + 0x100;
	memcpy(p, smc_inc_start, smc_inc_end - smc_inc_start);
	u32 a = call(p), b = call(p), c = call(p);
	report(a == 0x11 && b == 0x12 && c == 0x13, "patch the next instruction's immediate (%x %x %x)", a, b, c);
	p = page + 0x200;
	memcpy(p, smc_loop_start, smc_loop_end - smc_loop_start);
	a = call(p);
	report(a == 9, "patch a loop body during the loop (%u, want 9)", a);
	p = page + 0x300;
	memcpy(p, smc_fwd_start, smc_fwd_end - smc_fwd_start);
	a = call(p);
	report(a == 2, "overwrite the next instruction (a JMP) with NOPs (%u)", a);

	/* An instruction straddling a page boundary; patch the part on the second page. */
	p = page + 4096 - 3;
	emit_mov_ret(p, 0x11223344);
	report(call(p) == 0x11223344, "execute an instruction crossing a page boundary");
	page[4096] = 0x55; /* byte 2 of the immediate, on the second page */
	report(call(p) == 0x11553344, "patch its second page: the new bytes are used");
	page[4096 - 1] = 0x66; /* byte 1 of the immediate, on the first page */
	report(call(p) == 0x11556644, "patch its first page: the new bytes are used");

	/* Write through an alias mapping (PML4 slot 3) of the same physical page. */
	u64 *pdpt = alloc_page(), *pd = alloc_page(), *pt = alloc_page();
	boot_pml4[3] = (u64)pdpt | 3;
	pdpt[0] = (u64)pd | 3;
	pd[0] = (u64)pt | 3;
	pt[0] = (u64)(page + 8192) | 3;
	flush_tlb();
	u8 *alias = (u8 *)(3ul << 39);
	u8 *q = page + 8192;
	emit_mov_ret(q, 7);
	report(call(q) == 7, "run code at its identity address");
	alias[1] = 8;
	report(call(q) == 8, "write through an alias mapping: the identity address sees it");
	report(call(alias) == 8, "run the same code through the alias");
	q[1] = 9;
	report(call(alias) == 9, "write through the identity mapping: the alias sees it");
	boot_pml4[3] = 0;
	flush_tlb();

	/* REP MOVSB copying a new routine over one that has run. */
	u8 src[16];
	emit_mov_ret(src, 0xabcd);
	emit_mov_ret(page + 0x400, 0x1234);
	report(call(page + 0x400) == 0x1234, "routine before the copy");
	void *dst = page + 0x400, *s = src;
	size_t n = 6;
	asm volatile("rep movsb" : "+D"(dst), "+S"(s), "+c"(n) :: "memory");
	report(call(page + 0x400) == 0xabcd, "REP MOVSB over code: the copy runs");

	/* Many rewrites of the same bytes. */
	bool ok = true;
	for (u32 i = 0; i < 1000; i++) {
		emit_mov_ret(page + 0x500, i * 7);
		ok &= call(page + 0x500) == i * 7;
	}
	report(ok, "1000 rewrite/execute rounds");
	return report_summary();
}
