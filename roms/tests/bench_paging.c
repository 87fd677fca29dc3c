/*
 * bench_paging: a paging-heavy workload for benchmarking the interpreter's
 * address translation (TLB fills, page walks, A/D updates, invalidation)
 * and #PF delivery.
 *
 * Two address spaces map the same 16 MiB window of 4 KiB pages (4096
 * pages, more than any TLB holds) at 512 GiB onto one pool of physical
 * frames, each with its own permutation that changes every iteration.
 * Every frame carries a tag at offset 0 that only depends on the frame, so
 * each access knows which frame it must land on. One iteration:
 *
 *   1. rebuilds both sets of page tables (A/D clear), loads space 0;
 *   2. write pass: every page, tag checked, one qword written (sets A/D);
 *   3. checks A and D are set in every space-0 PTE and clear in space 1's;
 *   4. CR3 to space 1; read pass: every page, its tag and the qword the
 *      write pass stored there through the other mapping (the page is found
 *      with the inverse permutation, computed arithmetically); then A set
 *      and D clear in every space-1 PTE;
 *   5. CR3 back to space 0; remaps a window of 256 pages onto spare frames
 *      four times over, INVLPG after each change, checking the tag seen and
 *      that writes reach the new frame; restores the mappings;
 *   6. demand paging: clears P on a window of 1024 pages (CR3 reload or
 *      INVLPG), touches them (reads and writes); the #PF handler checks CR2
 *      and the error code and sets P, and the access retries. The fault
 *      count, a second fault-free pass and the data (through the identity
 *      map) are checked.
 *
 * Arguments: iterations=N (default below, about 3e8 instructions).
 * Exits 0 when every check passed, 1 otherwise.
 */
#include "libnest.h"

#define DEFAULT_ITERATIONS 500

#define NPAGES 4096u            /* the window: 16 MiB of 4 KiB pages */
#define PMASK (NPAGES - 1)
#define NSPARE 256u             /* spare frames for remapping */
#define RWIN 256u               /* pages remapped per iteration (= NSPARE) */
#define ROUNDS 4
#define DWIN 1024u              /* demand-paged pages per iteration */
#define VA_BASE (1ul << 39)     /* PML4 slot 1 */

#define PTE_P (1ul << 0)
#define PTE_W (1ul << 1)
#define PTE_A (1ul << 5)
#define PTE_D (1ul << 6)
#define PF_W 2

/* Space t maps page i of the window to pool frame (i * MUL[t] + it * ADD[t]) mod NPAGES. */
static const u32 MUL[2] = { 2053, 1365 };
static const u32 ADD[2] = { 577, 1999 };
static u32 inv_mul0;            /* MUL[0]^-1 mod NPAGES */

struct space {
	u64 *pml4, *pdpt, *pd;
	u64 *pt;                /* NPAGES contiguous PTEs */
};
static struct space sp[2];
static u64 pool_pa, spare_pa;

static inline u32 frame(int t, u32 i, u32 it) { return (i * MUL[t] + it * ADD[t]) & PMASK; }
static inline u64 tag(u32 f) { return (f + 1) * 0x9e3779b97f4a7c15ul; }
static inline u32 slot(u32 i, u32 it) { return 1 + ((i * 37 + it * 11) & 510); }
static inline u64 val(u32 i, u32 it) { return ((u64)i << 32 | it) ^ 0x5bd1e9955bd1e995ul; }
static inline volatile u64 *vpage(u32 i) { return (volatile u64 *)(VA_BASE + (u64)i * 4096); }
static inline volatile u64 *frame_pa(u32 f) { return (volatile u64 *)(pool_pa + (u64)f * 4096); }
static inline volatile u64 *spare(u32 s) { return (volatile u64 *)(spare_pa + (u64)s * 4096); }
static inline u64 pte_for(u64 pa) { return pa | PTE_P | PTE_W; }

/* Error counts per check. */
static u64 err_write_tag, err_ad0, err_ad1_clean, err_read, err_ad1, err_remap, err_restore;
static u64 err_demand, err_pf, err_demand_data;
static volatile u64 pf_count;

static void build_space(struct space *s)
{
	s->pml4 = alloc_page();
	s->pdpt = alloc_page();
	s->pd = alloc_page();
	s->pt = alloc_pages(NPAGES / 512);
	s->pml4[0] = boot_pml4[0]; /* the identity map: code, data, stack, MMIO */
	s->pml4[1] = (u64)s->pdpt | PTE_P | PTE_W;
	s->pdpt[0] = (u64)s->pd | PTE_P | PTE_W;
	for (u32 k = 0; k < NPAGES / 512; k++)
		s->pd[k] = (u64)(s->pt + 512 * k) | PTE_P | PTE_W;
}

