// SPDX-License-Identifier: MIT
/*
 * Routing by BPF_PROG_RUN: the decision (into a peered network, refused
 * into an unpeered one), the TTL/hop limit, and every frame the gateway
 * builds itself (neighbour advertisement, router advertisement, ICMP time
 * exceeded and fragmentation needed, ICMPv6 time exceeded), each checked
 * field by field with its checksum recomputed from scratch.
 *
 *   net 5 "ra": 10.75.0.0/24 fd75::/64, guest kr1 (mac R1)  peered with 6
 *   net 6 "rb": 10.76.0.0/24 fd76::/64 mtu 1400, guest kr2 (mac R2),
 *                whose addresses .11 / fd76::11 the host's neighbour
 *                table knows (static entries on rb's host interface)
 *   net 7 "rc": 10.77.0.0/24, not peered
 *
 * and, for the endpoint path (endpoint.h: a routed packet for an address
 * a guest port of the fabric holds goes straight to that port, without
 * the FIB), rb's guests with spoofcheck kr4 (mac R4, 10.76.0.14 and
 * fd76::14, later .15) and kr5 (mac R5, .18, later .15), kr6 (mac R6,
 * spoofcheck off, .19), and ra's isolated kr7 (mac R7, .23); the host
 * knows none of these addresses but 10.76.0.15, as R4's (a neighbour
 * entry that a move leaves behind).
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unit.h"

static const __u8 R1[6] = { 0x52, 0x54, 0, 0, 0x75, 1 };
static const __u8 R2[6] = { 0x52, 0x54, 0, 0, 0x76, 1 };
static const __u8 R3[6] = { 0x52, 0x54, 0, 0, 0x75, 3 };
static const __u8 R4[6] = { 0x52, 0x54, 0, 0, 0x76, 4 };
static const __u8 R5[6] = { 0x52, 0x54, 0, 0, 0x76, 5 };
static const __u8 R6[6] = { 0x52, 0x54, 0, 0, 0x76, 6 };
static const __u8 R7[6] = { 0x52, 0x54, 0, 0, 0x75, 7 };
static const __u8 R8[6] = { 0x52, 0x54, 0, 0, 0x76, 8 };
static struct kvb_net na, nb, nc;
static __u32 kr1, kr2, krw, kr3, gwp5, kr4, kr5, kr6, kr7;

static int make_net(struct fabric *fb, struct kvb_net *n, __u32 id,
		    const char *name, const char *s4, const char *s6,
		    __u32 mtu)
{
	memset(n, 0, sizeof(*n));
	n->id = id;
	n->type = KVB_NET_ROUTED;
	n->mtu = mtu;
	snprintf(n->name, sizeof(n->name), "%s", name);
	if (subnet_parse(s4, &n->subnets[n->nsubnets++]) ||
	    (s6 && subnet_parse(s6, &n->subnets[n->nsubnets++])) ||
	    subnets_gateways(n->subnets, (int)n->nsubnets, NULL, 0))
		return -1;
	return net_put(fb, n) || gateway_create(fb, n) ||
	       net_get(fb, id, n);
}

/* Ethernet + IPv4 (TTL ttl, DF) + UDP with payload bytes, checksummed. */
static void udp4(struct frame *f, const __u8 *dmac, const char *src,
		 const char *dst, __u8 ttl, __u32 payload)
{
	__u8 udp[1500] = { 0x9c, 0x40, 0, 53 };	/* 40000 -> 53 */
	__u32 s, d;

	udp[4] = (__u8)((8 + payload) >> 8), udp[5] = (__u8)(8 + payload);
	for (__u32 i = 0; i < payload && 8 + i < sizeof(udp); i++)
		udp[8 + i] = (__u8)i;
	inet_pton(AF_INET, src, &s);
	inet_pton(AF_INET, dst, &d);
	frame_ip4_to(f, dmac, R1, s, d, ttl, IPPROTO_UDP, udp, 8 + payload);
	f->buf[14 + 6] = 0x40;	/* DF */
	frame_csum4(f);
}

/* Ethernet + IPv6 (hop limit hops) + nh/payload as given. */
static void ip6(struct frame *f, const __u8 *dmac, const char *src,
		const char *dst, __u8 hops, __u8 nh, const __u8 *l4,
		__u32 len)
{
	__u8 s[16], d[16];

	inet_pton(AF_INET6, src, s);
	inet_pton(AF_INET6, dst, d);
	frame_ip6_to(f, dmac, R1, s, d, hops, nh, l4, len);
}

/* The ICMPv6 (or UDP over IPv6) checksum of a frame: 0 when right. */
static __u16 csum6_check(const __u8 *f)
{
	const __u8 *ip = f + 14;
	__u32 len = (__u32)(ip[4] << 8 | ip[5]);
	__u32 sum = sum16(ip + 8, 32, 0) + len + ip[6];

	return csum_fold16(sum16(ip + 40, len, sum));
}

static void set_csum6(struct frame *f, __u32 off)
{
	__u16 c;

	f->buf[off] = f->buf[off + 1] = 0;
	c = csum6_check(f->buf);
	f->buf[off] = (__u8)(c >> 8), f->buf[off + 1] = (__u8)c;
}

static void t_route_into_peered_network(struct fabric *fb)
{
	struct frame in, out;
	int ret;

	udp4(&in, na.uplink_mac, "10.75.0.11", "10.76.0.11", 64, 32);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK(!memcmp(out.buf, R2, 6), "not to the guest's MAC");
	CHECK(!memcmp(out.buf + 6, nb.uplink_mac, 6),
	      "not from the destination network's gateway MAC");
	CHECK(out.buf[14 + 8] == 63, "TTL %u, want 63", out.buf[14 + 8]);
	CHECK(!ip_csum_check(out.buf), "IP checksum wrong");
	CHECK(!l4_csum_check(out.buf), "UDP checksum wrong");
}

static void t_route_into_peered_network_ipv6(struct fabric *fb)
{
	__u8 udp[16] = { 0x9c, 0x40, 0, 53, 0, 16 };
	struct frame in, out;
	int ret;

	ip6(&in, na.uplink_mac, "fd75::11", "fd76::11", 64, IPPROTO_UDP, udp,
	    sizeof(udp));
	set_csum6(&in, 14 + 40 + 6);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK(!memcmp(out.buf, R2, 6), "not to the guest's MAC");
	CHECK(out.buf[14 + 7] == 63, "hop limit %u", out.buf[14 + 7]);
	CHECK(!csum6_check(out.buf), "UDP checksum wrong");
}

static void t_route_unpeered_refused(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kr1).drop[KVB_DROP_NOT_PEERED];
	struct frame in, out;
	int ret;

	udp4(&in, na.uplink_mac, "10.75.0.11", "10.77.0.11", 64, 32);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_SHOT, "verdict %d", ret);
	CHECK(port_stats(fb, kr1).drop[KVB_DROP_NOT_PEERED] == d0 + 1,
	      "not-peered not counted");
}

static void t_route_ttl_exceeded(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kr1).drop[KVB_DROP_TTL];
	struct frame in, out;
	__u8 *ip = out.buf + 14, *icmp = ip + 20;
	char src[16], dst[16];
	int ret;

	udp4(&in, na.uplink_mac, "10.75.0.11", "10.76.0.11", 1, 200);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK(!memcmp(out.buf, R1, 6) && !memcmp(out.buf + 6, na.uplink_mac, 6),
	      "not gateway -> sender");
	inet_ntop(AF_INET, ip + 12, src, sizeof(src));
	inet_ntop(AF_INET, ip + 16, dst, sizeof(dst));
	CHECK(!strcmp(src, "10.75.0.1") && !strcmp(dst, "10.75.0.11"),
	      "%s -> %s", src, dst);
	CHECK(ip[9] == IPPROTO_ICMP && icmp[0] == 11 && icmp[1] == 0,
	      "not time exceeded: proto %u type %u", ip[9], icmp[0]);
	CHECK(out.len == 14 + 20 + 8 + 128, "length %u (quote of 128)", out.len);
	CHECK((ip[2] << 8 | ip[3]) == 20 + 8 + 128, "IP total length");
	CHECK(!memcmp(icmp + 8, in.buf + 14, 128), "quote is not the packet");
	CHECK(!ip_csum_check(out.buf), "IP checksum wrong");
	CHECK(!l4_csum_check(out.buf), "ICMP checksum wrong");
	CHECK(port_stats(fb, kr1).drop[KVB_DROP_TTL] == d0 + 1,
	      "ttl-exceeded not counted");
}

