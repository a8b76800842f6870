// SPDX-License-Identifier: MIT
/*
 * Port forwards of nat networks:
 *   forward add NET proto tcp|udp port P[-Q] to ADDR[:PORT]
 *   forward del NET proto tcp|udp port P[-Q]
 *   forward show [NET]
 * The target is a guest of NET that owns ADDR (configured with 'ip', or
 * leased by DHCP) and whose MAC is known; its port and MAC are resolved
 * now, and the datapath follows the address to the port that holds it
 * later when that is the operator's (a static ip) or the same VM's (its
 * MAC): nat.h, fwd_guest. A forward to an address nobody holds yet has
 * no port, and the MAC of the address's dhcp-host reservation if any
 * (fwd_unheld).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

enum { FK_PROTO, FK_PORT, FK_TO };
static const struct keyword fwd_kws[] = {
	[FK_PROTO] = { "proto", "tcp|udp", "the protocol", 0, 0 },
	[FK_PORT] = { "port", "P[-Q]", "the port (range) on the WAN address",
		     0, 0 },
	[FK_TO] = { "to", "ADDR[:PORT]", "the guest address (and first port;\n"
		    "default: the same ports); add only", 0, 0 },
};

static void fwd_details(void)
{
	keyword_help(fwd_kws, ARRAY_SIZE(fwd_kws));
	printf("\n"
	       "  Connections from outside to the nat network's WAN address on\n"
	       "  port P (to Q) go to guest ADDR (on PORT, PORT+1, ...). At most\n"
	       "  %d ports a forward, %d in all. Listed by network, protocol,\n"
	       "  port.\n", KVB_MAX_FWD_RANGE, KVB_MAX_FWD);
}

static int parse_range(const char *s, __u32 *lo, __u32 *hi)
{
	char buf[32], *dash;

	snprintf(buf, sizeof(buf), "%s", s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = 0;
	if (parse_u32(buf, 1, 65535, lo) ||
	    parse_u32(dash ? dash + 1 : buf, 1, 65535, hi) || *hi < *lo ||
	    *hi - *lo >= KVB_MAX_FWD_RANGE)
		return -EINVAL;
	return 0;
}

/* Parse NET proto X port P[-Q] [to ADDR[:PORT]] */
struct fwd_args {
	struct kvb_net net;
	__u8 proto;
	__u32 lo, hi, to_port;
	__be32 to;
};

static int parse_fwd(const char *cmd, int argc, char **argv, bool want_to,
		     struct fwd_args *a)
{
	struct kw_seen seen = { 0 };
	char what[32];

	snprintf(what, sizeof(what), "forward %s", cmd);
	memset(a, 0, sizeof(*a));
	if (argc < 1)
		return err("forward %s: missing NET", cmd);
	if (!fab_ro())
		return 1;
	if (net_find(fab_ro(), argv[0], &a->net))
		return err("forward %s: network %s does not exist", cmd, argv[0]);
	if (!net_has(&a->net, NT_NAT))
		return err("forward %s: %s is not a nat network", cmd, argv[0]);
	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const struct keyword *kw = keyword_find(fwd_kws,
							ARRAY_SIZE(fwd_kws), k);
		char list[64];

