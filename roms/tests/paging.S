/*
 * A tiny "page-walk script" interpreter for 32-bit protected mode, used by
 * paging.c to exercise 32-bit and PAE paging (which only exist outside long
 * mode). run_script32(ops) is called through call32(); each op records the
 * value it read and any exception (vector, error code, CR2).
 */
#include "defs.h"

#define OP_END     0
#define OP_READ    1
#define OP_WRITE   2
#define OP_EXEC    3
#define OP_INVLPG  4
#define OP_CR0_OR  5
#define OP_CR0_AND 6
#define OP_CR4_OR  7
#define OP_CR4_AND 8
#define OP_CR3     9
#define OP_PG_ON   10
#define OP_PG_OFF  11

	.data
script_esp: .long 0

	.text
	.code32
	.globl run_script32
run_script32:
	push %ebx
	push %esi
	push %edi
	push %ebp
	mov 20(%esp), %esi
next_op:
	mov (%esi), %eax
	test %eax, %eax
	jz script_done
	movl $~0, ex32_vector
	movl $0, ex32_error
	movl $0, ex32_cr2
	movl $op_done, ex32_fixup
	mov %esp, script_esp
	mov 4(%esi), %ebx
	mov 8(%esi), %ecx
	cmp $OP_READ, %eax
	je 1f
	cmp $OP_WRITE, %eax
	je 2f
	cmp $OP_EXEC, %eax
	je 3f
	cmp $OP_INVLPG, %eax
	je 4f
	cmp $OP_CR0_OR, %eax
	je 5f
	cmp $OP_CR0_AND, %eax
	je 6f
	cmp $OP_CR4_OR, %eax
	je 7f
	cmp $OP_CR4_AND, %eax
	je 8f
	cmp $OP_CR3, %eax
	je 9f
	cmp $OP_PG_ON, %eax
	je 10f
	cmp $OP_PG_OFF, %eax
	je 11f
	jmp op_done
1:	mov (%ebx), %edx
	mov %edx, 12(%esi)
	jmp op_done
2:	mov %ecx, (%ebx)
	jmp op_done
3:	call *%ebx
	mov %eax, 12(%esi)
	jmp op_done
4:	invlpg (%ebx)
	jmp op_done
5:	mov %cr0, %eax
	or %ecx, %eax
	mov %eax, %cr0
	jmp op_done
6:	mov %cr0, %eax
	and %ecx, %eax
	mov %eax, %cr0
	jmp op_done
7:	mov %cr4, %eax
	or %ecx, %eax
	mov %eax, %cr4
	jmp op_done
8:	mov %cr4, %eax
	and %ecx, %eax
	mov %eax, %cr4
	jmp op_done
9:	mov %ecx, %cr3
	jmp op_done
10:	mov %cr0, %eax
	or $CR0_PG, %eax
	mov %eax, %cr0
	jmp op_done
11:	mov %cr0, %eax
	and $~CR0_PG, %eax
	mov %eax, %cr0
op_done:
	mov script_esp, %esp
	movl $0, ex32_fixup
	mov ex32_vector, %eax
	mov %eax, 16(%esi)
	mov ex32_error, %eax
	mov %eax, 20(%esi)
	mov ex32_cr2, %eax
	mov %eax, 24(%esi)
	add $32, %esi
	jmp next_op
script_done:
	pop %ebp
	pop %edi
	pop %esi
	pop %ebx
	xor %eax, %eax
	ret

	.globl noop32
noop32:
	xor %eax, %eax
	ret
	.code64
