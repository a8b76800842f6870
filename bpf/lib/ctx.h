/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One view of a packet for both hooks. Policy code reads a struct kvb_pkt
 * and never touches xdp_md or __sk_buff, so XDP and tc run the same checks
 * and cannot disagree. The two constructors are the only places that know
 * the difference between the hooks.
 */
#ifndef KVB_CTX_H
#define KVB_CTX_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Bytes tc wants linear: Ethernet, IPv6 with extension headers, L4, ND. */
#define KVB_PULL_LEN 256

struct kvb_pkt {
	void *ctx;		/* the hook's context, for kvb_load() */
	void *data;
	void *data_end;
	__u32 len;		/* whole frame, including non-linear parts */
	__u32 gso_size;		/* 0 unless a GSO super-frame (tc only) */
	__u32 ifindex;		/* device the hook runs on */
	__u8 vlan_stripped;	/* tag already moved to metadata (tc only) */
	__u8 pad[3];
};

/*
 * The datapath's clock, for ages and timeouts (MAC aging, flow timeouts,
 * DHCP leases, the monitor's lease): CLOCK_MONOTONIC at tick resolution.
 * The precise clock costs a clocksource read per call, which on a
 * kvm-clock guest was a tenth of every packet's time (perf, make bench);
 * a few milliseconds do not matter to timeouts of seconds.
 */
static __always_inline __u64 kvb_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

/*
 * Is a later than b on that clock? A signed difference, as the kernel's
 * time_after: a time written "span ago" with span longer than the
 * uptime (the clock starts at boot) has wrapped to a huge number, and
 * still reads as the past; one another CPU wrote just after this one
 * read the clock reads as the present, not as an age of 2^64 ns.
 */
static __always_inline int kvb_after(__u64 a, __u64 b)
{
	return (__s64)(a - b) > 0;
}

/*
 * len bytes at off (from the Ethernet header) into to; 0 or an error.
 * For walks whose steps the packet decides (ND options): with a helper
 * load the offset stays a plain number to the verifier, so paths that
 * differ only in it are pruned as one, where cursor pointers would be
 * followed path by path (a 16-option walk made tc too large to verify).
 * An object for the XDP hook defines KVB_HOOK_XDP before any include.
 */
static __always_inline int kvb_load(void *ctx, __u32 off, void *to,
				    __u32 len)
{
#ifdef KVB_HOOK_XDP
	return bpf_xdp_load_bytes(ctx, off, to, len);
#else
	return bpf_skb_load_bytes(ctx, off, to, len);
#endif
}

/*
 * For code that rewrites packets in both hooks (l3.h's rewrites,
 * natreply.h), whose ctx is tc's skb or XDP's frame: kvb_hdr_load and
 * kvb_store read and write len bytes (a constant where they inline) at
 * off in the headers: the skb helpers in tc, which keep its checksum
 * state; direct access in XDP, whose frame is linear. 0 or an error.
 */
#ifdef KVB_HOOK_XDP
static __always_inline void *kvb_hdr_at(struct xdp_md *ctx, __u32 off,
					__u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	void *p;

	if (off > 255)
		return NULL;
	p = data + (off & 0xff);
	if (p + len > end)
		return NULL;
	return p;
}
#endif

static __always_inline long kvb_hdr_load(void *ctx, __u32 off, void *to,
					 __u32 len)
{
#ifdef KVB_HOOK_XDP
	void *p = kvb_hdr_at(ctx, off, len);

	if (!p)
		return -1;
	__builtin_memcpy(to, p, len);
	return 0;
#else
	return bpf_skb_load_bytes(ctx, off, to, len);
#endif
}

static __always_inline long kvb_store(void *ctx, __u32 off, const void *from,
				      __u32 len)
{
#ifdef KVB_HOOK_XDP
	void *p = kvb_hdr_at(ctx, off, len);

	if (!p)
		return -1;
	__builtin_memcpy(p, from, len);
	return 0;
#else
	return bpf_skb_store_bytes(ctx, off, from, len, 0);
#endif
}

static __always_inline void kvb_pkt_from_xdp(struct kvb_pkt *p,
					     struct xdp_md *ctx)
{
	p->ctx = ctx;
	p->data = (void *)(long)ctx->data;
	p->data_end = (void *)(long)ctx->data_end;
	p->len = (__u32)(p->data_end - p->data);
	p->gso_size = 0;
	p->ifindex = ctx->ingress_ifindex;
	p->vlan_stripped = 0;
}

/*
 * Whether the linear part already holds all the parser takes of a TCP
 * segment: Ethernet, IPv4 with its options (or IPv6 with TCP next) and
 * the TCP header's fixed 20 bytes. Nothing after the parser reads a TCP
 * segment's options or payload in place (the options of a SYN and the
 * rest go through bpf_skb_load_bytes), so such a frame needs no pull.
 */
static __always_inline int kvb_tcp_hdrs_linear(const struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u32 l4;

	if ((void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP)
			return 0;
		l4 = ETH_HLEN + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP)
			return 0;
		l4 = ETH_HLEN + sizeof(*ip6);
	} else {
		return 0;
	}
	return l4 + sizeof(struct tcphdr) <= (__u32)(end - data);
}

/*
 * tc sees taps' GSO frames with only part of the headers linear; pull what
 * the parser needs once, here, so every later bounds check is against real
 * header bytes. A pull failure leaves the frame as it was: the parser then
 * finds it short and the caller drops it with a reason. A TCP segment
 * whose headers are linear already (a socket's TSO super-frame: exactly
 * its headers) is not pulled: the pull would copy payload into a new head
 * on every super-frame, which the kernel's own forwarding never does.
 */
static __always_inline void kvb_pkt_from_skb(struct kvb_pkt *p,
					     struct __sk_buff *skb)
{
	__u32 want = skb->len < KVB_PULL_LEN ? skb->len : KVB_PULL_LEN;

	if ((__u32)(skb->data_end - skb->data) < want &&
	    !kvb_tcp_hdrs_linear(skb))
		bpf_skb_pull_data(skb, want);
	p->ctx = skb;
	p->data = (void *)(long)skb->data;
	p->data_end = (void *)(long)skb->data_end;
	p->len = skb->len;
	p->gso_size = skb->gso_size;
	p->ifindex = skb->ifindex;
	p->vlan_stripped = skb->vlan_present ? 1 : 0;
}

#endif /* KVB_CTX_H */
