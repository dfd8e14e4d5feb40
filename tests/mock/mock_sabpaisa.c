/*
 * mock_sabpaisa.c — mock SabPaisa report API on libmicrohttpd (see
 * mock_sabpaisa.h for the behaviours).
 *
 * Stand-alone: mock_sabpaisa [--port N] [--count N] [--slow-ms N]
 * [--bearer TOKEN] [--basic USER:PASSWORD] [--fail-first K] [--fail-status S]
 * [--expire-after K];
 * prints the bound port on stdout (useful with port 0) and serves until
 * SIGINT/SIGTERM. Built with MOCK_SABPAISA_NO_MAIN the same code runs
 * inside a test process.
 *
 * Thread per connection, so a SLOW request stalls only its own connection.
 */
#include "mock_sabpaisa.h"
#include "mock_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mock_sabpaisa {
    struct MHD_Daemon *daemon;
    mock_sabpaisa_opts opts;
    atomic_int stopping;
    atomic_ulong requests;
    atomic_ulong failed_first; /* requests answered by --fail-first so far */
    atomic_ulong authorized;   /* requests counted against --expire-after */
    pthread_mutex_t lock;
    char *last_path;
};

/* State of one streamed, generated response. */
typedef struct gen_state {
    char code[65];
    char date[11];
    unsigned long long count, next;
    int opened, closed;
    int cut;      /* CUT: break the connection inside item `count` */
    char cur[768];
    size_t cur_len, cur_off;
} gen_state;

/* Renders item i (or the brackets) into st->cur; 0 when all is sent, -1
 * when a CUT response must break off now. */
static int gen_next_piece(gen_state *st)
{
    int n;
    if (!st->opened) {
        st->opened = 1;
        n = snprintf(st->cur, sizeof st->cur, "[");
    } else if (st->next < st->count) {
        unsigned long long i = st->next++;
        unsigned long long rupees = i % 100000 + 1, paise = i % 100;
        n = snprintf(st->cur, sizeof st->cur,
                     "%s{\"transaction_id\":\"SP%s-%s-%llu\",\"client_code\":\"%s\","
                     "\"client_name\":\"Merchant %s\",\"payee_amount\":\"%llu.%02llu\","
                     "\"paid_amount\":%llu.%02llu,\"trans_date\":\"%s 10:15:%02llu\","
                     "\"payment_mode\":\"UPI\",\"utr\":\"UTR%012llu\",\"rrn\":\"RRN%llu\","
                     "\"approval_code\":\"AP%llu\",\"transaction_status\":\"SUCCESS\","
                     "\"pg_name\":\"SABPAISA\",\"settlement_amount\":\"%llu.%02llu\"}",
                     i ? "," : "", st->date, st->code, i, st->code, st->code, rupees, paise,
                     rupees, paise, st->date, i % 60, i, i, i, rupees, paise);
    } else if (st->cut) {
        /* half an item, then the reader reports an error: MHD drops the
         * connection without the final chunk, as a dying upstream would */
        if (st->cut == 2)
            return -1;
        st->cut = 2;
        n = snprintf(st->cur, sizeof st->cur, "%s{\"transaction_id\":\"CUT",
                     st->count ? "," : "");
    } else if (!st->closed) {
        st->closed = 1;
        n = snprintf(st->cur, sizeof st->cur, "]");
    } else {
        return 0;
    }
    st->cur_len = n > 0 && (size_t)n < sizeof st->cur ? (size_t)n : 0;
    st->cur_off = 0;
    return 1;
}

static ssize_t gen_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    gen_state *st = cls;
    size_t out = 0;
    while (out < max) {
        if (st->cur_off == st->cur_len) {
            int more = gen_next_piece(st);
            if (more < 0) {
                if (out > 0) /* hand over what is ready; fail on the next call */
                    break;
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            if (!more)
                break;
        }
        size_t n = st->cur_len - st->cur_off;
        if (n > max - out)
            n = max - out;
        memcpy(buf + out, st->cur + st->cur_off, n);
        st->cur_off += n;
        out += n;
    }
    if (out == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)out;
}

