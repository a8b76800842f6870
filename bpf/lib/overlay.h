/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Networks that span hosts: frames between hosts ride the kernel's VXLAN
 * device in external (collect_md) mode, one device for the whole fabric.
 * The tunnel key (VNI, the other host's underlay address) is read and set
 * here; the kernel only encapsulates. No kernel FDB: a MAC behind another
 * host is an entry of kvb_fdb like a local one (KVB_FDB_F_REMOTE, the
 * VXLAN device as its port, the host's address beside it), with the same
 * ageing.
 *
 * - From the tunnel: only a configured vtep of the VNI's network is
 *   heard (overlay-unknown-vni, overlay-unknown-peer); its source MAC is
 *   learnt as behind that host; the frame goes to local guest ports only
 *   (split horizon: never back into the tunnel, never to the uplink or
 *   the gateway, which stay their host's own).
 * - From a local guest: a MAC behind another host is sent there; a
 *   flood goes to the local ports and once to every vtep (head-end
 *   replication). A guest's identity is checked on its own host, before
 *   anything is tunnelled.
 *
 * The replication and the unicast send are global functions: verified
 * once, not once per path of every stage that switches.
 */
#ifndef KVB_OVERLAY_H
#define KVB_OVERLAY_H

#include <linux/pkt_cls.h>
#include "bind.h"
#include "fdb.h"
#include "stats.h"
#include "subnet.h"

/*
 * The tunnel key and a MAC table key of the global functions, per CPU:
 * they are called from stages whose own stack is nearly all taken (the
 * nat stage's 448 bytes of 512).
 */
struct ovl_scratch {
	struct bpf_tunnel_key tk;
	struct kvb_fdb_key k;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ovl_scratch);
} kvb_ovl_tmp SEC(".maps");

static __always_inline struct ovl_scratch *ovl_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kvb_ovl_tmp, &zero);
}

/* ovl_unicast's answer when the MAC is no longer behind another host */
#define OVL_FLOOD 0x7ffd

static __always_inline int vtep_equal(const struct kvb_vtep_addr *x,
				      const struct kvb_vtep_addr *y)
{
	const __u32 *a = (const __u32 *)x->addr, *b = (const __u32 *)y->addr;

	return x->family == y->family && a[0] == b[0] && a[1] == b[1] &&
	       a[2] == b[2] && a[3] == b[3];
}

/* Set skb's tunnel key to VNI and host a. */
static __always_inline int ovl_set_key(struct __sk_buff *skb,
				       struct bpf_tunnel_key *k, __u32 vni,
				       const struct kvb_vtep_addr *a)
{
	__u64 flags = 0;

	__builtin_memset(k, 0, sizeof(*k));
	k->tunnel_id = vni;
	k->tunnel_ttl = 64;
	if (a->family == 6) {
		__builtin_memcpy(k->remote_ipv6, a->addr, 16);
		flags = BPF_F_TUNINFO_IPV6;
	} else {
		__u32 v4;

		__builtin_memcpy(&v4, a->addr, 4);
		k->remote_ipv4 = bpf_ntohl(v4);	/* the helper wants host order */
	}
	return bpf_skb_set_tunnel_key(skb, k, sizeof(*k), flags);
}

/*
 * The L3 and L4 headers every segment of a GSO frame carries: its IPv4
 * header (options too) or IPv6's fixed one, and its TCP header (options
 * too: timestamps are 12 bytes) or UDP's. What cannot be read counts as
 * the smallest, an IPv4 and a TCP header without options.
 */
static __always_inline __u32 ovl_gso_hdr(struct __sk_buff *skb)
{
	__u8 vi = 0, proto = 0, doff = 0;
	__u32 hdr;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &vi, 1))
		return 40;
	if (vi >> 4 == 4) {
		hdr = (vi & 15) * 4;
		if (hdr < 20 || bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1))
			return 40;
	} else if (vi >> 4 == 6) {
		hdr = 40;
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &proto, 1))
			return 40;
	} else {
		return 40;
	}
	if (proto == IPPROTO_UDP)
		return hdr + 8;
	if (proto != IPPROTO_TCP ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + hdr + 12, &doff, 1) ||
	    doff >> 4 < 5)
		return hdr + 20;
	return hdr + (doff >> 4) * 4;
}

