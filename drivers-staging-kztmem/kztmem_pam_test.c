// SPDX-License-Identifier: GPL-2.0-only
/*
 * kztmem_pam_test.c - KUnit tests for kztmem's two PAMs and its load path
 *
 * Included at the end of kztmem.c when CONFIG_KZTMEM_KUNIT_TEST is set, so
 * that it reaches the static PAM functions and counters.  The suite needs
 * the driver running: boot with "kztmem" (kzt kunit does).
 *
 * kztmem_pam stores real pages through the persistent PAM (compressed
 * into the store the driver was booted with: xvmalloc, or zsmalloc with
 * "kztmem.pers_pool=zsmalloc") and the ephemeral one (compressed into
 * zbud), damages the stored data, and checks that reading it back fails
 * with -EIO and is counted, and never succeeds with other bytes.  For a
 * frontswap load that matters most: the swap slot on the device was
 * never written, so a failed load must not let swap_readpage() read the
 * device.
 */

#include <kunit/test.h>
#include <linux/random.h>

/* Text-like data: compresses to well under half a page. */
static void kzt_pt_fill(struct page *page, u32 seed)
{
	u8 *p = kmap_local_page(page);
	unsigned int i;

	for (i = 0; i < PAGE_SIZE; i++)
		p[i] = 'a' + (seed + i / 16 + (i % 7)) % 26;
	kunmap_local(p);
}

static bool kzt_pt_same(struct page *a, struct page *b)
{
	void *pa = kmap_local_page(a);
	void *pb = kmap_local_page(b);
	bool same = !memcmp(pa, pb, PAGE_SIZE);

	kunmap_local(pb);
	kunmap_local(pa);
	return same;
}

/* Overwrite the compressed data of @pampd, through its store. */
static void kzt_pt_scribble_pers(struct kzt_pampd *pampd)
{
	void *p = kzt_store_map(kzt_pers_store, pampd->handle, pampd->offset,
				KZT_STORE_WO);

	memset(p, 0xff, pampd->len);
	kzt_store_unmap(kzt_pers_store, pampd->handle, pampd->offset, p);
}

static int kzt_pt_init(struct kunit *test)
{
	if (!kzt_pers_store)
		kunit_skip(test, "kztmem is off: boot with \"kztmem\"");
	return 0;
}

/*
 * An empty persistent pool for calling the PAM directly; its private
 * data is its swap type, which no swap device has here.
 */
static struct tmem_pool *kzt_pt_pool(struct kunit *test)
{
	struct tmem_pool *pool;

	pool = tmem_pool_create(TMEM_POOL_PERSIST, &kzt_pers_pamops,
				&kzt_hostops,
				(void *)(unsigned long)(MAX_SWAPFILES - 1));
	KUNIT_ASSERT_FALSE(test, IS_ERR(pool));
	return pool;
}

static void kzt_pam_test_damaged_pers(struct kunit *test)
{
	static const struct tmem_oid oid = { .oid = { 11 } };
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *out = alloc_page(GFP_KERNEL);
	struct tmem_pool *pool = kzt_pt_pool(test);
	struct kzt_pampd *pampd;
	u32 len;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, out);
	kzt_pt_fill(page, 3);
	pampd = kzt_pers_pampd_create(pool, &oid, 0, page);
	KUNIT_ASSERT_FALSE(test, IS_ERR(pampd));
	KUNIT_ASSERT_NE(test, pampd->handle, 0UL);
	kunit_info(test, "persistent store: %s\n", kzt_pers_store->ops->name);

	KUNIT_EXPECT_EQ(test, kzt_pers_pampd_get_data(NULL, pampd, out), 0);
	KUNIT_EXPECT_TRUE(test, kzt_pt_same(page, out));

	/* Truncated data */
	len = pampd->len;
	pampd->len = len / 2;
	KUNIT_EXPECT_EQ(test, kzt_pers_pampd_get_data(NULL, pampd, out), -EIO);
	pampd->len = len;

	/* Overwritten data */
	kzt_pt_scribble_pers(pampd);
	KUNIT_EXPECT_EQ(test, kzt_pers_pampd_get_data(NULL, pampd, out), -EIO);

	kzt_pers_pampd_free(NULL, pampd);
	tmem_destroy_pool(pool);
	__free_page(out);
	__free_page(page);
}

/*
 * The frontswap load of a damaged page, through a persistent tmem pool
 * of a swap type nobody uses.  The pamops are kztmem's own, except that
 * create() remembers the pampd so that the test can damage it.
 */
static struct kzt_pampd *kzt_pt_last;

static void *kzt_pt_create(struct tmem_pool *pool, const struct tmem_oid *oid,
			   pgoff_t index, struct page *page)
{
	void *pampd = kzt_pers_pampd_create(pool, oid, index, page);

	if (!IS_ERR(pampd))
		kzt_pt_last = pampd;
	return pampd;
}

static const struct tmem_pamops kzt_pt_pamops = {
	.create = kzt_pt_create,
	.get_data = kzt_pers_pampd_get_data,
	.hold = kzt_pers_pampd_hold,
	.free = kzt_pers_pampd_free,
};

static void kzt_pam_test_damaged_swap_load(struct kunit *test)
{
	const unsigned int type = MAX_SWAPFILES - 1;
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *out = alloc_page(GFP_KERNEL);
	bool excl = false;
	long failed, gets;
	struct tmem_pool *pool;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, out);
	KUNIT_ASSERT_NULL(test, kzt_swap_pool(type));
	pool = tmem_pool_create(TMEM_POOL_PERSIST, &kzt_pt_pamops, &kzt_hostops,
				(void *)(unsigned long)type);
	KUNIT_ASSERT_FALSE(test, IS_ERR(pool));
	WRITE_ONCE(kzt_frontswap_pools[type], pool);

	kzt_pt_fill(page, 5);
	kzt_pt_last = NULL;
	KUNIT_ASSERT_EQ(test, kzt_frontswap_store(type, 77, page), 0);
	KUNIT_ASSERT_NOT_NULL(test, kzt_pt_last);
	KUNIT_EXPECT_EQ(test, kzt_frontswap_load(type, 77, out, &excl), 0);
	KUNIT_EXPECT_TRUE(test, kzt_pt_same(page, out));
	/* Not in the swap cache: the copy stays, whatever the pool holds. */
	KUNIT_EXPECT_FALSE(test, excl);

	kzt_pt_scribble_pers(kzt_pt_last);
	failed = atomic_long_read(&kzt_failed_pers_gets);
	gets = atomic_long_read(&kzt_pers_gets);
	KUNIT_EXPECT_EQ(test, kzt_frontswap_load(type, 77, out, &excl), -EIO);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_failed_pers_gets),
			failed + 1);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_pers_gets), gets);

	/* A page that is not there at all is lost as well. */
	KUNIT_EXPECT_EQ(test, kzt_frontswap_load(type, 78, out, &excl), -EIO);

	WRITE_ONCE(kzt_frontswap_pools[type], NULL);
	tmem_destroy_pool(pool);
	__free_page(out);
	__free_page(page);
}

