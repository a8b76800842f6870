// SPDX-License-Identifier: MIT
/*
 * DHCP for nat networks: kvmbpf runs dnsmasq on the network's gateway
 * interface (a well-kept server, rather than answering DHCP in BPF: leases,
 * renewals, options and DNS are dnsmasq's job and it does them right).
 * dnsmasq daemonizes; kvmbpf starts it at `net add`, stops it at `net del`
 * and rewrites its static leases (ports with a MAC and an IPv4 address)
 * whenever a port of the network changes, then sends it SIGHUP.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

static void dhcp_path(const struct kvb_net *net, const char *ext, char *buf,
		      size_t len)
{
	run_path(net, ext, buf, len);
}

/* One dhcp-host line: IPv6 addresses in brackets. */
static void host_write(FILE *f, const char *who, const struct kvb_addr_key *k)
{
	char ip[64];

	fmt_addr(k, ip);
	fprintf(f, k->family == 6 ? "%s,[%s]\n" : "%s,%s\n", who, ip);
}

struct hosts_out {
	struct fabric *fb;
	FILE *f;
	unsigned int n;
	char tag[17];		/* fabric_tag: in identifiers no client sends */
};

/*
 * The port that holds a as a static address of net_id with the MAC it
 * was given: that MAC, else NULL.
 */
static const __u8 *static_holder_mac(struct fabric *fb, __u32 net_id,
				     const struct kvb_addr_key *a,
				     struct kvb_port *p)
{
	struct kvb_addr b;

	if (addr_holder(fb, net_id, a, p, &b) ||
	    !(b.flags & KVB_ADDR_F_STATIC))
		return NULL;
	return port_mac_given(p);
}

static void reservation_write(const struct kvb_dhcphost_key *k,
			      const struct kvb_dhcphost *v, void *arg)
{
	struct hosts_out *o = arg;
	struct kvb_addr_key a = { .family = k->family };
	const __u8 *held;
	struct kvb_port p;
	char who[64];

	memcpy(a.addr, k->addr, 16);
	held = k->family == 4 && !v->has_mac ?
	       static_holder_mac(o->fb, k->net_id, &a, &p) : NULL;
	if (v->has_mac && k->family == 4)
		fmt_mac(v->mac, who);
	else if (held)	/* kept from others, and its port's static lease */
		fmt_mac(held, who);
	else	/* a client identifier no client sends (no ':': dnsmasq
		 * reads one with a colon as hex; the fabric's tag: no guest
		 * can send it as its client-id or DUID) */
		snprintf(who, sizeof(who), "id:kvmbpf-%s-host-%u", o->tag,
			 ++o->n);
	host_write(o->f, who, &a);
}

/*
 * Static leases: every port of the network with a MAC and an IPv4 (`mac`
 * given) gets its address from dnsmasq. Every other static address of
 * the network (a port with `ip` and no `mac`, whose MAC the fabric pins
 * from its first frame; every static IPv6 one, in the DHCPv6 range or
 * not) is reserved for a client identifier no client sends: dnsmasq
 * leases no address a dhcp-host line names to anyone else, and the guest
 * that holds it is not refused its own address. Then the network's
 * reservations (dhcp-host add), which stand whether a port holds their
 * address or not; a port's line for a reserved address is left out (the
 * reservation's says it, and dnsmasq refuses two lines of one address).
 */
