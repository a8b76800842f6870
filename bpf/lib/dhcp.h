/* SPDX-License-Identifier: GPL-2.0 */
/*
 * DHCP snooping (tc only): an address a DHCP server leases is one the
 * client's port may send from, for the lease's life and no longer. This
 * protects ports on a bridge whose LAN runs its own DHCP server, and ports
 * of nat networks served by the fabric's dnsmasq, for which the fabric was
 * told no address. Only the uplink, the gateway and guests with spoofcheck
 * off can send server messages at all (guard.h), and a guest's client
 * messages carry its own MAC as chaddr (guard_dhcp4).
 *
 * - a DISCOVER or REQUEST from a guest port records its xid for the port
 *   (dhcp_xid_note; kvb_maps.h: kvb_dhcpx);
 * - an ACK binds yiaddr to the port behind chaddr until the lease (option
 *   51) ends, and moves it from another port that had it by a lease
 *   (bind.h: kvb_bind), only if its xid is one that port's client sent
 *   within KVB_DHCP_XID_S (an ACK nobody asked for binds nothing: a LAN
 *   host could otherwise lease a guest a second's address it never sees
 *   and hold the port to nothing, or fill kvb_addr); an ACK without a
 *   lease time answers an INFORM and binds nothing;
 * - a RELEASE (ciaddr) or a DECLINE (option 50) from the port unbinds it;
 * - the guard refuses a binding whose lease ended, the sweep removes it.
 *
 * DHCPv6 alike: a server's REPLY (UDP 547 -> 546) is sent to the client's
 * link-local address (RFC 8415, 18.3), so its destination MAC names the
 * client's port; if it answers a transaction that port's client opened
 * lately (SOLICIT, REQUEST, CONFIRM, RENEW, REBIND), every IAADDR of its
 * IA_NA and IA_TA options is the port's lease until its valid lifetime
 * ends (0: the lease ended). On a
 * bridge (the LAN's server, through the uplink) and an internal network
 * (a router VM with spoofcheck off) nothing else binds a lease: without
 * this, a guest that saw another's multicast REQUEST could use its
 * address first, hold it by SAVI's first claim and deny it to its client
 * for good (its DAD probe refused, its DECLINE refused as dhcp6-foreign).
 * A nat or routed network's leases are bound by the loader's lease script
 * too; binding one twice changes nothing.
 */
#ifndef KVB_DHCP_H
#define KVB_DHCP_H

#include "bind.h"
#include "fdb.h"
#include "guard.h"
#include "maps.h"

#define DHCP_OFF_CIADDR 12	/* from the start of the BOOTP message */
#define DHCP_OFF_YIADDR 16
#define DHCP_OFF_CHADDR 28
#define DHCP_OFF_MAGIC 236
#define DHCP_OFF_OPTIONS 240
#define DHCP_MAGIC 0x63825363
#define DHCP_OPT_REQIP 50
#define DHCP_OPT_LEASE 51
#define DHCP_OPT_MSGTYPE 53
#define DHCP_OPT_SERVER 54
#define DHCP_OFF_XID 4
#define DHCP_DISCOVER 1
#define DHCP_REQUEST 3
#define DHCP_DECLINE 4
#define DHCP_ACK 5
#define DHCP_RELEASE 7
#define DHCP_OPT_OVERLOAD 52
/* options walked, pads counted: a client's message whose options do not
 * end within them is not read (dhcp_options: odd) */
#define DHCP_MAX_OPTS 96
#define DHCP_OPT_RAPID 80
#define DHCP_LEASE_INFINITE 0xffffffffU
#define DHCP6_IAADDR_LEN 24	/* address, preferred and valid lifetimes */
#define DHCP6_OPT_RAPID_COMMIT 14

#define DHCP6_UNBIND 0x100	/* dhcp6_snoop_ias: end the port's leases */

/*
 * Does the DHCP stage see a UDP frame (sport -> dport, of EtherType proto)
 * from a port of role? DHCPv4's ports in IPv4 only and DHCPv6's in IPv6
 * only: the guard judges each family's server messages by its own ports
 * (an IPv4 datagram to 546, an IPv6 one to 68 would otherwise be snooped
 * as a lease a guest wrote itself). A DHCPv6 REPLY from a nat or routed
 * network's gateway is dnsmasq's, whose leases the loader's lease script
 * binds (with its per-port cap): not snooped there.
 */
static __always_inline int dhcp_snooped(__u16 proto, __u16 sport,
					__u16 dport, __u8 role)
{
	if (proto == ETH_P_IP)
		return (sport == 67 && dport == 68) ||
		       (dport == 67 && role == KVB_PORT_GUEST);
	if (proto == ETH_P_IPV6)
		return (dport == DHCP6_SERVER_PORT &&
			role == KVB_PORT_GUEST) ||
		       (sport == DHCP6_SERVER_PORT &&
			dport == DHCP6_CLIENT_PORT &&
			role != KVB_PORT_GATEWAY);
	return 0;
}

/* kvb_dhcpx's families */
#define DHCPX_V4 0
#define DHCPX_V6 1

/* The port's record of its client's transactions, or NULL. */
static __always_inline struct kvb_dhcpx *dhcpx_of(__u32 ifindex)
{
	struct kvb_port *port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	__u32 slot;

	if (!port)
		return NULL;
	slot = port->slot;
	return bpf_map_lookup_elem(&kvb_dhcpx, &slot);
}

/*
 * The client of port ifindex sent a message of transaction xid (family
 * fam: DHCPX_V4 or DHCPX_V6) that a server answers: recorded with its
 * time, in its own record if it has one (a retransmission), else in the
 * oldest of the port's KVB_DHCP_XIDS.
 */
__attribute__((noinline)) int dhcp_xid_note(__u32 ifindex, __u32 fam,
					    __u32 xid)
{
	struct kvb_dhcpx *d = dhcpx_of(ifindex);
	struct kvb_dhcp_xid *r;
	__u64 oldest = ~0ULL;
	__u32 pick = 0;

	if (!d)
		return 0;
	fam &= 1;
	for (__u32 i = 0; i < KVB_DHCP_XIDS; i++) {
		__u64 t;

		r = &d->x[fam][i];
		if (r->ifindex == ifindex && r->xid == xid) {
			pick = i;
			break;
		}
		t = r->ifindex == ifindex ? r->sent_ns : 0;
		if (t < oldest) {
			oldest = t;
			pick = i;
		}
	}
	r = &d->x[fam][pick & (KVB_DHCP_XIDS - 1)];
	r->xid = xid;
	r->ifindex = ifindex;
	r->sent_ns = kvb_now();
	return 0;
}

/*
 * Did the client of port ifindex send a message of transaction xid
 * (family fam) within the last KVB_DHCP_XID_S? A server's answer to
 * anything else binds nothing.
 */
__attribute__((noinline)) int dhcp_xid_asked(__u32 ifindex, __u32 fam,
					     __u32 xid)
{
	struct kvb_dhcpx *d = dhcpx_of(ifindex);
	__u64 now = kvb_now();

	if (!d)
		return 0;
	fam &= 1;
	for (__u32 i = 0; i < KVB_DHCP_XIDS; i++) {
		struct kvb_dhcp_xid *r = &d->x[fam][i];

		if (r->ifindex == ifindex && r->xid == xid &&
		    now <= r->sent_ns + KVB_DHCP_XID_S * KVB_NS)
			return 1;
	}
	return 0;
}

/* What snooping needs of a message's options. */
struct dhcp_opts {
	__u32 type;		/* option 53's, 0 if absent */
	__u32 rapid;		/* option 80 (Rapid Commit) */
	__be32 reqip;		/* option 50, 0 if absent */
	__u32 lease;		/* option 51, host order, 0 if absent */
	__be32 server;		/* option 54, 0 if absent */
	/*
	 * Options a server may read otherwise than this walk did, so that
	 * what the fabric judges (a client's lease budget, its RELEASE or
	 * DECLINE of another port's address) would not be what the server
	 * acts on (t116): option 53 or 50 given twice (a server may read
	 * either) or with another length than its own (dnsmasq reads a
	 * longer option 50's first 4 bytes), option overload (52: more
	 * options in the sname and file fields), options that do not end
	 * (END, or the message's end) within DHCP_MAX_OPTS, pads counted,
	 * or one that runs past the message. No client sends these.
	 */
	__u32 odd;
};

/*
 * The options of the BOOTP message at msg (offset in the frame, after a
 * UDP header): every option up to END or the message's end (the UDP
 * length), at most DHCP_MAX_OPTS of them, pads counted; past them o->odd
 * is set, as for the other oddities above. A server's ACK is read as far
 * as it can be (its type first, dnsmasq's lease next), odd or not.
 */
__attribute__((noinline)) int dhcp_options(struct __sk_buff *skb, __u32 msg,
					   struct dhcp_opts *o)
{
	__u32 pos = msg + DHCP_OFF_OPTIONS, end, odd = 0;
	__be32 val;
	__be16 ulen;
	__u8 opt[4];

	if (!skb || !o)
		return 0;
	o->type = o->rapid = o->reqip = o->lease = o->server = o->odd = 0;
	/* no magic cookie: BOOTP, no options a server reads as DHCP's */
	if (msg < 8 ||
	    bpf_skb_load_bytes(skb, (msg - 8 + 4) & 0xffff, &ulen, 2) ||
	    bpf_skb_load_bytes(skb, msg + DHCP_OFF_MAGIC, &val, 4) ||
	    val != bpf_htonl(DHCP_MAGIC))
		return 0;
	o->odd = 1;	/* until the walk ends where it should */
	end = msg - 8 + bpf_ntohs(ulen);
	if (end > skb->len)
		end = skb->len;
	for (int i = 0; i < DHCP_MAX_OPTS; i++) {
		if (pos >= end ||
		    bpf_skb_load_bytes(skb, pos & 0xffff, opt, 1))
			goto done;	/* the message's end: no END */
		if (opt[0] == 255)
			goto done;
		if (opt[0] == 0) {
			pos++;
			continue;
		}
		if (pos + 2 > end ||
		    bpf_skb_load_bytes(skb, (pos + 1) & 0xffff, opt + 1, 1) ||
		    pos + 2 + opt[1] > end)
			return 0;	/* runs past the message */
		/* an oddity is noted and the walk goes on: a server's
		 * message is read as far as it can be */
		if (opt[0] == DHCP_OPT_OVERLOAD ||
		    (opt[0] == DHCP_OPT_MSGTYPE && (o->type || opt[1] != 1)) ||
		    (opt[0] == DHCP_OPT_REQIP && (o->reqip || opt[1] != 4)))
			odd = 1;
		/* the first of each (a type of 0 counts as given) */
		if (opt[0] == DHCP_OPT_MSGTYPE && !o->type &&
		    !bpf_skb_load_bytes(skb, (pos + 2) & 0xffff, opt + 2, 1))
			o->type = opt[2] ?: 0xff;
		if (opt[0] == DHCP_OPT_RAPID)
			o->rapid = 1;
		if ((opt[0] == DHCP_OPT_REQIP || opt[0] == DHCP_OPT_LEASE ||
		     opt[0] == DHCP_OPT_SERVER) &&
		    opt[1] == 4 &&
		    !bpf_skb_load_bytes(skb, (pos + 2) & 0xffff, &val, 4)) {
			if (opt[0] == DHCP_OPT_REQIP && !o->reqip)
				o->reqip = val ?: bpf_htonl(0xffffffff);
			else if (opt[0] == DHCP_OPT_SERVER)
				o->server = val;
			else if (opt[0] == DHCP_OPT_LEASE)
				o->lease = bpf_ntohl(val);
		}
		pos += 2 + opt[1];
	}
	return 0;	/* more than DHCP_MAX_OPTS */
done:
	o->odd = odd;
	return 0;
}

/*
 * A server's message (UDP 67 -> 68, from a port allowed to send one) in
 * network net_id, UDP header at l4_off: an ACK binds its lease if it
 * answers a transaction of chaddr's port (dhcp_xid_asked), and records
 * its server (option 54), to which the client renews by unicast (acl.h:
 * acl_dhcp_exempt lets that through a port's ACLs).
 */
__attribute__((noinline)) int dhcp_snoop_server(struct __sk_buff *skb,
						__u32 net_id, __u32 l4_off)
{
	__u32 msg = l4_off + 8;	/* BOOTP after the UDP header */
	struct kvb_addr_key k = { .family = 4 };
	struct dhcp_opts o;
	struct kvb_port *port;
	struct kvb_addr *b;
	__u64 expires = 0;
	__u8 chaddr[8];
	__be32 yiaddr;
	__u32 xid;

	if (!skb)
		return 0;
	dhcp_options(skb, msg, &o);
	if (o.type != DHCP_ACK || !o.lease ||
	    bpf_skb_load_bytes(skb, msg + DHCP_OFF_XID, &xid, 4) ||
	    bpf_skb_load_bytes(skb, msg + DHCP_OFF_YIADDR, &yiaddr, 4) ||
	    bpf_skb_load_bytes(skb, msg + DHCP_OFF_CHADDR, chaddr, ETH_ALEN) ||
	    !yiaddr)
		return 0;
	k.ifindex = fdb_lookup(net_id, chaddr);
	port = bpf_map_lookup_elem(&kvb_port, &k.ifindex);
	if (!port || port->role != KVB_PORT_GUEST || port->net_id != net_id ||
	    !dhcp_xid_asked(k.ifindex, DHCPX_V4, xid))
		return 0;
	k.net_id = (__u8)net_id;
	__builtin_memcpy(k.addr, &yiaddr, 4);
	if (o.lease != DHCP_LEASE_INFINITE)
		expires = kvb_now() + (__u64)o.lease * KVB_NS;
	if (kvb_bind(&k, KVB_ADDR_F_DHCP, expires) != BIND_OK)
		return 0;
	k.net_id = 0;	/* the port's entry */
	b = bpf_map_lookup_elem(&kvb_addr, &k);
	if (b && (b->flags & KVB_ADDR_F_DHCP))
		b->server = o.server;
	return 0;
}

/*
 * A client's message (UDP to 67) from guest port ifindex: charged to the
 * port's lease budget (dhcp4_lease_weight; dhcp-lease-cap past it); a
 * DISCOVER or a REQUEST opens a transaction the port's ACK must answer; a
 * RELEASE
 * (ciaddr) or a DECLINE (option 50) ends the port's lease of that address,
 * and is refused (dhcp-foreign) when it names an address another port
 * holds (given, leased or in use), as DHCPv6's are (guard.h:
 * dhcp6_addr_walk): the guard's chaddr rule keeps a guest to its own
 * leases only where the server ignores client identifiers (the fabric's
 * dnsmasq); a LAN's server that keys leases on option 61, as RFC 2131
 * wants, ends the lease of whatever client identifier the message names,
 * and every guest hears the others' (t110). Returns a drop code or 0.
 */
__attribute__((noinline)) int dhcp_lease_charge(__u32 ifindex, __u32 weight,
					       __u32 v4);

/*
 * Whether address a (network order) is port ifindex's own, given or
 * leased: a REQUEST that renews it (ciaddr) or asks for it again after a
 * reboot (option 50) creates no lease.
 */
static __always_inline int dhcp4_own(__u32 ifindex, __be32 a)
{
	struct kvb_addr *b;

	if (!a)
		return 0;
	b = bind_of(ifindex, 4, &a, 4);
	return b && (b->flags & (KVB_ADDR_F_DHCP | KVB_ADDR_F_STATIC));
}

/*
 * The leases a guest's DHCPv4 message can make the server create (its
 * weight on the port's DHCPv4 lease budget: dhcp_lease_charge): a REQUEST one, unless it renews or asks again for
 * the port's own address; a DISCOVER with Rapid Commit one (without, the
 * server only offers); a message whose type is given twice one (a
 * server may read either). A LAN's server that keys leases on the client
 * identifier (RFC 2131) makes a lease for every new option 61 a guest
 * invents, with its own MAC as chaddr (t111: one guest took a LAN's whole
 * pool); the fabric's own dnsmasq ignores client identifiers, so a
 * client's own retries cost its budget only.
 */
static __always_inline __u32 dhcp4_lease_weight(struct __sk_buff *skb,
						__u32 msg, __u32 ifindex,
						const struct dhcp_opts *o)
{
	__be32 ci = 0;

	if (o->type == DHCP_DISCOVER)
		return o->rapid;
	if (o->type != DHCP_REQUEST)
		return 0;
	/* the address the server acts on: option 50's when given
	 * (SELECTING, INIT-REBOOT: servers read it first, whatever ciaddr
	 * says), else ciaddr's (RENEWING, REBINDING). A renewal's ciaddr
	 * is no pass for a new address in option 50 (t116) */
	if (o->reqip)
		return !dhcp4_own(ifindex, o->reqip);
	if (bpf_skb_load_bytes(skb, msg + DHCP_OFF_CIADDR, &ci, 4))
		return 1;
	return !dhcp4_own(ifindex, ci);
}

__attribute__((noinline)) int dhcp_snoop_client(struct __sk_buff *skb,
						__u32 net_id, __u32 ifindex,
						__u32 l4_off)
{
	__u32 msg = l4_off + 8;
	struct kvb_addr_key k = { .family = 4 };
	struct dhcp_opts o;
	__be32 a = 0;

	if (!skb)
		return 0;
	dhcp_options(skb, msg, &o);
	/* what the server may read otherwise is not judged: refused */
	if (o.odd)
		return DROP(KVB_DROP_DHCP_MALFORMED);
	if (dhcp_lease_charge(ifindex, dhcp4_lease_weight(skb, msg, ifindex,
							  &o), 1))
		return DROP(KVB_DROP_DHCP_LEASE_CAP);
	if ((o.type == DHCP_DISCOVER || o.type == DHCP_REQUEST) &&
	    !bpf_skb_load_bytes(skb, msg + DHCP_OFF_XID, &a, 4))
		return dhcp_xid_note(ifindex, DHCPX_V4, a);
	if (o.type == DHCP_RELEASE)
		bpf_skb_load_bytes(skb, msg + DHCP_OFF_CIADDR, &a, 4);
	else if (o.type == DHCP_DECLINE)
		a = o.reqip;
	if (!a)
		return 0;
	/* another port's (guard.h, as an ARP probe asks it) */
	if (ip4_held_elsewhere(net_id, ifindex, a))
		return DROP(KVB_DROP_DHCP_FOREIGN);
	k.ifindex = ifindex;
	k.net_id = (__u8)net_id;
	__builtin_memcpy(k.addr, &a, 4);
	kvb_unbind(&k, KVB_ADDR_F_DHCP);
	return 0;
}

/* The transaction id of a DHCPv6 message whose first 4 bytes are m. */
static __always_inline __u32 dhcp6_xid(const __u8 *m)
{
	return (__u32)m[1] << 16 | (__u32)m[2] << 8 | m[3];
}

/*
 * The IAADDR option body at off (DHCP6_IAADDR_LEN bytes read) of a REPLY
 * to port ifindex of network how & 0xff: its address is the port's lease
 * until its valid lifetime ends (all ones: never); a valid lifetime of 0
 * ends the port's lease of it, as does the port's own RELEASE or DECLINE
 * (how & DHCP6_UNBIND). As for IPv4 (kvb_bind), the lease takes
 * the address from another port's learned (SAVI) binding, never from
 * another port's live lease while that port's device exists, nor a
 * static one.
 */
__attribute__((noinline)) int dhcp6_snoop_iaaddr(struct __sk_buff *skb,
						 __u32 off, __u32 ifindex,
						 __u32 how)
{
	struct kvb_addr_key k = { .family = 6 };
	__u8 a[DHCP6_IAADDR_LEN];
	__u64 expires = 0, hi, lo;
	__u32 valid;

	if (!skb || bpf_skb_load_bytes(skb, off & 0xffff, a, sizeof(a)))
		return 0;
	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&lo, a + 8, 8);
	if (a[0] == 0xff || !(hi | lo))
		return 0;	/* multicast or unspecified: nobody's */
	k.ifindex = ifindex;
	k.net_id = (__u8)how;
	__builtin_memcpy(k.addr, a, 16);
	valid = (__u32)a[20] << 24 | (__u32)a[21] << 16 | (__u32)a[22] << 8 |
		a[23];
	if (!valid || (how & DHCP6_UNBIND))
		return kvb_unbind(&k, KVB_ADDR_F_DHCP);
	if (valid != DHCP_LEASE_INFINITE)
		expires = kvb_now() + (__u64)valid * KVB_NS;
	return kvb_bind(&k, KVB_ADDR_F_DHCP, expires);
}

/*
 * The options of a REPLY to port ifindex (from off, left bytes): each
 * IAADDR of each IA_NA and IA_TA (dhcp6_snoop_iaaddr); of the port's own
 * RELEASE or DECLINE (how: DHCP6_UNBIND with the network's id, five
 * arguments at most), each ends the port's lease of it. The walk is the
 * guard's (dhcp6_addr_walk), as bounded: at most DHCP6_OPTS_MAX options
 * and DHCP6_IA_OPTS_MAX in an IA; it stops at an option it cannot read.
 * An address past them is not leased (its use is a first claim, as
 * before). A global function: the walk is verified once.
 */
__attribute__((noinline)) int dhcp6_snoop_ias(struct __sk_buff *skb,
					      __u32 off, __u32 left,
					      __u32 ifindex, __u32 how)
{
	if (!skb)
		return 0;
	for (int i = 0; i < DHCP6_OPTS_MAX; i++) {
		__u32 code, len, sub, sleft;
		__u8 h[4];

		if (left < 4 || bpf_skb_load_bytes(skb, off & 0xffff, h, 4))
			return 0;
		code = (__u32)h[0] << 8 | h[1];
		len = (__u32)h[2] << 8 | h[3];
		if (len + 4 > left)
			return 0;
		if (code == DHCP6_OPT_IA_NA || code == DHCP6_OPT_IA_TA) {
			__u32 fixed = code == DHCP6_OPT_IA_NA ? 12 : 4;

			if (len < fixed)
				return 0;
			sub = off + 4 + fixed;
			sleft = len - fixed;
			for (int j = 0; j < DHCP6_IA_OPTS_MAX; j++) {
				__u32 scode, slen;

				if (sleft < 4 ||
				    bpf_skb_load_bytes(skb, sub & 0xffff, h, 4))
					break;
				scode = (__u32)h[0] << 8 | h[1];
				slen = (__u32)h[2] << 8 | h[3];
				if (slen + 4 > sleft)
					break;
				if (scode == DHCP6_OPT_IAADDR &&
				    slen >= DHCP6_IAADDR_LEN)
					dhcp6_snoop_iaaddr(skb, sub + 4,
							   ifindex, how);
				sub += slen + 4;
				sleft -= slen + 4;
			}
		}
		off += len + 4;
		left -= len + 4;
	}
	return 0;
}

