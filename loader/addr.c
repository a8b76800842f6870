// SPDX-License-Identifier: MIT
/*
 * The address table (kvb_addr): what each port may send from. A port's
 * entries are keyed by its ifindex; an owner entry (ifindex 0) per
 * network and address says which port holds it, so that no two ports
 * claim one address. Configured (static) entries come from `attach` and
 * `port set`; the datapath adds leases (DHCP snooping) and SAVI's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

struct purge {
	__u32 ifindex, flags;
};



static bool addr_match(const void *key, const void *value, void *arg)
{
	const struct kvb_addr_key *k = key;
	const struct kvb_addr *a = value;
	const struct purge *p = arg;

	/* the port's own entries, and the owner entries naming it */
	return (k->ifindex == p->ifindex ||
		(!k->ifindex && a->owner == p->ifindex)) &&
	       (!p->flags || (a->flags & p->flags));
}

/* Remove every address of ifindex (flags 0: all, else only those flags). */
void addr_purge(struct fabric *fb, __u32 ifindex, __u32 flags)
{
	struct purge p = { .ifindex = ifindex, .flags = flags };

	map_delete_where(fb->addr_fd, sizeof(struct kvb_addr_key),
			 sizeof(struct kvb_addr), addr_match, &p);
}

/*
 * Count ifindex's bindings per family into the port's n_ip4 / n_ip6, and
 * its SAVI ones into n_savi (kvb_maps.h, kvb_addr); one of its configured
 * IPv4 addresses into ip4 (the guard's shortcut, 0: none).
 */
void addr_count(struct fabric *fb, struct kvb_port *p)
{
	struct kvb_addr_key key, *prev = NULL;
	struct kvb_addr a;

	p->n_ip4 = p->n_ip6 = p->n_savi = 0;
	p->ip4 = 0;
	while (!bpf_map_get_next_key(fb->addr_fd, prev, &key)) {
		prev = &key;
		if (key.ifindex != p->ifindex)
			continue;
		if (key.family == 4)
			p->n_ip4++;
		else
			p->n_ip6++;
		if (bpf_map_lookup_elem(fb->addr_fd, &key, &a))
			continue;
		if (a.flags & KVB_ADDR_F_SAVI)
			p->n_savi++;
		if (key.family == 4 && (a.flags & KVB_ADDR_F_STATIC) &&
		    !p->ip4)
			memcpy(&p->ip4, key.addr, 4);
	}
}

/*
 * The guard's shortcut (kvb_port.ip4) off in the port's entry in the map,
 * before its configured addresses go: a source equal to it would pass
 * without its binding. The rest of the entry as the map has it (the
 * datapath counts leases into it meanwhile).
 */
static int addr_shortcut_off(struct fabric *fb, struct kvb_port *p)
{
	struct kvb_port cur;

	p->ip4 = 0;
	if (port_get(fb, p->ifindex, &cur) || !cur.ip4)
		return 0;
	cur.ip4 = 0;
	return port_store(fb, &cur, BPF_EXIST) ? -1 : 0;
}

/*
 * mac is port ifindex's now (attach or `port set` with mac): the EUI-64
 * addresses of mac are its, so other ports' learned (SAVI) bindings in
 * network net_id whose interface id is that go, both entries, and their
 * ports' counts with them. A guest that claimed a stopped VM's EUI-64
 * addresses while no port owned its MAC would otherwise keep them alive
 * and answer the VM's DAD probe once it is back. Leases and configured
 * addresses stay: the server's or the operator's word.
 */
