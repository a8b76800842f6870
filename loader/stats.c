// SPDX-License-Identifier: MIT
/* `stats [DEV]`: per-port packet counters and drops by named reason. */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"

static int stats_help(void)
{
	fprintf(stderr,
		"Usage: kvmbpf stats [DEV]\n"
		"\n"
		"  rx: frames the port received from its guest or wire; tx:\n"
		"  frames the fabric delivered to it; drops by reason:\n");
#define KVB_DROP_HELP(name, slot, str, help) fprintf(stderr, "    %-16s %s\n", str, help);
	KVB_DROP_REASONS(KVB_DROP_HELP)
#undef KVB_DROP_HELP
	return 0;
}

/* Sum the per-CPU values of one port. */
static int stats_sum(struct fabric *fb, __u32 ifindex, struct kvb_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kvb_stats *pc = calloc((size_t)ncpu, sizeof(*pc));

	memset(sum, 0, sizeof(*sum));
	if (!pc || bpf_map_lookup_elem(fb->stats_fd, &ifindex, pc)) {
		free(pc);
		return -1;
	}
	for (int c = 0; c < ncpu; c++) {
		sum->rx_packets += pc[c].rx_packets;
		sum->rx_bytes += pc[c].rx_bytes;
		sum->tx_packets += pc[c].tx_packets;
		sum->tx_bytes += pc[c].tx_bytes;
		sum->learn_fail += pc[c].learn_fail;
		for (int r = 0; r < KVB_DROP_MAX; r++)
			sum->drop[r] += pc[c].drop[r];
	}
	free(pc);
	return 0;
}

static void show_stats(struct jw *w, struct fabric *fb, const struct kvb_port *p)
{
	struct kvb_stats s;
	char ifn[16];
	__u64 total = 0;

	if (stats_sum(fb, p->ifindex, &s))
		return;
	ifname_of(p->ifindex, p, ifn);
	for (int r = 0; r < KVB_DROP_MAX; r++)
		total += s.drop[r];
	if (w) {
		jw_obj_begin(w);
		jw_kstr(w, "dev", ifn);
		jw_kuint(w, "rx_packets", s.rx_packets);
		jw_kuint(w, "rx_bytes", s.rx_bytes);
		jw_kuint(w, "tx_packets", s.tx_packets);
		jw_kuint(w, "tx_bytes", s.tx_bytes);
		jw_kuint(w, "learn_fail", s.learn_fail);
		jw_kuint(w, "drops", total);
		jw_key(w, "drop_reasons");
		jw_obj_begin(w);
		for (int r = 0; r < KVB_DROP_MAX; r++)
			if (drop_named((unsigned int)r))
				jw_kuint(w, drop_name((unsigned int)r),
					 s.drop[r]);
		jw_obj_end(w);
		jw_obj_end(w);
		return;
	}
	printf("%s:\n  rx %llu packets %llu bytes  tx %llu packets %llu bytes"
	       "  learn-fail %llu\n  drops %llu", ifn,
	       (unsigned long long)s.rx_packets,
	       (unsigned long long)s.rx_bytes,
	       (unsigned long long)s.tx_packets,
	       (unsigned long long)s.tx_bytes,
	       (unsigned long long)s.learn_fail, (unsigned long long)total);
	for (int r = 0; r < KVB_DROP_MAX; r++)
		if (s.drop[r])
			printf("  %s %llu", drop_name((unsigned int)r),
			       (unsigned long long)s.drop[r]);
	printf("\n");
}

int do_stats(int argc, char **argv)
{
	struct fabric *fb;
	struct jw *w = NULL;
	struct kvb_port p;
	__u32 key, *prev = NULL;

	if (argc && is_help(argv[0]))
		return stats_help();
	if (argc > 1)
		return err("stats: unexpected argument '%s'", argv[1]);
	fb = fab();
	if (argc == 1 && port_resolve(fb, argv[0], &p))
		return err("stats: device %s is not attached", argv[0]);
	if (opts.json) {
		w = jw_new(stdout, opts.pretty);
		jw_arr_begin(w);
	}
	if (argc == 1) {
		show_stats(w, fb, &p);
	} else {
		while (!bpf_map_get_next_key(fb->port_fd, prev, &key)) {
			prev = &key;
			if (!port_get(fb, key, &p))
				show_stats(w, fb, &p);
		}
	}
	if (w) {
		jw_arr_end(w);
		jw_free(w);
	}
	return 0;
}
