// SPDX-License-Identifier: MIT
/*
 * Port identity and deep admission, by BPF_PROG_RUN. Ports in network a
 * (id 1, built by test_bridge.c's main, uplink unit_uplink):
 *
 *   kv1  spoofcheck, mac V1, ip 10.0.0.1 and fd00::1
 *   kv2  spoofcheck, no mac (pinned from its first frame), no address
 *   kv3  spoofcheck, no mac, no address: tries to pin others' MACs
 *   ki1, ki2  isolated, spoofcheck off
 *
 * A verdict is asserted on both hooks wherever both see the frame, through
 * the drop counter of the named reason.
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unit.h"

static const __u8 V1[6] = { 0x52, 0x54, 0, 0, 0xc, 1 };
static const __u8 V2[6] = { 0x52, 0x54, 0, 0, 0xc, 2 };
static const __u8 V3[6] = { 0x52, 0x54, 0, 0, 0xc, 3 };
static const __u8 EVIL[6] = { 0x52, 0x54, 0, 0, 0xe, 0xe };
static const __u8 I1[6] = { 0x52, 0x54, 0, 0, 0xd, 1 };
static const __u8 I2[6] = { 0x52, 0x54, 0, 0, 0xd, 2 };
static const __u8 BC[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const __u8 PEER[6] = { 0x02, 0, 0, 0, 0xc, 0xff };
static const __u8 ADDR6[16] = { 0xfd, [15] = 1 };
static const __u8 OTHER6[16] = { 0xfd, [15] = 9 };
static const __u8 UNSPEC6[16];
/* fe80::5054:ff:fe00:c02, the modified EUI-64 of V2 */
static const __u8 LL6V2[16] = { 0xfe, 0x80, [8] = 0x50, 0x54, 0x00, 0xff,
				0xfe, 0x00, 0x0c, 0x02 };
/* fe80::5054:ff:fe00:c01, the modified EUI-64 of V1 */
static const __u8 LL6[16] = { 0xfe, 0x80, [8] = 0x50, 0x54, 0x00, 0xff,
			      0xfe, 0x00, 0x0c, 0x01 };
#define A4(a, b, c, d) htonl((__u32)(a) << 24 | (b) << 16 | (c) << 8 | (d))

static __u32 kv1, kv2, kv3, ki1, ki2;
static struct fabric *F;

static int mac_is_zero_u(const __u8 *m)
{
	return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

static __u64 dropped(__u32 ifx, enum kvb_drop r)
{
	return port_stats(F, ifx).drop[r];
}

static __u64 delivered(__u32 ifx)
{
	return port_stats(F, ifx).tx_packets;
}

/* Sum of all drop counters of a port */
static __u64 all_drops(__u32 ifx)
{
	struct kvb_stats s = port_stats(F, ifx);
	__u64 n = 0;

	for (int r = 0; r < KVB_DROP_MAX; r++)
		n += s.drop[r];
	return n;
}

/*
 * The frame from port ifx is dropped for reason r by tc, and by XDP too
 * when xdp (if it is not refused to BPF_PROG_RUN), each counted; without
 * xdp, XDP passes it (what judges it is a stage of tc's: DHCP snooping).
 */
static int dropped_by(__u32 ifx, const struct frame *f, enum kvb_drop r,
		      int xdp, const char *what)
{
	__u64 d0 = dropped(ifx, r);
	int x = run_xdp(F, ifx, f), t = run_tc(F, ifx, f);
	int want_x = xdp ? XDP_DROP : XDP_PASS;
	__u64 n = xdp ? 2 : 1;

	if (x == want_x && t == TC_ACT_SHOT && dropped(ifx, r) == d0 + n)
		return 1;
	printf("FAIL %s: xdp %d tc %d, %s +%llu (want %s, TC_ACT_SHOT, "
	       "+%llu)\n", what, x, t, drop_name(r), dropped(ifx, r) - d0,
	       xdp ? "XDP_DROP" : "XDP_PASS", n);
	unit_failed = 1;
	return 0;
}

static int drops_as(__u32 ifx, const struct frame *f, enum kvb_drop r,
		    const char *what)
{
	return dropped_by(ifx, f, r, 1, what);
}

static int tc_drops_as(__u32 ifx, const struct frame *f, enum kvb_drop r,
		       const char *what)
{
	return dropped_by(ifx, f, r, 0, what);
}

/* The frame from port ifx passes both hooks: no drop of any reason. */
static int passes(__u32 ifx, const struct frame *f, const char *what)
{
	__u64 d0 = all_drops(ifx);
	int x = run_xdp(F, ifx, f), t = run_tc(F, ifx, f);

	if (x == XDP_PASS && (t == TC_ACT_REDIRECT || t == TC_ACT_SHOT) &&
	    all_drops(ifx) == d0)
		return 1;
	printf("FAIL %s: xdp %d tc %d, drops +%llu (want it through)\n", what,
	       x, t, all_drops(ifx) - d0);
	unit_failed = 1;
	return 0;
}

static void udp(__u8 *l4, __u16 sport, __u16 dport, __u16 len)
{
	memset(l4, 0, len);
	l4[0] = (__u8)(sport >> 8), l4[1] = (__u8)sport;
	l4[2] = (__u8)(dport >> 8), l4[3] = (__u8)dport;
	l4[4] = (__u8)(len >> 8), l4[5] = (__u8)len;
}

static void arp(struct frame *f, const __u8 *src, const __u8 *sha, __u32 spa)
{
	__u8 *a = f->buf + ETH_HLEN;

	frame_raw(f, BC, src, ETH_P_ARP, 28);
	a[1] = 1, a[2] = 8, a[4] = 6, a[5] = 4, a[7] = 1;
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, &spa, 4);
}

/*
 * An ARP probe from port ifx (prober MAC pmac) for tpa, which another
 * port (MAC hmac) holds: XDP passes it to tc, which answers it as the
 * holder would (a reply from hmac and tpa, to pmac) back into the
 * prober's port, counted spoof-arp; the holder's guest never sees it.
 */
static int defended(__u32 ifx, const struct frame *f, const __u8 *pmac,
		    const __u8 *hmac, __u32 tpa, const char *what)
{
	__u64 d0 = dropped(ifx, KVB_DROP_SPOOF_ARP);
	struct frame out;
	int x = run_xdp(F, ifx, f), t = run_tc_out(F, ifx, f, &out);
	const __u8 *a = out.buf + ETH_HLEN;
	__u32 zero = 0;

	if (x == XDP_PASS && t == TC_ACT_REDIRECT &&
	    dropped(ifx, KVB_DROP_SPOOF_ARP) == d0 + 1 &&
	    !memcmp(out.buf, pmac, 6) && !memcmp(out.buf + 6, hmac, 6) &&
	    a[7] == 2 && !memcmp(a + 8, hmac, 6) && !memcmp(a + 14, &tpa, 4) &&
	    !memcmp(a + 18, pmac, 6) && !memcmp(a + 24, &zero, 4))
		return 1;
	printf("FAIL %s: xdp %d tc %d, spoof-arp +%llu, op %u (want XDP_PASS, "
	       "TC_ACT_REDIRECT with the holder's reply, +1)\n", what, x, t,
	       dropped(ifx, KVB_DROP_SPOOF_ARP) - d0, a[7]);
	unit_failed = 1;
	return 0;
}

/*
 * A DAD probe (NS from ::) from port ifx for target, which another port
 * (MAC hmac) holds: XDP passes it to tc, which answers it as the holder
 * would (an NA to all nodes from the target, override set, hmac as the
 * target link-layer address, its ICMPv6 checksum right) back into the
 * prober's port, counted r; the holder's guest never sees the probe.
 */
static int nd_defended(__u32 ifx, const struct frame *f, const __u8 *hmac,
		       const __u8 *target, enum kvb_drop r, const char *what)
{
	static const __u8 allnodes[16] = { 0xff, 0x02, [15] = 1 };
	static const __u8 allmac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	__u64 d0 = dropped(ifx, r);
	struct frame out;
	int x = run_xdp(F, ifx, f), t = run_tc_out(F, ifx, f, &out);
	const __u8 *ip = out.buf + ETH_HLEN, *na = ip + 40;
	__u32 plen = (__u32)(ip[4] << 8 | ip[5]);
	__u16 c = 0xffff;

	if (t == TC_ACT_REDIRECT && plen == 32 &&
	    out.len >= ETH_HLEN + 40 + plen)
		c = csum_fold16(sum16(na, plen, sum16(ip + 8, 32, 0) + plen +
					IPPROTO_ICMPV6));
	if (x == XDP_PASS && t == TC_ACT_REDIRECT &&
	    dropped(ifx, r) == d0 + 1 && !memcmp(out.buf, allmac, 6) &&
	    !memcmp(out.buf + 6, hmac, 6) && ip[6] == IPPROTO_ICMPV6 &&
	    ip[7] == 255 && !memcmp(ip + 8, target, 16) &&
	    !memcmp(ip + 24, allnodes, 16) && na[0] == 136 && na[1] == 0 &&
	    na[4] == 0x20 && !memcmp(na + 8, target, 16) && na[24] == 2 &&
	    na[25] == 1 && !memcmp(na + 26, hmac, 6) && !c)
		return 1;
	printf("FAIL %s: xdp %d tc %d, %s +%llu, type %u flags %#x, checksum "
	       "%#x (want XDP_PASS, TC_ACT_REDIRECT with the holder's NA, "
	       "+1)\n", what, x, t, drop_name(r), dropped(ifx, r) - d0, na[0],
	       na[4], c);
	unit_failed = 1;
	return 0;
}

/* an address probe (RFC 5227): sender 0.0.0.0, target tpa */
static void arp_probe(struct frame *f, const __u8 *src, __u32 tpa)
{
	arp(f, src, src, 0);
	memcpy(f->buf + ETH_HLEN + 24, &tpa, 4);
}

static void t_spoof_source_mac(struct fabric *fb __attribute__((unused)))
{
	struct frame f;
	__u8 l4[16];

	udp(l4, 1000, 2000, 16);
	frame_ip4(&f, PEER, EVIL, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_MAC, "other source MAC");
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 16);
	passes(kv1, &f, "own MAC and address");
}

static void t_spoof_ipv4(struct fabric *fb __attribute__((unused)))
{
	struct frame f;
	__u8 l4[300];

	udp(l4, 1000, 2000, 16);
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 9), IPPROTO_UDP, l4, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_IP, "foreign IPv4 source");
	frame_ip4(&f, PEER, V1, 0, IPPROTO_UDP, l4, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_IP, "0.0.0.0 outside DHCP");
	udp(l4, 68, 67, 300);
	l4[8] = 1;				/* BOOTREQUEST */
	l4[9] = 1, l4[10] = 6;			/* Ethernet, 6 bytes */
	memcpy(l4 + 8 + 28, V1, 6);		/* chaddr */
	frame_ip4(&f, BC, V1, 0, IPPROTO_UDP, l4, 300);
	passes(kv1, &f, "DHCP discover from 0.0.0.0");
	udp(l4, 67, 68, 300);
	l4[8] = 2;				/* BOOTREPLY */
	frame_ip4(&f, BC, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 300);
	drops_as(kv1, &f, KVB_DROP_SPOOF_DHCP, "guest DHCP server");
}

/* kv1's configured IPv4 address as its port entry's shortcut (0: none) */
static __be32 shortcut(void)
{
	struct kvb_port p;

	return port_get(F, kv1, &p) ? (__be32)-1 : p.ip4;
}

/* kv1's configured addresses a4 and fd00::1, as `port set` gives them:
 * the bindings (addr_set), then the entry; 1 when done */
static int kv1_addresses(const char *a4)
{
	struct port_opts o = { .spoofcheck = true, .naddrs = 2 };
	struct kvb_port p;

	if (port_get(F, kv1, &p) || parse_addr(a4, &o.addrs[0]) ||
	    parse_addr("fd00::1", &o.addrs[1]) || addr_set(F, "unit", &p, &o))
		return 0;
	/* the shortcut is off in the map while the addresses change */
	if (shortcut() != 0) {
		printf("FAIL kv1_addresses: shortcut %#x while kv1's addresses "
		       "change\n", ntohl(shortcut()));
		unit_failed = 1;
	}
	return !bpf_map_update_elem(F->port_fd, &kv1, &p, BPF_EXIST);
}

/*
 * The guard takes a source equal to the port's configured IPv4 address
 * (kvb_port.ip4) as bound without its lookup: the loader keeps it to the
 * configured addresses, and an address the port no longer has is refused
 * from the command on.
 */
static void t_configured_ipv4_shortcut(struct fabric *fb __attribute__((unused)))
{
	struct kvb_port p, w;
	struct frame f;
	__u8 l4[16];

	udp(l4, 1000, 2000, 16);
	CHECK(shortcut() == A4(10, 0, 0, 1), "kv1's shortcut %#x, want 10.0.0.1",
	      ntohl(shortcut()));
	CHECK(kv1_addresses("10.0.0.5") && shortcut() == A4(10, 0, 0, 5),
	      "kv1 given 10.0.0.5: shortcut %#x", ntohl(shortcut()));
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_IP, "the address kv1 had");
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 5), IPPROTO_UDP, l4, 16);
	passes(kv1, &f, "kv1's new address");
	/* the guard answers from the entry: an address bound nowhere
	 * passes while the entry names it (the loader never writes such) */
	CHECK(!port_get(F, kv1, &p), "kv1's entry");
	w = p;
	w.ip4 = A4(10, 0, 0, 77);
	CHECK(!bpf_map_update_elem(F->port_fd, &kv1, &w, BPF_EXIST), "write");
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 77), IPPROTO_UDP, l4, 16);
	passes(kv1, &f, "the address in kv1's entry");
	arp(&f, V1, V1, A4(10, 0, 0, 77));
	passes(kv1, &f, "ARP for the address in kv1's entry");
	CHECK(!bpf_map_update_elem(F->port_fd, &kv1, &p, BPF_EXIST), "restore");
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 77), IPPROTO_UDP, l4, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_IP, "an address kv1 never had");
	CHECK(kv1_addresses("10.0.0.1") && shortcut() == A4(10, 0, 0, 1),
	      "kv1's address back: shortcut %#x", ntohl(shortcut()));
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 5), IPPROTO_UDP, l4, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_IP, "the address kv1 had meanwhile");
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 16);
	passes(kv1, &f, "kv1's address again");
}

/* A server message is known by what it is, not by its source port. */
static void t_rogue_dhcp_server_any_port(struct fabric *fb __attribute__((unused)))
{
	__u8 l4[300], p[64];
	struct frame f;

	udp(l4, 6767, 68, 300);
	l4[8] = 2;				/* BOOTREPLY, an offer */
	frame_ip4(&f, BC, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 300);
	drops_as(kv1, &f, KVB_DROP_SPOOF_DHCP, "BOOTREPLY from port 6767 to 68");
	udp(l4, 6767, 67, 300);
	l4[8] = 2;				/* to a server or relay */
	frame_ip4(&f, BC, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 300);
	drops_as(kv1, &f, KVB_DROP_SPOOF_DHCP, "BOOTREPLY to port 67");
	udp(l4, 68, 67, 300);
	l4[8] = 1;				/* BOOTREQUEST for another MAC */
	l4[9] = 1, l4[10] = 6;
	memcpy(l4 + 8 + 28, EVIL, 6);
	frame_ip4(&f, BC, V1, 0, IPPROTO_UDP, l4, 300);
	drops_as(kv1, &f, KVB_DROP_DHCP_CHADDR, "DHCP request with a foreign chaddr");
	memcpy(l4 + 8 + 28, V1, 6);
	l4[9] = 0, l4[10] = 0;
	frame_ip4(&f, BC, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 300);
	drops_as(kv1, &f, KVB_DROP_DHCP_CHADDR,
		 "DHCP request with its chaddr but no hardware type or length");
	l4[9] = 1, l4[10] = 6;			/* Ethernet, 6 bytes */
	frame_ip4(&f, BC, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 300);
	passes(kv1, &f, "DHCP request with its own chaddr");
	/* the server knows a lease by type, length and address: each of
	 * them varied would be a new lease, a new address of the pool */
	l4[9] = 6;				/* IEEE 802 */
	frame_ip4(&f, BC, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 300);
	drops_as(kv1, &f, KVB_DROP_DHCP_CHADDR, "DHCP request, htype 6");
	l4[9] = 1, l4[10] = 7;
	frame_ip4(&f, BC, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 300);
	drops_as(kv1, &f, KVB_DROP_DHCP_CHADDR, "DHCP request, hlen 7");
	l4[10] = 6, l4[8 + 28 + 15] = 0x42;	/* chaddr's last byte */
	frame_ip4(&f, BC, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 300);
	drops_as(kv1, &f, KVB_DROP_DHCP_CHADDR,
		 "DHCP request, chaddr padded with a byte");
	l4[8 + 28 + 15] = 0, l4[8 + 28 + 7] = 0x42;	/* its 8th byte */
	frame_ip4(&f, BC, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 300);
	drops_as(kv1, &f, KVB_DROP_DHCP_CHADDR,
		 "DHCP request, chaddr's 8th byte set");
	l4[8 + 28 + 7] = 0;
	udp(l4, 68, 67, 20);			/* too short for a BOOTP header */
	frame_ip4(&f, BC, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 20);
	drops_as(kv1, &f, KVB_DROP_L4, "truncated BOOTREQUEST");
	udp(p, 5470, 546, 16);
	p[8] = 2;				/* DHCPv6 ADVERTISE */
	frame_ip6(&f, BC, V1, LL6, IPPROTO_UDP, p, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_DHCP, "DHCPv6 from port 5470 to 546");
	for (int t = 0; t < 4; t++) {
		static const __u8 server[4] = { 2, 7, 10, 13 };

		udp(p, 5470, 547, 16);
		p[8] = server[t];
		frame_ip6(&f, BC, V1, LL6, IPPROTO_UDP, p, 16);
		drops_as(kv1, &f, KVB_DROP_SPOOF_DHCP, "DHCPv6 server type to 547");
	}
	udp(p, 546, 547, 16);
	p[8] = 1;				/* SOLICIT */
	frame_ip6(&f, BC, V1, LL6, IPPROTO_UDP, p, 16);
	passes(kv1, &f, "DHCPv6 solicit");
}

/*
 * Only routers advertise themselves (ICMP router discovery, RFC 1256): a
 * guest's IPv4 router advertisement, which a listening host would take
 * for its default route, is refused as its redirects are. Its router
 * solicitation goes. Before, the advertisement went through.
 */
