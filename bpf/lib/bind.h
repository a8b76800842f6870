/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Address bindings (kvb_addr, see maps/kvb_maps.h for their rules): the
 * one mechanism behind DHCP snooping and first-claim SAVI. Both hooks
 * read bindings; binding and unbinding are global functions, verified
 * once rather than on every path that reaches them.
 */
#ifndef KVB_BIND_H
#define KVB_BIND_H

#include "ctx.h"
#include "drop.h"
#include "fdb.h"
#include "icmp6.h"
#include "maps.h"
#include "subnet.h"

#define KVB_NS 1000000000ULL
/* IPv6 addresses the datapath holds for an uplink (savi_hold_host) */
#define KVB_UPLINK_HOLD_MAX 64

/* What kvb_bind answers. */
enum {
	BIND_OK = 0,
	BIND_HELD = 1,		/* another port holds the address */
	BIND_FULL = 2,		/* the port's SAVI cap, or the table, is full */
};

/* A binding lives until its expiry passes (0: never). */
static __always_inline int bind_live(const struct kvb_addr *v, __u64 now)
{
	__u64 e = v->expires_ns;

	return !e || now <= e;
}

/* bind_of, its key built in *k (a scratch map's, where the caller's
 * stack has no room for one) */
static __always_inline struct kvb_addr *bind_of_in(struct kvb_addr_key *k,
						   __u32 ifindex, __u8 family,
						   const void *addr, __u32 len)
{
	struct kvb_addr *v;

	__builtin_memset(k, 0, sizeof(*k));
	k->ifindex = ifindex;
	k->family = family;
	__builtin_memcpy(k->addr, addr, len);
	v = bpf_map_lookup_elem(&kvb_addr, k);
	return v && bind_live(v, kvb_now()) ? v : NULL;
}

/* The port's live binding of addr (len bytes of family), or NULL. */
static __always_inline struct kvb_addr *bind_of(__u32 ifindex, __u8 family,
						const void *addr, __u32 len)
{
	struct kvb_addr_key k;

	return bind_of_in(&k, ifindex, family, addr, len);
}

static __always_inline void count_dec(__u32 *n)
{
	if (*n)
		__sync_fetch_and_add(n, -1);
}

/*
 * Remove port ifindex's binding of k's address if it was bound by one of
 * flags (never a static one unless flags say so), with its count and the
 * owner entry when that names the port. k is the port's key on entry and
 * the owner key on return. 1 when removed.
 */
static __always_inline int bind_remove(struct kvb_addr_key *k, __u32 ifindex,
				       __u32 net_id, __u32 flags)
{
	struct kvb_port *port;
	struct kvb_addr *v;
	__u32 vf;
	int gone;

	k->ifindex = ifindex;
	k->net_id = 0;
	v = bpf_map_lookup_elem(&kvb_addr, k);
	vf = v ? v->flags : 0;
	/* only one CPU's delete succeeds: it alone counts down */
	gone = (vf & flags) && !bpf_map_delete_elem(&kvb_addr, k);
	k->ifindex = 0;
	k->net_id = (__u8)net_id;
	if (!gone)
		return 0;
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (port) {
		count_dec(k->family == 4 ? &port->n_ip4 : &port->n_ip6);
		if (vf & KVB_ADDR_F_SAVI)
			count_dec(&port->n_savi);
	}
	v = bpf_map_lookup_elem(&kvb_addr, k);
	if (v && v->owner == ifindex)
		bpf_map_delete_elem(&kvb_addr, k);
	return 1;
}

/*
 * May port ifindex take a new lease of k's address (k: the port's key)?
 * Not past KVB_DHCP_LEASE_MAX leased or static addresses of the family,
 * unless it has an entry of the address already (a renewal, or its own
 * first claim made a lease): kvb_addr is shared by every network, and a
 * LAN's (or a router VM's) ACKs, one per DISCOVER the guest sends, must
 * not fill it.
 */
