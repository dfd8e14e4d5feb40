#!/usr/bin/env bash
# test_migrate.sh — `connectord -c FILE migrate` against a throw-away
# PostgreSQL: the first run creates the documented schema exactly plus the
# worker's additions; a second run changes nothing; concurrent runs apply
# each file once; a broken file rolls back whole and is reported by file,
# line and PostgreSQL's reason; a platform database that already holds the
# tables (and rows) is migrated without losing them.
set -euo pipefail

source "$CD_SOURCE_DIR/tests/lib/pgtmp.sh"
source "$CD_SOURCE_DIR/tests/lib/assert.sh"

BIN="$CD_BUILD_DIR/bin/connectord"
[ -x "$BIN" ] || cd_fail "$BIN not built"

pg_tmp_start
CONF="$CD_TEST_TMP/connectord.yaml"
cd_write_config "$CONF"

NFILES=$(find "$CD_SOURCE_DIR/schema" -maxdepth 1 -name '[0-9][0-9][0-9]_*.sql' | wc -l)
[ "$NFILES" -ge 4 ] || cd_fail "expected at least 4 files in schema/, found $NFILES"

# A config pointing at database $1 (created empty here).
config_for_db() {
    q "CREATE DATABASE $1" >/dev/null
    local url="${CD_DATABASE_URL/\/connectord\?//$1?}"
    cat >"$CD_TEST_TMP/$1.yaml" <<YAML
database:
  url: "$url"
plugins:
  dir: "$CD_BUILD_DIR/lib/connectord/plugins"
YAML
    echo "$CD_TEST_TMP/$1.yaml"
}

# psql against another database of the cluster.
qdb() { psql -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"; }

# One line per column: name, type, NOT NULL, default.
columns_of() {
    qdb "${2:-connectord}" "SELECT string_agg(format('%s %s%s%s%s', column_name,
            CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END,
            coalesce('(' || character_maximum_length || ')',
                     CASE WHEN data_type = 'numeric' AND numeric_precision IS NOT NULL
                          THEN format('(%s,%s)', numeric_precision, numeric_scale) END, ''),
            CASE WHEN is_nullable = 'NO' THEN ' NOT NULL' ELSE '' END,
            coalesce(' DEFAULT ' || column_default, '')), E'\n' ORDER BY ordinal_position)
       FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = '$1'"
}

constraint_def() { # table constraint
    q "SELECT pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = '$1'::regclass AND conname = '$2'"
}

index_def() { q "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = '$1'"; }

# --------------------------------------------------------------------------
echo "== first migrate applies every file"
out=$("$BIN" -c "$CONF" migrate)
assert_contains "$out" "applied $NFILES migrations, 0 already applied" "first migrate output"

expected_files=$(cd "$CD_SOURCE_DIR/schema" && ls [0-9][0-9][0-9]_*.sql | LC_ALL=C sort)
assert_eq "$expected_files" "$(q "SELECT filename FROM connectord_schema_migrations ORDER BY filename COLLATE \"C\"")" \
    "recorded migrations"
sum=$(sha256sum "$CD_SOURCE_DIR/schema/001_documented_schema.sql" | cut -d' ' -f1)
assert_eq "$sum" "$(q "SELECT checksum FROM connectord_schema_migrations WHERE filename = '001_documented_schema.sql'")" \
    "checksum is the file's sha256"

