/*
 * secret_guard.h — the rule for a connector's secret references: they may
 * not reach the service's own settings and credentials (secret_guard.c
 * says how). The configuration's own references (auth.tokens, alert
 * channels) are the service's and do not go through it.
 */
#ifndef CD_SECRET_GUARD_H
#define CD_SECRET_GUARD_H

#include <stddef.h>

/* The service's database URL, whose text and password no connector's
 * secret may hold. Call before resolving; NULL clears. */
void cd_secret_guard_set(const char *database_url);

/* 0, or -1 with *why (malloc'd) when the reference names what is the
 * service's: an env variable of its own, a file under /proc, /sys, /dev. */
int cd_secret_guard_check_reference(const char *reference, char **why);

/* 0, or -1 with *why when a resolved value holds the database URL or its
 * password. */
int cd_secret_guard_check_value(const char *reference, const char *value, size_t len,
                                char **why);

/* cd_secret_resolve with both checks; the same contract. */
int cd_secret_resolve_guarded(const char *reference, char **out, size_t *out_len, char **err);

#endif