static int write_hosts(struct fabric *fb, const struct kvb_net *net)
{
	struct kvb_addr_key key, *prev = NULL;
	struct hosts_out o = { .fb = fb, .n = 0 };
	char path[256], tmp[272];
	FILE *f;

	fabric_tag(fb, o.tag);
	dhcp_path(net, "hosts", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	while (!bpf_map_get_next_key(fb->addr_fd, prev, &key)) {
		struct kvb_dhcphost r;
		struct kvb_addr a;
		struct kvb_port p;
		char who[64];

		prev = &key;
		if (!key.ifindex || port_get(fb, key.ifindex, &p) ||
		    p.net_id != net->id ||
		    bpf_map_lookup_elem(fb->addr_fd, &key, &a) ||
		    !(a.flags & KVB_ADDR_F_STATIC) || addr_link_local(&key) ||
		    !dhcphost_get(fb, net->id, &key, &r))
			continue;
		if (key.family == 6 || !port_mac_given(&p))
			snprintf(who, sizeof(who), "id:kvmbpf-%s-reserved-%u",
				 o.tag, key.ifindex);
		else
			fmt_mac(p.mac, who);
		host_write(f, who, &key);
	}
	o.f = f;
	dhcphost_each(fb, net->id, reservation_write, &o);
	fclose(f);
	return rename(tmp, path) ? -errno : 0;
}

/*
 * dnsmasq's lease script: it runs this kvmbpf, on this fabric, for every
 * lease it adds, renews or drops (dhcp_event).
 */
static int write_script(const struct kvb_net *net)
{
	char path[256], tmp[272], exe[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *f;

	if (n <= 0)
		return -errno;
	exe[n] = 0;
	if (!realpath(opts.bpffs, dir))
		snprintf(dir, sizeof(dir), "%s", opts.bpffs);
	if (strchr(exe, '\'') || strchr(dir, '\''))
		return -EINVAL;
	dhcp_path(net, "lease-script", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "#!/bin/sh\n# dnsmasq's lease script for kvmbpf network "
		"%s: DHCPv6 leases become port addresses\nexec '%s' --bpffs "
		"'%s' dhcp-event %s -- \"$@\"\n", net->name, exe, dir, net->name);
	if (fchmod(fileno(f), 0755)) {
		fclose(f);
		return -errno;
	}
	fclose(f);
	return rename(tmp, path) ? -errno : 0;
}

/*
 * The network's dnsmasq: the one started with its pid file's path
 * (--pid-file=PATH, dnsmasq_start), 0 when none runs. Its pid file first,
 * then, when that names no such process, every process: dnsmasq gives the
 * file to the user it runs as (nobody), who could write another
 * dnsmasq's pid into it, or none, and so make kvmbpf start a second one
 * and leave the first running at net del.
 */
static pid_t read_pid(const struct kvb_net *net)
{
	char path[256], arg[280];
	FILE *f;
	int pid = 0;

	dhcp_path(net, "pid", path, sizeof(path));
	snprintf(arg, sizeof(arg), "--pid-file=%s", path);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	/* dnsmasq's, and this network's: not whatever process got its pid
	 * since, nor another network's */
	if (pid_runs(pid, KVB_DNSMASQ) && pid_has_arg(pid, arg))
		return pid;
	return pid_find(KVB_DNSMASQ, arg);
}

/*
 * Run dnsmasq with argv; 0 once it has forked into the background. Until
 * it has, it dies with the command that runs it: a `net add` killed
 * while dnsmasq was starting left one that came up after the network's
 * `net del` had looked for it (t117). The daemon it forks has no such
 * tie, and is found by its arguments (read_pid).
 */
static int dnsmasq_run(const char *const argv[])
{
	pid_t parent = getpid(), pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (!pid) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(127);
		execv(KVB_DNSMASQ, (char *const *)argv);
		_exit(127);
	}
	/* dnsmasq forks into the background once it listens */
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -EIO;
	return 0;
}

/* Does the network have an IPv6 subnet? (Read from the subnets, not
 * KVB_NET_F_IP6: networks made before the flag lack it.) */
static bool net_has_ip6(const struct kvb_net *n)
{
	for (__u32 i = 0; i < n->nsubnets && i < KVB_MAX_SUBNETS; i++)
		if (n->subnets[i].family == 6)
			return true;
	return false;
}

/*
 * A subnet's pool around its gateway gw, its host addresses first to
 * last (host order): the gateway + 1 to the last, the addresses below the
 * gateway left for static guests (a gateway at .100 keeps .2-.99 out of
 * the pool); when the gateway is the last, the first to the gateway - 1
 * (a /30 whose gateway is .2 leases .1). Before, the pool was the second
 * host address on, whatever the gateway: one at .2 of a /30 left nothing.
 */
static void pool_around(__u32 first, __u32 last, __u32 gw, __u32 *lo,
			__u32 *hi)
{
	if (gw >= last) {
		*lo = first;
		*hi = gw - 1;
	} else {
		*lo = gw + 1;
		*hi = last;
	}
}

/*
 * A DHCPv6 range of an IPv6 subnet: [subnet + 0x1000, subnet + 0x1fff]
 * (below it, low addresses are left for static ones; [+ 0x2000, +
 * 0x2fff] when the gateway is in that block), or for a small
 * subnet (past /112) around its gateway (pool_around; its first address
 * after the subnet-router anycast one).
 */
static void range6(const struct kvb_subnet *sn, char *lo, char *hi)
{
	__u8 a[16], b[16];

	memcpy(a, sn->addr, 16);
	memcpy(b, sn->addr, 16);
	if (sn->prefixlen <= 112) {
		/* a gateway the operator put in that block (::1000-::1fff)
		 * is no guest's: the next block then (t124: dnsmasq leased
		 * the gateway's address, to a client that asked for it and
		 * to one in 4,096 that did not) */
		__u8 blk = sn->gw[14] >= 0x10 && sn->gw[14] <= 0x1f &&
			   !memcmp(sn->gw, sn->addr, 14) ? 0x20 : 0x10;

		a[14] |= blk;
		b[14] |= blk | 0x0f;
		b[15] = 0xff;
	} else {
		__u32 host = 128U - sn->prefixlen, l, h;
		__u32 base = (__u32)a[14] << 8 | a[15];
		__u32 gw = (__u32)sn->gw[14] << 8 | sn->gw[15];

		pool_around(base + 1, base | ((1U << host) - 1), gw, &l, &h);
		a[14] = (__u8)(l >> 8);
		a[15] = (__u8)l;
		b[14] = (__u8)(h >> 8);
		b[15] = (__u8)h;
	}
	inet_ntop(AF_INET6, a, lo, INET6_ADDRSTRLEN);
	inet_ntop(AF_INET6, b, hi, INET6_ADDRSTRLEN);
}

#define DNSMASQ_ARGS 35

/*
 * dnsmasq's --dhcp-lease-max, one count for DHCPv4 and DHCPv6 (1000 if
 * not given: 1,100 DHCPv6 leases of one guest's fresh DUIDs once left
 * every other guest's DHCPv4 NAKed for a day). Sized so that DHCPv6 can
 * never take what DHCPv4 needs: every address of each IPv4 subnet (the
 * pool, gateway + 1 to the last host, and any static lease in it), plus,
 * with an IPv6 subnet, KVB_MAX_NET_PORTS ports times the most leases the
 * datapath lets one port make the server hold (kvb_maps.h:
 * KVB_DHCP6_LEASES_PER_PORT, 16 + 86400 / 600 + 1 = 161: its lease
 * budget, charged when a guest's SOLICIT with Rapid Commit, REQUEST or
 * REBIND passes, within one lease time of a day). A /24 with IPv6:
 * 256 + 64 * 161 = 10,560.
 */
static unsigned long dhcp_lease_max(const struct kvb_net *net)
{
	unsigned long n = 0;
	bool v6 = false;

	for (__u32 i = 0; i < net->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *sn = &net->subnets[i];

		if (sn->family == 4 && sn->prefixlen <= 32)
			n += 1UL << (32 - sn->prefixlen);
		else if (sn->family == 6)
			v6 = true;
	}
	if (v6)
		n += (unsigned long)KVB_MAX_NET_PORTS *
		     KVB_DHCP6_LEASES_PER_PORT;
	return n > INT_MAX ? INT_MAX : n;
}

/*
 * dnsmasq for a network with `dhcp on`: DHCPv4 on each IPv4 subnet (the
 * gateway + 1 to the last host address), stateful DHCPv6 on each IPv6
 * subnet with router advertisements (M flag; the prefixes on-link, not
 * autonomous: the addresses come from DHCPv6, as libvirt does it), whose
 * lifetimes are the ones BPF answers a solicitation with. A nat network
 * gets DNS too (dnsmasq forwards to the host's resolvers); a routed one
 * only DHCP. Its leases of IPv6 addresses become the ports' addresses
 * through the lease script (dhcp_event).
 */
int dhcp_start(struct fabric *fb, const struct kvb_net *net)
{
	char host[16], port[16], ifarg[40], router[48], dns[48], param[80];
	char pidarg[280], hostarg[280], leasearg[280], scriptarg[280];
	char leasemax[48], mtu[32];
	char ranges[KVB_MAX_SUBNETS][128], path[256];
	const char *argv[DNSMASQ_ARGS];
	int n = 0, ret;
	bool v4 = false, v6 = false;

	if (access("/usr/sbin/dnsmasq", X_OK))
		return err("net add: dhcp on needs dnsmasq (apt-get install "
			   "dnsmasq-base), or say 'dhcp off'");
	mkdir(KVB_RUN_DIR, 0755);
	ret = write_hosts(fb, net);
	if (ret)
		return err("net add: %s: %s", KVB_RUN_DIR, strerror(-ret));
	ret = write_script(net);
	if (ret)
		return err("net add: %s: %s", KVB_RUN_DIR, strerror(-ret));
	gateway_ifnames(net->id, host, port);
	snprintf(ifarg, sizeof(ifarg), "--interface=%s", host);
	argv[n++] = "dnsmasq";
	argv[n++] = "--conf-file=/dev/null";
	argv[n++] = "--bind-dynamic";
	argv[n++] = ifarg;
	argv[n++] = "--except-interface=lo";
	for (__u32 i = 0; i < net->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *sn = &net->subnets[i];
		char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
		__u32 lo4, hi4;

		if (sn->family == 4) {
			__u32 base, gw, mask = ~0U << (32 - sn->prefixlen);
			struct in_addr x;

			memcpy(&base, sn->addr, 4);
			memcpy(&gw, sn->gw, 4);
			base = ntohl(base);
			gw = ntohl(gw);
			pool_around(base + 1, (base | ~mask) - 1, gw, &lo4,
				    &hi4);
			x.s_addr = htonl(lo4);
			snprintf(lo, sizeof(lo), "%s", inet_ntoa(x));
			x.s_addr = htonl(hi4);
			snprintf(hi, sizeof(hi), "%s", inet_ntoa(x));
			x.s_addr = htonl(mask);
			snprintf(ranges[i], sizeof(ranges[i]),
				 "--dhcp-range=%s,%s,%s,1h", lo, hi,
				 inet_ntoa(x));
			v4 = true;
		} else {
			range6(sn, lo, hi);
			snprintf(ranges[i], sizeof(ranges[i]),
				 "--dhcp-range=%s,%s,%u,%u", lo, hi,
				 sn->prefixlen, KVB_RA_VALID_LIFETIME);
			v6 = true;
		}
		argv[n++] = ranges[i];
	}
	if (net_has(net, NT_NAT)) {
		struct in_addr g = { .s_addr = net->gw_ip };

		snprintf(router, sizeof(router), "--dhcp-option=3,%s",
			 inet_ntoa(g));
		snprintf(dns, sizeof(dns), "--dhcp-option=6,%s", inet_ntoa(g));
		argv[n++] = router;
		argv[n++] = dns;
	} else {
		argv[n++] = "--port=0";	/* routed: no DNS */
	}
	/* the network's MTU (option 26, interface-mtu, which Debian's and
	 * Ubuntu's dhclient and dhcpcd ask for), as the RA tells IPv6
	 * guests: a guest left at 1500 on a smaller MTU loses every
	 * full-size packet (admission drops it, mtu-exceeded) */
	if (v4) {
		snprintf(mtu, sizeof(mtu), "--dhcp-option=26,%u", net->mtu);
		argv[n++] = mtu;
	}
	if (v6) {
		snprintf(param, sizeof(param), "--ra-param=%s,mtu:%u,%u,%u",
			 host, net->mtu, KVB_RA_INTERVAL,
			 KVB_RA_ROUTER_LIFETIME);
		argv[n++] = "--enable-ra";
		argv[n++] = param;
	}
	snprintf(leasemax, sizeof(leasemax), "--dhcp-lease-max=%lu",
		 dhcp_lease_max(net));
	argv[n++] = leasemax;
	argv[n++] = "--dhcp-authoritative";
	argv[n++] = "--dhcp-no-override";
	/* a lease is its MAC's (which the guard holds each port to), never
	 * a client-id's: another guest can read a client-id off the wire
	 * (a broadcast DISCOVER) and send it in its own REQUEST or RELEASE,
	 * which dnsmasq matches before the MAC, and so take or end the
	 * other's lease */
	argv[n++] = "--dhcp-ignore-clid";
	/* renewals too ("old"): a DHCPv6 lease's binding ends with the
	 * lease, and a renewal moves its end (dnsmasq 2.86 and later) */
	argv[n++] = "--script-on-renewal";
	dhcp_path(net, "pid", path, sizeof(path));
	snprintf(pidarg, sizeof(pidarg), "--pid-file=%s", path);
	dhcp_path(net, "hosts", path, sizeof(path));
	snprintf(hostarg, sizeof(hostarg), "--dhcp-hostsfile=%s", path);
	dhcp_path(net, "leases", path, sizeof(path));
	snprintf(leasearg, sizeof(leasearg), "--dhcp-leasefile=%s", path);
	dhcp_path(net, "lease-script", path, sizeof(path));
	snprintf(scriptarg, sizeof(scriptarg), "--dhcp-script=%s", path);
	argv[n++] = pidarg;
	argv[n++] = hostarg;
	argv[n++] = leasearg;
	argv[n++] = scriptarg;
	argv[n++] = "--log-facility=/dev/null";
	argv[n] = NULL;
	if (dnsmasq_run(argv))
		return err("net add: dnsmasq on %s did not start", host);
	return 0;
}

/* The dnsmasq a network has: DHCP (dhcp on), or RAs alone for IPv6. */
int dnsmasq_start(struct fabric *fb, const struct kvb_net *net)
{
	if (net->flags & KVB_NET_F_DHCP)
		return dhcp_start(fb, net);
	if (net_has_ip6(net))
		return ra_start(net);
	return 0;
}

/*
 * Router advertisements for a routed network with IPv6: BPF answers every
 * router solicitation at once; dnsmasq (RA only: no DHCP, no DNS) repeats
 * the advertisement so guests keep their default route and addresses
 * past the lifetimes.
 */
int ra_start(const struct kvb_net *net)
{
	char host[16], port[16], ifarg[40], range[64], param[80], pidarg[280];
	char pidf[256];

	if (access("/usr/sbin/dnsmasq", X_OK))
		return err("net add: router advertisements need dnsmasq "
			   "(apt-get install dnsmasq-base)");
	mkdir(KVB_RUN_DIR, 0755);
	gateway_ifnames(net->id, host, port);
	snprintf(ifarg, sizeof(ifarg), "--interface=%s", host);
	/* the lease time is the prefixes' valid and preferred lifetime; the
	 * lifetimes are the ones BPF answers a solicitation with */
	snprintf(range, sizeof(range),
		 "--dhcp-range=::,constructor:%s,ra-only,%u", host,
		 KVB_RA_VALID_LIFETIME);
	snprintf(param, sizeof(param), "--ra-param=%s,mtu:%u,%u,%u", host,
		 net->mtu, KVB_RA_INTERVAL, KVB_RA_ROUTER_LIFETIME);
	dhcp_path(net, "pid", pidf, sizeof(pidf));
	snprintf(pidarg, sizeof(pidarg), "--pid-file=%s", pidf);
	{
		const char *argv[] = {
			"dnsmasq", "--conf-file=/dev/null", "--bind-dynamic",
			ifarg, "--except-interface=lo", "--port=0",
			"--enable-ra", range, param, pidarg,
			"--log-facility=/dev/null", NULL,
		};

		if (dnsmasq_run(argv))
			return err("net add: dnsmasq (router advertisements) on "
				   "%s did not start", host);
	}
	return 0;
}

/*
 * Stop the network's dnsmasq: every process of it, until none is left
 * (SIGTERM, then SIGKILL after half a second). A `net add` killed while
 * its dnsmasq was starting leaves two, the parent and the daemon it is
 * forking, with no pid file yet; stopping the first one found left the
 * other serving the network's subnet for ever (t117).
 */
void dhcp_stop(const struct kvb_net *net)
{
	const char *exts[] = { "pid", "hosts", "leases", "restarts",
			       "lease-script" };
	char path[256];
	pid_t pid;

	for (int i = 0; i < 100 && (pid = read_pid(net)); i++) {
		kill(pid, i < 50 ? SIGTERM : SIGKILL);
		for (int j = 0; j < 10 && !kill(pid, 0) &&
				pid_runs(pid, KVB_DNSMASQ); j++)
			usleep(10000);
	}
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		dhcp_path(net, exts[i], path, sizeof(path));
		unlink(path);
	}
}

