// SPDX-License-Identifier: GPL-2.0-only
/*
 * kztmem.c - compressed in-kernel transcendent memory
 *
 * kztmem is the host for the generic tmem layer (tmem.c) and provides
 * the page-addressable memory (PAM) behind it.  It has two halves:
 *
 * - frontswap: anonymous pages on their way to a swap device are
 *   compressed and kept in a persistent store (xvmalloc, zsmalloc, or
 *   both split by size), one persistent tmem pool per swap type.  A
 *   store that kztmem declines (the pool is at its size limit, memory is
 *   short, or with writeback off the page compresses badly) is not an
 *   error: the page simply goes to the swap device.  When the pool is
 *   full and holds enough pages that did not compress (kept uncompressed
 *   so that they go there with their neighbours), its oldest pages are
 *   written back to the swap device; otherwise new pages are declined.
 *
 * - cleancache (only with CONFIG_CLEANCACHE): clean page-cache pages
 *   that the kernel evicts are compressed into zbud (zbud.c),
 *   one ephemeral tmem pool per mounted file system that opted in.  A
 *   get that hits hands the page back and forgets it; a shrinker gives
 *   zbud frames back under memory pressure, dropping the pages in them.
 *
 * Both halves compress with the algorithm named by kztmem.compressor
 * (lzo, lzo-rle, lz4 or zstd; lzo by default), through the crypto API.
 *
 * The driver does nothing unless the kernel is booted with "kztmem".
 * "nofrontswap" and "nocleancache" switch a half off.  kztmem registers
 * with frontswap from a device initcall, before zswap tries from its
 * late initcall, so one kernel can run either of them.  Statistics and
 * tunables live in /sys/kernel/mm/kztmem/.
 *
 * Swap slots map onto tmem names as follows: the pool is the swap
 * type's pool, the object id is the slot offset without its low
 * KZT_SWIZ_BITS bits and the index is those bits, so that one object,
 * with a one-level index tree, covers 64 neighbouring slots.
 */

#define pr_fmt(fmt) "kztmem: " fmt

#include <linux/atomic.h>
#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/cleancache.h>
#include <linux/cpuhotplug.h>
#include <linux/crypto.h>
#include <linux/err.h>
#include <linux/fault-inject.h>
#include <linux/frontswap.h>
#include <linux/gfp.h>
#include <linux/hash.h>
#include <linux/highmem.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/local_lock.h>
#include <linux/memcontrol.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/oom.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched/clock.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/sysfs.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "kztmem_store.h"
#include "tmem.h"
#include "zbud.h"

/*
 * Boot parameters
 *
 * kztmem_enabled is set by "kztmem" (or "kztmem=on", any kstrtobool()
 * value), kzt_nofrontswap by "nofrontswap" and kzt_nocleancache by
 * "nocleancache".  They are read once, by kztmem_init().  A malformed
 * value is reported and ignored: the kernel boots with the defaults.
 */
static bool kztmem_enabled __initdata;
static bool kzt_nofrontswap __initdata;
static bool kzt_nocleancache __initdata;

static int __init kztmem_setup(char *str)
{
	bool on;

	if (!str || !*str) {
		kztmem_enabled = true;
		return 0;
	}
	if (kstrtobool(str, &on)) {
		pr_warn("ignoring malformed \"kztmem=%s\" (expected on/off, y/n or 1/0)\n",
			str);
		return 0;
	}
	kztmem_enabled = on;
	return 0;
}
early_param("kztmem", kztmem_setup);

/* "nofrontswap" and "nocleancache" are plain switches: no value. */
static int __init kzt_switch_setup(const char *name, const char *str,
				   bool *flag)
{
	if (str) {
		pr_warn("ignoring \"%s=%s\": %s takes no value\n", name, str,
			name);
		return 0;
	}
	*flag = true;
	return 0;
}

static int __init kzt_nofrontswap_setup(char *str)
{
	return kzt_switch_setup("nofrontswap", str, &kzt_nofrontswap);
}
early_param("nofrontswap", kzt_nofrontswap_setup);

static int __init kzt_nocleancache_setup(char *str)
{
	return kzt_switch_setup("nocleancache", str, &kzt_nocleancache);
}
early_param("nocleancache", kzt_nocleancache_setup);

/*
 * kztmem.pers_pool=NAME chooses the persistent store, by its exact name
 * (kztmem_store.c: xvmalloc, zsmalloc or split).  Any other value is logged
 * and the default, split, is kept.  Read once, by kztmem_init(); the
 * store in use is shown in /sys/kernel/mm/kztmem/pers_pool.  split is the
 * default as measured (README, "A split store"): it packs half-compressible
 * pages as zsmalloc does, and did not lose on small ones, where zsmalloc
 * alone did.
 */
static const struct kzt_store_ops *kzt_pers_store_ops = &kzt_store_split;

static int kzt_param_set_pers_pool(const char *val,
				   const struct kernel_param *kp)
{
	const struct kzt_store_ops *ops = val ? kzt_store_find(val) : NULL;

	if (!ops) {
		pr_warn("ignoring unknown \"kztmem.pers_pool=%s\" (choose %s, %s or %s), using %s\n",
			val ? val : "", kzt_store_xvmalloc.name,
			kzt_store_zsmalloc.name, kzt_store_split.name,
			kzt_pers_store_ops->name);
		return 0;
	}
	kzt_pers_store_ops = ops;
	return 0;
}

static const struct kernel_param_ops kzt_pers_pool_param_ops = {
	.set = kzt_param_set_pers_pool,
};

module_param_cb(pers_pool, &kzt_pers_pool_param_ops, NULL, 0);

#ifdef CONFIG_CLEANCACHE
/*
 * kztmem.cc_prepare=0 makes cleancache puts compress under the i_pages
 * lock, as before two-step puts existed; meant for measuring the two
 * against each other.  Read once, when the cleancache half registers.
 */
static bool kzt_cc_prepare = true;
module_param_named(cc_prepare, kzt_cc_prepare, bool, 0444);
#endif

/*
 * Tunables (/sys/kernel/mm/kztmem/, root-writable)
 *
 * kzt_max_pool_percent: compressed pages may take at most this share of
 * RAM (totalram_pages()), counted in the persistent store's pages plus
 * zbud frames.
 * At the limit a store first evicts the oldest zbud frame (ephemeral
 * pages are the cheaper ones to lose); if that does not help it is
 * declined and counted in pool_limit_hit (persistent) or
 * eph_pool_limit_hit (ephemeral).
 *
 * kzt_writeback (0 or 1, default 1) and kzt_accept_percent: with
 * writeback on, a persistent store that finds the pool at its limit
 * starts writing the oldest persistent pages back to the swap device
 * (see "Writeback" below), and stores are declined until the pool is
 * below kzt_accept_percent of the limit again.  With writeback off, a
 * store at the limit is declined and the pool keeps its old pages, and
 * pages that do not compress are declined rather than kept raw.
 *
 * kzt_wb_min_raw_percent (0..100, default 10): the writeback starts only
 * while raw pages take at least this share of the pool's bytes; below
 * it a store at the limit is declined as with writeback off, and counted
 * in pers_writeback_held_off.  0 writes back whatever the pool holds.
 *
 * kzt_wb_start_percent (1..100, default 95): the writeback may start
 * before the pool is full, once a persistent store finds the pool at
 * this share of the limit (and above kzt_accept_percent); stores are
 * still taken meanwhile.  100 starts it only at the limit.
 *
 * kzt_excl_load_percent (0..100, default 90): a swap-in that finds the
 * pool at this share of its limit or above takes the page's copy out of
 * the pool (an exclusive load, counted in pers_exclusive_gets), if the
 * copy is one kzt_excl_load_max_bytes allows: the swapped-in page is
 * dirty then, and is stored again if it is reclaimed.  Otherwise the
 * copy stays, so that a page reclaimed unchanged costs no new store.
 * 0 keeps every copy, 1 drops nearly every allowed one.
 *
 * Exclusive loads pause while the pool overflows: a store declined for
 * room, or a writeback started, holds them off for as many successful
 * stores as the pool then held pages (a loaded page that kept its copy
 * is counted in pers_exclusive_paused).  A copy dropped then does not
 * make room for a page that fits: the page it belonged to is dirty and
 * is stored again, or sent to the device if its store is declined,
 * where a kept copy would have cost nothing.  Freeing a swap device's
 * pages ends the pause.
 *
 * kzt_excl_load_max_bytes (0..PAGE_SIZE, default PAGE_SIZE / 2): only a
 * copy compressed to at most this many bytes is taken out; raw pages
 * count as PAGE_SIZE, and same-filled ones, which take no room in the
 * pool, always stay.  A copy dropped frees room for about one page of
 * its kind whatever its size, and costs one more compression when its
 * page is reclaimed unchanged: cheap for a page that compresses well,
 * dear for one that barely does.  PAGE_SIZE drops raw copies too.
 *
 * On from 90% of the limit by default, as measured (README, "Exclusive
 * loads"): with the size bound and the pause, they save a workload that
 * fits in RAM plus the pool once no page is held twice all its disk I/O
 * (memhog-text-480, 0.88x the modeled time of keeping every copy), and
 * change nothing measurable where the pool overflows (mixed, mix and
 * random pages: every load paused) nor on sort-16 and pyheap-quick.
 * Without the pause mixed and mix pages lost 4%, without the bound
 * random pages lost 2%, and while each load summed the pool instead of
 * reading the store's note (kzt_excl_note_pool()) pyheap-quick lost 1%.
 *
 * kzt_compress_limit: the largest compressed size accepted, in bytes;
 * worse pages are declined and counted in compress_poor (persistent) or
 * eph_compress_poor (ephemeral), except that with writeback on a
 * persistent page is kept uncompressed instead (see "Raw pages").
 * Above the persistent store's max_size nothing fits in it, and above
 * zbud_max_size() nothing fits in a zbud frame, so those are the real
 * bounds.
 *
 * Written with WRITE_ONCE() by the sysfs handlers, read with READ_ONCE()
 * in the store path; no lock.
 */
#define KZT_MAX_POOL_PERCENT_DEFAULT	20
#define KZT_COMPRESS_LIMIT_DEFAULT	(PAGE_SIZE * 7 / 8)
#define KZT_COMPRESS_LIMIT_MIN		64
#define KZT_ACCEPT_PERCENT_DEFAULT	90
#define KZT_WB_MIN_RAW_PERCENT_DEFAULT	10
#define KZT_WB_START_PERCENT_DEFAULT	95
#define KZT_EXCL_LOAD_PERCENT_DEFAULT	90
#define KZT_EXCL_LOAD_MAX_BYTES_DEFAULT	(PAGE_SIZE / 2)

static unsigned int kzt_max_pool_percent = KZT_MAX_POOL_PERCENT_DEFAULT;
static unsigned int kzt_compress_limit = KZT_COMPRESS_LIMIT_DEFAULT;
static unsigned int kzt_writeback = 1;
static unsigned int kzt_accept_percent = KZT_ACCEPT_PERCENT_DEFAULT;
static unsigned int kzt_wb_min_raw_percent = KZT_WB_MIN_RAW_PERCENT_DEFAULT;
static unsigned int kzt_wb_start_percent = KZT_WB_START_PERCENT_DEFAULT;
static unsigned int kzt_excl_load_percent = KZT_EXCL_LOAD_PERCENT_DEFAULT;
static unsigned int kzt_excl_load_max_bytes = KZT_EXCL_LOAD_MAX_BYTES_DEFAULT;

/*
 * Statistics (/sys/kernel/mm/kztmem/, read-only)
 *
 * Atomic, updated without any lock; a reader sees each value on its
 * own, not a snapshot of all of them.  The _max values are updated
 * with a compare-and-exchange loop and never go down.
 */

/* tmem metadata, from the host ops */
static atomic_long_t kzt_curr_obj_count;
static atomic_long_t kzt_curr_obj_count_max;
static atomic_long_t kzt_curr_objnode_count;
static atomic_long_t kzt_curr_objnode_count_max;

/* Persistent pages held, same-filled ones included */
static atomic_long_t kzt_curr_pers_pampd_count;
static atomic_long_t kzt_curr_pers_pampd_count_max;
/* Same-filled pages held (no compressed data, only the repeated word) */
static atomic_long_t kzt_same_filled_pages;
/* Sum of the compressed sizes of the pages held (raw ones: a page each) */
static atomic_long_t kzt_pers_compressed_bytes;
/* Pages held uncompressed, each in a page of its own (see kzt_keep_raw()) */
static atomic_long_t kzt_pers_raw_pages;
static atomic_long_t kzt_pers_raw_pages_max;

/* frontswap traffic */
static atomic_long_t kzt_pers_puts;		/* successful stores */
static atomic_long_t kzt_failed_pers_puts;	/* declined stores */
static atomic_long_t kzt_pers_gets;		/* successful loads */
/* ... that took the page's copy out of the pool (kzt_excl_load_percent) */
static atomic_long_t kzt_pers_exclusive_gets;
/* ... that would have, but kept it while the pool overflows */
static atomic_long_t kzt_pers_exclusive_paused;
/* pers_puts from which exclusive loads may resume (see kzt_excl_pause()) */
static atomic_long_t kzt_excl_resume_at;
/* zbud frames' worth given back to swap stores, taken by the shrinker */
static atomic_long_t kzt_eph_frames_for_swap;
static atomic_long_t kzt_eph_frames_shrunk;
/* reclaim held back by the share; OOM notices that emptied the half */
static atomic_long_t kzt_eph_reclaim_held;
static atomic_long_t kzt_eph_oom_emptied;
/* The pool at kzt_excl_load_percent of its limit, when last summed? */
static bool kzt_excl_pool_at;
/* Loads of a stored page that failed: its data is lost, see the load */
static atomic_long_t kzt_failed_pers_gets;
static atomic_long_t kzt_flush_total;		/* invalidate_page calls */
static atomic_long_t kzt_flush_found;		/* ... that freed a page */
/* Objects flushed by invalidate_area (total and found are equal here) */
static atomic_long_t kzt_flobj_total;
static atomic_long_t kzt_flobj_found;

/* Why stores were declined (each also counts in failed_pers_puts) */
static atomic_long_t kzt_compress_poor;		/* above compress_limit */
/* ... of which declined from a sample, without a full compression */
static atomic_long_t kzt_pers_cheap_rejects;
static atomic_long_t kzt_pool_limit_hit;	/* declined for room */
static atomic_long_t kzt_failed_alloc;		/* data or metadata, both */
/* at the page's cgroup's memory.zswap.max */
static atomic_long_t kzt_cgroup_limit_hit;

/* Writeback of persistent pages when the pool is full */
static atomic_long_t kzt_pers_written_back;	/* writes submitted */
/* Oldest pages passed over: in the swap cache or already gone */
static atomic_long_t kzt_pers_writeback_skipped;
/* Write backs that failed: no memory, or the page did not load */
static atomic_long_t kzt_pers_writeback_failed;
/* Stores declined at the limit with too few raw pages to write back */
static atomic_long_t kzt_pers_writeback_held_off;
/* Writebacks started before the pool was full (kzt_wb_start_percent) */
static atomic_long_t kzt_pers_writeback_early;

#ifdef CONFIG_CLEANCACHE
/*
 * Ephemeral pages (cleancache).  The zbud_* and evicted_* counters are
 * zbud's own, see struct zbud_stats and kzt_eph_attrs below.
 */
static atomic_long_t kzt_curr_eph_pampd_count;
static atomic_long_t kzt_curr_eph_pampd_count_max;
static atomic_long_t kzt_eph_puts;		/* pages stored */
static atomic_long_t kzt_failed_eph_puts;	/* puts declined */
static atomic_long_t kzt_eph_gets;		/* gets that hit */
static atomic_long_t kzt_eph_get_misses;	/* gets that missed */
static atomic_long_t kzt_eph_compress_poor;	/* too big for zbud */
static atomic_long_t kzt_eph_cheap_rejects;	/* ... told from a sample */
/* Same-filled and raw clean pages held by entries, and their cache */
static atomic_long_t kzt_eph_same_filled_pages;
static atomic_long_t kzt_eph_raw_pages;	/* kept raw (kzt_eph_raw) */
static struct kmem_cache *kzt_eph_entry_cache;
static atomic_long_t kzt_eph_pool_limit_hit;	/* at max_pool_percent */
static atomic_long_t kzt_eph_flush_found;	/* invalidate_page hits */
static atomic_long_t kzt_eph_flobj_found;	/* invalidate_inode hits */
static atomic_long_t kzt_eph_range_flushed;	/* pages invalidate_range dropped */
static atomic_long_t kzt_eph_evict_missed;	/* victim owned elsewhere */
static atomic_long_t kzt_eph_cgroup_limit_hit;	/* at memory.zswap.max */
static atomic_long_t kzt_eph_memcg_full_hit;	/* kzt_eph_memcg_full() */
/* Puts compressed before the i_pages lock, and those then dropped */
static atomic_long_t kzt_eph_prepared;
static atomic_long_t kzt_eph_prepare_aborted;
/*
 * Time spent in the callbacks that run under the i_pages lock with
 * interrupts off (put_page, commit_page): their number, their total in
 * ns, and a histogram in powers of two of ns (see kzt_eph_locked_done()).
 */
#define KZT_LOCKED_BUCKETS	12
static atomic_long_t kzt_eph_locked_calls;
static atomic_long_t kzt_eph_locked_ns;
static atomic_long_t kzt_eph_locked_hist[KZT_LOCKED_BUCKETS];
#endif

static void kzt_stat_inc(atomic_long_t *stat, atomic_long_t *max)
{
	long val = atomic_long_inc_return(stat);
	long old = atomic_long_read(max);

	do {
		if (val <= old)
			return;
	} while (!atomic_long_try_cmpxchg(max, &old, val));
}

/*
 * Allocation flags of the store path
 *
 * frontswap stores run from swap_writepage(), i.e. from reclaim, with
 * the page locked and with a per-CPU compression buffer held.  kztmem
 * therefore neither sleeps nor reclaims there: GFP_NOWAIT may wake
 * kswapd but does no direct reclaim (we are reclaim), __GFP_NORETRY
 * gives up early, and __GFP_NOWARN because failing is harmless: the
 * page then goes to the swap device and failed_alloc counts it.
 *
 * Unlike GFP_ATOMIC (the "rude" choice of the origin driver) this does
 * not ask for __GFP_HIGH.  Like zswap it does not set __GFP_NOMEMALLOC
 * either: a reclaiming task (PF_MEMALLOC) may dip into the reserves,
 * which pays off because each store lets a whole page be freed for a
 * fraction of one, and max_pool_percent bounds the total.  A first run
 * with __GFP_NOMEMALLOC declined a third of the compressible pages.
 * The same flags serve tmem's metadata of persistent pools, which is
 * allocated under a bucket spinlock.  Compressed data may live in
 * highmem.
 *
 * Ephemeral pages are put from the page cache's eviction path, with
 * interrupts disabled, and are worth little: they can be read from the
 * disk again.  They get the same flags plus __GFP_NOMEMALLOC, so that
 * they never eat into the reserves reclaim needs.  zbud frames are
 * lowmem (the frame header is addressed directly).
 */
