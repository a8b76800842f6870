// SPDX-License-Identifier: MIT
/*
 * sendraw IFACE HEX [COUNT] [GAP_US]: write one crafted Ethernet frame (given
 * as hex, separators ignored) COUNT times onto IFACE through an AF_PACKET
 * socket, GAP_US microseconds apart (a steady stream). COUNT 0 streams until
 * SIGTERM, then prints how many frames went out ("sent N").
 * sendraw --tap TAP HEX [COUNT] [GSO_SIZE]: write it into tap device TAP as
 * a guest would, behind a virtio-net header; with GSO_SIZE, the header asks
 * for TCPv4 segmentation with checksum offload (a TSO super-frame).
 * For tests that need frames no normal stack would send.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sys/ioctl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Attach to an existing tap and write the frame behind a vnet header. */
static int send_tap(const char *tap, const unsigned char *frame, size_t len,
		    int count, int gso_size)
{
	struct virtio_net_hdr vh = { 0 };
	struct ifreq ifr = { 0 };
	unsigned char buf[65536 + sizeof(vh)];
	int fd = open("/dev/net/tun", O_RDWR);

	if (fd < 0) {
		perror("sendraw: /dev/net/tun");
		return 1;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strncpy(ifr.ifr_name, tap, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		perror("sendraw: TUNSETIFF");
		return 1;
	}
	if (gso_size > 0 && len > 14 + 20) {
		/* TCPv4 behind Ethernet: checksum left to "hardware" */
		unsigned int ihl = (frame[14] & 0xf) * 4;

		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		vh.gso_size = (unsigned short)gso_size;
		vh.csum_start = (unsigned short)(14 + ihl);
		vh.csum_offset = 16;
		vh.hdr_len = (unsigned short)(14 + ihl + 20);
	}
	memcpy(buf, &vh, sizeof(vh));
	memcpy(buf + sizeof(vh), frame, len);
	for (int i = 0; i < count; i++) {
		if (write(fd, buf, sizeof(vh) + len) != (ssize_t)(sizeof(vh) + len)) {
			perror("sendraw: write to tap");
			return 1;
		}
	}
	close(fd);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	unsigned char frame[65536];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	size_t len = 0;
	int hi = -1, fd, count = argc > 3 ? atoi(argv[3]) : 1;

	int tap = argc > 1 && !strcmp(argv[1], "--tap");

	if (tap) {
		argc--;
		argv++;
		count = argc > 3 ? atoi(argv[3]) : 1;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: sendraw [--tap] IFACE HEX [COUNT] [GSO]\n");
		return 2;
	}
	for (const char *p = argv[2]; *p; p++) {
		int v = hexval(*p);

		if (v < 0)
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			if (len >= sizeof(frame))
				break;
			frame[len++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	if (tap)
		return send_tap(argv[1], frame, len, count,
				argc > 4 ? atoi(argv[4]) : 0);
	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "sendraw: %s: no such device\n", argv[1]);
		return 1;
	}
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("sendraw: socket");
		return 1;
	}
	signal(SIGTERM, on_term);
	long sent = 0;

	while (count ? sent < count : !stop) {
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll,
			   sizeof(sll)) != (ssize_t)len) {
			perror("sendraw: sendto");
			return 1;
		}
		sent++;
		if (argc > 4)
			usleep((useconds_t)atoi(argv[4]));
	}
	if (!count)
		printf("sent %ld\n", sent);
	close(fd);
	return 0;
}
