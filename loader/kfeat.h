/* SPDX-License-Identifier: MIT */
/*
 * What the running kernel offers the programs, asked before they load:
 * read-only flags (bpf/lib/kern.h kvb_kern_ctx, bpf/lib/xdpfwd.h
 * kvb_xdp_meta) make the code behind them dead where it does not. For
 * the loader (fabric.c) and for the tools and tests that load the same
 * objects as it does (tests/tools/verstat.c, tests/unit).
 */
#ifndef KVB_KFEAT_H
#define KVB_KFEAT_H

#include <stdbool.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

/*
 * Does the running kernel have bpf_cast_to_kern_ctx (in its BTF)? The
 * programs call it only when it does (bpf/lib/kern.h). Asked once a
 * process: the kernel's BTF is megabytes to parse, and an upgrade loads
 * the programs and then one bound XDP program per device.
 */
static inline bool kernel_has_kern_ctx(void)
{
	static int has = -1;
	struct btf *vmlinux;

	if (has >= 0)
		return has;
	vmlinux = btf__load_vmlinux_btf();
	has = vmlinux && btf__find_by_name_kind(vmlinux, "bpf_cast_to_kern_ctx",
						BTF_KIND_FUNC) > 0;
	btf__free(vmlinux);
	return has;
}

/*
 * May an XDP program call bpf_xdp_adjust_meta on this kernel? Some
 * kernels' builds refuse it; the XDP object calls it only where the flag
 * says so (bpf/lib/xdpfwd.h: kvb_xdp_meta). Asked once a process, by
 * loading a program of four instructions that calls it: libbpf 1.1's
 * libbpf_probe_bpf_helper reads the verifier's words for a refusal, and
 * does not know those of newer kernels ("cannot use helper").
 */
static inline bool kernel_has_xdp_meta(void)
{
	static const struct bpf_insn probe[] = {
		/* r2 = 0; call bpf_xdp_adjust_meta(r1 = ctx, 0) */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_xdp_adjust_meta },
		/* r0 = XDP_PASS; exit */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static int has = -1;
	int fd;

	if (has >= 0)
		return has;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, NULL, "GPL", probe,
			   sizeof(probe) / sizeof(probe[0]), NULL);
	has = fd >= 0;
	if (fd >= 0)
		close(fd);
	return has;
}

#endif /* KVB_KFEAT_H */
