// SPDX-License-Identifier: GPL-2.0-only
/*
 * kztmem_test.c - KUnit tests for kztmem's xvmalloc and tmem layers
 *
 * kztmem_xvmalloc checks the allocator through its API only: sizes and
 * alignment, merging of free neighbours, pages going back when empty,
 * the pool size, and a random run against a shadow table that checks
 * every live object for overlap and for corruption of its contents.
 *
 * kztmem_tmem drives the tmem layer with a fake PAM that keeps a plain
 * copy of each page and with counting host ops that can be told to
 * fail, and checks persistent and ephemeral semantics, replace on put,
 * the flushes, pool destruction and the cleanup after failures.
 */

#include <kunit/test.h>
#include <linux/err.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "tmem.h"
#include "xvmalloc.h"

/*
 * xvmalloc
 */

struct xvt_obj {
	struct page *page;
	u32 offset;
	u32 size;
	u8 seed;
};

static u8 xvt_byte(u8 seed, u32 i)
{
	return seed + i * 13 + (i >> 8);
}

static void xvt_fill(const struct xvt_obj *obj)
{
	u8 *base = kmap_local_page(obj->page);
	u32 i;

	for (i = 0; i < obj->size; i++)
		base[obj->offset + i] = xvt_byte(obj->seed, i);
	kunmap_local(base);
}

static bool xvt_intact(const struct xvt_obj *obj)
{
	u8 *base = kmap_local_page(obj->page);
	bool ok = true;
	u32 i;

	for (i = 0; i < obj->size && ok; i++)
		ok = base[obj->offset + i] == xvt_byte(obj->seed, i);
	kunmap_local(base);
	return ok;
}

static int xvt_alloc(struct xv_pool *pool, struct xvt_obj *obj, u32 size,
		     u8 seed)
{
	int ret;

	ret = xv_malloc(pool, size, &obj->page, &obj->offset, GFP_KERNEL);
	if (ret)
		return ret;
	obj->size = size;
	obj->seed = seed;
	xvt_fill(obj);
	return 0;
}

static void xv_test_sizes(struct kunit *test)
{
	struct xv_pool *pool = xv_create_pool();
	struct xvt_obj obj;

	KUNIT_ASSERT_NOT_NULL(test, pool);
	KUNIT_EXPECT_EQ(test, xv_malloc(pool, 0, &obj.page, &obj.offset,
					GFP_KERNEL), -EINVAL);
	KUNIT_EXPECT_EQ(test, xv_malloc(pool, XV_MAX_ALLOC_SIZE + 1, &obj.page,
					&obj.offset, GFP_KERNEL), -EINVAL);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), 0ULL);

	/* Small requests get the minimum size */
	KUNIT_ASSERT_EQ(test, xvt_alloc(pool, &obj, 1, 1), 0);
	KUNIT_EXPECT_EQ(test, xv_get_object_size(obj.page, obj.offset),
			(u32)XV_MIN_ALLOC_SIZE);
	KUNIT_EXPECT_EQ(test, obj.offset % XV_ALIGN, 0U);
	xv_free(pool, obj.page, obj.offset);

	/* Sizes are rounded up to the alignment */
	KUNIT_ASSERT_EQ(test, xvt_alloc(pool, &obj, 33, 2), 0);
	KUNIT_EXPECT_EQ(test, xv_get_object_size(obj.page, obj.offset),
			ALIGN(33U, XV_ALIGN));
	xv_free(pool, obj.page, obj.offset);

	/* The largest object fills a page on its own */
	KUNIT_ASSERT_EQ(test, xvt_alloc(pool, &obj, XV_MAX_ALLOC_SIZE, 3), 0);
	KUNIT_EXPECT_EQ(test, obj.offset, (u32)XV_HDR_SIZE);
	KUNIT_EXPECT_EQ(test, xv_get_object_size(obj.page, obj.offset),
			(u32)XV_MAX_ALLOC_SIZE);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), (u64)PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, xvt_intact(&obj));
	xv_free(pool, obj.page, obj.offset);

	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), 0ULL);
	xv_destroy_pool(pool);
}

static void xv_test_page_freed_when_empty(struct kunit *test)
{
	struct xv_pool *pool = xv_create_pool();
	struct xvt_obj a, b, c;

	KUNIT_ASSERT_NOT_NULL(test, pool);
	KUNIT_ASSERT_EQ(test, xvt_alloc(pool, &a, 100, 1), 0);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), (u64)PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, xvt_alloc(pool, &b, 200, 2), 0);
	KUNIT_EXPECT_PTR_EQ(test, a.page, b.page);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), (u64)PAGE_SIZE);

	/* Does not fit next to a and b: a second page */
	KUNIT_ASSERT_EQ(test, xvt_alloc(pool, &c, XV_MAX_ALLOC_SIZE, 3), 0);
	KUNIT_EXPECT_PTR_NE(test, a.page, c.page);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), 2ULL * PAGE_SIZE);

	xv_free(pool, c.page, c.offset);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), (u64)PAGE_SIZE);
	xv_free(pool, a.page, a.offset);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), (u64)PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, xvt_intact(&b));
	xv_free(pool, b.page, b.offset);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), 0ULL);
	xv_destroy_pool(pool);
}