/*
 * Does the frame fit the underlay (net's ovl_mtu, the largest L3 packet
 * it carries)? A GSO super-frame is cut by gso_size: its segments are
 * gso_size plus their headers (ovl_gso_hdr), as the kernel cuts them.
 */
static __always_inline int ovl_fits(struct __sk_buff *skb,
				    const struct kvb_net *net)
{
	__u32 gso = skb->gso_size;

	if (!net->ovl_mtu)
		return 1;
	if (gso)
		return gso + ovl_gso_hdr(skb) <= net->ovl_mtu;
	return skb->len <= net->ovl_mtu + ETH_HLEN;
}

/*
 * Head-end replication: a copy of the flood to every vtep of net_id,
 * each with its own tunnel key (the key lives in a per-CPU metadata
 * dst that the VXLAN device reads as it sends, which is at once: it has
 * no queue). TC_ACT_SHOT, or a drop when the frame does not fit.
 * Inlined into one global function (bridge_flood_guest): a stage's
 * stack has no room for a second frame of calls.
 */
static __always_inline int ovl_flood(struct __sk_buff *skb,
				     const struct kvb_net *net)
{
	struct ovl_scratch *t = ovl_scratch();
	__u32 n, ovl, len = skb->len;

	if (!t || !net->vni || !net->ovl_ifindex)
		return TC_ACT_SHOT;
	if (!ovl_fits(skb, net))
		return DROP(KVB_DROP_OVL_TOO_BIG);
	n = net->nvteps;
	ovl = net->ovl_ifindex;
	for (__u32 i = 0; i < KVB_MAX_VTEPS; i++) {
		if (i >= n)
			break;
		if (ovl_set_key(skb, &t->tk, net->vni, &net->vteps[i]))
			continue;
		if (bpf_clone_redirect(skb, ovl, 0) >= 0)
			count_tx(ovl, len);
	}
	return TC_ACT_SHOT;
}

/*
 * A frame for mac (mac_u64), learnt behind another host: to that host.
 * The verdict (TC_ACT_REDIRECT), a drop, or OVL_FLOOD when the entry
 * moved back here (or aged) since the caller looked.
 */
__noinline int ovl_unicast(struct __sk_buff *skb, __u32 net_id, __u64 mac)
{
	struct kvb_net *net = net_lookup(net_id);
	struct ovl_scratch *t = ovl_scratch();
	struct kvb_fdb_entry *e;

	if (!net || !t || !net->vni || !net->ovl_ifindex)
		return DROP(KVB_DROP_NO_NET);
	fdb_key(&t->k, net_id, (const __u8 *)&mac);
	e = bpf_map_lookup_elem(&kvb_fdb, &t->k);
	if (!e || !(e->flags & KVB_FDB_F_REMOTE) ||
	    e->ifindex != net->ovl_ifindex)
		return OVL_FLOOD;
	if (!ovl_fits(skb, net))
		return DROP(KVB_DROP_OVL_TOO_BIG);
	if (ovl_set_key(skb, &t->tk, net->vni, &e->remote))
		return DROP(KVB_DROP_NO_NET);
	count_tx(net->ovl_ifindex, skb->len);
	return bpf_redirect(net->ovl_ifindex, 0);
}

/*
 * Learn that mac (mac_u64) of network net lives behind host a, reached
 * through the VXLAN device ovl. A MAC already behind a local port stays
 * there while that port exists in this network, its device is there and
 * it owns the MAC (static, or a fresh entry of a spoofcheck guest): a
 * guest that migrated away had its port detached here, or its device
 * went with its QEMU, and then its announcement from the new host moves
 * the entry at once. A fresh entry of the uplink or a gateway port
 * (fdb_entry_lan) stays too: a guest of another host sending the LAN
 * router's MAC would otherwise pull every local guest's frames to their
 * default gateway into the tunnel. Another learned local entry moves as
 * in any switch. A MAC that stays is not the sender's to send either:
 * the frame is refused as `spoof-mac` (a port of this host sending it
 * would be; a guest elsewhere with spoofcheck off, or a forged VXLAN
 * packet from a vtep's address, would otherwise reach this host's guests
 * as the local guest, or as the LAN's router). The same host again is
 * refreshed at most once a second. 0, or the drop.
 */
