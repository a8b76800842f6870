/* SPDX-License-Identifier: MIT */
/*
 * What a network type is: its keyword and what it has. The code below the
 * ops table (nettype.c) asks these, never the type itself: gateway.c,
 * nat.c, routed.c, dhcp.c, forward.c serve every type that has what they
 * need. A header, not a file of its own: those files sit below nettype.c
 * and must not call up into it. A new type is a line here and an entry
 * of nettype.c's ops table.
 */
#ifndef KVB_NETCAPS_H
#define KVB_NETCAPS_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "kvb_maps.h"

/*
 * NT_UPLINK (bridge), NT_GATEWAY (a gateway interface, subnets and
 * routes: nat, routed), NT_NAT (translation: forwards, flows, WAN
 * address), NT_ROUTED (routed), NT_OVERLAY (may span hosts).
 */
#define NT_UPLINK 1U
#define NT_GATEWAY 2U
#define NT_NAT 4U
#define NT_ROUTED 8U
#define NT_OVERLAY 16U	/* may span hosts (vni) */

struct net_type {
	const char *name;	/* NULL: no such type */
	unsigned int has;	/* NT_* */
};

static const struct net_type net_types[KVB_NET_TYPE_MAX] = {
	[KVB_NET_BRIDGE] = { "bridge", NT_UPLINK | NT_OVERLAY },
	[KVB_NET_INTERNAL] = { "internal", NT_OVERLAY },
	[KVB_NET_NAT] = { "nat", NT_GATEWAY | NT_NAT | NT_OVERLAY },
	[KVB_NET_ROUTED] = { "routed", NT_GATEWAY | NT_ROUTED | NT_OVERLAY },
};

/* the next type after type (0: the first), 0 after the last */
static inline __u32 net_type_next(__u32 type)
{
	while (++type < KVB_NET_TYPE_MAX)
		if (net_types[type].name)
			return type;
	return 0;
}

static inline const char *net_type_name(__u32 type)
{
	if (type == KVB_NET_NONE)
		return "none";
	return type < KVB_NET_TYPE_MAX && net_types[type].name ?
	       net_types[type].name : "unknown";
}

static inline int net_type_parse(const char *s, __u32 *type)
{
	for (__u32 t = 0; (t = net_type_next(t));) {
		if (!strcmp(s, net_types[t].name)) {
			*type = t;
			return 0;
		}
	}
	return -EINVAL;
}

/* whether the type has any of what */
static inline bool type_has(__u32 type, unsigned int what)
{
	return type < KVB_NET_TYPE_MAX && (net_types[type].has & what);
}

static inline bool net_has(const struct kvb_net *n, unsigned int what)
{
	return type_has(n->type, what);
}

#endif
