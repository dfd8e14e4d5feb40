/* notify_send.c — one delivery over HTTP (webhook, Slack) or SMTP
 * (email), with libcurl; see notify.h. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "notify.h"
#include "secrets.h"
#include "util.h"

/* The receiver's answer is kept only to quote its start in an error. */
#define KEEP_BODY 512

/* What write_cb keeps: KEEP_BODY plus the longest secret of the channel,
 * so that a secret the receiver echoes across the KEEP_BODY cut is still
 * whole when the quote is scrubbed (and only then cut). */
typedef struct response {
    cd_buf b;
    size_t cap;
    int cut;     /* the body went on past cap: the transfer was ended there */
} response;

typedef struct reader {
    const char *data;
    size_t len, off;
} reader;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    reader *r = arg;
    size_t n = size * nitems;
    if (n > r->len - r->off)
        n = r->len - r->off;
    memcpy(buf, r->data + r->off, n);
    r->off += n;
    return n;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    response *r = arg;
    size_t n = size * nmemb;
    if (r->b.len + n > r->cap) {
        /* The status is in: the rest of a huge (or endless) answer is not
         * waited for, nor is the receiver's verdict lost to a timeout. */
        cd_buf_append(&r->b, ptr, r->cap - r->b.len);
        r->cut = 1;
        return 0;
    }
    cd_buf_append(&r->b, ptr, n);
    return n;
}

static int progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const atomic_int *abort_flag = arg;
    return abort_flag && atomic_load(abort_flag) ? 1 : 0;
}

/* Whatever an error says, no secret of the channel survives in it (an
 * SMTP server may echo a login, a URL may be quoted). */
static void add_url_parts(cd_secret_set *set, const char *url);

/* secrets[0] is the channel's URL: its parts are scrubbed too. */
static char *scrubbed(const char *text, char *const *secrets, size_t n)
{
    cd_secret_set *set = cd_secret_set_new();
    for (size_t i = 0; i < n; i++)
        if (secrets[i])
            cd_secret_set_add(set, secrets[i], strlen(secrets[i]));
    if (n > 0 && secrets[0])
        add_url_parts(set, secrets[0]);
    char *out = cd_secret_scrub(set, text);
    cd_secret_set_free(set);
    return out;
}

/* The parts of a URL that may be a credential on their own: a receiver's
 * error page may quote the request's path (Spring's "path", Express's
 * "Cannot POST /..."), and a Slack webhook's path is its token. The
 * userinfo, the path with its query, and every piece of them (between
 * '/', '?', '&', '=', ':' or '@') of 8 characters or more. */
static void add_url_parts(cd_secret_set *set, const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *path = strchr(p, '/');
    const char *at = strchr(p, '@');
    if (at && (!path || at < path))
        cd_secret_set_add(set, p, (size_t)(at - p)); /* user:password */
    if (!path)
        path = p + strlen(p);
    if (strlen(path) >= 8) /* not "/hook/": a plain route is no secret */
        cd_secret_set_add(set, path, strlen(path));
    const char *q = at && at < path ? p : path;
    while (*q) {
        size_t n = strcspn(q, "/?&=:@#");
        if (n >= 8)
            cd_secret_set_add(set, q, n);
        q += n;
        if (*q)
            q++;
    }
}

/* 5xx, 408 and 429 are worth retrying; any other 4xx will not change. */
static int http_outcome(long status)
{
    if (status >= 200 && status < 300)
        return CD_SEND_OK;
    if (status >= 500 || status == 408 || status == 429 || status == 0)
        return CD_SEND_RETRY;
    return CD_SEND_PERMANENT;
}

