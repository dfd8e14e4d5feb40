/*
 * bank_api.c — the built-in BANK_API driver: bank statements from a bank's
 * HTTP API, JSON or CSV.
 *
 * The endpoint is a template ({date}, {YYYYMMDD}, {DDMMYYYY} become the run
 * date). `columns` maps each target column to where it comes from: a key of
 * each JSON record, or a CSV header name (a 1-based column number when
 * csv.header is false).
 *
 * JSON: a page (at most MAX_BODY) is parsed as it arrives by yajl's
 * callback parser; the records are the items of the array at records_path
 * ("data.transactions"; empty: the body is the array), each mapped and
 * handed on as soon as it ends, so memory is bounded by the largest
 * record, not by the page or its number of values. Numbers keep the exact
 * text the bank sent (yajl hands it over), never a double. Invalid UTF-8
 * in a string fails the page (yajl validates).
 * CSV: streamed through cdc_csv as it arrives; each page starts with its
 * own header row.
 *
 * Pagination: none; page (page number counted up); offset (offset grows by
 * the records received); cursor (the next cursor read from the JSON body at
 * cursor_path or from a response header, sent back as cursor_param);
 * link (RFC 8288 Link: <...>; rel="next", followed only to the base_url's
 * own origin so that credentials never leave for another host). An empty
 * page or a missing cursor or link ends the listing; a short page does not,
 * as banks cap the page size below what they are asked for. Reaching
 * max_pages while the bank still signals more fails the run: half a day
 * loaded as if complete is worse than a clear error. A page that repeats
 * the page before it record for record (page, offset), or a cursor or link
 * back to a page already read, fails it at once: such a listing never ends.
 *
 * Auth: none, bearer, api_key (header name configurable), basic, and
 * hmac_sha256: the request is signed with HMAC-SHA256 over a canonical
 * string built from a template (default "{method}\n{path}\n{timestamp}\n
 * {body_sha256}"), sent in configurable headers. OpenSSL's libcrypto does
 * the hashing: it is already in the process through libcurl's TLS, so it
 * costs no new dependency, and it is constant-time where it matters.
 *
 * TLS is verified always (the host's defaults); ca_bundle names a PEM
 * bundle for banks whose certificates chain to a private CA.
 */
#include <connectord/plugin.h>

#include "cdc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <time.h>
#include <yajl/yajl_parse.h>

#include "bank_api_internal.h"
#include "cdc_csv.h"
#include "cdc_surrogates.h"

static const cd_host_api *hostapi;

static const cd_driver_magic bank_api_magic = CD_DRIVER_MAGIC_INIT(
    "bank_api", "1.0.0", "connectord", CD_CATEGORY_BANK_API, CD_DATASET_BANK_STATEMENT,
    "Bank statements from a bank's HTTP API (JSON or CSV)");

#define SECRET_SCHEMA(desc)                                                             \
    "{\"description\": \"" desc "\", \"writeOnly\": true, \"oneOf\": ["               \
    "{\"type\": \"string\", \"minLength\": 1},"                                        \
    "{\"type\": \"object\", \"required\": [\"secret\"], \"additionalProperties\": false," \
    "\"properties\": {\"secret\": {\"type\": \"string\","                              \
    "\"pattern\": \"^(env|file|cred):.+\"}}}]}"

static const char bank_api_schema[] =
    "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
    "\"title\": \"Bank statement API\","
    "\"type\": \"object\","
    "\"required\": [\"base_url\", \"endpoint\", \"columns\"],"
    "\"additionalProperties\": false,"
    "\"properties\": {"
    "\"base_url\": {\"type\": \"string\", \"pattern\": \"^https?://\"},"
    "\"endpoint\": {\"type\": \"string\", \"description\": \"Path with {date}, {YYYYMMDD}, {DDMMYYYY}\"},"
    "\"auth_type\": {\"enum\": [\"none\", \"bearer\", \"api_key\", \"basic\", \"hmac_sha256\"],"
    "\"default\": \"none\"},"
    "\"bearer_token\": " SECRET_SCHEMA("Token for auth_type bearer") ","
    "\"api_key\": " SECRET_SCHEMA("Key for auth_type api_key") ","
    "\"api_key_header\": {\"type\": \"string\", \"default\": \"X-API-Key\"},"
    "\"username\": {\"type\": \"string\"},"
    "\"password\": " SECRET_SCHEMA("Password for auth_type basic") ","
    "\"hmac_key_id\": {\"type\": \"string\"},"
    "\"hmac_secret\": " SECRET_SCHEMA("Signing secret for auth_type hmac_sha256") ","
    "\"hmac\": {\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
    "\"canonical\": {\"type\": \"string\", \"default\": \"{method}\\n{path}\\n{timestamp}\\n{body_sha256}\","
    "\"description\": \"Placeholders: {method} {path} (path?query) {query} {host} {timestamp} "
    "(Unix seconds) {date} (run date) {body_sha256} {key_id}\"},"
    "\"signature_header\": {\"type\": \"string\", \"default\": \"X-Signature\"},"
    "\"timestamp_header\": {\"type\": \"string\", \"default\": \"X-Timestamp\"},"
    "\"key_id_header\": {\"type\": \"string\", \"default\": \"X-Key-Id\"},"
    "\"signature_prefix\": {\"type\": \"string\", \"default\": \"\"},"
    "\"encoding\": {\"enum\": [\"hex\", \"base64\"], \"default\": \"hex\"}}},"
    "\"csv\": {\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
    "\"delimiter\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 1, \"default\": \",\"},"
    "\"header\": {\"type\": \"boolean\", \"default\": true}}},"
    "\"response_format\": {\"enum\": [\"json\", \"csv\"], \"default\": \"json\"},"
    "\"records_path\": {\"type\": \"string\", \"default\": \"\","
    "\"description\": \"Dot path to the array of records; empty: the body is the array\"},"
    "\"pagination\": {\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
    "\"type\": {\"enum\": [\"none\", \"page\", \"offset\", \"cursor\", \"link\"], \"default\": \"none\"},"
    "\"offset_param\": {\"type\": \"string\", \"default\": \"offset\"},"
    "\"limit_param\": {\"type\": \"string\", \"default\": \"limit\"},"
    "\"cursor_param\": {\"type\": \"string\", \"default\": \"cursor\"},"
    "\"cursor_path\": {\"type\": \"string\", \"description\": \"Dot path of the next cursor in a JSON body\"},"
    "\"cursor_header\": {\"type\": \"string\", \"description\": \"Response header holding the next cursor\"},"
    "\"page_param\": {\"type\": \"string\", \"default\": \"page\"},"
    "\"start_page\": {\"type\": \"integer\", \"minimum\": 0, \"default\": 1},"
    "\"size_param\": {\"type\": \"string\"},"
    "\"page_size\": {\"type\": \"integer\", \"minimum\": 1, \"default\": 100},"
    "\"max_pages\": {\"type\": \"integer\", \"minimum\": 1, \"default\": 1000}}},"
    "\"columns\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"},"
    "\"description\": \"target column -> key in each record\"},"
    "\"bank_name\": {\"type\": \"string\"},"
    "\"ca_bundle\": {\"type\": \"string\"},"
    "\"timeout_seconds\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3600}"
    "}}";

static const char *describe_config(void)
{
    return bank_api_schema;
}

static const char *const bank_targets[] = {
    "bank_ref", "bank_name", "amount_paise", "amount", "transaction_date", "value_date", "utr",
    "rrn", "remarks", "debit_credit", "net_amount_paise", "net_amount", "source_type",
    "source_file", "batch_id", NULL};

static int validating;

/* config_error during validate(), the run log otherwise. */
#define report(run, field, ...) cdc_report(hostapi, validating, (run), (field), __VA_ARGS__)

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* A problem found after connectors may have been stored with it: refused
 * when a connector is saved (returns 1), only a warning in the run's log
 * when a stored one runs (returns 0), so that a day still loads. */
static int refuse_on_save(cd_run *run, const char *field, const char *msg)
{
    if (validating) {
        report(run, field, "%s", msg);
        return 1;
    }
    hostapi->log(run, CD_LOG_WARNING, "connection_config.%s: %s (refused when the connector "
                                      "is saved again)", field, msg);
    return 0;
}

