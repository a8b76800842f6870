// SPDX-License-Identifier: MIT
/*
 * The port commands: `attach`, `detach`, `port set`, `port show`. They
 * parse (one keyword table, which the help prints too) and hand over to
 * the networks' library (net.c), which runs its type's checks around the
 * port mechanics of port.c.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

/* where a keyword applies: attach, port set */
#define PK_ATTACH 1
#define PK_SET 2
enum { PK_NET, PK_MAC, PK_IP, PK_SPOOF, PK_ISO, PK_SAVI, PK_XDP, PK_ACL };
static const struct keyword port_kws[] = {
	[PK_NET] = { "net", "NAME", "the network to join (attach only)",
		     PK_ATTACH, 0 },
	[PK_MAC] = { "mac", "MAC", "the guest's MAC: a static FDB entry that\n"
		     "never ages or moves. Without it, spoofcheck\n"
		     "pins the first source MAC the port sends.", 0, 0 },
	[PK_IP] = { "ip", "ADDR", "an IPv4 or IPv6 address the guest may send\n"
		    "from (repeat; 'port set ... ip' replaces the\n"
		    "list, 'ip none' empties it). With no IPv4\n"
		    "address, IPv4 is not checked until a DHCP ACK\n"
		    "to the guest teaches the fabric its address\n"
		    "(for the lease's life).", 0, KW_REPEAT },
	[PK_SPOOF] = { "spoofcheck", "on|off", "on (default): the guest sends only\n"
		       "from its MAC and addresses (plus its MAC-derived\n"
		       "IPv6 link-local, and :: / 0.0.0.0 for DAD and DHCP\n"
		       "discovery), ARP and ND must match them, and it may\n"
		       "not send DHCP server messages, router\n"
		       "advertisements or redirects. off: a trusted\n"
		       "appliance (a router VM).", 0, 0 },
	[PK_ISO] = { "isolated", "on|off", "on: the port reaches the uplink and\n"
		     "the host but no other guest of its network.\n"
		     "Default off.", 0, 0 },
	[PK_SAVI] = { "savi", "on|off", "on (default): with spoofcheck, the guest's\n"
		      "IPv6 addresses are bound first come, first\n"
		      "served (RFC 6620): by its DAD probe or first\n"
		      "use, when no other port holds the address and\n"
		      "it lies in the network's prefixes (link-local\n"
		      "always); at most 16 a port, each for a day past\n"
		      "its last use. off: IPv6 only from its 'ip'\n"
		      "addresses and MAC-derived link-local.", 0, 0 },
	[PK_XDP] = { "xdp", "on|off", "on adds the XDP program to the port; off\n"
		     "(default) runs it on tc alone, which always\n"
		     "enforces policy. XDP drops what admission and\n"
		     "the guard refuse earlier and forwards complete\n"
		     "known-unicast frames to tap guests itself, and\n"
		     "it costs: on a tap every TSO super-frame takes\n"
		     "generic XDP, on a veth the peer loses GSO/TSO\n"
		     "(README, Datapath). An uplink: 'net set NAME\n"
		     "uplink-xdp on|off'.", 0, 0 },
	[PK_ACL] = { "acl", "NAME[,NAME...]|none", "the port's own ACLs (security\n"
		     "groups, 'kvmbpf acl help'), in place of its\n"
		     "network's; none: the network's again", 0, 0 },
};

static void port_details(void)
{
	printf("  attach  join tap (or veth) DEV to network NAME; detach: remove\n"
	       "          it (also cleans up after a device that no longer\n"
	       "          exists); port set: change a port's identity in place.\n"
	       "          Ports are listed by name.\n");
	keyword_help(port_kws, ARRAY_SIZE(port_kws));
	printf("Limits: %d ports per network, %d ports in all, %d addresses\n"
	       "per port.\n", KVB_MAX_NET_PORTS, KVB_MAX_PORTS,
	       KVB_MAX_PORT_ADDRS);
}

/*
 * The keywords attach and port set share. net (attach only) is returned in
 * *netname when netname is not NULL.
 */
