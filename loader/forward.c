// SPDX-License-Identifier: MIT
/*
 * Port forwards of nat networks:
 *   forward add NET proto tcp|udp port P[-Q] to ADDR[:PORT]
 *   forward del NET proto tcp|udp port P[-Q]
 *   forward show [NET]
 * The target is a guest of NET that owns ADDR (configured with 'ip', or
 * leased by DHCP) and whose MAC is known; its port and MAC are resolved
 * now, so forward again after moving the guest to another tap.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

static int fwd_help(void)
{
	fprintf(stderr,
		"Usage: kvmbpf forward add NET proto tcp|udp port P[-Q] to ADDR[:PORT]\n"
		"       kvmbpf forward del NET proto tcp|udp port P[-Q]\n"
		"       kvmbpf forward show [NET]\n"
		"\n"
		"  Connections from outside to the nat network's WAN address on\n"
		"  port P (to Q) go to guest ADDR (on PORT, PORT+1, ...; default:\n"
		"  the same ports). At most %d ports a forward, %d in all.\n",
		KVB_MAX_FWD_RANGE, KVB_MAX_FWD);
	return 0;
}

static int parse_range(const char *s, __u32 *lo, __u32 *hi)
{
	char buf[32], *dash;

	snprintf(buf, sizeof(buf), "%s", s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = 0;
	if (parse_u32(buf, 1, 65535, lo) ||
	    parse_u32(dash ? dash + 1 : buf, 1, 65535, hi) || *hi < *lo ||
	    *hi - *lo >= KVB_MAX_FWD_RANGE)
		return -EINVAL;
	return 0;
}

/* Parse NET proto X port P[-Q] [to ADDR[:PORT]] */
struct fwd_args {
	struct kvb_net net;
	__u8 proto;
	__u32 lo, hi, to_port;
	__be32 to;
};

static int parse_fwd(const char *cmd, int argc, char **argv, bool want_to,
		     struct fwd_args *a)
{
	memset(a, 0, sizeof(*a));
	if (argc < 1)
		return err("forward %s: missing NET", cmd);
	if (net_find(fab(), argv[0], &a->net))
		return err("forward %s: network %s does not exist", cmd, argv[0]);
	if (a->net.type != KVB_NET_NAT)
		return err("forward %s: %s is not a nat network", cmd, argv[0]);
	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return err("forward %s: %s needs a value", cmd, k);
		if (!strcmp(k, "proto")) {
			if (!strcmp(v, "tcp"))
				a->proto = 6;
			else if (!strcmp(v, "udp"))
				a->proto = 17;
			else
				return err("forward %s: proto %s: expected tcp "
					   "or udp", cmd, v);
		} else if (!strcmp(k, "port")) {
			if (parse_range(v, &a->lo, &a->hi))
				return err("forward %s: port %s: expected P or "
					   "P-Q (1-65535, at most %d ports)",
					   cmd, v, KVB_MAX_FWD_RANGE);
		} else if (!strcmp(k, "to") && want_to) {
			char buf[64], *colon;

			snprintf(buf, sizeof(buf), "%s", v);
			colon = strchr(buf, ':');
			if (colon)
				*colon = 0;
			if (inet_pton(AF_INET, buf, &a->to) != 1 ||
			    (colon && parse_u32(colon + 1, 1, 65535, &a->to_port)))
				return err("forward %s: to %s: expected "
					   "ADDR[:PORT]", cmd, v);
		} else {
			return err("forward %s: unknown keyword '%s'", cmd, k);
		}
	}
	if (!a->proto || !a->lo)
		return err("forward %s: expected 'proto tcp|udp port P[-Q]'", cmd);
	if (want_to && !a->to)
		return err("forward %s: missing 'to ADDR[:PORT]'", cmd);
	if (!a->to_port)
		a->to_port = a->lo;
	if (a->to_port + (a->hi - a->lo) > 65535)
		return err("forward %s: target ports beyond 65535", cmd);
	return 0;
}

/* The guest port of net that owns addr. */
static int owner_of(struct fabric *fb, __u32 net_id, __be32 addr,
		    struct kvb_port *out)
{
	struct kvb_addr_key k, *prev = NULL;

	while (!bpf_map_get_next_key(fb->addr_fd, prev, &k)) {
		prev = &k;
		if (k.family == 4 && !memcmp(k.addr, &addr, 4) &&
		    !port_get(fb, k.ifindex, out) && out->net_id == net_id)
			return 0;
	}
	return -ENOENT;
}

