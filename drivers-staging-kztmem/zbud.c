// SPDX-License-Identifier: GPL-2.0-only
/*
 * zbud.c - compression buddies: kztmem's store for ephemeral pages
 *
 * Frames
 * ------
 * A frame is one lowmem page.  It starts with struct zbud_frame (list
 * links, the two buddy slots with their sizes and back references, the
 * evicting flag), rounded up to ZBUD_HDR_CHUNKS chunks.  Buddy 0's data
 * starts right after the header; buddy 1's data ends at the end of the
 * page.  A frame holds zero, one ("unbuddied") or two ("buddied")
 * zpages, so density is at most 2:1; the chunks of the two buddies add
 * up to at most ZBUD_USABLE_CHUNKS, which keeps their data apart.
 *
 * A handle is the frame's address with the buddy number in bit 0.
 *
 * Lists
 * -----
 * - unbuddied[i]: frames with one zpage and i free chunks.  A store of
 *   c chunks takes the first frame of the first non-empty list from
 *   unbuddied[c] upwards (best fit), else an empty frame, else a new
 *   page.
 * - lru_unbuddied, lru_buddied: frames with one and with two zpages, the
 *   least recently filled first.  A frame goes to the tail of the list
 *   of its new kind whenever it gains or loses a buddy.
 * - unused: empty frames kept for reuse, at most max_unused of them.
 * A frame being evicted is on no list.
 *
 * Locking
 * -------
 * zbud_pool.lock protects every list and counter of the pool and the
 * header of every frame of the pool (buddy sizes, back references,
 * evicting flag).  It is a leaf lock: zbud never calls out (into tmem,
 * into its user's ops) while holding it, and it nests inside tmem's
 * bucket locks, as tmem.c allows PAM locks to do.  Stores and frees run
 * with interrupts disabled under the mapping's i_pages lock (cleancache
 * puts), so it is always taken with spin_lock_irqsave().
 *
 * Ownership
 * ---------
 * Every zpage has exactly one owner: tmem while the handle sits in a
 * tmem slot, or whoever took the handle out of the slot under the
 * bucket lock (a get, a flush, a put that replaced it, the evictor).
 * Only the owner reads the data (zbud_data(), without the pool lock)
 * and only the owner calls zbud_free().  A frame's page is given back
 * only once its last zpage has been freed, so a frame cannot vanish
 * under an owner that is still decompressing from it.
 *
 * Eviction (zbud_shrink(), "bottom up")
 * -------------------------------------
 * Empty frames are freed first, then the least recently filled
 * unbuddied frames, then buddied frames.  Under the pool lock the
 * shrinker takes a victim off all lists, marks it evicting (no store
 * will place a zpage in it any more) and copies the back reference and
 * handle of each zpage in it.  It then drops the lock and, for each
 * zpage, asks the user (ops->evict) to drop the tmem entry named by the
 * back reference if, under the bucket lock, that entry still holds the
 * very handle.  If it does, the shrinker has become the owner and the
 * user frees the zpage; if not, a concurrent get, flush or put owns it
 * and will free it.  zbud_free() on an evicting frame only clears the
 * slot: the frame itself stays the shrinker's.  Nothing holds the pool
 * lock while waiting for a bucket lock, so the top-down paths (bucket
 * lock, then pool lock) and the shrinker cannot deadlock.
 *
 * Once every evict call has returned, the shrinker settles the frame
 * under the pool lock.  If it is empty, its page goes back and the
 * frame counts as freed.  If not, a zpage was owned elsewhere: most
 * often a store that had its handle but had not yet put it into tmem
 * when the shrinker looked, or a get that was still decompressing.
 * The frame then stops being evicting and goes back on the lists of its
 * kind like any other frame, so that it stays counted, can be evicted
 * again and is freed by whoever frees its last zpage; the shrinker
 * does not count it as room made.  No frame is ever left evicting on
 * no list.
 */

#include <linux/bug.h>
#include <linux/build_bug.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "zbud.h"

/*
 * struct zbud_buddy - one buddy slot of a frame
 * @bref:	where tmem keeps the handle of this zpage
 * @size:	bytes of compressed data, 0 when the slot is free
 */
struct zbud_buddy {
	struct zbud_bref bref;
	u32 size;
};

