/* api_mask.c — see api_mask.h. */
#include "api_mask.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "registry.h"
#include "secrets.h"
#include "util.h"

static int name_looks_secret(const char *key)
{
    static const char *const words[] = {"password", "passwd", "secret", "token", "key",
                                        "passphrase", "conninfo", "credential", NULL};
    /* the whole name: a word past a fixed length ("..._account_password")
     * still counts */
    char *lower = cd_xstrdup(key);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int found = 0;
    for (size_t i = 0; words[i] && !found; i++)
        found = strstr(lower, words[i]) != NULL;
    free(lower);
    return found;
}

static void mask_value(json_t *parent_obj, const char *key, json_t *v)
{
    if (cd_secret_is_reference(v) || json_is_null(v))
        return;
    json_object_set_new(parent_obj, key, json_string(CD_API_MASK));
}

static void mask_node(json_t *node, const json_t *schema, int depth);

static void mask_object(json_t *obj, const json_t *schema, int depth)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    const char *key;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, key, v) {
        const json_t *ps = json_object_get(props, key);
        if (!ps && json_is_object(addl))
            ps = addl;
        if (!schema) {
            if (name_looks_secret(key) && !json_is_object(v) && !json_is_array(v))
                mask_value(obj, key, v);
            else
                mask_node(v, NULL, depth + 1);
        } else if (json_is_true(json_object_get(ps, "writeOnly"))) {
            mask_value(obj, key, v);
        } else if (ps) {
            mask_node(v, ps, depth + 1);
        } else {
            /* A field the schema does not describe: judge it by its name. */
            if (name_looks_secret(key) && !json_is_object(v) && !json_is_array(v))
                mask_value(obj, key, v);
            else
                mask_node(v, NULL, depth + 1);
        }
    }
}

static void mask_node(json_t *node, const json_t *schema, int depth)
{
    if (depth > 64)
        return;
    if (json_is_object(node)) {
        mask_object(node, schema, depth);
    } else if (json_is_array(node)) {
        const json_t *items = json_object_get(schema, "items");
        size_t i;
        json_t *e;
        json_array_foreach(node, i, e) {
            if (schema && json_is_true(json_object_get(items, "writeOnly"))) {
                if (!cd_secret_is_reference(e) && !json_is_null(e))
                    json_array_set_new(node, i, json_string(CD_API_MASK));
            } else {
                mask_node(e, items, depth + 1);
            }
        }
    }
}

/* Masks every string in node that holds one of the values in marked. */
static void mask_marked(json_t *node, const cd_secret_set *marked, int depth)
{
    if (depth > 64 || cd_secret_is_reference(node))
        return;
    if (json_is_object(node)) {
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(node, tmp, key, v) {
            if (json_is_string(v)) {
                char *scrubbed = cd_secret_scrub(marked, json_string_value(v));
                if (strcmp(scrubbed, json_string_value(v)) != 0)
                    mask_value(node, key, v);
                free(scrubbed);
            } else {
                mask_marked(v, marked, depth + 1);
            }
        }
    } else if (json_is_array(node)) {
        size_t i;
        json_t *e;
        json_array_foreach(node, i, e) {
            if (json_is_string(e)) {
                char *scrubbed = cd_secret_scrub(marked, json_string_value(e));
                if (strcmp(scrubbed, json_string_value(e)) != 0)
                    json_array_set_new(node, i, json_string(CD_API_MASK));
                free(scrubbed);
            } else {
                mask_marked(e, marked, depth + 1);
            }
        }
    }
}

void cd_api_mask_config(json_t *config, const json_t *schema)
{
    if (!schema) {
        /* the driver is not loaded: no one can tell its secrets by name */
        cd_api_mask_all(config);
        return;
    }
    /* Fields marked writeOnly through a $ref or in a branch of allOf, anyOf
     * or oneOf: the runner's scrubber finds them (secrets.c follows those),
     * so the API must mask them too. Collected before masking changes the
     * values; a value found there is masked wherever it stands. */
    cd_secret_set *marked = NULL;
    if (schema) {
        marked = cd_secret_set_new();
        cd_secrets_collect_marked(config, schema, marked);
    }
    mask_node(config, schema, 0);
    if (cd_secret_longest(marked) > 0)
        mask_marked(config, marked, 0);
    cd_secret_set_free(marked);
}

const json_t *cd_api_driver_schema(json_t *snapshot, const char *driver)
{
    if (!driver)
        return NULL;
    json_t *d = cd_registry_driver(snapshot, driver);
    const json_t *s = json_object_get(d, "config_schema");
    return json_is_object(s) ? s : NULL;
}

