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

# BPF objects use the kernel's UAPI headers from linux-libc-dev, not a
# generated vmlinux.h: the datapath reads only packet data and its own maps,
# so there is nothing to relocate and no CO-RE dependency on kernel BTF.
BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -I maps -I $(ARCH_INC)
CFLAGS ?= -O2 -g
CFLAGS += -Wall -Wextra -Werror -std=gnu11 -I maps -I $(BUILD) -I loader
LDLIBS := -lbpf -lelf -lz

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps demo test unit netns guest bench clean help install

PREFIX ?= /usr/local
DESTDIR ?=

TOOLS := $(BUILD)/sendraw $(BUILD)/kvbbench

all: $(BUILD)/kvmbpf $(UNIT_BIN) $(TOOLS)

$(BUILD)/sendraw: tests/tools/sendraw.c | $(BUILD)
	$(CC) $(CFLAGS) $< -o $@

# benchmark tools (scripts/bench): built with everything, run by `make bench`
$(BUILD)/bench.bpf.o: scripts/bench/bpf/bench.bpf.c | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench.skel.h: $(BUILD)/bench.bpf.o
	$(BPFTOOL) gen skeleton $< name kvbb > $@

$(BUILD)/kvbbench: scripts/bench/kvbbench.c $(BUILD)/bench.skel.h
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
	@echo "make install  kvmbpf, QEMU scripts, libvirt hook, systemd unit"
