// SPDX-License-Identifier: MIT
/*
 * verstat OBJ [BPFFS-DIR]: load a BPF object the way the loader does (maps
 * pinned by name under BPFFS-DIR, a scratch directory by default) and
 * print each program's verifier figures: instructions processed (of the
 * 1M budget), stack depth per frame, xlated and JIT sizes. veristat is
 * not packaged for Debian 12; this is the part of it the datapath needs.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kfeat.h"

#define LOG_SZ (16 << 20)

/* the verifier's last lines: "processed N insns ...", "stack depth A+B" */
static void summary(const char *log, char *out, size_t len)
{
	const char *p = strstr(log, "processed ");
	const char *s = strstr(log, "stack depth ");
	int n = 0;

	out[0] = 0;
	if (p)
		n = snprintf(out, len, "%.*s", (int)strcspn(p + 10, " "), p + 10);
	if (s && n >= 0 && (size_t)n < len)
		snprintf(out + n, len - n, "\t%.*s", (int)strcspn(s + 12, "\n"),
			 s + 12);
}

/*
 * Set the object's read-only flags kvb_kern_ctx and kvb_xdp_meta as the
 * loader does (loader/kfeat.h: what the kernel offers), so that the code
 * behind them is verified as it runs; an object without them is left as
 * is.
 */
static void set_kern_ctx(struct bpf_object *obj)
{
	struct btf *btf = bpf_object__btf(obj);
	__u32 has = kernel_has_kern_ctx(), meta = kernel_has_xdp_meta();
	const struct btf_var_secinfo *vs;
	const struct btf_type *t;
	struct bpf_map *map;
	const void *init;
	size_t size;
	char *data;
	int id;

	bpf_object__for_each_map(map, obj) {
		const char *n = bpf_map__name(map);
		size_t l = strlen(n);

		if (l >= 7 && !strcmp(n + l - 7, ".rodata"))
			break;
	}
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	if (!map || id < 0)
		return;
	init = bpf_map__initial_value(map, &size);
	data = init ? malloc(size) : NULL;
	if (!data)
		return;
	memcpy(data, init, size);
	t = btf__type_by_id(btf, (__u32)id);
	vs = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		const char *name = btf__name_by_offset(btf, v->name_off);

		if (vs->offset + 4 > size)
			continue;
		if (!strcmp(name, "kvb_kern_ctx"))
			memcpy(data + vs->offset, &has, 4);
		else if (!strcmp(name, "kvb_xdp_meta"))
			memcpy(data + vs->offset, &meta, 4);
	}
	bpf_map__set_initial_value(map, data, size);
	free(data);
}

int main(int argc, char **argv)
{
	char dir[] = "/sys/fs/bpf/verstatXXXXXX", line[256];
	struct bpf_program *prog;
	struct bpf_object *obj;
	char **logs;
	int i = 0, n = 0, ret;

	if (argc < 2) {
		fprintf(stderr, "usage: verstat OBJ [BPFFS-DIR]\n");
		return 2;
	}
	if (argc < 3 && !mkdtemp(dir)) {
		fprintf(stderr, "verstat: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	{
		LIBBPF_OPTS(bpf_object_open_opts, oo,
			    .pin_root_path = argc > 2 ? argv[2] : dir);

		obj = bpf_object__open_file(argv[1], &oo);
	}
	if (!obj) {
		fprintf(stderr, "verstat: open %s: %s\n", argv[1],
			strerror(errno));
		if (argc < 3)
			rmdir(dir);	/* the scratch directory, still empty */
		return 1;
	}
	set_kern_ctx(obj);
	bpf_object__for_each_program(prog, obj)
		n++;
	logs = calloc(n, sizeof(*logs));
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);
		size_t len = strlen(name);

		/* a device-bound XDP program (kvb_xdp_bound) is loaded bound
		 * to a device (loader/fabric.c: xdp_bound_prog), one with
		 * native XDP: VERSTAT_DEV (a veth will do), else left out */
		if (len > 6 && !strcmp(name + len - 6, "_bound")) {
			const char *dev = getenv("VERSTAT_DEV");
			unsigned int ifx = dev ? if_nametoindex(dev) : 0;

			if (ifx) {
				bpf_program__set_ifindex(prog, ifx);
				bpf_program__set_flags(prog, 1U << 6);
			} else {
				fprintf(stderr, "verstat: %s left out (set "
					"VERSTAT_DEV to a device with native "
					"XDP)\n", name);
				bpf_program__set_autoload(prog, false);
			}
		}
		logs[i] = calloc(1, LOG_SZ);
		bpf_program__set_log_buf(prog, logs[i], LOG_SZ);
		bpf_program__set_log_level(prog, getenv("VERSTAT_LOG") ? 5 : 4);
		i++;
	}
	ret = bpf_object__load(obj);
	printf("%-24s %9s\t%-12s %8s %8s\n", "program", "insns", "stack",
	       "xlated", "jited");
	i = 0;
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		char *insns, *stack;

		if (ret && bpf_program__fd(prog) < 0 && logs[i][0] &&
		    1) {
			size_t l = strlen(logs[i]);

			/* the verifier's complaint is at the end */
			fprintf(stderr, "%s:\n%s\n", bpf_program__name(prog),
				logs[i] + (l > 3000 ? l - 3000 : 0));
		}
		summary(logs[i++], line, sizeof(line));
		stack = strchr(line, '\t');
		if (stack)
			*stack++ = 0;
		insns = line;
		if (bpf_program__fd(prog) >= 0)
			bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info,
					       &len);
		printf("%-24s %9s\t%-12s %8u %8u\n", bpf_program__name(prog),
		       insns, stack ? stack : "-", info.xlated_prog_len,
		       info.jited_prog_len);
	}
	bpf_object__close(obj);
	if (argc < 3) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "verstat: cannot remove %s\n", dir);
	}
	if (ret)
		fprintf(stderr, "verstat: load failed: %s\n", strerror(-ret));
	return ret ? 1 : 0;
}
