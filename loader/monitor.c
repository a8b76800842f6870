// SPDX-License-Identifier: MIT
/*
 * `monitor [DEV] [drops] [count N]`: a live stream of dropped frames with
 * port, reason and headers, from the kvb_events ring buffer. Events flow
 * only while a monitor keeps kvb_mon.until_ns ahead of the clock; a killed
 * monitor stops them within KVB_MON_LEASE_NS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"

#define KVB_MON_LEASE_NS (2ULL * 1000000000ULL)

static volatile sig_atomic_t stop;

struct mon_ctx {
	struct fabric *fb;
	__u32 ifindex;		/* 0: every port */
	long left;		/* events still to print, -1: forever */
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}


static void set_lease(struct fabric *fb, __u64 until)
{
	struct kvb_mon m = { .until_ns = until };
	__u32 zero = 0;

	bpf_map_update_elem(fb->mon_fd, &zero, &m, BPF_ANY);
}

/* Headers of the captured bytes, as far as they go. */
struct hdrs {
	char src[18], dst[18], ip_src[64], ip_dst[64];
	unsigned int ethertype, proto, sport, dport;
	bool ip, l4;
};

static void decode(const struct kvb_event *e, struct hdrs *h)
{
	const __u8 *d = e->data, *l3 = d + 14;
	unsigned int cap = e->caplen, off;

	memset(h, 0, sizeof(*h));
	if (cap < 14)
		return;
	fmt_mac(d + 6, h->src);
	fmt_mac(d, h->dst);
	h->ethertype = (unsigned int)(d[12] << 8 | d[13]);
	if (h->ethertype == ETH_P_IP && cap >= 34) {
		inet_ntop(AF_INET, l3 + 12, h->ip_src, sizeof(h->ip_src));
		inet_ntop(AF_INET, l3 + 16, h->ip_dst, sizeof(h->ip_dst));
		h->proto = l3[9];
		h->ip = true;
		off = 14 + (l3[0] & 0xf) * 4u;
	} else if (h->ethertype == ETH_P_IPV6 && cap >= 54) {
		inet_ntop(AF_INET6, l3 + 8, h->ip_src, sizeof(h->ip_src));
		inet_ntop(AF_INET6, l3 + 24, h->ip_dst, sizeof(h->ip_dst));
		h->proto = l3[6];
		h->ip = true;
		off = 54;
	} else {
		return;
	}
	if ((h->proto == 6 || h->proto == 17) && off + 4 <= cap) {
		h->sport = (unsigned int)(d[off] << 8 | d[off + 1]);
		h->dport = (unsigned int)(d[off + 2] << 8 | d[off + 3]);
		h->l4 = true;
	}
}

static int on_event(void *arg, void *data, size_t size)
{
	struct mon_ctx *mc = arg;
	const struct kvb_event *e = data;
	struct kvb_port p;
	char ifn[16], hex[2 * KVB_EVENT_BYTES + 1];
	struct hdrs h;

	if (size < sizeof(*e) || (mc->ifindex && e->ifindex != mc->ifindex) ||
	    !mc->left)
		return 0;
	ifname_of(e->ifindex, port_get(mc->fb, e->ifindex, &p) ? NULL : &p,
		  ifn);
	decode(e, &h);
	for (unsigned int i = 0; i < e->caplen && i < KVB_EVENT_BYTES; i++)
		snprintf(hex + 2 * i, 3, "%02x", e->data[i]);
	hex[2 * (e->caplen < KVB_EVENT_BYTES ? e->caplen : KVB_EVENT_BYTES)] = 0;
	open_json_object(NULL);
	print_string(PRINT_ANY, "dev", "%-15s", ifn);
	print_string(PRINT_ANY, "reason", " %-18s", drop_name(e->reason));
	print_string(PRINT_ANY, "hook", " %-3s", e->hook ? "xdp" : "tc");
	print_uint(PRINT_ANY, "len", " len %-5llu", e->len);
	if (e->caplen >= 14) {
		print_string(PRINT_ANY, "src_mac", " %s", h.src);
		print_string(PRINT_ANY, "dst_mac", " > %s", h.dst);
		print_uint(PRINT_JSON, "ethertype", NULL, h.ethertype);
		print_text(" type 0x%04x", h.ethertype);
	}
	if (h.ip) {
		print_string(PRINT_ANY, "src", " %s", h.ip_src);
		print_string(PRINT_ANY, "dst", " > %s", h.ip_dst);
		print_uint(PRINT_ANY, "proto", " proto %llu", h.proto);
	}
	if (h.l4) {
		print_uint(PRINT_ANY, "sport", " ports %llu", h.sport);
		print_uint(PRINT_ANY, "dport", " > %llu", h.dport);
	}
	print_string(PRINT_JSON, "head", NULL, hex);
	print_nl();
	close_json_object();
	/* one line a frame; one JSON object a line */
	out_line();
	if (mc->left > 0)
		mc->left--;
	return 0;
}

