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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

static void dhcp_path(const struct kvb_net *net, const char *ext, char *buf,
		      size_t len)
{
	run_path(net, ext, buf, len);
}

/* Static leases: every port of the network with a MAC and an IPv4. */
static int write_hosts(struct fabric *fb, const struct kvb_net *net)
{
	struct kvb_addr_key key, *prev = NULL;
	char path[256], tmp[272];
	FILE *f;

	dhcp_path(net, "hosts", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	while (!bpf_map_get_next_key(fb->addr_fd, prev, &key)) {
		struct kvb_addr a;
		struct kvb_port p;
		char mac[18], ip[64];

		prev = &key;
		if (key.family != 4 || port_get(fb, key.ifindex, &p) ||
		    p.net_id != net->id ||
		    (p.flags & KVB_PORT_F_MAC_PINNED) ||
		    !(p.mac[0] | p.mac[1] | p.mac[2] | p.mac[3] | p.mac[4] |
		      p.mac[5]) ||
		    bpf_map_lookup_elem(fb->addr_fd, &key, &a) ||
		    !(a.flags & KVB_ADDR_F_STATIC))
			continue;
		fmt_mac(p.mac, mac);
		fmt_addr(&key, ip);
		fprintf(f, "%s,%s\n", mac, ip);
	}
	fclose(f);
	return rename(tmp, path) ? -errno : 0;
}

static pid_t read_pid(const struct kvb_net *net)
{
	char path[256];
	FILE *f;
	int pid = 0;

	dhcp_path(net, "pid", path, sizeof(path));
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return pid > 0 && !kill(pid, 0) ? pid : 0;
}

/* Run dnsmasq with argv; 0 once it has forked into the background. */
static int dnsmasq_run(const char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (!pid) {
		execv("/usr/sbin/dnsmasq", (char *const *)argv);
		_exit(127);
	}
	/* dnsmasq forks into the background once it listens */
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -EIO;
	return 0;
}

int dhcp_start(struct fabric *fb, const struct kvb_net *net)
{
	char host[16], port[16], range[96], router[48], dns[48];
	char pidf[256], hosts[256], leases[256], ifarg[40];
	__u32 first = ntohl(net->subnet) + 2, last = ntohl(net->subnet | ~net->netmask) - 1;
	struct in_addr a;
	char lo[16], hi[16], gw[16], mask[16];
	int ret;

	if (access("/usr/sbin/dnsmasq", X_OK))
		return err("net add: dhcp on needs dnsmasq (apt-get install "
			   "dnsmasq-base), or say 'dhcp off'");
	mkdir(KVB_RUN_DIR, 0755);
	ret = write_hosts(fb, net);
	if (ret)
		return err("net add: %s: %s", KVB_RUN_DIR, strerror(-ret));
	gateway_ifnames(net->id, host, port);
	a.s_addr = htonl(first);
	snprintf(lo, sizeof(lo), "%s", inet_ntoa(a));
	a.s_addr = htonl(last);
	snprintf(hi, sizeof(hi), "%s", inet_ntoa(a));
	a.s_addr = net->gw_ip;
	snprintf(gw, sizeof(gw), "%s", inet_ntoa(a));
	a.s_addr = net->netmask;
	snprintf(mask, sizeof(mask), "%s", inet_ntoa(a));
	snprintf(range, sizeof(range), "--dhcp-range=%s,%s,%s,1h", lo, hi, mask);
	snprintf(router, sizeof(router), "--dhcp-option=3,%s", gw);
	snprintf(dns, sizeof(dns), "--dhcp-option=6,%s", gw);
	snprintf(ifarg, sizeof(ifarg), "--interface=%s", host);
	dhcp_path(net, "pid", pidf, sizeof(pidf));
	dhcp_path(net, "hosts", hosts, sizeof(hosts));
	dhcp_path(net, "leases", leases, sizeof(leases));
	{
		char pidarg[280], hostarg[280], leasearg[280];
		const char *argv[] = {
			"dnsmasq", "--conf-file=/dev/null", "--bind-interfaces",
			ifarg, "--except-interface=lo", range, router, dns,
			"--dhcp-authoritative", "--dhcp-no-override",
			pidarg, hostarg, leasearg, "--log-facility=/dev/null",
			NULL,
		};

		snprintf(pidarg, sizeof(pidarg), "--pid-file=%s", pidf);
		snprintf(hostarg, sizeof(hostarg), "--dhcp-hostsfile=%s", hosts);
		snprintf(leasearg, sizeof(leasearg), "--dhcp-leasefile=%s",
			 leases);
		if (dnsmasq_run(argv))
			return err("net add: dnsmasq on %s did not start", host);
	}
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
			"dnsmasq", "--conf-file=/dev/null", "--bind-interfaces",
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

void dhcp_stop(const struct kvb_net *net)
{
	const char *exts[] = { "pid", "hosts", "leases", "restarts" };
	pid_t pid = read_pid(net);
	char path[256];

	if (pid) {
		kill(pid, SIGTERM);
		for (int i = 0; i < 50 && !kill(pid, 0); i++)
			usleep(10000);
	}
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		dhcp_path(net, exts[i], path, sizeof(path));
		unlink(path);
	}
}

/* A port of net_id changed: refresh the static leases. */
void dhcp_sync(struct fabric *fb, __u32 net_id)
{
	struct kvb_net net;
	pid_t pid;

	if (net_get(fb, net_id, &net) || !(net.flags & KVB_NET_F_DHCP))
		return;
	/*
	 * Only a running server's leases are refreshed: dhcp_start writes
	 * the file before it starts one, and after dhcp_stop (net del,
	 * reset, while the rest of the network is taken down) nothing may
	 * bring the file back.
	 */
	pid = read_pid(&net);
	if (!pid || write_hosts(fb, &net))
		return;
	kill(pid, SIGHUP);
}

bool dhcp_running(const struct kvb_net *net)
{
	return read_pid(net) != 0;
}

/* A network that should have a dnsmasq: nat with DHCP, routed with IPv6. */
bool dnsmasq_wanted(const struct kvb_net *n)
{
	if (net_has(n, NT_NAT))
		return n->flags & KVB_NET_F_DHCP;
	if (!net_has(n, NT_ROUTED))
		return false;
	for (__u32 i = 0; i < n->nsubnets && i < KVB_MAX_SUBNETS; i++)
		if (n->subnets[i].family == 6)
			return true;
	return false;
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
 * interface is gone (being removed) is left alone.
 */
void dhcp_revive(struct fabric *fb)
{
	struct kvb_net n;

	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		char host[16], port[16], path[256];
		__u64 last;
		int count, r;
		FILE *f;

		if (net_get(fb, id, &n) || !dnsmasq_wanted(&n) || read_pid(&n))
			continue;
		gateway_ifnames(n.id, host, port);
		if (!if_nametoindex(host))
			continue;
		r = net_has(&n, NT_NAT) ? dhcp_start(fb, &n) : ra_start(&n);
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
 * "EXPIRY MAC ADDRESS HOSTNAME CLIENT-ID" a line, EXPIRY 0 for never),
 * with the attached port that has the lease's MAC.
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

/* A lease of dnsmasq's file: "EXPIRY MAC ADDRESS HOSTNAME CLIENT-ID". */
struct lease {
	unsigned long long exp;
	__u8 mac[6];
	__u32 addr;		/* host order, for the order of the listing */
	char ip[64], host[256], cid[256];
};

static int lease_cmp(const void *a, const void *b)
{
	const struct lease *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return memcmp(x->mac, y->mac, 6);
}

/* The live IPv4 leases of f, sorted by address; -1: no memory. */
static ssize_t leases_read(FILE *f, time_t now, struct lease **out)
{
	struct lease *rows = NULL, *t, l;
	size_t n = 0, cap = 0;
	char line[512], macs[32];
	struct in_addr a;

	while (f && fgets(line, sizeof(line), f)) {
		/* DHCPv6 entries ("duid" line, IAIDs) are not ours */
		if (sscanf(line, "%llu %31s %63s %255s %255s", &l.exp, macs,
			   l.ip, l.host, l.cid) != 5 || parse_mac(macs, l.mac))
			continue;
		if (l.exp && (time_t)l.exp <= now)
			continue;	/* expired, not yet written out */
		l.addr = inet_pton(AF_INET, l.ip, &a) == 1 ? ntohl(a.s_addr) : 0;
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
	print_text("%-17s  %-15s  %-20s  %-19s  %s\n", "MAC", "ADDRESS",
		   "HOSTNAME", "EXPIRES", "PORT");
	open_json_array(NULL);
	for (ssize_t i = 0; i < n; i++) {
		const struct lease *l = &rows[i];
		char macs[18], pb[16], when[32];
		const char *port = lease_port(fb, &net, l->mac, pb);

		fmt_mac(l->mac, macs);
		if (l->exp) {
			time_t t = (time_t)l->exp;

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
				 localtime(&t));
		} else {
			snprintf(when, sizeof(when), "never");
		}
		open_json_object(NULL);
		print_string(PRINT_ANY, "mac", "%-17s", macs);
		print_string(PRINT_ANY, "address", "  %-15s", l->ip);
		print_string(PRINT_ANY, "hostname", "  %-20s",
			     strcmp(l->host, "*") ? l->host : NULL);
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
