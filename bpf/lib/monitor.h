/* SPDX-License-Identifier: GPL-2.0 */
/* Drop events for `kvmbpf monitor`, only while a monitor is listening. */
#ifndef KVB_MONITOR_H
#define KVB_MONITOR_H

#include <linux/bpf.h>

#include "ctx.h"
#include "maps.h"
#include "drop.h"
#include "stats.h"

static __always_inline int monitor_on(void)
{
	__u32 zero = 0;
	struct kvb_mon *m = bpf_map_lookup_elem(&kvb_mon, &zero);

	return m && m->until_ns && kvb_now() < m->until_ns;
}

#define LOAD_HEAD(name, helper)						\
	static __always_inline long name(void *ctx, void *to, __u32 cap)	\
	{								\
		switch (cap) {						\
		case 96: return helper(ctx, 0, to, 96);			\
		case 74: return helper(ctx, 0, to, 74);			\
		case 54: return helper(ctx, 0, to, 54);			\
		case 42: return helper(ctx, 0, to, 42);			\
		case 34: return helper(ctx, 0, to, 34);			\
		default: return helper(ctx, 0, to, 14);			\
		}							\
	}
LOAD_HEAD(load_head_xdp, bpf_xdp_load_bytes)
LOAD_HEAD(load_head_skb, bpf_skb_load_bytes)

/* Count the drop; if a monitor listens, report it with the frame's head. */
static __always_inline void report_drop(void *ctx, int is_xdp, __u32 ifindex,
					__u32 len, struct kvb_stats *st,
					int ret)
{
	struct kvb_event *ev;
	__u32 cap;

	count_drop(st, ret);
	if (!monitor_on())
		return;
	ev = bpf_ringbuf_reserve(&kvb_events, sizeof(*ev), 0);
	if (!ev)
		return;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ifindex = ifindex;
	ev->reason = DROP_REASON(ret);
	ev->len = len;
	ev->hook = is_xdp ? 1 : 0;
	ev->pad = 0;
	/*
	 * Copy the frame's head in one of a few fixed sizes: a constant length
	 * is what the verifier accepts without a fight, and the headers that
	 * matter fit in the first 34-74 bytes anyway.
	 */
	if (len >= 96)
		cap = 96;
	else if (len >= 74)
		cap = 74;	/* Ethernet + IPv6 + TCP */
	else if (len >= 54)
		cap = 54;	/* Ethernet + IPv6, or IPv4 + TCP */
	else if (len >= 42)
		cap = 42;	/* Ethernet + IPv4 + UDP, or ARP */
	else if (len >= 34)
		cap = 34;	/* Ethernet + IPv4 */
	else if (len >= 14)
		cap = 14;
	else
		cap = 0;
	ev->caplen = 0;
	if (cap && !(is_xdp ? load_head_xdp(ctx, ev->data, cap) :
			      load_head_skb(ctx, ev->data, cap)))
		ev->caplen = (__u16)cap;
	bpf_ringbuf_submit(ev, 0);
}

#endif /* KVB_MONITOR_H */
