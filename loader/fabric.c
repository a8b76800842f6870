// SPDX-License-Identifier: MIT
/*
 * The pinned fabric: a bpffs directory holding the maps and programs. The
 * first command on a new directory loads the BPF objects, which pin their
 * maps by name there; later commands only open the pins. Nothing here
 * keeps running: the kernel holds the state.
 */
#define _GNU_SOURCE	/* setns */
#include <dirent.h>
#include <sched.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kvmbpf.h"
#include "kfeat.h"
#include "tap.skel.h"
#include "tap_xdp.skel.h"

#define PIN_TC_INGRESS "prog_tc_ingress"
#define PIN_TC_EGRESS "prog_tc_egress"
#define PIN_XDP "prog_xdp"
#define PIN_CT_FORGET "prog_ct_forget"

static int ensure_bpffs(const char *dir)
{
	struct statfs st;
	bool made;

	if (statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC) {
		mkdir("/sys/fs/bpf", 0700);
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
			return err("cannot mount bpffs on /sys/fs/bpf: %s",
				   strerror(errno));
	}
	made = !mkdir(dir, 0700);
	if (!made && errno != EEXIST) {
		/* bpffs refuses names with a dot: say so instead of EPERM */
		const char *base = strrchr(dir, '/');

		if (errno == EPERM && strchr(base ? base : dir, '.'))
			return err("cannot create %s: bpffs names may not "
				   "contain '.'", dir);
		return err("cannot create %s: %s", dir, strerror(errno));
	}
	if (statfs(dir, &st) || st.f_type != BPF_FS_MAGIC) {
		if (made)	/* nothing of ours left where it was refused */
			rmdir(dir);
		return err("%s is not on a bpffs mount", dir);
	}
	return 0;
}

/*
 * Another layout is refused rather than misread: the layout kvb_meta
 * records (its first field in every layout), or pins named kvb_*_vN, as
 * layouts up to 4 named every map.
 */
static int refuse_layout(const char *dir, unsigned int found)
{
	return err("%s holds map layout v%u, this build uses v%u: save its "
		   "configuration with the kvmbpf that made it ('kvmbpf save > "
		   "FILE'), then 'kvmbpf reset' with this one (it removes the "
		   "fabric, programs, gateway interfaces and dnsmasq too) and "
		   "'kvmbpf load FILE'", dir, found, KVB_LAYOUT_VERSION);
}

/*
 * The map layout of the fabric in dir when it is not this build's: the
 * number, else 0 (this build's, no fabric, or unreadable: the commands
 * say which).
 */
unsigned int fabric_other_layout(const char *dir)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	unsigned int found = 0;
	char path[512];
	struct dirent *de;
	__u8 *val;
	DIR *d;
	int fd;

	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) && !found) {
		const char *v = strrchr(de->d_name, '_');

		if (!strncmp(de->d_name, "kvb_", 4) && v && v[1] == 'v' &&
		    sscanf(v + 2, "%u", &found) != 1)
			found = 0;
	}
	closedir(d);
	if (found)
		return found;
	snprintf(path, sizeof(path), "%s/%s", dir, KVB_MAP_META);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.value_size >= 4 &&
	    (val = calloc(1, info.value_size))) {
		if (!bpf_map_lookup_elem(fd, &zero, val))
			memcpy(&found, val, sizeof(__u32));
		free(val);
	}
	close(fd);
	return found != KVB_LAYOUT_VERSION ? found : 0;
}

static int check_layout(const char *dir)
{
	unsigned int found;
	DIR *d = opendir(dir);

	if (!d)
		return err("cannot read %s: %s", dir, strerror(errno));
	closedir(d);
	found = fabric_other_layout(dir);
	return found ? refuse_layout(dir, found) : 0;
}

/* A pinned map of the fabric by name (the fd is the caller's), or -1. */
int open_map(struct fabric *fb, const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", fb->dir, name);
	return bpf_obj_get(path);
}

static int pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Pin prog as name, replacing an older pin (we hold the fabric lock). */
static int pin_prog(const char *dir, struct bpf_program *prog,
		    const char *name)
{
	char path[512];

	if (pin_path(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	unlink(path);
	return bpf_program__pin(prog, path);
}

/* FNV-1a over the BPF objects this loader embeds: "which build". */
__u64 fabric_build_hash(void)
{
	const void *objs[2];
	size_t lens[2];
	__u64 h = FNV1A_INIT;

	objs[0] = kvb_tap__elf_bytes(&lens[0]);
	objs[1] = kvb_tap_xdp__elf_bytes(&lens[1]);
	for (int o = 0; o < 2; o++)
		h = fnv1a(h, objs[o], lens[o]);
	return h;
}

/*
 * A new fabric's NAT port key: 128 random bits from getrandom, written
 * once; a reload keeps the pinned map and with it the key (and so every
 * live flow's port stays what it was).
 */
static int natst_init(const char *dir)
{
	struct kvb_natst st;
	char path[512];
	__u32 zero = 0;
	int fd, ret = 0;

	if (pin_path(path, sizeof(path), dir, KVB_MAP_NATST))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, &st))
		ret = -errno;
	else if (!st.key[0] && !st.key[1]) {
		if (getrandom(st.key, sizeof(st.key), 0) != sizeof(st.key))
			ret = -EIO;
		else if (bpf_map_update_elem(fd, &zero, &st, BPF_EXIST))
			ret = -errno;
	}
	close(fd);
	return ret;
}

/*
 * Arm the expiry sweep (kvb_ctsweep: NAT's flows, address bindings, ACL
 * connections, the MAC table): its timer's callback lives in the program
 * run here (the timer keeps it loaded); after a reload, the new build's
 * callback takes over.
 */
