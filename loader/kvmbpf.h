/* SPDX-License-Identifier: MIT */
/* Declarations shared by the kvmbpf CLI's object files. */
#ifndef KVMBPF_H
#define KVMBPF_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "kvb_maps.h"
#include "output.h"
#include "netcaps.h"

#define KVMBPF_VERSION "0.1.0"
#define KVB_DEFAULT_BPFFS "/sys/fs/bpf/kvmbpf"
#define KVB_RUN_DIR "/run/kvmbpf"

/* Global options, set once by main() from the command line. */
struct kvb_opts {
	const char *bpffs;	/* pin directory */
	bool may_create;	/* the command makes a fabric where none is */
	bool any_netns;		/* reset force: open a fabric of another
				 * network namespace too (fabric_foreign) */
};
extern struct kvb_opts opts;

/* Everything a command needs of the pinned fabric. */
struct fabric {
	char dir[256];
	int lock_fd;
	int net_fd, port_fd, fdb_fd, stats_fd, addr_fd, meta_fd, ct_fd;
	int fwd_fd, ctcnt_fd, mon_fd, events_fd, route_fd, natst_fd,
	    ctsweep_fd, natmap_fd, hostif_fd;
	int acl_fd, aclr_fd, aclp_fd, aclsel_fd, acllpm_fd, aclbit_fd, aclcnt_fd,
	    aclct_fd, aclct4_fd, aclctn_fd, aclon_fd, xdptx_fd, portdev_fd, ctpn_fd;
	int prog_tc_ingress, prog_tc_egress, prog_xdp;
	/* kvb_dhcphost, opened on first use (0: not yet; dhcphost.c) */
	int dhcphost_fd;
	/* nat_flows_forget: walks held back (nat_forget_hold) and whether
	 * one is due when the last hold is released */
	int forget_hold;
	bool forget_due;
	bool resetting;		/* reset: every network goes, none is handed a
				 * device (wan_uplink_gone) */
};


/* fabric.c */
bool fabric_exists(const char *dir);
unsigned int fabric_other_layout(const char *dir);
bool fabric_loaded(const char *dir);
int open_map(struct fabric *fb, const char *name);
int fabric_open(struct fabric *fb, const char *dir);
int fabric_open_ro(struct fabric *fb, const char *dir);
void fabric_close(struct fabric *fb);
/* the CLI's fabric, opened on first use: to change it, or to read it */
void fab_release(void);
struct fabric *fab(void);
struct fabric *fab_ro(void);
int fabric_load_programs(const char *dir);
int xdp_bound_prog(const char *dir, __u32 ifindex);
int fabric_reopen_progs(struct fabric *fb);
/* the NAT flows no guest port can take go (count, mappings), now or,
 * while a hold is on, once the last hold is released; how many went */
int nat_flows_forget(struct fabric *fb);
void nat_forget_hold(struct fabric *fb);
int nat_forget_release(struct fabric *fb);
__u64 fabric_build_hash(void);
/* how many IPv4 vteps the overlay holds (the datapath's count) */
__u32 fabric_vteps4(struct fabric *fb);
/* a tag no guest can guess, stable for the fabric (16 hex characters) */
void fabric_tag(struct fabric *fb, char out[17]);
int net_find(struct fabric *fb, const char *name, struct kvb_net *out);
int net_get(struct fabric *fb, __u32 id, struct kvb_net *out);
int net_put(struct fabric *fb, const struct kvb_net *net);
int net_clear(struct fabric *fb, __u32 id);
void net_member_add(struct kvb_net *net, __u32 ifindex);
void net_member_remove(struct kvb_net *net, __u32 ifindex);
bool net_member_has(const struct kvb_net *net, __u32 ifindex);
int ports_detach_where(struct fabric *fb, const char *cmd, __u32 net_id);
int port_get(struct fabric *fb, __u32 ifindex, struct kvb_port *out);
int port_store(struct fabric *fb, struct kvb_port *p, __u64 flags);
int port_store_counted(struct fabric *fb, struct kvb_port *p, __u64 flags);
__u16 port_slot_take(struct fabric *fb);
int port_find_by_name(struct fabric *fb, const char *name,
		      struct kvb_port *out);