static void t_ipv4_router_advertisement(struct fabric *fb __attribute__((unused)))
{
	static const __u8 ALLHOSTS[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	static const __u8 ALLROUTERS[6] = { 0x01, 0, 0x5e, 0, 0, 2 };
	__u8 l4[16] = { 0 };
	struct frame f;

	l4[0] = 9;		/* router advertisement */
	l4[4] = 1;		/* one address */
	l4[5] = 2;		/* of two words */
	l4[7] = 0xff;		/* lifetime */
	memcpy(l4 + 8, (__u8[]){ 10, 0, 0, 1 }, 4);
	frame_ip4_to(&f, ALLHOSTS, V1, A4(10, 0, 0, 1), A4(224, 0, 0, 1), 1,
		     IPPROTO_ICMP, l4, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_RA, "IPv4 router advertisement");
	memset(l4, 0, sizeof(l4));
	l4[0] = 10;		/* router solicitation */
	frame_ip4_to(&f, ALLROUTERS, V1, A4(10, 0, 0, 1), A4(224, 0, 0, 2), 1,
		     IPPROTO_ICMP, l4, 8);
	passes(kv1, &f, "IPv4 router solicitation");
}

static void t_spoof_arp(struct fabric *fb __attribute__((unused)))
{
	struct frame f;

	arp(&f, V1, EVIL, A4(10, 0, 0, 1));
	drops_as(kv1, &f, KVB_DROP_SPOOF_ARP, "ARP with forged sender MAC");
	arp(&f, V1, V1, A4(10, 0, 0, 7));
	drops_as(kv1, &f, KVB_DROP_SPOOF_ARP, "ARP with forged sender IP");
	arp(&f, V1, V1, A4(10, 0, 0, 1));
	passes(kv1, &f, "gratuitous ARP of own address");
	arp(&f, V1, V1, 0);
	passes(kv1, &f, "ARP probe from 0.0.0.0");
	frame_raw(&f, BC, V1, 0x8035, 28);	/* RARP announcement */
	memcpy(f.buf + ETH_HLEN + 8, V1, 6);
	passes(kv1, &f, "RARP announcement of own MAC");
}

static void t_spoof_ipv6(struct fabric *fb __attribute__((unused)))
{
	__u8 p[64] = { 128 };	/* echo request */
	struct frame f;

	frame_ip6(&f, PEER, V2, ADDR6, IPPROTO_ICMPV6, p, 8);
	drops_as(kv2, &f, KVB_DROP_SAVI_CONFLICT, "another port's IPv6 as source");
	frame_ip6(&f, PEER, V1, ADDR6, IPPROTO_ICMPV6, p, 8);
	passes(kv1, &f, "own IPv6 source");
	frame_ip6(&f, PEER, V1, LL6, IPPROTO_ICMPV6, p, 8);
	passes(kv1, &f, "MAC-derived link-local");
	frame_ip6(&f, PEER, V1, UNSPEC6, IPPROTO_ICMPV6, p, 8);
	drops_as(kv1, &f, KVB_DROP_SPOOF_IP, ":: outside DAD");
	memset(p, 0, sizeof(p));
	p[0] = 135;	/* DAD neighbour solicitation, no options */
	memcpy(p + 8, ADDR6, 16);
	frame_ip6(&f, BC, V1, UNSPEC6, IPPROTO_ICMPV6, p, 24);
	passes(kv1, &f, "DAD probe from ::");
	memcpy(p + 8, OTHER6, 16);
	frame_ip6(&f, BC, V1, UNSPEC6, IPPROTO_ICMPV6, p, 24);
	passes(kv1, &f, "DAD probe for an address nobody holds");
	memcpy(p + 8, ADDR6, 16);	/* kv1's static address */
	frame_ip6(&f, BC, V2, UNSPEC6, IPPROTO_ICMPV6, p, 24);
	/* answered for kv1 (t115: dropped unanswered, kv2 took it) */
	nd_defended(kv2, &f, V1, ADDR6, KVB_DROP_SPOOF_ND,
		    "DAD probe for another port's static address");
	memset(p, 0, sizeof(p));
	p[0] = 134;	/* router advertisement */
	frame_ip6(&f, BC, V1, LL6, IPPROTO_ICMPV6, p, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_RA, "guest router advertisement");
	p[0] = 137;	/* redirect */
	frame_ip6(&f, BC, V1, LL6, IPPROTO_ICMPV6, p, 40);
	drops_as(kv1, &f, KVB_DROP_SPOOF_RA, "guest redirect");
	memset(p, 0, sizeof(p));
	udp(p, 547, 546, 16);	/* DHCPv6 server */
	frame_ip6(&f, BC, V1, LL6, IPPROTO_UDP, p, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_DHCP, "guest DHCPv6 server");
}

static void t_spoof_nd(struct fabric *fb __attribute__((unused)))
{
	__u8 p[40] = { 136 };	/* neighbour advertisement */
	struct frame f;

	memcpy(p + 8, ADDR6, 16);
	frame_ip6(&f, BC, V2, LL6V2, IPPROTO_ICMPV6, p, 24);
	drops_as(kv2, &f, KVB_DROP_SPOOF_ND, "NA for someone else's address");
	memcpy(p + 8, ADDR6, 16);
	p[24] = 2, p[25] = 1;	/* target link-layer option */
	memcpy(p + 26, EVIL, 6);
	frame_ip6(&f, BC, V1, ADDR6, IPPROTO_ICMPV6, p, 32);
	drops_as(kv1, &f, KVB_DROP_SPOOF_ND, "NA with forged link-layer option");
	memcpy(p + 26, V1, 6);
	frame_ip6(&f, BC, V1, ADDR6, IPPROTO_ICMPV6, p, 32);
	passes(kv1, &f, "NA for own address");
	p[0] = 135, p[24] = 1;	/* NS with a source link-layer option */
	memcpy(p + 26, EVIL, 6);
	frame_ip6(&f, BC, V1, ADDR6, IPPROTO_ICMPV6, p, 32);
	drops_as(kv1, &f, KVB_DROP_SPOOF_ND, "NS with forged source option");
}

/* Every ND option is examined, and past the bound the message is dropped. */
static void t_nd_every_option(struct fabric *fb __attribute__((unused)))
{
	__u8 p[24 + 8 * 18] = { 135 };	/* neighbour solicitation */
	struct frame f;
	int i;

	memcpy(p + 8, OTHER6, 16);
	for (i = 0; i < 3; i++)
		p[24 + 8 * i] = 99, p[25 + 8 * i] = 1;	/* unknown options */
	p[48] = 1, p[49] = 1;		/* then a source link-layer option */
	memcpy(p + 50, EVIL, 6);
	frame_ip6(&f, BC, V1, ADDR6, IPPROTO_ICMPV6, p, 56);
	drops_as(kv1, &f, KVB_DROP_SPOOF_ND, "forged option after three others");
	memcpy(p + 50, V1, 6);
	frame_ip6(&f, BC, V1, ADDR6, IPPROTO_ICMPV6, p, 56);
	passes(kv1, &f, "own option after three others");
	for (i = 0; i < 17; i++)
		p[24 + 8 * i] = 99, p[25 + 8 * i] = 1;
	frame_ip6(&f, BC, V1, ADDR6, IPPROTO_ICMPV6, p, 24 + 8 * 17);
	drops_as(kv1, &f, KVB_DROP_ND_OPTS, "17 options");
	frame_ip6(&f, BC, V1, ADDR6, IPPROTO_ICMPV6, p, 24 + 8 * 16);
	passes(kv1, &f, "16 options");
	p[24 + 8 * 3 + 1] = 0;		/* an option of length 0 */
	frame_ip6(&f, BC, V1, ADDR6, IPPROTO_ICMPV6, p, 24 + 8 * 5);
	drops_as(kv1, &f, KVB_DROP_L4, "option of length 0");
	p[24 + 8 * 3 + 1] = 3;		/* longer than the message */
	frame_ip6(&f, BC, V1, ADDR6, IPPROTO_ICMPV6, p, 24 + 8 * 5);
	drops_as(kv1, &f, KVB_DROP_L4, "option past the end");
}

/*
 * Router solicitations carry link-layer options too (RFC 4861 4.1): every
 * one is examined as in an NS or NA, from its own address or from ::, and
 * so are a DAD probe's.
 */
static void t_rs_and_dad_options(struct fabric *fb __attribute__((unused)))
{
	__u8 p[24 + 8 * 18] = { 133 };	/* router solicitation */
	struct frame f;

	p[8] = 1, p[9] = 1;		/* source link-layer option */
	memcpy(p + 10, EVIL, 6);
	frame_ip6(&f, BC, V1, LL6, IPPROTO_ICMPV6, p, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_ND, "RS with a forged source option");
	frame_ip6(&f, BC, V1, UNSPEC6, IPPROTO_ICMPV6, p, 16);
	drops_as(kv1, &f, KVB_DROP_SPOOF_ND, "RS from :: with a forged option");
	for (int i = 0; i < 3; i++)
		p[8 + 8 * i] = 99, p[9 + 8 * i] = 1;	/* unknown options */
	p[32] = 1, p[33] = 1;		/* then the forged one */
	memcpy(p + 34, EVIL, 6);
	frame_ip6(&f, BC, V1, LL6, IPPROTO_ICMPV6, p, 40);
	drops_as(kv1, &f, KVB_DROP_SPOOF_ND, "RS: forged option after three others");
	memcpy(p + 34, V1, 6);
	frame_ip6(&f, BC, V1, LL6, IPPROTO_ICMPV6, p, 40);
	passes(kv1, &f, "RS with its own source option");
	frame_ip6(&f, BC, V1, LL6, IPPROTO_ICMPV6, p, 8);
	passes(kv1, &f, "RS without options");
	p[9] = 0;			/* an option of length 0 */
	frame_ip6(&f, BC, V1, LL6, IPPROTO_ICMPV6, p, 40);
	drops_as(kv1, &f, KVB_DROP_L4, "RS option of length 0");
	for (int i = 0; i < 17; i++)
		p[8 + 8 * i] = 99, p[9 + 8 * i] = 1;
	frame_ip6(&f, BC, V1, LL6, IPPROTO_ICMPV6, p, 8 + 8 * 17);
	drops_as(kv1, &f, KVB_DROP_ND_OPTS, "RS with 17 options");
	memset(p, 0, sizeof(p));
	p[0] = 135;			/* DAD probe with a source option */
	memcpy(p + 8, OTHER6, 16);
	p[24] = 1, p[25] = 1;
	memcpy(p + 26, EVIL, 6);
	frame_ip6(&f, BC, V1, UNSPEC6, IPPROTO_ICMPV6, p, 32);
	drops_as(kv1, &f, KVB_DROP_SPOOF_ND, "DAD probe with a forged option");
}

/*
 * A guest's DHCP client message in IP fragments, or in a GSO super-frame,
 * is refused by tc's DHCP step (dhcp-fragment): the later fragments'
 * options, the later segments (each a message of its own to the server)
 * would go unexamined. The same message whole passes.
 */
static void t_dhcp_client_whole_only(struct fabric *fb __attribute__((unused)))
{
	struct bootp b = { .sport = 68, .dport = 67, .type = 1,
			   .xid = htonl(0x4b56f00d), .chaddr = V1 };
	struct iphdr *ip;
	__u64 a0, a1, d0, d1, d2;
	__u8 m[BOOTP_LEN];
	struct frame f;
	int r1, r2;

	bootp_fill(m, &b);
	frame_ip4(&f, BC, V1, 0, IPPROTO_UDP, m, sizeof(m));
	ip = (struct iphdr *)(f.buf + ETH_HLEN);
	/* (a broadcast's original is TC_ACT_SHOT after its copies: the
	 * counters say what was refused) */
	a0 = all_drops(kv1);
	run_tc(F, kv1, &f);
	a1 = all_drops(kv1);
	d0 = dropped(kv1, KVB_DROP_DHCP_FRAGMENT);
	ip->frag_off = htons(0x2000);		/* MF: a first fragment */
	r1 = run_tc(F, kv1, &f);
	d1 = dropped(kv1, KVB_DROP_DHCP_FRAGMENT);
	ip->frag_off = 0;
	r2 = run_tc_gso(F, kv1, &f, 100);	/* segments of 100 bytes */
	d2 = dropped(kv1, KVB_DROP_DHCP_FRAGMENT);
	CHECK(a1 == a0, "the whole message refused (+%llu drops)",
	      (unsigned long long)(a1 - a0));
	CHECK(r1 == TC_ACT_SHOT && d1 == d0 + 1, "a first fragment: verdict "
	      "%d, dhcp-fragment +%llu", r1, (unsigned long long)(d1 - d0));
	CHECK(r2 == TC_ACT_SHOT && d2 == d1 + 1, "GSO: verdict %d, "
	      "dhcp-fragment +%llu", r2, (unsigned long long)(d2 - d1));
}

static void t_mac_pinned_from_first_frame(struct fabric *fb __attribute__((unused)))
{
	struct kvb_port p;
	struct frame f;
	__u8 l4[16];

	udp(l4, 1000, 2000, 16);
	frame_ip4(&f, PEER, V2, A4(10, 0, 0, 2), IPPROTO_UDP, l4, 16);
	CHECK(run_tc(F, kv2, &f) >= 0, "first frame");
	CHECK(!port_get(F, kv2, &p) && !memcmp(p.mac, V2, 6) &&
	      (p.flags & KVB_PORT_F_MAC_PINNED), "MAC not pinned");
	frame_ip4(&f, PEER, EVIL, A4(10, 0, 0, 2), IPPROTO_UDP, l4, 16);
	drops_as(kv2, &f, KVB_DROP_SPOOF_MAC, "second MAC after pinning");
	/* no address configured: any source until one is known */
	frame_ip4(&f, PEER, V2, A4(10, 9, 9, 9), IPPROTO_UDP, l4, 16);
	passes(kv2, &f, "unchecked IPv4 without a known address");
}

/*
 * A MAC another port owns (configured, pinned, or freshly learned behind
 * a spoofcheck port) is never pinned, learned or sent by another port.
 */
static void t_mac_of_another_port_never_taken(struct fabric *fb __attribute__((unused)))
{
	static const __u8 M[6] = { 0x52, 0x54, 0, 0, 0xc, 0x77 };
	struct kvb_fdb_key k = { .net_id = 1 };
	struct kvb_fdb_entry e = { .ifindex = kv1 };
	struct kvb_port p;
	struct frame f;
	__u8 l4[16];

	udp(l4, 1000, 2000, 16);
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 3), IPPROTO_UDP, l4, 16);
	drops_as(kv3, &f, KVB_DROP_SPOOF_MAC, "first frame with a configured MAC");
	CHECK(!port_get(F, kv3, &p) && !(p.mac[0] | p.mac[1] | p.mac[2] |
					 p.mac[3] | p.mac[4] | p.mac[5]),
	      "another port's configured MAC pinned");
	CHECK(fdb_entry(F, 1, V1, &e) && e.ifindex == kv1,
	      "configured MAC moved to %u", e.ifindex);
	/* kv2 pinned V2: a static entry, and nobody else's */
	CHECK(fdb_entry(F, 1, V2, &e) && e.ifindex == kv2 &&
	      (e.flags & KVB_FDB_F_STATIC), "pinned MAC not held statically");
	frame_ip4(&f, PEER, V2, A4(10, 0, 0, 3), IPPROTO_UDP, l4, 16);
	drops_as(kv3, &f, KVB_DROP_SPOOF_MAC, "first frame with a pinned MAC");
	/* M, freshly learned behind spoofcheck kv1 */
	memcpy(k.mac, M, 6);
	e.ifindex = kv1, e.flags = 0, e.seen_ns = now_ns();
	CHECK(!bpf_map_update_elem(F->fdb_fd, &k, &e, BPF_ANY), "fdb add");
	frame_ip4(&f, PEER, M, A4(10, 0, 0, 31), IPPROTO_UDP, l4, 16);
	run_tc(F, ki1, &f);
	CHECK(fdb_entry(F, 1, M, &e) && e.ifindex == kv1,
	      "learned MAC of a spoofcheck port moved to %u", e.ifindex);
	drops_as(kv3, &f, KVB_DROP_SPOOF_MAC, "first frame with a learned MAC");
	CHECK(fdb_entry(F, 1, M, &e) && e.ifindex == kv1,
	      "learned MAC moved to %u", e.ifindex);
	/* once aged, it is nobody's */
	e.seen_ns = now_ns() - KVB_FDB_AGE_NS - 1000000000ULL;
	CHECK(!bpf_map_update_elem(F->fdb_fd, &k, &e, BPF_ANY), "fdb age");
	run_tc(F, ki1, &f);
	CHECK(fdb_entry(F, 1, M, &e) && e.ifindex == ki1,
	      "aged entry not relearned (on %u)", e.ifindex);
	/* and kv3's own MAC is pinned */
	frame_ip4(&f, PEER, V3, A4(10, 0, 0, 3), IPPROTO_UDP, l4, 16);
	passes(kv3, &f, "own first frame");
	CHECK(!port_get(F, kv3, &p) && !memcmp(p.mac, V3, 6) &&
	      (p.flags & KVB_PORT_F_MAC_PINNED), "own MAC not pinned");
}

/*
 * A routed network's guest without addresses may use the network's
 * subnets, but never as the gateway: not as IP source, ARP sender or NA
 * target; no IPv4 redirects; ARP senders follow the IP source rules.
 */
static struct kvb_net gnet;	/* routed, id 9: 10.79.0.0/24, fd79::/64 */
static __u32 kgr;		/* spoofcheck, mac GR, no address */

static void t_routed_guest_never_the_gateway(struct fabric *fb __attribute__((unused)))
{
	static const __u8 GR[6] = { 0x52, 0x54, 0, 0, 0x79, 1 };
	__u8 l4[64] = { 0 }, gw6[16], gwll[16] = { 0xfe, 0x80 };
	__u32 gw4;
	struct frame f;

	memcpy(&gw4, gnet.subnets[0].gw, 4);
	memcpy(gw6, gnet.subnets[1].gw, 16);
	udp(l4, 1000, 2000, 16);
	frame_ip4(&f, PEER, GR, A4(10, 79, 0, 50), IPPROTO_UDP, l4, 16);
	passes(kgr, &f, "a source in the subnet");
	frame_ip4(&f, PEER, GR, gw4, IPPROTO_UDP, l4, 16);
	drops_as(kgr, &f, KVB_DROP_SPOOF_IP, "the gateway's IPv4 as source");
	arp(&f, GR, GR, gw4);
	drops_as(kgr, &f, KVB_DROP_SPOOF_ARP, "ARP sender: the gateway");
	arp(&f, GR, GR, A4(10, 80, 0, 5));
	drops_as(kgr, &f, KVB_DROP_SPOOF_ARP, "ARP sender outside the subnets");
	memset(l4, 0, sizeof(l4));
	l4[0] = 5;		/* ICMP redirect, quoting a header */
	l4[8] = 0x45;
	frame_ip4(&f, PEER, GR, A4(10, 79, 0, 50), IPPROTO_ICMP, l4, 36);
	drops_as(kgr, &f, KVB_DROP_SPOOF_RA, "IPv4 redirect");
	/* the fuzzer's case 34235429f9918d23: to the gateway's MAC, for a
	 * destination beyond it (the routed stage would send it out) */
	frame_ip4(&f, gnet.uplink_mac, GR, A4(10, 79, 0, 50), IPPROTO_ICMP, l4, 36);
	f.buf[14 + 16] = 10, f.buf[14 + 17] = 79, f.buf[14 + 18] = 64;
	f.buf[14 + 19] = 1;
	drops_as(kgr, &f, KVB_DROP_SPOOF_RA, "IPv4 redirect routed through the gateway");
	l4[0] = 128;		/* echo request */
	frame_ip6(&f, PEER, GR, gw6, IPPROTO_ICMPV6, l4, 8);
	drops_as(kgr, &f, KVB_DROP_SPOOF_IP, "the gateway's IPv6 as source");
	gwll[8] = gnet.uplink_mac[0] ^ 2, gwll[9] = gnet.uplink_mac[1];
	gwll[10] = gnet.uplink_mac[2], gwll[11] = 0xff, gwll[12] = 0xfe;
	memcpy(gwll + 13, gnet.uplink_mac + 3, 3);
	frame_ip6(&f, PEER, GR, gwll, IPPROTO_ICMPV6, l4, 8);
	drops_as(kgr, &f, KVB_DROP_SPOOF_IP, "the gateway's link-local as source");
	memset(l4, 0, sizeof(l4));
	l4[0] = 136;		/* NA for the gateway, from our link-local */
	memcpy(l4 + 8, gw6, 16);
	gwll[8] = GR[0] ^ 2, gwll[9] = GR[1], gwll[10] = GR[2];
	memcpy(gwll + 13, GR + 3, 3);
	frame_ip6(&f, BC, GR, gwll, IPPROTO_ICMPV6, l4, 24);
	drops_as(kgr, &f, KVB_DROP_SPOOF_ND, "NA claiming the gateway");
}

/*
 * The host's own IEEE 802.1 link-local frames on its interface into a
 * routed or nat network (lldpd runs on every interface) are no guest's:
 * the gateway port ends them, where before they flooded to the guests.
 * Its other multicast still floods.
 */
static void t_gateway_host_link_local_to_no_guest(struct fabric *fb __attribute__((unused)))
{
	static const __u8 LLDP[6] = { 0x01, 0x80, 0xc2, 0, 0, 0x0e };
	static const __u8 STP[6] = { 0x01, 0x80, 0xc2, 0, 0, 0x00 };
	static const __u8 MDNS[6] = { 0x01, 0, 0x5e, 0, 0, 0xfb };
	struct frame f;
	__u64 n0;
	int ret;

	frame_raw(&f, LLDP, gnet.uplink_mac, 0x88cc, 46);
	n0 = delivered(kgr);
	ret = run_tc(F, gnet.uplink, &f);
	CHECK(ret == TC_ACT_SHOT && delivered(kgr) == n0,
	      "the host's LLDP on the gateway: verdict %d, guest +%llu", ret,
	      delivered(kgr) - n0);
	frame_raw(&f, STP, gnet.uplink_mac, 0x0026, 46);
	ret = run_tc(F, gnet.uplink, &f);
	CHECK(ret == TC_ACT_SHOT && delivered(kgr) == n0,
	      "the host's BPDU on the gateway: verdict %d, guest +%llu", ret,
	      delivered(kgr) - n0);
	frame_udp4(&f, MDNS, gnet.uplink_mac, 32);
	run_tc(F, gnet.uplink, &f);
	CHECK(delivered(kgr) == n0 + 1, "the host's mDNS on the gateway not "
	      "flooded");
}

/* The transaction id dhcp_msg writes (dhcp_ask opens a new one). */
static __u32 dhcp_xid = 0x4b560000;

/*
 * A DHCP message of type t: a server's (67 -> 68, BOOTREPLY, from the
 * uplink's side) or a client's (68 -> 67, BOOTREQUEST) from mac/src, of
 * transaction dhcp_xid. lease: option 51 (0: none); reqip: option 50 (0:
 * none).
 */
static void dhcp_msg(struct frame *f, const __u8 *mac, __u32 src, __u8 t,
		     const __u8 *chaddr, __u32 ciaddr, __u32 yiaddr,
		     __u32 reqip, __u32 lease)
{
	int server = t == 5;
	struct bootp b = { .sport = server ? 67 : 68,
			   .dport = server ? 68 : 67, .type = t,
			   .xid = htonl(dhcp_xid), .ciaddr = ciaddr,
			   .yiaddr = yiaddr, .reqip = reqip, .lease = lease,
			   .chaddr = chaddr };
	__u8 m[BOOTP_LEN];

	bootp_fill(m, &b);
	frame_ip4(f, server ? chaddr : BC, mac, src, IPPROTO_UDP, m, sizeof(m));
}

/* The port of network 1 whose MAC mac is (0: none). */
static __u32 port_of_mac(const __u8 *mac)
{
	struct kvb_fdb_entry e;

	return fdb_entry(F, 1, mac, &e) ? e.ifindex : 0;
}

/* The client of port ifx (MAC mac) opens a transaction: a REQUEST. */
static void dhcp4_budget_set(__u32 ifx, __u32 level4, __u64 ago_s);
static int tc_judged(__u32 ifx, const struct frame *f, int want_drop,
		     enum kvb_drop r, const char *what);

static void dhcp_ask(__u32 ifx, const __u8 *mac)
{
	struct frame f;

	dhcp_xid++;
	dhcp_msg(&f, mac, 0, 3, mac, 0, 0, 0, 0);
	/* the tests lease one port many addresses in a second: the DHCPv4
	 * lease budget is t_dhcp4_lease_cap's to test */
	dhcp4_budget_set(ifx, 0, 0);
	run_tc(F, ifx, &f);
}

/* A server's ACK of yi to chaddr (transaction dhcp_xid), through the
 * uplink, whether or not chaddr's port asked. */
static int dhcp_ack_as_is(const __u8 *chaddr, __u32 yi, __u32 lease)
{
	struct frame f;

	dhcp_msg(&f, PEER, A4(10, 0, 0, 254), 5, chaddr, 0, yi, 0, lease);
	return run_tc(F, unit_uplink, &f);
}

