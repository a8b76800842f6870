/* SPDX-License-Identifier: GPL-2.0 */
/*
 * L2 switching for bridge networks, at tc. Frames move between the member
 * ports of one network only: the FDB is keyed by network and floods walk
 * that network's own member list, so nothing can cross into another
 * network whatever its destination MAC says.
 *
 * The uplink is both a wire (frames to and from LAN hosts) and the host's
 * own interface. Frames the fabric hands to it carry KVB_MARK_FABRIC so the
 * uplink's programs pass them on instead of switching them again.
 */
#ifndef KVB_BRIDGE_H
#define KVB_BRIDGE_H

#include <linux/pkt_cls.h>
#include "fdb.h"
#include "stats.h"
#include "isolation.h"
#include "overlay.h"
#include "acl.h"
#include "vlan.h"

/*
 * Is the frame longer than the uplink carries now? A bridge's mtu was no
 * more than its uplink's when it was made (uplink_mtu_fit, loader), but
 * the operator may lower the uplink's since (`ip link set DEV mtu N`):
 * the NIC would lose the longer frames, uncounted. A tag in the frame (a
 * trunk's) is not the MTU's, as the kernel's is_skb_forwardable allows
 * VLAN_HLEN; a GSO frame's segments are what is measured.
 */
static __always_inline int uplink_too_long(struct __sk_buff *skb,
					   __u32 uplink)
{
	__u32 mtu = 0;

	/* > 0: FRAG_NEEDED or SEGS_TOOBIG; an error (the device gone) is
	 * not the MTU's, the redirect says what it is. The kernel takes no
	 * len_diff with BPF_MTU_CHK_SEGS: a tagged GSO frame's segments go
	 * unmeasured (a trunk's guest, TSO on, over an uplink lowered below
	 * the network's mtu) */
	if (frame_tagged(skb) && !skb->vlan_present)
		return bpf_check_mtu(skb, uplink, &mtu, -4, 0) > 0;
	return bpf_check_mtu(skb, uplink, &mtu, 0, BPF_MTU_CHK_SEGS) > 0;
}

/*
 * Deliver a copy of the frame to every member except skip; from_guest
 * (a guest's frame, entering on skip) applies port isolation; macless
 * (a unicast frame for a MAC the table does not know) skips the
 * spoofcheck ports with a MAC of their own (configured or pinned: its
 * static entry would have been found, and they answer for no other),
 * which could only be given a copy, never be its owner; a port without
 * spoofcheck (a router VM, a nested hypervisor) may answer for others.
 */
static __always_inline void flood_to(struct __sk_buff *skb,
				     const struct kvb_net *net, __u32 skip,
				     int include_uplink, int from_guest,
				     int macless)
{
	__u32 n = net->nports, len = skb->len;

	skb->mark = KVB_MARK_FABRIC;
	for (__u32 i = 0; i < KVB_MAX_NET_PORTS; i++) {
		__u32 ifx;

		if (i >= n)
			break;
		ifx = net->ports[i];
		if (!ifx || ifx == skip)
			continue;
		if (ifx == net->uplink && !include_uplink)
			continue;
		/* a device gone without detach, or a new one with its
		 * ifindex: nothing until gc forgets the port */
		if (!port_dev_live(ifx))
			continue;
		if (from_guest && ifx != net->uplink &&
		    !guests_may_talk(skip, ifx))
			continue;
		if (macless && ifx != net->uplink) {
			struct kvb_port *p = bpf_map_lookup_elem(&kvb_port,
								 &ifx);

			if (!p || (!mac_is_zero(p->mac) &&
				   (p->flags & KVB_PORT_F_SPOOFCHECK)))
				continue;
		}
		/* a VLAN's frame: to trunks only (vlan.h; asked each time,
		 * no stack kept for it across the clones) */
		if (vlan_refused(skb, ifx))
			continue;
		/* longer than the uplink carries now: not to the LAN,
		 * counted on the sender's port (the others have their copy) */
		if (ifx == net->uplink && uplink_too_long(skb, ifx)) {
			count_drop(stats_of(skb->ifindex), DROP(KVB_DROP_MTU));
			continue;
		}
		/* >= 0: handed to the device (which may still drop it) */
		if (bpf_clone_redirect(skb, ifx, 0) >= 0)
			count_tx(ifx, len);
	}
	skb->mark = 0;
}

