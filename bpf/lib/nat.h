/* SPDX-License-Identifier: GPL-2.0 */
/*
 * NAT networks (tc only): source NAT with connection tracking for TCP,
 * UDP and ICMP echo towards the WAN device the FIB names, and the reverse
 * translation of replies arriving on that device. All rewriting goes through bpf_skb_store_bytes
 * and the csum helpers, which keep CHECKSUM_PARTIAL/GSO frames right.
 */
#ifndef KVB_NAT_H
#define KVB_NAT_H

#include <linux/pkt_cls.h>
#include "acl.h"
#include "bind.h"
#include "conntrack.h"
#include "csum.h"
#include "ctx.h"
#include "l3.h"
#include "maps.h"
#include "admit.h"
#include "stats.h"
#include "subnet.h"
#include "isolation.h"
#include "natreply.h"
#include "wan.h"
#include "neigh.h"

#define NAT_CONTINUE KVB_CONTINUE	/* not NAT's business: switch it */
/*
 * nat_snat: the packet (a GSO frame: its segments) is longer than the
 * route out takes; the MTU is in the scratch's mtu. The caller, who
 * knows the guest's network and gateway, answers with fragmentation
 * needed (route.h: nat_too_big).
 */
#define NAT_TOO_BIG 0x7ffc
/*
 * nat_snat: the packet's TTL runs out at the gateway (traceroute's first
 * hop). The caller answers time exceeded from the guest's gateway
 * (route.h: nat_time_exceeded), as a routed network's gateway does.
 * nat_from_wan: a reply's TTL runs out at the host, answered to the
 * remote (route.h: nat_reply_ttl).
 */
#define NAT_TTL 0x7ffb
/*
 * nat_snat: an ICMP error from the guest (port unreachable, time
 * exceeded, parameter problem) to the outside; it quotes a packet the
 * guest received, of a translated flow or none. The caller translates it
 * (route.h: nat_icmp_error_out).
 */
#define NAT_ICMP_ERR 0x7ffa
/*
 * nat_from_guest: an ICMP error from a guest to its gateway's address,
 * which may be about a hairpinned packet. The caller asks
 * nat_hairpin_error, which sends it back through the hairpin or leaves
 * it to the host (NAT_CONTINUE). nat_icmp_error_out: a guest's error to
 * the WAN address about a hairpin's answer; the caller asks
 * nat_hairpin_error_rev.
 */
#define NAT_HAIRPIN_ERR 0x7ff9

/*
 * nat_snat: a later fragment for one of the host's own addresses whose
 * first fragment made a hairpin (into another nat network's forward at
 * that address): its flow key is in the scratch (hpk), its note already
 * counted; nat_from_guest sends it after its first.
 */
#define NAT_HAIRPIN_LATER 0x7ff5

/*
 * A FIB answer that forwards nothing, as a drop: forwarding off on the
 * lookup's input device (the network's host interface, where the
 * fabric turned it on: a host-wide write of ip_forward turns it off
 * again, and the host's choice stands) under its own reason, anything
 * else under the caller's.
 */
static __always_inline int fib_refused(int fibret, int reason)
{
	return fibret == BPF_FIB_LKUP_RET_FWD_DISABLED ?
		DROP(KVB_DROP_FWD_OFF) : DROP(reason);
}

/* Would the packet's TTL run out at the gateway (dec_ttl refuse it)? */
static __always_inline int nat_ttl_out(struct __sk_buff *skb)
{
	__u8 ttl;

	return kvb_hdr_load(skb, IP_OFF_TTL, &ttl, 1) || ttl <= 1;
}

/*
 * Per-CPU scratch for NAT's large temporaries: the tc program inlines all
 * its paths into one stack frame, and 512 bytes do not hold them all.
 */
struct nat_scratch {
	struct bpf_fib_lookup fib;
	struct kvb_ct orig;
	struct kvb_ct reply;
	struct kvb_ct_key ok;	/* a new flow's keys, for nat_port_take */
	struct kvb_ct_key rk;
	/* nat_generic_stale: another flow's original and reply keys */
	struct kvb_ct_key sk, srk;
	struct bpf_sock_tuple tuple;
	__u32 h, min, span, gap, step;	/* nat_port_take's search */
	/* the mapping functions' keys and a new entry's value (bytes: the
	 * value's spin lock may not live in a per-CPU map) */
	struct kvb_natmap_key mk;	/* KVB_NM_GUEST */
	struct kvb_natmap_key nk;	/* KVB_NM_NAT */
	struct kvb_natmap_key pk;	/* KVB_NM_PEER */
	__u8 mv[sizeof(struct kvb_natmap)];
	struct kvb_fwd_key fk;
	struct kvb_addr_key gk;		/* fwd_guest: its address's holder */
	struct kvb_ct_key hpk;		/* nat_from_guest: a hairpin's key */
	__be16 port;			/* the mapping's NAT port */
	__be16 hint;			/* a port the guest's mappings hold */
	__u8 held;			/* enum kvb_ct_mapped */
	/* nat_port_take: the port tried is a forward's to this very guest
	 * endpoint, on the guest's own port */
	__u8 fwd_own;
	__u32 i, n;
	__be32 naddr;		/* nat_snat: the flow's translated source */
	/* nat_snat: the FIB's answer in fib is a next hop to cache in the
	 * flow (nh_keep), of generation nh_gen, for packets of nh_len */
	__u32 nh_gen;
	__u16 nh_len;
	__u8 nh_ok;
	__u8 pad2;
	__u32 mtu;		/* nat_snat's NAT_TOO_BIG: the route's MTU */
	/* nat_snat: the FIB's next hop, for bpf_redirect_neigh (kept
	 * before ct_out, whose own lookups reuse fib) */
	struct bpf_redir_neigh nh;
	/* nat_icmp_error_out (route.h): the guest's error and its quote,
	 * here for the stack the tc program leaves it */
	struct {
		__be32 gaddr, naddr, raddr, qdaddr;
		__be16 ports[4], nport, oldc, newc;
		__u8 vihl, qihl, proto, pad;
		/* nat_hairpin_error: the hairpin's opener A, its address,
		 * port and MAC */
		__be32 aaddr;
		__be16 aport;
		__u8 amac[ETH_ALEN];
		__u32 out;	/* A's port */
	} qe;
	/* nathost_recent: the remote's key, and its note's copy */
	struct kvb_nathost_key hk;
	struct kvb_nathost hv;
	/* nat_slot_*: a port's count of NAT ports, and a new one's value */
	struct kvb_natmap_key ck;
	__u8 cv[sizeof(struct kvb_natmap)];
	__u32 cn;
	/* nat_port_take: the port holds its share of NAT ports (over), a
	 * flow on a port of its own was counted in it (own), an ICMP echo
	 * flow's identifier is taken (ticmp) */
	__u8 over, own, ticmp;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_scratch);
} kvb_nat_tmp SEC(".maps");

/* A key of 0 that costs the global functions no stack slot. */
static __u32 kvb_zero;

static __always_inline struct nat_scratch *nat_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kvb_nat_tmp, &zero);
}

/* Take a reference on an entry; 0 when it is dead (being deleted). */
static __always_inline __u32 natmap_get(struct kvb_natmap *m)
{
	__u32 n;

	bpf_spin_lock(&m->lock);
	n = m->flows;
	if (n)
		m->flows = n + 1;
	bpf_spin_unlock(&m->lock);
	return n;
}

/*
 * Give back a reference on entry m: its count before (1: that was the
 * last, and the caller deletes the entry; 0: it was dying already).
 */
static __always_inline __u32 natmap_drop(struct kvb_natmap *m)
{
	__u32 n;

	bpf_spin_lock(&m->lock);
	n = m->flows;
	if (n)
		m->flows = n - 1;
	bpf_spin_unlock(&m->lock);
	return n;
}

/*
 * A guest port's share of a NAT address's ports (kvb_natmap's
 * KVB_NM_SLOT count, by NAT address and slot): its mappings and its
 * flows on a port of their own (KVB_CT_M_OWN), at most
 * 1/KVB_NAT_PORT_SHARE of NAT's ports. Without it, a guest that sends
 * one datagram to one remote from each of its ~36,000 source ports
 * (preserved) holds every NAT port towards that remote, and every other
 * guest's flow there is refused (nat-ports-exhausted), though that
 * guest holds few flows. Counted when a mapping or such a flow is made,
 * given back when it goes; new flows only, never an established flow's
 * packet. Global functions: the callers' frames are full (the key and
 * value are in the scratch).
 */
static __always_inline void nat_slot_key(struct kvb_natmap_key *k,
					 __be32 addr, __u32 slot, __u32 proto)
{
	k->addr = addr;
	k->addr2 = 0;
	k->port = (__u16)slot;
	k->proto = (__u8)proto;
	k->kind = KVB_NM_SLOT;
}

/* kvb_natmap's key of the mapping on NAT address addr, port, proto. */
static __always_inline void nat_map_key(struct kvb_natmap_key *k, __be32 addr,
					__be16 port, __u8 proto)
{
	k->addr = addr;
	k->addr2 = 0;
	k->port = port;
	k->proto = proto;
	k->kind = KVB_NM_NAT;
}

/* The NAT ports of proto the port at slot holds on addr. */
__noinline int nat_slot_held(__be32 addr, __u32 slot, __u32 proto)
{
	struct nat_scratch *t = bpf_map_lookup_elem(&kvb_nat_tmp, &kvb_zero);
	struct kvb_natmap *c;

	if (!t || !slot)
		return 0;
	nat_slot_key(&t->ck, addr, slot, proto);
	c = bpf_map_lookup_elem(&kvb_natmap, &t->ck);
	t->hint = c ? c->port : 0;
	return c ? (int)(c->flows & 0x7fffffff) : 0;
}

/*
 * The port at slot (of network net_id) holds one more on addr: 1, or 0
 * when it could not be counted (the table full: then nothing is to be
 * given back for it).
 */
__noinline int nat_slot_take(__be32 addr, __u32 slot, __u32 proto,
				__u32 net_id)
{
	struct nat_scratch *t = bpf_map_lookup_elem(&kvb_nat_tmp, &kvb_zero);
	struct kvb_natmap *c;

	if (!t || !slot)
		return 0;
	nat_slot_key(&t->ck, addr, slot, proto);
	for (int i = 0; i < 2; i++) {
		c = bpf_map_lookup_elem(&kvb_natmap, &t->ck);
		barrier_var(t);
		if (c) {
			t->cn = natmap_get(c);
			if (t->cn)
				return 1;
			/* at 0: being deleted, made anew below */
		}
		__builtin_memset(t->cv, 0, sizeof(t->cv));
		((struct kvb_natmap *)t->cv)->flows = 1;
		/* flushed with its network's mappings (ct flush, net del) */
		((struct kvb_natmap *)t->cv)->net_id = net_id;
		t->cn = bpf_map_update_elem(&kvb_natmap, &t->ck, t->cv,
					    BPF_NOEXIST);
		barrier_var(t);
		if (!t->cn)
			return 1;
		if (t->cn != (__u32)-EEXIST_)
			return 0;
	}
	return 0;
}

/* The port at slot gives one back on addr (a zero count stays zero). */
__noinline int nat_slot_give(__be32 addr, __u32 slot, __u32 proto)
{
	struct nat_scratch *t = bpf_map_lookup_elem(&kvb_nat_tmp, &kvb_zero);
	struct kvb_natmap *c;

	if (!t || !slot)
		return 0;
	nat_slot_key(&t->ck, addr, slot, proto);
	c = bpf_map_lookup_elem(&kvb_natmap, &t->ck);
	barrier_var(t);
	if (!c)
		return 0;
	t->cn = natmap_drop(c);
	/* the last one deletes it, as a mapping's (natmap_put) */
	if (t->cn == 1)
		bpf_map_delete_elem(&kvb_natmap, &t->ck);
	return 0;
}

/*
 * Where a flow's port search starts: keyed with the fabric's secret, so
 * that a guest can neither aim a flow at a port nor compute the ports
 * another flow will probe.
 */
static __always_inline __u32 flow_hash(__be32 a, __be32 b, __be16 c,
				       __be16 d, __u8 proto)
{
	__u32 zero = 0;
	struct kvb_natst *st = bpf_map_lookup_elem(&kvb_natst, &zero);

	return (__u32)kvb_siphash_2u64((__u64)a << 32 | b,
				   (__u64)c << 32 | (__u64)d << 16 | proto,
				   st ? st->key[0] : 0, st ? st->key[1] : 0);
}

_Static_assert(sizeof(struct kvb_nathost_key) == 12 &&
	       sizeof(struct kvb_natfrag_key) == 12,
	       "nathost_recent and nat_frag_ports compare keys as 3 words");

/*
 * Did the host note the remote of the scratch's t->hk (kvb_nathost)
 * within KVB_NATHOST_S? The note is copied first (t->hv) and taken only
 * when its check word holds and it carries the key looked up (an LRU
 * entry can be another remote's by the time it is read). A global
 * function: verified once, its copy in the scratch (its callers' stacks
 * are near the verifier's limit).
 */
__noinline int nathost_recent(void)
{
	struct nat_scratch *t = bpf_map_lookup_elem(&kvb_nat_tmp, &kvb_zero);
	struct kvb_nathost *h;
	__u64 now = kvb_now();

	if (!t)
		return 0;
	h = bpf_map_lookup_elem(&kvb_nathost, &t->hk);
	if (!h)
		return 0;
	__builtin_memcpy(&t->hv, h, sizeof(t->hv));
	if (t->hv.check != kvb_nathost_check(&t->hv) ||
	    !kvb_words_equal(&t->hv.key, &t->hk, 3))
		return 0;
	return !kvb_after(now, t->hv.last_ns) ||
	       now - t->hv.last_ns < KVB_NATHOST_S * 1000000000ULL;
}

/*
 * Did the host's own ping (an ICMP query) to the remote of the scratch's
 * reply key use its identifier (rk.dport) within KVB_NATHOST_S
 * (kvb_nathost: its reply came for no flow)? Then no guest's echo flow to
 * that remote takes it: the host's ping keeps its replies.
 */
static __always_inline int icmp_id_is_hosts(struct nat_scratch *t)
{
	t->hk.raddr = t->rk.saddr;
	t->hk.laddr = t->rk.daddr;
	t->hk.proto = IPPROTO_ICMP;
	t->hk.pad = 0;
	t->hk.id = t->rk.dport;
	return nathost_recent();
}

/*
 * Whether a socket of the host would receive what comes from saddr:sport
 * to daddr:port (a listener, a bound UDP socket, a connection): then that
 * port is the host's, and a flow taking it would steal its packets.
 */
