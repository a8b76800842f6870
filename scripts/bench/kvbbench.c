// SPDX-License-Identifier: MIT
/*
 * kvbbench: the benchmark's own tools (run by scripts/bench/run.sh).
 *
 *   gen IFACE DSTMAC SRCMAC FLOWS COUNT [SRCIP DSTIP [onemac|csum|onemac,csum]]
 *                                         live-frame generator on IFACE
 *                                         (default 10.98.0.1 -> 10.98.0.2;
 *                                         flows differ in source port and
 *                                         MAC, or port only with onemac;
 *                                         csum: UDP checksum complete,
 *                                         else 0)
 *   tapsink TAP                           read and count what arrives at
 *                                         tap TAP (virtio-net headers on)
 *                                         until SIGTERM, verifying IPv4
 *                                         UDP checksums; prints "ready",
 *                                         then "read N bad B" 
 *   sink IFACE                            count and drop what arrives;
 *                                         prints the counter map's id
 *   count MAP_ID                          print the sink's count
 *   gsocount IFACE                        count frames and GSO super-frames
 *                                         at IFACE's tc ingress; prints
 *                                         the counter map's id
 *   count2 MAP_ID                         print both: frames gso
 *   ceil IN OUT                           bare redirect_map IN -> OUT
 *   ctfill CT_PIN ENTRIES                 fill a fabric's flow table with
 *                                         idle entries (net 999, proto 99)
 *   cost PROG_PIN|empty-tc|empty-xdp IFINDEX HEX REPEAT [xdp|each|vary]
 *                                         ns per run of a program; each:
 *                                         REPEAT runs on a fresh copy of
 *                                         the frame (for programs that
 *                                         rewrite it: one run would
 *                                         otherwise see the last one's
 *                                         output), the median; vary: as
 *                                         each, every run with the next
 *                                         UDP/TCP source port of an IPv4
 *                                         frame (a new flow every run)
 */
#define _GNU_SOURCE	/* sendmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.skel.h"
#include "kvb_maps.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_mac(const char *s, unsigned char *m)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2],
		      &m[3], &m[4], &m[5]) == 6 ? 0 : -1;
}

static int hex(const char *s, unsigned char *out, int max)
{
	int n = 0;

	for (; s[0] && s[1] && n < max; s += 2)
		sscanf(s, "%2hhx", &out[n++]);
	return n;
}

