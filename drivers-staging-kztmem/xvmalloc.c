// SPDX-License-Identifier: GPL-2.0-only
/*
 * xvmalloc.c - kztmem's allocator for compressed pages
 *
 * kztmem keeps compressed swap pages of very different sizes, from a few
 * dozen bytes to nearly a page.  This allocator packs them into whole
 * pages with little waste and constant-time allocation and free, in the
 * manner of TLSF (two-level segregated fit):
 *
 * - Every page is cut into a chain of blocks.  A block is a 4-byte header
 *   followed by its payload; the chain covers the page exactly, so the
 *   next block's header follows the payload and the previous block is
 *   found through an offset kept in the header.  No block spans pages.
 *
 * - Free blocks are kept on XV_NUM_FREE_LISTS lists by payload size, one
 *   list per 8 bytes (list i holds sizes XV_MIN_ALLOC_SIZE + 8 * i up to
 *   7 bytes more).  The lists are doubly linked through the payload of
 *   the free blocks themselves, so free space costs no extra memory.
 *
 * - Two levels of bitmaps find a non-empty list quickly: a bit per list
 *   in slbitmap says the list has a block, and a bit per slbitmap word in
 *   flbitmap says that word is not zero.  A request looks at the smallest
 *   list whose blocks are all big enough and takes the next set bit.
 *
 * - A block that is much bigger than the request is split and the rest
 *   goes back on a free list.  A freed block is merged with free
 *   neighbours on both sides, and when the whole page is one free block
 *   again the page goes back to the page allocator.
 *
 * Alignment is 4 bytes (XV_ALIGN): headers hold two u16 fields and the
 * payload is opaque bytes.  The free-list links kept in a free payload
 * contain pointers, which may therefore be misaligned; they are always
 * copied with memcpy(), never dereferenced in place.
 *
 * Pages are mapped with kmap_local_page() for each access, so the pool
 * may use highmem pages.  Sizes and offsets are u16 in the headers,
 * which is enough for pages up to 64 KiB.
 */

#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/bug.h>
#include <linux/build_bug.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "xvmalloc.h"

/* Free lists are this many bytes apart. */
#define XV_FL_DELTA_SHIFT	3
#define XV_FL_DELTA		BIT(XV_FL_DELTA_SHIFT)
#define XV_NUM_FREE_LISTS	\
	((XV_MAX_ALLOC_SIZE - XV_MIN_ALLOC_SIZE) / XV_FL_DELTA + 1)
#define XV_NUM_SL_WORDS		BITS_TO_LONGS(XV_NUM_FREE_LISTS)

/* Low bits of xv_block_header.prev, free because offsets are aligned. */
#define XV_BLOCK_FREE		0x1
#define XV_FLAGS_MASK		(XV_ALIGN - 1)

/*
 * struct xv_block_header - the header in front of every block
 * @size:	payload bytes after the header, a multiple of XV_ALIGN
 * @prev:	offset in the page of the previous block's header (0 and
 *		meaningless for the block at offset 0), with XV_BLOCK_FREE
 *		or'ed in while this block is free
 */
struct xv_block_header {
	u16 size;
	u16 prev;
};

/*
 * struct xv_link - free-list links, stored at the start of a free payload
 * @prev_page:		page of the previous free block, NULL for the head
 * @next_page:		page of the next free block, NULL for the tail
 * @prev_offset:	header offset of the previous free block
 * @next_offset:	header offset of the next free block
 */
struct xv_link {
	struct page *prev_page;
	struct page *next_page;
	u16 prev_offset;
	u16 next_offset;
};

/*
 * struct xv_freelist - the head of one free list
 * @page:	page of the first free block, NULL if the list is empty
 * @offset:	header offset of the first free block
 */
struct xv_freelist {
	struct page *page;
	u16 offset;
};

