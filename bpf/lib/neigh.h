/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Next hops without a neighbour. bpf_redirect_neigh with the FIB's next
 * hop resolves its neighbour, and drops what it queued without a word
 * when ARP or ND fails: the kernel's forwarding answers those packets
 * host unreachable, which needs the route the helper's next hop lacks.
 * Routing hands a packet for a destination on the link to the helper
 * without a next hop (the kernel then looks the route up, and answers
 * itself: route.h, route_out); NAT cannot (its answer would go to the
 * host's own WAN address), nor routing through a router (the kernel's
 * output lookup would ARP for the destination). So nh_unresolved keeps
 * the time (kvb_maps.h: kvb_nhwait) and the stage answers as the kernel
 * would (route.h: nh_unreachable4 for NAT,
 * route_unreachable for route_out).
 */
#ifndef KVB_NEIGH_H
#define KVB_NEIGH_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "ctx.h"
#include "l3.h"
#include "maps.h"

/*
 * Not a verdict: nat_snat's next hop has not answered ARP for
 * KVB_NH_WAIT_NS (nh_unresolved; route_out answers its own inline,
 * route.h: route_unreachable). The stage, which knows
 * the guest's port and network, answers host unreachable from its
 * gateway (route.h: nh_unreachable4), as the kernel's forwarding answers
 * the packets it queued for a neighbour that failed.
 */
#define NH_UNREACH 0x7ff8

/* Next hops found without a neighbour (kvb_maps.h: kvb_nhwait). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVB_NHWAIT_MAX);
	__type(key, struct kvb_nhwait_key);
	__type(value, struct kvb_nhwait);
} kvb_nhwait SEC(".maps");

/* When a next hop was last found unresolved, anywhere (kvb_maps.h:
 * kvb_nhmiss): nh_resolved looks kvb_nhwait up only within
 * KVB_NH_GAP_NS of it, so that a packet that finds its next hop
 * resolved pays one array read while nothing is unresolved. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvb_nhmiss);
} kvb_nhmiss SEC(".maps");

/* kvb_nhwait's key of the next hop the FIB named in fib */
static __always_inline void nhwait_key(struct kvb_nhwait_key *k,
				       const struct bpf_fib_lookup *fib)
{
	k->ifindex = fib->ifindex;
	k->family = fib->family;
	if (fib->family == AF_INET_)
		__builtin_memcpy(k->addr, &fib->ipv4_dst, 4);
	else
		__builtin_memcpy(k->addr, fib->ipv6_dst, 16);
}

/* kvb_nhmiss's one entry */
static __always_inline struct kvb_nhmiss *nh_miss(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kvb_nhmiss, &zero);
}

/*
 * nh_unresolved's episode of fib's next hop at now: 1 when the packet
 * is to be answered.
 */
static __always_inline int nh_episode(const struct bpf_fib_lookup *fib,
				      __u64 now)
{
	struct kvb_nhwait_key k = {};
	struct kvb_nhwait *w, n;
	struct kvb_port *port;

	nhwait_key(&k, fib);
	port = bpf_map_lookup_elem(&kvb_port, &k.ifindex);
	if (port && (port->flags & KVB_PORT_F_L3))
		return 0;
	w = bpf_map_lookup_elem(&kvb_nhwait, &k);
	if (!w || kvb_after(now, w->last_ns + KVB_NH_GAP_NS) ||
	    kvb_after(w->first_ns, now)) {
		/* a new episode: this packet asks; the kernel's probes
		 * end KVB_NH_WAIT_NS later, the next ask KVB_NH_RETRY_NS
		 * after that */
		n.first_ns = now;
		n.last_ns = now;
		n.retry_ns = now + KVB_NH_WAIT_NS;
		bpf_map_update_elem(&kvb_nhwait, &k, &n, BPF_ANY);
		return 0;
	}
	w->last_ns = now;
	if (kvb_after(w->first_ns + KVB_NH_WAIT_NS, now))
		return 0;	/* the kernel still asks */
	if (!kvb_after(w->retry_ns + KVB_NH_RETRY_NS, now)) {
		w->retry_ns = now;
		return 0;	/* this one asks again */
	}
	return 1;
}

/*
 * The FIB named fib's next hop for a guest's packet but no valid
 * neighbour (BPF_FIB_LKUP_RET_NO_NEIGH): 1 when the packet is to be
 * answered host unreachable instead of sent. That is when every packet
 * to that next hop for KVB_NH_WAIT_NS found it so, none of them more
 * than KVB_NH_GAP_NS after the one before (one episode: the kernel's
 * probes have failed), and a packet went to ask again less than
 * KVB_NH_RETRY_NS ago: the packets of the first KVB_NH_WAIT_NS, and one
 * every KVB_NH_RETRY_NS after, go to bpf_redirect_neigh, which asks ARP
 * (again). A success in between ends the episode (nh_resolved): a
 * neighbour entry the kernel removed while in use (a flush, a link down
 * and up, forced garbage collection) is no failure. Never for a
 * layer-3 port (KVB_PORT_F_L3: its neighbours never fail; a missing one
 * is made by the next packet). An egress that is no port (a routed
 * network's way out by any host device) is kept: a device without ARP
 * makes its entry, valid, with the packet that found none, so that the
 * next ask succeeds and ends the episode.
 * The entry is written in place: a copy an LRU hands to another key
 * meanwhile errs towards sending. A global function: its lookups are
 * not on the callers' stack.
 */
__noinline int nh_unresolved(const struct bpf_fib_lookup *fib)
{
	__u64 now = kvb_now();
	struct kvb_nhmiss *m = nh_miss();

	if (!fib)
		return 0;
	if (m && kvb_after(now, m->last_ns))
		m->last_ns = now;
	return nh_episode(fib, now);
}

/*
 * The FIB found fib's next hop resolved (BPF_FIB_LKUP_RET_SUCCESS, asked
 * with the neighbour): an episode of misses it had is over, so that a
 * later miss (the kernel removed the entry: a flush, a link down and up,
 * forced garbage collection) starts a new one rather than being answered
 * unreachable at once. On nat_snat's FIB asks (a new flow's, and an
 * established flow's once a second) and on every packet route_out sends
 * (IPv4: the cache's answers too); a hash lookup only while some next
 * hop was found unresolved in the last KVB_NH_GAP_NS (kvb_nhmiss): an
 * older episode is over anyway (nh_unresolved starts a new one). A
 * global function, as nh_unresolved.
 */
__noinline int nh_resolved(const struct bpf_fib_lookup *fib)
{
	struct kvb_nhmiss *m = nh_miss();
	struct kvb_nhwait_key k = {};

	if (!fib)
		return 0;
	if (m && kvb_after(kvb_now(), m->last_ns + KVB_NH_GAP_NS))
		return 0;
	nhwait_key(&k, fib);
	/* a lookup takes no lock, a delete the bucket's: only on a hit */
	if (bpf_map_lookup_elem(&kvb_nhwait, &k))
		bpf_map_delete_elem(&kvb_nhwait, &k);
	return 0;
}

#endif /* KVB_NEIGH_H */
