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
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "unit.h"

static const __u8 O1[6] = { 0x02, 0, 0, 0, 0x0c, 0x01 };
static const __u8 R1[6] = { 0x02, 0, 0, 0, 0x0c, 0x51 };
static const __u8 R2[6] = { 0x02, 0, 0, 0, 0x0c, 0x52 };
static const __u8 R3[6] = { 0x02, 0, 0, 0, 0x0c, 0x53 };
static const __u8 ZERO[6];
static const __u8 BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static __u32 ko1, ko2, ko3, ovl;
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

static void t_ovl_too_big_for_the_underlay(struct fabric *fb)
{
	struct kvb_net n;
	struct frame f;
	__u64 d0 = port_stats(fb, ko1).drop[KVB_DROP_OVL_TOO_BIG];
	int ret;

	/* the underlay shrank after net add (the upkeep step read it) */
	CHECK(!net_get(fb, on.id, &n), "no network");
	n.ovl_mtu = 600;
	CHECK(!net_put(fb, &n), "cannot update the network");
	CHECK(!plant_remote(fb, R1), "cannot plant the remote entry");
	frame_udp4(&f, R1, O1, 800);
	ret = run_tc(fb, ko1, &f);
	n.ovl_mtu = on.ovl_mtu;
	net_put(fb, &n);
	CHECK(ret == TC_ACT_SHOT, "verdict %d, want drop", ret);
	CHECK(port_stats(fb, ko1).drop[KVB_DROP_OVL_TOO_BIG] == d0 + 1,
	      "not counted overlay-too-big");
}

int overlay_tests(struct fabric *fb)
{
	char *add[] = { "ovl", "type", "bridge", "vni", "4242", "vtep",
			"192.0.2.1", "vtep", "192.0.2.2", "mtu", "1400" };
	struct port_opts g = { .naddrs = -1 };
	struct port_opts sc = { .spoofcheck = true, .naddrs = -1 };
	struct net_spec s;
	int nfail = 0;

	__u32 kul;

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
	return nfail;
}
