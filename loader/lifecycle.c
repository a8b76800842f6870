// SPDX-License-Identifier: MIT
/*
 * Living with a fabric: gc of vanished devices, reset, upgrade in place,
 * save and load.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kvmbpf.h"

/*
 * Is uplink port p's device still the one attached (its name and its MAC
 * as the network recorded them), only without our tc filter, which
 * another removed (`tc qdisc del dev eth0 clsact`)?
 */
static bool uplink_same(struct fabric *fb, const struct kvb_port *p,
			struct kvb_net *net)
{
	char now[IF_NAMESIZE];
	__u8 mac[6];

	return p->role == KVB_PORT_UPLINK && !net_get(fb, p->net_id, net) &&
	       net->uplink == p->ifindex &&
	       if_indextoname(p->ifindex, now) && !strcmp(now, p->name) &&
	       !dev_get_mac(now, mac) && !memcmp(mac, net->uplink_mac, 6);
}

/*
 * Hook that uplink again, so that its network keeps its LAN: 0, or
 * -errno with nothing of ours left on it. Its clsact is kvmbpf's if this
 * made it (the one kvmbpf made, if any, went with the filter).
 */
static int uplink_rehook(struct fabric *fb, struct kvb_port *p)
{
	bool created = false;
	int ret;

	ret = tc_attach(fb, p->ifindex, false, &created);
	if (!ret)
		ret = tc_attach(fb, p->ifindex, true, NULL);
	if (created)
		p->flags |= KVB_PORT_F_OWN_CLSACT;
	else
		p->flags &= ~KVB_PORT_F_OWN_CLSACT;
	if (!ret && port_store(fb, p, BPF_EXIST))
		ret = -errno;
	if (ret) {
		tc_detach(p->ifindex, false, false);
		tc_detach(p->ifindex, true, created);
		p->flags &= ~KVB_PORT_F_OWN_CLSACT;
		port_store(fb, p, BPF_EXIST);
	}
	return ret;
}

/*
 * gc of a port whose attach or detach (what) was stopped half-way: its
 * device (now: the name at its ifindex, NULL if none) gets back what
 * attach changed if it is still the port's own device (same name), and
 * nothing of it if it is another; the port is forgotten. A detach of it
 * after this finds nothing to do and says so with success (as for a
 * device gone); a WAN device that attach was turning into a bridge's
 * uplink, or whose bridge was being deleted, is the nat networks' WAN
 * port again.
 */
static void gc_unfinished(struct fabric *fb, struct kvb_port *p,
			  const char *now, const char *what, bool verbose)
{
	bool own = now && !strcmp(now, p->name);

	if (!own) {
		p->flags &= ~(KVB_PORT_F_OWN_CLSACT | KVB_PORT_F_PROMISC |
			      KVB_PORT_F_IPV6_OFF);
		port_store(fb, p, BPF_EXIST);
	} else {
		warn("gc: %s: its %s did not finish (the command was "
		     "stopped): what attach changed on the device is put "
		     "back", p->name, what);
	}
	if (verbose) {
		open_json_object(NULL);
		print_string(PRINT_ANY, "dev", "gc: %s", p->name);
		print_uint(PRINT_ANY, "ifindex", " (ifindex %llu)", p->ifindex);
		print_string(PRINT_ANY, "why", ": %s\n",
			     !now ? "device gone" :
			     !strcmp(what, "attach") ?
				     "its attach did not finish" :
				     "its detach did not finish");
		close_json_object();
	}
	/* an XDP link recorded or not (attach records it once made) */
	xdp_detach(fb, p->ifindex);
	net_port_detach(fb, "gc", p);
	if (p->role == KVB_PORT_GUEST)
		fabric_gc_gone(p->name);
	if (own && (p->flags & KVB_PORT_F_NAT_WAN))
		wan_uplink_gone(fb, p->ifindex);
}

/*
 * A port is stale when its device is gone, or when the device now at its
 * ifindex does not carry our tc filter: a new device that reuses the
 * ifindex must never inherit the old port's MACs, addresses or counters.
 * An uplink that is the same device, its filter removed by another, is
 * hooked again (said on stderr); one that cannot be is detached with all
 * that attach changed on it put back (promiscuity), and that said too.
 */
