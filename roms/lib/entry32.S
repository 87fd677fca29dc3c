/*
 * Multiboot v1 entry: 32-bit protected mode, paging off, EAX = 0x2BADB002,
 * EBX = multiboot info. Sets up the GDT, an identity map of the first
 * 4 GiB with 2 MiB pages, enters long mode and calls boot_main().
 * Application processors arrive at ap_start32 from the SIPI trampoline.
 */
#include "defs.h"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.data
	.align 16
	.globl gdt
gdt:
	.quad 0                         /* 0x00 null */
	.quad 0x00af9b000000ffff        /* 0x08 64-bit code */
	.quad 0x00cf93000000ffff        /* 0x10 flat data */
	.quad 0x00cf9b000000ffff        /* 0x18 32-bit code */
	.quad 0x00009b000000ffff        /* 0x20 16-bit code */
	.quad 0x000093000000ffff        /* 0x28 16-bit data */
	.quad 0x00cff3000000ffff        /* 0x30 user data */
	.quad 0x00affb000000ffff        /* 0x38 user 64-bit code */
	.quad 0x00cffb000000ffff        /* 0x40 user 32-bit code */
	.quad 0                         /* 0x48 spare */
	.fill 2 * MAX_CPUS, 8, 0        /* 0x50 TSS descriptors */
gdt_end:
	.globl gdt_desc
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

	.globl boot_efer, boot_cr4, mb_magic, mb_info
boot_efer: .quad 0
boot_cr4:  .quad 0
mb_magic:  .long 0
mb_info:   .long 0
ap_next_id: .long 1

	.bss
	.align 4096
	.globl boot_pml4, boot_pdpt, boot_pd, boot_pae_pdpt, stacks
boot_pml4:     .fill 512, 8, 0
boot_pdpt:     .fill 512, 8, 0
boot_pd:       .fill 4 * 512, 8, 0
boot_pae_pdpt: .fill 512, 8, 0
stacks:        .fill MAX_CPUS * STACK_SIZE, 1, 0

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	cli
	cld
	mov %eax, mb_magic
	mov %ebx, mb_info
	lgdt gdt_desc
	ljmp $KERNEL_CS32, $1f
1:	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs

	/* Zero .bss (the loader should have, but be sure). */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb
	mov $stacks + STACK_SIZE, %esp

	/* 2048 2 MiB pages: 0-4 GiB, the top GiB (MMIO) uncached. */
	mov $boot_pd, %edi
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax                  /* P | RW | PS */
	cmp $1536, %ecx
	jb 2f
	or $0x18, %eax                  /* PWT | PCD */
2:	mov %eax, (%edi,%ecx,8)
	movl $0, 4(%edi,%ecx,8)
	inc %ecx
	cmp $2048, %ecx
	jb 1b

	/* PDPT (4-level) and the PAE PDPT share the four page directories. */
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $12, %eax
	add $boot_pd, %eax
	lea 7(%eax), %edx               /* P | RW | US */
	mov %edx, boot_pdpt(,%ecx,8)
	lea 1(%eax), %edx               /* PAE PDPTEs allow only P/PWT/PCD */
	mov %edx, boot_pae_pdpt(,%ecx,8)
	inc %ecx
	cmp $4, %ecx
	jb 1b
	movl $boot_pdpt + 7, boot_pml4

	/* EFER: LME, plus NXE when the CPU has NX. */
	mov $EFER_LME, %esi
	mov $0x80000000, %eax
	cpuid
	cmp $0x80000001, %eax
	jb 1f
	mov $0x80000001, %eax
	cpuid
	bt $20, %edx
	jnc 1f
	or $EFER_NXE, %esi
1:	mov %esi, boot_efer
	movl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), boot_cr4
	call enter_long_mode32
	ljmp $KERNEL_CS, $start64

/* Enables long-mode paging with boot_pml4, boot_efer and boot_cr4. */
enter_long_mode32:
	mov boot_cr4, %eax
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or boot_efer, %eax
	wrmsr
	mov %cr0, %eax
	and $~(CR0_EM | CR0_TS | (3 << 29)), %eax   /* clear EM, TS, NW, CD */
	or $(CR0_PE | CR0_MP | CR0_NE | CR0_WP | CR0_PG), %eax
	mov %eax, %cr0
	ret

	.globl ap_start32
ap_start32:
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $AP_TRAMPOLINE + 0x1000, %esp   /* temporary: one word, for the call */
	call enter_long_mode32
	ljmp $KERNEL_CS, $ap_start64

	.code64
start64:
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $stacks + STACK_SIZE, %rsp
	xor %ebp, %ebp
	call boot_main
1:	cli
	hlt
	jmp 1b

ap_start64:
	mov $KERNEL_DS, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $1, %edi
	lock xadd %edi, ap_next_id(%rip)
	mov %edi, %eax
	inc %eax
	imul $STACK_SIZE, %eax
	lea stacks(%rip), %rsp
	add %rax, %rsp
	xor %ebp, %ebp
	call ap_main
1:	cli
	hlt
	jmp 1b