static __always_inline void flood(struct __sk_buff *skb,
				  const struct kvb_net *net, __u32 skip,
				  int include_uplink, int from_guest)
{
	flood_to(skb, net, skip, include_uplink, from_guest, 0);
}

/*
 * The tag (KVB_TCI_*) a guest's frame on port carries into the host's
 * stack, so that what the host forwards from it back out the uplink is
 * still known for a guest's there (bridge_from_host).
 */
static __always_inline __u32 host_tci(const struct kvb_port *port,
				      const struct kvb_net *net)
{
	return KVB_TCI_GUEST | (net->id & KVB_TCI_NET) |
	       (port_entry_isolated(port) ? KVB_TCI_ISOLATED : 0);
}

/*
 * Hand a copy of a guest's frame (tagged tci) to the host's stack, as if
 * it had arrived on the uplink.
 */
static __always_inline void to_host_copy(struct __sk_buff *skb,
					 const struct kvb_net *net, __u32 tci)
{
	skb->mark = KVB_MARK_FABRIC;
	skb->tc_index = tci;
	bpf_clone_redirect(skb, net->uplink, BPF_F_INGRESS);
	skb->tc_index = 0;
	skb->mark = 0;
}

/*
 * To a nat or routed network's gateway port, whose veth hands the frame
 * to the host's stack: with no mark of the fabric's, which the host's
 * routing rules and firewall would see, and which the host's forwarding
 * would carry into another network's host interface (the egress there
 * passes what the fabric marked: kvb_tc_egress). The port runs no
 * egress program that would read it.
 */
static __always_inline int host_bound(struct __sk_buff *skb, __u32 ifindex)
{
	skb->mark = 0;
	count_tx(ifindex, skb->len);
	return bpf_redirect(ifindex, 0);
}

static __always_inline int redirect_to(struct __sk_buff *skb, __u32 ifindex,
				       __u64 flags)
{
	skb->mark = KVB_MARK_FABRIC;
	count_tx(ifindex, skb->len);
	return bpf_redirect(ifindex, flags);
}

/*
 * To a port whose entry (op) the caller holds: no lookup for its
 * counters. mark: KVB_MARK_FABRIC, or KVB_MARK_ACL for a frame whose
 * receiver's ACLs judged it already (acl_to_guest).
 */
static __always_inline int redirect_to_port(struct __sk_buff *skb,
					    __u32 ifindex,
					    const struct kvb_port *op,
					    __u32 mark)
{
	skb->mark = mark;
	count_tx_st(stats_of_port(op), skb->len);
	return bpf_redirect(ifindex, 0);
}

/*
 * A guest's flood: to the local ports and, in an overlay network, once
 * to every other host, unless the guest is isolated (they are guests).
 * Global: the loops are verified once, not on every path of the stages
 * that switch a guest's frame.
 */
__noinline int bridge_flood_guest(struct __sk_buff *skb, __u32 net_id)
{
	struct kvb_net *net = net_lookup(net_id);

	if (!net)
		return DROP(KVB_DROP_NO_NET);
	flood(skb, net, skb->ifindex, 1, 1);
	/* VLAN trunks are a host's own: the overlay carries no tag */
	if (!net->vni || port_isolated(skb->ifindex) || frame_tagged(skb))
		return TC_ACT_SHOT;	/* consumed: every copy is out */
	return ovl_flood(skb, net);
}

/*
 * Where a receiving local guest's ACLs judge a frame of bridge_from_guest:
 * on its tc egress (the nat and routed stages: their stack has no room for
 * the ACL's calls), here (the switch stage, acl_to_guest), or nowhere (the
 * switch stage on a fabric without ACLs: kvb_aclon was off as it began).
 */
enum bridge_acl {
	BRIDGE_ACL_EGRESS,
	BRIDGE_ACL_HERE,
	BRIDGE_ACL_NONE,
};