void addr_mac_owned(struct fabric *fb, __u32 net_id, const __u8 mac[6],
		    __u32 ifindex)
{
	struct kvb_addr_key key, *prev = NULL, *gone = NULL;
	const __u8 iid[8] = { mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3],
			      mac[4], mac[5] };
	struct kvb_addr a;
	int n = 0, cap = 0;

	while (!bpf_map_get_next_key(fb->addr_fd, prev, &key)) {
		prev = &key;
		if (key.ifindex || key.family != 6 || key.net_id != net_id ||
		    memcmp(key.addr + 8, iid, 8) ||
		    bpf_map_lookup_elem(fb->addr_fd, &key, &a) ||
		    a.owner == ifindex || (a.flags & KVB_ADDR_F_STATIC))
			continue;
		if (n == cap) {
			struct kvb_addr_key *more;

			cap = cap ? cap * 2 : 16;
			more = realloc(gone, (size_t)cap * sizeof(*gone));
			if (!more)
				break;
			gone = more;
		}
		gone[n++] = key;
	}
	for (int i = 0; i < n; i++) {
		struct kvb_addr_key pk = gone[i];
		struct kvb_port p;

		if (bpf_map_lookup_elem(fb->addr_fd, &gone[i], &a))
			continue;
		pk.ifindex = a.owner;
		pk.net_id = 0;
		if (!bpf_map_lookup_elem(fb->addr_fd, &pk, &a) &&
		    !(a.flags & KVB_ADDR_F_SAVI))
			continue;	/* leased: stays */
		bpf_map_delete_elem(fb->addr_fd, &pk);
		bpf_map_delete_elem(fb->addr_fd, &gone[i]);
		if (!port_get(fb, pk.ifindex, &p)) {
			addr_count(fb, &p);
			port_store_counted(fb, &p, BPF_EXIST);
		}
	}
	free(gone);
}

/*
 * Put addrs[0..n) as p's configured addresses (after the old ones were
 * purged): each with its owner entry first. 0, else errno of the
 * failed write and *bad its index.
 */
static int addr_put_static(struct fabric *fb, const struct kvb_port *p,
			   const struct kvb_addr_key *addrs, int n, int *bad)
{
	struct kvb_addr a = { .flags = KVB_ADDR_F_STATIC };
	struct kvb_addr oa = { .flags = KVB_ADDR_F_STATIC,
			       .owner = p->ifindex };

	for (int i = 0; i < n; i++) {
		struct kvb_addr_key k = addrs[i], ok = addrs[i];

		ok.ifindex = 0;
		ok.net_id = (__u8)p->net_id;
		k.ifindex = p->ifindex;
		if (bpf_map_update_elem(fb->addr_fd, &ok, &oa, BPF_ANY) ||
		    bpf_map_update_elem(fb->addr_fd, &k, &a, BPF_ANY)) {
			*bad = i;
			return errno;
		}
	}
	return 0;
}

/*
 * Replace the port's configured addresses with o's (learned ones stay).
 * A port with savi off keeps no binding of SAVI's: only what it was given
 * (and its leases). Every address is checked before anything changes
 * (another port's is refused); should the table then be full, the port
 * gets its old configured addresses back: a refused `port set` leaves the
 * running guest as it was.
 */
static int addr_recount6(struct fabric *fb, __u32 ifindex,
			 struct kvb_port *out);

/*
 * Is owner entry cur (of address ok) another port's first claim (SAVI),
 * which the operator's `ip` takes over? Its port's binding, when so, in
 * *hk (else another's lease or static address: refused).
 */
static bool addr_learned_elsewhere(struct fabric *fb,
				   const struct kvb_addr_key *ok,
				   const struct kvb_addr *cur,
				   struct kvb_addr_key *hk)
{
	struct kvb_addr h;

	struct kvb_port hp;

	*hk = *ok;
	hk->ifindex = cur->owner;
	hk->net_id = 0;
	/* a guest's first claim only: never a static owner entry (an
	 * uplink's hold of the LAN router's or the host's address) */
	return !(cur->flags & KVB_ADDR_F_STATIC) &&
	       !port_get(fb, cur->owner, &hp) && hp.role == KVB_PORT_GUEST &&
	       !bpf_map_lookup_elem(fb->addr_fd, hk, &h) &&
	       (h.flags & KVB_ADDR_F_SAVI) &&
	       !(h.flags & (KVB_ADDR_F_STATIC | KVB_ADDR_F_DHCP));
}

/*
 * Another port's first claims (SAVI) of the addresses of o go: the
 * operator's `ip` beats a guest's first come, as a lease does (an IPv6
 * address that moves between guests, a VRRP address that fails over:
 * the guest that held it last may have given it up, and the datapath
 * cannot tell). That port sends from it no more (savi-conflict).
 * addr_learned_find, before the static entries are written, notes their
 * port entries in hks (at most max); addr_learned_drop, after the owner
 * entries are the port's, removes them: a claim in between meets the
 * static owner, not a free address.
 */