static void gen_free(void *cls)
{
    free(cls);
}

/* ENDLESS: an id that never ends, 8 MiB of it, then the stream closes. */
#define ENDLESS_BYTES (8u * 1024 * 1024)
static const char endless_head[] = "[{\"transaction_id\":\"";

static ssize_t endless_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= ENDLESS_BYTES)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = 0;
    for (; n < max && pos + n < ENDLESS_BYTES; n++)
        buf[n] = pos + n < sizeof endless_head - 1 ? endless_head[pos + n] : 'A';
    return (ssize_t)n;
}

/* Queues a fixed body with a status and JSON content type. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *retry_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry_after)
        MHD_add_response_header(r, "Retry-After", retry_after);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static const char amounts_body[] =
    "[{\"transaction_id\":\"A1\",\"client_code\":\" abc \",\"payee_amount\":\"10.10\","
    "\"trans_date\":\"2025-01-02 10:00:00\"},"
    "{\"txn_id\":\"A2\",\"client_code\":\"ABC\",\"paid_amount\":10.1,"
    "\"trans_date\":\"02-01-2025 11:30:00\",\"pg_pay_mode\":\"CARD\"},"
    "{\"transaction_id\":\"A3\",\"client_code\":\"ABC\",\"payee_amount\":10,"
    "\"trans_complete_date\":\"2025-01-02\",\"extra\":{\"nested\":[1,2,{\"x\":\"y\"}]}},"
    "{\"transaction_id\":\"A4\",\"client_code\":\"ABC\",\"payee_amount\":\"0.5\","
    "\"paid_amount\":\"99.99\",\"trans_date\":\"2025-01-02 23:59:59\",\"utr\":\"U4\","
    "\"rrn\":\"R4\",\"approval_code\":\"G4\",\"transaction_status\":\"SUCCESS\","
    "\"payment_mode\":\"NB\",\"pg_name\":\"SABPAISA\",\"settlement_amount\":\"0.45\"}]";

/* Every amount form the gateway sends (string/number, 0-2 decimals), the
 * date forms, and client codes that need trimming and upper-casing. */
static const char mixed_body[] =
    "[{\"transaction_id\":\"M1\",\"client_code\":\" mix1 \",\"payee_amount\":\"10.10\","
    "\"trans_date\":\"2025-01-02 10:00:00\",\"utr\":\"UTRM1\",\"settlement_amount\":\"9.90\"},"
    "{\"txn_id\":\"M2\",\"client_code\":\"Mix1\",\"paid_amount\":10.1,"
    "\"trans_date\":\"02-01-2025 11:30:00\",\"pg_pay_mode\":\"CARD\"},"
    "{\"transaction_id\":\"M3\",\"client_code\":\"mix1\",\"payee_amount\":10,"
    "\"trans_complete_date\":\"2025-01-02\"},"
    "{\"transaction_id\":\"M4\",\"client_code\":\"MIX1\",\"payee_amount\":\"0.5\","
    "\"trans_date\":\"2025-01-02 23:59:59\"},"
    "{\"transaction_id\":\"M5\",\"client_code\":\"\\tmix2\",\"payee_amount\":\"25\","
    "\"trans_date\":\"2025-01-02T00:00:01\"},"
    "{\"transaction_id\":\"M6\",\"client_code\":\"MIX2\",\"payee_amount\":7.25,"
    "\"trans_date\":\"2025-01-02 18:30:00+05:30\"},"
    "{\"transaction_id\":\"M7\",\"client_code\":\"mix2\",\"payee_amount\":\"1234567.89\","
    "\"trans_date\":\"2025/01/02 12:00:00\",\"pg_name\":\"SABPAISA-UPI\"}]";

/* Bad rows among good ones: no id, non-numeric amounts, invalid UTF-8 in a
 * mapped field (utr) and in a field nobody maps (remarks). */