static __always_inline int port_is_hosts(struct __sk_buff *skb,
					 struct bpf_sock_tuple *t, __u8 proto,
					 const struct kvb_ct_key *rk)
{
	struct bpf_sock *sk;

	t->ipv4.saddr = rk->saddr;
	t->ipv4.daddr = rk->daddr;
	t->ipv4.sport = rk->sport;
	t->ipv4.dport = rk->dport;
	if (proto == IPPROTO_TCP)
		sk = bpf_skc_lookup_tcp(skb, t, sizeof(t->ipv4),
					BPF_F_CURRENT_NETNS, 0);
	else if (proto == IPPROTO_UDP)
		sk = bpf_sk_lookup_udp(skb, t, sizeof(t->ipv4),
				       BPF_F_CURRENT_NETNS, 0);
	else
		return 0;
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

/*
 * Endpoint-independent mapping (RFC 4787 REQ-1) for TCP and UDP: a guest's
 * address, port and protocol get one NAT port on a NAT address, used for
 * every destination while a flow uses it (kvb_natmap, maps/kvb_maps.h).
 * The port: the guest's own when it is free and NAT may use it (1024 and
 * up, outside the host's ephemeral range, not a forward's, no host
 * socket), else the keyed search of nat_port_take. The mapping's entries
 * count the flows that use them under their spin lock; a count that
 * reached 0 is dead: the one that brought it there deletes it, and no one
 * takes it again.
 */
#define NAT_MAP_NONE 1	/* nat_map_in: no mapping there, the host's */


/*
 * Give back a reference on the entry at key; the last one deletes it, a
 * mapping (KVB_NM_GUEST) with its reverse (at spare, a scratch key).
 */
static __always_inline void natmap_put(struct kvb_natmap_key *key,
				       struct kvb_natmap_key *spare)
{
	struct kvb_natmap *m = bpf_map_lookup_elem(&kvb_natmap, key);
	__u32 n;

	if (!m)
		return;
	n = natmap_drop(m);
	if (n != 1)
		return;
	if (key->kind == KVB_NM_GUEST) {
		if (m->slot)
			nat_slot_give(m->addr, m->slot, key->proto);
		spare->addr = m->addr;
		spare->addr2 = 0;
		spare->port = m->port;
		spare->proto = key->proto;
		spare->kind = KVB_NM_NAT;
		bpf_map_delete_elem(&kvb_natmap, spare);
	}
	bpf_map_delete_elem(&kvb_natmap, key);
}

/* The mapping and peer keys of a flow: its original key k, entry e. */
static __always_inline void natmap_keys(const struct kvb_ct_key *k,
					const struct kvb_ct *e,
					struct kvb_natmap_key *mk,
					struct kvb_natmap_key *pk)
{
	mk->addr = k->saddr;
	mk->addr2 = e->addr;
	mk->port = k->sport;
	mk->proto = k->proto;
	mk->kind = KVB_NM_GUEST;
	pk->addr = e->addr;
	pk->addr2 = k->daddr;
	pk->port = e->port;
	pk->proto = k->proto;
	pk->kind = KVB_NM_PEER;
}

/*
 * natmap_put of the scratch's mapping (mk) or peer (pk) key. The frames
 * of the global functions below have 16 bytes of stack in all (the tc
 * program's leaves no more): barrier_var(t) after each helper call makes
 * the compiler derive field addresses from t again instead of spilling
 * them.
 */
static __always_inline void natmap_put_t(struct nat_scratch *t, int peer)
{
	struct kvb_natmap *m;
	__u32 n;

	m = bpf_map_lookup_elem(&kvb_natmap, peer ? &t->pk : &t->mk);
	barrier_var(t);
	if (!m)
		return;
	bpf_spin_lock(&m->lock);
	n = m->flows;
	if (n)
		m->flows = n - 1;
	bpf_spin_unlock(&m->lock);
	barrier_var(t);
	if (n != 1)
		return;
	if (!peer) {
		if (m->slot)
			nat_slot_give(m->addr, m->slot, t->mk.proto);
		barrier_var(t);
		nat_map_key(&t->nk, m->addr, m->port, t->mk.proto);
		bpf_map_delete_elem(&kvb_natmap, &t->nk);
		barrier_var(t);
	}
	bpf_map_delete_elem(&kvb_natmap, peer ? &t->pk : &t->mk);
	barrier_var(t);
}

/*
 * A flow (original key k, entry e) is gone: give back what it held. A
 * global function: the callers' frames are full.
 */
__noinline int nat_unmap(const struct kvb_ct_key *k, const struct kvb_ct *e)
{
	__u32 zero = 0;
	struct nat_scratch *t = bpf_map_lookup_elem(&kvb_nat_tmp, &zero);

	if (!t || !k || !e)
		return 0;
	if (e->mapped & KVB_CT_M_OWN)
		nat_slot_give(e->addr, e->slot, k->proto);
	barrier_var(t);
	t->held = e->mapped;
	natmap_keys(k, e, &t->mk, &t->pk);
	if (t->held & KVB_CT_M_MAP)
		natmap_put_t(t, 0);
	if (t->held & KVB_CT_M_PEER)
		natmap_put_t(t, 1);
	return 0;
}

/*
 * End the flow whose original key is ok and entry o: both entries, its
 * counts in its network and its port's share, and its mapping and peer
 * references (natmap_put; rk, mk, pk and spare are the caller's room for
 * keys). 1 when this call ended it, 0 when another (the datapath, the
 * sweep) took it first.
 */
static __always_inline int ct_flow_end(const struct kvb_ct_key *ok,
				       const struct kvb_ct *o,
				       struct kvb_ct_key *rk,
				       struct kvb_natmap_key *mk,
				       struct kvb_natmap_key *pk,
				       struct kvb_natmap_key *spare)
{
	__u8 mapped = o->mapped;
	__u16 slot = o->slot;
	__u32 id = o->net_id;
	__u64 *cnt;

	/* what the flow holds, read before its entries go */
	kvb_ct_reply_key(ok, o, rk);
	natmap_keys(ok, o, mk, pk);
	bpf_map_delete_elem(&kvb_ct, rk);
	if (bpf_map_delete_elem(&kvb_ct, ok))
		return 0;
	cnt = ct_counter(id);
	if (cnt && *cnt)
		__sync_fetch_and_add(cnt, -1);
	ct_port_give(slot);
	if (mapped & KVB_CT_M_OWN)
		nat_slot_give(pk->addr, slot, ok->proto);	/* pk: NAT addr */
	if (mapped & KVB_CT_M_MAP)
		natmap_put(mk, spare);
	if (mapped & KVB_CT_M_PEER)
		natmap_put(pk, spare);
	return 1;
}

/*
 * One try of ct_evict at a random place of the region of v->who: 1 when
 * a flow went. A port's region gives only that port's flows, the
 * network's any port's of that network. Everything lives in the
 * scratch v, re-read after each helper call (barrier_var): the frame
 * stays small.
 */
static __always_inline int ct_evict_try(struct evict_scratch *v)
{
	struct kvb_ct_key *k;
	struct kvb_ct *e;

	v->place = evict_place(v->who, v->m);
	barrier_var(v);
	k = bpf_map_lookup_elem(&kvb_ctev, &v->place);
	barrier_var(v);
	if (!k || k->dir)
		return 0;
	v->ok = *k;
	e = bpf_map_lookup_elem(&kvb_ct, &v->ok);
	barrier_var(v);
	if (!e || e->state == KVB_CT_ESTABLISHED ||
	    (e->net_id != v->net_id && v->who != EVICT_ANY) ||
	    (v->who == v->slot && e->slot != v->slot))
		return 0;
	v->vslot = e->slot;
	if (!ct_flow_end(&v->ok, e, &v->rk, &v->mk, &v->pk, &v->spare))
		return 0;
	barrier_var(v);
	evict_count(v->vslot, &v->skey);
	barrier_var(v);
	if (v->who == v->slot) {
		v->reuse = v->place;
		v->reuse_slot = v->slot;
	}
	return 1;
}

/*
 * Room for a new flow of the port at slot in network net_id: end a flow
 * of that network that is not established, as conntrack's early drop
 * does (kvb_maps.h: KVB_EVICT_POOL), from the region of who. The port's
 * own (who == slot, cap what it may hold: ct_port_cap) gives only its
 * flows; the network's (who == EVICT_NET(net_id), cap its ct-max), for a
 * port whose own gave none while another guest's flood holds the
 * network, any port's. 0 when one went (counted as ct-evicted on that
 * flow's port), -1 when the tries found none. An established flow is
 * never evicted. A global function whose frame holds little (the tries
 * are unrolled; the keys are in the scratch): the callers' frames are
 * full.
 */
__noinline int ct_evict(__u32 slot, __u32 who, __u32 net_id, __u32 cap)
{
	struct evict_scratch *v = evict_scratch();

	if (!v || !slot || !cap)
		return -1;
	v->slot = slot;
	v->who = who;
	v->net_id = net_id;
	v->m = evict_region(cap);
#pragma unroll
	for (int i = 0; i < KVB_EVICT_TRIES; i++) {
		if (ct_evict_try(v))
			return 0;
		barrier_var(v);
	}
	return -1;
}

/*
 * Room for a new flow of the port at slot in net: 0, or the drop
 * (nat-full: the network holds its ct-max flows; nat-port-full: the
 * port its share, ct-port-max). A live flow is never evicted for room,
 * but one of the port's that is not established is (ct_evict): a flood
 * of SYNs from forged sources at a forward, each answered by its guest
 * and none completed, would otherwise refuse every new flow of that
 * guest, its own included, for TCP's opening timeout.
 */
static __always_inline int ct_room(__u16 slot, const struct kvb_net *net)
{
	__u64 *cnt = ct_counter(net->id);
	struct evict_scratch *v = evict_scratch();
	int why;

	/* a new flow: no place of an earlier packet's eviction (whose flow
	 * was not made) is its to take (ct_note) */
	if (v)
		v->reuse_slot = 0;

	for (int i = 0; i < 2; i++) {
		if (cnt && net->ct_max && *cnt >= net->ct_max)
			why = DROP(KVB_DROP_NAT_FULL);
		else if (ct_port_full(slot, net))
			why = DROP(KVB_DROP_NAT_PORT_FULL);
		else
			return 0;
		if (i)
			return why;
		/* the port's own first; in a full network, anyone's */
		if (ct_evict(slot, slot, net->id, ct_port_cap(net)) &&
		    (why != DROP(KVB_DROP_NAT_FULL) ||
		     ct_evict(slot, EVICT_NET(net->id), net->id,
			      net->ct_max)))
			return why;
	}
	return 0;
}

/*
 * Room in a full table (kvb_ct, shared by the nat networks) for a new
 * flow of the port at slot: 1 when a flow of early eviction's whole pool
 * went, any port's of any network (EVICT_ANY), as conntrack's early drop
 * takes any zone's unassured entry once nf_conntrack_max is reached.
 * Every candidate is a flow not established of a port beyond half its
 * share (or of a network beyond half its ct-max): the heavy holders'.
 * Without it, a handful of guests flooding new flows, each within its
 * own share (ct-port-max, 131,072 by default: eight such shares fill the
 * table), refused every other guest's new flows on every nat network.
 */
static __always_inline int ct_room_any(__u16 slot)
{
	return !ct_evict(slot, EVICT_ANY, 0, 2 * KVB_EVICT_POOL);
}

/*
 * Insert the flow prepared in the scratch (keys ok and rk, entries orig
 * and reply, port, and the mapping reference held), with a reference on
 * its peer entry, and count it. Returns the port, 0 when another CPU made
 * the same flow first, or a drop code; on failure what it held is given
 * back.
 */
static __always_inline int natmap_flow(struct nat_scratch *t)
{
	struct kvb_natmap *p;
	long err;

	t->pk.addr = t->orig.addr;
	t->pk.addr2 = t->ok.daddr;
	t->pk.port = t->port;
	t->pk.proto = t->ok.proto;
	t->pk.kind = KVB_NM_PEER;
	p = bpf_map_lookup_elem(&kvb_natmap, &t->pk);
	barrier_var(t);
	if (p) {
		if (natmap_get(p))
			t->held |= KVB_CT_M_PEER;
		barrier_var(t);
	} else {
		struct kvb_natmap *v = (void *)t->mv;

		__builtin_memset(t->mv, 0, sizeof(t->mv));
		v->flows = 1;
		v->net_id = t->orig.net_id;
		err = bpf_map_update_elem(&kvb_natmap, &t->pk, t->mv,
					  BPF_NOEXIST);
		barrier_var(t);
		if (!err)
			t->held |= KVB_CT_M_PEER;
	}
	t->rk.dport = t->port;
	t->orig.port = t->port;
	t->orig.mapped = t->held;
	err = ct_create(&t->rk, &t->reply, &t->ok, &t->orig);
	barrier_var(t);
	if (err == CT_MADE)
		return t->port;
	t->n = err == CT_RACE ? 0 : err == CT_TAKEN ?
	       DROP(KVB_DROP_NAT_PORTS) : DROP(KVB_DROP_NAT_FULL);
	/* give back what the flow would have held */
	if (t->held & KVB_CT_M_MAP)
		natmap_put_t(t, 0);
	if (t->held & KVB_CT_M_PEER)
		natmap_put_t(t, 1);
	return (int)t->n;
}

/* What nat_port_take finds a port for. */
#define NAT_TAKE_FLOW 0	/* a flow of its own: an ICMP echo id, a hairpin */
#define NAT_TAKE_MAP 1	/* a guest's TCP/UDP endpoint (kvb_natmap) */
/* a TCP/UDP flow's own port when no mapping can be had (every port the
 * search tries is another endpoint's): reused across destinations, as
 * conntrack's, the guest's own port tried first, forwards skipped */
#define NAT_TAKE_OWN 2
/* a try's answer that the port is another's: the search goes on */
#define NAT_TAKE_NEXT 0x10000

/*
 * May NAT take the guest's own port k (host order) as it is: 1024 and
 * up, outside the host's range?
 */
static __always_inline int nat_own_port_ok(const struct nat_scratch *t,
					   __u32 k)
{
	return k >= KVB_NAT_PORT_FIRST &&
	       (k < t->min + KVB_NAT_PORT_FIRST ||
		k >= t->min + KVB_NAT_PORT_FIRST + t->gap);
}

/*
 * The i-th port the search tries (host order), 0: none. A mapping tries
 * the guest's own port first (the loop then decides: nat_own_port_ok, or
 * a forward of that port to this very endpoint), a guest port past its
 * share the port its share remembers, then, as a flow does, the keyed
 * sequence.
 */
static __always_inline __u32 nat_candidate(struct nat_scratch *t, __u32 i,
					   __u32 what)
{
	__u32 k = bpf_ntohs(t->ok.sport);

	/* past its share, a guest port's flow may take only ports its
	 * mappings hold: the one its share remembers first. The keyed
	 * tries alone walk one fixed order for every flow (the step is
	 * the same), so a stretch of 16 ports none of its mappings held
	 * refused every flow whose tries began there (nat-port-full, about
	 * one new socket in 5,000 of a resolver past its share) */
	if (!i)
		return what == NAT_TAKE_FLOW ? 0 :
		       t->over ? bpf_ntohs(t->hint) : k;
	k = (t->h + (i - 1) * t->step) % t->span;
	/* the k-th port of 1024-65535, the host's range skipped */
	return k + KVB_NAT_PORT_FIRST + (k < t->min ? 0 : t->gap);
}

/*
 * Is the port the search tries (the scratch's port) one that a mapping
 * of the new flow's guest port holds (nk: its NAT address and protocol)?
 * A global function: nat_port_take's frame is full.
 */
__noinline int nat_port_ours(void)
{
	struct nat_scratch *t = bpf_map_lookup_elem(&kvb_nat_tmp, &kvb_zero);
	struct kvb_natmap *m;

	if (!t)
		return 0;
	t->nk.port = t->port;
	m = bpf_map_lookup_elem(&kvb_natmap, &t->nk);
	barrier_var(t);
	return m && m->slot == t->orig.slot;
}

/* A flow takes t->port: its own reply key (ct_create). */
static __always_inline int nat_take_flow(struct nat_scratch *t)
{
	t->orig.port = t->port;
	switch (ct_create(&t->rk, &t->reply, &t->ok, &t->orig)) {
	case CT_MADE:
		return t->port;
	case CT_TAKEN:
		return NAT_TAKE_NEXT;	/* taken for this destination */
	case CT_RACE:
		return 0;
	default:
		return DROP(KVB_DROP_NAT_FULL);
	}
}

/*
 * A mapping takes t->port (its reverse entry, then its own), then the
 * flow is made on it (natmap_flow).
 */
static __always_inline int nat_take_map(struct nat_scratch *t)
{
	struct kvb_natmap *v;
	long err;

	t->nk.port = t->port;
	err = bpf_map_update_elem(&kvb_natmap, &t->nk, t->mv, BPF_NOEXIST);
	barrier_var(t);
	if (err == -E2BIG_ || err == -ENOMEM_)
		return DROP(KVB_DROP_NAT_FULL);
	if (err)
		return NAT_TAKE_NEXT;	/* another mapping's */
	v = (void *)t->mv;
	v->addr = t->orig.addr;
	v->port = t->port;
	err = bpf_map_update_elem(&kvb_natmap, &t->mk, t->mv, BPF_NOEXIST);
	barrier_var(t);
	if (err) {
		/* another CPU mapped the same guest socket first */
		bpf_map_delete_elem(&kvb_natmap, &t->nk);
		return DROP(err == -EEXIST_ ? KVB_DROP_NAT_PORTS :
					      KVB_DROP_NAT_FULL);
	}
	/* counted in its port's share: given back when it goes
	 * (natmap_put, by the slot in its value); not counted (the table
	 * full), nothing is given back for it */
	if (!nat_slot_take(t->orig.addr, t->orig.slot, t->ok.proto,
			   t->orig.net_id)) {
		barrier_var(t);
		v = bpf_map_lookup_elem(&kvb_natmap, &t->mk);
		barrier_var(t);
		if (v)
			v->slot = 0;
	} else {
		/* the port's share remembers a port it holds, which its
		 * flows past the share try first (nat_candidate) */
		barrier_var(t);
		v = bpf_map_lookup_elem(&kvb_natmap, &t->ck);
		barrier_var(t);
		if (v)
			v->port = t->port;
	}
	barrier_var(t);
	t->held = KVB_CT_M_MAP;
	return natmap_flow(t);
}

/*
 * Endpoint-independent mapping: the guest endpoint's mapping when it has
 * a live one (the flow is made on its port), else NAT_TAKE_NEXT after
 * preparing the new mapping's keys and value for nat_take_map.
 */
static __always_inline int nat_map_find(struct __sk_buff *skb,
					struct nat_scratch *t)
{
	struct kvb_natmap *m, *v;
	long err;

	t->held = 0;
	t->mk.addr = t->ok.saddr;
	t->mk.addr2 = t->orig.addr;
	t->mk.port = t->ok.sport;
	t->mk.proto = t->ok.proto;
	t->mk.kind = KVB_NM_GUEST;
	m = bpf_map_lookup_elem(&kvb_natmap, &t->mk);
	barrier_var(t);
	if (m) {
		t->port = m->port;
		err = natmap_get(m);
		barrier_var(t);
		if (!err)
			return DROP(KVB_DROP_NAT_PORTS);	/* dying, for ns */
		t->held = KVB_CT_M_MAP;
		/* the port is the host's for this remote: its connection */
		t->rk.dport = t->port;
		err = port_is_hosts(skb, &t->tuple, t->rk.proto, &t->rk);
		barrier_var(t);
		if (err) {
			natmap_put_t(t, 0);
			return DROP(KVB_DROP_NAT_PORTS);
		}
		return natmap_flow(t);
	}
	t->nk.addr = t->orig.addr;
	t->nk.addr2 = 0;
	t->nk.proto = t->ok.proto;
	t->nk.kind = KVB_NM_NAT;
	t->fk.addr = t->orig.addr;
	t->fk.proto = t->ok.proto;
	t->fk.pad = 0;
	v = (void *)t->mv;
	__builtin_memset(t->mv, 0, sizeof(t->mv));
	v->flows = 1;
	v->addr = t->ok.saddr;
	v->port = t->ok.sport;
	v->net_id = t->orig.net_id;
	v->guest_ifindex = t->orig.guest_ifindex;
	__builtin_memcpy(v->guest_mac, t->orig.guest_mac, ETH_ALEN);
	v->slot = t->orig.slot;
	return NAT_TAKE_NEXT;
}

/*
 * A new flow from a guest, prepared in the scratch (keys ok and rk,
 * entries orig and reply, orig.net_id and orig.addr the NAT address):
 * find its translated port and make it. NAT_TAKE_MAP (TCP, UDP): the
 * guest endpoint's mapping, or a new one (RFC 4787 REQ-1, below);
 * NAT_TAKE_FLOW (ICMP echo, hairpin): a port of the flow's own. The
 * search starts at the keyed hash of the guest's endpoint (a mapping's)
 * or of the whole tuple (a flow's) and steps through 1024-65535, the
 * host's ephemeral range skipped, passing over forwarded ports and the
 * ports of host sockets. Returns the port (network order, never 0), 0
 * when another CPU made the same flow first (ok exists: use it), or a
 * drop code.
 *
 * A global function: the verifier checks the search's 33 tries once, not
 * once for each path of the program that makes a flow.
 */
__noinline int nat_port_take(struct __sk_buff *skb, __u32 what)
{
	struct nat_scratch *t = bpf_map_lookup_elem(&kvb_nat_tmp, &kvb_zero);
	struct kvb_net *net;
	__u32 i;
	int ret;

	if (!t)
		return DROP(KVB_DROP_NAT_FULL);
	if (what == NAT_TAKE_MAP) {
		ret = nat_map_find(skb, t);
		if (ret != NAT_TAKE_NEXT)
			return ret;
	} else if (what == NAT_TAKE_OWN) {
		t->held = 0;
		t->orig.mapped = 0;
		t->fk.addr = t->orig.addr;
		t->fk.proto = t->ok.proto;
		t->fk.pad = 0;
		t->nk.addr = t->orig.addr;
		t->nk.addr2 = 0;
		t->nk.proto = t->ok.proto;
		t->nk.kind = KVB_NM_NAT;
	}
	net = net_lookup(t->orig.net_id);
	barrier_var(t);
	if (!net)
		return DROP(KVB_DROP_NAT_FULL);
	/* the ranges: min, gap (the host's), span (NAT's) */
	t->min = net->host_port_lo;
	t->span = net->host_port_hi;
	if (!t->min || t->span < t->min) {
		t->min = KVB_HOST_PORT_LO;
		t->span = KVB_HOST_PORT_HI;
	}
	t->gap = t->span - t->min + 1;
	t->min -= KVB_NAT_PORT_FIRST;
	t->span = 65536 - KVB_NAT_PORT_FIRST - t->gap;
	if (!t->span || t->span > 65536)
		return DROP(KVB_DROP_NAT_PORTS);
	/* a mapping's search depends on the guest's endpoint, not the
	 * remote; a flow's on the whole tuple */
	t->h = flow_hash(t->ok.saddr,
			 what == NAT_TAKE_MAP ? t->orig.addr : t->ok.daddr,
			 t->ok.sport, what == NAT_TAKE_MAP ? 0 : t->ok.dport,
			 t->ok.proto);
	barrier_var(t);
	/* a step sharing no factor with the span visits distinct ports */
	t->step = t->span % 7919 ? 7919 : 1;
	/* a guest port that holds its share of the NAT address's ports
	 * gets no new mapping, and a port of its own only among the ports
	 * its mappings hold: the others' ports towards any destination
	 * stay free for them (nat_slot_held) */
	t->over = 0;
	t->own = 0;
	/* an ICMP echo identifier is a port of the flow's own too, counted
	 * in the share by proto (a guest's 65,535 echo requests with fresh
	 * identifiers to one remote took every identifier towards it: the
	 * other guests' pings there were refused, the host's new ones
	 * answered to that guest); a hairpin's (its opener's) is not */
	t->ticmp = what == NAT_TAKE_FLOW && t->ok.proto == IPPROTO_ICMP;
	if ((what != NAT_TAKE_FLOW || t->ticmp) && t->orig.slot) {
		t->n = nat_slot_held(t->orig.addr, t->orig.slot, t->ok.proto);
		barrier_var(t);
		t->over = t->n >= (t->span / KVB_NAT_PORT_SHARE ?: 1);
	}
	if (t->over && what == NAT_TAKE_MAP)
		return DROP(KVB_DROP_NAT_PORTS);	/* ct_out: NAT_TAKE_OWN */
	if (t->over && t->ticmp)
		return DROP(KVB_DROP_NAT_PORT_FULL);
	if (t->ticmp)
		t->orig.mapped = 0;	/* not an earlier try's */
	if (t->ticmp && t->orig.slot &&
	    nat_slot_take(t->orig.addr, t->orig.slot, t->ok.proto,
			  t->orig.net_id)) {
		barrier_var(t);
		t->own = 1;
		t->orig.mapped = KVB_CT_M_OWN;
	}
	/* counted while it searches, given back unless made (not counted:
	 * the table full, nothing to give back) */
	if (what == NAT_TAKE_OWN && !t->over && t->orig.slot &&
	    nat_slot_take(t->orig.addr, t->orig.slot, t->ok.proto,
			  t->orig.net_id)) {
		barrier_var(t);
		t->own = 1;
		t->orig.mapped = KVB_CT_M_OWN;
	}
	for (i = 0; i <= KVB_NAT_PORT_TRIES; i++) {
		barrier_var(t);
		t->n = nat_candidate(t, i, what);
		if (!t->n)
			continue;
		t->port = bpf_htons((__u16)t->n);
		if (what != NAT_TAKE_FLOW) {
			struct kvb_fwd *fw;

			t->fk.port = t->port;
			fw = bpf_map_lookup_elem(&kvb_fwd, &t->fk);
			/*
			 * A guest endpoint that a forward of its own port
			 * reaches (a WireGuard, IKE or SIP peer: the same
			 * port both ways) talks out from that public port,
			 * whatever its range, as masquerade's port
			 * preservation has it: the remote's packets to
			 * it, from the port the guest talked to, are then
			 * the flow's replies, not a forward's new
			 * connection that the guest's own flow would
			 * clash with.
			 */
			t->fwd_own = fw && i == 0 &&
				     fw->to_addr == t->ok.saddr &&
				     fw->to_port == t->ok.sport &&
				     fw->net_id == t->orig.net_id;
			barrier_var(t);
			if (fw && !t->fwd_own)
				continue;	/* a forward's */
			if (!fw && i == 0 && !nat_own_port_ok(t, t->n))
				continue;
			if (t->over && !nat_port_ours())
				continue;	/* not one it holds */
		}
		t->rk.dport = t->port;
		if (t->rk.proto == IPPROTO_ICMP ? icmp_id_is_hosts(t) :
		    port_is_hosts(skb, &t->tuple, t->rk.proto, &t->rk))
			continue;
		barrier_var(t);
		ret = what == NAT_TAKE_MAP ? nat_take_map(t) :
					     nat_take_flow(t);
		barrier_var(t);
		if (ret != NAT_TAKE_NEXT) {
			if (ret <= 0 && t->own)
				nat_slot_give(t->orig.addr, t->orig.slot,
					      t->ok.proto);
			return ret;
		}
	}
	if (t->own)
		nat_slot_give(t->orig.addr, t->orig.slot, t->ok.proto);
	barrier_var(t);
	/* a port at its share: none of its ports is free for this
	 * destination */
	return DROP(t->over ? KVB_DROP_NAT_PORT_FULL : KVB_DROP_NAT_PORTS);
}

/*
 * A packet from the WAN (reply key rk) for no flow and no forward: if it
 * is for a guest's mapping, the network's nat-filtering decides. Returns
 * NAT_MAP_NONE when there is no mapping or a host socket would take what
 * is refused (the host's), a drop code (nat-filtered; no-route when the
 * filter lets it in but the mapping's guest port is gone or now on a
 * network this one does not translate for), or 0: let in. With make,
 * the flow is made too (both keys, as if the guest had sent to the
 * remote) and 0 means made.
 */
__noinline int nat_map_in(struct __sk_buff *skb, const struct kvb_ct_key *rk,
			  __u32 make)
{
	__u32 zero = 0;
	struct nat_scratch *t = bpf_map_lookup_elem(&kvb_nat_tmp, &zero);
	struct kvb_natmap *n, *m;
	struct kvb_port *gp;
	struct kvb_net *net;
	int ret;

	if (!t || !rk)
		return NAT_MAP_NONE;
	if (rk->proto != IPPROTO_TCP && rk->proto != IPPROTO_UDP)
		return NAT_MAP_NONE;
	t->rk = *rk;
	t->held = make;
	nat_map_key(&t->nk, rk->daddr, rk->dport, rk->proto);
	n = bpf_map_lookup_elem(&kvb_natmap, &t->nk);
	barrier_var(t);
	if (!n)
		return NAT_MAP_NONE;
	/* the guest's endpoint, for the flow */
	t->ok.saddr = n->addr;
	t->ok.sport = n->port;
	t->orig.net_id = n->net_id;
	t->orig.guest_ifindex = n->guest_ifindex;
	__builtin_memcpy(t->orig.guest_mac, n->guest_mac, ETH_ALEN);
	net = net_lookup(t->orig.net_id);
	barrier_var(t);
	if (!net)
		return NAT_MAP_NONE;
	t->n = net->nat_filter;
	if (t->n == KVB_NAT_FILTER_ADDR) {
		t->pk.addr = t->rk.daddr;
		t->pk.addr2 = t->rk.saddr;
		t->pk.port = t->rk.dport;
		t->pk.proto = t->rk.proto;
		t->pk.kind = KVB_NM_PEER;
		m = bpf_map_lookup_elem(&kvb_natmap, &t->pk);
		barrier_var(t);
		if (!m || !m->flows)
			goto refuse;
	} else if (t->n != KVB_NAT_FILTER_ENDPOINT) {
		goto refuse;
	}
	/* what the filter lets in that a host service bound since would
	 * take is that service's: a guest keeps only its flows' remotes
	 * on a port the host now listens on (a guest took the port while
	 * the service was down, and holds it by one live flow) */
	if (port_is_hosts(skb, &t->tuple, t->rk.proto, &t->rk))
		return NAT_MAP_NONE;
	/* into the mapping's guest port only while it is a guest's port
	 * this network translates for, as a reply goes (natreply.h): a
	 * mapping outlives its guest's device until gc, and a tap
	 * detached keeps its ifindex; no flow is made for it (it would
	 * hold the network's count and keep the mapping alive) */
	gp = nat_guest_port(t->orig.guest_ifindex, t->orig.net_id);
	if (!gp)
		goto gone;
	if (!t->held)
		return 0;
	t->orig.slot = gp->slot;
	t->i = ct_room(t->orig.slot, net);
	barrier_var(t);
	if (t->i)
		return (int)t->i;
	/* the flow, as ct_out makes it for the guest's first packet */
	__builtin_memset(&t->reply, 0, sizeof(t->reply));
	t->reply.addr = t->ok.saddr;
	t->reply.port = t->ok.sport;
	t->reply.net_id = t->orig.net_id;
	t->reply.guest_ifindex = t->orig.guest_ifindex;
	__builtin_memcpy(t->reply.guest_mac, t->orig.guest_mac, ETH_ALEN);
	t->reply.last_ns = kvb_now();
	barrier_var(t);
	t->orig.addr = t->rk.daddr;
	t->orig.port = t->rk.dport;
	t->orig.state = 0;
	/* opened by the WAN: unanswered (30 s, evictable) until the guest
	 * sends (ct_answered), as a forward's; the packet that made it is
	 * not its answer */
	t->orig.from_wan = 1;
	t->reply.from_wan = 1;
	t->orig.last_ns = t->reply.last_ns;
	t->orig.addr2 = 0;
	t->orig.port2 = 0;
	t->orig.hairpin = 0;
	t->orig.mapped = 0;
	__builtin_memset(&t->orig.td, 0, sizeof(t->orig.td));
	t->orig.nh_len = 0;
	t->orig.gnet = t->orig.pad3 = 0;
	t->orig.nh_ifindex = 0;
	t->orig.nh_gen = 0;
	__builtin_memset(t->orig.nh_dmac, 0, 2 * ETH_ALEN);
	t->ok.daddr = t->rk.saddr;
	t->ok.dport = t->rk.sport;
	t->ok.proto = t->rk.proto;
	t->ok.dir = 0;
	t->ok.pad = 0;
	t->port = t->rk.dport;
	t->mk.addr = t->ok.saddr;
	t->mk.addr2 = t->rk.daddr;
	t->mk.port = t->ok.sport;
	t->mk.proto = t->rk.proto;
	t->mk.kind = KVB_NM_GUEST;
	t->held = 0;
	m = bpf_map_lookup_elem(&kvb_natmap, &t->mk);
	barrier_var(t);
	if (!m)
		return DROP(KVB_DROP_NAT_FILTERED);	/* it just died */
	t->n = natmap_get(m);
	barrier_var(t);
	if (!t->n)
		return DROP(KVB_DROP_NAT_FILTERED);
	t->held = KVB_CT_M_MAP;
	/* another CPU made the same flow first (0; or the packet's own key
	 * taken by then, as the first insert of ct_create): there to use */
	ret = natmap_flow(t);
	if (!IS_DROP(ret) || bpf_map_lookup_elem(&kvb_ct, &t->rk))
		return 0;
	return ret;
refuse:
	/* a host service that bound the port since keeps what is its */
	if (port_is_hosts(skb, &t->tuple, t->rk.proto, &t->rk))
		return NAT_MAP_NONE;
	return DROP(KVB_DROP_NAT_FILTERED);
gone:
	if (port_is_hosts(skb, &t->tuple, t->rk.proto, &t->rk))
		return NAT_MAP_NONE;
	return DROP(KVB_DROP_NO_ROUTE);
}

/*
 * Whether addr is still one of the host's own addresses: the FIB calls a
 * local destination "not forwarded" (it is delivered, not routed).
 */
static __always_inline int nat_addr_is_hosts(struct __sk_buff *skb,
					     struct nat_scratch *t,
					     __be32 addr, __u32 ifindex)
{
	struct bpf_fib_lookup *fib = &t->fib;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET_;
	fib->ipv4_dst = addr;
	fib->ifindex = ifindex;
	return bpf_fib_lookup(skb, fib, sizeof(*fib), 0) ==
	       BPF_FIB_LKUP_RET_NOT_FWDED;
}

/* The generation of the flows' cached next hops (kvb_ct.nh_*). */
static __always_inline __u32 nh_gen_now(void)
{
	__u32 zero = 0;
	struct kvb_natst *st = bpf_map_lookup_elem(&kvb_natst, &zero);

	return st ? st->nh_gen : 0;
}

/*
 * The length on the wire of a packet of l3_len bytes with hdr_len bytes
 * of L3 and L4 headers: a GSO frame's is its segments' (headers plus
 * gso_size, as skb_gso_validate_network_len counts), not the frame's.
 */
static __always_inline __u32 nat_wire_len(__u32 l3_len, __u32 hdr_len,
					  __u32 gso_size)
{
	return gso_size ? hdr_len + gso_size : l3_len;
}

/*
 * Whether a flow's packet of len bytes on the wire (nat_wire_len) may
 * take the next hop cached in its original entry: the cache is of this
 * generation, the flow was revalidated less than KVB_NH_REVALIDATE_NS ago
 * (and so is live), and the FIB has accepted a packet at least this long.
 */
static __always_inline int nh_cached(const struct kvb_ct *ct, __u32 gen,
				     __u32 len, __u64 now)
{
	__u64 last = ct->last_ns;

	if (!ct->nh_ifindex || ct->nh_gen != gen || ct->hairpin)
		return 0;
	if (kvb_after(now, last) && now - last >= KVB_NH_REVALIDATE_NS)
		return 0;
	return len <= ct->nh_len;
}

/*
 * Keep the FIB's answer (t->fib, t->nh_ok) in the flow's original entry
 * ct: device, MACs, the largest length it accepted. A new flow's entry
 * (t->orig) gets it before it is inserted, an established one in place:
 * no lookup of its own.
 */
static __always_inline void nh_keep(struct kvb_ct *ct,
				    const struct nat_scratch *t)
{
	const struct bpf_fib_lookup *fib = &t->fib;

	if (ct->nh_ifindex != fib->ifindex || ct->nh_gen != t->nh_gen ||
	    !mac_equal(ct->nh_dmac, fib->dmac) ||
	    !mac_equal(ct->nh_smac, fib->smac)) {
		ct->nh_ifindex = 0;	/* while the fields change */
		__builtin_memcpy(ct->nh_dmac, fib->dmac, ETH_ALEN);
		__builtin_memcpy(ct->nh_smac, fib->smac, ETH_ALEN);
		ct->nh_len = t->nh_len;
		ct->nh_gen = t->nh_gen;
		ct->nh_ifindex = fib->ifindex;
	} else if (t->nh_len > ct->nh_len) {
		ct->nh_len = t->nh_len;
	}
}

/*
 * The remote of a packet a WAN device received for no flow, of a protocol
 * without ports (nat_generic): the host's own (its tunnel, its IPsec),
 * noted in kvb_nathost, at most once a second, so that no guest's flow
 * takes that remote's packets of that protocol from the host
 * (nat_generic_take). An ICMP query's reply alike, with its identifier
 * (the host's ping: icmp_id_is_hosts). A global function.
 */
__noinline int nat_host_note(const struct kvb_ct_key *rk)
{
	struct kvb_nathost v = { 0 }, *h;
	__u64 now = kvb_now();

	if (!rk)
		return 0;
	v.key.raddr = rk->saddr;
	v.key.laddr = rk->daddr;
	v.key.proto = rk->proto;
	if (rk->proto == IPPROTO_ICMP)
		v.key.id = rk->dport;	/* a query's identifier */
	/* a note is written whole (its check word), at most once a
	 * second; a torn read of the old one is taken for none */
	h = bpf_map_lookup_elem(&kvb_nathost, &v.key);
	if (h && !kvb_after(now, h->last_ns + 1000000000ULL))
		return 0;
	v.last_ns = now;
	v.check = kvb_nathost_check(&v);
	bpf_map_update_elem(&kvb_nathost, &v.key, &v, BPF_ANY);
	return 0;
}

/*
 * The flow whose reply key (t->rk) another flow holds, when that flow is
 * over (ct_live: both entries idle past their timeout) and the sweep has
 * not freed it yet: freed now, its counts given back. 0 when it went (or
 * was gone), -1 when it lives.
 */
static __always_inline int nat_generic_stale(struct nat_scratch *t)
{
	struct kvb_ct *r = bpf_map_lookup_elem(&kvb_ct, &t->rk), *o;
	struct kvb_net *net;

	if (!r)
		return 0;
	net = net_lookup(r->net_id);
	if (net && ct_live(net, &t->rk, r, kvb_now()))
		return -1;
	/* the other flow's original key and its end (ct_flow_end; the
	 * mapping keys' room is free: a flow without ports has none) */
	kvb_ct_orig_key(&t->rk, r, &t->sk);
	o = bpf_map_lookup_elem(&kvb_ct, &t->sk);
	if (o)
		ct_flow_end(&t->sk, o, &t->srk, &t->mk, &t->pk, &t->nk);
	else
		bpf_map_delete_elem(&kvb_ct, &t->rk);	/* a reply alone */
	return 0;
}

/*
 * A WAN packet's source that no remote can have, for a flow the WAN
 * would open (to the NAT address rk->daddr): the NAT address itself, 0/8,
 * loopback, multicast, the limited broadcast. Forged: a flow made from it
 * would have the guest answer the host itself, or (from the NAT address
 * and a second forwarded port) a hairpin reflect the WAN's packets into
 * another guest. The host's other addresses, and sources with no way
 * back, are the FIB's to say (nat_wan_src_forged).
 */
static __always_inline int nat_wan_martian(const struct kvb_ct_key *rk)
{
	__u8 a = ((const __u8 *)&rk->saddr)[0];

	return rk->saddr == rk->daddr || a == 0 || a == 127 ||
	       (a >= 224 && a < 240) || rk->saddr == 0xffffffff;
}

/* What nat_flow_over found of a WAN packet's flow. */
#define NAT_OVER_LIVE 0		/* live: the packet is the flow's */
#define NAT_OVER_ENDED 1	/* over, ended now: the packet has no flow */
#define NAT_OVER_HOSTS 2	/* over, without ports: the host's */

/*
 * The flow whose reply key rk a WAN packet found. Over (both entries
 * idle past their timeouts) and not swept yet: one without ports (or an
 * ICMP query's) leaves its remote to the host (nat_host_note), as no
 * flow would; a TCP or UDP one is ended now (nat_generic_stale), and the
 * packet is then one of no flow (a forward's new connection, a
 * mapping's, the host's), as it would be a moment later, not the host's
 * while a forward or a live mapping waits for it. A global function: its
 * stack is not the WAN path's.
 */
__noinline int nat_flow_over(const struct kvb_ct_key *rk)
{
	struct nat_scratch *t = nat_scratch();
	struct kvb_net *net;
	struct kvb_ct *ct;

	if (!t || !rk)
		return NAT_OVER_LIVE;
	ct = bpf_map_lookup_elem(&kvb_ct, rk);
	if (!ct)
		return NAT_OVER_ENDED;
	net = net_lookup(ct->net_id);
	if (!net)
		return NAT_OVER_HOSTS;
	if (ct_live(net, rk, ct, kvb_now()))
		return NAT_OVER_LIVE;
	if (nat_generic(rk->proto) || rk->proto == IPPROTO_ICMP) {
		nat_host_note(rk);
		return NAT_OVER_HOSTS;
	}
	__builtin_memcpy(&t->rk, rk, sizeof(t->rk));
	return nat_generic_stale(t) ? NAT_OVER_LIVE : NAT_OVER_ENDED;
}

/*
 * A new flow of a protocol without ports (nat_generic), prepared in the
 * scratch as for nat_port_take (keys ok and rk, entries orig and reply):
 * translated by its addresses alone, so its reply key is the remote's
 * address, the NAT address and the protocol, which one flow at a time may
 * hold. Refused (nat-clash) when another guest's live flow holds it, or
 * when the host itself had that protocol from that remote within
 * KVB_NATHOST_S (kvb_nathost: the host's tunnel keeps its packets).
 * Returns 1 when made, 0 when another CPU made the same flow first (ok
 * exists: use it), or a drop code. A global function.
 */
__noinline int nat_generic_take(void)
{
	struct nat_scratch *t = bpf_map_lookup_elem(&kvb_nat_tmp, &kvb_zero);
	if (!t)
		return DROP(KVB_DROP_NAT_FULL);
	t->hk.raddr = t->ok.daddr;
	t->hk.laddr = t->orig.addr;
	t->hk.proto = t->ok.proto;
	t->hk.pad = 0;
	t->hk.id = 0;
	barrier_var(t);
	if (nathost_recent())
		return DROP(KVB_DROP_NAT_CLASH);
	t->orig.port = 0;
	t->rk.dport = 0;
	for (int i = 0; i < 2; i++) {
		barrier_var(t);
		switch (ct_create(&t->rk, &t->reply, &t->ok, &t->orig)) {
		case CT_MADE:
			return 1;
		case CT_RACE:
			return 0;
		case CT_TAKEN:
			/* another flow's; one that is over goes */
			if (i || nat_generic_stale(t))
				return DROP(KVB_DROP_NAT_CLASH);
			break;
		default:
			return DROP(KVB_DROP_NAT_FULL);
		}
	}
	return DROP(KVB_DROP_NAT_CLASH);
}

/*
 * Does any overlay network of this fabric tunnel over IPv4 (an IPv4 vtep:
 * the loader keeps their count in kvb_natst.vteps4)? Then the other hosts
 * trust this host's IPv4 address on their VXLAN port: a guest's UDP there,
 * translated to that address, would pass as this host's tunnel traffic
 * and put the guest's frames into any of their overlay networks, whatever
 * VNI it writes (in a fragment NAT never reads) and whichever of a vtep
 * host's addresses it picks (the kernel's VXLAN socket takes the port on
 * every address). So while there is one, no guest's UDP to port 4789 is
 * translated, to any address. One word read, on packets to or from that
 * port only.
 */
static __always_inline int nat_vteps4(void)
{
	__u32 zero = 0;
	struct kvb_natst *st = bpf_map_lookup_elem(&kvb_natst, &zero);

	return st && st->vteps4;
}

/*
 * Find or create the flow's translation. t->naddr is the source the FIB
 * picks now (the egress device's address); a new flow takes it (and its
 * mapping is on that address). A live flow keeps the address it has while
 * the host still holds it (the route may have moved: the remote knows the
 * flow by that address); once the host no longer does (the WAN's address
 * changed), the flow is over and is made anew from t->naddr. Returns the
 * NAT port (network order) in *nport and the flow's address in t->naddr,
 * or a drop code. Two CPUs creating the same flow end with one entry: the
 * reply key is claimed with BPF_NOEXIST first, then the original key; the
 * loser gives its reply key back and uses the winner's.
 */
static __always_inline int ct_out(struct __sk_buff *skb,
				  struct nat_scratch *t,
				  const struct kvb_net *net, __u32 ifindex,
				  const __u8 *gmac, struct kvb_ct_key *ok,
				  __be16 *nport, struct kvb_ct *ct)
{
	/* the keys live in the scratch: the program's stack is full */
	struct kvb_ct_key *rk = &t->rk;
	struct kvb_ct *o = &t->orig, *r = &t->reply;
	__u64 now = kvb_now();
	int ret;

	__builtin_memset(o, 0, sizeof(*o));
	__builtin_memset(r, 0, sizeof(*r));
	__builtin_memset(rk, 0, sizeof(*rk));
	rk->saddr = ok->daddr;
	rk->sport = ok->dport;
	rk->proto = ok->proto;
	rk->dir = 1;
	o->net_id = r->net_id = net->id;
	o->guest_ifindex = r->guest_ifindex = ifindex;
	r->addr = ok->saddr;
	r->port = ok->sport;

	__u64 *cnt = ct_counter(net->id);

	/* ct: the caller's lookup of ok */
	if (ct && ct_live(net, ok, ct, now) &&
	    (ct->addr == t->naddr ||
	     nat_addr_is_hosts(skb, t, ct->addr, net->gw_host))) {
		/* a flow that kept an older address of the host's is not
		 * cached: its packets go on asking */
		if (t->nh_ok && ct->addr == t->naddr)
			nh_keep(ct, t);
		ct_touch_flow(ok, ct, now);
		*nport = ct->port;
		t->naddr = ct->addr;
		return 0;
	}
	if (ct) {	/* expired, or its address gone: both keys go */
		__u16 oslot = ct->slot;

		rk->daddr = ct->addr;
		rk->dport = ct->port;
		bpf_map_delete_elem(&kvb_ct, rk);
		if (!bpf_map_delete_elem(&kvb_ct, ok)) {
			if (cnt && *cnt)
				__sync_fetch_and_add(cnt, -1);
			ct_port_give(oslot);
			if (ct->mapped)
				nat_unmap(ok, ct);
		}
	}
	rk->daddr = t->naddr;
	o->addr = t->naddr;
	/* a full network refuses new flows, a port that holds its share
	 * too, unless one of its flows not established makes room */
	o->slot = ct_port_slot(ifindex);
	ret = ct_room(o->slot, net);
	if (ret)
		return ret;
	__builtin_memcpy(o->guest_mac, gmac, ETH_ALEN);
	__builtin_memcpy(r->guest_mac, gmac, ETH_ALEN);
	o->last_ns = r->last_ns = now;
	if (t->nh_ok)
		nh_keep(o, t);
	if (ok->proto == IPPROTO_ICMP)
		rk->sport = 0;	/* echo replies carry only the id */
	t->ok = *ok;
	if (nat_generic(ok->proto)) {
		ret = nat_generic_take();
		if (ret < 0)
			return ret;
		if (ret) {
			*nport = 0;	/* no port: the address alone */
			return 0;
		}
	} else {
		__u32 how = ok->proto == IPPROTO_ICMP ? NAT_TAKE_FLOW :
							 NAT_TAKE_MAP;

		ret = nat_port_take(skb, how);
		/* no mapping to be had (the ports it may take are other
		 * endpoints'): a port of the flow's own, free for this
		 * destination, as conntrack finds one */
		if (ret == DROP(KVB_DROP_NAT_PORTS) &&
		    ok->proto != IPPROTO_ICMP) {
			how = NAT_TAKE_OWN;
			ret = nat_port_take(skb, how);
		}
		/* the table full: room from the heavy holders, and the
		 * way that failed once more */
		if (ret == DROP(KVB_DROP_NAT_FULL) && ct_room_any(o->slot))
			ret = nat_port_take(skb, how);
		if (ret < 0)
			return ret;
		if (ret) {
			*nport = (__be16)ret;
			return 0;
		}
	}
	ct = bpf_map_lookup_elem(&kvb_ct, ok);	/* lost a race */
	if (!ct)
		return DROP(KVB_DROP_NAT_FULL);
	*nport = ct->port;
	t->naddr = ct->addr;
	return 0;
}

/*
 * The first answer on a flow of key k (the packet's key), which another
 * than its usual opener began: a forward's flow, opened by the WAN
 * (kvb_ct.from_wan), answered by its guest (k the original key); a
 * hairpin's, opened by guest A, answered by guest B (k the reply key).
 * A UDP flow is then answered, both entries (kvb_ct_answered_state), as the
 * WAN's answer makes a guest's own flow. Until then it has the unreplied
 * timeout (KVB_CT_UNREPLIED_S), so datagrams from forged sources at a
 * forwarded port do not hold the network's flows for long. TCP's flows
 * are established by their handshake (ct_tcp_completes). A global
 * function: verified once.
 */
__noinline int ct_answered(const struct kvb_ct_key *k)
{
	struct kvb_ct_key other;
	struct kvb_ct *e, *o;

	if (!k)
		return 0;
	e = bpf_map_lookup_elem(&kvb_ct, k);
	if (!e || e->state != KVB_CT_NEW)
		return 0;
	if (k->dir) {
		if (!e->hairpin)
			return 0;	/* a remote's answer: nat_from_wan's */
		kvb_ct_orig_key(k, e, &other);
	} else {
		if (!e->from_wan)
			return 0;	/* the guest's own flow: not by itself */
		kvb_ct_reply_key(k, e, &other);
	}
	e->state = kvb_ct_answered_state(k->proto);
	o = bpf_map_lookup_elem(&kvb_ct, &other);
	if (o && o->state == KVB_CT_NEW)
		o->state = e->state;
	return 0;
}

/*
 * Fragmented datagrams of translated flows (kvb_natfrag). A first
 * fragment carries the ports and is translated as any packet of its
 * flow; nat_frag_note leaves its flow key k (as the fragment arrived)
 * under the datagram's addresses, protocol and IPv4 identification, and
 * nat_frag_ports gives a later fragment of it (no L4 header) the same
 * key: its first fragment's ports into k, whose addresses, protocol and
 * dir the caller set. 0, or -1 when no first fragment came before it
 * (reordered, lost, or longer ago than KVB_NATFRAG_S). Global functions:
 * verified once, with frames of their own.
 */
static __always_inline int nat_frag_key(struct __sk_buff *skb,
					struct kvb_natfrag_key *fk,
					__be32 saddr, __be32 daddr, __u8 proto,
					__u8 dir)
{
	fk->saddr = saddr;
	fk->daddr = daddr;
	fk->proto = proto;
	fk->dir = dir;
	return bpf_skb_load_bytes(skb, IP_OFF + 4, &fk->id, 2);
}

/* An IPv4 fragment's payload bytes (*len) and their offset in the
 * datagram (*off); 1 when it is the last (MF clear), -1 unreadable. */
static __always_inline int nat_frag_extent(struct __sk_buff *skb, __u32 *len,
					   __u32 *off)
{
	__u8 ip[8];

	if (bpf_skb_load_bytes(skb, IP_OFF, ip, 8))
		return -1;
	*len = ((__u32)ip[2] << 8 | ip[3]) - (ip[0] & 15) * 4;
	*off = ((__u32)(ip[6] & 0x1f) << 8 | ip[7]) * 8;
	return !(ip[6] & 0x20);
}

__noinline int nat_frag_note(struct __sk_buff *skb, const struct kvb_ct_key *k)
{
	struct kvb_natfrag v = {};
	__u32 off;

	if (!k ||
	    nat_frag_key(skb, &v.key, k->saddr, k->daddr, k->proto, k->dir) ||
	    nat_frag_extent(skb, &v.seen, &off) < 0)
		return 0;
	v.sport = k->sport;
	v.dport = k->dport;
	v.until_ns = kvb_now() + KVB_NATFRAG_S * 1000000000ULL;
	v.check = kvb_natfrag_check(&v);
	bpf_map_update_elem(&kvb_natfrag, &v.key, &v, BPF_ANY);
	return 0;
}

/* The note is copied first and taken only when its check word holds and
 * it carries the key looked up (kvb_natfrag: an LRU entry can be another
 * datagram's by the time it is read). */
__noinline int nat_frag_ports(struct __sk_buff *skb, struct kvb_ct_key *k)
{
	struct kvb_natfrag_key fk = {};
	__u32 len, off, total;
	struct kvb_natfrag v, *e;
	int last;

	if (!k || nat_frag_key(skb, &fk, k->saddr, k->daddr, k->proto, k->dir))
		return -1;
	e = bpf_map_lookup_elem(&kvb_natfrag, &fk);
	if (!e)
		return -1;
	__builtin_memcpy(&v, e, sizeof(v));
	if (v.check != kvb_natfrag_check(&v) ||
	    !kvb_words_equal(&v.key, &fk, 3) ||
	    kvb_now() > v.until_ns)
		return -1;
	k->sport = v.sport;
	k->dport = v.dport;
	/* the note ends once all of its datagram passed, not at its last
	 * fragment (MF clear): fragments reordered behind the last (first,
	 * last, middle: per-packet load balancing, multi-path links) still
	 * find it, as conntrack's reassembly takes them (t93), and a later
	 * datagram of the same id whose later fragments come before its
	 * first finds none, so never this one's ports (t102: another
	 * guest's payload was delivered by them). A duplicate fragment
	 * only ends it early */
	last = nat_frag_extent(skb, &len, &off);
	if (last < 0)
		return 0;
	if (last)
		e->total = off + len;
	__sync_fetch_and_add(&e->seen, len);
	total = *(volatile __u32 *)&e->total;
	if (total && *(volatile __u32 *)&e->seen >= total)
		bpf_map_delete_elem(&kvb_natfrag, &fk);
	return 0;
}

/*
 * A first fragment's datagram starts anew: whatever an earlier datagram
 * of the same addresses, protocol and id noted (either way) is
 * forgotten before this one is judged, so that a note never outlives
 * its datagram into another (a first fragment left to the host then
 * keeps its later ones, whatever a forged datagram of that id noted).
 */
__noinline int nat_frag_forget(struct __sk_buff *skb, __be32 saddr,
			       __be32 daddr, __u32 proto)
{
	struct kvb_natfrag_key fk = {};

	if (nat_frag_key(skb, &fk, saddr, daddr, (__u8)proto, 0))
		return 0;
	bpf_map_delete_elem(&kvb_natfrag, &fk);
	fk.dir = 1;
	bpf_map_delete_elem(&kvb_natfrag, &fk);
	return 0;
}

/*
 * The MTU of network net_id when a packet of l3_len bytes (its IP
 * header's; a GRO super-packet's segments count, headers plus gso_size),
 * its L4 header at l4off, is longer than that network takes (its MTU set
 * below the WAN's, or below the sending network's), else 0. The kernel,
 * forwarding it, would not hand a guest a packet beyond its link's MTU
 * (a veth guest's kernel drops it uncounted, a guest whose stack keeps
 * to its MTU too).
 */
static __always_inline __u32 nat_too_long(struct __sk_buff *skb,
					  __u32 net_id, __u32 l3_len,
					  __u32 l4off, __u8 proto)
{
	struct kvb_net *gn = net_lookup(net_id);
	__u32 hdr = l4off - ETH_HLEN + 8;
	__u8 doff = 0;

	if (!gn || !gn->mtu)
		return 0;
	if (skb->gso_size) {
		if (proto == IPPROTO_TCP &&
		    !bpf_skb_load_bytes(skb, l4off + 12, &doff, 1))
			hdr = l4off - ETH_HLEN + (doff >> 4) * 4;
		l3_len = nat_wire_len(l3_len, hdr, skb->gso_size);
	}
	return l3_len > gn->mtu ? gn->mtu : 0;
}

/* A reply's for the guest's network (port gp): nat_too_long. */
static __always_inline __u32 nat_reply_too_long(struct __sk_buff *skb,
						const struct kvb_port *gp,
						__u32 l3_len, __u32 l4off,
						__u8 proto)
{
	return nat_too_long(skb, gp->net_id, l3_len, l4off, proto);
}

/*
 * A hairpin's packet into network net_id (a forward of another nat
 * network at its WAN address), its L4 header (or a later fragment's
 * payload) at l4off: its MTU, in the scratch too (nat_too_big answers
 * from it), when the packet is longer than that network takes, else 0.
 * A global function: the skb's fields read afresh, not through a
 * pointer the caller's code kept.
 */
__noinline int hairpin_too_long(struct __sk_buff *skb, __u32 net_id,
				__u32 l4off, __u32 proto)
{
	struct nat_scratch *t = nat_scratch();
	__be16 tot = 0;

	if (!skb || !t || bpf_skb_load_bytes(skb, ETH_HLEN + 2, &tot, 2))
		return 0;
	t->mtu = nat_too_long(skb, net_id, bpf_ntohs(tot), l4off & 0xffff,
			      (__u8)proto);
	return t->mtu;
}

/*
 * Rewrite source and destination of a TCP/UDP packet and send it on.
 * NAT_TOO_BIG (the MTU in the scratch) when it is longer than the
 * receiver's network takes: the caller answers the sender fragmentation
 * needed from its gateway, as for a route out.
 */
static __always_inline int hairpin_send(struct __sk_buff *skb,
					const struct kvb_net *net,
					const struct kvb_ct_key *k,
					struct kvb_ct *ct, __u32 l4off,
					__u32 fragk)
{
	__be32 saddr = ct->addr, daddr = ct->addr2;
	__be16 sport = ct->port, dport = ct->port2;
	__u32 out = ct->guest_ifindex;
	__u8 mac[ETH_ALEN];
	struct kvb_port *gp;
	int ret;

	/* to the guest's port as it is now, as a reply goes (natreply.h):
	 * a forward's port (fwd_guest) may since have gone, or been
	 * detached and attached to another network (an internal one, say:
	 * a hairpin must not reach into it), and a
	 * flow outlives its guest's device (gone without detach, its
	 * ifindex maybe another device's now) */
	ret = nat_reply_port(ct, mac, &gp);
	if (IS_DROP(ret))
		return ret;
	/* guest to guest through the WAN address: isolation applies
	 * between guests of one network */
	if (!hairpin_may_reach(skb->ifindex, gp))
		return DROP(KVB_DROP_ISOLATED);
	/*
	 * Into a network of a smaller MTU (a forward of another nat network
	 * at its WAN address): the receiver's link would drop it uncounted
	 * and BPF cannot fragment; the sender hears fragmentation needed
	 * with that MTU, as a packet from the WAN is answered
	 * (nat_too_long), whether DF is set or not, and every later
	 * fragment is checked as its first was.
	 */
	if (hairpin_too_long(skb, gp->net_id, l4off, k->proto))
		return NAT_TOO_BIG;
	if (fragk == KVB_FRAG_LATER) {
		/* the addresses alone (the ports and the L4 checksum are
		 * in the first fragment) */
		if (!dec_ttl(skb, k->proto))
			return DROP(KVB_DROP_TTL);
		if (rewrite_addr(skb, IP_OFF_SADDR, k->saddr, saddr, 0, l4off) ||
		    rewrite_addr(skb, IP_OFF_DADDR, k->daddr, daddr, 0, l4off))
			return DROP(KVB_DROP_L4);
		goto send;
	}
	/* touched only now: a flow to a port gone expires */
	ct_touch_flow(k, ct, kvb_now());
	/* established as any flow: TCP by its handshake (both ends are
	 * guests), the rest by B's answer */
	if (k->proto == IPPROTO_TCP)
		ct_tcp_track(skb, l4off, k);
	else if (k->dir && ct->state == KVB_CT_NEW)
		ct_answered(k);
	if (!dec_ttl(skb, k->proto))
		return DROP(KVB_DROP_TTL);
	if (fragk == KVB_FRAG_FIRST)	/* its later ones follow its flow */
		nat_frag_note(skb, k);
	if (rewrite_addr(skb, IP_OFF_SADDR, k->saddr, saddr, k->proto, l4off) ||
	    rewrite_addr(skb, IP_OFF_DADDR, k->daddr, daddr, k->proto, l4off) ||
	    rewrite_port(skb, l4off, 0, k->sport, sport, k->proto) ||
	    rewrite_port(skb, l4off, 2, k->dport, dport, k->proto))
		return DROP(KVB_DROP_L4);
send:
	bpf_skb_store_bytes(skb, ETH_OFF_DST, mac, ETH_ALEN, 0);
	/* from the receiver's gateway: a routed network's behind this
	 * one (route_from_guest's hairpin) has its own MAC */
	if (gp->net_id != net->id) {
		const struct kvb_net *rn = net_lookup(gp->net_id);

		if (rn)
			net = rn;
	}
	bpf_skb_store_bytes(skb, ETH_OFF_SRC, net->uplink_mac, ETH_ALEN, 0);
	count_tx(out, skb->len);
	return redirected(bpf_redirect(out, 0));
}

/*
 * The guest a forward fw reaches now: its port (NULL: none), whose
 * ifindex goes into *ifindex and the MAC to send to into mac. A forward
 * names an address, and the port that holds it can change under it (a
 * VM restarted: detach, a new tap with a new ifindex, attach again). The
 * address's holder now (its owner entry in kvb_addr, with the holder's
 * own live binding) takes the forward from the port `forward add`
 * resolved (fw->ifindex) only when the operator gave it the address (a
 * static `ip`, on a port whose MAC is or will be known, as forward add
 * asks) or when it is the same VM (the MAC the operator gave its port,
 * `mac`, the forward's): a lease of the address by another guest (a
 * free address dnsmasq hands out once the VM went, or the VM's own lease
 * to a guest that sends from the VM's MAC on a port that pins the first
 * MAC it sees) never draws the forward's connections. The port the
 * forward was added for takes them only while it holds the address. A
 * guest whose MAC is not known yet (it has sent nothing since its port
 * was attached without `mac`) is none either: its callers refuse the
 * connection as no-route, counted, until it sends (t121: sent to MAC
 * 00:00:00:00:00:00, lost uncounted).
 */
static __always_inline struct kvb_port *fwd_guest(struct nat_scratch *t,
						  const struct kvb_fwd *fw,
						  __u32 *ifindex, __u8 *mac)
{
	struct kvb_addr_key *k = &t->gk;
	struct kvb_port *gp;
	struct kvb_addr *o;
	__u32 owner;

	__builtin_memset(k, 0, sizeof(*k));
	k->family = 4;
	k->net_id = (__u8)fw->net_id;
	__builtin_memcpy(k->addr, &fw->to_addr, 4);
	o = bpf_map_lookup_elem(&kvb_addr, k);
	if (o && o->owner != fw->ifindex) {
		owner = o->owner;
		o = bind_of_in(k, owner, 4, &fw->to_addr, 4);	/* its own */
		gp = nat_guest_port(owner, fw->net_id);
		if (gp && o &&
		    (((o->flags & KVB_ADDR_F_STATIC) &&
		      (!mac_is_zero(gp->mac) ||
		       (gp->flags & KVB_PORT_F_SPOOFCHECK))) ||
		     (!(gp->flags & KVB_PORT_F_MAC_PINNED) &&
		      !mac_is_zero(gp->mac) && mac_equal(gp->mac, fw->mac)))) {
			*ifindex = owner;
			__builtin_memcpy(mac, gp->mac, ETH_ALEN);
			return mac_is_zero(mac) ? NULL : gp;
		}
	}
	/* the port the forward was added for, while it holds the address
	 * (a live binding of it): not once the operator moved the address
	 * away, nor a device that took its ifindex since */
	*ifindex = fw->ifindex;
	gp = nat_guest_port(*ifindex, fw->net_id);
	if (!gp || !bind_of_in(k, fw->ifindex, 4, &fw->to_addr, 4))
		return NULL;
	/* its MAC as it is now (port set mac), else the one added with */
	__builtin_memcpy(mac, mac_is_zero(gp->mac) ? fw->mac : gp->mac,
			 ETH_ALEN);
	return mac_is_zero(mac) ? NULL : gp;
}

/*
 * What the TCP flags of the segment at l4off say about a connection the
 * WAN would open (a forward's, a mapping's), as conntrack's tcp_new
 * reads them, PSH, ECE and CWR aside:
 *   TCP_OPENS	SYN, or ACK (a connection picked up mid-stream, as
 *		conntrack's default nf_conntrack_tcp_loose does; its flow
 *		stays new, evictable, until the guest answers);
 *   TCP_NO_OPEN	a combination TCP sends that belongs to a connection
 *		already there: SYN+ACK, RST, RST+ACK, FIN+ACK;
 *   TCP_INVALID	one no TCP sends: no flags, FIN alone, SYN with FIN
 *		or RST, all of them (tcp_valid_flags).
 */
enum { TCP_INVALID, TCP_OPENS, TCP_NO_OPEN };

static __always_inline int tcp_flags_class(struct __sk_buff *skb, __u32 l4off)
{
	__u8 fl;

	if (bpf_skb_load_bytes(skb, (l4off + 13) & 0xff, &fl, 1))
		return TCP_INVALID;
	switch (fl & 0x37) {	/* FIN 01 SYN 02 RST 04 ACK 10 URG 20 */
	case 0x02: case 0x22:			/* SYN, SYN+URG */
	case 0x10: case 0x30:			/* ACK, ACK+URG */
		return TCP_OPENS;
	case 0x12:				/* SYN+ACK */
	case 0x04: case 0x14:			/* RST, RST+ACK */
	case 0x11: case 0x31:			/* FIN+ACK, +URG */
		return TCP_NO_OPEN;
	}
	return TCP_INVALID;
}

/*
 * Hairpin: guest A to its network's WAN address on a forwarded port
 * reaches the forward's guest B, from the gateway's address (so that B
 * answers through the fabric, not straight to A); B's answers go back to
 * A from the WAN address and port A asked for.
 */
static __always_inline int nat_hairpin(struct __sk_buff *skb,
				       const struct kvb_net *net,
				       const struct kvb_frame *f,
				       struct kvb_ct_key *ok, __u32 l4off)
{
	struct nat_scratch *t = nat_scratch();
	struct kvb_ct_key *rk;
	struct kvb_ct *ct;
	struct kvb_fwd *fw;
	__u64 now = kvb_now();
	__u32 gnet = 0;
	int ret;

	/* the keys in the scratch, not on the stack: the routed stage,
	 * which calls this too (route_from_guest), has none to spare */
	if (!t)
		return DROP(KVB_DROP_NAT_FULL);
	rk = &t->rk;
	__builtin_memset(rk, 0, sizeof(*rk));
	rk->daddr = net->gw_ip;
	rk->proto = ok->proto;
	rk->dir = 1;
	ct = bpf_map_lookup_elem(&kvb_ct, ok);
	/* a flow to the WAN address that is no hairpin's (none is made:
	 * nat_wan_martian) is never taken for an expired hairpin */
	if (ct && !ct->hairpin)
		return NAT_CONTINUE;
	/* the flow's network's timeouts and count: a hairpin into another
	 * network's forward is that network's */
	if (ct && ct_live(ct->net_id == net->id ? net :
			  net_lookup(ct->net_id), ok, ct, now)) {
		/* its TTL out at the gateway: time exceeded from there, as
		 * for any other destination (t120: dropped unanswered,
		 * traceroute's hop a star) */
		if (f->fragk != KVB_FRAG_LATER && nat_ttl_out(skb))
			return NAT_TTL;
		return hairpin_send(skb, net, ok, ct, l4off, f->fragk);
	}
	if (ct) {	/* expired: both keys go */
		__u64 *cnt = ct_counter(ct->net_id);
		__u16 oslot = ct->slot;

		rk->saddr = ct->addr2;
		rk->sport = ct->port2;
		rk->dport = ct->port;
		bpf_map_delete_elem(&kvb_ct, rk);
		if (!bpf_map_delete_elem(&kvb_ct, ok)) {
			if (cnt && *cnt)
				__sync_fetch_and_add(cnt, -1);
			ct_port_give(oslot);
		}
	}
	__builtin_memset(&t->fk, 0, sizeof(t->fk));
	t->fk.addr = ok->daddr;
	t->fk.port = ok->dport;
	t->fk.proto = ok->proto;
	fw = bpf_map_lookup_elem(&kvb_fwd, &t->fk);
	if (!fw)
		return NAT_CONTINUE;	/* the host's own port */
	if (fw->net_id != net->id) {
		/* another nat network's forward (its WAN address, this
		 * one's or another): reached as from the WAN, the flow
		 * that network's, B's answers from its gateway, A's port
		 * of this one (gnet; t91: the host's own port answered,
		 * where kernel DNAT takes every network's guest to the
		 * forward) */
		gnet = net->id;
		net = net_lookup(fw->net_id);
		if (!net || net->type != KVB_NET_NAT)
			return NAT_CONTINUE;
		rk->daddr = net->gw_ip;
	}
	__builtin_memset(&t->orig, 0, sizeof(t->orig));
	__builtin_memset(&t->reply, 0, sizeof(t->reply));
	/* the forward's guest (fwd_guest); none, its port gone or now
	 * another network's: no flow is made for it (hairpin_send says
	 * why) */
	if (!fwd_guest(t, fw, &t->orig.guest_ifindex, t->orig.guest_mac))
		return DROP(KVB_DROP_NO_ROUTE);
	/* its TTL out at the gateway: answered, and no flow made for a
	 * packet that goes nowhere (t120) */
	if (nat_ttl_out(skb))
		return NAT_TTL;
	/* a segment no TCP sends opens nothing, nor one of a connection
	 * that is not there, as from the WAN */
	if (ok->proto == IPPROTO_TCP && l4off) {
		ret = tcp_flags_class(skb, l4off);
		if (ret == TCP_INVALID)
			return DROP(KVB_DROP_L4);
		if (ret == TCP_NO_OPEN)
			return DROP(KVB_DROP_NAT_UNSOLICITED);
	}
	/* the flow is its opener's, A's, share */
	t->orig.slot = ct_port_slot(skb->ifindex);
	ret = ct_room(t->orig.slot, net);
	if (ret)
		return ret;
	/* A -> B, from the gateway */
	t->orig.addr = net->gw_ip;
	t->orig.addr2 = fw->to_addr;
	t->orig.port2 = fw->to_port;
	/* B -> A, from the WAN address A asked for */
	t->reply.addr = ok->daddr;
	t->reply.port = ok->dport;
	t->reply.addr2 = ok->saddr;
	t->reply.port2 = ok->sport;
	t->reply.guest_ifindex = skb->ifindex;
	t->reply.gnet = (__u8)gnet;
	__builtin_memcpy(t->reply.guest_mac, f->eth->h_source, ETH_ALEN);
	t->orig.net_id = t->reply.net_id = net->id;
	t->orig.hairpin = t->reply.hairpin = 1;
	t->orig.last_ns = t->reply.last_ns = now;
	rk->saddr = fw->to_addr;
	rk->sport = fw->to_port;
	t->ok = *ok;
	ret = nat_port_take(skb, NAT_TAKE_FLOW);
	if (ret < 0)
		return ret;
	ct = bpf_map_lookup_elem(&kvb_ct, ok);
	if (!ct)
		return DROP(KVB_DROP_NAT_FULL);
	return hairpin_send(skb, net, ok, ct, l4off, f->fragk);
}

/*
 * Is there a port forward at addr:port (network order) for proto? Its key
 * in the scratch. A global function: asked only for a guest's packet to
 * one of the host's own addresses (nat_from_guest).
 */
__noinline int nat_fwd_at(__be32 addr, __be16 port, __u32 proto)
{
	struct nat_scratch *t = nat_scratch();

	if (!t)
		return 0;
	__builtin_memset(&t->fk, 0, sizeof(t->fk));
	t->fk.addr = addr;
	t->fk.port = port;
	t->fk.proto = (__u8)proto;
	return bpf_map_lookup_elem(&kvb_fwd, &t->fk) != NULL;
}

/*
 * Whether net translates through device out: its `wan` device only, or
 * (no `wan`: any route) every device the fabric hooks as a WAN port,
 * where the flow's replies are recognised.
 */
static __always_inline int nat_wan_ok(const struct kvb_net *net, __u32 out)
{
	struct kvb_port *p;

	if (net->wan)
		return out == net->wan;
	p = bpf_map_lookup_elem(&kvb_port, &out);
	return p && kvb_port_nat_wan(p);
}

/*
 * A later fragment from a guest whose datagram left no ports here: the
 * host's (NAT_CONTINUE) when it is for one of the host's own addresses
 * (its first fragment went there too, untranslated: ping -s 3000 to the
 * host's WAN address), else nat-fragment. Asks the FIB in the scratch.
 */
__noinline int nat_frag_local(struct __sk_buff *skb, __u32 gw_host)
{
	struct nat_scratch *t = nat_scratch();
	struct bpf_fib_lookup *fib;

	if (!t)
		return DROP(KVB_DROP_NAT_FRAG);
	fib = &t->fib;
	__builtin_memset(fib, 0, sizeof(*fib));
	if (bpf_skb_load_bytes(skb, IP_OFF_SADDR, &fib->ipv4_src, 4) ||
	    bpf_skb_load_bytes(skb, IP_OFF_DADDR, &fib->ipv4_dst, 4))
		return DROP(KVB_DROP_NAT_FRAG);
	fib->family = AF_INET_;
	fib->ifindex = gw_host;
	if (bpf_fib_lookup(skb, fib, sizeof(*fib), 0) ==
	    BPF_FIB_LKUP_RET_NOT_FWDED)
		return NAT_CONTINUE;
	return DROP(KVB_DROP_NAT_FRAG);
}

/*
 * Source NAT of a guest's IPv4 packet to the outside through the device
 * the FIB picks, to its address (the guest may sit on a routed network
 * behind net). An established flow whose next hop is cached (nh_cached)
 * skips the FIB, ct_out and the neighbour lookup: one flow lookup, the
 * rewrites, bpf_redirect. Returns a verdict or a drop code.
 */
static __always_inline int nat_snat(struct __sk_buff *skb,
				    const struct kvb_net *net,
				    const struct kvb_frame *f, __u32 l4off)
{
	struct kvb_ct_key ok = { .proto = f->l4_proto };
	struct nat_scratch *t = nat_scratch();
	struct bpf_fib_lookup *fib;
	__u8 gmac[ETH_ALEN], macs[2 * ETH_ALEN];
	__be32 daddr, naddr;
	__be16 nport;
	__u16 poff = 0;
	__u32 out, gen;
	struct kvb_ct *ct;
	int ret, fibret, cached = 0;

	/* the parser's (admit.h): the header is not loaded again */
	daddr = f->daddr4;
	ok.saddr = f->saddr4;
	ok.daddr = daddr;
	if (f->fragk == KVB_FRAG_LATER) {
		/* no ports: its first fragment's */
		if (f->l4_proto != IPPROTO_TCP && f->l4_proto != IPPROTO_UDP &&
		    f->l4_proto != IPPROTO_ICMP && !nat_generic(f->l4_proto))
			return DROP(KVB_DROP_NAT_PROTO);
		if (nat_frag_ports(skb, &ok))
			return nat_frag_local(skb, net->gw_host);
	} else if (nat_generic(f->l4_proto)) {
		/* without ports (GRE, ESP, SCTP...): the addresses alone,
		 * the key's ports 0 */
	} else {
		if (!f->l4_ok)
			return DROP(KVB_DROP_NAT_PROTO);
		switch (f->l4_proto) {
		case IPPROTO_TCP:
		case IPPROTO_UDP:
			ok.sport = bpf_htons(f->sport);
			ok.dport = bpf_htons(f->dport);
			break;
		case IPPROTO_ICMP:
			if (f->icmp_type == ICMP_DEST_UNREACH_ ||
			    f->icmp_type == ICMP_TIME_EXCEEDED_ ||
			    f->icmp_type == 12)
				return f->fragk == KVB_FRAG_FIRST ?
					DROP(KVB_DROP_NAT_FRAG) : NAT_ICMP_ERR;
			if (!icmp_query_request(f->icmp_type))
				return DROP(KVB_DROP_NAT_PROTO);
			if (bpf_skb_load_bytes(skb, l4off + 4, &ok.sport, 2))
				return DROP(KVB_DROP_L4);
			poff = 4;
			break;
		default:
			return DROP(KVB_DROP_NAT_PROTO);
		}
	}

	/* never this host's tunnel traffic to another host (nat_vteps4):
	 * every packet, a flow's cached or not, so a flow made before the
	 * first vtep ends then */
	if (ok.proto == IPPROTO_UDP && ok.dport == bpf_htons(KVB_VXLAN_PORT) &&
	    nat_vteps4())
		return DROP(KVB_DROP_NAT_VTEP);
	/* read before the FIB is asked: a change during the lookup voids
	 * what it answers */
	gen = nh_gen_now();
	ct = bpf_map_lookup_elem(&kvb_ct, &ok);
	/* a later fragment goes with its first's flow, never makes one */
	if (f->fragk == KVB_FRAG_LATER &&
	    (!ct || !ct_live(net, &ok, ct, kvb_now())))
		return DROP(KVB_DROP_NAT_FRAG);
	if (ct && nh_cached(ct, gen, nat_wire_len(f->l3_len, f->hdr_len,
						  skb->gso_size),
			    kvb_now())) {
		naddr = ct->addr;
		nport = ct->port;
		out = ct->nh_ifindex;
		__builtin_memcpy(macs, ct->nh_dmac, ETH_ALEN);
		__builtin_memcpy(macs + ETH_ALEN, ct->nh_smac, ETH_ALEN);
		cached = 1;	/* the entry is only read (ct_touch_flow) */
		if (nat_ttl_out(skb))
			return NAT_TTL;
		goto translate;
	}

	if (!t)
		return DROP(KVB_DROP_NAT_FULL);
	fib = &t->fib;
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET_;
	fib->l4_protocol = f->l4_proto;
	/* a GSO frame's length is not a packet's, its segments' is; and
	 * with tot_len 0 the kernel checks nothing for one
	 * (is_skb_forwardable passes every GSO skb) */
	fib->tot_len = (__u16)nat_wire_len(f->l3_len, f->hdr_len,
					   skb->gso_size);
	fib->ipv4_src = f->saddr4;
	fib->ipv4_dst = daddr;
	fib->ifindex = net->gw_host;
	__builtin_memcpy(gmac, f->eth->h_source, ETH_ALEN);
	/* the source the host would pick for this route: the egress
	 * device's address (or the route's preferred source) */
	fibret = bpf_fib_lookup(skb, fib, sizeof(*fib), BPF_FIB_LOOKUP_SRC);
	if (fibret == BPF_FIB_LKUP_RET_NOT_FWDED) {
		/* a later fragment of a hairpin into another network's
		 * forward there: its first's way (t100) */
		if (ct && ct->hairpin && f->fragk == KVB_FRAG_LATER) {
			t->hpk = ok;
			return NAT_HAIRPIN_LATER;
		}
		return NAT_CONTINUE;	/* one of the host's own addresses */
	}
	/* longer than the route out takes (the WAN's MTU below the
	 * network's): the guest must hear it, or its TCP stalls on every
	 * full-size segment; BPF cannot fragment */
	if (fibret == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		t->mtu = fib->mtu_result;
		return NAT_TOO_BIG;
	}
	/* NO_SRC_ADDR: a device with no address yet (boot) */
	if (fibret != BPF_FIB_LKUP_RET_SUCCESS &&
	    fibret != BPF_FIB_LKUP_RET_NO_NEIGH)
		return fib_refused(fibret, KVB_DROP_NAT_NO_ROUTE);
	out = fib->ifindex;
	if (!nat_wan_ok(net, out))
		return DROP(KVB_DROP_NAT_NO_ROUTE);
	/* forwarded, so its TTL must last (the host's own addresses took
	 * it above, whatever its TTL); before ct_out: no flow for it */
	if (nat_ttl_out(skb))
		return NAT_TTL;
	/* a next hop that has not answered ARP for a while: host
	 * unreachable, before a flow is made for it (neigh.h) */
	if (fibret == BPF_FIB_LKUP_RET_NO_NEIGH) {
		if (nh_unresolved(fib))
			return NH_UNREACH;
	} else {
		nh_resolved(fib);
	}
	t->naddr = fib->ipv4_src;
	if (!t->naddr)
		return DROP(KVB_DROP_NAT_NO_ROUTE);
	/* a later fragment goes with its flow as it is; one whose address
	 * the host no longer holds would be made anew (ct_out), which no
	 * fragment without ports may do */
	if (f->fragk == KVB_FRAG_LATER && ct && ct->addr != t->naddr &&
	    !nat_addr_is_hosts(skb, t, ct->addr, net->gw_host))
		return DROP(KVB_DROP_NAT_FRAG);
	fib_next_hop(fib, &t->nh);
	/* only an Ethernet next hop with a resolved neighbour is cached */
	t->nh_ok = fibret == BPF_FIB_LKUP_RET_SUCCESS &&
		   !mac_is_zero(fib->dmac) && !mac_is_zero(fib->smac);
	t->nh_gen = gen;
	/* what the FIB checked: a GSO frame's segments (nh_cached) */
	t->nh_len = (__u16)nat_wire_len(f->l3_len, f->hdr_len, skb->gso_size);

	ret = ct_out(skb, t, net, skb->ifindex, gmac, &ok, &nport, ct);
	if (IS_DROP(ret))
		return ret;
	naddr = t->naddr;
	/* the entry as it is now: ct_out may have ended an expired flow
	 * (the old pointer then names a freed entry) and made another */
	ct = bpf_map_lookup_elem(&kvb_ct, &ok);
translate:
	if (f->fragk == KVB_FRAG_LATER) {
		/* the address alone: the ports and the L4 checksum (over
		 * the whole datagram) are in the first fragment */
		if (!dec_ttl(skb, f->l4_proto))
			return DROP(KVB_DROP_TTL);
		if (rewrite_addr(skb, IP_OFF_SADDR, ok.saddr, naddr, 0, l4off))
			return DROP(KVB_DROP_L4);
		goto send;
	}
	if (ok.proto == IPPROTO_TCP)
		ct_tcp_track(skb, l4off, &ok);
	else if (ct && ct->from_wan && ct->state == KVB_CT_NEW)
		ct_answered(&ok);
	if (!dec_ttl(skb, f->l4_proto))
		return DROP(KVB_DROP_TTL);
	/* a first fragment: its datagram's later ones follow its flow */
	if (f->fragk == KVB_FRAG_FIRST)
		nat_frag_note(skb, &ok);
	if (rewrite_addr(skb, IP_OFF_SADDR, ok.saddr, naddr, ok.proto, l4off) ||
	    (!nat_generic(ok.proto) &&
	     rewrite_port(skb, l4off, poff, ok.sport, nport, ok.proto)))
		return DROP(KVB_DROP_L4);
send:
	skb->mark = 0;
	count_tx(out, skb->len);
	if (cached) {
		bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0);
		return redirected(bpf_redirect(out, 0));
	}
	/* not cached: t is set (the cached path is the only one without) */
	return t ? redirect_nh(skb, &t->nh, out) : TC_ACT_SHOT;
}