/* 60-byte Ethernet/IPv4/UDP frame, as in DESIGN.md's figures. */
static int frame60(unsigned char *f, const unsigned char *dst,
		   const unsigned char *src, const unsigned char *sip,
		   const unsigned char *dip)
{
	unsigned int sum = 0;

	memset(f, 0, 60);
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[17] = 46;		/* tot_len 46 */
	f[22] = 64;		/* ttl */
	f[23] = 17;		/* UDP */
	memcpy(f + 26, sip, 4);
	memcpy(f + 30, dip, 4);
	for (int i = 14; i < 34; i += 2)
		sum += (unsigned int)(f[i] << 8 | f[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	f[24] = (unsigned char)(sum >> 8), f[25] = (unsigned char)sum;
	f[34] = 0x27, f[35] = 0x10;	/* sport 10000 */
	f[36] = 0x4e, f[37] = 0x20;	/* dport 20000 */
	f[39] = 26;			/* UDP length 26, checksum 0 */
	return 60;
}

/* The checksum of an IPv4 UDP frame's datagram, folded (0: it verifies). */
static unsigned int udp_sum4(const unsigned char *f, size_t len)
{
	unsigned int sum = 17, ulen = (unsigned int)(f[38] << 8 | f[39]);

	if (ulen < 8 || 34 + ulen > len)
		return 1;
	sum += ulen;
	for (int i = 26; i < 34; i += 2)
		sum += (unsigned int)(f[i] << 8 | f[i + 1]);
	for (unsigned int i = 0; i < ulen; i += 2)
		sum += (unsigned int)(f[34 + i] << 8 |
				      (i + 1 < ulen ? f[35 + i] : 0));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (~sum) & 0xffff;
}

/* Complete frame60's UDP checksum (it leaves 0: none). */
static void udp_csum4(unsigned char *f)
{
	unsigned int c;

	f[40] = f[41] = 0;
	c = udp_sum4(f, 60);
	if (!c)
		c = 0xffff;
	f[40] = (unsigned char)(c >> 8), f[41] = (unsigned char)c;
}

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * A guest reading its tap as QEMU does (virtio-net header first), as fast
 * as it can: the count of what the fabric delivered, and how many IPv4
 * UDP frames (with a checksum) did not verify. A frame marked
 * NEEDS_CSUM is the sender's partial checksum: not verified here.
 */
static int tapsink(char **argv)
{
	struct ifreq ifr = { 0 };
	static unsigned char buf[65536 + 12];
	unsigned long n = 0, bad = 0;
	struct sigaction sa = { .sa_handler = on_term };
	int fd = open("/dev/net/tun", O_RDWR), hl = 12;

	if (fd < 0)
		return perror("tapsink: /dev/net/tun"), 1;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strncpy(ifr.ifr_name, argv[0], IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) || ioctl(fd, TUNSETVNETHDRSZ, &hl))
		return perror("tapsink: TUNSETIFF"), 1;
	sigaction(SIGTERM, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		ssize_t r = read(fd, buf, sizeof(buf));
		const unsigned char *f = buf + hl;

		if (r < hl + 14)
			continue;
		n++;
		if (!(buf[0] & 1) && r >= hl + 42 && f[12] == 8 && !f[13] &&
		    f[14] == 0x45 &&
		    f[23] == 17 && (f[40] | f[41]) &&
		    udp_sum4(f, (size_t)(r - hl)))
			bad++;
	}
	printf("read %lu bad %lu\n", n, bad);
	return 0;
}

/*
 * gen's second way, for a kernel that refuses BPF_F_TEST_XDP_LIVE_FRAMES
 * (EPERM: some builds disable it, as they leave out pktgen): the same
 * frames, flow by flow as kvbb_gen rewrites them, written from user space
 * through an AF_PACKET socket that bypasses the qdisc, 64 a sendmmsg.
 * The sender's own cost per frame (a syscall's share, an skb) is on the
 * generator's CPU with the path it drives, for every configuration alike:
 * ratios are nearer 1 than with live frames. Prints "count seconds
 * packet" (the bench's report says which generator ran).
 */
static int gen_packet(unsigned int ifindex, const unsigned char *tmpl,
		      unsigned int flows, int one_mac, int csum, long count)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET,
				  .sll_ifindex = (int)ifindex, .sll_halen = 6 };
	unsigned int nf = flows ? (flows > 65536 ? 65536 : flows) : 1;
	unsigned char *frames = malloc((size_t)nf * 60);
	struct mmsghdr msg[64];
	struct iovec iov[64];
	int fd = socket(AF_PACKET, SOCK_RAW, 0), one = 1;
	long sent = 0;
	double t0, t1;

	if (fd < 0 || !frames ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
		return fprintf(stderr, "gen: AF_PACKET: %s\n", strerror(errno)), 1;
	memcpy(to.sll_addr, tmpl, 6);
	for (unsigned int f = 0; f < nf; f++) {
		unsigned char *p = frames + (size_t)f * 60;
		__u16 sport, dport = 0;

		memcpy(p, tmpl, 60);
		if (!one_mac) {
			sport = (__u16)(10000 + f);
			p[10] = (unsigned char)(f >> 8);
			p[11] = (unsigned char)f;
		} else {
			sport = (__u16)(10000 + (f >> 4));
			dport = (__u16)(20000 + (f & 15));
			p[36] = (unsigned char)(dport >> 8);
			p[37] = (unsigned char)dport;
		}
		p[34] = (unsigned char)(sport >> 8);
		p[35] = (unsigned char)sport;
		if (csum)
			udp_csum4(p);
	}
	t0 = now();
	while (sent < count) {
		unsigned int n = count - sent < 64 ? (unsigned int)(count - sent) : 64;
		int r;

		for (unsigned int i = 0; i < n; i++) {
			iov[i].iov_base = frames + (size_t)((sent + i) % nf) * 60;
			iov[i].iov_len = 60;
			msg[i] = (struct mmsghdr){ .msg_hdr = {
				.msg_name = &to, .msg_namelen = sizeof(to),
				.msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		r = sendmmsg(fd, msg, n, 0);
		if (r < 0 && errno != ENOBUFS && errno != EAGAIN)
			return fprintf(stderr, "gen: sendmmsg: %s\n",
				       strerror(errno)), 1;
		if (r > 0)
			sent += r;
	}
	t1 = now();
	printf("%ld %.6f packet\n", sent, t1 - t0);
	free(frames);
	close(fd);
	return 0;
}

static int gen(char **argv)
{
	unsigned char f[60], dst[6], src[6];
	unsigned char sip[4] = { 10, 98, 0, 1 }, dip[4] = { 10, 98, 0, 2 };
	struct kvbb *s;
	struct xdp_md ctx = { .data_end = 60 };
	unsigned int ifindex = if_nametoindex(argv[0]);
	long count = atol(argv[4]);
	double t0, t1;
	int ret;

	if (!ifindex || parse_mac(argv[1], dst) || parse_mac(argv[2], src) ||
	    (argv[5] && (inet_pton(AF_INET, argv[5], sip) != 1 || !argv[6] ||
			 inet_pton(AF_INET, argv[6], dip) != 1)))
		return fprintf(stderr, "gen: bad arguments\n"), 2;
	ctx.ingress_ifindex = ifindex;
	s = kvbb__open();
	if (!s)
		return 1;
	s->rodata->flows = (unsigned int)atoi(argv[3]);
	s->rodata->one_mac = argv[5] && argv[6] && argv[7] &&
			     strstr(argv[7], "onemac");
	s->rodata->udp_csum = argv[5] && argv[6] && argv[7] &&
			      strstr(argv[7], "csum");
	frame60(f, dst, src, sip, dip);
	if (s->rodata->udp_csum)
		udp_csum4(f);
	memcpy((void *)s->rodata->tmpl, f, 42);
	if (kvbb__load(s))
		return fprintf(stderr, "gen: load failed\n"), 1;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = 60,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = (unsigned int)count,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
	t0 = now();
	ret = bpf_prog_test_run_opts(bpf_program__fd(s->progs.kvbb_gen), &o);
	t1 = now();
	if (ret && errno == EPERM) {	/* live frames refused: AF_PACKET */
		int one_mac = (int)s->rodata->one_mac;
		int csum = (int)s->rodata->udp_csum;

		kvbb__destroy(s);
		fprintf(stderr, "gen: live frames refused (EPERM): AF_PACKET "
			"sender\n");
		return gen_packet(ifindex, f, (unsigned int)atoi(argv[3]),
				  one_mac, csum, count);
	}
	if (ret)
		return fprintf(stderr, "gen: test_run: %s\n", strerror(errno)), 1;
	printf("%ld %.6f\n", count, t1 - t0);
	kvbb__destroy(s);
	return 0;
}

static int sink(char **argv)
{
	unsigned int ifindex = if_nametoindex(argv[0]);
	struct kvbb *s = kvbb__open_and_load();

	if (!ifindex || !s)
		return 1;
	if (bpf_xdp_attach((int)ifindex, bpf_program__fd(s->progs.kvbb_sink),
			   XDP_FLAGS_DRV_MODE, NULL))
		return fprintf(stderr, "sink: attach: %s\n", strerror(errno)), 1;
	/* no pin: `ip netns exec` hides /sys/fs/bpf; the attached program
	 * keeps the map alive and its id finds it */
	{
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(bpf_map__fd(s->maps.kvbb_cnt), &info,
					   &len))
			return 1;
		printf("%u\n", info.id);
	}
	return 0;
}

static int count(char **argv)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map_get_fd_by_id((__u32)atoi(argv[0]));
	unsigned long long *v = calloc((size_t)ncpu, sizeof(*v)), sum = 0;
	unsigned int zero = 0;

	if (fd < 0 || !v || bpf_map_lookup_elem(fd, &zero, v))
		return 1;
	for (int c = 0; c < ncpu; c++)
		sum += v[c];
	printf("%llu\n", sum);
	return 0;
}

static int gsocount(char **argv)
{
	unsigned int ifindex = if_nametoindex(argv[0]);
	struct kvbb *s = kvbb__open_and_load();
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (!ifindex || !s)
		return 1;
	LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = (int)ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = 0x6b62, .priority = 1,
		    .flags = BPF_TC_F_REPLACE,
		    .prog_fd = bpf_program__fd(s->progs.kvbb_gso));
	bpf_tc_hook_create(&h);	/* EEXIST is fine */
	if (bpf_tc_attach(&h, &o))
		return fprintf(stderr, "gsocount: attach: %s\n", strerror(errno)), 1;
	if (bpf_obj_get_info_by_fd(bpf_map__fd(s->maps.kvbb_gsocnt), &info, &len))
		return 1;
	printf("%u\n", info.id);
	return 0;
}

