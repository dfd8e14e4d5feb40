/*
 * pg_api.c — the built-in PG_API driver: SabPaisa's transaction report API.
 *
 * For every merchant code of the connector it requests
 *     GET {api_base_url}/{from}/{to}/{client_code}
 * for the run's window and streams the JSON array it answers through yajl,
 * so a day of a million transactions never sits in memory and amounts keep
 * the exact digits the gateway sent (yajl hands over a number's text;
 * a double would turn 10.10 into 10.0999...). Each array item becomes one
 * sp_v2_transactions record.
 *
 * Outcomes map to the scheduler's codes: 401/403 -> CD_ERR_CONFIG (fix the
 * credentials or the whitelist), 429/5xx/timeouts/unreachable ->
 * CD_ERR_TRANSIENT (a Retry-After is put in the run's details for the
 * scheduler), a body that is not the expected JSON -> CD_ERR_PERMANENT
 * with the byte offset where it broke.
 *
 * Invalid UTF-8 inside a string is NOT a parse error here: yajl's string
 * validation is off, the bytes reach the host unchanged, and the host's
 * record validation rejects that one record ("utr: ... is not valid
 * UTF-8") while the rest of the day loads. We never "repair" the bytes:
 * a transaction id or UTR altered by a replacement character would load
 * but never match the bank side, which is worse than a visible record
 * error. Invalid bytes in keys or in fields we do not map are ignored.
 */
#include <connectord/plugin.h>

#include "cdc.h"
#include "cdc_surrogates.h"
#include "pg_api_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yajl/yajl_parse.h>

static const cd_host_api *hostapi;

static const cd_driver_magic pg_api_magic = CD_DRIVER_MAGIC_INIT(
    "pg_api", "1.0.0", "connectord", CD_CATEGORY_PG_API, CD_DATASET_PG_TRANSACTION,
    "SabPaisa transaction report API (GET /from/to/client_code, JSON array)");

/* A secret field: the plain value, or a reference the host resolves. */
#define SECRET_SCHEMA(desc)                                                             \
    "{\"description\": \"" desc "\", \"writeOnly\": true, \"oneOf\": ["               \
    "{\"type\": \"string\", \"minLength\": 1},"                                        \
    "{\"type\": \"object\", \"required\": [\"secret\"], \"additionalProperties\": false," \
    "\"properties\": {\"secret\": {\"type\": \"string\","                              \
    "\"pattern\": \"^(env|file|cred):.+\"}}}]}"

static const char pg_api_schema[] =
    "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
    "\"title\": \"SabPaisa report API connection\","
    "\"type\": \"object\","
    "\"required\": [\"api_base_url\", \"merchant_codes\"],"
    "\"additionalProperties\": false,"
    "\"properties\": {"
    "\"api_base_url\": {\"type\": \"string\", \"pattern\": \"^https?://[^\\\\s]+$\","
    "\"description\": \"Report API root; requests go to {api_base_url}/{from}/{to}/{client_code}\"},"
    "\"authentication_type\": {\"enum\": [\"IP_WHITELIST\", \"BEARER\", \"API_KEY\", \"BASIC\"],"
    "\"default\": \"IP_WHITELIST\"},"
    "\"merchant_codes\": {\"type\": \"array\", \"minItems\": 1,"
    "\"items\": {\"type\": \"string\", \"minLength\": 1},"
    "\"description\": \"[\\\"ALL\\\"] or a list of client codes\"},"
    "\"timeout_seconds\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3600},"
    "\"date_format\": {\"type\": \"string\", \"minLength\": 2, \"default\": \"YYYY-MM-DD\","
    "\"description\": \"How dates appear in the URL: tokens YYYY, YY, MM, DD\"},"
    "\"bearer_token\": " SECRET_SCHEMA("Token for authentication_type BEARER") ","
    "\"api_key\": " SECRET_SCHEMA("Key for authentication_type API_KEY") ","
    "\"api_key_header\": {\"type\": \"string\", \"default\": \"X-API-Key\","
    "\"pattern\": \"^[A-Za-z0-9-]+$\"},"
    "\"username\": {\"type\": \"string\"},"
    "\"password\": " SECRET_SCHEMA("Password for authentication_type BASIC")
    "}}";

static const char *describe_config(void)
{
    return pg_api_schema;
}

/* The connector's settings, pointing into `root`. */
typedef struct sp_config {
    json_t *root;
    const char *base_url;
    const char *auth;
    json_t *codes;
    long timeout_s;
    const char *date_format;
    const char *bearer, *api_key, *api_key_header, *username, *password;
} sp_config;

/* 1 if s contains a byte that would end or split an HTTP header line. */
static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* 1 if a date_format has a day, a month and a year token, read as
 * cdc_format_date reads it (YYYY before YY, left to right). Looking for
 * "31" and "12" in a formatted 2025-12-31 let "DD-MM" or "MMDD" through:
 * a URL without the year. */
static int date_format_complete(const char *fmt)
{
    int day = 0, month = 0, year = 0;
    for (const char *p = fmt; *p;) {
        if (strncmp(p, "YYYY", 4) == 0)
            year = 1, p += 4;
        else if (strncmp(p, "YY", 2) == 0)
            year = 1, p += 2;
        else if (strncmp(p, "MM", 2) == 0)
            month = 1, p += 2;
        else if (strncmp(p, "DD", 2) == 0)
            day = 1, p += 2;
        else
            p++;
    }
    return day && month && year;
}

/* 1 while validate() runs: config_error is meant for validation only, so
 * test() and run() report the same findings into the run's log. */
static int validating;

/* Reports one problem of connection_config at a JSON path. */
#define report(run, field, ...) cdc_report(hostapi, validating, (run), (field), __VA_ARGS__)

/* A problem found after connectors may have been stored with it: refused
 * when a connector is saved (returns 1), only a warning in the run's log
 * when a stored one runs (returns 0), so that a day still loads. */
static int refuse_on_save(cd_run *run, const char *field, const char *msg)
{
    if (validating) {
        report(run, field, "%s", msg ? msg : "is refused");
        return 1;
    }
    hostapi->log(run, CD_LOG_WARNING, "connection_config.%s: %s (refused when the connector "
                                      "is saved again)", field, msg ? msg : "is refused");
    return 0;
}

/* Checks one config, reporting each problem through report(). Returns the
 * number of problems. Secrets are checked for
 * presence only: during validate they are unresolved references. */
