/* SPDX-License-Identifier: GPL-2.0 */
/*
 * XDP's fast path: a known-unicast frame to a guest port of a bridge or
 * internal network, redirected through kvb_xdptx after admission and the
 * port guard, when XDP can prove that tc would have switched it the same
 * way and that the frame is complete. It serves two kinds of port, with
 * one set of checks: a guest's (to another guest of its network), and a
 * bridge network's uplink (a LAN host's frame to a guest: issue 17, item
 * 3). Everything else goes on to tc (XDP_PASS), untouched: tc stays the
 * authoritative path (DESIGN.md, contract 2), this only skips it.
 *
 * What tc's switch stage checks, checked here the same way (bridge.h,
 * bridge_from_guest): the destination is a fresh FDB entry of the
 * network; it is not the sender's own port; neither port is isolated;
 * the destination is a guest port of the same network (the uplink, the
 * host's MAC, the overlay's VXLAN device, a gateway: tc). And what only
 * tc does: a port with ACLs (their stages run in tc, and frames XDP
 * redirects pass neither the sender's tc ingress nor the receiver's tc
 * egress), DHCP (snooping), a spoofcheck port whose MAC is not pinned
 * yet (tc pins it), frames over the network's MTU or the receiver's. A
 * guest's frame takes the fast path only in native XDP: in generic XDP
 * it is a GSO frame, or one past a page (tun's native path takes the
 * rest), whose GSO fields the redirect would carry past tc's check of
 * them (admit: check_guest_gso).
 *
 * From the uplink, tc's switch stage (bridge_from_uplink) sends the host
 * its own frames (to the uplink's MAC), multicast and broadcast (flooded
 * and to the host), unknown destinations (flooded and to the host), and
 * a LAN host's frame to a MAC learnt on the uplink itself (LAN to LAN) on
 * to the host's stack: all XDP_PASS here. Admission refusals (VLAN tags,
 * jumbo frames, odd headers) are the host's traffic too: XDP_PASS, tc
 * counts them; a VLAN tag outside the frame (a NIC's descriptor, a veth
 * peer's skb) is only known to the uplink's own, device-bound program
 * (tap_xdp.bpf.c: kvb_xdp_bound), which alone forwards from an uplink.
 * What it redirects to a guest is the fast path's: the
 * receiver's isolation does not matter there (an isolated port hears
 * the uplink), its ACLs do; a router advertisement goes to tc (SAVI
 * learns the LAN's prefixes from it), as does DHCP (an ACK binds).
 * The LAN host's source MAC is learnt here as tc would learn it
 * (fdb_learn_src, refreshed at most once a second), so its entry never
 * goes stale while only XDP sees its frames.
 *
 * The checksum rule. XDP cannot see the virtio-net header, and a frame it
 * redirects into a tap leaves with an all-zero one: only a frame whose
 * checksums are complete may go. ARP has none; an IPv4 header checksum is
 * the guest's own (never offloaded); the L4 one is summed over the whole
 * segment here:
 *   - TCP, UDP, ICMP, ICMPv6 whose checksum verifies: bit-identical to a
 *     complete frame, redirected as it is;
 *   - TCP whose checksum field is the pseudo-header sum (what a guest with
 *     checksum offload leaves, virtio's NEEDS_CSUM) is completed here (a
 *     guest's only: from an uplink it goes to tc, see below), as
 *     a device would (csum_start of TCP is always the TCP header), but only
 *     where XDP runs on the tap's own buffer (native XDP): generic XDP
 *     keeps the skb CHECKSUM_PARTIAL, and a completed field would then be
 *     taken for the seed and finished a second time. XDP has no flag for
 *     the mode it runs in; the kernel's description of the frame's
 *     receive queue tells (kern.h: xdp_native: generic XDP's is the
 *     device's own receive queue, tun's native one its queue file's).
 *     Where that cannot be read, no metadata room says tun's own buffer
 *     (older tuns offered none there; generic XDP always does), on a
 *     kernel that lets XDP ask (kvb_xdp_meta); on one that does neither,
 *     the frame goes to tc. Every doubt is the safe direction: the frame
 *     goes to tc;
 *   - UDP that does not verify goes to tc (a tunnel with inner offload
 *     carries a complete outer checksum over a partial inner one: a new
 *     outer checksum would be wrong), as does UDP with checksum 0;
 *   - anything else (other ethertypes, IPv4 options or fragments, IPv6
 *     extension headers, SCTP, GRE, IPIP, ...) goes to tc.
 * A NIC's frames are complete, but an uplink may be a veth whose peer's
 * stack sends CHECKSUM_PARTIAL skbs (veth's XDP runs on them, with
 * metadata room): the same rule holds there, and a TCP checksum that is
 * the pseudo-header sum goes to tc rather than being completed, whatever
 * the hook's mode (a complete one that happens to equal it too: rare,
 * and the safe direction).
 */
