/*
 * mock_bank.c — a mock bank statement API on libmicrohttpd, for bank_api's
 * integration tests.
 *
 *   mock_bank [--port N] [--count N] [--auth none|bearer:TOKEN|
 *             api_key:HEADER:KEY|basic:USER:PASS|hmac:KEYID:SECRET]
 *             [--tls-cert PEM --tls-key PEM] [--max-page N] [--request-log FILE]
 *
 * --max-page N: pages never hold more than N lines, whatever size or limit
 * asks for (a bank that caps its page size). --request-log FILE: each
 * request's path and query, one a line, as they arrive.
 *
 * Prints the bound port and serves until SIGINT/SIGTERM.
 *
 * GET /{json|csv}/{none|page|offset|cursor|link}/{YYYY-MM-DD}
 *   `count` statement lines for that date, deterministic, paged as the
 *   style says: page (?page=N&size=S, 1-based), offset (?offset=O&limit=L),
 *   cursor (?cursor=C&size=S; next cursor in meta.next_cursor and the
 *   X-Next-Cursor header, absent on the last page; stuckcursor: the same,
 *   but every page has a next cursor, the empty one after the last its
 *   own), link (?page=N&size=S;
 *   Link: <...>; rel="next" while more remain). S defaults to 10.
 *   Broken pagers: clamp (page, but a page past the last is the last
 *   again), ignore (page, but every page is the first), cyclecursor and
 *   cyclelink (cursor and link, but the last page leads back to page 2).
 *   blankcursor: cursor, but the last page has an empty X-Next-Cursor.
 *   nocontent: page, but a page past the end is 204 No Content.
 *   JSON: {"data": {"transactions": [...]}, "meta": {...}}. CSV: a header
 *   row, CRLF line ends, a narration with a comma, quotes and a newline.
 * GET /fail/{status}/...   that status (429 and 503 with Retry-After: 5)
 * GET /badcsv/...          a CSV with an unterminated quoted field
 * GET /cutcsv/...          a CSV of no stated length (HTTP/1.0 style, ended by
 *                          closing the connection) cut inside its last line
 * GET /closecsv/...        the same CSV whole, ending with its line end
 * GET /accepted/...        202 Accepted with an empty record list (Retry-After: 60)
 * GET /emptycsv/...        200 text/csv with an empty body (not even a header)
 * GET /headercsv/...       200 text/csv with the header row alone
 * GET /csvragged/...        a CSV whose lines 2 and 3 have 6 and 4 fields
 *                          against a header of 5 (an unquoted comma, a
 *                          missing value); line 4 is whole
 * GET /evillink/...        a JSON page whose next link leaves for another host
 * GET /html/...            status 200 with an HTML "session expired" page
 * GET /nuls/...            JSON records with \u0000 in two refs that differ
 *                          after it and in an amount; one ref with an
 *                          escaped backslash before "u0000" (text)
 *
 * HMAC: the client signs "GET\n{path?query}\n{X-Timestamp}\n{sha256 of the
 * empty body}" with HMAC-SHA256 and sends the hex in X-Signature and the key
 * id in X-Key-Id; a bad signature or a timestamp more than 300 s off is 401.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static unsigned long count = 25;
static long max_page; /* 0: no cap */
static FILE *request_log;
static pthread_mutex_t request_log_lock = PTHREAD_MUTEX_INITIALIZER;
static char auth_kind[16] = "none";
static char auth_a[256], auth_b[256];

typedef struct buf {
    char *d;
    size_t len, cap;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->d ? b->d + b->len : NULL, b->d ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->d && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *d = realloc(b->d, cap);
        if (!d)
            abort();
        b->d = d;
        b->cap = cap;
    }
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, buf *b,
                                const char *ctype, const char *h1, const char *v1,
                                const char *h2, const char *v2)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(b->len, b->d, MHD_RESPMEM_MUST_FREE);
    if (!r)
        return MHD_NO;
    b->d = NULL;
    MHD_add_response_header(r, "Content-Type", ctype);
    if (h1 && v1)
        MHD_add_response_header(r, h1, v1);
    if (h2 && v2)
        MHD_add_response_header(r, h2, v2);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *msg,
                            const char *retry)
{
    buf b = {0};
    put(&b, "{\"error\":\"%s\"}", msg);
    return send_buf(c, status, &b, "application/json", retry ? "Retry-After" : NULL, retry, NULL,
                    NULL);
}

