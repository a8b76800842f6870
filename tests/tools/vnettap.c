// SPDX-License-Identifier: MIT
/*
 * vnettap: a guest's NIC as QEMU drives it, for tests and benchmarks. It
 * attaches to an existing tap with IFF_VNET_HDR (12-byte virtio-net v1
 * header, as QEMU with a virtio 1.0 device) and
 *
 *   vnettap send TAP KIND SMAC DMAC SRC DST SPORT DPORT [LEN] [COUNT]
 *       writes COUNT (1) frames the way a Linux guest with offloads on hands
 *       them to virtio-net. SRC/DST are both IPv4 or both IPv6; LEN is the
 *       L4 payload (GSO: the whole super-frame's). With COUNT > 1 it
 *       prints "sent COUNT SECONDS" (the writes' time: a tap source for
 *       benchmarks). KIND:
 *         tcp-csum  udp-csum   VIRTIO_NET_HDR_F_NEEDS_CSUM, the checksum
 *                              field holding the pseudo-header sum
 *         tcp-gso              a TSO super-frame (GSO_TCPV4/TCPV6,
 *                              gso_size 1000), NEEDS_CSUM
 *         tcp-full udp-full    complete checksums, no flags
 *         udp-zero             IPv4 UDP with checksum 0
 *         vxlan-inner          VXLAN (UDP 4789) around Ethernet/IPv4/TCP:
 *                              the inner TCP checksum is partial
 *                              (csum_start at the inner TCP header), the
 *                              outer UDP checksum complete as local
 *                              checksum offload computes it, i.e. valid
 *                              only once the inner one is filled in
 *         vxlan-inner0         the same with outer UDP checksum 0
 *         tcp-gso-tiny         a hostile one: GSO_TCPV4/TCPV6 with gso_size
 *                              1 on a frame that fits the MTU, its
 *                              checksum complete, no NEEDS_CSUM (tun
 *                              takes it as GSO, and runs generic XDP)
 *         tcp-lostcsum         a partial checksum without NEEDS_CSUM: what
 *                              a frame looks like after XDP_REDIRECT lost
 *                              its virtio-net header (the receiver's
 *                              self-test: it must report it bad)
 *       Inner addresses of the VXLAN kinds: 10.200.0.1 -> 10.200.0.2, TCP
 *       ports SPORT -> DPORT.
 *       With VNETTAP_NONBLOCK=1 in the environment it writes through a
 *       non-blocking descriptor, as QEMU does: tun then builds a frame
 *       without GSO that fits a page in place and runs native XDP on it
 *       (tun_build_skb); a blocking writer's frames all take generic XDP.
 *
 *   vnettap recv TAP SECONDS [offload on|off] [quiet] [hold]
 *       sets the tap's offloads as QEMU does for a guest that negotiated
 *       them (TUN_F_CSUM|TSO4|TSO6; off: none), prints "ready", then reads
 *       frames for SECONDS at most, or until a frame to port 7999 (the
 *       sender's end marker) arrives. For every IPv4/IPv6 TCP/UDP frame it completes
 *       a partial checksum as the virtio-net header asks (csum_start,
 *       csum_offset), then verifies every checksum in the frame (IPv4
 *       header, L4 over the pseudo-header, and inside VXLAN the inner
 *       ones), and prints one line per frame:
 *         frame PORT LEN payload=P flags=F gso=G gso_size=S csum_start=C
 *               ok|bad: WHY
 *       PORT is the frame's port in 7000-7999 (destination, else source;
 *       inner ports for VXLAN): the kind's tag, which NAT keeps on one side.
 *       (quiet: none). At the end one line per tag:
 *         port PORT frames N bytes B partial P gso G bad X
 *       B sums the L4 payload, so a GSO super-frame and its segments
 *       count alike.
 *       hold: reads nothing, for SECONDS or until killed: the tap's queue
 *       fills and every later frame ends in the same drop (tun_net_xmit),
 *       whatever path brought it (the benchmark's rate phase, so that a
 *       reader slower than the path weighs alike on every configuration).
 *
 *   vnettap relay TAP NETNS GTAP
 *       a guest with a real network stack: QEMU's part between TAP (a
 *       fabric port) and tap GTAP in namespace NETNS (/var/run/netns/),
 *       whose stack stands in for the guest's kernel with virtio-net.
 *       Both taps get the offloads a guest negotiates (TUN_F_CSUM, TSO4,
 *       TSO6), and every frame passes with its virtio-net header as it
 *       is: a partial or GSO frame the fabric hands over reaches the stack
 *       as virtio-net would hand it (NEEDS_CSUM: not verified), one with an
 *       all-zero header (an XDP redirect's) has its checksums verified by
 *       the stack, and the stack's own partial and GSO frames reach the
 *       fabric as QEMU writes a guest's. Runs until killed.
 *
 * Exit status: 0, or 1 with a message on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define GSO_SIZE 1000
#define VXLAN_PORT 4789
#define BUF_LEN (65536 + 64)
#define END_PORT 7999	/* the tag that ends recv */

