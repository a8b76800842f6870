// SPDX-License-Identifier: MIT
/*
 * kvmbpf [OPTIONS] OBJECT COMMAND [ARGS]
 *
 * Every command changes or reads the pinned maps and exits; the datapath
 * keeps running in the kernel without any process. The options may come
 * anywhere on the line (`kvmbpf net show -j`).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "kvmbpf.h"

static const struct object *const objects[] = {
	&obj_net, &obj_attach, &obj_detach, &obj_port, &obj_fdb, &obj_ct,
	&obj_forward, &obj_dhcphost, &obj_acl, &obj_stats, &obj_monitor, &obj_upgrade, &obj_gc,
	&obj_reset, &obj_save, &obj_load, NULL,
};

static int usage(void)
{
	out_plain();
	printf("Usage: kvmbpf [OPTIONS] OBJECT COMMAND [ARGS]\n"
	       "\n"
	       "OBJECT COMMAND:\n");
	for (int i = 0; objects[i]; i++)
		object_synopsis(objects[i], "  ", "  ");
	printf("\n"
	       "OPTIONS (anywhere on the line):\n"
	       "  -j, --json        JSON output; an error is {\"error\": ...}\n"
	       "  -p, --pretty      indented JSON output (implies -j)\n"
	       "      --bpffs DIR   pin directory (env KVMBPF_BPFFS),\n"
	       "                    default %s\n"
	       "  -h, --help        this help; 'kvmbpf OBJECT help' for one object\n"
	       "  -V, --version     print the version\n"
	       "\n"
	       "Limits: %d networks, %d ports per network, %d ports in all,\n"
	       "%d MAC table entries.\n",
	       KVB_DEFAULT_BPFFS, KVB_MAX_NETS - 1, KVB_MAX_NET_PORTS,
	       KVB_MAX_PORTS, KVB_MAX_FDB);
	return 0;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* libbpf's own warnings only with KVMBPF_DEBUG set */
	if (level == LIBBPF_DEBUG || !getenv("KVMBPF_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int version(void)
{
	print_string(PRINT_TEXT, NULL, "kvmbpf %s", KVMBPF_VERSION);
	print_uint(PRINT_TEXT, NULL, " (map layout v%llu)\n",
		   KVB_LAYOUT_VERSION);
	open_json_object(NULL);
	print_string(PRINT_JSON, "version", NULL, KVMBPF_VERSION);
	print_uint(PRINT_JSON, "layout", NULL, KVB_LAYOUT_VERSION);
	close_json_object();
	return 0;
}

/*
 * Take the options out of argv wherever they are; what is left (the
 * object, its command and arguments) moves to the front. -h and -V are
 * options only before the object: after it, help is the object's.
 */
/* -j/-p anywhere before '--': an error in the options is JSON too */
static void json_wanted(int argc, char **argv, bool *json, bool *pretty)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--json")) {
			*json = true;
		} else if (!strcmp(a, "--pretty")) {
			*json = *pretty = true;
		} else if (a[0] == '-' && a[1] && a[1] != '-' &&
			   strspn(a + 1, "jp") == strlen(a + 1)) {
			*json = true;
			*pretty |= strchr(a, 'p') != NULL;
		}
	}
}

static int take_options(int argc, char **argv, int *left, bool *help,
			bool *ver)
{
	bool json = false, pretty = false, object = false, done = false;
	bool jw = false, pw = false;
	int n = 0;

	json_wanted(argc, argv, &jw, &pw);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (done || a[0] != '-' || !a[1]) {
			argv[n++] = argv[i];
			object = true;
			continue;
		}
		if (!strcmp(a, "--")) {
			done = true;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--pretty")) {
			json = pretty = true;
		} else if (!strcmp(a, "--bpffs") || !strncmp(a, "--bpffs=", 8)) {
			if (a[7] == '=') {
				opts.bpffs = a + 8;
			} else if (i + 1 < argc) {
				opts.bpffs = argv[++i];
			} else {
				out_open(jw, pw);
				return err("--bpffs needs a directory");
			}
		} else if (!object && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			*help = true;
		} else if (!object && (!strcmp(a, "--version") || !strcmp(a, "-V"))) {
			*ver = true;
		} else if (a[1] != '-' && strspn(a + 1, "jp") == strlen(a + 1)) {
			json |= true;
			pretty |= strchr(a, 'p') != NULL;
		} else if (object) {
			argv[n++] = argv[i];	/* the command's own (help) */
		} else {
			out_open(jw, pw);
			err("unknown option '%s' (try 'kvmbpf help')", a);
			if (!jw)
				usage();
			return 2;
		}
	}
	out_open(json, pretty);
	*left = n;
	return 0;
}

/*
 * The pin directory as one spelling (its real path, or for one not made
 * yet its parent's real path and its name): every name the fabric gives
 * the host's devices (gateway interfaces, the VXLAN device) and every run
 * file is derived from it, so `--bpffs /sys/fs/bpf/x/` must find what
 * `--bpffs /sys/fs/bpf/x` made.
 */
static const char *bpffs_canon(const char *dir)
{
	static char buf[PATH_MAX];
	char path[PATH_MAX], *slash;
	size_t n;

	if (realpath(dir, buf))
		return buf;
	snprintf(path, sizeof(path), "%s", dir);
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = 0;
	slash = strrchr(path, '/');
	if (slash && slash != path) {
		*slash = 0;
		if (realpath(path, buf) &&
		    strlen(buf) + strlen(slash + 1) + 2 <= sizeof(buf)) {
			strcat(buf, "/");
			strcat(buf, slash + 1);
			return buf;
		}
		*slash = '/';
	}
	snprintf(buf, sizeof(buf), "%s", path);
	return buf;
}

/*
 * OBJECT [COMMAND] ARGS: the object's help where asked, else the upkeep
 * step for a command that changes the fabric, then the command.
 */
static int run(const struct object *o, int argc, char **argv)
{
	const struct cmd *c;
	bool fresh, had_dir;
	int ret;

	if (argc && is_help(argv[0]))
		return object_help(o);
	c = object_cmd(o, argc, argv);
	if (!c && !argc) {
		if (is_json())
			return err("%s: missing command (try 'kvmbpf %s help')",
				   o->name, o->name);
		object_help(o);
		return 1;
	}
	if (!c)
		return err("%s: unknown command '%s' (try 'kvmbpf %s help')",
			   o->name, argv[0], o->name);
	if (c->name)
		argc--, argv++;
	if (argc && is_help(argv[0]))
		return object_help(o);
	opts.may_create = c->flags & CMD_CREATES;
	/* the upkeep of a fabric there is: a creating command makes one
	 * only once its words are checked (a mistyped one makes none) */
	if ((c->flags & CMD_TEND) &&
	    !((c->flags & CMD_CREATES) && !fabric_exists(opts.bpffs))) {
		struct fabric *fb = fab();

		if (!fb)
			return 1;
		fabric_tend(fb, false);
	}
	if (!(c->flags & CMD_CREATES))
		return c->fn(argc, argv);
	/* a creating command that fails leaves no fabric it made behind */
	fresh = !fabric_pinned(opts.bpffs);
	had_dir = !access(opts.bpffs, F_OK);
	ret = c->fn(argc, argv);
	if (ret && fresh)
		fabric_unmake(!had_dir);
	return ret;
}

int main(int argc, char **argv)
{
	const char *env = getenv("KVMBPF_BPFFS");
	bool help = false, ver = false;
	int left = 0, ret;

	if (env && *env)
		opts.bpffs = env;
	ret = take_options(argc, argv, &left, &help, &ver);
	if (ret)
		return out_close(ret);
	if (opts.bpffs)
		opts.bpffs = bpffs_canon(opts.bpffs);
	libbpf_set_print(libbpf_quiet);
	if (ver)
		return out_close(version());
	if (help)
		return out_close(usage());
	if (left < 1) {
		if (is_json())
			err("missing OBJECT (try 'kvmbpf help')");
		else
			usage();
		return out_close(2);
	}
	/* dnsmasq's lease script (dhcp.c), not a command of the help */
	if (!strcmp(argv[0], "dhcp-event"))
		return out_close(do_dhcp_event(left - 1, argv + 1));
	for (int i = 0; objects[i]; i++)
		if (!strcmp(argv[0], objects[i]->name))
			return out_close(run(objects[i], left - 1, argv + 1));
	if (is_help(argv[0]))
		return out_close(usage());
	return out_close(err("unknown command '%s' (try 'kvmbpf help')",
			     argv[0]));
}
