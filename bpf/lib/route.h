/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Routing (tc only), for guests of routed and nat networks and for frames
 * arriving on a WAN device for a routed network:
 *
 * - the gateway's answers (gateway.h): ARP and ICMP echo for its addresses,
 *   neighbour solicitations for a gateway address (or the gateway's
 *   link-local) get the advertisement, router solicitations get a router
 *   advertisement with the network's prefixes (autonomous for /64s, so
 *   SLAAC works) and MTU;
 * - a packet to the gateway's MAC goes where the FIB says: into a network
 *   of the fabric if the route table (kvb_route) names one and the two are
 *   peered (straight to the guest's port when a binding names it, see
 *   endpoint.h, or the host already knows its MAC; through the network's
 *   host interface otherwise, which resolves it), else out of the host
 *   device the FIB names;
 * - TTL/hop limit decremented; when it runs out, or the packet is larger
 *   than the next hop's MTU, the ICMP/ICMPv6 error goes back to the sender
 *   from the gateway (the offending packet counted as a drop by reason),
 *   within a per-port budget (icmp-rate-limited beyond it).
 */
#ifndef KVB_ROUTE_H
#define KVB_ROUTE_H

#include <linux/pkt_cls.h>
#include "maps.h"
#include "admit.h"
#include "stats.h"
#include "fdb.h"
#include "l3.h"
#include "gateway.h"
#include "icmp6.h"
#include "subnet.h"
#include "nat.h"
#include "isolation.h"
#include "wan.h"
#include "endpoint.h"
#include "kern.h"
#include "neigh.h"

#define ROUTE_CONTINUE KVB_CONTINUE	/* not routing's business */

/* The FIB's answers for routed IPv4 (kvb_maps.h: kvb_rtnh4, route_ask). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVB_RTNH_MAX);
	__type(key, struct kvb_rtnh4_key);
	__type(value, struct kvb_rtnh4);
} kvb_rtnh4 SEC(".maps");
#define ICMP4_HOST_UNREACH_CODE 1
#define PACKET_HOST_ 0	/* linux/if_packet.h */

/*
 * nat_snat said NH_UNREACH (neigh.h: nh_unresolved): host unreachable to
 * the IPv4 guest on port ifindex of network net_id, from its gateway,
 * within the port's ICMP budget; the packet is dropped
 * (host-unreachable). Global, as nat_too_big below.
 */
__noinline int nh_unreachable4(struct __sk_buff *skb, __u32 ifindex,
			       __u32 net_id)
{
	struct kvb_net *net = net_lookup(net_id);

	if (!skb || !net)
		return DROP(KVB_DROP_HOST_UNREACH);
	if (!icmp_budget(ifindex))
		return DROP(KVB_DROP_ICMP_RATE);
	return icmp4_error(skb, ifindex, net, ICMP_DEST_UNREACH_,
			   ICMP4_HOST_UNREACH_CODE, 0, KVB_DROP_HOST_UNREACH);
}


/*
 * A guest's packet for a next hop without a valid neighbour, to
 * bpf_redirect_neigh without one: the kernel looks the route up (out of
 * device out) and attaches it, which its answer needs should ARP or ND
 * fail (ipv4_link_failure / ip6_link_failure: host or address
 * unreachable, from the host's address towards the guest, which is
 * its gateway's, within the host's ICMP rate limits); and it answers only
 * a packet addressed to it (PACKET_HOST), as the guest's packet to its
 * gateway is. The kernel's own forwarding does the same.
 */
static __always_inline int redirect_unresolved(struct __sk_buff *skb,
					       __u32 out)
{
	bpf_skb_change_type(skb, PACKET_HOST_);
	return redirected(bpf_redirect_neigh(out, NULL, 0, 0));
}

/*
 * Time exceeded / too big, from src's gateway of the packet's family; over
 * the port's ICMP budget the packet is dropped with no error sent. Too big
 * (mtu set) is never limited, as the kernel never limits path-MTU errors
 * (icmpv4_mask_allow, icmpv6_mask_allow): a flood of other errors must not
 * black-hole another sender's path-MTU discovery, and the answer is
 * shorter than the packet it refuses.
 */
static __always_inline int route_error(struct __sk_buff *skb, __u32 ifindex,
				       const struct kvb_net *src, __u8 family,
				       __u32 mtu)
{
	if (!src)	/* a WAN device's packet takes route_into_error */
		return DROP(mtu ? KVB_DROP_TOO_BIG : KVB_DROP_TTL);
	if (!mtu && !icmp_budget(ifindex))
		return DROP(KVB_DROP_ICMP_RATE);
	if (family == 4)
		return mtu ? icmp4_error(skb, ifindex, src, ICMP_DEST_UNREACH_,
					 ICMP4_FRAG_NEEDED_CODE, mtu,
					 KVB_DROP_TOO_BIG) :
			     icmp4_error(skb, ifindex, src, ICMP_TIME_EXCEEDED_, 0, 0,
					 KVB_DROP_TTL);
	return mtu ? icmp6_error(skb, ifindex, src, ICMP6_PKT_TOO_BIG_, 0, mtu,
				 KVB_DROP_TOO_BIG) :
		     icmp6_error(skb, ifindex, src, ICMP6_TIME_EXCEEDED_, 0, 0,
				 KVB_DROP_TTL);
}

/*
 * Not a verdict: route_into's packet from a WAN device is too big for the
 * network it is for, or its TTL/hop limit ran out here; the error's
 * particulars are in the route scratch (err_*), route_wan_error answers.
 */
#define ROUTE_WAN_ERR 0x7ff6

/*
 * route_error for a packet from a WAN device (src NULL): the host does not
 * forward there (the fabric needs no host forwarding), so its stack would
 * drop the packet without a word; the answer is the fabric's, as the
 * kernel's forwarding would give it (route_wan_error).
 */
static __always_inline int route_into_error(struct __sk_buff *skb,
					    __u32 ifindex,
					    const struct kvb_net *src,
					    const struct kvb_net *dst,
					    struct route_scratch *t,
					    __u8 family, __u32 mtu)
{
	if (src)
		return route_error(skb, ifindex, src, family, mtu);
	t->err_net = dst->id;
	t->err_family = family;
	t->err_mtu = mtu;
	return ROUTE_WAN_ERR;
}

/*
 * route_from_wan said ROUTE_WAN_ERR: fragmentation needed / packet too big
 * with the network's MTU, or time exceeded, to the WAN host that sent the
 * packet, from the gateway address (of the packet's family) of the
 * network it was for (an address of this host the sender routes to: the
 * packet came for that network's subnet), out of the WAN device (port
 * ifindex) to the frame's sender, from the MAC the frame was sent to;
 * within the WAN port's ICMP budget. The packet is dropped, counted
 * too-big or ttl-exceeded (icmp-rate-limited beyond the budget). An IPv4
 * packet with DF clear gets the same answer (BPF cannot fragment; as
 * nat_reply_too_big). Global: verified once.
 */