/*
 * struct zbud_frame - the header at the start of every frame
 * @list:	link in unbuddied[] or unused
 * @lru:	link in lru_unbuddied or lru_buddied
 * @buddy:	the two slots
 * @evicting:	chosen by the shrinker: on no list, takes no new zpage
 */
struct zbud_frame {
	struct list_head list;
	struct list_head lru;
	struct zbud_buddy buddy[2];
	bool evicting;
};

#define ZBUD_HDR_CHUNKS		DIV_ROUND_UP(sizeof(struct zbud_frame), \
					     ZBUD_CHUNK_SIZE)
#define ZBUD_USABLE_CHUNKS	(ZBUD_NCHUNKS - ZBUD_HDR_CHUNKS)

/*
 * struct zbud_pool - a set of frames
 * @lock:		protects everything below and every frame header
 * @ops:		the user's callbacks
 * @max_unused:		empty frames kept at most
 * @unbuddied:		frames with one zpage, by free chunks
 * @lru_unbuddied:	frames with one zpage, oldest first
 * @lru_buddied:	frames with two zpages, oldest first
 * @unused:		empty frames
 * @unbuddied_count:	frames on each unbuddied list
 * @chunk_count:	zpages ever stored, by chunks used
 * @stats:		the counters
 */
struct zbud_pool {
	spinlock_t lock;	/* see above */
	const struct zbud_ops *ops;
	unsigned int max_unused;
	struct list_head unbuddied[ZBUD_NCHUNKS];
	struct list_head lru_unbuddied;
	struct list_head lru_buddied;
	struct list_head unused;
	unsigned long unbuddied_count[ZBUD_NCHUNKS];
	unsigned long chunk_count[ZBUD_NCHUNKS];
	struct zbud_stats stats;
};

static unsigned int zbud_chunks(unsigned int size)
{
	return DIV_ROUND_UP(size, ZBUD_CHUNK_SIZE);
}

static struct zbud_frame *zbud_handle_frame(unsigned long handle)
{
	return (struct zbud_frame *)(handle & PAGE_MASK);
}

static unsigned int zbud_handle_buddy(unsigned long handle)
{
	return handle & 1;
}

static unsigned int zbud_frame_zpages(const struct zbud_frame *frame)
{
	return !!frame->buddy[0].size + !!frame->buddy[1].size;
}

static unsigned int zbud_frame_free_chunks(const struct zbud_frame *frame)
{
	return ZBUD_USABLE_CHUNKS - zbud_chunks(frame->buddy[0].size) -
	       zbud_chunks(frame->buddy[1].size);
}

static void *zbud_buddy_data(struct zbud_frame *frame, unsigned int bud)
{
	if (bud == 0)
		return (u8 *)frame + ZBUD_HDR_CHUNKS * ZBUD_CHUNK_SIZE;
	return (u8 *)frame + PAGE_SIZE - frame->buddy[1].size;
}

/*
 * Take a frame off the lists of its kind (as its zpages make it now).
 * Called with the pool lock held, before the frame changes.
 */
static void zbud_unfile(struct zbud_pool *pool, struct zbud_frame *frame)
{
	switch (zbud_frame_zpages(frame)) {
	case 2:
		list_del_init(&frame->lru);
		pool->stats.buddied--;
		break;
	case 1:
		list_del_init(&frame->list);
		pool->unbuddied_count[zbud_frame_free_chunks(frame)]--;
		list_del_init(&frame->lru);
		pool->stats.unbuddied--;
		break;
	default:
		list_del_init(&frame->list);
		pool->stats.unused--;
		break;
	}
}

/* Put a frame on the lists of its kind.  Called with the pool lock held. */
static void zbud_file(struct zbud_pool *pool, struct zbud_frame *frame)
{
	unsigned int free;

	switch (zbud_frame_zpages(frame)) {
	case 2:
		list_add_tail(&frame->lru, &pool->lru_buddied);
		pool->stats.buddied++;
		break;
	case 1:
		free = zbud_frame_free_chunks(frame);
		list_add_tail(&frame->list, &pool->unbuddied[free]);
		pool->unbuddied_count[free]++;
		list_add_tail(&frame->lru, &pool->lru_unbuddied);
		pool->stats.unbuddied++;
		break;
	default:
		list_add(&frame->list, &pool->unused);
		pool->stats.unused++;
		break;
	}
}

/**
 * zbud_max_size - the largest zpage a frame can take
 *
 * Return: the size in bytes; larger zpages are refused by zbud_store().
 */
