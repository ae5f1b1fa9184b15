// SPDX-License-Identifier: GPL-2.0-only
/*
 * kztmem_zbud_test.c - KUnit tests for kztmem's zbud allocator
 *
 * The kztmem_zbud suite drives a zbud pool directly.  Each test keeps a
 * model of the zpages it stored (handle, size, contents seed, whether
 * it is still live); the pool's evict callback consults that model the
 * way kztmem's callback consults tmem: it frees a zpage only if the
 * model still holds that very handle.  The cases check where buddies
 * are placed in a frame, best fit over the unbuddied lists, the order
 * in which zbud_shrink() gives frames back, a zpage owned elsewhere
 * while its frame is evicted, and, in a random run of stores, frees and
 * shrinks, the counters and histograms against the model after every
 * step and the data of every live zpage.  A last case runs zbud under a
 * real tmem pool and evicts through tmem_evict_page().
 */

#include <kunit/test.h>
#include <linux/err.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "zbud.h"

#define ZBT_SLOTS	256

/*
 * struct zbt_entry - the model of one zpage
 * @handle:	its handle while @live
 * @size:	its size
 * @seed:	its contents
 * @live:	stored and not yet freed or evicted
 */
struct zbt_entry {
	unsigned long handle;
	unsigned int size;
	u8 seed;
	bool live;
};

/*
 * struct zbt_ctx - one test's state, reached by the evict callback
 * @pool:	the pool under test
 * @entry:	the model, indexed by the bref index of each zpage
 * @log:	model indices in the order they were evicted
 * @nlog:	entries in @log
 * @buf:	scratch for contents
 * @cumul:	zpages stored so far, by chunks
 */
struct zbt_ctx {
	struct zbud_pool *pool;
	struct zbt_entry entry[ZBT_SLOTS];
	unsigned int log[ZBT_SLOTS * 4];
	unsigned int nlog;
	u8 buf[PAGE_SIZE];
	unsigned long cumul[ZBUD_NCHUNKS];
};

static struct zbt_ctx *zbt_cur;

static int zbt_evict(struct zbud_pool *pool, const struct zbud_bref *bref,
		     unsigned long handle)
{
	struct zbt_entry *e;

	if (!zbt_cur || bref->index >= ZBT_SLOTS)
		return -EINVAL;
	e = &zbt_cur->entry[bref->index];
	if (!e->live || e->handle != handle)
		return -ENOENT;
	e->live = false;
	if (zbt_cur->nlog < ARRAY_SIZE(zbt_cur->log))
		zbt_cur->log[zbt_cur->nlog++] = bref->index;
	zbud_free(pool, handle);
	return 0;
}

static const struct zbud_ops zbt_ops = {
	.evict = zbt_evict,
};

static u8 zbt_byte(u8 seed, unsigned int i)
{
	return seed + i * 7 + (i >> 5);
}

static struct zbt_ctx *zbt_setup(struct kunit *test, unsigned int max_unused)
{
	struct zbt_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, ctx);
	ctx->pool = zbud_create_pool(&zbt_ops, max_unused);
	KUNIT_ASSERT_NOT_NULL(test, ctx->pool);
	zbt_cur = ctx;
	return ctx;
}

static void zbt_teardown(struct kunit *test, struct zbt_ctx *ctx)
{
	struct zbud_stats st;
	unsigned int i;

	for (i = 0; i < ZBT_SLOTS; i++) {
		if (ctx->entry[i].live) {
			ctx->entry[i].live = false;
			zbud_free(ctx->pool, ctx->entry[i].handle);
		}
	}
	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.zpages, 0UL);
	KUNIT_EXPECT_EQ(test, st.zbytes, 0UL);
	KUNIT_EXPECT_EQ(test, st.raw_pages, st.unused);
	zbud_destroy_pool(ctx->pool);
	zbt_cur = NULL;
}

/* Store @size bytes of contents @seed as model entry @i. */
static int zbt_store(struct zbt_ctx *ctx, unsigned int i, unsigned int size,
		     u8 seed)
{
	struct zbt_entry *e = &ctx->entry[i];
	struct zbud_bref bref = { .index = i, .pool_id = 7 };
	unsigned int b;
	int ret;

	for (b = 0; b < size; b++)
		ctx->buf[b] = zbt_byte(seed, b);
	ret = zbud_store(ctx->pool, ctx->buf, size, &bref, GFP_KERNEL,
			 &e->handle);
	if (ret)
		return ret;
	e->size = size;
	e->seed = seed;
	e->live = true;
	ctx->cumul[DIV_ROUND_UP(size, ZBUD_CHUNK_SIZE)]++;
	return 0;
}

