// SPDX-License-Identifier: MIT
/*
 * The checksum rule of XDP on a guest port (DESIGN.md, contract 2), by
 * BPF_PROG_RUN. XDP cannot see the virtio-net header, so it may forward a
 * frame from a guest only when the frame is bit-identical to a complete
 * one; what it cannot vouch for goes to tc with XDP_PASS, untouched.
 *
 * Between two veth ports (kx1, kx2: a veth is never a redirect target)
 * every frame is passed, and tc forwards it unchanged:
 *
 *   - TCP and UDP with a partial checksum (the pseudo-header sum a guest
 *     with checksum offload leaves in the field), IPv4 and IPv6;
 *   - a VXLAN packet whose inner TCP checksum is partial and whose outer
 *     UDP checksum is what local checksum offload computed;
 *   - SCTP, IPv4 fragments (first and later), GRE, IPIP, IPv6-in-IPv4,
 *     IPv6 routing headers (type 2 and segment routing), IPv4 UDP with
 *     checksum 0: each passes to tc (XDP_PASS, the frame unchanged), and
 *     tc forwards it unchanged to the other guest.
 *
 * Ports (network a, id 1): kx1 (mac X1, 10.0.0.21, fd00::21) and kx2
 * (mac X2); frames go from kx1 to X2.
 *
 * Between two tap ports (kt1, kt2: taps are redirect targets) the fast
 * path (bpf/lib/xdpfwd.h) runs in native XDP only: a guest's frame in
 * generic XDP is a GSO one, whose GSO fields a redirect would carry past
 * tc. BPF_PROG_RUN describes its frame by the device's own receive
 * queue, as generic XDP does (kern.h: xdp_native), so every guest frame
 * is passed to tc here, and tc switches it (a guest's native XDP is
 * tests/netns/vnet.sh's, mode native).
 *
 * From the bridge's uplink (unit_uplink) to the tap kt2, the same fast
 * path takes a LAN host's complete frames (every length of its sum, ICMP
 * echo, ARP; and learns the host on the uplink), and passes to tc, never drops, everything tc must judge: the
 * host's own, multicast, unknown, LAN to LAN, partial or wrong checksums,
 * DHCP, router advertisements, VLAN tags, a guest with ACLs, frames over
 * the network's or the guest's MTU.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unit.h"
#include "tap_xdp.skel.h"
#include "kfeat.h"

static const __u8 X1[6] = { 0x52, 0x54, 0, 0, 0x1c, 1 };
static const __u8 X2[6] = { 0x52, 0x54, 0, 0, 0x1c, 2 };
static const __u8 SRC6[16] = { 0xfd, [15] = 0x21 };
#define SRC4 htonl(0x0a000015)	/* 10.0.0.21 */

static __u32 kx1, kx2;
/* the XDP program the tests run: the guests' (prog_xdp), or the uplink's */
static int xdp_prog = -1;

/* XDP on the frame; its verdict, and the frame as XDP left it in *out. */
static int run_xdp_out(struct fabric *fb, __u32 ifindex,
		       const struct frame *in, struct frame *out)
{
	struct xdp_md ctx = { .data_end = in->len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->buf,
		    .data_size_in = in->len, .data_out = out->buf,
		    .data_size_out = sizeof(out->buf), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(xdp_prog >= 0 ? xdp_prog : fb->prog_xdp, &o)) {
		printf("# BPF_PROG_RUN: %s\n", strerror(errno));
		return -1;
	}
	out->len = o.data_size_out;
	return (int)o.retval;
}

/* The frame from port from: XDP_PASS, unchanged, nothing counted by XDP. */
static int to_tc(struct fabric *fb, __u32 from, const struct frame *f,
		 const char *what, const char *test)
{
	__u64 fwd0 = port_stats(fb, from).xdp_fwd;
	struct frame out;
	int ret;

	ret = run_xdp_out(fb, from, f, &out);
	if (ret != XDP_PASS || out.len != f->len ||
	    memcmp(out.buf, f->buf, f->len)) {
		printf("FAIL %s: %s: XDP verdict %d (want XDP_PASS), frame %s\n",
		       test, what, ret,
		       out.len == f->len && !memcmp(out.buf, f->buf, f->len) ?
		       "unchanged" : "changed");
		return 1;
	}
	if (port_stats(fb, from).xdp_fwd != fwd0) {
		printf("FAIL %s: %s: counted as forwarded by XDP\n", test, what);
		return 1;
	}
	return 0;
}

/*
 * The frame from port from passes XDP untouched, and tc forwards it to
 * port to without changing a byte (a partial checksum stays the
 * pseudo-header sum, which the skb's CHECKSUM_PARTIAL state makes right
 * on the way out).
 */
