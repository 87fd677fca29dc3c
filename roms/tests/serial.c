/*
 * serial: the COM1 16550 UART registers: LSR after reset, scratch, LCR,
 * divisor latch (DLAB), IER, IIR (no interrupt, THR-empty interrupt, FIFO
 * bits), MCR loopback (data and modem status lines).
 */
#include "libnest.h"

#define THR 0
#define RBR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

static u8 rd(int r) { return inb(COM1 + r); }
static void wr(int r, u8 v) { outb(v, COM1 + r); }

int main(int argc, char **argv)
{
	report((rd(LSR) & 0x60) == 0x60, "LSR: THR empty and transmitter empty when idle (%x)", rd(LSR));
	wr(SCR, 0x5a);
	u8 a = rd(SCR);
	wr(SCR, 0xa5);
	report(a == 0x5a && rd(SCR) == 0xa5, "scratch register keeps what is written");

	wr(LCR, 0x1b); /* 8 bits, even parity */
	u8 lcr = rd(LCR);
	wr(LCR, 0x03);
	report(lcr == 0x1b && rd(LCR) == 0x03, "LCR reads back");

	wr(LCR, 0x83); /* DLAB */
	wr(DLL, 0x0c);
	wr(DLM, 0x01);
	u8 dll = rd(DLL), dlm = rd(DLM);
	wr(DLL, 0x01);
	wr(DLM, 0x00);
	wr(LCR, 0x03);
	report(dll == 0x0c && dlm == 0x01, "divisor latch reads back with DLAB=1");
	report(rd(IER) == 0x00, "DLAB=0: offset 1 is IER again (0)");

	wr(IER, 0x0f);
	u8 ier = rd(IER);
	wr(IER, 0x00);
	report(ier == 0x0f, "IER low nibble writable (%x)", ier);

	u8 iir = rd(IIR);
	report((iir & 0x0f) == 0x01, "IIR: no interrupt pending (%x)", iir);
	report((iir & 0xc0) == 0xc0, "IIR: FIFOs enabled bits (%x)", iir);

	wr(IER, 0x02); /* THR empty interrupt */
	iir = rd(IIR);
	wr(IER, 0x00);
	report((iir & 0x0f) == 0x02, "IIR: THR-empty interrupt identified (%x)", iir);

	/* Loopback: what is sent is received; MSR mirrors MCR outputs. */
	wr(MCR, 0x1f);
	while (rd(LSR) & 0x01)
		rd(RBR);
	wr(THR, 'N');
	int spins = 0;
	while (!(rd(LSR) & 0x01) && spins < 100000)
		spins++;
	u8 lsr = rd(LSR), got = rd(RBR);
	u8 msr = rd(MSR);
	wr(MCR, 0x10); /* loopback, all outputs low */
	u8 msr0 = rd(MSR);
	wr(MCR, 0x03);
	report((lsr & 0x01) && got == 'N', "loopback: data ready and RBR = sent byte");
	report(!(rd(LSR) & 0x01), "reading RBR clears data ready");
	report((msr & 0xf0) == 0xf0 && (msr0 & 0xf0) == 0, "loopback: MSR CTS/DSR/RI/DCD follow MCR (%x, %x)", msr, msr0);

	printf("a line written after the checks\n");
	report((rd(LSR) & 0x20), "transmitter accepts data again");
	return report_summary();
}