		if (!kw || (kw - fwd_kws == FK_TO && !want_to)) {
			keyword_list(fwd_kws, want_to ? 3 : 2, list, sizeof(list));
			return err("forward %s: unknown keyword '%s' (expected "
				   "%s)", cmd, k, list);
		}
		if (keyword_take(what, kw, (unsigned int)(kw - fwd_kws), argc,
				 argv, i, &seen))
			return 1;
		switch (kw - fwd_kws) {
		case FK_PROTO:
			if (!strcmp(v, "tcp"))
				a->proto = 6;
			else if (!strcmp(v, "udp"))
				a->proto = 17;
			else
				return err("forward %s: proto %s: expected tcp "
					   "or udp", cmd, v);
			break;
		case FK_PORT:
			if (parse_range(v, &a->lo, &a->hi))
				return err("forward %s: port %s: expected P or "
					   "P-Q (1-65535, at most %d ports)",
					   cmd, v, KVB_MAX_FWD_RANGE);
			break;
		case FK_TO: {
			char buf[64], *colon;

			snprintf(buf, sizeof(buf), "%s", v);
			colon = strchr(buf, ':');
			if (colon)
				*colon = 0;
			if (inet_pton(AF_INET, buf, &a->to) != 1 ||
			    (colon && parse_u32(colon + 1, 1, 65535, &a->to_port)))
				return err("forward %s: to %s: expected "
					   "ADDR[:PORT]", cmd, v);
			break;
		}
		}
	}
	if (!a->proto || !a->lo)
		return err("forward %s: expected 'proto tcp|udp port P[-Q]'", cmd);
	if (want_to && !a->to)
		return err("forward %s: missing 'to ADDR[:PORT]'", cmd);
	if (!a->to_port)
		a->to_port = a->lo;
	if (a->to_port + (a->hi - a->lo) > 65535)
		return err("forward %s: target ports beyond 65535", cmd);
	return 0;
}

/* The guest port of net that owns addr. */
static int owner_of(struct fabric *fb, __u32 net_id, __be32 addr,
		    struct kvb_port *out)
{
	struct kvb_addr_key k, *prev = NULL;

	while (!bpf_map_get_next_key(fb->addr_fd, prev, &k)) {
		prev = &k;
		if (k.family == 4 && !memcmp(k.addr, &addr, 4) &&
		    !port_get(fb, k.ifindex, out) && out->net_id == net_id)
			return 0;
	}
	return -ENOENT;
}

/*
 * Can port p be a forward's target as it is? It needs its MAC, or
 * spoofcheck, which pins the MAC from the guest's first frame: the
 * datapath then sends the forward's packets to the port's MAC as it is
 * (natreply.h, nat_reply_port), so a forward may be added (or restored
 * at boot by load) before its guest has sent anything.
 */
static bool fwd_port_usable(const struct kvb_port *p)
{
	return !mac_zero(p->mac) || (p->flags & KVB_PORT_F_SPOOFCHECK);
}

/* Does forward a take UDP port KVB_VXLAN_PORT while the fabric tunnels? */
static bool fwd_over_vxlan(struct fabric *fb, const struct fwd_args *a)
{
	return a->proto == IPPROTO_UDP && a->lo <= KVB_VXLAN_PORT &&
	       a->hi >= KVB_VXLAN_PORT && fabric_vteps4(fb);
}

/*
 * A forward to an address no port holds yet (a VM not started: load at
 * boot runs before libvirt starts its domains; a DHCP reservation not
 * leased yet): no port, and the MAC of the address's `dhcp-host`
 * reservation when there is one, so that the datapath gives its
 * connections to the port that holds the address later as it would
 * after a restart (nat.h, fwd_guest): one given it as a static `ip`, or
 * one given that MAC with `mac` that leased it. Else none takes it. The
 * note says which.
 */
static void fwd_unheld(struct fabric *fb, const struct fwd_args *a,
		       __u8 mac[6])
{
	struct kvb_addr_key k = { .family = 4, .net_id = (__u8)a->net.id };
	struct kvb_dhcphost h;

	memcpy(k.addr, &a->to, 4);
	memset(mac, 0, 6);
	if (!dhcphost_get(fb, a->net.id, &k, &h) && h.has_mac)
		memcpy(mac, h.mac, 6);
}

/* The note for forward a, added to an address nobody holds (mac: its
 * reservation's, or zero). */
