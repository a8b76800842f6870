// SPDX-License-Identifier: MIT
/*
 * Subnets and routes of nat and routed networks, and joining networks:
 * `net peer` / `net unpeer`. A network's subnets go into the route table
 * (kvb_route, an LPM trie the datapath asks which network a destination
 * belongs to); peering sets a bit in both networks' peers[] bitmaps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

/* a.b.c.d/8-30 or an IPv6 prefix /16-126, with no host bits set */
int subnet_parse(const char *s, struct kvb_subnet *sn)
{
	char buf[64], *slash;
	__u32 len;
	int v6;

	memset(sn, 0, sizeof(*sn));
	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return -EINVAL;
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	v6 = strchr(buf, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, sn->addr) != 1 ||
	    parse_u32(slash + 1, v6 ? 16 : 8, v6 ? 126 : 30, &len))
		return -EINVAL;
	sn->family = v6 ? 6 : 4;
	sn->prefixlen = (__u8)len;
	for (__u32 bit = len; bit < (v6 ? 128U : 32U); bit++)
		if (sn->addr[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL;
	return 0;
}

/*
 * Is subnet sn one a network may not have, because it overlaps addresses
 * that are no guest's unicast? IPv6: the IPv4-mapped range above all (the
 * route table keys IPv4 subnets as ::ffff:a.b.c.d, route_key, so an IPv6
 * subnet there would alias IPv4 space unchecked), loopback, link-local,
 * multicast. IPv4: "this network" 0/8, loopback, link-local (the host's
 * own zeroconf), multicast and the reserved 240/4 with the limited
 * broadcast (a gateway there would take the host's own routes for them:
 * 255.255.255.0/24 moved the host's limited broadcasts into the guest
 * network). What it overlaps, as "PREFIX (WHAT)", or NULL when it is fine.
 */
const char *subnet_reserved(const struct kvb_subnet *sn)
{
	static const struct {
		__u8 family;
		const char *addr, *what;
		__u32 len;
	} res[] = {
		{ 6, "::1", "::1 (the loopback address)", 128 },
		{ 6, "::", ":: (the unspecified address)", 128 },
		{ 6, "::", "::/96 (IPv4-compatible addresses)", 96 },
		{ 6, "::ffff:0:0", "::ffff:0:0/96 (IPv4-mapped addresses)", 96 },
		{ 6, "fe80::", "fe80::/10 (link-local addresses)", 10 },
		{ 6, "ff00::", "ff00::/8 (multicast addresses)", 8 },
		{ 4, "0.0.0.0", "0.0.0.0/8 (this network)", 8 },
		{ 4, "127.0.0.0", "127.0.0.0/8 (loopback addresses)", 8 },
		{ 4, "169.254.0.0", "169.254.0.0/16 (link-local addresses)", 16 },
		{ 4, "224.0.0.0", "224.0.0.0/4 (multicast addresses)", 4 },
		{ 4, "240.0.0.0", "240.0.0.0/4 (reserved addresses, the "
				  "limited broadcast)", 4 },
	};

	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		__u32 len = sn->prefixlen < res[i].len ? sn->prefixlen :
							 res[i].len;
		__u8 a[16] = {};
		bool same = true;

		if (res[i].family != sn->family)
			continue;
		inet_pton(sn->family == 6 ? AF_INET6 : AF_INET, res[i].addr, a);
		for (__u32 bit = 0; bit < len && same; bit++)
			same = !((sn->addr[bit / 8] ^ a[bit / 8]) &
				 (0x80 >> (bit % 8)));
		if (same)
			return res[i].what;
	}
	return NULL;
}

static bool in_subnet(const struct kvb_subnet *sn, const __u8 *a)
{
	for (__u32 bit = 0; bit < sn->prefixlen; bit++)
		if ((sn->addr[bit / 8] ^ a[bit / 8]) & (0x80 >> (bit % 8)))
			return false;
	return true;
}

/* Is a the network address or (IPv4) the broadcast of sn? */
static bool is_edge(const struct kvb_subnet *sn, const __u8 *a)
{
	__u32 bits = sn->family == 4 ? 32 : 128;
	bool all0 = true, all1 = true;

	for (__u32 bit = sn->prefixlen; bit < bits; bit++) {
		bool b = a[bit / 8] & (0x80 >> (bit % 8));

		all0 &= !b;
		all1 &= b;
	}
	return all0 || (sn->family == 4 && all1);
}

/*
 * Give each subnet its gateway: one of gws (text) inside it, else its
 * first host address. A gateway inside no subnet is an error.
 */
