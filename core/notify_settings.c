/* notify_settings.c — alerts.* read into a snapshot; see notify.h. */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "notify.h"
#include "secrets.h"
#include "util.h"

/* The snapshot and its reference count share one lock: references are
 * taken and dropped far less often than once a second per thread. */
struct settings_box {
    cd_alert_settings s;
    int refs;
};

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static struct settings_box *cur;

static void secret_value_free(cd_secret_value *v)
{
    free(v->plain);
    free(v->reference);
}

static void settings_free(struct settings_box *b)
{
    cd_alert_settings *s = &b->s;
    for (size_t i = 0; i < s->nchannels; i++) {
        cd_channel *c = &s->channels[i];
        free(c->name);
        secret_value_free(&c->url);
        secret_value_free(&c->secret);
        free(c->from);
        for (size_t j = 0; j < c->nto; j++)
            free(c->to[j]);
        free(c->to);
        free(c->username);
    }
    free(s->channels);
    free(s->database_url);
    free(s->base_url);
    free(s->digest_tz);
    free(b);
}

const char *cd_channel_type_name(cd_channel_type t)
{
    switch (t) {
    case CD_CHANNEL_WEBHOOK: return "webhook";
    case CD_CHANNEL_SLACK: return "slack";
    case CD_CHANNEL_EMAIL: return "email";
    }
    return "?";
}

/* "HH:MM" → hour and minute. */
static int parse_hhmm(const char *s, int *h, int *m)
{
    if (!s || strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
        s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return -1;
    *h = (s[0] - '0') * 10 + (s[1] - '0');
    *m = (s[3] - '0') * 10 + (s[4] - '0');
    return *h < 24 && *m < 60 ? 0 : -1;
}

/* Names appear in connector rows, metrics labels and SQL arrays: keep them
 * plain. */
static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
            return 0;
    return 1;
}

/* An address goes into SMTP commands and headers: no CR, LF, angle
 * brackets, spaces or commas. */
static int valid_address(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strlen(s) > 254)
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || strchr("<>,;\"\\()", *p) || (unsigned char)*p == 0x7f)
            return 0;
    return 1;
}

static int get_secret_value(const json_t *node, const char *key, cd_secret_value *out,
                            char **err)
{
    memset(out, 0, sizeof *out);
    if (!node || json_is_null(node))
        return 0;
    if (json_is_string(node)) {
        out->plain = cd_xstrdup(json_string_value(node));
        return 0;
    }
    if (cd_secret_is_reference(node)) {
        out->reference = cd_xstrdup(json_string_value(json_object_get(node, "secret")));
        return 0;
    }
    *err = cd_sprintf("%s: must be a string or a secret reference {\"secret\": \"env:NAME\"}", key);
    return -1;
}

static int opt_int(const json_t *alerts, const char *key, int dflt, int min, int max, int *out,
                   char **err)
{
    const json_t *v = json_object_get(alerts, key);
    long long x = dflt;
    if (v && !json_is_null(v)) {
        char *end = NULL;
        if (json_is_integer(v))
            x = json_integer_value(v);
        else if (json_is_string(v) && *json_string_value(v))
            x = strtoll(json_string_value(v), &end, 10);
        if (!(json_is_integer(v) || (end && *end == '\0')) || x < min || x > max) {
            *err = cd_sprintf("alerts.%s: must be an integer from %d to %d", key, min, max);
            return -1;
        }
    }
    *out = (int)x;
    return 0;
}

