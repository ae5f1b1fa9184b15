// SPDX-License-Identifier: GPL-2.0-only
/*
 * kztmem_store_test.c - KUnit suite kztmem_store: both persistent stores
 *
 * Every case but the last two runs once per store (xvmalloc, zsmalloc and
 * split) on a pool of its own, whatever "kztmem.pers_pool=" the kernel
 * was booted with and whether kztmem runs at all; the last two are about
 * the split store's routing and zsmalloc's compaction.  Data goes in and
 * out through the store's mappings only, with nothing but a memcpy()
 * between map and unmap, as kztmem does.
 */

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/zsmalloc.h>

#include "kztmem_store.h"

/* 2.2 to 2.5 KiB: what a half-compressible page compresses to. */
#define KZT_ST_MID_MIN		2253
#define KZT_ST_MID_MAX		2560
#define KZT_ST_MID_COUNT	1024

struct kzt_st_param {
	const struct kzt_store_ops *ops;
	/*
	 * The fewest objects of KZT_ST_MID_MIN..KZT_ST_MID_MAX bytes per
	 * pool page, times 100.
	 */
	unsigned int min_mid_per_page_x100;
	/* The most of them per pool page, times 100. */
	unsigned int max_mid_per_page_x100;
};

static const struct kzt_st_param kzt_st_params[] = {
	/* Objects never span pages: one per page, the rest wasted. */
	{ &kzt_store_xvmalloc, 100, 100 },
	/* Objects span pages: about 1.6 per page. */
	{ &kzt_store_zsmalloc, 130, 181 },
	/* Above half a page they go to zsmalloc: the same. */
	{ &kzt_store_split, 130, 181 },
};

