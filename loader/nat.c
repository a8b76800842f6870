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
#include <signal.h>
#include <sys/file.h>
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

/*
 * A nat network whose WAN device has no IPv4 address yet (at boot, before
 * the WAN's DHCP): there is nothing to translate to, so the datapath
 * refuses outbound flows (nat-no-route) while nat_ip is 0. Every changing
 * command (fabric_tend) picks the address up once the device has one, and
 * so does a small
 * process that `net add` (and so `load`) leaves behind to wait for it
 * (wan_wait_start): it writes the address into the network and exits, or
 * exits when the network goes.
 */
static bool wan_address_set(struct fabric *fb, __u32 id, const char *name)
{
	char dev[IF_NAMESIZE];
	struct kvb_net n;
	__be32 a;

	if (net_get(fb, id, &n) || n.type != KVB_NET_NAT ||
	    (name && strcmp(n.name, name)))
		return true;	/* gone, or another network now */
	if (n.nat_ip)
		return true;
	if (!if_indextoname(n.wan, dev) || !(a = dev_ipv4(dev)))
		return false;
	n.nat_ip = a;
	return !net_put(fb, &n);
}

void wan_address_refresh(struct fabric *fb)
{
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		wan_address_set(fb, id, NULL);
}

void wan_wait_start(struct fabric *fb, const struct kvb_net *net)
{
	char path[256];
	pid_t pid;
	int status;

	run_path(net, "wanwait", path, sizeof(path));
	pid = fork();
	if (pid < 0)
		return;
	if (pid) {
		waitpid(pid, &status, 0);
		return;
	}
	/* the child: detached from the command's terminal, pipes and lock */
	if (fork())
		_exit(0);
	setsid();
	close(fb->lock_fd);
	{
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	{
		FILE *f = fopen(path, "w");

		if (f) {
			fprintf(f, "%d\n", getpid());
			fclose(f);
		}
	}
	for (;;) {
		int lock = open(fb->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		bool done;

		if (lock < 0)
			break;	/* the fabric is gone */
		flock(lock, LOCK_EX);
		done = wan_address_set(fb, net->id, net->name);
		close(lock);
		if (done)
			break;
		sleep(1);
	}
	unlink(path);
	_exit(0);
}

void wan_wait_stop(const struct kvb_net *net)
{
	char path[256];
	FILE *f;
	int pid = 0;

	run_path(net, "wanwait", path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "%d", &pid) == 1 && pid > 0)
		kill(pid, SIGTERM);
	fclose(f);
	unlink(path);
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

static void ct_details(void)
{
	printf("  Live NAT flows: protocol, original and translated tuples,\n"
	       "  state, idle age (expired ones are not listed). flush: every\n"
	       "  flow (of network NAME), both directions. Limit: %d flows.\n",
	       KVB_MAX_CT / 2);
}

static int ct_filter(struct fabric *fb, int argc, char **argv,
		     const char *cmd, __u32 *net_id)
{
	struct kvb_net n;

	*net_id = 0;
	if (!argc)
		return 0;
	if (argc != 2 || strcmp(argv[0], "net"))
		return err("ct %s: expected [net NAME]", cmd);
	if (net_find(fb, argv[1], &n))
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
	struct fabric *fb = fab_ro();
	__u32 net_id;
	__u64 now = mono_ns(), last;

	if (ct_filter(fb, argc, argv, "show", &net_id))
		return 1;
	open_json_array(NULL);
	while (!bpf_map_get_next_key(fb->ct_fd, prev, &k)) {
		char g[16], r[16], n[16];
		struct kvb_net net;
		struct kvb_ct ct;

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
		open_json_object(NULL);
		print_string(PRINT_JSON, "net", NULL, net.name);
		print_string(PRINT_ANY, "proto", "%-4s", proto_name(k.proto));
		print_string(PRINT_ANY, "src", " %s", g);
		print_uint(PRINT_ANY, "sport", ":%llu", ntohs(k.sport));
		print_string(PRINT_ANY, "dst", " -> %s", r);
		print_uint(PRINT_ANY, "dport", ":%llu", ntohs(k.dport));
		print_string(PRINT_ANY, "nat_src", " as %s", n);
		print_uint(PRINT_ANY, "nat_sport", ":%llu", ntohs(ct.port));
		print_string(PRINT_ANY, "state", " %s", state_name(ct.state));
		print_uint(PRINT_ANY, "age", " age %llus", age_s(now, last));
		print_uint(PRINT_JSON, "packets", NULL, ct.packets);
		print_string(PRINT_TEXT, NULL, " net %s\n", net.name);
		close_json_object();
	}
	close_json_array();
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
	struct fabric *fb = fab();
	__u32 net_id;

	if (ct_filter(fb, argc, argv, "flush", &net_id))
		return 1;
	open_json_object(NULL);
	print_uint(PRINT_ANY, "flushed", "%llu flows flushed\n",
		   (__u64)ct_flush_net(fb, net_id));
	close_json_object();
	return 0;
}

const struct object obj_ct = {
	.name = "ct",
	.cmds = (const struct cmd[]){
		{ "show", ct_show, "[net NAME]", 0 },
		{ "list", ct_show, NULL, 0 },
		{ "flush", ct_flush, "[net NAME]", CMD_TEND },
		{ NULL, NULL, NULL, 0 },
	},
	.details = ct_details,
};