/* A port or reservation of net_id changed: refresh the static leases.
 * 0, or the error writing dnsmasq's hosts file. */
int dhcp_sync(struct fabric *fb, __u32 net_id)
{
	struct kvb_net net;
	pid_t pid;
	int ret;

	if (net_get(fb, net_id, &net) || !(net.flags & KVB_NET_F_DHCP))
		return 0;
	/*
	 * Only a running server's leases are refreshed: dhcp_start writes
	 * the file before it starts one, and after dhcp_stop (net del,
	 * reset, while the rest of the network is taken down) nothing may
	 * bring the file back.
	 */
	pid = read_pid(&net);
	if (!pid)
		return 0;
	ret = write_hosts(fb, &net);
	if (!ret)
		kill(pid, SIGHUP);
	return ret;
}

bool dhcp_running(const struct kvb_net *net)
{
	return read_pid(net) != 0;
}

/* A network that should have a dnsmasq: nat or routed with DHCP or IPv6. */
bool dnsmasq_wanted(const struct kvb_net *n)
{
	if (!net_has(n, NT_NAT) && !net_has(n, NT_ROUTED))
		return false;
	return (n->flags & KVB_NET_F_DHCP) || net_has_ip6(n);
}

/* How often dnsmasq was found dead and started again, and when last. */
int dhcp_restarts(const struct kvb_net *net, __u64 *last)
{
	char path[256];
	unsigned long long t = 0;
	int n = 0;
	FILE *f;

	dhcp_path(net, "restarts", path, sizeof(path));
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d %llu", &n, &t) != 2)
			n = 0, t = 0;
		fclose(f);
	}
	if (last)
		*last = t;
	return n;
}

