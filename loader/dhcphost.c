// SPDX-License-Identifier: MIT
/*
 * DHCP host reservations (libvirt's <host mac=... ip=...>): an address of
 * a network with DHCP that dnsmasq leases to one MAC only (IPv4 with a
 * MAC), or to no client at all (without a MAC, and every IPv6 one: DHCPv6
 * names its clients by DUID), whether or not a port holds it now. A
 * guest whose address is given with `ip` holds it only while its port is
 * attached; a reservation keeps it while the VM is stopped, so that no
 * other guest's lease takes it and the VM's next `attach` is not refused.
 *
 * Kept in kvb_dhcphost (the loader's alone, read through reserve.c);
 * dhcp.c writes them into dnsmasq's hosts file, addr.c refuses a
 * reserved address to a port of another MAC, and a reservation's MAC has
 * a static entry of no port in the MAC table (fdb_reserve), so that no
 * guest pins it from its frames and is leased the address in the VM's
 * place: only a port given that `mac` takes it (the entry comes back
 * when the port goes or changes its MAC: dhcphost_fdb_hold).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

struct host_args {
	struct kvb_net net;
	struct kvb_dhcphost_key k;
	struct kvb_dhcphost v;
};

static void host_key_addr(const struct kvb_dhcphost_key *k,
			  struct kvb_addr_key *a)
{
	memset(a, 0, sizeof(*a));
	a->family = k->family;
	memcpy(a->addr, k->addr, 16);
}

/* NET ip ADDR [mac MAC] (with_mac) or NET ip ADDR, into a. */
static int host_parse(struct fabric *fb, const char *cmd, int argc,
		      char **argv, bool with_mac, struct host_args *a)
{
	const char *usage = with_mac ? "NET ip ADDR [mac MAC]" : "NET ip ADDR";
	struct kvb_addr_key ak;
	bool have_ip = false;

	memset(a, 0, sizeof(*a));
	if (argc < 1 || is_help(argv[0]))
		return err("%s: expected %s", cmd, usage);
	if (net_find(fb, argv[0], &a->net))
		return err("%s: network %s does not exist", cmd, argv[0]);
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			return err("%s: %s needs a value (expected %s)", cmd,
				   argv[i], usage);
		if (!strcmp(argv[i], "ip") && !have_ip) {
			if (parse_addr(argv[i + 1], &ak))
				return err("%s: ip %s: not an address", cmd,
					   argv[i + 1]);
			have_ip = true;
		} else if (!strcmp(argv[i], "mac") && with_mac &&
			   !a->v.has_mac) {
			if (parse_mac(argv[i + 1], a->v.mac) ||
			    mac_zero(a->v.mac) || (a->v.mac[0] & 1))
				return err("%s: mac %s: not a unicast MAC "
					   "address", cmd, argv[i + 1]);
			a->v.has_mac = 1;
		} else {
			return err("%s: unexpected '%s' (expected %s)", cmd,
				   argv[i], usage);
		}
	}
	if (!have_ip)
		return err("%s: expected %s", cmd, usage);
	a->k.net_id = a->net.id;
	a->k.family = ak.family;
	memcpy(a->k.addr, ak.addr, 16);
	return 0;
}

static void count_mac(const struct kvb_dhcphost_key *k,
		      const struct kvb_dhcphost *v, void *arg)
{
	(void)k;
	*(__u32 *)arg += v->has_mac;
}

static void hold_one(const struct kvb_dhcphost_key *k,
		     const struct kvb_dhcphost *v, void *arg)
{
	if (v->has_mac)
		fdb_reserve(arg, k->net_id, v->mac);
}

static void pinned_one(const struct kvb_dhcphost_key *k,
		       const struct kvb_dhcphost *v, void *arg)
{
	struct fabric *fb = arg;
	struct kvb_addr_key a;
	struct kvb_net net;
	struct kvb_port p;
	char ip[64], mac[18];
	__u32 owner;

	if (!v->has_mac)
		return;
	owner = fdb_static_owner(fb, k->net_id, v->mac);
	if (!owner || port_get(fb, owner, &p) || port_mac_given(&p) ||
	    net_get(fb, k->net_id, &net))
		return;
	host_key_addr(k, &a);
	fmt_addr(&a, ip);
	fmt_mac(v->mac, mac);
	warn("reservation %s in %s: its MAC %s is pinned by port %s (from "
	     "its frames); once that port goes, only a port given 'mac %s' "
	     "takes it (attach ... mac, as the libvirt hook does)", ip,
	     net.name, mac, p.name, mac);
}

