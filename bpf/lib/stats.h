/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-CPU, per-port counters, at the port's slot (kvb_port.slot). A port
 * without a slot, or a device that is no port, counts nothing.
 */
#ifndef KVB_STATS_H
#define KVB_STATS_H

#include "maps.h"
#include "drop.h"

/* The counters of port (its entry, or NULL). */
static __always_inline struct kvb_stats *stats_of_port(const struct kvb_port *port)
{
	__u32 slot;

	if (!port || !port->slot)
		return NULL;
	slot = port->slot;
	return bpf_map_lookup_elem(&kvb_stats, &slot);
}

/* The counters of the port on ifindex: for a caller without its entry. */
static __always_inline struct kvb_stats *stats_of(__u32 ifindex)
{
	return stats_of_port(bpf_map_lookup_elem(&kvb_port, &ifindex));
}

static __always_inline void count_rx(struct kvb_stats *st, __u32 len)
{
	if (st) {
		st->rx_packets++;
		st->rx_bytes += len;
	}
}

static __always_inline void count_tx_st(struct kvb_stats *st, __u32 len)
{
	if (st) {
		st->tx_packets++;
		st->tx_bytes += len;
	}
}

static __always_inline void count_tx(__u32 ifindex, __u32 len)
{
	count_tx_st(stats_of(ifindex), len);
}

static __always_inline void count_drop(struct kvb_stats *st, int ret)
{
	__u32 reason = DROP_REASON(ret);

	if (!st || reason >= KVB_DROP_MAX)
		return;
	/* the mask is what the verifier can see; the check above is ours */
	st->drop[reason & (KVB_DROP_SLOTS - 1)]++;
}

#endif /* KVB_STATS_H */
