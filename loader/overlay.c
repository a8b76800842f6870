// SPDX-License-Identifier: MIT
/*
 * Networks that span hosts (bpf/lib/overlay.h): a network with a VNI and
 * the other hosts' underlay addresses (vteps). The fabric's one VXLAN
 * device (kernel, external mode, dstport 4789) is made with the first
 * such network and removed with the last; it is a port of role overlay
 * whose tc ingress runs the overlay stage. kvb_vni says which network a
 * VNI is, kvb_vtep which hosts may send it.
 *
 * MTU: the overlay costs 50 bytes (70 when a vtep is IPv6). A network's
 * MTU must fit what the underlay carries to every vtep (the MTU of the
 * route to it, less that overhead; 1500 for a vtep with no route yet):
 * without `mtu` it is derived so; a larger `mtu` is refused. The upkeep step re-reads the underlay, so a
 * path that shrank later makes oversized frames counted drops
 * (overlay-too-big), never silent losses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"

void vtep_fmt(const struct kvb_vtep_addr *a, char buf[64])
{
	struct kvb_addr_key k = { .family = a->family };

	memcpy(k.addr, a->addr, 16);
	fmt_addr(&k, buf);
}

int vtep_parse(const char *s, struct kvb_vtep_addr *a)
{
	struct kvb_addr_key k;

	if (parse_addr(s, &k))
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->family = k.family;
	memcpy(a->addr, k.addr, 16);
	return 0;
}

int vtep_index(const struct kvb_vtep_addr *v, __u32 n,
	       const struct kvb_vtep_addr *a)
{
	for (__u32 i = 0; i < n && i < KVB_MAX_VTEPS; i++)
		if (v[i].family == a->family && !memcmp(v[i].addr, a->addr, 16))
			return (int)i;
	return -1;
}

/* The anycast gateway's MAC of a routed overlay network: every host's. */
void overlay_gateway_mac(__u32 vni, __u8 mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x6b;	/* "kv" */
	mac[2] = 0x76;
	mac[3] = (__u8)(vni >> 16);
	mac[4] = (__u8)(vni >> 8);
	mac[5] = (__u8)vni;
}

/*
 * The largest L3 packet n's overlay carries: the smallest path MTU to
 * its vteps less the overhead; with no vtep yet, the default route's
 * device's. 0, or 1 (with why, unless cmd is NULL: the upkeep step).
 */
static int overlay_mtu(const char *cmd, const struct kvb_net *n, __u32 *out)
{
	__u32 best = 0;
	char dev[16], a[64];

	for (__u32 i = 0; i < n->nvteps && i < KVB_MAX_VTEPS; i++) {
		const struct kvb_vtep_addr *v = &n->vteps[i];
		__u32 mtu, over = v->family == 6 ? KVB_OVL_OVERHEAD6 :
						   KVB_OVL_OVERHEAD4;
		int ret = host_route_mtu(v->family, v->addr, &mtu, dev);

		vtep_fmt(v, a);
		if (ret) {
			/* at boot the underlay may come later: the upkeep
			 * step reads it again then */
			if (cmd)
				warn("%s: %s: vtep %s: no route to it yet (%s): "
				     "taking an underlay MTU of 1500", cmd,
				     n->name, a, strerror(-ret));
			mtu = 1500;
		}
		if (mtu <= over + 68 && !cmd)
			return 1;
		if (mtu <= over + 68)
			return err("%s: %s: vtep %s: the path's MTU (%u on %s) "
				   "leaves no room for the VXLAN overhead (%u)",
				   cmd, n->name, a, mtu, dev, over);
		if (!best || mtu - over < best)
			best = mtu - over;
	}
	if (!best) {
		__u32 mtu = 1500;

		if (!host_default_dev(dev))
			host_dev_mtu(dev, &mtu);
		best = mtu > KVB_OVL_OVERHEAD4 + 68 ? mtu - KVB_OVL_OVERHEAD4 :
						       68;
	}
	*out = best;
	return 0;
}

/* Has network n (an overlay one or not) a vtep over IPv4? */
static bool net_vteps4(const struct kvb_net *n)
{
	if (!n || !n->vni)
		return false;
	for (__u32 i = 0; i < n->nvteps && i < KVB_MAX_VTEPS; i++)
		if (n->vteps[i].family == 4)
			return true;
	return false;
}

