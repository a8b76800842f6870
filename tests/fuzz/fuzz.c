// SPDX-License-Identifier: MIT
/*
 * kvbfuzz: BPF_PROG_RUN of the tc ingress and XDP programs on frames
 * mutated from a corpus of valid ones, against a fabric built with the
 * real CLI (build/fuzz/kvmbpf) in a private network namespace:
 *
 *   br  bridge    kb1 (spoofcheck), kb2 (spoofcheck, isolated), kb3, uplink kup
 *   in  internal  ki1 (spoofcheck, kb1's address), ki2 (spoofcheck, isolated)
 *   nt  nat       kn1 (spoofcheck), kn2 (spoofcheck, isolated), wan kw, forwards
 *   rt  routed    kr1, kr2 (isolated), IPv4 + IPv6, wan kw, peered with rq
 *   rq  routed    kq1, mtu 1400, no wan
 *
 * Invariants checked on every run (see check_*): no frame reaches a port
 * of another network or an isolated port it may not reach; a unicast
 * frame handed to a guest is for that guest (its MAC, or one the MAC
 * table puts behind its port); nothing leaves
 * a spoofcheck port with a source that is not the port's own; every drop
 * is counted under a named reason; rewritten frames' checksums verify; the
 * programs never fail. Redirect targets come from the fuzzer's build of
 * the datapath, which records every redirect helper call (observe.h).
 *
 * A failing input is saved as tests/fuzz/crashes/<hash>.case (the frames
 * since the last state reset, the last one the failing one, minimised to
 * that one frame when it fails alone too) with the seed and the invariant;
 * every saved case is replayed first, and --replay runs only cases.
 *
 *   kvbfuzz [--seed N] [--time S] [--iters N] [--replay FILE|DIR]
 *           [--crashes DIR]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unit.h"
#include "obs.h"

#define MAX_LEN 1600
#define RESET_EVERY 256		/* runs between state resets */
#define MAX_CORPUS 512
#define MAX_PORTS 64
#define MAX_ADDRS 256
#define CASES_PER_INV 3		/* cases saved per invariant and run */
#define KVB_OBS_STAGES 16	/* stage slots the fuzzer tracks */

/* ---- the fabric ------------------------------------------------------ */

struct pinfo {
	__u32 ifx;
	char name[IF_NAMESIZE];
	struct kvb_port p;
};

static struct fabric fabric, *fb = &fabric;
static int obs_fd;
static char dir[64], cli[512];
static struct pinfo ports[MAX_PORTS];
static int nports;
static struct kvb_net nets[16];
static int nnets;
static struct kvb_addr_key addrs[MAX_ADDRS];
static int naddrs;
static bool fabric_up;

static const __u8 WANMAC[6] = { 0x02, 0, 0, 0, 0, 0xfe };	/* 10.200.0.2 */
static const __u8 LANMAC[6] = { 0x02, 0, 0, 0, 0x0a, 0x01 };	/* 10.9.0.99 */
static const __u8 BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct guest {
	const char *dev, *net, *mac, *ip4, *ip6;
	bool spoof, iso;
};

static const struct guest guests[] = {
	{ "kb1", "br", "52:54:00:fb:01:01", "10.9.0.11", "fd09::11", true, false },
	{ "kb2", "br", "52:54:00:fb:01:02", "10.9.0.12", NULL, true, true },
	{ "kb3", "br", "52:54:00:fb:01:03", NULL, NULL, false, false },
	{ "ki1", "in", "52:54:00:fb:02:01", "10.9.0.11", "fd09::11", true, false },
	{ "ki2", "in", "52:54:00:fb:02:02", "10.9.0.22", NULL, true, true },
	{ "kn1", "nt", "52:54:00:fb:03:01", "10.1.0.11", NULL, true, false },
	{ "kn2", "nt", "52:54:00:fb:03:02", "10.1.0.12", NULL, true, true },
	{ "kr1", "rt", "52:54:00:fb:04:01", "10.2.0.11", "fd02::11", true, false },
	{ "kr2", "rt", "52:54:00:fb:04:02", "10.2.0.12", "fd02::12", true, true },
	{ "kq1", "rq", "52:54:00:fb:05:01", "10.3.0.11", "fd03::11", true, false },
};
#define NGUESTS (sizeof(guests) / sizeof(guests[0]))

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static struct pinfo *port_of(__u32 ifx)
{
	for (int i = 0; i < nports; i++)
		if (ports[i].ifx == ifx)
			return &ports[i];
	return NULL;
}

static struct pinfo *port_named(const char *name)
{
	for (int i = 0; i < nports; i++)
		if (!strcmp(ports[i].name, name))
			return &ports[i];
	return NULL;
}

static struct kvb_net *net_of(__u32 id)
{
	for (int i = 0; i < nnets; i++)
		if (nets[i].id == id)
			return &nets[i];
	return NULL;
}

static struct kvb_net *net_named(const char *name)
{
	for (int i = 0; i < nnets; i++)
		if (!strcmp(nets[i].name, name))
			return &nets[i];
	return NULL;
}

static struct kvb_net *net_of_gwhost(__u32 ifx)
{
	for (int i = 0; i < nnets; i++)
		if (nets[i].gw_host && nets[i].gw_host == ifx)
			return &nets[i];
	return NULL;
}

static void snap_addrs(void)
{
	struct kvb_addr_key k, next, *prev = NULL;

	naddrs = 0;
	while (!bpf_map_get_next_key(fb->addr_fd, prev, &next) &&
	       naddrs < MAX_ADDRS) {
		addrs[naddrs++] = next;
		k = next;
		prev = &k;
	}
}

static int snapshot(void)
{
	__u32 k, next, *prev = NULL;

	nports = nnets = 0;
	while (!bpf_map_get_next_key(fb->port_fd, prev, &next) &&
	       nports < MAX_PORTS) {
		struct pinfo *pi = &ports[nports];

		if (bpf_map_lookup_elem(fb->port_fd, &next, &pi->p))
			return -1;
		pi->ifx = next;
		if (!if_indextoname(next, pi->name))
			memcpy(pi->name, pi->p.name, sizeof(pi->name) - 1);
		nports++;
		k = next;
		prev = &k;
	}
	prev = NULL;
	while (!bpf_map_get_next_key(fb->net_fd, prev, &next) && nnets < 16) {
		if (bpf_map_lookup_elem(fb->net_fd, &next, &nets[nnets]))
			return -1;
		/* kvb_net is an array: an empty slot (id 0) is no network */
		if (nets[nnets].id)
			nnets++;
		k = next;
		prev = &k;
	}
	snap_addrs();
	return 0;
}

/* ---- frames ------------------------------------------------------------ */

static __u16 be16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = (__u8)(v >> 8);
	p[1] = (__u8)v;
}

/* Checksums of a frame: -1 not checkable, 0 right, 1 wrong. */
struct sums {
	int ip, l4, inner;
};

static int csum_at(__u8 *b, __u32 off, __u32 len, __u32 sum, __u32 coff,
		   int fix, int udp)
{
	__u16 c;

	if (fix) {
		put16(b + off + coff, 0);
		c = csum_fold16(sum16(b + off, len, sum));
		if (udp && !c)
			c = 0xffff;
		put16(b + off + coff, c);
		return 0;
	}
	if (udp && !be16(b + off + coff))
		return 0;	/* IPv4 UDP without a checksum */
	return csum_fold16(sum16(b + off, len, sum)) != 0;
}

static int ip4_hdr_sum(__u8 *b, __u32 l3, __u32 len, int fix)
{
	__u32 hl;

	if (l3 + 20 > len || (b[l3] >> 4) != 4 || (b[l3] & 0xf) < 5)
		return -1;
	hl = (b[l3] & 0xfu) * 4;
	if (l3 + hl > len)
		return -1;
	return csum_at(b, l3, hl, 0, 10, fix, 0);
}

static void sums(__u8 *b, __u32 len, int fix, struct sums *r)
{
	__u32 l3 = 14, l4, l4len, hl, sum;
	__u16 type;
	__u8 proto;

	r->ip = r->l4 = r->inner = -1;
	if (len < 14)
		return;
	type = be16(b + 12);
	if (type == 0x8100 || type == 0x88a8) {
		if (len < 18)
			return;
		type = be16(b + 16);
		l3 = 18;
	}
	if (type == ETH_P_IP) {
		__u32 tot;

		r->ip = ip4_hdr_sum(b, l3, len, fix);
		if (r->ip < 0)
			return;
		hl = (b[l3] & 0xfu) * 4;
		tot = be16(b + l3 + 2);
		if (tot < hl || l3 + tot > len || (be16(b + l3 + 6) & 0x3fff))
			return;
		proto = b[l3 + 9];
		l4 = l3 + hl;
		l4len = tot - hl;
		sum = sum16(b + l3 + 12, 8, 0) + proto + l4len;
		if (proto == IPPROTO_TCP && l4len >= 20)
			r->l4 = csum_at(b, l4, l4len, sum, 16, fix, 0);
		else if (proto == IPPROTO_UDP && l4len >= 8)
			r->l4 = csum_at(b, l4, l4len, sum, 6, fix, 1);
		else if (proto == IPPROTO_ICMP && l4len >= 8) {
			__u8 t = b[l4];

			if ((t == 3 || t == 11 || t == 12) && l4len >= 28)
				r->inner = ip4_hdr_sum(b, l4 + 8, l4 + l4len, fix);
			r->l4 = csum_at(b, l4, l4len, 0, 2, fix, 0);
		}
		return;
	}
	if (type != ETH_P_IPV6 || l3 + 40 > len || (b[l3] >> 4) != 6)
		return;
	{
		__u32 end = l3 + 40 + be16(b + l3 + 4), p = l3 + 40;
		__u8 nh = b[l3 + 6];

		if (end > len)
			return;
		for (int i = 0; i < 8; i++) {
			if (nh == 0 || nh == 60) {
				if (p + 8 > end)
					return;
				nh = b[p];
				p += (b[p + 1] + 1u) * 8;
			} else if (nh == 51) {
				if (p + 8 > end)
					return;
				nh = b[p];
				p += (b[p + 1] + 2u) * 4;
			} else {
				break;	/* routing, fragment, L4 */
			}
		}
		if (p > end)
			return;
		l4len = end - p;
		sum = sum16(b + l3 + 8, 32, 0) + nh + l4len;
		if (nh == IPPROTO_TCP && l4len >= 20)
			r->l4 = csum_at(b, p, l4len, sum, 16, fix, 0);
		else if (nh == IPPROTO_UDP && l4len >= 8)
			r->l4 = csum_at(b, p, l4len, sum, 6, fix, 0);
		else if (nh == IPPROTO_ICMPV6 && l4len >= 4)
			r->l4 = csum_at(b, p, l4len, sum, 2, fix, 0);
	}
}

static bool sums_ok(const struct sums *s)
{
	return s->ip != 1 && s->l4 != 1 && s->inner != 1;
}

static void fix_sums(struct frame *f)
{
	struct sums s;

	sums(f->buf, f->len, 1, &s);
}

static void ip4a(const char *s, __u8 *out)
{
	inet_pton(AF_INET, s, out);
}

static void ip6a(const char *s, __u8 *out)
{
	inet_pton(AF_INET6, s, out);
}

/* IPv4: the unit builder, then our addresses, TTL, and checksums */
static void mk4(struct frame *f, const __u8 *dmac, const __u8 *smac,
		const char *src, const char *dst, __u8 proto, __u8 ttl,
		const void *l4, __u32 l4len)
{
	frame_ip4(f, dmac, smac, inet_addr(src), proto, l4, l4len);
	ip4a(dst, f->buf + 14 + 16);
	f->buf[14 + 8] = ttl;
	fix_sums(f);
}