static void fwd_unheld_note(const struct fwd_args *a, const __u8 mac[6])
{
	char ip[16];

	inet_ntop(AF_INET, &a->to, ip, sizeof(ip));
	if (!mac_zero(mac))
		warn("forward add: no guest of %s holds %s yet: the forward "
		     "reaches the port given 'ip %s', or the one given 'mac "
		     "%02x:%02x:%02x:%02x:%02x:%02x' (its dhcp-host "
		     "reservation) once it leases it", a->net.name, ip, ip,
		     mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	else
		warn("forward add: no guest of %s holds %s yet: the forward "
		     "reaches the port given 'ip %s' (a lease alone does not "
		     "draw it without a dhcp-host reservation's MAC)",
		     a->net.name, ip, ip);
}

/* forward add of the parsed a. */
static int fwd_add_parsed(struct fabric *fb, struct fwd_args a)
{
	struct kvb_port p;
	int fd, ret = 0;
	char ip[16];

	inet_ntop(AF_INET, &a.to, ip, sizeof(ip));
	if (owner_of(fb, a.net.id, a.to, &p)) {
		struct kvb_addr_key k = { .family = 4,
					  .net_id = (__u8)a.net.id };

		/* a host address of the network's, as a port's `ip` */
		memcpy(k.addr, &a.to, 4);
		if (net_addr_check("forward add", &a.net, &k))
			return 1;
		memset(&p, 0, sizeof(p));
		fwd_unheld(fb, &a, p.mac);
	} else if (!fwd_port_usable(&p)) {
		return err("forward add: the MAC of %s (%s) is not known, and "
			   "its port has spoofcheck off (attach it with 'mac')",
			   ip, p.name);
	}
	/* the datapath leaves the VXLAN port to the host's overlay while
	 * it tunnels (nat.h: nat_vteps4); such a forward would do nothing */
	if (fwd_over_vxlan(fb, &a))
		return err("forward add: udp port %u is the overlay's (VXLAN) "
			   "while the fabric has overlay networks over IPv4",
			   KVB_VXLAN_PORT);
	fd = fb->fwd_fd;
	for (__u32 port = a.lo; port <= a.hi; port++) {
		struct kvb_fwd_key k = { .addr = a.net.nat_ip,
					 .port = htons((__u16)port),
					 .proto = a.proto };
		struct kvb_fwd v = { .to_addr = a.to,
				     .to_port = htons((__u16)(a.to_port + port - a.lo)),
				     .net_id = a.net.id, .ifindex = p.ifindex };

		memcpy(v.mac, p.mac, 6);
		if (bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST)) {
			/* a full hash map says E2BIG */
			ret = errno == E2BIG ?
				err("forward add: port %u: the table of "
				    "forwarded ports is full (%u, all networks)",
				    port, KVB_MAX_FWD) :
				err("forward add: port %u: %s", port,
				    errno == EEXIST ? "already forwarded" :
						      strerror(errno));
			for (__u32 q = a.lo; q < port; q++) {
				k.port = htons((__u16)q);
				bpf_map_delete_elem(fd, &k);
			}
			break;
		}
	}
	if (!ret && !p.ifindex)
		fwd_unheld_note(&a, p.mac);
	return ret;
}

/*
 * Port ifindex was given mac (port set mac): the forwards added for it
 * name its VM by that MAC from now on, as forward add would (the
 * datapath follows a forward's address to a port given the MAC the
 * forward names: nat.h, fwd_guest).
 */
void fwd_port_mac(struct fabric *fb, __u32 ifindex, const __u8 mac[6])
{
	struct kvb_fwd_key k, *prev = NULL;
	struct kvb_fwd v;

	while (!bpf_map_get_next_key(fb->fwd_fd, prev, &k)) {
		prev = &k;
		if (bpf_map_lookup_elem(fb->fwd_fd, &k, &v) ||
		    v.ifindex != ifindex || !memcmp(v.mac, mac, 6))
			continue;
		memcpy(v.mac, mac, 6);
		bpf_map_update_elem(fb->fwd_fd, &k, &v, BPF_EXIST);
	}
}