/*
 * While the fabric tunnels over IPv4, UDP port KVB_VXLAN_PORT is the
 * host's overlay's, and the datapath leaves it alone (nat.h:
 * nat_vteps4): a forward of it would do nothing, and `forward add`
 * refuses one. Network n taking its first IPv4 vtep while such a forward
 * exists is refused the same way (else `save` would write a
 * configuration that `load` refuses). 0, or an error said.
 */
static int overlay_port_free(struct fabric *fb, const char *cmd,
			     const struct kvb_net *old, const struct kvb_net *n)
{
	struct kvb_net fn;
	__u32 net_id;
	char ip[16];
	__be32 to;

	if (!net_vteps4(n) || net_vteps4(old) ||
	    !fwd_vxlan_held(fb, &net_id, &to))
		return 0;
	inet_ntop(AF_INET, &to, ip, sizeof(ip));
	if (net_get(fb, net_id, &fn))
		return err("%s: %s: udp port %u is forwarded to %s (network id "
			   "%u); a VXLAN overlay over IPv4 needs it", cmd,
			   n->name, KVB_VXLAN_PORT, ip, net_id);
	return err("%s: %s: udp port %u is forwarded to %s in network %s; a "
		   "VXLAN overlay over IPv4 needs it ('forward del %s proto "
		   "udp port %u' first)", cmd, n->name, KVB_VXLAN_PORT, ip,
		   fn.name, fn.name, KVB_VXLAN_PORT);
}

/*
 * n's overlay settings, from net add (old NULL; mtu_given: `mtu` was on
 * the line) or net set (old: the network as it was): the type, the VNI
 * no other network has, vteps only with a VNI, and the MTU (derived, or
 * refused when it does not fit). Sets n->mtu (derived) and n->ovl_mtu.
 */
int overlay_check(struct fabric *fb, const char *cmd,
		  const struct kvb_net *old, struct kvb_net *n, bool mtu_given)
{
	struct kvb_net o;
	char a[64];

	if (!n->vni) {
		if (n->nvteps)
			return err("%s: %s: vtep needs 'vni N'", cmd, n->name);
		n->ovl_mtu = 0;
		return 0;
	}
	if (!net_has(n, NT_OVERLAY))
		return err("%s: %s: %s networks do not span hosts", cmd,
			   n->name, net_type_name(n->type));
	/* every host's dnsmasq would lease the same addresses (nat, and
	 * routed with dhcp on: t113) */
	if (n->flags & KVB_NET_F_DHCP)
		return err("%s: %s: a %s network spans hosts with 'dhcp off' "
			   "only (each host's DHCP server would lease the same "
			   "addresses)", cmd, n->name, net_type_name(n->type));
	if (old && old->vni != n->vni && net_has(n, NT_GATEWAY))
		return err("%s: %s: the VNI of a %s network is given at net "
			   "add only (its anycast gateway's MAC derives from "
			   "it)", cmd, n->name, net_type_name(n->type));
	if (overlay_port_free(fb, cmd, old, n))
		return 1;
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (id != n->id && !net_get(fb, id, &o) && o.vni == n->vni)
			return err("%s: %s: vni %u is network %s's", cmd,
				   n->name, n->vni, o.name);
	for (__u32 i = 0; i < n->nvteps && i < KVB_MAX_VTEPS; i++)
		if (vtep_index(n->vteps, i, &n->vteps[i]) >= 0) {
			vtep_fmt(&n->vteps[i], a);
			return err("%s: %s: vtep %s given twice", cmd, n->name,
				   a);
		}
	if (overlay_mtu(cmd, n, &n->ovl_mtu))
		return 1;
	if (!old && !mtu_given) {
		n->mtu = n->ovl_mtu;
		n->flags |= KVB_NET_F_MTU_DERIVED;	/* save leaves it out */
		return 0;
	}
	/* net set of a network without a gateway (bridge, internal), whose
	 * mtu only says what its guests may send: it takes what the
	 * underlay carries (t112: refused, naming an mtu nobody gave and
	 * net set cannot take) */
	if (old && !mtu_given && n->mtu > n->ovl_mtu) {
		warn("%s: %s: mtu %u -> %u, what the underlay carries inside "
		     "VXLAN: its guests' interfaces need that MTU or less "
		     "(larger frames to another host are overlay-too-big)",
		     cmd, n->name, n->mtu, n->ovl_mtu);
		n->mtu = n->ovl_mtu;
		return 0;
	}
	if (n->mtu > n->ovl_mtu)
		return err("%s: %s: mtu %u does not fit the underlay: it carries "
			   "%u bytes inside VXLAN (%s)", cmd, n->name, n->mtu,
			   n->ovl_mtu, old ? "a network with a gateway takes "
			   "its mtu at net add: net del, and net add with that "
			   "mtu or less" : "leave mtu out to take that");
	return 0;
}