static int check_config(cd_run *run, const json_t *root)
{
    int bad = 0;
    json_t *v = json_object_get(root, "api_base_url");
    if (!v) {
        report(run, "api_base_url", "is required");
        bad++;
    } else if (!json_is_string(v)) {
        report(run, "api_base_url", "must be a string");
        bad++;
    } else {
        const char *url = json_string_value(v);
        char *h = NULL;
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
            report(run, "api_base_url", "must be an http:// or https:// URL");
            bad++;
        } else if (has_ctl(url) || strchr(url, ' ') || !(h = cdc_url_host(url)) || !*h) {
            report(run, "api_base_url", "is not a valid URL");
            bad++;
        } else if (strpbrk(url, "?#")) {
            /* /{from}/{to}/{code} is appended: after a query or a
             * fragment it would land in it, not in the path */
            bad += refuse_on_save(run, "api_base_url",
                                  "must not hold a query (?) or fragment (#): "
                                  "/{from}/{to}/{client_code} is appended to it");
        }
        free(h);
    }

    v = json_object_get(root, "merchant_codes");
    if (!v) {
        report(run, "merchant_codes", "is required ([\"ALL\"] for every merchant)");
        bad++;
    } else if (!json_is_array(v)) {
        report(run, "merchant_codes", "must be an array of client codes");
        bad++;
    } else if (json_array_size(v) == 0) {
        report(run, "merchant_codes", "must list at least one code or \"ALL\"");
        bad++;
    } else {
        size_t i;
        json_t *code;
        json_array_foreach(v, i, code) {
            char path[48];
            snprintf(path, sizeof path, "merchant_codes[%zu]", i);
            const char *s = json_string_value(code);
            if (!s || !*s) {
                report(run, path, "must be a non-empty string");
                bad++;
            } else if (has_ctl(s)) {
                report(run, path, "contains control characters");
                bad++;
            } else if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[strlen(s) - 1])) {
                /* " M1" is requested as %20M1, a code the gateway does not
                 * know: an empty answer every day, loaded as SUCCESS */
                bad += refuse_on_save(run, path, "has blanks around the code");
            } else if (strcmp(s, "ALL") == 0 && json_array_size(v) > 1) {
                report(run, path, "\"ALL\" cannot be combined with other codes");
                bad++;
            } else {
                /* the same code twice fetches and loads its day twice */
                for (size_t j = 0; j < i; j++) {
                    const char *t = json_string_value(json_array_get(v, j));
                    if (t && strcmp(s, t) == 0) {
                        char *msg = cdc_printf("\"%s\" is listed twice", s);
                        bad += refuse_on_save(run, path, msg);
                        free(msg);
                        break;
                    }
                }
            }
        }
    }

    const char *auth = cdc_json_str(root, "authentication_type", "IP_WHITELIST");
    v = json_object_get(root, "authentication_type");
    if (v && !json_is_string(v)) {
        report(run, "authentication_type", "must be a string");
        bad++;
    } else if (strcmp(auth, "IP_WHITELIST") == 0) {
        /* nothing to check: the gateway trusts our egress address */
    } else if (strcmp(auth, "BEARER") == 0) {
        if (!cdc_secret_present(root, "bearer_token")) {
            report(run, "bearer_token", "is required for authentication_type BEARER");
            bad++;
        }
    } else if (strcmp(auth, "API_KEY") == 0) {
        if (!cdc_secret_present(root, "api_key")) {
            report(run, "api_key", "is required for authentication_type API_KEY");
            bad++;
        }
        const char *hdr = cdc_json_str(root, "api_key_header", "X-API-Key");
        int ok = *hdr != '\0';
        for (const char *p = hdr; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-')
                ok = 0;
        if (!ok) {
            report(run, "api_key_header", "must be a header name (letters, digits, -)");
            bad++;
        }
    } else if (strcmp(auth, "BASIC") == 0) {
        const char *u = cdc_json_str(root, "username", NULL);
        if (!u || !*u) {
            report(run, "username", "is required for authentication_type BASIC");
            bad++;
        }
        if (!cdc_secret_present(root, "password")) {
            report(run, "password", "is required for authentication_type BASIC");
            bad++;
        }
    } else {
        report(run, "authentication_type",
                           "must be IP_WHITELIST, BEARER, API_KEY or BASIC, not \"%s\"", auth);
        bad++;
    }
    bad += cdc_check_secret_shape(hostapi, run, root, "bearer_token", "bearer_token");
    bad += cdc_check_secret_shape(hostapi, run, root, "api_key", "api_key");
    bad += cdc_check_secret_shape(hostapi, run, root, "password", "password");

    static const struct {
        const char *key;
        long long min, max;
    } ints[] = {{"timeout_seconds", 1, 3600}};
    /* sync_days_back, auto_retry and retry_count are the service's run
     * policy (core/run_policy.c), checked by its schema on save; a
     * connector stored under older bounds still runs. */
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        v = json_object_get(root, ints[i].key);
        if (v && (!json_is_integer(v) || json_integer_value(v) < ints[i].min ||
                  json_integer_value(v) > ints[i].max)) {
            report(run, ints[i].key, "must be an integer from %lld to %lld",
                               ints[i].min, ints[i].max);
            bad++;
        }
    }
    v = json_object_get(root, "date_format");
    if (v) {
        const char *fmt = json_string_value(v);
        char *probe = fmt ? cdc_format_date(fmt, "2025-12-31") : NULL;
        if (!fmt || !probe || !strstr(probe, "31") || !strstr(probe, "12") || has_ctl(fmt)) {
            report(run, "date_format",
                               "must contain the day (DD), month (MM) and year (YYYY or YY)");
            bad++;
        } else if (!date_format_complete(fmt)) {
            bad += refuse_on_save(run, "date_format",
                                  "must contain the day (DD), month (MM) and year (YYYY or YY)");
        }
        free(probe);
    }
    return bad;
}

static int validate(cd_run *run)
{
    return cdc_validate_with(hostapi, run, &validating, check_config);
}

/* Loads the resolved config for test/run. On a problem sets the message
 * and returns CD_ERR_CONFIG; the caller frees cfg->root either way. */
