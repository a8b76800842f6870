/* SPDX-License-Identifier: GPL-2.0 */
/*
 * DHCP snooping (tc only): when the fabric forwards a DHCP ACK, the address
 * it leases becomes one the client's port may send from. This protects
 * ports on a bridge whose LAN runs its own DHCP server and for which the
 * fabric was told no address. Only the uplink and guests with spoofcheck
 * off can send server messages at all (see guard.h).
 */
#ifndef KVB_DHCP_H
#define KVB_DHCP_H

#include "maps.h"
#include "fdb.h"
#include "admit.h"

#define DHCP_OFF_YIADDR 16	/* from the start of the BOOTP message */
#define DHCP_OFF_CHADDR 28
#define DHCP_OFF_MAGIC 236
#define DHCP_OFF_OPTIONS 240
#define DHCP_MAGIC 0x63825363
#define DHCP_OPT_MSGTYPE 53
#define DHCP_ACK 5
#define DHCP_MAX_OPTS 16	/* options walked looking for the type */

/* The DHCP message type, or 0. off is the BOOTP message's offset. */
static __always_inline __u8 dhcp_msgtype(struct __sk_buff *skb, __u32 off)
{
	__u32 pos = off + DHCP_OFF_OPTIONS;
	__be32 magic;

	if (bpf_skb_load_bytes(skb, off + DHCP_OFF_MAGIC, &magic, 4) ||
	    magic != bpf_htonl(DHCP_MAGIC))
		return 0;
	for (int i = 0; i < DHCP_MAX_OPTS; i++) {
		__u8 opt[3];

		if (bpf_skb_load_bytes(skb, pos & 0xffff, opt, 3))
			return 0;
		if (opt[0] == 255)
			return 0;
		if (opt[0] == 0) {
			pos++;
			continue;
		}
		if (opt[0] == DHCP_OPT_MSGTYPE)
			return opt[2];
		pos += 2 + opt[1];
	}
	return 0;
}

static __always_inline void dhcp_snoop(struct __sk_buff *skb,
				       const struct kvb_net *net,
				       const struct kvb_frame *f, __u32 l4_off)
{
	struct kvb_addr a = { .flags = KVB_ADDR_F_DHCP };
	struct kvb_addr_key k = { .family = 4 };
	__u32 msg = l4_off + 8;	/* BOOTP after the UDP header */
	struct kvb_port *port;
	__u8 chaddr[ETH_ALEN];
	__be32 yiaddr;

	if (!f->l4_ok || f->l4_proto != IPPROTO_UDP || f->sport != 67 ||
	    f->dport != 68)
		return;
	if (dhcp_msgtype(skb, msg) != DHCP_ACK ||
	    bpf_skb_load_bytes(skb, msg + DHCP_OFF_YIADDR, &yiaddr, 4) ||
	    bpf_skb_load_bytes(skb, msg + DHCP_OFF_CHADDR, chaddr, ETH_ALEN) ||
	    !yiaddr)
		return;
	k.ifindex = fdb_lookup(net->id, chaddr);
	port = bpf_map_lookup_elem(&kvb_port, &k.ifindex);
	if (!port || port->role != KVB_PORT_GUEST)
		return;
	__builtin_memcpy(k.addr, &yiaddr, 4);
	a.learned_ns = kvb_now();
	if (!bpf_map_update_elem(&kvb_addr, &k, &a, BPF_NOEXIST))
		__sync_fetch_and_add(&port->n_ip4, 1);
}

#endif /* KVB_DHCP_H */