#define KZT_STORE_GFP	(GFP_NOWAIT | __GFP_NORETRY | __GFP_NOWARN)
#define KZT_EPH_GFP	(KZT_STORE_GFP | __GFP_NOMEMALLOC)

/*
 * The compressor
 *
 * kztmem compresses through the kernel's crypto API with one of the
 * algorithms in kzt_compressors[], chosen at boot with
 * kztmem.compressor=NAME (default lzo).  A name not in the list is
 * refused by the parameter parser and logged; a listed one the kernel
 * was built without is logged by kztmem_init(), and lzo is used.  The
 * choice is fixed from then on (/sys/kernel/mm/kztmem/compressor is
 * read-only), so every stored page was compressed by the algorithm
 * that decompresses it.
 */
static const char * const kzt_compressors[] = {
	"lzo", "lzo-rle", "lz4", "zstd",
};

#define KZT_COMPRESSOR_DEFAULT	0	/* lzo, which Kconfig selects */

static const char *kzt_compressor = kzt_compressors[KZT_COMPRESSOR_DEFAULT];

/*
 * Per-CPU compression contexts
 *
 * A crypto_comp transform keeps its working memory in itself, so each
 * user needs a transform of its own, and a buffer for the compressed
 * result (two pages: more than any of the algorithms can need for one
 * page).  Each CPU has two of them:
 *
 * @pers and @mutex: the swap path (frontswap stores and loads),
 * cleancache gets and prepared cleancache puts, all of which run in
 * process context and may sleep.  @mutex is held from the start of a
 * compression until the result has been copied into its store, or
 * around a decompression, with
 * interrupts and preemption on; the task may move to another CPU
 * meanwhile, which is harmless, as it keeps using the context it
 * locked.  kzt_cpu_dead() takes @mutex before it frees the context.
 *
 * @eph and @lock: one-step cleancache puts (kztmem.cc_prepare=0), which
 * run with interrupts disabled under the interrupt-safe i_pages lock and
 * must not sleep; local_lock_irqsave() is what protects a per-CPU
 * context there.
 *
 * The contexts are allocated when a CPU is being brought up and freed
 * once it is dead (CPU hotplug "prepare" callbacks).
 */
struct kzt_comp_ctx {
	struct crypto_comp *tfm;
	u8 *dst;
};

struct kzt_pcpu {
	struct mutex mutex;		/* protects @pers */
	struct kzt_comp_ctx pers;
	local_lock_t lock;		/* protects @eph */
	struct kzt_comp_ctx eph;
};

static DEFINE_PER_CPU(struct kzt_pcpu, kzt_pcpu) = {
	.lock = INIT_LOCAL_LOCK(lock),
};

static int kzt_cpuhp_state;

#define KZT_DST_SIZE	(2 * PAGE_SIZE)

static void kzt_comp_ctx_free(struct kzt_comp_ctx *ctx)
{
	if (!IS_ERR_OR_NULL(ctx->tfm))
		crypto_free_comp(ctx->tfm);
	kfree(ctx->dst);
	ctx->tfm = NULL;
	ctx->dst = NULL;
}

static int kzt_comp_ctx_alloc(struct kzt_comp_ctx *ctx, unsigned int cpu)
{
	struct crypto_comp *tfm;

	tfm = crypto_alloc_comp(kzt_compressor, 0, 0);
	if (IS_ERR(tfm)) {
		pr_err("cannot allocate a %s transform for CPU %u: %ld\n",
		       kzt_compressor, cpu, PTR_ERR(tfm));
		return PTR_ERR(tfm);
	}
	ctx->tfm = tfm;
	ctx->dst = kmalloc_node(KZT_DST_SIZE, GFP_KERNEL, cpu_to_node(cpu));
	if (!ctx->dst) {
		kzt_comp_ctx_free(ctx);
		return -ENOMEM;
	}
	return 0;
}

static int kzt_cpu_prepare(unsigned int cpu)
{
	struct kzt_pcpu *pcpu = per_cpu_ptr(&kzt_pcpu, cpu);
	struct kzt_comp_ctx pers = { };
	int ret;

	ret = kzt_comp_ctx_alloc(&pers, cpu);
	if (ret)
		return ret;
	ret = kzt_comp_ctx_alloc(&pcpu->eph, cpu);
	if (ret) {
		kzt_comp_ctx_free(&pers);
		return ret;
	}
	/* Whole, under the mutex: a task may wait there since the last offline. */
	mutex_lock(&pcpu->mutex);
	pcpu->pers = pers;
	mutex_unlock(&pcpu->mutex);
	return 0;
}

static int kzt_cpu_dead(unsigned int cpu)
{
	struct kzt_pcpu *pcpu = per_cpu_ptr(&kzt_pcpu, cpu);

	/* A task that locked this context before the CPU went may still use it. */
	mutex_lock(&pcpu->mutex);
	kzt_comp_ctx_free(&pcpu->pers);
	mutex_unlock(&pcpu->mutex);
	kzt_comp_ctx_free(&pcpu->eph);
	return 0;
}

/*
 * The swap path's context: locked, with the task free to sleep or move.
 * A task that waited for the mutex of a CPU that went offline meanwhile
 * finds that CPU's context freed (kzt_cpu_dead()) and tries again with
 * the CPU it runs on now, which is online and so has one.
 */
static struct kzt_comp_ctx *kzt_pers_ctx_lock(void)
{
	struct kzt_pcpu *pcpu;

	for (;;) {
		pcpu = raw_cpu_ptr(&kzt_pcpu);
		mutex_lock(&pcpu->mutex);
		if (likely(pcpu->pers.tfm))
			return &pcpu->pers;
		mutex_unlock(&pcpu->mutex);
	}
}

static void kzt_pers_ctx_unlock(struct kzt_comp_ctx *ctx)
{
	mutex_unlock(&container_of(ctx, struct kzt_pcpu, pers)->mutex);
}

/*
 * Compress the page at @src into @ctx->dst; its length in @len.  An
 * error here is the algorithm's, not a sign of poor compression (the
 * buffer is larger than any result), so it is logged.
 */
static int kzt_compress(struct kzt_comp_ctx *ctx, const void *src,
			unsigned int *len)
{
	unsigned int dlen = KZT_DST_SIZE;
	int ret;

	ret = crypto_comp_compress(ctx->tfm, src, PAGE_SIZE, ctx->dst, &dlen);
	if (ret) {
		pr_err_ratelimited("%s compression failed: %d\n",
				   kzt_compressor, ret);
		return -EIO;
	}
	*len = dlen;
	return 0;
}

/*
 * Decompress @slen bytes at @src into the page mapped at @dst, with the
 * locked context @ctx.  Anything but a whole page back means the stored
 * copy is damaged: say so and return -EIO, so the caller reports a
 * failed load rather than bad data.
 */
static int kzt_decompress(struct kzt_comp_ctx *ctx, const void *src,
			  unsigned int slen, void *dst)
{
	unsigned int dlen = PAGE_SIZE;
	int ret;

	ret = crypto_comp_decompress(ctx->tfm, src, slen, dst, &dlen);
	if (ret) {
		pr_err_ratelimited("%s decompression of %u bytes failed: %d\n",
				   kzt_compressor, slen, ret);
		return -EIO;
	}
	if (dlen != PAGE_SIZE) {
		pr_err_ratelimited("%s decompression of %u bytes gave %u bytes, not a page\n",
				   kzt_compressor, slen, dlen);
		return -EIO;
	}
	return 0;
}

/*
 * Host services for tmem: objects and index-tree nodes come from two
 * slab caches.  Called under a bucket lock, hence no sleeping.
 */
static struct kmem_cache *kzt_obj_cache;
static struct kmem_cache *kzt_objnode_cache;

static gfp_t kzt_meta_gfp(struct tmem_pool *pool)
{
	return tmem_pool_persistent(pool) ? KZT_STORE_GFP : KZT_EPH_GFP;
}

static struct tmem_obj *kzt_obj_alloc(struct tmem_pool *pool)
{
	struct tmem_obj *obj = kmem_cache_alloc(kzt_obj_cache,
						kzt_meta_gfp(pool));

	if (obj)
		kzt_stat_inc(&kzt_curr_obj_count, &kzt_curr_obj_count_max);
	else
		atomic_long_inc(&kzt_failed_alloc);
	return obj;
}

static void kzt_obj_free(struct tmem_pool *pool, struct tmem_obj *obj)
{
	atomic_long_dec(&kzt_curr_obj_count);
	kmem_cache_free(kzt_obj_cache, obj);
}

static struct tmem_objnode *kzt_objnode_alloc(struct tmem_pool *pool)
{
	struct tmem_objnode *node;

	node = kmem_cache_alloc(kzt_objnode_cache, kzt_meta_gfp(pool));
	if (node)
		kzt_stat_inc(&kzt_curr_objnode_count,
			     &kzt_curr_objnode_count_max);
	else
		atomic_long_inc(&kzt_failed_alloc);
	return node;
}

static void kzt_objnode_free(struct tmem_pool *pool,
			     struct tmem_objnode *node)
{
	atomic_long_dec(&kzt_curr_objnode_count);
	kmem_cache_free(kzt_objnode_cache, node);
}

static const struct tmem_hostops kzt_hostops = {
	.obj_alloc = kzt_obj_alloc,
	.obj_free = kzt_obj_free,
	.objnode_alloc = kzt_objnode_alloc,
	.objnode_free = kzt_objnode_free,
};

/*
 * The persistent PAM: compressed pages in a persistent store
 *
 * struct kzt_pampd - what tmem keeps for one persistent page
 * @handle:	the store's handle of the compressed data (see
 *		kztmem_store.h), the struct page of a raw page, or 0 for a
 *		same-filled page
 * @value:	the word repeated over a same-filled page
 * @offset:	the store's offset of the compressed data
 * @len:	compressed length in bytes
 * @refs:	references: one for tmem's slot, one for each load that
 *		is reading it (kzt_pers_pampd_hold())
 * @raw:	the page is kept uncompressed in the page @handle names
 * @lru:	place in kzt_pers_lru
 * @entry:	the swap entry the page was stored for
 * @objcg:	the cgroup charged for it (its page's), or NULL
 *
 * A pampd is owned by tmem once create() returned it.  A load pins it
 * under the bucket lock and decompresses it after dropping that lock,
 * so a flush or an overwrite of the same slot may take it out of tmem
 * meanwhile; kzt_pers_pampd_free() drops a reference, and the last one
 * frees it.  kzt_pers_store holds the data of all persistent pools; its
 * allocator's locks are the only PAM locks and nest inside tmem's
 * bucket locks.
 */
struct kzt_pampd {
	unsigned long handle;
	union {
		unsigned long value;
		struct {
			u32 offset;
			u32 len;
		};
	};
	refcount_t refs;
	bool raw;
	struct list_head lru;
	swp_entry_t entry;
	struct obj_cgroup *objcg;
};

/* The bytes a pampd takes in the store: none for a same-filled page */
static size_t kzt_pampd_bytes(const struct kzt_pampd *pampd)
{
	return pampd->handle ? pampd->len : 0;
}

static struct kmem_cache *kzt_pampd_cache;
static struct kzt_store *kzt_pers_store;

/* A swap slot's tmem name, see the top of this file; and back. */
#define KZT_SWIZ_BITS	TMEM_OBJNODE_TREE_MAP_SHIFT
#define KZT_SWIZ_MASK	(BIT(KZT_SWIZ_BITS) - 1)

static pgoff_t kzt_swap_name(pgoff_t offset, struct tmem_oid *oid)
{
	oid->oid[0] = offset >> KZT_SWIZ_BITS;
	oid->oid[1] = 0;
	oid->oid[2] = 0;
	return offset & KZT_SWIZ_MASK;
}

static pgoff_t kzt_swap_offset(const struct tmem_oid *oid, pgoff_t index)
{
	return (oid->oid[0] << KZT_SWIZ_BITS) | index;
}

static bool kzt_page_same_filled(const void *data, unsigned long *value)
{
	const unsigned long *word = data;
	unsigned int i;

	for (i = 1; i < PAGE_SIZE / sizeof(*word); i++)
		if (word[i] != word[0])
			return false;
	*value = word[0];
	return true;
}

/*
 * The persistent half's data: the store's pages and the raw pages.  Its
 * metadata is not in it, so that its density compares with zswap's pool
 * size, which leaves zswap's entries out too; the limit counts both.
 */
static u64 kzt_pers_pool_bytes(void)
{
	return kzt_store_total_bytes(kzt_pers_store) +
	       ((u64)atomic_long_read(&kzt_pers_raw_pages) << PAGE_SHIFT);
}

/* The zbud pool of all ephemeral pools, NULL without the cleancache half */
static struct zbud_pool *kzt_zbud;

#ifdef CONFIG_CLEANCACHE
/*
 * The ephemeral entries of same-filled and raw pages (struct
 * kzt_eph_entry): the entries themselves, which are metadata, and the
 * raw pages they hold, which are data.
 */
static u64 kzt_eph_entry_meta_bytes(void)
{
	if (!kzt_eph_entry_cache)
		return 0;
	return (u64)(atomic_long_read(&kzt_eph_same_filled_pages) +
		     atomic_long_read(&kzt_eph_raw_pages)) *
		kmem_cache_size(kzt_eph_entry_cache);
}

static u64 kzt_eph_raw_bytes(void)
{
	return (u64)atomic_long_read(&kzt_eph_raw_pages) << PAGE_SHIFT;
}
#else
static u64 kzt_eph_entry_meta_bytes(void)
{
	return 0;
}

static u64 kzt_eph_raw_bytes(void)
{
	return 0;
}
#endif

/* Everything the entries take: themselves and their raw pages */
static u64 kzt_eph_entry_bytes(void)
{
	return kzt_eph_entry_meta_bytes() + kzt_eph_raw_bytes();
}

static unsigned long kzt_eph_shrink(unsigned long nr);

/*
 * Metadata, from the counts kept anyway: tmem's objects and index-tree
 * nodes of both halves, the persistent pampds and the ephemeral entries
 * of same-filled and raw pages (any other ephemeral page's pampd is its
 * zbud handle), at their caches' object sizes.
 */
static u64 kzt_meta_bytes(void)
{
	return (u64)atomic_long_read(&kzt_curr_obj_count) *
		kmem_cache_size(kzt_obj_cache) +
	       (u64)atomic_long_read(&kzt_curr_objnode_count) *
		kmem_cache_size(kzt_objnode_cache) +
	       (u64)atomic_long_read(&kzt_curr_pers_pampd_count) *
		kmem_cache_size(kzt_pampd_cache) +
	       kzt_eph_entry_meta_bytes();
}

/* Both halves' memory: data, zbud frames, raw clean pages and metadata */
static u64 kzt_pool_total_bytes(void)
{
	u64 bytes = kzt_pers_pool_bytes() + kzt_meta_bytes() +
		    kzt_eph_raw_bytes();

	if (kzt_zbud)
		bytes += (u64)zbud_reclaimable(kzt_zbud) << PAGE_SHIFT;
	return bytes;
}

/* The limit of both halves together, in pages */
static unsigned long kzt_limit_pages(void)
{
	return totalram_pages() * READ_ONCE(kzt_max_pool_percent) / 100;
}

/* Are @pool_bytes (both halves) at @percent of the limit or above it? */
static bool kzt_bytes_at(u64 pool_bytes, unsigned int percent)
{
	unsigned long max_pages = kzt_limit_pages() * percent / 100;

	return (pool_bytes >> PAGE_SHIFT) >= max_pages;
}

/* Is the pool (both halves) at @percent of its limit or above it? */
static bool kzt_pool_at(unsigned int percent)
{
	return kzt_bytes_at(kzt_pool_total_bytes(), percent);
}

static bool kzt_pool_at_limit(void)
{
	return kzt_pool_at(100);
}

/*
 * The split between the halves
 *
 * Both halves live under the one limit, max_pool_percent of RAM.  With
 * nothing more, the persistent half, whose pages cannot be dropped,
 * fills it under swap pressure and the ephemeral half is left without
 * room: on anon-file-mix-832 cleancache stored 14,801 pages and never
 * hit.  So the ephemeral half has a share of the limit, kzt_eph_share
 * percent, which moves one point at a time between eph_min_percent
 * and eph_max_percent (a maximum below the minimum pins it at the
 * minimum).  The share is earned: it starts at the minimum, 0 by
 * default, because claiming room for pages that are never read again
 * costs the swap half dearly (declined stores reach the disk one page
 * at a time; anon-file-mix-832 took 1.15x the modeled time with a
 * minimum of 10%, README "The split between the halves").
 *
 * - It goes up when cleancache hits (and, with eph_share_guard, ghost
 *   hits: a get that misses a page the pool evicted lately, see
 *   "Ghosts") outnumber the persistent stores declined for room by
 *   KZT_SHARE_VOTES, and down the other way round.  A hit is a disk
 *   read saved, a ghost hit one that room would have saved, a declined
 *   store a disk write now and a read later, so the share settles where
 *   the last page of each half is used about as often as the other's.
 * - A persistent store at the limit takes zbud frames back only while
 *   the ephemeral half holds more than its share.
 * - An ephemeral store that finds the pool full while its half holds
 *   less than its share claims the share for KZT_EPH_CLAIM: meanwhile
 *   the persistent half may not grow past the rest of the limit, and
 *   the writeback (when it is on) brings it back there.  Room that the
 *   ephemeral half does not claim is the persistent half's to use.
 *
 * - With eph_share_guard, reclaim's shrinker takes only what the
 *   ephemeral half holds above its share (kzt_shrink_count()): under
 *   memory pressure the kernel took every clean page before a file
 *   loop came round to it.  It is off by default: on anon-file-mix-832
 *   it brought 7,000-11,000 hits a run and cost 1.04x-1.07x the time,
 *   the memory it keeps being memory the swap half's owner wanted.
 *   drop_caches empties the half either way, and so does the OOM
 *   notifier (kzt_oom_notify()), which also brings the share back to
 *   its minimum: a cache must never be why a task is killed.
 *
 * All of this reads counters without locks; the split is a target, not
 * an invariant.
 */
#define KZT_EPH_MIN_PERCENT_DEFAULT	0
#define KZT_EPH_MAX_PERCENT_DEFAULT	50
#define KZT_SHARE_VOTES			128
#define KZT_EPH_CLAIM			HZ

static unsigned int kzt_eph_min_percent = KZT_EPH_MIN_PERCENT_DEFAULT;
static unsigned int kzt_eph_max_percent = KZT_EPH_MAX_PERCENT_DEFAULT;
static unsigned int kzt_eph_share = KZT_EPH_MIN_PERCENT_DEFAULT;
/* Ghost hits vote and reclaim leaves the share: opt-in, see the README */
static unsigned int kzt_eph_share_guard;
static atomic_long_t kzt_share_votes;
static unsigned long kzt_eph_claim_until = INITIAL_JIFFIES;

static atomic_long_t kzt_eph_share_grown;	/* steps up */
static atomic_long_t kzt_eph_share_shrunk;	/* steps down */
static atomic_long_t kzt_eph_room_claims;	/* full, below the share */
static atomic_long_t kzt_pers_split_declined;	/* stores kept out of it */