void map_walk(int fd, size_t key_size, size_t value_size,
	      void (*fn)(const void *key, const void *value, void *arg),
	      void *arg);
int map_delete_where(int fd, size_t key_size, size_t value_size,
		     bool (*match)(const void *key, const void *value,
				   void *arg),
		     void *arg);
/* a network's host interfaces: kvbgwID / kvbgpID (see fabric.c) */
void gateway_ifnames(__u32 id, char host[16], char port[16]);
/* /run/kvmbpf/<gateway interface>.EXT: a network's state files */
void run_path(const struct kvb_net *net, const char *ext, char *buf,
	      size_t len);
/* every port, sorted by name (the caller frees *out); count or -errno */
int port_list(struct fabric *fb, struct kvb_port **out);
/* DEV by its current name, else by the name recorded at attach (gone) */
int port_resolve(struct fabric *fb, const char *dev, struct kvb_port *out);

/* A port's settings, as attach and port set take them. */
struct port_opts {
	const __u8 *mac;	/* NULL: none (pinned from the first frame) */
	bool xdp;
	bool xdp_set;		/* port set: xdp given */
	bool spoofcheck;
	bool isolated;
	bool savi_off;		/* no IPv6 address bound by first claim */
	int naddrs;		/* -1: leave the address list alone */
	struct kvb_addr_key addrs[KVB_MAX_PORT_ADDRS];
	int nacl;		/* -1: leave the port's ACLs alone, 0: none */
	__u16 acl[KVB_ACL_PER_PORT];
};

/* port.c: also used by `net add ... uplink` and `net del` */
int port_attach(struct fabric *fb, const char *cmd, const char *dev,
		__u32 net_id, __u32 role, const struct port_opts *o);
int port_detach(struct fabric *fb, const char *cmd, const struct kvb_port *p);
/* does the port's XDP need a program bound to its device (xdp_bound_prog)? */
bool xdp_bound(__u32 ifindex, __u32 role);
/* add (on) or remove XDP on an attached port, p's flags and entry too */
int port_xdp_set(struct fabric *fb, const char *cmd, struct kvb_port *p,
		 bool on);
bool dev_is_l3(__u32 ifindex);
int dev_refuse(struct fabric *fb, const char *cmd, const char *dev, __u32 role);
bool fabric_ifname(const char *name);

/* addr.c: the address table, what each port may send from */
/* o's addresses are no other port's: 0, or the error told */
int addr_holder(struct fabric *fb, __u32 net_id, const struct kvb_addr_key *a,
		struct kvb_port *p, struct kvb_addr *b);
int addr_check(struct fabric *fb, const char *cmd, const struct kvb_port *p,
	       const struct port_opts *o);
/* replace p's configured addresses with o's (learned ones stay) */
int addr_set(struct fabric *fb, const char *cmd, struct kvb_port *p,
	     const struct port_opts *o);
/* remove ifindex's addresses (flags 0: all, else only those) */
void addr_purge(struct fabric *fb, __u32 ifindex, __u32 flags);
/* p's address counts (n_ip4, n_ip6, n_savi) from the table, as they are */
void addr_count(struct fabric *fb, struct kvb_port *p);
void addr_mac_owned(struct fabric *fb, __u32 net_id, const __u8 mac[6],
		    __u32 ifindex);
void uplink_addrs_sync(struct fabric *fb);
void addr_print(struct fabric *fb, __u32 ifindex);
/* a DHCPv6 lease's address (dnsmasq's lease script) as the port's */
int port_addr_lease(struct fabric *fb, struct kvb_port *p,
		    struct kvb_addr_key k, bool add, __u64 expires);
/* DHCPv6 leases one port may hold (as many as leased or static
 * addresses of a family: the datapath's budget, dhcp.h) */
#define KVB_LEASE6_MAX KVB_DHCP_LEASE_MAX

/* fdb.c: the MAC table's entries for the ports */
void fdb_purge(struct fabric *fb, __u32 ifindex, __u32 net_id);
__u32 fdb_static_owner(struct fabric *fb, __u32 net_id, const __u8 mac[6]);
int fdb_static_set(struct fabric *fb, __u32 net_id, const __u8 mac[6],
		   __u32 ifindex);