static const char badrows_body[] =
    "[{\"transaction_id\":\"R1\",\"client_code\":\"BAD\",\"payee_amount\":\"1.00\","
    "\"trans_date\":\"2025-01-02 10:00:00\"},"
    "{\"client_code\":\"BAD\",\"payee_amount\":\"2.00\",\"trans_date\":\"2025-01-02 10:00:00\"},"
    "{\"transaction_id\":\"R3\",\"client_code\":\"BAD\",\"payee_amount\":\"12.3x\","
    "\"trans_date\":\"2025-01-02 10:00:00\"},"
    "{\"transaction_id\":\"R4\",\"client_code\":\"BAD\",\"payee_amount\":\"abc\","
    "\"trans_date\":\"2025-01-02 10:00:00\"},"
    "{\"transaction_id\":\"R5\",\"client_code\":\"BAD\",\"payee_amount\":\"5.00\","
    "\"trans_date\":\"2025-01-02 10:00:00\",\"utr\":\"U\xff\xfe" "5\"},"
    "{\"transaction_id\":\"R6\",\"client_code\":\"BAD\",\"payee_amount\":\"6.00\","
    "\"trans_date\":\"2025-01-02 10:00:00\",\"remarks\":\"\xc3\x28\"}]";

/* JSON's \u0000 inside an id, an amount and a utr; one clean item. */
static const char nuls_body[] =
    "[{\"transaction_id\":\"T1\\u0000A\",\"client_code\":\"NULS\",\"payee_amount\":\"10.00\","
    "\"trans_date\":\"2025-01-02 10:00:00\"},"
    "{\"transaction_id\":\"T1\\u0000B\",\"client_code\":\"NULS\",\"payee_amount\":\"20.00\","
    "\"trans_date\":\"2025-01-02 11:00:00\"},"
    "{\"transaction_id\":\"Z1\",\"client_code\":\"NULS\",\"payee_amount\":\"10\\u0000.99\","
    "\"trans_date\":\"2025-01-02 12:00:00\"},"
    "{\"transaction_id\":\"Z2\",\"client_code\":\"NULS\",\"payee_amount\":\"3.00\","
    "\"trans_date\":\"2025-01-02 12:00:00\",\"utr\":\"UTR12\\u000034\"},"
    "{\"transaction_id\":\"OK\\\\u0000\",\"client_code\":\"NULS\",\"payee_amount\":\"4.00\","
    "\"trans_date\":\"2025-01-02 12:00:00\"}]";

static const char noid_body[] =
    "[{\"transaction_id\":\"N1\",\"client_code\":\"NOID\",\"payee_amount\":\"1.00\","
    "\"trans_date\":\"2025-01-02 10:00:00\"},"
    "{\"client_code\":\"NOID\",\"payee_amount\":\"2.00\",\"trans_date\":\"2025-01-02 10:00:00\"},"
    "{\"transaction_id\":\"N3\",\"client_code\":\"NOID\",\"payee_amount\":\"3.00\","
    "\"trans_date\":\"2025-01-02 10:00:00\"}]";

/* Empty or blank first choices next to real fallbacks. */
static const char blanks_body[] =
    "[{\"transaction_id\":\"\",\"txn_id\":\"B1\",\"client_code\":\"BLANKS\","
    "\"payee_amount\":\"1.00\",\"trans_date\":\"2025-01-02 10:00:00\"},"
    "{\"transaction_id\":\"B2\",\"client_code\":\"BLANKS\",\"payee_amount\":\" \","
    "\"paid_amount\":\"2.00\",\"trans_date\":\"2025-01-02 10:00:00\"},"
    "{\"transaction_id\":\"B3\",\"client_code\":\"BLANKS\",\"payee_amount\":\"3.00\","
    "\"trans_date\":\"\",\"trans_complete_date\":\"2025-01-02 11:00:00\"},"
    "{\"transaction_id\":\"  \",\"txn_id\":\"\",\"client_code\":\"BLANKS\","
    "\"payee_amount\":\"4.00\",\"trans_date\":\"2025-01-02 10:00:00\"}]";

/* Blank optional fields next to their fallbacks: a blank client_code (the
 * requested code stands in), a blank payment_mode next to pg_pay_mode, a
 * blank pg_name (the connector's source_entity stands in). */