static int tc_forwards(struct fabric *fb, __u32 from, __u32 to,
		       const struct frame *f, const char *what,
		       const char *test)
{
	struct frame out;
	__u64 tx0 = port_stats(fb, to).tx_packets;
	int ret;

	if (to_tc(fb, from, f, what, test))
		return 1;
	ret = run_tc_out(fb, from, f, &out);
	if (ret != TC_ACT_REDIRECT || port_stats(fb, to).tx_packets != tx0 + 1) {
		printf("FAIL %s: %s: tc verdict %d (want TC_ACT_REDIRECT to "
		       "port %u)\n", test, what, ret, to);
		return 1;
	}
	if (out.len != f->len || memcmp(out.buf, f->buf, f->len)) {
		printf("FAIL %s: %s: tc changed the frame\n", test, what);
		return 1;
	}
	return 0;
}

#define PASSES(f, what)							\
	do {								\
		if (tc_forwards(fb, kx1, kx2, (f), (what), __func__)) {	\
			unit_failed = 1;				\
			return;						\
		}							\
	} while (0)

static void put16(__u8 *p, __u16 v)
{
	p[0] = (__u8)(v >> 8);
	p[1] = (__u8)v;
}

/* TCP (20-byte header) or UDP header plus payload at l4. */
static __u32 l4_hdr(__u8 *l4, __u8 proto, __u32 payload)
{
	__u32 h = proto == IPPROTO_TCP ? 20 : 8;

	memset(l4, 0, h);
	put16(l4, 40000);
	put16(l4 + 2, 80);
	if (proto == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		l4[13] = 0x18;
		put16(l4 + 14, 65535);
	} else {
		put16(l4 + 4, (__u16)(h + payload));
	}
	for (__u32 i = 0; i < payload; i++)
		l4[h + i] = (__u8)('a' + i % 26);
	return h + payload;
}

/* The pseudo-header sum of the frame's IPv4 or IPv6 packet, unfolded. */
static __u32 pseudo(const struct frame *f, __u8 proto, __u32 l4len)
{
	const __u8 *ip = f->buf + ETH_HLEN;
	__u32 s = ip[0] >> 4 == 6 ? sum16(ip + 8, 32, 0) : sum16(ip + 12, 8, 0);

	return s + proto + l4len;
}

static __u16 fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static __u32 ip_hdr_len(const struct frame *f)
{
	const __u8 *ip = f->buf + ETH_HLEN;

	return ip[0] >> 4 == 6 ? 40 : (ip[0] & 0xfu) * 4;
}

/* IPv4 frames from kx1 to X2 with a valid header checksum. */
static void ip4(struct frame *f, __u8 proto, const void *l4, __u32 len)
{
	__u8 *ip = f->buf + ETH_HLEN;

	frame_ip4(f, X2, X1, SRC4, proto, l4, len);
	ip[10] = ip[11] = 0;
	put16(ip + 10, csum_fold16(sum16(ip, 20, 0)));
}

/* The L4 checksum field as a guest with checksum offload leaves it. */
static void make_partial(struct frame *f, __u8 proto)
{
	__u32 off = ETH_HLEN + ip_hdr_len(f);
	__u32 l4len = f->len - off;

	put16(f->buf + off + (proto == IPPROTO_TCP ? 16 : 6),
	      fold(pseudo(f, proto, l4len)));
}

/* And as a complete one. */
static void make_complete(struct frame *f, __u8 proto)
{
	__u32 off = ETH_HLEN + ip_hdr_len(f);
	__u32 l4len = f->len - off, at = off + (proto == IPPROTO_TCP ? 16 : 6);
	__u16 c;

	put16(f->buf + at, 0);
	c = csum_fold16(sum16(f->buf + off, l4len, pseudo(f, proto, l4len)));
	put16(f->buf + at, proto == IPPROTO_UDP && !c ? 0xffff : c);
}

static void t_xdp_partial_checksums_go_to_tc(struct fabric *fb)
{
	static const __u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct frame f;
	__u8 l4[400];

	for (int i = 0; i < 2; i++) {
		__u8 p = protos[i];
		__u32 n = l4_hdr(l4, p, 300);
		char what[64];

		ip4(&f, p, l4, n);
		make_partial(&f, p);
		snprintf(what, sizeof(what), "IPv4 %s, partial checksum",
			 p == IPPROTO_TCP ? "TCP" : "UDP");
		PASSES(&f, what);
		frame_ip6(&f, X2, X1, SRC6, p, l4, n);
		make_partial(&f, p);
		snprintf(what, sizeof(what), "IPv6 %s, partial checksum",
			 p == IPPROTO_TCP ? "TCP" : "UDP");
		PASSES(&f, what);
		/* complete ones too, as long as XDP forwards nothing */
		make_complete(&f, p);
		snprintf(what, sizeof(what), "IPv6 %s, complete checksum",
			 p == IPPROTO_TCP ? "TCP" : "UDP");
		PASSES(&f, what);
	}
}

