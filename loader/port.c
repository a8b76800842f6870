// SPDX-License-Identifier: MIT
/*
 * Ports: the mechanics of `attach` and `detach` (the commands: portcmd.c),
 * and which devices may be ports at all (dev_refuse). A port is one
 * device in one network. Attach writes the maps before it hooks the programs, and joins
 * the network's flood list last, so the datapath never sees half a port;
 * detach undoes it in the reverse order. A failed attach rolls back.
 */
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"

static int count_ports(struct fabric *fb)
{
	__u32 key, *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(fb->port_fd, prev, &key)) {
		prev = &key;
		n++;
	}
	return n;
}

/*
 * A counter slot no port holds (kvb_stats index, 1..KVB_MAX_PORTS), its
 * per-CPU counters zeroed: the last port that held it may have counted
 * there after its detach read them. 0 and errno when none can be given.
 */
__u16 port_slot_take(struct fabric *fb)
{
	int ncpu = libbpf_num_possible_cpus();
	bool *used = calloc(KVB_MAX_PORTS + 1, sizeof(*used));
	struct kvb_stats *zero = NULL;
	__u32 key, *prev = NULL, slot = 0;
	struct kvb_port p;

	if (!used || ncpu <= 0)
		goto out;
	while (!bpf_map_get_next_key(fb->port_fd, prev, &key)) {
		prev = &key;
		if (!port_get(fb, key, &p) && p.slot <= KVB_MAX_PORTS)
			used[p.slot] = true;
	}
	for (__u32 s = 1; s <= KVB_MAX_PORTS && !slot; s++)
		if (!used[s])
			slot = s;
	if (!slot) {
		errno = ENOSPC;
		goto out;
	}
	zero = calloc((size_t)ncpu, sizeof(*zero));
	if (!zero || bpf_map_update_elem(fb->stats_fd, &slot, zero, BPF_ANY))
		slot = 0;
	/* and no ACL entry or connection count of an earlier holder, nor
	 * its count of NAT flows (kvb_ctpn) */
	acl_slot_clear(fb, slot);
	if (slot) {
		__u64 none = 0;

		bpf_map_update_elem(fb->ctpn_fd, &slot, &none, BPF_ANY);
	}
out:
	if (!used || (!zero && slot))
		errno = ENOMEM;
	free(used);
	free(zero);
	return (__u16)slot;
}

/* A name kvmbpf gives its own interfaces, in any fabric (gateway_ifnames) */
bool fabric_ifname(const char *name)
{
	unsigned int id;
	char gp, tail;

	if (sscanf(name, "kvbg%c%u%c", &gp, &id, &tail) == 2 &&
	    (gp == 'w' || gp == 'p'))
		return true;
	if (sscanf(name, "kvbvx%u%c", &id, &tail) == 1)
		return true;	/* the VXLAN device (overlay_ifname) */
	if (strlen(name) > 8 && !strncmp(name, "kvb", 3) &&
	    strspn(name + 3, "0123456789abcdef") >= 4 &&
	    (name[7] == 'g' || name[7] == 'p' || name[7] == 'v') &&
	    sscanf(name + 8, "%u%c", &id, &tail) == 1)
		return true;
	return false;
}

/* Does device ifindex carry IP packets without a link-layer header? */
bool dev_is_l3(__u32 ifindex)
{
	struct host_link l;

	return !host_link(ifindex, &l) && link_type_l3(l.type);
}

/*
 * Is DEV something attach must not take as a port of ROLE (guest, uplink,
 * or a network's WAN device)? For every role: loopback; a device
 * enslaved to a bridge, bond, team or VRF (its master owns its traffic,
 * and our tc hook would run before the master's); the fabric's own
 * interfaces (gateway veths, of this fabric or another); a device that
 * carries another fabric's program. A guest's device is moreover an
 * Ethernet device that holds no address of the host, is a tap or a
 * veth (not a master: bridge, bond, team, VRF, Open vSwitch; not a
 * macvtap, macvlan or ipvlan, whose guest sends past the device's tc
 * ingress) and has no VLAN, macvlan, ipvlan, macvtap or ipvtap device on
 * top of it. An uplink is an Ethernet
 * device and may be a bridge, bond or team (often the host's NIC), with
 * VLAN or macvlan devices on top (bridge_from_uplink passes every frame
 * that is no guest's on to the host's stack, tagged ones included); a WAN
 * is an Ethernet or a layer-3 device (link_type_l3). A guest's device and
 * an uplink have no qdisc but clsact on their ingress side. Prints why
 * and returns 1, else 0.
 */
