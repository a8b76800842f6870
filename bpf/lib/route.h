/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Routing (tc only), for guests of routed and nat networks and for frames
 * arriving on a WAN device for a routed network:
 *
 * - the gateway's neighbour discovery in BPF: neighbour solicitations for
 *   a gateway address (or the gateway's link-local) get the advertisement,
 *   router solicitations get a router advertisement with the network's
 *   prefixes (autonomous for /64s, so SLAAC works) and MTU;
 * - a packet to the gateway's MAC goes where the FIB says: into a network
 *   of the fabric if the route table (kvb_route) names one and the two are
 *   peered (straight to the guest's port when the host already knows its
 *   MAC, through the network's host interface otherwise, which resolves
 *   it), else out of the host device the FIB names;
 * - TTL/hop limit decremented; when it runs out, or the packet is larger
 *   than the next hop's MTU, the ICMP/ICMPv6 error goes back to the sender
 *   from the gateway (the offending packet counted as a drop by reason),
 *   within a per-port budget (icmp-rate-limited beyond it).
 *
 * Replies are built in a per-CPU scratch buffer, checksummed with
 * bpf_csum_diff and written over the frame (bpf_skb_change_tail +
 * bpf_skb_store_bytes), then sent back out of the port they came from.
 */
#ifndef KVB_ROUTE_H
#define KVB_ROUTE_H

#include <linux/pkt_cls.h>
#include "maps.h"
#include "admit.h"
#include "stats.h"
#include "fdb.h"
#include "l3.h"
#include "guard.h"	/* ND message types, ip6_is_unspec */
#include "subnet.h"
#include "nat.h"
#include "isolation.h"
#include "wan.h"

#define ROUTE_CONTINUE NAT_CONTINUE	/* not routing's business */
#define ICMP6_TIME_EXCEEDED_ 3
#define ICMP6_PKT_TOO_BIG_ 2
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
	if (now > b->last_ns) {
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

	__builtin_memset(t->ph, 0, sizeof(t->ph));
	__builtin_memcpy(t->ph, t->pkt + 8, 32);
	__builtin_memcpy(t->ph + 32, &plen, 4);
	t->ph[39] = IPPROTO_ICMPV6;
	seed = bpf_csum_diff(NULL, 0, (__be32 *)t->ph, sizeof(t->ph), 0);
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
 * Replace the frame by t->pkt[0, len) behind an Ethernet header to dmac
 * from the gateway, and send it back out of the port it came from.
 */
static __always_inline int reply_send(struct __sk_buff *skb, __u32 ifindex,
				      const struct kvb_net *net,
				      struct route_scratch *t, __u32 len,
				      const __u8 *dmac)
{
	__u8 mac[ETH_ALEN];

	__builtin_memcpy(mac, dmac, ETH_ALEN);
	if (len < 40 || len > KVB_REPLY_MAX ||
	    bpf_skb_change_tail(skb, ETH_HLEN + len, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, t->pkt, len, 0) ||
	    bpf_skb_store_bytes(skb, ETH_OFF_DST, mac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_OFF_SRC, net->uplink_mac, ETH_ALEN, 0))
		return TC_ACT_SHOT;
	skb->mark = 0;
	count_tx(ifindex, skb->len);
	return redirected(bpf_redirect(ifindex, 0));
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
 * An ICMP error about the frame (an IPv4 packet from a guest), sent back
 * from the network's first IPv4 gateway; the frame is counted as a drop
 * by reason. Never about an ICMP error or a non-first fragment (RFC 1812).
 */
static __always_inline int icmp4_error(struct __sk_buff *skb, __u32 ifindex,
				       const struct kvb_net *net, __u8 type,
				       __u8 code, __u32 mtu, __u32 reason)
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
	if (!net_gw(net, 4, b + 12))	/* our source address */
		return DROP(reason);
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
	b[8] = 64;
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
	return reply_send(skb, ifindex, net, t, 28 + q, mac);
}

/* The same for IPv6: time exceeded, or packet too big with the MTU. */
static __always_inline int icmp6_error(struct __sk_buff *skb, __u32 ifindex,
				       const struct kvb_net *net, __u8 type,
				       __u8 code, __u32 mtu, __u32 reason)
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
	if (!net_gw(net, 6, b + 8))
		return DROP(reason);
	q = quote_load(skb, b, 48, mac);
	if (!q)
		return DROP(reason);
	/* not about an ICMPv6 error (the parser put them behind no
	 * extension header we would have to walk again: checked directly) */
	if (b[48 + 6] == IPPROTO_ICMPV6 && b[48 + 40] < 128)
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
	return reply_send(skb, ifindex, net, t, 48 + q, mac);
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
		return ROUTE_CONTINUE;
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
			return ROUTE_CONTINUE;
		if (!net_is_gw(net, 6, target) && !ip6_equal(target, ll))
			return ROUTE_CONTINUE;	/* a guest's: theirs to answer */
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

		if (net->type != KVB_NET_ROUTED)
			return ROUTE_CONTINUE;
		__builtin_memcpy(b + 8, ll, 16);	/* from the link-local */
		b[40] = ND_ROUTER_ADVERT_;
		b[44] = 64;	/* hop limit for the guests */
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
			/* on-link; autonomous (SLAAC) only for a /64 */
			o[3] = s->prefixlen == 64 ? 0xc0 : 0x80;
			__builtin_memcpy(o + 4, &valid, 4);
			__builtin_memcpy(o + 8, &pref, 4);
			__builtin_memcpy(o + 16, s->addr, 16);
			k++;
		}
		if (!k)
			return ROUTE_CONTINUE;	/* no IPv6 here: no router */
		len = 32 + 32 * (k & 7);
	}
	ip6_hdr(b, len, 255);
	c = icmp6_csum(t, len);
	__builtin_memcpy(b + 42, &c, 2);
	return reply_send(skb, ifindex, net, t, 40 + len, dmac);
}

