/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A reply of a translated flow, from the WAN to its guest, as both hooks
 * translate it: tc's WAN path (nat.h, nat_from_wan), which judges every
 * such frame, and XDP's on a nat network's WAN device (natxdp.h, wan-xdp
 * on), which takes only the established flows' frames it can vouch for.
 * One reply key, one choice of the guest's port, one set of rewrites: the
 * two cannot translate a reply differently.
 */
#ifndef KVB_NATREPLY_H
#define KVB_NATREPLY_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "ctx.h"
#include "drop.h"
#include "l3.h"
#include "maps.h"
#include "parse.h"

/* What a packet from the WAN is to NAT (nat_reply_key). */
enum {
	NAT_RK_NONE = 0,	/* not NAT's: the host's */
	NAT_RK_FLOW = 1,	/* TCP, UDP or an echo reply: rk is its key */
	NAT_RK_ICMP_ERR = 2,	/* an ICMP error, quoting a packet */
};

/*
 * Is proto one that NAT translates by its addresses alone? Every IPv4
 * protocol without ports NAT can carry (GRE, ESP, IPIP, 6in4, SCTP,
 * L2TPv3...): its flow is the guest's address, the remote's and the
 * protocol, its ports (and its reply key's) 0, so one guest at a time
 * has such a flow with a remote (nat-clash), as conntrack's generic
 * tracking allows; its checksums, if any, do not cover the addresses.
 * Not TCP, UDP and ICMP (translated with their ports), not the
 * protocols whose checksum covers the addresses and that NAT would
 * leave broken (DCCP, UDP-Lite) or that authenticate them (AH), not
 * IGMP (the link's own).
 */
static __always_inline int nat_generic(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_ICMP:
	case 2:		/* IGMP */
	case 33:	/* DCCP */
	case 51:	/* AH */
	case 136:	/* UDP-Lite */
		return 0;
	}
	return 1;
}

/*
 * ICMP queries NAT translates by their identifier, as conntrack tracks
 * them (RFC 5508): echo, timestamp (nmap -PP, clockdiff), information and
 * address mask; a request's type, and its reply's.
 */
static __always_inline int icmp_query_request(__u8 type)
{
	return type == 8 || type == 13 || type == 15 || type == 17;
}

static __always_inline int icmp_query_reply(__u8 type)
{
	return type == 0 || type == 14 || type == 16 || type == 18;
}

/*
 * The reply key rk of an IPv4 packet from the WAN (its header ip, the
 * first 8 bytes of its L4 header at l4), and in *poff where its port (an
 * echo reply's identifier) is in the L4 header.
 */
static __always_inline int nat_reply_key(const struct iphdr *ip,
					 const __be16 *l4,
					 struct kvb_ct_key *rk, __u32 *poff)
{
	rk->saddr = ip->saddr;
	rk->daddr = ip->daddr;
	rk->proto = ip->protocol;
	rk->dir = 1;
	*poff = 0;
	switch (ip->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		rk->sport = l4[0];
		rk->dport = l4[1];
		return NAT_RK_FLOW;
	case IPPROTO_ICMP: {
		__u8 type = ((const __u8 *)l4)[0];

		if (type == 3 || type == 11 || type == 12)
			return NAT_RK_ICMP_ERR;
		if (!icmp_query_reply(type))	/* an echo reply, say */
			return NAT_RK_NONE;
		rk->sport = 0;
		rk->dport = l4[2];
		*poff = 4;
		return NAT_RK_FLOW;
	}
	}
	if (nat_generic(ip->protocol)) {
		rk->sport = rk->dport = 0;	/* the addresses alone */
		return NAT_RK_FLOW;
	}
	return NAT_RK_NONE;
}

/*
 * Does nat network nat_id translate for guests of network net_id: its
 * own, and a routed network peered with it that sends its IPv4 out
 * through it (via_nat)? A tap detached from a nat network and attached
 * to an unrelated one keeps its ifindex: the old network's flows are not
 * its now.
 */
