/*
 * modes_run(): a tour of the x86 operating modes, each transition done the
 * way the SDM describes it (vol. 3, 9.8–9.9 and 10.8):
 *
 *   64-bit → compatibility (LRETQ) → 32-bit protected, paging off (CR0.PG=0,
 *   EFER.LME=0) → 16-bit protected (far JMP to a 16-bit code segment) →
 *   real mode (CR0.PE=0, far JMP) with an INT through a real-mode IVT →
 *   32-bit protected (CR0.PE=1, far JMP) → PAE paging → long mode
 *   (EFER.LME, CR0.PG: compatibility mode) → 64-bit (far JMP) → far CALL
 *   into compatibility mode and 32-bit far RET back → IRETQ into
 *   compatibility mode → far JMP back to 64-bit.
 *
 * Each stage records what it saw in modes_log (32/64-bit stages) or in the
 * copy of the 16-bit blob at LOW_SCRATCH; modes.c checks the records.
 */
#include "defs.h"

	.data
	.align 8
	.globl modes_log
modes_log:
log_cs_compat:    .long 0   /* 0 */
log_efer_compat:  .long 0   /* 4 */
log_efer_pm32:    .long 0   /* 8 */
log_cr0_pm32:     .long 0   /* 12 */
log_pm32_back:    .long 0   /* 16 */
log_cr0_pae:      .long 0   /* 20 */
log_cr4_pae:      .long 0   /* 24 */
log_efer_compat2: .long 0   /* 28 */
log_lm64:         .long 0   /* 32 */
log_farcall:      .long 0   /* 36 */
log_cs_farcall:   .long 0   /* 40 */
log_iret:         .long 0   /* 44 */
log_cs_iret:      .long 0   /* 48 */
log_pae_read:     .long 0   /* 52 */
saved_rsp:   .quad 0
saved_esp32: .long 0
saved_gs:    .quad 0
	.align 8
saved_idt:   .fill 16, 1, 0
farptr_compat:
	.long compat_fn
	.word KERNEL_CS32

	.text
	.code64
	.globl modes_run
modes_run:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	pushfq
	cli
	mov %rsp, saved_rsp(%rip)
	sidt saved_idt(%rip)
	mov $MSR_GS_BASE, %ecx
	rdmsr
	mov %eax, saved_gs(%rip)
	mov %edx, saved_gs+4(%rip)

	/* 64-bit → compatibility mode: far return to a 32-bit code segment. */
	pushq $KERNEL_CS32
	pushq $compat1
	lretq

	.code32
compat1:
	mov %cs, %eax
	mov %eax, log_cs_compat
	mov $MSR_EFER, %ecx
	rdmsr
	mov %eax, log_efer_compat

	/* Compatibility → 32-bit protected mode: paging off, then LME off. */
	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0
	mov $MSR_EFER, %ecx
	rdmsr
	and $~EFER_LME, %eax
	wrmsr
	rdmsr
	mov %eax, log_efer_pm32
	mov %cr0, %eax
	mov %eax, log_cr0_pm32
	mov %cr4, %eax
	and $~CR4_PAE, %eax
	mov %eax, %cr4
	mov %esp, saved_esp32

	/* 32-bit → 16-bit protected mode (segment base LOW_SCRATCH). */
	ljmp $KERNEL_CS16, $(pm16_entry - modes_blob)

pm32_back:
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov saved_esp32, %esp
	movl $1, log_pm32_back

	/* 32-bit → PAE paging, using the PAE PDPT over the boot page directories. */
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $boot_pae_pdpt, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	mov 0x1000000, %eax             /* sets the accessed bit of PDE 8 */
	mov $modes_log, %eax            /* a read through the PAE mapping */
	mov (%eax), %eax
	mov %eax, log_pae_read
	mov %cr0, %eax
	mov %eax, log_cr0_pae
	mov %cr4, %eax
	mov %eax, log_cr4_pae

	/* PAE → long mode: paging off, 4-level CR3, LME, paging on. */
	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or boot_efer, %eax
	wrmsr
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	mov $MSR_EFER, %ecx            /* compatibility mode now */
	rdmsr
	mov %eax, log_efer_compat2
	ljmp $KERNEL_CS, $lm64_back

	.code64
