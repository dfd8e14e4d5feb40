#!/usr/bin/env bash
# GET /metrics: parsed by a strict Prometheus text-format (0.0.4) parser
# written here (HELP/TYPE before samples, one family block each, label
# escaping, no duplicate series, histogram buckets cumulative with +Inf ==
# _count, counters named *_total), and the values checked against runs,
# attempts and deliveries put in the database; two workers report the same
# figures; GET /healthz says the database is reachable and the loop ticks.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
pg_tmp_start
trap 'serve_stop_all; pg_tmp_stop' EXIT
CD="$CD_BUILD_DIR/bin/connectord"
export CD_TEST_SECRET="metrics-secret-5e2b7c"

CFG="$CD_TEST_TMP/w/connectord.yaml"
serve_config "$CFG" "alerts:" "  channels:" "    - name: hook" "      type: webhook" \
    "      url: \"http://127.0.0.1:9/hook\"" "      secret: {secret: \"env:CD_TEST_SECRET\"}"
"$CD" -c "$CFG" migrate >/dev/null
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null
add() {
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver, schedule_enabled, alert_channels)
       VALUES (\$\$$1\$\$, '$2', 'S', '{\"rows\": 2, \"seed\": 1, \"bank\": \"M\", \"password\": \"$CD_TEST_SECRET\"}', 'test_gen', false, '[]') RETURNING id"
}
a=$(add 'alpha' BANK_API)
b=$(add 'we"ird\name' PG_API)
run() { # connector type status success failed duration attempt [completed]
    q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, records_success, records_failed,
         duration_seconds, attempt, max_attempts, started_at, completed_at)
       VALUES ($1, '$2', '2026-03-09', '$3', $4, $5, $6, $7, 3, now() - interval '1 hour', ${8:-now()}) RETURNING id"
}
run "$a" SCHEDULED SUCCESS 10 1 0.5 1 "'2026-03-10T00:00:00Z'" >/dev/null
run "$a" SCHEDULED SUCCESS 20 0 12 2 "'2026-03-11T00:00:00Z'" >/dev/null
run "$a" MANUAL FAILED 0 0 400 3 >/dev/null
run "$a" TEST SUCCESS 99 0 1 1 >/dev/null
run "$b" MANUAL PARTIAL_SUCCESS 7 3 2000 1 "'2026-03-12T00:00:00Z'" >/dev/null
lost=$(run "$b" MANUAL FAILED 0 0 5000 2)
q "INSERT INTO sp_v2_connector_run_attempts (run_id, attempt, status, error_message) VALUES ($lost, 1, 'FAILED', 'worker lost'), ($lost, 2, 'FAILED', 'boom')" >/dev/null
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, not_before) VALUES ($a, 'MANUAL', '2026-03-09', 'QUEUED', now() + interval '1 day')" >/dev/null
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, worker_id, lease_expires_at, started_at) VALUES ($b, 'MANUAL', '2026-03-09', 'RUNNING', 'elsewhere/1/x', now() + interval '1 day', now())" >/dev/null
n=$(q "INSERT INTO sp_v2_notifications (kind, dedup_key, fanned_out_at) VALUES ('TEST', 'test:m', now()) RETURNING id")
d=$(q "INSERT INTO sp_v2_notification_deliveries (notification_id, channel, channel_type, status, attempts) VALUES ($n, 'hook', 'webhook', 'SENT', 3) RETURNING id")
q "INSERT INTO sp_v2_notification_attempts (delivery_id, attempt, started_at, outcome, http_status) VALUES ($d, 1, now(), 'ERROR', 500), ($d, 2, now(), 'ERROR', 502), ($d, 3, now(), 'SENT', 200)" >/dev/null

serve_start w1 "$CFG"
serve_start w2 "$CFG"
sleep 1.5
curl -sf "http://127.0.0.1:${SERVE_PORT[w1]}/metrics" -D "$CD_TEST_TMP/h1" -o "$CD_TEST_TMP/m1" || cd_fail "GET /metrics"
curl -sf "http://127.0.0.1:${SERVE_PORT[w2]}/metrics" -o "$CD_TEST_TMP/m2" || cd_fail "GET /metrics (w2)"
assert_contains "$(cat "$CD_TEST_TMP/h1")" "text/plain; version=0.0.4" "content type"

