/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Security groups: a guest port's ACLs, stateful (tc only).
 *
 * Where: judged where the frame is already parsed and its way decided.
 * Egress (from the guest): at the top of the forwarding stage of its port
 * (switch, nat, routed: acl_from_guest), from the fields the entry parsed
 * (acl_cb_put: skb->cb carries them over the tail call). Ingress (towards
 * the guest): where the fabric switches a guest's frame to another local
 * guest port (bridge_from_guest: acl_to_guest), which then delivers it
 * marked KVB_MARK_ACL, judged; everything else the fabric delivers to a
 * guest (from a bridge's LAN or the host, translated in from the WAN by a
 * forward, routed from a peered network, floods) is judged on the tap's
 * tc egress (kvb_tc_acl_in), which every frame to the guest passes, so no
 * path to a guest goes around its ACLs.
 *
 * How a new connection is judged (kvb_maps.h, the set): four LPM lookups
 * give the rules each field matches, the lowest bit of their AND is the
 * rule, no bit is the network's default for the direction. A connection
 * let through is remembered in kvb_aclct4 (IPv4) or kvb_aclct (IPv6), on
 * the side of the guest's end,
 * so its replies and its ICMP errors pass the other way without a rule;
 * a side judged under another set than its port's current one is judged
 * again by its first direction and fields, and forgotten if the new rules
 * forbid it (its packets are then new connections: an established
 * connection the new rules forbid is cut).
 *
 * One entry for both ports: a connection between two local guests has
 * one entry, whose two sides are the two ports' judgments; the sender's
 * lookup brings the receiver's side along (acl_to_guest), so a packet of
 * a known connection costs one lookup for both ports, and a new one a
 * miss and one insert (acl_commit: the switch stage inserts the entry
 * once, with both sides). A change of either port's set judges again at
 * once. The rules' answer for a new connection's fields is kept per set
 * (kvb_aclvc4 for IPv4, kvb_aclvc for IPv6), so the next connection with
 * the same fields costs one lookup.
 *
 * Room: every side of an entry counts against its port (kvb_aclctn); a
 * port's new connection beyond KVB_ACL_CT_PORT evicts one of that port's
 * connections of its direction that is not established (acl_ct_evict,
 * conntrack's early drop), else it is refused (acl-ct-full), as beyond
 * a full table; an established one is never evicted: an idle entry goes
 * after its timeout (acl_sweep, from NAT's expiry timer, or the packet
 * that finds it idle), its sides' counts with it. One guest's flood
 * cannot push another guest's connections out.
 *
 * Fragments: a first fragment is judged as any packet, and when a port's
 * ACLs let it through, its datagram's later fragments (no ports to judge)
 * pass that port for a while (kvb_aclfrag); any other later fragment is
 * refused (acl-fragment).
 *
 * Not judged: ARP, neighbour discovery and MLD, and what DHCP and DHCPv6
 * need on the link (acl_dhcp_exempt: a guest with default-reject keeps
 * its address).
 *
 * reject answers as the other end would: a TCP RST, or ICMP/ICMPv6
 * "administratively prohibited", within the port's budget (icmp_budget,
 * a bucket of its own), sent towards the guest for its own packet, or
 * into the port as the guest's for a packet towards it (it then takes the
 * guest's way back, NAT and routing included), marked KVB_MARK_ACL so
 * that the port's ACLs in the other direction let it pass.
 */
#ifndef KVB_ACL_H
#define KVB_ACL_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "admit.h"
#include "bind.h"
#include "conntrack.h"	/* a TCP connection's windows (td_*) */
#include "ctx.h"
#include "drop.h"
#include "gateway.h"	/* icmp_budget, reply scratch, checksums, quotes */
#include "guard.h"	/* ip4_own_by_port */
#include "l3.h"
#include "maps.h"
#include "evict.h"
#include "monitor.h"
#include "stats.h"

#define ACL_SKIP 1	/* acl_tuple: not judged */
/* acl_tuple: neither IP nor ARP (PPPoE, MPLS, 802.3 frames...): no rule
 * can name it, so the direction's default decides (acl_nonip) */
#define ACL_NONIP 2
/* acl_to_guest: not a guest port with ACLs, tc egress judges (if at all) */
#define ACL_UNJUDGED 0x7ffa

/*
 * What the entry parsed, for the switch stage's judgments (acl_cb_put):
 * skb->cb words. ACL_CB_META: the L4 protocol (bits 0-7), an L4 header
 * checked (bit 8), IPv4 (bit 9) or IPv6 (bit 10), its fragment kind
 * (bits 11-12), TCP with FIN or RST (bit 13), a TCP SYN without ACK
 * (bit 14), the L4 offset (bits
 * 16-31); then the L4 length, the ports (source high), a magic of this
 * layout and the device. A stage that finds no description of its build
 * (an older entry's frame, during an upgrade: that entry had the egress
 * judged in a stage of its own) judges nothing: the receiver's tc egress
 * judges the frame, as it judges what does not come from a local guest.
 */
#define ACL_CB_META 0
#define ACL_CB_L4LEN 1
#define ACL_CB_PORTS 2
#define ACL_CB_MAGIC 3
#define ACL_CB_IFINDEX 4
#define ACL_MAGIC (0x61636c00U | KVB_LAYOUT_VERSION)
#define ACL_M_L4OK (1U << 8)
#define ACL_M_IP4 (1U << 9)
#define ACL_M_IP6 (1U << 10)
#define ACL_M_FRAG_SHIFT 11	/* bits 11-12: enum kvb_frag_kind */
#define ACL_M_END (1U << 13)	/* TCP with FIN or RST */
#define ACL_M_SYN (1U << 14)	/* TCP SYN without ACK: an opening */
#define ACL_M_ARP (1U << 15)	/* ARP or RARP: the link's, never judged */

/* acl_scratch.valid: the packet's fields */
#define ACL_V_NONE 0	/* not read yet (this program run) */
#define ACL_V_TUPLE 1	/* in the scratch */
#define ACL_V_SKIP 2	/* not judged (acl_tuple said ACL_SKIP) */
#define ACL_V_OFF 3	/* no description from the entry: not here */
#define ACL_NONE 0xffff	/* acl_classify: no rule matched */
/* icmp_budget's key for a port's rejects: a bucket of its own */
#define ACL_BUDGET_KEY(ifindex) ((ifindex) | 0x80000000U)

/* The fields a set is asked about: one packet's, or a connection's first. */
struct acl_fields {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport;	/* host order; ICMP: type, code */
	__u8 family, proto;
	__u8 pad[2];
};

struct acl_scratch {
	/* a refused frame's head, taken before a reject's answer is
	 * written over it (acl_rejected reports it to a monitor) */
	__u8 rhead[KVB_EVENT_BYTES];
	__u32 rlen;
	__u16 rcap;
	__u8 rpad[2];
	struct acl_fields c;		/* what acl_classify reads */
	struct kvb_acl_lpm_key k;
	struct kvb_aclct_key ck;
	struct kvb_aclct ce;
	/* pending: the sender's new entry and its key (acl_commit) */
	struct kvb_aclct pe;
	struct kvb_aclct_key pk;
	struct kvb_aclct_key ek;	/* acl_ct_evict's candidate */
	struct kvb_aclct4_key k4;	/* kvb_aclct4's form of a key (aclct_*) */
	__u32 evk;			/* its place in kvb_aclev */
	__u32 evs;			/* a key of kvb_stats */
	__u32 net_id;			/* the judging port's network */
	__u32 slot;			/* the judging port's slot */
	__u8 gside;			/* ck: the side of the guest's end */
	/* acl_judge: ICMP that opens no connection (a rule lets it
	 * through, no state kept) */
	__u8 nostate;
	__u8 dhcp;			/* ACL_DHCP_*: which DHCP message */
	__u8 pad2;
	struct kvb_acl_bit_key bk;
	struct kvb_aclvc_key vk;
	struct kvb_aclvc4_key vk4;	/* vk's IPv4 form (kvb_aclvc4) */
	struct kvb_aclvc_val vv;	/* a verdict cache entry's copy */
	struct kvb_aclvc4_val vv4;
	struct kvb_aclvc vres;		/* acl_vc_fetch's, acl_vc_store's */
	struct kvb_aclfrag_key fk;
	struct kvb_aclfrag fv;		/* a fragment note's copy */
	struct kvb_addr_key ak;		/* acl_dst_owner's */
	/* the packet; the addresses aligned for acl_addrs4 */
	__u8 saddr[16] __attribute__((aligned(8)));
	__u8 daddr[16];
	__u16 sport, dport;		/* TCP/UDP, host order */
	__u16 id;			/* ICMP query identifier, host order */
	__u8 family, proto;
	__u8 type, code;		/* ICMP */
	__u8 is_icmp;
	__u8 query;			/* ICMP: kvb_aclct_icmp, 0: none */
	__u8 fragk;			/* enum kvb_frag_kind */
	__u8 tend;			/* TCP with FIN or RST */
	__u8 tsyn;			/* TCP SYN without ACK */
	__u8 qreply;			/* ICMP: a query's reply type */
	/* TCP: the packet's windows judged and tracked (acl_tcp_track,
	 * once a packet, whichever port judges it first), and the verdict
	 * on its RST or FIN (TD_*) */
	__u8 tdone, tclose;
	__u8 pad3[2];
	__u32 fid;			/* fragmented: the datagram's id */
	__u32 l4off, l4len;
	__u8 tcph[20];			/* reject: the TCP header */
	__u8 eth[12];			/* reject: destination, source MAC */
	struct kvb_acl_port ap;		/* the judging port's, as read once */
	/* between the sender's and the receiver's judgments, one run */
	__u32 sif;			/* the sender's port */
	/* the other side of the sender's entry, as its lookup found it */
	__u32 peer, peer_set, peer_ctr;
	__u8 valid;			/* ACL_V_* */
	__u8 pc;			/* peer, peer_set, peer_ctr: usable */
	/*
	 * defer: the switch stage's sender; a new connection's entry is
	 * then inserted once at the stage's end (acl_commit), with the
	 * receiver's side when a local receiver judged it (pending: pe and
	 * pk hold it). A flood's copies run other ports' tc egress, and
	 * their ACL judgments, on this CPU before the stage ends: those
	 * clear defer and never touch pe, pk or pending.
	 */
	__u8 defer, pending;
	/*
	 * hp: the remote end was a hairpin's gateway address and port,
	 * judged as the real client's (acl_hairpin_peer): 1 + the judging
	 * direction, 0 when not; the packet's own (hp_raddr, hp_rport)
	 * come back for what answers or follows the packet
	 * (acl_hairpin_restore)
	 */
	__u8 hp;
	__u16 hp_rport;
	__be32 hp_raddr;
	/* the rule counter the judgment counted its packet on (0: none),
	 * which a first fragment's note keeps for its later ones */
	__u32 cctr;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct acl_scratch);
} kvb_acl_tmp SEC(".maps");

static __always_inline struct acl_scratch *acl_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kvb_acl_tmp, &zero);
}

/*
 * The connection tables by a connection's key k: IPv4 in kvb_aclct4 under
 * its short form (built in s->k4), IPv6 in kvb_aclct.
 */
static __always_inline struct kvb_aclct *
aclct_lookup(struct acl_scratch *s, const struct kvb_aclct_key *k)
{
	if (k->family != 4)
		return bpf_map_lookup_elem(&kvb_aclct, k);
	kvb_aclct4_key_of(&s->k4, k);
	return bpf_map_lookup_elem(&kvb_aclct4, &s->k4);
}

static __always_inline long aclct_update(struct acl_scratch *s,
					 const struct kvb_aclct_key *k,
					 const struct kvb_aclct *v, __u64 flags)
{
	if (k->family != 4)
		return bpf_map_update_elem(&kvb_aclct, k, v, flags);
	kvb_aclct4_key_of(&s->k4, k);
	return bpf_map_update_elem(&kvb_aclct4, &s->k4, v, flags);
}

static __always_inline long aclct_delete(struct acl_scratch *s,
					 const struct kvb_aclct_key *k)
{
	if (k->family != 4)
		return bpf_map_delete_elem(&kvb_aclct, k);
	kvb_aclct4_key_of(&s->k4, k);
	return bpf_map_delete_elem(&kvb_aclct4, &s->k4);
}

/*
 * The query kind of ICMP(v6) type (enum kvb_aclct_icmp: a request and its
 * reply share it), 0 for a type that is no query; *reply: type is the
 * reply. The types conntrack tracks as connections, no other.
 */
static __always_inline __u8 icmp_query(__u8 family, __u8 type, __u8 *reply)
{
	*reply = 0;
	if (family == 6) {
		*reply = type == 129;
		return type == 128 || type == 129 ? KVB_ACLCT_ICMP_ECHO : 0;
	}
	if (type > 18)
		return 0;
	*reply = type == 0 || type == 14 || type == 16 || type == 18;
	if (type == 0 || type == 8)
		return KVB_ACLCT_ICMP_ECHO;
	if (type == 13 || type == 14)
		return KVB_ACLCT_ICMP_TSTAMP;
	if (type == 15 || type == 16)
		return KVB_ACLCT_ICMP_INFO;
	if (type == 17 || type == 18)
		return KVB_ACLCT_ICMP_MASK;
	*reply = 0;
	return 0;
}

