// SPDX-License-Identifier: GPL-2.0
/*
 * cacherace - race O_DIRECT writes, buffered reads and page-cache evictions
 * on one file, and check after every phase that the page cache (and so
 * cleancache behind it) returns the last version written of every page.
 *
 * Usage: cacherace race FILE [--pages N] [--seconds S] [--phases N]
 *                  [--phase-ms MS] [--writers N] [--readers N]
 *                  [--evictors N] [--chasers N] [--run-pages N]
 *                  [--pressure-mib N]
 *                  [--seed N] [--self-test] [--json] [--quiet]
 *        cacherace shift FILE [--pages N] [--seconds S] [--phases N]
 *                  [--run-pages N] [--seed N] [--json] [--quiet]
 *        cacherace evict FILE... [--seconds S] [--read] [--seed N]
 *
 * race: FILE is created with --pages pages of version 0 (O_DIRECT), read
 * and evicted once, then phase after phase:
 *
 *   - writers (threads) each own a contiguous share of the pages and
 *     rewrite runs of 1..--run-pages of them with O_DIRECT pwrite(), every
 *     page with its version + 1; a version counts as written ("committed")
 *     once its pwrite() has returned;
 *   - readers pread() random pages through the page cache;
 *   - evictors posix_fadvise(POSIX_FADV_DONTNEED) the whole file or a
 *     random range of it, so its pages leave the page cache (and are
 *     offered to cleancache) all the time;
 *   - chasers (--chasers, none by default) read the pages a writer is
 *     writing at that moment and evict the whole file at once: a page read
 *     while a direct write is in flight goes to cleancache, and the file
 *     has no page in the page cache when the write completes;
 *   - with --pressure-mib, one more thread keeps that much anonymous
 *     memory resident and reallocates it 1 MiB at a time: reclaim evicts
 *     pages as well.
 *
 * for --phase-ms, then everything stops and, with nothing else running,
 * every page is read twice through the page cache: as it is, and after
 * evicting the whole file (so what cleancache kept is read back). Each
 * page must carry its last committed version. A page that carries an older
 * one is stale; its copy on the disk is then read with O_DIRECT and
 * reported too. The run ends after --phases phases or --seconds seconds,
 * whichever comes first.
 *
 * Every 4 KiB page starts with a header (magic, file id, page index,
 * version, checksum of the rest) followed by text derived from the same
 * numbers, so that it compresses (kztmem stores only pages that do) and a
 * torn or misplaced page is told apart from an old one ("corrupt").
 *
 * Readers also check what they read during a phase: a version older than
 * the one committed before their read started is counted as live_stale
 * (informational: the kernel makes no promise for reads racing a direct
 * write, only for reads after it).
 *
 * --self-test pretends, in the first phase's check, that one page was
 * written once more than it was: the run must report it stale.
 *
 * shift: FILE is created the same way; then INSERT_RANGE and
 * COLLAPSE_RANGE of its first page alternate (up to --phases of them) while
 * one thread evicts the file and two read random runs of it. After each,
 * every page is read as cached and again after an eviction: each must be
 * the page now at its place (page p, or page p - 1 after an insert). A
 * page from before the shift is stale.
 *
 * evict: posix_fadvise(POSIX_FADV_DONTNEED) every FILE in a loop until
 * stdin reaches end of file (or --seconds pass), then print the count.
 * With --read, each round first reads 1 to 16 pages at a random place of
 * each file (and what readahead adds to them), so that the files' mappings keep going from
 * populated to empty while another process changes the files.
 *
 * Output: a last line "cacherace: key=value ..." and, with --json, the
 * same as one JSON object. Exit status: 0 every page read back intact and
 * current, 1 stale or corrupt pages, 2 usage or I/O error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kzt_util.h"

#define PAGE		4096u
#define MAGIC		0x31454341525a544bULL	/* "KZTRACE1" */
#define MAX_THREADS	72
#define MAX_FIRST_BAD	8
#define HDR_WORDS	5
#define EVICT_READ_PAGES 16	/* evict --read: at most this many per read */

struct config {
	const char *path;
	uint64_t pages;
	double seconds;
	uint64_t phases;
	uint64_t phase_ms;
	unsigned int writers, readers, evictors, chasers;
	uint64_t run_pages;
	uint64_t pressure_mib;
	uint64_t seed;
	int self_test;
	int evict_reads;
	int json;
	int quiet;
};

