#!/usr/bin/env bash
# Alerts end to end against a real PostgreSQL, two workers, a loopback HTTP
# receiver (webhook and Slack) and a loopback SMTP sink, on a controllable
# clock: a run FAILED after its last attempt and a recovery reach every
# channel once (webhook signature verified with the shared key, Slack
# format, email through SMTP with AUTH); a run with every record rejected
# raises REJECTED, and the next run that loads rows is a recovery; a receiver answering 500 then 200
# gets the alert once with both attempts recorded; two workers deliver each
# alert exactly once; a slow receiver does not delay runs; late data is
# alerted once per day and not when the run succeeded in time; the daily
# digest goes out once at its time with yesterday's figures;
# POST /notifications/test; no secret in any payload, log, row or metric.
set -euo pipefail
source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"
source "$CD_SOURCE_DIR/tests/lib/serve.sh"
pg_tmp_start
RECV_PID= SMTP_PID=
cleanup() {
    serve_stop_all
    [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null
    [ -n "$SMTP_PID" ] && kill "$SMTP_PID" 2>/dev/null
    pg_tmp_stop
}
trap cleanup EXIT
CD="$CD_BUILD_DIR/bin/connectord"
NOW="$CD_TEST_TMP/now"
export CONNECTORD_TEST_NOW_FILE="$NOW"
set_now() { date -u -d "$1" +%s >"$NOW"; }

# The secrets: each must reach its receiver and nothing else.
export CD_TEST_HOOK_KEY="hook-key-7f3a9c2e51"
export CD_TEST_SMTP_PASSWORD="smtp-pass-0b8d4e6a27"
export CD_TEST_SLACK_TOKEN="XoxSlackToken5c1e"
RPORT=$(cd_free_port)
SPORT=$(cd_free_port)
export CD_TEST_SLACK_URL="http://127.0.0.1:$RPORT/slack/T0001/B0001/$CD_TEST_SLACK_TOKEN"
RLOG="$CD_TEST_TMP/received.jsonl"
MAILDIR="$CD_TEST_TMP/mail"
mkdir -p "$MAILDIR"

"$CD_BUILD_DIR/tests/mock_receiver" --port "$RPORT" --log "$RLOG" --slow-seconds 30 \
    >"$CD_TEST_TMP/receiver.out" 2>&1 &
RECV_PID=$!

# A tiny SMTP server: EHLO (no STARTTLS, so libcurl's CURLUSESSL_TRY goes
# on in plain text), AUTH PLAIN, MAIL, RCPT, DATA; each message to a file.
cat >"$CD_TEST_TMP/smtp_sink.py" <<'PY'
import base64, os, socketserver, sys
maildir, port = sys.argv[1], int(sys.argv[2])
class H(socketserver.StreamRequestHandler):
    def send(self, s): self.wfile.write((s + "\r\n").encode()); self.wfile.flush()
    def handle(self):
        self.send("220 sink ESMTP")
        env = {"auth": None, "from": None, "to": []}
        while True:
            line = self.rfile.readline()
            if not line: return
            cmd = line.decode().rstrip("\r\n")
            up = cmd.upper()
            if up.startswith("EHLO"):
                self.send("250-sink"); self.send("250-AUTH PLAIN"); self.send("250 8BITMIME")
            elif up.startswith("HELO"): self.send("250 sink")
            elif up.startswith("AUTH PLAIN"):
                arg = cmd[10:].strip()
                if not arg:
                    self.send("334 "); arg = self.rfile.readline().decode().strip()
                env["auth"] = base64.b64decode(arg).split(b"\0")[2].decode()
                self.send("235 ok")
            elif up.startswith("MAIL FROM:"): env["from"] = cmd[10:]; self.send("250 ok")
            elif up.startswith("RCPT TO:"): env["to"].append(cmd[8:]); self.send("250 ok")
            elif up == "DATA":
                self.send("354 go")
                data = []
                while True:
                    l = self.rfile.readline()
                    if l in (b".\r\n", b".\n", b""): break
                    data.append(l)
                n = len(os.listdir(maildir))
                with open(os.path.join(maildir, "%03d.eml" % n), "wb") as f:
                    f.write(("X-Sink-Auth: %s\r\nX-Sink-From: %s\r\nX-Sink-To: %s\r\n" %
                             (env["auth"], env["from"], ",".join(env["to"]))).encode())
                    f.write(b"".join(data))
                env = {"auth": env["auth"], "from": None, "to": []}
                self.send("250 queued")
            elif up == "QUIT": self.send("221 bye"); return
            else: self.send("250 ok")
class S(socketserver.ThreadingTCPServer): allow_reuse_address = True; daemon_threads = True
S(("127.0.0.1", port), H).serve_forever()
PY
python3 "$CD_TEST_TMP/smtp_sink.py" "$MAILDIR" "$SPORT" >"$CD_TEST_TMP/smtp.out" 2>&1 &
SMTP_PID=$!
for i in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$RPORT/" && python3 -c "import socket; socket.create_connection(('127.0.0.1', $SPORT)).close()" 2>/dev/null && break
    sleep 0.1
done

set_now "2026-03-10T01:30:00Z"   # 07:00 IST
CFG="$CD_TEST_TMP/w/connectord.yaml"
serve_config "$CFG" \
    "alerts:" \
    "  base_url: \"http://ops.example.test/\"" \
    "  digest_time: \"10:00\"" \
    "  digest_timezone: Asia/Kolkata" \
    "  timeout_seconds: 4" \
    "  max_attempts: 3" \
    "  retry_base_seconds: 1" \
    "  retry_max_seconds: 2" \
    "  channels:" \
    "    - name: hook" \
    "      type: webhook" \
    "      url: \"http://127.0.0.1:$RPORT/hook/\"" \
    "      secret: {secret: \"env:CD_TEST_HOOK_KEY\"}" \
    "    - name: slack" \
    "      type: slack" \
    "      url: {secret: \"env:CD_TEST_SLACK_URL\"}" \
    "    - name: mail" \
    "      type: email" \
    "      url: \"smtp://127.0.0.1:$SPORT\"" \
    "      from: connectord@example.test" \
    "      to: [ops@example.test, oncall@example.test]" \
    "      username: alerts" \
    "      secret: {secret: \"env:CD_TEST_SMTP_PASSWORD\"}" \
    "      starttls: try" \
    "    - name: flaky" \
    "      type: webhook" \
    "      url: \"http://127.0.0.1:$RPORT/fail-once/flaky\"" \
    "    - name: slow" \
    "      type: webhook" \
    "      url: \"http://127.0.0.1:$RPORT/slow/hook\""
"$CD" -c "$CFG" migrate >/dev/null
q "UPDATE sp_v2_connectors SET status = 'PAUSED'" >/dev/null

add() { # name config-json [alert_channels-json] [expected_by]
    q "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config, driver,
         schedule_enabled, created_at, alert_channels, expected_by)
       VALUES ('$1', 'BANK_API', 'B', '$2'::jsonb, 'test_gen', false, '2020-01-01',
               ${3:-NULL}, ${4:-NULL}) RETURNING id"
}
queue() { # connector [type] -> run id, queued and notified in one transaction
    q "WITH r AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, max_attempts)
         SELECT id, '${2:-MANUAL}', '2026-03-09', 'QUEUED', connectord_max_attempts(connection_config, '${2:-MANUAL}')
         FROM sp_v2_connectors WHERE id = $1 RETURNING id)
       SELECT id FROM r, pg_notify('connectord_queue', r.id::text)"
}
received() { # python expression over the list `reqs` of received requests
    python3 - "$RLOG" "$1" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])] if __import__("os").path.exists(sys.argv[1]) else []