/*
 * After an upgrade: a reservation whose MAC a port pinned from its frames
 * (which a build before reserved MACs allowed) is said, as that guest,
 * attached again the same way, would find its MAC the reservation's.
 */
void dhcphost_pinned_warn(struct fabric *fb)
{
	dhcphost_each(fb, 0, pinned_one, fb);
}

/*
 * Every reservation's MAC of net_id (0: all) that nothing holds has its
 * reserved entry in the MAC table again: one a port without spoofcheck
 * or another host (overlay) sent from lately gets it once that entry
 * aged, one an older build reserved gets it at once (upgrade). The
 * upkeep of every changing command runs it (fabric_tend).
 */
void dhcphost_fdb_hold(struct fabric *fb, __u32 net_id)
{
	dhcphost_each(fb, net_id, hold_one, fb);
}

/* A port of net_id with the given MAC mac and a static IPv4 address other
 * than a (into *other): its ifindex, else 0. */
struct mac_static {
	struct fabric *fb;
	__u32 net_id;
	const __u8 *mac, *a;
	struct kvb_addr_key other;
	__u32 ifindex;
};

static void mac_static_one(const void *key, const void *value, void *arg)
{
	const struct kvb_addr_key *k = key;
	const struct kvb_addr *v = value;
	struct mac_static *m = arg;
	const __u8 *given;
	struct kvb_port p;

	if (m->ifindex || !k->ifindex || k->family != 4 ||
	    !(v->flags & KVB_ADDR_F_STATIC) || !memcmp(k->addr, m->a, 4) ||
	    port_get(m->fb, k->ifindex, &p) || p.net_id != m->net_id)
		return;
	given = port_mac_given(&p);
	if (given && !memcmp(given, m->mac, 6)) {
		m->other = *k;
		m->ifindex = k->ifindex;
	}
}

/*
 * May a reservation (a) stand beside what the network's ports and its
 * server hold now? Not if a port holds the address by a lease or a
 * first claim (a reservation without a MAC would have its renewal
 * refused), nor with a MAC other than the one it names (or a MAC only
 * pinned from its frames: save and load would not give it back), nor
 * while dnsmasq's lease file has it for another client (one the fabric
 * never bound: taken before the port was attached); and a MAC the port
 * was given with a static IPv4 of its own is not reserved another (two
 * dnsmasq lines for one MAC). A port that holds the address statically
 * keeps it: a reservation with no MAC is what protects such an address.
 */
