// SPDX-License-Identifier: GPL-2.0-only
/*
 * kztmem_store.c - xvmalloc, zsmalloc and the two split by size as
 * kztmem persistent stores
 *
 * Both are thin: the allocators keep their own locking, so the store
 * functions may be called wherever the allocator itself may be (kztmem
 * calls them with interrupts off and GFP_NOWAIT allocations).
 */

#include <linux/err.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/zsmalloc.h>

#include "kztmem_store.h"
#include "xvmalloc.h"

/* xvmalloc: the handle is the struct page, the offset is in that page. */
static void *kzt_xv_create(const char *name)
{
	return xv_create_pool();
}

static void kzt_xv_destroy(void *pool)
{
	xv_destroy_pool(pool);
}

static int kzt_xv_alloc(void *pool, size_t len, gfp_t gfp,
			unsigned long *handle, u32 *offset)
{
	struct page *page;
	int ret;

	ret = xv_malloc(pool, len, &page, offset, gfp);
	if (ret)
		return ret;
	*handle = (unsigned long)page;
	return 0;
}

static void kzt_xv_free(void *pool, unsigned long handle, u32 offset)
{
	xv_free(pool, (struct page *)handle, offset);
}

static void *kzt_xv_map(void *pool, unsigned long handle, u32 offset,
			enum kzt_store_mapmode mode)
{
	return kmap_local_page((struct page *)handle) + offset;
}

static void kzt_xv_unmap(void *pool, unsigned long handle, u32 offset,
			 void *addr)
{
	/* Any address inside the mapped page ends its mapping. */
	kunmap_local(addr);
}

static u64 kzt_xv_total_bytes(void *pool)
{
	return xv_get_total_size_bytes(pool);
}

const struct kzt_store_ops kzt_store_xvmalloc = {
	.name = "xvmalloc",
	.max_size = XV_MAX_ALLOC_SIZE,
	.create = kzt_xv_create,
	.destroy = kzt_xv_destroy,
	.alloc = kzt_xv_alloc,
	.free = kzt_xv_free,
	.map = kzt_xv_map,
	.unmap = kzt_xv_unmap,
	.total_bytes = kzt_xv_total_bytes,
};

/* zsmalloc: its handle as is; the offset is unused and 0. */
static void *kzt_zs_create(const char *name)
{
	return zs_create_pool(name);
}

static void kzt_zs_destroy(void *pool)
{
	zs_destroy_pool(pool);
}

static int kzt_zs_alloc(void *pool, size_t len, gfp_t gfp,
			unsigned long *handle, u32 *offset)
{
	unsigned long h = zs_malloc(pool, len, gfp);

	if (IS_ERR_VALUE(h))
		return (int)h;
	*handle = h;
	*offset = 0;
	return 0;
}

static void kzt_zs_free(void *pool, unsigned long handle, u32 offset)
{
	zs_free(pool, handle);
}

static void *kzt_zs_map(void *pool, unsigned long handle, u32 offset,
			enum kzt_store_mapmode mode)
{
	return zs_map_object(pool, handle,
			     mode == KZT_STORE_WO ? ZS_MM_WO : ZS_MM_RO);
}

static void kzt_zs_unmap(void *pool, unsigned long handle, u32 offset,
			 void *addr)
{
	zs_unmap_object(pool, handle);
}

/* zs_map_object() takes a per-CPU area with preemption off. */
static bool kzt_zs_map_atomic(u32 offset)
{
	return true;
}

static u64 kzt_zs_total_bytes(void *pool)
{
	return (u64)zs_get_total_pages(pool) << PAGE_SHIFT;
}

const struct kzt_store_ops kzt_store_zsmalloc = {
	.name = "zsmalloc",
	.max_size = PAGE_SIZE,
	.map_atomic = kzt_zs_map_atomic,
	.create = kzt_zs_create,
	.destroy = kzt_zs_destroy,
	.alloc = kzt_zs_alloc,
	.free = kzt_zs_free,
	.map = kzt_zs_map,
	.unmap = kzt_zs_unmap,
	.total_bytes = kzt_zs_total_bytes,
};

/*
 * split: objects of at most KZT_SPLIT_XV_MAX bytes in an xvmalloc pool,
 * larger ones in a zsmalloc pool.  xvmalloc packs small objects densely
 * and maps them without disabling preemption, but an object never spans
 * pages, so one of more than half a page leaves the rest of its page to
 * smaller objects, which may never come; zsmalloc lets those span pages.
 * A zsmalloc object's offset is KZT_SPLIT_ZS, which no xvmalloc offset
 * (within a page) can be; the handle is the sub-store's own.
 */
