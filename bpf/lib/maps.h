/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pinned maps, as BPF sees them. Every entry object includes this file,
 * so the XDP and tc objects share one set of maps by name under the
 * loader's pin root. Layouts come from maps/kvb_maps.h.
 */
#ifndef KVB_BPF_MAPS_H
#define KVB_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "kvb_maps.h"

/* what a map update returns (no libc headers here) */
#define E2BIG_ 7
#define ENOMEM_ 12
#define EEXIST_ 17

/*
 * An array by network id (ids are 1..KVB_MAX_NETS - 1): a lookup is an
 * index, not a hash; an unused slot has id 0 (net_lookup).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVB_MAX_NETS);
	__type(key, __u32);
	__type(value, struct kvb_net);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_net SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct kvb_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_FDB);
	__type(key, struct kvb_fdb_key);
	__type(value, struct kvb_fdb_entry);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_fdb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KVB_MAX_PORTS + 1);	/* by kvb_port.slot */
	__type(key, __u32);
	__type(value, struct kvb_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_ADDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* bindings come and go */
	__type(key, struct kvb_addr_key);
	__type(value, struct kvb_addr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_addr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_CT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kvb_ct_key);
	__type(value, struct kvb_ct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_FWD);
	__type(key, struct kvb_fwd_key);
	__type(value, struct kvb_fwd);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_fwd SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVB_MAX_NETS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_ctcnt SEC(".maps");

/* each network's learned MAC entries: its share of the table (fdb.h) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVB_MAX_NETS);
	__type(key, __u32);
	__type(value, struct kvb_fdbnet);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_fdbnet SEC(".maps");

/* NAT flows by guest port slot (kvb_ct.slot): each port's share */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVB_MAX_PORTS + 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_ctpn SEC(".maps");

/* early eviction's candidates (kvb_maps.h: KVB_EVICT_POOL) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVB_EVICT_POOL);
	__type(key, __u32);
	__type(value, struct kvb_ct_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_ctev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVB_EVICT_POOL);
	__type(key, __u32);
	__type(value, struct kvb_aclct_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, KVB_MAX_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kvb_route_key);
	__type(value, struct kvb_route);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_route SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_NETS);
	__type(key, __u32);
	__type(value, struct kvb_hostif);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_hostif SEC(".maps");

/*
 * A WAN packet's way back (the FIB's answer for a reply to its source,
 * out of device out) for a packet that came in on device in, into a
 * network of the fabric (gw_host: the network's host interface): out of
 * a network's host interface (a subnet the host routes via a guest, a
 * router VM), or out of a bridge network's uplink (its LAN, where that
 * network's guests live: a WAN host would speak as one of them) other
 * than the device it came in on (one NIC for the LAN and the WAN). Such
 * a source lives behind this host, never beyond its WAN: forged.
 */
static __always_inline int way_back_into_fabric(__u32 out, __u32 in,
						__u32 gw_host)
{
	struct kvb_port *p;

	if (out == gw_host || bpf_map_lookup_elem(&kvb_hostif, &out))
		return 1;
	p = bpf_map_lookup_elem(&kvb_port, &out);
	return p && p->role == KVB_PORT_UPLINK && out != in;
}

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, KVB_MAX_PFX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kvb_pfx_key);
	__type(value, struct kvb_pfx);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_pfx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvb_natst);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_natst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvb_ctsweep);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_ctsweep SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_NATMAP);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kvb_natmap_key);
	__type(value, struct kvb_natmap);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_natmap SEC(".maps");

/* Overlay: which network a VNI is, and which hosts may send it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_NETS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_vni SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_NETS * KVB_MAX_VTEPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kvb_vtep_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_vtep SEC(".maps");
/* Security groups (kvb_maps.h): definitions (the loader's), ports, the
 * compiled sets, counters and the connections let through. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_ACLS);
	__type(key, __u32);
	__type(value, struct kvb_acl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_acl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_ACLS * KVB_ACL_MAX_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kvb_acl_rule_key);
	__type(value, struct kvb_acl_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * (KVB_MAX_PORTS + 1));
	__type(key, __u32);
	__type(value, struct kvb_acl_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVB_MAX_PORTS + 1);
	__type(key, __u32);
	__type(value, struct kvb_aclsel);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclsel SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvb_aclon);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclon SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, KVB_ACL_MAX_LPM);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kvb_acl_lpm_key);
	__type(value, struct kvb_acl_bits);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_acllpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4 * KVB_ACL_SET_RULES * 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kvb_acl_bit_key);
	__type(value, struct kvb_acl_bit);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclbit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KVB_ACL_CTRS);
	__type(key, __u32);
	__type(value, struct kvb_acl_cnt);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclcnt SEC(".maps");

/* a hash, not an LRU: an established connection is never evicted
 * (kvb_aclctn; early eviction takes only those still opening) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_ACL_MAX_CT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kvb_aclct_key);
	__type(value, struct kvb_aclct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclct SEC(".maps");

/* kvb_aclct4: the IPv4 connections, a shorter key (kvb_maps.h) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_ACL_MAX_CT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kvb_aclct4_key);
	__type(value, struct kvb_aclct);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclct4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVB_MAX_PORTS + 1);
	__type(key, __u32);
	__type(value, struct kvb_aclctn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclctn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVB_ACL_MAX_VC);
	__type(key, struct kvb_aclvc_key);
	__type(value, struct kvb_aclvc_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclvc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVB_ACL_MAX_VC);
	__type(key, struct kvb_aclvc4_key);
	__type(value, struct kvb_aclvc4_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclvc4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVB_ACL_MAX_FRAG);
	__type(key, struct kvb_aclfrag_key);
	__type(value, struct kvb_aclfrag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_aclfrag SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVB_NAT_MAX_FRAG);
	__type(key, struct kvb_natfrag_key);
	__type(value, struct kvb_natfrag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_natfrag SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KVB_NAT_MAX_HOST);
	__type(key, struct kvb_nathost_key);
	__type(value, struct kvb_nathost);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_nathost SEC(".maps");

/* Written by the loader only; here so that it is pinned with BTF. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvb_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kvb_mon);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_mon SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, KVB_EVENTS_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_events SEC(".maps");

/*
 * tc ingress's stages (enum kvb_stage), filled by the loader. Pinned so
 * that the slots outlive the loader: a PROG_ARRAY is emptied when its last
 * user reference goes. No key/value BTF: the kernel refuses it for
 * program arrays.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, KVB_STAGES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_stages SEC(".maps");

/* DHCP transactions the ports' clients opened (kvb_maps.h: kvb_dhcpx);
 * tc's DHCP snooping alone uses it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVB_MAX_PORTS + 1);	/* by kvb_port.slot */
	__type(key, __u32);
	__type(value, struct kvb_dhcpx);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_dhcpx SEC(".maps");

