/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Incremental checksum updates (RFC 1624) of L4 headers the datapath
 * rewrites, through the kernel's helpers, which keep CHECKSUM_PARTIAL and
 * CHECKSUM_COMPLETE state right. Every L4 update goes through here, so
 * the two corners of one's complement arithmetic are handled once:
 *
 * - A message whose words all sum to zero has one valid checksum, 0xffff.
 *   The incremental update turns its sum into -0 and writes 0x0000, which
 *   a receiver refuses (an ICMP echo reply with id, sequence and data all
 *   zero; ICMP has no pseudo header, so this can happen). TCP and UDP
 *   carry a pseudo header with a non-zero protocol: their sum is never +0.
 * - In UDP, 0x0000 means "no checksum": one is never written as 0x0000
 *   (0xffff instead) and a packet without one keeps none
 *   (BPF_F_MARK_MANGLED_0 does both).
 *
 * And one corner of the helpers: bpf_l4_csum_replace() decides how to
 * update the field from skb->ip_summed alone. With CHECKSUM_PARTIAL it
 * takes the field for the pseudo-header sum the device will finish
 * (addresses updated unfolded, ports not at all), which holds when
 * csum_start is this L4 header. A UDP tunnel with inner checksum offload
 * (VXLAN, Geneve, FOU from a guest, or local checksum offload on the host)
 * is CHECKSUM_PARTIAL for the inner header while the outer UDP checksum is
 * complete: LCO computed it over the finished inner packet. The helper then
 * corrupts the outer checksum on every NAT rewrite (the kernel's own NAT,
 * inet_proto_csum_replace4/2 from nf_nat, does the same: tests/netns/
 * vnet.sh). tc cannot read csum_start, but the field tells: a partial
 * checksum for this header is exactly the folded pseudo-header sum
 * (virtio-net requires it, Linux's udp4_hwcsum writes it); anything else
 * is a complete checksum and is updated here as one. A complete checksum
 * that happens to equal the pseudo-header sum (1 in 65,536) takes the
 * helper's path, which is right unless the skb is also partial for an
 * inner header.
 */
#ifndef KVB_CSUM_H
#define KVB_CSUM_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define CSUM_MANGLED_0_ 0xffff

/*
 * Replace from by to (size 2 or 4, with BPF_F_PSEUDO_HDR when it is an
 * address: the low bits of how, as bpf_l4_csum_replace's flags) in the
 * checksum at off of an L4 header of protocol CSUM_PROTO(proto) (in
 * how's high bits). A global function: the verifier checks it once, not
 * at each of NAT's rewrites (tc is close to its limit). 0 or -1.
 */
#define CSUM_PROTO(proto) ((__u64)(proto) << 32)

static __always_inline __u32 csum_fold_u32(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	return (s & 0xffff) + (s >> 16);
}

/* The sum of a field's 16-bit words (size 2 or 4, as stored). */
static __always_inline __u32 csum_words(__u32 v, __u64 size)
{
	__u32 s = bpf_ntohs((__u16)v);

	if (size == 4)
		s += bpf_ntohs((__u16)(v >> 16));
	return s;
}

/*
 * RFC 1624, eqn. 3: checksum c (host order) of a message in which a field
 * of size 2 or 4 (as stored) changes from from to to, as the kernel's
 * csum_replace4/2 compute it; the corners (0x0000) are the caller's.
 */
static __always_inline __u32 csum_replaced(__u32 c, __u32 from, __u32 to,
					   __u64 size)
{
	__u32 sum = (0xffff - c) + csum_words(to, size) +
		    (0xffff - bpf_ntohs((__u16)from));

	if (size == 4)
		sum += 0xffff - bpf_ntohs((__u16)(from >> 16));
	return ~csum_fold_u32(sum) & 0xffff;
}

#ifdef KVB_HOOK_XDP
/*
 * The same updates in XDP, for the frames it rewrites (natxdp.h): only
 * frames whose checksums it proved complete, so a plain RFC 1624 update
 * in place (no helper keeps checksum state there: a redirected frame has
 * none). The field at off, a constant where the rewrites inline, is
 * bounds-checked here.
 */
static __always_inline __u16 *csum_xdp_field(struct xdp_md *ctx, __u32 off)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u16 *p;

	if (off > 255)
		return NULL;
	p = data + (off & 0xff);
	if ((void *)(p + 1) > end)
		return NULL;
	return p;
}

