// SPDX-License-Identifier: MIT
/*
 * Bridge datapath unit tests: every path of the tc and XDP programs on
 * crafted frames. Topology (veth devices in a private namespace):
 *
 *   network "a" (bridge, mtu 1500): kg1 (static mac G1), kg2, kg3, uplink kup
 *   network "b" (bridge):            kh1, kh2
 *   kfree: a device no network knows
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unit.h"

#define TC_SHOT_CONSUMED TC_ACT_SHOT

static const __u8 G1[6] = { 0x52, 0x54, 0, 0, 0xa, 1 };
static const __u8 M1[6] = { 0x02, 0, 0, 0, 0xa, 0x11 };
static const __u8 M2[6] = { 0x02, 0, 0, 0, 0xa, 0x12 };
static const __u8 M3[6] = { 0x02, 0, 0, 0, 0xa, 0x13 };
static const __u8 MH[6] = { 0x02, 0, 0, 0, 0xb, 0x11 };
static const __u8 UNKNOWN[6] = { 0x02, 0, 0, 0, 0xe, 0xe };
static const __u8 BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const __u8 MCAST_SRC[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
static const __u8 ZERO[6];

static __u32 kg1, kg2, kg3, kup, kh1, kh2, kfree;
#define upmac unit_upmac
static const __u32 NET_A = 1, NET_B = 2;

static __u64 tx(struct fabric *fb, __u32 ifx)
{
	return port_stats(fb, ifx).tx_packets;
}

static __u64 drops(struct fabric *fb, __u32 ifx, enum kvb_drop r)
{
	return port_stats(fb, ifx).drop[r];
}

/* tx counters of all ports, to compare before and after one frame */
struct txs {
	__u64 g1, g2, g3, up, h1, h2;
};

static struct txs txs(struct fabric *fb)
{
	return (struct txs){ tx(fb, kg1), tx(fb, kg2), tx(fb, kg3),
			     tx(fb, kup), tx(fb, kh1), tx(fb, kh2) };
}

static void t_unknown_unicast_floods_within_network(struct fabric *fb)
{
	struct frame f;
	struct kvb_fdb_entry e;
	struct txs a = txs(fb), b;
	int ret;

	frame_udp4(&f, UNKNOWN, M1, 32);
	ret = run_tc(fb, kg1, &f);
	b = txs(fb);
	CHECK(ret == TC_SHOT_CONSUMED, "verdict %d, want %d", ret,
	      TC_SHOT_CONSUMED);
	CHECK(b.g2 == a.g2 + 1 && b.g3 == a.g3 + 1 && b.up == a.up + 1,
	      "flood missed a member: g2 +%llu g3 +%llu up +%llu",
	      b.g2 - a.g2, b.g3 - a.g3, b.up - a.up);
	CHECK(b.g1 == a.g1, "flood went back to the ingress port");
	CHECK(b.h1 == a.h1 && b.h2 == a.h2, "flood crossed into network b");
	CHECK(fdb_entry(fb, NET_A, M1, &e) && e.ifindex == kg1,
	      "source M1 not learned on kg1");
}

/*
 * tc ingress tail-calls a stage per kind of forwarding (kvb_stages): an
 * empty slot is a drop counted as no-stage, never a silent pass; on the
 * uplink (the host's NIC) the frame still goes to the host.
 */
static void t_missing_stage_is_a_counted_drop(struct fabric *fb)
{
	__u32 slot = KVB_STAGE_SWITCH, id = 0;
	__u64 g, u;
	char path[512];
	struct frame f;
	int map, prog, ret, ret_up;

	snprintf(path, sizeof(path), "%s/%s", fb->dir, KVB_MAP_STAGES);
	map = bpf_obj_get(path);
	CHECK(map >= 0, "%s: %s", path, strerror(errno));
	/* the slot holds the stage's only reference: keep one meanwhile */
	if (bpf_map_lookup_elem(map, &slot, &id) ||
	    (prog = bpf_prog_get_fd_by_id(id)) < 0 ||
	    bpf_map_delete_elem(map, &slot)) {
		close(map);
		CHECK(0, "switch stage slot not filled: %s", strerror(errno));
	}
	g = drops(fb, kg2, KVB_DROP_NO_STAGE);
	u = drops(fb, kup, KVB_DROP_NO_STAGE);
	frame_udp4(&f, M1, M2, 32);
	ret = run_tc(fb, kg2, &f);
	frame_udp4(&f, M1, upmac, 32);
	ret_up = run_tc(fb, kup, &f);
	if (bpf_map_update_elem(map, &slot, &prog, BPF_ANY))
		printf("FAIL %s: could not restore the stage\n", __func__);
	close(prog);
	close(map);
	CHECK(ret == TC_ACT_SHOT, "guest: verdict %d, want shot", ret);
	CHECK(drops(fb, kg2, KVB_DROP_NO_STAGE) == g + 1,
	      "guest: not counted as no-stage");
	CHECK(ret_up == TC_ACT_OK, "uplink: verdict %d, want ok", ret_up);
	CHECK(drops(fb, kup, KVB_DROP_NO_STAGE) == u + 1,
	      "uplink: not counted as no-stage");
	frame_udp4(&f, M1, M2, 32);
	ret = run_tc(fb, kg2, &f);
	CHECK(ret == TC_ACT_REDIRECT, "restored: verdict %d", ret);
}

/*
 * A port whose network is gone (kvb_net is an array: its slot is empty,
 * not absent) is dropped and counted as no-network, never switched with
 * an empty network's fields.
 */
static void t_port_of_missing_network_dropped(struct fabric *fb)
{
	struct kvb_port p, saved;
	struct frame f;
	__u64 before;
	int ret;

	CHECK(!port_get(fb, kg2, &saved), "kg2's port");
	p = saved;
	p.net_id = 77;	/* no network has it */
	CHECK(!bpf_map_update_elem(fb->port_fd, &kg2, &p, BPF_EXIST), "port");
	before = drops(fb, kg2, KVB_DROP_NO_NET);
	frame_udp4(&f, M1, M2, 32);
	ret = run_tc(fb, kg2, &f);
	bpf_map_update_elem(fb->port_fd, &kg2, &saved, BPF_EXIST);
	CHECK(ret == TC_ACT_SHOT, "verdict %d, want shot", ret);
	CHECK(drops(fb, kg2, KVB_DROP_NO_NET) == before + 1,
	      "not counted as no-network");
}

static void t_known_unicast_redirects(struct fabric *fb)
{
	struct frame f;
	struct kvb_aclon on = { 0 };
	struct txs a, b;
	__u32 mark = 0, zero = 0;
	int ret;

	/* a fabric without ACLs (the acl suite runs after this one) */
	CHECK(!bpf_map_lookup_elem(fb->aclon_fd, &zero, &on) && !on.on,
	      "kvb_aclon is on in the bridge suite");
	frame_udp4(&f, UNKNOWN, M1, 32);
	run_tc(fb, kg1, &f); /* learn M1 on kg1 */
	a = txs(fb);
	frame_udp4(&f, M1, M2, 32);
	ret = run_tc_mark(fb, kg2, &f, &mark);
	b = txs(fb);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d, want redirect", ret);
	CHECK(b.g1 == a.g1 + 1, "not delivered to kg1");
	CHECK(b.g3 == a.g3 && b.up == a.up, "known unicast was flooded");
	/* no port has ACLs: delivered as judged, kg1's tc egress lets it
	 * out as it is, its mark ended */
	CHECK(mark == KVB_MARK_ACL, "delivered with mark %#x, want %#x",
	      mark, KVB_MARK_ACL);
	ret = run_prog_mark(fb->prog_tc_egress, kg1, &f, mark, &mark);
	CHECK(ret == TC_ACT_OK && mark == 0,
	      "kg1's tc egress: verdict %d, mark %#x left", ret, mark);
}

