// SPDX-License-Identifier: MIT
/*
 * The unit tests' runner: a private network namespace, a fabric loaded
 * into a private bpffs directory, the bridge fixture every suite builds
 * on (networks a and b, test_bridge.c), then the suites named on the
 * command line (all when none): `build/unit_tests nat route`, or
 * `make test-unit SUITE=nat`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "unit.h"

static const struct {
	const char *name;
	int (*run)(struct fabric *fb);
} suites[] = {
	{ "bridge", bridge_tests },
	{ "guard", guard_tests },
	{ "nat", nat_tests },
	{ "route", route_tests },
	{ "xdpcsum", xdp_csum_tests },
	{ "overlay", overlay_tests },
	/* last: it hands the fabric's lock to the CLI's commands */
	{ "acl", acl_tests },
};
#define NSUITES (sizeof(suites) / sizeof(suites[0]))

/*
 * The suites' changing commands start a watcher for each nat network
 * (nat.c: wan_wait_start); with the fabric gone it must exit and take
 * its run file along. It notices within a round (5 s). One that
 * inherited a lock of the fabric stayed, blocked on its own lock, with
 * the fabric's maps, after every run. 0, or 1 with a FAIL line.
 */
static int watchers_gone(const char *dir)
{
	char host[16], port[16], want[300] = "";
	size_t n;

	opts.bpffs = dir;
	gateway_ifnames(0, host, port);
	n = strlen(host) - 1;		/* kvbXXXXg: every network's */
	for (int i = 0; i < 100; i++) {
		DIR *d = opendir(KVB_RUN_DIR);
		struct dirent *de;
		bool left = false;

		while (d && (de = readdir(d))) {
			char path[512];
			FILE *f;
			int pid = 0;

			if (strncmp(de->d_name, host, n) ||
			    !strstr(de->d_name, ".wanwait"))
				continue;
			/* its watcher alive (a file whose process is gone
			 * is an older run's, of a fabric with the same
			 * name hash) */
			snprintf(path, sizeof(path), "%s/%s", KVB_RUN_DIR,
				 de->d_name);
			f = fopen(path, "r");
			if (f && fscanf(f, "%d", &pid) == 1 && pid > 0 &&
			    !kill(pid, 0)) {
				snprintf(want, sizeof(want), "%s (pid %d)",
					 de->d_name, pid);
				left = true;
			}
			if (f)
				fclose(f);
		}
		if (d)
			closedir(d);
		if (!left)
			return 0;
		usleep(100000);
	}
	printf("FAIL unit: a watcher outlived the fabric (%s/%s)\n",
	       KVB_RUN_DIR, want);
	return 1;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static int usage(const char *bad)
{
	printf("FAIL unit setup: unknown suite '%s' (suites:", bad);
	for (size_t i = 0; i < NSUITES; i++)
		printf(" %s", suites[i].name);
	printf(")\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct fabric fabric, *fb = &fabric;
	bool want[NSUITES] = { 0 };
	char dir[64];
	int nfail = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int a = 1; a < argc; a++) {
		size_t i;

		for (i = 0; i < NSUITES; i++)
			if (!strcmp(argv[a], suites[i].name))
				break;
		if (i == NSUITES)
			return usage(argv[a]);
		want[i] = true;
	}
	if (argc < 2)
		memset(want, 1, sizeof(want));
	if (!getenv("KVMBPF_DEBUG"))
		libbpf_set_print(NULL);
	if (unshare(CLONE_NEWNET)) {
		printf("FAIL unit setup: unshare(CLONE_NEWNET): %s\n",
		       strerror(errno));
		return 1;
	}
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/kvbunit_%d", getpid());
	/*
	 * No IPv6 in the test namespace: the veth peers' router solicitations
	 * and MLD reports would otherwise reach the ports in the background
	 * and be switched (and learned, and counted) between a test's frame
	 * and its assertions.
	 */
	if (system("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
		   "net.ipv6.conf.default.disable_ipv6=1") ||
	    system("ip link set lo up")) {
		printf("FAIL unit setup: cannot set up the namespace\n");
		return 1;
	}
	if (fabric_open(fb, dir)) {
		printf("FAIL unit setup: cannot load the fabric into %s\n", dir);
		remove_dir(dir);
		return 1;
	}
	if (bridge_fixture(fb)) {
		fabric_close(fb);
		remove_dir(dir);
		return 1;
	}
	for (size_t i = 0; i < NSUITES; i++)
		if (want[i])
			nfail += suites[i].run(fb);
	fabric_close(fb);
	fab_release();		/* the suites' CLI commands' handle */
	remove_dir(dir);
	nfail += watchers_gone(dir);
	return nfail ? 1 : 0;
}
