/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A network's subnets and gateway addresses (nat and routed networks), and
 * the route table that names the network of a destination address.
 */
#ifndef KVB_SUBNET_H
#define KVB_SUBNET_H

#include "maps.h"
#include "parse.h"

static __always_inline int ip6_equal(const __u8 *a, const __u8 *b)
{
	__u8 x = 0;

	for (int i = 0; i < 16; i++)
		x |= a[i] ^ b[i];
	return !x;
}

/* Is a (4 or 16 bytes by family) one of net's gateway addresses? */
static __always_inline int net_is_gw(const struct kvb_net *net, __u8 family,
				     const __u8 *a)
{
	for (__u32 i = 0; i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *s = &net->subnets[i];

		if (i >= net->nsubnets)
			break;
		if (s->family != family)
			continue;
		if (family == 4 ? *(const __u32 *)s->gw == *(const __u32 *)a :
				  ip6_equal(s->gw, a))
			return 1;
	}
	return 0;
}

/* The first gateway address of a family into out (4 or 16 bytes); 0 if none. */
static __always_inline int net_gw(const struct kvb_net *net, __u8 family,
				  __u8 *out)
{
	for (__u32 i = 0; i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *s = &net->subnets[i];

		if (i >= net->nsubnets)
			break;
		if (s->family != family)
			continue;
		if (family == 4)
			__builtin_memcpy(out, s->gw, 4);
		else
			__builtin_memcpy(out, s->gw, 16);
		return 1;
	}
	return 0;
}

/*
 * The modified EUI-64 interface id of mac (RFC 4291, appendix A), the one
 * place it is written: eui64_set puts it in a[8..16), eui64_is says
 * whether a[8..16) is it.
 */
static __always_inline void eui64_set(__u8 *a, const __u8 *mac)
{
	a[8] = mac[0] ^ 2;
	a[9] = mac[1];
	a[10] = mac[2];
	a[11] = 0xff;
	a[12] = 0xfe;
	a[13] = mac[3];
	a[14] = mac[4];
	a[15] = mac[5];
}

static __always_inline int eui64_is(const __u8 *a, const __u8 *mac)
{
	return a[8] == (mac[0] ^ 2) && a[9] == mac[1] && a[10] == mac[2] &&
	       a[11] == 0xff && a[12] == 0xfe && a[13] == mac[3] &&
	       a[14] == mac[4] && a[15] == mac[5];
}

/* fe80::/64 with the modified EUI-64 interface id of mac */
static __always_inline void ip6_mac_ll(__u8 *a, const __u8 *mac)
{
	__builtin_memset(a, 0, 16);
	a[0] = 0xfe;
	a[1] = 0x80;
	eui64_set(a, mac);
}

/* a is fe80::/64 with the modified EUI-64 interface id of mac */
static __always_inline int ip6_is_mac_ll(const __u8 *a, const __u8 *mac)
{
	return a[0] == 0xfe && a[1] == 0x80 && !(a[2] | a[3] | a[4] | a[5] |
						 a[6] | a[7]) &&
	       eui64_is(a, mac);
}

/* The network of a destination (4 or 16 bytes by family), or NULL. */
static __always_inline struct kvb_route *route_of(__u8 family, const __u8 *a)
{
	struct kvb_route_key k = { .prefixlen = 128 };

	if (family == 4) {
		k.addr[10] = 0xff;
		k.addr[11] = 0xff;
		__builtin_memcpy(k.addr + 12, a, 4);
	} else {
		__builtin_memcpy(k.addr, a, 16);
	}
	return bpf_map_lookup_elem(&kvb_route, &k);
}

static __always_inline int net_peered(const struct kvb_net *net, __u32 id)
{
	return (net->peers[(id / 64) & (KVB_MAX_NETS / 64 - 1)] >>
		(id % 64)) & 1;
}

/* a (IPv4) is a gateway address of net: never a guest's */
static __always_inline int ip4_is_gateway(const struct kvb_net *net, __be32 a)
{
	for (__u32 i = 0; i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *s = &net->subnets[i];
		__be32 gw;

		if (i >= net->nsubnets)
			break;
		__builtin_memcpy(&gw, s->gw, 4);
		if (s->family == 4 && gw == a)
			return 1;
	}
	return 0;
}

/*
 * a (IPv6) is a gateway address of net, or the link-local of the host's
 * interface on it (the gateway's on nat and routed networks, the host's
 * own on a bridge's uplink): never a guest's.
 */
static __always_inline int ip6_is_gateway(const struct kvb_net *net,
					  const __u8 *a)
{
	if (!mac_is_zero(net->uplink_mac) && ip6_is_mac_ll(a, net->uplink_mac))
		return 1;
	for (__u32 i = 0; i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *s = &net->subnets[i];

		if (i >= net->nsubnets)
			break;
		if (s->family == 6 &&
		    *(const __u64 *)s->gw == *(const __u64 *)a &&
		    *(const __u64 *)(s->gw + 8) == *(const __u64 *)(a + 8))
			return 1;
	}
	return 0;
}

/* a (IPv4) in one of net's IPv4 subnets */
static __always_inline int ip4_in_net(const struct kvb_net *net, __be32 a)
{
	for (__u32 i = 0; i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *s = &net->subnets[i];
		__u32 plen = s->prefixlen & 31, sub;

		if (i >= net->nsubnets)
			break;
		__builtin_memcpy(&sub, s->addr, 4);
		if (s->family == 4 &&
		    !((bpf_ntohl(a) ^ bpf_ntohl(sub)) >> (32 - plen)))
			return 1;
	}
	return 0;
}

#endif /* KVB_SUBNET_H */