void fdb_del(struct fabric *fb, __u32 net_id, const __u8 mac[6]);
int fdb_reserve(struct fabric *fb, __u32 net_id, const __u8 mac[6]);
void fdb_unreserve(struct fabric *fb, __u32 net_id, const __u8 mac[6]);
void fdb_release(struct fabric *fb, __u32 net_id, const __u8 mac[6],
		 __u32 ifindex);
void fdb_purge_others(struct fabric *fb, __u32 ifindex, const __u8 mac[6]);
void fdb_purge_learned_others(struct fabric *fb, __u32 ifindex,
			      const __u8 mac[6]);
const char *fdb_set_error(int ret);

/*
 * One network's configuration, as `net add` (and `net set`) take it: the
 * parser fills it (net.c's field table, one entry a keyword), the type's
 * ops check it and make the network from it.
 */
struct net_spec {
	char name[KVB_NAME_LEN];
	__u32 type, mtu;
	const char *uplink, *wan;	/* device names, NULL: none given */
	bool uplink_xdp;		/* uplink-xdp on */
	bool wan_xdp;			/* wan-xdp on */
	__u32 nsubnets;
	struct kvb_subnet subnets[KVB_MAX_SUBNETS];
	int ngw;
	const char *gws[KVB_MAX_SUBNETS];
	bool dhcp, force;
	__u32 ct_max, ct_timeout[4];
	__u32 ct_port_max;		/* ct-port-max */
	__u32 nat_filter;		/* enum kvb_nat_filter */
	/* overlay: vni, the vteps (vtep), those net set adds and removes */
	__u32 vni, nvteps, nadd, ndel;
	struct kvb_vtep_addr vteps[KVB_MAX_VTEPS];
	struct kvb_vtep_addr add[KVB_MAX_VTEPS], del[KVB_MAX_VTEPS];
	int nacl;			/* acl: ids, 0 none */
	__u16 acl[KVB_ACL_PER_PORT];
	__u8 acl_default[2];		/* default-ingress, default-egress */
	__u32 acl_ct_max;		/* acl-ct-max */
	unsigned int given;		/* fields given, a bit by index */
};

/*
 * A network type: everything that differs between bridge, internal, nat
 * and routed networks is here (nettype.c), and nothing outside the table
 * switches on the type (the code below it asks net_has(), netcaps.h).
 */
struct net_ops {
	/* complete n (name, type, mtu, subnets, flags set) from s, refusing
	 * what the type cannot be; nothing is made yet */
	int (*validate)(struct fabric *fb, const struct net_spec *s,
			struct kvb_net *n);
	/* make the rest once n is in the map; on failure the caller
	 * removes the network (destroy undoes what was made) */
	int (*create)(struct fabric *fb, const struct net_spec *s,
		      struct kvb_net *n);
	/* undo create (every port is gone already) */
	void (*destroy)(struct fabric *fb, const struct kvb_net *n);
	/* may a guest port with these settings join n (or change to them)? */
	int (*attach_port)(const struct kvb_net *n, const char *cmd,
			   const struct port_opts *o);
	/* after a guest port joined, changed or left */
	void (*detach_port)(struct fabric *fb, const struct kvb_net *n);
	/* net show: what n has beyond its configuration (state) */
	void (*show)(struct fabric *fb, const struct kvb_net *n);
	/* save: lines beyond `net add` (forwards), through line() */
	void (*save)(struct fabric *fb, const struct kvb_net *n,
		     void (*line)(const char *text));
};
const struct net_ops *net_ops(__u32 type);

/* net.c: the library of networks, over the ops table */
int net_spec_parse(const char *cmd, int argc, char **argv, unsigned int where,
		   struct net_spec *s);
int net_add_spec(int argc, char **argv, struct net_spec *s);
/* load: do two lines' words (after 'net add' / after 'attach DEV') say
 * the same network / port, however spelt? */
bool net_add_same(int an, char **aw, int bn, char **bw);
bool attach_same(int an, char **aw, int bn, char **bw);
int net_create(struct fabric *fb, struct net_spec *s);
void net_unfinished(struct fabric *fb);
void net_line(struct fabric *fb, const struct kvb_net *n, char *buf,
	      size_t len);
int net_port_attach(struct fabric *fb, const char *cmd, const char *dev,
		    const struct kvb_net *n, const struct port_opts *o);
