// SPDX-License-Identifier: MIT
/* `fdb show [net NAME]`: learned and static MAC entries with their age. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

static int fdb_help(void)
{
	fprintf(stderr,
		"Usage: kvmbpf fdb show [net NAME]\n"
		"\n"
		"  Learned entries age out after %llu s without traffic; static\n"
		"  entries are the MACs given to 'attach ... mac MAC'.\n"
		"Limit: %d entries in all networks.\n",
		KVB_FDB_AGE_NS / 1000000000ULL, KVB_MAX_FDB);
	return 0;
}

static __u64 now_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static int fdb_show(int argc, char **argv)
{
	struct kvb_fdb_key key, *prev = NULL;
	struct kvb_net net, filter;
	struct kvb_fdb_entry e;
	struct kvb_port p;
	struct fabric *fb;
	struct jw *w = NULL;
	__u64 now = now_ns();
	bool filtered = false;

	if (argc == 2 && !strcmp(argv[0], "net")) {
		filtered = true;
	} else if (argc) {
		return err("fdb show: expected [net NAME]");
	}
	fb = fab();
	if (filtered && net_find(fb, argv[1], &filter))
		return err("fdb show: network %s does not exist", argv[1]);
	if (opts.json) {
		w = jw_new(stdout, opts.pretty);
		jw_arr_begin(w);
	}
	while (!bpf_map_get_next_key(fb->fdb_fd, prev, &key)) {
		bool is_static, aged;
		char mac[18], ifn[16];
		__u64 age;

		prev = &key;
		if (bpf_map_lookup_elem(fb->fdb_fd, &key, &e))
			continue;
		if (filtered && key.net_id != filter.id)
			continue;
		if (net_get(fb, key.net_id, &net))
			snprintf(net.name, sizeof(net.name), "#%u", key.net_id);
		fmt_mac(key.mac, mac);
		ifname_of(e.ifindex, port_get(fb, e.ifindex, &p) ? NULL : &p,
			  ifn);
		is_static = e.flags & KVB_FDB_F_STATIC;
		age = now > e.seen_ns ? (now - e.seen_ns) / 1000000000ULL : 0;
		aged = !is_static && now - e.seen_ns > KVB_FDB_AGE_NS;
		if (w) {
			jw_obj_begin(w);
			jw_kstr(w, "mac", mac);
			jw_kstr(w, "dev", ifn);
			jw_kstr(w, "net", net.name);
			jw_kbool(w, "static", is_static);
			if (!is_static)
				jw_kuint(w, "age", age);
			jw_kbool(w, "expired", aged);
			jw_obj_end(w);
		} else if (is_static) {
			printf("%s dev %-15s net %-15s static\n", mac, ifn,
			       net.name);
		} else {
			printf("%s dev %-15s net %-15s age %llus%s\n", mac, ifn,
			       net.name, (unsigned long long)age,
			       aged ? " expired" : "");
		}
	}
	if (w) {
		jw_arr_end(w);
		jw_free(w);
	}
	return 0;
}

int do_fdb(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "show", fdb_show },
		{ "list", fdb_show },
		{ NULL, NULL },
	};

	return dispatch("fdb", cmds, argc, argv, fdb_help);
}