/* Reads a static body out of cls: a response of no stated length. */
static ssize_t static_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    const char *body = cls;
    size_t len = strlen(body);
    if (pos >= len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = len - (size_t)pos < max ? len - (size_t)pos : max;
    memcpy(out, body + pos, n);
    return (ssize_t)n;
}

/* A CSV body sent as HTTP/1.0 servers do: no Content-Length, not chunked,
 * ended by closing the connection. */
static enum MHD_Result send_close_delimited(struct MHD_Connection *c, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, static_reader, (void *)body,
                                          NULL);
    if (!r)
        return MHD_NO;
    MHD_set_response_options(r, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    MHD_add_response_header(r, "Content-Type", "text/csv");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void hexs(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

/* 1 if the request carries the credentials --auth asks for. */
static int authorized(struct MHD_Connection *c, const char *raw_uri)
{
    if (strcmp(auth_kind, "none") == 0)
        return 1;
    if (strcmp(auth_kind, "bearer") == 0) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        return h && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, auth_a) == 0;
    }
    if (strcmp(auth_kind, "api_key") == 0) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, auth_a);
        return h && strcmp(h, auth_b) == 0;
    }
    if (strcmp(auth_kind, "basic") == 0) {
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(c, &pass);
        int ok = user && pass && strcmp(user, auth_a) == 0 && strcmp(pass, auth_b) == 0;
        MHD_free(user);
        MHD_free(pass);
        return ok;
    }
    if (strcmp(auth_kind, "hmac") == 0) {
        const char *kid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Key-Id");
        const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Timestamp");
        const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Signature");
        if (!kid || !ts || !sig || strcmp(kid, auth_a) != 0 || !raw_uri)
            return 0;
        long long t = atoll(ts), now = (long long)time(NULL);
        if (t < now - 300 || t > now + 300)
            return 0;
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int dl = 0;
        char body[65], want[2 * EVP_MAX_MD_SIZE + 1];
        EVP_Digest("", 0, d, &dl, EVP_sha256(), NULL);
        hexs(d, dl, body);
        buf canon = {0};
        put(&canon, "GET\n%s\n%s\n%s", raw_uri, ts, body);
        HMAC(EVP_sha256(), auth_b, (int)strlen(auth_b), (unsigned char *)canon.d, canon.len, d,
             &dl);
        free(canon.d);
        hexs(d, dl, want);
        return strcmp(sig, want) == 0;
    }
    return 0;
}

