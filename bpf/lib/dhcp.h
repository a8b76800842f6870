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
 * - an ACK binds yiaddr to the port behind chaddr until the lease (option
 *   51) ends, and moves it from another port that had it by a lease
 *   (bind.h: kvb_bind); an ACK without a lease time answers an INFORM and
 *   binds nothing;
 * - a RELEASE (ciaddr) or a DECLINE (option 50) from the port unbinds it;
 * - the guard refuses a binding whose lease ended, the sweep removes it.
 */
#ifndef KVB_DHCP_H
#define KVB_DHCP_H

#include "bind.h"
#include "fdb.h"
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
#define DHCP_DECLINE 4
#define DHCP_ACK 5
#define DHCP_RELEASE 7
#define DHCP_MAX_OPTS 16	/* options walked */
#define DHCP_LEASE_INFINITE 0xffffffffU

/* What snooping needs of a message's options. */
struct dhcp_opts {
	__u32 type;		/* option 53, 0 if absent */
	__be32 reqip;		/* option 50, 0 if absent */
	__u32 lease;		/* option 51, host order, 0 if absent */
	__u32 pad;
};

/*
 * The options of the BOOTP message at msg (offset in the frame). Walks at
 * most DHCP_MAX_OPTS options; what lies past them is not looked at (a
 * server's ACK puts the type, and dnsmasq the lease, first).
 */
__attribute__((noinline)) int dhcp_options(struct __sk_buff *skb, __u32 msg,
					   struct dhcp_opts *o)
{
	__u32 pos = msg + DHCP_OFF_OPTIONS;
	__be32 val;
	__u8 opt[4];

	if (!skb || !o)
		return 0;
	o->type = o->reqip = o->lease = 0;
	if (bpf_skb_load_bytes(skb, msg + DHCP_OFF_MAGIC, &val, 4) ||
	    val != bpf_htonl(DHCP_MAGIC))
		return 0;
	for (int i = 0; i < DHCP_MAX_OPTS; i++) {
		if (bpf_skb_load_bytes(skb, pos & 0xffff, opt, 2) ||
		    opt[0] == 255)
			break;
		if (opt[0] == 0) {
			pos++;
			continue;
		}
		if (opt[0] == DHCP_OPT_MSGTYPE && opt[1] == 1 &&
		    !bpf_skb_load_bytes(skb, (pos + 2) & 0xffff, opt + 2, 1))
			o->type = opt[2];
		if ((opt[0] == DHCP_OPT_REQIP || opt[0] == DHCP_OPT_LEASE) &&
		    opt[1] == 4 &&
		    !bpf_skb_load_bytes(skb, (pos + 2) & 0xffff, &val, 4)) {
			if (opt[0] == DHCP_OPT_REQIP)
				o->reqip = val;
			else
				o->lease = bpf_ntohl(val);
		}
		pos += 2 + opt[1];
	}
	return 0;
}

/*
 * A server's message (UDP 67 -> 68, from a port allowed to send one) in
 * network net_id, UDP header at l4_off: an ACK binds its lease.
 */
__attribute__((noinline)) int dhcp_snoop_server(struct __sk_buff *skb,
						__u32 net_id, __u32 l4_off)
{
	__u32 msg = l4_off + 8;	/* BOOTP after the UDP header */
	struct kvb_addr_key k = { .family = 4 };
	struct dhcp_opts o;
	struct kvb_port *port;
	__u64 expires = 0;
	__u8 chaddr[8];
	__be32 yiaddr;

	if (!skb)
		return 0;
	dhcp_options(skb, msg, &o);
	if (o.type != DHCP_ACK || !o.lease ||
	    bpf_skb_load_bytes(skb, msg + DHCP_OFF_YIADDR, &yiaddr, 4) ||
	    bpf_skb_load_bytes(skb, msg + DHCP_OFF_CHADDR, chaddr, ETH_ALEN) ||
	    !yiaddr)
		return 0;
	k.ifindex = fdb_lookup(net_id, chaddr);
	port = bpf_map_lookup_elem(&kvb_port, &k.ifindex);
	if (!port || port->role != KVB_PORT_GUEST || port->net_id != net_id)
		return 0;
	k.net_id = (__u8)net_id;
	__builtin_memcpy(k.addr, &yiaddr, 4);
	if (o.lease != DHCP_LEASE_INFINITE)
		expires = kvb_now() + (__u64)o.lease * KVB_NS;
	return kvb_bind(&k, KVB_ADDR_F_DHCP, expires);
}

/*
 * A client's message (UDP to 67) from guest port ifindex: a RELEASE
 * (ciaddr) or a DECLINE (option 50) ends the port's lease of that address.
 */
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
	if (o.type == DHCP_RELEASE)
		bpf_skb_load_bytes(skb, msg + DHCP_OFF_CIADDR, &a, 4);
	else if (o.type == DHCP_DECLINE)
		a = o.reqip;
	if (!a)
		return 0;
	k.ifindex = ifindex;
	k.net_id = (__u8)net_id;
	__builtin_memcpy(k.addr, &a, 4);
	return kvb_unbind(&k, KVB_ADDR_F_DHCP);
}

#endif /* KVB_DHCP_H */