static int parse_port_opts(const char *cmd, int argc, char **argv,
			   struct port_opts *o, __u8 mac[6],
			   const char **netname)
{
	unsigned int where = netname ? PK_ATTACH : PK_SET;
	struct kw_seen seen = { 0 };
	bool ip_none = false;

	for (int i = 0; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const struct keyword *kw = keyword_find(port_kws,
							ARRAY_SIZE(port_kws), k);
		bool on;

		if (!kw || (kw->only && !(kw->only & where)))
			return err("%s: unknown keyword '%s' (try 'kvmbpf port "
				   "help')", cmd, k);
		if (keyword_take(cmd, kw, (unsigned int)(kw - port_kws), argc,
				 argv, i, &seen))
			return 1;
		switch (kw - port_kws) {
		case PK_NET:
			*netname = v;
			break;
		case PK_MAC:
			if (parse_mac(v, mac))
				return err("%s: mac %s: not a unicast MAC address "
					   "(xx:xx:xx:xx:xx:xx)", cmd, v);
			o->mac = mac;
			break;
		case PK_ACL:
			if (!strcmp(v, "none"))
				o->nacl = 0;
			else if (acl_list_parse(fab(), cmd, v, o->acl, &o->nacl))
				return 1;
			break;
		case PK_IP:
			if (o->naddrs < 0)
				o->naddrs = 0;
			/* the empty list: no address with it */
			if (!strcmp(v, "none") ? o->naddrs > 0 : ip_none)
				return err("%s: ip none and ip ADDR together",
					   cmd);
			if (!strcmp(v, "none")) {
				ip_none = true;
				break;
			}
			if (o->naddrs >= KVB_MAX_PORT_ADDRS)
				return err("%s: more than %d addresses", cmd,
					   KVB_MAX_PORT_ADDRS);
			if (parse_addr(v, &o->addrs[o->naddrs]))
				return err("%s: ip %s: not a unicast IPv4 or IPv6 "
					   "address", cmd, v);
			for (int a = 0; a < o->naddrs; a++)
				if (!memcmp(&o->addrs[a], &o->addrs[o->naddrs],
					    sizeof(o->addrs[a])))
					return err("%s: ip %s given twice", cmd,
						   v);
			o->naddrs++;
			break;
		default:
			if (parse_onoff(v, &on))
				return err("%s: %s %s: expected on or off", cmd, k,
					   v);
			if (kw - port_kws == PK_SPOOF)
				o->spoofcheck = on;
			else if (kw - port_kws == PK_ISO)
				o->isolated = on;
			else if (kw - port_kws == PK_SAVI)
				o->savi_off = !on;
			else
				o->xdp = on, o->xdp_set = true;
		}
	}
	return 0;
}

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct kvb_addr_key));
}

/* attach's words after DEV into o (attach's defaults) and its network */
static int attach_opts(int argc, char **argv, struct port_opts *o,
		       __u8 mac[6], const char **netname)
{
	memset(o, 0, sizeof(*o));
	o->spoofcheck = true;
	o->naddrs = -1;
	o->nacl = -1;
	*netname = NULL;
	if (parse_port_opts("attach", argc, argv, o, mac, netname) ||
	    !*netname)
		return 1;
	if (o->naddrs < 0)
		o->naddrs = 0;
	if (o->nacl < 0)	/* none given: the network's, as 'acl none' */
		o->nacl = 0;
	qsort(o->addrs, (size_t)o->naddrs, sizeof(o->addrs[0]), addr_cmp);
	return 0;
}

/*
 * Do two attach lines' words after DEV say the same port? Both parsed
 * with attach's defaults: a hand-written line that leaves one out, or
 * lists the addresses in another order, says what save's says.
 */
bool attach_same(int an, char **aw, int bn, char **bw)
{
	struct port_opts a, b;
	const char *na, *nb;
	__u8 ma[6], mb[6];

	if (attach_opts(an, aw, &a, ma, &na) ||
	    attach_opts(bn, bw, &b, mb, &nb))
		return false;
	return !strcmp(na, nb) && !a.mac == !b.mac &&
	       (!a.mac || !memcmp(ma, mb, 6)) &&
	       a.spoofcheck == b.spoofcheck && a.isolated == b.isolated &&
	       a.savi_off == b.savi_off && a.xdp == b.xdp &&
	       a.naddrs == b.naddrs &&
	       !memcmp(a.addrs, b.addrs, (size_t)a.naddrs * sizeof(a.addrs[0])) &&
	       a.nacl == b.nacl &&
	       !memcmp(a.acl, b.acl, (size_t)a.nacl * sizeof(a.acl[0]));
}