/* the leases the server dropped, by port slot (kvb_maps.h: kvb_dhcp6r) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KVB_MAX_PORTS + 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_dhcp6r SEC(".maps");

/* DHCP host reservations, the loader's alone (kvb_maps.h: kvb_dhcphost);
 * here so that the fabric has the map and its types */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KVB_MAX_DHCPHOSTS);
	__type(key, struct kvb_dhcphost_key);
	__type(value, struct kvb_dhcphost);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kvb_dhcphost SEC(".maps");

/*
 * Every port's device (kvb_maps.h: kvb_portdev). Not pinned by libbpf:
 * the kernel marks every devmap BPF_F_RDONLY_PROG, and libbpf 1.1 will
 * not reuse such a pin (loader/fabric.c: devmap_reuse, for tc's object
 * and XDP's).
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, KVB_MAX_PORTS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} kvb_portdev SEC(".maps");

#ifndef KVB_HOOK_XDP
/*
 * Is ifindex still the device that was attached as a port? Not when the
 * device went without a detach (its port entry, MAC table entries and
 * bindings stay until gc), nor when another device took its ifindex
 * since: the kernel removed the devmap entry when the first one went.
 */
static __always_inline int port_dev_live(__u32 ifindex)
{
	return bpf_map_lookup_elem(&kvb_portdev, &ifindex) != NULL;
}
#else
static __always_inline int port_dev_live(__u32 ifindex)
{
	(void)ifindex;
	return 1;	/* XDP redirects through kvb_xdptx, a devmap */
}
#endif

/*
 * Did port *holder's device go (port_dev_live), asked for a frame of port
 * *self (whose device, on which the frame came, is there)? Global, with
 * pointers: the callers' stacks are deep enough (XDP's 512 bytes). In both hooks
 * (a claim of an address that a departed guest held): when self is not
 * in kvb_portdev either, the map is not the fabric's (an object that did
 * not reuse it), and nobody's device counts as gone. A guest's only.
 */
__noinline int port_dev_gone(const __u32 *holder, const __u32 *self)
{
	struct kvb_port *p;

	if (!holder || !self || bpf_map_lookup_elem(&kvb_portdev, holder) ||
	    !bpf_map_lookup_elem(&kvb_portdev, self))
		return 0;
	/* a guest's: an uplink that went (a NIC recreated) keeps what it
	 * holds for the LAN (its router's address) until gc */
	p = bpf_map_lookup_elem(&kvb_port, holder);
	return p && p->role == KVB_PORT_GUEST;
}

/* The network of id, or NULL when there is none. */
static __always_inline struct kvb_net *net_lookup(__u32 id)
{
	struct kvb_net *n = bpf_map_lookup_elem(&kvb_net, &id);

	return n && n->id ? n : NULL;
}

/*
 * The ACL entry (kvb_aclp) of the port on ifindex at slot, or NULL when
 * the slot holds none of that port's (slot 0 holds none: ifindex 0).
 */
static __always_inline struct kvb_acl_port *acl_port_at(__u32 slot,
							__u32 ifindex)
{
	struct kvb_aclsel *sel = bpf_map_lookup_elem(&kvb_aclsel, &slot);
	struct kvb_acl_port *ap;
	__u32 k;

	if (!sel)
		return NULL;
	k = slot * 2 + (sel->sel & 1);	/* the copy in force */
	ap = bpf_map_lookup_elem(&kvb_aclp, &k);
	return ap && ap->ifindex == ifindex ? ap : NULL;
}

/* Does any port have ACLs (kvb_aclon)? If not, no ACL step applies. */
static __always_inline int acl_any(void)
{
	__u32 zero = 0;
	struct kvb_aclon *o = bpf_map_lookup_elem(&kvb_aclon, &zero);

	return o && o->on;
}

/* The ACL entry of port p (its entry, or NULL). */
static __always_inline struct kvb_acl_port *acl_port_of(const struct kvb_port *p)
{
	return p ? acl_port_at(p->slot, p->ifindex) : NULL;
}

#endif /* KVB_BPF_MAPS_H */