/*
 * Every changing command (its upkeep step) looks after the dnsmasq of each network: one that
 * died (killed, OOM, crashed) is started again, and counted in
 * <interface>.restarts so that `net show` says so. Commands hold the
 * fabric's lock, so two never start one each. A network whose gateway
 * interface is gone (being removed), or that never recorded one (a
 * `net add` killed half-way: its `net del` is due), is left alone.
 */
void dhcp_revive(struct fabric *fb)
{
	struct kvb_net n;

	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		char host[16], port[16], path[256];
		__u64 last;
		int count, r;
		FILE *f;

		if (net_get(fb, id, &n) || !n.gw_host || !dnsmasq_wanted(&n) ||
		    read_pid(&n))
			continue;
		gateway_ifnames(n.id, host, port);
		if (!if_nametoindex(host))
			continue;
		r = dnsmasq_start(fb, &n);
		if (r) {
			warn("net %s: dnsmasq was not running and did not "
			     "start again", n.name);
			continue;
		}
		count = dhcp_restarts(&n, &last) + 1;
		dhcp_path(&n, "restarts", path, sizeof(path));
		f = fopen(path, "w");
		if (f) {
			fprintf(f, "%d %llu\n", count,
				(unsigned long long)time(NULL));
			fclose(f);
		}
	}
}

