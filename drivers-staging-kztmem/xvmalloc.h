/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xvmalloc.h - kztmem's allocator for compressed pages
 *
 * A two-level segregated-fit allocator for objects of XV_MIN_ALLOC_SIZE
 * to XV_MAX_ALLOC_SIZE bytes carved out of single pages.  An object is
 * named by the page that holds it and the offset of its first byte in
 * that page; the page may be a highmem page, so users map it (for
 * example with kmap_local_page()) to reach the data.
 */
#ifndef _KZTMEM_XVMALLOC_H
#define _KZTMEM_XVMALLOC_H

#include <linux/types.h>
#include <asm/page.h>

struct page;
struct xv_pool;

/* Every block starts with a header of this many bytes. */
#define XV_HDR_SIZE		4
/* Objects and headers sit on 4-byte boundaries; sizes are rounded up. */
#define XV_ALIGN		4
/* Smaller requests are rounded up to this size. */
#define XV_MIN_ALLOC_SIZE	32
/* The largest object: a whole page minus one header. */
#define XV_MAX_ALLOC_SIZE	(PAGE_SIZE - XV_HDR_SIZE)

struct xv_pool *xv_create_pool(void);
void xv_destroy_pool(struct xv_pool *pool);

int xv_malloc(struct xv_pool *pool, u32 size, struct page **page,
	      u32 *offset, gfp_t flags);
void xv_free(struct xv_pool *pool, struct page *page, u32 offset);

u32 xv_get_object_size(struct page *page, u32 offset);
u64 xv_get_total_size_bytes(struct xv_pool *pool);

#endif /* _KZTMEM_XVMALLOC_H */
