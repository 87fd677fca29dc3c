/*
 * bench_int: an integer workload for benchmarking the interpreter. Each
 * iteration runs a sieve of Eratosthenes, table-driven CRC32, quicksort, a
 * small bytecode interpreter, an integer matrix multiply and REP MOVSB /
 * REP STOSB copies, and folds their results into a checksum.
 *
 * Arguments: iterations=N (default below, about 1.5e9 instructions in
 * total), expect=0xCHECKSUM (the value to compare for a non-default N).
 * Exits 0 when the checksum matches, 1 otherwise.
 */
#include "libnest.h"

#define DEFAULT_ITERATIONS 480
#define DEFAULT_CHECKSUM 0xc76afb31u /* reference run (QEMU TCG) */

#define SIEVE_N 32768
#define CRC_LEN 16384
#define SORT_N 4096
#define MAT_N 32
#define COPY_LEN 65536

static u8 sieve_buf[SIEVE_N];
static u32 crc_table[256];
static u8 crc_data[CRC_LEN];
static u32 sort_buf[SORT_N];
static s32 mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N], mat_c[MAT_N][MAT_N];
static u8 copy_src[COPY_LEN], copy_dst[COPY_LEN];

static u32 rng_state;
static u32 rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static u32 sieve(void)
{
	memset(sieve_buf, 1, SIEVE_N);
	sieve_buf[0] = sieve_buf[1] = 0;
	for (u32 i = 2; i * i < SIEVE_N; i++)
		if (sieve_buf[i])
			for (u32 j = i * i; j < SIEVE_N; j += i)
				sieve_buf[j] = 0;
	u32 count = 0, last = 0;
	for (u32 i = 0; i < SIEVE_N; i++)
		if (sieve_buf[i])
			count++, last = i;
	return count * 65536 + last;
}

