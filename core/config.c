/*
 * config.c — connectord's YAML configuration as a jansson tree (see config.h).
 *
 * YAML is read with libyaml's event API into JSON values. Deliberately
 * refused, because the configuration never needs them and each one is a way
 * to hide or amplify content: anchors and aliases (billion laughs), tags
 * other than !!str / !!map / !!seq, several documents in one file, NUL
 * characters, nesting deeper than CFG_MAX_DEPTH.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "duration.h"
#include "util.h"

/* Deep enough for any sane configuration, shallow enough that the recursive
 * builder and jansson's recursive helpers cannot exhaust the stack. */
#define CFG_MAX_DEPTH 64

#define TAG_STR "tag:yaml.org,2002:str"
#define TAG_MAP "tag:yaml.org,2002:map"
#define TAG_SEQ "tag:yaml.org,2002:seq"

struct cd_config {
    json_t *root;    /* merged document: always an object */
    json_t *sources; /* array of the names read, in order */
    /* Text renderings of integers handed out by cd_config_string, keyed by
     * the text itself so that an entry is never replaced and every pointer
     * handed out stays valid until cd_config_free. */
    json_t *rendered;
    pthread_mutex_t rendered_lock; /* readers may be on several threads */
};

/* State of one YAML parse. */
typedef struct yaml_reader {
    yaml_parser_t parser;
    const char *name; /* file name for messages */
    const char *text; /* the input, to place reader errors */
    size_t len;
    char *err;        /* first error, malloc'd */
} yaml_reader;

/* Records a positioned error unless one is already set (the first error is
 * the one that explains the rest). mark is libyaml's 0-based position. */
static void reader_fail(yaml_reader *r, yaml_mark_t mark, const char *fmt, ...) CD_PRINTF(3, 4);
static void reader_fail(yaml_reader *r, yaml_mark_t mark, const char *fmt, ...)
{
    if (r->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *problem = cd_vsprintf(fmt, ap);
    va_end(ap);
    r->err = cd_sprintf("%s:%zu:%zu: %s", r->name, mark.line + 1, mark.column + 1, problem);
    free(problem);
}

/* Turns libyaml's own error state into our message format. */
static void reader_fail_parser(yaml_reader *r)
{
    const yaml_parser_t *p = &r->parser;
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_READER_ERROR) {
        /* Reader errors (bad encoding) carry a byte offset, not a mark:
         * count lines ourselves. Columns are bytes here, close enough. */
        yaml_mark_t m = {0, 0, 0};
        for (size_t i = 0; i < p->problem_offset && i < r->len; i++) {
            if (r->text[i] == '\n')
                m.line++, m.column = 0;
            else
                m.column++;
        }
        reader_fail(r, m, "%s (byte offset %zu)", problem, p->problem_offset);
    } else if (p->context) {
        reader_fail(r, p->problem_mark, "%s %s (line %zu, column %zu)", problem, p->context,
                    p->context_mark.line + 1, p->context_mark.column + 1);
    } else {
        reader_fail(r, p->problem_mark, "%s", problem);
    }
}

/* Next event into *ev; 0 on success, -1 with r->err set. */
static int next_event(yaml_reader *r, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&r->parser, ev)) {
        reader_fail_parser(r);
        return -1;
    }
    return 0;
}

/* Parses a whole decimal integer: optional sign, at least one digit, nothing
 * else, within long long. Returns 1 and sets *out, or 0. */
static int parse_integer(const char *s, size_t len, long long *out)
{
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i == len)
        return 0;
    for (size_t j = i; j < len; j++)
        if (s[j] < '0' || s[j] > '9')
            return 0;
    /* s is not NUL-terminated at len in general. */
    char *copy = cd_xstrndup(s, len);
    errno = 0;
    char *end = NULL;
    long long v = strtoll(copy, &end, 10);
    int ok = errno == 0 && end && *end == '\0';
    free(copy);
    if (ok)
        *out = v;
    return ok;
}

/* The JSON value of a plain (unquoted, untagged) scalar: the few typed
 * spellings the configuration uses, otherwise a string. */