static void t_learning_moves_with_the_mac(struct fabric *fb)
{
	struct kvb_fdb_entry e;
	struct frame f;

	frame_udp4(&f, UNKNOWN, M3, 32);
	run_tc(fb, kg2, &f);
	CHECK(fdb_entry(fb, NET_A, M3, &e) && e.ifindex == kg2,
	      "M3 not learned on kg2");
	/* the guest moved (live migration): the entry follows at once */
	run_tc(fb, kg3, &f);
	CHECK(fdb_entry(fb, NET_A, M3, &e) && e.ifindex == kg3,
	      "M3 did not move to kg3 (ifindex %u)", e.ifindex);
}

static void t_static_entry_never_moves(struct fabric *fb)
{
	struct kvb_fdb_entry e;
	struct frame f;

	frame_udp4(&f, UNKNOWN, G1, 32);
	run_tc(fb, kg2, &f);
	CHECK(fdb_entry(fb, NET_A, G1, &e), "static entry gone");
	CHECK(e.ifindex == kg1 && (e.flags & KVB_FDB_F_STATIC),
	      "static G1 moved to ifindex %u", e.ifindex);
}

static void t_broadcast_stays_in_network(struct fabric *fb)
{
	struct frame f;
	struct txs a = txs(fb), b;
	int ret;

	frame_udp4(&f, BCAST, MH, 32);
	ret = run_tc(fb, kh1, &f);
	b = txs(fb);
	CHECK(ret == TC_SHOT_CONSUMED, "verdict %d", ret);
	CHECK(b.h2 == a.h2 + 1, "broadcast not delivered inside network b");
	CHECK(b.g1 == a.g1 && b.g2 == a.g2 && b.g3 == a.g3 && b.up == a.up,
	      "broadcast from network b reached network a");
}

static void t_forged_destination_of_other_network(struct fabric *fb)
{
	struct frame f;
	struct txs a, b;

	frame_udp4(&f, UNKNOWN, MH, 32);
	run_tc(fb, kh1, &f); /* MH learned in network b */
	a = txs(fb);
	frame_udp4(&f, MH, M2, 32);
	run_tc(fb, kg2, &f);
	b = txs(fb);
	CHECK(b.h1 == a.h1 && b.h2 == a.h2,
	      "frame to network b's MAC left network a");
}

static void t_reflect_dropped(struct fabric *fb)
{
	struct frame f;
	__u64 d0 = drops(fb, kg3, KVB_DROP_REFLECT);
	int ret;

	frame_udp4(&f, UNKNOWN, M3, 32);
	run_tc(fb, kg3, &f);
	frame_udp4(&f, M3, M2, 32);
	ret = run_tc(fb, kg3, &f);
	CHECK(ret == TC_ACT_SHOT, "verdict %d", ret);
	CHECK(drops(fb, kg3, KVB_DROP_REFLECT) == d0 + 1,
	      "reflect not counted");
}

static void t_mtu(struct fabric *fb)
{
	struct frame f;
	__u64 d0 = drops(fb, kg1, KVB_DROP_MTU);
	int ret;

	frame_udp4(&f, M2, G1, 1500 - 28);	/* exactly the MTU */
	ret = run_tc(fb, kg1, &f);
	CHECK(ret == TC_ACT_REDIRECT || ret == TC_SHOT_CONSUMED,
	      "MTU-sized frame: verdict %d", ret);
	CHECK(drops(fb, kg1, KVB_DROP_MTU) == d0, "MTU-sized frame dropped");
	frame_udp4(&f, M2, G1, 1500 - 28 + 1);
	ret = run_tc(fb, kg1, &f);
	CHECK(ret == TC_ACT_SHOT, "oversized frame: verdict %d", ret);
	CHECK(drops(fb, kg1, KVB_DROP_MTU) == d0 + 1, "mtu drop not counted");
	/* XDP cannot see GSO metadata: it leaves size to tc */
	ret = run_xdp(fb, kg1, &f);
	CHECK(ret == XDP_PASS, "XDP verdict %d on oversized frame", ret);
}

static void t_gso_segments_checked_against_mtu(struct fabric *fb)
{
	struct frame f;
	__u64 d0 = drops(fb, kg1, KVB_DROP_MTU);
	int ret;

	/* a super-frame whose segments are 28 + 1472 = 1500 bytes */
	frame_udp4(&f, M2, G1, 1800);
	ret = run_tc_gso(fb, kg1, &f, 1472);
	CHECK(ret == TC_ACT_REDIRECT, "GSO frame in MTU: verdict %d", ret);
	ret = run_tc_gso(fb, kg1, &f, 1473);
	CHECK(ret == TC_ACT_SHOT, "GSO segments over MTU: verdict %d", ret);
	CHECK(drops(fb, kg1, KVB_DROP_MTU) == d0 + 1, "mtu drop not counted");
}

/*
 * A guest's gso_size below KVB_GSO_MIN would have the host cut its
 * super-frame into ever smaller packets (1800 bytes into 1800 at
 * gso_size 1): refused, counted gso-invalid; KVB_GSO_MIN itself passes.
 */
static void t_gso_size_implausible(struct fabric *fb)
{
	__u64 d0 = drops(fb, kg1, KVB_DROP_GSO);
	struct frame f;
	int ret;

	frame_udp4(&f, M2, G1, 1800);
	ret = run_tc_gso(fb, kg1, &f, 1);
	CHECK(ret == TC_ACT_SHOT, "gso_size 1: verdict %d", ret);
	CHECK(drops(fb, kg1, KVB_DROP_GSO) == d0 + 1, "gso-invalid not counted");
	ret = run_tc_gso(fb, kg1, &f, KVB_GSO_MIN - 1);
	CHECK(ret == TC_ACT_SHOT, "gso_size %d: verdict %d", KVB_GSO_MIN - 1,
	      ret);
	ret = run_tc_gso(fb, kg1, &f, KVB_GSO_MIN);
	CHECK(ret == TC_ACT_REDIRECT, "gso_size %d: verdict %d", KVB_GSO_MIN,
	      ret);
	CHECK(drops(fb, kg1, KVB_DROP_GSO) == d0 + 2, "gso-invalid count");
}

/*
 * BPF_PROG_RUN for tc refuses IPv4 frames shorter than a full IPv4 header
 * and IPv6 frames shorter than a full IPv6 header (EINVAL before the
 * program runs). Only for those is a refused tc run accepted; the XDP run
 * still asserts the verdict on the same bytes.
 */
