/*
 * bank_api.c — the built-in BANK_API driver: bank statements from a bank's
 * HTTP JSON API.
 *
 * The endpoint is a template ({date}, {YYYYMMDD}, {DDMMYYYY} become the run
 * date). A response is a JSON document whose records live at records_path
 * ("data.transactions"; empty: the document is the array); `columns` maps
 * each target column to the item key it comes from. Numbers are passed as
 * the exact text the bank sent (yajl's tree keeps it), never via double.
 * Pagination: none, or "page" (a query parameter counted up until a page
 * comes back shorter than page_size or empty).
 *
 * Not in this version: response_format csv and auth_type hmac_sha256 fail
 * with CD_ERR_PERMANENT and say so.
 */
#include <connectord/plugin.h>

#include "cdc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

static const cd_host_api *hostapi;

static const cd_driver_magic bank_api_magic = CD_DRIVER_MAGIC_INIT(
    "bank_api", "1.0.0", "connectord", CD_CATEGORY_BANK_API, CD_DATASET_BANK_STATEMENT,
    "Bank statements from a bank's HTTP JSON API");

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
    "\"response_format\": {\"enum\": [\"json\", \"csv\"], \"default\": \"json\"},"
    "\"records_path\": {\"type\": \"string\", \"default\": \"\","
    "\"description\": \"Dot path to the array of records; empty: the body is the array\"},"
    "\"pagination\": {\"type\": \"object\", \"additionalProperties\": false, \"properties\": {"
    "\"type\": {\"enum\": [\"none\", \"page\"], \"default\": \"none\"},"
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

static void report(cd_run *run, const char *field, const char *fmt, ...) CD_PRINTF(3, 4);
/* config_error during validate(), the run log otherwise. */
static void report(cd_run *run, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (validating)
        hostapi->config_error(run, field, "%s", msg ? msg : "invalid");
    else
        hostapi->log(run, CD_LOG_ERROR, "connection_config.%s: %s", field, msg ? msg : "invalid");
    free(msg);
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
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
        int has_ref = 0, has_amount = 0, has_date = 0;
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
        }
        if (!has_ref || !has_amount || !has_date) {
            report(run, "columns", "must map bank_ref, amount (or amount_paise) and "
                                   "transaction_date");
            bad++;
        }
    }
    json_t *pg = json_object_get(root, "pagination");
    if (pg) {
        const char *t = cdc_json_str(pg, "type", "none");
        if (!json_is_object(pg) || (strcmp(t, "none") != 0 && strcmp(t, "page") != 0)) {
            report(run, "pagination.type", "must be none or page");
            bad++;
        }
    }
    return bad;
}

static int validate(cd_run *run)
{
    json_error_t err;
    json_t *root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!root) {
        hostapi->config_error(run, "", "connection_config is not valid JSON: %s", err.text);
        return CD_ERR_CONFIG;
    }
    validating = 1;
    int bad = check_config(run, root);
    validating = 0;
    json_decref(root);
    return bad ? CD_ERR_CONFIG : CD_OK;
}

/* Largest body buffered for one page; a statement page bigger than this is
 * a misconfigured page size, not data. */
#define MAX_BODY (64u * 1024u * 1024u)

typedef struct body_ctx {
    cdc_buf buf;
    int too_big;
} body_ctx;

static size_t body_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    body_ctx *b = userdata;
    size_t len = size * nmemb;
    if (b->buf.len + len > MAX_BODY) {
        b->too_big = 1;
        return 0;
    }
    return cdc_buf_append(&b->buf, data, len) == 0 ? len : 0;
}

/* GETs url into *body. Returns a cd_status with the message set on error;
 * *status_out is the HTTP status (0: none). */