cat >"$CD_TEST_TMP/promparse.py" <<'PY'
import json, math, re, sys
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LNAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
def fail(n, msg): sys.exit("line %d: %s" % (n, msg))
def parse(text):
    if not text.endswith("\n"): sys.exit("no final newline")
    types, helps, series, done, current = {}, {}, {}, set(), None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"): fail(n, "bad comment")
            name = parts[2]
            if not NAME.match(name): fail(n, "bad name " + name)
            if name in done: fail(n, "family %s split" % name)
            if parts[1] == "TYPE":
                if name in types: fail(n, "second TYPE")
                if parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"): fail(n, "type")
                types[name] = parts[3]
            else:
                if name in helps: fail(n, "second HELP")
                helps[name] = parts[3]
            if current and current != name: done.add(current)
            current = name
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)\Z", line)
        if not m: fail(n, "bad sample: " + line)
        name, body, value = m.group(1), m.group(3), m.group(4)
        fam = name
        for suf in ("_bucket", "_sum", "_count"):
            if name.endswith(suf) and types.get(name[: -len(suf)]) == "histogram": fam = name[: -len(suf)]
        if fam not in types: fail(n, "sample before TYPE: " + name)
        if fam != current: fail(n, "sample of %s outside its block" % fam)
        labels, i = {}, 0
        while body and i < len(body):
            lm = re.match(r'([a-zA-Z_][a-zA-Z0-9_]*)="', body[i:])
            if not lm: fail(n, "bad label at " + body[i:])
            i += lm.end(); v = ""
            while True:
                if i >= len(body): fail(n, "unterminated label value")
                c = body[i]
                if c == "\\":
                    e = body[i + 1]
                    if e not in 'n"\\': fail(n, "bad escape")
                    v += {"n": "\n", '"': '"', "\\": "\\"}[e]; i += 2
                elif c == '"': i += 1; break
                elif c == "\n": fail(n, "raw newline")
                else: v += c; i += 1
            if lm.group(1) in labels: fail(n, "duplicate label")
            labels[lm.group(1)] = v
            if i < len(body):
                if body[i] != ",": fail(n, "expected ,")
                i += 1
        try: val = float(value)
        except ValueError: fail(n, "bad value " + value)
        key = (name, tuple(sorted(labels.items())))
        if key in series: fail(n, "duplicate series")
        series[key] = val
    for fam, t in types.items():
        if t == "counter" and not fam.endswith("_total"): sys.exit("counter %s not *_total" % fam)
        if t == "histogram":
            groups = {}
            for (name, labels), v in series.items():
                if name == fam + "_bucket":
                    rest = tuple(l for l in labels if l[0] != "le")
                    le = dict(labels)["le"]
                    groups.setdefault(rest, []).append((math.inf if le == "+Inf" else float(le), v))
            for rest, bs in groups.items():
                bs.sort()
                if bs[-1][0] != math.inf: sys.exit("%s: no +Inf bucket" % fam)
                if any(b[1] > c[1] for b, c in zip(bs, bs[1:])): sys.exit("%s: buckets not cumulative" % fam)
                if series.get((fam + "_count", rest)) != bs[-1][1]: sys.exit("%s: +Inf != _count" % fam)
                if (fam + "_sum", rest) not in series: sys.exit("%s: no _sum" % fam)
    return series
s = parse(open(sys.argv[1]).read())
print(json.dumps([[k[0], dict(k[1]), v] for k, v in s.items()]))
PY
python3 "$CD_TEST_TMP/promparse.py" "$CD_TEST_TMP/m1" >"$CD_TEST_TMP/p1" || cd_fail "w1's /metrics is not valid Prometheus text"
python3 "$CD_TEST_TMP/promparse.py" "$CD_TEST_TMP/m2" >"$CD_TEST_TMP/p2" || cd_fail "w2's /metrics is not valid Prometheus text"
# The parser must refuse broken input, or the checks above prove nothing.
printf 'x_total 1\n' >"$CD_TEST_TMP/bad1"
printf '# TYPE x counter\nx{a="b\\q"} 1\n' >"$CD_TEST_TMP/bad2"
printf '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n' >"$CD_TEST_TMP/bad3"
for f in bad1 bad2 bad3; do
    ! python3 "$CD_TEST_TMP/promparse.py" "$CD_TEST_TMP/$f" >/dev/null 2>&1 || cd_fail "the parser accepted $f"
