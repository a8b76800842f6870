// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unit.h"

int unit_failed;
__u32 unit_uplink;
__u8 unit_upmac[6];

int add_veth(const char *name, __u32 *ifindex)
{
	char cmd[128];

	/* veth, not dummy: the test kernel may lack the dummy module */
	snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name %sp && "
		 "ip link set %s up && ip link set %sp up", name, name, name,
		 name);
	if (system(cmd))
		return -1;
	*ifindex = if_nametoindex(name);
	return *ifindex ? 0 : -1;
}

int add_tap(const char *name, __u32 *ifindex)
{
	char cmd[160];

	/* a guest's tap as QEMU has it: virtio-net headers on */
	snprintf(cmd, sizeof(cmd), "ip tuntap add dev %s mode tap vnet_hdr && "
		 "ip link set %s up", name, name);
	if (system(cmd))
		return -1;
	*ifindex = if_nametoindex(name);
	return *ifindex ? 0 : -1;
}

void frame_raw(struct frame *f, const __u8 *dst, const __u8 *src,
	       __u16 proto, __u32 l3_bytes)
{
	struct ethhdr *eth = (struct ethhdr *)f->buf;

	memset(f->buf, 0, sizeof(f->buf));
	memcpy(eth->h_dest, dst, 6);
	memcpy(eth->h_source, src, 6);
	eth->h_proto = htons(proto);
	f->len = (__u32)sizeof(*eth) + l3_bytes;
}

void frame_udp4(struct frame *f, const __u8 *dst, const __u8 *src,
		__u32 payload)
{
	struct iphdr *ip = (struct iphdr *)(f->buf + ETH_HLEN);
	struct udphdr *uh = (struct udphdr *)(ip + 1);
	__u32 l3 = (__u32)(sizeof(*ip) + sizeof(*uh)) + payload;

	frame_raw(f, dst, src, ETH_P_IP, l3);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((__u16)l3);
	ip->saddr = htonl(0x0a000001);
	ip->daddr = htonl(0x0a000002);
	uh->source = htons(1000);
	uh->dest = htons(2000);
	uh->len = htons((__u16)(sizeof(*uh) + payload));
}

void frame_ip4_to(struct frame *f, const __u8 *dst, const __u8 *src,
		  __u32 saddr_be, __u32 daddr_be, __u8 ttl, __u8 proto,
		  const void *l4, __u32 l4_len)
{
	struct iphdr *ip = (struct iphdr *)(f->buf + ETH_HLEN);

	frame_raw(f, dst, src, ETH_P_IP, (__u32)sizeof(*ip) + l4_len);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = ttl;
	ip->protocol = proto;
	ip->tot_len = htons((__u16)(sizeof(*ip) + l4_len));
	ip->saddr = saddr_be;
	ip->daddr = daddr_be;
	memcpy(ip + 1, l4, l4_len);
}

void frame_ip4(struct frame *f, const __u8 *dst, const __u8 *src,
	       __u32 saddr_be, __u8 proto, const void *l4, __u32 l4_len)
{
	frame_ip4_to(f, dst, src, saddr_be, htonl(0x0a0000fe), 64, proto, l4,
		     l4_len);
}

void frame_ip6_to(struct frame *f, const __u8 *dst, const __u8 *src,
		  const __u8 *saddr, const __u8 *daddr, __u8 hops,
		  __u8 nexthdr, const void *payload, __u32 plen)
{
	__u8 *ip6 = f->buf + ETH_HLEN;

	frame_raw(f, dst, src, ETH_P_IPV6, 40 + plen);
	ip6[0] = 0x60;
	ip6[4] = (__u8)(plen >> 8);
	ip6[5] = (__u8)plen;
	ip6[6] = nexthdr;
	ip6[7] = hops;
	memcpy(ip6 + 8, saddr, 16);
	memcpy(ip6 + 24, daddr, 16);
	memcpy(ip6 + 40, payload, plen);
}

void frame_ip6(struct frame *f, const __u8 *dst, const __u8 *src,
	       const __u8 *saddr, __u8 nexthdr, const void *payload,
	       __u32 plen)
{
	static const __u8 fd00_fe[16] = { 0xfd, [15] = 0xfe };

	frame_ip6_to(f, dst, src, saddr, fd00_fe, 255, nexthdr, payload, plen);
}