/* One step of the share up or down, within [@min, max(@min, @max)] */
static unsigned int kzt_share_step(unsigned int share, bool up,
				   unsigned int min, unsigned int max)
{
	max = max(min, max);
	share = clamp(share, min, max);
	if (up && share < max)
		return share + 1;
	if (!up && share > min)
		return share - 1;
	return share;
}

static unsigned int kzt_eph_share_now(void)
{
	unsigned int min = READ_ONCE(kzt_eph_min_percent);
	unsigned int max = max(min, READ_ONCE(kzt_eph_max_percent));

	return clamp(READ_ONCE(kzt_eph_share), min, max);
}

/*
 * Does a persistent half of @pers pages leave less than @share percent
 * of a limit of @limit pages?
 */
static bool kzt_split_full(unsigned long pers, unsigned long limit,
			   unsigned int share)
{
	return pers + limit * share / 100 >= limit;
}

/* Count a step of a tunable that moves by itself from @from to @to */
static void kzt_count_step(unsigned int from, unsigned int to,
			   atomic_long_t *up, atomic_long_t *down)
{
	if (to > from)
		atomic_long_inc(up);
	else if (to < from)
		atomic_long_inc(down);
}

/* Count a cleancache hit (@vote 1) or a store declined for room (-1) */
static void kzt_share_vote(long vote)
{
	unsigned int share, next;
	long votes;

	if (!kzt_zbud)
		return;
	votes = atomic_long_add_return(vote, &kzt_share_votes);
	if (abs(votes) < KZT_SHARE_VOTES ||
	    atomic_long_cmpxchg(&kzt_share_votes, votes, 0) != votes)
		return;
	share = kzt_eph_share_now();
	next = kzt_share_step(share, votes > 0,
			      READ_ONCE(kzt_eph_min_percent),
			      READ_ONCE(kzt_eph_max_percent));
	WRITE_ONCE(kzt_eph_share, next);
	kzt_count_step(share, next, &kzt_eph_share_grown,
		       &kzt_eph_share_shrunk);
}

/* The ephemeral half's pages: zbud frames, entries and raw pages */
static unsigned long kzt_eph_pages(void)
{
	if (!kzt_zbud)
		return 0;
	return zbud_reclaimable(kzt_zbud) +
	       (unsigned long)(kzt_eph_entry_bytes() >> PAGE_SHIFT);
}

static unsigned long kzt_eph_share_pages(void)
{
	return kzt_limit_pages() * kzt_eph_share_now() / 100;
}

/* May the swap half take zbud frames back?  Only above the share. */
static bool kzt_eph_above_share(void)
{
	return kzt_eph_pages() > kzt_eph_share_pages();
}

/* Everything but the ephemeral half: data, raw pages and metadata */
static unsigned long kzt_pers_pages(void)
{
	unsigned long total = kzt_pool_total_bytes() >> PAGE_SHIFT;

	return total - min(total, kzt_eph_pages());
}

static bool kzt_pers_at_split(void)
{
	return kzt_split_full(kzt_pers_pages(), kzt_limit_pages(),
			      kzt_eph_share_now());
}

static bool kzt_eph_claiming(void)
{
	return time_before(jiffies, READ_ONCE(kzt_eph_claim_until));
}

/*
 * At the pool limit: give the oldest zbud frame back (or a frame's worth
 * of same-filled and raw entries, see kzt_eph_shrink()) and tell whether
 * that made room.  For a persistent store only while the ephemeral half
 * holds more than its share.  Takes no lock of its own; see
 * zbud_shrink().
 */
static bool kzt_make_room(bool pers)
{
	unsigned long freed;

	if (!kzt_zbud)
		return false;
	if (pers && !kzt_eph_above_share())
		return false;
	freed = kzt_eph_shrink(1);
	if (!freed)
		return false;
	if (pers)
		atomic_long_add(freed, &kzt_eph_frames_for_swap);
	return !kzt_pool_at_limit();
}

/*
 * Writeback
 *
 * Every persistent page is on kzt_pers_lru, oldest first.  Same-filled
 * pages take no room, but they are written back with their neighbours
 * all the same: a zero page left behind between two written-back ones
 * splits what would have been one request into two, and a request costs
 * a device far more than the 4 KiB it carries.  When a store finds
 * the pool at its limit (and no zbud frame can be given back), it sets
 * kzt_pers_full and queues kzt_wb_work; from then on stores are
 * declined until the work has brought the pool below
 * kzt_accept_percent of the limit.  The work takes the oldest pages in
 * batches of KZT_WB_BATCH, sorts each batch by swap slot and hands the
 * pages to frontswap_writeback() under one block plug, so that
 * neighbouring slots go to the device as one request.  A batch entry is moved to the
 * tail first: a page that is written back leaves the list when its
 * pampd is freed, one that is skipped (it is in the swap cache) gets
 * another chance later.
 *
 * kzt_pers_lru_lock nests inside tmem's bucket locks (a pampd can be
 * freed under one) and is never taken from interrupts.  The work copies
 * swap entries out under it and looks them up again through frontswap,
 * so it never touches a pampd after dropping the lock.
 */
#define KZT_WB_BATCH	64

static LIST_HEAD(kzt_pers_lru);
static DEFINE_SPINLOCK(kzt_pers_lru_lock);
static unsigned long kzt_pers_lru_len;
static bool kzt_pers_full;
static struct workqueue_struct *kzt_wb_wq;

static void kzt_pers_lru_add(struct kzt_pampd *pampd)
{
	spin_lock(&kzt_pers_lru_lock);
	list_add_tail(&pampd->lru, &kzt_pers_lru);
	kzt_pers_lru_len++;
	spin_unlock(&kzt_pers_lru_lock);
}

static void kzt_pers_lru_del(struct kzt_pampd *pampd)
{
	spin_lock(&kzt_pers_lru_lock);
	list_del(&pampd->lru);
	kzt_pers_lru_len--;
	spin_unlock(&kzt_pers_lru_lock);
}

/*
 * The pool overflows: hold exclusive loads off for as many successful
 * stores as it holds pages, about the time it takes to turn over.  A
 * racing pause may set an older count; either is as good.  Nothing to
 * do (and no shared cache line to write on every declined store) while
 * exclusive loads are off.
 */
static void kzt_excl_pause(void)
{
	if (!READ_ONCE(kzt_excl_load_percent))
		return;
	atomic_long_set(&kzt_excl_resume_at,
			atomic_long_read(&kzt_pers_puts) +
			READ_ONCE(kzt_pers_lru_len));
}

/*
 * Does a pool of @pool_bytes call for exclusive loads from @percent of
 * its limit (0: never)?
 */
static bool kzt_excl_pool_wanted(u64 pool_bytes, unsigned int percent)
{
	return percent && kzt_bytes_at(pool_bytes, percent);
}

/*
 * Keep for the loads what a persistent store just summed, so that a
 * load does not sum the pool itself (that costs a read of every
 * store's counters per swap-in).  The note is as old as the last store
 * that got this far: loads with no store in between may take copies
 * out for a while after the pool shrank below the share, or keep them
 * for a while after it grew past it; either only moves the moment.
 * Written only when it changes, so that stores do not share a line
 * with every load for nothing.
 */
static void kzt_excl_note_pool(u64 pool_bytes)
{
	bool at = kzt_excl_pool_wanted(pool_bytes,
				       READ_ONCE(kzt_excl_load_percent));

	if (READ_ONCE(kzt_excl_pool_at) != at)
		WRITE_ONCE(kzt_excl_pool_at, at);
}

/* Are exclusive loads held off, @puts stores in, resuming at @resume_at? */
static bool kzt_excl_paused(long puts, long resume_at)
{
	return (long)((unsigned long)puts - (unsigned long)resume_at) < 0;
}

/* Copy out up to KZT_WB_BATCH of the oldest entries; rotate them. */
static unsigned int kzt_pers_lru_batch(swp_entry_t *batch)
{
	struct kzt_pampd *pampd;
	unsigned int n = 0;

	spin_lock(&kzt_pers_lru_lock);
	while (n < KZT_WB_BATCH && n < kzt_pers_lru_len) {
		pampd = list_first_entry(&kzt_pers_lru, struct kzt_pampd, lru);
		list_move_tail(&pampd->lru, &kzt_pers_lru);
		batch[n++] = pampd->entry;
	}
	spin_unlock(&kzt_pers_lru_lock);
	return n;
}

static int kzt_entry_cmp(const void *a, const void *b)
{
	const swp_entry_t *x = a, *y = b;

	if (x->val == y->val)
		return 0;
	return x->val < y->val ? -1 : 1;
}

/* Write one sorted batch back; returns the number written. */
static unsigned int kzt_writeback_batch(swp_entry_t *batch, unsigned int n)
{
	unsigned int i, written = 0;
	struct blk_plug plug;
	int ret;

	sort(batch, n, sizeof(*batch), kzt_entry_cmp, NULL);
	blk_start_plug(&plug);
	for (i = 0; i < n; i++) {
		ret = frontswap_writeback(swp_type(batch[i]),
					  swp_offset(batch[i]));
		if (!ret) {
			written++;
			atomic_long_inc(&kzt_pers_written_back);
		} else if (ret == -EEXIST || ret == -ENOENT) {
			atomic_long_inc(&kzt_pers_writeback_skipped);
		} else {
			atomic_long_inc(&kzt_pers_writeback_failed);
		}
	}
	blk_finish_plug(&plug);
	return written;
}

/* Is the ephemeral half claiming room the persistent half holds? */
static bool kzt_split_wanted(void)
{
	return kzt_eph_claiming() && kzt_pers_at_split();
}

static void kzt_writeback_work(struct work_struct *work)
{
	/* A work item never runs twice at once: one buffer is enough. */
	static swp_entry_t batch[KZT_WB_BATCH];
	unsigned long budget;
	unsigned int n;

	/* Each page at most once per run, even if nothing gets freed. */
	spin_lock(&kzt_pers_lru_lock);
	budget = kzt_pers_lru_len;
	spin_unlock(&kzt_pers_lru_lock);

	while (budget && READ_ONCE(kzt_writeback) &&
	       (kzt_pool_at(READ_ONCE(kzt_accept_percent)) ||
		kzt_split_wanted())) {
		if (kzt_eph_above_share() && zbud_shrink(kzt_zbud, 1))
			continue;
		n = kzt_pers_lru_batch(batch);
		if (!n || !kzt_writeback_batch(batch, n))
			break;
		budget -= min_t(unsigned long, budget, n);
		cond_resched();
	}
	WRITE_ONCE(kzt_pers_full, false);
}

static DECLARE_WORK(kzt_wb_work, kzt_writeback_work);

/*
 * Is a writeback worth starting?  Writing a compressed page back costs
 * a decompression, frees only its compressed bytes, and the page is as
 * likely to be wanted again as the one that would be declined in its
 * place: on pages that all compress, writeback turned out to be pure
 * churn (memhog-text-480 1.14x, memhog-mixed-480 1.28x the modeled time
 * of declining, README "Writeback policy").  A raw page is the other
 * way round: it costs nothing to write, frees a whole page, and
 * declining pages that do not compress one by one scatters them over
 * the device in single-page requests.  So the writeback runs while raw
 * pages take at least kzt_wb_min_raw_percent of the pool, and takes the
 * oldest pages of every kind then, so that neighbours go together.
 */
static bool kzt_wb_raw_enough(u64 raw_bytes, u64 pool_bytes,
			      unsigned int min_percent)
{
	return raw_bytes * 100 >= pool_bytes * min_percent;
}

static bool kzt_writeback_pays(u64 pool_bytes)
{
	u64 raw = (u64)atomic_long_read(&kzt_pers_raw_pages) << PAGE_SHIFT;

	return kzt_wb_raw_enough(raw, pool_bytes,
				 READ_ONCE(kzt_wb_min_raw_percent));
}

/*
 * Start the writeback before the pool is full.  Pages a store declines
 * at the limit go to the device one by one, between the slots of pages
 * the pool keeps, while the writeback sends its pages sorted and in
 * batches; how many are declined depends on how soon the work gets to
 * run, i.e. on scheduling and on how fast the device completes.
 * Starting it at kzt_wb_start_percent of the limit lets it bring the
 * pool down to kzt_accept_percent while stores still go in.
 */
static void kzt_writeback_early(u64 pool_bytes)
{
	unsigned int start = max(READ_ONCE(kzt_wb_start_percent),
				 READ_ONCE(kzt_accept_percent));

	if (start >= 100 || !READ_ONCE(kzt_writeback) || !kzt_wb_wq)
		return;
	if (!kzt_bytes_at(pool_bytes, start) ||
	    !kzt_writeback_pays(pool_bytes))
		return;
	kzt_excl_pause();
	if (queue_work(kzt_wb_wq, &kzt_wb_work))
		atomic_long_inc(&kzt_pers_writeback_early);
}

/*
 * Should a persistent store be declined for want of room?  Not while
 * the ephemeral half claims its share and this one holds the rest.  At
 * the limit an old zbud frame is given back first, if the ephemeral
 * half holds more than its share; if that is not enough, the writeback
 * starts (when it is on and pays) and stores wait for it.
 */
static bool kzt_pers_no_room(void)
{
	u64 pool_bytes;

	if (READ_ONCE(kzt_pers_full))
		return true;
	if (kzt_split_wanted()) {
		atomic_long_inc(&kzt_pers_split_declined);
		return true;
	}
	pool_bytes = kzt_pool_total_bytes();
	kzt_excl_note_pool(pool_bytes);
	if (!kzt_bytes_at(pool_bytes, 100)) {
		kzt_writeback_early(pool_bytes);
		return false;
	}
	if (kzt_make_room(true))
		return false;
	if (!READ_ONCE(kzt_writeback) || !kzt_wb_wq)
		return true;
	if (kzt_writeback_pays(kzt_pool_total_bytes())) {
		WRITE_ONCE(kzt_pers_full, true);
		queue_work(kzt_wb_wq, &kzt_wb_work);
	} else {
		atomic_long_inc(&kzt_pers_writeback_held_off);
	}
	return true;
}

/* kzt_pers_no_room(); a store declined pauses exclusive loads. */
static bool kzt_pers_refuse(void)
{
	if (!kzt_pers_no_room())
		return false;
	kzt_excl_pause();
	return true;
}

/* The largest compressed size the persistent PAM keeps */
static unsigned int kzt_pers_limit(void)
{
	return min_t(size_t, READ_ONCE(kzt_compress_limit),
		     kzt_pers_store->ops->max_size);
}

/*
 * Cheap rejects
 *
 * Compressing a page only to find it does not fit under the limit is
 * the most expensive way to decline it.  So before compressing, the
 * swap path looks at KZT_SAMPLE_CHUNKS chunks of KZT_SAMPLE_BYTES bytes,
 * one from the middle of each equal part of the page, and calls a chunk
 * noise when it holds at least KZT_NOISE_DISTINCT distinct byte values:
 * 64 random bytes hold 57 on average and fewer than 44 about once in
 * 10^4 chunks, while text holds fewer than 30.  Noise does not compress,
 * so a page cannot shrink below the parts of it whose chunk is noise;
 * if those alone exceed @limit the page is declined at once.  With the
 * default limit (7/8 of a page) that takes every chunk being noise.
 * What this gets wrong is noise that repeats within the page, which an
 * LZ compressor would find; the kztmem_reject KUnit suite measures the
 * false rejects on the workload patterns.
 *
 * Every store pays for the sample, so it stops as soon as the answer is
 * known: a chunk as soon as it has shown KZT_NOISE_DISTINCT values, the
 * page as soon as the chunks left could no longer change the verdict.
 * With the default limit a page of text is let through after its first
 * chunk.  The verdict is the one all the chunks would give.
 */
#define KZT_SAMPLE_CHUNKS	8
#define KZT_SAMPLE_BYTES	64
#define KZT_NOISE_DISTINCT	40

static bool kzt_chunk_is_noise(const u8 *chunk)
{
	DECLARE_BITMAP(seen, 256);
	unsigned int i, distinct = 0;

	bitmap_zero(seen, 256);
	for (i = 0; i < KZT_SAMPLE_BYTES; i++) {
		if (__test_and_set_bit(chunk[i], seen))
			continue;
		if (++distinct >= KZT_NOISE_DISTINCT)
			return true;
	}
	return false;
}

static bool kzt_cheap_reject(const void *data, unsigned int limit)
{
	const unsigned int part = PAGE_SIZE / KZT_SAMPLE_CHUNKS;
	const u8 *chunk = (const u8 *)data + (part - KZT_SAMPLE_BYTES) / 2;
	unsigned int i, noise = 0;

	BUILD_BUG_ON(PAGE_SIZE / KZT_SAMPLE_CHUNKS < KZT_SAMPLE_BYTES);
	for (i = 0; i < KZT_SAMPLE_CHUNKS; i++, chunk += part) {
		/* Even if every chunk left were noise, the page could fit. */
		if ((noise + KZT_SAMPLE_CHUNKS - i) * part <= limit)
			return false;
		noise += kzt_chunk_is_noise(chunk);
		if (noise * part > limit)
			return true;
	}
	return false;
}

/*
 * Compress @src into the persistent store and fill in @pampd.  Only the
 * allocation and the copy into it are atomic (the store's locks); the
 * compression runs under the per-CPU mutex with interrupts and
 * preemption on.
 */
static int kzt_pers_compress(const void *src, struct kzt_pampd *pampd)
{
	unsigned int limit = kzt_pers_limit();
	struct kzt_comp_ctx *ctx;
	unsigned long handle;
	unsigned int len;
	u32 offset;
	void *dst;
	int ret;

	ctx = kzt_pers_ctx_lock();
	ret = kzt_compress(ctx, src, &len);
	if (ret)
		goto unlock;
	if (len > limit) {
		ret = -E2BIG;
		goto unlock;
	}

	ret = kzt_store_alloc(kzt_pers_store, len,
			      KZT_STORE_GFP | __GFP_HIGHMEM, &handle, &offset);
	if (ret) {
		atomic_long_inc(&kzt_failed_alloc);
		goto unlock;
	}

	dst = kzt_store_map(kzt_pers_store, handle, offset, KZT_STORE_WO);
	memcpy(dst, ctx->dst, len);
	kzt_store_unmap(kzt_pers_store, handle, offset, dst);

	pampd->handle = handle;
	pampd->offset = offset;
	pampd->len = len;
unlock:
	kzt_pers_ctx_unlock(ctx);
	return ret;
}

/*
 * Raw pages
 *
 * Without writeback, a page that does not compress below the limit is
 * declined and goes to its swap slot at once.  Such pages sit between
 * stored ones, so their writes seldom merge: on a mix of pages a backend
 * that declines a quarter of them turns plain swap's large requests
 * into many small ones.  With writeback on, kztmem keeps such a page
 * uncompressed instead, in a page of its own counted in the pool; it
 * then reaches the device with its neighbours, in the sorted batches
 * of the writeback, when the pool is full.
 */
static bool kzt_keep_raw(void)
{
	return READ_ONCE(kzt_writeback) && kzt_wb_wq;
}

