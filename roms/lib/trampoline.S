/*
 * Application processor start-up code. smp_init() copies this blob to
 * AP_TRAMPOLINE (a page boundary below 1 MiB) and sends INIT-SIPI-SIPI
 * with vector AP_TRAMPOLINE >> 12. The AP starts in real mode at
 * CS = AP_TRAMPOLINE >> 4, IP = 0, loads the library's GDT, enters
 * protected mode and continues at ap_start32 (entry32.S).
 */
#include "defs.h"

	.section .rodata
	.code16
	.globl ap_tramp_start, ap_tramp_end
ap_tramp_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tr_gdt_desc - ap_tramp_start
	mov %cr0, %eax
	or $CR0_PE, %eax
	mov %eax, %cr0
	ljmpl $KERNEL_CS32, $ap_start32
	.align 4
tr_gdt_desc:
	.word GDT_ENTRIES * 8 - 1
	.long gdt
ap_tramp_end:
	.code64