static int load_channel(const json_t *c, size_t idx, cd_channel *ch, char **err)
{
    char *where = cd_sprintf("alerts.channels[%zu]", idx);
    int rc = -1;
    if (!json_is_object(c)) {
        *err = cd_sprintf("%s: must be a mapping with name, type and url", where);
        goto out;
    }
    static const char *const known[] = {"name", "type", "url", "secret", "from", "to",
                                        "username", "starttls", NULL};
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)c, k, v) {
        size_t i = 0;
        while (known[i] && strcmp(known[i], k) != 0)
            i++;
        if (!known[i]) {
            *err = cd_sprintf("%s.%s: unknown key (known: name, type, url, secret, from, to, "
                              "username, starttls)", where, k);
            goto out;
        }
    }
    const char *name = json_string_value(json_object_get(c, "name"));
    if (!name || !valid_name(name)) {
        *err = cd_sprintf("%s.name: required: 1-64 letters, digits, '-', '_' or '.'", where);
        goto out;
    }
    ch->name = cd_xstrdup(name);
    const char *type = json_string_value(json_object_get(c, "type"));
    if (type && strcmp(type, "webhook") == 0)
        ch->type = CD_CHANNEL_WEBHOOK;
    else if (type && strcmp(type, "slack") == 0)
        ch->type = CD_CHANNEL_SLACK;
    else if (type && strcmp(type, "email") == 0)
        ch->type = CD_CHANNEL_EMAIL;
    else {
        *err = cd_sprintf("%s (%s).type: must be webhook, slack or email", where, name);
        goto out;
    }
    char *key = cd_sprintf("%s (%s).url", where, name);
    int bad = get_secret_value(json_object_get(c, "url"), key, &ch->url, err);
    free(key);
    if (bad)
        goto out;
    if (!ch->url.plain && !ch->url.reference) {
        *err = cd_sprintf("%s (%s).url: required", where, name);
        goto out;
    }
    if (ch->url.plain) {
        const char *u = ch->url.plain;
        int ok = ch->type == CD_CHANNEL_EMAIL
                     ? (strncmp(u, "smtp://", 7) == 0 || strncmp(u, "smtps://", 8) == 0)
                     : (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0);
        if (!ok) {
            *err = cd_sprintf("%s (%s).url: must start with %s", where, name,
                              ch->type == CD_CHANNEL_EMAIL ? "smtp:// or smtps://"
                                                            : "http:// or https://");
            goto out;
        }
    }
    key = cd_sprintf("%s (%s).secret", where, name);
    bad = get_secret_value(json_object_get(c, "secret"), key, &ch->secret, err);
    free(key);
    if (bad)
        goto out;
    ch->starttls_required = 1;
    if (ch->type == CD_CHANNEL_EMAIL) {
        const char *from = json_string_value(json_object_get(c, "from"));
        if (!from || !valid_address(from)) {
            *err = cd_sprintf("%s (%s).from: required: one plain address (user@host)", where, name);
            goto out;
        }
        ch->from = cd_xstrdup(from);
        const json_t *to = json_object_get(c, "to");
        if (json_is_string(to)) {
            ch->to = cd_xcalloc(1, sizeof *ch->to);
            ch->to[ch->nto++] = cd_xstrdup(json_string_value(to));
        } else if (json_is_array(to)) {
            ch->to = cd_xcalloc(json_array_size(to) + 1, sizeof *ch->to);
            size_t i;
            const json_t *t;
            json_array_foreach((json_t *)to, i, t) {
                if (!json_is_string(t)) {
                    *err = cd_sprintf("%s (%s).to[%zu]: must be an address", where, name, i);
                    goto out;
                }
                ch->to[ch->nto++] = cd_xstrdup(json_string_value(t));
            }
        }
        if (ch->nto == 0) {
            *err = cd_sprintf("%s (%s).to: required: an address or a list of them", where, name);
            goto out;
        }
        for (size_t i = 0; i < ch->nto; i++) {
            if (!valid_address(ch->to[i])) {
                *err = cd_sprintf("%s (%s).to: not a plain address: %s", where, name, ch->to[i]);
                goto out;
            }
        }
        const char *user = json_string_value(json_object_get(c, "username"));
        if (user)
            ch->username = cd_xstrdup(user);
        const char *tls = json_string_value(json_object_get(c, "starttls"));
        if (tls && strcmp(tls, "try") == 0)
            ch->starttls_required = 0;
        else if (tls && strcmp(tls, "required") != 0) {
            *err = cd_sprintf("%s (%s).starttls: must be required (the default) or try", where,
                              name);
            goto out;
        }
    } else if (json_object_get(c, "from") || json_object_get(c, "to") ||
               json_object_get(c, "username") || json_object_get(c, "starttls")) {
        *err = cd_sprintf("%s (%s): from, to, username and starttls are for email channels",
                          where, name);
        goto out;
    }
    if (ch->type == CD_CHANNEL_SLACK && (ch->secret.plain || ch->secret.reference)) {
        *err = cd_sprintf("%s (%s).secret: a Slack channel has no secret: put the incoming-"
                          "webhook URL in url (a secret reference is fine)", where, name);
        goto out;
    }
    rc = 0;
out:
    free(where);
    return rc;
}