unsigned int zbud_max_size(void)
{
	return ZBUD_USABLE_CHUNKS * ZBUD_CHUNK_SIZE;
}

/* Find a frame with room for @chunks; the pool lock is held. */
static struct zbud_frame *zbud_find_frame(struct zbud_pool *pool,
					  unsigned int chunks)
{
	unsigned int i;

	for (i = chunks; i <= ZBUD_USABLE_CHUNKS; i++)
		if (!list_empty(&pool->unbuddied[i]))
			return list_first_entry(&pool->unbuddied[i],
						struct zbud_frame, list);
	return list_first_entry_or_null(&pool->unused, struct zbud_frame,
					list);
}

/**
 * zbud_store - store a zpage
 * @pool:	the pool
 * @data:	the compressed data
 * @size:	its size in bytes, 1 to zbud_max_size()
 * @bref:	the tmem entry the handle is going to be stored in
 * @gfp:	flags for a new frame; must not include __GFP_HIGHMEM
 * @handle:	receives the handle of the zpage
 *
 * The zpage goes into the unbuddied frame whose free space fits it best,
 * else into an empty frame, else into a new page.
 *
 * Context: any context that @gfp allows; takes the pool lock.
 * Return: 0, -E2BIG for a bad size, or -ENOMEM.
 */
int zbud_store(struct zbud_pool *pool, const void *data, unsigned int size,
	       const struct zbud_bref *bref, gfp_t gfp, unsigned long *handle)
{
	unsigned int chunks = zbud_chunks(size);
	struct zbud_frame *frame;
	unsigned long flags;
	struct page *page;
	unsigned int bud;

	if (!size || size > zbud_max_size())
		return -E2BIG;

	spin_lock_irqsave(&pool->lock, flags);
	frame = zbud_find_frame(pool, chunks);
	if (frame) {
		zbud_unfile(pool, frame);
	} else {
		spin_unlock_irqrestore(&pool->lock, flags);
		page = alloc_page(gfp & ~__GFP_HIGHMEM);
		if (!page)
			return -ENOMEM;
		frame = page_address(page);
		memset(frame, 0, sizeof(*frame));
		INIT_LIST_HEAD(&frame->list);
		INIT_LIST_HEAD(&frame->lru);
		spin_lock_irqsave(&pool->lock, flags);
		pool->stats.raw_pages++;
	}

	bud = frame->buddy[0].size ? 1 : 0;
	frame->buddy[bud].bref = *bref;
	frame->buddy[bud].size = size;
	memcpy(zbud_buddy_data(frame, bud), data, size);
	zbud_file(pool, frame);

	pool->stats.zpages++;
	pool->stats.zbytes += size;
	pool->stats.cumul_zpages++;
	pool->stats.cumul_zbytes += size;
	pool->chunk_count[chunks]++;
	spin_unlock_irqrestore(&pool->lock, flags);

	*handle = (unsigned long)frame | bud;
	return 0;
}

/**
 * zbud_data - the data of a zpage
 * @handle:	the zpage, owned by the caller
 * @size:	receives its size in bytes
 *
 * Return: the address of the data, valid until the zpage is freed.
 */
const void *zbud_data(unsigned long handle, unsigned int *size)
{
	struct zbud_frame *frame = zbud_handle_frame(handle);
	unsigned int bud = zbud_handle_buddy(handle);

	*size = frame->buddy[bud].size;
	return zbud_buddy_data(frame, bud);
}

/**
 * zbud_handle_bref - the back reference a zpage was stored with
 * @handle:	the zpage, owned by the caller
 *
 * Return: the back reference, valid until the zpage is freed.
 */
const struct zbud_bref *zbud_handle_bref(unsigned long handle)
{
	return &zbud_handle_frame(handle)->buddy[zbud_handle_buddy(handle)].bref;
}

/**
 * zbud_free - free a zpage
 * @pool:	the pool
 * @handle:	the zpage, owned by the caller
 *
 * The frame's page goes back to the page allocator when this was its
 * last zpage and enough empty frames are kept already.  A frame being
 * evicted is left to the shrinker.
 *
 * Context: any context; takes the pool lock.
 */