static __always_inline int icmp_is_err(__u8 family, __u8 type)
{
	return family == 4 ? icmp4_is_error(type) : type < 128;
}

/* admission's view of a frame, packed: ACL_CB_META's word */
static __always_inline __u32 acl_meta(const struct kvb_frame *f)
{
	return f->l4_proto | (f->l4_ok ? ACL_M_L4OK : 0) |
	       (f->proto == ETH_P_IP ? ACL_M_IP4 : 0) |
	       (f->proto == ETH_P_IPV6 ? ACL_M_IP6 : 0) |
	       (__u32)(f->fragk & 3) << ACL_M_FRAG_SHIFT |
	       (f->l4_proto == IPPROTO_TCP && (f->tcp_flags & 0x05) ?
		ACL_M_END : 0) |
	       (f->l4_proto == IPPROTO_TCP && (f->tcp_flags & 0x12) == 0x02 ?
		ACL_M_SYN : 0) |
	       (f->proto == ETH_P_ARP || f->proto == ETH_P_RARP ?
		ACL_M_ARP : 0) |
	       (f->l4_off & 0xffff) << 16;
}

static __always_inline __u32 acl_ports(const struct kvb_frame *f)
{
	return (__u32)f->sport << 16 | f->dport;
}

/*
 * The entry's description of a guest's frame it admitted, for the
 * switch stage (the packet is not changed in between).
 */
static __always_inline void acl_cb_put(struct __sk_buff *skb,
				       const struct kvb_frame *f,
				       __u32 ifindex)
{
	skb->cb[ACL_CB_META] = acl_meta(f);
	skb->cb[ACL_CB_L4LEN] = f->l4_len;
	skb->cb[ACL_CB_PORTS] = acl_ports(f);
	skb->cb[ACL_CB_MAGIC] = ACL_MAGIC;
	skb->cb[ACL_CB_IFINDEX] = ifindex;
}

/*
 * A fragment's datagram id into the scratch (s->fid): IPv4's
 * identification, or the id of IPv6's fragment header, found by walking
 * the extension headers admission checked. 0, or -1. A global function.
 */
__noinline int acl_frag_id(struct __sk_buff *skb)
{
	struct acl_scratch *s = acl_scratch();
	__u32 off = ETH_HLEN + 40;
	__u8 b[4], nh;

	if (!s)
		return -1;
	if (s->family == 4) {
		if (bpf_skb_load_bytes(skb, IP_OFF + 4, b, 2))
			return -1;
		s->fid = (__u32)b[0] << 8 | b[1];
		return 0;
	}
	if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &nh, 1))
		return -1;
	for (int i = 0; i < KVB_IP6_MAX_EXT; i++) {
		if (nh == IPPROTO_FRAGMENT) {
			if (bpf_skb_load_bytes(skb, off + 4, b, 4))
				return -1;
			s->fid = (__u32)b[0] << 24 | (__u32)b[1] << 16 |
				 (__u32)b[2] << 8 | b[3];
			return 0;
		}
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING &&
		    nh != IPPROTO_DSTOPTS)
			return -1;
		if (bpf_skb_load_bytes(skb, off, b, 2))
			return -1;
		nh = b[0];
		off += ((__u32)b[1] + 1) * 8;
	}
	return -1;
}

/*
 * a (family) stays on a nat or routed network's link: unspecified,
 * broadcast, link-local, link-scope multicast, or in one of its subnets
 * (its gateways' addresses among them).
 */
static __always_inline int acl_on_link(const struct kvb_net *net,
				       __u8 family, const __u8 *a)
{
	struct kvb_route *r;
	__u32 v4;

	if (family == 4) {
		__builtin_memcpy(&v4, a, 4);
		if (!v4 || v4 == 0xffffffff)
			return 1;
	} else {
		if ((a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
		    (a[0] == 0xff && (a[1] & 0x0f) == 2))
			return 1;
		if (!(a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7] |
		      a[8] | a[9] | a[10] | a[11] | a[12] | a[13] | a[14] |
		      a[15]))
			return 1;
	}
	/* the fabric's route table knows every network's subnets */
	r = route_of(family, a);
	return r && r->net_id == net->id;
}

/*
 * Neighbour discovery and MLD (and DHCP, acl_dhcp_exempt) pass a port's
 * ACLs unjudged as the link's own traffic only while both ends stay on
 * the link: on a nat or routed network, acl_on_link (an "NS" routed out
 * is judged as any packet: the ICMPv6 type does not bypass
 * default-egress or default-ingress); on a bridge or internal network
 * everything is the link's. 1: unjudged. Global: verified once.
 */
__noinline int acl_link_exempt(const struct acl_scratch *s)
{
	struct kvb_net *net;

	if (!s)
		return 1;
	net = net_lookup(s->net_id);
	if (!net || (net->type != KVB_NET_NAT && net->type != KVB_NET_ROUTED))
		return 1;
	return acl_on_link(net, s->family, s->saddr) &&
	       acl_on_link(net, s->family, s->daddr);
}

/* acl_scratch.dhcp: a datagram between DHCP's ports, client to server
 * or server to client (other pairs are judged as any packet) */
#define ACL_DHCP_CLIENT 1	/* UDP 68 -> 67, DHCPv6 546 -> 547 */
#define ACL_DHCP_SERVER 2	/* UDP 67 -> 68, DHCPv6 547 -> 546 */

/* a (IPv6) is link-local unicast, fe80::/10 */
static __always_inline int ip6_ll(const __u8 *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/*
 * The DHCP datagram in the scratch (s->dhcp), on port ifindex in
 * direction dir: passes unjudged (1) when it is what DHCP needs on the
 * link, a client's message from the guest or a server's towards it,
 * so that a guest with default-reject ACLs still gets and keeps its
 * address. On a nat or routed network both ends stay on the link
 * (acl_on_link). On a bridge or internal network (the LAN's server):
 * from the guest, DHCPv4 to the broadcast address, or by unicast to the
 * server that leased the address it sends from (a renewal: kvb_addr's
 * server, from the ACK's option 54), DHCPv6 to All_DHCP_Relay_Agents_
 * and_Servers (ff02::1:2) or a link-local address; towards the guest,
 * DHCPv6 from a link-local address (a server or relay on the link),
 * DHCPv4 from anywhere (the fabric does not know which addresses are the
 * LAN's). Anything else between these ports is judged as any packet:
 * they are no way past the rules. Global: verified once.
 */
__noinline int acl_dhcp_exempt(__u32 ifindex, __u32 dir)
{
	struct acl_scratch *s = acl_scratch();
	struct kvb_addr *b;
	struct kvb_net *net;
	__u32 d4;

	if (!s || !s->dhcp)
		return 0;
	if ((s->dhcp == ACL_DHCP_CLIENT) != (dir == KVB_ACL_OUT))
		return 0;
	net = net_lookup(s->net_id);
	if (!net)
		return 0;
	if (net->type == KVB_NET_NAT || net->type == KVB_NET_ROUTED)
		return acl_on_link(net, s->family, s->saddr) &&
		       acl_on_link(net, s->family, s->daddr);
	if (s->family == 6) {
		if (dir == KVB_ACL_IN)
			return ip6_ll(s->saddr);
		return ip6_ll(s->daddr) ||
		       (s->daddr[0] == 0xff && s->daddr[1] == 0x02 &&
			s->daddr[13] == 1 && s->daddr[15] == 2 &&
			!(s->daddr[2] | s->daddr[3] | s->daddr[4] |
			  s->daddr[5] | s->daddr[6] | s->daddr[7] |
			  s->daddr[8] | s->daddr[9] | s->daddr[10] |
			  s->daddr[11] | s->daddr[12] | s->daddr[14]));
	}
	if (dir == KVB_ACL_IN)
		return 1;
	__builtin_memcpy(&d4, s->daddr, 4);
	if (d4 == 0xffffffff)
		return 1;
	b = bind_of(ifindex, 4, s->saddr, 4);
	return b && (b->flags & KVB_ADDR_F_DHCP) && b->server &&
	       b->server == d4;
}

/*
 * The packet's addresses into the scratch (s->saddr, s->daddr; IPv4 in
 * the first 4 bytes, the rest zero), each as two 64-bit words: the key
 * (acl_key_ends) reads them as such, and a word read back from smaller
 * stores stalls. From the linear head when it holds them (admission
 * pulled the headers), else with a helper load. 0, or -1 (truncated).
 */
_Static_assert(__builtin_offsetof(struct acl_scratch, saddr) % 8 == 0 &&
	       __builtin_offsetof(struct acl_scratch, daddr) % 8 == 0 &&
	       __builtin_offsetof(struct acl_scratch, c.saddr) % 8 == 0 &&
	       __builtin_offsetof(struct acl_scratch, c.daddr) % 8 == 0 &&
	       __builtin_offsetof(struct acl_scratch, ck.addr) % 4 == 0,
	       "acl_scratch: the addresses are read and written as words");
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "acl_addrs4: an IPv4 address is widened as a little-endian word"
#endif

static __always_inline int acl_addrs4(struct __sk_buff *skb,
				      struct acl_scratch *s)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u64 *sa = (__u64 *)s->saddr, *da = (__u64 *)s->daddr;

	if (data + IP_OFF_DADDR + 4 <= end) {
		/* the address's bytes first, as in the packet */
		sa[0] = *(__u32 *)(data + IP_OFF_SADDR);
		sa[1] = 0;
		da[0] = *(__u32 *)(data + IP_OFF_DADDR);
		da[1] = 0;
		return 0;
	}
	sa[0] = sa[1] = da[0] = da[1] = 0;
	return bpf_skb_load_bytes(skb, IP_OFF_SADDR, s->saddr, 4) ||
	       bpf_skb_load_bytes(skb, IP_OFF_DADDR, s->daddr, 4) ? -1 : 0;
}

static __always_inline int acl_addrs6(struct __sk_buff *skb,
				      struct acl_scratch *s)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (data + IP6_OFF_DADDR + 16 <= end) {
		/* 32-bit loads (the header is 2-aligned), 64-bit stores */
		const __u32 *a = data + IP6_OFF_SADDR;
		__u64 *sa = (__u64 *)s->saddr, *da = (__u64 *)s->daddr;

		sa[0] = a[0] | (__u64)a[1] << 32;
		sa[1] = a[2] | (__u64)a[3] << 32;
		da[0] = a[4] | (__u64)a[5] << 32;
		da[1] = a[6] | (__u64)a[7] << 32;
		return 0;
	}
	return bpf_skb_load_bytes(skb, IP6_OFF_SADDR, s->saddr, 16) ||
	       bpf_skb_load_bytes(skb, IP6_OFF_DADDR, s->daddr, 16) ? -1 : 0;
}

/*
 * The packet's fields into the scratch, from admission's view of it
 * (packed: acl_meta): 0, ACL_SKIP for what ACLs do not judge, or a drop.
 */
static __always_inline int acl_tuple(struct __sk_buff *skb,
				     struct acl_scratch *s, __u32 meta,
				     __u32 l4len, __u32 ports)
{
	__u8 icmp[8];

	if (meta & ACL_M_IP4) {
		s->family = 4;
		if (acl_addrs4(skb, s))
			return DROP(KVB_DROP_TRUNC_L3);
	} else if (meta & ACL_M_IP6) {
		s->family = 6;
		if (acl_addrs6(skb, s))
			return DROP(KVB_DROP_TRUNC_L3);
	} else {
		return meta & ACL_M_ARP ? ACL_SKIP : ACL_NONIP;
	}
	s->proto = meta & 0xff;
	s->sport = s->dport = s->id = 0;
	s->type = s->code = s->is_icmp = s->query = s->qreply = 0;
	s->l4off = meta >> 16;
	s->l4len = l4len;
	s->fragk = (meta >> ACL_M_FRAG_SHIFT) & 3;
	s->tend = !!(meta & ACL_M_END);
	s->tsyn = !!(meta & ACL_M_SYN);
	s->tdone = 0;
	s->tclose = TD_CLOSE;
	s->fid = 0;
	s->dhcp = 0;
	s->hp = 0;
	/* a fragment: its datagram's id (a later one is judged by it) */
	if (s->fragk != KVB_FRAG_NONE && acl_frag_id(skb))
		return DROP(KVB_DROP_TRUNC_L3);
	if (s->fragk == KVB_FRAG_LATER)
		return 0;
	if (!(meta & ACL_M_L4OK)) {
		/* no L4 header admission checked: not one it knows */
		if (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP ||
		    s->proto == IPPROTO_ICMP || s->proto == IPPROTO_ICMPV6)
			return ACL_SKIP;
		return 0;
	}
	if (s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP) {
		s->sport = ports >> 16;
		s->dport = ports & 0xffff;
		/* DHCP, DHCPv6: each judgment asks acl_dhcp_exempt, by its
		 * direction */
		if (s->proto == IPPROTO_UDP && s->family == 4 &&
		    s->sport == 68 && s->dport == 67)
			s->dhcp = ACL_DHCP_CLIENT;
		else if (s->proto == IPPROTO_UDP && s->family == 4 &&
			 s->sport == 67 && s->dport == 68)
			s->dhcp = ACL_DHCP_SERVER;
		else if (s->proto == IPPROTO_UDP && s->family == 6 &&
			 s->sport == 546 && s->dport == 547)
			s->dhcp = ACL_DHCP_CLIENT;
		else if (s->proto == IPPROTO_UDP && s->family == 6 &&
			 s->sport == 547 && s->dport == 546)
			s->dhcp = ACL_DHCP_SERVER;
		return 0;
	}
	if ((s->proto == IPPROTO_ICMP && s->family == 4) ||
	    (s->proto == IPPROTO_ICMPV6 && s->family == 6)) {
		if (bpf_skb_load_bytes(skb, s->l4off, icmp, 8))
			return DROP(KVB_DROP_L4);
		s->is_icmp = 1;
		s->type = icmp[0];
		s->code = icmp[1];
		/* neighbour discovery, MLD: the link's, not a connection */
		if (s->family == 6 &&
		    ((s->type >= 130 && s->type <= 137) || s->type == 143) &&
		    acl_link_exempt(s))
			return ACL_SKIP;
		/* a query's identifier (echo, timestamp, information and
		 * address mask alike) */
		s->query = icmp_query(s->family, s->type, &s->qreply);
		if (s->query)
			s->id = (__u16)(icmp[4] << 8 | icmp[5]);
	}
	return 0;
}