static int kzt_pers_store_raw(const void *src, struct kzt_pampd *pampd)
{
	struct page *page;
	void *dst;

	page = alloc_page(KZT_STORE_GFP | __GFP_HIGHMEM);
	if (!page) {
		atomic_long_inc(&kzt_failed_alloc);
		return -ENOMEM;
	}
	dst = kmap_local_page(page);
	memcpy(dst, src, PAGE_SIZE);
	kunmap_local(dst);
	pampd->handle = (unsigned long)page;
	pampd->offset = 0;
	pampd->len = PAGE_SIZE;
	pampd->raw = true;
	kzt_stat_inc(&kzt_pers_raw_pages, &kzt_pers_raw_pages_max);
	return 0;
}

/*
 * A stored page is charged to its cgroup, as zswap charges it: the bytes
 * it takes in the store count in the cgroup's memory and in its
 * memory.zswap.current, and a cgroup at its memory.zswap.max stores
 * nothing more until some of its pages leave.  The check is made before
 * the compression and may let a cgroup go over by the pages being
 * stored at that moment, as zswap's does.
 */
static void *kzt_pers_pampd_create(struct tmem_pool *pool,
				   const struct tmem_oid *oid, pgoff_t index,
				   struct page *page)
{
	struct obj_cgroup *objcg;
	struct kzt_pampd *pampd;
	unsigned long value;
	bool same_filled, poor;
	void *src;
	int ret;

	objcg = get_obj_cgroup_from_page(page);
	if (objcg && !obj_cgroup_may_zswap(objcg)) {
		obj_cgroup_put(objcg);
		atomic_long_inc(&kzt_cgroup_limit_hit);
		return ERR_PTR(-ENOSPC);
	}

	pampd = kmem_cache_alloc(kzt_pampd_cache, KZT_STORE_GFP);
	if (!pampd) {
		if (objcg)
			obj_cgroup_put(objcg);
		atomic_long_inc(&kzt_failed_alloc);
		return ERR_PTR(-ENOMEM);
	}

	pampd->raw = false;
	src = kmap_local_page(page);
	same_filled = kzt_page_same_filled(src, &value);
	poor = !same_filled && kzt_cheap_reject(src, kzt_pers_limit());
	if (poor)
		atomic_long_inc(&kzt_pers_cheap_rejects);
	if (same_filled) {
		pampd->handle = 0;
		pampd->value = value;
		ret = 0;
	} else if (poor && !kzt_keep_raw()) {
		ret = -E2BIG;
	} else if (kzt_pers_refuse()) {
		atomic_long_inc(&kzt_pool_limit_hit);
		kzt_share_vote(-1);
		ret = -ENOSPC;
	} else {
		ret = poor ? -E2BIG : kzt_pers_compress(src, pampd);
		if (ret == -E2BIG && kzt_keep_raw())
			ret = kzt_pers_store_raw(src, pampd);
	}
	kunmap_local(src);
	if (ret == -E2BIG)
		atomic_long_inc(&kzt_compress_poor);

	if (ret) {
		if (objcg)
			obj_cgroup_put(objcg);
		kmem_cache_free(kzt_pampd_cache, pampd);
		return ERR_PTR(ret);
	}

	refcount_set(&pampd->refs, 1);
	pampd->objcg = objcg;
	if (objcg)
		obj_cgroup_charge_zswap(objcg, kzt_pampd_bytes(pampd));
	if (same_filled)
		atomic_long_inc(&kzt_same_filled_pages);
	else
		atomic_long_add(pampd->len, &kzt_pers_compressed_bytes);
	pampd->entry = swp_entry((unsigned long)pool->private,
				 kzt_swap_offset(oid, index));
	kzt_pers_lru_add(pampd);
	kzt_stat_inc(&kzt_curr_pers_pampd_count, &kzt_curr_pers_pampd_count_max);
	return pampd;
}

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
/*
 * /sys/kernel/debug/kztmem_fail_load/ makes a load of a stored persistent
 * page fail as a damaged one would, so that the path of a lost page can
 * be tested from user space.
 */
static DECLARE_FAULT_ATTR(kzt_fail_load);

static bool kzt_should_fail_load(void)
{
	return should_fail(&kzt_fail_load, 1);
}

static void __init kzt_fail_load_debugfs(void)
{
	fault_create_debugfs_attr("kztmem_fail_load", NULL, &kzt_fail_load);
}
#else
static bool kzt_should_fail_load(void)
{
	return false;
}

static void __init kzt_fail_load_debugfs(void)
{
}
#endif

/*
 * Decompress @pampd's data into the page mapped at @dst, with @ctx (this
 * CPU's persistent context, its mutex held).  An object whose mapping
 * disables preemption (kzt_store_map_atomic(): zsmalloc's, and the split
 * store's larger ones) only has its data copied out under it, into the
 * context's buffer, which is decompressed after the unmap; others are
 * decompressed where they lie.
 */
static int kzt_pers_decompress(struct kzt_comp_ctx *ctx,
			       const struct kzt_pampd *pampd, void *dst)
{
	struct kzt_store *store = kzt_pers_store;
	void *src;
	int ret;

	src = kzt_store_map(store, pampd->handle, pampd->offset, KZT_STORE_RO);
	if (!kzt_store_map_atomic(store, pampd->offset)) {
		ret = kzt_decompress(ctx, src, pampd->len, dst);
		kzt_store_unmap(store, pampd->handle, pampd->offset, src);
		return ret;
	}
	memcpy(ctx->dst, src, pampd->len);
	kzt_store_unmap(store, pampd->handle, pampd->offset, src);
	return kzt_decompress(ctx, ctx->dst, pampd->len, dst);
}

/*
 * Called by tmem_get() with no tmem lock held, on a pampd it holds a
 * reference to; takes the per-CPU context's mutex, so it may sleep.
 */
static int kzt_pers_pampd_get_data(struct tmem_pool *pool, void *data,
				   struct page *page)
{
	struct kzt_pampd *pampd = data;
	struct kzt_comp_ctx *ctx;
	void *dst;
	int ret;

	if (kzt_should_fail_load())
		return -EIO;

	if (!pampd->handle) {
		dst = kmap_local_page(page);
		memset_l(dst, pampd->value, PAGE_SIZE / sizeof(unsigned long));
		kunmap_local(dst);
		return 0;
	}
	if (pampd->raw) {
		copy_highpage(page, (struct page *)pampd->handle);
		return 0;
	}

	ctx = kzt_pers_ctx_lock();
	dst = kmap_local_page(page);
	ret = kzt_pers_decompress(ctx, pampd, dst);
	kunmap_local(dst);
	kzt_pers_ctx_unlock(ctx);
	return ret;
}

/* Under a bucket lock: pin @data for a load that reads it after. */
static void kzt_pers_pampd_hold(struct tmem_pool *pool, void *data)
{
	struct kzt_pampd *pampd = data;

	refcount_inc(&pampd->refs);
}

static void kzt_pers_pampd_free(struct tmem_pool *pool, void *data)
{
	struct kzt_pampd *pampd = data;

	if (!refcount_dec_and_test(&pampd->refs))
		return;
	kzt_pers_lru_del(pampd);
	if (pampd->objcg) {
		obj_cgroup_uncharge_zswap(pampd->objcg, kzt_pampd_bytes(pampd));
		obj_cgroup_put(pampd->objcg);
	}
	if (pampd->raw) {
		atomic_long_sub(pampd->len, &kzt_pers_compressed_bytes);
		__free_page((struct page *)pampd->handle);
		atomic_long_dec(&kzt_pers_raw_pages);
	} else if (pampd->handle) {
		atomic_long_sub(pampd->len, &kzt_pers_compressed_bytes);
		kzt_store_free(kzt_pers_store, pampd->handle, pampd->offset);
	} else {
		atomic_long_dec(&kzt_same_filled_pages);
	}
	atomic_long_dec(&kzt_curr_pers_pampd_count);
	kmem_cache_free(kzt_pampd_cache, pampd);
}

static const struct tmem_pamops kzt_pers_pamops = {
	.create = kzt_pers_pampd_create,
	.get_data = kzt_pers_pampd_get_data,
	.hold = kzt_pers_pampd_hold,
	.free = kzt_pers_pampd_free,
};

/*
 * The frontswap half
 *
 * kzt_frontswap_pools[type] is the persistent pool of a swap type.  It
 * is created by the first swapon of that type (under swapon_mutex) and
 * kept for later swapons; swapoff only empties it.  The pointer is
 * published before swapon makes the device usable, so the data path
 * reads it without a lock.
 */
static struct tmem_pool *kzt_frontswap_pools[MAX_SWAPFILES];

static struct tmem_pool *kzt_swap_pool(unsigned int type)
{
	if (type >= MAX_SWAPFILES)
		return NULL;
	return READ_ONCE(kzt_frontswap_pools[type]);
}

static void kzt_frontswap_init(unsigned int type)
{
	struct tmem_pool *pool;

	if (type >= MAX_SWAPFILES || kzt_swap_pool(type))
		return;
	/* The pool's private data is its swap type, for the writeback. */
	pool = tmem_pool_create(TMEM_POOL_PERSIST, &kzt_pers_pamops,
				&kzt_hostops, (void *)(unsigned long)type);
	if (IS_ERR(pool)) {
		pr_warn("no pool for swap type %u: %ld\n", type, PTR_ERR(pool));
		return;
	}
	WRITE_ONCE(kzt_frontswap_pools[type], pool);
}

static int kzt_frontswap_store(unsigned int type, pgoff_t offset,
			       struct page *page)
{
	struct tmem_pool *pool = kzt_swap_pool(type);
	struct tmem_oid oid;
	pgoff_t index;

	index = kzt_swap_name(offset, &oid);
	if (!pool || tmem_put(pool, &oid, index, page)) {
		atomic_long_inc(&kzt_failed_pers_puts);
		return -1;
	}
	atomic_long_inc(&kzt_pers_puts);
	return 0;
}

/*
 * Should a load take the page's copy out of the pool?  Only for a page
 * in the swap cache, with exclusive loads on (@percent > 0) and the
 * pool at @percent of its limit or above when last summed (@pool_at,
 * see kzt_excl_note_pool()).
 */
static bool kzt_excl_load_wanted(bool in_swap_cache, unsigned int percent,
				 bool pool_at)
{
	return in_swap_cache && percent && pool_at;
}

/*
 * Is @pampd a copy an exclusive load may take out: one that holds at
 * most @max_bytes of the pool (a raw page holds PAGE_SIZE)?  A
 * same-filled page holds none and stays.
 */
static bool kzt_excl_copy_wanted(const struct kzt_pampd *pampd,
				 unsigned int max_bytes)
{
	return pampd->handle && pampd->len <= max_bytes;
}

/* tmem_flush_page_if()'s question, under the bucket lock. */
static bool kzt_excl_copy_flush(void *pampd)
{
	return kzt_excl_copy_wanted(pampd, READ_ONCE(kzt_excl_load_max_bytes));
}

/*
 * frontswap asks for a page only if our store of it succeeded, and then
 * the swap slot on the device was never written: kztmem holds the only
 * copy.  So a page that cannot be given back (its compressed data is
 * damaged, or it is missing, which would be a bug) is lost.  Say so with
 * -EIO, which makes the swap-in fail and the faulting task get SIGBUS,
 * rather than -ENOENT, which would make swap_readpage() read whatever
 * the device holds there.
 */
static int kzt_frontswap_load(unsigned int type, pgoff_t offset,
			      struct page *page, bool *exclusive)
{
	struct tmem_pool *pool = kzt_swap_pool(type);
	unsigned int excl = READ_ONCE(kzt_excl_load_percent);
	struct tmem_oid oid;
	pgoff_t index;
	int ret;

	index = kzt_swap_name(offset, &oid);
	ret = pool ? tmem_get(pool, &oid, index, page) : -ENOENT;
	if (ret) {
		atomic_long_inc(&kzt_failed_pers_gets);
		pr_err_ratelimited("swap type %u offset %lu: stored page lost (%d)\n",
				   type, offset, ret);
		return -EIO;
	}
	atomic_long_inc(&kzt_pers_gets);
	/*
	 * Only for a page locked in the swap cache: nothing else loads,
	 * stores or invalidates this slot until the page leaves it, so the
	 * copy just read is the one freed.  A device that skips the swap
	 * cache (SWP_SYNCHRONOUS_IO) may have two faults read one slot at
	 * once; there the copy stays until the slot is freed.
	 */
	if (!kzt_excl_load_wanted(PageSwapCache(page), excl,
				  READ_ONCE(kzt_excl_pool_at)))
		return 0;
	if (kzt_excl_paused(atomic_long_read(&kzt_pers_puts),
			    atomic_long_read(&kzt_excl_resume_at))) {
		atomic_long_inc(&kzt_pers_exclusive_paused);
	} else if (!tmem_flush_page_if(pool, &oid, index,
				       kzt_excl_copy_flush)) {
		atomic_long_inc(&kzt_pers_exclusive_gets);
		*exclusive = true;
	}
	return 0;
}

static void kzt_frontswap_invalidate_page(unsigned int type, pgoff_t offset)
{
	struct tmem_pool *pool = kzt_swap_pool(type);
	struct tmem_oid oid;
	pgoff_t index;

	atomic_long_inc(&kzt_flush_total);
	index = kzt_swap_name(offset, &oid);
	if (pool && !tmem_flush_page(pool, &oid, index))
		atomic_long_inc(&kzt_flush_found);
}

static void kzt_frontswap_invalidate_area(unsigned int type)
{
	struct tmem_pool *pool = kzt_swap_pool(type);
	unsigned long objs;

	if (!pool)
		return;
	objs = tmem_flush_pool(pool);
	atomic_long_add(objs, &kzt_flobj_total);
	atomic_long_add(objs, &kzt_flobj_found);
	/*
	 * The pages that overflowed the pool may be gone with the device,
	 * and the pool is smaller: the next store sums it again.
	 */
	atomic_long_set(&kzt_excl_resume_at, atomic_long_read(&kzt_pers_puts));
	WRITE_ONCE(kzt_excl_pool_at, false);
}

static const struct frontswap_ops kzt_frontswap_ops = {
	.init = kzt_frontswap_init,
	.store = kzt_frontswap_store,
	.load = kzt_frontswap_load,
	.invalidate_page = kzt_frontswap_invalidate_page,
	.invalidate_area = kzt_frontswap_invalidate_area,
};

#ifdef CONFIG_CLEANCACHE
/*
 * The ephemeral PAM: compressed pages in zbud
 *
 * The pampd of an ephemeral page is its zbud handle.  The frame keeps
 * the page's tmem name (pool id, object id, index) next to the data, so
 * that the zbud shrinker can find the tmem entry again.
 *
 * The cleancache half
 * -------------------
 * Each mounted file system that opts in gets an ephemeral tmem pool; its
 * cleancache pool id is the index of its struct kzt_eph_pool in
 * kzt_eph_pools[].  A file key (inode number or file handle, unused
 * bytes zero) is the tmem object id and the page index is the tmem
 * index.  Shared pools are not supported.
 *
 * Pool lifetime: kzt_eph_pools_mutex serializes creating and destroying
 * pools (init_fs and invalidate_fs, which run in process context under
 * cleancache's own pool mutex).  Everything else looks a pool up under
 * rcu_read_lock() and holds it by @users until done: the page hooks and
 * the zbud shrinker's evict callback, neither of which may sleep.  A
 * pool being destroyed is first unpublished, then an RCU grace period
 * makes sure every lookup that found it has raised @users, then the
 * destroyer waits for @users to drop to zero before flushing and
 * freeing it.  Lock order: cleancache's pool mutex, then
 * kzt_eph_pools_mutex, then tmem's bucket locks, then zbud's pool lock;
 * the per-CPU compression lock nests outside zbud's and xvmalloc's pool
 * locks only, never around a bucket lock: a store at the pool limit
 * evicts (kzt_make_room(), which goes through tmem) before it takes it.
 */
#define KZT_MAX_EPH_POOLS	32
#define KZT_ZBUD_MAX_UNUSED	16

/*
 * struct kzt_eph_pool - one file system's ephemeral pool
 * @tmem:	the tmem pool
 * @users:	lookups in progress
 * @id:		the cleancache pool id, the index in kzt_eph_pools[]
 */
struct kzt_eph_pool {
	struct tmem_pool *tmem;
	atomic_t users;
	u32 id;
};

static struct kzt_eph_pool __rcu *kzt_eph_pools[KZT_MAX_EPH_POOLS];
static DEFINE_MUTEX(kzt_eph_pools_mutex);

static struct kzt_eph_pool *kzt_eph_pool_get(int id)
{
	struct kzt_eph_pool *ep;

	if (id < 0 || id >= KZT_MAX_EPH_POOLS)
		return NULL;
	rcu_read_lock();
	ep = rcu_dereference(kzt_eph_pools[id]);
	if (ep)
		atomic_inc(&ep->users);
	rcu_read_unlock();
	return ep;
}

static void kzt_eph_pool_put(struct kzt_eph_pool *ep)
{
	if (atomic_dec_and_test(&ep->users))
		wake_up_var(&ep->users);
}

/*
 * Admission to the cleancache half
 *
 * A file read in a loop longer than the page cache and the pool together
 * defeats a pool that keeps the newest pages: each page is evicted before
 * its turn comes again, so every put is a compression for nothing.  On
 * filecheck-reread-512, admitting every evicted page cost 192,000
 * compressions for 44,700 hits; admitting a quarter of them, the same
 * quarter each time, cost 58,700 for 45,800 hits and 40% less CPU
 * time.  A fixed subset spans the whole loop and stays until it is read.
 *
 * Pages are admitted in runs of KZT_CC_RUN_PAGES, aligned in the file,
 * so that the pages left to the disk stay in runs that readahead reads
 * in one request.  A run is admitted when the low kzt_cc_admit_shift
 * bits of a hash of its file and its number are zero: one run in
 * 2^shift, the same runs every time.
 *
 * The shift (cc_admit_shift) adapts, between 0 (every page admitted)
 * and cc_admit_max_shift.  Hits are what the pool is for; waste is a
 * page it compressed for nothing, i.e. evicted before anyone read it,
 * or found no free page for its zbud frame.  Every KZT_CC_WINDOW events
 * of either kind, waste above the hits raises the shift (admit half as
 * many), waste below an eighth of the hits lowers it.  In between, the
 * shift stays where it is: a pool that just holds what it admits sees
 * hits and little waste, and admitting twice as much would push it
 * back over the edge.  Writing either tunable starts a window with
 * nothing counted yet; a shift above the ceiling counts as the ceiling.
 */
#define KZT_CC_RUN_PAGES		32
#define KZT_CC_WINDOW			1024
#define KZT_CC_ADMIT_MAX_SHIFT_DEFAULT	3

static unsigned int kzt_cc_admit_max_shift = KZT_CC_ADMIT_MAX_SHIFT_DEFAULT;
static unsigned int kzt_cc_admit_shift;
static atomic_t kzt_cc_hits_seen;
static atomic_t kzt_cc_waste_seen;
static atomic_t kzt_cc_events;

static atomic_long_t kzt_eph_not_admitted;	/* puts left out */
static atomic_long_t kzt_cc_admit_raised;	/* admitting fewer */
static atomic_long_t kzt_cc_admit_lowered;	/* admitting more */

#define KZT_CC_ADMIT_SHIFT_MAX		6

/* The shift after a window of @hits and @waste, within [0, @max] */
static unsigned int kzt_cc_admit_step(unsigned int shift, unsigned int hits,
				      unsigned int waste, unsigned int max)
{
	shift = min(shift, max);
	if (waste > hits && shift < max)
		return shift + 1;
	if ((u64)waste * 8 < hits && shift > 0)
		return shift - 1;
	return shift;
}

