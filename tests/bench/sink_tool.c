/*
 * sink_tool.c — drives cd_sink with deterministic generated rows, for the
 * sink's integration test and benchmark.
 *
 *   sink_tool URL DATASET N SEED [options]
 *     DATASET        pg_transaction | bank_statement
 *     --alt-seed S   rows whose index is a multiple of --alt-every get their
 *     --alt-every M  data from seed S instead (same keys, other values)
 *     --dup-every M  after each row whose index is a multiple of M, emit that
 *                    key again with data of seed+1 (the later one must win)
 *     --bad-every M  each row whose index is a multiple of M is made invalid
 *     --kill-after K SIGKILL itself after K rows (mid-COPY)
 *     --from F       the rows are indexes F .. F+N-1 (keys and data follow
 *                    the index; default 0)
 *     --reverse      emit them from the last index down to the first
 *     --pause-after K  sleep --pause-ms MS (default 1000) after K rows
 *     --dup-at I     after the row of index I, emit index 0 again (seed+1
 *                    data): a key repeated late in the run
 *     --rollback     ROLLBACK instead of COMMIT
 *     --csv FILE     write the rows as CSV in the target's columns instead
 *                    of loading them (bank_statement only; for psql \copy)
 *     --tz ZONE      session TimeZone (default Asia/Kolkata)
 *     --wide-every M pg_transaction: each row whose index is a multiple of M
 *                    has a merchant_id of 17 three-byte characters (51 bytes
 *                    for VARCHAR(50): fits in characters, not in bytes)
 *     --latin-names  pg_transaction: merchant names without their Devanagari
 *                    letter, so that a LATIN1 database holds them
 *
 * Prints one JSON object: the sink's counts (direct: 1 when the rows went
 * straight into the target), seconds, and the process's peak RSS in KiB
 * (getrusage), which must not grow with N. The sink's log lines (its
 * fallback from the direct path) go to stderr, at debug level with
 * SINK_TOOL_DEBUG=1.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "sink.h"
#include "util.h"

#define MAXCOLS 20

typedef struct row {
    const char *names[MAXCOLS];
    char storage[MAXCOLS][128];
    const char *values[MAXCOLS];
    size_t lengths[MAXCOLS];
    size_t n;
} row;

/* splitmix64: a well-mixed deterministic value from (seed, index, salt). */
static uint64_t mix(uint64_t seed, uint64_t i, uint64_t salt)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull + salt;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Sets column `name` of r to a formatted value (NULL fmt: no value). */
static void put(row *r, const char *name, const char *fmt, ...) CD_PRINTF(3, 4);
static void put(row *r, const char *name, const char *fmt, ...)
{
    size_t k = r->n++;
    r->names[k] = name;
    if (!fmt) {
        r->values[k] = NULL;
        r->lengths[k] = 0;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(r->storage[k], sizeof r->storage[k], fmt, ap);
    va_end(ap);
    r->values[k] = r->storage[k];
    r->lengths[k] = (size_t)len < sizeof r->storage[k] ? (size_t)len : sizeof r->storage[k] - 1;
}

/* The rupee text of an amount in paise ("-12.05"). */
static void rupees(char *out, size_t size, int64_t paise)
{
    int64_t a = paise < 0 ? -paise : paise;
    snprintf(out, size, "%s%" PRId64 ".%02" PRId64, paise < 0 ? "-" : "", a / 100, a % 100);
}

static void gen_bank(row *r, uint64_t seed, uint64_t i, int bad)
{
    char amt[32];
    int64_t paise = (int64_t)(mix(seed, i, 1) % 100000000ull) - 1000000;
    rupees(amt, sizeof amt, paise);
    int day = 1 + (int)(i % 3);
    r->n = 0;
    put(r, "bank_ref", "REF%010" PRIu64, i);
    put(r, "bank_name", "%s", i % 2 ? "HDFC BANK" : "ICICI BANK");
    put(r, "amount", "%s", bad ? "12.345" : amt);
    put(r, "transaction_date", "2025-10-%02d", day);
    put(r, "value_date", "2025-10-%02d", day + 1);
    put(r, "utr", "UTR%012" PRIu64, mix(seed, i, 2) % UINT64_C(1000000000000));
    if (i % 5)
        put(r, "rrn", "%012" PRIu64, mix(seed, i, 3) % UINT64_C(1000000000000));
    else
        put(r, "rrn", NULL);
    /* Tabs, backslashes, quotes and non-ASCII travel through COPY escaping. */
    put(r, "remarks", "NEFT CR %" PRIu64 " \xe2\x82\xb9 Sharma\t\"Traders\" \\ %s",
        mix(seed, i, 4) % 100000, i % 7 ? "ok" : "a,b");
    put(r, "debit_credit", "%s", paise < 0 ? "DR" : "CR");
    put(r, "net_amount_paise", "%" PRId64, paise - (int64_t)(mix(seed, i, 5) % 500));
    put(r, "source_file", "HDFC_20251002.csv");
    put(r, "batch_id", "B%" PRIu64, i / 10000);
}

static uint64_t wide_every; /* --wide-every */
static int latin_names;     /* --latin-names */

static void gen_txn(row *r, uint64_t seed, uint64_t i, int bad)
{
    char fee[32];
    int64_t paise = (int64_t)(mix(seed, i, 1) % 100000000ull) + 100;
    int day = 1 + (int)(i % 3);
    rupees(fee, sizeof fee, paise / 50);
    r->n = 0;
    put(r, "transaction_id", "TXN%010" PRIu64, i);
    if (wide_every && i % wide_every == 0) /* U+0915 DEVANAGARI LETTER KA, 17 times */
        put(r, "merchant_id", "%s",
            "\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95"
            "\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95"
            "\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95");
    else
        put(r, "merchant_id", "M%04" PRIu64, mix(seed, i, 2) % 500);
    put(r, "amount_paise", "%" PRId64, paise);
    put(r, "currency", "INR");
    put(r, "transaction_date", "2025-10-%02d", day);
    if (i % 4 == 0)
        put(r, "transaction_timestamp", NULL); /* default: the date's midnight */
    else if (i % 4 == 1)
        put(r, "transaction_timestamp", "2025-10-%02dT%02d:%02d:%02d", day,
            (int)(mix(seed, i, 3) % 24), (int)(i % 60), (int)((i / 60) % 60));
    else
        put(r, "transaction_timestamp", "2025-10-%02dT10:00:00.%06d+05:30", day,
            (int)(mix(seed, i, 3) % 1000000));
    put(r, "source_name", "SABPAISA");
    put(r, "payment_method", "%s", i % 3 ? "UPI" : "CARD");
    put(r, "gateway_ref", "GW%" PRIu64, mix(seed, i, 4) % 100000000);
    put(r, "utr", "UTR%012" PRIu64, mix(seed, i, 5) % UINT64_C(1000000000000));
    put(r, "status", "SUCCESS");
    put(r, "bank_fee", "%s", bad ? "1e3" : fee);
    put(r, "merchant_name", "Merchant \xc3\xa9%s %" PRIu64, latin_names ? "" : "\xe0\xa4\x95",
        mix(seed, i, 2) % 500);
}

/* Writes a CSV field, quoted, with quotes doubled. */
static void csv_field(FILE *f, const char *v, size_t len, int last)
{
    if (v) {
        fputc('"', f);
        for (size_t k = 0; k < len; k++) {
            if (v[k] == '"')
                fputc('"', f);
            fputc(v[k], f);
        }
        fputc('"', f);
    }
    fputc(last ? '\n' : ',', f);
}

/* One bank row as CSV in the order of BANK_CSV_COLUMNS (amount in paise). */
static void write_bank_csv(FILE *f, const row *r)
{
    for (size_t k = 0; k < r->n; k++) {
        const char *v = r->values[k];
        size_t len = r->lengths[k];
        char paise[32];
        if (strcmp(r->names[k], "amount") == 0) {
            int64_t p = 0;
            /* Generated rupees always have two decimals: drop the point. */
            size_t o = 0;
            for (size_t j = 0; j < len && o + 1 < sizeof paise; j++)
                if (v[j] != '.')
                    paise[o++] = v[j];
            paise[o] = '\0';
            p = strtoll(paise, NULL, 10);
            snprintf(paise, sizeof paise, "%" PRId64, p);
            v = paise, len = strlen(paise);
        }
        csv_field(f, v, len, 0);
    }
    fputs("CONNECTOR\n", f);
}

static int rejects_shown;

static void on_reject(void *userdata, const char *row_ref, const char *field, const char *reason)
{
    (void)userdata;
    if (rejects_shown++ < 3)
        fprintf(stderr, "rejected %s [%s]: %s\n", row_ref, field ? field : "-", reason);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(char *err)
{
    fprintf(stderr, "sink_tool: %s\n", err);
    free(err);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: sink_tool URL pg_transaction|bank_statement N SEED [options]\n");
        return 2;
    }
    const char *url = argv[1];
    int bank = strcmp(argv[2], "bank_statement") == 0;
    uint64_t n = strtoull(argv[3], NULL, 10), seed = strtoull(argv[4], NULL, 10);
    uint64_t alt_seed = 0, alt_every = 0, dup_every = 0, bad_every = 0, kill_after = 0;
    uint64_t from = 0, pause_after = 0, pause_ms = 1000, dup_at = UINT64_MAX;
    int rollback = 0, reverse = 0;
    const char *csv = NULL, *tz = "Asia/Kolkata";
    for (int a = 5; a < argc; a++) {
        const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : "0";
        if (strcmp(o, "--rollback") == 0) {
            rollback = 1;
            continue;
        }
        if (strcmp(o, "--reverse") == 0) {
            reverse = 1;
            continue;
        }
        if (strcmp(o, "--latin-names") == 0) {
            latin_names = 1;
            continue;
        }
        a++;
        if (strcmp(o, "--alt-seed") == 0) alt_seed = strtoull(v, NULL, 10);
        else if (strcmp(o, "--alt-every") == 0) alt_every = strtoull(v, NULL, 10);
        else if (strcmp(o, "--dup-every") == 0) dup_every = strtoull(v, NULL, 10);
        else if (strcmp(o, "--bad-every") == 0) bad_every = strtoull(v, NULL, 10);
        else if (strcmp(o, "--kill-after") == 0) kill_after = strtoull(v, NULL, 10);
        else if (strcmp(o, "--from") == 0) from = strtoull(v, NULL, 10);
        else if (strcmp(o, "--pause-after") == 0) pause_after = strtoull(v, NULL, 10);
        else if (strcmp(o, "--pause-ms") == 0) pause_ms = strtoull(v, NULL, 10);
        else if (strcmp(o, "--dup-at") == 0) dup_at = strtoull(v, NULL, 10);
        else if (strcmp(o, "--csv") == 0) csv = v;
        else if (strcmp(o, "--tz") == 0) tz = v;
        else if (strcmp(o, "--wide-every") == 0) wide_every = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "sink_tool: unknown option %s\n", o);
            return 2;
        }
    }
    void (*gen)(row *, uint64_t, uint64_t, int) = bank ? gen_bank : gen_txn;
    row r;

    if (csv) {
        FILE *f = fopen(csv, "w");
        if (!f || !bank) {
            fprintf(stderr, "sink_tool: --csv needs bank_statement and a writable file\n");
            return 1;
        }
        for (uint64_t i = 0; i < n; i++) {
            gen(&r, seed, i, 0);
            write_bank_csv(f, &r);
        }
        return fclose(f) == 0 ? 0 : 1;
    }

    if (getenv("SINK_TOOL_DEBUG"))
        cd_log_set_threshold(CD_LOG_DEBUG);
    char *err = NULL;
    double t0 = now_s();
    PGconn *conn = cd_db_connect(url, "sink_tool", &err);
    if (!conn)
        return fail(err);
    const char *tzp[1] = {tz};
    if (cd_db_command(conn, "BEGIN", "BEGIN", 0, NULL, &err) != 0 ||
        cd_db_command(conn, "setting TimeZone", "SELECT set_config('TimeZone', $1, true)", 1,
                      tzp, &err) != 0)
        return fail(err);
    cd_sink *sink = cd_sink_open(conn, bank ? CD_DATASET_BANK_STATEMENT : CD_DATASET_PG_TRANSACTION,
                                 42, on_reject, NULL, &err);
    if (!sink)
        return fail(err);
    gen(&r, seed, 0, 0);
    if (cd_sink_columns(sink, r.names, r.n, &err) != 0)
        return fail(err);
    char ref[64];
    for (uint64_t k = 0; k < n; k++) {
        if (kill_after && k == kill_after)
            raise(SIGKILL);
        if (pause_after && k == pause_after) {
            struct timespec ts = {(time_t)(pause_ms / 1000), (long)(pause_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        uint64_t i = from + (reverse ? n - 1 - k : k);
        uint64_t s = alt_every && i % alt_every == 0 ? alt_seed : seed;
        gen(&r, s, i, bad_every && i % bad_every == 0);
        snprintf(ref, sizeof ref, "row %" PRIu64, i);
        if (cd_sink_row(sink, r.values, r.lengths, ref, &err) < 0)
            return fail(err);
        if (dup_every && i % dup_every == 0) {
            gen(&r, seed + 1, i, 0);
            if (cd_sink_row(sink, r.values, r.lengths, ref, &err) < 0)
                return fail(err);
        }
        if (i == dup_at) {
            gen(&r, seed + 1, 0, 0);
            if (cd_sink_row(sink, r.values, r.lengths, "dup of row 0", &err) < 0)
                return fail(err);
        }
    }
    cd_sink_counts c;
    if (cd_sink_merge(sink, &c, &err) != 0)
        return fail(err);
    cd_sink_free(sink);
    if (cd_db_command(conn, "COMMIT", rollback ? "ROLLBACK" : "COMMIT", 0, NULL, &err) != 0)
        return fail(err);
    PQfinish(conn);
    double secs = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"received\": %" PRId64 ", \"rejected\": %" PRId64 ", \"staged\": %" PRId64
           ", \"duplicates\": %" PRId64 ", \"inserted\": %" PRId64 ", \"updated\": %" PRId64
           ", \"unchanged\": %" PRId64 ", \"direct\": %d, \"seconds\": %.3f, \"maxrss_kb\": %ld}\n",
           c.received, c.rejected, c.staged, c.duplicates, c.inserted, c.updated, c.unchanged,
           c.direct, secs, ru.ru_maxrss);
    return 0;
}
