/* api_auth.c — see api_auth.h. */
#include "api_auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "secrets.h"
#include "util.h"

typedef struct token {
    char *value;
    size_t len;
    cd_api_role role;
    char *name;
} token;

struct cd_api_auth {
    token *tokens;
    size_t n;
};

const char *cd_api_role_name(cd_api_role r)
{
    switch (r) {
    case CD_ROLE_VIEWER: return "viewer";
    case CD_ROLE_OPERATOR: return "operator";
    case CD_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

static cd_api_role role_from(const char *s)
{
    if (!s)
        return CD_ROLE_NONE;
    if (strcmp(s, "viewer") == 0)
        return CD_ROLE_VIEWER;
    if (strcmp(s, "operator") == 0)
        return CD_ROLE_OPERATOR;
    if (strcmp(s, "admin") == 0)
        return CD_ROLE_ADMIN;
    return CD_ROLE_NONE;
}

void cd_api_auth_free(cd_api_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        /* Tokens are credentials: do not leave them in freed memory. */
        explicit_bzero(a->tokens[i].value, a->tokens[i].len);
        free(a->tokens[i].value);
        free(a->tokens[i].name);
    }
    free(a->tokens);
    free(a);
}

size_t cd_api_auth_count(const cd_api_auth *a) { return a ? a->n : 0; }

/* Why a token's name cannot be stored, or NULL when it can (or is not
 * given). */
static const char *name_problem(const json_t *name)
{
    if (!name || json_is_null(name))
        return NULL;
    if (!json_is_string(name))
        return "must be a string";
    const unsigned char *s = (const unsigned char *)json_string_value(name);
    size_t len = json_string_length(name), chars = 0;
    if (len == 0)
        return "must not be empty";
    if (strlen((const char *)s) != len)
        return "must not hold a NUL character";
    for (size_t k = 0; k < len; k++) {
        if (s[k] < 0x20 || s[k] == 0x7f)
            return "must not hold control characters";
        if ((s[k] & 0xC0) != 0x80)
            chars++; /* jansson has checked the UTF-8: count lead bytes */
    }
    if (chars > 100)
        return "must be at most 100 characters (it is recorded as who acted)";
    return NULL;
}

cd_api_auth *cd_api_auth_load(const cd_config *cfg, char **err)
{
    cd_api_auth *a = cd_xcalloc(1, sizeof *a);
    json_t *list = cd_config_get(cfg, "auth.tokens");
    if (!list || json_is_null(list))
        return a;
    if (!json_is_array(list)) {
        *err = cd_xstrdup("auth.tokens must be a list of {token, role}");
        cd_api_auth_free(a);
        return NULL;
    }
    a->tokens = cd_xcalloc(json_array_size(list) + 1, sizeof *a->tokens);
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        json_t *t = json_object_get(e, "token");
        cd_api_role role = role_from(json_string_value(json_object_get(e, "role")));
        const char *name = json_string_value(json_object_get(e, "name"));
        if (!json_is_object(e) || role == CD_ROLE_NONE) {
            *err = cd_sprintf("auth.tokens[%zu]: role must be viewer, operator or admin", i);
            cd_api_auth_free(a);
            return NULL;
        }
        /* The name is what the audit trail and the runs record as who
         * acted (VARCHAR(100) columns): one that does not fit would make
         * every write by the token a 500, found only at the first write. */
        const char *bad_name = name_problem(json_object_get(e, "name"));
        if (bad_name) {
            *err = cd_sprintf("auth.tokens[%zu].name: %s", i, bad_name);
            cd_api_auth_free(a);
            return NULL;
        }
        char *value = NULL;
        size_t len = 0;
        if (json_is_string(t)) {
            value = cd_xstrndup(json_string_value(t), json_string_length(t));
            len = json_string_length(t);
        } else if (cd_secret_is_reference(t)) {
            char *why = NULL;
            if (cd_secret_resolve(json_string_value(json_object_get(t, "secret")), &value, &len,
                                  &why) != 0) {
                *err = cd_sprintf("auth.tokens[%zu]: %s", i, why);
                free(why);
                cd_api_auth_free(a);
                return NULL;
            }
        }
        if (!value || len == 0 || strlen(value) != len) {
            *err = cd_sprintf("auth.tokens[%zu]: token must be a non-empty string or a secret "
                              "reference {secret: \"env:NAME\"}",
                              i);
            free(value);
            cd_api_auth_free(a);
            return NULL;
        }
        token *tk = &a->tokens[a->n++];
        tk->value = value;
        tk->len = len;
        tk->role = role;
        /* The audit trail names the token, never shows it. */
        tk->name = name ? cd_xstrdup(name) : cd_sprintf("%s-token-%zu", cd_api_role_name(role), i + 1);
    }
    return a;
}

/* Compares the presented token with every configured one without a
 * data-dependent branch or early exit, so response time says nothing
 * about how much of a token matched, nor which one. */
cd_api_role cd_api_auth_check(const cd_api_auth *a, const char *authorization, const char **who)
{
    *who = NULL;
    if (!a || a->n == 0) {
        *who = "anonymous";
        return CD_ROLE_ADMIN;
    }
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return CD_ROLE_NONE;
    const char *p = authorization + 7;
    while (*p == ' ')
        p++;
    size_t plen = strlen(p);
    while (plen && (p[plen - 1] == ' ' || p[plen - 1] == '\t'))
        plen--;
    size_t found = a->n;
    for (size_t i = 0; i < a->n; i++) {
        const token *t = &a->tokens[i];
        unsigned diff = (unsigned)(plen ^ t->len);
        for (size_t j = 0; j < t->len; j++) {
            unsigned char c = j < plen ? (unsigned char)p[j] : 0;
            diff |= (unsigned)(c ^ (unsigned char)t->value[j]);
        }
        /* Branch-free select of the first match. */
        size_t is_match = (size_t)((diff | (0u - diff)) >> (sizeof(unsigned) * 8 - 1)) ^ 1u;
        size_t first = (size_t)(found == a->n);
        size_t take = is_match & first;
        found = take ? i : found;
    }
    if (found == a->n)
        return CD_ROLE_NONE;
    *who = a->tokens[found].name;
    return a->tokens[found].role;
}