int subnets_gateways(struct kvb_subnet *sn, int n, char **gws, int ngw)
{
	int given[KVB_MAX_SUBNETS] = {};	/* gws index + 1 */

	if (n > KVB_MAX_SUBNETS)
		return err("net add: too many subnets");
	for (int i = 0; i < n; i++) {
		memcpy(sn[i].gw, sn[i].addr, 16);
		sn[i].gw[sn[i].family == 4 ? 3 : 15] |= 1;
	}
	for (int g = 0; g < ngw; g++) {
		__u8 a[16] = {};
		int v6 = strchr(gws[g], ':') != NULL, hit = 0;

		if (inet_pton(v6 ? AF_INET6 : AF_INET, gws[g], a) != 1)
			return err("net add: gateway %s: not an address", gws[g]);
		for (int i = 0; i < n; i++) {
			if (sn[i].family != (v6 ? 6 : 4) || !in_subnet(&sn[i], a))
				continue;
			if (is_edge(&sn[i], a))
				return err("net add: gateway %s: not a host "
					   "address of its subnet", gws[g]);
			/* one gateway a subnet (the second would be taken
			 * without a word, the first dropped) */
			if (given[i])
				return err("net add: gateways %s and %s are in "
					   "the same subnet: one gateway a "
					   "subnet", gws[given[i] - 1], gws[g]);
			given[i] = g + 1;
			memcpy(sn[i].gw, a, 16);
			hit = 1;
		}
		if (!hit)
			return err("net add: gateway %s is in none of the "
				   "subnets", gws[g]);
	}
	return 0;
}

/*
 * May a port of NET own address K? In nat and routed networks, it is a
 * host address of one of the network's subnets, not the gateway (an IPv6
 * link-local address belongs to every link). Bridge and internal networks
 * have no subnet: any address. Prints why and returns 1 if not.
 */
int net_addr_check(const char *cmd, const struct kvb_net *net,
		   const struct kvb_addr_key *k)
{
	char a[64], s[64], list[KVB_MAX_SUBNETS * 48] = "";
	size_t w = 0;

	if (!net_has(net, NT_GATEWAY))
		return 0;
	fmt_addr(k, a);
	if (addr_link_local(k)) {
		const __u8 *m = net->uplink_mac;	/* the gateway's MAC */
		const __u8 eui[8] = { m[0] ^ 2, m[1], m[2], 0xff, 0xfe,
				      m[3], m[4], m[5] };

		if (!memcmp(k->addr + 8, eui, 8))
			return err("%s: ip %s is the gateway's link-local "
				   "address in network %s", cmd, a, net->name);
		return 0;
	}
	for (__u32 i = 0; i < net->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *sn = &net->subnets[i];

		if (sn->family != k->family)
			continue;
		subnet_fmt(sn, false, s, sizeof(s));
		if (!in_subnet(sn, k->addr)) {
			w += (size_t)snprintf(list + w, w < sizeof(list) ?
					      sizeof(list) - w : 0, "%s%s",
					      w ? ", " : "", s);
			continue;
		}
		if (!memcmp(k->addr, sn->gw, k->family == 4 ? 4 : 16))
			return err("%s: ip %s is the gateway of network %s",
				   cmd, a, net->name);
		if (is_edge(sn, k->addr))
			return err("%s: ip %s is not a host address of %s", cmd,
				   a, s);
		return 0;
	}
	return err("%s: ip %s is outside network %s (%s)", cmd, a, net->name,
		   w ? list : k->family == 4 ? "it has no IPv4 subnet" :
					       "it has no IPv6 subnet");
}

void subnet_fmt(const struct kvb_subnet *sn, bool gw, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(sn->family == 4 ? AF_INET : AF_INET6, gw ? sn->gw : sn->addr,
		  a, sizeof(a));
	if (gw)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, sn->prefixlen);
}

static void route_key(const struct kvb_subnet *sn, struct kvb_route_key *k)
{
	memset(k, 0, sizeof(*k));
	if (sn->family == 4) {
		k->addr[10] = k->addr[11] = 0xff;
		memcpy(k->addr + 12, sn->addr, 4);
		k->prefixlen = 96U + sn->prefixlen;
	} else {
		memcpy(k->addr, sn->addr, 16);
		k->prefixlen = sn->prefixlen;
	}
}

/*
 * Would a subnet overlap one of another network's? Two networks of the
 * fabric never claim the same addresses.
 */
int subnets_check(struct fabric *fb, const struct kvb_subnet *sn, int n)
{
	for (int i = 0; i < n; i++) {
		struct kvb_route_key k;
		struct kvb_route r;
		struct kvb_net other;
		char a[64];

		route_key(&sn[i], &k);
		k.prefixlen = 128;	/* its first address in an existing one */
		if (!bpf_map_lookup_elem(fb->route_fd, &k, &r) &&
		    !net_get(fb, r.net_id, &other)) {
			subnet_fmt(&sn[i], false, a, sizeof(a));
			return err("net add: subnet %s overlaps network %s", a,
				   other.name);
		}
		for (int j = 0; j < i; j++)
			if (sn[j].family == sn[i].family &&
			    (in_subnet(&sn[j], sn[i].addr) ||
			     in_subnet(&sn[i], sn[j].addr))) {
				subnet_fmt(&sn[i], false, a, sizeof(a));
				return err("net add: subnet %s given twice", a);
			}
	}
	/* an existing, larger subnet inside one of ours */
	{
		struct kvb_route_key key, *prev = NULL;

		while (!bpf_map_get_next_key(fb->route_fd, prev, &key)) {
			struct kvb_route r;
			struct kvb_net other;

			prev = &key;
			for (int i = 0; i < n; i++) {
				struct kvb_route_key mine;

				route_key(&sn[i], &mine);
				if (key.prefixlen < mine.prefixlen)
					continue;
				struct kvb_subnet s = { .prefixlen = (__u8)mine.prefixlen,
							.family = 6 };

				memcpy(s.addr, mine.addr, 16);
				if (in_subnet(&s, key.addr) &&
				    !bpf_map_lookup_elem(fb->route_fd, &key, &r) &&
				    !net_get(fb, r.net_id, &other)) {
					char a[64];

					subnet_fmt(&sn[i], false, a, sizeof(a));
					return err("net add: subnet %s overlaps "
						   "network %s", a, other.name);
				}
			}
		}
	}
	return 0;
}