static void xv_test_coalescing(struct kunit *test)
{
	u32 size = ALIGN_DOWN(PAGE_SIZE / 4 - 128, XV_ALIGN);
	struct xv_pool *pool = xv_create_pool();
	struct xvt_obj obj[4], big;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, pool);
	for (i = 0; i < 4; i++) {
		KUNIT_ASSERT_EQ(test, xvt_alloc(pool, &obj[i], size, i), 0);
		KUNIT_EXPECT_PTR_EQ(test, obj[i].page, obj[0].page);
	}
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), (u64)PAGE_SIZE);

	/* Free 0 and 2, then 1, which must merge with both sides. */
	xv_free(pool, obj[0].page, obj[0].offset);
	xv_free(pool, obj[2].page, obj[2].offset);
	xv_free(pool, obj[1].page, obj[1].offset);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), (u64)PAGE_SIZE);

	/* Only the merged block can hold this, and nothing is left over. */
	KUNIT_ASSERT_EQ(test, xvt_alloc(pool, &big, 3 * size + 2 * XV_HDR_SIZE,
					9), 0);
	KUNIT_EXPECT_PTR_EQ(test, big.page, obj[0].page);
	KUNIT_EXPECT_EQ(test, big.offset, obj[0].offset);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), (u64)PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, xvt_intact(&obj[3]));

	/* Free in the other order: the next neighbour merges too. */
	xv_free(pool, obj[3].page, obj[3].offset);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), (u64)PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, xvt_intact(&big));
	xv_free(pool, big.page, big.offset);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), 0ULL);

	/* The page can again hold the largest object. */
	KUNIT_ASSERT_EQ(test, xvt_alloc(pool, &big, XV_MAX_ALLOC_SIZE, 7), 0);
	xv_free(pool, big.page, big.offset);
	xv_destroy_pool(pool);
}

#define XVT_SLOTS	256
#define XVT_OPS		6000

static bool xvt_overlap(const struct xvt_obj *a, const struct xvt_obj *b)
{
	u32 a_end, b_end;

	if (a->page != b->page)
		return false;
	a_end = a->offset + xv_get_object_size(a->page, a->offset);
	b_end = b->offset + xv_get_object_size(b->page, b->offset);
	/* the headers count too */
	return a->offset - XV_HDR_SIZE < b_end && b->offset - XV_HDR_SIZE < a_end;
}

/* Check every live object and that the pool owns exactly their pages. */
static void xvt_check_all(struct kunit *test, struct xv_pool *pool,
			  struct xvt_obj *obj, bool *live)
{
	unsigned long pages = 0;
	int i, j;

	for (i = 0; i < XVT_SLOTS; i++) {
		bool first_in_page = true;

		if (!live[i])
			continue;
		KUNIT_EXPECT_TRUE_MSG(test, xvt_intact(&obj[i]),
				      "object %d corrupted", i);
		KUNIT_EXPECT_LE(test, obj[i].offset + obj[i].size,
				(u32)PAGE_SIZE);
		for (j = 0; j < i; j++) {
			if (!live[j])
				continue;
			KUNIT_EXPECT_FALSE_MSG(test,
					       xvt_overlap(&obj[i], &obj[j]),
					       "objects %d and %d overlap", i, j);
			if (obj[j].page == obj[i].page)
				first_in_page = false;
		}
		if (first_in_page)
			pages++;
	}
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool),
			(u64)pages << PAGE_SHIFT);
}