int net_port_detach(struct fabric *fb, const char *cmd,
		    const struct kvb_port *p);
void net_ports_changed(struct fabric *fb, __u32 net_id);

/* lifecycle.c */
/* fabric.c: the upkeep forgot guest port DEV, its device gone (gone);
 * did it, in this process (forgot)? */
/* fabric.c: was fb made in another network namespace than this one? */
bool fabric_foreign(struct fabric *fb);
bool fabric_netns_alive(struct fabric *fb, char *where, size_t len);
__u64 fabric_netns_cookie(struct fabric *fb);
void fabric_gc_gone(const char *dev);
bool fabric_gc_forgot(const char *dev);
int fabric_gc(struct fabric *fb, bool verbose);
int fabric_tend(struct fabric *fb, bool verbose);
bool fabric_pinned(const char *dir);
void fabric_unmake(bool rm_dir);
int net_remove(struct fabric *fb, const struct kvb_net *net);

/* gateway.c: the gateway interface and WAN hook of nat and routed nets */
__be32 dev_ipv4(const char *dev);
void gateway_mac(const char *name, __u8 mac[6]);
int gateway_create(struct fabric *fb, struct kvb_net *net);
void gateway_delete(__u32 id);
void gateway_delete_unrecorded(const struct kvb_net *net);
int gateway_tend(struct fabric *fb);
int wan_attach(struct fabric *fb, const char *dev, __u32 net_id);
int wan_follow(struct fabric *fb, __u32 id);
int uplink_mtu_fit(const char *cmd, const char *uplink, struct kvb_net *n,
		   bool mtu_given);
int bridge_uplinks_follow(struct fabric *fb);
void wan_release(struct fabric *fb, __u32 net_id);
int wan_xdp_sync(struct fabric *fb, const char *cmd, __u32 wan,
		 __u32 except);
void wan_uplink_gone(struct fabric *fb, __u32 ifindex);
int wan_hook_all(struct fabric *fb, __u32 net_id);
__u32 any_route_net(struct fabric *fb, __u32 except);
__be32 nat_address(const struct kvb_net *n);

/* nat.c */
void wan_address_refresh(struct fabric *fb);
void nat_nh_bump(struct fabric *fb);
void wan_wait_start(struct fabric *fb, const struct kvb_net *net);
void wan_wait_stop(const struct kvb_net *net);
bool wan_wait_alive(const struct kvb_net *net);
bool net_wan_watched(const struct kvb_net *n);
int nat_port_range(__u16 *lo, __u16 *hi);
const char *nat_filter_name(__u32 f);
int ct_flush_net(struct fabric *fb, __u32 net_id);
void ct_recount(struct fabric *fb);
__u64 ct_count(struct fabric *fb, __u32 net_id);

/* routed.c */
int subnet_parse(const char *s, struct kvb_subnet *sn);
const char *subnet_reserved(const struct kvb_subnet *sn);
int subnets_gateways(struct kvb_subnet *sn, int n, char **gws, int ngw);
int subnets_check(struct fabric *fb, const struct kvb_subnet *sn, int n);
int net_addr_check(const char *cmd, const struct kvb_net *net,
		   const struct kvb_addr_key *k);
void subnet_fmt(const struct kvb_subnet *sn, bool gw, char *buf, size_t len);
int routes_put(struct fabric *fb, const struct kvb_net *net);
void routes_del(struct fabric *fb, const struct kvb_net *net);
bool net_peered(const struct kvb_net *n, __u32 id);
int net_peer(int argc, char **argv);
int net_unpeer(int argc, char **argv);
void peers_forget(struct fabric *fb, __u32 id);
void fwd_purge(struct fabric *fb, __u32 net_id);
bool fwd_vxlan_held(struct fabric *fb, __u32 *net_id, __be32 *to);
void fwd_port_mac(struct fabric *fb, __u32 ifindex, const __u8 mac[6]);
int fwd_load_over_vxlan(struct fabric *fb, int argc, char **argv, int lineno);
void fwd_rekey(struct fabric *fb, __u32 net_id, __be32 from, __be32 to);
struct fwd_row {
	struct kvb_fwd_key k;
	struct kvb_fwd v;
};
int fwd_list(struct fabric *fb, __u32 net_id, struct fwd_row **out);