static int sweep_arm(struct bpf_program *prog)
{
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
		    .data_size_in = sizeof(pkt));

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &o))
		return -errno;
	return o.retval ? -EIO : 0;
}

static int open_pin(const char *dir, const char *name)
{
	char path[512];

	if (pin_path(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	return bpf_obj_get(path);
}

/*
 * Did a load of dir's programs finish (fabric_load_programs: its programs
 * pinned, and kvb_meta written last, with this layout)? Not after a first
 * command killed while it loaded them: its maps are pinned, perhaps some
 * programs, and nothing was attached or made, since every command that
 * does opens the fabric first (fab), which asks this.
 */
bool fabric_loaded(const char *dir)
{
	struct kvb_meta m = { 0 };
	__u32 zero = 0;
	int fd = open_pin(dir, PIN_XDP);

	if (fd < 0)
		return false;
	close(fd);
	fd = open_pin(dir, KVB_MAP_META);
	if (fd < 0)
		return false;
	if (bpf_map_lookup_elem(fd, &zero, &m))
		m.layout = 0;
	close(fd);
	return m.layout == KVB_LAYOUT_VERSION;
}

/*
 * The NAT flows no guest port can take any more go now, with their counts
 * and mappings (kvb_ct_forget, bpf/lib/nat.h says why in the datapath):
 * after a port that could hold them left, or a routed network was
 * unpeered from its nat network. One walk of kvb_ct however many ports
 * left: while a hold is on (net del, gc, reset), the walk waits for the
 * last release. A fabric whose programs predate it (not upgraded yet)
 * has no such pin: its flows expire as before. Returns how many flows
 * went.
 */
static int forget_run(struct fabric *fb)
{
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
		    .data_size_in = sizeof(pkt));
	int fd = open_pin(fb->dir, PIN_CT_FORGET), ret;

	if (fd < 0)
		return 0;
	ret = bpf_prog_test_run_opts(fd, &o) ? -errno : (int)o.retval;
	close(fd);
	return ret;
}

int nat_flows_forget(struct fabric *fb)
{
	if (fb->forget_hold) {
		fb->forget_due = true;
		return 0;
	}
	fb->forget_due = false;
	return forget_run(fb);
}

void nat_forget_hold(struct fabric *fb)
{
	fb->forget_hold++;
}

int nat_forget_release(struct fabric *fb)
{
	if (fb->forget_hold && --fb->forget_hold)
		return 0;
	return fb->forget_due ? nat_flows_forget(fb) : 0;
}

/*
 * The guest ports this process's upkeep forgot because their device was
 * gone (a few: detach asks whether its DEV was one of them).
 */
#define GC_GONE_MAX 16
static char gc_gone[GC_GONE_MAX][IF_NAMESIZE];
static int gc_ngone;

void fabric_gc_gone(const char *dev)
{
	if (gc_ngone < GC_GONE_MAX)
		snprintf(gc_gone[gc_ngone++], IF_NAMESIZE, "%s", dev);
}

bool fabric_gc_forgot(const char *dev)
{
	for (int i = 0; i < gc_ngone; i++)
		if (!strcmp(gc_gone[i], dev))
			return true;
	return false;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* The cookie of this process's network namespace (0: unknown). */
static __u64 netns_cookie(void)
{
	__u64 c = 0;
	socklen_t len = sizeof(c);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &len))
		c = 0;
	close(fd);
	return c;
}

/*
 * A fabric made in another network namespace, whose pins this one sees
 * through a shared bpffs (nsenter --net, a container with /sys/fs/bpf):
 * its ports' ifindexes name other devices here, and its upkeep would
 * forget them all and hook this namespace's devices. Refused.
 */
static __u64 netns_ino_self(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (__u64)st.st_ino;
}

static __u64 netns_cookie(void);

/*
 * Is the network namespace at path (an nsfs file) the one of cookie want?
 * Asked in a child that enters it (setns), so that an inode number the
 * kernel gave again to a later namespace is not taken for the fabric's.
 * Anything that cannot tell says yes (alive: the caller refuses).
 */
static bool netns_is(const char *path, __u64 want)
{
	__u64 got = 0;
	int p[2];
	pid_t pid;

	if (pipe(p))
		return true;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return true;
	}
	if (!pid) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		__u64 c = 0;

		if (fd >= 0 && !setns(fd, CLONE_NEWNET))
			c = netns_cookie();
		if (write(p[1], &c, sizeof(c)) != sizeof(c))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &got, sizeof(got)) != sizeof(got))
		got = 0;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return !got || got == want;
}

/*
 * Does the network namespace of fabric fb still live, as far as this
 * process can see: a process in it, or a name under /run/netns (ip
 * netns)? Names the first found into where. Blind to what another PID
 * or mount namespace holds (a container): reset force asks for the
 * fabric's cookie as well.
 */
