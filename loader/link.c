// SPDX-License-Identifier: MIT
/*
 * Programs on devices. tc programs go through libbpf's bpf_tc_* API (no tcx
 * in Debian's libbpf 1.1); the tc filter holds the program, so it outlives
 * this process. XDP goes through a bpf_link pinned in the fabric directory,
 * which likewise outlives us and is what detach destroys.
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"

/* Our filter's handle and priority on every clsact hook we use. */
#define KVB_TC_HANDLE 0x6b76
#define KVB_TC_PRIO 1

int tc_attach(struct fabric *fb, __u32 ifindex, bool egress, bool *created)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = KVB_TC_HANDLE,
		    .priority = KVB_TC_PRIO, .flags = BPF_TC_F_REPLACE);
	int ret;

	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST)
		return ret;
	/* a plain ingress qdisc is EEXIST too, but has one block: an
	 * egress program would replace our ingress one there (an ingress
	 * program alone, a WAN's, is at home in it) */
	if (ret == -EEXIST && egress) {
		char kind[16];
		int r = host_ingress_qdisc(ifindex, kind);

		if (r)
			return r;
		if (strcmp(kind, "clsact"))
			return -EBUSY;
	}
	if (!ret && created)
		*created = true;
	hook.attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
	to.prog_fd = egress ? fb->prog_tc_egress : fb->prog_tc_ingress;
	ret = bpf_tc_attach(&hook, &to);
	/* tc holds one kind of classifier at a preference: an operator's
	 * u32 or flower filter at 1 refuses ours with a bare EINVAL (t94) */
	if (ret == -EINVAL) {
		char kind[16];

		if (!host_tc_prio_kind(ifindex, egress, KVB_TC_PRIO, kind) &&
		    kind[0])
			return -EADDRINUSE;
	}
	return ret;
}

/*
 * What tc_attach's failure ret on device dev means, for an error line: a
 * filter of another kind at kvmbpf's preference is named with what to do.
 * The text lives until the next call.
 */
const char *tc_attach_error(int ret, const char *dev)
{
	static char buf[400];

	if (ret != -EADDRINUSE)
		return strerror(-ret);
	snprintf(buf, sizeof(buf),
		 "another filter (not bpf) holds tc preference %d there, which "
		 "kvmbpf's program needs (tc filter show dev %s ingress, or "
		 "egress): move that filter to preference 2 or later, where it "
		 "still sees the host's own traffic (kvmbpf hands that on)",
		 KVB_TC_PRIO, dev);
	return buf;
}

/*
 * Does DEV hold a qdisc on its ingress side that is not a clsact
 * (libvirt's `ingress` for a <bandwidth> inbound limit, an admin's
 * policer)? A port with an egress program needs clsact's two hooks, and
 * kvmbpf takes no one's qdisc away: says so and returns 1, else 0.
 */
int tc_hook_refuse(const char *cmd, const char *dev, __u32 ifindex)
{
	char kind[16];
	int ret = host_ingress_qdisc(ifindex, kind);

	if (ret)
		return err("%s: %s: cannot read its qdiscs: %s", cmd, dev,
			   strerror(-ret));
	if (kind[0] && strcmp(kind, "clsact"))
		return err("%s: %s has an '%s' qdisc (tc qdisc show dev %s); "
			   "kvmbpf needs clsact: remove it (tc qdisc del dev "
			   "%s ingress) or use another device", cmd, dev, kind,
			   dev, dev);
	return 0;
}

void tc_detach(__u32 ifindex, bool egress, bool destroy_clsact)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = KVB_TC_HANDLE,
		    .priority = KVB_TC_PRIO);

	hook.attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
	bpf_tc_detach(&hook, &to);
	/* the clsact kvmbpf created goes, unless another's filters came
	 * onto it since (an admin's, another tool's): theirs stay */
	if (destroy_clsact && host_tc_filters(ifindex) == 0) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

/* The name of name's driver (ethtool's), "" when it cannot be told. */
void dev_driver(const char *name, char *buf, size_t len)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	buf[0] = 0;
	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&di;
	if (!ioctl(fd, SIOCETHTOOL, &ifr))
		snprintf(buf, len, "%s", di.driver);
	close(fd);
}

static int xdp_pin_path(struct fabric *fb, __u32 ifindex, char *buf,
			size_t len)
{
	int n = snprintf(buf, len, "%s/link_xdp_%u", fb->dir, ifindex);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int xdp_attach(struct fabric *fb, __u32 ifindex, bool bound)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	int fd, ret, prog = fb->prog_xdp;
	char path[512];

	ret = xdp_pin_path(fb, ifindex, path, sizeof(path));
	if (ret)
		return ret;
	if (bound) {
		prog = xdp_bound_prog(fb->dir, ifindex);
		if (prog < 0)
			return prog;
	}
	/* Native where the driver has it (tun, veth, most NICs), else
	 * generic; a device-bound program only native: asked for native
	 * mode, a driver without it is EOPNOTSUPP (the caller says so),
	 * not generic mode's EINVAL, which names nothing. */
	lo.flags = bound ? XDP_FLAGS_DRV_MODE : 0;
	fd = bpf_link_create(prog, (int)ifindex, BPF_XDP, &lo);
	ret = -errno;
	if (bound)
		close(prog);
	if (fd < 0)
		return ret;
	ret = bpf_obj_pin(fd, path) ? -errno : 0;
	if (ret)
		bpf_link_detach(fd);
	close(fd);
	return ret;
}

