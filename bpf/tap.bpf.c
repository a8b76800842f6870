// SPDX-License-Identifier: GPL-2.0
/*
 * tc entry points: the authoritative datapath (DESIGN.md, contract 1).
 * kvb_tc_ingress runs on every attached device; kvb_tc_egress on uplinks,
 * to switch the host's own frames to guests, and on the host interfaces
 * of nat networks, to keep what the host forwards from outside away
 * from their guests.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "lib/ctx.h"
#include "lib/maps.h"
#include "lib/admit.h"
#include "lib/stats.h"
#include "lib/acl.h"
#include "lib/bridge.h"
#include "lib/guard.h"
#include "lib/icmp6.h"
#include "lib/dhcp.h"
#include "lib/monitor.h"
#include "lib/nat.h"
#include "lib/route.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * The verdict for what a program of tc ingress decided: a drop is counted
 * (and reported to a monitor) under its reason.
 */
static __always_inline int ingress_verdict(struct __sk_buff *skb,
					   __u32 ifindex, __u8 role,
					   struct kvb_stats *st, int ret)
{
	if (IS_DROP(ret)) {
		/* a stage looks its counters up only to count a drop */
		if (!st)
			st = stats_of(ifindex);
		report_drop(skb, 0, ifindex, skb->len, st, ret);
		/*
		 * The uplink is the host's own NIC: what the fabric refuses to
		 * switch to guests (VLAN-tagged, jumbo, odd) is still the
		 * host's traffic, so it goes on to the host's stack.
		 */
		return role == KVB_PORT_UPLINK ? TC_ACT_OK : TC_ACT_SHOT;
	}
	return ret;
}

/* The stage that forwards a frame from port. */
static __always_inline __u32 stage_of(const struct kvb_port *port,
				      const struct kvb_net *net)
{
	if (port->role == KVB_PORT_GUEST && net->type == KVB_NET_NAT)
		return KVB_STAGE_NAT;
	if (port->role == KVB_PORT_GUEST && net->type == KVB_NET_ROUTED)
		return KVB_STAGE_ROUTED;
	return KVB_STAGE_SWITCH;
}

/*
 * A guest's IP packet longer than its nat or routed network's mtu, to
 * the gateway's MAC (to be routed, or the host's own) or to another
 * guest's (a unicast MAC: across an overlay, whose MTU is the underlay's
 * less VXLAN's, or on this host), from a guest whose link is longer than
 * the network (a static configuration, a DHCP client that takes no
 * option 26, an overlay network's guests without DHCP, NetworkManager's
 * manual IPv6 that reads no router advertisement, no virtio host_mtu):
 * the forwarding stage answers it with the network's MTU from its gateway
 * (stage_enter: IPv4's fragmentation needed, nat_too_big, DF clear alike
 * as BPF cannot fragment; IPv6's packet too big, guest_too_big6), as a
 * router answers a packet too big for its next link and the kernel's
 * VXLAN device a bridged frame too big for its tunnel, counted too-big.
 * Before, it was dropped mtu-exceeded and the guest never learnt: its TCP
 * stalled for good (bb24: a routed overlay network's IPv4 guests at 1500).
 * The entry lets it through the guard first (the answer's stack is more
 * than the entry has left).
 */
static __always_inline int guest_too_big_here(const struct kvb_port *port,
					      const struct kvb_net *net,
					      const struct kvb_frame *f)
{
	return port->role == KVB_PORT_GUEST &&
	       (net->type == KVB_NET_NAT || net->type == KVB_NET_ROUTED) &&
	       (f->proto == ETH_P_IP || f->proto == ETH_P_IPV6) &&
	       !mac_is_multicast(f->eth->h_dest);
}

/*
 * tc ingress is cut in programs that the verifier checks one by one (its
 * budget is per program): this entry, which admits the frame and enforces
 * the port's identity, and one stage per kind of forwarding that it
 * tail-calls (enum kvb_stage). A stage re-derives what it needs from the
 * packet and the maps (the entry does not change the packet): nothing is
 * handed over that a stage of another build could misread.
 */
/*
 * An IP frame for the host's own MAC on uplink port, when the port is
 * also the nat networks' way out (KVB_PORT_F_NAT_WAN): for the WAN stage
 * first (NAT's replies and forwards, routed-in IPv6), 1. From the LAN
 * (learn), its sender is learnt behind the uplink as the switch stage
 * would (a LAN host's MAC, which no guest may then pin); a bridge
 * guest's frame to the host comes back in marked and is not. A frame
 * whose VLAN tag the NIC took off is another device's (eth0.10), never
 * the WAN stage's here.
 */