/*
 * Time exceeded / too big, from src's gateway of the packet's family; over
 * the port's ICMP budget the packet is dropped with no error sent.
 */
static __always_inline int route_error(struct __sk_buff *skb, __u32 ifindex,
				       const struct kvb_net *src, __u8 family,
				       __u32 mtu)
{
	if (!src)	/* from the WAN: the host's stack answers */
		return TC_ACT_OK;
	if (!icmp_budget(ifindex))
		return DROP(KVB_DROP_ICMP_RATE);
	if (family == 4)
		return mtu ? icmp4_error(skb, ifindex, src, ICMP_DEST_UNREACH_,
					 ICMP4_FRAG_NEEDED_CODE, mtu,
					 KVB_DROP_TOO_BIG) :
			     icmp4_error(skb, ifindex, src, ICMP_TIME_EXCEEDED_, 0, 0,
					 KVB_DROP_TTL);
	return mtu ? icmp6_error(skb, ifindex, src, ICMP6_PKT_TOO_BIG_, 0, mtu,
				 KVB_DROP_TOO_BIG) :
		     icmp6_error(skb, ifindex, src, ICMP6_TIME_EXCEEDED_, 0, 0,
				 KVB_DROP_TTL);
}

/*
 * Ask the FIB about daddr (family 4 or 6) for a packet entering through
 * host interface ifindex. l3_len 0 skips the MTU check (GSO frames: the
 * kernel checks their segments).
 */
static __always_inline int fib_ask(struct __sk_buff *skb,
				   struct bpf_fib_lookup *fib, __u8 family,
				   const __u8 *saddr, const __u8 *daddr,
				   __u32 l3_len, __u32 ifindex)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ifindex;
	fib->tot_len = (__u16)l3_len;
	if (family == 4) {
		fib->family = AF_INET_;
		__builtin_memcpy(&fib->ipv4_src, saddr, 4);
		__builtin_memcpy(&fib->ipv4_dst, daddr, 4);
	} else {
		fib->family = AF_INET6_;
		__builtin_memcpy(fib->ipv6_src, saddr, 16);
		__builtin_memcpy(fib->ipv6_dst, daddr, 16);
	}
	return (int)bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
}

/*
 * Into network r (src: the guest's network, NULL from a WAN device). A
 * GSO frame's segments are held to the destination network's MTU.
 */
