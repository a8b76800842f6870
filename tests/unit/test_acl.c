// SPDX-License-Identifier: MIT
/*
 * Security groups (ACLs) through BPF_PROG_RUN: ACLs made with the CLI's
 * own commands (object_call, as `load` runs them) on guest ports of
 * network a, frames judged by tc egress (ingress rules: towards the
 * guest) and tc ingress (egress rules), verdicts and counters asserted:
 * overlapping CIDRs, port ranges, protocol wildcards, drop over allow,
 * the state table (a reply with no connection refused, one with it let
 * through), the RST a reject sends, a rule change cutting a connection.
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unit.h"

static __u32 ka1, ka2, ka3, ka4;
static const __u8 GA[6] = { 0x52, 0x54, 0x00, 0xac, 0x00, 0x01 };
static const __u8 RM[6] = { 0x52, 0x54, 0x00, 0xac, 0x00, 0x99 };
static const __u8 BC6[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
#define GUEST4 htonl(0x0a00000b)	/* 10.0.0.11 */

/* A TCP segment from saddr:sport to daddr:dport (host order ports). */
static void tcp4(struct frame *f, __u32 saddr, __u16 sport, __u32 daddr,
		 __u16 dport, __u8 flags, __u32 seq, __u32 ack)
{
	__u8 th[20] = { 0 };
	__be32 s = htonl(seq), a = htonl(ack);

	th[0] = (__u8)(sport >> 8);
	th[1] = (__u8)sport;
	th[2] = (__u8)(dport >> 8);
	th[3] = (__u8)dport;
	memcpy(th + 4, &s, 4);
	memcpy(th + 8, &a, 4);
	th[12] = 5 << 4;
	th[13] = flags;
	th[15] = 0xff;	/* window */
	frame_ip4_to(f, GA, RM, saddr, daddr, 64, IPPROTO_TCP, th, sizeof(th));
	frame_csum4(f);
}

/* tcp4's segment the other way: from the guest (GUEST4, MAC GA) to
 * daddr, as the port's tc ingress gets it */
static void tcp4_from_guest(struct frame *f, __u16 sport, __u32 daddr,
			    __u16 dport, __u8 flags, __u32 seq, __u32 ack)
{
	tcp4(f, GUEST4, sport, daddr, dport, flags, seq, ack);
	memcpy(f->buf, RM, 6);
	memcpy(f->buf + 6, GA, 6);
}

static void udp4(struct frame *f, __u32 saddr, __u16 sport, __u32 daddr,
		 __u16 dport)
{
	__u8 uh[12] = { 0 };

	uh[0] = (__u8)(sport >> 8);
	uh[1] = (__u8)sport;
	uh[2] = (__u8)(dport >> 8);
	uh[3] = (__u8)dport;
	uh[5] = sizeof(uh);
	frame_ip4_to(f, GA, RM, saddr, daddr, 64, IPPROTO_UDP, uh, sizeof(uh));
	frame_csum4(f);
}

static void icmp4(struct frame *f, __u32 saddr, __u8 type)
{
	__u8 ih[16] = { type, 0, 0, 0, 0x12, 0x34, 0, 1 };

	frame_ip4_to(f, GA, RM, saddr, GUEST4, 64, IPPROTO_ICMP, ih,
		     sizeof(ih));
	frame_csum4(f);
}

/* towards the guest on port: its tc egress, the ingress rules */
static int to_guest(struct fabric *fb, __u32 port, const struct frame *f)
{
	return run_tc_egress(fb, port, f);
}

static __u64 drops(struct fabric *fb, __u32 port, int reason)
{
	return port_stats(fb, port).drop[reason];
}

#define IP(a, b, c, d) htonl((__u32)(a) << 24 | (b) << 16 | (c) << 8 | (d))

static void t_acl_overlapping_cidrs(struct fabric *fb)
{
	struct frame f;
	__u64 d0, def0;

	CHECK(!unit_cli("acl add u1") &&
	      !unit_cli("acl rule add u1 ingress allow proto udp src 10.0.0.0/8") &&
	      !unit_cli("acl rule add u1 ingress drop proto udp src 10.1.0.0/16") &&
	      !unit_cli("acl rule add u1 ingress allow proto udp src 10.1.2.0/24 dport 7") &&
	      !unit_cli("port set ka1 acl u1"), "cannot set up ACL u1");
	d0 = drops(fb, ka1, KVB_DROP_ACL_DROP);
	def0 = drops(fb, ka1, KVB_DROP_ACL_DEFAULT);
	udp4(&f, IP(10, 2, 0, 1), 1000, GUEST4, 7);
	CHECK(to_guest(fb, ka1, &f) == TC_ACT_OK, "10.2.0.1 (in /8): not allowed");
	udp4(&f, IP(10, 1, 5, 5), 1001, GUEST4, 7);
	CHECK(to_guest(fb, ka1, &f) == TC_ACT_SHOT, "10.1.5.5 (in the dropped /16) passed");
	udp4(&f, IP(10, 1, 2, 3), 1002, GUEST4, 7);
	CHECK(to_guest(fb, ka1, &f) == TC_ACT_SHOT,
	      "10.1.2.3: an allow for a narrower /24 beat the /16's drop");
	CHECK(drops(fb, ka1, KVB_DROP_ACL_DROP) == d0 + 2, "acl-drop not counted twice");
	udp4(&f, IP(11, 0, 0, 1), 1003, GUEST4, 7);
	CHECK(to_guest(fb, ka1, &f) != TC_ACT_OK, "11.0.0.1 (no rule) passed");
	CHECK(drops(fb, ka1, KVB_DROP_ACL_DEFAULT) == def0 + 1, "acl-default not counted");
}

static void t_acl_port_ranges(struct fabric *fb)
{
	static const struct { __u16 port; int ok; } c[] = {
		{ 999, 0 }, { 1000, 1 }, { 1536, 1 }, { 2000, 1 }, { 2001, 0 },
		{ 65535, 0 }, { 0, 0 },
	};
	struct frame f;

	CHECK(!unit_cli("acl add u2") &&
	      !unit_cli("acl rule add u2 ingress allow proto tcp dport 1000-2000") &&
	      !unit_cli("acl rule add u2 ingress allow proto udp sport 53") &&
	      !unit_cli("port set ka2 acl u2"), "cannot set up ACL u2");
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int r;

		tcp4(&f, IP(192, 0, 2, 1), (__u16)(3000 + i), GUEST4, c[i].port,
		     0x02, 1, 0);
		r = to_guest(fb, ka2, &f);
		CHECK((r == TC_ACT_OK) == c[i].ok, "TCP to port %u: verdict %d",
		      c[i].port, r);
	}
	udp4(&f, IP(192, 0, 2, 1), 53, GUEST4, 4000);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "UDP from port 53 refused");
	udp4(&f, IP(192, 0, 2, 1), 54, GUEST4, 4000);
	CHECK(to_guest(fb, ka2, &f) != TC_ACT_OK, "UDP from port 54 passed");
	tcp4(&f, IP(192, 0, 2, 1), 53, GUEST4, 4001, 0x02, 1, 0);
	CHECK(to_guest(fb, ka2, &f) != TC_ACT_OK,
	      "TCP from port 53 passed a rule for UDP");
}

static void t_acl_protocol_wildcards(struct fabric *fb)
{
	__u8 gre[8] = { 0 };
	struct frame f;

	CHECK(!unit_cli("acl add u3") &&
	      !unit_cli("acl rule add u3 ingress allow src 172.16.0.0/12") &&
	      !unit_cli("acl rule add u3 ingress allow proto icmp icmp-type 8") &&
	      !unit_cli("port set ka3 acl u3"), "cannot set up ACL u3");
	udp4(&f, IP(172, 20, 0, 1), 5000, GUEST4, 5000);
	CHECK(to_guest(fb, ka3, &f) == TC_ACT_OK, "UDP from the /12 refused");
	tcp4(&f, IP(172, 20, 0, 1), 5000, GUEST4, 5001, 0x02, 1, 0);
	CHECK(to_guest(fb, ka3, &f) == TC_ACT_OK, "TCP from the /12 refused");
	frame_ip4_to(&f, GA, RM, IP(172, 20, 0, 1), GUEST4, 64, 47, gre,
		     sizeof(gre));
	CHECK(to_guest(fb, ka3, &f) == TC_ACT_OK, "GRE from the /12 refused");
	frame_ip4_to(&f, GA, RM, IP(8, 8, 8, 8), GUEST4, 64, 47, gre,
		     sizeof(gre));
	CHECK(to_guest(fb, ka3, &f) != TC_ACT_OK, "GRE from elsewhere passed");
	icmp4(&f, IP(8, 8, 8, 8), 8);
	CHECK(to_guest(fb, ka3, &f) == TC_ACT_OK, "echo request refused");
	icmp4(&f, IP(8, 8, 4, 4), 13);
	CHECK(to_guest(fb, ka3, &f) != TC_ACT_OK,
	      "timestamp request passed a rule for type 8");
}

/*
 * Fields no rule constrains are not looked up: a set whose rules name a
 * protocol but no source port still tells the protocols apart (the
 * destination port's field holds every rule's protocol), and one whose
 * only rule names nothing matches every packet.
 */
static void t_acl_unconstrained_fields(struct fabric *fb)
{
	__u8 gre[8] = { 0 };
	struct frame f;

	CHECK(!unit_cli("acl add u20") &&
	      !unit_cli("acl rule add u20 ingress allow proto tcp") &&
	      !unit_cli("acl rule add u20 ingress allow proto udp dport 53") &&
	      !unit_cli("acl rule add u20 egress drop src 10.0.0.0/8") &&
	      !unit_cli("port set ka2 acl u20"), "cannot set up ACL u20");
	tcp4(&f, IP(192, 0, 2, 7), 7000, GUEST4, 22, 0x02, 1, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "TCP refused (allow proto tcp)");
	udp4(&f, IP(192, 0, 2, 7), 7001, GUEST4, 53);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "UDP to 53 refused");
	udp4(&f, IP(192, 0, 2, 7), 7002, GUEST4, 22);
	CHECK(to_guest(fb, ka2, &f) != TC_ACT_OK,
	      "UDP to 22 passed a rule for TCP (protocol not checked)");
	icmp4(&f, IP(192, 0, 2, 7), 8);
	CHECK(to_guest(fb, ka2, &f) != TC_ACT_OK, "ICMP passed rules for TCP and UDP");
	CHECK(!unit_cli("acl add u21") && !unit_cli("acl rule add u21 ingress allow") &&
	      !unit_cli("port set ka2 acl u21"), "cannot set up ACL u21");
	frame_ip4_to(&f, GA, RM, IP(203, 0, 113, 9), GUEST4, 64, 47, gre,
		     sizeof(gre));
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "GRE refused by a rule that names nothing");
	udp4(&f, IP(203, 0, 113, 9), 7003, GUEST4, 9);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "UDP refused by a rule that names nothing");
}

static void t_acl_drop_wins_over_allow(struct fabric *fb)
{
	struct frame f;
	__u64 d0;

	CHECK(!unit_cli("acl add u4") &&
	      !unit_cli("acl rule add u4 ingress allow") &&
	      !unit_cli("acl rule add u4 ingress drop proto tcp dport 25") &&
	      !unit_cli("port set ka3 acl u4"), "cannot set up ACL u4");
	d0 = drops(fb, ka3, KVB_DROP_ACL_DROP);
	tcp4(&f, IP(198, 51, 100, 1), 6000, GUEST4, 25, 0x02, 1, 0);
	CHECK(to_guest(fb, ka3, &f) == TC_ACT_SHOT,
	      "TCP 25 passed: the earlier allow-all beat the drop");
	CHECK(drops(fb, ka3, KVB_DROP_ACL_DROP) == d0 + 1, "acl-drop not counted");
	tcp4(&f, IP(198, 51, 100, 1), 6001, GUEST4, 26, 0x02, 1, 0);
	CHECK(to_guest(fb, ka3, &f) == TC_ACT_OK, "TCP 26 refused");
}

/* the state table: a reply passes only for a connection the guest opened */
static void t_acl_reply_needs_a_connection(struct fabric *fb)
{
	struct frame f;

	CHECK(!unit_cli("acl add u5") &&
	      !unit_cli("acl rule add u5 egress allow proto tcp dport 80") &&
	      !unit_cli("port set ka2 acl u5"), "cannot set up ACL u5");
	tcp4(&f, IP(203, 0, 113, 9), 80, GUEST4, 40000, 0x12, 7, 1);
	CHECK(to_guest(fb, ka2, &f) != TC_ACT_OK,
	      "a SYN-ACK of no connection passed");
	/* the guest opens one */
	tcp4(&f, GUEST4, 40001, IP(203, 0, 113, 9), 80, 0x02, 1, 0);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	tcp4(&f, IP(203, 0, 113, 9), 80, GUEST4, 40001, 0x12, 7, 2);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "the reply to the guest's connection was refused");
	tcp4(&f, IP(203, 0, 113, 9), 80, GUEST4, 40002, 0x12, 7, 2);
	CHECK(to_guest(fb, ka2, &f) != TC_ACT_OK,
	      "a reply to another port passed");
	/* the guest's egress to another port is refused */
	tcp4(&f, GUEST4, 40003, IP(203, 0, 113, 9), 81, 0x02, 1, 0);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	{
		__u64 d0 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);

		run_tc(fb, ka2, &f);
		CHECK(drops(fb, ka2, KVB_DROP_ACL_DEFAULT) == d0 + 1,
		      "egress to port 81 not refused by the default");
	}
}

