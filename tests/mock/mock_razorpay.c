/*
 * mock_razorpay.c — see mock_razorpay.h. As a program:
 *   mock_razorpay [--port N] [--payments N] [--date YYYY-MM-DD] [--key-id ID]
 *                 [--key-secret S] [--fail-first K] [--slow-ms N] [--bad-item 1]
 *                 [--page-cap N]
 * prints the bound port on stdout and serves until SIGINT/SIGTERM. Built
 * with MOCK_RAZORPAY_NO_MAIN the same code runs inside a test process.
 */
#include "mock_razorpay.h"
#include "mock_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mock_razorpay {
    struct MHD_Daemon *daemon;
    mock_razorpay_opts opts;
    char *key_id, *key_secret;
    long long day_start; /* 00:00 Asia/Kolkata of opts.date, Unix seconds */
    atomic_ulong requests;
    pthread_mutex_t lock;
    char *last_query;
};

static const char *const methods[] = {"upi", "card", "netbanking", "wallet"};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Basic realm=\"razorpay\"");
    if (status == 429 || status == 503)
        MHD_add_response_header(r, "Retry-After", "120");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static const char *qv(struct MHD_Connection *c, const char *key)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    return v ? v : "";
}

static long long query_ll(struct MHD_Connection *c, const char *key, long long dflt)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
    return v && *v ? strtoll(v, NULL, 10) : dflt;
}