static void t_route_frag_needed(struct fabric *fb)
{
	struct frame in, out;
	__u8 *icmp = out.buf + 14 + 20;
	int ret;

	/* 1450 bytes into rb (mtu 1400), DF set */
	udp4(&in, na.uplink_mac, "10.75.0.11", "10.76.0.11", 64, 1450 - 28);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK(icmp[0] == 3 && icmp[1] == 4, "type %u code %u", icmp[0], icmp[1]);
	CHECK((icmp[6] << 8 | icmp[7]) == 1400, "next-hop MTU %u",
	      icmp[6] << 8 | icmp[7]);
	CHECK(!ip_csum_check(out.buf) && !l4_csum_check(out.buf),
	      "checksums wrong");
}

static void t_route_hop_limit_exceeded_ipv6(struct fabric *fb)
{
	__u8 udp[72] = { 0x9c, 0x40, 0, 53, 0, 72 };
	struct frame in, out;
	__u8 *ip = out.buf + 14;
	char src[64];
	int ret;

	ip6(&in, na.uplink_mac, "fd75::11", "fd76::11", 1, IPPROTO_UDP, udp,
	    sizeof(udp));
	set_csum6(&in, 14 + 40 + 6);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	inet_ntop(AF_INET6, ip + 8, src, sizeof(src));
	CHECK(!strcmp(src, "fd75::1"), "from %s", src);
	CHECK(ip[6] == IPPROTO_ICMPV6 && ip[40] == 3 && ip[41] == 0,
	      "not ICMPv6 time exceeded");
	CHECK(out.len == 14 + 48 + 112, "length %u (whole packet quoted)",
	      out.len);
	CHECK(!memcmp(ip + 48, in.buf + 14, 112), "quote is not the packet");
	CHECK(!csum6_check(out.buf), "ICMPv6 checksum wrong");
}

static void t_route_neighbour_advert_for_gateway(struct fabric *fb)
{
	__u8 ns[32] = { 135 }, mc[6] = { 0x33, 0x33, 0xff, 0, 0, 1 };
	struct frame in, out;
	__u8 *ip = out.buf + 14, *na6 = ip + 40, want[16];
	char src[64], dst[64];
	int ret;

	inet_pton(AF_INET6, "fd75::1", ns + 8);
	ns[24] = 1, ns[25] = 1;	/* source link-layer address */
	memcpy(ns + 26, R1, 6);
	ip6(&in, mc, "fd75::11", "ff02::1:ff00:1", 255, IPPROTO_ICMPV6, ns,
	    sizeof(ns));
	set_csum6(&in, 14 + 42);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK(!memcmp(out.buf, R1, 6), "not to the soliciting guest");
	inet_ntop(AF_INET6, ip + 8, src, sizeof(src));
	inet_ntop(AF_INET6, ip + 24, dst, sizeof(dst));
	CHECK(!strcmp(src, "fd75::1") && !strcmp(dst, "fd75::11"), "%s -> %s",
	      src, dst);
	CHECK(ip[7] == 255, "hop limit %u", ip[7]);
	CHECK(na6[0] == 136 && na6[4] == 0xe0, "type %u flags %#x", na6[0],
	      na6[4]);
	inet_pton(AF_INET6, "fd75::1", want);
	CHECK(!memcmp(na6 + 8, want, 16), "target");
	CHECK(na6[24] == 2 && na6[25] == 1 && !memcmp(na6 + 26, na.uplink_mac, 6),
	      "target link-layer option is not the gateway MAC");
	CHECK(!csum6_check(out.buf), "ICMPv6 checksum wrong");
	/* a guest's address is not the gateway's to answer */
	inet_pton(AF_INET6, "fd75::12", ns + 8);
	ip6(&in, mc, "fd75::11", "ff02::1:ff00:12", 255, IPPROTO_ICMPV6, ns,
	    sizeof(ns));
	set_csum6(&in, 14 + 42);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret != TC_ACT_REDIRECT || memcmp(out.buf, R1, 6),
	      "answered an NS for a guest's address");
}

/*
 * A spoofcheck guest's DAD probe (NS from ::) for its gateway's address:
 * the gateway defends it, as it answers an ARP probe for its IPv4
 * address: an NA to all nodes (router, override, not solicited), and the
 * probe binds nothing. Before, the guard dropped it (spoof-nd) ahead of
 * the gateway, and the guest kept the gateway's address, silently cut off.
 */
static void t_route_dad_for_gateway_answered(struct fabric *fb)
{
	__u8 ns[24] = { 135 }, mc[6] = { 0x33, 0x33, 0xff, 0, 0, 1 };
	__u8 allnodes[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	struct frame in, out;
	__u8 *ip = out.buf + 14, *na6 = ip + 40, want[16];
	char src[64], dst[64];
	__u64 d0, d1;
	int ret;

	inet_pton(AF_INET6, "fd76::1", ns + 8);
	ip6(&in, mc, "::", "ff02::1:ff00:1", 255, IPPROTO_ICMPV6, ns,
	    sizeof(ns));
	memcpy(in.buf + 6, R4, 6);
	set_csum6(&in, 14 + 42);
	d0 = port_stats(fb, kr4).drop[KVB_DROP_SPOOF_ND];
	ret = run_tc_out(fb, kr4, &in, &out);
	d1 = port_stats(fb, kr4).drop[KVB_DROP_SPOOF_ND];
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d (spoof-nd +%llu)", ret,
	      (unsigned long long)(d1 - d0));
	CHECK(!memcmp(out.buf, allnodes, 6), "not to all nodes");
	inet_ntop(AF_INET6, ip + 8, src, sizeof(src));
	inet_ntop(AF_INET6, ip + 24, dst, sizeof(dst));
	CHECK(!strcmp(src, "fd76::1") && !strcmp(dst, "ff02::1"), "%s -> %s",
	      src, dst);
	CHECK(na6[0] == 136 && na6[4] == 0xa0, "type %u flags %#x", na6[0],
	      na6[4]);
	inet_pton(AF_INET6, "fd76::1", want);
	CHECK(!memcmp(na6 + 8, want, 16), "target");
	CHECK(!csum6_check(out.buf), "ICMPv6 checksum wrong");
	CHECK(d1 == d0, "spoof-nd +%llu", (unsigned long long)(d1 - d0));
}

static void t_route_router_advert(struct fabric *fb)
{
	__u8 rs[16] = { 133 }, mc[6] = { 0x33, 0x33, 0, 0, 0, 2 };
	struct frame in, out;
	__u8 *ip = out.buf + 14, *ra = ip + 40, ll[16] = { 0xfe, 0x80 };
	__u8 prefix[16];
	int ret;

	rs[8] = 1, rs[9] = 1;
	memcpy(rs + 10, R1, 6);
	ip6(&in, mc, "fe80::5054:ff:fe00:7501", "ff02::2", 255,
	    IPPROTO_ICMPV6, rs, sizeof(rs));
	set_csum6(&in, 14 + 42);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	ll[8] = na.uplink_mac[0] ^ 2, ll[9] = na.uplink_mac[1];
	ll[10] = na.uplink_mac[2], ll[11] = 0xff, ll[12] = 0xfe;
	memcpy(ll + 13, na.uplink_mac + 3, 3);
	CHECK(!memcmp(ip + 8, ll, 16), "not from the gateway's link-local");
	CHECK(ra[0] == 134 && ra[4] == 64 && (ra[6] << 8 | ra[7]) == 1800,
	      "type %u hop limit %u lifetime %u", ra[0], ra[4],
	      ra[6] << 8 | ra[7]);
	CHECK(ra[16] == 1 && !memcmp(ra + 18, na.uplink_mac, 6),
	      "source link-layer option");
	CHECK(ra[24] == 5 && (__u32)(ra[28] << 24 | ra[29] << 16 | ra[30] << 8 |
				     ra[31]) == na.mtu, "MTU option");
	inet_pton(AF_INET6, "fd75::", prefix);
	CHECK(ra[32] == 3 && ra[34] == 64 && ra[35] == 0xc0 &&
	      !memcmp(ra + 48, prefix, 16), "prefix option (fd75::/64, L+A)");
	CHECK(out.len == 14 + 40 + 64, "length %u: one prefix", out.len);
	CHECK(!csum6_check(out.buf), "ICMPv6 checksum wrong");
}