static void zbt_free(struct zbt_ctx *ctx, unsigned int i)
{
	ctx->entry[i].live = false;
	zbud_free(ctx->pool, ctx->entry[i].handle);
}

static bool zbt_intact(const struct zbt_entry *e)
{
	unsigned int size, b;
	const u8 *data;

	data = zbud_data(e->handle, &size);
	if (size != e->size)
		return false;
	for (b = 0; b < size; b++)
		if (data[b] != zbt_byte(e->seed, b))
			return false;
	return true;
}

static unsigned int zbt_hdr_bytes(void)
{
	return PAGE_SIZE - zbud_usable_chunks() * ZBUD_CHUNK_SIZE;
}

static unsigned int zbt_chunks(unsigned int chunks)
{
	return chunks * ZBUD_CHUNK_SIZE;
}

static void zbud_test_placement(struct kunit *test)
{
	struct zbt_ctx *ctx = zbt_setup(test, 1);
	struct zbud_stats st;

	/* The first buddy goes right after the header */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 0, 1000, 1), 0);
	KUNIT_EXPECT_EQ(test, zbud_handle_offset(ctx->entry[0].handle),
			zbt_hdr_bytes());

	/* The second joins it, packed against the end of the frame */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 1, 900, 2), 0);
	KUNIT_EXPECT_PTR_EQ(test, zbud_handle_page(ctx->entry[1].handle),
			    zbud_handle_page(ctx->entry[0].handle));
	KUNIT_EXPECT_EQ(test, zbud_handle_offset(ctx->entry[1].handle),
			(unsigned int)PAGE_SIZE - 900);
	KUNIT_EXPECT_TRUE(test, zbt_intact(&ctx->entry[0]));
	KUNIT_EXPECT_TRUE(test, zbt_intact(&ctx->entry[1]));

	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 1UL);
	KUNIT_EXPECT_EQ(test, st.zpages, 2UL);
	KUNIT_EXPECT_EQ(test, st.zbytes, 1900UL);
	KUNIT_EXPECT_EQ(test, st.buddied, 1UL);
	KUNIT_EXPECT_EQ(test, st.unbuddied, 0UL);

	/* At most two to a frame: a third gets a new frame */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 2, 100, 3), 0);
	KUNIT_EXPECT_PTR_NE(test, zbud_handle_page(ctx->entry[2].handle),
			    zbud_handle_page(ctx->entry[0].handle));
	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 2UL);
	KUNIT_EXPECT_EQ(test, st.unbuddied, 1UL);

	/* A free first slot is reused at the start, next to the end one */
	zbt_free(ctx, 0);
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 3, 1000, 4), 0);
	KUNIT_EXPECT_PTR_EQ(test, zbud_handle_page(ctx->entry[3].handle),
			    zbud_handle_page(ctx->entry[1].handle));
	KUNIT_EXPECT_EQ(test, zbud_handle_offset(ctx->entry[3].handle),
			zbt_hdr_bytes());
	KUNIT_EXPECT_TRUE(test, zbt_intact(&ctx->entry[1]));
	KUNIT_EXPECT_TRUE(test, zbt_intact(&ctx->entry[3]));

	/* Sizes: none, too big, and the largest */
	KUNIT_EXPECT_EQ(test, zbt_store(ctx, 4, 0, 5), -E2BIG);
	KUNIT_EXPECT_EQ(test, zbt_store(ctx, 4, zbud_max_size() + 1, 5),
			-E2BIG);
	KUNIT_EXPECT_EQ(test, zbud_max_size(),
			zbt_chunks(zbud_usable_chunks()));
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 4, zbud_max_size(), 6), 0);
	KUNIT_EXPECT_EQ(test, zbud_handle_offset(ctx->entry[4].handle),
			zbt_hdr_bytes());
	KUNIT_EXPECT_TRUE(test, zbt_intact(&ctx->entry[4]));

	/* Empty frames: one is kept for reuse, the others go back */
	zbt_free(ctx, 1);
	zbt_free(ctx, 2);
	zbt_free(ctx, 3);
	zbt_free(ctx, 4);
	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 1UL);
	KUNIT_EXPECT_EQ(test, st.unused, 1UL);
	KUNIT_EXPECT_EQ(test, st.zpages, 0UL);
	KUNIT_EXPECT_EQ(test, st.cumul_zpages, 5UL);
	KUNIT_EXPECT_EQ(test, st.cumul_zbytes,
			1000UL + 900 + 100 + 1000 + zbud_max_size());
	zbt_teardown(test, ctx);
}

