// SPDX-License-Identifier: MIT
/*
 * The network types: one ops table a type (bridge, internal, nat,
 * routed), the only place where they differ. net.c runs a network's life
 * through these ops; the pieces they put together live below: port.c
 * (ports), gateway.c (the gateway interface and the WAN hook), routed.c
 * (subnets, routes, peering), dhcp.c (dnsmasq), nat.c (ports NAT leaves,
 * the WAN address, flows), forward.c (port forwards). An overlay or an
 * ACL type plugs in here.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

/* ------------------------------------------------------------- bridge */

static int bridge_validate(struct fabric *fb, const struct net_spec *s,
			   struct kvb_net *n)
{
	(void)fb;
	(void)n;
	if (s->uplink && !if_nametoindex(s->uplink))
		return err("net add: uplink %s: no such device", s->uplink);
	if (s->uplink_xdp && !s->uplink)
		return err("net add: uplink-xdp on: the network has no uplink");
	/* its uplink by name too, so that a device made again under it
	 * is hooked again (bridge_uplinks_follow) */
	if (s->uplink)
		snprintf(n->wan_name, sizeof(n->wan_name), "%s", s->uplink);
	return 0;
}

/*
 * A bridge's frames go out of its uplink as the guests send them (BPF
 * cannot fragment, and a frame longer than the device's MTU is lost on
 * the wire, or at the veth's peer, uncounted): the network's mtu, which
 * the admission holds every guest's frame to (`mtu-exceeded`), must fit
 * the uplink's. Not given, it takes the uplink's when that is smaller
 * (as a Linux bridge takes its smallest port's); given larger, it is
 * refused. 0, or an error said.
 */
/* The MTU uplink carries when it is below mtu, else 0 (unknown too). */
static __u32 uplink_mtu_below(const char *uplink, __u32 mtu)
{
	__u32 um = 0;

	if (!uplink || host_dev_mtu(uplink, &um) || !um || um >= mtu)
		return 0;
	return um;
}

int uplink_mtu_fit(const char *cmd, const char *uplink, struct kvb_net *n,
		   bool mtu_given)
{
	__u32 um = uplink_mtu_below(uplink, n->mtu);

	if (!um)
		return 0;
	if (mtu_given)
		return err("%s: %s: mtu %u: its uplink %s carries %u: give mtu "
			   "%u or less, or raise %s's MTU first", cmd, n->name,
			   n->mtu, uplink, um, um, uplink);
	n->mtu = um;
	n->flags |= KVB_NET_F_MTU_DERIVED;
	return 0;
}

/*
 * Device dev (ifindex) as network net_id's uplink, with XDP if xdp: 0, or
 * 1 said. The host's one NIC, a nat network's WAN port, becomes the
 * uplink and stays NAT's way out; when the attach that took it fails, it
 * is given back to NAT.
 */
static int uplink_take(struct fabric *fb, const char *cmd, const char *dev,
		       __u32 ifindex, __u32 net_id, bool xdp)
{
	struct kvb_port p;
	bool was_wan = !port_get(fb, ifindex, &p) && p.role == KVB_PORT_WAN;

	if (!port_attach(fb, cmd, dev, net_id, KVB_PORT_UPLINK,
			 &(struct port_opts){ .xdp = xdp, .naddrs = -1 }))
		return 0;
	if (was_wan && port_get(fb, ifindex, &p))
		wan_uplink_gone(fb, ifindex);
	return 1;
}

static int bridge_create(struct fabric *fb, const struct net_spec *s,
			 struct kvb_net *n)
{
	if (!s->uplink)
		return 0;
	/*
	 * XDP on an uplink only with uplink-xdp on: it forwards a LAN
	 * host's complete known-unicast frames to tap guests (the XDP fast
	 * path), but attaching it costs the device: a veth peer loses TSO
	 * and gets its MTU capped, a NIC may reset its rings and turn off
	 * LRO, generic XDP copies every non-linear skb, and what it passes
	 * (the host's own traffic, everything it cannot prove) pays XDP's
	 * cost on top of tc's (README, Datapath; docs/BENCHMARKS.md).
	 */
	if (uplink_take(fb, "net add", s->uplink, if_nametoindex(s->uplink),
			n->id, s->uplink_xdp))
		return 1;
	/* the host's addresses on it are no guest's to claim */
	uplink_addrs_sync(fb);
	return 0;
}

