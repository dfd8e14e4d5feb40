#!/usr/bin/env bash
# The loader: `connectord plugins` lists the built-in drivers, and refuses
# each deliberately broken file with its name and the exact reason, while
# the rest load.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
CD="$CD_BUILD_DIR/bin/connectord"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
printf 'database:\n  url: "postgresql:///unused"\nplugins:\n  dir: "%s"\n' "$CD_TESTPLUGINS" >"$T/c.yaml"

json=$("$CD" -c "$T/c.yaml" plugins --json)
refused() { python3 -c 'import json,sys; d=json.load(sys.stdin); print({r["file"]: r["reason"] for r in d["refused"]}.get(sys.argv[1], "NOT REFUSED"))' "$1" <<<"$json"; }
loaded() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(sorted(x["name"] for x in d["loaded"])))' <<<"$json"; }

assert_eq "abi_misuse crasher hanger leaker leaver old_abi test_gen" "$(loaded)" "loaded test drivers"
abi_of() { python3 -c 'import json,sys; d=json.load(sys.stdin); print({x["name"]: x["abi"] for x in d["loaded"]}.get(sys.argv[1], "NOT LOADED"))' "$1" <<<"$json"; }
assert_eq "1.0" "$(abi_of old_abi)" "a driver built against ABI 1.0 loads (the host's callbacks table only grew)"
assert_contains "$(refused no_magic.so)" "not a connectord driver: no connectord_driver_magic symbol" "no magic"
assert_contains "$(refused wrong_major.so)" "built for plugin ABI 2, this connectord provides 1" "wrong major"
assert_contains "$(refused short_struct.so)" "descriptor is 12 bytes" "short struct"
assert_contains "$(refused init_fails.so)" "init failed (code 1): licence file /etc/acme/licence.key not found" "failing init"
assert_contains "$(refused init_crash.so)" "driver crashed while loading: SIGSEGV" "crash in init"
assert_contains "$(refused missing_run.so)" "did not set the required callback run" "missing callback"
assert_contains "$(refused test_gen_copy.so)" "duplicate driver name test_gen (already provided by test_gen.so)" "duplicate name"

# Of two files with one driver name, the listing (and so the API's
# validation) names the file a run loads: NAME.so, even when another file
# sorts before it (razorpay-2.1.so beside razorpay.so).
DD="$T/dup"
mkdir "$DD"
cp "$CD_TESTPLUGINS/test_gen.so" "$DD/test_gen.so"
cp "$CD_TESTPLUGINS/test_gen.so" "$DD/test_gen-2.so"
printf 'database:\n  url: "postgresql:///unused"\nplugins:\n  dir: "%s"\n' "$DD" >"$T/dd.yaml"
json=$("$CD" -c "$T/dd.yaml" plugins --json)
file_of() { python3 -c 'import json,sys; d=json.load(sys.stdin); print({x["name"]: x["file"] for x in d["loaded"]}.get(sys.argv[1], "NOT LOADED"))' "$1" <<<"$json"; }
assert_eq "test_gen.so" "$(file_of test_gen)" "NAME.so is the file listed as loaded, as runs load it"
assert_contains "$(refused test_gen-2.so)" "duplicate driver name test_gen (already provided by test_gen.so)" "the other file is the duplicate"

# Files that are not regular, or writable by others, are refused.
D="$T/plugins"
mkdir "$D"
cp "$CD_TESTPLUGINS/test_gen.so" "$D/"
ln -s "$D/test_gen.so" "$D/link.so"
cp "$CD_TESTPLUGINS/leaker.so" "$D/leaker.so"
chmod o+w "$D/leaker.so"
printf 'not an ELF file' >"$D/garbage.so"
printf 'database:\n  url: "postgresql:///unused"\nplugins:\n  dir: "%s"\n' "$D" >"$T/d.yaml"
json=$("$CD" -c "$T/d.yaml" plugins --json)
assert_contains "$(refused link.so)" "symbolic link" "symlink"
assert_contains "$(refused leaker.so)" "writable by others" "world-writable"
assert_contains "$(refused garbage.so)" "run ldd on it" "not an ELF file"
assert_eq "test_gen" "$(loaded)" "the good file still loads"

# A directory others can write to is refused as a whole: they could rename
# their own file over a driver between its checks and its copy. The sticky
# bit leaves them only their own files, which the owner check refuses.
W="$T/open"
mkdir "$W"
cp "$CD_TESTPLUGINS/test_gen.so" "$W/"
chmod 0777 "$W"
printf 'database:\n  url: "postgresql:///unused"\nplugins:\n  dir: "%s"\n' "$W" >"$T/w.yaml"
set +e
"$CD" -c "$T/w.yaml" plugins >"$T/out" 2>"$T/err"; rc=$?
set -e
assert_eq 3 "$rc" "world-writable plugin directory"
assert_contains "$(cat "$T/err")" "plugin directory $W is writable by others (mode 0777)" "directory message"
assert_contains "$(cat "$T/err")" "chmod go-w" "directory remedy"
assert_eq "" "$(cat "$T/out")" "nothing listed from a world-writable directory"
chmod 1777 "$W"
json=$("$CD" -c "$T/w.yaml" plugins --json)
assert_eq "test_gen" "$(loaded)" "a sticky world-writable directory loads"
chmod 0775 "$W"
set +e
"$CD" -c "$T/w.yaml" plugins >/dev/null 2>"$T/err"; rc=$?
set -e
assert_eq 3 "$rc" "group-writable plugin directory"
assert_contains "$(cat "$T/err")" "is writable by its group (mode 0775)" "group message"

# The built-in drivers, with their descriptors.
printf 'database:\n  url: "postgresql:///unused"\nplugins:\n  dir: "%s"\n' "$CD_BUILD_DIR/lib/connectord/plugins" >"$T/b.yaml"
json=$("$CD" -c "$T/b.yaml" plugins --json)
desc=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s:%s:%s:%s" % (x["name"], x["category"], x["dataset"], x["abi"]) for x in sorted(d["loaded"], key=lambda x: x["name"])))' <<<"$json")
assert_eq "bank_api:BANK_API:bank_statement:1.3 bank_sftp:BANK_SFTP:bank_statement:1.3 pg_api:PG_API:pg_transaction:1.3 pg_database:PG_DATABASE:configured:1.3" "$desc" "built-in drivers"
python3 - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
for drv in d["loaded"]:
    s = drv["config_schema"]
    assert s.get("type") == "object", drv["name"]
    assert drv["vendor"] and drv["version"], drv["name"]
PY
table=$("$CD" -c "$T/b.yaml" plugins)
assert_contains "$table" "pg_api" "human-readable table"
# A missing directory is an error, not an empty list.
printf 'database:\n  url: "postgresql:///unused"\nplugins:\n  dir: "/nonexistent"\n' >"$T/m.yaml"
set +e
"$CD" -c "$T/m.yaml" plugins >/dev/null 2>"$T/err"; rc=$?
set -e
assert_eq 3 "$rc" "missing plugin directory"
assert_contains "$(cat "$T/err")" "cannot open plugin directory /nonexistent" "message"
echo "all plugin loader checks passed"
