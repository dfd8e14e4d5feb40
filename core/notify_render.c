/* notify_render.c — what an alert says on each channel; see notify.h.
 * Everything here reads the event's payload only: the payload is made from
 * rows (run, connector) whose error messages the runner already scrubbed,
 * and channel secrets never reach these functions. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify.h"
#include "util.h"

static const char *pstr(const cd_notify_msg *m, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(m->payload, key));
    return v && *v ? v : dflt;
}

static long long pint(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

static const char *event_name(const char *kind)
{
    if (strcmp(kind, "RUN_FAILED") == 0)
        return "run_failed";
    if (strcmp(kind, "RECOVERED") == 0)
        return "recovered";
    if (strcmp(kind, "LATE") == 0)
        return "late_data";
    if (strcmp(kind, "REJECTED") == 0)
        return "records_rejected";
    if (strcmp(kind, "DIGEST") == 0)
        return "daily_digest";
    return "test";
}

char *cd_notify_link(const cd_notify_msg *m)
{
    if (!m->base_url)
        return NULL;
    const char *run = pstr(m, "run_id", NULL);
    const char *conn = pstr(m, "connector_id", NULL);
    /* The page opens a run through its connector: with both in the link it
     * need not ask every connector for the run. */
    if (run && conn)
        return cd_sprintf("%s/ops/connectors#connector-%s-run-%s", m->base_url, conn, run);
    if (run)
        return cd_sprintf("%s/ops/connectors#run-%s", m->base_url, run);
    if (conn)
        return cd_sprintf("%s/ops/connectors#connector-%s", m->base_url, conn);
    return cd_sprintf("%s/ops/connectors", m->base_url);
}

char *cd_notify_subject(const cd_notify_msg *m)
{
    const char *name = pstr(m, "connector", "?");
    char *s;
    if (strcmp(m->kind, "RUN_FAILED") == 0)
        s = cd_sprintf("[connectord] run failed: %s %s", name, pstr(m, "run_date", ""));
    else if (strcmp(m->kind, "RECOVERED") == 0)
        s = cd_sprintf("[connectord] recovered: %s", name);
    else if (strcmp(m->kind, "LATE") == 0)
        s = cd_sprintf("[connectord] late data: %s %s", name, pstr(m, "business_date", ""));
    else if (strcmp(m->kind, "REJECTED") == 0)
        s = cd_sprintf("[connectord] nothing loaded, every record rejected: %s %s", name,
                       pstr(m, "run_date", ""));
    else if (strcmp(m->kind, "DIGEST") == 0)
        s = cd_sprintf("[connectord] daily digest %s", pstr(m, "date", ""));
    else
        s = cd_sprintf("[connectord] test message to channel %s", pstr(m, "channel", "?"));
    /* A subject is one header line whatever a connector is called. */
    for (char *p = s; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    return s;
}

static void digest_lines(cd_buf *b, const cd_notify_msg *m)
{
    const json_t *list = json_object_get(m->payload, "connectors");
    cd_buf_printf(b, "Daily digest for %s (%s): %zu connector%s\n", pstr(m, "date", "?"),
                  pstr(m, "timezone", "?"), json_array_size(list),
                  json_array_size(list) == 1 ? "" : "s");
    size_t i;
    const json_t *c;
    json_array_foreach((json_t *)list, i, c) {
        const char *name = json_string_value(json_object_get(c, "connector"));
        cd_buf_printf(b,
                      "- %s: %lld run%s (%lld succeeded, %lld failed), %lld records loaded, "
                      "%lld record errors, %lld late day%s in the last 7\n",
                      name ? name : "?", pint(c, "runs"), pint(c, "runs") == 1 ? "" : "s",
                      pint(c, "succeeded"), pint(c, "failed"), pint(c, "records_loaded"),
                      pint(c, "records_failed"), pint(c, "late_days"),
                      pint(c, "late_days") == 1 ? "" : "s");
    }
}

char *cd_notify_text(const cd_notify_msg *m)
{
    cd_buf b;
    cd_buf_init(&b);
    const char *name = pstr(m, "connector", "?");
    if (strcmp(m->kind, "RUN_FAILED") == 0) {
        cd_buf_printf(&b, "Run %s of %s (%s) for %s FAILED after %lld of %lld attempt%s.\n",
                      pstr(m, "run_id", "?"), name, pstr(m, "run_type", "?"),
                      pstr(m, "run_date", "?"), pint(m->payload, "attempt"),
                      pint(m->payload, "max_attempts"),
                      pint(m->payload, "max_attempts") == 1 ? "" : "s");
        cd_buf_printf(&b, "Error: %s\n", pstr(m, "error", "(none recorded)"));
    } else if (strcmp(m->kind, "RECOVERED") == 0) {
        cd_buf_printf(&b, "%s recovered: run %s for %s ended %s after failures (last failed run %s).\n",
                      name, pstr(m, "run_id", "?"), pstr(m, "run_date", "?"),
                      pstr(m, "status", "SUCCESS"), pstr(m, "previous_failed_run_id", "?"));
    } else if (strcmp(m->kind, "REJECTED") == 0) {
        long long n = pint(m->payload, "records_failed");
        cd_buf_printf(&b,
                      "Run %s of %s (%s) for %s loaded nothing: all %lld record%s it read "
                      "failed validation.\n",
                      pstr(m, "run_id", "?"), name, pstr(m, "run_type", "?"),
                      pstr(m, "run_date", "?"), n, n == 1 ? "" : "s");
        const json_t *e = json_object_get(m->payload, "first_record_error");
        const char *row = json_string_value(json_object_get(e, "row"));
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *reason = json_string_value(json_object_get(e, "reason"));
        if (reason)
            cd_buf_printf(&b, "First error%s%s%s%s: %s\n", row ? " at " : "", row ? row : "",
                          field ? ", field " : "", field ? field : "", reason);
    } else if (strcmp(m->kind, "LATE") == 0) {
        cd_buf_printf(&b, "Late data: %s has no successful run for %s by %s %s (%s).\n", name,
                      pstr(m, "business_date", "?"), pstr(m, "expected_by", "?"),
                      pstr(m, "timezone", "?"), pstr(m, "local_date", "?"));
        cd_buf_printf(&b, "Latest run for that date: %s\n", pstr(m, "last_status", "none"));
    } else if (strcmp(m->kind, "DIGEST") == 0) {
        digest_lines(&b, m);
    } else {
        cd_buf_printf(&b, "Test message from connectord to channel %s (requested by %s).\n",
                      pstr(m, "channel", "?"), pstr(m, "requested_by", "?"));
    }
    char *link = cd_notify_link(m);
    if (link && strcmp(m->kind, "DIGEST") != 0 && strcmp(m->kind, "TEST") != 0)
        cd_buf_printf(&b, "%s\n", link);
    free(link);
    return cd_buf_take(&b);
}

char *cd_notify_webhook_body(const cd_notify_msg *m)
{
    char *text = cd_notify_text(m);
    char *link = cd_notify_link(m);
    char id[32];
    snprintf(id, sizeof id, "%lld", m->notification_id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s, s:s?}", "event", event_name(m->kind),
                          "id", id, "created_at", m->created_at ? m->created_at : "", "kind",
                          m->kind, "data", m->payload, "text", text, "link", link);
    char *body = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    free(text);
    free(link);
    return body;
}

