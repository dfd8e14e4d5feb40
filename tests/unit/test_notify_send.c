/*
 * test_notify_send.c — what a failed webhook delivery records of the
 * receiver's answer: the quote of its body is valid UTF-8 (it goes into a
 * PostgreSQL text column, which refuses anything else, so the attempt
 * would go unrecorded and the delivery re-sent for ever) however the body
 * is cut, and no secret of the channel survives in it, even one the body
 * echoes across the cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "notify.h"

/* A receiver answering one request with `status` and `body`. */
typedef struct server {
    int fd;
    int port;
    int status;
    const char *body;
    size_t claimed_len; /* 0: strlen(body); more: the rest never comes */
    pthread_t thread;
} server;

static void *serve_one(void *arg)
{
    server *sv = arg;
    int c = accept(sv->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    /* Reads the request: headers, then Content-Length bytes. */
    char buf[65536];
    size_t got = 0;
    long want = -1;
    for (;;) {
        ssize_t k = read(c, buf + got, sizeof buf - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end && want < 0) {
            char *cl = strstr(buf, "Content-Length:");
            want = (long)(end + 4 - buf) + (cl ? atol(cl + 15) : 0);
        }
        if (want >= 0 && (long)got >= want)
            break;
    }
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d Oops\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     sv->status, sv->claimed_len ? sv->claimed_len : strlen(sv->body));
    if (write(c, head, (size_t)n) < 0 || write(c, sv->body, strlen(sv->body)) < 0)
        perror("write");
    if (sv->claimed_len) { /* the rest "comes later": until the client hangs up */
        while (read(c, buf, sizeof buf) > 0)
            ;
    }
    close(c);
    return NULL;
}

static void server_start(server *sv, int status, const char *body)
{
    sv->claimed_len = 0;
    sv->status = status;
    sv->body = body;
    sv->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(sv->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(sv->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(sv->fd, (struct sockaddr *)&a, &len), 0);
    sv->port = ntohs(a.sin_port);
    assert_int_equal(listen(sv->fd, 1), 0);
    assert_int_equal(pthread_create(&sv->thread, NULL, serve_one, sv), 0);
}

static void server_stop(server *sv)
{
    pthread_join(sv->thread, NULL);
    close(sv->fd);
}

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t k = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
                 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (!k)
            return 0;
        for (size_t i = 1; i < k; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        p += k;
    }
    return 1;
}

/* Sends a webhook to http://127.0.0.1:PORT<path> answered by status/body;
 * returns the outcome and *err. */
static int send_to_(const char *path, int status, const char *body, size_t claimed_len,
                    char **err)
{
    server sv;
    server_start(&sv, status, body);
    sv.claimed_len = claimed_len;
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", sv.port, path);
    cd_channel ch = {.name = "hook", .type = CD_CHANNEL_WEBHOOK, .url = {.plain = url},
                     .secret = {.plain = "k3y-not-in-any-error"}};
    cd_alert_settings s = {.channels = &ch, .nchannels = 1, .timeout_s = 3, .max_attempts = 3};
    json_t *payload = json_pack("{s:s}", "connector", "Bank");
    cd_notify_msg m = {.notification_id = 1, .delivery_id = 2, .kind = "TEST",
                       .payload = payload, .created_at = "2026-03-10T00:00:00Z"};
    atomic_int abort_flag;
    atomic_init(&abort_flag, 0);
    long code = 0;
    *err = NULL;
    int rc = cd_notify_send(&s, &ch, &m, &abort_flag, &code, err);
    json_decref(payload);
    server_stop(&sv);
    assert_int_equal(code, status);
    return rc;
}

static int send_to(const char *path, int status, const char *body, char **err)
{
    return send_to_(path, status, body, 0, err);
}

/* A body with a two-byte character across the 512-byte cut. */
static void test_body_cut_inside_a_character(void **state)
{
    (void)state;
    char body[1200];
    memset(body, 'x', 511);
    body[511] = '\0';
    for (int i = 0; i < 200; i++)
        strcat(body, "\xc3\xa9"); /* é */
    char *err = NULL;
    assert_int_equal(send_to("/hook", 503, body, &err), CD_SEND_RETRY);
    assert_non_null(err);
    assert_true(valid_utf8(err));
    /* the quote is the body's first 511 bytes (all 'x'), cut before the
     * character that straddles byte 512, not inside it */
    const char *quote = strstr(err, "HTTP 503: ");
    assert_non_null(quote);
    quote += strlen("HTTP 503: ");
    assert_int_equal(strspn(quote, "x"), 511);
    assert_true(quote[511] != '\xc3' || quote[512] == '\xa9');
    free(err);
}

/* Invalid UTF-8 (a Latin-1 error page) and control characters. */
static void test_body_not_utf8(void **state)
{
    (void)state;
    char *err = NULL;
    assert_int_equal(send_to("/hook", 400, "Requ\xeate invalide\r\n\x1b[0m\xff", &err),
                     CD_SEND_PERMANENT);
    assert_non_null(err);
    assert_true(valid_utf8(err));
    assert_null(strpbrk(err, "\r\n\x1b"));
    assert_non_null(strstr(err, "HTTP 400: Requ?te invalide"));
    free(err);
}

/* The receiver echoes the URL's token straddling the 512-byte cut: none
 * of it may be quoted. */
static void test_secret_across_the_cut_scrubbed(void **state)
{
    (void)state;
    const char *token = "XyZ0123456789abcdefghijTOKEN";
    char path[128];
    snprintf(path, sizeof path, "/services/T000/%s", token);
    char body[1200];
    /* 467 + 18 + 15: the token starts at byte 500, 12 bytes before the cut. */
    memset(body, ' ', 467);
    body[467] = '\0';
    strcat(body, "no route for POST ");
    strcat(body, path);
    char *err = NULL;
    assert_int_equal(send_to(path, 404, body, &err), CD_SEND_PERMANENT);
    assert_non_null(err);
    /* Not even the part of it before the cut. */
    assert_null(strstr(err, "XyZ0123"));
    assert_null(strstr(err, "services/T000/XyZ"));
    free(err);
}

/* A receiver that accepted the alert (200) but whose answer is endless:
 * delivered, at once, not a timeout to retry (and send again). */
static void test_endless_body_after_200(void **state)
{
    (void)state;
    static char body[70000];
    memset(body, 'z', sizeof body - 1);
    char *err = NULL;
    time_t t0 = time(NULL);
    int rc = send_to_("/hook", 200, body, (size_t)1 << 30, &err);
    if (rc != CD_SEND_OK)
        fail_msg("outcome %d: %s", rc, err ? err : "");
    assert_null(err);
    assert_true(time(NULL) - t0 < 3);
}

/* The same after a 500: the status and the start of the body are quoted. */
static void test_endless_body_after_500(void **state)
{
    (void)state;
    static char body[70000];
    memset(body, 'z', sizeof body - 1);
    char *err = NULL;
    assert_int_equal(send_to_("/hook", 500, body, (size_t)1 << 30, &err), CD_SEND_RETRY);
    assert_non_null(err);
    assert_non_null(strstr(err, "HTTP 500: zzzz"));
    assert_true(strlen(err) < 700);
    free(err);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_cut_inside_a_character),
        cmocka_unit_test(test_body_not_utf8),
        cmocka_unit_test(test_secret_across_the_cut_scrubbed),
        cmocka_unit_test(test_endless_body_after_200),
        cmocka_unit_test(test_endless_body_after_500),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