#ifndef KVB_XDPFWD_H
#define KVB_XDPFWD_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "admit.h"
#include "csum.h"
#include "fdb.h"
#include "icmp6.h"
#include "kern.h"
#include "maps.h"
#include "parse.h"
#include "stats.h"

#ifdef KVB_HOOK_XDP	/* the XDP object's alone */

/*
 * Set by the loader (fabric.c: kernel_has_xdp_meta): the kernel lets an
 * XDP program call bpf_xdp_adjust_meta. Some kernels' builds refuse it
 * (the verifier: "program of this type cannot use helper"); with the
 * flag clear the call is dead code the verifier never reaches.
 */
const volatile __u32 kvb_xdp_meta = 0;

/*
 * The redirect targets (kvb_maps.h). Pinned by the loader, not by name:
 * the kernel marks every devmap BPF_F_RDONLY_PROG, creation refuses the
 * flag, and libbpf 1.1 then finds the pin's flags differ from the
 * object's and will not reuse it (loader/fabric.c: xdptx_reuse). No BTF:
 * the kernel takes none for a devmap (bpftool prints it in hex).
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, KVB_MAX_PORTS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} kvb_xdptx SEC(".maps");

/*
 * What the fast path takes of admission's findings (struct kvb_frame):
 * numbers only. It is a global function, verified once and not once per
 * path of the guard before it, and a global function gets no packet
 * pointers: it reads the frame itself.
 */
struct xdp_fwd_in {
	__u32 ifindex;		/* the sender's port */
	__u32 l4_off;		/* as kvb_frame's, when l4_ok */
	__u32 l4_len;
	__u16 proto;		/* host order EtherType */
	__u8 l4_proto;
	__u8 l4_ok;
	__u16 sport, dport;	/* host order, TCP/UDP */
};

/*
 * Where the entry puts them: the XDP stack is nearly full (entry, the
 * fast path, and the sum's frames together may not pass 512 bytes).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdp_fwd_in);
} kvb_xdp_tmp SEC(".maps");

static __always_inline struct xdp_fwd_in *xdp_fwd_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&kvb_xdp_tmp, &zero);
}

static __always_inline void xdp_fwd_in(struct xdp_fwd_in *in, __u32 ifindex,
				       const struct kvb_frame *f)
{
	in->ifindex = ifindex;
	in->l4_off = f->l4_off;
	in->l4_len = f->l4_len;
	in->proto = f->proto;
	in->l4_proto = f->l4_proto;
	in->l4_ok = f->l4_ok;
	in->sport = f->sport;
	in->dport = f->dport;
}

/* What the checksum rule says of a frame (xdp_l4_rule). */
enum {
	L4_PASS = 0,	/* to tc */
	L4_ASIS = 1,	/* complete: redirect it as it is */
	L4_FILL = 2,	/* TCP, partial: complete it, then redirect */
};

/*
 * The rule for the frame's L4 checksum (see the top). L4_FILL leaves the
 * field's offset in *at; a partial TCP checksum is known by its field,
 * without a sum (one that is complete and happens to equal the
 * pseudo-header sum is completed to itself).
 */
static __always_inline int xdp_l4_rule(struct xdp_md *ctx,
				       const struct xdp_fwd_in *f, __u32 *at)
{
	struct hdr_cursor c = { .pos = (void *)(long)ctx->data,
				.end = (void *)(long)ctx->data_end };
	void *eth = c.pos;
	__u32 len = f->l4_len, field, sum;
	__u64 pseudo = 0;
	__u16 check;
	int s;

	if (!CURSOR_TAKE(&c, struct ethhdr))
		return L4_PASS;
	if (f->proto == ETH_P_IP) {
		struct iphdr *ip = CURSOR_TAKE(&c, struct iphdr);

		/* options (Router Alert) and fragments: tc's */
		if (!ip || ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3fff)))
			return L4_PASS;
		pseudo = csum_raw_addr(&ip->saddr, 2);
	} else {
		struct ipv6hdr *ip6 = CURSOR_TAKE(&c, struct ipv6hdr);

		/* extension headers: tc's */
		if (!ip6 || ip6->nexthdr != f->l4_proto)
			return L4_PASS;
		pseudo = csum_raw_addr(ip6->saddr.in6_u.u6_addr32, 8);
	}
	if (f->l4_off != (__u32)(c.pos - eth))
		return L4_PASS;
	pseudo += bpf_htons((__u16)f->l4_proto) + bpf_htons((__u16)len);
	switch (f->l4_proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = CURSOR_TAKE(&c, struct tcphdr);

		if (!th)
			return L4_PASS;
		check = th->check;
		field = 16;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = CURSOR_TAKE(&c, struct udphdr);

		/* no checksum, or one over less than the packet: tc's */
		if (!uh || !uh->check || bpf_ntohs(uh->len) != len)
			return L4_PASS;
		check = uh->check;
		field = 6;
		break;
	}
	case IPPROTO_ICMP:
		pseudo = 0;	/* ICMPv4 has none */
		/* fall through */
	case IPPROTO_ICMPV6: {
		__u16 *h = cursor_take(&c, 4);

		if (!h)
			return L4_PASS;
		/* a router advertisement teaches SAVI a bridge LAN's
		 * prefixes (tc's entry, from the uplink): tc's */
		if (f->l4_proto == IPPROTO_ICMPV6 &&
		    *(__u8 *)h == ND_ROUTER_ADVERT_)
			return L4_PASS;
		check = h[1];
		field = 2;
		break;
	}
	default:
		return L4_PASS;
	}
	if (f->l4_proto == IPPROTO_TCP && check == csum_fold_u64(pseudo)) {
		*at = f->l4_off + field;
		return L4_FILL;
	}
	s = csum_xdp_fold(ctx, f->l4_off, len);
	if (s < 0)
		return L4_PASS;
	sum = csum_fold_u64(pseudo + (__u32)s);
	return sum == 0xffff ? L4_ASIS : L4_PASS;
}

/*
 * Does XDP run natively on this frame, so that a redirect sends its
 * bytes and loses any skb state (checksum, GSO: see the top)? Only then
 * may a guest's frame take the fast path, and XDP complete a partial
 * checksum. The kernel's own description of the frame's receive queue
 * says which (kern.h: xdp_native). Where it cannot be read (a kernel
 * without bpf_cast_to_kern_ctx), no metadata room says tun's own buffer
 * on kernels whose tun offers none (before 6.x's tun offered it, generic
 * XDP always did); the probe's room is given back at once. A kernel that
 * refuses XDP the helper (kvb_xdp_meta clear) and has no kfunc: tc's.
 */