static __always_inline int ovl_learn(struct __sk_buff *skb, __u32 net_id,
				      __u64 mac, __u32 ovl,
				      const struct kvb_vtep_addr *a)
{
	struct kvb_fdb_entry *e, fresh = {};
	struct kvb_ctsweep *sw;
	struct kvb_fdbnet *n;
	struct kvb_fdb_key k;
	__u64 now = kvb_now();
	int was_static;

	fdb_key(&k, net_id, (const __u8 *)&mac);
	e = bpf_map_lookup_elem(&kvb_fdb, &k);
	if (e) {
		/* a DHCP host reservation's MAC stays the reservation's,
		 * whoever sends from it (fdb_reserve: no guest here pins
		 * it; its frames from the tunnel are flooded to) */
		if (e->flags & KVB_FDB_F_RESERVED)
			return 0;
		if (e->flags & KVB_FDB_F_REMOTE) {
			if (vtep_equal(&e->remote, a)) {
				if (now - e->seen_ns >= KVB_FDB_REFRESH_NS)
					e->seen_ns = now;
				return 0;
			}
		} else {
			__u32 owner = e->ifindex;
			struct kvb_port *p;

			p = bpf_map_lookup_elem(&kvb_port, &owner);
			/* port_dev_live: the port's device went (QEMU
			 * gone) and no command has forgotten it yet, or
			 * another device has its ifindex now */
			if (p && p->net_id == net_id &&
			    ((e->flags & KVB_FDB_F_STATIC) ||
			     fdb_entry_owned(e, now) ||
			     fdb_entry_lan(e, now)) &&
			    port_dev_live(owner))
				return DROP(KVB_DROP_SPOOF_MAC);
		}
	}
	/* a whole new entry: no reader sees half of a move; a MAC new
	 * to the table only while learning has room (fdb_room) */
	fresh.ifindex = ovl;
	fresh.flags = KVB_FDB_F_REMOTE;
	fresh.seen_ns = now;
	fresh.remote = *a;
	/* a static entry whose port went (fdb_entry_owned no more) becomes
	 * a learned one, in the network's count now */
	was_static = e && (e->flags & KVB_FDB_F_STATIC);
	sw = e && !was_static ? NULL : fdb_counter();
	n = e && !was_static ? NULL : fdb_net_counter(net_id);
	if ((!e && !fdb_room(sw, n)) ||
	    bpf_map_update_elem(&kvb_fdb, &k, &fresh, BPF_ANY)) {
		struct kvb_stats *st = stats_of(ovl);

		if (st)
			st->learn_fail++;
		return 0;
	}
	if (!e)
		fdb_counted(sw, n);
	else if (was_static)
		fdb_net_counted(sw, n);
	return 0;
}

/*
 * The network a frame from the tunnel belongs to, by its tunnel key: the
 * VNI must be one of this host's networks and the sender one of that
 * network's vteps. The network, with *a the sender; NULL and *ret a drop
 * otherwise.
 */