static __always_inline int bind_lease_room(const struct kvb_addr_key *k,
					   __u32 ifindex)
{
	struct kvb_port *port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	__u32 n;

	if (!port)
		return 1;
	if (k->family == 4)
		n = port->n_ip4;
	else
		n = port->n_ip6 > port->n_savi ? port->n_ip6 - port->n_savi : 0;
	return n < KVB_DHCP_LEASE_MAX || bpf_map_lookup_elem(&kvb_addr, k);
}

/*
 * Bind req's address (family, addr) to port req->ifindex of network
 * req->net_id, as how (KVB_ADDR_F_DHCP or KVB_ADDR_F_SAVI) until expires
 * (0: never). The owner entry decides: none, the address is free; this
 * port, it is ours (a renewal or a refresh); another port, it is that
 * port's while its binding lives, except that a DHCP lease takes a
 * learned (SAVI) binding over (the server's word). Another port's live
 * lease is not taken by an ACK to this one while that port's device
 * exists: a server that keys its leases on the client identifier ACKs
 * whoever sends another guest's (visible in its broadcasts), which must
 * not hand over that guest's address; a guest whose QEMU went without
 * `detach` (its tap gone) gives it up. A static binding is never taken,
 * and a static address of the port itself stays static. A new lease past
 * the port's cap (bind_lease_room) is BIND_FULL.
 */
__attribute__((noinline)) int kvb_bind(const struct kvb_addr_key *req,
				       __u32 how, __u64 expires)
{
	struct kvb_addr v = { .flags = how, .expires_ns = expires };
	struct kvb_addr *o, *cur;
	struct kvb_port *port;
	struct kvb_addr_key k;
	__u32 ifindex, net_id;
	int made = 0;

	if (!req)
		return BIND_HELD;
	k = *req;
	ifindex = k.ifindex;
	net_id = k.net_id;
	v.owner = ifindex;
	v.learned_ns = kvb_now();
	k.net_id = 0;
	if ((how & KVB_ADDR_F_DHCP) && !bind_lease_room(&k, ifindex))
		return BIND_FULL;
	k.net_id = net_id;
	k.ifindex = 0;
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	if (o && o->owner != ifindex) {
		__u32 other = o->owner;

		if (o->flags & KVB_ADDR_F_STATIC)
			return BIND_HELD;
		k.ifindex = other;
		k.net_id = 0;
		cur = bpf_map_lookup_elem(&kvb_addr, &k);
		/* a port whose device went (QEMU gone without detach)
		 * holds nothing learned */
		if (cur && bind_live(cur, v.learned_ns) &&
		    !port_dev_gone(&o->owner, &req->ifindex) &&
		    (!(how & KVB_ADDR_F_DHCP) ||
		     (cur->flags & KVB_ADDR_F_DHCP)))
			return BIND_HELD;
		/* dead, or moved by a lease: the other port's goes */
		if (!bind_remove(&k, other, net_id,
				 KVB_ADDR_F_DHCP | KVB_ADDR_F_SAVI)) {
			o = bpf_map_lookup_elem(&kvb_addr, &k);
			if (o && o->owner == other)
				bpf_map_delete_elem(&kvb_addr, &k);
		}
		o = NULL;
	}
	if (!o && bpf_map_update_elem(&kvb_addr, &k, &v, BPF_NOEXIST)) {
		/* another CPU's claim came first, or the table is full */
		o = bpf_map_lookup_elem(&kvb_addr, &k);
		if (!o)
			return BIND_FULL;
		if (o->owner != ifindex)
			return BIND_HELD;
	} else if (!o) {
		made = 1;	/* this claim's owner entry */
	}
	k.ifindex = ifindex;
	k.net_id = 0;
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	cur = bpf_map_lookup_elem(&kvb_addr, &k);
	if (cur) {
		if (cur->flags & KVB_ADDR_F_STATIC)
			return BIND_OK;
		/* the port's live lease stays a lease: the DAD probe every
		 * client sends for its leased address (dhcpcd, NetworkManager,
		 * systemd-networkd) claims nothing more; made a SAVI binding
		 * it would outlive the lease by a day and its release */
		if ((cur->flags & KVB_ADDR_F_DHCP) && (how & KVB_ADDR_F_SAVI) &&
		    bind_live(cur, v.learned_ns))
			return BIND_OK;
		if ((cur->flags & KVB_ADDR_F_SAVI) && (how & KVB_ADDR_F_DHCP) &&
		    port)
			count_dec(&port->n_savi);	/* leased now */
		if (!(cur->flags & KVB_ADDR_F_SAVI) && (how & KVB_ADDR_F_SAVI) &&
		    port)
			__sync_fetch_and_add(&port->n_savi, 1);	/* lease ended */
		cur->flags = how;
		cur->expires_ns = expires;
		return BIND_OK;
	}
	if (bpf_map_update_elem(&kvb_addr, &k, &v, BPF_NOEXIST)) {
		if (bpf_map_lookup_elem(&kvb_addr, &k))
			return BIND_OK;
		/* the table is full: the owner entry this claim made goes
		 * too (the sweep never takes an owner entry alone) */
		if (made) {
			k.ifindex = 0;
			k.net_id = (__u8)net_id;
			o = bpf_map_lookup_elem(&kvb_addr, &k);
			if (o && o->owner == ifindex)
				bpf_map_delete_elem(&kvb_addr, &k);
		}
		return BIND_FULL;
	}
	if (port) {
		__sync_fetch_and_add(k.family == 4 ? &port->n_ip4 :
						     &port->n_ip6, 1);
		if (how & KVB_ADDR_F_SAVI)
			__sync_fetch_and_add(&port->n_savi, 1);
		if (how & KVB_ADDR_F_DHCP)
			port->held |= k.family == 4 ? KVB_HELD_IP4 :
						      KVB_HELD_IP6;
	}
	return BIND_OK;
}