static __always_inline int xdp_runs_native(struct xdp_md *ctx)
{
	int native = xdp_native(ctx);

	if (native >= 0)
		return native;
	/* a kernel that refuses the helper to XDP (kvb_xdp_meta): unknown,
	 * so the frame goes to tc, which completes it either way */
	if (!kvb_xdp_meta)
		return 0;
	if (bpf_xdp_adjust_meta(ctx, -4))
		return 1;	/* no metadata: tun's own buffer */
	bpf_xdp_adjust_meta(ctx, 4);
	return 0;
}

/* Is port p one whose ACLs judge its traffic (tc's stages)? */
static __always_inline int port_has_acl(const struct kvb_port *p)
{
	struct kvb_acl_port *ap;

	if (!acl_any())
		return 0;
	ap = acl_port_of(p);
	return ap && ap->set;
}

/*
 * Which frames the fast path carries at all (whatever their ports): ARP,
 * or IPv4/IPv6 with a checked L4 header, that no stage of tc's must see
 * first: DHCP (snooping binds and unbinds leases, and records the
 * clients' transactions an answer must match; DHCPv6: a REPLY to client
 * port 546 binds, a client's message to 547 opens a transaction or ends
 * a lease) and router
 * advertisements (SAVI learns a bridge LAN's prefixes from them), the
 * latter known in xdp_l4_rule, which reads the ICMPv6 header anyway.
 */
static __always_inline int xdp_fwd_kind(const struct xdp_fwd_in *f)
{
	if (f->proto == ETH_P_ARP)
		return 1;
	if (f->proto != ETH_P_IP && f->proto != ETH_P_IPV6)
		return 0;
	if (!f->l4_ok)
		return 0;
	if (f->l4_proto == IPPROTO_UDP &&
	    (f->sport == 67 || f->sport == 68 || f->dport == 67 ||
	     f->dport == 68 || f->dport == 546 || f->dport == 547))
		return 0;
	return 1;	/* router advertisements: xdp_l4_rule */
}

/*
 * A frame that admission and the guard passed (f), from port f->ifindex
 * of net: a guest port, or a bridge network's uplink. XDP_REDIRECT when
 * the fast path forwards it (counted on both ports as tc would, and in
 * the sender's xdp_fwd), else XDP_PASS.
 */
__noinline int xdp_switch(struct xdp_md *ctx, const struct kvb_port *port,
			  const struct kvb_net *net,
			  const struct xdp_fwd_in *f)
{
	struct hdr_cursor c = { .pos = (void *)(long)ctx->data,
				.end = (void *)(long)ctx->data_end };
	__u32 len = (__u32)(c.end - c.pos), out, at = 0, mtu = 0, ifindex;
	struct ethhdr *eth = CURSOR_TAKE(&c, struct ethhdr);
	const __u8 *dst;
	struct kvb_port *to;
	__u16 val = 0;
	int rule = L4_ASIS, ret;

	if (!eth || !port || !net || !f)
		return XDP_PASS;
	/*
	 * From a guest, native XDP only: tun runs generic XDP on what its
	 * native path does not take, a GSO frame (or one past a page), and
	 * generic XDP's redirect keeps the skb's GSO fields, which XDP can
	 * neither see nor clear: a frame of one segment with a gso_size of 1
	 * would reach the other guest as such, where tc drops it (gso-invalid). So
	 * generic XDP (and BPF_PROG_RUN, which looks alike) passes a guest's
	 * frames to tc; a NIC's (the uplink's) are never GSO before GRO.
	 */
	if (port->role == KVB_PORT_GUEST && !xdp_runs_native(ctx))
		return XDP_PASS;
	/* eth is read again: the check may have moved the metadata */
	c.pos = (void *)(long)ctx->data;
	c.end = (void *)(long)ctx->data_end;
	eth = CURSOR_TAKE(&c, struct ethhdr);
	if (!eth)
		return XDP_PASS;
	dst = eth->h_dest;
	ifindex = f->ifindex;
	if (port->role == KVB_PORT_UPLINK) {
		/* only a bridge's uplink is a LAN (a nat or routed
		 * network's host side is its gateway port) */
		if (net->type != KVB_NET_BRIDGE || net->uplink != ifindex)
			return XDP_PASS;
	} else {
		if (port->role != KVB_PORT_GUEST ||
		    (net->type != KVB_NET_BRIDGE &&
		     net->type != KVB_NET_INTERNAL))
			return XDP_PASS;
		if ((port->flags & KVB_PORT_F_SPOOFCHECK) &&
		    mac_is_zero(port->mac))
			return XDP_PASS;	/* tc pins its MAC */
		if (port->flags & KVB_PORT_F_ISOLATED)
			return XDP_PASS;	/* tc drops what it may not send */
	}
	if (mac_is_multicast(dst) || len > net->mtu + ETH_HLEN)
		return XDP_PASS;
	/* the host's own (from the uplink: into its stack) */
	if (net->uplink && mac_equal(dst, net->uplink_mac))
		return XDP_PASS;
	if (!xdp_fwd_kind(f))
		return XDP_PASS;
	/* where it goes first: what tc switches needs no sum */
	out = fdb_lookup(net->id, dst);
	if (!out || out == ifindex)
		return XDP_PASS;	/* unknown: tc floods; LAN to LAN */
	to = bpf_map_lookup_elem(&kvb_port, &out);
	if (!to || to->role != KVB_PORT_GUEST || to->net_id != net->id)
		return XDP_PASS;
	/* between guests only: an isolated port hears the uplink */
	if (port->role != KVB_PORT_UPLINK && (to->flags & KVB_PORT_F_ISOLATED))
		return XDP_PASS;
	/* an uplink has no ACLs of its own */
	if ((port->role != KVB_PORT_UPLINK && port_has_acl(port)) ||
	    port_has_acl(to))
		return XDP_PASS;
	/* larger than the receiver's MTU: the redirect would drop it */
	if (bpf_check_mtu(ctx, out, &mtu, 0, 0))
		return XDP_PASS;
	if (f->proto != ETH_P_ARP) {
		rule = xdp_l4_rule(ctx, f, &at);
		/* a partial TCP checksum from an uplink: tc's (see the top) */
		if (rule == L4_PASS ||
		    (rule == L4_FILL && port->role == KVB_PORT_UPLINK))
			return XDP_PASS;
	}
	/* a guest's partial TCP checksum: native XDP alone gets here (the
	 * redirect loses the skb's checksum state: see the top) */
	if (rule == L4_FILL) {
		int s;

		/* the device's work: the sum from csum_start, the seed
		 * (the pseudo-header sum) included, inverted */
		s = csum_xdp_fold(ctx, f->l4_off, f->l4_len);
		if (s < 0)
			return XDP_PASS;
		val = (__u16)~(__u32)s;
	}
	ret = bpf_redirect_map(&kvb_xdptx, out, XDP_PASS);
	if (ret != XDP_REDIRECT)
		return XDP_PASS;	/* not a redirect target */
	if (rule == L4_FILL) {
		void *data = (void *)(long)ctx->data;
		void *end = (void *)(long)ctx->data_end;
		__u16 *c;

		if (at > 511)
			return XDP_PASS;
		c = data + at;
		if ((void *)(c + 1) > end)
			return XDP_PASS;
		*c = val;
	}
	/* the source, read again: the stack has no room to keep it */
	c.pos = (void *)(long)ctx->data;
	c.end = (void *)(long)ctx->data_end;
	eth = CURSOR_TAKE(&c, struct ethhdr);
	if (eth)
		fdb_learn_src(net->id, mac_u64(eth->h_source), ifindex,
			      mac_u64(port->mac));
	{
		struct kvb_stats *st = stats_of_port(port);

		count_rx(st, len);
		if (st)
			st->xdp_fwd++;
	}
	count_tx(out, len);
	return XDP_REDIRECT;
}

#endif /* KVB_HOOK_XDP */
#endif /* KVB_XDPFWD_H */