/* lowest set bit of a non-zero word */
static __always_inline __u32 ctz64(__u64 w)
{
	__u32 n = 0;

	if (!(w & 0xffffffffULL)) {
		n += 32;
		w >>= 32;
	}
	if (!(w & 0xffff)) {
		n += 16;
		w >>= 16;
	}
	if (!(w & 0xff)) {
		n += 8;
		w >>= 8;
	}
	if (!(w & 0xf)) {
		n += 4;
		w >>= 4;
	}
	if (!(w & 0x3)) {
		n += 2;
		w >>= 2;
	}
	if (!(w & 0x1))
		n += 1;
	return n;
}

static __always_inline struct kvb_acl_bits *
acl_lpm(struct kvb_acl_lpm_key *k, __u32 set, __u32 dim, __u8 fam,
	const __u8 *addr, __u16 port, int is_port)
{
	__be32 sb = bpf_htonl(set);

	__builtin_memset(k, 0, sizeof(*k));
	k->prefixlen = 8 * (sizeof(*k) - 4);
	__builtin_memcpy(k->set, &sb, 4);
	k->dim = (__u8)dim;
	k->fam = fam;
	if (is_port) {
		k->addr[0] = port >> 8;
		k->addr[1] = port & 0xff;
	} else {
		__builtin_memcpy(k->addr, addr, 16);
	}
	return bpf_map_lookup_elem(&kvb_acllpm, k);
}

/* a field's bitmap word, or every rule for a field no rule constrains */
#define ACL_WORD(m, i) ((m) ? (m)->w[i] : ~0ULL)

/*
 * The rule of set (direction dir, nrules rules) that decides the fields
 * in the scratch (c): its bit, or ACL_NONE. At most four lookups (none
 * for a field no rule constrains: dims, 1 << enum kvb_acl_dim) and an
 * AND of at most KVB_ACL_WORDS words, whatever the number of rules. A
 * global function: checked once, for both stages and both of its callers.
 */
__noinline int acl_classify(__u32 set, __u32 dir, __u32 nrules, __u32 dims)
{
	struct acl_scratch *s = acl_scratch();
	struct kvb_acl_bits *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	__u32 nwords = (nrules + 63) / 64, port_fam;

	if (!s || dir > 1)
		return ACL_NONE;
	port_fam = s->c.proto;
	/* a set being torn down has no entries: no rule */
	if (dims & (1U << KVB_ACL_D_SRC)) {
		a = acl_lpm(&s->k, set, dir * 4 + KVB_ACL_D_SRC, s->c.family,
			    s->c.saddr, 0, 0);
		if (!a)
			return ACL_NONE;
	}
	if (dims & (1U << KVB_ACL_D_DST)) {
		b = acl_lpm(&s->k, set, dir * 4 + KVB_ACL_D_DST, s->c.family,
			    s->c.daddr, 0, 0);
		if (!b)
			return ACL_NONE;
	}
	if (dims & (1U << KVB_ACL_D_SPORT)) {
		c = acl_lpm(&s->k, set, dir * 4 + KVB_ACL_D_SPORT,
			    (__u8)port_fam, NULL, s->c.sport, 1);
		if (!c)
			return ACL_NONE;
	}
	if (dims & (1U << KVB_ACL_D_DPORT)) {
		d = acl_lpm(&s->k, set, dir * 4 + KVB_ACL_D_DPORT,
			    (__u8)port_fam, NULL, s->c.dport, 1);
		if (!d)
			return ACL_NONE;
	}
	for (__u32 i = 0; i < KVB_ACL_WORDS; i++) {
		__u64 w;

		if (i >= nwords)
			break;
		w = ACL_WORD(a, i) & ACL_WORD(b, i) & ACL_WORD(c, i) &
		    ACL_WORD(d, i);
		if (w)
			return (int)(i * 64 + ctz64(w));
	}
	return ACL_NONE;
}

static __always_inline void acl_count(__u32 ctr, __u32 len)
{
	struct kvb_acl_cnt *n;

	if (!ctr)
		return;
	n = bpf_map_lookup_elem(&kvb_aclcnt, &ctr);
	if (n) {
		n->packets++;
		n->bytes += len;
	}
}

/* acl_count, the counter kept for a first fragment's note */
static __always_inline void acl_count_s(struct acl_scratch *s, __u32 ctr,
					__u32 len)
{
	s->cctr = ctr;
	acl_count(ctr, len);
}

/* A 'log on' rule's allowed connection, to a monitor (not a drop). */
static __always_inline void acl_log(struct __sk_buff *skb, __u32 ifindex)
{
	struct kvb_event *ev;

	if (!monitor_on())
		return;
	ev = bpf_ringbuf_reserve(&kvb_events, sizeof(*ev), 0);
	if (!ev)
		return;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ifindex = ifindex;
	ev->reason = KVB_DROP_ACL_LOG;
	ev->len = skb->len;
	ev->hook = 0;
	ev->pad = 0;
	/* the head as a drop's (IPv6's ports too) */
	ev->caplen = drop_head(skb, 0, skb->len, ev->data);
	bpf_ringbuf_submit(ev, 0);
}

/* The verdict cache's key of the fields in the scratch (c) under set,
 * direction dir: the fields the set's rules constrain (dims), the others
 * zero; IPv4 in its short form (s->vk4), IPv6 in s->vk. */
static __always_inline void acl_vc_key(struct acl_scratch *s, __u32 set,
				       __u32 dir, __u32 dims)
{
	struct kvb_aclvc_key *k = &s->vk;
	struct kvb_aclvc4_key *k4 = &s->vk4;

	if (s->c.family == 4) {
		__builtin_memset(k4, 0, sizeof(*k4));
		k4->set = set;
		k4->dir = (__u8)dir;
		k4->proto = s->c.proto;
		if (dims & (1U << KVB_ACL_D_SRC))
			__builtin_memcpy(k4->saddr, s->c.saddr, 4);
		if (dims & (1U << KVB_ACL_D_DST))
			__builtin_memcpy(k4->daddr, s->c.daddr, 4);
		if (dims & (1U << KVB_ACL_D_SPORT))
			k4->sport = s->c.sport;
		if (dims & (1U << KVB_ACL_D_DPORT))
			k4->dport = s->c.dport;
		return;
	}
	__builtin_memset(k, 0, sizeof(*k));
	k->set = set;
	k->dir = (__u8)dir;
	k->family = s->c.family;
	k->proto = s->c.proto;
	if (dims & (1U << KVB_ACL_D_SRC))
		__builtin_memcpy(k->saddr, s->c.saddr, 16);
	if (dims & (1U << KVB_ACL_D_DST))
		__builtin_memcpy(k->daddr, s->c.daddr, 16);
	if (dims & (1U << KVB_ACL_D_SPORT))
		k->sport = s->c.sport;
	if (dims & (1U << KVB_ACL_D_DPORT))
		k->dport = s->c.dport;
}

_Static_assert(sizeof(struct kvb_aclvc4_key) == 20 &&
	       sizeof(struct kvb_aclvc_key) == 44,
	       "acl_vc_fetch compares the verdict cache's keys as words");

/*
 * The verdict cache by the key acl_vc_key built in the scratch (its
 * family's table) into s->vres: 1, or 0 when it has none. The entry is
 * copied first and taken only when its check word holds and the key it
 * carries is the one looked up (an LRU entry can be another key's by the
 * time it is read, or be rewritten while it is copied: kvb_aclvc4_val).
 * Global, as acl_vc_store: verified once, and its words off acl_judge's
 * stack (the ACL stages' call chain is at the verifier's limit).
 */
__noinline int acl_vc_fetch(void)
{
	struct acl_scratch *s = acl_scratch();

	if (!s)
		return 0;
	if (s->c.family == 4) {
		struct kvb_aclvc4_val *e =
			bpf_map_lookup_elem(&kvb_aclvc4, &s->vk4);

		if (!e)
			return 0;
		__builtin_memcpy(&s->vv4, e, sizeof(s->vv4));
		if (s->vv4.check != kvb_aclvc4_check(&s->vv4) ||
		    !kvb_words_equal(&s->vv4.key, &s->vk4, 5))
			return 0;
		s->vres = s->vv4.vc;
		return 1;
	} else {
		struct kvb_aclvc_val *e =
			bpf_map_lookup_elem(&kvb_aclvc, &s->vk);

		if (!e)
			return 0;
		__builtin_memcpy(&s->vv, e, sizeof(s->vv));
		if (s->vv.check != kvb_aclvc6_check(&s->vv) ||
		    !kvb_words_equal(&s->vv.key, &s->vk, 11))
			return 0;
		s->vres = s->vv.vc;
		return 1;
	}
}

/* Keep s->vres under the scratch's verdict cache key, with its key and
 * check word. */
__noinline int acl_vc_store(void)
{
	struct acl_scratch *s = acl_scratch();

	if (!s)
		return 0;
	if (s->c.family == 4) {
		__builtin_memcpy(&s->vv4.key, &s->vk4, sizeof(s->vv4.key));
		s->vv4.vc = s->vres;
		s->vv4.check = kvb_aclvc4_check(&s->vv4);
		bpf_map_update_elem(&kvb_aclvc4, &s->vk4, &s->vv4, BPF_ANY);
	} else {
		__builtin_memcpy(&s->vv.key, &s->vk, sizeof(s->vv.key));
		s->vv.vc = s->vres;
		s->vv.check = kvb_aclvc6_check(&s->vv);
		bpf_map_update_elem(&kvb_aclvc, &s->vk, &s->vv, BPF_ANY);
	}
	return 0;
}

/*
 * What set says of the fields in the scratch, by direction dir: the
 * action (enum kvb_acl_action), and into *ctr, *log the rule's counter
 * slot and whether it logs (0 for the default). Fields another new
 * connection had under the same set are answered by the verdict cache
 * (kvb_aclvc4, kvb_aclvc); others are classified, and the answer kept
 * there.
 */
static __always_inline __u32 acl_decide(struct acl_scratch *s,
					const struct kvb_acl_port *ap,
					__u32 dir, __u32 *ctr, __u32 *log,
					__u32 *is_default)
{
	__u32 nrules = dir == KVB_ACL_OUT ? ap->nrules[1] : ap->nrules[0];
	__u32 dims = dir == KVB_ACL_OUT ? ap->dims[1] : ap->dims[0];
	__u8 def = dir == KVB_ACL_OUT ? ap->def[1] : ap->def[0];
	struct kvb_aclvc v = { 0 };
	struct kvb_acl_bit *rb;
	int bit;

	*ctr = 0;
	*log = 0;
	*is_default = 0;

	acl_vc_key(s, ap->set, dir, dims);
	if (acl_vc_fetch()) {
		v = s->vres;
	} else {
		bit = acl_classify(ap->set, dir, nrules, dims);
		if (bit != ACL_NONE) {
			s->bk.set = ap->set;
			s->bk.bit = (__u16)bit;
			s->bk.dir = (__u8)dir;
			s->bk.pad = 0;
			rb = bpf_map_lookup_elem(&kvb_aclbit, &s->bk);
			if (rb) {
				v.rule = 1;
				v.action = rb->action;
				v.log = rb->flags & KVB_ACLR_LOG;
				v.ctr = rb->ctr;
			}
		}
		/* the set's answer, whatever the port's default (two
		 * networks' ports may share a set) */
		s->vres = v;
		acl_vc_store();
	}
	if (v.rule) {
		*ctr = v.ctr;
		*log = v.log;
		return v.action;
	}
	*is_default = 1;
	return def == KVB_ACL_ALLOW ? KVB_ACL_ALLOW :
	       def == KVB_ACL_DROP ? KVB_ACL_DROP : KVB_ACL_REJECT;
}