/* The IPv4 header checksum at off (bpf_l3_csum_replace's job in tc). */
static __always_inline int csum_l3_replace_xdp(struct xdp_md *ctx, __u32 off,
					   __u32 from, __u32 to, __u64 size)
{
	__u16 *p = csum_xdp_field(ctx, off);

	if (!p)
		return -1;
	*p = bpf_htons((__u16)csum_replaced(bpf_ntohs(*p), from, to, size));
	return 0;
}

/*
 * The L4 checksum at off, as tc's csum_l4_replace (the same arguments):
 * never written as 0x0000 (0xffff, the same sum: see the top), and a UDP
 * datagram without one keeps none. A pseudo-header field is summed as any
 * other: the checksum is complete.
 */
static __always_inline int csum_l4_replace_xdp(struct xdp_md *ctx, __u32 off,
					   __u32 from, __u32 to, __u64 flags,
					   __u8 proto)
{
	__u16 *p = csum_xdp_field(ctx, off);
	__u32 c, n;

	if (!p)
		return -1;
	c = bpf_ntohs(*p);
	if (proto == IPPROTO_UDP && !c)
		return 0;
	n = csum_replaced(c, from, to, flags & 0xf);
	*p = bpf_htons((__u16)(n ? n : CSUM_MANGLED_0_));
	return 0;
}
#endif /* KVB_HOOK_XDP */

/*
 * The IPv4 UDP checksum at off, if it is complete (see the top): updated
 * here as one, RFC 1624, returning 0; 1 when it is a partial one for this
 * header (or IPv6, or the headers are not linear): the helper's job; -1
 * on error. Packet reads and a packet write, no stack: tc ingress leaves
 * csum_l4_replace_ a few bytes of the 512.
 */
static __always_inline int csum_udp4_complete_replace(struct __sk_buff *skb,
						      __u32 off, __u32 from,
						      __u32 to, __u64 flags)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct iphdr *iph = data + ETH_HLEN;
	struct udphdr *uh;
	__u32 sum, c, n;

	if (off < ETH_HLEN + 20 + 6 || off > 255)
		return 1;
	barrier_var(off);
	uh = data + ((off - 6) & 0xff);	/* the mask bounds it for the verifier */
	if ((void *)(iph + 1) > end || (void *)(uh + 1) > end ||
	    iph->version != 4)
		return 1;
	c = bpf_ntohs(uh->check);
	if (!c)
		return 1;	/* no checksum: BPF_F_MARK_MANGLED_0 keeps none */
	sum = csum_words(iph->saddr, 4) + csum_words(iph->daddr, 4) +
	      IPPROTO_UDP + bpf_ntohs(uh->len);
	if (csum_fold_u32(sum) == c)
		return 1;	/* partial for this header */
	n = csum_replaced(c, from, to, flags & 0xf);
	n = n ? n : CSUM_MANGLED_0_;
	uh->check = bpf_htons((__u16)n);
	/*
	 * A pseudo-header field is in no byte skb->csum covers: with
	 * CHECKSUM_COMPLETE the field's change must show there (the helper
	 * fails, harmlessly, in any other state). A port's change is offset
	 * by the port's own bytes.
	 */
	if (flags & BPF_F_PSEUDO_HDR)
		bpf_csum_update(skb, bpf_htons((__u16)n) +
			       (0xffff & ~(__u32)bpf_htons((__u16)c)));
	return 0;
}