/* The client of chaddr's port asks, a server ACKs yi to it. */
static int dhcp_ack(const __u8 *chaddr, __u32 yi, __u32 lease)
{
	dhcp_ask(port_of_mac(chaddr), chaddr);
	return dhcp_ack_as_is(chaddr, yi, lease);
}

static bool bound(__u32 ifx, __u32 a4, struct kvb_addr *out)
{
	struct kvb_addr_key k = { .ifindex = ifx, .family = 4 };
	struct kvb_addr a;

	memcpy(k.addr, &a4, 4);
	if (bpf_map_lookup_elem(F->addr_fd, &k, &a))
		return false;
	if (out)
		*out = a;
	return true;
}

/*
 * A DHCP ACK the fabric forwards teaches it the client's address; an ACK
 * without a lease time (the answer to an INFORM) leases nothing.
 */
static void t_dhcp_snooping(struct fabric *fb __attribute__((unused)))
{
	struct kvb_addr a;
	struct kvb_port p;
	struct frame f;
	__u8 l4[16];
	__u32 yi = A4(10, 0, 0, 50);

	CHECK(dhcp_ack(V2, A4(10, 0, 0, 49), 0) == TC_ACT_REDIRECT,
	      "ACK without a lease not delivered to kv2");
	CHECK(!bound(kv2, A4(10, 0, 0, 49), NULL), "ACK without a lease bound");
	CHECK(dhcp_ack(V2, yi, 3600) == TC_ACT_REDIRECT,
	      "ACK not delivered to kv2");
	CHECK(bound(kv2, yi, &a) && (a.flags & KVB_ADDR_F_DHCP),
	      "leased address not learned");
	CHECK(!port_get(F, kv2, &p) && p.n_ip4 == 1, "n_ip4 %u", p.n_ip4);
	udp(l4, 1000, 2000, 16);
	frame_ip4(&f, PEER, V2, A4(10, 0, 0, 51), IPPROTO_UDP, l4, 16);
	drops_as(kv2, &f, KVB_DROP_SPOOF_IP, "source other than the lease");
	frame_ip4(&f, PEER, V2, yi, IPPROTO_UDP, l4, 16);
	passes(kv2, &f, "source is the lease");
}

/*
 * A live lease stays its port's: an ACK of the same address to another
 * port (a LAN server keyed on the client identifier, which kv3 copied
 * from kv2's broadcasts) binds nothing, and kv3 sending from it is
 * spoof-ip while kv2 goes on. Before, the ACK moved kv2's lease to kv3
 * and kv2 was cut off. Once kv2's lease has ended, an ACK to kv3 moves
 * it: the old holder's binding goes, and the port stays held (it does
 * not fall back to "unchecked": it had a lease). kv2's MAC is V2, kv3's
 * V3 (both pinned).
 */
static void t_dhcp_lease_moved(struct fabric *fb __attribute__((unused)))
{
	__u32 a50 = A4(10, 0, 0, 50);
	struct kvb_addr_key k = { .ifindex = kv2, .family = 4 };
	struct kvb_addr a;
	struct kvb_port p;
	struct frame f;
	__u8 l4[16];

	udp(l4, 1000, 2000, 16);
	CHECK(dhcp_ack(V2, a50, 3600) == TC_ACT_REDIRECT, "ACK to kv2");
	CHECK(bound(kv2, a50, NULL), "kv2 has no lease to start with");
	CHECK(dhcp_ack(V3, a50, 3600) == TC_ACT_REDIRECT, "ACK to kv3");
	CHECK(bound(kv2, a50, NULL) && !bound(kv3, a50, NULL),
	      "an ACK to kv3 took kv2's live lease");
	frame_ip4(&f, PEER, V3, a50, IPPROTO_UDP, l4, 16);
	drops_as(kv3, &f, KVB_DROP_SPOOF_IP, "kv3 sends from kv2's live lease");
	frame_ip4(&f, PEER, V2, a50, IPPROTO_UDP, l4, 16);
	passes(kv2, &f, "kv2 still sends from its lease");
	/* kv2's lease ends (its end a second ago): then it moves */
	memcpy(k.addr, &a50, 4);
	CHECK(bound(kv2, a50, &a), "kv2's lease");
	a.expires_ns = now_ns() - 1000000000ULL;
	CHECK(!bpf_map_update_elem(F->addr_fd, &k, &a, BPF_EXIST), "age it");
	CHECK(dhcp_ack(V3, a50, 3600) == TC_ACT_REDIRECT, "ACK to kv3");
	CHECK(bound(kv3, a50, &a) && (a.flags & KVB_ADDR_F_DHCP) &&
	      a.expires_ns > now_ns() + 3500 * 1000000000ULL,
	      "lease not bound to kv3 with its end");
	CHECK(!bound(kv2, a50, NULL), "old holder kept the moved lease");
	frame_ip4(&f, PEER, V2, a50, IPPROTO_UDP, l4, 16);
	drops_as(kv2, &f, KVB_DROP_SPOOF_IP, "old holder sends from a moved lease");
	frame_ip4(&f, PEER, V3, a50, IPPROTO_UDP, l4, 16);
	passes(kv3, &f, "new holder sends from its lease");
	CHECK(!port_get(F, kv2, &p) && !p.n_ip4 && (p.held & KVB_HELD_IP4),
	      "kv2: n_ip4 %u held %u", p.n_ip4, p.held);
	frame_ip4(&f, PEER, V2, A4(10, 9, 9, 9), IPPROTO_UDP, l4, 16);
	drops_as(kv2, &f, KVB_DROP_SPOOF_IP, "a port without its lease is not unchecked");
}

/*
 * A port with no IPv4 address yet (no `ip`, no lease: on a bridge whose
 * LAN runs DHCP, before the guest asks) is not held to its own, but it
 * may not take another port's: neither another's static `ip` nor a live
 * lease, by ARP (poisoning the victim's neighbours) or as a source; a
 * free address it may use. It was "any": a newly started guest took over
 * another's address by a gratuitous ARP.
 */
static void t_unheld_port_never_takes_anothers_ipv4(struct fabric *fb)
{
	static const __u8 V4[6] = { 0x52, 0x54, 0, 0, 0xc, 4 };
	struct port_opts o = { .spoofcheck = true, .naddrs = -1 };
	__u32 a61 = A4(10, 0, 0, 61), kv4;
	struct kvb_port p;
	struct frame f;
	__u8 l4[16];

	CHECK(!add_veth("kv4", &kv4) &&
	      !port_attach(fb, "unit", "kv4", 1, KVB_PORT_GUEST, &o),
	      "attach kv4");
	arp(&f, V4, V4, 0);
	CHECK(run_tc(F, kv4, &f) != -1 && !port_get(F, kv4, &p) &&
	      !memcmp(p.mac, V4, 6) && !p.n_ip4 && !p.held,
	      "kv4 not a pinned, unheld port");
	CHECK(dhcp_ack(V2, a61, 3600) == TC_ACT_REDIRECT && bound(kv2, a61, NULL),
	      "kv2's lease of 10.0.0.61");
	arp(&f, V4, V4, A4(10, 0, 0, 1));
	drops_as(kv4, &f, KVB_DROP_SPOOF_ARP, "ARP for another port's static ip");
	arp(&f, V4, V4, a61);
	drops_as(kv4, &f, KVB_DROP_SPOOF_ARP, "ARP for another port's lease");
	udp(l4, 1000, 2000, 16);
	frame_ip4(&f, PEER, V4, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 16);
	drops_as(kv4, &f, KVB_DROP_SPOOF_IP, "source: another port's static ip");
	frame_ip4(&f, PEER, V4, a61, IPPROTO_UDP, l4, 16);
	drops_as(kv4, &f, KVB_DROP_SPOOF_IP, "source: another port's lease");
	arp(&f, V4, V4, A4(10, 0, 0, 77));
	passes(kv4, &f, "ARP for an address nobody holds");
	/* a probe for another's address would be a conflict to its guest
	 * (it declines its lease: black-box t15) */
	arp_probe(&f, V4, A4(10, 0, 0, 1));
	defended(kv4, &f, V4, V1, A4(10, 0, 0, 1),
		 "probe for another port's static ip");
	arp_probe(&f, V4, a61);
	defended(kv4, &f, V4, V2, a61, "probe for another port's lease");
	arp_probe(&f, V4, A4(10, 0, 0, 78));
	passes(kv4, &f, "probe for an address nobody holds");
	/* the host's own address on the uplink (held by the uplink port):
	 * answered with the uplink's MAC, as the host would (t114: dropped
	 * unanswered, the guest took the host's address) */
	CHECK(!system("ip addr add 10.0.0.250/24 dev kup"), "kup's address");
	uplink_addrs_sync(F);
	arp_probe(&f, V4, A4(10, 0, 0, 250));
	defended(kv4, &f, V4, unit_upmac, A4(10, 0, 0, 250),
		 "probe for the host's address on the uplink");
	system("ip addr del 10.0.0.250/24 dev kup");
	/* and its IPv6 address there, by a DAD probe */
	CHECK(!system("sysctl -qw net.ipv6.conf.kup.disable_ipv6=0 && "
		      "ip addr add fd00:0:0:0::250/64 dev kup nodad"),
	      "kup's IPv6 address");
	uplink_addrs_sync(F);
	{
		static const __u8 H6[16] = { 0xfd, [14] = 0x02, [15] = 0x50 };
		__u8 ns[24] = { 135 };

		memcpy(ns + 8, H6, 16);
		frame_ip6(&f, BC, V4, UNSPEC6, IPPROTO_ICMPV6, ns, 24);
		nd_defended(kv4, &f, unit_upmac, H6, KVB_DROP_SPOOF_ND,
			    "DAD probe for the host's IPv6 on the uplink");
	}
	system("ip addr del fd00:0:0:0::250/64 dev kup; "
	       "sysctl -qw net.ipv6.conf.kup.disable_ipv6=1");
	uplink_addrs_sync(F);
	arp_probe(&f, V2, a61);
	passes(kv2, &f, "probe for the port's own lease");
	frame_ip4(&f, PEER, V4, A4(10, 0, 0, 77), IPPROTO_UDP, l4, 16);
	passes(kv4, &f, "source nobody holds");
	if (!port_get(F, kv4, &p))
		port_detach(F, "unit", &p);
	system("ip link del kv4");
}

/*
 * The loader writes whole port entries from copies it read earlier (at a
 * command's start), while the datapath writes into the entry in place: a
 * guest's first frame pins its MAC, a DHCP lease holds the port to its
 * bindings for good and is counted. port_store keeps all three: a stale
 * copy written back with it leaves them as the datapath made them. The
 * same stale copy written raw (as every writer but `port set` did)
 * undoes them, which this shows first: the hazard is real here, and it
 * is port_store that stops it.
 */
static void t_port_store_keeps_datapath_writes(struct fabric *fb)
{
	static const __u8 V5[6] = { 0x52, 0x54, 0, 0, 0xc, 5 };
	struct port_opts o = { .spoofcheck = true, .naddrs = -1 };
	__u32 a[2] = { A4(10, 0, 0, 62), A4(10, 0, 0, 63) }, kv5;
	struct kvb_port stale, p;
	int pinned = 1, held = 1, raw_pinned = 1, raw_held = 1, raw_n4 = 0;
	__u32 dp_n4 = 0;
	struct frame f;

	CHECK(!add_veth("kv5", &kv5) &&
	      !port_attach(fb, "unit", "kv5", 1, KVB_PORT_GUEST, &o) &&
	      !port_get(F, kv5, &stale) && mac_zero(stale.mac) && !stale.held,
	      "attach kv5: not an unpinned, unheld port");
	for (int pass = 0; pass < 2; pass++) {
		/* the datapath: the guest's first frame, then a lease (a
		 * new one each pass: a renewal sets nothing) */
		arp(&f, V5, V5, 0);
		run_tc(F, kv5, &f);
		dhcp_ack(V5, a[pass], 3600);
		port_get(F, kv5, &p);
		pinned &= !memcmp(p.mac, V5, 6);
		held &= !!(p.held & KVB_HELD_IP4);
		dp_n4 = p.n_ip4;	/* the lease's binding counted */
		/* the loader: its stale copy back, raw, then by port_store */
		p = stale;
		if (!pass)
			bpf_map_update_elem(F->port_fd, &kv5, &p, BPF_EXIST);
		else
			port_store(F, &p, BPF_EXIST);
		port_get(F, kv5, &p);
		if (!pass) {
			raw_pinned = !memcmp(p.mac, V5, 6);
			raw_held = !!(p.held & KVB_HELD_IP4);
			raw_n4 = p.n_ip4 == dp_n4;
		}
	}
	if (!port_get(F, kv5, &stale))
		port_detach(F, "unit", &stale);
	system("ip link del kv5");
	CHECK(pinned && held, "the datapath did not pin V5 (%d) or hold the "
	      "port (%d)", pinned, held);
	CHECK(!raw_pinned && !raw_held && !raw_n4, "a raw write of the stale "
	      "copy kept the pin (%d), held (%d) or the count (%d): the test "
	      "shows nothing", raw_pinned, raw_held, raw_n4);
	CHECK(!memcmp(p.mac, V5, 6) && (p.flags & KVB_PORT_F_MAC_PINNED),
	      "port_store undid the MAC the guest's first frame pinned");
	CHECK(p.held & KVB_HELD_IP4, "port_store undid held (%u)", p.held);
	CHECK(dp_n4 && p.n_ip4 == dp_n4, "port_store undid the datapath's "
	      "count: n_ip4 %u, the datapath's %u", p.n_ip4, dp_n4);
}

/*
 * `port set DEV mac NEW` reads the port, adds NEW's static entry and
 * writes the port with NEW. A MAC the guest's first frame pinned in
 * between (the port had none when read) was written over, but its static
 * MAC-table entry stayed the port's for good: no other guest could ever
 * take that MAC. The state that race leaves is planted here (V6's static
 * entry for kv6, whose entry has no MAC), then the real command runs: the
 * port's other static entries go, NEW's stays, and so do another port's
 * static entry and kv6's learned one.
 */
static void t_port_set_mac_drops_a_pin_made_meanwhile(struct fabric *fb)
{
	static const __u8 V6[6] = { 0x52, 0x54, 0, 0, 0xc, 6 };
	static const __u8 NEW[6] = { 0x52, 0x54, 0, 0, 0xc, 0x66 };
	static const __u8 LRN[6] = { 0x52, 0x54, 0, 0, 0xc, 0x67 };
	struct port_opts o = { .spoofcheck = true, .naddrs = -1 };
	struct kvb_fdb_entry e = { .flags = KVB_FDB_F_STATIC };
	struct kvb_fdb_key k = { .net_id = 1 };
	int planted, set, pin_kept, new_ok, v1_ok, lrn_ok;
	struct kvb_port p;
	__u32 kv6;

	CHECK(!add_veth("kv6", &kv6) &&
	      !port_attach(fb, "unit", "kv6", 1, KVB_PORT_GUEST, &o) &&
	      !port_get(F, kv6, &p) && mac_is_zero_u(p.mac),
	      "attach kv6: not an unpinned port");
	e.ifindex = kv6;
	e.seen_ns = 1;
	memcpy(k.mac, V6, 6);
	planted = !bpf_map_update_elem(F->fdb_fd, &k, &e, BPF_ANY);
	e.flags = 0;		/* a learned one */
	memcpy(k.mac, LRN, 6);
	planted &= !bpf_map_update_elem(F->fdb_fd, &k, &e, BPF_ANY);
	/* the command opens this fabric itself and locks it (as the ACL
	 * and NAT suites' commands do: the harness holds the lock no more) */
	flock(fb->lock_fd, LOCK_UN);
	opts.bpffs = fb->dir;
	set = !unit_cli("port set kv6 mac 52:54:00:00:0c:66");
	port_get(F, kv6, &p);
	pin_kept = fdb_entry(F, 1, V6, &e);
	new_ok = fdb_entry(F, 1, NEW, &e) && e.ifindex == kv6 &&
		 (e.flags & KVB_FDB_F_STATIC);
	v1_ok = fdb_entry(F, 1, V1, &e) && e.ifindex == kv1 &&
		(e.flags & KVB_FDB_F_STATIC);
	lrn_ok = fdb_entry(F, 1, LRN, &e) && e.ifindex == kv6;
	port_detach(F, "unit", &p);
	system("ip link del kv6");
	CHECK(planted && set, "planting the entries (%d) or port set (%d) "
	      "failed", planted, set);
	CHECK(!memcmp(p.mac, NEW, 6), "the port does not have NEW");
	CHECK(!pin_kept, "the pinned MAC's static entry outlived the port's "
	      "new MAC");
	CHECK(new_ok, "NEW's static entry lost");
	CHECK(v1_ok, "another port's static entry lost");
	CHECK(lrn_ok, "kv6's learned entry lost");
}

/*
 * A spoofcheck port without a MAC pins its first frame's source, but
 * never a LAN host's MAC seen on the uplink (the LAN router's: its static
 * entry would have taken every other guest's frames to their default
 * gateway), nor the host's own (the uplink's): both spoof-mac, on both
 * hooks, and the router's entry stays on the uplink.
 */
static void t_mac_of_the_lan_never_pinned(struct fabric *fb)
{
	static const __u8 RTR[6] = { 0x02, 0, 0, 0, 0xc, 0xfe };
	static const __u8 V5[6] = { 0x52, 0x54, 0, 0, 0xc, 5 };
	struct port_opts o = { .spoofcheck = true, .naddrs = -1 };
	struct kvb_fdb_entry e;
	struct kvb_port p;
	struct frame f;
	__u32 kv5;
	__u8 l4[16];
	int ret;

	CHECK(!add_veth("kv5", &kv5) &&
	      !port_attach(fb, "unit", "kv5", 1, KVB_PORT_GUEST, &o),
	      "attach kv5");
	udp(l4, 1000, 2000, 16);
	frame_ip4(&f, V1, RTR, A4(10, 0, 0, 254), IPPROTO_UDP, l4, 16);
	run_tc(F, unit_uplink, &f);	/* the router, on the LAN */
	CHECK(fdb_entry(F, 1, RTR, &e) && e.ifindex == unit_uplink,
	      "the router's MAC not learned on the uplink");
	arp(&f, RTR, RTR, A4(10, 0, 0, 88));
	drops_as(kv5, &f, KVB_DROP_SPOOF_MAC, "the LAN router's MAC");
	arp(&f, unit_upmac, unit_upmac, A4(10, 0, 0, 88));
	drops_as(kv5, &f, KVB_DROP_SPOOF_MAC, "the host's MAC");
	CHECK(!port_get(F, kv5, &p) && mac_is_zero_u(p.mac),
	      "kv5 pinned a MAC");
	CHECK(fdb_entry(F, 1, RTR, &e) && e.ifindex == unit_uplink &&
	      !(e.flags & KVB_FDB_F_STATIC), "the router's entry moved");
	/* another guest's frame to the router still goes to the LAN */
	frame_ip4(&f, RTR, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 16);
	ret = run_tc(F, kv1, &f);
	CHECK(ret == TC_ACT_REDIRECT, "kv1 to the router: verdict %d", ret);
	arp(&f, V5, V5, A4(10, 0, 0, 88));
	passes(kv5, &f, "its own MAC");
	CHECK(!port_get(F, kv5, &p) && !memcmp(p.mac, V5, 6), "V5 not pinned");
	if (!port_get(F, kv5, &p))
		port_detach(F, "unit", &p);
	system("ip link del kv5");
}

static void t_dhcp_lease_released(struct fabric *fb __attribute__((unused)))
{
	__u32 a55 = A4(10, 0, 0, 55), a56 = A4(10, 0, 0, 56),
	      a57 = A4(10, 0, 0, 57);
	struct frame f;
	__u8 l4[16];

	udp(l4, 1000, 2000, 16);
	CHECK(dhcp_ack(V3, a55, 3600) == TC_ACT_REDIRECT, "ACK to kv3");
	dhcp_msg(&f, V3, a55, 7, V3, a55, 0, 0, 0);
	passes(kv3, &f, "RELEASE from the lease");
	CHECK(!bound(kv3, a55, NULL), "RELEASE left the binding");
	frame_ip4(&f, PEER, V3, a55, IPPROTO_UDP, l4, 16);
	drops_as(kv3, &f, KVB_DROP_SPOOF_IP, "source after RELEASE");
	/* a RELEASE speaks for its own port only: naming another port's
	 * lease it is refused (t110: a LAN server that keys leases on the
	 * client identifier would end it), from any source */
	CHECK(dhcp_ack(V2, a56, 3600) == TC_ACT_REDIRECT, "ACK .56 to kv2");
	dhcp_msg(&f, V3, 0, 7, V3, a56, 0, 0, 0);
	tc_drops_as(kv3, &f, KVB_DROP_DHCP_FOREIGN,
		    "kv3's RELEASE of kv2's lease");
	CHECK(dhcp_ack(V3, a57, 3600) == TC_ACT_REDIRECT, "ACK .57 to kv3");
	dhcp_msg(&f, V3, a57, 7, V3, a56, 0, 0, 0);
	tc_drops_as(kv3, &f, KVB_DROP_DHCP_FOREIGN,
		    "kv3's RELEASE of kv2's lease, from kv3's own address");
	CHECK(bound(kv2, a56, NULL), "kv3's RELEASE unbound kv2's lease");
	CHECK(bound(kv3, a57, NULL), "kv3's refused RELEASE unbound its own");
	dhcp_msg(&f, V3, a57, 7, V3, a57, 0, 0, 0);
	passes(kv3, &f, "kv3's RELEASE of its own lease");
}