static struct config cfg = {
	.pages = 64, .seconds = 60, .phases = 1000000, .phase_ms = 150,
	.writers = 2, .readers = 2, .evictors = 1, .run_pages = 4, .seed = 1,
};

static uint64_t file_id;
static int fd_buf = -1, fd_dio = -1;
static _Atomic uint64_t *committed;	/* last version written, per page */
/* What each writer is writing now: first page << 16 | pages, or 0. */
static _Atomic uint64_t inflight[MAX_THREADS];

static atomic_int running;		/* a phase is on */
static atomic_int quit;			/* workers: leave at the next phase */
static pthread_barrier_t start_bar, stop_bar;

static atomic_ullong n_writes, n_reads, n_evictions, n_pressure;
static atomic_ullong n_live_stale, n_live_corrupt;
static atomic_int io_error;
static char io_error_text[256];

struct result {
	uint64_t phases;
	uint64_t stale, stale_cached, stale_evicted, corrupt;
	char first_bad[MAX_FIRST_BAD * 64];
	unsigned int nfirst;
};

static struct result res;

__attribute__((noreturn))
static void usage(const char *msg)
{
	kzt_usage("cacherace", msg,
		  "usage: cacherace race FILE [--pages N] [--seconds S] [--phases N]\n"
		  "                 [--phase-ms MS] [--writers N] [--readers N] [--evictors N]\n"
		  "                 [--chasers N] [--run-pages N] [--pressure-mib N] [--seed N]\n"
		  "                 [--self-test] [--json] [--quiet]\n"
		  "       cacherace shift FILE [--pages N] [--seconds S] [--phases N] [--seed N]\n"
		  "       cacherace evict FILE... [--seconds S] [--read] [--seed N]\n");
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint64_t fnv1a(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The page @index carries at @version: header, then text from the same. */
static void fill_page(unsigned char *buf, uint64_t index, uint64_t version)
{
	uint64_t hdr[HDR_WORDS] = { MAGIC, file_id, index, version, 0 };
	size_t off = sizeof(hdr), len;
	char line[96];

	len = (size_t)snprintf(line, sizeof(line),
			       "cacherace file %016llx page %06llu version %010llu\n",
			       (unsigned long long)file_id, (unsigned long long)index,
			       (unsigned long long)version);
	while (off < PAGE) {
		size_t n = PAGE - off < len ? PAGE - off : len;

		memcpy(buf + off, line, n);
		off += n;
	}
	hdr[4] = fnv1a(buf + sizeof(hdr), PAGE - sizeof(hdr));
	memcpy(buf, hdr, sizeof(hdr));
}

/*
 * The version page @buf carries as page @index, or -1 if it is not a page
 * this run wrote there (torn, misplaced, zeroes, another file's).
 */
static int64_t page_version(const unsigned char *buf, uint64_t index)
{
	unsigned char expect[PAGE];
	uint64_t hdr[HDR_WORDS];

	memcpy(hdr, buf, sizeof(hdr));
	if (hdr[0] != MAGIC || hdr[1] != file_id || hdr[2] != index ||
	    hdr[3] > INT64_MAX)
		return -1;
	fill_page(expect, index, hdr[3]);
	if (memcmp(expect, buf, PAGE))
		return -1;
	return (int64_t)hdr[3];
}

static void set_io_error(const char *what, uint64_t page, ssize_t got)
{
	int expected = 0;

	if (atomic_compare_exchange_strong(&io_error, &expected, 1))
		snprintf(io_error_text, sizeof(io_error_text),
			 "%s at page %llu: %s (returned %zd)", what,
			 (unsigned long long)page, got < 0 ? strerror(errno) : "short",
			 got);
	atomic_store(&running, 0);
}

static void note_bad(uint64_t phase, uint64_t page, int64_t got,
		     uint64_t want, int64_t disk, const char *pass)
{
	size_t used = strlen(res.first_bad);

	if (res.nfirst >= MAX_FIRST_BAD)
		return;
	snprintf(res.first_bad + used, sizeof(res.first_bad) - used,
		 "%sphase%llu:page%llu:%s:got%lld:want%llu:disk%lld",
		 res.nfirst ? "," : "", (unsigned long long)phase,
		 (unsigned long long)page, pass, (long long)got,
		 (unsigned long long)want, (long long)disk);
	res.nfirst++;
	if (!cfg.quiet)
		fprintf(stderr, "cacherace: phase %llu page %llu (%s): version %lld read, "
			"%llu written last, %lld on the disk\n",
			(unsigned long long)phase, (unsigned long long)page, pass,
			(long long)got, (unsigned long long)want, (long long)disk);
}

/* ------------------------------------------------------------ workers */

struct worker {
	pthread_t thread;
	void (*op)(struct worker *w);
	unsigned int id;
	uint64_t rng;
	uint64_t lo, hi;		/* writers: their pages */
	unsigned char *buf;		/* aligned, run_pages pages */
	unsigned char *map;		/* pressure: the anonymous memory */
	size_t map_len, map_pos;
	int map_full;
};

static void write_op(struct worker *w)
{
	uint64_t first = w->lo + xorshift(&w->rng) % (w->hi - w->lo);
	uint64_t n = 1 + xorshift(&w->rng) % cfg.run_pages, i;
	ssize_t got;

	if (first + n > w->hi)
		n = w->hi - first;
	for (i = 0; i < n; i++)
		fill_page(w->buf + i * PAGE, first + i,
			  atomic_load_explicit(&committed[first + i],
					       memory_order_relaxed) + 1);
	atomic_store(&inflight[w->id], first << 16 | n);
	got = pwrite(fd_dio, w->buf, n * PAGE, (off_t)(first * PAGE));
	atomic_store(&inflight[w->id], 0);
	if (got != (ssize_t)(n * PAGE)) {
		set_io_error("O_DIRECT pwrite", first, got);
		return;
	}
	for (i = 0; i < n; i++)
		atomic_fetch_add_explicit(&committed[first + i], 1,
					  memory_order_release);
	atomic_fetch_add_explicit(&n_writes, n, memory_order_relaxed);
}

static void read_op(struct worker *w)
{
	uint64_t first = xorshift(&w->rng) % cfg.pages;
	uint64_t n = 1 + xorshift(&w->rng) % 2, i;
	uint64_t before[2];
	ssize_t got;

	if (first + n > cfg.pages)
		n = cfg.pages - first;
	for (i = 0; i < n; i++)
		before[i] = atomic_load_explicit(&committed[first + i],
						 memory_order_acquire);
	got = pread(fd_buf, w->buf, n * PAGE, (off_t)(first * PAGE));
	if (got != (ssize_t)(n * PAGE)) {
		set_io_error("buffered pread", first, got);
		return;
	}
	for (i = 0; i < n; i++) {
		int64_t v = page_version(w->buf + i * PAGE, first + i);

		if (v < 0)
			atomic_fetch_add_explicit(&n_live_corrupt, 1, memory_order_relaxed);
		else if ((uint64_t)v < before[i])
			atomic_fetch_add_explicit(&n_live_stale, 1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(&n_reads, n, memory_order_relaxed);
}

static void evict_op(struct worker *w)
{
	uint64_t r = xorshift(&w->rng);
	off_t off = 0, len = 0;		/* the whole file */

	if (r & 1) {
		off = (off_t)((r >> 8) % cfg.pages * PAGE);
		len = (off_t)((1 + (r >> 32) % 8) * PAGE);
	}
	posix_fadvise(fd_buf, off, len, POSIX_FADV_DONTNEED);
	atomic_fetch_add_explicit(&n_evictions, 1, memory_order_relaxed);
}

/*
 * Read what a writer is writing right now, then evict the whole file: the
 * pages read while the direct write is in flight go to cleancache, and the
 * file's mapping is empty when the write completes.
 */
static void chase_op(struct worker *w)
{
	uint64_t what = atomic_load(&inflight[xorshift(&w->rng) % cfg.writers]);
	uint64_t first = what >> 16, n = what & 0xffff;

	if (!n)
		return;
	if (pread(fd_buf, w->buf, n * PAGE, (off_t)(first * PAGE)) > 0)
		atomic_fetch_add_explicit(&n_reads, n, memory_order_relaxed);
	posix_fadvise(fd_buf, 0, 0, POSIX_FADV_DONTNEED);
	atomic_fetch_add_explicit(&n_evictions, 1, memory_order_relaxed);
}

/*
 * Keep --pressure-mib of anonymous memory resident, touched 1 MiB per call
 * and, once all of it is, given back and touched again chunk by chunk: the
 * allocations keep free memory at the watermarks, so reclaim evicts page
 * cache (there is no swap for this memory) while the phases run.
 */
static void pressure_op(struct worker *w)
{
	size_t chunk = 1 << 20, off;

	if (!w->map) {
		w->map_len = (size_t)cfg.pressure_mib << 20;
		w->map = mmap(NULL, w->map_len, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (w->map == MAP_FAILED) {
			w->map = NULL;
			set_io_error("mmap of the pressure memory", 0, -1);
			return;
		}
	}
	if (w->map_full)
		madvise(w->map + w->map_pos, chunk, MADV_DONTNEED);
	for (off = 0; off < chunk; off += PAGE)
		w->map[w->map_pos + off] = (unsigned char)(off >> 12) | 1;
	nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);	/* CPU for the rest */
	w->map_pos += chunk;
	if (w->map_pos + chunk > w->map_len) {
		w->map_pos = 0;
		w->map_full = 1;
	}
	atomic_fetch_add_explicit(&n_pressure, 1, memory_order_relaxed);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		pthread_barrier_wait(&start_bar);
		if (atomic_load(&quit))
			return NULL;
		while (atomic_load_explicit(&running, memory_order_relaxed))
			w->op(w);
		pthread_barrier_wait(&stop_bar);
	}
}

/* ------------------------------------------------------------- checks */

static int64_t disk_version(uint64_t page, unsigned char *buf)
{
	if (pread(fd_dio, buf, PAGE, (off_t)(page * PAGE)) != (ssize_t)PAGE)
		return -2;
	return page_version(buf, page);
}

/* Read every page through the page cache; count those not current. */
static void check_pages(uint64_t phase, const char *pass, uint64_t *count,
			unsigned char *seen, unsigned char *buf)
{
	uint64_t i;

	for (i = 0; i < cfg.pages; i++) {
		uint64_t want = atomic_load(&committed[i]);
		int64_t v;

		if (cfg.self_test && phase == 0 && i == cfg.pages / 2)
			want++;
		if (pread(fd_buf, buf, PAGE, (off_t)(i * PAGE)) != (ssize_t)PAGE) {
			set_io_error("buffered pread (check)", i, -1);
			return;
		}
		v = page_version(buf, i);
		if (v >= 0 && (uint64_t)v == want)
			continue;
		if (v < 0 || (uint64_t)v > want) {
			res.corrupt++;
		} else {
			(*count)++;
			if (!seen[i]) {
				seen[i] = 1;
				res.stale++;
			}
		}
		note_bad(phase, i, v, want, disk_version(i, buf), pass);
	}
}

static void check_phase(uint64_t phase, unsigned char *buf)
{
	unsigned char *seen = calloc(cfg.pages, 1);

	if (!seen) {
		set_io_error("calloc", 0, -1);
		return;
	}
	check_pages(phase, "cached", &res.stale_cached, seen, buf);
	posix_fadvise(fd_buf, 0, 0, POSIX_FADV_DONTNEED);
	check_pages(phase, "evicted", &res.stale_evicted, seen, buf);
	free(seen);
}

/* -------------------------------------------------------------- setup */

static int create_file(unsigned char *buf)
{
	uint64_t i;

	fd_dio = open(cfg.path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
	if (fd_dio < 0) {
		fprintf(stderr, "cacherace: open %s with O_DIRECT: %s\n", cfg.path,
			strerror(errno));
		return -1;
	}
	fd_buf = open(cfg.path, O_RDONLY);
	if (fd_buf < 0) {
		fprintf(stderr, "cacherace: open %s: %s\n", cfg.path, strerror(errno));
		return -1;
	}
	/* No readahead: a read brings in the pages it asked for, no more. */
	posix_fadvise(fd_buf, 0, 0, POSIX_FADV_RANDOM);
	for (i = 0; i < cfg.pages; i++) {
		fill_page(buf, i, 0);
		if (pwrite(fd_dio, buf, PAGE, (off_t)(i * PAGE)) != (ssize_t)PAGE) {
			fprintf(stderr, "cacherace: O_DIRECT write of %s: %s\n", cfg.path,
				strerror(errno));
			return -1;
		}
	}
	if (fsync(fd_dio)) {
		fprintf(stderr, "cacherace: fsync %s: %s\n", cfg.path, strerror(errno));
		return -1;
	}
	/* Read once from the disk and evict: the pages go to cleancache. */
	posix_fadvise(fd_buf, 0, 0, POSIX_FADV_DONTNEED);
	for (i = 0; i < cfg.pages; i++)
		if (pread(fd_buf, buf, PAGE, (off_t)(i * PAGE)) != (ssize_t)PAGE ||
		    page_version(buf, i) != 0) {
			fprintf(stderr, "cacherace: %s page %llu does not read back\n",
				cfg.path, (unsigned long long)i);
			return -1;
		}
	posix_fadvise(fd_buf, 0, 0, POSIX_FADV_DONTNEED);
	return 0;
}

static void print_result(const char *mode, double seconds)
{
	unsigned long long mism = res.stale + res.corrupt;

	printf("cacherace: mode=%s pages=%llu phases=%llu writes=%llu reads=%llu "
	       "evictions=%llu pressure_touched_mib=%llu stale=%llu stale_cached=%llu "
	       "stale_evicted=%llu corrupt=%llu live_stale=%llu live_corrupt=%llu "
	       "mismatches=%llu first_bad=%s seconds=%.3f\n", mode,
	       (unsigned long long)cfg.pages, (unsigned long long)res.phases,
	       n_writes, n_reads, n_evictions, n_pressure,
	       (unsigned long long)res.stale, (unsigned long long)res.stale_cached,
	       (unsigned long long)res.stale_evicted, (unsigned long long)res.corrupt,
	       n_live_stale, n_live_corrupt, mism,
	       res.nfirst ? res.first_bad : "-", seconds);
	if (cfg.json)
		printf("{\"program\": \"cacherace\", \"mode\": \"%s\", \"pages\": %llu, "
		       "\"phases\": %llu, \"writes\": %llu, \"reads\": %llu, "
		       "\"evictions\": %llu, \"pressure_touched_mib\": %llu, \"stale\": %llu, "
		       "\"stale_cached\": %llu, \"stale_evicted\": %llu, \"corrupt\": %llu, "
		       "\"live_stale\": %llu, \"live_corrupt\": %llu, \"mismatches\": %llu, "
		       "\"first_bad\": \"%s\", \"seed\": %llu, \"seconds\": %.3f}\n", mode,
		       (unsigned long long)cfg.pages, (unsigned long long)res.phases,
		       n_writes, n_reads, n_evictions, n_pressure,
		       (unsigned long long)res.stale, (unsigned long long)res.stale_cached,
		       (unsigned long long)res.stale_evicted, (unsigned long long)res.corrupt,
		       n_live_stale, n_live_corrupt, mism, res.nfirst ? res.first_bad : "",
		       (unsigned long long)cfg.seed, seconds);
	fflush(stdout);
}

static int do_race(void)
{
	struct worker workers[MAX_THREADS];
	unsigned int nw = 0, i;
	unsigned char *check_buf;
	double t0 = kzt_now(), deadline = t0 + cfg.seconds;
	uint64_t seed = cfg.seed * 0x9e3779b97f4a7c15ULL + 1;

	file_id = xorshift(&seed);
	committed = calloc(cfg.pages, sizeof(*committed));
	if (!committed || posix_memalign((void **)&check_buf, PAGE, PAGE))
		return 2;
	if (create_file(check_buf))
		return 2;

	for (i = 0; i < cfg.writers; i++, nw++) {
		workers[nw] = (struct worker){ .op = write_op,
			.lo = cfg.pages * i / cfg.writers,
			.hi = cfg.pages * (i + 1) / cfg.writers };
	}
	for (i = 0; i < cfg.readers; i++, nw++)
		workers[nw] = (struct worker){ .op = read_op };
	for (i = 0; i < cfg.evictors; i++, nw++)
		workers[nw] = (struct worker){ .op = evict_op };
	for (i = 0; i < cfg.chasers; i++, nw++)
		workers[nw] = (struct worker){ .op = chase_op };
	if (cfg.pressure_mib)
		workers[nw++] = (struct worker){ .op = pressure_op };

	pthread_barrier_init(&start_bar, NULL, nw + 1);
	pthread_barrier_init(&stop_bar, NULL, nw + 1);
	for (i = 0; i < nw; i++) {
		workers[i].id = i;
		workers[i].rng = seed + 0x1000193ULL * (i + 1);
		if (posix_memalign((void **)&workers[i].buf, PAGE, cfg.run_pages * PAGE) ||
		    pthread_create(&workers[i].thread, NULL, worker_main, &workers[i])) {
			fprintf(stderr, "cacherace: cannot start thread %u\n", i);
			return 2;
		}
	}

	while (res.phases < cfg.phases && kzt_now() < deadline &&
	       !atomic_load(&io_error)) {
		struct timespec ts = { .tv_sec = (time_t)(cfg.phase_ms / 1000),
				       .tv_nsec = (long)(cfg.phase_ms % 1000) * 1000000L };

		atomic_store(&running, 1);
		pthread_barrier_wait(&start_bar);
		nanosleep(&ts, NULL);
		atomic_store(&running, 0);
		pthread_barrier_wait(&stop_bar);
		if (atomic_load(&io_error))
			break;
		check_phase(res.phases, check_buf);
		res.phases++;
	}
	atomic_store(&quit, 1);
	pthread_barrier_wait(&start_bar);
	for (i = 0; i < nw; i++) {
		pthread_join(workers[i].thread, NULL);
		if (workers[i].map)
			munmap(workers[i].map, workers[i].map_len);
	}

	print_result("race", kzt_now() - t0);
	if (atomic_load(&io_error)) {
		fprintf(stderr, "cacherace: %s\n", io_error_text);
		return 2;
	}
	if (!n_writes || !n_reads || !n_evictions) {
		fprintf(stderr, "cacherace: a phase did nothing (writes %llu, reads %llu, "
			"evictions %llu): nothing was raced\n", n_writes, n_reads,
			n_evictions);
		return 2;
	}
	return res.stale || res.corrupt ? 1 : 0;
}

/* -------------------------------------------------------------- shift */

/* Read a random run of pages through the page cache (no check). */
static void populate_op(struct worker *w)
{
	uint64_t first = xorshift(&w->rng) % cfg.pages;
	uint64_t n = 1 + xorshift(&w->rng) % cfg.run_pages;

	if (pread(fd_buf, w->buf, n * PAGE, (off_t)(first * PAGE)) > 0)
		atomic_fetch_add_explicit(&n_reads, n, memory_order_relaxed);
}

/*
 * Page @pos of the file, read through the page cache, must be page @pos
 * (layout A) or, after an INSERT_RANGE of one page at 0, a page of zeroes
 * at 0 and page @pos - 1 at @pos (layout B).
 */
/* The page number a page of this file carries, -1 if it is none of them. */
static int64_t page_id(const unsigned char *buf)
{
	uint64_t i;

	memcpy(&i, buf + 2 * sizeof(uint64_t), sizeof(i));
	return i < cfg.pages && page_version(buf, i) == 0 ? (int64_t)i : -1;
}

static void check_shifted(uint64_t op, int shifted, const char *pass, uint64_t *count,
			  unsigned char *seen, unsigned char *buf)
{
	uint64_t pos, n = cfg.pages + (uint64_t)shifted;

	for (pos = 0; pos < n; pos++) {
		int64_t want = shifted ? (int64_t)pos - 1 : (int64_t)pos, got;
		uint64_t i;

		if (pread(fd_buf, buf, PAGE, (off_t)(pos * PAGE)) != (ssize_t)PAGE) {
			set_io_error("buffered pread (check)", pos, -1);
			return;
		}
		if (want < 0) {
			for (i = 0; i < PAGE && !buf[i]; i++)
				;
			if (i == PAGE)
				continue;
		} else if (page_version(buf, (uint64_t)want) == 0) {
			continue;
		}
		got = page_id(buf);
		if (got < 0) {
			res.corrupt++;
		} else {
			(*count)++;
			if (!seen[pos]) {
				seen[pos] = 1;
				res.stale++;
			}
		}
		if (pread(fd_dio, buf, PAGE, (off_t)(pos * PAGE)) != (ssize_t)PAGE)
			memset(buf, 0xff, PAGE);
		note_bad(op, pos, got, (uint64_t)want, page_id(buf), pass);
	}
}

/*
 * shift: INSERT_RANGE and COLLAPSE_RANGE of the first page, in turn, on a
 * file whose pages are read and evicted all the time by other threads;
 * after each, every page must be the one now at its place (first_bad:
 * "got", "want" and "disk" are page numbers, -1 a page that is none of
 * the file's, such as the zeroes INSERT_RANGE puts at 0).
 */
static int do_shift(void)
{
	struct worker workers[3];
	unsigned char *buf, *seen;
	double t0 = kzt_now(), deadline = t0 + cfg.seconds;
	uint64_t seed = cfg.seed * 0x9e3779b97f4a7c15ULL + 1, op;
	unsigned int i, nw = 3;
	int shifted = 0;

	file_id = xorshift(&seed);
	seen = calloc(cfg.pages + 1, 1);
	if (!seen || posix_memalign((void **)&buf, PAGE, PAGE) || create_file(buf))
		return 2;
	workers[0] = (struct worker){ .op = evict_op };
	workers[1] = (struct worker){ .op = populate_op };
	workers[2] = (struct worker){ .op = populate_op };
	pthread_barrier_init(&start_bar, NULL, nw + 1);
	pthread_barrier_init(&stop_bar, NULL, nw + 1);
	for (i = 0; i < nw; i++) {
		workers[i].id = i;
		workers[i].rng = seed + 0x1000193ULL * (i + 1);
		if (posix_memalign((void **)&workers[i].buf, PAGE, cfg.run_pages * PAGE) ||
		    pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]))
			return 2;
	}
	atomic_store(&running, 1);
	pthread_barrier_wait(&start_bar);
	for (op = 0; op < cfg.phases && kzt_now() < deadline && !atomic_load(&io_error); op++) {
		int mode = shifted ? FALLOC_FL_COLLAPSE_RANGE : FALLOC_FL_INSERT_RANGE;

		if (fallocate(fd_dio, mode, 0, PAGE)) {
			set_io_error(shifted ? "COLLAPSE_RANGE" : "INSERT_RANGE", 0, -1);
			break;
		}
		shifted = !shifted;
		memset(seen, 0, cfg.pages + 1);
		check_shifted(op, shifted, "cached", &res.stale_cached, seen, buf);
		posix_fadvise(fd_buf, 0, 0, POSIX_FADV_DONTNEED);
		check_shifted(op, shifted, "evicted", &res.stale_evicted, seen, buf);
		atomic_fetch_add_explicit(&n_writes, 1, memory_order_relaxed);
	}
	res.phases = op;
	atomic_store(&running, 0);
	pthread_barrier_wait(&stop_bar);
	atomic_store(&quit, 1);
	pthread_barrier_wait(&start_bar);
	for (i = 0; i < nw; i++)
		pthread_join(workers[i].thread, NULL);
	print_result("shift", kzt_now() - t0);
	if (atomic_load(&io_error)) {
		fprintf(stderr, "cacherace: %s\n", io_error_text);
		return 2;
	}
	return res.stale || res.corrupt ? 1 : 0;
}

/* -------------------------------------------------------------- evict */

static void *stdin_watch(void *arg)
{
	char c;

	(void)arg;
	while (read(0, &c, 1) > 0)
		;
	atomic_store(&quit, 1);
	return NULL;
}

static int do_evict(char **files, int nfiles)
{
	double t0 = kzt_now(), deadline = t0 + cfg.seconds;
	unsigned long long rounds = 0, reads = 0;
	uint64_t rng = cfg.seed * 0x9e3779b97f4a7c15ULL + 1;
	static unsigned char buf[EVICT_READ_PAGES * PAGE];
	pthread_t watcher;
	int fds[256], i;

	if (nfiles > 256)
		usage("at most 256 files");
	for (i = 0; i < nfiles; i++) {
		fds[i] = open(files[i], O_RDONLY);
		if (fds[i] < 0) {
			fprintf(stderr, "cacherace: open %s: %s\n", files[i], strerror(errno));
			return 2;
		}
	}
	if (pthread_create(&watcher, NULL, stdin_watch, NULL))
		return 2;
	pthread_detach(watcher);
	printf("cacherace: evicting %d file(s)\n", nfiles);
	fflush(stdout);
	while (!atomic_load(&quit) && kzt_now() < deadline) {
		for (i = 0; i < nfiles; i++) {
			struct stat st;

			if (cfg.evict_reads && !fstat(fds[i], &st) && st.st_size >= PAGE) {
				uint64_t page = xorshift(&rng) % ((uint64_t)st.st_size / PAGE);
				size_t len = (1 + xorshift(&rng) % EVICT_READ_PAGES) * PAGE;

				if (pread(fds[i], buf, len, (off_t)(page * PAGE)) > 0)
					reads++;
			}
			posix_fadvise(fds[i], 0, 0, POSIX_FADV_DONTNEED);
		}
		rounds++;
	}
	printf("cacherace: mode=evict files=%d rounds=%llu reads=%llu seconds=%.3f\n",
	       nfiles, rounds, reads, kzt_now() - t0);
	if (cfg.json)
		printf("{\"program\": \"cacherace\", \"mode\": \"evict\", \"files\": %d, "
		       "\"rounds\": %llu, \"reads\": %llu, \"mismatches\": 0, "
		       "\"seconds\": %.3f}\n", nfiles, rounds, reads, kzt_now() - t0);
	fflush(stdout);
	return 0;
}

/* --------------------------------------------------------------- main */

static uint64_t number(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (kzt_parse_u64(s, 0, &v) || v < min || v > max) {
		fprintf(stderr, "cacherace: %s: want a number from %llu to %llu, not '%s'\n",
			opt, (unsigned long long)min, (unsigned long long)max, s);
		usage(NULL);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pages", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 't' },
		{ "phases", required_argument, NULL, 'P' },
		{ "phase-ms", required_argument, NULL, 'm' },
		{ "writers", required_argument, NULL, 'w' },
		{ "readers", required_argument, NULL, 'r' },
		{ "evictors", required_argument, NULL, 'e' },
		{ "chasers", required_argument, NULL, 'c' },
		{ "run-pages", required_argument, NULL, 'R' },
		{ "pressure-mib", required_argument, NULL, 'M' },
		{ "seed", required_argument, NULL, 'S' },
		{ "self-test", no_argument, NULL, 'T' },
		{ "read", no_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mode;
	int c;

	while ((c = getopt_long(argc, argv, "n:t:P:m:w:r:e:c:R:M:S:Txjqh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			cfg.pages = number("--pages", optarg, 2, 1 << 20);
			break;
		case 't':
			cfg.seconds = (double)number("--seconds", optarg, 1, 86400);
			break;
		case 'P':
			cfg.phases = number("--phases", optarg, 1, UINT64_MAX);
			break;
		case 'm':
			cfg.phase_ms = number("--phase-ms", optarg, 1, 60000);
			break;
		case 'w':
			cfg.writers = (unsigned int)number("--writers", optarg, 1, 16);
			break;
		case 'r':
			cfg.readers = (unsigned int)number("--readers", optarg, 1, 16);
			break;
		case 'e':
			cfg.evictors = (unsigned int)number("--evictors", optarg, 1, 16);
			break;
		case 'c':
			cfg.chasers = (unsigned int)number("--chasers", optarg, 0, 16);
			break;
		case 'R':
			cfg.run_pages = number("--run-pages", optarg, 1, 256);
			break;
		case 'M':
			cfg.pressure_mib = number("--pressure-mib", optarg, 0, 1 << 20);
			if (cfg.pressure_mib == 1)
				usage("--pressure-mib: 0 (none) or at least 2");
			break;
		case 'S':
			cfg.seed = number("--seed", optarg, 0, UINT64_MAX);
			break;
		case 'T':
			cfg.self_test = 1;
			break;
		case 'x':
			cfg.evict_reads = 1;
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
	if (argc - optind < 2)
		usage("need MODE and FILE");
	mode = argv[optind];
	if (!strcmp(mode, "evict"))
		return do_evict(argv + optind + 1, argc - optind - 1);
	if (strcmp(mode, "race") && strcmp(mode, "shift"))
		usage("MODE must be race, shift or evict");
	if (argc - optind != 2)
		usage("race and shift take one FILE");
	if (cfg.writers > cfg.pages)
		usage("more writers than pages");
	cfg.path = argv[optind + 1];
	return strcmp(mode, "shift") ? do_race() : do_shift();
}