static int check_config(cd_run *run, const json_t *root)
{
    int bad = 0;
    const char *base = cdc_json_str(root, "base_url", NULL);
    if (!base) {
        report(run, "base_url", "is required");
        bad++;
    } else if ((strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) ||
               has_ctl(base)) {
        report(run, "base_url", "must be an http:// or https:// URL");
        bad++;
    } else if (strpbrk(base, "?#")) {
        /* the endpoint is appended: after a query it would land in it */
        bad += refuse_on_save(run, "base_url", "must not hold a query (?) or fragment (#): put "
                                               "the query in endpoint");
    }
    const char *ep = cdc_json_str(root, "endpoint", NULL);
    if (!ep) {
        report(run, "endpoint", "is required");
        bad++;
    } else {
        char *probe = cdc_expand_date_placeholders(ep, "2025-01-02");
        if (!probe || has_ctl(ep) || strchr(probe, '{') || strchr(probe, '}')) {
            report(run, "endpoint", "has an unknown placeholder (use {date}, {YYYYMMDD}, "
                                    "{DDMMYYYY}, {DD-MM-YYYY})");
            bad++;
        }
        free(probe);
    }
    const char *auth = cdc_json_str(root, "auth_type", "none");
    static const struct {
        const char *type, *secret;
    } needs[] = {{"bearer", "bearer_token"}, {"api_key", "api_key"}, {"basic", "password"},
                 {"hmac_sha256", "hmac_secret"}, {"none", NULL}};
    int known = 0;
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++) {
        if (strcmp(auth, needs[i].type) != 0)
            continue;
        known = 1;
        if (needs[i].secret && !cdc_secret_present(root, needs[i].secret)) {
            report(run, needs[i].secret, "is required for auth_type %s", auth);
            bad++;
        }
    }
    if (!known) {
        report(run, "auth_type", "must be none, bearer, api_key, basic or hmac_sha256");
        bad++;
    }
    if (strcmp(auth, "basic") == 0 && !cdc_json_str(root, "username", NULL)) {
        report(run, "username", "is required for auth_type basic");
        bad++;
    }
    const char *secrets[] = {"bearer_token", "api_key", "password", "hmac_secret"};
    for (size_t i = 0; i < 4; i++)
        bad += cdc_check_secret_shape(hostapi, run, root, secrets[i], secrets[i]);
    const char *fmt = cdc_json_str(root, "response_format", "json");
    if (strcmp(fmt, "json") != 0 && strcmp(fmt, "csv") != 0) {
        report(run, "response_format", "must be json or csv");
        bad++;
    }
    json_t *cols = json_object_get(root, "columns");
    if (!json_is_object(cols)) {
        report(run, "columns", cols ? "must be an object {\"target column\": \"record key\"}"
                                    : "is required");
        bad++;
    } else {
        const char *k;
        json_t *v;
        int has_ref = 0, has_amount = 0, has_date = 0, rupees = 0, paise = 0, net_r = 0,
            net_p = 0;
        json_object_foreach(cols, k, v) {
            char *path = cdc_printf("columns.%s", k);
            int ok = 0;
            for (const char *const *t = bank_targets; *t; t++)
                ok |= strcmp(*t, k) == 0;
            if (!ok) {
                report(run, path ? path : "columns", "\"%s\" is not a bank statement column", k);
                bad++;
            } else if (!json_is_string(v) || json_string_length(v) == 0) {
                report(run, path ? path : "columns", "must name a key of the records");
                bad++;
            }
            free(path);
            has_ref |= strcmp(k, "bank_ref") == 0;
            has_amount |= strcmp(k, "amount") == 0 || strcmp(k, "amount_paise") == 0;
            has_date |= strcmp(k, "transaction_date") == 0;
            rupees |= strcmp(k, "amount") == 0;
            paise |= strcmp(k, "amount_paise") == 0;
            net_r |= strcmp(k, "net_amount") == 0;
            net_p |= strcmp(k, "net_amount_paise") == 0;
        }
        /* connectord refuses a record that gives both: every record
         * holding both keys would be a record error */
        if (rupees && paise)
            bad += refuse_on_save(run, "columns.amount_paise",
                                  "map amount (rupees) or amount_paise, not both");
        if (net_r && net_p)
            bad += refuse_on_save(run, "columns.net_amount_paise",
                                  "map net_amount (rupees) or net_amount_paise, not both");
        if (!has_ref || !has_amount || !has_date) {
            report(run, "columns", "must map bank_ref, amount (or amount_paise) and "
                                   "transaction_date");
            bad++;
        }
    }
    json_t *pg = json_object_get(root, "pagination");
    if (pg) {
        const char *t = cdc_json_str(pg, "type", "none");
        if (!json_is_object(pg) ||
            (strcmp(t, "none") != 0 && strcmp(t, "page") != 0 && strcmp(t, "offset") != 0 &&
             strcmp(t, "cursor") != 0 && strcmp(t, "link") != 0)) {
            report(run, "pagination.type", "must be none, page, offset, cursor or link");
            bad++;
        } else if (strcmp(t, "cursor") == 0 && !cdc_json_str(pg, "cursor_path", NULL) &&
                   !cdc_json_str(pg, "cursor_header", NULL)) {
            report(run, "pagination.cursor_path",
                   "cursor pagination needs cursor_path (JSON) or cursor_header");
            bad++;
        } else if (strcmp(t, "cursor") == 0 && strcmp(fmt, "csv") == 0 &&
                   !cdc_json_str(pg, "cursor_header", NULL)) {
            report(run, "pagination.cursor_header", "a CSV body carries no cursor: use cursor_header");
            bad++;
        }
        static const char *const ints[] = {"page_size", "max_pages", "start_page"};
        for (size_t i = 0; json_is_object(pg) && i < 3; i++) {
            json_t *v = json_object_get(pg, ints[i]);
            if (v && (!json_is_integer(v) || json_integer_value(v) < (i == 2 ? 0 : 1) ||
                      json_integer_value(v) > 1000000)) {
                char *path = cdc_printf("pagination.%s", ints[i]);
                report(run, path ? path : "pagination", "must be an integer from %d to 1000000",
                       i == 2 ? 0 : 1);
                free(path);
                bad++;
            }
        }
        static const char *const names[] = {"page_param", "size_param", "offset_param",
                                            "limit_param", "cursor_param", "cursor_header"};
        for (size_t i = 0; json_is_object(pg) && i < 6; i++) {
            const char *v = cdc_json_str(pg, names[i], NULL);
            if (v && (!*v || has_ctl(v) || strpbrk(v, "&=?#: "))) {
                char *path = cdc_printf("pagination.%s", names[i]);
                report(run, path ? path : "pagination", "must be a plain name");
                free(path);
                bad++;
            }
        }
    }
    json_t *csv = json_object_get(root, "csv");
    if (csv) {
        const char *d = cdc_json_str(csv, "delimiter", ",");
        if (!json_is_object(csv) || strlen(d) != 1 || strchr("\"\r\n", *d)) {
            report(run, "csv.delimiter", "must be one character other than a quote or line end");
            bad++;
        }
        json_t *h = json_object_get(csv, "header");
        if (h && !json_is_boolean(h)) {
            report(run, "csv.header", "must be true or false");
            bad++;
        }
        if (h && json_is_false(h) && json_is_object(cols)) {
            const char *k;
            json_t *v;
            json_object_foreach(cols, k, v) {
                const char *src = json_string_value(v);
                char *end = NULL;
                long n = src ? strtol(src, &end, 10) : 0;
                if (!src || end == src || *end || n < 1 || n > 10000) {
                    char *path = cdc_printf("columns.%s", k);
                    report(run, path ? path : "columns",
                           "without a CSV header, name a 1-based column number");
                    free(path);
                    bad++;
                }
            }
        }
    }
    json_t *hm = json_object_get(root, "hmac");
    if (hm) {
        static const char *const hs[] = {"signature_header", "timestamp_header", "key_id_header"};
        for (size_t i = 0; i < 3; i++) {
            const char *v = cdc_json_str(hm, hs[i], NULL);
            int ok = !v || *v;
            for (const char *q = v; q && *q; q++)
                if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_')
                    ok = 0;
            if (!ok || !json_is_object(hm)) {
                char *path = cdc_printf("hmac.%s", hs[i]);
                report(run, path ? path : "hmac", "must be a header name (letters, digits, -)");
                free(path);
                bad++;
            }
        }
        const char *enc = cdc_json_str(hm, "encoding", "hex");
        if (strcmp(enc, "hex") != 0 && strcmp(enc, "base64") != 0) {
            report(run, "hmac.encoding", "must be hex or base64");
            bad++;
        }
        const char *prefix = cdc_json_str(hm, "signature_prefix", "");
        if (has_ctl(prefix)) {
            report(run, "hmac.signature_prefix", "contains control characters");
            bad++;
        }
    }
    /* an empty name passed too, and the key went out as ": KEY", a
     * header line with no name that no bank reads */
    const char *akh = cdc_json_str(root, "api_key_header", "X-API-Key");
    int akh_ok = *akh != '\0';
    for (const char *q = akh; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_')
            akh_ok = 0;
    if (!akh_ok) {
        report(run, "api_key_header", "must be a header name (letters, digits, -)");
        bad++;
    }
    json_t *to = json_object_get(root, "timeout_seconds");
    if (to && (!json_is_integer(to) || json_integer_value(to) < 1 ||
               json_integer_value(to) > 3600)) {
        report(run, "timeout_seconds", "must be an integer from 1 to 3600");
        bad++;
    }
    const char *ca = cdc_json_str(root, "ca_bundle", NULL);
    if (ca && (!*ca || has_ctl(ca))) {
        report(run, "ca_bundle", "must be the path of a PEM file");
        bad++;
    }
    return bad;
}

static int validate(cd_run *run)
{
    return cdc_validate_with(hostapi, run, &validating, check_config);
}

/* Largest JSON page: a statement page bigger than this is a misconfigured
 * page size, not data. (It is parsed as it arrives, never held whole.) */
#define MAX_BODY (64u * 1024u * 1024u)

/* Bytes of a SHA-256 digest. */
#define SHA256_LEN 32

/* ------------------------------------------------------------------ */
/* Column mapping                                                      */
/* ------------------------------------------------------------------ */

typedef struct ba_map {
    const char **targets; /* columns declared to the host */
    const char **keys;    /* JSON key / CSV header / column number; NULL: synthesized */
    int *csv_idx;         /* CSV: field index per target, -1 when synthesized */
    const char **values;
    size_t *lengths;
    size_t n;
    const char *bank_name; /* used when columns has no bank_name */
    EVP_MD_CTX *page_digest; /* run(): SHA-256 of the page's records, or NULL */
} ba_map;

static void map_free(ba_map *m)
{
    free(m->targets);
    free(m->keys);
    free(m->csv_idx);
    free(m->values);
    free(m->lengths);
    memset(m, 0, sizeof *m);
}

/* Target columns from `columns`, plus bank_name and source_type when the
 * mapping does not give them. */
static int map_build(cd_run *run, const json_t *root, ba_map *m)
{
    json_t *cols = json_object_get(root, "columns");
    size_t cap = json_object_size(cols) + 3;
    memset(m, 0, sizeof *m);
    m->targets = calloc(cap, sizeof *m->targets);
    m->keys = calloc(cap, sizeof *m->keys);
    m->csv_idx = calloc(cap, sizeof *m->csv_idx);
    m->values = calloc(cap, sizeof *m->values);
    m->lengths = calloc(cap, sizeof *m->lengths);
    if (!m->targets || !m->keys || !m->csv_idx || !m->values || !m->lengths) {
        hostapi->set_message(run, "out of memory");
        return CD_ERR_TRANSIENT;
    }
    const char *k;
    json_t *v;
    int has_source_type = 0;
    json_object_foreach(cols, k, v) {
        m->targets[m->n] = k;
        m->csv_idx[m->n] = -1;
        m->keys[m->n++] = json_string_value(v);
        has_source_type |= strcmp(k, "source_type") == 0;
    }
    if (!json_object_get(cols, "bank_name")) {
        m->csv_idx[m->n] = -1;
        m->targets[m->n++] = "bank_name";
    }
    if (!has_source_type) {
        m->csv_idx[m->n] = -1;
        m->targets[m->n++] = "source_type";
    }
    /* Without a mapped indicator a negative amount still says DR, as
     * bank_sftp stores it (the amount itself holds the magnitude). */
    if (!json_object_get(cols, "debit_credit")) {
        m->csv_idx[m->n] = -1;
        m->targets[m->n++] = "debit_credit";
    }
    m->bank_name = cdc_json_str(root, "bank_name", hostapi->run_info(run)->source_entity);
    return CD_OK;
}

/* The value of a target no source column feeds. */
static const char *synthesized(const ba_map *m, size_t i)
{
    if (strcmp(m->targets[i], "bank_name") == 0)
        return m->bank_name;
    if (strcmp(m->targets[i], "source_type") == 0)
        return "CONNECTOR";
    return NULL;
}

/* Adds one CSV line (its fields, each with its length) to the page's
 * fingerprint: two pages with the same lines in the same order have the
 * same digest. */
static void digest_record(ba_map *m, const char *const *values, const size_t *lengths, size_t n)
{
    if (!m->page_digest)
        return;
    unsigned char sep = 0x1e;
    EVP_DigestUpdate(m->page_digest, &sep, 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char present = values[i] != NULL;
        uint64_t len = values[i] ? (uint64_t)lengths[i] : 0;
        EVP_DigestUpdate(m->page_digest, &present, 1);
        EVP_DigestUpdate(m->page_digest, &len, sizeof len);
        if (len)
            EVP_DigestUpdate(m->page_digest, values[i], (size_t)len);
    }
}

static int ba_same(const char *s, size_t n, const char *w)
{
    if (strlen(w) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != w[i])
            return 0;
    return 1;
}

/* bank_sftp's convention for sp_v2_bank_statements: the amount is stored
 * as its magnitude and debit_credit as CR/DR (C, CR, credit / D, DR, debit,
 * any case, optional dot; other text kept beside a plain amount). A
 * negative amount without an indicator is DR; an indicator that says
 * otherwise, or text that is neither beside a negative amount, is a record
 * error. Rewrites m->values in place (pointers into the record or static
 * text); returns 0 to emit, 1 when it reported a record error. */
