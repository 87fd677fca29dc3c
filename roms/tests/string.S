/* 32-bit parts of the string test (run through call32): 16-bit address
 * size with wrap-around, ES-based destinations, segment overrides. */
#include "defs.h"

	.data
	.globl str32_log, str32_src
str32_log:
	.long 0, 0, 0, 0, 0, 0
str32_src:
	.ascii "SEGMENTS"

	.text
	.code32
	.globl str32_run
str32_run:
	push %esi
	push %edi
	mov $KERNEL_DS16, %eax          /* base LOW_SCRATCH, limit 64 KiB */
	mov %eax, %es

	/* a16 REP STOSB: DI wraps from 0xffff to 0, upper EDI/ECX bits stay. */
	mov $0x1234fffe, %edi
	mov $0xabcd0004, %ecx
	mov $0xab, %al
	addr16 rep stosb
	mov %edi, str32_log
	mov %ecx, str32_log + 4

	/* a32 REP STOSB into ES (base LOW_SCRATCH). */
	mov $0x100, %edi
	mov $4, %ecx
	mov $0xcd, %al
	rep stosb
	mov %edi, str32_log + 8

	/* MOVSB with an FS override on the source; DS based at LOW_SCRATCH. */
	mov $KERNEL_DS16, %eax
	mov %eax, %ds
	mov $KERNEL_DS, %eax
	mov %eax, %fs
	mov $str32_src, %esi
	mov $0x200, %edi
	mov $8, %ecx
	rep movsb %fs:(%esi), %es:(%edi)
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %esi, str32_log + 12

	/* a16 LODSB: SI wraps too. DS = DS16; SI = 0xffff reads linear 0x1ffff. */
	mov $KERNEL_DS16, %eax
	mov %eax, %ds
	mov $0x5678ffff, %esi
	xor %eax, %eax
	addr16 lodsb
	mov $KERNEL_DS, %edx
	mov %edx, %ds
	mov %eax, str32_log + 16
	mov %esi, str32_log + 20

	mov $KERNEL_DS, %eax
	mov %eax, %es
	mov %eax, %fs
	pop %edi
	pop %esi
	xor %eax, %eax
	ret
	.code64