char *cd_api_connector_driver(const json_t *connector)
{
    const char *d = json_string_value(json_object_get(connector, "driver"));
    if (d && *d)
        return cd_xstrdup(d);
    const char *t = json_string_value(json_object_get(connector, "connector_type"));
    if (!t)
        return NULL;
    char *lower = cd_xstrdup(t);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return lower;
}

/* Every value in node but secret references, nulls and booleans becomes
 * the mask. */
static void mask_all(json_t *node, int depth)
{
    if (depth > 64)
        return;
    if (json_is_object(node)) {
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(node, tmp, key, v) {
            if (cd_secret_is_reference(v) || json_is_null(v) || json_is_boolean(v))
                continue;
            if (json_is_object(v) || json_is_array(v))
                mask_all(v, depth + 1);
            else
                json_object_set_new(node, key, json_string(CD_API_MASK));
        }
    } else if (json_is_array(node)) {
        size_t i;
        json_t *e;
        json_array_foreach(node, i, e) {
            if (cd_secret_is_reference(e) || json_is_null(e) || json_is_boolean(e))
                continue;
            if (json_is_object(e) || json_is_array(e))
                mask_all(e, depth + 1);
            else
                json_array_set_new(node, i, json_string(CD_API_MASK));
        }
    }
}

void cd_api_mask_all(json_t *node)
{
    mask_all(node, 0);
}

void cd_api_mask_connector(json_t *connector, json_t *snapshot)
{
    json_t *cfg = json_object_get(connector, "connection_config");
    if (!cfg)
        return;
    char *d = cd_api_connector_driver(connector);
    const json_t *schema = cd_api_driver_schema(snapshot, d);
    /* Without the driver's schema (its plugin missing on this worker) no
     * one can tell which fields are secrets: names alone showed a "pin" or
     * a "shared" key to every viewer. */
    if (schema)
        cd_api_mask_config(cfg, schema);
    else
        cd_api_mask_all(cfg);
    free(d);
}

/* Replaces each mask in node by the value at the same path in old, adding
 * its path to kept; a mask with nothing stored behind it is an error. */
static int unmask(json_t *node, const json_t *old, const char *path, json_t *errors, json_t *kept,
                  int depth)
{
    int n = 0;
    if (depth > 64)
        return 0;
    if (json_is_object(node)) {
        const char *key;
        json_t *v;
        json_object_foreach(node, key, v) {
            char *p = cd_sprintf("%s.%s", path, key);
            const json_t *ov = json_object_get(old, key);
            if (json_is_string(v) && strcmp(json_string_value(v), CD_API_MASK) == 0) {
                if (ov && !json_is_null(ov)) {
                    json_object_set_new(node, key, json_deep_copy(ov));
                    json_array_append_new(kept, json_string(p));
                } else {
                    json_array_append_new(errors, cd_api_field_error(p,
                        "is the mask ******** but no value is stored for it: send the value"));
                    n++;
                }
            } else {
                n += unmask(v, ov, p, errors, kept, depth + 1);
            }
            free(p);
        }
    } else if (json_is_array(node)) {
        size_t i;
        json_t *e;
        json_array_foreach(node, i, e) {
            char *p = cd_sprintf("%s[%zu]", path, i);
            const json_t *ov = json_array_get(old, i);
            if (json_is_string(e) && strcmp(json_string_value(e), CD_API_MASK) == 0) {
                if (ov && !json_is_null(ov)) {
                    json_array_set_new(node, i, json_deep_copy(ov));
                    json_array_append_new(kept, json_string(p));
                } else {
                    json_array_append_new(errors, cd_api_field_error(p,
                        "is the mask ******** but no value is stored for it: send the value"));
                    n++;
                }
            } else {
                n += unmask(e, ov, p, errors, kept, depth + 1);
            }
            free(p);
        }
    }
    return n;
}

int cd_api_unmask_config(json_t *newcfg, const json_t *oldcfg, const char *prefix,
                         json_t *errors)
{
    json_t *kept = json_array();
    int n = unmask(newcfg, oldcfg, prefix, errors, kept, 0);
    json_decref(kept);
    return n;
}

/* ---------------------------------------------------------------------- */
/* Address fields: where a connector sends its secrets.                   */
/* ---------------------------------------------------------------------- */

/* Last words of a field name that make it an address (README "Secrets"). */
static const char *const address_words[] = {"url",    "uri",      "host",  "hostname", "hostaddr",
                                            "port",   "endpoint", "server", "address", "addr",
                                            "domain", "proxy",    "dsn",   "conninfo", NULL};

static int address_word(const char *w)
{
    size_t n = strlen(w);
    for (size_t i = 0; address_words[i]; i++) {
        size_t k = strlen(address_words[i]);
        /* "hosts", "urls", "addresses": a list of them */
        if (strncmp(w, address_words[i], k) == 0 &&
            (n == k || (n == k + 1 && w[k] == 's') || (n == k + 2 && strcmp(w + k, "es") == 0)))
            return 1;
    }
    return 0;
}