static void mk6(struct frame *f, const __u8 *dmac, const __u8 *smac,
		const char *src, const char *dst, __u8 nh, const void *pl,
		__u32 plen)
{
	__u8 s6[16];

	ip6a(src, s6);
	frame_ip6(f, dmac, smac, s6, nh, pl, plen);
	ip6a(dst, f->buf + 14 + 24);
	fix_sums(f);
}

static __u32 udp_hdr(__u8 *b, __u16 sp, __u16 dp, __u32 payload)
{
	memset(b, 0, 8 + payload);
	put16(b, sp);
	put16(b + 2, dp);
	put16(b + 4, (__u16)(8 + payload));
	for (__u32 i = 0; i < payload; i++)
		b[8 + i] = (__u8)i;
	return 8 + payload;
}

static __u32 tcp_hdr(__u8 *b, __u16 sp, __u16 dp, __u8 flags)
{
	memset(b, 0, 20);
	put16(b, sp);
	put16(b + 2, dp);
	b[7] = 1;	/* seq 1 */
	b[11] = flags & 0x10 ? 1 : 0;
	b[12] = 5 << 4;
	b[13] = flags;
	put16(b + 14, 64240);
	return 20;
}

static __u32 icmp_hdr(__u8 *b, __u8 type, __u8 code, __u16 id, __u32 payload)
{
	memset(b, 0, 8 + payload);
	b[0] = type;
	b[1] = code;
	put16(b + 4, id);
	put16(b + 6, 1);
	return 8 + payload;
}

static void mk_arp(struct frame *f, const __u8 *dmac, const __u8 *smac,
		   __u16 op, const __u8 *sha, const char *spa,
		   const __u8 *tha, const char *tpa)
{
	__u8 *a = f->buf + 14;

	frame_raw(f, dmac, smac, ETH_P_ARP, 28);
	put16(a, 1);
	put16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	ip4a(spa, a + 14);
	memcpy(a + 18, tha, 6);
	ip4a(tpa, a + 24);
}

/* DHCP: BOOTP op, message type, client MAC (a minimal valid message) */
static __u32 dhcp_msg(__u8 *b, __u16 sp, __u16 dp, __u8 op, __u8 type,
		      const __u8 *chaddr, const char *yiaddr)
{
	__u8 *d = b + 8;
	__u32 len = 240 + 4;

	memset(b, 0, 8 + len);
	put16(b, sp);
	put16(b + 2, dp);
	put16(b + 4, (__u16)(8 + len));
	d[0] = op;
	d[1] = 1;
	d[2] = 6;
	d[4] = 0x39;
	if (yiaddr)
		ip4a(yiaddr, d + 16);
	memcpy(d + 28, chaddr, 6);
	d[236] = 99;
	d[237] = 130;
	d[238] = 83;
	d[239] = 99;
	d[240] = 53;
	d[241] = 1;
	d[242] = type;
	d[243] = 255;
	return 8 + len;
}

struct centry {
	__u32 ifx;
	struct frame f;
};

static struct centry corpus[MAX_CORPUS];
static int ncorpus;
static struct centry seeds[16];	/* run after every reset: NAT flows */
static int nseeds;

static void add(struct centry *set, int *n, int max, __u32 ifx,
		const struct frame *f)
{
	if (*n >= max || !ifx)
		return;
	set[*n].ifx = ifx;
	set[*n].f = *f;
	(*n)++;
}

#define C(ifx, f) add(corpus, &ncorpus, MAX_CORPUS, ifx, f)

static void mac_ll(const __u8 *mac, char *out)
{
	sprintf(out, "fe80::%x:%xff:fe%02x:%x", (mac[0] ^ 2) << 8 | mac[1],
		mac[2], mac[3], mac[4] << 8 | mac[5]);
}

/* ND: NS/NA/RS with a link-layer option (and unknown options before it) */
static __u32 nd_msg(__u8 *b, __u8 type, const char *target, __u8 opt,
		    const __u8 *mac, int unknown)
{
	__u32 off = type == 133 ? 8 : 24;

	memset(b, 0, 128);
	b[0] = type;
	if (type == 136)
		b[4] = 0x60;	/* solicited, override */
	if (target)
		ip6a(target, b + 8);
	for (int i = 0; i < unknown; i++, off += 8) {
		b[off] = 200;	/* unknown option, 8 bytes */
		b[off + 1] = 1;
	}
	if (opt) {
		b[off] = opt;
		b[off + 1] = 1;
		memcpy(b + off + 2, mac, 6);
		off += 8;
	}
	return off;
}

static void guest_corpus(const struct guest *g, const struct pinfo *p,
			 const struct kvb_net *n, const struct guest *nb)
{
	__u8 m[6], nm[6], l4[1500], gm[6], sn[6] = { 0x33, 0x33, 0xff };
	bool gw = n->type == KVB_NET_NAT || n->type == KVB_NET_ROUTED;
	const char *src = g->ip4 ? g->ip4 : "10.9.0.33";
	char g4[INET_ADDRSTRLEN] = "10.9.0.1", ll[64], nll[64], g6[64] = "";
	struct frame f;
	__u32 len;

	memcpy(m, p->p.mac, 6);
	parse_mac(nb->mac, nm);
	memcpy(gm, gw ? n->uplink_mac : nm, 6);
	if (gw)
		inet_ntop(AF_INET, &n->gw_ip, g4, sizeof(g4));
	for (__u32 i = 0; i < n->nsubnets; i++)
		if (n->subnets[i].family == 4)
			inet_ntop(AF_INET, n->subnets[i].gw, g4, sizeof(g4));
		else
			inet_ntop(AF_INET6, n->subnets[i].gw, g6, sizeof(g6));
	mac_ll(m, ll);
	mac_ll(nm, nll);

	mk_arp(&f, BCAST, m, 1, m, src, (const __u8[6]){ 0 },
	       nb->ip4 ? nb->ip4 : "10.9.0.12");
	C(p->ifx, &f);
	mk_arp(&f, BCAST, m, 1, m, src, (const __u8[6]){ 0 }, g4);
	C(p->ifx, &f);
	mk_arp(&f, nm, m, 2, m, src, nm, nb->ip4 ? nb->ip4 : "10.9.0.12");
	C(p->ifx, &f);
	mk_arp(&f, BCAST, m, 1, m, "0.0.0.0", (const __u8[6]){ 0 }, src);
	C(p->ifx, &f);
	len = udp_hdr(l4, 1000, 2000, 32);
	mk4(&f, nm, m, src, nb->ip4 ? nb->ip4 : "10.9.0.12", IPPROTO_UDP, 64, l4, len);
	C(p->ifx, &f);
	mk4(&f, BCAST, m, src, "255.255.255.255", IPPROTO_UDP, 64, l4, len);
	C(p->ifx, &f);
	len = dhcp_msg(l4, 68, 67, 1, 1, m, NULL);
	mk4(&f, BCAST, m, "0.0.0.0", "255.255.255.255", IPPROTO_UDP, 64, l4, len);
	C(p->ifx, &f);
	len = dhcp_msg(l4, 6767, 68, 2, 2, nm, nb->ip4 ? nb->ip4 : "10.9.0.12");
	mk4(&f, BCAST, m, src, "255.255.255.255", IPPROTO_UDP, 64, l4, len);
	C(p->ifx, &f);
	len = tcp_hdr(l4, 41000, 443, 0x02);
	mk4(&f, gm, m, src, "198.51.100.9", IPPROTO_TCP, 64, l4, len);
	C(p->ifx, &f);
	mk4(&f, gm, m, src, "10.3.0.11", IPPROTO_TCP, 64, l4, len);
	C(p->ifx, &f);
	mk4(&f, gm, m, src, nb->ip4 ? nb->ip4 : "10.9.0.12", IPPROTO_TCP, 64, l4, len);
	C(p->ifx, &f);
	len = icmp_hdr(l4, 8, 0, 0x4242, 16);
	mk4(&f, gm, m, src, g4, IPPROTO_ICMP, 64, l4, len);
	C(p->ifx, &f);
	mk4(&f, gm, m, src, "198.51.100.9", IPPROTO_ICMP, 64, l4, len);
	C(p->ifx, &f);
	mk4(&f, nm, m, src, nb->ip4 ? nb->ip4 : "10.9.0.12", IPPROTO_ICMP, 64, l4, len);
	C(p->ifx, &f);
	/* ICMP redirect and an ICMP error quoting a packet, from the guest */
	len = icmp_hdr(l4, 5, 1, 0, 28);
	l4[8] = 0x45;
	put16(l4 + 10, 28);
	l4[17] = IPPROTO_UDP;
	ip4a(nb->ip4 ? nb->ip4 : "10.9.0.12", l4 + 20);
	ip4a("198.51.100.9", l4 + 24);
	mk4(&f, nm, m, g4, nb->ip4 ? nb->ip4 : "10.9.0.12", IPPROTO_ICMP, 64, l4, len);
	C(p->ifx, &f);
	l4[0] = 3;
	l4[1] = 3;
	mk4(&f, gm, m, src, "198.51.100.9", IPPROTO_ICMP, 64, l4, len);
	C(p->ifx, &f);
	/* fragments, options, TTL 1, a big DF packet into rq (mtu 1400) */
	len = udp_hdr(l4, 1000, 2000, 64);
	mk4(&f, gm, m, src, "198.51.100.9", IPPROTO_UDP, 64, l4, len);
	put16(f.buf + 20, 0x2000);
	fix_sums(&f);
	C(p->ifx, &f);
	put16(f.buf + 20, 0x0010);
	fix_sums(&f);
	C(p->ifx, &f);
	mk4(&f, gm, m, src, "198.51.100.9", IPPROTO_UDP, 1, l4, len);
	C(p->ifx, &f);
	len = udp_hdr(l4, 1000, 2000, 1430);
	mk4(&f, gm, m, src, "10.3.0.11", IPPROTO_UDP, 64, l4, len);
	put16(f.buf + 20, 0x4000);
	fix_sums(&f);
	C(p->ifx, &f);
	len = udp_hdr(l4, 1000, 2000, 20);
	{
		__u8 opt[4 + 28] = { 0x94, 4, 0, 0 };	/* router alert */

		memcpy(opt + 4, l4, len);
		mk4(&f, nm, m, src, nb->ip4 ? nb->ip4 : "10.9.0.12", IPPROTO_UDP,
		    64, opt, 4 + len);
		memmove(f.buf + 14 + 24, f.buf + 14 + 20, f.len - 34);
		memcpy(f.buf + 14 + 20, opt, 4);
		f.buf[14] = 0x46;
		put16(f.buf + 16, (__u16)(24 + len));
		f.len = 14 + 24 + len;
		fix_sums(&f);
		C(p->ifx, &f);
	}
	/* VLAN tagged */
	len = udp_hdr(l4, 1000, 2000, 16);
	mk4(&f, nm, m, src, nb->ip4 ? nb->ip4 : "10.9.0.12", IPPROTO_UDP, 64, l4, len);
	memmove(f.buf + 16, f.buf + 12, f.len - 12);
	put16(f.buf + 12, 0x8100);
	put16(f.buf + 14, 7);
	f.len += 4;
	C(p->ifx, &f);

	/* IPv6 */
	{
		const char *s6 = g->ip6 ? g->ip6 : ll;
		const char *d6 = nb->ip6 ? nb->ip6 : nll;
		__u8 ext[1500];

		len = udp_hdr(l4, 1000, 2000, 32);
		mk6(&f, nm, m, s6, d6, IPPROTO_UDP, l4, len);
		C(p->ifx, &f);
		mk6(&f, gm, m, s6, "fd20::99", IPPROTO_UDP, l4, len);
		C(p->ifx, &f);
		f.buf[14 + 7] = 1;	/* hop limit 1 */
		C(p->ifx, &f);
		len = tcp_hdr(l4, 41000, 22, 0x02);
		mk6(&f, gm, m, s6, "fd03::11", IPPROTO_TCP, l4, len);
		C(p->ifx, &f);
		len = icmp_hdr(l4, 128, 0, 0x77, 16);
		mk6(&f, gm, m, s6, "fd20::99", IPPROTO_ICMPV6, l4, len);
		C(p->ifx, &f);
		/* ND: NS for the gateway, DAD, NA, RS, RA, redirect */
		sn[3] = 0;
		sn[4] = 0;
		sn[5] = 1;
		len = nd_msg(l4, 135, g6[0] ? g6 : d6, 1, m, 0);
		mk6(&f, sn, m, s6, "ff02::1:ff00:1", IPPROTO_ICMPV6, l4, len);
		f.buf[14 + 7] = 255;
		fix_sums(&f);
		C(p->ifx, &f);
		len = nd_msg(l4, 135, d6, 1, m, 3);
		mk6(&f, nm, m, s6, d6, IPPROTO_ICMPV6, l4, len);
		f.buf[14 + 7] = 255;
		fix_sums(&f);
		C(p->ifx, &f);
		len = nd_msg(l4, 135, s6, 0, m, 0);
		mk6(&f, sn, m, "::", "ff02::1:ff00:11", IPPROTO_ICMPV6, l4, len);
		f.buf[14 + 7] = 255;
		fix_sums(&f);
		C(p->ifx, &f);
		len = nd_msg(l4, 136, s6, 2, m, 1);
		mk6(&f, (const __u8[6]){ 0x33, 0x33, 0, 0, 0, 1 }, m, s6,
		    "ff02::1", IPPROTO_ICMPV6, l4, len);
		f.buf[14 + 7] = 255;
		fix_sums(&f);
		C(p->ifx, &f);
		len = nd_msg(l4, 133, NULL, 1, m, 0);
		mk6(&f, (const __u8[6]){ 0x33, 0x33, 0, 0, 0, 2 }, m, ll,
		    "ff02::2", IPPROTO_ICMPV6, l4, len);
		f.buf[14 + 7] = 255;
		fix_sums(&f);
		C(p->ifx, &f);
		len = nd_msg(l4, 134, NULL, 1, m, 0);
		len += 8;
		mk6(&f, (const __u8[6]){ 0x33, 0x33, 0, 0, 0, 1 }, m, ll,
		    "ff02::1", IPPROTO_ICMPV6, l4, len + 8);
		f.buf[14 + 7] = 255;
		fix_sums(&f);
		C(p->ifx, &f);
		len = nd_msg(l4, 137, d6, 2, m, 0);
		mk6(&f, nm, m, ll, nll, IPPROTO_ICMPV6, l4, len + 16);
		f.buf[14 + 7] = 255;
		fix_sums(&f);
		C(p->ifx, &f);
		/* MLD report behind hop-by-hop (router alert) */
		memset(ext, 0, 36);
		ext[0] = IPPROTO_ICMPV6;
		ext[2] = 5;
		ext[3] = 2;
		ext[8] = 143;
		ext[15] = 1;
		ext[16] = 4;
		ip6a("ff02::fb", ext + 20);
		mk6(&f, (const __u8[6]){ 0x33, 0x33, 0, 0, 0, 0x16 }, m, ll,
		    "ff02::16", 0, ext, 36);
		C(p->ifx, &f);
		/* DHCPv6 solicit, and an advertise (server) from port 5470 */
		len = udp_hdr(l4, 546, 547, 16);
		l4[8] = 1;
		mk6(&f, (const __u8[6]){ 0x33, 0x33, 0, 1, 0, 2 }, m, ll,
		    "ff02::1:2", IPPROTO_UDP, l4, len);
		C(p->ifx, &f);
		len = udp_hdr(l4, 5470, 546, 16);
		l4[8] = 2;
		mk6(&f, nm, m, ll, nll, IPPROTO_UDP, l4, len);
		C(p->ifx, &f);
		/* extension headers: hop-by-hop + destination + UDP; a
		 * fragment; routing type 0 */
		len = udp_hdr(l4, 1000, 2000, 16);
		memset(ext, 0, 16);
		ext[0] = 60;
		ext[8] = IPPROTO_UDP;
		memcpy(ext + 16, l4, len);
		mk6(&f, nm, m, s6, d6, 0, ext, 16 + len);
		C(p->ifx, &f);
		memset(ext, 0, 8);
		ext[0] = IPPROTO_UDP;
		ext[3] = 1;	/* more fragments */
		ext[7] = 9;
		memcpy(ext + 8, l4, len);
		mk6(&f, gm, m, s6, "fd20::99", 44, ext, 8 + len);
		C(p->ifx, &f);
		memset(ext, 0, 24);
		ext[0] = IPPROTO_UDP;
		ext[1] = 2;
		ext[3] = 1;
		ip6a(d6, ext + 8);
		memcpy(ext + 24, l4, len);
		mk6(&f, nm, m, s6, d6, 43, ext, 24 + len);
		C(p->ifx, &f);
	}
}

