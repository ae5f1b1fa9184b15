// SPDX-License-Identifier: GPL-2.0-only
/*
 * tmem.c - generic transcendent memory ("tmem") layer of kztmem
 *
 * A pool hashes its objects by object id into TMEM_HASH_BUCKETS buckets;
 * each bucket keeps its objects in an rbtree sorted by id.  Each object
 * keeps its pages in an index tree of struct tmem_objnode, 64 slots per
 * node, whose lowest level holds the PAM descriptors (pampds).
 *
 * Operations: put (store a page, replacing any page at that index),
 * get (copy a page out; on an ephemeral pool this also forgets it),
 * flush_page, flush_range (the pages of an object in an index range),
 * flush_object, and flushing or destroying a whole pool.
 *
 * Locking
 * -------
 * tmem_hashbucket.lock protects the bucket's object tree, every object
 * linked on it and the index trees of those objects (nodes, slots and
 * counters).  put, get, flush_page and evict_page take exactly one bucket
 * lock.  flush_object and the pool-wide flush unlink objects under the
 * bucket lock and then tear them down with no lock held: an unlinked
 * object is reachable by nobody else.  flush_range takes at most
 * TMEM_FLUSH_BATCH pages out per hold of the bucket lock and frees them
 * after dropping it.  These three may sleep between pages, so that no
 * file, however large, keeps a CPU busy for long: their callers
 * (truncation, invalidation, swapoff, unmount) run in process context.
 * Cleancache calls the page operations with interrupts disabled, under
 * the mapping's i_pages lock, which is also taken from interrupt context;
 * so the bucket lock is taken with spin_lock_irqsave() everywhere, or
 * lockdep would rightly see an interrupt-safe lock (i_pages) nest around
 * an interrupt-unsafe one.
 *
 * Callbacks and what they may do:
 * - pamops->create runs before any bucket lock is taken, so a PAM may
 *   compress, use per-CPU buffers and allocate in it.
 * - pamops->hold and pamops->free, and all hostops, may run under a
 *   bucket lock and must not sleep.
 * - the @want of tmem_flush_page_if() runs under the bucket lock and
 *   only reads the pampd.
 * - pamops->get_data never runs under a bucket lock: a get on an
 *   ephemeral pool takes the pampd out of its slot first, a get on a
 *   persistent pool pins it with pamops->hold under the lock and reads
 *   it after dropping the lock, so that decompression does not run
 *   with interrupts off.  A PAM without hold gets the old behaviour
 *   (get_data under the lock); kztmem's PAMs all have it.
 *
 * Lock order:
 *   tmem_hashbucket.lock
 *     -> locks internal to a PAM (such as xv_pool.lock)
 *       -> the page and slab allocators
 * A PAM must never call into tmem while holding one of its own locks.
 *
 * A PAM shrinker (eviction "from the bottom up", from a PAM page back to
 * the tmem entries that point into it) walks that order backwards, which
 * is how the origin of this driver raced.  A shrinker therefore must not
 * wait for a bucket lock while it holds a PAM lock.  It picks victims
 * under its own lock and marks them so that no concurrent free can reuse
 * them, records the (pool, oid, index) back references that create()
 * was given, drops its lock, and only then removes each entry with
 * tmem_evict_page(), which takes the bucket lock and removes the entry
 * only if its slot still holds the victim pampd (a concurrent put may
 * have replaced it, a get or flush may have taken it out).  zbud.c does
 * exactly this; its comment describes the ownership rules that make it
 * safe.
 *
 * Ownership of a pampd: tmem owns it while it sits in a slot.  Whoever
 * takes it out of the slot under the bucket lock (get, flush, a put that
 * replaces it, evict_page) owns it from then on and is the only one to
 * call pamops->get_data and pamops->free on it.  The one exception is a
 * persistent get: it takes a reference with pamops->hold while the
 * pampd is in its slot and drops it with pamops->free when done, so a
 * PAM with hold counts references and frees on the last free.
 */

#include <linux/bug.h>
#include <linux/err.h>
#include <linux/hash.h>
#include <linux/mm.h>
#include <linux/rbtree.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "tmem.h"

/*
 * Object ids
 */

static int tmem_oid_compare(const struct tmem_oid *a,
			    const struct tmem_oid *b)
{
	int i;

	for (i = TMEM_OID_WORDS - 1; i >= 0; i--) {
		if (a->oid[i] < b->oid[i])
			return -1;
		if (a->oid[i] > b->oid[i])
			return 1;
	}
	return 0;
}