static bool tc_run_refuses(const struct frame *f)
{
	__u16 proto = (__u16)(f->buf[12] << 8 | f->buf[13]);

	return (proto == ETH_P_IP && f->len < ETH_HLEN + 20) ||
	       (proto == ETH_P_IPV6 && f->len < ETH_HLEN + 40);
}

static void expect_drop_both_hooks(struct fabric *fb, const struct frame *f,
				   enum kvb_drop r, const char *what)
{
	__u64 d0 = drops(fb, kg2, r);
	int xret = run_xdp(fb, kg2, f), tret = run_tc(fb, kg2, f);
	bool refused = tret == -1 && tc_run_refuses(f);
	__u64 want = refused ? 1 : 2;

	if (xret != XDP_DROP || (tret != TC_ACT_SHOT && !refused) ||
	    drops(fb, kg2, r) != d0 + want) {
		printf("FAIL %s: %s (%u bytes): xdp %d tc %d, %s +%llu "
		       "(want %llu)\n", "expect_drop_both_hooks", what, f->len,
		       xret, tret, drop_name(r), drops(fb, kg2, r) - d0, want);
		unit_failed = 1;
	}
}

/* Set or clear port ifindex's spoofcheck flag; 0 on success. */
static int spoofcheck_set(struct fabric *fb, __u32 ifindex, bool on)
{
	struct kvb_port p;

	if (port_get(fb, ifindex, &p))
		return -1;
	if (on)
		p.flags |= KVB_PORT_F_SPOOFCHECK;
	else
		p.flags &= ~KVB_PORT_F_SPOOFCHECK;
	return bpf_map_update_elem(fb->port_fd, &ifindex, &p, BPF_EXIST);
}

/* A port with spoofcheck on sends no VLAN-tagged frame (lib/vlan.h). */
static void t_vlan_tagged_dropped(struct fabric *fb)
{
	struct frame f;

	CHECK(!spoofcheck_set(fb, kg2, true), "spoofcheck on kg2");
	frame_raw(&f, M1, M2, 0x8100, 46);
	expect_drop_both_hooks(fb, &f, KVB_DROP_VLAN, "802.1Q");
	frame_raw(&f, M1, M2, 0x88a8, 46);
	expect_drop_both_hooks(fb, &f, KVB_DROP_VLAN, "802.1ad");
	spoofcheck_set(fb, kg2, false);
}

/*
 * A trunk (spoofcheck off, no ACLs) carries VLAN-tagged frames as a Linux
 * bridge without vlan_filtering does: XDP leaves them to tc, which floods
 * a tagged broadcast to the other trunks and the uplink, never to a port
 * with spoofcheck on, and refuses a tagged unicast to such a port.
 * Before, every tagged frame was refused (vlan-tagged).
 */
static void t_vlan_trunk(struct fabric *fb)
{
	static const __u8 BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct frame f;
	struct txs a, b;
	__u64 v0;
	int ret;

	CHECK(!spoofcheck_set(fb, kg3, true), "spoofcheck on kg3");
	frame_raw(&f, BCAST, M2, 0x8100, 46);
	ret = run_xdp(fb, kg2, &f);
	CHECK(ret == XDP_PASS, "XDP verdict %d on a trunk's tagged frame, "
	      "want tc's", ret);
	a = txs(fb);
	ret = run_tc(fb, kg2, &f);
	b = txs(fb);
	CHECK(ret == TC_ACT_SHOT && b.g1 == a.g1 + 1 && b.up == a.up + 1 &&
	      b.g3 == a.g3 && b.h1 == a.h1 && b.h2 == a.h2,
	      "tagged broadcast from a trunk: verdict %d, copies g1 %llu up "
	      "%llu g3 %llu (want 1 1 0, and none to network b)", ret,
	      b.g1 - a.g1, b.up - a.up, b.g3 - a.g3);
	/* kg3 (spoofcheck on) learnt as M3: a tagged unicast to it */
	frame_raw(&f, M2, M3, ETH_P_ARP, 46);
	run_tc(fb, kg3, &f);
	v0 = drops(fb, kg2, KVB_DROP_VLAN);
	frame_raw(&f, M3, M2, 0x8100, 46);
	a = txs(fb);
	ret = run_tc(fb, kg2, &f);
	b = txs(fb);
	CHECK(ret == TC_ACT_SHOT && b.g3 == a.g3 &&
	      drops(fb, kg2, KVB_DROP_VLAN) == v0 + 1,
	      "tagged unicast to a port with spoofcheck on: verdict %d, %llu "
	      "to it, vlan-tagged +%llu", ret, b.g3 - a.g3,
	      drops(fb, kg2, KVB_DROP_VLAN) - v0);
	spoofcheck_set(fb, kg3, false);
}

/*
 * IEEE 802.1 link-local groups (01:80:c2:00:00:00-0f) are never
 * forwarded, as a bridge does: a guest's pause frame, LLDP, EAPOL-Logoff
 * or BPDU would reach the LAN's switch as the host's port's (pause it,
 * log it off 802.1X, err-disable it by BPDU guard). Counted
 * l2-link-local on the guest's port; the LAN's go to the host alone, no
 * guest. Other multicast still floods. Before, all of them flooded,
 * out of the uplink too.
 */
static void t_link_local_groups_not_forwarded(struct fabric *fb)
{
	static const __u8 groups[4][6] = {
		{ 0x01, 0x80, 0xc2, 0, 0, 0x00 },	/* STP */
		{ 0x01, 0x80, 0xc2, 0, 0, 0x01 },	/* pause */
		{ 0x01, 0x80, 0xc2, 0, 0, 0x03 },	/* 802.1X */
		{ 0x01, 0x80, 0xc2, 0, 0, 0x0e },	/* LLDP */
	};
	static const __u16 types[4] = { 0x0026, 0x8808, 0x888e, 0x88cc };
	static const __u8 MDNS[6] = { 0x01, 0, 0x5e, 0, 0, 0xfb };
	struct txs a, b;
	struct frame f;
	__u64 d0;
	int ret;

	for (int i = 0; i < 4; i++) {
		frame_raw(&f, groups[i], M1, types[i], 46);
		d0 = drops(fb, kg1, KVB_DROP_L2_LINK_LOCAL);
		a = txs(fb);
		ret = run_tc(fb, kg1, &f);
		b = txs(fb);
		CHECK(ret == TC_ACT_SHOT &&
		      drops(fb, kg1, KVB_DROP_L2_LINK_LOCAL) == d0 + 1,
		      "group %02x from a guest: verdict %d, not counted",
		      groups[i][5], ret);
		CHECK(b.up == a.up && b.g2 == a.g2 && b.g3 == a.g3,
		      "group %02x from a guest forwarded: uplink +%llu, g2 "
		      "+%llu", groups[i][5], b.up - a.up, b.g2 - a.g2);
		a = txs(fb);
		ret = run_tc(fb, kup, &f);
		b = txs(fb);
		CHECK(ret == TC_ACT_OK && b.g1 == a.g1 && b.g2 == a.g2 &&
		      b.g3 == a.g3, "group %02x from the LAN: verdict %d, "
		      "guests +%llu", groups[i][5], ret,
		      (b.g1 - a.g1) + (b.g2 - a.g2) + (b.g3 - a.g3));
	}
	/* 01:80:c2:00:00:10 (a bridge group outside the block) and mDNS
	 * still flood */
	{
		__u8 g10[6] = { 0x01, 0x80, 0xc2, 0, 0, 0x10 };

		frame_udp4(&f, g10, M1, 32);
		a = txs(fb);
		run_tc(fb, kg1, &f);
		b = txs(fb);
		CHECK(b.g2 == a.g2 + 1 && b.up == a.up + 1,
		      "01:80:c2:00:00:10 not flooded");
	}
	frame_udp4(&f, MDNS, M1, 32);
	a = txs(fb);
	run_tc(fb, kg1, &f);
	b = txs(fb);
	CHECK(b.g2 == a.g2 + 1 && b.g3 == a.g3 + 1 && b.up == a.up + 1,
	      "mDNS not flooded");
}