/* NAT flows from kn1/kn2 whose replies the WAN corpus carries */
static void nat_seeds(void)
{
	struct pinfo *n1 = port_named("kn1"), *n2 = port_named("kn2");
	struct kvb_net *n = net_named("nt");
	__u8 l4[64];
	struct frame f;
	__u32 len;

	len = tcp_hdr(l4, 40000, 80, 0x02);
	mk4(&f, n->uplink_mac, n1->p.mac, "10.1.0.11", "198.51.100.7",
	    IPPROTO_TCP, 64, l4, len);
	add(seeds, &nseeds, 16, n1->ifx, &f);
	len = udp_hdr(l4, 40001, 53, 16);
	mk4(&f, n->uplink_mac, n1->p.mac, "10.1.0.11", "198.51.100.7",
	    IPPROTO_UDP, 64, l4, len);
	add(seeds, &nseeds, 16, n1->ifx, &f);
	len = icmp_hdr(l4, 8, 0, 0x1234, 16);
	mk4(&f, n->uplink_mac, n1->p.mac, "10.1.0.11", "198.51.100.7",
	    IPPROTO_ICMP, 64, l4, len);
	add(seeds, &nseeds, 16, n1->ifx, &f);
	len = udp_hdr(l4, 40002, 123, 16);
	mk4(&f, n->uplink_mac, n2->p.mac, "10.1.0.12", "198.51.100.8",
	    IPPROTO_UDP, 64, l4, len);
	add(seeds, &nseeds, 16, n2->ifx, &f);
}

/* Frames arriving on the WAN: replies of the seeded flows (from the
 * connection table), errors quoting them, forwards, routed networks. */