static const char blankopt_body[] =
    "[{\"transaction_id\":\"O1\",\"client_code\":\"  \",\"payee_amount\":\"1.00\","
    "\"trans_date\":\"2025-01-02 10:00:00\",\"payment_mode\":\"\",\"pg_pay_mode\":\"UPI\","
    "\"pg_name\":\" \"},"
    "{\"transaction_id\":\"O2\",\"client_code\":\"\",\"payee_amount\":\"2.00\","
    "\"trans_date\":\"2025-01-02 10:00:00\",\"payment_mode\":\"CARD\",\"pg_pay_mode\":\"UPI\","
    "\"pg_name\":\"SABPAISA-UPI\"}]";

/* Timestamps with their own offsets: the business date is the connector's
 * local day of the instant. */
static const char zones_body[] =
    "[{\"transaction_id\":\"Z1\",\"client_code\":\"ZONES\",\"payee_amount\":\"1.00\","
    "\"trans_date\":\"2025-10-02T20:00:00Z\"},"
    "{\"transaction_id\":\"Z2\",\"client_code\":\"ZONES\",\"payee_amount\":\"2.00\","
    "\"trans_date\":\"2025-10-02T20:00:00+05:30\"},"
    "{\"transaction_id\":\"Z3\",\"client_code\":\"ZONES\",\"payee_amount\":\"3.00\","
    "\"trans_date\":\"2025-10-03 01:00:00-0100\"},"
    "{\"transaction_id\":\"Z4\",\"client_code\":\"ZONES\",\"payee_amount\":\"4.00\","
    "\"trans_date\":\"2025-10-02 23:59:59\"}]";

/* 100 bytes in: the cut falls inside the second item. */
static const char trunc_body[] =
    "[{\"transaction_id\":\"T1\",\"client_code\":\"TRUNC\",\"payee_amount\":\"1.00\","
    "\"trans_date\":\"2025-01-02 10:00:00\"},{\"transaction_id\":\"T2\",\"payee_am";

static const char badjson_body[] =
    "[{\"transaction_id\":\"B1\",\"client_code\":\"B\",\"payee_amount\":\"1.00\","
    "\"trans_date\":\"2025-01-02 10:00:00\"},}]";

/* Whether the request carries the credential the mock was started with
 * (none required: yes). */