/*
 * Addresses as the key code reads them: two 64-bit words, from the
 * scratch's 8-aligned copies (acl_scratch: saddr, daddr, c). Through a
 * byte pointer the compiler knows no alignment and reads a byte at a time
 * (BPF has no unaligned loads): a hundred instructions and a dozen
 * spills per key.
 */
#define ACL_W(a) ((const __u64 *)__builtin_assume_aligned((a), 8))

/* Is end (a, ap) before end (b, bp) in an entry's order (addresses
 * as two words, then ports)? Any fixed order does: both directions of a
 * connection must find the same entry. */
static __always_inline int acl_end_first(const __u64 *a, __u16 ap,
					 const __u64 *b, __u16 bp)
{
	if (a[0] != b[0])
		return a[0] < b[0];
	if (a[1] != b[1])
		return a[1] < b[1];
	return ap <= bp;
}

/* Address a (two words) into a key's address d, which is 4-aligned: the
 * same bytes in the same order (little endian). */
static __always_inline void acl_key_addr(__u8 *d, const __u64 *a)
{
	__u32 *w = (__u32 *)__builtin_assume_aligned(d, 4);

	w[0] = (__u32)a[0];
	w[1] = (__u32)(a[0] >> 32);
	w[2] = (__u32)a[1];
	w[3] = (__u32)(a[1] >> 32);
}

/*
 * The connection key in the scratch (s->ck) of the ends g (the guest's:
 * address, port in host order) and r, of ICMP query kind (0: none), in
 * the network and family of the scratch, and the side of g (s->gside).
 */
static __always_inline void acl_key_ends(struct acl_scratch *s, __u8 proto,
					 __u8 kind, const __u64 *gaddr,
					 __u16 gp, const __u64 *raddr, __u16 rp)
{
	struct kvb_aclct_key *k = &s->ck;

	k->net_id = s->net_id;
	k->family = s->family;
	k->proto = proto;
	k->kind = kind;
	if (acl_end_first(gaddr, gp, raddr, rp)) {
		s->gside = 0;
		k->port[0] = bpf_htons(gp);
		k->port[1] = bpf_htons(rp);
		acl_key_addr(k->addr[0], gaddr);
		acl_key_addr(k->addr[1], raddr);
	} else {
		s->gside = 1;
		k->port[0] = bpf_htons(rp);
		k->port[1] = bpf_htons(gp);
		acl_key_addr(k->addr[0], raddr);
		acl_key_addr(k->addr[1], gaddr);
	}
}

/* The connection key of the packet in the scratch, judged in dir. */
static __always_inline void acl_ct_key(struct acl_scratch *s, __u32 dir)
{
	__u16 gp = dir == KVB_ACL_OUT ? s->sport : s->dport;
	__u16 rp = dir == KVB_ACL_OUT ? s->dport : s->sport;

	if (s->query)
		gp = rp = s->id;
	if (dir == KVB_ACL_OUT)
		acl_key_ends(s, s->proto, s->query, ACL_W(s->saddr), gp,
			     ACL_W(s->daddr), rp);
	else
		acl_key_ends(s, s->proto, s->query, ACL_W(s->daddr), gp,
			     ACL_W(s->saddr), rp);
}

/*
 * Does the ICMP query in the scratch, judged in dir, belong to a
 * connection side first opened in direction origin: its request the same
 * way, its reply the other way? Anything but a query does. A request
 * the other way (the remote a guest pinged pinging back with the same
 * identifier) or a reply the same way is judged by the rules.
 */
static __always_inline int acl_icmp_fits(const struct acl_scratch *s,
					 __u8 origin, __u32 dir)
{
	if (!s->query)
		return 1;
	return s->qreply ? origin != dir : origin == dir;
}

/*
 * An ICMP error about a connection of this port passes: its quote is a
 * packet of the connection the other way (sent by the guest for an error
 * towards it, received by it for one from it), whose entry has this
 * port's judgment on the guest's side, and it goes to that packet's
 * sender. 1 if it is one. A global function: its stack is not
 * acl_judge's.
 */
__noinline int acl_related(struct __sk_buff *skb, __u32 ifindex, __u32 dir)
{
	struct acl_scratch *s = acl_scratch();
	struct kvb_aclct *e;
	__u32 q = s->l4off + 8, l4;
	/* the quote's addresses: in c, which a new connection fills later */
	__u8 *qs, *qd;
	__u8 ih[40], p[8];
	__u16 a, b;
	__u8 proto, kind = 0, rep;

	if (!s)
		return 0;
	qs = s->c.saddr;
	qd = s->c.daddr;

	if (s->family == 4) {
		if (bpf_skb_load_bytes(skb, q, ih, 20))
			return 0;
		proto = ih[9];
		l4 = q + (ih[0] & 0xf) * 4;
		__builtin_memset(qs, 0, 16);
		__builtin_memset(qd, 0, 16);
		__builtin_memcpy(qs, ih + 12, 4);
		__builtin_memcpy(qd, ih + 16, 4);
	} else {
		if (bpf_skb_load_bytes(skb, q, ih, 40))
			return 0;
		proto = ih[6];
		l4 = q + 40;
		__builtin_memcpy(qs, ih + 8, 16);
		__builtin_memcpy(qd, ih + 24, 16);
		/*
		 * the quote's extension headers, to its protocol and ports:
		 * a too-big about the first fragment of a guest's large UDP
		 * datagram (DNS) quotes a fragment header. A later
		 * fragment's quote has no ports: no connection's.
		 */
		for (int i = 0; i < KVB_IP6_MAX_EXT; i++) {
			if (proto != IPPROTO_HOPOPTS &&
			    proto != IPPROTO_ROUTING &&
			    proto != IPPROTO_DSTOPTS &&
			    proto != IPPROTO_FRAGMENT)
				break;
			if (bpf_skb_load_bytes(skb, l4, p, 4))
				return 0;
			if (proto == IPPROTO_FRAGMENT &&
			    ((p[2] << 8 | p[3]) & 0xfff8))
				return 0;
			l4 += proto == IPPROTO_FRAGMENT ? 8 :
			      ((__u32)p[1] + 1) * 8;
			proto = p[0];
		}
	}
	/*
	 * An error goes back to the quoted packet's sender, as conntrack
	 * relates it (and NAT: nat_icmp_error_pre): else a guest could
	 * send anything to any address behind the quote of a connection
	 * it has, and a remote could reach it the same way.
	 */
	if (!ip6_equal(s->daddr, qs))
		return 0;
	if (bpf_skb_load_bytes(skb, l4, p, 8))
		return 0;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		a = (__u16)(p[0] << 8 | p[1]);	/* the quote's source port */
		b = (__u16)(p[2] << 8 | p[3]);
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		/* a query's: no other ICMP is a connection */
		kind = icmp_query(s->family, p[0], &rep);
		if (!kind)
			return 0;
		a = b = (__u16)(p[4] << 8 | p[5]);
	} else {
		a = b = 0;
	}
	/* the quote was sent by the guest (dir in) or to it (out) */
	if (dir == KVB_ACL_IN)
		acl_key_ends(s, proto, kind, ACL_W(qs), a, ACL_W(qd), b);
	else
		acl_key_ends(s, proto, kind, ACL_W(qd), b, ACL_W(qs), a);
	e = aclct_lookup(s, &s->ck);
	if (!e)
		return 0;
	/* a connection the rules refuse now has no related errors */
	return e->side[s->gside & 1].ifindex == ifindex &&
	       !e->side[s->gside & 1].refused;
}

/* The fields rules judge, from this packet (a connection it opens). */
static __always_inline void acl_packet_fields(struct acl_scratch *s)
{
	__builtin_memcpy(s->c.saddr, s->saddr, 16);
	__builtin_memcpy(s->c.daddr, s->daddr, 16);
	s->c.family = s->family;
	s->c.proto = s->proto;
	s->c.sport = s->is_icmp ? s->type : s->sport;
	s->c.dport = s->is_icmp ? s->code : s->dport;
}

/* The fields of the first packet of side sd of the connection in s->ck. */
static __always_inline void acl_first_fields(struct acl_scratch *s,
					     const struct kvb_aclct_side *sd)
{
	const struct kvb_aclct_key *k = &s->ck;
	__u32 g = s->gside & 1, r = g ^ 1;
	int out = sd->origin == KVB_ACL_OUT;

	s->c.family = k->family;
	s->c.proto = k->proto;
	__builtin_memcpy(s->c.saddr, out ? k->addr[g] : k->addr[r], 16);
	__builtin_memcpy(s->c.daddr, out ? k->addr[r] : k->addr[g], 16);
	if (k->proto == IPPROTO_ICMP || k->proto == IPPROTO_ICMPV6) {
		s->c.sport = sd->otype;
		s->c.dport = sd->ocode;
	} else {
		s->c.sport = bpf_ntohs(out ? k->port[g] : k->port[r]);
		s->c.dport = bpf_ntohs(out ? k->port[r] : k->port[g]);
	}
}

/*
 * The other end's judgment (side other of the entry just looked up), for
 * acl_to_guest: its set first, as a writer of a side writes its ifindex
 * last.
 */
static __always_inline void acl_peer_take(struct acl_scratch *s,
					  const struct kvb_aclct_side *other)
{
	/* a side its rules refuse now is judged by its port (acl_judge
	 * refuses it there) */
	if (*(volatile const __u8 *)&other->refused)
		return;
	s->peer_set = *(volatile const __u32 *)&other->set;
	asm volatile("" ::: "memory");
	s->peer = other->ifindex;
	s->peer_ctr = other->ctr;
	s->pc = 1;
}

/*
 * Side src into side sd of an entry, its ifindex last: a reader of a
 * shared entry checks it first.
 */
static __always_inline void acl_side_write(struct kvb_aclct_side *sd,
					   const struct kvb_aclct_side *src)
{
	sd->ctr = src->ctr;
	sd->origin = src->origin;
	sd->otype = src->otype;
	sd->ocode = src->ocode;
	sd->refused = src->refused;	/* a side written anew: 0 */
	sd->set = src->set;
	sd->slot = src->slot;
	asm volatile("" ::: "memory");
	sd->ifindex = src->ifindex;
}

/*
 * This port's judgment (counter ctr, first direction dir, the scratch's
 * packet and set) into side sd of an entry.
 */
static __always_inline void acl_side_put(struct acl_scratch *s,
					 struct kvb_aclct_side *sd,
					 __u32 ifindex, __u32 ctr, __u32 dir)
{
	struct kvb_aclct_side v = {
		.ifindex = ifindex, .set = s->ap.set, .ctr = ctr,
		.origin = (__u8)dir, .otype = s->type, .ocode = s->code,
		.slot = (__u16)s->slot,
	};

	acl_side_write(sd, &v);
}

#define ACL_PASS KVB_CONTINUE

/*
 * How long an idle connection of proto in state is remembered: NAT's
 * defaults (TCP 7440 s established, 120 s opening, or closing after a FIN
 * or RST; UDP 180 s; ICMP 30 s), but any exchange but TCP's only
 * KVB_CT_UNREPLIED_S until its first answer (conntrack's UDP 30 s), UDP's
 * until it is a stream (KVB_CT_ANSWERED: a DNS query and its answer), and
 * ICMPv6 as ICMP: a port's share of the table is not held for minutes by
 * one-packet exchanges.
 */
static __always_inline __u64 acl_timeout_ns(__u8 proto, __u8 state)
{
	__u32 t = kvb_ct_timeout_s(NULL, proto, state);

	if (proto == IPPROTO_ICMPV6)
		t = KVB_CT_ICMP_S;
	return (__u64)t * 1000000000ULL;
}

/* Is connection e of proto idle past its timeout at now? */
static __always_inline int acl_ct_idle(const struct kvb_aclct *e, __u8 proto,
				       __u64 now)
{
	__u64 last = e->last_ns;

	return kvb_after(now, last) &&
	       now - last > acl_timeout_ns(proto, e->state);
}

/*
 * A count a connection side holds: its port's slot and who opened the
 * connection (enum kvb_acl_dir) in one word, 0: none.
 */
#define ACL_HOLD(slot, dir) ((slot) | ((__u32)(dir) & 1) << 16)

/* The count side sd holds, 0: none (not judged there). */
static __always_inline __u32 acl_side_hold(const struct kvb_aclct_side *sd)
{
	return sd->ifindex ? ACL_HOLD(sd->slot, sd->origin) : 0;
}

/*
 * A port's count of the connection sides that hold its judgment
 * (kvb_aclctn, at the port's slot; a side keeps the slot), by who opened
 * the connection: its guest (out) or the other end (in), each against
 * the port's share on its own, so that a flood of connections into a
 * guest never takes the room of its own. A new side takes one of
 * direction dir: 0, 1 when the port held more than half its share of
 * that direction (the new connection is a candidate for early eviction:
 * acl_ct_note), or -1 when it holds its share already (a burst on
 * several CPUs may pass it by a few); a side that goes gives its one
 * back (acl_ct_give, with its hold).
 */
static __always_inline int acl_ct_take(__u32 slot, __u32 dir, __u32 cap)
{
	struct kvb_aclctn *c;
	__u64 *n, v;

	c = slot ? bpf_map_lookup_elem(&kvb_aclctn, &slot) : NULL;
	if (!c)
		return -1;
	if (!cap)
		cap = KVB_ACL_CT_PORT;
	/* a branch, not an index: the verifier need not bound dir */
	n = dir == KVB_ACL_OUT ? &c->n[KVB_ACL_OUT] : &c->n[KVB_ACL_IN];
	v = *n;
	if (v >= cap)
		return -1;
	__sync_fetch_and_add(n, 1);
	return v >= cap / 2;
}