static void wan_corpus(void)
{
	struct pinfo *w = port_named("kw");
	struct kvb_ct_key k, next, *prev = NULL;
	__u8 wm[6], l4[256], rem[16], nat[16];
	struct frame f;
	__u32 len;

	if (dev_get_mac("kw", wm))
		return;
	while (!bpf_map_get_next_key(fb->ct_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (next.dir != 1)
			continue;
		inet_ntop(AF_INET, &next.saddr, (char *)rem, sizeof(rem));
		inet_ntop(AF_INET, &next.daddr, (char *)nat, sizeof(nat));
		if (next.proto == IPPROTO_TCP) {
			len = tcp_hdr(l4, ntohs(next.sport), ntohs(next.dport), 0x12);
		} else if (next.proto == IPPROTO_UDP) {
			len = udp_hdr(l4, ntohs(next.sport), ntohs(next.dport), 16);
		} else {
			len = icmp_hdr(l4, 0, 0, ntohs(next.dport), 16);
			if (!next.dport)
				put16(l4 + 4, ntohs(next.sport));
		}
		mk4(&f, wm, WANMAC, (char *)rem, (char *)nat, next.proto, 60,
		    l4, len);
		C(w->ifx, &f);
		if (next.proto == IPPROTO_ICMP)
			continue;
		/* an error about it: port unreachable / frag needed quoting
		 * the translated packet (as the remote saw it) */
		{
			__u8 q[256];
			__u32 ql = icmp_hdr(q, 3, next.proto == IPPROTO_TCP ? 4 : 3,
					    0, 0);

			q[6] = 0x05;	/* next-hop MTU 1280 */
			q[7] = 0x00;
			memset(q + 8, 0, 28);
			q[8] = 0x45;
			put16(q + 10, (__u16)(20 + len));
			q[16] = 64;
			q[17] = next.proto;
			memcpy(q + 20, &next.daddr, 4);
			memcpy(q + 24, &next.saddr, 4);
			memcpy(q + 28, l4, 8);
			put16(q + 28, ntohs(next.dport));
			put16(q + 30, ntohs(next.sport));
			{
				struct frame t;

				memset(&t, 0, sizeof(t));
				memcpy(t.buf + 14, q + 8, 20);
				t.len = 34;
				fix_sums(&t);
				memcpy(q + 8, t.buf + 14, 20);
			}
			ql = 8 + 28;
			mk4(&f, wm, WANMAC, "203.0.113.1", (char *)nat,
			    IPPROTO_ICMP, 60, q, ql);
			C(w->ifx, &f);
		}
	}
	len = tcp_hdr(l4, 50000, 8080, 0x02);
	mk4(&f, wm, WANMAC, "198.51.100.20", "10.200.0.1", IPPROTO_TCP, 60, l4, len);
	C(w->ifx, &f);
	len = udp_hdr(l4, 50000, 5353, 16);
	mk4(&f, wm, WANMAC, "198.51.100.20", "10.200.0.1", IPPROTO_UDP, 60, l4, len);
	C(w->ifx, &f);
	len = udp_hdr(l4, 50000, 7, 16);
	mk4(&f, wm, WANMAC, "198.51.100.20", "10.2.0.11", IPPROTO_UDP, 60, l4, len);
	C(w->ifx, &f);
	mk4(&f, wm, WANMAC, "198.51.100.20", "10.2.0.12", IPPROTO_UDP, 60, l4, len);
	C(w->ifx, &f);
	mk4(&f, wm, WANMAC, "198.51.100.20", "10.3.0.11", IPPROTO_UDP, 60, l4, len);
	C(w->ifx, &f);
	mk4(&f, wm, WANMAC, "198.51.100.20", "10.1.0.11", IPPROTO_UDP, 60, l4, len);
	C(w->ifx, &f);
	len = tcp_hdr(l4, 50000, 22, 0x02);
	mk6(&f, wm, WANMAC, "fd20::2", "fd02::11", IPPROTO_TCP, l4, len);
	C(w->ifx, &f);
	mk6(&f, wm, WANMAC, "fd20::2", "fd03::11", IPPROTO_TCP, l4, len);
	C(w->ifx, &f);
}

/* The host's side: the bridge's LAN, the gateways' host interfaces */
static void host_corpus(void)
{
	__u8 l4[600], hm[6];
	struct frame f;
	__u32 len;

	for (unsigned i = 0; i < NGUESTS; i++) {
		const struct guest *g = &guests[i];
		struct pinfo *p = port_named(g->dev), *from = NULL;
		struct kvb_net *n = net_of(p->p.net_id);
		const char *src = "10.9.0.99";
		char g4[INET_ADDRSTRLEN];

		if (!n)
			continue;
		if (n->type == KVB_NET_BRIDGE) {
			from = port_of(n->uplink);
			memcpy(hm, LANMAC, 6);
		} else if (n->uplink) {
			from = port_of(n->uplink);	/* gateway port */
			memcpy(hm, n->uplink_mac, 6);
			inet_ntop(AF_INET, &n->gw_ip, g4, sizeof(g4));
			for (__u32 s = 0; s < n->nsubnets; s++)
				if (n->subnets[s].family == 4)
					inet_ntop(AF_INET, n->subnets[s].gw, g4,
						  sizeof(g4));
			src = g4;
		}
		if (!from)
			continue;
		len = udp_hdr(l4, 53, 1000, 32);
		mk4(&f, p->p.mac, hm, src, g->ip4 ? g->ip4 : "10.9.0.33",
		    IPPROTO_UDP, 64, l4, len);
		C(from->ifx, &f);
		mk_arp(&f, BCAST, hm, 1, hm, src, (const __u8[6]){ 0 },
		       g->ip4 ? g->ip4 : "10.9.0.33");
		C(from->ifx, &f);
		len = dhcp_msg(l4, 67, 68, 2, 5, p->p.mac, "10.1.0.77");
		mk4(&f, p->p.mac, hm, src, "10.1.0.77", IPPROTO_UDP, 64, l4, len);
		C(from->ifx, &f);
	}
}

static void build_corpus(void)
{
	for (unsigned i = 0; i < NGUESTS; i++) {
		const struct guest *g = &guests[i], *nb = NULL;
		struct pinfo *p = port_named(g->dev);

		for (unsigned j = 0; j < NGUESTS; j++)
			if (j != i && !strcmp(guests[j].net, g->net)) {
				nb = &guests[j];
				break;
			}
		if (!nb)
			nb = &guests[(i + 1) % NGUESTS];
		if (p && net_of(p->p.net_id))
			guest_corpus(g, p, net_of(p->p.net_id), nb);
	}
	host_corpus();
	wan_corpus();
}

/* ---- state --------------------------------------------------------- */

struct hist {
	__u32 ifx;
	struct frame f;
};
static struct hist history[RESET_EVERY + 1];
static int nhist;

static void reset_state(void);

/* ---- one run and its invariants ------------------------------------------ */

struct viol {
	char inv[32];
	char detail[512];
};

struct counts {
	__u64 execs, tc_redirect, tc_ok, tc_shot, clones, xdp_drop, xdp_pass;
	__u64 drops_by[KVB_DROP_SLOTS], wan_to_guest, tc_refused, sums_checked, ids_checked;
	__u64 stage[KVB_OBS_STAGES];	/* tail calls into each stage slot */
	__u64 dst_checked;		/* unicast redirects to guests checked */
} cnt;

/*
 * tc ingress's stages, when the datapath is cut in tail-called programs
 * (a kvb_stages program array in the fabric): which slots the CLI filled,
 * and the drop slot of "no-stage", the reason the datapath counts when a
 * stage is missing. A fuzz run that only reached the entry would pass
 * vacuously: a failed tail call or a no-stage drop is a failure, and
 * every filled stage must be reached (coverage).
 */
static bool stage_filled[KVB_OBS_STAGES];
static int nstages_filled;
static int no_stage_slot = -1;

static struct frame out;
static struct kvb_obs obs;
static const struct kvb_obs obs_zero;

static int fail(struct viol *v, const char *inv, const char *fmt, ...)
{
	va_list ap;

	if (v->inv[0])
		return 1;
	snprintf(v->inv, sizeof(v->inv), "%s", inv);
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	return 1;
}

static bool peered(const struct kvb_net *a, __u32 b)
{
	return b < KVB_MAX_NETS && (a->peers[b / 64] >> (b % 64) & 1);
}

static bool addr_has(__u32 ifx, __u8 family, const __u8 *a)
{
	__u32 len = family == 4 ? 4 : 16;

	for (int i = 0; i < naddrs; i++)
		if (addrs[i].ifindex == ifx && addrs[i].family == family &&
		    !memcmp(addrs[i].addr, a, len))
			return true;
	return false;
}

static bool addr_any(__u32 ifx, __u8 family)
{
	for (int i = 0; i < naddrs; i++)
		if (addrs[i].ifindex == ifx && addrs[i].family == family)
			return true;
	return false;
}

static bool eui64_of(const __u8 *a, const __u8 *mac)
{
	return a[8] == (mac[0] ^ 2) && a[9] == mac[1] && a[10] == mac[2] &&
	       a[11] == 0xff && a[12] == 0xfe && a[13] == mac[3] &&
	       a[14] == mac[4] && a[15] == mac[5];
}

/* An IPv6 source the port may use (guard.h's documented rules). */
static bool ip6_own(const struct pinfo *p, const struct kvb_net *n,
		    const __u8 *a)
{
	static const __u8 ll[8] = { 0xfe, 0x80 };

	(void)n;
	if (addr_has(p->ifx, 6, a))
		return true;
	if (!memcmp(a, ll, 8) && eui64_of(a, p->p.mac))
		return true;
	/* SAVI binds an address at its first use: once the frame went
	 * through, it must be the port's binding (never another's) */
	snap_addrs();
	return addr_has(p->ifx, 6, a);
}

static bool ip4_own(const struct pinfo *p, const struct kvb_net *n,
		    const __u8 *a)
{
	if (addr_has(p->ifx, 4, a))
		return true;
	if (addr_any(p->ifx, 4))
		return false;
	if (n->type != KVB_NET_ROUTED)
		return true;
	for (__u32 i = 0; i < n->nsubnets; i++) {
		const struct kvb_subnet *s = &n->subnets[i];
		__u32 mask = s->prefixlen ? ~0U << (32 - s->prefixlen) : 0, x, y;

		if (s->family != 4)
			continue;
		memcpy(&x, a, 4);
		memcpy(&y, s->addr, 4);
		if (((ntohl(x) ^ ntohl(y)) & mask) == 0 && memcmp(a, s->gw, 4))
			return true;
	}
	return false;
}

/*
 * The frame a spoofcheck port sent, if anything of it left the port: its
 * MAC, its addresses (ARP, IPv4, IPv6, ND options and targets), and no
 * server or router messages.
 */
static int check_identity(const struct pinfo *p, const struct kvb_net *n,
			  const __u8 *b, __u32 len, struct viol *v)
{
	static const __u8 zero[16];
	__u32 l3 = 14;
	__u16 type;

	if (memcmp(b + 6, p->p.mac, 6))
		return fail(v, "spoof-mac", "source MAC %02x:%02x:%02x:%02x:%02x:%02x left %s",
			    b[6], b[7], b[8], b[9], b[10], b[11], p->name);
	type = be16(b + 12);
	if ((type == 0x8100 || type == 0x88a8) && len >= 18) {
		type = be16(b + 16);
		l3 = 18;
	}
	if (type == ETH_P_ARP && l3 + 28 <= len) {
		const __u8 *a = b + l3;

		if (memcmp(a + 8, p->p.mac, 6))
			return fail(v, "spoof-arp", "ARP sender MAC not %s's", p->name);
		if (memcmp(a + 14, zero, 4) && !ip4_own(p, n, a + 14))
			return fail(v, "spoof-arp", "ARP sender %u.%u.%u.%u left %s",
				    a[14], a[15], a[16], a[17], p->name);
	} else if (type == ETH_P_IP && l3 + 20 <= len) {
		const __u8 *ip = b + l3, *l4 = ip + (ip[0] & 0xf) * 4;
		bool l4ok = l4 + 8 <= b + len && !(be16(ip + 6) & 0x1fff);

		if (!memcmp(ip + 12, zero, 4)) {
			if (!(ip[9] == IPPROTO_UDP && l4ok && be16(l4 + 2) == 67))
				return fail(v, "spoof-ip", "source 0.0.0.0 (not DHCP) left %s", p->name);
		} else if (!ip4_own(p, n, ip + 12)) {
			return fail(v, "spoof-ip", "source %u.%u.%u.%u left %s",
				    ip[12], ip[13], ip[14], ip[15], p->name);
		}
		if (l4ok && ip[9] == IPPROTO_UDP && (be16(l4) == 67 ||
		    (be16(l4 + 2) == 68 && l4 + 9 <= b + len && l4[8] == 2)))
			return fail(v, "spoof-dhcp-server", "DHCP server message left %s", p->name);
		if (l4ok && ip[9] == IPPROTO_ICMP && l4[0] == 5)
			return fail(v, "spoof-redirect", "ICMP redirect left %s", p->name);
	} else if (type == ETH_P_IPV6 && l3 + 40 <= len) {
		const __u8 *ip = b + l3, *q = ip + 40, *end = b + len;
		__u8 nh = ip[6];

		/* what follows the payload is padding, not options */
		if (ip + 40 + be16(ip + 4) < end)
			end = ip + 40 + be16(ip + 4);

		if (!ip6_own(p, n, ip + 8) && memcmp(ip + 8, zero, 16))
			return fail(v, "spoof-ip6", "IPv6 source not %s's", p->name);
		for (int i = 0; i < 8 && (nh == 0 || nh == 60 || nh == 43) &&
				q + 8 <= end; i++) {
			nh = q[0];
			q += (q[1] + 1u) * 8;
		}
		if (nh == IPPROTO_ICMPV6 && q + 4 <= end) {
			__u8 t = q[0];
			__u32 ooff = t == 133 ? 8 : t == 134 ? 16 : 24;

			if (!memcmp(ip + 8, zero, 16) && t != 133 && t != 135 &&
			    t != 143)
				return fail(v, "spoof-ip6", "source :: (not RS/DAD/MLD) left %s", p->name);
			if (t == 134 || t == 137)
				return fail(v, "spoof-router-msg", "ICMPv6 type %u left %s", t, p->name);
			if (t == 136 && q + 24 <= end && !ip6_own(p, n, q + 8))
				return fail(v, "spoof-nd", "NA for a target not %s's", p->name);
			if (t >= 133 && t <= 136) {
				const __u8 *o = q + ooff;

				while (o + 2 <= end && o[1]) {
					if ((o[0] == 1 || o[0] == 2) && o + 8 <= end &&
					    memcmp(o + 2, p->p.mac, 6))
						return fail(v, "spoof-nd", "ND link-layer option (option at +%ld) not %s's MAC",
							    (long)(o - q), p->name);
					o += o[1] * 8u;
				}
			}
		}
		if (nh == IPPROTO_UDP && q + 9 <= end &&
		    (be16(q) == 547 || (be16(q + 2) == 546 &&
		     (q[8] == 2 || q[8] == 7 || q[8] == 10 || q[8] == 13))))
			return fail(v, "spoof-dhcp-server", "DHCPv6 server message left %s", p->name);
	}
	return 0;
}

/* Is a (family 4 or 6) a gateway address of one of the fabric's networks? */
static bool fabric_gw(__u8 family, const __u8 *a)
{
	for (int i = 0; i < nnets; i++)
		for (__u32 j = 0; j < nets[i].nsubnets; j++) {
			const struct kvb_subnet *s = &nets[i].subnets[j];

			if (s->family == family &&
			    !memcmp(s->gw, a, family == 4 ? 4 : 16))
				return true;
		}
	return false;
}

/*
 * f: an ICMP time exceeded or fragmentation needed back to the quote's
 * sender, out of the WAN device the packet came in on: the host's answer
 * to a remote from the address the quote was sent to (route.h:
 * nat_reply_ttl, nat_reply_too_big), or a routed packet's from a
 * network's gateway (route_wan_error; IPv6 too: time exceeded or packet
 * too big).
 */
static bool wan_answer(const struct frame *f)
{
	const __u8 *ip = f->buf + 14, *q;

	if (f->len >= 14 + 48 + 40 && be16(f->buf + 12) == ETH_P_IPV6) {
		q = ip + 48;
		if (ip[6] != IPPROTO_ICMPV6 || (ip[40] != 3 && ip[40] != 2) ||
		    ip[41] != 0)
			return false;
		return fabric_gw(6, ip + 8) && !memcmp(q + 8, ip + 24, 16);
	}
	if (f->len < 14 + 28 + 20 || be16(f->buf + 12) != ETH_P_IP ||
	    ip[0] != 0x45 || ip[9] != IPPROTO_ICMP)
		return false;
	q = ip + 28;
	if (!(ip[20] == 11 && ip[21] == 0) && !(ip[20] == 3 && ip[21] == 4))
		return false;
	return (!memcmp(q + 16, ip + 12, 4) || fabric_gw(4, ip + 12)) &&
	       !memcmp(q + 12, ip + 16, 4);
}

/* May a frame arriving on p go to ifindex t? */
static int check_target(const struct pinfo *p, const struct kvb_net *n,
			__u32 t, const char *how, struct viol *v)
{
	struct pinfo *tp = port_of(t);
	struct kvb_net *tn = tp ? net_of(tp->p.net_id) : net_of_gwhost(t);
	char tname[IF_NAMESIZE] = "?";

	if (tp)
		memcpy(tname, tp->name, sizeof(tname));
	else
		if_indextoname(t, tname);	/* a gateway's host side */
	if (!t || (!tp && !tn))
		return fail(v, "unknown-target", "%s from %s to ifindex %u (%s): not a port or gateway",
			    how, p->name, t, tname);
	if (t == p->ifx) {
		if (p->p.role == KVB_PORT_GUEST && n &&
		    (n->type == KVB_NET_NAT || n->type == KVB_NET_ROUTED) &&
		    !memcmp(out.buf + 6, n->uplink_mac, 6))
			return 0;	/* the gateway's answer */
		if (p->p.role == KVB_PORT_WAN && wan_answer(&out))
			return 0;	/* the host's answer to the remote */
		return fail(v, "reflect", "%s from %s back to itself, not a gateway answer",
			    how, p->name);
	}
	if (p->p.role == KVB_PORT_WAN) {
		if (!tn || !(tn->type == KVB_NET_NAT || tn->type == KVB_NET_ROUTED) ||
		    tn->wan != p->ifx || (tp && tp->p.role == KVB_PORT_WAN))
			return fail(v, "wan-leak", "%s from WAN %s into %s (network %s, wan %u)",
				    how, p->name, tname, tn ? tn->name : "?", tn ? tn->wan : 0);
		if (tp && tp->p.role == KVB_PORT_GUEST)
			cnt.wan_to_guest++;
		return 0;
	}
	if (!n)
		return 0;
	if (tp && tp->p.role == KVB_PORT_WAN) {
		if (n->type != KVB_NET_NAT && n->type != KVB_NET_ROUTED)
			return fail(v, "cross-network", "%s from %s (%s) to the WAN %s",
				    how, p->name, n->name, tname);
		return 0;
	}
	if (tn && tn->id != n->id && !peered(n, tn->id))
		return fail(v, "cross-network", "%s from %s (%s) to %s (%s)", how,
			    p->name, n->name, tname, tn->name);
	if (tp && tn && tn->id == n->id && p->p.role == KVB_PORT_GUEST &&
	    tp->p.role == KVB_PORT_GUEST &&
	    ((p->p.flags | tp->p.flags) & KVB_PORT_F_ISOLATED))
		return fail(v, "isolated", "%s from %s to %s (%s isolated)", how,
			    p->name, tname,
			    p->p.flags & KVB_PORT_F_ISOLATED ? p->name : tname);
	return 0;
}

static int flood_receivers(const struct pinfo *p, const struct kvb_net *n)
{
	int k = 0;

	for (__u32 i = 0; i < n->nports && i < KVB_MAX_NET_PORTS; i++) {
		struct pinfo *t = port_of(n->ports[i]);

		if (!t || t->ifx == p->ifx)
			continue;
		if (p->p.role != KVB_PORT_GUEST && t->ifx == n->uplink)
			continue;
		if (p->p.role == KVB_PORT_GUEST && t->ifx != n->uplink &&
		    t->p.role == KVB_PORT_GUEST &&
		    ((p->p.flags | t->p.flags) & KVB_PORT_F_ISOLATED))
			continue;
		k++;
	}
	return k;
}

/*
 * Named drops counted on every port: the switch stage counts a drop by
 * the receiver's ACL (acl_to_guest) on the receiving port, not on the
 * sender's.
 */
static __u64 named_drops_all(void)
{
	__u64 t = 0;

	for (int i = 0; i < nports; i++) {
		struct kvb_stats st = port_stats(fb, ports[i].ifx);

		for (int r = 0; r < KVB_DROP_SLOTS; r++)
			if (drop_named((unsigned)r))
				t += st.drop[r];
	}
	return t;
}

static const char *drops_diff(const struct kvb_stats *a,
			      const struct kvb_stats *b, int *named,
			      int *unnamed)
{
	static char buf[256];
	size_t o = 0;

	*named = *unnamed = 0;
	buf[0] = 0;
	for (int r = 0; r < KVB_DROP_SLOTS; r++) {
		if (b->drop[r] == a->drop[r])
			continue;
		if (drop_named((unsigned)r)) {
			(*named)++;
			cnt.drops_by[r]++;
		} else {
			(*unnamed)++;
		}
		if (o < sizeof(buf) - 32)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
					      o ? "," : "", drop_named((unsigned)r) ?
					      drop_name((unsigned)r) : "?");
	}
	return buf;
}