/* Appends formatted text to a growing buffer; aborts on ENOMEM (a mock). */
static void add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < *cap - *len) {
            *len += (size_t)n;
            return;
        }
        *cap = *cap * 2 + (size_t)(n > 0 ? n : 0);
        char *nb = realloc(*buf, *cap);
        if (!nb)
            abort();
        *buf = nb;
    }
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    (void)version, (void)upload, (void)upload_len, (void)con_cls;
    mock_razorpay *m = cls;
    unsigned long nreq = atomic_fetch_add(&m->requests, 1) + 1;
    if (strcmp(method, "GET") != 0 || strcmp(url, "/v1/payments") != 0)
        return reply(c, 404, "{\"error\":{\"code\":\"BAD_REQUEST_ERROR\","
                             "\"description\":\"The requested URL was not found on the server.\"}}");
    {
        char q[256];
        snprintf(q, sizeof q, "from=%s&to=%s&count=%s&skip=%s",
                 qv(c, "from"),
                 qv(c, "to"),
                 qv(c, "count"),
                 qv(c, "skip"));
        pthread_mutex_lock(&m->lock);
        free(m->last_query);
        m->last_query = strdup(q);
        pthread_mutex_unlock(&m->lock);
    }
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    int ok = user && pass && strcmp(user, m->key_id) == 0 && strcmp(pass, m->key_secret) == 0;
    MHD_free(user);
    MHD_free(pass);
    if (!ok)
        return reply(c, 401, "{\"error\":{\"code\":\"BAD_REQUEST_ERROR\","
                             "\"description\":\"The api key provided is invalid\"}}");
    if (nreq <= m->opts.fail_first)
        return reply(c, m->opts.fail_status ? m->opts.fail_status : 500, "{\"error\":{\"code\":\"SERVER_ERROR\","
                             "\"description\":\"We are facing some trouble completing your "
                             "request at the moment.\"}}");
    if (m->opts.slow_ms) {
        struct timespec ts = {m->opts.slow_ms / 1000, (long)(m->opts.slow_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    long long from = query_ll(c, "from", 0), to = query_ll(c, "to", 1LL << 40);
    long long count = query_ll(c, "count", 10), skip = query_ll(c, "skip", 0);
    if (count < 1 || count > 100 || skip < 0)
        return reply(c, 400, "{\"error\":{\"code\":\"BAD_REQUEST_ERROR\","
                             "\"description\":\"count must be between 1 and 100\"}}");
    if (m->opts.page_cap && count > (long long)m->opts.page_cap)
        count = m->opts.page_cap;

    size_t cap = 4096, len = 0;
    char *body = malloc(cap);
    if (!body)
        abort();
    body[0] = '\0';
    add(&body, &len, &cap, "{\"entity\":\"collection\",\"items\":[");
    long long matched = 0, listed = 0;
    for (unsigned i = 1; i <= m->opts.payments && listed < count; i++) {
        long long created = m->day_start + 37LL * i;
        if (created < from || created > to)
            continue;
        if (matched++ < skip)
            continue;
        long long amount = 10000 + 7LL * i, fee = amount * 2 / 100;
        const char *meth = methods[(i - 1) % 4];
        add(&body, &len, &cap,
            "%s{\"id\":\"pay_MOCK%06u\",\"entity\":\"payment\",", listed ? "," : "", i);
        if (m->opts.bad_item && i == 2)
            add(&body, &len, &cap, "\"amount\":\"%lld\",", amount);
        else
            add(&body, &len, &cap, "\"amount\":%lld,", amount);
        add(&body, &len, &cap,
            "\"currency\":\"INR\",\"status\":\"%s\",\"order_id\":\"order_MOCK%06u\","
            "\"invoice_id\":null,\"international\":false,\"method\":\"%s\","
            "\"amount_refunded\":0,\"refund_status\":null,\"captured\":%s,"
            "\"description\":\"Order %u\",\"email\":\"buyer%u@example.com\","
            "\"contact\":\"+91990000%04u\",\"notes\":{\"merchant_order\":\"M-%u\"},"
            "\"fee\":%lld,\"tax\":%lld,\"error_code\":null,",
            i % 10 == 0 ? "failed" : "captured", i, meth, i % 10 == 0 ? "false" : "true", i, i,
            i % 10000, i, fee, fee * 18 / 118);
        if (strcmp(meth, "upi") == 0 || strcmp(meth, "card") == 0)
            add(&body, &len, &cap, "\"acquirer_data\":{\"rrn\":\"%012u\"},", 400000000u + i);
        else
            add(&body, &len, &cap, "\"acquirer_data\":{},");
        add(&body, &len, &cap, "\"created_at\":%lld}", created);
        listed++;
    }
    add(&body, &len, &cap, "],\"count\":%lld}", listed);
    enum MHD_Result ret = reply(c, 200, body);
    free(body);
    return ret;
}

/* 00:00 at +05:30 of a YYYY-MM-DD date. */
static long long ist_midnight(const char *date)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(date, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) - 19800;
}

mock_razorpay *mock_razorpay_start(const mock_razorpay_opts *opts, uint16_t *port_out)
{
    mock_razorpay *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->opts = *opts;
    if (!m->opts.payments)
        m->opts.payments = 250;
    if (m->opts.payments > 2335)
        m->opts.payments = 2335;
    m->day_start = ist_midnight(opts->date ? opts->date : "2025-10-02");
    m->key_id = strdup(opts->key_id ? opts->key_id : "rzp_test_mock");
    m->key_secret = strdup(opts->key_secret ? opts->key_secret : "mock_secret");
    if (m->day_start < 0 || !m->key_id || !m->key_secret) {
        fprintf(stderr, "mock_razorpay: bad date or out of memory\n");
        free(m->key_id);
        free(m->key_secret);
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->daemon = mock_http_listen("mock_razorpay", opts->port, handle, m, port_out);
    if (!m->daemon) {
        pthread_mutex_destroy(&m->lock);
        free(m->key_id);
        free(m->key_secret);
        free(m);
        return NULL;
    }
    return m;
}

void mock_razorpay_stop(mock_razorpay *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->daemon);
    pthread_mutex_destroy(&m->lock);
    free(m->last_query);
    free(m->key_id);
    free(m->key_secret);
    free(m);
}

unsigned long mock_razorpay_requests(mock_razorpay *m) { return atomic_load(&m->requests); }

char *mock_razorpay_last_query(mock_razorpay *m)
{
    pthread_mutex_lock(&m->lock);
    char *q = m->last_query ? strdup(m->last_query) : NULL;
    pthread_mutex_unlock(&m->lock);
    return q;
}

#ifndef MOCK_RAZORPAY_NO_MAIN
int main(int argc, char **argv)
{
    mock_razorpay_opts opts;
    memset(&opts, 0, sizeof opts);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "usage: mock_razorpay [--port N] [--payments N] [--date YYYY-MM-DD] "
                            "[--key-id ID] [--key-secret S] [--fail-first K] [--slow-ms N] "
                            "[--bad-item 1] [--page-cap N]\n");
            return 2;
        }
        if (strcmp(a, "--port") == 0)
            opts.port = (uint16_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--payments") == 0)
            opts.payments = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--date") == 0)
            opts.date = v;
        else if (strcmp(a, "--key-id") == 0)
            opts.key_id = v;
        else if (strcmp(a, "--key-secret") == 0)
            opts.key_secret = v;
        else if (strcmp(a, "--fail-first") == 0)
            opts.fail_first = strtoul(v, NULL, 10);
        else if (strcmp(a, "--fail-status") == 0 && v)
            opts.fail_status = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--slow-ms") == 0)
            opts.slow_ms = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--bad-item") == 0)
            opts.bad_item = atoi(v);
        else if (strcmp(a, "--page-cap") == 0)
            opts.page_cap = (unsigned)strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "mock_razorpay: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    sigset_t set;
    mock_http_block_stop_signals(&set);
    uint16_t port = 0;
    mock_razorpay *m = mock_razorpay_start(&opts, &port);
    if (!m)
        return 1;
    mock_http_announce_and_wait(port, &set);
    mock_razorpay_stop(m);
    return 0;
}
#endif