static __always_inline void acl_ct_give(__u32 hold)
{
	__u32 slot = hold & 0xffff;
	struct kvb_aclctn *c;
	__u64 *n;

	if (!slot)
		return;
	c = bpf_map_lookup_elem(&kvb_aclctn, &slot);
	if (!c)
		return;
	n = hold & ACL_HOLD(0, KVB_ACL_OUT) ? &c->n[KVB_ACL_OUT] :
					    &c->n[KVB_ACL_IN];
	if (*n)
		__sync_fetch_and_add(n, -1);
}

/*
 * A side (counted) into the same side of a live entry, which another
 * judgment inserted first (a flood's copy judged on another port, or
 * another CPU): it takes the place of another port's side there (whose
 * count goes back); where the entry has this port's already, the new
 * side's count goes back instead.
 */
static __always_inline void acl_side_merge(struct kvb_aclct_side *dst,
					   const struct kvb_aclct_side *src)
{
	__u32 old = acl_side_hold(dst);

	if (!src->ifindex)
		return;
	if (dst->ifindex == src->ifindex) {
		acl_ct_give(acl_side_hold(src));
		return;
	}
	acl_side_write(dst, src);
	acl_ct_give(old);
}

/*
 * Delete the connection in s->ck, whose sides hold counts a and b
 * (acl_side_hold, read before: a deleted entry's memory may be reused at
 * once), and give them back; only the CPU whose delete succeeds counts
 * down.
 */
static __always_inline void acl_ct_delete(struct acl_scratch *s, __u32 a,
					  __u32 b)
{
	if (aclct_delete(s, &s->ck))
		return;
	acl_ct_give(a);
	acl_ct_give(b);
}

/*
 * The new connection in s->ck, made on the port at s->slot in direction
 * dir beyond half its share (of cap): a candidate for early eviction, at
 * a random place of the port's region of kvb_aclev, or (evicted) at the
 * place of the connection acl_ct_evict took for it (s->evk).
 */
static __always_inline void acl_ct_note(struct acl_scratch *s, __u32 dir,
					__u32 cap, int evicted)
{
	struct kvb_aclct_key *k;

	if (!evicted)
		s->evk = evict_place(s->slot * 2 + dir,
				     evict_region(cap ? cap : KVB_ACL_CT_PORT));
	k = bpf_map_lookup_elem(&kvb_aclev, &s->evk);
	if (k)
		__builtin_memcpy(k, &s->ck, sizeof(*k));
}

/* Is side sd port ifindex's (at slot), opened in direction dir? */
static __always_inline int acl_side_is(const struct kvb_aclct_side *sd,
				       __u32 ifindex, __u32 slot, __u32 dir)
{
	return sd->ifindex == ifindex && sd->slot == slot &&
	       sd->origin == dir;
}

/*
 * One try of acl_ct_evict at a random place of the region of m places
 * of port ifindex (at s->slot) and direction dir: 1 when a connection
 * went.
 */
static __always_inline int acl_ct_evict_try(struct acl_scratch *s,
					    __u32 ifindex, __u32 dir, __u32 m)
{
	struct kvb_aclct_key *k;
	struct kvb_aclct *e;
	__u32 a, b;

	s->evk = evict_place(s->slot * 2 + dir, m);
	k = bpf_map_lookup_elem(&kvb_aclev, &s->evk);
	if (!k)
		return 0;
	__builtin_memcpy(&s->ek, k, sizeof(s->ek));
	e = aclct_lookup(s, &s->ek);
	if (!e || e->state == KVB_CT_ESTABLISHED)
		return 0;
	if (!acl_side_is(&e->side[0], ifindex, s->slot, dir) &&
	    !acl_side_is(&e->side[1], ifindex, s->slot, dir))
		return 0;
	a = acl_side_hold(&e->side[0]);
	b = acl_side_hold(&e->side[1]);
	if (aclct_delete(s, &s->ek))
		return 0;	/* another CPU took it first */
	acl_ct_give(a);
	acl_ct_give(b);
	evict_count(s->slot, &s->evs);
	return 1;
}

/*
 * Room for a new connection of port ifindex (at s->slot) in direction
 * dir, whose share (of cap) is full: evict one of its connections of
 * that direction that is not established, as conntrack's early drop
 * does (kvb_maps.h: KVB_EVICT_POOL). 0 when one went (its sides' counts
 * given back, counted as ct-evicted; s->evk its place in the pool),
 * -1 when the tries found none. An
 * established connection is never evicted. A global function, verified
 * once, whose frame holds nothing (the tries are unrolled, the keys in
 * the scratch).
 */
__noinline int acl_ct_evict(__u32 ifindex, __u32 dir, __u32 cap)
{
	struct acl_scratch *s = acl_scratch();
	__u32 m = evict_region(cap ? cap : KVB_ACL_CT_PORT);

	if (!s || dir > 1)
		return -1;
#pragma unroll
	for (int i = 0; i < KVB_EVICT_TRIES; i++)
		if (acl_ct_evict_try(s, ifindex, dir, m))
			return 0;
	return -1;
}

/*
 * The fragment record key of the packet in the scratch, on port ifindex:
 * its datagram's, as the receiver reassembles it. IPv4's protocol is in
 * every fragment; IPv6's is not: the first fragment's is the upper layer
 * found past the headers after its Fragment header (a Destination
 * Options header may come first), a later one's only its Fragment
 * header's Next Header, which the receiver ignores (RFC 8200 4.5: the
 * first fragment's headers make the datagram's). So IPv6 keys on the
 * addresses and the fragment id alone, as the kernel's reassembly.
 */
static __always_inline void acl_frag_key(struct acl_scratch *s,
					 __u32 ifindex)
{
	struct kvb_aclfrag_key *k = &s->fk;

	k->ifindex = ifindex;
	k->id = s->fid;
	k->family = s->family;
	k->proto = s->family == 4 ? s->proto : 0;
	k->pad[0] = k->pad[1] = 0;
	__builtin_memcpy(k->saddr, s->saddr, 16);
	__builtin_memcpy(k->daddr, s->daddr, 16);
}

/* A first fragment that port ifindex's ACLs let through vouches for the
 * rest of its datagram there. */
static __always_inline void acl_frag_note(struct acl_scratch *s,
					  __u32 ifindex)
{
	acl_frag_key(s, ifindex);
	__builtin_memcpy(&s->fv.key, &s->fk, sizeof(s->fv.key));
	s->fv.until_ns = kvb_now() + KVB_ACL_FRAG_S * 1000000000ULL;
	s->fv.ctr = s->cctr;
	s->fv.pad2 = 0;
	s->fv.check = kvb_aclfrag_check(&s->fv);
	bpf_map_update_elem(&kvb_aclfrag, &s->fk, &s->fv, BPF_ANY);
}

_Static_assert(sizeof(struct kvb_aclfrag_key) == 44,
	       "acl_frag_check compares the fragment note's key as words");

/*
 * A later fragment on port ifindex: ACL_PASS if its first fragment
 * passed there (recently), else the drop. The note is copied first and
 * taken only when its check word holds and it carries the key looked up
 * (kvb_aclfrag: an LRU entry can be another datagram's by the time it
 * is read).
 */
static __always_inline int acl_frag_check(struct acl_scratch *s,
					  __u32 ifindex, __u32 len)
{
	struct kvb_aclfrag *v;

	acl_frag_key(s, ifindex);
	v = bpf_map_lookup_elem(&kvb_aclfrag, &s->fk);
	if (v) {
		__builtin_memcpy(&s->fv, v, sizeof(s->fv));
		if (s->fv.check == kvb_aclfrag_check(&s->fv) &&
		    kvb_words_equal(&s->fv.key, &s->fk, 11) &&
		    kvb_now() < s->fv.until_ns) {
			/* on the rule its first fragment was counted on
			 * (t123: `acl show` counted first fragments only) */
			acl_count(s->fv.ctr, len);
			return ACL_PASS;
		}
	}
	return DROP(KVB_DROP_ACL_FRAG);
}

/*
 * A packet of connection e, still new, judged on a port (answer: it goes
 * the other way than the connection's first packet). Any answer
 * establishes a connection but one TCP opened by a SYN: that one is
 * established by its opener's ACK (no SYN, no RST) of exactly the
 * answer's SYN-ACK (sequence + 1), as conntrack assures a connection.
 * Until then it keeps TCP's opening timeout (120 s): a flood of SYNs
 * from forged sources at a guest's open port, each answered by the
 * guest's SYN-ACK, no longer holds the port's inbound share for the
 * 7440 s of an established connection, and a blind ACK cannot guess the
 * guest's sequence number.
 */
static __always_inline void acl_ct_opening(struct __sk_buff *skb,
					   struct acl_scratch *s,
					   struct kvb_aclct *e, int answer)
{
	/* the TCP header's sequence, ack, offset and flags, in the
	 * scratch (the stack is all but used up; a reject, the header's
	 * other user, never follows a known connection's packet) */
	__u8 *h = s->tcph;
	__u32 seq, ack;

	if (s->proto != IPPROTO_TCP || !(e->tcp & KVB_ACLCT_SYN)) {
		/*
		 * UDP and any other protocol: answered, a stream (never
		 * evicted) once still alive 2 s on. An ICMP query is never
		 * established, as conntrack never assures one: its answer
		 * keeps it evictable, else one remote pinging with every
		 * identifier (each answered) would fill the port's share
		 * with connections that no new one could evict.
		 */
		if (answer && !s->is_icmp)
			e->state = KVB_CT_ANSWERED;
		return;
	}
	if (bpf_skb_load_bytes(skb, s->l4off + 4, h, 10))
		return;
	seq = (__u32)h[0] << 24 | (__u32)h[1] << 16 | (__u32)h[2] << 8 | h[3];
	ack = (__u32)h[4] << 24 | (__u32)h[5] << 16 | (__u32)h[6] << 8 | h[7];
	if (answer) {
		if ((h[9] & 0x16) == 0x12) {	/* SYN-ACK, no RST */
			e->ans_end = seq + 1;
			e->tcp |= KVB_ACLCT_ANSWERED;
		}
		return;
	}
	if ((h[9] & 0x16) == 0x10 && (e->tcp & KVB_ACLCT_ANSWERED) &&
	    ack == e->ans_end)
		e->state = KVB_CT_ESTABLISHED;
}

/*
 * The TCP packet in the scratch, of the connection whose entry is e, sent
 * by the end of key side x: a RST or FIN judged against the other end's
 * window (td_judge_end), then the sender's record updated (td_track; not
 * by a RST that does not close). Returns the judgment: TD_CLOSE (also for
 * any other segment, and when the header cannot be read), TD_KEEP or
 * TD_OUT. A global function: acl_judge has no stack for the header (the
 * view lives in conntrack's scratch, which no caller holds across it).
 */
__noinline int acl_tcp_track(struct __sk_buff *skb, struct kvb_aclct *e,
			     __u32 x)
{
	struct acl_scratch *s = acl_scratch();
	__u32 zero = 0;
	struct ct_scratch *t = bpf_map_lookup_elem(&kvb_ct_tmp, &zero);
	struct kvb_td *st, *rt;
	int v = TD_CLOSE;

	if (!s || !t || !e)
		return TD_CLOSE;
	if (tcp_view_read(skb, t, s->l4off, s->l4len, &zero))
		return TD_CLOSE;
	t = bpf_map_lookup_elem(&kvb_ct_tmp, &zero);
	if (!t)
		return TD_CLOSE;
	st = &e->td[x & 1];
	rt = &e->td[(x & 1) ^ 1];
	if (t->tv.flags & (TCP_RST_ | TCP_FIN_)) {
		v = td_judge_end(&t->tv, st, rt);
		if (v != TD_CLOSE && (t->tv.flags & TCP_RST_))
			return v;
	}
	if (v != TD_OUT)
		td_track(&t->tv, st, rt);
	return v;
}

/*
 * A TCP packet of connection e judged in direction dir: its windows
 * tracked once a packet (the first port to judge it; a second judgment
 * of the same packet reads the verdict in s->tclose).
 */
static __always_inline void acl_track(struct __sk_buff *skb,
				      struct acl_scratch *s,
				      struct kvb_aclct *e, __u32 dir)
{
	if (s->proto != IPPROTO_TCP || s->tdone)
		return;
	s->tdone = 1;
	/* the sender's side: the guest's end going out, the other in */
	s->tclose = (__u8)acl_tcp_track(skb, e, (s->gside & 1) ^
					(dir == KVB_ACL_IN));
}

#define ACL_DO_REJECT 0x7ffc	/* not a verdict: acl_reject answers */

/* acl_dst_owner: whose the guest's end's address is */
#define ACL_ADDR_NONE 0		/* no port of the network holds it */
#define ACL_ADDR_OWN 1		/* the judging port */
#define ACL_ADDR_OTHER 2	/* another port of the network */