echo "== the documented tables, exactly"
assert_eq "id bigint NOT NULL DEFAULT nextval('sp_v2_connectors_id_seq'::regclass)
name character varying(255) NOT NULL
connector_type character varying(50) NOT NULL
source_entity character varying(100) NOT NULL
status character varying(20) NOT NULL DEFAULT 'ACTIVE'::character varying
connection_config jsonb NOT NULL
schedule_enabled boolean DEFAULT true
schedule_cron character varying(100)
schedule_timezone character varying(50) DEFAULT 'Asia/Kolkata'::character varying
last_run_at timestamp with time zone
last_run_status character varying(20)
last_run_details jsonb
success_count integer DEFAULT 0
failure_count integer DEFAULT 0
total_runs integer DEFAULT 0
created_at timestamp with time zone DEFAULT now()
updated_at timestamp with time zone DEFAULT now()
created_by character varying(100)
driver character varying(100)
sync_cursor text
resumed_at timestamp with time zone
paused_at timestamp with time zone
expected_by character varying(5)
alert_channels jsonb
schedule_changed_at timestamp with time zone" "$(columns_of sp_v2_connectors)" "sp_v2_connectors columns"

assert_eq "id bigint NOT NULL DEFAULT nextval('sp_v2_connector_runs_id_seq'::regclass)
connector_id bigint NOT NULL
run_type character varying(50) NOT NULL
run_date date
status character varying(20) NOT NULL
records_processed integer DEFAULT 0
records_success integer DEFAULT 0
records_failed integer DEFAULT 0
duration_seconds numeric(10,2)
error_message text
details jsonb
started_at timestamp with time zone DEFAULT now()
completed_at timestamp with time zone
triggered_by character varying(100)
attempt integer NOT NULL DEFAULT 1
max_attempts integer NOT NULL DEFAULT 1
queued_at timestamp with time zone DEFAULT now()
not_before timestamp with time zone
worker_id text
runner_pid integer
lease_expires_at timestamp with time zone
heartbeat_at timestamp with time zone
slot_time timestamp with time zone
backfill_id uuid
cancel_requested_at timestamp with time zone
cancel_requested_by character varying(100)
timeout_seconds integer" "$(columns_of sp_v2_connector_runs)" "sp_v2_connector_runs columns"

assert_eq "CHECK (((connector_type)::text = ANY ((ARRAY['BANK_SFTP'::character varying, 'BANK_API'::character varying, 'PG_API'::character varying, 'PG_DATABASE'::character varying])::text[])))" \
    "$(constraint_def sp_v2_connectors sp_v2_connectors_connector_type_check)" "connector_type check"
assert_eq "CHECK (((status)::text = ANY ((ARRAY['ACTIVE'::character varying, 'PAUSED'::character varying, 'FAILED'::character varying, 'TESTING'::character varying])::text[])))" \
    "$(constraint_def sp_v2_connectors sp_v2_connectors_status_check)" "connector status check"
assert_eq "CHECK (((last_run_status)::text = ANY ((ARRAY['SUCCESS'::character varying, 'PARTIAL_SUCCESS'::character varying, 'FAILED'::character varying, 'RUNNING'::character varying])::text[])))" \
    "$(constraint_def sp_v2_connectors sp_v2_connectors_last_run_status_check)" "last_run_status check kept as documented"
assert_eq "UNIQUE (name)" "$(constraint_def sp_v2_connectors unique_connector_name)" "unique_connector_name"
assert_eq "CHECK (((run_type)::text = ANY ((ARRAY['SCHEDULED'::character varying, 'MANUAL'::character varying, 'TEST'::character varying, 'BACKFILL'::character varying])::text[])))" \
    "$(constraint_def sp_v2_connector_runs sp_v2_connector_runs_run_type_check)" "run_type check"
assert_eq "CHECK (((status)::text = ANY ((ARRAY['QUEUED'::character varying, 'RUNNING'::character varying, 'SUCCESS'::character varying, 'PARTIAL_SUCCESS'::character varying, 'FAILED'::character varying])::text[])))" \
    "$(constraint_def sp_v2_connector_runs sp_v2_connector_runs_status_check)" "run status check allows QUEUED"
assert_eq "FOREIGN KEY (connector_id) REFERENCES sp_v2_connectors(id) ON DELETE CASCADE" \
    "$(constraint_def sp_v2_connector_runs sp_v2_connector_runs_connector_id_fkey)" "runs -> connectors"

