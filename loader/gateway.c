// SPDX-License-Identifier: MIT
/*
 * The host side of nat and routed networks: the gateway interface (a veth
 * pair whose host end holds the gateway addresses and whose other end is
 * the network's gateway port) and the WAN device's tc hook. Links and
 * addresses are made through rtnetlink (host.c, libmnl), so that when the
 * kernel refuses, its own reason is what the user reads.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

/* Write v to sysctl path: 0, or -1 (a path that does not exist: -2, as
 * IPv6's on a host booted without it). */
static int write_sysctl(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return errno == ENOENT ? -2 : -1;
	ret = fputs(v, f) < 0;
	return fclose(f) || ret ? -1 : 0;
}

/* The first IPv4 address of dev, or 0. */
__be32 dev_ipv4(const char *dev)
{
	struct ifaddrs *ifa, *i;
	__be32 a = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !strcmp(i->ifa_name, dev)) {
			a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
			break;
		}
	freeifaddrs(ifa);
	return a;
}

/*
 * The gateway MAC of a network that is not an overlay's: 02:6b:75 ("ku",
 * locally administered; an overlay's anycast one is 02:6b:76) and 24 bits
 * of the FNV-1a hash of its name. Two networks of one host may share one
 * (each gateway is on a link of its own); a name always has the same.
 */
void gateway_mac(const char *name, __u8 mac[6])
{
	__u32 h = 2166136261u;

	for (const char *c = name; *c; c++)
		h = (h ^ (__u8)*c) * 16777619u;
	mac[0] = 0x02;
	mac[1] = 0x6b;
	mac[2] = 0x75;
	mac[3] = (__u8)(h >> 16);
	mac[4] = (__u8)(h >> 8);
	mac[5] = (__u8)h;
}

/*
 * The MAC of a network's gateway interface. An overlay network's gateway
 * is every host's (anycast): the same MAC everywhere, so that a guest that
 * moves keeps its neighbour entry, and the same EUI-64 link-local. Any
 * other network's is its name's (gateway_mac): the same after `reset` and
 * `load`, or `net del` and `net add`, so that running guests keep their
 * ARP and neighbour entries and IPv6 default routes (with the kernel's
 * random one, they sent to the old MAC until their entries went stale:
 * 15 s and more without a word). The interface is made with it, so it
 * also marks the interface as this network's before the entry records it
 * (gateway_delete_unrecorded).
 */
static void gateway_mac_of(const struct kvb_net *net, __u8 mac[6])
{
	if (net->vni)
		overlay_gateway_mac(net->vni, mac);
	else
		gateway_mac(net->name, mac);
}

/*
 * Create the gateway interface pair for a nat or routed network: the host
 * end holds every subnet's gateway address (IPv6 with its EUI-64
 * link-local, the router address guests learn from RAs), forwards, and
 * has the network's MTU; the fabric end becomes the gateway port.
 */