/* attach DEV net NAME [mac MAC] [ip ADDR]... [spoofcheck on|off] ... */
static int attach_run(int argc, char **argv)
{
	struct fabric *fb;
	int ret;
	/*
	 * XDP off by default: it forwards nothing yet, so it can only cost
	 * (generic XDP for every TSO frame of a tap, GSO off on a veth's
	 * peer); docs/BENCHMARKS.md has the measurements.
	 */
	struct port_opts o = { .xdp = false, .spoofcheck = true, .naddrs = -1,
			       .nacl = -1 };
	const char *netname = NULL;
	struct kvb_net net;
	__u8 mac[6];

	if (argc < 1)
		return err("attach: missing DEV (try 'kvmbpf attach help')");
	if (parse_port_opts("attach", argc - 1, argv + 1, &o, mac, &netname))
		return 1;
	if (!netname)
		return err("attach: missing 'net NAME'");
	fb = fab();
	if (!fb)
		return 1;
	if (net_find(fb, netname, &net))
		return err("attach: network %s does not exist", netname);
	if (net_port_attach(fb, "attach", argv[0], &net, &o))
		return 1;
	/* no ACL of its own: its network's apply all the same */
	ret = o.nacl < 0 ? acl_sync(fb, "attach") :
			   acl_port_set(fb, "attach", if_nametoindex(argv[0]),
					o.nacl, o.acl);
	if (ret) {
		/* its ACLs not in force: not left attached, unjudged */
		struct kvb_port p;

		if (!port_get(fb, if_nametoindex(argv[0]), &p))
			net_port_detach(fb, "attach", &p);
	}
	return ret;
}

/* mac is another port's static address in p's network: told, 1 */
static int mac_held_elsewhere(struct fabric *fb, const struct kvb_port *p,
			      const __u8 *mac)
{
	__u32 owner = fdb_static_owner(fb, p->net_id, mac);
	char m[18];

	if (!owner || owner == p->ifindex)
		return 0;
	fmt_mac(mac, m);
	return err("port set: mac %s is already the static address of "
		   "another port", m);
}