/* reject: an RST from the guest's address and port, checksums right */
static void t_acl_reject_sends_rst(struct fabric *fb)
{
	struct __sk_buff ctx = { .ifindex = ka4 };
	struct frame in, out;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.buf,
		    .data_out = out.buf, .data_size_out = sizeof(out.buf),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	const __u8 *ip = out.buf + ETH_HLEN, *th = ip + 20;
	__u32 ack;

	CHECK(!unit_cli("acl add u6") &&
	      !unit_cli("acl rule add u6 ingress reject proto tcp dport 23") &&
	      !unit_cli("port set ka4 acl u6"), "cannot set up ACL u6");
	tcp4(&in, IP(192, 0, 2, 77), 5555, GUEST4, 23, 0x02, 1000, 0);
	o.data_size_in = in.len;
	CHECK(!bpf_prog_test_run_opts(fb->prog_tc_egress, &o), "test run failed");
	CHECK(o.retval == TC_ACT_REDIRECT, "verdict %u, not a redirect", o.retval);
	CHECK(o.data_size_out == ETH_HLEN + 40, "answer of %u bytes", o.data_size_out);
	CHECK(!memcmp(out.buf, RM, 6) && !memcmp(out.buf + 6, GA, 6),
	      "MACs not swapped");
	CHECK(ip[9] == IPPROTO_TCP && !memcmp(ip + 12, &(__u32){ GUEST4 }, 4),
	      "not TCP from the guest's address");
	CHECK(th[0] == 0 && th[1] == 23 && th[2] == 0x15 && th[3] == 0xb3,
	      "ports not turned around");
	memcpy(&ack, th + 8, 4);
	CHECK(th[13] == 0x14 && ntohl(ack) == 1001, "not RST|ACK of seq+1 (%02x, %u)",
	      th[13], ntohl(ack));
	CHECK(!ip_csum_check(out.buf) && !l4_csum_check(out.buf),
	      "checksums wrong");
	CHECK(drops(fb, ka4, KVB_DROP_ACL_REJECT) == 1, "acl-reject not counted");
}

/* a rule change is judged at once, also for connections let in before */
static void t_acl_change_cuts_forbidden_connections(struct fabric *fb)
{
	struct frame f;

	CHECK(!unit_cli("acl add u7") &&
	      !unit_cli("acl rule add u7 ingress allow proto tcp dport 22") &&
	      !unit_cli("acl rule add u7 ingress allow proto tcp dport 2222") &&
	      !unit_cli("port set ka4 acl u7"), "cannot set up ACL u7");
	tcp4(&f, IP(192, 0, 2, 8), 7000, GUEST4, 22, 0x02, 1, 0);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK, "SYN to 22 refused");
	tcp4(&f, IP(192, 0, 2, 8), 7001, GUEST4, 2222, 0x02, 1, 0);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK, "SYN to 2222 refused");
	/* 22 loses its rule: its connection goes, 2222's stays */
	CHECK(!unit_cli("acl rule del u7 0"), "rule del failed");
	tcp4(&f, IP(192, 0, 2, 8), 7000, GUEST4, 22, 0x10, 2, 1);
	CHECK(to_guest(fb, ka4, &f) != TC_ACT_OK,
	      "the connection to 22 survived the rule's removal");
	tcp4(&f, IP(192, 0, 2, 8), 7001, GUEST4, 2222, 0x10, 2, 1);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK,
	      "the connection to 2222 was cut by an unrelated change");
}

/*
 * A change of the network's default is judged at once too: a connection
 * the old default let in is cut when the new default refuses it (the
 * port's rules did not change, so the set could otherwise be kept);
 * one a rule lets in stays. After t_acl_change_cuts_forbidden_connections
 * (ka4: u7, TCP 2222 in).
 */
static void t_acl_default_change_cuts(struct fabric *fb)
{
	struct frame f;

	CHECK(!unit_cli("net set a default-ingress allow"),
	      "default-ingress allow");
	tcp4(&f, IP(192, 0, 2, 9), 7100, GUEST4, 80, 0x02, 1, 0);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK,
	      "SYN to 80 refused with default-ingress allow");
	tcp4(&f, IP(192, 0, 2, 9), 7101, GUEST4, 2222, 0x02, 1, 0);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK, "SYN to 2222 refused");
	CHECK(!unit_cli("net set a default-ingress reject"),
	      "default-ingress reject");
	tcp4(&f, IP(192, 0, 2, 9), 7100, GUEST4, 80, 0x10, 2, 1);
	CHECK(to_guest(fb, ka4, &f) != TC_ACT_OK,
	      "the connection the old default let in survived the new one");
	tcp4(&f, IP(192, 0, 2, 9), 7101, GUEST4, 2222, 0x10, 2, 1);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK,
	      "the connection a rule lets in was cut by the default's change");
}

/*
 * A connection the new rules forbid is cut both ways, whichever end
 * sends first after the change: the guest's own next segment (a server
 * that pushes, a keepalive) is refused too, and does not open the
 * connection again the other way by an egress rule (before, it did, and
 * the client's packets then passed as its replies). After
 * t_acl_default_change_cuts (default-ingress reject). A SYN reusing the
 * tuple is a new connection, judged by the rules as they are.
 */
static void t_acl_change_cuts_when_the_guest_sends_first(struct fabric *fb)
{
	__u32 rem = IP(192, 0, 2, 10);
	__u64 d0, d1;
	struct frame f;
	int r;

	CHECK(!unit_cli("acl add u7b") &&
	      !unit_cli("acl rule add u7b ingress allow proto tcp dport 2223") &&
	      !unit_cli("acl rule add u7b egress allow") &&
	      !unit_cli("port set ka4 acl u7b"), "cannot set up ACL u7b");
	tcp4(&f, rem, 7200, GUEST4, 2223, 0x02, 1, 0);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK, "SYN to 2223 refused");
	tcp4_from_guest(&f, 2223, rem, 7200, 0x12, 100, 2);
	d0 = drops(fb, ka4, KVB_DROP_ACL_DEFAULT);
	run_tc(fb, ka4, &f);
	CHECK(drops(fb, ka4, KVB_DROP_ACL_DEFAULT) == d0,
	      "the guest's SYN-ACK refused");
	CHECK(!unit_cli("acl rule del u7b 0"), "rule del failed");
	/* the guest's next segment first: refused, not a new connection */
	tcp4_from_guest(&f, 2223, rem, 7200, 0x18, 101, 2);
	d0 = drops(fb, ka4, KVB_DROP_ACL_DEFAULT);
	r = run_tc(fb, ka4, &f);
	d1 = drops(fb, ka4, KVB_DROP_ACL_DEFAULT);
	CHECK(d1 == d0 + 1, "the guest's segment of the forbidden connection "
	      "passed (verdict %d, acl-default %llu -> %llu)", r,
	      (unsigned long long)d0, (unsigned long long)d1);
	tcp4(&f, rem, 7200, GUEST4, 2223, 0x10, 2, 102);
	CHECK(to_guest(fb, ka4, &f) != TC_ACT_OK,
	      "the client's segment passed as the guest's connection's reply");
	/* a SYN on the tuple: a new connection, which the rules refuse;
	 * the connection stays refused (forgotten, the guest's next
	 * retransmission would open it again by its egress rule) */
	tcp4(&f, rem, 7200, GUEST4, 2223, 0x02, 5000, 0);
	CHECK(to_guest(fb, ka4, &f) != TC_ACT_OK,
	      "a new SYN to 2223 passed with no rule for it");
	tcp4_from_guest(&f, 2223, rem, 7200, 0x18, 101, 2);
	d0 = drops(fb, ka4, KVB_DROP_ACL_DEFAULT);
	run_tc(fb, ka4, &f);
	CHECK(drops(fb, ka4, KVB_DROP_ACL_DEFAULT) == d0 + 1,
	      "after the client's SYN, the guest's retransmission passed");
	/* the rule back: the connection goes on */
	CHECK(!unit_cli("acl rule add u7b ingress allow proto tcp dport 2223"),
	      "rule add failed");
	tcp4(&f, rem, 7200, GUEST4, 2223, 0x10, 2, 102);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK,
	      "with its rule back, the connection is still refused");
	CHECK(!unit_cli("port set ka4 acl u7"), "back to u7");
}

/*
 * A port's ACL entry is never written while in force: a change writes
 * the other copy whole, then flips the selector, so a judgment that read
 * the selector before sees the whole old entry, not a new set with the
 * old dims or defaults (an array's update is a copy in place).
 */
static void t_acl_entry_switch_never_writes_the_copy_in_force(struct fabric *fb)
{
	struct kvb_acl_port before, after, now, next;
	struct kvb_aclsel sel0 = { 0 }, sel1 = { 0 };
	__u32 slot = port_slot(fb, ka4), k;

	CHECK(slot && !bpf_map_lookup_elem(fb->aclsel_fd, &slot, &sel0),
	      "no selector for ka4");
	k = slot * 2 + (sel0.sel & 1);
	CHECK(!bpf_map_lookup_elem(fb->aclp_fd, &k, &before), "no entry in force");
	next = before;
	next.set = before.set + 1000;
	next.dims[0] ^= 0xf;
	CHECK(!aclp_write(fb, slot, &next), "aclp_write failed");
	CHECK(!bpf_map_lookup_elem(fb->aclsel_fd, &slot, &sel1) &&
	      (sel1.sel & 1) != (sel0.sel & 1) && sel1.flipped_ns,
	      "the selector did not flip");
	CHECK(!bpf_map_lookup_elem(fb->aclp_fd, &k, &after) &&
	      !memcmp(&before, &after, sizeof(before)),
	      "the copy that was in force was written");
	CHECK(!aclp_read(fb, slot, &now) && !memcmp(&now, &next, sizeof(now)),
	      "the copy in force is not the new entry");
	/* back: the copy that left force is written again only
	 * KVB_ACLSEL_HOLD_NS after it left */
	CHECK(!aclp_write(fb, slot, &before), "cannot put the entry back");
	CHECK(!bpf_map_lookup_elem(fb->aclsel_fd, &slot, &sel0) &&
	      sel0.flipped_ns >= sel1.flipped_ns + KVB_ACLSEL_HOLD_NS,
	      "the copy that left force was written again %llu ns after",
	      (unsigned long long)(sel0.flipped_ns - sel1.flipped_ns));
	/* what is in force already: no flip */
	CHECK(!aclp_write(fb, slot, &before), "aclp_write of the same failed");
	CHECK(!bpf_map_lookup_elem(fb->aclsel_fd, &slot, &sel1) &&
	      sel1.sel == sel0.sel && sel1.flipped_ns == sel0.flipped_ns,
	      "a write of the entry in force flipped the selector");
}

static void t_acl_ipv6(struct fabric *fb)
{
	__u8 th[20] = { 0x1b, 0x58, 0, 22 }, s1[16] = { 0xfd, 0, 0, 1 },
	     s2[16] = { 0xfd, 0, 0, 2 }, d[16] = { 0xfd, 0, 0, 0xa };
	struct frame f;

	th[12] = 5 << 4;
	th[13] = 0x02;
	s1[15] = s2[15] = 5;
	CHECK(!unit_cli("acl add u8") &&
	      !unit_cli("acl rule add u8 ingress allow proto tcp src fd00:1::/32 dport 22") &&
	      !unit_cli("port set ka1 acl u8"), "cannot set up ACL u8");
	frame_ip6_to(&f, GA, RM, s1, d, 64, IPPROTO_TCP, th, sizeof(th));
	CHECK(to_guest(fb, ka1, &f) == TC_ACT_OK, "fd00:1::5 refused");
	frame_ip6_to(&f, GA, RM, s2, d, 64, IPPROTO_TCP, th, sizeof(th));
	CHECK(to_guest(fb, ka1, &f) != TC_ACT_OK, "fd00:2::5 passed");
}

/* an IPv4 fragment of UDP datagram id: first (with the UDP header to
 * dport) or a later one (16 bytes in) */
static void frag4(struct frame *f, __u32 saddr, __u16 id, int first,
		  __u16 dport)
{
	__u8 *ip;

	if (first) {
		udp4(f, saddr, 5300, GUEST4, dport);
	} else {
		__u8 data[16] = { 0x55 };

		frame_ip4_to(f, GA, RM, saddr, GUEST4, 64, IPPROTO_UDP, data,
			     sizeof(data));
	}
	ip = f->buf + ETH_HLEN;
	ip[4] = (__u8)(id >> 8);
	ip[5] = (__u8)id;
	ip[6] = first ? 0x20 : 0x00;	/* MF; offset 0 or 2 (16 bytes) */
	ip[7] = first ? 0x00 : 0x02;
	frame_csum4(f);
}

/* the same in IPv6: a fragment header, then the UDP header or data */
static void frag6(struct frame *f, const __u8 *saddr, const __u8 *daddr,
		  __u32 id, int first, __u16 dport)
{
	__u8 p[24] = { IPPROTO_UDP, 0, 0, first ? 0x01 : 0x10,
		       (__u8)(id >> 24), (__u8)(id >> 16), (__u8)(id >> 8),
		       (__u8)id };

	if (first) {
		p[8] = 0x14, p[9] = 0xb4;	/* source port 5300 */
		p[10] = (__u8)(dport >> 8), p[11] = (__u8)dport;
		p[13] = 16;			/* the whole datagram's length */
	}
	frame_ip6_to(f, GA, RM, saddr, daddr, 64, IPPROTO_FRAGMENT, p,
		     sizeof(p));
}

/* frag6 with a Destination Options header after the Fragment header
 * (RFC 8200 4.5): the Fragment header's Next Header is 60 in every
 * fragment, the datagram's protocol (UDP) only past the first one's */
static void frag6_dstopt(struct frame *f, const __u8 *saddr,
			 const __u8 *daddr, __u32 id, int first, __u16 dport)
{
	__u8 p[24] = { IPPROTO_DSTOPTS, 0, 0, first ? 0x01 : 0x10,
		       (__u8)(id >> 24), (__u8)(id >> 16), (__u8)(id >> 8),
		       (__u8)id };

	if (first) {
		p[8] = IPPROTO_UDP;		/* 8 bytes: PadN of 4 */
		p[10] = 1, p[11] = 4;
		p[16] = 0x14, p[17] = 0xb4;	/* source port 5300 */
		p[18] = (__u8)(dport >> 8), p[19] = (__u8)dport;
		p[21] = 16;			/* the UDP datagram's length */
	}
	frame_ip6_to(f, GA, RM, saddr, daddr, 64, IPPROTO_FRAGMENT, p,
		     sizeof(p));
}

/*
 * Later fragments carry no ports: a port's ACLs let them through only
 * when the first fragment of their datagram passed there, and refuse
 * them (acl-fragment) otherwise: refused, or not seen first.
 */