static struct tmem_hashbucket *tmem_oid_bucket(struct tmem_pool *pool,
					       const struct tmem_oid *oid)
{
	u64 key = oid->oid[0] ^ oid->oid[1] ^ oid->oid[2];

	return &pool->hashbucket[hash_64(key, TMEM_HASH_BUCKET_BITS)];
}

/*
 * Index trees.  All of these run under the object's bucket lock.
 */

static unsigned long tmem_objnode_maxindex(unsigned int height)
{
	unsigned int bits = height * TMEM_OBJNODE_TREE_MAP_SHIFT;

	if (bits >= BITS_PER_LONG)
		return ULONG_MAX;
	return (1UL << bits) - 1;
}

static unsigned int tmem_objnode_offset(pgoff_t index, unsigned int height)
{
	unsigned int shift = (height - 1) * TMEM_OBJNODE_TREE_MAP_SHIFT;

	return (index >> shift) & TMEM_OBJNODE_TREE_MAP_MASK;
}

static struct tmem_objnode *tmem_objnode_alloc(struct tmem_obj *obj)
{
	struct tmem_pool *pool = obj->pool;
	struct tmem_objnode *node;

	node = pool->hostops->objnode_alloc(pool);
	if (!node)
		return NULL;
	memset(node, 0, sizeof(*node));
	node->obj = obj;
	obj->objnode_count++;
	return node;
}

static void tmem_objnode_free(struct tmem_obj *obj, struct tmem_objnode *node)
{
	struct tmem_pool *pool = obj->pool;

	WARN_ON(node->obj != obj);
	obj->objnode_count--;
	pool->hostops->objnode_free(pool, node);
}

/*
 * Find the slot holding the pampd at @index.  Returns it and its node
 * in @leaf, or NULL if there is no page at @index.
 */
static void **tmem_objnode_lookup(struct tmem_obj *obj, pgoff_t index,
				  struct tmem_objnode **leaf)
{
	unsigned int height = obj->objnode_tree_height;
	struct tmem_objnode *node = obj->objnode_tree_root;
	void **slot;

	if (!node || index > tmem_objnode_maxindex(height))
		return NULL;

	for (;;) {
		slot = &node->slots[tmem_objnode_offset(index, height)];
		if (height == 1)
			break;
		node = *slot;
		if (!node)
			return NULL;
		height--;
	}
	if (!*slot)
		return NULL;
	*leaf = node;
	return slot;
}

/*
 * Free the empty nodes on the path to @index, from the bottom up.  Used
 * after a page was removed and after an insertion failed half-way.
 */
static void tmem_objnode_trim(struct tmem_obj *obj, pgoff_t index)
{
	struct tmem_objnode *path[TMEM_OBJNODE_TREE_MAX_HEIGHT];
	unsigned int offset[TMEM_OBJNODE_TREE_MAX_HEIGHT];
	unsigned int height = obj->objnode_tree_height;
	struct tmem_objnode *node = obj->objnode_tree_root;
	int depth = 0;

	if (!node) {
		obj->objnode_tree_height = 0;
		return;
	}
	if (index > tmem_objnode_maxindex(height))
		return;

	for (;;) {
		path[depth] = node;
		offset[depth] = tmem_objnode_offset(index, height);
		depth++;
		if (height == 1)
			break;
		node = node->slots[offset[depth - 1]];
		if (!node)
			break;
		height--;
	}

	while (depth-- > 0) {
		node = path[depth];
		if (node->slots_in_use)
			break;
		tmem_objnode_free(obj, node);
		if (depth) {
			path[depth - 1]->slots[offset[depth - 1]] = NULL;
			path[depth - 1]->slots_in_use--;
		} else {
			obj->objnode_tree_root = NULL;
			obj->objnode_tree_height = 0;
		}
	}
}