/* Demand paging: a not-present page of the window becomes present. */
static void pf_handler(struct ex_regs *r)
{
	u64 cr2 = read_cr2();
	u64 idx = (cr2 - VA_BASE) >> 12;
	u64 *pt = sp[0].pt;
	pf_count++;
	if (cr2 < VA_BASE || idx >= NPAGES || (pt[idx] & PTE_P)) {
		printf("FAIL: unexpected #PF at RIP=%lx CR2=%lx error=%lx\n", r->rip, cr2, r->error_code);
		abort();
	}
	/* Odd pages are written, even ones read; P=0, U=0, RSVD=0, I=0. */
	if (r->error_code != ((idx & 1) ? PF_W : 0))
		err_pf++;
	pt[idx] |= PTE_P; /* no invalidation needed: P=0 entries are never cached */
}

static void iteration(u32 it)
{
	u64 *pt0 = sp[0].pt, *pt1 = sp[1].pt;

	/* 1. Fresh tables, written while neither space is loaded. */
	write_cr3((u64)boot_pml4);
	for (u32 i = 0; i < NPAGES; i++) {
		pt0[i] = pte_for(pool_pa + (u64)frame(0, i, it) * 4096);
		pt1[i] = pte_for(pool_pa + (u64)frame(1, i, it) * 4096);
	}
	write_cr3((u64)sp[0].pml4);

	/* 2. Write pass through space 0. */
	for (u32 i = 0; i < NPAGES; i++) {
		volatile u64 *p = vpage(i);
		err_write_tag += p[0] != tag(frame(0, i, it));
		p[slot(i, it)] = val(i, it);
	}

	/* 3. A/D: set by the writes in space 0, untouched in space 1. */
	for (u32 i = 0; i < NPAGES; i++) {
		err_ad0 += (pt0[i] & (PTE_A | PTE_D)) != (PTE_A | PTE_D);
		err_ad1_clean += (pt1[i] & (PTE_A | PTE_D)) != 0;
	}

	/* 4. Read pass through space 1: frame f was written through page j of
	 * space 0, with j = (f - it * ADD[0]) * MUL[0]^-1. */
	write_cr3((u64)sp[1].pml4);
	for (u32 i = 0; i < NPAGES; i++) {
		volatile u64 *p = vpage(i);
		u32 f = frame(1, i, it);
		u32 j = ((f - it * ADD[0]) * inv_mul0) & PMASK;
		err_read += p[0] != tag(f);
		err_read += p[slot(j, it)] != val(j, it);
	}
	for (u32 i = 0; i < NPAGES; i++)
		err_ad1 += (pt1[i] & (PTE_A | PTE_D)) != PTE_A;

	/* 5. Remap a window onto spare frames, INVLPG after each change. */
	write_cr3((u64)sp[0].pml4);
	u32 w0 = (it * RWIN) & PMASK;
	for (u32 r = 0; r < ROUNDS; r++) {
		for (u32 k = 0; k < RWIN; k++) {
			u32 i = (w0 + k) & PMASK;
			u32 s = (k * 5 + r * 67 + it) & (NSPARE - 1);
			pt0[i] = pte_for(spare_pa + (u64)s * 4096);
			invlpg((void *)vpage(i));
			volatile u64 *p = vpage(i);
			err_remap += p[0] != tag(NPAGES + s);
			p[1 + r] = val(i, it) + r;
		}
		/* The writes landed in the spare frames (via the identity map). */
		for (u32 k = 0; k < RWIN; k++) {
			u32 i = (w0 + k) & PMASK;
			u32 s = (k * 5 + r * 67 + it) & (NSPARE - 1);
			err_remap += spare(s)[1 + r] != val(i, it) + r;
		}
	}
	for (u32 k = 0; k < RWIN; k++) {
		u32 i = (w0 + k) & PMASK;
		pt0[i] = pte_for(pool_pa + (u64)frame(0, i, it) * 4096) | PTE_A | PTE_D;
		invlpg((void *)vpage(i));
	}
	for (u32 k = 0; k < RWIN; k++) {
		u32 i = (w0 + k) & PMASK;
		err_restore += vpage(i)[0] != tag(frame(0, i, it));
	}

	/* 6. Demand paging: clear P, invalidate, touch; #PF sets P. */
	u32 w1 = (it * 768 + 2048) & PMASK;
	for (u32 k = 0; k < DWIN; k++)
		pt0[(w1 + k) & PMASK] &= ~PTE_P;
	if (it & 1) {
		flush_tlb();
	} else {
		for (u32 k = 0; k < DWIN; k++)
			invlpg((void *)vpage((w1 + k) & PMASK));
	}
	u64 before = pf_count;
	for (u32 k = 0; k < DWIN; k++) {
		u32 i = (w1 + k) & PMASK;
		volatile u64 *p = vpage(i);
		if (i & 1)
			p[slot(i, it)] = ~val(i, it);
		else
			err_demand_data += p[slot(i, it)] != val(i, it);
	}
	err_demand += pf_count - before != DWIN;
	/* Present again: a second pass takes no fault. */
	before = pf_count;
	for (u32 k = 0; k < DWIN; k++) {
		u32 i = (w1 + k) & PMASK;
		err_demand_data += vpage(i)[slot(i, it)] != ((i & 1) ? ~val(i, it) : val(i, it));
	}
	err_demand += pf_count != before;
	/* The writes reached the frames. */
	for (u32 k = 0; k < DWIN; k++) {
		u32 i = (w1 + k) & PMASK;
		u64 want = (i & 1) ? ~val(i, it) : val(i, it);
		err_demand_data += frame_pa(frame(0, i, it))[slot(i, it)] != want;
	}
}