static void t_acl_fragments(struct fabric *fb)
{
	__u8 s6[16] = { 0xfd, 0, 0, 1, [15] = 7 }, d6[16] = { 0xfd, 0, 0, 0xa };
	struct frame f;
	__u64 d0;

	CHECK(!unit_cli("acl add u23") &&
	      !unit_cli("acl rule add u23 ingress allow proto udp dport 53") &&
	      !unit_cli("port set ka2 acl u23"), "cannot set up ACL u23");
	d0 = drops(fb, ka2, KVB_DROP_ACL_FRAG);
	frag4(&f, IP(192, 0, 2, 60), 0x1234, 1, 53);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "first fragment to 53 refused");
	frag4(&f, IP(192, 0, 2, 60), 0x1234, 0, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "a later fragment of an allowed datagram refused");
	frag4(&f, IP(192, 0, 2, 60), 0x1235, 0, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_SHOT,
	      "a later fragment of a datagram never seen passed");
	frag4(&f, IP(192, 0, 2, 60), 0x2000, 1, 54);
	CHECK(to_guest(fb, ka2, &f) != TC_ACT_OK, "first fragment to 54 passed");
	frag4(&f, IP(192, 0, 2, 60), 0x2000, 0, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_SHOT,
	      "a later fragment of a refused datagram passed");
	frag4(&f, IP(192, 0, 2, 61), 0x1234, 0, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_SHOT,
	      "a later fragment from another source passed on an allowed id");
	CHECK(drops(fb, ka2, KVB_DROP_ACL_FRAG) == d0 + 3,
	      "acl-fragment counted %llu times, not 3",
	      (unsigned long long)(drops(fb, ka2, KVB_DROP_ACL_FRAG) - d0));
	frag6(&f, s6, d6, 0xabcdef01, 1, 53);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "IPv6: first fragment to 53 refused");
	frag6(&f, s6, d6, 0xabcdef01, 0, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "IPv6: a later fragment of an allowed datagram refused");
	frag6(&f, s6, d6, 0xabcdef02, 0, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_SHOT,
	      "IPv6: a later fragment of a datagram never seen passed");
	frag6(&f, s6, d6, 0x0bad0000, 1, 54);
	CHECK(to_guest(fb, ka2, &f) != TC_ACT_OK,
	      "IPv6: first fragment to 54 passed");
	frag6(&f, s6, d6, 0x0bad0000, 0, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_SHOT,
	      "IPv6: a later fragment of a refused datagram passed");
	/* a Destination Options header after the Fragment header: the
	 * later fragment's Next Header (60) is not the datagram's UDP */
	frag6_dstopt(&f, s6, d6, 0xabcdef03, 1, 53);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "IPv6, Destination Options: first fragment to 53 refused");
	frag6_dstopt(&f, s6, d6, 0xabcdef03, 0, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "IPv6, Destination Options: a later fragment of an allowed "
	      "datagram refused");
	frag6_dstopt(&f, s6, d6, 0x0bad0001, 1, 54);
	CHECK(to_guest(fb, ka2, &f) != TC_ACT_OK,
	      "IPv6, Destination Options: first fragment to 54 passed");
	frag6_dstopt(&f, s6, d6, 0x0bad0001, 0, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_SHOT,
	      "IPv6, Destination Options: a later fragment of a refused "
	      "datagram passed");
}

/*
 * A later fragment passes only on a note that is its datagram's: the
 * note a first fragment leaves carries its key and a check word
 * (kvb_aclfrag: an LRU entry can be another datagram's, or half
 * rewritten, by the time it is read). The note written is checked; a
 * note planted by the test is taken (so planted ones are read); a torn
 * one, and one that carries another datagram's key, are not.
 */
static void t_acl_fragment_note_checks_key(struct fabric *fb)
{
	struct kvb_aclfrag_key k, other;
	struct kvb_aclfrag v, p;
	int fd, ok, put = 0, good, torn, foreign;
	struct frame f;
	__u64 d0;

	CHECK(!unit_cli("acl add u24") &&
	      !unit_cli("acl rule add u24 ingress allow proto udp dport 53") &&
	      !unit_cli("port set ka2 acl u24"), "cannot set up ACL u24");
	fd = pinned_map(fb, KVB_MAP_ACLFRAG);
	if (fd < 0)
		return;
	/* the table emptied: the first fragment's note is its only entry */
	map_empty(fd);
	frag4(&f, IP(192, 0, 2, 62), 0x3001, 1, 53);
	ok = to_guest(fb, ka2, &f) == TC_ACT_OK &&
	     !map_only_key(fd, &k, sizeof(k)) &&
	     !bpf_map_lookup_elem(fd, &k, &v);
	if (!ok)
		close(fd);
	CHECK(ok, "first fragment to 53: refused, or not one note");
	frag4(&f, IP(192, 0, 2, 62), 0x3001, 0, 0);
	d0 = drops(fb, ka2, KVB_DROP_ACL_FRAG);
	p = v;				/* planted, whole: taken */
	p.until_ns = now_ns() + 20000000000ULL;
	p.check = kvb_aclfrag_check(&p);
	put |= bpf_map_update_elem(fd, &k, &p, BPF_EXIST);
	good = to_guest(fb, ka2, &f);
	p.until_ns += 1;		/* torn: the check word is the old one's */
	put |= bpf_map_update_elem(fd, &k, &p, BPF_EXIST);
	torn = to_guest(fb, ka2, &f);
	other = k;			/* another datagram's, whole */
	other.id ^= 0x00ff00ff;
	p.key = other;
	p.check = kvb_aclfrag_check(&p);
	put |= bpf_map_update_elem(fd, &k, &p, BPF_EXIST);
	foreign = to_guest(fb, ka2, &f);
	bpf_map_delete_elem(fd, &k);
	close(fd);
	CHECK(!memcmp(&v.key, &k, sizeof(k)) && v.check == kvb_aclfrag_check(&v) &&
	      v.until_ns > now_ns(), "the note does not carry its key, its "
	      "check word, or a time ahead");
	CHECK(!put, "cannot plant a note");
	CHECK(good == TC_ACT_OK, "a planted note refused: verdict %d", good);
	CHECK(torn == TC_ACT_SHOT, "a torn note taken: verdict %d", torn);
	CHECK(foreign == TC_ACT_SHOT, "another datagram's note taken: "
	      "verdict %d", foreign);
	CHECK(drops(fb, ka2, KVB_DROP_ACL_FRAG) == d0 + 2,
	      "acl-fragment counted %llu times, not 2",
	      (unsigned long long)(drops(fb, ka2, KVB_DROP_ACL_FRAG) - d0));
}

/* a port without ACLs is not judged at all (as before ACLs) */
static void t_acl_none_is_as_before(struct fabric *fb)
{
	struct frame f;

	CHECK(!unit_cli("port set ka1 acl none"), "port set acl none failed");
	udp4(&f, IP(11, 0, 0, 9), 1, GUEST4, 9);
	CHECK(to_guest(fb, ka1, &f) == TC_ACT_OK, "a port without ACLs refused");
	CHECK(unit_cli("acl del u8") == 0, "an unused ACL cannot be deleted");
	CHECK(unit_cli("acl del u7") != 0, "an ACL in use was deleted");
}

/* a UDP datagram from the guest of one port to the guest (MAC) of another */
static void udp4_between(struct frame *f, const __u8 *src, const __u8 *dst,
			 __u32 saddr, __u32 daddr, __u16 dport)
{
	udp4(f, saddr, 5000, daddr, dport);
	memcpy(f->buf, dst, 6);
	memcpy(f->buf + 6, src, 6);
}

/*
 * Guest to guest on one host: the switch judges the sender's egress and
 * the receiver's ingress in one place, and delivers the frame marked as
 * judged (its tc egress lets it pass); a refusal is the receiver's, and
 * counted there; a change of the receiver's rules is judged at once,
 * also for a connection whose verdict the sender's entry remembers.
 */
static void t_acl_switched_judged_once(struct fabric *fb)
{
	static const __u8 M1[6] = { 0x52, 0x54, 0x00, 0xac, 0x01, 0x01 },
			  M3[6] = { 0x52, 0x54, 0x00, 0xac, 0x01, 0x03 };
	__u32 a1 = IP(10, 0, 0, 21), a3 = IP(10, 0, 0, 23), mark = 0;
	__u64 d1, d3;
	struct frame f;
	int r;

	CHECK(!unit_cli("acl add u11") &&
	      !unit_cli("acl rule add u11 egress allow proto udp") &&
	      !unit_cli("acl add u12") &&
	      !unit_cli("acl rule add u12 egress allow proto udp") &&
	      !unit_cli("acl rule add u12 ingress allow proto udp dport 7") &&
	      !unit_cli("acl rule add u12 ingress drop proto udp dport 8") &&
	      !unit_cli("acl add u13") &&
	      !unit_cli("acl rule add u13 egress allow proto udp") &&
	      !unit_cli("acl rule add u13 ingress allow proto udp dport 8") &&
	      !unit_cli("port set ka1 acl u11") && !unit_cli("port set ka3 acl u12"),
	      "cannot set up ACLs u11-u13");
	/* the switch learns where M3 is */
	udp4_between(&f, M3, RM, a3, IP(10, 0, 0, 99), 9);
	run_tc(fb, ka3, &f);
	udp4_between(&f, M1, M3, a1, a3, 7);
	r = run_tc_mark(fb, ka1, &f, &mark);
	CHECK(r == TC_ACT_REDIRECT && mark == KVB_MARK_ACL,
	      "allowed to ka3: verdict %d, mark %#x (not delivered as judged)",
	      r, mark);
	r = run_tc_mark(fb, ka1, &f, &mark);
	CHECK(r == TC_ACT_REDIRECT && mark == KVB_MARK_ACL,
	      "the connection's next datagram: verdict %d, mark %#x", r, mark);
	d1 = drops(fb, ka1, KVB_DROP_ACL_DROP);
	d3 = drops(fb, ka3, KVB_DROP_ACL_DROP);
	udp4_between(&f, M1, M3, a1, a3, 8);
	r = run_tc_mark(fb, ka1, &f, &mark);
	CHECK(r == TC_ACT_SHOT, "to ka3's port 8 (dropped there): verdict %d", r);
	CHECK(drops(fb, ka3, KVB_DROP_ACL_DROP) == d3 + 1 &&
	      drops(fb, ka1, KVB_DROP_ACL_DROP) == d1,
	      "the refusal not counted on the receiver ka3");
	/* ka3's rules change: port 7 is refused (rejected) from now on */
	CHECK(!unit_cli("port set ka3 acl u13"), "port set ka3 acl u13 failed");
	udp4_between(&f, M1, M3, a1, a3, 7);
	d3 = drops(fb, ka3, KVB_DROP_ACL_DEFAULT);
	for (int i = 0; i < 2; i++) {
		/* twice: whether or not the sender's entry was due for its
		 * once-a-second look at the peer's */
		r = run_tc_mark(fb, ka1, &f, &mark);
		CHECK(r != TC_ACT_OK &&
		      drops(fb, ka3, KVB_DROP_ACL_DEFAULT) == d3 + 1 + i,
		      "the connection to port 7 survived ka3's new rules "
		      "(datagram %d): verdict %d", i + 1, r);
	}
	udp4_between(&f, M1, M3, a1, a3, 8);
	r = run_tc_mark(fb, ka1, &f, &mark);
	CHECK(r == TC_ACT_REDIRECT && mark == KVB_MARK_ACL,
	      "port 8, allowed by ka3's new rules: verdict %d", r);
}

/*
 * A set's verdicts are kept for the next connection with the same fields
 * (kvb_aclvc), so a set id must never be given twice: here the fabric
 * loses every set (no port has ACLs) and gets a new one whose rule says
 * the opposite of the old one's for the same fields.
 */
static void t_acl_set_ids_never_reused(struct fabric *fb)
{
	struct frame f;

	CHECK(!unit_cli("port set ka1 acl none") && !unit_cli("port set ka2 acl none") &&
	      !unit_cli("port set ka3 acl none") && !unit_cli("port set ka4 acl none"),
	      "cannot clear the ports' ACLs");
	CHECK(!unit_cli("acl add w1") &&
	      !unit_cli("acl rule add w1 ingress allow proto udp dport 9") &&
	      !unit_cli("port set ka4 acl w1"), "cannot set up ACL w1");
	udp4(&f, IP(192, 0, 2, 50), 9000, GUEST4, 9);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK, "UDP 9 refused under w1");
	CHECK(!unit_cli("port set ka4 acl none") && !unit_cli("acl add w2") &&
	      !unit_cli("acl rule add w2 ingress drop proto udp dport 9") &&
	      !unit_cli("port set ka4 acl w2"), "cannot set up ACL w2");
	udp4(&f, IP(192, 0, 2, 50), 9001, GUEST4, 9);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_SHOT,
	      "UDP 9 passed w2's drop (judged by w1's remembered verdict)");
}

/* The state of the connection whose key holds ports a and b (any
 * order, host order), or -1 when there is none. */
/* The remembered connection of proto between ports a and b: its key and
 * entry; 0 if there is one. */
static int ct_find(struct fabric *fb, __u8 proto, __u16 a, __u16 b,
		   struct kvb_aclct_key *k, struct kvb_aclct *e)
{
	struct kvb_aclct_key *prev = NULL;

	while (!aclct_next(fb, prev, k)) {
		prev = k;
		if (k->proto == proto &&
		    ((k->port[0] == htons(a) && k->port[1] == htons(b)) ||
		     (k->port[0] == htons(b) && k->port[1] == htons(a))) &&
		    !aclct_get(fb, k, e))
			return 0;
	}
	return -1;
}

static int ct_state(struct fabric *fb, __u8 proto, __u16 a, __u16 b)
{
	struct kvb_aclct_key k;
	struct kvb_aclct e;

	return ct_find(fb, proto, a, b, &k, &e) ? -1 : e.state;
}

/* The key of a planted connection of proto between 192.0.2.1 and
 * 192.0.2.TAG. */
static struct kvb_aclct_key ct_plant_key(__u8 proto, __u8 tag)
{
	struct kvb_aclct_key k = { .net_id = 1, .family = 4, .proto = proto };

	k.addr[0][0] = k.addr[1][0] = 192;
	k.addr[0][2] = k.addr[1][2] = 2;
	k.addr[0][3] = 1;
	k.addr[1][3] = tag;
	return k;
}

/* Plant a connection of proto in state, idle for idle_s (no port's
 * side: no count). */