/*
 * End port ifindex's learned binding (how: DHCP or SAVI) of an address
 * (family, len bytes) in network net_id: a DHCP RELEASE or DECLINE.
 */
__attribute__((noinline)) int kvb_unbind(const struct kvb_addr_key *req,
					 __u32 how)
{
	struct kvb_addr_key k;

	if (!req)
		return 0;
	k = *req;
	return bind_remove(&k, k.ifindex, k.net_id, how);
}

/*
 * First-come, first-served source address validation (RFC 6620) for
 * IPv6: a port binds an address by its DAD probe or by its first use as
 * a source, if no live binding of another port holds it, the address lies
 * in the network's prefixes, and the port holds fewer than KVB_SAVI_MAX.
 * A binding lives KVB_SAVI_LIFE_S past its last use.
 */

/* Does a (16 bytes) lie in prefix p/plen? */
static __always_inline int ip6_in_prefix(const __u8 *p, __u32 plen,
					 const __u8 *a)
{
	for (__u32 i = 0; i < 16; i++) {
		__u32 bits = plen > i * 8 ? plen - i * 8 : 0;
		__u8 m = bits >= 8 ? 0xff : (__u8)(0xff00 >> bits);

		if ((p[i] ^ a[i]) & m)
			return 0;
	}
	return 1;
}

/*
 * May a be bound in net at all? Never multicast or loopback; link-local
 * always (any interface id: stable-privacy link-locals too); else in the
 * network's prefixes: a nat or routed network's IPv6 subnets, a bridge's
 * prefixes learned from the LAN's router advertisements (any, until it
 * has learned one), any on an internal network.
 */
static __always_inline int savi_in_prefixes(const struct kvb_net *net,
					    const __u8 *a)
{
	struct kvb_pfx_key pk = { .prefixlen = 32 + 128 };
	struct kvb_pfx *pv;

	if (a[0] == 0xff)
		return 0;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return 1;
	if (net->type == KVB_NET_NAT || net->type == KVB_NET_ROUTED) {
		for (__u32 i = 0; i < KVB_MAX_SUBNETS; i++) {
			const struct kvb_subnet *sn = &net->subnets[i];

			if (i >= net->nsubnets)
				break;
			if (sn->family == 6 &&
			    ip6_in_prefix(sn->addr, sn->prefixlen, a))
				return 1;
		}
		return 0;
	}
	if (net->type != KVB_NET_BRIDGE)
		return 1;
	pk.net_id = bpf_htonl(net->id);
	__builtin_memcpy(pk.addr, a, 16);
	pv = bpf_map_lookup_elem(&kvb_pfx, &pk);
	if (!pv)
		return 1;	/* no prefix learned yet */
	/* the network's mark (never ends), or a prefix still valid */
	return pv->expires_ns && kvb_now() <= pv->expires_ns;
}