/*
 * Metadata counts in the pool: storing a page adds its pampd and the tmem
 * object and tree nodes it needed at the caches' object sizes, and the
 * pool's total grows by them and the data; an invalidation gives all of
 * it back.  The swap type is one nobody uses, as above.
 */
static void kzt_pam_test_meta_counted(struct kunit *test)
{
	const unsigned int type = MAX_SWAPFILES - 1;
	struct page *page = alloc_page(GFP_KERNEL);
	long meta, objs, nodes, want;
	u64 data, total;
	struct tmem_pool *pool;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NULL(test, kzt_swap_pool(type));
	pool = tmem_pool_create(TMEM_POOL_PERSIST, &kzt_pers_pamops,
				&kzt_hostops, (void *)(unsigned long)type);
	KUNIT_ASSERT_FALSE(test, IS_ERR(pool));
	WRITE_ONCE(kzt_frontswap_pools[type], pool);

	kzt_pt_fill(page, 6);
	meta = kzt_meta_bytes();
	objs = atomic_long_read(&kzt_curr_obj_count);
	nodes = atomic_long_read(&kzt_curr_objnode_count);
	data = kzt_pers_pool_bytes();
	total = kzt_pool_total_bytes();
	KUNIT_ASSERT_EQ(test, kzt_frontswap_store(type, 77, page), 0);

	objs = atomic_long_read(&kzt_curr_obj_count) - objs;
	nodes = atomic_long_read(&kzt_curr_objnode_count) - nodes;
	KUNIT_EXPECT_EQ(test, objs, 1L);
	KUNIT_EXPECT_GE(test, nodes, 1L);
	want = objs * kmem_cache_size(kzt_obj_cache) +
	       nodes * kmem_cache_size(kzt_objnode_cache) +
	       kmem_cache_size(kzt_pampd_cache);
	KUNIT_EXPECT_EQ(test, (long)(kzt_meta_bytes() - meta), want);
	KUNIT_EXPECT_EQ(test, kzt_pool_total_bytes() - total,
			(u64)want + kzt_pers_pool_bytes() - data);

	kzt_frontswap_invalidate_page(type, 77);
	KUNIT_EXPECT_EQ(test, kzt_meta_bytes(), (u64)meta);

	WRITE_ONCE(kzt_frontswap_pools[type], NULL);
	tmem_destroy_pool(pool);
	__free_page(page);
}

#ifdef CONFIG_CLEANCACHE
/* Overwrite @len bytes at @offset of @page with a byte LZO cannot start with. */
static void kzt_pt_scribble(struct page *page, unsigned int offset,
			    unsigned int len)
{
	u8 *p = kmap_local_page(page);

	memset(p + offset, 0xff, len);
	kunmap_local(p);
}

static void kzt_pam_test_damaged_eph(struct kunit *test)
{
	static const struct tmem_oid oid = { .oid = { 12 } };
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *out = alloc_page(GFP_KERNEL);
	struct kzt_eph_pool *ep;
	struct tmem_pool *pool;
	unsigned long handle;
	unsigned int size;
	void *pampd;

	if (!kzt_zbud)
		kunit_skip(test, "the cleancache half is off");
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, out);
	ep = kunit_kzalloc(test, sizeof(*ep), GFP_KERNEL);
	pool = kunit_kzalloc(test, sizeof(*pool), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ep);
	KUNIT_ASSERT_NOT_NULL(test, pool);
	/* A pool id no pool has: the shrinker cannot evict this zpage. */
	ep->id = KZT_MAX_EPH_POOLS;
	pool->private = ep;

	kzt_pt_fill(page, 7);
	pampd = kzt_eph_pampd_create(pool, &oid, 0, page);
	KUNIT_ASSERT_FALSE(test, IS_ERR(pampd));
	KUNIT_EXPECT_EQ(test, kzt_eph_pampd_get_data(pool, pampd, out), 0);
	KUNIT_EXPECT_TRUE(test, kzt_pt_same(page, out));

	handle = (unsigned long)pampd;
	zbud_data(handle, &size);
	kzt_pt_scribble(zbud_handle_page(handle), zbud_handle_offset(handle),
			size);
	KUNIT_EXPECT_EQ(test, kzt_eph_pampd_get_data(pool, pampd, out), -EIO);
	kzt_eph_pampd_free(pool, pampd);
	__free_page(out);
	__free_page(page);
}

/* Fill @page with @value, word by word */
static void kzt_pt_fill_same(struct page *page, unsigned long value)
{
	void *p = kmap_local_page(page);

	memset_l(p, value, PAGE_SIZE / sizeof(unsigned long));
	kunmap_local(p);
}

/*
 * Evict every entry there is: as many bytes as they hold, each tried
 * once.  At boot, where kzt kunit runs the suite, no file system is
 * mounted yet, so the test's are the only ones.
 */
static void kzt_pt_evict_entries(void)
{
	kzt_eph_entry_evict(kzt_eph_entry_bytes());
}

/*
 * A cleancache pool of the test's own, under a free id so that the
 * evictor finds it, with admission off (the caller restores it); skips
 * the test without the cleancache half.  Returns the pool's id.
 */
static int kzt_pt_cc_pool(struct kunit *test, struct page *page,
			  struct page *out)
{
	int id;

	if (!kzt_zbud)
		kunit_skip(test, "the cleancache half is off");
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, out);
	id = kzt_cc_init_fs(PAGE_SIZE);
	KUNIT_ASSERT_GE(test, id, 0);
	WRITE_ONCE(kzt_cc_admit_max_shift, 0);
	return id;
}

