/* 32-bit protected-mode helpers for exceptions.c (run through call32). */
#include "defs.h"

	.text
	.code32
/* u32 into_overflow(u32 unused): INTO with OF=1; returns ex32_vector or ~0. */
	.globl into_overflow
into_overflow:
	movl $~0, ex32_vector
	movl $1f, ex32_fixup
	mov $0x7f, %al
	add $1, %al             /* OF = 1 */
	into
1:	movl $0, ex32_fixup
	mov ex32_vector, %eax
	ret

/* u32 into_no_overflow(u32 unused): INTO with OF=0 must not trap. */
	.globl into_no_overflow
into_no_overflow:
	movl $~0, ex32_vector
	movl $1f, ex32_fixup
	xor %eax, %eax          /* OF = 0 */
	into
1:	movl $0, ex32_fixup
	mov ex32_vector, %eax
	ret

/* u32 bound_check(u32 index): BOUND against [10, 20]; ex32_vector or ~0. */
	.globl bound_check
bound_check:
	mov 4(%esp), %eax
	movl $~0, ex32_vector
	movl $1f, ex32_fixup
	bound %eax, bounds
1:	movl $0, ex32_fixup
	mov ex32_vector, %eax
	ret

	.data
	.align 8
bounds:	.long 10, 20
	.code64