/* Run one frame through XDP and tc on port ifx; 1 if an invariant broke. */
static int exec1(__u32 ifx, const struct frame *in, struct viol *v)
{
	struct pinfo *p = port_of(ifx);
	struct kvb_net *n = p ? net_of(p->p.net_id) : NULL;
	struct kvb_stats s0, s1, s2;
	struct sums sin, sout;
	__u64 all1;
	__u32 zero = 0;
	int named, unnamed, xret, tret, err;
	const char *dd;

	memset(v, 0, sizeof(*v));
	if (!p)
		return 0;
	cnt.execs++;
	s0 = port_stats(fb, ifx);
	/* XDP sees guest frames first; it only passes or drops */
	{
		struct xdp_md ctx = { .data_end = in->len, .ingress_ifindex = ifx };
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->buf,
			    .data_size_in = in->len, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1);

		err = bpf_prog_test_run_opts(fb->prog_xdp, &o);
		xret = (int)o.retval;
	}
	if (err)
		return fail(v, "prog-error", "XDP test run on %s failed: %s",
			    p->name, strerror(errno));
	s1 = port_stats(fb, ifx);
	dd = drops_diff(&s0, &s1, &named, &unnamed);
	if (xret != XDP_PASS && xret != XDP_DROP)
		return fail(v, "xdp-verdict", "XDP verdict %d on %s", xret, p->name);
	if (unnamed)
		return fail(v, "unnamed-drop", "XDP counted a drop in an unnamed slot on %s", p->name);
	if (xret == XDP_DROP) {
		cnt.xdp_drop++;
		if (!named)
			return fail(v, "uncounted-drop", "XDP_DROP on %s with no reason counted", p->name);
	} else {
		cnt.xdp_pass++;
	}

	bpf_map_update_elem(obs_fd, &zero, &obs_zero, BPF_ANY);
	all1 = named_drops_all();
	{
		struct __sk_buff ctx = { .ifindex = ifx, .priority = KVB_OBS_TOKEN };
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->buf,
			    .data_size_in = in->len, .data_out = out.buf,
			    .data_size_out = sizeof(out.buf), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1);

		err = bpf_prog_test_run_opts(fb->prog_tc_ingress, &o);
		tret = (int)o.retval;
		out.len = o.data_size_out;
	}
	/* the kernel's test run refuses an IP frame shorter than its IP
	 * header (EINVAL) before the program runs: not the program's error,
	 * and such frames are covered by XDP above */
	if (err && errno == EINVAL && in->len < 14 + 40 &&
	    (be16(in->buf + 12) == ETH_P_IP || be16(in->buf + 12) == ETH_P_IPV6)) {
		cnt.tc_refused++;
		return 0;
	}
	if (err)
		return fail(v, "prog-error", "tc test run on %s failed: %s",
			    p->name, strerror(errno));
	s2 = port_stats(fb, ifx);
	bpf_map_lookup_elem(obs_fd, &zero, &obs);
	dd = drops_diff(&s1, &s2, &named, &unnamed);
	if (unnamed)
		return fail(v, "unnamed-drop", "tc counted a drop in an unnamed slot on %s (%s)",
			    p->name, dd);
	if (no_stage_slot >= 0 && s2.drop[no_stage_slot] != s1.drop[no_stage_slot])
		return fail(v, "no-stage", "tc dropped on %s for a missing stage (%s)",
			    p->name, dd);
	/* TC_ACT_UNSPEC: the host's traffic on a WAN device (or a bridge
	 * uplink that is one), handed on to the operator's filters */
	if (tret != TC_ACT_OK && tret != TC_ACT_SHOT && tret != TC_ACT_REDIRECT &&
	    !(tret == TC_ACT_UNSPEC && p->p.role != KVB_PORT_GUEST))
		return fail(v, "tc-verdict", "tc verdict %d on %s", tret, p->name);
	if (xret == XDP_DROP && tret != TC_ACT_SHOT &&
	    !((tret == TC_ACT_OK || tret == TC_ACT_UNSPEC) &&
	      p->p.role == KVB_PORT_UPLINK))
		return fail(v, "hooks-disagree", "XDP dropped on %s, tc verdict %d",
			    p->name, tret);

	/* where the frame went */
	{
		__u32 nev = obs.n < KVB_OBS_MAX ? obs.n : KVB_OBS_MAX, clones = 0;
		const struct kvb_obs_ev *last = NULL;
		bool from_spoofcheck = p->p.role == KVB_PORT_GUEST &&
				       (p->p.flags & KVB_PORT_F_SPOOFCHECK);
		bool left = false;

		for (__u32 i = 0; i < nev; i++) {
			const struct kvb_obs_ev *e = &obs.ev[i];

			if (e->kind == KVB_OBS_TAIL) {
				if (e->ifindex < KVB_OBS_STAGES)
					cnt.stage[e->ifindex]++;
			} else if (e->kind == KVB_OBS_TAIL_FAILED) {
				return fail(v, "no-stage", "tail call into stage %u failed on %s (%lld): the stage did not run",
					    e->ifindex, p->name, (long long)e->ret);
			} else if (e->kind == KVB_OBS_CLONE) {
				clones++;
				cnt.clones++;
				if (check_target(p, n, e->ifindex, "flood copy", v))
					return 1;
				if (e->ifindex != ifx)
					left = true;
			} else {
				last = e;
			}
		}
		if (tret == TC_ACT_REDIRECT) {
			cnt.tc_redirect++;
			if (!last || last->ret != TC_ACT_REDIRECT)
				return fail(v, "redirect-without-target",
					    "TC_ACT_REDIRECT on %s without a successful redirect call",
					    p->name);
			if (check_target(p, n, last->ifindex,
					 last->kind == KVB_OBS_NEIGH ? "redirect_neigh" :
					 "redirect", v))
				return 1;
			if (last->ifindex != ifx)
				left = true;
			/* a unicast frame handed to a guest is for that guest:
			 * its MAC, or one the MAC table puts behind its port
			 * (redirect_neigh's MAC is the kernel's, not seen here) */
			if (last->kind == KVB_OBS_REDIRECT && !(last->flags & BPF_F_INGRESS) &&
			    out.len >= 14 && !(out.buf[0] & 1)) {
				struct pinfo *tp = port_of(last->ifindex);

				if (tp && tp->p.role == KVB_PORT_GUEST)
					cnt.dst_checked++;
				if (tp && tp->p.role == KVB_PORT_GUEST &&
				    memcmp(out.buf, tp->p.mac, 6)) {
					struct kvb_fdb_key fk = { .net_id = tp->p.net_id };
					struct kvb_fdb_entry fe;

					memcpy(fk.mac, out.buf, 6);
					if (bpf_map_lookup_elem(fb->fdb_fd, &fk, &fe) ||
					    fe.ifindex != tp->ifx)
						return fail(v, "misdelivery", "unicast to %s with destination %02x:%02x:%02x:%02x:%02x:%02x, not its MAC nor learned there",
							    tp->name, out.buf[0], out.buf[1], out.buf[2], out.buf[3], out.buf[4], out.buf[5]);
				}
			}
		} else if (tret == TC_ACT_OK || tret == TC_ACT_UNSPEC) {
			cnt.tc_ok++;
			if (p->p.role == KVB_PORT_GUEST)
				left = true;	/* into the host through the tap */
		} else {
			cnt.tc_shot++;
			if (!named && !clones && n && flood_receivers(p, n) &&
			    named_drops_all() == all1)
				return fail(v, "uncounted-drop",
					    "TC_ACT_SHOT on %s: no reason counted, no copy sent",
					    p->name);
		}
		if (left && from_spoofcheck && n) {
			cnt.ids_checked++;
			if (check_identity(p, n, in->buf, in->len, v))
				return 1;
		}
		/* checksums of what the program rewrote */
		if (tret != TC_ACT_SHOT || clones) {
			sums((__u8 *)in->buf, in->len, 0, &sin);
			if (sums_ok(&sin) && (out.len != in->len ||
					      memcmp(out.buf, in->buf, in->len))) {
				sums(out.buf, out.len, 0, &sout);
				cnt.sums_checked++;
				if (!sums_ok(&sout))
					return fail(v, "checksum",
						    "rewritten frame from %s: IPv4 header %s, L4 %s, quoted IPv4 header %s",
						    p->name,
						    sout.ip == 1 ? "wrong" : "ok",
						    sout.l4 == 1 ? "wrong" : "ok",
						    sout.inner == 1 ? "wrong" : "ok");
			}
		}
	}
	/* a DHCP answer from the host's side binds addresses legitimately */
	if (p->p.role != KVB_PORT_GUEST)
		snap_addrs();
	return 0;
}

