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
 * pass on. On a nat network's WAN device (wan-xdp on) it translates the
 * replies of established flows to tap guests (lib/natxdp.h) and passes
 * the rest. Two programs: kvb_xdp, shared by the taps, and kvb_xdp_bound,
 * loaded for one device at a time (uplinks, WAN devices, guest ports on
 * veths), where a VLAN tag may travel outside the frame.
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
#include "lib/natxdp.h"
#include "lib/vlan.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef ENODATA
#define ENODATA 61
#endif
/* The VLAN tag a driver took out of the frame (Linux 6.8). */
extern int bpf_xdp_metadata_rx_vlan_tag(const struct xdp_md *ctx,
					__be16 *vlan_proto,
					__u16 *vlan_tci) __ksym __weak;
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) (!!(sym))
#endif

/*
 * Both entries: a guest port's frame (uplink 0), or a bridge's uplink's
 * whose VLAN tag, if any, is known to be in the frame (uplink 1).
 */
static __always_inline int xdp_entry(struct xdp_md *ctx, const int uplink)
{
	__u32 ifindex = ctx->ingress_ifindex;
	struct kvb_stats *st;
	struct kvb_port *port;
	struct kvb_net *net;
	struct xdp_fwd_in *in;
	struct kvb_frame f;
	struct kvb_pkt p;
	int ret;

	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	/* gateway and WAN frames may be the host's: tc decides */
	if (!port ||
	    port->role != (uplink ? KVB_PORT_UPLINK : KVB_PORT_GUEST))
		return XDP_PASS;
	net = net_lookup(port->net_id);
	if (!net)
		return XDP_PASS;	/* tc counts it */
	kvb_pkt_from_xdp(&p, ctx);
	ret = kvb_admit(&p, 0, &f);
	if (!IS_DROP(ret) && !uplink)
		ret = kvb_guard(port, net, ifindex, &f);
	/* GUARD_ARP_DEFEND or GUARD_ND_DEFEND, in one test (two cost the
	 * programs 8-16 bytes of stack they do not have); the guard
	 * returns nothing else of 0x7ff4-0x7ff7 */
	_Static_assert((GUARD_ARP_DEFEND & ~3) == (GUARD_ND_DEFEND & ~3),
		       "the guard's two answers share one test");
	if ((ret & ~3) == (GUARD_ND_DEFEND & ~3))
		return XDP_PASS;	/* tc answers it (arp_defend, nd_defend) */
	if (IS_DROP(ret)) {
		/* the host's NIC: what admission refuses there is the
		 * host's traffic, which tc counts and passes on; a trunk's
		 * VLAN frames are tc's to switch (lib/vlan.h) */
		if (uplink || (ret == DROP(KVB_DROP_VLAN) && port_trunk(port)))
			return XDP_PASS;
		/* received, then dropped: counted as tc counts it, so a
		 * port's figures do not depend on the hook */
		st = stats_of(ifindex);
		count_rx(st, p.len);
		report_drop(ctx, 1, ifindex, p.len, st, ret);
		return XDP_DROP;
	}
	in = xdp_fwd_scratch();
	if (!in)
		return XDP_PASS;
	xdp_fwd_in(in, ifindex, &f);
	return xdp_switch(ctx, port, net, in);
}

/*
 * A nat network's WAN device (wan-xdp on): its established flows' replies
 * (lib/natxdp.h). The host's NIC: it never drops; admission's refusals are
 * for tc to count.
 */
static __always_inline int xdp_wan_entry(struct xdp_md *ctx,
					 const struct kvb_port *port)
{
	struct xdp_fwd_in *in;
	struct kvb_frame f;
	struct kvb_pkt p;

	kvb_pkt_from_xdp(&p, ctx);
	if (IS_DROP(kvb_admit(&p, 0, &f)))
		return XDP_PASS;
	in = xdp_fwd_scratch();
	if (!in)
		return XDP_PASS;
	xdp_fwd_in(in, ctx->ingress_ifindex, &f);
	return xdp_nat_wan(ctx, port, in);
}

/* kvb_xdp_bound's, once the frame's VLAN tag is known to be in it. */
static __always_inline int xdp_bound_entry(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex;
	struct kvb_port *port = bpf_map_lookup_elem(&kvb_port, &ifindex);

	if (port && port->role == KVB_PORT_WAN)
		return xdp_wan_entry(ctx, port);
	if (port && port->role == KVB_PORT_UPLINK)
		return xdp_entry(ctx, 1);
	return xdp_entry(ctx, 0);
}

/* Guest ports on taps: their frames carry their VLAN tags inline. */
SEC("xdp")
int kvb_xdp(struct xdp_md *ctx)
{
	return xdp_entry(ctx, 0);
}

/*
 * A bridge's uplink (uplink-xdp on), and a guest port on anything but a
 * tap (a veth): loaded bound to the device (BPF_F_XDP_DEV_BOUND_ONLY),
 * one program a device, because there a frame's VLAN tag may not be in
 * the frame at all: a NIC with rx-vlan-offload strips it into its
 * descriptor, a veth carries the metadata tag of its peer's skb (a VLAN
 * device over a device with tx-vlan-offload). tc sees such a tag
 * (skb->vlan_present: the frame is not switched), XDP does not: from an
 * uplink the fast path would deliver a tagged VLAN's frame to an
 * untagged network, from a guest a frame tc drops. So XDP goes on only
 * with frames the driver says have no tag outside them (-ENODATA); a
 * tag, or a driver that cannot tell (-EOPNOTSUPP: no VLAN hint), and
 * every frame goes to tc, which judges it. (Generic XDP cannot run a
 * device-bound program: the loader's attach fails there.) (A tap's frames
 * carry their tags inline: tun takes no VLAN offload; taps run kvb_xdp.)
 */
SEC("xdp")
int kvb_xdp_bound(struct xdp_md *ctx)
{
	__be16 proto;
	__u16 tci;

	if (!bpf_ksym_exists(bpf_xdp_metadata_rx_vlan_tag) ||
	    bpf_xdp_metadata_rx_vlan_tag(ctx, &proto, &tci) != -ENODATA)
		return XDP_PASS;
	return xdp_bound_entry(ctx);
}

/*
 * kvb_xdp_bound without the VLAN hint, for the unit tests alone:
 * BPF_PROG_RUN refuses a program bound to a device, so they run its
 * entries (an uplink's, a WAN device's) through this one. The loader never
 * loads it (and so never attaches it): its frames' VLAN tags could be out
 * of its sight.
 */
SEC("xdp")
int kvb_xdp_up_test(struct xdp_md *ctx)
{
	return xdp_bound_entry(ctx);
}