int dev_refuse(struct fabric *fb, const char *cmd, const char *dev, __u32 role)
{
	static const char *const masters[] = { "bridge", "bond", "team", "vrf",
					       "openvswitch", NULL };
	const char *what = role == KVB_PORT_WAN ? "wan " : "";
	struct host_link l;
	struct kvb_port p;
	struct kvb_net n;
	char a[64], m[IF_NAMESIZE];
	__u32 ifindex = if_nametoindex(dev);
	int ret;

	if (!ifindex)
		return err("%s: %sdevice %s: no such device", cmd, what, dev);
	ret = host_link(ifindex, &l);
	if (ret)
		return err("%s: %sdevice %s: %s", cmd, what, dev, strerror(-ret));
	if (l.flags & IFF_LOOPBACK)
		return err("%s: %s%s is the loopback device: not a guest's or a "
			   "network's device", cmd, what, dev);
	if (l.master)
		return err("%s: %s%s is enslaved to %s: its master owns its "
			   "traffic (release it first)", cmd, what, dev,
			   if_indextoname(l.master, m) ? m : "another device");
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (!net_get(fb, id, &n) && n.gw_host == ifindex)
			return err("%s: %s%s is the gateway interface of network "
				   "%s", cmd, what, dev, n.name);
	if (fabric_ifname(l.name))
		return err("%s: %s%s is a kvmbpf gateway interface", cmd, what,
			   dev);
	if (port_get(fb, ifindex, &p) && tc_present(ifindex))
		return err("%s: %s%s carries another kvmbpf fabric's program "
			   "(a port of another --bpffs directory)", cmd, what,
			   dev);
	if (role == KVB_PORT_WAN) {
		if (l.type != ARPHRD_ETHER && !link_type_l3(l.type))
			return err("%s: wan %s is neither an Ethernet device "
				   "nor a layer-3 one (tun, WireGuard, PPP, raw "
				   "IP): link type %u", cmd, dev, l.type);
		return 0;
	}
	if (l.type != ARPHRD_ETHER)
		return err("%s: %s is not an Ethernet device (link type %u): "
			   "a guest's tap or an uplink NIC is", cmd, dev, l.type);
	/* a guest port and an uplink have an egress program too (a WAN
	 * has none: a plain ingress qdisc takes its one program well) */
	if (tc_hook_refuse(cmd, dev, ifindex))
		return 1;
	if (role == KVB_PORT_UPLINK)
		return 0;
	for (int i = 0; masters[i]; i++)
		if (!strcmp(l.kind, masters[i]))
			return err("%s: %s is a %s device, not a guest's", cmd,
				   dev, l.kind);
	if (l.has_slaves)
		return err("%s: %s has devices enslaved to it: not a guest's",
			   cmd, dev);
	/* what a guest sends must arrive at the port's tc ingress: true of
	 * a tap (QEMU writes it) and a veth (the peer sends it); a macvtap's
	 * or macvlan's guest sends straight out of its lower device, an ipvlan's
	 * too, and a tunnel or ifb is nobody's guest */
	if (strcmp(l.kind, "tun") && strcmp(l.kind, "veth"))
		return err("%s: %s is a %s device: a guest's port is a tap (or a "
			   "veth), whose guest's frames the port's programs "
			   "see%s", cmd, dev, l.kind[0] ? l.kind : "hardware",
			   !strncmp(l.kind, "macv", 4) || !strncmp(l.kind, "ipv", 3) ?
			   " (its guest sends straight out of the lower device, "
			   "past every check)" : "");
	/* our tc ingress runs before the VLAN demux and macvlan's
	 * rx_handler: the guest's program would take their frames */
	if (l.child[0])
		return err("%s: %s has the %s device %s on top of it: not a "
			   "guest's (the port's program would take its traffic)",
			   cmd, dev, l.child_kind, l.child);
	ret = host_addr_on(ifindex, a);
	if (ret < 0)
		return err("%s: %s: cannot read its addresses: %s", cmd, dev,
			   strerror(-ret));
	if (ret)
		return err("%s: %s holds the host's address %s: not a guest's "
			   "device", cmd, dev, a);
	return 0;
}