int main(int argc, char **argv)
{
	u64 iterations = arg_u64("iterations", DEFAULT_ITERATIONS);
	u16 pm = acpi_pm_timer_port();
	u64 boot_cr3 = read_cr3();

	printf("bench_paging: %lu iterations\n", iterations);

	/* MUL[0]^-1 mod 2^64 by Newton's iteration (x = a is correct to 3 bits). */
	u64 x = MUL[0];
	for (int k = 0; k < 5; k++)
		x *= 2 - MUL[0] * x;
	inv_mul0 = (u32)x & PMASK;
	if (((MUL[0] * inv_mul0) & PMASK) != 1) {
		report(false, "inverse of %u mod %u", MUL[0], NPAGES);
		return report_summary();
	}

	build_space(&sp[0]);
	build_space(&sp[1]);
	/* The frames: raw memory above the heap (alloc_pages would spend 1e8
	 * instructions zeroing it; every word read is written first). Nothing
	 * is allocated after this. */
	pool_pa = ALIGN_UP((u64)alloc_pages(0), 2ul << 20);
	spare_pa = pool_pa + (u64)NPAGES * 4096;
	u64 end = spare_pa + (u64)NSPARE * 4096;
	if (ram_size() && end > ram_size()) {
		report(false, "the frame pool needs RAM up to %lx (have %lx)", end, ram_size());
		return report_summary();
	}
	for (u32 f = 0; f < NPAGES; f++)
		frame_pa(f)[0] = tag(f);
	for (u32 s = 0; s < NSPARE; s++)
		spare(s)[0] = tag(NPAGES + s);

	handle_exception(14, pf_handler);
	u32 t0 = pm ? inl(pm) & 0xffffff : 0;
	for (u64 it = 0; it < iterations; it++)
		iteration((u32)it);
	u32 t1 = pm ? inl(pm) & 0xffffff : 0;
	write_cr3(boot_cr3);
	handle_exception(14, NULL);

	u64 n = iterations;
	printf("bench_paging: %lu page faults\n", pf_count);
	if (pm)
		printf("bench_paging: PM timer ticks %u (mod 2^24)\n", (t1 - t0) & 0xffffff);
	report(err_write_tag == 0, "write pass: every page lands on its frame (%lu wrong)", err_write_tag);
	report(err_ad0 == 0, "A and D set by writes (%lu PTEs without)", err_ad0);
	report(err_ad1_clean == 0, "A/D untouched in the space not loaded (%lu PTEs set)", err_ad1_clean);
	report(err_read == 0, "read pass through the other space sees the writes (%lu wrong)", err_read);
	report(err_ad1 == 0, "A set, D clear after reads (%lu PTEs wrong)", err_ad1);
	report(err_remap == 0, "INVLPG after remapping: new frame seen and written (%lu wrong)", err_remap);
	report(err_restore == 0, "mappings restored (%lu wrong)", err_restore);
	report(pf_count == n * DWIN && err_demand == 0,
	       "demand paging: %lu faults (expected %lu), one per page", pf_count, n * DWIN);
	report(err_pf == 0, "#PF error codes (%lu wrong)", err_pf);
	report(err_demand_data == 0, "demand-paged data (%lu wrong)", err_demand_data);
	return report_summary();
}
