// SPDX-License-Identifier: MIT
/*
 * NAT by BPF_PROG_RUN: translation both ways with every checksum verified
 * from scratch on the frame that comes out (TCP, UDP, UDP without
 * checksum, ICMP echo), the gateway's ARP and ping answers, untracked WAN
 * traffic left to the host, and a full table refusing only new flows.
 *
 *   network "nat" (id 3): subnet 192.168.90.0/24, gateway .1 on the
 *   fabric-made host interface; guest port kn1 (mac N1, 192.168.90.11);
 *   WAN device kw 10.200.0.1/24, the remote 10.200.0.2 a static neighbour.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unit.h"

#define NET_NAT 3
static const __u8 N1[6] = { 0x52, 0x54, 0, 0, 0x5a, 1 };
static const __u8 N2[6] = { 0x52, 0x54, 0, 0, 0x5a, 2 };
static __u32 kn1, kw;
static struct kvb_net natnet;
static struct fabric *F;

static void guest_frame(struct frame *f, __u8 proto, __u16 sport,
			__u16 dport, __u32 payload)
{
	__u8 l4[512] = { 0 };	/* payload up to 480 */
	__u32 l4len;

	if (proto == IPPROTO_TCP) {
		l4len = 20;
		l4[12] = 5 << 4;
		l4[13] = 0x02;
	} else if (proto == IPPROTO_UDP) {
		l4len = 8 + payload;
		l4[4] = (__u8)(l4len >> 8), l4[5] = (__u8)l4len;
	} else {
		l4len = 8 + payload;
		/* an echo request, or the query dport names; id in sport */
		l4[0] = dport ? (__u8)dport : 8;
	}
	if (proto == IPPROTO_ICMP) {
		l4[4] = (__u8)(sport >> 8), l4[5] = (__u8)sport;
	} else {
		l4[0] = (__u8)(sport >> 8), l4[1] = (__u8)sport;
		l4[2] = (__u8)(dport >> 8), l4[3] = (__u8)dport;
	}
	frame_ip4(f, natnet.uplink_mac, N1, inet_addr("192.168.90.11"), proto,
		  l4, l4len);
	f->buf[14 + 16] = 10, f->buf[14 + 17] = 200, f->buf[14 + 18] = 0,
	f->buf[14 + 19] = 2;	/* to 10.200.0.2 */
	frame_csum4(f);
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* out: guest -> WAN, translated; then the reply comes back. */
static void roundtrip(__u8 proto, __u16 sport, __u16 dport, int zero_udp)
{
	struct frame in, out, back, res;
	__u32 poff = proto == IPPROTO_ICMP ? 4 : 0;
	__u16 nport;
	int ret;

	guest_frame(&in, proto, sport, dport, 16);
	if (zero_udp)
		in.buf[14 + 20 + 6] = in.buf[14 + 20 + 7] = 0;
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "proto %u: verdict %d", proto, ret);
	CHECK(!memcmp(out.buf + 14 + 12, &natnet.nat_ip, 4),
	      "proto %u: source not translated", proto);
	CHECK(out.buf[14 + 8] == 63, "TTL %u, want 63", out.buf[14 + 8]);
	CHECK(!ip_csum_check(out.buf), "proto %u: bad IP checksum", proto);
	nport = get16(out.buf + 34 + poff);
	CHECK(nport >= KVB_NAT_PORT_FIRST &&
	      (nport < KVB_HOST_PORT_LO || nport > KVB_HOST_PORT_HI),
	      "translated port %u out of range", nport);
	if (zero_udp)
		CHECK(get16(out.buf + 34 + 6) == 0, "UDP checksum 0 changed");
	else
		CHECK(!l4_csum_check(out.buf), "proto %u: bad L4 checksum",
		      proto);

	/* the reply, as the remote sends it */
	back = out;
	memcpy(back.buf + 14 + 12, out.buf + 14 + 16, 4);
	memcpy(back.buf + 14 + 16, out.buf + 14 + 12, 4);
	back.buf[14 + 8] = 64;
	if (proto == IPPROTO_ICMP) {
		/* the query's reply (echo's 0, the others' type + 1),
		 * same id */
		back.buf[34] = dport ? (__u8)(dport + 1) : 0;
	} else {
		memcpy(back.buf + 34, out.buf + 36, 2);
		memcpy(back.buf + 36, out.buf + 34, 2);
	}
	if (!zero_udp)
		frame_csum4(&back);
	else {
		back.buf[24] = back.buf[25] = 0;
		__u16 c = ip_csum_check(back.buf);

		back.buf[24] = (__u8)(c >> 8), back.buf[25] = (__u8)c;
	}
	ret = run_tc_out(F, kw, &back, &res);
	CHECK(ret == TC_ACT_REDIRECT, "proto %u reply: verdict %d", proto, ret);
	CHECK(res.buf[14 + 16] == 192 && res.buf[14 + 19] == 11,
	      "reply not sent to the guest's address");
	CHECK(get16(res.buf + 34 + (proto == IPPROTO_ICMP ? 4 : 2)) == sport,
	      "reply port %u, want %u",
	      get16(res.buf + 34 + (proto == IPPROTO_ICMP ? 4 : 2)), sport);
	CHECK(!memcmp(res.buf, N1, 6), "reply not to the guest's MAC");
	CHECK(!ip_csum_check(res.buf), "reply: bad IP checksum");
	if (!zero_udp)
		CHECK(!l4_csum_check(res.buf), "reply: bad L4 checksum");
}

static void t_nat_tcp(struct fabric *fb __attribute__((unused)))
{
	roundtrip(IPPROTO_TCP, 40000, 80, 0);
}

static void t_nat_udp(struct fabric *fb __attribute__((unused)))
{
	roundtrip(IPPROTO_UDP, 40001, 53, 0);
}

static void t_nat_udp_without_checksum(struct fabric *fb __attribute__((unused)))
{
	roundtrip(IPPROTO_UDP, 40002, 53, 1);
}

static void t_nat_icmp_echo(struct fabric *fb __attribute__((unused)))
{
	roundtrip(IPPROTO_ICMP, 0x1234, 0, 0);
}

/*
 * The other ICMP queries conntrack tracks by identifier (RFC 5508):
 * timestamp (nmap -PP, clockdiff), information, address mask. Before,
 * the guest's were refused as nat-protocol.
 */
static void t_nat_icmp_queries(struct fabric *fb __attribute__((unused)))
{
	roundtrip(IPPROTO_ICMP, 0x1235, 13, 0);
	roundtrip(IPPROTO_ICMP, 0x1236, 15, 0);
	roundtrip(IPPROTO_ICMP, 0x1237, 17, 0);
}

/*
 * A TCP super-frame (GSO, or GRO on the guest's port) longer than the MTU
 * is translated, not refused: its length is not a packet's.
 */
static void t_nat_gso_super_frame(struct fabric *fb)
{
	static __u8 l4[1920];
	struct frame f;
	int ret;

	memset(l4, 0, sizeof(l4));
	l4[0] = 0x9c, l4[1] = 0x48;	/* 40008 -> 80 */
	l4[3] = 80;
	l4[12] = 5 << 4;
	l4[13] = 0x10;	/* ACK */
	frame_ip4(&f, natnet.uplink_mac, N1, inet_addr("192.168.90.11"),
		  IPPROTO_TCP, l4, sizeof(l4));
	f.buf[14 + 16] = 10, f.buf[14 + 17] = 200, f.buf[14 + 18] = 0;
	f.buf[14 + 19] = 2;
	frame_csum4(&f);
	ret = run_tc_gso(fb, kn1, &f, 1000);
	CHECK(ret == TC_ACT_REDIRECT, "1940-byte super-frame (segments of "
	      "1000): verdict %d (nat-no-route: %llu)", ret,
	      (unsigned long long)port_stats(fb, kn1).drop[KVB_DROP_NAT_NO_ROUTE]);
}

static void t_nat_same_flow_same_port(struct fabric *fb __attribute__((unused)))
{
	struct frame in, a, b;

	guest_frame(&in, IPPROTO_UDP, 40003, 53, 16);
	CHECK(run_tc_out(F, kn1, &in, &a) == TC_ACT_REDIRECT, "first");
	CHECK(run_tc_out(F, kn1, &in, &b) == TC_ACT_REDIRECT, "second");
	CHECK(get16(a.buf + 34) == get16(b.buf + 34),
	      "one flow got two ports (%u, %u)", get16(a.buf + 34),
	      get16(b.buf + 34));
}

static void t_nat_gateway_arp_and_ping(struct fabric *fb __attribute__((unused)))
{
	struct frame in, out;
	__u8 *a = in.buf + 14;
	__be32 gw = natnet.gw_ip, me = inet_addr("192.168.90.11");
	/* id 0x4242, seq 7, some payload: an all-zero message would be the
	 * one case where incremental updates give 0x0000 for 0xffff */
	__u8 l4[16] = { 8, 0, 0, 0, 0x42, 0x42, 0, 7, 'k', 'v', 'b' };
	int ret;

	frame_raw(&in, (const __u8[]){ 255, 255, 255, 255, 255, 255 }, N1,
		  ETH_P_ARP, 28);
	a[1] = 1, a[2] = 8, a[4] = 6, a[5] = 4, a[7] = 1;
	memcpy(a + 8, N1, 6);
	memcpy(a + 14, &me, 4);
	memcpy(a + 24, &gw, 4);
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "ARP verdict %d", ret);
	CHECK(out.buf[14 + 7] == 2 && !memcmp(out.buf + 14 + 8,
					      natnet.uplink_mac, 6) &&
	      !memcmp(out.buf + 14 + 14, &gw, 4) && !memcmp(out.buf, N1, 6),
	      "not an ARP reply from the gateway");
	frame_ip4(&in, natnet.uplink_mac, N1, me, IPPROTO_ICMP, l4, 16);
	memcpy(in.buf + 14 + 16, &gw, 4);
	in.buf[14 + 8] = 1;	/* ping -t 1 */
	frame_csum4(&in);
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT && out.buf[34] == 0, "no echo reply");
	CHECK(!memcmp(out.buf + 14 + 12, &gw, 4) && !memcmp(out.buf + 14 + 16, &me, 4),
	      "echo reply addresses");
	/* a TTL of its own, not the request's 1 */
	CHECK(out.buf[14 + 8] == 64, "echo reply TTL %u, want 64",
	      out.buf[14 + 8]);
	CHECK(!ip_csum_check(out.buf) && !l4_csum_check(out.buf),
	      "echo reply checksums: ip %04x icmp %04x (frame csum %02x%02x)",
	      ip_csum_check(out.buf), l4_csum_check(out.buf), out.buf[36],
	      out.buf[37]);
}

static void t_nat_untracked_wan_traffic_is_the_hosts(struct fabric *fb __attribute__((unused)))
{
	struct frame in, out;
	__u8 l4[8] = { 0x04, 0x00, 0x88, 0x88, 0, 8, 0, 0 };

	frame_ip4(&in, N1, N1, inet_addr("10.200.0.2"), IPPROTO_UDP, l4, 8);
	memcpy(in.buf + 14 + 16, &natnet.nat_ip, 4);
	frame_csum4(&in);
	CHECK(run_tc_out(F, kw, &in, &out) == TC_ACT_UNSPEC, "untracked reply not passed");
	CHECK(!memcmp(in.buf, out.buf, in.len), "untracked frame modified");
}

/*
 * What the host forwards from outside into the nat network's host
 * interface (a WAN host routing the subnet via the host, forwarding on)
 * is refused at that interface's egress and counted on the gateway port;
 * the host's own packets and the gateway's pass.
 */
static void t_nat_unsolicited_from_host(struct fabric *fb)
{
	__u8 l4[20] = { 0x30, 0x39, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02 };
	struct frame in;
	__u64 d0 = port_stats(fb, natnet.uplink).drop[KVB_DROP_NAT_UNSOLICITED];
	__be32 guest = inet_addr("192.168.90.11");
	int ret;

	/* a SYN from the WAN host to a guest */
	frame_ip4(&in, N1, N1, inet_addr("10.200.0.2"), IPPROTO_TCP, l4, 20);
	memcpy(in.buf + 14 + 16, &guest, 4);
	frame_csum4(&in);
	ret = run_tc_egress_from(fb, natnet.gw_host, kw, &in);
	CHECK(ret == TC_ACT_SHOT, "forwarded SYN: verdict %d, want shot", ret);
	CHECK(port_stats(fb, natnet.uplink).drop[KVB_DROP_NAT_UNSOLICITED] ==
	      d0 + 1, "nat-unsolicited not counted on the gateway port");
	/* the same packet made by the host itself */
	ret = run_tc_egress_from(fb, natnet.gw_host, 0, &in);
	CHECK(ret == TC_ACT_OK, "the host's own packet: verdict %d", ret);
	/* from the gateway's address, forwarded: in through the network's
	 * own host interface (a guest's, routed back), it passes; in
	 * through the WAN device, the same source is a WAN host's forgery */
	frame_ip4(&in, N1, N1, natnet.gw_ip, IPPROTO_TCP, l4, 20);
	memcpy(in.buf + 14 + 16, &guest, 4);
	frame_csum4(&in);
	ret = run_tc_egress_from(fb, natnet.gw_host, natnet.gw_host, &in);
	CHECK(ret == TC_ACT_OK, "from the network itself: verdict %d", ret);
	ret = run_tc_egress_from(fb, natnet.gw_host, kw, &in);
	CHECK(ret == TC_ACT_SHOT,
	      "the network's source, in from the WAN: verdict %d, want shot",
	      ret);
	CHECK(port_stats(fb, natnet.uplink).drop[KVB_DROP_NAT_UNSOLICITED] ==
	      d0 + 2, "the forged source not counted nat-unsolicited");
}

/* From the WAN's 10.200.0.2 to the NAT address: port unreachable quoting
 * the first 28 bytes of out, a guest's packet as the fabric sent it out */
static void wan_unreach_quoting(struct frame *err, const struct frame *out)
{
	__u8 body[8 + 28] = { 3, 3 };

	memcpy(body + 8, out->buf + 14, 28);
	frame_ip4(err, N1, N1, inet_addr("10.200.0.2"), IPPROTO_ICMP, body,
		  sizeof(body));
	memcpy(err->buf + 14 + 16, &natnet.nat_ip, 4);
	frame_csum4(err);
}

/* An ICMP error about a translated flow reaches the guest, quote undone. */
static void t_nat_icmp_error_translated(struct fabric *fb __attribute__((unused)))
{
	struct frame in, out, err, res;
	int ret;

	guest_frame(&in, IPPROTO_UDP, 40020, 53, 16);
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "flow not created");
	/* port unreachable from the remote, quoting the packet it got */
	wan_unreach_quoting(&err, &out);
	ret = run_tc_out(F, kw, &err, &res);
	CHECK(ret == TC_ACT_REDIRECT, "ICMP error verdict %d", ret);
	CHECK(res.buf[14 + 16] == 192 && res.buf[14 + 19] == 11,
	      "outer destination is not the guest");
	CHECK(!memcmp(res.buf + 42 + 12, in.buf + 14 + 12, 4),
	      "quoted source is not the guest's");
	CHECK(get16(res.buf + 62) == 40020, "quoted port %u, want 40020",
	      get16(res.buf + 62));
	CHECK(!memcmp(res.buf + 62 + 6, in.buf + 34 + 6, 2),
	      "quoted UDP checksum is not the guest's original");
	CHECK(!ip_csum_check(res.buf), "outer IP checksum");
	CHECK(!l4_csum_check(res.buf), "ICMP checksum");
	CHECK(!csum_fold16(sum16(res.buf + 42, 20, 0)), "quoted IP checksum");
	CHECK(!memcmp(res.buf, N1, 6), "not to the guest's MAC");
}

/*
 * Time exceeded from the WAN's 10.200.0.2 to the NAT address quoting the
 * whole of out's IP packet (as Linux quotes: up to 576 bytes), so that
 * the quoted L4 checksum is there to be translated back.
 */
static void wan_time_exceeded_quoting(struct frame *err, const struct frame *out)
{
	__u8 body[8 + 60] = { 11, 0 };
	__u32 qlen = out->len - 14 < 60 ? out->len - 14 : 60;

	memcpy(body + 8, out->buf + 14, qlen);
	frame_ip4(err, N1, N1, inet_addr("10.200.0.2"), IPPROTO_ICMP, body,
		  8 + qlen);
	memcpy(err->buf + 14 + 16, &natnet.nat_ip, 4);
	frame_csum4(err);
}

/*
 * An error quoting a whole TCP segment or echo request (traceroute, a
 * TTL too low) gets the quoted L4 checksum back to the guest's own, as
 * Linux's NAT does: TCP's over the guest's address and port, the echo's
 * over its identifier (bb23: both kept the NAT's; only UDP's was turned
 * back). Every checksum of the message must then hold.
 */
static void t_nat_icmp_error_quoted_l4(struct fabric *fb __attribute__((unused)))
{
	static const struct { __u8 proto; __u16 sport, dport; __u32 csum; } c[] = {
		{ IPPROTO_TCP, 40031, 443, 16 },
		{ IPPROTO_ICMP, 40032, 0, 2 },
	};
	struct frame in, out, err, res;
	int ret;

	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		__u32 q = 42 + 20;	/* the quoted L4 header in res */

		guest_frame(&in, c[i].proto, c[i].sport, c[i].dport, 8);
		CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT,
		      "proto %u: flow not created", c[i].proto);
		/* the NAT's port or identifier (the guest's is in the
		 * host's ephemeral range: never kept): else nothing to
		 * turn back */
		CHECK(!memcmp(out.buf + 26, &natnet.nat_ip, 4) &&
		      memcmp(out.buf + 34 + (c[i].proto == IPPROTO_ICMP ? 4 : 0),
			     in.buf + 34 + (c[i].proto == IPPROTO_ICMP ? 4 : 0), 2),
		      "proto %u: port or identifier kept, test void",
		      c[i].proto);
		wan_time_exceeded_quoting(&err, &out);
		ret = run_tc_out(F, kw, &err, &res);
		CHECK(ret == TC_ACT_REDIRECT, "proto %u: ICMP error verdict %d",
		      c[i].proto, ret);
		CHECK(!memcmp(res.buf + q, in.buf + 34, 8),
		      "proto %u: quoted header is not the guest's", c[i].proto);
		CHECK(!memcmp(res.buf + q + c[i].csum, in.buf + 34 + c[i].csum, 2),
		      "proto %u: quoted L4 checksum %04x, want the guest's %04x",
		      c[i].proto, get16(res.buf + q + c[i].csum),
		      get16(in.buf + 34 + c[i].csum));
		CHECK(!ip_csum_check(res.buf), "proto %u: outer IP checksum",
		      c[i].proto);
		CHECK(!l4_csum_check(res.buf), "proto %u: ICMP checksum",
		      c[i].proto);
		CHECK(!csum_fold16(sum16(res.buf + 42, 20, 0)),
		      "proto %u: quoted IP checksum", c[i].proto);
	}
	/* a quote of 8 TCP bytes, the frame padded past the IP packet (as
	 * Ethernet pads a short one): the bytes where a whole quote's TCP
	 * checksum would be are padding, no part of the ICMP checksum, and
	 * stay as they are (fuzz seed 29469: the ICMP checksum went wrong) */
	guest_frame(&in, IPPROTO_TCP, 40033, 443, 0);
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT,
	      "padded: flow not created");
	wan_unreach_quoting(&err, &out);
	memset(err.buf + err.len, 0xa5, 40);
	err.len += 40;
	ret = run_tc_out(F, kw, &err, &res);
	CHECK(ret == TC_ACT_REDIRECT, "padded: ICMP error verdict %d", ret);
	CHECK(!l4_csum_check(res.buf), "padded: ICMP checksum");
	CHECK(res.buf[42 + 20 + 16] == 0xa5 && res.buf[42 + 20 + 17] == 0xa5,
	      "padded: the padding was written");
}

/*
 * One's complement corners (csum.h): a message whose words sum to zero
 * has the checksum 0xffff, never 0x0000, after an incremental update;
 * and a UDP checksum is never made 0x0000 ("none"). Three messages whose
 * updates meet them: the gateway's answer to an all-zero echo request,
 * the translated reply to an echo with id 0, sequence 0 and zero data,
 * and the quote of a UDP packet whose checksum is 0xffff.
 */
static void t_nat_checksum_never_0000(struct fabric *fb __attribute__((unused)))
{
	__be32 gw = natnet.gw_ip, me = inet_addr("192.168.90.11");
	__u8 l4[24] = { 8 };
	struct frame in, out, err, res;
	__u16 c;
	int ret;

	frame_ip4(&in, natnet.uplink_mac, N1, me, IPPROTO_ICMP, l4, sizeof(l4));
	memcpy(in.buf + 14 + 16, &gw, 4);
	frame_csum4(&in);
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT && out.buf[34] == 0, "no echo reply");
	CHECK(get16(out.buf + 36) == 0xffff && !l4_csum_check(out.buf),
	      "all-zero echo reply from the gateway: checksum %04x, want ffff",
	      get16(out.buf + 36));

	unit_failed = 0;
	roundtrip(IPPROTO_ICMP, 0, 0, 0);
	CHECK(!unit_failed, "all-zero echo reply through NAT");

	/* a UDP packet whose checksum is 0xffff (its sum is 0) */
	guest_frame(&in, IPPROTO_UDP, 40021, 53, 16);
	in.buf[34 + 6] = in.buf[34 + 7] = 0;
	in.buf[42] = in.buf[43] = 0;
	c = l4_csum_check(in.buf);
	in.buf[42] = (__u8)(c >> 8), in.buf[43] = (__u8)c;
	CHECK(l4_csum_check(in.buf) == 0, "test frame: UDP sum not 0");
	in.buf[34 + 6] = in.buf[34 + 7] = 0xff;
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "flow not created");
	wan_unreach_quoting(&err, &out);
	ret = run_tc_out(F, kw, &err, &res);
	CHECK(ret == TC_ACT_REDIRECT, "ICMP error verdict %d", ret);
	CHECK(get16(res.buf + 62 + 6) == 0xffff,
	      "quoted UDP checksum %04x, want the guest's ffff",
	      get16(res.buf + 62 + 6));
	CHECK(!l4_csum_check(res.buf), "ICMP checksum");
}

/* The connection table's key of a guest's flow as it left (dir 0):
 * 192.168.90.11:sport -> 10.200.0.2:dport */
static struct kvb_ct_key guest_ct_key(__u8 proto, __u16 sport, __u16 dport)
{
	struct kvb_ct_key k = { .saddr = inet_addr("192.168.90.11"),
				.daddr = inet_addr("10.200.0.2"),
				.sport = htons(sport), .dport = htons(dport),
				.proto = proto };

	return k;
}

/*
 * A TCP segment of the flow guest 192.168.90.11:sport <-> 10.200.0.2:443:
 * from the guest (to_wan 0) or from the remote to the NAT address and
 * port nport (to_wan 1); SYNs offer MSS and window scale 7.
 */
static void tcp_seg(struct frame *f, int from_wan, __u16 sport, __u16 nport,
		    __u32 seq, __u32 ack, __u8 flags, __u16 win)
{
	__u8 l4[28] = { 0 };
	__u32 len = 20;
	/* from the WAN: 10.200.0.2, port sport or 443 */
	__u16 a = from_wan ? (sport ? sport : 443) : sport;
	__u16 b = from_wan ? nport : 443;

	l4[0] = (__u8)(a >> 8), l4[1] = (__u8)a;
	l4[2] = (__u8)(b >> 8), l4[3] = (__u8)b;
	for (int i = 0; i < 4; i++) {
		l4[4 + i] = (__u8)(seq >> (24 - 8 * i));
		l4[8 + i] = (__u8)(ack >> (24 - 8 * i));
	}
	l4[13] = flags;
	l4[14] = (__u8)(win >> 8), l4[15] = (__u8)win;
	if (flags & 0x02) {
		static const __u8 opts[8] = { 2, 4, 5, 180, 1, 3, 3, 7 };

		memcpy(l4 + 20, opts, 8);
		len = 28;
	}
	l4[12] = (__u8)(len / 4) << 4;
	if (from_wan) {
		frame_ip4(f, N1, N1, inet_addr("10.200.0.2"), IPPROTO_TCP, l4,
			  len);
		memcpy(f->buf + 14 + 16, &natnet.nat_ip, 4);
	} else {
		frame_ip4(f, natnet.uplink_mac, N1,
			  inet_addr("192.168.90.11"), IPPROTO_TCP, l4, len);
		f->buf[14 + 16] = 10, f->buf[14 + 17] = 200;
		f->buf[14 + 18] = 0, f->buf[14 + 19] = 2;
	}
	frame_csum4(f);
}

static __u8 tcp_state(struct fabric *fb, __u16 sport)
{
	struct kvb_ct_key ok = guest_ct_key(IPPROTO_TCP, sport, 443);
	struct kvb_ct ct;

	if (bpf_map_lookup_elem(fb->ct_fd, &ok, &ct))
		return 0xff;
	return ct.state;
}

/*
 * A guest's connection from sport to the WAN's 443, opened by the
 * handshake the window tests share: the guest's ISN 1000 and window 500
 * (scale 7 from its SYN), the remote's ISN 5000. Its NAT port, 0 when a
 * step was refused.
 */
static __u16 tcp_open(__u16 sport)
{
	struct frame in, out, res;
	__u16 np;

	tcp_seg(&in, 0, sport, 0, 1000, 0, 0x02, 64240);	/* SYN */
	if (run_tc_out(F, kn1, &in, &out) != TC_ACT_REDIRECT)
		return 0;
	np = get16(out.buf + 34);
	tcp_seg(&in, 1, 0, np, 5000, 1001, 0x12, 65535);	/* SYN-ACK */
	if (run_tc_out(F, kw, &in, &res) != TC_ACT_REDIRECT)
		return 0;
	tcp_seg(&in, 0, sport, 0, 1001, 5001, 0x10, 500);	/* ACK */
	if (run_tc_out(F, kn1, &in, &out) != TC_ACT_REDIRECT)
		return 0;
	return np;
}

/*
 * TCP: the answer alone does not establish a flow, its opener's ACK of
 * the answer does (conntrack's rule); a FIN puts it on closing.
 */
static void t_nat_tcp_states(struct fabric *fb)
{
	struct frame in, out, res;
	__u16 np;

	tcp_seg(&in, 0, 40050, 0, 1000, 0, 0x02, 64240);	/* SYN */
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "SYN");
	CHECK(tcp_state(fb, 40050) == KVB_CT_NEW, "new flow state %u",
	      tcp_state(fb, 40050));
	np = get16(out.buf + 34);
	tcp_seg(&in, 1, 0, np, 5000, 1001, 0x12, 65535);	/* SYN-ACK */
	CHECK(run_tc_out(F, kw, &in, &res) == TC_ACT_REDIRECT, "SYN-ACK");
	CHECK(tcp_state(fb, 40050) == KVB_CT_NEW,
	      "after the SYN-ACK alone: state %u, not new",
	      tcp_state(fb, 40050));
	tcp_seg(&in, 0, 40050, 0, 1001, 5001, 0x10, 500);	/* ACK */
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "ACK");
	CHECK(tcp_state(fb, 40050) == KVB_CT_ESTABLISHED,
	      "after the guest's ACK: state %u", tcp_state(fb, 40050));
	tcp_seg(&in, 0, 40050, 0, 1001, 5001, 0x11, 500);	/* FIN-ACK */
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "FIN");
	CHECK(tcp_state(fb, 40050) == KVB_CT_CLOSING, "after FIN: state %u",
	      tcp_state(fb, 40050));
}

/*
 * Segments of a connection that is not there (a stray SYN+ACK, RST,
 * RST+ACK, FIN+ACK from the WAN) open no flow to a forward's guest, as
 * conntrack's tcp_new opens none (INVALID, never DNATed): each is
 * nat-unsolicited on the WAN port. An ACK alone does open one (conntrack
 * picks a connection up mid-stream), new until the guest answers.
 */
static void t_nat_forward_stray_segments(struct fabric *fb)
{
	static const __u8 stray[] = { 0x12, 0x04, 0x14, 0x11 };
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8092),
				  .proto = IPPROTO_TCP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.11"),
			      .to_port = htons(8092), .net_id = NET_NAT,
			      .ifindex = kn1 };
	__u64 d0 = port_stats(fb, kw).drop[KVB_DROP_NAT_UNSOLICITED];
	struct frame in, res;
	int shot = 0, made = 0, r;
	__u8 st;

	memcpy(fw.mac, N1, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	for (unsigned i = 0; i < sizeof(stray); i++) {
		tcp_seg(&in, 1, 0, 8092, 1000, 7001, stray[i], 500);
		shot += run_tc_out(F, kw, &in, &res) == TC_ACT_SHOT;
		made += tcp_state(fb, 8092) != 0xff;
	}
	tcp_seg(&in, 1, 0, 8092, 1000, 7001, 0x10, 500);	/* ACK */
	r = run_tc_out(F, kw, &in, &res);
	st = tcp_state(fb, 8092);
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	ct_flush_net(fb, NET_NAT);
	CHECK(shot == 4 && !made,
	      "SYN+ACK, RST, RST+ACK, FIN+ACK to a forward: %d of 4 dropped, "
	      "%d made a flow", shot, made);
	CHECK(port_stats(fb, kw).drop[KVB_DROP_NAT_UNSOLICITED] == d0 + 4,
	      "nat-unsolicited on the WAN port: %llu, want 4",
	      (unsigned long long)(port_stats(fb, kw).drop[KVB_DROP_NAT_UNSOLICITED] - d0));
	CHECK(r == TC_ACT_REDIRECT && st == KVB_CT_NEW,
	      "an ACK to the forward (mid-stream pickup): verdict %d, state %u",
	      r, st);
}

/*
 * A SYN flood from forged sources at a forwarded port: every SYN makes a
 * flow and the guest answers each with a SYN-ACK, but the forged sources
 * never complete the handshake, so the flows stay new (the opening
 * timeout, 120 s) and never take the 7440 s of an established one, which
 * would hold the network's flows (ct-max) for two hours. A blind ACK
 * that does not acknowledge the guest's SYN-ACK exactly does not
 * establish the flow; the real client's ACK does.
 */
static void t_nat_forward_syn_flood_not_established(struct fabric *fb)
{
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8090),
				  .proto = IPPROTO_TCP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.11"),
			      .to_port = htons(8090), .net_id = NET_NAT,
			      .ifindex = kn1 };
	struct frame in, res;
	__u8 st[3];
	int r[4];

	memcpy(fw.mac, N1, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	tcp_seg(&in, 1, 0, 8090, 1000, 0, 0x02, 64240);	/* WAN's SYN */
	r[0] = run_tc_out(F, kw, &in, &res);
	tcp_seg(&in, 0, 8090, 0, 7000, 1001, 0x12, 65535);	/* SYN-ACK */
	r[1] = run_tc_out(F, kn1, &in, &res);
	st[0] = tcp_state(fb, 8090);
	tcp_seg(&in, 1, 0, 8090, 1001, 12345, 0x10, 500);	/* blind ACK */
	r[2] = run_tc_out(F, kw, &in, &res);
	st[1] = tcp_state(fb, 8090);
	tcp_seg(&in, 1, 0, 8090, 1001, 7001, 0x10, 500);	/* the real one */
	r[3] = run_tc_out(F, kw, &in, &res);
	st[2] = tcp_state(fb, 8090);
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	ct_flush_net(fb, NET_NAT);
	CHECK(r[0] == TC_ACT_REDIRECT && r[1] == TC_ACT_REDIRECT,
	      "the forward's SYN %d, the guest's SYN-ACK %d", r[0], r[1]);
	CHECK(st[0] == KVB_CT_NEW,
	      "SYN from the WAN answered by the guest: state %u, not new",
	      st[0]);
	CHECK(r[2] == TC_ACT_REDIRECT && st[1] == KVB_CT_NEW,
	      "a blind ACK (verdict %d) made the state %u", r[2], st[1]);
	CHECK(r[3] == TC_ACT_REDIRECT && st[2] == KVB_CT_ESTABLISHED,
	      "the client's ACK (verdict %d): state %u, not established",
	      r[3], st[2]);
}

/*
 * A blind RST or FIN from the WAN changes nothing (issue 14): after the
 * handshake (both sides scale windows by 7; the guest advertises 500 <<
 * 7 = 64000 bytes), out-of-window ones are dropped and counted
 * nat-tcp-window, an in-window RST that is not exact reaches the guest
 * (whose stack answers it) but leaves the flow established, and only the
 * exact one (at the guest's ack) closes it. To a SYN not yet answered,
 * only a RST acknowledging that SYN counts.
 */
static void t_nat_tcp_blind_rst_fin(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kw).drop[KVB_DROP_NAT_TCP_WINDOW];
	struct frame in, out, res;
	__u16 np;
	int ret;

	np = tcp_open(40060);
	CHECK(np, "handshake refused");
	CHECK(tcp_state(fb, 40060) == KVB_CT_ESTABLISHED, "not established");

	tcp_seg(&in, 1, 0, np, 5001 + 1000000, 0, 0x04, 0);	/* far RST */
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_SHOT, "out-of-window RST: verdict %d", ret);
	tcp_seg(&in, 1, 0, np, 5001 + 70000, 1001, 0x11, 100);	/* far FIN */
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_SHOT, "out-of-window FIN: verdict %d", ret);
	tcp_seg(&in, 1, 0, np, 5001 - 70000, 1001, 0x04, 0);	/* old RST */
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_SHOT, "RST before the window: verdict %d", ret);
	CHECK(port_stats(fb, kw).drop[KVB_DROP_NAT_TCP_WINDOW] == d0 + 3,
	      "nat-tcp-window +%llu, want +3", (unsigned long long)
	      (port_stats(fb, kw).drop[KVB_DROP_NAT_TCP_WINDOW] - d0));
	CHECK(tcp_state(fb, 40060) == KVB_CT_ESTABLISHED,
	      "a blind RST/FIN changed the state to %u", tcp_state(fb, 40060));

	tcp_seg(&in, 1, 0, np, 5001 + 60000, 0, 0x04, 0);	/* in window */
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_REDIRECT, "in-window RST not passed: %d", ret);
	CHECK(tcp_state(fb, 40060) == KVB_CT_ESTABLISHED,
	      "an inexact RST closed the flow");
	tcp_seg(&in, 1, 0, np, 5001, 0, 0x04, 0);	/* exact */
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_REDIRECT, "exact RST: verdict %d", ret);
	CHECK(tcp_state(fb, 40060) == KVB_CT_CLOSING,
	      "the exact RST did not close the flow");

	/* a connecting guest: a blind RST without the SYN's ack is refused */
	tcp_seg(&in, 0, 40061, 0, 7000, 0, 0x02, 64240);
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "SYN 2");
	np = get16(out.buf + 34);
	tcp_seg(&in, 1, 0, np, 0, 0, 0x04, 0);
	CHECK(run_tc_out(F, kw, &in, &res) == TC_ACT_SHOT, "blind RST to a SYN");
	tcp_seg(&in, 1, 0, np, 0, 7002, 0x14, 0);
	CHECK(run_tc_out(F, kw, &in, &res) == TC_ACT_SHOT, "RST, wrong ack");
	CHECK(tcp_state(fb, 40061) == KVB_CT_NEW, "state changed");
	tcp_seg(&in, 1, 0, np, 0, 7001, 0x14, 0);	/* connection refused */
	CHECK(run_tc_out(F, kw, &in, &res) == TC_ACT_REDIRECT, "refusal RST");
	CHECK(tcp_state(fb, 40061) == KVB_CT_CLOSING, "refusal did not close");
}

