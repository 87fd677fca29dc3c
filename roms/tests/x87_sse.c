/*
 * x87_sse: x87 arithmetic, rounding, comparisons and the status word
 * (exceptions masked, then #MF with one unmasked), and SSE/SSE2 float and
 * integer operations compared with known bit patterns; MXCSR, #XM, #NM
 * (CR0.TS), #UD without CR4.OSFXSR, FXSAVE/FXRSTOR.
 * Built with -msse2 (see roms/images.toml).
 */
#include "libnest.h"

typedef float v4sf __attribute__((vector_size(16)));
typedef double v2df __attribute__((vector_size(16)));
typedef int v4si __attribute__((vector_size(16)));
typedef long long v2di __attribute__((vector_size(16)));
typedef short v8hi __attribute__((vector_size(16)));
typedef char v16qi __attribute__((vector_size(16)));
typedef unsigned char v16qu __attribute__((vector_size(16)));

static u64 bits(double d)
{
	u64 u;
	memcpy(&u, &d, 8);
	return u;
}

static u32 fbits(float f)
{
	u32 u;
	memcpy(&u, &f, 4);
	return u;
}

/* Opaque values so the compiler cannot fold the arithmetic. */
static double opaque(double d)
{
	asm volatile("" : "+m"(d));
	return d;
}

static void test_x87(void)
{
	report_prefix_push("x87");
	u16 cw, sw;
	asm volatile("fninit; fnstcw %0; fnstsw %1" : "=m"(cw), "=m"(sw));
	report(cw == 0x037f && sw == 0, "FNINIT: control word 0x37f, status 0 (cw %x sw %x)", cw, sw);

	double r, three = opaque(3.0), a = opaque(1.5), b = opaque(2.5), ten = opaque(10.0), four = opaque(4.0), two = opaque(2.0);
	asm volatile("fld1; fldl %1; faddp; fstpl %0" : "=m"(r) : "m"(three));
	report(bits(r) == bits(4.0), "FLD1 + 3.0 = 4.0");
	asm volatile("fldl %1; fmull %2; fstpl %0" : "=m"(r) : "m"(a), "m"(b));
	report(bits(r) == bits(3.75), "FMUL 1.5 * 2.5 = 3.75");
	asm volatile("fldl %1; fdivl %2; fstpl %0" : "=m"(r) : "m"(ten), "m"(four));
	report(bits(r) == bits(2.5), "FDIV 10 / 4 = 2.5");
	asm volatile("fldl %1; fsqrt; fstpl %0" : "=m"(r) : "m"(two));
	report(bits(r) == 0x3ff6a09e667f3bcdul, "FSQRT 2 (%lx)", bits(r));
	asm volatile("fldl %1; fsubrl %2; fstpl %0" : "=m"(r) : "m"(a), "m"(ten));
	report(bits(r) == bits(8.5), "FSUBR 10 - 1.5 = 8.5");
	asm volatile("fldl %1; fchs; fabs; fchs; fstpl %0" : "=m"(r) : "m"(three));
	report(bits(r) == bits(-3.0), "FCHS/FABS");
	asm volatile("fldpi; fstpl %0" : "=m"(r));
	report(bits(r) == 0x400921fb54442d18ul, "FLDPI");
	asm volatile("fldl2e; fstpl %0" : "=m"(r));
	report(bits(r) == 0x3ff71547652b82feul, "FLDL2E");

	/* FIST rounds to nearest even. */
	s32 i1, i2, i3;
	double h1 = opaque(2.5), h2 = opaque(3.5), h3 = opaque(-2.5);
	asm volatile("fldl %3; fistpl %0; fldl %4; fistpl %1; fldl %5; fistpl %2"
		     : "=m"(i1), "=m"(i2), "=m"(i3) : "m"(h1), "m"(h2), "m"(h3));
	report(i1 == 2 && i2 == 4 && i3 == -2, "FISTP rounds to nearest even (%d %d %d)", i1, i2, i3);
	s64 big;
	double bigd = opaque(1e15);
	asm volatile("fldl %1; fistpll %0" : "=m"(big) : "m"(bigd));
	report(big == 1000000000000000l, "FISTP m64");
	s32 iv = 12345;
	asm volatile("fildl %1; fstpl %0" : "=m"(r) : "m"(iv));
	report(bits(r) == bits(12345.0), "FILD");
	u16 cwz = 0x0f7f; /* round toward zero */
	asm volatile("fldcw %3; fldl %2; fistpl %0; fldcw %1" : "=m"(i1), "+m"(cw) : "m"(h2), "m"(cwz));
	report(i1 == 3, "FISTP with RC = toward zero");

	/* Comparisons. */
	u8 cf;
	asm volatile("fldl %2; fldl %1; fcomip; fstp %%st(0); setc %0" : "=q"(cf) : "m"(a), "m"(b) : "cc");
	report(cf, "FCOMIP 1.5 < 2.5 sets CF");
	asm volatile("fldl %2; fldl %1; fcompp; fnstsw %0" : "=a"(sw) : "m"(a), "m"(b));
	report((sw & 0x4500) == 0x0100, "FCOMPP 1.5 < 2.5 sets C0 (sw %x)", sw);

	/* Masked exceptions: results and sticky flags. */
	double zero = opaque(0.0);
	asm volatile("fnclex; fld1; fdivl %2; fstpl %0; fnstsw %1" : "=m"(r), "=m"(sw) : "m"(zero));
	report(bits(r) == 0x7ff0000000000000ul && (sw & 0x04), "masked divide by zero: +inf and SW.ZE");
	asm volatile("fnclex; fldz; fdivl %2; fstpl %0; fnstsw %1" : "=m"(r), "=m"(sw) : "m"(zero));
	report((bits(r) & 0x7ff8000000000000ul) == 0x7ff8000000000000ul && (sw & 0x01), "masked 0/0: NaN and SW.IE");
	asm volatile("fnclex; fnstsw %0" : "=m"(sw));
	report(!(sw & 0x3f), "FNCLEX clears the flags");

	/* Unmasked divide by zero → #MF at the next waiting instruction (CR0.NE=1). */
	u16 cw_zm = 0x037b;
	asm volatile("fldcw %0" :: "m"(cw_zm));
	asm volatile(ASM_TRY("1f") "fld1; fldz; fdivrp; fwait\n\t1:\n\t" ASM_TRY_END ::: "memory");
	int v = exception_vector();
	asm volatile("fnclex; fninit");
	report(v == 16, "#MF on an unmasked divide by zero (vector %d)", v);
	report_prefix_pop();
}

