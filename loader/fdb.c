// SPDX-License-Identifier: MIT
/*
 * The MAC table: its entries for the ports (a port's static MAC, purges)
 * and `fdb show [net NAME]`: learned and static entries with their age.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

struct purge {
	__u32 ifindex, net_id;
};

static bool fdb_match(const void *key, const void *value, void *arg)
{
	const struct kvb_fdb_key *k = key;
	const struct kvb_fdb_entry *e = value;
	const struct purge *p = arg;

	return (p->ifindex && e->ifindex == p->ifindex) ||
	       (p->net_id && k->net_id == p->net_id);
}

/* Remove every FDB entry that points at ifindex, or belongs to net_id. */
void fdb_purge(struct fabric *fb, __u32 ifindex, __u32 net_id)
{
	struct purge p = { .ifindex = ifindex, .net_id = net_id };

	map_delete_where(fb->fdb_fd, sizeof(struct kvb_fdb_key),
			 sizeof(struct kvb_fdb_entry), fdb_match, &p);
}

/* which entries of a port a purge keeps: mac's, and the other kind's */
struct keep {
	__u32 ifindex;
	__u8 mac[6];
	bool learned;	/* purge learned entries (else static ones) */
};

static bool fdb_other(const void *key, const void *value, void *arg)
{
	const struct kvb_fdb_key *k = key;
	const struct kvb_fdb_entry *e = value;
	const struct keep *keep = arg;

	return e->ifindex == keep->ifindex &&
	       !(e->flags & KVB_FDB_F_STATIC) == keep->learned &&
	       memcmp(k->mac, keep->mac, 6);
}

static void fdb_purge_other(struct fabric *fb, __u32 ifindex,
			    const __u8 mac[6], bool learned)
{
	struct keep keep = { .ifindex = ifindex, .learned = learned };

	memcpy(keep.mac, mac, 6);
	map_delete_where(fb->fdb_fd, sizeof(struct kvb_fdb_key),
			 sizeof(struct kvb_fdb_entry), fdb_other, &keep);
}

/*
 * Remove every static entry of port ifindex but mac's: a guest owns one
 * MAC, and one its first frame pinned while a command gave it another
 * (read before the pin, written after) would stay the port's for good.
 */
void fdb_purge_others(struct fabric *fb, __u32 ifindex, const __u8 mac[6])
{
	fdb_purge_other(fb, ifindex, mac, false);
}

/*
 * Remove every learned entry of port ifindex but mac's (all of them when
 * mac is all zeros): a guest whose spoofcheck comes on sends from its own
 * MAC alone, and a fresh learned entry of a spoofcheck guest counts as
 * its own (fdb_entry_owned), so the MACs it sent while spoofcheck was
 * off would be refused to their holders, on this host and from the
 * tunnel, until they aged.
 */
void fdb_purge_learned_others(struct fabric *fb, __u32 ifindex,
			      const __u8 mac[6])
{
	fdb_purge_other(fb, ifindex, mac, true);
}

/* The port whose static MAC mac is in net_id, or 0. */
__u32 fdb_static_owner(struct fabric *fb, __u32 net_id, const __u8 mac[6])
{
	struct kvb_fdb_key k = { .net_id = net_id };
	struct kvb_fdb_entry e;

	memcpy(k.mac, mac, 6);
	if (bpf_map_lookup_elem(fb->fdb_fd, &k, &e) ||
	    !(e.flags & KVB_FDB_F_STATIC))
		return 0;
	return e.ifindex;
}

/* mac is ifindex's, in net_id, for good: it never ages or moves. */
int fdb_static_set(struct fabric *fb, __u32 net_id, const __u8 mac[6],
		   __u32 ifindex)
{
	struct kvb_fdb_key k = { .net_id = net_id };
	struct kvb_fdb_entry e = { .ifindex = ifindex,
				   .flags = KVB_FDB_F_STATIC };

	memcpy(k.mac, mac, 6);
	return bpf_map_update_elem(fb->fdb_fd, &k, &e, BPF_ANY) ? -errno : 0;
}

/*
 * Why fdb_static_set failed, for an error line: a full table is said so
 * (the kernel's E2BIG reads "Argument list too long").
 */
const char *fdb_set_error(int ret)
{
	static char full[64];

	if (ret != -E2BIG)
		return strerror(-ret);
	snprintf(full, sizeof(full), "the MAC table is full (%d entries)",
		 KVB_MAX_FDB);
	return full;
}

