/* SPDX-License-Identifier: GPL-2.0 */
/*
 * XDP on a nat network's WAN device (`wan-xdp on`, issue 17 item 3): a
 * reply of an established translated flow (a guest's outgoing
 * connection, or a port forward's) is translated here and redirected to
 * its guest's tap through kvb_xdptx, with the flow lookup, the choice of
 * the guest's port and the rewrites that tc's WAN path uses (natreply.h).
 * Everything else goes on to tc (XDP_PASS), untouched, and tc judges it
 * as before: XDP only skips tc, never refuses (DESIGN.md, contract 2).
 *
 * What goes to tc, and why:
 *   - a frame not sent to the WAN device's own MAC (kvb_port.dev_mac;
 *     tc takes PACKET_HOST alone): another station's is the host's;
 *   - what is no reply of a flow: the host's own traffic, new inbound
 *     connections (a forward's first packet, nat-filtering's verdicts),
 *     ICMP errors (their quote is translated too), anything but TCP, UDP
 *     and ICMP echo replies; a destination a routed network claims (tc
 *     routes before it translates);
 *   - a flow not yet established (its first reply makes it so: a write),
 *     expired, a hairpin's, or of a network without wan-xdp or whose wan
 *     is another device;
 *   - TCP with SYN, FIN or RST: tc tracks them (conntrack.h: a RST or FIN
 *     is judged against the guest's window, and may close the flow). The
 *     other segments are not tracked here: that would write the shared
 *     flow entry per packet. The one thing tc reads of it that goes
 *     stale is the remote's end of data (td.end), which makes a RST at
 *     exactly that point, before the guest acknowledged it, exact; such a
 *     RST still reaches the guest (in window), but the flow keeps its
 *     timeout instead of closing;
 *   - IPv4 options, fragments (tc translates them: kvb_natfrag),
 *     TTL 1 (the host answers time exceeded), frames admission refuses
 *     (tc counts them), VLAN tags (inline: not IPv4 here; outside the
 *     frame: kvb_xdp_bound passes the frame before it gets here);
 *   - a guest port that is gone, no guest's, not a tap (kvb_xdptx holds
 *     only taps), or with ACLs (the guest's ingress ACL runs at its tc
 *     egress, which a redirected frame never passes); a frame over the
 *     network's MTU or the guest device's;
 *   - a frame whose L4 checksum does not verify over the whole frame
 *     (xdpfwd.h, xdp_l4_rule): a NIC's frames are complete, but a veth
 *     WAN carries its peer's CHECKSUM_PARTIAL skbs, which only tc may
 *     translate (a redirect into a tap loses the partial state); UDP
 *     without a checksum likewise.
 * A frame XDP translates is complete, so the incremental updates keep it
 * complete (csum.h, csum_l4_replace_xdp); the guest receives it with an
 * all-zero virtio-net header, as one from the wire.
 *
 * Per packet: one flow lookup, one port lookup, the ACL and route
 * lookups, the checksum sum, the rewrites; the flow's clock at most once
 * a second (ct_touch_flow), per-CPU counters: the WAN port's rx and xdp_fwd,
 * the guest's tx, as tc counts them.
 */
#ifndef KVB_NATXDP_H
#define KVB_NATXDP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "conntrack.h"
#include "maps.h"
#include "natreply.h"
#include "parse.h"
#include "stats.h"
#include "subnet.h"
#include "xdpfwd.h"

#ifdef KVB_HOOK_XDP	/* the XDP object's alone */

/* The MTU of port p's network (0: none, nothing fits). */
static __always_inline __u32 port_net_mtu(const struct kvb_port *p)
{
	struct kvb_net *n = net_lookup(p->net_id);

	return n ? n->mtu : 0;
}

/*
 * A frame that admission passed (f), from WAN port port: XDP_REDIRECT
 * when it is an established flow's reply translated here (see the top),
 * else XDP_PASS, the frame untouched.
 */
