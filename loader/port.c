// SPDX-License-Identifier: MIT
/*
 * Ports: `attach`, `detach`, `port show`. A port is one device in one
 * network. Attach writes the maps before it hooks the programs, and joins
 * the network's flood list last, so the datapath never sees half a port;
 * detach undoes it in the reverse order. A failed attach rolls back.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"

static int port_help(void)
{
	fprintf(stderr,
		"Usage: kvmbpf attach DEV net NAME [mac MAC] [xdp on|off]\n"
		"       kvmbpf detach DEV\n"
		"       kvmbpf port show [DEV]\n"
		"\n"
		"  attach  join tap (or veth) DEV to network NAME. MAC, when\n"
		"          given, is the guest's address: a static FDB entry\n"
		"          that never ages or moves. xdp on (default) adds the\n"
		"          XDP accelerator; tc always enforces policy.\n"
		"  detach  remove DEV from its network; also cleans up after a\n"
		"          device that no longer exists.\n"
		"Limits: %d ports per network, %d ports in all.\n",
		KVB_MAX_NET_PORTS, KVB_MAX_PORTS);
	return 0;
}

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

/* Remove every FDB entry that points at ifindex, or belongs to net_id. */
void fdb_purge(struct fabric *fb, __u32 ifindex, __u32 net_id)
{
	struct kvb_fdb_key key, next, *prev = NULL;
	struct kvb_fdb_entry e;

	while (!bpf_map_get_next_key(fb->fdb_fd, prev, &next)) {
		key = next;
		if (!bpf_map_lookup_elem(fb->fdb_fd, &key, &e) &&
		    ((ifindex && e.ifindex == ifindex) ||
		     (net_id && key.net_id == net_id))) {
			bpf_map_delete_elem(fb->fdb_fd, &key);
			/* deleted: restart from the beginning to stay valid */
			prev = NULL;
			continue;
		}
		prev = &key;
	}
}

static void net_member_remove(struct kvb_net *net, __u32 ifindex)
{
	__u16 w = 0;

	for (__u16 i = 0; i < net->nports && i < KVB_MAX_NET_PORTS; i++)
		if (net->ports[i] != ifindex)
			net->ports[w++] = net->ports[i];
	for (__u16 i = w; i < KVB_MAX_NET_PORTS; i++)
		net->ports[i] = 0;
	net->nports = w;
}

int port_detach(struct fabric *fb, const char *cmd, const struct kvb_port *p)
{
	struct kvb_net net;
	bool exists = if_indextoname(p->ifindex, (char[IF_NAMESIZE]){ 0 });

	/* Stop flooding to it first, then unhook, then forget it. */
	if (!net_get(fb, p->net_id, &net)) {
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
		if (p->role == KVB_PORT_UPLINK)
			tc_detach(p->ifindex, true, false);
		if (p->flags & KVB_PORT_F_OWN_CLSACT)
			tc_detach(p->ifindex, false, true);
		if (p->flags & KVB_PORT_F_PROMISC)
			dev_set_promisc(p->name, false);
	} else {
		/* The device is gone and took its hooks along; drop the pin. */
		xdp_detach(fb, p->ifindex);
	}
	fdb_purge(fb, p->ifindex, 0);
	bpf_map_delete_elem(fb->stats_fd, &p->ifindex);
	bpf_map_delete_elem(fb->port_fd, &p->ifindex);
	return 0;
}