/*
 * Whose is the guest's end of a packet towards a guest (its destination
 * address, which a LAN host writes as it likes): a live binding (`ip`, a
 * lease, SAVI) of the judging port ifindex, of another port of the
 * network (the owner entry, kvb_maps.h: kvb_addr; a lease that ended
 * leaves it until the sweep), or of none. A global function: acl_judge's
 * frame has no room for it (its key is in the scratch).
 */
__noinline int acl_dst_owner(__u32 ifindex)
{
	struct acl_scratch *s = acl_scratch();
	struct kvb_addr_key *k;
	struct kvb_addr *o;
	__u32 owner;

	if (!s)
		return ACL_ADDR_NONE;
	k = &s->ak;
	__builtin_memset(k, 0, sizeof(*k));
	k->family = s->family;
	k->net_id = (__u8)s->net_id;
	__builtin_memcpy(k->addr, s->daddr, 16);
	o = bpf_map_lookup_elem(&kvb_addr, k);
	if (!o)
		return ACL_ADDR_NONE;
	owner = o->owner;
	if (!(o->flags & KVB_ADDR_F_STATIC)) {
		k->ifindex = owner;
		k->net_id = 0;
		o = bpf_map_lookup_elem(&kvb_addr, k);
		if (!o || !bind_live(o, kvb_now()))
			return ACL_ADDR_NONE;
	}
	return owner == ifindex ? ACL_ADDR_OWN : ACL_ADDR_OTHER;
}

/*
 * Judge the packet in the scratch on port ifindex (ACLs s->ap, its
 * kvb_aclp entry as the caller read it) in direction dir: ACL_PASS,
 * ACL_DO_REJECT (s->ce.side[0].ctr says the reason: 1 default), or a drop. A
 * global function, checked once per stage.
 */
__noinline int acl_judge(struct __sk_buff *skb, __u32 ifindex, __u32 dir)
{
	struct acl_scratch *s = acl_scratch();
	struct kvb_aclct_side *sd = NULL, *other = NULL;
	struct kvb_aclct *ne;
	struct kvb_acl_port *ap;
	struct kvb_aclct *e;
	__u32 action, ctr, log, dflt, g;
	__u64 now = kvb_now();
	int taken;
	long err;

	if (!s)
		return ACL_PASS;
	ap = &s->ap;
	if (!ap->set || dir > 1)
		return ACL_PASS;
	acl_ct_key(s, dir);
	g = s->gside & 1;
	/* ICMP but a query's request opens no connection (a reply of a
	 * known one passes by it) */
	s->nostate = s->is_icmp && (!s->query || s->qreply);
	/* the receiver of a sender's new connection: not inserted yet;
	 * ICMP that is no query: never a connection */
	e = (s->defer && s->pending) || (s->is_icmp && !s->query) ? NULL :
	    aclct_lookup(s, &s->ck);
	if (e && acl_ct_idle(e, s->proto, now)) {
		acl_ct_delete(s, acl_side_hold(&e->side[0]),
			      acl_side_hold(&e->side[1]));
		e = NULL;
	}
	if (e) {
		sd = &e->side[g];
		other = &e->side[g ^ 1];
		if (sd->ifindex != ifindex) {
			sd = NULL;	/* not judged on this port yet */
		} else if (sd->set != ap->set) {
			/* rules changed since: judged again by its first
			 * packet, forgotten if they forbid it */
			acl_first_fields(s, sd);
			action = acl_decide(s, ap, sd->origin, &ctr, &log,
					    &dflt);
			if (action == KVB_ACL_ALLOW) {
				sd->ctr = ctr;
				sd->refused = 0;
			} else {
				/* cut both ways while the entry lives (its
				 * timeout as it was, its packets keep it):
				 * its packets, this one too, are refused (a
				 * packet of it judged as new would open it
				 * again the other way: a server's next
				 * segment, by an egress rule) */
				sd->refused = KVB_ACLCT_REFUSED |
					(action == KVB_ACL_REJECT ?
					 KVB_ACLCT_REFUSED_REJECT : 0) |
					(dflt ? KVB_ACLCT_REFUSED_DEFAULT : 0);
			}
			/* refused before the set a receiver compares
			 * (acl_peer_take reads them the other way) */
			asm volatile("" ::: "memory");
			sd->set = ap->set;
		}
		if (sd && sd->refused) {
			__u8 r = sd->refused;

			/* a SYN opening the tuple again is a new connection
			 * only if the rules let it open as one (its
			 * fields); else it is refused with the rest, the
			 * side kept (forgotten, a retransmission of the
			 * old connection would open it again) */
			if (s->tsyn) {
				acl_packet_fields(s);
				if (acl_decide(s, ap, dir, &ctr, &log,
					       &dflt) == KVB_ACL_ALLOW) {
					if (!other->ifindex) {
						acl_ct_delete(s,
							acl_side_hold(sd), 0);
						e = NULL;
					} else {
						__u32 held = acl_side_hold(sd);

						sd->refused = 0;
						sd->ifindex = 0;
						acl_ct_give(held);
					}
					sd = NULL;
					goto judge;
				}
			}
			kvb_ct_clock(&e->state, &e->last_ns, now);
			if (r & KVB_ACLCT_REFUSED_REJECT) {
				s->ce.side[0].ctr =
					!!(r & KVB_ACLCT_REFUSED_DEFAULT);
				return ACL_DO_REJECT;
			}
			return DROP(r & KVB_ACLCT_REFUSED_DEFAULT ?
				    KVB_DROP_ACL_DEFAULT : KVB_DROP_ACL_DROP);
		}
		/* an ICMP query the connection's way only: a request as it
		 * was opened, a reply the other way; anything else is
		 * judged as new and keeps no state */
		if (sd && !acl_icmp_fits(s, sd->origin, dir)) {
			sd = NULL;
			s->nostate = 1;
		}
	}
	if (e && sd) {
		/* a SYN on a closed one: the ends opened it again (a
		 * source port reused), its windows tracked anew */
		if (s->tsyn && e->state == KVB_CT_CLOSING) {
			e->state = KVB_CT_NEW;
			e->tcp = KVB_ACLCT_SYN;
			__builtin_memset(e->td, 0, sizeof(e->td));
		}
		if (e->state == KVB_CT_NEW)
			acl_ct_opening(skb, s, e, sd->origin != dir);
		acl_track(skb, s, e, dir);
		/* a FIN or RST outside its receiver's window: a blind
		 * forgery, refused, nothing changed (t50: it closed any
		 * connection); one in the window but not exact (a RST not
		 * at the receiver's next byte) goes to the receiver, whose
		 * stack judges it (RFC 5961: a challenge ACK), the state
		 * kept */
		if (s->tend && s->tclose == TD_OUT)
			return DROP(KVB_DROP_ACL_TCP_WINDOW);
		/* a FIN or RST either way: closing, kept 120 s idle */
		if (s->tend && s->tclose == TD_CLOSE &&
		    e->state != KVB_CT_CLOSING)
			e->state = KVB_CT_CLOSING;
		/* a shared write at most once a second; an answered UDP
		 * exchange becomes a stream as NAT's flows do */
		kvb_ct_clock(&e->state, &e->last_ns, now);
		/* the receiver's judgment, if the packet is its side's way */
		if (acl_icmp_fits(s, other->origin, dir ^ 1))
			acl_peer_take(s, other);
		acl_count_s(s, sd->ctr, skb->len);
		return ACL_PASS;
	}
judge:
	/* a new connection (on this port): this packet's fields */
	acl_packet_fields(s);
	action = acl_decide(s, ap, dir, &ctr, &log, &dflt);
	acl_count_s(s, ctr, skb->len);
	if (action == KVB_ACL_ALLOW) {
		if (log)
			acl_log(skb, ifindex);
		/* ICMP but a query's request (an error of no known
		 * connection, a reply of no known request, a redirect...)
		 * is let through by a rule, never a connection of its own */
		if (s->nostate)
			return ACL_PASS;
		/*
		 * Towards this guest, a packet whose destination is not
		 * its address (a LAN host can write any, spoofcheck
		 * vouches only for what guests send): let through by this
		 * port's rule, but it takes no side, so that no one can
		 * take a connection from the guest that holds it, or
		 * plant one for an address before its guest opens it
		 * (whose replies would then be judged as new). Another
		 * port's address takes no side; this port's own takes
		 * its side over from another port; one no port holds (no
		 * binding known) takes a side no other port holds.
		 */
		if (dir == KVB_ACL_IN) {
			taken = acl_dst_owner(ifindex);
			if (taken == ACL_ADDR_OTHER ||
			    (taken == ACL_ADDR_NONE && e &&
			     e->side[g].ifindex &&
			     e->side[g].ifindex != ifindex))
				return ACL_PASS;
		}
		/* every new side counts against its port's connections;
		 * a full share first evicts one still opening */
		taken = acl_ct_take(s->slot, dir, ap->ct_max);
		if (taken < 0) {
			if (acl_ct_evict(ifindex, dir, ap->ct_max))
				return DROP(KVB_DROP_ACL_CT_FULL);
			taken = acl_ct_take(s->slot, dir, ap->ct_max);
			if (taken < 0)
				return DROP(KVB_DROP_ACL_CT_FULL);
			taken = 2;	/* into the evicted one's place */
			/* the evicted one may have been e */
			if (e) {
				e = aclct_lookup(s, &s->ck);
				other = e ? &e->side[g ^ 1] : NULL;
			}
		}
		if (taken)
			acl_ct_note(s, dir, ap->ct_max, taken == 2);
		if (e && other) {
			/* the other end's entry: this port's side joins it
			 * (the side it replaces gives its count back) */
			__u32 old = acl_side_hold(&e->side[g]);

			acl_side_put(s, &e->side[g], ifindex, ctr, dir);
			acl_ct_give(old);
			acl_track(skb, s, e, dir);
			/* the other side's judgment only for a packet its way
			 * (an echo request back the way a refused ping came
			 * is judged by the receiver's rules) */
			if (acl_icmp_fits(s, other->origin, dir ^ 1))
				acl_peer_take(s, other);
			return ACL_PASS;
		}
		if (s->defer && s->pending) {
			/* the sender's pending entry gets this side too */
			acl_side_put(s, &s->pe.side[g], ifindex, ctr, dir);
			return ACL_PASS;
		}
		/* the switch stage's sender: pending, inserted at its end */
		ne = s->defer && dir == KVB_ACL_OUT ? &s->pe : &s->ce;
		__builtin_memset(ne, 0, sizeof(*ne));
		ne->state = s->tend ? KVB_CT_CLOSING : KVB_CT_NEW;
		ne->tcp = s->tsyn ? KVB_ACLCT_SYN : 0;
		ne->last_ns = now;
		acl_side_put(s, &ne->side[g], ifindex, ctr, dir);
		/* its first packet's sequence, window and scale (a SYN's) */
		acl_track(skb, s, ne, dir);
		if (ne == &s->pe) {
			__builtin_memcpy(&s->pk, &s->ck, sizeof(s->pk));
			s->pending = 1;
			return ACL_PASS;
		}
		/* never over another CPU's entry of the same connection: its
		 * sides' counts would be lost (this packet passes, the
		 * next one joins it) */
		err = aclct_update(s, &s->ck, ne, BPF_NOEXIST);
		if (err == -EEXIST_) {
			e = aclct_lookup(s, &s->ck);
			if (e)
				acl_side_merge(&e->side[g], &ne->side[g]);
			else
				acl_ct_give(ACL_HOLD(s->slot, dir));
		} else if (err) {
			acl_ct_give(ACL_HOLD(s->slot, dir));
			return DROP(KVB_DROP_ACL_CT_FULL);
		}
		return ACL_PASS;
	}
	if (action == KVB_ACL_DROP)
		return DROP(dflt ? KVB_DROP_ACL_DEFAULT : KVB_DROP_ACL_DROP);
	s->ce.side[0].ctr = dflt;
	return ACL_DO_REJECT;
}

/* IPv4 header checksum and TCP checksum of the RST in b (IPv4 or IPv6). */
static __always_inline void acl_rst_csum(struct route_scratch *t, __u8 family)
{
	__u8 *b = t->pkt;
	__u16 c;

	if (family == 4) {
		/* pseudo header: addresses, zero, protocol, TCP length */
		__builtin_memset(t->ph, 0, sizeof(t->ph));
		__builtin_memcpy(t->ph, b + 12, 8);
		t->ph[9] = IPPROTO_TCP;
		t->ph[11] = 20;
		c = csum_fold_(bpf_csum_diff(NULL, 0, (__be32 *)b, 20, 0));
		__builtin_memcpy(b + 10, &c, 2);
		c = csum_fold_(bpf_csum_diff(NULL, 0, (__be32 *)(b + 20), 20,
					     bpf_csum_diff(NULL, 0,
							   (__be32 *)t->ph,
							   12, 0)));
		__builtin_memcpy(b + 36, &c, 2);
	} else {
		__builtin_memset(t->ph, 0, sizeof(t->ph));
		__builtin_memcpy(t->ph, b + 8, 32);
		t->ph[35] = 20;
		t->ph[39] = IPPROTO_TCP;
		c = csum_fold_(bpf_csum_diff(NULL, 0, (__be32 *)(b + 40), 20,
					     bpf_csum_diff(NULL, 0,
							   (__be32 *)t->ph,
							   40, 0)));
		__builtin_memcpy(b + 56, &c, 2);
	}
}