/*
 * Fill in an IPv4 frame's header and TCP/UDP/ICMP checksums, as a
 * sending stack would.
 */
void frame_csum4(struct frame *f)
{
	__u8 *ip = f->buf + 14;
	__u32 ihl = (ip[0] & 0xf) * 4u;
	__u8 *l4 = ip + ihl;
	int off = ip[9] == IPPROTO_TCP ? 16 : ip[9] == IPPROTO_UDP ? 6 : 2;
	__u16 c;

	ip[10] = ip[11] = 0;
	c = ip_csum_check(f->buf);
	ip[10] = (__u8)(c >> 8), ip[11] = (__u8)c;
	l4[off] = l4[off + 1] = 0;
	c = l4_csum_check(f->buf);
	l4[off] = (__u8)(c >> 8), l4[off + 1] = (__u8)c;
}

/* BPF_PROG_RUN of program prog on f with its context ctx; when out is
 * given, the frame as the program left it in *out */
static int run_prog(int prog, void *ctx, __u32 ctx_size,
		    const struct frame *f, struct frame *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->buf,
		    .data_size_in = f->len, .ctx_in = ctx,
		    .ctx_size_in = ctx_size, .repeat = 1);

	if (out) {
		o.data_out = out->buf;
		o.data_size_out = sizeof(out->buf);
	}
	if (bpf_prog_test_run_opts(prog, &o)) {
		if (getenv("KVB_UNIT_DEBUG"))
			fprintf(stderr, "test_run len %u: %s\n", f->len,
				strerror(errno));
		return -1;
	}
	if (out)
		out->len = o.data_size_out;
	return (int)o.retval;
}

/* an skb program on f arriving on ifindex; a GSO super-frame (two
 * segments) whose segments carry gso_size bytes when gso_size is not 0 */
static int run_skb(int prog, __u32 ifindex, const struct frame *f,
		   __u32 gso_size, struct frame *out)
{
	struct __sk_buff ctx = { .ifindex = ifindex, .gso_size = gso_size,
				 .gso_segs = gso_size ? 2 : 0 };

	return run_prog(prog, &ctx, sizeof(ctx), f, out);
}

/* an XDP program on f arriving on ifindex */
static int run_xdp_ctx(int prog, __u32 ifindex, const struct frame *f,
		       struct frame *out)
{
	struct xdp_md ctx = { .data_end = f->len, .ingress_ifindex = ifindex };

	return run_prog(prog, &ctx, sizeof(ctx), f, out);
}

__u32 sum16(const __u8 *p, __u32 len, __u32 sum)
{
	for (__u32 i = 0; i + 1 < len; i += 2)
		sum += (__u32)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (__u32)(p[len - 1] << 8);
	return sum;
}