/*
 * A FIN inside the window closes; the window is the guest's scaled one
 * (500 << 7), not the raw 500: a FIN 10,000 bytes ahead is in it.
 */
static void t_nat_tcp_fin_in_scaled_window(struct fabric *fb)
{
	struct frame in, res;
	__u16 np;
	int ret;

	np = tcp_open(40062);
	CHECK(np, "handshake refused");
	tcp_seg(&in, 1, 0, np, 5001 + 10000, 1001, 0x11, 100);
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_REDIRECT, "in-window FIN: verdict %d", ret);
	CHECK(tcp_state(fb, 40062) == KVB_CT_CLOSING, "FIN did not close");
}

/*
 * A guest that opens the same connection again while the old one is on
 * the closing timeout (a source port reused within 120 s, an NFS client
 * reconnecting from its port) gets a new connection, as conntrack
 * reopens one on a SYN: it is established by its handshake and is
 * judged by its own sequence numbers (the remote's in-window FIN closes
 * it). Before, the flow stayed closing with the old connection's
 * numbers: never established, gone after 120 s idle, and a legitimate
 * FIN or RST from the remote could be refused as nat-tcp-window.
 */
static void t_nat_tcp_reopen(struct fabric *fb)
{
	__u64 w0 = port_stats(fb, kw).drop[KVB_DROP_NAT_TCP_WINDOW];
	struct frame in, out, res;
	__u16 np, np2;
	int ret;

	np = tcp_open(40070);
	CHECK(np, "handshake refused");
	tcp_seg(&in, 0, 40070, 0, 1001, 5001, 0x11, 500);
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "FIN");
	CHECK(tcp_state(fb, 40070) == KVB_CT_CLOSING, "closing");
	/* the same ends again, sequence numbers far from the old ones */
	tcp_seg(&in, 0, 40070, 0, 3000000000u, 0, 0x02, 64240);
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "SYN again");
	np2 = get16(out.buf + 34);
	CHECK(np2 == np, "the reopened connection's port %u, was %u", np2, np);
	CHECK(tcp_state(fb, 40070) == KVB_CT_NEW, "reopened: state %u, want "
	      "new", tcp_state(fb, 40070));
	tcp_seg(&in, 1, 0, np, 2000000000u, 3000000001u, 0x12, 65535);
	CHECK(run_tc_out(F, kw, &in, &res) == TC_ACT_REDIRECT, "SYN-ACK again");
	tcp_seg(&in, 0, 40070, 0, 3000000001u, 2000000001u, 0x10, 500);
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "ACK again");
	CHECK(tcp_state(fb, 40070) == KVB_CT_ESTABLISHED, "reopened and "
	      "answered: state %u, want established", tcp_state(fb, 40070));
	/* the remote's FIN within the new connection's window */
	tcp_seg(&in, 1, 0, np, 2000000001u, 3000000001u, 0x11, 65535);
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_REDIRECT &&
	      port_stats(fb, kw).drop[KVB_DROP_NAT_TCP_WINDOW] == w0,
	      "the remote's FIN on the reopened connection: verdict %d, "
	      "nat-tcp-window +%llu", ret, (unsigned long long)
	      (port_stats(fb, kw).drop[KVB_DROP_NAT_TCP_WINDOW] - w0));
	CHECK(tcp_state(fb, 40070) == KVB_CT_CLOSING, "FIN: closing again");
	/* a SYN from the remote on a guest's closing flow reopens nothing */
	tcp_seg(&in, 1, 0, np, 7, 0, 0x02, 65535);
	run_tc_out(F, kw, &in, &res);
	CHECK(tcp_state(fb, 40070) == KVB_CT_CLOSING, "the remote's SYN "
	      "reopened the guest's flow: state %u", tcp_state(fb, 40070));
}

/* A guest UDP packet from sport to daddr:dport; its NAT port, 0 if refused. */
static __u16 udp_to(__u16 sport, const char *daddr, __u16 dport)
{
	struct frame in, out;
	__be32 d = inet_addr(daddr);

	guest_frame(&in, IPPROTO_UDP, sport, dport, 16);
	memcpy(in.buf + 14 + 16, &d, 4);
	frame_csum4(&in);
	if (run_tc_out(F, kn1, &in, &out) != TC_ACT_REDIRECT)
		return 0;
	return get16(out.buf + 34);
}

/* A UDP packet from saddr:sport on the WAN to the NAT address and nport. */
static int udp_from(const char *saddr, __u16 sport, __u16 nport,
		    struct frame *res)
{
	__u8 l4[12] = { 0 };
	struct frame in;

	l4[0] = (__u8)(sport >> 8), l4[1] = (__u8)sport;
	l4[2] = (__u8)(nport >> 8), l4[3] = (__u8)nport;
	l4[5] = 12;
	frame_ip4(&in, N1, N1, inet_addr(saddr), IPPROTO_UDP, l4, 12);
	memcpy(in.buf + 14 + 16, &natnet.nat_ip, 4);
	frame_csum4(&in);
	return run_tc_out(F, kw, &in, res);
}

/*
 * The nat network without flows and with 112 NAT ports (the host's range
 * 1100-65499 leaves NAT 1024-1099 and 65500-65535); *saved is it as it
 * was, for the test to put back. Non-zero when it is no network.
 */
static int nat_ports_narrowed(struct fabric *fb, struct kvb_net *saved)
{
	struct kvb_net n;

	ct_flush_net(fb, NET_NAT);
	if (net_get(fb, NET_NAT, saved))
		return -1;
	n = *saved;
	n.host_port_lo = 1100;
	n.host_port_hi = 65499;
	return net_put(fb, &n);
}

/*
 * When no mapping can be had (every port a guest socket's mapping may
 * take is another socket's), a flow gets a port of its own, free for its
 * destination, as conntrack finds one: ports are then shared across
 * destinations. Before, the flow was refused (nat-ports-exhausted)
 * however many ports were free for that destination: a guest's resolver
 * or crawler, each query from a new socket, ran out of the host's ~36k
 * NAT ports (held 180 s each) at about 200 new sockets a second. Here the
 * network's host range leaves NAT 112 ports, and 240 sockets each send
 * to a destination of their own.
 */
static void t_nat_ports_shared_when_mappings_run_out(struct fabric *fb)
{
	struct kvb_net saved;
	struct frame res;
	__u16 p = 0, q = 0;
	int made = 0, ret = -1, outside = 0;
	char ip[16];

	CHECK(!nat_ports_narrowed(fb, &saved), "net");
	/* 240 sockets, each to a destination of its own: 112 ports */
	for (int i = 0; i < 240; i++) {
		snprintf(ip, sizeof(ip), "10.200.0.%d", 10 + i);
		q = udp_to((__u16)(30000 + i), ip, 53);
		if (q) {
			made++;
			outside += q >= 1100 && q <= 65499;
		}
	}
	/* the last one's answer, and the same socket again */
	if (q) {
		ret = udp_from(ip, 53, q, &res);
		p = udp_to(30239, ip, 53);
	}
	net_put(fb, &saved);
	ct_flush_net(fb, NET_NAT);
	/* 240 flows in 112 ports: some share one (pigeonhole) */
	CHECK(made == 240 && !outside, "%d of 240 flows made in 112 ports "
	      "(%d outside NAT's range)", made, outside);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6),
	      "the answer to a shared port: verdict %d", ret);
	CHECK(p == q, "the flow's port again: %u, was %u", p, q);
}

/*
 * A reply goes to its guest's port as the port is now: a spoofcheck
 * port's new MAC at once (port set mac), nothing once the port is gone (a
 * flow outlives a detach, and the ifindex may be another device's by
 * then), counted as no-route on the WAN port.
 */
static void t_nat_reply_follows_port(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE];
	__u16 np = udp_to(41234, "10.200.0.2", 53);
	struct kvb_port p, saved;
	struct frame res;
	int ret;

	CHECK(np, "flow refused");
	ret = udp_from("10.200.0.2", 53, np, &res);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6),
	      "reply: verdict %d", ret);
	CHECK(!bpf_map_lookup_elem(fb->port_fd, &kn1, &saved), "kn1's entry");
	p = saved;
	p.flags |= KVB_PORT_F_SPOOFCHECK;
	memcpy(p.mac, N2, 6);
	bpf_map_update_elem(fb->port_fd, &kn1, &p, BPF_EXIST);
	ret = udp_from("10.200.0.2", 53, np, &res);
	bpf_map_update_elem(fb->port_fd, &kn1, &saved, BPF_EXIST);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N2, 6),
	      "after the MAC changed: verdict %d, to %02x:..:%02x", ret,
	      res.buf[4], res.buf[5]);
	bpf_map_delete_elem(fb->port_fd, &kn1);
	ret = udp_from("10.200.0.2", 53, np, &res);
	bpf_map_update_elem(fb->port_fd, &kn1, &saved, BPF_ANY);
	CHECK(ret == TC_ACT_SHOT, "port gone: verdict %d", ret);
	CHECK(port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE] == d0 + 1,
	      "no-route not counted");
}

/*
 * A flow outlives its guest's device too: QEMU exits, the tap goes with
 * no detach, and its port entry stays until gc. The kernel then removes
 * the device from kvb_portdev (done here by hand: kn1 is the suite's);
 * a reply, and an ICMP error about the flow (which did not even look at
 * the port), go nowhere (the ifindex may be another device's by then),
 * counted no-route on the WAN port.
 */
static void t_nat_reply_device_gone(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE];
	struct frame in, out, err, res;
	__u16 np;
	int ret;

	guest_frame(&in, IPPROTO_UDP, 41240, 53, 16);
	CHECK(run_tc_out(fb, kn1, &in, &out) == TC_ACT_REDIRECT, "flow");
	np = get16(out.buf + 34);
	wan_unreach_quoting(&err, &out);

	CHECK(!bpf_map_delete_elem(fb->portdev_fd, &kn1), "kn1 in kvb_portdev");
	ret = udp_from("10.200.0.2", 53, np, &res);
	bpf_map_update_elem(fb->portdev_fd, &kn1, &kn1, BPF_ANY);
	CHECK(ret == TC_ACT_SHOT, "reply, device gone: verdict %d", ret);
	bpf_map_delete_elem(fb->portdev_fd, &kn1);
	ret = run_tc_out(fb, kw, &err, &res);
	bpf_map_update_elem(fb->portdev_fd, &kn1, &kn1, BPF_ANY);
	CHECK(ret == TC_ACT_SHOT, "ICMP error, device gone: verdict %d", ret);
	CHECK(port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE] == d0 + 2,
	      "no-route not counted");
	/* the device back: both reach the guest again */
	ret = udp_from("10.200.0.2", 53, np, &res);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6),
	      "reply: verdict %d", ret);
	ret = run_tc_out(fb, kw, &err, &res);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6),
	      "ICMP error: verdict %d", ret);
}

/*
 * A nat guest without an IPv4 address yet (no ip, no lease: before its
 * DHCP) sends from the network's subnet only, as libvirt's nat rules
 * refuse other sources: from outside it (another network's address) it
 * is spoof-ip, not translated nor routed.
 */
static void t_nat_unheld_guest_subnet_only(struct fabric *fb)
{
	static const __u8 N9[6] = { 0x52, 0x54, 0, 0, 0x5a, 9 };
	struct port_opts g = { .mac = N9, .spoofcheck = true, .naddrs = -1 };
	struct kvb_port p;
	struct frame in;
	__u64 d0;
	__u32 kn9;
	int ret;

	CHECK(!add_veth("kn9", &kn9) &&
	      !port_attach(fb, "unit", "kn9", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach kn9");
	d0 = port_stats(fb, kn9).drop[KVB_DROP_SPOOF_IP];
	guest_frame(&in, IPPROTO_UDP, 41300, 53, 16);
	memcpy(in.buf + 6, N9, 6);
	in.buf[14 + 12] = 10, in.buf[14 + 13] = 71, in.buf[14 + 14] = 1;
	in.buf[14 + 15] = 5;	/* from 10.71.1.5 */
	frame_csum4(&in);
	ret = run_tc(fb, kn9, &in);
	CHECK(ret == TC_ACT_SHOT &&
	      port_stats(fb, kn9).drop[KVB_DROP_SPOOF_IP] == d0 + 1,
	      "from outside the subnet: verdict %d", ret);
	in.buf[14 + 12] = 192, in.buf[14 + 13] = 168, in.buf[14 + 14] = 90;
	in.buf[14 + 15] = 77;	/* from 192.168.90.77, nobody's */
	frame_csum4(&in);
	ret = run_tc(fb, kn9, &in);
	CHECK(ret == TC_ACT_REDIRECT, "from the subnet: verdict %d", ret);
	if (!port_get(fb, kn9, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kn9");
}

static int host_socket(int type, const char *ip, __u16 port);

static void nat_filtering(struct fabric *fb, __u32 mode)
{
	struct kvb_net n;

	if (!net_get(fb, NET_NAT, &n)) {
		n.nat_filter = mode;
		net_put(fb, &n);
	}
}

/*
 * Endpoint-independent mapping (RFC 4787 REQ-1): one guest socket gets
 * one NAT port for every destination; a port NAT may use (outside the
 * host's ephemeral range) is preserved, one it may not is replaced by
 * the same keyed choice for every destination.
 */
static void t_nat_eim_one_port(struct fabric *fb)
{
	__u16 a, b, c, d;

	(void)fb;
	a = udp_to(20001, "10.200.0.2", 53);
	b = udp_to(20001, "10.200.0.3", 5353);
	CHECK(a && a == b, "one socket, two destinations: ports %u and %u", a, b);
	CHECK(a == 20001, "free port 20001 not preserved: %u", a);
	c = udp_to(41001, "10.200.0.2", 53);
	d = udp_to(41001, "10.200.0.3", 5353);
	CHECK(c && c == d, "ports %u and %u for one socket", c, d);
	CHECK(c != 41001 && (c < KVB_HOST_PORT_LO || c > KVB_HOST_PORT_HI),
	      "port %u from the host's ephemeral range", c);
	CHECK(udp_to(20002, "10.200.0.2", 53) == 20002, "second socket");
	CHECK(udp_to(20001, "10.200.0.2", 54) == 20001, "third destination");
}

/*
 * nat-filtering: what comes unsolicited to a guest's mapping. Address and
 * port dependent (default) lets in only the flows' remotes; address
 * dependent also other ports of an address the guest sent to; endpoint
 * independent anything. Refused ones are counted nat-filtered; what is for
 * no mapping at all stays the host's.
 */
static void t_nat_filtering_modes(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kw).drop[KVB_DROP_NAT_FILTERED];
	struct frame res;
	__u16 p;
	int r1, r2, r3, r4, r5, r6;

	p = udp_to(20011, "10.200.0.2", 53);
	CHECK(p == 20011, "mapping %u", p);
	r1 = udp_from("10.200.0.2", 53, p, &res);	/* the flow's reply */
	CHECK(r1 == TC_ACT_REDIRECT, "reply refused: %d", r1);
	r1 = udp_from("10.200.0.2", 999, p, &res);
	r2 = udp_from("10.200.0.9", 53, p, &res);
	nat_filtering(fb, KVB_NAT_FILTER_ADDR);
	r3 = udp_from("10.200.0.2", 999, p, &res);
	CHECK(r3 != TC_ACT_REDIRECT || res.buf[14 + 19] == 11,
	      "not sent to the guest");
	r4 = udp_from("10.200.0.9", 53, p, &res);
	nat_filtering(fb, KVB_NAT_FILTER_ENDPOINT);
	r5 = udp_from("10.200.0.9", 53, p, &res);
	CHECK(r5 != TC_ACT_REDIRECT ||
	      (res.buf[14 + 19] == 11 && get16(res.buf + 36) == 20011),
	      "not sent to the guest's socket");
	r6 = udp_from("10.200.0.9", 53, 20099, &res);	/* no mapping */
	nat_filtering(fb, KVB_NAT_FILTER_ADDR_PORT);
	{
		/* a host service bound to the port since: what the filter
		 * refuses is the host's, not dropped */
		int hs = host_socket(SOCK_DGRAM, "10.200.0.1", p);
		int r7 = udp_from("10.200.0.9", 54, p, &res);

		if (hs >= 0)
			close(hs);
		CHECK(hs >= 0 && r7 == TC_ACT_UNSPEC, "host socket on the "
		      "mapped port: verdict %d (socket %d)", r7, hs);
	}
	{
		/* endpoint-independent too: what the filter would let in
		 * is the host service's; the flow's own remote stays the
		 * guest's. Before, a guest that took the port while the
		 * service was down got every WAN client of it. */
		int hs, r8, r9;

		nat_filtering(fb, KVB_NAT_FILTER_ENDPOINT);
		hs = host_socket(SOCK_DGRAM, "10.200.0.1", p);
		r8 = udp_from("10.200.0.9", 55, p, &res);
		r9 = udp_from("10.200.0.2", 53, p, &res);
		if (hs >= 0)
			close(hs);
		nat_filtering(fb, KVB_NAT_FILTER_ADDR_PORT);
		CHECK(hs >= 0 && r8 == TC_ACT_UNSPEC, "endpoint-independent, host "
		      "socket on the mapped port: verdict %d (socket %d)", r8,
		      hs);
		CHECK(r9 == TC_ACT_REDIRECT, "endpoint-independent, host "
		      "socket: the flow's own reply, verdict %d", r9);
	}
	CHECK(r1 == TC_ACT_SHOT && r2 == TC_ACT_SHOT,
	      "address-port: another port %d, another address %d", r1, r2);
	CHECK(r3 == TC_ACT_REDIRECT && r4 == TC_ACT_SHOT,
	      "address: another port %d, another address %d", r3, r4);
	CHECK(r5 == TC_ACT_REDIRECT, "endpoint-independent: %d", r5);
	CHECK(r6 == TC_ACT_UNSPEC, "no mapping: %d (the host's)", r6);
	CHECK(port_stats(fb, kw).drop[KVB_DROP_NAT_FILTERED] == d0 + 3,
	      "nat-filtered +%llu, want +3", (unsigned long long)
	      (port_stats(fb, kw).drop[KVB_DROP_NAT_FILTERED] - d0));
}

/* ns monotonic now less s seconds, as the datapath's clock counts */
static __u64 mono_ago(__u64 s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec -
	       s * 1000000000ULL;
}

/*
 * A mapping lets in what its filter admits only into a guest port that is
 * still there and on the network: its guest's device gone (QEMU exited,
 * gc not run yet) or the tap now on another network (a mapping a detach
 * left behind), what endpoint-independent or address-dependent filtering
 * admits is no-route on the WAN port and makes no flow, which would hold
 * the network's count and keep the mapping alive. A reply of such a flow
 * does not refresh it either: the remote cannot keep it from expiring.
 */
static void t_nat_map_in_guest_gone(struct fabric *fb)
{
	struct kvb_ct_key rk = { .proto = IPPROTO_UDP, .dir = 1 };
	__u64 d0 = port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE], c0, old;
	struct kvb_port saved, moved;
	int r_gone, r_moved, r_addr, r_back, r_reply;
	__u64 c_gone, c_moved, c_addr, c_back;
	struct kvb_ct e;
	struct frame res;
	__u16 p;

	ct_flush_net(fb, NET_NAT);
	p = udp_to(20041, "10.200.0.2", 53);
	CHECK(p == 20041, "mapping %u", p);
	c0 = ct_count(fb, NET_NAT);
	CHECK(!bpf_map_lookup_elem(fb->port_fd, &kn1, &saved), "kn1's entry");
	nat_filtering(fb, KVB_NAT_FILTER_ENDPOINT);
	/* the device gone, the port entry still there (gc to come) */
	bpf_map_delete_elem(fb->portdev_fd, &kn1);
	r_gone = udp_from("10.200.0.9", 53, p, &res);
	c_gone = ct_count(fb, NET_NAT);
	/* the flow's own reply meanwhile: idle 10 s, and it stays so */
	rk.saddr = inet_addr("10.200.0.2");
	rk.daddr = natnet.nat_ip;
	rk.sport = htons(53);
	rk.dport = htons(p);
	old = mono_ago(10);
	if (!bpf_map_lookup_elem(fb->ct_fd, &rk, &e)) {
		e.last_ns = old;
		bpf_map_update_elem(fb->ct_fd, &rk, &e, BPF_EXIST);
	}
	r_reply = udp_from("10.200.0.2", 53, p, &res);
	e.last_ns = 0;
	bpf_map_lookup_elem(fb->ct_fd, &rk, &e);
	bpf_map_update_elem(fb->portdev_fd, &kn1, &kn1, BPF_ANY);
	/* the tap on another network (bridge a) */
	moved = saved;
	moved.net_id = 1;
	bpf_map_update_elem(fb->port_fd, &kn1, &moved, BPF_EXIST);
	r_moved = udp_from("10.200.0.9", 53, p, &res);
	c_moved = ct_count(fb, NET_NAT);
	nat_filtering(fb, KVB_NAT_FILTER_ADDR);
	r_addr = udp_from("10.200.0.2", 999, p, &res);
	c_addr = ct_count(fb, NET_NAT);
	bpf_map_update_elem(fb->port_fd, &kn1, &saved, BPF_EXIST);
	/* kn1 as it was: the same is let in, a flow made */
	r_back = udp_from("10.200.0.2", 999, p, &res);
	c_back = ct_count(fb, NET_NAT);
	nat_filtering(fb, KVB_NAT_FILTER_ADDR_PORT);
	ct_flush_net(fb, NET_NAT);
	CHECK(r_gone == TC_ACT_SHOT && c_gone == c0, "endpoint-independent, "
	      "device gone: verdict %d, %llu flows made", r_gone,
	      (unsigned long long)(c_gone - c0));
	CHECK(r_moved == TC_ACT_SHOT && c_moved == c0, "endpoint-independent, "
	      "port on another network: verdict %d, %llu flows made", r_moved,
	      (unsigned long long)(c_moved - c0));
	CHECK(r_addr == TC_ACT_SHOT && c_addr == c0, "address-dependent, port "
	      "on another network: verdict %d, %llu flows made", r_addr,
	      (unsigned long long)(c_addr - c0));
	CHECK(r_reply == TC_ACT_SHOT && e.last_ns == old, "reply, device gone: "
	      "verdict %d, the flow %s", r_reply, e.last_ns == old ?
	      "idle as it was" : "refreshed");
	CHECK(port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE] == d0 + 4,
	      "no-route +%llu, want +4", (unsigned long long)
	      (port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE] - d0));
	CHECK(r_back == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6) &&
	      c_back == c0 + 1, "kn1 back: verdict %d, %llu flows made",
	      r_back, (unsigned long long)(c_back - c0));
}

static int natmap_entries(struct fabric *fb)
{
	struct kvb_natmap_key k, *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fb->natmap_fd, prev, &k)) {
		prev = &k;
		n++;
	}
	return n;
}

/*
 * A mapping lives while its flows do: the expiry sweep that reclaims the
 * last flow takes the mapping (both keys) and its peer entries with it.
 */
static void t_nat_mapping_reclaimed(struct fabric *fb)
{
	struct kvb_ct_key k, *prev = NULL;
	struct kvb_ct e;
	struct timespec ts;
	__u64 old;
	int n0;

	ct_flush_net(fb, NET_NAT);
	CHECK(natmap_entries(fb) == 0, "flush left %d mapping entries",
	      natmap_entries(fb));
	CHECK(udp_to(20021, "10.200.0.2", 53) == 20021, "flow 1");
	CHECK(udp_to(20021, "10.200.0.3", 53) == 20021, "flow 2");
	n0 = natmap_entries(fb);
	CHECK(n0 == 5, "%d mapping entries, want 5 (guest, NAT, 2 peers, "
	      "the port's count of NAT ports)", n0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	old = (__u64)ts.tv_sec * 1000000000ULL - 200000000000ULL;
	while (!bpf_map_get_next_key(fb->ct_fd, prev, &k)) {
		prev = &k;
		if (!bpf_map_lookup_elem(fb->ct_fd, &k, &e)) {
			e.last_ns = old;
			bpf_map_update_elem(fb->ct_fd, &k, &e, BPF_EXIST);
		}
	}
	for (int w = 0; w < 50 && (ct_count(fb, NET_NAT) || natmap_entries(fb));
	     w++)
		usleep(100000);
	CHECK(!ct_count(fb, NET_NAT), "flows not reclaimed");
	CHECK(!natmap_entries(fb), "%d mapping entries left after the sweep",
	      natmap_entries(fb));
	CHECK(udp_to(20021, "10.200.0.2", 53) == 20021, "mapping again");
	ct_flush_net(fb, NET_NAT);
}

/* ct-max: a network at its limit refuses new flows, keeps live ones. */
static void t_nat_ct_max(struct fabric *fb)
{
	struct frame in, out;
	__u64 d0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_FULL];
	struct kvb_net n;
	int ret;

	CHECK(!net_get(fb, NET_NAT, &n), "net");
	n.ct_max = (__u32)ct_count(fb, NET_NAT) + 1;
	CHECK(!net_put(fb, &n), "set ct-max");
	guest_frame(&in, IPPROTO_UDP, 40030, 53, 16);
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "flow within ct-max: verdict %d", ret);
	/* answered flows: early eviction takes none of them */
	ct_establish_net(fb, NET_NAT);
	guest_frame(&in, IPPROTO_UDP, 40031, 53, 16);
	ret = run_tc_out(F, kn1, &in, &out);
	n.ct_max = 0;
	net_put(fb, &n);
	CHECK(ret == TC_ACT_SHOT, "flow beyond ct-max: verdict %d", ret);
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_NAT_FULL] == d0 + 1,
	      "not counted");
	guest_frame(&in, IPPROTO_UDP, 40030, 53, 16);
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "live flow refused");
}

/* An idle flow past its (settable) timeout no longer lets replies in. */
static void t_nat_timeout(struct fabric *fb)
{
	struct kvb_ct_key k = { .proto = IPPROTO_UDP, .dir = 1 };
	struct frame in, out, back, res;
	struct kvb_ct ct;
	struct kvb_net n;
	struct timespec ts;
	int ret;

	guest_frame(&in, IPPROTO_UDP, 40040, 53, 16);
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "flow");
	k.saddr = inet_addr("10.200.0.2");
	k.daddr = natnet.nat_ip;
	k.sport = htons(53);
	memcpy(&k.dport, out.buf + 34, 2);
	CHECK(!bpf_map_lookup_elem(fb->ct_fd, &k, &ct), "reply entry");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* idle for 10 s: within the default 180 s UDP timeout */
	ct.last_ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec -
		     10000000000ULL;
	bpf_map_update_elem(fb->ct_fd, &k, &ct, BPF_EXIST);
	back = out;
	memcpy(back.buf + 14 + 12, out.buf + 14 + 16, 4);
	memcpy(back.buf + 14 + 16, out.buf + 14 + 12, 4);
	memcpy(back.buf + 34, out.buf + 36, 2);
	memcpy(back.buf + 36, out.buf + 34, 2);
	frame_csum4(&back);
	CHECK(run_tc_out(F, kw, &back, &res) == TC_ACT_REDIRECT,
	      "reply within the timeout not translated");
	bpf_map_update_elem(fb->ct_fd, &k, &ct, BPF_EXIST);
	/* both ways idle: a flow has one clock (ct_live) */
	{
		struct kvb_ct_key ok = k;
		struct kvb_ct o;

		ok.saddr = inet_addr("192.168.90.11");	/* the guest's */
		ok.daddr = k.saddr;
		ok.sport = htons(40040);
		ok.dport = k.sport;
		ok.dir = 0;
		CHECK(!bpf_map_lookup_elem(fb->ct_fd, &ok, &o), "original entry");
		o.last_ns = ct.last_ns;
		bpf_map_update_elem(fb->ct_fd, &ok, &o, BPF_EXIST);
	}
	CHECK(!net_get(fb, NET_NAT, &n), "net");
	n.ct_timeout[KVB_CT_T_UDP] = 5;	/* now 10 s idle is too long */
	net_put(fb, &n);
	ret = run_tc_out(F, kw, &back, &res);
	n.ct_timeout[KVB_CT_T_UDP] = 0;
	net_put(fb, &n);
	CHECK(ret == TC_ACT_UNSPEC, "reply to an expired flow: verdict %d", ret);
}

/* Set the last_ns of flow entry k to s seconds ago; 0 if it is there. */
static int ct_age(struct fabric *fb, const struct kvb_ct_key *k, __u64 s)
{
	struct kvb_ct e;

	if (bpf_map_lookup_elem(fb->ct_fd, k, &e))
		return -1;
	e.last_ns = mono_ago(s);
	return bpf_map_update_elem(fb->ct_fd, k, &e, BPF_EXIST) ? -1 : 0;
}

/*
 * A flow has one clock, as conntrack's: a packet either way keeps both
 * ways open. A guest that only sends (a WireGuard client's keepalives)
 * for longer than the timeout still gets the remote's next packet; a
 * remote that only sends (a stream after one request) keeps the guest's
 * port: the guest's next packet leaves from it, no new flow made. Before,
 * each direction had its own clock: the remote's packet went to the host
 * and the guest's made a new flow while the other way was busy.
 */
static void t_nat_one_way_keeps_flow(struct fabric *fb)
{
	struct kvb_ct_key ok = { .proto = IPPROTO_UDP }, rk = ok;
	struct frame res;
	__u64 c0;
	__u16 p, p2;
	int ret;

	ct_flush_net(fb, NET_NAT);
	p = udp_to(20061, "10.200.0.2", 51820);
	CHECK(p, "flow");
	CHECK(udp_from("10.200.0.2", 51820, p, &res) == TC_ACT_REDIRECT,
	      "first answer");
	ok.saddr = inet_addr("192.168.90.11");
	ok.daddr = inet_addr("10.200.0.2");
	ok.sport = htons(20061);
	ok.dport = htons(51820);
	rk.saddr = ok.daddr;
	rk.daddr = natnet.nat_ip;
	rk.sport = ok.dport;
	rk.dport = htons(p);
	rk.dir = 1;
	/* the remote silent for 200 s (UDP: 180), the guest sending */
	CHECK(!ct_age(fb, &rk, 200) && !ct_age(fb, &ok, 1), "aged");
	ret = udp_from("10.200.0.2", 51820, p, &res);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6),
	      "the remote's packet after 200 s of the guest's alone: verdict "
	      "%d (the host's: %d)", ret, TC_ACT_OK);
	/* the guest silent for 200 s, the remote sending */
	c0 = ct_count(fb, NET_NAT);
	CHECK(!ct_age(fb, &ok, 200) && !ct_age(fb, &rk, 1), "aged");
	p2 = udp_to(20061, "10.200.0.2", 51820);
	CHECK(p2 == p && ct_count(fb, NET_NAT) == c0, "the guest's packet "
	      "after 200 s of the remote's alone: port %u (was %u), %lld "
	      "flows made", p2, p, (long long)(ct_count(fb, NET_NAT) - c0));
	{
		/* the same flow, not a new one on the same port: still
		 * established (a new one starts new) */
		struct kvb_ct e;

		CHECK(!bpf_map_lookup_elem(fb->ct_fd, &ok, &e) &&
		      e.state == KVB_CT_ESTABLISHED, "the guest's packet after "
		      "the remote's alone made the flow anew (state %u)",
		      e.state);
	}
	/* both silent: over */
	CHECK(!ct_age(fb, &ok, 200) && !ct_age(fb, &rk, 200), "aged");
	ret = udp_from("10.200.0.2", 51820, p, &res);
	CHECK(ret == TC_ACT_UNSPEC, "both ways idle 200 s: verdict %d, want the "
	      "host's", ret);
	ct_flush_net(fb, NET_NAT);
}

/*
 * conntrack's UDP rule: a flow answered is a stream (its timeout, 180 s
 * here) only once it is still alive 2 s after it began; a single exchange
 * (a DNS query and its answer) keeps the unreplied 30 s. Before, every
 * answered flow held its port and its place in the port's share for
 * 180 s: a resolver VM's queries filled its share six times as fast as
 * under libvirt's NAT, and answered flows are never evicted.
 */