static __always_inline int uplink_nat_wan(struct __sk_buff *skb,
					  const struct kvb_port *port,
					  int learn)
{
	struct hdr_cursor c = { .pos = (void *)(long)skb->data,
				.end = (void *)(long)skb->data_end };
	struct ethhdr *eth = CURSOR_TAKE(&c, struct ethhdr);
	struct kvb_net *net;

	if (port->role != KVB_PORT_UPLINK ||
	    !(port->flags & KVB_PORT_F_NAT_WAN) || skb->vlan_present || !eth ||
	    (eth->h_proto != bpf_htons(ETH_P_IP) &&
	     eth->h_proto != bpf_htons(ETH_P_IPV6)))
		return 0;
	net = net_lookup(port->net_id);
	if (!net || !mac_equal(eth->h_dest, net->uplink_mac) ||
	    mac_is_multicast(eth->h_source) || mac_is_zero(eth->h_source))
		return 0;
	if (learn)
		fdb_learn_src(net->id, mac_u64(eth->h_source), skb->ifindex,
			      mac_u64(net->uplink_mac));
	return 1;
}

SEC("tc")
int kvb_tc_ingress(struct __sk_buff *skb)
{
	struct kvb_stats *st;
	struct kvb_port *port;
	struct kvb_net *net;
	struct kvb_frame f;
	struct kvb_pkt p;
	__u32 ifindex = skb->ifindex;
	int ret;

	/* Our own copy re-entering the host stack through the uplink:
	 * a bridge guest's frame for the host, which may be a reply to a
	 * nat network's flow that left through this uplink */
	if (skb->mark == KVB_MARK_FABRIC) {
		skb->mark = 0;
		/*
		 * Its guest's tag (host_tci) must outlive this program: on
		 * TC_ACT_OK tc sets skb->tc_index from the class id, so the
		 * class id says the tag again.
		 */
		skb->tc_classid = skb->tc_index;
		port = bpf_map_lookup_elem(&kvb_port, &ifindex);
		if (port && uplink_nat_wan(skb, port, 0))
			bpf_tail_call(skb, &kvb_stages, KVB_STAGE_WAN);
		return TC_ACT_OK;
	}
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (!port)
		return TC_ACT_UNSPEC;	/* not (or no longer) ours */
	if (port->role == KVB_PORT_WAN) {
		bpf_tail_call(skb, &kvb_stages, KVB_STAGE_WAN);
		/* the host's NIC: without its stage, leave the host's traffic be */
		report_drop(skb, 0, ifindex, skb->len, stats_of_port(port),
			    DROP(KVB_DROP_NO_STAGE));
		return TC_ACT_UNSPEC;
	}
	/* a bridge's uplink that is also a nat network's way out: the
	 * host's IPv4 frames may be NAT's replies */
	if (uplink_nat_wan(skb, port, 1)) {
		bpf_tail_call(skb, &kvb_stages, KVB_STAGE_WAN);
		report_drop(skb, 0, ifindex, skb->len, stats_of_port(port),
			    DROP(KVB_DROP_NO_STAGE));
		return TC_ACT_OK;
	}
	st = stats_of_port(port);
	if (port->role == KVB_PORT_OVERLAY) {
		/* other hosts' frames: the overlay stage counts them */
		bpf_tail_call(skb, &kvb_stages, KVB_STAGE_OVERLAY);
		ret = DROP(KVB_DROP_NO_STAGE);
		goto out;
	}
	count_rx(st, skb->len);

	net = net_lookup(port->net_id);
	if (!net) {
		ret = DROP(KVB_DROP_NO_NET);
		goto out;
	}
	if (port->role == KVB_PORT_GUEST) {
		ret = check_guest_gso(skb->gso_size);
		if (IS_DROP(ret))
			goto out;
	}
	/* a VLAN's frame: a trunk's (vlan.h) goes to the switch as it is,
	 * nothing inside its tag parsed; any other port's is refused */
	if (frame_tagged(skb)) {
		ret = vlan_admit(skb, port, net);
		if (IS_DROP(ret))
			goto out;
		skb->cb[ACL_CB_MAGIC] = 0;	/* no ACLs: nothing to judge */
		bpf_tail_call(skb, &kvb_stages, KVB_STAGE_SWITCH);
		ret = DROP(KVB_DROP_NO_STAGE);
		goto out;
	}
	kvb_pkt_from_skb(&p, skb);
	ret = kvb_admit(&p, net->mtu, &f);
	/* too long for its network, to be routed: the stage tells the
	 * guest the network's MTU, once the guard passed it */
	if (ret == DROP(KVB_DROP_MTU) && guest_too_big_here(port, net, &f))
		ret = 0;
	if (IS_DROP(ret))
		goto out;
	/* what the switch stage's ACL judgments start from (acl.h) */
	if (port->role == KVB_PORT_GUEST)
		acl_cb_put(skb, &f, ifindex);
	/* spoofcheck without a MAC: the first frame's is it (fdb_pin),
	 * never the host's own (a bridge's uplink, a gateway), nor that of
	 * a reject's answer sent in for the guest (acl.h: KVB_MARK_ACL) */
	if (mac_is_zero(port->mac) && skb->mark != KVB_MARK_ACL &&
	    !mac_equal(f.eth->h_source, net->uplink_mac) &&
	    fdb_pin(net->id, mac_u64(f.eth->h_source), ifindex) < 0) {
		ret = DROP(KVB_DROP_MAC_TABLE_FULL);
		goto out;
	}
	/* a reject's answer sent in for the guest is from what acl.h
	 * (acl_answers_as_guest) found the port's own: not judged again,
	 * so that it neither keeps a SAVI binding alive nor counts a
	 * spoof drop on the port (another's packets decide its answers) */
	ret = skb->mark == KVB_MARK_ACL ? 0 :
	      kvb_guard(port, net, ifindex, &f);
	if (ret == GUARD_ARP_DEFEND) {
		ret = arp_defend(skb, net->id);
		goto out;
	}
	if (ret == GUARD_ND_DEFEND) {
		ret = nd_defend(skb, net->id, f.l4_off);
		goto out;
	}
	if (IS_DROP(ret))
		goto out;
	/* a bridge LAN's router advertisements teach SAVI its prefixes */
	if (port->role == KVB_PORT_UPLINK && net->type == KVB_NET_BRIDGE &&
	    f.l4_ok && f.l4_proto == IPPROTO_ICMPV6 &&
	    f.icmp_type == ND_ROUTER_ADVERT_)
		savi_learn_ra(skb, net->id, f.l4_off - f.hdr_len, f.l4_off,
			      f.l4_len);
	/*
	 * What follows the guard is verified once per path through it, so
	 * the entry ends here: DHCP snooping (a server's ACK binds, a
	 * guest's RELEASE or DECLINE unbinds) and learning the source are
	 * the stages' (stage_enter).
	 */
	/*
	 * A guest of a nat or routed network on a port with ACLs: its
	 * egress rules judge first, in a stage of their own (the switch
	 * stage judges a bridge's guests itself: acl_from_guest).
	 */
	if (port->role == KVB_PORT_GUEST &&
	    stage_of(port, net) != KVB_STAGE_SWITCH && acl_any()) {
		struct kvb_acl_port *ap = acl_port_of(port);

		if (ap && ap->set) {
			bpf_tail_call(skb, &kvb_stages, KVB_STAGE_ACL_OUT);
			ret = DROP(KVB_DROP_NO_STAGE);
			goto out;
		}
	}
	if (f.l4_ok && f.l4_proto == IPPROTO_UDP &&
	    dhcp_snooped(f.proto, f.sport, f.dport, port->role))
		bpf_tail_call(skb, &kvb_stages, KVB_STAGE_DHCP);
	else
		bpf_tail_call(skb, &kvb_stages, stage_of(port, net));
	ret = DROP(KVB_DROP_NO_STAGE);
out:
	return ingress_verdict(skb, ifindex, port->role, st, ret);
}