int gateway_create(struct fabric *fb, struct kvb_net *net)
{
	char host[16], port[16], path[128], gw[64];
	__u32 hidx, pidx;
	bool v6 = false;
	__u8 mac[6];
	int ret;

	gateway_ifnames(net->id, host, port);
	for (__u32 i = 0; i < net->nsubnets; i++)
		v6 |= net->subnets[i].family == 6;
	gateway_mac_of(net, mac);
	ret = host_veth_add(host, port, net->mtu, mac);
	if (ret)
		return err("net add: cannot create the gateway interface %s: %s",
			   host, strerror(-ret));
	hidx = if_nametoindex(host);
	pidx = if_nametoindex(port);
	if (!hidx || !pidx) {
		gateway_delete(net->id);
		return err("net add: %s vanished", host);
	}
	/*
	 * The entry names the interface from now on: a command killed
	 * before the end leaves a network (KVB_NET_F_CREATING) that the
	 * next command's upkeep removes with what this one made
	 * (net_unfinished, gw_destroy). Killed before this write, the
	 * interface's MAC says it is the network's.
	 */
	net->gw_host = hidx;
	if (net_put(fb, net)) {
		ret = -errno;
		gateway_delete(net->id);
		return err("net add: %s: cannot record %s: %s", net->name,
			   host, strerror(-ret));
	}
	/*
	 * The host takes no word from a guest about its own routing: no
	 * router advertisement (a guest without spoofcheck, a router VM,
	 * would otherwise give the host a default route through itself and
	 * an address), no redirect. A network without IPv6 has none on its
	 * gateway interface at all (as libvirt's), so that its guests reach
	 * no host service over the link-local either.
	 */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/accept_redirects",
		 host);
	write_sysctl(path, "0");
	if (v6) {
		/*
		 * accept_dad 0: the host's link-local there is usable at
		 * once (a tentative one sends no neighbour solicitation, so
		 * for its first second the host could not resolve a guest);
		 * guests check theirs against it, not it against theirs.
		 */
		const char *knobs[][2] = { { "disable_ipv6", "0" },
					   { "accept_ra", "0" },
					   { "autoconf", "0" },
					   { "accept_redirects", "0" },
					   { "accept_dad", "0" },
					   { "forwarding", "1" } };

		for (size_t k = 0; k < ARRAY_SIZE(knobs); k++) {
			snprintf(path, sizeof(path),
				 "/proc/sys/net/ipv6/conf/%s/%s", host,
				 knobs[k][0]);
			write_sysctl(path, knobs[k][1]);
		}
		/* best effort, as before: the link-local follows the MAC */
		host_addrgen_eui64(hidx);
	} else {
		snprintf(path, sizeof(path),
			 "/proc/sys/net/ipv6/conf/%s/disable_ipv6", host);
		if (write_sysctl(path, "1") == -1) {
			gateway_delete(net->id);
			return err("net add: cannot turn IPv6 off on %s (a "
				   "network without IPv6)", host);
		}
	}
	for (__u32 i = 0; i < net->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *sn = &net->subnets[i];

		ret = host_addr_add(hidx, sn->family, sn->gw, sn->prefixlen,
				    sn->family == 6);
		if (ret) {
			subnet_fmt(sn, true, gw, sizeof(gw));
			gateway_delete(net->id);
			return err("net add: cannot put %s/%u on %s: %s", gw,
				   sn->prefixlen, host, strerror(-ret));
		}
	}
	ret = host_link_up(hidx);
	if (!ret)
		ret = host_link_up(pidx);
	if (ret) {
		gateway_delete(net->id);
		return err("net add: cannot bring %s up: %s", host,
			   strerror(-ret));
	}
	/* bpf_fib_lookup asks the input device, the gateway interface, to
	 * forward; this enables forwarding on it alone, not host-wide */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding",
		 host);
	write_sysctl(path, "1");
	if (dev_get_mac(host, net->uplink_mac)) {
		gateway_delete(net->id);
		return err("net add: %s vanished", host);
	}
	/* which network the interface leads into: routing out by the
	 * host's routes goes there only from a peer (route.h: host_if_peer) */
	if (net_put(fb, net) || routes_put(fb, net) ||
	    bpf_map_update_elem(fb->hostif_fd, &hidx,
				&(struct kvb_hostif){ .net_id = net->id },
				BPF_ANY)) {
		bpf_map_delete_elem(fb->hostif_fd, &hidx);
		gateway_delete(net->id);
		return err("net add: cannot update the network: %s",
			   strerror(errno));
	}
	ret = port_attach(fb, "net add", port, net->id, KVB_PORT_GATEWAY,
			  &(struct port_opts){ .naddrs = -1 });
	/* the host end's egress refuses what the host forwards from outside
	 * towards the guests (nat_from_host); it goes with the device */
	if (!ret && tc_attach(fb, net->gw_host, true, NULL))
		ret = err("net add: %s: cannot attach the tc egress program",
			  host);
	if (ret) {
		bpf_map_delete_elem(fb->hostif_fd, &hidx);
		gateway_delete(net->id);
	}
	return ret;
}

/*
 * The upkeep's share (fabric_tend): a nat or routed network whose gateway
 * interface was deleted behind the fabric's back (its port forgotten by
 * gc just before) has it made again, with its addresses, routes and
 * ports, and its dnsmasq started again on it; as overlay_tend makes a
 * VXLAN device again. Without this the network stayed dead while every
 * command said all was well. Returns how many were made again.
 */
int gateway_tend(struct fabric *fb)
{
	char host[16], port[16], now[IF_NAMESIZE];
	struct kvb_net n;
	int made = 0;

	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		if (net_get(fb, id, &n) || !n.gw_host)
			continue;
		gateway_ifnames(n.id, host, port);
		if (if_indextoname(n.gw_host, now) && !strcmp(now, host))
			continue;	/* there */
		bpf_map_delete_elem(fb->hostif_fd, &n.gw_host);
		dhcp_stop(&n);
		gateway_delete(n.id);	/* its peer, if left */
		if (gateway_create(fb, &n) || net_get(fb, id, &n) ||
		    dnsmasq_start(fb, &n)) {
			warn("gc: network %s: its gateway interface %s was "
			     "gone and could not be made again: net del and "
			     "net add it", n.name, host);
			continue;
		}
		warn("gc: network %s: its gateway interface %s was gone: made "
		     "again", n.name, host);
		made++;
	}
	return made;
}