/*
 * Delete net_id's forward of proto and port (network order) under any
 * address: where fwd_rekey left it, or the current one. 0, or -ENOENT.
 */
static int fwd_add(int argc, char **argv)
{
	struct fwd_args a;
	struct fabric *fb;

	if (parse_fwd("add", argc, argv, true, &a))
		return 1;
	fb = fab();
	return fb ? fwd_add_parsed(fb, a) : 1;
}

/* Is every port of a forwarded already as a says? */
static bool fwd_present(struct fabric *fb, const struct fwd_args *a)
{
	for (__u32 port = a->lo; port <= a->hi; port++) {
		struct kvb_fwd_key k = { .addr = a->net.nat_ip,
					 .port = htons((__u16)port),
					 .proto = a->proto };
		struct kvb_fwd v;

		if (bpf_map_lookup_elem(fb->fwd_fd, &k, &v) ||
		    v.to_addr != a->to || v.net_id != a->net.id ||
		    v.to_port != htons((__u16)(a->to_port + port - a->lo)))
			return false;
	}
	return true;
}

/* forward add of a, unless it is in effect already (load again). */
static int fwd_add_missing(struct fabric *fb, const struct fwd_args *a)
{
	return fwd_present(fb, a) ? 0 : fwd_add_parsed(fb, *a);
}

/*
 * load's `forward add` line (argv: NET proto ...) that takes UDP port
 * KVB_VXLAN_PORT while the fabric tunnels over IPv4: a configuration
 * saved before the two were refused together. Its ports but that one
 * are forwarded (the datapath never gave that one to the forward), with
 * a warning; 0 or 1 as forward add. -1: not such a line, for forward add.
 */
int fwd_load_over_vxlan(struct fabric *fb, int argc, char **argv, int lineno)
{
	struct fwd_args a, b;
	int ret = 0;

	if (parse_fwd("add", argc, argv, true, &a) || !fwd_over_vxlan(fb, &a))
		return -1;
	warn("load: line %d: udp port %u is the overlay's (VXLAN) while the "
	     "fabric tunnels over IPv4: forwarded without it", lineno,
	     KVB_VXLAN_PORT);
	b = a;
	if (a.lo < KVB_VXLAN_PORT) {
		b.hi = KVB_VXLAN_PORT - 1;
		ret = fwd_add_missing(fb, &b);
	}
	if (!ret && a.hi > KVB_VXLAN_PORT) {
		b.lo = KVB_VXLAN_PORT + 1;
		b.hi = a.hi;
		b.to_port = a.to_port + (b.lo - a.lo);
		ret = fwd_add_missing(fb, &b);
	}
	return ret;
}

static int fwd_del_any(int fd, __u32 net_id, __u8 proto, __be16 port)
{
	struct kvb_fwd_key k, *prev = NULL;
	struct kvb_fwd v;

	while (!bpf_map_get_next_key(fd, prev, &k)) {
		prev = &k;
		if (k.proto == proto && k.port == port &&
		    !bpf_map_lookup_elem(fd, &k, &v) && v.net_id == net_id)
			return bpf_map_delete_elem(fd, &k) ? -ENOENT : 0;
	}
	return -ENOENT;
}

/*
 * A forward of UDP port KVB_VXLAN_PORT (the overlay's), of any network:
 * its network's id in *net_id and its guest's address in *to; false
 * when there is none.
 */
bool fwd_vxlan_held(struct fabric *fb, __u32 *net_id, __be32 *to)
{
	struct kvb_fwd_key k, *prev = NULL;
	struct kvb_fwd v;

	while (!bpf_map_get_next_key(fb->fwd_fd, prev, &k)) {
		prev = &k;
		if (k.proto == IPPROTO_UDP && k.port == htons(KVB_VXLAN_PORT) &&
		    !bpf_map_lookup_elem(fb->fwd_fd, &k, &v)) {
			*net_id = v.net_id;
			*to = v.to_addr;
			return true;
		}
	}
	return false;
}