/* What a stage re-derives: the entry's lookups and the parsed frame. */
struct stage_ctx {
	struct kvb_port *port;
	struct kvb_net *net;
	struct kvb_frame f;	/* not in the switch stage */
	__u32 ifindex;
	__u32 l4off;
	__u8 dst[ETH_ALEN];	/* the destination before NAT rewrites it */
	__u8 role;
	/* the switch stage's guest frame: ACLs apply in this fabric
	 * (kvb_aclon, read once: the sender's and the receiver's
	 * judgments and the commit go together) */
	__u8 acl;
};

#define STAGE_GO 0x7ffe	/* not a verdict: the stage goes on */

/*
 * Set up a stage for a frame the entry passed on; STAGE_GO, else the
 * stage's result. A port or network that went away in between, or a frame
 * not for this stage, ends here as the entry would have ended it.
 */
static __always_inline int stage_enter(struct __sk_buff *skb,
				       struct stage_ctx *s, __u32 want)
{
	struct kvb_pkt p;
	struct ethhdr *eth;
	int ret;

	s->ifindex = skb->ifindex;
	s->role = KVB_PORT_GUEST;
	s->acl = 0;
	s->port = bpf_map_lookup_elem(&kvb_port, &s->ifindex);
	if (!s->port)
		return TC_ACT_OK;
	s->role = s->port->role;
	s->net = net_lookup(s->port->net_id);
	if (!s->net)
		return DROP(KVB_DROP_NO_NET);
	if (want == KVB_STAGE_NAT &&
	    (s->role != KVB_PORT_GUEST || s->net->type != KVB_NET_NAT))
		return DROP(KVB_DROP_NO_STAGE);
	if (want == KVB_STAGE_ROUTED &&
	    (s->role != KVB_PORT_GUEST || s->net->type != KVB_NET_ROUTED))
		return DROP(KVB_DROP_NO_STAGE);
	if (want == KVB_STAGE_ACL_OUT && s->role != KVB_PORT_GUEST)
		return DROP(KVB_DROP_NO_STAGE);
	/*
	 * A bridge's guest: its port's egress ACLs judge the frame first
	 * (acl.h; a reject rewrites the packet, so before it is read).
	 */
	if (want == KVB_STAGE_SWITCH && s->role == KVB_PORT_GUEST &&
	    (s->acl = acl_any())) {
		ret = acl_from_guest(skb, s->ifindex, s->port->slot,
				     s->net->id);
		if (ret != ACL_PASS)	/* a verdict, never STAGE_GO */
			return ret != STAGE_GO ? ret : TC_ACT_SHOT;
	}
	if (want == KVB_STAGE_SWITCH) {
		/*
		 * Switching reads the Ethernet header only, which the entry
		 * admitted (and made linear): the one thing this stage does
		 * not parse again, on the path every bridge frame takes.
		 */
		struct hdr_cursor c = { .pos = (void *)(long)skb->data,
					.end = (void *)(long)skb->data_end };

		eth = CURSOR_TAKE(&c, struct ethhdr);
		if (!eth)
			return DROP(KVB_DROP_RUNT);
	} else {
		kvb_pkt_from_skb(&p, skb);
		ret = kvb_admit(&p, s->net->mtu, &s->f);
		/* the forwarding stage answers it; the ACLs' goes on to
		 * it (its stack has no room for the answer), DHCP's drops
		 * it (no client sends such a message). The answer rewrote
		 * the packet: nothing of it is read on */
		if (want != KVB_STAGE_DHCP && ret == DROP(KVB_DROP_MTU) &&
		    guest_too_big_here(s->port, s->net, &s->f)) {
			if ((want == KVB_STAGE_NAT || want == KVB_STAGE_ROUTED) &&
			    s->f.proto == ETH_P_IPV6) {
				ret = guest_too_big6(skb, s->ifindex,
						     s->net->id);
				/* a verdict, never on to the stage */
				return ret && ret != STAGE_GO ?
					       ret : DROP(KVB_DROP_MTU);
			}
			if (want == KVB_STAGE_NAT || want == KVB_STAGE_ROUTED) {
				struct nat_scratch *t = nat_scratch();

				if (!t)
					return DROP(KVB_DROP_MTU);
				t->mtu = s->net->mtu;
				ret = nat_too_big(skb, s->ifindex, s->net->id);
				/* a verdict, never on to the stage */
				return ret && ret != STAGE_GO ?
					       ret : DROP(KVB_DROP_MTU);
			}
			ret = 0;
		}
		if (ret)
			return ret;
		s->l4off = s->f.l4_ok ? s->f.l4_off : 0;
		eth = s->f.eth;
	}
	__builtin_memcpy(s->dst, eth->h_dest, ETH_ALEN);
	/* the source is learnt after DHCP snooping, before forwarding */
	if (want != KVB_STAGE_DHCP && want != KVB_STAGE_ACL_OUT)
		fdb_learn_src(s->net->id, mac_u64(eth->h_source), s->ifindex,
			      mac_u64(s->port->mac));
	return STAGE_GO;
}

