#!/bin/sh
# The core-to-libc seam (core/base/libc.h): no object linked into libhfshim.so or libhfshim-net.so,
# other than the wrappers themselves (preload/), may call by name a function libhfshim.so
# exports, since such a call binds to the shim's own wrapper and re-enters it. Prints each
# object and the names it calls; exits 1 if there is any. Needs only nm (binutils).
# Usage: check_seam.sh BUILD_DIR OBJECT...
set -eu
build=$1
shift
exported=$(mktemp)
trap 'rm -f "$exported"' EXIT
nm -D --defined-only "$build/libhfshim.so" | awk '{ print $NF }' | sed 's/@.*//' | sort -u >"$exported"
if [ ! -s "$exported" ]; then
    echo "check_seam: no exported names in $build/libhfshim.so" >&2
    exit 1
fi
bad=0
for o in "$@"; do
    case $o in */obj/preload/*) continue ;; esac
    calls=$(nm -u "$o" | awk '{ print $NF }' | sed 's/@.*//' | sort -u | comm -12 - "$exported" | tr '\n' ' ')
    if [ -n "$calls" ]; then
        echo "check_seam: $o calls wrapped names directly (use hfs_libc(), core/base/libc.h): $calls" >&2
        bad=1
    fi
done
[ $bad = 0 ] && echo "check_seam: $# objects call libc only through core/base/libc.h's table"
exit $bad