static void test_sse_float(void)
{
	report_prefix_push("SSE");
	u32 mxcsr;
	asm volatile("stmxcsr %0" : "=m"(mxcsr));
	report((mxcsr & ~0x3fu) == 0x1f80, "MXCSR default 0x1f80 (%x)", mxcsr);

	volatile v4sf x = { 1, 2, 3, 4 }, y = { 10, 20, 30, 40 };
	v4sf s = x + y, m = x * y;
	report(s[0] == 11 && s[3] == 44 && m[1] == 40 && m[2] == 90, "ADDPS/MULPS");
	v4sf q = y / x;
	report(fbits(q[0]) == fbits(10.0f) && fbits(q[2]) == fbits(10.0f), "DIVPS");
	volatile v2df dx = { 2.0, 9.0 };
	v2df r;
	asm("sqrtpd %1, %0" : "=x"(r) : "x"(dx));
	report(bits(r[0]) == 0x3ff6a09e667f3bcdul && bits(r[1]) == bits(3.0), "SQRTPD");
	double d = opaque(-2.7), e = opaque(2.5), f = opaque(3.5);
	s32 t, u, w;
	asm("cvttsd2si %1, %0" : "=r"(t) : "x"(d));
	asm("cvtsd2si %1, %0" : "=r"(u) : "x"(e));
	asm("cvtsd2si %1, %0" : "=r"(w) : "x"(f));
	report(t == -2 && u == 2 && w == 4, "CVTTSD2SI truncates, CVTSD2SI rounds to even (%d %d %d)", t, u, w);
	s64 iv = -7;
	double c;
	asm("cvtsi2sdq %1, %0" : "=x"(c) : "r"(iv));
	report(bits(c) == bits(-7.0), "CVTSI2SD");
	float fl;
	asm("cvtsd2ss %1, %0" : "=x"(fl) : "x"(opaque(0.1)));
	report(fbits(fl) == 0x3dcccccd, "CVTSD2SS 0.1 (%x)", fbits(fl));
	u8 cf, zf;
	asm("comisd %3, %2; setc %0; setz %1" : "=q"(cf), "=q"(zf) : "x"(opaque(1.0)), "x"(opaque(2.0)) : "cc");
	report(cf && !zf, "COMISD 1 < 2");
	asm("ucomisd %2, %2; setp %0" : "=q"(cf) : "x"(opaque(0.0)), "x"(opaque(0.0) / opaque(0.0)) : "cc");
	report(cf, "UCOMISD NaN is unordered (PF)");
	v4sf mn;
	asm("minps %2, %0" : "=x"(mn) : "0"((v4sf){ 1, 50, -3, 7 }), "x"((v4sf){ 2, 40, -4, 7 }));
	report(mn[0] == 1 && mn[1] == 40 && mn[2] == -4 && mn[3] == 7, "MINPS");
	report_prefix_pop();
}