/*
 * DHCP that the guard let through (dhcp.h): a server's ACK (DHCPv6:
 * REPLY) binds the leased address to the client's port, a guest's
 * RELEASE or DECLINE ends its lease, a DHCPv6 request past its port's
 * lease budget is refused; then the frame goes on to its forwarding
 * stage, as any other.
 */
SEC("tc")
int kvb_tc_dhcp(struct __sk_buff *skb)
{
	struct stage_ctx s;
	int ret;

	ret = stage_enter(skb, &s, KVB_STAGE_DHCP);
	if (ret != STAGE_GO)
		goto out;
	if (s.f.l4_ok && s.f.l4_proto == IPPROTO_UDP &&
	    dhcp_snooped(s.f.proto, s.f.sport, s.f.dport, s.role)) {
		/* a guest's client message in fragments or a GSO
		 * super-frame: the later fragments' options, the later
		 * segments (each a message of its own to the server) would
		 * go unexamined; no client sends one so */
		if (s.role == KVB_PORT_GUEST &&
		    ((s.f.sport == 68 && s.f.dport == 67) ||
		     (s.f.sport == DHCP6_CLIENT_PORT &&
		      s.f.dport == DHCP6_SERVER_PORT)) &&
		    (s.f.fragk != KVB_FRAG_NONE || skb->gso_size)) {
			ret = DROP(KVB_DROP_DHCP_FRAGMENT);
			goto out;
		}
		if (s.f.proto == ETH_P_IP && s.f.sport == 67)
			dhcp_snoop_server(skb, s.net->id, s.l4off);
		else if (s.f.proto == ETH_P_IP)
			ret = dhcp_snoop_client(skb, s.net->id, s.ifindex,
						s.l4off);
		else if (s.f.sport == DHCP6_SERVER_PORT &&
			 s.f.dport == DHCP6_CLIENT_PORT)
			dhcp6_snoop_server(skb, s.net->id, s.l4off,
					   s.f.l4_len);
		else
			ret = dhcp6_snoop_client(skb, s.net->id, s.ifindex,
						 s.l4off, s.f.l4_len);
		if (IS_DROP(ret))
			goto out;	/* past the port's lease budget, or
					 * another port's address */
	}
	bpf_tail_call(skb, &kvb_stages, stage_of(s.port, s.net));
	ret = DROP(KVB_DROP_NO_STAGE);
out:
	return ingress_verdict(skb, s.ifindex, s.role, NULL, ret);
}