/*
 * A same-filled page put through cleancache takes no zbud frame: it is
 * kept as its value in an entry counted in the metadata and in the
 * shrinker's count, and read back whole.  The evictor drops an entry
 * that is in tmem, and puts one that is only prepared back on its list,
 * so that it is still there, and evictable, once committed.  The file
 * system is a pool of the test's own, under a free id, so that the
 * evictor finds it; admission is off meanwhile.
 */
static void kzt_pam_test_eph_same(struct kunit *test)
{
	const unsigned long value = 0x0123456789abcdefUL;
	const struct cleancache_filekey key = { .u.inode.ino = 13 };
	unsigned int max_shift = READ_ONCE(kzt_cc_admit_max_shift);
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *out = alloc_page(GFP_KERNEL);
	struct zbud_stats before, after;
	long same, entries, objs, nodes;
	void *prepared;
	u64 meta;
	int id;

	id = kzt_pt_cc_pool(test, page, out);

	kzt_pt_fill_same(page, value);
	zbud_get_stats(kzt_zbud, &before);
	same = atomic_long_read(&kzt_eph_same_filled_pages);
	meta = kzt_meta_bytes();
	objs = atomic_long_read(&kzt_curr_obj_count);
	nodes = atomic_long_read(&kzt_curr_objnode_count);
	kzt_cc_put_page(id, key, 0, page);
	zbud_get_stats(kzt_zbud, &after);
	objs = atomic_long_read(&kzt_curr_obj_count) - objs;
	nodes = atomic_long_read(&kzt_curr_objnode_count) - nodes;
	KUNIT_EXPECT_EQ(test, objs, 1L);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_same_filled_pages),
			same + 1);
	KUNIT_EXPECT_EQ(test, after.cumul_zpages, before.cumul_zpages);
	KUNIT_EXPECT_EQ(test, kzt_meta_bytes() - meta,
			(u64)kmem_cache_size(kzt_eph_entry_cache) +
			objs * kmem_cache_size(kzt_obj_cache) +
			nodes * kmem_cache_size(kzt_objnode_cache));
	KUNIT_EXPECT_GE(test, kzt_shrink_count(NULL, NULL), 1UL);

	/* A get takes the page out: every word comes back. */
	kzt_pt_fill_same(out, ~value);
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 0, out), 0);
	KUNIT_EXPECT_TRUE(test, kzt_pt_same(page, out));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_same_filled_pages),
			same);
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 0, out), -ENODATA);

	/* Evicted while in tmem: gone, and its entry freed. */
	kzt_cc_put_page(id, key, 1, page);
	entries = atomic_long_read(&kzt_eph_same_filled_pages);
	KUNIT_EXPECT_EQ(test, entries, same + 1);
	kzt_pt_evict_entries();
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 1, out), -ENODATA);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_same_filled_pages), 0L);

	/* Prepared, not committed: the evictor must leave it alone. */
	prepared = kzt_cc_prepare_page(id, key, 2, page);
	KUNIT_ASSERT_NOT_NULL(test, prepared);
	KUNIT_EXPECT_TRUE(test, kzt_eph_is_entry(prepared));
	kzt_pt_evict_entries();
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_same_filled_pages), 1L);
	kzt_cc_commit_page(id, key, 2, prepared);
	kzt_pt_fill_same(out, ~value);
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 2, out), 0);
	KUNIT_EXPECT_TRUE(test, kzt_pt_same(page, out));

	/* ... and once committed, it can be evicted. */
	prepared = kzt_cc_prepare_page(id, key, 3, page);
	KUNIT_ASSERT_NOT_NULL(test, prepared);
	kzt_cc_commit_page(id, key, 3, prepared);
	kzt_pt_evict_entries();
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 3, out), -ENODATA);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_same_filled_pages), 0L);

	WRITE_ONCE(kzt_cc_admit_max_shift, max_shift);
	kzt_cc_invalidate_fs(id);
	__free_page(out);
	__free_page(page);
}

/*
 * A page that does not compress is kept raw, in a page of its own counted
 * in the ephemeral half's memory, and read back whole; evicting it frees
 * that page.  With eph_raw at 0 it is declined instead.
 */
static void kzt_pam_test_eph_raw(struct kunit *test)
{
	const struct cleancache_filekey key = { .u.inode.ino = 14 };
	unsigned int max_shift = READ_ONCE(kzt_cc_admit_max_shift);
	unsigned int keep_raw = READ_ONCE(kzt_eph_raw);
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *out = alloc_page(GFP_KERNEL);
	u64 bytes;
	void *p;
	int id;

	id = kzt_pt_cc_pool(test, page, out);
	p = kmap_local_page(page);
	get_random_bytes(p, PAGE_SIZE);
	kunmap_local(p);

	WRITE_ONCE(kzt_eph_raw, 1);
	bytes = kzt_eph_entry_bytes();
	kzt_cc_put_page(id, key, 0, page);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_raw_pages), 1L);
	KUNIT_EXPECT_EQ(test, kzt_eph_entry_bytes() - bytes,
			(u64)PAGE_SIZE + kmem_cache_size(kzt_eph_entry_cache));
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 0, out), 0);
	KUNIT_EXPECT_TRUE(test, kzt_pt_same(page, out));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_raw_pages), 0L);

	kzt_cc_put_page(id, key, 1, page);
	KUNIT_EXPECT_EQ(test, kzt_eph_entry_evict(PAGE_SIZE),
			(unsigned long)PAGE_SIZE +
			kmem_cache_size(kzt_eph_entry_cache));
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 1, out), -ENODATA);

	WRITE_ONCE(kzt_eph_raw, 0);
	kzt_cc_put_page(id, key, 2, page);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_raw_pages), 0L);
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 2, out), -ENODATA);

	WRITE_ONCE(kzt_eph_raw, keep_raw);
	WRITE_ONCE(kzt_cc_admit_max_shift, max_shift);
	kzt_cc_invalidate_fs(id);
	__free_page(out);
	__free_page(page);
}
#endif

/*
 * kztmem_reject: the cheap reject against real compression, over the
 * page patterns of the workloads (vm-tests/workloads/kzt_pattern.h,
 * regenerated here: the same generator, lines and layout).
 */
