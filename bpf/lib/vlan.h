/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VLAN trunks on bridge and internal networks (tc only). A Linux bridge
 * without vlan_filtering carries 802.1Q/802.1ad-tagged frames like any
 * other, by their destination MAC (one MAC table for every VLAN): a
 * router VM with VLAN interfaces on a bridged trunk relies on it. Here a
 * port carries tagged frames when it is trusted with any frame: a guest
 * port with spoofcheck off and no ACLs (its rules cannot judge what they
 * cannot parse), or the uplink. Everywhere else a tagged frame is
 * refused (vlan-tagged), as before: a guest whose identity the fabric
 * enforces cannot send one (its inner addresses are nobody's to check),
 * and receives none (no flood copy, no unicast).
 */
#ifndef KVB_VLAN_H
#define KVB_VLAN_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "ctx.h"
#include "drop.h"
#include "maps.h"
#include "parse.h"

/* Is the frame VLAN-tagged, in its bytes or in the skb (a veth's)? */
static __always_inline int frame_tagged(struct __sk_buff *skb)
{
	struct ethhdr *eth = (void *)(long)skb->data;

	/* no cursor: the switch stage's stack is all but used up */
	if (skb->vlan_present)
		return 1;
	if ((void *)(eth + 1) > (void *)(long)skb->data_end)
		return 0;
	return eth->h_proto == bpf_htons(ETH_P_8021Q_) ||
	       eth->h_proto == bpf_htons(ETH_P_8021AD_);
}

/* May port p carry tagged frames (a trunk)? */
static __always_inline int port_trunk(const struct kvb_port *p)
{
	struct kvb_acl_port *ap;

	if (!p)
		return 0;
	if (p->role == KVB_PORT_UPLINK)
		return 1;
	if (p->role != KVB_PORT_GUEST || (p->flags & KVB_PORT_F_SPOOFCHECK))
		return 0;
	ap = acl_port_of(p);
	return !ap || !ap->set;
}

/*
 * The same for port ifindex (a flood's member, a unicast's target). A
 * global function: its lookups' keys stay off the switch stage's stack,
 * which the ACL judgments all but fill.
 */
__noinline int ifindex_trunk(__u32 ifindex)
{
	return port_trunk(bpf_map_lookup_elem(&kvb_port, &ifindex));
}

/* Is the frame a VLAN's that port ifindex, no trunk, may not receive? */
static __always_inline int vlan_refused(struct __sk_buff *skb, __u32 ifindex)
{
	return frame_tagged(skb) && !ifindex_trunk(ifindex);
}

/*
 * Admission of a tagged frame from port on network net: 0 when the port
 * is a trunk of a bridge or internal network and the frame passes what
 * can be checked without parsing inside the tag (a whole Ethernet header
 * and tag, a unicast non-zero source, not to an IEEE 802.1 link-local
 * group from a guest, the network's MTU beyond the tags), else a drop.
 */
static __always_inline int vlan_admit(struct __sk_buff *skb,
				      const struct kvb_port *port,
				      const struct kvb_net *net)
{
	struct hdr_cursor c = { .pos = (void *)(long)skb->data,
				.end = (void *)(long)skb->data_end };
	struct ethhdr *eth = CURSOR_TAKE(&c, struct ethhdr);
	__u32 tags = 0, len = skb->len;

	if ((net->type != KVB_NET_BRIDGE && net->type != KVB_NET_INTERNAL) ||
	    !port_trunk(port))
		return DROP(KVB_DROP_VLAN);
	if (!eth)
		return DROP(KVB_DROP_RUNT);
	if (mac_is_multicast(eth->h_source) || mac_is_zero(eth->h_source))
		return DROP(KVB_DROP_SRC_MAC);
	if (port->role == KVB_PORT_GUEST &&
	    mac_is_link_local_group(eth->h_dest))
		return DROP(KVB_DROP_L2_LINK_LOCAL);
	/* tags in the frame: an 802.1ad outer one carries an inner one */
	if (eth->h_proto == bpf_htons(ETH_P_8021AD_))
		tags = 8;
	else if (eth->h_proto == bpf_htons(ETH_P_8021Q_))
		tags = 4;
	if (len < ETH_HLEN + tags)
		return DROP(KVB_DROP_RUNT);
	/* a GSO frame's segments: gso_size and at least an IPv4 and a TCP
	 * header each (the headers inside the tag are not parsed) */
	if (skb->gso_size ? skb->gso_size + 40 > net->mtu :
			    len - ETH_HLEN - tags > net->mtu)
		return DROP(KVB_DROP_MTU);
	return 0;
}

#endif /* KVB_VLAN_H */