/*
 * A guest's frame of a nat or routed network on a port with ACLs (acl.h),
 * egress: judged, then on to the stage the entry would have called. A reject's answer coming back
 * into the port (KVB_MARK_ACL) is the guest's own and goes on unjudged.
 */
SEC("tc")
int kvb_tc_acl_out(struct __sk_buff *skb)
{
	struct stage_ctx s;
	int ret;

	ret = stage_enter(skb, &s, KVB_STAGE_ACL_OUT);
	if (ret != STAGE_GO)
		goto out;
	if (skb->mark == KVB_MARK_ACL) {
		skb->mark = 0;
	} else {
		ret = acl_port(skb, s.port, KVB_ACL_OUT, &s.f, s.net->id);
		if (ret != ACL_PASS)
			goto out;
	}
	if (s.f.l4_ok && s.f.l4_proto == IPPROTO_UDP &&
	    dhcp_snooped(s.f.proto, s.f.sport, s.f.dport, s.role))
		bpf_tail_call(skb, &kvb_stages, KVB_STAGE_DHCP);
	else
		bpf_tail_call(skb, &kvb_stages, stage_of(s.port, s.net));
	ret = DROP(KVB_DROP_NO_STAGE);
out:
	return ingress_verdict(skb, s.ifindex, s.role, NULL, ret);
}

/*
 * tc egress of a guest port with ACLs (kvb_tc_egress calls it): what the
 * fabric delivers to the guest, judged by its ingress rules.
 */
SEC("tc")
int kvb_tc_acl_in(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct kvb_port *port;
	struct kvb_frame f;
	struct kvb_pkt p;
	int ret;

	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (!port || port->role != KVB_PORT_GUEST)
		return TC_ACT_OK;
	kvb_pkt_from_skb(&p, skb);
	p.vlan_stripped = 0;
	ret = kvb_admit(&p, 0, &f);
	if (!IS_DROP(ret))
		ret = acl_port(skb, port, KVB_ACL_IN, &f, port->net_id);
	if (ret == ACL_PASS)
		return TC_ACT_OK;
	if (IS_DROP(ret)) {
		report_drop(skb, 0, ifindex, skb->len, stats_of(ifindex), ret);
		return TC_ACT_SHOT;
	}
	return ret;
}

/* A guest of a nat network: the gateway's answers, routing, then NAT. */
SEC("tc")
int kvb_tc_nat(struct __sk_buff *skb)
{
	struct stage_ctx s;
	int ret;

	ret = stage_enter(skb, &s, KVB_STAGE_NAT);
	if (ret != STAGE_GO)
		goto out;
	ret = route_from_guest(skb, s.ifindex, s.net, &s.f, s.l4off, s.dst);
	if (ret != ROUTE_CONTINUE)
		goto out;
	ret = nat_from_guest(skb, s.net, &s.f, s.l4off);
	if (ret == NAT_TOO_BIG) {
		/* a global function: the packet's pointers are gone */
		ret = nat_too_big(skb, s.ifindex, s.net->id);
		goto out;
	}
	if (ret == NAT_TTL) {
		ret = nat_time_exceeded(skb, s.ifindex, s.net->id);
		goto out;
	}
	if (ret == NH_UNREACH) {
		ret = nh_unreachable4(skb, s.ifindex, s.net->id);
		goto out;
	}
	if (ret == NAT_ICMP_ERR) {
		ret = nat_icmp_error_pre(skb);
		if (!ret)
			ret = nat_icmp_error_out(skb, s.ifindex, s.net->id);
		if (ret == NAT_HAIRPIN_ERR)
			ret = nat_hairpin_error_rev(skb, s.ifindex,
						    s.net->id);
		goto out;
	}
	/* a global function: the packet's pointers are gone, the stage's
	 * copies (port, net, dst) are what the switch below reads */
	if (ret == NAT_HAIRPIN_ERR)
		ret = nat_hairpin_error(skb, s.ifindex, s.net->id);
	if (ret != NAT_CONTINUE)
		goto out;
	ret = bridge_from_guest(skb, s.port, s.net, s.dst,
				BRIDGE_ACL_EGRESS);
out:
	return ingress_verdict(skb, s.ifindex, s.role, NULL, ret);
}

