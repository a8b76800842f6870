/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Port identity (spoofcheck): a guest sends only as itself. Runs on frames
 * from guest ports with KVB_PORT_F_SPOOFCHECK, in both hooks, after
 * admission has checked the headers it reads.
 *
 * - source MAC is the port's MAC (configured, or pinned from the first
 *   frame by tc; until then any MAC that is not another port's own, see
 *   fdb_entry_owned: such a MAC is never pinned either);
 * - IPv4 source is one of the port's live bindings (kvb_addr: static or
 *   leased), or unspecified for DHCP discovery only; a port that has no
 *   IPv4 address and never had a lease is not checked in IPv4, except on
 *   a routed network: there it sends from the network's subnets;
 * - IPv6 source is its MAC-derived link-local, one of its live bindings
 *   (static, leased, SAVI), or with SAVI on an address it may claim now
 *   (first come, first served: bind.h); unspecified for duplicate-address
 *   detection only, and a DAD probe claims its target;
 * - never a gateway address of its network (nor the host's link-local);
 * - ARP senders obey the same rule as IPv4 sources (ip4_is_own), ND
 *   carries the port's MAC and addresses;
 * - no DHCP/DHCPv6 server messages, router advertisements or redirects
 *   (IPv4 and IPv6):
 *   a server message is known by what it is (a BOOTREPLY, a DHCPv6
 *   ADVERTISE/REPLY/RECONFIGURE/RELAY-REPL, anything to a client port;
 *   a guest relays nothing either: no RELAY-FORW),
 *   not by the source port its sender chose.
 * RARP (QEMU's announcement after live migration) passes the MAC check.
 */
#ifndef KVB_GUARD_H
#define KVB_GUARD_H

#include "bind.h"
#include "fdb.h"
#include "icmp6.h"
#include "maps.h"
#include "parse.h"
#include "admit.h"
#include "subnet.h"

#define ETH_P_RARP_ 0x8035
#define ICMP_REDIRECT_ 5
#define ICMP_ROUTER_ADVERT_ 9	/* router discovery, RFC 1256 */
#define ND_OPT_MAX 16		/* ND options examined; more are dropped */
#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP6_CLIENT_PORT 546
#define DHCP6_SERVER_PORT 547
#define BOOTREQUEST 1
#define BOOTP_OFF_CHADDR 28
#define BOOTP_CHADDR_END 44	/* op .. chaddr[16]: what the guard reads */
#define DHCP6_SOLICIT 1
#define DHCP6_ADVERTISE 2
#define DHCP6_REQUEST 3
#define DHCP6_CONFIRM 4
#define DHCP6_RENEW 5
#define DHCP6_REBIND 6
#define DHCP6_REPLY 7
#define DHCP6_RECONFIGURE 10
#define DHCP6_RELEASE 8
#define DHCP6_DECLINE 9
#define DHCP6_RELAY_FORW 12
#define DHCP6_OPT_IA_NA 3
#define DHCP6_OPT_IA_TA 4
#define DHCP6_OPT_IAADDR 5
#define DHCP6_OPTS_MAX 16	/* options of a message that names addresses */
#define DHCP6_IA_OPTS_MAX 4	/* options of one IA examined */

/* the hook's context, for the global functions (verified once) */
#ifdef KVB_HOOK_XDP
#define KVB_CTX_T struct xdp_md
#else
#define KVB_CTX_T struct __sk_buff
#endif
#define DHCP6_RELAY_REPL 13

/* addr is bound to the port, and the binding lives (a lease not ended) */
static __always_inline int addr_known(__u32 ifindex, __u8 family,
				      const void *addr, __u32 len)
{
	return bind_of(ifindex, family, addr, len) != NULL;
}

/*
 * Does another port of network net_id hold a (IPv4): its static `ip`, or
 * a lease that lives? The owner entry says which port (kvb_maps.h:
 * kvb_addr). Global: one more key on the stack, which XDP has no room
 * for inline.
 */
__noinline int ip4_held_elsewhere(__u32 net_id, __u32 ifindex, __u32 a)
{
	struct kvb_addr_key k = { .family = 4, .net_id = (__u8)net_id };
	struct kvb_addr *o;

	__builtin_memcpy(k.addr, &a, 4);
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	if (!o || o->owner == ifindex)
		return 0;
	if (o->flags & KVB_ADDR_F_STATIC)
		return 1;
	k.ifindex = o->owner;
	k.net_id = 0;
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	return o && bind_live(o, kvb_now());
}


/*
 * May the port use a (IPv4, not 0.0.0.0) as its own? One answer for IP
 * sources and ARP senders alike: never a gateway's; one of its live
 * bindings when it has any address or has had a lease (a released or
 * ended lease leaves the port held, not free); else, on a nat or routed
 * network, one in the network's subnets; else any that no other port of
 * the network holds (a guest without an address yet, on a bridge whose
 * LAN runs DHCP, must not take over another guest's address by ARP).
 * ip4_own_by_port answers what the port's own configuration says: 1, 0,
 * or -1 when only the other ports' addresses can tell.
 */
static __always_inline int ip4_own_by_port(const struct kvb_port *port,
					   const struct kvb_net *net,
					   __u32 ifindex, __be32 a)
{
	if (ip4_is_gateway(net, a))
		return 0;
	/* the port's configured address (kvb_port.ip4): bound, no lookup */
	if (port->ip4 && a == port->ip4)
		return 1;
	if (port->n_ip4 || (port->held & KVB_HELD_IP4))
		return addr_known(ifindex, 4, &a, 4);
	/* a nat or routed network's guest sends from its subnets only (as
	 * libvirt's nat rules refuse other sources): else another network's
	 * address, a peered one's guest's say, goes out by routing */
	if ((net->type == KVB_NET_ROUTED || net->type == KVB_NET_NAT) &&
	    !ip4_in_net(net, a))
		return 0;
	return -1;	/* any that no other port holds */
}

static __always_inline int ip4_is_own(const struct kvb_port *port,
				      const struct kvb_net *net,
				      __u32 ifindex, __be32 a)
{
	int own = ip4_own_by_port(port, net, ifindex, a);

	return own >= 0 ? own : !ip4_held_elsewhere(net->id, ifindex, (__u32)a);
}

/*
 * May the port send from a (IPv6, not ::)? 0, or the drop. Never a
 * gateway's; its MAC's EUI-64 link-local always; one of its live bindings
 * (static, leased, or its own SAVI one, which the use keeps alive, unless
 * it is the EUI-64 address of a MAC another port owns now); with
 * SAVI on (the default), an address it may claim now (bind.h: savi_claim,
 * which binds it); with SAVI off, nothing else.
 */
static __always_inline int ip6_source(const struct kvb_port *port,
				      const struct kvb_net *net,
				      __u32 ifindex, const __u8 *a,
				      const __u8 *mac)
{
	struct kvb_addr_key k = { .ifindex = ifindex, .family = 6 };
	struct kvb_addr *b;

	if (ip6_is_gateway(net, a))
		return DROP(KVB_DROP_SPOOF_IP);
	if (ip6_is_mac_ll(a, mac))
		return 0;
	k.net_id = (__u8)net->id;
	__builtin_memcpy(k.addr, a, 16);
	b = bind_of(ifindex, 6, a, 16);
	if (b) {
		/* the EUI-64 address of a MAC not the port's: one look at
		 * the MAC table, which no address of the guest's own costs */
		if ((b->flags & KVB_ADDR_F_SAVI) && a[11] == 0xff &&
		    a[12] == 0xfe && !eui64_is(a, mac) &&
		    savi_eui64_recheck(&k))
			return DROP(KVB_DROP_SAVI_CONFLICT);
		savi_refresh(b);
		return 0;
	}
	if (port->flags & KVB_PORT_F_SAVI_OFF)
		return DROP(KVB_DROP_SPOOF_IP);
	return savi_claim(&k, 0);
}

/*
 * The guard reads what lies past the headers admission checked through
 * kvb_load(), not the cursor: a cursor read widens the proven packet
 * range differently on each path, and tc's verifier then follows every
 * path on through routing and NAT (the guard cost tc 400k of its 1M
 * instructions of verification).
 */
static __always_inline __u32 l4_offset(const struct kvb_frame *f)
{
	return f->l4_off;
}

/*
 * DHCP from a guest: only client messages. Whatever its ports, a message to
 * a client port is a server's (only servers and relays answer clients), and
 * what goes to the server port must be a BOOTREQUEST.
 */
static __always_inline int guard_dhcp4(const struct kvb_frame *f,
				       const __u8 *mac)
{
	__u64 chaddr = 0, pad8 = 0;	/* chaddr's padding: 8 + 2 bytes */
	__u16 pad2 = 0;
	__u8 hdr[4];		/* op, htype, hlen, hops */

	if (f->sport == DHCP_SERVER_PORT || f->dport == DHCP_CLIENT_PORT)
		return DROP(KVB_DROP_SPOOF_DHCP);
	if (f->dport != DHCP_SERVER_PORT)
		return 0;
	/* the whole fixed header up to chaddr's end must be there */
	if (f->l4_len < sizeof(struct udphdr) + BOOTP_CHADDR_END ||
	    kvb_load(f->ctx, l4_offset(f) + sizeof(struct udphdr), hdr, 4))
		return DROP(KVB_DROP_L4);
	if (hdr[0] != BOOTREQUEST)
		return DROP(KVB_DROP_SPOOF_DHCP);
	/*
	 * A client speaks for its own MAC only (no pool exhaustion, no
	 * releases of others' leases): the server knows a lease by the
	 * hardware type, length and address together (client identifiers
	 * ignored: dhcp.c), so all three are the port's Ethernet MAC's,
	 * the rest of chaddr zero.
	 */
	if (hdr[1] != 1 || hdr[2] != ETH_ALEN ||
	    kvb_load(f->ctx, l4_offset(f) + sizeof(struct udphdr) +
			     BOOTP_OFF_CHADDR, &chaddr, ETH_ALEN) ||
	    chaddr != mac_u64(mac) ||
	    kvb_load(f->ctx, l4_offset(f) + sizeof(struct udphdr) +
			     BOOTP_OFF_CHADDR + ETH_ALEN, &pad8, 8) ||
	    kvb_load(f->ctx, l4_offset(f) + sizeof(struct udphdr) +
			     BOOTP_OFF_CHADDR + ETH_ALEN + 8, &pad2, 2) ||
	    pad8 || pad2)
		return DROP(KVB_DROP_DHCP_CHADDR);
	return 0;
}

/*
 * An IA address a guest's message names: 1 when another port holds it by
 * a live binding of one of the sources in held (enum kvb_addr_flags),
 * else 0.
 */
static __always_inline int dhcp6_addr_foreign(KVB_CTX_T *ctx, __u32 off,
					      __u32 ifindex, __u32 net_id,
					      __u32 held)
{
	struct kvb_addr_key k = { .family = 6, .net_id = (__u8)net_id };
	struct kvb_addr *o, *b;

	if (kvb_load(ctx, off, k.addr, 16))
		return 1;
	o = bpf_map_lookup_elem(&kvb_addr, &k);
	if (!o || o->owner == ifindex)
		return 0;
	b = bind_of(o->owner, 6, k.addr, 16);
	return b && (b->flags & held);
}

/*
 * A DHCPv6 message that names addresses (REQUEST, CONFIRM, RENEW, REBIND,
 * RELEASE, DECLINE) names only addresses no other port holds. The server
 * acts on whatever DUID and IAID the message names, and every port has
 * seen the other clients' (their SOLICIT and REQUEST are multicast): a
 * guest that ends another port's lease would end that port's binding (the
 * lease script) and take the address by its first use; one that renews
 * it makes the server record the guest's MAC on the victim's lease, so
 * that the lease's end no longer unbinds the victim. A RELEASE may name
 * no address another port holds at all; the others none that another
 * port has leased or was given (held: the sources that count), because a
 * lease takes an address from a first-use (SAVI) binding: a guest that
 * squats on an address of the range must not stop its client's REQUEST,
 * nor the DECLINE that the client sends when its DAD finds the squatter
 * there (refused, the server never learnt the address was taken and
 * offered it again, for ever). The options from off (left bytes), each IA_NA and
 * IA_TA, each IAADDR in them; one the guard cannot read, or options past
 * the ones it examines, also refuse the message. 0: pass. A global function: the walk
 * is verified once.
 */
__noinline int dhcp6_addr_walk(KVB_CTX_T *ctx, __u32 off, __u32 left,
			       __u32 ifindex, __u32 net_held)
{
	/* BPF calls take five arguments: the network's id (a byte) and held
	 * share one */
	__u32 net_id = net_held & 0xff, held = net_held >> 8;

	for (int i = 0; i < DHCP6_OPTS_MAX; i++) {
		__u8 h[4];
		__u32 code, len, sub, sleft;

		if (!left)
			return 0;
		if (left < 4 || kvb_load(ctx, off & 0xffff, h, 4))
			return 1;
		code = (__u32)h[0] << 8 | h[1];
		len = (__u32)h[2] << 8 | h[3];
		if (len + 4 > left)
			return 1;
		if (code == DHCP6_OPT_IA_NA || code == DHCP6_OPT_IA_TA) {
			__u32 fixed = code == DHCP6_OPT_IA_NA ? 12 : 4;

			if (len < fixed)
				return 1;
			sub = off + 4 + fixed;
			sleft = len - fixed;
			for (int j = 0; j < DHCP6_IA_OPTS_MAX && sleft; j++) {
				__u32 scode, slen;

				if (sleft < 4 ||
				    kvb_load(ctx, sub & 0xffff, h, 4))
					return 1;
				scode = (__u32)h[0] << 8 | h[1];
				slen = (__u32)h[2] << 8 | h[3];
				if (slen + 4 > sleft)
					return 1;
				if (scode == DHCP6_OPT_IAADDR &&
				    (slen < 16 ||
				     dhcp6_addr_foreign(ctx, (sub + 4) & 0xffff,
							ifindex, net_id, held)))
					return 1;
				sub += slen + 4;
				sleft -= slen + 4;
			}
			if (sleft)
				return 1;
		}
		off += len + 4;
		left -= len + 4;
	}
	return left ? 1 : 0;
}

/*
 * DHCPv6 from a guest: the same, by message type. A guest is no relay
 * either: dnsmasq takes a relayed client's MAC from the relay's option
 * (RFC 6939), and the lease script binds the lease to the port of that
 * MAC, so a RELAY-FORW from a guest would bind leases to other ports.
 */
static __always_inline int guard_dhcp6(const struct kvb_frame *f,
				       __u32 ifindex, __u32 net_id)
{
	__u32 held;
	__u8 msg;

	if (f->sport == DHCP6_SERVER_PORT || f->dport == DHCP6_CLIENT_PORT)
		return DROP(KVB_DROP_SPOOF_DHCP);
	if (f->dport != DHCP6_SERVER_PORT)
		return 0;
	if (kvb_load(f->ctx, l4_offset(f) + sizeof(struct udphdr), &msg, 1))
		return DROP(KVB_DROP_L4);
	if (msg == DHCP6_ADVERTISE || msg == DHCP6_REPLY ||
	    msg == DHCP6_RECONFIGURE || msg == DHCP6_RELAY_REPL ||
	    msg == DHCP6_RELAY_FORW)
		return DROP(KVB_DROP_SPOOF_DHCP);
	if (msg < DHCP6_REQUEST || msg == DHCP6_REPLY || msg > DHCP6_DECLINE)
		return 0;
	held = KVB_ADDR_F_STATIC | KVB_ADDR_F_DHCP;
	if (msg == DHCP6_RELEASE)
		held |= KVB_ADDR_F_SAVI;
	if (f->l4_len < sizeof(struct udphdr) + 4 ||
	    dhcp6_addr_walk(f->ctx, l4_offset(f) + sizeof(struct udphdr) + 4,
			    f->l4_len - sizeof(struct udphdr) - 4, ifindex,
			    (net_id & 0xff) | held << 8))
		return DROP(KVB_DROP_DHCP6_FOREIGN);
	return 0;
}

/*
 * RS/NS/NA: every link-layer option carries our MAC. Every option is
 * examined: one the guard cannot read (cut short, length 0, longer than
 * the message) or one past ND_OPT_MAX drops the message, so that no
 * option hides behind others.
 *
 * A global function: the verifier checks the walk once, not on each path
 * that reaches it (RS, DAD, NS, NA; tc is close to its limit). It gets
 * the options' offset and length in the frame and the MAC as numbers and
 * answers with an ND_OPTS_* code.
 */
#define ND_OPTS_OK 0
#define ND_OPTS_FOREIGN 1	/* a link-layer option names another MAC */
#define ND_OPTS_BAD 2		/* cut short, length 0, past the message */
#define ND_OPTS_MANY 3		/* more than ND_OPT_MAX */

__noinline int nd_opts_walk(KVB_CTX_T *ctx, __u32 off, __u32 left, __u64 mac)
{
	for (int i = 0; i < ND_OPT_MAX; i++) {
		__u8 opt[8];
		__u32 len;

		if (!left)
			return ND_OPTS_OK;
		if (kvb_load(ctx, off, opt, sizeof(opt)) || !opt[1])
			return ND_OPTS_BAD;
		len = opt[1] * 8;
		if (len > left)
			return ND_OPTS_BAD;
		if ((opt[0] == 1 || opt[0] == 2) && mac_u64(opt + 2) != mac)
			return ND_OPTS_FOREIGN;
		off += len;
		left -= len;
	}
	return left ? ND_OPTS_MANY : ND_OPTS_OK;
}

/* The options of an ND message, from optoff (8 in an RS, 24 in NS/NA). */
static __always_inline int guard_nd_opts(const struct kvb_frame *f,
					 __u32 optoff, const __u8 *mac)
{
	int ret;

	if (f->l4_len < optoff)
		return DROP(KVB_DROP_L4);
	ret = nd_opts_walk(f->ctx, l4_offset(f) + optoff, f->l4_len - optoff,
			   mac_u64(mac));
	if (ret == ND_OPTS_OK)
		return 0;
	if (ret == ND_OPTS_FOREIGN)
		return DROP(KVB_DROP_SPOOF_ND);
	if (ret == ND_OPTS_MANY)
		return DROP(KVB_DROP_ND_OPTS);
	return DROP(KVB_DROP_L4);
}

/* An NA's target is ours. */
static __always_inline int guard_na_target(const struct kvb_port *port,
					   const struct kvb_net *net,
					   __u32 ifindex,
					   const struct kvb_frame *f,
					   const __u8 *mac)
{
	__u8 target[16];

	if (f->l4_len < 24 ||
	    kvb_load(f->ctx, l4_offset(f) + 8, target, sizeof(target)))
		return DROP(KVB_DROP_L4);
	return IS_DROP(ip6_source(port, net, ifindex, target, mac)) ?
		       DROP(KVB_DROP_SPOOF_ND) : 0;
}

/*
 * A DAD probe (NS from ::): for a gateway's address only where the
 * gateway answers it (nat, routed); for another
 * port's address only as bind.h's savi_dad allows (never a static one,
 * a learned one once its holder is done probing); else it claims the
 * address for the port (SAVI on).
 */
static __always_inline int guard_dad(const struct kvb_port *port,
				     const struct kvb_net *net,
				     __u32 ifindex, const struct kvb_frame *f,
				     const __u8 *mac)
{
	struct kvb_addr_key k = { .ifindex = ifindex, .family = 6,
				  .net_id = (__u8)net->id };

	if (f->l4_len < 24 ||
	    kvb_load(f->ctx, l4_offset(f) + 8, k.addr, sizeof(k.addr)))
		return DROP(KVB_DROP_L4);
	/* the gateway's address: it binds nothing, and a nat or routed
	 * network's gateway stage answers (nd_gateway: the NA to all nodes
	 * that tells the guest its address is taken), as the ARP probe for
	 * the gateway is answered; a bridge's uplink holds the host's */
	if (ip6_is_gateway(net, k.addr))
		return net->type == KVB_NET_NAT || net->type == KVB_NET_ROUTED ?
			       0 : DROP(KVB_DROP_SPOOF_ND);
	if (ip6_is_mac_ll(k.addr, mac))
		return 0;
	/* another port holds it: GUARD_ND_DEFEND, tc answers for the
	 * holder (t115: the prober heard nothing, took the address and was
	 * refused) */
	return savi_dad(&k, !(port->flags & KVB_PORT_F_SAVI_OFF));
}

static __always_inline int guard_ipv6(const struct kvb_port *port,
				      const struct kvb_net *net, __u32 ifindex, const struct kvb_frame *f,
				      const __u8 *mac)
{
	int icmp6 = f->l4_ok && f->l4_proto == IPPROTO_ICMPV6;
	int ret;

	/*
	 * Neighbour discovery in a fragment (RFC 6980): the options of the
	 * later fragments would go unexamined. Only a first (or atomic)
	 * fragment says its type; a later one without it is never
	 * reassembled.
	 */
	if (icmp6 && f->frag6 && f->icmp_type >= ND_ROUTER_SOLICIT_ &&
	    f->icmp_type <= ND_REDIRECT_)
		return DROP(KVB_DROP_ND_FRAGMENT);
	if (icmp6 && (f->icmp_type == ND_ROUTER_ADVERT_ ||
		      f->icmp_type == ND_REDIRECT_))
		return DROP(KVB_DROP_SPOOF_RA);
	if (f->l4_ok && f->l4_proto == IPPROTO_UDP) {
		ret = guard_dhcp6(f, ifindex, net->id);
		if (ret)
			return ret;
	}
	if (ip6_is_unspec(f->saddr6)) {
		/* DAD probes, router solicitations and the MLD reports
		 * sent while probing; options examined like any others' */
		if (icmp6 && f->icmp_type == ND_NEIGHBOR_SOLICIT_) {
			ret = guard_dad(port, net, ifindex, f, mac);
			return ret ? ret : guard_nd_opts(f, 24, mac);
		}
		if (icmp6 && f->icmp_type == ND_ROUTER_SOLICIT_)
			return guard_nd_opts(f, 8, mac);
		if (icmp6 && f->icmp_type == MLD2_REPORT_)
			return 0;
		return DROP(KVB_DROP_SPOOF_IP);
	}
	ret = ip6_source(port, net, ifindex, f->saddr6, mac);
	if (ret)
		return ret;
	if (icmp6 && f->icmp_type == ND_NEIGHBOR_ADVERT_) {
		ret = guard_na_target(port, net, ifindex, f, mac);
		if (ret)
			return ret;
	}
	if (icmp6 && (f->icmp_type == ND_NEIGHBOR_SOLICIT_ ||
		      f->icmp_type == ND_NEIGHBOR_ADVERT_))
		return guard_nd_opts(f, 24, mac);
	if (icmp6 && f->icmp_type == ND_ROUTER_SOLICIT_)
		return guard_nd_opts(f, 8, mac);
	return 0;
}

static __always_inline int guard_ipv4(const struct kvb_port *port,
				      const struct kvb_net *net, __u32 ifindex,
				      const struct kvb_frame *f)
{
	int udp = f->l4_ok && f->l4_proto == IPPROTO_UDP;
	int ret;

	if (udp) {
		ret = guard_dhcp4(f, f->eth->h_source);
		if (ret)
			return ret;
	}
	if (!f->saddr4)
		return udp && f->sport == 68 && f->dport == 67 ?
			       0 : DROP(KVB_DROP_SPOOF_IP);
	if (!ip4_is_own(port, net, ifindex, f->saddr4))
		return DROP(KVB_DROP_SPOOF_IP);
	/* only routers redirect or advertise themselves (IPv6's:
	 * guard_ipv6); a solicitation is any host's */
	if (f->l4_ok && f->l4_proto == IPPROTO_ICMP &&
	    (f->icmp_type == ICMP_REDIRECT_ ||
	     f->icmp_type == ICMP_ROUTER_ADVERT_))
		return DROP(KVB_DROP_SPOOF_RA);
	return 0;
}

static __always_inline int guard_arp(const struct kvb_port *port,
				     const struct kvb_net *net, __u32 ifindex,
				     const struct kvb_frame *f, const __u8 *mac)
{
	struct kvb_arp *arp = f->arp;
	__be32 spa;

	if (!arp || !mac_equal(arp->sha, mac))
		return DROP(KVB_DROP_SPOOF_ARP);
	spa = arp->spa;
	/* 0.0.0.0 is an address probe (RFC 5227). One for an address
	 * another port holds never reaches that port's guest, which would
	 * take it for a conflict (a DHCP client declines its lease, and
	 * the next: a hostile guest answering every probe with its own
	 * keeps the others from any address; IPv6's DAD probe: bind.h,
	 * savi); tc answers it for that port (arp_defend), so that a
	 * prober the LAN's server gave a held address declines it */
	if (!spa) {
		if (!ip4_held_elsewhere(net->id, ifindex, arp->tpa))
			return 0;
		return arp->op == bpf_htons(1) ? GUARD_ARP_DEFEND :
						 DROP(KVB_DROP_SPOOF_ARP);
	}
	if (!ip4_is_own(port, net, ifindex, spa))
		return DROP(KVB_DROP_SPOOF_ARP);
	return 0;
}

/*
 * A frame some routers and switches take for another than the identity
 * checks below judge: an LLC frame (802.3, a length for EtherType, or
 * the jumbo LLC EtherType 0x8870) with a SNAP header that names, by its
 * EtherType, IPv4, ARP, RARP, IPv6 or a VLAN tag inside, whatever its
 * OUI (RFC 1042's 00-00-00, 802.1H's 00-00-F8 that translating bridges
 * and access points convert alike, a vendor's), SAP bits (group DSAP,
 * response SSAP) or control field (UI with poll/final, a two-byte I or S
 * one); an LLC frame to or from the IP or ARP SAP (0x06, 0x98); or a tag
 * of the old QinQ TPIDs (0x9100, 0x9200, 0x9300; 802.1Q and 802.1ad are
 * refused before, vlan.h). Other LLC and SNAP frames (NetBIOS, IPX, CDP)
 * pass as before.
 */
static __always_inline int l2_disguised(const struct kvb_frame *f)
{
	__u8 llc[10];
	__u16 type;
	__u32 at;

	if (f->proto == 0x9100 || f->proto == 0x9200 || f->proto == 0x9300)
		return 1;
	if (f->proto >= 0x600 && f->proto != 0x8870)
		return 0;
	if (kvb_load(f->ctx, ETH_HLEN, llc, sizeof(llc)))
		return 0;	/* too short to carry a packet */
	/* IP and ARP by their own SAPs (0x06, 0x98: IEEE 802.2's
	 * encapsulation before SNAP), in the DSAP or the SSAP */
	if ((llc[0] | 1) == 0x07 || (llc[1] | 1) == 0x07 ||
	    (llc[0] | 1) == 0x99 || (llc[1] | 1) == 0x99)
		return 1;
	/* the SNAP SAP, 0xAA, in the DSAP or the SSAP, either low bit */
	if ((llc[0] | 1) != 0xab && (llc[1] | 1) != 0xab)
		return 0;
	/* a U frame's control is one byte, an I or S frame's two; then
	 * the OUI (3 bytes) and the EtherType */
	at = (llc[2] & 3) == 3 ? 6 : 7;
	type = (__u16)llc[at] << 8 | llc[at + 1];
	switch (type) {
	case ETH_P_IP: case ETH_P_ARP: case ETH_P_RARP_: case ETH_P_IPV6:
	case ETH_P_8021Q_: case ETH_P_8021AD_:
	case 0x9100: case 0x9200: case 0x9300:
		return 1;
	}
	return 0;
}

/*
 * A spoofcheck port without a MAC yet sends with one that another port
 * owns (fdb_entry_owned). tc has just tried to pin the frame's MAC
 * (fdb_pin): the port is still without one exactly when another port
 * owns it, so tc need not look again (and its verification stays within
 * budget); XDP, which pins nothing, looks.
 */
static __always_inline int mac_owned_elsewhere(const struct kvb_net *net,
					       __u32 ifindex, const __u8 *mac)
{
#ifdef KVB_HOOK_XDP
	return mac_equal(mac, net->uplink_mac) ||
	       fdb_owned_elsewhere(net->id, mac_u64(mac), ifindex);
#else
	return 1;
#endif
}

static __always_inline int kvb_guard(const struct kvb_port *port,
				     const struct kvb_net *net, __u32 ifindex,
				     const struct kvb_frame *f)
{
	const __u8 *mac = f->eth->h_source;

	/* a guest's pause frame, EAPOL-Logoff, LACP or BPDU would reach
	 * the LAN's switch port as the host's: never forwarded, spoofcheck
	 * or not */
	if (port->role == KVB_PORT_GUEST &&
	    mac_is_link_local_group(f->eth->h_dest))
		return DROP(KVB_DROP_L2_LINK_LOCAL);
	if (!(port->flags & KVB_PORT_F_SPOOFCHECK) ||
	    port->role != KVB_PORT_GUEST)
		return 0;
	if (mac_is_zero(port->mac) ? mac_owned_elsewhere(net, ifindex, mac) :
				     !mac_equal(mac, port->mac))
		return DROP(KVB_DROP_SPOOF_MAC);
	if (l2_disguised(f))
		return DROP(KVB_DROP_L2_DISGUISED);
	switch (f->proto) {
	case ETH_P_ARP:
		return guard_arp(port, net, ifindex, f, mac);
	case ETH_P_IP:
		return guard_ipv4(port, net, ifindex, f);
	case ETH_P_IPV6:
		return guard_ipv6(port, net, ifindex, f, mac);
	}
	return 0;
}

#endif /* KVB_GUARD_H */
