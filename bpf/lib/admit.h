/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frame admission: the checks every frame entering the fabric passes,
 * whatever the network type and the port. Compiled into both the XDP and
 * the tc entry objects; XDP drops what fails here, tc drops it too if XDP
 * was bypassed (generic path, or no XDP at all), so the verdict never
 * depends on the hook.
 *
 * Headers are checked down to L4 so that nothing malformed reaches a guest
 * or, later, the NAT and routing code: truncated or inconsistent IPv4/IPv6/
 * ARP headers, IPv4 options other than Router Alert (IGMP needs it), IPv6
 * extension chains that are too long or carry a type 0 routing header,
 * TCP/UDP/ICMP headers that are short or lie about their length, ICMP
 * errors too short to quote the packet they are about, and IPv4 fragments
 * that would overlap the TCP header (RFC 1858).
 */
#ifndef KVB_ADMIT_H
#define KVB_ADMIT_H

#include "ctx.h"
#include "parse.h"
#include "drop.h"

#define KVB_IP6_MAX_EXT 6	/* extension headers walked before giving up */
#define IPOPT_RA_ 148		/* Router Alert */
/* ICMP types (linux/icmp.h drags in libc headers a BPF build lacks) */
#define ICMP_DEST_UNREACH_ 3
#define ICMP_SOURCE_QUENCH_ 4
#define ICMP_TIME_EXCEEDED_ 11
#define ICMP_PARAMETERPROB_ 12

/* What admission learned about a frame, for the guard and forwarding code. */
/* kvb_frame.fragk: an IP packet's place among its fragments */
enum kvb_frag_kind {
	KVB_FRAG_NONE = 0,	/* not fragmented */
	KVB_FRAG_FIRST = 1,	/* offset 0, more follow: has the L4 header */
	KVB_FRAG_LATER = 2,	/* a later fragment: no L4 header */
};

struct kvb_frame {
	void *ctx;		/* the hook's context (kvb_load) */
	struct ethhdr *eth;
	struct kvb_arp *arp;	/* ARP header, when proto is ARP */
	struct hdr_cursor l4;	/* at the L4 header, when l4_ok */
	__u16 proto;		/* host order EtherType */
	__u8 l4_proto;		/* IPPROTO_* of the L4 header (IPv4/IPv6) */
	__u8 l4_ok;		/* an L4 header is present and checked */
	__u8 icmp_type;		/* ICMP or ICMPv6 type, when l4_ok */
	__u8 fragk;		/* enum kvb_frag_kind */
	__u8 tcp_flags;		/* TCP: the header's flags byte, when l4_ok */
	__u8 frag6;		/* an IPv6 Fragment header, atomic ones too */
	__u16 sport, dport;	/* host order, TCP/UDP when l4_ok */
	__u32 l3_len;		/* L3 packet length claimed by its header */
	__u32 hdr_len;		/* L3 + L4 header bytes, for GSO segments */
	__u32 l4_len;		/* bytes from the L4 header to the L3 end */
	__u32 l4_off;		/* offset of the L4 header in the frame */
	__be32 saddr4;
	__be32 daddr4;		/* IPv4: for routing and NAT, which would */
	__u16 frag;		/* ... load them again; frag_off, host order */
	__u8 pad2[2];
	__u8 saddr6[16];
};

/* ICMPv4 types that quote the offending packet. */
static __always_inline int icmp4_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH_ || type == ICMP_TIME_EXCEEDED_ ||
	       type == ICMP_PARAMETERPROB_ || type == ICMP_SOURCE_QUENCH_;
}

/*
 * Check the L4 header at the cursor. len is what the L3 header says follows
 * (the whole rest for an unfragmented packet, this fragment's part if the
 * first fragment of several). inner_min is the quote an ICMP error must at
 * least carry (an IP header plus 8 bytes).
 */