static __always_inline struct kvb_net *ovl_source(struct __sk_buff *skb,
						  struct kvb_vtep_addr *a,
						  int *ret)
{
	struct bpf_tunnel_key tk = {};
	struct kvb_vtep_key vk = {};
	struct kvb_net *net;
	__u32 *net_id;

	*ret = DROP(KVB_DROP_OVL_PEER);
	if (!bpf_skb_get_tunnel_key(skb, &tk, sizeof(tk), 0)) {
		__u32 v4 = bpf_htonl(tk.remote_ipv4);

		vk.a.family = 4;
		__builtin_memcpy(vk.a.addr, &v4, 4);
	} else if (!bpf_skb_get_tunnel_key(skb, &tk, sizeof(tk),
					   BPF_F_TUNINFO_IPV6)) {
		vk.a.family = 6;
		__builtin_memcpy(vk.a.addr, tk.remote_ipv6, 16);
	} else {
		return NULL;
	}
	vk.vni = (__u32)tk.tunnel_id;
	*ret = DROP(KVB_DROP_OVL_VNI);
	net_id = bpf_map_lookup_elem(&kvb_vni, &vk.vni);
	if (!net_id)
		return NULL;
	*ret = DROP(KVB_DROP_OVL_PEER);
	if (!bpf_map_lookup_elem(&kvb_vtep, &vk))
		return NULL;
	*ret = DROP(KVB_DROP_OVL_VNI);
	net = net_lookup(*net_id);
	if (!net || net->vni != vk.vni)
		return NULL;
	*a = vk.a;
	*ret = 0;
	return net;
}

/*
 * Does a port of this host hold addr (family 4 or 6) in network net_id,
 * for another MAC than smac (and sha, an ARP's sender MAC, when given)?
 * Its static `ip`, a live lease, or an uplink's hold (the host's own
 * addresses, its routes' next hops, the LAN routers' link-locals). A
 * guest's SAVI binding (first claim) is not held against another host:
 * that host's guest may have claimed first (its DAD probe, its defence
 * of the address, must reach this host's guest). A guest port's own MAC
 * is its holder moving (migration: the same MAC announced from the new
 * host), never a claim; so is any MAC for a port whose MAC is not known
 * yet.
 */
static __always_inline int ovl_held_here(__u32 net_id, __u8 family,
					 const __u8 *addr, const __u8 *smac,
					 const __u8 *sha)
{
	struct kvb_addr_key k = { .family = family, .net_id = (__u8)net_id };
	struct kvb_addr *o, *b;
	struct kvb_port *p;
	__u32 owner;

	__builtin_memcpy(k.addr, addr, family == 4 ? 4 : 16);
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	if (!o)
		return 0;
	owner = o->owner;
	p = bpf_map_lookup_elem(&kvb_port, &owner);
	if (!p)
		return 0;
	if (!(o->flags & KVB_ADDR_F_STATIC)) {
		b = bind_of(owner, family, k.addr, 16);
		if (!b)
			return 0;	/* a binding that ended */
		if ((b->flags & KVB_ADDR_F_SAVI) && p->role == KVB_PORT_GUEST)
			return 0;	/* first come, per host */
	}
	if (p->role != KVB_PORT_GUEST)
		return 1;
	if (mac_is_zero(p->mac))
		return 0;
	return !mac_equal(p->mac, smac) || (sha && !mac_equal(p->mac, sha));
}

/*
 * Does a frame from the tunnel claim an address of net's gateway (its
 * IPv4 or IPv6 gateway, the host interface's link-local) with another
 * MAC than the gateway's own? The gateway is anycast, every host's with
 * one MAC (overlay_gateway_mac): another host's gateway asks and answers
 * with that MAC, a guest behind it never. The gateway's addresses are in
 * no port's bindings (the guard knows them from the network), so
 * ovl_held_here cannot see them.
 */
static __always_inline int ovl_gateway_claimed(const struct kvb_net *net,
					       __u8 family, const __u8 *a,
					       const __u8 *smac,
					       const __u8 *sha)
{
	__be32 a4;

	if (family == 4) {
		__builtin_memcpy(&a4, a, 4);
		if (!ip4_is_gateway(net, a4))
			return 0;
	} else if (!ip6_is_gateway(net, a)) {
		return 0;
	}
	return mac_is_zero(net->uplink_mac) ||
	       !mac_equal(smac, net->uplink_mac) ||
	       (sha && !mac_equal(sha, net->uplink_mac));
}

/* A claim of addr from the tunnel that this host refuses: its gateway's,
 * or one a port of this host holds (ovl_gateway_claimed, ovl_held_here) */
