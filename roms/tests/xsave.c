/*
 * xsave: XGETBV/XSETBV and the XCR0 rules (#UD without CR4.OSXSAVE, #GP for
 * XCR0 without x87, AVX without SSE, unsupported bits, XCR index other than
 * 0, CPL 3), XSAVE/XRSTOR round trips of x87 and SSE state, the XSAVE
 * header (XSTATE_BV), XRSTOR #GP on reserved header bits, alignment #GP,
 * XSAVEOPT and XSAVEC (compacted format) when CPUID has them.
 * Built with -msse2 (see roms/images.toml).
 */
#include "libnest.h"

typedef long long v2di __attribute__((vector_size(16)));

#define XSTATE_X87 1ul
#define XSTATE_SSE 2ul
#define XSTATE_AVX 4ul

static u8 area[4096] __aligned(64);
static u8 area2[4096] __aligned(64);

static int xsave_safe(void *p, u64 mask)
{
	asm volatile(ASM_TRY("1f") "xsave (%0)\n\t1:\n\t" ASM_TRY_END
		     :: "r"(p), "a"((u32)mask), "d"((u32)(mask >> 32)) : "memory");
	return exception_vector();
}

static int xrstor_safe(void *p, u64 mask)
{
	asm volatile(ASM_TRY("1f") "xrstor (%0)\n\t1:\n\t" ASM_TRY_END
		     :: "r"(p), "a"((u32)mask), "d"((u32)(mask >> 32)) : "memory");
	return exception_vector();
}

static int xgetbv_safe(u32 idx, u64 *v)
{
	u32 a = 0, d = 0;
	asm volatile(ASM_TRY("1f") "xgetbv\n\t1:\n\t" ASM_TRY_END : "+a"(a), "+d"(d) : "c"(idx) : "memory");
	*v = a | ((u64)d << 32);
	return exception_vector();
}

static u64 xstate_bv(void *p) { return *(u64 *)((u8 *)p + 512); }
static u64 xcomp_bv(void *p) { return *(u64 *)((u8 *)p + 520); }