static int addr_learned_find(struct fabric *fb, const struct kvb_port *p,
			     const struct port_opts *o,
			     struct kvb_addr_key *hks, int max)
{
	int n = 0;

	for (int i = 0; i < o->naddrs && n < max; i++) {
		struct kvb_addr_key ok = o->addrs[i];
		struct kvb_addr cur;

		ok.ifindex = 0;
		ok.net_id = (__u8)p->net_id;
		if (!bpf_map_lookup_elem(fb->addr_fd, &ok, &cur) &&
		    cur.owner != p->ifindex &&
		    addr_learned_elsewhere(fb, &ok, &cur, &hks[n]))
			n++;
	}
	return n;
}

static void addr_learned_drop(struct fabric *fb, const struct kvb_port *p,
			      struct kvb_addr_key *hks, int n)
{
	struct kvb_addr oa = { .flags = KVB_ADDR_F_STATIC,
			       .owner = p->ifindex }, cur;

	for (int i = 0; i < n; i++) {
		struct kvb_addr_key ok = hks[i];

		bpf_map_delete_elem(fb->addr_fd, &hks[i]);
		addr_recount6(fb, hks[i].ifindex, NULL);
		/* the owner entry is the port's still: the sweep may have
		 * removed it, taking the holder's dead binding, between its
		 * check and its delete */
		ok.ifindex = 0;
		ok.net_id = (__u8)p->net_id;
		if (bpf_map_lookup_elem(fb->addr_fd, &ok, &cur) ||
		    cur.owner != p->ifindex)
			bpf_map_update_elem(fb->addr_fd, &ok, &oa, BPF_ANY);
	}
}

/* addr_set failed: the holders' owner entries the port took go back. */
static void addr_learned_restore(struct fabric *fb, const struct kvb_port *p,
				 struct kvb_addr_key *hks, int n)
{
	for (int i = 0; i < n; i++) {
		struct kvb_addr_key ok = hks[i];
		struct kvb_addr oa = { .flags = KVB_ADDR_F_SAVI,
				       .owner = hks[i].ifindex }, cur;

		ok.ifindex = 0;
		ok.net_id = (__u8)p->net_id;
		if (bpf_map_lookup_elem(fb->addr_fd, &ok, &cur) ||
		    cur.owner == p->ifindex)
			bpf_map_update_elem(fb->addr_fd, &ok, &oa, BPF_ANY);
	}
}

/*
 * The port of network net_id that holds address a (its owner entry) into
 * *p, and that port's binding of a into *b: 0, or -ENOENT when no port
 * does.
 */
int addr_holder(struct fabric *fb, __u32 net_id, const struct kvb_addr_key *a,
		struct kvb_port *p, struct kvb_addr *b)
{
	struct kvb_addr_key k = *a;
	struct kvb_addr own;

	k.ifindex = 0;
	k.net_id = (__u8)net_id;
	if (bpf_map_lookup_elem(fb->addr_fd, &k, &own) ||
	    port_get(fb, own.owner, p))
		return -ENOENT;
	k.net_id = 0;
	k.ifindex = own.owner;
	return bpf_map_lookup_elem(fb->addr_fd, &k, b) ? -ENOENT : 0;
}

/*
 * May the port (p, with o's MAC if given) hold static address k? Not one
 * a DHCP host reservation of its network keeps for another MAC.
 */
static int addr_reserved(struct fabric *fb, const char *cmd,
			 const struct kvb_port *p, const struct port_opts *o,
			 const struct kvb_addr_key *k)
{
	const __u8 *mac = o->mac ? o->mac : port_mac_given(p);
	struct kvb_addr_key ra;
	struct kvb_dhcphost r;
	char ip[64], rm[18];

	/* a MAC reserved an IPv4 address: it leases that one, no other */
	if (mac && k->family == 4 &&
	    !dhcphost_of_mac(fb, p->net_id, mac, &ra) &&
	    memcmp(ra.addr, k->addr, 4)) {
		fmt_addr(&ra, ip);
		fmt_mac(mac, rm);
		return err("%s: %s: MAC %s has the reservation of %s "
			   "(dhcp-host): its static IPv4 is that one, or it "
			   "needs none", cmd, p->name, rm, ip);
	}
	if (dhcphost_get(fb, p->net_id, k, &r) || !r.has_mac ||
	    (mac && !memcmp(mac, r.mac, 6)))
		return 0;
	fmt_addr(k, ip);
	fmt_mac(r.mac, rm);
	return err("%s: %s: ip %s is reserved for MAC %s (dhcp-host): give "
		   "the port that mac, or another address", cmd, p->name, ip,
		   rm);
}

int addr_check(struct fabric *fb, const char *cmd, const struct kvb_port *p,
	       const struct port_opts *o)
{
	struct kvb_addr_key hk;
	struct kvb_addr cur;
	char buf[64];

	/* a new MAC for the addresses the port keeps */
	if (o->naddrs < 0 && o->mac) {
		struct kvb_addr_key k, *prev = NULL;

		while (!bpf_map_get_next_key(fb->addr_fd, prev, &k)) {
			prev = &k;
			if (k.ifindex == p->ifindex &&
			    !bpf_map_lookup_elem(fb->addr_fd, &k, &cur) &&
			    (cur.flags & KVB_ADDR_F_STATIC) &&
			    addr_reserved(fb, cmd, p, o, &k))
				return 1;
		}
	}
	for (int i = 0; i < o->naddrs; i++) {
		struct kvb_addr_key ok = o->addrs[i];

		if (addr_reserved(fb, cmd, p, o, &ok))
			return 1;
		ok.ifindex = 0;
		ok.net_id = (__u8)p->net_id;
		if (!bpf_map_lookup_elem(fb->addr_fd, &ok, &cur) &&
		    cur.owner != p->ifindex &&
		    !addr_learned_elsewhere(fb, &ok, &cur, &hk)) {
			fmt_addr(&ok, buf);
			return err("%s: %s: ip %s is already an address of "
				   "another port (ifindex %u)", cmd, p->name,
				   buf, cur.owner);
		}
	}
	return 0;
}

int addr_set(struct fabric *fb, const char *cmd, struct kvb_port *p,
	     const struct port_opts *o)
{
	struct kvb_addr_key old[KVB_MAX_PORT_ADDRS], key, *prev = NULL;
	struct kvb_addr_key taken[KVB_MAX_PORT_ADDRS];
	struct kvb_addr cur;
	char buf[64];
	int nold = 0, bad = 0, e, ntaken;

	if (addr_check(fb, cmd, p, o))
		return 1;
	if (p->flags & KVB_PORT_F_SAVI_OFF) {
		addr_purge(fb, p->ifindex, KVB_ADDR_F_SAVI);
		addr_count(fb, p);
	}
	if (o->naddrs < 0)
		return 0;
	while (!bpf_map_get_next_key(fb->addr_fd, prev, &key)) {
		prev = &key;
		if (key.ifindex == p->ifindex && nold < KVB_MAX_PORT_ADDRS &&
		    !bpf_map_lookup_elem(fb->addr_fd, &key, &cur) &&
		    (cur.flags & KVB_ADDR_F_STATIC))
			old[nold++] = key;
	}
	if (addr_shortcut_off(fb, p))
		return err("%s: %s: %s", cmd, p->name, strerror(errno));
	ntaken = addr_learned_find(fb, p, o, taken, KVB_MAX_PORT_ADDRS);
	addr_purge(fb, p->ifindex, KVB_ADDR_F_STATIC);
	e = addr_put_static(fb, p, o->addrs, o->naddrs, &bad);
	if (e) {
		addr_purge(fb, p->ifindex, KVB_ADDR_F_STATIC);
		addr_put_static(fb, p, old, nold, &bad);
		addr_learned_restore(fb, p, taken, ntaken);
		addr_count(fb, p);
		fmt_addr(&o->addrs[bad], buf);
		return err("%s: %s: ip %s: %s (address table holds %d)", cmd,
			   p->name, buf, strerror(e), KVB_MAX_ADDRS);
	}
	addr_learned_drop(fb, p, taken, ntaken);
	addr_count(fb, p);
	return 0;
}

/*
 * Hold k (an owner entry's key) for uplink: a static owner entry, which
 * no guest's claim takes. A guest's learned binding of it goes; one the
 * operator gave a guest (attach ip) stays, and so does its owner entry.
 */
static void uplink_hold(struct fabric *fb, const struct kvb_addr_key *k,
			__u32 uplink)
{
	struct kvb_addr cur, v = { .flags = KVB_ADDR_F_STATIC,
				   .owner = uplink };

	if (!bpf_map_lookup_elem(fb->addr_fd, k, &cur) && cur.owner != uplink) {
		struct kvb_addr_key pk = *k;
		struct kvb_addr b;
		struct kvb_port p;

		pk.ifindex = cur.owner;
		pk.net_id = 0;
		if (!bpf_map_lookup_elem(fb->addr_fd, &pk, &b) &&
		    (b.flags & KVB_ADDR_F_STATIC))
			return;
		bpf_map_delete_elem(fb->addr_fd, &pk);
		if (!port_get(fb, cur.owner, &p)) {
			addr_count(fb, &p);
			port_store_counted(fb, &p, BPF_EXIST);
		}
	}
	bpf_map_update_elem(fb->addr_fd, k, &v, BPF_ANY);
}

/*
 * Is next hop h of the host's routes a host of bridge network n's LAN?
 * Only on positive evidence: the host's neighbour entry for it on the
 * uplink is resolved (h->resolved) and names a MAC the MAC table has
 * learned behind the uplink. The host may route through a router VM on
 * the bridge, whose MAC is behind its own port; held for the uplink, it
 * could no longer answer for its own address, and nothing it sends could
 * show it is a guest's any more. An unresolved next hop, or one whose MAC
 * has aged out of the table, is not held (until a later command finds it
 * resolved).
 */
static bool next_hop_on_lan(struct fabric *fb, const struct kvb_net *n,
			    const struct host_hop *h)
{
	struct kvb_fdb_key fk = { .net_id = n->id };
	struct kvb_fdb_entry fe;

	if (!h->resolved)
		return false;
	memcpy(fk.mac, h->mac, 6);
	return !bpf_map_lookup_elem(fb->fdb_fd, &fk, &fe) &&
	       fe.ifindex == n->uplink &&
	       !(fe.flags & (KVB_FDB_F_STATIC | KVB_FDB_F_REMOTE));
}

/* at most this many next hops of one family through an uplink are held */
#define UPLINK_HOPS_MAX 16

/*
 * The next hops of the host's routes through bridge network n's uplink
 * (its default route's gateway, the LAN's router, as often as not), IPv4
 * and IPv6, held for the uplink as the host's own addresses are: a guest
 * with no address of its own could otherwise answer ARP or neighbour
 * discovery for the router and draw the other guests' (and the host's)
 * traffic to it. Only next hops known to be on the LAN (next_hop_on_lan).
 * The main table, from rtnetlink; a route or neighbour the host gets
 * later counts from the next changing command. An IPv6 router's
 * link-local is also bound from its advertisements (savi_bind_router):
 * an address the uplink owns already is left as it is.
 */
static void uplink_hold_gateways(struct fabric *fb, const struct kvb_net *n)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct host_hop hops[UPLINK_HOPS_MAX];

	for (size_t f = 0; f < 2; f++) {
		int nh = host_next_hops(n->uplink, families[f], hops,
					UPLINK_HOPS_MAX);

		for (int i = 0; i < nh; i++) {
			struct kvb_addr_key k = {
				.net_id = (__u8)n->id,
				.family = families[f] == AF_INET ? 4 : 6
			};
			struct kvb_addr cur;

			memcpy(k.addr, hops[i].addr, k.family == 4 ? 4 : 16);
			if (!next_hop_on_lan(fb, n, &hops[i]) ||
			    (!bpf_map_lookup_elem(fb->addr_fd, &k, &cur) &&
			     cur.owner == n->uplink))
				continue;
			uplink_hold(fb, &k, n->uplink);
		}
	}
}

/*
 * The host's own addresses on each bridge network's uplink (its NIC's,
 * on the LAN), held for the uplink port in kvb_addr as static owner
 * entries: no guest claims one (SAVI's first use, an unaddressed port's
 * ARP) to take the host's traffic from the LAN's router with an
 * unsolicited NA or a gratuitous ARP of its own MAC. IPv4 and IPv6, the
 * link-local too (a stable-privacy one is no MAC's EUI-64, which the
 * guard knew before). Run by the upkeep step of every changing command
 * and when a bridge network gets its uplink, with the next hops of the
 * host's routes through it (uplink_hold_gateways); an IPv6 address the host
 * takes between two commands (a new temporary one) the datapath holds
 * from its DAD probe (savi_hold_host), and this forgets it once the host
 * no longer has it.
 */