/*
 * An IPv4 destination that the kernel's forwarding never forwards: 0/8,
 * loopback, multicast, the limited broadcast (class E it does). A
 * guest's packet to one, sent to the gateway's MAC, is the host's stack's
 * to take or drop, never routed or translated out: the FIB would match
 * it to the default route.
 */
static __always_inline int ip4_never_forwarded(__be32 a)
{
	__u8 b = ((const __u8 *)&a)[0];

	return b == 0 || b == 127 || (b >= 224 && b < 240) ||
	       a == 0xffffffff;
}

/*
 * The flow key of guest packet f to daddr in hk (dir 1: to the gateway,
 * a hairpin's answer), with its ports unless it is a later fragment
 * (nat_frag_ports fills them).
 */
static __always_inline void hairpin_key(struct kvb_ct_key *hk,
					const struct kvb_frame *f,
					__be32 daddr, __u8 dir)
{
	__builtin_memset(hk, 0, sizeof(*hk));
	hk->saddr = f->saddr4;
	hk->daddr = daddr;
	if (f->fragk != KVB_FRAG_LATER) {
		hk->sport = bpf_htons(f->sport);
		hk->dport = bpf_htons(f->dport);
	}
	hk->proto = f->l4_proto;
	hk->dir = dir;
}

/*
 * A frame from a guest of a nat network. Returns NAT_CONTINUE for what the
 * switch handles (other guests, the host), a verdict, or a drop code.
 */