static int load_config(cd_run *run, sp_config *cfg)
{
    json_error_t err;
    memset(cfg, 0, sizeof *cfg);
    cfg->root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!cfg->root) {
        hostapi->set_message(run, "connection_config is not valid JSON: %s", err.text);
        return CD_ERR_CONFIG;
    }
    /* Reuse validate's rules; config_error lands in the run's log too. */
    if (check_config(run, cfg->root) > 0) {
        hostapi->set_message(run, "connection_config is invalid (see the run's log)");
        return CD_ERR_CONFIG;
    }
    cfg->base_url = cdc_json_str(cfg->root, "api_base_url", NULL);
    cfg->auth = cdc_json_str(cfg->root, "authentication_type", "IP_WHITELIST");
    cfg->codes = json_object_get(cfg->root, "merchant_codes");
    cfg->timeout_s = (long)cdc_json_int(cfg->root, "timeout_seconds", 0);
    cfg->date_format = cdc_json_str(cfg->root, "date_format", "YYYY-MM-DD");
    cfg->bearer = cdc_secret_str(cfg->root, "bearer_token");
    cfg->api_key = cdc_secret_str(cfg->root, "api_key");
    cfg->api_key_header = cdc_json_str(cfg->root, "api_key_header", "X-API-Key");
    cfg->username = cdc_json_str(cfg->root, "username", NULL);
    cfg->password = cdc_secret_str(cfg->root, "password");
    const char *missing = NULL;
    if (strcmp(cfg->auth, "BEARER") == 0 && !cfg->bearer)
        missing = "bearer_token";
    else if (strcmp(cfg->auth, "API_KEY") == 0 && !cfg->api_key)
        missing = "api_key";
    else if (strcmp(cfg->auth, "BASIC") == 0 && !cfg->password)
        missing = "password";
    if (missing) {
        hostapi->set_message(run, "%s was not resolved to a value", missing);
        return CD_ERR_CONFIG;
    }
    if ((cfg->bearer && has_ctl(cfg->bearer)) || (cfg->api_key && has_ctl(cfg->api_key))) {
        hostapi->set_message(run, "credential contains control characters");
        return CD_ERR_CONFIG;
    }
    return CD_OK;
}

/* ------------------------------------------------------------------ */
/* Streaming parse of the report array.                                */
/* ------------------------------------------------------------------ */

/* Item fields the mapping reads. */
enum {
    F_TRANSACTION_ID, F_TXN_ID, F_CLIENT_CODE, F_PAYEE_AMOUNT, F_PAID_AMOUNT, F_TRANS_DATE,
    F_TRANS_COMPLETE_DATE, F_PAYMENT_MODE, F_PG_PAY_MODE, F_UTR, F_RRN, F_APPROVAL_CODE,
    F_TRANSACTION_STATUS, F_PG_NAME, F_SETTLEMENT_AMOUNT, F_CLIENT_NAME, F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "transaction_id", "txn_id", "client_code", "payee_amount", "paid_amount", "trans_date",
    "trans_complete_date", "payment_mode", "pg_pay_mode", "utr", "rrn", "approval_code",
    "transaction_status", "pg_name", "settlement_amount", "client_name"};

/* Output columns, in the order values[] is filled. */
enum {
    C_ID, C_MERCHANT, C_AMOUNT, C_DATE, C_TS, C_METHOD, C_UTR, C_RRN, C_GWREF, C_STATUS,
    C_SOURCE_NAME, C_SOURCE_TYPE, C_SETTLEMENT, C_MERCHANT_NAME, C_COUNT
};
static const char *const columns[C_COUNT] = {
    "transaction_id", "merchant_id", "amount", "transaction_date", "transaction_timestamp",
    "payment_method", "utr", "rrn", "gateway_ref", "status", "source_name", "source_type",
    "settlement_amount", "merchant_name"};

typedef struct sp_parse {
    cd_run *run;
    int emit;             /* 0 in test(): count items only */
    const char *merchant; /* the requested client code */
    int depth;            /* 0 outside, 1 in the top array, 2 in an item, more: nested */
    int saw_array;
    int item_is_object;
    int key;              /* field index of the current key at depth 2, or -1 */
    char *vals[F_COUNT];
    int nul_field;        /* a field of the item whose value held \u0000, or -1 */
    int lone_field;       /* a field of the item whose value held a lone surrogate, or -1 */
    int lone_pending;     /* the string being read holds a lone surrogate escape */
    yajl_handle yajl;     /* the parser feeding this, while it does */
    uint64_t fed;         /* body bytes fed to yajl before its current call */
    uint64_t event_end;   /* body bytes up to the end of the last token seen */
    uint64_t items;       /* items seen in this response */
    uint64_t emitted;     /* records handed to the host, all responses */
    uint64_t rejected;
    int rc;               /* CD_OK, or why the parse was stopped */
    char *message;        /* malloc'd reason when rc != CD_OK */
} sp_parse;

/* Stops the parse with rc and a message (first reason wins). */
static int parse_stop(sp_parse *p, int rc, char *message)
{
    if (p->rc == CD_OK) {
        p->rc = rc;
        p->message = message;
    } else {
        free(message);
    }
    return 0;
}

static void clear_item(sp_parse *p)
{
    for (int i = 0; i < F_COUNT; i++) {
        free(p->vals[i]);
        p->vals[i] = NULL;
    }
    p->nul_field = -1;
    p->lone_field = -1;
}

/* A callback came: its token ends where yajl has read to in this call. */
static void note_event(sp_parse *p)
{
    p->event_end = p->fed + (p->yajl ? yajl_get_bytes_consumed(p->yajl) : 0);
}

/* Stores a scalar of the current item under the current key. */
static int put_value(sp_parse *p, const char *s, size_t len)
{
    if (p->depth != 2 || !p->item_is_object || p->key < 0)
        return 1;
    char *copy = malloc(len + 1);
    if (!copy)
        return parse_stop(p, CD_ERR_TRANSIENT, cdc_printf("out of memory"));
    memcpy(copy, s, len);
    copy[len] = '\0';
    /* JSON may spell a NUL (\u0000); kept as a C string the value would
     * end there, an id or amount cut short and loaded as if whole. */
    if (memchr(s, '\0', len) && p->nul_field < 0)
        p->nul_field = p->key;
    free(p->vals[p->key]);
    p->vals[p->key] = copy;
    p->key = -1;
    return 1;
}

/* A scalar directly inside the top array is an item that is no object. */
static int scalar_item(sp_parse *p)
{
    if (p->depth == 1) {
        p->items++;
        if (p->emit) {
            char ref[96];
            snprintf(ref, sizeof ref, "merchant %.40s item %llu", p->merchant,
                     (unsigned long long)p->items);
            hostapi->record_error(p->run, ref, "item is not a JSON object", NULL, 0);
            p->rejected++;
        }
    }
    return 1;
}

static int on_null(void *ctx)
{
    sp_parse *p = ctx;
    note_event(p);
    if (p->depth == 2)
        p->key = -1; /* null means "no value" */
    return scalar_item(p);
}

static int on_boolean(void *ctx, int b)
{
    sp_parse *p = ctx;
    note_event(p);
    scalar_item(p);
    return put_value(p, b ? "true" : "false", b ? 4 : 5);
}

static int on_number(void *ctx, const char *s, size_t len)
{
    sp_parse *p = ctx;
    note_event(p);
    scalar_item(p);
    return put_value(p, s, len);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    sp_parse *p = ctx;
    note_event(p);
    int lone = p->lone_pending;
    p->lone_pending = 0;
    scalar_item(p);
    if (lone && p->depth == 2 && p->item_is_object && p->key >= 0 && p->lone_field < 0)
        p->lone_field = p->key;
    return put_value(p, (const char *)s, len);
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    sp_parse *p = ctx;
    note_event(p);
    p->lone_pending = 0;
    if (p->depth != 2)
        return 1;
    p->key = -1;
    for (int i = 0; i < F_COUNT; i++)
        if (strlen(field_names[i]) == len && memcmp(field_names[i], s, len) == 0)
            p->key = i;
    return 1;
}

