/* A small printf on COM1 and the PASS/FAIL/SKIP reporting helpers. */
#include "libnest.h"

struct outbuf {
	char *buf;
	size_t size, len;
};

static void out_char(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct outbuf *o, int n, char c)
{
	while (n-- > 0)
		out_char(o, c);
}

static void out_str(struct outbuf *o, const char *s, int width, bool left)
{
	int len = (int)strlen(s);
	if (!left)
		out_pad(o, width - len, ' ');
	while (*s)
		out_char(o, *s++);
	if (left)
		out_pad(o, width - len, ' ');
}

static void out_num(struct outbuf *o, u64 v, int base, bool neg, int width, bool zero, bool left, bool upper)
{
	char tmp[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + (neg ? 1 : 0);
	if (!left && !zero)
		out_pad(o, width - len, ' ');
	if (neg)
		out_char(o, '-');
	if (!left && zero)
		out_pad(o, width - len, '0');
	while (n)
		out_char(o, tmp[--n]);
	if (left)
		out_pad(o, width - len, ' ');
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, size, 0 };
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		fmt++;
		bool left = false, zero = false;
		int width = 0, lng = 0;
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '0')
				zero = true;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			s64 v = lng ? va_arg(ap, s64) : va_arg(ap, int);
			out_num(&o, v < 0 ? -(u64)v : (u64)v, 10, v < 0, width, zero, left, false);
			break;
		}
		case 'u': {
			u64 v = lng ? va_arg(ap, u64) : va_arg(ap, unsigned);
			out_num(&o, v, 10, false, width, zero, left, false);
			break;
		}
		case 'x':
		case 'X': {
			u64 v = lng ? va_arg(ap, u64) : va_arg(ap, unsigned);
			out_num(&o, v, 16, false, width, zero, left, *fmt == 'X');
			break;
		}
		case 'p':
			out_str(&o, "0x", 0, false);
			out_num(&o, (u64)va_arg(ap, void *), 16, false, width, zero, left, false);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			out_str(&o, s ? s : "(null)", width, left);
			break;
		}
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			break;
		case '%':
			out_char(&o, '%');
			break;
		case 0:
			fmt--;
			break;
		default:
			out_char(&o, '%');
			out_char(&o, *fmt);
		}
	}
	if (o.size)
		o.buf[o.len < o.size ? o.len : o.size - 1] = 0;
	return (int)o.len;
}

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

static struct spinlock print_lock;

static void serial_write(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			serial_putc('\r');
		serial_putc(*s);
	}
}

void puts(const char *s)
{
	spin_lock(&print_lock);
	serial_write(s);
	spin_unlock(&print_lock);
}

int vprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int r = vsnprintf(buf, sizeof(buf), fmt, ap);
	puts(buf);
	return r;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vprintf(fmt, ap);
	va_end(ap);
	return r;
}

/* ---- reporting ---- */

static struct spinlock report_lock;
static int tests, failures, xfailures, skipped;
static char prefixes[256];

void report_prefix_push(const char *p)
{
	size_t n = strlen(prefixes);
	snprintf(prefixes + n, sizeof(prefixes) - n, "%s: ", p);
}

void report_prefix_pop(void)
{
	size_t n = strlen(prefixes);
	if (n < 2)
		return;
	n -= 2;
	while (n && !(prefixes[n - 1] == ' ' && prefixes[n - 2] == ':'))
		n--;
	prefixes[n] = 0;
}

static void vreport(const char *kind, const char *fmt, va_list ap)
{
	char buf[400];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	printf("%s: %s%s\n", kind, prefixes, buf);
}

bool report(bool cond, const char *fmt, ...)
{
	va_list ap;
	spin_lock(&report_lock);
	tests++;
	if (!cond)
		failures++;
	va_start(ap, fmt);
	vreport(cond ? "PASS" : "FAIL", fmt, ap);
	va_end(ap);
	spin_unlock(&report_lock);
	return cond;
}

bool report_xfail(bool xfail, bool cond, const char *fmt, ...)
{
	va_list ap;
	spin_lock(&report_lock);
	tests++;
	const char *kind = cond ? (xfail ? "XPASS" : "PASS") : (xfail ? "XFAIL" : "FAIL");
	if (!cond && xfail)
		xfailures++;
	else if (!cond || xfail)
		failures++;
	va_start(ap, fmt);
	vreport(kind, fmt, ap);
	va_end(ap);
	spin_unlock(&report_lock);
	return cond;
}

bool on_qemu_tcg(void)
{
	char brand[49];
	if (!cpu_has_ext_leaf(0x80000004))
		return false;
	for (u32 i = 0; i < 3; i++) {
		struct cpuid c = cpuid(0x80000002 + i);
		memcpy(brand + 16 * i + 0, &c.a, 4);
		memcpy(brand + 16 * i + 4, &c.b, 4);
		memcpy(brand + 16 * i + 8, &c.c, 4);
		memcpy(brand + 16 * i + 12, &c.d, 4);
	}
	brand[48] = 0;
	return !strncmp(brand, "QEMU TCG CPU", 12);
}

bool report_tcg_quirk(bool cond, const char *fmt, ...)
{
	va_list ap;
	bool skip = !cond && on_qemu_tcg();
	spin_lock(&report_lock);
	tests++;
	if (skip)
		skipped++;
	else if (!cond)
		failures++;
	va_start(ap, fmt);
	char buf[400];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("%s: %s%s%s\n", skip ? "SKIP" : cond ? "PASS" : "FAIL", prefixes, buf,
	       skip ? " (QEMU TCG deviates from the SDM here)" : "");
	spin_unlock(&report_lock);
	return cond;
}

void report_skip(const char *fmt, ...)
{
	va_list ap;
	spin_lock(&report_lock);
	tests++;
	skipped++;
	va_start(ap, fmt);
	vreport("SKIP", fmt, ap);
	va_end(ap);
	spin_unlock(&report_lock);
}

void report_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport("INFO", fmt, ap);
	va_end(ap);
}

int report_summary(void)
{
	spin_lock(&report_lock);
	printf("SUMMARY: %d tests, %d unexpected failures", tests, failures);
	if (xfailures)
		printf(", %d expected failures", xfailures);
	if (skipped)
		printf(", %d skipped", skipped);
	printf("\n");
	spin_unlock(&report_lock);
	return failures ? 1 : 0;
}
