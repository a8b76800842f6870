// SPDX-License-Identifier: MIT
/*
 * Overlay unit tests (networks that span hosts, bpf/lib/overlay.h): the
 * network is made by the library as `net add ovl type bridge vni 4242
 * vtep 192.0.2.1 vtep 192.0.2.2 mtu 1400` makes it, which creates the
 * fabric's VXLAN device in the private namespace; ko1 and ko2 are its
 * guests (ko3 one with spoofcheck and no mac), the vteps are reached through kul. A MAC behind another host is planted in the MAC table as the
 * tunnel would have taught it.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "unit.h"

static const __u8 O1[6] = { 0x02, 0, 0, 0, 0x0c, 0x01 };
static const __u8 R1[6] = { 0x02, 0, 0, 0, 0x0c, 0x51 };
static const __u8 R2[6] = { 0x02, 0, 0, 0, 0x0c, 0x52 };
static const __u8 R3[6] = { 0x02, 0, 0, 0, 0x0c, 0x53 };
static const __u8 ZERO[6];
static const __u8 BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static __u32 ko1, ko2, ko3, kul, ovl;
static struct kvb_net on;

/* mac behind host 192.0.2.1, as a frame from the tunnel teaches it */
static int plant_remote(struct fabric *fb, const __u8 *mac)
{
	struct kvb_fdb_entry e = { .ifindex = ovl, .flags = KVB_FDB_F_REMOTE,
				   .seen_ns = clock_mono_ns(),
				   .remote = { .family = 4,
					       .addr = { 192, 0, 2, 1 } } };
	struct kvb_fdb_key k = { .net_id = on.id };

	memcpy(k.mac, mac, 6);
	return bpf_map_update_elem(fb->fdb_fd, &k, &e, BPF_ANY);
}

static void t_ovl_remote_unicast_goes_into_the_tunnel(struct fabric *fb)
{
	__u64 t0 = port_stats(fb, ovl).tx_packets, g0 =
		port_stats(fb, ko2).tx_packets;
	struct frame f;
	int ret;

	CHECK(!plant_remote(fb, R1), "cannot plant the remote entry");
	frame_udp4(&f, R1, O1, 32);
	ret = run_tc(fb, ko1, &f);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d, want redirect", ret);
	CHECK(port_stats(fb, ovl).tx_packets == t0 + 1,
	      "not sent to the VXLAN device");
	CHECK(port_stats(fb, ko2).tx_packets == g0, "flooded locally too");
}

static void t_ovl_flood_once_to_every_vtep(struct fabric *fb)
{
	__u64 t0 = port_stats(fb, ovl).tx_packets, g0 =
		port_stats(fb, ko2).tx_packets;
	struct frame f;
	int ret;

	frame_udp4(&f, BCAST, O1, 32);
	ret = run_tc(fb, ko1, &f);
	CHECK(ret == TC_ACT_SHOT, "verdict %d, want consumed", ret);
	CHECK(port_stats(fb, ko2).tx_packets == g0 + 1, "no local copy");
	CHECK(port_stats(fb, ovl).tx_packets == t0 + 2,
	      "%llu copies into the tunnel, want one a vtep (2)",
	      (unsigned long long)(port_stats(fb, ovl).tx_packets - t0));
}

static void t_ovl_no_tunnel_key_is_dropped(struct fabric *fb)
{
	__u64 d0 = port_stats(fb, ovl).drop[KVB_DROP_OVL_PEER], g0 =
		port_stats(fb, ko1).tx_packets;
	struct frame f;
	int ret;

	/* BPF_PROG_RUN carries no tunnel metadata: no sender to trust */
	frame_udp4(&f, BCAST, R1, 32);
	ret = run_tc(fb, ovl, &f);
	CHECK(ret == TC_ACT_SHOT, "verdict %d, want drop", ret);
	CHECK(port_stats(fb, ovl).drop[KVB_DROP_OVL_PEER] == d0 + 1,
	      "not counted overlay-unknown-peer");
	CHECK(port_stats(fb, ko1).tx_packets == g0, "delivered anyway");
}