/* Slack's mrkdwn treats &, < and > as control characters. */
static char *slack_escape(const char *s)
{
    cd_buf b;
    cd_buf_init(&b);
    for (; *s; s++) {
        if (*s == '&')
            cd_buf_puts(&b, "&amp;");
        else if (*s == '<')
            cd_buf_puts(&b, "&lt;");
        else if (*s == '>')
            cd_buf_puts(&b, "&gt;");
        else
            cd_buf_putc(&b, *s);
    }
    return cd_buf_take(&b);
}

/* Slack refuses (HTTP 400) a section whose text is over 3000 characters
 * and a message of more than 50 blocks. Bytes bound characters safely. */
#define SLACK_SECTION_MAX 3000
#define SLACK_BLOCKS_MAX 50

/* How much of text (at most SLACK_SECTION_MAX bytes) one section takes: up
 * to a line end in its second half, else cut between UTF-8 characters and
 * never inside an escaped &entity;. */
static size_t section_cut(const char *text, size_t len)
{
    if (len <= SLACK_SECTION_MAX)
        return len;
    for (size_t i = SLACK_SECTION_MAX; i > SLACK_SECTION_MAX / 2; i--)
        if (text[i - 1] == '\n')
            return i;
    size_t take = SLACK_SECTION_MAX;
    while (take > 0 && ((unsigned char)text[take] & 0xC0) == 0x80)
        take--;
    for (size_t k = 1; k <= 5 && k <= take; k++) {
        if (text[take - k] == ';')
            break;
        if (text[take - k] == '&') {
            take -= k;
            break;
        }
    }
    return take;
}

/* Appends text as mrkdwn sections, using at most max_blocks blocks; what
 * does not fit is named in the last one (a digest of hundreds of
 * connectors). */