static void crc_init(void)
{
	for (u32 i = 0; i < 256; i++) {
		u32 c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static u32 crc32(const u8 *p, u32 n, u32 seed)
{
	u32 c = ~seed;
	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static void quicksort(u32 *a, int lo, int hi)
{
	while (lo < hi) {
		u32 pivot = a[lo + (hi - lo) / 2];
		int i = lo, j = hi;
		while (i <= j) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j) {
				u32 t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++, j--;
			}
		}
		if (j - lo < hi - i) {
			quicksort(a, lo, j);
			lo = i;
		} else {
			quicksort(a, i, hi);
			hi = j;
		}
	}
}

static u32 sort_run(void)
{
	for (int i = 0; i < SORT_N; i++)
		sort_buf[i] = rng();
	quicksort(sort_buf, 0, SORT_N - 1);
	u32 h = 0;
	for (int i = 0; i < SORT_N; i++) {
		if (i && sort_buf[i - 1] > sort_buf[i])
			return 0xbad;
		h = h * 31 + sort_buf[i];
	}
	return h;
}

/* A stack machine: computes sum of (i * i) % 7 for i < n, with branches. */
enum { OP_PUSH, OP_LOAD, OP_STORE, OP_ADD, OP_MUL, OP_MOD, OP_LT, OP_JZ, OP_JMP, OP_HALT };
static const s32 program[] = {
	OP_PUSH, 0, OP_STORE, 0,             /* i = 0 */
	OP_PUSH, 0, OP_STORE, 1,             /* acc = 0 */
	/* loop (8): */
	OP_LOAD, 0, OP_LOAD, 2, OP_LT,       /* i < n */
	OP_JZ, 39,
	OP_LOAD, 0, OP_LOAD, 0, OP_MUL,      /* i * i */
	OP_PUSH, 7, OP_MOD,
	OP_LOAD, 1, OP_ADD, OP_STORE, 1,     /* acc += */
	OP_LOAD, 0, OP_PUSH, 1, OP_ADD, OP_STORE, 0,
	OP_JMP, 8,
	OP_HALT, OP_HALT,
	/* 39: */
	OP_HALT,
};

static u32 interp(s32 n)
{
	s32 stack[16], vars[4] = { 0, 0, n, 0 };
	int sp = 0, pc = 0;
	for (;;) {
		s32 op = program[pc++];
		switch (op) {
		case OP_PUSH: stack[sp++] = program[pc++]; break;
		case OP_LOAD: stack[sp++] = vars[program[pc++]]; break;
		case OP_STORE: vars[program[pc++]] = stack[--sp]; break;
		case OP_ADD: sp--; stack[sp - 1] += stack[sp]; break;
		case OP_MUL: sp--; stack[sp - 1] *= stack[sp]; break;
		case OP_MOD: sp--; stack[sp - 1] %= stack[sp]; break;
		case OP_LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
		case OP_JZ: { s32 t = program[pc++]; if (!stack[--sp]) pc = t; break; }
		case OP_JMP: pc = program[pc]; break;
		default: return (u32)vars[1];
		}
	}
}

static u32 matmul(u32 seed)
{
	for (int i = 0; i < MAT_N; i++)
		for (int j = 0; j < MAT_N; j++) {
			mat_a[i][j] = (s32)((i * 7 + j * 3 + seed) % 17) - 8;
			mat_b[i][j] = (s32)((i * 5 + j * 11 + seed) % 13) - 6;
		}
	for (int i = 0; i < MAT_N; i++)
		for (int j = 0; j < MAT_N; j++) {
			s32 s = 0;
			for (int k = 0; k < MAT_N; k++)
				s += mat_a[i][k] * mat_b[k][j];
			mat_c[i][j] = s;
		}
	u32 h = 0;
	for (int i = 0; i < MAT_N; i++)
		h = h * 33 + (u32)mat_c[i][(i * 5) % MAT_N];
	return h;
}

static u32 copies(u32 seed)
{
	void *d = copy_src;
	size_t n = COPY_LEN;
	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(seed & 0xff) : "memory");
	for (u32 i = 0; i < COPY_LEN; i += 4096)
		copy_src[i + (seed % 4096)] = (u8)i;
	for (int r = 0; r < 4; r++) {
		void *s = copy_src + r;
		d = copy_dst;
		n = COPY_LEN - 4;
		asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) :: "memory");
	}
	return crc32(copy_dst, 256, seed) ^ copy_dst[COPY_LEN / 2];
}

int main(int argc, char **argv)
{
	u64 iterations = arg_u64("iterations", DEFAULT_ITERATIONS);
	const char *expect_arg = get_arg("expect");
	bool have_expect = expect_arg || iterations == DEFAULT_ITERATIONS;
	u32 expect = expect_arg ? (u32)strtoul(expect_arg, NULL, 0) : DEFAULT_CHECKSUM;
	u16 pm = acpi_pm_timer_port();

	printf("bench_int: %lu iterations\n", iterations);
	crc_init();
	rng_state = 0x12345678;
	for (u32 i = 0; i < CRC_LEN; i++)
		crc_data[i] = (u8)rng();
	u32 t0 = pm ? inl(pm) & 0xffffff : 0;
	u32 sum = 0;
	for (u64 it = 0; it < iterations; it++) {
		sum = sum * 0x01000193u ^ sieve();
		sum = sum * 0x01000193u ^ crc32(crc_data, CRC_LEN, sum);
		sum = sum * 0x01000193u ^ sort_run();
		sum = sum * 0x01000193u ^ interp(4000 + (s32)(it % 7));
		sum = sum * 0x01000193u ^ matmul((u32)it);
		sum = sum * 0x01000193u ^ copies(sum);
	}
	u32 t1 = pm ? inl(pm) & 0xffffff : 0;
	printf("bench_int: checksum 0x%08x\n", sum);
	if (pm)
		printf("bench_int: PM timer ticks %u (mod 2^24)\n", (t1 - t0) & 0xffffff);
	if (!have_expect) {
		report_skip("no expected checksum for %lu iterations (pass expect=0x...)", iterations);
		return report_summary();
	}
	report(sum == expect, "checksum 0x%08x (expected 0x%08x)", sum, expect);
	return report_summary();
}
