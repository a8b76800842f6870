/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connection tracking (tc only): a flow's timeouts and expiry, the per
 * network flow count, and TCP state with its sequence windows (RFC 5961
 * for RSTs). The flows themselves are kvb_ct's entries: made here, by
 * ct_create alone, translated by NAT (nat.h), which also sweeps the
 * expired ones.
 */
#ifndef KVB_CONNTRACK_H
#define KVB_CONNTRACK_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ctx.h"
#include "drop.h"
#include "evict.h"
#include "maps.h"

/* A TCP header as ct_tcp_track judges it, host order. */
struct tcp_view {
	__u32 seq, ack, win, end, doff, l4off, scale, from_wan;
	__u32 ws_i, ws_len;	/* the walk of a SYN's options */
	int ws;			/* the scale found, -1: none */
	__u16 tot;		/* the IP header's, network order */
	__u8 flags;
	__u8 pad;
};

/* Per-CPU scratch of ct_tcp_track: a global function with little stack. */
struct ct_scratch {
	struct kvb_ct_key key;	/* ct_tcp_track's key */
	struct kvb_ct_key tk;	/* ... the other direction's */
	__u8 th[20];		/* ... the TCP header */
	struct tcp_view tv;	/* ... and what it says */
	__u8 opt[64];		/* ... and a SYN's options */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ct_scratch);
} kvb_ct_tmp SEC(".maps");

static __always_inline __u64 ct_timeout_ns(const struct kvb_net *net,
					   __u8 proto, __u8 state)
{
	return (__u64)kvb_ct_timeout_s(net ? net->ct_timeout : NULL, proto,
				       state) * 1000000000ULL;
}

static __always_inline __u64 *ct_counter(__u32 net_id)
{
	return bpf_map_lookup_elem(&kvb_ctcnt, &net_id);
}

/*
 * A guest port's share of its network's flows (kvb_ctpn by its slot): a
 * new flow of a port that holds ct-port-max (KVB_CT_PORT_FLOWS unless
 * set) is refused, nat-port-full, so that one guest's flood of new flows
 * (a scan, SYNs to addresses that never answer) cannot take the flows of
 * the other guests of its network and of every other nat network (the
 * table is shared), unless one of its flows that is not established
 * makes room (nat.h: ct_room, early eviction); an established flow is
 * never evicted. A flow is counted on
 * the slot in its original entry (kvb_ct.slot): the guest that opened
 * it, a forward's guest for a flow the WAN opened. The loader zeroes a
 * slot when it gives it to a port, and recounts after a flush.
 */
static __always_inline int ct_port_full(__u16 slot, const struct kvb_net *net)
{
	__u32 k = slot, max = net->ct_port_max ? net->ct_port_max :
						KVB_CT_PORT_FLOWS;
	__u64 *n = bpf_map_lookup_elem(&kvb_ctpn, &k);

	return slot && n && *n >= max;
}

/*
 * The flows the port at slot of net may hold before its new ones are
 * refused: its share, or the network's ct-max when that is smaller.
 * Early eviction's regions and candidates go by it (ct_note, ct_evict).
 */
static __always_inline __u32 ct_port_cap(const struct kvb_net *net)
{
	__u32 cap = net->ct_port_max ? net->ct_port_max : KVB_CT_PORT_FLOWS;

	return net->ct_max && net->ct_max < cap ? net->ct_max : cap;
}

/*
 * A flow just made (original key ok) on the port at slot of network
 * net_id, which holds n flows now: beyond half of what it may hold
 * (ct_port_cap), or in a network beyond half its ct-max (total), the
 * flow is a candidate for early eviction, at a random place of the
 * port's region of kvb_ctev (kvb_maps.h: KVB_EVICT_POOL); in a network
 * beyond half its ct-max, of the network's region too, where another
 * port's new flow finds it when the network is full (ct_evict from the
 * network's region). A global function whose frame holds nothing: its
 * callers' are full.
 */
