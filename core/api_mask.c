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
    char lower[64];
    size_t n = 0;
    for (; key[n] && n < sizeof lower - 1; n++)
        lower[n] = (char)tolower((unsigned char)key[n]);
    lower[n] = '\0';
    for (size_t i = 0; words[i]; i++)
        if (strstr(lower, words[i]))
            return 1;
    return 0;
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

static char *driver_name(const json_t *connector)
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

void cd_api_mask_connector(json_t *connector, json_t *snapshot)
{
    json_t *cfg = json_object_get(connector, "connection_config");
    if (!cfg)
        return;
    char *d = driver_name(connector);
    cd_api_mask_config(cfg, cd_api_driver_schema(snapshot, d));
    free(d);
}

static int unmask(json_t *node, const json_t *old, const char *path, json_t *errors, int depth)
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
                } else {
                    json_array_append_new(errors, cd_api_field_error(p,
                        "is the mask ******** but no value is stored for it: send the value"));
                    n++;
                }
            } else {
                n += unmask(v, ov, p, errors, depth + 1);
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
                } else {
                    json_array_append_new(errors, cd_api_field_error(p,
                        "is the mask ******** but no value is stored for it: send the value"));
                    n++;
                }
            } else {
                n += unmask(e, ov, p, errors, depth + 1);
            }
            free(p);
        }
    }
    return n;
}

int cd_api_unmask_config(json_t *newcfg, const json_t *oldcfg, const char *prefix,
                         json_t *errors)
{
    return unmask(newcfg, oldcfg, prefix, errors, 0);
}