static void zbud_test_best_fit(struct kunit *test)
{
	struct zbt_ctx *ctx = zbt_setup(test, 4);
	unsigned int u = zbud_usable_chunks();
	unsigned long *counts;
	struct page *f10, *f20, *f30;

	counts = kunit_kcalloc(test, ZBUD_NCHUNKS, sizeof(*counts),
			       GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, counts);

	/* Three unbuddied frames with 20, 10 and 30 free chunks */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 0, zbt_chunks(u - 20), 1), 0);
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 1, zbt_chunks(u - 10), 2), 0);
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 2, zbt_chunks(u - 30), 3), 0);
	f20 = zbud_handle_page(ctx->entry[0].handle);
	f10 = zbud_handle_page(ctx->entry[1].handle);
	f30 = zbud_handle_page(ctx->entry[2].handle);
	KUNIT_EXPECT_PTR_NE(test, f10, f20);
	KUNIT_EXPECT_PTR_NE(test, f20, f30);

	zbud_unbuddied_counts(ctx->pool, counts);
	KUNIT_EXPECT_EQ(test, counts[10], 1UL);
	KUNIT_EXPECT_EQ(test, counts[20], 1UL);
	KUNIT_EXPECT_EQ(test, counts[30], 1UL);

	/* 15 chunks: the 20-chunk hole fits best */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 3, zbt_chunks(15) - 3, 4), 0);
	KUNIT_EXPECT_PTR_EQ(test, zbud_handle_page(ctx->entry[3].handle), f20);
	/* 25 chunks: only the 30-chunk hole fits */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 4, zbt_chunks(25), 5), 0);
	KUNIT_EXPECT_PTR_EQ(test, zbud_handle_page(ctx->entry[4].handle), f30);
	/* 10 chunks exactly: the 10-chunk hole */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 5, zbt_chunks(10), 6), 0);
	KUNIT_EXPECT_PTR_EQ(test, zbud_handle_page(ctx->entry[5].handle), f10);

	zbud_unbuddied_counts(ctx->pool, counts);
	KUNIT_EXPECT_EQ(test, counts[10], 0UL);
	KUNIT_EXPECT_EQ(test, counts[20], 0UL);
	KUNIT_EXPECT_EQ(test, counts[30], 0UL);

	/* Nothing fits any more: a new frame */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 6, 64, 7), 0);
	KUNIT_EXPECT_PTR_NE(test, zbud_handle_page(ctx->entry[6].handle), f10);
	KUNIT_EXPECT_PTR_NE(test, zbud_handle_page(ctx->entry[6].handle), f20);
	KUNIT_EXPECT_PTR_NE(test, zbud_handle_page(ctx->entry[6].handle), f30);
	zbud_unbuddied_counts(ctx->pool, counts);
	KUNIT_EXPECT_EQ(test, counts[u - 1], 1UL);

	zbud_cumul_chunk_counts(ctx->pool, counts);
	KUNIT_EXPECT_EQ(test, counts[15], 1UL);
	KUNIT_EXPECT_EQ(test, counts[25], 1UL);
	KUNIT_EXPECT_EQ(test, counts[10], 1UL);
	KUNIT_EXPECT_EQ(test, counts[1], 1UL);
	KUNIT_EXPECT_EQ(test, counts[0], 0UL);
	zbt_teardown(test, ctx);
}

