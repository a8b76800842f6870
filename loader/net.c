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

static int net_help(void)
{
	fprintf(stderr,
		"Usage: kvmbpf net add NAME type bridge [uplink DEV] [mtu N]\n"
		"       kvmbpf net add NAME type internal [mtu N]\n"
		"       kvmbpf net add NAME type nat subnet CIDR [gateway ADDR]\n"
		"                      [wan DEV] [dhcp on|off] [mtu N] [force]\n"
		"       kvmbpf net add NAME type routed subnet CIDR [subnet CIDR]...\n"
		"                      [gateway ADDR]... [wan DEV] [mtu N]\n"
		"                      [force]\n"
		"       kvmbpf net peer NAME1 NAME2\n"
		"       kvmbpf net unpeer NAME1 NAME2\n"
		"       kvmbpf net set NAME [ct-max N]\n"
		"                      [ct-timeout tcp-established|tcp|udp|icmp SECONDS]...\n"
		"       kvmbpf net del NAME\n"
		"       kvmbpf net show [NAME]\n"
		"       kvmbpf net leases NAME   DHCP leases (MAC, address, hostname,\n"
		"                                expiry, port)\n"
		"\n"
		"  bridge    guests switch with each other; with an uplink,\n"
		"            also with the LAN behind host NIC DEV and with\n"
		"            the host itself\n"
		"  internal  guests reach each other and nothing else\n"
		"  nat       a private IPv4 subnet; dhcp on (default) runs\n"
		"            dnsmasq on the gateway interface (leases, router,\n"
		"            DNS; a port's mac + ip is its static lease);\n"
		"            the gateway address (default:\n"
		"            the first host address) lives on host interface\n"
		"            kvbgwID; guests reach the outside through WAN DEV\n"
		"            (default: the default route's device) with its\n"
		"            address (source NAT in BPF, TCP/UDP/ICMP echo)\n"
		"  routed    IPv4 and IPv6 subnets (up to %d), routed without\n"
		"            NAT where the host's FIB says; gateways (default:\n"
		"            each subnet's first address) on kvbgwID, answered\n"
		"            ARP/ND and router advertisements (SLAAC on /64s)\n"
		"            in BPF; 'wan DEV': the outside's traffic to the\n"
		"            subnets arriving on DEV is routed in BPF too\n"
		"  peer      route between two routed/nat networks (unpeered\n"
		"            networks never reach each other); a routed network\n"
		"            peered with a nat one reaches the outside through\n"
		"            that network's translation (IPv4)\n"
		"  force     create a nat or routed network whose subnet\n"
		"            overlaps an address or a route of the host (or\n"
		"            another fabric's network): refused without it\n"
		"  NAME: 1-15 characters of [A-Za-z0-9_.-]; MTU: 68-65535,\n"
		"  default %d.\n"
		"Limits: %d networks, %d ports per network.\n",
		KVB_MAX_SUBNETS, KVB_DEFAULT_MTU, KVB_MAX_NETS - 1,
		KVB_MAX_NET_PORTS);
	return 0;
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
	const char *name, *uplink = NULL, *wan = NULL, *dhcp_arg = NULL;
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

		if (!strcmp(k, "force")) {	/* the one word with no value */
			force = true;
			i--;
			continue;
		}
		if (!v)
			return err("net add: %s needs a value", k);
		if (!strcmp(k, "type")) {
			if (net_type_parse(v, &type))
				return err("net add: type %s: expected bridge, "
					   "internal, nat or routed", v);
		} else if (!strcmp(k, "uplink")) {
			uplink = v;
		} else if (!strcmp(k, "subnet")) {
			if (net.nsubnets == KVB_MAX_SUBNETS)
				return err("net add: at most %d subnets",
					   KVB_MAX_SUBNETS);
			if (subnet_parse(v, &net.subnets[net.nsubnets]))
				return err("net add: subnet %s: expected "
					   "a.b.c.d/8-30 or an IPv6 prefix "
					   "/16-126, with no host bits", v);
			v6 |= net.subnets[net.nsubnets++].family == 6;
		} else if (!strcmp(k, "gateway")) {
			if (ngw == KVB_MAX_SUBNETS)
				return err("net add: at most %d gateways",
					   KVB_MAX_SUBNETS);
			gws[ngw++] = argv[i + 1];
		} else if (!strcmp(k, "wan")) {
			wan = v;
		} else if (!strcmp(k, "dhcp")) {
			dhcp_arg = v;
			if (parse_onoff(v, &dhcp))
				return err("net add: dhcp %s: expected on or off",
					   v);
		} else if (!strcmp(k, "mtu")) {
			if (parse_u32(v, 68, 65535, &mtu))
				return err("net add: mtu %s: expected 68-65535",
					   v);
		} else {
			return err("net add: unknown keyword '%s'", k);
		}
	}
	if (type == KVB_NET_NONE)
		return err("net add: missing 'type bridge|internal|nat|routed'");
	if (uplink && type != KVB_NET_BRIDGE)
		return err("net add: uplink: only bridge networks have one");
	if ((net.nsubnets || ngw || wan) && type != KVB_NET_NAT &&
	    type != KVB_NET_ROUTED)
		return err("net add: subnet, gateway and wan are for nat and "
			   "routed networks");
	if (dhcp_arg && type != KVB_NET_NAT)
		return err("net add: dhcp is for nat networks");
	if (force && type != KVB_NET_NAT && type != KVB_NET_ROUTED)
		return err("net add: force is for nat and routed networks");
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
		fprintf(stderr, "kvmbpf: net add: %s: wan %s has no IPv4 "
			"address yet; flows go out once it has one\n", name,
			wan);
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
		if (!strcmp(argv[i], "ct-max") && i + 1 < argc) {
			if (parse_u32(argv[i + 1], 1, KVB_MAX_CT / 2, &net.ct_max))
				return err("net set: ct-max %s: expected 1-%d",
					   argv[i + 1], KVB_MAX_CT / 2);
			i += 2;
		} else if (!strcmp(argv[i], "ct-timeout") && i + 2 < argc) {
			int t = -1;
			__u32 secs;

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
		} else {
			return err("net set: unknown or incomplete setting '%s'",
				   argv[i]);
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

/* dnsmasq found dead and started again by a command (dhcp_revive) */
static void show_restarts(struct jw *w, const struct kvb_net *n)
{
	__u64 last;
	int count = dhcp_restarts(n, &last);

	jw_kuint(w, "dnsmasq_restarts", count);
	jw_key(w, "dnsmasq_restarted_at");
	if (count)
		jw_uint(w, last);
	else
		jw_null(w);
}

static void show_routed(struct jw *w, const struct kvb_net *n)
{
	char a[64], gh[16], gp[16], wn[16];

	jw_key(w, "subnets");
	jw_arr_begin(w);
	for (__u32 i = 0; i < n->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		subnet_fmt(&n->subnets[i], false, a, sizeof(a));
		jw_str(w, a);
	}
	jw_arr_end(w);
	jw_key(w, "gateways");
	jw_arr_begin(w);
	for (__u32 i = 0; i < n->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		subnet_fmt(&n->subnets[i], true, a, sizeof(a));
		jw_str(w, a);
	}
	jw_arr_end(w);
	gateway_ifnames(n->id, gh, gp);
	jw_kstr(w, "interface", gh);
	jw_kstr(w, "wan", n->wan ? ifname_of(n->wan, NULL, wn) : NULL);
	jw_kbool(w, "ra_running", dhcp_running(n));
	show_restarts(w, n);
}

static void show_peers(struct jw *w, struct fabric *fb, const struct kvb_net *n)
{
	struct kvb_net p;

	jw_key(w, "peers");
	jw_arr_begin(w);
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (net_peered(n, id) && !net_get(fb, id, &p))
			jw_str(w, p.name);
	jw_arr_end(w);
	if (n->via_nat && !net_get(fb, n->via_nat, &p))
		jw_kstr(w, "via_nat", p.name);
}

static void show_net(struct jw *w, struct fabric *fb, const struct kvb_net *n)
{
	char up[16] = "", ifn[16];
	struct kvb_port p;

	if (n->uplink)
		ifname_of(n->uplink, port_get(fb, n->uplink, &p) ? NULL : &p,
			  up);
	if (w) {
		jw_obj_begin(w);
		jw_kstr(w, "name", n->name);
		jw_kuint(w, "id", n->id);
		jw_kstr(w, "type", net_type_name(n->type));
		jw_kstr(w, "uplink", n->uplink ? up : NULL);
		jw_kuint(w, "mtu", n->mtu);
		if (n->type == KVB_NET_NAT) {
			char a[16], b[16], gh[16], gp[16], wn[16];

			inet_ntop(AF_INET, &n->subnet, a, sizeof(a));
			snprintf(b, sizeof(b), "/%d",
				 __builtin_popcount(ntohl(n->netmask)));
			jw_key(w, "subnet");
			{
				char cidr[40];

				snprintf(cidr, sizeof(cidr), "%s%s", a, b);
				jw_str(w, cidr);
			}
			inet_ntop(AF_INET, &n->gw_ip, a, sizeof(a));
			jw_kstr(w, "gateway", a);
			gateway_ifnames(n->id, gh, gp);
			jw_kstr(w, "interface", gh);
			jw_kstr(w, "wan", ifname_of(n->wan, NULL, wn));
			inet_ntop(AF_INET, &n->nat_ip, a, sizeof(a));
			jw_kstr(w, "nat_address", n->nat_ip ? a : NULL);
			/* NAT's ports: 1024-65535 without these */
			snprintf(a, sizeof(a), "%u-%u",
				 n->host_port_lo ? n->host_port_lo : KVB_HOST_PORT_LO,
				 n->host_port_lo ? n->host_port_hi : KVB_HOST_PORT_HI);
			jw_kstr(w, "host_ports", a);
			jw_kbool(w, "dhcp", n->flags & KVB_NET_F_DHCP);
			if (n->flags & KVB_NET_F_DHCP) {
				jw_kbool(w, "dhcp_running", dhcp_running(n));
				show_restarts(w, n);
			}
			jw_kuint(w, "ct_count", ct_count(fb, n->id));
			jw_kuint(w, "ct_max", n->ct_max ? n->ct_max : KVB_MAX_CT / 2);
			jw_key(w, "ct_timeouts");
			jw_obj_begin(w);
			for (int k = 0; k < 4; k++)
				jw_kuint(w, timeout_names[k],
					 n->ct_timeout[k] ? n->ct_timeout[k] :
							    timeout_defaults[k]);
			jw_obj_end(w);

		}
		if (n->type == KVB_NET_ROUTED)
			show_routed(w, n);
		if (n->type == KVB_NET_ROUTED || n->type == KVB_NET_NAT) {
			show_peers(w, fb, n);
			jw_kbool(w, "force", n->flags & KVB_NET_F_FORCE);
		}
		jw_key(w, "ports");
		jw_arr_begin(w);
		for (__u16 i = 0; i < n->nports && i < KVB_MAX_NET_PORTS; i++)
			jw_str(w, ifname_of(n->ports[i],
					    port_get(fb, n->ports[i], &p) ? NULL
									 : &p,
					    ifn));
		jw_arr_end(w);
		jw_obj_end(w);
		return;
	}
	printf("%-15s id %-3u type %-8s mtu %-5u uplink %-15s ports", n->name,
	       n->id, net_type_name(n->type), n->mtu, n->uplink ? up : "-");
	for (__u16 i = 0; i < n->nports && i < KVB_MAX_NET_PORTS; i++)
		printf(" %s", ifname_of(n->ports[i],
					port_get(fb, n->ports[i], &p) ? NULL : &p,
					ifn));
	printf("\n");
	if ((n->type == KVB_NET_NAT && (n->flags & KVB_NET_F_DHCP)) ||
	    (n->type == KVB_NET_ROUTED && dhcp_restarts(n, NULL))) {
		__u64 last;
		int count = dhcp_restarts(n, &last);

		printf("  %s: %s", n->type == KVB_NET_NAT ? "dhcp" : "ra",
		       dhcp_running(n) ? "running" : "not running");
		if (count) {
			char when[32];
			time_t t = (time_t)last;

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
				 localtime(&t));
			printf(", restarted %d time%s, last at %s", count,
			       count == 1 ? "" : "s", when);
		}
		printf("\n");
	}
}

static int net_show(int argc, char **argv)
{
	struct jw *w = NULL;
	struct kvb_net net;
	struct fabric *fb;

	if (argc > 1)
		return err("net show: unexpected argument '%s'", argv[1]);
	fb = fab();
	if (argc == 1 && net_find(fb, argv[0], &net))
		return err("net show: network %s does not exist", argv[0]);
	if (opts.json) {
		w = jw_new(stdout, opts.pretty);
		jw_arr_begin(w);
	}
	if (argc == 1) {
		show_net(w, fb, &net);
	} else {
		/* in id order, so output is stable */
		for (__u32 id = 1; id < KVB_MAX_NETS; id++)
			if (!net_get(fb, id, &net))
				show_net(w, fb, &net);
	}
	if (w) {
		jw_arr_end(w);
		jw_free(w);
	}
	return 0;
}

int do_net(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "add", net_add },
		{ "del", net_del },
		{ "set", net_set },
		{ "peer", net_peer },
		{ "unpeer", net_unpeer },
		{ "show", net_show },
		{ "list", net_show },
		{ "leases", net_leases },
		{ NULL, NULL },
	};

	return dispatch("net", cmds, argc, argv, net_help);
}