static int die(const char *what)
{
	fprintf(stderr, "vnettap: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: vnettap send TAP KIND SMAC DMAC SRC DST SPORT DPORT [LEN] [COUNT]\n"
		"       vnettap recv TAP SECONDS [offload on|off] [quiet] [hold]\n"
		"       vnettap relay TAP NETNS GTAP\n");
	exit(1);
}

static int tap_open(const char *name)
{
	struct ifreq ifr = { 0 };
	int hdr = sizeof(struct virtio_net_hdr_v1);
	int fd = open("/dev/net/tun", O_RDWR);

	if (fd < 0)
		die("/dev/net/tun");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr))
		die(name);
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr))
		die("TUNSETVNETHDRSZ");
	return fd;
}

/* Ones' complement arithmetic, RFC 1071: sum, then fold and invert. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)(p[0] << 8);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The pseudo-header's sum for an L4 segment of len bytes. */
static uint32_t pseudo(const uint8_t *ip, int v6, uint8_t proto, size_t len)
{
	uint32_t s = v6 ? sum16(ip + 8, 32, 0) : sum16(ip + 12, 8, 0);

	return s + proto + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
}

struct addrs {
	uint8_t smac[6], dmac[6];
	int v6;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
};

/*
 * Ethernet + IP header at p for an L4 segment of l4len bytes; returns the
 * header length. IPv4 total length is the whole frame's, also for GSO (as
 * Linux sends it; the segmenter rewrites it).
 */
static size_t put_l3(uint8_t *p, const struct addrs *a, int v6,
		     const uint8_t *src, const uint8_t *dst, uint8_t proto,
		     size_t l4len)
{
	memcpy(p, a->dmac, 6);
	memcpy(p + 6, a->smac, 6);
	if (v6) {
		put16(p + 12, 0x86dd);
		p[14] = 0x60;
		memset(p + 15, 0, 3);
		put16(p + 18, (uint16_t)l4len);
		p[20] = proto;
		p[21] = 64;
		memcpy(p + 22, src, 16);
		memcpy(p + 38, dst, 16);
		return 54;
	}
	put16(p + 12, 0x0800);
	p[14] = 0x45;
	p[15] = 0;
	put16(p + 16, (uint16_t)(20 + l4len));
	put16(p + 18, 0x1234);
	put16(p + 20, 0x4000);	/* DF, as a TCP stack sends */
	p[22] = 64;
	p[23] = proto;
	put16(p + 24, 0);
	memcpy(p + 26, src, 4);
	memcpy(p + 30, dst, 4);
	put16(p + 24, (uint16_t)~fold(sum16(p + 14, 20, 0)));
	return 34;
}