static int ba_direction(cd_run *run, ba_map *m, const char *ref)
{
    size_t amt = m->n, dcc = m->n;
    for (size_t c = 0; c < m->n; c++) {
        if (strcmp(m->targets[c], "amount") == 0 || strcmp(m->targets[c], "amount_paise") == 0)
            amt = c;
        else if (strcmp(m->targets[c], "debit_credit") == 0)
            dcc = c;
    }
    const char *dc = NULL;
    if (amt < m->n && m->values[amt] && m->lengths[amt] > 1 && m->values[amt][0] == '-') {
        dc = "DR";
        m->values[amt]++;
        m->lengths[amt]--;
    }
    if (dcc < m->n && m->values[dcc] && m->lengths[dcc] > 0) {
        const char *s = m->values[dcc];
        size_t n = m->lengths[dcc], k = n;
        if (k > 1 && s[k - 1] == '.')
            k--;
        const char *norm = NULL;
        if (ba_same(s, k, "c") || ba_same(s, k, "cr") || ba_same(s, k, "credit"))
            norm = "CR";
        else if (ba_same(s, k, "d") || ba_same(s, k, "dr") || ba_same(s, k, "debit"))
            norm = "DR";
        if (dc && (!norm || strcmp(norm, dc) != 0)) {
            char *why = cdc_printf(norm ? "debit_credit: '%.*s' in %s says credit, the amount says "
                                          "debit"
                                        : "debit_credit: '%.*s' in %s is neither credit nor debit,"
                                          " and the amount is a debit: its direction would be lost",
                                   (int)(n > 20 ? 20 : n), s, m->keys[dcc] ? m->keys[dcc] : "");
            hostapi->record_error(run, ref, why ? why : "debit_credit contradicts the amount",
                                  NULL, 0);
            free(why);
            return 1;
        }
        if (norm)
            m->values[dcc] = norm, m->lengths[dcc] = 2;
    } else if (dc && dcc < m->n) {
        m->values[dcc] = dc, m->lengths[dcc] = 2;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* JSON pages (streamed)                                               */
/* ------------------------------------------------------------------ */

/* A page is parsed as it arrives, through yajl's callbacks: only the
 * record being read is kept (the mapped values of one item), never the
 * page or a tree of it. A tree cost some 90 bytes per value, so a page of
 * 64 MiB of tiny values ([0,0,0,...]) took gigabytes. */

/* Deepest nesting of arrays and objects a JSON page may have. A statement
 * needs a handful of levels; a page nested deeper is no statement. */
#define MAX_JSON_DEPTH 512

/* A dot path ("data.transactions") followed while the page streams by:
 * the value it names is reached through objects only, and of a key given
 * twice in one object the first counts (as yajl_tree_get found it). */
typedef struct bj_path {
    char *copy;   /* the path, its dots turned into NULs */
    char **parts; /* the non-empty parts */
    size_t *lens;
    size_t n;
    int lvl;      /* depth of the deepest open object on the path */
    int armed;    /* the next value at depth lvl is the path's next step */
    int done;     /* the value was reached, or cannot be any more */
} bj_path;

static int path_init(bj_path *p, const char *path)
{
    memset(p, 0, sizeof *p);
    p->armed = 1; /* the top-level value is the empty path's */
    path = path ? path : "";
    size_t max = strlen(path) / 2 + 1;
    p->copy = strdup(path);
    p->parts = calloc(max, sizeof *p->parts);
    p->lens = calloc(max, sizeof *p->lens);
    if (!p->copy || !p->parts || !p->lens)
        return -1;
    char *save = NULL;
    for (char *part = strtok_r(p->copy, ".", &save); part && p->n < max;
         part = strtok_r(NULL, ".", &save)) {
        p->parts[p->n] = part;
        p->lens[p->n++] = strlen(part);
    }
    return 0;
}

static void path_free(bj_path *p)
{
    free(p->copy);
    free(p->parts);
    free(p->lens);
    memset(p, 0, sizeof *p);
}

/* A value starts inside k open containers: 1 if it is the path's value. */
static int path_value(bj_path *p, int k, int is_object)
{
    if (p->done || !p->armed || k != p->lvl)
        return 0;
    p->armed = 0;
    if ((size_t)k == p->n) {
        p->done = 1;
        return 1;
    }
    if (is_object)
        p->lvl = k + 1; /* on the path: its keys are looked at */
    else
        p->done = 1;    /* a scalar or an array where the path goes on */
    return 0;
}

/* A key of the object at depth k. */
static void path_key(bj_path *p, int k, const unsigned char *s, size_t len)
{
    if (!p->done && k == p->lvl && k >= 1 && (size_t)k <= p->n && p->lens[k - 1] == len &&
        memcmp(p->parts[k - 1], s, len) == 0)
        p->armed = 1;
}

/* The container at depth k ends: an object on the path ending without the
 * path's key has no such value. */
static void path_end(bj_path *p, int k)
{
    if (!p->done && k == p->lvl && k > 0)
        p->done = 1;
}

/* Why a page's parse stopped. */
enum { BJ_OK, BJ_MARKUP, BJ_MALFORMED, BJ_DEEP, BJ_NOARRAY, BJ_CURSOR_NUL, BJ_STOP };

/* Column state for the current item. */
#define COL_SEEN 1 /* its key appeared (the first occurrence counts) */
#define COL_PEND 2 /* its key was the last one: the next value is its own */
#define COL_TEXT 4 /* it has a value (string, number, true, false) */
#define COL_LONE 8 /* its string held a lone UTF-16 surrogate escape */

typedef struct ba_json {
    cd_run *run;
    ba_map *m;            /* NULL when only counting */
    long page;
    int emit;             /* 0 in test(): count the records only */
    const char *records_path, *cursor_path;
    yajl_handle h;
    bj_path rec, cur;
    int want_cursor;
    int depth;            /* open arrays and objects */
    int rec_depth;        /* depth of the records array while it is open, else 0 */
    int found;            /* the records array was met */
    int item_object;      /* the current item is an object */
    char ref[64];         /* "page N item M" of the current item */
    uint64_t count;       /* items of the records array so far */
    char *cursor;         /* the value at cursor_path (string or number) */
    size_t cursor_len;
    cdc_buf *vals;        /* per column: the current item's value */
    unsigned char *col;   /* per column: COL_* */
    uint64_t events;      /* callbacks so far */
    uint64_t quiet;       /* bytes fed since a callback last came */
    uint64_t offset;      /* body bytes fed (a byte-order mark counted) */
    cdc_buf hold;         /* bytes held back while one long value goes on */
    int bom;              /* bytes of a leading UTF-8 BOM matched; -1: past it */
    int lone_pending;     /* the string being read holds a lone surrogate escape */
    cdc_surrogate_scan sc; /* lone surrogate escapes in the bytes fed */
    int started;          /* a byte other than blanks was seen */
    int markup;           /* the Content-Type is an HTML or XML page */
    int stopped;
    int kind;             /* BJ_* */
    int rc;               /* cd_status when kind is not BJ_OK */
    char *message;        /* malloc'd, when kind is not BJ_OK */
} ba_json;

/* Stops the parse (the first reason wins); 0 for yajl. */
static int bj_stop(ba_json *j, int kind, int rc, char *message)
{
    if (!j->stopped) {
        j->stopped = 1;
        j->kind = kind;
        j->rc = rc;
        j->message = message;
    } else {
        free(message);
    }
    return 0;
}

static void bj_digest(ba_json *j, unsigned char tag, const void *s, size_t len)
{
    EVP_MD_CTX *d = j->m ? j->m->page_digest : NULL;
    if (!d)
        return;
    EVP_DigestUpdate(d, &tag, 1);
    if (s) {
        uint64_t n = len;
        EVP_DigestUpdate(d, &n, sizeof n);
        EVP_DigestUpdate(d, s, len);
    }
}

/* A new item of the records array: a value inside it and nowhere deeper. */
static int bj_item_start(ba_json *j, int is_object)
{
    j->count++;
    j->item_object = is_object;
    if (!j->emit)
        return 1;
    snprintf(j->ref, sizeof j->ref, "page %ld item %llu", j->page, (unsigned long long)j->count);
    if (hostapi->is_cancelled(j->run))
        return bj_stop(j, BJ_STOP, CD_CANCELLED, cdc_printf("cancelled"));
    if (is_object) {
        for (size_t c = 0; c < j->m->n; c++) {
            j->col[c] = 0;
            j->vals[c].len = 0;
        }
    }
    return 1;
}

/* The item object ended: one record, or a record error. */
static int bj_item_end(ba_json *j)
{
    if (!j->emit)
        return 1;
    ba_map *m = j->m;
    const char *nul_key = NULL, *lone_key = NULL;
    for (size_t c = 0; c < m->n; c++) {
        m->values[c] = NULL;
        m->lengths[c] = 0;
        if (!m->keys[c]) {
            m->values[c] = synthesized(m, c);
            m->lengths[c] = m->values[c] ? strlen(m->values[c]) : 0;
        } else if (j->col[c] & COL_TEXT) {
            m->values[c] = j->vals[c].data ? j->vals[c].data : "";
            m->lengths[c] = j->vals[c].len;
            /* JSON may spell a NUL (\u0000): an id or amount holding one
             * is no value a statement has, nor one a C string keeps. */
            if (!nul_key && memchr(m->values[c], '\0', m->lengths[c]))
                nul_key = m->keys[c];
            /* yajl reads a lone surrogate as '?' or as an unrelated
             * character: a reference would load altered */
            if (!lone_key && (j->col[c] & COL_LONE))
                lone_key = m->keys[c];
        }
    }
    if (!nul_key && lone_key) {
        char *why = cdc_printf("%s holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape "
                               "without its pair)", lone_key);
        hostapi->record_error(j->run, j->ref, why ? why : "a field holds a lone UTF-16 surrogate",
                              NULL, 0);
        free(why);
        return 1;
    }
    if (nul_key) {
        char *why = cdc_printf("%s holds a NUL character (\\u0000)", nul_key);
        hostapi->record_error(j->run, j->ref, why ? why : "a field holds a NUL character", NULL, 0);
        free(why);
        return 1;
    }
    if (ba_direction(j->run, m, j->ref))
        return 1;
    int er = hostapi->record_emit(j->run, m->values, m->lengths, j->ref);
    if (er != CD_OK)
        return bj_stop(j, BJ_STOP, er, cdc_printf("the host stopped taking records"));
    return 1;
}

/* A string, number, true, false or null (text NULL for null). */
static int bj_scalar(ba_json *j, unsigned char tag, const char *s, size_t len)
{
    int k = j->depth;
    int lone = tag == 's' && j->lone_pending;
    j->events++;
    if (tag == 's')
        j->lone_pending = 0;
    if (j->want_cursor && path_value(&j->cur, k, 0) && (tag == 's' || tag == 'n')) {
        free(j->cursor);
        j->cursor = malloc(len + 1);
        if (!j->cursor)
            return bj_stop(j, BJ_STOP, CD_ERR_TRANSIENT, cdc_printf("out of memory"));
        memcpy(j->cursor, s, len);
        j->cursor[len] = '\0';
        j->cursor_len = len;
    }
    path_value(&j->rec, k, 0); /* found there: no array */
    if (!j->rec_depth || k < j->rec_depth)
        return 1;
    if (k == j->rec_depth && !bj_item_start(j, 0))
        return 0;
    bj_digest(j, tag, tag == 's' || tag == 'n' ? s : NULL, len);
    if (k == j->rec_depth && j->emit)
        hostapi->record_error(j->run, j->ref, "record is not a JSON object", NULL, 0);
    if (k == j->rec_depth + 1 && j->item_object && j->emit) {
        for (size_t c = 0; c < j->m->n; c++) {
            if (!(j->col[c] & COL_PEND))
                continue;
            j->col[c] &= (unsigned char)~COL_PEND;
            if (s) {
                j->vals[c].len = 0;
                if (cdc_buf_append(&j->vals[c], s, len) != 0)
                    return bj_stop(j, BJ_STOP, CD_ERR_TRANSIENT, cdc_printf("out of memory"));
                j->col[c] |= COL_TEXT | (lone ? COL_LONE : 0);
            }
        }
    }
    return 1;
}

static int bj_null(void *ctx)
{
    return bj_scalar(ctx, 'z', NULL, 0);
}

static int bj_boolean(void *ctx, int b)
{
    return bj_scalar(ctx, b ? 't' : 'f', b ? "true" : "false", b ? 4 : 5);
}

static int bj_number(void *ctx, const char *s, size_t len)
{
    return bj_scalar(ctx, 'n', s, len); /* the exact text the bank sent */
}

static int bj_string(void *ctx, const unsigned char *s, size_t len)
{
    return bj_scalar(ctx, 's', (const char *)s, len);
}

static int bj_start(ba_json *j, int is_object)
{
    int k = j->depth;
    j->events++;
    if (k >= MAX_JSON_DEPTH)
        return bj_stop(j, BJ_DEEP, CD_ERR_PERMANENT,
                       cdc_printf("the bank API's JSON (page %ld) nests arrays or objects deeper "
                                  "than %d levels; not a statement", j->page, MAX_JSON_DEPTH));
    if (j->want_cursor)
        path_value(&j->cur, k, is_object);
    if (path_value(&j->rec, k, is_object)) {
        if (!is_object && !j->found) {
            j->found = 1;
            j->rec_depth = k + 1;
        }
    } else if (j->rec_depth && k >= j->rec_depth) {
        if (k == j->rec_depth && !bj_item_start(j, is_object))
            return 0;
        bj_digest(j, is_object ? 'o' : 'a', NULL, 0);
        if (k == j->rec_depth && !is_object && j->emit)
            hostapi->record_error(j->run, j->ref, "record is not a JSON object", NULL, 0);
        if (k == j->rec_depth + 1 && j->item_object && j->emit)
            for (size_t c = 0; c < j->m->n; c++)
                j->col[c] &= (unsigned char)~COL_PEND; /* nested: no value */
    }
    j->depth++;
    return 1;
}

static int bj_start_map(void *ctx)
{
    return bj_start(ctx, 1);
}

static int bj_start_array(void *ctx)
{
    return bj_start(ctx, 0);
}

static int bj_map_key(void *ctx, const unsigned char *s, size_t len)
{
    ba_json *j = ctx;
    int k = j->depth;
    j->events++;
    j->lone_pending = 0;
    path_key(&j->rec, k, s, len);
    if (j->want_cursor)
        path_key(&j->cur, k, s, len);
    if (!j->rec_depth || k <= j->rec_depth)
        return 1;
    bj_digest(j, 'k', s, len);
    if (k == j->rec_depth + 1 && j->item_object && j->emit) {
        for (size_t c = 0; c < j->m->n; c++) {
            const char *key = j->m->keys[c];
            if (key && !(j->col[c] & COL_SEEN) && strlen(key) == len && memcmp(key, s, len) == 0)
                j->col[c] |= COL_SEEN | COL_PEND;
        }
    }
    return 1;
}

static int bj_end(ba_json *j, int is_object)
{
    int k = j->depth;
    j->events++;
    path_end(&j->rec, k);
    if (j->want_cursor)
        path_end(&j->cur, k);
    j->depth--;
    if (j->rec_depth && k > j->rec_depth) {
        bj_digest(j, is_object ? 'O' : 'A', NULL, 0);
        if (k == j->rec_depth + 1 && is_object)
            return bj_item_end(j);
    } else if (j->rec_depth && k == j->rec_depth) {
        j->rec_depth = 0; /* the records array ended */
    }
    return 1;
}

static int bj_end_map(void *ctx)
{
    return bj_end(ctx, 1);
}

static int bj_end_array(void *ctx)
{
    return bj_end(ctx, 0);
}

static const yajl_callbacks bj_callbacks = {
    bj_null,      bj_boolean, NULL,         NULL,           bj_number,   bj_string,
    bj_start_map, bj_map_key, bj_end_map,   bj_start_array, bj_end_array};

static void ba_json_free(ba_json *j)
{
    if (j->h)
        yajl_free(j->h);
    path_free(&j->rec);
    path_free(&j->cur);
    for (size_t c = 0; j->vals && c < j->m->n; c++)
        cdc_buf_free(&j->vals[c]);
    free(j->vals);
    free(j->col);
    free(j->cursor);
    free(j->message);
    cdc_buf_free(&j->hold);
    memset(j, 0, sizeof *j);
}

/* Prepares the parse of one page. m: the columns (NULL when emit is 0);
 * want_cursor: read the cursor at pagination.cursor_path. 0, or -1 (out
 * of memory, the run's message set). */
static int ba_json_init(ba_json *j, cd_run *run, const json_t *root, ba_map *m, long page,
                        int emit, int want_cursor)
{
    memset(j, 0, sizeof *j);
    j->run = run;
    j->m = m;
    j->page = page;
    j->emit = emit && m;
    j->records_path = cdc_json_str(root, "records_path", "");
    j->cursor_path = cdc_json_str(json_object_get(root, "pagination"), "cursor_path", NULL);
    j->want_cursor = want_cursor && j->cursor_path;
    int ok = path_init(&j->rec, j->records_path) == 0 &&
             (!j->want_cursor || path_init(&j->cur, j->cursor_path) == 0);
    if (ok && j->emit) {
        j->vals = calloc(m->n ? m->n : 1, sizeof *j->vals);
        j->col = calloc(m->n ? m->n : 1, 1);
        ok = j->vals && j->col;
    }
    if (ok && (j->h = yajl_alloc(&bj_callbacks, NULL, j)) != NULL) {
        /* as yajl_tree_parse read pages: comments allowed, UTF-8 checked */
        yajl_config(j->h, yajl_allow_comments, 1);
        return 0;
    }
    hostapi->set_message(run, "out of memory");
    ba_json_free(j);
    return -1;
}

/* Records where and why yajl refused the page. */
static void bj_parse_error(ba_json *j, const unsigned char *chunk, size_t len)
{
    uint64_t at = j->offset + (chunk ? yajl_get_bytes_consumed(j->h) : 0);
    unsigned char *e = yajl_get_error(j->h, 0, chunk, len);
    char *why = e ? strdup((const char *)e) : NULL;
    if (e)
        yajl_free_error(j->h, e);
    for (size_t n = why ? strlen(why) : 0; n > 0 && isspace((unsigned char)why[n - 1]);)
        why[--n] = '\0';
    bj_stop(j, BJ_MALFORMED, CD_ERR_PERMANENT,
            cdc_printf("malformed JSON from the bank API (page %ld) at byte %llu: %s", j->page,
                       (unsigned long long)at, why ? why : "parse error"));
    free(why);
}

/* Feeds yajl bytes the scan has seen; 0, or -1 when the parse stopped. */
static int bj_push_raw(ba_json *j, const unsigned char *d, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t events = j->events;
    yajl_status st = yajl_parse(j->h, d, n);
    if (st == yajl_status_error) {
        bj_parse_error(j, d, n);
        return -1;
    }
    if (st != yajl_status_ok)
        return -1; /* a callback stopped it, j->kind says why */
    j->quiet = j->events == events ? j->quiet + n : 0;
    j->offset += n;
    return 0;
}

/* Feeds yajl; 0, or -1 when the parse stopped. A string found to hold a
 * lone surrogate is fed up to the byte that shows it (the string still
 * open), then marked, so that its own callback is the one that sees it. */
static int bj_push(ba_json *j, const unsigned char *d, size_t n)
{
    size_t done = 0;
    for (size_t i = 0; i < n;) {
        size_t k = i + cdc_surrogate_scan_next(&j->sc, d + i, n - i);
        if (k == n)
            break;
        if (bj_push_raw(j, d + done, k - done) != 0)
            return -1;
        done = k;
        j->lone_pending = 1;
        i = k + 1;
    }
    return bj_push_raw(j, d + done, n - done);
}

/* Bytes past the byte-order mark. yajl lexes a value that spans chunks
 * again from its start with every chunk, so a long value (a 30 MB string)
 * fed as it arrives, 16 KiB at a time, would cost time quadratic in its
 * length: while no callback comes, bytes are held back and fed when they
 * are at least as many as were fed since the last callback, which keeps
 * the work linear. */
static int bj_take(ba_json *j, const unsigned char *d, size_t n)
{
    if (!j->started) {
        size_t i = 0;
        while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
            i++;
        if (i < n) {
            j->started = 1;
            if (j->markup && d[i] != '{' && d[i] != '[')
            {
                bj_stop(j, BJ_MARKUP, CD_ERR_TRANSIENT, NULL);
                return -1;
            }
        }
    }
    if (n == 0)
        return 0;
    if (j->quiet == 0 && j->hold.len == 0)
        return bj_push(j, d, n);
    if (cdc_buf_append(&j->hold, d, n) != 0) {
        bj_stop(j, BJ_STOP, CD_ERR_TRANSIENT, cdc_printf("out of memory"));
        return -1;
    }
    if (j->hold.len < j->quiet)
        return 0;
    int rc = bj_push(j, (const unsigned char *)j->hold.data, j->hold.len);
    j->hold.len = 0;
    if (j->hold.cap > 1024 * 1024)
        cdc_buf_free(&j->hold);
    return rc;
}

/* Feeds bytes of the page as they arrive. 0, or -1 once the parse has
 * stopped (ba_json_finish says why). */
static int ba_json_feed(ba_json *j, const char *data, size_t len)
{
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    const unsigned char *d = (const unsigned char *)data;
    if (j->stopped)
        return -1;
    /* A UTF-8 byte-order mark before the JSON (some .NET and Windows
     * servers write one), which RFC 8259 lets a reader ignore. */
    while (j->bom >= 0 && len > 0) {
        if (*d == bom[j->bom]) {
            d++, len--;
            if (++j->bom == 3) {
                j->bom = -1;
                j->offset += 3;
            }
        } else {
            int held = j->bom;
            j->bom = -1;
            if (held > 0 && bj_take(j, bom, (size_t)held) != 0)
                return -1;
        }
    }
    return bj_take(j, d, len);
}

/* Ends the page: BJ_OK, or why it is refused (j->rc, j->message). */
static int ba_json_finish(ba_json *j)
{
    if (!j->stopped && j->bom > 0) {
        int held = j->bom;
        j->bom = -1;
        bj_take(j, (const unsigned char *)"\xEF\xBB\xBF", (size_t)held);
    }
    if (!j->stopped && j->hold.len) {
        bj_push(j, (const unsigned char *)j->hold.data, j->hold.len);
        j->hold.len = 0;
    }
    if (!j->stopped && j->markup && !j->started)
        bj_stop(j, BJ_MARKUP, CD_ERR_TRANSIENT, NULL); /* an empty page of that type */
    if (!j->stopped) {
        yajl_status st = yajl_complete_parse(j->h);
        if (st == yajl_status_error)
            bj_parse_error(j, NULL, 0);
    }
    if (!j->stopped && !j->found)
        bj_stop(j, BJ_NOARRAY, CD_ERR_PERMANENT,
                cdc_printf("no JSON array at records_path \"%s\" (page %ld)", j->records_path,
                           j->page));
    if (!j->stopped && j->cursor && memchr(j->cursor, '\0', j->cursor_len))
        bj_stop(j, BJ_CURSOR_NUL, CD_ERR_PERMANENT,
                cdc_printf("the cursor at \"%s\" holds a NUL character (page %ld)", j->cursor_path,
                           j->page));
    if (j->stopped && !j->message && j->kind != BJ_MARKUP)
        j->message = cdc_printf("out of memory");
    return j->stopped ? j->kind : BJ_OK;
}

/* The next cursor of a page read whole: malloc'd, NULL when there is none
 * (absent, null, empty or blank). */
static char *ba_json_cursor(const ba_json *j)
{
    const char *t = j->cursor;
    while (t && (*t == ' ' || *t == '\t'))
        t++;
    return t && *t ? strdup(j->cursor) : NULL;
}

/* ------------------------------------------------------------------ */
/* CSV pages (streamed)                                                */
/* ------------------------------------------------------------------ */

typedef struct csv_page {
    cd_run *run;
    ba_map *m;
    int header;        /* 1 while the header row is still to come */
    size_t header_n;   /* fields in this page's header; 0 without one */
    char delim;
    long page;
    uint64_t count;
    int rc;            /* why the reader was stopped */
} csv_page;

static int csv_row(void *ud, const char *const *fields, const size_t *lens, size_t nfields,
                   uint64_t line)
{
    csv_page *cp = ud;
    ba_map *m = cp->m;
    if (cp->header) {
        cp->header = 0;
        cp->header_n = nfields;
        for (size_t c = 0; c < m->n; c++) {
            if (!m->keys[c])
                continue;
            m->csv_idx[c] = -1;
            for (size_t f = 0; f < nfields; f++) {
                /* header names compared trimmed, case-insensitively: banks
                 * change "Txn Ref" to "TXN REF " between file versions */
                const char *h = fields[f];
                size_t hl = lens[f];
                if (hl >= 3 && (unsigned char)h[0] == 0xEF && (unsigned char)h[1] == 0xBB &&
                    (unsigned char)h[2] == 0xBF)
                    h += 3, hl -= 3;
                while (hl && isspace((unsigned char)*h))
                    h++, hl--;
                while (hl && isspace((unsigned char)h[hl - 1]))
                    hl--;
                if (hl == strlen(m->keys[c]) && strncasecmp(h, m->keys[c], hl) == 0) {
                    m->csv_idx[c] = (int)f;
                    break;
                }
            }
            if (m->csv_idx[c] < 0) {
                hostapi->set_message(cp->run, "columns.%s names \"%s\", which the CSV header "
                                                 "(page %ld) does not have",
                                     m->targets[c], m->keys[c], cp->page);
                cp->rc = CD_ERR_CONFIG;
                return 1;
            }
        }
        return 0;
    }
    char ref[64];
    snprintf(ref, sizeof ref, "page %ld line %llu", cp->page, (unsigned long long)line);
    cp->count++;
    digest_record(m, fields, lens, nfields);
    if (hostapi->is_cancelled(cp->run)) {
        hostapi->set_message(cp->run, "cancelled");
        cp->rc = CD_CANCELLED;
        return 1;
    }
    if (cp->header_n && nfields != cp->header_n) {
        /* An unquoted delimiter inside a value (or a value left out)
         * shifts every later column: taking cells by header position
         * would load a wrong utr or amount without a word. */
        char raw[512];
        size_t o = 0;
        for (size_t f = 0; f < nfields && o < sizeof raw - 1; f++) {
            if (f)
                raw[o++] = cp->delim;
            size_t take = lens[f] < sizeof raw - 1 - o ? lens[f] : sizeof raw - 1 - o;
            memcpy(raw + o, fields[f], take);
            o += take;
        }
        char why[96];
        snprintf(why, sizeof why, "has %zu fields, the header has %zu", nfields, cp->header_n);
        hostapi->record_error(cp->run, ref, why, raw, o);
        return 0;
    }
    for (size_t c = 0; c < m->n; c++) {
        int f = m->csv_idx[c];
        if (!m->keys[c]) {
            m->values[c] = synthesized(m, c);
            m->lengths[c] = m->values[c] ? strlen(m->values[c]) : 0;
        } else if (f >= 0 && (size_t)f < nfields && lens[f] > 0) {
            m->values[c] = fields[f];
            m->lengths[c] = lens[f];
        } else {
            m->values[c] = NULL; /* empty cell, or a short line without a header */
            m->lengths[c] = 0;
        }
    }
    if (ba_direction(cp->run, m, ref))
        return 0;
    int er = hostapi->record_emit(cp->run, m->values, m->lengths, ref);
    if (er != CD_OK) {
        hostapi->set_message(cp->run, "the host stopped taking records");
        cp->rc = er;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* HMAC signing                                                        */
/* ------------------------------------------------------------------ */

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

char *bank_api_canonical(const char *tmpl, const char *method, const char *path,
                         const char *query, const char *host, const char *timestamp,
                         const char *date, const char *body_sha256, const char *key_id)
{
    const struct {
        const char *name, *value;
    } ph[] = {{"{method}", method},       {"{path}", path},   {"{query}", query},
              {"{host}", host},           {"{timestamp}", timestamp},
              {"{date}", date},           {"{body_sha256}", body_sha256},
              {"{key_id}", key_id}};
    cdc_buf b = {0};
    for (const char *p = tmpl; *p;) {
        int done = 0, rc = 0;
        for (size_t i = 0; i < sizeof ph / sizeof ph[0] && !done; i++) {
            size_t n = strlen(ph[i].name);
            if (strncmp(p, ph[i].name, n) == 0) {
                const char *v = ph[i].value ? ph[i].value : "";
                rc = cdc_buf_append(&b, v, strlen(v));
                p += n;
                done = 1;
            }
        }
        if (!done)
            rc = cdc_buf_append(&b, p++, 1);
        if (rc != 0) {
            cdc_buf_free(&b);
            return NULL;
        }
    }
    if (!b.data && cdc_buf_append(&b, "", 0) != 0)
        return NULL;
    return b.data;
}

/* Adds the signature headers for a GET of url to *headers. 0, or -1 with
 * the run's message set. */
static int sign_request(cd_run *run, const json_t *root, const char *url,
                        struct curl_slist **headers)
{
    const json_t *hm = json_object_get(root, "hmac");
    const char *secret = cdc_secret_str(root, "hmac_secret");
    const char *key_id = cdc_json_str(root, "hmac_key_id", NULL);
    if (!secret) {
        hostapi->set_message(run, "hmac_secret was not resolved to a value");
        return -1;
    }
    CURLU *u = curl_url();
    char *path = NULL, *query = NULL, *host = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        hostapi->set_message(run, "cannot take the URL apart for signing: %s", url);
        return -1;
    }
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    char *full_path = query ? cdc_printf("%s?%s", path, query) : strdup(path);

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    char body_hash[2 * 32 + 1];
    /* A GET has an empty body; the hash is still part of the template so
     * banks that sign POST and GET alike accept it. */
    EVP_Digest("", 0, digest, &dlen, EVP_sha256(), NULL);
    hex_encode(digest, dlen, body_hash);
    char ts[32];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    char *canon = full_path ? bank_api_canonical(
                                  cdc_json_str(hm, "canonical",
                                               "{method}\n{path}\n{timestamp}\n{body_sha256}"),
                                  "GET", full_path, query ? query : "", host ? host : "", ts,
                                  hostapi->run_info(run)->run_date, body_hash, key_id)
                            : NULL;
    int rc = -1;
    if (canon && HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)canon,
                      strlen(canon), digest, &dlen)) {
        char sig[2 * EVP_MAX_MD_SIZE + 1];
        if (strcmp(cdc_json_str(hm, "encoding", "hex"), "base64") == 0)
            EVP_EncodeBlock((unsigned char *)sig, digest, (int)dlen);
        else
            hex_encode(digest, dlen, sig);
        char *h1 = cdc_printf("%s: %s%s", cdc_json_str(hm, "signature_header", "X-Signature"),
                              cdc_json_str(hm, "signature_prefix", ""), sig);
        char *h2 = cdc_printf("%s: %s", cdc_json_str(hm, "timestamp_header", "X-Timestamp"), ts);
        char *h3 = key_id ? cdc_printf("%s: %s", cdc_json_str(hm, "key_id_header", "X-Key-Id"),
                                       key_id)
                          : NULL;
        if (h1 && h2 && (!key_id || h3) && !has_ctl(h1) && !has_ctl(h2) && (!h3 || !has_ctl(h3))) {
            struct curl_slist *l = curl_slist_append(*headers, h1);
            l = l ? curl_slist_append(l, h2) : NULL;
            if (l && h3)
                l = curl_slist_append(l, h3);
            if (l) {
                *headers = l;
                rc = 0;
            }
        }
        if (rc != 0)
            hostapi->set_message(run, "cannot build the signature headers (control characters "
                                      "in hmac_key_id?)");
        free(h1);
        free(h2);
        free(h3);
    } else {
        hostapi->set_message(run, "HMAC-SHA256 signing failed");
    }
    free(canon);
    free(full_path);
    curl_free(path);
    curl_free(query);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Link header                                                         */
/* ------------------------------------------------------------------ */

char *bank_api_link_next(const char *v)
{
    /* link-value = "<" URI ">" *( ";" param ); link-values split by ",".
     * URIs may hold commas and semicolons, so '<'...'>' is scanned whole. */
    const char *p = v;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p != '<')
            return NULL;
        const char *uri = ++p;
        const char *gt = strchr(p, '>');
        if (!gt)
            return NULL;
        p = gt + 1;
        int is_next = 0;
        while (*p && *p != ',') {
            while (*p == ' ' || *p == '\t' || *p == ';')
                p++;
            const char *name = p;
            while (*p && *p != '=' && *p != ';' && *p != ',')
                p++;
            size_t nlen = (size_t)(p - name);
            while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
                nlen--;
            const char *val = NULL;
            size_t vlen = 0;
            if (*p == '=') {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                if (*p == '"') {
                    val = ++p;
                    while (*p && *p != '"')
                        p++;
                    vlen = (size_t)(p - val);
                    if (*p == '"')
                        p++;
                } else {
                    val = p;
                    while (*p && *p != ';' && *p != ',' && *p != ' ')
                        p++;
                    vlen = (size_t)(p - val);
                }
            }
            if (nlen == 3 && strncasecmp(name, "rel", 3) == 0 && val) {
                /* rel may list several space-separated types */
                for (size_t i = 0; i + 4 <= vlen; i++)
                    if (strncasecmp(val + i, "next", 4) == 0 && (i == 0 || val[i - 1] == ' ') &&
                        (i + 4 == vlen || val[i + 4] == ' '))
                        is_next = 1;
            }
            while (*p && *p != ';' && *p != ',')
                p++;
        }
        if (is_next)
            return strndup(uri, (size_t)(gt - uri));
    }
    return NULL;
}

