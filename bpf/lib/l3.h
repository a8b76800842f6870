/* SPDX-License-Identifier: GPL-2.0 */
/*
 * L3 rewriting: header offsets in an untagged frame, address
 * and port rewrites that keep the IP and L4 checksums right (through
 * csum.h and the kernel's helpers, so CHECKSUM_PARTIAL and GSO frames
 * stay correct), TTL and hop limit, and the redirect verdict. What NAT,
 * routing and the gateway's answers share.
 */
#ifndef KVB_L3_H
#define KVB_L3_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "csum.h"
#include "ctx.h"

/* kernel values the datapath compares against (no libc headers here) */
#define AF_INET_ 2
#define AF_INET6_ 10

/* offsets in an untagged frame (tc sees VLAN tags stripped) */
#define ETH_OFF_DST 0
#define ETH_OFF_SRC 6
#define IP_OFF (ETH_HLEN)
#define IP_OFF_TTL (IP_OFF + 8)
#define IP_OFF_CSUM (IP_OFF + 10)
#define IP_OFF_SADDR (IP_OFF + 12)
#define IP_OFF_DADDR (IP_OFF + 16)
#define IP6_OFF_HOPS (ETH_HLEN + 7)
#define IP6_OFF_SADDR (ETH_HLEN + 8)
#define IP6_OFF_DADDR (ETH_HLEN + 24)

/*
 * A redirect helper's result as one of two constants: the verifier then
 * knows a rewritten frame never comes back as NAT_CONTINUE (its packet
 * pointers are gone by then).
 */
static __always_inline int redirected(long ret)
{
	return ret == TC_ACT_REDIRECT ? TC_ACT_REDIRECT : TC_ACT_SHOT;
}

/*
 * The next hop bpf_fib_lookup named in fib (ipv4_dst, or ipv6_dst when
 * family says IPv6: an IPv6 route, or an IPv4 one through an IPv6
 * gateway; set with SUCCESS and NO_NEIGH alike) into nh, for
 * redirect_nh.
 */
static __always_inline void fib_next_hop(const struct bpf_fib_lookup *fib,
					 struct bpf_redir_neigh *nh)
{
	__builtin_memset(nh, 0, sizeof(*nh));
	if (fib->family == AF_INET_) {
		nh->nh_family = AF_INET_;
		nh->ipv4_nh = fib->ipv4_dst;
	} else {
		nh->nh_family = AF_INET6_;
		__builtin_memcpy(nh->ipv6_nh, fib->ipv6_dst, 16);
	}
}

/* Is the next hop bpf_fib_lookup named in fib daddr itself (on link)? */
static __always_inline int fib_next_hop_is(const struct bpf_fib_lookup *fib,
					   __u8 family, const __u8 *daddr)
{
	__u32 a[4];

	if (family == 4) {
		__builtin_memcpy(a, daddr, 4);
		return fib->family == AF_INET_ && fib->ipv4_dst == a[0];
	}
	__builtin_memcpy(a, daddr, 16);
	return fib->family == AF_INET6_ && fib->ipv6_dst[0] == a[0] &&
	       fib->ipv6_dst[1] == a[1] && fib->ipv6_dst[2] == a[2] &&
	       fib->ipv6_dst[3] == a[3];
}

/*
 * skb out of device out to next hop nh (fib_next_hop): bpf_redirect_neigh
 * resolves only the neighbour, as the kernel's forwarding does after its
 * one route lookup, instead of looking the route up a second time.
 */
static __always_inline int redirect_nh(struct __sk_buff *skb,
				       struct bpf_redir_neigh *nh, __u32 out)
{
	(void)skb;	/* the fuzzer's build observes the redirect through it */
	return redirected(bpf_redirect_neigh(out, nh, sizeof(*nh), 0));
}

/* Offset of the L4 checksum, or -1 when there is none to fix. */
static __always_inline int l4_csum_off(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return 16;
	case IPPROTO_UDP:
		return 6;
	case IPPROTO_ICMP:
		return 2;
	}
	return -1;
}

/*
 * The rewrites below run in both hooks (ctx: tc's ctx or XDP's frame,
 * lib/ctx.h): tc
 * through the helpers, which keep CHECKSUM_PARTIAL and GSO frames right;
 * XDP in place, on frames whose checksums it proved complete (natxdp.h).
 */

/* Replace a 4-byte address at off, fixing the IP and L4 checksums. */
static __always_inline int rewrite_addr(void *ctx, __u32 off,
					__be32 from, __be32 to, __u8 proto,
					__u32 l4off)
{
	int csum = l4_csum_off(proto);

	if (proto != IPPROTO_ICMP && csum >= 0 &&
	    kvb_l4_csum_replace(ctx, l4off + (__u32)csum, from, to,
			    BPF_F_PSEUDO_HDR | 4, proto))
		return -1;
	if (kvb_l3_csum_replace(ctx, IP_OFF_CSUM, from, to, 4))
		return -1;
	return (int)kvb_store(ctx, off, &to, 4);
}

/* Replace a port (or ICMP id) at l4off + poff, fixing the L4 checksum. */
static __always_inline int rewrite_port(void *ctx, __u32 l4off,
					__u32 poff, __be16 from, __be16 to,
					__u8 proto)
{
	int csum = l4_csum_off(proto);

	if (csum >= 0 &&
	    kvb_l4_csum_replace(ctx, l4off + (__u32)csum, from, to, 2, proto))
		return -1;
	return (int)kvb_store(ctx, l4off + poff, &to, 2);
}

/* TTL - 1 at the gateway; 0 when it ran out (nothing changed then). */
static __always_inline int dec_ttl(void *ctx, __u8 proto)
{
	__u8 ttl;
	__be16 old, new;

	if (kvb_hdr_load(ctx, IP_OFF_TTL, &ttl, 1) || ttl <= 1)
		return 0;
	old = bpf_htons((__u16)(ttl << 8 | proto));
	ttl--;
	new = bpf_htons((__u16)(ttl << 8 | proto));
	kvb_l3_csum_replace(ctx, IP_OFF_CSUM, old, new, 2);
	kvb_store(ctx, IP_OFF_TTL, &ttl, 1);
	return 1;
}

/* TTL / hop limit - 1; 0 when it ran out (nothing changed then). */
static __always_inline int hop_dec(void *ctx, __u8 family)
{
	__u8 h[2];

	if (family == 6) {
		if (kvb_hdr_load(ctx, IP6_OFF_HOPS, h, 1) || h[0] <= 1)
			return 0;
		h[0]--;
		return !kvb_store(ctx, IP6_OFF_HOPS, h, 1);
	}
	if (kvb_hdr_load(ctx, IP_OFF_TTL, h, 2))
		return 0;
	return dec_ttl(ctx, h[1]);
}

#endif /* KVB_L3_H */
