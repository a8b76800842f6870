// SPDX-License-Identifier: GPL-2.0
/*
 * tc entry points: the authoritative datapath (DESIGN.md, contract 1).
 * kvb_tc_ingress runs on every attached device; kvb_tc_egress on uplinks
 * only, to switch the host's own frames to guests.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "lib/ctx.h"
#include "lib/maps.h"
#include "lib/policy.h"
#include "lib/stats.h"
#include "lib/bridge.h"
#include "lib/guard.h"
#include "lib/dhcp.h"
#include "lib/monitor.h"
#include "lib/nat.h"
#include "lib/route.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int kvb_tc_ingress(struct __sk_buff *skb)
{
	struct kvb_stats *st;
	struct kvb_port *port;
	struct kvb_net *net;
	struct kvb_frame f;
	struct kvb_pkt p;
	__u32 ifindex = skb->ifindex, l4off;
	__u8 dst[ETH_ALEN];
	int ret;

	/* Our own copy re-entering the host stack through the uplink. */
	if (skb->mark == KVB_MARK_FABRIC) {
		skb->mark = 0;
		return TC_ACT_OK;
	}
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (!port)
		return TC_ACT_OK;	/* not (or no longer) ours */
	if (port->role == KVB_PORT_WAN) {
		/*
		 * The host's NIC: routed networks' traffic, NAT replies and
		 * forwards are the fabric's, counted on the WAN port; the
		 * rest is the host's, untouched and not counted.
		 */
		__u32 len = skb->len;

		ret = route_from_wan(skb, ifindex);
		if (ret == ROUTE_CONTINUE)
			ret = nat_from_wan(skb);
		if (ret == TC_ACT_OK)
			return TC_ACT_OK;
		st = stats_of(ifindex);
		count_rx(st, len);
		goto out;
	}
	st = stats_of(ifindex);
	count_rx(st, skb->len);

	net = bpf_map_lookup_elem(&kvb_net, &port->net_id);
	if (!net) {
		ret = DROP(KVB_DROP_NO_NET);
		goto out;
	}
	if (port->role == KVB_PORT_GUEST) {
		ret = check_guest_gso(skb->gso_size);
		if (IS_DROP(ret))
			goto out;
	}
	kvb_pkt_from_skb(&p, skb);
	ret = kvb_admit(&p, net->mtu, &f);
	if (IS_DROP(ret))
		goto out;
	l4off = f.l4_ok ? f.l4_off : 0;
	/* the switch needs only the destination; NAT may rewrite the frame */
	__builtin_memcpy(dst, f.eth->h_dest, ETH_ALEN);
	/* spoofcheck without a MAC: the first frame's is it (fdb_pin) */
	if (mac_is_zero(port->mac))
		fdb_pin(net->id, mac_u64(f.eth->h_source), ifindex);
	ret = kvb_guard(port, net, ifindex, &f);
	if (IS_DROP(ret))
		goto out;
	if (f.l4_ok && f.l4_proto == IPPROTO_UDP && f.sport == 67)
		dhcp_snoop(skb, net, &f, l4off);

	fdb_learn(net->id, mac_u64(f.eth->h_source), ifindex);
	if ((net->type == KVB_NET_NAT || net->type == KVB_NET_ROUTED) &&
	    port->role == KVB_PORT_GUEST) {
		ret = route_from_guest(skb, ifindex, net, &f, l4off, dst);
		if (ret != ROUTE_CONTINUE)
			goto out;
	}
	if (net->type == KVB_NET_NAT && port->role == KVB_PORT_GUEST) {
		ret = nat_from_guest(skb, net, &f, l4off);
		if (ret != NAT_CONTINUE)
			goto out;
	}
	if (port->role == KVB_PORT_UPLINK)
		ret = bridge_from_uplink(skb, net, dst);
	else if (port->role == KVB_PORT_GATEWAY)
		ret = bridge_from_gateway(skb, net, dst);
	else
		ret = bridge_from_guest(skb, net, dst);
out:
	if (IS_DROP(ret)) {
		report_drop(skb, 0, ifindex, skb->len, st, ret);
		/*
		 * The uplink is the host's own NIC: what the fabric refuses to
		 * switch to guests (VLAN-tagged, jumbo, odd) is still the
		 * host's traffic, so it goes on to the host's stack.
		 */
		return port->role == KVB_PORT_UPLINK ? TC_ACT_OK : TC_ACT_SHOT;
	}
	return ret;
}

SEC("tc")
int kvb_tc_egress(struct __sk_buff *skb)
{
	struct kvb_port *port;
	struct kvb_net *net;
	struct ethhdr *eth;
	struct hdr_cursor c;
	__u32 ifindex = skb->ifindex;

	/* Already switched by the fabric: on to the wire. */
	if (skb->mark == KVB_MARK_FABRIC) {
		skb->mark = 0;
		return TC_ACT_OK;
	}
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (!port || port->role != KVB_PORT_UPLINK)
		return TC_ACT_OK;
	net = bpf_map_lookup_elem(&kvb_net, &port->net_id);
	if (!net)
		return TC_ACT_OK;

	c.pos = (void *)(long)skb->data;
	c.end = (void *)(long)skb->data_end;
	eth = CURSOR_TAKE(&c, struct ethhdr);
	if (!eth)
		return TC_ACT_OK;
	{
		__u8 dst[ETH_ALEN];

		__builtin_memcpy(dst, eth->h_dest, ETH_ALEN);
		return bridge_from_host(skb, net, dst);
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
