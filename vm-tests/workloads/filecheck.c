// SPDX-License-Identifier: GPL-2.0
/*
 * filecheck - write files of known content, read them back, check every byte.
 *
 * Usage: filecheck MODE DIR [--files N] [--size BYTES] [--seed N]
 *                  [--pattern P] [--self-test] [--json] [--quiet]
 *
 *   MODE   write   create (or truncate) DIR/kzt-file-0000 ... and fill them,
 *                  fsync each file
 *          verify  read every file back and compare with the expected bytes
 *          cycle   write, sync, drop the page cache (needs root), verify:
 *                  the read-back then comes from the disk (written pages
 *                  are not offered to cleancache: they were never read)
 *   --passes N     (verify, cycle) read everything back N times (default
 *                  1); with more data than RAM, pass 2 re-reads pages that
 *                  pass 1 evicted: from the disk, or from cleancache
 *   --files N      number of files (default 8)
 *   --size BYTES   size of each file; K, M, G suffixes (default 1M); need
 *                  not be a multiple of 4096, so the last page is partial
 *   --seed N       seed of the contents (default 1)
 *   --pattern P    zero | same | text | mixed | random | mix (default mix)
 *   --self-test    (verify, cycle) flip one byte of what was read from the
 *                  middle file before comparing: must report a mismatch
 *   --json         also print the result as one JSON object on a line
 *   --quiet        no per-file messages on stderr
 *
 * Block b (4096 bytes at offset b*4096) of file f is block b of the stream
 * (pattern, seed'), seed' derived from (seed, f); see kzt_pattern.h.
 *
 * Output: a last line
 *   filecheck: mode=M files=N bytes=B mismatches=X bad_bytes=Y
 *              first_bad=FILE:OFFSET,... seconds=T
 * (one line) where mismatches counts 4 KiB blocks (or files of the wrong
 * size, or files that cannot be read) that failed.
 * Exit status: 0 all data intact, 1 mismatches, 2 usage or I/O error while
 * writing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kzt_pattern.h"
#include "kzt_util.h"

#define CHUNK_BLOCKS 16
#define MAX_FIRST_BAD 8

struct config {
	const char *dir;
	unsigned int files;
	uint64_t size;
	uint64_t seed;
	int pattern;
	int self_test;
	unsigned int passes;
	int json;
	int quiet;
};

struct result {
	uint64_t mismatches;
	uint64_t bad_bytes;
	char first_bad[MAX_FIRST_BAD * 32];
	unsigned int nfirst;
};

__attribute__((noreturn))
static void usage(const char *msg)
{
	kzt_usage("filecheck", msg,
		  "usage: filecheck write|verify|cycle DIR [--files N] [--size BYTES[K|M|G]]\n"
		  "                 [--seed N] [--pattern P] [--passes N] [--self-test]\n"
		  "                 [--json] [--quiet]\n");
}

static uint64_t parse_size(const char *opt, const char *s, int suffixes)
{
	uint64_t v;

	if (kzt_parse_u64(s, suffixes, &v)) {
		fprintf(stderr, "filecheck: %s: not a valid number: '%s'\n", opt, s);
		usage(NULL);
	}
	return v;
}

static uint64_t file_seed(const struct config *cfg, unsigned int f)
{
	return kzt_block_state(cfg->seed, f);
}

static void file_path(char *buf, size_t len, const struct config *cfg,
		      unsigned int f)
{
	snprintf(buf, len, "%s/kzt-file-%04u", cfg->dir, f);
}

static void note_bad(struct result *res, const char *path, uint64_t off,
		     uint64_t bad, int quiet)
{
	const char *base = strrchr(path, '/');
	size_t used = strlen(res->first_bad);

	base = base ? base + 1 : path;
	res->mismatches++;
	res->bad_bytes += bad;
	if (res->nfirst < MAX_FIRST_BAD) {
		snprintf(res->first_bad + used, sizeof(res->first_bad) - used,
			 "%s%s:%llu", res->nfirst ? "," : "", base,
			 (unsigned long long)off);
		res->nfirst++;
	}
	if (!quiet && res->mismatches <= MAX_FIRST_BAD)
		fprintf(stderr, "filecheck: %s offset %llu: %llu bytes differ\n",
			path, (unsigned long long)off, (unsigned long long)bad);
}

static int write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int do_write(const struct config *cfg)
{
	static unsigned char buf[CHUNK_BLOCKS * KZT_BLOCK];
	char path[4096];
	unsigned int f;

	if (mkdir(cfg->dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "filecheck: mkdir %s: %s\n", cfg->dir,
			strerror(errno));
		return -1;
	}
	for (f = 0; f < cfg->files; f++) {
		uint64_t seed = file_seed(cfg, f), off = 0;
		int fd;

		file_path(path, sizeof(path), cfg, f);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			fprintf(stderr, "filecheck: open %s: %s\n", path,
				strerror(errno));
			return -1;
		}
		while (off < cfg->size) {
			size_t len = 0;

			while (len < sizeof(buf) && off + len < cfg->size) {
				kzt_fill_block(buf + len, cfg->pattern, seed,
					       (off + len) / KZT_BLOCK);
				len += KZT_BLOCK;
			}
			if (off + len > cfg->size)
				len = (size_t)(cfg->size - off);
			if (write_all(fd, buf, len)) {
				fprintf(stderr, "filecheck: write %s: %s\n",
					path, strerror(errno));
				close(fd);
				return -1;
			}
			off += len;
		}
		if (fsync(fd) || close(fd)) {
			fprintf(stderr, "filecheck: fsync/close %s: %s\n", path,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * Only the page cache ("1"): "2" or "3" would also run every shrinker,
 * cleancache backends' included, and throw away what a later read could
 * have been served from.
 */
