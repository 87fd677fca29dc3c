/*
 * Leaving long mode for 32-bit protected mode (paging off) and coming back,
 * plus a small 32-bit IDT whose handlers record the exception and resume at
 * ex32_fixup (the 32-bit counterpart of ASM_TRY).
 */
#include "defs.h"

#define HAS_ERRCODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

	.data
	.align 16
	.globl idt32, idt32_desc, ex32_vector, ex32_error, ex32_cr2, ex32_eip, ex32_fixup
idt32:	.fill 32, 8, 0
idt32_desc:
	.word 32 * 8 - 1
	.quad idt32
ex32_vector: .long 0
ex32_error:  .long 0
ex32_cr2:    .long 0
ex32_eip:    .long 0
ex32_fixup:  .long 0
c32_rsp:     .quad 0
c32_cr3:     .quad 0
c32_cr4:     .quad 0
c32_gsbase:  .quad 0
c32_fn:      .long 0
c32_arg:     .long 0
c32_ret:     .long 0
	.align 16
c32_idt64:   .fill 16, 1, 0

	.text
	.code64
/* u32 call32(u32 fn, u32 arg): call32_ex with the current CR3/CR4. */
	.globl call32
call32:
	mov %cr3, %rdx
	mov %cr4, %rcx
	/* fall through */

/* u32 call32_ex(u32 fn, u32 arg, u64 cr3, u64 cr4) */
	.globl call32_ex
call32_ex:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	pushfq
	cli
	mov %edi, c32_fn(%rip)
	mov %esi, c32_arg(%rip)
	mov %rdx, c32_cr3(%rip)
	mov %rcx, c32_cr4(%rip)
	mov $MSR_GS_BASE, %ecx
	rdmsr
	mov %eax, c32_gsbase(%rip)
	mov %edx, c32_gsbase+4(%rip)
	mov %rsp, c32_rsp(%rip)
	sidt c32_idt64(%rip)
	lidt idt32_desc(%rip)
	pushq $KERNEL_CS32
	lea 1f(%rip), %rax
	push %rax
	lretq
	.code32
1:	/* compatibility mode */
	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0                  /* long mode is now inactive */
	mov $MSR_EFER, %ecx
	rdmsr
	and $~EFER_LME, %eax
	wrmsr
	mov boot_cr4, %eax
	and $~(CR4_PAE | CR4_PGE | CR4_LA57 | CR4_PCIDE), %eax
	mov %eax, %cr4
	xor %eax, %eax
	mov %eax, %cr3
	push c32_arg
	call *c32_fn
	add $4, %esp
	mov %eax, c32_ret

	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0
	mov c32_cr4, %eax
	mov %eax, %cr4
	mov c32_cr3, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or boot_efer, %eax
	wrmsr
	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	ljmp $KERNEL_CS, $2f
	.code64
2:	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov c32_rsp(%rip), %rsp
	lidt c32_idt64(%rip)
	mov $MSR_GS_BASE, %ecx
	mov c32_gsbase(%rip), %eax
	mov c32_gsbase+4(%rip), %edx
	wrmsr
	popfq
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	mov c32_ret(%rip), %eax
	ret

/* 32-bit exception stubs, 16 bytes apart. */
	.code32
	.align 16
	.globl idt32_stubs
idt32_stubs:
	vec = 0
	.rept 32
	.align 16
	.if (HAS_ERRCODE(vec)) == 0
	pushl $0
	.endif
	pushl $vec
	jmp idt32_common
	vec = vec + 1
	.endr

idt32_common:
	push %eax
	mov 4(%esp), %eax
	mov %eax, ex32_vector
	mov 8(%esp), %eax
	mov %eax, ex32_error
	mov 12(%esp), %eax
	mov %eax, ex32_eip
	mov %cr2, %eax
	mov %eax, ex32_cr2
	mov ex32_fixup, %eax
	test %eax, %eax
	jz 1f
	mov %eax, 12(%esp)
	movl $0, ex32_fixup
	pop %eax
	add $8, %esp
	iret
1:	mov $0x3f, %eax                 /* unexpected: exit status 0x7f */
	outl %eax, $0xf4
2:	cli
	hlt
	jmp 2b
	.code64