static json_t *plain_scalar(const char *s, size_t len)
{
    long long n;
    if (len == 0 || (len == 1 && s[0] == '~') || (len == 4 && memcmp(s, "null", 4) == 0))
        return json_null();
    if ((len == 4 && memcmp(s, "true", 4) == 0) || (len == 4 && memcmp(s, "True", 4) == 0))
        return json_true();
    if ((len == 5 && memcmp(s, "false", 5) == 0) || (len == 5 && memcmp(s, "False", 5) == 0))
        return json_false();
    if (parse_integer(s, len, &n))
        return json_integer(n);
    return json_stringn(s, len);
}

/* Refuses what the configuration never needs on a node: anchors and tags
 * other than the one that matches the node kind. Returns 0 or -1. */
static int check_node_props(yaml_reader *r, const yaml_event_t *ev, const yaml_char_t *anchor,
                            const yaml_char_t *tag, const char *allowed_tag)
{
    if (anchor) {
        reader_fail(r, ev->start_mark, "anchors (&%s) are not supported in the configuration",
                    (const char *)anchor);
        return -1;
    }
    if (tag && strcmp((const char *)tag, allowed_tag) != 0) {
        reader_fail(r, ev->start_mark, "tag %s is not supported in the configuration",
                    (const char *)tag);
        return -1;
    }
    return 0;
}

static json_t *build_node(yaml_reader *r, yaml_event_t *ev, int depth);

/* Builds a scalar node from its event. NULL with r->err set on error. */
static json_t *build_scalar(yaml_reader *r, yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    if (check_node_props(r, ev, ev->data.scalar.anchor, ev->data.scalar.tag, TAG_STR) < 0)
        return NULL;
    if (memchr(s, '\0', len)) {
        /* Every consumer reads settings as C strings. */
        reader_fail(r, ev->start_mark, "NUL character in a value");
        return NULL;
    }
    json_t *v;
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.plain_implicit)
        v = plain_scalar(s, len);
    else
        v = json_stringn(s, len);
    if (!v) /* libyaml hands out UTF-8, so this is out of memory */
        reader_fail(r, ev->start_mark, "cannot store value");
    return v;
}

/* Builds a mapping from MAPPING-START up to and including MAPPING-END. */
static json_t *build_mapping(yaml_reader *r, yaml_event_t *start, int depth)
{
    if (check_node_props(r, start, start->data.mapping_start.anchor,
                         start->data.mapping_start.tag, TAG_MAP) < 0)
        return NULL;
    json_t *obj = json_object();
    for (;;) {
        yaml_event_t kev;
        if (next_event(r, &kev) < 0)
            goto fail;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return obj;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            if (kev.type == YAML_ALIAS_EVENT)
                reader_fail(r, kev.start_mark, "aliases (*%s) are not supported in the configuration",
                            (const char *)kev.data.alias.anchor);
            else
                reader_fail(r, kev.start_mark, "mapping keys must be scalars");
            yaml_event_delete(&kev);
            goto fail;
        }
        /* Keys are always text, whatever they look like: "1:" is key "1". */
        json_t *kj = build_scalar(r, &kev);
        if (!kj) {
            yaml_event_delete(&kev);
            goto fail;
        }
        json_decref(kj);
        char *key = cd_xstrndup((const char *)kev.data.scalar.value, kev.data.scalar.length);
        if (json_object_get(obj, key)) {
            reader_fail(r, kev.start_mark, "duplicate key \"%s\"", key);
            free(key);
            yaml_event_delete(&kev);
            goto fail;
        }
        yaml_event_delete(&kev);

        yaml_event_t vev;
        if (next_event(r, &vev) < 0) {
            free(key);
            goto fail;
        }
        json_t *val = build_node(r, &vev, depth + 1);
        yaml_event_delete(&vev);
        if (!val) {
            free(key);
            goto fail;
        }
        json_object_set_new(obj, key, val);
        free(key);
    }
fail:
    json_decref(obj);
    return NULL;
}