/*
 * A network whose entry never recorded its gateway interface (its net add
 * killed between making the pair and writing the entry): remove the pair
 * only if it is the one that net add made, named after the network's id,
 * down, with the network's gateway MAC. A pair of that name that is up,
 * or has another MAC, is another fabric's (one whose directory's name
 * hash is this one's) and stays.
 */
void gateway_delete_unrecorded(const struct kvb_net *net)
{
	char host[16], port[16];
	unsigned int flags;
	__u8 want[6], have[6];
	__u32 ifindex;

	gateway_ifnames(net->id, host, port);
	ifindex = if_nametoindex(host);
	gateway_mac_of(net, want);
	if (!ifindex || dev_get_mac(host, have) || memcmp(have, want, 6) ||
	    dev_get_flags(host, &flags) || (flags & IFF_UP))
		return;
	host_link_del(ifindex);
}

/* Remove the pair (its peer goes with it); gone already is fine. */
void gateway_delete(__u32 id)
{
	char host[16], port[16];
	__u32 ifindex;

	gateway_ifnames(id, host, port);
	ifindex = if_nametoindex(host);
	if (ifindex)
		host_link_del(ifindex);
}

/*
 * A bridge's uplink (the host's one NIC) that nat networks translate
 * through too: marked KVB_PORT_F_NAT_WAN in its entry (p); 0, or -1 when
 * the entry could not be written.
 */
static int uplink_mark_nat_wan(struct fabric *fb, struct kvb_port *p)
{
	p->flags |= KVB_PORT_F_NAT_WAN;
	return port_store(fb, p, BPF_EXIST) ? -1 : 0;
}

/*
 * Hook the WAN device: a port of role WAN (tc ingress, no member of the
 * network), shared by every network that names it.
 */
int wan_attach(struct fabric *fb, const char *dev, __u32 net_id)
{
	__u32 ifindex = if_nametoindex(dev);
	struct kvb_port p;

	if (!ifindex)
		return err("net add: wan %s: no such device", dev);
	if (!port_get(fb, ifindex, &p)) {
		/* a bridge's uplink (the host's one NIC): NAT's way out too */
		if (p.role == KVB_PORT_UPLINK)
			return uplink_mark_nat_wan(fb, &p) ?
			       err("net add: wan %s: cannot update its port",
				   dev) : 0;
		if (p.role != KVB_PORT_WAN)
			return err("net add: wan %s is already a port of another "
				   "network", dev);
		return 0;
	}
	return port_attach(fb, "net add: wan", dev, net_id, KVB_PORT_WAN,
			   &(struct port_opts){ .naddrs = -1 });
}

/*
 * A nat network without `wan` translates through whichever device the
 * FIB picks; its replies are recognised only on devices that carry the
 * tc program. So every device a flow may leave through is hooked: up,
 * Ethernet or layer-3 (a VPN's tun or WireGuard, PPP: link_type_l3),
 * holding an IPv4 address, and neither loopback, enslaved (its master holds the
 * address), the fabric's own (a port of any role, a gateway interface)
 * nor another fabric's. Called at net add, by the upkeep step of every
 * changing command and by the network's watcher when links or addresses
 * change (a device that comes later). Returns how many were hooked now.
 */
int wan_hook_all(struct fabric *fb, __u32 net_id)
{
	struct ifaddrs *ifa, *i;
	int n = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i; i = i->ifa_next) {
		struct host_link l;
		struct kvb_port p;
		__u32 ifindex;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		ifindex = if_nametoindex(i->ifa_name);
		/* a bridge's uplink with the host's address (its one NIC):
		 * the nat networks translate through it too */
		if (ifindex && !port_get(fb, ifindex, &p) &&
		    p.role == KVB_PORT_UPLINK) {
			if (!(p.flags & KVB_PORT_F_NAT_WAN) &&
			    !uplink_mark_nat_wan(fb, &p))
				n++;
			continue;
		}
		if (!ifindex || !port_get(fb, ifindex, &p) ||
		    host_link(ifindex, &l) || l.master ||
		    (l.type != ARPHRD_ETHER && !link_type_l3(l.type)) ||
		    fabric_ifname(l.name) ||
		    tc_present(ifindex))
			continue;
		if (!port_attach(fb, "wan", l.name, net_id, KVB_PORT_WAN,
				 &(struct port_opts){ .naddrs = -1 }))
			n++;
	}
	freeifaddrs(ifa);
	return n;
}

/*
 * A bridge's uplink that nat (or routed) networks also went out through
 * left with its network (net del): it becomes their WAN port, for the
 * networks that name it as `wan` and for an any-route one.
 */
