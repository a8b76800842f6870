// SPDX-License-Identifier: MIT
/*
 * The checksum rule of XDP on a guest port (DESIGN.md, contract 2), by
 * BPF_PROG_RUN. XDP cannot see the virtio-net header, so it may forward a
 * frame from a guest only when the frame is bit-identical to a complete
 * one; what it cannot vouch for goes to tc with XDP_PASS, untouched. Until
 * an XDP fast path exists every frame it admits is passed; these tests pin
 * that down for each frame kind the rule names, so that a fast path can
 * only be added by changing them on purpose:
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
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unit.h"

static const __u8 X1[6] = { 0x52, 0x54, 0, 0, 0x1c, 1 };
static const __u8 X2[6] = { 0x52, 0x54, 0, 0, 0x1c, 2 };
static const __u8 SRC6[16] = { 0xfd, [15] = 0x21 };
#define SRC4 htonl(0x0a000015)	/* 10.0.0.21 */

static __u32 kx1, kx2;

/* XDP on the frame; its verdict, and the frame as XDP left it in *out. */
static int run_xdp_out(struct fabric *fb, __u32 ifindex,
		       const struct frame *in, struct frame *out)
{
	struct xdp_md ctx = { .data_end = in->len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->buf,
		    .data_size_in = in->len, .data_out = out->buf,
		    .data_size_out = sizeof(out->buf), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(fb->prog_xdp, &o))
		return -1;
	out->len = o.data_size_out;
	return (int)o.retval;
}

/*
 * The frame passes XDP untouched, and tc forwards it to kx2 without
 * changing a byte (a partial checksum stays the pseudo-header sum, which
 * the skb's CHECKSUM_PARTIAL state makes right on the way out).
 */
static int passes_to_tc(struct fabric *fb, const struct frame *f,
			const char *what, const char *test)
{
	struct frame out;
	__u64 tx0 = port_stats(fb, kx2).tx_packets;
	int ret;

	ret = run_xdp_out(fb, kx1, f, &out);
	if (ret != XDP_PASS || out.len != f->len ||
	    memcmp(out.buf, f->buf, f->len)) {
		printf("FAIL %s: %s: XDP verdict %d (want XDP_PASS), frame %s\n",
		       test, what, ret,
		       out.len == f->len && !memcmp(out.buf, f->buf, f->len) ?
		       "unchanged" : "changed");
		return 1;
	}
	ret = run_tc_out(fb, kx1, f, &out);
	if (ret != TC_ACT_REDIRECT || port_stats(fb, kx2).tx_packets != tx0 + 1) {
		printf("FAIL %s: %s: tc verdict %d (want TC_ACT_REDIRECT to kx2)\n",
		       test, what, ret);
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
		if (passes_to_tc(fb, (f), (what), __func__)) {		\
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
	RUN(t_xdp_partial_checksums_go_to_tc);
	RUN(t_xdp_tunnel_with_inner_offload_goes_to_tc);
	RUN(t_xdp_pass_to_tc_cases);
	return nfail;
}