/* Builds a sequence from SEQUENCE-START up to and including SEQUENCE-END. */
static json_t *build_sequence(yaml_reader *r, yaml_event_t *start, int depth)
{
    if (check_node_props(r, start, start->data.sequence_start.anchor,
                         start->data.sequence_start.tag, TAG_SEQ) < 0)
        return NULL;
    json_t *arr = json_array();
    for (;;) {
        yaml_event_t ev;
        if (next_event(r, &ev) < 0)
            goto fail;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return arr;
        }
        json_t *val = build_node(r, &ev, depth + 1);
        yaml_event_delete(&ev);
        if (!val)
            goto fail;
        json_array_append_new(arr, val);
    }
fail:
    json_decref(arr);
    return NULL;
}

/* Builds the node that starts with *ev (which the caller deletes). */
static json_t *build_node(yaml_reader *r, yaml_event_t *ev, int depth)
{
    if (depth > CFG_MAX_DEPTH) {
        reader_fail(r, ev->start_mark, "nesting deeper than %d levels", CFG_MAX_DEPTH);
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return build_scalar(r, ev);
    case YAML_MAPPING_START_EVENT:
        return build_mapping(r, ev, depth);
    case YAML_SEQUENCE_START_EVENT:
        return build_sequence(r, ev, depth);
    case YAML_ALIAS_EVENT:
        reader_fail(r, ev->start_mark, "aliases (*%s) are not supported in the configuration",
                    (const char *)ev->data.alias.anchor);
        return NULL;
    default:
        reader_fail(r, ev->start_mark, "unexpected YAML event");
        return NULL;
    }
}

/* Parses YAML text into a JSON object. name is used in messages only.
 * Returns a new reference, or NULL with *err set. An empty stream, or a
 * document that is only "---" or null, is an empty mapping, so that an
 * all-comments conf.d file is harmless. */
static json_t *parse_yaml(const char *text, size_t len, const char *name, char **err)
{
    yaml_reader r;
    memset(&r, 0, sizeof r);
    r.name = name;
    r.text = text;
    r.len = len;
    if (!yaml_parser_initialize(&r.parser)) {
        *err = cd_sprintf("%s: cannot initialize the YAML parser", name);
        return NULL;
    }
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);

    json_t *root = NULL;
    int documents = 0;
    for (;;) {
        yaml_event_t ev;
        if (next_event(&r, &ev) < 0)
            break;
        yaml_event_type_t type = ev.type;
        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_DOCUMENT_START_EVENT && ++documents > 1) {
            reader_fail(&r, ev.start_mark, "more than one YAML document in one file");
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_START_EVENT ||
            type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        json_t *node = build_node(&r, &ev, 1);
        yaml_mark_t mark = ev.start_mark;
        yaml_event_delete(&ev);
        if (!node)
            break;
        if (json_is_null(node)) {
            json_decref(node);
            node = json_object();
        }
        if (!json_is_object(node)) {
            reader_fail(&r, mark, "the top level must be a mapping (key: value)");
            json_decref(node);
            break;
        }
        root = node;
    }
    yaml_parser_delete(&r.parser);
    if (r.err) {
        json_decref(root);
        *err = r.err;
        return NULL;
    }
    return root ? root : json_object();
}

/* Merges src into dst: objects key by key, recursively; any other value in
 * src replaces dst's, except an empty one (null): a section or key whose
 * content is commented out in a later file ("auth:" over tokens set in an
 * earlier one) says nothing, and used to wipe what the earlier file set.
 * Depth is bounded by the parser's limit. */
static void deep_merge(json_t *dst, json_t *src)
{
    const char *key;
    json_t *sv;
    json_object_foreach(src, key, sv) {
        json_t *dv = json_object_get(dst, key);
        if (dv && json_is_null(sv))
            continue;
        if (json_is_object(dv) && json_is_object(sv))
            deep_merge(dv, sv);
        else
            json_object_set(dst, key, sv);
    }
}

/* Allocates an empty configuration. */
static cd_config *config_new(void)
{
    cd_config *cfg = cd_xcalloc(1, sizeof *cfg);
    cfg->root = json_object();
    cfg->sources = json_array();
    cfg->rendered = json_object();
    pthread_mutex_init(&cfg->rendered_lock, NULL);
    return cfg;
}

void cd_config_free(cd_config *cfg)
{
    if (!cfg)
        return;
    json_decref(cfg->root);
    json_decref(cfg->sources);
    json_decref(cfg->rendered);
    pthread_mutex_destroy(&cfg->rendered_lock);
    free(cfg);
}