/* Count a hit or a wasted compression; close the window when it is full */
static void kzt_cc_admit_event(bool hit)
{
	unsigned int shift, next, hits, waste;

	atomic_inc(hit ? &kzt_cc_hits_seen : &kzt_cc_waste_seen);
	if (atomic_inc_return(&kzt_cc_events) % KZT_CC_WINDOW)
		return;
	hits = atomic_xchg(&kzt_cc_hits_seen, 0);
	waste = atomic_xchg(&kzt_cc_waste_seen, 0);
	shift = READ_ONCE(kzt_cc_admit_shift);
	next = kzt_cc_admit_step(shift, hits, waste,
				 READ_ONCE(kzt_cc_admit_max_shift));
	WRITE_ONCE(kzt_cc_admit_shift, next);
	kzt_count_step(shift, next, &kzt_cc_admit_raised,
		       &kzt_cc_admit_lowered);
}

/* Is page @index of file @oid in a run admitted at @shift? */
static bool kzt_cc_run_admitted(const struct tmem_oid *oid, pgoff_t index,
				unsigned int shift)
{
	u64 key;

	if (!shift)
		return true;
	key = oid->oid[0] ^ oid->oid[1] ^ oid->oid[2];
	key ^= (u64)(index / KZT_CC_RUN_PAGES) * GOLDEN_RATIO_64;
	return !(hash_64(key, 32) & ((1U << shift) - 1));
}

/* Does the pool admit page @index of file @oid now? */
static bool kzt_cc_admitted(const struct tmem_oid *oid, pgoff_t index)
{
	unsigned int shift = min(READ_ONCE(kzt_cc_admit_shift),
				 READ_ONCE(kzt_cc_admit_max_shift));

	if (kzt_cc_run_admitted(oid, index, shift))
		return true;
	atomic_long_inc(&kzt_eph_not_admitted);
	return false;
}

/*
 * Ghosts of evicted clean pages
 *
 * A hit tells that the pool kept a page someone wanted; nothing told
 * that it gave one back.  On anon-file-mix-832, memhog's pressure has
 * the shrinker take every clean page before filecheck's loop comes
 * round to it, so there is no hit, and without hits the share (above)
 * stays at its minimum and never stands in the shrinker's way.  So an
 * eviction leaves a ghost: a 32-bit tag of the page's key, in a slot of
 * kzt_ghosts chosen by other bits of the same hash.  A get that misses
 * takes its ghost if it is there: a ghost hit, a disk read the pool
 * would have saved had it kept the page.  With eph_share_guard, ghost
 * hits vote for the share as hits do.
 *
 * A slot keeps the newest ghost that hashed to it, so the table forgets
 * on its own: a ghost outlives the next N evictions with a chance of
 * about e^(-N / KZT_GHOSTS).  A tag matches a stranger's once in 2^31
 * lookups.  Nothing is locked: a racing eviction may overwrite a ghost
 * and a racing get miss it; the table feeds a count, not a record.
 * It takes KZT_GHOSTS * 4 bytes (128 KiB), allocated with the zbud pool
 * and counted apart from it, as the compression buffers are.
 */
#define KZT_GHOST_SHIFT		15
#define KZT_GHOSTS		BIT(KZT_GHOST_SHIFT)

static u32 *kzt_ghosts;
static atomic_long_t kzt_eph_ghost_hits;	/* misses an eviction caused */

static u64 kzt_ghost_hash(int pool_id, const struct tmem_oid *oid,
			  pgoff_t index)
{
	u64 h = oid->oid[0];

	h = h * GOLDEN_RATIO_64 ^ oid->oid[1];
	h = h * GOLDEN_RATIO_64 ^ oid->oid[2];
	h = h * GOLDEN_RATIO_64 ^ index;
	h = h * GOLDEN_RATIO_64 ^ (u32)pool_id;
	return h * GOLDEN_RATIO_64;
}

static u32 *kzt_ghost_slot(u64 hash)
{
	return &kzt_ghosts[hash >> (64 - KZT_GHOST_SHIFT)];
}

/* The tag: bits below the slot's, never 0 (an empty slot) */
static u32 kzt_ghost_tag(u64 hash)
{
	return (u32)(hash >> (32 - KZT_GHOST_SHIFT)) | 1;
}

static void kzt_ghost_note(u64 hash)
{
	if (kzt_ghosts)
		WRITE_ONCE(*kzt_ghost_slot(hash), kzt_ghost_tag(hash));
}

/* Was the page of @hash evicted lately?  Each ghost answers once. */
static bool kzt_ghost_take(u64 hash)
{
	u32 *slot, tag;

	if (!kzt_ghosts)
		return false;
	slot = kzt_ghost_slot(hash);
	tag = kzt_ghost_tag(hash);
	return READ_ONCE(*slot) == tag && cmpxchg(slot, tag, 0) == tag;
}

static unsigned int kzt_eph_compress_limit(void)
{
	return min_t(unsigned int, READ_ONCE(kzt_compress_limit),
		     zbud_max_size());
}

/*
 * An ephemeral store found the pool full while its half holds less than
 * its share: keep the persistent half out of the share for a while and
 * have the writeback give it back.  May run with interrupts off.
 */
static void kzt_eph_claim(void)
{
	WRITE_ONCE(kzt_eph_claim_until, jiffies + KZT_EPH_CLAIM);
	atomic_long_inc(&kzt_eph_room_claims);
	if (READ_ONCE(kzt_writeback) && kzt_wb_wq && kzt_pers_at_split())
		queue_work(kzt_wb_wq, &kzt_wb_work);
}

/*
 * Make room for an ephemeral page if the pool is at its limit.  Runs
 * before the compression context is taken: evicting goes through tmem.
 */
static bool kzt_eph_room(void)
{
	if (!kzt_pool_at_limit())
		return true;
	if (kzt_eph_pages() < kzt_eph_share_pages())
		kzt_eph_claim();
	if (kzt_make_room(false))
		return true;
	atomic_long_inc(&kzt_eph_pool_limit_hit);
	return false;
}

/*
 * Memory cgroups
 *
 * A clean page is charged to its page's cgroup as a swapped-out page is
 * (see the persistent PAM): memory.zswap.current and memory.stat's
 * zswap and zswapped count what kztmem holds for a cgroup in both
 * halves, and memory.zswap.max limits both.  The charge is the
 * compressed size (none for a same-filled page, as for zswap's), taken
 * when the page is stored and given back when its entry is freed,
 * whoever frees it: a get, an invalidation, the shrinker.  The cgroup
 * rides with the entry in its zbud back reference (@owner).
 *
 * The limit is checked by the two-step put, before the compression;
 * the check flushes the cgroup's statistics and may sleep, so the
 * one-step put (cc_prepare=0), which runs under the i_pages lock,
 * charges without checking.  A put outside reclaim (drop_caches,
 * fadvise) is charged as reclaim's are: forced, never reclaiming for
 * room, since the page it copies is about to be freed.
 */
#define KZT_EPH_MEMCG_MAX_PERCENT_DEFAULT	0

static unsigned int kzt_eph_memcg_max_percent =
	KZT_EPH_MEMCG_MAX_PERCENT_DEFAULT;

#ifdef CONFIG_MEMCG
/*
 * kztmem's shrinker is not memcg-aware: reclaim on behalf of a cgroup at
 * its memory.max cannot take that cgroup's clean pages back out of
 * kztmem.  Charged without bound, they would end up filling memory.max
 * on their own and the cgroup would be OOM-killed; under a memory.high
 * they would keep the cgroup over it, reclaiming its own pages and
 * throttled on every return to user space.  So a clean page is declined
 * while its cgroup, or an ancestor, with a limit (the lower of
 * memory.max and memory.high)
 * - has less than a page of room under it: such a cgroup is evicting
 *   its own pages to make room, and storing them would charge that room
 *   straight back; or
 * - has eph_memcg_max_percent of it held by kztmem already (both
 *   halves, as memory.zswap.current counts them).
 * The default share is 0: no clean page is kept for a cgroup with a
 * limit.  What kztmem held for one could only leave through a hit,
 * an invalidation or global reclaim, and took that much of the cgroup's
 * own memory meanwhile: on the bench's sort-16 (an 8M cgroup) a share of
 * 50% took 1.16x the time of none, 10% 1.08x.
 * Neither test sleeps, so both puts make them.  The second reads the
 * cgroup's statistics as they stand, without a flush, and so lags them
 * by up to the memcg's flush period; the first is exact.  Both hold on
 * cgroup v1 too, whose limit_in_bytes is the same counter's max (v1 has
 * no memory.high: it stays PAGE_COUNTER_MAX).
 */
static bool kzt_eph_memcg_full(struct obj_cgroup *objcg)
{
	unsigned int pct = READ_ONCE(kzt_eph_memcg_max_percent);
	struct mem_cgroup *memcg;
	bool full = false;

	rcu_read_lock();
	for (memcg = obj_cgroup_memcg(objcg);
	     memcg && memcg != root_mem_cgroup;
	     memcg = parent_mem_cgroup(memcg)) {
		unsigned long limit = min(READ_ONCE(memcg->memory.max),
					  READ_ONCE(memcg->memory.high));

		if (limit == PAGE_COUNTER_MAX)
			continue;
		if (page_counter_read(&memcg->memory) + 1 >= limit ||
		    memcg_page_state(memcg, MEMCG_ZSWAP_B) >=
		    (u64)limit * pct / 100 * PAGE_SIZE) {
			full = true;
			break;
		}
	}
	rcu_read_unlock();
	return full;
}
#else
static bool kzt_eph_memcg_full(struct obj_cgroup *objcg)
{
	return false;
}
#endif

/*
 * The cgroup to charge for @page, with a reference; NULL if none, or
 * ERR_PTR(-ENOSPC) when the page must be declined for its cgroup's
 * sake: its memory.max (kzt_eph_memcg_full(), both puts) or, if @check,
 * its memory.zswap.max (the two-step put only: the check may sleep).
 */
static struct obj_cgroup *kzt_eph_objcg(struct page *page, bool check)
{
	struct obj_cgroup *objcg = get_obj_cgroup_from_page(page);

	if (!objcg)
		return NULL;
	if (kzt_eph_memcg_full(objcg)) {
		obj_cgroup_put(objcg);
		atomic_long_inc(&kzt_eph_memcg_full_hit);
		return ERR_PTR(-ENOSPC);
	}
	if (check && !obj_cgroup_may_zswap(objcg)) {
		obj_cgroup_put(objcg);
		atomic_long_inc(&kzt_eph_cgroup_limit_hit);
		return ERR_PTR(-ENOSPC);
	}
	return objcg;
}

static void kzt_eph_charge(struct obj_cgroup *objcg, size_t size)
{
	unsigned int flags;

	if (!objcg)
		return;
	flags = memalloc_noreclaim_save();
	obj_cgroup_charge_zswap(objcg, size);
	memalloc_noreclaim_restore(flags);
}

/* Give a stored page's charge back and drop its reference on @objcg */
static void kzt_eph_uncharge(struct obj_cgroup *objcg, size_t size)
{
	if (!objcg)
		return;
	obj_cgroup_uncharge_zswap(objcg, size);
	obj_cgroup_put(objcg);
}

/*
 * Ephemeral entries: same-filled and raw pages
 *
 * A page whose words are all equal (a hole read back as zeroes, a
 * preallocated or zero-filled file) compresses to a few bytes, but zbud
 * would still give it half a frame.  It is kept as its value instead,
 * in a struct kzt_eph_entry of its own (64 bytes).
 *
 * A page that will not compress (the cheap reject, or more than the
 * limit once compressed) is kept raw, in a page of its own, when
 * kzt_eph_raw is on (default).  Such pages sit between compressible
 * ones in a file; declining them leaves holes in what cleancache holds,
 * and a hit between two pages the disk must supply ends the readahead
 * request there: on filecheck-reread-512, whose pages are incompressible
 * one in five, kztmem made 2.95x plain swap's disk requests and took
 * 1.19x its modeled time.  Kept raw, an admitted run hits whole.
 *
 * An entry's pampd is its address with bit 1 set.  zbud handles are
 * frame addresses with the buddy number in bit 0, so bit 1 tells the
 * two apart.  Entries and raw pages count as the ephemeral half's
 * memory (the entries in the metadata of the limit).
 *
 * They hold no zbud frame, so zbud's shrinker cannot find them: they
 * sit on kzt_eph_entry_lru, oldest first, and kzt_eph_shrink() evicts
 * them alongside the frames, in proportion to the memory each kind
 * holds.
 * Ownership and eviction follow zbud's protocol (zbud.c, "Eviction").
 * The evictor takes the oldest entry off the list, marks it evicting
 * and copies its name, all under kzt_eph_entry_lock; it then asks tmem
 * to drop the entry if its slot still holds this very pampd.  A free
 * of an evicting entry (tmem's, on that eviction, or a concurrent get's
 * or flush's) only marks it dead.  When tmem returns, the evictor frees
 * a dead entry and puts any other back at the tail of the list: a put
 * prepared before the i_pages lock that was not committed yet, which
 * then stays evictable.  kzt_eph_entry_lock is a leaf lock, taken with
 * interrupts off: entries are freed under tmem's bucket locks and the
 * i_pages lock.
 */
struct kzt_eph_entry {
	struct list_head lru;
	struct zbud_bref bref;
	unsigned long value;
	struct page *raw;
	bool evicting;
	bool dead;
};

#define KZT_EPH_ENTRY_TAG	2UL
#define KZT_EPH_RAW_DEFAULT	1

static unsigned int kzt_eph_raw = KZT_EPH_RAW_DEFAULT;

static LIST_HEAD(kzt_eph_entry_lru);
static DEFINE_SPINLOCK(kzt_eph_entry_lock);

static bool kzt_eph_is_entry(const void *pampd)
{
	return (unsigned long)pampd & KZT_EPH_ENTRY_TAG;
}

static struct kzt_eph_entry *kzt_eph_entry_of(const void *pampd)
{
	return (struct kzt_eph_entry *)((unsigned long)pampd &
				       ~KZT_EPH_ENTRY_TAG);
}

/* Keep @value, or @raw (which the entry takes over), for @bref */
static int kzt_eph_entry_store(const struct zbud_bref *bref,
			       unsigned long value, struct page *raw,
			       unsigned long *handle)
{
	struct kzt_eph_entry *ent;
	unsigned long flags;

	BUILD_BUG_ON(__alignof__(struct kzt_eph_entry) <= KZT_EPH_ENTRY_TAG);
	ent = kmem_cache_alloc(kzt_eph_entry_cache, KZT_EPH_GFP);
	if (!ent)
		return -ENOMEM;
	ent->bref = *bref;
	ent->value = value;
	ent->raw = raw;
	ent->evicting = false;
	ent->dead = false;
	spin_lock_irqsave(&kzt_eph_entry_lock, flags);
	list_add_tail(&ent->lru, &kzt_eph_entry_lru);
	spin_unlock_irqrestore(&kzt_eph_entry_lock, flags);
	atomic_long_inc(raw ? &kzt_eph_raw_pages : &kzt_eph_same_filled_pages);
	*handle = (unsigned long)ent | KZT_EPH_ENTRY_TAG;
	return 0;
}

static void kzt_eph_entry_release(struct kzt_eph_entry *ent)
{
	if (ent->raw) {
		__free_page(ent->raw);
		atomic_long_dec(&kzt_eph_raw_pages);
	} else {
		atomic_long_dec(&kzt_eph_same_filled_pages);
	}
	kmem_cache_free(kzt_eph_entry_cache, ent);
}

/* Free an entry, or leave it to the evictor that holds it */
static void kzt_eph_entry_free(struct kzt_eph_entry *ent)
{
	unsigned long flags;
	bool evicting;

	/* The entry is the caller's: the evictor only reads its name. */
	kzt_eph_uncharge(ent->bref.owner, ent->raw ? PAGE_SIZE : 0);
	ent->bref.owner = NULL;
	spin_lock_irqsave(&kzt_eph_entry_lock, flags);
	evicting = ent->evicting;
	if (evicting)
		ent->dead = true;
	else
		list_del(&ent->lru);
	spin_unlock_irqrestore(&kzt_eph_entry_lock, flags);
	if (!evicting)
		kzt_eph_entry_release(ent);
}

/* Keep @page raw for @bref; @src is its mapping */
static int kzt_eph_raw_store(const struct zbud_bref *bref, const void *src,
			     unsigned long *handle)
{
	struct page *raw = alloc_page(KZT_EPH_GFP);
	int ret;

	if (!raw)
		return -ENOMEM;
	memcpy_to_page(raw, 0, src, PAGE_SIZE);
	ret = kzt_eph_entry_store(bref, 0, raw, handle);
	if (ret)
		__free_page(raw);
	return ret;
}

/*
 * Store @page for @bref as its value if it is same-filled, else compress
 * it with @ctx, held by the caller, into a zbud frame.  A page that does
 * not compress below the limit (most of them found by the cheap reject,
 * see kzt_cheap_reject(), without a compression) is kept raw if
 * kzt_eph_raw is on, else declined.  A stored page is charged to
 * @bref->owner, whose reference it takes over; on failure the caller
 * keeps it.
 */
static int kzt_eph_compress_store(struct kzt_comp_ctx *ctx,
				  const struct zbud_bref *bref,
				  struct page *page, unsigned long *handle)
{
	unsigned int limit = kzt_eph_compress_limit();
	unsigned long value;
	unsigned int len;
	void *src;
	int ret;

	src = kmap_local_page(page);
	if (kzt_page_same_filled(src, &value)) {
		ret = kzt_eph_entry_store(bref, value, NULL, handle);
		kunmap_local(src);
		if (ret) {
			atomic_long_inc(&kzt_failed_alloc);
			return ret;
		}
		len = 0;
		goto stored;
	}
	if (kzt_cheap_reject(src, limit)) {
		ret = -E2BIG;
		atomic_long_inc(&kzt_eph_cheap_rejects);
	} else {
		ret = kzt_compress(ctx, src, &len);
		if (!ret && len > limit)
			ret = -E2BIG;
	}
	if (ret == -E2BIG && READ_ONCE(kzt_eph_raw)) {
		ret = kzt_eph_raw_store(bref, src, handle);
		kunmap_local(src);
		if (ret) {
			atomic_long_inc(&kzt_failed_alloc);
			return ret;
		}
		len = PAGE_SIZE;
		goto stored;
	}
	kunmap_local(src);
	if (ret == -E2BIG)
		atomic_long_inc(&kzt_eph_compress_poor);
	if (ret)
		return ret;
	ret = zbud_store(kzt_zbud, ctx->dst, len, bref, KZT_EPH_GFP, handle);
	if (ret) {
		atomic_long_inc(&kzt_failed_alloc);
		kzt_cc_admit_event(false);
		return ret;
	}
stored:
	kzt_eph_charge(bref->owner, len);
	kzt_stat_inc(&kzt_curr_eph_pampd_count, &kzt_curr_eph_pampd_count_max);
	return 0;
}