/*
 * May XDP redirect frames into this port (kvb_xdptx)? A guest's tun/tap
 * device, yes: tun takes XDP frames whatever runs on it (tun_xdp_xmit
 * queues them to the reader; with no reader it drops them, as it drops
 * what tc sends it). A veth, no: a frame XDP redirects into a veth is
 * received by its peer only when the peer has NAPI (an XDP program or
 * GRO on), else it is lost without a trace; the peer is the guest's side,
 * in another namespace, and may turn GRO off or drop its program at any
 * time, so nothing here could prove it. Anything else (a macvtap has no
 * XDP, a NIC is an uplink): no. Its frames still take tc, as before.
 */
/*
 * Does the port's XDP run bound to its device (kvb_xdp_bound)? An
 * uplink's, and a guest port's on anything but a tap: there a VLAN tag
 * may be out of the frame (bpf/tap_xdp.bpf.c), which only the driver can
 * tell a bound program. A tap's frames carry theirs inline.
 */
bool xdp_bound(__u32 ifindex, __u32 role)
{
	struct host_link l;

	return role != KVB_PORT_GUEST || host_link(ifindex, &l) ||
	       strcmp(l.kind, "tun");
}

static bool xdp_target(__u32 ifindex, __u32 role)
{
	struct host_link l;

	return role == KVB_PORT_GUEST && !host_link(ifindex, &l) &&
	       !strcmp(l.kind, "tun");
}

/*
 * XDP could not be attached to dev (xdp_attach's ret): say why. An
 * uplink's, a WAN device's or a guest port's that is no tap is a program
 * bound to the device, which runs in native mode only: a driver without
 * native XDP (dummy, bridge, macvlan...) cannot take it, and the kernel's
 * own word for that (EOPNOTSUPP) names neither the device nor the cause.
 */
static int xdp_refused(const char *cmd, const char *dev, int ret, bool bound,
		       const char *hint)
{
	char drv[32];

	if (ret == -EOPNOTSUPP && bound) {
		dev_driver(dev, drv, sizeof(drv));
		return err("%s: device %s: its driver (%s) has no native XDP "
			   "support, which XDP there needs (%s)", cmd, dev,
			   drv[0] ? drv : "unknown", hint);
	}
	if (ret == -ERANGE)	/* veth: its peer's MTU above a page */
		return err("%s: device %s: its MTU (or its peer's) is too large "
			   "for XDP, which takes a frame in one page (%s)", cmd,
			   dev, hint);
	return err("%s: device %s: cannot attach XDP program: %s (%s)", cmd,
		   dev, strerror(-ret), hint);
}

/*
 * tc carries every frame either way, so adding or removing the
 * accelerator loses nothing in between.
 */
int port_xdp_set(struct fabric *fb, const char *cmd, struct kvb_port *p,
		 bool on)
{
	if (on == !!(p->flags & KVB_PORT_F_XDP))
		return 0;
	if (on && (p->flags & KVB_PORT_F_L3))
		return err("%s: %s is a layer-3 device: its packets have no "
			   "Ethernet header for XDP's fast path (tc carries "
			   "every packet; XDP stays off)", cmd, p->name);
	if (on) {
		int ret = xdp_attach(fb, p->ifindex,
				     xdp_bound(p->ifindex, p->role));

		if (ret)
			return xdp_refused(cmd, p->name, ret,
					   xdp_bound(p->ifindex, p->role),
					   "it stays off: tc carries every "
					   "frame");
		p->flags |= KVB_PORT_F_XDP;
	} else {
		xdp_detach(fb, p->ifindex);
		p->flags &= ~KVB_PORT_F_XDP;
	}
	if (port_store(fb, p, BPF_EXIST)) {
		int e = errno;

		/* the entry says what is attached: nothing new left behind */
		if (on) {
			xdp_detach(fb, p->ifindex);
			p->flags &= ~KVB_PORT_F_XDP;
		}
		return err("%s: %s: %s", cmd, p->name, strerror(e));
	}
	return 0;
}

