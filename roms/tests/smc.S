/*
 * Position-independent code snippets that smc.c copies into heap pages and
 * runs: each modifies instructions it is about to execute.
 */
	.section .rodata
	.globl smc_inc_start, smc_inc_end, smc_loop_start, smc_loop_end
	.globl smc_fwd_start, smc_fwd_end

/* Increments the immediate of the next instruction, then runs it. */
smc_inc_start:
	incb 1f+1(%rip)
1:	mov $0x10, %eax
	ret
smc_inc_end:

/* A loop whose body is patched on its first iteration: ADD $1 becomes ADD $2. */
smc_loop_start:
	mov $5, %ecx
	xor %eax, %eax
2:	add $1, %eax
	movb $2, 2b+2(%rip)
	loop 2b
	ret
smc_loop_end:

/* Overwrites the very next instruction (a 2-byte JMP) with two NOPs. */
smc_fwd_start:
	mov $1, %eax
	movw $0x9090, 3f(%rip)
3:	jmp 4f
	mov $2, %eax
4:	ret
smc_fwd_end:
