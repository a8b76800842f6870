// SPDX-License-Identifier: GPL-2.0
/*
 * XDP entry point: an accelerator, never the only enforcement point
 * (DESIGN.md, contract 2). It drops early what admission and the port guard
 * reject on every hook (runts, tagged frames, invalid sources, broken
 * headers, spoofed identities) on guest ports; a known-unicast frame to a
 * guest port of the same bridge or internal network that it can prove
 * complete, from a guest or from a bridge's uplink, it forwards itself
 * (lib/xdpfwd.h: the fast path); everything else goes on to tc,
 * untouched. On an uplink, the host's own NIC, it never drops: what
 * admission refuses there is the host's traffic, for tc to count and
 * pass on.
 */
#define KVB_HOOK_XDP	/* lib/ctx.h: kvb_load() */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lib/ctx.h"
#include "lib/maps.h"
#include "lib/admit.h"
#include "lib/stats.h"
#include "lib/guard.h"
#include "lib/monitor.h"
#include "lib/xdpfwd.h"

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int kvb_xdp(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex;
	struct kvb_port *port;
	struct kvb_net *net;
	struct xdp_fwd_in *in;
	struct kvb_frame f;
	struct kvb_pkt p;
	int ret;

	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	/* gateway and WAN frames may be the host's: tc decides */
	if (!port ||
	    (port->role != KVB_PORT_GUEST && port->role != KVB_PORT_UPLINK))
		return XDP_PASS;
	net = net_lookup(port->net_id);
	if (!net)
		return XDP_PASS;	/* tc counts it */
	kvb_pkt_from_xdp(&p, ctx);
	ret = kvb_admit(&p, 0, &f);
	if (!IS_DROP(ret))
		ret = kvb_guard(port, net, ifindex, &f);
	/* the host's NIC: what admission refuses there is the host's
	 * traffic, which tc counts and passes on */
	if (IS_DROP(ret) && port->role == KVB_PORT_UPLINK)
		return XDP_PASS;
	if (IS_DROP(ret)) {
		report_drop(ctx, 1, ifindex, p.len, stats_of(ifindex), ret);
		return XDP_DROP;
	}
	in = xdp_fwd_scratch();
	if (!in)
		return XDP_PASS;
	xdp_fwd_in(in, ifindex, &f);
	return xdp_switch(ctx, port, net, in);
}