static void t_dhcp_lease_declined(struct fabric *fb __attribute__((unused)))
{
	__u32 a60 = A4(10, 0, 0, 60), a61 = A4(10, 0, 0, 61);
	struct frame f;
	__u8 l4[16];

	udp(l4, 1000, 2000, 16);
	CHECK(dhcp_ack(V3, a60, 3600) == TC_ACT_REDIRECT, "ACK .60 to kv3");
	CHECK(bound(kv3, a60, NULL), ".60 not bound");
	/* another port's lease, declined: refused (t110), kept */
	CHECK(dhcp_ack(V2, a61, 3600) == TC_ACT_REDIRECT, "ACK .61 to kv2");
	dhcp_msg(&f, V3, 0, 4, V3, 0, 0, a61, 0);
	tc_drops_as(kv3, &f, KVB_DROP_DHCP_FOREIGN,
		    "kv3's DECLINE of kv2's lease");
	CHECK(bound(kv2, a61, NULL), "kv3's DECLINE unbound kv2's lease");
	dhcp_msg(&f, V3, 0, 4, V3, 0, 0, a60, 0);
	passes(kv3, &f, "DECLINE from 0.0.0.0");
	CHECK(!bound(kv3, a60, NULL), "DECLINE left the binding");
	frame_ip4(&f, PEER, V3, a60, IPPROTO_UDP, l4, 16);
	drops_as(kv3, &f, KVB_DROP_SPOOF_IP, "source after DECLINE");
}

/*
 * A guest's DHCPv4 message of mac (from 0.0.0.0, ciaddr ci) whose options
 * area is area bytes: opts (n bytes), then zeros (pads).
 */
static void dhcp_opts_msg(struct frame *f, const __u8 *mac, __u32 ci,
			  const __u8 *opts, size_t n, size_t area)
{
	struct bootp b = { .sport = 68, .dport = 67, .type = 1,
			   .xid = htonl(dhcp_xid), .ciaddr = ci,
			   .chaddr = mac };
	__u8 tmp[BOOTP_LEN], m[8 + 240 + 200] = { 0 };
	size_t len = 8 + 240 + area;

	bootp_fill(tmp, &b);
	memcpy(m, tmp, 8 + 240);
	m[4] = (__u8)(len >> 8), m[5] = (__u8)len;
	memcpy(m + 8 + 240, opts, n);
	frame_ip4(f, BC, mac, 0, IPPROTO_UDP, m, (__u32)len);
	frame_csum4(f);
}

/*
 * The guard reads a guest's DHCPv4 message as a server would (t116):
 * option 53 after 16 pads is still the type (a RELEASE of another port's
 * lease: dhcp-foreign), and what a server may read otherwise than the
 * fabric is refused as dhcp-malformed: option 53 or 50 twice, option 50
 * of 5 bytes, option overload, options past DHCP_MAX_OPTS (100 pads) or
 * past the message's end. Before, each passed: a server keyed on option
 * 61 ended kv2's lease. A REQUEST renewing the port's own address
 * (ciaddr) that asks for a new one in option 50 (which servers read
 * first) is charged to the lease budget; the port's own RELEASE after a
 * few pads still passes.
 */
static void t_dhcp4_read_as_the_server(struct fabric *fb __attribute__((unused)))
{
	const enum kvb_drop odd = KVB_DROP_DHCP_MALFORMED;
	__u32 a66 = A4(10, 0, 0, 66), a67 = A4(10, 0, 0, 67);
	__u8 o[200] = { 0 }, *p;
	struct frame f;

	CHECK(dhcp_ack(V2, a66, 3600) == TC_ACT_REDIRECT &&
	      bound(kv2, a66, NULL), "kv2 not leased .66");
	CHECK(dhcp_ack(V3, a67, 3600) == TC_ACT_REDIRECT &&
	      bound(kv3, a67, NULL), "kv3 not leased .67");
	/* 16 pads, then RELEASE: kv2's lease named by ciaddr */
	p = o + 16;
	*p++ = 53, *p++ = 1, *p++ = 7, *p++ = 255;
	dhcp_opts_msg(&f, V3, a66, o, (size_t)(p - o), 60);
	tc_drops_as(kv3, &f, KVB_DROP_DHCP_FOREIGN,
		    "a RELEASE of kv2's lease behind 16 pads");
	/* the type twice */
	memset(o, 0, sizeof(o));
	p = o;
	*p++ = 53, *p++ = 1, *p++ = 7, *p++ = 53, *p++ = 1, *p++ = 7;
	*p++ = 255;
	dhcp_opts_msg(&f, V3, a66, o, (size_t)(p - o), 60);
	tc_drops_as(kv3, &f, odd, "a RELEASE whose type is given twice");
	/* DECLINE, option 50 of 5 bytes (a server reads its first 4) */
	memset(o, 0, sizeof(o));
	p = o;
	*p++ = 53, *p++ = 1, *p++ = 4, *p++ = 50, *p++ = 5;
	memcpy(p, &a66, 4), p += 5;
	*p++ = 255;
	dhcp_opts_msg(&f, V3, 0, o, (size_t)(p - o), 60);
	tc_drops_as(kv3, &f, odd, "a DECLINE with a 5-byte option 50");
	/* DECLINE, option 50 twice (its own, then kv2's) */
	memset(o, 0, sizeof(o));
	p = o;
	*p++ = 53, *p++ = 1, *p++ = 4;
	*p++ = 50, *p++ = 4, memcpy(p, &a67, 4), p += 4;
	*p++ = 50, *p++ = 4, memcpy(p, &a66, 4), p += 4;
	*p++ = 255;
	dhcp_opts_msg(&f, V3, 0, o, (size_t)(p - o), 60);
	tc_drops_as(kv3, &f, odd, "a DECLINE with option 50 twice");
	/* option overload: more options in sname and file */
	memset(o, 0, sizeof(o));
	p = o;
	*p++ = 52, *p++ = 1, *p++ = 3, *p++ = 53, *p++ = 1, *p++ = 1;
	*p++ = 255;
	dhcp_opts_msg(&f, V3, 0, o, (size_t)(p - o), 60);
	tc_drops_as(kv3, &f, odd, "a DISCOVER with option overload");
	/* 100 pads, then RELEASE */
	memset(o, 0, sizeof(o));
	p = o + 100;
	*p++ = 53, *p++ = 1, *p++ = 7, *p++ = 255;
	dhcp_opts_msg(&f, V3, a66, o, (size_t)(p - o), 120);
	tc_drops_as(kv3, &f, odd, "a RELEASE behind 100 pads");
	/* an option running past the message */
	memset(o, 0, sizeof(o));
	p = o;
	*p++ = 53, *p++ = 1, *p++ = 7, *p++ = 12, *p++ = 200;
	dhcp_opts_msg(&f, V3, a66, o, (size_t)(p - o), 60);
	tc_drops_as(kv3, &f, odd, "a RELEASE with an option past its end");
	CHECK(bound(kv2, a66, NULL), "kv3's messages ended kv2's lease");
	/* a renewal (ciaddr, its own) asking for a new address: charged */
	dhcp4_budget_set(kv3, KVB_DHCP_LEASE_MAX, 0);
	dhcp_msg(&f, V3, a67, 3, V3, a67, 0, A4(10, 0, 3, 1), 0);
	tc_judged(kv3, &f, 1, KVB_DROP_DHCP_LEASE_CAP,
		  "a renewal of its own lease asking for another in option 50");
	dhcp_msg(&f, V3, a67, 3, V3, a67, 0, 0, 0);
	tc_judged(kv3, &f, 0, KVB_DROP_DHCP_LEASE_CAP,
		  "the renewal of its own lease");
	dhcp4_budget_set(kv3, 0, 0);
	/* its own RELEASE behind three pads */
	memset(o, 0, sizeof(o));
	p = o + 3;
	*p++ = 53, *p++ = 1, *p++ = 7, *p++ = 255;
	dhcp_opts_msg(&f, V3, a67, o, (size_t)(p - o), 60);
	passes(kv3, &f, "kv3's own RELEASE behind three pads");
	CHECK(!bound(kv3, a67, NULL), "kv3's own RELEASE left the binding");
	dhcp_msg(&f, V2, a66, 7, V2, a66, 0, 0, 0);
	passes(kv2, &f, "kv2's own RELEASE");
}

/* A static address is never leased away, nor leased to another port. */
static void t_dhcp_static_never_leased(struct fabric *fb __attribute__((unused)))
{
	struct frame f;
	__u8 l4[16];

	udp(l4, 1000, 2000, 16);
	CHECK(dhcp_ack(V3, A4(10, 0, 0, 1), 3600) == TC_ACT_REDIRECT, "ACK .1");
	CHECK(!bound(kv3, A4(10, 0, 0, 1), NULL), "kv1's static address bound to kv3");
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 16);
	passes(kv1, &f, "static holder still sends");
	frame_ip4(&f, PEER, V3, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 16);
	drops_as(kv3, &f, KVB_DROP_SPOOF_IP, "another port's static address");
}

/* .70 is leased for a second; .80 for one, then renewed for an hour. */
static void t_dhcp_lease_ends(struct fabric *fb __attribute__((unused)))
{
	__u32 a70 = A4(10, 0, 0, 70), a80 = A4(10, 0, 0, 80);
	struct frame f;
	__u8 l4[16];
	__u64 t0 = now_ns();

	udp(l4, 1000, 2000, 16);
	CHECK(dhcp_ack(V3, a70, 1) == TC_ACT_REDIRECT, "ACK .70 to kv3");
	CHECK(dhcp_ack(V3, a80, 1) == TC_ACT_REDIRECT, "ACK .80 to kv3");
	CHECK(dhcp_ack(V3, a80, 3600) == TC_ACT_REDIRECT, "renewal of .80");
	frame_ip4(&f, PEER, V3, a70, IPPROTO_UDP, l4, 16);
	passes(kv3, &f, "within a 1 s lease");
	while (now_ns() < t0 + 2200000000ULL)
		usleep(50000);
	drops_as(kv3, &f, KVB_DROP_SPOOF_IP, "source after the lease ended");
	frame_ip4(&f, PEER, V3, a80, IPPROTO_UDP, l4, 16);
	passes(kv3, &f, "renewed lease");
	/* the sweep (a timer, at least once a second) removes the dead one */
	for (int i = 0; i < 100 && bound(kv3, a70, NULL); i++)
		usleep(100000);
	CHECK(!bound(kv3, a70, NULL), "ended lease never swept");
	CHECK(bound(kv3, a80, NULL), "the sweep took a live lease");
}

/* The UDP checksum of an IPv6 frame (no extension header), as sent. */
static void udp6_csum(struct frame *f)
{
	__u8 *ip = f->buf + ETH_HLEN, *l4 = ip + 40;
	__u32 len = (__u32)ip[4] << 8 | ip[5];
	__u16 c;

	l4[6] = l4[7] = 0;
	c = csum_fold16(sum16(l4, len, sum16(ip + 8, 32, 0) + len +
					    IPPROTO_UDP));
	if (!c)
		c = 0xffff;
	l4[6] = (__u8)(c >> 8), l4[7] = (__u8)c;
}

/* The transaction id dhcp6_msg writes (dhcp6_ask opens a new one). */
static __u32 dhcp6_xid = 0x123456;

/*
 * A DHCPv6 message of type t from UDP port sport to dport (546 <-> 547)
 * with one IA (code ia: IA_NA 3 or IA_TA 4) holding one IAADDR of a with
 * valid lifetime valid, from src (mac, saddr) to dst (mac, daddr), of
 * transaction dhcp6_xid. A client identifier comes first, as real
 * messages have one.
 */
static void dhcp6_msg(struct frame *f, const __u8 *dst, const __u8 *src,
		      const __u8 *saddr, const __u8 *daddr, __u8 t,
		      __u16 ia, const __u8 *a, __u32 valid)
{
	__u32 fixed = ia == 3 ? 12 : 4;
	__u16 len = (__u16)(8 + 4 + 14 + 4 + fixed + 4 + 24);
	__u16 sport = t == 7 ? 547 : 546;
	__u8 m[80], *o = m + 12;

	udp(m, sport, sport == 547 ? 546 : 547, len);
	m[8] = t, m[9] = (__u8)(dhcp6_xid >> 16);
	m[10] = (__u8)(dhcp6_xid >> 8), m[11] = (__u8)dhcp6_xid;
	o[1] = 1, o[3] = 10;			/* client id: a DUID-LL */
	o[5] = 3, o[7] = 1;
	memcpy(o + 8, t == 7 ? dst : src, 6);
	o += 14;
	o[1] = (__u8)ia, o[3] = (__u8)(fixed + 4 + 24);
	o[7] = 1;				/* IAID 1 */
	o += 4 + fixed;
	o[1] = 5, o[3] = 24;			/* IAADDR */
	memcpy(o + 4, a, 16);
	o[4 + 19] = 60;				/* preferred 60 s */
	o[4 + 20] = (__u8)(valid >> 24), o[4 + 21] = (__u8)(valid >> 16);
	o[4 + 22] = (__u8)(valid >> 8), o[4 + 23] = (__u8)valid;
	frame_ip6_to(f, dst, src, saddr, daddr, 255, IPPROTO_UDP, m, len);
	udp6_csum(f);
}

/*
 * The client of port ifx (MAC mac, link-local ll) opens a transaction: a
 * message of type t (SOLICIT 1, REQUEST 3, ...) naming a in an IA_NA, to
 * All_DHCP_Relay_Agents_and_Servers.
 */
static void dhcp6_ask(__u32 ifx, const __u8 *mac, const __u8 *ll, __u8 t,
		      const __u8 *a)
{
	static const __u8 ALLSRV[16] = { 0xff, 0x02, [13] = 1, [15] = 2 };
	static const __u8 ALLSRVMAC[6] = { 0x33, 0x33, 0, 1, 0, 2 };
	struct frame f;

	dhcp6_xid = (dhcp6_xid + 1) & 0xffffff;
	dhcp6_msg(&f, ALLSRVMAC, mac, ll, ALLSRV, t, 3, a, 0);
	run_tc(F, ifx, &f);
}

/* A LAN server's REPLY (transaction dhcp6_xid) through the uplink to mac
 * (its link-local ll), whether or not mac's port asked. */
static int dhcp6_reply_as_is(const __u8 *mac, const __u8 *ll, __u16 ia,
			     const __u8 *a, __u32 valid)
{
	static const __u8 SRV[16] = { 0xfe, 0x80, [15] = 0x47 };
	struct frame f;

	dhcp6_msg(&f, mac, PEER, SRV, ll, 7, ia, a, valid);
	return run_tc(F, unit_uplink, &f);
}

/* The client of mac's port (from ll) solicits (Rapid Commit), a LAN
 * server's REPLY answers it. */
static int dhcp6_reply(const __u8 *mac, const __u8 *ll, __u16 ia,
		       const __u8 *a, __u32 valid)
{
	dhcp6_ask(port_of_mac(mac), mac, ll, 1, a);
	return dhcp6_reply_as_is(mac, ll, ia, a, valid);
}

/*
 * A router advertisement from the LAN (uplink) with one prefix option,
 * from src with hop limit hops.
 */