/* VXLAN around Ethernet/IPv4/TCP; the inner checksum partial. */
static void t_xdp_tunnel_with_inner_offload_goes_to_tc(struct fabric *fb)
{
	struct frame f, in;
	__u8 l4[600], *ip, *udp;
	__u32 ilen, n;

	/* the inner frame, complete, built with the same helpers */
	n = l4_hdr(l4, IPPROTO_TCP, 200);
	frame_ip4(&in, X2, X1, htonl(0x0ac80001), IPPROTO_TCP, l4, n);
	ip = in.buf + ETH_HLEN;
	put16(ip + 10, csum_fold16(sum16(ip, 20, 0)));
	make_complete(&in, IPPROTO_TCP);
	ilen = in.len;
	/* the outer UDP: 8 bytes, VXLAN 8 bytes, the inner frame */
	memset(l4, 0, 16);
	put16(l4, 50000);
	put16(l4 + 2, 4789);
	put16(l4 + 4, (__u16)(16 + ilen));
	l4[8] = 0x08;
	l4[14] = 42;
	memcpy(l4 + 16, in.buf, ilen);
	ip4(&f, IPPROTO_UDP, l4, 16 + ilen);
	/* the outer checksum over the complete inner frame (what LCO
	 * yields), then the inner checksum left partial */
	make_complete(&f, IPPROTO_UDP);
	udp = f.buf + ETH_HLEN + 20;
	put16(udp + 16 + ETH_HLEN + 20 + 16,
	      fold(pseudo(&in, IPPROTO_TCP, n)));
	PASSES(&f, "VXLAN, outer checksum by LCO, inner TCP checksum partial");
	put16(udp + 6, 0);
	PASSES(&f, "VXLAN, outer checksum 0, inner TCP checksum partial");
}

static void t_xdp_pass_to_tc_cases(struct fabric *fb)
{
	struct frame f;
	__u8 l4[400], *ip;
	__u32 n;

	memset(l4, 0, sizeof(l4));
	/* SCTP: common header and a DATA chunk; CRC32c, not ours to do */
	put16(l4, 5000), put16(l4 + 2, 5001);
	l4[12] = 0, put16(l4 + 14, 20);
	ip4(&f, IPPROTO_SCTP, l4, 32);
	PASSES(&f, "SCTP");
	frame_ip6(&f, X2, X1, SRC6, IPPROTO_SCTP, l4, 32);
	PASSES(&f, "SCTP over IPv6");

	/* IPv4 fragments of a UDP datagram: first (MF) and a later one */
	n = l4_hdr(l4, IPPROTO_UDP, 200);
	put16(l4 + 4, 1000);	/* the whole datagram's length */
	ip4(&f, IPPROTO_UDP, l4, n);
	ip = f.buf + ETH_HLEN;
	put16(ip + 6, 0x2000);	/* MF, offset 0 */
	put16(ip + 10, 0);
	put16(ip + 10, csum_fold16(sum16(ip, 20, 0)));
	PASSES(&f, "IPv4 first fragment");
	put16(ip + 6, 26);	/* offset 208, last fragment */
	put16(ip + 10, 0);
	put16(ip + 10, csum_fold16(sum16(ip, 20, 0)));
	PASSES(&f, "IPv4 later fragment");
	/* IPv6 fragment header, first fragment of a UDP datagram */
	memset(l4, 0, 8);
	l4[0] = IPPROTO_UDP;
	l4[3] = 1;	/* M */
	l4_hdr(l4 + 8, IPPROTO_UDP, 200);
	frame_ip6(&f, X2, X1, SRC6, IPPROTO_FRAGMENT, l4, 8 + 208);
	PASSES(&f, "IPv6 first fragment");

	/* GRE (RFC 2784, IPv4 inside), IPIP, IPv6 in IPv4 */
	memset(l4, 0, sizeof(l4));
	put16(l4 + 2, ETH_P_IP);
	l4[4] = 0x45;
	put16(l4 + 6, 28);
	l4[12] = 64, l4[13] = IPPROTO_UDP;
	ip4(&f, IPPROTO_GRE, l4, 4 + 28);
	PASSES(&f, "GRE");
	ip4(&f, IPPROTO_IPIP, l4 + 4, 28);
	PASSES(&f, "IPIP");
	memset(l4, 0, 48);
	l4[0] = 0x60, l4[6] = IPPROTO_NONE, l4[7] = 64;
	ip4(&f, IPPROTO_IPV6, l4, 40);
	PASSES(&f, "IPv6 in IPv4");

	/* IPv6 routing headers: type 2 (mobility), type 4 (SRv6) */
	memset(l4, 0, sizeof(l4));
	l4[0] = IPPROTO_UDP, l4[1] = 2, l4[2] = 2, l4[3] = 1;
	l4[8 + 0] = 0xfd, l4[8 + 15] = 0x99;
	n = l4_hdr(l4 + 24, IPPROTO_UDP, 40);
	frame_ip6(&f, X2, X1, SRC6, IPPROTO_ROUTING, l4, 24 + n);
	PASSES(&f, "IPv6 routing header type 2");
	l4[2] = 4, l4[3] = 0, l4[4] = 0;
	frame_ip6(&f, X2, X1, SRC6, IPPROTO_ROUTING, l4, 24 + n);
	PASSES(&f, "IPv6 segment routing header");

	/* IPv4 UDP without a checksum */
	n = l4_hdr(l4, IPPROTO_UDP, 100);
	ip4(&f, IPPROTO_UDP, l4, n);
	PASSES(&f, "IPv4 UDP checksum 0");
}