static int http_get(cd_run *run, const json_t *root, const char *url, cdc_buf *body,
                    long *status_out)
{
    const char *auth = cdc_json_str(root, "auth_type", "none");
    char *hostname = cdc_url_host(url);
    const char *hn = hostname ? hostname : "the bank API";
    CURL *c = curl_easy_init();
    cdc_xfer x;
    body_ctx b = {{0}, 0};
    struct curl_slist *headers = NULL;
    char *auth_header = NULL;
    int rc = CD_OK;
    memset(&x, 0, sizeof x);
    *status_out = 0;
    if (!c) {
        hostapi->set_message(run, "curl_easy_init failed");
        free(hostname);
        return CD_ERR_TRANSIENT;
    }
    if (strcmp(auth, "hmac_sha256") == 0) {
        hostapi->set_message(run, "bank_api: auth_type hmac_sha256 is not available in this version");
        rc = CD_ERR_PERMANENT;
        goto out;
    }
    headers = curl_slist_append(headers, "Accept: application/json");
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
    if (auth_header)
        headers = curl_slist_append(headers, auth_header);
    CURLcode cc = cdc_curl_setup(c, &x, hostapi, run, (long)cdc_json_int(root, "timeout_seconds", 0),
                                 cdc_json_str(root, "ca_bundle", NULL));
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        hostapi->set_message(run, "no time left before the run's deadline to call %s", hn);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_URL, url);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (cc == CURLE_OK && strcmp(auth, "basic") == 0) {
        cc = curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c, CURLOPT_USERNAME, cdc_json_str(root, "username", ""));
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c, CURLOPT_PASSWORD, cdc_secret_str(root, "password"));
    }
    if (cc != CURLE_OK) {
        hostapi->set_message(run, "cannot set up the request to %s: %s", hn, curl_easy_strerror(cc));
        rc = cdc_status_for_curl(cc, &x);
        goto out;
    }
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status_out);
    if (cc != CURLE_OK) {
        const char *why = x.errbuf[0] ? x.errbuf : curl_easy_strerror(cc);
        rc = b.too_big ? CD_ERR_PERMANENT : cdc_status_for_curl(cc, &x);
        if (b.too_big)
            hostapi->set_message(run, "response from %s exceeds %u bytes", hn, MAX_BODY);
        else if (rc == CD_CANCELLED)
            hostapi->set_message(run, "cancelled while talking to %s", hn);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            hostapi->set_message(run, "timed out after %ld ms waiting for %s: %s", x.timeout_ms,
                                 hn, why);
        else
            hostapi->set_message(run, "cannot reach %s: %s", hn, why);
        goto out;
    }
    if (*status_out < 200 || *status_out > 299) {
        rc = cdc_status_for_http(*status_out);
        hostapi->set_message(run, "API responded with status %ld: %s", *status_out,
                             cdc_http_reason(*status_out, x.reason));
        if (x.retry_after)
            hostapi->log(run, CD_LOG_WARNING, "%s asks to retry after %s", hn, x.retry_after);
        goto out;
    }
    *body = b.buf;
    b.buf.data = NULL;
out:
    cdc_buf_free(&b.buf);
    cdc_xfer_cleanup(&x);
    curl_slist_free_all(headers);
    free(auth_header);
    curl_easy_cleanup(c);
    free(hostname);
    return rc;
}

