// SPDX-License-Identifier: GPL-2.0
/*
 * memhog - fill anonymous memory with known data, then verify every byte.
 *
 * Usage: memhog --size MIB [--pattern P] [--seed N] [--passes N]
 *               [--keep MIB] [--pause] [--self-test] [--json] [--quiet]
 *
 *   --size MIB     anonymous memory to allocate (mmap, private, no THP)
 *   --pattern P    zero | same | text | mixed | random | mix  (default mix;
 *                  see kzt_pattern.h: mix cycles the five by page)
 *   --seed N       seed of the page contents (default 1)
 *   --passes N     verify passes over the whole area (default 1, may be 0)
 *   --keep MIB     after filling, unmap all but the first MIB (the oldest
 *                  pages, the first to have been swapped out); only the
 *                  kept part is verified
 *   --pause        stop at each stage boundary (after filling, after
 *                  --keep) and print "memhog: paused stage=NAME", then wait
 *                  for a line on stdin; lets a test read counters while the
 *                  data sits in swap, or swapoff, before verification
 *   --self-test    flip one byte in the middle page after filling: the
 *                  verifier must then report a mismatch and exit 1
 *   --json         also print the result as one JSON object on a line
 *   --quiet        no progress lines on stderr
 *
 * Page i holds block i of the stream (pattern, seed): its bytes are
 * regenerated from (seed, i) when verifying, so nothing is kept aside.
 *
 * Output: a last line
 *   memhog: pages=N kept_pages=K pattern=P seed=S passes=N mismatches=M
 *           bad_bytes=B first_bad=I,J,... fill_seconds=F verify_seconds=V
 *           seconds=T
 * (one line), where mismatches counts page checks that failed, summed over
 * all passes, and first_bad lists up to 8 failing page indices ("-" if
 * none).
 * Exit status: 0 all data intact, 1 mismatches found, 2 usage or
 * allocation error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kzt_pattern.h"
#include "kzt_util.h"

#define MAX_FIRST_BAD 8

struct result {
	uint64_t mismatches;	/* failed page checks, all passes */
	uint64_t bad_bytes;	/* differing bytes, all passes */
	uint64_t first_bad[MAX_FIRST_BAD];
	unsigned int nfirst;
};

static int quiet;

__attribute__((noreturn))
static void usage(const char *msg)
{
	kzt_usage("memhog", msg,
		  "usage: memhog --size MIB [--pattern zero|same|text|mixed|random|mix]\n"
		  "              [--seed N] [--passes N] [--keep MIB] [--pause]\n"
		  "              [--self-test] [--json] [--quiet]\n");
}

static uint64_t parse_u64(const char *opt, const char *s)
{
	uint64_t v;

	if (kzt_parse_u64(s, 0, &v)) {
		fprintf(stderr, "memhog: %s: not a number: '%s'\n", opt, s);
		usage(NULL);
	}
	return v;
}

/* Tell the controlling test where we are and wait for its go-ahead. */
static void pause_at(const char *stage)
{
	char line[64];

	printf("memhog: paused stage=%s\n", stage);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) && !quiet)
		fprintf(stderr, "memhog: stdin closed at stage %s, going on\n",
			stage);
}

static void fill(unsigned char *area, uint64_t pages, int pat, uint64_t seed)
{
	uint64_t i;

	for (i = 0; i < pages; i++)
		kzt_fill_block(area + i * KZT_BLOCK, pat, seed, i);
}