static __always_inline int nat_from_guest(struct __sk_buff *skb,
					  const struct kvb_net *net,
					  const struct kvb_frame *f,
					  __u32 l4off)
{
	struct nat_scratch *t = nat_scratch();
	struct kvb_ct_key *hk;
	__be32 daddr;
	int ret;

	if (f->proto != ETH_P_IP || !mac_equal(f->eth->h_dest, net->uplink_mac))
		return NAT_CONTINUE;
	daddr = f->daddr4;
	if (!t)
		return DROP(KVB_DROP_NAT_FULL);
	hk = &t->hpk;
	if (ip4_never_forwarded(daddr))
		return NAT_CONTINUE;	/* the host's to take or drop */
	if (f->fragk == KVB_FRAG_FIRST)
		nat_frag_forget(skb, f->saddr4, daddr, f->l4_proto);
	if (f->l4_ok && (f->l4_proto == IPPROTO_TCP ||
			 f->l4_proto == IPPROTO_UDP) &&
	    (daddr == net->gw_ip || daddr == net->nat_ip)) {
		struct kvb_ct *h;

		hairpin_key(hk, f, daddr, daddr == net->gw_ip);
		if (daddr == net->nat_ip)
			goto hairpin;
		h = bpf_map_lookup_elem(&kvb_ct, hk);
		if (h && h->hairpin &&	/* B answering a hairpinned A */
		    ct_live(net, hk, h, kvb_now()))
			return hairpin_send(skb, net, hk, h, l4off,
					    f->fragk);
	}
	/* a later fragment of a hairpinned datagram, either way: its
	 * first's flow (else the host's, below, or nat-fragment) */
	if (f->fragk == KVB_FRAG_LATER && (f->l4_proto == IPPROTO_TCP ||
					  f->l4_proto == IPPROTO_UDP) &&
	    (daddr == net->gw_ip || daddr == net->nat_ip)) {
		struct kvb_ct *h;

		hairpin_key(hk, f, daddr, daddr == net->gw_ip);
		if (!nat_frag_ports(skb, hk)) {
			h = bpf_map_lookup_elem(&kvb_ct, hk);
			if (h && h->hairpin &&
			    ct_live(net, hk, h, kvb_now()))
				return hairpin_send(skb, net, hk, h, l4off,
						    KVB_FRAG_LATER);
		}
	}
	/* an error about a hairpinned packet goes back through the
	 * hairpin (the caller asks nat_hairpin_error) */
	if (daddr == net->gw_ip && f->l4_ok && f->l4_proto == IPPROTO_ICMP &&
	    f->fragk == KVB_FRAG_NONE && icmp4_is_error(f->icmp_type) &&
	    l4off == ETH_HLEN + 20)
		return NAT_HAIRPIN_ERR;
	if (daddr == net->gw_ip)	/* echo was answered by route_from_guest */
		return NAT_CONTINUE;	/* the host's services */
	if ((daddr & net->netmask) == net->subnet)
		return NAT_CONTINUE;
	ret = nat_snat(skb, net, f, l4off);
	/* for one of the host's own addresses: another nat network's WAN
	 * address (not this one's) on a port it forwards is a hairpin
	 * into that network (nat_hairpin), else the host's; a later
	 * fragment goes with its first's hairpin (t100: to the host), its
	 * key as nat_snat found it (its note counts it once) */
	if (ret == NAT_HAIRPIN_LATER) {
		struct kvb_ct *h = bpf_map_lookup_elem(&kvb_ct, hk);

		if (!h || !h->hairpin)
			return NAT_CONTINUE;
		return hairpin_send(skb, net, hk, h, l4off, KVB_FRAG_LATER);
	}
	if (ret != NAT_CONTINUE || !f->l4_ok || f->fragk == KVB_FRAG_LATER ||
	    (f->l4_proto != IPPROTO_TCP && f->l4_proto != IPPROTO_UDP) ||
	    !nat_fwd_at(daddr, bpf_htons(f->dport), f->l4_proto))
		return ret;
	hairpin_key(hk, f, daddr, 0);
hairpin:
	return nat_hairpin(skb, net, f, hk, l4off);
}

