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

/* Is ifindex an isolated guest port? */
static __always_inline int port_isolated(__u32 ifindex)
{
	struct kvb_port *p = bpf_map_lookup_elem(&kvb_port, &ifindex);

	return p && p->role == KVB_PORT_GUEST &&
	       (p->flags & KVB_PORT_F_ISOLATED);
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

#endif /* KVB_ISOLATION_H */