enum { MK_DROPS, MK_COUNT };
static const struct keyword monitor_kws[] = {
	[MK_DROPS] = { "drops", NULL, "dropped frames (the default, and the\n"
		       "only kind so far)", 0, 0 },
	[MK_COUNT] = { "count", "N", "stop after N frames", 0, 0 },
};

static void monitor_details(void)
{
	printf("  DEV                      one port's frames (default: every port)\n");
	keyword_help(monitor_kws, ARRAY_SIZE(monitor_kws));
	printf("\n"
	       "  Stream dropped frames with reason and headers until\n"
	       "  interrupted, or until N have been shown. With -j, one JSON\n"
	       "  object per line. Costs nothing when no monitor runs.\n");
}

static int monitor_run(int argc, char **argv)
{
	struct mon_ctx mc = { .left = -1 };
	struct ring_buffer *rb;
	struct sigaction sa = { .sa_handler = on_signal };
	__u64 next = 0, mine = 0;
	struct kw_seen seen = { 0 };
	struct kvb_mon cur;
	__u32 zero = 0;

	mc.fb = fab_ro();
	if (!mc.fb)
		return 1;
	for (int i = 0; i < argc; i++) {
		const struct keyword *kw = keyword_find(monitor_kws,
							ARRAY_SIZE(monitor_kws),
							argv[i]);
		struct kvb_port p;
		__u32 n;

		if (!kw && !i) {
			if (port_resolve(mc.fb, argv[i], &p))
				return err("monitor: device %s is not attached",
					   argv[i]);
			mc.ifindex = p.ifindex;
		} else if (!kw) {
			return err("monitor: unexpected argument '%s'", argv[i]);
		} else if (keyword_take("monitor", kw,
					(unsigned int)(kw - monitor_kws), argc,
					argv, i, &seen)) {
			return 1;
		} else if (kw - monitor_kws == MK_COUNT) {
			if (i + 1 >= argc ||
			    parse_u32(argv[i + 1], 1, 1000000000, &n))
				return err("monitor: count %s: expected a positive "
					   "number", i + 1 < argc ? argv[i + 1] : "");
			mc.left = n;
			i++;
		}
	}

	rb = ring_buffer__new(mc.fb->events_fd, on_event, &mc, NULL);
	if (!rb)
		return err("monitor: cannot open the event ring: %s",
			   strerror(errno));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	/* the other commands must not wait for us: the lock is not ours now */
	if (mc.fb->lock_fd >= 0) {
		close(mc.fb->lock_fd);
		mc.fb->lock_fd = -1;
	}
	if (!is_json())
		fprintf(stderr, "kvmbpf: monitoring drops, ^C to stop\n");
	while (!stop && mc.left) {
		__u64 now = clock_mono_exact_ns();

		if (now >= next) {
			mine = now + KVB_MON_LEASE_NS;
			set_lease(mc.fb, mine);
			next = now + KVB_MON_LEASE_NS / 4;
		}
		if (ring_buffer__poll(rb, 100) < 0 && errno != EINTR)
			break;
	}
	/* events stop now, unless another monitor holds the lease (its
	 * renewal wrote another time over ours) */
	if (!bpf_map_lookup_elem(mc.fb->mon_fd, &zero, &cur) &&
	    cur.until_ns == mine)
		set_lease(mc.fb, 0);
	ring_buffer__free(rb);
	return 0;
}

const struct object obj_monitor = {
	.name = "monitor",
	.cmds = (const struct cmd[]){
		{ NULL, monitor_run, "[DEV] [drops] [count N]", 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = monitor_details,
	.summary = "a live stream of dropped frames",
};
