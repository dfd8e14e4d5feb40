/*
 * test_gen.c — a test driver that generates bank statement records from
 * its connection_config: {"rows": N, "seed": S, "bad_every": K,
 * "driver_error_every": E, "repeat_every": R (every R-th record repeats
 * the key before it), "fail": "config|transient|permanent|stderr_exit|exit0",
 * "fail_once_on": a run date whose first attempt fails (transient),
 * "sleep_ms": per-row delay (checks cancellation), "bank": bank_name,
 * "signed": 1 (instead of the generated rows, a fixed set of records with
 * signed amounts and debit_credit spelt every way a bank does, some
 * contradicting the sign; see signed_rows) or 2 (signed amount_paise and
 * no debit_credit column at all)}.
 * Deterministic for a given seed, so loading twice gives the same rows. Category BANK_API, so connectors of type BANK_API with
 * driver "test_gen" use it.
 */
#include <connectord/plugin.h>
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const cd_host_api *host;

static const char *schema(void)
{
    /* shared and pin are secrets the way a vendor's schema may say it:
     * through a $ref, and in a oneOf branch. */
    return "{\"type\":\"object\","
           "\"$defs\":{\"secret\":{\"type\":\"string\",\"writeOnly\":true}},"
           "\"properties\":{"
           "\"shared\":{\"$ref\":\"#/$defs/secret\"},"
           "\"pin\":{\"oneOf\":[{\"type\":\"string\",\"writeOnly\":true},"
           "{\"type\":\"integer\"}]},"
           "\"rows\":{\"type\":\"integer\",\"minimum\":0},"
           "\"seed\":{\"type\":\"integer\"},"
           "\"bad_every\":{\"type\":\"integer\"},"
           "\"driver_error_every\":{\"type\":\"integer\"},"
           "\"fail\":{\"type\":\"string\"},"
           "\"password\":{\"type\":\"string\",\"writeOnly\":true}}}";
}

static json_t *config(cd_run *run)
{
    const cd_run_info *info = host->run_info(run);
    return json_loadb(info->config_json, info->config_json_len, 0, NULL);
}

static int test(cd_run *run)
{
    json_t *c = config(run);
    const char *pw = json_string_value(json_object_get(c, "password"));
    host->test_step(run, "connect", 1, "generator ready");
    if (pw) /* proves the host scrubs secrets from logs and messages */
        host->log(run, CD_LOG_INFO, "using password %s", pw);
    const char *fail = json_string_value(json_object_get(c, "fail"));
    int rc = CD_OK;
    if (fail) {
        host->test_step(run, "auth", 0, "refused");
        host->set_message(run, "test failed as configured (password %s)", pw ? pw : "-");
        rc = CD_ERR_CONFIG;
    } else {
        host->set_message(run, "generator reachable");
    }
    json_decref(c);
    return rc;
}

/* "validate_sleep_ms": M: validate() takes M ms, as a vendor's slow check
 * would (the API runs it while a connector is being saved). */