static void zbud_test_eviction_order(struct kunit *test)
{
	struct zbt_ctx *ctx = zbt_setup(test, 4);
	unsigned int u = zbud_usable_chunks();
	struct zbud_stats st;

	/* u1: an old unbuddied frame */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 0, zbt_chunks(u - 1), 1), 0);
	/* b: a buddied frame */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 1, zbt_chunks(u / 2), 2), 0);
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 2, zbt_chunks(u / 2), 3), 0);
	/* an empty frame */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 3, zbt_chunks(u), 4), 0);
	zbt_free(ctx, 3);
	/* u2: a newer unbuddied frame */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 4, zbt_chunks(u - 2), 5), 0);

	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 3UL);
	KUNIT_EXPECT_EQ(test, st.unused, 0UL);

	/* u2 took the empty frame; make another empty one */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 5, zbt_chunks(u), 6), 0);
	zbt_free(ctx, 5);
	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 4UL);
	KUNIT_EXPECT_EQ(test, st.unused, 1UL);
	KUNIT_EXPECT_EQ(test, zbud_reclaimable(ctx->pool), 4UL);

	/* Empty first: no tmem entry is involved */
	KUNIT_EXPECT_EQ(test, zbud_shrink(ctx->pool, 1), 1UL);
	KUNIT_EXPECT_EQ(test, ctx->nlog, 0U);
	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 3UL);
	KUNIT_EXPECT_EQ(test, st.evicted_raw, 1UL);

	/* Then unbuddied, oldest first, then buddied */
	KUNIT_EXPECT_EQ(test, zbud_shrink(ctx->pool, 1), 1UL);
	KUNIT_ASSERT_EQ(test, ctx->nlog, 1U);
	KUNIT_EXPECT_EQ(test, ctx->log[0], 0U);
	KUNIT_EXPECT_EQ(test, zbud_shrink(ctx->pool, 1), 1UL);
	KUNIT_ASSERT_EQ(test, ctx->nlog, 2U);
	KUNIT_EXPECT_EQ(test, ctx->log[1], 4U);
	KUNIT_EXPECT_EQ(test, zbud_shrink(ctx->pool, 5), 1UL);
	KUNIT_ASSERT_EQ(test, ctx->nlog, 4U);
	KUNIT_EXPECT_EQ(test, ctx->log[2], 1U);
	KUNIT_EXPECT_EQ(test, ctx->log[3], 2U);
	KUNIT_EXPECT_EQ(test, zbud_shrink(ctx->pool, 1), 0UL);

	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 0UL);
	KUNIT_EXPECT_EQ(test, st.zpages, 0UL);
	KUNIT_EXPECT_EQ(test, st.evicted_raw, 4UL);
	KUNIT_EXPECT_EQ(test, st.evicted_unbuddied, 2UL);
	KUNIT_EXPECT_EQ(test, st.evicted_buddied, 1UL);
	KUNIT_EXPECT_EQ(test, st.evicting, 0UL);
	zbt_teardown(test, ctx);
}

/*
 * A zpage the evictor cannot take, because it is owned elsewhere: a store
 * that has its handle but has not put it into tmem yet, or a get that
 * took it out and is still decompressing.  Its frame must not be left
 * "evicting" on no list, where nothing would ever free or count it: it
 * goes back on its lists, is not counted as freed, and a later shrink
 * evicts it once tmem holds the zpage.
 */