/*
 * The TCP RST that answers the segment in the scratch, from its
 * destination, into t->pkt; its length, or 0 for a segment that gets no
 * RST (an RST itself). RFC 793: to a segment with ACK, seq = its ack;
 * else seq 0, ACK of everything it occupied.
 */
static __always_inline __u32 acl_rst(struct acl_scratch *s,
				     struct route_scratch *t)
{
	__u8 *b = t->pkt, *th = s->tcph, *r;
	__u32 seq, ack, doff = (th[12] >> 4) * 4, dlen, h;
	__u8 fl = th[13];

	if (fl & 0x04)
		return 0;
	h = s->family == 4 ? 20 : 40;
	__builtin_memset(b, 0, 64);
	r = b + (s->family == 4 ? 20 : 40);
	if (s->family == 4) {
		b[0] = 0x45;
		b[3] = 40;
		b[8] = 64;
		b[9] = IPPROTO_TCP;
		__builtin_memcpy(b + 12, s->daddr, 4);
		__builtin_memcpy(b + 16, s->saddr, 4);
	} else {
		b[0] = 0x60;
		b[5] = 20;
		b[6] = IPPROTO_TCP;
		b[7] = 64;
		__builtin_memcpy(b + 8, s->daddr, 16);
		__builtin_memcpy(b + 24, s->saddr, 16);
	}
	r[0] = th[2];	/* ports swapped */
	r[1] = th[3];
	r[2] = th[0];
	r[3] = th[1];
	r[12] = 5 << 4;
	if (fl & 0x10) {		/* ACK: seq = its ack */
		__builtin_memcpy(r + 4, th + 8, 4);
		r[13] = 0x04;
	} else {
		__builtin_memcpy(&seq, th + 4, 4);
		dlen = s->l4len > doff ? s->l4len - doff : 0;
		ack = bpf_ntohl(seq) + dlen + ((fl & 0x02) ? 1 : 0) +
		      ((fl & 0x01) ? 1 : 0);
		ack = bpf_htonl(ack);
		__builtin_memcpy(r + 8, &ack, 4);
		r[13] = 0x14;	/* RST, ACK */
	}
	acl_rst_csum(t, s->family);
	return h + 20;
}

/* ICMP(v6) administratively prohibited about the packet, from its
 * destination, into t->pkt; its length, or 0. */
static __always_inline __u32 acl_prohibited(struct __sk_buff *skb,
					    struct acl_scratch *s,
					    struct route_scratch *t)
{
	__u8 mac[ETH_ALEN], *b = t->pkt;
	__be16 tot;
	__u32 q;
	__u16 c;

	__builtin_memset(b, 0, sizeof(t->pkt));
	if (s->family == 4) {
		q = quote_load(skb, b, 28, mac);
		if (!q)
			return 0;
		__builtin_memcpy(b + 12, s->daddr, 4);
		__builtin_memcpy(b + 16, s->saddr, 4);
		b[0] = 0x45;
		b[1] = 0xc0;
		tot = bpf_htons((__u16)(28 + q));
		__builtin_memcpy(b + 2, &tot, 2);
		b[8] = 64;
		b[9] = IPPROTO_ICMP;
		c = csum_fold_(bpf_csum_diff(NULL, 0, (__be32 *)b, 20, 0));
		__builtin_memcpy(b + 10, &c, 2);
		b[20] = ICMP_DEST_UNREACH_;
		b[21] = 13;	/* communication administratively prohibited */
		c = csum_fold_(bpf_csum_diff(NULL, 0, (__be32 *)(b + 20),
					     ((8 + q + 3) & ~3U) & 0xfc, 0));
		__builtin_memcpy(b + 22, &c, 2);
		return 28 + q;
	}
	q = quote_load(skb, b, 48, mac);
	if (!q)
		return 0;
	__builtin_memcpy(b + 8, s->daddr, 16);
	__builtin_memcpy(b + 24, s->saddr, 16);
	ip6_hdr(b, 8 + q, 64);
	b[40] = 1;	/* destination unreachable */
	b[41] = 1;	/* administratively prohibited */
	c = icmp6_csum(t, 8 + q);
	__builtin_memcpy(b + 42, &c, 2);
	return 48 + q;
}

/* Is the packet's destination a group or broadcast (no answer to it)? */
static __always_inline int acl_to_group(struct acl_scratch *s)
{
	if (s->eth[0] & 1)
		return 1;
	if (s->family == 4)
		return s->daddr[0] >= 224 ||
		       (s->daddr[0] == 255 && s->daddr[3] == 255);
	return s->daddr[0] == 0xff;
}

#define ACL_NO_ANSWER 0x7ffb	/* acl_reject: drop it, no answer */

/*
 * May port ifindex answer a reject of a packet towards its guest (dir
 * KVB_ACL_IN)? The answer goes into the port's ingress as the guest's
 * own frame, from the refused packet's destination MAC and address. On a
 * spoofcheck port only when those are the port's MAC and one of its live
 * addresses, as a real host answers only what is addressed to it:
 * otherwise any guest could make the port speak as it liked, and the
 * identity checks would take the answer for the guest's (pin the MAC of
 * a flooded frame to a port without one, so that its own guest is
 * spoof-mac from then on; bind an address SAVI had not seen, up to the
 * port's cap). A port without spoofcheck may send as anything anyway.
 */
static __always_inline int acl_answers_as_guest(const struct acl_scratch *s,
						__u32 ifindex)
{
	struct kvb_port *port = bpf_map_lookup_elem(&kvb_port, &ifindex);

	if (!port)
		return 0;
	if (!(port->flags & KVB_PORT_F_SPOOFCHECK) ||
	    port->role != KVB_PORT_GUEST)
		return 1;
	if (mac_is_zero(port->mac) || !mac_equal(s->eth, port->mac))
		return 0;
	/* an address the port may send from, as the guard says, less its
	 * look at other ports' addresses (guard.h: ip4_own_by_port; the
	 * lookup would not fit this call chain's stack), without claiming
	 * one (no SAVI binding is made for an answer) */
	if (s->family == 4) {
		struct kvb_net *net = net_lookup(port->net_id);
		__be32 a;

		__builtin_memcpy(&a, s->daddr, 4);
		return net && ip4_own_by_port(port, net, ifindex, a) != 0;
	}
	return ip6_is_mac_ll(s->daddr, port->mac) ||
	       bind_of(ifindex, 6, s->daddr, 16) != NULL;
}

/*
 * reject: answer the packet in the scratch (judged in direction dir on
 * port ifindex) in its place and send the answer on: TC_ACT_REDIRECT (or
 * TC_ACT_SHOT when the rewrite failed half way), ACL_NO_ANSWER when
 * there is no answer to give (a group destination, an ICMP error, an
 * RST) or the port's budget is spent. A global function.
 */
__noinline int acl_reject(struct __sk_buff *skb, __u32 ifindex, __u32 dir)
{
	struct acl_scratch *s = acl_scratch();
	struct route_scratch *t = route_scratch();
	__u32 len = 0;

	if (!s || !t)
		return ACL_NO_ANSWER;
	if (bpf_skb_load_bytes(skb, 0, s->eth, 12) || acl_to_group(s))
		return ACL_NO_ANSWER;
	if (dir == KVB_ACL_IN && !acl_answers_as_guest(s, ifindex))
		return ACL_NO_ANSWER;
	if (s->is_icmp && icmp_is_err(s->family, s->type))
		return ACL_NO_ANSWER;	/* never an error about an error */
	if (!icmp_budget(ACL_BUDGET_KEY(ifindex)))
		return ACL_NO_ANSWER;
	if (s->proto == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, s->l4off, s->tcph, 20))
			return ACL_NO_ANSWER;
		len = acl_rst(s, t);
	} else {
		len = acl_prohibited(skb, s, t);
	}
	if (len < 40 || len > KVB_REPLY_MAX)
		return ACL_NO_ANSWER;
	if (bpf_skb_change_tail(skb, ETH_HLEN + len, 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, t->pkt, len, 0) ||
	    bpf_skb_store_bytes(skb, ETH_OFF_DST, s->eth + 6, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_OFF_SRC, s->eth, ETH_ALEN, 0))
		return TC_ACT_SHOT;
	skb->mark = KVB_MARK_ACL;
	/* towards the guest: out of its tap; from it: into its tap */
	return redirected(bpf_redirect(ifindex, dir == KVB_ACL_OUT ?
					       0 : BPF_F_INGRESS));
}

/*
 * A reject's outcome, counted under reason whether answered or not. An
 * unanswered one is the caller's drop to report; an answered one is
 * reported here to a monitor with the head the refused frame had
 * (acl_verdict took it into the scratch before the answer replaced it).
 */
static __always_inline int acl_rejected(__u32 ifindex, int ret, __u32 reason)
{
	struct acl_scratch *s;
	struct kvb_event *ev;

	if (ret == ACL_NO_ANSWER)
		return DROP(reason);
	count_drop(stats_of(ifindex), DROP(reason));
	s = acl_scratch();
	if (!s || !s->rlen || !monitor_on())
		return ret;
	ev = drop_event(ifindex, s->rlen, 0, DROP(reason));
	if (!ev)
		return ret;
	__builtin_memcpy(ev->data, s->rhead, KVB_EVENT_BYTES);
	ev->caplen = s->rcap;
	bpf_ringbuf_submit(ev, 0);
	return ret;
}

/*
 * A guest's packet of a nat network to or from its gateway's address that
 * belongs to a live hairpin (nat.h: guest A to the network's WAN address
 * on a forwarded port reaches the forward's guest B from the gateway's
 * address): its ACLs judge the real client, A's address and port, in
 * place of the gateway's (as the WAN's client is judged through a
 * forward, and as nftables' forward hook sees a hairpin, between DNAT and
 * SNAT), both ways, so that its connection is remembered by A's tuple
 * and a rule naming the gateway (the host) does not let every guest in
 * through a forward. The scratch's remote end (dir: the guest's judgment
 * direction) is rewritten for the judgment only (acl_hairpin_restore
 * puts the packet's back for a fragment's note and a reject's answer).
 * The hairpin's reply entry in kvb_ct is keyed by B's end and the
 * gateway's, and names A as addr2:port2; one whose two entries are both
 * past their timeouts (not swept yet) is no hairpin any more. A later fragment has no ports: it follows
 * its first fragment's judgment. A global function: the ACL stages'
 * stack is not its own.
 */
__noinline int acl_hairpin_peer(__u32 net_id, __u32 dir)
{
	struct acl_scratch *s = acl_scratch();
	struct kvb_ct_key k = { .dir = 1 };
	__u64 *ga, *ra;
	struct kvb_net *net;
	struct kvb_ct *ct;
	__u16 gp, rp;

	if (!s || s->family != 4 || s->fragk == KVB_FRAG_LATER ||
	    (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP) || dir > 1)
		return 0;
	ga = dir == KVB_ACL_OUT ? (__u64 *)s->saddr : (__u64 *)s->daddr;
	ra = dir == KVB_ACL_OUT ? (__u64 *)s->daddr : (__u64 *)s->saddr;
	gp = dir == KVB_ACL_OUT ? s->sport : s->dport;
	rp = dir == KVB_ACL_OUT ? s->dport : s->sport;
	net = bpf_map_lookup_elem(&kvb_net, &net_id);
	if (!net || net->type != KVB_NET_NAT || (__u32)ra[0] != net->gw_ip)
		return 0;
	k.saddr = (__u32)ga[0];
	k.daddr = net->gw_ip;
	k.sport = bpf_htons(gp);
	k.dport = bpf_htons(rp);
	k.proto = s->proto;
	ct = bpf_map_lookup_elem(&kvb_ct, &k);
	if (!ct || !ct->hairpin || ct->net_id != net_id)
		return 0;
	/* live as NAT has it (ct_live): either entry within its timeout
	 * (a hairpin B never answers keeps only A's entry fresh) */
	if (!kvb_ct_entry_live(net->ct_timeout, s->proto, ct, kvb_now())) {
		struct kvb_ct_key ok;
		struct kvb_ct *o;

		kvb_ct_orig_key(&k, ct, &ok);
		o = bpf_map_lookup_elem(&kvb_ct, &ok);
		if (!o || !kvb_ct_entry_live(net->ct_timeout, s->proto, o,
					     kvb_now()))
			return 0;
	}
	s->hp_raddr = (__u32)ra[0];
	s->hp_rport = rp;
	s->hp = (__u8)(dir + 1);
	ra[0] = ct->addr2;
	ra[1] = 0;
	if (dir == KVB_ACL_OUT)
		s->dport = bpf_ntohs(ct->port2);
	else
		s->sport = bpf_ntohs(ct->port2);
	return 1;
}

/* The packet's own remote end again, after acl_hairpin_peer's judgment. */
static __always_inline void acl_hairpin_restore(struct acl_scratch *s)
{
	__u64 *ra;

	if (!s->hp)
		return;
	ra = s->hp == KVB_ACL_OUT + 1 ? (__u64 *)s->daddr : (__u64 *)s->saddr;
	ra[0] = s->hp_raddr;
	ra[1] = 0;
	if (s->hp == KVB_ACL_OUT + 1)
		s->dport = s->hp_rport;
	else
		s->sport = s->hp_rport;
	s->hp = 0;
}