__noinline int ct_note(const struct kvb_ct_key *ok, __u32 slot, __u32 net_id,
		       __u64 n, __u64 total)
{
	struct evict_scratch *v = evict_scratch();
	struct kvb_ct_key *k;
	struct kvb_net *net;
	__u32 cap;

	if (!v || !ok || !slot)
		return 0;
	v->place = net_id;
	net = bpf_map_lookup_elem(&kvb_net, &v->place);
	if (!net || !net->id)
		return 0;
	cap = ct_port_cap(net);
	v->net_m = net->ct_max && total > net->ct_max / 2 ?
			   evict_region(net->ct_max) : 0;
	v->net_who = EVICT_NET(net_id);
	if (v->reuse_slot == slot) {
		/* made by evicting a flow: its place */
		v->place = v->reuse;
		v->reuse_slot = 0;
	} else if (n <= cap / 2 && !v->net_m) {
		return 0;
	} else {
		v->place = evict_place(slot, evict_region(cap));
	}
	k = bpf_map_lookup_elem(&kvb_ctev, &v->place);
	barrier_var(v);
	if (k)
		*k = *ok;
	if (!v->net_m)
		return 0;
	v->place = evict_place(v->net_who, v->net_m);
	k = bpf_map_lookup_elem(&kvb_ctev, &v->place);
	if (k)
		*k = *ok;
	return 0;
}

/* A flow counted on slot goes (a zero count stays zero). */
static __always_inline void ct_port_give(__u16 slot)
{
	__u32 k = slot;
	__u64 *n = slot ? bpf_map_lookup_elem(&kvb_ctpn, &k) : NULL;

	if (n && *n)
		__sync_fetch_and_add(n, -1);
}

/* The slot of guest port ifindex, 0: none. */
static __always_inline __u16 ct_port_slot(__u32 ifindex)
{
	struct kvb_port *p = bpf_map_lookup_elem(&kvb_port, &ifindex);

	return p ? p->slot : 0;
}

/*
 * Another CPU may have refreshed last_ns after this one read the clock:
 * then now < last_ns, and an unsigned difference would call a live flow
 * expired (and the host would reset it). Only a flow idle for longer than
 * its timeout is expired.
 */
static __always_inline int ct_expired(const struct kvb_net *net,
				      const struct kvb_ct *ct, __u8 proto,
				      __u64 now)
{
	__u64 last = ct->last_ns;

	return kvb_after(now, last) &&
	       now - last > ct_timeout_ns(net, proto, ct->state);
}

/*
 * The entries of the flow of key k: its own into *e (NULL when there is
 * none), and the other way's, returned (NULL when there is none).
 */
static __always_inline struct kvb_ct *ct_other_entry(const struct kvb_ct_key *k,
						     struct kvb_ct **e)
{
	struct kvb_ct_key other;

	*e = k ? bpf_map_lookup_elem(&kvb_ct, k) : NULL;
	if (!*e)
		return NULL;
	if (k->dir)
		kvb_ct_orig_key(k, *e, &other);
	else
		kvb_ct_reply_key(k, *e, &other);
	return bpf_map_lookup_elem(&kvb_ct, &other);
}

/*
 * The other entry of the flow of key k (its entry idle past its timeout)
 * is live: the flow is. A global function, called only for an entry that
 * looks expired: it looks the entry up again.
 */
__noinline int ct_other_live(const struct kvb_ct_key *k)
{
	struct kvb_ct *e, *o = ct_other_entry(k, &e);
	struct kvb_net *net = e ? net_lookup(e->net_id) : NULL;

	return k && net && o && !ct_expired(net, o, k->proto, kvb_now());
}

/*
 * Is the flow of entry ct (key k) live at now? A flow has one clock, as
 * conntrack's: a packet either way within its timeout keeps both ways
 * open (the expiry sweep frees it once neither entry saw one). A guest
 * that only sends (a WireGuard client's keepalives, a one-way stream)
 * keeps the remote's way back, a remote that only sends keeps the
 * guest's way out and its port. The other entry is looked up only when
 * this one looks idle.
 */
static __always_inline int ct_live(const struct kvb_net *net,
				   const struct kvb_ct_key *k,
				   const struct kvb_ct *ct, __u64 now)
{
	return !ct_expired(net, ct, k->proto, now) || ct_other_live(k);
}

/*
 * kvb_ct_clock made the entry of key k a stream: so is its flow's other
 * entry, whose own packets may never come (a remote that streams after
 * one request), and which early eviction and `ct show` read (the
 * original's). A global function: called once a flow.
 */
