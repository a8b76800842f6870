/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The gateway's own answers (tc only), built in the datapath and sent back
 * out of the port the question came from: ARP and ICMP echo for a gateway
 * address, neighbour advertisements and router advertisements, and ICMP
 * errors (time exceeded, too big) within each port's ICMP budget. Used by
 * nat and routed networks (route.h). KVB_CONTINUE: not a question for the
 * gateway.
 *
 * Replies are built in a per-CPU scratch buffer, checksummed with
 * bpf_csum_diff and written over the frame (bpf_skb_change_tail +
 * bpf_skb_store_bytes), then sent back out of the port they came from;
 * ARP and echo are turned around in place.
 */
#ifndef KVB_GATEWAY_H
#define KVB_GATEWAY_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "admit.h"
#include "csum.h"
#include "ctx.h"
#include "drop.h"
#include "icmp6.h"
#include "l3.h"
#include "maps.h"
#include "stats.h"
#include "subnet.h"
#include "isolation.h"

/* the TTL of what the gateway sends of its own (echo replies, ICMP errors),
 * the kernel's default (net.ipv4.ip_default_ttl) */
#define KVB_ICMP_TTL 64

#define ICMP4_FRAG_NEEDED_CODE 4

/* Bytes of the offending packet an ICMP error quotes (IP header and more). */
#define KVB_QUOTE_MAX 128
/* Room for the largest reply: an RA with four prefixes (40+32+4*32). */
#define KVB_REPLY_MAX 232

/* the same as dnsmasq's periodic RAs (kvb_maps.h) */
#define RA_ROUTER_LIFETIME KVB_RA_ROUTER_LIFETIME
#define RA_VALID_LIFETIME KVB_RA_VALID_LIFETIME
#define RA_PREFERRED_LIFETIME KVB_RA_PREFERRED_LIFETIME

struct route_scratch {
	struct bpf_fib_lookup fib;
	__u8 pkt[KVB_REPLY_MAX];	/* the reply from its IP header on */
	__u8 ph[40];			/* IPv6 pseudo header */
	__u8 saddr[16];			/* the routed packet's addresses */
	__u8 daddr[16];
	__u8 ll[16];			/* the gateway's link-local */
	struct bpf_redir_neigh nh;	/* route_out's next hop */
	struct kvb_addr_key ek;		/* endpoint_of's key */
	__u8 emac[ETH_ALEN];		/* and the guest's MAC it found */
	__u16 eslot;			/* and its port's counters */
	struct kvb_rtnh4_key rk;	/* route_ask's cache key */
	struct kvb_rtnh4 rv;		/* and the answer it keeps */
	/* route_into's error about a WAN device's packet, which
	 * route_wan_error sends: the network it was for, its family, the
	 * MTU (0: time exceeded) */
	__u32 err_net;
	__u32 err_mtu;
	__u8 err_family;
	/* route_from_guest's hairpin key (a routed guest behind a nat
	 * network to its WAN address) */
	struct kvb_ct_key hk;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct route_scratch);
} kvb_route_tmp SEC(".maps");

/*
 * The ICMP error budget of each port, per CPU: a token bucket kept as
 * credit in nanoseconds (one error costs NSEC_PER_SEC / KVB_ICMP_RATE),
 * on the coarse clock. LRU: a port that goes away leaves no entry for
 * good. Not pinned: an upgrade starts every port with a full bucket.
 */
struct icmp_bucket {
	__u64 last_ns;
	__u64 credit_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, KVB_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct icmp_bucket);
} kvb_icmp_rl SEC(".maps");

#define ICMP_COST_NS (1000000000ULL / KVB_ICMP_RATE)

/* A new port's bucket: credit from boot, so full (a global, not on the
 * stack: the tc program's stack is nearly all used) */
static struct icmp_bucket icmp_bucket_new;

/*
 * May the gateway send one more ICMP error to the sender on ifindex? A
 * global function: the verifier checks it once, not at each of the paths
 * that answer with an error (the tc program is close to its limit).
 */
