/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Forced (clang -include) into the fuzzer's build of bpf/tap.bpf.c and
 * bpf/tap_xdp.bpf.c, never into the shipped objects. Each redirect helper
 * the datapath calls is wrapped: the call itself is unchanged, and its
 * target, flags and result are appended to the kvb_obs map, so that the
 * fuzzer learns where a frame would go (BPF_PROG_RUN returns
 * TC_ACT_REDIRECT but does not perform the redirect, and this kernel offers
 * no fentry/kprobe to watch the helpers from outside). So is each tail
 * call into a stage of tc ingress: a stage that fails to run is a failure
 * of the fuzz run, not a drop that passes for a verdict.
 *
 * Only runs whose skb->priority is KVB_OBS_TOKEN are recorded: the
 * fuzzer's own, not programs run meanwhile by the host's replies to
 * flooded copies.
 */
#ifndef KVB_OBSERVE_H
#define KVB_OBSERVE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "obs.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvb_obs);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_obs SEC(".maps");

static __always_inline void obs_note(struct __sk_buff *skb, __u32 kind,
				     __u32 ifindex, __u64 flags, long ret)
{
	__u32 zero = 0, n;
	struct kvb_obs *o;

	if (skb->priority != KVB_OBS_TOKEN)
		return;
	o = bpf_map_lookup_elem(&kvb_obs, &zero);
	if (!o)
		return;
	n = o->n;
	if (n < KVB_OBS_MAX) {
		struct kvb_obs_ev *e = &o->ev[n & (KVB_OBS_MAX - 1)];

		e->kind = kind;
		e->ifindex = ifindex;
		e->flags = flags;
		e->ret = ret;
	}
	o->n = n + 1;
}

static __always_inline long obs_redirect(struct __sk_buff *skb, __u32 ifindex,
					 __u64 flags)
{
	long ret = bpf_redirect(ifindex, flags);

	obs_note(skb, KVB_OBS_REDIRECT, ifindex, flags, ret);
	return ret;
}

static __always_inline long obs_redirect_neigh(struct __sk_buff *skb,
					       __u32 ifindex,
					       struct bpf_redir_neigh *params,
					       int plen, __u64 flags)
{
	long ret = bpf_redirect_neigh(ifindex, params, plen, flags);

	obs_note(skb, KVB_OBS_NEIGH, ifindex, flags, ret);
	return ret;
}

static __always_inline long obs_clone(struct __sk_buff *skb, __u32 ifindex,
				      __u64 flags)
{
	long ret = bpf_clone_redirect(skb, ifindex, flags);

	obs_note(skb, KVB_OBS_CLONE, ifindex, flags, ret);
	return ret;
}

/*
 * A tail call that works never returns: the attempt is noted first, and a
 * failure (an empty slot, a program of another type) when it comes back.
 * The verifier lets no one read what the helper returned.
 */
static __always_inline void obs_tail_call(struct __sk_buff *skb, void *map,
					  __u32 slot)
{
	obs_note(skb, KVB_OBS_TAIL, slot, 0, 0);
	bpf_tail_call(skb, map, slot);
	obs_note(skb, KVB_OBS_TAIL_FAILED, slot, 0, -1);
}

/* every tc caller has its context in scope as skb */
#define bpf_redirect(ifindex, flags) obs_redirect(skb, ifindex, flags)
#define bpf_redirect_neigh(ifindex, params, plen, flags)		\
	obs_redirect_neigh(skb, ifindex, params, plen, flags)
#define bpf_clone_redirect(s, ifindex, flags) obs_clone(s, ifindex, flags)
#define bpf_tail_call(s, map, slot) obs_tail_call(s, map, slot)

#endif