/* A reservation's entry: static, of no port. */
#define FDB_RESERVED_ENTRY \
	{ .flags = KVB_FDB_F_STATIC | KVB_FDB_F_RESERVED }

/*
 * A DHCP host reservation's MAC in net_id: a static entry of no port
 * (KVB_FDB_F_RESERVED), so that no guest pins it from its frames while
 * the VM it is reserved for is away (fdb.h: fdb_owned_elsewhere); a port
 * that holds it (given with `mac`) keeps its own entry. 0, or -errno.
 */
int fdb_reserve(struct fabric *fb, __u32 net_id, const __u8 mac[6])
{
	struct kvb_fdb_key k = { .net_id = net_id };
	struct kvb_fdb_entry e = FDB_RESERVED_ENTRY;
	struct kvb_fdb_entry cur;
	__u64 flag = BPF_NOEXIST;

	memcpy(k.mac, mac, 6);
	if (!bpf_map_lookup_elem(fb->fdb_fd, &k, &cur)) {
		/* a port's, reserved already, or learned lately (a port
		 * without spoofcheck, the LAN, another host: its next
		 * hold, once it aged, takes it) */
		if ((cur.flags & KVB_FDB_F_STATIC) ||
		    !kvb_fdb_entry_aged(&cur, clock_mono_exact_ns()))
			return 0;
		flag = BPF_ANY;
	}
	/* a guest's pin between the look and the write wins (NOEXIST):
	 * its port holds the MAC then, as the entry says */
	if (bpf_map_update_elem(fb->fdb_fd, &k, &e, flag))
		return errno == EEXIST ? 0 : -errno;
	return 0;
}

/*
 * mac, port ifindex's own static MAC, leaves the port (detach, port set
 * mac): a reservation's MAC becomes the reservation's entry again in
 * place, with no moment in which a guest could pin it; any other goes.
 */
void fdb_release(struct fabric *fb, __u32 net_id, const __u8 mac[6],
		 __u32 ifindex)
{
	struct kvb_fdb_key k = { .net_id = net_id };
	struct kvb_fdb_entry e = FDB_RESERVED_ENTRY;
	struct kvb_fdb_entry cur;
	struct kvb_addr_key a;

	memcpy(k.mac, mac, 6);
	if (bpf_map_lookup_elem(fb->fdb_fd, &k, &cur) ||
	    cur.ifindex != ifindex || !(cur.flags & KVB_FDB_F_STATIC))
		return;
	if (!dhcphost_of_mac(fb, net_id, mac, &a) &&
	    !bpf_map_update_elem(fb->fdb_fd, &k, &e, BPF_EXIST))
		return;
	bpf_map_delete_elem(fb->fdb_fd, &k);
}

/* The reservation's entry of mac goes (a port's own stays). */
void fdb_unreserve(struct fabric *fb, __u32 net_id, const __u8 mac[6])
{
	struct kvb_fdb_key k = { .net_id = net_id };
	struct kvb_fdb_entry cur;

	memcpy(k.mac, mac, 6);
	if (!bpf_map_lookup_elem(fb->fdb_fd, &k, &cur) &&
	    (cur.flags & KVB_FDB_F_RESERVED))
		bpf_map_delete_elem(fb->fdb_fd, &k);
}

void fdb_del(struct fabric *fb, __u32 net_id, const __u8 mac[6])
{
	struct kvb_fdb_key k = { .net_id = net_id };

	memcpy(k.mac, mac, 6);
	bpf_map_delete_elem(fb->fdb_fd, &k);
}

static void fdb_details(void)
{
	printf("  Learned entries age out after %llu s without traffic; static\n"
	       "  entries are the MACs given to 'attach ... mac MAC' (or pinned\n"
	       "  from a port's first frame), and 'reserved' ones the MACs of\n"
	       "  DHCP host reservations ('dhcp-host add ... mac MAC'), which no\n"
	       "  port pins. Listed by network, then MAC.\n"
	       "Limit: %d entries in all networks; learning adds none past\n"
	       "  %d, keeping the rest for static entries. Each network may\n"
	       "  learn %d of its own; the %d places left are shared, first\n"
	       "  come.\n",
	       KVB_FDB_AGE_NS / 1000000000ULL, KVB_MAX_FDB, KVB_FDB_LEARN_MAX,
	       KVB_FDB_NET_MIN, KVB_FDB_SHARED);
}