/*
 * net leases NAME: dnsmasq's leases of a nat network (its lease file:
 * "EXPIRY MAC ADDRESS HOSTNAME CLIENT-ID" a line for DHCPv4, EXPIRY 0 for
 * never; after a "duid SERVER-DUID" line, DHCPv6's "EXPIRY IAID ADDRESS
 * HOSTNAME CLIENT-DUID", IAID with a T before it for a temporary
 * address), with the attached port that has the lease: by its MAC for
 * DHCPv4, by the address's binding for DHCPv6 (the lease script binds
 * it to the port that asked: dhcp_event), whose MAC it then shows.
 */
static const char *lease_port(struct fabric *fb, const struct kvb_net *net,
			      const __u8 mac[6], char buf[16])
{
	struct kvb_port p;

	for (__u16 i = 0; i < net->nports && i < KVB_MAX_NET_PORTS; i++)
		if (!port_get(fb, net->ports[i], &p) &&
		    p.role == KVB_PORT_GUEST && !memcmp(p.mac, mac, 6))
			return ifname_of(p.ifindex, &p, buf);
	return NULL;
}

/* The port a DHCPv6 lease of net is bound to, and its MAC in mac. */
static const char *lease6_port(struct fabric *fb, const struct kvb_net *net,
			       const __u8 a[16], __u8 mac[6], char buf[16])
{
	struct kvb_addr_key k = { .net_id = (__u8)net->id, .family = 6 };
	struct kvb_addr o;
	struct kvb_port p;

	memcpy(k.addr, a, 16);
	if (bpf_map_lookup_elem(fb->addr_fd, &k, &o) ||
	    port_get(fb, o.owner, &p) || p.role != KVB_PORT_GUEST ||
	    p.net_id != net->id)
		return NULL;
	memcpy(mac, p.mac, 6);
	return ifname_of(p.ifindex, &p, buf);
}