/* dhcp.c: dnsmasq for nat networks */
int dhcp_start(struct fabric *fb, const struct kvb_net *net);
int dnsmasq_start(struct fabric *fb, const struct kvb_net *net);
int do_dhcp_event(int argc, char **argv);
void dhcp_stop(const struct kvb_net *net);
int ra_start(const struct kvb_net *net);
int dhcp_sync(struct fabric *fb, __u32 net_id);
bool dhcp_leased_elsewhere(const struct kvb_net *net, int family,
			   const __u8 a[16], const __u8 *mac, __u8 who[6]);
bool dhcp_running(const struct kvb_net *net);
bool dnsmasq_wanted(const struct kvb_net *n);
int dhcp_restarts(const struct kvb_net *net, __u64 *last);
void dhcp_revive(struct fabric *fb);
int net_leases(int argc, char **argv);

/* reserve.c: the DHCP host reservations table (kvb_dhcphost), read */
int dhcphost_fd(struct fabric *fb);
int dhcphost_get(struct fabric *fb, __u32 net_id,
		 const struct kvb_addr_key *a, struct kvb_dhcphost *v);
void dhcphost_each(struct fabric *fb, __u32 net_id,
		   void (*fn)(const struct kvb_dhcphost_key *k,
			      const struct kvb_dhcphost *v, void *arg),
		   void *arg);
int dhcphost_of_mac(struct fabric *fb, __u32 net_id, const __u8 mac[6],
		    struct kvb_addr_key *a);

/* dhcphost.c: the dhcp-host command, and the reservations' upkeep */
void dhcphost_purge(struct fabric *fb, __u32 net_id);
void dhcphost_fdb_hold(struct fabric *fb, __u32 net_id);
void dhcphost_pinned_warn(struct fabric *fb);
void dhcphost_save(struct fabric *fb, void (*line)(const char *text));

/* link.c: programs on devices */
int tc_attach(struct fabric *fb, __u32 ifindex, bool egress, bool *created);
void tc_detach(__u32 ifindex, bool egress, bool destroy_clsact);
bool tc_runs_one_of(__u32 ifindex, bool egress, const __u32 *ids, int n);
/* the name of a device's driver (ethtool), "" when unknown */
void dev_driver(const char *name, char *buf, size_t len);
/* bound: the device's own program (xdp_bound_prog), which attaches in
 * native mode only (a driver without it: -EOPNOTSUPP); else prog_xdp,
 * attached native where the driver has it, else generic */
int xdp_attach(struct fabric *fb, __u32 ifindex, bool bound);
int xdp_update(struct fabric *fb, __u32 ifindex, bool bound);
bool tc_present(__u32 ifindex);
int tc_hook_refuse(const char *cmd, const char *dev, __u32 ifindex);
void xdp_detach(struct fabric *fb, __u32 ifindex);
int dev_get_mac(const char *dev, __u8 mac[6]);
int dev_get_flags(const char *dev, unsigned int *flags);
int dev_set_promisc(const char *dev, bool on);
bool dev_ipv6_on(const char *dev);
void dev_quiet_ipv6(const char *dev);
void dev_restore_ipv6(const char *dev);

/* host.c: the host's links, addresses and routes (rtnetlink) */
struct host_link {
	__u32 ifindex, master, flags;	/* master: IFLA_MASTER, 0 if none */
	__u16 type;			/* ARPHRD_* */
	bool has_slaves;		/* a device has it as its master */
	char name[16];
	char kind[16];			/* IFLA_INFO_KIND, "" for a plain NIC */
	/* a vlan, macvlan, ipvlan, macvtap or ipvtap device on top of it
	 * (IFLA_LINK, this namespace), the first one seen; "" if none */
	char child[16], child_kind[16];
};
int host_link(__u32 ifindex, struct host_link *l);
bool link_type_l3(__u16 type);
int host_tc_filters(__u32 ifindex);
int host_tc_prio_kind(__u32 ifindex, bool egress, __u16 prio, char kind[16]);
const char *tc_attach_error(int ret, const char *dev);
int host_ingress_qdisc(__u32 ifindex, char kind[16]);
int host_overlap(const struct kvb_subnet *sn, __u32 skip, char what[64],
		 char dev[16]);