static int drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		fprintf(stderr, "filecheck: cannot drop caches (root needed): %s\n",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Read exactly @len bytes unless the file ends; returns bytes read or -1. */
static ssize_t read_full(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static void verify_file(const struct config *cfg, unsigned int f,
			struct result *res)
{
	static unsigned char buf[CHUNK_BLOCKS * KZT_BLOCK];
	unsigned char expect[KZT_BLOCK];
	uint64_t seed = file_seed(cfg, f), off = 0;
	char path[4096];
	struct stat st;
	int fd;

	file_path(path, sizeof(path), cfg, f);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "filecheck: open %s: %s\n", path, strerror(errno));
		note_bad(res, path, 0, cfg->size, 1);
		if (fd >= 0)
			close(fd);
		return;
	}
	if ((uint64_t)st.st_size != cfg->size) {
		fprintf(stderr, "filecheck: %s: size %llu, expected %llu\n", path,
			(unsigned long long)st.st_size,
			(unsigned long long)cfg->size);
		note_bad(res, path, (uint64_t)st.st_size, 0, 1);
	}
	while (off < cfg->size) {
		size_t want = sizeof(buf), pos;
		ssize_t got;

		if (off + want > cfg->size)
			want = (size_t)(cfg->size - off);
		got = read_full(fd, buf, want);
		if (got < 0) {
			fprintf(stderr, "filecheck: read %s at %llu: %s\n", path,
				(unsigned long long)off, strerror(errno));
			note_bad(res, path, off, cfg->size - off, 1);
			break;
		}
		if (cfg->self_test && f == cfg->files / 2 && off == 0 && got > 0)
			buf[got / 2] ^= 0x5a;
		for (pos = 0; pos < (size_t)got; pos += KZT_BLOCK) {
			size_t n = (size_t)got - pos < KZT_BLOCK ?
				   (size_t)got - pos : KZT_BLOCK;
			uint64_t bad = 0;
			size_t b;

			kzt_fill_block(expect, cfg->pattern, seed,
				       (off + pos) / KZT_BLOCK);
			if (memcmp(buf + pos, expect, n) == 0)
				continue;
			for (b = 0; b < n; b++)
				bad += buf[pos + b] != expect[b];
			note_bad(res, path, off + pos, bad, cfg->quiet);
		}
		if ((size_t)got < want)
			break;	/* short file: already reported by size */
		off += (uint64_t)got;
	}
	close(fd);
}