int port_detach(struct fabric *fb, const char *cmd, const struct kvb_port *p)
{
	char cur[IF_NAMESIZE] = "";
	struct kvb_net net;
	bool exists = if_indextoname(p->ifindex, cur), nat_flows = true;

	/* XDP stops redirecting into it first, tc stops sending to it (a
	 * vanished device's entries the kernel removed: ENOENT, fine) */
	bpf_map_delete_elem(fb->xdptx_fd, &p->ifindex);
	bpf_map_delete_elem(fb->portdev_fd, &p->ifindex);
	/* Stop flooding to it first, then unhook, then forget it. */
	if (!net_get(fb, p->net_id, &net)) {
		/* a guest of a nat network or of a routed network behind
		 * one (via_nat) holds NAT flows; no other port does */
		nat_flows = p->role == KVB_PORT_GUEST &&
			    (net.type == KVB_NET_NAT || net.via_nat);
		net_member_remove(&net, p->ifindex);
		if (net.uplink == p->ifindex) {
			net.uplink = 0;
			memset(net.uplink_mac, 0, sizeof(net.uplink_mac));
		}
		if (net_put(fb, &net))
			return err("%s: %s: cannot update network %s: %s", cmd,
				   p->name, net.name, strerror(errno));
	}
	if (exists) {
		if (p->flags & KVB_PORT_F_XDP)
			xdp_detach(fb, p->ifindex);
		tc_detach(p->ifindex, false, false);
		if (p->role == KVB_PORT_UPLINK || p->role == KVB_PORT_GUEST)
			tc_detach(p->ifindex, true, false);
		if (p->flags & KVB_PORT_F_OWN_CLSACT)
			tc_detach(p->ifindex, false, true);
		/* what attach changed goes back as it was (renamed or not) */
		if (p->flags & KVB_PORT_F_PROMISC)
			dev_set_promisc(cur, false);
		if (p->flags & KVB_PORT_F_IPV6_OFF)
			dev_restore_ipv6(cur);
	} else {
		/* The device is gone and took its hooks along; drop the pin. */
		xdp_detach(fb, p->ifindex);
	}
	/* a reserved MAC it held is the reservation's again, in place
	 * (no moment without an owner), before its other entries go */
	if (p->role == KVB_PORT_GUEST && !mac_zero(p->mac))
		fdb_release(fb, p->net_id, p->mac, p->ifindex);
	fdb_purge(fb, p->ifindex, 0);
	addr_purge(fb, p->ifindex, 0);
	acl_port_forget(fb, p);
	/* its counter slot is free with the entry (port_slot_take) */
	bpf_map_delete_elem(fb->port_fd, &p->ifindex);
	/* its entry gone, its NAT flows are no guest port's: they go */
	if (nat_flows)
		nat_flows_forget(fb);
	return 0;
}