int host_addr_on(__u32 ifindex, char what[64]);
/* changes, through rtnetlink: 0 or the kernel's -errno */
int host_veth_add(const char *host, const char *peer, __u32 mtu,
		  const __u8 mac[6]);
int host_link_up(__u32 ifindex);
int host_addrgen_eui64(__u32 ifindex);
int host_link_del(__u32 ifindex);
int host_addr_add(__u32 ifindex, int family, const __u8 *addr, __u8 prefixlen,
		  bool nodad);
int host_default_dev(char dev[16]);
/* a next hop of the host's routes through a device (host_next_hops) */
struct host_hop {
	__u8 addr[16];		/* IPv4 in the first 4 bytes */
	__u8 mac[6];		/* the neighbour table's, when resolved */
	bool resolved;
};
int host_next_hops(__u32 oif, int family, struct host_hop *out, size_t max);
int host_vxlan_add(const char *name);
int host_dev_mtu(const char *dev, __u32 *mtu);
int host_route_mtu(int family, const __u8 *addr, __u32 *mtu, char dev[16]);

/* overlay.c: networks that span hosts (VXLAN) */
void overlay_ifname(char name[16]);
void vtep_fmt(const struct kvb_vtep_addr *a, char buf[64]);
int vtep_parse(const char *s, struct kvb_vtep_addr *a);
int vtep_index(const struct kvb_vtep_addr *v, __u32 n,
	       const struct kvb_vtep_addr *a);
void overlay_gateway_mac(__u32 vni, __u8 mac[6]);
int overlay_check(struct fabric *fb, const char *cmd,
		  const struct kvb_net *old, struct kvb_net *n, bool mtu_given);
int overlay_sync(struct fabric *fb, const char *cmd, const struct kvb_net *old,
		 struct kvb_net *n);
void overlay_tend(struct fabric *fb);

/* util.c */
int parse_mac(const char *s, __u8 mac[6]);
/* mac is all zero: none */
bool mac_zero(const __u8 mac[6]);
/* the port's MAC if it was given (`mac`), not pinned from its frames */
const __u8 *port_mac_given(const struct kvb_port *p);
int parse_addr(const char *s, struct kvb_addr_key *k);
void fmt_addr(const struct kvb_addr_key *k, char buf[64]);
bool addr_link_local(const struct kvb_addr_key *k);
__u64 clock_mono_ns(void);
__u64 clock_mono_exact_ns(void);
#define FNV1A_INIT 0xcbf29ce484222325ULL
__u64 fnv1a(__u64 h, const void *p, size_t len);
int parse_onoff(const char *s, bool *v);
void fmt_mac(const __u8 *mac, char buf[18]);
int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out);
bool drop_named(unsigned int reason);
const char *drop_name(unsigned int reason);
const char *ifname_of(__u32 ifindex, const struct kvb_port *p, char buf[16]);
bool is_help(const char *arg);
bool name_valid(const char *s);
bool pid_is(int pid, const char *name);
bool pid_has_arg(int pid, const char *arg);
bool pid_runs(int pid, const char *exe);
int pid_find(const char *exe, const char *arg);
#define KVB_DNSMASQ "/usr/sbin/dnsmasq"
unsigned long long pid_start_time(int pid);
bool pid_runs_self(int pid);

/*
 * Command tables: OBJECT COMMAND dispatch, bpftool style. The help is
 * printed from the same tables the dispatch and the parsers read, so
 * that it cannot drift from them.
 */
struct cmd {
	const char *name;	/* NULL in an object that is one command */
	int (*fn)(int argc, char **argv);
	const char *args;	/* the synopsis after the name; NULL: an
				 * alias, not listed */
	unsigned int flags;
};
/* a command that changes the fabric: main() takes the upkeep step
 * (fabric_tend) before it runs */
#define CMD_TEND 1
/* a command that makes a fabric where there is none (net add, acl add,
 * load); any other finds none an error, and leaves nothing behind */
#define CMD_CREATES 2
struct object {
	const char *name;
	const struct cmd *cmds;	/* ends with an entry whose fn is NULL */
	void (*details)(void);	/* the help below the synopsis, or NULL */
	const char *summary;	/* one line for --help, or NULL */
};
/* the command argv[0] of o (o's own if it is one command), or NULL */
const struct cmd *object_cmd(const struct object *o, int argc, char **argv);
/* run the command argv[0] of o, as load does (no help, no upkeep) */
int object_call(const struct object *o, int argc, char **argv);
void object_synopsis(const struct object *o, const char *lead,
		     const char *more);