void uplink_addrs_sync(struct fabric *fb)
{
	struct ifaddrs *ifa, *i;
	struct kvb_net n;

	if (getifaddrs(&ifa))
		return;
	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		if (net_get(fb, id, &n) || n.type != KVB_NET_BRIDGE || !n.uplink)
			continue;
		/* the host's holds go (static owner entries); the LAN
		 * routers' bindings (savi_bind_router) are the datapath's */
		addr_purge(fb, n.uplink, KVB_ADDR_F_STATIC);
		for (i = ifa; i; i = i->ifa_next) {
			struct kvb_addr_key k = { .net_id = (__u8)n.id };

			if (!i->ifa_addr || if_nametoindex(i->ifa_name) != n.uplink)
				continue;
			if (i->ifa_addr->sa_family == AF_INET) {
				k.family = 4;
				memcpy(k.addr, &((struct sockaddr_in *)(void *)
						 i->ifa_addr)->sin_addr, 4);
			} else if (i->ifa_addr->sa_family == AF_INET6) {
				k.family = 6;
				memcpy(k.addr, &((struct sockaddr_in6 *)(void *)
						 i->ifa_addr)->sin6_addr, 16);
			} else {
				continue;
			}
			uplink_hold(fb, &k, n.uplink);
		}
		uplink_hold_gateways(fb, &n);
		/* the holds the datapath made (savi_hold_host) counted on
		 * the uplink: counted anew */
		{
			struct kvb_port p;

			if (!port_get(fb, n.uplink, &p)) {
				addr_count(fb, &p);
				port_store_counted(fb, &p, BPF_EXIST);
			}
		}
	}
	freeifaddrs(ifa);
}

/* The live bindings of ifindex, as port show's "addresses". */
void addr_print(struct fabric *fb, __u32 ifindex)
{
	struct kvb_addr_key key, *prev = NULL;
	__u64 now = clock_mono_ns();

	open_json_array("addresses");
	while (!bpf_map_get_next_key(fb->addr_fd, prev, &key)) {
		struct kvb_addr a;
		char buf[64];
		const char *how;
		__u64 age = 0, left = 0;

		prev = &key;
		if (key.ifindex != ifindex ||
		    bpf_map_lookup_elem(fb->addr_fd, &key, &a))
			continue;
		/* a dead binding is refused already; the sweep takes it */
		if (a.expires_ns && a.expires_ns < now)
			continue;
		fmt_addr(&key, buf);
		open_json_object(NULL);
		print_string(PRINT_ANY, "ip", " ip %s", buf);
		how = a.flags & KVB_ADDR_F_DHCP ? "dhcp" :
		      a.flags & KVB_ADDR_F_SAVI ? "savi" : "static";
		print_string(PRINT_JSON, "source", NULL, how);
		if (a.learned_ns && a.learned_ns < now)
			age = (now - a.learned_ns) / 1000000000ULL;
		if (a.expires_ns)
			left = (a.expires_ns - now) / 1000000000ULL;
		if (a.learned_ns) {
			print_text("(%s", how);
			print_uint(PRINT_ANY, "age_s", ", age %llus", age);
			if (a.expires_ns)
				print_uint(PRINT_ANY, "expires_in_s",
					   ", ends in %llus", left);
			print_text(")");
		}
		close_json_object();
	}
	close_json_array();
}

/*
 * Write ifindex's IPv6 counts (n_ip6, n_savi) into a fresh copy of its
 * port entry: the datapath counts DHCPv4 leases into n_ip4 meanwhile.
 */
static int addr_recount6(struct fabric *fb, __u32 ifindex,
			 struct kvb_port *out)
{
	struct kvb_port p, fresh;

	if (port_get(fb, ifindex, &p))
		return -ENOENT;
	addr_count(fb, &p);
	if (port_get(fb, ifindex, &fresh))
		return -ENOENT;
	fresh.n_ip6 = p.n_ip6;
	fresh.n_savi = p.n_savi;
	if (port_store_counted(fb, &fresh, BPF_EXIST))
		return -errno;
	if (out)
		*out = fresh;
	return 0;
}

