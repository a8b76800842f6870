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
#include "stats.h"

static __always_inline void fdb_key(struct kvb_fdb_key *k, __u32 net_id,
				    const __u8 *mac)
{
	k->net_id = net_id;
	__builtin_memcpy(k->mac, mac, ETH_ALEN);
	k->pad = 0;
}

/* A MAC as a number: the fdb functions take it so. */
static __always_inline __u64 mac_u64(const __u8 *mac)
{
	__u64 v = 0;

	__builtin_memcpy(&v, mac, ETH_ALEN);
	return v;
}

/* A learned entry not refreshed for KVB_FDB_AGE_NS is gone. */
static __always_inline int fdb_aged(const struct kvb_fdb_entry *e, __u64 now)
{
	return kvb_fdb_entry_aged(e, now);
}

/*
 * The MAC table's count, for learning's headroom: what the expiry sweep
 * found (fdb_sweep) and what the datapath added since. Deletes between
 * sweeps (ageing, detach) and entries counted twice (added during a
 * sweep) make it more than the table holds, never less, but for the
 * loader's static entries, which the reserve holds (KVB_FDB_RESERVE).
 */
static __always_inline struct kvb_ctsweep *fdb_counter(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kvb_ctsweep, &zero);
}

/* Network net_id's learned-entry count (kvb_fdbnet), or NULL. */
static __always_inline struct kvb_fdbnet *fdb_net_counter(__u32 net_id)
{
	return bpf_map_lookup_elem(&kvb_fdbnet, &net_id);
}

/*
 * A count the sweep keeps as set + added (fdb_sweep: it writes set, then
 * takes what added held at its start off added). added is read first,
 * with a full barrier, so that a reader between the sweep's two writes
 * sees too many, never too few.
 */
static __always_inline __u64 fdb_count(const __u64 *set, __u64 *added)
{
	__u64 a = __sync_fetch_and_add(added, 0);

	return *(volatile const __u64 *)set + a;
}

/*
 * May learning add an entry to network n's part of the table (n:
 * fdb_net_counter)? Within the network's KVB_FDB_NET_MIN places, while
 * the table has room for every port's static entry (twice: the count
 * sees the loader's inserts at the next sweep only). Past them, from the
 * KVB_FDB_SHARED places while some are free, and not into the last
 * KVB_FDB_RESERVE places of the table, which are the static entries' (a
 * guest's configured or pinned MAC). Else a LAN host's random source
 * MACs would fill the table, and no guest of any network could get its
 * MAC, nor any other network learn, until they age out (KVB_FDB_AGE_NS:
 * every reply flooded).
 */
static __always_inline int fdb_room(struct kvb_ctsweep *sw,
				    struct kvb_fdbnet *n)
{
	__u64 total;

	if (!sw || !n)
		return 0;
	total = fdb_count(&sw->fdb_entries, &sw->fdb_new);
	if (fdb_count(&n->learned, &n->added) < KVB_FDB_NET_MIN)
		return total < KVB_MAX_FDB - 2 * KVB_MAX_PORTS;
	return total < KVB_FDB_LEARN_MAX &&
	       fdb_count(&sw->fdb_over, &sw->fdb_over_new) < KVB_FDB_SHARED;
}

/* A learned entry network n now holds, for fdb_room. */
static __always_inline void fdb_net_counted(struct kvb_ctsweep *sw,
					    struct kvb_fdbnet *n)
{
	if (!n)
		return;
	if (sw && n->learned + n->added >= KVB_FDB_NET_MIN)
		__sync_fetch_and_add(&sw->fdb_over_new, 1);
	__sync_fetch_and_add(&n->added, 1);
}

/*
 * An entry the datapath added, for fdb_room: pinned (n NULL) or learned
 * in network n, past its own places or not.
 */
static __always_inline void fdb_counted(struct kvb_ctsweep *sw,
					struct kvb_fdbnet *n)
{
	if (!sw)
		return;
	__sync_fetch_and_add(&sw->fdb_new, 1);
	fdb_net_counted(sw, n);
}

/*
 * e, an entry for a port other than the frame's: is its MAC that port's
 * own? A static entry (a configured or pinned MAC) always is; a learned
 * one while it is fresh and its port is a spoofcheck guest. Such a MAC is
 * never pinned, learned or sent by another port.
 */