int main(int argc, char **argv)
{
	if (!HAS_XSAVE()) {
		report_skip("XSAVE: CPUID lacks it");
		return report_summary();
	}
	struct cpuid d0 = cpuid_count(0xd, 0), d1 = cpuid_count(0xd, 1);
	u64 supported = d0.a | ((u64)d0.d << 32);
	report(supported & XSTATE_X87 && supported & XSTATE_SSE, "CPUID.(0xD,0) lists x87 and SSE (%lx)", supported);
	report(d0.c >= 576 && d0.b >= 576, "XSAVE area sizes at least 576 (max %u, current %u)", d0.c, d0.b);

	/* Without CR4.OSXSAVE every XSAVE instruction is #UD. */
	write_cr4(read_cr4() & ~CR4_OSXSAVE);
	u64 v;
	report(xgetbv_safe(0, &v) == 6, "#UD on XGETBV with CR4.OSXSAVE=0");
	report(xsetbv_safe(0, 3) == 6, "#UD on XSETBV with CR4.OSXSAVE=0");
	report(xsave_safe(area, ~0ul) == 6, "#UD on XSAVE with CR4.OSXSAVE=0");
	report(!(cpuid(1).c & BIT(27)), "CPUID.1:ECX.OSXSAVE is 0");

	write_cr4(read_cr4() | CR4_OSXSAVE);
	report(cpuid(1).c & BIT(27), "CPUID.1:ECX.OSXSAVE mirrors CR4.OSXSAVE");
	report(xgetbv_safe(0, &v) == -1 && v == XSTATE_X87, "XCR0 is 1 after RESET (%lx)", v);

	/* XCR0 rules. */
	report(xsetbv_safe(0, 0) == 13, "#GP on XCR0 = 0 (x87 must be set)");
	report(xsetbv_safe(0, XSTATE_SSE) == 13, "#GP on XCR0 = SSE without x87");
	if (supported & XSTATE_AVX)
		report(xsetbv_safe(0, XSTATE_X87 | XSTATE_AVX) == 13, "#GP on XCR0 = AVX without SSE");
	else
		report(xsetbv_safe(0, XSTATE_X87 | XSTATE_AVX) == 13, "#GP on XCR0 with unsupported AVX");
	u64 unsupported = 0;
	for (int bit = 62; bit > 2; bit--)
		if (!(supported & BIT(bit))) {
			unsupported = BIT(bit);
			break;
		}
	report(xsetbv_safe(0, 3 | unsupported) == 13, "#GP on XCR0 with an unsupported bit (%lx)", unsupported);
	report(xsetbv_safe(1, 3) == 13, "#GP on XSETBV to XCR1");
	report(xsetbv_safe(0x80, 3) == 13, "#GP on XSETBV to a missing XCR");
	report(xsetbv_safe(0, 3) == -1 && xgetbv(0) == 3, "XCR0 = x87 | SSE");
	if (supported & XSTATE_AVX)
		report(xsetbv_safe(0, 7) == -1 && xgetbv(0) == 7, "XCR0 = x87 | SSE | AVX");
	xsetbv_safe(0, 3);

	/* XSAVE/XRSTOR round trip of XMM and x87 state. */
	memset(area, 0, sizeof(area));
	v2di x5 = { 0x0102030405060708l, 0x1112131415161718l }, out;
	double pi;
	asm volatile("fninit; fldpi; movdqa %0, %%xmm5" :: "x"(x5) : "xmm5");
	report(xsave_safe(area, ~0ul) == -1, "XSAVE with RFBM = all");
	report((xstate_bv(area) & 3) == 3 || (xstate_bv(area) & 2), "XSTATE_BV records SSE (%lx)", xstate_bv(area));
	report(!memcmp(area + 160 + 5 * 16, &x5, 16), "XMM5 saved at offset 160 + 5 * 16");
	report(*(u16 *)area == 0x037f, "FCW saved at offset 0");
	asm volatile("fninit; pxor %%xmm5, %%xmm5" ::: "xmm5");
	report(xrstor_safe(area, ~0ul) == -1, "XRSTOR");
	asm volatile("movdqa %%xmm5, %0; fstpl %1" : "=x"(out), "=m"(pi));
	u64 pib;
	memcpy(&pib, &pi, 8);
	report(out[0] == x5[0] && out[1] == x5[1], "XMM5 restored");
	report(pib == 0x400921fb54442d18ul, "x87 ST0 restored (pi)");

	/* RFBM without SSE leaves XMM state alone on XRSTOR. */
	asm volatile("pxor %%xmm5, %%xmm5" ::: "xmm5");
	xrstor_safe(area, XSTATE_X87);
	asm volatile("movdqa %%xmm5, %0" : "=x"(out));
	report(out[0] == 0 && out[1] == 0, "XRSTOR with RFBM = x87 does not touch XMM5");
	asm volatile("fninit");

	/* XSTATE_BV clear for SSE → XRSTOR initializes XMM (to zero). */
	memcpy(area2, area, 1024);
	*(u64 *)(area2 + 512) &= ~XSTATE_SSE;
	asm volatile("movdqa %0, %%xmm5" :: "x"(x5) : "xmm5");
	xrstor_safe(area2, ~0ul);
	asm volatile("movdqa %%xmm5, %0" : "=x"(out));
	report(out[0] == 0 && out[1] == 0, "XRSTOR with XSTATE_BV.SSE = 0 initializes XMM5");
	asm volatile("fninit");

	/* Faults. */
	memcpy(area2, area, 1024);
	*(u64 *)(area2 + 512) |= BIT(62); /* not in XCR0 */
	report(xrstor_safe(area2, ~0ul) == 13, "#GP on XRSTOR with XSTATE_BV bits outside XCR0");
	memcpy(area2, area, 1024);
	*(u64 *)(area2 + 528) = 1; /* header bytes 16..63 must be zero */
	report(xrstor_safe(area2, ~0ul) == 13, "#GP on XRSTOR with nonzero reserved header bytes");
	report(xsave_safe(area + 16, ~0ul) == 13, "#GP on XSAVE to an address not 64-byte aligned");

	/* XSAVEOPT saves the same data as XSAVE. */
	if (d1.a & BIT(0)) {
		memset(area2, 0, 1024);
		asm volatile("movdqa %0, %%xmm5" :: "x"(x5) : "xmm5");
		asm volatile("xsaveopt (%0)" :: "r"(area2), "a"(~0u), "d"(~0u) : "memory");
		report(!memcmp(area2 + 160 + 5 * 16, &x5, 16), "XSAVEOPT saves XMM5");
	} else {
		report_skip("XSAVEOPT: CPUID lacks it");
	}
	/* XSAVEC: compacted format, XCOMP_BV bit 63. */
	if (d1.a & BIT(1)) {
		memset(area2, 0, 1024);
		asm volatile("movdqa %0, %%xmm5" :: "x"(x5) : "xmm5");
		asm volatile("xsavec (%0)" :: "r"(area2), "a"(~0u), "d"(~0u) : "memory");
		report(xcomp_bv(area2) & BIT(63), "XSAVEC sets XCOMP_BV bit 63 (%lx)", xcomp_bv(area2));
		report(!memcmp(area2 + 160 + 5 * 16, &x5, 16), "XSAVEC saves XMM5 in the legacy area");
		asm volatile("pxor %%xmm5, %%xmm5" ::: "xmm5");
		report(xrstor_safe(area2, ~0ul) == -1, "XRSTOR of a compacted image");
		asm volatile("movdqa %%xmm5, %0" : "=x"(out));
		report(out[0] == x5[0], "XMM5 restored from the compacted image");
	} else {
		report_skip("XSAVEC: CPUID lacks it");
	}
	return report_summary();
}
