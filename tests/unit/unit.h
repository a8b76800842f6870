/* SPDX-License-Identifier: MIT */
/*
 * Unit-test harness: BPF_PROG_RUN on crafted frames against a fabric loaded
 * into a private bpffs directory, in a private network namespace whose
 * dummy devices stand in for ports. Results are TAP-like lines
 * ("PASS name" / "FAIL name: why") that tests/run.sh counts.
 */
#ifndef KVB_UNIT_H
#define KVB_UNIT_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "kvmbpf.h"

extern int unit_failed;
extern __u32 unit_uplink;	/* network a's uplink */
extern __u8 unit_upmac[6];	/* its MAC: the host's */
/* run_tc* keep a WAN device's frame to another MAC as it is (harness.c:
 * wan_to_self) */
extern int unit_wan_raw;
int dev_mac(__u32 ifindex, __u8 mac[6]);

#define RUN(t)								\
	do {								\
		unit_failed = 0;					\
		t(fb);							\
		if (unit_failed)					\
			nfail++;					\
		else							\
			printf("PASS %s\n", #t);			\
	} while (0)

/* a veth pair NAME / NAMEp, both up; *ifindex is NAME's */
int add_veth(const char *name, __u32 *ifindex);
/* a tap NAME (virtio-net headers on), up, no reader */
int add_tap(const char *name, __u32 *ifindex);
/* test_bridge.c: networks a (id 1: kg1, kg2, kg3, uplink kup) and b
 * (id 2: kh1, kh2), which every suite may use; returns non-zero when
 * they cannot be built */
int bridge_fixture(struct fabric *fb);
/* test_bridge.c: switching, flooding, learning, MTU, admission */
int bridge_tests(struct fabric *fb);
/* test_guard.c: port identity and admission tests; returns failures */
int guard_tests(struct fabric *fb);
/* test_nat.c: translation, checksums, gateway answers, table full */
int nat_tests(struct fabric *fb);
/* test_route.c: routing decisions, ND/RA answers, ICMP errors */
int route_tests(struct fabric *fb);
/* test_xdpcsum.c: XDP's checksum rule, every pass-to-tc case */
int xdp_csum_tests(struct fabric *fb);
/* test_overlay.c: networks that span hosts (VXLAN) */
int overlay_tests(struct fabric *fb);
/* test_acl.c: security groups, through the CLI's acl commands */
int acl_tests(struct fabric *fb);

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			printf("FAIL %s: ", __func__);			\
			printf(__VA_ARGS__);				\
			printf(" (%s:%d)\n", __FILE__, __LINE__);	\
			unit_failed = 1;				\
			return;						\
		}							\
	} while (0)

struct frame {
	__u8 buf[2048];
	__u32 len;
};

/* Frame builders: Ethernet + IPv4/UDP with a payload, or raw bytes. */
void frame_udp4(struct frame *f, const __u8 *dst, const __u8 *src,
		__u32 payload);
void frame_raw(struct frame *f, const __u8 *dst, const __u8 *src,
	       __u16 proto, __u32 l3_bytes);

/* IPv4 (IHL 5) or IPv6 packet with the given L4 bytes behind the header,
 * to daddr with TTL / hop limit ttl; frame_ip4 and frame_ip6 send to
 * 10.0.0.254 (TTL 64) and fd00::fe (hop limit 255). No checksums:
 * frame_csum4 fills an IPv4 frame's in. */
void frame_ip4_to(struct frame *f, const __u8 *dst, const __u8 *src,
		  __u32 saddr_be, __u32 daddr_be, __u8 ttl, __u8 proto,
		  const void *l4, __u32 l4_len);
void frame_ip4(struct frame *f, const __u8 *dst, const __u8 *src,
	       __u32 saddr_be, __u8 proto, const void *l4, __u32 l4_len);
void frame_ip6_to(struct frame *f, const __u8 *dst, const __u8 *src,
		  const __u8 *saddr, const __u8 *daddr, __u8 hops,
		  __u8 nexthdr, const void *payload, __u32 plen);
void frame_ip6(struct frame *f, const __u8 *dst, const __u8 *src,
	       const __u8 *saddr, __u8 nexthdr, const void *payload,
	       __u32 plen);
void frame_csum4(struct frame *f);

/* Run the tc ingress / tc egress / XDP program on a frame "arriving" on
 * ifindex; returns the program's return value, or -1 if the run failed. */
int run_tc(struct fabric *fb, __u32 ifindex, const struct frame *f);
int run_tc_out(struct fabric *fb, __u32 ifindex, const struct frame *in,
	       struct frame *out);
int run_tc_gso(struct fabric *fb, __u32 ifindex, const struct frame *f,
	       __u32 gso_size);
int run_tc_gso_out(struct fabric *fb, __u32 ifindex, const struct frame *in,
		   struct frame *out, __u32 gso_size);
