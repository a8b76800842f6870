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
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

static void write_sysctl(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(v, f);
		fclose(f);
	}
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
	int ret;

	gateway_ifnames(net->id, host, port);
	for (__u32 i = 0; i < net->nsubnets; i++)
		v6 |= net->subnets[i].family == 6;
	ret = host_veth_add(host, port, net->mtu);
	if (ret)
		return err("net add: cannot create the gateway interface %s: %s",
			   host, strerror(-ret));
	hidx = if_nametoindex(host);
	pidx = if_nametoindex(port);
	if (!hidx || !pidx) {
		gateway_delete(net->id);
		return err("net add: %s vanished", host);
	}
	if (v6) {
		const char *knobs[][2] = { { "disable_ipv6", "0" },
					   { "accept_ra", "0" },
					   { "forwarding", "1" } };

		for (size_t k = 0; k < 3; k++) {
			snprintf(path, sizeof(path),
				 "/proc/sys/net/ipv6/conf/%s/%s", host,
				 knobs[k][0]);
			write_sysctl(path, knobs[k][1]);
		}
		/* best effort, as before: the link-local follows the MAC */
		host_addrgen_eui64(hidx);
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
	net->gw_host = hidx;
	if (dev_get_mac(host, net->uplink_mac)) {
		gateway_delete(net->id);
		return err("net add: %s vanished", host);
	}
	if (net_put(fb, net) || routes_put(fb, net)) {
		gateway_delete(net->id);
		return err("net add: cannot update the network: %s",
			   strerror(errno));
	}
	ret = port_attach(fb, "net add", port, net->id, KVB_PORT_GATEWAY,
			  &(struct port_opts){ .naddrs = -1 });
	if (ret)
		gateway_delete(net->id);
	return ret;
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
		if (p.role != KVB_PORT_WAN)
			return err("net add: wan %s is already a port of another "
				   "network", dev);
		return 0;
	}
	return port_attach(fb, "net add: wan", dev, net_id, KVB_PORT_WAN,
			   &(struct port_opts){ .naddrs = -1 });
}

/* After net del: unhook the WAN device unless another network uses it. */
void wan_release(struct fabric *fb, __u32 wan, __u32 net_id)
{
	struct kvb_net n;
	struct kvb_port p;

	if (!wan || port_get(fb, wan, &p) || p.role != KVB_PORT_WAN)
		return;
	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		if (id == net_id || net_get(fb, id, &n) ||
		    !net_has(&n, NT_GATEWAY) || n.wan != wan)
			continue;
		p.net_id = id;	/* hand it over */
		bpf_map_update_elem(fb->port_fd, &wan, &p, BPF_EXIST);
		return;
	}
	port_detach(fb, "net del", &p);
}