static void t_invalid_source_dropped(struct fabric *fb)
{
	struct frame f;

	frame_udp4(&f, M1, MCAST_SRC, 32);
	expect_drop_both_hooks(fb, &f, KVB_DROP_SRC_MAC, "multicast source");
	frame_udp4(&f, M1, BCAST, 32);
	expect_drop_both_hooks(fb, &f, KVB_DROP_SRC_MAC, "broadcast source");
	frame_udp4(&f, M1, ZERO, 32);
	expect_drop_both_hooks(fb, &f, KVB_DROP_SRC_MAC, "zero source");
}

static void t_truncation_at_every_header(struct fabric *fb)
{
	struct frame f;
	struct iphdr *ip = (struct iphdr *)(f.buf + ETH_HLEN);
	__u64 d0;
	int ret;

	/*
	 * Shorter than Ethernet: the kernel refuses to hand such a frame to
	 * either hook (tun and BPF_PROG_RUN alike), so the runt check in
	 * kvb_admit() is defence in depth. Assert the refusal, so that a
	 * kernel that starts delivering runts makes this test speak up.
	 */
	for (__u32 len = 1; len < ETH_HLEN; len++) {
		frame_raw(&f, M1, M2, ETH_P_IP, 0);
		f.len = len;
		d0 = drops(fb, kg2, KVB_DROP_RUNT);
		ret = run_xdp(fb, kg2, &f);
		CHECK(ret == -1 || (ret == XDP_DROP &&
				    drops(fb, kg2, KVB_DROP_RUNT) == d0 + 1),
		      "%u-byte runt: xdp %d", len, ret);
		ret = run_tc(fb, kg2, &f);
		CHECK(ret == -1 || ret == TC_ACT_SHOT, "%u-byte runt: tc %d",
		      len, ret);
	}
	/* exactly an Ethernet header claiming IPv4: nothing behind it */
	frame_raw(&f, M1, M2, ETH_P_IP, 0);
	expect_drop_both_hooks(fb, &f, KVB_DROP_TRUNC_L3, "14-byte frame");
	/* every cut inside the IPv4, IPv6 and ARP headers */
	for (__u32 l3 = 0; l3 < 20; l3++) {
		frame_udp4(&f, M1, M2, 0);
		f.len = ETH_HLEN + l3;
		expect_drop_both_hooks(fb, &f, KVB_DROP_TRUNC_L3, "short IPv4");
	}
	for (__u32 l3 = 0; l3 < 40; l3 += 3) {
		frame_raw(&f, M1, M2, ETH_P_IPV6, l3);
		expect_drop_both_hooks(fb, &f, KVB_DROP_TRUNC_L3, "short IPv6");
	}
	for (__u32 l3 = 0; l3 < 28; l3 += 3) {
		frame_raw(&f, M1, M2, ETH_P_ARP, l3);
		expect_drop_both_hooks(fb, &f, KVB_DROP_TRUNC_L3, "short ARP");
	}
	frame_udp4(&f, M1, M2, 32);
	ip->ihl = 4;
	expect_drop_both_hooks(fb, &f, KVB_DROP_TRUNC_L3, "IHL 4");
	frame_udp4(&f, M1, M2, 32);
	ip->tot_len = htons(200);
	expect_drop_both_hooks(fb, &f, KVB_DROP_TRUNC_L3, "tot_len > frame");
	frame_udp4(&f, M1, M2, 32);
	ip->tot_len = htons(10);
	expect_drop_both_hooks(fb, &f, KVB_DROP_TRUNC_L3, "tot_len < IHL");
	frame_udp4(&f, M1, M2, 32);
	ip->version = 6;
	expect_drop_both_hooks(fb, &f, KVB_DROP_TRUNC_L3, "version 6 in IPv4");
}

static void t_padded_minimum_frame_passes(struct fabric *fb)
{
	struct frame f;
	int ret;

	/* a 60-byte Ethernet minimum frame carrying a shorter IP packet */
	frame_udp4(&f, M1, M2, 0);
	f.len = 60;
	ret = run_xdp(fb, kg2, &f);
	CHECK(ret == XDP_PASS, "XDP verdict %d", ret);
	ret = run_tc(fb, kg2, &f);
	CHECK(ret == TC_ACT_REDIRECT, "tc verdict %d", ret);
}

static void t_uplink_frame_for_host(struct fabric *fb)
{
	struct frame f;
	struct txs a = txs(fb), b;
	int ret;

	frame_udp4(&f, upmac, M2, 32);
	ret = run_tc(fb, kup, &f);
	b = txs(fb);
	CHECK(ret == TC_ACT_OK, "verdict %d, want the host stack", ret);
	CHECK(b.g1 == a.g1 && b.g2 == a.g2 && b.g3 == a.g3,
	      "host's frame leaked to guests");
}

static void t_uplink_broadcast_reaches_guests_and_host(struct fabric *fb)
{
	struct frame f;
	struct txs a = txs(fb), b;
	int ret;

	frame_udp4(&f, BCAST, UNKNOWN, 32);
	ret = run_tc(fb, kup, &f);
	b = txs(fb);
	CHECK(ret == TC_ACT_OK, "verdict %d, want host stack too", ret);
	CHECK(b.g1 == a.g1 + 1 && b.g2 == a.g2 + 1 && b.g3 == a.g3 + 1,
	      "broadcast from LAN missed a guest");
	CHECK(b.up == a.up, "broadcast sent back out the uplink");
	CHECK(b.h1 == a.h1 && b.h2 == a.h2, "LAN broadcast reached network b");
}

/* What the fabric will not switch from the LAN is still the host's. */
static void t_uplink_refusals_reach_the_host(struct fabric *fb)
{
	struct frame f;
	struct txs a = txs(fb), b;
	__u64 v0 = drops(fb, kup, KVB_DROP_VLAN), m0 = drops(fb, kup, KVB_DROP_MTU);
	int ret;

	/* a VLAN's frame for the host's MAC: its VLAN device's */
	frame_raw(&f, upmac, M2, 0x8100, 46);
	ret = run_xdp(fb, kup, &f);
	CHECK(ret == XDP_PASS, "XDP verdict %d on an uplink VLAN frame", ret);
	ret = run_tc(fb, kup, &f);
	CHECK(ret == TC_ACT_OK, "tc verdict %d, want the host stack", ret);
	CHECK(drops(fb, kup, KVB_DROP_VLAN) == v0, "counted as a drop");
	frame_udp4(&f, upmac, M2, 1800);	/* a jumbo frame for the host */
	ret = run_tc(fb, kup, &f);
	CHECK(ret == TC_ACT_OK && drops(fb, kup, KVB_DROP_MTU) == m0 + 1,
	      "jumbo for the host: verdict %d", ret);
	b = txs(fb);
	CHECK(b.g1 == a.g1 && b.g2 == a.g2 && b.g3 == a.g3,
	      "a refused LAN frame reached a guest");
}