/* A lease of dnsmasq's file (DHCPv4 or DHCPv6, by family). */
struct lease {
	unsigned long long exp;
	int family;		/* 4 or 6 */
	__u8 mac[6];		/* DHCPv4's */
	__u8 a[16];		/* the address, for the order of the listing */
	char ip[64], host[256], cid[256];
	char iaid[32];		/* DHCPv6's */
};

/* DHCPv4 first, then DHCPv6; by address, then MAC */
static int lease_cmp(const void *a, const void *b)
{
	const struct lease *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->a, y->a, 16);
	return c ? c : memcmp(x->mac, y->mac, 6);
}

/* The live leases of f, sorted (lease_cmp); -1: no memory. */
static ssize_t leases_read(FILE *f, time_t now, struct lease **out)
{
	struct lease *rows = NULL, *t, l;
	size_t n = 0, cap = 0;
	char line[600], mid[32];
	bool v6 = false;

	while (f && fgets(line, sizeof(line), f)) {
		memset(&l, 0, sizeof(l));
		if (!strncmp(line, "duid ", 5)) {
			v6 = true;	/* the server's DUID: DHCPv6 follows */
			continue;
		}
		if (sscanf(line, "%llu %31s %63s %255s %255s", &l.exp, mid,
			   l.ip, l.host, l.cid) != 5)
			continue;
		if (l.exp && (time_t)l.exp <= now)
			continue;	/* expired, not yet written out */
		if (!v6) {
			if (parse_mac(mid, l.mac) ||
			    inet_pton(AF_INET, l.ip, l.a) != 1)
				continue;
			l.family = 4;
		} else {
			if (inet_pton(AF_INET6, l.ip, l.a) != 1)
				continue;
			l.family = 6;
			snprintf(l.iaid, sizeof(l.iaid), "%s", mid);
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			t = realloc(rows, cap * sizeof(*rows));
			if (!t) {
				free(rows);
				return -1;
			}
			rows = t;
		}
		rows[n++] = l;
	}
	if (n)
		qsort(rows, n, sizeof(*rows), lease_cmp);
	*out = rows;
	return (ssize_t)n;
}

/*
 * Does dnsmasq hold a live lease of address a (family 4 or 6) of net for
 * a client other than mac (NULL: any client)? Its MAC (DHCPv4; zero for
 * DHCPv6) into who. Read from its lease file, which may hold leases the
 * fabric never bound (taken before the port was attached).
 */
