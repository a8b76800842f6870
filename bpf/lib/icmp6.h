/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ICMPv6 and Neighbour Discovery as the datapath speaks them: message
 * types (RFC 4443, RFC 4861, RFC 3810) and what an address is. The
 * guard judges these messages, the gateway answers and sends them.
 */
#ifndef KVB_ICMP6_H
#define KVB_ICMP6_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define ICMP6_DEST_UNREACH_ 1
#define ICMP6_ADDR_UNREACH_CODE 3	/* address unreachable */
#define ICMP6_PKT_TOO_BIG_ 2
#define ICMP6_TIME_EXCEEDED_ 3
#define ND_ROUTER_SOLICIT_ 133
#define ND_ROUTER_ADVERT_ 134
#define ND_NEIGHBOR_SOLICIT_ 135
#define ND_NEIGHBOR_ADVERT_ 136
#define ND_REDIRECT_ 137
#define MLD2_REPORT_ 143

/* the unspecified address (::), a DAD probe's source */
static __always_inline int ip6_is_unspec(const __u8 *a)
{
	__u8 x = 0;

	for (int i = 0; i < 16; i++)
		x |= a[i];
	return !x;
}

/* :: or ::1: never a destination the kernel forwards to */
static __always_inline int ip6_is_unspec_or_lo(const __u8 *a)
{
	__u8 x = 0;

	for (int i = 0; i < 15; i++)
		x |= a[i];
	return !x && a[15] <= 1;
}

#endif