static int authorized(const mock_sabpaisa *m, struct MHD_Connection *c)
{
    if (m->opts.bearer) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        return h && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, m->opts.bearer) == 0;
    }
    if (m->opts.basic) {
        const char *colon = strchr(m->opts.basic, ':');
        size_t ulen = colon ? (size_t)(colon - m->opts.basic) : strlen(m->opts.basic);
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(c, &pass);
        int ok = user && pass && strlen(user) == ulen && strncmp(user, m->opts.basic, ulen) == 0 &&
                 strcmp(pass, colon ? colon + 1 : "") == 0;
        MHD_free(user);
        MHD_free(pass);
        return ok;
    }
    return 1;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    mock_sabpaisa *m = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    atomic_fetch_add(&m->requests, 1);
    pthread_mutex_lock(&m->lock);
    free(m->last_path);
    m->last_path = strdup(url);
    pthread_mutex_unlock(&m->lock);

    /* --fail-first K: the first K requests fail whatever they ask, so a
     * retry (the scheduler's) sees a failure and then the real answer. */
    if (m->opts.fail_first > 0 &&
        atomic_fetch_add(&m->failed_first, 1) < m->opts.fail_first) {
        unsigned st = m->opts.fail_status ? m->opts.fail_status : 500;
        return reply(c, st, "{\"error\":\"mock failure (fail-first)\"}",
                     st == 429 || st == 503 ? "1" : NULL);
    }
    if (strcmp(method, "GET") != 0)
        return reply(c, 405, "{\"error\":\"method not allowed\"}", NULL);
    if (!authorized(m, c))
        return reply(c, 401, "{\"error\":\"unauthorized\"}", NULL);
    if (m->opts.expire_after > 0 && atomic_fetch_add(&m->authorized, 1) >= m->opts.expire_after)
        return reply(c, 401, "{\"error\":\"token expired\"}", NULL);

    /* [/prefix...]/{from}/{to}/{code}: the last three segments count, so
     * a base URL with a path (".../GetTransactions") works too. */
    char from[11], to[11], code[65];
    const char *seg[3];
    size_t len[3];
    const char *end = url + strlen(url);
    const char *p = end;
    for (int i = 2; i >= 0; i--) {
        const char *e = p;
        while (p > url && p[-1] != '/')
            p--;
        if (p == url)
            return reply(c, 404, "{\"error\":\"expected /from/to/client_code\"}", NULL);
        seg[i] = p;
        len[i] = (size_t)(e - p);
        p--; /* onto the '/' */
    }
    p = end;
    if (*p || len[0] != 10 || len[1] != 10 || len[2] == 0 || len[2] > 64)
        return reply(c, 404, "{\"error\":\"expected /from/to/client_code\"}", NULL);
    memcpy(from, seg[0], 10);
    from[10] = '\0';
    memcpy(to, seg[1], 10);
    to[10] = '\0';
    memcpy(code, seg[2], len[2]);
    code[len[2]] = '\0';
    for (char *q = code; *q; q++)
        if (*q == '"' || *q == '\\' || (unsigned char)*q < 0x20)
            return reply(c, 400, "{\"error\":\"bad client code\"}", NULL);

    static const struct {
        const char *code;
        unsigned status;
        const char *retry;
    } fails[] = {{"FAIL206", 206, NULL}, {"FAIL401", 401, NULL}, {"FAIL403", 403, NULL}, {"FAIL404", 404, NULL},
                 {"FAIL429", 429, "7"},  {"FAIL500", 500, NULL}, {"FAIL502", 502, NULL},
                 {"FAIL503", 503, NULL}};
    for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++)
        if (strcmp(code, fails[i].code) == 0)
            return reply(c, fails[i].status, "{\"error\":\"mock failure\"}", fails[i].retry);

    if (strcmp(code, "SLOW") == 0) {
        unsigned waited = 0;
        struct timespec tick = {0, 20 * 1000000L};
        while (waited < m->opts.slow_ms && !atomic_load(&m->stopping)) {
            nanosleep(&tick, NULL);
            waited += 20;
        }
        if (atomic_load(&m->stopping))
            return MHD_NO;
        return reply(c, 200, "[]", NULL);
    }
    if (strcmp(code, "HTML") == 0 || strcmp(code, "HTMLSTRAY") == 0) {
        /* a maintenance page with status 200; HTMLSTRAY: a JSON array
         * that is cut short although labelled as HTML (still malformed) */
        const char *body = strcmp(code, "HTML") == 0
                               ? "<html><body><h1>Under maintenance</h1></body></html>\n"
                               : "[{\"transaction_id\":";
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                                 MHD_RESPMEM_MUST_COPY);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(code, "TRUNC") == 0)
        return reply(c, 200, trunc_body, NULL);
    if (strcmp(code, "BADJSON") == 0)
        return reply(c, 200, badjson_body, NULL);
    if (strcmp(code, "OBJECT") == 0)
        return reply(c, 200, "{\"error\":\"not an array\"}", NULL);
    if (strcmp(code, "EMPTY") == 0)
        return reply(c, 200, "[]", NULL);
    if (strcmp(code, "BOM") == 0) /* a UTF-8 byte-order mark before the array */
        return reply(c, 200, "\xEF\xBB\xBF[{\"transaction_id\":\"BOM1\",\"payee_amount\":\"1.00\","
                             "\"trans_date\":\"2025-01-02\"}]", NULL);
    if (strcmp(code, "NOCONTENT") == 0)
        return reply(c, 204, "", NULL);
    if (strcmp(code, "MOVED") == 0) { /* the API moved */
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"",
                                                                 MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "Location", "https://reportapi.example/v2/txnData");
        enum MHD_Result ret = MHD_queue_response(c, 301, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(code, "ACCEPTED") == 0) /* the report is still being prepared */
        return reply(c, 202, "[]", "30");
    if (strcmp(code, "AMOUNTS") == 0)
        return reply(c, 200, amounts_body, NULL);
    if (strcmp(code, "NOID") == 0)
        return reply(c, 200, noid_body, NULL);
    if (strcmp(code, "ZONES") == 0)
        return reply(c, 200, zones_body, NULL);
    if (strcmp(code, "BLANKS") == 0)
        return reply(c, 200, blanks_body, NULL);
    if (strcmp(code, "BLANKOPT") == 0)
        return reply(c, 200, blankopt_body, NULL);
    if (strcmp(code, "MIXED") == 0)
        return reply(c, 200, mixed_body, NULL);
    if (strcmp(code, "BADROWS") == 0)
        return reply(c, 200, badrows_body, NULL);
    if (strcmp(code, "NULS") == 0)
        return reply(c, 200, nuls_body, NULL);
    if (strcmp(code, "ENDLESS") == 0) {
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                                   endless_reader, NULL, NULL);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "application/json");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }

    gen_state *st = calloc(1, sizeof *st);
    if (!st)
        return MHD_NO;
    memcpy(st->code, code, len[2] + 1);
    memcpy(st->date, from, sizeof st->date);
    st->count = m->opts.count;
    st->cut = strcmp(code, "CUT") == 0;
    const char *qc = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "count");
    if (qc)
        st->count = strtoull(qc, NULL, 10);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, gen_reader, st, gen_free);
    if (!r) {
        free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

mock_sabpaisa *mock_sabpaisa_start(const mock_sabpaisa_opts *opts, uint16_t *port_out)
{
    mock_sabpaisa *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->opts = *opts;
    if (!m->opts.count)
        m->opts.count = 3;
    if (!m->opts.slow_ms)
        m->opts.slow_ms = 30000;
    pthread_mutex_init(&m->lock, NULL);
    m->daemon = mock_http_listen("mock_sabpaisa", opts->port, handle, m, port_out);
    if (!m->daemon) {
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    return m;
}

void mock_sabpaisa_stop(mock_sabpaisa *m)
{
    if (!m)
        return;
    atomic_store(&m->stopping, 1);
    MHD_stop_daemon(m->daemon);
    pthread_mutex_destroy(&m->lock);
    free(m->last_path);
    free(m);
}

unsigned long mock_sabpaisa_requests(mock_sabpaisa *m)
{
    return atomic_load(&m->requests);
}

char *mock_sabpaisa_last_path(mock_sabpaisa *m)
{
    pthread_mutex_lock(&m->lock);
    char *p = m->last_path ? strdup(m->last_path) : NULL;
    pthread_mutex_unlock(&m->lock);
    return p;
}

#ifndef MOCK_SABPAISA_NO_MAIN
int main(int argc, char **argv)
{
    mock_sabpaisa_opts opts;
    memset(&opts, 0, sizeof opts);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "usage: mock_sabpaisa [--port N] [--count N] [--slow-ms N] "
                            "[--bearer TOKEN] [--basic USER:PASSWORD] [--fail-first K] "
                            "[--fail-status S] [--expire-after K]\n");
            return 2;
        }
        if (strcmp(a, "--port") == 0)
            opts.port = (uint16_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--count") == 0)
            opts.count = strtoull(v, NULL, 10);
        else if (strcmp(a, "--slow-ms") == 0)
            opts.slow_ms = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--bearer") == 0)
            opts.bearer = v;
        else if (strcmp(a, "--basic") == 0)
            opts.basic = v;
        else if (strcmp(a, "--fail-first") == 0)
            opts.fail_first = strtoul(v, NULL, 10);
        else if (strcmp(a, "--fail-status") == 0)
            opts.fail_status = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--expire-after") == 0)
            opts.expire_after = strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "mock_sabpaisa: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    /* Block the stop signals before MHD starts threads, then wait for one. */
    sigset_t set;
    mock_http_block_stop_signals(&set);
    uint16_t port = 0;
    mock_sabpaisa *m = mock_sabpaisa_start(&opts, &port);
    if (!m)
        return 1;
    mock_http_announce_and_wait(port, &set);
    mock_sabpaisa_stop(m);
    return 0;
}
#endif