/* Fields that say which server is the right one (a pinned host key, the
 * CAs trusted): changed, another server at the same address would pass for
 * it. Compared with the name's letters and digits only, in lower case. */
static const char *const trust_names[] = {"cabundle",   "cacert",        "cafile",
                                          "hostkey",    "hostkeysha256", "knownhosts",
                                          "knownhostsfile", "sslrootcert", "fingerprint",
                                          NULL};

/* 1 when the name's last word, or its last two words run together, is an
 * address word, or the name is a trust name. Words are split at anything
 * but letters and digits and where a lower-case letter or digit meets an
 * upper-case one, or before the last upper-case letter of a run followed
 * by lower-case ones: base_url, sftp-host, baseURL, host_name, SFTPHost. */
int cd_api_name_is_address(const char *key)
{
    char squashed[64];
    size_t q = 0;
    for (const char *p = key; *p && q < sizeof squashed - 1; p++)
        if (isalnum((unsigned char)*p))
            squashed[q++] = (char)tolower((unsigned char)*p);
    squashed[q] = '\0';
    for (size_t i = 0; trust_names[i]; i++)
        if (strcmp(squashed, trust_names[i]) == 0)
            return 1;
    char last[64] = "", prev[64] = "", cur[64];
    size_t n = 0;
    int in_word = 0;
    for (const char *p = key;; p++) {
        unsigned char c = (unsigned char)*p;
        int alnum = c && isalnum(c);
        /* "baseURL", "sftp2Host"; and at the end of an upper-case run
         * when a word in lower case follows ("SFTPHost", "APIEndpoint",
         * but "URLs" is one word) */
        int split = alnum && in_word && isupper(c) && p > key &&
                    (islower((unsigned char)p[-1]) || isdigit((unsigned char)p[-1]) ||
                     (isupper((unsigned char)p[-1]) && islower((unsigned char)p[1]) &&
                      islower((unsigned char)p[2])));
        if ((!alnum || split) && in_word) {
            cur[n] = '\0';
            memcpy(prev, last, sizeof prev);
            memcpy(last, cur, sizeof last);
            n = 0;
            in_word = 0;
        }
        if (!c)
            break;
        if (alnum) {
            in_word = 1;
            if (n < sizeof cur - 1)
                cur[n++] = (char)tolower(c);
        }
    }
    if (!last[0])
        return 0;
    if (address_word(last))
        return 1;
    char both[128];
    snprintf(both, sizeof both, "%s%s", prev, last);
    return prev[0] && address_word(both);
}

/* schema, or what its local "$ref" points at. */
static const json_t *deref(const json_t *schema, const json_t *root)
{
    const char *ref = json_string_value(json_object_get(schema, "$ref"));
    const json_t *t = ref && root ? cd_secrets_schema_ref(root, ref) : NULL;
    return t ? t : schema;
}

static int format_is_address(const json_t *schema, const json_t *root)
{
    static const char *const formats[] = {"uri", "url", "uri-reference", "iri", "iri-reference",
                                          "hostname", "idn-hostname", "ipv4", "ipv6", NULL};
    schema = deref(schema, root);
    if (!json_is_object(schema))
        return 0;
    const char *f = json_string_value(json_object_get(schema, "format"));
    for (size_t i = 0; f && formats[i]; i++)
        if (strcmp(f, formats[i]) == 0)
            return 1;
    static const char *const combinators[] = {"allOf", "anyOf", "oneOf", NULL};
    for (size_t c = 0; combinators[c]; c++) {
        size_t i;
        const json_t *sub;
        json_array_foreach(json_object_get(schema, combinators[c]), i, sub) {
            sub = deref(sub, root);
            f = json_string_value(json_object_get(sub, "format"));
            for (size_t k = 0; f && formats[k]; k++)
                if (strcmp(f, formats[k]) == 0)
                    return 1;
        }
    }
    return 0;
}

/* The keyword kw of schema (through its local "$ref"), or else of the
 * first allOf/anyOf/oneOf branch that has it: a driver's schema may be
 * composed of parts ({"allOf": [{"$ref": "#/$defs/base"}, ...]}), and a
 * "format" given inside one of them names an address all the same. */