static void kzt_st_desc(const struct kzt_st_param *p, char *desc)
{
	strscpy(desc, p->ops->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(kzt_st, kzt_st_params, kzt_st_desc);

struct kzt_st_obj {
	unsigned long handle;
	u32 offset;
	u32 len;
};

/* Bytes that differ from object to object and from offset to offset. */
static void kzt_st_pattern(u8 *buf, u32 len, unsigned int seed)
{
	u32 i;

	for (i = 0; i < len; i++)
		buf[i] = (u8)(seed * 131 + i * 7 + (i >> 8));
}

static struct kzt_store *kzt_st_pool(struct kunit *test)
{
	const struct kzt_st_param *p = test->param_value;
	struct kzt_store *store;

	store = kzt_store_create(p->ops, "kztmem-kunit");
	KUNIT_ASSERT_NOT_NULL(test, store);
	KUNIT_EXPECT_EQ(test, kzt_store_total_bytes(store), 0ULL);
	return store;
}

/* Allocate @obj->len bytes and fill them with pattern @seed. */
static void kzt_st_put(struct kunit *test, struct kzt_store *store,
		       struct kzt_st_obj *obj, unsigned int seed, u8 *buf)
{
	void *dst;

	KUNIT_ASSERT_EQ(test, kzt_store_alloc(store, obj->len, GFP_KERNEL,
					      &obj->handle, &obj->offset), 0);
	KUNIT_ASSERT_NE(test, obj->handle, 0UL);
	kzt_st_pattern(buf, obj->len, seed);
	dst = kzt_store_map(store, obj->handle, obj->offset, KZT_STORE_WO);
	memcpy(dst, buf, obj->len);
	kzt_store_unmap(store, obj->handle, obj->offset, dst);
}

/* Read @obj back and compare it with pattern @seed. */
static void kzt_st_check(struct kunit *test, struct kzt_store *store,
			 const struct kzt_st_obj *obj, unsigned int seed,
			 u8 *buf, u8 *want)
{
	const void *src;

	src = kzt_store_map(store, obj->handle, obj->offset, KZT_STORE_RO);
	memcpy(buf, src, obj->len);
	kzt_store_unmap(store, obj->handle, obj->offset, (void *)src);
	kzt_st_pattern(want, obj->len, seed);
	KUNIT_EXPECT_EQ_MSG(test, memcmp(buf, want, obj->len), 0,
			    "object %u of %u bytes read back different",
			    seed, obj->len);
}

static void kzt_st_test_find(struct kunit *test)
{
	KUNIT_EXPECT_PTR_EQ(test, kzt_store_find("xvmalloc"),
			    &kzt_store_xvmalloc);
	KUNIT_EXPECT_PTR_EQ(test, kzt_store_find("zsmalloc"),
			    &kzt_store_zsmalloc);
	KUNIT_EXPECT_PTR_EQ(test, kzt_store_find("split"), &kzt_store_split);
	/* Only zsmalloc's mappings disable preemption, whatever the object. */
	KUNIT_EXPECT_NULL(test, kzt_store_xvmalloc.map_atomic);
	KUNIT_EXPECT_TRUE(test, kzt_store_zsmalloc.map_atomic(0));
	KUNIT_EXPECT_TRUE(test, kzt_store_zsmalloc.map_atomic(U32_MAX));
	KUNIT_EXPECT_NULL(test, kzt_store_find(""));
	KUNIT_EXPECT_NULL(test, kzt_store_find("zbud"));
	KUNIT_EXPECT_NULL(test, kzt_store_find("zsmallocx"));
	KUNIT_EXPECT_NULL(test, kzt_store_find("zsmalloc\n"));
	KUNIT_EXPECT_NULL(test, kzt_store_find("XVMALLOC"));
}

/*
 * Objects of every size class kztmem stores, all held at once, so that
 * they share pages (and with zsmalloc span them): each reads back as
 * written, and freeing all of them gives every page back.
 */
static void kzt_st_test_roundtrip(struct kunit *test)
{
	static const u32 sizes[] = {
		1, 31, 32, 33, 100, 511, 1000, 1500, 2048, 2253, 2400, 2560,
		3000, 3500, 3584,
	};
	const struct kzt_st_param *p = test->param_value;
	const unsigned int rounds = 8;
	const unsigned int n = ARRAY_SIZE(sizes) * rounds + 1;
	struct kzt_store *store = kzt_st_pool(test);
	struct kzt_st_obj *objs;
	u8 *buf, *want;
	unsigned int i;

	objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	want = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_NOT_NULL(test, want);

	for (i = 0; i < n - 1; i++) {
		objs[i].len = sizes[i % ARRAY_SIZE(sizes)];
		kzt_st_put(test, store, &objs[i], i, buf);
	}
	/* The largest object the store takes */
	objs[n - 1].len = p->ops->max_size;
	kzt_st_put(test, store, &objs[n - 1], n - 1, buf);
	KUNIT_EXPECT_GT(test, kzt_store_total_bytes(store), 0ULL);

	for (i = 0; i < n; i++)
		kzt_st_check(test, store, &objs[i], i, buf, want);

	/* Free every other one; the rest must be untouched. */
	for (i = 0; i < n; i += 2)
		kzt_store_free(store, objs[i].handle, objs[i].offset);
	for (i = 1; i < n; i += 2)
		kzt_st_check(test, store, &objs[i], i, buf, want);
	for (i = 1; i < n; i += 2)
		kzt_store_free(store, objs[i].handle, objs[i].offset);

	KUNIT_EXPECT_EQ(test, kzt_store_total_bytes(store), 0ULL);
	kzt_store_destroy(store);
}

static void kzt_st_test_bad_sizes(struct kunit *test)
{
	const struct kzt_st_param *p = test->param_value;
	struct kzt_store *store = kzt_st_pool(test);
	unsigned long handle = 0;
	u32 offset = 0;

	KUNIT_EXPECT_EQ(test, kzt_store_alloc(store, 0, GFP_KERNEL, &handle,
					      &offset), -E2BIG);
	KUNIT_EXPECT_EQ(test, kzt_store_alloc(store, p->ops->max_size + 1,
					      GFP_KERNEL, &handle, &offset),
			-E2BIG);
	KUNIT_EXPECT_EQ(test, handle, 0UL);
	KUNIT_EXPECT_EQ(test, kzt_store_total_bytes(store), 0ULL);
	kzt_store_destroy(store);
}

/*
 * How densely 2.2-2.5 KiB objects pack: xvmalloc leaves the rest of
 * each page unused, zsmalloc fits more than one per page.
 */
static void kzt_st_test_mid_size_density(struct kunit *test)
{
	const struct kzt_st_param *p = test->param_value;
	const u32 span = KZT_ST_MID_MAX - KZT_ST_MID_MIN + 1;
	struct kzt_store *store = kzt_st_pool(test);
	unsigned long pages, per_page_x100;
	struct kzt_st_obj *objs;
	u8 *buf, *want;
	unsigned int i;

	objs = kunit_kcalloc(test, KZT_ST_MID_COUNT, sizeof(*objs),
			     GFP_KERNEL);
	buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	want = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_NOT_NULL(test, want);

	for (i = 0; i < KZT_ST_MID_COUNT; i++) {
		objs[i].len = KZT_ST_MID_MIN + (i * 37) % span;
		kzt_st_put(test, store, &objs[i], i, buf);
	}
	pages = kzt_store_total_bytes(store) >> PAGE_SHIFT;
	KUNIT_ASSERT_GT(test, pages, 0UL);
	per_page_x100 = KZT_ST_MID_COUNT * 100UL / pages;
	kunit_info(test, "%s: %u objects of %u-%u bytes in %lu pages (%lu.%02lu per page)\n",
		   p->ops->name, KZT_ST_MID_COUNT, KZT_ST_MID_MIN,
		   KZT_ST_MID_MAX, pages, per_page_x100 / 100,
		   per_page_x100 % 100);
	KUNIT_EXPECT_GE(test, per_page_x100,
			(unsigned long)p->min_mid_per_page_x100);
	KUNIT_EXPECT_LE(test, per_page_x100,
			(unsigned long)p->max_mid_per_page_x100);

	for (i = 0; i < KZT_ST_MID_COUNT; i++)
		kzt_st_check(test, store, &objs[i], i, buf, want);
	for (i = 0; i < KZT_ST_MID_COUNT; i++)
		kzt_store_free(store, objs[i].handle, objs[i].offset);
	KUNIT_EXPECT_EQ(test, kzt_store_total_bytes(store), 0ULL);
	kzt_store_destroy(store);
}

/*
 * The split store keeps objects of up to half a page in xvmalloc (an
 * offset within a page, mapped without disabling preemption) and larger
 * ones in zsmalloc (mapped atomically, as kzt_store_map_atomic() says
 * for those alone); small objects pack
 * as xvmalloc packs them (512 of 1000 bytes, four to a page, in about
 * 128 pages).  Every object reads back as written, and freeing a mix of
 * both gives every page back.
 */
static void kzt_st_test_split_routes_by_size(struct kunit *test)
{
	static const u32 sizes[] = { 1, 1000, 2047, 2048, 2049, 3000, 4096 };
	const size_t xv_max = kzt_store_split_xv_max();
	struct kzt_store *store;
	struct kzt_st_obj *objs;
	u8 *buf, *want;
	unsigned int i;
	u64 bytes;

	KUNIT_EXPECT_EQ(test, xv_max, (size_t)(PAGE_SIZE / 2));
	store = kzt_store_create(&kzt_store_split, "kzt_st_split");
	KUNIT_ASSERT_NOT_NULL(test, store);
	objs = kunit_kcalloc(test, 512, sizeof(*objs), GFP_KERNEL);
	buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	want = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_NOT_NULL(test, want);

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		objs[i].len = sizes[i];
		kzt_st_put(test, store, &objs[i], i, buf);
		KUNIT_EXPECT_EQ_MSG(test,
				    kzt_store_map_atomic(store, objs[i].offset),
				    sizes[i] > xv_max,
				    "%u bytes at offset %u", sizes[i],
				    objs[i].offset);
		if (sizes[i] <= xv_max)
			KUNIT_EXPECT_LT(test, objs[i].offset, (u32)PAGE_SIZE);
	}
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		kzt_st_check(test, store, &objs[i], i, buf, want);
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		kzt_store_free(store, objs[i].handle, objs[i].offset);
	KUNIT_EXPECT_EQ(test, kzt_store_total_bytes(store), 0ULL);

	for (i = 0; i < 512; i++) {
		objs[i].len = 1000;
		kzt_st_put(test, store, &objs[i], i, buf);
		KUNIT_EXPECT_FALSE(test, kzt_store_map_atomic(store,
							      objs[i].offset));
	}
	bytes = kzt_store_total_bytes(store);
	kunit_info(test, "512 objects of 1000 bytes in %llu pages\n",
		   bytes >> PAGE_SHIFT);
	KUNIT_EXPECT_LE(test, bytes >> PAGE_SHIFT, 136ULL);
	for (i = 0; i < 512; i++)
		kzt_st_check(test, store, &objs[i], i, buf, want);
	for (i = 0; i < 512; i++)
		kzt_store_free(store, objs[i].handle, objs[i].offset);
	KUNIT_EXPECT_EQ(test, kzt_store_total_bytes(store), 0ULL);
	kzt_store_destroy(store);
}

/*
 * zsmalloc's compaction (its shrinker, or zs_compact()) moves objects
 * between the zspages of a size class.  While kztmem has an object
 * mapped, in a store or a load, compaction must wait: if it moved the
 * object, a store would fill a slot that was already copied away and a
 * load would read a slot that may be reused.  Linux 6.1 without
 * CONFIG_COMPACTION compiled the zspage lock that makes it wait out.
 *
 * Two objects of 2040 bytes (two to a zspage) are left alone in two
 * zspages, so that compacting the class must move one into the other's
 * zspage.  With the first one mapped, a thread on another CPU compacts;
 * it must not finish before the mapping ends, and must free a zspage
 * once it has (or this case would prove nothing).
 */
#define KZT_ST_COMPACT_LEN	2040
#define KZT_ST_COMPACT_HOLD_MS	500

struct kzt_st_compactor {
	struct zs_pool *pool;
	struct completion go;
	struct completion done;
	unsigned long freed;
	bool finished;
};

static int kzt_st_compact_fn(void *data)
{
	struct kzt_st_compactor *c = data;

	wait_for_completion(&c->go);
	c->freed = zs_compact(c->pool);
	WRITE_ONCE(c->finished, true);
	complete(&c->done);
	return 0;
}

static void kzt_st_test_zs_compact_waits_for_map(struct kunit *test)
{
	struct kzt_st_obj objs[3] = {
		{ .len = KZT_ST_COMPACT_LEN },
		{ .len = KZT_ST_COMPACT_LEN },
		{ .len = KZT_ST_COMPACT_LEN },
	};
	struct kzt_st_compactor *c;
	bool finished_while_mapped;
	struct task_struct *task;
	struct kzt_store *store;
	unsigned int cpu, i;
	const void *src;
	u8 *buf, *want;

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs two CPUs: compaction runs beside a mapping");

	buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	want = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_NOT_NULL(test, want);
	store = kzt_store_create(&kzt_store_zsmalloc, "kztmem-kunit-compact");
	KUNIT_ASSERT_NOT_NULL(test, store);

	/* objs[0] and objs[1] fill one zspage, objs[2] starts another. */
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		kzt_st_put(test, store, &objs[i], i, buf);
	KUNIT_ASSERT_EQ(test, kzt_store_total_bytes(store), 2ULL * PAGE_SIZE);
	kzt_store_free(store, objs[1].handle, objs[1].offset);

	/* Not test-managed: a compactor that never returns keeps it. */
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->pool = store->pool;
	init_completion(&c->go);
	init_completion(&c->done);
	/* This task stays on its CPU; the compactor runs on another one. */
	migrate_disable();
	cpu = cpumask_any_but(cpu_online_mask, smp_processor_id());
	task = kthread_create(kzt_st_compact_fn, c, "kzt-kunit-compact");
	if (IS_ERR(task)) {
		migrate_enable();
		kfree(c);
		KUNIT_FAIL(test, "no compactor thread: %ld", PTR_ERR(task));
		return;
	}
	kthread_bind(task, cpu);
	wake_up_process(task);

	src = kzt_store_map(store, objs[0].handle, objs[0].offset,
			    KZT_STORE_RO);
	complete(&c->go);
	for (i = 0; i < KZT_ST_COMPACT_HOLD_MS && !READ_ONCE(c->finished); i++)
		mdelay(1);
	finished_while_mapped = READ_ONCE(c->finished);
	memcpy(buf, src, objs[0].len);
	kzt_store_unmap(store, objs[0].handle, objs[0].offset,
			(void *)src);
	migrate_enable();

	KUNIT_ASSERT_NE_MSG(test, wait_for_completion_timeout(&c->done, 30 * HZ),
			    0UL, "zs_compact() did not return within 30 s");
	KUNIT_EXPECT_FALSE_MSG(test, finished_while_mapped,
			       "zs_compact() finished while an object was mapped (it moved objects under the mapping)");
	KUNIT_EXPECT_EQ_MSG(test, c->freed, 1UL,
			    "compaction freed %lu zspages, not the one this case sets up",
			    c->freed);
	kfree(c);
	KUNIT_EXPECT_EQ(test, kzt_store_total_bytes(store), (u64)PAGE_SIZE);

	kzt_st_pattern(want, objs[0].len, 0);
	KUNIT_EXPECT_EQ(test, memcmp(buf, want, objs[0].len), 0);
	kzt_st_check(test, store, &objs[0], 0, buf, want);
	kzt_st_check(test, store, &objs[2], 2, buf, want);
	kzt_store_free(store, objs[0].handle, objs[0].offset);
	kzt_store_free(store, objs[2].handle, objs[2].offset);
	kzt_store_destroy(store);
}

static struct kunit_case kzt_store_cases[] = {
	KUNIT_CASE(kzt_st_test_find),
	KUNIT_CASE_PARAM(kzt_st_test_roundtrip, kzt_st_gen_params),
	KUNIT_CASE_PARAM(kzt_st_test_bad_sizes, kzt_st_gen_params),
	KUNIT_CASE_PARAM(kzt_st_test_mid_size_density, kzt_st_gen_params),
	KUNIT_CASE(kzt_st_test_split_routes_by_size),
	KUNIT_CASE(kzt_st_test_zs_compact_waits_for_map),
	{}
};

static struct kunit_suite kzt_store_suite = {
	.name = "kztmem_store",
	.test_cases = kzt_store_cases,
};

kunit_test_suite(kzt_store_suite);