int port_attach(struct fabric *fb, const char *cmd, const char *dev,
		__u32 net_id, __u32 role, const __u8 *mac, bool xdp)
{
	struct kvb_port port = {}, old;
	struct kvb_stats *zero = NULL;
	struct kvb_net net;
	bool created = false;
	__u32 ifindex;
	int ncpu, ret;

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
		return err("%s: device %s is already attached to network %s "
			   "(detach it first)", cmd, dev, other.name);
	}
	if (net.nports >= KVB_MAX_NET_PORTS)
		return err("%s: network %s is full (%d ports)", cmd, net.name,
			   KVB_MAX_NET_PORTS);
	if (count_ports(fb) >= KVB_MAX_PORTS)
		return err("%s: too many ports (%d)", cmd, KVB_MAX_PORTS);

	if (mac) {
		struct kvb_fdb_key k = { .net_id = net_id };
		struct kvb_fdb_entry e;

		memcpy(k.mac, mac, 6);
		if (!bpf_map_lookup_elem(fb->fdb_fd, &k, &e) &&
		    (e.flags & KVB_FDB_F_STATIC)) {
			char buf[18];

			fmt_mac(mac, buf);
			return err("%s: mac %s is already the static address of "
				   "another port in network %s", cmd, buf,
				   net.name);
		}
	}

	snprintf(port.name, sizeof(port.name), "%s", dev);
	port.ifindex = ifindex;
	port.net_id = net_id;
	port.role = role;
	if (mac)
		memcpy(port.mac, mac, 6);

	ncpu = libbpf_num_possible_cpus();
	zero = calloc((size_t)ncpu, sizeof(*zero));
	if (!zero)
		return err("%s: out of memory", cmd);
	ret = bpf_map_update_elem(fb->stats_fd, &ifindex, zero, BPF_NOEXIST);
	free(zero);
	if (ret)
		return err("%s: %s: cannot create counters: %s", cmd, dev,
			   strerror(errno));

	if (role == KVB_PORT_UPLINK) {
		unsigned int flags = 0;
		FILE *f;
		char path[128];

		/* Leave promiscuity alone if someone else already set it. */
		snprintf(path, sizeof(path), "/sys/class/net/%s/flags", dev);
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%x", &flags) != 1)
				flags = 0;
			fclose(f);
		}
		if (!(flags & IFF_PROMISC)) {
			ret = dev_set_promisc(dev, true);
			if (ret) {
				err("%s: %s: cannot enable promiscuous mode: %s",
				    cmd, dev, strerror(-ret));
				goto fail;
			}
			port.flags |= KVB_PORT_F_PROMISC;
		}
	}

	ret = tc_attach(fb, ifindex, false, &created);
	if (created)
		port.flags |= KVB_PORT_F_OWN_CLSACT;
	/* Record what we hooked so far, so a rollback undoes exactly that. */
	if (!ret && bpf_map_update_elem(fb->port_fd, &ifindex, &port, BPF_ANY))
		ret = -errno;
	if (ret) {
		err("%s: %s: cannot attach tc program: %s", cmd, dev,
		    strerror(-ret));
		goto fail;
	}
	if (role == KVB_PORT_UPLINK) {
		ret = tc_attach(fb, ifindex, true, NULL);
		if (ret) {
			err("%s: %s: cannot attach tc egress program: %s", cmd,
			    dev, strerror(-ret));
			goto fail;
		}
	}
	if (xdp) {
		ret = xdp_attach(fb, ifindex);
		if (ret) {
			err("%s: %s: cannot attach XDP program: %s (use 'xdp "
			    "off' to run on tc alone)", cmd, dev,
			    strerror(-ret));
			goto fail;
		}
		port.flags |= KVB_PORT_F_XDP;
		bpf_map_update_elem(fb->port_fd, &ifindex, &port, BPF_ANY);
	}

	if (mac) {
		struct kvb_fdb_key k = { .net_id = net_id };
		struct kvb_fdb_entry e = { .ifindex = ifindex,
					   .flags = KVB_FDB_F_STATIC };

		memcpy(k.mac, mac, 6);
		if (bpf_map_update_elem(fb->fdb_fd, &k, &e, BPF_ANY)) {
			err("%s: %s: cannot add static FDB entry: %s", cmd, dev,
			    strerror(errno));
			goto fail;
		}
	}

	net.ports[net.nports++] = ifindex;
	if (role == KVB_PORT_UPLINK) {
		net.uplink = ifindex;
		if (dev_get_mac(dev, net.uplink_mac))
			memset(net.uplink_mac, 0, 6);
	}
	if (net_put(fb, &net)) {
		err("%s: %s: cannot update network %s: %s", cmd, dev, net.name,
		    strerror(errno));
		goto fail;
	}
	return 0;
fail:
	port_detach(fb, cmd, &port);
	return 1;
}