static void t_guest_to_host(struct fabric *fb)
{
	struct frame f;
	int ret;

	frame_udp4(&f, upmac, M2, 32);
	ret = run_tc(fb, kg2, &f);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d, want redirect to host",
	      ret);
}

static void t_host_egress_switches_to_guests(struct fabric *fb)
{
	struct frame f;
	struct txs a, b;
	int ret;

	frame_udp4(&f, UNKNOWN, M1, 32);
	run_tc(fb, kg1, &f); /* M1 behind kg1 */
	a = txs(fb);
	frame_udp4(&f, M1, upmac, 32);
	ret = run_tc_egress(fb, kup, &f);
	b = txs(fb);
	CHECK(ret == TC_ACT_REDIRECT, "verdict %d", ret);
	CHECK(b.g1 == a.g1 + 1, "host frame not delivered to kg1");

	frame_udp4(&f, BCAST, upmac, 32);
	ret = run_tc_egress(fb, kup, &f);
	a = b;
	b = txs(fb);
	CHECK(ret == TC_ACT_OK, "host broadcast must go on to the wire");
	CHECK(b.g1 == a.g1 + 1 && b.g2 == a.g2 + 1 && b.g3 == a.g3 + 1,
	      "host broadcast missed a guest");
}

/*
 * The host's own IEEE 802.1 link-local frames out of the uplink (LLDP
 * from lldpd, 802.1X, STP) are for the LAN's switch: on to the wire, no
 * guest gets a copy, as none gets the LAN's. Before, they flooded to
 * every guest of the network.
 */
static void t_host_link_local_groups_to_the_wire_only(struct fabric *fb)
{
	static const __u8 groups[4][6] = {
		{ 0x01, 0x80, 0xc2, 0, 0, 0x00 },	/* STP */
		{ 0x01, 0x80, 0xc2, 0, 0, 0x03 },	/* 802.1X */
		{ 0x01, 0x80, 0xc2, 0, 0, 0x0e },	/* LLDP */
		{ 0x01, 0x80, 0xc2, 0, 0, 0x0f },	/* the block's last */
	};
	static const __u16 types[4] = { 0x0026, 0x888e, 0x88cc, 0x88cc };
	struct txs a, b;
	struct frame f;
	int ret;

	for (int i = 0; i < 4; i++) {
		frame_raw(&f, groups[i], upmac, types[i], 46);
		a = txs(fb);
		ret = run_tc_egress(fb, kup, &f);
		b = txs(fb);
		CHECK(ret == TC_ACT_OK, "group %02x from the host: verdict %d, "
		      "want the wire", groups[i][5], ret);
		CHECK(b.g1 == a.g1 && b.g2 == a.g2 && b.g3 == a.g3,
		      "group %02x from the host reached guests: +%llu",
		      groups[i][5],
		      (b.g1 - a.g1) + (b.g2 - a.g2) + (b.g3 - a.g3));
	}
}

static void t_fabric_marked_frames_pass_uplink(struct fabric *fb)
{
	struct __sk_buff ctx = { .ifindex = kup, .mark = KVB_MARK_FABRIC };
	struct frame f;
	struct txs a = txs(fb), b;

	frame_udp4(&f, BCAST, M1, 32);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f.buf,
		    .data_size_in = f.len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	CHECK(!bpf_prog_test_run_opts(fb->prog_tc_egress, &o), "run failed");
	b = txs(fb);
	CHECK(o.retval == TC_ACT_OK, "verdict %u", o.retval);
	CHECK(b.g1 == a.g1 && b.g2 == a.g2, "a switched frame was re-flooded");
}

static void t_unattached_device_untouched(struct fabric *fb)
{
	struct frame f;
	int ret;

	frame_raw(&f, M1, MCAST_SRC, 0x8100, 46); /* would be dropped */
	ret = run_tc(fb, kfree, &f);
	CHECK(ret == TC_ACT_UNSPEC, "tc verdict %d on a foreign device", ret);
	ret = run_xdp(fb, kfree, &f);
	CHECK(ret == XDP_PASS, "xdp verdict %d on a foreign device", ret);
}

static void t_xdp_passes_valid_frames(struct fabric *fb)
{
	struct frame f;
	int ret;

	frame_udp4(&f, M1, M2, 100);
	ret = run_xdp(fb, kg2, &f);
	CHECK(ret == XDP_PASS, "verdict %d", ret);
	frame_raw(&f, BCAST, M2, ETH_P_ARP, 28);
	f.buf[14] = 0; f.buf[15] = 1;		/* htype Ethernet */
	f.buf[16] = 8; f.buf[17] = 0;		/* ptype IPv4 */
	f.buf[18] = 6; f.buf[19] = 4;		/* hlen, plen */
	ret = run_xdp(fb, kg2, &f);
	CHECK(ret == XDP_PASS, "ARP verdict %d", ret);
}

/* A full MAC table costs flooding, never the frame; it is counted. */
static void t_full_fdb_counts_and_still_forwards(struct fabric *fb)
{
	/* fresh: the ageing sweep must not free the table meanwhile */
	struct kvb_fdb_entry e = { .ifindex = kg3,
				   .seen_ns = clock_mono_ns() };
	struct kvb_fdb_key k = { .net_id = NET_B };
	struct frame f;
	struct txs a, b;
	__u64 lf0;
	__u32 added = 0;
	int ret;

	for (__u32 i = 0; i < KVB_MAX_FDB; i++) {
		k.mac[0] = 0x02;
		k.mac[2] = (__u8)(i >> 16);
		k.mac[3] = (__u8)(i >> 8);
		k.mac[4] = (__u8)i;
		if (!bpf_map_update_elem(fb->fdb_fd, &k, &e, BPF_NOEXIST))
			added++;
	}
	lf0 = port_stats(fb, kg2).learn_fail;
	a = txs(fb);
	frame_udp4(&f, (const __u8[]){ 2, 8, 8, 8, 8, 8 },
		   (const __u8[]){ 2, 9, 9, 9, 9, 9 }, 32);
	ret = run_tc(fb, kg2, &f);
	b = txs(fb);
	fdb_purge(fb, 0, NET_B);
	CHECK(added > 0, "could not fill the table");
	CHECK(ret == TC_SHOT_CONSUMED && b.g1 == a.g1 + 1,
	      "frame not flooded with a full table (verdict %d)", ret);
	CHECK(port_stats(fb, kg2).learn_fail == lf0 + 1,
	      "full table not counted");
}

/*
 * Aged learned entries are deleted, not only ignored by lookups: the
 * ageing sweep (kvb_ctsweep's timer, every second) frees their places,
 * so that a LAN host sending random source MACs cannot fill the table
 * for good. A static entry and a fresh learned one stay.
 */