static __always_inline int fdb_entry_owned(const struct kvb_fdb_entry *e,
					   __u64 now)
{
	__u32 owner = e->ifindex;
	struct kvb_port *p;

	if (e->flags & KVB_FDB_F_STATIC)
		return 1;
	if (fdb_aged(e, now))
		return 0;
	p = bpf_map_lookup_elem(&kvb_port, &owner);
	return p && p->role == KVB_PORT_GUEST &&
	       (p->flags & KVB_PORT_F_SPOOFCHECK);
}

/* Is port ifindex the uplink (the LAN's) or a gateway port (the host's)? */
static __always_inline int fdb_port_lan(__u32 ifindex)
{
	struct kvb_port *p = bpf_map_lookup_elem(&kvb_port, &ifindex);

	return p && (p->role == KVB_PORT_UPLINK ||
		     p->role == KVB_PORT_GATEWAY);
}

/*
 * e, a local entry learned less than KVB_FDB_AGE_NS ago: is its port the
 * uplink (a LAN host's MAC) or a gateway port (the host's)? Neither a
 * guest nor another host may take such a MAC: a guest with the LAN
 * router's MAC would get every other guest's frames to their default
 * gateway.
 */
static __always_inline int fdb_entry_lan(const struct kvb_fdb_entry *e,
					 __u64 now)
{
	if ((e->flags & KVB_FDB_F_REMOTE) || fdb_aged(e, now))
		return 0;
	return fdb_port_lan(e->ifindex);
}

/*
 * mac (mac_u64) may not become port ifindex's by pinning: it is another
 * port's own in the network (fdb_entry_owned), a LAN host's or the host's
 * (fdb_entry_lan), or a guest's behind another host, heard from less than
 * KVB_FDB_AGE_NS ago: a guest here without a configured MAC must not
 * take over a live guest of another host, whose host never moves a
 * static entry back. A guest that migrated here is attached with its
 * `mac` (the libvirt hook gives it), whose static entry replaces the
 * remote one.
 */
static __always_inline int fdb_owned_elsewhere(__u32 net_id, __u64 mac,
					       __u32 ifindex)
{
	struct kvb_fdb_entry *e;
	struct kvb_fdb_key k;
	__u64 now = kvb_now();

	fdb_key(&k, net_id, (const __u8 *)&mac);
	e = bpf_map_lookup_elem(&kvb_fdb, &k);
	if (!e || e->ifindex == ifindex)
		return 0;
	if (fdb_entry_owned(e, now))
		return 1;
	if (e->flags & KVB_FDB_F_REMOTE)
		return !fdb_aged(e, now);
	return fdb_entry_lan(e, now);
}


/* Take back static entry e that fdb_pin wrote under k, if it is still that
 * entry (its port and stamp). */
static __always_inline void fdb_unpin(struct kvb_fdb_key *k,
				      const struct kvb_fdb_entry *e)
{
	struct kvb_fdb_entry *cur = bpf_map_lookup_elem(&kvb_fdb, k);

	if (cur && cur->ifindex == e->ifindex && cur->seen_ns == e->seen_ns &&
	    (cur->flags & KVB_FDB_F_STATIC))
		bpf_map_delete_elem(&kvb_fdb, k);
}

/*
 * A spoofcheck port without a configured MAC takes the first source MAC
 * it sends as its own: held in the port and by a static entry (never
 * ages, never moves), unless another port owns that MAC (the guard then
 * drops the frame). Returns 1 when pinned, 0 when not (not such a port,
 * or the MAC is another's), -1 when the MAC table had no room for the
 * static entry: the port then stays without a MAC, since a MAC held by
 * the port alone, with no entry, could be pinned by another guest too.
 * Global: tc's entry has no stack to spare for its keys inline.
 */
