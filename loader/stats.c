// SPDX-License-Identifier: MIT
/* `stats [DEV]`: per-port packet counters and drops by named reason. */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"

/* "    name   help", the help wrapped under itself */
static void drop_help(const char *name, const char *help)
{
	struct wrap w = { .indent = 21 };

	w.col = printf("    %-16s", name);
	wrap_words(&w, help);
	printf("\n");
}

static void stats_details(void)
{
	printf("  rx: frames the port received from its guest or wire; tx:\n"
	       "  frames the fabric delivered to it; xdp-fwd: of rx, those\n"
	       "  XDP forwarded itself (the fast path: they never reached tc);\n"
	       "  drops by reason:\n");
#define KVB_DROP_HELP(name, slot, str, help) drop_help(str, help);
	KVB_DROP_REASONS(KVB_DROP_HELP)
#undef KVB_DROP_HELP
	printf("Ports are listed by name.\n");
}

/* Sum the per-CPU values of one port (at its slot). */
static int stats_sum(struct fabric *fb, const struct kvb_port *p,
		     struct kvb_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kvb_stats *pc = calloc((size_t)ncpu, sizeof(*pc));
	__u32 slot = p->slot;

	memset(sum, 0, sizeof(*sum));
	if (!pc || !slot || bpf_map_lookup_elem(fb->stats_fd, &slot, pc)) {
		free(pc);
		return -1;
	}
	for (int c = 0; c < ncpu; c++) {
		sum->rx_packets += pc[c].rx_packets;
		sum->rx_bytes += pc[c].rx_bytes;
		sum->tx_packets += pc[c].tx_packets;
		sum->tx_bytes += pc[c].tx_bytes;
		sum->learn_fail += pc[c].learn_fail;
		sum->xdp_fwd += pc[c].xdp_fwd;
		sum->ct_evicted += pc[c].ct_evicted;
		for (int r = 0; r < KVB_DROP_MAX; r++)
			sum->drop[r] += pc[c].drop[r];
	}
	free(pc);
	return 0;
}

static void show_stats(struct fabric *fb, const struct kvb_port *p)
{
	struct kvb_stats s;
	char ifn[16];
	__u64 total = 0;

	if (stats_sum(fb, p, &s))
		return;
	ifname_of(p->ifindex, p, ifn);
	for (int r = 0; r < KVB_DROP_MAX; r++)
		total += s.drop[r];
	open_json_object(NULL);
	print_string(PRINT_ANY, "dev", "%s:\n", ifn);
	print_uint(PRINT_ANY, "rx_packets", "  rx %llu packets", s.rx_packets);
	print_uint(PRINT_ANY, "rx_bytes", " %llu bytes", s.rx_bytes);
	print_uint(PRINT_ANY, "tx_packets", "  tx %llu packets", s.tx_packets);
	print_uint(PRINT_ANY, "tx_bytes", " %llu bytes", s.tx_bytes);
	print_uint(PRINT_ANY, "learn_fail", "  learn-fail %llu", s.learn_fail);
	print_uint(PRINT_ANY, "xdp_fwd", "  xdp-fwd %llu", s.xdp_fwd);
	print_uint(PRINT_ANY, "ct_evicted", "  ct-evicted %llu\n", s.ct_evicted);
	print_uint(PRINT_ANY, "drops", "  drops %llu", total);
	open_json_object("drop_reasons");
	for (int r = 0; r < KVB_DROP_MAX; r++) {
		if (!drop_named((unsigned int)r))
			continue;
		print_uint(PRINT_JSON, drop_name((unsigned int)r), NULL,
			   s.drop[r]);
		/* text: the reasons that counted something */
		if (s.drop[r])
			print_text("  %s %llu", drop_name((unsigned int)r),
				   (unsigned long long)s.drop[r]);
	}
	close_json_object();
	print_nl();
	close_json_object();
}

static int stats_run(int argc, char **argv)
{
	struct kvb_port p, *ps;
	struct fabric *fb;
	int n;

	if (argc > 1)
		return err("stats: unexpected argument '%s'", argv[1]);
	fb = fab_ro();
	if (!fb)
		return 1;
	if (argc == 1) {
		if (port_resolve(fb, argv[0], &p))
			return err("stats: device %s is not attached", argv[0]);
		show_stats(fb, &p);
		return 0;
	}
	n = port_list(fb, &ps);
	if (n < 0)
		return err("stats: %s", strerror(-n));
	open_json_array(NULL);
	for (int i = 0; i < n; i++)
		show_stats(fb, &ps[i]);
	close_json_array();
	free(ps);
	return 0;
}

const struct object obj_stats = {
	.name = "stats",
	.cmds = (const struct cmd[]){
		{ NULL, stats_run, "[DEV]", 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = stats_details,
	.summary = "rx/tx packets and bytes, XDP fast path, drops by reason",
};