static void xv_test_random(struct kunit *test)
{
	struct xv_pool *pool = xv_create_pool();
	struct rnd_state rnd;
	struct xvt_obj *obj;
	bool *live;
	u32 size, r;
	int op, i;

	KUNIT_ASSERT_NOT_NULL(test, pool);
	obj = kunit_kcalloc(test, XVT_SLOTS, sizeof(*obj), GFP_KERNEL);
	live = kunit_kcalloc(test, XVT_SLOTS, sizeof(*live), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, obj);
	KUNIT_ASSERT_NOT_NULL(test, live);
	prandom_seed_state(&rnd, 0x6b7a746d656dULL);

	for (op = 0; op < XVT_OPS; op++) {
		r = prandom_u32_state(&rnd);
		i = r % XVT_SLOTS;
		if (live[i]) {
			KUNIT_EXPECT_TRUE(test, xvt_intact(&obj[i]));
			xv_free(pool, obj[i].page, obj[i].offset);
			live[i] = false;
		} else {
			/* mostly compressed-page sizes, some tiny, some huge */
			r = prandom_u32_state(&rnd);
			switch (r % 4) {
			case 0:
				size = 1 + r / 4 % 64;
				break;
			case 1:
				size = 1 + r / 4 % XV_MAX_ALLOC_SIZE;
				break;
			default:
				size = PAGE_SIZE / 8 + r / 4 % (PAGE_SIZE / 2);
				break;
			}
			KUNIT_ASSERT_EQ(test, xvt_alloc(pool, &obj[i], size,
							op), 0);
			KUNIT_EXPECT_GE(test,
					xv_get_object_size(obj[i].page,
							   obj[i].offset),
					size);
			KUNIT_EXPECT_EQ(test, obj[i].offset % XV_ALIGN, 0U);
			live[i] = true;
		}
		if (op % 500 == 0)
			xvt_check_all(test, pool, obj, live);
	}
	xvt_check_all(test, pool, obj, live);

	for (i = 0; i < XVT_SLOTS; i++)
		if (live[i])
			xv_free(pool, obj[i].page, obj[i].offset);
	KUNIT_EXPECT_EQ(test, xv_get_total_size_bytes(pool), 0ULL);
	xv_destroy_pool(pool);
}

static struct kunit_case kzt_xvmalloc_cases[] = {
	KUNIT_CASE(xv_test_sizes),
	KUNIT_CASE(xv_test_page_freed_when_empty),
	KUNIT_CASE(xv_test_coalescing),
	KUNIT_CASE(xv_test_random),
	{}
};

static struct kunit_suite kzt_xvmalloc_suite = {
	.name = "kztmem_xvmalloc",
	.test_cases = kzt_xvmalloc_cases,
};

/*
 * tmem, with a fake PAM and counting host ops
 */

/*
 * struct tmt_ctx - one test's view of the pool
 * @pampds, @objs, @objnodes:	live fake pampds and metadata
 * @create_err:			when set, create() fails with it
 * @objnode_budget:		objnode allocations left before they fail,
 *				negative for no limit
 * @fail_obj:			obj allocations fail
 * @flush_in_get:		get_data of the held PAM flushes the page
 *				it is reading (tmt_oid1, index 9)
 * @get_atomic:			get_data ran with interrupts disabled
 * @flush_ret:			what that flush returned
 * @a, @b:			scratch pages
 */
struct tmt_ctx {
	long pampds;
	long objs;
	long objnodes;
	int create_err;
	int objnode_budget;
	bool fail_obj;
	bool flush_in_get;
	bool get_atomic;
	int flush_ret;
	struct page *a;
	struct page *b;
};

static void *tmt_create(struct tmem_pool *pool, const struct tmem_oid *oid,
			pgoff_t index, struct page *page)
{
	struct tmt_ctx *ctx = pool->private;
	void *copy;

	if (ctx->create_err)
		return ERR_PTR(ctx->create_err);
	copy = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!copy)
		return ERR_PTR(-ENOMEM);
	memcpy_from_page(copy, page, 0, PAGE_SIZE);
	ctx->pampds++;
	return copy;
}

static int tmt_get_data(struct tmem_pool *pool, void *pampd,
			struct page *page)
{
	memcpy_to_page(page, 0, pampd, PAGE_SIZE);
	return 0;
}

static void tmt_free(struct tmem_pool *pool, void *pampd)
{
	struct tmt_ctx *ctx = pool->private;

	ctx->pampds--;
	kfree(pampd);
}

static const struct tmem_pamops tmt_pamops = {
	.create = tmt_create,
	.get_data = tmt_get_data,
	.free = tmt_free,
};

/*
 * A persistent PAM with references (pamops->hold), as kztmem's own: a
 * pampd is a page copy with a count, freed by the last free().
 */
struct tmt_held {
	refcount_t refs;
	u8 data[PAGE_SIZE];
};

static const struct tmem_oid tmt_oid1 = { .oid = { 1, 2, 3 } };
static const struct tmem_oid tmt_oid2 = { .oid = { 1, 2, 4 } };

static void *tmt_held_create(struct tmem_pool *pool,
			     const struct tmem_oid *oid, pgoff_t index,
			     struct page *page)
{
	struct tmt_ctx *ctx = pool->private;
	struct tmt_held *held = kmalloc(sizeof(*held), GFP_KERNEL);

	if (!held)
		return ERR_PTR(-ENOMEM);
	refcount_set(&held->refs, 1);
	memcpy_from_page(held->data, page, 0, PAGE_SIZE);
	ctx->pampds++;
	return held;
}

static int tmt_held_get_data(struct tmem_pool *pool, void *pampd,
			     struct page *page)
{
	struct tmt_ctx *ctx = pool->private;
	struct tmt_held *held = pampd;