#define ICMP_INNER (ETH_HLEN + 20 + 8)	/* quoted IP header, outer IHL 5 */

/* Replace 2 or 4 bytes at off; the ICMP checksum (at 36) follows. */
static __always_inline void icmp_inner_store(struct __sk_buff *skb, __u32 off,
					     const void *from, const void *to,
					     __u32 size)
{
	if (size == 4)
		csum_l4_replace(skb, ETH_HLEN + 20 + 2, *(__be32 *)from,
				*(__be32 *)to, 4, IPPROTO_ICMP);
	else
		csum_l4_replace(skb, ETH_HLEN + 20 + 2, *(__be16 *)from,
				*(__be16 *)to, 2, IPPROTO_ICMP);
	bpf_skb_store_bytes(skb, off, to, size, 0);
}

/*
 * An ICMP error about a translated flow (port unreachable, fragmentation
 * needed, time exceeded...): it quotes the packet as it left, from the
 * WAN address and NAT port. Send it to the guest with the quote turned
 * back into the guest's own packet, every checksum kept right (outer IP,
 * ICMP over the quote, the quoted IP header, a quoted UDP, TCP or echo
 * checksum), so path-MTU discovery and error reporting work behind the
 * NAT.
 */
static __always_inline int nat_icmp_error(struct __sk_buff *skb,
					  struct hdr_cursor *c,
					  const struct iphdr *outer)
{
	struct kvb_ct_key rk = { .dir = 1 };
	__be32 gaddr, nat_ip = outer->daddr, odaddr = outer->daddr;
	/* where the message ends: bytes past it (Ethernet padding) are no
	 * part of the quote nor of the ICMP checksum */
	__u32 ip_end = ETH_HLEN + bpf_ntohs(outer->tot_len);
	__be16 gport, nport, oldc, newc;
	struct iphdr *in;
	__be16 *ports;
	struct kvb_ct *ct;
	struct kvb_net *net;
	__u8 gmac[ETH_ALEN], proto;
	__u32 out;
	int ret;

	in = CURSOR_TAKE(c, struct iphdr);
	if (!in || in->ihl != 5 || in->saddr != nat_ip)
		return TC_ACT_OK;
	ports = cursor_take(c, 8);
	if (!ports)
		return TC_ACT_OK;
	proto = in->protocol;
	oldc = in->check;
	rk.saddr = in->daddr;
	rk.daddr = in->saddr;
	rk.proto = proto;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		rk.sport = ports[1];
		rk.dport = ports[0];
		nport = ports[0];
	} else if (proto == IPPROTO_ICMP) {
		rk.dport = ports[2];	/* our echo's identifier */
		nport = ports[2];
	} else if (nat_generic(proto)) {
		nport = 0;	/* no port: the quoted address alone */
	} else {
		return TC_ACT_OK;
	}
	ct = bpf_map_lookup_elem(&kvb_ct, &rk);
	/* a hairpin's entries are between guests only: never the WAN's */
	if (!ct || ct->hairpin)
		return TC_ACT_OK;
	net = net_lookup(ct->net_id);
	if (!net)
		return TC_ACT_OK;
	/* without ports, the quote may be of the host's own packet to
	 * that remote: only a live flow's is the guest's */
	if (nat_generic(proto) && !ct_live(net, &rk, ct, kvb_now()))
		return TC_ACT_OK;
	gaddr = ct->addr;
	gport = ct->port;
	out = ct->guest_ifindex;
	/* about a flow of ours: judged like any frame entering the fabric */
	ret = kvb_admit_wan(skb);
	if (IS_DROP(ret))
		return ret;
	/* to the guest's port as it is now, as a reply (nat_reply_port): a
	 * flow outlives a detach and its device, and an error about it must
	 * not go to whatever device later has that ifindex, nor to a port
	 * now on another network; a spoofcheck port's current MAC */
	{
		struct kvb_port *gp;

		ret = nat_reply_port(ct, gmac, &gp);
		if (IS_DROP(ret))
			return ret;
	}

	/* outer destination: IP checksum only (ICMP has no pseudo header) */
	if (!dec_ttl(skb, IPPROTO_ICMP))
		return TC_ACT_OK;
	bpf_l3_csum_replace(skb, IP_OFF_CSUM, odaddr, gaddr, 4);
	bpf_skb_store_bytes(skb, IP_OFF_DADDR, &gaddr, 4, 0);
	/* the quoted source address, and the quoted header's checksum */
	icmp_inner_store(skb, ICMP_INNER + 12, &nat_ip, &gaddr, 4);
	bpf_l3_csum_replace(skb, ICMP_INNER + 10, nat_ip, gaddr, 4);
	if (bpf_skb_load_bytes(skb, ICMP_INNER + 10, &newc, 2))
		return TC_ACT_SHOT;
	csum_l4_replace(skb, ETH_HLEN + 20 + 2, oldc, newc, 2, IPPROTO_ICMP);
	/* the quoted port (or echo id), and a quoted UDP checksum */
	if (proto == IPPROTO_UDP) {
		__be16 uc0, uc1;

		if (bpf_skb_load_bytes(skb, ICMP_INNER + 20 + 6, &uc0, 2))
			return TC_ACT_SHOT;
		if (uc0) {
			bpf_l3_csum_replace(skb, ICMP_INNER + 20 + 6, nat_ip,
					    gaddr, 4);
			csum_udp_quoted_replace(skb, ICMP_INNER + 20 + 6,
						nport, gport, 2);
			if (bpf_skb_load_bytes(skb, ICMP_INNER + 20 + 6, &uc1, 2))
				return TC_ACT_SHOT;
			csum_l4_replace(skb, ETH_HLEN + 20 + 2, uc0, uc1, 2,
					IPPROTO_ICMP);
		}
	}
	/* a quoted echo's checksum over its identifier (ICMP has no pseudo
	 * header); a quoted TCP checksum, when the quote holds it (Linux
	 * quotes the whole segment), over the address and the port: as
	 * Linux's NAT turns them back (bb23: the guest saw the NAT's) */
	if (proto == IPPROTO_ICMP || proto == IPPROTO_TCP) {
		__u32 co = ICMP_INNER + 20 + (proto == IPPROTO_ICMP ? 2 : 16);
		__be16 c0, c1;

		if (co + 2 <= ip_end && !bpf_skb_load_bytes(skb, co, &c0, 2)) {
			if (proto == IPPROTO_TCP)
				bpf_l3_csum_replace(skb, co, nat_ip, gaddr, 4);
			bpf_l3_csum_replace(skb, co, nport, gport, 2);
			if (bpf_skb_load_bytes(skb, co, &c1, 2))
				return TC_ACT_SHOT;
			csum_l4_replace(skb, ETH_HLEN + 20 + 2, c0, c1, 2,
					IPPROTO_ICMP);
		}
	}
	if (!nat_generic(proto))
		icmp_inner_store(skb, ICMP_INNER + 20 +
				 (proto == IPPROTO_ICMP ? 4 : 0),
				 &nport, &gport, 2);
	bpf_skb_store_bytes(skb, ETH_OFF_DST, gmac, ETH_ALEN, 0);
	bpf_skb_store_bytes(skb, ETH_OFF_SRC, net->uplink_mac, ETH_ALEN, 0);
	count_tx(out, skb->len);
	return redirected(bpf_redirect(out, 0));
}