static __always_inline int check_l4(struct hdr_cursor *c, __u8 proto,
				    __u32 len, int fragmented, __u32 inner_min,
				    struct kvb_frame *f)
{
	f->l4 = *c;
	f->l4_off = (__u32)(c->pos - (void *)f->eth);
	f->l4_proto = proto;
	f->l4_len = len;
	f->tcp_flags = 0;
	switch (proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = CURSOR_TAKE(c, struct tcphdr);

		if (!th || th->doff < 5 || th->doff * 4 > len)
			return DROP(KVB_DROP_L4);
		f->sport = bpf_ntohs(th->source);
		f->dport = bpf_ntohs(th->dest);
		f->tcp_flags = ((const __u8 *)th)[13];
		f->hdr_len += th->doff * 4;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = CURSOR_TAKE(c, struct udphdr);
		__u32 ulen;

		if (!uh || len < sizeof(*uh))
			return DROP(KVB_DROP_L4);
		ulen = bpf_ntohs(uh->len);
		/* 0 is allowed for UDP-GSO super-frames' headers */
		if (!fragmented && ulen && (ulen < sizeof(*uh) || ulen > len))
			return DROP(KVB_DROP_L4);
		f->sport = bpf_ntohs(uh->source);
		f->dport = bpf_ntohs(uh->dest);
		f->hdr_len += sizeof(*uh);
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 *type = cursor_take(c, 4);

		if (!type || len < 8)
			return DROP(KVB_DROP_L4);
		f->icmp_type = *type;
		if (!fragmented && inner_min &&
		    ((proto == IPPROTO_ICMP && icmp4_is_error(*type)) ||
		     (proto == IPPROTO_ICMPV6 && *type < 128)) &&
		    len < 8 + inner_min)
			return DROP(KVB_DROP_L4);
		break;
	}
	default:
		return 0;	/* other protocols are the guests' business */
	}
	f->l4_ok = 1;
	*c = f->l4;
	return 0;
}

/* IPv4 options: none, or exactly Router Alert (IGMP sends it). */
static __always_inline int check_ipv4_options(struct hdr_cursor *c,
					      __u32 optlen)
{
	__u8 *opt;

	if (!optlen)
		return 0;
	if (optlen != 4)
		return DROP(KVB_DROP_IP_OPTIONS);
	opt = cursor_take(c, 4);
	if (!opt)
		return DROP(KVB_DROP_TRUNC_L3);
	if (opt[0] != IPOPT_RA_ || opt[1] != 4)
		return DROP(KVB_DROP_IP_OPTIONS);
	return 0;
}

static __always_inline int check_ipv4(struct hdr_cursor *c,
				      const struct kvb_pkt *p,
				      struct kvb_frame *f)
{
	struct iphdr *ip = CURSOR_TAKE(c, struct iphdr);
	__u32 ihl, tot, frag;
	int ret;

	if (!ip)
		return DROP(KVB_DROP_TRUNC_L3);
	ihl = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (ip->version != 4 || ihl < sizeof(*ip) || tot < ihl ||
	    tot > p->len - ETH_HLEN)
		return DROP(KVB_DROP_TRUNC_L3);
	ret = check_ipv4_options(c, ihl - sizeof(*ip));
	if (ret)
		return ret;
	f->l3_len = tot;
	f->hdr_len = ihl;
	f->saddr4 = ip->saddr;
	f->daddr4 = ip->daddr;
	f->l4_proto = ip->protocol;
	frag = bpf_ntohs(ip->frag_off);
	f->frag = (__u16)frag;
	f->fragk = (frag & 0x1fff) ? KVB_FRAG_LATER :
		   (frag & 0x2000) ? KVB_FRAG_FIRST : KVB_FRAG_NONE;
	if (frag & 0x1fff) {
		/* a later fragment: no L4 header; offset 1 overlaps TCP's */
		if ((frag & 0x1fff) == 1 && ip->protocol == IPPROTO_TCP)
			return DROP(KVB_DROP_FRAG);
		return 0;
	}
	return check_l4(c, ip->protocol, tot - ihl, frag & 0x2000,
			sizeof(struct iphdr) + 8, f);
}

/*
 * Walk the IPv6 extension headers to the L4 header. A chain longer than
 * KVB_IP6_MAX_EXT, a header cut short, or a type 0 routing header is
 * dropped; a non-first fragment has no L4 header to check.
 */