	ctx->get_atomic = irqs_disabled();
	/* Under the bucket lock this would deadlock: not tried then. */
	if (ctx->flush_in_get && !ctx->get_atomic)
		ctx->flush_ret = tmem_flush_page(pool, &tmt_oid1, 9);
	memcpy_to_page(page, 0, held->data, PAGE_SIZE);
	return 0;
}

static void tmt_held_hold(struct tmem_pool *pool, void *pampd)
{
	struct tmt_held *held = pampd;

	refcount_inc(&held->refs);
}

static void tmt_held_free(struct tmem_pool *pool, void *pampd)
{
	struct tmt_ctx *ctx = pool->private;
	struct tmt_held *held = pampd;

	if (!refcount_dec_and_test(&held->refs))
		return;
	ctx->pampds--;
	kfree(held);
}

static const struct tmem_pamops tmt_held_pamops = {
	.create = tmt_held_create,
	.get_data = tmt_held_get_data,
	.hold = tmt_held_hold,
	.free = tmt_held_free,
};

static struct tmem_obj *tmt_obj_alloc(struct tmem_pool *pool)
{
	struct tmt_ctx *ctx = pool->private;
	struct tmem_obj *obj;

	if (ctx->fail_obj)
		return NULL;
	obj = kmalloc(sizeof(*obj), GFP_ATOMIC);
	if (obj)
		ctx->objs++;
	return obj;
}

static void tmt_obj_free(struct tmem_pool *pool, struct tmem_obj *obj)
{
	struct tmt_ctx *ctx = pool->private;

	ctx->objs--;
	kfree(obj);
}

static struct tmem_objnode *tmt_objnode_alloc(struct tmem_pool *pool)
{
	struct tmt_ctx *ctx = pool->private;
	struct tmem_objnode *node;

	if (ctx->objnode_budget == 0)
		return NULL;
	node = kmalloc(sizeof(*node), GFP_ATOMIC);
	if (!node)
		return NULL;
	if (ctx->objnode_budget > 0)
		ctx->objnode_budget--;
	ctx->objnodes++;
	return node;
}

static void tmt_objnode_free(struct tmem_pool *pool,
			     struct tmem_objnode *node)
{
	struct tmt_ctx *ctx = pool->private;

	ctx->objnodes--;
	kfree(node);
}

static const struct tmem_hostops tmt_hostops = {
	.obj_alloc = tmt_obj_alloc,
	.obj_free = tmt_obj_free,
	.objnode_alloc = tmt_objnode_alloc,
	.objnode_free = tmt_objnode_free,
};

static void tmt_fill(struct page *page, u32 val)
{
	u32 *data = kmap_local_page(page);
	u32 i;

	for (i = 0; i < PAGE_SIZE / sizeof(u32); i++)
		data[i] = val ^ (i * 0x9e3779b9);
	kunmap_local(data);
}

static bool tmt_holds(struct page *page, u32 val)
{
	u32 *data = kmap_local_page(page);
	bool ok = true;
	u32 i;

	for (i = 0; i < PAGE_SIZE / sizeof(u32) && ok; i++)
		ok = data[i] == (val ^ (i * 0x9e3779b9));
	kunmap_local(data);
	return ok;
}

static int tmt_init(struct kunit *test)
{
	struct tmt_ctx *ctx;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->objnode_budget = -1;
	ctx->a = alloc_page(GFP_KERNEL);
	ctx->b = alloc_page(GFP_KERNEL);
	if (!ctx->a || !ctx->b) {
		if (ctx->a)
			__free_page(ctx->a);
		if (ctx->b)
			__free_page(ctx->b);
		return -ENOMEM;
	}
	test->priv = ctx;
	return 0;
}

static void tmt_exit(struct kunit *test)
{
	struct tmt_ctx *ctx = test->priv;

	__free_page(ctx->a);
	__free_page(ctx->b);
}

static struct tmem_pool *tmt_pool(struct kunit *test, u32 flags)
{
	struct tmem_pool *pool;

	pool = tmem_pool_create(flags, &tmt_pamops, &tmt_hostops, test->priv);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, pool);
	return pool;
}

/* Destroy the pool and check nothing leaked. */
static void tmt_done(struct kunit *test, struct tmem_pool *pool)
{
	struct tmt_ctx *ctx = test->priv;

	tmem_destroy_pool(pool);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objnodes, 0L);
}

/*
 * A persistent get reads the page after dropping the bucket lock, with
 * interrupts on, holding a reference: a flush of the same page while it
 * reads (here: from inside get_data) neither deadlocks nor frees the
 * data under it, and the get's release frees it.
 */