/* A one-step put (kztmem.cc_prepare=0), under the i_pages lock. */
static void *kzt_eph_pampd_create(struct tmem_pool *pool,
				  const struct tmem_oid *oid, pgoff_t index,
				  struct page *page)
{
	struct kzt_eph_pool *ep = pool->private;
	struct zbud_bref bref = {
		.oid = *oid,
		.index = index,
		.pool_id = ep->id,
	};
	unsigned long handle, flags;
	int ret;

	if (!kzt_cc_admitted(oid, index))
		return ERR_PTR(-EPERM);
	if (!kzt_eph_room())
		return ERR_PTR(-ENOSPC);

	/* Interrupts are off already (i_pages lock): no mutex here. */
	bref.owner = kzt_eph_objcg(page, false);
	if (IS_ERR(bref.owner))
		return ERR_CAST(bref.owner);
	local_lock_irqsave(&kzt_pcpu.lock, flags);
	ret = kzt_eph_compress_store(this_cpu_ptr(&kzt_pcpu.eph), &bref, page,
				     &handle);
	local_unlock_irqrestore(&kzt_pcpu.lock, flags);

	if (ret && bref.owner)
		obj_cgroup_put(bref.owner);
	return ret ? ERR_PTR(ret) : (void *)handle;
}

/*
 * A cleancache get, in process context: tmem_get() took @pampd out of
 * its slot, so nobody else reads or frees it, and no lock is held.
 */
static int kzt_eph_pampd_get_data(struct tmem_pool *pool, void *pampd,
				  struct page *page)
{
	struct kzt_comp_ctx *ctx;
	unsigned int size;
	const void *src;
	void *dst;
	int ret;

	if (kzt_eph_is_entry(pampd)) {
		const struct kzt_eph_entry *ent = kzt_eph_entry_of(pampd);

		dst = kmap_local_page(page);
		if (ent->raw)
			memcpy_from_page(dst, ent->raw, 0, PAGE_SIZE);
		else
			memset_l(dst, ent->value,
				 PAGE_SIZE / sizeof(unsigned long));
		kunmap_local(dst);
		return 0;
	}
	ctx = kzt_pers_ctx_lock();
	src = zbud_data((unsigned long)pampd, &size);
	dst = kmap_local_page(page);
	ret = kzt_decompress(ctx, src, size, dst);
	kunmap_local(dst);
	kzt_pers_ctx_unlock(ctx);
	return ret;
}

static void kzt_eph_pampd_free(struct tmem_pool *pool, void *pampd)
{
	unsigned long handle = (unsigned long)pampd;
	unsigned int size;

	if (kzt_eph_is_entry(pampd)) {
		kzt_eph_entry_free(kzt_eph_entry_of(pampd));
	} else {
		zbud_data(handle, &size);
		kzt_eph_uncharge(zbud_handle_bref(handle)->owner, size);
		zbud_free(kzt_zbud, handle);
	}
	atomic_long_dec(&kzt_curr_eph_pampd_count);
}

static const struct tmem_pamops kzt_eph_pamops = {
	.create = kzt_eph_pampd_create,
	.get_data = kzt_eph_pampd_get_data,
	.free = kzt_eph_pampd_free,
};

/*
 * zbud's evict callback: drop the entry if it still holds @handle.  Runs
 * from the shrinker or from a store at the pool limit, with no kztmem
 * or zbud lock held.
 */
static int kzt_zbud_evict(struct zbud_pool *zpool,
			  const struct zbud_bref *bref, unsigned long handle)
{
	struct kzt_eph_pool *ep = kzt_eph_pool_get(bref->pool_id);
	int ret = -ENOENT;

	if (ep) {
		ret = tmem_evict_page(ep->tmem, &bref->oid, bref->index,
				      (void *)handle);
		kzt_eph_pool_put(ep);
	}
	if (ret) {
		atomic_long_inc(&kzt_eph_evict_missed);
	} else {
		kzt_ghost_note(kzt_ghost_hash(bref->pool_id, &bref->oid,
					      bref->index));
		kzt_cc_admit_event(false);
	}
	return ret;
}

static const struct zbud_ops kzt_zbud_ops = {
	.evict = kzt_zbud_evict,
};

/* The memory an entry holds: itself, and its raw page if it has one */
static unsigned long kzt_eph_entry_size(const struct kzt_eph_entry *ent)
{
	return kmem_cache_size(kzt_eph_entry_cache) +
	       (ent->raw ? PAGE_SIZE : 0);
}

/*
 * Evict entries, oldest first, until @budget bytes were freed or as many
 * entries were tried as the smallest ones would take to free it (entries
 * put back, owned elsewhere, free nothing).  Returns the bytes freed.
 */
static unsigned long kzt_eph_entry_evict(unsigned long budget)
{
	unsigned long tries = budget / kmem_cache_size(kzt_eph_entry_cache) + 1;
	struct kzt_eph_entry *ent;
	struct zbud_bref bref;
	unsigned long flags, freed = 0;
	bool dead;

	while (freed < budget && tries--) {
		spin_lock_irqsave(&kzt_eph_entry_lock, flags);
		ent = list_first_entry_or_null(&kzt_eph_entry_lru,
					       struct kzt_eph_entry, lru);
		if (ent) {
			list_del(&ent->lru);
			ent->evicting = true;
			bref = ent->bref;
		}
		spin_unlock_irqrestore(&kzt_eph_entry_lock, flags);
		if (!ent)
			break;

		/* zbud's callback: an entry is dropped as a zpage is */
		kzt_zbud_evict(kzt_zbud, &bref,
			       (unsigned long)ent | KZT_EPH_ENTRY_TAG);

		spin_lock_irqsave(&kzt_eph_entry_lock, flags);
		ent->evicting = false;
		dead = ent->dead;
		if (!dead)
			list_add_tail(&ent->lru, &kzt_eph_entry_lru);
		spin_unlock_irqrestore(&kzt_eph_entry_lock, flags);
		if (dead) {
			freed += kzt_eph_entry_size(ent);
			kzt_eph_entry_release(ent);
		}
	}
	return freed;
}

/* The frames' worth of memory the entries and their raw pages take */
static unsigned long kzt_eph_entry_frames(void)
{
	return DIV_ROUND_UP((unsigned long)kzt_eph_entry_bytes(), PAGE_SIZE);
}

/*
 * Give back @nr frames' worth of the ephemeral half: zbud frames and
 * entries in proportion to the memory each kind holds, so that all
 * kinds age at the same pace and an admitted run keeps its pages of
 * every kind together.  The entries' part is rounded down: a store at
 * the limit, which asks for one frame, takes entries only when there
 * are no frames, rather than drain the cheapest pages first.  Returns
 * the frames' worth freed.  Takes no lock of its own across calls into
 * tmem; see zbud_shrink() and kzt_eph_entry_evict().
 */
static unsigned long kzt_eph_shrink(unsigned long nr)
{
	unsigned long ents = kzt_eph_entry_frames();
	unsigned long frames = zbud_reclaimable(kzt_zbud);
	unsigned long nr_ents = 0, freed;

	if (ents)
		nr_ents = nr * ents / (frames + ents);
	freed = DIV_ROUND_UP(kzt_eph_entry_evict(nr_ents * PAGE_SIZE),
			     PAGE_SIZE);
	if (nr > nr_ents)
		freed += zbud_shrink(kzt_zbud, nr - nr_ents);
	return freed;
}

#define KZT_EPH_RECLAIM_COST_DEFAULT	8
#define KZT_EPH_RECLAIM_COST_MAX	16
/* The cost at which the count is the pool's own size: a frame, two pages */
#define KZT_EPH_RECLAIM_COST_BASE	2

static unsigned int kzt_eph_reclaim_cost = KZT_EPH_RECLAIM_COST_DEFAULT;

static unsigned long kzt_eph_frames(void)
{
	return zbud_reclaimable(kzt_zbud) + kzt_eph_entry_frames();
}

/* What reclaim may take of @nr frames' worth when @share stay */
static unsigned long kzt_eph_over_share(unsigned long nr, unsigned long share)
{
	return nr > share ? nr - share : 0;
}

/*
 * What reclaim may take of the ephemeral half now: with eph_share_guard
 * the frames' worth above its share of the pool limit (see "The split
 * between the halves"), else all of it.  eph_reclaim_held counts the
 * times the share kept some back.
 */
static unsigned long kzt_eph_reclaimable(void)
{
	unsigned long nr = kzt_eph_frames();
	unsigned long over;

	if (!READ_ONCE(kzt_eph_share_guard))
		return nr;
	over = kzt_eph_over_share(nr, kzt_eph_share_pages());
	if (over < nr)
		atomic_long_inc(&kzt_eph_reclaim_held);
	return over;
}

/*
 * The shrinker counts and frees zbud frames, and entries a frame's worth
 * of memory at a time; frames that are being evicted already are not
 * counted.  A frame holds up to two pages, each of which costs a disk
 * read to get back, so the shrinker's seeks are twice the default, and
 * the tunable eph_reclaim_cost weighs a frame further: reclaim sees the
 * pool scaled by KZT_EPH_RECLAIM_COST_BASE / cost, so at 8 it scans a
 * quarter as many frames for each page-cache page as at 2, and a clean
 * page stays longer.  At 2 a file loop longer than the page cache found
 * most of its pages gone from the pool before it came round to them: on
 * the bench's filecheck-reread-512 a cost of 8 hit 1.8 times as often
 * (0.58 of plain swap's bytes read, in 0.99 of its time) and cost no
 * time on anon-file-mix-832 or swap-then-reread-832; 16 lost 1% on
 * anon-file-mix-832.
 *
 * The cost applies to reclaim only.  Every reclaim path (direct,
 * kswapd, a memory cgroup's limit, node reclaim) runs with
 * current->reclaim_state set; drop_caches (drop_slab()) runs without
 * one, and there the count is the pool's own size.  drop_slab() asks
 * for freeable * 4 / seeks objects, which at that size is the whole
 * pool, while do_shrink_slab() scans nothing when that is less than a
 * batch and less than the count: a scaled-down count would leave a
 * small pool in place.  So drop_caches levels 2 and 3, which run every
 * shrinker, empty the pool whatever the cost; level 1 (page cache only)
 * feeds it.
 *
 * With eph_share_guard, reclaim's count and scans also leave out the
 * half's share of the pool limit (kzt_eph_reclaimable()); drop_caches
 * still sees it all.
 */
static unsigned long kzt_shrink_count(struct shrinker *shrinker,
				      struct shrink_control *sc)
{
	unsigned long nr;

	if (!current->reclaim_state)
		return kzt_eph_frames();
	nr = kzt_eph_reclaimable();
	return DIV_ROUND_UP(nr * KZT_EPH_RECLAIM_COST_BASE,
			    READ_ONCE(kzt_eph_reclaim_cost));
}

/*
 * Frees sc->nr_to_scan frames' worth: reclaim asks for a share of the
 * scaled count, so the cost scales what it takes as well.  A reclaim
 * scan stops at the share, whatever the count said before.
 */
static unsigned long kzt_shrink_scan(struct shrinker *shrinker,
				     struct shrink_control *sc)
{
	unsigned long nr = sc->nr_to_scan, freed = 0;

	if (current->reclaim_state)
		nr = min(nr, kzt_eph_reclaimable());
	if (nr)
		freed = kzt_eph_shrink(nr);
	atomic_long_add(freed, &kzt_eph_frames_shrunk);
	return freed ? freed : SHRINK_STOP;
}

/*
 * Out of memory: before the OOM killer picks a task, give the whole
 * ephemeral half back and bring its share to the minimum, so that the
 * share reclaim leaves alone never costs a task its life.  @parm counts
 * the pages the notifiers freed; any at all spare the kill this time.
 */
static int kzt_oom_notify(struct notifier_block *nb, unsigned long unused,
			  void *parm)
{
	unsigned long *freed = parm;
	unsigned long nr;

	WRITE_ONCE(kzt_eph_share, READ_ONCE(kzt_eph_min_percent));
	nr = kzt_eph_shrink(kzt_eph_frames());
	if (nr) {
		atomic_long_inc(&kzt_eph_oom_emptied);
		*freed += nr;
	}
	return NOTIFY_OK;
}

static struct notifier_block kzt_oom_nb = {
	.notifier_call = kzt_oom_notify,
};

static struct shrinker kzt_shrinker = {
	.count_objects = kzt_shrink_count,
	.scan_objects = kzt_shrink_scan,
	.seeks = KZT_EPH_RECLAIM_COST_BASE * DEFAULT_SEEKS,
};

static void kzt_cc_oid(const struct cleancache_filekey *key,
		       struct tmem_oid *oid)
{
	BUILD_BUG_ON(sizeof(*key) > sizeof(*oid));
	memset(oid, 0, sizeof(*oid));
	memcpy(oid, key, sizeof(*key));
}

static int kzt_cc_init_fs(size_t pagesize)
{
	struct kzt_eph_pool *ep;
	struct tmem_pool *tmem;
	int id;

	if (pagesize != PAGE_SIZE)
		return -EINVAL;
	ep = kzalloc(sizeof(*ep), GFP_KERNEL);
	if (!ep)
		return -ENOMEM;
	tmem = tmem_pool_create(0, &kzt_eph_pamops, &kzt_hostops, ep);
	if (IS_ERR(tmem)) {
		kfree(ep);
		return PTR_ERR(tmem);
	}
	ep->tmem = tmem;
	atomic_set(&ep->users, 0);

	mutex_lock(&kzt_eph_pools_mutex);
	for (id = 0; id < KZT_MAX_EPH_POOLS; id++)
		if (!rcu_access_pointer(kzt_eph_pools[id]))
			break;
	if (id < KZT_MAX_EPH_POOLS) {
		ep->id = id;
		rcu_assign_pointer(kzt_eph_pools[id], ep);
	}
	mutex_unlock(&kzt_eph_pools_mutex);

	if (id == KZT_MAX_EPH_POOLS) {
		pr_warn_ratelimited("no ephemeral pool left (%d in use)\n",
				    KZT_MAX_EPH_POOLS);
		tmem_destroy_pool(tmem);
		kfree(ep);
		return -ENOSPC;
	}
	return id;
}

static int kzt_cc_init_shared_fs(uuid_t *uuid, size_t pagesize)
{
	return -EOPNOTSUPP;
}

/*
 * Run a tmem page operation (tmem_get or tmem_put) on the page @key and
 * @index name in pool @pool_id.  -ENOENT when the pool is gone, e.g. the
 * file system was unmounted meanwhile.  Inlined, so @op is a direct call.
 */
static __always_inline int
kzt_cc_page_op(int pool_id, const struct cleancache_filekey *key,
	       pgoff_t index, struct page *page,
	       int (*op)(struct tmem_pool *pool, const struct tmem_oid *oid,
			 pgoff_t index, struct page *page))
{
	struct kzt_eph_pool *ep = kzt_eph_pool_get(pool_id);
	struct tmem_oid oid;
	int ret;

	if (!ep)
		return -ENOENT;
	kzt_cc_oid(key, &oid);
	ret = op(ep->tmem, &oid, index, page);
	kzt_eph_pool_put(ep);
	return ret;
}

static int kzt_cc_get_page(int pool_id, struct cleancache_filekey key,
			   pgoff_t index, struct page *page)
{
	struct tmem_oid oid;

	if (kzt_cc_page_op(pool_id, &key, index, page, tmem_get)) {
		atomic_long_inc(&kzt_eph_get_misses);
		kzt_cc_oid(&key, &oid);
		if (kzt_ghost_take(kzt_ghost_hash(pool_id, &oid, index))) {
			atomic_long_inc(&kzt_eph_ghost_hits);
			if (READ_ONCE(kzt_eph_share_guard))
				kzt_share_vote(1);
		}
		return -ENODATA;
	}
	atomic_long_inc(&kzt_eph_gets);
	kzt_share_vote(1);
	kzt_cc_admit_event(true);
	return 0;
}

/*
 * Account a callback that ran under the i_pages lock since @start:
 * histogram bucket 0 counts calls under 256 ns, bucket b > 0 those from
 * 2^(b + 7) ns to twice that, and the last one everything longer.
 */
static void kzt_eph_locked_done(u64 start)
{
	u64 ns = local_clock() - start;
	unsigned int b = 0;

	if (ns >= 256)
		b = min_t(unsigned int, ilog2(ns) - 7, KZT_LOCKED_BUCKETS - 1);
	atomic_long_inc(&kzt_eph_locked_calls);
	atomic_long_add(ns, &kzt_eph_locked_ns);
	atomic_long_inc(&kzt_eph_locked_hist[b]);
}

static void kzt_cc_put_page(int pool_id, struct cleancache_filekey key,
			    pgoff_t index, struct page *page)
{
	u64 start = local_clock();
	int ret;

	/* On failure tmem_put() also drops any older copy. */
	ret = kzt_cc_page_op(pool_id, &key, index, page, tmem_put);
	if (!ret)
		atomic_long_inc(&kzt_eph_puts);
	else if (ret != -EPERM)
		atomic_long_inc(&kzt_failed_eph_puts);
	kzt_eph_locked_done(start);
}

/*
 * The two-step put.  prepare_page compresses the page into a zbud frame
 * before reclaim takes the i_pages lock, preemptibly, with the swap
 * path's per-CPU context; the handle it returns is not in tmem yet.
 * Until it is, the zbud shrinker may pick its frame but finds no tmem
 * entry holding it and leaves it alone (see zbud.c, "Eviction").
 * commit_page, under the lock, only inserts the handle into tmem;
 * abort_page frees a handle that was not committed.
 */
static void *kzt_cc_prepare_page(int pool_id, struct cleancache_filekey key,
				 pgoff_t index, struct page *page)
{
	struct kzt_eph_pool *ep = kzt_eph_pool_get(pool_id);
	struct zbud_bref bref = {
		.index = index,
		.pool_id = pool_id,
	};
	struct kzt_comp_ctx *ctx;
	unsigned long handle;
	int ret = -ENOSPC;

	if (!ep)
		return NULL;
	kzt_cc_oid(&key, &bref.oid);
	if (!kzt_cc_admitted(&bref.oid, index)) {
		ret = -EPERM;
	} else {
		bref.owner = kzt_eph_objcg(page, true);
		if (IS_ERR(bref.owner)) {
			bref.owner = NULL;
		} else if (kzt_eph_room()) {
			ctx = kzt_pers_ctx_lock();
			ret = kzt_eph_compress_store(ctx, &bref, page, &handle);
			kzt_pers_ctx_unlock(ctx);
		}
		if (ret && bref.owner)
			obj_cgroup_put(bref.owner);
	}
	kzt_eph_pool_put(ep);

	if (ret) {
		if (ret != -EPERM)
			atomic_long_inc(&kzt_failed_eph_puts);
		return NULL;
	}
	atomic_long_inc(&kzt_eph_prepared);
	return (void *)handle;
}