/* Deepest nesting of arrays and objects a report may have: it needs three
 * levels. yajl keeps a byte per open level and has no limit of its own,
 * so a body of nothing but '[' (a broken or hostile gateway) took a byte
 * of memory for every byte received: 300 MB of it, 317 MB of the runner,
 * and seconds of CPU regrowing yajl's stack 128 levels at a time. */
#define MAX_JSON_DEPTH 512

/* A container opens: 1, or 0 (the parse stopped) past MAX_JSON_DEPTH. */
static int open_level(sp_parse *p)
{
    if (p->depth >= MAX_JSON_DEPTH)
        return parse_stop(p, CD_ERR_PERMANENT,
                          cdc_printf("the report API for merchant %s nests arrays or objects "
                                     "deeper than %d levels (at byte %llu); not a report",
                                     p->merchant, MAX_JSON_DEPTH,
                                     (unsigned long long)p->event_end));
    return 1;
}

static int on_start_array(void *ctx)
{
    sp_parse *p = ctx;
    note_event(p);
    if (!open_level(p))
        return 0;
    if (p->depth == 0)
        p->saw_array = 1;
    else if (p->depth == 1)
        p->item_is_object = 0;
    p->depth++;
    return 1;
}

static int on_start_map(void *ctx)
{
    sp_parse *p = ctx;
    note_event(p);
    if (!open_level(p))
        return 0;
    if (p->depth == 0)
        return parse_stop(p, CD_ERR_PERMANENT,
                          cdc_printf("the report API answered a JSON object, expected an array "
                                     "of transactions"));
    if (p->depth == 1) {
        p->item_is_object = 1;
        p->key = -1;
        clear_item(p);
    }
    p->depth++;
    return 1;
}

/* Trimmed, upper-cased copy of s (NULL stays NULL). */
static char *normalize_code(const char *s)
{
    if (!s)
        return NULL;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[n] = '\0';
    return out;
}