__noinline int route_wan_error(struct __sk_buff *skb, __u32 ifindex)
{
	struct route_scratch *t = route_scratch();
	struct kvb_net *net;
	__u32 reason, mtu;
	__u8 smac[ETH_ALEN];
	__u8 family;

	if (!skb || !t)
		return DROP(KVB_DROP_TTL);
	mtu = t->err_mtu;
	family = t->err_family;
	reason = mtu ? KVB_DROP_TOO_BIG : KVB_DROP_TTL;
	net = net_lookup(t->err_net);
	/* our source address into the scratch (the packet's own are no
	 * longer needed); a multicast MAC is none of ours to answer from */
	if (!net || !net_gw(net, family, t->saddr) ||
	    bpf_skb_load_bytes(skb, ETH_OFF_DST, smac, ETH_ALEN) ||
	    (smac[0] & 1))
		return DROP(reason);
	if (!mtu && !icmp_budget(ifindex))
		return DROP(KVB_DROP_ICMP_RATE);
	if (family == 4) {
		__be32 a;

		__builtin_memcpy(&a, t->saddr, 4);
		return icmp4_error_from(skb, ifindex, NULL, a, smac,
					mtu ? ICMP_DEST_UNREACH_ :
					      ICMP_TIME_EXCEEDED_,
					mtu ? ICMP4_FRAG_NEEDED_CODE : 0, mtu,
					reason);
	}
	return icmp6_error_from(skb, ifindex, NULL, t->saddr, smac,
				mtu ? ICMP6_PKT_TOO_BIG_ : ICMP6_TIME_EXCEEDED_,
				0, mtu, reason);
}

/*
 * Host unreachable (IPv6: address unreachable, as ip6_link_failure)
 * from net's gateway, as route_error: route_out's router that has not
 * answered ARP or ND for a while (neigh.h: nh_unresolved).
 */
static __always_inline int route_unreachable(struct __sk_buff *skb,
					     __u32 ifindex,
					     const struct kvb_net *net,
					     __u8 family)
{
	if (!icmp_budget(ifindex))
		return DROP(KVB_DROP_ICMP_RATE);
	if (family == 4)
		return icmp4_error(skb, ifindex, net, ICMP_DEST_UNREACH_,
				   ICMP4_HOST_UNREACH_CODE, 0,
				   KVB_DROP_HOST_UNREACH);
	return icmp6_error(skb, ifindex, net, ICMP6_DEST_UNREACH_,
			   ICMP6_ADDR_UNREACH_CODE, 0, KVB_DROP_HOST_UNREACH);
}

/*
 * nat_snat said NAT_TOO_BIG: fragmentation needed, with the route's MTU,
 * to the guest of network net_id on port ifindex, from that network's
 * gateway (a routed network behind a nat one answers from its own).
 * Global: the error's builder is verified once more, not once per path
 * of the nat stage.
 */
__noinline int nat_too_big(struct __sk_buff *skb, __u32 ifindex,
			   __u32 net_id)
{
	struct nat_scratch *t = nat_scratch();
	struct kvb_net *net = net_lookup(net_id);

	if (!t || !t->mtu || !net) /* no MTU to tell: not time exceeded */
		return DROP(KVB_DROP_TOO_BIG);
	return route_error(skb, ifindex, net, 4, t->mtu);
}

/*
 * A guest's IPv6 packet longer than its nat or routed network's mtu, to
 * its gateway's MAC (stage_enter: guest_too_big_here): packet too big
 * with the network's MTU, from the gateway, as a router answers a packet
 * too big for its next link; never rate limited (route_error). Global,
 * as nat_too_big: the stages have no stack for the builder's locals.
 */
__noinline int guest_too_big6(struct __sk_buff *skb, __u32 ifindex,
			      __u32 net_id)
{
	struct kvb_net *net = net_lookup(net_id);

	if (!skb || !net || !net->mtu)
		return DROP(KVB_DROP_TOO_BIG);
	return icmp6_error(skb, ifindex, net, ICMP6_PKT_TOO_BIG_, 0, net->mtu,
			   KVB_DROP_TOO_BIG);
}

/*
 * nat_snat said NAT_TTL: time exceeded to the guest of network net_id on
 * port ifindex, from that network's gateway, within the port's ICMP
 * budget (traceroute's first hop). Global, as nat_too_big.
 */
__noinline int nat_time_exceeded(struct __sk_buff *skb, __u32 ifindex,
				 __u32 net_id)
{
	struct kvb_net *net = net_lookup(net_id);

	if (!net)
		return DROP(KVB_DROP_TTL);
	return route_error(skb, ifindex, net, 4, 0);
}

/*
 * An ICMP error about a reply that a WAN device (port ifindex) received,
 * which is dropped: fragmentation needed with mtu, or time exceeded with
 * mtu 0, to the remote, from the address it sent to (the host's),
 * back out of the WAN device to the frame's sender (the next hop), within
 * the WAN port's ICMP budget (icmp-rate-limited beyond it).
 */
static __always_inline int nat_reply_error(struct __sk_buff *skb,
					   __u32 ifindex, __u32 mtu)
{
	__u32 reason = mtu ? KVB_DROP_TOO_BIG : KVB_DROP_TTL;
	__u8 smac[ETH_ALEN];
	__be32 saddr = 0;

	if (bpf_skb_load_bytes(skb, ETH_OFF_DST, smac, ETH_ALEN) ||
	    bpf_skb_load_bytes(skb, IP_OFF_DADDR, &saddr, 4))
		return DROP(reason);
	if (!mtu && !icmp_budget(ifindex))
		return DROP(KVB_DROP_ICMP_RATE);
	return mtu ? icmp4_error_from(skb, ifindex, NULL, saddr, smac,
				      ICMP_DEST_UNREACH_,
				      ICMP4_FRAG_NEEDED_CODE, mtu, reason) :
		     icmp4_error_from(skb, ifindex, NULL, saddr, smac,
				      ICMP_TIME_EXCEEDED_, 0, 0, reason);
}

/*
 * nat_from_wan said NAT_TOO_BIG: a reply longer than its guest's network
 * takes, the MTU in the scratch. Answered as the kernel's forwarding
 * answers a packet too big for the next link: fragmentation needed with
 * that MTU, to the remote, from the address it sent to (the host's on the
 * WAN device), back out of the WAN device to the frame's sender (the
 * next hop), within the WAN port's ICMP budget; the reply is dropped,
 * counted too-big (icmp-rate-limited beyond the budget). With DF clear
 * the kernel would fragment, which BPF cannot: the same answer (a Linux
 * sender then fragments at the source; one that ignores it, as its DF
 * clear says it may, loses such replies, counted). Global: verified
 * once, as nat_too_big.
 */