/*
 * struct xv_pool - a set of pages and the free space in them
 * @lock:	protects everything below and every block header and
 *		free-list link inside the pool's pages.  Payloads of
 *		allocated objects belong to their users and are not
 *		covered.  Never used from interrupt context, but taken
 *		with interrupts disabled (spin_lock_irqsave()): kztmem
 *		allocates under a per-CPU lock that cleancache puts take
 *		under the interrupt-safe i_pages lock.  Nothing else is
 *		locked while it is held.
 * @flbitmap:	first level, bit w set when slbitmap[w] is not zero
 * @slbitmap:	second level, bit i set when freelist[i] is not empty
 * @freelist:	heads of the free lists, indexed by size class
 * @total_pages: pages owned by the pool; written under @lock, read
 *		without it
 */
struct xv_pool {
	spinlock_t lock;	/* see above */
	DECLARE_BITMAP(flbitmap, XV_NUM_SL_WORDS);
	unsigned long slbitmap[XV_NUM_SL_WORDS];
	struct xv_freelist freelist[XV_NUM_FREE_LISTS];
	unsigned long total_pages;
};

/* The free list a block of @size belongs on. */
static u32 xv_list_index(u32 size)
{
	return (size - XV_MIN_ALLOC_SIZE) >> XV_FL_DELTA_SHIFT;
}

/* The smallest size found on free list @index. */
static u32 xv_list_min_size(u32 index)
{
	return XV_MIN_ALLOC_SIZE + (index << XV_FL_DELTA_SHIFT);
}

static void xv_get_link(struct page *page, u32 off, struct xv_link *link)
{
	void *base = kmap_local_page(page);

	memcpy(link, base + off + XV_HDR_SIZE, sizeof(*link));
	kunmap_local(base);
}

static void xv_set_link(struct page *page, u32 off,
			const struct xv_link *link)
{
	void *base = kmap_local_page(page);

	memcpy(base + off + XV_HDR_SIZE, link, sizeof(*link));
	kunmap_local(base);
}

static u32 xv_block_size(struct page *page, u32 off)
{
	struct xv_block_header *hdr;
	void *base = kmap_local_page(page);
	u32 size;

	hdr = base + off;
	size = hdr->size;
	kunmap_local(base);
	return size;
}

/* Point the block that follows [@off, @size] back at @off. */
static void xv_fix_next_prev(void *base, u32 off, u32 size)
{
	struct xv_block_header *next;
	u32 next_off = off + XV_HDR_SIZE + size;

	if (next_off >= PAGE_SIZE)
		return;
	next = base + next_off;
	next->prev = off | (next->prev & XV_FLAGS_MASK);
}

/* Push a free block on the head of its free list. */
static void xv_insert_block(struct xv_pool *pool, struct page *page,
			    u32 off, u32 size)
{
	u32 index = xv_list_index(size);
	struct xv_freelist *head = &pool->freelist[index];
	struct xv_link link = {
		.next_page = head->page,
		.next_offset = head->offset,
	};
	struct xv_link next;

	if (head->page) {
		xv_get_link(head->page, head->offset, &next);
		next.prev_page = page;
		next.prev_offset = off;
		xv_set_link(head->page, head->offset, &next);
	}
	xv_set_link(page, off, &link);

	head->page = page;
	head->offset = off;
	__set_bit(index, pool->slbitmap);
	__set_bit(index / BITS_PER_LONG, pool->flbitmap);
}

/* Take a free block off its free list. */
static void xv_remove_block(struct xv_pool *pool, struct page *page,
			    u32 off, u32 size)
{
	u32 index = xv_list_index(size);
	struct xv_freelist *head = &pool->freelist[index];
	struct xv_link link, other;

	xv_get_link(page, off, &link);

	if (link.prev_page) {
		xv_get_link(link.prev_page, link.prev_offset, &other);
		other.next_page = link.next_page;
		other.next_offset = link.next_offset;
		xv_set_link(link.prev_page, link.prev_offset, &other);
	} else {
		head->page = link.next_page;
		head->offset = link.next_offset;
	}

	if (link.next_page) {
		xv_get_link(link.next_page, link.next_offset, &other);
		other.prev_page = link.prev_page;
		other.prev_offset = link.prev_offset;
		xv_set_link(link.next_page, link.next_offset, &other);
	}

	if (!head->page) {
		__clear_bit(index, pool->slbitmap);
		if (!pool->slbitmap[index / BITS_PER_LONG])
			__clear_bit(index / BITS_PER_LONG, pool->flbitmap);
	}
}