/*
 * A bridge network's uplink made again under its name after its device
 * went (a NIC whose driver was reloaded, a USB NIC plugged back, a VLAN
 * or bond device made again: a new ifindex; gc forgot the old port):
 * hooked again as the network's uplink, so that the network gets its LAN
 * back (t119: it had lost it for good, and `save` with it), as a nat
 * network's `wan` is (wan_follow), with XDP when the device that went had
 * it (KVB_NET_F_UPLINK_XDP). A network made before the uplink's name was kept is named
 * from its live uplink port. The upkeep step's (fabric_tend); how many
 * were hooked.
 */
int bridge_uplinks_follow(struct fabric *fb)
{
	int hooked = 0;

	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		struct kvb_port p;
		struct kvb_net n;
		const char *how;
		__u32 ifx, um;
		bool xdp;

		if (net_get(fb, id, &n) || !net_has(&n, NT_UPLINK))
			continue;
		if (n.uplink) {
			if (!n.wan_name[0] && !port_get(fb, n.uplink, &p) &&
			    p.role == KVB_PORT_UPLINK) {
				snprintf(n.wan_name, sizeof(n.wan_name), "%s",
					 p.name);
				net_put(fb, &n);
			}
			continue;
		}
		/* a device of that name that is already a port (of this
		 * fabric's) is not taken from it, but for a nat network's
		 * WAN (the host's one NIC, made again: wan_follow hooked it
		 * first), which becomes the uplink again as at net add */
		if (!n.wan_name[0] || !(ifx = if_nametoindex(n.wan_name)) ||
		    (!port_get(fb, ifx, &p) && p.role != KVB_PORT_WAN))
			continue;
		/* with XDP if the device that went had it; a device that
		 * cannot take it (a driver without XDP) is hooked without */
		xdp = n.flags & KVB_NET_F_UPLINK_XDP;
		if (uplink_take(fb, "gc", n.wan_name, ifx, id, xdp) &&
		    (!xdp || uplink_take(fb, "gc", n.wan_name, ifx, id, false)))
			continue;
		if (!net_get(fb, id, &n)) {
			n.flags &= ~KVB_NET_F_UPLINK_XDP;
			net_put(fb, &n);
		}
		um = uplink_mtu_below(n.wan_name, n.mtu);
		if (um)
			warn("gc: network %s: its uplink %s carries %u, less "
			     "than the network's mtu %u: raise its MTU, or "
			     "longer frames are counted mtu-exceeded",
			     n.name, n.wan_name, um, n.mtu);
		if (!xdp)
			how = "";
		else if (!port_get(fb, ifx, &p) && (p.flags & KVB_PORT_F_XDP))
			how = ", with XDP";
		else
			how = ", without the XDP it had (uplink-xdp on: "
			      "refused by the device)";
		warn("gc: network %s: its uplink %s is back (a new device of "
		     "that name): hooked again%s", n.name, n.wan_name, how);
		hooked++;
	}
	if (hooked)
		uplink_addrs_sync(fb);
	return hooked;
}

/* ------------------------------------------- gateway types: nat, routed */

/*
 * A nat or routed network's subnets must not overlap an address or a
 * route of the host: its gateway would take the host's addresses and its
 * routes shadow the host's (libvirt refuses the same). The interfaces of
 * another kvmbpf network count as the host's, unless they are the ones
 * this network would have (left behind by an earlier instance of it).
 */
static int host_check(const struct kvb_net *net)
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
				   "host's routes: %s", net->name, a,
				   strerror(-ret));
		if (ret)
			return err("net add %s: subnet %s overlaps %s on %s (use "
				   "'force' to create it anyway)", net->name, a,
				   what, dev);
	}
	return 0;
}