/*
 * Judge the packet in the scratch on port ifindex (its slot in s->slot)
 * in direction dir: ACL_PASS, or the verdict (a drop, or a reject's
 * answer sent).
 */
static __always_inline int acl_verdict(struct __sk_buff *skb, __u32 ifindex,
				       __u32 dir, struct acl_scratch *s,
				       const struct kvb_acl_port *ap)
{
	int ret;

	s->ap = *ap;	/* one lookup of the port's entry per judgment */
	if (!ap->set)
		return ACL_PASS;
	/* a later fragment: as its first fragment was judged here */
	if (s->fragk == KVB_FRAG_LATER)
		return acl_frag_check(s, ifindex, skb->len);
	s->cctr = 0;
	/* DHCP the link needs, by direction (the scratch's fields serve
	 * the sender's judgment and the receiver's) */
	if (s->dhcp && acl_dhcp_exempt(ifindex, dir))
		ret = ACL_PASS;
	/* an error about a known connection (not from acl_judge: the
	 * stack of the two together is too deep for the switch stage) */
	else if (s->is_icmp && icmp_is_err(s->family, s->type) &&
		 acl_related(skb, ifindex, dir))
		ret = ACL_PASS;
	else
		ret = acl_judge(skb, ifindex, dir);
	/* a hairpin's: judged as its real client, noted and answered as
	 * the packet it is */
	acl_hairpin_restore(s);
	if (ret == ACL_PASS && s->fragk == KVB_FRAG_FIRST)
		acl_frag_note(s, ifindex);
	if (ret != ACL_DO_REJECT)
		return ret;
	/* the refused frame's head, for a monitor (acl_rejected) */
	s->rlen = 0;
	if (monitor_on()) {
		s->rcap = drop_head(skb, 0, skb->len, s->rhead);
		s->rlen = skb->len;
	}
	if (s->ce.side[0].ctr)	/* the default's */
		return acl_rejected(ifindex, acl_reject(skb, ifindex, dir),
				    KVB_DROP_ACL_DEFAULT);
	return acl_rejected(ifindex, acl_reject(skb, ifindex, dir),
			    KVB_DROP_ACL_REJECT);
}

/*
 * A frame that is neither IP nor ARP on a port with ACLs (ap), in
 * direction dir: no rule can name it, so the direction's default decides
 * it as any frame no rule matches; a reject has nothing to answer it
 * with and drops. ACL_PASS or a drop (acl-default).
 */
static __always_inline int acl_nonip(const struct kvb_acl_port *ap, __u32 dir)
{
	__u8 def = dir == KVB_ACL_OUT ? ap->def[1] : ap->def[0];

	return def == KVB_ACL_ALLOW ? ACL_PASS : DROP(KVB_DROP_ACL_DEFAULT);
}

/*
 * tc's ACL step for the admitted frame f on port p (of network net_id),
 * in direction dir: ACL_PASS, or the verdict (a drop, or a reject's
 * answer sent).
 */
static __always_inline int acl_port(struct __sk_buff *skb,
				    const struct kvb_port *p, __u32 dir,
				    const struct kvb_frame *f, __u32 net_id)
{
	struct acl_scratch *s = acl_scratch();
	struct kvb_acl_port *ap = acl_port_of(p);
	int ret;

	if (!s || !ap || !ap->set)
		return ACL_PASS;
	s->net_id = net_id;
	s->pc = 0;
	s->defer = 0;	/* pending stays: a flood's copy, judged here */
	ret = acl_tuple(skb, s, acl_meta(f), f->l4_len, acl_ports(f));
	if (ret == ACL_SKIP)
		return ACL_PASS;
	if (ret == ACL_NONIP)
		return acl_nonip(ap, dir);
	if (IS_DROP(ret))
		return ret;
	acl_hairpin_peer(net_id, dir);
	s->slot = p->slot;
	return acl_verdict(skb, p->ifindex, dir, s, ap);
}

/* The packet's fields into the scratch once: 0, ACL_SKIP, ACL_NONIP, or
 * a drop. */
static __always_inline int acl_fill(struct __sk_buff *skb,
				    struct acl_scratch *s)
{
	int ret;

	if (s->valid == ACL_V_TUPLE)
		return 0;
	if (s->valid == ACL_V_SKIP)
		return ACL_SKIP;
	ret = acl_tuple(skb, s, skb->cb[ACL_CB_META], skb->cb[ACL_CB_L4LEN],
			skb->cb[ACL_CB_PORTS]);
	if (ret == 0)
		s->valid = ACL_V_TUPLE;
	else if (ret == ACL_SKIP)
		s->valid = ACL_V_SKIP;
	return ret;
}

/*
 * A bridge's guest's frame on port ifindex (at slot), in the switch
 * stage, from the entry's description of it (acl_cb_put): its port's
 * egress rules (if any) judge it. ACL_PASS or the verdict (a drop, or a
 * reject's answer sent). A reject's answer coming back into the port (KVB_MARK_ACL) is
 * the guest's own and goes on unjudged. Every such frame passes here: it
 * starts the packet's scratch for acl_to_guest.
 */
__noinline int acl_from_guest(struct __sk_buff *skb, __u32 ifindex,
			      __u32 slot, __u32 net_id)
{
	struct acl_scratch *s = acl_scratch();
	struct kvb_acl_port *ap;
	int ret;

	if (!s)
		return ACL_PASS;
	s->valid = ACL_V_NONE;
	s->pc = 0;
	s->defer = 1;
	s->pending = 0;
	s->sif = ifindex;
	s->slot = slot;
	s->net_id = net_id;
	if (skb->cb[ACL_CB_MAGIC] != ACL_MAGIC ||
	    skb->cb[ACL_CB_IFINDEX] != ifindex) {
		s->valid = ACL_V_OFF;
		return ACL_PASS;
	}
	if (skb->mark == KVB_MARK_ACL) {
		skb->mark = 0;
		return ACL_PASS;
	}
	ap = acl_port_at(slot, ifindex);
	if (!ap || !ap->set)
		return ACL_PASS;
	ret = acl_fill(skb, s);
	if (ret == ACL_SKIP)
		return ACL_PASS;
	if (ret == ACL_NONIP)
		return acl_nonip(ap, KVB_ACL_OUT);
	if (IS_DROP(ret))
		return ret;
	return acl_verdict(skb, ifindex, KVB_ACL_OUT, s, ap);
}

/*
 * A guest's frame that the switch stage sends to the local port out (at
 * slot; after acl_from_guest, in the same run): out's ingress rules
 * judge it here, where its sender's connection was just looked up (the entry's
 * other side is out's judgment, when out judged it). ACL_PASS (deliver
 * it marked judged), ACL_UNJUDGED (out is no guest port with ACLs, or the
 * entry did not describe the frame: deliver it as any other, its tc
 * egress judges), or the verdict: TC_ACT_SHOT, the drop counted on out,
 * or a reject's answer sent.
 */
__noinline int acl_to_guest(struct __sk_buff *skb, __u32 out, __u32 slot)
{
	struct acl_scratch *s = acl_scratch();
	struct kvb_acl_port *ap;
	__u32 set;
	int ret;

	ap = acl_port_at(slot, out);
	if (!s || !ap || s->valid == ACL_V_OFF || s->sif != skb->ifindex)
		return ACL_UNJUDGED;
	set = ap->set;
	if (!set)
		return ACL_PASS;
	s->slot = slot;	/* its judgment's, from here (the sender's is done) */
	ret = acl_fill(skb, s);
	if (ret == ACL_SKIP)
		return ACL_PASS;
	if (ret == ACL_NONIP)
		ret = acl_nonip(ap, KVB_ACL_IN);
	else if (!ret) {
		/* the sender's entry holds out's judgment under its set */
		if (s->pc && s->peer == out && s->peer_set == set) {
			acl_count_s(s, s->peer_ctr, skb->len);
			if (s->fragk == KVB_FRAG_FIRST)
				acl_frag_note(s, out);
			return ACL_PASS;
		}
		ret = acl_verdict(skb, out, KVB_ACL_IN, s, ap);
	}
	if (ret == ACL_PASS)
		return ACL_PASS;
	if (IS_DROP(ret)) {
		report_drop(skb, 0, out, skb->len, stats_of(out), ret);
		return TC_ACT_SHOT;
	}
	return ret;
}

/*
 * The end of the switch stage for a guest's frame whose verdict is ret:
 * the new connection its sender's rules let in (and its local
 * receiver's, if they judged it), inserted once, unless the fabric
 * dropped the frame (a drop reason). Returns ret, or the drop when the table is full (the sides'
 * counts given back).
 */
static __always_inline int acl_commit(struct __sk_buff *skb, int ret)
{
	struct acl_scratch *s = acl_scratch();
	struct kvb_aclct *e;
	long err;

	if (!s || !s->pending)
		return ret;
	s->pending = 0;
	/* (TC_ACT_SHOT is no drop here: a flood's original after its
	 * copies, or a local receiver's refusal, counted on it) */
	if (s->sif == skb->ifindex && !IS_DROP(ret)) {
		err = aclct_update(s, &s->pk, &s->pe, BPF_NOEXIST);
		if (!err)
			return ret;
		/* a flood's copy judged on another port inserted it */
		e = err == -EEXIST_ ? aclct_lookup(s, &s->pk) :
				      NULL;
		if (e) {
			acl_side_merge(&e->side[0], &s->pe.side[0]);
			acl_side_merge(&e->side[1], &s->pe.side[1]);
			return ret;
		}
	} else {
		err = 0;	/* not inserted, and no drop of its own */
	}
	acl_ct_give(acl_side_hold(&s->pe.side[0]));
	acl_ct_give(acl_side_hold(&s->pe.side[1]));
	return err && err != -EEXIST_ ? DROP(KVB_DROP_ACL_CT_FULL) : ret;
}

/*
 * The expiry sweep's share (nat.h's ct_sweep, every second or rarer): an
 * idle connection goes after its timeout, its sides' counts back, so a
 * port's count is of live connections. The walk is bounded by the
 * table, and ct_sweep spaces its runs by their length.
 */
struct acl_sweep_ctx {
	__u64 now;
	__u64 seen;
	__u64 freed;
};

/* One entry of either table (map, key k): 0, or 1 when it went. */
static __always_inline int acl_sweep_entry(void *map, void *k, __u8 proto,
					   struct kvb_aclct *e,
					   struct acl_sweep_ctx *c)
{
	__u32 a = acl_side_hold(&e->side[0]), b = acl_side_hold(&e->side[1]);

	c->seen++;
	if (!acl_ct_idle(e, proto, c->now))
		return 0;
	if (bpf_map_delete_elem(map, k))
		return 0;	/* the datapath took it first */
	acl_ct_give(a);
	acl_ct_give(b);
	return 1;
}

/* no stop on a count in either walk: a counter the walk compares is a
 * distinct state to the verifier on every round, and it never converges */
static long acl_sweep_one(void *map, struct kvb_aclct_key *k,
			  struct kvb_aclct *e, struct acl_sweep_ctx *c)
{
	c->freed += acl_sweep_entry(map, k, k->proto, e, c);
	return 0;
}

static long acl_sweep_one4(void *map, struct kvb_aclct4_key *k,
			   struct kvb_aclct *e, struct acl_sweep_ctx *c)
{
	c->freed += acl_sweep_entry(map, k, k->proto, e, c);
	return 0;
}

/* acl_sweep's test: a port's count that is not zero stops the walk. */
static long acl_counted_one(void *map, __u32 *slot, struct kvb_aclctn *n,
			    __u64 *any)
{
	(void)map;
	(void)slot;
	if (n->n[0] | n->n[1]) {
		*any = 1;
		return 1;
	}
	return 0;
}

/*
 * Both tables are walked while their last walk found entries or some
 * port counts a connection (kvb_aclctn): every connection a judgment
 * remembers holds its sides' counts, and a walk of two empty tables (two
 * million buckets) took a quarter of the sweep's time on a host whose
 * guests have no ACLs. A full run (full: ct_sweep's every
 * KVB_CT_SWEEP_FULL-th) walks anyway, for an entry no count holds (two
 * CPUs clearing its two sides at once, say). A packet that finds an idle
 * one treats it as gone anyway (acl_ct_idle). Entries visited.
 */
static __always_inline __u64 acl_sweep(__u64 now, struct kvb_ctsweep *sw,
				       int full)
{
	struct acl_sweep_ctx c = { .now = now };
	__u64 any = sw->acl_seen || full;

	if (!any)
		bpf_for_each_map_elem(&kvb_aclctn, acl_counted_one, &any, 0);
	if (!any)
		return 0;
	bpf_for_each_map_elem(&kvb_aclct4, acl_sweep_one4, &c, 0);
	bpf_for_each_map_elem(&kvb_aclct, acl_sweep_one, &c, 0);
	sw->acl_seen = c.seen;
	return c.seen;
}

#endif /* KVB_ACL_H */
