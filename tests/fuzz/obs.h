/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * What the fuzzer's build of the datapath records about each redirect it
 * asks for (observe.h), shared by that build and the fuzzer.
 */
#ifndef KVB_OBS_H
#define KVB_OBS_H

#include <linux/types.h>

#define KVB_MAP_OBS "kvb_obs"
/* skb->priority of the fuzzer's runs: only those are recorded */
#define KVB_OBS_TOKEN 0x6b76667aU
#define KVB_OBS_MAX 128		/* events kept per run (a flood: 64) */

enum kvb_obs_kind {
	KVB_OBS_REDIRECT = 1,	/* bpf_redirect */
	KVB_OBS_NEIGH = 2,	/* bpf_redirect_neigh */
	KVB_OBS_CLONE = 3,	/* bpf_clone_redirect */
	KVB_OBS_TAIL = 4,	/* bpf_tail_call: ifindex is the slot */
	KVB_OBS_TAIL_FAILED = 5,	/* ... and it came back: it failed */
};

struct kvb_obs_ev {
	__u32 kind;		/* enum kvb_obs_kind */
	__u32 ifindex;
	__u64 flags;
	__s64 ret;		/* the helper's return value */
};

struct kvb_obs {
	__u32 n;		/* calls made (may exceed KVB_OBS_MAX) */
	__u32 pad;
	struct kvb_obs_ev ev[KVB_OBS_MAX];
};

#endif
