/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kzt_pattern.h - deterministic page contents shared by the kzt workloads.
 *
 * Every 4 KiB block a workload writes is a pure function of
 * (pattern, seed, block index), so a verifier can regenerate the expected
 * bytes at any time instead of keeping a second copy in memory.
 *
 * The patterns span the range of compressibility a compressed-memory
 * backend has to deal with:
 *
 *   zero    every byte 0 (a "same-filled" page with value 0)
 *   same    one non-zero 64-bit word repeated over the page
 *   text    lines from a few fixed sentences: lzo shrinks it ~5x or more
 *   mixed   first half text, second half random: compresses to ~60-70%
 *   random  splitmix64 output: incompressible
 *   mix     cycles zero, same, text, mixed, random by block index
 *
 * Each non-zero, non-same block starts with a header naming the block index
 * and seed, so no two blocks of one stream are identical.
 */
#ifndef KZT_PATTERN_H
#define KZT_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define KZT_BLOCK 4096u

enum kzt_pattern {
	KZT_PAT_ZERO,
	KZT_PAT_SAME,
	KZT_PAT_TEXT,
	KZT_PAT_MIXED,
	KZT_PAT_RANDOM,
	KZT_PAT_MIX,		/* cycles the five above by block index */
	KZT_PAT_COUNT
};

static const char *const kzt_pattern_names[KZT_PAT_COUNT] = {
	"zero", "same", "text", "mixed", "random", "mix",
};

/* Returns the pattern for @name, or -1 if the name is unknown. */
static inline int kzt_pattern_parse(const char *name)
{
	int i;

	for (i = 0; i < KZT_PAT_COUNT; i++)
		if (strcmp(name, kzt_pattern_names[i]) == 0)
			return i;
	return -1;
}

/* splitmix64: a small, fast, well-mixed 64-bit generator. */
static inline uint64_t kzt_mix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A per-block generator state derived from (seed, block index). */
static inline uint64_t kzt_block_state(uint64_t seed, uint64_t index)
{
	uint64_t s = seed ^ (index * 0xd1342543de82ef95ULL);

	kzt_mix64(&s);
	return s;
}

/*
 * Text-like bytes: whole lines picked from a few fixed sentences. Long
 * repeats make lzo/lz4 shrink a page to a fifth or less, the way logs and
 * source text do.
 */
static const char *const kzt_lines[] = {
	"the kernel stores the page in the pool\n",
	"a persistent page must come back exactly as it was stored\n",
	"an ephemeral page may be dropped at any time\n",
	"frontswap: store, load, invalidate page, invalidate area\n",
	"cleancache: put, get, invalidate page, inode and filesystem\n",
	"compressed buddies share one page frame\n",
	"object index and pool id name every page\n",
	"memory pressure moves anonymous pages to swap\n",
};

#define KZT_NLINES (sizeof(kzt_lines) / sizeof(kzt_lines[0]))

static inline void kzt_fill_text(unsigned char *buf, size_t len, uint64_t *st)
{
	size_t pos = 0;

	while (pos < len) {
		const char *line = kzt_lines[kzt_mix64(st) % KZT_NLINES];
		size_t n = strlen(line);

		if (n > len - pos)
			n = len - pos;
		memcpy(buf + pos, line, n);
		pos += n;
	}
}

static inline void kzt_fill_random(unsigned char *buf, size_t len,
				   uint64_t *st)
{
	size_t pos = 0;

	while (pos < len) {
		uint64_t r = kzt_mix64(st);
		size_t n = len - pos < 8 ? len - pos : 8;

		memcpy(buf + pos, &r, n);
		pos += n;
	}
}

/* The concrete pattern used for block @index of a stream of pattern @pat. */
static inline int kzt_block_pattern(int pat, uint64_t index)
{
	if (pat == KZT_PAT_MIX)
		return (int)(index % KZT_PAT_MIX);
	return pat;
}

/*
 * Fill one KZT_BLOCK-byte block with the contents of block @index of the
 * stream (@pat, @seed).
 */
static inline void kzt_fill_block(unsigned char *buf, int pat, uint64_t seed,
				  uint64_t index)
{
	uint64_t st = kzt_block_state(seed, index);
	uint64_t word;
	size_t i, hdr;
	char head[64];

	switch (kzt_block_pattern(pat, index)) {
	case KZT_PAT_ZERO:
		memset(buf, 0, KZT_BLOCK);
		return;
	case KZT_PAT_SAME:
		word = kzt_mix64(&st) | 1;	/* never the zero page */
		for (i = 0; i < KZT_BLOCK; i += sizeof(word))
			memcpy(buf + i, &word, sizeof(word));
		return;
	default:
		break;
	}

	hdr = (size_t)snprintf(head, sizeof(head), "kzt block %llu seed %llu\n",
			       (unsigned long long)index,
			       (unsigned long long)seed);
	memcpy(buf, head, hdr);

	switch (kzt_block_pattern(pat, index)) {
	case KZT_PAT_TEXT:
		kzt_fill_text(buf + hdr, KZT_BLOCK - hdr, &st);
		break;
	case KZT_PAT_MIXED:
		kzt_fill_text(buf + hdr, KZT_BLOCK / 2 - hdr, &st);
		kzt_fill_random(buf + KZT_BLOCK / 2, KZT_BLOCK / 2, &st);
		break;
	default:		/* KZT_PAT_RANDOM */
		kzt_fill_random(buf + hdr, KZT_BLOCK - hdr, &st);
		break;
	}
}

#endif /* KZT_PATTERN_H */