static int ct_plant(struct fabric *fb, __u8 proto, __u8 state, __u8 tag,
		    __u64 idle_s)
{
	struct kvb_aclct_key k = ct_plant_key(proto, tag);
	struct kvb_aclct e = { .state = state };

	e.last_ns = now_ns() - idle_s * 1000000000ULL;
	return aclct_put(fb, &k, &e, BPF_ANY);
}

static int ct_planted(struct fabric *fb, __u8 proto, __u8 tag)
{
	struct kvb_aclct_key k = ct_plant_key(proto, tag);
	struct kvb_aclct e;

	return !aclct_get(fb, &k, &e);
}

/*
 * A remembered TCP connection follows its state: new at the SYN, still
 * new at the answer's SYN-ACK (TCP's opening timeout, 120 s), established
 * by the opener's ACK of exactly that SYN-ACK (a blind ACK with another
 * number does not), closing at a FIN or RST (kept 120 s idle, not
 * 7440 s), new again at a SYN that opens the same ports again; the same
 * for a connection into the guest, whose SYN-ACK is the answer (SYNs from
 * forged sources at its open port never hold its share for 7440 s). A
 * one-packet exchange but TCP's is kept 30 s until its first answer,
 * ICMPv6 as ICMP (30 s): a port's share of the table is not held for
 * hours by connections that ended.
 */
static void t_acl_tcp_states_and_timeouts(struct fabric *fb)
{
	struct frame f;
	int i;

	CHECK(!unit_cli("acl add t1") &&
	      !unit_cli("acl rule add t1 egress allow proto tcp") &&
	      !unit_cli("acl rule add t1 ingress allow proto tcp dport 22") &&
	      !unit_cli("port set ka2 acl t1"), "cannot set up ACL t1");
	tcp4(&f, GUEST4, 41000, IP(203, 0, 113, 9), 443, 0x02, 1, 0);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	CHECK(ct_state(fb, IPPROTO_TCP, 41000, 443) == KVB_CT_NEW,
	      "SYN: state %d, not new", ct_state(fb, IPPROTO_TCP, 41000, 443));
	tcp4(&f, IP(203, 0, 113, 9), 443, GUEST4, 41000, 0x12, 7, 2);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "SYN-ACK refused");
	CHECK(ct_state(fb, IPPROTO_TCP, 41000, 443) == KVB_CT_NEW,
	      "SYN-ACK: state %d, not new",
	      ct_state(fb, IPPROTO_TCP, 41000, 443));
	tcp4(&f, GUEST4, 41000, IP(203, 0, 113, 9), 443, 0x10, 2, 9);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	CHECK(ct_state(fb, IPPROTO_TCP, 41000, 443) == KVB_CT_NEW,
	      "an ACK of another number: state %d, not new",
	      ct_state(fb, IPPROTO_TCP, 41000, 443));
	tcp4(&f, GUEST4, 41000, IP(203, 0, 113, 9), 443, 0x10, 2, 8);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	CHECK(ct_state(fb, IPPROTO_TCP, 41000, 443) == KVB_CT_ESTABLISHED,
	      "the guest's ACK of the SYN-ACK: state %d, not established",
	      ct_state(fb, IPPROTO_TCP, 41000, 443));
	/* into the guest: the guest's SYN-ACK is the answer */
	tcp4(&f, IP(198, 51, 100, 7), 5555, GUEST4, 22, 0x02, 100, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "SYN to port 22 refused");
	tcp4(&f, GUEST4, 22, IP(198, 51, 100, 7), 5555, 0x12, 900, 101);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	CHECK(ct_state(fb, IPPROTO_TCP, 5555, 22) == KVB_CT_NEW,
	      "inbound, the guest's SYN-ACK: state %d, not new",
	      ct_state(fb, IPPROTO_TCP, 5555, 22));
	tcp4(&f, IP(198, 51, 100, 7), 5555, GUEST4, 22, 0x10, 101, 12345);
	to_guest(fb, ka2, &f);
	CHECK(ct_state(fb, IPPROTO_TCP, 5555, 22) == KVB_CT_NEW,
	      "inbound, a blind ACK: state %d, not new",
	      ct_state(fb, IPPROTO_TCP, 5555, 22));
	tcp4(&f, IP(198, 51, 100, 7), 5555, GUEST4, 22, 0x10, 101, 901);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "the client's ACK refused");
	CHECK(ct_state(fb, IPPROTO_TCP, 5555, 22) == KVB_CT_ESTABLISHED,
	      "inbound, the client's ACK: state %d, not established",
	      ct_state(fb, IPPROTO_TCP, 5555, 22));
	tcp4(&f, GUEST4, 41000, IP(203, 0, 113, 9), 443, 0x11, 2, 8);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	CHECK(ct_state(fb, IPPROTO_TCP, 41000, 443) == KVB_CT_CLOSING,
	      "FIN: state %d, not closing",
	      ct_state(fb, IPPROTO_TCP, 41000, 443));
	tcp4(&f, IP(203, 0, 113, 9), 443, GUEST4, 41000, 0x10, 8, 3);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "the last ACK refused");
	tcp4(&f, GUEST4, 41000, IP(203, 0, 113, 9), 443, 0x02, 100, 0);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	CHECK(ct_state(fb, IPPROTO_TCP, 41000, 443) == KVB_CT_NEW,
	      "SYN on the same ports: state %d, not new again",
	      ct_state(fb, IPPROTO_TCP, 41000, 443));
	/* the sweep (every second) by state and protocol */
	CHECK(!ct_plant(fb, IPPROTO_UDP, KVB_CT_NEW, 11, 60) &&
	      !ct_plant(fb, IPPROTO_UDP, KVB_CT_ESTABLISHED, 12, 60) &&
	      !ct_plant(fb, IPPROTO_TCP, KVB_CT_CLOSING, 13, 200) &&
	      !ct_plant(fb, IPPROTO_TCP, KVB_CT_ESTABLISHED, 14, 200) &&
	      !ct_plant(fb, IPPROTO_ICMPV6, KVB_CT_ESTABLISHED, 15, 60),
	      "cannot plant connections");
	for (i = 0; i < 200 && (ct_planted(fb, IPPROTO_UDP, 11) ||
				ct_planted(fb, IPPROTO_TCP, 13) ||
				ct_planted(fb, IPPROTO_ICMPV6, 15)); i++)
		usleep(100000);
	CHECK(!ct_planted(fb, IPPROTO_UDP, 11),
	      "an unanswered UDP exchange idle 60 s kept (more than 30 s)");
	CHECK(!ct_planted(fb, IPPROTO_TCP, 13),
	      "a closing TCP connection idle 200 s kept (more than 120 s)");
	CHECK(!ct_planted(fb, IPPROTO_ICMPV6, 15),
	      "an ICMPv6 exchange idle 60 s kept (more than 30 s)");
	CHECK(ct_planted(fb, IPPROTO_UDP, 12),
	      "an answered UDP exchange idle 60 s gone (before 180 s)");
	CHECK(ct_planted(fb, IPPROTO_TCP, 14),
	      "an established TCP connection idle 200 s gone (before 7440 s)");
}

/*
 * t50: a RST or FIN of a remembered TCP connection is judged against its
 * receiver's window, as NAT's flows judge them: a blind forgery outside
 * it is refused (acl-tcp-window) and changes nothing; an in-window RST
 * that is not exact reaches the guest (its stack answers with a challenge
 * ACK) and changes nothing, twice too; the exact RST (at the guest's next
 * byte) closes. Before, any RST or FIN put the connection on the closing
 * timeout (120 s), and the next packet of an idle one was judged new.
 */
static void t_acl_tcp_window(struct fabric *fb)
{
	__u32 rem = IP(203, 0, 113, 9);
	__u64 w0 = drops(fb, ka2, KVB_DROP_ACL_TCP_WINDOW);
	struct frame f;
	int ret;

	CHECK(!unit_cli("acl add t50") &&
	      !unit_cli("acl rule add t50 egress allow proto tcp") &&
	      !unit_cli("port set ka2 acl t50"), "cannot set up ACL t50");
	tcp4_from_guest(&f, 43000, rem, 443, 0x02, 1000, 0);
	run_tc(fb, ka2, &f);
	tcp4(&f, rem, 443, GUEST4, 43000, 0x12, 5000, 1001);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "SYN-ACK refused");
	tcp4_from_guest(&f, 43000, rem, 443, 0x10, 1001, 5001);
	run_tc(fb, ka2, &f);
	CHECK(ct_state(fb, IPPROTO_TCP, 43000, 443) == KVB_CT_ESTABLISHED,
	      "not established: state %d",
	      ct_state(fb, IPPROTO_TCP, 43000, 443));
	/* the guest's window: 5001 to 5256 (255, no scale) */
	tcp4(&f, rem, 443, GUEST4, 43000, 0x04, 0x80000000U, 0);
	ret = to_guest(fb, ka2, &f);
	CHECK(ret != TC_ACT_OK &&
	      drops(fb, ka2, KVB_DROP_ACL_TCP_WINDOW) == w0 + 1,
	      "a RST outside the window: verdict %d, acl-tcp-window +%llu",
	      ret, (unsigned long long)
	      (drops(fb, ka2, KVB_DROP_ACL_TCP_WINDOW) - w0));
	tcp4(&f, rem, 443, GUEST4, 43000, 0x11, 90000, 1001);
	ret = to_guest(fb, ka2, &f);
	CHECK(ret != TC_ACT_OK &&
	      drops(fb, ka2, KVB_DROP_ACL_TCP_WINDOW) == w0 + 2,
	      "a FIN outside the window: verdict %d", ret);
	CHECK(ct_state(fb, IPPROTO_TCP, 43000, 443) == KVB_CT_ESTABLISHED,
	      "after forgeries outside the window: state %d",
	      ct_state(fb, IPPROTO_TCP, 43000, 443));
	tcp4(&f, rem, 443, GUEST4, 43000, 0x04, 5100, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "an in-window RST refused");
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "it again refused");
	CHECK(ct_state(fb, IPPROTO_TCP, 43000, 443) == KVB_CT_ESTABLISHED,
	      "after an in-window RST that is not exact (twice): state %d",
	      ct_state(fb, IPPROTO_TCP, 43000, 443));
	/* data both ways moves the window: 5001 + 100 */
	tcp4(&f, rem, 443, GUEST4, 43000, 0x18, 5001, 1001);
	f.len += 100;
	memset(f.buf + f.len - 100, 'x', 100);
	f.buf[14 + 2] = 0, f.buf[14 + 3] = 140;	/* IP length 140 */
	frame_csum4(&f);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "100 bytes refused");
	tcp4_from_guest(&f, 43000, rem, 443, 0x10, 1001, 5101);
	run_tc(fb, ka2, &f);
	tcp4(&f, rem, 443, GUEST4, 43000, 0x04, 5001, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "a RST at the old next byte refused (in the window)");
	CHECK(ct_state(fb, IPPROTO_TCP, 43000, 443) == KVB_CT_ESTABLISHED,
	      "a RST at the old next byte closed it: state %d",
	      ct_state(fb, IPPROTO_TCP, 43000, 443));
	tcp4(&f, rem, 443, GUEST4, 43000, 0x04, 5101, 0);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "the exact RST refused");
	CHECK(ct_state(fb, IPPROTO_TCP, 43000, 443) == KVB_CT_CLOSING,
	      "the exact RST: state %d, not closing",
	      ct_state(fb, IPPROTO_TCP, 43000, 443));
	unit_cli("port set ka2 acl none");
	unit_cli("acl del t50");
}

/* Set the remembered connection of proto between ports a and b idle for
 * s seconds; 0 if it is there. */
static int ct_idle(struct fabric *fb, __u8 proto, __u16 a, __u16 b, __u64 s)
{
	struct kvb_aclct_key k;
	struct kvb_aclct e;

	if (ct_find(fb, proto, a, b, &k, &e))
		return -1;
	e.last_ns = now_ns() - s * 1000000000ULL;
	return aclct_put(fb, &k, &e, BPF_EXIST);
}

/* The guest's UDP datagram from sport to 203.0.113.9:53, through ka2. */
static void udp_out(struct fabric *fb, __u16 sport)
{
	struct frame f;

	udp4(&f, GUEST4, sport, IP(203, 0, 113, 9), 53);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
}

/*
 * conntrack's UDP rule for a port's remembered connections as for NAT's
 * flows: answered, a connection is a stream (established, UDP's 180 s)
 * only once it is still alive 2 s after it began; a single exchange (a
 * DNS query and its answer) keeps the unreplied 30 s and may be evicted.
 * Before, every answered exchange held the port's share for 180 s, never
 * evicted: a resolver's queries filled it and its next were refused.
 */
static void t_acl_udp_stream(struct fabric *fb)
{
	struct frame f;

	CHECK(!unit_cli("acl add u30") &&
	      !unit_cli("acl rule add u30 egress allow proto udp") &&
	      !unit_cli("port set ka2 acl u30"), "cannot set up ACL u30");
	udp_out(fb, 42000);
	udp4(&f, IP(203, 0, 113, 9), 53, GUEST4, 42000);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "the answer refused");
	CHECK(ct_state(fb, IPPROTO_UDP, 42000, 53) == KVB_CT_ANSWERED,
	      "answered: state %d, want answered",
	      ct_state(fb, IPPROTO_UDP, 42000, 53));
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK &&
	      ct_state(fb, IPPROTO_UDP, 42000, 53) == KVB_CT_ANSWERED,
	      "a second answer at once: state %d, want answered still",
	      ct_state(fb, IPPROTO_UDP, 42000, 53));
	CHECK(!ct_idle(fb, IPPROTO_UDP, 42000, 53, 35), "aged");
	CHECK(to_guest(fb, ka2, &f) != TC_ACT_OK,
	      "a single exchange idle 35 s still let an answer in");
	/* still alive 3 s on: a stream, UDP's 180 s */
	udp_out(fb, 42001);
	udp4(&f, IP(203, 0, 113, 9), 53, GUEST4, 42001);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK, "the answer refused");
	CHECK(!ct_idle(fb, IPPROTO_UDP, 42001, 53, 3), "aged");
	udp_out(fb, 42001);
	CHECK(ct_state(fb, IPPROTO_UDP, 42001, 53) == KVB_CT_ESTABLISHED,
	      "the guest's datagram 3 s on: state %d, want established",
	      ct_state(fb, IPPROTO_UDP, 42001, 53));
	CHECK(!ct_idle(fb, IPPROTO_UDP, 42001, 53, 35), "aged");
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "a stream idle 35 s (UDP 180 s) refused its answer");
	unit_cli("port set ka2 acl none");
}