/* TCP or UDP header at p, payload after it filled with a pattern. */
static size_t put_l4(uint8_t *p, uint8_t proto, uint16_t sport,
		     uint16_t dport, size_t paylen)
{
	size_t h = proto == IPPROTO_TCP ? 20 : 8;

	memset(p, 0, h);
	put16(p, sport);
	put16(p + 2, dport);
	if (proto == IPPROTO_TCP) {
		put16(p + 4, 0x0001);	/* seq 0x00010000 */
		p[12] = 5 << 4;
		p[13] = 0x18;	/* PSH ACK */
		put16(p + 14, 65535);
	} else {
		put16(p + 4, (uint16_t)(h + paylen));
	}
	for (size_t i = 0; i < paylen; i++)
		p[h + i] = (uint8_t)('a' + i % 26);
	return h + paylen;
}

/* Offset of the checksum field within an L4 header. */
static size_t csum_field(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 16 : 6;
}

/*
 * One frame of KIND into buf after a virtio-net header; returns its length
 * without the header.
 */
static size_t build(const char *kind, const struct addrs *a, size_t paylen,
		    uint8_t *buf, struct virtio_net_hdr_v1 *vh)
{
	int tcp = !strncmp(kind, "tcp", 3);
	uint8_t proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	size_t l3, l4len, cf;
	uint8_t *l4;

	memset(vh, 0, sizeof(*vh));
	if (!strncmp(kind, "vxlan-inner", 11)) {
		static const uint8_t isrc[4] = { 10, 200, 0, 1 };
		static const uint8_t idst[4] = { 10, 200, 0, 2 };
		struct addrs in = *a;
		size_t ol3, ol4 = 8 + 8, il3, il4len;
		uint8_t *udp, *itcp;
		uint16_t full;

		/* the outer frame around an inner Ethernet/IPv4/TCP one */
		il4len = 20 + paylen;
		ol3 = put_l3(buf, a, a->v6, a->src, a->dst, IPPROTO_UDP,
			     ol4 + 34 + il4len);
		udp = buf + ol3;
		memset(udp, 0, 8);
		put16(udp, a->sport);
		put16(udp + 2, VXLAN_PORT);
		put16(udp + 4, (uint16_t)(ol4 + 34 + il4len));
		memset(udp + 8, 0, 8);
		udp[8] = 0x08;	/* VNI present */
		udp[14] = 42;	/* VNI 42 */
		in.smac[5] ^= 0x40;
		in.dmac[5] ^= 0x40;
		il3 = put_l3(udp + ol4, &in, 0, isrc, idst, IPPROTO_TCP,
			     il4len);
		itcp = udp + ol4 + il3;
		put_l4(itcp, IPPROTO_TCP, a->sport, a->dport, paylen);
		/* the inner checksum complete, then the outer over it ... */
		put16(itcp + 16, (uint16_t)~fold(sum16(itcp, il4len,
			pseudo(udp + ol4 + 14, 0, IPPROTO_TCP, il4len))));
		if (strcmp(kind, "vxlan-inner0")) {
			size_t ulen = ol4 + il3 + il4len;

			full = (uint16_t)~fold(sum16(udp, ulen,
				pseudo(buf + 14, a->v6, IPPROTO_UDP, ulen)));
			put16(udp + 6, full ? full : 0xffff);
		}
		/* ... and the inner one left partial: what LCO hands over */
		put16(itcp + 16, fold(pseudo(udp + ol4 + 14, 0, IPPROTO_TCP,
					     il4len)));
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = (uint16_t)(itcp - buf);
		vh->csum_offset = 16;
		return (size_t)(itcp - buf) + il4len;
	}
	l4len = (tcp ? 20 : 8) + paylen;
	l3 = put_l3(buf, a, a->v6, a->src, a->dst, proto, l4len);
	l4 = buf + l3;
	put_l4(l4, proto, a->sport, a->dport, paylen);
	cf = csum_field(proto);
	if (strstr(kind, "csum") || !strcmp(kind, "tcp-gso")) {
		/* what the guest's stack leaves for the device to finish */
		put16(l4 + cf, fold(pseudo(buf + 14, a->v6, proto, l4len)));
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = (uint16_t)l3;
		vh->csum_offset = (uint16_t)cf;
		if (strstr(kind, "-lostcsum"))
			memset(vh, 0, sizeof(*vh));
		if (strstr(kind, "-gso")) {
			vh->gso_type = a->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
					       VIRTIO_NET_HDR_GSO_TCPV4;
			vh->gso_size = GSO_SIZE;
			vh->hdr_len = (uint16_t)(l3 + 20);
		}
	} else if (!strcmp(kind, "udp-zero")) {
		put16(l4 + cf, 0);
	} else if (!strcmp(kind, "tcp-gso-tiny")) {
		put16(l4 + cf, (uint16_t)~fold(sum16(l4, l4len,
			pseudo(buf + 14, a->v6, proto, l4len))));
		vh->gso_type = a->v6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
				       VIRTIO_NET_HDR_GSO_TCPV4;
		vh->gso_size = 1;
		vh->hdr_len = (uint16_t)(l3 + 20);
	} else {
		uint16_t c = (uint16_t)~fold(sum16(l4, l4len,
			pseudo(buf + 14, a->v6, proto, l4len)));

		put16(l4 + cf, proto == IPPROTO_UDP && !c ? 0xffff : c);
	}
	return l3 + l4len;
}