bool fabric_netns_alive(struct fabric *fb, char *where, size_t len)
{
	struct kvb_meta m = { 0 };
	__u32 zero = 0;
	struct dirent *de;
	char path[300];
	struct stat st;
	DIR *d;
	bool found = false;

	if (bpf_map_lookup_elem(fb->meta_fd, &zero, &m) || !m.netns_ino)
		return false;
	d = opendir("/run/netns");
	while (d && !found && (de = readdir(d))) {
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		if (de->d_name[0] != '.' && !stat(path, &st) &&
		    (__u64)st.st_ino == m.netns_ino &&
		    netns_is(path, m.netns)) {
			snprintf(where, len, "%s", path);
			found = true;
		}
	}
	if (d)
		closedir(d);
	d = opendir("/proc");
	while (d && !found && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
		if (!stat(path, &st) && (__u64)st.st_ino == m.netns_ino &&
		    netns_is(path, m.netns)) {
			snprintf(where, len, "%s", path);
			found = true;
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* The cookie of fb's network namespace, as kvb_meta keeps it (0: none). */
__u64 fabric_netns_cookie(struct fabric *fb)
{
	struct kvb_meta m = { 0 };
	__u32 zero = 0;

	return bpf_map_lookup_elem(fb->meta_fd, &zero, &m) ? 0 : m.netns;
}

bool fabric_foreign(struct fabric *fb)
{
	__u64 there = fabric_netns_cookie(fb), here = netns_cookie();

	return there && here && there != here;
}

static int check_netns(struct fabric *fb)
{
	__u64 there = fabric_netns_cookie(fb);

	if (opts.any_netns || !fabric_foreign(fb))
		return 0;
	return err("%s is the fabric of another network namespace (cookie "
		   "%llu; this one's is %llu): its ports are that namespace's "
		   "devices. Run kvmbpf in it (nsenter --net=/run/netns/NAME "
		   "kvmbpf ...), or give this namespace a fabric of its own "
		   "(--bpffs); once that namespace is gone, with its devices, "
		   "'kvmbpf reset force %llu' removes its pins", fb->dir,
		   (unsigned long long)there,
		   (unsigned long long)netns_cookie(),
		   (unsigned long long)there);
}

static void write_meta(const char *dir)
{
	struct kvb_meta m = { .layout = KVB_LAYOUT_VERSION,
			      .build_hash = fabric_build_hash(),
			      .loaded_at = (__u64)time(NULL),
			      .netns = netns_cookie(),
			      .netns_ino = netns_ino_self() };
	char path[512];
	__u32 zero = 0;
	int fd;

	snprintf(m.version, sizeof(m.version), "%s", KVMBPF_VERSION);
	if (pin_path(path, sizeof(path), dir, KVB_MAP_META))
		return;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		struct kvb_meta old;

		/* ACL set ids are never given twice, across reloads too */
		if (!bpf_map_lookup_elem(fd, &zero, &old) &&
		    old.layout == KVB_LAYOUT_VERSION)
			m.acl_set_last = old.acl_set_last;
		bpf_map_update_elem(fd, &zero, &m, BPF_ANY);
		close(fd);
	}
}

/*
 * Fill tc ingress's stage slots with this build's programs. The pinned
 * kvb_stages is shared by every build's entry: after an upgrade, entries
 * still on devices call the new stages, which re-derive all they need.
 */
static int stages_fill(struct kvb_tap *ts)
{
	const struct {
		__u32 slot;
		struct bpf_program *prog;
	} st[] = {
		{ KVB_STAGE_WAN, ts->progs.kvb_tc_wan },
		{ KVB_STAGE_NAT, ts->progs.kvb_tc_nat },
		{ KVB_STAGE_ROUTED, ts->progs.kvb_tc_routed },
		{ KVB_STAGE_SWITCH, ts->progs.kvb_tc_switch },
		{ KVB_STAGE_DHCP, ts->progs.kvb_tc_dhcp },
		{ KVB_STAGE_ACL_OUT, ts->progs.kvb_tc_acl_out },
		{ KVB_STAGE_OVERLAY, ts->progs.kvb_tc_overlay },
		{ KVB_STAGE_ACL_IN, ts->progs.kvb_tc_acl_in },
	};
	int fd = bpf_map__fd(ts->maps.kvb_stages);

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		int prog = bpf_program__fd(st[i].prog);

		if (bpf_map_update_elem(fd, &st[i].slot, &prog, BPF_ANY))
			return -errno;
	}
	return 0;
}

/*
 * A fabric made before kvb_portdev existed (an upgrade): every port's
 * device that is there goes in, or the new programs would take every
 * port for gone. A device that is not there any more fails (ENODEV) and
 * stays out, as the kernel would have removed it.
 */
static void portdev_fill(const char *dir, int fd)
{
	char path[512];
	__u32 key, *prev = NULL;
	int pfd;

	if (pin_path(path, sizeof(path), dir, KVB_MAP_PORT))
		return;
	pfd = bpf_obj_get(path);
	if (pfd < 0)
		return;	/* a new fabric: no ports yet */
	while (!bpf_map_get_next_key(pfd, prev, &key)) {
		bpf_map_update_elem(fd, &key, &key, BPF_ANY);
		prev = &key;
	}
	close(pfd);
}

/*
 * kvb_xdptx (XDP's redirect targets) and kvb_portdev (every port's
 * device) are pinned here and handed to the objects, not pinned by
 * libbpf: the kernel sets BPF_F_RDONLY_PROG on every devmap, and libbpf
 * 1.1 then refuses to reuse the pin (its flags differ from the object's,
 * which may not ask for the flag: creation refuses it).
 */
static int devmap_reuse(const char *dir, const char *name, struct bpf_map *m)
{
	char path[512];
	int fd, ret;

	if (pin_path(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP_HASH, name,
				    sizeof(__u32), sizeof(__u32), KVB_MAX_PORTS,
				    NULL);
		if (fd < 0)
			return -errno;
		if (!strcmp(name, KVB_MAP_PORTDEV))
			portdev_fill(dir, fd);
		if (bpf_obj_pin(fd, path)) {
			ret = -errno;
			close(fd);
			return ret;
		}
	}
	ret = bpf_map__reuse_fd(m, fd);
	close(fd);
	return ret;
}

static int xdptx_reuse(const char *dir, struct bpf_map *m)
{
	return devmap_reuse(dir, KVB_MAP_XDPTX, m);
}

/* kvb_portdev, made (and filled) when a fabric of before it has none. */
static int portdev_ensure(const char *dir)
{
	char path[512];
	int fd, ret = 0;

	if (pin_path(path, sizeof(path), dir, KVB_MAP_PORTDEV))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_DEVMAP_HASH, KVB_MAP_PORTDEV,
			    sizeof(__u32), sizeof(__u32), KVB_MAX_PORTS, NULL);
	if (fd < 0)
		return -errno;
	portdev_fill(dir, fd);
	if (bpf_obj_pin(fd, path))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Load both objects; libbpf creates or reuses the pinned maps by name, so
 * a reload (upgrade) keeps every map and its contents. The new programs
 * replace the pinned ones; devices keep running the old ones until they
 * are swapped (see do_upgrade).
 */
int fabric_load_programs(const char *dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dir);
	struct kvb_tap_xdp *xs = NULL;
	struct kvb_tap *ts = NULL;
	int ret;

	ts = kvb_tap__open_opts(&oo);
	xs = kvb_tap_xdp__open_opts(&oo);
	if (!ts || !xs) {
		ret = -errno;
		goto out;
	}
	/* a device-bound one is loaded for its device (xdp_bound_prog);
	 * the unit tests' stand-in for the uplink's never */
	bpf_program__set_autoload(xs->progs.kvb_xdp_bound, false);
	bpf_program__set_autoload(xs->progs.kvb_xdp_up_test, false);
	ts->rodata->kvb_kern_ctx = kernel_has_kern_ctx();
	xs->rodata->kvb_kern_ctx = kernel_has_kern_ctx();
	xs->rodata->kvb_xdp_meta = kernel_has_xdp_meta();
	ret = devmap_reuse(dir, KVB_MAP_PORTDEV, ts->maps.kvb_portdev);
	if (!ret)
		ret = kvb_tap__load(ts);
	if (!ret)
		ret = xdptx_reuse(dir, xs->maps.kvb_xdptx);
	if (!ret)
		ret = devmap_reuse(dir, KVB_MAP_PORTDEV, xs->maps.kvb_portdev);
	if (!ret)
		ret = kvb_tap_xdp__load(xs);
	if (ret)
		goto out;
	ret = stages_fill(ts);
	if (!ret)
		ret = pin_prog(dir, ts->progs.kvb_tc_ingress, PIN_TC_INGRESS);
	if (!ret)
		ret = pin_prog(dir, ts->progs.kvb_tc_egress, PIN_TC_EGRESS);
	if (!ret)
		ret = pin_prog(dir, xs->progs.kvb_xdp, PIN_XDP);
	if (!ret)
		ret = pin_prog(dir, ts->progs.kvb_ct_forget, PIN_CT_FORGET);
	if (!ret)
		ret = natst_init(dir);
	if (!ret)
		ret = sweep_arm(ts->progs.kvb_ct_sweep_arm);
out:
	kvb_tap__destroy(ts);
	kvb_tap_xdp__destroy(xs);
	if (ret)
		err("loading the BPF programs into %s failed: %s", dir,
		    strerror(-ret));
	else
		write_meta(dir);
	return ret;
}