__noinline int icmp_budget(__u32 ifindex)
{
	struct icmp_bucket *b = bpf_map_lookup_elem(&kvb_icmp_rl, &ifindex);
	__u64 now = kvb_now(), credit;

	if (!b) {
		bpf_map_update_elem(&kvb_icmp_rl, &ifindex, &icmp_bucket_new,
				    BPF_NOEXIST);
		b = bpf_map_lookup_elem(&kvb_icmp_rl, &ifindex);
		if (!b)
			return 1;
	}
	credit = b->credit_ns;
	if (kvb_after(now, b->last_ns)) {
		credit += now - b->last_ns;
		b->last_ns = now;
	}
	if (credit > KVB_ICMP_BURST * ICMP_COST_NS)
		credit = KVB_ICMP_BURST * ICMP_COST_NS;
	if (credit < ICMP_COST_NS) {
		b->credit_ns = credit;
		return 0;
	}
	b->credit_ns = credit - ICMP_COST_NS;
	return 1;
}

static __always_inline struct route_scratch *route_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kvb_route_tmp, &zero);
}

/* bpf_csum_diff's 32-bit sum folded into the checksum field's value. */
static __always_inline __u16 csum_fold_(__s64 sum)
{
	__u32 c = (__u32)sum;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (__u16)~c;
}

/* ICMPv6 checksum of t->pkt[40, 40 + len) with t->pkt's addresses. */
static __always_inline __u16 icmp6_csum(struct route_scratch *t, __u32 len)
{
	__be32 plen = bpf_htonl(len);
	__s64 seed;

	/* the pseudo-header: the addresses where the header has them
	 * (a copy of them, byte by byte, cost the callers' stack 256
	 * bytes of spills), then length and next header */
	seed = bpf_csum_diff(NULL, 0, (__be32 *)(t->pkt + 8), 32, 0);
	if (seed < 0)
		return 0;
	__builtin_memset(t->ph, 0, 8);
	__builtin_memcpy(t->ph, &plen, 4);
	t->ph[7] = IPPROTO_ICMPV6;
	seed = bpf_csum_diff(NULL, 0, (__be32 *)t->ph, 8, (__u32)seed);
	if (seed < 0)
		return 0;
	/* len is checked by every caller; the mask is for the verifier */
	return csum_fold_(bpf_csum_diff(NULL, 0, (__be32 *)(t->pkt + 40),
					((len + 3) & ~3U) & 0xfc, (__u32)seed));
}

static __always_inline void ip6_hdr(__u8 *b, __u32 plen, __u8 hops)
{
	__be16 l = bpf_htons((__u16)plen);

	__builtin_memset(b, 0, 8);
	b[0] = 0x60;
	__builtin_memcpy(b + 4, &l, 2);
	b[6] = IPPROTO_ICMPV6;
	b[7] = hops;
}

/*
 * Replace the frame by t->pkt[0, len) behind an Ethernet header from smac
 * to dmac, and send it back out of the port it came from.
 */
static __always_inline int reply_send_from(struct __sk_buff *skb,
					   __u32 ifindex, const __u8 *smac,
					   struct route_scratch *t, __u32 len,
					   const __u8 *dmac)
{
	__u8 mac[ETH_ALEN];

	__builtin_memcpy(mac, dmac, ETH_ALEN);
	if (len < 40 || len > KVB_REPLY_MAX ||
	    bpf_skb_change_tail(skb, ETH_HLEN + len, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, t->pkt, len, 0) ||
	    bpf_skb_store_bytes(skb, ETH_OFF_DST, mac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_OFF_SRC, smac, ETH_ALEN, 0))
		return TC_ACT_SHOT;
	/* an answer of the fabric's own: no mark, and no guest's tag
	 * (bridge.h: host_tci), which the uplink's egress would take for
	 * the guest's packet the host forwards */
	skb->mark = 0;
	skb->tc_index = 0;
	count_tx(ifindex, skb->len);
	return redirected(bpf_redirect(ifindex, 0));
}

/* The same from the network's gateway. */
static __always_inline int reply_send(struct __sk_buff *skb, __u32 ifindex,
				      const struct kvb_net *net,
				      struct route_scratch *t, __u32 len,
				      const __u8 *dmac)
{
	return reply_send_from(skb, ifindex, net->uplink_mac, t, len, dmac);
}

/*
 * The quote of an ICMP error: the frame from its IP header on, at least
 * hdr and at most KVB_QUOTE_MAX bytes, into b behind the error's own hdr
 * bytes of headers (the two are equal: 28 for IPv4, an IP header and 8
 * bytes; 48 for IPv6), and the sender's MAC into mac. Returns the quote's
 * length, 0 if the frame is shorter.
 */