static int host_fits(struct fabric *fb, const char *cmd,
		     const struct host_args *a)
{
	struct mac_static ms = { .fb = fb, .net_id = a->net.id,
				 .mac = a->v.mac, .a = a->k.addr };
	struct kvb_addr_key ak;
	const __u8 *given;
	struct kvb_port p;
	struct kvb_addr b;
	char ip[64], mac[18], o[64];
	__u8 who[6];

	host_key_addr(&a->k, &ak);
	fmt_addr(&ak, ip);
	/* a MAC a port pinned from its frames is that guest's until it
	 * goes: not reserved for another VM under it */
	if (a->v.has_mac) {
		__u32 owner = fdb_static_owner(fb, a->net.id, a->v.mac);
		struct kvb_fdb_key fk = { .net_id = a->net.id };
		struct kvb_fdb_entry fe;

		fmt_mac(a->v.mac, mac);
		if (owner && !port_get(fb, owner, &p) && !port_mac_given(&p))
			return err("%s: MAC %s is pinned by port %s (from its "
				   "frames): give the port that mac (port set "
				   "%s mac ...), or detach it first", cmd, mac,
				   p.name, p.name);
		/* and one a port without spoofcheck sends from: learned,
		 * it would never be learned again under the reservation */
		memcpy(fk.mac, a->v.mac, 6);
		if (!bpf_map_lookup_elem(fb->fdb_fd, &fk, &fe) &&
		    !(fe.flags & (KVB_FDB_F_STATIC | KVB_FDB_F_REMOTE)) &&
		    !kvb_fdb_entry_aged(&fe, clock_mono_exact_ns()) &&
		    !port_get(fb, fe.ifindex, &p) && p.role == KVB_PORT_GUEST)
			return err("%s: MAC %s is in use by port %s (learned "
				   "from its frames): give the port that mac "
				   "(port set %s mac ...), or detach it first",
				   cmd, mac, p.name, p.name);
		/* one MAC, one address: not another port's static MAC */
		map_walk(fb->addr_fd, sizeof(struct kvb_addr_key),
			 sizeof(struct kvb_addr), mac_static_one, &ms);
		if (ms.ifindex && !port_get(fb, ms.ifindex, &p)) {
			fmt_mac(a->v.mac, mac);
			fmt_addr(&ms.other, o);
			return err("%s: MAC %s is port %s's, with the static "
				   "address %s: one MAC, one address (port set "
				   "%s ip ... first)", cmd, mac, p.name, o,
				   p.name);
		}
	}
	if (dhcp_leased_elsewhere(&a->net, a->k.family, a->k.addr,
				  a->v.has_mac ? a->v.mac : NULL, who)) {
		fmt_mac(who, mac);
		return err("%s: ip %s is leased by the network's DHCP server "
			   "(%s%s): reserve it once that lease ends", cmd, ip,
			   a->k.family == 4 ? "to " : "DHCPv6",
			   a->k.family == 4 ? mac : "");
	}
	if (addr_holder(fb, a->net.id, &ak, &p, &b))
		return 0;
	given = port_mac_given(&p);
	fmt_mac(p.mac, mac);
	if (!(b.flags & KVB_ADDR_F_STATIC) ||
	    (a->v.has_mac && (!given || memcmp(given, a->v.mac, 6))))
		return err("%s: ip %s is an address of port %s (MAC %s%s, %s): "
			   "%s", cmd, ip, p.name, mac, given ? "" : ", pinned",
			   (b.flags & KVB_ADDR_F_STATIC) ? "static" :
			   (b.flags & KVB_ADDR_F_DHCP) ? "leased" : "claimed",
			   !(b.flags & KVB_ADDR_F_STATIC) ? "detach it first" :
			   "reserve it for the MAC the port was given (port "
			   "set ... mac), or detach it first");
	return 0;
}

static int host_add(int argc, char **argv)
{
	const char *cmd = "dhcp-host add";
	struct kvb_addr_key ak, other;
	struct kvb_dhcphost cur;
	struct host_args a;
	struct fabric *fb = fab();
	char ip[64], mac[18], o[64];
	int fd, ret;

	if (!fb || host_parse(fb, cmd, argc, argv, true, &a))
		return 1;
	host_key_addr(&a.k, &ak);
	fmt_addr(&ak, ip);
	if (!net_has(&a.net, NT_GATEWAY))
		return err("%s: network %s is a %s network: it has no subnet "
			   "and no DHCP", cmd, a.net.name,
			   net_type_name(a.net.type));
	if (!(a.net.flags & KVB_NET_F_DHCP))
		return err("%s: network %s serves no DHCP (dhcp off)", cmd,
			   a.net.name);
	if (addr_link_local(&ak))
		return err("%s: ip %s is link-local: DHCPv6 leases none", cmd,
			   ip);
	if (net_addr_check(cmd, &a.net, &ak))
		return 1;
	if (ak.family == 6 && a.v.has_mac)
		return err("%s: ip %s: an IPv6 reservation names no MAC "
			   "(DHCPv6 knows its clients by DUID): it keeps the "
			   "address from every client, for a port's `ip`",
			   cmd, ip);
	fd = dhcphost_fd(fb);
	if (fd == -ENOENT)	/* a fabric its programs made before the map */
		return err("%s: this fabric's programs predate DHCP host "
			   "reservations: 'kvmbpf upgrade' adds them (the "
			   "maps and guests stay)", cmd);
	if (fd < 0)
		return err("%s: %s: %s", cmd, KVB_MAP_DHCPHOST, strerror(-fd));
	if (!bpf_map_lookup_elem(fd, &a.k, &cur)) {
		if (!memcmp(&cur, &a.v, sizeof(cur)))
			return 0;	/* as it is */
		return err("%s: ip %s is reserved already in network %s "
			   "(dhcp-host del first)", cmd, ip, a.net.name);
	}
	if (a.v.has_mac && !dhcphost_of_mac(fb, a.net.id, a.v.mac, &other)) {
		fmt_mac(a.v.mac, mac);
		fmt_addr(&other, o);
		return err("%s: MAC %s has a reservation in network %s already "
			   "(%s)", cmd, mac, a.net.name, o);
	}
	if (host_fits(fb, cmd, &a))
		return 1;
	if (a.v.has_mac) {
		__u32 n = 0;

		dhcphost_each(fb, 0, count_mac, &n);
		if (n >= KVB_MAX_DHCPHOST_MACS)
			return err("%s: at most %d reservations with a MAC (their "
				   "MACs' entries share the MAC table's room "
				   "for static ones)", cmd,
				   KVB_MAX_DHCPHOST_MACS);
	}
	if (bpf_map_update_elem(fd, &a.k, &a.v, BPF_NOEXIST))
		return err("%s: %s", cmd, errno == E2BIG ?
			   "the table of reservations is full (4096)" :
			   strerror(errno));
	/* its MAC first: no guest pins it from here on */
	ret = a.v.has_mac ? fdb_reserve(fb, a.net.id, a.v.mac) : 0;
	if (ret) {
		bpf_map_delete_elem(fd, &a.k);
		return err("%s: mac: %s", cmd, fdb_set_error(ret));
	}
	ret = dhcp_sync(fb, a.net.id);
	if (ret) {	/* dnsmasq was not told: as before */
		bpf_map_delete_elem(fd, &a.k);
		if (a.v.has_mac)
			fdb_unreserve(fb, a.net.id, a.v.mac);
		return err("%s: dnsmasq's hosts file: %s", cmd, strerror(-ret));
	}
	return 0;
}