enum kzt_rt_pattern { KZT_RT_TEXT, KZT_RT_MIXED, KZT_RT_RANDOM, KZT_RT_MIX };

static const char * const kzt_rt_names[] = { "text", "mixed", "random", "mix" };

static const char * const kzt_rt_lines[] = {
	"the kernel stores the page in the pool\n",
	"a persistent page must come back exactly as it was stored\n",
	"an ephemeral page may be dropped at any time\n",
	"frontswap: store, load, invalidate page, invalidate area\n",
	"cleancache: put, get, invalidate page, inode and filesystem\n",
	"compressed buddies share one page frame\n",
	"object index and pool id name every page\n",
	"memory pressure moves anonymous pages to swap\n",
};

static u64 kzt_rt_next(u64 *state)
{
	u64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void kzt_rt_text(u8 *buf, size_t len, u64 *state)
{
	size_t pos = 0;

	while (pos < len) {
		const char *line = kzt_rt_lines[kzt_rt_next(state) %
						ARRAY_SIZE(kzt_rt_lines)];
		size_t n = min(strlen(line), len - pos);

		memcpy(buf + pos, line, n);
		pos += n;
	}
}

static void kzt_rt_random(u8 *buf, size_t len, u64 *state)
{
	size_t pos;

	for (pos = 0; pos < len; pos += sizeof(u64)) {
		u64 r = kzt_rt_next(state);

		memcpy(buf + pos, &r, min(sizeof(r), len - pos));
	}
}

/*
 * Block @index of a stream of @pat, as the workloads write it.  Returns
 * false for the same-filled blocks of "mix" (zero and same), which never
 * reach the estimate.
 */
static bool kzt_rt_fill(u8 *buf, enum kzt_rt_pattern pat, u64 seed,
			u64 index)
{
	u64 state = seed ^ (index * 0xd1342543de82ef95ULL);
	size_t hdr;

	kzt_rt_next(&state);
	if (pat == KZT_RT_MIX) {
		switch (index % 5) {
		case 0:
		case 1:
			return false;
		case 2:
			pat = KZT_RT_TEXT;
			break;
		case 3:
			pat = KZT_RT_MIXED;
			break;
		default:
			pat = KZT_RT_RANDOM;
			break;
		}
	}
	hdr = scnprintf(buf, 64, "kzt block %llu seed %llu\n", index, seed);
	switch (pat) {
	case KZT_RT_TEXT:
		kzt_rt_text(buf + hdr, PAGE_SIZE - hdr, &state);
		break;
	case KZT_RT_MIXED:
		kzt_rt_text(buf + hdr, PAGE_SIZE / 2 - hdr, &state);
		kzt_rt_random(buf + PAGE_SIZE / 2, PAGE_SIZE / 2, &state);
		break;
	default:
		kzt_rt_random(buf + hdr, PAGE_SIZE - hdr, &state);
		break;
	}
	return true;
}

#define KZT_RT_PAGES	500

/*
 * Per pattern: pages that fit under the limit when compressed, how many
 * of those the estimate refused (false rejects: < 2%), pages that do not
 * fit, and how many of those it caught.
 */
static void kzt_reject_test_patterns(struct kunit *test)
{
	unsigned int limit = kzt_pers_limit();
	unsigned int fit, false_rej, unfit, caught, len;
	struct kzt_comp_ctx *ctx;
	enum kzt_rt_pattern pat;
	bool rejected;
	u64 index;
	u8 *buf;

	buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	if (PAGE_SIZE != 4096)
		kunit_skip(test, "the workload patterns are 4 KiB pages");

	for (pat = KZT_RT_TEXT; pat <= KZT_RT_MIX; pat++) {
		fit = 0;
		false_rej = 0;
		unfit = 0;
		caught = 0;
		for (index = 0; index < KZT_RT_PAGES; index++) {
			if (!kzt_rt_fill(buf, pat, 0x5eed + pat, index))
				continue;
			rejected = kzt_cheap_reject(buf, limit);
			ctx = kzt_pers_ctx_lock();
			KUNIT_ASSERT_EQ(test, kzt_compress(ctx, buf, &len), 0);
			kzt_pers_ctx_unlock(ctx);
			if (len <= limit) {
				fit++;
				false_rej += rejected;
			} else {
				unfit++;
				caught += rejected;
			}
		}
		kunit_info(test, "%s (%s, limit %u): %u fit, %u of them rejected; %u do not fit, %u of them rejected cheaply\n",
			   kzt_rt_names[pat], kzt_compressor, limit, fit,
			   false_rej, unfit, caught);
		KUNIT_EXPECT_LT_MSG(test, false_rej * 50, fit + !fit,
				    "%s: %u false rejects of %u pages that fit",
				    kzt_rt_names[pat], false_rej, fit);
		if (pat == KZT_RT_TEXT || pat == KZT_RT_MIXED)
			KUNIT_EXPECT_EQ(test, unfit, 0U);
		if (pat == KZT_RT_RANDOM) {
			KUNIT_EXPECT_EQ(test, fit, 0U);
			/* every random page caught, but for a rare fluke */
			KUNIT_EXPECT_GE(test, caught * 100, unfit * 99);
		}
	}
}

/* Every chunk sampled in full: the verdict kzt_cheap_reject() must give */
static bool kzt_rt_full_verdict(const u8 *data, unsigned int limit)
{
	const unsigned int part = PAGE_SIZE / KZT_SAMPLE_CHUNKS;
	const u8 *chunk = data + (part - KZT_SAMPLE_BYTES) / 2;
	DECLARE_BITMAP(seen, 256);
	unsigned int i, j, noise = 0;

	for (i = 0; i < KZT_SAMPLE_CHUNKS; i++, chunk += part) {
		bitmap_zero(seen, 256);
		for (j = 0; j < KZT_SAMPLE_BYTES; j++)
			__set_bit(chunk[j], seen);
		noise += bitmap_weight(seen, 256) >= KZT_NOISE_DISTINCT;
	}
	return noise * part > limit;
}

/*
 * The sample stops early (a chunk at its KZT_NOISE_DISTINCT-th value, the
 * page once the chunks left cannot change the verdict): on every pattern
 * and at limits from one chunk's worth to a whole page, it must decide
 * as sampling every chunk in full does.  "mix" alternates the kinds of
 * page, and a page of text with a few noisy chunks is made too, so that
 * both early exits and the full count are reached.
 */
static void kzt_reject_test_early_exit(struct kunit *test)
{
	static const unsigned int limits[] = { 64, 511, 512, 1024, 2048,
					       3584, 4095, 4096 };
	const unsigned int part = PAGE_SIZE / KZT_SAMPLE_CHUNKS;
	unsigned int l, checked = 0, rejected = 0;
	enum kzt_rt_pattern pat;
	u64 index, state;
	u8 *buf;

	buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (pat = KZT_RT_TEXT; pat <= KZT_RT_MIX + 1; pat++) {
		for (index = 0; index < 100; index++) {
			if (pat <= KZT_RT_MIX) {
				if (!kzt_rt_fill(buf, pat, 0xea51 + pat, index))
					continue;
			} else {
				/* text with noise in index % 9 chunks */
				kzt_rt_fill(buf, KZT_RT_TEXT, 0xea51, index);
				state = index;
				for (l = 0; l < index % 9; l++)
					kzt_rt_random(buf + l * part, part,
						      &state);
			}
			for (l = 0; l < ARRAY_SIZE(limits); l++) {
				bool want = kzt_rt_full_verdict(buf, limits[l]);

				KUNIT_EXPECT_EQ_MSG(test,
						    kzt_cheap_reject(buf, limits[l]),
						    want,
						    "pattern %d page %llu limit %u",
						    pat, index, limits[l]);
				checked++;
				rejected += want;
			}
		}
	}
	/* both verdicts were reached */
	KUNIT_EXPECT_GT(test, rejected, 0U);
	KUNIT_EXPECT_LT(test, rejected, checked);
}

/* Through the store path: a cheap reject is a compress_poor decline. */
static void kzt_reject_test_counted(struct kunit *test)
{
	static const struct tmem_oid oid = { .oid = { 13 } };
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *out = alloc_page(GFP_KERNEL);
	struct tmem_pool *pool = kzt_pt_pool(test);
	long cheap, poor, raw;
	unsigned int writeback;
	void *pampd;
	u8 *buf;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, out);
	buf = kmap_local_page(page);
	kzt_rt_fill(buf, KZT_RT_RANDOM, 1, 1);
	kunmap_local(buf);
	cheap = atomic_long_read(&kzt_pers_cheap_rejects);
	poor = atomic_long_read(&kzt_compress_poor);
	writeback = READ_ONCE(kzt_writeback);
	WRITE_ONCE(kzt_writeback, 0);
	pampd = kzt_pers_pampd_create(pool, &oid, 0, page);
	WRITE_ONCE(kzt_writeback, writeback);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(pampd), -E2BIG);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_pers_cheap_rejects),
			cheap + 1);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_compress_poor), poor + 1);

	/* With writeback, the same page is kept raw and comes back whole. */
	if (kzt_keep_raw()) {
		raw = atomic_long_read(&kzt_pers_raw_pages);
		cheap = atomic_long_read(&kzt_pers_cheap_rejects);
		pampd = kzt_pers_pampd_create(pool, &oid, 0, page);
		KUNIT_ASSERT_FALSE(test, IS_ERR(pampd));
		KUNIT_EXPECT_TRUE(test, ((struct kzt_pampd *)pampd)->raw);
		/* found from the sample, not compressed in full */
		KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_pers_cheap_rejects),
				cheap + 1);
		KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_pers_raw_pages),
				raw + 1);
		KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_compress_poor),
				poor + 1);
		KUNIT_EXPECT_EQ(test,
				kzt_pers_pampd_get_data(NULL, pampd, out), 0);
		KUNIT_EXPECT_TRUE(test, kzt_pt_same(page, out));
		kzt_pers_pampd_free(NULL, pampd);
		KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_pers_raw_pages),
				raw);
	} else {
		kunit_info(test, "no writeback workqueue: raw pages not tried\n");
	}

	/* A text page is neither refused nor counted. */
	buf = kmap_local_page(page);
	kzt_rt_fill(buf, KZT_RT_TEXT, 1, 2);
	kunmap_local(buf);
	cheap = atomic_long_read(&kzt_pers_cheap_rejects);
	pampd = kzt_pers_pampd_create(pool, &oid, 0, page);
	KUNIT_ASSERT_FALSE(test, IS_ERR(pampd));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_pers_cheap_rejects),
			cheap);
	kzt_pers_pampd_free(NULL, pampd);
	tmem_destroy_pool(pool);
	__free_page(out);
	__free_page(page);
}