static void t_ovl_local_port_takes_a_remote_mac(struct fabric *fb)
{
	struct kvb_fdb_entry e;
	struct frame f;

	CHECK(!plant_remote(fb, R1), "cannot plant the remote entry");
	/* the guest came here (migration): its first frame moves it */
	frame_udp4(&f, O1, R1, 32);
	run_tc(fb, ko2, &f);
	CHECK(fdb_entry(fb, on.id, R1, &e) && e.ifindex == ko2 &&
	      !(e.flags & KVB_FDB_F_REMOTE),
	      "still behind the other host (ifindex %u flags %u)", e.ifindex,
	      e.flags);
}

/*
 * A guest of another host heard from less than 300 s ago owns its MAC
 * here too: a spoofcheck guest without a mac sending it pins nothing
 * (another host's guest would lose its frames to a static entry here,
 * which the tunnel never moves back) and is refused as spoof-mac. A
 * guest that migrated here is attached with its mac, which takes the
 * entry over.
 */
static void t_ovl_remote_mac_is_not_pinned(struct fabric *fb)
{
	struct port_opts m = { .mac = R3, .spoofcheck = true, .naddrs = -1 };
	__u64 d0 = port_stats(fb, ko3).drop[KVB_DROP_SPOOF_MAC];
	struct kvb_fdb_entry e = { 0 };
	struct kvb_port p;
	struct frame f;
	__u32 ko4;
	int ret, moved;

	CHECK(!plant_remote(fb, R2), "cannot plant the remote entry");
	frame_udp4(&f, BCAST, R2, 32);
	ret = run_tc(fb, ko3, &f);
	CHECK(!port_get(fb, ko3, &p), "no ko3");
	CHECK(ret == TC_ACT_SHOT, "verdict %d, want drop", ret);
	CHECK(!memcmp(p.mac, ZERO, 6) && !(p.flags & KVB_PORT_F_MAC_PINNED),
	      "a live remote guest's MAC pinned by a local guest");
	CHECK(fdb_entry(fb, on.id, R2, &e) && (e.flags & KVB_FDB_F_REMOTE),
	      "the remote entry was taken (ifindex %u flags %u)", e.ifindex,
	      e.flags);
	CHECK(port_stats(fb, ko3).drop[KVB_DROP_SPOOF_MAC] == d0 + 1,
	      "not counted as spoof-mac");
	/* migration: the new host's attach with mac takes the entry */
	CHECK(!plant_remote(fb, R3), "cannot plant the remote entry");
	CHECK(!add_veth("ko4", &ko4), "no ko4");
	ret = port_attach(fb, "unit", "ko4", on.id, KVB_PORT_GUEST, &m);
	moved = fdb_entry(fb, on.id, R3, &e) && e.ifindex == ko4 &&
		(e.flags & KVB_FDB_F_STATIC) && !(e.flags & KVB_FDB_F_REMOTE);
	if (!port_get(fb, ko4, &p))
		port_detach(fb, "unit", &p);
	system("ip link del ko4");
	CHECK(!ret, "attach with the remote guest's mac failed");
	CHECK(moved, "attach with mac did not take the remote entry");
}

/*
 * inner, as host 192.0.2.1 tunnels it in VNI 4242: written onto kul's
 * peer, so that the kernel's VXLAN device decapsulates it and tc ingress
 * on it reads the real tunnel key (BPF_PROG_RUN carries none). 0 when
 * sent.
 */