/* a is the modified EUI-64 address of a MAC another port of net owns. */
static __always_inline int savi_eui64_of_other(__u32 net_id, __u32 ifindex,
					       const __u8 *a)
{
	__u8 mac[8] = { a[8] ^ 2, a[9], a[10], a[13], a[14], a[15] };

	if (a[11] != 0xff || a[12] != 0xfe)
		return 0;
	return fdb_owned_elsewhere(net_id, mac_u64(mac), ifindex);
}

/*
 * A port's learned (SAVI) binding of req's address (req: ifindex the
 * port, net_id its network), whose interface id is the EUI-64 of a MAC
 * another port of the network owns now: the address is that port's, as
 * savi_allowed decides at claim time, so the binding goes and its use is
 * refused (savi-conflict). A guest that took a stopped VM's EUI-64
 * address while no port owned its MAC must not keep it past the VM's
 * return and answer the VM's DAD probe for it. 0: the binding stands.
 */
__attribute__((noinline)) int savi_eui64_recheck(const struct kvb_addr_key *req)
{
	struct kvb_fdb_entry *e;
	struct kvb_addr_key k;
	struct kvb_fdb_key fk;
	__u8 mac[8];

	if (!req)
		return 0;
	k = *req;
	/* only a port's own MAC (its static entry, a spoofcheck guest's
	 * fresh one) takes a binding away here: a LAN host's frame from
	 * some MAC must not end a guest's address, claimed while that MAC
	 * was nobody's, over and over (savi_allowed still refuses new
	 * claims of it) */
	mac[0] = k.addr[8] ^ 2, mac[1] = k.addr[9], mac[2] = k.addr[10];
	mac[3] = k.addr[13], mac[4] = k.addr[14], mac[5] = k.addr[15];
	fdb_key(&fk, k.net_id, mac);
	e = bpf_map_lookup_elem(&kvb_fdb, &fk);
	if (!e || e->ifindex == k.ifindex || !fdb_entry_owned(e, kvb_now()))
		return 0;
	bind_remove(&k, req->ifindex, req->net_id, KVB_ADDR_F_SAVI);
	return DROP(KVB_DROP_SAVI_CONFLICT);
}

/*
 * A claim of the EUI-64 address of the port's own MAC: another port's
 * learned binding of it goes first (its holder took it while no port
 * owned the MAC, savi_eui64_recheck). A lease or a static address stays.
 */
__attribute__((noinline)) int savi_take_own_eui64(const struct kvb_addr_key *req)
{
	struct kvb_addr_key k;
	struct kvb_port *port;
	struct kvb_addr *o;
	__u32 ifindex;

	if (!req)
		return 0;
	ifindex = req->ifindex;
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (!port || mac_is_zero(port->mac) || !eui64_is(req->addr, port->mac))
		return 0;
	k = *req;
	k.ifindex = 0;
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	if (!o || o->owner == ifindex)
		return 0;
	return bind_remove(&k, o->owner, req->net_id, KVB_ADDR_F_SAVI);
}

/*
 * May the port of req (ifindex, net_id) bind req's address at all: 0, or
 * the drop. In the network's prefixes, not the EUI-64 address of another
 * port's MAC, and within the port's cap unless it holds it already. A
 * function of its own: its stack is not on top of kvb_bind's.
 */
__attribute__((noinline)) int savi_allowed(const struct kvb_addr_key *req)
{
	struct kvb_port *port;
	struct kvb_net *net;
	__u32 ifindex, net_id;

	if (!req)
		return DROP(KVB_DROP_SPOOF_IP);
	ifindex = req->ifindex;
	net_id = req->net_id;
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	net = net_lookup(net_id);
	if (!port || !net || !savi_in_prefixes(net, req->addr))
		return DROP(KVB_DROP_SPOOF_IP);
	if (savi_eui64_of_other(net_id, ifindex, req->addr))
		return DROP(KVB_DROP_SAVI_CONFLICT);
	if (port->n_savi >= KVB_SAVI_MAX &&
	    !bind_of(ifindex, 6, req->addr, 16)) {
		struct kvb_addr_key k = *req;
		struct kvb_addr *o;

		/* a port at its cap claiming another's address: a conflict */
		k.ifindex = 0;
		o = bpf_map_lookup_elem(&kvb_addr, &k);
		return o && o->owner != ifindex ?
			       DROP(KVB_DROP_SAVI_CONFLICT) :
			       DROP(KVB_DROP_SAVI_CAP);
	}
	return 0;
}