static void zbud_test_evict_owned_elsewhere(struct kunit *test)
{
	struct zbt_ctx *ctx = zbt_setup(test, 0);
	struct zbud_stats st;
	struct page *victim;

	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 0, 500, 1), 0);
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 1, 600, 2), 0);
	victim = zbud_handle_page(ctx->entry[0].handle);
	KUNIT_EXPECT_PTR_EQ(test, zbud_handle_page(ctx->entry[1].handle),
			    victim);

	/* "Not in tmem yet": the model does not hold zpage 0 */
	ctx->entry[0].live = false;
	KUNIT_EXPECT_EQ(test, zbud_shrink(ctx->pool, 1), 0UL);
	KUNIT_ASSERT_EQ(test, ctx->nlog, 1U);
	KUNIT_EXPECT_EQ(test, ctx->log[0], 1U);

	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.evicting, 0UL);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 1UL);
	KUNIT_EXPECT_EQ(test, st.unbuddied, 1UL);
	KUNIT_EXPECT_EQ(test, st.zpages, 1UL);
	KUNIT_EXPECT_EQ(test, st.evicted_raw, 0UL);
	KUNIT_EXPECT_EQ(test, st.evict_kept, 2UL);
	KUNIT_EXPECT_EQ(test, zbud_reclaimable(ctx->pool), 1UL);
	/* The owner can still read it */
	KUNIT_EXPECT_TRUE(test, zbt_intact(&ctx->entry[0]));

	/* The store completes: now the frame can be evicted for good */
	ctx->entry[0].live = true;
	KUNIT_EXPECT_EQ(test, zbud_shrink(ctx->pool, 1), 1UL);
	KUNIT_ASSERT_EQ(test, ctx->nlog, 2U);
	KUNIT_EXPECT_EQ(test, ctx->log[1], 0U);
	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 0UL);
	KUNIT_EXPECT_EQ(test, st.evicted_raw, 1UL);
	KUNIT_EXPECT_EQ(test, st.evicting, 0UL);

	/* A get that owns a zpage frees it after the shrink: normal free */
	KUNIT_ASSERT_EQ(test, zbt_store(ctx, 2, 700, 3), 0);
	ctx->entry[2].live = false;
	KUNIT_EXPECT_EQ(test, zbud_shrink(ctx->pool, 1), 0UL);
	zbud_free(ctx->pool, ctx->entry[2].handle);
	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.zpages, 0UL);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 0UL);
	KUNIT_EXPECT_EQ(test, st.evicting, 0UL);
	zbt_teardown(test, ctx);
}

/* Compare the pool's counters with the model. */
static void zbt_check(struct kunit *test, struct zbt_ctx *ctx, bool data)
{
	unsigned long zpages = 0, zbytes = 0, ub = 0;
	unsigned long *counts;
	struct zbud_stats st;
	unsigned int i, j;

	counts = kcalloc(ZBUD_NCHUNKS, sizeof(*counts), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, counts);

	for (i = 0; i < ZBT_SLOTS; i++) {
		struct zbt_entry *e = &ctx->entry[i];
		unsigned int same = 0;

		if (!e->live)
			continue;
		zpages++;
		zbytes += e->size;
		if (!data)
			continue;
		KUNIT_EXPECT_TRUE_MSG(test, zbt_intact(e), "zpage %u corrupted",
				      i);
		/* Density: at most two zpages to a frame */
		for (j = 0; j < ZBT_SLOTS; j++)
			if (ctx->entry[j].live &&
			    zbud_handle_page(ctx->entry[j].handle) ==
			    zbud_handle_page(e->handle))
				same++;
		KUNIT_EXPECT_LE(test, same, 2U);
	}

	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.zpages, zpages);
	KUNIT_EXPECT_EQ(test, st.zbytes, zbytes);
	KUNIT_EXPECT_EQ(test, st.evicting, 0UL);
	KUNIT_EXPECT_EQ(test, 2 * st.buddied + st.unbuddied, zpages);
	KUNIT_EXPECT_EQ(test, st.buddied + st.unbuddied + st.unused,
			st.raw_pages);
	KUNIT_EXPECT_LE(test, st.unused, 8UL);

	zbud_unbuddied_counts(ctx->pool, counts);
	for (i = 0; i < ZBUD_NCHUNKS; i++)
		ub += counts[i];
	KUNIT_EXPECT_EQ(test, ub, st.unbuddied);

	zbud_cumul_chunk_counts(ctx->pool, counts);
	for (i = 0; i < ZBUD_NCHUNKS; i++)
		KUNIT_EXPECT_EQ_MSG(test, counts[i], ctx->cumul[i],
				    "chunk histogram entry %u", i);
	kfree(counts);
}