static int fwd_add(int argc, char **argv)
{
	struct fwd_args a;
	struct kvb_port p;
	struct fabric *fb;
	int fd, ret = 0;
	char ip[16];

	if (parse_fwd("add", argc, argv, true, &a))
		return 1;
	fb = fab();
	inet_ntop(AF_INET, &a.to, ip, sizeof(ip));
	if (owner_of(fb, a.net.id, a.to, &p))
		return err("forward add: no guest of %s owns %s (give its port "
			   "'ip %s', or let it lease it by DHCP)", a.net.name, ip,
			   ip);
	if (!(p.mac[0] | p.mac[1] | p.mac[2] | p.mac[3] | p.mac[4] | p.mac[5]))
		return err("forward add: the MAC of %s (%s) is not known yet",
			   ip, p.name);
	fd = fb->fwd_fd;
	for (__u32 port = a.lo; port <= a.hi; port++) {
		struct kvb_fwd_key k = { .addr = a.net.nat_ip,
					 .port = htons((__u16)port),
					 .proto = a.proto };
		struct kvb_fwd v = { .to_addr = a.to,
				     .to_port = htons((__u16)(a.to_port + port - a.lo)),
				     .net_id = a.net.id, .ifindex = p.ifindex };

		memcpy(v.mac, p.mac, 6);
		if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST)) {
			ret = err("forward add: port %u: %s", port,
				  errno == EEXIST ? "already forwarded" :
						    strerror(errno));
			for (__u32 q = a.lo; q < port; q++) {
				k.port = htons((__u16)q);
				bpf_map_delete_elem(fd, &k);
			}
			break;
		}
	}
	return ret;
}

static int fwd_del(int argc, char **argv)
{
	struct fwd_args a;
	int fd, missing = 0;

	if (parse_fwd("del", argc, argv, false, &a))
		return 1;
	fd = fab()->fwd_fd;
	for (__u32 port = a.lo; port <= a.hi; port++) {
		struct kvb_fwd_key k = { .addr = a.net.nat_ip,
					 .port = htons((__u16)port),
					 .proto = a.proto };

		missing += bpf_map_delete_elem(fd, &k) != 0;
	}
	if (missing == (int)(a.hi - a.lo + 1))
		return err("forward del: no such forward in %s", a.net.name);
	return 0;
}

static bool fwd_match(const void *key, const void *value, void *arg)
{
	(void)key;
	return ((const struct kvb_fwd *)value)->net_id == *(const __u32 *)arg;
}

/* Remove every forward of net_id (net del). */
void fwd_purge(struct fabric *fb, __u32 net_id)
{
	map_delete_where(fb->fwd_fd, sizeof(struct kvb_fwd_key),
			 sizeof(struct kvb_fwd), fwd_match, &net_id);
}

static int fwd_show(int argc, char **argv)
{
	struct kvb_fwd_key k, *prev = NULL;
	struct kvb_net filter, net;
	struct jw *w = NULL;
	struct fabric *fb;
	int fd;

	if (argc > 1)
		return err("forward show: expected [NET]");
	fb = fab();
	if (argc && net_find(fb, argv[0], &filter))
		return err("forward show: network %s does not exist", argv[0]);
	fd = fb->fwd_fd;
	if (opts.json) {
		w = jw_new(stdout, opts.pretty);
		jw_arr_begin(w);
	}
	while (!bpf_map_get_next_key(fd, prev, &k)) {
		struct kvb_fwd v;
		char pub[16], to[16];

		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v) ||
		    (argc && v.net_id != filter.id))
			continue;
		if (net_get(fb, v.net_id, &net))
			snprintf(net.name, sizeof(net.name), "#%u", v.net_id);
		inet_ntop(AF_INET, &k.addr, pub, sizeof(pub));
		inet_ntop(AF_INET, &v.to_addr, to, sizeof(to));
		if (w) {
			jw_obj_begin(w);
			jw_kstr(w, "net", net.name);
			jw_kstr(w, "proto", k.proto == 6 ? "tcp" : "udp");
			jw_kstr(w, "addr", pub);
			jw_kuint(w, "port", ntohs(k.port));
			jw_kstr(w, "to", to);
			jw_kuint(w, "to_port", ntohs(v.to_port));
			jw_obj_end(w);
		} else {
			printf("%s %s %s:%u -> %s:%u\n", net.name,
			       k.proto == 6 ? "tcp" : "udp", pub, ntohs(k.port),
			       to, ntohs(v.to_port));
		}
	}
	if (w) {
		jw_arr_end(w);
		jw_free(w);
	}
	return 0;
}

int do_forward(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "add", fwd_add },
		{ "del", fwd_del },
		{ "show", fwd_show },
		{ "list", fwd_show },
		{ NULL, NULL },
	};

	return dispatch("forward", cmds, argc, argv, fwd_help);
}