__u16 csum_fold16(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Checksums over a frame as a receiver would verify them: 0 when right. */
__u16 ip_csum_check(const __u8 *f)
{
	return csum_fold16(sum16(f + 14, (f[14] & 0xf) * 4u, 0));
}

__u16 l4_csum_check(const __u8 *f)
{
	const __u8 *ip = f + 14;
	__u32 ihl = (ip[0] & 0xf) * 4u, tot = (__u32)(ip[2] << 8 | ip[3]);
	__u32 len = tot - ihl, sum = 0;

	if (ip[9] != IPPROTO_ICMP) {
		sum = sum16(ip + 12, 8, 0);
		sum += ip[9] + len;
	}
	return csum_fold16(sum16(ip + ihl, len, sum));
}

int unit_wan_raw;

/* The device's MAC (SIOCGIFHWADDR: this namespace's device); 0, or -1 */
int dev_mac(__u32 ifindex, __u8 mac[6])
{
	struct ifreq ifr = { 0 };
	int fd, ret = -1;

	if (!if_indextoname(ifindex, ifr.ifr_name))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	if (!ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
		ret = 0;
	}
	close(fd);
	return ret;
}

/*
 * A unicast frame into a WAN device, as the device takes it for the
 * host: to the device's own MAC. BPF_PROG_RUN gives the skb the pkt_type
 * of its destination against the device's address, and the WAN program
 * takes PACKET_HOST alone; the tests build replies from what the fabric
 * sent, to the next hop's MAC. The caller's frame is changed, so that what
 * a test compares with it is what ran. unit_wan_raw keeps a frame as it
 * is (a frame for another station).
 */
static const struct frame *wan_to_self(struct fabric *fb, __u32 ifindex,
				       const struct frame *f)
{
	struct kvb_port p;
	__u8 mac[6];

	if (unit_wan_raw || f->len < 14 || (f->buf[0] & 1) ||
	    bpf_map_lookup_elem(fb->port_fd, &ifindex, &p) ||
	    (p.role != KVB_PORT_WAN && !kvb_port_nat_wan(&p)) ||
	    dev_mac(ifindex, mac))
		return f;
	/* in the caller's frame: the tests compare what left with it */
	memcpy((__u8 *)f->buf, mac, 6);
	return f;
}

/* Like run_tc, and the frame as the program left it in *out. */
int run_tc_out(struct fabric *fb, __u32 ifindex, const struct frame *in,
	       struct frame *out)
{
	return run_skb(fb->prog_tc_ingress, ifindex,
		       wan_to_self(fb, ifindex, in), 0, out);
}

/* run_tc_out of a GSO super-frame whose segments carry gso_size bytes */
int run_tc_gso_out(struct fabric *fb, __u32 ifindex, const struct frame *in,
		   struct frame *out, __u32 gso_size)
{
	return run_skb(fb->prog_tc_ingress, ifindex,
		       wan_to_self(fb, ifindex, in), gso_size, out);
}

int run_tc(struct fabric *fb, __u32 ifindex, const struct frame *f)
{
	return run_skb(fb->prog_tc_ingress, ifindex,
		       wan_to_self(fb, ifindex, f), 0, NULL);
}

int run_tc_gso(struct fabric *fb, __u32 ifindex, const struct frame *f,
	       __u32 gso_size)
{
	return run_skb(fb->prog_tc_ingress, ifindex,
		       wan_to_self(fb, ifindex, f), gso_size, NULL);
}

/* kvmbpf WORDS... through the CLI's own tables; 0 when it succeeded */
int unit_cli(const char *line)
{
	char buf[512], *argv[32], *save, *w;
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (w = strtok_r(buf, " ", &save); w && argc < 32;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	if (!strcmp(argv[0], "acl"))
		return object_call(&obj_acl, argc - 1, argv + 1);
	if (!strcmp(argv[0], "port"))
		return object_call(&obj_port, argc - 1, argv + 1);
	if (!strcmp(argv[0], "net"))
		return object_call(&obj_net, argc - 1, argv + 1);
	if (!strcmp(argv[0], "forward"))
		return object_call(&obj_forward, argc - 1, argv + 1);
	return -1;
}

/* prog on skb frame f at ifindex carrying mark_in: the verdict, and the
 * mark the program left in *mark (-1: the run failed) */
int run_prog_mark(int prog, __u32 ifindex, const struct frame *f,
		  __u32 mark_in, __u32 *mark)
{
	struct __sk_buff ctx = { .ifindex = ifindex, .mark = mark_in };
	struct __sk_buff out = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->buf,
		    .data_size_in = f->len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &out,
		    .ctx_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(prog, &o))
		return -1;
	*mark = out.mark;
	return (int)o.retval;
}

/* tc ingress on port, and the mark the program left on the frame */
int run_tc_mark(struct fabric *fb, __u32 port, const struct frame *f,
		__u32 *mark)
{
	return run_prog_mark(fb->prog_tc_ingress, port, f, 0, mark);
}

int run_tc_egress(struct fabric *fb, __u32 ifindex, const struct frame *f)
{
	return run_skb(fb->prog_tc_egress, ifindex, f, 0, NULL);
}

int run_tc_egress_from(struct fabric *fb, __u32 ifindex, __u32 iif,
		       const struct frame *f)
{
	struct __sk_buff ctx = { .ifindex = ifindex, .ingress_ifindex = iif };

	return run_prog(fb->prog_tc_egress, &ctx, sizeof(ctx), f, NULL);
}

int run_xdp(struct fabric *fb, __u32 ifindex, const struct frame *f)
{
	return run_xdp_ctx(fb->prog_xdp, ifindex, f, NULL);
}

int run_xdp_prog_out(int prog, __u32 ifindex, const struct frame *in,
		     struct frame *out)
{
	return run_xdp_ctx(prog, ifindex, in, out);
}

__u32 port_slot(struct fabric *fb, __u32 ifindex)
{
	struct kvb_port p;

	return port_get(fb, ifindex, &p) ? 0 : p.slot;
}

int acl_entry_put(struct fabric *fb, __u32 ifindex,
		  const struct kvb_acl_port *ap)
{
	struct kvb_acl_port v = { 0 };
	__u32 slot = port_slot(fb, ifindex);

	if (!slot)
		return -1;
	if (ap) {
		v = *ap;
		v.ifindex = ifindex;
	}
	return aclp_write(fb, slot, &v);
}

__u64 acl_ct_count(struct fabric *fb, __u32 ifindex, int dir)
{
	struct kvb_aclctn n = { 0 };
	__u32 slot = port_slot(fb, ifindex);

	if (!slot || bpf_map_lookup_elem(fb->aclctn_fd, &slot, &n))
		return ~0ULL;
	return dir < 0 ? n.n[0] + n.n[1] : n.n[dir & 1];
}

/*
 * Mark every flow of NAT network net_id (state) established, as an
 * answer would: early eviction never takes those. How many entries.
 */
int ct_establish_net(struct fabric *fb, __u32 net_id)
{
	struct kvb_ct_key k, next, *prev = NULL;
	struct kvb_ct e;
	int n = 0;

	while (!bpf_map_get_next_key(fb->ct_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fb->ct_fd, &k, &e) ||
		    e.net_id != net_id || e.state == KVB_CT_ESTABLISHED)
			continue;
		e.state = KVB_CT_ESTABLISHED;
		n += !bpf_map_update_elem(fb->ct_fd, &k, &e, BPF_EXIST);
	}
	return n;
}