/*
 * No guest's flood of connections pushes another guest's out. Port ka3
 * is offered 270,000 new connections (more than the 262,144 of the LRU
 * the table was), none answered: its count stops at its cap; beyond it,
 * each new one either evicts one of ka3's own unanswered connections
 * (ct-evicted) or is refused as acl-ct-full (the tries found none), and
 * the connection ka2's guest opened before keeps its entry: its reply
 * passes. A port that leaves takes its connections and its count with
 * it.
 */
static void t_acl_flood_evicts_no_other_port(struct fabric *fb)
{
	struct kvb_aclct_key k, *prev = NULL;
	struct kvb_aclctn n = { 0 };
	struct kvb_port p3;
	struct kvb_aclct e;
	__u32 s4 = port_slot(fb, ka4);
	struct frame f;
	__u64 full0, n0, ev0, ev, left = 0;
	__u32 i, refused = 0, flood = 270000;

	CHECK(!unit_cli("acl add c1") &&
	      !unit_cli("acl rule add c1 egress allow proto udp") &&
	      !unit_cli("port set ka2 acl c1") && !unit_cli("acl add c2") &&
	      !unit_cli("acl rule add c2 ingress allow proto udp") &&
	      !unit_cli("port set ka3 acl c2"), "cannot set up ACLs c1, c2");
	udp4(&f, GUEST4, 5000, IP(198, 51, 100, 7), 53);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	n0 = acl_ct_count(fb, ka3, KVB_ACL_IN);
	full0 = drops(fb, ka3, KVB_DROP_ACL_CT_FULL);
	ev0 = port_stats(fb, ka3).ct_evicted;
	for (i = 0; i < flood; i++) {
		udp4(&f, IP(100, 64 | (i >> 16), (i >> 8) & 0xff, i & 0xff),
		     1000, GUEST4, 7);
		refused += to_guest(fb, ka3, &f) != TC_ACT_OK;
	}
	udp4(&f, IP(198, 51, 100, 7), 53, GUEST4, 5000);
	CHECK(to_guest(fb, ka2, &f) == TC_ACT_OK,
	      "ka2's reply refused after ka3's flood (its connection evicted)");
	CHECK(acl_ct_count(fb, ka3, KVB_ACL_IN) == KVB_ACL_CT_PORT,
	      "ka3 holds %llu connections opened towards it, not %u",
	      (unsigned long long)acl_ct_count(fb, ka3, KVB_ACL_IN),
	      KVB_ACL_CT_PORT);
	ev = port_stats(fb, ka3).ct_evicted - ev0;
	CHECK(refused + ev == flood - (KVB_ACL_CT_PORT - n0) &&
	      drops(fb, ka3, KVB_DROP_ACL_CT_FULL) - full0 == refused,
	      "%u refused, acl-ct-full %llu, %llu evicted, expected %llu in all",
	      refused,
	      (unsigned long long)(drops(fb, ka3, KVB_DROP_ACL_CT_FULL) - full0),
	      (unsigned long long)ev,
	      (unsigned long long)(flood - (KVB_ACL_CT_PORT - n0)));
	/* the pool keeps finding candidates: most of the flood beyond the
	 * cap got in by evicting (a figure of the sampling, not a bound) */
	CHECK(ev > (flood - (KVB_ACL_CT_PORT - n0)) / 2,
	      "only %llu of %llu evicted", (unsigned long long)ev,
	      (unsigned long long)(flood - (KVB_ACL_CT_PORT - n0)));
	/* ka3 leaves */
	CHECK(!port_get(fb, ka3, &p3), "ka3 is no port");
	acl_port_forget(fb, &p3);
	CHECK(acl_ct_count(fb, ka3, -1) == 0, "ka3's count left behind (%llu)",
	      (unsigned long long)acl_ct_count(fb, ka3, -1));
	while (!aclct_next(fb, prev, &k)) {
		prev = &k;
		if (!aclct_get(fb, &k, &e) &&
		    (e.side[0].ifindex == ka3 || e.side[1].ifindex == ka3))
			left++;
	}
	CHECK(left == 0, "%llu of ka3's connections left behind",
	      (unsigned long long)left);
	/* an idle connection goes with the expiry sweep, its count back */
	memset(&k, 0, sizeof(k));
	k.net_id = 1;
	k.family = 4;
	k.proto = IPPROTO_UDP;
	k.addr[0][0] = 192;
	k.addr[1][0] = 193;
	memset(&e, 0, sizeof(e));
	e.side[0].ifindex = ka4;
	e.side[0].slot = (__u16)s4;
	e.side[0].origin = KVB_ACL_IN;	/* opened towards ka4's guest */
	e.last_ns = 1;	/* idle since the clock began */
	n.n[KVB_ACL_IN] = 1;
	CHECK(s4 && !aclct_put(fb, &k, &e, BPF_NOEXIST) &&
	      !bpf_map_update_elem(fb->aclctn_fd, &s4, &n, BPF_ANY),
	      "cannot plant an idle connection");
	/* the sweep runs every second: wait up to 20 */
	for (i = 0; i < 200 && !aclct_get(fb, &k, &e); i++)
		usleep(100000);
	CHECK(aclct_get(fb, &k, &e),
	      "an idle connection outlived 20 s of sweeps");
	CHECK(acl_ct_count(fb, ka4, -1) == 0,
	      "the sweep did not give ka4's count back (%llu)",
	      (unsigned long long)acl_ct_count(fb, ka4, -1));
}

/*
 * A network's acl-ct-max is each of its ports' share: with 3, a port
 * (ka3, back with no connection) lets 3 new connections in and, its
 * connections established (none to evict), refuses the next two as
 * acl-ct-full.
 */
static void t_acl_ct_max_per_network(struct fabric *fb)
{
	struct frame f;
	__u64 full0 = drops(fb, ka3, KVB_DROP_ACL_CT_FULL);
	int passed = 0;

	CHECK(!unit_cli("port set ka3 acl c2") && !unit_cli("net set a acl-ct-max 3"),
	      "cannot set acl-ct-max 3");
	for (int i = 0; i < 5; i++) {
		udp4(&f, IP(100, 99, 0, 1 + i), 1000, GUEST4, 7);
		passed += to_guest(fb, ka3, &f) == TC_ACT_OK;
		aclct_establish_all(fb);	/* answered */
	}
	CHECK(passed == 3, "%d of 5 new connections passed, not 3", passed);
	CHECK(drops(fb, ka3, KVB_DROP_ACL_CT_FULL) == full0 + 2,
	      "acl-ct-full counted %llu times, not 2",
	      (unsigned long long)(drops(fb, ka3, KVB_DROP_ACL_CT_FULL) - full0));
	CHECK(acl_ct_count(fb, ka3, -1) == 3, "ka3 counts %llu connections, not 3",
	      (unsigned long long)acl_ct_count(fb, ka3, -1));
	/* a connection it holds still passes */
	udp4(&f, IP(100, 99, 0, 1), 1000, GUEST4, 7);
	CHECK(to_guest(fb, ka3, &f) == TC_ACT_OK,
	      "a remembered connection refused at the cap");
	CHECK(!unit_cli("net set a acl-ct-max 65536"), "cannot set acl-ct-max back");
}

/*
 * A flood of connections into a guest does not take its own outgoing
 * ones: a port's share (acl-ct-max) is counted by who opened the
 * connection. With 3, ka3's ingress lets 3 of 5 new connections in; its
 * guest's own new connection out still passes, and its reply comes back
 * by that connection alone (the ingress rules allow only port 7).
 */
static void t_acl_inbound_flood_spares_outbound(struct fabric *fb)
{
	struct frame f;
	__u64 full0 = drops(fb, ka3, KVB_DROP_ACL_CT_FULL), in0, out0;
	int passed = 0;

	CHECK(!unit_cli("acl add c3") &&
	      !unit_cli("acl rule add c3 ingress allow proto udp dport 7") &&
	      !unit_cli("acl rule add c3 egress allow proto udp") &&
	      !unit_cli("port set ka3 acl c3") && !unit_cli("net set a acl-ct-max 3"),
	      "cannot set up ACL c3 with acl-ct-max 3");
	in0 = acl_ct_count(fb, ka3, KVB_ACL_IN);
	out0 = acl_ct_count(fb, ka3, KVB_ACL_OUT);
	for (int i = 0; i < 5; i++) {
		udp4(&f, IP(100, 98, 0, 1 + i), 1000, GUEST4, 7);
		passed += to_guest(fb, ka3, &f) == TC_ACT_OK;
		aclct_establish_all(fb);	/* answered: none to evict */
	}
	CHECK(acl_ct_count(fb, ka3, KVB_ACL_IN) == 3,
	      "ka3 holds %llu connections opened towards it, not 3",
	      (unsigned long long)acl_ct_count(fb, ka3, KVB_ACL_IN));
	CHECK(passed == (int)(3 - (in0 < 3 ? in0 : 3)),
	      "%d of 5 new connections in passed (%llu held before)", passed,
	      (unsigned long long)in0);
	/* the guest's own */
	udp4(&f, GUEST4, 5001, IP(198, 51, 100, 9), 53);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka3, &f);
	CHECK(acl_ct_count(fb, ka3, KVB_ACL_OUT) == out0 + 1,
	      "the guest's own connection out not remembered (%llu, was %llu)",
	      (unsigned long long)acl_ct_count(fb, ka3, KVB_ACL_OUT),
	      (unsigned long long)out0);
	udp4(&f, IP(198, 51, 100, 9), 53, GUEST4, 5001);
	CHECK(to_guest(fb, ka3, &f) == TC_ACT_OK,
	      "the reply to the guest's own connection refused after a flood in");
	CHECK(drops(fb, ka3, KVB_DROP_ACL_CT_FULL) - full0 == (__u64)(5 - passed),
	      "acl-ct-full counted %llu times, not %d (the refusals in)",
	      (unsigned long long)(drops(fb, ka3, KVB_DROP_ACL_CT_FULL) - full0),
	      5 - passed);
	CHECK(!unit_cli("net set a acl-ct-max 65536") && !unit_cli("port set ka3 acl none"),
	      "cannot undo");
}

/*
 * Early eviction: a port whose share is full (acl-ct-max 3) makes room
 * for a new connection by evicting one of its connections that is still
 * opening, as conntrack's early drop does; an established one is never
 * evicted. ka4 lets in SSH: A completes its handshake, B and C are SYNs
 * from forged sources (answered by nobody), then D, E and F come: each
 * gets in by evicting an opening one (with a share of 3 the pool's
 * region is one place: the latest candidate goes), ct-evicted counts
 * them, A passes on. Once every connection is established, a new SYN is
 * refused as acl-ct-full.
 */
static void t_acl_full_share_evicts_opening(struct fabric *fb)
{
	struct frame f;
	__u64 full0 = drops(fb, ka4, KVB_DROP_ACL_CT_FULL);
	__u64 ev0 = port_stats(fb, ka4).ct_evicted;
	int passed = 0;

	CHECK(!unit_cli("acl add c4") &&
	      !unit_cli("acl rule add c4 ingress allow proto tcp dport 22") &&
	      !unit_cli("port set ka4 acl c4") && !unit_cli("net set a acl-ct-max 3"),
	      "cannot set up ACL c4 with acl-ct-max 3");
	CHECK(acl_ct_count(fb, ka4, -1) == 0, "ka4 holds %llu connections",
	      (unsigned long long)acl_ct_count(fb, ka4, -1));
	/* A: a whole handshake */
	tcp4(&f, IP(100, 97, 0, 1), 1001, GUEST4, 22, 0x02, 100, 0);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK, "A's SYN refused");
	tcp4(&f, GUEST4, 22, IP(100, 97, 0, 1), 1001, 0x12, 900, 101);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka4, &f);
	tcp4(&f, IP(100, 97, 0, 1), 1001, GUEST4, 22, 0x10, 101, 901);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK, "A's ACK refused");
	CHECK(ct_state(fb, IPPROTO_TCP, 1001, 22) == KVB_CT_ESTABLISHED,
	      "A: state %d, not established",
	      ct_state(fb, IPPROTO_TCP, 1001, 22));
	/* B and C: SYNs that never complete; then D, E, F */
	for (int i = 2; i <= 6; i++) {
		tcp4(&f, IP(100, 97, 0, i), (__u16)(1000 + i), GUEST4, 22,
		     0x02, 100, 0);
		passed += to_guest(fb, ka4, &f) == TC_ACT_OK;
	}
	CHECK(passed == 5, "%d of 5 SYNs passed (3 by evicting)", passed);
	CHECK(port_stats(fb, ka4).ct_evicted - ev0 == 3,
	      "ct-evicted +%llu, not +3",
	      (unsigned long long)(port_stats(fb, ka4).ct_evicted - ev0));
	CHECK(drops(fb, ka4, KVB_DROP_ACL_CT_FULL) == full0,
	      "acl-ct-full counted with room to evict");
	CHECK(acl_ct_count(fb, ka4, KVB_ACL_IN) == 3,
	      "ka4 holds %llu connections in, not 3",
	      (unsigned long long)acl_ct_count(fb, ka4, KVB_ACL_IN));
	CHECK(ct_state(fb, IPPROTO_TCP, 1001, 22) == KVB_CT_ESTABLISHED,
	      "A evicted");
	CHECK(ct_state(fb, IPPROTO_TCP, 1006, 22) == KVB_CT_NEW,
	      "F, the latest, not remembered");
	tcp4(&f, IP(100, 97, 0, 1), 1001, GUEST4, 22, 0x18, 101, 901);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_OK, "A's data refused");
	/* all established: nothing to evict */
	aclct_establish_all(fb);
	tcp4(&f, IP(100, 97, 0, 7), 1007, GUEST4, 22, 0x02, 100, 0);
	CHECK(to_guest(fb, ka4, &f) == TC_ACT_SHOT,
	      "a SYN let in beyond a share of established connections");
	CHECK(drops(fb, ka4, KVB_DROP_ACL_CT_FULL) == full0 + 1,
	      "acl-ct-full not counted");
	CHECK(!unit_cli("net set a acl-ct-max 65536") && !unit_cli("port set ka4 acl none"),
	      "cannot undo");
}