static void zbud_test_random(struct kunit *test)
{
	struct zbt_ctx *ctx = zbt_setup(test, 8);
	unsigned long stored = 0, evicted = 0;
	struct rnd_state rnd;
	struct zbud_stats st;
	unsigned int op, i, size;
	u32 r;

	prandom_seed_state(&rnd, 0x6b7a746d);
	for (op = 0; op < 3000; op++) {
		r = prandom_u32_state(&rnd);
		i = r % ZBT_SLOTS;
		r >>= 8;
		if (r % 64 == 0) {
			unsigned int before = ctx->nlog;

			zbud_shrink(ctx->pool, 1 + r % 3);
			evicted += ctx->nlog - before;
		} else if (ctx->entry[i].live) {
			zbt_free(ctx, i);
		} else {
			/* Mostly small and mid sizes, some near the max */
			size = 1 + prandom_u32_state(&rnd) %
				   (r % 4 ? zbud_max_size() / 2 :
					    zbud_max_size());
			KUNIT_ASSERT_EQ(test, zbt_store(ctx, i, size, r), 0);
			stored++;
		}
		zbt_check(test, ctx, op % 128 == 0);
	}
	zbt_check(test, ctx, true);

	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.cumul_zpages, stored);
	KUNIT_EXPECT_GT(test, evicted, 0UL);
	KUNIT_EXPECT_GT(test, st.evicted_unbuddied + st.evicted_buddied, 0UL);

	/* Shrinking everything empties the pool */
	zbud_shrink(ctx->pool, ULONG_MAX);
	zbud_get_stats(ctx->pool, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 0UL);
	KUNIT_EXPECT_EQ(test, st.zpages, 0UL);
	for (i = 0; i < ZBT_SLOTS; i++)
		KUNIT_EXPECT_FALSE(test, ctx->entry[i].live);
	zbt_teardown(test, ctx);
}

/*
 * zbud under a real tmem pool, wired the way kztmem wires it: the PAM
 * stores the first ZBT_TM_SIZE bytes of each page in zbud, and the
 * evict callback drops the tmem entry through tmem_evict_page().
 */
#define ZBT_TM_SIZE	200

static struct tmem_pool *zbt_tm_pool;
static struct zbud_pool *zbt_tm_zbud;

static void *zbt_tm_create(struct tmem_pool *pool, const struct tmem_oid *oid,
			   pgoff_t index, struct page *page)
{
	struct zbud_bref bref = { .oid = *oid, .index = index };
	unsigned long handle;
	void *src = kmap_local_page(page);
	int ret;

	ret = zbud_store(zbt_tm_zbud, src, ZBT_TM_SIZE, &bref, GFP_ATOMIC,
			 &handle);
	kunmap_local(src);
	return ret ? ERR_PTR(ret) : (void *)handle;
}

static int zbt_tm_get_data(struct tmem_pool *pool, void *pampd,
			   struct page *page)
{
	unsigned int size;
	const void *data = zbud_data((unsigned long)pampd, &size);
	void *dst = kmap_local_page(page);

	memset(dst, 0, PAGE_SIZE);
	memcpy(dst, data, size);
	kunmap_local(dst);
	return 0;
}

static void zbt_tm_free(struct tmem_pool *pool, void *pampd)
{
	zbud_free(zbt_tm_zbud, (unsigned long)pampd);
}

static const struct tmem_pamops zbt_tm_pamops = {
	.create = zbt_tm_create,
	.get_data = zbt_tm_get_data,
	.free = zbt_tm_free,
};

static struct tmem_obj *zbt_tm_obj_alloc(struct tmem_pool *pool)
{
	return kmalloc(sizeof(struct tmem_obj), GFP_ATOMIC);
}

static void zbt_tm_obj_free(struct tmem_pool *pool, struct tmem_obj *obj)
{
	kfree(obj);
}

static struct tmem_objnode *zbt_tm_objnode_alloc(struct tmem_pool *pool)
{
	return kmalloc(sizeof(struct tmem_objnode), GFP_ATOMIC);
}

static void zbt_tm_objnode_free(struct tmem_pool *pool,
				struct tmem_objnode *node)
{
	kfree(node);
}

static const struct tmem_hostops zbt_tm_hostops = {
	.obj_alloc = zbt_tm_obj_alloc,
	.obj_free = zbt_tm_obj_free,
	.objnode_alloc = zbt_tm_objnode_alloc,
	.objnode_free = zbt_tm_objnode_free,
};

static int zbt_tm_evict(struct zbud_pool *pool, const struct zbud_bref *bref,
			unsigned long handle)
{
	return tmem_evict_page(zbt_tm_pool, &bref->oid, bref->index,
			       (void *)handle);
}

static const struct zbud_ops zbt_tm_ops = {
	.evict = zbt_tm_evict,
};

static void zbt_tm_fill(struct page *page, u8 val)
{
	void *p = kmap_local_page(page);

	memset(p, val, PAGE_SIZE);
	kunmap_local(p);
}