void zbud_free(struct zbud_pool *pool, unsigned long handle)
{
	struct zbud_frame *frame = zbud_handle_frame(handle);
	unsigned int bud = zbud_handle_buddy(handle);
	struct zbud_buddy *buddy = &frame->buddy[bud];
	bool release = false;
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	if (WARN_ON_ONCE(!buddy->size)) {
		spin_unlock_irqrestore(&pool->lock, flags);
		return;
	}
	pool->stats.zpages--;
	pool->stats.zbytes -= buddy->size;

	/* An evicting frame is on no list and settled by the shrinker. */
	if (frame->evicting) {
		buddy->size = 0;
		spin_unlock_irqrestore(&pool->lock, flags);
		return;
	}

	zbud_unfile(pool, frame);
	buddy->size = 0;
	if (!zbud_frame_zpages(frame) &&
	    pool->stats.unused >= pool->max_unused) {
		pool->stats.raw_pages--;
		release = true;
	} else {
		zbud_file(pool, frame);
	}
	spin_unlock_irqrestore(&pool->lock, flags);

	if (release)
		free_page((unsigned long)frame);
}

/*
 * After the evict calls: give the frame's page back if it is empty, else
 * put it back on its lists (see "Eviction" above).  Returns whether the
 * page was given back.
 */
static bool zbud_settle_evicted(struct zbud_pool *pool,
				struct zbud_frame *frame)
{
	bool empty;
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	frame->evicting = false;
	pool->stats.evicting--;
	empty = !zbud_frame_zpages(frame);
	if (empty) {
		pool->stats.raw_pages--;
		pool->stats.evicted_raw++;
	} else {
		pool->stats.evict_kept++;
		zbud_file(pool, frame);
	}
	spin_unlock_irqrestore(&pool->lock, flags);

	if (empty)
		free_page((unsigned long)frame);
	return empty;
}

/**
 * zbud_shrink - give frames back to the page allocator
 * @pool:	the pool
 * @nr:		frames wanted
 *
 * Frees empty frames first, then evicts the zpages of unbuddied frames,
 * then of buddied frames, the least recently filled first, through
 * ops->evict.  See "Eviction" above.  A frame that keeps a zpage owned
 * elsewhere is not counted; at most 2 * @nr frames are tried, so a pool
 * whose frames are all busy cannot keep the caller looping.
 *
 * Context: any context in which ops->evict may run; takes the pool
 * lock, but never while calling ops->evict.
 * Return: the number of frames given back to the page allocator.
 */
unsigned long zbud_shrink(struct zbud_pool *pool, unsigned long nr)
{
	struct zbud_bref brefs[2];
	unsigned long handles[2];
	struct zbud_frame *frame;
	unsigned long max_tries = nr > ULONG_MAX / 2 ? ULONG_MAX : 2 * nr;
	unsigned long tries = 0;
	unsigned long done = 0;
	unsigned long flags;
	unsigned int n, bud;

	while (done < nr && tries++ < max_tries) {
		spin_lock_irqsave(&pool->lock, flags);
		frame = list_first_entry_or_null(&pool->unused,
						 struct zbud_frame, list);
		if (frame) {
			zbud_unfile(pool, frame);
			pool->stats.raw_pages--;
			pool->stats.evicted_raw++;
			spin_unlock_irqrestore(&pool->lock, flags);
			free_page((unsigned long)frame);
			done++;
			continue;
		}

		frame = list_first_entry_or_null(&pool->lru_unbuddied,
						 struct zbud_frame, lru);
		if (frame) {
			pool->stats.evicted_unbuddied++;
		} else {
			frame = list_first_entry_or_null(&pool->lru_buddied,
							 struct zbud_frame,
							 lru);
			if (!frame) {
				spin_unlock_irqrestore(&pool->lock, flags);
				break;
			}
			pool->stats.evicted_buddied++;
		}

		zbud_unfile(pool, frame);
		frame->evicting = true;
		pool->stats.evicting++;
		n = 0;
		for (bud = 0; bud < 2; bud++) {
			if (!frame->buddy[bud].size)
				continue;
			brefs[n] = frame->buddy[bud].bref;
			handles[n] = (unsigned long)frame | bud;
			n++;
		}
		spin_unlock_irqrestore(&pool->lock, flags);

		/* Only the shrinker frees an evicting frame: it stays. */
		for (bud = 0; bud < n; bud++)
			pool->ops->evict(pool, &brefs[bud], handles[bud]);
		if (zbud_settle_evicted(pool, frame))
			done++;
	}
	return done;
}