/* A guest of a routed network: the gateway's answers and routing. */
SEC("tc")
int kvb_tc_routed(struct __sk_buff *skb)
{
	struct stage_ctx s;
	int ret;

	ret = stage_enter(skb, &s, KVB_STAGE_ROUTED);
	if (ret != STAGE_GO)
		goto out;
	ret = route_from_guest(skb, s.ifindex, s.net, &s.f, s.l4off, s.dst);
	/* behind a nat network (via_nat), as the nat stage: traceroute's
	 * first hop, from this network's gateway, and the errors a guest
	 * sends about its translated flows (before, an unknown verdict:
	 * the frame went up the tap's stack and was lost uncounted) */
	if (ret == NAT_TTL || ret == NAT_ICMP_ERR) {
		if (ret == NAT_TTL)
			ret = nat_time_exceeded(skb, s.ifindex, s.net->id);
		else if (!(ret = nat_icmp_error_pre(skb)))
			ret = nat_icmp_error_out(skb, s.ifindex,
						 s.net->via_nat);
		if (ret == ROUTE_CONTINUE)	/* never: no packet pointers */
			ret = TC_ACT_SHOT;
		/* about the answer of a hairpin this guest opened (through
		 * the nat network's WAN address): back through it */
		if (ret == NAT_HAIRPIN_ERR)
			ret = nat_hairpin_error_rev(skb, s.ifindex,
						    s.net->via_nat);
		goto out;
	}
	if (ret == NH_UNREACH) {	/* behind a nat network */
		ret = nh_unreachable4(skb, s.ifindex, s.net->id);
		goto out;
	}
	if (ret != ROUTE_CONTINUE)
		goto out;
	ret = bridge_from_guest(skb, s.port, s.net, s.dst,
				BRIDGE_ACL_EGRESS);
out:
	return ingress_verdict(skb, s.ifindex, s.role, NULL, ret);
}

/* L2 switching: bridge and internal guests, uplinks, gateways. */
SEC("tc")
int kvb_tc_switch(struct __sk_buff *skb)
{
	struct stage_ctx s;
	int ret;

	ret = stage_enter(skb, &s, KVB_STAGE_SWITCH);
	if (ret != STAGE_GO)
		goto out;
	if (s.role == KVB_PORT_UPLINK)
		ret = bridge_from_uplink(skb, s.net, s.dst);
	else if (s.role == KVB_PORT_GATEWAY)
		ret = bridge_from_gateway(skb, s.net, s.dst);
	else
		ret = bridge_from_guest(skb, s.port, s.net, s.dst,
					s.acl ? BRIDGE_ACL_HERE :
					s.role == KVB_PORT_GUEST ?
						BRIDGE_ACL_NONE :
						BRIDGE_ACL_EGRESS);
out:
	if (s.role == KVB_PORT_GUEST && s.acl)
		ret = acl_commit(skb, ret);
	return ingress_verdict(skb, s.ifindex, s.role, NULL, ret);
}

/*
 * An ARP or DAD probe from another host (its vtep from) for an address a
 * port here holds (how: ovl_claim_forged's GUARD_ARP_DEFEND or
 * GUARD_ND_DEFEND): answered as the holder would (arp_defend, nd_defend:
 * counted spoof-arp or spoof-nd on the VXLAN device, as the probe was
 * before), back into the tunnel towards that host, whose guest's probe
 * then fails instead of taking the address. Not answered (dropped, as
 * before) when the holder may not be told of (isolation, no MAC yet).
 */
static __always_inline int ovl_defend(struct __sk_buff *skb,
				      const struct kvb_net *net,
				      const struct kvb_vtep_addr *from,
				      int how, __u32 l4off)
{
	struct ovl_scratch *t;
	int ret;

	ret = how == GUARD_ARP_DEFEND ? arp_defend(skb, net->id) :
					nd_defend(skb, net->id, l4off);
	if (ret != TC_ACT_REDIRECT)
		return ret;
	/* the probe's tunnel key named this host's address as its
	 * destination: the answer's names the prober's host */
	t = ovl_scratch();
	if (!t || ovl_set_key(skb, &t->tk, net->vni, from))
		return TC_ACT_SHOT;
	return TC_ACT_REDIRECT;
}

/*
 * A router's word from the tunnel in the gateway's name: an IPv6 router
 * advertisement or redirect from the gateway's MAC, an IPv4 redirect from
 * its MAC or its address. Every host's gateway speaks to its own guests
 * alone (its RAs, a redirect for a packet it routed: guests route through
 * their own host's gateway, never through the tunnel), so only a guest
 * elsewhere (spoofcheck off, using the anycast gateway's MAC, which
 * ovl_gateway_claimed lets pass as every host's) sends one: it would give
 * this host's guests another router, or take their default route away
 * (an RA with lifetime 0). The drop (spoof-nd, spoof-ip), or 0.
 */
static __always_inline int ovl_router_forged(const struct kvb_net *net,
					     const struct kvb_frame *f)
{
	int as_gw = !mac_is_zero(net->uplink_mac) &&
		    mac_equal(f->eth->h_source, net->uplink_mac);

	if (!f->l4_ok)
		return 0;
	if (f->proto == ETH_P_IPV6 && f->l4_proto == IPPROTO_ICMPV6 &&
	    (f->icmp_type == 134 || f->icmp_type == 137) && as_gw)
		return DROP(KVB_DROP_SPOOF_ND);
	if (f->proto == ETH_P_IP && f->l4_proto == IPPROTO_ICMP &&
	    f->icmp_type == 5 && (as_gw || ip4_is_gateway(net, f->saddr4)))
		return DROP(KVB_DROP_SPOOF_IP);
	return 0;
}