/*
 * An ICMP error from the guest, outer destination dst, quoting a TCP
 * packet from 203.0.113.9:80 to the guest's port gport.
 */
static void icmp_err_out(struct frame *f, __u32 dst, __u16 gport)
{
	__u8 e[36] = { 3, 3 };
	__u32 r = IP(203, 0, 113, 9), g = GUEST4;

	e[8] = 0x45;
	e[11] = 40;
	e[16] = 64;
	e[17] = IPPROTO_TCP;
	memcpy(e + 20, &r, 4);
	memcpy(e + 24, &g, 4);
	e[29] = 80;
	e[30] = (__u8)(gport >> 8);
	e[31] = (__u8)gport;
	frame_ip4_to(f, RM, GA, GUEST4, dst, 64, IPPROTO_ICMP, e, sizeof(e));
	frame_csum4(f);
}

/*
 * An ICMP error passes a port's ACLs by the connection it quotes only
 * when it goes back to the quoted packet's sender, as conntrack relates
 * it: the guest's port unreachable about its own connection to
 * 203.0.113.9:80 goes to 203.0.113.9, but the same quote sent to any
 * other address is a new packet, refused by the default. Before, a
 * guest with one connection could send anything anywhere behind a
 * quote of it.
 */
static void t_acl_icmp_error_to_the_quoted_sender(struct fabric *fb)
{
	__u64 d0 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT), d1, d2;
	struct frame f;

	CHECK(!unit_cli("acl add z20") &&
	      !unit_cli("acl rule add z20 egress allow proto tcp dport 80") &&
	      !unit_cli("port set ka2 acl z20"), "cannot set up ACL z20");
	tcp4(&f, GUEST4, 40100, IP(203, 0, 113, 9), 80, 0x02, 1, 0);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	icmp_err_out(&f, IP(203, 0, 113, 9), 40100);
	run_tc(fb, ka2, &f);
	d1 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	icmp_err_out(&f, IP(198, 51, 100, 7), 40100);
	run_tc(fb, ka2, &f);
	d2 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	unit_cli("port set ka2 acl none");
	CHECK(d1 == d0, "the error to the quoted sender was refused");
	CHECK(d2 == d1 + 1, "an error to another address passed by its quote "
	      "(acl-default +%llu)", (unsigned long long)(d2 - d1));
}

/*
 * A packet towards one guest's port of a connection another guest's
 * port holds (the LAN can write any destination address) is judged by
 * the receiving port's rules and takes no side: the guest that holds the
 * connection keeps it. Before, the receiving port's side replaced the
 * holder's, and the remote's next packet to the holder was refused.
 */
static void t_acl_foreign_connection_not_taken(struct fabric *fb)
{
	struct frame f;
	int before, r4, after;

	CHECK(!unit_cli("acl add z21") &&
	      !unit_cli("acl rule add z21 egress allow proto tcp dport 443") &&
	      !unit_cli("acl add z22") &&
	      !unit_cli("acl rule add z22 ingress allow src 0.0.0.0/0") &&
	      !unit_cli("port set ka2 acl z21") && !unit_cli("port set ka4 acl z22"),
	      "cannot set up ACLs z21, z22");
	tcp4(&f, GUEST4, 40200, IP(203, 0, 113, 9), 443, 0x02, 1, 0);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	tcp4(&f, IP(203, 0, 113, 9), 443, GUEST4, 40200, 0x12, 7, 2);
	before = to_guest(fb, ka2, &f);
	r4 = to_guest(fb, ka4, &f);
	after = to_guest(fb, ka2, &f);
	unit_cli("port set ka2 acl none");
	unit_cli("port set ka4 acl none");
	CHECK(before == TC_ACT_OK, "the reply to ka2's connection: %d", before);
	CHECK(r4 == TC_ACT_OK, "ka4's allow-all ingress refused it: %d", r4);
	CHECK(after == TC_ACT_OK, "ka2 lost its connection to a packet sent "
	      "to ka4: %d", after);
}

/*
 * A frame that is neither IP nor ARP (PPPoE discovery here) on a port
 * with ACLs gets the direction's default, as any frame no rule matches:
 * refused both ways while the defaults are reject, counted acl-default,
 * let through once the network's egress default is allow. ARP is the
 * link's and passes. Before, every non-IP frame passed unjudged.
 */
static void t_acl_non_ip_gets_the_default(struct fabric *fb)
{
	__u64 d0 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT), d1, d2, d3;
	struct frame f;
	int arp;

	CHECK(!unit_cli("acl add z23") &&
	      !unit_cli("acl rule add z23 egress allow proto tcp dport 80") &&
	      !unit_cli("port set ka2 acl z23"), "cannot set up ACL z23");
	frame_raw(&f, RM, GA, ETH_P_PPP_DISC, 46);
	run_tc(fb, ka2, &f);
	d1 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	frame_raw(&f, GA, RM, ETH_P_PPP_DISC, 46);
	to_guest(fb, ka2, &f);
	d2 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	frame_raw(&f, GA, RM, ETH_P_ARP, 28);
	f.buf[ETH_HLEN + 1] = 1, f.buf[ETH_HLEN + 2] = 8;	/* Ethernet, IPv4 */
	f.buf[ETH_HLEN + 4] = 6, f.buf[ETH_HLEN + 5] = 4;
	f.buf[ETH_HLEN + 7] = 2;				/* a reply */
	memcpy(f.buf + ETH_HLEN + 8, RM, 6);
	arp = to_guest(fb, ka2, &f);
	CHECK(!unit_cli("net set a default-egress allow"), "default-egress allow");
	frame_raw(&f, RM, GA, ETH_P_PPP_DISC, 46);
	run_tc(fb, ka2, &f);
	d3 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	unit_cli("net set a default-egress reject");
	unit_cli("port set ka2 acl none");
	CHECK(d1 == d0 + 1, "PPPoE from the guest not refused (acl-default "
	      "+%llu)", (unsigned long long)(d1 - d0));
	CHECK(d2 == d1 + 1, "PPPoE to the guest not refused (acl-default "
	      "+%llu)", (unsigned long long)(d2 - d1));
	CHECK(arp == TC_ACT_OK, "ARP to the guest: %d", arp);
	CHECK(d3 == d2, "PPPoE from the guest refused with default-egress "
	      "allow");
}

/*
 * An ICMPv6 error whose quote carries extension headers relates to its
 * connection too: a router's packet too big about the first fragment of
 * the guest's large UDP datagram (a DNS answer over IPv6) quotes a
 * fragment header before the UDP header. Before, the quote's protocol
 * read as the fragment header's, no connection matched, and the error
 * was refused by the default: large UDP over IPv6 was black-holed.
 */
static void t_acl_icmp6_error_quoting_a_fragment(struct fabric *fb)
{
	__u8 g[16] = { 0xfd, 0, 0, 0, [15] = 0x0b },
	     r[16] = { 0xfd, 0, 0, 9, [15] = 0x35 },
	     x[16] = { 0xfd, 0, 0, 7, [15] = 1 };
	__u8 q[8 + 40 + 8 + 8] = { 2, 0, 0, 0, 0, 0, 0x05, 0x00 };
	struct frame f;
	int ret;

	CHECK(!unit_cli("acl add z24") &&
	      !unit_cli("acl rule add z24 egress allow proto udp dport 53") &&
	      !unit_cli("port set ka2 acl z24"), "cannot set up ACL z24");
	frag6(&f, g, r, 0x1234, 1, 53);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	/* too big (MTU 1280) from a router x, quoting that first fragment:
	 * its IPv6 header, the fragment header, the UDP header */
	q[8] = 0x60;
	q[8 + 5] = 16;
	q[8 + 6] = IPPROTO_FRAGMENT;
	q[8 + 7] = 64;
	memcpy(q + 8 + 8, g, 16);
	memcpy(q + 8 + 24, r, 16);
	memcpy(q + 48, (__u8[]){ IPPROTO_UDP, 0, 0, 1, 0, 0, 0x12, 0x34 }, 8);
	memcpy(q + 56, (__u8[]){ 0x14, 0xb4, 0, 53, 0, 16, 0, 0 }, 8);
	frame_ip6_to(&f, GA, RM, x, g, 64, IPPROTO_ICMPV6, q, sizeof(q));
	ret = to_guest(fb, ka2, &f);
	unit_cli("port set ka2 acl none");
	CHECK(ret == TC_ACT_OK, "the too-big about the guest's fragment was "
	      "refused: %d", ret);
}

/* An ICMP query (type, identifier id) from saddr to daddr; from the
 * guest (out: its MAC the source) or towards it. */
static void icmp4_query(struct frame *f, __u32 saddr, __u32 daddr, __u8 type,
			__u16 id, int out)
{
	__u8 ih[20] = { type, 0, 0, 0, (__u8)(id >> 8), (__u8)id, 0, 1 };

	frame_ip4_to(f, out ? RM : GA, out ? GA : RM, saddr, daddr, 64,
		     IPPROTO_ICMP, ih, sizeof(ih));
	frame_csum4(f);
}

/*
 * Only an ICMP query is a connection, of its kind and identifier, and
 * only its reply type answers it, the other way. ka2 lets in echo
 * requests from X only: X pings with identifier 0 and the guest
 * answers; X's timestamp request (13), router advertisement (9) and a
 * timestamp reply (14) with that identifier are still judged by the
 * rules, refused by the default. The guest pings Y, Y answers; Y's echo
 * request with the same identifier is judged by the rules, not passed
 * as the connection's. Before, any ICMP but echo keyed as an echo with
 * identifier 0 (one allowed type opened every other), and a request
 * came in on the connection of the guest's own.
 */
static void t_acl_icmp_query_kinds(struct fabric *fb)
{
	__u32 x = IP(198, 51, 100, 20), y = IP(203, 0, 113, 30);
	__u64 d0 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT), d;
	struct frame f;
	int r;

	/* refused: the default's reject answers (redirected) or drops */
	CHECK(!unit_cli("acl add q1") &&
	      !unit_cli("acl rule add q1 ingress allow proto icmp icmp-type 8 "
		   "src 198.51.100.20/32") &&
	      !unit_cli("acl rule add q1 egress allow proto icmp icmp-type 8") &&
	      !unit_cli("port set ka2 acl q1"), "cannot set up ACL q1");
	icmp4_query(&f, x, GUEST4, 8, 0, 0);
	r = to_guest(fb, ka2, &f);
	CHECK(r == TC_ACT_OK, "X's echo request refused: %d", r);
	icmp4_query(&f, GUEST4, x, 0, 0, 1);
	run_tc(fb, ka2, &f);
	CHECK(drops(fb, ka2, KVB_DROP_ACL_DEFAULT) == d0,
	      "the guest's echo reply to X refused");
	icmp4_query(&f, x, GUEST4, 13, 0, 0);
	r = to_guest(fb, ka2, &f);
	d = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	CHECK(r != TC_ACT_OK && d == d0 + 1,
	      "X's timestamp request passed by the echo's connection: %d, "
	      "acl-default +%llu", r, (unsigned long long)(d - d0));
	icmp4_query(&f, x, GUEST4, 9, 0, 0);
	r = to_guest(fb, ka2, &f);
	CHECK(r != TC_ACT_OK && drops(fb, ka2, KVB_DROP_ACL_DEFAULT) == d + 1,
	      "X's router advertisement passed by the echo's connection: %d",
	      r);
	icmp4_query(&f, x, GUEST4, 14, 0, 0);
	r = to_guest(fb, ka2, &f);
	CHECK(r != TC_ACT_OK, "a timestamp reply of no request passed: %d",
	      r);
	/* the guest pings Y */
	icmp4_query(&f, GUEST4, y, 8, 0x77, 1);
	d = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	run_tc(fb, ka2, &f);
	CHECK(drops(fb, ka2, KVB_DROP_ACL_DEFAULT) == d,
	      "the guest's echo request to Y refused");
	icmp4_query(&f, y, GUEST4, 0, 0x77, 0);
	r = to_guest(fb, ka2, &f);
	CHECK(r == TC_ACT_OK, "Y's echo reply refused: %d", r);
	icmp4_query(&f, y, GUEST4, 8, 0x77, 0);
	r = to_guest(fb, ka2, &f);
	CHECK(r != TC_ACT_OK && drops(fb, ka2, KVB_DROP_ACL_DEFAULT) == d + 1,
	      "Y's echo request passed as the reply of the guest's ping: %d",
	      r);
	icmp4_query(&f, y, GUEST4, 0, 0x77, 0);
	r = to_guest(fb, ka2, &f);
	CHECK(r == TC_ACT_OK, "Y's second echo reply refused: %d", r);
	CHECK(!unit_cli("port set ka2 acl none"), "cannot undo");
}

/*
 * Between two local guests with ACLs: B (ka3) pings A (ka1), whose rules
 * refuse it; A then sends an echo request with that identifier to B,
 * whose rules let in no echo request. A's side joins the entry B's ping
 * left, but the request is the wrong way for B's side (B opened it with a
 * request): B's rules judge it, and refuse it. Before, A's new side took
 * B's side as its peer's judgment and the switch delivered it unjudged.
 */