static u8 zbt_tm_first(struct page *page)
{
	u8 *p = kmap_local_page(page);
	u8 val = p[0];

	kunmap_local(p);
	return val;
}

static void zbud_test_tmem_evict(struct kunit *test)
{
	static const struct tmem_oid oid = { .oid = { 5, 6, 7 } };
	struct page *page = alloc_page(GFP_KERNEL);
	struct zbud_stats st;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, page);
	zbt_tm_zbud = zbud_create_pool(&zbt_tm_ops, 0);
	KUNIT_ASSERT_NOT_NULL(test, zbt_tm_zbud);
	zbt_tm_pool = tmem_pool_create(0, &zbt_tm_pamops, &zbt_tm_hostops,
				       NULL);
	KUNIT_ASSERT_FALSE(test, IS_ERR(zbt_tm_pool));

	/* Four pages: two buddied frames, the older holding 0 and 1 */
	for (i = 0; i < 4; i++) {
		zbt_tm_fill(page, 10 + i);
		KUNIT_ASSERT_EQ(test, tmem_put(zbt_tm_pool, &oid, i, page), 0);
	}
	zbud_get_stats(zbt_tm_zbud, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 2UL);
	KUNIT_EXPECT_EQ(test, st.buddied, 2UL);

	/* Evicting with a pampd the slot does not hold changes nothing */
	KUNIT_EXPECT_EQ(test, tmem_evict_page(zbt_tm_pool, &oid, 2,
					      (void *)1UL), -ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_evict_page(zbt_tm_pool, &oid, 9,
					      (void *)1UL), -ENOENT);

	/* The shrinker drops the tmem entries of the oldest frame */
	KUNIT_EXPECT_EQ(test, zbud_shrink(zbt_tm_zbud, 1), 1UL);
	KUNIT_EXPECT_EQ(test, tmem_get(zbt_tm_pool, &oid, 0, page), -ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_get(zbt_tm_pool, &oid, 1, page), -ENOENT);
	zbud_get_stats(zbt_tm_zbud, &st);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 1UL);
	KUNIT_EXPECT_EQ(test, st.evicted_raw, 1UL);

	/* A replaced page: the new copy is what a get returns */
	zbt_tm_fill(page, 99);
	KUNIT_ASSERT_EQ(test, tmem_put(zbt_tm_pool, &oid, 3, page), 0);
	KUNIT_EXPECT_EQ(test, tmem_get(zbt_tm_pool, &oid, 3, page), 0);
	KUNIT_EXPECT_EQ(test, zbt_tm_first(page), 99);
	/* Ephemeral: the get took it out */
	KUNIT_EXPECT_EQ(test, tmem_get(zbt_tm_pool, &oid, 3, page), -ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_get(zbt_tm_pool, &oid, 2, page), 0);
	KUNIT_EXPECT_EQ(test, zbt_tm_first(page), 12);

	/* Everything left goes; the tmem pool is empty afterwards */
	zbt_tm_fill(page, 50);
	KUNIT_ASSERT_EQ(test, tmem_put(zbt_tm_pool, &oid, 7, page), 0);
	zbud_shrink(zbt_tm_zbud, ULONG_MAX);
	zbud_get_stats(zbt_tm_zbud, &st);
	KUNIT_EXPECT_EQ(test, st.zpages, 0UL);
	KUNIT_EXPECT_EQ(test, st.raw_pages, 0UL);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&zbt_tm_pool->obj_count), 0L);

	tmem_destroy_pool(zbt_tm_pool);
	zbud_destroy_pool(zbt_tm_zbud);
	__free_page(page);
}

static struct kunit_case kzt_zbud_cases[] = {
	KUNIT_CASE(zbud_test_placement),
	KUNIT_CASE(zbud_test_best_fit),
	KUNIT_CASE(zbud_test_eviction_order),
	KUNIT_CASE(zbud_test_evict_owned_elsewhere),
	KUNIT_CASE(zbud_test_random),
	KUNIT_CASE(zbud_test_tmem_evict),
	{}
};

static struct kunit_suite kzt_zbud_suite = {
	.name = "kztmem_zbud",
	.test_cases = kzt_zbud_cases,
};

kunit_test_suites(&kzt_zbud_suite);