static __always_inline __u32 quote_load(struct __sk_buff *skb, __u8 *b,
					__u32 hdr, __u8 *mac)
{
	__u32 avail = skb->len - ETH_HLEN, q;

	if (avail < hdr)
		return 0;
	/* the barrier keeps the mask the verifier needs from being
	 * optimised away */
	q = avail - hdr > KVB_QUOTE_MAX - hdr ? KVB_QUOTE_MAX - hdr : avail - hdr;
	barrier_var(q);
	q = hdr + (q & 0x7f);
	if (bpf_skb_load_bytes(skb, ETH_HLEN, b + hdr, q) ||
	    bpf_skb_load_bytes(skb, ETH_OFF_SRC, mac, ETH_ALEN))
		return 0;
	return q;
}

/*
 * An ICMP error about the frame (an IPv4 packet), sent back out of the
 * port it came from, to its sender's MAC: from network net's first IPv4
 * gateway (a guest's packet), or with net NULL from address saddr and MAC
 * smac (a WAN device's packet, from the host); the frame is counted as a
 * drop by reason. Never about an ICMP error or a non-first fragment (RFC
 * 1812). (One function, not a wrapper: the nat stage has no stack for
 * another frame's locals.)
 */
static __always_inline int icmp4_error_from(struct __sk_buff *skb,
					    __u32 ifindex,
					    const struct kvb_net *net,
					    __be32 saddr, const __u8 *smac,
					    __u8 type, __u8 code, __u32 mtu,
					    __u32 reason)
{
	struct route_scratch *t = route_scratch();
	__u8 mac[ETH_ALEN], *b;
	__be16 tot, frag, m = bpf_htons((__u16)mtu);
	__u32 q, ihl;
	__u16 c;

	if (!t)
		return DROP(reason);
	b = t->pkt;
	__builtin_memset(b, 0, sizeof(t->pkt));
	if (net) {	/* our source address */
		if (!net_gw(net, 4, b + 12))
			return DROP(reason);
		smac = net->uplink_mac;
	} else {
		if (!saddr || !smac)
			return DROP(reason);
		__builtin_memcpy(b + 12, &saddr, 4);
	}
	q = quote_load(skb, b, 28, mac);
	if (!q)
		return DROP(reason);
	ihl = (b[28] & 0xf) * 4;
	__builtin_memcpy(&frag, b + 28 + 6, 2);
	if ((frag & bpf_htons(0x1fff)) ||
	    (b[28 + 9] == IPPROTO_ICMP && ihl < q &&
	     icmp4_is_error(b[(28 + ihl) & 0x7f])))
		return DROP(reason);
	__builtin_memcpy(b + 16, b + 28 + 12, 4);	/* to the sender */
	b[0] = 0x45;
	b[1] = 0xc0;
	tot = bpf_htons((__u16)(28 + q));
	__builtin_memcpy(b + 2, &tot, 2);
	b[8] = KVB_ICMP_TTL;
	b[9] = IPPROTO_ICMP;
	c = csum_fold_(bpf_csum_diff(NULL, 0, (__be32 *)b, 20, 0));
	__builtin_memcpy(b + 10, &c, 2);
	b[20] = type;
	b[21] = code;
	if (mtu)
		__builtin_memcpy(b + 26, &m, 2);
	c = csum_fold_(bpf_csum_diff(NULL, 0, (__be32 *)(b + 20),
				     ((8 + q + 3) & ~3U) & 0xfc, 0));
	__builtin_memcpy(b + 22, &c, 2);
	count_drop(stats_of(ifindex), DROP(reason));
	return reply_send_from(skb, ifindex, smac, t, 28 + q, mac);
}

static __always_inline int icmp4_error(struct __sk_buff *skb, __u32 ifindex,
				       const struct kvb_net *net, __u8 type,
				       __u8 code, __u32 mtu, __u32 reason)
{
	if (!net)
		return DROP(reason);
	return icmp4_error_from(skb, ifindex, net, 0, NULL, type, code, mtu,
				reason);
}

/*
 * Is the packet quoted in b[48, end) an ICMPv6 error, behind its extension
 * headers too (hop-by-hop, routing, destination options, a first
 * fragment's header, AH), or one whose type the quote does not reach?
 * No error is sent about an error (RFC 4443 2.4 e), as the kernel's
 * is_ineligible walks them; a walk past four headers, or one that leaves
 * the quote, is no error's, as the kernel's that cannot parse it. The
 * quote is the route scratch's (icmp6_error_from's). Global: the callers'
 * stages have no stack for it.
 */