__noinline int nat_reply_too_big(struct __sk_buff *skb, __u32 ifindex)
{
	struct nat_scratch *t = nat_scratch();

	if (!t || !t->mtu)
		return DROP(KVB_DROP_TOO_BIG);
	return nat_reply_error(skb, ifindex, t->mtu);
}

/*
 * nat_from_wan said NAT_TTL: a reply for a guest that arrived with TTL 1
 * (or 0). The kernel's forwarding answers time exceeded to its sender;
 * so does this, as nat_reply_too_big does (from the address it was sent
 * to, out of the WAN device, within its ICMP budget), and drops it,
 * counted ttl-exceeded. Handed to the host instead, the packet is for
 * the host's own address: the host would answer for a connection it does
 * not have (a TCP RST, port unreachable). Global, as nat_reply_too_big.
 */
__noinline int nat_reply_ttl(struct __sk_buff *skb, __u32 ifindex)
{
	return nat_reply_error(skb, ifindex, 0);
}

/*
 * Ask the FIB about daddr (family 4 or 6) for a packet entering through
 * host interface ifindex, with flags (BPF_FIB_LOOKUP_*). l3_len is the
 * packet's length on the wire (a GSO frame's segments', nat_wire_len);
 * 0 would skip the MTU check altogether for a GSO frame, whose length
 * is_skb_forwardable does not look at.
 */
static __always_inline int fib_ask(struct __sk_buff *skb,
				   struct bpf_fib_lookup *fib, __u8 family,
				   const __u8 *saddr, const __u8 *daddr,
				   __u32 l3_len, __u32 ifindex, __u32 flags)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ifindex;
	fib->tot_len = (__u16)l3_len;
	if (family == 4) {
		fib->family = AF_INET_;
		__builtin_memcpy(&fib->ipv4_src, saddr, 4);
		__builtin_memcpy(&fib->ipv4_dst, daddr, 4);
	} else {
		fib->family = AF_INET6_;
		__builtin_memcpy(fib->ipv6_src, saddr, 16);
		__builtin_memcpy(fib->ipv6_dst, daddr, 16);
	}
	return (int)bpf_fib_lookup(skb, fib, sizeof(*fib), flags);
}

/*
 * fib_ask with flags (BPF_FIB_LOOKUP_SKIP_NEIGH, or 0: a success then
 * says the neighbour is resolved), for a routed packet entering through
 * host interface ifindex, through the next hop cache (kvb_rtnh4) for
 * IPv4: an answer the FIB gave for the same source, destination and
 * interface under the namespace's current route generation, less than
 * KVB_NH_REVALIDATE_NS ago, for a packet at least as long, is taken
 * without asking; then fib holds what the callers read of a success:
 * family, ifindex (the egress) and ipv4_dst (the next hop). Anything
 * but a success with an IPv4 next hop is asked every time, as is IPv6.
 * keep 0: neither looked up nor kept, the FIB asked (what any WAN host
 * may send in from any source: kept, it would churn the table for the
 * guests, and no guest's entry has its key). The
 * entry is copied and checked as a copy, never written in place: an
 * LRU entry can be another key's by the time it is read, or be
 * rewritten while it is copied (the check word: kvb_rtnh4_check), and
 * carries its namespace's tag.
 */
static __always_inline int route_ask(struct __sk_buff *skb,
				     struct route_scratch *t, __u8 family,
				     const __u8 *saddr, const __u8 *daddr,
				     __u32 l3_len, __u32 ifindex, int keep,
				     __u32 flags)
{
	struct bpf_fib_lookup *fib = &t->fib;
	struct kvb_rtnh4_key *k = &t->rk;
	struct kvb_rtnh4 *c, *v = &t->rv;
	__u32 gen = 0, tag = 0, len = 0;
	__u64 now;
	int ret;

	if (family != 4 || !keep || rt_gen4(skb, &gen, &tag))
		return fib_ask(skb, fib, family, saddr, daddr, l3_len,
			       ifindex, flags);
	__builtin_memcpy(&k->saddr, saddr, 4);
	__builtin_memcpy(&k->daddr, daddr, 4);
	k->ifindex = ifindex;
	now = kvb_now();
	c = bpf_map_lookup_elem(&kvb_rtnh4, k);
	if (c) {
		__builtin_memcpy(v, c, sizeof(*v));
		if (v->check == kvb_rtnh4_check(v) && v->ns == tag &&
		    v->key.saddr == k->saddr && v->key.daddr == k->daddr &&
		    v->key.ifindex == ifindex && v->gen == gen &&
		    !kvb_after(v->checked_ns, now) &&
		    now - v->checked_ns < KVB_NH_REVALIDATE_NS)
			len = v->len;	/* else torn, another key's, asked
					 * under other routes or too long
					 * ago: as none */
	}
	if (len && l3_len <= len) {
		fib->family = AF_INET_;
		fib->ifindex = v->out;
		fib->ipv4_dst = v->nh;
		return BPF_FIB_LKUP_RET_SUCCESS;
	}
	/* the generation is read before the FIB is asked: a change in
	 * between voids the answer kept, never the other way round */
	ret = fib_ask(skb, fib, family, saddr, daddr, l3_len, ifindex, flags);
	if (ret != BPF_FIB_LKUP_RET_SUCCESS || fib->family != AF_INET_ ||
	    l3_len > 0xffff)
		return ret;
	if (len && v->out == fib->ifindex && v->nh == fib->ipv4_dst) {
		v->len = (__u16)l3_len;	/* the same answer, a longer packet */
	} else {
		__builtin_memcpy(&v->key, k, sizeof(*k));
		v->gen = gen;
		v->checked_ns = now;
		v->out = fib->ifindex;
		v->nh = fib->ipv4_dst;
		v->len = (__u16)l3_len;
		v->pad = 0;
		v->ns = tag;
	}
	v->check = kvb_rtnh4_check(v);
	bpf_map_update_elem(&kvb_rtnh4, k, v, BPF_ANY);
	return ret;
}

#define ICMP_CSUM (ETH_HLEN + 20 + 2)	/* outer IHL 5 */

/*
 * Before nat_icmp_error_out (a function of its own, called before it: the
 * nat stage's frame and nat_icmp_error_out's together are at the stack's
 * limit): the error must go to the sender of what it quotes (one sent
 * elsewhere, the host or another route, would leave by the flow's way
 * out to a destination no flow names), and a quoted TCP checksum (Linux
 * quotes the whole segment) is translated back with the quoted
 * destination, or the remote could work the guest's address and port out
 * of it. 0, or the drop. Global: verified once.
 */
