/*
 * modes: walks through every x86 operating mode and back (see modes.S),
 * then checks what each stage recorded.
 */
#include "libnest.h"

extern void modes_run(void);
extern u32 modes_log[];
extern char modes_blob[], modes_blob_end[];
extern char log16_cs[], log16_wrap[], logrm_cs[], logrm_int[], logrm_flags[], logrm_hflags[], ivt[], rm_iret[];
extern u64 boot_pd[];

#define BLOB(sym, type) (*(volatile type *)(LOW_SCRATCH + ((sym) - modes_blob)))

static void check_long_mode_state(void)
{
	report(rdmsr(MSR_EFER) & EFER_LMA, "64-bit: EFER.LMA is set");
	report(read_cs() == KERNEL_CS, "64-bit: CS is the L=1 segment");
	u64 big = 0xffffffff;
	asm volatile("incq %0" : "+r"(big));
	report(big == 0x100000000ul, "64-bit: 64-bit operand arithmetic");
	/* A write to EFER.LME while paging is on must #GP. */
	u64 efer = rdmsr(MSR_EFER);
	int v = wrmsr_safe(MSR_EFER, efer & ~EFER_LME);
	wrmsr(MSR_EFER, efer);
	report_tcg_quirk(v == 13, "64-bit: clearing EFER.LME with paging on is #GP");
	/* Clearing CR4.PAE in long mode must #GP. */
	if (on_qemu_tcg())
		report_skip("64-bit: clearing CR4.PAE in long mode is #GP (QEMU TCG accepts the write, so it is not tried)");
	else
		report(write_cr4_safe(read_cr4() & ~CR4_PAE) == 13, "64-bit: clearing CR4.PAE in long mode is #GP");
}

int main(int argc, char **argv)
{
	check_long_mode_state();

	memcpy((void *)LOW_SCRATCH, modes_blob, modes_blob_end - modes_blob);
	/* Every other real-mode vector (e.g. an NMI) just returns. */
	for (int v = 0; v < 0x42; v++) {
		BLOB(ivt + 4 * v, u16) = rm_iret - modes_blob;
		BLOB(ivt + 4 * v + 2, u16) = LOW_SCRATCH >> 4;
	}
	set_gdt_entry(KERNEL_CS16, LOW_SCRATCH, 0xffff, 0x9b, 0);
	set_gdt_entry(KERNEL_DS16, LOW_SCRATCH, 0xffff, 0x93, 0);
	*(volatile u16 *)0x20010 = 0;
	boot_pd[8] &= ~0x20ul; /* accessed bit of the 2 MiB page at 16 MiB */
	flush_tlb();

	modes_run();

	u32 *log = modes_log;
	report(log[0] == KERNEL_CS32, "compat: CS is the 32-bit segment (%x)", log[0]);
	report(log[1] & EFER_LMA, "compat: EFER.LMA still set");
	report(!(log[2] & (EFER_LMA | EFER_LME)), "32-bit PM: EFER.LMA and LME clear (%x)", log[2]);
	report((log[3] & CR0_PE) && !(log[3] & CR0_PG), "32-bit PM: CR0.PE=1 PG=0 (%x)", log[3]);
	report(BLOB(log16_cs, u16) == KERNEL_CS16, "16-bit PM: CS is the 16-bit segment");
	report(BLOB(log16_wrap, u32) == 0, "16-bit PM: 16-bit operand size (INC AX wraps)");
	report(BLOB(logrm_cs, u16) == (LOW_SCRATCH >> 4), "real mode: CS = %x", BLOB(logrm_cs, u16));
	report(*(volatile u16 *)0x20010 == 0xbeef, "real mode: ES:0x10 with ES=0x2000 is linear 0x20010");
	report(BLOB(logrm_int, u16) == 0x4242, "real mode: INT 0x42 through the IVT at IDTR.base");
	report(BLOB(logrm_flags, u16) & 1, "real mode: FLAGS.CF survives INT/IRET");
	report(!(BLOB(logrm_hflags, u16) & 0x0300), "real mode: INT clears IF and TF in the handler");
	report(log[4] == 1, "real mode → 32-bit PM");
	report((log[5] & CR0_PG) && (log[6] & CR4_PAE), "PAE paging enabled (CR0 %x CR4 %x)", log[5], log[6]);
	report(log[13] == KERNEL_CS32, "PAE: read through the PAE tables");
	report(boot_pd[8] & 0x20, "PAE: accessed bit set in the PDE");
	report(log[7] & EFER_LMA, "PAE → long mode: EFER.LMA set after CR0.PG");
	report(log[8] == 1, "compat → 64-bit via far JMP");
	report(log[9] == 0x600d && log[10] == KERNEL_CS32, "far CALL from 64-bit into compat, 32-bit far RET back");
	report(log[11] == 0x1e7 && log[12] == KERNEL_CS32, "IRETQ into compat, far JMP back to 64-bit");
	check_long_mode_state();
	return report_summary();
}