static void t_nat_udp_stream(struct fabric *fb)
{
	struct kvb_ct_key ok = { .proto = IPPROTO_UDP }, rk = ok;
	struct kvb_ct e, r;
	struct frame res;
	__u16 p, p2;
	int ret;

	ct_flush_net(fb, NET_NAT);
	p = udp_to(20071, "10.200.0.2", 53);
	CHECK(p && udp_from("10.200.0.2", 53, p, &res) == TC_ACT_REDIRECT,
	      "a query and its answer");
	ok.saddr = inet_addr("192.168.90.11");
	ok.daddr = inet_addr("10.200.0.2");
	ok.sport = htons(20071);
	ok.dport = htons(53);
	rk.saddr = ok.daddr;
	rk.daddr = natnet.nat_ip;
	rk.sport = ok.dport;
	rk.dport = htons(p);
	rk.dir = 1;
	CHECK(!bpf_map_lookup_elem(fb->ct_fd, &ok, &e) &&
	      !bpf_map_lookup_elem(fb->ct_fd, &rk, &r) &&
	      e.state == KVB_CT_ANSWERED && r.state == KVB_CT_ANSWERED,
	      "after the answer: states %u and %u, want answered", e.state,
	      r.state);
	/* a second answer at once (a resolver's AAAA after its A) */
	CHECK(udp_from("10.200.0.2", 53, p, &res) == TC_ACT_REDIRECT &&
	      !bpf_map_lookup_elem(fb->ct_fd, &rk, &r) &&
	      r.state == KVB_CT_ANSWERED, "a second answer within 2 s made "
	      "it a stream (state %u)", r.state);
	/* 35 s later: past the unreplied timeout, within UDP's 180 s */
	CHECK(!ct_age(fb, &ok, 35) && !ct_age(fb, &rk, 35), "aged");
	ret = udp_from("10.200.0.2", 53, p, &res);
	CHECK(ret == TC_ACT_UNSPEC, "a single exchange 35 s old still took a "
	      "datagram to the guest: verdict %d, want the host's", ret);
	ct_flush_net(fb, NET_NAT);

	/* the same, still alive 3 s after it began: a stream */
	p = udp_to(20072, "10.200.0.2", 53);
	CHECK(p && udp_from("10.200.0.2", 53, p, &res) == TC_ACT_REDIRECT,
	      "flow");
	ok.sport = htons(20072);
	rk.dport = htons(p);
	CHECK(!ct_age(fb, &ok, 3) && !ct_age(fb, &rk, 3), "aged");
	p2 = udp_to(20072, "10.200.0.2", 53);
	CHECK(p2 == p && !bpf_map_lookup_elem(fb->ct_fd, &ok, &e) &&
	      e.state == KVB_CT_ESTABLISHED, "the guest's packet 3 s on: "
	      "port %u (was %u), state %u, want established", p2, p, e.state);
	CHECK(!ct_age(fb, &ok, 35) && !ct_age(fb, &rk, 35), "aged");
	ret = udp_from("10.200.0.2", 53, p, &res);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6),
	      "a stream idle 35 s (UDP 180 s) no longer reached the guest: "
	      "verdict %d", ret);
	ct_flush_net(fb, NET_NAT);

	/* one request, then the remote streams: the whole flow is a
	 * stream, the guest's entry too (eviction and ct show read it) */
	p = udp_to(20073, "10.200.0.2", 53);
	CHECK(p && udp_from("10.200.0.2", 53, p, &res) == TC_ACT_REDIRECT,
	      "flow");
	ok.sport = htons(20073);
	rk.dport = htons(p);
	CHECK(!ct_age(fb, &ok, 3) && !ct_age(fb, &rk, 3), "aged");
	CHECK(udp_from("10.200.0.2", 53, p, &res) == TC_ACT_REDIRECT &&
	      !bpf_map_lookup_elem(fb->ct_fd, &ok, &e) &&
	      !bpf_map_lookup_elem(fb->ct_fd, &rk, &r) &&
	      e.state == KVB_CT_ESTABLISHED && r.state == KVB_CT_ESTABLISHED,
	      "the remote's datagram 3 s on: states %u (the guest's) and %u, "
	      "want established", e.state, r.state);
	ct_flush_net(fb, NET_NAT);

	/* a UDP timeout under 2 s still lets a flow become a stream */
	{
		struct kvb_net n;

		CHECK(!net_get(fb, NET_NAT, &n), "net");
		n.ct_timeout[KVB_CT_T_UDP] = 1;
		net_put(fb, &n);
		p = udp_to(20074, "10.200.0.2", 53);
		ret = p ? udp_from("10.200.0.2", 53, p, &res) : -1;
		ok.sport = htons(20074);
		rk.dport = htons(p);
		/* 2.5 s ago: past the stream's 2 s, within the 3 s an
		 * answered flow has at least (the datapath's clock is
		 * coarse, a few ms behind) */
		if (!bpf_map_lookup_elem(fb->ct_fd, &ok, &e) &&
		    !bpf_map_lookup_elem(fb->ct_fd, &rk, &r)) {
			e.last_ns = r.last_ns = mono_ago(2) - 500000000ULL;
			bpf_map_update_elem(fb->ct_fd, &ok, &e, BPF_EXIST);
			bpf_map_update_elem(fb->ct_fd, &rk, &r, BPF_EXIST);
			ret = ret == TC_ACT_REDIRECT ?
			      udp_from("10.200.0.2", 53, p, &res) : ret;
		}
		n.ct_timeout[KVB_CT_T_UDP] = 0;
		net_put(fb, &n);
		CHECK(ret == TC_ACT_REDIRECT &&
		      !bpf_map_lookup_elem(fb->ct_fd, &rk, &r) &&
		      r.state == KVB_CT_ESTABLISHED, "ct-timeout udp 1: the "
		      "remote's datagram 2 s on: verdict %d, state %u, want "
		      "a stream", ret, r.state);
	}
	ct_flush_net(fb, NET_NAT);
}

/* An IPv4 frame's header checksum alone (a protocol without ports). */
static void ip_csum4(struct frame *f)
{
	__u16 c;

	f->buf[24] = f->buf[25] = 0;
	c = ip_csum_check(f->buf);
	f->buf[24] = (__u8)(c >> 8), f->buf[25] = (__u8)c;
}

/* A GRE-like packet of protocol proto, 24 bytes, from saddr to daddr. */
static void gen_frame(struct frame *f, __u8 proto, const char *saddr,
		      const char *daddr)
{
	__u8 l4[24] = { 0, 0, 0x08, 0x00 };	/* GRE: IPv4 inside */
	__be32 d = inet_addr(daddr);

	for (int i = 4; i < 24; i++)
		l4[i] = (__u8)(i * 13);
	frame_ip4(f, natnet.uplink_mac, N1, inet_addr(saddr), proto, l4, 24);
	memcpy(f->buf + 14 + 16, &d, 4);
	ip_csum4(f);
}

/* From remote to the NAT address: ICMP fragmentation needed quoting a
 * GRE packet from the NAT address to remote. */
static void gre_frag_needed(struct frame *f, __be32 remote)
{
	__u8 icmp[8 + 20 + 8] = { 3, 4, 0, 0, 0, 0, 0x05, 0x78 };
	__u8 *q = icmp + 8;
	__u16 c;

	q[0] = 0x45, q[3] = 44, q[8] = 63, q[9] = 47;
	memcpy(q + 12, &natnet.nat_ip, 4);
	memcpy(q + 16, &remote, 4);
	c = csum_fold16(sum16(q, 20, 0));
	q[10] = (__u8)(c >> 8), q[11] = (__u8)c;
	q[22] = 0x08;
	c = csum_fold16(sum16(icmp, sizeof(icmp), 0));
	icmp[2] = (__u8)(c >> 8), icmp[3] = (__u8)c;
	frame_ip4(f, natnet.uplink_mac, N1, remote, IPPROTO_ICMP, icmp,
		  sizeof(icmp));
	memcpy(f->buf + 14 + 16, &natnet.nat_ip, 4);
	ip_csum4(f);
}

/*
 * Protocols without ports (GRE, ESP, SCTP, IPIP...) are translated by
 * their addresses alone, both ways, their payload untouched; one guest at
 * a time has such a flow with a remote (another's is nat-clash), and a
 * remote whose packets of that protocol the host itself received lately
 * (its own tunnel) is the host's: no guest's flow takes them. AH (it
 * authenticates the addresses) stays nat-protocol. Before, every one of
 * them was nat-protocol.
 */
static void t_nat_generic_protocols(struct fabric *fb)
{
	static const __u8 N3[6] = { 0x52, 0x54, 0, 0, 0x5a, 3 };
	struct port_opts g = { .naddrs = 1, .mac = N3 };
	__be32 guest = inet_addr("192.168.90.11");
	__u64 clash0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_CLASH], clash3;
	__u64 proto0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_PROTO];
	struct kvb_ct_key ok = { .saddr = guest, .proto = 47 }, rk;
	struct frame in, out, res;
	__u32 kn3;
	int ret;

	ct_flush_net(fb, NET_NAT);
	/* a guest's GRE out: the source is the NAT address, nothing else
	 * changed but the TTL */
	gen_frame(&in, 47, "192.168.90.11", "10.200.0.2");
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "GRE out: verdict %d", ret);
	CHECK(!memcmp(out.buf + 14 + 12, &natnet.nat_ip, 4) &&
	      !memcmp(out.buf + 14 + 16, in.buf + 14 + 16, 4) &&
	      !memcmp(out.buf + 34, in.buf + 34, 24) && !ip_csum_check(out.buf),
	      "GRE out: source, destination, payload or IP checksum wrong");
	ok.daddr = inet_addr("10.200.0.2");
	rk = (struct kvb_ct_key){ .saddr = ok.daddr, .daddr = natnet.nat_ip,
				  .proto = 47, .dir = 1 };
	{
		struct kvb_ct e;

		CHECK(!bpf_map_lookup_elem(fb->ct_fd, &ok, &e) && !e.port &&
		      !bpf_map_lookup_elem(fb->ct_fd, &rk, &e) &&
		      e.addr == guest && !e.port,
		      "GRE flow's entries (ports 0) not found");
	}
	/* the remote's GRE back: to the guest */
	gen_frame(&in, 47, "10.200.0.2", "10.200.0.1");
	memcpy(in.buf + 14 + 16, &natnet.nat_ip, 4);
	ip_csum4(&in);
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6) &&
	      !memcmp(res.buf + 14 + 16, &guest, 4) &&
	      !memcmp(res.buf + 34, in.buf + 34, 24) && !ip_csum_check(res.buf),
	      "GRE back: verdict %d, or the frame is wrong", ret);
	/* a WAN error about it (fragmentation needed): the quote turned
	 * back into the guest's packet, every checksum right */
	gre_frag_needed(&in, ok.daddr);
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6) &&
	      !memcmp(res.buf + 14 + 16, &guest, 4) &&
	      !memcmp(res.buf + 34 + 8 + 12, &guest, 4) &&
	      !ip_csum_check(res.buf) &&
	      !csum_fold16(sum16(res.buf + 34 + 8, 20, 0)) &&
	      !csum_fold16(sum16(res.buf + 34, 36, 0)) &&
	      !memcmp(res.buf + 34 + 28, in.buf + 34 + 28, 8),
	      "frag needed about GRE: verdict %d, or the quote wrong", ret);
	/* ESP too */
	gen_frame(&in, 50, "192.168.90.11", "10.200.0.4");
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(out.buf + 14 + 12,
						&natnet.nat_ip, 4),
	      "ESP out: verdict %d", ret);
	/* AH authenticates the addresses: not translated */
	gen_frame(&in, 51, "192.168.90.11", "10.200.0.2");
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_SHOT &&
	      port_stats(fb, kn1).drop[KVB_DROP_NAT_PROTO] == proto0 + 1,
	      "AH: verdict %d, nat-protocol +%llu", ret, (unsigned long long)
	      (port_stats(fb, kn1).drop[KVB_DROP_NAT_PROTO] - proto0));
	/* the host's own GRE from 10.200.0.3 (no flow): the host's, and
	 * then no guest's flow takes that remote's GRE */
	gen_frame(&in, 47, "10.200.0.3", "10.200.0.1");
	memcpy(in.buf + 14 + 16, &natnet.nat_ip, 4);
	ip_csum4(&in);
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_UNSPEC, "the host's GRE: verdict %d", ret);
	gen_frame(&in, 47, "192.168.90.11", "10.200.0.3");
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_SHOT &&
	      port_stats(fb, kn1).drop[KVB_DROP_NAT_CLASH] == clash0 + 1,
	      "GRE to the host's GRE remote: verdict %d", ret);
	/* a guest's flow that is over (no answer, idle) does not hide the
	 * host's own GRE from that remote: noted all the same, and an error
	 * about the host's packet to it is the host's */
	gen_frame(&in, 47, "192.168.90.11", "10.200.0.5");
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "GRE to .5");
	{
		struct kvb_ct_key o5 = ok, r5 = rk;

		o5.daddr = r5.saddr = inet_addr("10.200.0.5");
		CHECK(!ct_age(fb, &o5, 400) && !ct_age(fb, &r5, 400), "aged");
		gre_frag_needed(&in, o5.daddr);
		ret = run_tc_out(F, kw, &in, &res);
		CHECK(ret == TC_ACT_UNSPEC, "an error about GRE to a remote whose "
		      "guest flow is over: verdict %d, want the host's", ret);
	}
	gen_frame(&in, 47, "10.200.0.5", "10.200.0.1");
	memcpy(in.buf + 14 + 16, &natnet.nat_ip, 4);
	ip_csum4(&in);
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_UNSPEC, "the host's GRE past a dead flow: verdict %d",
	      ret);
	gen_frame(&in, 47, "192.168.90.11", "10.200.0.5");
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_SHOT &&
	      port_stats(fb, kn1).drop[KVB_DROP_NAT_CLASH] == clash0 + 2,
	      "GRE to a remote the host had GRE from past a dead flow: "
	      "verdict %d", ret);
	/* another guest's GRE with the same remote: nat-clash while the
	 * first guest's flow lives, made once it is over */
	CHECK(!add_veth("kn3", &kn3) &&
	      !parse_addr("192.168.90.13", &g.addrs[0]) &&
	      !port_attach(fb, "unit", "kn3", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach kn3");
	clash3 = port_stats(fb, kn3).drop[KVB_DROP_NAT_CLASH];
	gen_frame(&in, 47, "192.168.90.13", "10.200.0.2");
	memcpy(in.buf + 6, N3, 6);
	ret = run_tc_out(F, kn3, &in, &out);
	CHECK(ret == TC_ACT_SHOT &&
	      port_stats(fb, kn3).drop[KVB_DROP_NAT_CLASH] == clash3 + 1,
	      "another guest's GRE with the same remote: verdict %d", ret);
	{
		/* counted before the ageing: whether this packet or the
		 * sweep frees the old flow, the same counts after */
		__u32 slot1 = port_slot(fb, kn1);
		__u64 n1 = 0, n1b = 0, c1 = ct_count(fb, NET_NAT), c2;
		struct kvb_ct e;

		bpf_map_lookup_elem(fb->ctpn_fd, &slot1, &n1);
		CHECK(!ct_age(fb, &ok, 400) && !ct_age(fb, &rk, 400), "aged");
		ret = run_tc_out(F, kn3, &in, &out);
		c2 = ct_count(fb, NET_NAT);
		bpf_map_lookup_elem(fb->ctpn_fd, &slot1, &n1b);
		CHECK(ret == TC_ACT_REDIRECT, "another guest's GRE once the "
		      "first's flow is over: verdict %d", ret);
		/* the old flow went whole (by the new flow or the sweep),
		 * its counts with it */
		CHECK(bpf_map_lookup_elem(fb->ct_fd, &ok, &e) && c2 == c1 &&
		      n1b == n1 - 1, "the old flow's entry %s, flows %llu -> "
		      "%llu, kn1's %llu -> %llu",
		      bpf_map_lookup_elem(fb->ct_fd, &ok, &e) ? "gone" : "left",
		      (unsigned long long)c1, (unsigned long long)c2,
		      (unsigned long long)n1, (unsigned long long)n1b);
	}
	gen_frame(&in, 47, "10.200.0.2", "10.200.0.1");
	memcpy(in.buf + 14 + 16, &natnet.nat_ip, 4);
	ip_csum4(&in);
	ret = run_tc_out(F, kw, &in, &res);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N3, 6),
	      "GRE back to the new flow's guest: verdict %d", ret);
	{
		struct kvb_port p;

		if (!port_get(fb, kn3, &p))
			port_detach(fb, "unit", &p);
	}
	if (system("ip link del kn3"))
		fprintf(stderr, "# ip link del kn3 failed\n");
	ct_flush_net(fb, NET_NAT);
}

/* A full table refuses new flows, counted, and keeps serving live ones. */
static void t_nat_table_full(struct fabric *fb)
{
	struct kvb_ct_key k = { .proto = 99, .dir = 0 };
	/* live for ever: the sweep must not take them while it fills */
	struct kvb_ct v = { .net_id = 999, .last_ns = ~0ULL >> 1 };
	struct frame in, out;
	__u64 d0, d1;
	__u32 n = 0;
	int ret, full, evicted;

	guest_frame(&in, IPPROTO_UDP, 40010, 53, 16);
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "live flow");
	/* fill the table to the brim, by batches (two million entries) */
	{
		static struct kvb_ct_key keys[65536];
		static struct kvb_ct vals[65536];

		for (__u32 i = 0; i < 65536; i++)
			vals[i] = v;
		for (__u32 base = 0; base < KVB_MAX_CT; base += 65536) {
			__u32 count = 65536;

			for (__u32 i = 0; i < 65536; i++) {
				keys[i] = k;
				keys[i].saddr = base + i;
			}
			/* keys are new: no flags (batches take BPF_F_LOCK only) */
			if (bpf_map_update_batch(fb->ct_fd, keys, vals, &count, NULL)) {
				n += count;
				break;	/* full (E2BIG) */
			}
			n += count;
		}
	}
	k.saddr = 0xffffffff;
	full = bpf_map_update_elem(fb->ct_fd, &k, &v, BPF_NOEXIST) && errno == E2BIG;
	{
		/* what one sweep of a full table costs (a figure, not a test) */
		struct kvb_ctsweep st;
		__u32 zero = 0;

		memset(&st, 0, sizeof(st));
		usleep(1200000);
		bpf_map_lookup_elem(fb->ctsweep_fd, &zero, &st);
		printf("INFO sweep of a full table: %llu entries visited in "
		       "%llu us\n", (unsigned long long)st.seen,
		       (unsigned long long)st.ns / 1000);
	}
	d0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_FULL];
	guest_frame(&in, IPPROTO_UDP, 40011, 53, 16);
	ret = run_tc_out(F, kn1, &in, &out);
	d1 = port_stats(fb, kn1).drop[KVB_DROP_NAT_FULL];
	/*
	 * The same full table, but its flows early eviction's candidates
	 * (a heavy holder's flows not established, in the pool, as a
	 * flooding guest beyond half its share leaves them): a new flow
	 * of another guest ends one of them and is made. Before, a full
	 * table refused every new flow of every nat network, however
	 * little their guests held.
	 */
	{
		struct kvb_ct_key c = { .proto = 99, .dir = 0 };
		char path[600];
		int ev, placed = 0;

		snprintf(path, sizeof(path), "%s/%s", fb->dir, KVB_MAP_CTEV);
		ev = bpf_obj_get(path);
		for (__u32 i = 0; ev >= 0 && i < KVB_EVICT_POOL; i++) {
			c.saddr = i;	/* the fill's keys, from base 0 */
			placed += !bpf_map_update_elem(ev, &i, &c, BPF_ANY);
		}
		/* the fill's flows are one entry each, a real flow two:
		 * one place more, which alone would not hold the new one */
		c.saddr = KVB_EVICT_POOL + 5;
		bpf_map_delete_elem(fb->ct_fd, &c);
		guest_frame(&in, IPPROTO_UDP, 40012, 53, 16);
		evicted = run_tc_out(F, kn1, &in, &out);
		memset(&c, 0, sizeof(c));
		for (__u32 i = 0; ev >= 0 && i < KVB_EVICT_POOL; i++)
			bpf_map_update_elem(ev, &i, &c, BPF_ANY);
		if (ev >= 0)
			close(ev);
		CHECK(placed == KVB_EVICT_POOL, "%d candidates placed", placed);
	}
	ct_flush_net(fb, 999);
	CHECK(full, "the table is not full after %u entries", n);
	CHECK(ret == TC_ACT_SHOT, "new flow in a full table: verdict %d", ret);
	CHECK(d1 == d0 + 1, "nat-table-full not counted");
	CHECK(evicted == TC_ACT_REDIRECT,
	      "new flow in a table full of candidates: verdict %d", evicted);
	guest_frame(&in, IPPROTO_UDP, 40010, 53, 16);
	/* the live flow kept its entries (checked before the flush above
	 * by the same lookups the datapath makes) */
	CHECK(run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT, "live flow lost");
}

/*
 * A sweep that stops at its cap (KVB_CT_SWEEP_MAX flows freed) left dead
 * flows behind, and the next comes soon, not 50 runs' time later: before,
 * a flood of connections that died faster than 16,384 per such wait
 * (a few thousand a second on a big table) outgrew the sweep, and the
 * dead flows past where every run stopped (other guests', holding their
 * shares and NAT ports) never went. 100,000 dead flows of a network id no
 * network has (proto 99, never answered, so dead after 30 s of uptime)
 * and its count: while more than one run's cap of them is left, the last
 * run was capped, and the next must be under a second away; once all are
 * gone, the sweep's pace is the quiet one again (a second or more).
 */
static void t_nat_sweep_backlog(struct fabric *fb)
{
	enum { N = 100000, NET = 201 };
	static struct kvb_ct_key keys[N];
	static struct kvb_ct vals[N];
	struct kvb_ctsweep st;
	__u64 cnt = N, left = N, runs0, quick_next = 0;
	__u32 zero = 0, net = NET, count = N;
	int seen_backlog = 0, made;

	for (__u32 i = 0; i < N; i++) {
		memset(&keys[i], 0, sizeof(keys[i]));
		keys[i].proto = 99;
		keys[i].saddr = htonl(0x0a630000 + i);
		keys[i].daddr = htonl(0x0a640001);
		memset(&vals[i], 0, sizeof(vals[i]));
		vals[i].net_id = NET;
		vals[i].last_ns = 1;	/* boot: long dead */
	}
	memset(&st, 0, sizeof(st));
	bpf_map_lookup_elem(fb->ctsweep_fd, &zero, &st);
	runs0 = st.runs;
	made = !bpf_map_update_batch(fb->ct_fd, keys, vals, &count, NULL) &&
	       count == N;
	bpf_map_update_elem(fb->ctcnt_fd, &net, &cnt, BPF_ANY);
	/* at most 60 s: each run frees 16,384, about 7 runs */
	for (int w = 0; w < 60000 && left; w++) {
		memset(&st, 0, sizeof(st));
		bpf_map_lookup_elem(fb->ctsweep_fd, &zero, &st);
		bpf_map_lookup_elem(fb->ctcnt_fd, &net, &left);
		/* st was read first: every run it saw left more than its
		 * cap behind, so the last of them stopped at the cap */
		if (st.runs > runs0 && left > KVB_CT_SWEEP_MAX &&
		    left < N) {
			seen_backlog = 1;
			if (!quick_next || st.next_ns > quick_next)
				quick_next = st.next_ns;
		}
		usleep(1000);
	}
	/* one more run on a table without the backlog: the quiet pace */
	runs0 = st.runs;
	for (int w = 0; w < 5000 && st.runs <= runs0 + 1; w++) {
		usleep(1000);
		bpf_map_lookup_elem(fb->ctsweep_fd, &zero, &st);
	}
	cnt = 0;
	bpf_map_update_elem(fb->ctcnt_fd, &net, &cnt, BPF_ANY);
	ct_flush_net(fb, NET);
	CHECK(made, "%u of %u dead flows inserted", count, N);
	CHECK(!left, "%llu of %u dead flows left after 60 s",
	      (unsigned long long)left, N);
	CHECK(seen_backlog && quick_next && quick_next < KVB_CT_SWEEP_NS,
	      "while a backlog was left, the next run was %llu ns away "
	      "(seen %d)", (unsigned long long)quick_next, seen_backlog);
	CHECK(st.next_ns >= KVB_CT_SWEEP_NS,
	      "without a backlog, the next run %llu ns away",
	      (unsigned long long)st.next_ns);
}

/* A tracked UDP flow (guest port sport to the remote's 53), and its
 * reply as the remote sends it, checksummed, into *back. */
static int udp_reply(struct frame *back, __u16 sport)
{
	struct frame in, out;

	guest_frame(&in, IPPROTO_UDP, sport, 53, 16);
	if (run_tc_out(F, kn1, &in, &out) != TC_ACT_REDIRECT)
		return -1;
	*back = out;
	memcpy(back->buf + 14 + 12, out.buf + 14 + 16, 4);
	memcpy(back->buf + 14 + 16, out.buf + 14 + 12, 4);
	memcpy(back->buf + 34, out.buf + 36, 2);
	memcpy(back->buf + 36, out.buf + 34, 2);
	back->buf[14 + 8] = 64;
	frame_csum4(back);
	return 0;
}

/*
 * Frames from the WAN that NAT would act on pass the same admission as
 * any port's and are counted on the WAN port: a tracked flow's reply with
 * a UDP length beyond the packet is dropped (l4-malformed), a first
 * fragment is dropped (nat-fragment: the later ones cannot be
 * translated); the same malformed frame for no flow of ours is the host's,
 * untouched and not counted.
 */
static void t_nat_wan_admission(struct fabric *fb)
{
	struct kvb_stats s0 = port_stats(fb, kw), s1;
	struct frame back, res;
	int ret;

	CHECK(!udp_reply(&back, 40600), "flow");
	ret = run_tc_out(F, kw, &back, &res);
	CHECK(ret == TC_ACT_REDIRECT, "good reply: verdict %d", ret);
	s1 = port_stats(fb, kw);
	CHECK(s1.rx_packets == s0.rx_packets + 1, "reply not counted on the WAN");

	CHECK(!udp_reply(&back, 40601), "flow");
	back.buf[34 + 4] = 0x05;	/* UDP length 1280+, beyond the packet */
	frame_csum4(&back);
	ret = run_tc_out(F, kw, &back, &res);
	CHECK(ret == TC_ACT_SHOT, "malformed reply: verdict %d", ret);
	s1 = port_stats(fb, kw);
	CHECK(s1.drop[KVB_DROP_L4] == s0.drop[KVB_DROP_L4] + 1,
	      "l4-malformed not counted on the WAN port");

	back.buf[36] = 0x15, back.buf[37] = 0xb3;	/* to 5555: no flow */
	frame_csum4(&back);
	ret = run_tc_out(F, kw, &back, &res);
	CHECK(ret == TC_ACT_UNSPEC, "the host's malformed frame: verdict %d", ret);
	CHECK(!memcmp(res.buf, back.buf, back.len), "the host's frame changed");
	CHECK(port_stats(fb, kw).drop[KVB_DROP_L4] == s1.drop[KVB_DROP_L4],
	      "the host's frame was judged");

	/* a first fragment of a reply is admitted and translated (its
	 * later ones follow it: t_nat_fragments) */
	CHECK(!udp_reply(&back, 40602), "flow");
	back.buf[14 + 6] = 0x20;	/* more fragments, offset 0 */
	back.buf[14 + 2] = 0, back.buf[14 + 3] = 20 + 8 + 8;
	back.len = 14 + 20 + 8 + 8;
	frame_csum4(&back);
	ret = run_tc_out(F, kw, &back, &res);
	CHECK(ret == TC_ACT_REDIRECT, "first fragment: verdict %d", ret);
	CHECK(port_stats(fb, kw).drop[KVB_DROP_NAT_FRAG] ==
	      s0.drop[KVB_DROP_NAT_FRAG], "a first fragment counted nat-fragment");
}

/* The IPv4 header checksum of f, anew. */
static void ip_csum_set(struct frame *f)
{
	__u16 c;

	f->buf[14 + 10] = f->buf[14 + 11] = 0;
	c = ip_csum_check(f->buf);
	f->buf[14 + 10] = (__u8)(c >> 8), f->buf[14 + 11] = (__u8)c;
}

/*
 * whole (an unfragmented IPv4 frame, IHL 5) as a sender fragments it:
 * the first fragment (a) with the first at bytes of its L4 part (a
 * multiple of 8) and more to come, the later one (b) with the rest, both
 * of datagram id.
 */
static void frag_split(const struct frame *whole, __u32 at, __u16 id,
		       struct frame *a, struct frame *b)
{
	__u32 l4len = get16(whole->buf + 14 + 2) - 20u;

	*a = *whole;
	*b = *whole;
	a->len = 14 + 20 + at;
	a->buf[14 + 2] = (__u8)((20 + at) >> 8), a->buf[14 + 3] = (__u8)(20 + at);
	a->buf[14 + 4] = (__u8)(id >> 8), a->buf[14 + 5] = (__u8)id;
	a->buf[14 + 6] = 0x20, a->buf[14 + 7] = 0;
	ip_csum_set(a);
	memcpy(b->buf + 34, whole->buf + 34 + at, l4len - at);
	b->len = 14 + 20 + l4len - at;
	b->buf[14 + 2] = (__u8)((20 + l4len - at) >> 8);
	b->buf[14 + 3] = (__u8)(20 + l4len - at);
	b->buf[14 + 4] = (__u8)(id >> 8), b->buf[14 + 5] = (__u8)id;
	b->buf[14 + 6] = (__u8)((at / 8) >> 8), b->buf[14 + 7] = (__u8)(at / 8);
	ip_csum_set(b);
}

/* The datagram of fragments a (first) and b (later) as they left, whole
 * again in w (a's headers), for its L4 checksum. */
static void frag_join(const struct frame *a, const struct frame *b,
		      struct frame *w)
{
	__u32 la = a->len - 34, lb = b->len - 34;

	*w = *a;
	memcpy(w->buf + 34 + la, b->buf + 34, lb);
	w->len = 34 + la + lb;
	w->buf[14 + 2] = (__u8)((20 + la + lb) >> 8);
	w->buf[14 + 3] = (__u8)(20 + la + lb);
	w->buf[14 + 6] = w->buf[14 + 7] = 0;
	ip_csum_set(w);
}

/*
 * A later fragment takes its ports only from a note that is its
 * datagram's: the note a first fragment leaves (kvb_natfrag) carries its
 * key and a check word, as an LRU entry can be another datagram's, or
 * half rewritten, by the time it is read. The note written is checked;
 * one planted by the test is taken; a torn one and one that carries
 * another datagram's key are not (nat-fragment).
 */
static void t_nat_fragment_note_checks_key(struct fabric *fb)
{
	struct kvb_natfrag_key k;
	struct kvb_natfrag v, p;
	struct frame whole, a, b, oa, ob;
	int fd, ok, put = 0, good, torn, foreign;
	__u64 d0;

	fd = pinned_map(fb, KVB_MAP_NATFRAG);
	if (fd < 0)
		return;
	map_empty(fd);
	guest_frame(&whole, IPPROTO_UDP, 40710, 4500, 200);
	frag_split(&whole, 104, 0x6161, &a, &b);
	ok = run_tc_out(F, kn1, &a, &oa) == TC_ACT_REDIRECT &&
	     !map_only_key(fd, &k, sizeof(k)) &&
	     !bpf_map_lookup_elem(fd, &k, &v);
	if (!ok)
		close(fd);
	CHECK(ok, "first fragment out: not redirected, or not one note");
	d0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_FRAG];
	/* each case plants its own note */
	p = v;
	p.until_ns = now_ns() + 20000000000ULL;
	p.check = kvb_natfrag_check(&p);
	put |= bpf_map_update_elem(fd, &k, &p, BPF_ANY);
	good = run_tc_out(F, kn1, &b, &ob);
	p.until_ns += 1;		/* torn: the check word is the old one's */
	put |= bpf_map_update_elem(fd, &k, &p, BPF_ANY);
	torn = run_tc_out(F, kn1, &b, &ob);
	p.key.id ^= htons(0x0101);	/* another datagram's, whole */
	p.check = kvb_natfrag_check(&p);
	put |= bpf_map_update_elem(fd, &k, &p, BPF_ANY);
	foreign = run_tc_out(F, kn1, &b, &ob);
	bpf_map_delete_elem(fd, &k);
	close(fd);
	CHECK(!memcmp(&v.key, &k, sizeof(k)) &&
	      v.check == kvb_natfrag_check(&v) && v.sport == htons(40710) &&
	      v.dport == htons(4500) && v.until_ns > now_ns(),
	      "the note does not carry its key, check word, ports or a time "
	      "ahead");
	CHECK(!put, "cannot plant a note");
	CHECK(good == TC_ACT_REDIRECT, "a planted note refused: verdict %d",
	      good);
	CHECK(torn == TC_ACT_SHOT, "a torn note taken: verdict %d", torn);
	CHECK(foreign == TC_ACT_SHOT, "another datagram's note taken: verdict "
	      "%d", foreign);
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_NAT_FRAG] == d0 + 2,
	      "nat-fragment counted %llu times, not 2", (unsigned long long)
	      (port_stats(fb, kn1).drop[KVB_DROP_NAT_FRAG] - d0));
}

/*
 * The host's note of a remote (kvb_nathost) holds only when it is that
 * remote's: it carries its key and a check word. The note the host's
 * own GRE leaves is checked; a planted one keeps a guest's GRE flow to
 * that remote from being made (nat-clash); a torn one, and one that
 * carries another remote's key, do not.
 */
static void t_nat_host_note_checks_key(struct fabric *fb)
{
	struct kvb_nathost_key k;
	struct kvb_nathost v, p;
	struct frame in, out, res;
	int fd, ok, put = 0, good, torn, foreign;
	__u64 c0;

	fd = pinned_map(fb, KVB_MAP_NATHOST);
	if (fd < 0)
		return;
	map_empty(fd);
	ct_flush_net(fb, NET_NAT);
	gen_frame(&in, 47, "10.200.0.7", "10.200.0.1");
	memcpy(in.buf + 14 + 16, &natnet.nat_ip, 4);
	ip_csum4(&in);
	ok = run_tc_out(F, kw, &in, &res) == TC_ACT_UNSPEC &&
	     !map_only_key(fd, &k, sizeof(k)) &&
	     !bpf_map_lookup_elem(fd, &k, &v);
	if (!ok)
		close(fd);
	CHECK(ok, "the host's GRE: not the host's, or not one note");
	c0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_CLASH];
	gen_frame(&in, 47, "192.168.90.11", "10.200.0.7");
	p = v;
	p.last_ns = now_ns();
	p.check = kvb_nathost_check(&p);
	put |= bpf_map_update_elem(fd, &k, &p, BPF_EXIST);
	good = run_tc_out(F, kn1, &in, &out);
	p.last_ns += 1;			/* torn: the check word is the old one's */
	put |= bpf_map_update_elem(fd, &k, &p, BPF_EXIST);
	torn = run_tc_out(F, kn1, &in, &out);
	ct_flush_net(fb, NET_NAT);
	p.key.raddr = inet_addr("10.200.0.8");	/* another remote's, whole */
	p.check = kvb_nathost_check(&p);
	put |= bpf_map_update_elem(fd, &k, &p, BPF_EXIST);
	foreign = run_tc_out(F, kn1, &in, &out);
	ct_flush_net(fb, NET_NAT);
	bpf_map_delete_elem(fd, &k);
	close(fd);
	CHECK(!memcmp(&v.key, &k, sizeof(k)) &&
	      k.raddr == inet_addr("10.200.0.7") && k.proto == 47 &&
	      v.check == kvb_nathost_check(&v),
	      "the note does not carry its key or check word");
	CHECK(!put, "cannot plant a note");
	CHECK(good == TC_ACT_SHOT &&
	      port_stats(fb, kn1).drop[KVB_DROP_NAT_CLASH] == c0 + 1,
	      "a planted note not kept: verdict %d, nat-clash +%llu", good,
	      (unsigned long long)(port_stats(fb, kn1).drop[KVB_DROP_NAT_CLASH] - c0));
	CHECK(torn == TC_ACT_REDIRECT, "a torn note kept the remote: verdict "
	      "%d", torn);
	CHECK(foreign == TC_ACT_REDIRECT, "another remote's note kept it: "
	      "verdict %d", foreign);
}