static __always_inline int check_ipv6(struct hdr_cursor *c,
				      const struct kvb_pkt *p,
				      struct kvb_frame *f)
{
	struct ipv6hdr *ip6 = CURSOR_TAKE(c, struct ipv6hdr);
	__u32 plen, seen = sizeof(*ip6);
	int fragmented = 0;
	__u8 nh;

	if (!ip6)
		return DROP(KVB_DROP_TRUNC_L3);
	plen = bpf_ntohs(ip6->payload_len);
	/* payload_len 0 is a jumbogram (or BIG TCP): not on a guest link. */
	if (ip6->version != 6 || plen == 0 ||
	    plen + sizeof(*ip6) > p->len - ETH_HLEN)
		return DROP(KVB_DROP_TRUNC_L3);
	f->l3_len = plen + sizeof(*ip6);
	__builtin_memcpy(f->saddr6, &ip6->saddr, 16);
	nh = ip6->nexthdr;

	for (int i = 0; i < KVB_IP6_MAX_EXT; i++) {
		__u8 *h;
		__u32 hlen;

		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING &&
		    nh != IPPROTO_FRAGMENT && nh != IPPROTO_DSTOPTS) {
			f->hdr_len = seen;
			return check_l4(c, nh, f->l3_len - seen, fragmented,
					sizeof(struct ipv6hdr) + 8, f);
		}
		h = cursor_take(c, 8);
		if (!h)
			return DROP(KVB_DROP_IP6_EXT);
		if (nh == IPPROTO_FRAGMENT) {
			hlen = 8;
			fragmented = 1;
			f->frag6 = 1;
			/* offset 0 without M: an atomic fragment, whole */
			if ((h[2] << 8 | h[3]) & 0xfff8)
				f->fragk = KVB_FRAG_LATER;
			else if (h[3] & 1)
				f->fragk = KVB_FRAG_FIRST;
			if ((h[2] << 8 | h[3]) & 0xfff8) {
				f->l4_proto = h[0];
				f->hdr_len = seen + 8;
				return 0; /* later fragment: no L4 header */
			}
		} else {
			hlen = (h[1] + 1) * 8;
			if (nh == IPPROTO_ROUTING && h[2] == 0)
				return DROP(KVB_DROP_IP6_EXT); /* RH0 */
			if (hlen > 64 || !cursor_take(c, hlen - 8))
				return DROP(KVB_DROP_IP6_EXT);
		}
		seen += hlen;
		if (seen > f->l3_len)
			return DROP(KVB_DROP_IP6_EXT);
		nh = h[0];
	}
	return DROP(KVB_DROP_IP6_EXT);
}

static __always_inline int check_arp(struct hdr_cursor *c,
				     struct kvb_frame *f)
{
	struct kvb_arp *arp = CURSOR_TAKE(c, struct kvb_arp);

	if (!arp || arp->htype != bpf_htons(1) ||
	    arp->ptype != bpf_htons(ETH_P_IP) || arp->hlen != ETH_ALEN ||
	    arp->plen != 4)
		return DROP(KVB_DROP_TRUNC_L3);
	f->arp = arp;
	f->l3_len = sizeof(*arp);
	f->hdr_len = sizeof(*arp);
	return 0;
}

/*
 * A guest's GSO metadata is its own claim (the virtio-net header), and the
 * kernel cuts the super-frame by gso_size: refuse implausibly small
 * segments. Guest ports only: a NIC's GRO merges only what a sender
 * really sent, so uplinks are not held to it. (XDP sees no GSO.)
 */
static __always_inline int check_guest_gso(__u32 gso_size)
{
	return gso_size && gso_size < KVB_GSO_MIN ? DROP(KVB_DROP_GSO) : 0;
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

	__builtin_memset(f, 0, sizeof(*f));
	f->ctx = p->ctx;
	eth = CURSOR_TAKE(&c, struct ethhdr);
	if (!eth || p->len < ETH_HLEN)
		return DROP(KVB_DROP_RUNT);
	f->eth = eth;
	f->proto = bpf_ntohs(eth->h_proto);
	f->l3_len = p->len - ETH_HLEN;

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

#endif /* KVB_ADMIT_H */