static int host_del(int argc, char **argv)
{
	const char *cmd = "dhcp-host del";
	struct kvb_addr_key ak;
	struct host_args a;
	struct fabric *fb = fab();
	char ip[64];
	int fd, ret;

	if (!fb || host_parse(fb, cmd, argc, argv, false, &a))
		return 1;
	fd = dhcphost_fd(fb);
	if (fd < 0)
		return err("%s: %s: %s", cmd, KVB_MAP_DHCPHOST, strerror(-fd));
	host_key_addr(&a.k, &ak);
	fmt_addr(&ak, ip);
	if (bpf_map_lookup_elem(fd, &a.k, &a.v) ||
	    bpf_map_delete_elem(fd, &a.k))
		return err("%s: ip %s has no reservation in network %s", cmd,
			   ip, a.net.name);
	ret = dhcp_sync(fb, a.net.id);
	if (ret) {	/* dnsmasq was not told: as before */
		bpf_map_update_elem(fd, &a.k, &a.v, BPF_NOEXIST);
		return err("%s: dnsmasq's hosts file: %s", cmd, strerror(-ret));
	}
	if (a.v.has_mac)
		fdb_unreserve(fb, a.net.id, a.v.mac);
	return 0;
}

static bool host_of_net(const void *key, const void *value, void *arg)
{
	(void)value;
	return ((const struct kvb_dhcphost_key *)key)->net_id ==
	       *(const __u32 *)arg;
}

/* A network's reservations go with it (net del). */
void dhcphost_purge(struct fabric *fb, __u32 net_id)
{
	int fd = dhcphost_fd(fb);

	if (fd >= 0)
		map_delete_where(fd, sizeof(struct kvb_dhcphost_key),
				 sizeof(struct kvb_dhcphost), host_of_net,
				 &net_id);
}

struct host_row {
	struct kvb_dhcphost_key k;
	struct kvb_dhcphost v;
};

struct host_rows {
	struct host_row *r;
	size_t n, cap;
};

static void host_collect(const struct kvb_dhcphost_key *k,
			 const struct kvb_dhcphost *v, void *arg)
{
	struct host_rows *rows = arg;

	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 64;
		struct host_row *r = realloc(rows->r, cap * sizeof(*r));

		if (!r)
			return;
		rows->r = r;
		rows->cap = cap;
	}
	rows->r[rows->n].k = *k;
	rows->r[rows->n++].v = *v;
}

static int host_cmp(const void *a, const void *b)
{
	const struct host_row *x = a, *y = b;

	if (x->k.net_id != y->k.net_id)
		return x->k.net_id < y->k.net_id ? -1 : 1;
	if (x->k.family != y->k.family)
		return x->k.family < y->k.family ? -1 : 1;
	return memcmp(x->k.addr, y->k.addr, 16);
}