/*
 * The writeback starts only while raw pages take writeback_min_raw_percent
 * of the pool: exactly at the share it does, one byte short it does not;
 * 0 always writes back, 100 only a pool of raw pages.
 */
static void kzt_reject_test_wb_raw_share(struct kunit *test)
{
	const u64 pool = 1000 * PAGE_SIZE;

	KUNIT_EXPECT_TRUE(test, kzt_wb_raw_enough(0, pool, 0));
	KUNIT_EXPECT_TRUE(test, kzt_wb_raw_enough(0, 0, 10));
	KUNIT_EXPECT_FALSE(test, kzt_wb_raw_enough(0, pool, 10));
	KUNIT_EXPECT_TRUE(test, kzt_wb_raw_enough(pool / 10, pool, 10));
	KUNIT_EXPECT_FALSE(test, kzt_wb_raw_enough(pool / 10 - 1, pool, 10));
	KUNIT_EXPECT_TRUE(test, kzt_wb_raw_enough(pool, pool, 100));
	KUNIT_EXPECT_FALSE(test, kzt_wb_raw_enough(pool - 1, pool, 100));
	/* a pool of some GiB does not overflow the product */
	KUNIT_EXPECT_TRUE(test, kzt_wb_raw_enough(16ULL << 30, 64ULL << 30,
						  25));
	KUNIT_EXPECT_FALSE(test, kzt_wb_raw_enough(16ULL << 30, 64ULL << 30,
						   26));
	KUNIT_EXPECT_EQ(test, KZT_WB_MIN_RAW_PERCENT_DEFAULT, 10);
}

/*
 * A load takes its copy out only for a page in the swap cache, with
 * exclusive loads on, and from the given share of the limit up, as the
 * last store that summed the pool noted it; the note is written only
 * when it changes, and never says "at" while exclusive loads are off.
 */