#define KZT_SPLIT_XV_MAX	(PAGE_SIZE / 2)
#define KZT_SPLIT_ZS		U32_MAX

struct kzt_split_pool {
	void *xv;
	void *zs;
};

static void kzt_split_destroy(void *pool)
{
	struct kzt_split_pool *sp = pool;

	if (sp->zs)
		kzt_zs_destroy(sp->zs);
	if (sp->xv)
		kzt_xv_destroy(sp->xv);
	kfree(sp);
}

static void *kzt_split_create(const char *name)
{
	struct kzt_split_pool *sp = kzalloc(sizeof(*sp), GFP_KERNEL);

	if (!sp)
		return NULL;
	sp->xv = kzt_xv_create(name);
	sp->zs = kzt_zs_create(name);
	if (!sp->xv || !sp->zs) {
		kzt_split_destroy(sp);
		return NULL;
	}
	return sp;
}

static int kzt_split_alloc(void *pool, size_t len, gfp_t gfp,
			   unsigned long *handle, u32 *offset)
{
	struct kzt_split_pool *sp = pool;
	int ret;

	if (len <= KZT_SPLIT_XV_MAX)
		return kzt_xv_alloc(sp->xv, len, gfp, handle, offset);
	ret = kzt_zs_alloc(sp->zs, len, gfp, handle, offset);
	if (!ret)
		*offset = KZT_SPLIT_ZS;
	return ret;
}

static void kzt_split_free(void *pool, unsigned long handle, u32 offset)
{
	struct kzt_split_pool *sp = pool;

	if (offset == KZT_SPLIT_ZS)
		kzt_zs_free(sp->zs, handle, 0);
	else
		kzt_xv_free(sp->xv, handle, offset);
}

static void *kzt_split_map(void *pool, unsigned long handle, u32 offset,
			   enum kzt_store_mapmode mode)
{
	struct kzt_split_pool *sp = pool;

	if (offset == KZT_SPLIT_ZS)
		return kzt_zs_map(sp->zs, handle, 0, mode);
	return kzt_xv_map(sp->xv, handle, offset, mode);
}

static void kzt_split_unmap(void *pool, unsigned long handle, u32 offset,
			    void *addr)
{
	struct kzt_split_pool *sp = pool;

	if (offset == KZT_SPLIT_ZS)
		kzt_zs_unmap(sp->zs, handle, 0, addr);
	else
		kzt_xv_unmap(sp->xv, handle, offset, addr);
}

static u64 kzt_split_total_bytes(void *pool)
{
	struct kzt_split_pool *sp = pool;

	return kzt_xv_total_bytes(sp->xv) + kzt_zs_total_bytes(sp->zs);
}

/* Only its zsmalloc objects are mapped with preemption off. */
static bool kzt_split_map_atomic(u32 offset)
{
	return offset == KZT_SPLIT_ZS;
}

const struct kzt_store_ops kzt_store_split = {
	.name = "split",
	.max_size = PAGE_SIZE,
	.map_atomic = kzt_split_map_atomic,
	.create = kzt_split_create,
	.destroy = kzt_split_destroy,
	.alloc = kzt_split_alloc,
	.free = kzt_split_free,
	.map = kzt_split_map,
	.unmap = kzt_split_unmap,
	.total_bytes = kzt_split_total_bytes,
};

/* The largest object the split store keeps in its xvmalloc pool. */
size_t kzt_store_split_xv_max(void)
{
	return KZT_SPLIT_XV_MAX;
}

static const struct kzt_store_ops *const kzt_stores[] = {
	&kzt_store_xvmalloc,
	&kzt_store_zsmalloc,
	&kzt_store_split,
};

/* The store called exactly @name, or NULL. */
const struct kzt_store_ops *kzt_store_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kzt_stores); i++)
		if (!strcmp(kzt_stores[i]->name, name))
			return kzt_stores[i];
	return NULL;
}

struct kzt_store *kzt_store_create(const struct kzt_store_ops *ops,
				   const char *name)
{
	struct kzt_store *store = kmalloc(sizeof(*store), GFP_KERNEL);

	if (!store)
		return NULL;
	store->ops = ops;
	store->pool = ops->create(name);
	if (!store->pool) {
		kfree(store);
		return NULL;
	}
	return store;
}

void kzt_store_destroy(struct kzt_store *store)
{
	if (!store)
		return;
	store->ops->destroy(store->pool);
	kfree(store);
}