struct fdb_row {
	struct kvb_fdb_key key;
	struct kvb_fdb_entry e;
};

struct fdb_rows {
	struct fdb_row *r;
	size_t n, cap;
	__u32 net_id;		/* 0: every network */
};

static void fdb_collect(const void *key, const void *value, void *arg)
{
	const struct kvb_fdb_key *k = key;
	struct fdb_rows *rows = arg;

	if (rows->net_id && k->net_id != rows->net_id)
		return;
	if (rows->n == rows->cap) {
		size_t c = rows->cap ? 2 * rows->cap : 64;
		struct fdb_row *t = realloc(rows->r, c * sizeof(*t));

		if (!t)
			return;
		rows->r = t;
		rows->cap = c;
	}
	rows->r[rows->n].key = *k;
	rows->r[rows->n++].e = *(const struct kvb_fdb_entry *)value;
}

static int fdb_cmp(const void *a, const void *b)
{
	const struct fdb_row *x = a, *y = b;

	if (x->key.net_id != y->key.net_id)
		return x->key.net_id < y->key.net_id ? -1 : 1;
	return memcmp(x->key.mac, y->key.mac, 6);
}

static int fdb_show(int argc, char **argv)
{
	struct fdb_rows rows = { 0 };
	struct kvb_net net, filter;
	struct kvb_port p;
	struct fabric *fb;
	__u64 now = clock_mono_exact_ns();

	if (argc && (argc != 2 || strcmp(argv[0], "net")))
		return err("fdb show: expected [net NAME]");
	fb = fab_ro();
	if (!fb)
		return 1;
	if (argc && net_find(fb, argv[1], &filter))
		return err("fdb show: network %s does not exist", argv[1]);
	rows.net_id = argc ? filter.id : 0;
	map_walk(fb->fdb_fd, sizeof(struct kvb_fdb_key),
		 sizeof(struct kvb_fdb_entry), fdb_collect, &rows);
	if (rows.n)
		qsort(rows.r, rows.n, sizeof(*rows.r), fdb_cmp);
	open_json_array(NULL);
	for (size_t i = 0; i < rows.n; i++) {
		const struct kvb_fdb_key *key = &rows.r[i].key;
		const struct kvb_fdb_entry *e = &rows.r[i].e;
		bool is_static = e->flags & KVB_FDB_F_STATIC, aged;
		char mac[18], ifn[16];
		__u64 age;

		if (net_get(fb, key->net_id, &net))
			snprintf(net.name, sizeof(net.name), "#%u", key->net_id);
		fmt_mac(key->mac, mac);
		if (e->flags & KVB_FDB_F_RESERVED)
			snprintf(ifn, sizeof(ifn), "-");
		else
			ifname_of(e->ifindex,
				  port_get(fb, e->ifindex, &p) ? NULL : &p,
				  ifn);
		age = now > e->seen_ns ? (now - e->seen_ns) / 1000000000ULL : 0;
		aged = kvb_fdb_entry_aged(e, now);
		open_json_object(NULL);
		print_string(PRINT_ANY, "mac", "%s", mac);
		print_string(PRINT_ANY, "dev", " dev %-15s", ifn);
		print_string(PRINT_ANY, "net", " net %-15s", net.name);
		/* a MAC behind another host of an overlay network */
		if (e->flags & KVB_FDB_F_REMOTE) {
			struct kvb_addr_key a = { .family = e->remote.family };
			char ra[64];

			memcpy(a.addr, e->remote.addr, 16);
			fmt_addr(&a, ra);
			print_string(PRINT_ANY, "remote", " remote %s", ra);
		} else {
			print_null("remote");
		}
		print_bool(PRINT_JSON, "static", NULL, is_static);
		print_bool(PRINT_JSON, "reserved", NULL,
			   e->flags & KVB_FDB_F_RESERVED);
		if (e->flags & KVB_FDB_F_RESERVED)
			print_text(" static reserved");
		else if (is_static)
			print_text(" static");
		else
			print_uint(PRINT_ANY, "age", " age %llus", age);
		print_bool(PRINT_JSON, "expired", NULL, aged);
		if (aged)
			print_text(" expired");
		print_nl();
		close_json_object();
	}
	close_json_array();
	free(rows.r);
	return 0;
}

const struct object obj_fdb = {
	.name = "fdb",
	.cmds = (const struct cmd[]){
		{ "show", fdb_show, "[net NAME]", 0 },
		{ "list", fdb_show, NULL, 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = fdb_details,
};