/* The raw request target (path and query as sent), kept for HMAC checks. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    return strdup(uri);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*req_cls);
    *req_cls = NULL;
}

static long arg_long(struct MHD_Connection *c, const char *name, long dflt)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? atol(v) : dflt;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    if (request_log && *req_cls) {
        pthread_mutex_lock(&request_log_lock);
        fprintf(request_log, "%s\n", (const char *)*req_cls);
        fflush(request_log);
        pthread_mutex_unlock(&request_log_lock);
    }
    if (strcmp(method, "GET") != 0)
        return text(c, 405, "method not allowed", NULL);
    if (!authorized(c, *req_cls))
        return text(c, 401, "unauthorized", NULL);

    char fmt[16] = "", style[16] = "", date[16] = "";
    if (strncmp(url, "/fail/", 6) == 0) {
        unsigned st = (unsigned)atoi(url + 6);
        return text(c, st ? st : 500, "mock failure", st == 429 || st == 503 ? "5" : NULL);
    }
    if (strncmp(url, "/badcsv/", 8) == 0) {
        buf b = {0};
        put(&b, "Txn Ref,Txn Date,Amount\r\nB1,2025-01-02,1.00\r\nB2,2025-01-02,\"2.00\r\n");
        return send_buf(c, 200, &b, "text/csv", NULL, NULL, NULL, NULL);
    }
    if (strncmp(url, "/cutcsv/", 8) == 0) /* cut inside the last line's amount */
        return send_close_delimited(c, "Txn Ref,Txn Date,Amount\r\nC1,2025-01-02,1234.56\r\n"
                                       "C2,2025-01-02,12");
    if (strncmp(url, "/accepted/", 10) == 0) { /* statement still being prepared */
        buf b = {0};
        put(&b, "{\"data\":{\"transactions\":[]},\"status\":\"PROCESSING\"}");
        return send_buf(c, 202, &b, "application/json", "Retry-After", "60", NULL, NULL);
    }
    if (strncmp(url, "/emptycsv/", 10) == 0) { /* 200, text/csv, not even a header */
        buf b = {0};
        put(&b, "%s", "");
        return send_buf(c, 200, &b, "text/csv", NULL, NULL, NULL, NULL);
    }
    if (strncmp(url, "/headercsv/", 11) == 0) { /* a day without lines: its header alone */
        buf b = {0};
        put(&b, "Txn Ref,Txn Date,Amount\r\n");
        return send_buf(c, 200, &b, "text/csv", NULL, NULL, NULL, NULL);
    }
    if (strncmp(url, "/closecsv/", 10) == 0) /* whole: it ends with its line end */
        return send_close_delimited(c, "Txn Ref,Txn Date,Amount\r\nC1,2025-01-02,1234.56\r\n"
                                       "C2,2025-01-02,12.00\r\n");
    if (strncmp(url, "/csvragged/", 11) == 0) {
        buf b = {0};
        put(&b, "ref,amount,date,remarks,utr\r\n"
                "R1,100.00,2025-10-02,Paid, thanks,UTR123\r\n"
                "R2,5.00,2025-10-02,ok\r\n"
                "R3,7.50,2025-10-02,fine,UTR9\r\n");
        return send_buf(c, 200, &b, "text/csv", NULL, NULL, NULL, NULL);
    }
    if (strncmp(url, "/html/", 6) == 0) {
        buf b = {0};
        put(&b, "<html>\n<body>Session expired, please log in</body>\n</html>\n");
        return send_buf(c, 200, &b, "text/html; charset=utf-8", NULL, NULL, NULL, NULL);
    }
    if (strncmp(url, "/nuls/", 6) == 0) {
        buf b = {0};
        put(&b, "{\"data\":{\"transactions\":["
                "{\"ref\":\"R1\\u0000A\",\"amt\":\"10.00\",\"d\":\"2025-01-02\"},"
                "{\"ref\":\"R1\\u0000B\",\"amt\":\"20.00\",\"d\":\"2025-01-02\"},"
                "{\"ref\":\"ZB1\",\"amt\":\"75\\u0000.50\",\"d\":\"2025-01-02\"},"
                "{\"ref\":\"OK\\\\u0000\",\"amt\":\"4.00\",\"d\":\"2025-01-02\"}]}}");
        return send_buf(c, 200, &b, "application/json", NULL, NULL, NULL, NULL);
    }
    if (strncmp(url, "/evillink/", 10) == 0) {
        buf b = {0};
        put(&b, "{\"data\":{\"transactions\":[]}}");
        return send_buf(c, 200, &b, "application/json", "Link",
                        "<http://198.51.100.7/steal?page=2>; rel=\"next\"", NULL, NULL);
    }
    if (sscanf(url, "/%15[a-z]/%15[a-z]/%15[0-9-]", fmt, style, date) != 3 || strlen(date) != 10)
        return text(c, 404, "expected /{json|csv}/{style}/{date}", NULL);
    int csv = strcmp(fmt, "csv") == 0;

    long size = arg_long(c, strcmp(style, "offset") == 0 ? "limit" : "size", 10);
    if (size < 1)
        size = 10;
    if (max_page > 0 && size > max_page)
        size = max_page;
    unsigned long from = 0, to = count;
    if (strcmp(style, "page") == 0 || strcmp(style, "link") == 0 ||
        strcmp(style, "cyclelink") == 0 || strcmp(style, "clamp") == 0 ||
        strcmp(style, "ignore") == 0 || strcmp(style, "nocontent") == 0) {
        long page = strcmp(style, "ignore") == 0 ? 1 : arg_long(c, "page", 1);
        unsigned long last = count ? (count - 1) / (unsigned long)size + 1 : 1;
        if (strcmp(style, "clamp") == 0 && page > (long)last)
            page = (long)last;
        from = page > 0 ? (unsigned long)(page - 1) * (unsigned long)size : 0;
        to = from + (unsigned long)size;
    } else if (strcmp(style, "offset") == 0) {
        from = (unsigned long)arg_long(c, "offset", 0);
        to = from + (unsigned long)size;
    } else if (strcmp(style, "cursor") == 0 || strcmp(style, "stuckcursor") == 0 ||
               strcmp(style, "cyclecursor") == 0 || strcmp(style, "blankcursor") == 0) {
        const char *cur = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "cursor");
        if (cur && (strncmp(cur, "cur-", 4) != 0 || atol(cur + 4) < 0))
            return text(c, 400, "bad cursor", NULL);
        from = cur ? (unsigned long)atol(cur + 4) : 0;
        to = from + (unsigned long)size;
    } else if (strcmp(style, "none") != 0) {
        return text(c, 404, "unknown pagination style", NULL);
    }
    if (from > count)
        from = count;
    if (to > count)
        to = count;
    if (from == to && strcmp(style, "nocontent") == 0) { /* 204 for a page past the end */
        buf b = {0};
        put(&b, "%s", "");
        return send_buf(c, 204, &b, csv ? "text/csv" : "application/json", NULL, NULL, NULL,
                        NULL);
    }
    int more = to < count && strcmp(style, "none") != 0;
    char next_cursor[32] = "", link[256] = "";
    if (more && (strcmp(style, "cursor") == 0 || strcmp(style, "cyclecursor") == 0 ||
                 strcmp(style, "blankcursor") == 0))
        snprintf(next_cursor, sizeof next_cursor, "cur-%lu", to);
    if (!more && from < to && strcmp(style, "cyclecursor") == 0) /* back to page 2 */
        snprintf(next_cursor, sizeof next_cursor, "cur-%ld", size);
    if (strcmp(style, "stuckcursor") == 0) /* a cursor even on the empty last page */
        snprintf(next_cursor, sizeof next_cursor, "cur-%lu", to);
    if (more && (strcmp(style, "link") == 0 || strcmp(style, "cyclelink") == 0))
        snprintf(link, sizeof link, "</%s/%s/%s?page=%lu&size=%ld>; rel=\"next\", "
                                    "</%s/%s/%s?page=1&size=%ld>; rel=\"first\"",
                 fmt, style, date, to / (unsigned long)size + 1, size, fmt, style, date, size);
    if (!more && from < to && strcmp(style, "cyclelink") == 0) /* back to page 2 */
        snprintf(link, sizeof link, "</%s/%s/%s?page=2&size=%ld>; rel=\"next\"", fmt, style,
                 date, size);

    char compact[9];
    snprintf(compact, sizeof compact, "%.4s%.2s%.2s", date, date + 5, date + 8);
    buf b = {0};
    if (csv)
        put(&b, "Txn Ref,Value Date,Txn Date,Amount,UTR,Narration,Dr/Cr\r\n");
    else
        put(&b, "{\"data\":{\"transactions\":[");
    for (unsigned long i = from; i < to; i++) {
        unsigned long rupees = (i * 37) % 100000, paise = i % 100;
        if (csv)
            put(&b, "BR%s%06lu,%s,%s,%lu.%02lu,UTR%s%06lu,\"NEFT, from \"\"Acme\"\"\n#%lu\",CR\r\n",
                compact, i, date, date, rupees, paise, compact, i, i);
        else
            put(&b, "%s{\"ref\":\"BR%s%06lu\",\"value_date\":\"%s\",\"txn_date\":\"%s\","
                    "\"amount\":%s%lu.%02lu%s,\"utr\":\"UTR%s%06lu\","
                    "\"narration\":\"NEFT, from \\\"Acme\\\" #%lu\",\"type\":\"CR\"}",
                i > from ? "," : "", compact, i, date, date, i % 2 ? "\"" : "", rupees, paise,
                i % 2 ? "\"" : "", compact, i, i);
    }
    if (!csv) {
        put(&b, "]},\"meta\":{\"total\":%lu", count);
        if (*next_cursor)
            put(&b, ",\"next_cursor\":\"%s\"", next_cursor);
        else
            put(&b, ",\"next_cursor\":null");
        put(&b, "}}");
    }
    /* blankcursor: the last page says so with a blank X-Next-Cursor (MHD
     * sends no header of an empty value) */
    int cursor_header = *next_cursor || strcmp(style, "blankcursor") == 0;
    return send_buf(c, 200, &b, csv ? "text/csv" : "application/json",
                    cursor_header ? "X-Next-Cursor" : NULL,
                    cursor_header ? (*next_cursor ? next_cursor : " ") : NULL,
                    *link ? "Link" : NULL, *link ? link : NULL);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(&b, "%.*s", (int)n, chunk);
    fclose(f);
    return b.d;
}