/* Trims blanks around an amount so " 10.10" still reads as rupees. */
static const char *trim_amount(const char *s, size_t *len)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *len = n;
    return s;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Splits a gateway date-time into an ISO date (out_date, 11 bytes) and, when
 * it has a time, an ISO timestamp (malloc'd *out_ts; NULL for a bare date).
 * Accepts "YYYY-MM-DD[ T]HH:MM[:SS[.f]][zone]" and "DD-MM-YYYY[ HH:MM[:SS]]"
 * (also with '/'). Returns 0, or -1 if the text is no such date. */
static int split_datetime(const char *s, char out_date[11], char **out_ts)
{
    *out_ts = NULL;
    size_t n = strlen(s);
    if (n < 10)
        return -1;
    const char *rest;
    if (all_digits(s, 4) && (s[4] == '-' || s[4] == '/') && all_digits(s + 5, 2) &&
        s[7] == s[4] && all_digits(s + 8, 2)) {
        snprintf(out_date, 11, "%.4s-%.2s-%.2s", s, s + 5, s + 8);
    } else if (all_digits(s, 2) && (s[2] == '-' || s[2] == '/') && all_digits(s + 3, 2) &&
               s[5] == s[2] && all_digits(s + 6, 4)) {
        snprintf(out_date, 11, "%.4s-%.2s-%.2s", s + 6, s + 3, s);
    } else {
        return -1;
    }
    if (!cdc_is_iso_date(out_date))
        return -1;
    rest = s + 10;
    if (*rest == '\0')
        return 0;
    if (*rest != ' ' && *rest != 'T')
        return -1;
    rest++;
    if (strlen(rest) < 5 || !all_digits(rest, 2) || rest[2] != ':' || !all_digits(rest + 3, 2))
        return -1;
    for (const char *c = rest; *c; c++)
        if (!isdigit((unsigned char)*c) && !strchr(":.+-Z", *c))
            return -1;
    *out_ts = cdc_printf("%sT%s", out_date, rest);
    return *out_ts ? 0 : -1;
}

/* The first of a and b that holds more than blanks, else NULL (reported
 * as missing): the gateway sends "transaction_id": "" next to a real
 * txn_id. */
static const char *first_present(const char *a, const char *b)
{
    for (const char *c = a; c && *c; c++)
        if (!isspace((unsigned char)*c))
            return a;
    for (const char *c = b; c && *c; c++)
        if (!isspace((unsigned char)*c))
            return b;
    return NULL;
}

/* Maps a finished item to a record, or reports why it cannot. */
static int finish_item(sp_parse *p)
{
    char ref[96];
    p->items++;
    snprintf(ref, sizeof ref, "merchant %.40s item %llu", p->merchant,
             (unsigned long long)p->items);
    if (!p->emit) {
        clear_item(p);
        return 1;
    }
    if (hostapi->is_cancelled(p->run))
        return parse_stop(p, CD_CANCELLED, cdc_printf("cancelled"));

    const char *const *v = (const char *const *)p->vals;
    const char *id = first_present(v[F_TRANSACTION_ID], v[F_TXN_ID]);
    const char *amount = first_present(v[F_PAYEE_AMOUNT], v[F_PAID_AMOUNT]);
    const char *when = first_present(v[F_TRANS_DATE], v[F_TRANS_COMPLETE_DATE]);
    const char *problem = NULL;
    char date[11] = "";
    char *ts = NULL, *merchant = NULL;

    char *nul_problem = p->nul_field >= 0
                            ? cdc_printf("%s holds a NUL character (\\u0000)",
                                         field_names[p->nul_field])
                            : NULL;
    char *lone_problem = p->lone_field >= 0
                             ? cdc_printf("%s holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF "
                                          "escape without its pair)",
                                          field_names[p->lone_field])
                             : NULL;
    if (p->nul_field >= 0)
        problem = nul_problem ? nul_problem : "a field holds a NUL character";
    else if (p->lone_field >= 0)
        problem = lone_problem ? lone_problem : "a field holds a lone UTF-16 surrogate";
    else if (!id || !*id)
        problem = "item has no transaction_id or txn_id";
    else if (!amount)
        problem = "item has no payee_amount or paid_amount";
    else if (!when)
        problem = "item has no trans_date or trans_complete_date";
    else if (split_datetime(when, date, &ts) != 0)
        problem = "trans_date is not \"YYYY-MM-DD HH:MM:SS\" or \"DD-MM-YYYY\"";
    /* A timestamp with its own offset ("...T20:00:00Z") belongs to the
     * connector's local day of that instant, not to the day in its text. */
    int64_t instant;
    if (!problem && ts && cdc_timestamp_instant(ts, &instant) &&
        CD_HOST_HAS(hostapi, local_date) && hostapi->local_date &&
        hostapi->local_date(p->run, instant, date) != CD_OK)
        problem = "trans_date is outside the calendar";
    if (!problem) {
        /* A blank client_code is as good as absent, as the README's
         * table says of every field: the requested code stands in. */
        const char *code = first_present(v[F_CLIENT_CODE], NULL);
        if (!code && strcmp(p->merchant, "ALL") != 0)
            code = p->merchant;
        merchant = normalize_code(code);
        if (!merchant || !*merchant)
            problem = "item has no client_code";
    }
    if (problem) {
        char *reason = cdc_printf("%s%s%s", problem, id && *id ? " (transaction " : "",
                                  id && *id ? id : "");
        if (reason && id && *id) {
            char *r2 = cdc_printf("%s)", reason);
            free(reason);
            reason = r2;
        }
        hostapi->record_error(p->run, ref, reason ? reason : problem, NULL, 0);
        free(reason);
        free(nul_problem);
        free(lone_problem);
        free(ts);
        free(merchant);
        p->rejected++;
        clear_item(p);
        return 1;
    }

    const char *values[C_COUNT];
    size_t lengths[C_COUNT];
    size_t alen = 0, slen = 0;
    const char *a = trim_amount(amount, &alen);
    const char *settle = v[F_SETTLEMENT_AMOUNT] ? trim_amount(v[F_SETTLEMENT_AMOUNT], &slen) : NULL;
    values[C_ID] = id;
    values[C_MERCHANT] = merchant;
    values[C_AMOUNT] = a;
    values[C_DATE] = date;
    values[C_TS] = ts;
    /* "payment_mode": "" next to a real pg_pay_mode, or "pg_name": "" would
     * otherwise load as no payment method / no source name. */
    values[C_METHOD] = first_present(v[F_PAYMENT_MODE], v[F_PG_PAY_MODE]);
    values[C_UTR] = v[F_UTR];
    values[C_RRN] = v[F_RRN];
    values[C_GWREF] = v[F_APPROVAL_CODE];
    values[C_STATUS] = v[F_TRANSACTION_STATUS];
    values[C_SOURCE_NAME] = first_present(v[F_PG_NAME], hostapi->run_info(p->run)->source_entity);
    values[C_SOURCE_TYPE] = "CONNECTOR";
    values[C_SETTLEMENT] = settle;
    values[C_MERCHANT_NAME] = v[F_CLIENT_NAME];
    for (int i = 0; i < C_COUNT; i++)
        lengths[i] = values[i] ? strlen(values[i]) : 0;
    lengths[C_AMOUNT] = alen;
    lengths[C_SETTLEMENT] = slen;

    int rc = hostapi->record_emit(p->run, values, lengths, ref);
    free(ts);
    free(merchant);
    clear_item(p);
    if (rc != CD_OK)
        return parse_stop(p, rc, cdc_printf("the host stopped taking records (code %d)", rc));
    p->emitted++;
    if (p->emitted % 1000 == 0)
        hostapi->progress(p->run, p->emitted, 0);
    return 1;
}

static int on_end_map(void *ctx)
{
    sp_parse *p = ctx;
    note_event(p);
    p->depth--;
    if (p->depth == 1)
        return finish_item(p);
    return 1;
}

static int on_end_array(void *ctx)
{
    sp_parse *p = ctx;
    note_event(p);
    p->depth--;
    if (p->depth == 1 && !p->item_is_object) {
        p->item_is_object = 1;
        p->depth = 1;
        return scalar_item(p); /* an array as an item: same as a scalar */
    }
    return 1;
}

static const yajl_callbacks sp_callbacks = {
    on_null, on_boolean, NULL, NULL, on_number, on_string,
    on_start_map, on_map_key, on_end_map, on_start_array, on_end_array};

/* ------------------------------------------------------------------ */
/* One request.                                                        */
/* ------------------------------------------------------------------ */

typedef struct sp_request {
    cdc_xfer x;
    sp_parse *parse;
    yajl_handle yajl;
    uint64_t offset;   /* body bytes fed to yajl so far (a skipped BOM counted) */
    cdc_buf hold;      /* bytes held back while one long value goes on */
    cdc_buf errbody;   /* first bytes of a non-2xx body, for the log */
    char *content_type; /* of the final response, malloc'd */
    int bom;            /* bytes of a leading UTF-8 BOM matched; -1: past it */
    cdc_surrogate_scan sc; /* lone surrogate escapes in the bytes fed */
} sp_request;

/* Keeps the final response's Content-Type, then the common header work
 * (status, reason, Retry-After). */
static size_t header_cb(char *line, size_t size, size_t nitems, void *userdata)
{
    sp_request *r = userdata;
    size_t len = size * nitems;
    if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
        free(r->content_type);
        r->content_type = NULL;
    } else if (len > 13 && strncasecmp(line, "Content-Type:", 13) == 0) {
        free(r->content_type);
        r->content_type = cdc_header_value(line, len, 13);
    }
    return cdc_xfer_header(line, size, nitems, &r->x);
}

/* No field of a report item comes near this. An endless value (a broken or
 * hostile server) would otherwise be read, and held, until the request
 * timeout. Counted from the end of the last token yajl handed over. */
#define MAX_VALUE_BYTES (1024 * 1024)

/* Records where and why yajl refused the body. */
static void note_parse_error(sp_request *r, const unsigned char *chunk, size_t len)
{
    if (cdc_markup_type(r->content_type)) {
        /* A WAF's challenge or a maintenance page with status 200 is no
         * malformed report: it passes, so it is retried like a 503. */
        parse_stop(r->parse, CD_ERR_TRANSIENT,
                   cdc_printf("the report API for merchant %s answered %s where JSON was "
                              "expected (an error or maintenance page?)",
                              r->parse->merchant, r->content_type));
        return;
    }
    size_t at = yajl_get_bytes_consumed(r->yajl);
    unsigned char *e = yajl_get_error(r->yajl, 0, chunk, len);
    char *msg = cdc_printf("malformed JSON from the report API for merchant %s at byte %llu: %s",
                           r->parse->merchant, (unsigned long long)(r->offset + at),
                           e ? (const char *)e : "parse error");
    if (e)
        yajl_free_error(r->yajl, e);
    /* trailing newline of yajl's message is noise in a one-line error */
    if (msg) {
        size_t n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = '\0';
    }
    parse_stop(r->parse, CD_ERR_PERMANENT, msg);
}

/* Bytes fed since the last token yajl handed over ended: how far the value
 * being read has run. */