static __always_inline int nat_carries(__u32 net_id, __u32 nat_id)
{
	struct kvb_net *n;

	if (net_id == nat_id)
		return 1;
	n = net_lookup(net_id);
	return n && n->via_nat == nat_id;
}

/*
 * The guest port at ifindex, when nat network nat_id may send to it: a
 * guest's port whose device is there and whose network it translates
 * for; else NULL. port_dev_live: the port's device went without detach,
 * and its ifindex may be another device's (tc; XDP sends through
 * kvb_xdptx, which the kernel keeps the same way); nat_carries: a tap
 * detached and attached to another network keeps its ifindex.
 */
static __always_inline struct kvb_port *nat_guest_port(__u32 ifindex,
						       __u32 nat_id)
{
	struct kvb_port *p = bpf_map_lookup_elem(&kvb_port, &ifindex);

	if (!p || p->role != KVB_PORT_GUEST || !port_dev_live(ifindex) ||
	    !nat_carries(p->net_id, nat_id))
		return NULL;
	return p;
}

/*
 * Where a reply of flow ct goes: its guest's port as it is now (in *gp),
 * and the MAC in gmac. A flow can outlive its port (its device gone
 * until gc, one a detach missed or an earlier build left), and its
 * reply must not go to whatever device later has that ifindex; a port
 * with spoofcheck and a MAC gets its MAC now (port set mac), any other
 * the MAC its guest opened the flow from. 0, or a drop code (no-route).
 */
static __always_inline int nat_reply_port(const struct kvb_ct *ct,
					  __u8 *gmac, struct kvb_port **gp)
{
	/* a hairpin's opener of another nat network: that one carries it */
	struct kvb_port *p = nat_guest_port(ct->guest_ifindex,
					    ct->gnet ? ct->gnet : ct->net_id);

	*gp = p;
	if (!p)
		return DROP(KVB_DROP_NO_ROUTE);
	if ((p->flags & KVB_PORT_F_SPOOFCHECK) && !mac_is_zero(p->mac))
		__builtin_memcpy(gmac, p->mac, ETH_ALEN);
	else
		__builtin_memcpy(gmac, ct->guest_mac, ETH_ALEN);
	return 0;
}

/* What nat_reply_rewrite did. */
enum {
	NAT_RW_DONE = 0,	/* translated, addressed to the guest */
	NAT_RW_TTL = 1,		/* TTL ran out: nothing changed (time
				 * exceeded to the remote: nat_reply_ttl) */
	NAT_RW_ERR = -1,	/* a rewrite failed */
};

/*
 * Translate a reply (key rk, an IHL 5 IPv4 packet, its L4 header at
 * l4off) in place for its guest: the TTL, the destination address and
 * port (an echo reply's identifier at poff; none for a protocol without
 * ports) with every checksum, then the MACs, from smac (the gateway's)
 * to gmac.
 */
static __always_inline int nat_reply_rewrite(void *ctx,
					     const struct kvb_ct_key *rk,
					     __be32 gaddr, __be16 gport,
					     __u32 poff, __u32 l4off,
					     const __u8 *gmac,
					     const __u8 *smac)
{
	if (!dec_ttl(ctx, rk->proto))
		return NAT_RW_TTL;
	if (rewrite_addr(ctx, IP_OFF_DADDR, rk->daddr, gaddr, rk->proto,
			 l4off))
		return NAT_RW_ERR;
	if (!nat_generic(rk->proto) &&
	    rewrite_port(ctx, l4off, poff ? poff : 2, rk->dport, gport,
			 rk->proto))
		return NAT_RW_ERR;
	kvb_store(ctx, ETH_OFF_DST, gmac, ETH_ALEN);
	kvb_store(ctx, ETH_OFF_SRC, smac, ETH_ALEN);
	return NAT_RW_DONE;
}

#endif /* KVB_NATREPLY_H */
