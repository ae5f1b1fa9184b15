// SPDX-License-Identifier: GPL-2.0-only
/*
 * kztmem_store.c - xvmalloc and zsmalloc as kztmem persistent stores
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

static void kzt_xv_unmap(void *pool, unsigned long handle, void *addr)
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
	.map_atomic = false,
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

static void kzt_zs_unmap(void *pool, unsigned long handle, void *addr)
{
	zs_unmap_object(pool, handle);
}

static u64 kzt_zs_total_bytes(void *pool)
{
	return (u64)zs_get_total_pages(pool) << PAGE_SHIFT;
}

const struct kzt_store_ops kzt_store_zsmalloc = {
	.name = "zsmalloc",
	.max_size = PAGE_SIZE,
	.map_atomic = true,
	.create = kzt_zs_create,
	.destroy = kzt_zs_destroy,
	.alloc = kzt_zs_alloc,
	.free = kzt_zs_free,
	.map = kzt_zs_map,
	.unmap = kzt_zs_unmap,
	.total_bytes = kzt_zs_total_bytes,
};

static const struct kzt_store_ops *const kzt_stores[] = {
	&kzt_store_xvmalloc,
	&kzt_store_zsmalloc,
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