done

val() { # file metric labels-json -> value or "none"
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
want = json.loads(sys.argv[3])
hits = [v for n, l, v in rows if n == sys.argv[2] and l == want]
print(("%.15g" % hits[0]) if hits else "none")
PY
}
P="$CD_TEST_TMP/p1"
assert_eq 2 "$(val "$P" connectord_runs "{\"connector_id\": \"$a\", \"connector\": \"alpha\", \"type\": \"SCHEDULED\", \"status\": \"SUCCESS\"}")" "runs by connector, type, status"
assert_eq 1 "$(val "$P" connectord_runs "{\"connector_id\": \"$b\", \"connector\": \"we\\\"ird\\\\name\", \"type\": \"MANUAL\", \"status\": \"PARTIAL_SUCCESS\"}")" "a name with a quote and a backslash, escaped"
assert_eq 30 "$(val "$P" connectord_records_loaded_total "{\"connector_id\": \"$a\", \"connector\": \"alpha\"}")" "records loaded (tests excluded)"
assert_eq 1 "$(val "$P" connectord_records_failed_total "{\"connector_id\": \"$a\", \"connector\": \"alpha\"}")" "records failed"
assert_eq 3 "$(val "$P" connectord_run_retries_total "{\"connector_id\": \"$a\", \"connector\": \"alpha\"}")" "retries"
assert_eq 1773187200 "$(val "$P" connectord_last_success_timestamp_seconds "{\"connector_id\": \"$a\", \"connector\": \"alpha\"}")" "last success"
assert_eq 1 "$(val "$P" connectord_queue_depth '{}')" "queue depth"
assert_eq 1 "$(val "$P" connectord_runs_running '{}')" "running"
assert_eq 1 "$(val "$P" connectord_lease_rescues_total '{}')" "lease rescues"
assert_eq 7 "$(val "$P" connectord_driver_load_failures '{}')" "driver files refused by this worker"
assert_eq 2 "$(val "$P" connectord_notification_deliveries_total '{"channel": "hook", "outcome": "error"}')" "deliveries failed"
assert_eq 1 "$(val "$P" connectord_notification_deliveries_total '{"channel": "hook", "outcome": "sent"}')" "deliveries sent"
assert_eq 2 "$(val "$P" connectord_run_duration_seconds_bucket '{"connector_type": "BANK_API", "le": "1"}')" "duration bucket le=1 (0.5 s and 1 s)"
assert_eq 4 "$(val "$P" connectord_run_duration_seconds_count '{"connector_type": "BANK_API"}')" "durations counted"
assert_eq 3 "$(val "$P" connectord_run_duration_seconds_bucket '{"connector_type": "BANK_API", "le": "15"}')" "cumulative buckets"
assert_eq 1 "$(val "$P" connectord_run_duration_seconds_bucket '{"connector_type": "PG_API", "le": "3600"}')" "2000 s in the 3600 bucket"
assert_eq 2 "$(val "$P" connectord_run_duration_seconds_bucket '{"connector_type": "PG_API", "le": "+Inf"}')" "5000 s only in +Inf"
# Every figure from the database is the same from either worker.
python3 - "$CD_TEST_TMP/p1" "$CD_TEST_TMP/p2" <<'PY' || cd_fail "the two workers disagree"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
own = ("connectord_scheduler_last_tick_age_seconds",)
strip = lambda rows: sorted(json.dumps(r) for r in rows if r[0] not in own)
assert strip(a) == strip(b), set(strip(a)) ^ set(strip(b))
PY
assert_not_contains "$(cat "$CD_TEST_TMP/m1")" "$CD_TEST_SECRET" "no secret in /metrics"