/* subnets and their gateways, the WAN, and what they must not overlap */
static int gw_validate(struct fabric *fb, const struct net_spec *s,
		       struct kvb_net *n, const char *wan)
{
	if (!n->nsubnets)
		return err("net add: %s: missing 'subnet CIDR'",
			   net_type_name(n->type));
	if (subnets_gateways(n->subnets, (int)n->nsubnets, (char **)s->gws,
			     s->ngw))
		return 1;
	if (wan) {
		n->wan = if_nametoindex(wan);
		if (!n->wan)
			return err("net add: wan %s: no such device", wan);
		snprintf(n->wan_name, sizeof(n->wan_name), "%s", wan);
	}
	for (__u32 i = 0; i < n->nsubnets && i < KVB_MAX_SUBNETS; i++)
		if (n->subnets[i].family == 6)
			n->flags |= KVB_NET_F_IP6;
	if (subnets_check(fb, n->subnets, (int)n->nsubnets))
		return 1;
	if (!(n->flags & KVB_NET_F_FORCE) && host_check(n))
		return 1;
	if (wan && dev_refuse(fb, "net add", wan, KVB_PORT_WAN))
		return 1;
	return 0;
}

static int gw_create(struct fabric *fb, struct kvb_net *n)
{
	char wan[IF_NAMESIZE];

	if (n->wan && (!if_indextoname(n->wan, wan) ||
		       wan_attach(fb, wan, n->id)))
		return 1;
	return gateway_create(fb, n);
}

static void gw_destroy(struct fabric *fb, const struct kvb_net *n)
{
	/* only the interface this network made, and the processes and
	 * /run/kvmbpf files named after it: a create that failed because
	 * the name was taken (another fabric's network, whose directory's
	 * hash is the same) must not remove the device or files that have
	 * it */
	if (n->gw_host) {
		wan_wait_stop(n);
		dhcp_stop(n);
	}
	dhcphost_purge(fb, n->id);
	routes_del(fb, n);
	peers_forget(fb, n->id);
	if (n->gw_host) {
		bpf_map_delete_elem(fb->hostif_fd, &n->gw_host);
		gateway_delete(n->id);
	} else {
		gateway_delete_unrecorded(n);
	}
	wan_release(fb, n->id);
}