static void tmem_test_get_outside_lock(struct kunit *test)
{
	struct tmt_ctx *ctx = test->priv;
	struct tmem_pool *pool;

	pool = tmem_pool_create(TMEM_POOL_PERSIST, &tmt_held_pamops,
				&tmt_hostops, ctx);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, pool);
	tmt_fill(ctx->a, 0x2222);
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 9, ctx->a), 0);

	/* A plain get first: the page stays, one pampd. */
	tmt_fill(ctx->b, 0);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 9, ctx->b), 0);
	KUNIT_EXPECT_FALSE(test, ctx->get_atomic);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x2222));
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);

	ctx->flush_in_get = true;
	ctx->flush_ret = 1;
	tmt_fill(ctx->b, 0);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 9, ctx->b), 0);
	KUNIT_EXPECT_FALSE(test, ctx->get_atomic);
	KUNIT_EXPECT_EQ(test, ctx->flush_ret, 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x2222));
	KUNIT_EXPECT_EQ(test, ctx->pampds, 0L);
	ctx->flush_in_get = false;
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 9, ctx->b), -ENOENT);
	tmt_done(test, pool);
}

static void tmem_test_persistent(struct kunit *test)
{
	struct tmem_pool *pool = tmt_pool(test, TMEM_POOL_PERSIST);
	struct tmt_ctx *ctx = test->priv;

	tmt_fill(ctx->a, 0x1111);
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 5, ctx->a), 0);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 1L);

	/* A persistent get leaves the page in place. */
	tmt_fill(ctx->b, 0);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 5, ctx->b), 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x1111));
	tmt_fill(ctx->b, 0);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 5, ctx->b), 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x1111));
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);

	/* Misses: other index, other object */
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 6, ctx->b), -ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid2, 5, ctx->b), -ENOENT);

	KUNIT_EXPECT_EQ(test, tmem_flush_page(pool, &tmt_oid1, 5), 0);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 5, ctx->b), -ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_flush_page(pool, &tmt_oid1, 5), -ENOENT);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objnodes, 0L);
	tmt_done(test, pool);
}

/* tmem_flush_page_if()'s question: the copy of tmt_fill(, 0x3333) only. */
static bool tmt_want_3333(void *pampd)
{
	return *(u32 *)pampd == 0x3333;
}

/*
 * A conditional flush asks about the pampd in the slot: it flushes only
 * what the question wants gone (0), leaves the rest in place and
 * readable (-EBUSY), and finds nothing where nothing is (-ENOENT).
 */
static void tmem_test_flush_page_if(struct kunit *test)
{
	struct tmem_pool *pool = tmt_pool(test, TMEM_POOL_PERSIST);
	struct tmt_ctx *ctx = test->priv;

	tmt_fill(ctx->a, 0x3333);
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 5, ctx->a), 0);
	tmt_fill(ctx->a, 0x4444);
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 6, ctx->a), 0);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 2L);

	KUNIT_EXPECT_EQ(test, tmem_flush_page_if(pool, &tmt_oid1, 6,
						 tmt_want_3333), -EBUSY);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 2L);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 6, ctx->b), 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x4444));

	KUNIT_EXPECT_EQ(test, tmem_flush_page_if(pool, &tmt_oid1, 5,
						 tmt_want_3333), 0);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 5, ctx->b), -ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_flush_page_if(pool, &tmt_oid1, 5,
						 tmt_want_3333), -ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_flush_page_if(pool, &tmt_oid2, 6,
						 tmt_want_3333), -ENOENT);

	/* The object goes with its last page, as with tmem_flush_page(). */
	tmt_fill(ctx->a, 0x3333);
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 6, ctx->a), 0);
	KUNIT_EXPECT_EQ(test, tmem_flush_page_if(pool, &tmt_oid1, 6,
						 tmt_want_3333), 0);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objnodes, 0L);
	tmt_done(test, pool);
}

static void tmem_test_ephemeral(struct kunit *test)
{
	struct tmem_pool *pool = tmt_pool(test, 0);
	struct tmt_ctx *ctx = test->priv;

	tmt_fill(ctx->a, 0x2222);
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 0, ctx->a), 0);
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 1, ctx->a), 0);

	/* An ephemeral get is exclusive. */
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 0, ctx->b), 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x2222));
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 0, ctx->b), -ENOENT);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 1L);

	/* The last page taken takes the object with it. */
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 1, ctx->b), 0);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objnodes, 0L);
	tmt_done(test, pool);
}

static void tmem_test_replace(struct kunit *test)
{
	struct tmt_ctx *ctx = test->priv;
	u32 flags[] = { TMEM_POOL_PERSIST, 0 };
	struct tmem_pool *pool;
	int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		pool = tmt_pool(test, flags[i]);
		tmt_fill(ctx->a, 0x3333);
		KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 7, ctx->a), 0);
		tmt_fill(ctx->a, 0x4444);
		KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 7, ctx->a), 0);
		KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);
		KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 7, ctx->b), 0);
		KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x4444));
		tmt_done(test, pool);
	}
}

/*
 * A put in two steps, as kztmem's prepared cleancache puts do it: the
 * PAM makes the pampd first, tmem_put_pampd() only inserts it, replacing
 * the old copy, and frees it when it cannot be stored.
 */
