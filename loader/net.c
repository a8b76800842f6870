// SPDX-License-Identifier: MIT
/* Networks: `net add`, `net del`, `net show`. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

#define KVB_DEFAULT_MTU 1500

static const char *const timeout_names[4] = {
	[KVB_CT_T_TCP_EST] = "tcp-established",
	[KVB_CT_T_TCP] = "tcp",
	[KVB_CT_T_UDP] = "udp",
	[KVB_CT_T_ICMP] = "icmp",
};
static const __u32 timeout_defaults[4] = {
	[KVB_CT_T_TCP_EST] = KVB_CT_TCP_EST_S,
	[KVB_CT_T_TCP] = KVB_CT_TCP_OTHER_S,
	[KVB_CT_T_UDP] = KVB_CT_UDP_S,
	[KVB_CT_T_ICMP] = KVB_CT_ICMP_S,
};

#define T(x) (1U << KVB_NET_##x)
enum { SK_CT_MAX, SK_CT_TIMEOUT };
static const struct keyword net_set_kws[] = {
	[SK_CT_MAX] = { "ct-max", "N", "flows at once (default and most: the\n"
			"table's half)", T(NAT) },
	[SK_CT_TIMEOUT] = { "ct-timeout", "KIND SECONDS", "idle timeout of "
			    "tcp-established, tcp,\nudp or icmp flows", T(NAT) },
};

#define T_GW (T(NAT) | T(ROUTED))	/* the types with a gateway */

/* The keywords of net add, and the types each applies to. */
enum { NK_TYPE, NK_UPLINK, NK_SUBNET, NK_GATEWAY, NK_WAN, NK_DHCP, NK_MTU,
       NK_FORCE };
static const struct keyword net_kws[] = {
	[NK_TYPE] = { "type", "TYPE", "bridge, internal, nat or routed", 0 },
	[NK_UPLINK] = { "uplink", "DEV", "the host NIC the guests share the LAN\n"
			"of (and the host itself)", T(BRIDGE) },
	[NK_SUBNET] = { "subnet", "CIDR", "nat: one IPv4 subnet; routed: up to "
			"4,\nIPv4 and IPv6", T_GW },
	[NK_GATEWAY] = { "gateway", "ADDR", "a subnet's gateway (default: its "
			 "first\naddress), on the host interface kvbgwID",
			 T_GW },
	[NK_WAN] = { "wan", "DEV", "nat: the device whose address flows go\n"
		     "out with (default: the default route's);\nrouted: "
		     "where the outside's traffic to the\nsubnets arrives",
		     T_GW },
	[NK_DHCP] = { "dhcp", "on|off", "dnsmasq on the gateway interface\n"
		      "(default on)", T(NAT) },
	[NK_MTU] = { "mtu", "N", "68-65535, default 1500", 0 },
	[NK_FORCE] = { "force", NULL, "create it even where its subnet overlaps\n"
		       "an address or a route of the host", T_GW },
};

/* "kvmbpf net add NAME type nat subnet CIDR ..." lines, from the table */
static void net_types_help(void)
{
	for (__u32 t = KVB_NET_BRIDGE; t < KVB_NET_TYPE_MAX; t++) {
		printf("  net add NAME type %s", net_type_name(t));
		for (size_t k = 1; k < ARRAY_SIZE(net_kws); k++)
			if (!net_kws[k].only || (net_kws[k].only & (1U << t)))
				printf(" [%s%s%s]", net_kws[k].name,
				       net_kws[k].arg ? " " : "",
				       net_kws[k].arg ? net_kws[k].arg : "");
		printf("\n");
	}
}

