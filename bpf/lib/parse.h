/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The parsing cursor. Every header read in the datapath goes through
 * cursor_take(), which checks the bounds once; callers never add offsets to
 * packet pointers themselves.
 */
#ifndef KVB_PARSE_H
#define KVB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct hdr_cursor {
	void *pos;
	void *end;
};

/* Ethernet/IPv4 ARP, the only kind the fabric forwards. */
struct kvb_arp {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__be32 spa;
	__u8 tha[ETH_ALEN];
	__be32 tpa;
} __attribute__((packed));

#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88A8

/* Returns a pointer to len bytes at the cursor and advances, or NULL. */
static __always_inline void *cursor_take(struct hdr_cursor *c, __u32 len)
{
	void *p = c->pos;

	if (p + len > c->end)
		return NULL;
	c->pos = p + len;
	return p;
}

#define CURSOR_TAKE(c, type) ((type *)cursor_take((c), sizeof(type)))

static __always_inline int mac_is_multicast(const __u8 *mac)
{
	return mac[0] & 1;
}

/*
 * An IEEE 802.1 link-local group address, 01:80:c2:00:00:00-0f: STP,
 * pause, LACP, 802.1X, LLDP... which a bridge never forwards (802.1D's
 * filtered addresses; Linux's bridge, unless group_fwd_mask says so).
 */
static __always_inline int mac_is_link_local_group(const __u8 *mac)
{
	return mac[0] == 0x01 && mac[1] == 0x80 && mac[2] == 0xc2 &&
	       !mac[3] && !mac[4] && !(mac[5] & 0xf0);
}

static __always_inline int mac_is_zero(const __u8 *mac)
{
	return !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] &&
	       a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

#endif /* KVB_PARSE_H */