/* A frame from a guest port, whose entry is port; acl: enum bridge_acl. */
static __always_inline int bridge_from_guest(struct __sk_buff *skb,
					     const struct kvb_port *port,
					     const struct kvb_net *net,
					     const __u8 *dst, int acl)
{
	__u32 out;

	if (mac_is_multicast(dst)) {
		/* a bridge's host sits on the uplink NIC itself; a nat
		 * network's host is behind the gateway port, which the
		 * flood reaches anyway */
		if (net->uplink && net->type == KVB_NET_BRIDGE)
			to_host_copy(skb, net, host_tci(port, net));
		return bridge_flood_guest(skb, net->id);
	}
	if (net->uplink && mac_equal(dst, net->uplink_mac)) {
		if (net->type != KVB_NET_BRIDGE)
			return host_bound(skb, net->uplink);
		skb->tc_index = host_tci(port, net);
		return redirect_to(skb, net->uplink, BPF_F_INGRESS);
	}

	out = fdb_lookup(net->id, dst);
	if (out == skb->ifindex)
		return DROP(KVB_DROP_REFLECT);
	if (out && out != net->ovl_ifindex) {
		/* one lookup of the destination's port: its isolation and
		 * its counters */
		const struct kvb_port *op = bpf_map_lookup_elem(&kvb_port,
								&out);
		int ret;

		if (out != net->uplink &&
		    (port_entry_isolated(port) || port_entry_isolated(op)))
			return DROP(KVB_DROP_ISOLATED);
		/* a VLAN's frame (from a trunk): to a trunk only */
		if (vlan_refused(skb, out))
			return DROP(KVB_DROP_VLAN);
		if (out == net->uplink && uplink_too_long(skb, out))
			return DROP(KVB_DROP_MTU);
		/* to a local guest: its ACLs judge here, not on its tap
		 * (with none to judge, the mark spares the receiver's tc
		 * egress its lookup of the port) */
		ret = acl == BRIDGE_ACL_HERE && op ?
			      acl_to_guest(skb, out, op->slot) : ACL_UNJUDGED;
		if (ret == ACL_PASS ||
		    (acl == BRIDGE_ACL_NONE && op &&
		     op->role == KVB_PORT_GUEST))
			return redirect_to_port(skb, out, op, KVB_MARK_ACL);
		if (ret != ACL_UNJUDGED)
			return ret;
		return redirect_to_port(skb, out, op, KVB_MARK_FABRIC);
	}
	if (out && out != net->uplink && !guest_may_reach(port, out))
		return DROP(KVB_DROP_ISOLATED);
	if (out && frame_tagged(skb))	/* behind the overlay: no VLANs */
		return DROP(KVB_DROP_VLAN);
	if (out) {
		int ret = ovl_unicast(skb, net->id, mac_u64(dst));

		if (ret != OVL_FLOOD)
			return ret;
	}
	return bridge_flood_guest(skb, net->id);
}


/*
 * A frame from the LAN on the uplink. What is not for a guest continues
 * into the host's stack, which owns the NIC. A MAC behind another host is
 * not reached through this host: the overlay carries guests' frames only
 * (the LAN is not stretched across hosts, and the guest's answer would
 * go to its own host's LAN), so it is counted (overlay-not-tunnelled),
 * never sent into the VXLAN device without a tunnel key, which drops it.
 */
static __always_inline int bridge_from_uplink(struct __sk_buff *skb,
					      const struct kvb_net *net,
					      const __u8 *dst)
{
	__u32 out;

	/* the LAN's STP, LLDP, LACP, 802.1X: the host's NIC's, no guest's */
	if (mac_is_link_local_group(dst))
		return TC_ACT_OK;
	if (mac_is_multicast(dst)) {
		flood(skb, net, skb->ifindex, 0, 0);
		return TC_ACT_OK;
	}
	if (mac_equal(dst, net->uplink_mac))
		return TC_ACT_OK;
	out = fdb_lookup(net->id, dst);
	if (out == skb->ifindex)
		return TC_ACT_OK;	/* LAN to LAN: not ours to switch */
	if (out && out == net->ovl_ifindex)
		return DROP(KVB_DROP_OVL_NOT_TUNNELLED);
	/* a VLAN's frame for a guest that is no trunk: the host's, as
	 * every tagged frame was (its VLAN devices) */
	if (out && vlan_refused(skb, out))
		return TC_ACT_OK;
	if (out)
		return redirect_to(skb, out, 0);
	/* a VLAN's unicast for a MAC no trunk sent from: the host's (a
	 * network or a MAC behind its VLAN devices), never flooded to
	 * the trunks */
	if (frame_tagged(skb))
		return TC_ACT_OK;
	flood(skb, net, skb->ifindex, 0, 0);
	return TC_ACT_OK;
}

/*
 * The host's frame from a nat or routed network's gateway interface: only
 * guests are behind the gateway port, so what is not for one of them ends
 * here. A guest's packet that routing handed to the host to resolve its
 * neighbour (KVB_MARK_HAIRPIN) is still a guest's: isolation applies. A
 * guest of another host is not behind this host's gateway: it answers
 * the gateway's address (every host's, anycast) at its own host, so the
 * host's frame to it is counted (overlay-not-tunnelled), not tunnelled.
 */
