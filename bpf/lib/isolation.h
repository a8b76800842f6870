/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Port isolation, one rule for every path that delivers a frame to a guest
 * port (the switch, routing through the gateway, NAT's hairpin): an
 * isolated port receives from the gateway, the uplink and the outside,
 * never from a guest of its own network, however the packet got there; and
 * sends to no other guest of its network either.
 */
#ifndef KVB_ISOLATION_H
#define KVB_ISOLATION_H

#include "maps.h"

/* Is p (a port entry, or NULL) an isolated guest port? */
static __always_inline int port_entry_isolated(const struct kvb_port *p)
{
	return p && p->role == KVB_PORT_GUEST &&
	       (p->flags & KVB_PORT_F_ISOLATED);
}

/* Is ifindex an isolated guest port? */
static __always_inline int port_isolated(__u32 ifindex)
{
	return port_entry_isolated(bpf_map_lookup_elem(&kvb_port, &ifindex));
}

/*
 * May a guest's frame, entering on port from, reach port to? from may be a
 * gateway port when the frame is a guest's the host handed back (see
 * KVB_MARK_HAIRPIN): then only to's isolation matters.
 */
static __always_inline int guests_may_talk(__u32 from, __u32 to)
{
	return !port_isolated(from) && !port_isolated(to);
}

/*
 * guests_may_talk for a sender whose port entry the caller holds (the
 * stage's): one port lookup per frame less on the switched path.
 */
static __always_inline int guest_may_reach(const struct kvb_port *from,
					   __u32 to)
{
	return !port_entry_isolated(from) && !port_isolated(to);
}

/*
 * May a hairpin from port from reach guest port to (its entry)? Isolation
 * is among the guests of one network: a hairpin into another network's
 * forward (another nat network's, or from a routed network behind this
 * one) comes as from the WAN, which reaches an isolated port (t101).
 */
static __always_inline int hairpin_may_reach(__u32 from,
					     const struct kvb_port *to)
{
	struct kvb_port *p = bpf_map_lookup_elem(&kvb_port, &from);

	if (p && to && p->net_id != to->net_id)
		return 1;
	return !port_entry_isolated(p) && !port_entry_isolated(to);
}

#endif /* KVB_ISOLATION_H */