/* The result line, and with --json the same as one JSON object. */
static void print_result(const char *mode, const struct config *cfg,
			 const struct result *res, double seconds)
{
	unsigned long long bytes = (unsigned long long)cfg->size * cfg->files;
	unsigned long long seed = cfg->seed, bad_blocks = res->mismatches;
	unsigned long long bad_bytes = res->bad_bytes;
	const char *pattern = kzt_pattern_names[cfg->pattern];

	printf("filecheck: mode=%s files=%u bytes=%llu pattern=%s seed=%llu "
	       "mismatches=%llu bad_bytes=%llu first_bad=%s seconds=%.3f\n",
	       mode, cfg->files, bytes, pattern, seed, bad_blocks, bad_bytes,
	       res->nfirst ? res->first_bad : "-", seconds);
	if (cfg->json)
		printf("{\"program\": \"filecheck\", \"mode\": \"%s\", \"files\": %u, "
		       "\"bytes\": %llu, \"pattern\": \"%s\", \"seed\": %llu, "
		       "\"mismatches\": %llu, \"bad_bytes\": %llu, "
		       "\"first_bad\": \"%s\", \"seconds\": %.3f}\n",
		       mode, cfg->files, bytes, pattern, seed, bad_blocks, bad_bytes,
		       res->nfirst ? res->first_bad : "", seconds);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "files", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "pattern", required_argument, NULL, 'p' },
		{ "self-test", no_argument, NULL, 'T' },
		{ "passes", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct config cfg = {
		.files = 8, .size = 1 << 20, .seed = 1, .pattern = KZT_PAT_MIX,
		.passes = 1,
	};
	struct result res = { 0 };
	const char *mode;
	int do_w, do_v, do_drop, c, status = 0;
	unsigned int f, pass;
	double t0;

	while ((c = getopt_long(argc, argv, "f:s:S:p:P:Tjqh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			cfg.files = (unsigned int)parse_size("--files", optarg, 0);
			break;
		case 's':
			cfg.size = parse_size("--size", optarg, 1);
			break;
		case 'S':
			cfg.seed = parse_size("--seed", optarg, 0);
			break;
		case 'p':
			cfg.pattern = kzt_pattern_parse(optarg);
			if (cfg.pattern < 0)
				usage("unknown --pattern");
			break;
		case 'T':
			cfg.self_test = 1;
			break;
		case 'P':
			cfg.passes = (unsigned int)parse_size("--passes", optarg, 0);
			break;
		case 'j':
			cfg.json = 1;
			break;
		case 'q':
			cfg.quiet = 1;
			break;
		default:
			usage(NULL);
		}
	}
	if (argc - optind != 2)
		usage("need MODE and DIR");
	mode = argv[optind];
	cfg.dir = argv[optind + 1];
	do_w = !strcmp(mode, "write") || !strcmp(mode, "cycle");
	do_v = !strcmp(mode, "verify") || !strcmp(mode, "cycle");
	do_drop = !strcmp(mode, "cycle");
	if (!do_w && !do_v)
		usage("MODE must be write, verify or cycle");
	if (cfg.files == 0 || cfg.files > 10000)
		usage("--files must be between 1 and 10000");
	if (cfg.passes == 0 || cfg.passes > 1000)
		usage("--passes must be between 1 and 1000");

	t0 = kzt_now();
	if (do_w && do_write(&cfg))
		return 2;
	if (do_drop && drop_caches())
		return 2;
	if (do_v) {
		for (pass = 0; pass < cfg.passes; pass++)
			for (f = 0; f < cfg.files; f++)
				verify_file(&cfg, f, &res);
		status = res.mismatches ? 1 : 0;
	}

	print_result(mode, &cfg, &res, kzt_now() - t0);
	return status;
}