for pair in \
    "idx_connectors_type|CREATE INDEX idx_connectors_type ON public.sp_v2_connectors USING btree (connector_type)" \
    "idx_connectors_status|CREATE INDEX idx_connectors_status ON public.sp_v2_connectors USING btree (status)" \
    "idx_connectors_last_run|CREATE INDEX idx_connectors_last_run ON public.sp_v2_connectors USING btree (last_run_at DESC)" \
    "idx_connector_runs_connector_id|CREATE INDEX idx_connector_runs_connector_id ON public.sp_v2_connector_runs USING btree (connector_id)" \
    "idx_connector_runs_status|CREATE INDEX idx_connector_runs_status ON public.sp_v2_connector_runs USING btree (status)" \
    "idx_connector_runs_started_at|CREATE INDEX idx_connector_runs_started_at ON public.sp_v2_connector_runs USING btree (started_at DESC)" \
    "uq_connector_runs_one_running|CREATE UNIQUE INDEX uq_connector_runs_one_running ON public.sp_v2_connector_runs USING btree (connector_id) WHERE ((status)::text = 'RUNNING'::text)" \
    "uq_connector_runs_slot|CREATE UNIQUE INDEX uq_connector_runs_slot ON public.sp_v2_connector_runs USING btree (connector_id, slot_time) WHERE (slot_time IS NOT NULL)" \
    "idx_connector_runs_claim|CREATE INDEX idx_connector_runs_claim ON public.sp_v2_connector_runs USING btree ((((run_type)::text = ANY ((ARRAY['TEST'::character varying, 'MANUAL'::character varying])::text[]))) DESC, id) WHERE ((status)::text = 'QUEUED'::text)" \
    "idx_connector_runs_connector_started_id|CREATE INDEX idx_connector_runs_connector_started_id ON public.sp_v2_connector_runs USING btree (connector_id, started_at DESC, id DESC)" \
    "idx_connector_run_logs_run|CREATE INDEX idx_connector_run_logs_run ON public.sp_v2_connector_run_logs USING btree (run_id, id)" \
    "idx_connector_record_errors_run|CREATE INDEX idx_connector_record_errors_run ON public.sp_v2_connector_record_errors USING btree (run_id, id)" \
    "sp_v2_transactions_transaction_id_key|CREATE UNIQUE INDEX sp_v2_transactions_transaction_id_key ON public.sp_v2_transactions USING btree (transaction_id)" \
    "uq_bank_statements_bank_ref|CREATE UNIQUE INDEX uq_bank_statements_bank_ref ON public.sp_v2_bank_statements USING btree (bank_name, bank_ref)"; do
    assert_eq "${pair#*|}" "$(index_def "${pair%%|*}")" "index ${pair%%|*}"
done
# Superseded by the two above (schema/012): every run row version paid for them.
for gone in idx_connector_runs_queue idx_connector_runs_connector_started; do
    assert_eq "" "$(index_def "$gone")" "index $gone dropped"
done

echo "== the default connector"
assert_eq "t" "$(q "SELECT connection_config = '{\"api_base_url\": \"https://reportapi.sabpaisa.in/SabPaisaReport/REST/SettlePaisa/txnData\", \"authentication_type\": \"IP_WHITELIST\", \"merchant_codes\": [\"ALL\"], \"sync_days_back\": 1, \"auto_retry\": true, \"retry_count\": 3}'::jsonb
    FROM sp_v2_connectors WHERE name = 'SabPaisa PG API'")" "default connection_config"
assert_eq "PG_API|SABPAISA|ACTIVE|t|0 2 * * *|Asia/Kolkata|SYSTEM|pg_api|0|0|0" \
    "$(q "SELECT connector_type, source_entity, status, schedule_enabled, schedule_cron, schedule_timezone,
                 created_by, driver, success_count, failure_count, total_runs FROM sp_v2_connectors")" \
    "default connector row"
assert_eq "2" "$(q "SELECT count(*) FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
                     WHERE d.objsubid = 0 AND c.relname IN ('sp_v2_connectors', 'sp_v2_connector_runs')")" \
    "table comments"