/* Parses text and merges it over cfg; records name as a source. cfg is
 * unchanged on error. */
static int merge_text(cd_config *cfg, const char *text, size_t len, const char *name, char **err)
{
    json_t *doc = parse_yaml(text, len, name, err);
    if (!doc)
        return -1;
    deep_merge(cfg->root, doc);
    json_decref(doc);
    json_array_append_new(cfg->sources, json_string(name));
    return 0;
}

int cd_config_merge_string(cd_config *cfg, const char *yaml, size_t len, const char *name,
                           char **err)
{
    return merge_text(cfg, yaml, len, name ? name : "<string>", err);
}

cd_config *cd_config_from_string(const char *yaml, size_t len, char **err)
{
    cd_config *cfg = config_new();
    /* A string is not a file: it is not listed in the sources. */
    json_t *doc = parse_yaml(yaml, len, "<string>", err);
    if (!doc) {
        cd_config_free(cfg);
        return NULL;
    }
    json_decref(cfg->root);
    cfg->root = doc;
    return cfg;
}

/* Reads a whole file into *out (malloc'd, NUL-terminated). 0, or -1 with
 * *err set. */
static int read_file(const char *path, char **out, size_t *out_len, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = cd_sprintf("%s: %s", path, strerror(errno));
        return -1;
    }
    cd_buf b;
    cd_buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cd_buf_append(&b, chunk, n);
    if (ferror(f)) {
        /* fread on a directory fails with EISDIR. */
        *err = cd_sprintf("%s: %s", path, strerror(errno ? errno : EIO));
        fclose(f);
        cd_buf_free(&b);
        return -1;
    }
    fclose(f);
    *out_len = b.len;
    *out = cd_buf_take(&b);
    return 0;
}

/* Reads path and merges it over cfg. */
static int merge_file(cd_config *cfg, const char *path, char **err)
{
    char *text;
    size_t len;
    if (read_file(path, &text, &len, err) < 0)
        return -1;
    int rc = merge_text(cfg, text, len, path, err);
    free(text);
    return rc;
}

/* qsort comparator for an array of char *: plain byte order, so the order
 * does not depend on the locale. */
static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 if a conf.d entry name is a configuration file: "*.yaml", not hidden
 * (editors leave ".#x.yaml" and ".x.yaml.swp" style files behind). */
static int is_yaml_name(const char *name)
{
    size_t len = strlen(name);
    return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".yaml") == 0;
}

/* Merges every regular *.yaml file of dir in strcmp order. A missing dir is
 * fine. */
static int merge_dir(cd_config *cfg, const char *dir, char **err)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        *err = cd_sprintf("%s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_yaml_name(de->d_name))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            names = cd_xrealloc(names, cap * sizeof *names);
        }
        names[count++] = cd_xstrdup(de->d_name);
    }
    closedir(d);
    if (count > 1) /* qsort's base must not be NULL, even for 0 elements */
        qsort(names, count, sizeof *names, cmp_names);

    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        char *path = cd_sprintf("%s/%s", dir, names[i]);
        struct stat st;
        /* stat, not lstat: a symlink to a file is how packages often install
         * a snippet. Anything else (directory, FIFO) is skipped. */
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = merge_file(cfg, path, err);
        free(path);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Sets root.section.key to value (stolen), making section an object if it
 * is missing or not one: the environment wins over the files. */
static void set_path2(json_t *root, const char *section, const char *key, json_t *value)
{
    json_t *sec = json_object_get(root, section);
    if (!json_is_object(sec)) {
        sec = json_object();
        json_object_set_new(root, section, sec);
    }
    json_object_set_new(sec, key, value);
}

/* Applies CONNECTORD_* overrides. An empty variable counts as unset, as
 * with Environment=NAME= in a unit. */