__noinline int nat_icmp_error_pre(struct __sk_buff *skb)
{
	struct nat_scratch *t = nat_scratch();
	struct kvb_ct *ct;

	if (!t)
		return DROP(KVB_DROP_NAT_PROTO);
	__builtin_memset(&t->rk, 0, sizeof(t->rk));
	if (bpf_skb_load_bytes(skb, IP_OFF_DADDR, &t->qe.qdaddr, 4) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER + 12, &t->qe.raddr, 4) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER + 9, &t->rk.proto, 1) ||
	    t->qe.qdaddr != t->qe.raddr)
		return DROP(KVB_DROP_NAT_PROTO);
	if (t->rk.proto != IPPROTO_TCP || skb->len < ICMP_INNER + 20 + 18)
		return 0;
	if (bpf_skb_load_bytes(skb, ICMP_INNER + 16, &t->rk.saddr, 4) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER + 20, &t->rk.dport, 2) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER + 22, &t->rk.sport, 2) ||
	    bpf_skb_load_bytes(skb, ICMP_INNER + 20 + 16, &t->qe.oldc, 2))
		return DROP(KVB_DROP_NAT_PROTO);
	t->rk.daddr = t->qe.raddr;
	ct = bpf_map_lookup_elem(&kvb_ct, &t->rk);
	/* no flow: nat_icmp_error_out refuses it; a hairpin's stays
	 * between guests (nat_hairpin_error_rev) */
	if (!ct || ct->hairpin)
		return 0;
	bpf_l3_csum_replace(skb, ICMP_INNER + 20 + 16, t->rk.saddr, ct->addr, 4);
	bpf_l3_csum_replace(skb, ICMP_INNER + 20 + 16, t->rk.sport, ct->port, 2);
	if (bpf_skb_load_bytes(skb, ICMP_INNER + 20 + 16, &t->qe.newc, 2))
		return DROP(KVB_DROP_NAT_PROTO);
	csum_icmp_replace(skb, ICMP_CSUM, t->qe.oldc, t->qe.newc, 2);
	return 0;
}

/*
 * nat_snat said NAT_ICMP_ERR: an ICMP error from the guest on port
 * ifindex of nat network net_id, about a packet of a translated flow it
 * received (a forwarded port with nothing listening: port unreachable).
 * The mirror of nat_icmp_error: the outer source becomes the flow's WAN
 * address, the quoted destination its WAN address and port, every
 * checksum kept right (outer IP, ICMP over the quote, the quoted IP
 * header, a quoted UDP checksum), and it leaves where the FIB says, a WAN
 * of the network. An error about no flow of the guest's is nat-protocol,
 * as before: the WAN never sees a guest's address. Before, every such
 * error was dropped (nat-protocol): a scanner saw a closed forwarded UDP
 * port as open|filtered, and the remote waited for its timeout. Global:
 * verified once.
 */
__noinline int nat_icmp_error_out(struct __sk_buff *skb, __u32 ifindex,
				  __u32 net_id)
{
	struct nat_scratch *t = nat_scratch();
	struct kvb_net *net = net_lookup(net_id);
	struct kvb_ct_key *ok;
	struct kvb_ct *ct;
	int fibret;

	if (!t || !net)
		return DROP(KVB_DROP_NAT_PROTO);
	ok = &t->rk;
	if (icmp_quote_load(skb, t))
		return DROP(KVB_DROP_NAT_PROTO);
	/* TCP, UDP, and the protocols translated by their addresses
	 * alone (GRE, ESP, SCTP...: t90, their errors were nat-protocol) */
	if (t->qe.vihl != 0x45 || t->qe.qihl != 0x45 ||
	    t->qe.qdaddr != t->qe.gaddr ||
	    (t->qe.proto != IPPROTO_TCP && t->qe.proto != IPPROTO_UDP &&
	     !nat_generic(t->qe.proto)))
		return DROP(KVB_DROP_NAT_PROTO);
	/* the quoted packet came from the remote to the guest: its flow,
	 * seen from the guest, is the reverse */
	__builtin_memset(ok, 0, sizeof(*ok));
	ok->saddr = t->qe.gaddr;
	ok->daddr = t->qe.raddr;
	if (!nat_generic(t->qe.proto)) {
		ok->sport = t->qe.ports[1];
		ok->dport = t->qe.ports[0];
	}
	ok->proto = t->qe.proto;
	ct = bpf_map_lookup_elem(&kvb_ct, ok);
	if (!ct || ct->net_id != net_id)
		return DROP(KVB_DROP_NAT_PROTO);
	/* about a hairpin's answer: back through the hairpin
	 * (nat_hairpin_error_rev, ok and the quote in the scratch) */
	if (ct->hairpin)
		return NAT_HAIRPIN_ERR;
	if (ct->guest_ifindex != ifindex)
		return DROP(KVB_DROP_NAT_PROTO);
	t->qe.naddr = ct->addr;
	t->qe.nport = ct->port;

	fibret = fib_ask(skb, &t->fib, 4, (const __u8 *)&t->qe.naddr,
			 (const __u8 *)&t->qe.raddr, skb->len - ETH_HLEN,
			 net->gw_host, 0);
	if ((fibret != BPF_FIB_LKUP_RET_SUCCESS &&
	     fibret != BPF_FIB_LKUP_RET_NO_NEIGH) ||
	    !nat_wan_ok(net, t->fib.ifindex))
		return DROP(KVB_DROP_NAT_NO_ROUTE);
	fib_next_hop(&t->fib, &t->nh);
	if (!dec_ttl(skb, IPPROTO_ICMP))
		return DROP(KVB_DROP_TTL);

	/* outer source: IP checksum only (ICMP has no pseudo header) */
	bpf_l3_csum_replace(skb, IP_OFF_CSUM, t->qe.gaddr, t->qe.naddr, 4);
	bpf_skb_store_bytes(skb, IP_OFF_SADDR, &t->qe.naddr, 4, 0);
	/* the quoted destination, and the quoted header's checksum */
	csum_icmp_replace(skb, ICMP_CSUM, t->qe.gaddr, t->qe.naddr, 4);
	bpf_skb_store_bytes(skb, ICMP_INNER + 16, &t->qe.naddr, 4, 0);
	bpf_l3_csum_replace(skb, ICMP_INNER + 10, t->qe.gaddr, t->qe.naddr, 4);
	if (bpf_skb_load_bytes(skb, ICMP_INNER + 10, &t->qe.newc, 2))
		return TC_ACT_SHOT;
	csum_icmp_replace(skb, ICMP_CSUM, t->qe.oldc, t->qe.newc, 2);
	if (t->qe.proto == IPPROTO_UDP && t->qe.ports[3]) {
		bpf_l3_csum_replace(skb, ICMP_INNER + 20 + 6, t->qe.gaddr,
				    t->qe.naddr, 4);
		csum_udp_quoted_replace(skb, ICMP_INNER + 20 + 6,
					t->qe.ports[1], t->qe.nport, 2);
		if (bpf_skb_load_bytes(skb, ICMP_INNER + 20 + 6, &t->qe.newc, 2))
			return TC_ACT_SHOT;
		csum_icmp_replace(skb, ICMP_CSUM, t->qe.ports[3], t->qe.newc,
				  2);
	}
	/* the quoted destination port (none: addresses alone) */
	if (!nat_generic(t->qe.proto)) {
		csum_icmp_replace(skb, ICMP_CSUM, t->qe.ports[1], t->qe.nport,
				  2);
		bpf_skb_store_bytes(skb, ICMP_INNER + 20 + 2, &t->qe.nport, 2,
				    0);
	}
	skb->mark = 0;
	count_tx(t->fib.ifindex, skb->len);
	return redirect_nh(skb, &t->nh, t->fib.ifindex);
}

