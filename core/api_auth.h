/*
 * api_auth.h — bearer tokens for the REST API. auth.tokens in the
 * configuration is a list of {token, role, name?}; token is the text itself
 * or a secret reference ({"secret": "env:NAME"}, resolved once at start).
 * Roles nest: viewer (GET), operator (also test, run, pause, resume,
 * backfill, cancel), admin (also create, update, delete).
 */
#ifndef CD_API_AUTH_H
#define CD_API_AUTH_H

#include "config.h"

typedef enum cd_api_role {
    CD_ROLE_NONE = 0,
    CD_ROLE_VIEWER = 1,
    CD_ROLE_OPERATOR = 2,
    CD_ROLE_ADMIN = 3
} cd_api_role;

typedef struct cd_api_auth cd_api_auth;

/* Reads auth.tokens. Returns NULL with *err for a malformed list, a bad
 * role, an empty token or a reference that does not resolve. */
cd_api_auth *cd_api_auth_load(const cd_config *cfg, char **err);
void cd_api_auth_free(cd_api_auth *a);

/* Number of configured tokens (0: the API is open, loopback only). */
size_t cd_api_auth_count(const cd_api_auth *a);

/* Checks an Authorization header value. Returns the token's role and sets
 * *who to its name (borrowed), or CD_ROLE_NONE when the header is missing,
 * not "Bearer ...", or matches no token. Every token is compared, in
 * constant time, whatever the outcome. With no tokens: admin, "anonymous". */
cd_api_role cd_api_auth_check(const cd_api_auth *a, const char *authorization, const char **who);

const char *cd_api_role_name(cd_api_role r);

#endif