/*
 * Fragmented datagrams through NAT, as a guest's kernel sends a UDP
 * datagram or a ping beyond its MTU and a remote answers alike. The first
 * fragment is translated as any packet of its flow; the later one (no
 * ports) follows it: source (then destination) address translated, IP
 * checksum right, payload untouched, and the datagram put together again
 * has a right UDP (ICMP) checksum. A later fragment of no datagram seen
 * is refused from a guest (nat-fragment) and left to the host from the
 * WAN, as before.
 */
static void t_nat_fragments(struct fabric *fb)
{
	struct kvb_stats s0 = port_stats(fb, kn1);
	struct frame whole, a, b, oa, ob, w;
	int ret;

	/* out: 208 bytes of UDP in 104 + 104 */
	guest_frame(&whole, IPPROTO_UDP, 40700, 4500, 200);
	frag_split(&whole, 104, 0x4242, &a, &b);
	ret = run_tc_out(F, kn1, &a, &oa);
	CHECK(ret == TC_ACT_REDIRECT, "first fragment out: verdict %d", ret);
	ret = run_tc_out(F, kn1, &b, &ob);
	CHECK(ret == TC_ACT_REDIRECT, "later fragment out: verdict %d", ret);
	CHECK(!memcmp(ob.buf + 14 + 12, &natnet.nat_ip, 4),
	      "later fragment out: source not translated");
	CHECK(ob.buf[14 + 8] == 63 && !ip_csum_check(ob.buf),
	      "later fragment out: TTL %u or IP checksum", ob.buf[14 + 8]);
	CHECK(!memcmp(ob.buf + 34, b.buf + 34, b.len - 34) && ob.len == b.len,
	      "later fragment out: its payload changed");
	frag_join(&oa, &ob, &w);
	CHECK(!l4_csum_check(w.buf), "the datagram out: bad UDP checksum");

	/* a later fragment of another datagram (no first seen) */
	b.buf[14 + 5] = 0x43;
	ip_csum_set(&b);
	ret = run_tc_out(F, kn1, &b, &ob);
	CHECK(ret == TC_ACT_SHOT, "lone later fragment out: verdict %d", ret);
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_NAT_FRAG] ==
	      s0.drop[KVB_DROP_NAT_FRAG] + 1, "nat-fragment not counted");

	/* the answer, 208 bytes fragmented by the remote: to the guest */
	whole = w;
	memcpy(whole.buf + 14 + 12, w.buf + 14 + 16, 4);
	memcpy(whole.buf + 14 + 16, w.buf + 14 + 12, 4);
	memcpy(whole.buf + 34, w.buf + 36, 2);
	memcpy(whole.buf + 36, w.buf + 34, 2);
	whole.buf[14 + 8] = 64;
	frame_csum4(&whole);
	frag_split(&whole, 104, 0x5151, &a, &b);
	ret = run_tc_out(F, kw, &a, &oa);
	CHECK(ret == TC_ACT_REDIRECT, "first fragment in: verdict %d", ret);
	ret = run_tc_out(F, kw, &b, &ob);
	CHECK(ret == TC_ACT_REDIRECT, "later fragment in: verdict %d", ret);
	CHECK(ob.buf[14 + 16] == 192 && ob.buf[14 + 19] == 11,
	      "later fragment in: not to the guest's address");
	CHECK(!memcmp(ob.buf, N1, 6), "later fragment in: not to the guest's MAC");
	CHECK(ob.buf[14 + 8] == 63 && !ip_csum_check(ob.buf),
	      "later fragment in: TTL %u or IP checksum", ob.buf[14 + 8]);
	CHECK(!memcmp(ob.buf + 34, b.buf + 34, b.len - 34),
	      "later fragment in: its payload changed");
	frag_join(&oa, &ob, &w);
	CHECK(get16(w.buf + 36) == 40700 && !l4_csum_check(w.buf),
	      "the datagram in: port %u or UDP checksum", get16(w.buf + 36));

	/* all of the datagram passed (its two fragments): its note ended,
	 * so a fragment of its id again (a duplicate, or another
	 * datagram's that came before its own first) is the host's and
	 * never takes this one's ports (t102); a middle fragment behind
	 * the last still finds it (nat.sh, t93) */
	ret = run_tc_out(F, kw, &b, &ob);
	CHECK(ret == TC_ACT_UNSPEC && !memcmp(ob.buf, b.buf, b.len),
	      "a fragment after the whole datagram: verdict %d, or changed",
	      ret);

	/* from the WAN, a later fragment of no datagram seen: the host's */
	b.buf[14 + 5] = 0x52;
	ip_csum_set(&b);
	ret = run_tc_out(F, kw, &b, &ob);
	CHECK(ret == TC_ACT_UNSPEC && !memcmp(ob.buf, b.buf, b.len),
	      "lone later fragment in: verdict %d, or changed", ret);

	/*
	 * A datagram of the remote's to the host's own port 5555, with the
	 * id of a flow's datagram whose first fragment came (and noted):
	 * its first fragment is the host's and forgets the note, so its
	 * later one stays the host's too, never the guest's.
	 */
	frag_split(&whole, 104, 0x5353, &a, &b);
	ret = run_tc_out(F, kw, &a, &oa);
	CHECK(ret == TC_ACT_REDIRECT, "a flow's first fragment: verdict %d",
	      ret);
	whole.buf[36] = 0x15, whole.buf[37] = 0xb3;	/* to 5555: no flow */
	frame_csum4(&whole);
	frag_split(&whole, 104, 0x5353, &a, &b);
	ret = run_tc_out(F, kw, &a, &oa);
	CHECK(ret == TC_ACT_UNSPEC, "the host's first fragment: verdict %d", ret);
	ret = run_tc_out(F, kw, &b, &ob);
	CHECK(ret == TC_ACT_UNSPEC && !memcmp(ob.buf, b.buf, b.len),
	      "the host's later fragment: verdict %d, or changed", ret);

	/* a ping of 208 bytes: its identifier in the first fragment */
	guest_frame(&whole, IPPROTO_ICMP, 0x77, 0, 200);
	frag_split(&whole, 104, 0x6161, &a, &b);
	ret = run_tc_out(F, kn1, &a, &oa);
	CHECK(ret == TC_ACT_REDIRECT, "first fragment of a ping: verdict %d", ret);
	ret = run_tc_out(F, kn1, &b, &ob);
	CHECK(ret == TC_ACT_REDIRECT, "later fragment of a ping: verdict %d",
	      ret);
	frag_join(&oa, &ob, &w);
	CHECK(!memcmp(w.buf + 14 + 12, &natnet.nat_ip, 4) &&
	      !l4_csum_check(w.buf), "the ping out: address or ICMP checksum");
}

/*
 * Hairpin is guest to guest: kn1 connecting to the WAN address on a port
 * forwarded to an isolated guest (kn2) is refused, counted isolated.
 */
static void t_nat_hairpin_into_isolated_port(struct fabric *fb)
{
	static const __u8 N2[6] = { 0x52, 0x54, 0, 0, 0x5a, 2 };
	struct port_opts g = { .naddrs = 1, .mac = N2, .isolated = true };
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8086),
				  .proto = IPPROTO_TCP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.12"),
			      .to_port = htons(80), .net_id = NET_NAT };
	__u64 d0 = port_stats(fb, kn1).drop[KVB_DROP_ISOLATED];
	struct frame in, out;
	__u32 kn2;
	int ret;

	CHECK(!add_veth("kn2", &kn2) &&
	      !parse_addr("192.168.90.12", &g.addrs[0]) &&
	      !port_attach(fb, "unit", "kn2", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach kn2");
	fw.ifindex = kn2;
	memcpy(fw.mac, N2, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	guest_frame(&in, IPPROTO_TCP, 40500, 8086, 0);
	memcpy(in.buf + 14 + 16, &natnet.nat_ip, 4);
	frame_csum4(&in);
	ret = run_tc_out(F, kn1, &in, &out);
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	CHECK(ret == TC_ACT_SHOT, "verdict %d (to %02x:..:%02x)", ret,
	      out.buf[0], out.buf[5]);
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_ISOLATED] == d0 + 1,
	      "isolated not counted");
}

/* The translated port of a guest flow, or 0 when it was refused. */
static __u16 flow_port(__u8 proto, __u16 sport, __u16 dport)
{
	struct frame in, out;

	guest_frame(&in, proto, sport, dport, 16);
	if (run_tc_out(F, kn1, &in, &out) != TC_ACT_REDIRECT)
		return 0;
	return get16(out.buf + 34);
}

/*
 * NAT's ports are never ones the host's stack picks for itself: net add
 * reads net.ipv4.ip_local_port_range, and flows take the other ports.
 */
static void t_nat_ports_outside_ephemeral_range(struct fabric *fb)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned int lo = 0, hi = 0;
	__u16 l = 0, h = 0, p;

	CHECK(f && fscanf(f, "%u %u", &lo, &hi) == 2, "ip_local_port_range");
	if (f)
		fclose(f);
	CHECK(!nat_port_range(&l, &h) && l == lo && h == hi,
	      "net add's idea of the host's range %u-%u, /proc says %u-%u", l,
	      h, lo, hi);
	(void)fb;
	for (__u16 sp = 41000; sp < 41032; sp++) {
		p = flow_port(IPPROTO_UDP, sp, 53);
		CHECK(p >= 1024 && (p < lo || p > hi), "flow from %u got port "
		      "%u, in the host's ephemeral range %u-%u", sp, p, lo, hi);
	}
}

/* Set the host ports the network avoids (0, 0: the default). */
static void nat_ports(struct fabric *fb, __u16 lo, __u16 hi)
{
	struct kvb_net n;

	if (!net_get(fb, NET_NAT, &n)) {
		n.host_port_lo = lo;
		n.host_port_hi = hi;
		net_put(fb, &n);
	}
}

/* A host socket bound to ip:port, or -1; TCP ones listen. */
static int host_socket(int type, const char *ip, __u16 port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = inet_addr(ip) };
	int fd = socket(AF_INET, type, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    (type == SOCK_STREAM && listen(fd, 1))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A port the host's own socket holds is never a flow's: its packets stay
 * the host's (a listener on any address, a UDP socket on the WAN one).
 */
static void t_nat_host_socket_not_shadowed(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_PORTS];
	int u = host_socket(SOCK_DGRAM, "10.200.0.1", 65535);
	int t = host_socket(SOCK_STREAM, "0.0.0.0", 65535);
	__u16 p1, p2, p3;

	CHECK(u >= 0 && t >= 0, "host sockets: %s", strerror(errno));
	nat_ports(fb, 1024, 65534);	/* leaves 65535, the host's */
	p1 = flow_port(IPPROTO_UDP, 41100, 53);
	nat_ports(fb, 1025, 65534);	/* 1024 and 65535 */
	p2 = flow_port(IPPROTO_UDP, 41101, 53);
	p3 = flow_port(IPPROTO_TCP, 41102, 80);
	nat_ports(fb, 0, 0);
	close(u);
	close(t);
	CHECK(p1 == 0, "a flow took port %u, a host UDP socket's", p1);
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_NAT_PORTS] == d0 + 1,
	      "refused flow not counted as nat-ports-exhausted (+%llu)",
	      (unsigned long long)(port_stats(fb, kn1).drop[KVB_DROP_NAT_PORTS] - d0));
	CHECK(p2 == 1024, "UDP flow got port %u, want 1024 (65535 is the "
	      "host's)", p2);
	CHECK(p3 == 1024, "TCP flow got port %u, want 1024 (a host "
	      "listener has 65535)", p3);
}

/*
 * The port a flow gets depends on the fabric's secret key (random at
 * creation): the same flows under two keys get other ports.
 */
static void t_nat_port_hash_is_keyed(struct fabric *fb)
{
	struct kvb_natst st, saved;
	__u32 zero = 0;
	__u16 a[4], b[4];
	int differ = 0;

	CHECK(!bpf_map_lookup_elem(fb->natst_fd, &zero, &saved) &&
	      (saved.key[0] || saved.key[1]), "no random key in kvb_natst");
	st = saved;
	for (int round = 0; round < 2; round++) {
		__u16 *p = round ? b : a;

		st.key[0] = round ? 0x0123456789abcdefULL : 1;
		st.key[1] = round ? 0xfedcba9876543210ULL : 2;
		bpf_map_update_elem(fb->natst_fd, &zero, &st, BPF_EXIST);
		for (int i = 0; i < 4; i++)
			p[i] = flow_port(IPPROTO_UDP, (__u16)(41200 + i), 53);
		ct_flush_net(fb, NET_NAT);
	}
	bpf_map_update_elem(fb->natst_fd, &zero, &saved, BPF_EXIST);
	for (int i = 0; i < 4; i++) {
		CHECK(a[i] && b[i], "flow %d refused", i);
		differ += a[i] != b[i];
	}
	CHECK(differ, "two keys gave the same ports (%u %u %u %u)", a[0],
	      a[1], a[2], a[3]);
}

/*
 * Expired flows are reclaimed without `ct flush`: a network at ct-max
 * whose flows expired takes new ones, its count drops to the live flows,
 * and a live flow is left alone.
 */
static void t_nat_expired_flows_reclaimed(struct fabric *fb)
{
	/* the three flows', sport each's */
	struct kvb_ct_key ok = guest_ct_key(IPPROTO_UDP, 0, 53), rk;
	struct kvb_ct o, r;
	struct kvb_net n;
	struct timespec ts;
	__u64 now, count;
	__u16 live, p, again;
	int gone = 1;

	ct_flush_net(fb, NET_NAT);
	CHECK(!net_get(fb, NET_NAT, &n), "net");
	n.ct_max = 4;
	net_put(fb, &n);
	live = flow_port(IPPROTO_UDP, 41300, 53);
	for (__u16 i = 0; i < 3; i++)
		CHECK(flow_port(IPPROTO_UDP, (__u16)(41301 + i), 53),
		      "flow %u within ct-max refused", i);
	/* answered flows: early eviction takes none of them */
	ct_establish_net(fb, NET_NAT);
	CHECK(!flow_port(IPPROTO_UDP, 41310, 53), "ct-max 4 not reached");
	/* three flows idle for 200 s both ways: past UDP's 180 s */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	for (__u16 i = 0; i < 3; i++) {
		ok.sport = htons((__u16)(41301 + i));
		if (bpf_map_lookup_elem(fb->ct_fd, &ok, &o))
			continue;
		kvb_ct_reply_key(&ok, &o, &rk);
		o.last_ns = now - 200000000000ULL;
		bpf_map_update_elem(fb->ct_fd, &ok, &o, BPF_EXIST);
		if (!bpf_map_lookup_elem(fb->ct_fd, &rk, &r)) {
			r.last_ns = o.last_ns;
			bpf_map_update_elem(fb->ct_fd, &rk, &r, BPF_EXIST);
		}
	}
	/* the sweep runs every second: wait for it, 5 s at most */
	for (int w = 0; w < 50 && ct_count(fb, NET_NAT) > 1; w++)
		usleep(100000);
	count = ct_count(fb, NET_NAT);
	p = flow_port(IPPROTO_UDP, 41310, 53);
	again = flow_port(IPPROTO_UDP, 41300, 53);
	for (__u16 i = 0; i < 3; i++) {
		ok.sport = htons((__u16)(41301 + i));
		gone &= !!bpf_map_lookup_elem(fb->ct_fd, &ok, &o);
	}
	n.ct_max = 0;
	net_put(fb, &n);
	ct_flush_net(fb, NET_NAT);
	{
		struct kvb_ctsweep st;
		__u32 zero = 0;

		memset(&st, 0, sizeof(st));
		bpf_map_lookup_elem(fb->ctsweep_fd, &zero, &st);
		CHECK(count == 1, "count %llu after the expiry, want 1 (the "
		      "live flow; sweeps %llu, freed %llu, gone %d)",
		      (unsigned long long)count,
		      (unsigned long long)st.runs,
		      (unsigned long long)st.freed, gone);
	}
	CHECK(gone, "expired flows still in the table");
	CHECK(p, "a new flow refused after the others expired");
	CHECK(live && again == live, "the live flow changed port (%u, %u)",
	      live, again);
}

/* Flush every flow, then wait (5 s at most) for two sweep runs, the last
 * of which found kvb_ct empty, so that the next ones skip it; 1 if so. */
static int ct_flush_and_wait_empty(struct fabric *fb)
{
	struct kvb_ctsweep st;
	__u64 runs0 = 0;
	__u32 zero = 0;

	ct_flush_net(fb, 0);
	for (int w = 0; w < 50; w++) {
		memset(&st, 0, sizeof(st));
		bpf_map_lookup_elem(fb->ctsweep_fd, &zero, &st);
		if (!runs0)
			runs0 = st.runs;
		if (st.runs >= runs0 + 2 && !st.ct_seen)
			return 1;
		usleep(100000);
	}
	return 0;
}

/*
 * The sweep leaves kvb_ct unwalked while its last walk found it empty and
 * no network counts a flow (two million empty buckets, once a second).
 * A flow made after such runs is still ended by the sweep once idle.
 */
static void t_nat_sweep_after_empty(struct fabric *fb)
{
	struct kvb_ct_key k, *prev = NULL;
	struct kvb_ct e;
	__u64 left = 0;
	int w;
	__u16 p;

	CHECK(ct_flush_and_wait_empty(fb),
	      "no sweep run found the flushed table empty");
	p = flow_port(IPPROTO_UDP, 41400, 53);
	CHECK(p && ct_count(fb, NET_NAT) == 1, "the flow refused (port %u)",
	      p);
	/* both its entries idle 200 s: past UDP's 180 s */
	while (!bpf_map_get_next_key(fb->ct_fd, prev, &k)) {
		prev = &k;
		if (!bpf_map_lookup_elem(fb->ct_fd, &k, &e)) {
			e.last_ns = mono_ago(200);
			bpf_map_update_elem(fb->ct_fd, &k, &e, BPF_EXIST);
		}
	}
	for (w = 0; w < 50 && ct_count(fb, NET_NAT); w++)
		usleep(100000);
	prev = NULL;
	while (!bpf_map_get_next_key(fb->ct_fd, prev, &k)) {
		prev = &k;
		left++;
	}
	CHECK(!ct_count(fb, NET_NAT) && !left,
	      "the idle flow outlived 5 s of sweeps (%llu counted, %llu "
	      "entries)", (unsigned long long)ct_count(fb, NET_NAT),
	      (unsigned long long)left);
}

/*
 * What no count holds still goes: a reply entry left alone (a flush that
 * raced a flow, say) in a table no network counts a flow of is ended by
 * the sweep's full run, every KVB_CT_SWEEP_FULL-th, though the runs
 * between skip the empty-looking table.
 */
static void t_nat_sweep_uncounted(struct fabric *fb)
{
	struct kvb_ct_key k = { .proto = IPPROTO_UDP, .dir = 1 };
	struct kvb_ctsweep st;
	struct kvb_ct e = { 0 };
	__u64 runs0;
	__u32 zero = 0;
	int w, there = 1;

	CHECK(ct_flush_and_wait_empty(fb),
	      "no sweep run found the flushed table empty");
	k.saddr = inet_addr("10.200.0.77");
	k.daddr = natnet.nat_ip;
	k.sport = htons(53);
	k.dport = htons(40777);
	e.addr = inet_addr("192.168.90.5");
	e.port = htons(40777);
	e.net_id = NET_NAT;
	e.last_ns = mono_ago(200);
	CHECK(!bpf_map_update_elem(fb->ct_fd, &k, &e, BPF_NOEXIST) &&
	      !ct_count(fb, NET_NAT), "cannot plant an uncounted entry");
	memset(&st, 0, sizeof(st));
	bpf_map_lookup_elem(fb->ctsweep_fd, &zero, &st);
	runs0 = st.runs;
	/* a second a run: KVB_CT_SWEEP_FULL runs and some */
	for (w = 0; w < (KVB_CT_SWEEP_FULL + 10) * 10 && there; w++) {
		usleep(100000);
		there = !bpf_map_lookup_elem(fb->ct_fd, &k, &e);
	}
	memset(&st, 0, sizeof(st));
	bpf_map_lookup_elem(fb->ctsweep_fd, &zero, &st);
	CHECK(!there, "an uncounted idle entry outlived %llu sweep runs",
	      (unsigned long long)(st.runs - runs0));
}

/* name's MAC address (SIOCGIFHWADDR); 0 or -1 */
static int if_mac(const char *name, __u8 *mac)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ret;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ret = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (ret)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* The flow's original entry (dir 0), 192.168.90.11:sport -> 10.200.0.2:53. */
static int nh_entry(struct fabric *fb, __u16 sport, struct kvb_ct *ct)
{
	struct kvb_ct_key k = guest_ct_key(IPPROTO_UDP, sport, 53);

	return bpf_map_lookup_elem(fb->ct_fd, &k, ct);
}

/*
 * Make the flow's last revalidation recent whatever the time the test
 * takes: last_ns ahead of the clock reads as "another CPU refreshed it
 * after this one read the clock" (fresh, and live).
 */
static void nh_fresh(struct fabric *fb, __u16 sport)
{
	struct kvb_ct_key k = guest_ct_key(IPPROTO_UDP, sport, 53);
	struct timespec ts;
	struct kvb_ct ct;

	if (bpf_map_lookup_elem(fb->ct_fd, &k, &ct))
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ct.last_ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec +
		     100000000000ULL;
	bpf_map_update_elem(fb->ct_fd, &k, &ct, BPF_EXIST);
}

/*
 * An established flow's packets skip the FIB and the neighbour lookup:
 * the first packet's FIB answer (device, MACs) is kept in its entry, and
 * later ones leave with those MACs and the same translation. A change the
 * loader makes or sees (nat_nh_bump, as every changing command and the
 * any-route watcher call it) voids every cached next hop at once: the
 * next packet asks the FIB and carries the new neighbour's MAC. A packet
 * longer than any the FIB accepted for the flow is asked about (the
 * route's MTU may have shrunk) and not sent past it.
 */
static void t_nat_next_hop_cached(struct fabric *fb)
{
	static const __u8 FE[6] = { 2, 0, 0, 0, 0, 0xfe };
	static const __u8 FD[6] = { 2, 0, 0, 0, 0, 0xfd };
	static __u8 big[1430];
	__u8 kwmac[6];
	struct frame in, a, b, c, d, e;
	struct kvb_ct ct;
	int ret;

	CHECK(!if_mac("kw", kwmac), "kw's MAC");
	guest_frame(&in, IPPROTO_UDP, 40100, 53, 16);
	CHECK(run_tc_out(fb, kn1, &in, &a) == TC_ACT_REDIRECT, "first packet");
	CHECK(!nh_entry(fb, 40100, &ct), "the flow's entry");
	CHECK(ct.nh_ifindex == kw && !memcmp(ct.nh_dmac, FE, 6) &&
	      !memcmp(ct.nh_smac, kwmac, 6),
	      "next hop not cached: ifindex %u (kw %u)", ct.nh_ifindex, kw);

	nh_fresh(fb, 40100);
	CHECK(run_tc_out(fb, kn1, &in, &b) == TC_ACT_REDIRECT, "cached packet");
	CHECK(!memcmp(b.buf, FE, 6) && !memcmp(b.buf + 6, kwmac, 6),
	      "cached packet not addressed to the next hop");
	CHECK(!memcmp(b.buf + 12, a.buf + 12, 14 + 28 + 16 - 12),
	      "cached packet translated otherwise than the first");

	/* the neighbour moves; the loader bumps the generation */
	CHECK(!system("ip neigh replace 10.200.0.2 lladdr 02:00:00:00:00:fd dev kw"),
	      "neighbour change");
	nat_nh_bump(fb);
	nh_fresh(fb, 40100);
	CHECK(run_tc_out(fb, kn1, &in, &c) == TC_ACT_REDIRECT, "after the change");
	CHECK(memcmp(c.buf, FE, 6), "packet after a bump sent to the old neighbour");
	nh_fresh(fb, 40100);
	CHECK(run_tc_out(fb, kn1, &in, &d) == TC_ACT_REDIRECT, "cached again");
	CHECK(!memcmp(d.buf, FD, 6), "the new neighbour not cached");

	/* the route's MTU shrinks, unseen: a longer packet asks the FIB */
	memset(big, 0, sizeof(big));
	big[0] = 40100 >> 8, big[1] = 40100 & 0xff, big[3] = 53;
	big[4] = sizeof(big) >> 8, big[5] = sizeof(big) & 0xff;
	frame_ip4(&e, natnet.uplink_mac, N1, inet_addr("192.168.90.11"),
		  IPPROTO_UDP, big, sizeof(big));
	e.buf[14 + 16] = 10, e.buf[14 + 17] = 200, e.buf[14 + 18] = 0;
	e.buf[14 + 19] = 2;
	frame_csum4(&e);
	CHECK(!system("ip link set kw mtu 1400"), "mtu");
	nh_fresh(fb, 40100);
	ret = run_tc_out(fb, kn1, &e, &a);
	CHECK(ret == TC_ACT_SHOT || (ret == TC_ACT_REDIRECT &&
				     a.buf[14 + 9] == IPPROTO_ICMP),
	      "1450-byte packet sent past a 1400 MTU");
	system("ip link set kw mtu 1500; "
	       "ip neigh replace 10.200.0.2 lladdr 02:00:00:00:00:fe dev kw");
	nat_nh_bump(fb);
}

/* A guest's UDP packet (DF set) to 10.200.0.2:53 from sport, l4 bytes long. */
static void udp_big(struct frame *f, __u16 sport, __u32 l4len)
{
	static __u8 l4[1960];

	memset(l4, 0, sizeof(l4));
	l4[0] = (__u8)(sport >> 8), l4[1] = (__u8)sport, l4[3] = 53;
	l4[4] = (__u8)(l4len >> 8), l4[5] = (__u8)l4len;
	frame_ip4(f, natnet.uplink_mac, N1, inet_addr("192.168.90.11"),
		  IPPROTO_UDP, l4, l4len);
	f->buf[14 + 6] = 0x40;	/* DF */
	f->buf[14 + 16] = 10, f->buf[14 + 17] = 200, f->buf[14 + 18] = 0;
	f->buf[14 + 19] = 2;
	frame_csum4(f);
}

/* out is fragmentation needed with MTU mtu, to the guest, from the gateway */
static int is_frag_needed(const struct frame *out, __u16 mtu)
{
	return out->len >= 14 + 28 + 28 && !memcmp(out->buf, N1, 6) &&
	       out->buf[14 + 9] == IPPROTO_ICMP && out->buf[34] == 3 &&
	       out->buf[35] == 4 && get16(out->buf + 34 + 6) == mtu &&
	       !memcmp(out->buf + 14 + 16, "\xc0\xa8\x5a\x0b", 4) &&
	       !ip_csum_check(out->buf);
}

/*
 * The WAN's MTU below the network's: a packet longer than the route out
 * takes is answered with fragmentation needed (the route's MTU), counted
 * too-big, so that the guest's path-MTU discovery works behind the NAT
 * (it was nat-no-route, silently, and TCP stalled on full-size segments).
 * A GSO frame is held to its segments (headers plus gso_size), also on a
 * flow whose next hop is cached: the cache only vouches for lengths the
 * FIB accepted (the cached path let every GSO frame through unchecked).
 */
static void t_nat_wan_mtu_frag_needed(struct fabric *fb)
{
	struct frame in, out;
	__u64 tb = port_stats(fb, kn1).drop[KVB_DROP_TOO_BIG];
	int ret;

	/* a new flow, 1200 bytes, WAN MTU 1000: not cached */
	CHECK(!system("ip link set kw mtu 1000"), "mtu");
	udp_big(&in, 40201, 1200 - 28);
	ret = run_tc_out(fb, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT && is_frag_needed(&out, 1000),
	      "1200 bytes past a 1000 MTU: verdict %d, ICMP %u/%u, "
	      "nat-no-route %llu", ret, out.buf[34], out.buf[35],
	      (unsigned long long)port_stats(fb, kn1).drop[KVB_DROP_NAT_NO_ROUTE]);
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_TOO_BIG] == tb + 1,
	      "too-big not counted");

	/* a flow cached from small packets at MTU 1500 ... */
	CHECK(!system("ip link set kw mtu 1500"), "mtu");
	nat_nh_bump(fb);
	guest_frame(&in, IPPROTO_UDP, 40200, 53, 16);
	CHECK(run_tc(fb, kn1, &in) == TC_ACT_REDIRECT, "first packet");
	/* ... then the MTU shrinks, unseen, and a GSO frame comes whose
	 * segments (28 + 1400 bytes) no longer fit */
	CHECK(!system("ip link set kw mtu 1000"), "mtu");
	nh_fresh(fb, 40200);
	udp_big(&in, 40200, 1900);
	ret = run_tc_gso_out(fb, kn1, &in, &out, 1400);
	CHECK(ret == TC_ACT_REDIRECT && is_frag_needed(&out, 1000),
	      "GSO frame of 1428-byte segments past a 1000 MTU on a cached "
	      "flow: verdict %d, protocol %u, ICMP %u/%u", ret,
	      out.buf[14 + 9], out.buf[34], out.buf[35]);
	/* segments that fit still go */
	nh_fresh(fb, 40200);
	ret = run_tc_gso_out(fb, kn1, &in, &out, 900);
	CHECK(ret == TC_ACT_REDIRECT && out.buf[14 + 9] == IPPROTO_UDP &&
	      !memcmp(out.buf + 14 + 12, &natnet.nat_ip, 4),
	      "GSO frame of 928-byte segments: verdict %d", ret);
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_TOO_BIG] == tb + 2,
	      "too-big count");
	system("ip link set kw mtu 1500");
	nat_nh_bump(fb);
}

/* out is time exceeded (in transit) to the guest, from the gateway,
 * quoting the guest's packet as it came (its own source) */
static int is_time_exceeded(const struct frame *out)
{
	return out->len >= 14 + 28 + 28 && !memcmp(out->buf, N1, 6) &&
	       out->buf[14 + 9] == IPPROTO_ICMP && out->buf[34] == 11 &&
	       out->buf[35] == 0 &&
	       !memcmp(out->buf + 14 + 12, &natnet.gw_ip, 4) &&
	       !memcmp(out->buf + 14 + 16, "\xc0\xa8\x5a\x0b", 4) &&
	       !memcmp(out->buf + 42 + 12, "\xc0\xa8\x5a\x0b", 4) &&
	       !ip_csum_check(out->buf);
}

/*
 * A guest's packet whose TTL runs out at the gateway (traceroute's first
 * hop through a nat network) is answered with time exceeded from the
 * gateway, counted ttl-exceeded, and makes no flow: before, it was
 * dropped silently (the hop showed '*'), after a flow had been made for
 * it. A flow whose next hop is cached alike. TTL 1 to the host's own
 * address is the host's, delivered.
 */
static void t_nat_ttl_exceeded(struct fabric *fb)
{
	__u64 te = port_stats(fb, kn1).drop[KVB_DROP_TTL], n0;
	struct frame in, out;
	int ret;

	n0 = ct_count(fb, NET_NAT);
	guest_frame(&in, IPPROTO_UDP, 40300, 33434, 16);
	in.buf[14 + 8] = 1;
	frame_csum4(&in);
	ret = run_tc_out(fb, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT && is_time_exceeded(&out),
	      "TTL 1 through the NAT: verdict %d, protocol %u, ICMP %u/%u",
	      ret, out.buf[14 + 9], out.buf[34], out.buf[35]);
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_TTL] == te + 1,
	      "ttl-exceeded not counted");
	CHECK(ct_count(fb, NET_NAT) == n0, "a flow made for it: %llu, was %llu",
	      (unsigned long long)ct_count(fb, NET_NAT),
	      (unsigned long long)n0);
	/* a flow, cached, then a packet of it with TTL 1 */
	guest_frame(&in, IPPROTO_UDP, 40301, 33434, 16);
	CHECK(run_tc(fb, kn1, &in) == TC_ACT_REDIRECT, "first packet");
	nh_fresh(fb, 40301);
	in.buf[14 + 8] = 1;
	frame_csum4(&in);
	ret = run_tc_out(fb, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT && is_time_exceeded(&out),
	      "TTL 1 on a cached flow: verdict %d, ICMP %u/%u", ret,
	      out.buf[34], out.buf[35]);
	/* to the host's address on the WAN: the host's, TTL or not */
	guest_frame(&in, IPPROTO_UDP, 40302, 33434, 16);
	memcpy(in.buf + 14 + 16, &natnet.nat_ip, 4);
	in.buf[14 + 8] = 1;
	frame_csum4(&in);
	ret = run_tc_out(fb, kn1, &in, &out);
	CHECK((ret == TC_ACT_OK || ret == TC_ACT_REDIRECT) &&
	      out.buf[14 + 9] == IPPROTO_UDP && out.buf[14 + 8] == 1,
	      "TTL 1 to the host: verdict %d, protocol %u", ret,
	      out.buf[14 + 9]);
}

/* A UDP checksum over pseudo header (src, dst) and an 8-byte datagram */
static __u16 udp8_csum(const __u8 *src, const __u8 *dst, const __u8 *udp)
{
	__u8 ph[12] = { 0 };

	memcpy(ph, src, 4);
	memcpy(ph + 4, dst, 4);
	ph[9] = IPPROTO_UDP;
	ph[11] = 8;
	return csum_fold16(sum16(udp, 8, sum16(ph, 12, 0)));
}

/* q: the quoted IP header of the remote r's packet to the guest g */
static void quote_ip(__u8 *q, __u8 proto, __u8 tot_len, __be32 r, __be32 g)
{
	__u16 c;

	q[0] = 0x45, q[3] = tot_len, q[8] = 64, q[9] = proto;
	memcpy(q + 12, &r, 4);
	memcpy(q + 16, &g, 4);
	c = csum_fold16(sum16(q, 20, 0));
	q[10] = (__u8)(c >> 8), q[11] = (__u8)c;
}

/* f: the guest g's ICMP error (icmp, len bytes) to dst */
static void guest_error(struct frame *f, const __u8 *icmp, __u32 len,
			__be32 g, __be32 dst)
{
	frame_ip4(f, natnet.uplink_mac, N1, g, IPPROTO_ICMP, icmp, len);
	memcpy(f->buf + 14 + 16, &dst, 4);
	frame_csum4(f);
}

/*
 * An ICMP error from a guest about a packet of its flow (port unreachable
 * for a forwarded UDP port nothing listens on, as nmap -sU probes) leaves
 * by the WAN translated: the outer source the WAN address, the quoted
 * destination address and port the flow's WAN ones, every checksum right
 * (outer IP, ICMP, the quoted IP header, the quoted UDP datagram).
 * Before, it was dropped as nat-protocol (the scanner saw open|filtered,
 * a remote waited for its timeout). An error about no flow of the guest's
 * stays nat-protocol: the WAN never sees a guest's address.
 */
