/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tmem.h - generic transcendent memory ("tmem") layer of kztmem
 *
 * tmem stores page-sized data by name: a pool, an object in the pool
 * named by a three-word object id, and an index in the object.  What is
 * stored for a page, and how, is up to a page-addressable memory ("PAM")
 * implementation plugged in per pool through struct tmem_pamops; tmem
 * only keeps the opaque descriptors ("pampd") it returns.  The memory
 * for tmem's own metadata comes from the host through struct
 * tmem_hostops.
 *
 * Pools are either ephemeral, whose pages may be dropped at any time and
 * are forgotten by a successful get, or persistent, whose pages stay
 * until flushed.  Pools are private to one client; shared pools are
 * reserved and not implemented.
 *
 * Locking, the ownership of pampds and how a PAM shrinker evicts pages
 * from the bottom up (tmem_evict_page()) are described at the top of
 * tmem.c; zbud.c follows that protocol.
 */
#ifndef _KZTMEM_TMEM_H
#define _KZTMEM_TMEM_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/math.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct page;

/* Pool flags */
#define TMEM_POOL_PERSIST	BIT(0)	/* persistent, else ephemeral */
#define TMEM_POOL_SHARED	BIT(1)	/* reserved, rejected for now */

#define TMEM_HASH_BUCKET_BITS	8
#define TMEM_HASH_BUCKETS	BIT(TMEM_HASH_BUCKET_BITS)

/* Index trees: 64 slots a node, enough levels for any pgoff_t. */
#define TMEM_OBJNODE_TREE_MAP_SHIFT	6
#define TMEM_OBJNODE_TREE_MAP_SIZE	BIT(TMEM_OBJNODE_TREE_MAP_SHIFT)
#define TMEM_OBJNODE_TREE_MAP_MASK	(TMEM_OBJNODE_TREE_MAP_SIZE - 1)
#define TMEM_OBJNODE_TREE_MAX_HEIGHT	\
	DIV_ROUND_UP(BITS_PER_LONG, TMEM_OBJNODE_TREE_MAP_SHIFT)

#define TMEM_OID_WORDS		3

/*
 * struct tmem_oid - object id, unique within a pool
 * @oid:	the id; compared as one number, oid[2] most significant
 */
struct tmem_oid {
	u64 oid[TMEM_OID_WORDS];
};

struct tmem_pool;

/*
 * struct tmem_objnode - interior or leaf node of an object's index tree
 * @obj:		owning object
 * @slots_in_use:	non-NULL entries in @slots
 * @slots:		child nodes, or pampds in the lowest level
 *
 * Protected by the lock of the hash bucket of @obj.
 */
struct tmem_objnode {
	struct tmem_obj *obj;
	unsigned int slots_in_use;
	void *slots[TMEM_OBJNODE_TREE_MAP_SIZE];
};

/*
 * struct tmem_obj - one object: pages of a pool with a common object id
 * @oid:		object id
 * @pool:		owning pool
 * @rb_tree_node:	node in the hash bucket's object tree
 * @objnode_tree_root:	root of the index tree, NULL when empty
 * @objnode_tree_height: levels in the index tree, 0 when empty
 * @objnode_count:	nodes in the index tree
 * @pampd_count:	pages in the object
 *
 * Protected by the lock of the hash bucket it is linked on.  An object
 * that has been unlinked belongs to whoever unlinked it.  An object with
 * no pages is freed at once.
 */
struct tmem_obj {
	struct tmem_oid oid;
	struct tmem_pool *pool;
	struct rb_node rb_tree_node;
	struct tmem_objnode *objnode_tree_root;
	unsigned int objnode_tree_height;
	unsigned long objnode_count;
	unsigned long pampd_count;
};

/*
 * struct tmem_hashbucket - objects whose id hashes to one bucket
 * @obj_rb_root:	objects, sorted by object id
 * @lock:		protects @obj_rb_root, every object on it and the
 *			index trees of those objects
 */
struct tmem_hashbucket {
	struct rb_root obj_rb_root;
	spinlock_t lock;	/* see above and tmem.c */
};