/* run tc ingress on ifindex with skb->mark in, the mark it left in *out */
static int run_mark(struct fabric *fb, __u32 ifindex, const struct frame *f,
		    __u32 in, __u32 *out)
{
	struct __sk_buff ctx = { .ifindex = ifindex, .mark = in };
	struct frame o;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->buf,
		    .data_size_in = f->len, .data_out = o.buf,
		    .data_size_out = sizeof(o.buf), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx,
		    .ctx_size_out = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(fb->prog_tc_ingress, &opts))
		return -1;
	*out = ctx.mark;
	return (int)opts.retval;
}

/*
 * Isolation through the gateway: kr1 (not isolated) sends the packet of
 * its isolated neighbour kr3 (10.75.0.13, known to the host) to the
 * gateway's MAC. Routing must not deliver it into kr3's port.
 */
static void t_route_isolated_neighbour_via_gateway(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kr1).drop[KVB_DROP_ISOLATED];
	struct frame in, out;
	int ret;

	udp4(&in, na.uplink_mac, "10.75.0.11", "10.75.0.13", 64, 32);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_SHOT, "verdict %d (delivered to %02x:..:%02x)",
	      ret, out.buf[0], out.buf[5]);
	CHECK(port_stats(fb, kr1).drop[KVB_DROP_ISOLATED] == d0 + 1,
	      "isolated not counted");
}

/*
 * The same when the host does not know the neighbour yet: the packet goes
 * to the host to resolve it, marked as a guest's, and the gateway port
 * refuses it to the isolated port; the host's own frames still reach it.
 */
static void t_route_isolated_neighbour_via_host(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, gwp5).drop[KVB_DROP_ISOLATED];
	struct frame in;
	__u32 mark;
	int ret;

	udp4(&in, na.uplink_mac, "10.75.0.11", "10.75.0.14", 64, 32);
	ret = run_mark(fb, kr1, &in, 0, &mark);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK(mark == KVB_MARK_HAIRPIN, "not marked a guest's: mark %#x", mark);
	/* back from the host, on the gateway port, for kr3's MAC */
	udp4(&in, R3, "10.75.0.11", "10.75.0.13", 63, 32);
	memcpy(in.buf + 6, na.uplink_mac, 6);
	ret = run_mark(fb, gwp5, &in, KVB_MARK_HAIRPIN, &mark);
	CHECK(ret == TC_ACT_SHOT, "a guest's packet reached an isolated port: "
	      "verdict %d", ret);
	CHECK(port_stats(fb, gwp5).drop[KVB_DROP_ISOLATED] == d0 + 1,
	      "isolated not counted on the gateway port");
	udp4(&in, R3, "10.75.0.1", "10.75.0.13", 64, 32);
	memcpy(in.buf + 6, na.uplink_mac, 6);
	ret = run_mark(fb, gwp5, &in, 0, &mark);
	CHECK(ret == TC_ACT_REDIRECT, "the host's own frame refused: verdict %d",
	      ret);
}

/*
 * A link-local packet for a neighbour sent to the gateway's MAC is
 * refused (a host forwarding IPv6 would send it back out to the
 * neighbour); the gateway's own link-local is the host's.
 */
static void t_route_link_local_via_gateway(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kr1).drop[KVB_DROP_LL_VIA_GW];
	__u8 udp[16] = { 0x9c, 0x40, 0, 53, 0, 16 };
	char gwll[64];
	struct frame in, out;
	int ret;

	ip6(&in, na.uplink_mac, "fe80::5054:ff:fe00:7501",
	    "fe80::5054:ff:fe00:7503", 64, IPPROTO_UDP, udp, sizeof(udp));
	set_csum6(&in, 14 + 40 + 6);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_SHOT, "verdict %d", ret);
	CHECK(port_stats(fb, kr1).drop[KVB_DROP_LL_VIA_GW] == d0 + 1,
	      "link-local-via-gateway not counted");
	snprintf(gwll, sizeof(gwll), "fe80::%x:%xff:fe%02x:%x",
		 (na.uplink_mac[0] ^ 2) << 8 | na.uplink_mac[1],
		 na.uplink_mac[2], na.uplink_mac[3],
		 na.uplink_mac[4] << 8 | na.uplink_mac[5]);
	ip6(&in, na.uplink_mac, "fe80::5054:ff:fe00:7501", gwll, 64,
	    IPPROTO_UDP, udp, sizeof(udp));
	set_csum6(&in, 14 + 40 + 6);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "to the gateway's %s: verdict %d", gwll,
	      ret);
}

/*
 * From a WAN device, only a routed network that named it as its `wan` is
 * routed into: rc did (krw), rb did not, although the host knows rb's
 * guest and would forward to it.
 */
static void t_route_wan_only_into_its_networks(struct fabric *fb)
{
	struct frame in, out;
	__u8 wmac[6] = { 0x02, 0, 0, 0, 0x77, 0xfe };
	int ret;

	udp4(&in, wmac, "203.0.113.9", "10.76.0.11", 64, 32);
	memcpy(in.buf + 6, wmac, 6);
	in.buf[0] = 0x02;
	ret = run_tc_out(fb, krw, &in, &out);
	CHECK(ret == TC_ACT_UNSPEC, "into rb, which has no wan: verdict %d", ret);
	CHECK(!memcmp(out.buf, in.buf, in.len), "the host's frame was changed");
	udp4(&in, wmac, "203.0.113.9", "10.77.0.11", 64, 32);
	ret = run_tc_out(fb, krw, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "into rc, whose wan it is: verdict %d",
	      ret);
}

/*
 * From a WAN device, a source no WAN host may have is spoof-ip, never
 * routed in: a gateway's and a guest's addresses of the fabric's networks,
 * martians, the host's own, one the host has no route back to. The WAN
 * host's own address (routed back through krw) goes in.
 */
static void t_route_wan_forged_sources(struct fabric *fb)
{
	static const char *forged[] = { "10.75.0.1", "10.77.0.12", "10.76.0.14",
					"127.0.0.1", "0.0.0.0", "224.0.0.5",
					"255.255.255.255", "198.18.7.7" };
	__u8 wmac[6] = { 0x02, 0, 0, 0, 0x77, 0xfe };
	struct frame in, out;
	__u64 d0, d1;
	int ret, bad = -1;

	d0 = port_stats(fb, krw).drop[KVB_DROP_SPOOF_IP];
	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		udp4(&in, wmac, forged[i], "10.77.0.11", 64, 32);
		memcpy(in.buf + 6, wmac, 6);
		in.buf[0] = 0x02;
		ret = run_tc_out(fb, krw, &in, &out);
		if (ret != TC_ACT_SHOT && bad < 0)
			bad = (int)i;
	}
	d1 = port_stats(fb, krw).drop[KVB_DROP_SPOOF_IP];
	CHECK(bad < 0, "from %s: not refused", bad < 0 ? "" : forged[bad]);
	CHECK(d1 - d0 == sizeof(forged) / sizeof(forged[0]),
	      "spoof-ip +%llu, want %zu", (unsigned long long)(d1 - d0),
	      sizeof(forged) / sizeof(forged[0]));
	udp4(&in, wmac, "203.0.113.9", "10.77.0.11", 64, 32);
	memcpy(in.buf + 6, wmac, 6);
	in.buf[0] = 0x02;
	ret = run_tc_out(fb, krw, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "the WAN host's own: verdict %d", ret);
}