static int parse_mac(const char *s, uint8_t *m)
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)b[i];
	return 0;
}

static int do_send(int argc, char **argv)
{
	static const char *kinds[] = { "tcp-csum", "udp-csum", "tcp-gso",
				       "tcp-full", "udp-full", "udp-zero",
				       "vxlan-inner", "vxlan-inner0",
				       "tcp-lostcsum", "tcp-gso-tiny" };
	struct addrs a = { 0 };
	struct virtio_net_hdr_v1 vh;
	static uint8_t buf[BUF_LEN];
	struct timespec t0, t1;
	size_t paylen, len;
	int fd, count, known = 0, nonblock;

	if (argc < 10)
		usage();
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		known |= !strcmp(argv[3], kinds[i]);
	if (!known) {
		fprintf(stderr, "vnettap: unknown kind %s\n", argv[3]);
		return 1;
	}
	if (parse_mac(argv[4], a.smac) || parse_mac(argv[5], a.dmac)) {
		fprintf(stderr, "vnettap: bad MAC address\n");
		return 1;
	}
	a.v6 = strchr(argv[6], ':') != NULL;
	if (inet_pton(a.v6 ? AF_INET6 : AF_INET, argv[6], a.src) != 1 ||
	    inet_pton(a.v6 ? AF_INET6 : AF_INET, argv[7], a.dst) != 1) {
		fprintf(stderr, "vnettap: bad addresses %s %s\n", argv[6],
			argv[7]);
		return 1;
	}
	a.sport = (uint16_t)atoi(argv[8]);
	a.dport = (uint16_t)atoi(argv[9]);
	paylen = argc > 10 ? (size_t)atol(argv[10]) :
		 !strcmp(argv[3], "tcp-gso") ? 3 * GSO_SIZE : 100;
	count = argc > 11 ? atoi(argv[11]) : 1;
	if (paylen > 60000) {
		fprintf(stderr, "vnettap: LEN %zu too large\n", paylen);
		return 1;
	}
	len = build(argv[3], &a, paylen, buf + sizeof(vh), &vh);
	memcpy(buf, &vh, sizeof(vh));
	fd = tap_open(argv[2]);
	nonblock = getenv("VNETTAP_NONBLOCK") &&
		   !strcmp(getenv("VNETTAP_NONBLOCK"), "1");
	if (nonblock && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		die("O_NONBLOCK");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < count; i++) {
		ssize_t w = write(fd, buf, sizeof(vh) + len);

		if (w < 0 && nonblock && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			poll(&pf, 1, 1000);
			i--;
			continue;
		}
		if (w != (ssize_t)(sizeof(vh) + len))
			die("write");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	if (count > 1)
		printf("sent %d %.6f\n", count, (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

struct tag {
	unsigned long frames, bytes, partial, gso, bad;
};

static struct tag tags[1000];
static int quiet;	/* no line per frame */

/*
 * IPv4 header and L4 checksums of the IP packet at ip (len bytes), and
 * inside VXLAN the inner packet's; NULL when all verify, else what failed.
 * ports[] gets the innermost TCP/UDP ports (also when a checksum fails, so
 * that the frame is still attributed), *paylen its payload length.
 */
static const char *verify_ip(const uint8_t *ip, size_t len, int depth,
			     uint16_t ports[2], size_t *paylen)
{
	const char *why = NULL;
	size_t ihl, l4len;
	const uint8_t *l4;
	uint8_t proto;
	int v6 = (ip[0] >> 4) == 6;

	if (v6) {
		if (len < 40)
			return "short IPv6";
		proto = ip[6];
		ihl = 40;
		l4len = get16(ip + 4);
		if (l4len + 40 > len)
			return "IPv6 payload length past the frame";
	} else {
		if (len < 20 || (ip[0] >> 4) != 4)
			return "not IPv4";
		ihl = (size_t)(ip[0] & 0xf) * 4;
		if (ihl < 20 || ihl > len)
			return "bad IHL";
		if (get16(ip + 2) > len || get16(ip + 2) < ihl)
			return "IPv4 total length";
		l4len = get16(ip + 2) - ihl;
		proto = ip[9];
		if (fold(sum16(ip, ihl, 0)) != 0xffff)
			why = "IPv4 header checksum";
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return "not TCP/UDP";
	l4 = ip + ihl;
	if (l4len < (proto == IPPROTO_TCP ? 20u : 8u))
		return "short L4";
	ports[0] = get16(l4);
	ports[1] = get16(l4 + 2);
	*paylen = l4len - (proto == IPPROTO_TCP ? (size_t)(l4[12] >> 4) * 4 : 8);
	if (proto == IPPROTO_UDP && !v6 && get16(l4 + 6) == 0) {
		/* no UDP checksum: nothing to verify at this layer */
	} else if (!why && fold(sum16(l4, l4len, pseudo(ip, v6, proto,
							 l4len))) != 0xffff) {
		why = proto == IPPROTO_TCP ? "TCP checksum" :
		      depth == 0 && ports[1] == VXLAN_PORT ?
		      "outer UDP checksum" : "UDP checksum";
	}
	if (proto == IPPROTO_UDP && ports[1] == VXLAN_PORT && depth == 0) {
		const uint8_t *eth = l4 + 16;
		const char *inner;

		if (l4len < 16 + 14 + 20)
			return why ? why : "short VXLAN";
		if (get16(eth + 12) != 0x0800)
			return why ? why : "VXLAN inner not IPv4";
		inner = verify_ip(eth + 14, l4len - 16 - 14, 1, ports, paylen);
		return why ? why : inner;
	}
	return why;
}

/*
 * Returns the frame's tag port (END_PORT for the end marker, sent to that
 * port), 0 when it carries none.
 */
static uint16_t one_frame(uint8_t *buf, size_t n)
{
	struct virtio_net_hdr_v1 vh;
	uint8_t *f = buf + sizeof(vh);
	size_t len = n - sizeof(vh), paylen = 0;
	const char *why = NULL;
	uint16_t ports[2] = { 0, 0 }, port, et;

	memcpy(&vh, buf, sizeof(vh));
	if (len < 14)
		return 0;
	et = get16(f + 12);
	if (et != 0x0800 && et != 0x86dd)
		return 0;	/* ARP, ND are the fabric's business */
	if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		size_t at = (size_t)vh.csum_start + vh.csum_offset;

		if (vh.csum_start < 14 || at + 2 > len) {
			why = "csum_start/csum_offset out of the frame";
		} else {
			/*
			 * What the device does: sum from csum_start to the
			 * end, the field's pseudo-header sum included.
			 */
			put16(f + at, (uint16_t)~fold(sum16(f + vh.csum_start,
				len - vh.csum_start, 0)));
		}
	}
	{
		const char *w = verify_ip(f + 14, len - 14, 0, ports, &paylen);

		why = why ? why : w;
	}
	/*
	 * The destination port first: NAT keeps it on the way out (and a
	 * source port it picks may fall in the tags' range).
	 */
	port = ports[1] >= 7000 && ports[1] < 8000 ? ports[1] : ports[0];
	if (port < 7000 || port >= 8000)
		return 0;	/* not one of the tagged frames */
	if (!quiet)
		printf("frame %u %zu payload=%zu flags=%u gso=%u gso_size=%u "
		       "csum_start=%u %s%s\n", port, len, paylen, vh.flags,
		       vh.gso_type, vh.gso_size, vh.csum_start,
		       why ? "bad: " : "ok", why ? why : "");
	tags[port - 7000].frames++;
	tags[port - 7000].bytes += paylen;
	tags[port - 7000].partial += !!(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
	tags[port - 7000].gso += vh.gso_type != VIRTIO_NET_HDR_GSO_NONE;
	tags[port - 7000].bad += why != NULL;
	return ports[1] == END_PORT ? END_PORT : port;
}

static int do_recv(int argc, char **argv)
{
	static uint8_t buf[BUF_LEN];
	unsigned int off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	struct timespec t0, t;
	int fd, secs, hold = 0;

	if (argc < 4)
		usage();
	secs = atoi(argv[3]);
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "quiet"))
			quiet = 1;
		else if (!strcmp(argv[i], "hold"))
			hold = 1;
		else if (!strcmp(argv[i], "offload") && i + 1 < argc)
			off = !strcmp(argv[++i], "off") ? 0 : off;
		else
			usage();
	}
	fd = tap_open(argv[2]);
	if (ioctl(fd, TUNSETOFFLOAD, off))
		die("TUNSETOFFLOAD");
	printf("ready\n");
	fflush(stdout);
	if (hold) {
		sleep((unsigned int)secs);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = secs * 1000L - ((t.tv_sec - t0.tv_sec) * 1000L +
				       (t.tv_nsec - t0.tv_nsec) / 1000000L);
		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0)
			die("read");
		if ((size_t)n >= sizeof(struct virtio_net_hdr_v1) &&
		    one_frame(buf, (size_t)n) == END_PORT)
			break;
	}
	for (int i = 0; i < 1000; i++)
		if (tags[i].frames)
			printf("port %d frames %lu bytes %lu partial %lu gso %lu bad %lu\n",
			       7000 + i, tags[i].frames, tags[i].bytes,
			       tags[i].partial, tags[i].gso, tags[i].bad);
	return 0;
}

/* Everything one tap's reader gets, written into the other as it came. */
static int do_relay(int argc, char **argv)
{
	static uint8_t buf[BUF_LEN];
	unsigned int off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	char path[256];
	int fd[2], ns;

	if (argc != 5)
		usage();
	fd[0] = tap_open(argv[2]);
	snprintf(path, sizeof(path), "/var/run/netns/%s", argv[3]);
	ns = open(path, O_RDONLY);
	if (ns < 0 || setns(ns, CLONE_NEWNET))
		die(path);
	fd[1] = tap_open(argv[4]);
	for (int i = 0; i < 2; i++)
		if (ioctl(fd[i], TUNSETOFFLOAD, off))
			die("TUNSETOFFLOAD");
	printf("ready\n");
	for (;;) {
		struct pollfd p[2] = { { .fd = fd[0], .events = POLLIN },
				       { .fd = fd[1], .events = POLLIN } };

		if (poll(p, 2, -1) < 0)
			die("poll");
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (!(p[i].revents & POLLIN))
				continue;
			n = read(fd[i], buf, sizeof(buf));
			if (n < 0)
				die("read");
			/* a frame the other side refuses is lost, as on a
			 * wire */
			if (write(fd[!i], buf, (size_t)n) < 0 && errno != EINVAL &&
			    errno != EIO)
				die("write");
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "send"))
		return do_send(argc, argv);
	if (!strcmp(argv[1], "recv"))
		return do_recv(argc, argv);
	if (!strcmp(argv[1], "relay"))
		return do_relay(argc, argv);
	return usage();
}