static const __u8 T1[6] = { 0x52, 0x54, 0, 0, 0x1d, 1 };
static const __u8 T2[6] = { 0x52, 0x54, 0, 0, 0x1d, 2 };
static const __u8 T3[6] = { 0x52, 0x54, 0, 0, 0x1d, 3 };
static const __u8 TSRC6[16] = { 0xfd, [15] = 0x31 };
#define TSRC4 htonl(0x0a00001f)	/* 10.0.0.31 */

static __u32 kt1, kt2, kt3;

/* The frame from port from: redirected by XDP, unchanged, counted. */
static int fast_path(struct fabric *fb, __u32 from, __u32 to,
		     const struct frame *f, const char *what, const char *test)
{
	struct kvb_stats a0 = port_stats(fb, from), b0 = port_stats(fb, to);
	struct kvb_stats a1, b1;
	struct frame out;
	int ret;

	ret = run_xdp_out(fb, from, f, &out);
	a1 = port_stats(fb, from);
	b1 = port_stats(fb, to);
	if (ret != XDP_REDIRECT) {
		printf("FAIL %s: %s: XDP verdict %d (want XDP_REDIRECT)\n",
		       test, what, ret);
		return 1;
	}
	if (out.len != f->len || memcmp(out.buf, f->buf, f->len)) {
		printf("FAIL %s: %s: XDP changed the frame\n", test, what);
		return 1;
	}
	if (a1.xdp_fwd != a0.xdp_fwd + 1 || a1.rx_packets != a0.rx_packets + 1 ||
	    a1.rx_bytes != a0.rx_bytes + f->len ||
	    b1.tx_packets != b0.tx_packets + 1 ||
	    b1.tx_bytes != b0.tx_bytes + f->len) {
		printf("FAIL %s: %s: counters: sender rx %llu xdp-fwd %llu, "
		       "receiver tx %llu (want +1 each)\n", test, what,
		       a1.rx_packets - a0.rx_packets,
		       a1.xdp_fwd - a0.xdp_fwd, b1.tx_packets - b0.tx_packets);
		return 1;
	}
	return 0;
}

#define TO_TC(from, f, what)						\
	do {								\
		if (to_tc(fb, (from), (f), (what), __func__)) {		\
			unit_failed = 1;				\
			return;						\
		}							\
	} while (0)

#define TC_SWITCHES(from, f, what)					\
	do {								\
		if (tc_forwards(fb, (from), kt2, (f), (what), __func__)) { \
			unit_failed = 1;				\
			return;						\
		}							\
	} while (0)

/* IPv4 frames from kt1 to T2 with a valid header checksum. */
static void tip4(struct frame *f, __u8 proto, const void *l4, __u32 len)
{
	__u8 *ip = f->buf + ETH_HLEN;

	frame_ip4(f, T2, T1, TSRC4, proto, l4, len);
	put16(ip + 10, csum_fold16(sum16(ip, 20, 0)));
}

static void tip6(struct frame *f, __u8 proto, const void *l4, __u32 len)
{
	frame_ip6(f, T2, T1, TSRC6, proto, l4, len);
}

/* LAN hosts behind the bridge's uplink (L1, L2: MACs no port owns) */
static const __u8 L1[6] = { 0x52, 0x54, 0, 0, 0x1e, 1 };
static const __u8 L2[6] = { 0x52, 0x54, 0, 0, 0x1e, 2 };
static const __u8 LSRC6[16] = { 0xfd, [15] = 0x63 };
#define LSRC4 htonl(0x0a000063)	/* 10.0.0.99 */

/* ICMP(v6) echo request with n bytes of data, checksum complete, from a
 * guest (kt1: T1) or a LAN host (L1) to T2 */
static void icmp_echo_from(struct frame *f, int v6, __u32 n, int lan)
{
	__u8 l4[1500];
	__u32 off, len = 8 + n;

	memset(l4, 0, sizeof(l4));
	l4[0] = v6 ? 128 : 8;
	put16(l4 + 4, 77), put16(l4 + 6, 1);
	for (__u32 i = 0; i < n; i++)
		l4[8 + i] = (__u8)(i * 7);
	if (v6) {
		frame_ip6(f, T2, lan ? L1 : T1, lan ? LSRC6 : TSRC6,
			  IPPROTO_ICMPV6, l4, len);
		off = ETH_HLEN + 40;
		put16(f->buf + off + 2, csum_fold16(sum16(f->buf + off, len,
			pseudo(f, IPPROTO_ICMPV6, len))));
	} else {
		__u8 *ip = f->buf + ETH_HLEN;

		frame_ip4(f, T2, lan ? L1 : T1, lan ? LSRC4 : TSRC4,
			  IPPROTO_ICMP, l4, len);
		put16(ip + 10, csum_fold16(sum16(ip, 20, 0)));
		off = ETH_HLEN + 20;
		put16(f->buf + off + 2,
		      csum_fold16(sum16(f->buf + off, len, 0)));
	}
}

