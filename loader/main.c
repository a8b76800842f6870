// SPDX-License-Identifier: MIT
/*
 * kvmbpf [-j|--json] [-p|--pretty] [--bpffs DIR] OBJECT COMMAND [ARGS]
 *
 * Every command changes or reads the pinned maps and exits; the datapath
 * keeps running in the kernel without any process.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "kvmbpf.h"

static int usage(void)
{
	fprintf(stderr,
		"Usage: kvmbpf [OPTIONS] OBJECT COMMAND [ARGS]\n"
		"\n"
		"OBJECT COMMAND:\n"
		"  net add NAME type bridge [uplink DEV] [mtu N]\n"
		"  net add NAME type internal [mtu N]\n"
		"  net add NAME type nat subnet CIDR [gateway ADDR] [wan DEV] [mtu N]\n"
		"  net del NAME\n"
		"  net show [NAME]\n"
		"  attach DEV net NAME [mac MAC] [ip ADDR]... [spoofcheck on|off]\n"
		"             [isolated on|off] [xdp on|off]\n"
		"  port set DEV [mac MAC] [ip ADDR]... [ip none]\n"
		"             [spoofcheck on|off] [isolated on|off]\n"
		"  detach DEV\n"
		"  port show [DEV]\n"
		"  fdb show [net NAME]\n"
		"  ct show|flush [net NAME]\n"
		"  forward add NET proto tcp|udp port P[-Q] to ADDR[:PORT]\n"
		"  forward del NET proto tcp|udp port P[-Q]\n"
		"  forward show [NET]\n"
		"  stats [DEV]\n"
		"  upgrade [force]   swap this build's programs in on every\n"
		"                    device, keeping every map\n"
		"  gc                forget ports whose device went away\n"
		"  reset             remove every network, port and pin\n"
		"  save              print the configuration (for load)\n"
		"  load FILE         apply a saved configuration ('-': stdin)\n"
		"  monitor [DEV] [drops] [count N]   stream dropped frames\n"
		"\n"
		"OPTIONS:\n"
		"  -j, --json        JSON output\n"
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

static const struct cmd objects[] = {
	{ "net", do_net },
	{ "attach", do_attach },
	{ "detach", do_detach },
	{ "port", do_port },
	{ "fdb", do_fdb },
	{ "stats", do_stats },
	{ "upgrade", do_upgrade },
	{ "gc", do_gc },
	{ "reset", do_reset },
	{ "save", do_save },
	{ "load", do_load },
	{ "monitor", do_monitor },
	{ "ct", do_ct },
	{ "forward", do_forward },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("KVMBPF_BPFFS");
	int c;

	if (env && *env)
		opts.bpffs = env;
	/* '+': stop at the first non-option, which is the OBJECT */
	while ((c = getopt_long(argc, argv, "+jphV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opts.json = true;
			break;
		case 'p':
			opts.json = opts.pretty = true;
			break;
		case 'b':
			opts.bpffs = optarg;
			break;
		case 'h':
			return usage();
		case 'V':
			printf("kvmbpf %s (map layout v%d)\n", KVMBPF_VERSION,
			       KVB_LAYOUT_VERSION);
			return 0;
		default:
			usage();
			return 2;
		}
	}
	libbpf_set_print(libbpf_quiet);
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage();
		return 2;
	}
	return dispatch("kvmbpf", objects, argc, argv, usage);
}