/*
 * An ICMP error's header and quote into t->qe (outer IHL 5): the outer
 * version/IHL and source (gaddr), the quoted version/IHL, protocol,
 * header checksum, source (raddr), destination (qdaddr) and first 8
 * bytes (ports). 0, or -1 when the frame is too short.
 */
static __always_inline int icmp_quote_load(struct __sk_buff *skb,
					   struct nat_scratch *t)
{
	if (bpf_skb_load_bytes(skb, IP_OFF, &t->qe.vihl, 1) ||
	    bpf_skb_load_bytes(skb, IP_OFF_SADDR, &t->qe.gaddr, 4) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER, &t->qe.qihl, 1) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER + 9, &t->qe.proto, 1) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER + 10, &t->qe.oldc, 2) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER + 12, &t->qe.raddr, 4) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER + 16, &t->qe.qdaddr, 4) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER + 20, t->qe.ports, 8))
		return -1;
	return 0;
}

/*
 * An ICMP error about a hairpin's packet (the quote in t->qe, as
 * nat_hairpin_error or nat_icmp_error_out loaded it: gaddr the error's
 * sender, raddr and qdaddr the quoted source and destination, ports the
 * quoted ones) to the other guest of the hairpin, which entry ct names
 * (its address and port as it sent the packet, addr2 and port2; the
 * other end as it saw it, addr and port; its port): the error comes from
 * what that guest sent to, the quote turned back into its own packet,
 * every checksum kept right (outer IP, ICMP over the quote, the quoted IP
 * header, a quoted UDP checksum; a quoted TCP checksum, beyond the 8
 * bytes an error must carry, stays as it was: the receiver never checks
 * it, and both ends are guests of the network).
 */