/* attach DEV net NAME [mac MAC] [xdp on|off] */
int do_attach(int argc, char **argv)
{
	const char *dev, *netname = NULL;
	__u8 mac[6];
	bool have_mac = false, xdp = true;
	struct kvb_net net;

	if (argc < 1 || is_help(argv[0]))
		return port_help() || argc < 1;
	dev = argv[0];
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			return err("attach: %s needs a value", argv[i]);
		if (!strcmp(argv[i], "net")) {
			netname = argv[i + 1];
		} else if (!strcmp(argv[i], "mac")) {
			if (parse_mac(argv[i + 1], mac))
				return err("attach: mac %s: not a unicast MAC "
					   "address (xx:xx:xx:xx:xx:xx)",
					   argv[i + 1]);
			have_mac = true;
		} else if (!strcmp(argv[i], "xdp")) {
			if (strcmp(argv[i + 1], "on") &&
			    strcmp(argv[i + 1], "off"))
				return err("attach: xdp %s: expected on or off",
					   argv[i + 1]);
			xdp = !strcmp(argv[i + 1], "on");
		} else {
			return err("attach: unknown keyword '%s'", argv[i]);
		}
	}
	if (!netname)
		return err("attach: missing 'net NAME'");
	if (net_find(fab(), netname, &net))
		return err("attach: network %s does not exist", netname);
	return port_attach(fab(), "attach", dev, net.id, KVB_PORT_GUEST,
			   have_mac ? mac : NULL, xdp);
}

int do_detach(int argc, char **argv)
{
	struct kvb_port p;

	if (argc < 1 || is_help(argv[0]))
		return port_help() || argc < 1;
	if (argc > 1)
		return err("detach: unexpected argument '%s'", argv[1]);
	if (port_resolve(fab(), argv[0], &p))
		return err("detach: device %s is not attached", argv[0]);
	if (p.role == KVB_PORT_UPLINK)
		return err("detach: %s is the uplink of its network: change "
			   "the network instead ('net del')", argv[0]);
	return port_detach(fab(), "detach", &p);
}

static void show_port(struct jw *w, struct fabric *fb,
		      const struct kvb_port *p)
{
	char ifn[16], macbuf[18] = "";
	struct kvb_net net;
	const char *netname = net_get(fb, p->net_id, &net) ? "?" : net.name;
	bool has_mac = p->mac[0] | p->mac[1] | p->mac[2] | p->mac[3] |
		       p->mac[4] | p->mac[5];
	const char *role = p->role == KVB_PORT_UPLINK ? "uplink" : "guest";

	ifname_of(p->ifindex, p, ifn);
	if (has_mac)
		fmt_mac(p->mac, macbuf);
	if (w) {
		jw_obj_begin(w);
		jw_kstr(w, "dev", ifn);
		jw_kuint(w, "ifindex", p->ifindex);
		jw_kstr(w, "net", netname);
		jw_kstr(w, "role", role);
		jw_kstr(w, "mac", has_mac ? macbuf : NULL);
		jw_kbool(w, "xdp", p->flags & KVB_PORT_F_XDP);
		jw_obj_end(w);
		return;
	}
	printf("%-15s ifindex %-5u net %-15s role %-6s mac %-17s xdp %s\n", ifn,
	       p->ifindex, netname, role, has_mac ? macbuf : "-",
	       p->flags & KVB_PORT_F_XDP ? "on" : "off");
}

static int port_show(int argc, char **argv)
{
	struct fabric *fb;
	struct jw *w = NULL;
	struct kvb_port p;
	__u32 key, *prev = NULL;

	if (argc > 1)
		return err("port show: unexpected argument '%s'", argv[1]);
	fb = fab();
	if (argc == 1 && port_resolve(fb, argv[0], &p))
		return err("port show: device %s is not attached", argv[0]);
	if (opts.json) {
		w = jw_new(stdout, opts.pretty);
		jw_arr_begin(w);
	}
	if (argc == 1) {
		show_port(w, fb, &p);
	} else {
		while (!bpf_map_get_next_key(fb->port_fd, prev, &key)) {
			prev = &key;
			if (!port_get(fb, key, &p))
				show_port(w, fb, &p);
		}
	}
	if (w) {
		jw_arr_end(w);
		jw_free(w);
	}
	return 0;
}

int do_port(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "show", port_show },
		{ "list", port_show },
		{ NULL, NULL },
	};

	return dispatch("port", cmds, argc, argv, port_help);
}