/*
 * Claim req's IPv6 address (req: ifindex the port, net_id its network)
 * for the port: 0 when bound (or already the port's), else the drop.
 * dad: the claim is a DAD probe (its binding's learned_ns is set anew, so
 * that others' probes wait for the port's detection to end).
 */
__attribute__((noinline)) int savi_claim(const struct kvb_addr_key *req,
					 __u32 dad)
{
	struct kvb_addr *b;
	int ret;

	ret = savi_allowed(req);
	if (ret || !req)
		return ret;
	savi_take_own_eui64(req);
	ret = kvb_bind(req, KVB_ADDR_F_SAVI,
		       kvb_now() + KVB_SAVI_LIFE_S * KVB_NS);
	if (ret == BIND_HELD)
		return DROP(KVB_DROP_SAVI_CONFLICT);
	if (ret != BIND_OK)
		return DROP(KVB_DROP_SAVI_CAP);
	if (dad) {
		b = bind_of(req->ifindex, 6, req->addr, 16);
		if (b && !(b->flags & KVB_ADDR_F_STATIC))
			b->learned_ns = kvb_now();
	}
	return 0;
}

/*
 * A DAD probe (NS from ::) for req's address from the port. A live
 * binding of another port: a static one is never probed for (refused,
 * spoof-nd, as the holder may be probing itself after a reboot at any
 * time), a learned one is probed for once it is KVB_SAVI_DAD_S old (its
 * holder answers and the claimant sees the duplicate), before that it is
 * refused (savi-conflict: the holder may still be probing). Otherwise the
 * probe claims the address (savi on); one that cannot be bound (outside
 * the prefixes) passes unbound: only its data would bind.
 */
/*
 * Not a verdict: kvb_guard found an ARP probe for an address another port
 * holds (guard_arp), or the overlay stage one from another host for an
 * address a port here holds (ovl_claim_forged). XDP passes it to tc,
 * which answers it for that port (arp_defend).
 */
#define GUARD_ARP_DEFEND 0x7ff7

/*
 * Not a verdict: savi_dad found a DAD probe (NS from ::) for an address
 * another port holds, which the guard neither claims nor lets reach the
 * holder: XDP passes it to tc, which answers it for the holder
 * (gateway.h: nd_defend, counting spoof-nd or savi-conflict), as ARP
 * probes are (guard.h: GUARD_ARP_DEFEND).
 */
#define GUARD_ND_DEFEND 0x7ff4

__attribute__((noinline)) int savi_dad(const struct kvb_addr_key *req,
				       __u32 savi)
{
	struct kvb_addr_key k;
	struct kvb_addr *o, *hb;
	__u64 now = kvb_now();
	__u32 holder;
	int ret;

	if (!req)
		return DROP(KVB_DROP_L4);
	k = *req;
	k.ifindex = 0;
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	if (o && o->owner != req->ifindex) {
		holder = o->owner;
		/* the host's own address on a bridge's uplink (a static
		 * owner entry, no binding of a port: loader addr.c) */
		if (o->flags & KVB_ADDR_F_STATIC)
			return GUARD_ND_DEFEND;
		k.ifindex = holder;
		k.net_id = 0;
		hb = bpf_map_lookup_elem(&kvb_addr, &k);
		if (hb && bind_live(hb, now) &&
		    ((hb->flags & KVB_ADDR_F_STATIC) ||
		     !port_dev_gone(&o->owner, &req->ifindex))) {
			/* a static one, or a learned one its holder may
			 * still be probing: answered for the holder */
			if ((hb->flags & KVB_ADDR_F_STATIC) ||
			    kvb_after(hb->learned_ns + KVB_SAVI_DAD_S * KVB_NS,
				      now))
				return GUARD_ND_DEFEND;
			return 0;
		}
	}
	if (!savi)
		return 0;
	ret = savi_claim(req, 1);
	return ret == DROP(KVB_DROP_SPOOF_IP) ? 0 : ret;
}