static void t_nat_guest_icmp_error_out(struct fabric *fb)
{
	__be32 g = inet_addr("192.168.90.11"), r = inet_addr("10.200.0.2");
	__u64 np0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_PROTO];
	__u8 icmp[8 + 28] = { 3, 3 }, *q = icmp + 8;
	struct frame in, out;
	const __u8 *oq;
	__u16 nport, c;
	int ret;

	guest_frame(&in, IPPROTO_UDP, 40400, 53, 16);
	ret = run_tc_out(fb, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "the guest's flow: verdict %d", ret);
	nport = get16(out.buf + 34);
	/* the quote: the remote's empty datagram 53 -> 40400 to the guest */
	quote_ip(q, IPPROTO_UDP, 28, r, g);
	q[21] = 53, q[22] = 40400 >> 8, q[23] = 40400 & 0xff, q[25] = 8;
	c = udp8_csum(q + 12, q + 16, q + 20);
	q[26] = (__u8)(c >> 8), q[27] = (__u8)c;
	guest_error(&in, icmp, sizeof(icmp), g, r);
	ret = run_tc_out(fb, kn1, &in, &out);
	oq = out.buf + 42;
	CHECK(ret == TC_ACT_REDIRECT && out.buf[14 + 9] == IPPROTO_ICMP &&
	      out.buf[34] == 3 && out.buf[35] == 3 &&
	      !memcmp(out.buf + 14 + 12, &natnet.nat_ip, 4) &&
	      !memcmp(out.buf + 14 + 16, &r, 4) &&
	      !memcmp(oq + 12, &r, 4) &&
	      !memcmp(oq + 16, &natnet.nat_ip, 4) &&
	      get16(oq + 20) == 53 && get16(oq + 22) == nport,
	      "port unreachable out: verdict %d, from %u.%u.%u.%u, quoted "
	      "to %u.%u.%u.%u:%u (flow's port %u)", ret, out.buf[26],
	      out.buf[27], out.buf[28], out.buf[29], oq[16], oq[17], oq[18],
	      oq[19], get16(oq + 22), nport);
	CHECK(!ip_csum_check(out.buf) && !l4_csum_check(out.buf) &&
	      !csum_fold16(sum16(oq, 20, 0)) &&
	      !udp8_csum(oq + 12, oq + 16, oq + 20),
	      "checksums: IP %04x ICMP %04x quoted IP %04x quoted UDP %04x",
	      ip_csum_check(out.buf), l4_csum_check(out.buf),
	      csum_fold16(sum16(oq, 20, 0)),
	      udp8_csum(oq + 12, oq + 16, oq + 20));
	/* about no flow of the guest's (another remote port) */
	q[21] = 54;
	q[26] = q[27] = 0;
	guest_error(&in, icmp, sizeof(icmp), g, r);
	CHECK(run_tc(fb, kn1, &in) == TC_ACT_SHOT &&
	      port_stats(fb, kn1).drop[KVB_DROP_NAT_PROTO] == np0 + 1,
	      "an error about no flow was not refused as nat-protocol");
	/* t90: about a flow of a protocol without ports (GRE), protocol
	 * unreachable: the quoted destination address translated, the
	 * quoted bytes after the header as they were (before: nat-protocol) */
	r = inet_addr("10.200.0.9");
	gen_frame(&in, 47, "192.168.90.11", "10.200.0.9");
	ret = run_tc_out(F, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "the guest's GRE flow: verdict %d", ret);
	memset(icmp, 0, sizeof(icmp));
	icmp[0] = 3, icmp[1] = 2;
	quote_ip(q, 47, 28, r, g);
	q[22] = 0x08;	/* GRE, IPv4 inside */
	guest_error(&in, icmp, sizeof(icmp), g, r);
	ret = run_tc_out(fb, kn1, &in, &out);
	oq = out.buf + 42;
	CHECK(ret == TC_ACT_REDIRECT && out.buf[34] == 3 && out.buf[35] == 2 &&
	      !memcmp(out.buf + 14 + 12, &natnet.nat_ip, 4) &&
	      !memcmp(oq + 12, &r, 4) && !memcmp(oq + 16, &natnet.nat_ip, 4) &&
	      !memcmp(oq + 20, q + 20, 8),
	      "protocol unreachable about GRE out: verdict %d, or the quote "
	      "wrong", ret);
	CHECK(!ip_csum_check(out.buf) && !l4_csum_check(out.buf) &&
	      !csum_fold16(sum16(oq, 20, 0)),
	      "GRE error's checksums: IP %04x ICMP %04x quoted IP %04x",
	      ip_csum_check(out.buf), l4_csum_check(out.buf),
	      csum_fold16(sum16(oq, 20, 0)));
}

/* A TCP checksum over pseudo header (src, dst) and a 20-byte header */
static __u16 tcp20_csum(const __u8 *src, const __u8 *dst, const __u8 *tcp)
{
	__u8 ph[12] = { 0 };

	memcpy(ph, src, 4);
	memcpy(ph + 4, dst, 4);
	ph[9] = IPPROTO_TCP;
	ph[11] = 20;
	return csum_fold16(sum16(tcp, 20, sum16(ph, 12, 0)));
}

/*
 * The same for a quoted TCP segment (Linux quotes the whole segment, its
 * checksum with it): the quoted checksum is translated back with the
 * quoted destination, so that it verifies over the NAT address and port
 * (left as it was, the remote could work the guest's address out of it);
 * and an error about the flow sent to another destination than the
 * quoted sender is refused (nat-protocol), as it would leave by the
 * flow's way out to a destination no flow names.
 */
static void t_nat_guest_icmp_error_out_tcp(struct fabric *fb)
{
	__be32 g = inet_addr("192.168.90.11"), r = inet_addr("10.200.0.2"),
	       other = inet_addr("10.200.0.3");
	__u64 np0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_PROTO];
	__u8 icmp[8 + 40] = { 3, 3 }, *q = icmp + 8, *t = q + 20;
	struct frame in, out;
	const __u8 *oq;
	__u16 nport, c;
	int ret;

	guest_frame(&in, IPPROTO_TCP, 40410, 80, 0);
	ret = run_tc_out(fb, kn1, &in, &out);
	CHECK(ret == TC_ACT_REDIRECT, "the guest's SYN: verdict %d", ret);
	nport = get16(out.buf + 34);
	/* the quote: the remote's SYN-ACK 80 -> 40410 to the guest */
	quote_ip(q, IPPROTO_TCP, 40, r, g);
	t[1] = 80, t[2] = 40410 >> 8, t[3] = 40410 & 0xff;
	t[7] = 1, t[11] = 1, t[12] = 5 << 4, t[13] = 0x12, t[14] = 0xff;
	c = tcp20_csum(q + 12, q + 16, t);
	t[16] = (__u8)(c >> 8), t[17] = (__u8)c;
	guest_error(&in, icmp, sizeof(icmp), g, r);
	ret = run_tc_out(fb, kn1, &in, &out);
	oq = out.buf + 42;
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(oq + 16, &natnet.nat_ip, 4) &&
	      get16(oq + 22) == nport,
	      "port unreachable about TCP out: verdict %d, quoted port %u "
	      "(flow's %u)", ret, get16(oq + 22), nport);
	CHECK(!ip_csum_check(out.buf) && !l4_csum_check(out.buf) &&
	      !csum_fold16(sum16(oq, 20, 0)) &&
	      !tcp20_csum(oq + 12, oq + 16, oq + 20),
	      "checksums: IP %04x ICMP %04x quoted IP %04x quoted TCP %04x",
	      ip_csum_check(out.buf), l4_csum_check(out.buf),
	      csum_fold16(sum16(oq, 20, 0)),
	      tcp20_csum(oq + 12, oq + 16, oq + 20));
	/* the same error to another destination than the quoted sender */
	guest_error(&in, icmp, sizeof(icmp), g, other);
	CHECK(run_tc(fb, kn1, &in) == TC_ACT_SHOT &&
	      port_stats(fb, kn1).drop[KVB_DROP_NAT_PROTO] == np0 + 1,
	      "an error to another than the quoted sender was not refused");
}

/*
 * A flow's entry is shared by every CPU its packets meet: an established
 * packet (next hop cached, clock refreshed under KVB_CT_REFRESH_NS ago)
 * writes nothing to it, byte for byte (no per-packet counter).
 */
static void t_nat_established_writes_nothing(struct fabric *fb)
{
	struct frame in, out;
	struct kvb_ct a, b;

	guest_frame(&in, IPPROTO_UDP, 40200, 53, 16);
	CHECK(run_tc_out(fb, kn1, &in, &out) == TC_ACT_REDIRECT, "first packet");
	nh_fresh(fb, 40200);
	CHECK(!nh_entry(fb, 40200, &a), "the flow's entry");
	CHECK(run_tc_out(fb, kn1, &in, &out) == TC_ACT_REDIRECT, "second packet");
	CHECK(!nh_entry(fb, 40200, &b), "the flow's entry again");
	CHECK(!memcmp(&a, &b, sizeof(a)),
	      "an established packet wrote to its flow's entry");
}

/* --------------------------------------- XDP on the WAN device: wan-xdp */

static const __u8 N3[6] = { 0x52, 0x54, 0, 0, 0x5a, 3 };
static __u32 knt;		/* a tap guest (192.168.90.13): XDP's target */
static int wan_prog = -1;	/* kvb_xdp_bound's entries (bound_test_prog) */

static void set_wan_xdp(struct fabric *fb, int on)
{
	struct kvb_net n;

	if (net_get(fb, NET_NAT, &n))
		return;
	if (on)
		n.flags |= KVB_NET_F_WAN_XDP;
	else
		n.flags &= ~KVB_NET_F_WAN_XDP;
	net_put(fb, &n);
}

/* The tap guest's first packet of a flow to 10.200.0.2 (tc): its NAT
 * port, or 0 */
static __u16 tap_flow(__u8 proto, __u16 sport, __u16 dport)
{
	__be32 a = inet_addr("192.168.90.13");
	struct frame in, out;

	guest_frame(&in, proto, sport, dport, 16);
	memcpy(in.buf + 6, N3, 6);
	memcpy(in.buf + 14 + 12, &a, 4);
	frame_csum4(&in);
	if (run_tc_out(F, knt, &in, &out) != TC_ACT_REDIRECT)
		return 0;
	return get16(out.buf + 34 + (proto == IPPROTO_ICMP ? 4 : 0));
}

/*
 * The tap guest's ACK of wan_frame's SYN-ACK (sequence 1000): the end of
 * the handshake, which establishes a TCP flow (ct_tcp_completes).
 */
static int tap_ack(__u16 sport, __u16 dport)
{
	__be32 a = inet_addr("192.168.90.13");
	struct frame in, out;

	guest_frame(&in, IPPROTO_TCP, sport, dport, 0);
	memcpy(in.buf + 6, N3, 6);
	memcpy(in.buf + 14 + 12, &a, 4);
	in.buf[34 + 7] = 1;		/* seq 1: after its SYN's 0 */
	in.buf[34 + 10] = 0x03;		/* ack 1001 */
	in.buf[34 + 11] = 0xe9;
	in.buf[34 + 13] = 0x10;
	in.buf[34 + 14] = 0x03;		/* window 1000 */
	in.buf[34 + 15] = 0xe8;
	frame_csum4(&in);
	return run_tc_out(F, knt, &in, &out);
}

/*
 * What 10.200.0.2 sends back to the NAT address and port nport from rport:
 * TCP with flags (sequence numbers 1000/1, window 1000), UDP, or an echo
 * reply (id nport), payload bytes of data, every checksum complete.
 */
static void wan_frame(struct frame *f, __u8 proto, __u16 rport, __u16 nport,
		      __u8 flags, __u32 payload)
{
	__u8 l4[1600] = { 0 };
	__u32 len, h = proto == IPPROTO_TCP ? 20 : 8;

	len = h + payload;
	for (__u32 i = 0; i < payload; i++)
		l4[h + i] = (__u8)(i * 7 + 1);
	if (proto == IPPROTO_ICMP) {
		l4[4] = (__u8)(nport >> 8), l4[5] = (__u8)nport;
		l4[7] = 9;	/* sequence */
	} else {
		l4[0] = (__u8)(rport >> 8), l4[1] = (__u8)rport;
		l4[2] = (__u8)(nport >> 8), l4[3] = (__u8)nport;
	}
	if (proto == IPPROTO_TCP) {
		l4[6] = 0x03, l4[7] = 0xe8;	/* seq 1000 */
		l4[11] = 1;			/* ack 1 */
		l4[12] = 5 << 4;
		l4[13] = flags;
		l4[14] = 0x03, l4[15] = 0xe8;
	} else if (proto == IPPROTO_UDP) {
		l4[4] = (__u8)(len >> 8), l4[5] = (__u8)len;
	}
	frame_ip4(f, natnet.uplink_mac, N1, inet_addr("10.200.0.2"), proto,
		  l4, len);
	/* to the WAN device's own MAC, as the host takes it (XDP, too,
	 * takes no other: kvb_port.dev_mac) */
	dev_mac(kw, f->buf);
	memcpy(f->buf + 14 + 16, &natnet.nat_ip, 4);
	frame_csum4(f);
}

/* From the WAN's 10.200.0.2: port unreachable quoting the guest's UDP
 * datagram (to port 53) as it left, from NAT port nport */
static void wan_port_unreach(struct frame *f, __u16 nport)
{
	__u8 l4[36] = { 3, 3 };
	__be32 r = inet_addr("10.200.0.2");

	l4[8] = 0x45;
	l4[11] = 36;
	l4[16] = 64;
	l4[17] = IPPROTO_UDP;
	memcpy(l4 + 20, &natnet.nat_ip, 4);
	memcpy(l4 + 24, &r, 4);
	l4[28] = (__u8)(nport >> 8), l4[29] = (__u8)nport;
	l4[31] = 53;
	l4[33] = 8;
	frame_ip4(f, natnet.uplink_mac, N1, r, IPPROTO_ICMP, l4, 36);
	dev_mac(kw, f->buf);
	memcpy(f->buf + 14 + 16, &natnet.nat_ip, 4);
	frame_csum4(f);
}

/*
 * The frame on the WAN: XDP translates it (XDP_REDIRECT) into exactly the
 * bytes tc's WAN path makes of it, every checksum verifying, to the tap
 * guest's MAC, address and port (gport), counted as tc counts it and as
 * XDP's on the WAN port. 0, or a failure printed.
 */
static int xdp_translates(struct fabric *fb, const struct frame *in,
			  __u16 gport, const __u8 *gmac, const char *what)
{
	struct kvb_stats w0 = port_stats(fb, kw), g0 = port_stats(fb, knt);
	__u32 poff = in->buf[14 + 9] == IPPROTO_ICMP ? 4 : 2;
	struct frame x, t;
	int ret;

	ret = run_xdp_prog_out(wan_prog, kw, in, &x);
	if (ret != XDP_REDIRECT) {
		printf("# %s: XDP verdict %d, want XDP_REDIRECT\n", what, ret);
		return 1;
	}
	if (port_stats(fb, kw).xdp_fwd != w0.xdp_fwd + 1 ||
	    port_stats(fb, kw).rx_packets != w0.rx_packets + 1 ||
	    port_stats(fb, knt).tx_packets != g0.tx_packets + 1) {
		printf("# %s: not counted (WAN xdp_fwd/rx, guest tx)\n", what);
		return 1;
	}
	if (ip_csum_check(x.buf) || l4_csum_check(x.buf) ||
	    memcmp(x.buf, gmac, 6) || memcmp(x.buf + 6, natnet.uplink_mac, 6) ||
	    x.buf[14 + 19] != 13 || x.buf[14 + 8] != 63 ||
	    get16(x.buf + 34 + poff) != gport) {
		printf("# %s: translated wrong (checksums %04x %04x, TTL %u, "
		       "port %u)\n", what, ip_csum_check(x.buf),
		       l4_csum_check(x.buf), x.buf[14 + 8],
		       get16(x.buf + 34 + poff));
		return 1;
	}
	ret = run_tc_out(fb, kw, in, &t);
	if (ret != TC_ACT_REDIRECT || t.len != x.len ||
	    memcmp(t.buf, x.buf, x.len)) {
		printf("# %s: tc (verdict %d) makes other bytes of it\n", what,
		       ret);
		return 1;
	}
	return 0;
}

/* The frame on the WAN: XDP passes it to tc untouched, counting nothing. */
static int xdp_passes(struct fabric *fb, const struct frame *in,
		      const char *what)
{
	__u64 f0 = port_stats(fb, kw).xdp_fwd;
	struct frame x;
	int ret;

	ret = run_xdp_prog_out(wan_prog, kw, in, &x);
	if (ret != XDP_PASS || x.len != in->len ||
	    memcmp(x.buf, in->buf, in->len) ||
	    port_stats(fb, kw).xdp_fwd != f0) {
		printf("# %s: XDP verdict %d (want XDP_PASS), frame %s\n", what,
		       ret, x.len == in->len && !memcmp(x.buf, in->buf, in->len)
		       ? "unchanged" : "changed");
		return 1;
	}
	return 0;
}

/*
 * wan-xdp on: the replies of established flows to a tap guest are
 * translated by XDP on the WAN device, byte for byte as tc translates
 * them (UDP, TCP, ICMP echo), to the guest port's MAC as it is now.
 */
static void t_natxdp_replies_translated(struct fabric *fb)
{
	__u16 nu, nt, ni;
	struct frame in, res;
	struct kvb_port p, saved;
	int bad;

	set_wan_xdp(fb, 1);
	nu = tap_flow(IPPROTO_UDP, 40500, 53);
	nt = tap_flow(IPPROTO_TCP, 40501, 443);
	ni = tap_flow(IPPROTO_ICMP, 0x4242, 0);
	CHECK(nu && nt && ni, "flows refused: %u %u %u", nu, nt, ni);
	/* the first replies, through tc, establish them */
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT, "UDP reply");
	CHECK(!xdp_translates(fb, &in, 40500, N3, "UDP"), "UDP");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 1200);
	CHECK(!xdp_translates(fb, &in, 40500, N3, "UDP, 1200 bytes"),
	      "UDP, 1200 bytes");
	wan_frame(&in, IPPROTO_TCP, 443, nt, 0x12, 0);
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT, "SYN-ACK");
	CHECK(tap_ack(40501, 443) == TC_ACT_REDIRECT, "the guest's ACK");
	wan_frame(&in, IPPROTO_TCP, 443, nt, 0x18, 700);
	CHECK(!xdp_translates(fb, &in, 40501, N3, "TCP data"), "TCP data");
	wan_frame(&in, IPPROTO_ICMP, 0, ni, 0, 24);
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT, "echo reply");
	CHECK(!xdp_translates(fb, &in, 0x4242, N3, "echo reply"),
	      "echo reply");
	/* a spoofcheck port's MAC as it is now (port set mac) */
	CHECK(!bpf_map_lookup_elem(fb->port_fd, &knt, &saved), "knt's entry");
	p = saved;
	p.flags |= KVB_PORT_F_SPOOFCHECK;
	memcpy(p.mac, N2, 6);
	bpf_map_update_elem(fb->port_fd, &knt, &p, BPF_EXIST);
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	bad = xdp_translates(fb, &in, 40500, N2, "after port set mac");
	bpf_map_update_elem(fb->port_fd, &knt, &saved, BPF_EXIST);
	CHECK(!bad, "after port set mac");
}

/*
 * What XDP on the WAN does not handle with certainty goes to tc untouched
 * (tc's own tests judge what it does with it): see bpf/lib/natxdp.h.
 */
static void t_natxdp_pass_to_tc_cases(struct fabric *fb)
{
	struct kvb_acl_port ap = { .set = 1 };
	struct kvb_port saved;
	struct frame in, res, q;
	__u16 nu, nt, nn, nv;
	int bad;

	set_wan_xdp(fb, 1);
	nu = tap_flow(IPPROTO_UDP, 40600, 53);
	nt = tap_flow(IPPROTO_TCP, 40601, 443);
	CHECK(nu && nt, "flows refused");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	CHECK(xdp_passes(fb, &in, "a new flow's first reply") == 0,
	      "a new flow's first reply");
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT, "UDP reply");
	wan_frame(&in, IPPROTO_TCP, 443, nt, 0x12, 0);
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT, "SYN-ACK");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	CHECK(!xdp_translates(fb, &in, 40600, N3, "baseline"), "baseline");

	set_wan_xdp(fb, 0);
	bad = xdp_passes(fb, &in, "wan-xdp off");
	set_wan_xdp(fb, 1);
	CHECK(!bad, "wan-xdp off");
	wan_frame(&in, IPPROTO_UDP, 53, 40999, 0, 32);
	CHECK(!xdp_passes(fb, &in, "no flow"), "no flow");
	wan_frame(&in, IPPROTO_UDP, 54, nu, 0, 32);
	CHECK(!xdp_passes(fb, &in, "another remote port"), "another remote port");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	in.buf[14 + 8] = 1;
	frame_csum4(&in);
	CHECK(!xdp_passes(fb, &in, "TTL 1"), "TTL 1");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	in.buf[14 + 6] |= 0x20;	/* more fragments */
	frame_csum4(&in);
	CHECK(!xdp_passes(fb, &in, "a first fragment"), "a first fragment");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	in.buf[14 + 20 + 6] = in.buf[14 + 20 + 7] = 0;
	CHECK(!xdp_passes(fb, &in, "UDP without a checksum"),
	      "UDP without a checksum");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	in.buf[14 + 20 + 8 + 3] ^= 0x40;
	CHECK(!xdp_passes(fb, &in, "UDP whose checksum fails"),
	      "UDP whose checksum fails");
	{
		/* CHECKSUM_PARTIAL from a veth peer: the pseudo-header sum */
		__u32 sum;
		__u16 c;

		wan_frame(&in, IPPROTO_TCP, 443, nt, 0x18, 100);
		sum = sum16(in.buf + 14 + 12, 8, 0) + IPPROTO_TCP + 120;
		c = (__u16)~csum_fold16(sum);
		in.buf[14 + 20 + 16] = (__u8)(c >> 8);
		in.buf[14 + 20 + 17] = (__u8)c;
		CHECK(!xdp_passes(fb, &in, "TCP, partial checksum"),
		      "TCP, partial checksum");
	}
	wan_frame(&in, IPPROTO_TCP, 443, nt, 0x11, 0);
	CHECK(!xdp_passes(fb, &in, "TCP FIN"), "TCP FIN");
	wan_frame(&in, IPPROTO_TCP, 443, nt, 0x04, 0);
	CHECK(!xdp_passes(fb, &in, "TCP RST"), "TCP RST");
	wan_frame(&in, IPPROTO_TCP, 443, nt, 0x12, 0);
	CHECK(!xdp_passes(fb, &in, "TCP SYN-ACK again"), "TCP SYN-ACK again");
	wan_port_unreach(&in, nu);
	CHECK(!xdp_passes(fb, &in, "an ICMP error"), "an ICMP error");
	/* a frame for another station (t80): a switch's flood, a
	 * promiscuous uplink's, a forgery; tc leaves it to the host */
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	memcpy(in.buf, "\x02\x00\x00\x00\xee\x99", 6);
	CHECK(!xdp_passes(fb, &in, "another station's MAC"),
	      "another station's MAC");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	memset(in.buf, 0xff, 6);
	CHECK(!xdp_passes(fb, &in, "broadcast"), "broadcast");
	{
		/* the device's MAC unknown (zero): every frame is tc's */
		struct kvb_port w, wz;

		CHECK(!bpf_map_lookup_elem(fb->port_fd, &kw, &w) &&
		      !mac_zero(w.dev_mac), "the WAN port's dev_mac");
		wz = w;
		memset(wz.dev_mac, 0, 6);
		bpf_map_update_elem(fb->port_fd, &kw, &wz, BPF_EXIST);
		wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
		bad = xdp_passes(fb, &in, "dev_mac unknown");
		bpf_map_update_elem(fb->port_fd, &kw, &w, BPF_EXIST);
		CHECK(!bad, "dev_mac unknown");
	}
	{
		/* a VLAN tag in the frame */
		wan_frame(&q, IPPROTO_UDP, 53, nu, 0, 32);
		memcpy(in.buf, q.buf, 12);
		in.buf[12] = 0x81, in.buf[13] = 0, in.buf[14] = 0,
		in.buf[15] = 42;
		memcpy(in.buf + 16, q.buf + 12, q.len - 12);
		in.len = q.len + 4;
		CHECK(!xdp_passes(fb, &in, "VLAN-tagged"), "VLAN-tagged");
	}
	{
		/* IPv4 options (a NOP and an end, IHL 6; admission refuses
		 * them too, before natxdp.h looks) */
		wan_frame(&q, IPPROTO_UDP, 53, nu, 0, 32);
		memcpy(in.buf, q.buf, 34);
		in.buf[14] = 0x46;
		in.buf[14 + 3] += 4;
		in.buf[34] = 1, in.buf[35] = in.buf[36] = in.buf[37] = 0;
		memcpy(in.buf + 38, q.buf + 34, q.len - 34);
		in.len = q.len + 4;
		in.buf[24] = in.buf[25] = 0;
		{
			__u32 sum = sum16(in.buf + 14, 24, 0);
			__u16 c = csum_fold16(sum);

			in.buf[24] = (__u8)(c >> 8), in.buf[25] = (__u8)c;
		}
		CHECK(!xdp_passes(fb, &in, "IPv4 options"), "IPv4 options");
	}
	{
		/* the flow expired (tc: the host's), a network whose wan is
		 * another device */
		struct kvb_ct_key rk = { .saddr = inet_addr("10.200.0.2"),
					 .daddr = natnet.nat_ip,
					 .sport = htons(53), .dport = htons(nu),
					 .proto = IPPROTO_UDP, .dir = 1 };
		struct kvb_ct ct, old;
		struct kvb_net n;

		wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
		CHECK(!bpf_map_lookup_elem(fb->ct_fd, &rk, &old), "the reply entry");
		struct kvb_ct_key ok = { .saddr = old.addr, .daddr = rk.saddr,
					 .sport = old.port, .dport = rk.sport,
					 .proto = IPPROTO_UDP };
		struct kvb_ct oold, oct;

		/* both ways idle: a flow has one clock (ct_live) */
		CHECK(!bpf_map_lookup_elem(fb->ct_fd, &ok, &oold),
		      "the original entry");
		ct = old;
		ct.last_ns = 1;
		oct = oold;
		oct.last_ns = 1;
		bpf_map_update_elem(fb->ct_fd, &rk, &ct, BPF_EXIST);
		bpf_map_update_elem(fb->ct_fd, &ok, &oct, BPF_EXIST);
		bad = xdp_passes(fb, &in, "an expired flow");
		bpf_map_update_elem(fb->ct_fd, &rk, &old, BPF_EXIST);
		bpf_map_update_elem(fb->ct_fd, &ok, &oold, BPF_EXIST);
		CHECK(!bad, "an expired flow");
		CHECK(!net_get(fb, NET_NAT, &n), "the network");
		n.wan = kn1;
		net_put(fb, &n);
		bad = xdp_passes(fb, &in, "another device's network");
		n.wan = kw;
		net_put(fb, &n);
		CHECK(!bad, "another device's network");
		CHECK(!xdp_translates(fb, &in, 40600, N3, "as before"),
		      "as before");
	}
	/* the guest's ingress ACLs judge it (its tc egress) */
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	acl_entry_put(fb, knt, &ap);
	bad = xdp_passes(fb, &in, "a guest with ACLs");
	acl_entry_put(fb, knt, NULL);
	CHECK(!bad, "a guest with ACLs");
	/* detached: tc counts no-route */
	CHECK(!bpf_map_lookup_elem(fb->port_fd, &knt, &saved), "knt's entry");
	bpf_map_delete_elem(fb->port_fd, &knt);
	bad = xdp_passes(fb, &in, "the guest's port gone");
	bpf_map_update_elem(fb->port_fd, &knt, &saved, BPF_ANY);
	CHECK(!bad, "the guest's port gone");
	/* over the guest device's MTU */
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 1100);
	CHECK(!system("ip link set knt mtu 1000"), "knt mtu 1000");
	bad = xdp_passes(fb, &in, "over the guest's MTU");
	CHECK(!system("ip link set knt mtu 1500"), "knt mtu 1500");
	CHECK(!bad, "over the guest's MTU");
	/* a guest on a veth: no redirect target */
	nv = udp_to(40602, "10.200.0.2", 53);
	CHECK(nv, "kn1's flow");
	wan_frame(&in, IPPROTO_UDP, 53, nv, 0, 32);
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT, "kn1's reply");
	CHECK(!xdp_passes(fb, &in, "a guest on a veth"), "a guest on a veth");
	/* and a forward's first packet: a new connection */
	nn = 8080;
	wan_frame(&in, IPPROTO_TCP, 443, nn, 0x02, 0);
	CHECK(!xdp_passes(fb, &in, "a new inbound connection"),
	      "a new inbound connection");
	set_wan_xdp(fb, 0);
}

/* The state of both entries of the flow guest 192.168.90.11:gport <->
 * 10.200.0.2:rport (proto), as 10 * orig + reply; 0xff: none. */
static unsigned flow_states(struct fabric *fb, __u8 proto, __u16 gport,
			    __u16 rport)
{
	struct kvb_ct_key ok = guest_ct_key(proto, gport, rport), rk;
	struct kvb_ct o, r;

	if (bpf_map_lookup_elem(fb->ct_fd, &ok, &o))
		return 0xff;
	kvb_ct_reply_key(&ok, &o, &rk);
	if (bpf_map_lookup_elem(fb->ct_fd, &rk, &r))
		return 0xff;
	return 10u * o.state + r.state;
}

/*
 * A forward's UDP flow is opened by the WAN: its datagrams do not
 * establish it (before, the WAN's first one did, as if it answered), the
 * guest's answer does, both entries. Until then it has the unreplied
 * timeout, 30 s (conntrack's), not UDP's 180 s: a flood from forged
 * sources at a forwarded UDP port, or one the guest never answers, does
 * not hold the network's flows for minutes.
 */
static void t_nat_forward_udp_answered(struct fabric *fb)
{
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8091),
				  .proto = IPPROTO_UDP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.11"),
			      .to_port = htons(8091), .net_id = NET_NAT,
			      .ifindex = kn1 };
	struct kvb_ct_key ok = guest_ct_key(IPPROTO_UDP, 8091, 5354), rk;
	struct frame in, res;
	struct timespec ts;
	struct kvb_ct o;
	unsigned st[3];
	int r[4];

	memcpy(fw.mac, N1, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	wan_frame(&in, IPPROTO_UDP, 5353, 8091, 0, 16);
	r[0] = run_tc_out(F, kw, &in, &res);
	st[0] = flow_states(fb, IPPROTO_UDP, 8091, 5353);
	r[1] = run_tc_out(F, kw, &in, &res);
	st[1] = flow_states(fb, IPPROTO_UDP, 8091, 5353);
	guest_frame(&in, IPPROTO_UDP, 8091, 5353, 16);
	r[2] = run_tc_out(F, kn1, &in, &res);
	st[2] = flow_states(fb, IPPROTO_UDP, 8091, 5353);
	/* another, unanswered and idle 40 s: past the unreplied 30 s */
	wan_frame(&in, IPPROTO_UDP, 5354, 8091, 0, 16);
	run_tc_out(F, kw, &in, &res);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (!bpf_map_lookup_elem(fb->ct_fd, &ok, &o)) {
		kvb_ct_reply_key(&ok, &o, &rk);
		o.last_ns = (__u64)ts.tv_sec * 1000000000ULL +
			    (__u64)ts.tv_nsec - 40000000000ULL;
		bpf_map_update_elem(fb->ct_fd, &ok, &o, BPF_EXIST);
		if (!bpf_map_lookup_elem(fb->ct_fd, &rk, &o)) {
			o.last_ns = (__u64)ts.tv_sec * 1000000000ULL +
				    (__u64)ts.tv_nsec - 40000000000ULL;
			bpf_map_update_elem(fb->ct_fd, &rk, &o, BPF_EXIST);
		}
	}
	/* without the forward: a flow that lived would still take it */
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	r[3] = run_tc_out(F, kw, &in, &res);
	ct_flush_net(fb, NET_NAT);
	CHECK(r[0] == TC_ACT_REDIRECT && r[1] == TC_ACT_REDIRECT &&
	      r[2] == TC_ACT_REDIRECT, "verdicts %d %d %d", r[0], r[1], r[2]);
	CHECK(st[0] == 10 * KVB_CT_NEW + KVB_CT_NEW &&
	      st[1] == 10 * KVB_CT_NEW + KVB_CT_NEW,
	      "the WAN's datagrams made the states %u, then %u (want new)",
	      st[0], st[1]);
	CHECK(st[2] == 10 * KVB_CT_ANSWERED + KVB_CT_ANSWERED,
	      "after the guest's answer: states %u, not answered (a UDP "
	      "exchange, not yet a stream)", st[2]);
	CHECK(r[3] == TC_ACT_UNSPEC,
	      "an unanswered forward's flow idle 40 s still took a datagram "
	      "to the guest (verdict %d)", r[3]);
}

/*
 * A forward's flow that is over (idle past its timeout both ways) but not
 * swept yet: the remote's next datagram from the same port is a new
 * connection through the forward, as it would be once the sweep ran.
 * Before, the dead flow sent it to the host (port unreachable) until the
 * sweep came, seconds later on a large table.
 */
static void t_nat_forward_after_expiry(struct fabric *fb)
{
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8096),
				  .proto = IPPROTO_UDP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.11"),
			      .to_port = htons(8096), .net_id = NET_NAT,
			      .ifindex = kn1 };
	struct kvb_ct_key ok = guest_ct_key(IPPROTO_UDP, 8096, 5060), rk;
	struct frame in, res;
	struct kvb_ct o;
	int r[2];

	ct_flush_net(fb, NET_NAT);
	memcpy(fw.mac, N1, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	wan_frame(&in, IPPROTO_UDP, 5060, 8096, 0, 16);
	r[0] = run_tc_out(F, kw, &in, &res);
	CHECK(!bpf_map_lookup_elem(fb->ct_fd, &ok, &o), "the forward's flow");
	kvb_ct_reply_key(&ok, &o, &rk);
	CHECK(!ct_age(fb, &ok, 200) && !ct_age(fb, &rk, 200), "aged");
	r[1] = run_tc_out(F, kw, &in, &res);
	CHECK(r[0] == TC_ACT_REDIRECT, "first datagram: verdict %d", r[0]);
	CHECK(r[1] == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6),
	      "the remote's datagram after its flow expired, before the "
	      "sweep: verdict %d, want the forward's guest", r[1]);
	CHECK(!bpf_map_lookup_elem(fb->ct_fd, &ok, &o) &&
	      o.state == KVB_CT_NEW, "a new flow, not the dead one (state %u)",
	      o.state);
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	ct_flush_net(fb, NET_NAT);
}