echo "== the worker's additions behave"
cid=$(q "SELECT id FROM sp_v2_connectors WHERE name = 'SabPaisa PG API'")
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, status) VALUES ($cid, 'MANUAL', 'QUEUED')" >/dev/null
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, status) VALUES ($cid, 'MANUAL', 'RUNNING')" >/dev/null
if q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, status) VALUES ($cid, 'MANUAL', 'RUNNING')" 2>/dev/null; then
    cd_fail "a second RUNNING run of one connector was accepted"
fi
q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, status, slot_time)
   VALUES ($cid, 'SCHEDULED', 'QUEUED', '2025-01-01 20:30Z')" >/dev/null
if q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, status, slot_time)
      VALUES ($cid, 'SCHEDULED', 'QUEUED', '2025-01-01 20:30Z')" 2>/dev/null; then
    cd_fail "the same schedule slot was enqueued twice"
fi
if q "INSERT INTO sp_v2_connector_runs (connector_id, run_type, status) VALUES ($cid, 'MANUAL', 'WAITING')" 2>/dev/null; then
    cd_fail "an unknown run status was accepted"
fi
assert_eq "1|1" "$(q "SELECT attempt, max_attempts FROM sp_v2_connector_runs ORDER BY id LIMIT 1")" \
    "attempt defaults"

# --------------------------------------------------------------------------
echo "== a second migrate changes nothing"
# pg_dump's \restrict line carries a random key per run.
schema_dump() { pg_dump --schema-only --no-owner connectord | grep -v '^\\\(un\)\{0,1\}restrict '; }
schema_dump >"$CD_TEST_TMP/before.sql"
counts="SELECT (SELECT count(*) FROM sp_v2_connectors) || '/' || (SELECT count(*) FROM sp_v2_connector_runs)
        || '/' || (SELECT string_agg(filename || '@' || applied_at, ',' ORDER BY filename) FROM connectord_schema_migrations)"
counts_before=$(q "$counts")
out=$("$BIN" -c "$CONF" migrate)
assert_contains "$out" "applied 0 migrations, $NFILES already applied" "second migrate output"
schema_dump >"$CD_TEST_TMP/after.sql"
diff -u "$CD_TEST_TMP/before.sql" "$CD_TEST_TMP/after.sql" >&2 || cd_fail "second migrate changed the schema"
assert_eq "$counts_before" "$(q "$counts")" "rows after the second migrate"

# --------------------------------------------------------------------------
echo "== concurrent migrates apply each file once"
conf_conc=$(config_for_db conc)
pids=()
for i in 1 2 3 4; do
    "$BIN" -c "$conf_conc" migrate >"$CD_TEST_TMP/conc.$i.out" 2>"$CD_TEST_TMP/conc.$i.err" &
    pids+=($!)
done
for i in 1 2 3 4; do
    wait "${pids[$((i - 1))]}" || { cat "$CD_TEST_TMP/conc.$i.err" >&2; cd_fail "concurrent migrate $i failed"; }
done
total=0
for i in 1 2 3 4; do
    # "applied 1 migration, ..." is singular.
    n=$(sed -n 's/.*applied \([0-9]*\) migration.*/\1/p' "$CD_TEST_TMP/conc.$i.out")
    [ -n "$n" ] || cd_fail "concurrent migrate $i printed no summary: $(cat "$CD_TEST_TMP/conc.$i.out")"
    total=$((total + n))
done
assert_eq "$NFILES" "$total" "files applied across the concurrent runs"
assert_eq "$NFILES|$NFILES" "$(qdb conc "SELECT count(*), count(DISTINCT filename) FROM connectord_schema_migrations")" \
    "each file recorded once"
assert_eq "1" "$(qdb conc "SELECT count(*) FROM sp_v2_connectors")" "one default connector"