/* Insert @pampd at @index, which must be empty. */
static int tmem_objnode_insert(struct tmem_obj *obj, pgoff_t index,
			       void *pampd)
{
	struct tmem_objnode *node, *parent = NULL;
	unsigned int height;
	void **slot;

	if (!obj->objnode_tree_root) {
		obj->objnode_tree_height = 1;
		while (index > tmem_objnode_maxindex(obj->objnode_tree_height))
			obj->objnode_tree_height++;
	}

	/* Grow the tree at the top until @index fits. */
	while (index > tmem_objnode_maxindex(obj->objnode_tree_height)) {
		node = tmem_objnode_alloc(obj);
		if (!node)
			return -ENOMEM;
		node->slots[0] = obj->objnode_tree_root;
		node->slots_in_use = 1;
		obj->objnode_tree_root = node;
		obj->objnode_tree_height++;
	}

	slot = (void **)&obj->objnode_tree_root;
	for (height = obj->objnode_tree_height; height > 0; height--) {
		if (!*slot) {
			node = tmem_objnode_alloc(obj);
			if (!node)
				goto nomem;
			*slot = node;
			if (parent)
				parent->slots_in_use++;
		}
		parent = *slot;
		slot = &parent->slots[tmem_objnode_offset(index, height)];
	}

	if (WARN_ON(*slot))
		return -EEXIST;
	*slot = pampd;
	parent->slots_in_use++;
	obj->pampd_count++;
	return 0;

nomem:
	tmem_objnode_trim(obj, index);
	return -ENOMEM;
}

/* Remove and return the pampd at @index, or NULL. */
static void *tmem_objnode_remove(struct tmem_obj *obj, pgoff_t index)
{
	struct tmem_objnode *leaf;
	void **slot;
	void *pampd;

	slot = tmem_objnode_lookup(obj, index, &leaf);
	if (!slot)
		return NULL;
	pampd = *slot;
	*slot = NULL;
	leaf->slots_in_use--;
	obj->pampd_count--;
	tmem_objnode_trim(obj, index);
	return pampd;
}

/*
 * Free a subtree of @height levels and every page in it.  The object is
 * unlinked, so no lock is held; a file may have hundreds of thousands of
 * pages, so the CPU is offered up after every leaf node.
 */
static void tmem_objnode_destroy(struct tmem_obj *obj,
				 struct tmem_objnode *node,
				 unsigned int height)
{
	struct tmem_pool *pool = obj->pool;
	unsigned int i;

	for (i = 0; i < TMEM_OBJNODE_TREE_MAP_SIZE; i++) {
		if (!node->slots[i])
			continue;
		if (height == 1) {
			pool->pamops->free(pool, node->slots[i]);
			obj->pampd_count--;
		} else {
			tmem_objnode_destroy(obj, node->slots[i], height - 1);
		}
	}
	tmem_objnode_free(obj, node);
	if (height == 1)
		cond_resched();
}

/*
 * Find the page with the lowest index at or above @from in the subtree
 * of @height levels at @node, whose first index is @base.  Returns its
 * pampd and sets @index, or returns NULL.  Slots that can hold no index
 * (the unused top of a full-height tree) are always empty, so @base of
 * a non-empty slot never overflows.
 */
static void *tmem_objnode_find(struct tmem_objnode *node, unsigned int height,
			       pgoff_t base, pgoff_t from, pgoff_t *index)
{
	unsigned int shift = (height - 1) * TMEM_OBJNODE_TREE_MAP_SHIFT;
	unsigned int i = 0;
	pgoff_t slot_base;
	void *found;

	if (from > base)
		i = (from - base) >> shift;
	for (; i < TMEM_OBJNODE_TREE_MAP_SIZE; i++) {
		if (!node->slots[i])
			continue;
		slot_base = base + ((pgoff_t)i << shift);
		if (height == 1) {
			*index = slot_base;
			return node->slots[i];
		}
		found = tmem_objnode_find(node->slots[i], height - 1, slot_base,
					  max(from, slot_base), index);
		if (found)
			return found;
	}
	return NULL;
}

/*
 * Take up to @max pages with indices in [*@next, @end] out of @obj into
 * @pampds.  *@next moves past the last page taken.  Returns how many
 * were taken; fewer than @max means the range is done.
 */
static unsigned int tmem_objnode_take_range(struct tmem_obj *obj,
					    pgoff_t *next, pgoff_t end,
					    void **pampds, unsigned int max)
{
	unsigned int n = 0;
	pgoff_t index;

	while (n < max && obj->objnode_tree_root) {
		if (!tmem_objnode_find(obj->objnode_tree_root,
				       obj->objnode_tree_height, 0, *next,
				       &index) || index > end)
			break;
		pampds[n++] = tmem_objnode_remove(obj, index);
		if (index == end)
			break;
		*next = index + 1;
	}
	return n;
}

/*
 * Objects
 */