/* help text wrapped for an 80-column terminal: words after column col,
 * continued at column indent (util.c) */
struct wrap {
	int col, indent;
};
void wrap_words(struct wrap *w, const char *s);
void wrap_printf(struct wrap *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int object_help(const struct object *o);

/* A keyword of a command line: KEYWORD [ARG], and what it does. */
struct keyword {
	const char *name;
	const char *arg;	/* NULL: a word on its own */
	const char *help;
	unsigned int only;	/* where it applies (a mask the user of
				 * the table defines), 0: everywhere */
	unsigned int flags;	/* KW_* */
};
/* given more than once on a line, each time adds (ip, subnet, vtep);
 * any other keyword given twice is an error, not the later word winning */
#define KW_REPEAT 1U

/* The keywords a command line gave so far, for keyword_take. */
struct kw_seen {
	__u64 given;		/* bit: the keyword's slot in its table */
	const char *first[64];	/* each one's first argument, or NULL */
};
/* words kw takes after its name: those of its arg ("KIND SECONDS": 2) */
int keyword_nargs(const struct keyword *kw);
/*
 * The check every KEYWORD [ARG]... parser makes of keyword kw (slot: its
 * index in its table) at argv[i]: its argument words are there, and it
 * was not given before unless it is KW_REPEAT. 0, or err()'s 1.
 */
int keyword_take(const char *cmd, const struct keyword *kw, unsigned int slot,
		 int argc, char **argv, int i, struct kw_seen *seen);
/* list (kw's value, "a,b,c") has no empty element: 0, or err()'s 1 */
int list_check(const char *cmd, const char *kw, const char *list);
/* The entry of kws named word, or NULL; n: the table's length. */
const struct keyword *keyword_find(const struct keyword *kws, size_t n,
				   const char *word);
/* "a, b or c": the names of kws, for an error message */
void keyword_list(const struct keyword *kws, size_t n, char *buf,
		  size_t len);
/* one line a keyword: "  name ARG   help" */
void keyword_help(const struct keyword *kws, size_t n);
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* acl.c: security groups */
int acl_list_parse(struct fabric *fb, const char *cmd, const char *s,
		   __u16 ids[KVB_ACL_PER_PORT], int *n);
void acl_list_fmt(struct fabric *fb, const __u16 *ids, int n, char *buf,
		  size_t len);
int acl_action_parse(const char *s, __u8 *a);
const char *acl_action_name(__u8 a);
/* a guest port's own ACLs (n -1: unchanged), then every port's sets */
int acl_list_fits(struct fabric *fb, const char *cmd, const __u16 *ids,
		  int nids);
int acl_port_set(struct fabric *fb, const char *cmd, __u32 ifindex, int n,
		 const __u16 *ids);
void acl_port_forget(struct fabric *fb, const struct kvb_port *p);
int acl_port_own(struct fabric *fb, const struct kvb_port *p, __u16 *ids);
void acl_slot_clear(struct fabric *fb, __u32 slot);
/* a slot's ACL entry, the copy in force (kvb_aclsel); write: into the
 * other copy, then in force. 0, or -1 */
int aclp_read(struct fabric *fb, __u32 slot, struct kvb_acl_port *ap);
int aclp_write(struct fabric *fb, __u32 slot, const struct kvb_acl_port *ap);
int acl_port_effective(struct fabric *fb, const struct kvb_port *p, __u16 *ids);
/* compile every port's ACLs anew and switch them over */
int acl_sync(struct fabric *fb, const char *cmd);
int acl_tidy(struct fabric *fb, const char *cmd);
void acl_save(struct fabric *fb, void (*line)(const char *text));
/* load: is this `acl ...` line in effect already? */
bool acl_line_in_effect(struct fabric *fb, int argc, char **argv);

extern const struct object obj_net, obj_attach, obj_detach, obj_port,
	obj_fdb, obj_stats, obj_upgrade, obj_gc, obj_reset, obj_save,
	obj_load, obj_monitor, obj_ct, obj_forward, obj_acl, obj_dhcphost;

#endif