# --------------------------------------------------------------------------
echo "== a broken migration rolls back whole and says where"
# The binary finds its schema relative to itself (<prefix>/share/connectord/
# schema), so a copy of it in a scratch prefix migrates a scratch schema.
prefix="$CD_TEST_TMP/prefix"
mkdir -p "$prefix/bin" "$prefix/share/connectord/schema"
cp "$BIN" "$prefix/bin/connectord"
cp "$CD_SOURCE_DIR"/schema/*.sql "$prefix/share/connectord/schema/"
# Line 11 is the bad statement; the quotes, comments and dollar quoting
# before it hold ';' that must not end a statement.
cat >"$prefix/share/connectord/schema/900_broken.sql" <<'SQL'
-- 900_broken.sql: statements the splitter must keep whole, then a bad one
CREATE TABLE broken_first (id integer, note text);
INSERT INTO broken_first VALUES (1, 'semi;colon ''quoted'' -- not a comment');
DO $body$
BEGIN
    PERFORM 1; /* ; */
END
$body$;
/* a block comment; /* nested; */ still comment; */

SELECT no_such_column
  FROM broken_first;
CREATE TABLE broken_never (id integer);
SQL
conf_broken=$(config_for_db broken)
set +e
"$prefix/bin/connectord" -c "$conf_broken" migrate >"$CD_TEST_TMP/broken.out" 2>"$CD_TEST_TMP/broken.err"
rc=$?
set -e
[ "$rc" -ne 0 ] || cd_fail "a broken migration exited 0"
err=$(cat "$CD_TEST_TMP/broken.err")
assert_contains "$err" "900_broken.sql: statement at line 11 failed: SELECT no_such_column FROM broken_first" \
    "error names file, line and statement"
assert_contains "$err" 'column "no_such_column" does not exist' "error carries PostgreSQL's reason"
assert_eq "" "$(qdb broken "SELECT to_regclass('broken_first')")" "first statement of the broken file rolled back"
assert_eq "" "$(qdb broken "SELECT to_regclass('broken_never')")" "nothing after the failure ran"
assert_eq "$expected_files" "$(qdb broken "SELECT filename FROM connectord_schema_migrations ORDER BY filename COLLATE \"C\"")" \
    "earlier files stay applied, the broken one is not recorded"
assert_eq "sp_v2_connector_runs" "$(qdb broken "SELECT to_regclass('sp_v2_connector_runs')")" "earlier tables kept"

# A file changed after it was applied is not applied again (only warned about).
echo "-- an edit" >>"$prefix/share/connectord/schema/001_documented_schema.sql"
rm "$prefix/share/connectord/schema/900_broken.sql"
out=$("$prefix/bin/connectord" -c "$conf_broken" migrate 2>"$CD_TEST_TMP/edited.err")
assert_contains "$out" "applied 0 migrations, $NFILES already applied" "edited file not re-applied"
assert_contains "$(cat "$CD_TEST_TMP/edited.err")" "001_documented_schema.sql changed after it was applied" \
    "edited file warned about"

# A .sql file not named NNN_name.sql is refused rather than skipped.
touch "$prefix/share/connectord/schema/fix_later.sql"
if "$prefix/bin/connectord" -c "$conf_broken" migrate >/dev/null 2>"$CD_TEST_TMP/badname.err"; then
    cd_fail "a misnamed migration was accepted"
fi
assert_contains "$(cat "$CD_TEST_TMP/badname.err")" "fix_later.sql" "misnamed file named in the error"