/*
 * A GSO super-frame from the WAN (GRO on the NIC) is held to the network's
 * MTU by its segments: headers plus gso_size. Checked with gso_size alone
 * (no headers), segments of up to 28 bytes over the MTU went into the
 * network; then such a frame went to the host, which forwards nothing
 * there and dropped it without a word. Now the fabric answers it as the
 * kernel's forwarding would: fragmentation needed with the network's MTU,
 * from rc's gateway, back out of the WAN device to the sender, counted
 * too-big on the WAN port.
 */
static void t_route_wan_gso_segments(struct fabric *fb)
{
	__u8 wmac[6] = { 0x02, 0, 0, 0, 0x77, 0xfe };
	struct frame in, out;
	__u64 d0, d1;
	int ret;

	udp4(&in, wmac, "203.0.113.9", "10.77.0.11", 64, 1490);
	memcpy(in.buf + 6, wmac, 6);
	in.buf[0] = 0x02;
	d0 = port_stats(fb, krw).drop[KVB_DROP_TOO_BIG];
	ret = run_tc_gso_out(fb, krw, &in, &out, 1480);	/* segments of 1508 */
	d1 = port_stats(fb, krw).drop[KVB_DROP_TOO_BIG];
	CHECK(ret == TC_ACT_REDIRECT, "segments of 1508 bytes into rc (mtu 1500): "
	      "verdict %d", ret);
	CHECK(out.len >= 14 + 28 + 28 && out.buf[14 + 9] == IPPROTO_ICMP &&
	      out.buf[34] == 3 && out.buf[35] == 4 &&
	      out.buf[40] == (1500 >> 8) && out.buf[41] == (1500 & 0xff),
	      "not fragmentation needed, mtu 1500 (len %u type %u code %u)",
	      out.len, out.buf[34], out.buf[35]);
	CHECK(!memcmp(out.buf + 14 + 12, "\x0a\x4d\x00\x01", 4) &&
	      !memcmp(out.buf + 14 + 16, "\xcb\x00\x71\x09", 4),
	      "not from 10.77.0.1 to 203.0.113.9");
	/* from the MAC the frame was sent to: the WAN device's (harness.c,
	 * wan_to_self) */
	CHECK(!dev_mac(krw, wmac) && !memcmp(out.buf, in.buf + 6, 6) &&
	      !memcmp(out.buf + 6, wmac, 6),
	      "not back to the frame's sender from the WAN device's MAC");
	CHECK(!ip_csum_check(out.buf) && !l4_csum_check(out.buf),
	      "the answer's checksums do not verify");
	CHECK(d1 == d0 + 1, "too-big on the WAN port +%llu, want 1",
	      (unsigned long long)(d1 - d0));
	ret = run_tc_gso(fb, krw, &in, 1472);	/* segments of 1500 */
	CHECK(ret == TC_ACT_REDIRECT, "segments of 1500 bytes: verdict %d",
	      ret);
}

/*
 * A WAN frame for another station's MAC (a switch's flood, a promiscuous
 * NIC, a WAN neighbour's forgery), or a broadcast one, is not the
 * fabric's: the host's stack takes it (TC_ACT_UNSPEC), and its
 * forwarding takes no such frame. Before, it was routed into rc, and a
 * TTL-1 one was answered from that other MAC.
 */
static void t_route_wan_other_host(struct fabric *fb)
{
	__u8 other[6] = { 0x02, 0, 0, 0, 0xee, 0x99 };
	__u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	__u8 src[6] = { 0x02, 0, 0, 0, 0x77, 0xfd };
	__u64 t0 = port_stats(fb, krw).drop[KVB_DROP_TTL];
	struct frame in, out;
	int ret;

	unit_wan_raw = 1;
	udp4(&in, other, "203.0.113.9", "10.77.0.11", 64, 32);
	memcpy(in.buf + 6, src, 6);
	ret = run_tc(fb, krw, &in);
	CHECK(ret == TC_ACT_UNSPEC, "to another MAC: verdict %d", ret);
	udp4(&in, other, "203.0.113.9", "10.77.0.11", 1, 32);
	memcpy(in.buf + 6, src, 6);
	ret = run_tc_out(fb, krw, &in, &out);
	CHECK(ret == TC_ACT_UNSPEC && port_stats(fb, krw).drop[KVB_DROP_TTL] == t0,
	      "TTL 1 to another MAC: verdict %d", ret);
	udp4(&in, bcast, "203.0.113.9", "10.77.0.11", 64, 32);
	memcpy(in.buf + 6, src, 6);
	ret = run_tc(fb, krw, &in);
	CHECK(ret == TC_ACT_UNSPEC, "broadcast: verdict %d", ret);
	unit_wan_raw = 0;
	udp4(&in, other, "203.0.113.9", "10.77.0.11", 64, 32);
	memcpy(in.buf + 6, src, 6);
	ret = run_tc(fb, krw, &in);	/* to the device's own MAC */
	CHECK(ret == TC_ACT_REDIRECT, "to the WAN's own MAC: verdict %d", ret);
}

/*
 * What routing takes from a WAN device passes admission and is counted on
 * the WAN port: an IPv4 header claiming more than the frame holds, for rc,
 * is dropped (l3-malformed); the same for rb (not routed from here) is the
 * host's, untouched.
 */
static void t_route_wan_admission(struct fabric *fb)
{
	struct kvb_stats s0 = port_stats(fb, krw);
	__u8 wmac[6] = { 0x02, 0, 0, 0, 0x77, 0xfe };
	struct frame in, out;
	int ret;

	udp4(&in, wmac, "203.0.113.9", "10.77.0.11", 64, 32);
	in.buf[14 + 2] = 0x05;	/* total length 1280+ in a short frame */
	ret = run_tc_out(fb, krw, &in, &out);
	CHECK(ret == TC_ACT_SHOT, "malformed, for rc: verdict %d", ret);
	CHECK(port_stats(fb, krw).drop[KVB_DROP_TRUNC_L3] ==
	      s0.drop[KVB_DROP_TRUNC_L3] + 1, "l3-malformed not counted");
	CHECK(port_stats(fb, krw).rx_packets == s0.rx_packets + 1,
	      "not counted as received on the WAN port");
	udp4(&in, wmac, "203.0.113.9", "10.76.0.11", 64, 32);
	in.buf[14 + 2] = 0x05;
	ret = run_tc_out(fb, krw, &in, &out);
	CHECK(ret == TC_ACT_UNSPEC, "the host's malformed frame: verdict %d", ret);
	CHECK(port_stats(fb, krw).drop[KVB_DROP_TRUNC_L3] ==
	      s0.drop[KVB_DROP_TRUNC_L3] + 1, "the host's frame was judged");
}

/* An address into o's list (a port's `ip`). */
static void opt_addr(struct port_opts *o, int family, const char *a)
{
	struct kvb_addr_key *k = &o->addrs[o->naddrs++];

	memset(k, 0, sizeof(*k));
	k->family = (__u8)family;
	inet_pton(family == 4 ? AF_INET : AF_INET6, a, k->addr);
}

/* port set IFINDEX ip A (family 4): the port's static addresses become A */
static int port_set_addr(struct fabric *fb, __u32 ifindex, const char *a)
{
	struct port_opts o = { .naddrs = 0 };
	struct kvb_port p;

	if (a)
		opt_addr(&o, 4, a);
	return bpf_map_lookup_elem(fb->port_fd, &ifindex, &p) ||
	       addr_set(fb, "port set", &p, &o) ||
	       bpf_map_update_elem(fb->port_fd, &ifindex, &p, BPF_EXIST);
}

/* kr1 -> addr through the gateway: the verdict, the frame as sent. */
static int route_to(struct fabric *fb, const char *addr, struct frame *out)
{
	struct frame in;

	udp4(&in, na.uplink_mac, "10.75.0.11", addr, 64, 32);
	return run_tc_out(fb, kr1, &in, out);
}

/* Delivered to the port of mac, from rb's gateway, counted on ifindex. */
#define CHECK_TO(out, mac, ifindex, tx0)				\
	do {								\
		CHECK(!memcmp((out).buf, mac, 6),			\
		      "to %02x:..:%02x, not the holder's MAC",	\
		      (out).buf[4], (out).buf[5]);			\
		CHECK(!memcmp((out).buf + 6, nb.uplink_mac, 6),		\
		      "not from rb's gateway MAC");			\
		CHECK(port_stats(fb, ifindex).tx_packets == (tx0) + 1,	\
		      "not counted as sent on the holder's port");	\
	} while (0)