static void add_sections(json_t *blocks, const char *text, size_t max_blocks)
{
    size_t len = strlen(text), pos = 0, used = 0;
    while (pos < len && used < max_blocks) {
        size_t take = section_cut(text + pos, len - pos);
        if (used + 1 == max_blocks && pos + take < len) {
            size_t lines = 0;
            for (size_t i = pos; i < len; i++)
                lines += text[i] == '\n';
            char *more = cd_sprintf("… %zu more line%s not shown: see the ops page.", lines,
                                    lines == 1 ? "" : "s");
            json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s}}", "type", "section",
                                                    "text", "type", "mrkdwn", "text", more));
            free(more);
            return;
        }
        json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s%}}", "type", "section", "text",
                                                "type", "mrkdwn", "text", text + pos, take));
        pos += take;
        used++;
    }
}

char *cd_notify_slack_body(const cd_notify_msg *m)
{
    char *subject = cd_notify_subject(m);
    char *text = cd_notify_text(m);
    char *link = cd_notify_link(m);
    char *esc_subject = slack_escape(subject);
    char *esc_text = slack_escape(text);
    json_t *blocks = json_array();
    int with_link = link && strcmp(m->kind, "DIGEST") != 0;
    add_sections(blocks, esc_text, SLACK_BLOCKS_MAX - (with_link ? 1 : 0));
    if (with_link) {
        char *l = cd_sprintf("<%s|Open in connectord>", link);
        json_array_append_new(blocks, json_pack("{s:s, s:[{s:s, s:s}]}", "type", "context",
                                                "elements", "type", "mrkdwn", "text", l));
        free(l);
    }
    /* "text" is the notification fallback; blocks are what Slack shows. */
    json_t *o = json_pack("{s:s, s:o}", "text", esc_subject, "blocks", blocks);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(subject), free(text), free(link), free(esc_subject), free(esc_text);
    return body;
}

/* RFC 5322's limit on a line of a message, CRLF excluded. */
#define LINE_MAX_OCTETS 998

char *cd_notify_email(const cd_notify_msg *m, const cd_channel *ch, long long now_epoch)
{
    char *subject = cd_notify_subject(m);
    char *text = cd_notify_text(m);
    char date[64];
    time_t t = (time_t)now_epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    const char *at = strchr(ch->from, '@');
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_printf(&b, "Date: %s\r\nFrom: connectord <%s>\r\nTo: ", date, ch->from);
    for (size_t i = 0; i < ch->nto; i++)
        cd_buf_printf(&b, "%s<%s>", i ? ", " : "", ch->to[i]);
    /* A non-ASCII (or very long) connector name in the subject: RFC 2047
     * base64 words of at most 75 characters (45 bytes each, cut between
     * UTF-8 characters), one per folded line. */
    int ascii = 1;
    for (const char *p = subject; *p; p++)
        if ((unsigned char)*p >= 0x80)
            ascii = 0;
    size_t n = strlen(subject);
    if (ascii && n <= LINE_MAX_OCTETS - 10) {
        cd_buf_printf(&b, "\r\nSubject: %s\r\n", subject);
    } else {
        cd_buf_puts(&b, "\r\nSubject:");
        for (size_t pos = 0; pos < n;) {
            size_t take = n - pos < 45 ? n - pos : 45;
            while (take > 0 && pos + take < n &&
                   ((unsigned char)subject[pos + take] & 0xC0) == 0x80)
                take--; /* not inside a character */
            if (take == 0)
                take = n - pos < 45 ? n - pos : 45;
            unsigned char enc[64];
            EVP_EncodeBlock(enc, (const unsigned char *)subject + pos, (int)take);
            cd_buf_printf(&b, "%s=?UTF-8?B?%s?=", pos ? "\r\n " : " ", (char *)enc);
            pos += take;
        }
        cd_buf_puts(&b, "\r\n");
    }
    cd_buf_printf(&b,
                  "Message-ID: <connectord-%lld-%lld@%s>\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
                  "X-Connectord-Event: %s\r\n\r\n",
                  m->notification_id, m->delivery_id, at ? at + 1 : "localhost",
                  event_name(m->kind));
    /* Body lines end in CRLF; libcurl dot-stuffs lines that start with '.'.
     * A line longer than an MTA takes (a long run error) is broken between
     * characters: RFC 5322 allows 998 octets, and strict servers refuse more. */
    size_t col = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            cd_buf_puts(&b, "\r\n");
            col = 0;
        } else if (*p != '\r') {
            if (col >= LINE_MAX_OCTETS - 100 && ((unsigned char)*p & 0xC0) != 0x80) {
                cd_buf_puts(&b, "\r\n");
                col = 0;
            }
            cd_buf_putc(&b, *p);
            col++;
        }
    }
    free(subject);
    free(text);
    return cd_buf_take(&b);
}

char *cd_notify_signature(const char *key, size_t keylen, const char *data, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, len, mac, &maclen))
        return NULL;
    char *out = cd_xmalloc(7 + 2 * maclen + 1);
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < maclen; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
    return out;
}