static int vtep_key(struct kvb_vtep_key *k, __u32 vni,
		    const struct kvb_vtep_addr *a)
{
	memset(k, 0, sizeof(*k));
	k->vni = vni;
	k->a = *a;
	return 0;
}

/* The VXLAN device as a port: counters, tc ingress, the port entry. */
static int overlay_port(struct fabric *fb, const char *name, __u32 ifindex)
{
	struct kvb_port port = { .ifindex = ifindex, .role = KVB_PORT_OVERLAY };
	bool created = false;
	int ret;

	if (!port_get(fb, ifindex, &port) && port.role == KVB_PORT_OVERLAY)
		return 0;
	snprintf(port.name, sizeof(port.name), "%s", name);
	if (!port.slot)
		port.slot = port_slot_take(fb);
	if (!port.slot)
		return -errno;
	ret = tc_attach(fb, ifindex, false, &created);
	if (created)
		port.flags |= KVB_PORT_F_OWN_CLSACT;
	if (!ret && port_store(fb, &port, BPF_ANY))
		ret = -errno;
	/* tc sends to it while it is this device (kvb_portdev) */
	if (!ret &&
	    bpf_map_update_elem(fb->portdev_fd, &ifindex, &ifindex, BPF_ANY))
		ret = -errno;
	return ret;
}

/* The fabric's VXLAN device, made when missing: its ifindex, or 0. */
static __u32 overlay_device(struct fabric *fb, const char *cmd)
{
	char name[16], path[128];
	__u32 ifx;
	int ret, fd;

	overlay_ifname(name);
	ifx = if_nametoindex(name);
	if (!ifx) {
		ret = host_vxlan_add(name);
		if (ret) {
			err("%s: cannot create the VXLAN device %s: %s", cmd,
			    name, strerror(-ret));
			return 0;
		}
		ifx = if_nametoindex(name);
		/* no IPv6 of the host's own on it: nothing of the host's
		 * may leave through it without a tunnel key */
		snprintf(path, sizeof(path),
			 "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				warn("%s: %s: cannot turn IPv6 off", cmd, name);
			close(fd);
		}
		ret = ifx ? host_link_up(ifx) : -ENODEV;
		if (ret) {
			/* e.g. EADDRINUSE: another VXLAN device has UDP 4789 */
			err("%s: cannot bring %s up: %s", cmd, name,
			    strerror(-ret));
			if (ifx)
				host_link_del(ifx);
			return 0;
		}
	}
	ret = overlay_port(fb, name, ifx);
	if (ret) {
		err("%s: %s: cannot attach the tc program: %s", cmd, name,
		    strerror(-ret));
		return 0;
	}
	return ifx;
}

/* No overlay network left but except: the device goes. */
static void overlay_device_gc(struct fabric *fb, __u32 except)
{
	struct kvb_net o;
	struct kvb_port p;
	char name[16];
	__u32 ifx;

	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (id != except && !net_get(fb, id, &o) && o.vni)
			return;
	overlay_ifname(name);
	ifx = if_nametoindex(name);
	if (ifx && !port_get(fb, ifx, &p) && p.role == KVB_PORT_OVERLAY)
		port_detach(fb, "overlay", &p);
	if (ifx)
		host_link_del(ifx);
}

static bool remote_match(const void *key, const void *value, void *arg)
{
	const struct kvb_fdb_key *k = key;
	const struct kvb_fdb_entry *e = value;

	return k->net_id == *(const __u32 *)arg &&
	       (e->flags & KVB_FDB_F_REMOTE);
}

/*
 * kvb_natst.vteps4: how many IPv4 vteps kvb_vtep holds, which the
 * datapath reads to keep guests' VXLAN out of NAT (nat.h: nat_vteps4).
 * After every change of the vteps and in the upkeep step (a fabric made
 * before the count existed gets it at its next changing command).
 */
static void overlay_count_v4(struct fabric *fb)
{
	int fd = open_map(fb, KVB_MAP_VTEP);
	struct kvb_vtep_key k, *prev = NULL;
	struct kvb_natst st;
	__u32 zero = 0, n = 0;

	if (fd < 0)
		return;
	while (!bpf_map_get_next_key(fd, prev, &k)) {
		prev = &k;
		n += k.a.family == 4;
	}
	close(fd);
	if (fb->natst_fd < 0 ||
	    bpf_map_lookup_elem(fb->natst_fd, &zero, &st) || st.vteps4 == n)
		return;
	st.vteps4 = n;
	bpf_map_update_elem(fb->natst_fd, &zero, &st, BPF_EXIST);
}

