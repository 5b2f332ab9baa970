/*
 * tap.h — the Test Anything Protocol for the unit programs: a line
 * "ok N - what" or "not ok N - what" a check, diagnostics as "# ..." lines,
 * the plan "1..N" at the end.  Each program includes it once: the counters
 * are the program's own.
 */
#ifndef CLV_TEST_TAP_H
#define CLV_TEST_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "clv_core.h"

static int	tests_run = 0;
static int	tests_failed = 0;

static bool check(bool ok, const char *fmt,...) __attribute__((format(printf, 2, 3), unused));
static void diag(const char *fmt,...) __attribute__((format(printf, 1, 2), unused));

/* One check: its TAP line, and whether it passed. */
static bool
check(bool ok, const char *fmt,...)
{
	va_list		ap;

	tests_run++;
	if (!ok)
		tests_failed++;
	printf("%sok %d - ", ok ? "" : "not ", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return ok;
}

static void
diag(const char *fmt,...)
{
	va_list		ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A core call's status is the expected one; if not, say what the error was. */
static inline bool
check_status(clv_status got, clv_status want, const clv_error *err, const char *what)
{
	bool		ok = check(got == want, "%s", what);

	if (!ok)
		diag("  status %d, want %d; message \"%s\"; detail \"%s\"",
			 (int) got, (int) want, got != CLV_OK ? err->message : "",
			 got != CLV_OK ? err->detail : "");
	return ok;
}

/* The plan, after the last check; the program's exit status. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tests_run);
	if (tests_failed)
		diag("%d of %d checks failed", tests_failed, tests_run);
	return tests_failed ? 1 : 0;
}

#endif							/* CLV_TEST_TAP_H */
