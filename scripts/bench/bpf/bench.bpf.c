// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark helpers, not part of the fabric:
 *  - kvbb_gen: an XDP packet generator for BPF_PROG_RUN with
 *    BPF_F_TEST_XDP_LIVE_FRAMES: spreads frames over `flows` flows by
 *    rewriting the UDP source port and the source MAC's last two bytes, or
 *    with one_mac the source port (flows / 16 of them) and one of 16
 *    destination ports, XDP_TX; with udp_csum, the template's UDP
 *    checksum is complete and kept so (RFC 1624) through the rewrite.
 *    Live frames are recycled pages that keep what the path did to them
 *    (a router's TTL decrement, NAT's rewritten source), so every frame
 *    is first rewritten from the template `tmpl` (its first 42 bytes);
 *  - kvbb_sink: counts what arrives (per CPU) and drops it;
 *  - kvbb_ceil: the bare redirect_map ceiling (one devmap slot);
 *  - kvbb_empty_tc / kvbb_empty_xdp: empty programs, the per-path baseline;
 *  - kvbb_gso: tc ingress counter of frames (slot 0) and GSO super-frames
 *    (slot 1), passing everything on.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 flows = 1;
const volatile __u8 tmpl[42];
const volatile __u32 one_mac;	/* flows differ by port only (one guest) */
const volatile __u32 udp_csum;	/* tmpl's UDP checksum is complete */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} kvbb_cnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} kvbb_tx SEC(".maps");

SEC("xdp")
int kvbb_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *uh = (void *)(ip + 1);
	__u32 zero = 0, f;
	__u64 *n = bpf_map_lookup_elem(&kvbb_cnt, &zero);

	if (!n || (void *)(uh + 1) > end)
		return XDP_ABORTED;
	/* volatile reads: the loader fills tmpl in, clang must not fold it */
	for (int i = 0; i < 42; i++)
		((__u8 *)data)[i] = tmpl[i];
	f = flows > 1 ? (__u32)(*n % flows) : 0;
	(*n)++;
	/* UDP checksum 0 (none): the rewrite keeps the frame valid */
	if (!one_mac) {
		uh->source = bpf_htons((__u16)(10000 + f));
		eth->h_source[4] = (__u8)(f >> 8);
		eth->h_source[5] = (__u8)f;
	} else {
		/*
		 * one guest: flow f is source port 10000 + f / 16 to remote
		 * port 20000 + f % 16. kvmbpf's NAT maps a guest's port to
		 * one NAT port for every destination (RFC 4787 endpoint-
		 * independent mapping), and has 36,280 NAT ports: 65,536
		 * source ports of one guest cannot all be mapped, 4,096
		 * source ports to 16 remote ports can.
		 */
		uh->source = bpf_htons((__u16)(10000 + (f >> 4)));
		uh->dest = bpf_htons((__u16)(20000 + (f & 15)));
	}
	if (udp_csum) {
		/* ~C' = ~C + ~m + m' for each rewritten word (RFC 1624) */
		const volatile struct udphdr *t = (const volatile void *)&tmpl[34];
		__u32 s = (__u16)~t->check;

		s += (__u16)~t->source + uh->source;
		s += (__u16)~t->dest + uh->dest;
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		uh->check = (__u16)~s ? (__u16)~s : 0xffff;
	}
	return XDP_TX;
}

SEC("xdp")
int kvbb_sink(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&kvbb_cnt, &zero);

	(void)ctx;
	if (n)
		(*n)++;
	return XDP_DROP;
}

SEC("xdp")
int kvbb_ceil(struct xdp_md *ctx)
{
	(void)ctx;
	return bpf_redirect_map(&kvbb_tx, 0, 0);
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} kvbb_gsocnt SEC(".maps");

SEC("tc")
int kvbb_gso(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&kvbb_gsocnt, &k);

	if (n)
		(*n)++;
	k = 1;
	n = bpf_map_lookup_elem(&kvbb_gsocnt, &k);
	if (n && skb->gso_size)
		(*n)++;
	return TC_ACT_UNSPEC;
}

SEC("tc")
int kvbb_empty_tc(struct __sk_buff *skb)
{
	(void)skb;
	return TC_ACT_OK;
}

SEC("xdp")
int kvbb_empty_xdp(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}