static void kzt_cc_commit_page(int pool_id, struct cleancache_filekey key,
			       pgoff_t index, void *prepared)
{
	u64 start = local_clock();
	struct kzt_eph_pool *ep;
	struct tmem_oid oid;
	int ret = -ENOENT;

	ep = kzt_eph_pool_get(pool_id);
	kzt_cc_oid(&key, &oid);
	if (ep && prepared)
		ret = tmem_put_pampd(ep->tmem, &oid, index, prepared);
	else if (ep)
		/* Declined when prepared: no older copy may outlive it. */
		tmem_flush_page(ep->tmem, &oid, index);
	else if (prepared)
		kzt_eph_pampd_free(NULL, prepared);
	if (ep)
		kzt_eph_pool_put(ep);

	if (prepared && ret)
		atomic_long_inc(&kzt_failed_eph_puts);
	else if (prepared)
		atomic_long_inc(&kzt_eph_puts);
	kzt_eph_locked_done(start);
}

static void kzt_cc_abort_page(int pool_id, void *prepared)
{
	kzt_eph_pampd_free(NULL, prepared);
	atomic_long_inc(&kzt_eph_prepare_aborted);
}

static void kzt_cc_invalidate_page(int pool_id, struct cleancache_filekey key,
				   pgoff_t index)
{
	struct kzt_eph_pool *ep = kzt_eph_pool_get(pool_id);
	struct tmem_oid oid;

	if (!ep)
		return;
	kzt_cc_oid(&key, &oid);
	if (!tmem_flush_page(ep->tmem, &oid, index))
		atomic_long_inc(&kzt_eph_flush_found);
	kzt_eph_pool_put(ep);
}

static void kzt_cc_invalidate_inode(int pool_id, struct cleancache_filekey key)
{
	struct kzt_eph_pool *ep = kzt_eph_pool_get(pool_id);
	struct tmem_oid oid;

	if (!ep)
		return;
	kzt_cc_oid(&key, &oid);
	if (!tmem_flush_object(ep->tmem, &oid))
		atomic_long_inc(&kzt_eph_flobj_found);
	kzt_eph_pool_put(ep);
}

static void kzt_cc_invalidate_range(int pool_id, struct cleancache_filekey key,
				    pgoff_t start, pgoff_t end)
{
	struct kzt_eph_pool *ep = kzt_eph_pool_get(pool_id);
	struct tmem_oid oid;

	if (!ep)
		return;
	kzt_cc_oid(&key, &oid);
	atomic_long_add(tmem_flush_range(ep->tmem, &oid, start, end),
			&kzt_eph_range_flushed);
	kzt_eph_pool_put(ep);
}

static void kzt_cc_invalidate_fs(int pool_id)
{
	struct kzt_eph_pool *ep = NULL;

	if (pool_id < 0 || pool_id >= KZT_MAX_EPH_POOLS)
		return;

	/* Held throughout, so the id is not handed out again too early. */
	mutex_lock(&kzt_eph_pools_mutex);
	ep = rcu_dereference_protected(kzt_eph_pools[pool_id],
				       lockdep_is_held(&kzt_eph_pools_mutex));
	RCU_INIT_POINTER(kzt_eph_pools[pool_id], NULL);
	if (ep) {
		synchronize_rcu();
		wait_var_event(&ep->users, !atomic_read(&ep->users));
		tmem_destroy_pool(ep->tmem);
		kfree(ep);
	}
	mutex_unlock(&kzt_eph_pools_mutex);
}

/* Without kztmem.cc_prepare, registration clears the two-step put. */
static struct cleancache_ops kzt_cleancache_ops __ro_after_init = {
	.init_fs = kzt_cc_init_fs,
	.init_shared_fs = kzt_cc_init_shared_fs,
	.get_page = kzt_cc_get_page,
	.put_page = kzt_cc_put_page,
	.invalidate_page = kzt_cc_invalidate_page,
	.invalidate_inode = kzt_cc_invalidate_inode,
	.invalidate_range = kzt_cc_invalidate_range,
	.invalidate_fs = kzt_cc_invalidate_fs,
	.prepare_page = kzt_cc_prepare_page,
	.commit_page = kzt_cc_commit_page,
	.abort_page = kzt_cc_abort_page,
};
#endif /* CONFIG_CLEANCACHE */

/*
 * sysfs: /sys/kernel/mm/kztmem/
 *
 * One read-only file per statistic, named after the counter, plus the
 * pool size files and the two tunables.
 */
struct kzt_stat_attr {
	struct kobj_attribute kattr;
	atomic_long_t *stat;
};

static ssize_t kzt_stat_show(struct kobject *kobj,
			     struct kobj_attribute *attr, char *buf)
{
	struct kzt_stat_attr *sa = container_of(attr, struct kzt_stat_attr,
						kattr);

	return sysfs_emit(buf, "%ld\n", atomic_long_read(sa->stat));
}

#define KZT_STAT_ATTR(_name)						\
static struct kzt_stat_attr kzt_attr_##_name = {			\
	.kattr = __ATTR(_name, 0444, kzt_stat_show, NULL),		\
	.stat = &kzt_##_name,						\
}

KZT_STAT_ATTR(curr_obj_count);
KZT_STAT_ATTR(curr_obj_count_max);
KZT_STAT_ATTR(curr_objnode_count);
KZT_STAT_ATTR(curr_objnode_count_max);
KZT_STAT_ATTR(curr_pers_pampd_count);
KZT_STAT_ATTR(curr_pers_pampd_count_max);
KZT_STAT_ATTR(same_filled_pages);
KZT_STAT_ATTR(pers_compressed_bytes);
KZT_STAT_ATTR(pers_puts);
KZT_STAT_ATTR(failed_pers_puts);
KZT_STAT_ATTR(pers_gets);
KZT_STAT_ATTR(pers_exclusive_gets);
KZT_STAT_ATTR(pers_exclusive_paused);
KZT_STAT_ATTR(eph_frames_for_swap);
KZT_STAT_ATTR(eph_frames_shrunk);
KZT_STAT_ATTR(eph_reclaim_held);
KZT_STAT_ATTR(eph_oom_emptied);
KZT_STAT_ATTR(failed_pers_gets);
KZT_STAT_ATTR(flush_total);
KZT_STAT_ATTR(flush_found);
KZT_STAT_ATTR(flobj_total);
KZT_STAT_ATTR(flobj_found);
KZT_STAT_ATTR(compress_poor);
KZT_STAT_ATTR(pers_cheap_rejects);
KZT_STAT_ATTR(pool_limit_hit);
KZT_STAT_ATTR(failed_alloc);
KZT_STAT_ATTR(cgroup_limit_hit);
KZT_STAT_ATTR(pers_raw_pages);
KZT_STAT_ATTR(pers_raw_pages_max);
KZT_STAT_ATTR(pers_written_back);
KZT_STAT_ATTR(pers_writeback_skipped);
KZT_STAT_ATTR(pers_writeback_failed);
KZT_STAT_ATTR(pers_writeback_held_off);
KZT_STAT_ATTR(pers_writeback_early);

/* A read-only file showing one u64 figure computed on each read */
#define KZT_U64_ATTR(_name, _value)					\
static ssize_t _name##_show(struct kobject *kobj,			\
			    struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%llu\n", (u64)(_value));		\
}									\
static struct kobj_attribute kzt_attr_##_name = __ATTR_RO(_name)

KZT_U64_ATTR(pers_pool_pages, kzt_pers_pool_bytes() >> PAGE_SHIFT);
KZT_U64_ATTR(pers_pool_bytes, kzt_pers_pool_bytes());
KZT_U64_ATTR(meta_bytes, kzt_meta_bytes());
KZT_U64_ATTR(pool_total_bytes, kzt_pool_total_bytes());

static ssize_t pers_pool_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", kzt_pers_store->ops->name);
}

static struct kobj_attribute kzt_attr_pers_pool = __ATTR_RO(pers_pool);

/* Parse a tunable: a decimal number in [@min, @max], or -EINVAL. */
static int kzt_parse_tunable(const char *buf, unsigned int min,
			     unsigned int max, unsigned int *val)
{
	if (!buf || kstrtouint(buf, 10, val) || *val < min || *val > max)
		return -EINVAL;
	return 0;
}

/*
 * kztmem.compressor=NAME: one of kzt_compressors[], exactly (no
 * abbreviations, no case folding).  Anything else is logged and the
 * kernel's parameter parser reports it too; the default stays.
 */
static int kzt_param_set_compressor(const char *val,
				    const struct kernel_param *kp)
{
	unsigned int i;

	for (i = 0; val && i < ARRAY_SIZE(kzt_compressors); i++) {
		if (!strcmp(val, kzt_compressors[i])) {
			kzt_compressor = kzt_compressors[i];
			return 0;
		}
	}
	pr_warn("ignoring unknown compressor \"%s\" (choose one of lzo, lzo-rle, lz4, zstd); using %s\n",
		val ? val : "", kzt_compressor);
	return -EINVAL;
}

static int kzt_param_get_compressor(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", kzt_compressor);
}

static const struct kernel_param_ops kzt_compressor_param_ops = {
	.set = kzt_param_set_compressor,
	.get = kzt_param_get_compressor,
};

module_param_cb(compressor, &kzt_compressor_param_ops, NULL, 0);

/* The compressor in use: read-only, fixed at boot (see kzt_compressors). */
static ssize_t compressor_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", kzt_compressor);
}

static struct kobj_attribute kzt_attr_compressor = __ATTR_RO(compressor);

/*
 * A root-writable tunable of /sys/kernel/mm/kztmem/: [min, max].
 * @changed, if set, runs after each new value.
 */
struct kzt_tunable_attr {
	struct kobj_attribute kattr;
	unsigned int *val;
	unsigned int min;
	unsigned int max;
	void (*changed)(void);
};

static ssize_t kzt_tunable_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	struct kzt_tunable_attr *ta = container_of(attr,
						   struct kzt_tunable_attr,
						   kattr);

	return sysfs_emit(buf, "%u\n", READ_ONCE(*ta->val));
}

static ssize_t kzt_tunable_store(struct kobject *kobj,
				 struct kobj_attribute *attr,
				 const char *buf, size_t count)
{
	struct kzt_tunable_attr *ta = container_of(attr,
						   struct kzt_tunable_attr,
						   kattr);
	unsigned int val;

	if (kzt_parse_tunable(buf, ta->min, ta->max, &val))
		return -EINVAL;
	WRITE_ONCE(*ta->val, val);
	if (ta->changed)
		ta->changed();
	return count;
}

#define KZT_TUNABLE_ATTR_CB(_name, _val, _min, _max, _changed)		\
static struct kzt_tunable_attr kzt_attr_##_name = {			\
	.kattr = __ATTR(_name, 0644, kzt_tunable_show, kzt_tunable_store), \
	.val = &(_val),							\
	.min = (_min),							\
	.max = (_max),							\
	.changed = (_changed),						\
}

#define KZT_TUNABLE_ATTR(_name, _val, _min, _max)			\
	KZT_TUNABLE_ATTR_CB(_name, _val, _min, _max, NULL)

KZT_TUNABLE_ATTR(max_pool_percent, kzt_max_pool_percent, 1, 100);
KZT_TUNABLE_ATTR(compress_limit, kzt_compress_limit, KZT_COMPRESS_LIMIT_MIN,
		 PAGE_SIZE);
KZT_TUNABLE_ATTR(writeback, kzt_writeback, 0, 1);
KZT_TUNABLE_ATTR(accept_threshold_percent, kzt_accept_percent, 1, 100);
KZT_TUNABLE_ATTR(writeback_min_raw_percent, kzt_wb_min_raw_percent, 0, 100);
KZT_TUNABLE_ATTR(writeback_start_percent, kzt_wb_start_percent, 1, 100);
KZT_TUNABLE_ATTR(exclusive_load_percent, kzt_excl_load_percent, 0, 100);
KZT_TUNABLE_ATTR(exclusive_load_max_bytes, kzt_excl_load_max_bytes, 0,
		 PAGE_SIZE);

/*
 * The tunables can also be set on the kernel command line, as
 * kztmem.max_pool_percent=N, kztmem.compress_limit=N,
 * kztmem.writeback=0|1, kztmem.accept_threshold_percent=N,
 * kztmem.writeback_min_raw_percent=N,
 * kztmem.writeback_start_percent=N, kztmem.exclusive_load_percent=N,
 * kztmem.exclusive_load_max_bytes=N
 * and, with the cleancache half,
 * kztmem.eph_min_percent=N, kztmem.eph_max_percent=N,
 * kztmem.cc_admit_max_shift=N, kztmem.eph_raw=0|1,
 * kztmem.eph_reclaim_cost=N, kztmem.eph_memcg_max_percent=N and
 * kztmem.eph_share_guard=0|1, with
 * the same checks as the sysfs files: kp->arg is the tunable's
 * kzt_tunable_attr.
 * On a bad value the set handler fails, the kernel logs "`VALUE' invalid
 * for parameter `NAME'" and the default stays.  No /sys/module file:
 * /sys/kernel/mm/kztmem/ is the one place to change them at run time.
 */
static int kzt_param_set_tunable(const char *val,
				 const struct kernel_param *kp)
{
	const struct kzt_tunable_attr *ta = kp->arg;
	unsigned int v;

	if (kzt_parse_tunable(val, ta->min, ta->max, &v))
		return -EINVAL;
	WRITE_ONCE(*ta->val, v);
	if (ta->changed)
		ta->changed();
	return 0;
}

static int kzt_param_get_tunable(char *buf, const struct kernel_param *kp)
{
	const struct kzt_tunable_attr *ta = kp->arg;

	return sysfs_emit(buf, "%u\n", READ_ONCE(*ta->val));
}

static const struct kernel_param_ops kzt_tunable_param_ops = {
	.set = kzt_param_set_tunable,
	.get = kzt_param_get_tunable,
};

module_param_cb(max_pool_percent, &kzt_tunable_param_ops,
		&kzt_attr_max_pool_percent, 0);
module_param_cb(compress_limit, &kzt_tunable_param_ops,
		&kzt_attr_compress_limit, 0);
module_param_cb(writeback, &kzt_tunable_param_ops, &kzt_attr_writeback, 0);
module_param_cb(accept_threshold_percent, &kzt_tunable_param_ops,
		&kzt_attr_accept_threshold_percent, 0);
module_param_cb(writeback_min_raw_percent, &kzt_tunable_param_ops,
		&kzt_attr_writeback_min_raw_percent, 0);
module_param_cb(writeback_start_percent, &kzt_tunable_param_ops,
		&kzt_attr_writeback_start_percent, 0);
module_param_cb(exclusive_load_percent, &kzt_tunable_param_ops,
		&kzt_attr_exclusive_load_percent, 0);
module_param_cb(exclusive_load_max_bytes, &kzt_tunable_param_ops,
		&kzt_attr_exclusive_load_max_bytes, 0);

static struct attribute *kzt_attrs[] = {
	&kzt_attr_curr_obj_count.kattr.attr,
	&kzt_attr_curr_obj_count_max.kattr.attr,
	&kzt_attr_curr_objnode_count.kattr.attr,
	&kzt_attr_curr_objnode_count_max.kattr.attr,
	&kzt_attr_curr_pers_pampd_count.kattr.attr,
	&kzt_attr_curr_pers_pampd_count_max.kattr.attr,
	&kzt_attr_same_filled_pages.kattr.attr,
	&kzt_attr_pers_compressed_bytes.kattr.attr,
	&kzt_attr_pers_puts.kattr.attr,
	&kzt_attr_failed_pers_puts.kattr.attr,
	&kzt_attr_pers_gets.kattr.attr,
	&kzt_attr_pers_exclusive_gets.kattr.attr,
	&kzt_attr_pers_exclusive_paused.kattr.attr,
	&kzt_attr_eph_frames_for_swap.kattr.attr,
	&kzt_attr_eph_frames_shrunk.kattr.attr,
	&kzt_attr_eph_reclaim_held.kattr.attr,
	&kzt_attr_eph_oom_emptied.kattr.attr,
	&kzt_attr_failed_pers_gets.kattr.attr,
	&kzt_attr_flush_total.kattr.attr,
	&kzt_attr_flush_found.kattr.attr,
	&kzt_attr_flobj_total.kattr.attr,
	&kzt_attr_flobj_found.kattr.attr,
	&kzt_attr_compress_poor.kattr.attr,
	&kzt_attr_pers_cheap_rejects.kattr.attr,
	&kzt_attr_pool_limit_hit.kattr.attr,
	&kzt_attr_failed_alloc.kattr.attr,
	&kzt_attr_cgroup_limit_hit.kattr.attr,
	&kzt_attr_pers_raw_pages.kattr.attr,
	&kzt_attr_pers_raw_pages_max.kattr.attr,
	&kzt_attr_pers_written_back.kattr.attr,
	&kzt_attr_pers_writeback_skipped.kattr.attr,
	&kzt_attr_pers_writeback_failed.kattr.attr,
	&kzt_attr_pers_writeback_held_off.kattr.attr,
	&kzt_attr_pers_writeback_early.kattr.attr,
	&kzt_attr_pers_pool_pages.attr,
	&kzt_attr_pers_pool_bytes.attr,
	&kzt_attr_meta_bytes.attr,
	&kzt_attr_pool_total_bytes.attr,
	&kzt_attr_pers_pool.attr,
	&kzt_attr_max_pool_percent.kattr.attr,
	&kzt_attr_compress_limit.kattr.attr,
	&kzt_attr_writeback.kattr.attr,
	&kzt_attr_accept_threshold_percent.kattr.attr,
	&kzt_attr_writeback_min_raw_percent.kattr.attr,
	&kzt_attr_writeback_start_percent.kattr.attr,
	&kzt_attr_exclusive_load_percent.kattr.attr,
	&kzt_attr_exclusive_load_max_bytes.kattr.attr,
	&kzt_attr_compressor.attr,
	NULL,
};

static const struct attribute_group kzt_attr_group = {
	.attrs = kzt_attrs,
};

#ifdef CONFIG_CLEANCACHE
/*
 * The cleancache half's files, present when that half is on: the
 * kztmem counters above, zbud's counters (struct zbud_stats, one value
 * per file) and two histograms.
 *
 * zbud_unbuddied_list_counts and zbud_cumul_chunk_counts are one line
 * each of zbud_usable_chunks() + 1 space-separated decimal numbers,
 * entry i for i = 0, 1, ...: the number of unbuddied frames with i free
 * chunks now, and the number of zpages ever stored that took i chunks
 * (entry 0 of the latter is always 0).  A chunk is ZBUD_CHUNK_SIZE
 * bytes.
 */
KZT_STAT_ATTR(curr_eph_pampd_count);
KZT_STAT_ATTR(curr_eph_pampd_count_max);
KZT_STAT_ATTR(eph_puts);
KZT_STAT_ATTR(failed_eph_puts);
KZT_STAT_ATTR(eph_gets);
KZT_STAT_ATTR(eph_get_misses);
KZT_STAT_ATTR(eph_compress_poor);
KZT_STAT_ATTR(eph_cheap_rejects);
KZT_STAT_ATTR(eph_cgroup_limit_hit);
KZT_STAT_ATTR(eph_memcg_full_hit);
KZT_STAT_ATTR(eph_same_filled_pages);
KZT_STAT_ATTR(eph_raw_pages);
KZT_STAT_ATTR(eph_pool_limit_hit);
KZT_STAT_ATTR(eph_flush_found);
KZT_STAT_ATTR(eph_flobj_found);
KZT_STAT_ATTR(eph_range_flushed);
KZT_STAT_ATTR(eph_evict_missed);
KZT_STAT_ATTR(eph_ghost_hits);
KZT_STAT_ATTR(eph_prepared);
KZT_STAT_ATTR(eph_prepare_aborted);
KZT_STAT_ATTR(eph_locked_calls);
KZT_STAT_ATTR(eph_locked_ns);
/* New bounds move the share inside them at once */
static void kzt_eph_bounds_changed(void)
{
	WRITE_ONCE(kzt_eph_share, kzt_eph_share_now());
}