/*
 * A guest's packet to the gateway's MAC for a destination the kernel's
 * forwarding never forwards (broadcast, multicast, 0/8, loopback) is not
 * translated out by the FIB's default route: the host's stack takes or
 * drops it, as it came (source untranslated, TTL kept, no flow). Before,
 * an mDNS or SSDP packet so addressed left to the WAN translated.
 */
static void t_nat_never_forwarded_destinations(struct fabric *fb)
{
	static const char *const d[] = { "255.255.255.255", "224.0.0.251",
					 "239.255.255.250", "0.0.0.1",
					 "127.0.0.1" };
	__be32 g = inet_addr("192.168.90.11");
	struct frame in, out;
	__u64 c0;

	ct_flush_net(fb, NET_NAT);
	/* a default route out of kw, which the FIB would match */
	CHECK(!system("ip route add default via 10.200.0.2 dev kw"),
	      "a default route");
	c0 = ct_count(fb, NET_NAT);
	for (unsigned i = 0; i < ARRAY_SIZE(d); i++) {
		__be32 a = inet_addr(d[i]);
		int ret;

		guest_frame(&in, IPPROTO_UDP, 5353, 5353, 16);
		memcpy(in.buf + 14 + 16, &a, 4);
		frame_csum4(&in);
		ret = run_tc_out(F, kn1, &in, &out);
		CHECK(ret >= 0 && !memcmp(out.buf + 14 + 12, &g, 4) &&
		      out.buf[14 + 8] == 64, "to %s: verdict %d, translated "
		      "or routed (TTL %u)", d[i], ret, out.buf[14 + 8]);
	}
	CHECK(ct_count(fb, NET_NAT) == c0, "%llu flows made",
	      (unsigned long long)(ct_count(fb, NET_NAT) - c0));
	/* the witness: a unicast destination by that route is translated */
	guest_frame(&in, IPPROTO_UDP, 5353, 5353, 16);
	{
		__be32 a = inet_addr("198.18.0.1");
		int ret;

		memcpy(in.buf + 14 + 16, &a, 4);
		frame_csum4(&in);
		ret = run_tc_out(F, kn1, &in, &out);
		system("ip route del default via 10.200.0.2 dev kw");
		CHECK(ret == TC_ACT_REDIRECT &&
		      !memcmp(out.buf + 14 + 12, &natnet.nat_ip, 4),
		      "a unicast destination by the default route: verdict %d",
		      ret);
	}
	ct_flush_net(fb, NET_NAT);
}

/*
 * A WAN packet that would open a flow (here through a forward) from a
 * source no remote can have is forged and dropped (spoof-ip), no flow
 * made: the NAT address itself, loopback, 0/8, multicast, the limited
 * broadcast, another address of the host's (10.201.0.1, on kwp here: a
 * docker0 or management address), one the host has no route back to
 * (198.18.7.7: this namespace has no default route). Before, only the
 * fabric's subnets were refused: from the NAT address and a second
 * forwarded port, the forward's guest's answers became a hairpin into the
 * other forward's guest (the WAN reflecting into it), from another host
 * address they went to the host itself.
 */
static void t_nat_wan_martian_sources(struct fabric *fb)
{
	static const char *const bad[] = { "10.200.0.1", "127.0.0.1",
					   "0.1.2.3", "224.0.0.5",
					   "255.255.255.255", "10.201.0.1",
					   "198.18.7.7" };
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8097),
				  .proto = IPPROTO_UDP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.11"),
			      .to_port = htons(8097), .net_id = NET_NAT,
			      .ifindex = kn1 };
	__u64 d0 = port_stats(fb, kw).drop[KVB_DROP_SPOOF_IP], c0, c_bad;
	struct frame in, res;
	int r[ARRAY_SIZE(bad)], ok;

	ct_flush_net(fb, NET_NAT);
	c0 = ct_count(fb, NET_NAT);
	memcpy(fw.mac, N1, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	CHECK(!system("ip addr add 10.201.0.1/24 dev kwp"), "kwp's address");
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		__be32 a = inet_addr(bad[i]);

		wan_frame(&in, IPPROTO_UDP, 8098, 8097, 0, 16);
		memcpy(in.buf + 14 + 12, &a, 4);
		frame_csum4(&in);
		r[i] = run_tc_out(F, kw, &in, &res);
	}
	c_bad = ct_count(fb, NET_NAT);
	wan_frame(&in, IPPROTO_UDP, 8098, 8097, 0, 16);
	ok = run_tc_out(F, kw, &in, &res);
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	ct_flush_net(fb, NET_NAT);
	system("ip addr del 10.201.0.1/24 dev kwp");
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(r[i] == TC_ACT_SHOT, "from %s: verdict %d, want a drop",
		      bad[i], r[i]);
	CHECK(port_stats(fb, kw).drop[KVB_DROP_SPOOF_IP] ==
	      d0 + ARRAY_SIZE(bad), "spoof-ip +%llu, want +%zu",
	      (unsigned long long)(port_stats(fb, kw).drop[KVB_DROP_SPOOF_IP]
				   - d0), ARRAY_SIZE(bad));
	CHECK(ok == TC_ACT_REDIRECT, "from a remote: verdict %d", ok);
	CHECK(c_bad == c0, "flows were made for forged sources: %llu -> %llu",
	      (unsigned long long)c0, (unsigned long long)c_bad);
}

/*
 * The other hosts of an overlay network trust this host's address on
 * their VXLAN port. A guest's UDP to port 4789, translated to that
 * address, would pass there as this host's tunnel traffic, whatever VNI
 * and frame the guest wrote and whichever address of a vtep host it picks:
 * while the fabric has an IPv4 vtep, refused (nat-vtep), to any address,
 * no flow made, and a flow made before the first vtep ends with it (its
 * next hop cached or not). To another port it is translated. A WAN packet
 * from port 4789 to a forward opens no flow either (the guest's answers
 * would go there).
 */
static void t_nat_no_flow_to_a_vtep(struct fabric *fb)
{
	struct kvb_vtep_key vk = { .vni = 200, .a = { .family = 4 } };
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8099),
				  .proto = IPPROTO_UDP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.11"),
			      .to_port = htons(8099), .net_id = NET_NAT,
			      .ifindex = kn1 };
	__be32 vtep = inet_addr("10.200.0.77");	/* not the destination */
	__u64 d0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_VTEP];
	__u64 w0 = port_stats(fb, kw).drop[KVB_DROP_NAT_VTEP];
	int vfd, before, again, to_vtep, other_port, wan_in, wan_other;
	int vxlan_in;
	struct kvb_natst st = { 0 };
	__u64 c0, c1;
	char path[600];
	struct frame in, out;

	snprintf(path, sizeof(path), "%s/%s", fb->dir, KVB_MAP_VTEP);
	vfd = bpf_obj_get(path);
	memcpy(vk.a.addr, &vtep, 4);
	memcpy(fw.mac, N1, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	ct_flush_net(fb, NET_NAT);
	/* no vtep yet: a guest's VXLAN through NAT is translated, twice
	 * (the second time by its cached next hop) */
	guest_frame(&in, IPPROTO_UDP, 40076, KVB_VXLAN_PORT, 16);
	before = run_tc_out(F, kn1, &in, &out);
	again = run_tc_out(F, kn1, &in, &out);
	CHECK(vfd >= 0 && !bpf_map_update_elem(vfd, &vk, &(__u32){ 9 },
					       BPF_ANY), "a vtep");
	/* as the loader counts it (overlay_count_v4) */
	CHECK(!bpf_map_lookup_elem(fb->natst_fd, &(__u32){ 0 }, &st), "natst");
	st.vteps4 = 1;
	CHECK(!bpf_map_update_elem(fb->natst_fd, &(__u32){ 0 }, &st, BPF_EXIST),
	      "natst: one IPv4 vtep");
	/* the same flow, now that this host tunnels */
	to_vtep = run_tc_out(F, kn1, &in, &out);
	c0 = ct_count(fb, NET_NAT);
	guest_frame(&in, IPPROTO_UDP, 40077, KVB_VXLAN_PORT, 16);
	to_vtep += run_tc_out(F, kn1, &in, &out) == TC_ACT_SHOT ? 0 : 100;
	c1 = ct_count(fb, NET_NAT);
	guest_frame(&in, IPPROTO_UDP, 40078, KVB_VXLAN_PORT + 1, 16);
	other_port = run_tc_out(F, kn1, &in, &out);
	wan_frame(&in, IPPROTO_UDP, KVB_VXLAN_PORT, 8099, 0, 16);
	wan_in = run_tc_out(F, kw, &in, &out);
	wan_frame(&in, IPPROTO_UDP, KVB_VXLAN_PORT + 1, 8099, 0, 16);
	wan_other = run_tc_out(F, kw, &in, &out);
	/* a forward of the VXLAN port itself (made behind the CLI's back):
	 * the host's overlay's, never the forward's */
	fk.port = htons(KVB_VXLAN_PORT);
	fw.to_port = htons(KVB_VXLAN_PORT);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	wan_frame(&in, IPPROTO_UDP, 45602, KVB_VXLAN_PORT, 0, 16);
	vxlan_in = run_tc_out(F, kw, &in, &out);
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	fk.port = htons(8099);
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	ct_flush_net(fb, NET_NAT);
	if (vfd >= 0) {
		bpf_map_delete_elem(vfd, &vk);
		close(vfd);
	}
	st.vteps4 = 0;
	bpf_map_update_elem(fb->natst_fd, &(__u32){ 0 }, &st, BPF_EXIST);
	CHECK(before == TC_ACT_REDIRECT && again == TC_ACT_REDIRECT,
	      "no vtep: to port 4789, verdicts %d, %d", before, again);
	CHECK(to_vtep == TC_ACT_SHOT, "a vtep: to port 4789 (a flow made "
	      "before, a new one): verdicts %d + 100 x (new not dropped)",
	      to_vtep);
	CHECK(c1 == c0, "a flow was made for the refused packet");
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_NAT_VTEP] == d0 + 2,
	      "nat-vtep on the guest's port +%llu, want +2",
	      (unsigned long long)(port_stats(fb, kn1).drop[KVB_DROP_NAT_VTEP]
				   - d0));
	CHECK(other_port == TC_ACT_REDIRECT, "to port 4790: verdict %d",
	      other_port);
	CHECK(wan_in == TC_ACT_SHOT, "from the WAN's port 4789 to a "
	      "forward: verdict %d", wan_in);
	CHECK(port_stats(fb, kw).drop[KVB_DROP_NAT_VTEP] == w0 + 1,
	      "nat-vtep not counted on the WAN port");
	CHECK(wan_other == TC_ACT_REDIRECT, "from the WAN's port 4790 to a "
	      "forward: verdict %d", wan_other);
	CHECK(vxlan_in == TC_ACT_UNSPEC, "a vtep's VXLAN to a forward of port "
	      "4789: verdict %d, want the host's", vxlan_in);
}

/*
 * A guest that a forward of its own port reaches (WireGuard, IKE, SIP:
 * the same port both ways) talks out from that public port, whatever its
 * range (51821 is in the host's ephemeral range), as masquerade's port
 * preservation has it: the remote's packets from the port the guest
 * talked to are the flow's replies. Before, the guest's flow got another
 * port, and the remote's packets to the forward clashed with it (its key
 * held by the guest's own flow): left to the host, port unreachable.
 * Another guest's flow from a forwarded port still never takes it.
 */
static void t_nat_forward_own_port(struct fabric *fb)
{
	static const __u16 ports[2] = { 8095, 51821 };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.11"),
			      .net_id = NET_NAT, .ifindex = kn1 };
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .proto = IPPROTO_UDP };
	struct frame res;
	__u16 p;
	int ret;

	memcpy(fw.mac, N1, 6);
	for (int i = 0; i < 2; i++) {
		ct_flush_net(fb, NET_NAT);
		fk.port = fw.to_port = htons(ports[i]);
		CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY),
		      "forward");
		p = udp_to(ports[i], "10.200.0.2", ports[i]);
		ret = udp_from("10.200.0.2", ports[i], ports[i], &res);
		CHECK(p == ports[i], "the forward's guest from its port %u: "
		      "translated to %u", ports[i], p);
		CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6),
		      "the remote's answer to %u: verdict %d", ports[i], ret);
		/* a forward of that port to another guest: not taken */
		fw.to_addr = inet_addr("192.168.90.12");
		bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY);
		ct_flush_net(fb, NET_NAT);
		p = udp_to(ports[i], "10.200.0.2", ports[i]);
		CHECK(p && p != ports[i], "a guest from another's forwarded "
		      "port %u: translated to %u", ports[i], p);
		fw.to_addr = inet_addr("192.168.90.11");
		bpf_map_delete_elem(fb->fwd_fd, &fk);
	}
	ct_flush_net(fb, NET_NAT);
}

/*
 * A guest port holds at most its network's ct-port-max flows: beyond,
 * its new flows are refused (nat-port-full) while another guest's pass,
 * so one guest's flood cannot take the flows of the others; a flow that
 * expires gives its place back (the sweep counts it down on its slot).
 */
static void t_nat_port_share(struct fabric *fb)
{
	struct kvb_ct_key ok = guest_ct_key(IPPROTO_UDP, 41400, 53), rk;
	__u64 d0, d1, now, held = 0, after = 99;
	struct kvb_ct o, r;
	struct kvb_port p;
	struct kvb_net n;
	struct timespec ts;
	int made = 0, refused, other, again;
	__u32 slot = 0;

	ct_flush_net(fb, NET_NAT);
	CHECK(!net_get(fb, NET_NAT, &n), "net");
	n.ct_port_max = 3;
	net_put(fb, &n);
	if (!port_get(fb, kn1, &p))
		slot = p.slot;
	d0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_PORT_FULL];
	for (__u16 i = 0; i < 3; i++)
		made += !!flow_port(IPPROTO_UDP, (__u16)(41400 + i), 53);
	/* answered flows: early eviction takes none of them */
	ct_establish_net(fb, NET_NAT);
	refused = !flow_port(IPPROTO_UDP, 41410, 53);
	d1 = port_stats(fb, kn1).drop[KVB_DROP_NAT_PORT_FULL];
	other = !!tap_flow(IPPROTO_UDP, 41411, 53);
	bpf_map_lookup_elem(fb->ctpn_fd, &slot, &held);
	/* one of kn1's flows idle for 200 s both ways: the sweep takes it */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
	if (!bpf_map_lookup_elem(fb->ct_fd, &ok, &o)) {
		kvb_ct_reply_key(&ok, &o, &rk);
		o.last_ns = now - 200000000000ULL;
		bpf_map_update_elem(fb->ct_fd, &ok, &o, BPF_EXIST);
		if (!bpf_map_lookup_elem(fb->ct_fd, &rk, &r)) {
			r.last_ns = o.last_ns;
			bpf_map_update_elem(fb->ct_fd, &rk, &r, BPF_EXIST);
		}
	}
	/* the sweep: every second, rarer while the table is big (up to
	 * 50 times its own run) and the machine busy; 20 s at most */
	for (int w = 0; w < 200; w++) {
		bpf_map_lookup_elem(fb->ctpn_fd, &slot, &after);
		if (after < 3)
			break;
		usleep(100000);
	}
	again = !!flow_port(IPPROTO_UDP, 41410, 53);
	n.ct_port_max = 0;
	net_put(fb, &n);
	ct_flush_net(fb, NET_NAT);
	CHECK(slot && made == 3 && held == 3,
	      "3 flows within ct-port-max 3: %d made, %llu counted on slot %u",
	      made, (unsigned long long)held, slot);
	CHECK(refused && d1 == d0 + 1,
	      "the 4th flow: refused %d, nat-port-full +%llu", refused,
	      (unsigned long long)(d1 - d0));
	CHECK(other, "another guest's flow refused");
	CHECK(after == 2 && again,
	      "after one expired: count %llu, a new flow %s",
	      (unsigned long long)after, again ? "made" : "refused");
}

/*
 * Early eviction: a port whose share is full (ct-port-max 3) makes room
 * for a new flow by ending one of its flows that is not established, as
 * conntrack's early drop does; an established one is never evicted. kn1
 * has A (answered), B and C (not); D and E are made by evicting (with a
 * share of 3 the pool's region is one place: the latest candidate goes),
 * counted as ct-evicted. Then SYNs from the WAN at a forward to kn1 (a
 * flood from forged sources, answered by nobody) get in the same way,
 * and the guest's own new flow too: the share never stays full of
 * flows that are not established.
 */
static void t_nat_full_share_evicts_opening(struct fabric *fb)
{
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8091),
				  .proto = IPPROTO_TCP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.11"),
			      .to_port = htons(8091), .net_id = NET_NAT,
			      .ifindex = kn1 };
	struct kvb_ct_key ok = guest_ct_key(IPPROTO_UDP, 41500, 53);
	__u64 ev0 = port_stats(fb, kn1).ct_evicted, ev1, ev2, held = 0;
	__u64 full0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_PORT_FULL];
	struct frame in, res;
	struct kvb_ct o;
	struct kvb_net n;
	struct kvb_port p;
	int made = 0, syns = 0, a_live, c_gone, own;
	__u32 slot = 0;

	ct_flush_net(fb, NET_NAT);
	CHECK(!net_get(fb, NET_NAT, &n), "net");
	n.ct_port_max = 3;
	net_put(fb, &n);
	if (!port_get(fb, kn1, &p))
		slot = p.slot;
	made += !!flow_port(IPPROTO_UDP, 41500, 53);
	ct_establish_net(fb, NET_NAT);	/* A answered */
	for (__u16 i = 1; i < 5; i++)
		made += !!flow_port(IPPROTO_UDP, (__u16)(41500 + i), 53);
	ev1 = port_stats(fb, kn1).ct_evicted - ev0;
	bpf_map_lookup_elem(fb->ctpn_fd, &slot, &held);
	a_live = !bpf_map_lookup_elem(fb->ct_fd, &ok, &o) &&
		 o.state == KVB_CT_ESTABLISHED;
	ok.sport = htons(41502);
	c_gone = !!bpf_map_lookup_elem(fb->ct_fd, &ok, &o);
	/* SYNs at a forward to kn1 from three sources */
	memcpy(fw.mac, N1, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	for (__u16 i = 0; i < 3; i++) {
		tcp_seg(&in, 1, (__u16)(20000 + i), 8091, 1000, 0, 0x02, 64240);
		syns += run_tc_out(F, kw, &in, &res) == TC_ACT_REDIRECT;
	}
	own = !!flow_port(IPPROTO_UDP, 41510, 53);
	ev2 = port_stats(fb, kn1).ct_evicted - ev0;
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	n.ct_port_max = 0;
	net_put(fb, &n);
	ct_flush_net(fb, NET_NAT);
	CHECK(made == 5 && ev1 == 2 && held == 3,
	      "5 flows with ct-port-max 3: %d made, %llu evicted, %llu held",
	      made, (unsigned long long)ev1, (unsigned long long)held);
	CHECK(a_live, "the answered flow evicted");
	CHECK(c_gone, "the latest unanswered flow still there");
	CHECK(syns == 3 && own && ev2 == 6,
	      "forwarded SYNs %d of 3, the guest's own flow %s, evicted %llu",
	      syns, own ? "made" : "refused", (unsigned long long)ev2);
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_NAT_PORT_FULL] == full0,
	      "nat-port-full counted with room to evict");
}

/*
 * A network at its ct-max (3), held by one guest's flows that are not
 * established (kn1's): another guest's new flow, whose own port has no
 * candidate, evicts one of them from the network's region (ct_evict_net)
 * and is made; ct-evicted counts on kn1, the evicted flow's port. Once
 * every flow is established, a new one is refused as nat-table-full.
 */
static void t_nat_full_network_evicts_anyones(struct fabric *fb)
{
	__u64 ev0 = port_stats(fb, kn1).ct_evicted;
	__u64 full0 = port_stats(fb, knt).drop[KVB_DROP_NAT_FULL];
	__u64 ev, full1, full2, count;
	struct kvb_net n;
	int made = 0, other, refused;

	ct_flush_net(fb, NET_NAT);
	CHECK(!net_get(fb, NET_NAT, &n), "net");
	n.ct_max = 3;
	net_put(fb, &n);
	for (__u16 i = 0; i < 3; i++)
		made += !!flow_port(IPPROTO_UDP, (__u16)(41600 + i), 53);
	other = !!tap_flow(IPPROTO_UDP, 41610, 53);
	ev = port_stats(fb, kn1).ct_evicted - ev0;
	full1 = port_stats(fb, knt).drop[KVB_DROP_NAT_FULL] - full0;
	count = ct_count(fb, NET_NAT);
	ct_establish_net(fb, NET_NAT);
	refused = !tap_flow(IPPROTO_UDP, 41611, 53);
	full2 = port_stats(fb, knt).drop[KVB_DROP_NAT_FULL] - full0;
	n.ct_max = 0;
	net_put(fb, &n);
	ct_flush_net(fb, NET_NAT);
	CHECK(made == 3, "%d of kn1's 3 flows made within ct-max 3", made);
	CHECK(other && ev == 1 && full1 == 0 && count == 3,
	      "the other guest's flow in a full network: %s, kn1 ct-evicted "
	      "+%llu, nat-table-full +%llu, %llu flows",
	      other ? "made" : "refused", (unsigned long long)ev,
	      (unsigned long long)full1, (unsigned long long)count);
	CHECK(refused && full2 == 1,
	      "all established: a new flow %s, nat-table-full +%llu",
	      refused ? "refused" : "made", (unsigned long long)full2);
}

/* XDP on the WAN: TCP with options and a padded frame translate as tc does */
static void t_natxdp_options_and_padding(struct fabric *fb)
{
	__u16 nu, nt;
	struct frame in, res;

	set_wan_xdp(fb, 1);
	nu = tap_flow(IPPROTO_UDP, 40800, 53);
	nt = tap_flow(IPPROTO_TCP, 40801, 443);
	CHECK(nu && nt, "flows refused");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT, "UDP reply");
	wan_frame(&in, IPPROTO_TCP, 443, nt, 0x12, 0);
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT, "SYN-ACK");
	CHECK(tap_ack(40801, 443) == TC_ACT_REDIRECT, "the guest's ACK");
	/* TCP with 12 bytes of options (NOPs), doff 8 */
	wan_frame(&in, IPPROTO_TCP, 443, nt, 0x10, 12 + 300);
	in.buf[34 + 12] = 8 << 4;
	memset(in.buf + 34 + 20, 1, 12);
	frame_csum4(&in);
	CHECK(!xdp_translates(fb, &in, 40801, N3, "TCP with options"),
	      "TCP with options");
	/* a short UDP datagram in a 60-byte frame, non-zero Ethernet padding */
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 4);
	CHECK(in.len == 46, "len %u", in.len);
	memset(in.buf + in.len, 0xaa, 14);
	in.len = 60;
	CHECK(!xdp_translates(fb, &in, 40800, N3, "UDP with padding"),
	      "UDP with padding");
	set_wan_xdp(fb, 0);
}

static int ct_entries_of(struct fabric *fb, __u32 ifindex);

/*
 * A flow opened on the nat network, whose guest's tap is then detached
 * and attached to another network (bridge a): the detach takes the flow
 * with it; a flow naming the tap that is still there (planted back here:
 * one a fabric of an earlier build left behind) is not translated into
 * that tap, by XDP or tc (the port's network is not the flow's:
 * no-route).
 */
static void t_nat_reply_guest_moved_network(struct fabric *fb)
{
	struct port_opts t = { .naddrs = 1, .mac = N3 };
	struct port_opts b = { .naddrs = 0 };
	struct kvb_ct_key ck[4], k, *prev = NULL;
	struct kvb_ct cv[4];
	__u16 nu;
	struct frame in, res, x;
	struct kvb_port p;
	int rx, rt, nk = 0, left;

	set_wan_xdp(fb, 1);
	nu = tap_flow(IPPROTO_UDP, 40900, 53);
	CHECK(nu, "flow refused");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT, "UDP reply");
	while (!bpf_map_get_next_key(fb->ct_fd, prev, &k) && nk < 4) {
		prev = &k;
		/* this flow's two entries: the reply's, the guest's */
		if (k.proto == IPPROTO_UDP &&
		    ((k.dir && k.dport == htons(nu) && k.sport == htons(53)) ||
		     (!k.dir && k.sport == htons(40900))) &&
		    !bpf_map_lookup_elem(fb->ct_fd, &k, &cv[nk]) &&
		    cv[nk].guest_ifindex == knt)
			ck[nk++] = k;
	}
	/* the guest moves: knt leaves the nat network for bridge a */
	CHECK(!port_get(fb, knt, &p) && !port_detach(fb, "unit", &p),
	      "detach knt");
	left = ct_entries_of(fb, knt);
	CHECK(!port_attach(fb, "unit", "knt", 1, KVB_PORT_GUEST, &b),
	      "attach knt to bridge a");
	CHECK(!port_get(fb, knt, &p) && p.net_id == 1, "knt on net 1");
	for (int i = 0; i < nk; i++)
		bpf_map_update_elem(fb->ct_fd, &ck[i], &cv[i], BPF_NOEXIST);
	rx = run_xdp_prog_out(wan_prog, kw, &in, &x);
	rt = run_tc_out(fb, kw, &in, &res);
	for (int i = 0; i < nk; i++)
		bpf_map_delete_elem(fb->ct_fd, &ck[i]);
	printf("# moved guest: XDP verdict %d (redirect=%d), tc verdict %d "
	       "(redirect=%d), to %02x:..:%02x, daddr %u.%u.%u.%u\n", rx,
	       XDP_REDIRECT, rt, TC_ACT_REDIRECT, x.buf[4], x.buf[5],
	       x.buf[30], x.buf[31], x.buf[32], x.buf[33]);
	/* back as it was */
	port_get(fb, knt, &p);
	port_detach(fb, "unit", &p);
	parse_addr("192.168.90.13", &t.addrs[0]);
	CHECK(!port_attach(fb, "unit", "knt", NET_NAT, KVB_PORT_GUEST, &t),
	      "knt back");
	set_wan_xdp(fb, 0);
	CHECK(nk == 2 && !left, "the flow's %d entries, %d left after the "
	      "detach", nk, left);
	CHECK(rx != XDP_REDIRECT, "XDP translated a flow of the nat network "
	      "into a tap now on another network");
	CHECK(rt != TC_ACT_REDIRECT, "tc translated a flow of the nat network "
	      "into a tap now on another network");
}

/* An ICMP error about a flow whose guest's port is gone goes nowhere: it
 * takes the guest's port as a reply does (nat_reply_port), never the
 * flow's old ifindex. */
static void t_nat_icmp_error_port_gone(struct fabric *fb)
{
	struct kvb_port saved;
	struct frame in, res;
	__u16 nu;
	int rt;

	nu = tap_flow(IPPROTO_UDP, 41000, 53);
	CHECK(nu, "flow refused");
	wan_port_unreach(&in, nu);
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT,
	      "the error, port present");
	CHECK(!bpf_map_lookup_elem(fb->port_fd, &knt, &saved), "knt's entry");
	bpf_map_delete_elem(fb->port_fd, &knt);
	rt = run_tc_out(fb, kw, &in, &res);
	bpf_map_update_elem(fb->port_fd, &knt, &saved, BPF_ANY);
	CHECK(rt != TC_ACT_REDIRECT, "an ICMP error went to a gone port's "
	      "ifindex (verdict %d)", rt);
}

/* kvb_ct entries (either direction) that name ifindex as their guest's */
static int ct_entries_of(struct fabric *fb, __u32 ifindex)
{
	struct kvb_ct_key k, *prev = NULL;
	struct kvb_ct e;
	int n = 0;

	while (!bpf_map_get_next_key(fb->ct_fd, prev, &k)) {
		prev = &k;
		if (!bpf_map_lookup_elem(fb->ct_fd, &k, &e) &&
		    e.guest_ifindex == ifindex)
			n++;
	}
	return n;
}

/* a frame of guest frame_port (mac, address) of the nat network */
static int guest_send(__u32 ifindex, const __u8 *mac, const char *saddr,
		      __u8 proto, __u16 sport, const char *daddr, __u16 dport)
{
	__be32 s = inet_addr(saddr), d = inet_addr(daddr);
	struct frame in, out;

	guest_frame(&in, proto, sport, dport, 16);
	memcpy(in.buf + 6, mac, 6);
	memcpy(in.buf + 14 + 12, &s, 4);
	memcpy(in.buf + 14 + 16, &d, 4);
	frame_csum4(&in);
	return run_tc_out(F, ifindex, &in, &out);
}

/* A TCP (flags, seq, ack) or UDP (flags 0) segment from mac/saddr:sport to
 * daddr:dport through the gateway. */
static void hp_frame(struct frame *f, const __u8 *mac, __be32 saddr,
		     __u16 sport, __be32 daddr, __u16 dport, __u8 proto,
		     __u8 flags, __u32 seq, __u32 ack)
{
	__u8 l4[24] = { 0 };
	__u32 len = proto == IPPROTO_TCP ? 20 : 12;

	l4[0] = (__u8)(sport >> 8), l4[1] = (__u8)sport;
	l4[2] = (__u8)(dport >> 8), l4[3] = (__u8)dport;
	if (proto == IPPROTO_TCP) {
		for (int i = 0; i < 4; i++) {
			l4[4 + i] = (__u8)(seq >> (24 - 8 * i));
			l4[8 + i] = (__u8)(ack >> (24 - 8 * i));
		}
		l4[12] = 5 << 4;
		l4[13] = flags;
		l4[14] = 0x10;	/* window 4096 */
	} else {
		l4[5] = (__u8)len;
	}
	frame_ip4(f, natnet.uplink_mac, mac, saddr, proto, l4, len);
	memcpy(f->buf + 14 + 16, &daddr, 4);
	frame_csum4(f);
}

/* A UDP datagram of 200 bytes of payload from mac/saddr:sport to
 * daddr:dport, checksummed (to be cut by frag_split). */
static void hp_big(struct frame *f, const __u8 *mac, __be32 saddr,
		   __u16 sport, __be32 daddr, __u16 dport)
{
	__u8 l4[208] = { 0 };

	for (int i = 8; i < 208; i++)
		l4[i] = (__u8)(i * 7);
	l4[0] = (__u8)(sport >> 8), l4[1] = (__u8)sport;
	l4[2] = (__u8)(dport >> 8), l4[3] = (__u8)dport;
	l4[5] = 208;
	frame_ip4(f, natnet.uplink_mac, mac, saddr, IPPROTO_UDP, l4, 208);
	memcpy(f->buf + 14 + 16, &daddr, 4);
	frame_csum4(f);
}

/*
 * Guest B of a hairpin test: dev attached to the nat network at addr
 * with mac, and a UDP forward of the WAN address's port wport to B's
 * port bport (its key into *fk, for hp_b_down); the flows flushed first.
 * 0 when set up.
 */
static int hp_b_up(struct fabric *fb, const char *dev, const __u8 *mac,
		   const char *addr, __u16 wport, __u16 bport, __u32 *ifindex,
		   struct kvb_fwd_key *fk)
{
	struct port_opts g = { .naddrs = 1, .mac = mac };
	struct kvb_fwd fw = { .to_addr = inet_addr(addr),
			      .to_port = htons(bport), .net_id = NET_NAT };

	*fk = (struct kvb_fwd_key){ .addr = natnet.nat_ip,
				    .port = htons(wport),
				    .proto = IPPROTO_UDP };
	ct_flush_net(fb, NET_NAT);
	if (add_veth(dev, ifindex) || parse_addr(addr, &g.addrs[0]) ||
	    port_attach(fb, "unit", dev, NET_NAT, KVB_PORT_GUEST, &g))
		return -1;
	fw.ifindex = *ifindex;
	memcpy(fw.mac, mac, 6);
	return bpf_map_update_elem(fb->fwd_fd, fk, &fw, BPF_ANY) ? -1 : 0;
}

/* hp_b_up's B and forward gone, the flows flushed. */
static void hp_b_down(struct fabric *fb, const char *dev, __u32 ifindex,
		      const struct kvb_fwd_key *fk)
{
	struct kvb_port p;
	char cmd[64];

	bpf_map_delete_elem(fb->fwd_fd, fk);
	if (!port_get(fb, ifindex, &p))
		port_detach(fb, "unit", &p);
	snprintf(cmd, sizeof(cmd), "ip link del %s", dev);
	system(cmd);
	ct_flush_net(fb, NET_NAT);
}

/*
 * Hairpin with fragmented datagrams: guest A's 208-byte UDP datagram to
 * the WAN address on a forwarded port, in two fragments, reaches the
 * forward's guest B whole (both fragments from the gateway's address to
 * B's, the datagram's checksum right once put together), and B's answer,
 * fragmented too, comes back to A from the WAN address and port.
 */
static void t_nat_hairpin_fragments(struct fabric *fb)
{
	static const __u8 N8[6] = { 0x52, 0x54, 0, 0, 0x5a, 8 };
	__be32 a = inet_addr("192.168.90.11"), b = inet_addr("192.168.90.18");
	struct frame whole, fa, fb2, oa, ob, w;
	int r[5] = { 0 }, ok_ab = 0, ok_ba = 0;
	struct kvb_fwd_key fu;
	__u16 up = 0;
	__u32 kn8;

	CHECK(!hp_b_up(fb, "kn8", N8, "192.168.90.18", 8094, 94, &kn8, &fu),
	      "attach kn8 and its forward");
	/* A to the WAN address, port 8094: to B's 94 */
	hp_big(&whole, N1, a, 40910, natnet.nat_ip, 8094);
	frag_split(&whole, 104, 0x7171, &fa, &fb2);
	r[0] = run_tc_out(F, kn1, &fa, &oa);
	r[1] = run_tc_out(F, kn1, &fb2, &ob);
	frag_join(&oa, &ob, &w);
	up = get16(w.buf + 34);
	ok_ab = !memcmp(w.buf + 14 + 12, &natnet.gw_ip, 4) &&
		!memcmp(w.buf + 14 + 16, &b, 4) && get16(w.buf + 36) == 94 &&
		!memcmp(ob.buf + 14 + 12, &natnet.gw_ip, 4) &&
		!memcmp(ob.buf + 14 + 16, &b, 4) && !ip_csum_check(ob.buf) &&
		!l4_csum_check(w.buf);
	/* B's answer to the gateway, fragmented: to A from the WAN address */
	hp_big(&whole, N8, b, 94, natnet.gw_ip, up);
	frag_split(&whole, 104, 0x7272, &fa, &fb2);
	r[2] = run_tc_out(F, kn8, &fa, &oa);
	r[3] = run_tc_out(F, kn8, &fb2, &ob);
	frag_join(&oa, &ob, &w);
	ok_ba = !memcmp(w.buf + 14 + 12, &natnet.nat_ip, 4) &&
		!memcmp(w.buf + 14 + 16, &a, 4) && get16(w.buf + 34) == 8094 &&
		get16(w.buf + 36) == 40910 && !memcmp(ob.buf, N1, 6) &&
		!ip_csum_check(ob.buf) && !l4_csum_check(w.buf);
	/* the same answer from the WAN (B's address forged): a hairpin's
	 * flow is between guests only, the frame is the host's */
	hp_frame(&whole, N8, b, 94, natnet.gw_ip, up, IPPROTO_UDP, 0, 0, 0);
	r[4] = run_tc_out(F, kw, &whole, &w);
	hp_b_down(fb, "kn8", kn8, &fu);
	CHECK(r[0] == TC_ACT_REDIRECT && r[1] == TC_ACT_REDIRECT &&
	      r[2] == TC_ACT_REDIRECT && r[3] == TC_ACT_REDIRECT,
	      "verdicts %d %d %d %d", r[0], r[1], r[2], r[3]);
	CHECK(ok_ab, "A's fragments to B: addresses, port or checksums");
	CHECK(ok_ba, "B's fragments to A: addresses, ports, MAC or checksums");
	CHECK(r[4] == TC_ACT_UNSPEC, "B's answer forged from the WAN: verdict %d",
	      r[4]);
}