static struct tmem_obj *tmem_obj_find(struct tmem_hashbucket *hb,
				      const struct tmem_oid *oid)
{
	struct rb_node *rb = hb->obj_rb_root.rb_node;
	struct tmem_obj *obj;
	int cmp;

	while (rb) {
		obj = rb_entry(rb, struct tmem_obj, rb_tree_node);
		cmp = tmem_oid_compare(oid, &obj->oid);
		if (cmp < 0)
			rb = rb->rb_left;
		else if (cmp > 0)
			rb = rb->rb_right;
		else
			return obj;
	}
	return NULL;
}

/* Allocate an empty object for @oid and link it; NULL on failure. */
static struct tmem_obj *tmem_obj_new(struct tmem_pool *pool,
				     struct tmem_hashbucket *hb,
				     const struct tmem_oid *oid)
{
	struct rb_node **link = &hb->obj_rb_root.rb_node;
	struct rb_node *parent = NULL;
	struct tmem_obj *obj, *this;

	obj = pool->hostops->obj_alloc(pool);
	if (!obj)
		return NULL;
	memset(obj, 0, sizeof(*obj));
	obj->oid = *oid;
	obj->pool = pool;

	while (*link) {
		parent = *link;
		this = rb_entry(parent, struct tmem_obj, rb_tree_node);
		if (tmem_oid_compare(oid, &this->oid) < 0)
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	rb_link_node(&obj->rb_tree_node, parent, link);
	rb_insert_color(&obj->rb_tree_node, &hb->obj_rb_root);
	atomic_long_inc(&pool->obj_count);
	return obj;
}

static void tmem_obj_free(struct tmem_pool *pool, struct tmem_obj *obj)
{
	WARN_ON(obj->pampd_count || obj->objnode_count);
	atomic_long_dec(&pool->obj_count);
	pool->hostops->obj_free(pool, obj);
}

/* Free an unlinked object, its index tree and all its pages. */
static void tmem_obj_destroy(struct tmem_pool *pool, struct tmem_obj *obj)
{
	if (obj->objnode_tree_root)
		tmem_objnode_destroy(obj, obj->objnode_tree_root,
				     obj->objnode_tree_height);
	obj->objnode_tree_root = NULL;
	obj->objnode_tree_height = 0;
	tmem_obj_free(pool, obj);
}

/*
 * Take the page at @index out of its object, freeing the object if that
 * was its last page.  Called with the bucket lock held.
 */
static void *tmem_pampd_remove(struct tmem_pool *pool,
			       struct tmem_hashbucket *hb,
			       const struct tmem_oid *oid, pgoff_t index)
{
	struct tmem_obj *obj;
	void *pampd;

	obj = tmem_obj_find(hb, oid);
	if (!obj)
		return NULL;
	pampd = tmem_objnode_remove(obj, index);
	if (pampd && !obj->pampd_count) {
		rb_erase(&obj->rb_tree_node, &hb->obj_rb_root);
		tmem_obj_free(pool, obj);
	}
	return pampd;
}

/*
 * The operations
 */

/**
 * tmem_put_pampd - store a page the PAM has already made a pampd of
 * @pool:	pool to store into
 * @oid:	object id
 * @index:	index in the object
 * @pampd:	what pamops->create() (or the PAM by other means) made of
 *		the page; tmem owns it from here on, stored or freed
 *
 * A page already stored at @index is replaced.  Lets a PAM do the costly
 * part of a put (compressing, allocating) in a context of its choosing
 * and only insert the result where the caller must not linger.
 *
 * Context: any; takes a bucket lock, and calls pamops->free() on the
 * replaced page, or on @pampd when it cannot be stored.
 * Return: 0 on success, or -ENOMEM.
 */
int tmem_put_pampd(struct tmem_pool *pool, const struct tmem_oid *oid,
		   pgoff_t index, void *pampd)
{
	struct tmem_hashbucket *hb = tmem_oid_bucket(pool, oid);
	struct tmem_objnode *leaf;
	struct tmem_obj *obj;
	void *old = NULL;
	unsigned long flags;
	void **slot;
	int ret;

	spin_lock_irqsave(&hb->lock, flags);
	obj = tmem_obj_find(hb, oid);
	if (obj) {
		slot = tmem_objnode_lookup(obj, index, &leaf);
		if (slot) {
			old = *slot;
			*slot = pampd;
			goto out_unlock;
		}
	} else {
		obj = tmem_obj_new(pool, hb, oid);
		if (!obj) {
			ret = -ENOMEM;
			goto out_free;
		}
	}

	ret = tmem_objnode_insert(obj, index, pampd);
	if (ret) {
		if (!obj->pampd_count) {
			rb_erase(&obj->rb_tree_node, &hb->obj_rb_root);
			tmem_obj_free(pool, obj);
		}
		goto out_free;
	}

out_unlock:
	spin_unlock_irqrestore(&hb->lock, flags);
	if (old)
		pool->pamops->free(pool, old);
	return 0;

out_free:
	spin_unlock_irqrestore(&hb->lock, flags);
	pool->pamops->free(pool, pampd);
	return ret;
}

/**
 * tmem_put - store a page
 * @pool:	pool to store into
 * @oid:	object id
 * @index:	index in the object
 * @page:	the data
 *
 * A page already stored at @index is replaced.  When the put fails, any
 * page stored at @index before is flushed as well, so that a later get
 * can never return stale data.
 *
 * Context: whatever pamops->create() allows; takes a bucket lock.
 * Return: 0 on success, or the error from the PAM or -ENOMEM.
 */
int tmem_put(struct tmem_pool *pool, const struct tmem_oid *oid,
	     pgoff_t index, struct page *page)
{
	void *pampd = pool->pamops->create(pool, oid, index, page);

	if (IS_ERR_OR_NULL(pampd)) {
		tmem_flush_page(pool, oid, index);
		return pampd ? PTR_ERR(pampd) : -ENOMEM;
	}
	return tmem_put_pampd(pool, oid, index, pampd);
}

/**
 * tmem_get - copy a stored page out
 * @pool:	pool to look in
 * @oid:	object id
 * @index:	index in the object
 * @page:	receives the data
 *
 * On a persistent pool the page stays stored; on an ephemeral pool a
 * successful get is exclusive: the page is forgotten.  Either way the
 * data is copied out (decompressed) after the bucket lock is dropped,
 * when the PAM has pamops->hold.
 *
 * Context: whatever pamops->get_data() allows.
 * Return: 0 on success, -ENOENT when nothing is stored at @index, or
 * the error from pamops->get_data().
 */
int tmem_get(struct tmem_pool *pool, const struct tmem_oid *oid,
	     pgoff_t index, struct page *page)
{
	struct tmem_hashbucket *hb = tmem_oid_bucket(pool, oid);
	struct tmem_objnode *leaf;
	struct tmem_obj *obj;
	unsigned long flags;
	void **slot;
	void *pampd;
	int ret;

	spin_lock_irqsave(&hb->lock, flags);
	if (tmem_pool_persistent(pool)) {
		const struct tmem_pamops *ops = pool->pamops;

		ret = -ENOENT;
		pampd = NULL;
		obj = tmem_obj_find(hb, oid);
		slot = obj ? tmem_objnode_lookup(obj, index, &leaf) : NULL;
		if (slot && ops->hold) {
			pampd = *slot;
			ops->hold(pool, pampd);
		} else if (slot) {
			ret = ops->get_data(pool, *slot, page);
		}
		spin_unlock_irqrestore(&hb->lock, flags);
		if (pampd) {
			ret = ops->get_data(pool, pampd, page);
			ops->free(pool, pampd);
		}
		return ret;
	}

	pampd = tmem_pampd_remove(pool, hb, oid, index);
	spin_unlock_irqrestore(&hb->lock, flags);
	if (!pampd)
		return -ENOENT;
	ret = pool->pamops->get_data(pool, pampd, page);
	pool->pamops->free(pool, pampd);
	return ret;
}

/**
 * tmem_flush_page - forget one page
 * @pool:	the pool
 * @oid:	object id
 * @index:	index in the object
 *
 * Return: 0 if a page was flushed, -ENOENT if there was none.
 */
int tmem_flush_page(struct tmem_pool *pool, const struct tmem_oid *oid,
		    pgoff_t index)
{
	struct tmem_hashbucket *hb = tmem_oid_bucket(pool, oid);
	unsigned long flags;
	void *pampd;

	spin_lock_irqsave(&hb->lock, flags);
	pampd = tmem_pampd_remove(pool, hb, oid, index);
	spin_unlock_irqrestore(&hb->lock, flags);
	if (!pampd)
		return -ENOENT;
	pool->pamops->free(pool, pampd);
	return 0;
}

/**
 * tmem_flush_page_if - forget one page if its pampd is one the caller wants gone
 * @pool:	the pool
 * @oid:	object id
 * @index:	index in the object
 * @want:	asked about the pampd at @index under the bucket lock (it
 *		must not sleep, and must only look): true to flush it
 *
 * For a PAM whose choice depends on what it stored, e.g. how many bytes
 * a copy holds; the pampd is looked up and removed under one lock hold,
 * so @want sees the pampd that is freed.
 *
 * Return: 0 if a page was flushed, -ENOENT if there was none, -EBUSY if
 * @want kept it.
 */
int tmem_flush_page_if(struct tmem_pool *pool, const struct tmem_oid *oid,
		       pgoff_t index, bool (*want)(void *pampd))
{
	struct tmem_hashbucket *hb = tmem_oid_bucket(pool, oid);
	struct tmem_objnode *leaf;
	struct tmem_obj *obj;
	unsigned long flags;
	void *found = NULL;
	int ret = -ENOENT;
	void **slot;

	spin_lock_irqsave(&hb->lock, flags);
	obj = tmem_obj_find(hb, oid);
	slot = obj ? tmem_objnode_lookup(obj, index, &leaf) : NULL;
	if (slot && want(*slot))
		found = tmem_pampd_remove(pool, hb, oid, index);
	else if (slot)
		ret = -EBUSY;
	spin_unlock_irqrestore(&hb->lock, flags);
	if (!found)
		return ret;
	pool->pamops->free(pool, found);
	return 0;
}

/**
 * tmem_evict_page - forget one page if it still is a given pampd
 * @pool:	the pool
 * @oid:	object id
 * @index:	index in the object
 * @pampd:	the pampd the caller expects at @index
 *
 * For a PAM shrinker that found @pampd through a back reference and
 * holds none of its own locks: the entry is removed, and @pampd freed
 * through pamops->free, only if the slot at @index holds @pampd.
 *
 * Return: 0 if @pampd was evicted, -ENOENT if the slot is empty or holds
 * another pampd (its owner then is someone else).
 */
int tmem_evict_page(struct tmem_pool *pool, const struct tmem_oid *oid,
		    pgoff_t index, void *pampd)
{
	struct tmem_hashbucket *hb = tmem_oid_bucket(pool, oid);
	struct tmem_objnode *leaf;
	struct tmem_obj *obj;
	unsigned long flags;
	void *found = NULL;
	void **slot;

	spin_lock_irqsave(&hb->lock, flags);
	obj = tmem_obj_find(hb, oid);
	if (obj) {
		slot = tmem_objnode_lookup(obj, index, &leaf);
		if (slot && *slot == pampd)
			found = tmem_pampd_remove(pool, hb, oid, index);
	}
	spin_unlock_irqrestore(&hb->lock, flags);
	if (!found)
		return -ENOENT;
	pool->pamops->free(pool, found);
	return 0;
}

/**
 * tmem_flush_object - forget every page of an object
 * @pool:	the pool
 * @oid:	object id
 *
 * The object is unlinked under its bucket lock, so from then on no get
 * finds it and a put starts a new object; its pages are freed after
 * the lock is dropped.
 *
 * Context: process context, may sleep.
 * Return: 0 if the object existed, -ENOENT if not.
 */
int tmem_flush_object(struct tmem_pool *pool, const struct tmem_oid *oid)
{
	struct tmem_hashbucket *hb = tmem_oid_bucket(pool, oid);
	struct tmem_obj *obj;
	unsigned long flags;

	might_sleep();
	spin_lock_irqsave(&hb->lock, flags);
	obj = tmem_obj_find(hb, oid);
	if (obj)
		rb_erase(&obj->rb_tree_node, &hb->obj_rb_root);
	spin_unlock_irqrestore(&hb->lock, flags);
	if (!obj)
		return -ENOENT;
	tmem_obj_destroy(pool, obj);
	return 0;
}

/* Pages a range flush takes out under one hold of a bucket lock */
#define TMEM_FLUSH_BATCH	TMEM_OBJNODE_TREE_MAP_SIZE

/**
 * tmem_flush_range - forget the pages of an object in an index range
 * @pool:	the pool
 * @oid:	object id
 * @start:	first index
 * @end:	last index, inclusive
 *
 * Pages are taken out of the object in batches, each under one hold of
 * the bucket lock, and freed after it is dropped, so that the time
 * spent with interrupts off stays bounded whatever the range.  Only the
 * pages present are visited, not every index of the range.
 *
 * Context: process context, may sleep.
 * Return: the number of pages flushed.
 */
unsigned long tmem_flush_range(struct tmem_pool *pool,
			       const struct tmem_oid *oid,
			       pgoff_t start, pgoff_t end)
{
	struct tmem_hashbucket *hb = tmem_oid_bucket(pool, oid);
	void *pampds[TMEM_FLUSH_BATCH];
	unsigned long flushed = 0;
	unsigned int n, i;
	struct tmem_obj *obj;
	unsigned long flags;
	pgoff_t next = start;

	might_sleep();
	if (start > end)
		return 0;
	do {
		n = 0;
		spin_lock_irqsave(&hb->lock, flags);
		obj = tmem_obj_find(hb, oid);
		if (obj) {
			n = tmem_objnode_take_range(obj, &next, end, pampds,
						    TMEM_FLUSH_BATCH);
			if (!obj->pampd_count) {
				rb_erase(&obj->rb_tree_node, &hb->obj_rb_root);
				tmem_obj_free(pool, obj);
			}
		}
		spin_unlock_irqrestore(&hb->lock, flags);

		for (i = 0; i < n; i++)
			pool->pamops->free(pool, pampds[i]);
		flushed += n;
		cond_resched();
	} while (n == TMEM_FLUSH_BATCH);
	return flushed;
}

/**
 * tmem_flush_pool - forget every page of a pool
 * @pool:	the pool, which stays usable
 *
 * Puts that race with the flush may or may not survive it.
 *
 * Context: process context, may sleep.
 * Return: the number of objects flushed.
 */
unsigned long tmem_flush_pool(struct tmem_pool *pool)
{
	struct tmem_hashbucket *hb;
	struct tmem_obj *obj, *next;
	unsigned long count = 0;
	unsigned long flags;
	struct rb_root root;
	unsigned int i;

	might_sleep();
	for (i = 0; i < TMEM_HASH_BUCKETS; i++) {
		hb = &pool->hashbucket[i];
		spin_lock_irqsave(&hb->lock, flags);
		root = hb->obj_rb_root;
		hb->obj_rb_root = RB_ROOT;
		spin_unlock_irqrestore(&hb->lock, flags);

		rbtree_postorder_for_each_entry_safe(obj, next, &root,
						     rb_tree_node) {
			tmem_obj_destroy(pool, obj);
			count++;
		}
		cond_resched();
	}
	return count;
}

/**
 * tmem_pool_create - create an empty pool
 * @flags:	TMEM_POOL_PERSIST for a persistent pool, else ephemeral
 * @pamops:	the PAM storing the pool's pages
 * @hostops:	allocator for the pool's metadata
 * @private:	owner's data, left in pool->private
 *
 * Context: process context, may sleep.
 * Return: the pool, ERR_PTR(-EOPNOTSUPP) for a shared pool, or
 * ERR_PTR(-ENOMEM).
 */
struct tmem_pool *tmem_pool_create(u32 flags,
				   const struct tmem_pamops *pamops,
				   const struct tmem_hostops *hostops,
				   void *private)
{
	struct tmem_pool *pool;
	unsigned int i;

	if (flags & ~(TMEM_POOL_PERSIST | TMEM_POOL_SHARED))
		return ERR_PTR(-EINVAL);
	if (flags & TMEM_POOL_SHARED)
		return ERR_PTR(-EOPNOTSUPP);

	pool = kvzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return ERR_PTR(-ENOMEM);
	pool->pamops = pamops;
	pool->hostops = hostops;
	pool->private = private;
	pool->flags = flags;
	atomic_long_set(&pool->obj_count, 0);
	for (i = 0; i < TMEM_HASH_BUCKETS; i++) {
		pool->hashbucket[i].obj_rb_root = RB_ROOT;
		spin_lock_init(&pool->hashbucket[i].lock);
	}
	return pool;
}

/**
 * tmem_destroy_pool - flush and free a pool
 * @pool:	the pool; nobody may use it concurrently or afterwards
 *
 * Context: process context, may sleep.
 */
void tmem_destroy_pool(struct tmem_pool *pool)
{
	if (!pool)
		return;
	tmem_flush_pool(pool);
	WARN_ON(atomic_long_read(&pool->obj_count));
	kvfree(pool);
}