#ifndef KVB_HOOK_XDP
/*
 * The prefix information option at off (32 bytes) of a router
 * advertisement on network net_id's LAN: its prefix is the network's for
 * its valid lifetime, shortened as a host shortens it (RFC 4862 5.5.3
 * e): a lifetime over two hours, or past what the prefix has left, is
 * taken; a shorter one (0 included) leaves a prefix with two hours or
 * less as it is and cuts a longer one to two hours. Unauthenticated, one
 * advertisement can so take a prefix no sooner than the LAN's hosts drop
 * their addresses in it (before, a forged lifetime of 0 withdrew it at
 * once: the guests' new addresses in it refused until the router spoke
 * again). A prefix shorter than /16 is no LAN's (one of ::/1 would admit
 * any address) and is not learned. The network gets its mark once a
 * prefix is recorded. A prefix the table has no room for (KVB_MAX_PFX,
 * shared by the networks: expired ones go only with the network) takes
 * the mark away: the network's claims are then judged by first claim
 * alone, in any prefix, rather than its guests' addresses in the LAN's
 * new prefix refused for good. A function of its own, verified once, not
 * on each step of the walk.
 */
__attribute__((noinline)) int savi_learn_prefix(struct __sk_buff *skb,
						__u32 net_id, __u32 off)
{
	struct kvb_pfx_key k = { .prefixlen = 32 + 128 }, mk = { .prefixlen = 32 };
	struct kvb_pfx v = { 0 }, mv = { 0 }, *old;
	__u64 now = kvb_now(), left = 0, until;
	__u8 opt[32];
	__u32 valid;

	if (!skb || bpf_skb_load_bytes(skb, off & 0xffff, opt, 32) ||
	    opt[2] < KVB_PFX_MIN_LEN || opt[2] > 128)
		return 0;
	mk.net_id = k.net_id = bpf_htonl(net_id);
	k.prefixlen = 32 + opt[2];
	__builtin_memcpy(k.addr, opt + 16, 16);
	valid = (__u32)opt[4] << 24 | (__u32)opt[5] << 16 |
		(__u32)opt[6] << 8 | opt[7];
	until = now + (__u64)valid * KVB_NS;
	/* what this very prefix has left (the LPM lookup may answer a
	 * shorter one, or the mark, whose expires_ns is 0) */
	old = bpf_map_lookup_elem(&kvb_pfx, &k);
	if (old && old->prefixlen == k.prefixlen && old->expires_ns > now)
		left = old->expires_ns - now;
	/* an ended prefix withdrawn (a renumbered LAN's router says so of
	 * its old one, RFC 7084 L-13) leaves the shared table */
	else if (old && old->prefixlen == k.prefixlen && old->expires_ns &&
		 !valid)
		return bpf_map_delete_elem(&kvb_pfx, &k);
	if (valid <= KVB_PFX_TWO_HOURS_S &&
	    (__u64)valid * KVB_NS <= left) {
		if (left <= (__u64)KVB_PFX_TWO_HOURS_S * KVB_NS)
			return 0;	/* stays as it is */
		until = now + (__u64)KVB_PFX_TWO_HOURS_S * KVB_NS;
	}
	v.expires_ns = until;
	v.prefixlen = k.prefixlen;
	if (bpf_map_update_elem(&kvb_pfx, &k, &v, BPF_ANY))
		return bpf_map_delete_elem(&kvb_pfx, &mk);
	return bpf_map_update_elem(&kvb_pfx, &mk, &mv, BPF_ANY);
}

