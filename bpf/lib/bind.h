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
#include "maps.h"

#define KVB_NS 1000000000ULL

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

/* The port's live binding of addr (len bytes of family), or NULL. */
static __always_inline struct kvb_addr *bind_of(__u32 ifindex, __u8 family,
						const void *addr, __u32 len)
{
	struct kvb_addr_key k = { .ifindex = ifindex, .family = family };
	struct kvb_addr *v;

	__builtin_memcpy(k.addr, addr, len);
	v = bpf_map_lookup_elem(&kvb_addr, &k);
	return v && bind_live(v, kvb_now()) ? v : NULL;
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
 * Bind req's address (family, addr) to port req->ifindex of network
 * req->net_id, as how (KVB_ADDR_F_DHCP or KVB_ADDR_F_SAVI) until expires
 * (0: never). The owner entry decides: none, the address is free; this
 * port, it is ours (a renewal or a refresh); another port, it is that
 * port's while its binding lives, except that a DHCP lease takes a
 * learned binding over (the server's word). A static binding is never
 * taken, and a static address of the port itself stays static.
 */
__attribute__((noinline)) int kvb_bind(const struct kvb_addr_key *req,
				       __u32 how, __u64 expires)
{
	struct kvb_addr v = { .flags = how, .expires_ns = expires };
	struct kvb_addr *o, *cur;
	struct kvb_port *port;
	struct kvb_addr_key k;
	__u32 ifindex, net_id;

	if (!req)
		return BIND_HELD;
	k = *req;
	ifindex = k.ifindex;
	net_id = k.net_id;
	v.owner = ifindex;
	v.learned_ns = kvb_now();
	k.ifindex = 0;
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	if (o && o->owner != ifindex) {
		__u32 other = o->owner;

		if (o->flags & KVB_ADDR_F_STATIC)
			return BIND_HELD;
		if (!(how & KVB_ADDR_F_DHCP)) {
			k.ifindex = other;
			k.net_id = 0;
			cur = bpf_map_lookup_elem(&kvb_addr, &k);
			if (cur && bind_live(cur, v.learned_ns))
				return BIND_HELD;
		}
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
	}
	k.ifindex = ifindex;
	k.net_id = 0;
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	cur = bpf_map_lookup_elem(&kvb_addr, &k);
	if (cur) {
		if (cur->flags & KVB_ADDR_F_STATIC)
			return BIND_OK;
		if ((cur->flags & KVB_ADDR_F_SAVI) && (how & KVB_ADDR_F_DHCP) &&
		    port)
			count_dec(&port->n_savi);	/* leased now */
		cur->flags = how;
		cur->expires_ns = expires;
		return BIND_OK;
	}
	if (bpf_map_update_elem(&kvb_addr, &k, &v, BPF_NOEXIST))
		return bpf_map_lookup_elem(&kvb_addr, &k) ? BIND_OK : BIND_FULL;
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
 * The sweep: every dead learned binding goes (both entries and the count),
 * so that its address is free again and its port's cap counts the living.
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
	if (!ifindex || bind_live(v, c->now) ||
	    !(v->flags & (KVB_ADDR_F_DHCP | KVB_ADDR_F_SAVI)))
		return 0;
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
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