static int send_from_vtep(const struct frame *inner)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET,
				  .sll_ifindex = (int)if_nametoindex("kulp"),
				  .sll_halen = 6 };
	__u8 pkt[1600] = { 0 }, *ip = pkt + 14, *udp = ip + 20, *vx = udp + 8;
	__u16 ulen = (__u16)(8 + 8 + inner->len), c;
	int fd, ret;

	if (dev_get_mac("kul", pkt) || inner->len > sizeof(pkt) - 50)
		return -1;
	memcpy(to.sll_addr, pkt, 6);
	pkt[6] = 0x02, pkt[11] = 0x01;
	pkt[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (__u8)((20 + ulen) >> 8), ip[3] = (__u8)(20 + ulen);
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, (__u8[]){ 192, 0, 2, 1 }, 4);
	memcpy(ip + 16, (__u8[]){ 192, 0, 2, 254 }, 4);
	c = csum_fold16(sum16(ip, 20, 0));
	ip[10] = (__u8)(c >> 8), ip[11] = (__u8)c;
	udp[0] = 0x30, udp[1] = 0x39;	/* 12345; no UDP checksum (IPv4) */
	udp[2] = 0x12, udp[3] = 0xb5;	/* 4789 */
	udp[4] = (__u8)(ulen >> 8), udp[5] = (__u8)ulen;
	vx[0] = 0x08;			/* a VNI follows */
	vx[4] = 0, vx[5] = 0x10, vx[6] = 0x92;	/* 4242 */
	memcpy(vx + 8, inner->buf, inner->len);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		return -1;
	ret = sendto(fd, pkt, 50 + inner->len, 0, (struct sockaddr *)&to,
		     sizeof(to)) < 0;
	close(fd);
	return ret ? -1 : 0;
}

/*
 * The LAN router's MAC, learned behind the uplink less than 300 s ago,
 * stays there when a guest of another host sends it: it does not move
 * into the tunnel (every local guest's frames to their default gateway
 * would follow it). A MAC nobody here holds is learned as remote from
 * the same kind of frame, which shows the tunnel's frames arrive.
 */