static const json_t *schema_keyword(const json_t *schema, const char *kw, const char *key,
                                    const json_t *root, int depth)
{
    if (depth > 16)
        return NULL;
    schema = deref(schema, root);
    if (!json_is_object(schema))
        return NULL;
    const json_t *v = json_object_get(schema, kw);
    if (v && key)
        v = json_object_get(v, key);
    if (json_is_object(v))
        return v;
    static const char *const combinators[] = {"allOf", "anyOf", "oneOf", NULL};
    for (size_t c = 0; combinators[c]; c++) {
        size_t i;
        const json_t *sub;
        json_array_foreach(json_object_get(schema, combinators[c]), i, sub) {
            const json_t *found = schema_keyword(sub, kw, key, root, depth + 1);
            if (found)
                return found;
        }
    }
    return NULL;
}

/* The schema of member key of an object described by schema, or NULL. */
static const json_t *member_schema(const json_t *schema, const char *key, const json_t *root)
{
    const json_t *sub = schema_keyword(schema, "properties", key, root, 0);
    return sub ? sub : schema_keyword(schema, "additionalProperties", NULL, root, 0);
}

/* Appends to path the first address field whose value differs between
 * old and cur (one present, the other not, counts), and returns 1; else 0
 * with path as it was. */
static int address_changed(const json_t *old, const json_t *cur, const json_t *schema,
                           const json_t *root, cd_buf *path, int depth)
{
    if (depth > 64)
        return 0;
    size_t mark = path->len;
    if (json_is_object(old) || json_is_object(cur)) {
        for (int side = 0; side < 2; side++) {
            const json_t *obj = side ? cur : old;
            const json_t *other = side ? old : cur;
            const char *key;
            const json_t *v;
            json_object_foreach((json_t *)obj, key, v) {
                if (side && json_object_get(other, key))
                    continue; /* seen from old's side */
                const json_t *ov = json_object_get(other, key);
                const json_t *sub = member_schema(schema, key, root);
                cd_buf_printf(path, ".%s", key);
                if (cd_api_name_is_address(key) || format_is_address(sub, root)) {
                    if (!ov || !json_equal((json_t *)v, (json_t *)ov))
                        return 1;
                } else if (address_changed(side ? ov : v, side ? v : ov, sub, root, path,
                                           depth + 1)) {
                    return 1;
                }
                path->len = mark;
                path->data[mark] = '\0';
            }
        }
    } else if (json_is_array(old) || json_is_array(cur)) {
        const json_t *items = schema_keyword(schema, "items", NULL, root, 0);
        size_t n = json_array_size(old) > json_array_size(cur) ? json_array_size(old)
                                                              : json_array_size(cur);
        for (size_t i = 0; i < n; i++) {
            const json_t *a = json_array_get(old, i), *b = json_array_get(cur, i);
            cd_buf_printf(path, "[%zu]", i);
            if (json_is_object(items) && format_is_address(items, root)) {
                if (!a || !b || !json_equal((json_t *)a, (json_t *)b))
                    return 1;
            } else if (address_changed(a, b, json_is_object(items) ? items : NULL, root, path,
                                       depth + 1)) {
                return 1;
            }
            path->len = mark;
            path->data[mark] = '\0';
        }
    }
    return 0;
}

int cd_api_unmask_update(json_t *newcfg, const json_t *oldcfg, const char *prefix,
                         const char *old_driver, const char *new_driver, const json_t *schema,
                         json_t *errors)
{
    /* Filled in on a copy: a refused mask stays a mask, so that the dry
     * run's driver validate() (POST /connectors/validate with id), which
     * runs even after these errors, never gets the secret either. */
    json_t *kept = json_array();
    json_t *trial = json_deep_copy(newcfg);
    int n = unmask(trial, oldcfg, prefix, errors, kept, 0);
    char *why = NULL;
    if (json_array_size(kept) == 0) {
        /* nothing kept: whatever changes, the client sent every secret */
    } else if (!old_driver || !new_driver || strcmp(old_driver, new_driver) != 0) {
        why = cd_sprintf("the driver changes from %s to %s", old_driver ? old_driver : "(none)",
                         new_driver ? new_driver : "(none)");
    } else {
        cd_buf path;
        cd_buf_init(&path);
        cd_buf_puts(&path, prefix);
        if (address_changed(oldcfg, trial, schema, schema, &path, 0))
            why = cd_sprintf("%s changes", path.data);
        cd_buf_free(&path);
    }
    if (!why && json_is_object(newcfg)) {
        json_object_clear(newcfg);
        json_object_update(newcfg, trial);
    }
    json_decref(trial);
    if (why) {
        size_t i;
        json_t *p;
        json_array_foreach(kept, i, p) {
            char *m = cd_sprintf("keeps the stored secret (********) while %s: send the secret "
                                 "again",
                                 why);
            json_array_append_new(errors, cd_api_field_error(json_string_value(p), m));
            free(m);
            n++;
        }
        free(why);
    }
    json_decref(kept);
    return n;
}
