/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Early eviction's pool (kvb_maps.h: KVB_EVICT_POOL): where a port's
 * candidates go and where eviction looks for them. NAT (nat.h: ct_evict)
 * and the ACLs' connections (acl.h: acl_ct_evict) each have a pool of
 * their own and use the same regions. The connection made by evicting
 * another takes its place in the pool, so that the places that name a
 * live candidate do not dwindle under a flood (a new place at random
 * would overwrite a live candidate about as often as it took a stale
 * one, and the tries would find fewer and fewer).
 */
#ifndef KVB_EVICT_H
#define KVB_EVICT_H

#include "maps.h"

/*
 * The places of a region for a share of cap: half of it, as a power of
 * two, at least 1 and at most the pool. A port's candidates are the
 * connections it makes beyond half its share, so a region that size
 * holds them all without leaving most places empty (a small share's
 * few candidates would not be found among 65,536 places).
 */
static __always_inline __u32 evict_region(__u32 cap)
{
	__u32 m = KVB_EVICT_POOL, half = cap / 2;

#pragma unroll
	for (int i = 0; i < 16; i++)
		if (m > half && m > 1)
			m >>= 1;
	return m;
}

/*
 * A random place of the region of who (a port's slot, with the direction
 * for the ACLs) of m places: the regions of ports start at places spread
 * by a multiplicative hash and wrap around the pool.
 */
static __always_inline __u32 evict_place(__u32 who, __u32 m)
{
	return (who * 2654435761U + (bpf_get_prandom_u32() & (m - 1))) &
	       (KVB_EVICT_POOL - 1);
}

/* Early eviction's keys: the callers' frames have no room for them. */
struct evict_scratch {
	struct kvb_ct_key ok, rk;
	struct kvb_natmap_key mk, pk, spare;
	__u32 place;		/* a key of kvb_ctev or kvb_net */
	__u32 skey;		/* a key of kvb_stats */
	/* the place of the flow ct_evict ended, for the new flow of the
	 * port at slot reuse_slot (ct_note; 0: none) */
	__u32 reuse, reuse_slot;
	__u32 slot, net_id, m;	/* ct_evict's port, network and region */
	__u32 who;		/* whose region: the port's slot, or EVICT_NET */
	__u32 vslot;		/* the evicted flow's port */
	__u32 net_m, net_who;	/* ct_note: the network's region, if any */
};

/* The region of a network (its ct-max's candidates), not of a port's
 * slot (1..KVB_MAX_PORTS): evict_place's who for network id. */
#define EVICT_NET(id) (0x10000U | (id))
/* The whole pool, any port's and any network's candidates: room in a
 * full table (ct_create), as conntrack's early drop takes any zone's
 * unassured entry when nf_conntrack_max is reached. Every candidate is
 * a flow not established of a port beyond half its share (or of a
 * network beyond half its ct-max): the heavy holders' flows, never the
 * flows of the guests that hold little. */
#define EVICT_ANY 0x20000U

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct evict_scratch);
} kvb_evict_tmp SEC(".maps");

static __always_inline struct evict_scratch *evict_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kvb_evict_tmp, &zero);
}

/*
 * One eviction for the port at slot, counted on it; key is the caller's
 * room for the lookup's key (a scratch word: the callers' frames are
 * full).
 */
static __always_inline void evict_count(__u32 slot, __u32 *key)
{
	struct kvb_stats *st;

	*key = slot;
	st = bpf_map_lookup_elem(&kvb_stats, key);
	if (st)
		st->ct_evicted++;
}

#endif /* KVB_EVICT_H */