/*
 * A guest's frames take the fast path in native XDP only (xdpfwd.h): tun
 * runs generic XDP on GSO frames, whose GSO fields a redirect would carry
 * past tc's check of them. BPF_PROG_RUN describes its frame as generic
 * XDP does (kern.h: xdp_native), so every frame the native fast path
 * would take (complete TCP and UDP at lengths that exercise each step of
 * its sum, ICMP echo, ARP), from a pinned port (kt1) and from one without
 * spoofcheck (kt3), is passed to tc untouched and uncounted, and tc
 * switches it to kt2. The fast path itself, shared with the uplink's, is
 * t_xdp_uplink_fast_path's; a guest's native XDP, written as QEMU
 * writes, is tests/netns/vnet.sh's (mode native).
 */
static void t_xdp_guest_generic_goes_to_tc(struct fabric *fb)
{
	static const __u32 lens[] = { 0, 1, 63, 64, 511, 512, 1401 };
	static const __u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct frame f;
	__u8 l4[1500];
	char what[96];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (int j = 0; j < 2; j++) {
			__u8 p = protos[j];
			__u32 n = l4_hdr(l4, p, lens[i]);

			for (int v6 = 0; v6 < 2; v6++) {
				if (v6)
					tip6(&f, p, l4, n);
				else
					tip4(&f, p, l4, n);
				make_complete(&f, p);
				snprintf(what, sizeof(what), "IPv%d %s, %u bytes, "
					 "complete, generic XDP", v6 ? 6 : 4,
					 p == IPPROTO_TCP ? "TCP" : "UDP",
					 lens[i]);
				TC_SWITCHES(kt1, &f, what);
			}
		}
		icmp_echo_from(&f, 0, lens[i], 0);
		TC_SWITCHES(kt1, &f, "ICMP echo, generic XDP");
		icmp_echo_from(&f, 1, lens[i], 0);
		TC_SWITCHES(kt1, &f, "ICMPv6 echo, generic XDP");
	}
	frame_raw(&f, T2, T1, ETH_P_ARP, 28);
	{
		__u8 *a = f.buf + ETH_HLEN;
		__be32 sip = TSRC4, tip = htonl(0x0a000020);

		put16(a, 1), put16(a + 2, ETH_P_IP);
		a[4] = 6, a[5] = 4, put16(a + 6, 2);
		memcpy(a + 8, T1, 6), memcpy(a + 14, &sip, 4);
		memcpy(a + 18, T2, 6), memcpy(a + 24, &tip, 4);
	}
	TC_SWITCHES(kt1, &f, "ARP reply, generic XDP");
	{
		__u32 n = l4_hdr(l4, IPPROTO_TCP, 50);

		frame_ip4(&f, T2, T3, htonl(0x0a000021), IPPROTO_TCP, l4, n);
		put16(f.buf + ETH_HLEN + 10,
		      csum_fold16(sum16(f.buf + ETH_HLEN, 20, 0)));
		make_complete(&f, IPPROTO_TCP);
		TC_SWITCHES(kt3, &f, "TCP from kt3 (no spoofcheck), generic XDP");
	}
}

/*
 * The fast path from a bridge's uplink (unit_uplink, network a): a LAN
 * host (L1, L2: MACs no port owns) to the tap guest kt2.
 */
static void uip4(struct frame *f, const __u8 *src, __u8 proto, const void *l4,
		 __u32 len)
{
	__u8 *ip = f->buf + ETH_HLEN;

	frame_ip4(f, T2, src, LSRC4, proto, l4, len);
	put16(ip + 10, csum_fold16(sum16(ip, 20, 0)));
}

#define UFAST(src, f, what)						\
	do {								\
		if (fast_path(fb, unit_uplink, kt2, (f), (what), __func__)) { \
			unit_failed = 1;				\
			return;						\
		}							\
	} while (0)

/*
 * Complete frames from the LAN to a guest are redirected unchanged and
 * counted as tc counts them (rx and xdp-fwd on the uplink, tx on the
 * guest); a LAN host XDP alone has seen is learnt on the uplink; an
 * isolated guest still hears the uplink (tc switches to it as well).
 */