static void ra_from(const __u8 *src, __u8 hops, const __u8 *prefix,
		    __u32 valid)
{
	static const __u8 ALLN[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	static const __u8 ALLN6[16] = { 0xff, 0x02, [15] = 1 };
	__u8 p[16 + 8 + 32] = { 134 }, *o = p + 16;
	struct frame f;

	o[0] = 1, o[1] = 1;			/* source link-layer */
	memcpy(o + 2, PEER, 6);
	o += 8;
	o[0] = 3, o[1] = 4, o[2] = 64, o[3] = 0xc0;	/* prefix info */
	o[4] = (__u8)(valid >> 24), o[5] = (__u8)(valid >> 16);
	o[6] = (__u8)(valid >> 8), o[7] = (__u8)valid;
	memcpy(o + 16, prefix, 16);
	frame_ip6_to(&f, ALLN, PEER, src, ALLN6, hops, IPPROTO_ICMPV6, p,
		     sizeof(p));
	run_tc(F, unit_uplink, &f);
}

/* The same from the LAN's router, fe80::1. */
static void ra_from_lan(const __u8 *prefix, __u32 valid)
{
	static const __u8 LLR[16] = { 0xfe, 0x80, [15] = 1 };

	ra_from(LLR, 255, prefix, valid);
}

/* Forget network a's learned prefixes (kvb_pfx), the mark too. */
static void forget_prefixes(void)
{
	struct kvb_pfx_key k;
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", F->dir, KVB_MAP_PFX);
	fd = bpf_obj_get(path);
	CHECK(fd >= 0, "no kvb_pfx");
	while (!bpf_map_get_next_key(fd, NULL, &k))
		bpf_map_delete_elem(fd, &k);
	close(fd);
}

/*
 * A bridge learns its IPv6 prefixes from the LAN's router advertisements
 * (uplink): then a SAVI claim outside them is refused; link-local stays.
 * Network a's learned prefixes are forgotten at the end.
 */
static void t_savi_bridge_learns_ra_prefixes(struct fabric *fb __attribute__((unused)))
{
	__u8 pfx[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x77 }, a[16];
	__u8 ll[16] = { 0xfe, 0x80, [8] = 0x21, [15] = 0x42 };
	__u8 p[8] = { 128 };
	struct frame f;

	memcpy(a, pfx, 16);
	a[15] = 5;
	frame_ip6(&f, PEER, V2, a, IPPROTO_ICMPV6, p, 8);
	ra_from_lan(pfx, 3600);
	passes(kv2, &f, "a source in the advertised prefix");
	a[5] = 0x78;
	frame_ip6(&f, PEER, V2, a, IPPROTO_ICMPV6, p, 8);
	drops_as(kv2, &f, KVB_DROP_SPOOF_IP, "a prefix the LAN did not advertise");
	frame_ip6(&f, PEER, V2, ll, IPPROTO_ICMPV6, p, 8);
	passes(kv2, &f, "a link-local");
	/* withdrawn (valid lifetime 0) with an hour left: the LAN's hosts
	 * keep their addresses in it for that hour (RFC 4862 5.5.3 e), and
	 * so does the fabric */
	ra_from_lan(pfx, 0);
	a[5] = 0x77, a[15] = 6;
	frame_ip6(&f, PEER, V2, a, IPPROTO_ICMPV6, p, 8);
	passes(kv2, &f, "a prefix an advertisement withdrew with an hour left");
	forget_prefixes();
}

/* The valid lifetime network a's learned prefix pfx/64 has left, in s;
 * PFX_NONE when it has none. */
#define PFX_NONE (-1000000000LL)
static long long prefix_left_s(const __u8 *pfx)
{
	struct kvb_pfx_key k = { .prefixlen = 32 + 64 };
	struct kvb_pfx v = { 0 };
	struct timespec ts;
	char path[600];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", F->dir, KVB_MAP_PFX);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return PFX_NONE;
	k.net_id = htonl(1);	/* network a */
	memcpy(k.addr, pfx, 16);
	err = bpf_map_lookup_elem(fd, &k, &v);
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (err || v.prefixlen != k.prefixlen)
		return PFX_NONE;
	return ((long long)v.expires_ns - (long long)ts.tv_sec * 1000000000LL -
		ts.tv_nsec) / 1000000000LL;
}

/*
 * An advertisement shortens a learned prefix's valid lifetime as a host
 * does (RFC 4862 5.5.3 e), no sooner than two hours, so that one forged
 * advertisement with lifetime 0 from the LAN no longer takes the LAN's
 * prefix away at once (every new guest address in it refused spoof-ip
 * until the real router spoke again): a day left is cut to two hours, a
 * longer lifetime is taken, and a prefix shorter than /16 (::/1 would
 * admit any address) is not learned.
 */
static void t_savi_ra_two_hour_rule(struct fabric *fb __attribute__((unused)))
{
	__u8 pfx[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x7c }, a[16];
	__u8 wide[16] = { 0x80 };
	__u8 p[8] = { 128 };
	long long d0, d1, d2;
	struct frame f;

	ra_from_lan(pfx, 86400);
	d0 = prefix_left_s(pfx);
	ra_from_lan(pfx, 0);		/* forged: withdraw it */
	d1 = prefix_left_s(pfx);
	memcpy(a, pfx, 16);
	a[15] = 9;
	frame_ip6(&f, PEER, V2, a, IPPROTO_ICMPV6, p, 8);
	passes(kv2, &f, "a new address in a prefix withdrawn with a day left");
	ra_from_lan(pfx, 600);		/* shorter than what is left: kept */
	d2 = prefix_left_s(pfx);
	CHECK(d0 > 86000 && d1 > 7100 && d1 <= 7200 && d2 == d1,
	      "a day left %lld s, after lifetime 0 %lld s (want 2 h), after "
	      "600 s %lld s (want unchanged)", d0, d1, d2);
	ra_from_lan(pfx, 90000);	/* longer: taken */
	CHECK(prefix_left_s(pfx) > 89000, "a longer lifetime not taken");
	/* ended, then withdrawn (a renumbered LAN's old prefix): it leaves
	 * the table, which the networks share, rather than stay there */
	{
		struct kvb_pfx_key k = { .prefixlen = 32 + 64 };
		struct kvb_pfx v = { .prefixlen = 32 + 64 };
		char path[600];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", F->dir, KVB_MAP_PFX);
		fd = bpf_obj_get(path);
		k.net_id = htonl(1);
		memcpy(k.addr, pfx, 16);
		v.expires_ns = now_ns() - 1000000000ULL;
		CHECK(fd >= 0 && !bpf_map_update_elem(fd, &k, &v, BPF_EXIST),
		      "prefix not ended by hand");
		close(fd);
		ra_from_lan(pfx, 0);
		/* (the lookup finds the longest match: the mark, if not
		 * the prefix) */
		CHECK(prefix_left_s(pfx) == PFX_NONE,
		      "an ended prefix withdrawn stayed");
		ra_from_lan(pfx, 86400);
	}
	/* a /1 (::/1 ... 8000::/1) is not learned: outside the LAN's
	 * prefix stays refused */
	{
		static const __u8 LLR[16] = { 0xfe, 0x80, [15] = 1 };
		static const __u8 ALLN[6] = { 0x33, 0x33, 0, 0, 0, 1 };
		static const __u8 ALLN6[16] = { 0xff, 0x02, [15] = 1 };
		__u8 r[16 + 32] = { 134 }, *o = r + 16;

		o[0] = 3, o[1] = 4, o[2] = 1, o[3] = 0xc0;
		o[4] = 0, o[5] = 1, o[6] = 0x51, o[7] = 0x80;	/* a day */
		memcpy(o + 16, wide, 16);
		frame_ip6_to(&f, ALLN, PEER, LLR, ALLN6, 255, IPPROTO_ICMPV6,
			     r, sizeof(r));
		run_tc(F, unit_uplink, &f);
	}
	memcpy(a, pfx, 16);
	a[0] = 0xa0, a[15] = 3;
	frame_ip6(&f, PEER, V2, a, IPPROTO_ICMPV6, p, 8);
	drops_as(kv2, &f, KVB_DROP_SPOOF_IP, "an address in a /1 prefix");
	forget_prefixes();
}

/*
 * A prefix the LAN advertises that the prefix table has no room for
 * (shared by the networks, KVB_MAX_PFX) leaves the network without its
 * mark: its guests' addresses in that prefix pass (first claim alone
 * judges them). Before, the mark stayed and every new address of a
 * renumbered LAN was refused spoof-ip.
 */
static void t_savi_prefix_table_full(struct fabric *fb __attribute__((unused)))
{
	__u8 pfx[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x7b }, a[16];
	__u8 p[8] = { 128 };
	struct kvb_pfx_key k = { .prefixlen = 32 + 64 };
	struct kvb_pfx v = { 0 };
	struct frame f;
	char path[600];
	int fd, n = 0;

	/* a prefix learned (the network marked), then the table full of
	 * another network's prefixes, then the LAN renumbered */
	ra_from_lan(pfx, 3600);
	pfx[5] = 0x7c;
	snprintf(path, sizeof(path), "%s/%s", F->dir, KVB_MAP_PFX);
	fd = bpf_obj_get(path);
	CHECK(fd >= 0, "no kvb_pfx");
	k.net_id = htonl(200);
	k.addr[0] = 0xfd;
	for (int i = 0; i < KVB_MAX_PFX + 8; i++) {
		k.addr[6] = (__u8)(i >> 8), k.addr[7] = (__u8)i;
		n += !bpf_map_update_elem(fd, &k, &v, BPF_ANY);
	}
	close(fd);
	ra_from_lan(pfx, 3600);
	memcpy(a, pfx, 16);
	a[15] = 7;
	frame_ip6(&f, PEER, V2, a, IPPROTO_ICMPV6, p, 8);
	passes(kv2, &f, "a source in a prefix the full table could not keep");
	forget_prefixes();
	CHECK(n >= KVB_MAX_PFX - 8, "filled %d of %d", n, KVB_MAX_PFX);
}

static bool bound6(__u32 ifx, const __u8 *a, struct kvb_addr *out);

/* Remove the binding of a (IPv6) held by port ifx, its owner entry too. */
static void unbind6(__u32 ifx, const __u8 *a)
{
	struct kvb_addr_key k = { .ifindex = ifx, .family = 6 };

	memcpy(k.addr, a, 16);
	bpf_map_delete_elem(F->addr_fd, &k);
	k.ifindex = 0;
	k.net_id = 1;
	bpf_map_delete_elem(F->addr_fd, &k);
}

/*
 * The LAN router's address (the source of a valid router advertisement
 * on the uplink, fe80::1 here) is bound to the uplink: a guest can
 * neither answer neighbour solicitations for it (spoof-nd) nor send from
 * it (savi-conflict), so it cannot draw the other guests' traffic for
 * their router. An advertisement a host would discard binds nothing (one
 * routed here, hop limit 64; one from a global source), and a guest's
 * own live claim stays its own (a LAN host advertising from a guest's
 * link-local does not take it). Before, the router's address was a free
 * one that the first guest to claim it got.
 */
static void t_lan_router_address_never_claimed(struct fabric *fb __attribute__((unused)))
{
	static const __u8 LLR[16] = { 0xfe, 0x80, [15] = 1 };
	__u8 far[16] = { 0xfe, 0x80, [15] = 2 }, mine[16] = { 0xfe, 0x80, [15] = 3 };
	__u8 glob[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x79, [15] = 1 };
	__u8 pfx[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x79 };
	__u8 p[32] = { 136, 0, 0, 0, 0x20 }, e[8] = { 128 };
	struct kvb_addr a;
	struct frame f;

	ra_from(far, 64, pfx, 3600);
	CHECK(!bound6(unit_uplink, far, NULL),
	      "an advertisement with hop limit 64 bound its source");
	ra_from(glob, 255, pfx, 3600);
	CHECK(!bound6(unit_uplink, glob, NULL),
	      "an advertisement from a global source bound it");
	ra_from_lan(pfx, 3600);
	CHECK(bound6(unit_uplink, LLR, &a) && (a.flags & KVB_ADDR_F_SAVI),
	      "the router's fe80::1 is not bound to the uplink");
	memcpy(p + 8, LLR, 16);
	p[24] = 2, p[25] = 1;	/* target link-layer: the guest's own MAC */
	memcpy(p + 26, V2, 6);
	frame_ip6(&f, BC, V2, LL6V2, IPPROTO_ICMPV6, p, 32);
	drops_as(kv2, &f, KVB_DROP_SPOOF_ND, "NA for the LAN router's address");
	frame_ip6(&f, PEER, V2, LLR, IPPROTO_ICMPV6, e, 8);
	drops_as(kv2, &f, KVB_DROP_SAVI_CONFLICT,
		 "the LAN router's address as a source");
	/* a guest's link-local first, then an advertisement from it */
	frame_ip6(&f, PEER, V2, mine, IPPROTO_ICMPV6, e, 8);
	passes(kv2, &f, "the guest's own link-local");
	ra_from(mine, 255, pfx, 3600);
	CHECK(bound6(kv2, mine, NULL) && !bound6(unit_uplink, mine, NULL),
	      "an advertisement took a guest's live link-local");
	passes(kv2, &f, "the guest's own link-local, after the advertisement");
	unbind6(unit_uplink, LLR);
	forget_prefixes();
}

/*
 * The host's new IPv6 address on the uplink (a temporary one made between
 * two commands) is held from its DAD probe, which the uplink's tc egress
 * sees before flooding it to the guests: a guest can neither answer for
 * it (spoof-nd) nor send from it (savi-conflict). The source of the
 * host's other multicast (an NS from an address it already uses) is held
 * alike. Before, it was free until the next command's upkeep, and a
 * guest that saw the probe could answer it and take the address.
 */
static void t_host_new_address_held(struct fabric *fb __attribute__((unused)))
{
	static const __u8 CHILD[6] = { 0x02, 0, 0, 0, 0x0d, 1 };
	static const __u8 SNM[6] = { 0x33, 0x33, 0xff, 0x56, 0x78, 0x9a };
	__u8 t3[16] = { 0xfe, 0x80, [8] = 0x3c, 0x4d, 0x11, 0x22, 0x33, 0x44,
			0x55, 0x77 };
	const __u8 *UPMAC;
	struct kvb_net n;
	__u8 t1[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x7a, [8] = 0x12,
			0x34, 0x56, 0x78, 0xbc, 0x56, 0x78, 0x9a };
	__u8 t2[16] = { 0xfe, 0x80, [8] = 0x3c, 0x4d, 0x11, 0x22, 0x33, 0x44,
			0x55, 0x66 };
	__u8 ns[24] = { 135 }, na[32] = { 136, 0, 0, 0, 0x20 }, e[8] = { 128 };
	struct kvb_addr a;
	struct frame f;

	CHECK(!net_get(F, 1, &n), "network a");
	UPMAC = n.uplink_mac;
	/* a probe from another MAC (a macvlan or macvtap device on top of
	 * the NIC, whose frames leave there too) holds nothing */
	memcpy(ns + 8, t3, 16);
	frame_ip6(&f, SNM, CHILD, UNSPEC6, IPPROTO_ICMPV6, ns, 24);
	run_tc_egress(F, unit_uplink, &f);
	CHECK(!bound6(unit_uplink, t3, NULL),
	      "another MAC's probe on the uplink held its target");
	/* the host's DAD probe for t1, out the uplink */
	memcpy(ns + 8, t1, 16);
	frame_ip6(&f, SNM, UPMAC, UNSPEC6, IPPROTO_ICMPV6, ns, 24);
	run_tc_egress(F, unit_uplink, &f);
	CHECK(bound6(unit_uplink, t1, &a) && (a.flags & KVB_ADDR_F_STATIC),
	      "the host's probed address is not held for the uplink");
	memcpy(na + 8, t1, 16);
	na[24] = 2, na[25] = 1;
	memcpy(na + 26, V2, 6);
	frame_ip6(&f, BC, V2, LL6V2, IPPROTO_ICMPV6, na, 32);
	drops_as(kv2, &f, KVB_DROP_SPOOF_ND, "NA for the host's new address");
	frame_ip6(&f, PEER, V2, t1, IPPROTO_ICMPV6, e, 8);
	drops_as(kv2, &f, KVB_DROP_SAVI_CONFLICT,
		 "the host's new address as a source");
	/* an NS from an address of the host's that no probe announced */
	memcpy(ns + 8, t1, 16);
	frame_ip6(&f, SNM, UPMAC, t2, IPPROTO_ICMPV6, ns, 24);
	run_tc_egress(F, unit_uplink, &f);
	CHECK(bound6(unit_uplink, t2, NULL),
	      "the source of the host's NS is not held for the uplink");
	unbind6(unit_uplink, t1);
	unbind6(unit_uplink, t2);
}

/*
 * DHCPv6 snooping on a bridge. kv2 saw kv1's multicast REQUEST naming X
 * and used X first (SAVI's first claim); the LAN server's REPLY to kv1
 * (through the uplink, to its link-local and MAC) leases X to kv1's
 * port until its valid lifetime ends: kv2's binding goes, its data from
 * X is refused, kv1's data and its DECLINE of X are its own. A valid
 * lifetime of 0 ends the lease; an IA_TA's address is leased alike
 * (all ones: for ever). A REPLY from a spoofcheck-off guest leases too,
 * and XDP leaves it to tc (before, XDP redirected it to a guest's tap,
 * unsnooped); one from a guest with spoofcheck on is
 * refused and binds nothing. Before, nothing was snooped: kv2 kept X,
 * kv1's traffic from X was refused savi-conflict and its DECLINE
 * dhcp6-foreign, and the server offered X again.
 */
static void t_dhcp6_reply_leases(struct fabric *fb)
{
	static const __u8 D6[6] = { 0x52, 0x54, 0, 0, 0x6d, 2 };
	struct port_opts d6 = { .xdp = true, .spoofcheck = true, .mac = D6,
				.naddrs = 0 };
	struct kvb_port p;
	__u32 kd6 = 0;
	static const __u8 ALLSRV[16] = { 0xff, 0x02, [13] = 1, [15] = 2 };
	static const __u8 ALLSRVMAC[6] = { 0x33, 0x33, 0, 1, 0, 2 };
	static const __u8 RVM[6] = { 0x52, 0x54, 0, 0, 0x6d, 1 };
	static const __u8 RVMLL[16] = { 0xfe, 0x80, [15] = 0x6d };
	static const __u8 D6LL[16] = { 0xfe, 0x80, [8] = 0x50, 0x54, 0x00,
				       0xff, 0xfe, 0x00, 0x6d, 0x02 };
	__u8 x[16] = { 0xfd, [13] = 0x6d, [15] = 1 };
	__u8 y[16] = { 0xfd, [13] = 0x6d, [15] = 2 };
	__u8 e[8] = { 128 };
	__u32 kg2 = if_nametoindex("kg2");
	struct kvb_addr a;
	struct frame f;
	__u64 now = now_ns();
	int ret, rx;

	frame_ip6(&f, PEER, V2, x, IPPROTO_ICMPV6, e, 8);
	passes(kv2, &f, "kv2's first use of X");
	CHECK(bound6(kv2, x, &a) && (a.flags & KVB_ADDR_F_SAVI),
	      "kv2 did not claim X");
	ret = dhcp6_reply(V1, LL6, 3, x, 3600);
	CHECK(ret == TC_ACT_REDIRECT, "REPLY to kv1 not delivered: %d", ret);
	CHECK(bound6(kv1, x, &a) && a.flags == KVB_ADDR_F_DHCP &&
	      a.expires_ns >= now + 3590 * 1000000000ULL &&
	      a.expires_ns <= now_ns() + 3600 * 1000000000ULL,
	      "X not leased to kv1 for its valid lifetime");
	CHECK(!bound6(kv2, x, NULL), "kv2 kept X");
	drops_as(kv2, &f, KVB_DROP_SAVI_CONFLICT, "kv2's data from kv1's lease");
	frame_ip6(&f, PEER, V1, x, IPPROTO_ICMPV6, e, 8);
	passes(kv1, &f, "kv1's data from its lease");
	dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, 9, 3, x, 0);
	passes(kv1, &f, "kv1's DECLINE of its lease");
	dhcp6_reply(V1, LL6, 3, x, 0);
	CHECK(!bound6(kv1, x, NULL), "valid lifetime 0 left the lease");
	dhcp6_reply(V1, LL6, 4, y, 0xffffffff);
	CHECK(bound6(kv1, y, &a) && a.flags == KVB_ADDR_F_DHCP &&
	      !a.expires_ns, "IA_TA address not leased for ever");
	dhcp6_reply(V1, LL6, 4, y, 0);
	CHECK(!bound6(kv1, y, NULL), "IA_TA lease not ended");
	/*
	 * A router VM's (spoofcheck off) REPLY to a guest on a tap, which
	 * XDP redirects to: XDP leaves it to tc, which leases.
	 */
	CHECK(kg2 && !add_tap("kd6", &kd6) &&
	      !port_attach(fb, "unit", "kd6", 1, KVB_PORT_GUEST, &d6),
	      "attach kd6");
	dhcp6_ask(kd6, D6, D6LL, 3, x);
	dhcp6_msg(&f, D6, RVM, RVMLL, D6LL, 7, 3, x, 600);
	rx = run_xdp(F, kg2, &f);
	if (rx == XDP_PASS) {
		ret = run_tc(F, kg2, &f);
		CHECK(ret == TC_ACT_REDIRECT && bound6(kd6, x, &a) &&
		      a.flags == KVB_ADDR_F_DHCP,
		      "REPLY from a spoofcheck-off guest: %d, not leased", ret);
		dhcp6_reply(D6, D6LL, 3, x, 0);
		CHECK(!bound6(kd6, x, NULL), "lease not ended");
	}
	if (!port_get(F, kd6, &p))
		port_detach(F, "unit", &p);
	system("ip link del kd6");
	CHECK(rx == XDP_PASS, "XDP verdict %d on a REPLY, want XDP_PASS (%d)",
	      rx, XDP_PASS);
	/* a guest with spoofcheck on serves nobody */
	dhcp6_msg(&f, V1, V3, LL6V2, LL6, 7, 3, x, 3600);
	drops_as(kv3, &f, KVB_DROP_SPOOF_DHCP, "REPLY from a guest");
	CHECK(!bound6(kv1, x, NULL), "a guest's REPLY leased");
}

/*
 * A server message in the other family's datagram is no lease: a guest
 * with spoofcheck on (kv1, from its own addresses) that sends a DHCPv6
 * REPLY inside IPv4 (UDP 547 -> 546), or a DHCPv4 ACK inside IPv6 (UDP
 * 67 -> 68), binds nothing, and neither does a LAN REPLY to an address
 * that is not link-local (a server answers the client's link-local; a
 * router forwards no such REPLY). Before, the DHCP stage snooped by port
 * alone: the guard judged each family's server messages by its own ports,
 * so a guest could lease itself any address, for ever.
 */
static void t_dhcp_cross_family_forgery(struct fabric *fb __attribute__((unused)))
{
	__u8 z[16] = { 0xfd, [13] = 0x6e, [15] = 1 };
	__u8 glob[16] = { 0xfd, 0, [15] = 9 };
	__u32 yi = A4(10, 0, 0, 77);
	struct frame f6, f;

	/* a REPLY inside IPv4, from kv1's 10.0.0.1 to its own MAC, of a
	 * transaction kv1 opened */
	dhcp6_ask(kv1, V1, LL6, 1, z);
	dhcp6_msg(&f6, V1, V1, LL6, LL6, 7, 3, z, 0xffffffff);
	frame_ip4(&f, V1, V1, A4(10, 0, 0, 1), IPPROTO_UDP, f6.buf + 14 + 40,
		  f6.len - 14 - 40);
	f.buf[14 + 20 + 6] = f.buf[14 + 20 + 7] = 0;	/* no checksum */
	run_tc(F, kv1, &f);
	CHECK(!bound6(kv1, z, NULL), "a REPLY inside IPv4 leased");
	/* an ACK inside IPv6, from kv1's fd00::1, of its transaction */
	dhcp_ask(kv1, V1);
	dhcp_msg(&f, PEER, A4(10, 0, 0, 1), 5, V1, 0, yi, 0, 3600);
	frame_ip6(&f6, V1, V1, glob, IPPROTO_UDP, f.buf + 14 + 20,
		  f.len - 14 - 20);
	f6.buf[14 + 8 + 15] = 1;	/* from fd00::1 */
	f6.buf[14 + 8 + 14] = 0;
	udp6_csum(&f6);
	run_tc(F, kv1, &f6);
	CHECK(!bound(kv1, yi, NULL), "an ACK inside IPv6 leased");
	/* a LAN REPLY to a global address of the client, which asked */
	dhcp6_ask(kv1, V1, LL6, 1, z);
	dhcp6_msg(&f, V1, PEER, LL6V2, glob, 7, 3, z, 3600);
	run_tc(F, unit_uplink, &f);
	CHECK(!bound6(kv1, z, NULL), "a REPLY to a global address leased");
}

/*
 * A guest's own DHCPv6 RELEASE or DECLINE ends its port's lease of the
 * addresses it names, as DHCPv4's do; another guest's naming it is
 * refused (dhcp6-foreign) and ends nothing. Before, the lease stayed
 * bound until its valid lifetime ended.
 */
static void t_dhcp6_lease_released(struct fabric *fb __attribute__((unused)))
{
	static const __u8 ALLSRV[16] = { 0xff, 0x02, [13] = 1, [15] = 2 };
	static const __u8 ALLSRVMAC[6] = { 0x33, 0x33, 0, 1, 0, 2 };
	/* fe80::5054:ff:fe00:c03, the modified EUI-64 of V3 */
	static const __u8 LL6V3[16] = { 0xfe, 0x80, [8] = 0x50, 0x54, 0x00,
					0xff, 0xfe, 0x00, 0x0c, 0x03 };
	__u8 z[16] = { 0xfd, [13] = 0x6d, [15] = 3 };
	struct frame f;

	for (__u8 t = 8; t <= 9; t++) {
		dhcp6_reply(V1, LL6, 3, z, 3600);
		CHECK(bound6(kv1, z, NULL), "Z not leased to kv1");
		dhcp6_msg(&f, ALLSRVMAC, V3, LL6V3, ALLSRV, t, 3, z, 0);
		drops_as(kv3, &f, KVB_DROP_DHCP6_FOREIGN,
			 "kv3 releases or declines kv1's lease");
		CHECK(bound6(kv1, z, NULL), "kv3's message (type %u) ended "
		      "kv1's lease", t);
		dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, t, 3, z, 0);
		passes(kv1, &f, "kv1 releases or declines its lease");
		CHECK(!bound6(kv1, z, NULL), "kv1's message (type %u) left "
		      "its lease bound", t);
	}
	/*
	 * An address kv1 only uses (first claim, SAVI), that the server
	 * leased to kv3: kv3's DAD finds it taken and its client declines
	 * it, which passes (refused, the server was never told and offered
	 * it again, for ever); kv1 keeps its claim. A RELEASE of it is still
	 * refused (kv1 may hold a lease the snooping missed).
	 */
	{
		__u8 e[8] = { 128 };

		z[15] = 4;
		frame_ip6(&f, PEER, V1, z, IPPROTO_ICMPV6, e, 8);
		passes(kv1, &f, "kv1's first use of Z4");
		CHECK(bound6(kv1, z, NULL), "kv1 did not claim Z4");
		dhcp6_msg(&f, ALLSRVMAC, V3, LL6V3, ALLSRV, 9, 3, z, 0);
		passes(kv3, &f, "kv3 declines Z4, which kv1 uses");
		CHECK(bound6(kv1, z, NULL), "kv3's DECLINE ended kv1's claim");
		dhcp6_msg(&f, ALLSRVMAC, V3, LL6V3, ALLSRV, 8, 3, z, 0);
		drops_as(kv3, &f, KVB_DROP_DHCP6_FOREIGN,
			 "kv3 releases Z4, which kv1 uses");
		CHECK(bound6(kv1, z, NULL), "kv3's RELEASE ended kv1's claim");
	}
}

/*
 * A REPLY binds only what answers the port's own client: a LAN REPLY to
 * kv1 naming W, which kv2 holds by first claim, takes nothing when kv1's
 * client sent no message of its transaction id, nor when the id is kv3's;
 * kv2 keeps W and sends from it. Nor does an unasked REPLY end kv1's
 * lease (valid lifetime 0). A REPLY to kv1's own REQUEST binds. Before,
 * any REPLY to a port's link-local took another port's SAVI binding.
 */
