/*
 * notify.h — alert channels and their delivery.
 *
 * The configuration (alerts.*) is read into an immutable, reference-counted
 * settings snapshot. Three kinds of threads read it: the event loop (late
 * data, digest), the delivery thread and the API threads (POST
 * /notifications/test); a SIGHUP swaps the snapshot, and a reader keeps the
 * one it took until it puts it back, so nobody ever sees half a reload.
 *
 * Delivery: a thread of its own with its own PostgreSQL connection fans
 * every new sp_v2_notifications row out into one delivery row per channel,
 * claims due deliveries one at a time (FOR UPDATE SKIP LOCKED, then a claim
 * with an expiry so the HTTP or SMTP exchange happens outside any
 * transaction), sends, and records the attempt (outcome, HTTP status or
 * SMTP code, error). Failures are retried with exponential backoff up to
 * alerts.max_attempts. A slow or dead receiver therefore delays only other
 * alerts, never a run or the event loop.
 */
#ifndef CD_NOTIFY_H
#define CD_NOTIFY_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

#include "config.h"

typedef enum cd_channel_type {
    CD_CHANNEL_WEBHOOK,
    CD_CHANNEL_SLACK,
    CD_CHANNEL_EMAIL
} cd_channel_type;

/* A value that is either plaintext or a secret reference ("env:NAME"...).
 * Both NULL: not set. */
typedef struct cd_secret_value {
    char *plain;
    char *reference;
} cd_secret_value;

typedef struct cd_channel {
    char *name;
    cd_channel_type type;
    cd_secret_value url;     /* a Slack incoming-webhook URL is itself a credential */
    cd_secret_value secret;  /* webhook: HMAC key; email: SMTP password */
    /* email only */
    char *from;
    char **to;
    size_t nto;
    char *username;
    int starttls_required;   /* CURLUSESSL_ALL (default) or CURLUSESSL_TRY */
} cd_channel;

typedef struct cd_alert_settings {
    cd_channel *channels;
    size_t nchannels;
    char *database_url;
    char *base_url;          /* link to the ops page; NULL: no links */
    int digest_enabled;
    int digest_hour, digest_minute;
    char *digest_tz;
    int timeout_s;           /* one HTTP request or SMTP session */
    int max_attempts;
    int retry_base_s, retry_max_s;
    int max_age_hours;       /* older undelivered events are dropped, not sent */
    int retention_days;
} cd_alert_settings;

/* Reads and checks alerts.* from cfg (channel names unique and simple,
 * known types, URLs of the right scheme, email from/to, HH:MM times, known
 * zone). Returns a snapshot with one reference, or NULL with *err naming
 * the key. Secrets are not resolved here: that happens at each send, so a
 * rotated secret needs no reload, and a missing one fails only its channel. */
cd_alert_settings *cd_alert_settings_load(const cd_config *cfg, char **err);

/* The process-wide current snapshot: set (takes the reference; NULL
 * clears), get (a new reference, or NULL when none), put. Thread-safe. */
void cd_alert_settings_set(cd_alert_settings *s);
cd_alert_settings *cd_alert_settings_get(void);
void cd_alert_settings_put(cd_alert_settings *s);

const cd_channel *cd_alert_channel(const cd_alert_settings *s, const char *name);
const char *cd_channel_type_name(cd_channel_type t);

/* Resolves a secret value: 0 with *out (malloc'd) or -1 with *err (no
 * secret text in it). Thread-safe. */
int cd_secret_value_get(const cd_secret_value *v, char **out, char **err);

/* --- rendering (notify_render.c): pure functions, thread-safe --- */

typedef struct cd_notify_msg {
    long long notification_id;
    long long delivery_id;
    const char *kind;          /* RUN_FAILED | RECOVERED | LATE | DIGEST | TEST */
    const json_t *payload;     /* the row's payload */
    const char *created_at;    /* ISO 8601 */
    const char *base_url;      /* may be NULL */
} cd_notify_msg;

/* One-line subject ("[connectord] run failed: SabPaisa PG API 2026-03-09"). */
char *cd_notify_subject(const cd_notify_msg *m);
/* Plain text, several lines, with the ops page link when there is one. */
char *cd_notify_text(const cd_notify_msg *m);
/* The ops page link for the message's run, or NULL. */
char *cd_notify_link(const cd_notify_msg *m);
/* Request bodies. */
char *cd_notify_webhook_body(const cd_notify_msg *m);
char *cd_notify_slack_body(const cd_notify_msg *m);
/* A complete RFC 5322 message with CRLF line ends. */
char *cd_notify_email(const cd_notify_msg *m, const cd_channel *ch, long long now_epoch);

/* hex HMAC-SHA256 of data under key, "sha256=<64 hex>" (malloc'd). */
char *cd_notify_signature(const char *key, size_t keylen, const char *data, size_t len);

/* --- sending (notify_send.c) --- */

/* CD_SEND_ABORTED: abort_flag ended the exchange, so the receiver's answer
 * (if any) is unknown; the caller must not count it as an attempt. */
enum { CD_SEND_OK = 0, CD_SEND_RETRY = 1, CD_SEND_PERMANENT = 2, CD_SEND_ABORTED = 3 };

/* Sends m over ch. *code: the HTTP status or last SMTP reply code (0 when
 * none came). *err (malloc'd) on failure, with every secret of the channel
 * scrubbed. abort_flag, when it becomes non-zero, ends the exchange early
 * with CD_SEND_ABORTED.
 * Thread-safe (one curl handle per call, CURLOPT_NOSIGNAL). */
int cd_notify_send(const cd_alert_settings *s, const cd_channel *ch, const cd_notify_msg *m,
                   const atomic_int *abort_flag, long *code, char **err);

/* --- the delivery thread (notify.c) --- */

typedef struct cd_notifier cd_notifier;

/* Starts the thread; it takes the current snapshot each round. NULL with
 * *err when the thread cannot be created. */
cd_notifier *cd_notifier_start(const char *worker_id, char **err);
/* Wakes it now (new events). Thread-safe. */
void cd_notifier_wake(cd_notifier *n);
/* Stops it (an exchange in flight is aborted) and joins it. */
void cd_notifier_stop(cd_notifier *n);

#endif