/* port set DEV ...: change a port's identity without detaching it. */
static int port_set(int argc, char **argv)
{
	struct port_opts o = { .naddrs = -1, .nacl = -1 };
	struct kvb_port p, old, old_xdp;
	struct kvb_net net;
	struct fabric *fb;
	bool xdp_new = false, mac_moved = false, had_old = false;
	struct kvb_fdb_key mac_key = { 0 };
	struct kvb_fdb_entry old_fdb;
	__u16 old_acl[KVB_ACL_PER_PORT];
	int old_nacl = -1;
	__u8 mac[6];

	if (argc < 2)
		return err("port set: expected DEV and at least one setting");
	fb = fab();
	if (!fb)
		return 1;
	if (port_resolve(fb, argv[0], &p))
		return err("port set: device %s is not attached", argv[0]);
	if (p.role != KVB_PORT_GUEST)
		return err("port set: %s is an uplink, gateway or WAN port: it "
			   "has no guest identity", argv[0]);
	o.spoofcheck = p.flags & KVB_PORT_F_SPOOFCHECK;
	o.isolated = p.flags & KVB_PORT_F_ISOLATED;
	o.savi_off = p.flags & KVB_PORT_F_SAVI_OFF;
	if (parse_port_opts("port set", argc - 1, argv + 1, &o, mac, NULL))
		return 1;
	if (!net_get(fb, p.net_id, &net) && net_ops(net.type)->attach_port &&
	    net_ops(net.type)->attach_port(&net, "port set", &o))
		return 1;
	/* ACLs the datapath cannot take refuse the command before anything
	 * of it changed */
	if (o.nacl > 0 && acl_list_fits(fb, "port set", o.acl, o.nacl))
		return 1;
	/* a MAC another port holds refuses the command before anything
	 * of it changed (checked again where it is set: a guest's first
	 * frame may pin it in between) */
	if (o.mac && mac_held_elsewhere(fb, &p, o.mac))
		return 1;
	/* and so do addresses another port holds */
	if (addr_check(fb, "port set", &p, &o))
		return 1;
	/* the ACLs first, the step whose tables may be full: a failure
	 * there changed nothing else (acl_port_set puts the port's list
	 * back); a later step's failure puts them back too */
	if (o.nacl >= 0) {
		old_nacl = acl_port_own(fb, &p, old_acl);
		if (acl_port_set(fb, "port set", p.ifindex, o.nacl, o.acl))
			return 1;
	}
	old = p;
	/*
	 * XDP that cannot be attached (a driver without native XDP) fails
	 * the command before anything else changed; taken off again should
	 * a later step fail. Removing it cannot fail that way: last.
	 */
	if (o.xdp_set && o.xdp && !(p.flags & KVB_PORT_F_XDP)) {
		if (port_xdp_set(fb, "port set", &p, true))
			goto undo_acl;
		old_xdp = p;	/* the entry as written */
		xdp_new = true;
	}
	if (o.mac) {
		int ret;

		if (mac_held_elsewhere(fb, &p, o.mac))
			goto undo;
		/* the old MAC's entry as it is, for undo */
		memcpy(mac_key.mac, old.mac, 6);
		mac_key.net_id = p.net_id;
		had_old = !bpf_map_lookup_elem(fb->fdb_fd, &mac_key, &old_fdb);
		ret = fdb_static_set(fb, p.net_id, o.mac, p.ifindex);
		if (ret) {
			err("port set: %s: cannot add static FDB entry: %s",
			    p.name, fdb_set_error(ret));
			goto undo;
		}
		/* the old static entry (configured or pinned) goes,
		 * unless it is the same MAC */
		if (memcmp(old.mac, o.mac, 6)) {
			fdb_release(fb, p.net_id, old.mac, p.ifindex);
			mac_moved = true;
		}
		memcpy(p.mac, o.mac, 6);
		p.flags &= ~KVB_PORT_F_MAC_PINNED;
	}
	p.flags &= ~(KVB_PORT_F_SPOOFCHECK | KVB_PORT_F_ISOLATED |
		     KVB_PORT_F_SAVI_OFF);
	if (o.spoofcheck)
		p.flags |= KVB_PORT_F_SPOOFCHECK;
	if (o.isolated)
		p.flags |= KVB_PORT_F_ISOLATED;
	if (o.savi_off)
		p.flags |= KVB_PORT_F_SAVI_OFF;
	if (addr_set(fb, "port set", &p, &o))
		goto undo;
	if (o.xdp_set && !o.xdp && port_xdp_set(fb, "port set", &p, false))
		goto undo;
	/* the datapath writes the entry too, maybe since it was read (the
	 * ACL step waits): the address counts as the map has them now;
	 * held and a MAC the guest's first frame pinned: port_store */
	addr_count(fb, &p);
	if (port_store_counted(fb, &p, BPF_EXIST)) {
		err("port set: %s: %s", p.name, strerror(errno));
		goto undo;
	}
	/* spoofcheck on, in the entry: what the guest sent from other
	 * MACs while it was off is no longer its (fdb_purge_learned_others) */
	if ((p.flags & KVB_PORT_F_SPOOFCHECK) &&
	    !(old.flags & KVB_PORT_F_SPOOFCHECK))
		fdb_purge_learned_others(fb, p.ifindex, p.mac);
	/* savi off is in the entry the datapath reads only now: a binding
	 * it learned from a frame while the command ran (after addr_set's
	 * purge) goes too (seen in CI: the link-local's, relearned) */
	if ((p.flags & KVB_PORT_F_SAVI_OFF) &&
	    !(old.flags & KVB_PORT_F_SAVI_OFF)) {
		addr_purge(fb, p.ifindex, KVB_ADDR_F_SAVI);
		addr_count(fb, &p);
		port_store_counted(fb, &p, BPF_EXIST);
	}
	if (o.mac) {
		/* a MAC the guest's first frame pinned after p was read
		 * is not the port's: its static entry goes too */
		fdb_purge_others(fb, p.ifindex, o.mac);
		addr_mac_owned(fb, p.net_id, o.mac, p.ifindex);
		/* the forwards to the port know the VM by its new MAC */
		fwd_port_mac(fb, p.ifindex, o.mac);
	}
	net_ports_changed(fb, p.net_id);
	return 0;
undo_acl:
	if (old_nacl >= 0)
		acl_port_set(fb, "port set", p.ifindex, old_nacl, old_acl);
	return 1;
undo:
	/* the guest keeps its MAC: the new one's entry goes, the old one's
	 * comes back as it was */
	if (mac_moved) {
		/* the new MAC's entry is the reservation's again if it was
		 * reserved; the old one's as it was */
		fdb_release(fb, p.net_id, o.mac, p.ifindex);
		if (had_old)
			bpf_map_update_elem(fb->fdb_fd, &mac_key, &old_fdb,
					    BPF_ANY);
	}
	if (xdp_new) {
		/* the entry as written then, but the configured address it
		 * names as the bindings are now (addr_set may have failed
		 * to put the old ones back) */
		addr_count(fb, &old_xdp);
		port_xdp_set(fb, "port set", &old_xdp, false);
	}
	if (old_nacl >= 0)
		acl_port_set(fb, "port set", p.ifindex, old_nacl, old_acl);
	return 1;
}