static __always_inline int route_into(struct __sk_buff *skb, __u32 ifindex,
				      const struct kvb_net *src,
				      const struct kvb_route *r, __u8 family,
				      const __u8 *saddr, const __u8 *daddr,
				      __u32 l3_len, __u32 hdr_len)
{
	struct route_scratch *t = route_scratch();
	struct bpf_fib_lookup *fib;
	struct kvb_net *dst;
	__u32 gw_host = r->gw_host, out = 0;
	__u8 dmac[ETH_ALEN];
	int ret, same;

	dst = bpf_map_lookup_elem(&kvb_net, &r->net_id);
	if (!t || !dst)
		return DROP(KVB_DROP_NO_ROUTE);
	/* back into the sender's own network: guest to guest, isolation
	 * applies (an isolated sender reaches none, nobody reaches one) */
	same = src && src->id == dst->id;
	if (same && port_isolated(ifindex))
		return DROP(KVB_DROP_ISOLATED);
	fib = &t->fib;
	if (skb->gso_size && skb->gso_size + hdr_len > dst->mtu)
		return route_error(skb, ifindex, src, family, dst->mtu);
	ret = fib_ask(skb, fib, family, saddr, daddr,
		      skb->gso_size ? 0 : l3_len, gw_host);
	if (ret == BPF_FIB_LKUP_RET_NOT_FWDED)
		return ROUTE_CONTINUE;	/* the host's own address there */
	if (ret == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return route_error(skb, ifindex, src, family, fib->mtu_result);
	if ((ret != BPF_FIB_LKUP_RET_SUCCESS &&
	     ret != BPF_FIB_LKUP_RET_NO_NEIGH) || fib->ifindex != gw_host)
		return DROP(KVB_DROP_NO_ROUTE);
	if (ret == BPF_FIB_LKUP_RET_SUCCESS) {
		__builtin_memcpy(dmac, fib->dmac, ETH_ALEN);
		out = fdb_lookup(dst->id, dmac);
	}
	if (same && out && !guests_may_talk(ifindex, out))
		return DROP(KVB_DROP_ISOLATED);
	if (!hop_dec(skb, family))
		return route_error(skb, ifindex, src, family, 0);
	skb->mark = 0;
	if (out && out != dst->uplink && out != ifindex) {
		/* the host knows the guest's MAC: straight to its port */
		bpf_skb_store_bytes(skb, ETH_OFF_DST, dmac, ETH_ALEN, 0);
		bpf_skb_store_bytes(skb, ETH_OFF_SRC, dst->uplink_mac, ETH_ALEN, 0);
		count_tx(out, skb->len);
		return redirected(bpf_redirect(out, 0));
	}
	/* the host's interface into that network resolves it; a guest's
	 * packet for its own network stays a guest's on the way back in */
	if (same)
		skb->mark = KVB_MARK_HAIRPIN;
	return redirected(bpf_redirect_neigh(gw_host, NULL, 0, 0));
}

/* Out of the fabric, where the host's FIB says (routed networks). */
static __always_inline int route_out(struct __sk_buff *skb, __u32 ifindex,
				     const struct kvb_net *net, __u8 family,
				     const __u8 *saddr, const __u8 *daddr,
				     __u32 l3_len)
{
	struct route_scratch *t = route_scratch();
	struct bpf_fib_lookup *fib;
	__u32 out;
	int ret;

	if (!t)
		return DROP(KVB_DROP_NO_ROUTE);
	fib = &t->fib;
	ret = fib_ask(skb, fib, family, saddr, daddr,
		      skb->gso_size ? 0 : l3_len, net->gw_host);
	if (ret == BPF_FIB_LKUP_RET_NOT_FWDED)
		return ROUTE_CONTINUE;	/* the host's own address */
	if (ret == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return route_error(skb, ifindex, net, family, fib->mtu_result);
	out = fib->ifindex;
	if ((ret != BPF_FIB_LKUP_RET_SUCCESS &&
	     ret != BPF_FIB_LKUP_RET_NO_NEIGH) || out == net->gw_host)
		return DROP(KVB_DROP_NO_ROUTE);
	if (!hop_dec(skb, family))
		return route_error(skb, ifindex, net, family, 0);
	skb->mark = 0;
	count_tx(out, skb->len);
	return redirected(bpf_redirect_neigh(out, NULL, 0, 0));
}

/*
 * A frame from a guest of a routed or nat network. Returns ROUTE_CONTINUE
 * for what the switch (or NAT) handles, a verdict, or a drop code.
 */
static __always_inline int route_from_guest(struct __sk_buff *skb, __u32 ifindex,
					    const struct kvb_net *net,
					    const struct kvb_frame *f,
					    __u32 l4off, const __u8 *dst)
{
	struct route_scratch *t = route_scratch();
	__u8 family, *saddr, *daddr;
	struct kvb_route *r;
	struct kvb_net *nat;

	if (!t)
		return ROUTE_CONTINUE;
	saddr = t->saddr;
	daddr = t->daddr;
	if (f->proto == ETH_P_ARP)
		return nat_arp_gw(skb, net, f);
	if (f->proto == ETH_P_IPV6 && f->l4_ok &&
	    f->l4_proto == IPPROTO_ICMPV6 &&
	    (f->icmp_type == ND_NEIGHBOR_SOLICIT_ ||
	     f->icmp_type == ND_ROUTER_SOLICIT_))
		return nd_gateway(skb, ifindex, net, f, l4off);
	if (!mac_equal(dst, net->uplink_mac))
		return ROUTE_CONTINUE;	/* guest to guest: switched */
	if (f->proto == ETH_P_IP) {
		family = 4;
		__builtin_memcpy(saddr, &f->saddr4, 4);
		if (bpf_skb_load_bytes(skb, IP_OFF_DADDR, daddr, 4))
			return DROP(KVB_DROP_TRUNC_L3);
	} else if (f->proto == ETH_P_IPV6) {
		family = 6;
		__builtin_memcpy(saddr, f->saddr6, 16);
		if (bpf_skb_load_bytes(skb, IP6_OFF_DADDR, daddr, 16))
			return DROP(KVB_DROP_TRUNC_L3);
		/* multicast: the link's, so the host's */
		if (daddr[0] == 0xff)
			return ROUTE_CONTINUE;
		/*
		 * link-local: the gateway's own is the host's; any other
		 * belongs to a neighbour, which the guest reaches directly.
		 * Handed to the host, a host forwarding IPv6 would send it
		 * back out to that neighbour, around isolation.
		 */
		if (daddr[0] == 0xfe && (daddr[1] & 0xc0) == 0x80) {
			ip6_mac_ll(t->ll, net->uplink_mac);
			return ip6_equal(daddr, t->ll) ? ROUTE_CONTINUE :
							 DROP(KVB_DROP_LL_VIA_GW);
		}
	} else {
		return ROUTE_CONTINUE;
	}
	if (net_is_gw(net, family, daddr)) {
		__be32 gw;

		__builtin_memcpy(&gw, daddr, 4);
		if (family == 4 && f->l4_ok && f->l4_proto == IPPROTO_ICMP &&
		    f->icmp_type == 8)
			return nat_ping_gw(skb, net, f, l4off, gw);
		return ROUTE_CONTINUE;	/* the host's services */
	}
	r = route_of(family, daddr);
	if (r) {
		if (r->net_id != net->id && !net_peered(net, r->net_id))
			return DROP(KVB_DROP_NOT_PEERED);
		return route_into(skb, ifindex, net, r, family, saddr, daddr,
				  f->l3_len, f->hdr_len);
	}
	if (net->type != KVB_NET_ROUTED)
		return ROUTE_CONTINUE;	/* nat: translated, or the host's */
	if (net->via_nat) {	/* a private segment behind a nat network */
		if (family != 4)
			return DROP(KVB_DROP_NO_ROUTE);
		nat = bpf_map_lookup_elem(&kvb_net, &net->via_nat);
		if (!nat || nat->type != KVB_NET_NAT)
			return DROP(KVB_DROP_NO_ROUTE);
		return nat_snat(skb, nat, f, l4off);
	}
	return route_out(skb, ifindex, net, family, saddr, daddr, f->l3_len);
}

/*
 * A frame on a WAN device for a routed network (one not behind a nat
 * network) that named this device as its `wan`: admitted like any frame
 * entering the fabric (a drop code when it fails), then into the network
 * as the FIB says. A routed network without a WAN device, or with another
 * one, is not reachable from here, whatever other networks use this
 * device for. Everything else, and whatever routing refuses, is left to
 * NAT and the host.
 */
static __always_inline int route_from_wan(struct __sk_buff *skb, __u32 ifindex)
{
	struct hdr_cursor c = { .pos = (void *)(long)skb->data,
				.end = (void *)(long)skb->data_end };
	struct ethhdr *eth = CURSOR_TAKE(&c, struct ethhdr);
	struct route_scratch *t = route_scratch();
	__u8 family, *saddr, *daddr;
	struct kvb_route *r;
	struct kvb_net *net;
	__u32 l3_len;
	int ret;

	if (!eth || !t)
		return ROUTE_CONTINUE;
	saddr = t->saddr;
	daddr = t->daddr;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = CURSOR_TAKE(&c, struct iphdr);

		if (!ip)
			return ROUTE_CONTINUE;
		family = 4;
		__builtin_memcpy(saddr, &ip->saddr, 4);
		__builtin_memcpy(daddr, &ip->daddr, 4);
		l3_len = bpf_ntohs(ip->tot_len);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = CURSOR_TAKE(&c, struct ipv6hdr);

		if (!ip6)
			return ROUTE_CONTINUE;
		family = 6;
		__builtin_memcpy(saddr, &ip6->saddr, 16);
		__builtin_memcpy(daddr, &ip6->daddr, 16);
		l3_len = 40 + bpf_ntohs(ip6->payload_len);
	} else {
		return ROUTE_CONTINUE;
	}
	r = route_of(family, daddr);
	if (!r)
		return ROUTE_CONTINUE;
	net = bpf_map_lookup_elem(&kvb_net, &r->net_id);
	if (!net || net->type != KVB_NET_ROUTED || net->via_nat ||
	    net->wan != ifindex)
		return ROUTE_CONTINUE;
	ret = kvb_admit_wan(skb);
	if (IS_DROP(ret))
		return ret;
	ret = route_into(skb, ifindex, NULL, r, family, saddr, daddr, l3_len, 0);
	return IS_DROP(ret) ? TC_ACT_OK : ret;
}

#endif /* KVB_ROUTE_H */