/*
 * A DHCPv6 server's message (UDP 547 -> 546, from a port allowed to send
 * one: the guard refuses it from a guest with spoofcheck on) in network
 * net_id, UDP header at l4_off, l4_len bytes from there: a REPLY binds
 * the leases it gives to the port of its destination MAC, if it answers a
 * transaction that port's client opened (dhcp_xid_asked).
 */
__attribute__((noinline)) int dhcp6_snoop_server(struct __sk_buff *skb,
						 __u32 net_id, __u32 l4_off,
						 __u32 l4_len)
{
	struct kvb_port *port;
	__u8 dst[ETH_ALEN], msg[4], ip6[2];
	__u32 ifindex;

	/* a server answers the client's link-local address (RFC 8415
	 * 18.3), which no router forwards: a REPLY to any other is none a
	 * server on this link sent */
	if (!skb || l4_len < 12 ||
	    bpf_skb_load_bytes(skb, (l4_off + 8) & 0xffff, msg, 4) ||
	    msg[0] != DHCP6_REPLY ||
	    bpf_skb_load_bytes(skb, 0, dst, ETH_ALEN) || (dst[0] & 1) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + 24, ip6, sizeof(ip6)) ||
	    ip6[0] != 0xfe || (ip6[1] & 0xc0) != 0x80)
		return 0;
	ifindex = fdb_lookup(net_id, dst);
	port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	if (!port || port->role != KVB_PORT_GUEST || port->net_id != net_id ||
	    !dhcp_xid_asked(ifindex, DHCPX_V6, dhcp6_xid(msg)))
		return 0;
	/* the options follow the type and the transaction id */
	return dhcp6_snoop_ias(skb, l4_off + 12, l4_len - 12, ifindex,
			       net_id & 0xff);
}

/*
 * Does port ifindex hold the address w0..w3 (as it lies in the packet)
 * by a live DHCP binding (its lease) or a static one (its `ip`, which a
 * server may lease it too: it stays static)? A RENEW of such an address
 * is the client's own renewal. A global function: verified once, not in every
 * round of the option walk.
 */
__attribute__((noinline)) int dhcp6_renews_own(__u32 ifindex, __u32 w0,
					       __u32 w1, __u32 w2, __u32 w3)
{
	__u32 a[4] = { w0, w1, w2, w3 };
	struct kvb_addr *b = bind_of(ifindex, 6, a, 16);

	return b && (b->flags & (KVB_ADDR_F_DHCP | KVB_ADDR_F_STATIC));
}

/*
 * The most leases a guest's message can make the server create (its
 * options from off, left bytes; type_nv6: the message type in the low
 * byte, the network's IPv6 subnets in the next): none for a SOLICIT
 * without Rapid Commit (an ADVERTISE leases nothing); else, for each
 * IA_NA and IA_TA, the addresses it names, or one per IPv6 subnet for an
 * IA that names none (dnsmasq gives such an IA an address of each of its
 * ranges, and once a REQUEST has one such IA it treats every IA so). A
 * REBIND creates only what it names (dnsmasq: a new lease for each
 * address it has no binding of under the message's DUID and IAID, the
 * port's own addresses included). -1: an option past the walk's bounds
 * (the guard's: DHCP6_OPTS_MAX, DHCP6_IA_OPTS_MAX in an IA) or cut
 * short, where an IA could hide. A global function: verified once.
 */
__attribute__((noinline)) int dhcp6_lease_weight(struct __sk_buff *skb,
						 __u32 off, __u32 left,
						 __u32 type_nv6)
{
	__u32 type = type_nv6 & 0xff, nv6 = (type_nv6 >> 8) & 0xff;
	__u32 w = 0, rapid = 0;

	if (!skb)
		return -1;
	for (int i = 0; i < DHCP6_OPTS_MAX && left; i++) {
		__u32 code, len, sub, sleft, n = 0;
		__u8 h[4];

		if (left < 4 || bpf_skb_load_bytes(skb, off & 0xffff, h, 4))
			return -1;
		code = (__u32)h[0] << 8 | h[1];
		len = (__u32)h[2] << 8 | h[3];
		if (len + 4 > left)
			return -1;
		if (code == DHCP6_OPT_RAPID_COMMIT)
			rapid = 1;
		if (code == DHCP6_OPT_IA_NA || code == DHCP6_OPT_IA_TA) {
			__u32 fixed = code == DHCP6_OPT_IA_NA ? 12 : 4;

			if (len < fixed)
				return -1;
			sub = off + 4 + fixed;
			sleft = len - fixed;
			for (int j = 0; j < DHCP6_IA_OPTS_MAX && sleft; j++) {
				__u32 slen;

				if (sleft < 4 ||
				    bpf_skb_load_bytes(skb, sub & 0xffff, h, 4))
					return -1;
				slen = (__u32)h[2] << 8 | h[3];
				if (slen + 4 > sleft)
					return -1;
				if (((__u32)h[0] << 8 | h[1]) ==
				    DHCP6_OPT_IAADDR)
					n++;
				sub += slen + 4;
				sleft -= slen + 4;
			}
			if (sleft)
				return -1;
			w += type == DHCP6_REBIND ? n : n > nv6 ? n : nv6;
		}
		off += len + 4;
		left -= len + 4;
	}
	if (left)
		return -1;
	return type == DHCP6_SOLICIT && !rapid ? 0 : (int)w;
}