/*
 * struct tmem_pamops - a page-addressable memory implementation
 *
 * @create:	store a copy of @page and return its descriptor (pampd),
 *		or an ERR_PTR().  Called without tmem locks: it may
 *		compress and allocate, but it runs in whatever context
 *		tmem_put() was called in.  @oid and @index are passed so
 *		that the PAM can keep a back reference.
 * @get_data:	copy the data behind @pampd into @page; 0 or -errno.
 *		Called with no tmem lock held, in the context of
 *		tmem_get(); only a persistent PAM without @hold gets it
 *		under a bucket lock.
 * @hold:	optional, for persistent pools: take a reference to
 *		@pampd, called under the bucket lock (must not sleep), so
 *		that tmem_get() can read it after dropping the lock even
 *		if a flush or put takes it out of its slot meanwhile.
 *		tmem_get() drops the reference with @free.
 * @free:	free @pampd and what it holds, or, for a PAM with @hold,
 *		drop one reference and free it with the last.  May be
 *		called with a bucket lock held: must not sleep.
 *
 * create, hold and free may be called with interrupts disabled
 * (cleancache puts and invalidations).
 */
struct tmem_pamops {
	void *(*create)(struct tmem_pool *pool, const struct tmem_oid *oid,
			pgoff_t index, struct page *page);
	int (*get_data)(struct tmem_pool *pool, void *pampd,
			struct page *page);
	void (*hold)(struct tmem_pool *pool, void *pampd);
	void (*free)(struct tmem_pool *pool, void *pampd);
};

/*
 * struct tmem_hostops - memory for tmem's own metadata
 *
 * All four are called with a bucket lock held: they must not sleep.
 * tmem initializes what it gets; allocations may fail.
 */
struct tmem_hostops {
	struct tmem_obj *(*obj_alloc)(struct tmem_pool *pool);
	void (*obj_free)(struct tmem_pool *pool, struct tmem_obj *obj);
	struct tmem_objnode *(*objnode_alloc)(struct tmem_pool *pool);
	void (*objnode_free)(struct tmem_pool *pool,
			     struct tmem_objnode *objnode);
};

/*
 * struct tmem_pool - a pool of objects
 * @pamops:	how pages are stored
 * @hostops:	where metadata comes from
 * @private:	owner's data, untouched by tmem
 * @flags:	TMEM_POOL_*
 * @obj_count:	objects in the pool
 * @hashbucket:	objects, hashed by object id
 */
struct tmem_pool {
	const struct tmem_pamops *pamops;
	const struct tmem_hostops *hostops;
	void *private;
	u32 flags;
	atomic_long_t obj_count;
	struct tmem_hashbucket hashbucket[TMEM_HASH_BUCKETS];
};

static inline bool tmem_pool_persistent(const struct tmem_pool *pool)
{
	return pool->flags & TMEM_POOL_PERSIST;
}

struct tmem_pool *tmem_pool_create(u32 flags,
				   const struct tmem_pamops *pamops,
				   const struct tmem_hostops *hostops,
				   void *private);
void tmem_destroy_pool(struct tmem_pool *pool);
unsigned long tmem_flush_pool(struct tmem_pool *pool);

int tmem_put_pampd(struct tmem_pool *pool, const struct tmem_oid *oid,
		   pgoff_t index, void *pampd);
int tmem_put(struct tmem_pool *pool, const struct tmem_oid *oid,
	     pgoff_t index, struct page *page);
int tmem_get(struct tmem_pool *pool, const struct tmem_oid *oid,
	     pgoff_t index, struct page *page);
int tmem_flush_page(struct tmem_pool *pool, const struct tmem_oid *oid,
		    pgoff_t index);
int tmem_flush_page_if(struct tmem_pool *pool, const struct tmem_oid *oid,
		       pgoff_t index, bool (*want)(void *pampd));
int tmem_evict_page(struct tmem_pool *pool, const struct tmem_oid *oid,
		    pgoff_t index, void *pampd);
int tmem_flush_object(struct tmem_pool *pool, const struct tmem_oid *oid);
unsigned long tmem_flush_range(struct tmem_pool *pool,
			       const struct tmem_oid *oid,
			       pgoff_t start, pgoff_t end);

#endif /* _KZTMEM_TMEM_H */