static void t_xdp_uplink_fast_path(struct fabric *fb)
{
	static const __u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	static const __u32 lens[] = { 0, 1, 63, 511, 1000, 1401 };
	struct kvb_fdb_entry e;
	struct kvb_port p;
	struct frame f;
	__u8 l4[1500];
	char what[96];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (int j = 0; j < 2; j++) {
			__u8 pr = protos[j];
			__u32 n = l4_hdr(l4, pr, lens[i]);

			for (int v6 = 0; v6 < 2; v6++) {
				if (v6)
					frame_ip6(&f, T2, L1, LSRC6, pr, l4, n);
				else
					uip4(&f, L1, pr, l4, n);
				make_complete(&f, pr);
				snprintf(what, sizeof(what), "from the LAN: IPv%d "
					 "%s, %u bytes, complete", v6 ? 6 : 4,
					 pr == IPPROTO_TCP ? "TCP" : "UDP",
					 lens[i]);
				UFAST(L1, &f, what);
			}
		}
	}
	frame_raw(&f, T2, L1, ETH_P_ARP, 28);
	{
		__u8 *a = f.buf + ETH_HLEN;
		__be32 sip = LSRC4, tip = htonl(0x0a000020);

		put16(a, 1), put16(a + 2, ETH_P_IP);
		a[4] = 6, a[5] = 4, put16(a + 6, 2);
		memcpy(a + 8, L1, 6), memcpy(a + 14, &sip, 4);
		memcpy(a + 18, T2, 6), memcpy(a + 24, &tip, 4);
	}
	UFAST(L1, &f, "from the LAN: ARP reply");
	for (__u32 n = 0; n < 1402; n = n * 2 + 63) {
		icmp_echo_from(&f, 0, n, 1);
		UFAST(L1, &f, "from the LAN: ICMP echo");
		icmp_echo_from(&f, 1, n, 1);
		UFAST(L1, &f, "from the LAN: ICMPv6 echo");
	}

	CHECK(!fdb_entry(fb, 1, L2, &e), "L2 known before it sent");
	uip4(&f, L2, IPPROTO_UDP, l4, l4_hdr(l4, IPPROTO_UDP, 40));
	make_complete(&f, IPPROTO_UDP);
	UFAST(L2, &f, "from the LAN: UDP from a new host");
	CHECK(fdb_entry(fb, 1, L2, &e) && e.ifindex == unit_uplink &&
	      e.seen_ns, "L2 not learnt on the uplink by the fast path");

	CHECK(!bpf_map_lookup_elem(fb->port_fd, &kt2, &p), "port kt2");
	p.flags |= KVB_PORT_F_ISOLATED;
	bpf_map_update_elem(fb->port_fd, &kt2, &p, BPF_EXIST);
	UFAST(L1, &f, "from the LAN to an isolated guest");
	p.flags &= ~KVB_PORT_F_ISOLATED;
	bpf_map_update_elem(fb->port_fd, &kt2, &p, BPF_EXIST);
}

/*
 * What the uplink's XDP leaves to tc (XDP_PASS, untouched, not counted
 * as forwarded): never XDP_DROP, the uplink is the host's NIC.
 */