#ifndef BPF_F_XDP_DEV_BOUND_ONLY
#define BPF_F_XDP_DEV_BOUND_ONLY (1U << 6)
#endif

/*
 * The XDP program of an uplink or of a guest port that is no tap
 * (kvb_xdp_bound), loaded bound to its device: the driver's VLAN hint
 * (bpf_xdp_metadata_rx_vlan_tag) is only for a program bound to the
 * device (bpf/tap_xdp.bpf.c says why it needs it). The maps are the
 * fabric's pinned ones, as for every program. Returns the program's fd
 * (the caller's to close) or -errno.
 */
int xdp_bound_prog(const char *dir, __u32 ifindex)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dir);
	struct kvb_tap_xdp *xs = kvb_tap_xdp__open_opts(&oo);
	int ret;

	if (!xs)
		return -errno;
	bpf_program__set_autoload(xs->progs.kvb_xdp, false);
	bpf_program__set_autoload(xs->progs.kvb_xdp_up_test, false);
	bpf_program__set_ifindex(xs->progs.kvb_xdp_bound, ifindex);
	xs->rodata->kvb_kern_ctx = kernel_has_kern_ctx();
	xs->rodata->kvb_xdp_meta = kernel_has_xdp_meta();
	ret = bpf_program__set_flags(xs->progs.kvb_xdp_bound,
				     BPF_F_XDP_DEV_BOUND_ONLY);
	if (!ret)
		ret = xdptx_reuse(dir, xs->maps.kvb_xdptx);
	if (!ret)
		ret = devmap_reuse(dir, KVB_MAP_PORTDEV, xs->maps.kvb_portdev);
	if (!ret)
		ret = kvb_tap_xdp__load(xs);
	if (!ret) {
		ret = dup(bpf_program__fd(xs->progs.kvb_xdp_bound));
		if (ret < 0)
			ret = -errno;
	}
	kvb_tap_xdp__destroy(xs);
	return ret;
}


/* Reopen the pinned programs (after a reload). */
int fabric_reopen_progs(struct fabric *fb)
{
	int *fds[] = { &fb->prog_tc_ingress, &fb->prog_tc_egress, &fb->prog_xdp };
	const char *names[] = { PIN_TC_INGRESS, PIN_TC_EGRESS, PIN_XDP };

	for (size_t i = 0; i < 3; i++) {
		int fd = open_pin(fb->dir, names[i]);

		if (fd < 0)
			return -errno;
		close(*fds[i]);
		*fds[i] = fd;
	}
	return 0;
}