static void tmem_test_put_pampd(struct kunit *test)
{
	struct tmem_pool *pool = tmt_pool(test, 0);
	struct tmt_ctx *ctx = test->priv;
	void *pampd;

	tmt_fill(ctx->a, 0x1212);
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 5, ctx->a), 0);
	tmt_fill(ctx->a, 0x3434);
	pampd = tmt_create(pool, &tmt_oid1, 5, ctx->a);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, pampd);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 2L);

	/* Not visible before it is inserted */
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 5, ctx->b), 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x1212));
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 5, ctx->b), 0);

	KUNIT_EXPECT_EQ(test, tmem_put_pampd(pool, &tmt_oid1, 5, pampd), 0);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 5, ctx->b), 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x3434));

	/* No memory for the object: the pampd is freed, nothing is kept. */
	pampd = tmt_create(pool, &tmt_oid2, 0, ctx->a);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, pampd);
	ctx->fail_obj = true;
	KUNIT_EXPECT_EQ(test, tmem_put_pampd(pool, &tmt_oid2, 0, pampd),
			-ENOMEM);
	ctx->fail_obj = false;
	KUNIT_EXPECT_EQ(test, ctx->pampds, 0L);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid2, 0, ctx->b), -ENOENT);
	tmt_done(test, pool);
}

static void tmem_test_failed_put_flushes(struct kunit *test)
{
	struct tmem_pool *pool = tmt_pool(test, TMEM_POOL_PERSIST);
	struct tmt_ctx *ctx = test->priv;

	tmt_fill(ctx->a, 0x5555);
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 3, ctx->a), 0);
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 4, ctx->a), 0);

	/* The PAM declines the new copy: the old one must go too. */
	ctx->create_err = -E2BIG;
	tmt_fill(ctx->a, 0x6666);
	KUNIT_EXPECT_EQ(test, tmem_put(pool, &tmt_oid1, 3, ctx->a), -E2BIG);
	ctx->create_err = 0;
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 3, ctx->b), -ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 4, ctx->b), 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x5555));
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);

	/* No memory for a new object */
	ctx->fail_obj = true;
	KUNIT_EXPECT_EQ(test, tmem_put(pool, &tmt_oid2, 0, ctx->a), -ENOMEM);
	ctx->fail_obj = false;
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 1L);
	tmt_done(test, pool);
}

static void tmem_test_objnode_failure(struct kunit *test)
{
	struct tmem_pool *pool = tmt_pool(test, TMEM_POOL_PERSIST);
	struct tmt_ctx *ctx = test->priv;
	pgoff_t far = 1UL << 30;

	/* No node at all for a new object: nothing may be left behind. */
	ctx->objnode_budget = 0;
	tmt_fill(ctx->a, 0x7777);
	KUNIT_EXPECT_EQ(test, tmem_put(pool, &tmt_oid1, 0, ctx->a), -ENOMEM);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objnodes, 0L);

	ctx->objnode_budget = -1;
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, 0, ctx->a), 0);
	KUNIT_EXPECT_EQ(test, ctx->objnodes, 1L);

	/* Run out half-way through growing and filling a deep tree. */
	ctx->objnode_budget = 6;
	KUNIT_EXPECT_EQ(test, tmem_put(pool, &tmt_oid1, far, ctx->a), -ENOMEM);
	ctx->objnode_budget = -1;
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, far, ctx->b), -ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 0, ctx->b), 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 0x7777));

	/* Flushing the only page frees the whole grown tree. */
	KUNIT_EXPECT_EQ(test, tmem_flush_page(pool, &tmt_oid1, 0), 0);
	KUNIT_EXPECT_EQ(test, ctx->objnodes, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 0L);
	tmt_done(test, pool);
}

static void tmem_test_sparse_indices(struct kunit *test)
{
	static const pgoff_t index[] = {
		0, 1, 63, 64, 4095, 4096, 1UL << 20, (1UL << 30) + 5,
		ULONG_MAX - 1, ULONG_MAX,
	};
	struct tmem_pool *pool = tmt_pool(test, TMEM_POOL_PERSIST);
	struct tmt_ctx *ctx = test->priv;
	int i, j;

	for (i = 0; i < ARRAY_SIZE(index); i++) {
		tmt_fill(ctx->a, i);
		KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, index[i],
					       ctx->a), 0);
	}
	KUNIT_EXPECT_EQ(test, ctx->objs, 1L);

	/* Remove them one at a time; the others must stay readable. */
	for (i = 0; i < ARRAY_SIZE(index); i++) {
		for (j = i; j < ARRAY_SIZE(index); j++) {
			KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1,
						       index[j], ctx->b), 0);
			KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, j));
		}
		KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, index[i] ^ 2,
					       ctx->b), -ENOENT);
		KUNIT_EXPECT_EQ(test, tmem_flush_page(pool, &tmt_oid1,
						      index[i]), 0);
	}
	KUNIT_EXPECT_EQ(test, ctx->pampds, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objnodes, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 0L);
	tmt_done(test, pool);
}