/* Swap the program behind the pinned XDP link: atomic, no packet lost. */
int xdp_update(struct fabric *fb, __u32 ifindex, bool bound)
{
	int fd, ret, prog = fb->prog_xdp;
	char path[512];

	ret = xdp_pin_path(fb, ifindex, path, sizeof(path));
	if (ret)
		return ret;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bound) {
		prog = xdp_bound_prog(fb->dir, ifindex);
		if (prog < 0) {
			close(fd);
			return prog;
		}
	}
	ret = bpf_link_update(fd, prog, NULL) ? -errno : 0;
	if (bound)
		close(prog);
	close(fd);
	return ret;
}

/* Does device ifindex's tc hook (egress or ingress) run one of ids? */
bool tc_runs_one_of(__u32 ifindex, bool egress, const __u32 *ids,
			   int n)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = KVB_TC_HANDLE,
		    .priority = KVB_TC_PRIO);

	if (bpf_tc_query(&hook, &to))
		return false;
	for (int i = 0; i < n; i++)
		if (to.prog_id == ids[i])
			return true;
	return false;
}

/* Is our tc ingress filter on the device? (identity of an attached port) */
bool tc_present(__u32 ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = KVB_TC_HANDLE,
		    .priority = KVB_TC_PRIO);

	return bpf_tc_query(&hook, &to) == 0;
}

void xdp_detach(struct fabric *fb, __u32 ifindex)
{
	char path[512];
	int fd;

	if (xdp_pin_path(fb, ifindex, path, sizeof(path)))
		return;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(path);
}

static int ifreq_ioctl(const char *dev, unsigned long req, struct ifreq *ifr)
{
	int fd, ret;

	if (strlen(dev) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(ifr->ifr_name, dev, IFNAMSIZ - 1);
	ret = ioctl(fd, req, ifr) ? -errno : 0;
	close(fd);
	return ret;
}

int dev_get_mac(const char *dev, __u8 mac[6])
{
	struct ifreq ifr = {};
	int ret = ifreq_ioctl(dev, SIOCGIFHWADDR, &ifr);

	if (!ret)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return ret;
}

/* The device's IFF_* flags. */
int dev_get_flags(const char *dev, unsigned int *flags)
{
	struct ifreq ifr = {};
	int ret = ifreq_ioctl(dev, SIOCGIFFLAGS, &ifr);

	if (!ret)
		*flags = (unsigned int)(unsigned short)ifr.ifr_flags;
	return ret;
}

/*
 * An uplink receives frames for the guests' MACs, not only its own: it
 * must be promiscuous while it is part of a network.
 */
int dev_set_promisc(const char *dev, bool on)
{
	struct ifreq ifr = {};
	int ret = ifreq_ioctl(dev, SIOCGIFFLAGS, &ifr);

	if (ret)
		return ret;
	if (on)
		ifr.ifr_flags |= IFF_PROMISC;
	else
		ifr.ifr_flags &= ~IFF_PROMISC;
	return ifreq_ioctl(dev, SIOCSIFFLAGS, &ifr);
}

/*
 * The host has no business on a guest's tap: no router solicitations, MLD
 * or DAD from the host's own IPv6 into the guest's network (libvirt does
 * the same for its taps). Best effort: IPv6 may be off altogether. True
 * when this turned it off (it was on), so that detach turns it back on.
 */
static void ipv6_path(const char *dev, char path[128])
{
	snprintf(path, 128, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", dev);
}

/* disable_ipv6 of dev: 0 or 1, -1 if there is none */
static int ipv6_disabled(const char *dev)
{
	char path[128], v[8] = "";
	FILE *f;

	ipv6_path(dev, path);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(v, sizeof(v), f))
		v[0] = 0;
	fclose(f);
	return v[0] == '0' ? 0 : v[0] == '1' ? 1 : -1;
}

static void ipv6_set_disabled(const char *dev, bool off)
{
	char path[128];
	FILE *f;

	ipv6_path(dev, path);
	f = fopen(path, "w");
	if (f) {
		fputs(off ? "1\n" : "0\n", f);
		fclose(f);
	}
}

/* is the host's IPv6 on dev on (disable_ipv6 reads 0)? */
bool dev_ipv6_on(const char *dev)
{
	return ipv6_disabled(dev) == 0;
}

/* the caller asked dev_ipv6_on first, and recorded the answer */
void dev_quiet_ipv6(const char *dev)
{
	ipv6_set_disabled(dev, true);
}

void dev_restore_ipv6(const char *dev)
{
	ipv6_set_disabled(dev, false);
}