static int apply_env(cd_config *cfg, char **err)
{
    const char *url = getenv("CONNECTORD_DATABASE_URL");
    if (url && *url) {
        json_t *v = json_string(url);
        if (!v) {
            *err = cd_xstrdup("CONNECTORD_DATABASE_URL: not valid UTF-8");
            return -1;
        }
        set_path2(cfg->root, "database", "url", v);
    }
    const char *port = getenv("CONNECTORD_HTTP_PORT");
    if (port && *port) {
        long long n;
        if (!parse_integer(port, strlen(port), &n)) {
            *err = cd_xstrdup("CONNECTORD_HTTP_PORT: not an integer");
            return -1;
        }
        set_path2(cfg->root, "http", "port", json_integer(n));
    }
    return 0;
}

cd_config *cd_config_load(const char *path, char **err)
{
    cd_config *cfg = config_new();
    if (merge_file(cfg, path, err) < 0)
        goto fail;

    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = cd_xstrdup("conf.d");
    else
        dir = cd_sprintf("%.*s/conf.d", (int)(slash - path), path);
    int rc = merge_dir(cfg, dir, err);
    free(dir);
    if (rc < 0)
        goto fail;
    if (apply_env(cfg, err) < 0)
        goto fail;
    return cfg;
fail:
    cd_config_free(cfg);
    return NULL;
}

json_t *cd_config_get(const cd_config *cfg, const char *dotted_key)
{
    if (!cfg || !dotted_key)
        return NULL;
    json_t *node = cfg->root;
    const char *p = dotted_key;
    if (*p == '\0')
        return node; /* "" is the whole document */
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || !json_is_object(node))
            return NULL;
        node = json_object_getn(node, p, len);
        if (!node || !dot)
            return node;
        p = dot + 1;
    }
}

const char *cd_config_string(const cd_config *cfg, const char *dotted_key, const char *dflt)
{
    json_t *v = cd_config_get(cfg, dotted_key);
    if (json_is_string(v))
        return json_string_value(v);
    if (!json_is_integer(v))
        return dflt;
    char text[32];
    snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    pthread_mutex_lock(&((cd_config *)cfg)->rendered_lock);
    json_t *s = json_object_get(cfg->rendered, text);
    if (!s) {
        s = json_string(text);
        json_object_set_new(cfg->rendered, text, s);
    }
    pthread_mutex_unlock(&((cd_config *)cfg)->rendered_lock);
    return json_string_value(s);
}

/* Reads v as an integer the way cd_config_int does. 1 on success. */
static int node_int(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_string(v))
        return parse_integer(json_string_value(v), json_string_length(v), out);
    return 0;
}

long long cd_config_int(const cd_config *cfg, const char *dotted_key, long long dflt, int *bad)
{
    json_t *v = cd_config_get(cfg, dotted_key);
    long long n;
    /* An empty YAML value ("port:") means "use the default". */
    if (!v || json_is_null(v))
        return dflt;
    if (node_int(v, &n))
        return n;
    if (bad)
        *bad = 1;
    return dflt;
}

/* A JSON type name for messages: never the value, which may be a password
 * in a database URL. */
static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* Checks that key, when set, is a string; nonempty if required. */
static int check_string(const cd_config *cfg, const char *key, int nonempty, char **err)
{
    json_t *v = cd_config_get(cfg, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        *err = cd_sprintf("%s: must be a string, not %s", key, type_name(v));
        return -1;
    }
    if (nonempty && json_string_length(v) == 0) {
        *err = cd_sprintf("%s: must not be empty", key);
        return -1;
    }
    return 0;
}

/* Checks that key, when set, is an integer (or a string of digits) within
 * [lo, hi]. */
static int check_int(const cd_config *cfg, const char *key, long long lo, long long hi, char **err)
{
    json_t *v = cd_config_get(cfg, key);
    long long n;
    if (!v || json_is_null(v))
        return 0;
    if (!node_int(v, &n)) {
        *err = cd_sprintf("%s: must be an integer from %lld to %lld, not %s", key, lo, hi,
                          type_name(v));
        return -1;
    }
    if (n < lo || n > hi) {
        *err = cd_sprintf("%s: must be an integer from %lld to %lld, got %lld", key, lo, hi, n);
        return -1;
    }
    return 0;
}

/* The keys the code reads, section by section (from cd_config_* across
 * core/). Anything else is refused at start: a misspelt key silently took
 * its default, and auth.token for auth.tokens left the API with no tokens,
 * anonymous admin on loopback. A key the code starts reading goes here. */