static void test_sse_int(void)
{
	report_prefix_push("SSE2 int");
	volatile v4si a = { 1, -2, 0x7fffffff, 100 }, b = { 10, 20, 1, -100 };
	v4si s = a + b;
	report(s[0] == 11 && s[1] == 18 && (u32)s[2] == 0x80000000u && s[3] == 0, "PADDD wraps");
	volatile v8hi h = { 300, -2, 3, 4, 5, 6, 7, 8 }, k = { 300, 3, 3, 3, 3, 3, 3, 3 };
	v8hi p = h * k;
	report(p[0] == (s16)(90000 & 0xffff) && p[1] == -6 && p[7] == 24, "PMULLW keeps the low 16 bits");
	v2di q;
	asm("pmuludq %2, %0" : "=x"(q) : "0"((v2di){ 0xffffffff, 3 }), "x"((v2di){ 0xffffffff, 5 }));
	report((u64)q[0] == 0xfffffffe00000001ul && q[1] == 15, "PMULUDQ");
	volatile v16qi x = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	v16qi y = x;
	y[3] = 0, y[9] = 0;
	int mask;
	asm("pcmpeqb %2, %1; pmovmskb %1, %0" : "=r"(mask), "+x"(y) : "x"(x));
	report(mask == (0xffff & ~((1 << 3) | (1 << 9))), "PCMPEQB + PMOVMSKB (%x)", mask);
	v4si sh;
	asm("pshufd $0x1b, %1, %0" : "=x"(sh) : "x"((v4si){ 1, 2, 3, 4 }));
	report(sh[0] == 4 && sh[1] == 3 && sh[2] == 2 && sh[3] == 1, "PSHUFD reverses dwords");
	v2di sl;
	asm("psllq $4, %0" : "=x"(sl) : "0"((v2di){ 0x0123456789abcdefl, -1 }));
	report((u64)sl[0] == 0x123456789abcdef0ul && (u64)sl[1] == 0xfffffffffffffff0ul, "PSLLQ");
	asm("psrldq $3, %0" : "=x"(sl) : "0"((v2di){ 0x0706050403020100l, 0x0f0e0d0c0b0a0908l }));
	report((u64)sl[0] == 0x0a09080706050403ul && (u64)sl[1] == 0x0f0e0d0c0bul, "PSRLDQ by 3 bytes");
	v16qu pk;
	asm("packuswb %2, %0" : "=x"(pk) : "0"((v8hi){ -5, 0, 100, 255, 256, 1000, 7, 8 }), "x"((v8hi){ 0 }));
	report(pk[0] == 0 && pk[2] == 100 && pk[3] == 255 && pk[4] == 255 && pk[5] == 255 && pk[6] == 7, "PACKUSWB saturates");
	v2di sad;
	asm("psadbw %2, %0" : "=x"(sad) : "0"((v16qu){ 10, 0, 0, 0, 0, 0, 0, 1 }), "x"((v16qu){ 0, 5, 0, 0, 0, 0, 0, 0 }));
	report(sad[0] == 16 && sad[1] == 0, "PSADBW");
	v16qi un;
	asm("punpcklbw %2, %0" : "=x"(un) : "0"((v16qi){ 1, 2, 3 }), "x"((v16qi){ 9, 8, 7 }));
	report(un[0] == 1 && un[1] == 9 && un[2] == 2 && un[3] == 8 && un[5] == 7, "PUNPCKLBW");
	v4si andn;
	asm("pandn %2, %0" : "=x"(andn) : "0"((v4si){ 0xff, 0, -1, 0xf0 }), "x"((v4si){ 0xf0f, -1, -1, 0xff }));
	report(andn[0] == 0xf00 && andn[1] == -1 && andn[2] == 0 && andn[3] == 0x0f, "PANDN");
	report_prefix_pop();
}