__noinline int csum_l4_replace_(struct __sk_buff *skb, __u32 off, __u32 from,
				__u32 to, __u64 how)
{
	__u8 proto = (__u8)(how >> 32);
	__u64 flags = how & 0xffffffffULL;
	__u16 c;

	if (proto == IPPROTO_UDP) {
		int r = csum_udp4_complete_replace(skb, off, from, to, flags);

		if (r <= 0)
			return r;
		flags |= BPF_F_MARK_MANGLED_0;
	}
	if (bpf_l4_csum_replace(skb, off, from, to, flags))
		return -1;
	if (proto != IPPROTO_ICMP)
		return 0;
	if (bpf_skb_load_bytes(skb, off, &c, 2))
		return -1;
	if (c)
		return 0;
	c = CSUM_MANGLED_0_;
	/* 0xffff for 0x0000: the same one's complement sum (CHECKSUM_COMPLETE) */
	return bpf_skb_store_bytes(skb, off, &c, 2, 0) ? -1 : 0;
}

static __always_inline int csum_l4_replace(struct __sk_buff *skb, __u32 off,
					   __u32 from, __u32 to, __u64 flags,
					   __u8 proto)
{
	return csum_l4_replace_(skb, off, from, to, flags | CSUM_PROTO(proto));
}

/*
 * An ICMP checksum at off, for a change of size bytes from to to (no
 * pseudo header), inline: for a global function that may call no other
 * (the tc program's stack leaves it none). 0x0000 may result, which
 * receivers take as 0xffff.
 */
static __always_inline int csum_icmp_replace(struct __sk_buff *skb, __u32 off,
					     __u32 from, __u32 to, __u64 size)
{
	return bpf_l4_csum_replace(skb, off, from, to, size) ? -1 : 0;
}

/*
 * A UDP checksum held inside another message (the quote of an ICMP
 * error), updated as plain data with bpf_l3_csum_replace: the same rule,
 * a checksum is never 0x0000. The caller knows it was not 0 before.
 */
static __always_inline int csum_udp_quoted_replace(struct __sk_buff *skb,
						   __u32 off, __u32 from,
						   __u32 to, __u64 size)
{
	__u16 c;

	if (bpf_l3_csum_replace(skb, off, from, to, size) ||
	    bpf_skb_load_bytes(skb, off, &c, 2))
		return -1;
	if (c)
		return 0;
	c = CSUM_MANGLED_0_;
	return (int)bpf_skb_store_bytes(skb, off, &c, 2, 0);
}

/*
 * The hook's own (ctx: tc's skb or XDP's frame, lib/ctx.h), for the code
 * both run (l3.h's rewrites): the IPv4 header checksum at off, and an L4
 * checksum as csum_l4_replace.
 */
static __always_inline int kvb_l3_csum_replace(void *ctx, __u32 off,
					       __u32 from, __u32 to,
					       __u64 size)
{
#ifdef KVB_HOOK_XDP
	return csum_l3_replace_xdp(ctx, off, from, to, size);
#else
	return (int)bpf_l3_csum_replace(ctx, off, from, to, size);
#endif
}

static __always_inline int kvb_l4_csum_replace(void *ctx, __u32 off,
					       __u32 from, __u32 to,
					       __u64 flags, __u8 proto)
{
#ifdef KVB_HOOK_XDP
	return csum_l4_replace_xdp(ctx, off, from, to, flags, proto);
#else
	return csum_l4_replace(ctx, off, from, to, flags, proto);
#endif
}

/*
 * Whole-packet sums, for XDP's fast path (xdpfwd.h): it may forward a
 * guest's frame only when the frame is complete, which it proves by
 * summing every byte of the L4 segment. Sums here are in memory order,
 * as the kernel's csum_partial gives them: one's complement addition
 * does not care which byte of a word is the high one, so sums of raw
 * 16-bit words, folded, compare with raw checksum fields directly.
 */
