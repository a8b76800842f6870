// SPDX-License-Identifier: MIT
/*
 * What only nat networks have: the host's ephemeral ports NAT leaves
 * alone, the wait for a WAN address that comes late, and the connection
 * table (`ct show` / `ct flush`). The gateway interface and the WAN hook,
 * which routed networks have too, are gateway.c's.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"

/*
 * The host's ephemeral ports (net.ipv4.ip_local_port_range, where
 * connect() and unbound sends take their ports), which NAT leaves alone:
 * its ports are the rest of 1024-65535, so the host's stack never picks
 * a port a flow holds and no host-wide setting has to change. Ports a
 * host socket holds explicitly are skipped by the datapath when it
 * picks one.
 */
/*
 * The range as the kernel has it now, clamped to NAT's ports: 0, or -1
 * (unreadable), -2 (unparsable), -3 (it leaves NAT fewer than
 * KVB_NAT_PORTS_LEAST ports; *lo and *hi are set all the same).
 */
static int port_range_now(unsigned int *lo, unsigned int *hi)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned int l, h;
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%u %u", &l, &h);
	fclose(f);
	if (n != 2 || h > 65535 || l > h)
		return -2;
	if (l < KVB_NAT_PORT_FIRST)
		l = KVB_NAT_PORT_FIRST;
	if (h < l)
		h = l;
	*lo = l;
	*hi = h;
	return 65536 - KVB_NAT_PORT_FIRST - (h - l + 1) < KVB_NAT_PORTS_LEAST ?
		       -3 : 0;
}

int nat_port_range(__u16 *lo, __u16 *hi)
{
	unsigned int l = 0, h = 0;

	switch (port_range_now(&l, &h)) {
	case -1:
		return err("net add: cannot read "
			   "/proc/sys/net/ipv4/ip_local_port_range: %s",
			   strerror(errno));
	case -2:
		return err("net add: cannot parse "
			   "/proc/sys/net/ipv4/ip_local_port_range");
	case -3:
		return err("net add: the host's ephemeral ports "
			   "(net.ipv4.ip_local_port_range %u %u) leave %u of "
			   "1024-65535 for NAT, fewer than %d: narrow it (the "
			   "kernel's default is 32768 60999)", l, h,
			   65536 - KVB_NAT_PORT_FIRST - (h - l + 1),
			   KVB_NAT_PORTS_LEAST);
	}
	*lo = (__u16)l;
	*hi = (__u16)h;
	return 0;
}

/*
 * The upkeep step: a nat network's host range follows the kernel's
 * (net.ipv4.ip_local_port_range, read again once per step: ok 0, lo, hi
 * as port_range_now gave them), so that new flows and hairpins leave the
 * host's new ephemeral ports to it. A range that leaves NAT too few
 * ports is not taken (net add refuses it; the old one stays). Flows made
 * before keep their ports until they end.
 */
static void nat_port_range_follow(struct fabric *fb, struct kvb_net *n,
				  int ok, unsigned int l, unsigned int h)
{
	if (n->type != KVB_NET_NAT || ok ||
	    (l == n->host_port_lo && h == n->host_port_hi))
		return;
	n->host_port_lo = (__u16)l;
	n->host_port_hi = (__u16)h;
	net_put(fb, n);
}

/*
 * The address a nat network's forwards listen on, hairpin recognises and
 * `net show` names (nat_address): its `wan` device's, or without one the
 * default route's device's. Flows do not depend on it: each new flow
 * takes the source the FIB picks for its route, packet by packet.
 */
__be32 nat_address(const struct kvb_net *n)
{
	char dev[IF_NAMESIZE];

	if (n->wan)
		return if_indextoname(n->wan, dev) ? dev_ipv4(dev) : 0;
	return host_default_dev(dev) ? 0 : dev_ipv4(dev);
}

/*
 * Bring network id's nat_ip up to date (at boot the WAN may have no
 * address yet; later it may change): its forwards move to the new
 * address. An address that went away leaves the last one in place.
 * Returns -1 when the network is gone (or is another one now), else
 * whether it has an address.
 */