lm64_back:
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov saved_rsp(%rip), %rsp
	lidt saved_idt(%rip)
	mov $MSR_GS_BASE, %ecx
	mov saved_gs(%rip), %eax
	mov saved_gs+4(%rip), %edx
	wrmsr
	movl $1, log_lm64(%rip)

	/* Far CALL (m16:32) into compatibility mode; it returns with a 32-bit LRET. */
	lcall *farptr_compat(%rip)

	/* IRETQ into compatibility mode; it comes back with a far JMP. */
	mov %rsp, %rax
	pushq $KERNEL_DS
	push %rax
	pushfq
	pushq $KERNEL_CS32
	pushq $compat_iret
	iretq
lm64_final:
	popfq
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

	.code32
compat_fn:
	mov %cs, %eax
	mov %eax, log_cs_farcall
	movl $0x600d, log_farcall
	lret

compat_iret:
	mov %cs, %eax
	mov %eax, log_cs_iret
	movl $0x1e7, log_iret
	ljmp $KERNEL_CS, $lm64_final

/*
 * The 16-bit part, copied to LOW_SCRATCH by modes.c. It only uses offsets
 * from modes_blob: CS/DS bases are LOW_SCRATCH in both 16-bit protected
 * mode (descriptor bases) and real mode (segment LOW_SCRATCH >> 4).
 */
	.section .rodata
	.code16
	.globl modes_blob, modes_blob_end, log16_cs, log16_wrap, logrm_cs, logrm_int, logrm_flags, logrm_hflags, ivt, rm_iret
modes_blob:
pm16_entry:
	mov $KERNEL_DS16, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $0xfff0, %sp
	mov %cs, log16_cs - modes_blob
	xor %eax, %eax
	mov $0xffff, %ax
	inc %ax                         /* 16-bit operand size: wraps to 0 */
	mov %eax, log16_wrap - modes_blob

	/* 16-bit protected → real mode. */
	mov %cr0, %eax
	and $~CR0_PE, %eax
	mov %eax, %cr0
	ljmp $(LOW_SCRATCH >> 4), $(rm_entry - modes_blob)

rm_entry:
	mov %cs, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0xfff0, %sp
	mov %cs, logrm_cs - modes_blob
	mov $0x2000, %ax                /* segment * 16 + offset */
	mov %ax, %es
	movw $0xbeef, %es:0x10          /* linear 0x20010 */
	mov %cs, ivt - modes_blob + 0x42 * 4 + 2
	lidtl rm_idtr - modes_blob
	stc                             /* CF=1 must survive INT/IRET */
	int $0x42
	pushf
	pop %ax
	mov %ax, logrm_flags - modes_blob

	/* Real → 32-bit protected mode. */
	lgdtl rm_gdtr - modes_blob
	mov %cr0, %eax
	or $CR0_PE, %eax
	mov %eax, %cr0
	ljmpl $KERNEL_CS32, $pm32_back

rm_int42:
	movw $0x4242, %cs:logrm_int - modes_blob
	pushf
	pop %cs:logrm_hflags - modes_blob
rm_iret:
	iret

	.align 4
rm_idtr:
	.word 0x43 * 4 - 1
	.long LOW_SCRATCH + ivt - modes_blob
rm_gdtr:
	.word GDT_ENTRIES * 8 - 1
	.long gdt
ivt:
	.fill 0x42, 4, 0
	.word rm_int42 - modes_blob, 0
log16_cs:    .word 0
log16_wrap:  .long 0
logrm_cs:    .word 0
logrm_int:   .word 0
logrm_flags: .word 0
logrm_hflags: .word 0
modes_blob_end:
	.code64
