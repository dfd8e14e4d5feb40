/*
 * mock_receiver.c — a loopback HTTP receiver for the alert tests: it
 * records every request it gets (one JSON line per request: time, method,
 * path, headers, body, the status it answered) and answers by path:
 *
 *   /fail-once/...   500 the first time a path is seen, 200 after
 *   /slow/...        200 after --slow-seconds (default 20)
 *   /status/NNN      NNN, always
 *   /echo/...        404 with a JSON body quoting the request's path, as
 *                    Spring Boot's error page does
 *   /latin1/...      400 with an ISO-8859-1 (not UTF-8) error page
 *   anything else    200
 *
 *   mock_receiver --port PORT --log FILE [--slow-seconds N]
 *
 * Listens on 127.0.0.1 only; a thread per connection, so that a slow
 * answer never holds up the others. Ends on SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_BODY (1024 * 1024)

static FILE *log_file;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int slow_seconds = 20;
static char **seen;     /* paths that already got their one failure */
static size_t nseen;

typedef struct req {
    char *body;
    size_t len;
} req;

static int add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    json_t *h = cls;
    char *k = strdup(key);
    for (char *p = k; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    json_object_set_new(h, k, json_string(value ? value : ""));
    free(k);
    return MHD_YES;
}

/* 1 the first time path is seen. */
static int first_time(const char *path)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nseen; i++) {
        if (strcmp(seen[i], path) == 0) {
            pthread_mutex_unlock(&lock);
            return 0;
        }
    }
    seen = realloc(seen, (nseen + 1) * sizeof *seen);
    seen[nseen++] = strdup(path);
    pthread_mutex_unlock(&lock);
    return 1;
}

static void record(struct MHD_Connection *c, const char *method, const char *url, const req *r,
                   unsigned status)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    json_t *h = json_object();
    MHD_get_connection_values(c, MHD_HEADER_KIND, (MHD_KeyValueIterator)add_header, h);
    json_t *line = json_pack("{s:f, s:s, s:s, s:o, s:s%, s:i}", "time",
                             (double)tv.tv_sec + tv.tv_usec / 1e6, "method", method, "path", url,
                             "headers", h, "body", r->body ? r->body : "", r->len, "status",
                             (int)status);
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    pthread_mutex_lock(&lock);
    fprintf(log_file, "%s\n", text);
    fflush(log_file);
    pthread_mutex_unlock(&lock);
    free(text);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    req *r = *con_cls;
    if (!r) {
        *con_cls = calloc(1, sizeof *r);
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->len + *upload_size <= MAX_BODY) {
            r->body = realloc(r->body, r->len + *upload_size + 1);
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
            r->body[r->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    unsigned status = 200;
    if (strncmp(url, "/fail-once/", 11) == 0 && first_time(url))
        status = 500;
    else if (strncmp(url, "/status/", 8) == 0)
        status = (unsigned)atoi(url + 8);
    else if (strncmp(url, "/echo/", 6) == 0)
        status = 404;
    else if (strncmp(url, "/latin1/", 8) == 0)
        status = 400;
    if (status < 100 || status > 599)
        status = 400;
    record(c, method, url, r, status);
    if (strncmp(url, "/slow/", 6) == 0)
        sleep((unsigned)slow_seconds);
    char echo[1024];
    const char *text = status == 200 ? "ok" : "mock failure";
    if (strncmp(url, "/echo/", 6) == 0) {
        snprintf(echo, sizeof echo, "{\"status\":404,\"error\":\"Not Found\",\"path\":\"%.900s\"}",
                 url);
        text = echo;
    } else if (strncmp(url, "/latin1/", 8) == 0) {
        text = "Requ\xeate invalide: \xe9v\xe9nement refus\xe9";
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
    }
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    int port = 0;
    const char *log_path = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--log") == 0)
            log_path = argv[i + 1];
        else if (strcmp(argv[i], "--slow-seconds") == 0)
            slow_seconds = atoi(argv[i + 1]);
    }
    if (port <= 0 || !log_path) {
        fprintf(stderr, "usage: mock_receiver --port PORT --log FILE [--slow-seconds N]\n");
        return 2;
    }
    log_file = fopen(log_path, "a");
    if (!log_file) {
        perror(log_path);
        return 1;
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL,
        NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mock_receiver: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    int sig;
    sigwait(&mask, &sig);
    /* Connections sleeping in /slow/ are not waited for. */
    _exit(0);
}