static void net_details(void)
{
	net_types_help();
	printf("\n");
	keyword_help(net_kws, ARRAY_SIZE(net_kws));
	printf("\n"
	       "  bridge    guests switch with each other; with an uplink,\n"
	       "            also with the LAN behind host NIC DEV and with\n"
	       "            the host itself\n"
	       "  internal  guests reach each other and nothing else\n"
	       "  nat       a private IPv4 subnet; dhcp on (default) runs\n"
	       "            dnsmasq on the gateway interface (leases, router,\n"
	       "            DNS; a port's mac + ip is its static lease);\n"
	       "            guests reach the outside through WAN DEV with its\n"
	       "            address (source NAT in BPF, TCP/UDP/ICMP echo)\n"
	       "  routed    IPv4 and IPv6 subnets (up to %d), routed without\n"
	       "            NAT where the host's FIB says; gateways answer\n"
	       "            ARP/ND and router advertisements (SLAAC on /64s)\n"
	       "            in BPF\n"
	       "  peer      route between two routed/nat networks (unpeered\n"
	       "            networks never reach each other); a routed network\n"
	       "            peered with a nat one reaches the outside through\n"
	       "            that network's translation (IPv4)\n"
	       "  set       nat networks: the flow limit and timeouts:\n",
	       KVB_MAX_SUBNETS);
	keyword_help(net_set_kws, ARRAY_SIZE(net_set_kws));
	printf("  NAME: 1-15 characters of [A-Za-z0-9_.-].\n"
	       "Limits: %d networks, %d ports per network.\n",
	       KVB_MAX_NETS - 1, KVB_MAX_NET_PORTS);
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n >= KVB_NAME_LEN)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return 0;
	return 1;
}