static int nat_address_sync(struct fabric *fb, __u32 id, const char *name)
{
	struct kvb_net n;
	__be32 a;

	if (net_get(fb, id, &n) || !net_has(&n, NT_NAT) ||
	    (name && strcmp(n.name, name)))
		return -1;
	a = nat_address(&n);
	if (!a || a == n.nat_ip)
		return !!n.nat_ip;
	fwd_rekey(fb, id, n.nat_ip, a);
	n.nat_ip = a;
	return !net_put(fb, &n);
}

/*
 * Void every translated flow's cached next hop (kvb_ct.nh_*): its next
 * packet asks the FIB again. Done whenever the host's routes, addresses
 * or links may have changed as far as the loader sees: every changing
 * command, and every wake of an any-route network's watcher. What it does
 * not see (a neighbour's new MAC, a route changed with no command) holds
 * a flow at most KVB_NH_REVALIDATE_NS.
 */
void nat_nh_bump(struct fabric *fb)
{
	struct kvb_natst st;
	__u32 zero = 0;

	if (fb->natst_fd < 0 || bpf_map_lookup_elem(fb->natst_fd, &zero, &st))
		return;
	st.nh_gen++;
	bpf_map_update_elem(fb->natst_fd, &zero, &st, BPF_EXIST);
}

/*
 * Every changing command (fabric_tend) catches up with the host: nat
 * addresses that came or changed, devices an any-route network must hook,
 * and a watcher that died; and flows ask the FIB again (nat_nh_bump).
 */
void wan_address_refresh(struct fabric *fb)
{
	unsigned int lo = 0, hi = 0;
	int range = port_range_now(&lo, &hi);
	struct kvb_net n;
	__u32 any = 0;

	nat_nh_bump(fb);

	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		wan_follow(fb, id);
		nat_address_sync(fb, id, NULL);
		if (net_get(fb, id, &n))
			continue;
		nat_port_range_follow(fb, &n, range, lo, hi);
		/* a network whose gateway interface was never recorded (a
		 * `net add` killed half-way: its `net del` is due) gets no
		 * watcher, which that net del would not stop (gw_destroy) */
		if (!net_wan_watched(&n) || !n.gw_host)
			continue;
		if (!n.wan)
			any = id;
		if (!wan_wait_alive(&n))
			wan_wait_start(fb, &n);
	}
	if (any)
		wan_hook_all(fb, any);
}

/*
 * Wait up to ms for the host's links, addresses or routes to change
 * (rtnetlink multicast groups); a plain sleep when that socket fails.
 */