/* Resolves next against the current URL; NULL (message set) when it leaves
 * the base_url's origin: the bank's credentials go nowhere else. */
static char *follow_link(cd_run *run, const char *base_url, const char *current, const char *next)
{
    CURLU *u = curl_url(), *b = curl_url();
    char *out = NULL;
    char *s1 = NULL, *h1 = NULL, *p1 = NULL, *s2 = NULL, *h2 = NULL, *p2 = NULL;
    if (u && b && curl_url_set(u, CURLUPART_URL, current, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, next, 0) == CURLUE_OK &&
        curl_url_set(b, CURLUPART_URL, base_url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &s1, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h1, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &p1, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        curl_url_get(b, CURLUPART_SCHEME, &s2, 0) == CURLUE_OK &&
        curl_url_get(b, CURLUPART_HOST, &h2, 0) == CURLUE_OK &&
        curl_url_get(b, CURLUPART_PORT, &p2, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        if (strcasecmp(s1, s2) == 0 && strcasecmp(h1, h2) == 0 && strcmp(p1, p2) == 0) {
            char *full = NULL;
            if (curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK)
                out = strdup(full);
            curl_free(full);
        } else {
            hostapi->set_message(run, "the next-page link points to %s://%s:%s, outside %s; "
                                      "not followed", s1, h1, p1, base_url);
        }
    } else {
        hostapi->set_message(run, "the next-page link \"%.200s\" is not a URL", next);
    }
    curl_free(s1), curl_free(h1), curl_free(p1), curl_free(s2), curl_free(h2), curl_free(p2);
    curl_url_cleanup(u);
    curl_url_cleanup(b);
    return out;
}

/* ------------------------------------------------------------------ */
/* One request                                                         */
/* ------------------------------------------------------------------ */

typedef struct ba_request {
    cdc_xfer x;
    const char *cursor_header; /* name of a header to keep, or NULL */
    char *link;                /* Link header of the final response */
    char *cursor;              /* cursor_header's value */
    cdc_buf body;              /* the start of an error body */
    int too_big;
    ba_json *json;             /* JSON: parses the body as it arrives */
    cdc_csv *csv;              /* CSV: fed as the body arrives */
    int csv_failed;
    char *content_type;        /* of the final response */
    int not_csv;               /* a CSV request answered with a page or JSON */
    int has_length;            /* the final response gave a Content-Length */
    int chunked;               /* ... or came chunked */
    long http_version;         /* CURL_HTTP_VERSION_* of the final response */
    uint64_t body_bytes;       /* of a 2xx body */
    char last_byte;            /* its last byte */
} ba_request;

/* What a bank sends instead of a statement with status 200: a login or
 * maintenance page, a JSON error. Read as CSV, each of its lines would be
 * a record error, and the day would pass as PARTIAL_SUCCESS with nothing
 * loaded. Anything else (text/csv, text/plain, octet-stream, none) is
 * read as CSV. */
static int not_csv_type(const char *type)
{
    if (!type)
        return 0;
    size_t n = strlen("application/json");
    return cdc_markup_type(type) ||
           (strncasecmp(type, "application/json", n) == 0 &&
            (type[n] == '\0' || type[n] == ';' || type[n] == ' '));
}

static size_t ba_header(char *line, size_t size, size_t nitems, void *userdata)
{
    ba_request *r = userdata;
    size_t len = size * nitems;
    if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
        free(r->link);
        free(r->cursor);
        free(r->content_type);
        r->link = r->cursor = r->content_type = NULL;
        r->has_length = r->chunked = 0;
    } else if (len > 15 && strncasecmp(line, "Content-Length:", 15) == 0) {
        r->has_length = 1;
    } else if (len > 18 && strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
        char *v = cdc_header_value(line, len, 18);
        for (char *q = v; q && *q; q++)
            *q = (char)tolower((unsigned char)*q);
        if (v && strstr(v, "chunked"))
            r->chunked = 1;
        free(v);
    } else if (len > 13 && strncasecmp(line, "Content-Type:", 13) == 0) {
        free(r->content_type);
        r->content_type = cdc_header_value(line, len, 13);
    } else if (len > 5 && strncasecmp(line, "Link:", 5) == 0) {
        char *v = cdc_header_value(line, len, 5);
        if (v && r->link) { /* several Link headers are one list */
            char *both = cdc_printf("%s, %s", r->link, v);
            free(v);
            v = both;
        }
        free(r->link);
        r->link = v;
    } else if (r->cursor_header) {
        size_t n = strlen(r->cursor_header);
        if (len > n && line[n] == ':' && strncasecmp(line, r->cursor_header, n) == 0) {
            free(r->cursor);
            r->cursor = cdc_header_value(line, len, n + 1);
        }
    }
    return cdc_xfer_header(line, size, nitems, &r->x);
}

static size_t ba_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    ba_request *r = userdata;
    size_t len = size * nmemb;
    if (!cdc_http_data_status(r->x.status)) {
        if (r->body.len < 512)
            cdc_buf_append(&r->body, data, len < 512 ? len : 512);
        return len;
    }
    if (len) {
        r->body_bytes += len;
        r->last_byte = data[len - 1];
    }
    if (r->csv) {
        if (not_csv_type(r->content_type)) {
            r->not_csv = 1;
            return 0;
        }
        if (cdc_csv_feed(r->csv, data, len) != 0) {
            r->csv_failed = 1;
            return 0;
        }
        return len;
    }
    if (!r->json)
        return len;
    if (r->body_bytes > MAX_BODY) {
        r->too_big = 1;
        return 0;
    }
    /* an HTML or XML page (a login or maintenance page answered with
     * 200) is told from JSON by its type and its first byte */
    if (!r->json->started)
        r->json->markup = cdc_markup_type(r->content_type);
    return ba_json_feed(r->json, data, len) == 0 ? len : 0;
}