__noinline int fdb_pin(__u32 net_id, __u64 mac, __u32 ifindex)
{
	struct kvb_fdb_entry e = { .ifindex = ifindex,
				   .flags = KVB_FDB_F_STATIC };
	struct kvb_port *port;
	struct kvb_fdb_key k;
	__u64 *w, was, got;

	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (!port || !(port->flags & KVB_PORT_F_SPOOFCHECK) ||
	    port->role != KVB_PORT_GUEST || !mac_is_zero(port->mac) ||
	    mac_is_multicast((const __u8 *)&mac) ||
	    mac_is_zero((const __u8 *)&mac) ||
	    fdb_owned_elsewhere(net_id, mac, ifindex))
		return 0;
	/*
	 * The static entry goes in first, then the port's MAC is claimed in
	 * one compare-and-swap of the word it shares with the slot: frames
	 * from several MACs on several queues at once each see none yet, and
	 * only one claim wins; the losers take their entries back
	 * (fdb_unpin). In this order a full table leaves the port as it
	 * was: a MAC claimed first and given back on failure could be read
	 * in between by the loader (port_store keeps a pinned MAC) and
	 * written back with no entry, where another port could pin it too.
	 * A static entry: the reserve is its too (fdb_room).
	 */
	w = (__u64 *)port->mac;
	was = *w;
	if (was & KVB_PORT_MAC_MASK)
		return 0;
	e.seen_ns = kvb_now();
	fdb_key(&k, net_id, (const __u8 *)&mac);
	if (bpf_map_update_elem(&kvb_fdb, &k, &e, BPF_ANY))
		return -1;
	got = __sync_val_compare_and_swap(w, was,
					  (was & ~KVB_PORT_MAC_MASK) |
					  (mac & KVB_PORT_MAC_MASK));
	if (got != was) {
		/* another CPU pinned one, or the loader gave the port its
		 * MAC: this entry goes unless it is that MAC's, and only
		 * while it is still the one written here (another port's
		 * pin or configured MAC may have replaced it meanwhile) */
		if ((got & KVB_PORT_MAC_MASK) != (mac & KVB_PORT_MAC_MASK))
			fdb_unpin(&k, &e);
		return 0;
	}
	fdb_counted(fdb_counter(), NULL);
	port->flags |= KVB_PORT_F_MAC_PINNED;
	return 1;
}

/*
 * Learn that mac (mac_u64) lives behind ifindex. A hit on the same port
 * is rewritten at most once a second (the table is shared by all CPUs);
 * a static entry never moves, nor does a fresh one of a spoofcheck port
 * (its MAC is its own: a frame carrying it from elsewhere is a thief's),
 * nor a fresh remote one for a frame from the uplink or a gateway.
 * A full table (for learning: fdb_room keeps a reserve for static
 * entries) is counted, and the frame is still forwarded: an unlearned
 * source only costs flooding of the replies.
 */
static __always_inline int fdb_learn(__u32 net_id, __u64 mac, __u32 ifindex)
{
	struct kvb_fdb_entry *e, fresh = {};
	struct kvb_ctsweep *sw;
	struct kvb_fdbnet *n;
	struct kvb_fdb_key k;
	struct kvb_stats *st;
	__u64 now = kvb_now();

	fdb_key(&k, net_id, (const __u8 *)&mac);
	e = bpf_map_lookup_elem(&kvb_fdb, &k);
	if (e) {
		if (e->flags & KVB_FDB_F_STATIC)
			return 0;
		if (e->ifindex == ifindex &&
		    now - e->seen_ns < KVB_FDB_REFRESH_NS)
			return 0;
		if (e->ifindex != ifindex && fdb_entry_owned(e, now))
			return 0;
		if (e->flags & KVB_FDB_F_REMOTE) {
			/* a guest of another host heard from lately keeps
			 * its MAC against the LAN and the host, as against
			 * a pin (fdb_owned_elsewhere): a LAN host sending
			 * it would draw the local guests' frames to it,
			 * and the tunnel's frames could not move it back
			 * (ovl_learn: fdb_entry_lan) */
			if (!fdb_aged(e, now) && fdb_port_lan(ifindex))
				return 0;
			/* back from another host: a whole new local entry */
			fresh.ifindex = ifindex;
			fresh.seen_ns = now;
			bpf_map_update_elem(&kvb_fdb, &k, &fresh, BPF_ANY);
			return 0;
		}
		e->ifindex = ifindex;
		e->seen_ns = now;
		return 0;
	}
	fresh.ifindex = ifindex;
	fresh.seen_ns = now;
	sw = fdb_counter();
	n = fdb_net_counter(net_id);
	if (fdb_room(sw, n)) {
		if (!bpf_map_update_elem(&kvb_fdb, &k, &fresh, BPF_NOEXIST)) {
			fdb_counted(sw, n);
			return 0;
		}
		if (bpf_map_lookup_elem(&kvb_fdb, &k))
			return 0;	/* another CPU learned it */
	}
	st = stats_of(ifindex);
	if (st)
		st->learn_fail++;
	return 0;
}

/*
 * fdb_learn for a frame's source mac on port ifindex, whose own MAC
 * (configured or pinned; mac_u64, 0 without one) is own. The port's own
 * MAC has a static entry for as long as the port exists, which learning
 * never changes: no FDB lookup for it, on the path of every frame of a
 * guest with a MAC (a zero source never gets here: admission refuses
 * it). Global: the stages' paths are verified once past the learning,
 * not once with a lookup and once without.
 */