static int detach_run(int argc, char **argv)
{
	struct fabric *fb;
	struct kvb_port p;

	if (argc < 1 || !argv[0][0])
		return err("detach: missing DEV");
	if (argc > 1)
		return err("detach: unexpected argument '%s'", argv[1]);
	fb = fab();
	if (!fb)
		return 1;
	if (port_resolve(fb, argv[0], &p)) {
		/* its device vanished (QEMU killed): the upkeep that ran
		 * first removed the port, which is what detach is for */
		if (fabric_gc_forgot(argv[0]))
			return 0;
		/* gone before: another command's upkeep removed it (a
		 * tap QEMU took with it, detached twice) */
		if (!if_nametoindex(argv[0])) {
			warn("detach: %s: no such device, and no port of that "
			     "name: nothing to detach", argv[0]);
			return 0;
		}
		return err("detach: device %s is not attached", argv[0]);
	}
	if (p.role != KVB_PORT_GUEST)
		return err("detach: %s is the %s of a network: change the "
			   "network instead ('net del')", argv[0],
			   p.role == KVB_PORT_UPLINK ? "uplink" :
			   p.role == KVB_PORT_WAN ? "WAN device" : "gateway");
	if (net_port_detach(fb, "detach", &p))
		return 1;
	return acl_tidy(fb, "detach");
}

static const char *const role_names[] = {
	[KVB_PORT_GUEST] = "guest",
	[KVB_PORT_UPLINK] = "uplink",
	[KVB_PORT_GATEWAY] = "gateway",
	[KVB_PORT_WAN] = "wan",
	[KVB_PORT_OVERLAY] = "overlay",
};

