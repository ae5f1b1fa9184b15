/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kzt_util.h - small helpers the kzt workloads share: a monotonic clock,
 * the usage exit, and number parsing for the command line.
 */
#ifndef KZT_UTIL_H
#define KZT_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double kzt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Print "@prog: @msg" (if @msg) and the program's @usage text to stderr,
 * then exit with status 2, the workloads' status for a usage error.
 */
__attribute__((noreturn))
static inline void kzt_usage(const char *prog, const char *msg,
			     const char *usage)
{
	if (msg)
		fprintf(stderr, "%s: %s\n", prog, msg);
	fputs(usage, stderr);
	exit(2);
}

/*
 * Parse @s as an unsigned number (decimal, 0x hex or 0 octal) into @v.
 * With @suffixes, one trailing K, M or G (either case) multiplies it by
 * 2^10, 2^20 or 2^30. Returns 0, or -1 if @s is not such a number (a sign,
 * trailing characters, out of range).
 */
static inline int kzt_parse_u64(const char *s, int suffixes, uint64_t *v)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || end == s || s[0] == '-')
		return -1;
	if (suffixes && *end) {
		switch (*end++) {
		case 'k': case 'K':
			n <<= 10;
			break;
		case 'm': case 'M':
			n <<= 20;
			break;
		case 'g': case 'G':
			n <<= 30;
			break;
		default:
			return -1;
		}
	}
	if (*end)
		return -1;
	*v = n;
	return 0;
}

#endif /* KZT_UTIL_H */
