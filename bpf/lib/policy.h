/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frame admission: the checks every frame entering the fabric passes,
 * whatever the network type. Compiled into both the XDP and the tc entry
 * objects; XDP drops what fails here, tc drops it too if XDP was bypassed
 * (generic path, or no XDP at all), so the verdict never depends on the hook.
 */
#ifndef KVB_POLICY_H
#define KVB_POLICY_H

#include "ctx.h"
#include "parse.h"
#include "drop.h"

/* What admission learned about a frame, for the forwarding code. */
struct kvb_frame {
	struct ethhdr *eth;
	__u16 proto;		/* host order EtherType */
	__u16 l3_off;		/* offset of the L3 header from data */
	__u32 l3_len;		/* L3 packet length claimed by its header */
	__u32 hdr_len;		/* L3 + L4 header bytes (TCP/UDP), for GSO */
};

/*
 * Add the L4 header size of a GSO frame (TCP: its data offset; UDP: 8) to
 * f->hdr_len, so the segment size can be checked against the MTU.
 */
static __always_inline int add_gso_l4_len(struct hdr_cursor *c, __u8 proto,
					  struct kvb_frame *f)
{
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = CURSOR_TAKE(c, struct tcphdr);

		if (!th || th->doff < 5)
			return DROP(KVB_DROP_TRUNC_L3);
		f->hdr_len += th->doff * 4;
	} else {
		f->hdr_len += sizeof(struct udphdr);
	}
	return 0;
}

static __always_inline int check_ipv4(struct hdr_cursor *c,
				      const struct kvb_pkt *p,
				      struct kvb_frame *f)
{
	struct iphdr *ip = CURSOR_TAKE(c, struct iphdr);
	__u32 ihl, tot;

	if (!ip)
		return DROP(KVB_DROP_TRUNC_L3);
	ihl = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (ip->version != 4 || ihl < sizeof(*ip) || tot < ihl ||
	    tot > p->len - ETH_HLEN)
		return DROP(KVB_DROP_TRUNC_L3);
	f->l3_len = tot;
	f->hdr_len = ihl;
	if (!p->gso_size)
		return 0;
	/* GSO: each segment is headers + gso_size; find the L4 header size. */
	if (!cursor_take(c, ihl - sizeof(*ip)))
		return DROP(KVB_DROP_TRUNC_L3);
	return add_gso_l4_len(c, ip->protocol, f);
}

static __always_inline int check_ipv6(struct hdr_cursor *c,
				      const struct kvb_pkt *p,
				      struct kvb_frame *f)
{
	struct ipv6hdr *ip6 = CURSOR_TAKE(c, struct ipv6hdr);
	__u32 plen;

	if (!ip6)
		return DROP(KVB_DROP_TRUNC_L3);
	plen = bpf_ntohs(ip6->payload_len);
	/* payload_len 0 is a jumbogram (or BIG TCP): not on a guest link. */
	if (ip6->version != 6 || plen == 0 ||
	    plen + sizeof(*ip6) > p->len - ETH_HLEN)
		return DROP(KVB_DROP_TRUNC_L3);
	f->l3_len = plen + sizeof(*ip6);
	f->hdr_len = sizeof(*ip6);
	if (!p->gso_size)
		return 0;
	return add_gso_l4_len(c, ip6->nexthdr, f);
}

static __always_inline int check_arp(struct hdr_cursor *c,
				     struct kvb_frame *f)
{
	struct kvb_arp *arp = CURSOR_TAKE(c, struct kvb_arp);

	if (!arp || arp->htype != bpf_htons(1) ||
	    arp->ptype != bpf_htons(ETH_P_IP) || arp->hlen != ETH_ALEN ||
	    arp->plen != 4)
		return DROP(KVB_DROP_TRUNC_L3);
	f->l3_len = sizeof(*arp);
	f->hdr_len = sizeof(*arp);
	return 0;
}

/*
 * Admit a frame arriving on a port of a network with the given MTU.
 * mtu == 0 skips the size check: XDP cannot see GSO metadata, so a
 * linearised super-frame would look oversized there; tc decides size.
 */
static __always_inline int kvb_admit(const struct kvb_pkt *p, __u32 mtu,
				     struct kvb_frame *f)
{
	struct hdr_cursor c = { .pos = p->data, .end = p->data_end };
	struct ethhdr *eth;
	int ret = 0;

	eth = CURSOR_TAKE(&c, struct ethhdr);
	if (!eth || p->len < ETH_HLEN)
		return DROP(KVB_DROP_RUNT);
	f->eth = eth;
	f->proto = bpf_ntohs(eth->h_proto);
	f->l3_off = ETH_HLEN;
	f->l3_len = p->len - ETH_HLEN;
	f->hdr_len = 0;

	if (p->vlan_stripped || f->proto == ETH_P_8021Q_ ||
	    f->proto == ETH_P_8021AD_)
		return DROP(KVB_DROP_VLAN);
	if (mac_is_multicast(eth->h_source) || mac_is_zero(eth->h_source))
		return DROP(KVB_DROP_SRC_MAC);

	switch (f->proto) {
	case ETH_P_IP:
		ret = check_ipv4(&c, p, f);
		break;
	case ETH_P_IPV6:
		ret = check_ipv6(&c, p, f);
		break;
	case ETH_P_ARP:
		ret = check_arp(&c, f);
		break;
	}
	if (ret)
		return ret;

	if (!mtu)
		return 0;
	if (p->gso_size) {
		if (f->hdr_len + p->gso_size > mtu)
			return DROP(KVB_DROP_MTU);
	} else if (p->len - ETH_HLEN > mtu) {
		return DROP(KVB_DROP_MTU);
	}
	return 0;
}

#endif /* KVB_POLICY_H */