/*
 * Open the fabric in dir. create: a command that changes the fabric, which
 * creates it (mounting bpffs, loading the programs) when there is none
 * and takes the lock alone. Otherwise a command that only reads: it
 * shares the lock, and a directory with no fabric is an error (a
 * mistyped --bpffs must not conjure an empty fabric).
 */
static int fabric_open_mode(struct fabric *fb, const char *dir, bool create,
			    bool make)
{
	struct stat st;
	int *fds[] = { &fb->net_fd, &fb->port_fd, &fb->fdb_fd, &fb->stats_fd,
		       &fb->addr_fd, &fb->meta_fd, &fb->ct_fd, &fb->fwd_fd,
		       &fb->ctcnt_fd, &fb->mon_fd, &fb->events_fd, &fb->route_fd,
		       &fb->natst_fd, &fb->ctsweep_fd, &fb->natmap_fd,
		       &fb->hostif_fd,
		       &fb->acl_fd, &fb->aclr_fd, &fb->aclp_fd, &fb->aclsel_fd, &fb->acllpm_fd,
		       &fb->aclbit_fd, &fb->aclcnt_fd, &fb->aclct_fd, &fb->aclct4_fd, &fb->aclctn_fd, &fb->aclon_fd,
		       &fb->xdptx_fd, &fb->portdev_fd, &fb->ctpn_fd,
		       &fb->prog_tc_ingress,
		       &fb->prog_tc_egress,
		       &fb->prog_xdp };
	const char *names[] = { KVB_MAP_NET, KVB_MAP_PORT, KVB_MAP_FDB,
				KVB_MAP_STATS, KVB_MAP_ADDR, KVB_MAP_META,
				KVB_MAP_CT, KVB_MAP_FWD, KVB_MAP_CTCNT,
				KVB_MAP_MON, KVB_MAP_EVENTS, KVB_MAP_ROUTE,
				KVB_MAP_NATST, KVB_MAP_CTSWEEP, KVB_MAP_NATMAP,
				KVB_MAP_HOSTIF,
				KVB_MAP_ACL, KVB_MAP_ACLR, KVB_MAP_ACLP, KVB_MAP_ACLSEL,
				KVB_MAP_ACLLPM, KVB_MAP_ACLBIT, KVB_MAP_ACLCNT,
				KVB_MAP_ACLCT, KVB_MAP_ACLCT4, KVB_MAP_ACLCTN, KVB_MAP_ACLON, KVB_MAP_XDPTX, KVB_MAP_PORTDEV,
				KVB_MAP_CTPN, PIN_TC_INGRESS,
				PIN_TC_EGRESS, PIN_XDP };
	int ret;

	memset(fb, 0, sizeof(*fb));
	fb->lock_fd = -1;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		*fds[i] = -1;
	if (snprintf(fb->dir, sizeof(fb->dir), "%s", dir) >=
	    (int)sizeof(fb->dir))
		return err("bpffs directory name too long: %s", dir);
	if (!make && (stat(dir, &st) || !S_ISDIR(st.st_mode)))
		return err("there is no fabric in %s (no such directory: "
			   "see --bpffs)", dir);
	if (make && ensure_bpffs(dir))
		return -1;
	if (check_layout(dir))
		return -1;

	/*
	 * One command at a time changes a fabric; readers share it. The lock
	 * is the directory's: one that `reset` (or a failed first command)
	 * removed while this command waited for it locks nothing any more,
	 * and a directory of the same name may be another command's fabric
	 * by then; so the lock is taken again on the directory the name
	 * gives now.
	 */
	for (int tries = 0;; tries++) {
		struct stat held;

		fb->lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fb->lock_fd < 0 ||
		    flock(fb->lock_fd, create ? LOCK_EX : LOCK_SH)) {
			int e = errno;

			if (fb->lock_fd >= 0)
				close(fb->lock_fd);
			fb->lock_fd = -1;
			return err("cannot lock %s: %s", dir, strerror(e));
		}
		if (!fstat(fb->lock_fd, &held) && !stat(dir, &st) &&
		    held.st_dev == st.st_dev && held.st_ino == st.st_ino)
			break;
		close(fb->lock_fd);
		fb->lock_fd = -1;
		if (tries == 8)
			return err("cannot lock %s: it keeps being removed",
				   dir);
		if (!make && stat(dir, &st))
			return err("there is no fabric in %s (it was removed "
				   "while this command waited)", dir);
		if (make && ensure_bpffs(dir))
			return -1;
		if (check_layout(dir))
			return -1;
	}

	/* a load killed half-way (a first net add): the next net add
	 * loads again over its pins, anything else is refused (reset
	 * removes them: reset_unloaded) */
	if (!fabric_loaded(dir)) {
		if (!make) {
			if (fabric_pinned(dir))
				err("there is no fabric in %s (the load of its "
				    "programs never finished: net add finishes "
				    "it, reset removes it)", dir);
			else
				err("there is no fabric in %s (no kvmbpf pins: "
				    "see --bpffs)", dir);
			goto fail;
		}
		if (fabric_load_programs(dir))
			goto fail;
	}
	/* a fabric of an earlier build, whose programs have not been
	 * upgraded yet, has no kvb_portdev: a changing command makes it
	 * (attach and detach write it), a reading one does without */
	if (create && portdev_ensure(dir))
		goto fail;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		*fds[i] = open_pin(dir, names[i]);
		if (*fds[i] < 0 && !create &&
		    !strcmp(names[i], KVB_MAP_PORTDEV))
			continue;
		if (*fds[i] < 0) {
			err("cannot open %s/%s: %s", dir, names[i],
			    strerror(errno));
			goto fail;
		}
	}
	if (check_netns(fb))
		goto fail;
	return 0;
fail:
	ret = -1;
	fabric_close(fb);
	return ret;
}

/* Is there a fabric in dir (its programs pinned)? */
bool fabric_exists(const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, PIN_XDP);
	return !access(path, F_OK);
}

int fabric_open(struct fabric *fb, const char *dir)
{
	return fabric_open_mode(fb, dir, true, true);
}

int fabric_open_ro(struct fabric *fb, const char *dir)
{
	return fabric_open_mode(fb, dir, false, false);
}

void fabric_close(struct fabric *fb)
{
	int *fds[] = { &fb->net_fd, &fb->port_fd, &fb->fdb_fd, &fb->stats_fd,
		       &fb->addr_fd, &fb->meta_fd, &fb->ct_fd, &fb->fwd_fd,
		       &fb->ctcnt_fd, &fb->mon_fd, &fb->events_fd, &fb->route_fd,
		       &fb->natst_fd, &fb->ctsweep_fd, &fb->natmap_fd,
		       &fb->hostif_fd,
		       &fb->acl_fd, &fb->aclr_fd, &fb->aclp_fd, &fb->aclsel_fd, &fb->acllpm_fd,
		       &fb->aclbit_fd, &fb->aclcnt_fd, &fb->aclct_fd, &fb->aclct4_fd, &fb->aclctn_fd, &fb->aclon_fd,
		       &fb->xdptx_fd, &fb->portdev_fd, &fb->ctpn_fd,
		       &fb->prog_tc_ingress,
		       &fb->prog_tc_egress,
		       &fb->prog_xdp,
		       &fb->lock_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	if (fb->dhcphost_fd > 0)
		close(fb->dhcphost_fd);
	fb->dhcphost_fd = 0;
}

/*
 * The CLI's fabric, opened on first use: fab() by a command that changes
 * it, fab_ro() by one that only reads; NULL when it cannot be opened (the
 * reason is printed), for the command to return. Opening changes nothing: the
 * upkeep of a fabric (forgetting vanished devices, reviving dnsmasq) is a
 * step of its own that changing commands take (fabric_tend, lifecycle.c).
 */
static struct fabric cli_fb;
static int cli_opened;	/* 0, 1 read-only, 2 read-write */

static struct fabric *fab_mode(bool create)
{
	if (cli_opened < (create ? 2 : 1)) {
		if (cli_opened)
			fabric_close(&cli_fb);
		cli_opened = 0;
		/* a command that changes a fabric makes one only if it
		 * is one that creates (net add, acl add, load): detach,
		 * net del, gc on a host without one leave nothing */
		if (fabric_open_mode(&cli_fb, opts.bpffs, create,
				     create && opts.may_create))
			return NULL;
		cli_opened = create ? 2 : 1;
	}
	return &cli_fb;
}

/* Close the CLI's fabric, if a command opened it (its lock with it). */
void fab_release(void)
{
	if (cli_opened)
		fabric_close(&cli_fb);
	cli_opened = 0;
}

struct fabric *fab(void)
{
	return fab_mode(true);
}

struct fabric *fab_ro(void)
{
	return fab_mode(false);
}

/*
 * Delete every entry of the map behind fd for which match() holds, and
 * return how many went. The keys are collected first and deleted after:
 * deleting while walking a hash map would restart the walk each time.
 */
/* Append key to the growing array *keys (n used, cap allocated). */
static int keys_push(unsigned char **keys, size_t *n, size_t *cap,
		     const void *key, size_t key_size)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		unsigned char *k = realloc(*keys, c * key_size);

		if (!k)
			return -ENOMEM;
		*keys = k;
		*cap = c;
	}
	memcpy(*keys + (*n)++ * key_size, key, key_size);
	return 0;
}

#define MAP_BATCH 4096

/*
 * Call fn on every entry: by batches of MAP_BATCH (a flow table holds up
 * to two million entries), or one key at a time where the kernel has no
 * batch operations for the map.
 */
void map_walk(int fd, size_t key_size, size_t value_size,
	      void (*fn)(const void *key, const void *value, void *arg),
	      void *arg)
{
	size_t tok = key_size > 8 ? key_size : 8;
	unsigned char *kb = malloc(MAP_BATCH * key_size);
	unsigned char *vb = malloc(MAP_BATCH * value_size);
	unsigned char *t1 = calloc(1, tok), *t2 = calloc(1, tok);
	void *in = NULL, *out = t1;
	bool batched = false;

	while (kb && vb && t1 && t2) {
		__u32 count = MAP_BATCH;
		int err = bpf_map_lookup_batch(fd, in, out, kb, vb, &count, NULL);

		if (err && errno != ENOENT)
			break;
		batched = true;
		for (__u32 i = 0; i < count; i++)
			fn(kb + i * key_size, vb + i * value_size, arg);
		if (err)
			break;	/* ENOENT: that was the last batch */
		in = out;
		out = out == t1 ? t2 : t1;
	}
	if (!batched && kb && vb)
		for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, kb);
		     prev = kb)
			if (!bpf_map_lookup_elem(fd, kb, vb))
				fn(kb, vb, arg);
	free(kb);
	free(vb);
	free(t1);
	free(t2);
}

struct collect {
	bool (*match)(const void *key, const void *value, void *arg);
	void *arg;
	unsigned char *keys;
	size_t n, cap, key_size;
};

static void collect_one(const void *key, const void *value, void *arg)
{
	struct collect *c = arg;

	if (c->match(key, value, c->arg))
		keys_push(&c->keys, &c->n, &c->cap, key, c->key_size);
}

int map_delete_where(int fd, size_t key_size, size_t value_size,
		     bool (*match)(const void *key, const void *value,
				   void *arg),
		     void *arg)
{
	struct collect c = { .match = match, .arg = arg, .key_size = key_size };
	void *v = malloc(value_size);
	size_t kept = 0;
	int deleted = 0;

	if (!v)
		return 0;
	map_walk(fd, key_size, value_size, collect_one, &c);
	/* each entry read again after the walk, before the deletes: the
	 * datapath may have rewritten one since (a MAC table entry that a
	 * port pinned meanwhile is no longer the one matched). This narrows
	 * the window to the few syscalls between the read and the delete;
	 * a map has no compare-and-delete to close it */
	for (size_t i = 0; i < c.n; i++) {
		void *k = c.keys + i * key_size;

		if (bpf_map_lookup_elem(fd, k, v) || !match(k, v, arg))
			continue;
		if (kept != i)
			memmove(c.keys + kept * key_size, k, key_size);
		kept++;
	}
	free(v);
	c.n = kept;
	for (size_t i = 0; i < c.n; i += MAP_BATCH) {
		__u32 count = (__u32)(c.n - i < MAP_BATCH ? c.n - i : MAP_BATCH);

		if (!bpf_map_delete_batch(fd, c.keys + i * key_size, &count,
					  NULL)) {
			deleted += (int)count;
			continue;
		}
		/* a key gone meanwhile stops a batch: the rest one by one */
		for (size_t j = i; j < i + MAP_BATCH && j < c.n; j++)
			deleted += !bpf_map_delete_elem(fd, c.keys + j * key_size);
	}
	free(c.keys);
	return deleted;
}

const __u8 *port_mac_given(const struct kvb_port *p)
{
	return (p->flags & KVB_PORT_F_MAC_PINNED) || mac_zero(p->mac) ?
	       NULL : p->mac;
}

/* kvb_net is an array by id: a slot of id 0 holds no network. */
int net_get(struct fabric *fb, __u32 id, struct kvb_net *out)
{
	if (!id || bpf_map_lookup_elem(fb->net_fd, &id, out) || out->id != id)
		return -ENOENT;
	return 0;
}

int net_put(struct fabric *fb, const struct kvb_net *net)
{
	return bpf_map_update_elem(fb->net_fd, &net->id, net, BPF_ANY) ? -errno
								       : 0;
}

/*
 * A network's member list (ports[]: where its floods go). The caller
 * writes the network back (net_put); add checks nothing: port_attach
 * has refused a full network already.
 */
void net_member_add(struct kvb_net *net, __u32 ifindex)
{
	if (net->nports < KVB_MAX_NET_PORTS)
		net->ports[net->nports++] = ifindex;
}

void net_member_remove(struct kvb_net *net, __u32 ifindex)
{
	__u16 w = 0;

	for (__u16 i = 0; i < net->nports && i < KVB_MAX_NET_PORTS; i++)
		if (net->ports[i] != ifindex)
			net->ports[w++] = net->ports[i];
	for (__u16 i = w; i < KVB_MAX_NET_PORTS; i++)
		net->ports[i] = 0;
	net->nports = w;
}

/* Is ifindex in network net's member list? */
bool net_member_has(const struct kvb_net *net, __u32 ifindex)
{
	for (__u16 i = 0; i < net->nports && i < KVB_MAX_NET_PORTS; i++)
		if (net->ports[i] == ifindex)
			return true;
	return false;
}

/* Empty network id's slot (an array's entries cannot be deleted). */
int net_clear(struct fabric *fb, __u32 id)
{
	struct kvb_net none = { 0 };

	return bpf_map_update_elem(fb->net_fd, &id, &none, BPF_ANY) ? -errno
								     : 0;
}

int net_find(struct fabric *fb, const char *name, struct kvb_net *out)
{
	__u32 key, *prev = NULL;

	while (!bpf_map_get_next_key(fb->net_fd, prev, &key)) {
		prev = &key;
		if (!net_get(fb, key, out) &&
		    !strncmp(out->name, name, KVB_NAME_LEN))
			return 0;
	}
	return -ENOENT;
}

int port_get(struct fabric *fb, __u32 ifindex, struct kvb_port *out)
{
	return bpf_map_lookup_elem(fb->port_fd, &ifindex, out) ? -ENOENT : 0;
}

/*
 * Write port entry p (flags: BPF_EXIST or BPF_ANY) under p->ifindex,
 * keeping what the datapath wrote into the entry since p was read: the
 * families it holds to (`held`: a DHCP lease, bind.h), a MAC the guest's
 * first frame pinned (fdb.h) while p has none, and, unless counted (the
 * caller recounted them with addr_count, having changed addresses), the
 * address counts the datapath keeps as it binds. The datapath writes
 * into the entry in place, and a whole entry written from a copy read
 * earlier (at a command's start, milliseconds before) would undo them;
 * the loader never clears `held` or a MAC. Only the same attachment's
 * entry is merged (same slot and role). The window left is between this
 * read and the write. As bpf_map_update_elem: 0, or negative with errno
 * set.
 */
static int port_write(struct fabric *fb, struct kvb_port *p, __u64 flags,
		      bool counted)
{
	struct kvb_port fresh;

	/* the same attachment's entry (a slot is one attachment's) */
	if (!port_get(fb, p->ifindex, &fresh) && fresh.slot == p->slot &&
	    fresh.role == p->role) {
		p->held |= fresh.held;
		if (mac_zero(p->mac) && !mac_zero(fresh.mac)) {
			memcpy(p->mac, fresh.mac, 6);
			p->flags |= KVB_PORT_F_MAC_PINNED;
		}
		if (!counted) {
			p->n_ip4 = fresh.n_ip4;
			p->n_ip6 = fresh.n_ip6;
			p->n_savi = fresh.n_savi;
		}
	}
	return bpf_map_update_elem(fb->port_fd, &p->ifindex, p, flags);
}

int port_store(struct fabric *fb, struct kvb_port *p, __u64 flags)
{
	return port_write(fb, p, flags, false);
}

int port_store_counted(struct fabric *fb, struct kvb_port *p, __u64 flags)
{
	return port_write(fb, p, flags, true);
}

int port_find_by_name(struct fabric *fb, const char *name,
		      struct kvb_port *out)
{
	__u32 key, *prev = NULL;

	while (!bpf_map_get_next_key(fb->port_fd, prev, &key)) {
		prev = &key;
		if (!port_get(fb, key, out) &&
		    !strncmp(out->name, name, KVB_NAME_LEN))
			return 0;
	}
	return -ENOENT;
}

int port_resolve(struct fabric *fb, const char *dev, struct kvb_port *out)
{
	__u32 ifindex = if_nametoindex(dev);

	if (ifindex && !port_get(fb, ifindex, out))
		return 0;
	return port_find_by_name(fb, dev, out);
}

/*
 * Interface names: kvbgwID / kvbgpID for the default fabric; other pin
 * directories (tests, several fabrics) add a hash of the directory, so two
 * fabrics never fight over a name: kvbXXXXgID / kvbXXXXpID.
 */
void gateway_ifnames(__u32 id, char host[16], char port[16])
{
	__u32 h = 2166136261U;

	if (!strcmp(opts.bpffs, KVB_DEFAULT_BPFFS)) {
		snprintf(host, 16, "kvbgw%u", id);
		snprintf(port, 16, "kvbgp%u", id);
		return;
	}
	for (const char *c = opts.bpffs; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619U;
	snprintf(host, 16, "kvb%04xg%u", h & 0xffff, id);
	snprintf(port, 16, "kvb%04xp%u", h & 0xffff, id);
}

/* The fabric's VXLAN device: kvbvx0, or kvbXXXXv0 (as gateway_ifnames). */
void overlay_ifname(char name[16])
{
	char host[16], port[16];

	if (!strcmp(opts.bpffs, KVB_DEFAULT_BPFFS)) {
		snprintf(name, 16, "kvbvx0");
		return;
	}
	gateway_ifnames(0, host, port);	/* kvbXXXXg0 */
	snprintf(name, 16, "%.7sv0", host);
}

void run_path(const struct kvb_net *net, const char *ext, char *buf,
	      size_t len)
{
	char host[16], port[16];

	gateway_ifnames(net->id, host, port);
	snprintf(buf, len, "%s/%s.%s", KVB_RUN_DIR, host, ext);
}

static int port_cmp(const void *a, const void *b)
{
	const struct kvb_port *x = a, *y = b;
	int c = strncmp(x->name, y->name, KVB_NAME_LEN);

	return c ? c : x->ifindex < y->ifindex ? -1 : x->ifindex > y->ifindex;
}

/*
 * Every port, sorted by the device's name (as recorded at attach), then
 * ifindex: listings come out in the same order every time. The caller
 * frees *out; returns the count, or -errno.
 */
int port_list(struct fabric *fb, struct kvb_port **out)
{
	struct kvb_port *ps = NULL, *t;
	__u32 key, *prev = NULL;
	int n = 0, cap = 0;

	while (!bpf_map_get_next_key(fb->port_fd, prev, &key)) {
		prev = &key;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			t = realloc(ps, (size_t)cap * sizeof(*ps));
			if (!t) {
				free(ps);
				return -ENOMEM;
			}
			ps = t;
		}
		if (!port_get(fb, key, &ps[n]))
			n++;
	}
	if (n)
		qsort(ps, (size_t)n, sizeof(*ps), port_cmp);
	*out = ps;
	return n;
}

/* The fabric's NAT state (kvb_natst): 0, or -1 when it cannot be read. */
static int natst_get(struct fabric *fb, struct kvb_natst *st)
{
	__u32 zero = 0;

	return fb->natst_fd < 0 ||
	       bpf_map_lookup_elem(fb->natst_fd, &zero, st) ? -1 : 0;
}

/* kvb_natst.vteps4 as the loader last kept it (overlay.c:
 * overlay_count_v4) */
__u32 fabric_vteps4(struct fabric *fb)
{
	struct kvb_natst st;

	return natst_get(fb, &st) ? 0 : st.vteps4;
}

/*
 * A tag no guest can guess, the same for the fabric's life (hex, 16
 * characters): SipHash of a constant under the fabric's secret NAT key
 * (kvb_siphash_2u64: a PRF, so the tag, in a file local users may read,
 * says nothing of the key). The identifier of a DHCP reservation held
 * for no client is made with it (dhcp.c): dnsmasq would lease the
 * address to a client that sent that identifier as its client-id or
 * DUID.
 */
void fabric_tag(struct fabric *fb, char out[17])
{
	struct kvb_natst st;
	__u64 h;

	if (natst_get(fb, &st) || (!st.key[0] && !st.key[1])) {
		/* no key kept (a fabric not loaded yet): one for this run */
		if (getrandom(st.key, sizeof(st.key), 0) != sizeof(st.key))
			st.key[0] = clock_mono_exact_ns() ^ (__u64)getpid() << 32;
	}
	/* "kvb dhcp", "reserved": the second word's bits 8-15 are set, as
	 * no port search's are */
	h = kvb_siphash_2u64(0x6b76622064686370ULL, 0x7265736572766564ULL,
			     st.key[0], st.key[1]);
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}