static const char *const keys_database[] = {"url", NULL};
static const char *const keys_http[] = {"listen",
                                        "port",
                                        "web_dir",
                                        "threads",
                                        "db_connections",
                                        "connection_limit",
                                        "connection_timeout_seconds",
                                        "test_timeout_seconds",
                                        "cache_entries",
                                        "cache_max_age_seconds",
                                        NULL};
static const char *const keys_plugins[] = {"dir", NULL};
static const char *const keys_runner[] = {"timeout_seconds", "kill_grace_seconds", "work_dir",
                                          "max_record_errors", NULL};
static const char *const keys_log[] = {"level", NULL};
static const char *const keys_workers[] = {"max_concurrent_runs", "lease_seconds",
                                           "shutdown_grace_seconds", NULL};
static const char *const keys_scheduler[] = {"catchup_window", NULL};
static const char *const keys_retry[] = {"base_seconds", "max_seconds", NULL};
static const char *const keys_retention[] = {"days", NULL};
static const char *const keys_backfill[] = {"max_days", NULL};
static const char *const keys_http_client[] = {"connect_timeout_seconds", "request_timeout_seconds",
                                               "ca_file", "proxy", NULL};
/* alerts.channels[] entries are checked key by key where they are read
 * (notify_settings.c), with the channel's index in the message. */
static const char *const keys_alerts[] = {"base_url",          "digest_time",   "digest_timezone",
                                          "timeout_seconds",   "max_attempts",  "retry_base_seconds",
                                          "retry_max_seconds", "max_age_hours", "channels",
                                          NULL};
static const char *const keys_templates[] = {"dir", NULL};
static const char *const keys_auth[] = {"tokens", NULL};
static const char *const keys_schema[] = {"dir", NULL};
static const char *const keys_token_entry[] = {"token", "role", "name", NULL};

static const struct known_section {
    const char *name;
    const char *const *keys;
} known_sections[] = {
    {"database", keys_database},       {"http", keys_http},
    {"plugins", keys_plugins},         {"runner", keys_runner},
    {"log", keys_log},                 {"workers", keys_workers},
    {"scheduler", keys_scheduler},     {"retry", keys_retry},
    {"retention", keys_retention},     {"backfill", keys_backfill},
    {"http_client", keys_http_client}, {"alerts", keys_alerts},
    {"templates", keys_templates},     {"auth", keys_auth},
    {"schema", keys_schema},
};
#define N_KNOWN_SECTIONS (sizeof known_sections / sizeof known_sections[0])

/* Edit distance counting a swap of two neighbours as one edit ("nmae"),
 * or SIZE_MAX when a name is too long to be a typo of a key: the rows stay
 * on the stack whatever the file holds. */
static size_t edit_distance(const char *a, const char *b)
{
    enum { MAX_NAME = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAX_NAME || lb > MAX_NAME)
        return SIZE_MAX;
    size_t rows[3][MAX_NAME + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev, prev = cur, cur = t;
    }
    return prev[lb];
}

/* The known name a typo most likely meant: at most two edits away, and
 * fewer edits than half its length, so that "url" never suggests "dir". */
static const char *closest_name(const char *name, const char *const *known, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(name, known[i]);
        if (d < best_d && 2 * d < strlen(known[i]))
            best = known[i], best_d = d;
    }
    return best;
}

/* "a, b, c" for messages (malloc'd). */
static char *join_names(const char *const *names, size_t n)
{
    cd_buf b;
    cd_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            cd_buf_append(&b, ", ", 2);
        cd_buf_append(&b, names[i], strlen(names[i]));
    }
    return cd_buf_take(&b);
}

/* A key that looks like a URL with credentials is a value pasted in the
 * wrong place (database.url's password): messages never show it. */
static int key_may_hold_secret(const char *key)
{
    return strstr(key, "://") != NULL || strchr(key, '@') != NULL;
}

/* 1 if the first len bytes of name are one of the n names. */
static int is_known_prefix(const char *name, size_t len, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return 1;
    return 0;
}

/* Sets *err for key, unknown inside where ("" for the top level, else
 * "auth" or "auth.tokens[0]"). */
