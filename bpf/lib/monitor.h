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
		case 62: return helper(ctx, 0, to, 62);			\
		case 54: return helper(ctx, 0, to, 54);			\
		case 42: return helper(ctx, 0, to, 42);			\
		case 34: return helper(ctx, 0, to, 34);			\
		default: return helper(ctx, 0, to, 14);			\
		}							\
	}
LOAD_HEAD(load_head_xdp, bpf_xdp_load_bytes)
LOAD_HEAD(load_head_skb, bpf_skb_load_bytes)

/*
 * The frame's head, copied in one of a few fixed sizes: a constant length
 * is what the verifier accepts without a fight, and the headers that
 * matter fit in the first 34-74 bytes anyway. The bytes copied into to
 * (KVB_EVENT_BYTES), 0 when none could be.
 */
static __always_inline __u16 drop_head(void *ctx, int is_xdp, __u32 len,
				       void *to)
{
	__u32 cap;

	if (len >= 96)
		cap = 96;
	else if (len >= 74)
		cap = 74;	/* Ethernet + IPv6 + TCP */
	else if (len >= 62)
		cap = 62;	/* Ethernet + IPv6 + UDP or ICMPv6's head */
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
	if (cap && !(is_xdp ? load_head_xdp(ctx, to, cap) :
			      load_head_skb(ctx, to, cap)))
		return (__u16)cap;
	return 0;
}

/* A drop event's fields but its head (the caller's), or NULL. */
static __always_inline struct kvb_event *drop_event(__u32 ifindex, __u32 len,
						   int is_xdp, int ret)
{
	struct kvb_event *ev = bpf_ringbuf_reserve(&kvb_events, sizeof(*ev), 0);

	if (!ev)
		return NULL;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ifindex = ifindex;
	ev->reason = DROP_REASON(ret);
	ev->len = len;
	ev->hook = is_xdp ? 1 : 0;
	ev->pad = 0;
	return ev;
}

/* Count the drop; if a monitor listens, report it with the frame's head. */
static __always_inline void report_drop(void *ctx, int is_xdp, __u32 ifindex,
					__u32 len, struct kvb_stats *st,
					int ret)
{
	struct kvb_event *ev;

	count_drop(st, ret);
	if (!monitor_on())
		return;
	ev = drop_event(ifindex, len, is_xdp, ret);
	if (!ev)
		return;
	ev->caplen = drop_head(ctx, is_xdp, len, ev->data);
	bpf_ringbuf_submit(ev, 0);
}

#endif /* KVB_MONITOR_H */