static __always_inline __u32 csum_fold_u64(__u64 s)
{
	s = (s & 0xffffffffULL) + (s >> 32);
	s = (s & 0xffffffffULL) + (s >> 32);
	return csum_fold_u32((__u32)s);
}

/* words raw 32-bit words (addresses, as stored), summed; at most 8. */
static __always_inline __u64 csum_raw_addr(const __u32 *a, __u32 words)
{
	__u64 s = 0;

	for (__u32 i = 0; i < 8; i++)
		if (i < words)
			s += a[i];
	return s;
}

#ifdef KVB_HOOK_XDP
/* L4 segments longer than this are not summed (their frames go to tc). */
#define KVB_CSUM_MAX 4095

/*
 * The folded sum (memory order, 1..0xffff) of len bytes at off in an
 * XDP frame, every byte in its linear part; -1 when they are not, or
 * len is over KVB_CSUM_MAX. bpf_csum_diff (the kernel's csum_partial)
 * takes at most 512 bytes, a multiple of 4, from a range the verifier
 * proved: 512-byte steps, then 256, 128 and 64, then blocks of words
 * summed here (32, 16, 8, 4 bytes), then the last bytes. Global: the
 * verifier walks its paths once, not once per path of the caller.
 */
__noinline int csum_xdp_fold(struct xdp_md *ctx, __u32 off, __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 s = 0;
	void *p;

	if (off > 255 || len > KVB_CSUM_MAX)
		return -1;
	/* the masks keep the bounds in the registers the verifier follows
	 * (the barriers keep clang from dropping them as redundant) */
	barrier_var(off);
	barrier_var(len);
	p = data + (off & 0xff);
	len &= KVB_CSUM_MAX;
	for (int i = 0; i < KVB_CSUM_MAX / 512; i++) {
		if (len < 512)
			break;
		if (p + 512 > end)
			return -1;
		s += (__u32)bpf_csum_diff(NULL, 0, p, 512, 0);
		p += 512;
		len -= 512;
	}
	if (len & 256) {
		if (p + 256 > end)
			return -1;
		s += (__u32)bpf_csum_diff(NULL, 0, p, 256, 0);
		p += 256;
	}
	if (len & 128) {
		if (p + 128 > end)
			return -1;
		s += (__u32)bpf_csum_diff(NULL, 0, p, 128, 0);
		p += 128;
	}
	if (len & 64) {
		if (p + 64 > end)
			return -1;
		s += (__u32)bpf_csum_diff(NULL, 0, p, 64, 0);
		p += 64;
	}
	/* the last 0-63 bytes: words loaded directly, one bounds check a
	 * block (a loop of single words was a third of a short frame's
	 * XDP time) */
	if (len & 32) {
		const __u32 *w = p;

		if (p + 32 > end)
			return -1;
		s += (__u64)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] +
		     w[7];
		p += 32;
	}
	if (len & 16) {
		const __u32 *w = p;

		if (p + 16 > end)
			return -1;
		s += (__u64)w[0] + w[1] + w[2] + w[3];
		p += 16;
	}
	if (len & 8) {
		const __u32 *w = p;

		if (p + 8 > end)
			return -1;
		s += (__u64)w[0] + w[1];
		p += 8;
	}
	if (len & 4) {
		if (p + 4 > end)
			return -1;
		s += *(__u32 *)p;
		p += 4;
	}
	if (len & 2) {
		if (p + 2 > end)
			return -1;
		s += *(__u16 *)p;
		p += 2;
	}
	if (len & 1) {
		/* the last byte, padded with a zero byte to a word */
		if (p + 1 > end)
			return -1;
		s += bpf_htons((__u16)(*(__u8 *)p << 8));
	}
	return (int)csum_fold_u64(s);
}
#endif /* KVB_HOOK_XDP */

#endif /* KVB_CSUM_H */