static void t_dhcp6_unasked_reply_binds_nothing(struct fabric *fb __attribute__((unused)))
{
	static const __u8 LL6V3[16] = { 0xfe, 0x80, [8] = 0x50, 0x54, 0x00,
					0xff, 0xfe, 0x00, 0x0c, 0x03 };
	__u8 w[16] = { 0xfd, [13] = 0x6f, [15] = 1 };
	__u8 u[16] = { 0xfd, [13] = 0x6f, [15] = 2 };
	__u8 e[8] = { 128 };
	struct kvb_addr a;
	struct frame f;

	frame_ip6(&f, PEER, V2, w, IPPROTO_ICMPV6, e, 8);
	passes(kv2, &f, "kv2's first use of W");
	CHECK(bound6(kv2, w, &a) && (a.flags & KVB_ADDR_F_SAVI),
	      "kv2 did not claim W");
	dhcp6_xid = 0x5e0001;	/* no client sent it */
	CHECK(dhcp6_reply_as_is(V1, LL6, 3, w, 3600) == TC_ACT_REDIRECT,
	      "unasked REPLY not delivered");
	CHECK(!bound6(kv1, w, NULL) && bound6(kv2, w, NULL),
	      "an unasked REPLY took kv2's W");
	dhcp6_ask(kv3, V3, LL6V3, 1, u);	/* kv3's id, to kv1 */
	dhcp6_reply_as_is(V1, LL6, 3, w, 3600);
	CHECK(!bound6(kv1, w, NULL) && bound6(kv2, w, NULL),
	      "a REPLY of kv3's transaction to kv1 took kv2's W");
	passes(kv2, &f, "kv2 still sends from W");
	dhcp6_ask(kv1, V1, LL6, 3, u);
	dhcp6_reply_as_is(V1, LL6, 3, u, 3600);
	CHECK(bound6(kv1, u, &a) && a.flags == KVB_ADDR_F_DHCP,
	      "REPLY to kv1's REQUEST not bound");
	dhcp6_xid = 0x5e0002;
	dhcp6_reply_as_is(V1, LL6, 3, u, 0);
	CHECK(bound6(kv1, u, NULL), "an unasked REPLY ended kv1's lease");
	unbind6(kv1, u);
	unbind6(kv2, w);
}

/*
 * Port ifx's DHCP record (kvb_dhcpx, by its counters' slot) into d: the
 * map's fd, for the caller to write it back under *slot and close, or -1.
 */
static int dhcpx_read(__u32 ifx, __u32 *slot, struct kvb_dhcpx *d)
{
	struct kvb_port p;
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", F->dir, KVB_MAP_DHCPX);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	if (port_get(F, ifx, &p)) {
		close(fd);
		return -1;
	}
	*slot = p.slot;
	if (bpf_map_lookup_elem(fd, slot, d)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Age port ifx's recorded DHCP transactions (kvb_dhcpx) by s seconds. */
static void dhcpx_age(__u32 ifx, __u64 s)
{
	struct kvb_dhcpx d;
	__u32 slot;
	int fd = dhcpx_read(ifx, &slot, &d);

	if (fd < 0)
		return;
	for (int fam = 0; fam < 2; fam++)
		for (int i = 0; i < KVB_DHCP_XIDS; i++)
			if (d.x[fam][i].ifindex == ifx)
				d.x[fam][i].sent_ns -= s * 1000000000ULL;
	bpf_map_update_elem(fd, &slot, &d, BPF_ANY);
	close(fd);
}

/*
 * Set port ifx's DHCPv6 lease budget (kvb_dhcpx), or with v4 its DHCPv4
 * one, to level, leaked to ago_s seconds before now.
 */
static void dhcp_budget_set(__u32 ifx, int v4, __u32 level, __u64 ago_s)
{
	struct kvb_dhcpx d;
	__u32 slot;
	int fd = dhcpx_read(ifx, &slot, &d);

	if (fd < 0)
		return;
	if (d.b6.ifindex != ifx) {
		d.b6.ifindex = ifx;
		d.b6.level = d.b6.level4 = 0;
	}
	if (v4)
		d.b6.level4 = level;
	else
		d.b6.level = level;
	d.b6.at_ns = now_ns() - ago_s * 1000000000ULL;
	bpf_map_update_elem(fd, &slot, &d, BPF_ANY);
	close(fd);
}

static void dhcp6_budget_set(__u32 ifx, __u32 level, __u64 ago_s)
{
	dhcp_budget_set(ifx, 0, level, ago_s);
}

static void dhcp4_budget_set(__u32 ifx, __u32 level4, __u64 ago_s)
{
	dhcp_budget_set(ifx, 1, level4, ago_s);
}

/* Through tc (XDP leaves a guest's DHCPv6 to tc) with no drop counted,
 * or dropped there as r (want_drop). */
static int tc_judged(__u32 ifx, const struct frame *f, int want_drop,
		     enum kvb_drop r, const char *what)
{
	__u64 a0 = all_drops(ifx), d0 = dropped(ifx, r);
	int t = run_tc(F, ifx, f);

	if (want_drop ? t == TC_ACT_SHOT && dropped(ifx, r) == d0 + 1 :
			all_drops(ifx) == a0)
		return 1;
	printf("FAIL %s: tc %d, %s +%llu, drops +%llu\n", what, t,
	       drop_name(r), dropped(ifx, r) - d0, all_drops(ifx) - a0);
	unit_failed = 1;
	return 0;
}

/*
 * A guest's DHCPv6 messages that make the server create leases are
 * charged to its port's lease budget: with one lease held, 15 REQUESTs
 * for fresh addresses pass (16: KVB_DHCP_LEASE_MAX), the next one is
 * refused (dhcp6-lease-cap, counted), as is a REBIND (dnsmasq creates a
 * lease for a binding it does not know under the message's DUID) and a
 * SOLICIT with Rapid Commit, whether or not a REPLY came; the RENEW of
 * the lease it holds and a plain SOLICIT pass. The budget leaks one lease
 * every KVB_DHCP6_LEAK_S: a REQUEST then passes again. Before, every one
 * passed: a guest's fresh DUIDs took the server's whole lease table,
 * shared with DHCPv4.
 */
static void t_dhcp6_lease_cap(struct fabric *fb)
{
	static const __u8 ALLSRV[16] = { 0xff, 0x02, [13] = 1, [15] = 2 };
	static const __u8 ALLSRVMAC[6] = { 0x33, 0x33, 0, 1, 0, 2 };
	const enum kvb_drop cap = KVB_DROP_DHCP6_LEASE_CAP;
	__u8 x[16] = { 0xfd, [13] = 0x7c, [15] = 1 };
	__u8 z[16] = { 0xfd, [13] = 0x7c, [14] = 1 };
	struct kvb_port p;
	struct frame f;
	__u32 held;
	__u8 *o;
	int ret;

	dhcp6_budget_set(kv1, 0, 0);
	ret = dhcp6_reply(V1, LL6, 3, x, 3600);
	CHECK(ret == TC_ACT_REDIRECT && bound6(kv1, x, NULL),
	      "kv1 not leased X: %d", ret);
	CHECK(!port_get(fb, kv1, &p), "kv1 gone");
	held = p.n_ip6 - p.n_savi;	/* X, and what earlier tests left */
	CHECK(held >= 1 && held < KVB_DHCP_LEASE_MAX, "kv1 holds %u", held);
	for (__u32 i = 0; i < KVB_DHCP_LEASE_MAX - held; i++) {
		z[15] = (__u8)(i + 1);
		dhcp6_xid = (dhcp6_xid + 1) & 0xffffff;
		dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, 3, 3, z, 0);
		tc_judged(kv1, &f, 0, cap,
			  "a REQUEST within the port's lease budget");
	}
	z[15] = 0x80;
	dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, 3, 3, z, 0);
	tc_judged(kv1, &f, 1, cap, "a REQUEST past the port's lease budget");
	dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, 6, 3, x, 0);
	tc_judged(kv1, &f, 1, cap,
		  "a REBIND (another DUID's lease of X) past the budget");
	dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, 1, 3, z, 0);
	tc_judged(kv1, &f, 0, cap,
		  "a SOLICIT without Rapid Commit (leases nothing)");
	/* a SOLICIT with Rapid Commit (option 14, empty) and an IA_NA that
	 * names no address (the same bytes: the IA moved 4 on, its IAADDR
	 * made an option 99 of 20 bytes) */
	dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, 1, 3, z, 0);
	o = f.buf + f.len - (4 + 12 + 4 + 24);
	o[0] = 0, o[1] = 14, o[2] = 0, o[3] = 0;
	o[4] = 0, o[5] = 3, o[6] = 0, o[7] = 12 + 4 + 24 - 4;
	o[20] = 0, o[21] = 99, o[22] = 0, o[23] = 20;
	udp6_csum(&f);
	tc_judged(kv1, &f, 1, cap,
		  "a SOLICIT with Rapid Commit past the budget");
	dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, 5, 3, x, 0);
	tc_judged(kv1, &f, 0, cap, "the RENEW of the lease the port holds");
	/* a RENEW of a lease no binding of the port holds (one its budget
	 * let it make, the script never bound): charged, as it would keep
	 * that lease alive in the server's table */
	z[15] = 0x82;
	dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, 5, 3, z, 0);
	tc_judged(kv1, &f, 1, cap,
		  "a RENEW of a lease the port does not hold, past the budget");
	dhcp6_budget_set(kv1, KVB_DHCP_LEASE_MAX, KVB_DHCP6_LEAK_S + 1);
	z[15] = 0x81;
	dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, 3, 3, z, 0);
	tc_judged(kv1, &f, 0, cap,
		  "a REQUEST once the budget leaked one lease");
	dhcp6_msg(&f, ALLSRVMAC, V1, LL6, ALLSRV, 9, 3, x, 0);
	passes(kv1, &f, "kv1's DECLINE of X");
	dhcp6_budget_set(kv1, 0, 0);
}

/*
 * A guest's DHCPv4 messages that can make a server create leases are
 * charged to its port's DHCPv4 budget (t111: a LAN server that keys
 * leases on the client identifier leased one guest, asking with its own
 * MAC and a new option 61 each time, the whole pool): with one lease
 * held, 15 REQUESTs for other addresses pass, the next is refused
 * (dhcp-lease-cap, counted), as are a DISCOVER with Rapid Commit and a
 * message that gives its type twice; a plain DISCOVER, the renewal of
 * the lease it holds (ciaddr) and its INIT-REBOOT REQUEST (option 50)
 * pass; once the budget leaked one lease, a REQUEST passes again.
 */
static void t_dhcp4_lease_cap(struct fabric *fb)
{
	const enum kvb_drop cap = KVB_DROP_DHCP_LEASE_CAP;
	__u32 a58 = A4(10, 0, 0, 58), held;
	struct kvb_port p;
	struct frame f;
	__u8 *o;

	CHECK(dhcp_ack(V3, a58, 3600) == TC_ACT_REDIRECT &&
	      bound(kv3, a58, NULL), "kv3 not leased .58");
	CHECK(!port_get(fb, kv3, &p), "kv3 gone");
	held = p.n_ip4;		/* .58, and what earlier tests left */
	CHECK(held >= 1 && held < KVB_DHCP_LEASE_MAX, "kv3 holds %u", held);
	dhcp4_budget_set(kv3, 0, 0);
	for (__u32 i = 0; i < KVB_DHCP_LEASE_MAX - held; i++) {
		dhcp_xid++;
		dhcp_msg(&f, V3, 0, 3, V3, 0, 0, A4(10, 0, 2, i + 1), 0);
		tc_judged(kv3, &f, 0, cap,
			  "a REQUEST within the port's DHCPv4 budget");
	}
	dhcp_msg(&f, V3, 0, 3, V3, 0, 0, A4(10, 0, 2, 99), 0);
	tc_judged(kv3, &f, 1, cap, "a REQUEST past the port's DHCPv4 budget");
	dhcp_msg(&f, V3, 0, 1, V3, 0, 0, 0, 0);
	tc_judged(kv3, &f, 0, cap, "a DISCOVER (the server only offers)");
	/* options: 53 (3 bytes), then 80 (Rapid Commit, empty) */
	o = f.buf + ETH_HLEN + 20 + 8 + 240 + 3;
	o[0] = 80, o[1] = 0, o[2] = 255;
	frame_csum4(&f);
	tc_judged(kv3, &f, 1, cap, "a DISCOVER with Rapid Commit past the budget");
	o[0] = 53, o[1] = 1, o[2] = 3, o[3] = 255;	/* DISCOVER, REQUEST */
	frame_csum4(&f);
	tc_judged(kv3, &f, 1, KVB_DROP_DHCP_MALFORMED,
		  "a message of two types (t116: refused, within the budget "
		  "or past it)");
	dhcp_msg(&f, V3, a58, 3, V3, a58, 0, 0, 0);
	tc_judged(kv3, &f, 0, cap, "the renewal of the lease the port holds");
	dhcp_msg(&f, V3, 0, 3, V3, 0, 0, a58, 0);
	tc_judged(kv3, &f, 0, cap, "an INIT-REBOOT REQUEST of its own lease");
	dhcp4_budget_set(kv3, KVB_DHCP_LEASE_MAX, KVB_DHCP6_LEAK_S + 1);
	dhcp_msg(&f, V3, 0, 3, V3, 0, 0, A4(10, 0, 2, 98), 0);
	tc_judged(kv3, &f, 0, cap, "a REQUEST once the budget leaked one lease");
	dhcp4_budget_set(kv3, 0, 0);
}

/*
 * An ACK binds only what answers the port's own client: a LAN host's ACK
 * of a 1 s lease to a guest that asked nothing (an xid its client never
 * sent), or of a transaction another port's client opened, binds nothing
 * and leaves the port unheld, so the guest goes on with the address it
 * uses. The ACK of the port's own REQUEST binds, within KVB_DHCP_XID_S of
 * it and not after. Before, any ACK from the uplink bound: a second later
 * the port was held to nothing, every address it used spoof-ip.
 */
static void t_dhcp_unasked_ack_binds_nothing(struct fabric *fb)
{
	static const __u8 V6[6] = { 0x52, 0x54, 0, 0, 0xc, 6 };
	struct port_opts o = { .spoofcheck = true, .naddrs = -1 };
	__u32 a91 = A4(10, 0, 0, 91), a92 = A4(10, 0, 0, 92), kv6;
	struct kvb_port p;
	struct frame f;
	__u8 l4[16];

	CHECK(!add_veth("kv6", &kv6) &&
	      !port_attach(fb, "unit", "kv6", 1, KVB_PORT_GUEST, &o),
	      "attach kv6");
	arp(&f, V6, V6, 0);
	CHECK(run_tc(F, kv6, &f) != -1 && !port_get(F, kv6, &p) &&
	      !memcmp(p.mac, V6, 6) && !p.n_ip4 && !p.held,
	      "kv6 not a pinned, unheld port");
	dhcp_xid = 0x5e5e0001;	/* no client sent it */
	CHECK(dhcp_ack_as_is(V6, a91, 1) == TC_ACT_REDIRECT,
	      "unasked ACK not delivered");
	CHECK(!bound(kv6, a91, NULL), "an ACK nobody asked for bound");
	CHECK(!port_get(F, kv6, &p) && !p.n_ip4 && !p.held,
	      "unasked ACK: n_ip4 %u held %u", p.n_ip4, p.held);
	dhcp_ask(kv2, V2);	/* kv2's transaction, ACKed to kv6 */
	dhcp_ack_as_is(V6, a91, 1);
	CHECK(!bound(kv6, a91, NULL) && !bound(kv2, a91, NULL),
	      "an ACK of kv2's transaction to kv6 bound");
	CHECK(!port_get(F, kv6, &p) && !p.held, "kv6 held");
	udp(l4, 1000, 2000, 16);
	frame_ip4(&f, PEER, V6, a92, IPPROTO_UDP, l4, 16);
	passes(kv6, &f, "kv6's own address after the unasked ACKs");
	CHECK(dhcp_ack(V6, a91, 3600) == TC_ACT_REDIRECT &&
	      bound(kv6, a91, NULL), "ACK of kv6's REQUEST not bound");
	CHECK(!port_get(F, kv6, &p) && (p.held & KVB_HELD_IP4) &&
	      p.n_ip4 == 1, "kv6 leased: n_ip4 %u held %u", p.n_ip4, p.held);
	dhcpx_age(kv6, KVB_DHCP_XID_S + 1);
	dhcp_ack_as_is(V6, a92, 3600);
	CHECK(!bound(kv6, a92, NULL), "an ACK %d s after the REQUEST bound",
	      KVB_DHCP_XID_S + 1);
	if (!port_get(F, kv6, &p))
		port_detach(F, "unit", &p);
	system("ip link del kv6");
}

/*
 * At most KVB_DHCP_LEASE_MAX leases of each family per port: the 17th
 * ACK (REPLY) the port's client asked for binds nothing, a renewal of a
 * lease it holds still does, and once one of its leases ends there is
 * room again. Before, there was no cap: ACKs one per DISCOVER, or REPLYs
 * with many IAs, filled kvb_addr, which every network shares.
 */
static void t_dhcp_lease_cap(struct fabric *fb)
{
	static const __u8 V7[6] = { 0x52, 0x54, 0, 0, 0xc, 7 };
	static const __u8 LL7[16] = { 0xfe, 0x80, [8] = 0x50, 0x54, 0x00,
				      0xff, 0xfe, 0x00, 0x0c, 0x07 };
	struct port_opts o = { .spoofcheck = true, .naddrs = -1 };
	__u8 a6[16] = { 0xfd, [13] = 0x70 };
	struct kvb_addr a;
	struct kvb_port p;
	struct frame f;
	__u32 kv7;

	CHECK(!add_veth("kv7", &kv7) &&
	      !port_attach(fb, "unit", "kv7", 1, KVB_PORT_GUEST, &o),
	      "attach kv7");
	arp(&f, V7, V7, 0);
	CHECK(run_tc(F, kv7, &f) != -1 && !port_get(F, kv7, &p) &&
	      !memcmp(p.mac, V7, 6), "kv7 not pinned");
	for (__u32 i = 1; i <= KVB_DHCP_LEASE_MAX; i++) {
		dhcp_ack(V7, A4(10, 0, 1, i), 3600);
		CHECK(bound(kv7, A4(10, 0, 1, i), NULL), "lease %u not bound", i);
	}
	/* the renewal of .1 (ciaddr: no charge on the lease budget, which
	 * refuses any other REQUEST now), which a server answers with a
	 * 17th address */
	dhcp_xid++;
	dhcp_msg(&f, V7, A4(10, 0, 1, 1), 3, V7, A4(10, 0, 1, 1), 0, 0, 0);
	run_tc(F, kv7, &f);
	dhcp_ack_as_is(V7, A4(10, 0, 1, 17), 3600);
	CHECK(!bound(kv7, A4(10, 0, 1, 17), NULL), "a 17th IPv4 lease bound");
	CHECK(!port_get(F, kv7, &p) && p.n_ip4 == KVB_DHCP_LEASE_MAX,
	      "n_ip4 %u", p.n_ip4);
	dhcp_xid++;
	dhcp_msg(&f, V7, A4(10, 0, 1, 1), 3, V7, A4(10, 0, 1, 1), 0, 0, 0);
	run_tc(F, kv7, &f);
	dhcp_ack_as_is(V7, A4(10, 0, 1, 1), 7200);
	CHECK(bound(kv7, A4(10, 0, 1, 1), &a) &&
	      a.expires_ns > now_ns() + 7100 * 1000000000ULL,
	      "a renewal at the cap not bound");
	for (__u32 i = 1; i <= KVB_DHCP_LEASE_MAX; i++) {
		a6[15] = (__u8)i;
		dhcp6_reply(V7, LL7, 3, a6, 3600);
		CHECK(bound6(kv7, a6, NULL), "IPv6 lease %u not bound", i);
	}
	a6[15] = 17;
	dhcp6_reply(V7, LL7, 3, a6, 3600);
	CHECK(!bound6(kv7, a6, NULL), "a 17th IPv6 lease bound");
	a6[15] = 1;
	dhcp6_reply(V7, LL7, 3, a6, 0);
	CHECK(!bound6(kv7, a6, NULL), "lease 1 not ended");
	a6[15] = 17;
	dhcp6_reply(V7, LL7, 3, a6, 3600);
	CHECK(bound6(kv7, a6, NULL), "no room once a lease ended");
	if (!port_get(F, kv7, &p))
		port_detach(F, "unit", &p);
	system("ip link del kv7");
}

/*
 * A frame XDP drops is counted received as tc counts it: a port's rx
 * figures do not depend on the hook. Before, XDP's drops were missing
 * from rx (a spoofed frame: +1 rx under tc, +0 under XDP).
 */
static void t_xdp_drop_counted_received(struct fabric *fb __attribute__((unused)))
{
	static const __u8 OTHER[6] = { 0x52, 0x54, 0, 0, 0xc, 0x77 };
	__u8 e[8] = { 8 };
	struct frame f;
	__u64 r0, r1, r2;
	int x, t;

	/* kv1's port with another source MAC: spoof-mac on both hooks */
	frame_ip4(&f, PEER, OTHER, inet_addr("10.1.0.11"), IPPROTO_ICMP, e, 8);
	r0 = port_stats(F, kv1).rx_packets;
	x = run_xdp(F, kv1, &f);
	r1 = port_stats(F, kv1).rx_packets;
	t = run_tc(F, kv1, &f);
	r2 = port_stats(F, kv1).rx_packets;
	CHECK(x == XDP_DROP && t == TC_ACT_SHOT, "verdicts xdp %d tc %d", x, t);
	CHECK(r1 == r0 + 1 && r2 == r1 + 1, "rx +%llu under XDP, +%llu under "
	      "tc (want 1 and 1)", (unsigned long long)(r1 - r0),
	      (unsigned long long)(r2 - r1));
}