static void t_acl_icmp_request_back_judged(struct fabric *fb)
{
	static const __u8 M1[6] = { 0x52, 0x54, 0x00, 0xac, 0x01, 0x01 },
			  M3[6] = { 0x52, 0x54, 0x00, 0xac, 0x01, 0x03 };
	__u32 a1 = IP(10, 0, 0, 21), a3 = IP(10, 0, 0, 23), mark = 0;
	__u8 ih[20] = { 8, 0, 0, 0, 0x42, 0x42, 0, 1 };
	__u64 d1, d3;
	struct frame f;
	int r;

	CHECK(!unit_cli("acl add q5") &&
	      !unit_cli("acl rule add q5 egress allow proto icmp") &&
	      !unit_cli("acl add q6") &&
	      !unit_cli("acl rule add q6 egress allow proto icmp") &&
	      !unit_cli("port set ka1 acl q5") && !unit_cli("port set ka3 acl q6"),
	      "cannot set up ACLs q5, q6");
	/* the switch learns where each is */
	udp4_between(&f, M3, RM, a3, IP(10, 0, 0, 99), 9);
	run_tc(fb, ka3, &f);
	udp4_between(&f, M1, RM, a1, IP(10, 0, 0, 99), 9);
	run_tc(fb, ka1, &f);
	/* B pings A: A's ingress has no rule for it */
	d1 = drops(fb, ka1, KVB_DROP_ACL_DEFAULT);
	frame_ip4_to(&f, M1, M3, a3, a1, 64, IPPROTO_ICMP, ih, sizeof(ih));
	frame_csum4(&f);
	r = run_tc_mark(fb, ka3, &f, &mark);
	/* (refused: the default's reject answers, redirected, or drops) */
	CHECK(drops(fb, ka1, KVB_DROP_ACL_DEFAULT) == d1 + 1,
	      "B's ping into A passed: verdict %d", r);
	/* A's echo request back to B, same identifier */
	d3 = drops(fb, ka3, KVB_DROP_ACL_DEFAULT);
	frame_ip4_to(&f, M3, M1, a1, a3, 64, IPPROTO_ICMP, ih, sizeof(ih));
	frame_csum4(&f);
	mark = 0;
	r = run_tc_mark(fb, ka1, &f, &mark);
	unit_cli("port set ka1 acl none");
	unit_cli("port set ka3 acl none");
	CHECK(drops(fb, ka3, KVB_DROP_ACL_DEFAULT) == d3 + 1,
	      "A's echo request to B passed unjudged by B's rules: verdict "
	      "%d, mark %#x, B's acl-default +%llu", r, mark,
	      (unsigned long long)(drops(fb, ka3, KVB_DROP_ACL_DEFAULT) -
				   d3));
}

/*
 * An answered ICMP query is never established (conntrack never assures
 * ICMP): it stays evictable. With acl-ct-max 3, X pings ka1's guest
 * with 5 identifiers, each answered: all pass (the last two by evicting),
 * and a TCP SYN from another source to the open port 22 still gets in by
 * evicting one (ct-evicted +3, no acl-ct-full). Before, each answered
 * ping was established, never evicted: one remote pinging with every
 * identifier refused every new connection into the guest.
 */
static void t_acl_icmp_never_established(struct fabric *fb)
{
	__u32 x = IP(198, 51, 100, 21);
	__u64 full0 = drops(fb, ka1, KVB_DROP_ACL_CT_FULL), ev0, ev, full;
	struct kvb_port p1;
	struct frame f;
	int passed = 0, r, st;

	CHECK(!port_get(fb, ka1, &p1), "ka1 is no port");
	acl_port_forget(fb, &p1);	/* no connection of the tests before */
	CHECK(!unit_cli("acl add q2") &&
	      !unit_cli("acl rule add q2 ingress allow proto icmp icmp-type 8") &&
	      !unit_cli("acl rule add q2 ingress allow proto tcp dport 22") &&
	      !unit_cli("port set ka1 acl q2") && !unit_cli("net set a acl-ct-max 3"),
	      "cannot set up ACL q2 with acl-ct-max 3");
	ev0 = port_stats(fb, ka1).ct_evicted;
	for (int i = 1; i <= 5; i++) {
		icmp4_query(&f, x, GUEST4, 8, (__u16)i, 0);
		passed += to_guest(fb, ka1, &f) == TC_ACT_OK;
		icmp4_query(&f, GUEST4, x, 0, (__u16)i, 1);
		run_tc(fb, ka1, &f);
	}
	st = ct_state(fb, IPPROTO_ICMP, 5, 5);
	tcp4(&f, IP(100, 96, 0, 9), 1234, GUEST4, 22, 0x02, 100, 0);
	r = to_guest(fb, ka1, &f);
	full = drops(fb, ka1, KVB_DROP_ACL_CT_FULL) - full0;
	ev = port_stats(fb, ka1).ct_evicted - ev0;
	unit_cli("net set a acl-ct-max 65536");
	unit_cli("port set ka1 acl none");
	CHECK(passed == 5, "%d of 5 pings passed", passed);
	CHECK(st == KVB_CT_NEW, "an answered ping: state %d, not new", st);
	CHECK(r == TC_ACT_OK, "a SYN refused after answered pings: %d "
	      "(acl-ct-full +%llu)", r, (unsigned long long)full);
	CHECK(ev == 3, "ct-evicted +%llu, not +3", (unsigned long long)ev);
}

/* Which ports hold the sides of the UDP connection between ports a and
 * b: 1 when port is one of them and not_port none. */
static int ct_held_by(struct fabric *fb, __u16 a, __u16 b, __u32 port,
		      __u32 not_port)
{
	struct kvb_aclct_key k;
	struct kvb_aclct e;

	if (ct_find(fb, IPPROTO_UDP, a, b, &k, &e))
		return 0;
	return (e.side[0].ifindex == port || e.side[1].ifindex == port) &&
	       e.side[0].ifindex != not_port && e.side[1].ifindex != not_port;
}

/*
 * A packet towards a guest takes a side of its connection only for the
 * guest whose address it is sent to. A LAN host sends R:500 -> A:500 (A
 * is ka2's guest, its address bound with `ip`) to B's port (ka4, which
 * lets any UDP in): B's rule lets it in, but B takes no side; the real
 * R -> A then gives A its side, and A's answer passes (A's egress
 * default is reject). An entry B took before A's address was known
 * (R:501 -> A:501) is A's once A's address is: A takes its side over.
 * Before, B took the side, A's answer was judged as new and refused.
 */
static void t_acl_foreign_dst_takes_no_side(struct fabric *fb)
{
	__u32 a = IP(10, 0, 0, 177), r = IP(203, 0, 113, 40);
	__u64 d0 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT), d1, d2;
	struct frame f;
	int ra, rb;

	CHECK(!unit_cli("acl add f1") &&
	      !unit_cli("acl rule add f1 ingress allow proto udp dport 500-501") &&
	      !unit_cli("acl add f2") &&
	      !unit_cli("acl rule add f2 ingress allow proto udp") &&
	      !unit_cli("port set ka2 acl f1") && !unit_cli("port set ka4 acl f2"),
	      "cannot set up ACLs f1, f2");
	/* R:501 -> A:501 at B while no port holds A's address */
	udp4(&f, r, 501, a, 501);
	rb = to_guest(fb, ka4, &f);
	CHECK(rb == TC_ACT_OK, "B's rule refused R:501 -> A:501: %d", rb);
	CHECK(!unit_cli("port set ka2 ip 10.0.0.177"), "cannot bind A's address");
	udp4(&f, r, 500, a, 500);
	rb = to_guest(fb, ka4, &f);
	ra = to_guest(fb, ka2, &f);
	udp4(&f, a, 500, r, 500);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	d1 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	CHECK(rb == TC_ACT_OK && ra == TC_ACT_OK,
	      "R:500 -> A:500 refused: at B %d, at A %d", rb, ra);
	CHECK(d1 == d0 && ct_held_by(fb, 500, 500, ka2, ka4),
	      "A's answer to R refused (acl-default +%llu) or A holds no side",
	      (unsigned long long)(d1 - d0));
	/* 501: A's now, A takes its side over from B */
	udp4(&f, r, 501, a, 501);
	ra = to_guest(fb, ka2, &f);
	udp4(&f, a, 501, r, 501);
	memcpy(f.buf, RM, 6);
	memcpy(f.buf + 6, GA, 6);
	run_tc(fb, ka2, &f);
	d2 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	unit_cli("port set ka2 ip none");
	unit_cli("port set ka2 acl none");
	unit_cli("port set ka4 acl none");
	CHECK(ra == TC_ACT_OK && d2 == d1 && ct_held_by(fb, 501, 501, ka2, ka4),
	      "A did not take over its side of R:501 -> A:501 from B (%d, "
	      "acl-default +%llu)", ra, (unsigned long long)(d2 - d1));
}

/* A DHCP message of type t between sport and dport (a BOOTREPLY from
 * 67), from saddr (MAC smac) to daddr (MAC dmac), for chaddr, yiaddr;
 * server: option 54 (0: none); an ACK leases for an hour. */
static void dhcp4(struct frame *f, const __u8 *dmac, const __u8 *smac,
		  __u32 saddr, __u16 sport, __u32 daddr, __u16 dport, __u8 t,
		  const __u8 *chaddr, __u32 yiaddr, __u32 server)
{
	struct bootp b = { .sport = sport, .dport = dport, .type = t,
			   .yiaddr = yiaddr, .server = server,
			   .lease = t == 5 ? 3600 : 0, .chaddr = chaddr };
	__u8 m[BOOTP_LEN];

	bootp_fill(m, &b);
	frame_ip4_to(f, dmac, smac, saddr, daddr, 64, IPPROTO_UDP, m,
		     sizeof(m));
	frame_csum4(f);
}

/* A UDP datagram over IPv6 from sport to dport, from the guest (out) or
 * towards it. */
static void udp6(struct frame *f, const __u8 *saddr, __u16 sport,
		 const __u8 *daddr, __u16 dport, int out)
{
	__u8 uh[16] = { (__u8)(sport >> 8), (__u8)sport, (__u8)(dport >> 8),
			(__u8)dport, 0, 16, 0x12, 0x34 };

	frame_ip6_to(f, out ? RM : GA, out ? GA : RM, saddr, daddr, 64,
		     IPPROTO_UDP, uh, sizeof(uh));
}

/*
 * A UDP datagram of family (4 or 6) from the remote's port sport to the
 * guest's dport 11 on ka4: its verdict (to_guest).
 */
static int vc_send(struct fabric *fb, int family, __u16 sport)
{
	static const __u8 r6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x50 };
	static const __u8 g6[16] = { 0xfd, 0x00, [15] = 0x0b };
	struct frame f;

	if (family == 4)
		udp4(&f, IP(192, 0, 2, 50), sport, GUEST4, 11);
	else
		udp6(&f, r6, sport, g6, 11, 0);
	return to_guest(fb, ka4, &f);
}

/*
 * Write the family's planted entry (p4 or p6) under key, its check word
 * made right first, unless torn (then as the caller spoiled it).
 */
static int vc_put(int fd, const void *key, int family,
		  struct kvb_aclvc4_val *p4, struct kvb_aclvc_val *p6,
		  int torn)
{
	if (!torn) {
		p4->check = kvb_aclvc4_check(p4);
		p6->check = kvb_aclvc6_check(p6);
	}
	return bpf_map_update_elem(fd, key,
				   family == 4 ? (void *)p4 : (void *)p6,
				   BPF_EXIST);
}

/*
 * One family's case of t_acl_verdict_cache_checks_key, on the verdict
 * cache fd (kvb_aclvc4 or kvb_aclvc) with its key and value sizes.
 */
static void vc_case(struct fabric *fb, int family, int fd)
{
	struct kvb_aclvc4_val v4 = { 0 }, p4 = { 0 };
	struct kvb_aclvc_val v6 = { 0 }, p6 = { 0 };
	union {
		struct kvb_aclvc4_key k4;
		struct kvb_aclvc_key k6;
	} k, mine, *prev = NULL;
	__u16 sport = family == 4 ? 9100 : 9200;
	int have = 0;

	CHECK(vc_send(fb, family, sport++) == TC_ACT_SHOT,
	      "IPv%d: UDP 11 passed vc1's drop", family);
	/* its verdict, kept under the newest set */
	while (!bpf_map_get_next_key(fd, prev, &k)) {
		prev = &k;
		if (family == 4 ?
		    (k.k4.dir == KVB_ACL_IN && k.k4.proto == IPPROTO_UDP &&
		     k.k4.dport == 11 && (!have || k.k4.set > mine.k4.set) &&
		     !bpf_map_lookup_elem(fd, &k, &v4)) :
		    (k.k6.dir == KVB_ACL_IN && k.k6.proto == IPPROTO_UDP &&
		     k.k6.dport == 11 && (!have || k.k6.set > mine.k6.set) &&
		     !bpf_map_lookup_elem(fd, &k, &v6))) {
			mine = k;
			p4 = v4;
			p6 = v6;
			have = 1;
		}
	}
	CHECK(have, "IPv%d: no verdict kept for UDP 11", family);
	CHECK(family == 4 ?
	      !memcmp(&p4.key, &mine.k4, sizeof(p4.key)) &&
	      p4.vc.action == KVB_ACL_DROP && p4.check == kvb_aclvc4_check(&p4) :
	      !memcmp(&p6.key, &mine.k6, sizeof(p6.key)) &&
	      p6.vc.action == KVB_ACL_DROP && p6.check == kvb_aclvc6_check(&p6),
	      "IPv%d: the verdict kept is not its key's drop", family);
	/* its own key: taken, though the rules say otherwise */
	p4.vc.action = p6.vc.action = KVB_ACL_ALLOW;
	CHECK(!vc_put(fd, &mine, family, &p4, &p6, 0), "cannot rewrite");
	CHECK(vc_send(fb, family, sport++) == TC_ACT_OK,
	      "IPv%d: a verdict kept under its own key not taken", family);
	/* torn (its check word does not hold): not taken */
	p4.check ^= 1;
	p6.check ^= 1;
	CHECK(!vc_put(fd, &mine, family, &p4, &p6, 1), "cannot rewrite");
	CHECK(vc_send(fb, family, sport++) == TC_ACT_SHOT,
	      "IPv%d: a torn verdict taken: UDP 11 passed", family);
	/* another key's (dport 12) under this one: not taken */
	p4.key.dport = p6.key.dport = 12;
	CHECK(!vc_put(fd, &mine, family, &p4, &p6, 0), "cannot rewrite");
	CHECK(vc_send(fb, family, sport++) == TC_ACT_SHOT,
	      "IPv%d: another key's verdict taken: UDP 11 passed", family);
	CHECK(family == 4 ?
	      !bpf_map_lookup_elem(fd, &mine, &v4) &&
	      !memcmp(&v4.key, &mine.k4, sizeof(v4.key)) &&
	      v4.vc.action == KVB_ACL_DROP :
	      !bpf_map_lookup_elem(fd, &mine, &v6) &&
	      !memcmp(&v6.key, &mine.k6, sizeof(v6.key)) &&
	      v6.vc.action == KVB_ACL_DROP,
	      "IPv%d: the rules' verdict not kept again", family);
}

/*
 * The verdict cache's entries carry their key and a check word (an LRU
 * hands an evicted entry to another CPU's insert at once, even while a
 * reader copies it): an entry whose own key is the one looked up and
 * whose check word holds is taken (a verdict planted against the rules,
 * to show that it is read); a torn one, or one whose key is another's,
 * is not (the rules judge). IPv4 (kvb_aclvc4) and IPv6 (kvb_aclvc).
 */