int main(int argc, char **argv)
{
    unsigned port = 0;
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--port") == 0)
            port = (unsigned)atoi(v);
        else if (strcmp(a, "--count") == 0)
            count = strtoul(v, NULL, 10);
        else if (strcmp(a, "--tls-cert") == 0)
            cert = v;
        else if (strcmp(a, "--tls-key") == 0)
            key = v;
        else if (strcmp(a, "--max-page") == 0)
            max_page = atol(v);
        else if (strcmp(a, "--request-log") == 0) {
            if (!(request_log = fopen(v, "a"))) {
                perror(v);
                return 1;
            }
        }
        else if (strcmp(a, "--auth") == 0) {
            /* kind[:a[:b]]; the last field may itself hold ':' */
            const char *p = strchr(v, ':');
            snprintf(auth_kind, sizeof auth_kind, "%.*s", p ? (int)(p - v) : (int)strlen(v), v);
            if (p) {
                const char *q = strcmp(auth_kind, "bearer") == 0 ? NULL : strchr(p + 1, ':');
                snprintf(auth_a, sizeof auth_a, "%.*s", q ? (int)(q - p - 1) : (int)strlen(p + 1),
                         p + 1);
                if (q)
                    snprintf(auth_b, sizeof auth_b, "%s", q + 1);
            }
        } else {
            fprintf(stderr, "mock_bank: unknown option %s\n", a);
            return 2;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char *cert_pem = cert ? slurp(cert) : NULL, *key_pem = key ? slurp(key) : NULL;
    if ((cert && !cert_pem) || (key && !key_pem)) {
        fprintf(stderr, "mock_bank: cannot read the TLS certificate or key\n");
        return 1;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG | (cert_pem ? MHD_USE_TLS : 0);
    struct MHD_Daemon *d =
        cert_pem ? MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, NULL,
                                    MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_URI_LOG_CALLBACK,
                                    uri_log, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                    MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY,
                                    key_pem, MHD_OPTION_END)
                 : MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, NULL,
                                    MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_URI_LOG_CALLBACK,
                                    uri_log, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                    MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mock_bank: cannot listen on 127.0.0.1:%u\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("%u\n", info ? info->port : port);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    free(cert_pem);
    free(key_pem);
    return 0;
}