static void kzt_pam_test_excl_load(struct kunit *test)
{
	const u64 at90 = (u64)(kzt_limit_pages() * 90 / 100) << PAGE_SHIFT;
	unsigned int percent = READ_ONCE(kzt_excl_load_percent);
	bool saved = READ_ONCE(kzt_excl_pool_at);

	KUNIT_ASSERT_GT(test, at90, (u64)PAGE_SIZE);
	KUNIT_EXPECT_TRUE(test, kzt_excl_pool_wanted(at90, 90));
	KUNIT_EXPECT_FALSE(test, kzt_excl_pool_wanted(at90 - PAGE_SIZE, 90));
	KUNIT_EXPECT_FALSE(test, kzt_excl_pool_wanted(at90 * 2, 0));
	KUNIT_EXPECT_TRUE(test, kzt_excl_pool_wanted(at90, 1));

	KUNIT_EXPECT_TRUE(test, kzt_excl_load_wanted(true, 90, true));
	KUNIT_EXPECT_FALSE(test, kzt_excl_load_wanted(true, 90, false));
	KUNIT_EXPECT_FALSE(test, kzt_excl_load_wanted(false, 90, true));
	KUNIT_EXPECT_FALSE(test, kzt_excl_load_wanted(true, 0, true));

	WRITE_ONCE(kzt_excl_load_percent, 90);
	kzt_excl_note_pool(at90);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(kzt_excl_pool_at));
	kzt_excl_note_pool(at90 - PAGE_SIZE);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(kzt_excl_pool_at));
	kzt_excl_note_pool(at90 * 2);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(kzt_excl_pool_at));
	WRITE_ONCE(kzt_excl_load_percent, 0);
	kzt_excl_note_pool(at90 * 2);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(kzt_excl_pool_at));

	WRITE_ONCE(kzt_excl_load_percent, percent);
	WRITE_ONCE(kzt_excl_pool_at, saved);
	KUNIT_EXPECT_EQ(test, KZT_EXCL_LOAD_PERCENT_DEFAULT, 90);
}

/*
 * Exclusive loads stay held off until the count of stores reaches the
 * one set by the pause, also across the counter's wrap; a pause set now
 * lasts as many stores as the persistent LRU holds pages.
 */
static void kzt_pam_test_excl_pause(struct kunit *test)
{
	unsigned int percent = READ_ONCE(kzt_excl_load_percent);
	long saved = atomic_long_read(&kzt_excl_resume_at);
	long puts, resume;

	KUNIT_EXPECT_TRUE(test, kzt_excl_paused(9, 10));
	KUNIT_EXPECT_FALSE(test, kzt_excl_paused(10, 10));
	KUNIT_EXPECT_FALSE(test, kzt_excl_paused(11, 10));
	KUNIT_EXPECT_TRUE(test, kzt_excl_paused(LONG_MAX, LONG_MIN + 1));
	KUNIT_EXPECT_FALSE(test, kzt_excl_paused(LONG_MIN + 1, LONG_MAX));

	/* off: a pause sets nothing */
	WRITE_ONCE(kzt_excl_load_percent, 0);
	atomic_long_set(&kzt_excl_resume_at, 0);
	kzt_excl_pause();
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_excl_resume_at), 0L);

	WRITE_ONCE(kzt_excl_load_percent, 90);
	puts = atomic_long_read(&kzt_pers_puts);
	kzt_excl_pause();
	resume = atomic_long_read(&kzt_excl_resume_at);
	KUNIT_EXPECT_GE(test, resume - puts, (long)READ_ONCE(kzt_pers_lru_len));
	KUNIT_EXPECT_TRUE(test, kzt_excl_paused(puts - 1, resume));
	WRITE_ONCE(kzt_excl_load_percent, percent);
	atomic_long_set(&kzt_excl_resume_at, saved);
}

/*
 * Which copies a load may take out: compressed ones up to the size,
 * raw ones (PAGE_SIZE) only when the size is PAGE_SIZE, same-filled ones
 * (no room in the pool) never.
 */