static void tmem_test_flush_object(struct kunit *test)
{
	struct tmem_pool *pool = tmt_pool(test, TMEM_POOL_PERSIST);
	struct tmt_ctx *ctx = test->priv;
	pgoff_t i;

	for (i = 0; i < 200; i++) {
		tmt_fill(ctx->a, i);
		KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, i * 3, ctx->a),
				0);
		KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid2, i, ctx->a), 0);
	}
	KUNIT_EXPECT_EQ(test, ctx->pampds, 400L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 2L);

	KUNIT_EXPECT_EQ(test, tmem_flush_object(pool, &tmt_oid1), 0);
	KUNIT_EXPECT_EQ(test, tmem_flush_object(pool, &tmt_oid1), -ENOENT);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 200L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 1L);
	for (i = 0; i < 200; i++) {
		KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, i * 3, ctx->b),
				-ENOENT);
		KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid2, i, ctx->b), 0);
		KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, i));
	}

	/* A put after the flush starts a new object. */
	KUNIT_EXPECT_EQ(test, tmem_put(pool, &tmt_oid1, 9, ctx->a), 0);
	KUNIT_EXPECT_EQ(test, ctx->objs, 2L);
	tmt_done(test, pool);
}

/*
 * flush_range takes exactly the pages of the range, visits only those
 * present (the indices span the whole pgoff_t), trims the index tree and
 * frees the object with its last page.
 */
static void tmem_test_flush_range(struct kunit *test)
{
	static const pgoff_t idx[] = {
		0, 1, 63, 64, 65, 4095, 4096, 1UL << 20, (1UL << 20) + 1,
		1UL << 40, ULONG_MAX - 64, ULONG_MAX - 1, ULONG_MAX,
	};
	struct tmem_pool *pool = tmt_pool(test, TMEM_POOL_PERSIST);
	struct tmt_ctx *ctx = test->priv;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		tmt_fill(ctx->a, i + 1);
		KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, idx[i], ctx->a),
				0);
	}
	KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid2, 64, ctx->a), 0);

	/* Empty and reversed ranges take nothing */
	KUNIT_EXPECT_EQ(test, tmem_flush_range(pool, &tmt_oid1, 2, 62), 0UL);
	KUNIT_EXPECT_EQ(test, tmem_flush_range(pool, &tmt_oid1, 65, 64), 0UL);
	/* [64, 4095]: three pages, of this object only */
	KUNIT_EXPECT_EQ(test, tmem_flush_range(pool, &tmt_oid1, 64, 4095),
			3UL);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 64, ctx->b), -ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 4095, ctx->b),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 63, ctx->b), 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 3));
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 4096, ctx->b), 0);
	KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b, 7));
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid2, 64, ctx->b), 0);

	/* A sparse range far up, then the top of the index space */
	KUNIT_EXPECT_EQ(test, tmem_flush_range(pool, &tmt_oid1, 1UL << 20,
					       1UL << 40), 3UL);
	KUNIT_EXPECT_EQ(test, tmem_flush_range(pool, &tmt_oid1, ULONG_MAX - 1,
					       ULONG_MAX), 2UL);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, ULONG_MAX - 64,
				       ctx->b), 0);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 6L);

	/* The rest: the object goes with its last page, nodes with it */
	KUNIT_EXPECT_EQ(test, tmem_flush_range(pool, &tmt_oid1, 0, ULONG_MAX),
			5UL);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 1L);
	KUNIT_EXPECT_EQ(test, tmem_flush_range(pool, &tmt_oid1, 0, ULONG_MAX),
			0UL);

	/* More pages than one batch */
	for (i = 0; i < 1000; i++)
		KUNIT_ASSERT_EQ(test, tmem_put(pool, &tmt_oid1, i * 7, ctx->a),
				0);
	KUNIT_EXPECT_EQ(test, tmem_flush_range(pool, &tmt_oid1, 7, 6993),
			999UL);
	KUNIT_EXPECT_EQ(test, tmem_get(pool, &tmt_oid1, 0, ctx->b), 0);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 2L);
	tmt_done(test, pool);
}