static void host_change_wait(int nl, int ms)
{
	struct pollfd pfd = { .fd = nl, .events = POLLIN };
	char buf[8192];

	if (nl < 0 || poll(&pfd, 1, ms) <= 0) {
		if (nl < 0)
			usleep((useconds_t)ms * 1000);
		return;
	}
	/* drain: one pass over the host covers every change so far */
	while (recv(nl, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static int host_change_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
				  .nl_groups = RTMGRP_LINK |
					       RTMGRP_IPV4_IFADDR |
					       RTMGRP_IPV4_ROUTE };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The watcher's PID from its run file (path filled in), or 0. */
static int wan_wait_pid(const struct kvb_net *net, char path[256])
{
	unsigned long long started = 0;
	FILE *f;
	int pid, k;

	run_path(net, "wanwait", path, 256);
	f = fopen(path, "r");
	if (!f)
		return 0;
	k = fscanf(f, "%d %llu", &pid, &started);
	if (k < 1 || pid < 0)
		pid = 0;
	fclose(f);
	/* the watcher: the process that started then (the file of an
	 * older kvmbpf has no start time: a kvmbpf by name, or this binary
	 * under another name), not whatever got its pid since (a libvirt
	 * hook's kvmbpf, say, after the watcher was killed) */
	if (k == 2)
		return started && pid_start_time(pid) == started ? pid : 0;
	return pid_is(pid, "kvmbpf") || pid_runs_self(pid) ? pid : 0;
}

bool wan_wait_alive(const struct kvb_net *net)
{
	char path[256];
	int pid = wan_wait_pid(net, path);

	return pid > 0;
}

/*
 * Whether network n has a watcher: every nat network, and a routed one
 * with `wan DEV`.
 */
bool net_wan_watched(const struct kvb_net *n)
{
	return net_has(n, NT_NAT) || (net_has(n, NT_GATEWAY) && n->wan);
}

/*
 * Close every directory the process has open: a fabric's lock is a flock
 * on its pin directory, and one inherited from a process that held
 * another handle of the same fabric (the unit tests' harness and the CLI's
 * own) would keep the watcher waiting for its own lock for ever, alive
 * with the fabric's maps after the fabric was gone. The watcher opens the
 * directory anew each round.
 */
static void close_lock_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int self = d ? dirfd(d) : -1;

	while (d && (de = readdir(d))) {
		struct stat st;
		int fd = atoi(de->d_name);

		if (fd > 2 && fd != self && !fstat(fd, &st) &&
		    S_ISDIR(st.st_mode))
			close(fd);
	}
	if (d)
		closedir(d);
}

/*
 * A small process per nat network (and routed network with `wan DEV`)
 * that follows the host (no daemon: the datapath never needs it, it only
 * keeps the fabric's view current), for as long as the network lives.
 * When links, addresses or routes change: with `wan DEV`, a DEV made
 * again (a PPP reconnect, wg-quick down and up) is hooked again
 * (wan_follow) and its address followed, the forwards with it (at boot,
 * its first address after `load`); without `wan` (any-route), devices
 * that came are hooked (wan_hook_all) and the default route's address is
 * followed. Should it die, the next command starts it again. It exits
 * when the network goes (net del and reset stop it, and it notices).
 */
void wan_wait_start(struct fabric *fb, const struct kvb_net *net)
{
	char path[256];
	bool watch = !net->wan;
	struct kvb_net n;
	pid_t pid;
	int status, nl;

	run_path(net, "wanwait", path, sizeof(path));
	mkdir(KVB_RUN_DIR, 0755);	/* /run is new after a reboot */
	pid = fork();
	if (pid < 0)
		return;
	if (pid) {
		waitpid(pid, &status, 0);
		return;
	}
	/* the child: detached from the command's terminal, pipes and lock;
	 * its pid is on file before the command goes on */
	pid = fork();
	if (pid) {
		FILE *f = pid > 0 ? fopen(path, "w") : NULL;

		/* a watcher nobody can find would be started again by
		 * every command: without its pid on file, none */
		if (!f || fprintf(f, "%d %llu\n", (int)pid,
				  pid_start_time(pid)) < 0 || fclose(f)) {
			if (pid > 0)
				kill(pid, SIGKILL);
			unlink(path);
		}
		_exit(0);
	}
	setsid();
	close(fb->lock_fd);
	close_lock_fds();
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
	nl = host_change_socket();
	for (;;) {
		int lock = open(fb->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int state;

		if (lock < 0)
			break;	/* the fabric is gone */
		flock(lock, LOCK_EX);
		state = -1;
		/* the same network (not another under its id), and hooks take
		 * the programs now pinned (an upgrade swaps them) */
		if (!net_get(fb, net->id, &n) && !strcmp(n.name, net->name)) {
			/* hooks only with the programs now pinned: else
			 * this round hooks nothing, the next one tries */
			int progs = fabric_reopen_progs(fb);

			if (!progs)
				wan_follow(fb, net->id);
			state = net_has(&n, NT_NAT) ?
				nat_address_sync(fb, net->id, net->name) : 1;
			if (watch && state >= 0 && !progs)
				wan_hook_all(fb, net->id);
		}
		nat_nh_bump(fb);
		close(lock);
		if (state < 0)
			break;
		/* woken by the change itself; the timeout only covers a
		 * missed notification (the socket's buffer ran over), and
		 * the first address of a WAN at boot */
		host_change_wait(nl, state ? 5000 : 1000);
	}
	unlink(path);
	_exit(0);
}

void wan_wait_stop(const struct kvb_net *net)
{
	char path[256];
	int pid = wan_wait_pid(net, path);

	if (pid > 0)
		kill(pid, SIGTERM);
	unlink(path);
}


/* A flow's protocol by name, or its number (buf) for the rarer ones. */
static const char *proto_name(__u8 p, char buf[4])
{
	switch (p) {
	case 1: return "icmp";
	case 4: return "ipip";
	case 6: return "tcp";
	case 17: return "udp";
	case 41: return "ipv6";
	case 47: return "gre";
	case 50: return "esp";
	case 115: return "l2tp";
	case 132: return "sctp";
	}
	snprintf(buf, 4, "%u", p);
	return buf;
}

static const char *state_name(__u8 s)
{
	return s == KVB_CT_ESTABLISHED ? "established" :
	       s == KVB_CT_CLOSING ? "closing" :
	       s == KVB_CT_ANSWERED ? "answered" : "new";
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
	return (__s64)(now - last) > 0 ? (now - last) / 1000000000ULL : 0;
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
		if ((__s64)(r.last_ns - *last) > 0)
			*last = r.last_ns;
	}
	return live;
}

struct ct_row {
	struct kvb_ct_key k;
	struct kvb_ct ct;
	__u64 last;
};

/* by network, protocol, then the original tuple, host order */
static int ct_cmp(const void *a, const void *b)
{
	const struct ct_row *x = a, *y = b;
	__u64 kx[3] = { x->ct.net_id, x->k.proto, ntohl(x->k.saddr) },
	      ky[3] = { y->ct.net_id, y->k.proto, ntohl(y->k.saddr) };
	__u64 lx[3] = { ntohs(x->k.sport), ntohl(x->k.daddr), ntohs(x->k.dport) },
	      ly[3] = { ntohs(y->k.sport), ntohl(y->k.daddr), ntohs(y->k.dport) };

	for (int i = 0; i < 3; i++)
		if (kx[i] != ky[i])
			return kx[i] < ky[i] ? -1 : 1;
	for (int i = 0; i < 3; i++)
		if (lx[i] != ly[i])
			return lx[i] < ly[i] ? -1 : 1;
	return 0;
}

/* the live original entries of net_id (0: all), sorted; -1: no memory */
static ssize_t ct_rows(struct fabric *fb, __u32 net_id, __u64 now,
		       struct ct_row **out)
{
	struct kvb_ct_key k, *prev = NULL;
	struct ct_row *rows = NULL, *t;
	size_t n = 0, cap = 0;

	while (!bpf_map_get_next_key(fb->ct_fd, prev, &k)) {
		struct kvb_net net;
		struct kvb_ct ct;
		__u64 last;

		prev = &k;
		if (k.dir || bpf_map_lookup_elem(fb->ct_fd, &k, &ct) ||
		    (net_id && ct.net_id != net_id))
			continue;
		if (net_get(fb, ct.net_id, &net))
			memset(&net, 0, sizeof(net));
		/* an expired flow is not shown: it no longer translates
		 * anything, and the sweep is about to take it */
		if (!ct_live(fb, &net, &k, &ct, now, &last))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			t = realloc(rows, cap * sizeof(*rows));
			if (!t) {
				free(rows);
				return -1;
			}
			rows = t;
		}
		rows[n++] = (struct ct_row){ .k = k, .ct = ct, .last = last };
	}
	if (n)
		qsort(rows, n, sizeof(*rows), ct_cmp);
	*out = rows;
	return (ssize_t)n;
}

