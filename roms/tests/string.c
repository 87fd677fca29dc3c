/*
 * string: MOVS/STOS/LODS/CMPS/SCAS with REP/REPE/REPNE, DF=0 and DF=1,
 * every operand size, 64/32/16-bit address sizes (wrap-around), forward
 * overlapping copies, ES and segment overrides, faults in the middle of a
 * REP (registers reflect the iterations done), INS/OUTS on port 0xE0.
 */
#include "libnest.h"

extern u32 str32_log[6];
extern char str32_src[];
extern u32 str32_run(u32);

static u8 a[256], b[256];

static void fill(u8 *p, int n, u8 seed)
{
	for (int i = 0; i < n; i++)
		p[i] = (u8)(seed + i * 7);
}

static void test_movs_stos(void)
{
	fill(a, 256, 1);
	memset(b, 0, 256);
	void *d = b, *s = a;
	u64 n = 100;
	asm volatile("cld; rep movsb" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	report(!memcmp(a, b, 100) && b[100] == 0 && n == 0 && d == b + 100 && s == a + 100, "REP MOVSB forward");
	memset(b, 0, 256);
	d = b, s = a, n = 10;
	asm volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	report(!memcmp(a, b, 80) && b[80] == 0 && d == b + 80, "REP MOVSQ");
	memset(b, 0, 256);
	d = b, s = a, n = 10;
	asm volatile("rep movsw" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	report(!memcmp(a, b, 20) && b[20] == 0 && d == b + 20, "REP MOVSW");
	d = b, s = a, n = 5;
	asm volatile("rep movsl" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	report(!memcmp(a, b, 20) && d == b + 20, "REP MOVSD");

	/* DF=1: copies backwards from the last element. */
	memset(b, 0, 256);
	d = b + 99, s = a + 99, n = 100;
	asm volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	report(!memcmp(a, b, 100) && (u64)d == (u64)b - 1 && (u64)s == (u64)a - 1, "REP MOVSB with DF=1");
	memset(b, 0, 256);
	d = b + 72, s = a + 72, n = 10;
	asm volatile("std; rep movsq; cld" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	report(!memcmp(a, b, 80) && (u64)d == (u64)b - 8, "REP MOVSQ with DF=1");

	/* Overlap: forward copy to src+1 replicates the first byte, element by element. */
	fill(a, 256, 1);
	d = a + 1, s = a, n = 50;
	asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	bool same = true;
	for (int i = 0; i <= 50; i++)
		same &= a[i] == 1;
	report(same && a[51] == (u8)(1 + 51 * 7), "overlapping REP MOVSB (dst = src + 1) replicates byte by byte");
	fill(a, 256, 1);
	d = a + 8, s = a, n = 4;
	asm volatile("rep movsl" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	report(!memcmp(a + 8, a, 8) && !memcmp(a + 16, a, 8), "overlapping REP MOVSD (dst = src + 8)");

	/* RCX = 0: nothing happens, even with bad pointers. */
	d = (void *)0x8000000000000000ul, s = d, n = 0;
	asm volatile(ASM_TRY("1f") "rep movsb\n\t1:\n\t" ASM_TRY_END : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	report(exception_vector() == -1 && d == (void *)0x8000000000000000ul, "REP with RCX=0 does nothing");

	memset(b, 0, 256);
	d = b, n = 33;
	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0x5a) : "memory");
	report(b[0] == 0x5a && b[32] == 0x5a && b[33] == 0 && d == b + 33, "REP STOSB");
	d = b, n = 4;
	asm volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0x1122334455667788ul) : "memory");
	report(((u64 *)b)[3] == 0x1122334455667788ul && d == b + 32, "REP STOSQ");
	d = b + 6, n = 4;
	asm volatile("std; rep stosw; cld" : "+D"(d), "+c"(n) : "a"(0xbeef) : "memory");
	report(((u16 *)b)[0] == 0xbeef && ((u16 *)b)[3] == 0xbeef && (u64)d == (u64)b - 2, "REP STOSW with DF=1");

	/* Non-REP forms. */
	fill(a, 16, 3);
	u64 rax = 0;
	s = a;
	asm volatile("lodsb; lodsb" : "+a"(rax), "+S"(s) :: "memory");
	report((u8)rax == a[1] && s == a + 2, "LODSB twice");
	s = a, n = 4;
	asm volatile("rep lodsl" : "+a"(rax), "+S"(s), "+c"(n) :: "memory");
	report((u32)rax == ((u32 *)a)[3] && s == a + 16, "REP LODSD leaves the last element");
	s = a + 8;
	asm volatile("std; lodsq; cld" : "=a"(rax), "+S"(s) :: "memory");
	report(rax == ((u64 *)a)[1] && s == a, "LODSQ with DF=1");
}

static void test_cmps_scas(void)
{
	fill(a, 64, 9);
	memcpy(b, a, 64);
	b[5] ^= 0xff;
	void *s = a, *d = b;
	u64 n = 64;
	u8 zf;
	asm volatile("repe cmpsb; setz %3" : "+S"(s), "+D"(d), "+c"(n), "=q"(zf) :: "memory", "cc");
	report(n == 64 - 6 && s == a + 6 && d == b + 6 && !zf, "REPE CMPSB stops after the first difference");
	s = a, d = a, n = 8;
	asm volatile("repe cmpsq; setz %3" : "+S"(s), "+D"(d), "+c"(n), "=q"(zf) :: "memory", "cc");
	report(n == 0 && zf, "REPE CMPSQ over equal data runs to RCX=0 with ZF=1");
	s = a, d = b, n = 64;
	asm volatile("repne cmpsb; setz %3" : "+S"(s), "+D"(d), "+c"(n), "=q"(zf) :: "memory", "cc");
	report(n == 63 && zf, "REPNE CMPSB stops at the first equal pair");
	u8 cf;
	s = a + 5, d = b + 5;
	asm volatile("cmpsb; setc %2" : "+S"(s), "+D"(d), "=q"(cf) :: "memory", "cc");
	report(cf == (a[5] < b[5]), "CMPSB flags are those of SRC - DEST");

	memset(a, 'a', 64);
	a[20] = 'x';
	d = a, n = 64;
	asm volatile("repne scasb; setz %2" : "+D"(d), "+c"(n), "=q"(zf) : "a"('x') : "memory", "cc");
	report(zf && d == a + 21 && n == 64 - 21, "REPNE SCASB finds the byte");
	d = a, n = 16;
	asm volatile("repne scasb; setz %2" : "+D"(d), "+c"(n), "=q"(zf) : "a"('z') : "memory", "cc");
	report(!zf && n == 0 && d == a + 16, "REPNE SCASB without a match runs out");
	d = a, n = 64;
	asm volatile("repe scasb; setz %2" : "+D"(d), "+c"(n), "=q"(zf) : "a"('a') : "memory", "cc");
	report(!zf && d == a + 21, "REPE SCASB stops at the first different byte");
	d = a + 63, n = 64;
	asm volatile("std; repne scasb; cld; setz %2" : "+D"(d), "+c"(n), "=q"(zf) : "a"('x') : "memory", "cc");
	report(zf && d == a + 19, "REPNE SCASB with DF=1 scans backwards");
	((u16 *)a)[3] = 0x1234;
	d = a, n = 32;
	asm volatile("repne scasw; setz %2" : "+D"(d), "+c"(n), "=q"(zf) : "a"(0x1234) : "memory", "cc");
	report(zf && d == a + 8, "REPNE SCASW");
}

static void test_address_size(void)
{
	/* 32-bit address size in 64-bit mode: ECX/EDI, upper halves cleared. */
	u8 *buf = alloc_page();
	u64 d = (u64)buf, n = 0xffffffff00000004ul;
	asm volatile("addr32 rep stosb" : "+D"(d), "+c"(n) : "a"(0x77) : "memory");
	report(buf[3] == 0x77 && buf[4] == 0 && n == 0 && d == (u64)buf + 4, "a32 REP STOSB uses ECX and EDI");
	d = (u64)buf | 0xabcd00000000ul, n = 2;
	asm volatile("addr32 rep stosb" : "+D"(d), "+c"(n) : "a"(0x66) : "memory");
	report(buf[0] == 0x66 && buf[1] == 0x66 && d == (u64)buf + 2, "a32: upper bits of RDI are ignored and cleared");

	/* 16-bit address size and segments, from 32-bit protected mode. */
	set_gdt_entry(KERNEL_DS16, LOW_SCRATCH, 0xffff, 0x93, 0);
	volatile u8 *low = (u8 *)LOW_SCRATCH;
	memset((void *)low, 0, 0x10000);
	call32((u32)(u64)str32_run, 0);
	report(low[0xfffe] == 0xab && low[0xffff] == 0xab && low[0] == 0xab && low[1] == 0xab && low[2] == 0,
	       "a16 REP STOSB wraps DI from 0xffff to 0 within ES");
	report(str32_log[0] == 0x12340002 && str32_log[1] == 0xabcd0000, "a16: only DI and CX change (EDI %x ECX %x)",
	       str32_log[0], str32_log[1]);
	report(low[0x100] == 0xcd && low[0x103] == 0xcd && str32_log[2] == 0x104, "STOS writes through ES (base %x)", LOW_SCRATCH);
	report(!memcmp((void *)(low + 0x200), str32_src, 8), "MOVSB with an FS source override");
	report(str32_log[4] == 0xab, "a16 LODSB at SI=0xffff");
	report(str32_log[5] == 0x56780000, "a16 LODSB: SI wraps to 0, upper ESI kept (%x)", str32_log[5]);
}

static void test_fault_midway(void)
{
	/* One mapped page at 3 << 39, the next one not present. */
	u64 *pdpt = alloc_page(), *pd = alloc_page(), *pt = alloc_page();
	u8 *pg = alloc_page();
	boot_pml4[3] = (u64)pdpt | 3;
	pdpt[0] = (u64)pd | 3;
	pd[0] = (u64)pt | 3;
	pt[0] = (u64)pg | 3;
	flush_tlb();
	u64 va = 3ul << 39;
	u64 d = va + 4000, n = 200;
	asm volatile(ASM_TRY("1f") "rep stosb\n\t1:\n\t" ASM_TRY_END : "+D"(d), "+c"(n) : "a"(0x42) : "memory");
	report(exception_vector() == 14 && exception_cr2() == va + 4096, "REP STOSB faults on the unmapped page");
	report(n == 200 - 96 && d == va + 4096 && pg[4095] == 0x42 && pg[4000] == 0x42,
	       "registers reflect the 96 completed iterations (RCX %lu)", n);
	u64 s = (u64)a;
	d = va + 4096 - 16, n = 8;
	asm volatile(ASM_TRY("1f") "rep movsq\n\t1:\n\t" ASM_TRY_END : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	report(exception_vector() == 14 && n == 6 && s == (u64)a + 16, "REP MOVSQ fault leaves RCX/RSI/RDI at the faulting element");
	boot_pml4[3] = 0;
	flush_tlb();
}

static void test_ins_outs(void)
{
	u32 data[3] = { 0x11111111, 0x22222222, 0x33333333 };
	void *s = data;
	u64 n = 3;
	asm volatile("rep outsl" : "+S"(s), "+c"(n) : "d"(TESTDEV_SCRATCH) : "memory");
	report(inl(TESTDEV_SCRATCH) == 0x33333333 && s == data + 3, "REP OUTSD: port 0xE0 holds the last element");
	u8 bytes[4] = { 1, 2, 3, 4 };
	s = bytes, n = 4;
	asm volatile("rep outsb" : "+S"(s), "+c"(n) : "d"(TESTDEV_SCRATCH) : "memory");
	report(inl(TESTDEV_SCRATCH) == 0x33333304, "REP OUTSB writes the low byte each time");
	outl(0xcafef00d, TESTDEV_SCRATCH);
	u32 in[4] = { 0 };
	void *d = in;
	n = 3;
	asm volatile("rep insl" : "+D"(d), "+c"(n) : "d"(TESTDEV_SCRATCH) : "memory");
	report(in[0] == 0xcafef00d && in[2] == 0xcafef00d && in[3] == 0 && d == in + 3, "REP INSD");
	u16 w[4] = { 0 };
	d = w + 3, n = 2;
	asm volatile("std; rep insw; cld" : "+D"(d), "+c"(n) : "d"(TESTDEV_SCRATCH) : "memory");
	report(w[3] == 0xf00d && w[2] == 0xf00d && w[1] == 0 && d == w + 1, "REP INSW with DF=1");
	u8 c[2] = { 0 };
	d = c;
	asm volatile("insb" : "+D"(d) : "d"(TESTDEV_SCRATCH + 1) : "memory");
	report(c[0] == 0xf0 && d == c + 1, "INSB from port 0xE1 reads byte 1");
}

int main(int argc, char **argv)
{
	test_movs_stos();
	test_cmps_scas();
	test_address_size();
	test_fault_midway();
	test_ins_outs();
	return report_summary();
}