/*
 * A RENEW's weight (its options from off, left bytes, from port
 * ifindex): the addresses its IA_NA and IA_TA options name that are not
 * the port's own leases. dnsmasq extends whatever lease matches the
 * message's DUID, IAID and address, so a guest could otherwise keep alive
 * for ever, for free, leases its budget let it make and no binding
 * holds; a client renewing what it was leased pays nothing. -1 as
 * dhcp6_lease_weight. A global function: verified once.
 */
__attribute__((noinline)) int dhcp6_renew_weight(struct __sk_buff *skb,
						 __u32 off, __u32 left,
						 __u32 ifindex)
{
	__u32 w = 0, a[4];

	if (!skb)
		return -1;
	for (int i = 0; i < DHCP6_OPTS_MAX && left; i++) {
		__u32 code, len, sub, sleft;
		__u8 h[4];

		if (left < 4 || bpf_skb_load_bytes(skb, off & 0xffff, h, 4))
			return -1;
		code = (__u32)h[0] << 8 | h[1];
		len = (__u32)h[2] << 8 | h[3];
		if (len + 4 > left)
			return -1;
		if (code == DHCP6_OPT_IA_NA || code == DHCP6_OPT_IA_TA) {
			__u32 fixed = code == DHCP6_OPT_IA_NA ? 12 : 4;

			if (len < fixed)
				return -1;
			sub = off + 4 + fixed;
			sleft = len - fixed;
			for (int j = 0; j < DHCP6_IA_OPTS_MAX && sleft; j++) {
				__u32 slen;

				if (sleft < 4 ||
				    bpf_skb_load_bytes(skb, sub & 0xffff, h, 4))
					return -1;
				slen = (__u32)h[2] << 8 | h[3];
				if (slen + 4 > sleft)
					return -1;
				if (((__u32)h[0] << 8 | h[1]) ==
				    DHCP6_OPT_IAADDR) {
					if (slen < 16 ||
					    bpf_skb_load_bytes(skb,
							       (sub + 4) &
							       0xffff, a, 16))
						return -1;
					w += !dhcp6_renews_own(ifindex, a[0],
							       a[1], a[2],
							       a[3]);
				}
				sub += slen + 4;
				sleft -= slen + 4;
			}
			if (sleft)
				return -1;
		}
		off += len + 4;
		left -= len + 4;
	}
	return left ? -1 : (int)w;
}

/*
 * Charge port ifindex's DHCPv6 lease budget (kvb_maps.h:
 * kvb_dhcp6_budget), or with v4 its DHCPv4 one (level4, leaked alike),
 * with weight leases: 0 when the message may go, else 1 (the caller
 * counts its family's drop). The charge is taken as the message passes and never given
 * back, so requests without replies, leases the lease script could not
 * bind and retransmissions all count; what the port holds (its leased
 * and static IPv6 addresses, as bind_lease_room counts them) counts
 * once, not on top of the level that asked for it (IPv4's: n_ip4). A guest's burst
 * between two CPUs may overshoot by the other CPU's message: the record
 * is not locked.
 */