static int alloc_id(struct fabric *fb, __u32 *id)
{
	struct kvb_net tmp;

	for (__u32 i = 1; i < KVB_MAX_NETS; i++) {
		if (net_get(fb, i, &tmp)) {
			*id = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * A nat or routed network's subnets must not overlap an address or a
 * route of the host: its gateway would take the host's addresses and its
 * routes shadow the host's (libvirt refuses the same). The interfaces of
 * another kvmbpf network count as the host's, unless they are the ones
 * this network would have (left behind by an earlier instance of it).
 */
static int host_check(const char *name, const struct kvb_net *net)
{
	char host[16], port[16], what[64], dev[16], a[64];
	__u32 skip;

	gateway_ifnames(net->id, host, port);
	skip = if_nametoindex(host);
	for (__u32 i = 0; i < net->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		int ret = host_overlap(&net->subnets[i], skip, what, dev);

		subnet_fmt(&net->subnets[i], false, a, sizeof(a));
		if (ret < 0)
			return err("net add %s: subnet %s: cannot read the "
				   "host's routes: %s", name, a, strerror(-ret));
		if (ret)
			return err("net add %s: subnet %s overlaps %s on %s (use "
				   "'force' to create it anyway)", name, a,
				   what, dev);
	}
	return 0;
}

static int net_add(int argc, char **argv)
{
	const char *name, *uplink = NULL, *wan = NULL;
	unsigned int kwseen = 0;
	char *gws[KVB_MAX_SUBNETS];
	struct kvb_net net = {}, tmp;
	struct fabric *fb;
	__u32 type = KVB_NET_NONE, mtu = KVB_DEFAULT_MTU;
	char wanbuf[16];
	int ngw = 0;
	bool dhcp = true, v6 = false, force = false;

	if (argc < 1)
		return err("net add: missing NAME");
	name = argv[0];
	if (!valid_name(name))
		return err("net add: name '%s': use 1-%d characters of "
			   "[A-Za-z0-9_.-]", name, KVB_NAME_LEN - 1);
	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const struct keyword *kw = keyword_find(net_kws,
							ARRAY_SIZE(net_kws), k);

		if (!kw)
			return err("net add: unknown keyword '%s' (try 'kvmbpf "
				   "net help')", k);
		kwseen |= 1U << (kw - net_kws);
		if (!kw->arg) {		/* force: the one word with no value */
			force = true;
			i--;
			continue;
		}
		if (!v)
			return err("net add: %s needs a value", k);
		switch (kw - net_kws) {
		case NK_TYPE:
			if (net_type_parse(v, &type))
				return err("net add: type %s: expected bridge, "
					   "internal, nat or routed", v);
			break;
		case NK_UPLINK:
			uplink = v;
			break;
		case NK_SUBNET:
			if (net.nsubnets == KVB_MAX_SUBNETS)
				return err("net add: at most %d subnets",
					   KVB_MAX_SUBNETS);
			if (subnet_parse(v, &net.subnets[net.nsubnets]))
				return err("net add: subnet %s: expected "
					   "a.b.c.d/8-30 or an IPv6 prefix "
					   "/16-126, with no host bits", v);
			v6 |= net.subnets[net.nsubnets++].family == 6;
			break;
		case NK_GATEWAY:
			if (ngw == KVB_MAX_SUBNETS)
				return err("net add: at most %d gateways",
					   KVB_MAX_SUBNETS);
			gws[ngw++] = argv[i + 1];
			break;
		case NK_WAN:
			wan = v;
			break;
		case NK_DHCP:
			if (parse_onoff(v, &dhcp))
				return err("net add: dhcp %s: expected on or off",
					   v);
			break;
		case NK_MTU:
			if (parse_u32(v, 68, 65535, &mtu))
				return err("net add: mtu %s: expected 68-65535",
					   v);
			break;
		}
	}
	if (type == KVB_NET_NONE)
		return err("net add: missing 'type bridge|internal|nat|routed'");
	/* a keyword of another type: "uplink: only bridge networks ..." */
	for (size_t k = 0; k < ARRAY_SIZE(net_kws); k++) {
		char types[64] = "";
		size_t w = 0;

		if (!(kwseen & (1U << k)) || !net_kws[k].only ||
		    (net_kws[k].only & (1U << type)))
			continue;
		for (__u32 t = KVB_NET_BRIDGE; t < KVB_NET_TYPE_MAX; t++)
			if (net_kws[k].only & (1U << t))
				w += (size_t)snprintf(types + w, sizeof(types) - w,
						      "%s%s", w ? " and " : "",
						      net_type_name(t));
		return err("net add: %s is for %s networks only",
			   net_kws[k].name, types);
	}
	if (type == KVB_NET_NAT || type == KVB_NET_ROUTED) {
		if (!net.nsubnets)
			return err("net add: %s: missing 'subnet CIDR'",
				   net_type_name(type));
		if (subnets_gateways(net.subnets, (int)net.nsubnets, gws, ngw))
			return 1;
	}
	if (type == KVB_NET_NAT) {
		struct kvb_subnet *sn = &net.subnets[0];

		if (net.nsubnets != 1 || sn->family != 4)
			return err("net add: nat: exactly one IPv4 subnet");
		memcpy(&net.subnet, sn->addr, 4);
		memcpy(&net.gw_ip, sn->gw, 4);
		net.netmask = htonl(~0U << (32 - sn->prefixlen));
		if (!wan) {
			if (default_route_dev(wanbuf))
				return err("net add: no default route: name the "
					   "WAN device with 'wan DEV'");
			wan = wanbuf;
		}
		if (dhcp)
			net.flags |= KVB_NET_F_DHCP;
		/* none yet (boot): picked up when it comes (wan_wait_start) */
		net.nat_ip = dev_ipv4(wan);
		if (nat_port_range(&net.host_port_lo, &net.host_port_hi))
			return 1;
	}
	if (wan) {
		net.wan = if_nametoindex(wan);
		if (!net.wan)
			return err("net add: wan %s: no such device", wan);
	}
	if (uplink && !if_nametoindex(uplink))
		return err("net add: uplink %s: no such device", uplink);

	fb = fab();
	if (!net_find(fb, name, &tmp))
		return err("net add: network %s already exists", name);
	if (subnets_check(fb, net.subnets, (int)net.nsubnets))
		return 1;
	if (alloc_id(fb, &net.id))
		return err("net add: too many networks (%d)", KVB_MAX_NETS - 1);
	if (force)
		net.flags |= KVB_NET_F_FORCE;
	else if (host_check(name, &net))
		return 1;
	if (wan && dev_refuse(fb, "net add", wan, KVB_PORT_WAN))
		return 1;
	snprintf(net.name, sizeof(net.name), "%s", name);
	net.type = type;
	net.mtu = mtu;
	if (bpf_map_update_elem(fb->net_fd, &net.id, &net, BPF_NOEXIST))
		return err("net add: %s: cannot create: %s", name,
			   strerror(errno));
	if (type == KVB_NET_NAT)
		ct_recount(fb);	/* a reused id starts at its real count */
	if (uplink && port_attach(fb, "net add", uplink, net.id,
				  KVB_PORT_UPLINK,
				  &(struct port_opts){ .xdp = true,
						       .naddrs = -1 })) {
		bpf_map_delete_elem(fb->net_fd, &net.id);
		return 1;
	}
	if (type == KVB_NET_NAT || type == KVB_NET_ROUTED) {
		if ((wan && wan_attach(fb, wan, net.id)) ||
		    gateway_create(fb, &net) ||
		    (type == KVB_NET_NAT && dhcp && dhcp_start(fb, &net)) ||
		    (type == KVB_NET_ROUTED && v6 && ra_start(&net))) {
			struct kvb_net cur;

			if (!net_get(fb, net.id, &cur))
				net_remove(fb, &cur);
			return 1;
		}
	}
	if (type == KVB_NET_NAT && !net.nat_ip) {
		warn("net add: %s: wan %s has no IPv4 address yet; flows go "
		     "out once it has one", name, wan);
		wan_wait_start(fb, &net);
	}
	return 0;
}

/* Detach every port, forget the MACs, then the network itself. */
int net_remove(struct fabric *fb, const struct kvb_net *net)
{
	struct kvb_net cur = *net;
	int ret = 0;

	while (cur.nports > 0) {
		struct kvb_port p;
		__u32 ifx = cur.ports[cur.nports - 1];

		if (!port_get(fb, ifx, &p))
			ret |= port_detach(fb, "net del", &p);
		if (net_get(fb, net->id, &cur))
			break;
		/* a member with no port entry: drop it from the list */
		if (cur.nports && cur.ports[cur.nports - 1] == ifx) {
			cur.ports[--cur.nports] = 0;
			net_put(fb, &cur);
		}
	}
	fdb_purge(fb, 0, net->id);
	if (net->type == KVB_NET_NAT || net->type == KVB_NET_ROUTED) {
		dhcp_stop(net);
		wan_wait_stop(net);
		fwd_purge(fb, net->id);
		ct_flush_net(fb, net->id);
		routes_del(fb, net);
		peers_forget(fb, net->id);
		gateway_delete(net->id);
		wan_release(fb, net->wan, net->id);
	}
	if (bpf_map_delete_elem(fb->net_fd, &net->id))
		return err("net del: %s: %s", net->name, strerror(errno));
	return ret;
}

/* net set NAME ct-timeout KIND SECONDS | ct-max N ... (nat networks) */
static int net_set(int argc, char **argv)
{
	struct kvb_net net;
	struct fabric *fb;

	if (argc < 3)
		return err("net set: expected NAME and settings");
	fb = fab();
	if (net_find(fb, argv[0], &net))
		return err("net set: network %s does not exist", argv[0]);
	if (net.type != KVB_NET_NAT)
		return err("net set: %s: ct-timeout and ct-max are for nat "
			   "networks", argv[0]);
	for (int i = 1; i < argc;) {
		const struct keyword *kw = keyword_find(net_set_kws,
							ARRAY_SIZE(net_set_kws),
							argv[i]);
		int t = -1;
		__u32 secs;

		if (!kw || i + 1 + (kw - net_set_kws == SK_CT_TIMEOUT) >= argc)
			return err("net set: unknown or incomplete setting '%s' "
				   "(try 'kvmbpf net help')", argv[i]);
		switch (kw - net_set_kws) {
		case SK_CT_MAX:
			if (parse_u32(argv[i + 1], 1, KVB_MAX_CT / 2, &net.ct_max))
				return err("net set: ct-max %s: expected 1-%d",
					   argv[i + 1], KVB_MAX_CT / 2);
			i += 2;
			break;
		case SK_CT_TIMEOUT:
			for (int k = 0; k < 4; k++)
				if (!strcmp(argv[i + 1], timeout_names[k]))
					t = k;
			if (t < 0)
				return err("net set: ct-timeout %s: expected "
					   "tcp-established, tcp, udp or icmp",
					   argv[i + 1]);
			if (parse_u32(argv[i + 2], 1, 864000, &secs))
				return err("net set: ct-timeout %s %s: expected "
					   "1-864000 seconds", argv[i + 1],
					   argv[i + 2]);
			net.ct_timeout[t] = secs;
			i += 3;
			break;
		}
	}
	if (net_put(fb, &net))
		return err("net set: %s: %s", net.name, strerror(errno));
	return 0;
}

static int net_del(int argc, char **argv)
{
	struct kvb_net net;

	if (argc != 1)
		return err("net del: expected exactly one NAME");
	if (net_find(fab(), argv[0], &net))
		return err("net del: network %s does not exist", argv[0]);
	return net_remove(fab(), &net);
}

/* dnsmasq: whether it runs, and how often the upkeep step restarted it */
static void show_dnsmasq(const struct kvb_net *n)
{
	__u64 last;
	int count = dhcp_restarts(n, &last);
	bool running = dhcp_running(n);

	print_bool(PRINT_JSON, "dnsmasq_running", NULL, running);
	print_text("  %s: %s", n->type == KVB_NET_NAT ? "dhcp" : "ra",
		   running ? "running" : "not running");
	print_uint(PRINT_JSON, "dnsmasq_restarts", NULL, (__u64)count);
	if (count) {
		char when[32];
		time_t t = (time_t)last;

		print_uint(PRINT_JSON, "dnsmasq_restarted_at", NULL, last);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
			 localtime(&t));
		print_text(", restarted %d time%s, last at %s", count,
			   count == 1 ? "" : "s", when);
	} else {
		print_null("dnsmasq_restarted_at");
	}
	print_nl();
}

/* whether a network runs a dnsmasq: nat with DHCP, routed with IPv6 */
static bool has_dnsmasq(const struct kvb_net *n)
{
	if (n->type == KVB_NET_NAT)
		return n->flags & KVB_NET_F_DHCP;
	for (__u32 i = 0; i < n->nsubnets && i < KVB_MAX_SUBNETS; i++)
		if (n->subnets[i].family == 6)
			return true;
	return false;
}

/* The subnets, gateways, host interface and WAN of nat and routed ones. */
static void show_gateway(const struct kvb_net *n)
{
	char a[64], gh[16], gp[16], wn[16];

	print_text("  subnet");
	open_json_array("subnets");
	for (__u32 i = 0; i < n->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		subnet_fmt(&n->subnets[i], false, a, sizeof(a));
		print_string(PRINT_ANY, NULL, " %s", a);
	}
	close_json_array();
	print_text(" gateway");
	open_json_array("gateways");
	for (__u32 i = 0; i < n->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		subnet_fmt(&n->subnets[i], true, a, sizeof(a));
		print_string(PRINT_ANY, NULL, " %s", a);
	}
	close_json_array();
	gateway_ifnames(n->id, gh, gp);
	print_string(PRINT_ANY, "interface", " interface %s", gh);
	print_string(PRINT_ANY, "wan", " wan %s",
		     n->wan ? ifname_of(n->wan, NULL, wn) : NULL);
	print_onoff(PRINT_ANY, "force", " force %s", n->flags & KVB_NET_F_FORCE);
	print_nl();
}

static void show_nat(struct fabric *fb, const struct kvb_net *n)
{
	char a[16], ports[16];

	inet_ntop(AF_INET, &n->nat_ip, a, sizeof(a));
	print_string(PRINT_ANY, "nat_address", "  nat-address %s",
		     n->nat_ip ? a : NULL);
	/* NAT's ports: 1024-65535 without these */
	snprintf(ports, sizeof(ports), "%u-%u",
		 n->host_port_lo ? n->host_port_lo : KVB_HOST_PORT_LO,
		 n->host_port_lo ? n->host_port_hi : KVB_HOST_PORT_HI);
	print_string(PRINT_ANY, "host_ports", " host-ports %s", ports);
	print_onoff(PRINT_ANY, "dhcp", " dhcp %s", n->flags & KVB_NET_F_DHCP);
	print_nl();
	print_uint(PRINT_ANY, "ct_count", "  ct %llu", ct_count(fb, n->id));
	print_uint(PRINT_ANY, "ct_max", " of ct-max %llu",
		   n->ct_max ? n->ct_max : KVB_MAX_CT / 2);
	print_text(" ct-timeout");
	open_json_object("ct_timeouts");
	for (int k = 0; k < 4; k++) {
		char fmt[32];

		snprintf(fmt, sizeof(fmt), " %s %%llu", timeout_names[k]);
		print_uint(PRINT_ANY, timeout_names[k], fmt,
			   n->ct_timeout[k] ? n->ct_timeout[k] :
					      timeout_defaults[k]);
	}
	close_json_object();
	print_nl();
}

static void show_peers(struct fabric *fb, const struct kvb_net *n)
{
	struct kvb_net p;

	print_text("  peers");
	open_json_array("peers");
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (net_peered(n, id) && !net_get(fb, id, &p))
			print_string(PRINT_ANY, NULL, " %s", p.name);
	close_json_array();
	if (n->via_nat && !net_get(fb, n->via_nat, &p))
		print_string(PRINT_ANY, "via_nat", " (outside through %s)",
			     p.name);
	print_nl();
}

static void show_net(struct fabric *fb, const struct kvb_net *n)
{
	bool gw = n->type == KVB_NET_NAT || n->type == KVB_NET_ROUTED;
	char up[16] = "", ifn[16];
	struct kvb_port p;

	/* nat and routed networks' uplink field is their gateway port:
	 * internal, not an uplink */
	if (n->uplink && !gw)
		ifname_of(n->uplink, port_get(fb, n->uplink, &p) ? NULL : &p,
			  up);
	open_json_object(NULL);
	print_string(PRINT_ANY, "name", "%s", n->name);
	print_uint(PRINT_ANY, "id", " id %llu", n->id);
	print_string(PRINT_ANY, "type", " type %s", net_type_name(n->type));
	print_uint(PRINT_ANY, "mtu", " mtu %llu", n->mtu);
	print_string(n->type == KVB_NET_BRIDGE ? PRINT_ANY : PRINT_JSON,
		     "uplink", " uplink %s", *up ? up : NULL);
	print_nl();
	if (gw)
		show_gateway(n);
	if (n->type == KVB_NET_NAT)
		show_nat(fb, n);
	if (gw) {
		show_peers(fb, n);
		if (has_dnsmasq(n))
			show_dnsmasq(n);
	}
	print_text("  ports");
	open_json_array("ports");
	for (__u16 i = 0; i < n->nports && i < KVB_MAX_NET_PORTS; i++)
		print_string(PRINT_ANY, NULL, " %s",
			     ifname_of(n->ports[i],
				       port_get(fb, n->ports[i], &p) ? NULL : &p,
				       ifn));
	close_json_array();
	print_nl();
	close_json_object();
}

static int net_show(int argc, char **argv)
{
	struct kvb_net net;
	struct fabric *fb;

	if (argc > 1)
		return err("net show: unexpected argument '%s'", argv[1]);
	fb = fab_ro();
	if (argc == 1) {
		if (net_find(fb, argv[0], &net))
			return err("net show: network %s does not exist",
				   argv[0]);
		show_net(fb, &net);
		return 0;
	}
	/* in id order, so output is stable */
	open_json_array(NULL);
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (!net_get(fb, id, &net))
			show_net(fb, &net);
	close_json_array();
	return 0;
}

const struct object obj_net = {
	.name = "net",
	.cmds = (const struct cmd[]){
		{ "add", net_add, "NAME type bridge|internal|nat|routed "
		  "[KEYWORD ARG]...", CMD_TEND },
		{ "del", net_del, "NAME", CMD_TEND },
		{ "set", net_set, "NAME [ct-max N] [ct-timeout KIND SECONDS]...",
		  CMD_TEND },
		{ "peer", net_peer, "NAME1 NAME2", CMD_TEND },
		{ "unpeer", net_unpeer, "NAME1 NAME2", CMD_TEND },
		{ "show", net_show, "[NAME]", 0 },
		{ "list", net_show, NULL, 0 },
		{ "leases", net_leases, "NAME", 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = net_details,
};