/* GETs url. For CSV, csv receives the body; for JSON, json parses it (a
 * page it stopped is CD_OK here: ba_json_finish says why).
 * Returns a cd_status with the run's message set on failure; *status_out
 * is the HTTP status (0: none). */
static int http_get(cd_run *run, const json_t *root, const char *url, ba_request *r,
                    long *status_out)
{
    const char *auth = cdc_json_str(root, "auth_type", "none");
    int is_csv = strcmp(cdc_json_str(root, "response_format", "json"), "csv") == 0;
    char *hostname = cdc_url_host(url);
    const char *hn = hostname ? hostname : "the bank API";
    CURL *c = curl_easy_init();
    struct curl_slist *headers = NULL;
    char *auth_header = NULL;
    int rc = CD_OK;
    *status_out = 0;
    if (!c) {
        hostapi->set_message(run, "curl_easy_init failed");
        free(hostname);
        return CD_ERR_TRANSIENT;
    }
    if (cdc_header_add(&headers, is_csv ? "Accept: text/csv" : "Accept: application/json") != 0) {
        hostapi->set_message(run, "out of memory building the request headers");
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    const char *secret = NULL;
    if (strcmp(auth, "bearer") == 0 && (secret = cdc_secret_str(root, "bearer_token")))
        auth_header = cdc_printf("Authorization: Bearer %s", secret);
    else if (strcmp(auth, "api_key") == 0 && (secret = cdc_secret_str(root, "api_key")))
        auth_header = cdc_printf("%s: %s", cdc_json_str(root, "api_key_header", "X-API-Key"),
                                 secret);
    if (auth_header && has_ctl(auth_header)) {
        hostapi->set_message(run, "credential or api_key_header contains control characters");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    if (auth_header && cdc_header_add(&headers, auth_header) != 0) {
        hostapi->set_message(run, "out of memory building the request headers");
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    if (strcmp(auth, "hmac_sha256") == 0 && sign_request(run, root, url, &headers) != 0) {
        rc = CD_ERR_CONFIG;
        goto out;
    }
    int basic = strcmp(auth, "basic") == 0;
    cdc_request req = {.url = url,
                       .headers = headers,
                       .write_cb = ba_body,
                       .write_data = r,
                       .header_cb = ba_header,
                       .header_data = r,
                       .basic_user = basic ? cdc_json_str(root, "username", "") : NULL,
                       .basic_password = basic ? cdc_secret_str(root, "password") : NULL,
                       .config_timeout_s = (long)cdc_json_int(root, "timeout_seconds", 0),
                       .ca_bundle = cdc_json_str(root, "ca_bundle", NULL)};
    rc = cdc_curl_prepare(c, &r->x, hostapi, run, &req, hn);
    if (rc != CD_OK)
        goto out;
    hostapi->log(run, CD_LOG_DEBUG, "GET %s", url);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status_out);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &r->http_version);
    if (r->not_csv) {
        /* transient: a maintenance or expired-session page passes; a wrong
         * endpoint fails every attempt and ends the run all the same */
        hostapi->set_message(run, "%s answered %s where a CSV statement was expected (an error "
                                  "or login page?)",
                             hn, r->content_type);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    if (r->csv_failed) {
        /* the CSV reader stopped: a format error, or the row callback */
        rc = CD_ERR_PERMANENT;
        goto out;
    }
    if (cc != CURLE_OK && r->json && r->json->stopped && !r->too_big &&
        cdc_http_data_status(*status_out)) {
        rc = CD_OK; /* the parser stopped the transfer; the caller reports why */
        goto out;
    }
    if (cc != CURLE_OK) {
        const char *why = r->x.errbuf[0] ? r->x.errbuf : curl_easy_strerror(cc);
        rc = r->too_big ? CD_ERR_PERMANENT : cdc_status_for_curl(cc, &r->x);
        if (r->too_big)
            hostapi->set_message(run, "response from %s exceeds %u bytes", hn, MAX_BODY);
        else if (rc == CD_CANCELLED)
            hostapi->set_message(run, "cancelled while talking to %s", hn);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            hostapi->set_message(run, "timed out after %ld ms waiting for %s: %s", r->x.timeout_ms,
                                 hn, why);
        else if (rc == CD_ERR_CONFIG)
            hostapi->set_message(run, "TLS or URL problem talking to %s: %s", hn, why);
        else
            hostapi->set_message(run, "cannot reach %s: %s", hn, why);
        goto out;
    }
    if (!cdc_http_data_status(*status_out)) {
        rc = cdc_status_for_http(*status_out);
        cdc_status_message(hostapi, run, *status_out, &r->x);
        if (r->x.retry_after) {
            hostapi->log(run, CD_LOG_WARNING, "%s asks to retry after %s", hn, r->x.retry_after);
            cdc_note_retry_after(hostapi, run, r->x.retry_after);
        }
        if (r->body.len)
            hostapi->log(run, CD_LOG_INFO, "response body starts: %.200s", r->body.data);
        goto out;
    }
out:
    curl_slist_free_all(headers);
    free(auth_header);
    curl_easy_cleanup(c);
    free(hostname);
    return rc;
}

static void request_free(ba_request *r)
{
    cdc_xfer_cleanup(&r->x);
    free(r->link);
    free(r->cursor);
    free(r->content_type);
    cdc_buf_free(&r->body);
    cdc_csv_free(r->csv);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ */
/* Pages                                                               */
/* ------------------------------------------------------------------ */

typedef struct ba_pager {
    const char *type;    /* none page offset cursor link */
    const json_t *pg;
    long long page;      /* page number (type page) */
    long long offset;    /* records so far (type offset) */
    char *cursor;        /* cursor to send (type cursor) */
    long long page_size;
    long long max_pages;
} ba_pager;

/* The first URL, or the next for page/offset/cursor paging. */
static char *page_url(const json_t *root, const char *date, const ba_pager *pg)
{
    const char *base = cdc_json_str(root, "base_url", "");
    char *ep = cdc_expand_date_placeholders(cdc_json_str(root, "endpoint", ""), date);
    if (!ep)
        return NULL;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    const char *e = ep[0] == '/' ? ep + 1 : ep;
    cdc_buf b = {0};
    char *first = cdc_printf("%.*s/%s", (int)n, base, e);
    free(ep);
    if (!first)
        return NULL;
    int rc = cdc_buf_append(&b, first, strlen(first));
    free(first);
    char sep = strchr(b.data ? b.data : "", '?') ? '&' : '?';
    char *q = NULL;
    const char *size_param = cdc_json_str(pg->pg, "size_param", NULL);
    if (strcmp(pg->type, "page") == 0) {
        q = size_param ? cdc_printf("%c%s=%lld&%s=%lld", sep, cdc_json_str(pg->pg, "page_param", "page"),
                                    pg->page, size_param, pg->page_size)
                       : cdc_printf("%c%s=%lld", sep, cdc_json_str(pg->pg, "page_param", "page"),
                                    pg->page);
    } else if (strcmp(pg->type, "offset") == 0) {
        q = cdc_printf("%c%s=%lld&%s=%lld", sep, cdc_json_str(pg->pg, "offset_param", "offset"),
                       pg->offset, cdc_json_str(pg->pg, "limit_param", "limit"), pg->page_size);
    } else if (strcmp(pg->type, "cursor") == 0 || strcmp(pg->type, "link") == 0) {
        char *esc = pg->cursor ? cdc_url_escape(pg->cursor) : NULL;
        if (esc && size_param)
            q = cdc_printf("%c%s=%s&%s=%lld", sep, cdc_json_str(pg->pg, "cursor_param", "cursor"),
                           esc, size_param, pg->page_size);
        else if (esc)
            q = cdc_printf("%c%s=%s", sep, cdc_json_str(pg->pg, "cursor_param", "cursor"), esc);
        else if (size_param)
            q = cdc_printf("%c%s=%lld", sep, size_param, pg->page_size);
        else
            q = strdup("");
        free(esc);
    } else {
        q = strdup("");
    }
    if (rc != 0 || !q || cdc_buf_append(&b, q, strlen(q)) != 0) {
        free(q);
        cdc_buf_free(&b);
        return NULL;
    }
    free(q);
    return b.data;
}

static void pager_init(const json_t *root, ba_pager *p)
{
    memset(p, 0, sizeof *p);
    p->pg = json_object_get(root, "pagination");
    p->type = cdc_json_str(p->pg, "type", "none");
    p->page = cdc_json_int(p->pg, "start_page", 1);
    p->page_size = cdc_json_int(p->pg, "page_size", 100);
    p->max_pages = strcmp(p->type, "none") == 0 ? 1 : cdc_json_int(p->pg, "max_pages", 1000);
}

/* Counts a test's rows without loading them. */
static int count_row(void *ud, const char *const *fields, const size_t *lens, size_t nfields,
                     uint64_t line)
{
    (*(uint64_t *)ud)++;
    return 0;
}

static int is_csv(const json_t *root)
{
    return strcmp(cdc_json_str(root, "response_format", "json"), "csv") == 0;
}

static int csv_header(const json_t *root)
{
    return !json_is_false(json_object_get(json_object_get(root, "csv"), "header"));
}

static char csv_delim(const json_t *root)
{
    return cdc_json_str(json_object_get(root, "csv"), "delimiter", ",")[0];
}

static int test(cd_run *run)
{
    json_error_t err;
    json_t *root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!root) {
        hostapi->set_message(run, "connection_config is not valid JSON: %s", err.text);
        return CD_ERR_CONFIG;
    }
    int rc = CD_OK;
    char *url = NULL;
    ba_request r;
    memset(&r, 0, sizeof r);
    ba_json json;
    memset(&json, 0, sizeof json);
    uint64_t rows = 0;
    if (check_config(run, root) > 0) {
        hostapi->test_step(run, "config", 0, "connection_config is invalid (see the log)");
        hostapi->set_message(run, "connection_config is invalid (see the run's log)");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    hostapi->test_step(run, "config", 1, "auth %s, %s", cdc_json_str(root, "auth_type", "none"),
                       cdc_json_str(root, "response_format", "json"));
    ba_pager pg;
    pager_init(root, &pg);
    url = page_url(root, hostapi->run_info(run)->run_date, &pg);
    if (!url) {
        hostapi->set_message(run, "cannot build the URL for %s", hostapi->run_info(run)->run_date);
        rc = CD_ERR_CONFIG;
        goto out;
    }
    if (is_csv(root) && !(r.csv = cdc_csv_new(csv_delim(root), 0, count_row, &rows))) {
        hostapi->set_message(run, "out of memory");
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    if (!is_csv(root)) {
        if (ba_json_init(&json, run, root, NULL, 1, 0, 0) != 0) {
            rc = CD_ERR_TRANSIENT;
            goto out;
        }
        r.json = &json;
    }
    long status = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = http_get(run, root, url, &r, &status);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ms = (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    char num[32];
    snprintf(num, sizeof num, "%lld", ms);
    hostapi->set_detail(run, "latency_ms", num);
    snprintf(num, sizeof num, "%ld", status);
    hostapi->set_detail(run, "http_status", num);
    hostapi->test_step(run, "request", status != 0, "GET %s%s", url, status ? "" : ": no response");
    if (status)
        hostapi->test_step(run, "status", cdc_http_data_status(status), "HTTP %ld in %lld ms",
                           status, ms);
    if (rc == CD_OK && r.csv) {
        if (cdc_csv_finish(r.csv) != 0) {
            hostapi->set_message(run, "malformed CSV from the bank API: %s", cdc_csv_error(r.csv));
            rc = CD_ERR_PERMANENT;
        } else if (csv_header(root) && rows > 0) {
            rows--;
        }
    } else if (rc == CD_OK && status == 204) {
        rows = 0; /* No Content: an empty page */
    } else if (rc == CD_OK) {
        int kind = ba_json_finish(&json);
        if (kind == BJ_MARKUP) {
            hostapi->set_message(run, "the bank API answered %s where a JSON statement was "
                                      "expected (an error or login page?)", r.content_type);
            rc = CD_ERR_TRANSIENT;
        } else if (kind == BJ_STOP) {
            hostapi->set_message(run, "%s", json.message);
            rc = json.rc;
        } else if (kind != BJ_OK) {
            hostapi->set_message(run, "the response has no JSON array at records_path \"%s\"",
                                 cdc_json_str(root, "records_path", ""));
            rc = CD_ERR_PERMANENT;
        } else {
            rows = json.count;
        }
    } else if (r.csv_failed) {
        hostapi->set_message(run, "malformed CSV from the bank API: %s", cdc_csv_error(r.csv));
    }
    if (cdc_http_data_status(status))
        hostapi->test_step(run, "rows", rc == CD_OK, "%llu record(s) on the first page",
                           (unsigned long long)rows);
    if (rc == CD_OK) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)rows);
        hostapi->set_detail(run, "rows_seen", num);
        hostapi->set_message(run, "bank API reachable: HTTP %ld in %lld ms, %llu record(s) on the "
                                  "first page for %s", status, ms, (unsigned long long)rows,
                             hostapi->run_info(run)->run_date);
    }
out:
    request_free(&r);
    ba_json_free(&json);
    free(url);
    json_decref(root);
    return rc;
}

/* Prepares the CSV column indexes that do not depend on a header row. */
static void csv_fixed_columns(const json_t *root, ba_map *m)
{
    for (size_t c = 0; c < m->n; c++)
        m->csv_idx[c] = m->keys[c] && !csv_header(root) ? atoi(m->keys[c]) - 1 : -1;
}

/* Fetches and emits one page. *count: records in it; *next: what the page
 * says comes next (cursor or link, malloc'd) for cursor/link paging;
 * digest: the SHA-256 fingerprint of its records (digest_record). */
static int one_page(cd_run *run, const json_t *root, ba_map *m, const char *url, long pageno,
                    uint64_t *count, char **next, unsigned char digest[SHA256_LEN],
                    long *status_out)
{
    ba_request r;
    memset(&r, 0, sizeof r);
    *count = 0;
    *next = NULL;
    memset(digest, 0, SHA256_LEN);
    m->page_digest = EVP_MD_CTX_new();
    if (!m->page_digest || !EVP_DigestInit_ex(m->page_digest, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(m->page_digest);
        m->page_digest = NULL;
        hostapi->set_message(run, "out of memory");
        return CD_ERR_TRANSIENT;
    }
    const ba_pager *unused = NULL;
    (void)unused;
    const json_t *pgc = json_object_get(root, "pagination");
    const char *type = cdc_json_str(pgc, "type", "none");
    r.cursor_header = strcmp(type, "cursor") == 0 ? cdc_json_str(pgc, "cursor_header", NULL) : NULL;
    csv_page cp = {.run = run, .m = m, .header = csv_header(root), .delim = csv_delim(root),
                   .page = pageno, .rc = CD_OK};
    ba_json json;
    memset(&json, 0, sizeof json);
    if ((is_csv(root) && !(r.csv = cdc_csv_new(csv_delim(root), 0, csv_row, &cp))) ||
        (!is_csv(root) &&
         ba_json_init(&json, run, root, m, pageno, 1, strcmp(type, "cursor") == 0) != 0)) {
        EVP_MD_CTX_free(m->page_digest);
        m->page_digest = NULL;
        request_free(&r);
        hostapi->set_message(run, "out of memory");
        return CD_ERR_TRANSIENT;
    }
    if (!is_csv(root))
        r.json = &json;
    long status = 0;
    int rc = http_get(run, root, url, &r, &status);
    *status_out = status;
    if (rc == CD_OK && status == 204) {
        /* No Content: the bank's way of saying the page is empty (one
         * past the end), not a malformed or headerless statement */
        EVP_MD_CTX_free(m->page_digest);
        m->page_digest = NULL;
        request_free(&r);
        ba_json_free(&json);
        return CD_OK;
    }
    if (r.csv && rc == CD_OK && r.body_bytes && r.last_byte != '\n' && r.last_byte != '\r' &&
        !r.has_length && !r.chunked && r.http_version != CURL_HTTP_VERSION_2_0 &&
        r.http_version != CURL_HTTP_VERSION_3) {
        /* A body that ends when the connection does has no length to be
         * held to: cut off inside its last line, that line would load a
         * shortened amount or reference ("12" of "1234.56") and the lines
         * after it would be missing, as if the day were complete. */
        char *hn = cdc_url_host(url);
        hostapi->set_message(run, "the CSV from %s (page %ld) stops inside a line after %llu "
                                  "bytes, on a connection that gave no length: cut short?",
                             hn ? hn : "the bank API", pageno,
                             (unsigned long long)r.body_bytes);
        free(hn);
        rc = CD_ERR_TRANSIENT;
    }
    if (r.csv && rc == CD_OK && cdc_csv_finish(r.csv) != 0)
        r.csv_failed = 1, rc = CD_ERR_PERMANENT;
    if (r.csv_failed) {
        if (cp.rc != CD_OK)
            rc = cp.rc; /* message set by csv_row */
        else
            hostapi->set_message(run, "malformed CSV from the bank API (page %ld): %s", pageno,
                                 cdc_csv_error(r.csv));
    }
    if (rc == CD_OK && r.csv && pageno == 1 && cp.header) {
        /* Not even the header row: an empty 200 (a proxy or a bank batch
         * not run yet) is no statement of an empty day, which has its
         * header. Loaded, the day would pass as one without a line. */
        char *hn = cdc_url_host(url);
        hostapi->set_message(run, "%s answered no CSV header row (%llu bytes) where a statement "
                                  "was expected",
                             hn ? hn : "the bank API", (unsigned long long)r.body_bytes);
        free(hn);
        rc = CD_ERR_TRANSIENT;
    }
    /* An empty cursor header is no cursor, as an empty one in a body is:
     * sent back as "cursor=", it would ask for the first page again. */
    if (r.cursor && !r.cursor[strspn(r.cursor, " \t")]) {
        free(r.cursor);
        r.cursor = NULL;
    }
    if (rc == CD_OK && r.csv) {
        *count = cp.count;
        if (r.cursor)
            *next = strdup(r.cursor);
    } else if (rc == CD_OK) {
        int kind = ba_json_finish(&json);
        *count = json.count;
        if (kind == BJ_MARKUP) {
            /* transient, as for CSV: a maintenance or expired-session page
             * passes; one that stays fails every attempt all the same */
            char *hn = cdc_url_host(url);
            hostapi->set_message(run, "%s answered %s where a JSON statement was expected (an "
                                      "error or login page?), page %ld",
                                 hn ? hn : "the bank API", r.content_type, pageno);
            free(hn);
            rc = CD_ERR_TRANSIENT;
        } else if (kind != BJ_OK) {
            hostapi->set_message(run, "%s", json.message);
            rc = json.rc;
        } else if (json.want_cursor) {
            *next = ba_json_cursor(&json);
        }
        if (rc == CD_OK && !*next && r.cursor)
            *next = strdup(r.cursor);
    }
    if (rc == CD_OK && strcmp(type, "link") == 0 && r.link) {
        char *n = bank_api_link_next(r.link);
        if (n) {
            *next = follow_link(run, cdc_json_str(root, "base_url", ""), url, n);
            free(n);
            if (!*next)
                rc = CD_ERR_PERMANENT;
        }
    }
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(m->page_digest, digest, &dlen);
    EVP_MD_CTX_free(m->page_digest);
    m->page_digest = NULL;
    request_free(&r);
    ba_json_free(&json);
    return rc;
}

/* Fingerprints of what a listing has asked for already: the URL of every
 * cursor or link page, so that a listing sent back to an earlier page
 * stops there instead of going round until max_pages. Pages are added in
 * their order (page 1, 2, ...), so a page's number is its place in fps[];
 * an open-addressing table of places (0: empty) finds a fingerprint.
 * A fingerprint is the first 64 bits of the URL's SHA-256: two different
 * URLs of a 1,000,000-page listing share one with a chance of some 3 in
 * 10^8. Some 16 bytes a page (16 MB at the 1,000,000-page maximum); whole
 * digests in a table at most half full took 80 MB there, 120 MB while it
 * grew. */
typedef struct seen_set {
    uint64_t *fps;   /* per page, in order */
    size_t n, fcap;
    uint32_t *slots; /* 1 + a place in fps, or 0 */
    size_t cap;      /* slots: a power of two, at least twice n */
} seen_set;

static size_t seen_slot(const seen_set *s, uint64_t fp)
{
    size_t i = (size_t)fp & (s->cap - 1);
    while (s->slots[i] && s->fps[s->slots[i] - 1] != fp)
        i = (i + 1) & (s->cap - 1);
    return i;
}

/* The page (1-based, in the order added) that first asked for text, or 0
 * after adding it as page n + 1; -1 when out of memory. */
static long seen_add(seen_set *s, const char *text)
{
    unsigned char d[SHA256_LEN];
    unsigned int dlen = 0;
    if (!EVP_Digest(text, strlen(text), d, &dlen, EVP_sha256(), NULL))
        return -1;
    uint64_t fp;
    memcpy(&fp, d, sizeof fp);
    if (s->n >= UINT32_MAX - 1)
        return -1;
    if (s->n + 1 > s->cap / 2) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint32_t *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return -1;
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
        for (size_t k = 0; k < s->n; k++)
            s->slots[seen_slot(s, s->fps[k])] = (uint32_t)(k + 1);
    }
    size_t i = seen_slot(s, fp);
    if (s->slots[i])
        return (long)s->slots[i];
    if (s->n == s->fcap) {
        size_t fcap = s->fcap ? s->fcap * 2 : 64;
        uint64_t *fps = realloc(s->fps, fcap * sizeof *fps);
        if (!fps)
            return -1;
        s->fps = fps;
        s->fcap = fcap;
    }
    s->fps[s->n++] = fp;
    s->slots[i] = (uint32_t)s->n;
    return 0;
}

static void seen_free(seen_set *s)
{
    free(s->fps);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

static int run_driver(cd_run *run)
{
    json_error_t err;
    json_t *root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!root) {
        hostapi->set_message(run, "connection_config is not valid JSON: %s", err.text);
        return CD_ERR_CONFIG;
    }
    int rc = CD_OK;
    ba_map m;
    memset(&m, 0, sizeof m);
    ba_pager pg;
    char *url = NULL;
    seen_set seen = {0};
    pager_init(root, &pg);
    if (check_config(run, root) > 0) {
        hostapi->set_message(run, "connection_config is invalid (see the run's log)");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    if ((rc = map_build(run, root, &m)) != CD_OK)
        goto out;
    csv_fixed_columns(root, &m);
    rc = hostapi->records_begin(run, m.targets, m.n);
    if (rc != CD_OK) {
        hostapi->set_message(run, "the host refused the record columns");
        goto out;
    }
    const char *date = hostapi->run_info(run)->run_date;
    url = page_url(root, date, &pg);
    uint64_t total = 0;
    int ends_empty = strcmp(pg.type, "page") == 0 || strcmp(pg.type, "offset") == 0;
    unsigned char digest[SHA256_LEN], prev_digest[SHA256_LEN];
    uint64_t prev_count = 0;
    if (!ends_empty && url && seen_add(&seen, url) < 0) {
        hostapi->set_message(run, "out of memory");
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    for (long pages = 0;; pages++) {
        if (!url) {
            hostapi->set_message(run, "cannot build the URL for page %ld", pages + 1);
            rc = CD_ERR_CONFIG;
            break;
        }
        if (hostapi->is_cancelled(run)) {
            hostapi->set_message(run, "cancelled");
            rc = CD_CANCELLED;
            break;
        }
        /* The empty page that ends a page or offset listing is asked for
         * even after max_pages pages: it carries no records, and a day of
         * exactly max_pages pages must still load. */
        int probe = pages == pg.max_pages;
        if (probe && !ends_empty) {
            hostapi->set_message(run, "the bank API has more than pagination.max_pages (%lld) "
                                      "pages for %s; raise max_pages", pg.max_pages, date);
            rc = CD_ERR_CONFIG;
            break;
        }
        uint64_t count = 0;
        char *next = NULL;
        long status = 0;
        rc = one_page(run, root, &m, url, pages + 1, &count, &next, digest, &status);
        if (rc == CD_ERR_CONFIG && (status == 401 || status == 403) && pages > 0) {
            /* The credential was good for the pages before: it expired
             * or was rotated during the listing (a file: or cred: secret
             * a retry reads again), not a configuration to fix. */
            hostapi->set_message(run, "API responded with status %ld: %s on page %ld after %ld "
                                      "page(s) were answered with the same credential (expired "
                                      "during the run?)",
                                 status, cdc_http_reason(status, NULL), pages + 1, pages);
            rc = CD_ERR_TRANSIENT;
        }
        if (rc == CD_OK && ends_empty && count > 0 && count == prev_count &&
            memcmp(digest, prev_digest, SHA256_LEN) == 0) {
            /* A bank that ignores the page or offset parameter, or clamps
             * it to its last page, answers the same records forever: no
             * empty page ever ends the listing. */
            hostapi->set_message(run, "page %ld of the bank API repeats page %ld record for "
                                      "record: it ignores or clamps pagination.%s; stopping "
                                      "instead of asking again until max_pages",
                                 pages + 1, pages,
                                 strcmp(pg.type, "page") == 0
                                     ? cdc_json_str(pg.pg, "page_param", "page")
                                     : cdc_json_str(pg.pg, "offset_param", "offset"));
            rc = CD_ERR_PERMANENT;
        }
        memcpy(prev_digest, digest, SHA256_LEN);
        prev_count = count;
        if (rc == CD_OK && probe && count > 0) {
            hostapi->set_message(run, "the bank API has more than pagination.max_pages (%lld) "
                                      "pages for %s; raise max_pages", pg.max_pages, date);
            rc = CD_ERR_CONFIG;
        }
        if (rc != CD_OK) {
            free(next);
            break;
        }
        total += count;
        hostapi->progress(run, total, 0);
        char *nurl = NULL;
        if (count == 0) {
            /* an empty page ends every kind of listing, whatever it links to */
        } else if (ends_empty) {
            /* A page shorter than page_size is not the last: a bank that
             * caps its pages (100 when 500 were asked) sends short pages
             * all day, and stopping there would load a fifth of it as
             * SUCCESS. The offset moves by what came, not by page_size. */
            pg.page++;
            pg.offset += (long long)count;
            nurl = page_url(root, date, &pg);
        } else if (strcmp(pg.type, "cursor") == 0 && next) {
            if (pg.cursor && strcmp(pg.cursor, next) == 0) {
                hostapi->set_message(run, "the bank API answered the same cursor \"%.100s\" "
                                          "twice; stopping instead of looping", next);
                free(next);
                rc = CD_ERR_PERMANENT;
                break;
            }
            free(pg.cursor);
            pg.cursor = next;
            next = NULL;
            nurl = page_url(root, date, &pg);
        } else if (strcmp(pg.type, "link") == 0 && next) {
            if (strcmp(next, url) == 0) {
                hostapi->set_message(run, "the next-page link points to the page itself");
                free(next);
                rc = CD_ERR_PERMANENT;
                break;
            }
            nurl = next;
            next = NULL;
        }
        free(next);
        if (nurl && !ends_empty) {
            /* A -> B -> A: a cursor or link back to any earlier page would
             * go round until max_pages, every round loading the same
             * records again. */
            long first = seen_add(&seen, nurl); /* as page pages + 2 */
            if (first != 0) {
                if (first < 0)
                    hostapi->set_message(run, "out of memory");
                else
                    hostapi->set_message(run, "the bank API's %s after page %ld leads back to "
                                              "page %ld; stopping instead of looping",
                                         strcmp(pg.type, "cursor") == 0 ? "cursor" : "next link",
                                         pages + 1, first);
                rc = first < 0 ? CD_ERR_TRANSIENT : CD_ERR_PERMANENT;
                free(nurl);
                break;
            }
        }
        if (!nurl)
            break; /* no more pages */
        free(url);
        url = nurl;
    }
    if (rc == CD_OK) {
        char n[32];
        snprintf(n, sizeof n, "%llu", (unsigned long long)total);
        hostapi->set_detail(run, "records_read", n);
        hostapi->log(run, CD_LOG_INFO, "%llu record(s) read", (unsigned long long)total);
    }
out:
    seen_free(&seen);
    free(url);
    free(pg.cursor);
    map_free(&m);
    json_decref(root);
    return rc;
}

int bank_api_emit_body(cd_run *run, const char *body, size_t len, uint64_t *count)
{
    return bank_api_emit_chunks(run, body, len, 0, count);
}

int bank_api_emit_chunks(cd_run *run, const char *body, size_t len, size_t chunk,
                         uint64_t *count)
{
    json_error_t err;
    json_t *root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!root)
        return CD_ERR_CONFIG;
    ba_map m = {0}; /* freed on every path, built or not */
    int rc = check_config(run, root) ? CD_ERR_CONFIG : map_build(run, root, &m);
    if (rc == CD_OK)
        csv_fixed_columns(root, &m);
    if (rc == CD_OK)
        rc = hostapi->records_begin(run, m.targets, m.n);
    *count = 0;
    if (rc == CD_OK && is_csv(root)) {
        csv_page cp = {.run = run, .m = &m, .header = csv_header(root), .delim = csv_delim(root),
                       .page = 1, .rc = CD_OK};
        cdc_csv *c = cdc_csv_new(csv_delim(root), 0, csv_row, &cp);
        if (!c)
            rc = CD_ERR_TRANSIENT;
        else if (cdc_csv_feed(c, body, len) != 0 || cdc_csv_finish(c) != 0)
            rc = cp.rc != CD_OK ? cp.rc : CD_ERR_PERMANENT;
        *count = cp.count;
        cdc_csv_free(c);
    } else if (rc == CD_OK) {
        ba_json j;
        if (ba_json_init(&j, run, root, &m, 1, 1, 1) != 0) {
            rc = CD_ERR_TRANSIENT;
        } else {
            size_t step = chunk ? chunk : (len ? len : 1);
            for (size_t off = 0; off < len; off += step)
                if (ba_json_feed(&j, body + off, len - off < step ? len - off : step) != 0)
                    break;
            if (ba_json_finish(&j) != BJ_OK) {
                hostapi->set_message(run, "%s", j.message ? j.message : "not JSON");
                rc = j.rc;
            }
            *count = j.count;
            ba_json_free(&j);
        }
    }
    map_free(&m);
    json_decref(root);
    return rc;
}

long bank_api_seen_check(size_t pages, size_t again, size_t *bytes)
{
    seen_set s = {0};
    long first = 0;
    char url[96];
    for (size_t p = 1; first == 0 && p <= pages + (again ? 1 : 0); p++) {
        snprintf(url, sizeof url, "https://bank.example/statements?cursor=c%zu",
                 p <= pages ? p : again);
        first = seen_add(&s, url);
    }
    *bytes = s.fcap * sizeof *s.fps + s.cap * sizeof *s.slots;
    seen_free(&s);
    return first;
}

static int bank_api_init(const cd_host_api *h, cd_driver_callbacks *cb)
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

CONNECTORD_DRIVER(bank_api_magic, bank_api_init)