__noinline int ct_stream_other(const struct kvb_ct_key *k)
{
	struct kvb_ct *e, *o = ct_other_entry(k, &e);

	if (e && o && o->state == KVB_CT_ANSWERED) {
		o->state = KVB_CT_ESTABLISHED;
		o->last_ns = e->last_ns;
	}
	return 0;
}

/*
 * A packet of the flow of key k, whose entry is ct, at now. The entry is
 * read by every CPU that handles the flow's packets: its clock is
 * rewritten at most once in KVB_CT_REFRESH_NS (kvb_ct_clock; ct_expired
 * tolerates a clock ahead, and a next hop cached by nat_snat counts as
 * revalidated from the last rewrite, so never for longer than it
 * should), and nothing else of it is written per packet (no packet
 * count: a shared line written by every packet). A UDP flow that becomes
 * a stream does so both ways (ct_stream_other).
 */
static __always_inline void ct_touch_flow(const struct kvb_ct_key *k,
					  struct kvb_ct *ct, __u64 now)
{
	if (kvb_ct_clock(&ct->state, &ct->last_ns, now))
		ct_stream_other(k);
}

/* What ct_create made of a flow. */
enum ct_made {
	CT_MADE = 0,	/* both entries are in, the flow is counted */
	CT_TAKEN,	/* its reply key is another flow's: try another port */
	CT_RACE,	/* its original key exists: another CPU made it first */
	CT_FULL,	/* the table is full */
};

/*
 * Make a flow: the reply entry at rk, then the original at ok, each only
 * where there is none (BPF_NOEXIST), and count it in its network. The
 * reply key goes first because it is what two flows can contend for (the
 * translated port); a flow whose original key exists already (another
 * CPU made the same flow meanwhile) gives its reply key back, so that two
 * CPUs making one flow end with one.
 */
static __always_inline enum ct_made ct_create(const struct kvb_ct_key *rk,
					      const struct kvb_ct *reply,
					      const struct kvb_ct_key *ok,
					      const struct kvb_ct *orig)
{
	__u64 *cnt, total = 0;
	long err;

	err = bpf_map_update_elem(&kvb_ct, rk, reply, BPF_NOEXIST);
	if (err == -E2BIG_ || err == -ENOMEM_)
		return CT_FULL;
	if (err)
		return CT_TAKEN;
	err = bpf_map_update_elem(&kvb_ct, ok, orig, BPF_NOEXIST);
	if (err) {
		bpf_map_delete_elem(&kvb_ct, rk);
		return err == -EEXIST_ ? CT_RACE : CT_FULL;
	}
	cnt = ct_counter(orig->net_id);
	if (cnt) {
		__sync_fetch_and_add(cnt, 1);
		total = *cnt;
	}
	if (orig->slot) {
		__u32 k = orig->slot;

		cnt = bpf_map_lookup_elem(&kvb_ctpn, &k);
		if (cnt) {
			__sync_fetch_and_add(cnt, 1);
			ct_note(ok, orig->slot, orig->net_id, *cnt, total);
		}
	}
	return CT_MADE;
}

#define TCP_FIN_ 0x01
#define TCP_SYN_ 0x02
#define TCP_RST_ 0x04
#define TCP_ACK_ 0x10

/* Sequence-space order, as the kernel's before()/after(). */
static __always_inline int seq_before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

/*
 * The window scale a SYN offers (option 3), or -1 without one. The
 * options (at most 40 bytes) are copied once and walked with a bound.
 */
/*
 * One option of a SYN's walk (bpf_loop: verified once, not 40 times);
 * the walk's state is the scratch's tcp_view (ws_i, ws). zero is the
 * caller's key of the scratch: this frame has no stack to spare.
 */
static long wscale_step(__u32 n, __u32 *zero)
{
	struct ct_scratch *t = bpf_map_lookup_elem(&kvb_ct_tmp, zero);
	__u32 i, len;
	__u8 kind, olen;

	if (!t)
		return 1;
	i = t->tv.ws_i;
	len = t->tv.ws_len;
	if (i >= len)
		return 1;
	kind = t->opt[i & 63];
	if (kind == 0)	/* end of options */
		return 1;
	if (kind == 1) {	/* NOP */
		t->tv.ws_i = i + 1;
		return 0;
	}
	if (i + 2 >= len)
		return 1;
	olen = t->opt[(i + 1) & 63];
	if (kind == 3 && olen == 3) {
		kind = t->opt[(i + 2) & 63];
		t->tv.ws = kind > 14 ? 14 : kind;
		return 1;
	}
	if (olen < 2)
		return 1;	/* malformed: no scale to trust */
	t->tv.ws_i = i + olen;
	return 0;
}