/*
 * Into network r (src: the guest's network, NULL from a WAN device). A
 * GSO frame's segments are held to the destination network's MTU.
 */
static __always_inline int route_into(struct __sk_buff *skb, __u32 ifindex,
				      const struct kvb_net *src,
				      const struct kvb_route *r, __u8 family,
				      const __u8 *saddr, const __u8 *daddr,
				      __u32 l3_len, __u32 hdr_len)
{
	struct route_scratch *t = route_scratch();
	struct bpf_fib_lookup *fib;
	struct kvb_net *dst;
	__u32 gw_host = r->gw_host, out = 0;
	__u8 dmac[ETH_ALEN];
	int ret, same;

	dst = net_lookup(r->net_id);
	if (!t || !dst)
		return DROP(KVB_DROP_NO_ROUTE);
	/* back into the sender's own network: guest to guest, isolation
	 * applies (an isolated sender reaches none, nobody reaches one) */
	same = src && src->id == dst->id;
	if (same && port_isolated(ifindex))
		return DROP(KVB_DROP_ISOLATED);
	fib = &t->fib;
	/* from here on a GSO frame's length is its segments' (with tot_len
	 * 0 the FIB checks nothing for one: is_skb_forwardable passes
	 * every GSO skb) */
	if (skb->gso_size) {
		l3_len = skb->gso_size + hdr_len;
		if (l3_len > dst->mtu)
			return route_into_error(skb, ifindex, src, dst, t,
						family, dst->mtu);
	}
	/*
	 * The host's routes decide first (a blackhole, a more specific
	 * route, policy rules, forwarding off on gw_host): one lookup,
	 * without the neighbour.
	 */
	t->eslot = 0;
	ret = route_ask(skb, t, family, saddr, daddr, l3_len, gw_host, !!src,
			BPF_FIB_LOOKUP_SKIP_NEIGH);
	if (ret == BPF_FIB_LKUP_RET_NOT_FWDED)
		return ROUTE_CONTINUE;	/* the host's own address there */
	if (ret == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return route_into_error(skb, ifindex, src, dst, t, family,
					fib->mtu_result);
	if (ret != BPF_FIB_LKUP_RET_SUCCESS || fib->ifindex != gw_host)
		return fib_refused(ret, KVB_DROP_NO_ROUTE);
	/*
	 * On the link into that network, a guest of this host that holds
	 * daddr (endpoint.h): its port and MAC, without the neighbour and
	 * the MAC table. A packet over the network's MTU takes the
	 * neighbour's way, as before.
	 */
	if (l3_len <= dst->mtu && fib_next_hop_is(fib, family, daddr))
		out = endpoint_of(t, dst, family, daddr, ifindex);
	if (out) {
		__builtin_memcpy(dmac, t->emac, ETH_ALEN);
	} else {
		ret = fib_ask(skb, fib, family, saddr, daddr, l3_len, gw_host,
			      0);
		if ((ret != BPF_FIB_LKUP_RET_SUCCESS &&
		     ret != BPF_FIB_LKUP_RET_NO_NEIGH) ||
		    fib->ifindex != gw_host)
			return DROP(KVB_DROP_NO_ROUTE);
		if (ret == BPF_FIB_LKUP_RET_SUCCESS) {
			__builtin_memcpy(dmac, fib->dmac, ETH_ALEN);
			out = fdb_lookup(dst->id, dmac);
		}
	}
	if (same && out && !guests_may_talk(ifindex, out))
		return DROP(KVB_DROP_ISOLATED);
	if (!hop_dec(skb, family))
		return route_into_error(skb, ifindex, src, dst, t, family, 0);
	skb->mark = 0;
	/* a MAC behind another host: routed traffic stays on its host
	 * (the anycast gateway), the host's interface resolves it there */
	if (out && out != dst->uplink && out != ifindex &&
	    out != dst->ovl_ifindex) {
		/* the host knows the guest's MAC: straight to its port */
		bpf_skb_store_bytes(skb, ETH_OFF_DST, dmac, ETH_ALEN, 0);
		bpf_skb_store_bytes(skb, ETH_OFF_SRC, dst->uplink_mac, ETH_ALEN, 0);
		if (t->eslot) {	/* endpoint_of read the port's entry */
			__u32 slot = t->eslot;

			count_tx_st(bpf_map_lookup_elem(&kvb_stats, &slot),
				    skb->len);
		} else {
			count_tx(out, skb->len);
		}
		return redirected(bpf_redirect(out, 0));
	}
	/* the host's interface into that network resolves it; a guest's
	 * packet for its own network stays a guest's on the way back in
	 * (and is never answered unreachable: that would tell a guest
	 * which addresses isolated guests hold); another network's guest
	 * hears host unreachable when no guest there answers (as
	 * route_out's) */
	if (same)
		skb->mark = KVB_MARK_HAIRPIN;
	else if (src)
		return redirect_unresolved(skb, gw_host);
	return redirected(bpf_redirect_neigh(gw_host, NULL, 0, 0));
}

/*
 * Does WAN device ifindex route family's packets into net? A routed
 * network's that names it as `wan`; IPv6 (routed, not translated) of a
 * nat network on its WAN device, and of a routed network behind one on
 * its own `wan` or that nat network's. IPv4 behind NAT never.
 */
static __always_inline int wan_routes_in(const struct kvb_net *net,
					 __u8 family, __u32 ifindex)
{
	const struct kvb_net *nat;

	/* a nat network without `wan` (any route): any WAN device */
	if (net->type == KVB_NET_NAT)
		return family == 6 && (!net->wan || net->wan == ifindex);
	if (net->type != KVB_NET_ROUTED)
		return 0;
	if (!net->via_nat)
		return net->wan == ifindex;
	if (family != 6)
		return 0;
	if (net->wan == ifindex)
		return 1;
	nat = net_lookup(net->via_nat);
	return nat && (!nat->wan || nat->wan == ifindex);
}

/*
 * May net's packets leave by device out? Unless out is another network's
 * host interface (kvb_hostif, checked against that network's gw_host: an
 * ifindex given again to another device is no longer one) of a network
 * net is not peered with: the host routes an address outside every subnet
 * there when the operator routes it via that network's guest (a router
 * VM) or onto its interface, and isolation between networks holds
 * whatever the host's routes say.
 */
static __always_inline int host_if_peer(const struct kvb_net *net, __u32 out)
{
	struct kvb_hostif *h = bpf_map_lookup_elem(&kvb_hostif, &out);
	struct kvb_net *other;

	if (!h || h->net_id == net->id)
		return 1;
	other = net_lookup(h->net_id);
	return !other || other->gw_host != out || net_peered(net, h->net_id);
}

/* Out of the fabric, where the host's FIB says (routed networks, and
 * the IPv6 of nat networks). */
static __always_inline int route_out(struct __sk_buff *skb, __u32 ifindex,
				     const struct kvb_net *net, __u8 family,
				     const __u8 *saddr, const __u8 *daddr,
				     __u32 l3_len)
{
	struct route_scratch *t = route_scratch();
	struct bpf_fib_lookup *fib;
	__u32 out;
	int ret;

	if (!t)
		return DROP(KVB_DROP_NO_ROUTE);
	fib = &t->fib;
	/* bpf_redirect_neigh (redirect_nh) resolves the neighbour; the
	 * FIB says whether it is resolved (NO_NEIGH: below), and only then
	 * is the answer kept. l3_len is a GSO frame's segments'
	 * (nat_wire_len) */
	ret = route_ask(skb, t, family, saddr, daddr, l3_len, net->gw_host,
			1, 0);
	if (ret == BPF_FIB_LKUP_RET_NOT_FWDED)
		return ROUTE_CONTINUE;	/* the host's own address */
	if (ret == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return route_error(skb, ifindex, net, family, fib->mtu_result);
	out = fib->ifindex;
	/* forwarding off on the network's interface (a host-wide write of
	 * the forwarding sysctls): counted as such, as nat_snat's */
	if (ret != BPF_FIB_LKUP_RET_SUCCESS &&
	    ret != BPF_FIB_LKUP_RET_NO_NEIGH)
		return fib_refused(ret, KVB_DROP_NO_ROUTE);
	if (out == net->gw_host)
		return DROP(KVB_DROP_NO_ROUTE);
	if (!host_if_peer(net, out))
		return DROP(KVB_DROP_NOT_PEERED);
	fib_next_hop(fib, &t->nh);
	/* a nat network's IPv6 (and a routed one's behind it) leaves by the
	 * devices it is routed in from, as its IPv4 by its WAN device: the
	 * answers of any other way are not let in (nat_from_host) */
	if ((net->type == KVB_NET_NAT || net->via_nat) &&
	    !wan_routes_in(net, family, out))
		return DROP(KVB_DROP_NAT_NO_ROUTE);
	if (!hop_dec(skb, family))
		return route_error(skb, ifindex, net, family, 0);
	/* without a valid neighbour: a destination on the link out goes
	 * to the kernel, which answers should it fail (not a router: the
	 * kernel's own lookup, an output one, could name another under
	 * policy routing by input device, and ARP for the destination
	 * itself); a router that has not answered for a while is
	 * answered for here, as nat_snat's (neigh.h) */
	if (ret == BPF_FIB_LKUP_RET_NO_NEIGH) {
		if (!fib_next_hop_is(fib, family, daddr)) {
			if (nh_unresolved(fib))
				return route_unreachable(skb, ifindex, net,
							 family);
		} else {
			skb->mark = 0;
			count_tx(out, skb->len);
			return redirect_unresolved(skb, out);
		}
	} else {
		nh_resolved(fib);
	}
	skb->mark = 0;
	count_tx(out, skb->len);
	return redirect_nh(skb, &t->nh, out);
}

/*
 * A later fragment from a guest of a routed network (not behind a nat
 * one) to one of the host's own addresses: its first's hairpin into a
 * nat network's port forward (route_from_guest), when it took one; else
 * the host's.
 */
static __always_inline int route_hairpin_later(struct __sk_buff *skb,
					       __u32 ifindex,
					       const struct kvb_net *net,
					       const struct kvb_frame *f,
					       struct kvb_ct_key *hk,
					       __u32 l4off)
{
	struct kvb_ct *h;
	int ret;

	hairpin_key(hk, f, f->daddr4, 0);
	if (nat_frag_ports(skb, hk))
		return ROUTE_CONTINUE;
	h = bpf_map_lookup_elem(&kvb_ct, hk);
	if (!h || !h->hairpin || !ct_live(net_lookup(h->net_id), hk, h,
					  kvb_now()))
		return ROUTE_CONTINUE;
	ret = hairpin_send(skb, net, hk, h, l4off, KVB_FRAG_LATER);
	if (ret != NAT_TOO_BIG)
		return ret;
	ret = nat_too_big(skb, ifindex, net->id);
	return ret == ROUTE_CONTINUE ? TC_ACT_SHOT : ret;
}

/*
 * A frame from a guest of a routed or nat network. Returns ROUTE_CONTINUE
 * for what the switch (or NAT) handles, a verdict, or a drop code.
 */
static __always_inline int route_from_guest(struct __sk_buff *skb, __u32 ifindex,
					    const struct kvb_net *net,
					    const struct kvb_frame *f,
					    __u32 l4off, const __u8 *dst)
{
	struct route_scratch *t = route_scratch();
	__u8 family, *saddr, *daddr;
	struct kvb_route *r;
	const struct kvb_net *nat;
	int ret;

	if (!t)
		return ROUTE_CONTINUE;
	saddr = t->saddr;
	daddr = t->daddr;
	if (f->proto == ETH_P_ARP)
		return nat_arp_gw(skb, net, f);
	if (f->proto == ETH_P_IPV6 && f->l4_ok &&
	    f->l4_proto == IPPROTO_ICMPV6 &&
	    (f->icmp_type == ND_NEIGHBOR_SOLICIT_ ||
	     f->icmp_type == ND_ROUTER_SOLICIT_))
		return nd_gateway(skb, ifindex, net, f, l4off);
	if (!mac_equal(dst, net->uplink_mac))
		return ROUTE_CONTINUE;	/* guest to guest: switched */
	if (f->proto == ETH_P_IP) {
		family = 4;
		__builtin_memcpy(saddr, &f->saddr4, 4);
		__builtin_memcpy(daddr, &f->daddr4, 4);
		/* broadcast, multicast, 0/8, loopback: never routed, the
		 * host's stack takes or drops it (nat.h) */
		if (ip4_never_forwarded(f->daddr4))
			return ROUTE_CONTINUE;
	} else if (f->proto == ETH_P_IPV6) {
		family = 6;
		__builtin_memcpy(saddr, f->saddr6, 16);
		if (bpf_skb_load_bytes(skb, IP6_OFF_DADDR, daddr, 16))
			return DROP(KVB_DROP_TRUNC_L3);
		/* multicast: the link's, so the host's; the unspecified
		 * and loopback addresses are never routed either */
		if (daddr[0] == 0xff || ip6_is_unspec_or_lo(daddr))
			return ROUTE_CONTINUE;
		/*
		 * link-local: the gateway's own is the host's; any other
		 * belongs to a neighbour, which the guest reaches directly.
		 * Handed to the host, a host forwarding IPv6 would send it
		 * back out to that neighbour, around isolation.
		 */
		if (daddr[0] == 0xfe && (daddr[1] & 0xc0) == 0x80) {
			ip6_mac_ll(t->ll, net->uplink_mac);
			return ip6_equal(daddr, t->ll) ? ROUTE_CONTINUE :
							 DROP(KVB_DROP_LL_VIA_GW);
		}
	} else {
		return ROUTE_CONTINUE;
	}
	if (net_is_gw(net, family, daddr)) {
		__be32 gw;

		__builtin_memcpy(&gw, daddr, 4);
		/* a fragmented echo (ping -s 3000) is the host's to put
		 * together and answer: turned around here, its first
		 * fragment would come back alone */
		if (family == 4 && f->l4_ok && f->l4_proto == IPPROTO_ICMP &&
		    f->icmp_type == 8 && f->fragk == KVB_FRAG_NONE)
			return nat_ping_gw(skb, net, f, l4off, gw);
		return ROUTE_CONTINUE;	/* the host's services */
	}
	r = route_of(family, daddr);
	if (r) {
		if (r->net_id != net->id && !net_peered(net, r->net_id))
			return DROP(KVB_DROP_NOT_PEERED);
		return route_into(skb, ifindex, net, r, family, saddr, daddr,
				  f->l3_len, f->hdr_len);
	}
	/*
	 * IPv4 of a nat network, and of a routed one behind it (a private
	 * segment), is translated; their IPv6 is routed (libvirt's model).
	 */
	if (net->type != KVB_NET_ROUTED && family == 4)
		return ROUTE_CONTINUE;	/* nat: translated, or the host's */
	if (net->type == KVB_NET_ROUTED && family == 4) {
		struct kvb_ct_key *hk = &t->hk;	/* no stack for it */
		int l4 = f->l4_proto == IPPROTO_TCP ||
			 f->l4_proto == IPPROTO_UDP, fwd = f->l4_ok && l4;

		nat = net;
		if (!net->via_nat) {
			/* routed out; to one of the host's own addresses,
			 * a nat network's port forward there is reached as
			 * from the WAN (nat_hairpin: the flow that network's,
			 * from its gateway), as kernel DNAT takes any
			 * interface's packets to it; any other port is the
			 * host's (t103: the host's own port answered) */
			ret = route_out(skb, ifindex, net, family, saddr, daddr,
					nat_wire_len(f->l3_len, f->hdr_len,
						     skb->gso_size));
			if (ret != ROUTE_CONTINUE || !l4)
				return ret;
			if (f->fragk == KVB_FRAG_LATER)
				return route_hairpin_later(skb, ifindex, net, f,
							   hk, l4off);
			if (!fwd || !nat_fwd_at(f->daddr4, bpf_htons(f->dport),
					f->l4_proto))
				return ROUTE_CONTINUE;
		} else {
			nat = net_lookup(net->via_nat);
			if (!nat || nat->type != KVB_NET_NAT)
				return DROP(KVB_DROP_NO_ROUTE);
			/* to the nat network's WAN address: a forwarded port
			 * is reached through it (hairpin, from the nat
			 * network's gateway), as from the nat network's own
			 * guests; any other port there is the host's */
			fwd = fwd && nat->nat_ip && f->daddr4 == nat->nat_ip;
		}
		if (fwd) {
			hairpin_key(hk, f, f->daddr4, 0);
			ret = nat_hairpin(skb, nat, f, hk, l4off);
			if (ret == NAT_TOO_BIG) {
				/* into a network of a smaller MTU: from this
				 * one's gateway (a global function: as below) */
				ret = nat_too_big(skb, ifindex, net->id);
				return ret == ROUTE_CONTINUE ? TC_ACT_SHOT : ret;
			}
			if (ret != NAT_CONTINUE || !net->via_nat)
				return ret;
		}
		ret = nat_snat(skb, nat, f, l4off);
		/* a later fragment of a hairpin: the host's, as before
		 * (the nat stage's own path sends it on) */
		if (ret == NAT_HAIRPIN_LATER)
			return ROUTE_CONTINUE;
		if (ret != NAT_TOO_BIG)
			return ret;
		/* a global function: the verifier must see that it is no
		 * ROUTE_CONTINUE (the packet's pointers are gone) */
		ret = nat_too_big(skb, ifindex, net->id);
		return ret == ROUTE_CONTINUE ? TC_ACT_SHOT : ret;
	}
	return route_out(skb, ifindex, net, family, saddr, daddr,
			 nat_wire_len(f->l3_len, f->hdr_len, skb->gso_size));
}

/*
 * May a packet from a WAN device carry source saddr (to daddr) into a
 * network of the fabric, as the kernel's forwarding would let it? Not
 * when the source is a martian (unspecified, loopback, multicast, the
 * limited broadcast; IPv6 link-local and IPv4-mapped, which no router
 * forwards), an address of the fabric's own networks (a guest's, a
 * gateway's: they live behind this host, never beyond its WAN), or one
 * the host's FIB has no unicast route back to (one of the host's own
 * addresses, a broadcast, none at all: the kernel's martian-source and
 * loose reverse-path checks, asked as an input lookup on the network's
 * host interface gw_host), or whose way back leads into the fabric
 * (way_back_into_fabric: a subnet the host routes via a guest, a bridge
 * network's LAN). Forwarding in through BPF skips the kernel's
 * checks; without these a WAN host could speak to guests as their
 * gateway, the host or another guest, and pass ACL rules written for
 * them. 1 when forged.
 */
static __always_inline int wan_src_forged(struct __sk_buff *skb,
					  struct route_scratch *t, __u8 family,
					  const __u8 *saddr, const __u8 *daddr,
					  __u32 gw_host)
{
	int ret;

	if (family == 4) {
		__be32 a;

		__builtin_memcpy(&a, saddr, 4);
		if (ip4_never_forwarded(a))
			return 1;
	} else {
		/* ::, ::1; ff00::/8; fe80::/10; ::ffff:0:0/96 */
		if (ip6_is_unspec_or_lo(saddr) || saddr[0] == 0xff ||
		    (saddr[0] == 0xfe && (saddr[1] & 0xc0) == 0x80))
			return 1;
		if (!(saddr[0] | saddr[1] | saddr[2] | saddr[3] | saddr[4] |
		      saddr[5] | saddr[6] | saddr[7] | saddr[8] | saddr[9]) &&
		    saddr[10] == 0xff && saddr[11] == 0xff)
			return 1;
	}
	if (route_of(family, saddr))
		return 1;
	/* the way back, as a reply would take it: from daddr to saddr (a
	 * header's length: with none, the skb's own would be held to the
	 * route's MTU, and a FRAG_NEEDED answer would let a forged source
	 * of a narrower way back through) */
	ret = fib_ask(skb, &t->fib, family, daddr, saddr, 40, gw_host,
		      BPF_FIB_LOOKUP_SKIP_NEIGH);
	if (ret == BPF_FIB_LKUP_RET_SUCCESS) {
		/* back into the fabric: a subnet the host routes via a
		 * guest (a router VM), a bridge's LAN, live behind this
		 * host too */
		return way_back_into_fabric(t->fib.ifindex, skb->ifindex,
					    gw_host);
	}
	return ret == BPF_FIB_LKUP_RET_NOT_FWDED ||
	       ret == BPF_FIB_LKUP_RET_BLACKHOLE ||
	       ret == BPF_FIB_LKUP_RET_UNREACHABLE ||
	       ret == BPF_FIB_LKUP_RET_PROHIBIT;
}

/*
 * A frame on a WAN device for a routed network (one not behind a nat
 * network) that named this device as its `wan` (or see wan_routes_in):
 * admitted like any frame entering the fabric (a drop code when it
 * fails), refused from a source no WAN host may have (wan_src_forged:
 * spoof-ip), then into the network as the FIB says. A routed network without a WAN device, or with another
 * one, is not reachable from here, whatever other networks use this
 * device for. Everything else, and whatever routing refuses, is left to
 * NAT and the host.
 */
static __always_inline int route_from_wan(struct __sk_buff *skb, __u32 ifindex)
{
	struct hdr_cursor c = { .pos = (void *)(long)skb->data,
				.end = (void *)(long)skb->data_end };
	struct ethhdr *eth = CURSOR_TAKE(&c, struct ethhdr);
	struct route_scratch *t = route_scratch();
	__u8 family, *saddr, *daddr;
	struct kvb_route *r;
	struct kvb_net *net;
	__u32 l3_len;
	int ret;

	if (!eth || !t)
		return ROUTE_CONTINUE;
	saddr = t->saddr;
	daddr = t->daddr;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = CURSOR_TAKE(&c, struct iphdr);

		if (!ip)
			return ROUTE_CONTINUE;
		family = 4;
		__builtin_memcpy(saddr, &ip->saddr, 4);
		__builtin_memcpy(daddr, &ip->daddr, 4);
		l3_len = bpf_ntohs(ip->tot_len);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = CURSOR_TAKE(&c, struct ipv6hdr);

		if (!ip6)
			return ROUTE_CONTINUE;
		family = 6;
		__builtin_memcpy(saddr, &ip6->saddr, 16);
		__builtin_memcpy(daddr, &ip6->daddr, 16);
		l3_len = 40 + bpf_ntohs(ip6->payload_len);
	} else {
		return ROUTE_CONTINUE;
	}
	r = route_of(family, daddr);
	if (!r)
		return ROUTE_CONTINUE;
	net = net_lookup(r->net_id);
	if (!net || !wan_routes_in(net, family, ifindex))
		return ROUTE_CONTINUE;
	ret = kvb_admit_wan(skb);	/* or the header bytes */
	if (IS_DROP(ret))
		return ret;
	if (wan_src_forged(skb, t, family, saddr, daddr, r->gw_host))
		return DROP(KVB_DROP_SPOOF_IP);
	ret = route_into(skb, ifindex, NULL, r, family, saddr, daddr, l3_len,
			 (__u32)ret);
	return IS_DROP(ret) ? TC_ACT_OK : ret;
}

/*
 * A packet leaving the host through its interface into a nat network, or
 * into a routed network behind one (tc egress on that interface, ifindex):
 * the host's own (skb->ingress_ifindex 0: made here, the gateway's DHCP
 * and DNS, a host service's answer), a guest's routed back into its own
 * network (KVB_MARK_HAIRPIN) and a packet from the network itself or a
 * peer pass. Anything else is something the host forwards there from
 * outside (a WAN host routing the private subnet via the host, with
 * forwarding on): neither a tracked flow nor a forward, which the
 * datapath delivers itself, nor IPv6 from a device the network routes in
 * from (wan_routes_in), so refused (nat-unsolicited), counted on the
 * network's gateway port (*port). The host's forwarding setting does not
 * matter then.
 */
static __always_inline int nat_from_host(struct __sk_buff *skb, __u32 ifindex,
					 __u32 *port)
{
	struct hdr_cursor c = { .pos = (void *)(long)skb->data,
				.end = (void *)(long)skb->data_end };
	struct ethhdr *eth = CURSOR_TAKE(&c, struct ethhdr);
	__u8 family, saddr[16], daddr[16];
	struct kvb_route *r;
	struct kvb_net *net;

	if (!eth || !skb->ingress_ifindex || skb->mark == KVB_MARK_HAIRPIN)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = CURSOR_TAKE(&c, struct iphdr);

		if (!ip)
			return TC_ACT_OK;
		family = 4;
		__builtin_memcpy(saddr, &ip->saddr, 4);
		__builtin_memcpy(daddr, &ip->daddr, 4);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = CURSOR_TAKE(&c, struct ipv6hdr);

		if (!ip6)
			return TC_ACT_OK;
		family = 6;
		__builtin_memcpy(saddr, &ip6->saddr, 16);
		__builtin_memcpy(daddr, &ip6->daddr, 16);
	} else {
		return TC_ACT_OK;
	}
	r = route_of(family, daddr);
	if (!r || r->gw_host != ifindex)
		return TC_ACT_OK;
	net = net_lookup(r->net_id);
	if (!net || (net->type != KVB_NET_NAT &&
		     (net->type != KVB_NET_ROUTED || !net->via_nat)))
		return TC_ACT_OK;
	*port = net->uplink;
	r = route_of(family, saddr);
	/* from the network itself or a peer, by where it came from, not
	 * only by its source address (a WAN host can write any): that
	 * network's host interface (its gateway's traffic, a guest's
	 * through it) or one of its ports (a routed guest's, redirected) */
	if (r && (r->net_id == net->id || net_peered(net, r->net_id))) {
		__u32 in = skb->ingress_ifindex;
		struct kvb_port *p;

		if (in == r->gw_host)
			return TC_ACT_OK;
		p = bpf_map_lookup_elem(&kvb_port, &in);
		if (p && p->net_id == r->net_id &&
		    (p->role == KVB_PORT_GUEST || p->role == KVB_PORT_GATEWAY))
			return TC_ACT_OK;	/* not its WAN port: the WAN's */
	}
	/*
	 * IPv6 of nat networks (and behind them) is routed, not
	 * translated: the outside reaches it through the WAN devices it
	 * routes in from (route_from_wan sends it this way while the host
	 * resolves the guest), not through any other device of a host that
	 * forwards IPv6.
	 */
	if (family == 6 && wan_routes_in(net, 6, skb->ingress_ifindex))
		return TC_ACT_OK;
	return DROP(KVB_DROP_NAT_UNSOLICITED);
}

#endif /* KVB_ROUTE_H */