/* Not delivered straight to a port: handed to the host, as it came. */
#define CHECK_VIA_HOST(out)						\
	CHECK(!memcmp((out).buf, na.uplink_mac, 6),			\
	      "went to %02x:..:%02x, not to the host to resolve",	\
	      (out).buf[4], (out).buf[5])

/*
 * A guest's packet to the gateway's MAC for a destination the kernel's
 * forwarding never forwards (the limited broadcast, multicast, 0/8,
 * loopback; IPv6 :: and ::1) is the host's stack's to take or drop, as it
 * came: never routed out by the FIB's default route (TTL kept, source
 * MAC the guest's). Before, it left through the host's default route.
 */
static void t_route_never_forwarded_destinations(struct fabric *fb)
{
	static const char *const d4[] = { "255.255.255.255", "224.0.0.251",
					  "239.255.255.250", "0.0.0.1",
					  "127.0.0.1" };
	static const char *const d6[] = { "::", "::1" };
	__u8 udp[16] = { 0x9c, 0x40, 0, 53, 0, 16 };
	struct frame in, out;
	__u32 krd;

	/* a default route out, both families, which the FIB would match */
	CHECK(!add_veth("krd", &krd) &&
	      !system("sysctl -qw net.ipv6.conf.krd.disable_ipv6=0 && "
		      "ip addr add 10.79.0.1/24 dev krd && "
		      "ip -6 addr add fd79::1/64 dev krd nodad && "
		      "ip neigh add 10.79.0.2 lladdr 02:00:00:00:79:02 dev krd && "
		      "ip -6 neigh add fd79::2 lladdr 02:00:00:00:79:02 dev krd && "
		      "ip route add default via 10.79.0.2 dev krd && "
		      "ip -6 route add default via fd79::2 dev krd"),
	      "a default route");
	for (unsigned i = 0; i < ARRAY_SIZE(d4); i++) {
		int ret = route_to(fb, d4[i], &out);

		CHECK(ret >= 0 && out.buf[14 + 8] == 64 &&
		      !memcmp(out.buf, na.uplink_mac, 6),
		      "to %s: verdict %d, TTL %u (routed)", d4[i], ret,
		      out.buf[14 + 8]);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(d6); i++) {
		int ret;

		ip6(&in, na.uplink_mac, "fd75::11", d6[i], 64, IPPROTO_UDP,
		    udp, sizeof(udp));
		set_csum6(&in, 14 + 40 + 6);
		ret = run_tc_out(fb, kr1, &in, &out);
		CHECK(ret >= 0 && out.buf[14 + 7] == 64 &&
		      !memcmp(out.buf, na.uplink_mac, 6),
		      "to %s: verdict %d, hop limit %u (routed)", d6[i], ret,
		      out.buf[14 + 7]);
	}
	/* the same route takes a unicast destination: the test's witness */
	{
		int ret = route_to(fb, "198.18.0.1", &out);

		system("ip link del krd");
		CHECK(ret == TC_ACT_REDIRECT && out.buf[14 + 8] == 63,
		      "a unicast destination by the default route: verdict "
		      "%d, TTL %u", ret, out.buf[14 + 8]);
	}
}

/*
 * An address a guest port holds (static, spoofcheck on) goes straight to
 * that port with its MAC, though the host's neighbour table knows nothing
 * of it; IPv6 the same. (Without the endpoint path: to the host.)
 */
static void t_route_endpoint_no_neighbour(struct fabric *fb)
{
	__u64 tx0 = port_stats(fb, kr4).tx_packets, tx2;
	__u8 udp[16] = { 0x9c, 0x40, 0, 53, 0, 16 };
	struct frame in, out;
	int ret;

	ret = route_to(fb, "10.76.0.14", &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK_TO(out, R4, kr4, tx0);
	CHECK(out.buf[14 + 8] == 63, "TTL %u, want 63", out.buf[14 + 8]);
	CHECK(!ip_csum_check(out.buf) && !l4_csum_check(out.buf),
	      "checksums wrong");
	ip6(&in, na.uplink_mac, "fd75::11", "fd76::14", 64, IPPROTO_UDP, udp,
	    sizeof(udp));
	set_csum6(&in, 14 + 40 + 6);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "IPv6: verdict %d", ret);
	CHECK_TO(out, R4, kr4, tx0 + 1);
	CHECK(out.buf[14 + 7] == 63, "hop limit %u", out.buf[14 + 7]);
	CHECK(!csum6_check(out.buf), "UDP checksum wrong");
	/* next, kr2 (no spoofcheck) by the FIB and the MAC table: counted
	 * on kr2, not on the port the last endpoint was */
	tx0 = port_stats(fb, kr4).tx_packets;
	tx2 = port_stats(fb, kr2).tx_packets;
	ret = route_to(fb, "10.76.0.11", &out);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(out.buf, R2, 6),
	      "to kr2: verdict %d", ret);
	CHECK(port_stats(fb, kr2).tx_packets == tx2 + 1 &&
	      port_stats(fb, kr4).tx_packets == tx0, "counted on the wrong port");
}

/*
 * An address that moves from one port to another goes to the new
 * holder at once, though the host's neighbour table still names the old
 * one's MAC; the old holder gets nothing more.
 */