static __always_inline int ovl_claim_refused(const struct kvb_net *net,
					     __u8 family, const __u8 *a,
					     const __u8 *smac,
					     const __u8 *sha)
{
	return ovl_gateway_claimed(net, family, a, smac, sha) ||
	       ovl_held_here(net->id, family, a, smac, sha);
}

/*
 * A frame from the tunnel (network net_id; its IPv6 L4 header at l4off
 * when it is ICMPv6 of type icmp6, else 0: ARP) that claims an address a port
 * of this host holds, with another MAC (ovl_held_here): an ARP sender, an
 * IPv6 neighbour discovery message's source, a neighbour advertisement's
 * target, an ARP probe's or a DAD probe's target (ovl_held_here only);
 * and one that claims the gateway's (ovl_gateway_claimed). Each
 * host holds only its own ports' addresses, and the
 * sender's host, which checked its guest's identity, cannot know this
 * host's: a guest there without an address of its own could otherwise
 * make this host's guests send to it for a guest here, the LAN's router
 * or the host. The drop (spoof-arp, spoof-nd; counted on the VXLAN
 * device), or 0; GUARD_ARP_DEFEND or GUARD_ND_DEFEND for an ARP or DAD
 * probe of such an address (ovl_defend answers it). A global function:
 * the overlay stage's stack is its own.
 */
__noinline int ovl_claim_forged(struct __sk_buff *skb, __u32 net_id,
				__u32 l4off, __u32 icmp6)
{
	__u8 smac[ETH_ALEN], sha[ETH_ALEN], a[16];
	struct kvb_net *net = net_lookup(net_id);

	if (!skb || !net || bpf_skb_load_bytes(skb, 6, smac, ETH_ALEN))
		return 0;
	if (!icmp6) {
		/* ARP: the sender's MAC, 8 bytes in; its address, 14 */
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 8, sha, ETH_ALEN) ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 14, a, 4))
			return 0;
		if (a[0] | a[1] | a[2] | a[3])
			return ovl_claim_refused(net, 4, a, smac, sha) ?
				       DROP(KVB_DROP_SPOOF_ARP) : 0;
		/*
		 * A probe (RFC 5227, sender 0.0.0.0) for an address a port
		 * here holds, from another MAC: a guest elsewhere that
		 * answers this host's guest's probes with probes of its
		 * own would make it decline every lease (the guard refuses
		 * the same from a port of this host). It does not reach
		 * the holder; the stage answers it for the holder
		 * (GUARD_ARP_DEFEND: ovl_defend), so that the prober does
		 * not take the address. Its target, 24 in.
		 */
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 24, a, 4))
			return 0;
		return ovl_held_here(net->id, 4, a, smac, sha) ?
			       GUARD_ARP_DEFEND : 0;
	}
	if (icmp6 < 133 || icmp6 > 137 || l4off < ETH_HLEN + 40 ||
	    l4off > 512)
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + 8, a, 16))
		return 0;
	if (a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7] | a[8] |
	    a[9] | a[10] | a[11] | a[12] | a[13] | a[14] | a[15]) {
		if (ovl_claim_refused(net, 6, a, smac, NULL))
			return DROP(KVB_DROP_SPOOF_ND);
	} else if (icmp6 == 135) {
		/* a DAD probe (source ::) for an address a port here
		 * holds, from another MAC: as the ARP probe above (it
		 * would make this host's guest give its address up),
		 * answered for the holder (GUARD_ND_DEFEND) */
		if (bpf_skb_load_bytes(skb, l4off + 8, a, 16))
			return 0;
		return ovl_held_here(net->id, 6, a, smac, NULL) ?
			       GUARD_ND_DEFEND : 0;
	}
	if (icmp6 != 136 || bpf_skb_load_bytes(skb, l4off + 8, a, 16))
		return 0;
	return ovl_claim_refused(net, 6, a, smac, NULL) ?
		       DROP(KVB_DROP_SPOOF_ND) : 0;
}

#endif /* KVB_OVERLAY_H */