/* The URL of one page (page < 0: no pagination parameters). */
static char *page_url(const json_t *root, const char *date, long page)
{
    const char *base = cdc_json_str(root, "base_url", "");
    char *ep = cdc_expand_date_placeholders(cdc_json_str(root, "endpoint", ""), date);
    if (!ep)
        return NULL;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    const char *e = ep[0] == '/' ? ep + 1 : ep;
    char *url = cdc_printf("%.*s/%s", (int)n, base, e);
    free(ep);
    if (!url || page < 0)
        return url;
    const json_t *pg = json_object_get(root, "pagination");
    const char *sep = strchr(url, '?') ? "&" : "?";
    const char *size_param = cdc_json_str(pg, "size_param", NULL);
    char *full = size_param
                     ? cdc_printf("%s%s%s=%ld&%s=%lld", url, sep,
                                  cdc_json_str(pg, "page_param", "page"), page, size_param,
                                  cdc_json_int(pg, "page_size", 100))
                     : cdc_printf("%s%s%s=%ld", url, sep, cdc_json_str(pg, "page_param", "page"),
                                  page);
    free(url);
    return full;
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
    cdc_buf body = {0};
    if (check_config(run, root) > 0) {
        hostapi->test_step(run, "config", 0, "connection_config is invalid (see the log)");
        hostapi->set_message(run, "connection_config is invalid (see the run's log)");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    const char *ptype = cdc_json_str(json_object_get(root, "pagination"), "type", "none");
    url = page_url(root, hostapi->run_info(run)->run_date,
                   strcmp(ptype, "page") == 0
                       ? (long)cdc_json_int(json_object_get(root, "pagination"), "start_page", 1)
                       : -1);
    if (!url) {
        hostapi->set_message(run, "cannot build the URL for %s", hostapi->run_info(run)->run_date);
        rc = CD_ERR_CONFIG;
        goto out;
    }
    long status = 0;
    rc = http_get(run, root, url, &body, &status);
    hostapi->test_step(run, "request", status != 0, "GET %s%s", url, status ? "" : ": no response");
    if (status)
        hostapi->test_step(run, "status", status >= 200 && status <= 299, "HTTP %ld", status);
    if (rc == CD_OK)
        hostapi->set_message(run, "bank API reachable: HTTP %ld, %zu byte(s) for %s", status,
                             body.len, hostapi->run_info(run)->run_date);
out:
    cdc_buf_free(&body);
    free(url);
    json_decref(root);
    return rc;
}

/* The records array at records_path in doc, or NULL. */
static yajl_val find_records(yajl_val doc, const char *path)
{
    if (!path || !*path)
        return YAJL_IS_ARRAY(doc) ? doc : NULL;
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    yajl_val cur = doc;
    for (char *save = NULL, *part = strtok_r(copy, ".", &save); part && cur;
         part = strtok_r(NULL, ".", &save)) {
        const char *p[2] = {part, NULL};
        cur = yajl_tree_get(cur, p, yajl_t_any);
    }
    free(copy);
    return cur && YAJL_IS_ARRAY(cur) ? cur : NULL;
}

/* Emits the items of one page. Returns a cd_status; *count the items. */
static int emit_page(cd_run *run, const json_t *root, const char **targets, const char **keys,
                     size_t ncols, int bank_name_idx, const char *body, long page, size_t *count)
{
    char errbuf[256];
    yajl_val doc = yajl_tree_parse(body, errbuf, sizeof errbuf);
    *count = 0;
    if (!doc) {
        for (size_t n = strlen(errbuf); n > 0 && isspace((unsigned char)errbuf[n - 1]);)
            errbuf[--n] = '\0';
        hostapi->set_message(run, "malformed JSON from the bank API (page %ld): %s", page, errbuf);
        return CD_ERR_PERMANENT;
    }
    const char *path = cdc_json_str(root, "records_path", "");
    yajl_val arr = find_records(doc, path);
    if (!arr) {
        hostapi->set_message(run, "no JSON array at records_path \"%s\" (page %ld)", path, page);
        yajl_tree_free(doc);
        return CD_ERR_PERMANENT;
    }
    const char *bank_name = cdc_json_str(root, "bank_name", hostapi->run_info(run)->source_entity);
    const char **values = calloc(ncols, sizeof *values);
    size_t *lengths = calloc(ncols, sizeof *lengths);
    int rc = values && lengths ? CD_OK : CD_ERR_TRANSIENT;
    for (size_t i = 0; rc == CD_OK && i < YAJL_GET_ARRAY(arr)->len; i++) {
        yajl_val item = YAJL_GET_ARRAY(arr)->values[i];
        char ref[64];
        snprintf(ref, sizeof ref, "page %ld item %zu", page, i + 1);
        (*count)++;
        if (hostapi->is_cancelled(run)) {
            hostapi->set_message(run, "cancelled");
            rc = CD_CANCELLED;
            break;
        }
        if (!YAJL_IS_OBJECT(item)) {
            hostapi->record_error(run, ref, "record is not a JSON object", NULL, 0);
            continue;
        }
        for (size_t c = 0; c < ncols; c++) {
            values[c] = NULL;
            if ((int)c == bank_name_idx) {
                values[c] = bank_name;
            } else if (strcmp(targets[c], "source_type") == 0) {
                values[c] = "CONNECTOR";
            } else {
                const char *p[2] = {keys[c], NULL};
                yajl_val v = yajl_tree_get(item, p, yajl_t_any);
                if (YAJL_IS_STRING(v))
                    values[c] = YAJL_GET_STRING(v);
                else if (YAJL_IS_NUMBER(v))
                    values[c] = YAJL_GET_NUMBER(v); /* the exact text sent */
            }
            lengths[c] = values[c] ? strlen(values[c]) : 0;
        }
        int er = hostapi->record_emit(run, values, lengths, ref);
        if (er != CD_OK) {
            hostapi->set_message(run, "the host stopped taking records");
            rc = er;
        }
    }
    free(values);
    free(lengths);
    yajl_tree_free(doc);
    return rc;
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
    const char **targets = NULL, **keys = NULL;
    if (check_config(run, root) > 0) {
        hostapi->set_message(run, "connection_config is invalid (see the run's log)");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    if (strcmp(cdc_json_str(root, "response_format", "json"), "csv") == 0) {
        hostapi->set_message(run, "bank_api run: response_format csv is not available in this "
                                  "version");
        rc = CD_ERR_PERMANENT;
        goto out;
    }
    json_t *cols = json_object_get(root, "columns");
    size_t n = json_object_size(cols) + 2;
    targets = calloc(n, sizeof *targets);
    keys = calloc(n, sizeof *keys);
    if (!targets || !keys) {
        hostapi->set_message(run, "out of memory");
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    size_t nc = 0;
    int bank_name_idx = -1, has_source_type = 0;
    const char *k;
    json_t *v;
    json_object_foreach(cols, k, v) {
        targets[nc] = k;
        keys[nc++] = json_string_value(v);
        has_source_type |= strcmp(k, "source_type") == 0;
    }
    if (!json_object_get(cols, "bank_name")) {
        bank_name_idx = (int)nc;
        targets[nc++] = "bank_name";
    }
    if (!has_source_type)
        targets[nc++] = "source_type";
    rc = hostapi->records_begin(run, targets, nc);
    if (rc != CD_OK) {
        hostapi->set_message(run, "the host refused the record columns");
        goto out;
    }
    const json_t *pg = json_object_get(root, "pagination");
    int paged = strcmp(cdc_json_str(pg, "type", "none"), "page") == 0;
    long page = paged ? (long)cdc_json_int(pg, "start_page", 1) : -1;
    long max_pages = paged ? (long)cdc_json_int(pg, "max_pages", 1000) : 1;
    size_t page_size = (size_t)cdc_json_int(pg, "page_size", 100);
    size_t total = 0;
    for (long done = 0; done < max_pages; done++, page++) {
        if (hostapi->is_cancelled(run)) {
            hostapi->set_message(run, "cancelled");
            rc = CD_CANCELLED;
            break;
        }
        char *url = page_url(root, hostapi->run_info(run)->run_date, page);
        cdc_buf body = {0};
        long status = 0;
        if (!url) {
            hostapi->set_message(run, "cannot build the URL");
            rc = CD_ERR_CONFIG;
            break;
        }
        rc = http_get(run, root, url, &body, &status);
        free(url);
        size_t count = 0;
        if (rc == CD_OK)
            rc = emit_page(run, root, targets, keys, nc, bank_name_idx,
                           body.data ? body.data : "", page < 0 ? 1 : page, &count);
        cdc_buf_free(&body);
        if (rc != CD_OK)
            break;
        total += count;
        hostapi->progress(run, total, 0);
        if (!paged || count == 0 || count < page_size)
            break;
        if (done + 1 == max_pages)
            hostapi->log(run, CD_LOG_WARNING, "stopped at max_pages %ld; more pages may exist",
                         max_pages);
    }
    if (rc == CD_OK)
        hostapi->log(run, CD_LOG_INFO, "%zu record(s) read", total);
out:
    free(targets);
    free(keys);
    json_decref(root);
    return rc;
}

static void destroy(void)
{
    curl_global_cleanup();
}

static int bank_api_init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    if (h->abi_major != CD_PLUGIN_ABI_MAJOR || !CD_HOST_HAS(h, init_error))
        return CD_ERR_PERMANENT;
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK) {
        h->init_error("curl_global_init failed: %s", curl_easy_strerror(cc));
        return CD_ERR_PERMANENT;
    }
    hostapi = h;
    cb->describe_config = describe_config;
    cb->validate = validate;
    cb->test = test;
    cb->run = run_driver;
    cb->destroy = destroy;
    return CD_OK;
}

CONNECTORD_DRIVER(bank_api_magic, bank_api_init)