static void fail_unknown(const char *where, const char *key, const char *const *known, size_t n,
                         char **err)
{
    const char *what = *where ? "key" : "section";
    const char *dot = *where ? "." : "";
    if (key_may_hold_secret(key)) {
        *err = cd_sprintf("%s%sunknown %s that looks like a URL (not shown: it may hold a "
                          "password)",
                          where, *where ? ": " : "", what);
        return;
    }
    const char *sep = *where ? NULL : strchr(key, '.');
    if (sep && is_known_prefix(key, (size_t)(sep - key), known, n)) {
        /* The documentation's dotted names are paths, not keys. */
        *err = cd_sprintf("%s: unknown section; nest it: %.*s: {%s: ...}", key, (int)(sep - key),
                          key, sep + 1);
        return;
    }
    const char *near = closest_name(key, known, n);
    if (near) {
        *err = cd_sprintf("%s%s%s: unknown %s; did you mean %s%s%s?", where, dot, key, what, where,
                          dot, near);
        return;
    }
    char *list = join_names(known, n);
    *err = cd_sprintf("%s%s%s: unknown %s (known: %s)", where, dot, key, what, list);
    free(list);
}

static size_t count_names(const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    return n;
}

/* 1 if name is one of the n names. */
static int is_known(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* Refuses a key of obj not in known; where names obj in the message. */
static int check_keys(const json_t *obj, const char *where, const char *const *known, char **err)
{
    size_t n = count_names(known);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (!is_known(key, known, n)) {
            fail_unknown(where, key, known, n, err);
            return -1;
        }
    }
    return 0;
}

/* Refuses unknown sections, sections that are not mappings and unknown
 * keys inside them, in file order so that the first mistake is named. */
