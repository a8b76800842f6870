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
 * Not inlined: two callers, and the tc program is large enough. Returns
 * a drop code, or the frame's L3 and L4 header bytes (a GSO frame's
 * segments are these plus gso_size: routing holds them to the MTU).
 */
static __noinline int kvb_admit_wan(struct __sk_buff *skb)
{
	struct kvb_frame f;
	struct kvb_pkt p;
	int ret;

	kvb_pkt_from_skb(&p, skb);
	ret = kvb_admit(&p, 0, &f);
	return IS_DROP(ret) ? ret : (int)(f.hdr_len & 0xffff);
}

#endif /* KVB_WAN_H */