cd_alert_settings *cd_alert_settings_load(const cd_config *cfg, char **err)
{
    struct settings_box *b = cd_xcalloc(1, sizeof *b);
    b->refs = 1;
    cd_alert_settings *s = &b->s;
    const json_t *alerts = cd_config_get(cfg, "alerts");
    const char *url = cd_config_string(cfg, "database.url", NULL);
    s->database_url = url ? cd_xstrdup(url) : NULL;
    s->retention_days = (int)cd_config_int(cfg, "retention.days", 90, NULL);
    if (s->retention_days < 1)
        s->retention_days = 90;
    if (alerts && !json_is_null(alerts) && !json_is_object(alerts)) {
        *err = cd_xstrdup("alerts: must be a mapping");
        goto fail;
    }
    if (opt_int(alerts, "timeout_seconds", 10, 1, 300, &s->timeout_s, err) != 0 ||
        opt_int(alerts, "max_attempts", 5, 1, 100, &s->max_attempts, err) != 0 ||
        opt_int(alerts, "retry_base_seconds", 30, 1, 86400, &s->retry_base_s, err) != 0 ||
        opt_int(alerts, "retry_max_seconds", 3600, 1, 86400, &s->retry_max_s, err) != 0 ||
        opt_int(alerts, "max_age_hours", 24, 1, 24 * 365, &s->max_age_hours, err) != 0)
        goto fail;
    const json_t *base = json_object_get(alerts, "base_url");
    if (json_is_string(base) && *json_string_value(base)) {
        const char *u = json_string_value(base);
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
            *err = cd_xstrdup("alerts.base_url: must start with http:// or https://");
            goto fail;
        }
        size_t n = strlen(u);
        while (n > 0 && u[n - 1] == '/') /* "{base_url}/ops/..." either way */
            n--;
        s->base_url = cd_xstrndup(u, n);
    } else if (base && !json_is_null(base) && !json_is_string(base)) {
        *err = cd_xstrdup("alerts.base_url: must be a URL");
        goto fail;
    }
    const json_t *dt = json_object_get(alerts, "digest_time");
    if (dt && !json_is_null(dt) && !(json_is_string(dt) && !*json_string_value(dt))) {
        if (parse_hhmm(json_string_value(dt), &s->digest_hour, &s->digest_minute) != 0) {
            *err = cd_xstrdup("alerts.digest_time: must be \"HH:MM\" (24-hour, quoted)");
            goto fail;
        }
        s->digest_enabled = 1;
    }
    const char *tz = json_string_value(json_object_get(alerts, "digest_timezone"));
    if (tz && *tz && !cd_tz_valid(tz)) {
        *err = cd_sprintf("alerts.digest_timezone: unknown time zone %s", tz);
        goto fail;
    }
    s->digest_tz = cd_xstrdup(tz && *tz ? tz : "Asia/Kolkata");
    const json_t *chs = json_object_get(alerts, "channels");
    if (chs && !json_is_null(chs) && !json_is_array(chs)) {
        *err = cd_xstrdup("alerts.channels: must be a list of channels");
        goto fail;
    }
    s->channels = cd_xcalloc(json_array_size(chs) + 1, sizeof *s->channels);
    size_t i;
    const json_t *c;
    json_array_foreach((json_t *)chs, i, c) {
        cd_channel *ch = &s->channels[s->nchannels++];
        if (load_channel(c, i, ch, err) != 0)
            goto fail;
        for (size_t j = 0; j + 1 < s->nchannels; j++) {
            if (strcmp(s->channels[j].name, ch->name) == 0) {
                *err = cd_sprintf("alerts.channels[%zu]: a second channel named %s", i, ch->name);
                goto fail;
            }
        }
    }
    return s;
fail:
    settings_free(b);
    return NULL;
}

static struct settings_box *box_of(cd_alert_settings *s)
{
    /* s is the first member. */
    return (struct settings_box *)(void *)s;
}

void cd_alert_settings_set(cd_alert_settings *s)
{
    pthread_mutex_lock(&cur_lock);
    struct settings_box *old = cur;
    cur = s ? box_of(s) : NULL;
    int free_old = old && --old->refs == 0;
    pthread_mutex_unlock(&cur_lock);
    if (free_old)
        settings_free(old);
}

cd_alert_settings *cd_alert_settings_get(void)
{
    pthread_mutex_lock(&cur_lock);
    struct settings_box *b = cur;
    if (b)
        b->refs++;
    pthread_mutex_unlock(&cur_lock);
    return b ? &b->s : NULL;
}

void cd_alert_settings_put(cd_alert_settings *s)
{
    if (!s)
        return;
    struct settings_box *b = box_of(s);
    pthread_mutex_lock(&cur_lock);
    int last = --b->refs == 0;
    pthread_mutex_unlock(&cur_lock);
    if (last)
        settings_free(b);
}

const cd_channel *cd_alert_channel(const cd_alert_settings *s, const char *name)
{
    for (size_t i = 0; s && name && i < s->nchannels; i++)
        if (strcmp(s->channels[i].name, name) == 0)
            return &s->channels[i];
    return NULL;
}

int cd_secret_value_get(const cd_secret_value *v, char **out, char **err)
{
    if (v->plain) {
        *out = cd_xstrdup(v->plain);
        return 0;
    }
    if (!v->reference) {
        *out = NULL;
        return 0;
    }
    size_t len = 0;
    return cd_secret_resolve(v->reference, out, &len, err);
}