/* The window scale a SYN offers (option 3), or -1 without one. */
static __always_inline int tcp_syn_wscale(struct __sk_buff *skb,
					  struct ct_scratch *t, __u32 *zero)
{
	__u32 doff = t->tv.doff;

	t->tv.ws = -1;
	t->tv.ws_i = 0;
	if (doff <= 20 || doff > 60)
		return -1;
	t->tv.ws_len = (doff - 20) & 63;
	if (t->tv.ws_len > 40 || t->tv.ws_len < 1 ||
	    bpf_skb_load_bytes(skb, t->tv.l4off + 20, t->opt, t->tv.ws_len))
		return -1;
	bpf_loop(40, wscale_step, zero, 0);
	return 0;	/* the scale is in t->tv.ws */
}

/*
 * Does packet v complete the handshake of a flow whose other side is r?
 * A TCP flow is established as conntrack makes it (its ASSURED): by its
 * opener's ACK of the answer, not by the answer. v is an ACK without SYN
 * from a side whose peer r has acknowledged something too (the SYN-ACK);
 * when r's SYN was seen, v must acknowledge exactly all that r sent
 * (its ISN + 1 after a SYN-ACK), which a blind sender cannot guess. A
 * flow picked up mid-stream (r's SYN not seen) is established by both
 * sides' ACKs. Until then the flow keeps the opening timeout (120 s
 * unless set): a flood of SYNs from forged sources at a forwarded port,
 * each answered by the guest's SYN-ACK, no longer holds the network's
 * flows for the 7440 s of an established one.
 */
static __always_inline int ct_tcp_completes(const struct tcp_view *v,
					    const struct kvb_ct *r)
{
	if ((v->flags & (TCP_ACK_ | TCP_SYN_ | TCP_RST_)) != TCP_ACK_ ||
	    !(r->td.flags & KVB_TD_ACK))
		return 0;
	return !(r->td.flags & KVB_TD_SYN) || v->ack == r->td.end;
}

/* td_judge_end's verdicts on a RST or FIN */
#define TD_CLOSE 0	/* it closes the connection */
#define TD_KEEP 1	/* in the window but not exact: the receiver judges */
#define TD_OUT 2	/* outside the receiver's window: refused */

/*
 * A RST or FIN v from the end whose record is s, judged against what the
 * receiving end r acknowledged and advertised, as conntrack's
 * tcp_in_window does (and RFC 5961 for a RST):
 *   - r's SYN not yet acknowledged: only a RST acknowledging exactly that
 *     SYN closes;
 *   - outside r's receive window (its highest ack plus window, back to
 *     the ack less its largest window): TD_OUT;
 *   - a RST closes only when exact: at r's highest ack (its rcv_nxt), or
 *     at the end of what s sent; another in-window RST goes to r, whose
 *     stack answers it with a challenge ACK (the real peer's reply to
 *     that is exact): TD_KEEP;
 *   - an in-window FIN closes.
 * r never seen (a connection picked up from this end): TD_CLOSE.
 */
static __always_inline int td_judge_end(const struct tcp_view *v,
					const struct kvb_td *s,
					const struct kvb_td *r)
{
	if (!(r->flags & KVB_TD_SEEN))
		return TD_CLOSE;
	if (!(r->flags & KVB_TD_ACK))
		return (v->flags & TCP_RST_) && (v->flags & TCP_ACK_) &&
		       v->ack == r->end ? TD_CLOSE : TD_OUT;
	if (seq_before(r->maxend, v->seq) ||
	    seq_before(v->end, r->maxack - r->maxwin))
		return TD_OUT;
	if ((v->flags & TCP_RST_) && v->seq != r->maxack &&
	    !((s->flags & KVB_TD_SEEN) && v->seq == s->end))
		return TD_KEEP;
	return TD_CLOSE;
}

