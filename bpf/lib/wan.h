/* SPDX-License-Identifier: GPL-2.0 */
/* Frames from a WAN device (tc only): what routing and NAT share. */
#ifndef KVB_WAN_H
#define KVB_WAN_H

#include <linux/bpf.h>
#include "ctx.h"
#include "admit.h"

/*
 * Admission of a frame from a WAN device (the host's NIC) that routing or
 * NAT found to be theirs: the same checks as on every port, without the
 * MTU (routing holds packets to the destination network's). Only frames
 * the fabric would act on get here: the host's own traffic is not judged.
 * Not inlined: two callers, and the tc program is large enough. Returns
 * a drop code, or the frame's L3 and L4 header bytes (a GSO frame's
 * segments are these plus gso_size: routing holds them to the MTU).
 */
static __noinline int kvb_admit_wan(struct __sk_buff *skb)
{
	struct kvb_frame f;
	struct kvb_pkt p;
	int ret;

	kvb_pkt_from_skb(&p, skb);
	/* a priority tag (802.1p: VID 0, a priority alone) is no VLAN: the
	 * kernel takes such a frame as untagged, and so does the fabric
	 * (kvb_tc_wan takes the tag off what it sends on) */
	if (skb->vlan_present && !(skb->vlan_tci & 0x0fff))
		p.vlan_stripped = 0;
	ret = kvb_admit(&p, 0, &f);
	return IS_DROP(ret) ? ret : (int)(f.hdr_len & 0xffff);
}

/*
 * A packet from a layer-3 WAN device (KVB_PORT_F_L3: tun, WireGuard, PPP)
 * starts with its IP header. Give it an Ethernet header, so that routing
 * and NAT, which take Ethernet frames, read and rewrite it as they would
 * a NIC's: bpf_skb_change_head puts it in the headroom and makes it the
 * skb's link-layer header. What they send to a guest has its MACs written
 * as from a NIC; what they leave to the host loses nothing: cls_bpf pulls
 * the link-layer header (mac_len) before the stack sees the packet, whose
 * network header never moved. The MACs only have to pass admission (a
 * unicast, non-zero source). Returns 0 with the header in place, else 1
 * (not IPv4 or IPv6 as the skb says, or no room): the host's, untouched.
 */
static __always_inline int wan_l3_frame(struct __sk_buff *skb)
{
	struct ethhdr eth = {
		.h_dest = { 0x02, 0, 0, 0, 0, 0x01 },
		.h_source = { 0x02, 0, 0, 0, 0, 0x02 },
		.h_proto = (__be16)skb->protocol,
	};
	__u8 v;

	if (bpf_skb_load_bytes(skb, 0, &v, 1))
		return 1;
	if (!(eth.h_proto == bpf_htons(ETH_P_IP) && v >> 4 == 4) &&
	    !(eth.h_proto == bpf_htons(ETH_P_IPV6) && v >> 4 == 6))
		return 1;
	if (bpf_skb_change_head(skb, ETH_HLEN, 0) ||
	    bpf_skb_store_bytes(skb, 0, &eth, ETH_HLEN, 0))
		return 1;
	return 0;
}

#endif /* KVB_WAN_H */