int run_tc_egress(struct fabric *fb, __u32 ifindex, const struct frame *f);
int unit_cli(const char *line);
int run_prog_mark(int prog, __u32 ifindex, const struct frame *f,
		  __u32 mark_in, __u32 *mark);
int run_tc_mark(struct fabric *fb, __u32 port, const struct frame *f,
		__u32 *mark);
/* tc egress on ifindex of a packet the host forwards from device iif
 * (0: one the host sends itself) */
int run_tc_egress_from(struct fabric *fb, __u32 ifindex, __u32 iif,
		       const struct frame *f);
int run_xdp(struct fabric *fb, __u32 ifindex, const struct frame *f);
/* XDP program prog on a frame arriving on ifindex; the frame as it left
 * in *out */
int run_xdp_prog_out(int prog, __u32 ifindex, const struct frame *in,
		     struct frame *out);
/* test_xdpcsum.c: kvb_xdp_bound's entries (uplink, WAN device) as a
 * program BPF_PROG_RUN takes (kvb_xdp_up_test); its fd, or -1 */
int bound_test_prog(struct fabric *fb);

/* Internet checksums, as a receiver verifies them (0 when right):
 * sum16 accumulates big-endian 16-bit words; csum_fold16 folds and
 * complements; ip_csum_check / l4_csum_check check an IPv4 frame's
 * header and its TCP/UDP/ICMP checksum. */
__u32 sum16(const __u8 *p, __u32 len, __u32 sum);
__u16 csum_fold16(__u32 sum);
__u16 ip_csum_check(const __u8 *f);
__u16 l4_csum_check(const __u8 *f);

/* Summed per-CPU counters of a port. */
struct kvb_stats port_stats(struct fabric *fb, __u32 ifindex);
/* the port's slot (kvb_port.slot): its counters, ACL entry and count */
__u32 port_slot(struct fabric *fb, __u32 ifindex);
/* the port's ACL entry (kvb_aclp at its slot, the copy in force) made *ap, or none (NULL) */
int acl_entry_put(struct fabric *fb, __u32 ifindex,
		  const struct kvb_acl_port *ap);
/* the connection sides the port holds (kvb_aclctn at its slot) of
 * connections opened in direction dir (enum kvb_acl_dir), or both (-1) */
__u64 acl_ct_count(struct fabric *fb, __u32 ifindex, int dir);
/* every flow of a NAT network, every ACL connection: established (so
 * that early eviction never takes them); how many entries changed */
int ct_establish_net(struct fabric *fb, __u32 net_id);
int aclct_establish_all(struct fabric *fb);
/* ACL connections by their kvb_aclct_key, in the table that holds them
 * (kvb_aclct4 for IPv4, kvb_aclct for IPv6); as the map calls, 0 or -1.
 * aclct_next: the key after prev (NULL: the first), IPv4's first. */
int aclct_get(struct fabric *fb, const struct kvb_aclct_key *k,
	      struct kvb_aclct *e);
int aclct_put(struct fabric *fb, const struct kvb_aclct_key *k,
	      const struct kvb_aclct *e, __u64 flags);
int aclct_next(struct fabric *fb, const struct kvb_aclct_key *prev,
	       struct kvb_aclct_key *next);
/* The fabric's pinned map name, opened; -1 (the test failed, and says
 * which) when it is not there. */
int pinned_map(struct fabric *fb, const char *name);
/* Map fd emptied (keys up to 128 bytes). */
void map_empty(int fd);
/* The one key of map fd (len bytes, at most 128) into key: 0, or -1 when
 * the map holds none or more than one. */
int map_only_key(int fd, void *key, size_t len);
/* The datapath's clock (kvb_now: bpf_ktime_get_coarse_ns), in ns. */
__u64 now_ns(void);
/* The FDB entry for mac in net; false when absent. */
bool fdb_entry(struct fabric *fb, __u32 net_id, const __u8 *mac,
	       struct kvb_fdb_entry *e);
/* Two runs of the expiry sweep begin and end: one whole sweep from now
 * (10 s at most); false when it did not run. */
bool wait_sweeps(struct fabric *fb);

/* A DHCPv4 (BOOTP) message behind its UDP header, into m: from sport
 * to dport (a BOOTREPLY from 67), message type type, transaction xid
 * (network order), ciaddr, yiaddr and chaddr, then options 53, 50
 * (reqip), 54 (server) and 51 (lease, host order) where not 0. */
#define BOOTP_LEN (8 + 300)
struct bootp {
	__u16 sport, dport;
	__u8 type;
	__u32 xid, ciaddr, yiaddr, reqip, server, lease;
	const __u8 *chaddr;
};
void bootp_fill(__u8 m[BOOTP_LEN], const struct bootp *b);

#endif