/* The reservations of net_id (0: all), by network, family and address;
 * the caller frees *out. */
static size_t host_list(struct fabric *fb, __u32 net_id, struct host_row **out)
{
	struct host_rows rows = { 0 };

	dhcphost_each(fb, net_id, host_collect, &rows);
	if (rows.n)
		qsort(rows.r, rows.n, sizeof(rows.r[0]), host_cmp);
	*out = rows.r;
	return rows.n;
}

/* "dhcp-host add NET ip ADDR[ mac MAC]" of row r into buf. */
static void host_line(const struct kvb_net *net, const struct host_row *r,
		      char *buf, size_t len)
{
	struct kvb_addr_key ak;
	char ip[64], mac[18];

	host_key_addr(&r->k, &ak);
	fmt_addr(&ak, ip);
	fmt_mac(r->v.mac, mac);
	snprintf(buf, len, "dhcp-host add %s ip %s%s%s", net->name, ip,
		 r->v.has_mac ? " mac " : "", r->v.has_mac ? mac : "");
}

/* save: the reservations, as the lines that make them again. */
void dhcphost_save(struct fabric *fb, void (*line)(const char *text))
{
	struct host_row *rows;
	size_t n = host_list(fb, 0, &rows);
	struct kvb_net net;
	char buf[256];

	for (size_t i = 0; i < n; i++) {
		if (net_get(fb, rows[i].k.net_id, &net))
			continue;
		host_line(&net, &rows[i], buf, sizeof(buf));
		line(buf);
	}
	free(rows);
}

static int host_show(int argc, char **argv)
{
	struct kvb_net filter, net;
	struct host_row *rows;
	struct fabric *fb;
	size_t n;

	if (argc > 1)
		return err("dhcp-host show: expected [NET]");
	fb = fab_ro();
	if (!fb)
		return 1;
	if (argc && net_find(fb, argv[0], &filter))
		return err("dhcp-host show: network %s does not exist",
			   argv[0]);
	n = host_list(fb, argc ? filter.id : 0, &rows);
	open_json_array(NULL);
	for (size_t i = 0; i < n; i++) {
		struct kvb_addr_key ak;
		char ip[64], mac[18];

		if (net_get(fb, rows[i].k.net_id, &net))
			snprintf(net.name, sizeof(net.name), "#%u",
				 rows[i].k.net_id);
		host_key_addr(&rows[i].k, &ak);
		fmt_addr(&ak, ip);
		open_json_object(NULL);
		print_string(PRINT_ANY, "net", "%s", net.name);
		print_string(PRINT_ANY, "ip", " %s", ip);
		if (rows[i].v.has_mac) {
			fmt_mac(rows[i].v.mac, mac);
			print_string(PRINT_ANY, "mac", " mac %s", mac);
		} else {
			print_null("mac");
			print_text(" (no client)");
		}
		print_nl();
		close_json_object();
	}
	close_json_array();
	free(rows);
	return 0;
}

static void host_details(void)
{
	printf("  A reservation keeps an address of a network with DHCP (nat,\n"
	       "  routed; dhcp on) from every client but one, whether or not a\n"
	       "  port holds it now, as libvirt's <host>: with 'mac' (IPv4\n"
	       "  only) dnsmasq leases it to that MAC alone; without, and for\n"
	       "  IPv6, to no client at all, for a port given it with 'ip' (a\n"
	       "  VM whose address must still be free when it starts again).\n"
	       "  A port may be given a reserved address with the reservation's\n"
	       "  MAC only. 'net del' removes its network's. At most %d, %d of\n"
	       "  them with a MAC.\n",
	       KVB_MAX_DHCPHOSTS, KVB_MAX_DHCPHOST_MACS);
}

const struct object obj_dhcphost = {
	.name = "dhcp-host",
	.cmds = (const struct cmd[]){
		{ "add", host_add, "NET ip ADDR [mac MAC]", CMD_TEND },
		{ "del", host_del, "NET ip ADDR", CMD_TEND },
		{ "show", host_show, "[NET]", 0 },
		{ "list", host_show, NULL, 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = host_details,
	.summary = "DHCP host reservations of a network",
};