__noinline int icmp6_quote_is_error(__u32 end)
{
	struct route_scratch *t = route_scratch();
	__u32 off = 48 + 40, len;
	const __u8 *b;
	__u8 nh;

	if (!t || end > KVB_REPLY_MAX)
		return 1;
	b = t->pkt;
	nh = b[48 + 6];
	for (int i = 0; i < 4; i++) {
		if (nh != 0 && nh != 43 && nh != 60 && nh != 44 && nh != 51)
			break;
		/* the constant bound is the verifier's */
		if (off > KVB_REPLY_MAX - 8 || off + 8 > end)
			return 0;
		if (nh == 44 && (b[off + 2] | (b[off + 3] & 0xf8)))
			return 0;	/* a later fragment: no header */
		len = nh == 44 ? 8 : nh == 51 ? ((__u32)b[off + 1] + 2) << 2 :
					      ((__u32)b[off + 1] + 1) << 3;
		nh = b[off];
		off += len;
	}
	if (nh != IPPROTO_ICMPV6)
		return 0;
	if (off >= end || off >= KVB_REPLY_MAX)
		return 1;	/* its type not quoted */
	return b[off] < 128;
}

/*
 * The same for IPv6: time exceeded, packet too big with the MTU, address
 * unreachable; from net's first IPv6 gateway, or with net NULL from saddr
 * and MAC smac.
 */
static __always_inline int icmp6_error_from(struct __sk_buff *skb,
					    __u32 ifindex,
					    const struct kvb_net *net,
					    const __u8 *saddr, const __u8 *smac,
					    __u8 type, __u8 code, __u32 mtu,
					    __u32 reason)
{
	struct route_scratch *t = route_scratch();
	__u8 mac[ETH_ALEN], *b;
	__be32 m = bpf_htonl(mtu);
	__u32 q;
	__u16 c;

	if (!t)
		return DROP(reason);
	b = t->pkt;
	__builtin_memset(b, 0, sizeof(t->pkt));
	if (net) {
		if (!net_gw(net, 6, b + 8))
			return DROP(reason);
		smac = net->uplink_mac;
	} else {
		if (!saddr || !smac)
			return DROP(reason);
		__builtin_memcpy(b + 8, saddr, 16);
	}
	q = quote_load(skb, b, 48, mac);
	if (!q)
		return DROP(reason);
	if (icmp6_quote_is_error(48 + q))
		return DROP(reason);
	__builtin_memcpy(b + 24, b + 48 + 8, 16);	/* to the sender */
	ip6_hdr(b, 8 + q, 64);
	b[40] = type;
	b[41] = code;
	if (mtu)
		__builtin_memcpy(b + 44, &m, 4);
	c = icmp6_csum(t, 8 + q);
	__builtin_memcpy(b + 42, &c, 2);
	count_drop(stats_of(ifindex), DROP(reason));
	return reply_send_from(skb, ifindex, smac, t, 48 + q, mac);
}

static __always_inline int icmp6_error(struct __sk_buff *skb, __u32 ifindex,
				       const struct kvb_net *net, __u8 type,
				       __u8 code, __u32 mtu, __u32 reason)
{
	if (!net)
		return DROP(reason);
	return icmp6_error_from(skb, ifindex, net, NULL, NULL, type, code, mtu,
				reason);
}

/*
 * Neighbour discovery for the gateway: an NS for one of its addresses or
 * its link-local gets the NA; an RS gets the network's RA (routed
 * networks with IPv6 subnets). Anything else continues.
 */