static void show_port(struct fabric *fb, const struct kvb_port *p)
{
	char ifn[16], macbuf[18] = "";
	struct kvb_net net;
	/* the VXLAN device serves every overlay network: none of its own */
	const char *netname = p->role == KVB_PORT_OVERLAY ? NULL :
			      net_get(fb, p->net_id, &net) ? "?" : net.name;
	bool has_mac = !mac_zero(p->mac);
	const char *role = p->role < ARRAY_SIZE(role_names) &&
			   role_names[p->role] ? role_names[p->role] : "guest";

	ifname_of(p->ifindex, p, ifn);
	if (has_mac)
		fmt_mac(p->mac, macbuf);
	open_json_object(NULL);
	print_string(PRINT_ANY, "dev", "%-15s", ifn);
	print_uint(PRINT_ANY, "ifindex", " ifindex %-5llu", p->ifindex);
	print_string(PRINT_ANY, "net", " net %-15s", netname);
	print_string(PRINT_ANY, "role", " role %-6s", role);
	print_string(PRINT_ANY, "mac", " mac %-17s", has_mac ? macbuf : NULL);
	print_bool(PRINT_JSON, "mac_pinned", NULL,
		   p->flags & KVB_PORT_F_MAC_PINNED);
	if (p->flags & KVB_PORT_F_MAC_PINNED)
		print_text(" (pinned)");
	print_onoff(PRINT_ANY, "spoofcheck", " spoofcheck %s",
		    p->flags & KVB_PORT_F_SPOOFCHECK);
	print_onoff(PRINT_ANY, "isolated", " isolated %s",
		    p->flags & KVB_PORT_F_ISOLATED);
	print_onoff(PRINT_ANY, "savi", " savi %s",
		    !(p->flags & KVB_PORT_F_SAVI_OFF));
	print_onoff(PRINT_ANY, "xdp", " xdp %s", p->flags & KVB_PORT_F_XDP);
	/* a WAN device without an Ethernet header (tun, WireGuard, PPP) */
	if (p->role == KVB_PORT_WAN)
		print_bool(PRINT_ANY, "layer3", " layer3 %s",
			   p->flags & KVB_PORT_F_L3);
	if (p->role == KVB_PORT_GUEST) {
		__u16 ids[KVB_ACL_PER_PORT];
		int k = acl_port_effective(fb, p, ids);
		char names[256];

		acl_list_fmt(fb, ids, k, names, sizeof(names));
		print_string(PRINT_TEXT, NULL, " acl %s", k ? names : "none");
		open_json_array("acl");
		for (int i = 0; i < k; i++) {
			acl_list_fmt(fb, &ids[i], 1, names, sizeof(names));
			print_string(PRINT_JSON, NULL, NULL, names);
		}
		close_json_array();
		print_bool(PRINT_JSON, "acl_own", NULL,
			   acl_port_own(fb, p, ids) > 0);
	}
	addr_print(fb, p->ifindex);
	/* an attach stopped half-way: what it changed is recorded, and the
	 * next changing command (or gc) takes the port out again */
	print_bool(PRINT_JSON, "attaching", NULL,
		   p->flags & KVB_PORT_F_ATTACHING);
	if (p->flags & KVB_PORT_F_ATTACHING)
		print_text(" (attach stopped half-way: the next changing "
			   "command or gc detaches it)");
	print_nl();
	close_json_object();
}

static int port_show(int argc, char **argv)
{
	struct kvb_port p, *ps;
	struct fabric *fb;
	int n;

	if (argc > 1)
		return err("port show: unexpected argument '%s'", argv[1]);
	fb = fab_ro();
	if (!fb)
		return 1;
	if (argc == 1) {
		if (port_resolve(fb, argv[0], &p))
			return err("port show: device %s is not attached",
				   argv[0]);
		/* another device at a departed port's ifindex (bb22): the
		 * entry is the old device's, which the next upkeep forgets */
		if (strcmp(p.name, argv[0]) && !tc_present(p.ifindex))
			return err("port show: device %s is not attached (its "
				   "ifindex held port %s, whose device is gone: "
				   "the next changing command or gc forgets "
				   "it)", argv[0], p.name);
		show_port(fb, &p);
		return 0;
	}
	n = port_list(fb, &ps);
	if (n < 0)
		return err("port show: %s", strerror(-n));
	open_json_array(NULL);
	for (int i = 0; i < n; i++)
		show_port(fb, &ps[i]);
	close_json_array();
	free(ps);
	return 0;
}

const struct object obj_port = {
	.name = "port",
	.cmds = (const struct cmd[]){
		{ "show", port_show, "[DEV]", 0 },
		{ "list", port_show, NULL, 0 },
		{ "set", port_set, "DEV [mac MAC] [ip ADDR]... [ip none] "
		  "[spoofcheck on|off] [isolated on|off] [savi on|off] "
		  "[xdp on|off] [acl NAME[,NAME...]|none]", CMD_TEND },
		{ NULL, NULL, NULL, 0 },
	},
	.details = port_details,
};

const struct object obj_attach = {
	.name = "attach",
	.cmds = (const struct cmd[]){
		{ NULL, attach_run, "DEV net NAME [mac MAC] [ip ADDR]... "
		  "[spoofcheck on|off] [isolated on|off] [savi on|off] "
		  "[xdp on|off] [acl NAME[,NAME...]]", CMD_TEND },
		{ NULL, NULL, NULL, 0 },
	},
	.details = port_details,
};

const struct object obj_detach = {
	.name = "detach",
	.cmds = (const struct cmd[]){
		{ NULL, detach_run, "DEV", CMD_TEND },
		{ NULL, NULL, NULL, 0 },
	},
	.details = port_details,
	.summary = "take DEV out of its network",
};