bool dhcp_leased_elsewhere(const struct kvb_net *net, int family,
			   const __u8 a[16], const __u8 *mac, __u8 who[6])
{
	struct lease *rows = NULL;
	char path[256];
	bool hit = false;
	ssize_t n;
	FILE *f;

	dhcp_path(net, "leases", path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return false;
	n = leases_read(f, time(NULL), &rows);
	fclose(f);
	for (ssize_t i = 0; i < n && !hit; i++)
		if (rows[i].family == family &&
		    !memcmp(rows[i].a, a, family == 4 ? 4 : 16) &&
		    (!mac || family != 4 || memcmp(rows[i].mac, mac, 6))) {
			memcpy(who, rows[i].mac, 6);
			hit = true;
		}
	free(rows);
	return hit;
}

int net_leases(int argc, char **argv)
{
	struct fabric *fb;
	struct kvb_net net;
	struct lease *rows = NULL;
	char path[256];
	time_t now = time(NULL);
	ssize_t n;
	FILE *f;

	if (argc != 1)
		return err("net leases: expected NAME");
	fb = fab_ro();
	if (!fb)
		return 1;
	if (net_find(fb, argv[0], &net))
		return err("net leases: network %s does not exist", argv[0]);
	if (!(net.flags & KVB_NET_F_DHCP))
		return err("net leases: %s: no DHCP server (leases are for nat "
			   "networks with dhcp on)", net.name);
	dhcp_path(&net, "leases", path, sizeof(path));
	f = fopen(path, "r");
	if (!f && errno != ENOENT)
		return err("net leases: %s: %s", path, strerror(errno));
	n = leases_read(f, now, &rows);
	if (f)
		fclose(f);
	if (n < 0)
		return err("net leases: out of memory");
	print_text("%-17s  %-25s  %-20s  %-19s  %s\n", "MAC", "ADDRESS",
		   "HOSTNAME", "EXPIRES", "PORT");
	open_json_array(NULL);
	for (ssize_t i = 0; i < n; i++) {
		const struct lease *l = &rows[i];
		char macs[18] = "-", pb[16], when[32];
		const char *port;
		__u8 mac[6];

		if (l->family == 4) {
			port = lease_port(fb, &net, l->mac, pb);
			fmt_mac(l->mac, macs);
		} else {
			static const __u8 none[6];

			port = lease6_port(fb, &net, l->a, mac, pb);
			if (port && memcmp(mac, none, 6))
				fmt_mac(mac, macs);
		}
		if (l->exp) {
			time_t t = (time_t)l->exp;

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
				 localtime(&t));
		} else {
			snprintf(when, sizeof(when), "never");
		}
		open_json_object(NULL);
		print_uint(PRINT_JSON, "family", NULL, (unsigned)l->family);
		print_string(PRINT_ANY, "mac", "%-17s",
			     strcmp(macs, "-") ? macs : NULL);
		print_string(PRINT_ANY, "address", "  %-25s", l->ip);
		print_string(PRINT_ANY, "hostname", "  %-20s",
			     strcmp(l->host, "*") ? l->host : NULL);
		if (l->family == 6)
			print_string(PRINT_JSON, "iaid", NULL, l->iaid);
		print_string(PRINT_JSON, "client_id", NULL,
			     strcmp(l->cid, "*") ? l->cid : NULL);
		if (l->exp) {
			print_uint(PRINT_JSON, "expiry", NULL, l->exp);
			print_uint(PRINT_JSON, "expires_in", NULL,
				   l->exp - (unsigned long long)now);
		} else {
			print_null("expiry");
			print_null("expires_in");
		}
		print_string(PRINT_TEXT, NULL, "  %-19s", when);
		print_string(PRINT_ANY, "port", "  %s\n", port);
		close_json_object();
	}
	close_json_array();
	free(rows);
	return 0;
}

/*
 * May addr (IPv6) be a lease of net: in one of its IPv6 subnets, not a
 * gateway address. dnsmasq leases from its ranges only; this holds the
 * lease script to that whatever reaches it.
 */
static bool lease6_in_net(const struct kvb_net *net, const __u8 addr[16])
{
	for (__u32 i = 0; i < net->nsubnets && i < KVB_MAX_SUBNETS; i++) {
		const struct kvb_subnet *sn = &net->subnets[i];
		__u32 plen = sn->prefixlen, b;

		if (sn->family != 6 || plen > 128 || !memcmp(sn->gw, addr, 16))
			continue;
		for (b = 0; b < plen; b++)
			if ((sn->addr[b / 8] ^ addr[b / 8]) & (0x80 >> (b % 8)))
				break;
		if (b == plen)
			return true;
	}
	return false;
}