static void t_xdp_uplink_pass_to_tc_cases(struct fabric *fb)
{
	struct kvb_acl_port ap = { .set = 1 };
	struct frame f;
	__u8 l4[1600], *ip;
	__u32 n;
	const __u32 up = unit_uplink;

	for (int v6 = 0; v6 < 2; v6++) {
		for (int j = 0; j < 2; j++) {
			__u8 pr = j ? IPPROTO_UDP : IPPROTO_TCP;

			n = l4_hdr(l4, pr, 300);
			if (v6)
				frame_ip6(&f, T2, L1, LSRC6, pr, l4, n);
			else
				uip4(&f, L1, pr, l4, n);
			make_partial(&f, pr);
			TO_TC(up, &f, pr == IPPROTO_TCP ?
			      "from the LAN: TCP, partial checksum" :
			      "from the LAN: UDP, partial checksum");
			make_complete(&f, pr);
			f.buf[f.len - 1] ^= 0x10;
			TO_TC(up, &f, "from the LAN: wrong checksum");
		}
	}
	n = l4_hdr(l4, IPPROTO_UDP, 100);
	uip4(&f, L1, IPPROTO_UDP, l4, n);
	TO_TC(up, &f, "from the LAN: UDP checksum 0");
	/* DHCP: a server's reply (snooping binds the lease) */
	n = l4_hdr(l4, IPPROTO_UDP, 240);
	put16(l4, 67), put16(l4 + 2, 68);
	l4[8] = 2;
	uip4(&f, L1, IPPROTO_UDP, l4, n);
	make_complete(&f, IPPROTO_UDP);
	TO_TC(up, &f, "from the LAN: DHCP server reply");
	/* a unicast router advertisement (SAVI learns prefixes) */
	memset(l4, 0, 16);
	l4[0] = 134, l4[4] = 64;
	put16(l4 + 6, 1800);
	frame_ip6(&f, T2, L1, LSRC6, IPPROTO_ICMPV6, l4, 16);
	put16(f.buf + ETH_HLEN + 40 + 2, csum_fold16(sum16(f.buf + ETH_HLEN + 40,
		16, pseudo(&f, IPPROTO_ICMPV6, 16))));
	TO_TC(up, &f, "from the LAN: router advertisement");
	/* fragments, SCTP, another ethertype, VLAN-tagged */
	n = l4_hdr(l4, IPPROTO_UDP, 200);
	uip4(&f, L1, IPPROTO_UDP, l4, n);
	make_complete(&f, IPPROTO_UDP);
	ip = f.buf + ETH_HLEN;
	put16(ip + 6, 0x2000);
	put16(ip + 10, 0);
	put16(ip + 10, csum_fold16(sum16(ip, 20, 0)));
	TO_TC(up, &f, "from the LAN: IPv4 first fragment");
	memset(l4, 0, 32);
	put16(l4, 5000), put16(l4 + 2, 5001);
	uip4(&f, L1, IPPROTO_SCTP, l4, 32);
	TO_TC(up, &f, "from the LAN: SCTP");
	frame_raw(&f, T2, L1, 0x88b5, 46);
	TO_TC(up, &f, "from the LAN: ethertype 0x88b5");
	n = l4_hdr(l4, IPPROTO_UDP, 100);
	uip4(&f, L1, IPPROTO_UDP, l4, n);
	make_complete(&f, IPPROTO_UDP);
	{
		struct frame t;

		memcpy(t.buf, f.buf, 12);
		put16(t.buf + 12, ETH_P_8021Q);
		put16(t.buf + 14, 42);
		memcpy(t.buf + 16, f.buf + 12, f.len - 12);
		t.len = f.len + 4;
		TO_TC(up, &t, "from the LAN: VLAN-tagged (802.1Q)");
	}

	/* destinations: complete TCP */
	n = l4_hdr(l4, IPPROTO_TCP, 100);
	uip4(&f, L1, IPPROTO_TCP, l4, n);
	make_complete(&f, IPPROTO_TCP);
	memcpy(f.buf, (__u8[]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 6);
	TO_TC(up, &f, "from the LAN: broadcast");
	memcpy(f.buf, (__u8[]){ 0x01, 0, 0x5e, 0, 0, 1 }, 6);
	TO_TC(up, &f, "from the LAN: multicast");
	memcpy(f.buf, (__u8[]){ 0x52, 0x54, 0, 0, 0x1d, 0x77 }, 6);
	TO_TC(up, &f, "from the LAN: unknown unicast");
	memcpy(f.buf, unit_upmac, 6);
	TO_TC(up, &f, "from the LAN: to the host (the uplink's MAC)");
	memcpy(f.buf, L2, 6);	/* learnt on the uplink */
	TO_TC(up, &f, "from the LAN: to another LAN host");
	memcpy(f.buf, X2, 6);
	TO_TC(up, &f, "from the LAN: to a veth guest (not a target)");
	memcpy(f.buf, T2, 6);
	CHECK(!acl_entry_put(fb, kt2, &ap), "aclp");
	TO_TC(up, &f, "from the LAN: to a guest with ACLs");
	acl_entry_put(fb, kt2, NULL);
	/* over the network's MTU; over the receiver's */
	n = l4_hdr(l4, IPPROTO_TCP, 1500 - 40 + 1);
	uip4(&f, L1, IPPROTO_TCP, l4, n);
	make_complete(&f, IPPROTO_TCP);
	TO_TC(up, &f, "from the LAN: over the network's MTU");
	n = l4_hdr(l4, IPPROTO_TCP, 1200);
	uip4(&f, L1, IPPROTO_TCP, l4, n);
	make_complete(&f, IPPROTO_TCP);
	CHECK(!system("ip link set kt2 mtu 1000"), "kt2 mtu 1000");
	TO_TC(up, &f, "from the LAN: over the guest's MTU");
	CHECK(!system("ip link set kt2 mtu 1500"), "kt2 mtu 1500");
	UFAST(L1, &f, "from the LAN: the same frame at the guest's MTU");
}

/*
 * kvb_xdp_up_test: the device-bound program's entries (an uplink's, a WAN
 * device's) without the driver's VLAN hint (bpf/tap_xdp.bpf.c), loaded
 * over the fabric's maps as the loader loads the uplink's. Its fd, or -1.
 */
int bound_test_prog(struct fabric *fb)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = fb->dir);
	struct kvb_tap_xdp *xs = kvb_tap_xdp__open_opts(&oo);
	int fd = -1;

	if (!xs)
		return -1;
	bpf_program__set_autoload(xs->progs.kvb_xdp, false);
	bpf_program__set_autoload(xs->progs.kvb_xdp_bound, false);
	/* the kernel's offers, as the loader sets them (kfeat.h) */
	xs->rodata->kvb_kern_ctx = kernel_has_kern_ctx();
	xs->rodata->kvb_xdp_meta = kernel_has_xdp_meta();
	if (!bpf_map__reuse_fd(xs->maps.kvb_xdptx, fb->xdptx_fd) &&
	    !bpf_map__reuse_fd(xs->maps.kvb_portdev, fb->portdev_fd) &&
	    !kvb_tap_xdp__load(xs))
		fd = dup(bpf_program__fd(xs->progs.kvb_xdp_up_test));
	kvb_tap_xdp__destroy(xs);
	return fd;
}