/*
 * Packet v into the record s of the end that sent it (r: the other end's,
 * or NULL): its highest sequence, ack and window, its SYN's scale.
 */
static __always_inline void td_track(struct tcp_view *v, struct kvb_td *s,
				     const struct kvb_td *r)
{
	if (!(s->flags & KVB_TD_SEEN) || seq_before(s->end, v->end)) {
		s->end = v->end;
		s->flags |= KVB_TD_SEEN;
	}
	if (v->flags & TCP_ACK_) {
		/* a SYN's window is never scaled; after both SYNs, the scale
		 * both offered (or none); picked up mid-stream: the largest */
		if (v->flags & TCP_SYN_)
			v->scale = 0;
		else if (r && (s->flags & KVB_TD_SYN) &&
			 (r->flags & KVB_TD_SYN))
			v->scale = (s->flags & KVB_TD_WS) &&
				   (r->flags & KVB_TD_WS) ?
				   s->wscale & 15 : 0;
		else
			v->scale = 14;
		v->win <<= v->scale & 15;
		if (v->win > s->maxwin)
			s->maxwin = v->win;
		if (!(s->flags & KVB_TD_ACK) || seq_before(s->maxack, v->ack))
			s->maxack = v->ack;
		if (!(s->flags & KVB_TD_ACK) ||
		    seq_before(s->maxend, v->ack + v->win))
			s->maxend = v->ack + v->win;
		s->flags |= KVB_TD_ACK;
	}
	if (v->flags & TCP_SYN_) {
		s->wscale = v->ws < 0 ? 0 : (__u8)v->ws;
		s->flags |= KVB_TD_SYN | (v->ws < 0 ? 0 : KVB_TD_WS);
	}
}

/*
 * The TCP header at l4off into t->tv: 0, or -1 when it cannot be read.
 * l4len: the bytes from the TCP header to the IP packet's end, as the
 * parser found them; 0: from an IPv4 header's length (NAT's). zero: the
 * caller's key of the scratch (tcp_syn_wscale's walk).
 */
static __always_inline int tcp_view_read(struct __sk_buff *skb,
					 struct ct_scratch *t, __u32 l4off,
					 __u32 l4len, __u32 *zero)
{
	struct tcp_view *v = &t->tv;
	__u8 *h = t->th;
	__u32 len;

	v->l4off = l4off;
	if (bpf_skb_load_bytes(skb, l4off, h, 20) ||
	    (!l4len && bpf_skb_load_bytes(skb, ETH_HLEN + 2, &v->tot, 2)))
		return -1;
	v->seq = (__u32)h[4] << 24 | (__u32)h[5] << 16 | (__u32)h[6] << 8 | h[7];
	v->ack = (__u32)h[8] << 24 | (__u32)h[9] << 16 | (__u32)h[10] << 8 | h[11];
	v->doff = (h[12] >> 4) * 4;
	v->flags = h[13];
	v->win = (__u32)h[14] << 8 | h[15];
	/* the IP length, not the frame's: short frames carry padding; a
	 * GSO/GRO frame's tot_len covers all its segments */
	len = l4len ? l4len + l4off - ETH_HLEN : bpf_ntohs(v->tot);
	if (len < l4off - ETH_HLEN + v->doff)
		len = skb->len < l4off + v->doff ? 0 :
		      skb->len - l4off - v->doff;
	else
		len -= l4off - ETH_HLEN + v->doff;
	v->end = v->seq + len + !!(v->flags & TCP_SYN_) +
		 !!(v->flags & TCP_FIN_);
	v->ws = -1;
	if (v->flags & TCP_SYN_)
		tcp_syn_wscale(skb, t, zero);
	return 0;
}

/* What ct_tcp_track reads of a packet, in the scratch. */
static __always_inline int ct_tcp_judge(struct ct_scratch *t,
					struct kvb_ct *s, struct kvb_ct *r)
{
	struct tcp_view *v = &t->tv;
	struct kvb_td *rt;

