/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Next hops without a neighbour, for NAT. bpf_redirect_neigh with the
 * FIB's next hop resolves its neighbour, and drops what it queued without
 * a word when ARP fails: the kernel's forwarding answers those packets
 * host unreachable, which needs the route the helper's next hop lacks.
 * Routing hands such a packet to the helper without a next hop (the
 * kernel then looks the route up, and answers itself: route.h,
 * route_out); NAT cannot, its answer would go to the host's own WAN
 * address. So nh_unresolved keeps the time (kvb_maps.h: kvb_nhwait) and
 * the nat stage answers as the kernel would (route.h: nh_unreachable4).
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
 * KVB_NH_WAIT_NS (nh_unresolved). The stage, which knows the guest's
 * port and network, answers host unreachable from its gateway (route.h:
 * nh_unreachable4), as the kernel's forwarding answers the packets it
 * queued for a neighbour that failed.
 */
#define NH_UNREACH 0x7ff8

/* Next hops found without a neighbour (kvb_maps.h: kvb_nhwait). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVB_NHWAIT_MAX);
	__type(key, struct kvb_nhwait_key);
	__type(value, struct kvb_nhwait);
} kvb_nhwait SEC(".maps");

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
 * and up, forced garbage collection) is no failure. Never for an egress
 * that is no port, or a layer-3 one (KVB_PORT_F_L3: its neighbours never
 * fail; a missing one is made by the next packet). The entry is written in place: a copy an
 * LRU hands to another key meanwhile errs towards sending. A global
 * function: its lookups are not on the callers' stack.
 */
__noinline int nh_unresolved(const struct bpf_fib_lookup *fib)
{
	struct kvb_nhwait_key k = {};
	struct kvb_nhwait *w, n;
	struct kvb_port *port;
	__u64 now = kvb_now();

	if (!fib)
		return 0;
	nhwait_key(&k, fib);
	port = bpf_map_lookup_elem(&kvb_port, &k.ifindex);
	if (!port || (port->flags & KVB_PORT_F_L3))
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
 * The FIB found fib's next hop resolved (BPF_FIB_LKUP_RET_SUCCESS, asked
 * with the neighbour): an episode of misses it had is over, so that a
 * later miss (the kernel removed the entry: a flush, a link down and up,
 * forced garbage collection) starts a new one rather than being answered
 * unreachable at once. On nat_snat's FIB asks only: a new flow's, and an
 * established flow's once a second. A global function, as nh_unresolved.
 */
__noinline int nh_resolved(const struct bpf_fib_lookup *fib)
{
	struct kvb_nhwait_key k = {};

	if (!fib)
		return 0;
	nhwait_key(&k, fib);
	/* a lookup takes no lock, a delete the bucket's: only on a hit */
	if (bpf_map_lookup_elem(&kvb_nhwait, &k))
		bpf_map_delete_elem(&kvb_nhwait, &k);
	return 0;
}

#endif /* KVB_NEIGH_H */