static void tmem_test_destroy_pool(struct kunit *test)
{
	struct tmem_pool *pool = tmt_pool(test, TMEM_POOL_PERSIST);
	struct tmt_ctx *ctx = test->priv;
	struct tmem_oid oid = { };
	unsigned long objs;
	pgoff_t i;

	tmt_fill(ctx->a, 0x8888);
	for (i = 0; i < 1000; i++) {
		oid.oid[0] = i / 10;
		oid.oid[2] = i % 3;
		KUNIT_ASSERT_EQ(test, tmem_put(pool, &oid, i, ctx->a), 0);
	}
	KUNIT_EXPECT_EQ(test, ctx->pampds, 1000L);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&pool->obj_count), ctx->objs);
	objs = ctx->objs;

	/* flush_pool empties the pool and leaves it usable */
	KUNIT_EXPECT_EQ(test, tmem_flush_pool(pool), objs);
	KUNIT_EXPECT_EQ(test, ctx->pampds, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objs, 0L);
	KUNIT_EXPECT_EQ(test, ctx->objnodes, 0L);
	for (i = 0; i < 1000; i++) {
		oid.oid[0] = i / 10;
		oid.oid[2] = i % 3;
		KUNIT_ASSERT_EQ(test, tmem_put(pool, &oid, i, ctx->a), 0);
	}
	tmt_done(test, pool);
}

static void tmem_test_shared_rejected(struct kunit *test)
{
	struct tmem_pool *pool;

	pool = tmem_pool_create(TMEM_POOL_SHARED, &tmt_pamops, &tmt_hostops,
				test->priv);
	KUNIT_EXPECT_EQ(test, PTR_ERR(pool), (long)-EOPNOTSUPP);
}

#define TMT_MODEL_SLOTS	512
#define TMT_MODEL_OPS	4000

/* Random puts, gets, flushes and range flushes against a shadow table. */
static void tmem_test_model(struct kunit *test)
{
	struct tmem_pool *pool = tmt_pool(test, TMEM_POOL_PERSIST);
	struct tmt_ctx *ctx = test->priv;
	struct tmem_oid oid = { };
	unsigned long expect;
	struct rnd_state rnd;
	int op, slot, s, end;
	u32 *shadow;
	long live = 0;
	u32 r;

	shadow = kunit_kcalloc(test, TMT_MODEL_SLOTS, sizeof(*shadow),
			       GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, shadow);
	prandom_seed_state(&rnd, 42);

	for (op = 1; op <= TMT_MODEL_OPS; op++) {
		r = prandom_u32_state(&rnd);
		slot = r % TMT_MODEL_SLOTS;
		oid.oid[0] = slot / 50;
		switch (r / TMT_MODEL_SLOTS % 4) {
		case 0:
			tmt_fill(ctx->a, op);
			KUNIT_ASSERT_EQ(test, tmem_put(pool, &oid, slot,
						       ctx->a), 0);
			live += !shadow[slot];
			shadow[slot] = op;
			break;
		case 1:
			if (!shadow[slot]) {
				KUNIT_EXPECT_EQ(test, tmem_get(pool, &oid, slot,
							       ctx->b), -ENOENT);
				break;
			}
			KUNIT_EXPECT_EQ(test, tmem_get(pool, &oid, slot,
						       ctx->b), 0);
			KUNIT_EXPECT_TRUE(test, tmt_holds(ctx->b,
							  shadow[slot]));
			break;
		case 2:
			KUNIT_EXPECT_EQ(test, tmem_flush_page(pool, &oid, slot),
					shadow[slot] ? 0 : -ENOENT);
			live -= !!shadow[slot];
			shadow[slot] = 0;
			break;
		default:
			/* A range within this object (oid is slot / 50) */
			end = min(slot + (int)(r >> 24) % 40, slot / 50 * 50 + 49);
			expect = 0;
			for (s = slot; s <= end && s < TMT_MODEL_SLOTS; s++) {
				expect += !!shadow[s];
				shadow[s] = 0;
			}
			KUNIT_EXPECT_EQ(test, tmem_flush_range(pool, &oid, slot,
							       end), expect);
			live -= expect;
			break;
		}
		KUNIT_ASSERT_EQ(test, ctx->pampds, live);
	}
	tmt_done(test, pool);
}

static struct kunit_case kzt_tmem_cases[] = {
	KUNIT_CASE(tmem_test_persistent),
	KUNIT_CASE(tmem_test_get_outside_lock),
	KUNIT_CASE(tmem_test_flush_page_if),
	KUNIT_CASE(tmem_test_ephemeral),
	KUNIT_CASE(tmem_test_replace),
	KUNIT_CASE(tmem_test_put_pampd),
	KUNIT_CASE(tmem_test_failed_put_flushes),
	KUNIT_CASE(tmem_test_objnode_failure),
	KUNIT_CASE(tmem_test_sparse_indices),
	KUNIT_CASE(tmem_test_flush_object),
	KUNIT_CASE(tmem_test_flush_range),
	KUNIT_CASE(tmem_test_destroy_pool),
	KUNIT_CASE(tmem_test_shared_rejected),
	KUNIT_CASE(tmem_test_model),
	{}
};

static struct kunit_suite kzt_tmem_suite = {
	.name = "kztmem_tmem",
	.init = tmt_init,
	.exit = tmt_exit,
	.test_cases = kzt_tmem_cases,
};

kunit_test_suites(&kzt_xvmalloc_suite, &kzt_tmem_suite);
