// SPDX-License-Identifier: GPL-2.0
/*
 * For tests: tc egress program that tags every IPv4 frame with VLAN 42 the
 * way a VLAN device on a NIC with tx-vlan-offload does: the tag goes into
 * the skb's metadata (bpf_skb_vlan_push, when the skb carries none yet),
 * not into the frame. Over a veth it reaches the peer as such (the test
 * kernel has no 8021q module for a real VLAN device). Loaded by tc:
 *   tc filter add dev DEV egress bpf da obj build/vlanpush.bpf.o sec tc
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int vlan_push(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IP) && !skb->vlan_present)
		bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 42);
	return TC_ACT_OK;
}