static void t_ovl_lan_mac_stays_on_the_uplink(struct fabric *fb)
{
	static const __u8 LR[6] = { 0x02, 0, 0, 0, 0x0c, 0xa1 };
	static const __u8 R4[6] = { 0x02, 0, 0, 0, 0x0c, 0x54 };
	struct port_opts u = { .naddrs = -1 };
	struct kvb_fdb_entry lan = { .seen_ns = clock_mono_ns() }, e = { 0 };
	struct kvb_fdb_key k = { .net_id = on.id };
	struct kvb_port p;
	struct frame f;
	__u32 kou;
	bool seen = false, stayed;

	CHECK(!add_veth("kou", &kou) &&
	      !port_attach(fb, "unit", "kou", on.id, KVB_PORT_UPLINK, &u),
	      "attach the uplink kou");
	lan.ifindex = kou;
	memcpy(k.mac, LR, 6);
	CHECK(!bpf_map_update_elem(fb->fdb_fd, &k, &lan, BPF_ANY),
	      "cannot plant the LAN router's entry");
	frame_udp4(&f, BCAST, LR, 32);
	CHECK(!send_from_vtep(&f), "cannot send into kulp");
	frame_udp4(&f, BCAST, R4, 32);
	CHECK(!send_from_vtep(&f), "cannot send into kulp");
	/* the frames are handled in order: once R4 is learned, LR was seen */
	for (int w = 0; w < 20 && !seen; w++) {
		usleep(50000);
		seen = fdb_entry(fb, on.id, R4, &e) &&
		       (e.flags & KVB_FDB_F_REMOTE);
	}
	stayed = fdb_entry(fb, on.id, LR, &e) && e.ifindex == kou &&
		 !(e.flags & KVB_FDB_F_REMOTE);
	fdb_del(fb, on.id, LR);
	fdb_del(fb, on.id, R4);
	if (!port_get(fb, kou, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kou");
	CHECK(seen, "no frame from the tunnel arrived (R4 not learned)");
	CHECK(stayed, "the LAN router's MAC moved into the tunnel (ifindex "
	      "%u flags %u)", e.ifindex, e.flags);
}

/*
 * A DHCP host reservation's MAC (a static entry of no port,
 * KVB_FDB_F_RESERVED) stays the reservation's when a guest of another
 * host sends from it: the tunnel's learning does not take it over (it
 * would age out from there and leave the MAC to the first local guest
 * that pins it), and a local guest without a mac still cannot pin it.
 * A MAC nobody holds is learned from the same kind of frame.
 */
static void t_ovl_reserved_mac_stays_reserved(struct fabric *fb)
{
	static const __u8 RV[6] = { 0x02, 0, 0, 0, 0x0c, 0xb1 };
	static const __u8 R5[6] = { 0x02, 0, 0, 0, 0x0c, 0x55 };
	struct kvb_fdb_entry rsv = { .flags = KVB_FDB_F_STATIC |
					      KVB_FDB_F_RESERVED },
			     e = { 0 };
	struct kvb_fdb_key k = { .net_id = on.id };
	struct kvb_port p;
	struct frame f;
	bool seen = false, stayed, pinned;
	int ret;

	memcpy(k.mac, RV, 6);
	CHECK(!bpf_map_update_elem(fb->fdb_fd, &k, &rsv, BPF_ANY),
	      "cannot plant the reservation's entry");
	frame_udp4(&f, BCAST, RV, 32);
	CHECK(!send_from_vtep(&f), "cannot send into kulp");
	frame_udp4(&f, BCAST, R5, 32);
	CHECK(!send_from_vtep(&f), "cannot send into kulp");
	for (int w = 0; w < 20 && !seen; w++) {
		usleep(50000);
		seen = fdb_entry(fb, on.id, R5, &e) &&
		       (e.flags & KVB_FDB_F_REMOTE);
	}
	stayed = fdb_entry(fb, on.id, RV, &e) && !e.ifindex &&
		 (e.flags & KVB_FDB_F_RESERVED) &&
		 !(e.flags & KVB_FDB_F_REMOTE);
	/* ko3: spoofcheck, no mac */
	frame_udp4(&f, BCAST, RV, 32);
	ret = run_tc(fb, ko3, &f);
	pinned = !port_get(fb, ko3, &p) && !memcmp(p.mac, RV, 6);
	fdb_del(fb, on.id, RV);
	fdb_del(fb, on.id, R5);
	CHECK(seen, "no frame from the tunnel arrived (R5 not learned)");
	CHECK(stayed, "the reserved MAC was learned from the tunnel (ifindex "
	      "%u flags %u)", e.ifindex, e.flags);
	CHECK(ret == TC_ACT_SHOT && !pinned,
	      "a local guest pinned the reserved MAC (verdict %d)", ret);
}

/*
 * A guest of another host heard from less than 300 s ago keeps its MAC
 * against the LAN: a frame from the uplink with that source leaves the
 * remote entry as it is (local guests' frames to it still go into the
 * tunnel). Before, the LAN host took it over, and the fresh uplink entry
 * then kept the guest's own tunnelled frames from moving it back.
 */
static void t_ovl_lan_does_not_take_a_remote_mac(struct fabric *fb)
{
	static const __u8 R5[6] = { 0x02, 0, 0, 0, 0x0c, 0x55 };
	struct port_opts u = { .naddrs = -1 };
	struct kvb_fdb_entry e = { 0 };
	struct kvb_port p;
	struct frame f;
	__u32 kou;
	bool stayed;

	CHECK(!plant_remote(fb, R5), "cannot plant the remote entry");
	CHECK(!add_veth("kou", &kou) &&
	      !port_attach(fb, "unit", "kou", on.id, KVB_PORT_UPLINK, &u),
	      "attach the uplink kou");
	frame_udp4(&f, BCAST, R5, 32);
	run_tc(fb, kou, &f);
	stayed = fdb_entry(fb, on.id, R5, &e) &&
		 (e.flags & KVB_FDB_F_REMOTE) && e.ifindex == ovl;
	fdb_del(fb, on.id, R5);
	if (!port_get(fb, kou, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kou");
	CHECK(stayed, "a LAN frame took a live remote guest's MAC (ifindex "
	      "%u flags %u)", e.ifindex, e.flags);
}

/*
 * A guest of another host is reached by the local guests only: a LAN
 * host's unicast to it (from the uplink) is counted overlay-not-tunnelled
 * and goes on to the host's stack, and the host's own (uplink egress)
 * goes to the wire, where the remote guest's host may have it. Before,
 * both were redirected into the VXLAN device without a tunnel key, which
 * dropped them, and counted as sent.
 */
static void t_ovl_lan_and_host_are_not_tunnelled(struct fabric *fb)
{
	static const __u8 R6[6] = { 0x02, 0, 0, 0, 0x0c, 0x56 };
	static const __u8 L1[6] = { 0x02, 0, 0, 0, 0x0c, 0xa6 };
	struct port_opts u = { .naddrs = -1 };
	__u64 t0, t1, t2, d0, d1;
	__u8 um[6];
	struct kvb_port p;
	struct frame f;
	__u32 kou;
	int from_lan, from_host;

	CHECK(!plant_remote(fb, R6), "cannot plant the remote entry");
	CHECK(!add_veth("kou", &kou) &&
	      !port_attach(fb, "unit", "kou", on.id, KVB_PORT_UPLINK, &u) &&
	      !dev_get_mac("kou", um), "attach the uplink kou");
	t0 = port_stats(fb, ovl).tx_packets;
	d0 = port_stats(fb, kou).drop[KVB_DROP_OVL_NOT_TUNNELLED];
	frame_udp4(&f, R6, L1, 32);
	from_lan = run_tc(fb, kou, &f);
	t1 = port_stats(fb, ovl).tx_packets;
	d1 = port_stats(fb, kou).drop[KVB_DROP_OVL_NOT_TUNNELLED];
	frame_udp4(&f, R6, um, 32);
	from_host = run_tc_egress(fb, kou, &f);
	t2 = port_stats(fb, ovl).tx_packets;
	fdb_del(fb, on.id, R6);
	fdb_del(fb, on.id, L1);
	if (!port_get(fb, kou, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kou");
	CHECK(from_lan == TC_ACT_OK && t1 == t0,
	      "LAN to a remote guest: verdict %d, %llu into the tunnel, want "
	      "the host's stack", from_lan, t1 - t0);
	CHECK(d1 == d0 + 1, "LAN to a remote guest: not counted "
	      "overlay-not-tunnelled");
	CHECK(from_host == TC_ACT_OK && t2 == t1,
	      "host to a remote guest: verdict %d, %llu into the tunnel, want "
	      "the wire", from_host, t2 - t1);
}

/*
 * The host's frame from a gateway port to a guest of another host is
 * counted overlay-not-tunnelled: that guest answers the gateway's
 * address at its own host. Before, it was redirected into the VXLAN
 * device without a tunnel key (dropped there) and counted as sent.
 */
static void t_ovl_gateway_is_not_tunnelled(struct fabric *fb)
{
	static const __u8 R7[6] = { 0x02, 0, 0, 0, 0x0c, 0x57 };
	struct port_opts g = { .naddrs = -1 };
	__u64 t0, t1, d0, d1;
	__u8 gm[6];
	struct kvb_port p;
	struct frame f;
	__u32 kog;
	int ret;

	CHECK(!plant_remote(fb, R7), "cannot plant the remote entry");
	CHECK(!add_veth("kog", &kog) &&
	      !port_attach(fb, "unit", "kog", on.id, KVB_PORT_GATEWAY, &g) &&
	      !dev_get_mac("kog", gm), "attach the gateway port kog");
	t0 = port_stats(fb, ovl).tx_packets;
	d0 = port_stats(fb, kog).drop[KVB_DROP_OVL_NOT_TUNNELLED];
	frame_udp4(&f, R7, gm, 32);
	ret = run_tc(fb, kog, &f);
	t1 = port_stats(fb, ovl).tx_packets;
	d1 = port_stats(fb, kog).drop[KVB_DROP_OVL_NOT_TUNNELLED];
	fdb_del(fb, on.id, R7);
	if (!port_get(fb, kog, &p))
		port_detach(fb, "unit", &p);
	system("ip link del kog");
	CHECK(ret == TC_ACT_SHOT && t1 == t0,
	      "gateway to a remote guest: verdict %d, %llu into the tunnel",
	      ret, t1 - t0);
	CHECK(d1 == d0 + 1, "gateway to a remote guest: not counted "
	      "overlay-not-tunnelled");
}

static void t_ovl_too_big_for_the_underlay(struct fabric *fb)
{
	struct kvb_net n;
	struct frame f;
	__u64 d0 = port_stats(fb, ko1).drop[KVB_DROP_OVL_TOO_BIG];
	int ret, ret_gso, ret_fit;

	/* the underlay shrank after net add (the upkeep step read it) */
	CHECK(!net_get(fb, on.id, &n), "no network");
	n.ovl_mtu = 600;
	CHECK(!net_put(fb, &n), "cannot update the network");
	CHECK(!plant_remote(fb, R1), "cannot plant the remote entry");
	frame_udp4(&f, R1, O1, 800);
	ret = run_tc(fb, ko1, &f);
	/* a TSO frame of segments with TCP timestamps (32-byte TCP
	 * headers): 560 bytes each and 52 of headers is 612, over 600,
	 * though 560 and the smallest headers (40) would fit */
	{
		__u8 th[32 + 1200] = { 0 };

		th[12] = 8 << 4;	/* doff 8: 12 bytes of options */
		th[13] = 0x10;		/* ACK */
		th[20] = 1, th[21] = 1, th[22] = 8, th[23] = 10;
		frame_ip4(&f, R1, O1, htonl(0x0a000001), IPPROTO_TCP, th,
			  sizeof(th));
		ret_gso = run_tc_gso(fb, ko1, &f, 560);
		/* 540 and 52: 592, it fits */
		ret_fit = run_tc_gso(fb, ko1, &f, 540);
	}
	n.ovl_mtu = on.ovl_mtu;
	net_put(fb, &n);
	CHECK(ret == TC_ACT_SHOT, "verdict %d, want drop", ret);
	CHECK(ret_gso == TC_ACT_SHOT, "TSO, 560 + 52 bytes a segment over "
	      "600: verdict %d, want drop", ret_gso);
	CHECK(ret_fit == TC_ACT_REDIRECT, "TSO, 540 + 52 bytes a segment "
	      "under 600: verdict %d, want the tunnel", ret_fit);
	CHECK(port_stats(fb, ko1).drop[KVB_DROP_OVL_TOO_BIG] == d0 + 2,
	      "not counted overlay-too-big twice: +%llu",
	      (unsigned long long)(port_stats(fb, ko1).drop[KVB_DROP_OVL_TOO_BIG] - d0));
}

int overlay_tests(struct fabric *fb)
{
	char *add[] = { "ovl", "type", "bridge", "vni", "4242", "vtep",
			"192.0.2.1", "vtep", "192.0.2.2", "mtu", "1400" };
	struct port_opts g = { .naddrs = -1 };
	struct port_opts sc = { .spoofcheck = true, .naddrs = -1 };
	struct net_spec s;
	int nfail = 0;

	/* the underlay: the vteps are reached through kul */
	if (add_veth("ko1", &ko1) || add_veth("ko2", &ko2) ||
	    add_veth("ko3", &ko3) || add_veth("kul", &kul) ||
	    system("ip addr add 192.0.2.254/24 dev kul")) {
		printf("FAIL overlay setup: devices\n");
		return 1;
	}
	if (net_add_spec(ARRAY_SIZE(add), add, &s) || net_create(fb, &s) ||
	    net_find(fb, "ovl", &on) || !on.ovl_ifindex ||
	    port_attach(fb, "unit", "ko1", on.id, KVB_PORT_GUEST, &g) ||
	    port_attach(fb, "unit", "ko2", on.id, KVB_PORT_GUEST, &g) ||
	    port_attach(fb, "unit", "ko3", on.id, KVB_PORT_GUEST, &sc) ||
	    net_get(fb, on.id, &on)) {
		printf("FAIL overlay setup: network\n");
		return 1;
	}
	ovl = on.ovl_ifindex;
	RUN(t_ovl_remote_unicast_goes_into_the_tunnel);
	RUN(t_ovl_flood_once_to_every_vtep);
	RUN(t_ovl_no_tunnel_key_is_dropped);
	RUN(t_ovl_local_port_takes_a_remote_mac);
	RUN(t_ovl_too_big_for_the_underlay);
	RUN(t_ovl_remote_mac_is_not_pinned);
	RUN(t_ovl_lan_mac_stays_on_the_uplink);
	RUN(t_ovl_lan_does_not_take_a_remote_mac);
	RUN(t_ovl_reserved_mac_stays_reserved);
	RUN(t_ovl_lan_and_host_are_not_tunnelled);
	RUN(t_ovl_gateway_is_not_tunnelled);
	return nfail;
}
