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
	sum = (0xffff - c) + csum_words(to, flags & 0xf) +
	      (0xffff - bpf_ntohs((__u16)from));
	if ((flags & 0xf) == 4)
		sum += 0xffff - bpf_ntohs((__u16)(from >> 16));
	n = ~csum_fold_u32(sum) & 0xffff;
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

#endif /* KVB_CSUM_H */
