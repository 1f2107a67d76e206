#!/bin/sh
# Build every fuzz target (tests/fuzz/fuzz_*.c) with libFuzzer and run each
# for FUZZ_SECONDS seconds (default 10) on a copy of its seed corpus.
#
#   tests/fuzz/run.sh [LIBRARY]
#
# LIBRARY is a libedge archive built with clang and
# -fsanitize=address,undefined,fuzzer-no-link. Without it the script compiles
# common/*.c that way into build/fuzz/obj. Prints "ok - fuzz NAME" or
# "not ok - fuzz NAME" per target and exits 1 when any target fails to build
# or finds a crash. Crash inputs are kept in build/fuzz/artifacts, logs in
# build/fuzz/logs (FUZZ_OUT sets another folder than build/fuzz). The
# committed corpus is never written to.
#
# Needs clang and the libFuzzer runtime (Debian: clang, libclang-rt-14-dev),
# pkg-config, and the libpq, json-c, OpenSSL, hiredis, libwebsockets and libfcgi development
# packages.

set -u

FUZZ_SECONDS=${FUZZ_SECONDS:-10}
CC=${FUZZ_CC:-clang}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${FUZZ_OUT:-$ROOT/build/fuzz}
SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra $SANITIZE"

case $FUZZ_SECONDS in
''|*[!0-9]*)
    echo "run.sh: FUZZ_SECONDS must be a whole number of seconds, not '$FUZZ_SECONDS'" >&2
    exit 2
    ;;
esac

PACKAGES="libpq json-c openssl hiredis libwebsockets"
# shellcheck disable=SC2086 # one argument per package
if ! PKG_CFLAGS=$(pkg-config --cflags $PACKAGES) ||
   ! PKG_LIBS=$(pkg-config --libs $PACKAGES); then
    echo "run.sh: pkg-config does not know one of $PACKAGES; install their -dev packages" >&2
    exit 2
fi

mkdir -p "$OUT/obj" "$OUT/artifacts" "$OUT/logs"

# The library under test: given, or built here with fuzzer instrumentation.
if [ $# -ge 1 ]; then
    LIBRARY=$1
    if [ ! -f "$LIBRARY" ]; then
        echo "run.sh: library '$LIBRARY' not found" >&2
        exit 2
    fi
else
    LIBRARY=$OUT/libedge-fuzz.a
    rm -f "$OUT"/obj/*.o "$LIBRARY"
    for source in "$ROOT"/common/*.c; do
        object=$OUT/obj/$(basename "$source" .c).o
        # shellcheck disable=SC2086 # the flag lists are meant to split
        if ! $CC $CFLAGS -fsanitize=fuzzer-no-link $PKG_CFLAGS \
            -c "$source" -o "$object"; then
            echo "not ok - fuzz library ($source does not compile)"
            exit 1
        fi
    done
    ar rcs "$LIBRARY" "$OUT"/obj/*.o
fi

failed=0
for source in "$ROOT"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$source" .c)
    name=${name#fuzz_}
    binary=$OUT/fuzz_$name
    log=$OUT/logs/$name.log

    # shellcheck disable=SC2086
    if ! $CC $CFLAGS -fsanitize=fuzzer -I"$ROOT/common" $PKG_CFLAGS \
        "$source" "$LIBRARY" $PKG_LIBS -lfcgi -o "$binary" >"$log" 2>&1; then
        echo "not ok - fuzz $name (build failed, see $log)"
        failed=1
        continue
    fi

    # Work on a copy: libFuzzer adds every new input to its corpus folder.
    work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$name.XXXXXX")
    if [ -d "$ROOT/tests/fuzz/corpus/$name" ]; then
        cp "$ROOT/tests/fuzz/corpus/$name"/* "$work"/ 2>/dev/null
    fi

    if "$binary" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$name-" "$work" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "ok - fuzz $name (${runs:-?} runs in ${FUZZ_SECONDS}s)"
    else
        echo "not ok - fuzz $name (see $log)"
        grep -m 3 -E 'assertion failed|ERROR: |runtime error|Test unit written' \
            "$log" | sed 's/^/#   /'
        failed=1
    fi
    rm -rf "$work"
done
exit $failed