static uint64_t running(const sp_request *r)
{
    return r->offset - r->parse->event_end;
}

/* Feeds yajl n bytes that a scan has seen. 0 or -1 as feed_yajl. */
static int push_yajl(sp_request *r, const unsigned char *d, size_t n)
{
    if (n == 0)
        return 0;
    r->parse->yajl = r->yajl;
    r->parse->fed = r->offset;
    yajl_status st = yajl_parse(r->yajl, d, n);
    if (st == yajl_status_error) {
        note_parse_error(r, d, n);
        return -1;
    }
    if (st != yajl_status_ok)
        return -1; /* a callback stopped it */
    r->offset += n;
    return 0;
}

/* Feeds yajl n bytes: 0, or -1 once the parse has stopped (the parse's rc
 * and message say why). A string found to hold a lone surrogate is fed up
 * to the byte that shows it (the string still open), then marked, so that
 * its own callback is the one that sees the mark. */
static int feed_yajl(sp_request *r, const unsigned char *d, size_t n)
{
    size_t done = 0;
    for (size_t i = 0; i < n;) {
        size_t k = i + cdc_surrogate_scan_next(&r->sc, d + i, n - i);
        if (k == n)
            break;
        if (push_yajl(r, d + done, k - done) != 0)
            return -1;
        done = k;
        r->parse->lone_pending = 1;
        i = k + 1;
    }
    return push_yajl(r, d + done, n - done);
}

/* Feeds n bytes in steps that stop where one value would run past
 * MAX_VALUE_BYTES, refusing the body there. 0 or -1 as feed_yajl. */
static int feed_capped(sp_request *r, const unsigned char *d, size_t n)
{
    while (n > 0) {
        size_t step = n;
        if (running(r) + step > (uint64_t)MAX_VALUE_BYTES + 1)
            step = (size_t)((uint64_t)MAX_VALUE_BYTES + 1 - running(r));
        if (feed_yajl(r, d, step) != 0)
            return -1;
        if (running(r) > MAX_VALUE_BYTES) {
            parse_stop(r->parse, CD_ERR_PERMANENT,
                       cdc_printf("the report API for merchant %s sent over %d bytes without "
                                  "ending a JSON value (at byte %llu)",
                                  r->parse->merchant, MAX_VALUE_BYTES,
                                  (unsigned long long)r->offset));
            return -1;
        }
        d += step;
        n -= step;
    }
    return 0;
}

/* Feeds the held bytes, if any. 0 or -1 as feed_yajl. */
static int feed_held(sp_request *r)
{
    if (r->hold.len == 0)
        return 0;
    int rc = feed_capped(r, (const unsigned char *)r->hold.data, r->hold.len);
    r->hold.len = 0;
    if (r->hold.cap > 2 * MAX_VALUE_BYTES)
        cdc_buf_free(&r->hold);
    return rc;
}

/* Bytes past the byte-order mark. yajl lexes a value that spans chunks
 * again from its start with every chunk, so a 1 MiB value arriving in
 * curl's pieces (16 KiB, or a TCP segment's worth from a slow connection)
 * was read hundreds of times over: time quadratic in the value's length,
 * a core kept busy by a gateway sending many long values. Bytes are held
 * back until they are at least as many as the value has run (a bounded
 * number of reads of it), or until the value would run past
 * MAX_VALUE_BYTES, so the bytes held stay under that bound too. 0 or -1
 * as feed_yajl. */
static int take_bytes(sp_request *r, const unsigned char *d, size_t n)
{
    if (n == 0)
        return 0;
    if (r->hold.len == 0 && n >= running(r))
        return feed_capped(r, d, n);
    if (cdc_buf_append(&r->hold, d, n) != 0) {
        parse_stop(r->parse, CD_ERR_TRANSIENT, cdc_printf("out of memory"));
        return -1;
    }
    if (r->hold.len < running(r) && running(r) + r->hold.len <= MAX_VALUE_BYTES)
        return 0;
    return feed_held(r);
}

/* Feeds body bytes as they arrive. 0, or -1 once the parse has stopped. */
static int feed_body(sp_request *r, const unsigned char *data, size_t len)
{
    if (r->parse->rc != CD_OK)
        return -1;
    /* A UTF-8 byte-order mark before the array (some .NET and Windows
     * servers write one) is no JSON, but RFC 8259 lets a reader ignore
     * it: skipped, it does not fail every day at byte 1. */
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    size_t skip = 0;
    while (r->bom >= 0 && skip < len) {
        if (data[skip] == bom[r->bom]) {
            skip++;
            if (++r->bom == 3) {
                r->bom = -1;
                r->offset += 3;
            }
        } else {
            int held = r->bom;
            r->bom = -1;
            if (held > 0 && take_bytes(r, bom, (size_t)held) != 0)
                return -1;
        }
    }
    return take_bytes(r, data + skip, len - skip);
}

/* The body ended: feeds what is held (a partial BOM too). 0 or -1. */
static int feed_end(sp_request *r)
{
    if (r->parse->rc != CD_OK)
        return -1;
    if (r->bom > 0) {
        int held = r->bom;
        r->bom = -1;
        if (take_bytes(r, (const unsigned char *)"\xEF\xBB\xBF", (size_t)held) != 0)
            return -1;
    }
    return feed_held(r);
}

static size_t body_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    sp_request *r = userdata;
    size_t len = size * nmemb;
    if (!cdc_http_data_status(r->x.status)) {
        if (r->errbody.len < 512)
            cdc_buf_append(&r->errbody, data, len < 512 ? len : 512);
        return len;
    }
    return feed_body(r, (const unsigned char *)data, len) == 0 ? len : 0;
}

/* The URL for one merchant and the window. Malloc'd; NULL on bad dates. */
static char *build_url(const sp_config *cfg, const cd_run_info *info, const char *code)
{
    char *from = cdc_format_date(cfg->date_format, info->window_from);
    char *to = cdc_format_date(cfg->date_format, info->window_to);
    char *esc = cdc_url_escape(code);
    char *efrom = from ? cdc_url_escape(from) : NULL;
    char *eto = to ? cdc_url_escape(to) : NULL;
    char *url = NULL;
    if (efrom && eto && esc) {
        size_t n = strlen(cfg->base_url);
        while (n > 0 && cfg->base_url[n - 1] == '/')
            n--;
        url = cdc_printf("%.*s/%s/%s/%s", (int)n, cfg->base_url, efrom, eto, esc);
    }
    free(from);
    free(to);
    free(esc);
    free(efrom);
    free(eto);
    return url;
}

/* GETs one merchant's window and feeds the body to the parser. Returns a
 * cd_status; on failure sets the run's message. *status_out gets the HTTP
 * status (0 if none). */
