/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Endpoints (tc only): the local guest port that holds a routed packet's
 * destination address, so that routing into a network of the fabric
 * (route_into) delivers straight to that port with the guest's MAC, with
 * no FIB lookup, no neighbour lookup and no MAC table lookup.
 *
 * The endpoint map is the address bindings (kvb_addr, bind.h): an owner
 * entry {0, family, network, address} names the port that holds the
 * address, the port's own entry says until when, the port entry gives
 * its MAC. They are not a cache of what the FIB said: they are the
 * fabric's own record, written in the same step as every change (a
 * lease bound or moved by DHCP snooping, a SAVI claim, a static address
 * set, a detach), and read here per packet, so nothing has to be
 * invalidated and nothing can be older than the guard's view. A second
 * map would have to follow every one of those writes, with a window in
 * which the two disagree.
 *
 * Only what is as sure as the neighbour table is taken: the port is a
 * guest port of that network, other than the sender's, with spoofcheck
 * (so the guest sends from its port's MAC and no other: the MAC the
 * host's neighbour table learns from it), a MAC, and a live binding;
 * never a gateway address. Anything else (no binding, an expired lease,
 * a port without spoofcheck or MAC, a stale owner entry naming a port
 * that is gone or elsewhere) answers 0: the caller asks the FIB as
 * before. Where the neighbour table and a binding differ (another port
 * without spoofcheck, or without IPv4 bindings on a routed network,
 * answering ARP for the address), the binding wins: the packet goes to
 * the port the fabric let use the address.
 */
#ifndef KVB_ENDPOINT_H
#define KVB_ENDPOINT_H

#include "bind.h"
#include "gateway.h"
#include "maps.h"
#include "parse.h"
#include "subnet.h"

/*
 * The guest port of network dst that holds daddr (family 4 or 6), its MAC
 * into t->emac and its counters' slot into t->eslot; 0 when not sure (see
 * above). ifindex: the sender's port, never an answer.
 */
static __always_inline __u32 endpoint_of(struct route_scratch *t,
					 const struct kvb_net *dst,
					 __u8 family, const __u8 *daddr,
					 __u32 ifindex)
{
	struct kvb_addr_key *k = &t->ek;
	struct kvb_port *p;
	struct kvb_addr *a;
	__u32 owner;

	__builtin_memset(k, 0, sizeof(*k));
	k->family = family;
	k->net_id = (__u8)dst->id;
	if (family == 4)
		__builtin_memcpy(k->addr, daddr, 4);
	else
		__builtin_memcpy(k->addr, daddr, 16);
	a = bpf_map_lookup_elem(&kvb_addr, k);
	if (!a)
		return 0;
	owner = a->owner;
	if (!owner || owner == ifindex)
		return 0;
	/*
	 * A lease or a SAVI claim: the owner entry does not say whether it
	 * lives, the port's own entry does (and it is gone first when the
	 * datapath moves or ends it). A static address never ends, and only
	 * the loader writes or removes its two entries, together.
	 */
	if (!(a->flags & KVB_ADDR_F_STATIC)) {
		k->ifindex = owner;
		k->net_id = 0;
		a = bpf_map_lookup_elem(&kvb_addr, k);
		if (!a || !bind_live(a, kvb_now()))
			return 0;
	}
	p = bpf_map_lookup_elem(&kvb_port, &owner);
	if (!p || p->role != KVB_PORT_GUEST || p->net_id != dst->id ||
	    !(p->flags & KVB_PORT_F_SPOOFCHECK) || mac_is_zero(p->mac))
		return 0;
	if (net_is_gw(dst, family, daddr))
		return 0;
	/* the port's device went without a detach (or another took its
	 * ifindex): the FIB's way, which reaches no such port either */
	if (!port_dev_live(owner))
		return 0;
	__builtin_memcpy(t->emac, p->mac, ETH_ALEN);
	t->eslot = p->slot;	/* its counters: no second port lookup */
	return owner;
}

#endif /* KVB_ENDPOINT_H */