/* a guest's addresses are host addresses of the network's subnets */
static int gw_attach_port(const struct kvb_net *n, const char *cmd,
			  const struct port_opts *o)
{
	for (int i = 0; i < o->naddrs; i++)
		if (net_addr_check(cmd, n, &o->addrs[i]))
			return 1;
	return 0;
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

/* dnsmasq: whether it runs, and how often the upkeep step restarted it */
static void show_dnsmasq(const struct kvb_net *n, const char *what)
{
	__u64 last;
	int count = dhcp_restarts(n, &last);
	bool running = dhcp_running(n);

	print_bool(PRINT_JSON, "dnsmasq_running", NULL, running);
	print_text("  %s: %s", what, running ? "running" : "not running");
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

static void show_interface(const struct kvb_net *n)
{
	char gh[16], gp[16];

	gateway_ifnames(n->id, gh, gp);
	print_string(PRINT_ANY, "interface", "  interface %s", gh);
}

/* ---------------------------------------------------------------- nat */

static int nat_validate(struct fabric *fb, const struct net_spec *s,
			struct kvb_net *n)
{
	const struct kvb_subnet *sn = &n->subnets[0];
	const char *wan = s->wan;
	int n4 = 0;

	if (!n->nsubnets)
		return err("net add: nat: missing 'subnet CIDR'");
	/* one IPv4 subnet (translated), first; IPv6 ones are routed */
	for (__u32 i = 0; i < n->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		struct kvb_subnet t = n->subnets[i];

		if (t.family != 4 || n4++)
			continue;
		memmove(&n->subnets[1], &n->subnets[0], i * sizeof(t));
		n->subnets[0] = t;
	}
	if (n4 != 1)
		return err("net add: nat: exactly one IPv4 subnet (and IPv6 "
			   "subnets, routed)");
	/* no `wan`: any route, through the device the FIB picks */
	if (gw_validate(fb, s, n, wan))
		return 1;
	if ((n->flags & KVB_NET_F_WAN_XDP) && !n->wan)
		return err("net add: wan-xdp on: the network names no wan "
			   "device");
	memcpy(&n->subnet, sn->addr, 4);
	memcpy(&n->gw_ip, sn->gw, 4);
	n->netmask = htonl(~0U << (32 - sn->prefixlen));
	/* forwards' address: the WAN's, or the default route's device's;
	 * none yet (boot): picked up when it comes (wan_wait_start) */
	n->nat_ip = nat_address(n);
	return nat_port_range(&n->host_port_lo, &n->host_port_hi);
}

/*
 * An any-route network hooks every device flows may leave through
 * (wan_hook_all); the default route's device it could not hook (another
 * fabric's, an operator's filter in the way: said above) is said, for its
 * guests reach nothing through it (t94: net add said nothing).
 */
static void any_route_hook(struct fabric *fb, const struct kvb_net *n)
{
	char dev[16];
	struct kvb_port p;
	__u32 ifindex;

	wan_hook_all(fb, n->id);
	if (host_default_dev(dev) || !(ifindex = if_nametoindex(dev)) ||
	    (!port_get(fb, ifindex, &p) && kvb_port_nat_wan(&p)))
		return;
	warn("net add: %s: the default route's device %s is not hooked (%s): "
	     "the network's guests reach nothing through it until it is "
	     "(net show %s: wan_devices)", n->name, dev,
	     tc_present(ifindex) ? "it carries another kvmbpf fabric's "
	     "program" : "see above", n->name);
}

static int nat_create(struct fabric *fb, const struct net_spec *s,
		      struct kvb_net *n)
{
	char wan[IF_NAMESIZE];

	(void)s;
	ct_recount(fb);	/* a reused id starts at its real count */
	if (gw_create(fb, n) || dnsmasq_start(fb, n) ||
	    wan_xdp_sync(fb, "net add", n->wan, 0))
		return 1;
	/* any route: hook what flows may leave through; the watcher
	 * follows devices and addresses to come (and a `wan` made again) */
	if (!n->wan)
		any_route_hook(fb, n);
	else if (!n->nat_ip)
		warn("net add: %s: wan %s has no IPv4 address yet; flows go "
		     "out once it has one", n->name,
		     ifname_of(n->wan, NULL, wan));
	wan_wait_start(fb, n);
	return 0;
}

static void nat_destroy(struct fabric *fb, const struct kvb_net *n)
{
	if (n->gw_host)		/* as gw_destroy */
		wan_wait_stop(n);
	fwd_purge(fb, n->id);
	ct_flush_net(fb, n->id);
	gw_destroy(fb, n);
}

/* a port's static lease (MAC + IPv4) is dnsmasq's to hand out */
static void gw_ports_changed(struct fabric *fb, const struct kvb_net *n)
{
	dhcp_sync(fb, n->id);
}

/* The devices the fabric translates through (its WAN ports). */
static void show_wan_devices(struct fabric *fb)
{
	__u32 key, *prev = NULL;
	struct kvb_port p;
	char ifn[16];

	print_text(" wan-devices");
	open_json_array("wan_devices");
	while (!bpf_map_get_next_key(fb->port_fd, prev, &key)) {
		prev = &key;
		/* a bridge's uplink NAT goes out through too, as well */
		if (!port_get(fb, key, &p) && kvb_port_nat_wan(&p))
			print_string(PRINT_ANY, NULL, " %s",
				     ifname_of(key, &p, ifn));
	}
	close_json_array();
}

static void nat_show(struct fabric *fb, const struct kvb_net *n)
{
	char a[16], ports[16];

	/* any-route: through whichever device the FIB picks, to its
	 * address; wan: through that device only */
	print_string(PRINT_ANY, "nat_mode", "  nat-mode %s",
		     n->wan ? "wan" : "any-route");
	show_wan_devices(fb);
	print_nl();
	show_interface(n);
	inet_ntop(AF_INET, &n->nat_ip, a, sizeof(a));
	print_string(PRINT_ANY, "nat_address", " nat-address %s",
		     n->nat_ip ? a : NULL);
	/* NAT's ports: 1024-65535 without these */
	snprintf(ports, sizeof(ports), "%u-%u",
		 n->host_port_lo ? n->host_port_lo : KVB_HOST_PORT_LO,
		 n->host_port_lo ? n->host_port_hi : KVB_HOST_PORT_HI);
	print_string(PRINT_ANY, "host_ports", " host-ports %s", ports);
	print_uint(PRINT_ANY, "ct_count", " flows %llu", ct_count(fb, n->id));
	print_nl();
	show_peers(fb, n);
	if (dnsmasq_wanted(n))
		show_dnsmasq(n, n->flags & KVB_NET_F_DHCP ? "dhcp" : "ra");
}

/*
 * Forwards as `forward add` lines: the per-port entries of the table
 * folded back into the ranges they were added as (consecutive ports to
 * consecutive ports of one address).
 */
static void nat_save(struct fabric *fb, const struct kvb_net *n,
		     void (*line)(const char *text))
{
	struct fwd_row *r;
	int cnt = fwd_list(fb, n->id, &r);

	for (int i = 0, j; i < cnt; i = j) {
		char to[16], text[160], ports[24], tport[12] = "";
		__u32 lo = ntohs(r[i].k.port), tlo = ntohs(r[i].v.to_port);

		for (j = i + 1; j < cnt && j - i < KVB_MAX_FWD_RANGE; j++)
			if (r[j].k.proto != r[i].k.proto ||
			    r[j].v.to_addr != r[i].v.to_addr ||
			    ntohs(r[j].k.port) != lo + (__u32)(j - i) ||
			    ntohs(r[j].v.to_port) != tlo + (__u32)(j - i))
				break;
		inet_ntop(AF_INET, &r[i].v.to_addr, to, sizeof(to));
		if (j - i > 1)
			snprintf(ports, sizeof(ports), "%u-%u", lo,
				 lo + (__u32)(j - i - 1));
		else
			snprintf(ports, sizeof(ports), "%u", lo);
		if (tlo != lo)
			snprintf(tport, sizeof(tport), ":%u", tlo);
		snprintf(text, sizeof(text), "forward add %s proto %s port %s "
			 "to %s%s", n->name, r[i].k.proto == 6 ? "tcp" : "udp",
			 ports, to, tport);
		line(text);
	}
	if (cnt > 0)
		free(r);
}

/* ------------------------------------------------------------- routed */

static int routed_validate(struct fabric *fb, const struct net_spec *s,
			   struct kvb_net *n)
{
	return gw_validate(fb, s, n, s->wan);
}

static int routed_create(struct fabric *fb, const struct net_spec *s,
			 struct kvb_net *n)
{
	(void)s;
	if (gw_create(fb, n) || dnsmasq_start(fb, n))
		return 1;
	if (n->wan)	/* follows a `wan` made again */
		wan_wait_start(fb, n);
	return 0;
}

static void routed_show(struct fabric *fb, const struct kvb_net *n)
{
	show_interface(n);
	print_nl();
	show_peers(fb, n);
	if (dnsmasq_wanted(n))
		show_dnsmasq(n, n->flags & KVB_NET_F_DHCP ? "dhcp" : "ra");
}

/* ---------------------------------------------------------- the table */

static const struct net_ops ops[KVB_NET_TYPE_MAX] = {
	[KVB_NET_BRIDGE] = {
		.validate = bridge_validate,
		.create = bridge_create,
	},
	[KVB_NET_INTERNAL] = { 0 },
	[KVB_NET_NAT] = {
		.validate = nat_validate,
		.create = nat_create,
		.destroy = nat_destroy,
		.attach_port = gw_attach_port,
		.detach_port = gw_ports_changed,
		.show = nat_show,
		.save = nat_save,
	},
	[KVB_NET_ROUTED] = {
		.validate = routed_validate,
		.create = routed_create,
		.destroy = gw_destroy,
		.attach_port = gw_attach_port,
		.detach_port = gw_ports_changed,
		.show = routed_show,
	},
};

const struct net_ops *net_ops(__u32 type)
{
	static const struct net_ops none;

	return type < KVB_NET_TYPE_MAX ? &ops[type] : &none;
}