static __always_inline int hairpin_error_send(struct __sk_buff *skb,
					      __u32 ifindex,
					      const struct kvb_net *net,
					      struct nat_scratch *t,
					      const struct kvb_ct *ct)
{
	struct kvb_port *gp;
	int ret;

	t->qe.naddr = ct->addr;
	t->qe.nport = ct->port;
	t->qe.aaddr = ct->addr2;
	t->qe.aport = ct->port2;
	t->qe.out = ct->guest_ifindex;
	/* its port as it is now */
	ret = nat_reply_port(ct, t->qe.amac, &gp);
	barrier_var(t);
	if (IS_DROP(ret))
		return ret;
	/* isolation between guests of one network, as hairpin_send's */
	if (!hairpin_may_reach(ifindex, gp))
		return DROP(KVB_DROP_ISOLATED);
	if (!dec_ttl(skb, IPPROTO_ICMP))
		return DROP(KVB_DROP_TTL);
	/* outer: from the quote's new destination to its new source (no
	 * pseudo header in ICMP) */
	bpf_l3_csum_replace(skb, IP_OFF_CSUM, t->qe.gaddr, t->qe.naddr, 4);
	bpf_l3_csum_replace(skb, IP_OFF_CSUM, t->qe.raddr, t->qe.aaddr, 4);
	bpf_skb_store_bytes(skb, IP_OFF_SADDR, &t->qe.naddr, 4, 0);
	bpf_skb_store_bytes(skb, IP_OFF_DADDR, &t->qe.aaddr, 4, 0);
	/* the quoted addresses, and the quoted header's checksum */
	icmp_inner_store(skb, ICMP_INNER + 12, &t->qe.raddr, &t->qe.aaddr,
			 4);
	icmp_inner_store(skb, ICMP_INNER + 16, &t->qe.qdaddr, &t->qe.naddr,
			 4);
	bpf_l3_csum_replace(skb, ICMP_INNER + 10, t->qe.raddr, t->qe.aaddr, 4);
	bpf_l3_csum_replace(skb, ICMP_INNER + 10, t->qe.qdaddr, t->qe.naddr, 4);
	if (bpf_skb_load_bytes(skb, ICMP_INNER + 10, &t->qe.newc, 2))
		return TC_ACT_SHOT;
	csum_l4_replace(skb, ETH_HLEN + 20 + 2, t->qe.oldc, t->qe.newc, 2,
			IPPROTO_ICMP);
	/* a quoted UDP checksum: its pseudo header's addresses and ports */
	if (t->qe.proto == IPPROTO_UDP && t->qe.ports[3]) {
		bpf_l3_csum_replace(skb, ICMP_INNER + 20 + 6, t->qe.raddr,
				    t->qe.aaddr, 4);
		bpf_l3_csum_replace(skb, ICMP_INNER + 20 + 6, t->qe.qdaddr,
				    t->qe.naddr, 4);
		bpf_l3_csum_replace(skb, ICMP_INNER + 20 + 6, t->qe.ports[0],
				    t->qe.aport, 2);
		csum_udp_quoted_replace(skb, ICMP_INNER + 20 + 6,
					t->qe.ports[1], t->qe.nport, 2);
		if (bpf_skb_load_bytes(skb, ICMP_INNER + 20 + 6, &t->qe.newc,
				       2))
			return TC_ACT_SHOT;
		csum_l4_replace(skb, ETH_HLEN + 20 + 2, t->qe.ports[3],
				t->qe.newc, 2, IPPROTO_ICMP);
	}
	/* the quoted ports: the receiver's own, the other end's */
	icmp_inner_store(skb, ICMP_INNER + 20, &t->qe.ports[0], &t->qe.aport,
			 2);
	icmp_inner_store(skb, ICMP_INNER + 22, &t->qe.ports[1], &t->qe.nport,
			 2);
	bpf_skb_store_bytes(skb, ETH_OFF_DST, t->qe.amac, ETH_ALEN, 0);
	/* from the flow's gateway MAC, for another network's guest too
	 * (hairpin_send uses the receiver's own gateway's; here its lookup
	 * would take 8 bytes of stack kvb_tc_nat does not have) */
	bpf_skb_store_bytes(skb, ETH_OFF_SRC, net->uplink_mac, ETH_ALEN, 0);
	/* the receiver's ACLs judge it as an error about its own
	 * connection */
	skb->mark = 0;
	count_tx(t->qe.out, skb->len);
	return redirected(bpf_redirect(t->qe.out, 0));
}


/*
 * nat_from_guest said NAT_HAIRPIN_ERR: an ICMP error from guest B on
 * port ifindex to its gateway's address. When it quotes a hairpinned
 * packet (guest A's, to the WAN address on a forwarded port, which reached
 * B from the gateway: nat_hairpin), B's closed port or an ACL's reject
 * answered in B's name, it goes back through the hairpin as B's answers
 * do (hairpin_send): to A, from the WAN address A asked, the quote turned
 * back into A's own packet (from A and its port, to the WAN address and
 * the forwarded port), every checksum kept right (outer IP, ICMP over the
 * quote, the quoted IP header, a quoted UDP checksum; a quoted TCP
 * checksum, beyond the 8 bytes an error must carry, stays as it was: the
 * receiver never checks it, and both ends are guests of the network).
 * Any other error is the host's, as before: NAT_CONTINUE. Before, every
 * one went to the host, and A waited for its timeout. Global: verified
 * once; the caller's outer header is 20 bytes.
 */
__noinline int nat_hairpin_error(struct __sk_buff *skb, __u32 ifindex,
				 __u32 net_id)
{
	struct nat_scratch *t = nat_scratch();
	struct kvb_net *net = net_lookup(net_id);
	struct kvb_ct *ct;

	if (!t || !net)
		return NAT_CONTINUE;
	/* qe: gaddr B, raddr the quoted source (the gateway), qdaddr the
	 * quoted destination (B), ports the quoted ones */
	if (icmp_quote_load(skb, t))
		return NAT_CONTINUE;
	barrier_var(t);	/* t's fields from t, not spilled addresses */
	if (t->qe.vihl != 0x45 || t->qe.qihl != 0x45 ||
	    t->qe.raddr != net->gw_ip || t->qe.qdaddr != t->qe.gaddr ||
	    (t->qe.proto != IPPROTO_TCP && t->qe.proto != IPPROTO_UDP))
		return NAT_CONTINUE;
	/* the key of B's answers: from B's port to the hairpin's port at
	 * the gateway (nat_hairpin's reply key) */
	__builtin_memset(&t->rk, 0, sizeof(t->rk));
	t->rk.saddr = t->qe.gaddr;
	t->rk.daddr = net->gw_ip;
	t->rk.sport = t->qe.ports[1];
	t->rk.dport = t->qe.ports[0];
	t->rk.proto = t->qe.proto;
	t->rk.dir = 1;
	ct = bpf_map_lookup_elem(&kvb_ct, &t->rk);
	if (!ct || !ct->hairpin || ct->net_id != net_id ||
	    !ct_live(net, &t->rk, ct, kvb_now()))
		return NAT_CONTINUE;
	/* from B's own port only, which the original entry names (a guest
	 * without spoofcheck could send with B's address) */
	{
		struct kvb_ct *o;

		kvb_ct_orig_key(&t->rk, ct, &t->ok);
		o = bpf_map_lookup_elem(&kvb_ct, &t->ok);
		if (!o || o->guest_ifindex != ifindex)
			return NAT_CONTINUE;
	}
	/* the reply entry names A */
	return hairpin_error_send(skb, ifindex, net, t, ct);
}

/*
 * nat_icmp_error_out said NAT_HAIRPIN_ERR: guest A's ICMP error, to the
 * WAN address, about B's answer to A's hairpin (A's port closed since,
 * say), A's original key in t->rk and the quote in t->qe. It goes back
 * through the hairpin to B as from the gateway's address, the quote
 * turned back into B's answer as B sent it; from A's own port only (the
 * reply entry names it). Before, every such error was nat-protocol.
 * Global: verified once.
 */
__noinline int nat_hairpin_error_rev(struct __sk_buff *skb, __u32 ifindex,
				     __u32 net_id)
{
	struct nat_scratch *t = nat_scratch();
	struct kvb_net *net = net_lookup(net_id);
	struct kvb_ct *ct, *r;

	if (!t || !net)
		return DROP(KVB_DROP_NAT_PROTO);
	ct = bpf_map_lookup_elem(&kvb_ct, &t->rk);
	if (!ct || !ct->hairpin)
		return DROP(KVB_DROP_NAT_PROTO);
	/* a hairpin into another network's forward is that network's
	 * flow, its reply entry naming A's (gnet) */
	if (ct->net_id != net_id) {
		net = net_lookup(ct->net_id);
		if (!net)
			return DROP(KVB_DROP_NAT_PROTO);
	}
	if (!ct_live(net, &t->rk, ct, kvb_now()))
		return DROP(KVB_DROP_NAT_PROTO);
	kvb_ct_reply_key(&t->rk, ct, &t->ok);
	r = bpf_map_lookup_elem(&kvb_ct, &t->ok);
	if (!r || r->guest_ifindex != ifindex ||
	    (ct->net_id != net_id && r->gnet != net_id))
		return DROP(KVB_DROP_NAT_PROTO);
	/* the original entry names B */
	return hairpin_error_send(skb, ifindex, net, t, ct);
}

/*
 * Is WAN packet rk for a socket of the host rather than for a forward
 * that shares its port? A TCP segment when the host has a connection
 * with exactly that remote (connecting, established, closing: a
 * connection of the host's own whose local port a forwarded range
 * covers, as conntrack keeps its packets the host's); a listener does not
 * count (a forward takes new connections, as a DNAT rule does). A UDP
 * datagram when a host socket would receive it that is the host's own
 * exchange: connected, bound to the forward's very address, or on a port
 * of the host's ephemeral range (a client's: bound to the wildcard
 * address, as a sendto() without bind() is); a daemon listening on the
 * wildcard address of a port outside that range does not count, as a
 * TCP listener. The host comes first: its exchanges are never taken.
 */