void wan_uplink_gone(struct fabric *fb, __u32 ifindex)
{
	char dev[IF_NAMESIZE];
	struct kvb_net n;
	__u32 any;

	if (!if_indextoname(ifindex, dev))
		return;
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (!net_get(fb, id, &n) && net_has(&n, NT_GATEWAY) &&
		    n.wan == ifindex)
			wan_attach(fb, dev, id);
	any = any_route_net(fb, 0);
	if (any)
		wan_hook_all(fb, any);
	/* its XDP, if a network that names it asks (wan-xdp on) */
	wan_xdp_sync(fb, "net del", ifindex, 0);
}

/*
 * Network id's `wan` device made again under its name (a PPP link that
 * reconnected, wg-quick down and up: a new device, a new ifindex): the
 * new device becomes its wan, hooked as the old one was, and gets its
 * XDP back (wan-xdp on). The old one's port went with it (gc). Run by
 * the upkeep step and by the network's watcher; 1 when it moved.
 */
int wan_follow(struct fabric *fb, __u32 id)
{
	struct kvb_net n;
	__u32 ifx;

	if (net_get(fb, id, &n) || !net_has(&n, NT_GATEWAY) || !n.wan ||
	    !n.wan_name[0])
		return 0;
	ifx = if_nametoindex(n.wan_name);
	if (!ifx || ifx == n.wan ||
	    dev_refuse(fb, "gc", n.wan_name, KVB_PORT_WAN))
		return 0;
	/* hooked first: a network whose wan names a device it could not
	 * hook (the port table full, the name another network's port)
	 * tries again at the next call, rather than sending flows out
	 * where no reply is translated */
	if (wan_attach(fb, n.wan_name, id) || net_get(fb, id, &n))
		return 0;
	n.wan = ifx;
	if (net_put(fb, &n))
		return 0;
	wan_xdp_sync(fb, "gc", ifx, 0);
	return 1;
}

/* A nat network without `wan` (any route) other than except, or 0. */
__u32 any_route_net(struct fabric *fb, __u32 except)
{
	struct kvb_net n;

	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (id != except && !net_get(fb, id, &n) &&
		    net_has(&n, NT_NAT) && !n.wan)
			return id;
	return 0;
}

/*
 * XDP on WAN device wan while a nat network other than except names it
 * with wan-xdp on (its port is shared by every network that names it),
 * none otherwise. tc carries every frame either way (port_xdp_set).
 */
int wan_xdp_sync(struct fabric *fb, const char *cmd, __u32 wan,
		 __u32 except)
{
	struct kvb_port p;
	struct kvb_net n;
	bool on = false;

	if (!wan || port_get(fb, wan, &p) || p.role != KVB_PORT_WAN)
		return 0;
	for (__u32 id = 1; id < KVB_MAX_NETS && !on; id++)
		on = id != except && !net_get(fb, id, &n) &&
		     net_has(&n, NT_NAT) && n.wan == wan &&
		     (n.flags & KVB_NET_F_WAN_XDP);
	return port_xdp_set(fb, cmd, &p, on);
}

/*
 * Before net_id goes (net del, reset): a WAN port no other network needs
 * is unhooked. A network needs the device it names as `wan`, and an
 * any-route nat network needs every WAN port (flows may leave through
 * any); a port still needed passes to such a network.
 */
void wan_release(struct fabric *fb, __u32 net_id)
{
	static __u32 wans[KVB_MAX_PORTS];
	__u32 key, *prev = NULL, any = any_route_net(fb, net_id);
	struct kvb_port p;
	struct kvb_net n;
	int nw = 0;

	while (!bpf_map_get_next_key(fb->port_fd, prev, &key) &&
	       nw < KVB_MAX_PORTS) {
		prev = &key;
		if (!port_get(fb, key, &p) && kvb_port_nat_wan(&p))
			wans[nw++] = key;
	}
	for (int i = 0; i < nw; i++) {
		__u32 owner = 0;

		if (port_get(fb, wans[i], &p))
			continue;
		for (__u32 id = 1; id < KVB_MAX_NETS && !owner; id++)
			if (id != net_id && !net_get(fb, id, &n) &&
			    net_has(&n, NT_GATEWAY) && n.wan == wans[i])
				owner = id;
		if (!owner)
			owner = any;
		if (p.role == KVB_PORT_UPLINK) {
			/* a bridge's uplink NAT used too: the bridge's
			 * alone once no other network needs it */
			if (!owner) {
				p.flags &= ~KVB_PORT_F_NAT_WAN;
				port_store(fb, &p, BPF_EXIST);
			}
			continue;
		}
		if (!owner) {
			port_detach(fb, "net del", &p);
			continue;
		}
		if (p.net_id == net_id) {	/* hand it over */
			p.net_id = owner;
			port_store(fb, &p, BPF_EXIST);
		}
		/* XDP stays while another network asks for it */
		wan_xdp_sync(fb, "net del", wans[i], net_id);
	}
}