__attribute__((noinline)) int dhcp_lease_charge(__u32 ifindex, __u32 weight,
					       __u32 v4)
{
	struct kvb_port *port = bpf_map_lookup_elem(&kvb_port, &ifindex);
	struct kvb_dhcpx *d = dhcpx_of(ifindex);
	const __u64 leak = KVB_DHCP6_LEAK_S * KVB_NS;
	__u64 now = kvb_now(), units;
	__u32 held, level, level4, slot, *refunds;

	if (!weight)
		return 0;
	if (!port || !d)
		return 1;
	slot = port->slot;
	refunds = bpf_map_lookup_elem(&kvb_dhcp6r, &slot);
	if (d->b6.ifindex != ifindex) {
		d->b6.ifindex = ifindex;
		d->b6.level = d->b6.level4 = 0;
		d->b6.refunds_seen = refunds ? *refunds : 0;
	}
	level = d->b6.level;
	level4 = d->b6.level4;
	/* the leases the server dropped since (dnsmasq's "del") */
	if (refunds && *refunds != d->b6.refunds_seen) {
		__u32 back = *refunds - d->b6.refunds_seen;

		d->b6.refunds_seen = *refunds;
		level = level > back ? level - back : 0;
	}
	/* both levels leak alike, from one clock */
	units = kvb_after(now, d->b6.at_ns) ? (now - d->b6.at_ns) / leak : 0;
	if (units >= level && units >= level4) {
		level = level4 = 0;
		d->b6.at_ns = now;
	} else {
		level = units >= level ? 0 : level - (__u32)units;
		level4 = units >= level4 ? 0 : level4 - (__u32)units;
		d->b6.at_ns += units * leak;
	}
	d->b6.level = level;
	d->b6.level4 = level4;
	/* the family's own leases and static addresses */
	if (v4) {
		held = port->n_ip4;
		level = level4;
	} else {
		held = port->n_ip6 > port->n_savi ?
			       port->n_ip6 - port->n_savi : 0;
	}
	if (held > level)
		level = held;
	if (weight > KVB_DHCP_LEASE_MAX ||
	    level + weight > KVB_DHCP_LEASE_MAX)
		return 1;
	if (v4)
		d->b6.level4 = level + weight;
	else
		d->b6.level = level + weight;
	return 0;
}

/* The IPv6 subnets of network net_id (at least 1: a bridge's LAN). */
static __always_inline __u32 dhcp6_net_subnets(__u32 net_id)
{
	struct kvb_net *net = net_lookup(net_id);
	__u32 n = 0;

	if (!net)
		return 1;
	for (__u32 i = 0; i < KVB_MAX_SUBNETS; i++)
		if (i < net->nsubnets && net->subnets[i].family == 6)
			n++;
	return n ? n : 1;
}

/*
 * A DHCPv6 client's message (UDP to 547) from guest port ifindex of
 * network net_id: one that can make the server create leases (a SOLICIT
 * with Rapid Commit, a REQUEST, a REBIND) is charged to the port's lease
 * budget (dhcp_lease_charge) and refused past it (dhcp6-lease-cap): the
 * server's lease table is shared by every port and by DHCPv4. A SOLICIT
 * (answered by a REPLY under Rapid Commit), REQUEST, CONFIRM, RENEW or
 * REBIND that goes opens a transaction the port's REPLY must answer; a
 * RELEASE or a DECLINE ends the port's leases of the addresses it names
 * (the guard let it name none another port holds). 0 or the drop.
 */
__attribute__((noinline)) int dhcp6_snoop_client(struct __sk_buff *skb,
						 __u32 net_id, __u32 ifindex,
						 __u32 l4_off, __u32 l4_len)
{
	__u8 msg[4];
	int w;

	if (!skb || l4_len < 12 ||
	    bpf_skb_load_bytes(skb, (l4_off + 8) & 0xffff, msg, 4))
		return 0;
	if (msg[0] == DHCP6_SOLICIT || msg[0] == DHCP6_REQUEST ||
	    msg[0] == DHCP6_RENEW || msg[0] == DHCP6_REBIND) {
		w = msg[0] == DHCP6_RENEW ?
			dhcp6_renew_weight(skb, l4_off + 12, l4_len - 12,
					   ifindex) :
			dhcp6_lease_weight(skb, l4_off + 12, l4_len - 12,
					   msg[0] |
					   dhcp6_net_subnets(net_id) << 8);
		if (w < 0 || dhcp_lease_charge(ifindex, (__u32)w, 0))
			return DROP(KVB_DROP_DHCP6_LEASE_CAP);
	}
	/* from here the message goes on whatever the snooping found: only
	 * the budget refuses one */
	if (msg[0] == DHCP6_SOLICIT ||
	    (msg[0] >= DHCP6_REQUEST && msg[0] <= DHCP6_REBIND)) {
		dhcp_xid_note(ifindex, DHCPX_V6, dhcp6_xid(msg));
		return 0;
	}
	if (msg[0] == DHCP6_RELEASE || msg[0] == DHCP6_DECLINE)
		dhcp6_snoop_ias(skb, l4_off + 12, l4_len - 12, ifindex,
				(net_id & 0xff) | DHCP6_UNBIND);
	return 0;
}

#endif /* KVB_DHCP_H */