/*
 * The fabric's VXLAN device: frames of overlay networks from other hosts
 * (overlay.h). The tunnel key names the network and the sender; the
 * frame is admitted as a port's would be, its source learnt as behind
 * that host, and it goes to this host's guests.
 */
SEC("tc")
int kvb_tc_overlay(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct kvb_vtep_addr from;
	struct kvb_port *port;
	struct kvb_stats *st;
	struct kvb_net *net;
	struct kvb_frame f;
	struct kvb_pkt p;
	__u8 dst[ETH_ALEN];
	int ret;

	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (!port || port->role != KVB_PORT_OVERLAY)
		return TC_ACT_SHOT;
	st = stats_of_port(port);
	count_rx(st, skb->len);
	net = ovl_source(skb, &from, &ret);
	if (!net)
		goto out;
	kvb_pkt_from_skb(&p, skb);
	ret = kvb_admit(&p, net->mtu, &f);
	if (IS_DROP(ret))
		goto out;
	/* RAs and redirects as the gateway: no host's come this way */
	ret = ovl_router_forged(net, &f);
	if (IS_DROP(ret))
		goto out;
	/* an address a port of this host holds, claimed from there */
	if (f.proto == ETH_P_ARP ||
	    (f.proto == ETH_P_IPV6 && f.l4_ok && f.l4_proto == IPPROTO_ICMPV6 &&
	     f.icmp_type >= 133 && f.icmp_type <= 137)) {
		ret = ovl_claim_forged(skb, net->id, f.proto == ETH_P_ARP ?
					0 : f.l4_off,
				       f.proto == ETH_P_ARP ? 0 : f.icmp_type);
		if (ret == GUARD_ARP_DEFEND || ret == GUARD_ND_DEFEND) {
			ret = ovl_defend(skb, net, &from, ret, f.l4_off);
			goto out;
		}
		if (IS_DROP(ret))
			goto out;
	}
	__builtin_memcpy(dst, f.eth->h_dest, ETH_ALEN);
	/* the gateway's MAC is every host's own (anycast): never remote */
	if (!(net->uplink && mac_equal(f.eth->h_source, net->uplink_mac))) {
		ret = ovl_learn(skb, net->id, mac_u64(f.eth->h_source),
				ifindex, &from);
		if (IS_DROP(ret))
			goto out;
	}
	ret = bridge_from_overlay(skb, net, dst, ifindex);
out:
	return ingress_verdict(skb, ifindex, KVB_PORT_OVERLAY, st, ret);
}

/*
 * A WAN device (the host's NIC): routed networks' traffic, NAT replies
 * and forwards are the fabric's, counted on the WAN port; the rest is the
 * host's, untouched and not counted, and not classified either:
 * TC_ACT_UNSPEC hands it to the next filter on the hook (the operator's:
 * an IFB for ingress shaping, a policer), as if no fabric were there.
 */
SEC("tc")
int kvb_tc_wan(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex, len = skb->len;
	struct kvb_port *port;
	struct kvb_stats *st;
	int ret;

	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (!port || !kvb_port_nat_wan(port))
		return TC_ACT_UNSPEC;
	/* a frame for another station's MAC (a switch's flood, an uplink
	 * that is promiscuous for its bridge, a WAN neighbour's forgery),
	 * or a broadcast or multicast one: nothing the fabric routes,
	 * translates or answers, as the host's forwarding takes none of
	 * them (IP input drops PACKET_OTHERHOST). Before, such a frame was
	 * routed in, or opened a forward, and an ICMP error about it left
	 * from that other MAC. */
	if (skb->pkt_type != PACKET_HOST_)
		return TC_ACT_UNSPEC;
	/* a VLAN's frame (its tag taken off by the NIC) is the VLAN
	 * device's (eth0.100), which is a WAN port of its own when flows
	 * leave through it: its stage judges it there. A priority tag (VID
	 * 0, 802.1p) is this device's own frame, untagged as the kernel
	 * takes it (kvb_admit_wan; before, refused vlan-tagged, and every
	 * guest's traffic through a WAN whose neighbour priority-tags was
	 * lost) */
	if (skb->vlan_present && (skb->vlan_tci & 0x0fff))
		return TC_ACT_UNSPEC;
	if ((port->flags & KVB_PORT_F_L3) && wan_l3_frame(skb))
		return TC_ACT_UNSPEC;
	ret = route_from_wan(skb, ifindex);
	if (ret == ROUTE_CONTINUE)
		ret = nat_from_wan(skb);
	if (ret == NAT_TOO_BIG)	/* a global function: no packet pointers */
		ret = nat_reply_too_big(skb, ifindex);
	else if (ret == NAT_TTL)
		ret = nat_reply_ttl(skb, ifindex);
	else if (ret == ROUTE_WAN_ERR)
		ret = route_wan_error(skb, ifindex);
	if (ret == TC_ACT_OK)	/* the host's */
		return TC_ACT_UNSPEC;
	/* the fabric's: a priority tag (VID 0, kvb_admit_wan) stays here,
	 * neither a guest nor the WAN's answer carries it on */
	if (ret == TC_ACT_REDIRECT && skb->vlan_present)
		bpf_skb_vlan_pop(skb);
	st = stats_of(ifindex);	/* not port: the stages may have changed it */
	count_rx(st, len);
	return ingress_verdict(skb, ifindex, KVB_PORT_WAN, st, ret);
}

