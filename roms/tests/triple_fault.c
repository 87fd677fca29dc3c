/*
 * triple_fault: loads an empty IDT and executes UD2. #UD finds no gate
 * (#GP), neither does #GP (#DF), nor #DF: the CPU shuts down. The run's
 * expected outcome is a shutdown, not an exit through port 0xF4.
 */
#include "libnest.h"

int main(int argc, char **argv)
{
	struct desc_ptr empty = { 0, 0 };
	printf("triple fault: loading an empty IDT and executing UD2\n");
	asm volatile("lidt %0\n\tud2" :: "m"(empty) : "memory");
	printf("FAIL: still running after the triple fault\n");
	return 1;
}
