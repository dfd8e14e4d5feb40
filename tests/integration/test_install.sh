#!/usr/bin/env bash
# `cmake --install build --prefix P` gives the layout DESIGN.md fixes, and
# the installed binary finds its drivers and schema relative to itself.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
pg_tmp_start
P="$CD_TEST_TMP/prefix"
cmake --install "$CD_BUILD_DIR" --prefix "$P" >/dev/null
for f in bin/connectord include/connectord/plugin.h etc/connectord/connectord.yaml \
         lib/connectord/plugins/pg_api.so lib/connectord/plugins/bank_sftp.so \
         lib/connectord/plugins/bank_api.so lib/connectord/plugins/pg_database.so \
         share/connectord/schema/001_documented_schema.sql; do
    [ -e "$P/$f" ] || cd_fail "missing after install: $f"
done
[ -d "$P/etc/connectord/conf.d" ] || cd_fail "missing after install: etc/connectord/conf.d"
# Test drivers are not installed.
[ -e "$P/lib/connectord/plugins/test_gen.so" ] && cd_fail "test driver installed"
# The default configuration, with the database from the environment.
out=$(CONNECTORD_DATABASE_URL="$CD_DATABASE_URL" "$P/bin/connectord" -c "$P/etc/connectord/connectord.yaml" migrate)
assert_contains "$out" "applied" "migrate from the installed schema"
json=$("$P/bin/connectord" -c "$P/etc/connectord/connectord.yaml" plugins --json)
n=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["loaded"]))' <<<"$json")
assert_eq 4 "$n" "installed drivers found relative to the binary"
# Only the two ABI entry points are exported by a driver.
syms=$(nm -D --defined-only "$P/lib/connectord/plugins/pg_api.so" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ')
assert_eq "connectord_driver_init connectord_driver_magic " "$syms" "exported symbols"
echo "install checks passed"