# --------------------------------------------------------------------------
echo "== a platform database that already has the tables keeps its rows"
conf_platform=$(config_for_db platform)
qdb platform "
CREATE TABLE sp_v2_connectors (
    id BIGSERIAL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    connector_type VARCHAR(50) NOT NULL CHECK (connector_type IN ('BANK_SFTP', 'BANK_API', 'PG_API', 'PG_DATABASE')),
    source_entity VARCHAR(100) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'PAUSED', 'FAILED', 'TESTING')),
    connection_config JSONB NOT NULL,
    schedule_enabled BOOLEAN DEFAULT TRUE,
    schedule_cron VARCHAR(100),
    schedule_timezone VARCHAR(50) DEFAULT 'Asia/Kolkata',
    last_run_at TIMESTAMPTZ,
    last_run_status VARCHAR(20) CHECK (last_run_status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED', 'RUNNING')),
    last_run_details JSONB,
    success_count INTEGER DEFAULT 0,
    failure_count INTEGER DEFAULT 0,
    total_runs INTEGER DEFAULT 0,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    created_by VARCHAR(100),
    CONSTRAINT unique_connector_name UNIQUE (name));
CREATE TABLE sp_v2_connector_runs (
    id BIGSERIAL PRIMARY KEY,
    connector_id BIGINT NOT NULL REFERENCES sp_v2_connectors(id) ON DELETE CASCADE,
    run_type VARCHAR(50) NOT NULL CHECK (run_type IN ('SCHEDULED', 'MANUAL', 'TEST', 'BACKFILL')),
    run_date DATE,
    status VARCHAR(20) NOT NULL CHECK (status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED', 'RUNNING')),
    records_processed INTEGER DEFAULT 0,
    records_success INTEGER DEFAULT 0,
    records_failed INTEGER DEFAULT 0,
    duration_seconds NUMERIC(10,2),
    error_message TEXT,
    details JSONB,
    started_at TIMESTAMPTZ DEFAULT NOW(),
    completed_at TIMESTAMPTZ,
    triggered_by VARCHAR(100));
CREATE INDEX idx_connectors_type ON sp_v2_connectors(connector_type);
CREATE TABLE sp_v2_transactions (
    id BIGSERIAL PRIMARY KEY,
    transaction_id VARCHAR(100) NOT NULL,
    merchant_id VARCHAR(50) NOT NULL,
    amount_paise BIGINT NOT NULL,
    currency VARCHAR(3) DEFAULT 'INR',
    transaction_date DATE NOT NULL,
    transaction_timestamp TIMESTAMPTZ NOT NULL,
    source_type VARCHAR(20) NOT NULL,
    source_name VARCHAR(100),
    batch_id VARCHAR(100),
    payment_method VARCHAR(50),
    gateway_ref VARCHAR(100),
    utr VARCHAR(50),
    rrn VARCHAR(50),
    status VARCHAR(20) DEFAULT 'PENDING',
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),
    exception_reason VARCHAR(50),
    settlement_batch_id UUID,
    settled_at TIMESTAMP,
    bank_fee_paise BIGINT DEFAULT 0,
    settlement_amount_paise BIGINT DEFAULT 0,
    fee_variance_paise BIGINT DEFAULT 0,
    fee_variance_percentage NUMERIC,
    acquirer_code VARCHAR(50),
    merchant_name VARCHAR(255));
-- the platform's key on transaction_id under a name of its own
CREATE UNIQUE INDEX idx_platform_txn_id ON sp_v2_transactions(transaction_id);
CREATE TABLE sp_v2_bank_statements (
    id BIGSERIAL PRIMARY KEY,
    bank_ref VARCHAR(100) NOT NULL,
    bank_name VARCHAR(100) NOT NULL,
    amount_paise BIGINT NOT NULL,
    transaction_date DATE NOT NULL,
    value_date DATE,
    utr VARCHAR(50),
    remarks TEXT,
    debit_credit VARCHAR(10),
    source_type VARCHAR(20) NOT NULL,
    source_file VARCHAR(255),
    batch_id VARCHAR(100),
    processed BOOLEAN DEFAULT false,
    matched_transaction_id VARCHAR(100),
    created_at TIMESTAMPTZ DEFAULT now());
INSERT INTO sp_v2_connectors (name, connector_type, source_entity, connection_config)
VALUES ('HDFC SFTP', 'BANK_SFTP', 'HDFC BANK', '{\"host\": \"sftp.example\"}'),
       ('SabPaisa PG API', 'PG_API', 'SABPAISA', '{\"sync_days_back\": 2}');