/*
 * `forward add NAT proto tcp port PORT to ADDR:TO` as the CLI runs it, on
 * this fabric: the command opens it itself and locks it (as the ACL
 * suite's commands do: the harness holds the lock no more). 1 if added.
 */
static int fwd_cli(struct fabric *fb, __u16 port, const char *addr,
		   __u16 to)
{
	char line[128];

	flock(fb->lock_fd, LOCK_UN);
	opts.bpffs = fb->dir;
	snprintf(line, sizeof(line), "forward add %s proto tcp port %u to "
		 "%s:%u", natnet.name, port, addr, to);
	return !unit_cli(line);
}

/*
 * A forward may name a guest whose MAC is not known yet (a port attached
 * with its address but no 'mac', whose guest has sent nothing): with
 * spoofcheck the guest's first frame pins the MAC, and the forward's
 * packets go to the port's MAC as it is then. Before, forward add
 * refused it, and load skipped it at boot. Until then a connection is
 * refused, counted no-route on the WAN port (t121: sent to MAC
 * 00:00:00:00:00:00, lost uncounted).
 */
static void t_nat_forward_before_mac(struct fabric *fb)
{
	static const __u8 NA[6] = { 0x52, 0x54, 0, 0, 0x5a, 0x0a };
	struct port_opts g = { .naddrs = 1, .spoofcheck = true };
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8094),
				  .proto = IPPROTO_TCP };
	struct frame in, res;
	struct kvb_port p;
	int added, r[3];
	__u8 after[6] = { 0 };
	__u64 nr0, nr1;
	__u32 knm;

	CHECK(!add_tap("knm", &knm) &&
	      !parse_addr("192.168.90.20", &g.addrs[0]) &&
	      !port_attach(fb, "unit", "knm", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach knm");
	added = fwd_cli(fb, 8094, "192.168.90.20", 94);
	/* the WAN's SYN before the guest sent anything */
	tcp_seg(&in, 1, 0, 8094, 1000, 0, 0x02, 64240);
	nr0 = port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE];
	r[0] = run_tc_out(F, kw, &in, &res);
	nr1 = port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE];
	/* the guest's first frame pins its MAC */
	hp_frame(&in, NA, inet_addr("192.168.90.20"), 94,
		 inet_addr("10.200.0.2"), 443, IPPROTO_UDP, 0, 0, 0);
	r[1] = run_tc_out(F, knm, &in, &res);
	/* the WAN's next SYN (another source port) goes to that MAC */
	tcp_seg(&in, 1, 0, 8094, 2000, 0, 0x02, 64240);
	in.buf[34 + 1] = 0xbc;	/* source port 444 */
	frame_csum4(&in);
	r[2] = run_tc_out(F, kw, &in, &res);
	memcpy(after, res.buf, 6);
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	if (!port_get(fb, knm, &p))
		port_detach(fb, "unit", &p);
	system("ip link del knm");
	ct_flush_net(fb, NET_NAT);
	CHECK(added, "forward add refused a spoofcheck port without a MAC");
	CHECK(r[0] == TC_ACT_SHOT && nr1 == nr0 + 1,
	      "the WAN's SYN before the guest's MAC is known: verdict %d, "
	      "no-route +%llu (want refused, counted)", r[0],
	      (unsigned long long)(nr1 - nr0));
	CHECK(r[1] == TC_ACT_REDIRECT && r[2] == TC_ACT_REDIRECT,
	      "verdicts %d %d", r[1], r[2]);
	CHECK(!memcmp(after, NA, 6), "after the guest's first frame the "
	      "forward went to %02x:..:%02x, not its pinned MAC", after[0],
	      after[5]);
}

/*
 * A forward names an address: a VM restarted (detach, its tap made again
 * with a new ifindex, attach with the same `ip` and `mac`) is reached by
 * the WAN's next connection on its new port. Before, the forward kept
 * the port `forward add` had resolved, and every connection was dropped
 * no-route until the forward was deleted and added again. A lease of
 * the address by another guest (another MAC, or the VM's MAC pinned on
 * a port attached without `mac`) never takes it; the same VM's lease,
 * on a port given its `mac`, does.
 */
