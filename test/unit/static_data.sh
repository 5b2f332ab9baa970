#!/usr/bin/env bash
# Worker threads read the core's tables, so the core may hold no writable
# static data filled on first use: every table is `static const`, or set when
# the library is loaded, before any thread exists.  This lists the writable
# data (.data and .bss, not the read-only-after-relocation .data.rel.ro) of
# the core's objects and fails on anything but the load-time set below.
# Usage: test/unit/static_data.sh src/core/*.o     (prints one TAP line)
set -u
LOAD_TIME=" clv_rt clv_linreg_portable_only cpu_has_fma gl_tables "
found=()
for o in "$@"; do
    while read -r name; do
        [[ $LOAD_TIME == *" ${name%.[0-9]*} "* ]] || found+=("$(basename "$o"):$name")
    done < <(objdump -t "$o" |
             awk '/ O / && $(NF-2) ~ /^\.(data|bss)(\.|$)/ && $(NF-2) !~ /^\.data\.rel\.ro/ {print $NF}')
done
if [ ${#found[@]} -eq 0 ]; then
    echo "ok - the core's writable static data is only what is set at load time"
else
    echo "not ok - writable static data in the core: ${found[*]}"
    exit 1
fi