/* ---- mutation ---------------------------------------------------------- */

static __u64 rng_state;

static __u64 rnd(void)
{
	__u64 x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static __u32 rn(__u32 n)
{
	return n ? (__u32)(rnd() % n) : 0;
}

/* Offsets of fields worth mutating: lengths, IHL, next headers, options,
 * ports, types. */
static int fields(const struct frame *f, __u32 *off, __u8 *size)
{
	const __u8 *b = f->buf;
	__u32 l3 = 14, l4 = 0, n = 0;
	__u16 type;
	__u8 proto = 0;

#define F(o, s) do { if ((o) + (s) <= f->len && n < 48) { off[n] = (o); size[n++] = (s); } } while (0)
	F(12, 2);
	type = be16(b + 12);
	if (type == 0x8100) {
		F(14, 2);
		F(16, 2);
		l3 = 18;
		type = be16(b + 16);
	}
	if (type == ETH_P_IP && f->len >= l3 + 20) {
		F(l3, 1);
		F(l3 + 2, 2);
		F(l3 + 6, 2);
		F(l3 + 8, 1);
		F(l3 + 9, 1);
		F(l3 + 12, 4);
		F(l3 + 16, 4);
		F(l3 + 20, 1);
		F(l3 + 21, 1);
		proto = b[l3 + 9];
		l4 = l3 + (b[l3] & 0xfu) * 4;
	} else if (type == ETH_P_IPV6 && f->len >= l3 + 40) {
		__u32 q = l3 + 40;

		F(l3 + 4, 2);
		F(l3 + 6, 1);
		F(l3 + 7, 1);
		F(l3 + 8, 16);
		F(l3 + 24, 16);
		proto = b[l3 + 6];
		for (int i = 0; i < 6 && (proto == 0 || proto == 60 ||
					  proto == 43 || proto == 44) &&
				q + 8 <= f->len; i++) {
			F(q, 1);
			F(q + 1, 1);
			F(q + 2, 2);
			proto = b[q];
			q += proto == 44 ? 8 : (b[q + 1] + 1u) * 8;
		}
		l4 = q;
	} else if (type == ETH_P_ARP) {
		F(l3 + 4, 1);
		F(l3 + 6, 2);
		F(l3 + 8, 6);
		F(l3 + 14, 4);
		F(l3 + 24, 4);
	}
	if (l4 && l4 < f->len) {
		F(l4, 2);
		F(l4 + 2, 2);
		F(l4 + 4, 2);
		F(l4 + 8, 1);
		F(l4 + 12, 1);
		F(l4 + 13, 1);
		F(l4 + 0, 1);
		F(l4 + 1, 1);
		if (proto == IPPROTO_ICMPV6)
			for (__u32 o = l4 + 8; o + 2 <= f->len && o < l4 + 64; o += 8) {
				F(o, 1);
				F(o + 1, 1);
			}
		if (proto == IPPROTO_ICMP) {
			F(l4 + 8, 1);
			F(l4 + 17, 1);
			F(l4 + 20, 4);
			F(l4 + 28, 4);
		}
		if (proto == IPPROTO_UDP)
			for (__u32 o = l4 + 8 + 236; o < l4 + 8 + 244; o++)
				F(o, 1);
	}
#undef F
	return (int)n;
}

static const __u8 boundary[] = { 0, 1, 2, 4, 5, 6, 8, 0x0f, 0x10, 0x3f, 0x40,
				 0x7f, 0x80, 0xfe, 0xff };

static void set_field(__u8 *p, __u8 size)
{
	switch (rn(6)) {
	case 0:
		memset(p, 0, size);
		break;
	case 1:
		memset(p, 0xff, size);
		break;
	case 2:	/* +-1, big-endian */
		if (rn(2)) {
			for (int i = size - 1; i >= 0 && ++p[i] == 0; i--)
				;
		} else {
			for (int i = size - 1; i >= 0 && p[i]-- == 0; i--)
				;
		}
		break;
	case 3:
		p[rn(size)] = boundary[rn(sizeof(boundary))];
		break;
	case 4: {	/* another port's address or MAC bytes */
		const struct pinfo *o = &ports[rn((__u32)nports)];

		if (size == 6)
			memcpy(p, o->p.mac, 6);
		else if (naddrs) {
			const struct kvb_addr_key *a = &addrs[rn((__u32)naddrs)];

			memcpy(p, a->addr, size < 16 ? size : 16);
		}
		break;
	}
	default:
		for (int i = 0; i < size; i++)
			p[i] = (__u8)rnd();
	}
}

static void mutate(struct frame *f)
{
	int rounds = 1 + (int)rn(4);
	__u32 off[48];
	__u8 size[48];

	for (int r = 0; r < rounds; r++) {
		switch (rn(8)) {
		case 0:	/* bit flips */
			for (__u32 i = 0, k = 1 + rn(8); i < k && f->len; i++)
				f->buf[rn(f->len)] ^= (__u8)(1 << rn(8));
			break;
		case 1:	/* a byte to a boundary value */
			if (f->len)
				f->buf[rn(f->len)] = boundary[rn(sizeof(boundary))];
			break;
		case 2:	/* truncate */
			f->len = 14 + rn(f->len > 14 ? f->len - 14 : 1);
			break;
		case 3: {	/* extend */
			__u32 add = 1 + rn(rn(2) ? 16 : 400);

			if (f->len + add > MAX_LEN)
				add = MAX_LEN - f->len;
			for (__u32 i = 0; i < add; i++)
				f->buf[f->len + i] = rn(2) ? 0 : (__u8)rnd();
			f->len += add;
			break;
		}
		case 4:
		case 5:
		case 6: {	/* header-aware */
			int n = fields(f, off, size);

			if (n) {
				int i = (int)rn((__u32)n);

				set_field(f->buf + off[i], size[i]);
			}
			break;
		}
		default: {	/* splice: our head, another frame's tail */
			const struct frame *o = &corpus[rn((__u32)ncorpus)].f;
			__u32 cut = 14 + rn(f->len > 14 ? f->len - 14 : 1);
			__u32 from = rn(o->len), take = o->len - from;

			if (cut + take > MAX_LEN)
				take = MAX_LEN - cut;
			memcpy(f->buf + cut, o->buf + from, take);
			f->len = cut + take;
		}
		}
	}
	if (f->len < 14)
		f->len = 14;
	/* mostly keep checksums right, so that frames get deep and the
	 * checksum invariant applies */
	if (rn(10) < 7)
		fix_sums(f);
}

/* ---- cases ------------------------------------------------------------- */

/*
 * What differs between runs: the MACs of devices the CLI or the kernel
 * created (gateways, the uplink, the WAN device) and the ports NAT chose
 * for the seeded flows. A case names them; a replay puts this run's
 * values where the case has its run's.
 */
struct runval {
	char name[40];
	__u8 v[6];
	__u8 len;
};
static struct runval runvals[32];
static int nrunvals;

static void runval_add(const char *name, const void *v, __u8 len)
{
	if (nrunvals >= 32)
		return;
	snprintf(runvals[nrunvals].name, sizeof(runvals[0].name), "%s", name);
	memcpy(runvals[nrunvals].v, v, len);
	runvals[nrunvals++].len = len;
}

/* after reset_state(): the seeded flows exist */
static void runvals_collect(void)
{
	struct kvb_ct_key k, next, *prev = NULL;
	char name[40];
	__u8 mac[6];

	nrunvals = 0;
	for (int i = 0; i < nnets; i++) {
		snprintf(name, sizeof(name), "mac-net-%.16s", nets[i].name);
		runval_add(name, nets[i].uplink_mac, 6);
	}
	if (!dev_get_mac("kw", mac))
		runval_add("mac-dev-kw", mac, 6);
	while (!bpf_map_get_next_key(fb->ct_fd, prev, &next)) {
		struct kvb_ct c;

		k = next;
		prev = &k;
		if (next.dir != 1 || bpf_map_lookup_elem(fb->ct_fd, &k, &c))
			continue;
		/* the flow by its guest end and remote: its NAT port */
		snprintf(name, sizeof(name), "natport-%u-%08x-%04x-%08x-%04x",
			 next.proto, ntohl(c.addr), ntohs(c.port),
			 ntohl(next.saddr), ntohs(next.sport));
		runval_add(name, &next.dport, 2);
	}
}

static void replace_bytes(struct frame *f, const __u8 *from, const __u8 *to,
			  __u8 len)
{
	if (!memcmp(from, to, len))
		return;
	for (__u32 i = 0; i + len <= f->len; i++)
		if (!memcmp(f->buf + i, from, len)) {
			memcpy(f->buf + i, to, len);
			i += len - 1u;
		}
}

/* A NAT port is two bytes: replace it only where ports are (the WAN's
 * L4 destination or echo id, an ICMP error's quoted source port). */
static void replace_port(struct frame *f, const __u8 *from, const __u8 *to)
{
	__u8 *ip = f->buf + 14, *l4;
	__u32 hl;

	if (f->len < 34 || be16(f->buf + 12) != ETH_P_IP)
		return;
	hl = (ip[0] & 0xfu) * 4;
	l4 = ip + hl;
	if (l4 + 8 > f->buf + f->len)
		return;
	if ((ip[9] == IPPROTO_TCP || ip[9] == IPPROTO_UDP) && !memcmp(l4 + 2, from, 2))
		memcpy(l4 + 2, to, 2);
	if (ip[9] == IPPROTO_ICMP && l4[0] == 0 && !memcmp(l4 + 4, from, 2))
		memcpy(l4 + 4, to, 2);
	if (ip[9] == IPPROTO_ICMP && l4[0] != 0 && l4 + 8 + 20 + 2 <= f->buf + f->len) {
		__u8 *q = l4 + 8 + (l4[8] & 0xfu) * 4;

		if (q + 2 <= f->buf + f->len && !memcmp(q, from, 2))
			memcpy(q, to, 2);
	}
}

static char crashdir[512];
static __u64 seed;

static __u64 fnv(const void *p, size_t n, __u64 h)
{
	const __u8 *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static void write_frame(FILE *fp, __u32 ifx, const struct frame *f)
{
	struct pinfo *p = port_of(ifx);

	fprintf(fp, "frame %s ", p ? p->name : "?");
	for (__u32 i = 0; i < f->len; i++)
		fprintf(fp, "%02x", f->buf[i]);
	fprintf(fp, "\n");
}

static void save_case(const struct viol *v, const struct hist *h, int n,
		      __u64 iter, char *path, size_t plen)
{
	__u64 hash = fnv(v->inv, strlen(v->inv), 14695981039346656037ULL);
	FILE *fp;

	hash = fnv(h[n - 1].f.buf, h[n - 1].f.len, hash);
	mkdir(crashdir, 0755);
	snprintf(path, plen, "%s/%016llx.case", crashdir, (unsigned long long)hash);
	fp = fopen(path, "w");
	if (!fp) {
		snprintf(path, plen, "(not saved: %s)", strerror(errno));
		return;
	}
	fprintf(fp, "# kvbfuzz case: replay with make fuzz REPLAY=%s\n", path);
	fprintf(fp, "# invariant: %s\n# detail: %s\n", v->inv, v->detail);
	fprintf(fp, "# seed: %llu iteration: %llu\n", (unsigned long long)seed,
		(unsigned long long)iter);
	fprintf(fp, "# frames after a state reset, in order; the last one broke it\n");
	for (int i = 0; i < nrunvals; i++) {
		fprintf(fp, "value %s ", runvals[i].name);
		for (int j = 0; j < runvals[i].len; j++)
			fprintf(fp, "%02x", runvals[i].v[j]);
		fprintf(fp, "\n");
	}
	for (int i = 0; i < n; i++)
		write_frame(fp, h[i].ifx, &h[i].f);
	fclose(fp);
}

/* invariants a saved case still breaks: no more cases saved for them */
static char known[32][32];
static int nknown;

/* Replay one case file; 0 when every frame keeps every invariant. */
static int replay(const char *path, struct viol *v)
{
	FILE *fp = fopen(path, "r");
	char line[8192], name[IF_NAMESIZE + 1], hex[8000];
	struct runval then[32];
	int ret = 0, frames = 0, nthen = 0;

	memset(v, 0, sizeof(*v));
	if (!fp)
		return fail(v, "case-unreadable", "%s: %s", path, strerror(errno));
	reset_state();
	while (fgets(line, sizeof(line), fp)) {
		struct frame f = { .len = 0 };
		struct pinfo *p;

		if (nthen < 32 && sscanf(line, "value %39s %15s", then[nthen].name, hex) == 2) {
			then[nthen].len = (__u8)(strlen(hex) / 2);
			for (int i = 0; i < then[nthen].len && i < 6; i++) {
				unsigned x;

				sscanf(hex + 2 * i, "%2x", &x);
				then[nthen].v[i] = (__u8)x;
			}
			nthen++;
			continue;
		}
		if (line[0] == '#' || sscanf(line, "frame %16s %7999s", name, hex) != 2)
			continue;
		for (size_t i = 0; hex[2 * i] && hex[2 * i + 1] && i < MAX_LEN; i++) {
			unsigned x;

			sscanf(hex + 2 * i, "%2x", &x);
			f.buf[f.len++] = (__u8)x;
		}
		for (int i = 0; i < nthen; i++)
			for (int j = 0; j < nrunvals; j++) {
				if (strcmp(then[i].name, runvals[j].name))
					continue;
				if (then[i].len == 6)
					replace_bytes(&f, then[i].v, runvals[j].v, 6);
				else if (then[i].len == 2)
					replace_port(&f, then[i].v, runvals[j].v);
			}
		p = port_named(name);
		if (!p) {
			ret = fail(v, "case-unreadable", "%s: no port %s", path, name);
			break;
		}
		frames++;
		if (exec1(p->ifx, &f, v)) {
			ret = 1;
			break;
		}
	}
	fclose(fp);
	if (!ret && !frames)
		ret = fail(v, "case-unreadable", "%s: no frames", path);
	return ret;
}

static int replay_path(const char *path)
{
	struct stat st;
	int nfail = 0;

	if (stat(path, &st))
		return 0;
	if (S_ISDIR(st.st_mode)) {
		struct dirent **ents;
		int n = scandir(path, &ents, NULL, alphasort);

		for (int i = 0; i < n; i++) {
			size_t l = strlen(ents[i]->d_name);
			char p[1024];

			if (l > 5 && !strcmp(ents[i]->d_name + l - 5, ".case")) {
				snprintf(p, sizeof(p), "%s/%s", path, ents[i]->d_name);
				nfail += replay_path(p);
			}
			free(ents[i]);
		}
		if (n > 0)
			free(ents);
		return nfail;
	}
	{
		struct viol v;

		if (replay(path, &v)) {
			printf("FAIL fuzz-replay %s: %s: %s\n", path, v.inv, v.detail);
			if (getenv("KVB_FUZZ_DUMP")) {	/* what the program made of it */
				printf("# output %u bytes: ", out.len);
				for (__u32 i = 0; i < out.len; i++)
					printf("%02x", out.buf[i]);
				printf("\n");
			}
			if (nknown < 32)
				snprintf(known[nknown++], sizeof(known[0]), "%s", v.inv);
			return 1;
		}
		printf("PASS fuzz-replay %s\n", path);
	}
	return 0;
}

/* ---- set-up and state resets ----------------------------------------- */

static void reset_state(void)
{
	struct kvb_fdb_key fk, fn, *fp = NULL;
	struct kvb_ct_key ck, cn;
	struct kvb_addr_key ak, an, *ap = NULL;
	struct viol v;
	__u64 z = 0;

	/* learned MACs go, static ones stay (keys first: deleting while
	 * walking a hash loses the walk's place) */
	{
		static struct kvb_fdb_key del[4096];
		int nd = 0;

		while (!bpf_map_get_next_key(fb->fdb_fd, fp, &fn) && nd < 4096) {
			struct kvb_fdb_entry e;

			fk = fn;
			fp = &fk;
			if (!bpf_map_lookup_elem(fb->fdb_fd, &fk, &e) &&
			    !(e.flags & KVB_FDB_F_STATIC))
				del[nd++] = fk;
		}
		for (int i = 0; i < nd; i++)
			bpf_map_delete_elem(fb->fdb_fd, &del[i]);
	}
	while (!bpf_map_get_next_key(fb->ct_fd, NULL, &cn)) {
		ck = cn;
		if (bpf_map_delete_elem(fb->ct_fd, &ck))
			break;
	}
	for (int i = 0; i < nnets; i++)
		bpf_map_update_elem(fb->ctcnt_fd, &nets[i].id, &z, BPF_ANY);
	{
		static struct kvb_addr_key del[MAX_ADDRS];
		int nd = 0;

		while (!bpf_map_get_next_key(fb->addr_fd, ap, &an) &&
		       nd < MAX_ADDRS) {
			struct kvb_addr a;

			ak = an;
			ap = &ak;
			if (!bpf_map_lookup_elem(fb->addr_fd, &ak, &a) &&
			    !(a.flags & KVB_ADDR_F_STATIC))
				del[nd++] = ak;
		}
		for (int i = 0; i < nd; i++)
			bpf_map_delete_elem(fb->addr_fd, &del[i]);
	}
	snap_addrs();
	for (int i = 0; i < nseeds; i++)
		exec1(seeds[i].ifx, &seeds[i].f, &v);
	nhist = 0;
}

static int cli_run(const char *args)
{
	int ret = sh("%s --bpffs %s %s >/dev/null", cli, dir, args);

	if (ret)
		printf("FAIL fuzz setup: kvmbpf %s\n", args);
	return ret;
}

static void teardown(void)
{
	if (!fabric_up)
		return;
	fabric_up = false;
	fabric_close(fb);
	sh("%s --bpffs %s reset >/dev/null 2>&1", cli, dir);
	rmdir(dir);
}

static int setup(void)
{
	const char *devs[] = { "kb1", "kb2", "kb3", "kup", "ki1", "ki2", "kn1",
			       "kn2", "kr1", "kr2", "kq1", "kw" };
	char args[512];
	__u32 ifx;

	if (unshare(CLONE_NEWNET)) {
		printf("FAIL fuzz setup: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	if (system("ip link set lo up"))
		return -1;
	for (unsigned i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		if (add_veth(devs[i], &ifx)) {
			printf("FAIL fuzz setup: veth %s\n", devs[i]);
			return -1;
		}
		/* fixed MACs: a seed replays the same frames (the gateways'
		 * MACs, which the CLI's veths get from the kernel, still
		 * differ between runs: cases name them) */
		sh("ip link set %s address 02:00:00:00:%02x:01 && "
		   "ip link set %sp address 02:00:00:00:%02x:02", devs[i], i + 1,
		   devs[i], i + 1);
		/* nothing of their own on the wire while we fuzz */
		if (strcmp(devs[i], "kw"))
			sh("sysctl -qw net.ipv6.conf.%s.disable_ipv6=1 "
			   "net.ipv6.conf.%sp.disable_ipv6=1", devs[i], devs[i]);
	}
	if (sh("sysctl -qw net.ipv6.conf.kwp.disable_ipv6=1 && "
	       "ip addr add 10.200.0.1/24 dev kw && "
	       "ip -6 addr add fd20::1/64 dev kw nodad && "
	       "ip neigh add 10.200.0.2 lladdr 02:00:00:00:00:fe dev kw && "
	       "ip -6 neigh add fd20::2 lladdr 02:00:00:00:00:fe dev kw && "
	       "ip route add default via 10.200.0.2 && "
	       "ip -6 route add default via fd20::2")) {
		printf("FAIL fuzz setup: WAN device\n");
		return -1;
	}
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/kvbfuzz_%d", getpid());
	opts.bpffs = dir;
	fabric_up = true;
	if (cli_run("net add br type bridge uplink kup") ||
	    cli_run("net add in type internal") ||
	    cli_run("net add nt type nat subnet 10.1.0.0/24 wan kw dhcp off") ||
	    cli_run("net add rt type routed subnet 10.2.0.0/24 subnet fd02::/64 wan kw") ||
	    cli_run("net add rq type routed subnet 10.3.0.0/24 subnet fd03::/64 mtu 1400") ||
	    cli_run("net peer rt rq") ||
	    /* an overlay network: the fabric's VXLAN device is a port, so
	     * that its stage runs (frames run on it carry no tunnel key) */
	    cli_run("net add ov type internal vni 4242 vtep 10.200.0.9") ||
	    /* a security group on two guests: the ACL stage runs */
	    cli_run("acl add fz") ||
	    cli_run("acl rule add fz egress drop proto udp dport 9") ||
	    cli_run("acl rule add fz ingress allow proto tcp dport 80") ||
	    /* egress without a reject default: a reject's answer goes back
	     * out of the sender's own port, which the reflect invariant
	     * counts as a violation (rejects: unit tests and acl.sh) */
	    cli_run("net set br default-egress allow") ||
	    cli_run("net set nt default-egress allow"))
		return -1;
	for (unsigned i = 0; i < NGUESTS; i++) {
		const struct guest *g = &guests[i];
		int o = snprintf(args, sizeof(args), "attach %s net %s mac %s",
				 g->dev, g->net, g->mac);

		if (g->ip4)
			o += snprintf(args + o, sizeof(args) - (size_t)o, " ip %s", g->ip4);
		if (g->ip6)
			o += snprintf(args + o, sizeof(args) - (size_t)o, " ip %s", g->ip6);
		snprintf(args + o, sizeof(args) - (size_t)o,
			 " spoofcheck %s isolated %s xdp on", g->spoof ? "on" : "off",
			 g->iso ? "on" : "off");
		if (cli_run(args))
			return -1;
	}
	if (cli_run("port set kb1 acl fz") || cli_run("port set kn1 acl fz") ||
	    cli_run("forward add nt proto tcp port 8080 to 10.1.0.11:80") ||
	    cli_run("forward add nt proto udp port 5353 to 10.1.0.12:53"))
		return -1;
	if (fabric_open(fb, dir)) {
		printf("FAIL fuzz setup: cannot open the fabric in %s\n", dir);
		return -1;
	}
	for (unsigned r = 0; r < KVB_DROP_SLOTS; r++)
		if (drop_named(r) && !strcmp(drop_name(r), "no-stage"))
			no_stage_slot = (int)r;
	snprintf(args, sizeof(args), "%s/kvb_stages", dir);
	{
		int sfd = bpf_obj_get(args);

		for (__u32 i = 0; sfd >= 0 && i < KVB_OBS_STAGES; i++) {
			__u32 id = 0;

			/* tc egress tail-calls the ACL's ingress stage; the
			 * fuzzer drives tc ingress and XDP only */
			if (i == KVB_STAGE_ACL_IN)
				continue;
			if (!bpf_map_lookup_elem(sfd, &i, &id) && id) {
				stage_filled[i] = true;
				nstages_filled++;
			}
		}
		if (sfd >= 0) {
			close(sfd);
			if (!nstages_filled) {
				printf("FAIL fuzz setup: %s has no stage in it\n", args);
				return -1;
			}
		}
	}
	snprintf(args, sizeof(args), "%s/%s", dir, KVB_MAP_OBS);
	obs_fd = bpf_obj_get(args);
	if (obs_fd < 0 || snapshot()) {
		printf("FAIL fuzz setup: no observation map (%s): is this the fuzz build?\n", args);
		return -1;
	}
	/* the host knows the guests' MACs: routing delivers straight to
	 * their ports (else through the gateway's host side) */
	for (unsigned i = 0; i < NGUESTS; i++) {
		struct pinfo *p = port_named(guests[i].dev);
		struct kvb_net *n = p ? net_of(p->p.net_id) : NULL;
		char host[IF_NAMESIZE];

		if (!n || !n->gw_host || !if_indextoname(n->gw_host, host))
			continue;
		if (guests[i].ip4)
			sh("ip neigh replace %s lladdr %s dev %s", guests[i].ip4,
			   guests[i].mac, host);
		if (guests[i].ip6)
			sh("ip -6 neigh replace %s lladdr %s dev %s", guests[i].ip6,
			   guests[i].mac, host);
	}
	if (!port_named("kw") || !port_named("kn1") || !net_named("nt")) {
		printf("FAIL fuzz setup: the networks are not as built\n");
		return -1;
	}
	return 0;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "time", required_argument, NULL, 't' },
		{ "iters", required_argument, NULL, 'i' },
		{ "replay", required_argument, NULL, 'r' },
		{ "crashes", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *replay_only = NULL;
	double limit = 60;
	__u64 iters = 0, it, failures = 0;
	struct timespec t0, t1;
	char self[4096], root[400];
	struct {
		char inv[32];
		__u64 n;
		char first[1300];
	} invs[32];
	int ninv = 0, c, nfail = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!getenv("KVMBPF_DEBUG"))
		libbpf_set_print(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	seed = (__u64)t0.tv_nsec ^ ((__u64)getpid() << 32);
	/* build/kvbfuzz: the CLI is build/fuzz/kvmbpf, cases in tests/fuzz */
	if (!realpath(argv[0], self)) {
		printf("FAIL fuzz setup: cannot find myself\n");
		return 1;
	}
	snprintf(root, sizeof(root), "%.399s", dirname(self));
	snprintf(cli, sizeof(cli), "%s/fuzz/kvmbpf", root);
	snprintf(crashdir, sizeof(crashdir), "%s/../tests/fuzz/crashes", root);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			limit = atof(optarg);
			break;
		case 'i':
			iters = strtoull(optarg, NULL, 0);
			break;
		case 'r':
			replay_only = optarg;
			break;
		case 'c':
			snprintf(crashdir, sizeof(crashdir), "%s", optarg);
			break;
		default:
			fprintf(stderr, "usage: kvbfuzz [--seed N] [--time S] [--iters N] "
				"[--replay FILE|DIR] [--crashes DIR]\n");
			return 2;
		}
	}
	if (!seed)
		seed = 1;
	rng_state = seed;
	if (setup()) {
		teardown();
		return 1;
	}
	atexit(teardown);
	nat_seeds();
	reset_state();
	runvals_collect();
	build_corpus();
	printf("fuzz: seed %llu, %d corpus frames, %d ports, %d networks\n",
	       (unsigned long long)seed, ncorpus, nports, nnets);

	if (getenv("KVB_FUZZ_CORPUS")) {	/* the corpus, as case lines */
		for (int i = 0; i < ncorpus; i++)
			write_frame(stdout, corpus[i].ifx, &corpus[i].f);
		return 0;
	}
	if (replay_only) {
		nfail = replay_path(replay_only);
		return nfail ? 1 : 0;
	}
	nfail += replay_path(crashdir);

	/* every corpus frame as it is, then mutants */
	reset_state();
	for (it = 0;; it++) {
		struct viol v;
		struct hist *h;
		double el;

		if ((it & 255) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			el = (double)(t1.tv_sec - t0.tv_sec) +
			     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
			if ((iters && it >= iters) || (!iters && el >= limit))
				break;
		}
		if (iters && it >= iters)
			break;
		if (nhist >= RESET_EVERY)
			reset_state();
		h = &history[nhist++];
		if (it < (__u64)ncorpus) {
			*h = (struct hist){ corpus[it].ifx, corpus[it].f };
		} else {
			const struct centry *ce = &corpus[rn((__u32)ncorpus)];

			h->f = ce->f;
			/* mostly the port it belongs to, sometimes any */
			h->ifx = rn(8) ? ce->ifx : ports[rn((__u32)nports)].ifx;
			mutate(&h->f);
		}
		if (!exec1(h->ifx, &h->f, &v))
			continue;
		failures++;
		{
			int k;
			char path[700];
			struct hist last = *h;
			struct viol v2;

			for (k = 0; k < ninv && strcmp(invs[k].inv, v.inv); k++)
				;
			if (k == ninv && ninv < 32) {
				snprintf(invs[ninv].inv, sizeof(invs[ninv].inv), "%s", v.inv);
				invs[ninv].n = 0;
				invs[ninv].first[0] = 0;
				ninv++;
			}
			bool old = false;

			for (int j = 0; j < nknown; j++)
				old |= !strcmp(known[j], v.inv);
			if (k < 32 && invs[k].n++ < CASES_PER_INV && !old) {
				int nh = nhist;
				static struct hist saved[RESET_EVERY + 1];

				memcpy(saved, history, sizeof(history[0]) * (size_t)nh);
				/* minimise: the frame alone, after a reset */
				reset_state();
				if (exec1(last.ifx, &last.f, &v2) &&
				    !strcmp(v2.inv, v.inv))
					save_case(&v2, &last, 1, it, path, sizeof(path));
				else
					save_case(&v, saved, nh, it, path, sizeof(path));
				if (!invs[k].first[0])
					snprintf(invs[k].first, sizeof(invs[k].first),
						 "%s (saved %s)", v.detail, path);
				reset_state();
			} else if (k < 32 && !invs[k].first[0]) {
				snprintf(invs[k].first, sizeof(invs[k].first),
					 "%s (not saved: a saved case already breaks it)",
					 v.detail);
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	{
		double el = (double)(t1.tv_sec - t0.tv_sec) +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		int reasons = 0;

		for (int r = 0; r < KVB_DROP_SLOTS; r++)
			reasons += cnt.drops_by[r] != 0;
		printf("fuzz: %llu runs in %.1f s (%.0f/s), seed %llu: tc redirect %llu, "
		       "ok %llu, shot %llu, flood copies %llu, XDP drop %llu pass %llu, "
		       "%d drop reasons seen, WAN to guest %llu, short IP frames tc's test run refused %llu\n",
		       (unsigned long long)cnt.execs, el, (double)cnt.execs / el,
		       (unsigned long long)seed, (unsigned long long)cnt.tc_redirect,
		       (unsigned long long)cnt.tc_ok, (unsigned long long)cnt.tc_shot,
		       (unsigned long long)cnt.clones, (unsigned long long)cnt.xdp_drop,
		       (unsigned long long)cnt.xdp_pass, reasons,
		       (unsigned long long)cnt.wan_to_guest,
		       (unsigned long long)cnt.tc_refused);
		printf("fuzz: %llu rewritten frames' checksums, %llu spoofcheck sources and %llu guests' unicast destinations checked\n",
		       (unsigned long long)cnt.sums_checked,
		       (unsigned long long)cnt.ids_checked,
		       (unsigned long long)cnt.dst_checked);
		if (nstages_filled) {
			int missed = 0;

			printf("fuzz: tail calls into tc ingress's stages:");
			for (int i = 0; i < KVB_OBS_STAGES; i++) {
				if (!stage_filled[i])
					continue;
				printf(" %d:%llu", i, (unsigned long long)cnt.stage[i]);
				missed += !cnt.stage[i];
			}
			printf("\n");
			if (missed) {
				printf("FAIL fuzz-stages: %d of tc ingress's %d stages never ran\n",
				       missed, nstages_filled);
				nfail++;
			} else {
				printf("PASS fuzz-stages: every one of tc ingress's %d stages ran\n",
				       nstages_filled);
			}
		}
		/* a fuzzer that never got anywhere proves nothing */
		if (!cnt.tc_redirect || !cnt.clones || !cnt.xdp_drop ||
		    !cnt.wan_to_guest || reasons < 10 || !cnt.sums_checked ||
		    !cnt.ids_checked || !cnt.dst_checked) {
			printf("FAIL fuzz-coverage: the corpus did not reach redirects, "
			       "floods, XDP drops, NAT replies, rewrites, spoofcheck "
			       "sources and 10 drop reasons\n");
			nfail++;
		} else {
			printf("PASS fuzz-coverage (%d drop reasons reached)\n", reasons);
		}
		for (int k = 0; k < ninv; k++)
			printf("FAIL fuzz %s: %llu inputs (seed %llu), first: %s\n",
			       invs[k].inv, (unsigned long long)invs[k].n,
			       (unsigned long long)seed, invs[k].first);
		if (!failures)
			printf("PASS fuzz: %llu runs of tc and XDP, every invariant held (seed %llu)\n",
			       (unsigned long long)cnt.execs, (unsigned long long)seed);
	}
	return nfail || failures ? 1 : 0;
}