int cd_notify_send(const cd_alert_settings *s, const cd_channel *ch, const cd_notify_msg *m,
                   const atomic_int *abort_flag, long *code, char **err)
{
    *code = 0;
    char *url = NULL, *secret = NULL, *payload = NULL, *serr = NULL;
    struct curl_slist *hdrs = NULL, *rcpt = NULL;
    response resp = {.cap = KEEP_BODY};
    cd_buf_init(&resp.b);
    int rc = CD_SEND_RETRY;
    CURL *h = NULL;
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';

    if (cd_secret_value_get(&ch->url, &url, &serr) != 0) {
        *err = cd_sprintf("channel %s: url: %s", ch->name, serr);
        free(serr);
        return CD_SEND_RETRY; /* a secret not yet in place may appear */
    }
    if (cd_secret_value_get(&ch->secret, &secret, &serr) != 0) {
        *err = cd_sprintf("channel %s: secret: %s", ch->name, serr);
        free(serr);
        free(url);
        return CD_SEND_RETRY;
    }
    resp.cap += (url ? strlen(url) : 0) + (secret ? strlen(secret) : 0);
    h = curl_easy_init();
    if (!h) {
        *err = cd_sprintf("channel %s: curl_easy_init failed", ch->name);
        goto out;
    }
    /* Threads: no signals (the resolver timeout would use SIGALRM). */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)s->timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(s->timeout_s < 10 ? s->timeout_s : 10));
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)abort_flag);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "connectord/" CD_VERSION);
    reader rd = {0};
    if (ch->type == CD_CHANNEL_EMAIL) {
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        payload = cd_notify_email(m, ch, (long long)time(NULL));
        rd = (reader){.data = payload, .len = strlen(payload)};
        curl_easy_setopt(h, CURLOPT_MAIL_FROM, ch->from);
        for (size_t i = 0; i < ch->nto; i++)
            rcpt = curl_slist_append(rcpt, ch->to[i]);
        curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, &rd);
        curl_easy_setopt(h, CURLOPT_INFILESIZE, (long)rd.len);
        /* Production: STARTTLS or nothing; "try" for a loopback sink. */
        curl_easy_setopt(h, CURLOPT_USE_SSL,
                         ch->starttls_required ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
        if (ch->username)
            curl_easy_setopt(h, CURLOPT_USERNAME, ch->username);
        if (secret)
            curl_easy_setopt(h, CURLOPT_PASSWORD, secret);
    } else {
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        /* A redirect could carry the signed body elsewhere: none followed. */
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        payload = ch->type == CD_CHANNEL_SLACK ? cd_notify_slack_body(m) : cd_notify_webhook_body(m);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json; charset=utf-8");
        if (ch->type == CD_CHANNEL_WEBHOOK) {
            char *hdr = cd_sprintf("X-Connectord-Event: %s", m->kind);
            hdrs = curl_slist_append(hdrs, hdr);
            free(hdr);
            hdr = cd_sprintf("X-Connectord-Delivery: %lld", m->delivery_id);
            hdrs = curl_slist_append(hdrs, hdr);
            free(hdr);
            if (secret) {
                char *sig = cd_notify_signature(secret, strlen(secret), payload, strlen(payload));
                if (!sig) {
                    *err = cd_sprintf("channel %s: HMAC-SHA256 failed (libcrypto)", ch->name);
                    goto out;
                }
                hdr = cd_sprintf("X-Connectord-Signature: %s", sig);
                hdrs = curl_slist_append(hdrs, hdr);
                free(hdr);
                free(sig);
            }
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
    if (cc == CURLE_WRITE_ERROR && resp.cut && *code)
        cc = CURLE_OK; /* ended by write_cb after the status came */
    char *secrets[] = {url, secret};
    if (cc != CURLE_OK) {
        char *raw;
        if (cc == CURLE_ABORTED_BY_CALLBACK)
            raw = cd_xstrdup("aborted: the worker is stopping");
        else
            raw = cd_sprintf("%s (curl %d)", errbuf[0] ? errbuf : curl_easy_strerror(cc), (int)cc);
        /* An SMTP server that refuses a recipient or the login answers a
         * code, not a transfer error: 5xx replies will not change. */
        rc = ch->type == CD_CHANNEL_EMAIL && *code >= 500 ? CD_SEND_PERMANENT : CD_SEND_RETRY;
        if (cc == CURLE_ABORTED_BY_CALLBACK)
            rc = CD_SEND_ABORTED;
        /* The URL may be a credential (Slack): never quoted. */
        char *msg = scrubbed(raw, secrets, 2);
        *err = cd_sprintf("channel %s (%s): %s", ch->name, cd_channel_type_name(ch->type), msg);
        free(msg);
        free(raw);
        goto out;
    }
    if (ch->type == CD_CHANNEL_EMAIL) {
        rc = CD_SEND_OK;
        goto out;
    }
    rc = http_outcome(*code);
    if (rc != CD_SEND_OK) {
        /* The quote goes into a log line and a text column: valid UTF-8
         * (PostgreSQL refuses anything else, and the attempt would go
         * unrecorded), no NUL or control character, scrubbed while whole,
         * then cut on a character boundary. */
        char *body = cd_utf8_clean(resp.b.data ? resp.b.data : "", resp.b.len, resp.b.len);
        for (char *p = body; *p; p++) /* one log line */
            if ((unsigned char)*p < ' ' || *p == 0x7f)
                *p = ' ';
        char *clean = scrubbed(body, secrets, 2);
        char *quote = cd_utf8_clean(clean, strlen(clean), KEEP_BODY);
        char *raw = cd_sprintf("HTTP %ld%s%s", *code, *quote ? ": " : "", quote);
        free(body);
        free(clean);
        free(quote);
        *err = cd_sprintf("channel %s (%s): %s", ch->name, cd_channel_type_name(ch->type), raw);
        free(raw);
    }
out:
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(rcpt);
    cd_buf_free(&resp.b);
    free(payload);
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
    free(url);
    return rc;
}