int aclct_get(struct fabric *fb, const struct kvb_aclct_key *k,
	      struct kvb_aclct *e)
{
	struct kvb_aclct4_key k4;

	if (k->family != 4)
		return bpf_map_lookup_elem(fb->aclct_fd, k, e);
	kvb_aclct4_key_of(&k4, k);
	return bpf_map_lookup_elem(fb->aclct4_fd, &k4, e);
}

int aclct_put(struct fabric *fb, const struct kvb_aclct_key *k,
	      const struct kvb_aclct *e, __u64 flags)
{
	struct kvb_aclct4_key k4;

	if (k->family != 4)
		return bpf_map_update_elem(fb->aclct_fd, k, e, flags);
	kvb_aclct4_key_of(&k4, k);
	return bpf_map_update_elem(fb->aclct4_fd, &k4, e, flags);
}

int aclct_next(struct fabric *fb, const struct kvb_aclct_key *prev,
	       struct kvb_aclct_key *next)
{
	struct kvb_aclct4_key p4, n4;

	if (prev && prev->family != 4)
		return bpf_map_get_next_key(fb->aclct_fd, prev, next);
	if (prev)
		kvb_aclct4_key_of(&p4, prev);
	if (!bpf_map_get_next_key(fb->aclct4_fd, prev ? &p4 : NULL, &n4)) {
		kvb_aclct_key_of4(next, &n4);
		return 0;
	}
	return bpf_map_get_next_key(fb->aclct_fd, NULL, next);
}

/* Mark every ACL connection established (early eviction never takes
 * those). How many entries. */
int aclct_establish_all(struct fabric *fb)
{
	struct kvb_aclct_key k, next, *prev = NULL;
	struct kvb_aclct e;
	int n = 0;

	while (!aclct_next(fb, prev, &next)) {
		k = next;
		prev = &k;
		if (aclct_get(fb, &k, &e) || e.state == KVB_CT_ESTABLISHED)
			continue;
		e.state = KVB_CT_ESTABLISHED;
		n += !aclct_put(fb, &k, &e, BPF_EXIST);
	}
	return n;
}