int fabric_gc(struct fabric *fb, bool verbose)
{
	__u32 key, *prev = NULL;
	struct kvb_port p;
	struct kvb_net net;
	int n = 0;

	/* the forgotten ports' NAT flows go in one walk, at the end */
	nat_forget_hold(fb);
	while (!bpf_map_get_next_key(fb->port_fd, prev, &key)) {
		char name[IF_NAMESIZE];
		bool gone, same;

		if (port_get(fb, key, &p)) {
			prev = &key;
			continue;
		}
		gone = !if_indextoname(key, name);
		/* an attach killed half-way (its entry says what it may
		 * have changed on the device), or a guest's or an uplink's
		 * port that is no member of its network (a detach, net del
		 * or reset stopped after it took the port out of the flood
		 * list, before it unhooked it) or whose network is gone:
		 * what attach changed goes back */
		if (p.flags & KVB_PORT_F_ATTACHING) {
			gc_unfinished(fb, &p, gone ? NULL : name, "attach",
				      verbose);
			n++;
			prev = NULL;
			continue;
		}
		if ((p.role == KVB_PORT_GUEST || p.role == KVB_PORT_UPLINK) &&
		    (net_get(fb, p.net_id, &net) ||
		     !net_member_has(&net, key))) {
			gc_unfinished(fb, &p, gone ? NULL : name, "detach",
				      verbose);
			n++;
			prev = NULL;
			continue;
		}
		if (!gone && tc_present(key)) {
			prev = &key;
			continue;
		}
		same = !gone && uplink_same(fb, &p, &net);
		if (same) {
			int r = uplink_rehook(fb, &p);

			if (!r) {
				warn("gc: uplink %s of network %s: its tc filter "
				     "was gone (removed by another): attached "
				     "again", p.name, net.name);
				prev = &key;
				continue;
			}
			/* EBUSY: a qdisc that is no clsact (tc_attach) */
			warn("gc: uplink %s of network %s: its tc filter was "
			     "gone and cannot be attached again (%s): detached, "
			     "the network has no uplink now", p.name, net.name,
			     r == -EBUSY ? "a qdisc other than clsact is on "
					   "its ingress side" : strerror(-r));
			/* nor is it hooked again by its name */
			net.wan_name[0] = 0;
			net_put(fb, &net);
		} else if (gone && p.role == KVB_PORT_UPLINK &&
			   !net_get(fb, p.net_id, &net) &&
			   net_has(&net, NT_UPLINK) && net.uplink == key) {
			warn("gc: uplink %s of network %s: the device is gone: "
			     "the network has no LAN until a device of that "
			     "name comes back (hooked again then)", p.name,
			     net.name);
			/* and with XDP then if it had it (uplink-xdp on) */
			if (p.flags & KVB_PORT_F_XDP)
				net.flags |= KVB_NET_F_UPLINK_XDP;
			else
				net.flags &= ~KVB_NET_F_UPLINK_XDP;
			net_put(fb, &net);
		}
		if (verbose) {
			open_json_object(NULL);
			print_string(PRINT_ANY, "dev", "gc: %s", p.name);
			print_uint(PRINT_ANY, "ifindex", " (ifindex %llu)", key);
			print_string(PRINT_ANY, "why", ": %s\n",
				     gone ? "device gone" :
				     same ? "its tc filter gone, not attached again" :
				     strcmp(name, p.name) ?
					    "ifindex reused by another device" :
					    "its tc filter gone (removed by "
					    "another)");
			close_json_object();
		}
		if (gone && p.role == KVB_PORT_GUEST)
			fabric_gc_gone(p.name);
		/* the same uplink: what attach changed on it goes back */
		if (gone || same)
			net_port_detach(fb, "gc", &p);
		else {
			/* not ours any more: forget it, touch nothing on it
			 * (its qdisc, promiscuity, IPv6 are its own); the
			 * same device whose filter another removed (same
			 * ifindex and name) gets its IPv6 back, and loses
			 * the clsact kvmbpf made if no filter is left on it
			 * (tc_detach) */
			char now[IF_NAMESIZE];

			p.flags &= ~KVB_PORT_F_PROMISC;
			if (!if_indextoname(key, now) || strcmp(now, p.name))
				p.flags &= ~(KVB_PORT_F_IPV6_OFF |
					     KVB_PORT_F_OWN_CLSACT);
			port_store(fb, &p, BPF_EXIST);
			xdp_detach(fb, key);
			p.flags &= ~KVB_PORT_F_XDP;
			net_port_detach(fb, "gc", &p);
		}
		n++;
		prev = NULL;	/* the map changed under the iteration */
	}
	nat_forget_release(fb);
	return n;
}

/*
 * The upkeep of a fabric, the step every changing command takes first
 * (main.c runs it for the commands its tables mark CMD_TEND), and `gc`
 * on its own: forget the ports whose device went away, make again a
 * gateway interface deleted behind its back, start again a network's
 * dnsmasq that died, pick up a WAN address that came after its
 * nat network. A command that only reads never runs it. Returns how many
 * ports were forgotten.
 */
int fabric_tend(struct fabric *fb, bool verbose)
{
	int n;

	/* first: a half-made network's ports and devices go with it */
	net_unfinished(fb);
	n = fabric_gc(fb, verbose);

	/* the ACL sets of the ports it forgot */
	if (n > 0)
		acl_tidy(fb, "gc");

	gateway_tend(fb);
	dhcp_revive(fb);
	uplink_addrs_sync(fb);
	wan_address_refresh(fb);
	/* after the WAN devices' (the host's one NIC: the bridge's uplink
	 * is also a nat network's way out) */
	bridge_uplinks_follow(fb);
	overlay_tend(fb);
	dhcphost_fdb_hold(fb, 0);
	return n;
}

static void gc_details(void)
{
	printf("  Forget the ports whose device went away (or whose ifindex\n"
	       "  another device now has), start again a network's dnsmasq\n"
	       "  that died, pick up a WAN address that came late, undo an\n"
	       "  attach and remove a network whose command was killed\n"
	       "  half-way. Every command that changes the fabric does this\n"
	       "  first; commands that only read never do.\n");
}

static void reset_details(void)
{
	printf("  Remove every network, port and pin of the fabric. force\n"
	       "  COOKIE: a fabric of another network namespace that is gone\n"
	       "  (COOKIE: its namespace's, as the refusal names it): its pins\n"
	       "  alone, nothing done to devices.\n");
}

static void upgrade_details(void)
{
	printf("  Swap this build's programs in on every device, keeping\n"
	       "  every map; force: even when the build is the same.\n");
}

static void save_details(void)
{
	printf("  save: print the configuration, as lines load reads (with -j,\n"
	       "  a JSON array of those lines); load FILE ('-': stdin): apply\n"
	       "  it. Lines already in effect are skipped; a guest device that\n"
	       "  does not exist yet is skipped with a note.\n");
}

static int do_gc(int argc, char **argv)
{
	struct fabric *fb;
	int n;

	(void)argv;
	if (argc)
		return err("gc: takes no arguments");
	fb = fab();
	if (!fb)
		return 1;
	open_json_object(NULL);
	open_json_array("ports");
	n = fabric_tend(fb, true);
	close_json_array();
	print_uint(PRINT_ANY, "removed", "%llu stale ports removed\n",
		   (__u64)n);
	close_json_object();
	return 0;
}

static int pins_remove(const char *dir, bool rm_dir, bool quiet);

/*
 * This fabric's run files (run_path: the gateway interface's name, then
 * the kind) that outlived their networks: a watcher killed from outside
 * (SIGKILL) never removed its own. reset, its networks gone, leaves none.
 */
static void run_files_sweep(void)
{
	char host[16], port[16];
	struct dirent *de;
	size_t n;
	DIR *d;

	gateway_ifnames(0, host, port);		/* kvbgw0, kvbXXXXg0 */
	n = strlen(host) - 1;
	d = opendir(KVB_RUN_DIR);
	while (d && (de = readdir(d))) {
		const char *c = de->d_name + n;

		if (strncmp(de->d_name, host, n) || *c < '0' || *c > '9')
			continue;
		while (*c >= '0' && *c <= '9')
			c++;
		if (*c != '.')
			continue;
		/* the files of a gateway interface that is still there are
		 * another fabric's (its directory's name hash is this one's):
		 * this fabric's went with its networks */
		{
			char ifname[IF_NAMESIZE];
			size_t len = (size_t)(c - de->d_name);

			if (len < sizeof(ifname)) {
				memcpy(ifname, de->d_name, len);
				ifname[len] = 0;
				if (if_nametoindex(ifname))
					continue;
			}
		}
		/* a dnsmasq of a network the fabric lost goes too: its
		 * pid file is the only record of it (and the pid in it is
		 * dnsmasq's word, checked: the one started with that file) */
		if (!strcmp(c, ".pid")) {
			char path[512], arg[560];
			FILE *f;
			int pid = 0;

			snprintf(path, sizeof(path), "%s/%s", KVB_RUN_DIR,
				 de->d_name);
			snprintf(arg, sizeof(arg), "--pid-file=%s", path);
			f = fopen(path, "r");
			if (f && fscanf(f, "%d", &pid) == 1 && pid > 0 &&
			    pid_runs(pid, KVB_DNSMASQ) && pid_has_arg(pid, arg))
				kill(pid, SIGTERM);
			else if ((pid = pid_find(KVB_DNSMASQ, arg)))
				kill(pid, SIGTERM);
			if (f)
				fclose(f);
		}
		unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
}

/*
 * fn(fd, arg) for every object pinned in dir under a name that begins
 * with prefix (fd closed after).
 */
static void pins_each(const char *dir, const char *prefix,
		      void (*fn)(int fd, void *arg), void *arg)
{
	size_t len = strlen(prefix);
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		char path[512];
		int fd;

		if (strncmp(de->d_name, prefix, len))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		fn(fd, arg);
		close(fd);
	}
	if (d)
		closedir(d);
}

/* The ids of pinned programs, at most 16 (pins_each). */
struct prog_ids {
	__u32 ids[16];
	int n;
};

static void prog_id_note(int fd, void *arg)
{
	struct bpf_prog_info info = {};
	struct prog_ids *p = arg;
	__u32 len = sizeof(info);

	if (p->n < (int)ARRAY_SIZE(p->ids) &&
	    !bpf_obj_get_info_by_fd(fd, &info, &len))
		p->ids[p->n++] = info.id;
}

static void link_detach_fd(int fd, void *arg)
{
	(void)arg;
	bpf_link_detach(fd);
}

/*
 * reset of a fabric of another map layout (an upgrade changed it): its
 * maps are not this build's to read, but what it did to the host is found
 * without them. Its XDP links are pinned in its directory; its tc
 * programs are the pinned ones, found on every device of the namespace
 * by our filter's handle; its gateway interfaces and VXLAN device are
 * named after the directory, and are its own when their fabric end runs
 * its programs; its dnsmasq, watchers and /run/kvmbpf files are named
 * after them too. Then the pins go. What only its maps knew stays: an
 * uplink's promiscuous flag (README says so), a tap's IPv6 switched off
 * (it goes with the tap, with its VM).
 */
static int reset_other_layout(const char *dir, unsigned int layout)
{
	char host[16], port[16], ovl[16];
	struct if_nameindex *ifs, *i;
	bool gw[KVB_MAX_NETS] = { false }, ovl_ours = false;
	struct prog_ids p = { .n = 0 };
	int lock, ret;

	/* the directory's lock, as any changing command holds it (of
	 * either build): no command pins into it while it goes */
	lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock < 0 || flock(lock, LOCK_EX)) {
		if (lock >= 0)
			close(lock);
		return err("reset: %s: cannot lock it: %s", dir,
			   strerror(errno));
	}
	/* read under the lock: an old build's command may have held it */
	pins_each(dir, "prog_", prog_id_note, &p);
	ifs = if_nameindex();
	warn("reset: %s holds map layout v%u (this build: v%u): removing it "
	     "by what it left on the host", dir, layout, KVB_LAYOUT_VERSION);
	/* what is its: its gateways and VXLAN device by their fabric ends,
	 * whose programs are its own; then its watchers and dnsmasq stop
	 * before anything of theirs changes (a watcher wakes on links) */
	overlay_ifname(ovl);
	for (i = ifs; i && i->if_index; i++) {
		if (!tc_runs_one_of(i->if_index, false, p.ids, p.n))
			continue;
		if (!strcmp(i->if_name, ovl))
			ovl_ours = true;
		for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
			gateway_ifnames(id, host, port);
			if (!strcmp(i->if_name, port))
				gw[id] = true;
		}
	}
	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		struct kvb_net net = { .id = id };

		if (gw[id]) {
			wan_wait_stop(&net);
			dhcp_stop(&net);
		}
	}
	pins_each(dir, "link_xdp_", link_detach_fd, NULL);
	for (i = ifs; i && i->if_index; i++) {
		bool in = tc_runs_one_of(i->if_index, false, p.ids, p.n),
		     out = tc_runs_one_of(i->if_index, true, p.ids, p.n);

		if (in)
			tc_detach(i->if_index, false, !out);
		if (out)
			tc_detach(i->if_index, true, true);
	}
	if (ifs)
		if_freenameindex(ifs);
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (gw[id])
			gateway_delete(id);
	if (ovl_ours && if_nametoindex(ovl))
		host_link_del(if_nametoindex(ovl));
	run_files_sweep();
	ret = pins_remove(dir, true, false);
	close(lock);
	return ret;
}

/*
 * reset of a fabric whose load never finished (fabric_loaded: a first
 * `net add` killed while it loaded the programs): its pins, under the
 * directory's lock (a command loading it now holds that lock, and has
 * pinned the programs when it lets go). 0, 1 said, or -1: loaded after
 * all (the caller resets it as any fabric).
 */
static int reset_unloaded(const char *dir)
{
	int lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (lock < 0 || flock(lock, LOCK_EX)) {
		if (lock >= 0)
			close(lock);
		return err("reset: %s: cannot lock it: %s", dir,
			   strerror(errno));
	}
	if (fabric_loaded(dir)) {
		close(lock);
		return -1;
	}
	warn("reset: %s holds the maps of a load that never finished (no "
	     "programs, nothing attached): its pins removed", dir);
	ret = pins_remove(dir, true, false);
	close(lock);
	return ret;
}

static int do_reset(int argc, char **argv)
{
	unsigned int layout;
	struct fabric *fb;
	struct kvb_net net;
	int ret = 0, lock;

	bool force = argc >= 1 && !strcmp(argv[0], "force");
	unsigned long long cookie = 0;
	char *end = NULL;

	if (argc > 2 || (argc >= 1 && !force))
		return err("reset: expected [force [COOKIE]]");
	if (argc == 2) {
		errno = 0;
		cookie = strtoull(argv[1], &end, 10);
		if (errno || !*argv[1] || *end || !cookie)
			return err("reset force: cookie %s: not a number",
				   argv[1]);
	}
	/* nothing there: nothing to reset (a second reset); a directory
	 * without any pin of ours (made beforehand with mkdir -p, or left
	 * by a first net add that failed) likewise (t95: refused, rc 1) */
	if ((access(opts.bpffs, F_OK) && errno == ENOENT) ||
	    !fabric_pinned(opts.bpffs))
		return 0;
	layout = fabric_other_layout(opts.bpffs);
	if (layout)
		return reset_other_layout(opts.bpffs, layout);
	if (!fabric_loaded(opts.bpffs)) {
		ret = reset_unloaded(opts.bpffs);
		if (ret >= 0)
			return ret;
		ret = 0;
	}
	opts.any_netns = force;
	fb = fab();
	if (!fb)
		return 1;
	/*
	 * A fabric of another network namespace (one that is gone, whose
	 * pins nobody can reset there): its pins only. Its ports' ifindexes
	 * name other devices here, its gateway interfaces' names may be
	 * another fabric's: nothing of this namespace is touched.
	 */
	if (fabric_foreign(fb)) {
		char where[300];

		/* a live fabric losing its pins stops: its stages' program
		 * array is emptied with its last reference, every frame
		 * dropped. So: never where its namespace is seen alive, and
		 * only with its cookie typed (what this process cannot see,
		 * a container's, is the operator's to know) */
		if (fabric_netns_alive(fb, where, sizeof(where)))
			return err("reset force: %s is the fabric of a network "
				   "namespace that still exists (%s): reset it "
				   "there: nsenter --net=%s kvmbpf --bpffs %s "
				   "reset (a process of the fabric's, its "
				   "dnsmasq say, keeps a namespace after 'ip "
				   "netns del')", opts.bpffs, where, where,
				   opts.bpffs);
		if (cookie != fabric_netns_cookie(fb))
			return err("reset force: %s is the fabric of another "
				   "network namespace (cookie %llu): if that "
				   "namespace is gone, 'kvmbpf reset force %llu' "
				   "removes its pins (a live fabric's stop)",
				   opts.bpffs,
				   (unsigned long long)fabric_netns_cookie(fb),
				   (unsigned long long)fabric_netns_cookie(fb));
		warn("reset force: %s is the fabric of another network "
		     "namespace: its pins and files in %s removed, nothing "
		     "done to devices", opts.bpffs, KVB_RUN_DIR);
		lock = fb->lock_fd;
		fb->lock_fd = -1;
		fabric_close(fb);
		/* its dnsmasqs' leases and hosts files: a fabric made later
		 * at the same path has the same interface names, and its
		 * dnsmasq would hand out the dead one's leases (a dnsmasq of
		 * that namespace is a process in it: refused above) */
		run_files_sweep();
		ret = pins_remove(opts.bpffs, true, false);
		if (lock >= 0)
			close(lock);
		return ret;
	}
	/* no walk of kvb_ct for the ports' NAT flows: the table goes */
	nat_forget_hold(fb);
	fb->resetting = true;
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (!net_get(fb, id, &net))
			ret |= net_remove(fb, &net);
	/* a port no network lists any more (a detach or net del stopped
	 * half-way): what attach changed on its device goes back too */
	ret |= ports_detach_where(fb, "reset", 0);
	run_files_sweep();
	/* the lock is held until the pins are gone: a command waiting for
	 * it (a libvirt hook's attach, a lease script) finds no fabric, not
	 * half of one */
	lock = fb->lock_fd;
	fb->lock_fd = -1;
	fabric_close(fb);
	ret |= pins_remove(opts.bpffs, true, false);
	if (lock >= 0)
		close(lock);
	return ret;
}

/* kvmbpf's own pins: another's in a mistyped --bpffs are not */
static bool pin_ours(const char *name)
{
	return !strncmp(name, "kvb_", 4) || !strncmp(name, "prog_", 5) ||
	       !strncmp(name, "link_xdp_", 9);
}

/* Does dir hold any of kvmbpf's pins (a fabric, or the start of one)? */
bool fabric_pinned(const char *dir)
{
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	while (d && !found && (de = readdir(d)))
		found = pin_ours(de->d_name);
	if (d)
		closedir(d);
	return found;
}

/*
 * Unlink kvmbpf's pins in dir (its maps and timers go with the last
 * reference), then the directory if rm_dir; another's pins stay, and the
 * directory with them. 0, or 1 with the reason printed (by reset; a
 * failed command's own cleanup says nothing more: its error was said).
 */
static int pins_remove(const char *dir, bool rm_dir, bool quiet)
{
	struct dirent *de;
	int ret = 0;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		char path[512];

		if (!pin_ours(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path))
			ret = quiet ? 1 : err("reset: %s: %s", path,
					      strerror(errno));
	}
	if (d)
		closedir(d);
	if (rm_dir && rmdir(dir) && errno != ENOENT)
		ret = quiet ? 1 : err("reset: %s: %s", dir, strerror(errno));
	return ret;
}

/*
 * A creating command (net add, acl add, load) that found no fabric and
 * failed: the fabric it made for itself goes as `reset` would remove it,
 * if it holds no network, port or ACL (a load whose first lines took
 * effect keeps them, and the fabric), and the directory too if the
 * command made it (rm_dir).
 */
void fabric_unmake(bool rm_dir)
{
	struct fabric *fb;
	struct kvb_net net;
	__u32 key;

	if (fabric_exists(opts.bpffs)) {
		fb = fab();
		if (!fb)
			return;
		for (__u32 id = 1; id < KVB_MAX_NETS; id++)
			if (!net_get(fb, id, &net))
				return;
		if (!bpf_map_get_next_key(fb->port_fd, NULL, &key) ||
		    !bpf_map_get_next_key(fb->acl_fd, NULL, &key))
			return;
		/* the lock is held until the pins are gone (do_reset) */
		pins_remove(opts.bpffs, rm_dir, true);
		fabric_close(fb);
		return;
	}
	/*
	 * Programs never pinned: whatever is there is this command's,
	 * unless another command is making a fabric there right now (a
	 * boot's `load` while this one failed on its words): it holds the
	 * directory's lock, and what it pinned is left alone.
	 */
	{
		int lock = open(opts.bpffs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (lock < 0)
			return;
		if (!flock(lock, LOCK_EX | LOCK_NB) &&
		    !fabric_exists(opts.bpffs))
			pins_remove(opts.bpffs, rm_dir, true);
		close(lock);
	}
}

/*
 * Upgrade: load this build's programs against the pinned maps (reused, so
 * MACs, addresses and counters stay), then swap them in on every device:
 * tc with BPF_TC_F_REPLACE on our handle, XDP with bpf_link_update. Both
 * swaps are atomic; no packet sees a device without a program.
 */
static int do_upgrade(int argc, char **argv)
{
	struct kvb_meta m = { 0 };
	struct fabric *fb;
	struct kvb_port p;
	__u32 key, *prev = NULL, zero = 0;
	bool force = argc == 1 && !strcmp(argv[0], "force");
	int n = 0, ret = 0;

	if (argc > 1 || (argc == 1 && !force))
		return err("upgrade: expected [force]");
	fb = fab();
	if (!fb)
		return 1;
	bpf_map_lookup_elem(fb->meta_fd, &zero, &m);
	if (m.build_hash == fabric_build_hash() && !force) {
		open_json_object(NULL);
		print_uint(PRINT_JSON, "upgraded", NULL, 0);
		print_string(PRINT_ANY, "version",
			     "programs are current (kvmbpf %s)\n", m.version);
		close_json_object();
		return 0;
	}
	if (fabric_load_programs(fb->dir) || fabric_reopen_progs(fb))
		return err("upgrade: the new programs did not load; the old "
			   "ones keep running");
	while (!bpf_map_get_next_key(fb->port_fd, prev, &key)) {
		int r;

		prev = &key;
		if (port_get(fb, key, &p))
			continue;
		/* a layer-3 WAN hooked by a build before KVB_PORT_F_L3:
		 * marked before its new program reads the mark */
		if (p.role == KVB_PORT_WAN && !(p.flags & KVB_PORT_F_L3) &&
		    dev_is_l3(key)) {
			p.flags |= KVB_PORT_F_L3;
			port_store(fb, &p, BPF_EXIST);
		}
		r = tc_attach(fb, key, false, NULL);
		if (!r && (p.role == KVB_PORT_UPLINK ||
			   p.role == KVB_PORT_GUEST))
			r = tc_attach(fb, key, true, NULL);
		if (!r && (p.flags & KVB_PORT_F_XDP))
			r = xdp_update(fb, key, xdp_bound(key, p.role));
		if (r)
			ret = err("upgrade: %s: %s", p.name, strerror(-r));
		else
			n++;
	}
	/* nat and routed networks' host interfaces (nat_from_host) */
	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		struct kvb_net net;
		int r;

		if (net_get(fb, id, &net) || !net.gw_host ||
		    !net_has(&net, NT_GATEWAY))
			continue;
		r = tc_attach(fb, net.gw_host, true, NULL);
		if (r)
			ret = err("upgrade: host interface of %s: %s", net.name,
				  strerror(-r));
	}
	/* reservations made by a build before their MACs' entries */
	dhcphost_fdb_hold(fb, 0);
	dhcphost_pinned_warn(fb);
	open_json_object(NULL);
	print_uint(PRINT_ANY, "upgraded", "upgraded %llu ports", (__u64)n);
	print_string(PRINT_ANY, "version", " to kvmbpf %s\n", KVMBPF_VERSION);
	close_json_object();
	return ret;
}

/* The canonical line describing a port, as load reads (net_line: net.c). */
static int addr_cmp(const void *a, const void *b)
{
	const struct kvb_addr_key *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static void port_line(struct fabric *fb, const struct kvb_port *p, char *buf,
		      size_t len)
{
	struct kvb_addr_key key, *prev = NULL, ips[KVB_MAX_PORT_ADDRS];
	struct kvb_net n;
	char ifn[16];
	int w, nips = 0;

	if (net_get(fb, p->net_id, &n))
		snprintf(n.name, sizeof(n.name), "?");
	w = snprintf(buf, len, "attach %s net %s", ifname_of(p->ifindex, p, ifn),
		     n.name);
	if (!(p->flags & KVB_PORT_F_MAC_PINNED) && !mac_zero(p->mac)) {
		char m[18];

		fmt_mac(p->mac, m);
		w += snprintf(buf + w, len - (size_t)w, " mac %s", m);
	}
	while (!bpf_map_get_next_key(fb->addr_fd, prev, &key)) {
		struct kvb_addr a;

		prev = &key;
		if (key.ifindex != p->ifindex || nips == KVB_MAX_PORT_ADDRS ||
		    bpf_map_lookup_elem(fb->addr_fd, &key, &a) ||
		    !(a.flags & KVB_ADDR_F_STATIC))
			continue;
		ips[nips++] = key;
	}
	/* in one order, not the hash map's (which a new map changes) */
	qsort(ips, (size_t)nips, sizeof(ips[0]), addr_cmp);
	for (int i = 0; i < nips && (size_t)w < len; i++) {
		char ip[64];

		fmt_addr(&ips[i], ip);
		w += snprintf(buf + w, len - (size_t)w, " ip %s", ip);
	}
	if ((size_t)w < len)
		w += snprintf(buf + w, len - (size_t)w,
			      " spoofcheck %s isolated %s xdp %s%s",
			      p->flags & KVB_PORT_F_SPOOFCHECK ? "on" : "off",
			      p->flags & KVB_PORT_F_ISOLATED ? "on" : "off",
			      p->flags & KVB_PORT_F_XDP ? "on" : "off",
			      p->flags & KVB_PORT_F_SAVI_OFF ? " savi off" : "");
	{
		__u16 ids[KVB_ACL_PER_PORT];
		int k = acl_port_own(fb, p, ids);
		char names[256];

		acl_list_fmt(fb, ids, k, names, sizeof(names));
		if (k && (size_t)w < len)
			snprintf(buf + w, len - (size_t)w, " acl %s", names);
	}
}

static void save_print(const char *text)
{
	print_string(PRINT_ANY, NULL, "%s\n", text);
}

/*
 * Every line of the fabric's configuration, in the order load needs them:
 * networks, peerings, DHCP host reservations (an attach of a reserved
 * address is checked against them), guest ports, then what a type keeps
 * beyond its `net add` line (a nat network's forwards, which need their
 * guests).
 */
/* Network id as save writes it: one whose net add stopped half-way is
 * not (the upkeep removes it) */
static bool net_saved(struct fabric *fb, __u32 id, struct kvb_net *n)
{
	return !net_get(fb, id, n) && !(n->flags & KVB_NET_F_CREATING);
}

static void save_lines(struct fabric *fb, void (*line)(const char *text))
{
	char buf[4096];
	struct kvb_net n, o;

	acl_save(fb, line);
	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		if (!net_saved(fb, id, &n))
			continue;
		net_line(fb, &n, buf, sizeof(buf));
		line(buf);
	}
	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		if (!net_saved(fb, id, &n))
			continue;
		for (__u32 j = id + 1; j < KVB_MAX_NETS; j++)
			if (net_peered(&n, j) && net_saved(fb, j, &o)) {
				snprintf(buf, sizeof(buf), "net peer %s %s",
					 n.name, o.name);
				line(buf);
			}
	}
	dhcphost_save(fb, line);
	for (__u32 id = 1; id < KVB_MAX_NETS; id++) {
		if (!net_saved(fb, id, &n))
			continue;
		for (__u16 i = 0; i < n.nports && i < KVB_MAX_NET_PORTS; i++) {
			struct kvb_port p;

			/* an attach stopped half-way is undone, not kept */
			if (port_get(fb, n.ports[i], &p) ||
			    p.role != KVB_PORT_GUEST ||
			    (p.flags & KVB_PORT_F_ATTACHING))
				continue;
			port_line(fb, &p, buf, sizeof(buf));
			line(buf);
		}
	}
	for (__u32 id = 1; id < KVB_MAX_NETS; id++)
		if (net_saved(fb, id, &n) && net_ops(n.type)->save)
			net_ops(n.type)->save(fb, &n, line);
}

static int do_save(int argc, char **argv)
{
	struct fabric *fb;

	(void)argv;
	if (argc)
		return err("save: takes no arguments (it writes to stdout)");
	fb = fab_ro();
	if (!fb)
		return 1;
	/* no date: the same fabric saves byte for byte the same file */
	print_text("# kvmbpf %s configuration (map layout v%d)\n",
		   KVMBPF_VERSION, KVB_LAYOUT_VERSION);
	print_text("# restore with: kvmbpf load FILE\n");
	open_json_array(NULL);
	save_lines(fb, save_print);
	close_json_array();
	return 0;
}

/* Is line among the lines save would write now? (a forward in effect) */
static const char *saved_want;
static bool saved_found;

static void saved_match(const char *text)
{
	if (!strcmp(text, saved_want))
		saved_found = true;
}

static bool line_in_effect(struct fabric *fb, const char *line)
{
	saved_want = line;
	saved_found = false;
	save_lines(fb, saved_match);
	return saved_found;
}

#define LOAD_MAX_WORDS 192
#define LOAD_MAX_LINE 4096

/* A line of a saved file in words (copy holds them); 0 for none. */
static int load_words(const char *line, char *copy, char **words)
{
	char *save, *w;
	int nw = 0;

	snprintf(copy, LOAD_MAX_LINE, "%s", line);
	for (w = strtok_r(copy, " \t\r", &save); w && nw < LOAD_MAX_WORDS;
	     w = strtok_r(NULL, " \t\r", &save))
		words[nw++] = w;
	return nw && words[0][0] != '#' ? nw : 0;
}

/* Is it a line load takes (acl, net add, net peer, dhcp-host add, attach,
 * forward add)? */
static bool load_form(char **words, int nw)
{
	return (nw >= 3 && !strcmp(words[0], "net") &&
		!strcmp(words[1], "add")) ||
	       (nw == 4 && !strcmp(words[0], "net") &&
		!strcmp(words[1], "peer")) ||
	       (nw >= 2 && !strcmp(words[0], "attach")) ||
	       /* what save writes of ACLs: never their deletes */
	       (nw == 3 && !strcmp(words[0], "acl") &&
		!strcmp(words[1], "add")) ||
	       (nw >= 5 && !strcmp(words[0], "acl") &&
		!strcmp(words[1], "rule") && !strcmp(words[2], "add")) ||
	       (nw >= 3 && !strcmp(words[0], "dhcp-host") &&
		!strcmp(words[1], "add")) ||
	       (nw >= 3 && !strcmp(words[0], "forward") &&
		!strcmp(words[1], "add"));
}

/*
 * One line of load (its words): 0 applied, 1 in effect or skipped (with
 * a note), -1 failed (said).
 */
/*
 * line as save would spell it where that is a matter of spelling only:
 * one space between words; a forward's `to ADDR:PORT` whose PORT is the
 * forwarded port itself as `to ADDR`.
 */
static void load_norm(char **words, int nw, char *out, size_t len)
{
	size_t w = 0;

	out[0] = 0;
	for (int i = 0; i < nw && w < len; i++) {
		const char *word = words[i];
		char buf[128];

		if (i > 0 && !strcmp(words[0], "forward") &&
		    !strcmp(words[i - 1], "to")) {
			const char *c = strrchr(word, ':');

			/* ADDR:PORT, PORT the forward's first port (a
			 * range maps its ports one to one from there) */
			for (int k = 2; c && k + 1 < nw; k++)
				if (!strcmp(words[k], "port") &&
				    !strncmp(c + 1, words[k + 1],
					     strcspn(words[k + 1], "-")) &&
				    strlen(c + 1) == strcspn(words[k + 1], "-") &&
				    (size_t)(c - word) < sizeof(buf)) {
					size_t n = (size_t)(c - word);
					const char *a = word;

					if (word[0] == '[' && n > 1 &&
					    word[n - 1] == ']')
						a++, n -= 2;
					memcpy(buf, a, n);
					buf[n] = 0;
					word = buf;
					break;
				}
		}
		w += (size_t)snprintf(out + w, len - w, "%s%s", i ? " " : "",
				      word);
	}
}

static int load_line(struct fabric *fb, const char *line, char **words,
		     int nw, int lineno)
{
	const struct object *apply;
	char canon[LOAD_MAX_LINE], norm[LOAD_MAX_LINE], ccopy[LOAD_MAX_LINE];
	char *cwords[LOAD_MAX_WORDS];
	int rc, cw;

	load_norm(words, nw, norm, sizeof(norm));
	line = norm;
	if (!strcmp(words[0], "net") && !strcmp(words[1], "add")) {
		struct kvb_net n;

		apply = &obj_net;
		if (!net_find(fb, words[2], &n)) {
			net_line(fb, &n, canon, sizeof(canon));
			cw = load_words(canon, ccopy, cwords);
			if (strcmp(canon, line) &&
			    (cw < 3 || !net_add_same(nw - 2, words + 2,
						     cw - 2, cwords + 2)))
				return err("load: line %d: network %s exists "
					   "as '%s'", lineno, words[2],
					   canon), -1;
			return 1;
		}
	} else if (!strcmp(words[0], "net")) {	/* net peer */
		struct kvb_net a, b;

		apply = &obj_net;
		if (!net_find(fb, words[2], &a) &&
		    !net_find(fb, words[3], &b) && net_peered(&a, b.id))
			return 1;
	} else if (!strcmp(words[0], "attach")) {
		struct kvb_port p;

		apply = &obj_attach;
		if (!if_nametoindex(words[1])) {
			warn("load: line %d: %s: no such device yet, skipped",
			     lineno, words[1]);
			return 1;
		}
		if (!port_resolve(fb, words[1], &p)) {
			port_line(fb, &p, canon, sizeof(canon));
			cw = load_words(canon, ccopy, cwords);
			if (strcmp(canon, line) &&
			    (cw < 2 || !attach_same(nw - 2, words + 2,
						    cw - 2, cwords + 2)))
				return err("load: line %d: %s is attached as "
					   "'%s'", lineno, words[1], canon), -1;
			return 1;
		}
	} else if (!strcmp(words[0], "acl")) {
		apply = &obj_acl;
		if (acl_line_in_effect(fb, nw - 1, words + 1))
			return 1;
	} else if (!strcmp(words[0], "dhcp-host")) {
		apply = &obj_dhcphost;
		if (line_in_effect(fb, line))
			return 1;
	} else {	/* forward add */
		apply = &obj_forward;
		if (line_in_effect(fb, line))
			return 1;
		/* a target nobody holds yet (a VM libvirt starts later)
		 * is added all the same: forward add says so (fwd_unheld) */
		rc = fwd_load_over_vxlan(fb, nw - 2, words + 2, lineno);
		if (rc >= 0)
			return rc ? err("load: line %d failed: %s", lineno,
					line), -1 : 0;
	}
	if (object_call(apply, nw - 1, words + 1))
		return err("load: line %d failed: %s", lineno, line), -1;
	return 0;
}

/* The names whose lines failed in a load: networks and ACLs. */
#define LOAD_MAX_FAILED KVB_MAX_NETS	/* and ACLs: fewer */
struct load_failed {
	char nets[LOAD_MAX_FAILED][KVB_NAME_LEN];
	char acls[LOAD_MAX_FAILED][KVB_NAME_LEN];
	int nnets, nacls;
};

static bool load_named(char list[][KVB_NAME_LEN], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strncmp(list[i], name, KVB_NAME_LEN))
			return true;
	return false;
}

static void load_name(char list[][KVB_NAME_LEN], int *n, const char *name)
{
	if (*n < LOAD_MAX_FAILED && !load_named(list, *n, name))
		snprintf(list[(*n)++], KVB_NAME_LEN, "%s", name);
}

/* A failed line's network or ACL (words: the line), for the lines after. */
static void load_failed_note(struct load_failed *lf, char **words, int nw)
{
	if (!strcmp(words[0], "net") && !strcmp(words[1], "add"))
		load_name(lf->nets, &lf->nnets, words[2]);
	else if (!strcmp(words[0], "acl") && !strcmp(words[1], "add"))
		load_name(lf->acls, &lf->nacls, words[2]);
	else if (!strcmp(words[0], "acl") && nw >= 4 &&
		 !strcmp(words[1], "rule"))
		load_name(lf->acls, &lf->nacls, words[3]);
}

/*
 * Does the line (words) name a network or an ACL whose line failed? The
 * name, else NULL: an attach to a network that could not be made as
 * saved (one of the same name that differs, a bridge with an uplink
 * where an internal one was saved), a port or network given an ACL some
 * of whose rules failed (a drop rule missing would open it), a forward
 * or peering of such a network.
 */
static const char *load_depends(const struct load_failed *lf, char **words,
				int nw)
{
	if (!strcmp(words[0], "net") && !strcmp(words[1], "peer")) {
		for (int i = 2; i < 4; i++)
			if (load_named((char (*)[KVB_NAME_LEN])lf->nets,
				       lf->nnets, words[i]))
				return words[i];
		return NULL;
	}
	if (!strcmp(words[0], "forward") || !strcmp(words[0], "dhcp-host"))
		return load_named((char (*)[KVB_NAME_LEN])lf->nets, lf->nnets,
				  words[2]) ? words[2] : NULL;
	if (!strcmp(words[0], "acl") && nw >= 4 && !strcmp(words[1], "rule"))
		return load_named((char (*)[KVB_NAME_LEN])lf->acls, lf->nacls,
				  words[3]) ? words[3] : NULL;
	for (int i = 1; i + 1 < nw; i++) {
		char list[LOAD_MAX_LINE], *save, *a;

		if (!strcmp(words[0], "attach") && !strcmp(words[i], "net") &&
		    load_named((char (*)[KVB_NAME_LEN])lf->nets, lf->nnets,
			       words[i + 1]))
			return words[i + 1];
		if (strcmp(words[i], "acl"))
			continue;
		snprintf(list, sizeof(list), "%s", words[i + 1]);
		for (a = strtok_r(list, ",", &save); a;
		     a = strtok_r(NULL, ",", &save))
			if (load_named((char (*)[KVB_NAME_LEN])lf->acls,
				       lf->nacls, a))
				return words[i + 1];
	}
	return NULL;
}

/*
 * load FILE: apply a saved configuration. A file with a line that is no
 * configuration line is refused before anything is applied. Then lines
 * already in effect are skipped; a guest device that does not exist
 * (yet: at boot, before its VM starts) is skipped with a note, so that
 * its hook (qemu-ifup, libvirt) attaches it, and so is a forward to an
 * address no port holds (yet). A line that fails (a network that exists
 * with other settings, a subnet the host took since: each said) does not
 * stop the lines after it; those that name its network or ACL are not
 * applied (load_depends) and the others stand on their own: a boot
 * restores every network it can, and the command fails at the end.
 */
static int do_load(int argc, char **argv)
{
	int lineno = 0, nlines = 0, applied = 0, skipped = 0, failed = 0;
	char **lines = NULL, line[LOAD_MAX_LINE], *buf = NULL;
	struct load_failed lf = { .nnets = 0 };
	struct fabric *fb;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	if (argc != 1)
		return err("load: expected FILE");
	f = strcmp(argv[0], "-") ? fopen(argv[0], "r") : stdin;
	if (!f)
		return err("load: %s: %s", argv[0], strerror(errno));
	/* the whole file first: nothing applied from one that is not a
	 * configuration (nor one that cannot be read: a directory; nor a
	 * line fgets would have cut in two, or one with a NUL byte, whose
	 * rest would have gone unread) */
	while ((n = getline(&buf, &cap, f)) >= 0) {
		char *words[LOAD_MAX_WORDS], copy[LOAD_MAX_LINE], **more;
		int nw;

		lineno++;
		if ((size_t)n != strlen(buf)) {
			failed = err("load: line %d: a NUL byte (nothing "
				     "applied)", lineno);
			break;
		}
		buf[strcspn(buf, "\r\n")] = 0;
		if (strlen(buf) >= sizeof(line)) {
			failed = err("load: line %d: longer than %zu bytes "
				     "(nothing applied)", lineno,
				     sizeof(line) - 1);
			break;
		}
		strcpy(line, buf);
		nw = load_words(line, copy, words);
		if (nw && !load_form(words, nw)) {
			failed = err("load: line %d: expected 'acl add', "
				     "'acl rule add', 'net add', 'net peer', "
				     "'dhcp-host add', 'attach' or "
				     "'forward add': %s "
				     "(nothing applied)", lineno, line);
			break;
		}
		more = realloc(lines, (size_t)(nlines + 1) * sizeof(*lines));
		if (!more || !(more[nlines] = strdup(line))) {
			lines = more ? more : lines;
			failed = err("load: out of memory");
			break;
		}
		lines = more;
		nlines++;
	}
	if (!failed && ferror(f))
		failed = err("load: %s: %s (nothing applied)", argv[0],
			     strerror(errno));
	free(buf);
	if (f != stdin)
		fclose(f);
	fb = failed ? NULL : fab();
	for (int i = 0; fb && i < nlines; i++) {
		char *words[LOAD_MAX_WORDS], copy[LOAD_MAX_LINE];
		int nw = load_words(lines[i], copy, words), rc;
		const char *dep;

		if (!nw)
			continue;
		dep = load_depends(&lf, words, nw);
		if (dep) {
			err("load: line %d: %s: a line it needs (%s) failed, "
			    "not applied", i + 1, lines[i], dep);
			load_failed_note(&lf, words, nw);
			failed++;
			continue;
		}
		rc = load_line(fb, lines[i], words, nw, i + 1);
		if (rc < 0)
			load_failed_note(&lf, words, nw);
		applied += rc == 0;
		skipped += rc > 0;
		failed += rc < 0;
	}
	for (int i = 0; i < nlines; i++)
		free(lines[i]);
	free(lines);
	if (!fb)
		return 1;
	open_json_object(NULL);
	print_uint(PRINT_ANY, "applied", "%llu applied", (__u64)applied);
	print_uint(PRINT_ANY, "skipped", ", %llu already in effect or skipped",
		   (__u64)skipped);
	print_uint(PRINT_ANY, "failed", ", %llu failed\n", (__u64)failed);
	close_json_object();
	return failed ? 1 : 0;
}

const struct object obj_upgrade = {
	.name = "upgrade",
	.cmds = (const struct cmd[]){
		{ NULL, do_upgrade, "[force]", CMD_TEND },
		{ NULL, NULL, NULL, 0 },
	},
	.details = upgrade_details,
	.summary = "swap this build's programs in, keep maps",
};

const struct object obj_gc = {
	.name = "gc",
	.cmds = (const struct cmd[]){
		{ NULL, do_gc, "", 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = gc_details,
	.summary = "the upkeep step, on its own",
};

const struct object obj_reset = {
	.name = "reset",
	.cmds = (const struct cmd[]){
		{ NULL, do_reset, "[force COOKIE]", 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = reset_details,
	.summary = "remove every network, port and pin",
};

const struct object obj_save = {
	.name = "save",
	.cmds = (const struct cmd[]){
		{ NULL, do_save, "", 0 },
		{ NULL, NULL, NULL, 0 },
	},
	.details = save_details,
	.summary = "print the configuration, for load",
};

const struct object obj_load = {
	.name = "load",
	.cmds = (const struct cmd[]){
		{ NULL, do_load, "FILE", CMD_TEND | CMD_CREATES },
		{ NULL, NULL, NULL, 0 },
	},
	.details = save_details,
	.summary = "apply a saved configuration ('-': stdin)",
};