INSERT INTO sp_v2_connector_runs (connector_id, run_type, status, started_at)
VALUES (1, 'SCHEDULED', 'RUNNING', '2025-01-01 02:00+05:30'),
       (1, 'SCHEDULED', 'RUNNING', '2025-01-02 02:00+05:30'),
       (1, 'MANUAL', 'SUCCESS', '2025-01-01 05:00+05:30');
INSERT INTO sp_v2_transactions (transaction_id, merchant_id, amount_paise, transaction_date,
                                transaction_timestamp, source_type)
VALUES ('TXN1', 'M1', 12345, '2025-01-01', '2025-01-01 10:00+05:30', 'API');
INSERT INTO sp_v2_bank_statements (bank_ref, bank_name, amount_paise, transaction_date, source_type)
VALUES ('REF1', 'HDFC', 12345, '2025-01-01', 'SFTP');
" >/dev/null
out=$("$BIN" -c "$conf_platform" migrate)
assert_contains "$out" "applied $NFILES migrations, 0 already applied" "migrate over the platform's tables"
assert_eq "HDFC SFTP|bank_sftp|{\"host\": \"sftp.example\"}
SabPaisa PG API|pg_api|{\"sync_days_back\": 2}" \
    "$(qdb platform "SELECT name, driver, connection_config FROM sp_v2_connectors ORDER BY id")" \
    "connectors kept, drivers filled, the operator's default connector untouched"
assert_eq "1|FAILED|left RUNNING by a previous service; superseded at migration|t
2|RUNNING||f
3|SUCCESS||f" \
    "$(qdb platform "SELECT id, status, error_message, completed_at IS NOT NULL FROM sp_v2_connector_runs ORDER BY id")" \
    "only the newest RUNNING run of a connector stays RUNNING"
assert_eq "TXN1|12345|" "$(qdb platform "SELECT transaction_id, amount_paise, loaded_by_run_id FROM sp_v2_transactions")" \
    "transaction kept"
assert_eq "1" "$(qdb platform "SELECT count(*) FROM pg_index i JOIN pg_attribute a
                                ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                                WHERE i.indrelid = 'sp_v2_transactions'::regclass AND i.indisunique
                                  AND i.indnkeyatts = 1 AND a.attname = 'transaction_id'")" \
    "the platform's unique index on transaction_id reused, not duplicated"
assert_eq "REF1|HDFC|t|" "$(qdb platform "SELECT bank_ref, bank_name, updated_at IS NOT NULL, rrn FROM sp_v2_bank_statements")" \
    "bank statement kept, new columns added"
assert_eq "uq_bank_statements_bank_ref" "$(qdb platform "SELECT to_regclass('uq_bank_statements_bank_ref')")" \
    "bank statement key added"
assert_eq "$(columns_of sp_v2_connector_runs)" "$(columns_of sp_v2_connector_runs platform)" \
    "runs columns on the platform database match a fresh one"
assert_eq "$(columns_of sp_v2_transactions)" "$(columns_of sp_v2_transactions platform)" \
    "transactions columns on the platform database match a fresh one"
out=$("$BIN" -c "$conf_platform" migrate)
assert_contains "$out" "applied 0 migrations, $NFILES already applied" "platform database: second migrate"

echo "== a database.url libpq cannot parse is not echoed with its password"
# libpq quotes the whole URI in some parse errors, password and all.
set +e
out=$(CONNECTORD_DATABASE_URL='postgresql://conn:S3cretPW@[::1/db' "$BIN" -c "$conf_platform" migrate 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] || cd_fail "migrate with an unparsable database.url exited 0"
assert_contains "$out" "cannot connect to PostgreSQL" "the failure is reported"
assert_not_contains "$out" "S3cretPW" "no password in the message"

echo "PASS test_migrate"
