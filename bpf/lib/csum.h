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
 */
#ifndef KVB_CSUM_H
#define KVB_CSUM_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#define CSUM_MANGLED_0_ 0xffff

/*
 * Replace from by to (size 2 or 4, with BPF_F_PSEUDO_HDR when it is an
 * address: the low bits of how, as bpf_l4_csum_replace's flags) in the
 * checksum at off of an L4 header of protocol CSUM_PROTO(proto) (in
 * how's high bits). A global function: the verifier checks it once, not
 * at each of NAT's rewrites (tc is close to its limit). 0 or -1.
 */
#define CSUM_PROTO(proto) ((__u64)(proto) << 32)

__noinline int csum_l4_replace_(struct __sk_buff *skb, __u32 off, __u32 from,
				__u32 to, __u64 how)
{
	__u8 proto = (__u8)(how >> 32);
	__u64 flags = how & 0xffffffffULL;
	__u16 c;

	if (proto == IPPROTO_UDP)
		flags |= BPF_F_MARK_MANGLED_0;
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