static int ct_show(int argc, char **argv)
{
	struct fabric *fb = fab_ro();
	struct ct_row *rows = NULL;
	__u64 now = clock_mono_exact_ns();
	__u32 net_id;
	ssize_t n;

	if (!fb)
		return 1;
	if (ct_filter(fb, argc, argv, "show", &net_id))
		return 1;
	n = ct_rows(fb, net_id, now, &rows);
	if (n < 0)
		return err("ct show: out of memory");
	open_json_array(NULL);
	for (ssize_t i = 0; i < n; i++) {
		const struct kvb_ct_key *k = &rows[i].k;
		const struct kvb_ct *ct = &rows[i].ct;
		char g[16], r[16], a[16], pn[4];
		struct kvb_net net;

		if (net_get(fb, ct->net_id, &net))
			snprintf(net.name, sizeof(net.name), "#%u", ct->net_id);
		inet_ntop(AF_INET, &k->saddr, g, sizeof(g));
		inet_ntop(AF_INET, &k->daddr, r, sizeof(r));
		inet_ntop(AF_INET, &ct->addr, a, sizeof(a));
		open_json_object(NULL);
		print_string(PRINT_JSON, "net", NULL, net.name);
		print_string(PRINT_ANY, "proto", "%-4s",
			     proto_name(k->proto, pn));
		print_string(PRINT_ANY, "src", " %s", g);
		print_uint(PRINT_ANY, "sport", ":%llu", ntohs(k->sport));
		print_string(PRINT_ANY, "dst", " -> %s", r);
		print_uint(PRINT_ANY, "dport", ":%llu", ntohs(k->dport));
		print_string(PRINT_ANY, "nat_src", " as %s", a);
		print_uint(PRINT_ANY, "nat_sport", ":%llu", ntohs(ct->port));
		print_string(PRINT_ANY, "state", " %s", state_name(ct->state));
		print_uint(PRINT_ANY, "age", " age %llus",
			   age_s(now, rows[i].last));
		print_string(PRINT_TEXT, NULL, " net %s\n", net.name);
		close_json_object();
	}
	close_json_array();
	free(rows);
	return 0;
}