struct kvb_stats port_stats(struct fabric *fb, __u32 ifindex)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kvb_stats *pc = calloc((size_t)ncpu, sizeof(*pc)), sum = {};
	struct kvb_port p;
	__u32 slot;

	/* the counters are at the port's slot */
	if (port_get(fb, ifindex, &p) || !p.slot) {
		free(pc);
		return sum;
	}
	slot = p.slot;
	if (pc && !bpf_map_lookup_elem(fb->stats_fd, &slot, pc)) {
		for (int c = 0; c < ncpu; c++) {
			sum.rx_packets += pc[c].rx_packets;
			sum.tx_packets += pc[c].tx_packets;
			sum.learn_fail += pc[c].learn_fail;
			sum.xdp_fwd += pc[c].xdp_fwd;
			sum.ct_evicted += pc[c].ct_evicted;
			sum.rx_bytes += pc[c].rx_bytes;
			sum.tx_bytes += pc[c].tx_bytes;
			for (int r = 0; r < KVB_DROP_MAX; r++)
				sum.drop[r] += pc[c].drop[r];
		}
	}
	free(pc);
	return sum;
}

int pinned_map(struct fabric *fb, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fb->dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		printf("FAIL %s: %s\n", path, strerror(errno));
		unit_failed = 1;
	}
	return fd;
}

void map_empty(int fd)
{
	__u8 k[128];

	while (!bpf_map_get_next_key(fd, NULL, k))
		bpf_map_delete_elem(fd, k);
}

int map_only_key(int fd, void *key, size_t len)
{
	__u8 k[128];
	int n = 0;

	if (len > sizeof(k))
		return -1;
	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, k); prev = k)
		n++;
	if (n != 1)
		return -1;
	return bpf_map_get_next_key(fd, NULL, key) ? -1 : 0;
}

__u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

bool fdb_entry(struct fabric *fb, __u32 net_id, const __u8 *mac,
	       struct kvb_fdb_entry *e)
{
	struct kvb_fdb_key k = { .net_id = net_id };

	memcpy(k.mac, mac, 6);
	return !bpf_map_lookup_elem(fb->fdb_fd, &k, e);
}

bool wait_sweeps(struct fabric *fb)
{
	struct kvb_ctsweep st;
	__u32 zero = 0;
	__u64 r0;

	memset(&st, 0, sizeof(st));
	bpf_map_lookup_elem(fb->ctsweep_fd, &zero, &st);
	r0 = st.runs;
	for (int i = 0; i < 200 && st.runs < r0 + 2; i++) {
		usleep(50000);
		bpf_map_lookup_elem(fb->ctsweep_fd, &zero, &st);
	}
	return st.runs >= r0 + 2;
}

void bootp_fill(__u8 m[BOOTP_LEN], const struct bootp *b)
{
	__u8 *o = m + 8 + 240;

	memset(m, 0, BOOTP_LEN);
	m[0] = (__u8)(b->sport >> 8), m[1] = (__u8)b->sport;
	m[2] = (__u8)(b->dport >> 8), m[3] = (__u8)b->dport;
	m[4] = (__u8)(BOOTP_LEN >> 8), m[5] = (__u8)BOOTP_LEN;
	m[8] = b->sport == 67 ? 2 : 1;
	m[9] = 1, m[10] = 6;
	memcpy(m + 8 + 4, &b->xid, 4);
	memcpy(m + 8 + 12, &b->ciaddr, 4);
	memcpy(m + 8 + 16, &b->yiaddr, 4);
	memcpy(m + 8 + 28, b->chaddr, 6);
	m[8 + 236] = 0x63, m[8 + 237] = 0x82, m[8 + 238] = 0x53,
	m[8 + 239] = 0x63;
	*o++ = 53, *o++ = 1, *o++ = b->type;
	if (b->reqip) {
		*o++ = 50, *o++ = 4;
		memcpy(o, &b->reqip, 4), o += 4;
	}
	if (b->server) {
		*o++ = 54, *o++ = 4;
		memcpy(o, &b->server, 4), o += 4;
	}
	if (b->lease) {
		__u32 l = htonl(b->lease);

		*o++ = 51, *o++ = 4;
		memcpy(o, &l, 4), o += 4;
	}
	*o = 255;
}
