// SPDX-License-Identifier: MIT
/*
 * sendraw IFACE HEX [COUNT]: write one crafted Ethernet frame (given as hex,
 * separators ignored) COUNT times onto IFACE through an AF_PACKET socket.
 * For tests that need frames no normal stack would send.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
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

int main(int argc, char **argv)
{
	unsigned char frame[65536];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	size_t len = 0;
	int hi = -1, fd, count = argc > 3 ? atoi(argv[3]) : 1;

	if (argc < 3) {
		fprintf(stderr, "usage: sendraw IFACE HEX [COUNT]\n");
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
	for (int i = 0; i < count; i++) {
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll,
			   sizeof(sll)) != (ssize_t)len) {
			perror("sendraw: sendto");
			return 1;
		}
	}
	close(fd);
	return 0;
}