/**
 * zbud_reclaimable - frames zbud_shrink() could free now
 * @pool:	the pool
 *
 * Return: the number of frames that are not being evicted already.
 */
unsigned long zbud_reclaimable(struct zbud_pool *pool)
{
	unsigned long raw = READ_ONCE(pool->stats.raw_pages);
	unsigned long evicting = READ_ONCE(pool->stats.evicting);

	return raw > evicting ? raw - evicting : 0;
}

/**
 * zbud_get_stats - read a pool's counters
 * @pool:	the pool
 * @stats:	receives a consistent snapshot
 */
void zbud_get_stats(struct zbud_pool *pool, struct zbud_stats *stats)
{
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	*stats = pool->stats;
	spin_unlock_irqrestore(&pool->lock, flags);
}

/**
 * zbud_unbuddied_counts - how full the unbuddied frames are
 * @pool:	the pool
 * @counts:	ZBUD_NCHUNKS entries; entry i receives the number of
 *		unbuddied frames with i free chunks
 */
void zbud_unbuddied_counts(struct zbud_pool *pool, unsigned long *counts)
{
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	memcpy(counts, pool->unbuddied_count, sizeof(pool->unbuddied_count));
	spin_unlock_irqrestore(&pool->lock, flags);
}

/**
 * zbud_cumul_chunk_counts - sizes of the zpages ever stored
 * @pool:	the pool
 * @counts:	ZBUD_NCHUNKS entries; entry i receives the number of
 *		zpages stored that took i chunks
 */
void zbud_cumul_chunk_counts(struct zbud_pool *pool, unsigned long *counts)
{
	unsigned long flags;

	spin_lock_irqsave(&pool->lock, flags);
	memcpy(counts, pool->chunk_count, sizeof(pool->chunk_count));
	spin_unlock_irqrestore(&pool->lock, flags);
}

/**
 * zbud_usable_chunks - chunks of a frame available to zpages
 *
 * Return: the number; histogram entries above it are always zero.
 */
unsigned int zbud_usable_chunks(void)
{
	return ZBUD_USABLE_CHUNKS;
}

/**
 * zbud_handle_page - the frame of a zpage
 * @handle:	the zpage
 *
 * Return: the page of its frame.
 */
struct page *zbud_handle_page(unsigned long handle)
{
	return virt_to_page(zbud_handle_frame(handle));
}

/**
 * zbud_handle_offset - where a zpage's data starts in its frame
 * @handle:	the zpage, owned by the caller
 *
 * Return: the offset in bytes.
 */
unsigned int zbud_handle_offset(unsigned long handle)
{
	unsigned int size;

	return (const u8 *)zbud_data(handle, &size) -
	       (const u8 *)zbud_handle_frame(handle);
}

/**
 * zbud_create_pool - create an empty pool
 * @ops:	the user's callbacks
 * @max_unused:	empty frames to keep for reuse
 *
 * Context: process context, may sleep.
 * Return: the pool, or NULL.
 */
struct zbud_pool *zbud_create_pool(const struct zbud_ops *ops,
				   unsigned int max_unused)
{
	struct zbud_pool *pool;
	unsigned int i;

	BUILD_BUG_ON(2 * ZBUD_HDR_CHUNKS >= ZBUD_NCHUNKS);

	pool = kzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return NULL;
	spin_lock_init(&pool->lock);
	pool->ops = ops;
	pool->max_unused = max_unused;
	for (i = 0; i < ZBUD_NCHUNKS; i++)
		INIT_LIST_HEAD(&pool->unbuddied[i]);
	INIT_LIST_HEAD(&pool->lru_unbuddied);
	INIT_LIST_HEAD(&pool->lru_buddied);
	INIT_LIST_HEAD(&pool->unused);
	return pool;
}

/**
 * zbud_destroy_pool - free a pool
 * @pool:	the pool, whose zpages must all have been freed
 *
 * Context: process context.
 */
void zbud_destroy_pool(struct zbud_pool *pool)
{
	struct zbud_frame *frame, *next;

	if (!pool)
		return;
	list_for_each_entry_safe(frame, next, &pool->unused, list) {
		list_del(&frame->list);
		pool->stats.raw_pages--;
		free_page((unsigned long)frame);
	}
	WARN_ON(pool->stats.raw_pages || pool->stats.zpages);
	kfree(pool);
}