int port_attach(struct fabric *fb, const char *cmd, const char *dev,
		__u32 net_id, __u32 role, const struct port_opts *o)
{
	const __u8 *mac = o->mac;
	bool xdp = o->xdp;
	struct kvb_port port = {}, old;
	struct kvb_net net;
	bool created = false, nat_wan = false;
	__u32 ifindex;
	int ret;

	ifindex = if_nametoindex(dev);
	if (!ifindex)
		return err("%s: device %s: no such device", cmd, dev);
	if (net_get(fb, net_id, &net))
		return err("%s: network id %u does not exist", cmd, net_id);
	if (!port_get(fb, ifindex, &old)) {
		struct kvb_net other;

		if (net_get(fb, old.net_id, &other))
			snprintf(other.name, sizeof(other.name), "#%u",
				 old.net_id);
		if (old.role == KVB_PORT_GUEST)
			return err("%s: device %s is already attached to "
				   "network %s (detach it first)", cmd, dev,
				   other.name);
		/* the host's one NIC: a nat network's WAN port becomes the
		 * bridge's uplink, and stays NAT's way out (NAT_WAN) */
		if (role != KVB_PORT_UPLINK || old.role != KVB_PORT_WAN)
			return err("%s: device %s is the %s of network %s",
				   cmd, dev,
				   old.role == KVB_PORT_UPLINK ? "uplink" :
				   old.role == KVB_PORT_WAN ? "WAN device" :
				   old.role == KVB_PORT_OVERLAY ? "VXLAN device" :
				   "gateway port", other.name);
		/* its WAN port goes once all is checked (a failure after:
		 * the caller gives it back, wan_uplink_gone) */
		nat_wan = true;
	}
	if (role != KVB_PORT_GATEWAY && dev_refuse(fb, cmd, dev, role))
		return 1;
	/* a WAN device is hooked, not a member: it floods nowhere */
	if (role != KVB_PORT_WAN && net.nports >= KVB_MAX_NET_PORTS)
		return err("%s: network %s is full (%d ports)", cmd, net.name,
			   KVB_MAX_NET_PORTS);
	if (count_ports(fb) >= KVB_MAX_PORTS)
		return err("%s: too many ports (%d)", cmd, KVB_MAX_PORTS);

	if (mac && fdb_static_owner(fb, net_id, mac)) {
		char buf[18];

		fmt_mac(mac, buf);
		return err("%s: mac %s is already the static address of another "
			   "port in network %s", cmd, buf, net.name);
	}
	if (nat_wan && port_detach(fb, cmd, &old))
		return 1;

	snprintf(port.name, sizeof(port.name), "%s", dev);
	port.ifindex = ifindex;
	port.net_id = net_id;
	port.role = role;
	if (mac)
		memcpy(port.mac, mac, 6);
	if (role == KVB_PORT_GUEST && o->spoofcheck)
		port.flags |= KVB_PORT_F_SPOOFCHECK;
	if (role == KVB_PORT_GUEST && o->isolated)
		port.flags |= KVB_PORT_F_ISOLATED;
	if (role == KVB_PORT_GUEST && o->savi_off)
		port.flags |= KVB_PORT_F_SAVI_OFF;
	if (nat_wan)
		port.flags |= KVB_PORT_F_NAT_WAN;
	if (role == KVB_PORT_WAN && dev_is_l3(ifindex))
		port.flags |= KVB_PORT_F_L3;
	/* what XDP on it takes for the host's (dev_mac); zero: none */
	if (role == KVB_PORT_WAN && !(port.flags & KVB_PORT_F_L3) &&
	    dev_get_mac(dev, port.dev_mac))
		memset(port.dev_mac, 0, 6);
	/* stale entries of an earlier device with this ifindex go first */
	addr_purge(fb, ifindex, 0);
	if (addr_set(fb, cmd, &port, o)) {
		addr_purge(fb, ifindex, 0);
		return 1;
	}

	port.slot = port_slot_take(fb);
	if (!port.slot) {
		err("%s: %s: cannot create counters: %s", cmd, dev,
		    strerror(errno));
		return 1;
	}

	/*
	 * What attach will change on the device is recorded in the port's
	 * entry before it is changed (ATTACHING until the port is whole):
	 * an attach killed anywhere past this point leaves an entry from
	 * which the next command's upkeep (fabric_gc), `detach` or `reset`
	 * puts the device back. Promiscuity is left alone if someone else
	 * already set it; the host's IPv6 on a guest's tap is turned off
	 * only if it was on; the clsact qdisc is ours if there was none.
	 */
	port.flags |= KVB_PORT_F_ATTACHING;
	if (role == KVB_PORT_UPLINK) {
		unsigned int flags = 0;

		if (dev_get_flags(dev, &flags))
			flags = 0;
		if (!(flags & IFF_PROMISC))
			port.flags |= KVB_PORT_F_PROMISC;
	}
	if (role == KVB_PORT_GUEST && dev_ipv6_on(dev))
		port.flags |= KVB_PORT_F_IPV6_OFF;
	{
		char kind[16];

		if (!host_ingress_qdisc(ifindex, kind) && !kind[0])
			port.flags |= KVB_PORT_F_OWN_CLSACT;
	}
	/* tc sends to the device while it is this one (kvb_portdev); in it
	 * before the first frame is judged, so that the port's own claims
	 * are never taken for a departed guest's (bind.h: port_dev_gone) */
	if (bpf_map_update_elem(fb->portdev_fd, &ifindex, &ifindex, BPF_ANY) ||
	    port_store(fb, &port, BPF_ANY)) {
		err("%s: %s: cannot record its device: %s", cmd, dev,
		    strerror(errno));
		goto fail;
	}
	if (port.flags & KVB_PORT_F_PROMISC) {
		ret = dev_set_promisc(dev, true);
		if (ret) {
			err("%s: %s: cannot enable promiscuous mode: %s",
			    cmd, dev, strerror(-ret));
			goto fail;
		}
	}
	/* best effort: IPv6 may be off altogether (detach writes 0 back,
	 * which it was) */
	if (port.flags & KVB_PORT_F_IPV6_OFF)
		dev_quiet_ipv6(dev);
	ret = tc_attach(fb, ifindex, false, &created);
	/* the qdisc as it turned out (another's made meanwhile, or ours) */
	if (created)
		port.flags |= KVB_PORT_F_OWN_CLSACT;
	else if (!ret)
		port.flags &= ~KVB_PORT_F_OWN_CLSACT;
	/* Record what we hooked so far, so a rollback undoes exactly that. */
	if (!ret && port_store(fb, &port, BPF_ANY))
		ret = -errno;
	if (ret) {
		err("%s: %s: cannot attach tc program: %s", cmd, dev,
		    tc_attach_error(ret, dev));
		goto fail;
	}
	/* uplinks switch the host's frames there; a guest's ACLs judge
	 * what the fabric delivers to it */
	if (role == KVB_PORT_UPLINK || role == KVB_PORT_GUEST) {
		ret = tc_attach(fb, ifindex, true, NULL);
		if (ret) {
			err("%s: %s: cannot attach tc egress program: %s", cmd,
			    dev, tc_attach_error(ret, dev));
			goto fail;
		}
	}
	if (xdp) {
		ret = xdp_attach(fb, ifindex, xdp_bound(ifindex, role));
		if (ret) {
			xdp_refused(cmd, dev, ret, xdp_bound(ifindex, role),
				    "use 'xdp off' to run on tc alone");
			goto fail;
		}
		port.flags |= KVB_PORT_F_XDP;
		/* tc has run since the entry went in: what it bound since */
		addr_count(fb, &port);
		port_store_counted(fb, &port, BPF_ANY);
	}

	if (mac) {
		ret = fdb_static_set(fb, net_id, mac, ifindex);
		if (ret) {
			err("%s: %s: cannot add static FDB entry: %s", cmd, dev,
			    fdb_set_error(ret));
			goto fail;
		}
		/* owned now, so no claim of its EUI-64 addresses follows */
		addr_mac_owned(fb, net_id, mac, ifindex);
	}

	/* last, once the port is whole: other ports' XDP may send to it */
	if (xdp_target(ifindex, role) &&
	    bpf_map_update_elem(fb->xdptx_fd, &ifindex, &ifindex, BPF_ANY)) {
		err("%s: %s: cannot make it an XDP redirect target: %s", cmd,
		    dev, strerror(errno));
		goto fail;
	}
	if (role != KVB_PORT_WAN)
		net_member_add(&net, ifindex);
	if (role == KVB_PORT_UPLINK) {
		net.uplink = ifindex;
		if (dev_get_mac(dev, net.uplink_mac))
			memset(net.uplink_mac, 0, 6);
	} else if (role == KVB_PORT_GATEWAY) {
		net.uplink = ifindex;	/* uplink_mac: the host end's, set */
	}
	if (net_put(fb, &net)) {
		err("%s: %s: cannot update network %s: %s", cmd, dev, net.name,
		    strerror(errno));
		goto fail;
	}
	/* whole: the upkeep leaves it be from now on */
	port.flags &= ~KVB_PORT_F_ATTACHING;
	if (port_store(fb, &port, BPF_EXIST)) {
		err("%s: %s: cannot record the port: %s", cmd, dev,
		    strerror(errno));
		goto fail;
	}
	return 0;
fail:
	port_detach(fb, cmd, &port);
	return 1;
}