SEC("tc")
int kvb_tc_egress(struct __sk_buff *skb)
{
	struct kvb_port *port;
	struct kvb_net *net;
	struct ethhdr *eth;
	struct hdr_cursor c;
	__u32 ifindex = skb->ifindex;

	/*
	 * Delivered by the fabric with the receiver's ACLs judged (or
	 * none to judge: the switch stage's frames to a local guest), or a
	 * reject's answer to the guest: on as it is, its mark ended, with
	 * no lookup on the path of every switched frame.
	 */
	if (skb->mark == KVB_MARK_ACL) {
		skb->mark = 0;
		return TC_ACT_OK;
	}
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (port && port->role == KVB_PORT_GUEST) {
		struct kvb_acl_port *ap;
		__u32 mark = skb->mark;

		/*
		 * The fabric delivers here: its mark ends with it. (The
		 * barrier keeps clang from writing through a ctx pointer
		 * with an offset, which the verifier refuses.)
		 */
		if (mark == KVB_MARK_FABRIC) {
			barrier_var(skb);
			skb->mark = 0;
		}
		if (!acl_any())
			return TC_ACT_OK;
		ap = acl_port_of(port);
		if (!ap || !ap->set)
			return TC_ACT_OK;
		bpf_tail_call(skb, &kvb_stages, KVB_STAGE_ACL_IN);
		/* never around the port's ACLs */
		report_drop(skb, 0, ifindex, skb->len, stats_of(ifindex),
			    DROP(KVB_DROP_NO_STAGE));
		return TC_ACT_SHOT;
	}
	/* Already switched by the fabric: on to the wire. */
	if (skb->mark == KVB_MARK_FABRIC) {
		barrier_var(skb);
		skb->mark = 0;
		return TC_ACT_OK;
	}
	if (!port) {
		/* a nat network's host interface: nothing unsolicited in */
		__u32 gp = 0;
		int ret = nat_from_host(skb, ifindex, &gp);

		if (!IS_DROP(ret))
			return TC_ACT_OK;
		report_drop(skb, 0, gp, skb->len, stats_of(gp), ret);
		return TC_ACT_SHOT;
	}
	if (port->role != KVB_PORT_UPLINK)
		return TC_ACT_OK;
	net = net_lookup(port->net_id);
	if (!net)
		return TC_ACT_OK;

	c.pos = (void *)(long)skb->data;
	c.end = (void *)(long)skb->data_end;
	eth = CURSOR_TAKE(&c, struct ethhdr);
	if (!eth)
		return TC_ACT_OK;
	{
		__u8 dst[ETH_ALEN];
		int ret;

		__builtin_memcpy(dst, eth->h_dest, ETH_ALEN);
		/* the host's own IPv6 addresses held as it starts to use
		 * them, before its DAD probe reaches a guest (bind.h) */
		if (mac_is_multicast(dst) &&
		    eth->h_proto == bpf_htons(ETH_P_IPV6) &&
		    !(skb->tc_index & KVB_TCI_GUEST) && !skb->vlan_present &&
		    mac_equal(eth->h_source, net->uplink_mac))
			savi_hold_host(skb, net->id);
		ret = bridge_from_host(skb, net, dst);
		if (!IS_DROP(ret))
			return ret;
		/* a guest's packet the host forwarded: counted on the
		 * uplink, the sender's port being unknown here */
		report_drop(skb, 0, ifindex, skb->len, stats_of_port(port),
			    ret);
		return TC_ACT_SHOT;
	}
}

/*
 * Run once by the loader (BPF_PROG_RUN) after loading: arms NAT's expiry
 * sweep, whose callback lives in this small program, not in the packet
 * path's. Returns 0 when armed.
 */
SEC("tc")
int kvb_ct_sweep_arm(struct __sk_buff *skb)
{
	(void)skb;
	return ct_sweep_arm() ? 1 : 0;
}

/*
 * Run by the loader (BPF_PROG_RUN) when ports left or a network was
 * unpeered: the NAT flows no guest port can take go now, with their
 * counts and mappings (nat.h, ct_forget_orphans); it returns how many
 * flows went. The run's data is not read.
 */
SEC("tc")
int kvb_ct_forget(struct __sk_buff *skb)
{
	(void)skb;
	return (int)ct_forget_orphans();
}