static __always_inline int nd_gateway(struct __sk_buff *skb, __u32 ifindex,
				      const struct kvb_net *net,
				      const struct kvb_frame *f, __u32 l4off)
{
	struct route_scratch *t = route_scratch();
	__u8 *b, *ll, dmac[ETH_ALEN];
	int unspec = ip6_is_unspec(f->saddr6);
	__u32 len, k = 0;
	__u16 c;

	if (!t)
		return KVB_CONTINUE;
	b = t->pkt;
	ll = t->ll;
	__builtin_memset(b, 0, sizeof(t->pkt));
	ip6_mac_ll(ll, net->uplink_mac);
	if (unspec) {	/* all nodes */
		__builtin_memcpy(dmac, "\x33\x33\x00\x00\x00\x01", ETH_ALEN);
		b[24] = 0xff;
		b[25] = 0x02;
		b[39] = 0x01;
	} else {
		__builtin_memcpy(dmac, f->eth->h_source, ETH_ALEN);
		__builtin_memcpy(b + 24, f->saddr6, 16);
	}
	if (f->icmp_type == ND_NEIGHBOR_SOLICIT_) {
		__u8 *target = b + 48;

		if (bpf_skb_load_bytes(skb, l4off + 8, target, 16))
			return KVB_CONTINUE;
		if (!net_is_gw(net, 6, target) && !ip6_equal(target, ll))
			return KVB_CONTINUE;	/* a guest's: theirs to answer */
		__builtin_memcpy(b + 8, target, 16);
		b[40] = ND_NEIGHBOR_ADVERT_;
		/* router, solicited (unless a DAD probe), override */
		b[44] = unspec ? 0xa0 : 0xe0;
		b[64] = 2;	/* target link-layer address */
		b[65] = 1;
		__builtin_memcpy(b + 66, net->uplink_mac, ETH_ALEN);
		len = 32;
	} else {	/* router solicitation */
		__be16 life = bpf_htons(RA_ROUTER_LIFETIME);
		__be32 mtu = bpf_htonl(net->mtu);
		__be32 valid = bpf_htonl(RA_VALID_LIFETIME);
		__be32 pref = bpf_htonl(RA_PREFERRED_LIFETIME);

		__builtin_memcpy(b + 8, ll, 16);	/* from the link-local */
		b[40] = ND_ROUTER_ADVERT_;
		b[44] = 64;	/* hop limit for the guests */
		/* dhcp on: addresses by DHCPv6 (managed), as dnsmasq says */
		if (net->flags & KVB_NET_F_DHCP)
			b[45] = 0x80;
		__builtin_memcpy(b + 46, &life, 2);
		b[56] = 1;	/* source link-layer address */
		b[57] = 1;
		__builtin_memcpy(b + 58, net->uplink_mac, ETH_ALEN);
		b[64] = 5;	/* MTU */
		b[65] = 1;
		__builtin_memcpy(b + 68, &mtu, 4);
		for (__u32 i = 0; i < KVB_MAX_SUBNETS; i++) {
			const struct kvb_subnet *s = &net->subnets[i];
			__u8 *o = b + 72 + 32 * (k & 3);

			if (i >= net->nsubnets)
				break;
			if (s->family != 6)
				continue;
			o[0] = 3;	/* prefix information */
			o[1] = 4;
			o[2] = s->prefixlen;
			/* on-link; autonomous (SLAAC) only for a /64 and
			 * when DHCPv6 does not give the addresses */
			o[3] = s->prefixlen == 64 &&
			       !(net->flags & KVB_NET_F_DHCP) ? 0xc0 : 0x80;
			__builtin_memcpy(o + 4, &valid, 4);
			__builtin_memcpy(o + 8, &pref, 4);
			__builtin_memcpy(o + 16, s->addr, 16);
			k++;
		}
		if (!k)
			return KVB_CONTINUE;	/* no IPv6 here: no router */
		len = 32 + 32 * (k & 7);
	}
	ip6_hdr(b, len, 255);
	c = icmp6_csum(t, len);
	__builtin_memcpy(b + 42, &c, 2);
	return reply_send(skb, ifindex, net, t, 40 + len, dmac);
}

/* ARP request for a gateway address: turned around into the reply. */
static __always_inline int nat_arp_gw(struct __sk_buff *skb,
				      const struct kvb_net *net,
				      const struct kvb_frame *f)
{
	struct kvb_arp *a = f->arp;
	__u8 sha[ETH_ALEN];
	__be16 op = bpf_htons(2);
	__be32 spa, gw;

	if (!a || a->op != bpf_htons(1))
		return KVB_CONTINUE;
	gw = a->tpa;
	if (!net_is_gw(net, 4, (const __u8 *)&gw))
		return KVB_CONTINUE;
	__builtin_memcpy(sha, a->sha, ETH_ALEN);
	spa = a->spa;
	bpf_skb_store_bytes(skb, ETH_OFF_DST, sha, ETH_ALEN, 0);
	bpf_skb_store_bytes(skb, ETH_OFF_SRC, net->uplink_mac, ETH_ALEN, 0);
	bpf_skb_store_bytes(skb, ETH_HLEN + 6, &op, 2, 0);
	bpf_skb_store_bytes(skb, ETH_HLEN + 8, net->uplink_mac, ETH_ALEN, 0);
	bpf_skb_store_bytes(skb, ETH_HLEN + 14, &gw, 4, 0);
	bpf_skb_store_bytes(skb, ETH_HLEN + 18, sha, ETH_ALEN, 0);
	bpf_skb_store_bytes(skb, ETH_HLEN + 24, &spa, 4, 0);
	count_tx(skb->ifindex, skb->len);
	return redirected(bpf_redirect(skb->ifindex, 0));
}