/*
 * The host's own IPv6 address on a bridge network's uplink, as the host
 * starts to use it: the target of its DAD probe (a neighbour solicitation
 * from ::), or the source of its other multicast (neighbour discovery,
 * MLD) not held yet; frames the uplink's tc egress sees, before they are
 * flooded to the guests, from the uplink's own MAC and untagged (not a
 * macvlan, macvtap or VLAN device on top of the NIC, whose frames leave
 * there too). Held for the uplink as a static binding, as the loader's
 * upkeep holds the host's addresses (uplink_addrs_sync, which forgets
 * those the host no longer has), at most KVB_UPLINK_HOLD_MAX of them: a
 * new temporary address the host makes between two commands is no
 * guest's to claim, by answering its DAD probe or by an unsolicited
 * advertisement. tc only.
 */
__attribute__((noinline)) int savi_hold_host(struct __sk_buff *skb,
					     __u32 net_id)
{
	struct kvb_addr_key k = { .family = 6, .net_id = (__u8)net_id };
	struct kvb_port *up;
	struct kvb_addr *o;
	__u8 h[40], ns[24];
	__u32 ifindex;
	__u64 hi, lo;

	if (!skb)
		return 0;
	ifindex = skb->ifindex;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, h, sizeof(h)) ||
	    (h[0] >> 4) != 6)
		return 0;
	__builtin_memcpy(k.addr, h + 8, 16);
	__builtin_memcpy(&hi, k.addr, 8);
	__builtin_memcpy(&lo, k.addr + 8, 8);
	if (!(hi | lo)) {
		/* from ::: a DAD probe names its address as the target */
		if (h[6] != IPPROTO_ICMPV6 ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 40, ns, sizeof(ns)) ||
		    ns[0] != ND_NEIGHBOR_SOLICIT_)
			return 0;
		__builtin_memcpy(k.addr, ns + 8, 16);
	}
	if (k.addr[0] == 0xff)
		return 0;
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	if (o && o->owner == skb->ifindex)
		return 0;
	up = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (!up || up->n_ip6 >= KVB_UPLINK_HOLD_MAX)
		return 0;
	k.ifindex = ifindex;
	return kvb_bind(&k, KVB_ADDR_F_STATIC, 0);
}

/*
 * The LAN's router (the source of a valid router advertisement on the
 * uplink, src: its link-local address, fe80::1 often enough) holds its
 * address: bound to the uplink as a learned (SAVI) binding, refreshed by
 * each advertisement, so that no guest can answer neighbour discovery
 * for it or send from it and draw the other guests' traffic for their
 * default router. Within the uplink's SAVI cap (KVB_SAVI_MAX routers: a
 * LAN host forging advertisements from many addresses fills the cap, not
 * the table) and never the EUI-64 address of a MAC a guest port owns
 * (savi_allowed); only a free address is bound, so a guest's live claim
 * stays its own (first come: a LAN host cannot strip a guest of its
 * link-local by advertising from it).
 */
static __always_inline void savi_bind_router(__u32 uplink, __u32 net_id,
					     const __u8 *src)
{
	struct kvb_addr_key k = { .ifindex = uplink, .family = 6,
				  .net_id = (__u8)net_id };

	__builtin_memcpy(k.addr, src, 16);
	if (savi_allowed(&k))
		return;
	kvb_bind(&k, KVB_ADDR_F_SAVI, kvb_now() + KVB_SAVI_LIFE_S * KVB_NS);
}

/*
 * A router advertisement from a bridge network's LAN (it arrived on the
 * uplink; l3off: its IPv6 header, off: its ICMPv6 header, left: bytes
 * from there to the packet's end). Only one that a host would accept
 * teaches (RFC 4861 6.1.2: hop limit 255, so sent on this link, and a
 * link-local source): its source is the router's (savi_bind_router), and
 * every prefix information option becomes one of the network's prefixes
 * (kvb_pfx), and the network is marked as having learned prefixes. At
 * most KVB_RA_MAX_OPTS options are examined; a prefix past them is not
 * learned (claims in it are refused: never wider than the LAN says). tc
 * only.
 */
