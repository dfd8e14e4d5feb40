#!/usr/bin/env bash
# The plugin probe runs each driver's init in a child with a deadline: a
# driver that closes stdout and hangs is refused at the deadline (it used
# to block the worker for good), and several such cost one deadline, not
# one each; one that prints to stdout, or leaves a helper process behind,
# loads at once, and the helper does not outlive the probe.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
CD="$CD_BUILD_DIR/bin/connectord"
T=$(mktemp -d)
trap 'pkill -KILL -f "probe-plugin $T/" 2>/dev/null || true; rm -rf "$T"' EXIT
mkdir -m 0700 "$T/plugins"
cp "$CD_BUILD_DIR/testplugins-probe/"probe_*.so "$CD_TESTPLUGINS/test_gen.so" "$T/plugins/"
# Four hanging drivers: probed side by side, they cost one deadline, not four.
for i in 2 3 4; do cp "$T/plugins/probe_closed_hang.so" "$T/plugins/probe_closed_hang$i.so"; done
chmod 0600 "$T/plugins/"*.so
printf 'database:\n  url: "postgresql:///unused"\nplugins:\n  dir: "%s"\n' "$T/plugins" >"$T/c.yaml"

SECONDS=0
set +e
json=$(timeout 60 "$CD" -c "$T/c.yaml" plugins --json)
rc=$?
set -e
took=$SECONDS
[ "$rc" -ne 124 ] || cd_fail "the probe did not come back within 60 s"
refused() { python3 -c 'import json,sys; d=json.load(sys.stdin); print({r["file"]: r["reason"] for r in d["refused"]}.get(sys.argv[1], "NOT REFUSED"))' "$1" <<<"$json"; }
loaded() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(sorted(x["name"] for x in d["loaded"])))' <<<"$json"; }
assert_eq "chatty forker test_gen" "$(loaded)" "drivers that print or leave a helper behind load"
for f in probe_closed_hang.so probe_closed_hang2.so probe_closed_hang3.so probe_closed_hang4.so; do
    assert_contains "$(refused $f)" "init did not return within 10 s" "closed stdout, then hangs ($f)"
done
# One deadline (10 s) for all the hanging ones; the forker must not wait
# for its helper (60 s) nor count as hanging.
[ "$took" -lt 25 ] || cd_fail "probing took $took s"
sleep 0.5
if pgrep -f "probe-plugin $T/" >/dev/null; then
    cd_fail "a process started by a probed driver outlived the probe: $(pgrep -af "probe-plugin $T/")"
fi
echo "plugin probe checks passed"