static void kzt_pam_test_excl_copy(struct kunit *test)
{
	struct kzt_pampd comp = { .handle = 1, .len = PAGE_SIZE / 2 };
	struct kzt_pampd raw = { .handle = 1, .len = PAGE_SIZE, .raw = true };
	struct kzt_pampd same = { .handle = 0, .value = ~0UL };

	KUNIT_EXPECT_TRUE(test, kzt_excl_copy_wanted(&comp, PAGE_SIZE / 2));
	KUNIT_EXPECT_FALSE(test, kzt_excl_copy_wanted(&comp,
						      PAGE_SIZE / 2 - 1));
	KUNIT_EXPECT_TRUE(test, kzt_excl_copy_wanted(&comp, PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, kzt_excl_copy_wanted(&comp, 0));
	KUNIT_EXPECT_FALSE(test, kzt_excl_copy_wanted(&raw, PAGE_SIZE / 2));
	KUNIT_EXPECT_FALSE(test, kzt_excl_copy_wanted(&raw, PAGE_SIZE - 1));
	KUNIT_EXPECT_TRUE(test, kzt_excl_copy_wanted(&raw, PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, kzt_excl_copy_wanted(&same, PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, KZT_EXCL_LOAD_MAX_BYTES_DEFAULT, PAGE_SIZE / 2);
}

/*
 * The ephemeral share moves one point at a time and stays within its
 * bounds, a maximum below the minimum pinning it at the minimum; the
 * persistent half is at the split once it leaves less than the share.
 */
static void kzt_pam_test_split(struct kunit *test)
{
	const unsigned long limit = 1000;

	KUNIT_EXPECT_EQ(test, kzt_share_step(10, true, 10, 50), 11U);
	KUNIT_EXPECT_EQ(test, kzt_share_step(10, false, 10, 50), 10U);
	KUNIT_EXPECT_EQ(test, kzt_share_step(50, true, 10, 50), 50U);
	KUNIT_EXPECT_EQ(test, kzt_share_step(50, false, 10, 50), 49U);
	/* a share left outside by changed bounds comes back inside */
	KUNIT_EXPECT_EQ(test, kzt_share_step(80, false, 10, 50), 49U);
	KUNIT_EXPECT_EQ(test, kzt_share_step(80, true, 10, 50), 50U);
	KUNIT_EXPECT_EQ(test, kzt_share_step(0, false, 10, 50), 10U);
	KUNIT_EXPECT_EQ(test, kzt_share_step(30, true, 40, 20), 40U);
	KUNIT_EXPECT_EQ(test, kzt_share_step(30, false, 40, 20), 40U);
	KUNIT_EXPECT_EQ(test, kzt_share_step(0, false, 0, 0), 0U);
	KUNIT_EXPECT_EQ(test, kzt_share_step(100, true, 0, 100), 100U);

	KUNIT_EXPECT_FALSE(test, kzt_split_full(899, limit, 10));
	KUNIT_EXPECT_TRUE(test, kzt_split_full(900, limit, 10));
	KUNIT_EXPECT_FALSE(test, kzt_split_full(999, limit, 0));
	KUNIT_EXPECT_TRUE(test, kzt_split_full(1000, limit, 0));
	KUNIT_EXPECT_TRUE(test, kzt_split_full(0, limit, 100));
	/* a limit of no pages has no room for either half */
	KUNIT_EXPECT_TRUE(test, kzt_split_full(0, 0, 50));
	KUNIT_EXPECT_LE(test, KZT_EPH_MIN_PERCENT_DEFAULT,
			KZT_EPH_MAX_PERCENT_DEFAULT);
}

#ifdef CONFIG_CLEANCACHE
/*
 * Cleancache admission: the shift goes up when a window wasted more
 * pages than it hit, down when it wasted under an eighth of its hits,
 * and stays within [0, max]; at shift s one run in 2^s is admitted,
 * whole, and the same runs every time.
 */
static void kzt_pam_test_admit(struct kunit *test)
{
	unsigned int s, run, runs, admitted[KZT_CC_ADMIT_SHIFT_MAX + 1] = { 0 };
	struct tmem_oid oid = { };
	pgoff_t index, last;
	bool in;

	KUNIT_EXPECT_EQ(test, kzt_cc_admit_step(0, 100, 101, 3), 1U);
	KUNIT_EXPECT_EQ(test, kzt_cc_admit_step(0, 100, 100, 3), 0U);
	KUNIT_EXPECT_EQ(test, kzt_cc_admit_step(3, 0, 1024, 3), 3U);
	KUNIT_EXPECT_EQ(test, kzt_cc_admit_step(2, 800, 99, 3), 1U);
	KUNIT_EXPECT_EQ(test, kzt_cc_admit_step(2, 800, 100, 3), 2U);
	KUNIT_EXPECT_EQ(test, kzt_cc_admit_step(2, 1024, 0, 3), 1U);
	KUNIT_EXPECT_EQ(test, kzt_cc_admit_step(0, 1024, 0, 3), 0U);
	/* a shift above a lowered ceiling comes back under it */
	KUNIT_EXPECT_EQ(test, kzt_cc_admit_step(5, 500, 500, 3), 3U);
	KUNIT_EXPECT_EQ(test, kzt_cc_admit_step(5, 0, 1024, 0), 0U);
	/* the events of one window cannot overflow the product */
	KUNIT_EXPECT_EQ(test, kzt_cc_admit_step(1, UINT_MAX, UINT_MAX / 8, 3),
			0U);

	runs = 4096;
	for (run = 0; run < runs; run++) {
		oid.oid[0] = 1 + run % 16;
		index = run / 16 * KZT_CC_RUN_PAGES;
		last = index + KZT_CC_RUN_PAGES - 1;
		for (s = 0; s <= KZT_CC_ADMIT_SHIFT_MAX; s++) {
			in = kzt_cc_run_admitted(&oid, index, s);
			admitted[s] += in;
			/* the whole run, every time */
			KUNIT_ASSERT_EQ(test, in,
					kzt_cc_run_admitted(&oid, last, s));
			KUNIT_ASSERT_EQ(test, in,
					kzt_cc_run_admitted(&oid, index, s));
			/* a run admitted at s is admitted below s */
			if (in && s) {
				in = kzt_cc_run_admitted(&oid, index, s - 1);
				KUNIT_ASSERT_TRUE(test, in);
			}
		}
	}
	KUNIT_EXPECT_EQ(test, admitted[0], runs);
	for (s = 1; s <= KZT_CC_ADMIT_SHIFT_MAX; s++) {
		/* within a quarter of 2^-s of the runs */
		KUNIT_EXPECT_GE(test, admitted[s] * 4, (runs >> s) * 3);
		KUNIT_EXPECT_LE(test, admitted[s] * 4, (runs >> s) * 5);
	}
	KUNIT_EXPECT_LE(test, KZT_CC_ADMIT_MAX_SHIFT_DEFAULT,
			KZT_CC_ADMIT_SHIFT_MAX);
}

/*
 * Ghosts and the share under reclaim.  An evicted page leaves a ghost
 * that its next get, a miss, takes as a ghost hit, once; a page never
 * stored leaves none.  With eph_share_guard, reclaim
 * (current->reclaim_state set) counts and takes only what the ephemeral
 * half holds above its share, drop_caches (none set) all of it; without,
 * reclaim sees it all too.  The OOM notifier empties the half and brings
 * the share to its minimum.
 */
static void kzt_pam_test_ghost(struct kunit *test)
{
	const struct cleancache_filekey key = { .u.inode.ino = 15 };
	unsigned int max_shift = READ_ONCE(kzt_cc_admit_max_shift);
	unsigned int min = READ_ONCE(kzt_eph_min_percent);
	unsigned int max = READ_ONCE(kzt_eph_max_percent);
	unsigned int share = READ_ONCE(kzt_eph_share);
	unsigned int guard = READ_ONCE(kzt_eph_share_guard);
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *out = alloc_page(GFP_KERNEL);
	struct shrink_control sc = { .gfp_mask = GFP_KERNEL };
	struct reclaim_state rs = { }, *saved_rs;
	unsigned long freed = 0;
	long ghosts, held, oom;
	struct tmem_oid oid;
	u64 h;
	int id;

	KUNIT_EXPECT_EQ(test, kzt_eph_over_share(10, 4), 6UL);
	KUNIT_EXPECT_EQ(test, kzt_eph_over_share(4, 10), 0UL);
	KUNIT_EXPECT_EQ(test, kzt_eph_over_share(4, 4), 0UL);

	id = kzt_pt_cc_pool(test, page, out);
	kzt_cc_oid(&key, &oid);

	/* The table: a ghost answers once, and to its own key only. */
	h = kzt_ghost_hash(id, &oid, 100);
	kzt_ghost_note(h);
	KUNIT_EXPECT_FALSE(test, kzt_ghost_take(kzt_ghost_hash(id, &oid, 101)));
	KUNIT_EXPECT_FALSE(test,
			   kzt_ghost_take(kzt_ghost_hash(id + 1, &oid, 100)));
	KUNIT_EXPECT_TRUE(test, kzt_ghost_take(h));
	KUNIT_EXPECT_FALSE(test, kzt_ghost_take(h));

	/* Through cleancache: evicted, then asked for. */
	kzt_pt_fill(page, 15);
	kzt_cc_put_page(id, key, 0, page);
	KUNIT_ASSERT_GE(test, kzt_eph_frames(), 1UL);
	kzt_eph_shrink(kzt_eph_frames());
	ghosts = atomic_long_read(&kzt_eph_ghost_hits);
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 0, out), -ENODATA);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_ghost_hits),
			ghosts + 1);
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 0, out), -ENODATA);
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 1, out), -ENODATA);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_ghost_hits),
			ghosts + 1);

	/* Reclaim leaves the half its share, here all of the limit. */
	kzt_cc_put_page(id, key, 2, page);
	KUNIT_ASSERT_GE(test, kzt_eph_frames(), 1UL);
	WRITE_ONCE(kzt_eph_min_percent, 100);
	WRITE_ONCE(kzt_eph_max_percent, 100);
	kzt_eph_bounds_changed();
	KUNIT_EXPECT_EQ(test, kzt_shrink_count(NULL, &sc), kzt_eph_frames());
	saved_rs = current->reclaim_state;
	current->reclaim_state = &rs;
	held = atomic_long_read(&kzt_eph_reclaim_held);
	/* without the guard, reclaim sees the half whatever the share */
	WRITE_ONCE(kzt_eph_share_guard, 0);
	KUNIT_EXPECT_EQ(test, kzt_shrink_count(NULL, &sc),
			DIV_ROUND_UP(kzt_eph_frames() *
				     KZT_EPH_RECLAIM_COST_BASE,
				     READ_ONCE(kzt_eph_reclaim_cost)));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_reclaim_held), held);
	WRITE_ONCE(kzt_eph_share_guard, 1);
	KUNIT_EXPECT_EQ(test, kzt_shrink_count(NULL, &sc), 0UL);
	sc.nr_to_scan = 128;
	KUNIT_EXPECT_EQ(test, kzt_shrink_scan(NULL, &sc), SHRINK_STOP);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_reclaim_held),
			held + 2);
	KUNIT_EXPECT_GE(test, kzt_eph_frames(), 1UL);
	/* with no share, reclaim sees the half again, and holds nothing */
	WRITE_ONCE(kzt_eph_min_percent, 0);
	WRITE_ONCE(kzt_eph_max_percent, 0);
	kzt_eph_bounds_changed();
	KUNIT_EXPECT_EQ(test, kzt_shrink_count(NULL, &sc),
			DIV_ROUND_UP(kzt_eph_frames() *
				     KZT_EPH_RECLAIM_COST_BASE,
				     READ_ONCE(kzt_eph_reclaim_cost)));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_reclaim_held),
			held + 2);
	current->reclaim_state = saved_rs;

	/* Out of memory: all of it goes, and the share to its minimum. */
	WRITE_ONCE(kzt_eph_max_percent, 100);
	WRITE_ONCE(kzt_eph_share, 60);
	oom = atomic_long_read(&kzt_eph_oom_emptied);
	kzt_oom_notify(NULL, 0, &freed);
	KUNIT_EXPECT_GE(test, freed, 1UL);
	KUNIT_EXPECT_EQ(test, kzt_eph_frames(), 0UL);
	KUNIT_EXPECT_EQ(test, kzt_eph_share_now(), 0U);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_eph_oom_emptied), oom + 1);
	KUNIT_EXPECT_EQ(test, kzt_cc_get_page(id, key, 2, out), -ENODATA);

	WRITE_ONCE(kzt_eph_min_percent, min);
	WRITE_ONCE(kzt_eph_max_percent, max);
	WRITE_ONCE(kzt_eph_share, share);
	WRITE_ONCE(kzt_eph_share_guard, guard);
	WRITE_ONCE(kzt_cc_admit_max_shift, max_shift);
	kzt_cc_invalidate_fs(id);
	__free_page(out);
	__free_page(page);
}
#endif

