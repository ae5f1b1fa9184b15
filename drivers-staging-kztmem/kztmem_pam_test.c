// SPDX-License-Identifier: GPL-2.0-only
/*
 * kztmem_pam_test.c - KUnit tests for kztmem's two PAMs and its load path
 *
 * Included at the end of kztmem.c when CONFIG_KZTMEM_KUNIT_TEST is set, so
 * that it reaches the static PAM functions and counters.  The suite needs
 * the driver running: boot with "kztmem" (kzt kunit does).
 *
 * kztmem_pam stores real pages through the persistent PAM (LZO into
 * the persistent store the driver was booted with: xvmalloc, or
 * zsmalloc with "kztmem.pers_pool=zsmalloc") and the ephemeral one (LZO
 * into zbud), damages the stored data, and checks that reading it back
 * fails with -EIO and is counted, and never succeeds with other bytes.  For a frontswap load that
 * matters most: the swap slot on the device was never written, so a
 * failed load must not let swap_readpage() read the device.
 */

#include <kunit/test.h>

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
	kzt_store_unmap(kzt_pers_store, pampd->handle, p);
}

static int kzt_pt_init(struct kunit *test)
{
	if (!kzt_pers_store)
		kunit_skip(test, "kztmem is off: boot with \"kztmem\"");
	return 0;
}

static void kzt_pam_test_damaged_pers(struct kunit *test)
{
	static const struct tmem_oid oid = { .oid = { 11 } };
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *out = alloc_page(GFP_KERNEL);
	struct kzt_pampd *pampd;
	u32 len;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, out);
	kzt_pt_fill(page, 3);
	pampd = kzt_pers_pampd_create(NULL, &oid, 0, page);
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
	.free = kzt_pers_pampd_free,
};

static void kzt_pam_test_damaged_swap_load(struct kunit *test)
{
	const unsigned int type = MAX_SWAPFILES - 1;
	struct page *page = alloc_page(GFP_KERNEL);
	struct page *out = alloc_page(GFP_KERNEL);
	long failed, gets;
	struct tmem_pool *pool;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_NOT_NULL(test, out);
	KUNIT_ASSERT_NULL(test, kzt_swap_pool(type));
	pool = tmem_pool_create(TMEM_POOL_PERSIST, &kzt_pt_pamops, &kzt_hostops,
				NULL);
	KUNIT_ASSERT_FALSE(test, IS_ERR(pool));
	WRITE_ONCE(kzt_frontswap_pools[type], pool);

	kzt_pt_fill(page, 5);
	kzt_pt_last = NULL;
	KUNIT_ASSERT_EQ(test, kzt_frontswap_store(type, 77, page), 0);
	KUNIT_ASSERT_NOT_NULL(test, kzt_pt_last);
	KUNIT_EXPECT_EQ(test, kzt_frontswap_load(type, 77, out), 0);
	KUNIT_EXPECT_TRUE(test, kzt_pt_same(page, out));

	kzt_pt_scribble_pers(kzt_pt_last);
	failed = atomic_long_read(&kzt_failed_pers_gets);
	gets = atomic_long_read(&kzt_pers_gets);
	KUNIT_EXPECT_EQ(test, kzt_frontswap_load(type, 77, out), -EIO);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_failed_pers_gets),
			failed + 1);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&kzt_pers_gets), gets);

	/* A page that is not there at all is lost as well. */
	KUNIT_EXPECT_EQ(test, kzt_frontswap_load(type, 78, out), -EIO);

	WRITE_ONCE(kzt_frontswap_pools[type], NULL);
	tmem_destroy_pool(pool);
	__free_page(out);
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
#endif

static struct kunit_case kzt_pam_cases[] = {
	KUNIT_CASE(kzt_pam_test_damaged_pers),
	KUNIT_CASE(kzt_pam_test_damaged_swap_load),
#ifdef CONFIG_CLEANCACHE
	KUNIT_CASE(kzt_pam_test_damaged_eph),
#endif
	{}
};

static struct kunit_suite kzt_pam_suite = {
	.name = "kztmem_pam",
	.init = kzt_pt_init,
	.test_cases = kzt_pam_cases,
};

kunit_test_suite(kzt_pam_suite);