/*
 * The MAC a probe for an address port owner holds is answered from, for
 * a prober on port prober of network net_id, into mac: the holder's own
 * MAC; the uplink's for the host's own address on a bridge's uplink (its
 * holds), to any guest, isolated ones too (isolation keeps guests from
 * guests, not from the LAN and the host). 0: not answered (isolation
 * between the two guests, or a holder without a MAC yet).
 */
static __always_inline int defend_mac(__u32 net_id, __u32 owner,
				      __u32 prober, __u8 *mac)
{
	struct kvb_port *holder = bpf_map_lookup_elem(&kvb_port, &owner);
	struct kvb_net *n;

	if (!holder)
		return 0;
	if (holder->role == KVB_PORT_UPLINK) {
		n = net_lookup(net_id);
		if (!n || n->uplink != owner || mac_is_zero(n->uplink_mac))
			return 0;
		__builtin_memcpy(mac, n->uplink_mac, ETH_ALEN);
		return 1;
	}
	if (mac_is_zero(holder->mac) || !guests_may_talk(prober, owner))
		return 0;
	__builtin_memcpy(mac, holder->mac, ETH_ALEN);
	return 1;
}

/*
 * The answer the holder of the address an ARP probe asks about would
 * give (RFC 5227: a reply from its MAC and that address to the prober),
 * sent back to the prober on port skb->ifindex of network net_id; the
 * probe itself goes no further (counted spoof-arp; guard.h: GUARD_ARP_DEFEND). Not when the two
 * guests may not talk (isolation: the holder's MAC is not the prober's
 * to learn), or the holder has no MAC yet: dropped. The host's own
 * address on a bridge's uplink (held by the uplink port) is answered
 * with the uplink's MAC. A global function.
 */
__noinline int arp_defend(struct __sk_buff *skb, __u32 net_id)
{
	struct kvb_addr_key k = { .family = 4, .net_id = (__u8)net_id };
	struct kvb_addr *o;
	__u8 sha[ETH_ALEN], mac[ETH_ALEN];
	__be16 op = bpf_htons(2);
	__be32 tpa, zero = 0;

	if (!skb || bpf_skb_load_bytes(skb, ETH_HLEN + 8, sha, ETH_ALEN) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + 24, &tpa, 4))
		return DROP(KVB_DROP_SPOOF_ARP);
	__builtin_memcpy(k.addr, &tpa, 4);
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	if (!o)
		return DROP(KVB_DROP_SPOOF_ARP);
	if (!defend_mac(net_id, o->owner, skb->ifindex, mac))
		return DROP(KVB_DROP_SPOOF_ARP);
	if (bpf_skb_store_bytes(skb, ETH_OFF_DST, sha, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_OFF_SRC, mac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + 6, &op, 2, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + 8, mac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + 14, &tpa, 4, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + 18, sha, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + 24, &zero, 4, 0))
		return TC_ACT_SHOT;
	count_drop(stats_of(skb->ifindex), DROP(KVB_DROP_SPOOF_ARP));
	count_tx(skb->ifindex, skb->len);
	return redirected(bpf_redirect(skb->ifindex, 0));
}

/*
 * A DAD probe (an NS from ::, its target at l4off + 8) from port
 * skb->ifindex of network net_id for an address another port holds
 * (guard.h: GUARD_ND_DEFEND): answered as the holder would answer it
 * (RFC 4862 5.4.3: an NA to all nodes, from the target, override set,
 * the holder's MAC as target link-layer address), back into the prober's
 * port, so that its DAD fails; the probe itself goes no further, counted
 * spoof-nd (a holder that was given the address) or savi-conflict (one
 * that claimed it lately). The host's own address on a bridge's uplink
 * is answered with the uplink's MAC. Not when the holder's guest may not
 * talk to the prober (isolation) or has no MAC yet: dropped, as before.
 * A global function, verified once.
 */
