# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build, as for any external module:
#
#   make KDIR=<kernel build tree> [RUSTC=<rustc with rust-src>]
#
# The kernel build tree must have CONFIG_RUST=y. `cargo xtask kernel` makes one.

KDIR ?= /lib/modules/$(shell uname -r)/build

# Rust files of the module, checked against the kernel's own rustfmt settings.
RUST_SRCS := $(wildcard $(CURDIR)/rust/*.rs)

all: modules

modules clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $@

# The kernel's `rustfmtcheck` only walks its own tree; apply its settings here. An O= build
# tree links its source as `source`; an in-tree build is its own source.
rustfmt rustfmtcheck: KSRC = $(if $(wildcard $(KDIR)/source),$(realpath $(KDIR)/source),$(KDIR))
rustfmt:
	rustfmt --edition 2021 --config-path $(KSRC)/.rustfmt.toml $(RUST_SRCS)
rustfmtcheck:
	rustfmt --check --edition 2021 --config-path $(KSRC)/.rustfmt.toml $(RUST_SRCS)

.PHONY: all modules clean rustfmt rustfmtcheck
