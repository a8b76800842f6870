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

/* spoofcheck without a configured MAC: the first source MAC seen is it */
static __always_inline void pin_mac(struct kvb_port *port, const __u8 *src)
{
	if (!(port->flags & KVB_PORT_F_SPOOFCHECK) ||
	    port->role != KVB_PORT_GUEST || !mac_is_zero(port->mac))
		return;
	__builtin_memcpy(port->mac, src, ETH_ALEN);
	port->flags |= KVB_PORT_F_MAC_PINNED;
}

char LICENSE[] SEC("license") = "GPL";

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

	/* Our own copy re-entering the host stack through the uplink. */
	if (skb->mark == KVB_MARK_FABRIC) {
		skb->mark = 0;
		return TC_ACT_OK;
	}
	port = bpf_map_lookup_elem(&kvb_port_v2, &ifindex);
	if (!port)
		return TC_ACT_OK;	/* not (or no longer) ours */
	st = stats_of(ifindex);
	count_rx(st, skb->len);

	net = bpf_map_lookup_elem(&kvb_net_v2, &port->net_id);
	if (!net) {
		ret = DROP(KVB_DROP_NO_NET);
		goto out;
	}
	kvb_pkt_from_skb(&p, skb);
	ret = kvb_admit(&p, net->mtu, &f);
	if (IS_DROP(ret))
		goto out;
	pin_mac(port, f.eth->h_source);
	ret = kvb_guard(port, ifindex, &f);
	if (IS_DROP(ret))
		goto out;
	if (f.l4_ok && f.l4_proto == IPPROTO_UDP && f.sport == 67)
		dhcp_snoop(skb, net, &f, (__u32)(f.l4.pos - p.data));

	fdb_learn(net->id, f.eth->h_source, ifindex, st);
	if (port->role == KVB_PORT_UPLINK)
		ret = bridge_from_uplink(skb, net, f.eth);
	else
		ret = bridge_from_guest(skb, net, f.eth);
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
	port = bpf_map_lookup_elem(&kvb_port_v2, &ifindex);
	if (!port || port->role != KVB_PORT_UPLINK)
		return TC_ACT_OK;
	net = bpf_map_lookup_elem(&kvb_net_v2, &port->net_id);
	if (!net)
		return TC_ACT_OK;

	c.pos = (void *)(long)skb->data;
	c.end = (void *)(long)skb->data_end;
	eth = CURSOR_TAKE(&c, struct ethhdr);
	if (!eth)
		return TC_ACT_OK;
	return bridge_from_host(skb, net, eth);
}