/*
 * Find a free list whose first block can hold @size bytes; returns its
 * index or -1.  Every block on a list above xv_list_index(@size) is big
 * enough; the list @size itself falls into may hold a block of exactly
 * the right size too, so its first block is worth a look.
 */
static int xv_find_list(struct xv_pool *pool, u32 size)
{
	u32 index = xv_list_index(size);
	unsigned long bits;
	u32 word;

	if (xv_list_min_size(index) < size) {
		struct xv_freelist *head = &pool->freelist[index];

		if (head->page && xv_block_size(head->page, head->offset) >= size)
			return index;
		index++;
	}
	if (index >= XV_NUM_FREE_LISTS)
		return -1;

	word = index / BITS_PER_LONG;
	bits = pool->slbitmap[word] & (~0UL << (index % BITS_PER_LONG));
	if (bits)
		return word * BITS_PER_LONG + __ffs(bits);

	word = find_next_bit(pool->flbitmap, XV_NUM_SL_WORDS, word + 1);
	if (word >= XV_NUM_SL_WORDS)
		return -1;
	return word * BITS_PER_LONG + __ffs(pool->slbitmap[word]);
}

/* Make a fresh page one big free block and give it to the pool. */
static void xv_add_page(struct xv_pool *pool, struct page *page)
{
	struct xv_block_header *hdr;
	void *base = kmap_local_page(page);

	hdr = base;
	hdr->size = XV_MAX_ALLOC_SIZE;
	hdr->prev = XV_BLOCK_FREE;
	kunmap_local(base);

	xv_insert_block(pool, page, 0, XV_MAX_ALLOC_SIZE);
	WRITE_ONCE(pool->total_pages, pool->total_pages + 1);
}

/**
 * xv_malloc - allocate an object
 * @pool:	pool to allocate from
 * @size:	bytes wanted, 1 to XV_MAX_ALLOC_SIZE
 * @page:	returns the page that holds the object
 * @offset:	returns the offset of the object in @page
 * @flags:	GFP flags used when the pool needs one more page
 *
 * The object is at least @size bytes, rounded up to XV_ALIGN and to
 * XV_MIN_ALLOC_SIZE.  The pool lock is dropped while a page is
 * allocated, so @flags may allow sleeping if the caller can.
 *
 * Return: 0 on success, -EINVAL for a bad @size, -ENOMEM when no page
 * could be allocated.
 */
int xv_malloc(struct xv_pool *pool, u32 size, struct page **page,
	      u32 *offset, gfp_t flags)
{
	struct xv_block_header *hdr, *rest;
	struct xv_freelist *head;
	unsigned long irqflags;
	struct page *new_page;
	u32 off, rest_off;
	void *base;
	int index;

	if (!size || size > XV_MAX_ALLOC_SIZE)
		return -EINVAL;
	size = max_t(u32, ALIGN(size, XV_ALIGN), XV_MIN_ALLOC_SIZE);

	spin_lock_irqsave(&pool->lock, irqflags);
	for (;;) {
		index = xv_find_list(pool, size);
		if (index >= 0)
			break;
		spin_unlock_irqrestore(&pool->lock, irqflags);
		new_page = alloc_page(flags);
		if (!new_page)
			return -ENOMEM;
		spin_lock_irqsave(&pool->lock, irqflags);
		xv_add_page(pool, new_page);
	}

	head = &pool->freelist[index];
	*page = head->page;
	off = head->offset;

	base = kmap_local_page(*page);
	hdr = base + off;
	xv_remove_block(pool, *page, off, hdr->size);

	/* Split off the tail if it can make a block of its own. */
	if (hdr->size - size >= XV_HDR_SIZE + XV_MIN_ALLOC_SIZE) {
		rest_off = off + XV_HDR_SIZE + size;
		rest = base + rest_off;
		rest->size = hdr->size - size - XV_HDR_SIZE;
		rest->prev = off | XV_BLOCK_FREE;
		xv_fix_next_prev(base, rest_off, rest->size);
		hdr->size = size;
		xv_insert_block(pool, *page, rest_off, rest->size);
	}
	hdr->prev &= ~XV_BLOCK_FREE;
	kunmap_local(base);
	spin_unlock_irqrestore(&pool->lock, irqflags);

	*offset = off + XV_HDR_SIZE;
	return 0;
}