static __always_inline int bridge_from_gateway(struct __sk_buff *skb,
					       const struct kvb_net *net,
					       const __u8 *dst)
{
	int from_guest = skb->mark == KVB_MARK_HAIRPIN;
	__u32 out;

	skb->mark = 0;
	/* the host's LLDP, STP or 802.1X on its interface: for a switch
	 * there, which is none of the guests */
	if (mac_is_link_local_group(dst))
		return TC_ACT_SHOT;
	out = mac_is_multicast(dst) ? 0 : fdb_lookup(net->id, dst);
	if (out && out == net->ovl_ifindex)
		return DROP(KVB_DROP_OVL_NOT_TUNNELLED);
	if (out && out != skb->ifindex) {
		if (from_guest && !guests_may_talk(skb->ifindex, out))
			return DROP(KVB_DROP_ISOLATED);
		if (vlan_refused(skb, out))
			return DROP(KVB_DROP_VLAN);
		return redirect_to(skb, out, 0);
	}
	flood(skb, net, skb->ifindex, 0, from_guest);
	return TC_ACT_SHOT;
}

/*
 * A frame from another host (the tunnel: ovl_source said which network),
 * on the VXLAN device ifindex, for this host's guests only: never back
 * into the tunnel (split horizon), never to the uplink's LAN or the
 * gateway, which are their host's own.
 */
static __always_inline int bridge_from_overlay(struct __sk_buff *skb,
					       const struct kvb_net *net,
					       const __u8 *dst, __u32 ifindex)
{
	__u32 out = mac_is_multicast(dst) ? 0 : fdb_lookup(net->id, dst);

	if (out && (out == ifindex || out == net->uplink))
		return DROP(KVB_DROP_REFLECT);
	if (out && port_isolated(out))
		return DROP(KVB_DROP_ISOLATED);
	if (out && vlan_refused(skb, out))
		return DROP(KVB_DROP_VLAN);
	if (out)
		return redirect_to(skb, out, 0);
	flood(skb, net, ifindex, 0, 1);
	return TC_ACT_SHOT;
}

/*
 * The host's own frame leaving through the uplink, or one it forwards. A
 * packet of a guest of this network that the host routes back out here
 * (tagged by host_tci) is still that guest's: isolation applies as if it
 * had been switched, and its multicast, which the fabric flooded already,
 * goes to the wire only. The host's unicast to a MAC the table does not
 * know goes to the guests that could have it (those without a MAC of
 * their own) as well as to the wire, as a bridge floods it (a quiet
 * guest without spoofcheck whose learned MAC aged out is still reached:
 * the host's neighbour entry outlives the table's); a guest's routed
 * back out goes to the wire only. A MAC behind another host goes to the
 * wire too, not into the tunnel: the guest's answer to the host would
 * come back through the tunnel, which reaches local guests only; on a
 * LAN the hosts share, the other host's uplink takes it to the guest.
 */
static __always_inline int bridge_from_host(struct __sk_buff *skb,
					    const struct kvb_net *net,
					    const __u8 *dst)
{
	__u32 tci = skb->tc_index, out;
	int from_guest = (tci & KVB_TCI_GUEST) &&
			 (tci & KVB_TCI_NET) == net->id;

	/* the host's LLDP, STP or 802.1X: for the LAN's switch, never a
	 * guest's, as the LAN's are not (bridge_from_uplink) */
	if (mac_is_link_local_group(dst) ||
	    (from_guest && mac_is_multicast(dst)))
		return TC_ACT_OK;
	if (mac_is_multicast(dst)) {
		flood(skb, net, skb->ifindex, 0, 0);
		return TC_ACT_OK;	/* and on to the wire */
	}
	out = fdb_lookup(net->id, dst);
	if (!out && !from_guest)
		flood_to(skb, net, skb->ifindex, 0, 0, 1);
	if (!out || out == skb->ifindex)
		return TC_ACT_OK;
	if (from_guest &&
	    ((tci & KVB_TCI_ISOLATED) || port_isolated(out)))
		return DROP(KVB_DROP_ISOLATED);
	if (out == net->ovl_ifindex)
		return TC_ACT_OK;
	/* the host's VLAN device to a guest: a trunk's only */
	if (!vlan_refused(skb, out))
		return redirect_to(skb, out, 0);
	return TC_ACT_OK;
}

#endif /* KVB_BRIDGE_H */