__noinline int xdp_nat_wan(struct xdp_md *ctx, const struct kvb_port *port,
			   const struct xdp_fwd_in *f)
{
	struct hdr_cursor c = { .pos = (void *)(long)ctx->data,
				.end = (void *)(long)ctx->data_end };
	__u32 len = (__u32)(c.end - c.pos), out, poff = 0, at = 0, mtu = 0;
	struct ethhdr *eth = CURSOR_TAKE(&c, struct ethhdr);
	struct kvb_ct_key rk = { 0 };
	struct kvb_port *gp;
	struct kvb_stats *st;
	struct kvb_net *net;
	struct kvb_ct *ct;
	struct iphdr *ip;
	__u8 gmac[ETH_ALEN];
	__be16 *l4, gport;
	__be32 gaddr;
	__u64 now;

	if (!eth || !port || !f || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	/* only a frame sent to the device (tc: PACKET_HOST); another
	 * station's (a switch's flood, a promiscuous uplink's, a forgery)
	 * is the host's to drop (t80) */
	if (mac_is_zero(port->dev_mac) || !mac_equal(eth->h_dest, port->dev_mac))
		return XDP_PASS;
	ip = CURSOR_TAKE(&c, struct iphdr);
	/* options, fragments, TTL 1: tc's */
	if (!ip || ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)) ||
	    ip->ttl <= 1)
		return XDP_PASS;
	l4 = cursor_take(&c, 8);
	if (!l4 || nat_reply_key(ip, l4, &rk, &poff) != NAT_RK_FLOW ||
	    nat_generic(rk.proto))	/* without ports: tc's */
		return XDP_PASS;
	if (rk.proto == IPPROTO_TCP) {
		/* bytes 8-19 of the header: the flags are its 6th */
		__u8 *th = cursor_take(&c, 12);

		if (!th || (th[5] & (TCP_SYN_ | TCP_FIN_ | TCP_RST_)))
			return XDP_PASS;
	}
	if (route_of(4, (const __u8 *)&rk.daddr))
		return XDP_PASS;	/* a routed network's: tc routes it */
	/* the VXLAN port: tc decides (the host's while it tunnels:
	 * nat_vteps4) */
	if (rk.proto == IPPROTO_UDP && rk.dport == bpf_htons(KVB_VXLAN_PORT))
		return XDP_PASS;
	ct = bpf_map_lookup_elem(&kvb_ct, &rk);
	/* answered (UDP not yet a stream): ct_touch_flow below makes it one */
	if (!ct || ct->hairpin || (ct->state != KVB_CT_ESTABLISHED &&
				   ct->state != KVB_CT_ANSWERED))
		return XDP_PASS;
	net = net_lookup(ct->net_id);
	if (!net || net->type != KVB_NET_NAT ||
	    !(net->flags & KVB_NET_F_WAN_XDP) || net->wan != f->ifindex)
		return XDP_PASS;
	now = kvb_now();
	if (!ct_live(net, &rk, ct, now))
		return XDP_PASS;
	if (IS_DROP(nat_reply_port(ct, gmac, &gp)))
		return XDP_PASS;	/* tc counts it: no-route */
	out = ct->guest_ifindex;
	gaddr = ct->addr;
	gport = ct->port;
	/* over the guest's own network's MTU (a routed network behind
	 * this one may be narrower): tc answers the remote (too-big) */
	if (port_has_acl(gp) || len > net->mtu + ETH_HLEN ||
	    len > port_net_mtu(gp) + ETH_HLEN ||
	    bpf_check_mtu(ctx, out, &mtu, 0, 0))
		return XDP_PASS;
	/* only a complete frame (see the top) */
	if (xdp_l4_rule(ctx, f, &at) != L4_ASIS)
		return XDP_PASS;
	if (bpf_redirect_map(&kvb_xdptx, out, XDP_PASS) != XDP_REDIRECT)
		return XDP_PASS;	/* not a tap: tc's */
	ct_touch_flow(&rk, ct, now);
	/* TTL and every header byte were checked above: it cannot fail */
	if (nat_reply_rewrite(ctx, &rk, gaddr, gport, poff, ETH_HLEN + 20,
			      gmac, net->uplink_mac) != NAT_RW_DONE)
		return XDP_ABORTED;
	st = stats_of_port(port);
	count_rx(st, len);
	if (st)
		st->xdp_fwd++;
	count_tx_st(stats_of_port(gp), len);
	return XDP_REDIRECT;
}

#endif /* KVB_HOOK_XDP */
#endif /* KVB_NATXDP_H */