static struct kunit_case kzt_reject_cases[] = {
	KUNIT_CASE(kzt_reject_test_patterns),
	KUNIT_CASE(kzt_reject_test_early_exit),
	KUNIT_CASE(kzt_reject_test_counted),
	KUNIT_CASE(kzt_reject_test_wb_raw_share),
	{}
};

static struct kunit_suite kzt_reject_suite = {
	.name = "kztmem_reject",
	.init = kzt_pt_init,
	.test_cases = kzt_reject_cases,
};

static struct kunit_case kzt_pam_cases[] = {
	KUNIT_CASE(kzt_pam_test_damaged_pers),
	KUNIT_CASE(kzt_pam_test_damaged_swap_load),
	KUNIT_CASE(kzt_pam_test_meta_counted),
	KUNIT_CASE(kzt_pam_test_split),
	KUNIT_CASE(kzt_pam_test_excl_load),
	KUNIT_CASE(kzt_pam_test_excl_copy),
	KUNIT_CASE(kzt_pam_test_excl_pause),
#ifdef CONFIG_CLEANCACHE
	KUNIT_CASE(kzt_pam_test_damaged_eph),
	KUNIT_CASE(kzt_pam_test_eph_same),
	KUNIT_CASE(kzt_pam_test_eph_raw),
	KUNIT_CASE(kzt_pam_test_admit),
	KUNIT_CASE(kzt_pam_test_ghost),
#endif
	{}
};

static struct kunit_suite kzt_pam_suite = {
	.name = "kztmem_pam",
	.init = kzt_pt_init,
	.test_cases = kzt_pam_cases,
};

kunit_test_suites(&kzt_pam_suite, &kzt_reject_suite);