static void t_aged_learned_entries_are_deleted(struct fabric *fb)
{
	static const __u8 MA[6] = { 0x02, 0, 0, 0, 0xd, 0x01 };
	static const __u8 MS[6] = { 0x02, 0, 0, 0, 0xd, 0x02 };
	static const __u8 MF[6] = { 0x02, 0, 0, 0, 0xd, 0x03 };
	__u64 now = clock_mono_ns();
	struct kvb_fdb_entry aged = { .ifindex = kh1,
				      .seen_ns = now - KVB_FDB_AGE_NS -
						 10000000000ULL };
	struct kvb_fdb_entry fixed = aged, fresh = { .ifindex = kh2,
						     .seen_ns = now };
	struct kvb_fdb_key k = { .net_id = NET_B };
	struct kvb_fdb_entry e;
	bool gone, swept, s_left, f_left;

	fixed.flags = KVB_FDB_F_STATIC;
	memcpy(k.mac, MA, 6);
	CHECK(!bpf_map_update_elem(fb->fdb_fd, &k, &aged, BPF_ANY), "plant");
	memcpy(k.mac, MS, 6);
	CHECK(!bpf_map_update_elem(fb->fdb_fd, &k, &fixed, BPF_ANY), "plant");
	memcpy(k.mac, MF, 6);
	CHECK(!bpf_map_update_elem(fb->fdb_fd, &k, &fresh, BPF_ANY), "plant");
	/* two runs of the sweep: one of them began after the entries were
	 * planted (waits on the sweep's own count, not on a clock) */
	swept = wait_sweeps(fb);
	gone = !fdb_entry(fb, NET_B, MA, &e);
	s_left = fdb_entry(fb, NET_B, MS, &e);
	f_left = fdb_entry(fb, NET_B, MF, &e);
	fdb_del(fb, NET_B, MA);
	fdb_del(fb, NET_B, MS);
	fdb_del(fb, NET_B, MF);
	CHECK(swept, "the sweep did not run twice in 10 s");
	CHECK(gone, "an aged learned entry is still in the table after a sweep");
	CHECK(s_left, "the sweep deleted a static entry");
	CHECK(f_left, "the sweep deleted a fresh learned entry");
}

/*
 * A spoofcheck guest without a mac whose first frame comes while the MAC
 * table is full: the static entry cannot be written, so the MAC is not
 * the port's (no pin a later guest could pin again); the frame is
 * dropped as mac-table-full. With room again, the next frame pins it.
 */
static void t_pin_without_room_is_not_pinned(struct fabric *fb)
{
	static const __u8 MP[6] = { 0x02, 0, 0, 0, 0xd, 0x11 };
	struct port_opts o = { .spoofcheck = true, .naddrs = -1 };
	struct kvb_fdb_entry e = { .ifindex = kh2,
				   .seen_ns = clock_mono_ns() };
	struct kvb_fdb_key k = { .net_id = NET_B };
	struct kvb_port p, after;
	struct frame f;
	__u64 d0, d1;
	__u32 kpin;
	int ret, full;

	CHECK(!add_veth("kpin", &kpin) &&
	      !port_attach(fb, "unit", "kpin", NET_B, KVB_PORT_GUEST, &o),
	      "attach kpin");
	for (__u32 i = 0; i < KVB_MAX_FDB; i++) {
		k.mac[0] = 0x02;
		k.mac[2] = (__u8)(i >> 16);
		k.mac[3] = (__u8)(i >> 8);
		k.mac[4] = (__u8)i;
		bpf_map_update_elem(fb->fdb_fd, &k, &e, BPF_NOEXIST);
	}
	k.mac[5] = 0x77;
	full = bpf_map_update_elem(fb->fdb_fd, &k, &e, BPF_NOEXIST) &&
	       errno == E2BIG;
	d0 = drops(fb, kpin, KVB_DROP_MAC_TABLE_FULL);
	frame_udp4(&f, BCAST, MP, 32);
	ret = run_tc(fb, kpin, &f);
	port_get(fb, kpin, &p);
	d1 = drops(fb, kpin, KVB_DROP_MAC_TABLE_FULL);
	fdb_purge(fb, 0, NET_B);
	run_tc(fb, kpin, &f);
	port_get(fb, kpin, &after);
	port_detach(fb, "unit", &after);
	system("ip link del kpin");
	CHECK(full, "could not fill the table");
	CHECK(ret == TC_ACT_SHOT, "verdict %d, want drop", ret);
	CHECK(!memcmp(p.mac, ZERO, 6) && !(p.flags & KVB_PORT_F_MAC_PINNED),
	      "the port has a pinned MAC that no static entry holds");
	CHECK(d1 == d0 + 1,
	      "not counted as mac-table-full");
	CHECK(!memcmp(after.mac, MP, 6) &&
	      (after.flags & KVB_PORT_F_MAC_PINNED),
	      "not pinned once the table had room");
}

/*
 * A LAN host sending random source MACs (macof): more than the MAC table
 * has places, 0a:TAG:... each, into network a through its uplink.
 */
static void lan_mac_flood(struct fabric *fb, __u8 tag)
{
	__u8 src[6] = { 0x0a, tag };
	struct frame f;

	for (__u32 i = 0; i < KVB_MAX_FDB + 16; i++) {
		src[2] = (__u8)(i >> 24);
		src[3] = (__u8)(i >> 16);
		src[4] = (__u8)(i >> 8);
		src[5] = (__u8)i;
		frame_udp4(&f, upmac, src, 32);
		run_tc(fb, kup, &f);
	}
}

/*
 * A LAN host sending random source MACs (macof) fills the MAC table by
 * learning up to KVB_FDB_LEARN_MAX only: the reserve is left for static
 * entries, so a new guest still pins its MAC and `attach ... mac` (the
 * loader's static insert) still succeeds while the flood goes on. The
 * MACs not learned are counted in learn_fail. Before, learning took every
 * place and both failed (mac-table-full, "the MAC table is full").
 */