static int validate(cd_run *run)
{
    json_t *c = config(run);
    long long ms = json_integer_value(json_object_get(c, "validate_sleep_ms"));
    json_decref(c);
    if (ms > 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return CD_OK;
}

/* "signed": what a vendor's driver that does not normalise may send for
 * sp_v2_bank_statements; the core stores the magnitude and CR / DR, or
 * rejects the record (tests/integration/test_sink.sh checks each). */
static const char *const signed_rows[][3] = {
    /* bank_ref, amount, debit_credit */
    {"SGN01", "-100.00", NULL},     /* 10000 DR */
    {"SGN02", "-100.00", "D"},      /* 10000 DR */
    {"SGN03", "250.00", " Debit "}, /* 25000 DR */
    {"SGN04", "75.50", "Cr."},      /* 7550 CR */
    {"SGN05", "-20.00", "CR"},      /* record error: says credit, the amount debit */
    {"SGN06", "-1.00", "REV"},      /* record error: neither, beside a debit */
    {"SGN07", "7.00", "REV"},       /* 700 REV: kept beside a plain amount */
    {"SGN08", "12.00", "dr"},       /* 1200 DR */
    {"SGN09", "-0.00", NULL},       /* 0 DR */
    {"SGN10", "30.00", "c"},        /* 3000 CR */
    {"SGN11", "+40.00", "DEBIT."},  /* 4000 DR */
    {"SGN12", "5.00", "  "},        /* 500, no indicator */
    {"SGN13", "-3.00", "Dr."},      /* 300 DR */
};

static int run_signed(cd_run *run, long long mode, const char *bank)
{
    static const char *const cols1[] = {"bank_ref", "bank_name", "amount", "transaction_date",
                                        "debit_credit"};
    static const char *const cols2[] = {"bank_ref", "bank_name", "amount_paise",
                                        "transaction_date"};
    /* mode 2: paise, no indicator; SGN04 and SGN10 (CR above) turn into
     * debits, SGN02 into a plain amount, SGN20 is new. */
    static const char *const rows2[][2] = {
        {"SGN04", "-7550"}, {"SGN10", "-3000"}, {"SGN02", "10000"}, {"SGN20", "-12345"}};
    const cd_run_info *info = host->run_info(run);
    int rc = mode == 2 ? host->records_begin(run, cols2, 4) : host->records_begin(run, cols1, 5);
    if (rc != CD_OK)
        return rc;
    size_t n = mode == 2 ? sizeof rows2 / sizeof rows2[0]
                         : sizeof signed_rows / sizeof signed_rows[0];
    for (size_t i = 0; i < n && rc == CD_OK; i++) {
        const char *ref = mode == 2 ? rows2[i][0] : signed_rows[i][0];
        const char *amount = mode == 2 ? rows2[i][1] : signed_rows[i][1];
        const char *dc = mode == 2 ? NULL : signed_rows[i][2];
        const char *vals[] = {ref, bank, amount, info->run_date, dc};
        size_t lens[5];
        for (int k = 0; k < 5; k++)
            lens[k] = vals[k] ? strlen(vals[k]) : 0;
        rc = host->record_emit(run, vals, lens, ref);
    }
    return rc;
}

static int run_gen(cd_run *run)
{
    json_t *c = config(run);
    long long rows = json_integer_value(json_object_get(c, "rows"));
    long long seed = json_integer_value(json_object_get(c, "seed"));
    long long bad_every = json_integer_value(json_object_get(c, "bad_every"));
    long long derr_every = json_integer_value(json_object_get(c, "driver_error_every"));
    long long repeat_every = json_integer_value(json_object_get(c, "repeat_every"));
    const char *fail = json_string_value(json_object_get(c, "fail"));
    const char *pw = json_string_value(json_object_get(c, "password"));
    long long sleep_ms = json_integer_value(json_object_get(c, "sleep_ms"));
    const char *bank = json_string_value(json_object_get(c, "bank"));
    if (!bank)
        bank = "TESTBANK";
    const cd_run_info *info = host->run_info(run);
    if (fail && strcmp(fail, "config") == 0) {
        host->set_message(run, "the source refused our configuration");
        json_decref(c);
        return CD_ERR_CONFIG;
    }
    if (fail && strcmp(fail, "stderr_exit") == 0) {
        /* A driver that prints its secret itself and leaves the process. */
        fprintf(stderr, "giving up, password was %s\n", pw ? pw : "-");
        fflush(stderr);
        _exit(3);
    }
    if (fail && strcmp(fail, "exit0") == 0)
        exit(0); /* a driver that ends the process "successfully", settling nothing */
    if (pw) {
        host->log(run, CD_LOG_INFO, "connecting with password %s", pw);
        /* a detail is scrubbed like a log line, in values and keys alike */
        json_t *d = json_pack("{s:s, s:[s], s:i}", "url", "", "tokens", pw, pw, 1);
        size_t n = strlen(pw) + 40;
        char *url = malloc(n);
        if (url) {
            snprintf(url, n, "https://source.example/x?key=%s", pw);
            json_object_set_new(d, "url", json_string(url));
            free(url);
        }
        char *t = json_dumps(d, JSON_COMPACT);
        host->set_detail(run, "request", t);
        free(t);
        json_decref(d);
    }
    long long signed_mode = json_integer_value(json_object_get(c, "signed"));
    if (signed_mode) {
        int src = run_signed(run, signed_mode, bank);
        json_decref(c);
        return src;
    }
    const char *tag = json_string_value(json_object_get(c, "log_tag"));
    if (tag)
        host->log(run, CD_LOG_INFO, "tag %s", tag);
    long long log_lines = json_integer_value(json_object_get(c, "log_lines"));
    for (long long i = 0; i < log_lines; i++)
        host->log(run, CD_LOG_INFO, "chatter %06lld", i);
    static const char *const cols[] = {"bank_ref", "bank_name", "amount", "transaction_date",
                                       "utr", "remarks"};
    int rc = host->records_begin(run, cols, 6);
    if (rc != CD_OK) {
        json_decref(c);
        return rc;
    }
    char ref[64], amount[64], utr[32], remarks[64], row_ref[64];
    for (long long i = 0; i < rows; i++) {
        if (derr_every > 0 && i % derr_every == derr_every - 1) {
            snprintf(row_ref, sizeof row_ref, "line %lld", i + 1);
            host->record_error(run, row_ref, "unreadable line", "garbage\x01\xff", 9);
            continue;
        }
        unsigned long long x = (unsigned long long)(i + 1) * 2654435761u + (unsigned long long)seed;
        /* "repeat_every": K: every K-th record repeats the key before it */
        snprintf(ref, sizeof ref, "REF%010lld",
                 repeat_every > 0 && i > 0 && i % repeat_every == repeat_every - 1 ? i - 1 : i);
        if (bad_every > 0 && i % bad_every == bad_every - 1)
            snprintf(amount, sizeof amount, "12.3x4");
        else
            snprintf(amount, sizeof amount, "%llu.%02llu", x % 100000, x % 100);
        snprintf(utr, sizeof utr, "UTR%llu", x % 1000000007ull);
        snprintf(remarks, sizeof remarks, "gen seed %lld\tline %lld", seed, i);
        const char *vals[] = {ref, bank, amount, info->run_date, utr, remarks};
        size_t lens[6];
        for (int k = 0; k < 6; k++)
            lens[k] = strlen(vals[k]);
        snprintf(row_ref, sizeof row_ref, "line %lld", i + 1);
        rc = host->record_emit(run, vals, lens, row_ref);
        if (rc != CD_OK) {
            json_decref(c);
            return rc;
        }
        if ((i & 0xffff) == 0)
            host->progress(run, (uint64_t)i, (uint64_t)rows);
        if (sleep_ms > 0) {
            struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            if (host->is_cancelled(run)) {
                json_decref(c);
                return CD_CANCELLED;
            }
        }
    }
    host->set_detail(run, "files", "[\"generated.csv\"]");
    rc = CD_OK;
    /* "fail_once_on": a date whose first attempt fails, transient */
    const char *once = json_string_value(json_object_get(c, "fail_once_on"));
    if (once && strcmp(once, info->run_date) == 0 && info->attempt == 1) {
        host->set_message(run, "the source was not ready for %s", once);
        rc = CD_ERR_TRANSIENT;
    } else if (fail && strcmp(fail, "transient") == 0) {
        host->set_message(run, "source went away after %lld rows", rows);
        rc = CD_ERR_TRANSIENT;
    } else if (fail && strcmp(fail, "permanent") == 0) {
        host->set_message(run, "source sent garbage");
        rc = CD_ERR_PERMANENT;
    }
    json_decref(c);
    return rc;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    host = h;
    cb->describe_config = schema;
    cb->test = test;
    cb->validate = validate;
    cb->run = run_gen;
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("test_gen", "1.0.0", "connectord tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "generates bank statement rows");
CONNECTORD_DRIVER(magic, init)