static void t_route_endpoint_address_moves(struct fabric *fb)
{
	__u64 tx4 = port_stats(fb, kr4).tx_packets;
	__u64 tx5 = port_stats(fb, kr5).tx_packets;
	struct frame out;
	int ret;

	CHECK(!port_set_addr(fb, kr4, "10.76.0.15"), "port set kr4 ip .15");
	ret = route_to(fb, "10.76.0.15", &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK_TO(out, R4, kr4, tx4);
	CHECK(!port_set_addr(fb, kr4, "10.76.0.14") &&
	      !port_set_addr(fb, kr5, "10.76.0.15"), "the move");
	ret = route_to(fb, "10.76.0.15", &out);
	CHECK(ret == TC_ACT_REDIRECT, "after the move: verdict %d", ret);
	CHECK_TO(out, R5, kr5, tx5);
	CHECK(port_stats(fb, kr4).tx_packets == tx4 + 1,
	      "the old holder got it after the move");
	CHECK(!port_set_addr(fb, kr5, "10.76.0.18"), "kr5 back to .18");
}

/* A port's new MAC is where its addresses go from the next packet on. */
static void t_route_endpoint_port_mac_changes(struct fabric *fb)
{
	__u64 tx0 = port_stats(fb, kr4).tx_packets;
	struct kvb_port p;
	struct frame out;
	int ret;

	CHECK(!bpf_map_lookup_elem(fb->port_fd, &kr4, &p), "kr4's entry");
	memcpy(p.mac, R8, 6);
	bpf_map_update_elem(fb->port_fd, &kr4, &p, BPF_EXIST);
	ret = route_to(fb, "10.76.0.14", &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK_TO(out, R8, kr4, tx0);
	memcpy(p.mac, R4, 6);
	bpf_map_update_elem(fb->port_fd, &kr4, &p, BPF_EXIST);
}

/*
 * Bindings that do not make a port the holder for sure are not taken:
 * a lease that has ended; an owner entry without the port's own entry
 * (half removed); an owner entry naming a port of another network; a
 * port without spoofcheck (its guest may use any MAC). Each goes to the
 * host, which resolves it, and nothing is sent on the port named.
 */
static void t_route_endpoint_unsure_bindings(struct fabric *fb)
{
	struct kvb_addr_key ok = { .family = 4, .net_id = 6 }, pk;
	struct kvb_addr ov = { .flags = KVB_ADDR_F_DHCP, .owner = kr4 };
	struct kvb_addr pv = { .flags = KVB_ADDR_F_DHCP, .owner = kr4,
			       .expires_ns = 1, .learned_ns = 1 };
	__u64 tx4 = port_stats(fb, kr4).tx_packets;
	__u64 tx7 = port_stats(fb, kr7).tx_packets;
	__u64 tx6 = port_stats(fb, kr6).tx_packets;
	struct frame out;
	int ret;

	/* .16: kr4's lease, ended */
	inet_pton(AF_INET, "10.76.0.16", ok.addr);
	pk = ok;
	pk.net_id = 0;
	pk.ifindex = kr4;
	bpf_map_update_elem(fb->addr_fd, &ok, &ov, BPF_ANY);
	bpf_map_update_elem(fb->addr_fd, &pk, &pv, BPF_ANY);
	ret = route_to(fb, "10.76.0.16", &out);
	CHECK(ret == TC_ACT_REDIRECT, "ended lease: verdict %d", ret);
	CHECK_VIA_HOST(out);
	/* the same owner entry, the port's entry gone */
	bpf_map_delete_elem(fb->addr_fd, &pk);
	ret = route_to(fb, "10.76.0.16", &out);
	CHECK(ret == TC_ACT_REDIRECT, "half removed: verdict %d", ret);
	CHECK_VIA_HOST(out);
	CHECK(port_stats(fb, kr4).tx_packets == tx4, "sent on kr4");
	/* an owner entry (and a live entry) naming ra's kr7 */
	ov.owner = pv.owner = kr7;
	pv.expires_ns = 0;
	pk.ifindex = kr7;
	bpf_map_update_elem(fb->addr_fd, &ok, &ov, BPF_ANY);
	bpf_map_update_elem(fb->addr_fd, &pk, &pv, BPF_ANY);
	ret = route_to(fb, "10.76.0.16", &out);
	CHECK(ret == TC_ACT_REDIRECT, "another network's port: verdict %d",
	      ret);
	CHECK_VIA_HOST(out);
	CHECK(port_stats(fb, kr7).tx_packets == tx7, "sent on kr7");
	bpf_map_delete_elem(fb->addr_fd, &pk);
	bpf_map_delete_elem(fb->addr_fd, &ok);
	/* .19: kr6's static address, spoofcheck off */
	ret = route_to(fb, "10.76.0.19", &out);
	CHECK(ret == TC_ACT_REDIRECT, "no spoofcheck: verdict %d", ret);
	CHECK_VIA_HOST(out);
	CHECK(port_stats(fb, kr6).tx_packets == tx6, "sent on kr6");
}

/*
 * A packet over the destination network's MTU gets the error, as
 * before; an isolated holder of the sender's own network is not reached
 * through the gateway either.
 */
static void t_route_endpoint_mtu_and_isolation(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kr1).drop[KVB_DROP_ISOLATED];
	__u64 tx0 = port_stats(fb, kr4).tx_packets;
	__u8 *icmp = NULL;
	struct frame in, out;
	int ret;

	udp4(&in, na.uplink_mac, "10.75.0.11", "10.76.0.14", 64, 1450 - 28);
	ret = run_tc_out(fb, kr1, &in, &out);
	icmp = out.buf + 14 + 20;
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK(icmp[0] == 3 && icmp[1] == 4 &&
	      (icmp[6] << 8 | icmp[7]) == 1400, "type %u code %u mtu %u",
	      icmp[0], icmp[1], icmp[6] << 8 | icmp[7]);
	CHECK(port_stats(fb, kr4).tx_packets == tx0, "sent on kr4");
	udp4(&in, na.uplink_mac, "10.75.0.11", "10.75.0.23", 64, 32);
	ret = run_tc_out(fb, kr1, &in, &out);
	CHECK(ret == TC_ACT_SHOT, "to isolated kr7: verdict %d", ret);
	CHECK(port_stats(fb, kr1).drop[KVB_DROP_ISOLATED] == d0 + 1,
	      "isolated not counted");
}

/* A detached port's addresses go nowhere near it. */
static void t_route_endpoint_detached(struct fabric *fb)
{
	struct kvb_port p;
	struct frame out;
	int ret;

	ret = route_to(fb, "10.76.0.18", &out);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(out.buf, R5, 6),
	      "before: verdict %d, not to kr5", ret);
	CHECK(!bpf_map_lookup_elem(fb->port_fd, &kr5, &p) &&
	      !port_detach(fb, "detach", &p), "detach kr5");
	ret = route_to(fb, "10.76.0.18", &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK_VIA_HOST(out);
}

/*
 * A port whose device went without a detach (QEMU exited; the port, its
 * static address and MAC stay until gc), and a new device that took its
 * ifindex: the address's packets go to neither (handed to the host,
 * which resolves nothing there), not to the new device with the old
 * guest's MAC.
 */
static void t_route_endpoint_device_gone(struct fabric *fb)
{
	static const __u8 R9[6] = { 0x52, 0x54, 0, 0, 0x76, 9 };
	struct port_opts g = { .mac = R9, .spoofcheck = true };
	struct kvb_port p;
	struct frame out;
	char cmd[160];
	__u32 kr9, tx0;
	int ret;

	opt_addr(&g, 4, "10.76.0.31");
	CHECK(!add_veth("kr9", &kr9) &&
	      !port_attach(fb, "unit", "kr9", 6, KVB_PORT_GUEST, &g),
	      "attach kr9");
	tx0 = (__u32)port_stats(fb, kr9).tx_packets;
	ret = route_to(fb, "10.76.0.31", &out);
	CHECK(ret == TC_ACT_REDIRECT, "before: verdict %d", ret);
	CHECK_TO(out, R9, kr9, tx0);
	snprintf(cmd, sizeof(cmd), "ip link del kr9 && ip link add kr9n index "
		 "%u type veth peer name kr9np && ip link set kr9n up && "
		 "ip link set kr9np up", kr9);
	CHECK(!system(cmd) && if_nametoindex("kr9n") == kr9,
	      "a new device with kr9's ifindex %u", kr9);
	tx0 = (__u32)port_stats(fb, kr9).tx_packets;
	ret = route_to(fb, "10.76.0.31", &out);
	CHECK(ret == TC_ACT_REDIRECT, "after: verdict %d", ret);
	CHECK_VIA_HOST(out);
	CHECK(port_stats(fb, kr9).tx_packets == tx0, "sent to kr9's ifindex");
	if (!bpf_map_lookup_elem(fb->port_fd, &kr9, &p))
		port_detach(fb, "gc", &p);
	system("ip link del kr9n");
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The host's routes still decide before the endpoint path: a blackhole
 * route for a guest's address, or forwarding off on the host interface
 * into its network, refuses the packet (no-route), as the FIB did before
 * the endpoint path; once they go, the guest is reached again.
 */
static void t_route_endpoint_host_routes_win(struct fabric *fb)
{
	char host[IFNAMSIZ], port[IFNAMSIZ], cmd[256];
	__u64 tx0 = port_stats(fb, kr4).tx_packets;
	struct frame out;
	int ret;

	gateway_ifnames(6, host, port);
	/* routed once first: the FIB's answer is in the next hop cache */
	ret = route_to(fb, "10.76.0.14", &out);
	CHECK(ret == TC_ACT_REDIRECT, "before the blackhole: verdict %d", ret);
	CHECK_TO(out, R4, kr4, tx0);
	tx0++;
	CHECK(!system("ip route add blackhole 10.76.0.14/32"),
	      "cannot add the blackhole route");
	ret = route_to(fb, "10.76.0.14", &out);
	CHECK(ret == TC_ACT_SHOT && port_stats(fb, kr4).tx_packets == tx0,
	      "through a blackhole route: verdict %d", ret);
	CHECK(!system("ip route del blackhole 10.76.0.14/32"),
	      "cannot remove the blackhole route");
	/* and once again before forwarding goes off: cached anew */
	ret = route_to(fb, "10.76.0.14", &out);
	CHECK(ret == TC_ACT_REDIRECT, "after the blackhole: verdict %d", ret);
	CHECK_TO(out, R4, kr4, tx0);
	tx0++;
	snprintf(cmd, sizeof(cmd),
		 "sysctl -qw net.ipv4.conf.%s.forwarding=0", host);
	CHECK(!system(cmd), "cannot turn forwarding off on %s", host);
	ret = route_to(fb, "10.76.0.14", &out);
	CHECK(ret == TC_ACT_SHOT && port_stats(fb, kr4).tx_packets == tx0,
	      "with forwarding off on %s: verdict %d", host, ret);
	snprintf(cmd, sizeof(cmd),
		 "sysctl -qw net.ipv4.conf.%s.forwarding=1", host);
	CHECK(!system(cmd), "cannot turn forwarding on again on %s", host);
	ret = route_to(fb, "10.76.0.14", &out);
	CHECK(ret == TC_ACT_REDIRECT, "afterwards: verdict %d", ret);
	CHECK_TO(out, R4, kr4, tx0);
}

/* The stage's next hop cache (route.h: kvb_rtnh4, not pinned), or -1. */
static int rtnh4_fd(struct fabric *fb)
{
	__u32 slot = KVB_STAGE_ROUTED, id = 0, ids[64];
	struct bpf_prog_info info;
	struct bpf_map_info mi;
	__u32 len = sizeof(info), mlen;
	char path[512];
	int map, prog, fd = -1;

	snprintf(path, sizeof(path), "%s/%s", fb->dir, KVB_MAP_STAGES);
	map = bpf_obj_get(path);
	if (map < 0)
		return -1;
	prog = bpf_map_lookup_elem(map, &slot, &id) ? -1 :
						       bpf_prog_get_fd_by_id(id);
	close(map);
	if (prog < 0)
		return -1;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(prog, &info, &len)) {
		for (__u32 i = 0; i < info.nr_map_ids && i < 64 && fd < 0; i++) {
			int m = bpf_map_get_fd_by_id(ids[i]);

			memset(&mi, 0, sizeof(mi));
			mlen = sizeof(mi);
			if (m >= 0 && !bpf_obj_get_info_by_fd(m, &mi, &mlen) &&
			    !strcmp(mi.name, "kvb_rtnh4"))
				fd = m;
			else if (m >= 0)
				close(m);
		}
	}
	close(prog);
	return fd;
}

/* Write v under k as the datapath would (fresh, its check word). */
static int rtnh4_plant(int fd, const struct kvb_rtnh4_key *k,
		       struct kvb_rtnh4 *v, __u64 checked_ns)
{
	v->checked_ns = checked_ns;
	v->check = kvb_rtnh4_check(v);
	return bpf_map_update_elem(fd, k, v, BPF_EXIST);
}

/*
 * Routed IPv4 takes the FIB's answer from the next hop cache while the
 * namespace's route generation is the one it was asked under: the answer
 * is kept after a packet (egress rb's host interface, next hop the
 * destination, its length, its key); an entry of the current generation
 * is taken without asking (an egress the FIB never named: refused,
 * no-route), one of another generation is not (the FIB's answer again),
 * nor one for shorter packets (asked, and kept for the longer one), nor
 * one that names another key, another namespace, or whose check word
 * does not hold (a copy torn by a writer reusing the entry).
 */
/*
 * Plant v under k, checked at checked_ns, and route a packet to the
 * entry's destination: the verdict, the frame into *out, and *tx the
 * holder's sent count before. Again (up to 5 times) when the machine
 * stalled long enough for the entry to age out (KVB_NH_REVALIDATE_NS)
 * between the two: what the step asserts would not be what it tests.
 */
static int plant_route(struct fabric *fb, int fd,
		       const struct kvb_rtnh4_key *k, struct kvb_rtnh4 *v,
		       __u64 back_ns, struct frame *out, __u64 *tx)
{
	int ret = -1;

	for (int i = 0; i < 5; i++) {
		__u64 t = now_ns() - back_ns;

		*tx = port_stats(fb, kr4).tx_packets;
		if (rtnh4_plant(fd, k, v, t))
			return -1;
		ret = route_to(fb, "10.76.0.14", out);
		if (now_ns() - t < KVB_NH_REVALIDATE_NS * 9 / 10)
			break;
	}
	return ret;
}

static void next_hop_cache(struct fabric *fb, int fd,
			   const struct kvb_rtnh4_key *k)
{
	__u64 tx = port_stats(fb, kr4).tx_packets;
	struct kvb_rtnh4 v, kept, now;
	struct frame out;
	int ret;

	ret = route_to(fb, "10.76.0.14", &out);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK_TO(out, R4, kr4, tx);
	CHECK(!bpf_map_lookup_elem(fd, k, &kept), "no answer kept (the cache "
	      "needs the kfunc bpf_cast_to_kern_ctx, Linux 6.2, and the "
	      "kernel's BTF: bpf/lib/kern.h)");
	CHECK(kept.out == nb.gw_host && kept.nh == k->daddr &&
	      kept.len == 20 + 8 + 32 && !memcmp(&kept.key, k, sizeof(*k)) &&
	      kept.check == kvb_rtnh4_check(&kept),
	      "kept out %u (want %u), len %u", kept.out, nb.gw_host, kept.len);
	/* taken as it is, while the generation holds */
	v = kept;
	v.out = kr2;
	ret = plant_route(fb, fd, k, &v, 0, &out, &tx);
	CHECK(ret == TC_ACT_SHOT && port_stats(fb, kr4).tx_packets == tx,
	      "an answer of this generation not taken: verdict %d", ret);
	/* torn (its check word does not hold), another key's, another
	 * namespace's: none taken */
	for (int i = 0; i < 3; i++) {
		v = kept;
		v.out = kr2;
		if (i == 1)
			v.key.daddr ^= htonl(1);
		if (i == 2)
			v.ns ^= 1;
		tx = port_stats(fb, kr4).tx_packets;
		CHECK(!rtnh4_plant(fd, k, &v, now_ns()), "cannot rewrite");
		if (i == 0) {
			v.check ^= 1;
			CHECK(!bpf_map_update_elem(fd, k, &v, BPF_EXIST),
			      "cannot rewrite");
		}
		ret = route_to(fb, "10.76.0.14", &out);
		CHECK(ret == TC_ACT_REDIRECT, "%s entry taken: verdict %d",
		      i == 0 ? "a torn" : i == 1 ? "another key's" :
		      "another namespace's", ret);
		CHECK_TO(out, R4, kr4, tx);
	}
	/* too short for this packet: asked again, and kept longer in the
	 * same entry (its time kept: not a new answer) */
	v = kept;
	v.len = 20;
	ret = plant_route(fb, fd, k, &v, 1, &out, &tx);
	CHECK(ret == TC_ACT_REDIRECT, "a shorter entry taken: verdict %d", ret);
	CHECK_TO(out, R4, kr4, tx);
	CHECK(!bpf_map_lookup_elem(fd, k, &now) && now.len == kept.len &&
	      now.checked_ns == v.checked_ns &&
	      now.check == kvb_rtnh4_check(&now),
	      "not kept longer in the same entry: len %u", now.len);
	/* another generation's: asked again */
	v = now;
	v.out = kr2;
	v.gen = kept.gen + 1;
	tx = port_stats(fb, kr4).tx_packets;
	CHECK(!rtnh4_plant(fd, k, &v, now_ns()), "cannot rewrite");
	ret = route_to(fb, "10.76.0.14", &out);
	CHECK(ret == TC_ACT_REDIRECT, "another generation's entry taken: "
	      "verdict %d", ret);
	CHECK_TO(out, R4, kr4, tx);
	CHECK(!bpf_map_lookup_elem(fd, k, &v) && v.gen == kept.gen &&
	      v.out == nb.gw_host, "the FIB's answer not kept again");
}

static void t_route_next_hop_cache(struct fabric *fb)
{
	struct kvb_rtnh4_key k = { .ifindex = nb.gw_host };
	int fd = rtnh4_fd(fb);

	CHECK(fd >= 0, "the routed stage has no kvb_rtnh4");
	inet_pton(AF_INET, "10.75.0.11", &k.saddr);
	inet_pton(AF_INET, "10.76.0.14", &k.daddr);
	bpf_map_delete_elem(fd, &k);
	next_hop_cache(fb, fd, &k);
	bpf_map_delete_elem(fd, &k);	/* nothing the test wrote stays */
	close(fd);
}

/*
 * TTL-exceeded errors are bounded per port: sending TTL-1 packets as fast
 * as BPF_PROG_RUN goes, some are refused without an error
 * (icmp-rate-limited, one count per refusal), and the errors sent never
 * exceed the burst plus the rate over the time it took, on every CPU the
 * test may have run on. Holds however slow the machine: it only bounds.
 */
static void t_route_icmp_errors_rate_limited(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kr1).drop[KVB_DROP_ICMP_RATE];
	int ncpu = libbpf_num_possible_cpus();
	__u32 sent = 0, limited = 0, i;
	struct frame in, out;
	double t0 = mono_s(), dt;

	udp4(&in, na.uplink_mac, "10.75.0.11", "10.76.0.11", 1, 32);
	for (i = 0; i < 200000 && limited < 10; i++) {
		int ret = run_tc_out(fb, kr1, &in, &out);

		if (ret == TC_ACT_REDIRECT)
			sent++;
		else if (ret == TC_ACT_SHOT)
			limited++;
		else
			CHECK(0, "verdict %d", ret);
	}
	dt = mono_s() - t0;
	CHECK(limited > 0, "%u errors sent in %.3f s, none refused", sent, dt);
	CHECK(sent <= (double)ncpu * (KVB_ICMP_BURST + KVB_ICMP_RATE * (dt + 0.05)),
	      "%u errors in %.3f s over %d CPUs: more than the budget", sent, dt,
	      ncpu);
	CHECK(port_stats(fb, kr1).drop[KVB_DROP_ICMP_RATE] == d0 + limited,
	      "icmp-rate-limited counted %llu, refused %u",
	      (unsigned long long)(port_stats(fb, kr1).drop[KVB_DROP_ICMP_RATE] - d0),
	      limited);
	/* the budget spent: a packet too big still gets fragmentation
	 * needed (path-MTU errors are never limited, as the kernel's;
	 * before, a flood of TTL-1 packets silenced them) */
	udp4(&in, na.uplink_mac, "10.75.0.11", "10.76.0.11", 64, 1450 - 28);
	for (i = 0; i < 50; i++) {
		int ret = run_tc_out(fb, kr1, &in, &out);

		if (ret != TC_ACT_REDIRECT || out.buf[14 + 20] != 3 ||
		    out.buf[14 + 21] != 4)
			break;
	}
	CHECK(i == 50, "too big %u of 50 answered with the budget spent", i);
}