static void t_learning_leaves_room_for_static_entries(struct fabric *fb)
{
	static const __u8 MP[6] = { 0x02, 0, 0, 0, 0xd, 0x21 };
	static const __u8 MS[6] = { 0x02, 0, 0, 0, 0xd, 0x22 };
	struct port_opts o = { .spoofcheck = true, .naddrs = -1 };
	__u8 src[6] = { 0x0a, 0xf1 };
	struct kvb_port p;
	struct frame f;
	__u64 lf0, lf1, full0, full1;
	__u32 kpn;
	int ret, set, swept;

	CHECK(!add_veth("kpn", &kpn) &&
	      !port_attach(fb, "unit", "kpn", NET_A, KVB_PORT_GUEST, &o),
	      "attach kpn");
	lf0 = port_stats(fb, kup).learn_fail;
	/* the flood: more MACs than the table has places, from the LAN */
	lan_mac_flood(fb, src[1]);
	lf1 = port_stats(fb, kup).learn_fail;
	/* a new guest's first frame pins its MAC */
	full0 = drops(fb, kpn, KVB_DROP_MAC_TABLE_FULL);
	frame_udp4(&f, BCAST, MP, 32);
	ret = run_tc(fb, kpn, &f);
	full1 = drops(fb, kpn, KVB_DROP_MAC_TABLE_FULL);
	port_get(fb, kpn, &p);
	/* the loader's static entry (attach ... mac, port set mac) */
	set = fdb_static_set(fb, NET_B, MS, kh1);
	fdb_del(fb, NET_B, MS);
	fdb_purge(fb, kup, 0);
	port_detach(fb, "unit", &p);
	system("ip link del kpn");
	/* the count the sweep keeps is right again for the next tests */
	swept = wait_sweeps(fb);
	CHECK(lf1 > lf0, "a flood larger than the table: no learn_fail");
	CHECK(full1 == full0,
	      "a new guest could not pin its MAC during a LAN MAC flood "
	      "(verdict %d, mac-table-full +%llu)", ret, full1 - full0);
	CHECK(!memcmp(p.mac, MP, 6) && (p.flags & KVB_PORT_F_MAC_PINNED),
	      "kpn's MAC not pinned during a LAN MAC flood");
	CHECK(!set, "static entry during a LAN MAC flood: %s",
	      fdb_set_error(set));
	CHECK(swept, "the sweep did not run");
}

/* Learned (not static) entries of network net_id in the MAC table. */
static __u64 fdb_learned_in(struct fabric *fb, __u32 net_id)
{
	struct kvb_fdb_key k, next, *prev = NULL;
	struct kvb_fdb_entry e;
	__u64 n = 0;

	while (!bpf_map_get_next_key(fb->fdb_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.net_id == net_id &&
		    !bpf_map_lookup_elem(fb->fdb_fd, &k, &e) &&
		    !(e.flags & KVB_FDB_F_STATIC))
			n++;
	}
	return n;
}

/* Network net_id's learned-entry count as the datapath keeps it. */
static int fdbnet_get(struct fabric *fb, __u32 net_id, struct kvb_fdbnet *n)
{
	char path[600];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", fb->dir, KVB_MAP_FDBNET);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	err = bpf_map_lookup_elem(fd, &net_id, n);
	close(fd);
	return err;
}

/*
 * One network's LAN sending random source MACs (macof) takes that
 * network's own places and the shared ones (KVB_FDB_SHARED), never
 * another network's KVB_FDB_NET_MIN: a host behind a guest port of
 * network b is still learned during the flood in a, and b in its turn
 * stops at its own places while a holds the shared ones (learn_fail).
 * After the sweep, each network's count is what the table holds. Before,
 * the flood in a took every place of every network for 5 minutes.
 */
static void t_flood_leaves_other_networks_learning(struct fabric *fb)
{
	static const __u8 H[6] = { 0x02, 0, 0, 0, 0xd, 0x31 };
	__u8 src[6] = { 0x0a, 0xf2 };
	struct kvb_fdb_entry e;
	struct kvb_fdb_key k;
	struct kvb_fdbnet na;
	struct frame f;
	__u64 la, lb, lf0, lf1, ta;
	int got, swept, counted;

	/* the flood in a: more MACs than the table has places */
	lan_mac_flood(fb, src[1]);
	la = fdb_learned_in(fb, NET_A);
	/* a host behind kh2 (network b) is learned */
	frame_udp4(&f, upmac, H, 32);
	run_tc(fb, kh2, &f);
	memset(&k, 0, sizeof(k));
	k.net_id = NET_B;
	memcpy(k.mac, H, 6);
	got = !bpf_map_lookup_elem(fb->fdb_fd, &k, &e) && e.ifindex == kh2;
	/* and b stops at its own places */
	lf0 = port_stats(fb, kh2).learn_fail;
	src[1] = 0xf3;
	for (__u32 i = 0; i < 2 * KVB_FDB_NET_MIN; i++) {
		src[4] = (__u8)(i >> 8);
		src[5] = (__u8)i;
		frame_udp4(&f, upmac, src, 32);
		run_tc(fb, kh2, &f);
	}
	lf1 = port_stats(fb, kh2).learn_fail;
	lb = fdb_learned_in(fb, NET_B);
	fdb_purge(fb, kh2, 0);
	/* some of a's flood goes: the sweep counts what is left */
	for (__u32 i = 0; i < 1000; i++) {
		src[1] = 0xf2;
		src[2] = (__u8)(i >> 24);
		src[3] = (__u8)(i >> 16);
		src[4] = (__u8)(i >> 8);
		src[5] = (__u8)i;
		memset(&k, 0, sizeof(k));
		k.net_id = NET_A;
		memcpy(k.mac, src, 6);
		bpf_map_delete_elem(fb->fdb_fd, &k);
	}
	swept = wait_sweeps(fb);
	ta = fdb_learned_in(fb, NET_A);
	counted = !fdbnet_get(fb, NET_A, &na);
	fdb_purge(fb, kup, 0);
	wait_sweeps(fb);
	CHECK(la >= KVB_FDB_SHARED / 2 && la <= KVB_FDB_SHARED + KVB_FDB_NET_MIN,
	      "network a learned %llu MACs of its flood (its places and the "
	      "shared ones: %u)", la, KVB_FDB_SHARED + KVB_FDB_NET_MIN);
	CHECK(got, "network b learned no MAC during a flood in network a");
	/* b takes its own places and what a left of the shared ones (a
	 * sweep during a's flood counts some of it twice: a stops short) */
	CHECK(la + lb <= KVB_FDB_SHARED + 2 * KVB_FDB_NET_MIN && lf1 > lf0,
	      "network b learned %llu MACs while a held %llu (b's own: %u, "
	      "shared %u; learn_fail +%llu)", lb, la, KVB_FDB_NET_MIN,
	      KVB_FDB_SHARED, lf1 - lf0);
	CHECK(swept && counted && na.learned == ta,
	      "after the sweep network a's count is %llu, its table holds "
	      "%llu", counted ? na.learned : 0ULL, ta);
	/* what the datapath added is taken off by the sweeps after it */
	CHECK(na.added < KVB_FDB_NET_MIN,
	      "after the sweep network a still counts %llu MACs added",
	      na.added);
}

/*
 * Every port counts at a slot of its own in kvb_stats (an array: an
 * index per frame, not a hash lookup); a port attached where another was
 * starts from zero, not from the counts its slot's last holder left.
 */
/*
 * A guest's tap deleted without detach (QEMU exited, libvirt destroyed
 * the domain) keeps its port, static MAC entry and flood membership until
 * gc; a new device that takes its ifindex (ip link add ... index N) must
 * get none of the network's frames: neither unicast to the old guest's
 * MAC (flooded, as unknown, to the live ports) nor floods.
 */
