#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds and runs a C program against it
# twice: with find_package(Rillflow) and with pkg-config. Prints "N passed, N failed".
set -euo pipefail
build_dir=$1 consumer_dir=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix
"${CMAKE:-cmake}" --install "$build_dir" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'librillflow.so.1' | head -n1)")

passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $*" >&2; fi; }

check test -L "$libdir/librillflow.so"
check test -L "$libdir/librillflow.so.1"
version=$(sed -n 's/^#define RF_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/rillflow.h")
check test "$(readlink "$libdir/librillflow.so.1")" = "librillflow.so.$version"
check test -f "$prefix/include/rillflow.h"
check test -z "$(nm -D --defined-only "$libdir/librillflow.so.1" | awk '$2 != "A" && $3 !~ /^rf_/')"

# find_package(Rillflow)
"${CMAKE:-cmake}" -S "$consumer_dir" -B "$scratch/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
"${CMAKE:-cmake}" --build "$scratch/cmake-build" >/dev/null
check env LD_LIBRARY_PATH="$libdir" "$scratch/cmake-build/consumer"

# pkg-config --cflags --libs rillflow
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
"${CC:-cc}" -o "$scratch/pc-consumer" "$consumer_dir/consumer.c" $(pkg-config --cflags --libs rillflow)
check env LD_LIBRARY_PATH="$libdir" "$scratch/pc-consumer"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