/*
 * The server dropped one of port p's DHCPv6 leases (released, declined,
 * ended): one lease back into the port's budget (dhcp.h:
 * dhcp6_lease_charge), which counts the leases the server may hold for
 * the port. Before, a client that released and asked again at every
 * boot (ISC dhclient's ifdown/ifup) had no IPv6 from its 17th boot on.
 * Counted in kvb_dhcp6r, which only the loader writes (dnsmasq runs its
 * lease script one event at a time); the datapath takes it off.
 */
static void dhcp6_budget_refund(struct fabric *fb, const struct kvb_port *p)
{
	int fd = open_map(fb, KVB_MAP_DHCP6R);
	__u32 slot = p->slot, n = 0;

	if (fd < 0)
		return;
	if (!bpf_map_lookup_elem(fd, &slot, &n)) {
		n++;
		bpf_map_update_elem(fd, &slot, &n, BPF_EXIST);
	}
	close(fd);
}

/*
 * kvmbpf dhcp-event NAME -- ACTION DUID ADDRESS [HOSTNAME]: dnsmasq's
 * lease script (write_script). A DHCPv6 lease added or renewed ("add",
 * "old") makes the address the port's until the lease ends, the port
 * whose MAC is the client's; "del" takes it back. DHCPv4 events are the
 * datapath's business (snooping) and are ignored here.
 *
 * Everything here but DNSMASQ_MAC is the client's word: the DUID (and
 * the MAC a DUID-LL carries) is whatever the guest wrote, so a lease is
 * bound only by DNSMASQ_MAC, which dnsmasq takes from the host's
 * neighbour entry of the client's source address (SAVI holds that
 * address to its port, ND inspection its link-layer address). Relayed
 * messages, where dnsmasq would take the MAC from the relay's option, are
 * dropped from guests (guard.h). No MAC, no binding.
 */
int do_dhcp_event(int argc, char **argv)
{
	struct kvb_addr_key k = { .family = 6 };
	const char *envmac = getenv("DNSMASQ_MAC");
	const char *left = getenv("DNSMASQ_TIME_REMAINING");
	struct fabric *fb;
	struct kvb_net net;
	__u64 expires = 0;
	__u8 mac[6];
	bool add;

	if (argc < 2)
		return err("dhcp-event: expected NAME ACTION ...");
	if (strcmp(argv[1], "add") && strcmp(argv[1], "old") &&
	    strcmp(argv[1], "del"))
		return 0;	/* init, tftp, arp-add, ...: not leases */
	if (argc < 4 || !strchr(argv[3], ':'))
		return 0;
	add = strcmp(argv[1], "del") != 0;
	if (inet_pton(AF_INET6, argv[3], k.addr) != 1)
		return err("dhcp-event: %s: not an IPv6 address", argv[3]);
	if (!envmac || parse_mac(envmac, mac))
		return err("dhcp-event: %s: lease of %s: client MAC unknown, "
			   "not bound (DUID %s)", argv[0], argv[3], argv[2]);
	if (add && left && *left) {
		char *end;
		unsigned long long s = strtoull(left, &end, 10);

		/* a lost "del" cannot leave the binding for ever; the
		 * renewal ("old") moves the end */
		if (!*end && s && s <= 10ULL * 365 * 86400)
			expires = clock_mono_ns() +
				  (s + KVB_SAVI_REFRESH_S) * 1000000000ULL;
	}
	fb = fab();
	if (!fb)
		return 1;
	if (net_find(fb, argv[0], &net))
		return err("dhcp-event: network %s does not exist", argv[0]);
	if (!lease6_in_net(&net, k.addr))
		return err("dhcp-event: %s: lease of %s: not in the network's "
			   "IPv6 subnets, not bound", net.name, argv[3]);
	{
		struct kvb_dhcphost r;

		/* a reservation's (dnsmasq gave it to a client that asked
		 * for it by name): not bound, so that the port given it
		 * with `ip` still can be */
		if (add && !dhcphost_get(fb, net.id, &k, &r))
			return err("dhcp-event: %s: lease of %s: reserved "
				   "(dhcp-host), not bound", net.name,
				   argv[3]);
	}
	for (__u16 i = 0; i < net.nports && i < KVB_MAX_NET_PORTS; i++) {
		struct kvb_port p;
		int ret;

		if (port_get(fb, net.ports[i], &p) || p.role != KVB_PORT_GUEST ||
		    memcmp(p.mac, mac, 6))
			continue;
		ret = port_addr_lease(fb, &p, k, add, expires);
		if (!add)
			dhcp6_budget_refund(fb, &p);
		if (ret)
			return err("dhcp-event: %s: %s of %s: %s", net.name,
				   argv[3], p.name, ret == -EEXIST ?
				   "another port holds it" : ret == -ENOSPC ?
				   "the port holds its most leases" :
				   strerror(-ret));
		return 0;
	}
	return 0;	/* no port with that MAC (yet): nothing to hold */
}