int route_tests(struct fabric *fb)
{
	struct port_opts g1 = { .naddrs = 0, .mac = R1 };
	struct port_opts g2 = { .naddrs = 0, .mac = R2 };
	struct port_opts g3 = { .naddrs = 0, .mac = R3, .isolated = true };
	char host[16], port[16], cmd[256];
	int nfail = 0;

	if (add_veth("kr1", &kr1) || add_veth("kr2", &kr2) ||
	    add_veth("krw", &krw) || add_veth("kr3", &kr3) ||
	    make_net(fb, &na, 5, "ra", "10.75.0.0/24", "fd75::/64", 1500) ||
	    make_net(fb, &nb, 6, "rb", "10.76.0.0/24", "fd76::/64", 1400) ||
	    make_net(fb, &nc, 7, "rc", "10.77.0.0/24", NULL, 1500) ||
	    port_attach(fb, "unit", "kr1", 5, KVB_PORT_GUEST, &g1) ||
	    port_attach(fb, "unit", "kr2", 6, KVB_PORT_GUEST, &g2) ||
	    port_attach(fb, "unit", "kr3", 5, KVB_PORT_GUEST, &g3)) {
		printf("FAIL route setup: networks\n");
		return 1;
	}
	gateway_ifnames(6, host, port);
	snprintf(cmd, sizeof(cmd),
		 "ip neigh add 10.76.0.11 lladdr 52:54:00:00:76:01 dev %s && "
		 "ip -6 neigh add fd76::11 lladdr 52:54:00:00:76:01 dev %s",
		 host, host);
	if (system(cmd)) {
		printf("FAIL route setup: neighbours\n");
		return 1;
	}
	gateway_ifnames(5, host, port);
	gwp5 = if_nametoindex(port);
	snprintf(cmd, sizeof(cmd),
		 "ip neigh add 10.75.0.13 lladdr 52:54:00:00:75:03 dev %s",
		 host);
	if (!gwp5 || system(cmd)) {
		printf("FAIL route setup: ra's neighbours\n");
		return 1;
	}
	nc.wan = krw;
	/* the WAN's hosts: the host routes back to them (a source it has
	 * no route back to is forged: wan_src_forged) */
	if (net_put(fb, &nc) || wan_attach(fb, "krw", 7) ||
	    system("ip link set krw up && "
		   "ip route add 203.0.113.0/24 dev krw")) {
		printf("FAIL route setup: wan\n");
		return 1;
	}
	{
		struct port_opts g4 = { .mac = R4, .spoofcheck = true };
		struct port_opts g5 = { .mac = R5, .spoofcheck = true };
		struct port_opts g6 = { .mac = R6 };
		struct port_opts g7 = { .mac = R7, .spoofcheck = true,
					.isolated = true };

		opt_addr(&g4, 4, "10.76.0.14");
		opt_addr(&g4, 6, "fd76::14");
		opt_addr(&g5, 4, "10.76.0.18");
		opt_addr(&g6, 4, "10.76.0.19");
		opt_addr(&g7, 4, "10.75.0.23");
		if (add_veth("kr4", &kr4) || add_veth("kr5", &kr5) ||
		    add_veth("kr6", &kr6) || add_veth("kr7", &kr7) ||
		    port_attach(fb, "unit", "kr4", 6, KVB_PORT_GUEST, &g4) ||
		    port_attach(fb, "unit", "kr5", 6, KVB_PORT_GUEST, &g5) ||
		    port_attach(fb, "unit", "kr6", 6, KVB_PORT_GUEST, &g6) ||
		    port_attach(fb, "unit", "kr7", 5, KVB_PORT_GUEST, &g7)) {
			printf("FAIL route setup: endpoint ports\n");
			return 1;
		}
		gateway_ifnames(6, host, port);
		snprintf(cmd, sizeof(cmd),
			 "ip neigh add 10.76.0.15 lladdr 52:54:00:00:76:04 dev %s",
			 host);
		if (system(cmd)) {
			printf("FAIL route setup: the stale neighbour\n");
			return 1;
		}
	}
	na.peers[0] |= 1ULL << 6;
	nb.peers[0] |= 1ULL << 5;
	if (net_put(fb, &na) || net_put(fb, &nb) || net_get(fb, 5, &na) ||
	    net_get(fb, 6, &nb)) {
		printf("FAIL route setup: peering\n");
		return 1;
	}
	RUN(t_route_into_peered_network);
	RUN(t_route_into_peered_network_ipv6);
	RUN(t_route_unpeered_refused);
	RUN(t_route_never_forwarded_destinations);
	RUN(t_route_ttl_exceeded);
	RUN(t_route_frag_needed);
	RUN(t_route_hop_limit_exceeded_ipv6);
	RUN(t_route_neighbour_advert_for_gateway);
	RUN(t_route_dad_for_gateway_answered);
	RUN(t_route_router_advert);
	RUN(t_route_wan_only_into_its_networks);
	RUN(t_route_wan_forged_sources);
	RUN(t_route_wan_gso_segments);
	RUN(t_route_wan_other_host);
	RUN(t_route_wan_admission);
	RUN(t_route_isolated_neighbour_via_gateway);
	RUN(t_route_isolated_neighbour_via_host);
	RUN(t_route_link_local_via_gateway);
	RUN(t_route_endpoint_no_neighbour);
	RUN(t_route_endpoint_address_moves);
	RUN(t_route_endpoint_port_mac_changes);
	RUN(t_route_endpoint_unsure_bindings);
	RUN(t_route_endpoint_mtu_and_isolation);
	RUN(t_route_endpoint_detached);
	RUN(t_route_endpoint_device_gone);
	RUN(t_route_endpoint_host_routes_win);
	RUN(t_route_next_hop_cache);
	/* last: it spends kr1's ICMP budget */
	RUN(t_route_icmp_errors_rate_limited);
	for (__u32 id = 5; id <= 7; id++)
		gateway_delete(id);
	return nfail;
}