static int check_known_keys(const cd_config *cfg, char **err)
{
    const char *names[N_KNOWN_SECTIONS];
    for (size_t i = 0; i < N_KNOWN_SECTIONS; i++)
        names[i] = known_sections[i].name;
    const char *key;
    json_t *sec;
    json_object_foreach(cfg->root, key, sec) {
        const struct known_section *ks = NULL;
        for (size_t i = 0; i < N_KNOWN_SECTIONS && !ks; i++)
            if (strcmp(known_sections[i].name, key) == 0)
                ks = &known_sections[i];
        if (!ks) {
            fail_unknown("", key, names, N_KNOWN_SECTIONS, err);
            return -1;
        }
        if (json_is_null(sec))
            continue;
        if (!json_is_object(sec)) {
            *err = cd_sprintf("%s: must be a mapping, not %s", key, type_name(sec));
            return -1;
        }
        if (check_keys(sec, key, ks->keys, err) < 0)
            return -1;
    }
    /* Each token entry too: a misspelt "name" would quietly rename the
     * token in the audit trail. Its other faults are api_auth.c's. */
    const json_t *tokens = cd_config_get(cfg, "auth.tokens");
    size_t i;
    const json_t *e;
    json_array_foreach((json_t *)tokens, i, e) {
        if (!json_is_object(e))
            continue;
        char *where = cd_sprintf("auth.tokens[%zu]", i);
        int rc = check_keys(e, where, keys_token_entry, err);
        free(where);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int cd_config_check(const cd_config *cfg, char **err)
{
    if (check_known_keys(cfg, err) < 0)
        return -1;
    /* The runner values end up in int and time arithmetic downstream, the
     * timeout in SQL (timeout + 120 as int): a week is `connectord run
     * --timeout`'s limit too. The http.* bounds are those the API server
     * and the response cache work with; below them they fell back to
     * their defaults in silence, and connection_limit -1 became 2^32-1. */
    if (check_string(cfg, "database.url", 0, err) < 0 ||
        check_string(cfg, "http.listen", 1, err) < 0 ||
        check_int(cfg, "http.port", 1, 65535, err) < 0 ||
        check_string(cfg, "http.web_dir", 1, err) < 0 ||
        check_int(cfg, "http.threads", 1, 64, err) < 0 ||
        check_int(cfg, "http.db_connections", 1, 1000, err) < 0 ||
        check_int(cfg, "http.connection_limit", 1, 1000000, err) < 0 ||
        check_int(cfg, "http.connection_timeout_seconds", 0, 86400, err) < 0 ||
        check_int(cfg, "http.test_timeout_seconds", 1, 604800, err) < 0 ||
        check_int(cfg, "http.cache_entries", 0, 100000, err) < 0 ||
        check_int(cfg, "http.cache_max_age_seconds", 0, 86400, err) < 0 ||
        check_string(cfg, "plugins.dir", 1, err) < 0 ||
        check_int(cfg, "runner.timeout_seconds", 1, 604800, err) < 0 ||
        check_int(cfg, "runner.kill_grace_seconds", 1, 86400, err) < 0 ||
        check_int(cfg, "runner.max_record_errors", 1, INT_MAX, err) < 0 ||
        check_string(cfg, "runner.work_dir", 1, err) < 0 ||
        check_string(cfg, "log.level", 1, err) < 0 ||
        check_int(cfg, "workers.max_concurrent_runs", 1, 256, err) < 0 ||
        check_int(cfg, "workers.lease_seconds", 3, 86400, err) < 0 ||
        check_int(cfg, "workers.shutdown_grace_seconds", 0, 86400, err) < 0 ||
        check_int(cfg, "retry.base_seconds", 1, 86400, err) < 0 ||
        check_int(cfg, "retry.max_seconds", 1, 7 * 86400, err) < 0 ||
        check_int(cfg, "retention.days", 1, 36500, err) < 0 ||
        check_int(cfg, "backfill.max_days", 1, 3660, err) < 0 ||
        check_int(cfg, "http_client.connect_timeout_seconds", 1, 3600, err) < 0 ||
        check_int(cfg, "http_client.request_timeout_seconds", 1, 86400, err) < 0 ||
        check_string(cfg, "http_client.ca_file", 1, err) < 0 ||
        check_string(cfg, "http_client.proxy", 1, err) < 0 ||
        check_string(cfg, "templates.dir", 1, err) < 0 ||
        check_string(cfg, "schema.dir", 1, err) < 0)
        return -1;

    /* libmicrohttpd shares the connection limit among the threads and
     * refuses to start when a thread would get none. */
    long long threads = cd_config_int(cfg, "http.threads", 4, NULL);
    long long limit = cd_config_int(cfg, "http.connection_limit", 512, NULL);
    if (limit < threads) {
        *err = cd_sprintf("http.connection_limit: must be at least http.threads (%lld), got %lld",
                          threads, limit);
        return -1;
    }

    /* The first retry waits base, each next one twice as long, capped at
     * max: a base above max is a typo that makes every retry wait max. */
    long long base = cd_config_int(cfg, "retry.base_seconds", 60, NULL);
    long long max = cd_config_int(cfg, "retry.max_seconds", 3600, NULL);
    if (base > max) {
        *err = cd_sprintf("retry.base_seconds: must be at most retry.max_seconds (%lld), got %lld",
                          max, base);
        return -1;
    }

    /* The scheduler's own parser: whatever passes here is the window it
     * uses, not the 48h it falls back to. */
    json_t *wnode = cd_config_get(cfg, "scheduler.catchup_window");
    const char *window = cd_config_string(cfg, "scheduler.catchup_window", NULL);
    if (wnode && !json_is_null(wnode) && (!window || cd_parse_duration(window) < 0)) {
        if (window)
            *err = cd_sprintf("scheduler.catchup_window: must be a duration like 48h, 90m, 2d or "
                              "3600 (seconds), got '%s'",
                              window);
        else
            *err = cd_sprintf("scheduler.catchup_window: must be a duration like 48h, 90m, 2d or "
                              "3600 (seconds), not %s",
                              type_name(wnode));
        return -1;
    }

    const char *level = cd_config_string(cfg, "log.level", NULL);
    if (level && strcmp(level, "error") != 0 && strcmp(level, "warning") != 0 &&
        strcmp(level, "info") != 0 && strcmp(level, "debug") != 0) {
        *err = cd_xstrdup("log.level: must be one of error, warning, info, debug");
        return -1;
    }
    return 0;
}

const json_t *cd_config_sources(const cd_config *cfg) { return cfg ? cfg->sources : NULL; }
