/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Datapath functions return either a hook verdict (>= 0) or a negative drop
 * code made by DROP(reason). Only the entry programs turn a drop code into a
 * counted XDP_DROP / TC_ACT_SHOT, so a reason is never lost on the way up.
 */
#ifndef KVB_DROP_H
#define KVB_DROP_H

#include "kvb_maps.h"

/* Not a verdict: "not this layer's business", the caller goes on. */
#define KVB_CONTINUE 0x7fff

#define DROP(reason) (-(int)(reason) - 1)
#define IS_DROP(ret) ((ret) < 0)
#define DROP_REASON(ret) ((__u32)(-(ret) - 1))

#endif /* KVB_DROP_H */