static void t_isolated_ports(struct fabric *fb __attribute__((unused)))
{
	struct frame f;
	__u8 l4[16];
	__u64 t1, t2, tu;
	int ret;

	udp(l4, 1000, 2000, 16);
	frame_ip4(&f, BC, I2, A4(10, 0, 0, 32), IPPROTO_UDP, l4, 16);
	run_tc(F, ki2, &f);	/* I2 learned behind ki2 */
	frame_ip4(&f, I2, I1, A4(10, 0, 0, 31), IPPROTO_UDP, l4, 16);
	t2 = delivered(ki2);
	ret = run_tc(F, ki1, &f);
	CHECK(ret == TC_ACT_SHOT && delivered(ki2) == t2 &&
	      dropped(ki1, KVB_DROP_ISOLATED) > 0,
	      "isolated guest reached another guest (verdict %d)", ret);
	frame_ip4(&f, unit_upmac, I1, A4(10, 0, 0, 31), IPPROTO_UDP, l4, 16);
	CHECK(run_tc(F, ki1, &f) == TC_ACT_REDIRECT, "host unreachable");
	frame_ip4(&f, BC, I1, A4(10, 0, 0, 31), IPPROTO_UDP, l4, 16);
	t1 = delivered(kv1), t2 = delivered(ki2), tu = delivered(unit_uplink);
	run_tc(F, ki1, &f);
	CHECK(delivered(kv1) == t1 && delivered(ki2) == t2,
	      "isolated broadcast reached a guest");
	CHECK(delivered(unit_uplink) == tu + 1, "broadcast missed the uplink");
	/* and nobody else reaches an isolated port either */
	frame_ip4(&f, I2, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 16);
	t2 = delivered(ki2);
	run_tc(F, kv1, &f);
	CHECK(delivered(ki2) == t2, "a guest reached an isolated port");
}

static void t_l4_admission(struct fabric *fb __attribute__((unused)))
{
	__u8 l4[64] = { 0 };
	struct frame f;

	l4[12] = 4 << 4;	/* TCP data offset 4 */
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_TCP, l4, 20);
	drops_as(kv1, &f, KVB_DROP_L4, "TCP data offset 4");
	l4[12] = 15 << 4;	/* data offset past the packet */
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_TCP, l4, 20);
	drops_as(kv1, &f, KVB_DROP_L4, "TCP data offset 15 in 20 bytes");
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_TCP, l4, 12);
	drops_as(kv1, &f, KVB_DROP_L4, "TCP header cut");
	udp(l4, 1, 2, 16);
	l4[5] = 40;		/* UDP length beyond the packet */
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_UDP, l4, 16);
	drops_as(kv1, &f, KVB_DROP_L4, "UDP length too large");
	memset(l4, 0, sizeof(l4));
	l4[0] = 3;		/* port unreachable quoting only 8 bytes */
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_ICMP, l4, 16);
	drops_as(kv1, &f, KVB_DROP_L4, "ICMP error with a truncated quote");
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_ICMP, l4, 36);
	passes(kv1, &f, "ICMP error quoting IP header + 8");
	memset(l4, 0, sizeof(l4));
	l4[0] = 1;		/* ICMPv6 unreachable, quote too short */
	frame_ip6(&f, PEER, V1, ADDR6, IPPROTO_ICMPV6, l4, 24);
	drops_as(kv1, &f, KVB_DROP_L4, "ICMPv6 error with a truncated quote");
}

static void t_ipv4_options_and_fragments(struct fabric *fb __attribute__((unused)))
{
	struct frame f;
	struct iphdr *ip = (struct iphdr *)(f.buf + ETH_HLEN);
	__u8 body[64] = { 0 };

	/* options: NOP x4 is refused, Router Alert alone is fine */
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_IGMP, body, 12);
	ip->ihl = 6;
	ip->tot_len = htons(32);
	memcpy((__u8 *)(ip + 1), "\x01\x01\x01\x01", 4);
	drops_as(kv1, &f, KVB_DROP_IP_OPTIONS, "IPv4 NOP options");
	memcpy((__u8 *)(ip + 1), "\x94\x04\x00\x00", 4);
	passes(kv1, &f, "IGMP with Router Alert");
	/* fragment offset 1 (8 bytes) overlaps the TCP header */
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_TCP, body, 16);
	ip->frag_off = htons(1);
	drops_as(kv1, &f, KVB_DROP_FRAG, "TCP fragment at offset 8");
	/* a later fragment carries no L4 header and is fine */
	ip->frag_off = htons(185);
	passes(kv1, &f, "TCP fragment at offset 1480");
	/* a first fragment too short for the TCP header (RFC 1858) */
	frame_ip4(&f, PEER, V1, A4(10, 0, 0, 1), IPPROTO_TCP, body, 8);
	ip->frag_off = htons(0x2000);
	drops_as(kv1, &f, KVB_DROP_L4, "tiny first TCP fragment");
}

static void t_ipv6_extension_chains(struct fabric *fb __attribute__((unused)))
{
	__u8 p[128] = { 0 };
	struct frame f;

	/* seven hop-by-hop-style headers: longer than the fabric walks */
	for (int i = 0; i < 7; i++)
		p[i * 8] = IPPROTO_DSTOPTS;
	p[6 * 8] = IPPROTO_NONE;
	frame_ip6(&f, PEER, V1, ADDR6, IPPROTO_DSTOPTS, p, 56);
	drops_as(kv1, &f, KVB_DROP_IP6_EXT, "7 extension headers");
	/* type 0 routing header */
	memset(p, 0, sizeof(p));
	p[0] = IPPROTO_NONE, p[1] = 0, p[2] = 0;
	frame_ip6(&f, PEER, V1, ADDR6, IPPROTO_ROUTING, p, 8);
	drops_as(kv1, &f, KVB_DROP_IP6_EXT, "RH0");
	/* an extension header claiming more than the packet */
	p[0] = IPPROTO_NONE, p[1] = 4;
	frame_ip6(&f, PEER, V1, ADDR6, IPPROTO_DSTOPTS, p, 16);
	drops_as(kv1, &f, KVB_DROP_IP6_EXT, "extension header past the end");
	/* hop-by-hop + fragment (later fragment) + data: fine */
	memset(p, 0, sizeof(p));
	p[0] = IPPROTO_FRAGMENT;
	p[8] = IPPROTO_TCP, p[10] = 0x05, p[11] = 0xc8;	/* offset 185 */
	frame_ip6(&f, PEER, V1, ADDR6, IPPROTO_HOPOPTS, p, 40);
	passes(kv1, &f, "hop-by-hop + later fragment");
}

/*
 * Neighbour discovery in an IPv6 fragment (RFC 6980): the guard sees the
 * first fragment's options only, so a link-layer option in a later one
 * would go unexamined. RS, RA, NS, NA and redirect are refused in any
 * fragment, an atomic one (offset 0, no more) too, counted nd-fragment,
 * even when all they carry is the port's own; other fragmented ICMPv6
 * goes. Before, the NS with its option in the first fragment passed.
 */
static void t_nd_in_fragments(struct fabric *fb __attribute__((unused)))
{
	static const __u8 types[5] = { 133, 134, 135, 136, 137 };
	static const __u8 optoff[5] = { 8, 16, 24, 24, 40 };	/* in each */
	__u8 p[56];
	struct frame f;

	for (int i = 0; i < 5; i++) {
		for (int atomic = 0; atomic < 2; atomic++) {
			__u32 o = 8 + optoff[i];

			memset(p, 0, sizeof(p));
			p[0] = IPPROTO_ICMPV6;		/* the fragment header */
			p[3] = atomic ? 0 : 1;		/* offset 0, M */
			p[7] = 0x2a;			/* its id */
			p[8] = types[i];
			if (optoff[i] >= 24)		/* NS, NA, redirect */
				memcpy(p + 16, ADDR6, 16);	/* target */
			p[o] = 1, p[o + 1] = 1;		/* our own SLLA */
			memcpy(p + o + 2, V1, 6);
			frame_ip6(&f, PEER, V1, ADDR6, IPPROTO_FRAGMENT, p,
				  o + 8);
			if (!drops_as(kv1, &f, KVB_DROP_ND_FRAGMENT,
				      "ND in a fragment"))
				printf("FAIL ... ICMPv6 type %u, %s fragment\n",
				       types[i], atomic ? "an atomic" : "a first");
		}
	}
	memset(p, 0, sizeof(p));
	p[0] = IPPROTO_ICMPV6, p[3] = 1, p[7] = 0x2b;
	p[8] = 128;	/* echo request */
	frame_ip6(&f, PEER, V1, ADDR6, IPPROTO_FRAGMENT, p, 48);
	passes(kv1, &f, "a fragmented echo request");
}

static void t_spoofcheck_off_is_trusted(struct fabric *fb __attribute__((unused)))
{
	struct frame f;
	__u8 l4[300];

	udp(l4, 67, 68, 300);
	frame_ip4(&f, BC, EVIL, A4(192, 168, 9, 9), IPPROTO_UDP, l4, 300);
	passes(ki1, &f, "appliance port sends anything");
}


/*
 * FCFS SAVI (RFC 6620) on the routed network gnet (fd79::/64): kgr (mac
 * GR) and kgs (mac GS), spoofcheck on, no addresses.
 */
static __u32 kgs;
static const __u8 GR[6] = { 0x52, 0x54, 0, 0, 0x79, 1 };
static const __u8 GS[6] = { 0x52, 0x54, 0, 0, 0x79, 2 };

/* fd79::IID, a fresh interface id from n */
static void a79(__u8 *a, __u32 n)
{
	memset(a, 0, 16);
	a[0] = 0xfd, a[1] = 0x79;
	a[8] = 0x3c, a[12] = (__u8)(n >> 24), a[13] = (__u8)(n >> 16);
	a[14] = (__u8)(n >> 8), a[15] = (__u8)n;
}

static void echo6(struct frame *f, const __u8 *mac, const __u8 *src)
{
	__u8 p[8] = { 128 };

	frame_ip6(f, PEER, mac, src, IPPROTO_ICMPV6, p, 8);
}

/* A DAD probe (NS from ::) for target, with no option */
static void dad6(struct frame *f, const __u8 *mac, const __u8 *target)
{
	__u8 p[24] = { 135 };

	memcpy(p + 8, target, 16);
	frame_ip6(f, BC, mac, UNSPEC6, IPPROTO_ICMPV6, p, 24);
}

static bool bound6(__u32 ifx, const __u8 *a, struct kvb_addr *out)
{
	struct kvb_addr_key k = { .ifindex = ifx, .family = 6 };
	struct kvb_addr v;

	memcpy(k.addr, a, 16);
	if (bpf_map_lookup_elem(F->addr_fd, &k, &v))
		return false;
	if (out)
		*out = v;
	return true;
}

static void set_binding6(__u32 ifx, const __u8 *a, const struct kvb_addr *v)
{
	struct kvb_addr_key k = { .ifindex = ifx, .family = 6 };

	memcpy(k.addr, a, 16);
	bpf_map_update_elem(F->addr_fd, &k, v, BPF_EXIST);
}

/* First use binds; the binding lives a day; a second claimant is refused. */
static void t_savi_claim_and_conflict(struct fabric *fb __attribute__((unused)))
{
	__u8 a[16], ll[16] = { 0xfe, 0x80, [8] = 0x12, 0x34, 0x56, 0x78,
			       0x9a, 0xbc, 0xde, 0xf0 };
	struct kvb_addr v;
	struct kvb_port p;
	struct frame f;
	__u64 now = now_ns();

	a79(a, 0xa1);
	echo6(&f, GR, a);
	passes(kgr, &f, "first use of a free address");
	CHECK(bound6(kgr, a, &v) && (v.flags & KVB_ADDR_F_SAVI) &&
	      v.owner == kgr &&
	      v.expires_ns >= now + (KVB_SAVI_LIFE_S - 5) * 1000000000ULL,
	      "not bound by SAVI for a day");
	CHECK(!port_get(F, kgr, &p) && p.n_savi == 1 && p.n_ip6 == 1,
	      "n_savi %u n_ip6 %u", p.n_savi, p.n_ip6);
	passes(kgr, &f, "the holder again");
	echo6(&f, GS, a);
	drops_as(kgs, &f, KVB_DROP_SAVI_CONFLICT, "second claimant's data");
	CHECK(!bound6(kgs, a, NULL), "second claimant bound");
	/* a stable-privacy link-local: any interface id, first come */
	echo6(&f, GR, ll);
	passes(kgr, &f, "a link-local that is not the MAC's");
	echo6(&f, GS, ll);
	drops_as(kgs, &f, KVB_DROP_SAVI_CONFLICT, "another port's link-local");
}

/*
 * A guest whose tap went without detach (QEMU exited, libvirt destroyed
 * the domain) holds no learned address any more: another port's data or
 * DAD probe claims it at once, and the sweep removes its bindings. Before,
 * they were refused (savi-conflict) until a changing command's gc forgot
 * the port.
 */
static void t_savi_gone_device_holds_nothing(struct fabric *fb)
{
	static const __u8 GV[6] = { 0x52, 0x54, 0, 0, 0x79, 3 };
	struct port_opts gv = { .xdp = true, .spoofcheck = true, .naddrs = 0,
				.mac = GV };
	__u8 a1[16], a2[16], a3[16];
	struct kvb_port p;
	struct frame f;
	__u32 kgv;
	bool held1, held3, gone2;

	a79(a1, 0x3101);
	a79(a2, 0x3102);
	a79(a3, 0x3103);
	CHECK(!add_veth("kgv", &kgv) &&
	      !port_attach(fb, "unit", "kgv", 9, KVB_PORT_GUEST, &gv),
	      "attach kgv");
	echo6(&f, GV, a1);
	passes(kgv, &f, "kgv's first address");
	echo6(&f, GV, a2);
	passes(kgv, &f, "kgv's second address");
	echo6(&f, GV, a3);
	passes(kgv, &f, "kgv's third address");
	echo6(&f, GS, a1);
	drops_as(kgs, &f, KVB_DROP_SAVI_CONFLICT, "kgv's address, kgv there");
	system("ip link del kgv");
	/* data from the gone guest's address: another's now */
	echo6(&f, GS, a1);
	passes(kgs, &f, "the address of a guest whose tap went");
	held1 = bound6(kgs, a1, NULL) && !bound6(kgv, a1, NULL);
	/* a DAD probe for another of them claims it */
	dad6(&f, GS, a3);
	passes(kgs, &f, "a DAD probe for the address of a guest whose tap went");
	held3 = bound6(kgs, a3, NULL);
	/* and the sweep takes the rest away */
	gone2 = wait_sweeps(F) && !bound6(kgv, a2, NULL);
	if (!port_get(fb, kgv, &p))
		port_detach(fb, "gc", &p);
	echo6(&f, GS, a1);
	CHECK(held1, "data from a gone guest's address: not bound to the new "
	      "holder");
	CHECK(held3, "a DAD probe for a gone guest's address: not bound");
	CHECK(gone2, "the sweep left a gone guest's binding");
}

/*
 * A claim that finds room for its owner entry but not for its port's
 * (the address table's last place) is refused, and leaves no owner entry
 * behind: the sweep never takes an owner entry alone, so each such
 * claim leaked a place for good.
 */
static void t_savi_full_table_leaves_no_owner(struct fabric *fb __attribute__((unused)))
{
	struct kvb_addr_key k = { .family = 6 }, ok = { .family = 6 };
	struct kvb_addr v = { .owner = 0x7ffffff0 };
	bool bound, orphan;
	struct kvb_port p;
	struct frame f;
	__u32 n;
	__u8 a[16];

	CHECK(!port_get(F, kgr, &p), "no port kgr");
	/* fill the table (entries of no port, never swept: static), then
	 * free one place */
	k.ifindex = 0x7ffffff0;
	k.addr[0] = 0x20;
	for (n = 0; n < KVB_MAX_ADDRS + 1; n++) {
		memcpy(k.addr + 12, &n, 4);
		if (bpf_map_update_elem(F->addr_fd, &k, &v, BPF_NOEXIST))
			break;
	}
	if (n) {
		n--;
		memcpy(k.addr + 12, &n, 4);
		bpf_map_delete_elem(F->addr_fd, &k);
	}
	a79(a, 0xb1);
	echo6(&f, GR, a);
	run_tc(F, kgr, &f);
	ok.net_id = (__u8)p.net_id;
	memcpy(ok.addr, a, 16);
	bound = bound6(kgr, a, NULL);
	orphan = !bpf_map_lookup_elem(F->addr_fd, &ok, &v);
	for (__u32 i = 0; i < n; i++) {
		memcpy(k.addr + 12, &i, 4);
		bpf_map_delete_elem(F->addr_fd, &k);
	}
	CHECK(n > 0 && n < KVB_MAX_ADDRS, "the table did not fill (%u)", n);
	CHECK(!bound, "bound with the table full (the fill missed)");
	CHECK(!orphan, "the refused claim left its owner entry");
}

/* Outside the network's prefixes: never bound (link-local aside). */
static void t_savi_out_of_prefix(struct fabric *fb __attribute__((unused)))
{
	__u8 a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };
	__u8 m[16] = { 0xff, 0x02, [15] = 1 };
	struct frame f;

	echo6(&f, GR, a);
	drops_as(kgr, &f, KVB_DROP_SPOOF_IP, "outside the network's prefixes");
	a[0] = 0xfd, a[1] = 0x78;
	echo6(&f, GR, a);
	drops_as(kgr, &f, KVB_DROP_SPOOF_IP, "a neighbouring prefix");
	echo6(&f, GR, m);
	drops_as(kgr, &f, KVB_DROP_SPOOF_IP, "a multicast source");
	CHECK(!bound6(kgr, a, NULL), "out-of-prefix address bound");
	/* the EUI-64 address of another port's MAC is that port's */
	a79(a, 0);
	a[8] = GR[0] ^ 2, a[9] = GR[1], a[10] = GR[2], a[11] = 0xff;
	a[12] = 0xfe, a[13] = GR[3], a[14] = GR[4], a[15] = GR[5];
	echo6(&f, GS, a);
	drops_as(kgs, &f, KVB_DROP_SAVI_CONFLICT, "another port's EUI-64 address");
}

/*
 * DAD: a probe claims a free address; another port's probe for a fresh
 * binding is refused (its holder may still be probing: DAD denial), for
 * an older one it passes (the holder answers) but its data never does.
 */
static void t_savi_dad(struct fabric *fb __attribute__((unused)))
{
	__u8 b[16];
	struct kvb_addr v;
	struct frame f;

	a79(b, 0xb2);
	dad6(&f, GS, b);
	passes(kgs, &f, "DAD probe for a free address");
	CHECK(bound6(kgs, b, &v) && (v.flags & KVB_ADDR_F_SAVI),
	      "DAD probe did not bind");
	dad6(&f, GR, b);
	nd_defended(kgr, &f, GS, b, KVB_DROP_SAVI_CONFLICT,
		    "probe while the holder probes: answered for it");
	v.learned_ns -= (KVB_SAVI_DAD_S + 1) * 1000000000ULL;
	set_binding6(kgs, b, &v);
	dad6(&f, GR, b);
	passes(kgr, &f, "probe for a settled binding (the holder answers)");
	CHECK(!bound6(kgr, b, NULL), "a probe took another port's binding");
	echo6(&f, GR, b);
	drops_as(kgr, &f, KVB_DROP_SAVI_CONFLICT, "data after the probe");
	echo6(&f, GS, b);
	passes(kgs, &f, "the holder's data");
}

/*
 * A DHCPv6 lease (the lease script's binding) stays a lease when its
 * client probes for it (DAD, as dhcpcd does after the REPLY) and uses
 * it: before, the probe made it a SAVI binding of a day, which outlived
 * the lease's end and its release. An ended lease is a first claim again.
 */
static void t_savi_dad_keeps_lease(struct fabric *fb __attribute__((unused)))
{
	struct kvb_addr_key k = { .family = 6 };
	__u64 now = now_ns();
	struct kvb_port p;
	struct kvb_addr v;
	struct frame f;
	__u32 nsavi;
	__u8 a[16];

	a79(a, 0xd6);
	memcpy(k.addr, a, 16);
	CHECK(!port_get(F, kgr, &p), "port");
	nsavi = p.n_savi;
	CHECK(!port_addr_lease(F, &p, k, true, now + 3600 * 1000000000ULL),
	      "lease");
	dad6(&f, GR, a);
	passes(kgr, &f, "the client's DAD probe for its lease");
	echo6(&f, GR, a);
	passes(kgr, &f, "the client's data from its lease");
	CHECK(bound6(kgr, a, &v) && v.flags == KVB_ADDR_F_DHCP &&
	      v.expires_ns == now + 3600 * 1000000000ULL,
	      "the probe made the lease flags %u, expires in %lld s", v.flags,
	      (long long)(v.expires_ns - now) / 1000000000LL);
	CHECK(!port_get(F, kgr, &p) && p.n_savi == nsavi, "n_savi %u, was %u",
	      p.n_savi, nsavi);
	CHECK(!port_addr_lease(F, &p, k, false, 0) && !bound6(kgr, a, NULL),
	      "the release left the binding");
	/* an ended lease, still used: a first claim, counted as one */
	CHECK(!port_addr_lease(F, &p, k, true, now + 1000000000ULL), "lease");
	CHECK(bound6(kgr, a, &v), "lease");
	v.expires_ns = now - 1;
	set_binding6(kgr, a, &v);
	dad6(&f, GR, a);
	passes(kgr, &f, "a probe for an ended lease");
	CHECK(bound6(kgr, a, &v) && v.flags == KVB_ADDR_F_SAVI,
	      "flags %u", v.flags);
	CHECK(!port_get(F, kgr, &p) && p.n_savi == nsavi + 1,
	      "n_savi %u, was %u", p.n_savi, nsavi);
	v.expires_ns = 1;	/* ended: the next sweep takes it */
	set_binding6(kgr, a, &v);
}