KZT_STAT_ATTR(eph_share_grown);
KZT_STAT_ATTR(eph_share_shrunk);
KZT_STAT_ATTR(eph_room_claims);
KZT_STAT_ATTR(pers_split_declined);
KZT_U64_ATTR(eph_share_percent, kzt_eph_share_now());
KZT_TUNABLE_ATTR_CB(eph_min_percent, kzt_eph_min_percent, 0, 100,
		    kzt_eph_bounds_changed);
KZT_TUNABLE_ATTR_CB(eph_max_percent, kzt_eph_max_percent, 0, 100,
		    kzt_eph_bounds_changed);
module_param_cb(eph_min_percent, &kzt_tunable_param_ops,
		&kzt_attr_eph_min_percent, 0);
module_param_cb(eph_max_percent, &kzt_tunable_param_ops,
		&kzt_attr_eph_max_percent, 0);

/* A shift written starts a whole window, with nothing counted yet */
static void kzt_cc_admit_restart(void)
{
	atomic_set(&kzt_cc_events, 0);
	atomic_set(&kzt_cc_hits_seen, 0);
	atomic_set(&kzt_cc_waste_seen, 0);
}

/* A new ceiling brings the shift under it at once, in a new window */
static void kzt_cc_admit_max_changed(void)
{
	WRITE_ONCE(kzt_cc_admit_shift, min(READ_ONCE(kzt_cc_admit_shift),
					   READ_ONCE(kzt_cc_admit_max_shift)));
	kzt_cc_admit_restart();
}

KZT_STAT_ATTR(eph_not_admitted);
KZT_STAT_ATTR(cc_admit_raised);
KZT_STAT_ATTR(cc_admit_lowered);
KZT_TUNABLE_ATTR_CB(cc_admit_shift, kzt_cc_admit_shift, 0,
		    KZT_CC_ADMIT_SHIFT_MAX, kzt_cc_admit_restart);
KZT_TUNABLE_ATTR_CB(cc_admit_max_shift, kzt_cc_admit_max_shift, 0,
		    KZT_CC_ADMIT_SHIFT_MAX, kzt_cc_admit_max_changed);
module_param_cb(cc_admit_max_shift, &kzt_tunable_param_ops,
		&kzt_attr_cc_admit_max_shift, 0);
KZT_TUNABLE_ATTR(eph_raw, kzt_eph_raw, 0, 1);
module_param_cb(eph_raw, &kzt_tunable_param_ops, &kzt_attr_eph_raw, 0);
KZT_TUNABLE_ATTR(eph_memcg_max_percent, kzt_eph_memcg_max_percent, 0, 100);
module_param_cb(eph_memcg_max_percent, &kzt_tunable_param_ops,
		&kzt_attr_eph_memcg_max_percent, 0);
KZT_TUNABLE_ATTR(eph_reclaim_cost, kzt_eph_reclaim_cost, 1,
		 KZT_EPH_RECLAIM_COST_MAX);
module_param_cb(eph_reclaim_cost, &kzt_tunable_param_ops,
		&kzt_attr_eph_reclaim_cost, 0);
KZT_TUNABLE_ATTR(eph_share_guard, kzt_eph_share_guard, 0, 1);
module_param_cb(eph_share_guard, &kzt_tunable_param_ops,
		&kzt_attr_eph_share_guard, 0);

struct kzt_zbud_attr {
	struct kobj_attribute kattr;
	size_t offset;
};

static ssize_t kzt_zbud_show(struct kobject *kobj,
			     struct kobj_attribute *attr, char *buf)
{
	struct kzt_zbud_attr *za = container_of(attr, struct kzt_zbud_attr,
						kattr);
	struct zbud_stats stats;

	zbud_get_stats(kzt_zbud, &stats);
	return sysfs_emit(buf, "%lu\n",
			  *(unsigned long *)((u8 *)&stats + za->offset));
}

#define KZT_ZBUD_ATTR(_name, _field)					\
static struct kzt_zbud_attr kzt_attr_##_name = {			\
	.kattr = __ATTR(_name, 0444, kzt_zbud_show, NULL),		\
	.offset = offsetof(struct zbud_stats, _field),			\
}

KZT_ZBUD_ATTR(zbud_curr_raw_pages, raw_pages);
KZT_ZBUD_ATTR(zbud_curr_zpages, zpages);
KZT_ZBUD_ATTR(zbud_curr_zbytes, zbytes);
KZT_ZBUD_ATTR(zbud_cumul_zpages, cumul_zpages);
KZT_ZBUD_ATTR(zbud_cumul_zbytes, cumul_zbytes);
KZT_ZBUD_ATTR(zbud_buddied_count, buddied);
KZT_ZBUD_ATTR(zbud_unbuddied_count, unbuddied);
KZT_ZBUD_ATTR(zbpg_unused_list_count, unused);
KZT_ZBUD_ATTR(zbud_evicting_pages, evicting);
KZT_ZBUD_ATTR(evicted_raw_pages, evicted_raw);
KZT_ZBUD_ATTR(evicted_buddied_pages, evicted_buddied);
KZT_ZBUD_ATTR(evicted_unbuddied_pages, evicted_unbuddied);
KZT_ZBUD_ATTR(evict_kept_pages, evict_kept);

static ssize_t kzt_histogram_show(char *buf,
				  void (*read)(struct zbud_pool *pool,
					       unsigned long *counts))
{
	unsigned int i, n = zbud_usable_chunks();
	unsigned long *counts;
	int len = 0;

	counts = kcalloc(ZBUD_NCHUNKS, sizeof(*counts), GFP_KERNEL);
	if (!counts)
		return -ENOMEM;
	read(kzt_zbud, counts);
	for (i = 0; i <= n; i++)
		len += sysfs_emit_at(buf, len, "%lu%c", counts[i],
				     i == n ? '\n' : ' ');
	kfree(counts);
	return len;
}

static ssize_t zbud_unbuddied_list_counts_show(struct kobject *kobj,
					       struct kobj_attribute *attr,
					       char *buf)
{
	return kzt_histogram_show(buf, zbud_unbuddied_counts);
}

static struct kobj_attribute kzt_attr_zbud_unbuddied_list_counts =
	__ATTR_RO(zbud_unbuddied_list_counts);

static ssize_t zbud_cumul_chunk_counts_show(struct kobject *kobj,
					    struct kobj_attribute *attr,
					    char *buf)
{
	return kzt_histogram_show(buf, zbud_cumul_chunk_counts);
}

static struct kobj_attribute kzt_attr_zbud_cumul_chunk_counts =
	__ATTR_RO(zbud_cumul_chunk_counts);

static ssize_t eph_locked_ns_histogram_show(struct kobject *kobj,
					    struct kobj_attribute *attr,
					    char *buf)
{
	int b, len = 0;

	for (b = 0; b < KZT_LOCKED_BUCKETS; b++)
		len += sysfs_emit_at(buf, len, "%ld%c",
				     atomic_long_read(&kzt_eph_locked_hist[b]),
				     b == KZT_LOCKED_BUCKETS - 1 ? '\n' : ' ');
	return len;
}

static struct kobj_attribute kzt_attr_eph_locked_ns_histogram =
	__ATTR_RO(eph_locked_ns_histogram);

static struct attribute *kzt_eph_attrs[] = {
	&kzt_attr_curr_eph_pampd_count.kattr.attr,
	&kzt_attr_curr_eph_pampd_count_max.kattr.attr,
	&kzt_attr_eph_puts.kattr.attr,
	&kzt_attr_failed_eph_puts.kattr.attr,
	&kzt_attr_eph_gets.kattr.attr,
	&kzt_attr_eph_get_misses.kattr.attr,
	&kzt_attr_eph_compress_poor.kattr.attr,
	&kzt_attr_eph_cheap_rejects.kattr.attr,
	&kzt_attr_eph_cgroup_limit_hit.kattr.attr,
	&kzt_attr_eph_memcg_full_hit.kattr.attr,
	&kzt_attr_eph_same_filled_pages.kattr.attr,
	&kzt_attr_eph_raw_pages.kattr.attr,
	&kzt_attr_eph_raw.kattr.attr,
	&kzt_attr_eph_reclaim_cost.kattr.attr,
	&kzt_attr_eph_share_guard.kattr.attr,
	&kzt_attr_eph_memcg_max_percent.kattr.attr,
	&kzt_attr_eph_pool_limit_hit.kattr.attr,
	&kzt_attr_eph_flush_found.kattr.attr,
	&kzt_attr_eph_flobj_found.kattr.attr,
	&kzt_attr_eph_range_flushed.kattr.attr,
	&kzt_attr_eph_evict_missed.kattr.attr,
	&kzt_attr_eph_ghost_hits.kattr.attr,
	&kzt_attr_eph_prepared.kattr.attr,
	&kzt_attr_eph_prepare_aborted.kattr.attr,
	&kzt_attr_eph_locked_calls.kattr.attr,
	&kzt_attr_eph_locked_ns.kattr.attr,
	&kzt_attr_eph_locked_ns_histogram.attr,
	&kzt_attr_eph_share_grown.kattr.attr,
	&kzt_attr_eph_share_shrunk.kattr.attr,
	&kzt_attr_eph_room_claims.kattr.attr,
	&kzt_attr_pers_split_declined.kattr.attr,
	&kzt_attr_eph_share_percent.attr,
	&kzt_attr_eph_min_percent.kattr.attr,
	&kzt_attr_eph_max_percent.kattr.attr,
	&kzt_attr_eph_not_admitted.kattr.attr,
	&kzt_attr_cc_admit_raised.kattr.attr,
	&kzt_attr_cc_admit_lowered.kattr.attr,
	&kzt_attr_cc_admit_shift.kattr.attr,
	&kzt_attr_cc_admit_max_shift.kattr.attr,
	&kzt_attr_zbud_curr_raw_pages.kattr.attr,
	&kzt_attr_zbud_curr_zpages.kattr.attr,
	&kzt_attr_zbud_curr_zbytes.kattr.attr,
	&kzt_attr_zbud_cumul_zpages.kattr.attr,
	&kzt_attr_zbud_cumul_zbytes.kattr.attr,
	&kzt_attr_zbud_buddied_count.kattr.attr,
	&kzt_attr_zbud_unbuddied_count.kattr.attr,
	&kzt_attr_zbpg_unused_list_count.kattr.attr,
	&kzt_attr_zbud_evicting_pages.kattr.attr,
	&kzt_attr_evicted_raw_pages.kattr.attr,
	&kzt_attr_evicted_buddied_pages.kattr.attr,
	&kzt_attr_evicted_unbuddied_pages.kattr.attr,
	&kzt_attr_evict_kept_pages.kattr.attr,
	&kzt_attr_zbud_unbuddied_list_counts.attr,
	&kzt_attr_zbud_cumul_chunk_counts.attr,
	NULL,
};

static const struct attribute_group kzt_eph_attr_group = {
	.attrs = kzt_eph_attrs,
};
#endif /* CONFIG_CLEANCACHE */

static struct kobject *kzt_kobj;

static int __init kzt_sysfs_init(bool cleancache)
{
	int ret;

	kzt_kobj = kobject_create_and_add("kztmem", mm_kobj);
	if (!kzt_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(kzt_kobj, &kzt_attr_group);
	if (ret)
		goto put;
#ifdef CONFIG_CLEANCACHE
	if (cleancache) {
		ret = sysfs_create_group(kzt_kobj, &kzt_eph_attr_group);
		if (ret) {
			sysfs_remove_group(kzt_kobj, &kzt_attr_group);
			goto put;
		}
	}
#endif
	return 0;

put:
	kobject_put(kzt_kobj);
	kzt_kobj = NULL;
	return ret;
}

static void __init kzt_sysfs_exit(bool cleancache)
{
#ifdef CONFIG_CLEANCACHE
	if (cleancache)
		sysfs_remove_group(kzt_kobj, &kzt_eph_attr_group);
#endif
	sysfs_remove_group(kzt_kobj, &kzt_attr_group);
	kobject_put(kzt_kobj);
	kzt_kobj = NULL;
}

#ifdef CONFIG_CLEANCACHE
/* zbud and its shrinker, for the cleancache half */
static int __init kzt_eph_init(void)
{
	int ret;

	kzt_eph_entry_cache = KMEM_CACHE(kzt_eph_entry, 0);
	if (!kzt_eph_entry_cache)
		return -ENOMEM;
	kzt_zbud = zbud_create_pool(&kzt_zbud_ops, KZT_ZBUD_MAX_UNUSED);
	if (!kzt_zbud) {
		ret = -ENOMEM;
		goto cache;
	}
	kzt_ghosts = kvcalloc(KZT_GHOSTS, sizeof(*kzt_ghosts), GFP_KERNEL);
	if (!kzt_ghosts) {
		ret = -ENOMEM;
		goto zbud;
	}
	ret = register_shrinker(&kzt_shrinker, "kztmem-zbud");
	if (ret)
		goto ghosts;
	ret = register_oom_notifier(&kzt_oom_nb);
	if (!ret)
		return 0;
	unregister_shrinker(&kzt_shrinker);
ghosts:
	kvfree(kzt_ghosts);
	kzt_ghosts = NULL;
zbud:
	zbud_destroy_pool(kzt_zbud);
	kzt_zbud = NULL;
cache:
	kmem_cache_destroy(kzt_eph_entry_cache);
	kzt_eph_entry_cache = NULL;
	return ret;
}

static void __init kzt_eph_exit(void)
{
	unregister_oom_notifier(&kzt_oom_nb);
	unregister_shrinker(&kzt_shrinker);
	kvfree(kzt_ghosts);
	kzt_ghosts = NULL;
	zbud_destroy_pool(kzt_zbud);
	kzt_zbud = NULL;
	kmem_cache_destroy(kzt_eph_entry_cache);
	kzt_eph_entry_cache = NULL;
}

static int __init kzt_cleancache_register(void)
{
	if (!kzt_cc_prepare) {
		/* The one-step put, kept for measuring: see cc_prepare. */
		kzt_cleancache_ops.prepare_page = NULL;
		kzt_cleancache_ops.commit_page = NULL;
		kzt_cleancache_ops.abort_page = NULL;
	}
	return cleancache_register_ops(&kzt_cleancache_ops);
}
#else
static unsigned long kzt_eph_shrink(unsigned long nr)
{
	return 0;
}

static int __init kzt_eph_init(void)
{
	return 0;
}

static void __init kzt_eph_exit(void)
{
}

static int __init kzt_cleancache_register(void)
{
	return -ENODEV;
}
#endif /* CONFIG_CLEANCACHE */

/*
 * Initialization
 *
 * Everything that can be undone comes first.  The registrations with
 * frontswap and cleancache cannot be undone: a half whose registration
 * fails (another backend was first) stays off, and only if both are
 * off is the rest torn down again.
 */
static int __init kztmem_init(void)
{
	bool frontswap = !kzt_nofrontswap;
	bool cleancache = IS_ENABLED(CONFIG_CLEANCACHE) && !kzt_nocleancache;
	const bool eph = cleancache;
	unsigned int cpu;
	int ret;

	if (!kztmem_enabled)
		return 0;
	if (!frontswap && !cleancache) {
		pr_info("frontswap and cleancache halves disabled, nothing to do\n");
		return 0;
	}

	ret = -ENOMEM;
	kzt_obj_cache = KMEM_CACHE(tmem_obj, 0);
	if (!kzt_obj_cache)
		goto fail;
	kzt_objnode_cache = KMEM_CACHE(tmem_objnode, 0);
	if (!kzt_objnode_cache)
		goto destroy_obj_cache;
	kzt_pampd_cache = KMEM_CACHE(kzt_pampd, 0);
	if (!kzt_pampd_cache)
		goto destroy_objnode_cache;
	kzt_pers_store = kzt_store_create(kzt_pers_store_ops, "kztmem");
	if (!kzt_pers_store)
		goto destroy_pampd_cache;

	if (!crypto_has_comp(kzt_compressor, 0, 0)) {
		pr_warn("compressor %s is not available in this kernel; using %s\n",
			kzt_compressor,
			kzt_compressors[KZT_COMPRESSOR_DEFAULT]);
		kzt_compressor = kzt_compressors[KZT_COMPRESSOR_DEFAULT];
	}
	for_each_possible_cpu(cpu)
		mutex_init(&per_cpu_ptr(&kzt_pcpu, cpu)->mutex);
	ret = cpuhp_setup_state(CPUHP_BP_PREPARE_DYN, "mm/kztmem:prepare",
				kzt_cpu_prepare, kzt_cpu_dead);
	if (ret < 0)
		goto destroy_pers_store;
	kzt_cpuhp_state = ret;

	if (eph) {
		ret = kzt_eph_init();
		if (ret)
			goto remove_cpuhp;
	}

	ret = kzt_sysfs_init(eph);
	if (ret)
		goto eph_exit;

	if (frontswap) {
		kzt_wb_wq = alloc_workqueue("kztmem_wb",
					    WQ_UNBOUND | WQ_MEM_RECLAIM, 1);
		if (!kzt_wb_wq)
			pr_warn("no writeback workqueue: a full pool declines new pages\n");
	}
	if (frontswap && frontswap_register_ops(&kzt_frontswap_ops)) {
		pr_err("another frontswap backend is registered\n");
		frontswap = false;
		if (kzt_wb_wq) {
			destroy_workqueue(kzt_wb_wq);
			kzt_wb_wq = NULL;
		}
	}
	if (cleancache && kzt_cleancache_register()) {
		pr_err("another cleancache backend is registered\n");
		if (frontswap) {
			/* Keep the files; the counters stay at zero. */
			cleancache = false;
		}
	}
	if (!frontswap && !cleancache) {
		ret = -EBUSY;
		goto remove_sysfs;
	}

	kzt_fail_load_debugfs();
	if (frontswap)
		pr_info("enabled: frontswap (%s)%s (%s)\n",
			kzt_pers_store->ops->name,
			cleancache ? " cleancache (zbud)" : "", kzt_compressor);
	else
		pr_info("enabled: cleancache (zbud) (%s)\n", kzt_compressor);
	return 0;

remove_sysfs:
	kzt_sysfs_exit(eph);
eph_exit:
	if (eph)
		kzt_eph_exit();
remove_cpuhp:
	cpuhp_remove_state(kzt_cpuhp_state);
destroy_pers_store:
	kzt_store_destroy(kzt_pers_store);
	kzt_pers_store = NULL;
destroy_pampd_cache:
	kmem_cache_destroy(kzt_pampd_cache);
destroy_objnode_cache:
	kmem_cache_destroy(kzt_objnode_cache);
destroy_obj_cache:
	kmem_cache_destroy(kzt_obj_cache);
fail:
	pr_err("initialization failed: %d\n", ret);
	return ret;
}
device_initcall(kztmem_init);

#ifdef CONFIG_KZTMEM_KUNIT_TEST
#include "kztmem_pam_test.c"
#endif
