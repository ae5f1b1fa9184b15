/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * zbud.h - compression buddies: kztmem's store for ephemeral pages
 *
 * A zbud pool keeps compressed pages ("zpages") in whole page frames, at
 * most two to a frame: the first buddy right after a small frame header
 * at the start of the frame, the second packed against the end.  Space
 * is counted in chunks of ZBUD_CHUNK_SIZE bytes.  A zpage is named by an
 * opaque handle; the frame also keeps, for each buddy, the tmem name it
 * was stored under (struct zbud_bref), so that the pool can evict a
 * frame "from the bottom up" and tell its user which tmem entries to
 * drop.
 *
 * Locking, ownership and the eviction protocol are described at the top
 * of zbud.c.
 */
#ifndef _KZTMEM_ZBUD_H
#define _KZTMEM_ZBUD_H

#include <linux/types.h>
#include <asm/page.h>

#include "tmem.h"

#define ZBUD_CHUNK_SHIFT	6
#define ZBUD_CHUNK_SIZE		BIT(ZBUD_CHUNK_SHIFT)
/* Chunks in a frame, the header's included */
#define ZBUD_NCHUNKS		(PAGE_SIZE >> ZBUD_CHUNK_SHIFT)

/*
 * struct zbud_bref - back reference from a buddy to its tmem entry
 * @oid:	tmem object id
 * @index:	index in the object
 * @pool_id:	the user's id of the tmem pool
 * @owner:	the user's own, kept with the zpage and never read by zbud
 *		(kztmem: the memory cgroup charged for it, or NULL)
 */
struct zbud_bref {
	struct tmem_oid oid;
	pgoff_t index;
	u32 pool_id;
	void *owner;
};

struct zbud_pool;

/*
 * struct zbud_ops - what a zbud pool asks of its user
 * @evict:	drop the tmem entry named by @bref if it still holds
 *		@handle, and free @handle (zbud_free()) if so.  Called by
 *		zbud_shrink() with no zbud lock held.  Returns 0 if the
 *		entry was dropped, or a negative errno if it no longer
 *		held @handle: whoever took it out frees it instead.
 */
struct zbud_ops {
	int (*evict)(struct zbud_pool *pool, const struct zbud_bref *bref,
		     unsigned long handle);
};

/*
 * struct zbud_stats - a snapshot of a pool's counters
 * @raw_pages:		frames held, empty and evicting ones included
 * @zpages:		zpages stored
 * @zbytes:		bytes of the zpages stored
 * @cumul_zpages:	zpages ever stored
 * @cumul_zbytes:	bytes of the zpages ever stored
 * @buddied:		frames holding two zpages
 * @unbuddied:		frames holding one zpage
 * @unused:		empty frames kept for reuse
 * @evicting:		frames the shrinker is evicting right now
 * @evicted_raw:	frames given back to the page allocator by eviction
 * @evicted_buddied:	frames chosen for eviction with two zpages
 * @evicted_unbuddied:	frames chosen for eviction with one zpage
 * @evict_kept:		frames chosen for eviction that kept a zpage owned
 *			elsewhere and went back on their lists
 */
struct zbud_stats {
	unsigned long raw_pages;
	unsigned long zpages;
	unsigned long zbytes;
	unsigned long cumul_zpages;
	unsigned long cumul_zbytes;
	unsigned long buddied;
	unsigned long unbuddied;
	unsigned long unused;
	unsigned long evicting;
	unsigned long evicted_raw;
	unsigned long evicted_buddied;
	unsigned long evicted_unbuddied;
	unsigned long evict_kept;
};

struct zbud_pool *zbud_create_pool(const struct zbud_ops *ops,
				   unsigned int max_unused);
void zbud_destroy_pool(struct zbud_pool *pool);

unsigned int zbud_max_size(void);
unsigned int zbud_usable_chunks(void);
int zbud_store(struct zbud_pool *pool, const void *data, unsigned int size,
	       const struct zbud_bref *bref, gfp_t gfp,
	       unsigned long *handle);
const void *zbud_data(unsigned long handle, unsigned int *size);
const struct zbud_bref *zbud_handle_bref(unsigned long handle);
void zbud_free(struct zbud_pool *pool, unsigned long handle);

unsigned long zbud_shrink(struct zbud_pool *pool, unsigned long nr);
unsigned long zbud_reclaimable(struct zbud_pool *pool);

void zbud_get_stats(struct zbud_pool *pool, struct zbud_stats *stats);
void zbud_unbuddied_counts(struct zbud_pool *pool, unsigned long *counts);
void zbud_cumul_chunk_counts(struct zbud_pool *pool, unsigned long *counts);

/* For tests: the frame of a handle and the offset of its data */
struct page *zbud_handle_page(unsigned long handle);
unsigned int zbud_handle_offset(unsigned long handle);

#endif /* _KZTMEM_ZBUD_H */
