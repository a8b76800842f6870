# SPDX-License-Identifier: MIT
# kvmbpf: build, demo, test. `make help` lists the targets.

CLANG ?= clang
CC ?= gcc
BPFTOOL ?= bpftool
ARCH_INC := /usr/include/$(shell $(CC) -dumpmachine)

BUILD := build
BPF_SRCS := bpf/tap.bpf.c bpf/tap_xdp.bpf.c
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/lib/*.h) maps/kvb_maps.h

LOADER_SRCS := $(wildcard loader/*.c)
LOADER_HDRS := $(wildcard loader/*.h)
LOADER_OBJS := $(patsubst loader/%.c,$(BUILD)/loader/%.o,$(LOADER_SRCS))
LIB_OBJS := $(filter-out $(BUILD)/loader/main.o,$(LOADER_OBJS))

UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BIN := $(BUILD)/unit_tests

# The fuzzer (tests/fuzz) drives its own build of the datapath: the same
# sources with tests/fuzz/observe.h forced in, which records every redirect
# target, and a CLI and library built on it (build/fuzz/).
FUZZ := $(BUILD)/fuzz
FUZZ_BIN := $(BUILD)/kvbfuzz
FUZZ_SKELS := $(patsubst bpf/%.bpf.c,$(FUZZ)/%.skel.h,$(BPF_SRCS))
FUZZ_LOADER_OBJS := $(patsubst loader/%.c,$(FUZZ)/loader/%.o,$(LOADER_SRCS))
FUZZ_LIB_OBJS := $(filter-out $(FUZZ)/loader/main.o,$(FUZZ_LOADER_OBJS))
FUZZ_TIME ?= 600

# BPF objects use the kernel's UAPI headers from linux-libc-dev, not a
# generated vmlinux.h: the datapath reads packet data and its own maps, and
# one kernel value (bpf/lib/kern.h: the IPv4 route generation, and the
# namespace's cookie) through CO-RE offsets that libbpf resolves against
# the kernel's BTF.
BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -I maps -I $(ARCH_INC)
CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Werror -std=gnu11 -I maps -I $(BUILD) -I loader
LDLIBS := -lbpf -lelf -lz -lmnl

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all hdrcheck deps demo test unit test-unit netns guest bench clean help install fuzz

PREFIX ?= /usr/local
DESTDIR ?=

TOOLS := $(BUILD)/sendraw $(BUILD)/vnettap $(BUILD)/kvbbench $(BUILD)/verstat \
	 $(BUILD)/vlanpush.bpf.o $(BUILD)/bpflines

all: $(BUILD)/kvmbpf $(UNIT_BIN) $(TOOLS) $(FUZZ_BIN) hdrcheck

# Every datapath header compiles on its own (it includes what it uses):
# each is compiled alone, for tc and for XDP; unused static functions are
# expected in a header alone.
HDR_STAMPS := $(patsubst bpf/lib/%.h,$(BUILD)/hdrcheck/%.ok,$(wildcard bpf/lib/*.h))
hdrcheck: $(HDR_STAMPS)

$(BUILD)/hdrcheck:
	mkdir -p $@

$(BUILD)/hdrcheck/%.ok: bpf/lib/%.h $(BPF_HDRS) | $(BUILD)/hdrcheck
	$(CLANG) $(BPF_CFLAGS) -Wno-unused-function -fsyntax-only -include $< -x c /dev/null
	$(CLANG) $(BPF_CFLAGS) -Wno-unused-function -fsyntax-only -DKVB_HOOK_XDP -include $< -x c /dev/null
	touch $@

$(BUILD)/sendraw: tests/tools/sendraw.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@

# verifier figures per program: build/verstat build/tap.bpf.o
$(BUILD)/verstat: tests/tools/verstat.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)

$(BUILD)/vnettap: tests/tools/vnettap.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@

# tests: a VLAN tag in skb metadata, as a VLAN device with offload makes
$(BUILD)/vlanpush.bpf.o: tests/tools/vlanpush.bpf.c | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# benchmark tools (scripts/bench): built with everything, run by `make bench`
$(BUILD)/bench.bpf.o: scripts/bench/bpf/bench.bpf.c | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench.skel.h: $(BUILD)/bench.bpf.o
	$(BPFTOOL) gen skeleton $< name kvbb > $@

$(BUILD)/kvbbench: scripts/bench/kvbbench.c $(BUILD)/bench.skel.h
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)

# profiles by source line (scripts/bench/profile.sh, bpflines.py)
$(BUILD)/bpflines: scripts/bench/bpflines.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)

$(BUILD) $(BUILD)/loader:
	mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name kvb_$(subst .bpf.o,,$(notdir $<)) > $@

$(BUILD)/loader/%.o: loader/%.c $(LOADER_HDRS) $(SKELS) maps/kvb_maps.h | $(BUILD)/loader
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/kvmbpf: $(LOADER_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(UNIT_BIN): $(UNIT_SRCS) $(LIB_OBJS) $(SKELS) tests/unit/*.h
	$(CC) $(CFLAGS) -I tests/unit $(UNIT_SRCS) $(LIB_OBJS) -o $@ $(LDLIBS)

$(FUZZ) $(FUZZ)/loader:
	mkdir -p $@

$(FUZZ)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) tests/fuzz/observe.h tests/fuzz/obs.h | $(FUZZ)
	$(CLANG) $(BPF_CFLAGS) -I tests/fuzz -include tests/fuzz/observe.h -c $< -o $@

$(FUZZ)/%.skel.h: $(FUZZ)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name kvb_$(subst .bpf.o,,$(notdir $<)) > $@

$(FUZZ)/loader/%.o: loader/%.c $(LOADER_HDRS) $(FUZZ_SKELS) maps/kvb_maps.h | $(FUZZ)/loader
	$(CC) -I $(FUZZ) $(CFLAGS) -c $< -o $@

$(FUZZ)/kvmbpf: $(FUZZ_LOADER_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(FUZZ_BIN): tests/fuzz/fuzz.c tests/fuzz/obs.h tests/unit/harness.c tests/unit/unit.h $(FUZZ_LIB_OBJS) $(FUZZ)/kvmbpf
	$(CC) $(CFLAGS) -I tests/unit -I tests/fuzz tests/fuzz/fuzz.c tests/unit/harness.c $(FUZZ_LIB_OBJS) -o $@ $(LDLIBS)

# make fuzz [FUZZ_TIME=seconds] [SEED=n] [REPLAY=case-file-or-dir]
fuzz: all
	$(FUZZ_BIN) --time $(FUZZ_TIME) $(if $(SEED),--seed $(SEED)) $(if $(REPLAY),--replay $(REPLAY))

deps:
	@bash scripts/deps.sh

demo: deps
	$(MAKE) all
	bash scripts/demo.sh

test: deps
	$(MAKE) all
	bash tests/run.sh

unit netns guest: deps
	$(MAKE) all
	bash tests/run.sh $@

# the unit tests alone, or some of their suites: make test-unit SUITE=nat
test-unit: $(UNIT_BIN)
	$(UNIT_BIN) $(SUITE)

bench: deps
	$(MAKE) all
	bash scripts/bench/run.sh

# The command, QEMU scripts, libvirt hook (as an example: libvirt has one
# qemu hook, so it is not installed over an existing one) and systemd unit.
install: all
	install -D -m 0755 $(BUILD)/kvmbpf $(DESTDIR)$(PREFIX)/sbin/kvmbpf
	install -D -m 0755 scripts/qemu-ifup $(DESTDIR)$(PREFIX)/libexec/kvmbpf/qemu-ifup
	install -D -m 0755 scripts/qemu-ifdown $(DESTDIR)$(PREFIX)/libexec/kvmbpf/qemu-ifdown
	install -D -m 0755 scripts/libvirt-hook-qemu $(DESTDIR)$(PREFIX)/libexec/kvmbpf/libvirt-hook-qemu
	install -D -m 0644 scripts/kvmbpf.service $(DESTDIR)/etc/systemd/system/kvmbpf.service

clean:
	rm -rf $(BUILD)

help:
	@echo "make          build build/kvmbpf and the unit test runner"
	@echo "make demo    install dependencies, build, run the namespace demo"
	@echo "make test    install dependencies, build, run every test"
	@echo "make unit|netns|guest   one test layer"
	@echo "make test-unit [SUITE='nat route']   unit suites: bridge guard nat route xdpcsum"
	@echo "make fuzz     fuzz the datapath (FUZZ_TIME=s SEED=n REPLAY=case|dir)"
	@echo "make install  kvmbpf, QEMU scripts, libvirt hook, systemd unit"