static __always_inline int fwd_port_hosts(struct __sk_buff *skb,
					  const struct kvb_ct_key *rk)
{
	struct nat_scratch *t = nat_scratch();
	struct bpf_sock *sk;
	int hosts;

	if (!t || (rk->proto != IPPROTO_TCP && rk->proto != IPPROTO_UDP))
		return 0;
	t->tuple.ipv4.saddr = rk->saddr;
	t->tuple.ipv4.daddr = rk->daddr;
	t->tuple.ipv4.sport = rk->sport;
	t->tuple.ipv4.dport = rk->dport;
	if (rk->proto == IPPROTO_TCP) {
		sk = bpf_skc_lookup_tcp(skb, &t->tuple, sizeof(t->tuple.ipv4),
					BPF_F_CURRENT_NETNS, 0);
		if (!sk)
			return 0;
		hosts = sk->state != BPF_TCP_LISTEN;
		bpf_sk_release(sk);
		return hosts;
	}
	sk = bpf_sk_lookup_udp(skb, &t->tuple, sizeof(t->tuple.ipv4),
			       BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	/* connected (the kernel's TCP_ESTABLISHED for UDP), or bound to
	 * the address itself */
	hosts = sk->state == BPF_TCP_ESTABLISHED || sk->src_ip4 == rk->daddr;
	bpf_sk_release(sk);
	if (!hosts) {
		struct kvb_fwd_key fk = { .addr = rk->daddr, .port = rk->dport,
					  .proto = rk->proto };
		struct kvb_fwd *fw = bpf_map_lookup_elem(&kvb_fwd, &fk);
		struct kvb_net *net = fw ? net_lookup(fw->net_id) : NULL;
		__u16 port = bpf_ntohs(rk->dport);

		hosts = net && net->host_port_lo &&
			port >= net->host_port_lo && port <= net->host_port_hi;
	}
	return hosts;
}

/*
 * A WAN packet that would open a flow (a forward's new connection, a
 * mapping's) from a source no remote beyond the WAN can have, asked of
 * the FIB as its reply would be routed: from the NAT address rk->daddr
 * back to rk->saddr, an input lookup on the host interface (gw_host) of
 * the forward's or mapping's network (forwarding is on there, not on the
 * WAN device, where the FIB would refuse every lookup). Forged when the
 * source is one of the host's own addresses (a docker0 or management
 * address: "not forwarded"), has no route back (no route, blackhole,
 * unreachable, prohibit: the kernel's loose reverse-path check), or its
 * way back leads into the fabric (way_back_into_fabric: a subnet the host
 * routes via a guest, a bridge network's LAN).
 * nat_wan_martian and route_of catch the rest first. 1 when forged. A
 * global function: its lookups are not the WAN path's stack.
 */
__noinline int nat_wan_src_forged(struct __sk_buff *skb,
				  const struct kvb_ct_key *rk)
{
	struct nat_scratch *t = nat_scratch();
	struct kvb_natmap *m;
	struct kvb_fwd *fw;
	struct kvb_net *net;
	__u32 net_id;
	__be32 guest;
	int ret;

	if (!t || !rk || !skb)
		return 0;
	t->fk.addr = rk->daddr;
	t->fk.port = rk->dport;
	t->fk.proto = rk->proto;
	t->fk.pad = 0;
	fw = bpf_map_lookup_elem(&kvb_fwd, &t->fk);
	barrier_var(t);
	if (fw) {
		net_id = fw->net_id;
		guest = fw->to_addr;
	} else {
		nat_map_key(&t->nk, rk->daddr, rk->dport, rk->proto);
		m = bpf_map_lookup_elem(&kvb_natmap, &t->nk);
		barrier_var(t);
		if (!m)
			return 0;	/* neither: no flow is made anyway */
		net_id = m->net_id;
		guest = m->addr;
	}
	net = net_lookup(net_id);
	if (!net || !net->gw_host)
		return 0;
	__builtin_memset(&t->fib, 0, sizeof(t->fib));
	t->fib.family = AF_INET_;
	t->fib.ifindex = net->gw_host;
	/* as nat_snat asks for the guest's answer (whose source policy
	 * routing may see); a length of a header: the route's MTU is not
	 * the question (with none, the skb's own would be checked) */
	t->fib.ipv4_src = guest;
	t->fib.ipv4_dst = rk->saddr;
	t->fib.tot_len = 20;
	ret = (int)bpf_fib_lookup(skb, &t->fib, sizeof(t->fib),
				  BPF_FIB_LOOKUP_SKIP_NEIGH);
	if (ret == BPF_FIB_LKUP_RET_SUCCESS)
		return way_back_into_fabric(t->fib.ifindex, skb->ifindex,
					    net->gw_host);
	return ret == BPF_FIB_LKUP_RET_NOT_FWDED ||
	       ret == BPF_FIB_LKUP_RET_BLACKHOLE ||
	       ret == BPF_FIB_LKUP_RET_UNREACHABLE ||
	       ret == BPF_FIB_LKUP_RET_PROHIBIT;
}

/*
 * A new connection from the WAN to a forwarded port: track it as if the
 * guest had opened it (both keys), so replies and later packets take the
 * ordinary paths. Returns 0 when a forward applied, 1 when none did, or
 * no-route when the forward's guest port is not there (detached, its
 * device gone, or now on a network this one does not translate for, and
 * no port that may take it holds its address: fwd_guest): no flow is
 * made for it,
 * which would hold the network's count and come back after its detach.
 */
static __always_inline int ct_forward(struct kvb_ct_key *rk)
{
	struct kvb_fwd_key fk = { .addr = rk->daddr, .port = rk->dport,
				  .proto = rk->proto };
	struct nat_scratch *t = nat_scratch();
	struct kvb_ct_key okey;
	struct kvb_fwd *fw;
	__u64 now = kvb_now();
	int made;

	if (rk->proto != IPPROTO_TCP && rk->proto != IPPROTO_UDP)
		return 1;
	fw = bpf_map_lookup_elem(&kvb_fwd, &fk);
	if (!fw || !t)
		return 1;
	__builtin_memset(&t->orig, 0, sizeof(t->orig));
	__builtin_memset(&t->reply, 0, sizeof(t->reply));
	{
		struct kvb_net *n = net_lookup(fw->net_id);
		struct kvb_port *gp = fwd_guest(t, fw, &t->orig.guest_ifindex,
						t->orig.guest_mac);
		int ret;

		if (!gp)
			return DROP(KVB_DROP_NO_ROUTE);
		if (!n)
			return 1;
		/* the forward's guest's share: a flood from the WAN at
		 * one guest takes no other guest's flows */
		t->orig.slot = gp->slot;
		ret = ct_room(t->orig.slot, n);
		if (ret)
			return ret;
	}
	t->reply.addr = fw->to_addr;
	t->reply.port = fw->to_port;
	t->orig.addr = rk->daddr;
	t->orig.port = rk->dport;
	t->orig.net_id = t->reply.net_id = fw->net_id;
	t->reply.guest_ifindex = t->orig.guest_ifindex;
	__builtin_memcpy(t->reply.guest_mac, t->orig.guest_mac, ETH_ALEN);
	t->orig.last_ns = t->reply.last_ns = now;
	t->orig.from_wan = t->reply.from_wan = 1;
	okey.saddr = fw->to_addr;
	okey.daddr = rk->saddr;
	okey.sport = fw->to_port;
	okey.dport = rk->sport;
	okey.proto = rk->proto;
	okey.dir = 0;
	okey.pad = 0;
	made = ct_create(rk, &t->reply, &okey, &t->orig);
	if (made == CT_FULL && ct_room_any(t->orig.slot))
		made = ct_create(rk, &t->reply, &okey, &t->orig);
	return made == CT_MADE ? 0 : 1;
}

/*
 * A later fragment from a WAN device (no ports): one of a datagram whose
 * first fragment was translated to a guest (kvb_natfrag) goes to that
 * flow's guest, its destination address translated (its TTL, the IP
 * checksum, the MACs); any other is the host's (TC_ACT_OK), as every
 * fragment was before. NAT_TOO_BIG as nat_from_wan. A global function.
 */
__noinline int nat_frag_in(struct __sk_buff *skb)
{
	struct kvb_ct_key rk = { .dir = 1 };
	void *end = (void *)(long)skb->data_end;
	struct iphdr *ip = (void *)(long)skb->data + ETH_HLEN;
	__u8 gmac[ETH_ALEN];
	struct kvb_port *gp;
	struct kvb_net *net;
	struct kvb_ct *ct;
	__u32 l3_len, ttl;
	int ret;

	if ((void *)(ip + 1) > end || ip->ihl != 5)
		return TC_ACT_OK;
	rk.saddr = ip->saddr;
	rk.daddr = ip->daddr;
	rk.proto = ip->protocol;
	l3_len = bpf_ntohs(ip->tot_len);
	ttl = ip->ttl;
	if (rk.proto != IPPROTO_TCP && rk.proto != IPPROTO_UDP &&
	    rk.proto != IPPROTO_ICMP && !nat_generic(rk.proto))
		return TC_ACT_OK;
	if (nat_frag_ports(skb, &rk))
		return TC_ACT_OK;
	ct = bpf_map_lookup_elem(&kvb_ct, &rk);
	if (!ct || ct->hairpin)	/* a hairpin's: between guests only */
		return TC_ACT_OK;
	net = net_lookup(ct->net_id);
	if (!net || !ct_live(net, &rk, ct, kvb_now()))
		return TC_ACT_OK;
	ret = kvb_admit_wan(skb);
	if (IS_DROP(ret))
		return ret;
	ret = nat_reply_port(ct, gmac, &gp);
	if (IS_DROP(ret))
		return ret;
	if (ttl > 1) {
		struct nat_scratch *t = nat_scratch();

		if (t) {
			t->mtu = nat_reply_too_long(skb, gp, l3_len,
						    ETH_HLEN + 20, rk.proto);
			if (t->mtu)
				return NAT_TOO_BIG;
		}
	}
	/* TTL out: dropped, as the kernel drops a later fragment (no
	 * time exceeded for one: RFC 1812) */
	if (!dec_ttl(skb, rk.proto))
		return DROP(KVB_DROP_TTL);
	if (rewrite_addr(skb, IP_OFF_DADDR, rk.daddr, ct->addr, 0, 0))
		return TC_ACT_SHOT;
	kvb_store(skb, ETH_OFF_DST, gmac, ETH_ALEN);
	kvb_store(skb, ETH_OFF_SRC, net->uplink_mac, ETH_ALEN);
	count_tx_st(stats_of_port(gp), skb->len);
	return redirected(bpf_redirect(ct->guest_ifindex, 0));
}

/*
 * A frame arriving on a WAN device: replies of translated flows go back to
 * their guest, new connections to a forwarded port go to theirs;
 * everything else is the host's and passes untouched. What is NAT's is
 * admitted like any frame entering the fabric. A first fragment is
 * translated as any packet of its flow and leaves its ports for the
 * later ones (nat_frag_in). A reply longer than its
 * guest's network takes is NAT_TOO_BIG, the MTU in the scratch's mtu
 * (route.h: nat_reply_too_big answers the remote).
 */
static __always_inline int nat_from_wan(struct __sk_buff *skb)
{
	__u32 l3_len, ttl;
	struct kvb_ct_key rk = { .dir = 1 };
	struct hdr_cursor c = { .pos = (void *)(long)skb->data,
				.end = (void *)(long)skb->data_end };
	struct ethhdr *eth = CURSOR_TAKE(&c, struct ethhdr);
	__u32 l4off, poff = 0;
	__u8 gmac[ETH_ALEN];
	struct kvb_port *gp;
	struct kvb_ct *ct;
	struct kvb_net *net;
	struct iphdr *ip;
	__be16 *ports, obuf[4];
	__u64 now;
	int ret, mf, opts;

	if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	ip = CURSOR_TAKE(&c, struct iphdr);
	if (!ip || ip->ihl < 5)
		return TC_ACT_OK;
	if (ip->frag_off & bpf_htons(0x1fff))
		return nat_frag_in(skb);
	mf = !!(ip->frag_off & bpf_htons(0x2000));
	if (mf)	/* a datagram starts anew */
		nat_frag_forget(skb, ip->saddr, ip->daddr, ip->protocol);
	ttl = ip->ttl;
	l3_len = bpf_ntohs(ip->tot_len);
	l4off = ETH_HLEN + ip->ihl * 4;
	/*
	 * IPv4 options: NAT reads and rewrites plain headers only, and the
	 * fabric takes no options from any port (admission: ip-options). A
	 * flow's reply or a forward's connection with options is refused,
	 * counted on the WAN port, not left to the host, whose stack
	 * answered it (a RST, port unreachable: the guest's connection torn
	 * down, uncounted). The rest is the host's, as before.
	 */
	opts = ip->ihl != 5;
	if (opts) {
		if (bpf_skb_load_bytes(skb, l4off & 0xff, obuf, 8))
			return TC_ACT_OK;
		ports = obuf;
	} else {
		ports = cursor_take(&c, 8);
		if (!ports)
			return TC_ACT_OK;
	}
	switch (nat_reply_key(ip, ports, &rk, &poff)) {
	case NAT_RK_FLOW:
		break;
	case NAT_RK_ICMP_ERR: {
		if (opts)	/* an error with options: the host's */
			return TC_ACT_OK;
		struct hdr_cursor ic = { .pos = (void *)ports + 8,
					 .end = c.end };

		return nat_icmp_error(skb, &ic, ip);
	}
	default:
		return TC_ACT_OK;
	}
	/* the VXLAN port is the host's overlay's while it tunnels
	 * (nat_vteps4): no forward or flow takes it */
	if (rk.proto == IPPROTO_UDP && rk.dport == bpf_htons(KVB_VXLAN_PORT) &&
	    nat_vteps4())
		return TC_ACT_OK;
	ct = bpf_map_lookup_elem(&kvb_ct, &rk);
	if (ct && ct->hairpin)	/* between guests only: never the WAN's */
		return TC_ACT_OK;
	/* a flow's clock moves at most once in KVB_CT_REFRESH_NS: one
	 * busier than that is live (no timeout is shorter: ct-timeout
	 * takes whole seconds), no second look (the hot path) */
	if (ct && kvb_after(kvb_now(), ct->last_ns + KVB_CT_REFRESH_NS)) {
		ret = nat_flow_over(&rk);
		if (ret == NAT_OVER_HOSTS)
			return TC_ACT_OK;
		if (ret == NAT_OVER_ENDED)
			ct = NULL;
	}
	if (!ct && (nat_generic(rk.proto) || rk.proto == IPPROTO_ICMP)) {
		/* without ports, or an ICMP query's reply, for no flow:
		 * the host's own traffic, whose remote (and identifier) no
		 * guest's flow may then take */
		nat_host_note(&rk);
		return TC_ACT_OK;
	}
	if (!ct) {
		struct kvb_fwd_key fk = { .addr = rk.daddr, .port = rk.dport,
					  .proto = rk.proto };

		if (!bpf_map_lookup_elem(&kvb_fwd, &fk)) {
			/* a guest's mapping: nat-filtering decides */
			ret = nat_map_in(skb, &rk, 0);
			if (ret == NAT_MAP_NONE)
				return TC_ACT_OK;	/* the host's */
			if (IS_DROP(ret))
				return ret;
		}
	}
	/* the host's own exchange on a forwarded port keeps its options:
	 * the host's, as below */
	if (opts && !ct && fwd_port_hosts(skb, &rk))
		return TC_ACT_OK;
	ret = kvb_admit_wan(skb);
	if (IS_DROP(ret))
		return ret;
	if (opts)	/* Router Alert, which admission lets through */
		return DROP(KVB_DROP_IP_OPTIONS);
	/* a flow the WAN would open (a forward, a mapping that lets it in)
	 * from an address of the fabric's own networks (a guest's, a
	 * gateway's) is forged, as Linux takes a source of its own for a
	 * martian: never made, the guest never hears "the host" or a peer */
	if (!ct && (route_of(4, (const __u8 *)&rk.saddr) ||
		    nat_wan_martian(&rk)))
		return DROP(KVB_DROP_SPOOF_IP);
	now = kvb_now();
	/* the host's own exchange on a forwarded port: neither a forward
	 * nor a mapping takes it */
	if (!ct && fwd_port_hosts(skb, &rk))
		return TC_ACT_OK;
	/* the host's other addresses, a source with no way back */
	if (!ct && nat_wan_src_forged(skb, &rk))
		return DROP(KVB_DROP_SPOOF_IP);
	/* nor a flow whose guest would answer to a VXLAN port (the WAN's
	 * packet from one, while this host tunnels: nat_vteps4): the
	 * answers would pass there as this host's tunnel traffic */
	if (!ct && rk.proto == IPPROTO_UDP &&
	    rk.sport == bpf_htons(KVB_VXLAN_PORT) && nat_vteps4())
		return DROP(KVB_DROP_NAT_VTEP);
	/* a segment no TCP sends opens nothing (a NULL, FIN or Xmas
	 * scan, SYN with FIN or RST), nor does one of a connection that
	 * is not there (a stray SYN+ACK, RST or FIN+ACK): conntrack's
	 * INVALID, which libvirt's NAT never forwards */
	if (!ct && rk.proto == IPPROTO_TCP) {
		ret = tcp_flags_class(skb, l4off);
		if (ret == TCP_INVALID)
			return DROP(KVB_DROP_L4);
		if (ret == TCP_NO_OPEN)
			return DROP(KVB_DROP_NAT_UNSOLICITED);
	}
	if (!ct) {
		ret = ct_forward(&rk);
		if (IS_DROP(ret))
			return ret;
		if (!ret)
			ct = bpf_map_lookup_elem(&kvb_ct, &rk);
	}
	if (!ct) {
		ret = nat_map_in(skb, &rk, 1);
		if (IS_DROP(ret))
			return ret;
		if (!ret)
			ct = bpf_map_lookup_elem(&kvb_ct, &rk);
	}
	if (!ct)
		return TC_ACT_OK;
	/* live: checked above, or made just now */
	net = net_lookup(ct->net_id);
	if (!net)
		return TC_ACT_OK;
	/* the guest's port as it is now (natreply.h; the lookup counting
	 * needs anyway), before the flow is touched: the remote of a flow
	 * whose guest is gone does not keep it alive, it expires */
	ret = nat_reply_port(ct, gmac, &gp);
	if (IS_DROP(ret))
		return ret;
	if (rk.proto == IPPROTO_TCP) {
		/* a blind RST or FIN changes nothing, not even the clock */
		ret = ct_tcp_track(skb, l4off, &rk);
		if (IS_DROP(ret))
			return ret;
	}
	ct_touch_flow(&rk, ct, now);
	if (ct->state == KVB_CT_NEW && rk.proto != IPPROTO_TCP &&
	    !ct->from_wan) {
		/* the first reply: the original direction learns the flow
		 * is established (both entries were made NEW together);
		 * TCP's is its handshake's end (ct_tcp_completes), a
		 * forward's the guest's answer (ct_answered) */
		struct kvb_ct_key okey = { .saddr = ct->addr, .daddr = rk.saddr,
					   .sport = ct->port, .dport = rk.sport,
					   .proto = rk.proto };
		struct kvb_ct *o;

		ct->state = kvb_ct_answered_state(rk.proto);
		if (rk.proto == IPPROTO_ICMP)
			okey.dport = 0;
		o = bpf_map_lookup_elem(&kvb_ct, &okey);
		if (o && o->state == KVB_CT_NEW)
			o->state = ct->state;
	}
	{
		__be32 gaddr = ct->addr;
		__be16 gport = ct->port;
		__u32 out = ct->guest_ifindex;

		/* longer than the guest's network takes: the remote hears
		 * it (TTL first, as the kernel's forwarding checks) */
		if (ttl > 1) {
			struct nat_scratch *t = nat_scratch();

			if (t) {
				t->mtu = nat_reply_too_long(skb, gp, l3_len,
							    l4off, rk.proto);
				if (t->mtu)
					return NAT_TOO_BIG;
			}
		}
		ret = nat_reply_rewrite(skb, &rk, gaddr, gport, poff, l4off,
					gmac, net->uplink_mac);
		if (ret == NAT_RW_TTL)
			return NAT_TTL;	/* time exceeded to the remote */
		if (ret != NAT_RW_DONE)
			return TC_ACT_SHOT;
		/* a first fragment: its datagram's later ones follow */
		if (mf)
			nat_frag_note(skb, &rk);
		count_tx_st(stats_of_port(gp), skb->len);
		return redirected(bpf_redirect(out, 0));
	}
}

/*
 * The expiry sweep (kvb_ctsweep.timer): a flow is deleted once neither of
 * its entries saw a packet within its timeout, so that counts are of live
 * flows and dead flows give back their ports; a live flow is never
 * touched. It runs in its own program (kvb_ct_sweep_arm arms it), not in
 * the packet path, and frees at most KVB_CT_SWEEP_MAX flows a run. A hash
 * map's walk cannot be resumed where it stopped, so a run visits the
 * whole table (about 120 ns an entry here: 250 ms for a full one), or
 * stops at the cap; when the next comes: ct_sweep_next.
 */
struct sweep_ctx {
	__u64 now;
	__u64 seen;
	__u64 freed;
	__u32 net_id;		/* whose timeouts are cached below */
	__u32 have_net;
	__u32 timeout[4];
};

static __always_inline void sweep_timeouts(struct sweep_ctx *c,
					   __u32 net_id)
{
	struct kvb_net *net;

	if (c->net_id != net_id) {
		net = net_lookup(net_id);
		c->net_id = net_id;
		c->have_net = !!net;
		if (net)
			__builtin_memcpy(c->timeout, net->ct_timeout,
					 sizeof(c->timeout));
	}
}

/*
 * Whether an entry of proto in state, last seen at last, is past its
 * timeout (c's cached network, or the defaults). A global function: the
 * verifier checks its branches once, not on every path of sweep_one.
 */
__attribute__((noinline)) int ct_dead(const struct sweep_ctx *c, __u32 proto,
				      __u32 state, __u64 last)
{
	__u64 t;

	if (!c)
		return 0;
	t = (__u64)kvb_ct_timeout_s(c->have_net ? c->timeout : NULL,
				    (__u8)proto, (__u8)state) * 1000000000ULL;
	return kvb_after(c->now, last) && c->now - last > t;
}

static long sweep_one(void *map, struct kvb_ct_key *k, struct kvb_ct *e,
		      struct sweep_ctx *c)
{
	struct kvb_ct_key other;
	struct kvb_ct *o;
	__u64 *cnt;
	__u16 slot;
	__u32 id;

	c->seen++;
	sweep_timeouts(c, e->net_id);
	if (!ct_dead(c, k->proto, e->state, e->last_ns))
		return 0;
	if (k->dir) {
		/* a reply entry goes with its original; alone, it goes now */
		kvb_ct_orig_key(k, e, &other);
		if (!bpf_map_lookup_elem(&kvb_ct, &other))
			bpf_map_delete_elem(&kvb_ct, k);
		return 0;
	}
	kvb_ct_reply_key(k, e, &other);
	o = bpf_map_lookup_elem(&kvb_ct, &other);
	if (o && !ct_dead(c, k->proto, o->state, o->last_ns))
		return 0;	/* the remote keeps it alive */
	id = e->net_id;
	slot = e->slot;
	bpf_map_delete_elem(&kvb_ct, &other);
	if (bpf_map_delete_elem(&kvb_ct, k))
		return 0;	/* the datapath took it first */
	cnt = ct_counter(id);
	if (cnt && *cnt)
		__sync_fetch_and_add(cnt, -1);
	ct_port_give(slot);
	/* the last flow of a mapping takes it with it */
	if (e->mapped) {
		struct kvb_natmap_key mk, pk, spare;

		if (e->mapped & KVB_CT_M_OWN)
			nat_slot_give(e->addr, slot, k->proto);
		natmap_keys(k, e, &mk, &pk);
		if (e->mapped & KVB_CT_M_MAP)
			natmap_put(&mk, &spare);
		if (e->mapped & KVB_CT_M_PEER)
			natmap_put(&pk, &spare);
	}
	return ++c->freed >= KVB_CT_SWEEP_MAX;
}

/*
 * When the next run comes, after one that took ns and freed freed flows.
 * A big table waits longer: sweeping stays under 2% of a CPU (50 times
 * the run, a second at least). But a run that stopped at its cap left
 * dead flows behind, and waiting 50 runs' time would free at most
 * KVB_CT_SWEEP_MAX flows per 50 runs: a flood of connections that die
 * faster than that (a few thousand a second at a million entries) would
 * outgrow the sweep, and since every run starts its walk at the same
 * end of the table, the dead flows past the point where it stops (other
 * guests' among them, holding their shares and NAT ports) would never
 * go. So a capped run is followed soon (KVB_CT_SWEEP_BACKLOG times its
 * length): freeing then keeps pace with any flood the datapath can make,
 * at the CPU cost of the work it frees, until the backlog is gone.
 */
static __always_inline __u64 ct_sweep_next(__u64 ns, __u64 freed)
{
	__u64 next;

	if (freed >= KVB_CT_SWEEP_MAX) {
		next = ns * KVB_CT_SWEEP_BACKLOG;
		return next > KVB_CT_SWEEP_MIN_NS ? next : KVB_CT_SWEEP_MIN_NS;
	}
	next = ns * 50;
	return next > KVB_CT_SWEEP_NS ? next : KVB_CT_SWEEP_NS;
}

/* ct_sweep's test: a network's flow count that is not zero stops it. */
static long ct_counted_one(void *map, __u32 *net_id, __u64 *n, __u64 *any)
{
	(void)map;
	(void)net_id;
	if (*n) {
		*any = 1;
		return 1;
	}
	return 0;
}

/*
 * The sweep. kvb_ct is walked unless its last walk found it empty and no
 * network counts a flow since (kvb_ctcnt): every flow is counted once
 * both its entries are in (ct_create), so an empty table stays unwalked
 * only until its first flow. Walking two million empty buckets was most
 * of the run on a host without NAT flows: milliseconds in softirq, once a
 * second. Every KVB_CT_SWEEP_FULL-th run walks anyway: an entry no count
 * holds (a flow the loader's recount raced, a reply left alone by a
 * flush) goes within that many runs.
 */
static int ct_sweep(void *map, __u32 *key, struct kvb_ctsweep *sw)
{
	struct sweep_ctx c = { .net_id = 0xffffffff };
	int full = !(sw->runs % KVB_CT_SWEEP_FULL);
	__u64 t0 = bpf_ktime_get_ns(), any = sw->ct_seen || full;

	c.now = kvb_now();
	if (!any)
		bpf_for_each_map_elem(&kvb_ctcnt, ct_counted_one, &any, 0);
	if (any) {
		bpf_for_each_map_elem(&kvb_ct, sweep_one, &c, 0);
		sw->ct_seen = c.seen;
	}
	bind_sweep(c.now);	/* dead address bindings too (bind.h) */
	/* and idle ACL connections (acl.h) */
	c.seen += acl_sweep(c.now, sw, full);
	c.seen += fdb_sweep(c.now, sw);	/* and aged learned MACs (fdb.h) */
	sw->runs++;
	sw->seen = c.seen;
	sw->freed += c.freed;
	sw->ns = bpf_ktime_get_ns() - t0;
	sw->next_ns = ct_sweep_next(sw->ns, c.freed);
	bpf_timer_start(&sw->timer, sw->next_ns, 0);
	return 0;
}

/*
 * Flows no guest port can take any more go now: every flow one of whose
 * entries names a port that is not a guest's port of a network its nat
 * network translates for (nat_carries: the port detached or gc'd, or on
 * a network the flow's does not translate for, a routed network unpeered
 * from it say), both entries, counted down in its network and
 * giving back its mapping and peer references, as the sweep gives back a
 * dead flow's. The loader runs it (kvb_ct_forget, BPF_PROG_RUN) once a
 * port left (detach, gc), once for all the ports of a network (net del)
 * and after net unpeer. Otherwise the flows would hold their network's
 * ct-max share, their NAT ports and mappings until they expire (TCP
 * established: 7440 s), and their replies would be counted as no-route.
 * A hairpin flow names the guest it goes to in its original entry and
 * the one that opened it in its reply entry: either leaving ends it. It
 * runs in the datapath's own program because the mappings' counts are
 * taken and given back under their spin lock, which userspace cannot
 * hold across a read and a write.
 */
struct forget_ctx {
	__u32 freed;
};

static long forget_one(void *map, struct kvb_ct_key *k, struct kvb_ct *e,
		       struct forget_ctx *c)
{
	struct kvb_natmap_key mk, pk, spare;
	struct kvb_ct_key ok, rk;
	struct kvb_port *p;
	struct kvb_ct *o = e;

	p = bpf_map_lookup_elem(&kvb_port, &e->guest_ifindex);
	/* a hairpin from another network's guest names that network
	 * (gnet), as its replies go (nat_reply_port) */
	if (p && p->role == KVB_PORT_GUEST &&
	    nat_carries(p->net_id, e->gnet ? e->gnet : e->net_id))
		return 0;
	ok = *k;
	if (k->dir) {
		/* a reply entry: the flow is its original's (sweep_one) */
		kvb_ct_orig_key(k, e, &ok);
		o = bpf_map_lookup_elem(&kvb_ct, &ok);
		if (!o) {	/* alone: it goes now */
			bpf_map_delete_elem(&kvb_ct, k);
			return 0;
		}
	}
	/* 0: the datapath or the sweep took it first */
	c->freed += ct_flow_end(&ok, o, &rk, &mk, &pk, &spare);
	return 0;
}

/* The flows no guest port can take go; how many did. */
static __always_inline __u32 ct_forget_orphans(void)
{
	struct forget_ctx c = { 0 };

	bpf_for_each_map_elem(&kvb_ct, forget_one, &c, 0);
	return c.freed;
}

#define CLOCK_MONOTONIC_ 1

/* Arm the sweep (or hand it to this build's callback, after a reload). */
static __always_inline int ct_sweep_arm(void)
{
	__u32 zero = 0;
	struct kvb_ctsweep *sw = bpf_map_lookup_elem(&kvb_ctsweep, &zero);

	if (!sw)
		return -1;
	bpf_timer_init(&sw->timer, &kvb_ctsweep, CLOCK_MONOTONIC_);
	if (bpf_timer_set_callback(&sw->timer, ct_sweep))
		return -1;
	return (int)bpf_timer_start(&sw->timer, KVB_CT_SWEEP_NS, 0);
}

#endif /* KVB_NAT_H */
