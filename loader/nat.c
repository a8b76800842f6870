// SPDX-License-Identifier: MIT
/*
 * The host side of nat and routed networks: the gateway interface (a veth
 * pair whose host end holds the gateway addresses and whose other end is
 * the network's gateway port), the WAN device's tc hook; and NAT's
 * `ct show` / `ct flush`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"

/* ip(8) with a fixed argument vector, no shell; 0 on success. */
static int run_ip(const char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (!pid) {
		int null = open("/dev/null", 0);

		if (null >= 0)
			dup2(null, 2);
		execvp("ip", (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

static void write_sysctl(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(v, f);
		fclose(f);
	}
}

/*
 * Interface names: kvbgwID / kvbgpID for the default fabric; other pin
 * directories (tests, several fabrics) add a hash of the directory, so two
 * fabrics never fight over a name: kvbXXXXgID / kvbXXXXpID.
 */
void gateway_ifnames(__u32 id, char host[16], char port[16])
{
	__u32 h = 2166136261U;

	if (!strcmp(opts.bpffs, KVB_DEFAULT_BPFFS)) {
		snprintf(host, 16, "kvbgw%u", id);
		snprintf(port, 16, "kvbgp%u", id);
		return;
	}
	for (const char *c = opts.bpffs; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619U;
	snprintf(host, 16, "kvb%04xg%u", h & 0xffff, id);
	snprintf(port, 16, "kvb%04xp%u", h & 0xffff, id);
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
 * The host's ephemeral ports (net.ipv4.ip_local_port_range, where
 * connect() and unbound sends take their ports), which NAT leaves alone:
 * its ports are the rest of 1024-65535, so the host's stack never picks
 * a port a flow holds and no host-wide setting has to change. Ports a
 * host socket holds explicitly are skipped by the datapath when it
 * picks one.
 */
int nat_port_range(__u16 *lo, __u16 *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned int l, h, free_ports;
	int n;

	if (!f)
		return err("net add: cannot read "
			   "/proc/sys/net/ipv4/ip_local_port_range: %s",
			   strerror(errno));
	n = fscanf(f, "%u %u", &l, &h);
	fclose(f);
	if (n != 2 || h > 65535 || l > h)
		return err("net add: cannot parse "
			   "/proc/sys/net/ipv4/ip_local_port_range");
	if (l < KVB_NAT_PORT_FIRST)
		l = KVB_NAT_PORT_FIRST;
	if (h < l)
		h = l;
	free_ports = 65536 - KVB_NAT_PORT_FIRST - (h - l + 1);
	if (free_ports < KVB_NAT_PORTS_LEAST)
		return err("net add: the host's ephemeral ports "
			   "(net.ipv4.ip_local_port_range %u %u) leave %u of "
			   "1024-65535 for NAT, fewer than %d: narrow it (the "
			   "kernel's default is 32768 60999)", l, h,
			   free_ports, KVB_NAT_PORTS_LEAST);
	*lo = (__u16)l;
	*hi = (__u16)h;
	return 0;
}

/* The device of the IPv4 default route, from /proc/net/route. */
int default_route_dev(char dev[16])
{
	FILE *f = fopen("/proc/net/route", "r");
	char line[256], name[16];
	unsigned int dst, flags;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%15s %x %*x %x", name, &dst, &flags) == 3 &&
		    dst == 0 && (flags & 1)) {
			snprintf(dev, 16, "%s", name);
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

/*
 * Create the gateway interface pair for a nat or routed network: the host
 * end holds every subnet's gateway address (IPv6 with its EUI-64
 * link-local, the router address guests learn from RAs), forwards, and
 * has the network's MTU; the fabric end becomes the gateway port.
 */
int gateway_create(struct fabric *fb, struct kvb_net *net)
{
	char host[16], port[16], path[128], mtu[16];
	bool v6 = false;
	int ret;

	gateway_ifnames(net->id, host, port);
	snprintf(mtu, sizeof(mtu), "%u", net->mtu);
	for (__u32 i = 0; i < net->nsubnets; i++)
		v6 |= net->subnets[i].family == 6;
	{
		const char *add[] = { "ip", "link", "add", host, "mtu", mtu,
				      "type", "veth", "peer", "name", port,
				      "mtu", mtu, NULL };
		const char *eui[] = { "ip", "link", "set", host, "addrgenmode",
				      "eui64", NULL };

		if (run_ip(add))
			return err("net add: cannot create the gateway interface "
				   "%s (ip link add failed)", host);
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
			run_ip(eui);
		}
	}
	for (__u32 i = 0; i < net->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		char gw[64], addr[80];
		const char *ad[] = { "ip", "addr", "add", addr, "dev", host,
				     "nodad", NULL };

		subnet_fmt(&net->subnets[i], true, gw, sizeof(gw));
		snprintf(addr, sizeof(addr), "%s/%u", gw,
			 net->subnets[i].prefixlen);
		if (net->subnets[i].family == 4)
			ad[6] = NULL;
		if (run_ip(ad)) {
			gateway_delete(net->id);
			return err("net add: cannot put %s on %s", addr, host);
		}
	}
	{
		const char *up1[] = { "ip", "link", "set", host, "up", NULL };
		const char *up2[] = { "ip", "link", "set", port, "up", NULL };

		if (run_ip(up1) || run_ip(up2)) {
			gateway_delete(net->id);
			return err("net add: cannot bring %s up", host);
		}
	}
	/* bpf_fib_lookup asks the input device, the gateway interface, to
	 * forward; this enables forwarding on it alone, not host-wide */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding",
		 host);
	write_sysctl(path, "1");
	net->gw_host = if_nametoindex(host);
	if (dev_get_mac(host, net->uplink_mac) || !net->gw_host) {
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

void gateway_delete(__u32 id)
{
	char host[16], port[16];
	const char *del[] = { "ip", "link", "del", host, NULL };

	gateway_ifnames(id, host, port);
	run_ip(del);
}

/* Hook the WAN device (shared by every nat network that uses it). */
int wan_attach(struct fabric *fb, const char *dev, __u32 net_id)
{
	struct kvb_port p = { .role = KVB_PORT_WAN, .net_id = net_id };
	struct kvb_stats *zero;
	bool created = false;
	__u32 ifindex = if_nametoindex(dev);
	int ncpu = libbpf_num_possible_cpus(), ret;

	if (!ifindex)
		return err("net add: wan %s: no such device", dev);
	if (!port_get(fb, ifindex, &p)) {
		if (p.role != KVB_PORT_WAN)
			return err("net add: wan %s is already a port of another "
				   "network", dev);
		return 0;
	}
	snprintf(p.name, sizeof(p.name), "%s", dev);
	p.ifindex = ifindex;
	zero = calloc((size_t)ncpu, sizeof(*zero));
	if (!zero)
		return err("net add: out of memory");
	bpf_map_update_elem(fb->stats_fd, &ifindex, zero, BPF_ANY);
	free(zero);
	ret = tc_attach(fb, ifindex, false, &created);
	if (created)
		p.flags |= KVB_PORT_F_OWN_CLSACT;
	if (!ret && bpf_map_update_elem(fb->port_fd, &ifindex, &p, BPF_ANY))
		ret = -errno;
	if (ret) {
		tc_detach(ifindex, false, created);
		bpf_map_delete_elem(fb->stats_fd, &ifindex);
		return err("net add: wan %s: cannot attach: %s", dev,
			   strerror(-ret));
	}
	return 0;
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
		    (n.type != KVB_NET_NAT && n.type != KVB_NET_ROUTED) ||
		    n.wan != wan)
			continue;
		p.net_id = id;	/* hand it over */
		bpf_map_update_elem(fb->port_fd, &wan, &p, BPF_EXIST);
		return;
	}
	port_detach(fb, "net del", &p);
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static const char *proto_name(__u8 p)
{
	return p == 6 ? "tcp" : p == 17 ? "udp" : p == 1 ? "icmp" : "?";
}

static const char *state_name(__u8 s)
{
	return s == KVB_CT_ESTABLISHED ? "established" :
	       s == KVB_CT_CLOSING ? "closing" : "new";
}

static int ct_help(void)
{
	fprintf(stderr,
		"Usage: kvmbpf ct show [net NAME]\n"
		"       kvmbpf ct flush [net NAME]\n"
		"\n"
		"  Live NAT flows: protocol, original and translated tuples,\n"
		"  state, idle age (expired ones are not listed). Limit: %d flows.\n",
		KVB_MAX_CT / 2);
	return 0;
}

static int ct_filter(int argc, char **argv, const char *cmd, __u32 *net_id)
{
	struct kvb_net n;

	*net_id = 0;
	if (!argc)
		return 0;
	if (argc != 2 || strcmp(argv[0], "net"))
		return err("ct %s: expected [net NAME]", cmd);
	if (net_find(fab(), argv[1], &n))
		return err("ct %s: network %s does not exist", cmd, argv[1]);
	*net_id = n.id;
	return 0;
}

static __u64 age_s(__u64 now, __u64 last)
{
	return now > last ? (now - last) / 1000000000ULL : 0;
}

/*
 * Whether the flow of original entry (k, o) lives, by the datapath's rule
 * (either entry within its timeout, kvb_ct_entry_live); *last is the
 * later of the two entries' last packets. net is the flow's network (its
 * timeouts; a network that is gone: the defaults).
 */
static bool ct_live(struct fabric *fb, const struct kvb_net *net,
		    const struct kvb_ct_key *k, const struct kvb_ct *o,
		    __u64 now, __u64 *last)
{
	const __u32 *t = net->id == o->net_id ? net->ct_timeout : NULL;
	struct kvb_ct_key rk;
	struct kvb_ct r;
	bool live = kvb_ct_entry_live(t, k->proto, o, now);

	*last = o->last_ns;
	kvb_ct_reply_key(k, o, &rk);
	if (!bpf_map_lookup_elem(fb->ct_fd, &rk, &r)) {
		live = live || kvb_ct_entry_live(t, k->proto, &r, now);
		if (r.last_ns > *last)
			*last = r.last_ns;
	}
	return live;
}

static int ct_show(int argc, char **argv)
{
	struct kvb_ct_key k, *prev = NULL;
	struct jw *w = NULL;
	struct fabric *fb;
	__u32 net_id;
	__u64 now = mono_ns(), last;

	if (ct_filter(argc, argv, "show", &net_id))
		return 1;
	fb = fab();
	if (opts.json) {
		w = jw_new(stdout, opts.pretty);
		jw_arr_begin(w);
	}
	while (!bpf_map_get_next_key(fb->ct_fd, prev, &k)) {
		char g[16], r[16], n[16];
		struct kvb_net net;
		struct kvb_ct ct;
		unsigned int gport, rport, nport;

		prev = &k;
		if (k.dir || bpf_map_lookup_elem(fb->ct_fd, &k, &ct) ||
		    (net_id && ct.net_id != net_id))
			continue;
		if (net_get(fb, ct.net_id, &net)) {
			memset(&net, 0, sizeof(net));
			snprintf(net.name, sizeof(net.name), "#%u", ct.net_id);
		}
		/* an expired flow is not shown: it no longer translates
		 * anything, and the sweep is about to take it */
		if (!ct_live(fb, &net, &k, &ct, now, &last))
			continue;
		inet_ntop(AF_INET, &k.saddr, g, sizeof(g));
		inet_ntop(AF_INET, &k.daddr, r, sizeof(r));
		inet_ntop(AF_INET, &ct.addr, n, sizeof(n));
		gport = ntohs(k.sport), rport = ntohs(k.dport);
		nport = ntohs(ct.port);
		if (w) {
			jw_obj_begin(w);
			jw_kstr(w, "net", net.name);
			jw_kstr(w, "proto", proto_name(k.proto));
			jw_kstr(w, "src", g);
			jw_kuint(w, "sport", gport);
			jw_kstr(w, "dst", r);
			jw_kuint(w, "dport", rport);
			jw_kstr(w, "nat_src", n);
			jw_kuint(w, "nat_sport", nport);
			jw_kstr(w, "state", state_name(ct.state));
			jw_kuint(w, "age", age_s(now, last));
			jw_kuint(w, "packets", ct.packets);
			jw_obj_end(w);
		} else {
			printf("%-4s %s:%u -> %s:%u as %s:%u %s age %llus net %s\n",
			       proto_name(k.proto), g, gport, r, rport, n, nport,
			       state_name(ct.state),
			       (unsigned long long)age_s(now, last),
			       net.name);
		}
	}
	if (w) {
		jw_arr_end(w);
		jw_free(w);
	}
	return 0;
}

static bool ct_match(const void *key, const void *value, void *arg)
{
	const struct kvb_ct *ct = value;
	__u32 net_id = *(const __u32 *)arg;

	(void)key;
	return !net_id || ct->net_id == net_id;
}

/* Delete the flows of net_id (0: all); both directions of each. */
int ct_flush_net(struct fabric *fb, __u32 net_id)
{
	int n = map_delete_where(fb->ct_fd, sizeof(struct kvb_ct_key),
				 sizeof(struct kvb_ct), ct_match, &net_id);

	ct_recount(fb);
	return n / 2;	/* two keys a flow */
}

static void count_flow(const void *key, const void *value, void *arg)
{
	const struct kvb_ct_key *k = key;
	const struct kvb_ct *ct = value;
	__u64 *n = arg;

	if (!k->dir && ct->net_id < KVB_MAX_NETS)
		n[ct->net_id]++;
}

/* Set every network's flow count to what the table holds, in one pass. */
void ct_recount(struct fabric *fb)
{
	static __u64 n[KVB_MAX_NETS];

	memset(n, 0, sizeof(n));
	map_walk(fb->ct_fd, sizeof(struct kvb_ct_key), sizeof(struct kvb_ct),
		 count_flow, n);
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		bpf_map_update_elem(fb->ctcnt_fd, &id, &n[id], BPF_ANY);
}

__u64 ct_count(struct fabric *fb, __u32 net_id)
{
	__u64 n = 0;

	bpf_map_lookup_elem(fb->ctcnt_fd, &net_id, &n);
	return n;
}

static int ct_flush(int argc, char **argv)
{
	__u32 net_id;

	if (ct_filter(argc, argv, "flush", &net_id))
		return 1;
	printf("%d flows flushed\n", ct_flush_net(fab(), net_id));
	return 0;
}

int do_ct(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "show", ct_show },
		{ "list", ct_show },
		{ "flush", ct_flush },
		{ NULL, NULL },
	};

	return dispatch("ct", cmds, argc, argv, ct_help);
}
