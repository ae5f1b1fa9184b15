/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kztmem_store.h - the stores behind kztmem's persistent PAM
 *
 * A persistent store keeps the compressed data of frontswap pages.  Three
 * exist: kztmem's own xvmalloc (objects never span pages), the kernel's
 * zsmalloc (objects may span pages), and split, which keeps objects of
 * up to half a page in an xvmalloc pool and larger ones in a zsmalloc
 * pool.  One is chosen at boot with "kztmem.pers_pool=".
 *
 * An object is named by a handle and an offset.  xvmalloc puts its
 * struct page in the handle and the object's offset in that page in the
 * offset; zsmalloc puts its own handle in the handle and leaves the
 * offset at 0; split gives its zsmalloc objects an offset no page has.
 * A handle is never 0.
 *
 * Data is reached by mapping the object: kzt_store_map() with
 * KZT_STORE_RO to read it, KZT_STORE_WO to fill a new object, and
 * kzt_store_unmap() with the same handle and offset once done.  When
 * kzt_store_map_atomic() says so for an object (every zsmalloc object,
 * the split store's zsmalloc objects) its mapping is a per-CPU area with
 * preemption off: do no more than a memcpy() between map and unmap, and
 * map one object at a time.
 */
#ifndef _KZTMEM_STORE_H
#define _KZTMEM_STORE_H

#include <linux/types.h>

enum kzt_store_mapmode {
	KZT_STORE_RO,
	KZT_STORE_WO,
};

/**
 * struct kzt_store_ops - one kind of persistent store
 * @name:	what "kztmem.pers_pool=" and the pers_pool file call it
 * @max_size:	the largest object @alloc accepts, in bytes
 * @map_atomic:	optional: does @map of the object at @offset disable
 *		preemption until @unmap?  NULL: never
 * @create:	a new, empty pool named @name, or NULL
 * @destroy:	free an empty pool
 * @alloc:	an object of @len bytes, allocated with @gfp; 0 or -errno
 * @free:	give an object back
 * @map:	the object's first byte, mapped for @mode
 * @unmap:	end the mapping @map returned as @addr for @handle and @offset
 * @total_bytes: the memory the pool takes, in bytes (whole pages)
 */
struct kzt_store_ops {
	const char *name;
	size_t max_size;
	bool (*map_atomic)(u32 offset);
	void *(*create)(const char *name);
	void (*destroy)(void *pool);
	int (*alloc)(void *pool, size_t len, gfp_t gfp,
		     unsigned long *handle, u32 *offset);
	void (*free)(void *pool, unsigned long handle, u32 offset);
	void *(*map)(void *pool, unsigned long handle, u32 offset,
		     enum kzt_store_mapmode mode);
	void (*unmap)(void *pool, unsigned long handle, u32 offset,
		      void *addr);
	u64 (*total_bytes)(void *pool);
};

/* A pool of one store: what kztmem and the tests hold. */
struct kzt_store {
	const struct kzt_store_ops *ops;
	void *pool;
};

extern const struct kzt_store_ops kzt_store_xvmalloc;
extern const struct kzt_store_ops kzt_store_zsmalloc;
extern const struct kzt_store_ops kzt_store_split;

size_t kzt_store_split_xv_max(void);

const struct kzt_store_ops *kzt_store_find(const char *name);
struct kzt_store *kzt_store_create(const struct kzt_store_ops *ops,
				   const char *name);
void kzt_store_destroy(struct kzt_store *store);

static inline int kzt_store_alloc(struct kzt_store *store, size_t len,
				  gfp_t gfp, unsigned long *handle,
				  u32 *offset)
{
	if (!len || len > store->ops->max_size)
		return -E2BIG;
	return store->ops->alloc(store->pool, len, gfp, handle, offset);
}

static inline void kzt_store_free(struct kzt_store *store,
				  unsigned long handle, u32 offset)
{
	store->ops->free(store->pool, handle, offset);
}

static inline void *kzt_store_map(struct kzt_store *store,
				  unsigned long handle, u32 offset,
				  enum kzt_store_mapmode mode)
{
	return store->ops->map(store->pool, handle, offset, mode);
}

static inline void kzt_store_unmap(struct kzt_store *store,
				   unsigned long handle, u32 offset,
				   void *addr)
{
	store->ops->unmap(store->pool, handle, offset, addr);
}

static inline bool kzt_store_map_atomic(struct kzt_store *store, u32 offset)
{
	return store->ops->map_atomic && store->ops->map_atomic(offset);
}

static inline u64 kzt_store_total_bytes(struct kzt_store *store)
{
	return store->ops->total_bytes(store->pool);
}

#endif /* _KZTMEM_STORE_H */