/*
 * Bring the maps and the device in line with n (NULL: the network old
 * is going away). old: the network as it was (NULL: new). Learned
 * remote MACs of the network are forgotten when its vteps change (they
 * are learnt again from the next frame).
 */
int overlay_sync(struct fabric *fb, const char *cmd, const struct kvb_net *old,
		 struct kvb_net *n)
{
	int vni_fd = open_map(fb, KVB_MAP_VNI), vtep_fd = open_map(fb,
								KVB_MAP_VTEP);
	__u32 id = n ? n->id : old->id;
	struct kvb_vtep_key k;
	int ret = 0;

	if (vni_fd < 0 || vtep_fd < 0) {
		ret = err("%s: cannot open the overlay maps: %s", cmd,
			  strerror(errno));
		goto out;
	}
	if (old && old->vni) {
		for (__u32 i = 0; i < old->nvteps && i < KVB_MAX_VTEPS; i++) {
			vtep_key(&k, old->vni, &old->vteps[i]);
			if (!n || n->vni != old->vni ||
			    vtep_index(n->vteps, n->nvteps, &old->vteps[i]) < 0)
				bpf_map_delete_elem(vtep_fd, &k);
		}
		if (!n || n->vni != old->vni)
			bpf_map_delete_elem(vni_fd, &old->vni);
	}
	if (!old || !n || old->vni != n->vni || old->nvteps != n->nvteps ||
	    memcmp(old->vteps, n->vteps, sizeof(old->vteps)))
		map_delete_where(fb->fdb_fd, sizeof(struct kvb_fdb_key),
				 sizeof(struct kvb_fdb_entry), remote_match,
				 &id);
	if (n && n->vni) {
		n->ovl_ifindex = overlay_device(fb, cmd);
		if (!n->ovl_ifindex) {
			ret = 1;
			goto out;
		}
		/* the network first: a frame that finds the VNI finds it */
		if (net_put(fb, n)) {
			ret = err("%s: %s: %s", cmd, n->name, strerror(errno));
			goto out;
		}
		for (__u32 i = 0; i < n->nvteps && i < KVB_MAX_VTEPS; i++) {
			vtep_key(&k, n->vni, &n->vteps[i]);
			if (bpf_map_update_elem(vtep_fd, &k, &n->id, BPF_ANY)) {
				ret = err("%s: %s: vtep table: %s", cmd,
					  n->name, strerror(errno));
				goto out;
			}
		}
		if (bpf_map_update_elem(vni_fd, &n->vni, &n->id, BPF_ANY))
			ret = err("%s: %s: vni table: %s", cmd, n->name,
				  strerror(errno));
	} else if (n && n->ovl_ifindex) {
		n->ovl_ifindex = 0;
		net_put(fb, n);
	}
	if (!n || !n->vni)
		overlay_device_gc(fb, n ? 0 : id);
out:
	if (vni_fd >= 0)
		close(vni_fd);
	if (vtep_fd >= 0)
		close(vtep_fd);
	overlay_count_v4(fb);
	return ret;
}

/*
 * The upkeep step: what the underlay carries may have changed (an MTU
 * lowered, a route moved); each overlay network's ovl_mtu follows, so
 * that frames that no longer fit are counted (overlay-too-big). The
 * VXLAN device is there (made again if it went).
 */
void overlay_tend(struct fabric *fb)
{
	struct kvb_net n;
	__u32 mtu, ifx = 0;
	bool tried = false;

	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		bool changed = false;

		if (net_get(fb, id, &n) || !n.vni)
			continue;
		/* a VXLAN device deleted behind the fabric's back (its port
		 * was forgotten by gc just before): made again */
		if (!tried) {
			ifx = overlay_device(fb, "gc");
			tried = true;
		}
		if (ifx && ifx != n.ovl_ifindex) {
			n.ovl_ifindex = ifx;
			changed = true;
		}
		if (!overlay_mtu(NULL, &n, &mtu) && mtu != n.ovl_mtu) {
			n.ovl_mtu = mtu;
			changed = true;
		}
		if (changed)
			net_put(fb, &n);
	}
	overlay_count_v4(fb);
}