int routes_put(struct fabric *fb, const struct kvb_net *net)
{
	struct kvb_route r = { .net_id = net->id, .gw_host = net->gw_host };

	for (__u32 i = 0; i < net->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		struct kvb_route_key k;

		route_key(&net->subnets[i], &k);
		if (bpf_map_update_elem(fb->route_fd, &k, &r, BPF_ANY))
			return err("net add: %s: route table: %s", net->name,
				   strerror(errno));
	}
	return 0;
}

void routes_del(struct fabric *fb, const struct kvb_net *net)
{
	for (__u32 i = 0; i < net->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		struct kvb_route_key k;
		struct kvb_route r;

		route_key(&net->subnets[i], &k);
		if (!bpf_map_lookup_elem(fb->route_fd, &k, &r) &&
		    r.net_id == net->id)
			bpf_map_delete_elem(fb->route_fd, &k);
	}
}

static void peer_bit(struct kvb_net *n, __u32 id, bool on)
{
	__u64 m = 1ULL << (id % 64);

	if (on)
		n->peers[id / 64] |= m;
	else
		n->peers[id / 64] &= ~m;
}

bool net_peered(const struct kvb_net *n, __u32 id)
{
	return n->peers[id / 64] >> (id % 64) & 1;
}

/* Join (on) or part two networks; both are rewritten. */
static int peer_set(struct fabric *fb, const char *cmd, const char *n1,
		    const char *n2, bool on)
{
	bool parted = false;
	struct kvb_net a, b;

	if (net_find(fb, n1, &a))
		return err("net %s: network %s does not exist", cmd, n1);
	if (net_find(fb, n2, &b))
		return err("net %s: network %s does not exist", cmd, n2);
	if (a.id == b.id)
		return err("net %s: a network is always joined to itself", cmd);
	if (on) {
		for (int i = 0; i < 2; i++) {
			const struct kvb_net *n = i ? &b : &a;

			if (!net_has(n, NT_GATEWAY))
				return err("net peer: %s is a %s network: only "
					   "routed and nat networks have a "
					   "gateway to route through", n->name,
					   net_type_name(n->type));
		}
		if (net_peered(&a, b.id))
			return 0;
	} else if (!net_peered(&a, b.id)) {
		return err("net unpeer: %s and %s are not peered", n1, n2);
	}
	/* a routed network peered with a nat one goes out through it */
	for (int i = 0; i < 2; i++) {
		struct kvb_net *r = i ? &b : &a, *n = i ? &a : &b;

		if (!net_has(r, NT_ROUTED) || !net_has(n, NT_NAT))
			continue;
		if (on && r->via_nat && r->via_nat != n->id)
			return err("net peer: %s already reaches the outside "
				   "through another nat network", r->name);
		parted |= !on && r->via_nat == n->id;
		r->via_nat = on ? n->id : 0;
	}
	peer_bit(&a, b.id, on);
	peer_bit(&b, a.id, on);
	if (net_put(fb, &a) || net_put(fb, &b))
		return err("net %s: %s", cmd, strerror(errno));
	/* the routed network's flows through the nat one are no guest
	 * port's now (nat_carries): they go, counted down there */
	if (parted)
		nat_flows_forget(fb);
	return 0;
}

int net_peer(int argc, char **argv)
{
	if (argc != 2)
		return err("net peer: expected NAME1 NAME2");
	if (!fab())
		return 1;
	return peer_set(fab(), "peer", argv[0], argv[1], true);
}

int net_unpeer(int argc, char **argv)
{
	if (argc != 2)
		return err("net unpeer: expected NAME1 NAME2");
	if (!fab())
		return 1;
	return peer_set(fab(), "unpeer", argv[0], argv[1], false);
}

/* net del: no network stays peered with (or behind) the one leaving. */
void peers_forget(struct fabric *fb, __u32 id)
{
	struct kvb_net n;

	for (__u32 i = 1; i < KVB_MAX_NETS; i++) {
		if (i == id || net_get(fb, i, &n) || !net_peered(&n, id))
			continue;
		peer_bit(&n, id, false);
		if (n.via_nat == id)
			n.via_nat = 0;
		net_put(fb, &n);
	}
}