/* How many live DHCPv6 leases ifindex holds. */
static __u32 addr_leases6(struct fabric *fb, __u32 ifindex, __u64 now)
{
	struct kvb_addr_key key, *prev = NULL;
	struct kvb_addr a;
	__u32 n = 0;

	while (!bpf_map_get_next_key(fb->addr_fd, prev, &key)) {
		prev = &key;
		if (key.ifindex == ifindex && key.family == 6 &&
		    !bpf_map_lookup_elem(fb->addr_fd, &key, &a) &&
		    (a.flags & KVB_ADDR_F_DHCP) &&
		    (!a.expires_ns || now <= a.expires_ns))
			n++;
	}
	return n;
}

/*
 * A DHCPv6 lease (dnsmasq's lease script, dhcp_event): add (or, with add
 * false, release) address k of port p as learned from DHCP until expires
 * (monotonic ns, 0: never), with its owner entry, so that it is the
 * port's like a snooped DHCPv4 lease. The server's word beats a first
 * claim: a learned (SAVI) binding of another port is taken over, as the
 * datapath does for DHCPv4 (kvb_bind), so that a guest that sends from an
 * address of the range before the lease script has run (it sees the
 * client's REQUEST) does not keep the client off its lease. Another
 * port's lease or static address is left alone (-EEXIST); a static
 * address of the port stays static. A port holds at most
 * KVB_LEASE6_MAX leases (-ENOSPC): many client DUIDs from one guest
 * cannot fill the address table.
 */
int port_addr_lease(struct fabric *fb, struct kvb_port *p,
		    struct kvb_addr_key k, bool add, __u64 expires)
{
	struct kvb_addr a = { .flags = KVB_ADDR_F_DHCP }, cur;
	struct kvb_addr_key ok = k;
	__u64 now = clock_mono_ns();
	__u32 other = 0;
	bool own;

	ok.ifindex = 0;
	ok.net_id = (__u8)p->net_id;
	k.ifindex = p->ifindex;
	k.net_id = 0;
	if (!bpf_map_lookup_elem(fb->addr_fd, &ok, &cur) &&
	    cur.owner != p->ifindex) {
		struct kvb_addr_key hk = k;
		struct kvb_addr h;

		hk.ifindex = cur.owner;
		if (!bpf_map_lookup_elem(fb->addr_fd, &hk, &h) &&
		    (!h.expires_ns || now <= h.expires_ns) &&
		    (h.flags & (KVB_ADDR_F_STATIC | KVB_ADDR_F_DHCP)))
			return -EEXIST;
		if (!add)
			return -EEXIST;
		other = cur.owner;	/* a first claim, or dead: it goes */
	}
	own = !bpf_map_lookup_elem(fb->addr_fd, &k, &cur);
	if (own && (cur.flags & KVB_ADDR_F_STATIC))
		return 0;
	if (add) {
		if (!(own && (cur.flags & KVB_ADDR_F_DHCP)) &&
		    addr_leases6(fb, p->ifindex, now) >= KVB_LEASE6_MAX)
			return -ENOSPC;
		if (other) {
			struct kvb_addr_key hk = k;

			hk.ifindex = other;
			bpf_map_delete_elem(fb->addr_fd, &hk);
			bpf_map_delete_elem(fb->addr_fd, &ok);
			addr_recount6(fb, other, NULL);
		}
		a.learned_ns = now;
		a.expires_ns = expires;
		a.owner = p->ifindex;
		if (bpf_map_update_elem(fb->addr_fd, &ok, &a, BPF_ANY))
			return -errno;
		a.owner = 0;
		if (bpf_map_update_elem(fb->addr_fd, &k, &a, BPF_ANY)) {
			bpf_map_delete_elem(fb->addr_fd, &ok);
			return -errno;
		}
	} else {
		/* the end of a lease ends a lease, not a first claim */
		if (!own || !(cur.flags & KVB_ADDR_F_DHCP))
			return 0;
		bpf_map_delete_elem(fb->addr_fd, &k);
		bpf_map_delete_elem(fb->addr_fd, &ok);
	}
	/* a SAVI binding may have become DHCP's: n_savi too */
	return addr_recount6(fb, p->ifindex, p);
}
