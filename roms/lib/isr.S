/*
 * Interrupt entry stubs for all 256 vectors (64-bit IDT), the common path
 * into C (dispatch_interrupt in boot.c), and the CPL 3 round trip used by
 * run_user().
 */
#include "defs.h"

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERRCODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

	.text
	.align 16
	.globl isr_stubs
isr_stubs:                      /* 16 bytes per vector */
	vec = 0
	.rept 256
	.align 16
	.if (HAS_ERRCODE(vec)) == 0
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	vec = vec + 1
	.endr

isr_common:
	/* Stack: vector, error code, RIP, CS, RFLAGS, RSP, SS. */
	push %r15
	push %r14
	push %r13
	push %r12
	push %r11
	push %r10
	push %r9
	push %r8
	push %rbp
	push %rdi
	push %rsi
	push %rdx
	push %rcx
	push %rbx
	push %rax
	cld
	mov %rsp, %rdi
	call dispatch_interrupt
	pop %rax
	pop %rbx
	pop %rcx
	pop %rdx
	pop %rsi
	pop %rdi
	pop %rbp
	pop %r8
	pop %r9
	pop %r10
	pop %r11
	pop %r12
	pop %r13
	pop %r14
	pop %r15
	add $16, %rsp
	iretq

/*
 * u64 run_user(u64 entry, u64 arg1, u64 arg2, u64 user_stack)
 * Enters CPL 3 at `entry` with rdi = arg1, rsi = arg2. User code comes back
 * with `int $USER_RET_VECTOR` (rax = result); an exception taken at CPL 3
 * comes back through user_fault_return (set up by dispatch_interrupt).
 */
	.globl run_user
run_user:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %gs:PERCPU_USER_RSP
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	pushq $USER_DS
	push %rcx
	pushq $0x2
	pushq $USER_CS
	push %rax
	mov $USER_DS, %ecx
	mov %ecx, %ds
	mov %ecx, %es
	iretq

	.globl user_return_entry
user_return_entry:              /* gate USER_RET_VECTOR, DPL 3 */
	mov %gs:PERCPU_USER_RSP, %rsp
user_finish:
	movq $0, %gs:PERCPU_USER_RSP
	mov $KERNEL_DS, %ecx
	mov %ecx, %ds
	mov %ecx, %es
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret

	.globl user_fault_return
user_fault_return:
	mov %gs:PERCPU_USER_RSP, %rsp
	mov $-1, %rax
	jmp user_finish

/* User-mode probes: one page, position independent, mapped by tests. */
	.section .usertext, "ax"
	.align 4096
	.globl user_page, user_read, user_write, user_exec, user_ret, user_page_end
user_page:
user_read:                      /* rax = *(u64 *)rdi */
	mov (%rdi), %rax
	int $USER_RET_VECTOR
user_write:                     /* *(u64 *)rdi = rsi */
	mov %rsi, (%rdi)
	xor %eax, %eax
	int $USER_RET_VECTOR
user_exec:                      /* rax = call rdi */
	call *%rdi
	int $USER_RET_VECTOR
user_ret:                       /* rax = rdi */
	mov %rdi, %rax
	int $USER_RET_VECTOR
	.align 4096
user_page_end:
