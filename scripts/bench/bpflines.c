// SPDX-License-Identifier: MIT
/*
 * bpflines [PREFIX...]: the JIT's line table of every loaded BPF program
 * whose name starts with one of the prefixes (default "kvb_"), one line
 * per record: "ADDRESS FILE:LINE: SOURCE", and each JITed function's
 * extent and name: "ADDRESS +LENGTH NAME" (a sample elsewhere, or named
 * otherwise by perf, is another program's).
 * With `perf script -F ip,sym`
 * of a profile taken while the programs were loaded, bpflines.py turns
 * samples into source lines: where a program's time goes, line by line
 * (perf annotate needs a libopcodes that Debian's perf lacks). The
 * records cover every function of a program, its global functions too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

static int wanted(const char *name, char **prefixes, int n)
{
	if (!n)
		return !strncmp(name, "kvb_", 4);
	for (int i = 0; i < n; i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

/* The line table of the program open as fd; 0, or -1 with errno. */
static int dump(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), nl, nj, rl, rj, nf, btf_id, nfi, rfi;
	struct bpf_func_info *fi;
	__u32 *flen;
	struct btf *btf;
	__u64 *jl, *fk;
	void *li;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -1;
	nl = info.nr_line_info;
	nj = info.nr_jited_line_info;
	rl = info.line_info_rec_size;
	rj = info.jited_line_info_rec_size;
	nf = info.nr_jited_ksyms;
	btf_id = info.btf_id;
	nfi = info.nr_func_info;
	rfi = info.func_info_rec_size;
	if (!nl || !nj || !btf_id || !nf || nf != info.nr_jited_func_lens ||
	    nfi != nf || rfi < sizeof(*fi))
		return 0;	/* no BTF line info, or not JITed */
	li = calloc(nl, rl);
	jl = calloc(nj, rj);
	fk = calloc(nf, sizeof(*fk));
	flen = calloc(nf, sizeof(*flen));
	fi = calloc(nfi, rfi);
	if (!li || !jl || !fk || !flen || !fi) {
		free(fi);
		free(li);
		free(jl);
		free(fk);
		free(flen);
		errno = ENOMEM;
		return -1;
	}
	memset(&info, 0, sizeof(info));
	info.nr_line_info = nl;
	info.line_info_rec_size = rl;
	info.line_info = (unsigned long)li;
	info.nr_jited_line_info = nj;
	info.jited_line_info_rec_size = rj;
	info.jited_line_info = (unsigned long)jl;
	info.nr_jited_ksyms = nf;
	info.jited_ksyms = (unsigned long)fk;
	info.nr_jited_func_lens = nf;
	info.jited_func_lens = (unsigned long)flen;
	info.nr_func_info = nfi;
	info.func_info_rec_size = rfi;
	info.func_info = (unsigned long)fi;
	len = sizeof(info);
	btf = NULL;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		btf = btf__load_from_kernel_by_id(btf_id);
	/* the two tables are parallel: record i's address is jl[i] */
	for (__u32 i = 0; btf && i < nj && i < nl; i++) {
		const struct bpf_line_info *l = (void *)((char *)li + i * rl);
		const char *file = btf__name_by_offset(btf, l->file_name_off);
		const char *src = btf__name_by_offset(btf, l->line_off);
		const char *base = file ? strrchr(file, '/') : NULL;

		printf("%llx %s:%u: %s\n", (unsigned long long)jl[i],
		       base ? base + 1 : (file ? file : "?"),
		       BPF_LINE_INFO_LINE_NUM(l->line_col), src ? src : "");
	}
	/* the functions in the same order: their BTF names, as perf's
	 * symbols (bpf_prog_TAG_NAME) carry them */
	for (__u32 i = 0; btf && i < nf; i++) {
		const struct bpf_func_info *f = (void *)((char *)fi + i * rfi);
		const struct btf_type *t = btf__type_by_id(btf, f->type_id);
		const char *name = t ? btf__name_by_offset(btf, t->name_off) : NULL;

		printf("%llx +%u %s\n", (unsigned long long)fk[i], flen[i],
		       name && *name ? name : "?");
	}
	btf__free(btf);
	free(fi);
	free(li);
	free(jl);
	free(fk);
	free(flen);
	return 0;
}

int main(int argc, char **argv)
{
	__u32 id = 0;
	int n = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;	/* gone meanwhile */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    wanted(info.name, argv + 1, argc - 1)) {
			if (dump(fd))
				fprintf(stderr, "bpflines: program %u: %s\n", id,
					strerror(errno));
			n++;
		}
		close(fd);
	}
	if (!n) {
		fprintf(stderr, "bpflines: no loaded program matches\n");
		return 1;
	}
	return 0;
}