__noinline int nd_defend(struct __sk_buff *skb, __u32 net_id, __u32 l4off)
{
	static const __u8 allnodes[ETH_ALEN] = { 0x33, 0x33, 0, 0, 0, 1 };
	struct kvb_addr_key k = { .family = 6, .net_id = (__u8)net_id };
	struct route_scratch *t = route_scratch();
	struct kvb_addr *o, *hb;
	__u32 owner, why = KVB_DROP_SPOOF_ND;
	__u8 mac[ETH_ALEN], *b;
	__u16 c;

	if (!skb || !t || bpf_skb_load_bytes(skb, (l4off + 8) & 0xffff,
					     k.addr, 16))
		return DROP(KVB_DROP_SPOOF_ND);
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	if (!o)
		return DROP(KVB_DROP_SPOOF_ND);
	owner = o->owner;
	k.ifindex = owner;
	k.net_id = 0;
	hb = bpf_map_lookup_elem(&kvb_addr, &k);
	if (hb && !(hb->flags & KVB_ADDR_F_STATIC))
		why = KVB_DROP_SAVI_CONFLICT;
	if (!defend_mac(net_id, owner, skb->ifindex, mac))
		return DROP(why);
	b = t->pkt;
	__builtin_memset(b, 0, sizeof(t->pkt));
	__builtin_memcpy(b + 8, k.addr, 16);		/* from the target */
	b[24] = 0xff;					/* to all nodes */
	b[25] = 0x02;
	b[39] = 0x01;
	b[40] = ND_NEIGHBOR_ADVERT_;
	b[44] = 0x20;					/* override */
	__builtin_memcpy(b + 48, k.addr, 16);
	b[64] = 2;					/* target link-layer */
	b[65] = 1;
	__builtin_memcpy(b + 66, mac, ETH_ALEN);
	ip6_hdr(b, 32, 255);
	c = icmp6_csum(t, 32);
	__builtin_memcpy(b + 42, &c, 2);
	count_drop(stats_of(skb->ifindex), DROP(why));
	return reply_send_from(skb, skb->ifindex, mac, t, 72, allnodes);
}

/* ICMP echo request to a gateway address gw: answered from here. */
static __always_inline int nat_ping_gw(struct __sk_buff *skb,
				       const struct kvb_net *net,
				       const struct kvb_frame *f, __u32 l4off,
				       __be32 gw)
{
	__u8 mac[ETH_ALEN];
	__be32 src = f->saddr4;

	__builtin_memcpy(mac, f->eth->h_source, ETH_ALEN);
	/* type 8 to 0: an all-zero reply's checksum is 0xffff (csum.h) */
	if (csum_l4_replace(skb, l4off + 2, bpf_htons(8 << 8), 0, 2,
			    IPPROTO_ICMP))
		return TC_ACT_SHOT;
	bpf_skb_store_bytes(skb, l4off, &(__u8){ 0 }, 1, 0);
	/* a TTL of its own, as the host's answer has (the request's, 1
	 * for `ping -t 1`, died at the next hop of a guest that routes) */
	{
		__u8 ttl = 0;

		if (!bpf_skb_load_bytes(skb, IP_OFF_TTL, &ttl, 1) &&
		    ttl != KVB_ICMP_TTL) {
			bpf_l3_csum_replace(skb, IP_OFF_CSUM,
					    bpf_htons((__u16)(ttl << 8 |
							      IPPROTO_ICMP)),
					    bpf_htons(KVB_ICMP_TTL << 8 |
						      IPPROTO_ICMP), 2);
			ttl = KVB_ICMP_TTL;
			bpf_skb_store_bytes(skb, IP_OFF_TTL, &ttl, 1, 0);
		}
	}
	/* swapping the addresses keeps the IP checksum */
	bpf_skb_store_bytes(skb, IP_OFF_SADDR, &gw, 4, 0);
	bpf_skb_store_bytes(skb, IP_OFF_DADDR, &src, 4, 0);
	bpf_skb_store_bytes(skb, ETH_OFF_DST, mac, ETH_ALEN, 0);
	bpf_skb_store_bytes(skb, ETH_OFF_SRC, net->uplink_mac, ETH_ALEN, 0);
	count_tx(skb->ifindex, skb->len);
	return redirected(bpf_redirect(skb->ifindex, 0));
}

#endif /* KVB_GATEWAY_H */