echo "== counters never go down: runs deleted by hand, a connector retyped, then deleted, alerts pruned"
snap() { # name: GET /metrics from w1, parsed into $CD_TEST_TMP/p<name>
    curl -sf "http://127.0.0.1:${SERVE_PORT[w1]}/metrics" -o "$CD_TEST_TMP/m$1" || cd_fail "GET /metrics ($1)"
    python3 "$CD_TEST_TMP/promparse.py" "$CD_TEST_TMP/m$1" >"$CD_TEST_TMP/p$1" || cd_fail "/metrics ($1) is not valid Prometheus text"
}
same_counters() { # before after gone-connector-id (* for all): every counter and histogram
    # series of before has the same value after, except the gone connectors', which have ended
    python3 - "$CD_TEST_TMP/p$1" "$CD_TEST_TMP/p$2" "$3" <<'PY'
import json, sys
key = lambda n, l: (n, json.dumps(l, sort_keys=True))
# from the database; the API cache's counters are this process's own
counted = lambda n: n.endswith(("_total", "_bucket", "_sum", "_count")) and not n.startswith("connectord_api_cache")
before = {key(n, l): v for n, l, v in json.load(open(sys.argv[1])) if counted(n)}
after = {key(n, l): v for n, l, v in json.load(open(sys.argv[2])) if counted(n)}
bad = []
for k, v in before.items():
    labels = json.loads(k[1])
    gone = ("connector_id" in labels) if sys.argv[3] == "*" else labels.get("connector_id") == sys.argv[3]
    if gone and k in after:
        bad.append("%s %s still there" % k)
    elif not gone and after.get(k) != v:
        bad.append("%s %s: %s -> %s" % (k[0], k[1], v, after.get(k)))
if bad:
    sys.exit("\n".join(bad))
PY
}
q "DELETE FROM sp_v2_connector_runs WHERE connector_id = $a AND duration_seconds = 12" >/dev/null
snap 3
same_counters 1 3 none || cd_fail "a run deleted by hand took its counts with it"
q "UPDATE sp_v2_connectors SET connector_type = 'PG_API' WHERE id = $a" >/dev/null
snap 4
same_counters 1 4 none || cd_fail "retyping a connector moved the duration histogram"
q "DELETE FROM sp_v2_connectors WHERE id = $b" >/dev/null
q "DELETE FROM sp_v2_notifications WHERE id = $n" >/dev/null
snap 5
same_counters 1 5 "$b" || cd_fail "deleting a connector or pruning alerts lowered a counter"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notification_attempts")" "the alert's attempts are gone from the database"
# New runs count on top, under the connector's type now.
run "$a" MANUAL SUCCESS 5 2 3 2 >/dev/null
q "INSERT INTO sp_v2_connector_run_attempts (run_id, attempt, status, error_message)
   VALUES ((SELECT max(id) FROM sp_v2_connector_runs), 1, 'FAILED', 'worker lost')" >/dev/null
snap 6
assert_eq 35 "$(val "$CD_TEST_TMP/p6" connectord_records_loaded_total "{\"connector_id\": \"$a\", \"connector\": \"alpha\"}")" "records loaded: 30 kept + 5"
assert_eq 4 "$(val "$CD_TEST_TMP/p6" connectord_run_retries_total "{\"connector_id\": \"$a\", \"connector\": \"alpha\"}")" "retries: 3 kept + 1"
assert_eq 2 "$(val "$CD_TEST_TMP/p6" connectord_lease_rescues_total '{}')" "rescues: 1 kept + 1"
assert_eq 3 "$(val "$CD_TEST_TMP/p6" connectord_run_duration_seconds_count '{"connector_type": "PG_API"}')" "PG_API durations: 2 kept + 1"
assert_eq 1 "$(val "$CD_TEST_TMP/p6" connectord_run_duration_seconds_bucket '{"connector_type": "PG_API", "le": "5"}')" "the 3 s run in le=5"
assert_eq 4 "$(val "$CD_TEST_TMP/p6" connectord_run_duration_seconds_count '{"connector_type": "BANK_API"}')" "BANK_API durations unchanged"
# A run cancelled while queued never ran: it has no duration (it was
# counted as a 0 s run, pulling every percentile down).
never=$(q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, not_before)
           VALUES ($a, 'MANUAL', '2026-03-09', 'QUEUED', now() + interval '1 day') RETURNING id")