static void test_sse_faults(void)
{
	report_prefix_push("SSE faults");
	u32 mx = 0x1f80 & ~0x200, def = 0x1f80;
	double r;
	asm volatile("ldmxcsr %0" :: "m"(mx));
	asm volatile(ASM_TRY("1f") "divsd %2, %0\n\t1:\n\t" ASM_TRY_END : "=x"(r) : "0"(opaque(1.0)), "x"(opaque(0.0)) : "memory");
	int v = exception_vector();
	asm volatile("ldmxcsr %0" :: "m"(def));
	report_tcg_quirk(v == 19, "#XM on an unmasked divide by zero (vector %d)", v);
	u32 flags;
	r = opaque(1.0);
	asm volatile("ldmxcsr %1; divsd %3, %2; stmxcsr %0; ldmxcsr %1" : "=m"(flags), "+m"(def), "+x"(r) : "x"(opaque(0.0)));
	report(flags & 0x4, "masked divide by zero sets MXCSR.ZE (%x)", flags);

	write_cr0(read_cr0() | CR0_TS);
	asm volatile(ASM_TRY("1f") "addps %%xmm1, %%xmm0\n\t1:\n\t" ASM_TRY_END ::: "memory", "xmm0");
	v = exception_vector();
	asm volatile(ASM_TRY("1f") "fld1\n\t1:\n\t" ASM_TRY_END ::: "memory");
	int v2 = exception_vector();
	asm volatile("clts");
	report(v == 7 && v2 == 7, "#NM with CR0.TS=1 on SSE and x87 instructions");
	asm volatile("fninit");

	write_cr4(read_cr4() & ~CR4_OSFXSR);
	asm volatile(ASM_TRY("1f") "addps %%xmm1, %%xmm0\n\t1:\n\t" ASM_TRY_END ::: "memory", "xmm0");
	v = exception_vector();
	write_cr4(read_cr4() | CR4_OSFXSR);
	report(v == 6, "#UD on SSE with CR4.OSFXSR=0");

	static u8 area[512 + 16] __aligned(16);
	v2di in = { 0x1111222233334444l, 0x5555666677778888l }, out;
	asm volatile("movdqa %1, %%xmm3; fxsave %0; pxor %%xmm3, %%xmm3; fxrstor %0; movdqa %%xmm3, %2"
		     : "+m"(area) : "x"(in), "m"(out) : "xmm3", "memory");
	asm volatile("movdqa %%xmm3, %0" : "=m"(out) :: "memory");
	report(out[0] == in[0] && out[1] == in[1] && !memcmp(area + 160 + 3 * 16, &in, 16), "FXSAVE/FXRSTOR round trip of XMM3");
	asm volatile(ASM_TRY("1f") "fxsave 8(%0)\n\t1:\n\t" ASM_TRY_END :: "r"(area) : "memory");
	report(exception_vector() == 13, "#GP on FXSAVE to a misaligned address");
	report_prefix_pop();
}

int main(int argc, char **argv)
{
	test_x87();
	test_sse_float();
	test_sse_int();
	test_sse_faults();
	return report_summary();
}