/*
 * The guests' program, which cannot see a VLAN tag outside the frame,
 * forwards nothing from an uplink (kvb_xdp_bound does, bound to it).
 */
static void t_xdp_guest_program_passes_uplinks(struct fabric *fb)
{
	struct frame f;
	__u8 l4[200];
	int up = xdp_prog;

	uip4(&f, L1, IPPROTO_UDP, l4, l4_hdr(l4, IPPROTO_UDP, 100));
	make_complete(&f, IPPROTO_UDP);
	UFAST(L1, &f, "from the LAN, the uplink's program");
	xdp_prog = -1;
	TO_TC(unit_uplink, &f, "from the LAN, the guests' program");
	xdp_prog = up;
}

/*
 * kvb_xdptx holds the tap guest ports, never a veth, and a port leaves it
 * at detach (else XDP would go on redirecting into a device the fabric
 * no longer judges).
 */
static void t_xdp_targets_follow_ports(struct fabric *fb)
{
	const __u32 taps[] = { kt1, kt2, kt3 }, veths[] = { kx1, kx2 };
	struct kvb_port p;
	__u32 v;

	for (int i = 0; i < 3; i++)
		CHECK(!bpf_map_lookup_elem(fb->xdptx_fd, &taps[i], &v) &&
		      v == taps[i], "tap %u not a redirect target", taps[i]);
	for (int i = 0; i < 2; i++)
		CHECK(bpf_map_lookup_elem(fb->xdptx_fd, &veths[i], &v),
		      "veth %u is a redirect target", veths[i]);
	CHECK(!port_get(fb, kt3, &p) && !port_detach(fb, "unit", &p),
	      "detach kt3");
	CHECK(bpf_map_lookup_elem(fb->xdptx_fd, &kt3, &v),
	      "kt3 still a redirect target after detach");
}

int xdp_csum_tests(struct fabric *fb)
{
	struct port_opts o1 = { .xdp = true, .spoofcheck = true, .mac = X1,
				.naddrs = 2 };
	struct port_opts o2 = { .xdp = true, .spoofcheck = true, .mac = X2,
				.naddrs = 0 };
	int nfail = 0;

	if (parse_addr("10.0.0.21", &o1.addrs[0]) ||
	    parse_addr("fd00::21", &o1.addrs[1]) || add_veth("kx1", &kx1) ||
	    add_veth("kx2", &kx2) ||
	    port_attach(fb, "unit", "kx1", 1, KVB_PORT_GUEST, &o1) ||
	    port_attach(fb, "unit", "kx2", 1, KVB_PORT_GUEST, &o2)) {
		printf("FAIL xdp checksum setup: cannot attach kx1, kx2\n");
		return 1;
	}
	{
		struct port_opts t1 = { .xdp = true, .spoofcheck = true,
					.mac = T1, .naddrs = 2 };
		struct port_opts t2 = { .xdp = true, .spoofcheck = true,
					.mac = T2, .naddrs = 0 };
		struct port_opts t3 = { .xdp = true, .naddrs = 0 };

		if (parse_addr("10.0.0.31", &t1.addrs[0]) ||
		    parse_addr("fd00::31", &t1.addrs[1]) ||
		    add_tap("kt1", &kt1) || add_tap("kt2", &kt2) ||
		    add_tap("kt3", &kt3) ||
		    port_attach(fb, "unit", "kt1", 1, KVB_PORT_GUEST, &t1) ||
		    port_attach(fb, "unit", "kt2", 1, KVB_PORT_GUEST, &t2) ||
		    port_attach(fb, "unit", "kt3", 1, KVB_PORT_GUEST, &t3)) {
			printf("FAIL xdp fast path setup: cannot attach taps\n");
			return nfail + 1;
		}
	}
	RUN(t_xdp_partial_checksums_go_to_tc);
	RUN(t_xdp_tunnel_with_inner_offload_goes_to_tc);
	RUN(t_xdp_pass_to_tc_cases);
	RUN(t_xdp_guest_generic_goes_to_tc);
	/* the uplink's own program, bound to it, loads (xdp_bound_prog);
	 * BPF_PROG_RUN refuses a bound program: its stand-in runs */
	xdp_prog = xdp_bound_prog(fb->dir, unit_uplink);
	if (xdp_prog < 0) {
		printf("FAIL xdp uplink setup: cannot load its program: %s\n",
		       strerror(-xdp_prog));
		nfail++;
	} else {
		close(xdp_prog);
		xdp_prog = bound_test_prog(fb);
	}
	if (xdp_prog < 0) {
		printf("FAIL xdp uplink setup: cannot load kvb_xdp_up_test\n");
		nfail++;
	} else {
		RUN(t_xdp_uplink_fast_path);
		RUN(t_xdp_uplink_pass_to_tc_cases);
		RUN(t_xdp_guest_program_passes_uplinks);
		close(xdp_prog);
		xdp_prog = -1;
	}
	RUN(t_xdp_targets_follow_ports);	/* last: detaches kt3 */
	return nfail;
}