static int count2(char **argv)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map_get_fd_by_id((__u32)atoi(argv[0]));
	unsigned long long *v = calloc((size_t)ncpu, sizeof(*v)), sum[2] = { 0 };

	for (unsigned int k = 0; k < 2; k++) {
		if (fd < 0 || !v || bpf_map_lookup_elem(fd, &k, v))
			return 1;
		for (int c = 0; c < ncpu; c++)
			sum[k] += v[c];
	}
	printf("%llu %llu\n", sum[0], sum[1]);
	return 0;
}

static int ceil_(char **argv)
{
	unsigned int in = if_nametoindex(argv[0]), out = if_nametoindex(argv[1]);
	struct kvbb *s = kvbb__open_and_load();
	unsigned int zero = 0;

	if (!in || !out || !s)
		return 1;
	if (bpf_map__update_elem(s->maps.kvbb_tx, &zero, 4, &out, 4, 0) ||
	    bpf_xdp_attach((int)in, bpf_program__fd(s->progs.kvbb_ceil),
			   XDP_FLAGS_DRV_MODE, NULL))
		return fprintf(stderr, "ceil: %s\n", strerror(errno)), 1;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

static int cost(int argc, char **argv)
{
	unsigned char f[2048];
	int n = hex(argv[2], f, sizeof(f)), fd;
	int xdp = argc > 4 && !strcmp(argv[4], "xdp");
	int vary = argc > 4 && !strcmp(argv[4], "vary");
	int each = vary || (argc > 4 && !strcmp(argv[4], "each"));
	unsigned char orig[2048];
	unsigned int ifindex = (unsigned int)atoi(argv[1]);
	unsigned int repeat = (unsigned int)atoi(argv[3]);
	struct kvbb *s = NULL;
	struct __sk_buff skb = { .ifindex = ifindex };
	struct xdp_md xm = { .data_end = (unsigned int)n,
			     .ingress_ifindex = ifindex };

	if (!strncmp(argv[0], "empty-", 6)) {
		s = kvbb__open_and_load();
		if (!s)
			return 1;
		fd = bpf_program__fd(xdp ? s->progs.kvbb_empty_xdp :
					   s->progs.kvbb_empty_tc);
	} else {
		fd = bpf_obj_get(argv[0]);
	}
	if (fd < 0)
		return fprintf(stderr, "cost: %s: %s\n", argv[0], strerror(errno)), 1;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f,
		    .data_size_in = (unsigned int)n, .repeat = repeat);
	if (xdp) {
		o.ctx_in = &xm;
		o.ctx_size_in = sizeof(xm);
	} else {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	if (each) {
		unsigned int *d = calloc(repeat, sizeof(*d));

		o.repeat = 1;
		memcpy(orig, f, sizeof(orig));
		for (unsigned int i = 0; d && i < repeat; i++) {
			memcpy(f, orig, (size_t)n);
			if (vary && n >= 36) {
				/* the source port after a 20-byte IPv4 header */
				unsigned int sp = (unsigned int)(f[34] << 8 | f[35]) + i;

				f[34] = (unsigned char)(sp >> 8);
				f[35] = (unsigned char)sp;
			}
			if (bpf_prog_test_run_opts(fd, &o))
				return fprintf(stderr, "cost: test_run: %s\n",
					       strerror(errno)), 1;
			d[i] = o.duration;
		}
		if (!d)
			return 1;
		qsort(d, repeat, sizeof(*d), cmp_u32);
		o.duration = d[repeat / 2];
		free(d);
	} else if (bpf_prog_test_run_opts(fd, &o)) {
		return fprintf(stderr, "cost: test_run: %s\n", strerror(errno)), 1;
	}
	printf("%u %u\n", o.duration, o.retval);
	kvbb__destroy(s);
	return 0;
}

/* Occupy the flow table: entries no packet ever looks up. */
static int ctfill(char **argv)
{
	enum { CHUNK = 65536 };
	static struct kvb_ct_key keys[CHUNK];
	static struct kvb_ct vals[CHUNK];
	int fd = bpf_obj_get(argv[0]);
	long want = atol(argv[1]), done = 0;

	if (fd < 0)
		return fprintf(stderr, "ctfill: %s: %s\n", argv[0], strerror(errno)), 1;
	for (int i = 0; i < CHUNK; i++)
		vals[i].net_id = 999;
	while (done < want) {
		__u32 count = (__u32)(want - done < CHUNK ? want - done : CHUNK);

		for (__u32 i = 0; i < count; i++) {
			keys[i] = (struct kvb_ct_key){ .proto = 99 };
			keys[i].saddr = (__u32)(done + i);
		}
		if (bpf_map_update_batch(fd, keys, vals, &count, NULL))
			return fprintf(stderr, "ctfill: after %ld: %s\n",
				       done + count, strerror(errno)), 1;
		done += count;
	}
	printf("%ld\n", done);
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(NULL);
	if (argc >= 7 && !strcmp(argv[1], "gen"))
		return gen(argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "tapsink"))
		return tapsink(argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "sink"))
		return sink(argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "count"))
		return count(argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "gsocount"))
		return gsocount(argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "count2"))
		return count2(argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "ceil"))
		return ceil_(argv + 2);
	if (argc >= 4 && !strcmp(argv[1], "ctfill"))
		return ctfill(argv + 2);
	if (argc >= 6 && !strcmp(argv[1], "cost"))
		return cost(argc - 2, argv + 2);
	fprintf(stderr, "usage: see the comment at the top of kvbbench.c\n");
	return 2;
}