static int fwd_del(int argc, char **argv)
{
	struct fwd_args a;
	int fd, missing = 0;

	if (parse_fwd("del", argc, argv, false, &a))
		return 1;
	if (!fab())
		return 1;
	fd = fab()->fwd_fd;
	for (__u32 port = a.lo; port <= a.hi; port++) {
		struct kvb_fwd_key k = { .addr = a.net.nat_ip,
					 .port = htons((__u16)port),
					 .proto = a.proto };
		struct kvb_fwd v;

		/* the forwards of this network only: networks that share
		 * a WAN address share the table's keys; one left on an old
		 * address (fwd_rekey) is found by a walk */
		if (!bpf_map_lookup_elem(fd, &k, &v) && v.net_id == a.net.id &&
		    !bpf_map_delete_elem(fd, &k))
			continue;
		missing += !!fwd_del_any(fd, a.net.id, a.proto, k.port);
	}
	if (missing == (int)(a.hi - a.lo + 1))
		return err("forward del: no such forward in %s", a.net.name);
	return 0;
}

static bool fwd_match(const void *key, const void *value, void *arg)
{
	(void)key;
	return ((const struct kvb_fwd *)value)->net_id == *(const __u32 *)arg;
}

/* Remove every forward of net_id (net del). */
void fwd_purge(struct fabric *fb, __u32 net_id)
{
	map_delete_where(fb->fwd_fd, sizeof(struct kvb_fwd_key),
			 sizeof(struct kvb_fwd), fwd_match, &net_id);
}

/*
 * net_id's address changed from `from` to `to` (its WAN's address, or the
 * default route's device): its forwards listen on the new one. The
 * forwards are collected first (the map changes under the walk), all of
 * them leave the old address before any takes the new one, so that a
 * full table moves as a whole. A forward whose new key another
 * network's forward holds already (two nat networks on one WAN address)
 * stays under the old one, with a warning: still listed, and deleted by
 * `forward del` (which finds a network's forward at any address), never
 * lost without a word.
 */
void fwd_rekey(struct fabric *fb, __u32 net_id, __be32 from, __be32 to)
{
	static struct kvb_fwd_key keys[KVB_MAX_FWD];
	static struct kvb_fwd vals[KVB_MAX_FWD];
	struct kvb_fwd_key k, *prev = NULL;
	char old[16], new[16];
	struct kvb_net net;
	int n = 0, e;

	while (!bpf_map_get_next_key(fb->fwd_fd, prev, &k) && n < KVB_MAX_FWD) {
		prev = &k;
		if (k.addr == from &&
		    !bpf_map_lookup_elem(fb->fwd_fd, &k, &vals[n]) &&
		    vals[n].net_id == net_id)
			keys[n++] = k;
	}
	for (int i = 0; i < n; i++)
		bpf_map_delete_elem(fb->fwd_fd, &keys[i]);
	inet_ntop(AF_INET, &from, old, sizeof(old));
	inet_ntop(AF_INET, &to, new, sizeof(new));
	for (int i = 0; i < n; i++) {
		k = keys[i];
		k.addr = to;
		if (!bpf_map_update_elem(fb->fwd_fd, &k, &vals[i], BPF_NOEXIST))
			continue;
		e = errno;
		warn("%s: forward %s %u stays on %s: %s:%u is forwarded by "
		     "another network (%s)",
		     net_get(fb, net_id, &net) ? "?" : net.name,
		     k.proto == IPPROTO_TCP ? "tcp" : "udp", ntohs(k.port),
		     old, new, ntohs(k.port), strerror(e));
		bpf_map_update_elem(fb->fwd_fd, &keys[i], &vals[i], BPF_ANY);
	}
}

