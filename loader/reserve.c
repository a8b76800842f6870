// SPDX-License-Identifier: MIT
/*
 * The reservations table (kvb_dhcphost, the loader's alone), read: what
 * is reserved for an address or a MAC, and a walk over them. The files
 * that keep a reservation from being taken read it here (addr.c: a port
 * of another MAC; dhcp.c: dnsmasq's hosts file and its leases; fdb.c: the
 * MAC's reserved entry); the `dhcp-host` command that writes it is
 * dhcphost.c, above them all.
 */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

/*
 * The map's fd, opened once a fabric (closed with it: fabric_close), or
 * -ENOENT for a fabric whose programs were loaded before the map was
 * (an older build's: `kvmbpf upgrade` creates it, the layout is the same).
 */
int dhcphost_fd(struct fabric *fb)
{
	if (!fb->dhcphost_fd)
		fb->dhcphost_fd = open_map(fb, KVB_MAP_DHCPHOST);
	return fb->dhcphost_fd;
}

int dhcphost_get(struct fabric *fb, __u32 net_id,
		 const struct kvb_addr_key *a, struct kvb_dhcphost *v)
{
	struct kvb_dhcphost_key k = { .net_id = net_id, .family = a->family };
	int fd = dhcphost_fd(fb);

	if (fd < 0)
		return fd;
	memcpy(k.addr, a->addr, 16);
	return bpf_map_lookup_elem(fd, &k, v) ? -ENOENT : 0;
}

struct mac_find {
	const __u8 *mac;
	struct kvb_addr_key *out;
	bool hit;
};

static void mac_find_one(const struct kvb_dhcphost_key *k,
			 const struct kvb_dhcphost *v, void *arg)
{
	struct mac_find *m = arg;

	if (m->hit || !v->has_mac || k->family != 4 ||
	    memcmp(v->mac, m->mac, 6))
		return;
	memset(m->out, 0, sizeof(*m->out));
	m->out->family = 4;
	memcpy(m->out->addr, k->addr, 16);
	m->hit = true;
}

struct host_walk {
	__u32 net_id;
	void (*fn)(const struct kvb_dhcphost_key *k,
		   const struct kvb_dhcphost *v, void *arg);
	void *arg;
};

static void host_walk_one(const void *key, const void *value, void *arg)
{
	const struct kvb_dhcphost_key *k = key;
	struct host_walk *w = arg;

	if (!w->net_id || k->net_id == w->net_id)
		w->fn(k, value, w->arg);
}

/* The IPv4 address reserved for mac in net_id (into *a): 0, or -ENOENT. */
int dhcphost_of_mac(struct fabric *fb, __u32 net_id, const __u8 mac[6],
		    struct kvb_addr_key *a)
{
	struct mac_find m = { .mac = mac, .out = a };

	dhcphost_each(fb, net_id, mac_find_one, &m);
	return m.hit ? 0 : -ENOENT;
}

/* Calls fn for each reservation of net_id (0: every one), in map order. */
void dhcphost_each(struct fabric *fb, __u32 net_id,
		   void (*fn)(const struct kvb_dhcphost_key *k,
			      const struct kvb_dhcphost *v, void *arg),
		   void *arg)
{
	struct host_walk w = { .net_id = net_id, .fn = fn, .arg = arg };
	int fd = dhcphost_fd(fb);

	if (fd >= 0)
		map_walk(fd, sizeof(struct kvb_dhcphost_key),
			 sizeof(struct kvb_dhcphost), host_walk_one, &w);
}