static void t_acl_verdict_cache_checks_key(struct fabric *fb)
{
	const char *maps[2] = { KVB_MAP_ACLVC4, KVB_MAP_ACLVC };
	char path[512];

	CHECK(!unit_cli("acl add vc1") &&
	      !unit_cli("acl rule add vc1 ingress drop proto udp dport 11") &&
	      !unit_cli("acl rule add vc1 ingress allow proto udp") &&
	      !unit_cli("port set ka4 acl vc1"), "cannot set up ACL vc1");
	for (int i = 0; i < 2 && !unit_failed; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", fb->dir, maps[i]);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			printf("FAIL %s: %s: %s\n", __func__, path,
			       strerror(errno));
			unit_failed = 1;
			break;
		}
		vc_case(fb, i ? 6 : 4, fd);
		close(fd);
	}
	/* as the test found it: ka4 under w2, no vc1 */
	CHECK(!unit_cli("port set ka4 acl w2") && !unit_cli("acl del vc1"),
	      "cannot give ka4 w2 again, or delete vc1");
}

/*
 * DHCP passes a bridge network's port ACLs unjudged only as DHCP needs
 * it: a client's message from the guest to the broadcast address (or,
 * DHCPv6, ff02::1:2 or a link-local server), a renewal by unicast to
 * the server that leased the address it sends from (the ACK's option 54,
 * snooped), a server's towards the guest (DHCPv6: from a link-local
 * address). With default-reject ACLs on ka2: 68 -> 67 to an Internet
 * address, or to another server than the lease's, is refused; so are
 * 68 -> 67 and 67 -> 67 towards the guest (a remote at its DHCP ports),
 * DHCPv6 to a global address and from one. Before, any datagram between
 * ports 67/68 (546/547) to or from any address passed both ways.
 */
static void t_acl_dhcp_only_what_the_link_needs(struct fabric *fb)
{
	static const __u8 M2[6] = { 0x52, 0x54, 0x00, 0xac, 0x02, 0x02 };
	__u32 yi = IP(10, 0, 0, 41), srv = IP(10, 0, 0, 254),
	      far = IP(203, 0, 113, 50), bc = 0xffffffff;
	__u8 ll[16] = { 0xfe, 0x80, [15] = 0x0b },
	     lls[16] = { 0xfe, 0x80, [15] = 0x01 },
	     mc[16] = { 0xff, 0x02, [13] = 1, [15] = 2 },
	     g6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x53 };
	struct kvb_addr_key k = { .ifindex = ka2, .family = 4 };
	struct kvb_addr a = { 0 };
	__u64 d0 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	__u64 d_far, d_bc, d_renew, d_other, d_in67, d_in, d6;
	int r_in68, r_in67, r_in, r6in, r6far, bound;
	struct frame f;

	CHECK(!unit_cli("acl add h1") &&
	      !unit_cli("acl rule add h1 egress allow proto tcp dport 80") &&
	      !unit_cli("port set ka2 acl h1"), "cannot set up ACL h1");
	/* from the guest: discover to the broadcast address, then a
	 * "client's" datagram to an Internet address */
	dhcp4(&f, BC6, M2, 0, 68, bc, 67, 1, M2, 0, 0);
	run_tc(fb, ka2, &f);	/* M2 learned behind ka2 */
	d_bc = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	dhcp4(&f, RM, M2, 0, 68, far, 67, 1, M2, 0, 0);
	run_tc(fb, ka2, &f);
	d_far = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	/* the LAN's server ACKs yi to M2 (server identifier srv) */
	dhcp4(&f, M2, RM, srv, 67, bc, 68, 5, M2, yi, srv);
	run_tc(fb, unit_uplink, &f);
	memcpy(k.addr, &yi, 4);
	bound = !bpf_map_lookup_elem(fb->addr_fd, &k, &a) &&
		(a.flags & KVB_ADDR_F_DHCP) && a.server == srv;
	/* a renewal to srv, then one to another address */
	dhcp4(&f, RM, M2, yi, 68, srv, 67, 3, M2, 0, 0);
	run_tc(fb, ka2, &f);
	d_renew = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	dhcp4(&f, RM, M2, yi, 68, IP(10, 0, 0, 253), 67, 3, M2, 0, 0);
	run_tc(fb, ka2, &f);
	d_other = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	/* towards the guest: a server's, then a remote at 67 and 68 -> 67 */
	dhcp4(&f, GA, RM, srv, 67, yi, 68, 5, M2, yi, srv);
	r_in68 = to_guest(fb, ka2, &f);
	dhcp4(&f, GA, RM, far, 67, yi, 67, 1, M2, 0, 0);
	r_in67 = to_guest(fb, ka2, &f);
	d_in67 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	dhcp4(&f, GA, RM, far, 68, yi, 67, 1, M2, 0, 0);
	r_in = to_guest(fb, ka2, &f);
	d_in = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	/* DHCPv6: solicit to ff02::1:2 passes, to a global address not;
	 * a reply from a link-local server passes, from a global not */
	udp6(&f, ll, 546, mc, 547, 1);
	run_tc(fb, ka2, &f);
	d6 = drops(fb, ka2, KVB_DROP_ACL_DEFAULT);
	udp6(&f, ll, 546, g6, 547, 1);
	run_tc(fb, ka2, &f);
	r6far = drops(fb, ka2, KVB_DROP_ACL_DEFAULT) == d6 + 1;
	udp6(&f, lls, 547, ll, 546, 0);
	r6in = to_guest(fb, ka2, &f);
	udp6(&f, g6, 547, ll, 546, 0);
	r6in = r6in == TC_ACT_OK && to_guest(fb, ka2, &f) != TC_ACT_OK;
	/* undo: the lease, the ACL */
	bpf_map_delete_elem(fb->addr_fd, &k);
	k.ifindex = 0;
	k.net_id = 1;
	bpf_map_delete_elem(fb->addr_fd, &k);
	unit_cli("port set ka2 acl none");
	CHECK(d_bc == d0, "the guest's DHCPDISCOVER to the broadcast address "
	      "refused");
	CHECK(d_far == d_bc + 1, "UDP 68 -> 67 to an Internet address passed "
	      "unjudged");
	CHECK(bound, "the ACK did not lease yi with its server (flags %#x, "
	      "server %#x)", a.flags, ntohl(a.server));
	CHECK(d_renew == d_far, "the renewal to the lease's server refused");
	CHECK(d_other == d_renew + 1, "a renewal to another server passed");
	CHECK(r_in68 == TC_ACT_OK, "the server's ACK to the guest refused: %d",
	      r_in68);
	CHECK(r_in67 != TC_ACT_OK && d_in67 == d_other + 1,
	      "UDP 67 -> 67 to the guest passed: %d", r_in67);
	CHECK(r_in != TC_ACT_OK && d_in == d_in67 + 1,
	      "UDP 68 -> 67 to the guest passed: %d", r_in);
	CHECK(d6 == d_in, "DHCPv6 to ff02::1:2 refused");
	CHECK(r6far, "DHCPv6 to a global address passed unjudged");
	CHECK(r6in, "DHCPv6 towards the guest: from a link-local server "
	      "refused, or from a global address passed");
}

/*
 * A reject's answer towards a guest goes into the guest's port as the
 * guest's own frame, from the refused packet's destination: a spoofcheck
 * port answers only what is addressed to its MAC and one of its live
 * addresses. Else any guest could make it speak as it liked: a frame
 * flooded to a port without a MAC yet pinned the MAC it was sent to (its
 * own guest then spoof-mac), SYNs to made-up addresses bound them by SAVI
 * (black-box t16, t17). And an answer sent in (KVB_MARK_ACL) never pins.
 */
static void t_acl_reject_answers_only_as_the_guest(struct fabric *fb)
{
	static const __u8 OTHER[6] = { 0x52, 0x54, 0x00, 0xac, 0x00, 0x77 };
	struct kvb_port p;
	struct frame f;
	__u32 mark = 0;
	__u64 r0, sp0;
	int r;

	CHECK(!unit_cli("acl add u18") &&
	      !unit_cli("acl rule add u18 ingress reject proto tcp dport 23") &&
	      !unit_cli("port set ka4 acl u18 spoofcheck on"),
	      "cannot set up ACL u18");
	r0 = drops(fb, ka4, KVB_DROP_ACL_REJECT);
	/* no MAC yet: nothing is its own to answer from */
	tcp4(&f, IP(192, 0, 2, 77), 5555, GUEST4, 23, 0x02, 1000, 0);
	r = to_guest(fb, ka4, &f);
	CHECK(r == TC_ACT_SHOT, "answered for a port without a MAC: %d", r);
	/* the answer, had it been sent in: it pins nothing, and is not
	 * judged again (no spoof drop counted on the port, no SAVI
	 * binding kept alive by another's packets) */
	tcp4_from_guest(&f, 23, IP(192, 0, 2, 77), 5555, 0x14, 0, 1001);
	sp0 = drops(fb, ka4, KVB_DROP_SPOOF_IP) + drops(fb, ka4, KVB_DROP_SPOOF_MAC);
	run_prog_mark(fb->prog_tc_ingress, ka4, &f, KVB_MARK_ACL, &mark);
	CHECK(!bpf_map_lookup_elem(fb->port_fd, &ka4, &p) &&
	      !(p.mac[0] | p.mac[1] | p.mac[2] | p.mac[3] | p.mac[4] | p.mac[5]),
	      "a reject's answer sent in pinned its MAC");
	CHECK(drops(fb, ka4, KVB_DROP_SPOOF_IP) + drops(fb, ka4, KVB_DROP_SPOOF_MAC) == sp0,
	      "a reject's answer sent in was judged by the guard");
	CHECK(!unit_cli("port set ka4 mac 52:54:00:ac:00:01 ip 10.0.0.11"),
	      "port set mac ip");
	tcp4(&f, IP(192, 0, 2, 77), 5555, GUEST4, 23, 0x02, 1000, 0);
	r = to_guest(fb, ka4, &f);
	CHECK(r == TC_ACT_REDIRECT, "its MAC and address: not answered (%d)", r);
	/* to another MAC (flooded) and to an address not its */
	memcpy(f.buf, OTHER, 6);
	r = to_guest(fb, ka4, &f);
	CHECK(r == TC_ACT_SHOT, "answered for another MAC: %d", r);
	tcp4(&f, IP(192, 0, 2, 77), 5555, IP(10, 0, 0, 99), 23, 0x02, 1000, 0);
	r = to_guest(fb, ka4, &f);
	CHECK(r == TC_ACT_SHOT, "answered for an address not the port's: %d", r);
	/* a port without addresses may send from any the guard lets it
	 * (one configured in the guest): answered for it */
	CHECK(!unit_cli("port set ka4 ip none"), "port set ip none");
	r = to_guest(fb, ka4, &f);
	CHECK(r == TC_ACT_REDIRECT,
	      "a port without addresses: not answered (%d)", r);
	CHECK(drops(fb, ka4, KVB_DROP_ACL_REJECT) == r0 + 5,
	      "acl-reject counted %llu, want %llu",
	      (unsigned long long)drops(fb, ka4, KVB_DROP_ACL_REJECT),
	      (unsigned long long)r0 + 5);
	unit_cli("port set ka4 acl none spoofcheck off ip none");
}

int acl_tests(struct fabric *fb)
{
	struct port_opts plain = { .naddrs = -1, .nacl = -1 };
	int nfail = 0;

	if (add_veth("ka1", &ka1) || add_veth("ka2", &ka2) ||
	    add_veth("ka3", &ka3) || add_veth("ka4", &ka4) ||
	    port_attach(fb, "unit", "ka1", 1, KVB_PORT_GUEST, &plain) ||
	    port_attach(fb, "unit", "ka2", 1, KVB_PORT_GUEST, &plain) ||
	    port_attach(fb, "unit", "ka3", 1, KVB_PORT_GUEST, &plain) ||
	    port_attach(fb, "unit", "ka4", 1, KVB_PORT_GUEST, &plain)) {
		printf("FAIL acl setup: cannot attach the ports\n");
		return 1;
	}
	/* the CLI's commands open the fabric themselves (and lock it) */
	flock(fb->lock_fd, LOCK_UN);
	opts.bpffs = fb->dir;
	RUN(t_acl_overlapping_cidrs);
	RUN(t_acl_port_ranges);
	RUN(t_acl_protocol_wildcards);
	RUN(t_acl_unconstrained_fields);
	RUN(t_acl_drop_wins_over_allow);
	RUN(t_acl_reply_needs_a_connection);
	RUN(t_acl_reject_sends_rst);
	RUN(t_acl_change_cuts_forbidden_connections);
	RUN(t_acl_default_change_cuts);
	RUN(t_acl_change_cuts_when_the_guest_sends_first);
	RUN(t_acl_entry_switch_never_writes_the_copy_in_force);
	RUN(t_acl_ipv6);
	RUN(t_acl_fragments);
	RUN(t_acl_fragment_note_checks_key);
	RUN(t_acl_none_is_as_before);
	RUN(t_acl_switched_judged_once);
	RUN(t_acl_set_ids_never_reused);
	RUN(t_acl_verdict_cache_checks_key);
	RUN(t_acl_tcp_states_and_timeouts);
	RUN(t_acl_tcp_window);
	RUN(t_acl_udp_stream);
	RUN(t_acl_flood_evicts_no_other_port);	/* ka3 leaves */
	RUN(t_acl_ct_max_per_network);
	RUN(t_acl_inbound_flood_spares_outbound);
	RUN(t_acl_full_share_evicts_opening);
	RUN(t_acl_icmp_error_to_the_quoted_sender);
	RUN(t_acl_foreign_connection_not_taken);
	RUN(t_acl_non_ip_gets_the_default);
	RUN(t_acl_icmp6_error_quoting_a_fragment);
	RUN(t_acl_icmp_query_kinds);
	RUN(t_acl_icmp_request_back_judged);
	RUN(t_acl_icmp_never_established);
	RUN(t_acl_foreign_dst_takes_no_side);
	RUN(t_acl_dhcp_only_what_the_link_needs);
	RUN(t_acl_reject_answers_only_as_the_guest);
	return nfail;
}