__noinline int fdb_learn_src(__u32 net_id, __u64 mac, __u32 ifindex,
			     __u64 own)
{
	if (mac == own)
		return 0;
	return fdb_learn(net_id, mac, ifindex);
}

/*
 * The port behind mac in the network, or 0 when unknown, aged out, or
 * its device gone (port_dev_live: the frame is flooded, and the flood
 * skips that port too).
 */
static __always_inline __u32 fdb_lookup(__u32 net_id, const __u8 *mac)
{
	struct kvb_fdb_entry *e;
	struct kvb_fdb_key k;
	__u32 ifindex;

	fdb_key(&k, net_id, mac);
	e = bpf_map_lookup_elem(&kvb_fdb, &k);
	if (!e || fdb_aged(e, kvb_now()))
		return 0;
	ifindex = e->ifindex;
	return port_dev_live(ifindex) ? ifindex : 0;
}

/*
 * The expiry sweep's share (nat.h's ct_sweep, every second or rarer): the
 * MAC table's ageing. Lookups ignore an aged entry, but only a delete
 * gives its place back, and a LAN host sending random source MACs
 * (macof) would otherwise fill the table for good: no MAC learned after
 * it (every reply flooded), no room for the static entry of `attach ...
 * mac` or of a pin. Every learned entry, local or remote, not refreshed
 * for KVB_FDB_AGE_NS goes; a static one never does. An entry refreshed
 * between the check and the delete goes too, and is learned again from
 * its next frame. The walk also counts the table for fdb_room: what it
 * left, plus what the datapath added since it began (fdb_new less what
 * it held then: an entry added during the walk may be counted twice,
 * which errs on the safe side), and so each network's learned entries
 * (kvb_fdbnet) and the shared places they take (fdb_over). A count is
 * set before what the walk's start held is taken off it (fdb_count reads
 * them the other way round). Returns the entries visited.
 */
struct fdb_sweep_ctx {
	__u64 now;
	__u64 seen;
	__u64 freed;
	__u64 over;
};

static long fdb_sweep_one(void *map, struct kvb_fdb_key *k,
			  struct kvb_fdb_entry *e, struct fdb_sweep_ctx *c)
{
	struct kvb_fdbnet *n;

	(void)map;
	c->seen++;
	if (fdb_aged(e, c->now) && !bpf_map_delete_elem(&kvb_fdb, k)) {
		c->freed++;
		return 0;
	}
	if (e->flags & KVB_FDB_F_STATIC)
		return 0;
	n = fdb_net_counter(k->net_id);
	if (n)
		n->walk++;
	return 0;
}

/* Before the walk: each network's count starts again. */
static long fdb_net_begin(void *map, __u32 *net_id, struct kvb_fdbnet *n,
			  void *c)
{
	(void)map;
	(void)net_id;
	(void)c;
	n->held = n->added;
	n->walk = 0;
	return 0;
}

/* After it: the walk's count in force, and the shared places it takes. */
static long fdb_net_end(void *map, __u32 *net_id, struct kvb_fdbnet *n,
			struct fdb_sweep_ctx *c)
{
	__u64 walk = n->walk;

	(void)map;
	(void)net_id;
	n->learned = walk;
	__sync_fetch_and_add(&n->added, -n->held);
	if (walk > KVB_FDB_NET_MIN)
		c->over += walk - KVB_FDB_NET_MIN;
	return 0;
}

static __always_inline __u64 fdb_sweep(__u64 now, struct kvb_ctsweep *sw)
{
	struct fdb_sweep_ctx c = { .now = now };
	__u64 before = sw->fdb_new, over_before = sw->fdb_over_new;

	bpf_for_each_map_elem(&kvb_fdbnet, fdb_net_begin, &c, 0);
	bpf_for_each_map_elem(&kvb_fdb, fdb_sweep_one, &c, 0);
	bpf_for_each_map_elem(&kvb_fdbnet, fdb_net_end, &c, 0);
	/* no comparison: the verifier would track both counts exactly,
	 * one callback's state per entry (freed never passes seen) */
	sw->fdb_entries = c.seen - c.freed;
	__sync_fetch_and_add(&sw->fdb_new, -before);
	sw->fdb_over = c.over;
	__sync_fetch_and_add(&sw->fdb_over_new, -over_before);
	return c.seen;
}

#endif /* KVB_FDB_H */