static void t_nat_forward_follows_its_address(struct fabric *fb)
{
	static const __u8 NA[6] = { 0x52, 0x54, 0, 0, 0x5a, 0x0b };
	static const __u8 NC[6] = { 0x52, 0x54, 0, 0, 0x5a, 0x0c };
	struct port_opts g = { .naddrs = 1, .spoofcheck = true, .mac = NA };
	struct port_opts gc = { .naddrs = 0, .spoofcheck = true, .mac = NC };
	struct port_opts gd = { .naddrs = 0, .spoofcheck = true, .mac = NA };
	struct port_opts ge = { .naddrs = 0, .spoofcheck = true };
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8095),
				  .proto = IPPROTO_TCP };
	struct frame in, res;
	struct kvb_port p;
	int added, r[5] = { -1, -1, -1, -1, -1 };
	__u64 tx[5] = { 0, 0, 0, 0, 0 };
	__u32 ka = 0, kb = 0, kc = 0, kd = 0, ke = 0;
	__u64 ta = 0;
	int ra = -1;
	__u8 dmac[6] = { 0 };

	CHECK(!add_tap("kfa", &ka) &&
	      !parse_addr("192.168.90.21", &g.addrs[0]) &&
	      !port_attach(fb, "unit", "kfa", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach kfa");
	added = fwd_cli(fb, 8095, "192.168.90.21", 95);
	tx[0] = port_stats(fb, ka).tx_packets;
	tcp_seg(&in, 1, 0, 8095, 1000, 0, 0x02, 64240);
	r[0] = run_tc_out(F, kw, &in, &res);
	tx[0] = port_stats(fb, ka).tx_packets - tx[0];
	/* the operator takes the address from kfa (port set kfa ip none):
	 * the port the forward was added for no longer gets it */
	{
		struct port_opts none = { .naddrs = 0 };

		CHECK(!port_get(fb, ka, &p) &&
		      !addr_set(fb, "unit", &p, &none), "kfa: ip none");
		ta = port_stats(fb, ka).tx_packets;
		tcp_seg(&in, 1, 0, 8095, 1500, 0, 0x02, 64240);
		in.buf[34 + 1] = 0xc0;	/* source port 448 */
		frame_csum4(&in);
		ra = run_tc_out(F, kw, &in, &res);
		ta = port_stats(fb, ka).tx_packets - ta;
	}
	/* the VM restarts: its port goes, its tap comes back anew */
	if (!port_get(fb, ka, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kfa");
	CHECK(!add_tap("kfb", &kb) && kb != ka &&
	      !port_attach(fb, "unit", "kfb", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach kfb (ifindex %u, was %u)", kb, ka);
	tx[1] = port_stats(fb, kb).tx_packets;
	tcp_seg(&in, 1, 0, 8095, 2000, 0, 0x02, 64240);
	in.buf[34 + 1] = 0xbd;	/* source port 445 */
	frame_csum4(&in);
	r[1] = run_tc_out(F, kw, &in, &res);
	tx[1] = port_stats(fb, kb).tx_packets - tx[1];
	/* the VM goes; another guest (kfc, its own MAC) is leased the
	 * free address: the forward's connections never go to it; the VM
	 * back on kfd, its address leased again (no static ip): they do */
	if (!port_get(fb, kb, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kfb");
	CHECK(!add_tap("kfc", &kc) && !add_tap("kfd", &kd) &&
	      !add_tap("kfe", &ke) &&
	      !port_attach(fb, "unit", "kfc", NET_NAT, KVB_PORT_GUEST, &gc) &&
	      !port_attach(fb, "unit", "kfd", NET_NAT, KVB_PORT_GUEST, &gd) &&
	      !port_attach(fb, "unit", "kfe", NET_NAT, KVB_PORT_GUEST, &ge),
	      "attach kfc, kfd, kfe");
	/* kfe, attached without mac, pinned the VM's MAC from a frame (a
	 * guest that sends from it while no port owns it) */
	if (!bpf_map_lookup_elem(fb->port_fd, &ke, &p)) {
		memcpy(p.mac, NA, 6);
		p.flags |= KVB_PORT_F_MAC_PINNED;
		bpf_map_update_elem(fb->port_fd, &ke, &p, BPF_EXIST);
	}
	for (int i = 0; i < 3; i++) {
		__u32 who = i == 2 ? kd : i ? ke : kc;
		struct kvb_addr_key ok = { .family = 4, .net_id = NET_NAT };
		struct kvb_addr_key pk = { .family = 4, .ifindex = who };
		struct kvb_addr b = { .flags = KVB_ADDR_F_DHCP, .owner = who,
				      .learned_ns = clock_mono_ns(),
				      .expires_ns = clock_mono_ns() +
						    3600ULL * 1000000000ULL };
		__be32 a = inet_addr("192.168.90.21");

		memcpy(ok.addr, &a, 4);
		memcpy(pk.addr, &a, 4);
		bpf_map_delete_elem(fb->addr_fd, &ok);
		CHECK(!bpf_map_update_elem(fb->addr_fd, &pk, &b, BPF_ANY) &&
		      !bpf_map_update_elem(fb->addr_fd, &ok, &b, BPF_ANY),
		      "plant the lease of port %u", who);
		tx[2 + i] = port_stats(fb, who).tx_packets;
		tcp_seg(&in, 1, 0, 8095, 3000 + i, 0, 0x02, 64240);
		in.buf[34 + 1] = (__u8)(0xbe + i);	/* 446, 447, 448 */
		frame_csum4(&in);
		r[2 + i] = run_tc_out(F, kw, &in, &res);
		tx[2 + i] = port_stats(fb, who).tx_packets - tx[2 + i];
		if (i == 2)
			memcpy(dmac, res.buf, 6);
		bpf_map_delete_elem(fb->addr_fd, &pk);
	}
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	if (!port_get(fb, kc, &p))
		port_detach(fb, "unit", &p);
	if (!port_get(fb, kd, &p))
		port_detach(fb, "unit", &p);
	if (!port_get(fb, ke, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kfc; ip link del kfd; ip link del kfe");
	ct_flush_net(fb, NET_NAT);
	CHECK(added, "forward add to kfa refused");
	CHECK(r[2] != TC_ACT_REDIRECT && tx[2] == 0,
	      "another guest that leased the address got the forward's "
	      "connection: verdict %d, kfc sent %llu", r[2],
	      (unsigned long long)tx[2]);
	CHECK(r[3] != TC_ACT_REDIRECT && tx[3] == 0,
	      "a guest that pinned the VM's MAC on a port without mac and "
	      "leased the address got the forward's connection: verdict %d, "
	      "kfe sent %llu", r[3], (unsigned long long)tx[3]);
	CHECK(r[4] == TC_ACT_REDIRECT && tx[4] == 1 && !memcmp(dmac, NA, 6),
	      "the VM back (attached with its mac) with a lease of its "
	      "address: verdict %d, kfd sent %llu", r[4],
	      (unsigned long long)tx[4]);
	CHECK(r[0] == TC_ACT_REDIRECT && tx[0] == 1,
	      "before the restart: verdict %d, kfa sent %llu", r[0],
	      (unsigned long long)tx[0]);
	CHECK(ra != TC_ACT_REDIRECT && ta == 0,
	      "kfa, its address taken away, still got the forward's "
	      "connection: verdict %d, sent %llu", ra, (unsigned long long)ta);
	CHECK(r[1] == TC_ACT_REDIRECT && tx[1] == 1 && !memcmp(res.buf, NA, 6),
	      "after the restart: verdict %d, kfb sent %llu (the forward "
	      "kept the port that went)", r[1], (unsigned long long)tx[1]);
}

/*
 * `port set DEV mac` renames the VM in the forwards added for its port:
 * the datapath follows a forward's address to a port given the MAC the
 * forward names (fwd_guest), which is the port's new MAC from then on.
 */
static void t_nat_forward_port_set_mac(struct fabric *fb)
{
	static const __u8 M1[6] = { 0x52, 0x54, 0, 0, 0x5a, 0x0d };
	static const __u8 M2[6] = { 0x52, 0x54, 0, 0, 0x5a, 0x0e };
	struct port_opts g = { .naddrs = 1, .spoofcheck = true, .mac = M1 };
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8096),
				  .proto = IPPROTO_TCP };
	struct kvb_fwd v = { 0 };
	struct kvb_port p;
	int added, set, got;
	__u32 km = 0;

	CHECK(!add_tap("kfm", &km) &&
	      !parse_addr("192.168.90.22", &g.addrs[0]) &&
	      !port_attach(fb, "unit", "kfm", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach kfm");
	added = fwd_cli(fb, 8096, "192.168.90.22", 96);
	set = !unit_cli("port set kfm mac 52:54:00:00:5a:0e");
	got = !bpf_map_lookup_elem(fb->fwd_fd, &fk, &v);
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	if (!port_get(fb, km, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kfm");
	CHECK(added && set && got, "forward add %d, port set mac %d, "
	      "forward there %d", added, set, got);
	CHECK(!memcmp(v.mac, M2, 6) && v.ifindex == km,
	      "the forward names %02x:..:%02x after port set mac, not the "
	      "port's new MAC", v.mac[0], v.mac[5]);
}

/*
 * ICMP echo identifiers are NAT ports of a flow's own, and count in a
 * guest port's share like its TCP and UDP ports: a guest's echo requests
 * with a fresh identifier each to one remote hold at most half of them
 * (here the network's host range leaves NAT 112), the rest refused
 * (nat-port-full), and another guest still pings that remote. Before, the
 * first guest took every identifier towards it (nat-ports-exhausted for
 * the others); a flow's end gives its identifier back to the share.
 */
static void t_nat_echo_share(struct fabric *fb)
{
	static const __u8 N12[6] = { 0x52, 0x54, 0, 0, 0x5a, 12 };
	struct port_opts g = { .naddrs = 1, .mac = N12 };
	__u64 full0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_PORT_FULL], full;
	struct frame in, out;
	struct kvb_net saved;
	struct kvb_port p;
	int made = 0, ret = -1, again = -1;
	__u32 kn12 = 0;

	CHECK(!nat_ports_narrowed(fb, &saved), "net");
	for (__u32 id = 1; id <= 112; id++) {
		guest_frame(&in, IPPROTO_ICMP, (__u16)(0x4000 + id), 0, 16);
		made += run_tc_out(F, kn1, &in, &out) == TC_ACT_REDIRECT;
	}
	full = port_stats(fb, kn1).drop[KVB_DROP_NAT_PORT_FULL] - full0;
	CHECK(!add_veth("kn12", &kn12) && !parse_addr("192.168.90.12",
						       &g.addrs[0]) &&
	      !port_attach(fb, "unit", "kn12", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach kn12");
	guest_frame(&in, IPPROTO_ICMP, 0x4001, 0, 16);
	memcpy(in.buf + 6, N12, 6);
	in.buf[14 + 15] = 12;	/* from 192.168.90.12 */
	frame_csum4(&in);
	ret = run_tc_out(F, kn12, &in, &out);
	/* .11's flows gone: its share is free again */
	ct_flush_net(fb, NET_NAT);
	guest_frame(&in, IPPROTO_ICMP, 0x4200, 0, 16);
	again = run_tc_out(F, kn1, &in, &out);
	if (!port_get(fb, kn12, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kn12");
	net_put(fb, &saved);
	ct_flush_net(fb, NET_NAT);
	CHECK(made == 56 && full == 56, ".11 holds %d of 112 echo "
	      "identifiers (want 56), %llu refused nat-port-full", made,
	      (unsigned long long)full);
	CHECK(ret == TC_ACT_REDIRECT, ".12's ping to the same remote: "
	      "verdict %d", ret);
	CHECK(again == TC_ACT_REDIRECT, ".11's ping once its flows went: "
	      "verdict %d", again);
}

/*
 * One guest cannot hold every NAT port towards a destination: a guest
 * port holds at most half of a NAT address's ports of a protocol (its
 * mappings, and flows on a port of their own), so another guest's flow
 * to that destination still finds one. Before, .11 sending one datagram
 * to one remote from each of NAT's ports (each preserved) held them all,
 * and .12's datagram there was refused (nat-ports-exhausted), though .11
 * held few flows and eviction never ran. Nothing of .11's is taken for
 * it: .11's datagrams beyond its share are refused (nat-port-full), its
 * flows stay. Here the network's host range leaves NAT 112 ports.
 */
static void t_nat_port_share_leaves_others_ports(struct fabric *fb)
{
	static const __u8 N12[6] = { 0x52, 0x54, 0, 0, 0x5a, 12 };
	struct port_opts g = { .naddrs = 1, .mac = N12 };
	__be32 r = inet_addr("10.200.0.53"), b = inet_addr("192.168.90.12");
	struct kvb_ct_key k = { .saddr = inet_addr("192.168.90.11"),
				.daddr = r, .dport = htons(53),
				.proto = IPPROTO_UDP };
	__u64 full0 = port_stats(fb, kn1).drop[KVB_DROP_NAT_PORT_FULL], full;
	struct frame in, out, res;
	struct kvb_net saved;
	struct kvb_port p;
	struct kvb_ct e;
	int made = 0, kept = 0, ret = -1, ans = -1;
	__u16 sp, np = 0, bp = 0;
	__u32 kn12 = 0;
	__u8 tst;

	CHECK(!nat_ports_narrowed(fb, &saved), "net");
	/* .11's established connection, before its flood */
	np = tcp_open(40071);
	/* .11: one datagram to the remote from each of NAT's 112 ports */
	for (sp = 1024;; sp = sp == 1099 ? 65500 : sp + 1) {
		made += udp_to(sp, "10.200.0.53", 53) == sp;
		if (sp == 65535)
			break;
	}
	full = port_stats(fb, kn1).drop[KVB_DROP_NAT_PORT_FULL] - full0;
	/* .12, from a port that .11's mapping holds, to the same remote */
	CHECK(!add_veth("kn12", &kn12) && !parse_addr("192.168.90.12",
						       &g.addrs[0]) &&
	      !port_attach(fb, "unit", "kn12", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach kn12");
	hp_frame(&in, N12, b, 1024, r, 53, IPPROTO_UDP, 0, 0, 0);
	ret = run_tc_out(F, kn12, &in, &out);
	bp = get16(out.buf + 34);
	/* .11's flows are all there, and its first one's answer comes */
	for (sp = 1024;; sp = sp == 1099 ? 65500 : sp + 1) {
		k.sport = htons(sp);
		kept += !bpf_map_lookup_elem(fb->ct_fd, &k, &e);
		if (sp == 65535)
			break;
	}
	ans = udp_from("10.200.0.53", 53, 1024, &res);
	tst = tcp_state(fb, 40071);
	if (!port_get(fb, kn12, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kn12");
	net_put(fb, &saved);
	ct_flush_net(fb, NET_NAT);
	CHECK(np && tst == KVB_CT_ESTABLISHED, "the established connection: "
	      "port %u, state %u", np, tst);
	CHECK(made == 56 && full == 56, ".11 holds %d of 112 ports (want "
	      "56), %llu refused nat-port-full", made,
	      (unsigned long long)full);
	CHECK(ret == TC_ACT_REDIRECT && bp != 1024, ".12's datagram to the "
	      "remote: verdict %d, port %u", ret, bp);
	CHECK(kept == made, ".11's flows: %d of %d left", kept, made);
	CHECK(ans == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6),
	      "the answer to .11's first flow: verdict %d", ans);
}

/*
 * A hairpin flow (guest A to the WAN address on a port forwarded to guest
 * B) is established as any flow: UDP by B's answer, TCP by A's ACK of B's
 * SYN-ACK. Before, a hairpin flow stayed new for ever: an idle hairpin
 * TCP connection (a database connection pool, say) was cut after 120 s,
 * and, with the unreplied timeout, an answered UDP one after 30 s.
 */
/*
 * A forward's guest for the hairpin tests: veth dev, MAC mac, address
 * addr on the nat network, fw (its address and port set) pointing at it.
 * 0, or -1 with what failed said.
 */
static int hp_guest_up(struct fabric *fb, const char *dev, const __u8 *mac,
		       const char *addr, struct kvb_fwd *fw, __u32 *ifx)
{
	struct port_opts g = { .naddrs = 1, .mac = mac };

	if (add_veth(dev, ifx) || parse_addr(addr, &g.addrs[0]) ||
	    port_attach(fb, "unit", dev, NET_NAT, KVB_PORT_GUEST, &g)) {
		printf("FAIL attach %s\n", dev);
		unit_failed = 1;
		return -1;
	}
	fw->ifindex = *ifx;
	memcpy(fw->mac, mac, 6);
	return 0;
}

/* hp_guest_up undone: the port detached, the veth gone, no flow left */
static void hp_guest_down(struct fabric *fb, const char *dev, __u32 ifx)
{
	struct kvb_port p;
	char cmd[64];

	if (!port_get(fb, ifx, &p))
		port_detach(fb, "unit", &p);
	snprintf(cmd, sizeof(cmd), "ip link del %s", dev);
	system(cmd);
	ct_flush_net(fb, NET_NAT);
}

static void t_nat_hairpin_established(struct fabric *fb)
{
	static const __u8 N9[6] = { 0x52, 0x54, 0, 0, 0x5a, 9 };
	struct kvb_fwd_key fu = { .addr = natnet.nat_ip, .port = htons(8093),
				  .proto = IPPROTO_UDP };
	struct kvb_fwd_key ft = { .addr = natnet.nat_ip, .port = htons(8093),
				  .proto = IPPROTO_TCP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.19"),
			      .to_port = htons(93), .net_id = NET_NAT };
	__be32 a = inet_addr("192.168.90.11"), b = fw.to_addr;
	struct kvb_ct_key uk = { .saddr = a, .daddr = natnet.nat_ip,
				 .sport = htons(40900), .dport = htons(8093),
				 .proto = IPPROTO_UDP };
	struct kvb_ct_key tk = uk;
	struct frame in, out;
	struct kvb_ct e;
	__u8 st[4] = { 0xff, 0xff, 0xff, 0xff };
	__u16 up = 0, tp = 0;
	int r[5] = { 0 }, herr = -1;
	__u32 kn9;

	tk.proto = IPPROTO_TCP;
	ct_flush_net(fb, NET_NAT);
	if (hp_guest_up(fb, "kn9", N9, "192.168.90.19", &fw, &kn9))
		return;
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fu, &fw, BPF_ANY) &&
	      !bpf_map_update_elem(fb->fwd_fd, &ft, &fw, BPF_ANY), "forwards");
	/* UDP: A's datagram, then B's answer to the gateway */
	hp_frame(&in, N1, a, 40900, natnet.nat_ip, 8093, IPPROTO_UDP, 0, 0, 0);
	r[0] = run_tc_out(F, kn1, &in, &out);
	up = get16(out.buf + 34);
	if (!bpf_map_lookup_elem(fb->ct_fd, &uk, &e))
		st[0] = e.state;
	hp_frame(&in, N9, b, 93, natnet.gw_ip, up, IPPROTO_UDP, 0, 0, 0);
	r[1] = run_tc_out(F, kn9, &in, &out);
	if (!bpf_map_lookup_elem(fb->ct_fd, &uk, &e))
		st[1] = e.state;
	/* an ICMP error from the WAN side quoting the hairpin's packet to
	 * B (from the gateway, on A's port): a hairpin's entries are
	 * between guests only, A hears nothing of it */
	{
		struct frame q, err, res;

		hp_frame(&q, N1, natnet.gw_ip, up, b, 93, IPPROTO_UDP, 0, 0, 0);
		wan_unreach_quoting(&err, &q);
		memcpy(err.buf + 14 + 16, &natnet.gw_ip, 4);
		frame_csum4(&err);
		herr = run_tc_out(F, kw, &err, &res);
	}
	/* TCP: A's SYN, B's SYN-ACK, A's ACK */
	hp_frame(&in, N1, a, 40900, natnet.nat_ip, 8093, IPPROTO_TCP, 0x02,
		 100, 0);
	r[2] = run_tc_out(F, kn1, &in, &out);
	tp = get16(out.buf + 34);
	hp_frame(&in, N9, b, 93, natnet.gw_ip, tp, IPPROTO_TCP, 0x12, 500, 101);
	r[3] = run_tc_out(F, kn9, &in, &out);
	if (!bpf_map_lookup_elem(fb->ct_fd, &tk, &e))
		st[2] = e.state;
	hp_frame(&in, N1, a, 40900, natnet.nat_ip, 8093, IPPROTO_TCP, 0x10,
		 101, 501);
	r[4] = run_tc_out(F, kn1, &in, &out);
	if (!bpf_map_lookup_elem(fb->ct_fd, &tk, &e))
		st[3] = e.state;
	bpf_map_delete_elem(fb->fwd_fd, &fu);
	bpf_map_delete_elem(fb->fwd_fd, &ft);
	hp_guest_down(fb, "kn9", kn9);
	CHECK(r[0] == TC_ACT_REDIRECT && r[1] == TC_ACT_REDIRECT &&
	      r[2] == TC_ACT_REDIRECT && r[3] == TC_ACT_REDIRECT &&
	      r[4] == TC_ACT_REDIRECT, "verdicts %d %d %d %d %d", r[0], r[1],
	      r[2], r[3], r[4]);
	CHECK(st[0] == KVB_CT_NEW && st[1] == KVB_CT_ANSWERED,
	      "UDP hairpin: state %u after A's datagram, %u after B's answer",
	      st[0], st[1]);
	CHECK(st[2] == KVB_CT_NEW && st[3] == KVB_CT_ESTABLISHED,
	      "TCP hairpin: state %u after B's SYN-ACK, %u after A's ACK",
	      st[2], st[3]);
	CHECK(herr == TC_ACT_UNSPEC, "the WAN's ICMP error quoting a hairpin's "
	      "packet: verdict %d, want the host's", herr);
}

/*
 * A hairpin whose TTL runs out at the gateway (traceroute to the WAN
 * address's forwarded port): time exceeded back to A from its gateway,
 * as for any other destination, and no flow made for the packet; one
 * with TTL 2 goes on (t120: dropped as ttl-exceeded unanswered, and a
 * flow left for it). The same for a live hairpin's packet.
 */
static void t_nat_hairpin_ttl(struct fabric *fb)
{
	static const __u8 N9[6] = { 0x52, 0x54, 0, 0, 0x5a, 9 };
	struct kvb_fwd_key ft = { .addr = natnet.nat_ip, .port = htons(8094),
				  .proto = IPPROTO_TCP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.19"),
			      .to_port = htons(94), .net_id = NET_NAT };
	__be32 a = inet_addr("192.168.90.11");
	struct kvb_ct_key tk = { .saddr = a, .daddr = natnet.nat_ip,
				 .sport = htons(40910), .dport = htons(8094),
				 .proto = IPPROTO_TCP };
	struct frame in, out;
	struct kvb_ct e;
	int r[3] = { -1, -1, -1 }, made1 = -1, made2 = -1;
	__u8 type1 = 0, type3 = 0;
	__u32 kn9;

	ct_flush_net(fb, NET_NAT);
	if (hp_guest_up(fb, "kn9", N9, "192.168.90.19", &fw, &kn9))
		return;
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &ft, &fw, BPF_ANY), "forward");
	hp_frame(&in, N1, a, 40910, natnet.nat_ip, 8094, IPPROTO_TCP, 0x02,
		 100, 0);
	in.buf[14 + 8] = 1;	/* TTL 1 */
	frame_csum4(&in);
	r[0] = run_tc_out(F, kn1, &in, &out);
	type1 = out.buf[14 + 20];
	made1 = !bpf_map_lookup_elem(fb->ct_fd, &tk, &e);
	in.buf[14 + 8] = 2;	/* TTL 2: on to B */
	frame_csum4(&in);
	r[1] = run_tc_out(F, kn1, &in, &out);
	made2 = !bpf_map_lookup_elem(fb->ct_fd, &tk, &e);
	in.buf[14 + 8] = 1;	/* the live hairpin's, TTL 1 */
	frame_csum4(&in);
	r[2] = run_tc_out(F, kn1, &in, &out);
	type3 = out.buf[14 + 20];
	bpf_map_delete_elem(fb->fwd_fd, &ft);
	hp_guest_down(fb, "kn9", kn9);
	CHECK(r[0] == TC_ACT_REDIRECT && type1 == 11 && !made1,
	      "TTL 1 to a forward at the WAN address: verdict %d, ICMP type "
	      "%u, flow made %d (want time exceeded, no flow)", r[0], type1,
	      made1);
	CHECK(r[1] == TC_ACT_REDIRECT && made2,
	      "TTL 2: verdict %d, flow made %d", r[1], made2);
	CHECK(r[2] == TC_ACT_REDIRECT && type3 == 11,
	      "TTL 1 on a live hairpin: verdict %d, ICMP type %u", r[2], type3);
}

/*
 * B's ICMP error about a hairpinned datagram (its port unreachable, to
 * the gateway's address) goes back through the hairpin to A, from the
 * WAN address A asked, quoting A's datagram as A sent it: every checksum
 * verifies, the quoted UDP checksum is A's own. The same error from
 * another port (B's address, but not B's port) is not taken for B's, and
 * an error about no hairpin flow stays the host's. Before, every such
 * error went to the host and A waited.
 */
static void t_nat_hairpin_error_back(struct fabric *fb)
{
	static const __u8 N9[6] = { 0x52, 0x54, 0, 0, 0x5a, 9 };
	__be32 a = inet_addr("192.168.90.11"), b = inet_addr("192.168.90.19");
	struct frame in, hp, err, res, res2, res3, ans, got, rerr, rres;
	__u8 body[8 + 28] = { 3, 3 };
	int r[6] = { -1, -1, -1, -1, -1, -1 };
	struct kvb_fwd_key fu;
	__u16 up;
	__u32 kn9;

	CHECK(!hp_b_up(fb, "kn9", N9, "192.168.90.19", 8094, 94, &kn9, &fu),
	      "attach kn9 and its forward");
	/* A's datagram through the hairpin: B gets it from the gateway */
	hp_frame(&in, N1, a, 40901, natnet.nat_ip, 8094, IPPROTO_UDP, 0, 0, 0);
	r[0] = run_tc_out(F, kn1, &in, &hp);
	/* B's port unreachable, quoting what it got */
	memcpy(body + 8, hp.buf + 14, 28);
	frame_ip4(&err, natnet.uplink_mac, N9, b, IPPROTO_ICMP, body,
		  sizeof(body));
	memcpy(err.buf + 14 + 16, &natnet.gw_ip, 4);
	frame_csum4(&err);
	r[1] = run_tc_out(F, kn9, &err, &res);
	/* the other way: B's answer reaches A from the WAN address, and
	 * A's port unreachable about it goes back to B as from the gateway,
	 * quoting B's answer as B sent it */
	up = get16(hp.buf + 34);
	hp_frame(&ans, N9, b, 94, natnet.gw_ip, up, IPPROTO_UDP, 0, 0, 0);
	r[4] = run_tc_out(F, kn9, &ans, &got);
	memcpy(body + 8, got.buf + 14, 28);
	frame_ip4(&rerr, natnet.uplink_mac, N1, a, IPPROTO_ICMP, body,
		  sizeof(body));
	memcpy(rerr.buf + 14 + 16, &natnet.nat_ip, 4);
	frame_csum4(&rerr);
	r[5] = run_tc_out(F, kn1, &rerr, &rres);
	/* the same from A's port (B's address, not B's port) */
	memcpy(err.buf + 6, N1, 6);
	r[2] = run_tc_out(F, kn1, &err, &res2);
	/* an error from B about a port no hairpin flow has */
	memcpy(err.buf + 6, N9, 6);
	err.buf[42 + 20] ^= 0x55;	/* the quoted source port */
	err.buf[42 + 10] = err.buf[42 + 11] = 0;
	frame_csum4(&err);
	r[3] = run_tc_out(F, kn9, &err, &res3);
	hp_b_down(fb, "kn9", kn9, &fu);
	CHECK(r[0] == TC_ACT_REDIRECT, "A's hairpin: verdict %d", r[0]);
	CHECK(r[1] == TC_ACT_REDIRECT, "B's error: verdict %d", r[1]);
	CHECK(!memcmp(res.buf, N1, 6) && !memcmp(res.buf + 6, natnet.uplink_mac, 6),
	      "B's error: not addressed to A's MAC from the gateway's");
	CHECK(!memcmp(res.buf + 14 + 12, &natnet.nat_ip, 4) &&
	      !memcmp(res.buf + 14 + 16, &a, 4),
	      "B's error: not from the WAN address to A");
	CHECK(!ip_csum_check(res.buf) && !l4_csum_check(res.buf),
	      "B's error: outer IP or ICMP checksum wrong");
	CHECK(!csum_fold16(sum16(res.buf + 42, 20, 0)),
	      "B's error: quoted IP header checksum wrong");
	CHECK(!memcmp(res.buf + 42 + 12, &a, 4) &&
	      !memcmp(res.buf + 42 + 16, &natnet.nat_ip, 4) &&
	      get16(res.buf + 62) == 40901 && get16(res.buf + 64) == 8094,
	      "B's error: the quote is not A's datagram (%u -> %u)",
	      get16(res.buf + 62), get16(res.buf + 64));
	CHECK(!memcmp(res.buf + 62 + 6, in.buf + 34 + 6, 2),
	      "B's error: quoted UDP checksum %04x, A sent %04x",
	      get16(res.buf + 68), get16(in.buf + 40));
	CHECK(r[4] == TC_ACT_REDIRECT && r[5] == TC_ACT_REDIRECT,
	      "B's answer %d, A's error about it %d", r[4], r[5]);
	CHECK(!memcmp(rres.buf, N9, 6) &&
	      !memcmp(rres.buf + 14 + 12, &natnet.gw_ip, 4) &&
	      !memcmp(rres.buf + 14 + 16, &b, 4),
	      "A's error: not to B from the gateway");
	CHECK(!ip_csum_check(rres.buf) && !l4_csum_check(rres.buf) &&
	      !csum_fold16(sum16(rres.buf + 42, 20, 0)),
	      "A's error: a checksum is wrong");
	CHECK(!memcmp(rres.buf + 42 + 12, &b, 4) &&
	      !memcmp(rres.buf + 42 + 16, &natnet.gw_ip, 4) &&
	      get16(rres.buf + 62) == 94 && get16(rres.buf + 64) == up &&
	      !memcmp(rres.buf + 62 + 6, ans.buf + 34 + 6, 2),
	      "A's error: the quote is not B's answer as B sent it");
	CHECK(r[2] != TC_ACT_REDIRECT || memcmp(res2.buf + 14 + 16, &a, 4),
	      "an error with B's address from A's port went back to A");
	CHECK(r[3] != TC_ACT_REDIRECT || memcmp(res3.buf + 14 + 16, &a, 4),
	      "an error about no hairpin flow went to A");
}

/*
 * A port that leaves takes its NAT flows with it, at once: detach (and
 * net del and gc, which detach) removes every flow naming the port (its
 * own, a forward's connection to it, a hairpin through the WAN address to
 * it, and one it opened to another guest's forward, whose entry for the
 * way there names the other guest), gives back the network's count and
 * the mappings and peer entries the flows held; another port's flow is
 * untouched and still answered. A forward still naming the gone port
 * makes no new flow for it (no-route on the WAN port).
 */
static void t_nat_detach_forgets_flows(struct fabric *fb)
{
	static const __u8 N8[6] = { 0x52, 0x54, 0, 0, 0x5a, 8 };
	struct port_opts g = { .naddrs = 1, .mac = N8 };
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8088),
				  .proto = IPPROTO_TCP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.18"),
			      .to_port = htons(80), .net_id = NET_NAT };
	/* kn1's forward, which kn8 reaches by hairpin */
	struct kvb_fwd_key fk1 = { .addr = natnet.nat_ip, .port = htons(8089),
				   .proto = IPPROTO_TCP };
	struct kvb_fwd fw1 = { .to_addr = inet_addr("192.168.90.11"),
			       .to_port = htons(80), .net_id = NET_NAT,
			       .ifindex = kn1 };
	struct frame in, res;
	struct kvb_port p;
	__u64 c0, nr0;
	__u16 keep;
	__u32 kn8;
	int m0, ret, left, made, m1, e1, e1_8, e1_left;

	ct_flush_net(fb, NET_NAT);
	keep = udp_to(20031, "10.200.0.2", 53);
	CHECK(keep, "kn1's flow");
	c0 = ct_count(fb, NET_NAT);
	m0 = natmap_entries(fb);
	e1 = ct_entries_of(fb, kn1);
	memcpy(fw1.mac, N1, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk1, &fw1, BPF_ANY),
	      "kn1's forward");
	CHECK(!add_veth("kn8", &kn8) &&
	      !parse_addr("192.168.90.18", &g.addrs[0]) &&
	      !port_attach(fb, "unit", "kn8", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach kn8");
	fw.ifindex = kn8;
	memcpy(fw.mac, N8, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	/* kn8's own: one UDP socket to two remotes (a mapping, two peer
	 * entries), TCP, an echo */
	CHECK(guest_send(kn8, N8, "192.168.90.18", IPPROTO_UDP, 20032,
			 "10.200.0.2", 53) == TC_ACT_REDIRECT &&
	      guest_send(kn8, N8, "192.168.90.18", IPPROTO_UDP, 20032,
			 "10.200.0.3", 53) == TC_ACT_REDIRECT &&
	      guest_send(kn8, N8, "192.168.90.18", IPPROTO_TCP, 20033,
			 "10.200.0.2", 443) == TC_ACT_REDIRECT &&
	      guest_send(kn8, N8, "192.168.90.18", IPPROTO_ICMP, 77,
			 "10.200.0.2", 0) == TC_ACT_REDIRECT,
	      "kn8's flows");
	/* a connection from the WAN through the forward, and kn1's hairpin
	 * through the WAN address to it */
	wan_frame(&in, IPPROTO_TCP, 5555, 8088, 0x02, 0);
	ret = run_tc_out(fb, kw, &in, &res);
	CHECK(ret == TC_ACT_REDIRECT, "forward to kn8: verdict %d", ret);
	ret = guest_send(kn1, N1, "192.168.90.11", IPPROTO_TCP, 40600,
			 "10.200.0.1", 8088);
	CHECK(ret == TC_ACT_REDIRECT, "hairpin to kn8: verdict %d", ret);
	/* kn8 opens a hairpin to kn1's forward: of that flow only the
	 * entry of the way back names kn8 */
	ret = guest_send(kn8, N8, "192.168.90.18", IPPROTO_TCP, 40601,
			 "10.200.0.1", 8089);
	CHECK(ret == TC_ACT_REDIRECT, "hairpin from kn8: verdict %d", ret);
	made = (int)(ct_count(fb, NET_NAT) - c0);
	m1 = natmap_entries(fb);
	e1_8 = ct_entries_of(fb, kn1);
	CHECK(made == 7, "%d flows made, want 7", made);
	CHECK(e1_8 == e1 + 2, "kn1 named by %d entries, want %d (a hairpin "
	      "each way)", e1_8, e1 + 2);

	CHECK(!port_get(fb, kn8, &p) && !port_detach(fb, "unit", &p),
	      "detach kn8");
	left = ct_entries_of(fb, kn8);
	e1_left = ct_entries_of(fb, kn1);
	nr0 = port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE];
	ret = run_tc_out(fb, kw, &in, &res);	/* the forward again */
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	bpf_map_delete_elem(fb->fwd_fd, &fk1);
	system("ip link del kn8");
	CHECK(!left, "%d flow entries of kn8 left after its detach", left);
	CHECK(e1_left == e1, "kn1 named by %d entries after kn8's detach, "
	      "want %d (the hairpins' other halves gone too)", e1_left, e1);
	CHECK(ct_count(fb, NET_NAT) == c0, "flow count %llu, want %llu back",
	      (unsigned long long)ct_count(fb, NET_NAT),
	      (unsigned long long)c0);
	CHECK(natmap_entries(fb) == m0, "%d mapping entries, want %d back "
	      "(%d with kn8's)", natmap_entries(fb), m0, m1);
	CHECK(ret == TC_ACT_SHOT && ct_count(fb, NET_NAT) == c0 &&
	      port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE] == nr0 + 1,
	      "a forward to the gone port: verdict %d, flows %llu (want %llu), "
	      "no-route +%llu", ret, (unsigned long long)ct_count(fb, NET_NAT),
	      (unsigned long long)c0, (unsigned long long)
	      (port_stats(fb, kw).drop[KVB_DROP_NO_ROUTE] - nr0));
	ret = udp_from("10.200.0.2", 53, keep, &res);
	CHECK(ret == TC_ACT_REDIRECT && !memcmp(res.buf, N1, 6),
	      "kn1's flow lost: verdict %d", ret);
	ct_flush_net(fb, NET_NAT);
}

/*
 * The forget walk runs where NAT flows can be, once: a bridge port's
 * detach does not walk kvb_ct (a flow whose port entry went by hand, no
 * detach, stays), a nat guest's does (it goes too); while a hold is on
 * (net del, gc) a detach's flows stay until the last release, which
 * takes them all in one walk, counts and mappings given back.
 */
static void t_nat_forget_once(struct fabric *fb)
{
	static const __u8 N5[6] = { 0x52, 0x54, 0, 0, 0x5a, 5 };
	static const __u8 N6[6] = { 0x52, 0x54, 0, 0, 0x5a, 6 };
	struct port_opts g5 = { .naddrs = 1, .mac = N5 };
	struct port_opts g6 = { .naddrs = 1, .mac = N6 };
	struct port_opts bo = { .naddrs = 0 };
	struct kvb_port p5, p;
	__u32 kn5, kn6, kb9;
	__u64 c0;
	int m0, e5_bridge, e6_held, e5_held, e5, e6, n5;

	ct_flush_net(fb, NET_NAT);
	c0 = ct_count(fb, NET_NAT);
	m0 = natmap_entries(fb);
	CHECK(!add_veth("kn5", &kn5) && !add_veth("kn6", &kn6) &&
	      !add_veth("kb9", &kb9) &&
	      !parse_addr("192.168.90.15", &g5.addrs[0]) &&
	      !parse_addr("192.168.90.16", &g6.addrs[0]) &&
	      !port_attach(fb, "unit", "kn5", NET_NAT, KVB_PORT_GUEST, &g5) &&
	      !port_attach(fb, "unit", "kn6", NET_NAT, KVB_PORT_GUEST, &g6) &&
	      !port_attach(fb, "unit", "kb9", 1, KVB_PORT_GUEST, &bo),
	      "attach kn5, kn6, kb9");
	CHECK(guest_send(kn5, N5, "192.168.90.15", IPPROTO_UDP, 20051,
			 "10.200.0.2", 53) == TC_ACT_REDIRECT &&
	      guest_send(kn6, N6, "192.168.90.16", IPPROTO_UDP, 20061,
			 "10.200.0.2", 53) == TC_ACT_REDIRECT, "flows");
	n5 = ct_entries_of(fb, kn5);
	/* kn5's entry goes by hand: its flow is no port's now */
	CHECK(!bpf_map_lookup_elem(fb->port_fd, &kn5, &p5), "kn5's entry");
	bpf_map_delete_elem(fb->port_fd, &kn5);
	if (!port_get(fb, kb9, &p))
		port_detach(fb, "unit", &p);
	e5_bridge = ct_entries_of(fb, kn5);
	nat_forget_hold(fb);
	if (!port_get(fb, kn6, &p))
		port_detach(fb, "unit", &p);
	e6_held = ct_entries_of(fb, kn6);
	e5_held = ct_entries_of(fb, kn5);
	nat_forget_release(fb);
	e5 = ct_entries_of(fb, kn5);
	e6 = ct_entries_of(fb, kn6);
	bpf_map_update_elem(fb->port_fd, &kn5, &p5, BPF_NOEXIST);
	if (!port_get(fb, kn5, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kn5; ip link del kn6; ip link del kb9");
	CHECK(n5 == 2 && e5_bridge == 2, "kn5's flow: %d entries, %d after a "
	      "bridge port's detach (want 2: no walk)", n5, e5_bridge);
	CHECK(e6_held == 2 && e5_held == 2, "held: kn6's detach left %d "
	      "entries of it, %d of kn5's (want 2, 2: no walk yet)", e6_held,
	      e5_held);
	CHECK(!e5 && !e6, "released: %d entries of kn5, %d of kn6 left", e5,
	      e6);
	CHECK(ct_count(fb, NET_NAT) == c0 && natmap_entries(fb) == m0,
	      "flows %llu (want %llu), mapping entries %d (want %d)",
	      (unsigned long long)ct_count(fb, NET_NAT),
	      (unsigned long long)c0, natmap_entries(fb), m0);
}

/*
 * Hairpin reaches only a guest of the network: a forward names the port
 * it was added for, and a tap detached from the nat network and attached
 * to another network (bridge b here; an internal one alike) keeps its
 * ifindex. kn1 connecting to the WAN address on the forwarded port then
 * reaches nothing (no-route, and no flow is made), where it reached the
 * tap in the other network; and a hairpin flow to it (detach took it:
 * planted back here, as one a fabric of an earlier build left behind)
 * carries nothing more into it (hairpin_send's check: no-route).
 */
static void t_nat_hairpin_port_moved(struct fabric *fb)
{
	static const __u8 N7[6] = { 0x52, 0x54, 0, 0, 0x5a, 7 };
	struct port_opts g = { .naddrs = 1, .mac = N7 };
	struct port_opts b = { .naddrs = 0, .mac = N7 };
	struct kvb_fwd_key fk = { .addr = natnet.nat_ip, .port = htons(8087),
				  .proto = IPPROTO_TCP };
	struct kvb_fwd fw = { .to_addr = inet_addr("192.168.90.17"),
			      .to_port = htons(80), .net_id = NET_NAT };
	struct kvb_ct_key ck[2], k, *prev = NULL;
	struct kvb_ct cv[2], e;
	__u64 d0, c0;
	struct kvb_port p;
	__u32 kn7;
	int r0, r1, r2, made, nk = 0, left;

	ct_flush_net(fb, NET_NAT);
	CHECK(!add_veth("kn7", &kn7) &&
	      !parse_addr("192.168.90.17", &g.addrs[0]) &&
	      !port_attach(fb, "unit", "kn7", NET_NAT, KVB_PORT_GUEST, &g),
	      "attach kn7");
	fw.ifindex = kn7;
	memcpy(fw.mac, N7, 6);
	CHECK(!bpf_map_update_elem(fb->fwd_fd, &fk, &fw, BPF_ANY), "forward");
	r0 = guest_send(kn1, N1, "192.168.90.11", IPPROTO_TCP, 40700,
			"10.200.0.1", 8087);
	/* the hairpin flow's two entries (the only ones: flushed above) */
	while (!bpf_map_get_next_key(fb->ct_fd, prev, &k) && nk < 2) {
		prev = &k;
		if (!bpf_map_lookup_elem(fb->ct_fd, &k, &e) && e.hairpin) {
			ck[nk] = k;
			cv[nk++] = e;
		}
	}
	/* the guest moves: kn7 leaves the nat network for bridge b */
	if (!port_get(fb, kn7, &p))
		port_detach(fb, "unit", &p);
	left = ct_entries_of(fb, kn7);
	CHECK(!port_attach(fb, "unit", "kn7", 2, KVB_PORT_GUEST, &b),
	      "attach kn7 to bridge b");
	d0 = port_stats(fb, kn1).drop[KVB_DROP_NO_ROUTE];
	c0 = ct_count(fb, NET_NAT);
	r1 = guest_send(kn1, N1, "192.168.90.11", IPPROTO_TCP, 40701,
			"10.200.0.1", 8087);
	made = (int)(ct_count(fb, NET_NAT) - c0);
	for (int i = 0; i < nk; i++)
		bpf_map_update_elem(fb->ct_fd, &ck[i], &cv[i], BPF_NOEXIST);
	r2 = guest_send(kn1, N1, "192.168.90.11", IPPROTO_TCP, 40700,
			"10.200.0.1", 8087);
	for (int i = 0; i < nk; i++)
		bpf_map_delete_elem(fb->ct_fd, &ck[i]);
	bpf_map_delete_elem(fb->fwd_fd, &fk);
	if (!port_get(fb, kn7, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kn7");
	CHECK(r0 == TC_ACT_REDIRECT, "hairpin to kn7 on the nat network: "
	      "verdict %d", r0);
	CHECK(nk == 2 && !left, "the hairpin's %d entries, %d left after the "
	      "detach", nk, left);
	CHECK(r1 == TC_ACT_SHOT, "a new hairpin reached kn7 on bridge b: "
	      "verdict %d", r1);
	CHECK(!made, "%d flows made for the moved port", made);
	CHECK(r2 == TC_ACT_SHOT, "the hairpin flow carried on into kn7 on "
	      "bridge b: verdict %d", r2);
	CHECK(port_stats(fb, kn1).drop[KVB_DROP_NO_ROUTE] == d0 + 2,
	      "no-route +%llu, want +2", (unsigned long long)
	      (port_stats(fb, kn1).drop[KVB_DROP_NO_ROUTE] - d0));
}

/* frame f is an ICMP fragmentation needed with mtu, from the NAT address
 * to 10.200.0.2, back to the sender's MAC from the WAN's, quoting in;
 * 0, or what is wrong */
static const char *frag_needed_of(const struct frame *f, const struct frame *in,
				  __u16 mtu)
{
	__be32 r = inet_addr("10.200.0.2");

	if (f->buf[14 + 9] != IPPROTO_ICMP || f->buf[34] != 3 ||
	    f->buf[35] != 4)
		return "not an ICMP fragmentation needed";
	if (get16(f->buf + 34 + 6) != mtu)
		return "not the guest network's MTU";
	if (memcmp(f->buf + 14 + 12, &natnet.nat_ip, 4) ||
	    memcmp(f->buf + 14 + 16, &r, 4))
		return "not from the NAT address to the remote";
	if (memcmp(f->buf, in->buf + 6, 6) || memcmp(f->buf + 6, in->buf, 6))
		return "not back to the sender's MAC from the WAN's";
	if (ip_csum_check(f->buf) || l4_csum_check(f->buf))
		return "bad checksum";
	if (memcmp(f->buf + 14 + 28, in->buf + 14, 28))
		return "not quoting the reply as it came";
	return NULL;
}

/*
 * A reply longer than its guest's network takes (the network's MTU set
 * below the WAN's) is not handed to the guest beyond its MTU: the remote
 * gets fragmentation needed with that MTU, as from the kernel's
 * forwarding, from the address it sent to, and the reply is dropped,
 * counted too-big on the WAN port. A GRO super-frame counts by its
 * segments. With DF clear (the kernel would fragment, BPF cannot) the
 * same answer. What fits goes to the guest as ever.
 */
static void t_nat_reply_over_guest_mtu(struct fabric *fb)
{
	__u64 tb0 = port_stats(fb, kw).drop[KVB_DROP_TOO_BIG];
	struct frame in, big, fit, nodf, gbig, gfit, gin, out;
	const char *why, *why_nodf;
	struct kvb_net n, saved;
	int r_big, r_fit, r_nodf, r_gbig, r_gfit;
	__u16 nu, nt;

	CHECK(!net_get(fb, NET_NAT, &saved), "net");
	nu = udp_to(20041, "10.200.0.2", 53);
	guest_frame(&in, IPPROTO_TCP, 40800, 443, 0);
	CHECK(nu && run_tc_out(fb, kn1, &in, &out) == TC_ACT_REDIRECT,
	      "flows");
	nt = get16(out.buf + 34);
	n = saved;
	n.mtu = 1400;
	CHECK(!net_put(fb, &n), "mtu 1400");
	/* UDP with DF: 1401 bytes of IP, then 1400 */
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 1373);
	in.buf[14 + 6] = 0x40;
	frame_csum4(&in);
	r_big = run_tc_out(fb, kw, &in, &big);
	why = frag_needed_of(&big, &in, 1400);
	in.buf[14 + 6] = 0;
	frame_csum4(&in);
	r_nodf = run_tc_out(fb, kw, &in, &nodf);
	why_nodf = frag_needed_of(&nodf, &in, 1400);
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 1372);
	in.buf[14 + 6] = 0x40;
	frame_csum4(&in);
	r_fit = run_tc_out(fb, kw, &in, &fit);
	/* a TCP GRO super-frame: segments of 40 + 1448 bytes, then 1360 */
	wan_frame(&gin, IPPROTO_TCP, 443, nt, 0x10, 1500);
	gin.buf[14 + 6] = 0x40;
	frame_csum4(&gin);
	r_gbig = run_tc_gso_out(fb, kw, &gin, &gbig, 1448);
	r_gfit = run_tc_gso_out(fb, kw, &gin, &gfit, 1360);
	net_put(fb, &saved);
	CHECK(r_big == TC_ACT_REDIRECT && !why, "UDP with DF over the MTU: "
	      "verdict %d, %s", r_big, why ? why : "");
	CHECK(r_nodf == TC_ACT_REDIRECT && !why_nodf, "UDP without DF over "
	      "the MTU: verdict %d, %s", r_nodf, why_nodf ? why_nodf : "");
	CHECK(r_fit == TC_ACT_REDIRECT && !memcmp(fit.buf, N1, 6) &&
	      fit.buf[14 + 19] == 11, "UDP at the MTU: verdict %d, not to the "
	      "guest", r_fit);
	why = frag_needed_of(&gbig, &gin, 1400);
	CHECK(r_gbig == TC_ACT_REDIRECT && !why, "TCP super-frame, segments "
	      "over the MTU: verdict %d, %s", r_gbig, why ? why : "");
	CHECK(r_gfit == TC_ACT_REDIRECT && !memcmp(gfit.buf, N1, 6) &&
	      gfit.buf[14 + 19] == 11, "TCP super-frame, segments at the MTU: "
	      "verdict %d, not to the guest", r_gfit);
	CHECK(port_stats(fb, kw).drop[KVB_DROP_TOO_BIG] == tb0 + 3,
	      "too-big +%llu, want +3", (unsigned long long)
	      (port_stats(fb, kw).drop[KVB_DROP_TOO_BIG] - tb0));
}

/*
 * A reply that arrives with TTL 1 (or 0) dies at the host, as in the
 * kernel's forwarding: the remote gets time exceeded from the address it
 * sent to, back out of the WAN to its sender's MAC, quoting the reply as
 * it came, and the reply is dropped, counted ttl-exceeded on the WAN
 * port. Before, it was handed to the host, whose own address it is: the
 * host answered for a connection it does not have (a TCP RST, port
 * unreachable). TTL 2 goes to the guest with TTL 1.
 */
static void t_nat_reply_ttl_out(struct fabric *fb)
{
	__u64 te0 = port_stats(fb, kw).drop[KVB_DROP_TTL];
	__be32 r = inet_addr("10.200.0.2");
	struct frame in, out, te[2], fit;
	int ret[2], rfit;
	__u16 nt;

	guest_frame(&in, IPPROTO_TCP, 40810, 443, 0);
	CHECK(run_tc_out(fb, kn1, &in, &out) == TC_ACT_REDIRECT, "flow");
	nt = get16(out.buf + 34);
	for (int i = 0; i < 2; i++) {
		wan_frame(&in, IPPROTO_TCP, 443, nt, 0x12, 0);
		in.buf[14 + 8] = (__u8)i;
		frame_csum4(&in);
		ret[i] = run_tc_out(fb, kw, &in, &te[i]);
		CHECK(ret[i] == TC_ACT_REDIRECT &&
		      te[i].buf[14 + 9] == IPPROTO_ICMP &&
		      te[i].buf[34] == 11 && te[i].buf[35] == 0 &&
		      !memcmp(te[i].buf + 14 + 12, &natnet.nat_ip, 4) &&
		      !memcmp(te[i].buf + 14 + 16, &r, 4) &&
		      !memcmp(te[i].buf, in.buf + 6, 6) &&
		      !memcmp(te[i].buf + 6, in.buf, 6) &&
		      !ip_csum_check(te[i].buf) && !l4_csum_check(te[i].buf) &&
		      !memcmp(te[i].buf + 14 + 28, in.buf + 14, 28),
		      "a reply with TTL %d: verdict %d, protocol %u, ICMP "
		      "%u/%u, not time exceeded to the remote", i, ret[i],
		      te[i].buf[14 + 9], te[i].buf[34], te[i].buf[35]);
	}
	CHECK(port_stats(fb, kw).drop[KVB_DROP_TTL] == te0 + 2,
	      "ttl-exceeded +%llu, want +2", (unsigned long long)
	      (port_stats(fb, kw).drop[KVB_DROP_TTL] - te0));
	wan_frame(&in, IPPROTO_TCP, 443, nt, 0x10, 0);
	in.buf[14 + 8] = 2;
	frame_csum4(&in);
	rfit = run_tc_out(fb, kw, &in, &fit);
	CHECK(rfit == TC_ACT_REDIRECT && !memcmp(fit.buf, N1, 6) &&
	      fit.buf[14 + 8] == 1 && !ip_csum_check(fit.buf),
	      "a reply with TTL 2: verdict %d, TTL %u, not to the guest", rfit,
	      fit.buf[14 + 8]);
}

/*
 * The host's own ping keeps its replies. A guest's echo flow to a remote
 * takes NAT identifier x; the flow ends (idle past ICMP's 30 s); the
 * host pings the same remote with identifier x, and its reply, for no
 * live flow, is the host's (and noted in kvb_nathost). The guest pings
 * again with the same identifier: its new flow takes another NAT
 * identifier, and the host's next reply is still the host's. Before, the
 * new flow took x again (the same keyed search) and every reply of the
 * host's ping went to the guest, which kept the flow alive.
 */
static void t_nat_host_ping_keeps_its_id(struct fabric *fb)
{
	struct kvb_ct_key ok = guest_ct_key(IPPROTO_ICMP, 0x4321, 0);
	struct kvb_ct_key rk = { .saddr = inet_addr("10.200.0.2"),
				 .daddr = natnet.nat_ip,
				 .proto = IPPROTO_ICMP, .dir = 1 };
	struct frame in, out, back, res;
	int r_first, r_again, r_host, r_host2;
	__u16 x, x2;

	guest_frame(&in, IPPROTO_ICMP, 0x4321, 0, 16);
	r_first = run_tc_out(fb, kn1, &in, &out);
	x = get16(out.buf + 38);
	rk.dport = htons(x);
	CHECK(r_first == TC_ACT_REDIRECT && !ct_age(fb, &ok, 100) &&
	      !ct_age(fb, &rk, 100), "the guest's first echo flow: verdict %d",
	      r_first);
	wan_frame(&back, IPPROTO_ICMP, 0, x, 0, 16);	/* an echo reply */
	r_host = run_tc_out(fb, kw, &back, &res);
	r_again = run_tc_out(fb, kn1, &in, &out);
	x2 = get16(out.buf + 38);
	r_host2 = run_tc_out(fb, kw, &back, &res);
	CHECK(r_host == TC_ACT_UNSPEC, "the host's reply, the flow over: verdict "
	      "%d", r_host);
	CHECK(r_again == TC_ACT_REDIRECT && x2 != x, "the guest's new echo "
	      "flow: verdict %d, NAT id %u (the host's %u)", r_again, x2, x);
	CHECK(r_host2 == TC_ACT_UNSPEC && !memcmp(res.buf + 14 + 16,
					      &natnet.nat_ip, 4),
	      "the host's next reply: verdict %d, not the host's", r_host2);
}

/*
 * XDP on the WAN holds a reply to the guest's own network's MTU too: a
 * guest of a routed network behind the nat one (via_nat, stood in for
 * by bridge a here: the port's network is what counts) whose MTU is
 * narrower than the nat network's. Its reply over that MTU goes to tc
 * (XDP_PASS), which answers the remote (fragmentation needed); one that
 * fits is XDP's.
 */
static void t_natxdp_guest_network_mtu(struct fabric *fb)
{
	struct kvb_net a, saved_a;
	struct kvb_port p, saved;
	struct frame in, x, res;
	int rx_big, rt_big, rx_fit;
	__u16 nu;

	set_wan_xdp(fb, 1);
	nu = tap_flow(IPPROTO_UDP, 40950, 53);
	CHECK(nu, "flow refused");
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 32);
	CHECK(run_tc_out(fb, kw, &in, &res) == TC_ACT_REDIRECT, "first reply");
	CHECK(!net_get(fb, 1, &saved_a) &&
	      !bpf_map_lookup_elem(fb->port_fd, &knt, &saved), "entries");
	a = saved_a;
	a.via_nat = NET_NAT;
	a.mtu = 1400;
	p = saved;
	p.net_id = 1;
	net_put(fb, &a);
	bpf_map_update_elem(fb->port_fd, &knt, &p, BPF_EXIST);
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 1422);	/* 1450 bytes of IP */
	rx_big = run_xdp_prog_out(wan_prog, kw, &in, &x);
	rt_big = run_tc_out(fb, kw, &in, &res);
	wan_frame(&in, IPPROTO_UDP, 53, nu, 0, 1372);	/* 1400 */
	rx_fit = run_xdp_prog_out(wan_prog, kw, &in, &x);
	bpf_map_update_elem(fb->port_fd, &knt, &saved, BPF_EXIST);
	net_put(fb, &saved_a);
	set_wan_xdp(fb, 0);
	CHECK(rx_big == XDP_PASS, "XDP verdict %d over the guest network's "
	      "MTU, want XDP_PASS", rx_big);
	CHECK(rt_big == TC_ACT_REDIRECT && res.buf[14 + 9] == IPPROTO_ICMP &&
	      res.buf[34] == 3 && res.buf[35] == 4 &&
	      get16(res.buf + 34 + 6) == 1400,
	      "tc: verdict %d, not fragmentation needed with 1400", rt_big);
	CHECK(rx_fit == XDP_REDIRECT, "XDP verdict %d at the guest network's "
	      "MTU, want XDP_REDIRECT", rx_fit);
}

int nat_tests(struct fabric *fb)
{
	struct port_opts g = { .naddrs = 1, .mac = N1 };
	char *add[] = { "nat", "type", "nat", "subnet", "192.168.90.0/24",
			"wan", "kw", "dhcp", "off" };
	struct net_spec s;
	int nfail = 0;

	F = fb;
	if (add_veth("kw", &kw) || add_veth("kn1", &kn1) ||
	    system("ip addr add 10.200.0.1/24 dev kw && "
		   "ip neigh add 10.200.0.2 lladdr 02:00:00:00:00:fe dev kw") ||
	    parse_addr("192.168.90.11", &g.addrs[0])) {
		printf("FAIL nat setup: devices\n");
		return 1;
	}
	/* as `net add nat type nat subnet 192.168.90.0/24 wan kw dhcp off`
	 * makes it: gateway 192.168.90.1, NAT address kw's 10.200.0.1 */
	if (net_add_spec(ARRAY_SIZE(add), add, &s) || net_create(fb, &s) ||
	    net_find(fb, "nat", &natnet) || natnet.id != NET_NAT ||
	    port_attach(fb, "unit", "kn1", NET_NAT, KVB_PORT_GUEST, &g) ||
	    net_get(fb, NET_NAT, &natnet)) {
		printf("FAIL nat setup: network\n");
		return 1;
	}
	RUN(t_nat_tcp);
	RUN(t_nat_udp);
	RUN(t_nat_udp_without_checksum);
	RUN(t_nat_icmp_echo);
	RUN(t_nat_icmp_queries);
	RUN(t_nat_same_flow_same_port);
	RUN(t_nat_next_hop_cached);
	RUN(t_nat_gso_super_frame);
	RUN(t_nat_wan_mtu_frag_needed);
	RUN(t_nat_ttl_exceeded);
	RUN(t_nat_reply_ttl_out);
	RUN(t_nat_host_ping_keeps_its_id);
	RUN(t_nat_guest_icmp_error_out);
	RUN(t_nat_guest_icmp_error_out_tcp);
	RUN(t_nat_gateway_arp_and_ping);
	RUN(t_nat_untracked_wan_traffic_is_the_hosts);
	RUN(t_nat_icmp_error_translated);
	RUN(t_nat_icmp_error_quoted_l4);
	RUN(t_nat_checksum_never_0000);
	RUN(t_nat_tcp_states);
	RUN(t_nat_forward_syn_flood_not_established);
	RUN(t_nat_forward_stray_segments);
	RUN(t_nat_forward_udp_answered);
	RUN(t_nat_forward_after_expiry);
	RUN(t_nat_forward_own_port);
	RUN(t_nat_wan_martian_sources);
	RUN(t_nat_no_flow_to_a_vtep);
	RUN(t_nat_never_forwarded_destinations);
	RUN(t_nat_tcp_blind_rst_fin);
	RUN(t_nat_tcp_fin_in_scaled_window);
	RUN(t_nat_tcp_reopen);
	RUN(t_nat_eim_one_port);
	RUN(t_nat_filtering_modes);
	RUN(t_nat_map_in_guest_gone);
	RUN(t_nat_reply_follows_port);
	RUN(t_nat_reply_device_gone);
	RUN(t_nat_unheld_guest_subnet_only);
	RUN(t_nat_mapping_reclaimed);
	RUN(t_nat_ports_outside_ephemeral_range);
	RUN(t_nat_ports_shared_when_mappings_run_out);
	RUN(t_nat_port_share_leaves_others_ports);
	RUN(t_nat_echo_share);
	RUN(t_nat_host_socket_not_shadowed);
	RUN(t_nat_port_hash_is_keyed);
	RUN(t_nat_ct_max);
	RUN(t_nat_expired_flows_reclaimed);
	RUN(t_nat_timeout);
	RUN(t_nat_one_way_keeps_flow);
	RUN(t_nat_udp_stream);
	RUN(t_nat_table_full);
	RUN(t_nat_sweep_backlog);
	RUN(t_nat_sweep_after_empty);
	RUN(t_nat_sweep_uncounted);
	RUN(t_nat_hairpin_into_isolated_port);
	RUN(t_nat_generic_protocols);
	RUN(t_nat_wan_admission);
	RUN(t_nat_fragments);
	RUN(t_nat_fragment_note_checks_key);
	RUN(t_nat_host_note_checks_key);
	RUN(t_nat_unsolicited_from_host);
	RUN(t_nat_established_writes_nothing);
	RUN(t_nat_detach_forgets_flows);
	RUN(t_nat_forget_once);
	RUN(t_nat_hairpin_port_moved);
	RUN(t_nat_hairpin_established);
	RUN(t_nat_hairpin_ttl);
	RUN(t_nat_hairpin_error_back);
	RUN(t_nat_hairpin_fragments);
	RUN(t_nat_forward_before_mac);
	RUN(t_nat_forward_follows_its_address);
	RUN(t_nat_forward_port_set_mac);
	RUN(t_nat_reply_over_guest_mtu);
	{
		struct port_opts t = { .naddrs = 1, .mac = N3 };

		wan_prog = -1;
		if (add_tap("knt", &knt) ||
		    parse_addr("192.168.90.13", &t.addrs[0]) ||
		    port_attach(fb, "unit", "knt", NET_NAT, KVB_PORT_GUEST, &t) ||
		    (wan_prog = bound_test_prog(fb)) < 0) {
			printf("FAIL natxdp setup: tap guest, XDP program\n");
			nfail++;
		} else {
			RUN(t_nat_port_share);
	RUN(t_nat_full_share_evicts_opening);
	RUN(t_nat_full_network_evicts_anyones);
			RUN(t_natxdp_replies_translated);
			RUN(t_natxdp_pass_to_tc_cases);
			RUN(t_natxdp_options_and_padding);
			RUN(t_nat_reply_guest_moved_network);
			RUN(t_nat_icmp_error_port_gone);
			RUN(t_natxdp_guest_network_mtu);
			close(wan_prog);
		}
	}
	gateway_delete(NET_NAT);
	return nfail;
}
