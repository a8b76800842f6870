/* SPDX-License-Identifier: GPL-2.0 */
/* Per-CPU, per-port counters. A port without a stats entry counts nothing. */
#ifndef KVB_STATS_H
#define KVB_STATS_H

#include "maps.h"
#include "drop.h"

static __always_inline struct kvb_stats *stats_of(__u32 ifindex)
{
	return bpf_map_lookup_elem(&kvb_stats, &ifindex);
}

static __always_inline void count_rx(struct kvb_stats *st, __u32 len)
{
	if (st) {
		st->rx_packets++;
		st->rx_bytes += len;
	}
}

static __always_inline void count_tx(__u32 ifindex, __u32 len)
{
	struct kvb_stats *st = stats_of(ifindex);

	if (st) {
		st->tx_packets++;
		st->tx_bytes += len;
	}
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