__attribute__((noinline)) int savi_learn_ra(struct __sk_buff *skb,
					    __u32 net_id, __u32 l3off,
					    __u32 off, __u32 left)
{
	__u8 opt[2], h[24];

	if (!skb || left < 16 ||
	    bpf_skb_load_bytes(skb, l3off & 0xffff, h, sizeof(h)))
		return 0;
	/* hop limit, then the source address */
	if (h[7] != 255 || h[8] != 0xfe || (h[9] & 0xc0) != 0x80)
		return 0;
	savi_bind_router(skb->ifindex, net_id, h + 8);
	off += 16;		/* the RA's fixed part */
	left -= 16;
	for (int i = 0; i < KVB_RA_MAX_OPTS; i++) {
		__u32 len;

		if (left < 8 || bpf_skb_load_bytes(skb, off & 0xffff, opt, 2))
			break;
		len = opt[1] * 8;
		if (!len || len > left)
			break;
		if (opt[0] == 3 && len == 32)
			savi_learn_prefix(skb, net_id, off);
		off += len;
		left -= len;
	}
	return 0;
}
#endif

/* A use of the port's SAVI binding b keeps it alive (written at most
 * every KVB_SAVI_REFRESH_S, not on every packet). */
static __always_inline void savi_refresh(struct kvb_addr *b)
{
	__u64 now, until;

	if (!(b->flags & KVB_ADDR_F_SAVI))
		return;
	now = kvb_now();
	until = now + KVB_SAVI_LIFE_S * KVB_NS;
	if (b->expires_ns + KVB_SAVI_REFRESH_S * KVB_NS < until)
		b->expires_ns = until;
}

/*
 * v, a live binding of port: is it a guest's SAVI binding that is to make
 * room (kvb_maps.h: KVB_SAVI_ROOM)? The port holds more than
 * KVB_SAVI_MAX - KVB_SAVI_ROOM of them (read anew for each: the walk
 * stops ending them there) and v was last used KVB_SAVI_IDLE_S ago or
 * more (a use sets its end KVB_SAVI_LIFE_S ahead). Never another port's
 * for this one, never a lease or a static address: only what the guest's
 * own claims made, and only what it does not use.
 */
static __always_inline int bind_makes_room(const struct kvb_addr *v,
					   const struct kvb_port *port,
					   __u64 now)
{
	return port && (v->flags & KVB_ADDR_F_SAVI) &&
	       port->role == KVB_PORT_GUEST &&
	       port->n_savi > KVB_SAVI_MAX - KVB_SAVI_ROOM &&
	       v->expires_ns + (KVB_SAVI_IDLE_S * KVB_NS) <=
		       now + KVB_SAVI_LIFE_S * KVB_NS;
}

/*
 * The sweep: every dead learned binding goes (both entries and the count),
 * so that its address is free again and its port's cap counts the living,
 * and so does a guest's idle one that is to make room (bind_makes_room),
 * and every learned one of a port whose device went without detach (its
 * guest is gone: until gc forgot the port, its addresses were refused to
 * the others, savi-conflict).
 * Called from the kvb_ctsweep timer's callback (nat.h).
 */
struct bind_sweep_ctx {
	__u64 now;
	__u64 freed;
};

static long bind_sweep_one(void *map, struct kvb_addr_key *k,
			   struct kvb_addr *v, struct bind_sweep_ctx *c)
{
	struct kvb_addr_key key;
	struct kvb_port *port;
	__u32 ifindex = k->ifindex, net_id;

	(void)map;
	if (!ifindex || !(v->flags & (KVB_ADDR_F_DHCP | KVB_ADDR_F_SAVI)))
		return 0;
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	/* a learned binding of a guest whose device went goes too */
	if (bind_live(v, c->now) && !bind_makes_room(v, port, c->now) &&
	    !(port && port->role == KVB_PORT_GUEST && !port_dev_live(ifindex)))
		return 0;
	net_id = port ? port->net_id : 0;
	key = *k;
	c->freed += bind_remove(&key, ifindex, net_id,
				KVB_ADDR_F_DHCP | KVB_ADDR_F_SAVI);
	return 0;
}

static __always_inline void bind_sweep(__u64 now)
{
	struct bind_sweep_ctx c = { .now = now };

	bpf_for_each_map_elem(&kvb_addr, bind_sweep_one, &c, 0);
}

#endif /* KVB_BIND_H */