print(eval(sys.argv[2]))
PY
}
wait_received() { # python-condition seconds message
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(received "$1")" = True ] && return 0
        sleep 0.2
    done
    tail -n 20 "$CD_TEST_TMP"/serve-*.log >&2
    cd_fail "receiver: timed out waiting for $3 ($1)"
}

serve_start w1 "$CFG"
API="http://127.0.0.1:${SERVE_PORT[w1]}"

echo "== a run FAILED after its last attempt reaches every channel once"
bad=$(add bad '{"rows": 1, "seed": 1, "fail": "permanent", "bank": "BAD"}' "'[\"hook\", \"slack\", \"mail\", \"flaky\"]'")
run=$(queue "$bad")
wait_for "SELECT count(*) = 4 FROM sp_v2_notification_deliveries d JOIN sp_v2_notifications n ON n.id = d.notification_id WHERE n.kind = 'RUN_FAILED' AND n.run_id = $run AND d.status = 'SENT'" 30 "4 deliveries of the failure"
assert_eq "FAILED" "$(q "SELECT status FROM sp_v2_connector_runs WHERE id = $run")" "the run failed"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE kind = 'RUN_FAILED' AND run_id = $run")" "one event"

echo "-- webhook: signed with the shared key"
python3 - "$RLOG" "$run" "$CD_TEST_HOOK_KEY" <<'PY' || cd_fail "webhook request"
import hashlib, hmac, json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
hooks = [r for r in reqs if r["path"] == "/hook/"]
assert len(hooks) == 1, hooks
h = hooks[0]
assert h["method"] == "POST"
assert h["headers"]["content-type"].startswith("application/json"), h["headers"]
want = "sha256=" + hmac.new(sys.argv[3].encode(), h["body"].encode(), hashlib.sha256).hexdigest()
assert hmac.compare_digest(h["headers"]["x-connectord-signature"], want), (h["headers"], want)
wrong = "sha256=" + hmac.new(b"other key", h["body"].encode(), hashlib.sha256).hexdigest()
assert h["headers"]["x-connectord-signature"] != wrong
assert h["headers"]["x-connectord-event"] == "RUN_FAILED"
b = json.loads(h["body"])
assert b["event"] == "run_failed", b
assert b["data"]["run_id"] == sys.argv[2] and b["data"]["connector"] == "bad", b
assert b["data"]["run_date"] == "2026-03-09" and b["data"]["status"] == "FAILED", b
assert b["data"]["error"], b
assert b["link"] == "http://ops.example.test/ops/connectors#connector-%s-run-%s" % (b["data"]["connector_id"], sys.argv[2]), b["link"]
assert sys.argv[3] not in h["body"]
PY
echo "-- slack: incoming-webhook format, at the URL from the secret reference"
python3 - "$RLOG" "$run" "$bad" <<'PY' || cd_fail "slack request"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
sl = [r for r in reqs if r["path"].startswith("/slack/T0001/B0001/")]
assert len(sl) == 1, sl
b = json.loads(sl[0]["body"])
assert set(b) == {"text", "blocks"}, b
assert isinstance(b["text"], str) and "run failed: bad" in b["text"], b["text"]
assert b["blocks"][0]["type"] == "section" and b["blocks"][0]["text"]["type"] == "mrkdwn"
assert ("Run %s of bad" % sys.argv[2]) in b["blocks"][0]["text"]["text"], b
assert b["blocks"][1]["type"] == "context"
assert "<http://ops.example.test/ops/connectors#connector-%s-run-%s|" % (sys.argv[3], sys.argv[2]) in b["blocks"][1]["elements"][0]["text"]
assert "x-connectord-signature" not in sl[0]["headers"]
PY
echo "-- email: through SMTP, logged in with the password from the secret reference"
mail=$(ls "$MAILDIR"/*.eml | head -n 1)
python3 - "$mail" "$run" "$CD_TEST_SMTP_PASSWORD" "$bad" <<'PY' || cd_fail "email"
import email, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw)
assert m["X-Sink-Auth"] == sys.argv[3], m["X-Sink-Auth"]
assert m["X-Sink-From"] == "<connectord@example.test>", m["X-Sink-From"]
assert m["X-Sink-To"] == "<ops@example.test>,<oncall@example.test>", m["X-Sink-To"]
assert m["Subject"] == "[connectord] run failed: bad 2026-03-09", m["Subject"]
assert m["From"] == "connectord <connectord@example.test>"
body = m.get_payload()
assert ("Run %s of bad" % sys.argv[2]) in body, body
assert "http://ops.example.test/ops/connectors#connector-%s-run-%s" % (sys.argv[4], sys.argv[2]) in body
assert sys.argv[3].encode() not in raw.split(b"\r\n", 3)[3]
PY

echo "== a receiver answering 500 then 200: retried, delivered once, both attempts recorded"
assert_eq "SENT|2" "$(q "SELECT d.status, d.attempts FROM sp_v2_notification_deliveries d JOIN sp_v2_notifications n ON n.id = d.notification_id WHERE n.run_id = $run AND d.channel = 'flaky'")" "flaky delivery"
assert_eq "1|ERROR|500|true,2|SENT|200|false" \
    "$(q "SELECT string_agg(a.attempt || '|' || a.outcome || '|' || a.http_status || '|' || (a.error IS NOT NULL), ',' ORDER BY a.attempt) FROM sp_v2_notification_attempts a JOIN sp_v2_notification_deliveries d ON d.id = a.delivery_id JOIN sp_v2_notifications n ON n.id = d.notification_id WHERE n.run_id = $run AND d.channel = 'flaky'")" \
    "both attempts with outcome and HTTP status"
assert_eq "500,200" "$(received '",".join(str(r["status"]) for r in reqs if r["path"] == "/fail-once/flaky")')" "the receiver saw a 500 and a 200"

echo "== recovered: the first success after failures, once"
q "UPDATE sp_v2_connectors SET connection_config = '{\"rows\": 2, \"seed\": 1, \"bank\": \"BAD\"}' WHERE id = $bad" >/dev/null
ok1=$(queue "$bad")
wait_for "SELECT count(*) = 1 FROM sp_v2_notification_deliveries d JOIN sp_v2_notifications n ON n.id = d.notification_id WHERE n.kind = 'RECOVERED' AND d.channel = 'hook' AND d.status = 'SENT'" 30 "recovered delivered"
ok2=$(queue "$bad")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $ok2" 30 "second success"
assert_eq "$ok1|$run" "$(q "SELECT run_id || '|' || (payload->>'previous_failed_run_id') FROM sp_v2_notifications WHERE kind = 'RECOVERED'")" "one recovery, for the first success"
wait_received 'len([r for r in reqs if r["path"] == "/hook/" and "\"recovered\"" in r["body"]]) == 1' 10 "recovered webhook"

echo "== every record rejected: REJECTED with a sample error; the next run that loads is a recovery"
rj=$(add rejected '{"rows": 3, "seed": 4, "bad_every": 1, "bank": "RJ"}' "'[\"hook\"]'")
rj1=$(queue "$rj")
wait_for "SELECT count(*) = 1 FROM sp_v2_notification_deliveries d JOIN sp_v2_notifications n ON n.id = d.notification_id WHERE n.kind = 'REJECTED' AND n.run_id = $rj1 AND d.status = 'SENT'" 30 "the rejected run's alert delivered"
assert_eq "PARTIAL_SUCCESS|0|3" "$(q "SELECT status || '|' || records_success || '|' || records_failed FROM sp_v2_connector_runs WHERE id = $rj1")" "nothing loaded, three records rejected"
assert_eq "amount|3" "$(q "SELECT (payload->'first_record_error'->>'field') || '|' || (payload->>'records_failed') FROM sp_v2_notifications WHERE kind = 'REJECTED' AND run_id = $rj1")" "the alert names the first error's field"
wait_received 'len([r for r in reqs if r["path"] == "/hook/" and "\"records_rejected\"" in r["body"] and "loaded nothing: all 3 records" in r["body"] and "field amount" in r["body"]]) == 1' 10 "the rejected webhook, with the sample"
q "UPDATE sp_v2_connectors SET connection_config = '{\"rows\": 4, \"seed\": 4, \"bad_every\": 2, \"bank\": \"RJ\"}' WHERE id = $rj" >/dev/null
rj2=$(queue "$rj")
wait_for "SELECT count(*) = 1 FROM sp_v2_notifications WHERE kind = 'RECOVERED' AND run_id = $rj2" 30 "a run that loads again recovers"
assert_eq "PARTIAL_SUCCESS|2|$rj1" "$(q "SELECT r.status || '|' || r.records_success || '|' || (n.payload->>'previous_failed_run_id') FROM sp_v2_connector_runs r JOIN sp_v2_notifications n ON n.run_id = r.id WHERE r.id = $rj2")" "recovered from the rejected run"
assert_eq "REJECTED,RECOVERED" "$(q "SELECT string_agg(kind, ',' ORDER BY id) FROM sp_v2_notifications WHERE connector_id = $rj")" "a partial run that loaded rows is not rejected"

echo "== a failing TEST run and a retried attempt raise nothing"
q "UPDATE sp_v2_connectors SET connection_config = '{\"rows\": 1, \"seed\": 1, \"fail\": \"permanent\", \"bank\": \"BAD\"}' WHERE id = $bad" >/dev/null
t=$(queue "$bad" TEST)
retry=$(add retry '{"rows": 1, "seed": 2, "fail": "transient", "auto_retry": true, "retry_count": 1, "bank": "R"}' "'[\"hook\"]'")
rr=$(queue "$retry")
wait_for "SELECT status = 'FAILED' FROM sp_v2_connector_runs WHERE id = $t" 30 "test run failed"
# The retry's not_before is in real time; the fake clock does not tick,
# so the queue is nudged as a manual run would.
for i in $(seq 1 40); do
    [ "$(q "SELECT status = 'FAILED' AND attempt = 2 FROM sp_v2_connector_runs WHERE id = $rr")" = t ] && break
    q "SELECT pg_notify('connectord_queue', 'nudge')" >/dev/null
    sleep 0.5
done
wait_for "SELECT status = 'FAILED' AND attempt = 2 FROM sp_v2_connector_runs WHERE id = $rr" 5 "retried run failed for good"
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE run_id = $t")" "no alert for a TEST run"
assert_eq "1|2" "$(q "SELECT count(*), max((payload->>'attempt')::int) FROM sp_v2_notifications WHERE run_id = $rr")" "one alert, after the last attempt"

echo "== two workers: each alert delivered exactly once"
serve_start w2 "$CFG"
ids=""
for i in 1 2 3 4 5 6; do
    c=$(add "many$i" '{"rows": 1, "seed": 3, "fail": "permanent", "bank": "M"}' "'[\"hook\"]'")
    ids="$ids $(queue "$c")"
done
wait_for "SELECT count(*) = 6 FROM sp_v2_notification_deliveries d JOIN sp_v2_notifications n ON n.id = d.notification_id JOIN sp_v2_connectors c ON c.id = n.connector_id WHERE c.name LIKE 'many%' AND d.status = 'SENT'" 60 "6 deliveries"
sleep 2
assert_eq 6 "$(received 'len([r for r in reqs if r["path"] == "/hook/" and "\"many" in r["body"]])')" "6 requests, no duplicate"
assert_eq 6 "$(received 'len({r["headers"]["x-connectord-delivery"] for r in reqs if r["path"] == "/hook/" and "\"many" in r["body"]})')" "6 distinct deliveries"
assert_eq 6 "$(q "SELECT count(*) FROM sp_v2_notification_attempts a JOIN sp_v2_notification_deliveries d ON d.id = a.delivery_id JOIN sp_v2_notifications n ON n.id = d.notification_id JOIN sp_v2_connectors c ON c.id = n.connector_id WHERE c.name LIKE 'many%'")" "one attempt each"
echo "deliveries by worker: $(q "SELECT string_agg(DISTINCT a.worker_id, ' ') FROM sp_v2_notification_attempts a")"

echo "== a slow receiver does not delay runs"
slow=$(add slowalerts '{"rows": 1, "seed": 4, "fail": "permanent", "bank": "S"}' "'[\"slow\"]'")
fast=$(add fast '{"rows": 5, "seed": 5, "bank": "F"}' "'[]'")
queue "$slow" >/dev/null; queue "$slow" >/dev/null
wait_received 'len([r for r in reqs if r["path"] == "/slow/hook"]) >= 2' 30 "both delivery threads stuck in the slow receiver"
t0=$(date +%s.%N)
f=$(queue "$fast")
wait_for "SELECT status = 'SUCCESS' FROM sp_v2_connector_runs WHERE id = $f" 30 "fast run"
t1=$(date +%s.%N)
# Both workers' delivery threads are still waiting on the receiver (their
# 4 s timeout has not passed), yet the run went through.
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notification_attempts a JOIN sp_v2_notification_deliveries d ON d.id = a.delivery_id WHERE d.channel = 'slow'")" "the slow deliveries were still hanging when the run finished"
python3 -c "print('run finished in %.2f s while both delivery threads hung' % ($t1 - $t0))"
wait_for "SELECT count(*) >= 2 FROM sp_v2_notification_attempts a JOIN sp_v2_notification_deliveries d ON d.id = a.delivery_id WHERE d.channel = 'slow' AND a.outcome = 'ERROR' AND a.error LIKE '%(curl 28)%'" 30 "timed-out attempts recorded"
# Out of the way of the checks below.
q "UPDATE sp_v2_notification_deliveries SET status = 'FAILED' WHERE channel = 'slow' AND status = 'PENDING'" >/dev/null
wait_for "SELECT count(*) = 0 FROM sp_v2_notification_deliveries WHERE channel = 'slow' AND status IN ('PENDING', 'SENDING')" 30 "slow deliveries settled"
q "UPDATE sp_v2_notification_deliveries SET status = 'FAILED' WHERE channel = 'slow' AND status = 'PENDING'" >/dev/null

echo "== late data: once per day, not when the run succeeded in time"
late=$(add late '{"rows": 1, "seed": 6, "bank": "L"}' "'[\"hook\"]'" "'09:00'")
ontime=$(add ontime '{"rows": 1, "seed": 7, "bank": "O"}' "'[\"hook\"]'" "'09:00'")
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, started_at, completed_at) VALUES ($ontime, 'SCHEDULED', '2026-03-09', 'SUCCESS', now(), now())" >/dev/null
set_now "2026-03-10T03:29:00Z"   # 08:59 IST
sleep 3
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE kind = 'LATE'")" "not late before 09:00"
set_now "2026-03-10T03:30:05Z"   # 09:00:05 IST
wait_for "SELECT count(*) = 1 FROM sp_v2_notification_deliveries d JOIN sp_v2_notifications n ON n.id = d.notification_id WHERE n.kind = 'LATE' AND d.status = 'SENT'" 30 "late alert delivered"
for t in 03:45:00 04:10:00 05:00:00; do set_now "2026-03-10T${t}Z"; sleep 1.5; done
assert_eq "$late|2026-03-10|2026-03-09" "$(q "SELECT connector_id || '|' || event_date || '|' || (payload->>'business_date') FROM sp_v2_notifications WHERE kind = 'LATE'")" "one late alert, for the late connector, T-1"
assert_eq 1 "$(received 'len([r for r in reqs if r["path"] == "/hook/" and "\"late_data\"" in r["body"]])')" "sent once"
echo "-- the next day: late again (once)"
set_now "2026-03-11T03:31:00Z"
wait_for "SELECT count(*) = 2 FROM sp_v2_notifications WHERE kind = 'LATE' AND connector_id = $late" 30 "late on day 2"
wait_for "SELECT count(*) = 1 FROM sp_v2_notifications WHERE kind = 'LATE' AND connector_id = $ontime" 30 "ontime is late on day 2 (nothing for 03-10)"
set_now "2026-03-11T03:50:00Z"; sleep 1.5
assert_eq 3 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE kind = 'LATE'")" "still once per connector and day"
echo "-- no tick between expected_by and midnight: the missed day is alerted after midnight, once"
# Both workers down from before 09:40 until after midnight (or restarted at
# 23:59): on the next day's ticks, before that day's 09:40, yesterday's
# missing data was never alerted. (No tick after 10:00 on 03-11: the
# digest of 03-10 is not due in this test.)
gap=$(add gap '{"rows": 1, "seed": 9, "bank": "G"}' "'[\"hook\"]'" "'09:40'")
gapok=$(add gapok '{"rows": 1, "seed": 10, "bank": "GO"}' "'[\"hook\"]'" "'09:40'")
# Their expected_by set on the morning of 03-11 (after 03-10's deadline, so
# nothing for 03-10), that of the connectors above long ago.
q "UPDATE connectord_expected_by_set SET set_at = '2026-03-11T00:00:00Z' WHERE connector_id IN ($gap, $gapok)" >/dev/null
q "UPDATE connectord_expected_by_set SET set_at = '2020-01-01' WHERE connector_id IN ($late, $ontime)" >/dev/null
set_now "2026-03-11T04:00:00Z"; sleep 1.5   # 09:30 IST: not late yet
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE kind = 'LATE' AND connector_id IN ($gap, $gapok)")" "not late before 09:40"
# gapok's data arrives in the dark (a run by hand, another host): no alert for it
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, started_at, completed_at) VALUES ($gapok, 'MANUAL', '2026-03-10', 'SUCCESS', now(), now())" >/dev/null
set_now "2026-03-11T18:35:00Z"   # 00:05 IST on 03-12: no tick saw 09:40 on 03-11
wait_for "SELECT count(*) = 1 FROM sp_v2_notifications WHERE kind = 'LATE' AND connector_id = $gap" 30 "yesterday's missed deadline alerted after midnight"
assert_eq "2026-03-11|2026-03-10|09:40" "$(q "SELECT event_date || '|' || (payload->>'business_date') || '|' || (payload->>'expected_by') FROM sp_v2_notifications WHERE kind = 'LATE' AND connector_id = $gap")" \
    "for the day whose deadline passed (03-11) and its business date (03-10)"
for t in 18:50:00 19:30:00; do set_now "2026-03-11T${t}Z"; sleep 1.5; done
assert_eq "1|0" "$(q "SELECT count(*) FILTER (WHERE connector_id = $gap) || '|' || count(*) FILTER (WHERE connector_id = $gapok) FROM sp_v2_notifications WHERE kind = 'LATE'")" \
    "once; nothing for the connector whose data arrived"
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE kind = 'LATE' AND connector_id = $late AND event_date = '2026-03-11'")" \
    "a day already alerted before midnight is not alerted again after it"
# An expected_by set this morning was nobody's expectation yesterday.
fresh=$(add fresh '{"rows": 1, "seed": 11, "bank": "F"}' "'[\"hook\"]'" "'09:40'")
set_now "2026-03-11T19:45:00Z"; sleep 1.5
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE kind = 'LATE' AND connector_id = $fresh")" \
    "no alert for yesterday when expected_by was set after yesterday's deadline"
echo "-- a connector whose created_at is NULL has always existed: it is alerted"
nocreated=$(add nocreated '{"rows": 1, "seed": 12, "bank": "N"}' "'[\"hook\"]'" "'00:30'")
q "UPDATE sp_v2_connectors SET created_at = NULL WHERE id = $nocreated" >/dev/null
echo "-- a connector whose zone is unknown (stored by hand) is never scheduled: its lateness is still alerted, in Asia/Kolkata"
nozone=$(add nozone '{"rows": 1, "seed": 13, "bank": "Z"}' "'[\"hook\"]'" "'00:30'")
q "UPDATE sp_v2_connectors SET schedule_timezone = 'Nowhere/Atlantis' WHERE id = $nozone" >/dev/null
set_now "2026-03-11T19:46:00Z"   # 01:16 IST on 03-12: 00:30 passed, 03-11's data missing
wait_for "SELECT count(*) = 1 FROM sp_v2_notifications WHERE kind = 'LATE' AND connector_id = $nocreated
          AND event_date = '2026-03-12' AND payload->>'business_date' = '2026-03-11'" 30 "late alert for a NULL created_at"
wait_for "SELECT count(*) = 1 FROM sp_v2_notifications WHERE kind = 'LATE' AND connector_id = $nozone
          AND event_date = '2026-03-12' AND payload->>'business_date' = '2026-03-11'
          AND payload->>'timezone' = 'Asia/Kolkata'" 30 "late alert for an unknown zone"
q "UPDATE sp_v2_connectors SET expected_by = NULL WHERE id IN ($gap, $gapok, $fresh, $nocreated, $nozone)" >/dev/null

echo "== daily digest: once, at its time, with yesterday's figures"
dg=$(add digestme '{"rows": 1, "seed": 8, "bank": "D"}' "'[]'")
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, records_success, records_failed, started_at, completed_at) VALUES
     ($dg, 'SCHEDULED', '2026-03-10', 'SUCCESS', 10, 1, '2026-03-11T02:00:00+05:30', '2026-03-11T02:01:00+05:30'),
     ($dg, 'MANUAL', '2026-03-10', 'FAILED', 0, 0, '2026-03-11T12:00:00+05:30', '2026-03-11T12:01:00+05:30'),
     ($dg, 'MANUAL', '2026-03-10', 'PARTIAL_SUCCESS', 5, 2, '2026-03-11T23:00:00+05:30', '2026-03-11T23:01:00+05:30'),
     ($dg, 'MANUAL', '2026-03-10', 'SUCCESS', 99, 0, '2026-03-12T00:30:00+05:30', '2026-03-12T00:31:00+05:30'),
     ($dg, 'TEST', '2026-03-10', 'SUCCESS', 77, 0, '2026-03-11T13:00:00+05:30', '2026-03-11T13:01:00+05:30')" >/dev/null
q "INSERT INTO sp_v2_notifications (kind, dedup_key, connector_id, event_date, fanned_out_at) VALUES
     ('LATE', 'late:$dg:2026-03-06', $dg, '2026-03-06', now()), ('LATE', 'late:$dg:2026-03-11', $dg, '2026-03-11', now()),
     ('LATE', 'late:$dg:2026-03-04', $dg, '2026-03-04', now())" >/dev/null
set_now "2026-03-12T04:29:00Z"   # 09:59 IST on 03-12
sleep 3
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE kind = 'DIGEST' AND event_date = '2026-03-11'")" "no digest before 10:00"
set_now "2026-03-12T04:30:10Z"   # 10:00:10 IST
wait_for "SELECT count(*) = 4 FROM sp_v2_notification_deliveries d JOIN sp_v2_notifications n ON n.id = d.notification_id WHERE n.kind = 'DIGEST' AND n.event_date = '2026-03-11' AND d.status = 'SENT' AND d.channel IN ('hook', 'slack', 'mail', 'flaky')" 30 "digest delivered"
for t in 04:40:00 06:00:00 12:00:00; do set_now "2026-03-12T${t}Z"; sleep 1.5; done
assert_eq 1 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE kind = 'DIGEST' AND event_date = '2026-03-11'")" "one digest (two workers, later ticks)"
assert_eq "2026-03-09,2026-03-11" "$(q "SELECT string_agg(event_date::text, ',' ORDER BY event_date) FROM sp_v2_notifications WHERE kind = 'DIGEST'")" "one digest per day the clock passed 10:00 on (03-10 and 03-12)"
assert_eq '2026-03-11|{"runs": 3, "failed": 1, "late_days": 2, "succeeded": 2, "records_failed": 3, "records_loaded": 15}' \
    "$(q "SELECT n.payload->>'date' || '|' || jsonb_build_object('runs', x->'runs', 'succeeded', x->'succeeded', 'failed', x->'failed', 'records_loaded', x->'records_loaded', 'records_failed', x->'records_failed', 'late_days', x->'late_days')::text FROM sp_v2_notifications n, jsonb_array_elements(n.payload->'connectors') x WHERE n.kind = 'DIGEST' AND x->>'connector' = 'digestme'")" \
    "yesterday's runs (not tests), records loaded and failed, late days in the week"
assert_eq 1 "$(received 'len([r for r in reqs if r["path"] == "/hook/" and "\"daily_digest\"" in r["body"] and "\"date\":\"2026-03-11\"" in r["body"]])')" "webhook got one digest"
digest_mail=$(grep -l "daily digest 2026-03-11" "$MAILDIR"/*.eml | wc -l)
assert_eq 1 "$digest_mail" "one digest email"
grep -q -- "- digestme: 3 runs (2 succeeded, 1 failed), 15 records loaded, 3 record errors, 2 late days" \
    "$(grep -l "daily digest 2026-03-11" "$MAILDIR"/*.eml)" || cd_fail "digest email lines"

echo "== a digest that cannot be raised is logged once, and once when it works again"
# The query failed on every pass of the loop, each failure logged.
q "CREATE FUNCTION test_refuse_digest() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN RAISE EXCEPTION 'digest refused by the test'; END \$\$;
   CREATE TRIGGER test_refuse_digest BEFORE INSERT ON sp_v2_notifications
   FOR EACH ROW WHEN (NEW.kind = 'DIGEST') EXECUTE FUNCTION test_refuse_digest()" >/dev/null
refused() { grep -c "digest refused by the test" "$CD_TEST_TMP/serve-$1.log" || true; }
set_now "2026-03-13T04:31:00Z"   # 10:01 IST: the digest of 03-12 is due
for i in $(seq 1 50); do [ "$(refused w1)" -ge 1 ] && [ "$(refused w2)" -ge 1 ] && break; sleep 0.2; done
sleep 12   # a couple of retries and many loop passes
for w in w1 w2; do
    assert_eq 1 "$(refused $w)" "$w logs the failing digest once"
done
assert_contains "$(grep "digest refused by the test" "$CD_TEST_TMP/serve-w1.log")" "raising the daily digest" "the log line says what failed"
q "DROP TRIGGER test_refuse_digest ON sp_v2_notifications; DROP FUNCTION test_refuse_digest()" >/dev/null
wait_for "SELECT count(*) = 1 FROM sp_v2_notifications WHERE kind = 'DIGEST' AND event_date = '2026-03-12'" 20 "the digest raised once the query works"
for w in w1 w2; do
    for i in $(seq 1 50); do grep -q "the daily digest works again" "$CD_TEST_TMP/serve-$w.log" && break; sleep 0.2; done
    assert_eq 1 "$(grep -c "the daily digest works again" "$CD_TEST_TMP/serve-$w.log" || true)" "$w logs the recovery once"
done

echo "== POST /notifications/test"
code=$(curl -s -o "$CD_TEST_TMP/t.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"channel": "slack"}' "$API/notifications/test")
assert_eq 202 "$code" "test queued: $(cat "$CD_TEST_TMP/t.json")"
wait_received 'len([r for r in reqs if r["path"].startswith("/slack/") and "Test message from connectord to channel slack" in r["body"]]) == 1' 15 "test message"
code=$(curl -s -o "$CD_TEST_TMP/t.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"channel": "nope"}' "$API/notifications/test")
assert_eq 404 "$code" "unknown channel"
assert_contains "$(cat "$CD_TEST_TMP/t.json")" "hook, slack, mail, flaky, slow" "known channels listed"
code=$(curl -s -o "$CD_TEST_TMP/t.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"chanel": "slack"}' "$API/notifications/test")
assert_eq 400 "$code" "bad body"

echo "== no secret anywhere it does not belong"
metrics=$(curl -s "$API/metrics")
assert_contains "$metrics" 'connectord_notification_deliveries_total{channel="flaky",outcome="error"} 1' "deliveries by outcome"
serve_stop w1; serve_stop w2
for s in "$CD_TEST_HOOK_KEY" "$CD_TEST_SMTP_PASSWORD" "$CD_TEST_SLACK_TOKEN"; do
    ! grep -qF -- "$s" "$CD_TEST_TMP"/serve-*.log || cd_fail "a secret in a worker log"
    assert_eq 0 "$(received "len([r for r in reqs if '$s' in r['body'] or '$s' in json.dumps(r['headers'])])")" \
        "no secret in a request body or header"
    assert_eq "0|0|0" "$(q "SELECT (SELECT count(*) FROM sp_v2_notifications WHERE payload::text LIKE '%$s%') || '|' ||
        (SELECT count(*) FROM sp_v2_notification_attempts WHERE error LIKE '%$s%') || '|' ||
        (SELECT count(*) FROM sp_v2_notification_deliveries WHERE last_error LIKE '%$s%')")" "no secret in rows"
    assert_not_contains "$metrics" "$s" "no secret in /metrics"
done
for f in "$MAILDIR"/*.eml; do
    tail -n +2 "$f" | grep -qF -- "$CD_TEST_SMTP_PASSWORD" && cd_fail "the SMTP password in a message"
done
echo "== a cancelled run is not a failure to recover from"
# Alerts off for this connector ('[]'): only the events matter here.
cx=$(add cancelled '{"rows": 1, "seed": 8, "bank": "X"}' "'[]'")
runat() { # status started-ago [details]
    q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status, details, started_at, completed_at)
       VALUES ($cx, 'MANUAL', '2026-03-09', '$1', COALESCE(NULLIF('${3:-}', ''), '{}')::jsonb, now() - interval '$2', now() - interval '$2') RETURNING id"
}
runat FAILED '50 min' '{"outcome": "cancelled"}' >/dev/null
runat SUCCESS '40 min' >/dev/null
assert_eq 0 "$(q "SELECT count(*) FROM sp_v2_notifications WHERE connector_id = $cx")" "no alert for a cancel, no recovery after it"
x3=$(runat FAILED '30 min')
runat FAILED '20 min' '{"outcome": "cancelled"}' >/dev/null
x5=$(runat SUCCESS '10 min')
assert_eq "RUN_FAILED|$x3|,RECOVERED|$x5|$x3" \
    "$(q "SELECT string_agg(kind || '|' || run_id || '|' || COALESCE(payload->>'previous_failed_run_id', ''), ',' ORDER BY id) FROM sp_v2_notifications WHERE connector_id = $cx")" \
    "recovered from the real failure before the cancel"

echo "== no channels (the default): old alerts are still pruned, in batches"
# 1200 events past retention (90 days), some never fanned out, one with a
# delivery and its attempt, take more than one bounded DELETE.
q "INSERT INTO sp_v2_notifications (kind, dedup_key, payload, created_at, fanned_out_at)
   SELECT 'TEST', 'old:' || g, '{}', now() - interval '100 days', CASE WHEN g % 2 = 0 THEN now() - interval '100 days' END
     FROM generate_series(1, 1200) g" >/dev/null
q "INSERT INTO sp_v2_notification_deliveries (notification_id, channel, channel_type, status, attempts)
   SELECT id, 'hook', 'webhook', 'SENT', 1 FROM sp_v2_notifications WHERE dedup_key = 'old:4'" >/dev/null
q "INSERT INTO sp_v2_notification_attempts (delivery_id, attempt, started_at, outcome)
   SELECT d.id, 1, now() - interval '100 days', 'SENT' FROM sp_v2_notification_deliveries d
     JOIN sp_v2_notifications e ON e.id = d.notification_id WHERE e.dedup_key = 'old:4'" >/dev/null
recent=$(q "SELECT count(*) FROM sp_v2_notifications WHERE created_at > now() - interval '1 day'")
CFG3="$CD_TEST_TMP/w3/connectord.yaml"
serve_config "$CFG3" "alerts:" "  channels: []"
serve_start w3 "$CFG3"
wait_for "SELECT count(*) = 0 FROM sp_v2_notifications WHERE dedup_key LIKE 'old:%'" 30 "old alerts pruned"
assert_eq "$recent" "$(q "SELECT count(*) FROM sp_v2_notifications WHERE created_at > now() - interval '1 day'")" "recent alerts kept"
serve_stop w3

echo "== stale deliveries: expired, unknown channel after the grace, interrupted by shutdown"
ev() { # dedup-key created-ago -> notification id, fanned out
    q "INSERT INTO sp_v2_notifications (kind, dedup_key, payload, created_at, fanned_out_at)
       VALUES ('TEST', '$1', '{}', now() - interval '$2', now() - interval '$2') RETURNING id"
}
dl() { # notification channel [max_attempts] -> delivery id, due now
    q "INSERT INTO sp_v2_notification_deliveries (notification_id, channel, channel_type, max_attempts)
       VALUES ($1, '$2', 'webhook', ${3:-3}) RETURNING id"
}
# Deliveries earlier sections left pending (a digest to the slow receiver, say)
# would hold w4's delivery threads for the whole 20 s timeout each and decide
# which one reaches the slow receiver first; this section checks only its own.
q "UPDATE sp_v2_notification_deliveries SET status = 'FAILED', last_error = 'cleared by the test'
   WHERE status IN ('PENDING', 'SENDING')" >/dev/null
stale=$(dl "$(ev stale '3 hours')" hook)
goneold=$(dl "$(ev goneold '2 hours')" gone)
gonenew=$(dl "$(ev gonenew '1 minute')" gone)
cut=$(dl "$(ev cut '1 minute')" slow 1)
CFG4="$CD_TEST_TMP/w4/connectord.yaml"
serve_config "$CFG4" "alerts:" "  timeout_seconds: 20" "  max_attempts: 1" "  max_age_hours: 1" "  channels:" \
    "    - name: hook" "      type: webhook" "      url: \"http://127.0.0.1:$RPORT/hook/\"" \
    "    - name: slow" "      type: webhook" "      url: \"http://127.0.0.1:$RPORT/slow/hook\""
serve_start w4 "$CFG4"
wait_for "SELECT count(*) = 2 FROM sp_v2_notification_deliveries WHERE id IN ($stale, $goneold) AND status = 'FAILED'" 15 "stale deliveries closed"
assert_eq "FAILED|1|expired (older than max_age_hours)|1|ERROR|expired (older than max_age_hours)" \
    "$(q "SELECT d.status || '|' || d.attempts || '|' || d.last_error || '|' || a.attempt || '|' || a.outcome || '|' || a.error FROM sp_v2_notification_deliveries d JOIN sp_v2_notification_attempts a ON a.delivery_id = d.id WHERE d.id = $stale")" \
    "a 3 h old alert is not sent with max_age_hours 1"
assert_eq 0 "$(received "len([r for r in reqs if r['headers'].get('x-connectord-delivery') == '$stale'])")" "the expired one never reached the receiver"
assert_eq "FAILED|channel gone is no longer configured" "$(q "SELECT status || '|' || last_error FROM sp_v2_notification_deliveries WHERE id = $goneold")" \
    "a removed channel's delivery is settled once past the grace"
assert_eq "PENDING|0" "$(q "SELECT status || '|' || attempts FROM sp_v2_notification_deliveries WHERE id = $gonenew")" \
    "a recent one is left for a worker that may still know the channel"
wait_received "len([r for r in reqs if r['headers'].get('x-connectord-delivery') == '$cut']) == 1" 40 "the last attempt hanging in the slow receiver"
serve_stop w4
assert_eq "PENDING|0|0" "$(q "SELECT d.status || '|' || d.attempts || '|' || (SELECT count(*) FROM sp_v2_notification_attempts a WHERE a.delivery_id = d.id) FROM sp_v2_notification_deliveries d WHERE d.id = $cut")" \
    "a send cut short by shutdown goes back, its last attempt not used up"
grep -q "interrupted by shutdown" "$CD_TEST_TMP/serve-w4.log" || cd_fail "the interrupted send is logged"

echo "== a receiver that quotes the request path in its error page: the URL's token is not repeated"
export CD_TEST_ECHO_URL="http://127.0.0.1:$RPORT/echo/services/T0001/B0001/XoxEchoToken5c1e9f"
CFG5="$CD_TEST_TMP/w5/connectord.yaml"
serve_config "$CFG5" "alerts:" "  max_attempts: 1" "  channels:" "    - name: echoer" "      type: slack" \
    "      url: {secret: \"env:CD_TEST_ECHO_URL\"}"
serve_start w5 "$CFG5"
code=$(curl -s -o "$CD_TEST_TMP/t5.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"channel": "echoer"}' "http://127.0.0.1:${SERVE_PORT[w5]}/notifications/test")
wait_for "SELECT count(*) = 1 FROM sp_v2_notification_deliveries WHERE channel = 'echoer' AND status = 'FAILED'" 15 "the echoed delivery failed"
serve_stop w5
assert_contains "$(q "SELECT last_error FROM sp_v2_notification_deliveries WHERE channel = 'echoer'")" "HTTP 404" "the failure is recorded"
for s in XoxEchoToken5c1e9f /services/T0001; do
    ! grep -qF -- "$s" "$CD_TEST_TMP/serve-w5.log" || cd_fail "the webhook URL's token ($s) in the worker log"
    assert_eq "0|0" "$(q "SELECT (SELECT count(*) FROM sp_v2_notification_attempts WHERE error LIKE '%$s%') || '|' ||
        (SELECT count(*) FROM sp_v2_notification_deliveries WHERE last_error LIKE '%$s%')")" "the URL's token ($s) in no row"
done

echo "== a receiver whose error page is not UTF-8: the attempt is still recorded"
# PostgreSQL refuses text that is not UTF-8: an error quoting such a page
# verbatim left the attempt unrecorded and the delivery SENDING, re-sent
# every time its claim expired.
CFG6="$CD_TEST_TMP/w6/connectord.yaml"
serve_config "$CFG6" "alerts:" "  max_attempts: 1" "  channels:" "    - name: latin" "      type: webhook" \
    "      url: \"http://127.0.0.1:$RPORT/latin1/hook\""
serve_start w6 "$CFG6"
code=$(curl -s -o "$CD_TEST_TMP/t6.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{"channel": "latin"}' "http://127.0.0.1:${SERVE_PORT[w6]}/notifications/test")
assert_eq 202 "$code" "test queued: $(cat "$CD_TEST_TMP/t6.json")"
wait_for "SELECT count(*) = 1 FROM sp_v2_notification_deliveries WHERE channel = 'latin' AND status = 'FAILED'" 15 "the latin-1 delivery settled as FAILED"
serve_stop w6
assert_eq "400|1|HTTP 400: Requ?te invalide" \
    "$(q "SELECT d.last_http_status || '|' || (SELECT count(*) FROM sp_v2_notification_attempts a WHERE a.delivery_id = d.id) || '|' || substring(d.last_error FROM 'HTTP 400: Requ.te invalide') FROM sp_v2_notification_deliveries d WHERE d.channel = 'latin'")" \
    "status, the one attempt and the quote (invalid bytes replaced) recorded"

# Under ASan/UBSan a leak or an error at exit lands in the worker's log.
! grep -E "AddressSanitizer|LeakSanitizer|runtime error" "$CD_TEST_TMP"/serve-*.log >&2 || cd_fail "sanitizer report in a worker log"
echo "alerts checks passed"
