/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Next hops without a neighbour. bpf_redirect_neigh resolves a next hop's
 * neighbour, and drops what it queued without a word when ARP or ND
 * fails; the kernel's forwarding answers those packets host unreachable.
 * nh_unresolved keeps the time (kvb_maps.h: kvb_nhwait) so that the
 * callers can answer as the kernel does (route.h: route_unreachable and
 * nh_unreachable4).
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
 * queued for a neighbour that failed. (Routing answers at once:
 * route_unreachable.)
 */
#define NH_UNREACH 0x7ff8

/* Next hops found without a neighbour (kvb_maps.h: kvb_nhwait). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVB_NHWAIT_MAX);
	__type(key, struct kvb_nhwait_key);
	__type(value, struct kvb_nhwait);
} kvb_nhwait SEC(".maps");

/*
 * The FIB named fib's next hop for a guest's packet but no resolved
 * neighbour (BPF_FIB_LKUP_RET_NO_NEIGH): 1 when the packet is to be
 * answered host unreachable (route.h: route_unreachable) instead of sent. That is
 * when the next hop has been found unresolved for KVB_NH_WAIT_NS and
 * no packet went to ask it again for KVB_NH_RETRY_NS (kvb_nhwait);
 * the packets before, and one every KVB_NH_RETRY_NS after, go to
 * bpf_redirect_neigh, which asks ARP or ND (again). A global function:
 * its lookup is not on the callers' stack.
 */
__noinline int nh_unresolved(const struct bpf_fib_lookup *fib)
{
	struct kvb_nhwait_key k = {};
	struct kvb_nhwait *w, n;
	__u64 now = kvb_now();

	if (!fib)
		return 0;
	k.ifindex = fib->ifindex;
	k.family = fib->family;
	if (fib->family == AF_INET_)
		__builtin_memcpy(k.addr, &fib->ipv4_dst, 4);
	else
		__builtin_memcpy(k.addr, fib->ipv6_dst, 16);
	w = bpf_map_lookup_elem(&kvb_nhwait, &k);
	if (!w || kvb_after(now, w->last_ns + KVB_NH_FORGET_NS) ||
	    kvb_after(w->first_ns, now)) {
		/* the first packet asks; the kernel's probes fail (if
		 * they do) KVB_NH_WAIT_NS later: no other asks before */
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

#endif /* KVB_NEIGH_H */
