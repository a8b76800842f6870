/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-network MAC learning. Entries are keyed by (network, MAC), so the same
 * MAC in two networks is two unrelated entries and no lookup can cross a
 * network boundary.
 */
#ifndef KVB_FDB_H
#define KVB_FDB_H

#include "ctx.h"
#include "maps.h"
#include "parse.h"

static __always_inline void fdb_key(struct kvb_fdb_key *k, __u32 net_id,
				    const __u8 *mac)
{
	k->net_id = net_id;
	__builtin_memcpy(k->mac, mac, ETH_ALEN);
	k->pad = 0;
}

/*
 * Learn that mac lives behind ifindex. A hit on the same port is rewritten
 * at most once a second (the table is shared by all CPUs); a static entry
 * never moves. A full table is counted, and the frame is still forwarded:
 * an unlearned source only costs flooding of the replies.
 */
static __always_inline void fdb_learn(__u32 net_id, const __u8 *mac,
				      __u32 ifindex, struct kvb_stats *st)
{
	struct kvb_fdb_entry *e, fresh = {};
	struct kvb_fdb_key k;
	__u64 now = kvb_now();

	fdb_key(&k, net_id, mac);
	e = bpf_map_lookup_elem(&kvb_fdb, &k);
	if (e) {
		if (e->flags & KVB_FDB_F_STATIC)
			return;
		if (e->ifindex == ifindex &&
		    now - e->seen_ns < KVB_FDB_REFRESH_NS)
			return;
		e->ifindex = ifindex;
		e->seen_ns = now;
		return;
	}
	fresh.ifindex = ifindex;
	fresh.seen_ns = now;
	if (bpf_map_update_elem(&kvb_fdb, &k, &fresh, BPF_NOEXIST) &&
	    st && !bpf_map_lookup_elem(&kvb_fdb, &k))
		st->learn_fail++;
}

/* The port behind mac in the network, or 0 when unknown or aged out. */
static __always_inline __u32 fdb_lookup(__u32 net_id, const __u8 *mac)
{
	struct kvb_fdb_entry *e;
	struct kvb_fdb_key k;
	__u64 now, seen;

	fdb_key(&k, net_id, mac);
	e = bpf_map_lookup_elem(&kvb_fdb, &k);
	if (!e)
		return 0;
	/* another CPU may refresh seen_ns after our clock read: now < seen */
	now = kvb_now();
	seen = e->seen_ns;
	if (!(e->flags & KVB_FDB_F_STATIC) && now > seen &&
	    now - seen > KVB_FDB_AGE_NS)
		return 0;
	return e->ifindex;
}

#endif /* KVB_FDB_H */