static int fetch(cd_run *run, const sp_config *cfg, const char *code, sp_parse *parse,
                 long *status_out, char **url_out)
{
    const cd_run_info *info = hostapi->run_info(run);
    sp_request r;
    memset(&r, 0, sizeof r);
    r.parse = parse;
    *status_out = 0;
    *url_out = NULL;

    char *url = build_url(cfg, info, code);
    char *hostname = cdc_url_host(cfg->base_url);
    const char *hn = hostname ? hostname : cfg->base_url;
    CURL *c = curl_easy_init();
    struct curl_slist *headers = NULL;
    char *auth_header = NULL;
    int rc = CD_OK;

    r.yajl = yajl_alloc(&sp_callbacks, NULL, parse);
    if (r.yajl)
        yajl_config(r.yajl, yajl_dont_validate_strings, 1); /* see the header comment */
    if (!url || !c || !r.yajl) {
        hostapi->set_message(run, url ? "out of memory" : "window dates cannot be formatted");
        rc = url ? CD_ERR_TRANSIENT : CD_ERR_CONFIG;
        goto out;
    }
    *url_out = strdup(url);

    int header_auth = strcmp(cfg->auth, "BEARER") == 0 || strcmp(cfg->auth, "API_KEY") == 0;
    if (strcmp(cfg->auth, "BEARER") == 0)
        auth_header = cdc_printf("Authorization: Bearer %s", cfg->bearer);
    else if (strcmp(cfg->auth, "API_KEY") == 0)
        auth_header = cdc_printf("%s: %s", cfg->api_key_header, cfg->api_key);
    if (cdc_header_add(&headers, "Accept: application/json") != 0 ||
        (header_auth && cdc_header_add(&headers, auth_header) != 0)) {
        hostapi->set_message(run, "out of memory building the request headers");
        rc = CD_ERR_TRANSIENT;
        goto out;
    }

    int basic = strcmp(cfg->auth, "BASIC") == 0;
    cdc_request req = {.url = url,
                       .headers = headers,
                       .write_cb = body_cb,
                       .write_data = &r,
                       .header_cb = header_cb,
                       .header_data = &r,
                       .basic_user = basic ? (cfg->username ? cfg->username : "") : NULL,
                       .basic_password = basic ? cfg->password : NULL,
                       .config_timeout_s = cfg->timeout_s};
    rc = cdc_curl_prepare(c, &r.x, hostapi, run, &req, hn);
    if (rc != CD_OK)
        goto out;

    hostapi->log(run, CD_LOG_DEBUG, "GET %s (timeout %ld ms)", url, r.x.timeout_ms);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    *status_out = status;

    if (parse->rc != CD_OK) {
        /* The parser (or the host through record_emit) stopped the body. */
        rc = parse->rc;
        hostapi->set_message(run, "%s", parse->message ? parse->message : "stopped");
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = cdc_status_for_curl(cc, &r.x);
        const char *why = r.x.errbuf[0] ? r.x.errbuf : curl_easy_strerror(cc);
        if (rc == CD_CANCELLED)
            hostapi->set_message(run, "cancelled while talking to %s", hn);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            hostapi->set_message(run, "timed out after %ld ms waiting for %s: %s", r.x.timeout_ms,
                              hn, why);
        else if (cdc_http_data_status(status))
            hostapi->set_message(run, "transfer from %s broke off after %llu bytes: %s", hn,
                              (unsigned long long)(r.offset + r.hold.len), why);
        else
            hostapi->set_message(run, "cannot reach %s: %s", hn, why);
        goto out;
    }
    if (!cdc_http_data_status(status)) {
        rc = cdc_status_for_http(status);
        cdc_status_message(hostapi, run, status, &r.x);
        if (r.x.retry_after) {
            hostapi->log(run, CD_LOG_WARNING, "%s asks to retry after %s", hn, r.x.retry_after);
            cdc_note_retry_after(hostapi, run, r.x.retry_after);
        }
        if (r.errbody.len)
            hostapi->log(run, CD_LOG_INFO, "response body starts: %.200s", r.errbody.data);
        goto out;
    }
    if (status == 204)
        goto out; /* No Content: no transactions for this code, as [] says */
    if (feed_end(&r) != 0) {
        rc = parse->rc;
        hostapi->set_message(run, "%s", parse->message ? parse->message : "stopped");
        goto out;
    }
    yajl_status fin = yajl_complete_parse(r.yajl);
    if (fin != yajl_status_ok && cdc_markup_type(r.content_type)) {
        rc = CD_ERR_TRANSIENT;
        hostapi->set_message(run, "the report API for merchant %s answered %s where JSON was "
                                  "expected (an error or maintenance page?)", code,
                             r.content_type);
        goto out;
    }
    if (fin != yajl_status_ok) {
        /* At end of input the error is at the last byte received. */
        unsigned char *e = yajl_get_error(r.yajl, 0, NULL, 0);
        char *why = e ? strdup((const char *)e) : NULL;
        if (e)
            yajl_free_error(r.yajl, e);
        for (size_t n = why ? strlen(why) : 0; n > 0 && isspace((unsigned char)why[n - 1]);)
            why[--n] = '\0';
        rc = CD_ERR_PERMANENT;
        hostapi->set_message(run, "malformed JSON from the report API for merchant %s at byte "
                               "%llu: %s (truncated body?)", code,
                          (unsigned long long)r.offset, why ? why : "parse error");
        free(why);
        goto out;
    }
    if (parse->rc != CD_OK) {
        rc = parse->rc;
        hostapi->set_message(run, "%s", parse->message ? parse->message : "stopped");
        goto out;
    }
    if (!parse->saw_array) {
        rc = CD_ERR_PERMANENT;
        hostapi->set_message(run, "the report API for merchant %s answered %llu bytes that hold no "
                               "JSON array", code, (unsigned long long)r.offset);
    }
out:
    parse->yajl = NULL;
    if (r.yajl)
        yajl_free(r.yajl);
    cdc_buf_free(&r.errbody);
    cdc_buf_free(&r.hold);
    free(r.content_type);
    cdc_xfer_cleanup(&r.x);
    curl_slist_free_all(headers);
    free(auth_header);
    if (c)
        curl_easy_cleanup(c);
    free(url);
    free(hostname);
    return rc;
}

static void parse_reset(sp_parse *p, cd_run *run, int emit, const char *merchant)
{
    uint64_t emitted = p->emitted, rejected = p->rejected;
    clear_item(p);
    free(p->message);
    memset(p, 0, sizeof *p);
    p->run = run;
    p->emit = emit;
    p->merchant = merchant;
    p->key = -1;
    p->nul_field = -1;
    p->lone_field = -1;
    p->emitted = emitted;
    p->rejected = rejected;
}

static void parse_free(sp_parse *p)
{
    clear_item(p);
    free(p->message);
    p->message = NULL;
}