static void verify(const unsigned char *area, uint64_t pages, int pat,
		   uint64_t seed, struct result *res)
{
	unsigned char expect[KZT_BLOCK];
	uint64_t i;
	size_t b;

	for (i = 0; i < pages; i++) {
		const unsigned char *page = area + i * KZT_BLOCK;
		uint64_t bad = 0;

		kzt_fill_block(expect, pat, seed, i);
		if (memcmp(page, expect, KZT_BLOCK) == 0)
			continue;
		for (b = 0; b < KZT_BLOCK; b++)
			bad += page[b] != expect[b];
		res->mismatches++;
		res->bad_bytes += bad;
		if (res->nfirst < MAX_FIRST_BAD)
			res->first_bad[res->nfirst++] = i;
		if (!quiet && res->mismatches <= MAX_FIRST_BAD)
			fprintf(stderr, "memhog: page %llu: %llu bytes differ\n",
				(unsigned long long)i, (unsigned long long)bad);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 'S' },
		{ "passes", required_argument, NULL, 'n' },
		{ "keep", required_argument, NULL, 'k' },
		{ "pause", no_argument, NULL, 'P' },
		{ "self-test", no_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size_mib = 0, keep_mib = 0, seed = 1, passes = 1;
	int pat = KZT_PAT_MIX, do_pause = 0, self_test = 0, json = 0;
	int have_keep = 0, c;
	uint64_t pages, kept, pass;
	unsigned char *area;
	struct result res = { 0 };
	double t0, t_fill, t_verify;
	char first[MAX_FIRST_BAD * 21 + 2] = "-";
	unsigned int k;

	while ((c = getopt_long(argc, argv, "s:p:S:n:k:PTjqh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			size_mib = parse_u64("--size", optarg);
			break;
		case 'p':
			pat = kzt_pattern_parse(optarg);
			if (pat < 0)
				usage("unknown --pattern");
			break;
		case 'S':
			seed = parse_u64("--seed", optarg);
			break;
		case 'n':
			passes = parse_u64("--passes", optarg);
			break;
		case 'k':
			keep_mib = parse_u64("--keep", optarg);
			have_keep = 1;
			break;
		case 'P':
			do_pause = 1;
			break;
		case 'T':
			self_test = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(NULL);
			break;
		default:
			usage(NULL);
		}
	}
	if (optind != argc)
		usage("unexpected argument");
	if (size_mib == 0)
		usage("--size MIB is required and must be > 0");
	if (have_keep && (keep_mib == 0 || keep_mib > size_mib))
		usage("--keep must be between 1 and --size");

	pages = size_mib * (1024 * 1024 / KZT_BLOCK);
	kept = have_keep ? keep_mib * (1024 * 1024 / KZT_BLOCK) : pages;

	area = mmap(NULL, pages * KZT_BLOCK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED) {
		fprintf(stderr, "memhog: mmap of %llu MiB failed: %s\n",
			(unsigned long long)size_mib, strerror(errno));
		return 2;
	}
	/* Keep to 4 KiB pages: huge pages would change what gets swapped. */
	madvise(area, pages * KZT_BLOCK, MADV_NOHUGEPAGE);

	t0 = kzt_now();
	if (!quiet)
		fprintf(stderr, "memhog: filling %llu MiB pattern=%s seed=%llu\n",
			(unsigned long long)size_mib, kzt_pattern_names[pat],
			(unsigned long long)seed);
	fill(area, pages, pat, seed);
	t_fill = kzt_now() - t0;

	if (do_pause)
		pause_at("filled");

	if (kept < pages) {
		munmap(area + kept * KZT_BLOCK, (pages - kept) * KZT_BLOCK);
		if (do_pause)
			pause_at("trimmed");
	}

	if (self_test) {
		uint64_t victim = kept / 2;

		area[victim * KZT_BLOCK + 123] ^= 0x5a;
		if (!quiet)
			fprintf(stderr, "memhog: self-test: corrupted page %llu\n",
				(unsigned long long)victim);
	}

	t0 = kzt_now();
	for (pass = 0; pass < passes; pass++)
		verify(area, kept, pat, seed, &res);
	t_verify = kzt_now() - t0;

	if (res.nfirst) {
		size_t off = 0;

		for (k = 0; k < res.nfirst; k++)
			off += (size_t)snprintf(first + off, sizeof(first) - off,
						"%s%llu", k ? "," : "",
						(unsigned long long)res.first_bad[k]);
	}

	printf("memhog: pages=%llu kept_pages=%llu pattern=%s seed=%llu passes=%llu "
	       "mismatches=%llu bad_bytes=%llu first_bad=%s fill_seconds=%.3f "
	       "verify_seconds=%.3f seconds=%.3f\n",
	       (unsigned long long)pages, (unsigned long long)kept,
	       kzt_pattern_names[pat], (unsigned long long)seed,
	       (unsigned long long)passes, (unsigned long long)res.mismatches,
	       (unsigned long long)res.bad_bytes, first, t_fill, t_verify,
	       t_fill + t_verify);
	if (json) {
		printf("{\"program\": \"memhog\", \"pages\": %llu, \"kept_pages\": %llu, "
		       "\"pattern\": \"%s\", \"seed\": %llu, \"passes\": %llu, "
		       "\"mismatches\": %llu, \"bad_bytes\": %llu, \"first_bad\": [",
		       (unsigned long long)pages, (unsigned long long)kept,
		       kzt_pattern_names[pat], (unsigned long long)seed,
		       (unsigned long long)passes,
		       (unsigned long long)res.mismatches,
		       (unsigned long long)res.bad_bytes);
		for (k = 0; k < res.nfirst; k++)
			printf("%s%llu", k ? ", " : "",
			       (unsigned long long)res.first_bad[k]);
		printf("], \"fill_seconds\": %.3f, \"verify_seconds\": %.3f, "
		       "\"seconds\": %.3f}\n", t_fill, t_verify, t_fill + t_verify);
	}
	fflush(stdout);
	return res.mismatches ? 1 : 0;
}