	/* a SYN from the flow's opener on a closing one: the ends open it
	 * again (a source port reused within the closing timeout, an NFS
	 * client's reconnect), as conntrack reopens a connection: tracked
	 * anew, established by its own handshake, judged by its own
	 * sequence numbers */
	if ((v->flags & (TCP_SYN_ | TCP_ACK_ | TCP_RST_)) == TCP_SYN_ &&
	    s->state == KVB_CT_CLOSING && v->from_wan == s->from_wan) {
		s->td.flags = 0;
		s->td.maxwin = 0;
		s->state = KVB_CT_NEW;
		if (r) {
			r->td.flags = 0;
			r->td.maxwin = 0;
			r->state = KVB_CT_NEW;
		}
	}
	if (v->from_wan && (v->flags & (TCP_RST_ | TCP_FIN_)) && r) {
		/* the guest (r) receives: judge by what it acknowledged */
		switch (td_judge_end(v, &s->td, &r->td)) {
		case TD_OUT:
			return DROP(KVB_DROP_NAT_TCP_WINDOW);
		case TD_KEEP:
			/* a RST that is not exact moves nothing: a second
			 * one at the same place is no more exact */
			return 0;
		}
		goto close;
	}
	if (v->flags & (TCP_RST_ | TCP_FIN_))
		goto close;
	goto track;
close:
	s->state = KVB_CT_CLOSING;
	if (r)
		r->state = KVB_CT_CLOSING;
track:
	rt = NULL;
	if (r) {
		rt = &r->td;
		/* made here, after the check: the verifier refuses the
		 * offset of a pointer that may be NULL */
		asm volatile("" : "+r"(rt));
	}
	td_track(v, &s->td, rt);
	if (r && s->state == KVB_CT_NEW && ct_tcp_completes(v, r))
		s->state = r->state = KVB_CT_ESTABLISHED;
	return 0;
}

/*
 * Track a TCP packet of flow key k (both entries exist) and judge a RST
 * or FIN from the WAN, as conntrack does, before it may move the flow
 * to the closing timeout: a blind attacker does not know the sequence
 * numbers. What each side sent and advertised is kept in its own entry
 * (td). From the WAN:
 *   - a RST or FIN outside the guest's receive window (its highest ack
 *     plus window, back to the ack less its largest window) is refused:
 *     nat-tcp-window, the guest never sees it;
 *   - a RST closes the flow only when exact: at the guest's highest ack
 *     (RFC 5961's rcv_nxt), at the end of what the remote sent, or, to a
 *     SYN not yet acknowledged, acknowledging exactly that SYN. Another
 *     in-window RST goes to the guest, whose stack answers it with a
 *     challenge ACK (the real peer's reply to that is exact), and the
 *     state stays;
 *   - an in-window FIN closes.
 * The guest's own RST and FIN are its business and always close. A flow
 * picked up mid-stream (no SYN seen) has unknown window scales: its
 * windows are taken at the largest scale (liberal), RSTs still must be
 * exact. Updates are lock-free: a race may lose one, never a packet.
 * A global function: verified once, not on every path that calls it.
 */
__noinline int ct_tcp_track(struct __sk_buff *skb, __u32 l4off,
			    const struct kvb_ct_key *k)
{
	/* the state lives in the scratch: the caller's frame leaves this
	 * function 24 bytes of stack */
	__u32 zero = 0;	/* one key slot for every scratch lookup */
	struct ct_scratch *t = bpf_map_lookup_elem(&kvb_ct_tmp, &zero);
	struct kvb_ct *s, *r;

	if (!k || !t)
		return 0;
	t->key = *k;	/* k itself would cost a stack slot */
	if (tcp_view_read(skb, t, l4off, 0, &zero))
		return 0;
	t = bpf_map_lookup_elem(&kvb_ct_tmp, &zero);
	if (!t)
		return 0;
	s = bpf_map_lookup_elem(&kvb_ct, &t->key);
	if (!s)
		return 0;
	/* a reply key: the remote sent it; a hairpin's ends are both
	 * guests, whose RSTs and FINs are their own business */
	t->tv.from_wan = t->key.dir && !s->hairpin;
	/* the other direction's key, a hairpin's too */
	if (t->key.dir)
		kvb_ct_orig_key(&t->key, s, &t->tk);
	else
		kvb_ct_reply_key(&t->key, s, &t->tk);
	r = bpf_map_lookup_elem(&kvb_ct, &t->tk);
	return ct_tcp_judge(t, s, r);
}

#endif /* KVB_CONNTRACK_H */
