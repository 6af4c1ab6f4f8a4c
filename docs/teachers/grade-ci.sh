#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The commands every CI job of docs/teachers/ runs, in one place: install what is missing,
# build the kernel (or take it from the restored cache), grade one shard of the class.
#
#   docs/teachers/grade-ci.sh SUBMISSIONS OUTPUT [K/N] [EXERCISE...]
#
# SUBMISSIONS holds one directory per student; OUTPUT receives the gradebook, junit.xml and
# students/<name>/{feedback.txt,results.json}. Exit 0 when every submission was graded
# (whatever the scores), 69 when the harness could not grade some, 2 on a usage error.
set -eu
if [ $# -lt 2 ]; then
	echo "usage: $0 SUBMISSIONS OUTPUT [K/N] [EXERCISE...]" >&2
	exit 2
fi
submissions=$1
output=$2
shift 2
shard=1/1
if [ $# -gt 0 ]; then
	shard=$1
	shift
fi
exercises=""
for exercise in "$@"; do
	exercises="$exercises --exercise $exercise"
done
cd "$(dirname "$0")/../.."
cargo xtask setup
cargo xtask kernel >/dev/null
# shellcheck disable=SC2086
exec cargo xtask --accel "${IRQLOCK_ACCEL:-auto}" grade "$submissions" --output "$output" \
	--shard "$shard" --jobs "${GRADE_JOBS:-2}" $exercises