/* Use refreshes; an ended binding is free for another port. */
static void t_savi_refresh_and_age(struct fabric *fb __attribute__((unused)))
{
	__u8 a[16], c[16];
	struct kvb_addr v;
	struct kvb_port p;
	struct frame f;

	a79(a, 0xa1);		/* kgr's, t_savi_claim_and_conflict */
	CHECK(bound6(kgr, a, &v), "kgr lost fd79::...a1");
	v.expires_ns = now_ns() + 3600ULL * 1000000000ULL;
	set_binding6(kgr, a, &v);
	echo6(&f, GR, a);
	passes(kgr, &f, "use");
	CHECK(bound6(kgr, a, &v) &&
	      v.expires_ns > now_ns() + (KVB_SAVI_LIFE_S - 5) * 1000000000ULL,
	      "use did not refresh the binding");
	/* unused for its lifetime: gone, and another port may claim it */
	v.expires_ns = now_ns() - 1000000000ULL;
	set_binding6(kgr, a, &v);
	echo6(&f, GS, a);
	passes(kgs, &f, "an ended binding's address, claimed by another port");
	CHECK(bound6(kgs, a, NULL) && !bound6(kgr, a, NULL),
	      "the address did not move");
	echo6(&f, GR, a);
	drops_as(kgr, &f, KVB_DROP_SAVI_CONFLICT, "the old holder");
	/* the sweep removes an ended binding and its count */
	a79(c, 0xc1);
	echo6(&f, GR, c);
	passes(kgr, &f, "claim .c1");
	CHECK(bound6(kgr, c, &v), ".c1 not bound");
	v.expires_ns = now_ns() - 1000000000ULL;
	set_binding6(kgr, c, &v);
	/* the sweep (a timer, on any CPU) deletes the binding, then
	 * gives its count back: both are waited for */
	for (int i = 0; i < 100 && (bound6(kgr, c, NULL) ||
				    port_get(F, kgr, &p) || p.n_savi != 1); i++)
		usleep(100000);
	CHECK(!bound6(kgr, c, NULL), "ended binding never swept");
	CHECK(!port_get(F, kgr, &p) && p.n_savi == 1,
	      "kgr n_savi %u after the sweep (its link-local is left)",
	      p.n_savi);
}

/* an NA from src for target, solicited, with no option */
static void na6(struct frame *f, const __u8 *mac, const __u8 *src,
		const __u8 *target)
{
	__u8 p[24] = { 136, 0, 0, 0, 0x60 };

	memcpy(p + 8, target, 16);
	frame_ip6(f, PEER, mac, src, IPPROTO_ICMPV6, p, 24);
}

/* pfx (fe80:: or fd79::) with the modified EUI-64 interface id of mac */
static void eui64_of(__u8 *a, const __u8 *pfx, const __u8 *mac)
{
	memset(a, 0, 16);
	a[0] = pfx[0], a[1] = pfx[1];
	a[8] = mac[0] ^ 2, a[9] = mac[1], a[10] = mac[2], a[11] = 0xff;
	a[12] = 0xfe, a[13] = mac[3], a[14] = mac[4], a[15] = mac[5];
}

/*
 * A stopped VM's EUI-64 addresses (its MAC owned by no port: its tap was
 * detached) claimed by another guest are the VM's again once it is back:
 * attach with its MAC ends the claimant's bindings of them, so that the
 * claimant cannot answer the VM's DAD probe (spoof-nd) nor send from them
 * (savi-conflict). Before, the claimant kept them alive and the VM's
 * link-local failed its duplicate detection.
 */
static void t_savi_mac_back_takes_eui64(struct fabric *fb __attribute__((unused)))
{
	static const __u8 GT[6] = { 0x52, 0x54, 0, 0, 0x79, 3 };
	static const __u8 ll[2] = { 0xfe, 0x80 }, g[2] = { 0xfd, 0x79 };
	struct port_opts gt = { .xdp = true, .spoofcheck = true, .naddrs = 0,
				.mac = GT };
	__u8 llt[16], gl[16], lls[16];
	struct kvb_port p;
	struct frame f;
	__u32 kgt, n0;

	eui64_of(llt, ll, GT);
	eui64_of(gl, g, GT);
	eui64_of(lls, ll, GS);
	CHECK(!port_get(F, kgs, &p), "kgs");
	n0 = p.n_savi;
	echo6(&f, GS, llt);
	passes(kgs, &f, "the EUI-64 link-local of a MAC no port owns");
	echo6(&f, GS, gl);
	passes(kgs, &f, "the EUI-64 address of a MAC no port owns");
	CHECK(bound6(kgs, llt, NULL) && bound6(kgs, gl, NULL), "not bound");
	CHECK(!add_veth("kgt", &kgt) &&
	      !port_attach(F, "unit", "kgt", 9, KVB_PORT_GUEST, &gt), "attach");
	CHECK(!bound6(kgs, llt, NULL) && !bound6(kgs, gl, NULL),
	      "the claimant kept the MAC owner's EUI-64 addresses");
	CHECK(!port_get(F, kgs, &p) && p.n_savi == n0, "kgs n_savi %u, was %u",
	      p.n_savi, n0);
	dad6(&f, GT, llt);
	passes(kgt, &f, "the owner's DAD probe for its link-local");
	na6(&f, GS, lls, llt);
	drops_as(kgs, &f, KVB_DROP_SPOOF_ND, "the claimant's NA for it");
	echo6(&f, GS, llt);
	drops_as(kgs, &f, KVB_DROP_SAVI_CONFLICT, "the claimant's data from it");
	echo6(&f, GT, gl);
	passes(kgt, &f, "the owner's data from its EUI-64 address");
	CHECK(!port_get(F, kgt, &p) && !port_detach(F, "unit", &p), "detach");
	system("ip link del kgt");
}

/*
 * A LAN host's MAC (learnt on the uplink) takes no guest's binding away:
 * kv2's link-local with the EUI-64 interface id of a MAC nobody owned
 * stays kv2's after that MAC is heard from the LAN. Only a port's own MAC
 * (static, or a spoofcheck guest's) does (the tests around). Before, one
 * LAN frame from that MAC every 300 s kept the guest's address refused.
 */
static void t_savi_lan_mac_keeps_claim(struct fabric *fb __attribute__((unused)))
{
	static const __u8 LANM[6] = { 0x52, 0x54, 0, 0, 0x79, 9 };
	static const __u8 ll[2] = { 0xfe, 0x80 };
	__u8 lla[16], l4[8] = { 8 };
	struct frame f;

	eui64_of(lla, ll, LANM);
	echo6(&f, V2, lla);
	passes(kv2, &f, "a link-local with a free MAC's EUI-64 id");
	frame_ip4(&f, BC, LANM, inet_addr("10.1.0.99"), IPPROTO_ICMP, l4, 8);
	run_tc(F, unit_uplink, &f);	/* the LAN host's frame: learnt */
	echo6(&f, V2, lla);
	passes(kv2, &f, "the same after a LAN host's frame from that MAC");
	unbind6(kv2, lla);
}

/*
 * The same for a MAC pinned from a port's first frame (no configured
 * MAC): the claimant's binding ends at its next use (its NA for the
 * link-local: spoof-nd), and the owner's own claim of its EUI-64 address
 * takes it from a claimant that stays silent.
 */
static void t_savi_pinned_mac_takes_eui64(struct fabric *fb __attribute__((unused)))
{
	static const __u8 GP[6] = { 0x52, 0x54, 0, 0, 0x79, 4 };
	static const __u8 ll[2] = { 0xfe, 0x80 }, g[2] = { 0xfd, 0x79 };
	struct port_opts gp = { .xdp = true, .spoofcheck = true, .naddrs = 0 };
	__u8 llp[16], gl[16], lls[16];
	struct kvb_port p;
	struct frame f;
	__u32 kgp;

	eui64_of(llp, ll, GP);
	eui64_of(gl, g, GP);
	eui64_of(lls, ll, GS);
	CHECK(!add_veth("kgp", &kgp) &&
	      !port_attach(F, "unit", "kgp", 9, KVB_PORT_GUEST, &gp), "attach");
	echo6(&f, GS, llp);
	passes(kgs, &f, "the EUI-64 link-local of a MAC no port owns");
	echo6(&f, GS, gl);
	passes(kgs, &f, "the EUI-64 address of a MAC no port owns");
	dad6(&f, GP, llp);
	passes(kgp, &f, "the first frame: its MAC is pinned");
	CHECK(!port_get(F, kgp, &p) && !memcmp(p.mac, GP, 6), "not pinned");
	na6(&f, GS, lls, llp);
	drops_as(kgs, &f, KVB_DROP_SPOOF_ND, "the claimant's NA for it");
	CHECK(!bound6(kgs, llp, NULL), "the claimant kept the link-local");
	echo6(&f, GP, gl);
	passes(kgp, &f, "the owner's data from its EUI-64 address");
	CHECK(bound6(kgp, gl, NULL) && !bound6(kgs, gl, NULL),
	      "the owner's claim did not take its EUI-64 address");
	echo6(&f, GS, gl);
	drops_as(kgs, &f, KVB_DROP_SAVI_CONFLICT, "the claimant's data from it");
	CHECK(!port_get(F, kgp, &p) && !port_detach(F, "unit", &p), "detach");
	system("ip link del kgp");
}

/* At most KVB_SAVI_MAX bindings a port; the rest counted, others unaffected. */
static void t_savi_cap(struct fabric *fb __attribute__((unused)))
{
	struct kvb_port p;
	struct frame f;
	__u8 a[16];
	__u32 n0;

	CHECK(!port_get(F, kgr, &p), "kgr");
	n0 = p.n_savi;
	for (__u32 i = 0; i < KVB_SAVI_MAX - n0; i++) {
		a79(a, 0x1000 + i);
		echo6(&f, GR, a);
		passes(kgr, &f, "within the cap");
	}
	for (__u32 i = 0; i < 4; i++) {
		a79(a, 0x2000 + i);
		echo6(&f, GR, a);
		drops_as(kgr, &f, KVB_DROP_SAVI_CAP, "past the cap");
		CHECK(!bound6(kgr, a, NULL), "bound past the cap");
	}
	CHECK(!port_get(F, kgr, &p) && p.n_savi == KVB_SAVI_MAX,
	      "n_savi %u", p.n_savi);
	a79(a, 0x1000);
	echo6(&f, GR, a);
	passes(kgr, &f, "a bound address at the cap");
	a79(a, 0x3000);
	echo6(&f, GS, a);
	passes(kgs, &f, "another port still claims");
}

/* One whole sweep from now (wait_sweeps), or the test fails. */
static void sweep_once(void)
{
	CHECK(wait_sweeps(F), "the sweep did not run");
}

/* kgr's SAVI binding of a made idle: last used KVB_SAVI_IDLE_S + 60 ago */
static void idle6(const __u8 *a)
{
	struct kvb_addr v;

	CHECK(bound6(kgr, a, &v), "not bound");
	v.expires_ns = now_ns() +
		       (KVB_SAVI_LIFE_S - KVB_SAVI_IDLE_S - 60) * 1000000000ULL;
	set_binding6(kgr, a, &v);
}

/*
 * A guest at its cap gets room from its own idle bindings: the sweep ends
 * those unused for KVB_SAVI_IDLE_S while it holds more than KVB_SAVI_MAX -
 * KVB_SAVI_ROOM, and no more; bindings in use are never ended (a 33rd
 * address is refused while all 32 are used). Before, a guest that
 * rebooted a few times (new temporary addresses each boot, the old ones
 * bound a day) had its newest address refused savi-cap for a day.
 */
static void t_savi_cap_makes_room(struct fabric *fb __attribute__((unused)))
{
	bool used[KVB_SAVI_MAX] = { false };
	struct kvb_port p;
	struct frame f;
	__u8 a[16];

	CHECK(!port_get(F, kgr, &p) && p.n_savi == KVB_SAVI_MAX, "n_savi %u",
	      p.n_savi);
	sweep_once();
	CHECK(!port_get(F, kgr, &p) && p.n_savi == KVB_SAVI_MAX,
	      "the sweep ended bindings in use: n_savi %u", p.n_savi);
	a79(a, 0x2000);
	echo6(&f, GR, a);
	drops_as(kgr, &f, KVB_DROP_SAVI_CAP, "a 33rd while 32 are in use");
	/* one idle: it alone goes, and the new address is bound */
	a79(a, 0x1001);
	idle6(a);
	sweep_once();
	CHECK(!bound6(kgr, a, NULL), "the idle binding stayed");
	CHECK(!port_get(F, kgr, &p) && p.n_savi == KVB_SAVI_MAX - 1,
	      "n_savi %u", p.n_savi);
	a79(a, 0x2000);
	echo6(&f, GR, a);
	passes(kgr, &f, "a new address once an idle one made room");
	/* six idle: they go until the guest holds MAX - ROOM, no more */
	for (__u32 i = 0; i < KVB_SAVI_MAX; i++) {
		a79(a, 0x1000 + i);
		used[i] = (i < 2 || i >= 8) && bound6(kgr, a, NULL);
		if (i >= 2 && i < 8)
			idle6(a);
	}
	sweep_once();
	CHECK(!port_get(F, kgr, &p) &&
	      p.n_savi == KVB_SAVI_MAX - KVB_SAVI_ROOM,
	      "n_savi %u, want %u", p.n_savi, KVB_SAVI_MAX - KVB_SAVI_ROOM);
	for (__u32 i = 0; i < KVB_SAVI_MAX; i++) {
		a79(a, 0x1000 + i);
		CHECK(!used[i] || bound6(kgr, a, NULL),
		      "a binding in use ended: .%x", 0x1000 + i);
	}
	a79(a, 0x2000);
	CHECK(bound6(kgr, a, NULL), "a binding in use ended: .2000");
}

/* savi off: only static addresses and the MAC's link-local. */
static void t_savi_off(struct fabric *fb __attribute__((unused)))
{
	struct kvb_port p;
	struct frame f;
	__u8 a[16], ll[16] = { 0xfe, 0x80, [8] = GS[0] ^ 2, GS[1], GS[2],
			       0xff, 0xfe, GS[3], GS[4], GS[5] };

	CHECK(!port_get(F, kgs, &p), "kgs");
	p.flags |= KVB_PORT_F_SAVI_OFF;
	CHECK(!bpf_map_update_elem(F->port_fd, &kgs, &p, BPF_EXIST), "set");
	a79(a, 0xd1);
	echo6(&f, GS, a);
	drops_as(kgs, &f, KVB_DROP_SPOOF_IP, "savi off: a new address");
	echo6(&f, GS, ll);
	passes(kgs, &f, "savi off: the MAC's link-local");
	p.flags &= ~KVB_PORT_F_SAVI_OFF;
	CHECK(!bpf_map_update_elem(F->port_fd, &kgs, &p, BPF_EXIST), "unset");
}

/* detach releases a port's bindings: the address is claimable at once. */
static void t_savi_released_at_detach(struct fabric *fb __attribute__((unused)))
{
	struct kvb_port p;
	struct frame f;
	__u8 a[16];

	a79(a, 0x3000);		/* kgs's, t_savi_cap */
	echo6(&f, GR, a);
	drops_as(kgr, &f, KVB_DROP_SAVI_CONFLICT, "kgs's address");
	CHECK(!port_get(F, kgs, &p) && !port_detach(F, "unit", &p), "detach");
	CHECK(!bound6(kgs, a, NULL), "binding left after detach");
	a79(a, 0x1000);		/* kgr is at its cap: free one slot */
	CHECK(!port_get(F, kgr, &p), "kgr");
	{
		struct kvb_addr v;

		CHECK(bound6(kgr, a, &v), "kgr's .1000");
		v.expires_ns = now_ns() - 1000000000ULL;
		set_binding6(kgr, a, &v);
	}
	for (int i = 0; i < 100 && bound6(kgr, a, NULL); i++)
		usleep(100000);
	a79(a, 0x3000);
	echo6(&f, GR, a);
	passes(kgr, &f, "a detached port's address, claimed");
}

int guard_tests(struct fabric *fb)
{
	struct port_opts v1 = { .xdp = true, .spoofcheck = true, .mac = V1,
				.naddrs = 2 };
	struct port_opts v2 = { .xdp = true, .spoofcheck = true, .naddrs = -1 };
	struct port_opts iso = { .xdp = true, .isolated = true, .naddrs = -1 };
	int nfail = 0;

	F = fb;
	if (parse_addr("10.0.0.1", &v1.addrs[0]) ||
	    parse_addr("fd00::1", &v1.addrs[1]) || add_veth("kv1", &kv1) ||
	    add_veth("kv2", &kv2) || add_veth("kv3", &kv3) ||
	    add_veth("ki1", &ki1) ||
	    add_veth("ki2", &ki2) ||
	    port_attach(fb, "unit", "kv1", 1, KVB_PORT_GUEST, &v1) ||
	    port_attach(fb, "unit", "kv2", 1, KVB_PORT_GUEST, &v2) ||
	    port_attach(fb, "unit", "kv3", 1, KVB_PORT_GUEST, &v2) ||
	    port_attach(fb, "unit", "ki1", 1, KVB_PORT_GUEST, &iso) ||
	    port_attach(fb, "unit", "ki2", 1, KVB_PORT_GUEST, &iso)) {
		printf("FAIL guard setup: cannot attach the guard test ports\n");
		return 1;
	}
	RUN(t_spoof_source_mac);
	RUN(t_spoof_ipv4);
	RUN(t_configured_ipv4_shortcut);
	RUN(t_ipv4_router_advertisement);
	RUN(t_spoof_arp);
	RUN(t_spoof_ipv6);
	RUN(t_rogue_dhcp_server_any_port);
	RUN(t_spoof_nd);
	RUN(t_nd_every_option);
	RUN(t_rs_and_dad_options);
	RUN(t_dhcp_client_whole_only);
	RUN(t_mac_pinned_from_first_frame);
	RUN(t_mac_of_another_port_never_taken);
	RUN(t_dhcp_snooping);
	RUN(t_dhcp_lease_moved);
	RUN(t_dhcp_lease_released);
	RUN(t_dhcp4_lease_cap);
	RUN(t_dhcp_lease_declined);
	RUN(t_dhcp4_read_as_the_server);
	RUN(t_dhcp_static_never_leased);
	RUN(t_dhcp_lease_ends);
	RUN(t_unheld_port_never_takes_anothers_ipv4);
	RUN(t_port_store_keeps_datapath_writes);
	RUN(t_port_set_mac_drops_a_pin_made_meanwhile);
	RUN(t_mac_of_the_lan_never_pinned);
	RUN(t_savi_bridge_learns_ra_prefixes);
	RUN(t_savi_ra_two_hour_rule);
	RUN(t_savi_prefix_table_full);
	RUN(t_lan_router_address_never_claimed);
	RUN(t_host_new_address_held);
	RUN(t_dhcp6_reply_leases);
	RUN(t_dhcp6_lease_cap);
	RUN(t_dhcp_unasked_ack_binds_nothing);
	RUN(t_dhcp6_unasked_reply_binds_nothing);
	RUN(t_dhcp_lease_cap);
	RUN(t_dhcp6_lease_released);
	RUN(t_dhcp_cross_family_forgery);
	RUN(t_xdp_drop_counted_received);
	RUN(t_isolated_ports);
	RUN(t_l4_admission);
	RUN(t_ipv4_options_and_fragments);
	RUN(t_ipv6_extension_chains);
	RUN(t_nd_in_fragments);
	RUN(t_spoofcheck_off_is_trusted);

	struct port_opts gr = { .xdp = true, .spoofcheck = true, .naddrs = 0,
				.mac = (const __u8 *)"\x52\x54\x00\x00\x79\x01" };

	gnet.id = 9;
	gnet.type = KVB_NET_ROUTED;
	gnet.mtu = 1500;
	snprintf(gnet.name, sizeof(gnet.name), "gr");
	if (subnet_parse("10.79.0.0/24", &gnet.subnets[gnet.nsubnets++]) ||
	    subnet_parse("fd79::/64", &gnet.subnets[gnet.nsubnets++]) ||
	    subnets_gateways(gnet.subnets, (int)gnet.nsubnets, NULL, 0) ||
	    net_put(fb, &gnet) || gateway_create(fb, &gnet) ||
	    net_get(fb, 9, &gnet) || add_veth("kgr", &kgr) ||
	    port_attach(fb, "unit", "kgr", 9, KVB_PORT_GUEST, &gr)) {
		printf("FAIL guard setup: routed network\n");
		return nfail + 1;
	}
	RUN(t_routed_guest_never_the_gateway);
	RUN(t_gateway_host_link_local_to_no_guest);

	struct port_opts gs = { .xdp = true, .spoofcheck = true, .naddrs = 0,
				.mac = GS };

	if (add_veth("kgs", &kgs) ||
	    port_attach(fb, "unit", "kgs", 9, KVB_PORT_GUEST, &gs)) {
		printf("FAIL guard setup: kgs\n");
		return nfail + 1;
	}
	RUN(t_savi_claim_and_conflict);
	RUN(t_savi_gone_device_holds_nothing);
	RUN(t_savi_full_table_leaves_no_owner);
	RUN(t_savi_out_of_prefix);
	RUN(t_savi_dad);
	RUN(t_savi_dad_keeps_lease);
	RUN(t_savi_refresh_and_age);
	RUN(t_savi_mac_back_takes_eui64);
	RUN(t_savi_lan_mac_keeps_claim);
	RUN(t_savi_pinned_mac_takes_eui64);
	RUN(t_savi_cap);
	RUN(t_savi_cap_makes_room);
	RUN(t_savi_off);
	RUN(t_savi_released_at_detach);
	gateway_delete(9);
	return nfail;
}
