/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the datapath reads from the kernel's own memory rather than from
 * a packet or a map: in tc, the generation of the IPv4 routes of the
 * packet's network namespace (`net->ipv4.rt_genid`), and the namespace's
 * cookie to tell two namespaces' generations apart (rt_gen4); in XDP,
 * whether the program runs on a driver's buffer or an skb (xdp_native,
 * at the end).
 *
 * The kernel bumps it (rt_cache_flush) whenever what an IPv4 route
 * lookup answers may have changed: a route added, or replaced or
 * deleted after a lookup used it (FA_S_ACCESSED, which bpf_fib_lookup
 * sets too), a policy rule added or removed, an address added or
 * removed, a device going down, up, or changing its MTU, forwarding
 * turned on or off. The kernel's own cached routes (a socket's dst, the
 * next hops' cached routes) are voided by it; route.h's next hop cache
 * (kvb_rtnh4) is voided the same way, so a changed route counts from
 * the next packet as it would without the cache.
 *
 * Read through the running kernel's BTF (bpf_cast_to_kern_ctx, Linux
 * 6.2, and CO-RE offsets into sk_buff, net_device and net): the struct
 * flavours below name only the fields read, and libbpf finds them in
 * the kernel's types at load time. The loader says whether the kernel
 * has the kfunc (kvb_kern_ctx, from the kernel's BTF, before the
 * programs load): without it the call is dead code the verifier drops,
 * the generation is unknown, and route.h asks the FIB for every packet
 * as before. (No bpf_ksym_exists: before Linux 6.4 the verifier refuses
 * a kfunc's address in a program even where it is never used.)
 *
 * What the generation does not cover (the kernel's own route caches are
 * voided otherwise there): a nexthop object replaced or removed while
 * only a nexthop group that routes use holds it, multipath choices that
 * follow neighbour state (fib_multipath_use_neigh) or a changed hash
 * policy, a path MTU the host learns. route.h asks again at least once
 * a second, so those hold a cached answer for at most that long.
 */
#ifndef KVB_KERN_H
#define KVB_KERN_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include <bpf/bpf_core_read.h>

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

/* Set by the loader (fabric_load_programs): the kernel has the kfunc. */
const volatile __u32 kvb_kern_ctx = 0;

struct netns_ipv4___kvb {
	struct {
		int counter;
	} rt_genid;			/* atomic_t */
} __attribute__((preserve_access_index));

struct net___kvb {
	struct netns_ipv4___kvb ipv4;
	__u64 net_cookie;		/* unique, never reused */
} __attribute__((preserve_access_index));

struct netdev_rx_queue___kvb;

struct net_device___kvb {
	struct {
		struct net___kvb *net;
	} nd_net;			/* possible_net_t */
	struct netdev_rx_queue___kvb *_rx;	/* its receive queues */
} __attribute__((preserve_access_index));

struct xdp_rxq_info___kvb {
	struct net_device___kvb *dev;
	__u32 queue_index;
	__u32 reg_state;	/* REG_STATE_REGISTERED (1) once registered */
} __attribute__((preserve_access_index));

struct netdev_rx_queue___kvb {
	struct xdp_rxq_info___kvb xdp_rxq;
} __attribute__((preserve_access_index));

struct xdp_buff___kvb {
	struct xdp_rxq_info___kvb *rxq;
} __attribute__((preserve_access_index));

struct sk_buff___kvb {
	struct net_device___kvb *dev;
} __attribute__((preserve_access_index));

/*
 * The IPv4 route generation of skb's network namespace into *gen, and a
 * tag of the namespace into *tag (its cookie folded: generations of two
 * namespaces are not comparable): 0, or -1 when they cannot be read
 * (no kfunc, no device, a kernel whose types lack a field).
 */
static __always_inline int rt_gen4(struct __sk_buff *skb, __u32 *gen,
				   __u32 *tag)
{
	struct sk_buff___kvb *kskb;
	struct net_device___kvb *dev;
	struct net___kvb *net;
	__u64 cookie;

	/* a field the running kernel's types lack: no cache, rather than
	 * a program libbpf poisons (a kernel without network namespaces
	 * has no pointer in nd_net) */
	if (!kvb_kern_ctx ||
	    !bpf_core_field_exists(((struct sk_buff___kvb *)0)->dev) ||
	    !bpf_core_field_exists(((struct net_device___kvb *)0)->nd_net.net) ||
	    !bpf_core_field_exists(((struct net___kvb *)0)->ipv4.rt_genid.counter) ||
	    !bpf_core_field_exists(((struct net___kvb *)0)->net_cookie))
		return -1;
	kskb = bpf_cast_to_kern_ctx(skb);
	dev = kskb->dev;
	if (!dev)
		return -1;
	net = dev->nd_net.net;
	if (!net)
		return -1;
	*gen = (__u32)net->ipv4.rt_genid.counter;
	cookie = net->net_cookie;
	*tag = (__u32)cookie ^ (__u32)(cookie >> 32);
	return 0;
}

/*
 * Does XDP run on a driver's own buffer here (native XDP: 1), or on an
 * skb (generic XDP: 0; -1 when it cannot be read)? What a redirect
 * keeps of a frame depends on it: generic XDP hands the skb on with its
 * checksum state (a TCP checksum still partial, CHECKSUM_PARTIAL), a
 * native redirect sends the bytes alone (a tap writes an all-zero
 * virtio-net header, a veth's skb is CHECKSUM_NONE), so only there may
 * XDP complete a partial checksum (xdpfwd.h).
 *
 * Generic XDP (netif_receive_generic_xdp) and BPF_PROG_RUN describe the
 * frame's queue by the device's own receive queue,
 * &dev->_rx[queue_index].xdp_rxq; a driver's native XDP by the
 * queue information it keeps in its own rings (tun: its queue file's
 * xdp_rxq; veth: its receive queue's). So XDP is native when the queue
 * information is not the device's own receive queue's. A driver that
 * described its native XDP by the device's queue would be taken for
 * generic: the safe direction (the frame goes to tc). The addresses are
 * subtracted as numbers, never followed (no helper: bpf_probe_read_kernel
 * is refused under lockdown=confidentiality).
 */
static __always_inline int xdp_native(struct xdp_md *ctx)
{
	struct netdev_rx_queue___kvb *rx;
	struct xdp_rxq_info___kvb *rxq;
	struct xdp_buff___kvb *x;
	struct net_device___kvb *dev;
	__u64 at;
	__u32 q;

	if (!kvb_kern_ctx ||
	    !bpf_core_field_exists(((struct xdp_buff___kvb *)0)->rxq) ||
	    !bpf_core_field_exists(((struct xdp_rxq_info___kvb *)0)->dev) ||
	    !bpf_core_field_exists(((struct xdp_rxq_info___kvb *)0)->queue_index) ||
	    !bpf_core_field_exists(((struct xdp_rxq_info___kvb *)0)->reg_state) ||
	    !bpf_core_field_exists(((struct net_device___kvb *)0)->_rx) ||
	    !bpf_core_field_exists(((struct netdev_rx_queue___kvb *)0)->xdp_rxq))
		return -1;
	x = bpf_cast_to_kern_ctx(ctx);
	rxq = x->rxq;
	if (!rxq)
		return -1;
	dev = rxq->dev;
	q = rxq->queue_index;
	/* a queue description nobody registered (a kernel that described
	 * generic XDP's frames by a zeroed one of its own): not native */
	if (rxq->reg_state != 1)
		return 0;
	if (!dev)
		return -1;
	rx = dev->_rx;
	if (!rx)
		return -1;
	/* two kernel pointers subtracted: a number (the verifier allows it
	 * a program loaded with CAP_PERFMON, as every kvmbpf program is),
	 * no helper and no read of kernel memory beyond the fields above */
	at = (__u64)((char *)rxq - (char *)rx);
	return at != (__u64)q * bpf_core_type_size(struct netdev_rx_queue___kvb) +
		     bpf_core_field_offset(struct netdev_rx_queue___kvb, xdp_rxq);
}

#endif /* KVB_KERN_H */