struct fwd_rows {
	struct fwd_row r[KVB_MAX_FWD];
	size_t n;
	__u32 net_id;
};

static void fwd_collect(const void *key, const void *value, void *arg)
{
	struct fwd_rows *rows = arg;
	const struct kvb_fwd *v = value;

	if (rows->n == KVB_MAX_FWD || (rows->net_id && v->net_id != rows->net_id))
		return;
	rows->r[rows->n].k = *(const struct kvb_fwd_key *)key;
	rows->r[rows->n++].v = *v;
}

static int fwd_cmp(const void *a, const void *b)
{
	const struct fwd_row *x = a, *y = b;

	if (x->v.net_id != y->v.net_id)
		return x->v.net_id < y->v.net_id ? -1 : 1;
	if (x->k.proto != y->k.proto)
		return x->k.proto < y->k.proto ? -1 : 1;
	return ntohs(x->k.port) < ntohs(y->k.port) ? -1 :
	       ntohs(x->k.port) > ntohs(y->k.port);
}

/*
 * The forwards of net_id (0: all), by network, protocol and port; the
 * caller frees *out. Count, or -errno.
 */
int fwd_list(struct fabric *fb, __u32 net_id, struct fwd_row **out)
{
	struct fwd_rows *rows = calloc(1, sizeof(*rows));
	int n;

	if (!rows)
		return -ENOMEM;
	rows->net_id = net_id;
	map_walk(fb->fwd_fd, sizeof(struct kvb_fwd_key), sizeof(struct kvb_fwd),
		 fwd_collect, rows);
	qsort(rows->r, rows->n, sizeof(rows->r[0]), fwd_cmp);
	n = (int)rows->n;
	*out = (struct fwd_row *)rows;	/* r is its first member */
	return n;
}

static int fwd_show(int argc, char **argv)
{
	struct kvb_net filter, net;
	struct fwd_row *rows;
	struct fabric *fb;
	int n;

	if (argc > 1)
		return err("forward show: expected [NET]");
	fb = fab_ro();
	if (!fb)
		return 1;
	if (argc && net_find(fb, argv[0], &filter))
		return err("forward show: network %s does not exist", argv[0]);
	n = fwd_list(fb, argc ? filter.id : 0, &rows);
	if (n < 0)
		return err("forward show: %s", strerror(-n));
	open_json_array(NULL);
	for (int i = 0; i < n; i++) {
		const struct kvb_fwd_key *k = &rows[i].k;
		const struct kvb_fwd *v = &rows[i].v;
		char pub[16], to[16];

		if (net_get(fb, v->net_id, &net))
			snprintf(net.name, sizeof(net.name), "#%u", v->net_id);
		inet_ntop(AF_INET, &k->addr, pub, sizeof(pub));
		inet_ntop(AF_INET, &v->to_addr, to, sizeof(to));
		open_json_object(NULL);
		print_string(PRINT_ANY, "net", "%s", net.name);
		print_string(PRINT_ANY, "proto", " %s", k->proto == 6 ? "tcp" : "udp");
		print_string(PRINT_ANY, "addr", " %s", pub);
		print_uint(PRINT_ANY, "port", ":%llu", ntohs(k->port));
		print_string(PRINT_ANY, "to", " -> %s", to);
		print_uint(PRINT_ANY, "to_port", ":%llu", ntohs(v->to_port));
		print_nl();
		close_json_object();
	}
	close_json_array();
	free(rows);
	return 0;
}

const struct object obj_forward = {
	.name = "forward",
	.cmds = (const struct cmd[]){
		{ "add", fwd_add, "NET proto tcp|udp port P[-Q] to ADDR[:PORT]",
		  CMD_TEND },
		{ "del", fwd_del, "NET proto tcp|udp port P[-Q]", CMD_TEND },
		{ "show", fwd_show, "[NET]", 0 },
		{ "list", fwd_show, NULL, 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = fwd_details,
};