static int test(cd_run *run)
{
    sp_config cfg;
    int rc = load_config(run, &cfg);
    if (rc != CD_OK) {
        hostapi->test_step(run, "config", 0, "connection_config is invalid");
        json_decref(cfg.root);
        return rc;
    }
    const cd_run_info *info = hostapi->run_info(run);
    const char *code = json_string_value(json_array_get(cfg.codes, 0));
    hostapi->test_step(run, "config", 1, "%zu merchant code(s), authentication %s",
                    json_array_size(cfg.codes), cfg.auth);

    sp_parse parse;
    memset(&parse, 0, sizeof parse);
    parse_reset(&parse, run, 0, code);
    long status = 0;
    char *url = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = fetch(run, &cfg, code, &parse, &status, &url);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long latency_ms = (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
                           (t1.tv_nsec - t0.tv_nsec) / 1000000;
    char num[32];
    snprintf(num, sizeof num, "%lld", latency_ms);
    hostapi->set_detail(run, "latency_ms", num);
    snprintf(num, sizeof num, "%ld", status);
    hostapi->set_detail(run, "http_status", num);
    if (rc == CD_OK) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)parse.items);
        hostapi->set_detail(run, "rows_seen", num);
    }
    if (status == 0) {
        hostapi->test_step(run, "request", 0, "GET %s: no HTTP response", url ? url : cfg.base_url);
    } else {
        hostapi->test_step(run, "request", 1, "GET %s", url);
        hostapi->test_step(run, "status", cdc_http_data_status(status), "HTTP %ld in %lld ms",
                           status, latency_ms);
    }
    if (rc == CD_OK) {
        hostapi->test_step(run, "rows", 1, "%llu transaction(s) for %s, %s..%s",
                        (unsigned long long)parse.items, code, info->window_from,
                        info->window_to);
        hostapi->set_message(run, "API reachable: HTTP %ld in %lld ms, %llu transaction(s) for %s "
                               "on %s", status, latency_ms, (unsigned long long)parse.items, code,
                          info->window_from);
    } else if (cdc_http_data_status(status)) {
        hostapi->test_step(run, "rows", 0, "response unreadable");
    }
    parse_free(&parse);
    free(url);
    json_decref(cfg.root);
    return rc;
}

static int run_driver(cd_run *run)
{
    sp_config cfg;
    int rc = load_config(run, &cfg);
    if (rc != CD_OK) {
        json_decref(cfg.root);
        return rc;
    }
    rc = hostapi->records_begin(run, columns, C_COUNT);
    if (rc != CD_OK) {
        hostapi->set_message(run, "the host refused the record columns");
        json_decref(cfg.root);
        return rc;
    }
    sp_parse parse;
    memset(&parse, 0, sizeof parse);
    size_t i;
    json_t *jc;
    json_array_foreach(cfg.codes, i, jc) {
        const char *code = json_string_value(jc);
        if (hostapi->is_cancelled(run)) {
            hostapi->set_message(run, "cancelled before merchant %s", code);
            rc = CD_CANCELLED;
            break;
        }
        parse_reset(&parse, run, 1, code);
        long status = 0;
        char *url = NULL;
        rc = fetch(run, &cfg, code, &parse, &status, &url);
        free(url);
        if (rc == CD_ERR_CONFIG && (status == 401 || status == 403) && i > 0) {
            /* The credential was good for the codes before: it expired or
             * was rotated during the run (a file: or cred: secret a
             * retry reads again), not a configuration to fix. */
            hostapi->set_message(run, "API responded with status %ld: %s for merchant %s after "
                                      "%zu merchant(s) answered with the same credential "
                                      "(expired during the run?)",
                                 status, cdc_http_reason(status, NULL), code, i);
            rc = CD_ERR_TRANSIENT;
        }
        if (rc != CD_OK)
            break;
        hostapi->log(run, CD_LOG_INFO, "merchant %s: %llu item(s)", code,
                  (unsigned long long)parse.items);
    }
    if (rc == CD_OK) {
        char n[32];
        snprintf(n, sizeof n, "%llu", (unsigned long long)parse.emitted);
        hostapi->set_detail(run, "records_emitted", n);
        snprintf(n, sizeof n, "%llu", (unsigned long long)parse.rejected);
        hostapi->set_detail(run, "items_rejected", n);
        hostapi->progress(run, parse.emitted, parse.emitted);
    }
    parse_free(&parse);
    json_decref(cfg.root);
    return rc;
}

int pg_api_parse_buffer(cd_run *run, const char *merchant, const unsigned char *body,
                        size_t len, size_t chunk, uint64_t *items)
{
    sp_parse parse;
    sp_request r;
    memset(&parse, 0, sizeof parse);
    memset(&r, 0, sizeof r);
    parse_reset(&parse, run, 1, merchant);
    r.parse = &parse;
    int rc = hostapi->records_begin(run, columns, C_COUNT);
    r.yajl = rc == CD_OK ? yajl_alloc(&sp_callbacks, NULL, &parse) : NULL;
    if (!r.yajl) {
        parse_free(&parse);
        return rc == CD_OK ? CD_ERR_TRANSIENT : rc;
    }
    yajl_config(r.yajl, yajl_dont_validate_strings, 1);
    if (chunk == 0)
        chunk = len ? len : 1;
    /* the same feeding as fetch()'s, a piece of `chunk` bytes per curl
     * write callback */
    int fed = 0;
    for (size_t off = 0; off < len && fed == 0; off += chunk)
        fed = feed_body(&r, body + off, len - off < chunk ? len - off : chunk);
    if (fed == 0)
        fed = feed_end(&r);
    yajl_status st = fed == 0 ? yajl_complete_parse(r.yajl) : yajl_status_error;
    if (parse.rc != CD_OK) {
        rc = parse.rc;
        if (parse.message)
            hostapi->set_message(run, "%s", parse.message);
    } else if (st != yajl_status_ok || !parse.saw_array)
        rc = CD_ERR_PERMANENT;
    if (items)
        *items = parse.items;
    parse.yajl = NULL;
    yajl_free(r.yajl);
    cdc_buf_free(&r.hold);
    parse_free(&parse);
    return rc;
}

int pg_api_split_datetime(const char *s, char out_date[11], char **out_ts)
{
    return split_datetime(s, out_date, out_ts);
}

static int pg_api_init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    int rc = cdc_http_driver_init(h);
    if (rc != CD_OK)
        return rc;
    hostapi = h;
    cb->describe_config = describe_config;
    cb->validate = validate;
    cb->test = test;
    cb->run = run_driver;
    cb->destroy = cdc_http_driver_destroy;
    return CD_OK;
}

CONNECTORD_DRIVER(pg_api_magic, pg_api_init)