static bool ct_match(const void *key, const void *value, void *arg)
{
	const struct kvb_ct *ct = value;
	__u32 net_id = *(const __u32 *)arg;

	(void)key;
	return !net_id || ct->net_id == net_id;
}

static bool natmap_match(const void *key, const void *value, void *arg)
{
	const struct kvb_natmap *m = value;
	__u32 net_id = *(const __u32 *)arg;

	(void)key;
	return !net_id || m->net_id == net_id;
}

/*
 * Delete the flows of net_id (0: all); both directions of each, and the
 * network's NAT mappings with them (a flow the datapath makes meanwhile
 * keeps its port, which is then no longer reserved for it alone).
 */
int ct_flush_net(struct fabric *fb, __u32 net_id)
{
	int n = map_delete_where(fb->ct_fd, sizeof(struct kvb_ct_key),
				 sizeof(struct kvb_ct), ct_match, &net_id);

	map_delete_where(fb->natmap_fd, sizeof(struct kvb_natmap_key),
			 sizeof(struct kvb_natmap), natmap_match, &net_id);

	ct_recount(fb);
	return n / 2;	/* two keys a flow */
}

/* flows by network, and by the port slot whose share holds them */
struct flow_counts {
	__u64 net[KVB_MAX_NETS];
	__u64 slot[KVB_MAX_PORTS + 1];
};

static void count_flow(const void *key, const void *value, void *arg)
{
	const struct kvb_ct_key *k = key;
	const struct kvb_ct *ct = value;
	struct flow_counts *n = arg;

	if (k->dir)
		return;
	if (ct->net_id < KVB_MAX_NETS)
		n->net[ct->net_id]++;
	if (ct->slot <= KVB_MAX_PORTS)
		n->slot[ct->slot]++;
}

/* Set every network's and every port's flow count to what the table
 * holds, in one pass. */
void ct_recount(struct fabric *fb)
{
	static struct flow_counts n;

	memset(&n, 0, sizeof(n));
	map_walk(fb->ct_fd, sizeof(struct kvb_ct_key), sizeof(struct kvb_ct),
		 count_flow, &n);
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		bpf_map_update_elem(fb->ctcnt_fd, &id, &n.net[id], BPF_ANY);
	for (__u32 s = 1; s <= KVB_MAX_PORTS; s++)
		bpf_map_update_elem(fb->ctpn_fd, &s, &n.slot[s], BPF_ANY);
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

	if (!fb)
		return 1;
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