assert_contains "$("$CD" -c "$CFG" cancel "$never")" "cancelled (it was queued)" "a queued run cancelled"
assert_eq "FAILED|true" "$(q "SELECT status || '|' || (duration_seconds IS NULL) FROM sp_v2_connector_runs WHERE id = $never")" \
    "a run cancelled before it started has no duration"
snap 6b
for le in 1 +Inf; do
    assert_eq "$(val "$CD_TEST_TMP/p6" connectord_run_duration_seconds_bucket "{\"connector_type\": \"PG_API\", \"le\": \"$le\"}")" \
        "$(val "$CD_TEST_TMP/p6b" connectord_run_duration_seconds_bucket "{\"connector_type\": \"PG_API\", \"le\": \"$le\"}")" \
        "the cancelled queued run is in no duration bucket (le=$le)"
done
assert_eq 2 "$(val "$CD_TEST_TMP/p6" connectord_notification_deliveries_total '{"channel": "hook", "outcome": "error"}')" "pruned deliveries still counted"

echo "== a worker whose alert channels differ: it warns, and /metrics counts two lists"
assert_eq 1 "$(val "$P" connectord_alert_channel_sets '{}')" "w1 and w2 have one list"
CFG3="$CD_TEST_TMP/w3/connectord.yaml"
serve_config "$CFG3" "alerts:" "  channels:" "    - name: page" "      type: webhook" \
    "      url: \"http://127.0.0.1:9/page\"" "    - name: hook" "      type: webhook" \
    "      url: \"http://127.0.0.1:9/hook\""
serve_start w3 "$CFG3"
for i in $(seq 1 50); do grep -q "differ from those of" "$CD_TEST_TMP/serve-w3.log" && break; sleep 0.1; done
warning=$(grep "differ from those of" "$CD_TEST_TMP/serve-w3.log" || true)
assert_contains "$warning" "this worker's channels [hook:webhook,page:webhook] differ from those of " "w3 warns"
assert_eq 2 "$(grep -o '\[hook:webhook\]' <<<"$warning" | wc -l)" "naming both other workers' list"
snap 7
assert_eq 2 "$(val "$CD_TEST_TMP/p7" connectord_alert_channel_sets '{}')" "two lists among live workers"
# A round of up to 50 sends of up to 10 s each may keep a worker from
# refreshing its row: the row holds for that long, not the 180 s of old.
assert_eq t "$(q "SELECT bool_and(live_until > now() + interval '500 seconds') FROM sp_v2_alert_channel_sets")" \
    "each row lives as long as its worker's longest round of sends"
serve_stop w3
snap 8
assert_eq 1 "$(val "$CD_TEST_TMP/p8" connectord_alert_channel_sets '{}')" "a stopped worker's list no longer counts"

echo "== a delete of runs racing their connector's delete, then TRUNCATE: still no counter goes down"
racer=$(add 'racer' BANK_API)
for i in 1 2 3; do run "$racer" MANUAL SUCCESS 1 0 3 1 >/dev/null; done
snap 9
psql -X -q -c "BEGIN; DELETE FROM sp_v2_connector_runs WHERE connector_id = $racer; SELECT pg_sleep(2); COMMIT;" >/dev/null &
racepid=$!
sleep 0.5
q "DELETE FROM sp_v2_connectors WHERE id = $racer" >/dev/null
wait "$racepid"
snap 10
same_counters 9 10 "$racer" || cd_fail "the racing deletes counted the runs twice"
q "TRUNCATE sp_v2_connectors, sp_v2_notifications CASCADE" >/dev/null
snap 11
same_counters 10 11 '*' || cd_fail "TRUNCATE lowered a counter"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_connector_runs")" "the runs are gone"

echo "== /healthz: database and scheduler"
h=$(curl -s "http://127.0.0.1:${SERVE_PORT[w1]}/healthz")
python3 -c "import json, sys; d = json.loads(sys.argv[1]); assert d['database'] == 'ok' and d['scheduler']['ticking'] is True and d['status'] == 'ok', d" "$h" ||
    cd_fail "healthz: $h"
serve_stop w1; serve_stop w2
# Under ASan/UBSan a leak or an error at exit lands in the worker's log.
! grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$CD_TEST_TMP"/serve-*.log >&2 || cd_fail "sanitizer report in a worker log"
echo "metrics checks passed"
