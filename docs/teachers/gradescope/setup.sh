#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Gradescope's autograder setup (its "setup.sh"): runs once, as root, when Gradescope builds
# the autograder's image. It installs the toolchain and builds the kernel into the image, so
# that each submission's grading starts warm.
#
# The autograder zip holds this repository with this file and run_autograder at its root:
#   cp docs/teachers/gradescope/setup.sh docs/teachers/gradescope/run_autograder . &&
#   zip -r autograder.zip . -x 'target/*' '.git/*'
# Choose Gradescope's Debian 12 base image if offered, or a custom Docker image FROM
# debian:bookworm: `cargo xtask setup` installs from Debian 12's archive.
# Only checked on paper: Gradescope's image build cannot be run here.
set -eu
cd "${AUTOGRADER_ROOT:-/autograder}/source"
apt-get update
apt-get install -y --no-install-recommends cargo ca-certificates
cargo xtask setup
cargo xtask kernel
cargo build -p xtask --release 2>/dev/null || true
