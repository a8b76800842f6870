/* SPDX-License-Identifier: GPL-2.0 */
/* Frames from a WAN device (tc only): what routing and NAT share. */
#ifndef KVB_WAN_H
#define KVB_WAN_H

#include <linux/bpf.h>
#include "ctx.h"
#include "admit.h"

/*
 * Admission of a frame from a WAN device (the host's NIC) that routing or
 * NAT found to be theirs: the same checks as on every port, without the
 * MTU (routing holds packets to the destination network's). Only frames
 * the fabric would act on get here: the host's own traffic is not judged.
 * Not inlined: two callers, and the tc program is large enough.
 */
static __noinline int kvb_admit_wan(struct __sk_buff *skb)
{
	struct kvb_frame f;
	struct kvb_pkt p;

	kvb_pkt_from_skb(&p, skb);
	return kvb_admit(&p, 0, &f);
}

#endif /* KVB_WAN_H */