/**
 * xv_free - free an object
 * @pool:	pool the object came from
 * @page:	page returned by xv_malloc()
 * @offset:	offset returned by xv_malloc()
 *
 * The block is merged with free neighbours; a page that becomes
 * entirely free goes back to the page allocator.
 */
void xv_free(struct xv_pool *pool, struct page *page, u32 offset)
{
	struct xv_block_header *hdr, *other;
	bool page_empty = false;
	u32 off, size, next_off, prev_off;
	unsigned long irqflags;
	void *base;

	if (WARN_ON_ONCE(offset < XV_HDR_SIZE || offset >= PAGE_SIZE ||
			 offset % XV_ALIGN))
		return;
	off = offset - XV_HDR_SIZE;

	spin_lock_irqsave(&pool->lock, irqflags);
	base = kmap_local_page(page);
	hdr = base + off;
	if (WARN_ON_ONCE(hdr->prev & XV_BLOCK_FREE))
		goto out;
	size = hdr->size;

	next_off = off + XV_HDR_SIZE + size;
	if (next_off < PAGE_SIZE) {
		other = base + next_off;
		if (other->prev & XV_BLOCK_FREE) {
			xv_remove_block(pool, page, next_off, other->size);
			size += XV_HDR_SIZE + other->size;
		}
	}

	if (off) {
		prev_off = hdr->prev & ~XV_FLAGS_MASK;
		other = base + prev_off;
		if (other->prev & XV_BLOCK_FREE) {
			xv_remove_block(pool, page, prev_off, other->size);
			size += XV_HDR_SIZE + other->size;
			off = prev_off;
			hdr = other;
		}
	}

	if (!off && size == XV_MAX_ALLOC_SIZE) {
		page_empty = true;
		WRITE_ONCE(pool->total_pages, pool->total_pages - 1);
		goto out;
	}

	hdr->size = size;
	hdr->prev |= XV_BLOCK_FREE;
	xv_fix_next_prev(base, off, size);
	xv_insert_block(pool, page, off, size);
out:
	kunmap_local(base);
	spin_unlock_irqrestore(&pool->lock, irqflags);
	if (page_empty)
		__free_page(page);
}

/**
 * xv_get_object_size - usable size of an object
 * @page:	page returned by xv_malloc()
 * @offset:	offset returned by xv_malloc()
 *
 * Return: the object's size in bytes, at least what was asked for.
 */
u32 xv_get_object_size(struct page *page, u32 offset)
{
	return xv_block_size(page, offset - XV_HDR_SIZE);
}

/**
 * xv_get_total_size_bytes - memory held by a pool
 * @pool:	the pool
 *
 * Return: the bytes of all pages the pool owns, used or free.
 */
u64 xv_get_total_size_bytes(struct xv_pool *pool)
{
	return (u64)READ_ONCE(pool->total_pages) << PAGE_SHIFT;
}

/**
 * xv_create_pool - create an empty pool
 *
 * Context: process context, may sleep.
 * Return: the pool, or NULL when out of memory.
 */
struct xv_pool *xv_create_pool(void)
{
	struct xv_pool *pool;

	BUILD_BUG_ON(sizeof(struct xv_block_header) != XV_HDR_SIZE);
	BUILD_BUG_ON(sizeof(struct xv_link) > XV_MIN_ALLOC_SIZE);
	BUILD_BUG_ON(XV_MAX_ALLOC_SIZE > U16_MAX);
	BUILD_BUG_ON(XV_MIN_ALLOC_SIZE % XV_ALIGN || XV_FL_DELTA % XV_ALIGN);

	pool = kvzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return NULL;
	spin_lock_init(&pool->lock);
	return pool;
}

/**
 * xv_destroy_pool - free an empty pool
 * @pool:	the pool; every object must have been freed
 */
void xv_destroy_pool(struct xv_pool *pool)
{
	if (!pool)
		return;
	WARN_ON(pool->total_pages);
	kvfree(pool);
}