static void t_vanished_port_gets_nothing(struct fabric *fb)
{
	static const __u8 GZ[6] = { 0x52, 0x54, 0, 0, 0xa, 0x7a };
	struct port_opts o = { .mac = GZ, .spoofcheck = true, .naddrs = -1 };
	struct frame f;
	struct kvb_port p;
	struct txs a, b;
	__u32 kz;
	__u64 z0;
	char cmd[160];
	int ret;

	CHECK(!add_veth("kz", &kz) &&
	      !port_attach(fb, "unit", "kz", NET_A, KVB_PORT_GUEST, &o),
	      "attach kz");
	frame_udp4(&f, GZ, M2, 32);
	z0 = tx(fb, kz);
	ret = run_tc(fb, kg2, &f);
	CHECK(ret == TC_ACT_REDIRECT && tx(fb, kz) == z0 + 1,
	      "before: verdict %d", ret);
	snprintf(cmd, sizeof(cmd), "ip link del kz && ip link add kzn index %u "
		 "type veth peer name kznp && ip link set kzn up && "
		 "ip link set kznp up", kz);
	CHECK(!system(cmd) && if_nametoindex("kzn") == kz,
	      "a new device with kz's ifindex %u", kz);
	a = txs(fb);
	z0 = tx(fb, kz);
	ret = run_tc(fb, kg2, &f);
	b = txs(fb);
	CHECK(ret == TC_SHOT_CONSUMED, "unicast to the gone guest's MAC: "
	      "verdict %d (redirect: to the new device)", ret);
	CHECK(tx(fb, kz) == z0, "sent to kz's ifindex");
	CHECK(b.g1 == a.g1 + 1 && b.up == a.up + 1,
	      "not flooded to the live ports");
	frame_udp4(&f, BCAST, M2, 32);
	run_tc(fb, kg2, &f);
	CHECK(tx(fb, kz) == z0, "broadcast sent to kz's ifindex");
	if (!port_get(fb, kz, &p))
		port_detach(fb, "gc", &p);
	system("ip link del kzn");
}

static void t_port_counters_own_slot(struct fabric *fb)
{
	const __u32 ports[] = { kg1, kg2, kg3, kup, kh1, kh2 };
	struct port_opts plain = { .xdp = false, .naddrs = -1 };
	struct kvb_port p, q;
	struct frame f;
	__u16 slot;

	for (unsigned int i = 0; i < 6; i++) {
		CHECK(!port_get(fb, ports[i], &p) && p.slot, "port %u: no slot",
		      ports[i]);
		for (unsigned int j = 0; j < i; j++)
			CHECK(!port_get(fb, ports[j], &q) && q.slot != p.slot,
			      "ports %u and %u share slot %u", ports[i],
			      ports[j], p.slot);
	}
	CHECK(!port_attach(fb, "unit", "kfree", NET_B, KVB_PORT_GUEST, &plain) &&
	      !port_get(fb, kfree, &p), "attach kfree");
	slot = p.slot;
	frame_udp4(&f, UNKNOWN, M3, 32);
	run_tc(fb, kfree, &f);
	CHECK(port_stats(fb, kfree).rx_packets == 1, "rx not counted");
	CHECK(!port_detach(fb, "unit", &p), "detach kfree");
	CHECK(!port_attach(fb, "unit", "kfree", NET_B, KVB_PORT_GUEST, &plain) &&
	      !port_get(fb, kfree, &p), "attach kfree again");
	CHECK(p.slot == slot, "slot %u, then %u: the test proves nothing",
	      slot, p.slot);
	CHECK(port_stats(fb, kfree).rx_packets == 0,
	      "a new port starts with its slot's old counts");
	port_detach(fb, "unit", &p);
}

/*
 * A bridge network made as `net add NAME type bridge` makes it, through
 * the library; the suites know it by id (the first network made is 1).
 */
static int add_net(struct fabric *fb, __u32 id, const char *name)
{
	struct net_spec s = { .type = KVB_NET_BRIDGE };
	struct kvb_net n;

	snprintf(s.name, sizeof(s.name), "%s", name);
	if (net_create(fb, &s) || net_find(fb, name, &n))
		return -1;
	if (n.id != id) {
		printf("FAIL unit setup: network %s is %u, not %u\n", name,
		       n.id, id);
		return -1;
	}
	return 0;
}

int bridge_fixture(struct fabric *fb)
{
	/* spoofcheck off here: these tests are about switching */
	struct port_opts plain = { .xdp = true, .naddrs = -1 };
	struct port_opts g1 = { .xdp = true, .naddrs = -1, .mac = G1 };

	if (add_veth("kg1", &kg1) || add_veth("kg2", &kg2) ||
	    add_veth("kg3", &kg3) || add_veth("kup", &kup) ||
	    add_veth("kh1", &kh1) || add_veth("kh2", &kh2) ||
	    add_veth("kfree", &kfree)) {
		printf("FAIL unit setup: cannot create veth devices\n");
		return -1;
	}
	if (add_net(fb, NET_A, "a") || add_net(fb, NET_B, "b") ||
	    port_attach(fb, "unit", "kg1", NET_A, KVB_PORT_GUEST, &g1) ||
	    port_attach(fb, "unit", "kg2", NET_A, KVB_PORT_GUEST, &plain) ||
	    port_attach(fb, "unit", "kg3", NET_A, KVB_PORT_GUEST, &plain) ||
	    port_attach(fb, "unit", "kup", NET_A, KVB_PORT_UPLINK, &plain) ||
	    port_attach(fb, "unit", "kh1", NET_B, KVB_PORT_GUEST, &plain) ||
	    port_attach(fb, "unit", "kh2", NET_B, KVB_PORT_GUEST, &plain) ||
	    dev_get_mac("kup", upmac)) {
		printf("FAIL unit setup: cannot build the test networks\n");
		return -1;
	}
	unit_uplink = kup;
	return 0;
}

int bridge_tests(struct fabric *fb)
{
	int nfail = 0;

	RUN(t_unknown_unicast_floods_within_network);
	RUN(t_known_unicast_redirects);
	RUN(t_learning_moves_with_the_mac);
	RUN(t_static_entry_never_moves);
	RUN(t_broadcast_stays_in_network);
	RUN(t_forged_destination_of_other_network);
	RUN(t_reflect_dropped);
	RUN(t_mtu);
	RUN(t_gso_segments_checked_against_mtu);
	RUN(t_gso_size_implausible);
	RUN(t_vlan_tagged_dropped);
	RUN(t_vlan_trunk);
	RUN(t_link_local_groups_not_forwarded);
	RUN(t_invalid_source_dropped);
	RUN(t_truncation_at_every_header);
	RUN(t_padded_minimum_frame_passes);
	RUN(t_uplink_frame_for_host);
	RUN(t_uplink_broadcast_reaches_guests_and_host);
	RUN(t_uplink_refusals_reach_the_host);
	RUN(t_guest_to_host);
	RUN(t_host_egress_switches_to_guests);
	RUN(t_host_link_local_groups_to_the_wire_only);
	RUN(t_fabric_marked_frames_pass_uplink);
	RUN(t_unattached_device_untouched);
	RUN(t_xdp_passes_valid_frames);
	RUN(t_full_fdb_counts_and_still_forwards);
	RUN(t_aged_learned_entries_are_deleted);
	RUN(t_pin_without_room_is_not_pinned);
	RUN(t_learning_leaves_room_for_static_entries);
	RUN(t_flood_leaves_other_networks_learning);
	RUN(t_missing_stage_is_a_counted_drop);
	RUN(t_port_of_missing_network_dropped);
	RUN(t_port_counters_own_slot);
	RUN(t_vanished_port_gets_nothing);

	return nfail;
}
