/*
 * secrets.c — resolving secret references and scrubbing resolved values
 * from text (see secrets.h).
 *
 * Rule for every message built here: it may name the reference ("env:X",
 * "file:/etc/x") and the JSON path, never a value. A reference with an
 * unknown scheme is not echoed at all, because the usual cause is a
 * plaintext password typed where a reference belongs.
 */
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret_guard.h"
#include "util.h"

#define SECRET_MAX_FILE (64 * 1024)
#define SECRET_MIN_SCRUB 4
#define SECRET_MASK "********"
/* Bounds the walk of a driver's schema: "$ref" may point back at itself. */
#define SCHEMA_MAX_DEPTH 64

int cd_secret_is_reference(const json_t *node)
{
    return json_is_object(node) && json_object_size(node) == 1 &&
           json_is_string(json_object_get(node, "secret"));
}

/* 1 if node has the shape of a reference but a non-string "secret" member:
 * almost certainly a mistake worth an error rather than passing the object
 * to the driver. */
static int is_malformed_reference(const json_t *node)
{
    return json_is_object(node) && json_object_size(node) == 1 &&
           json_object_get(node, "secret") && !json_is_string(json_object_get(node, "secret"));
}

/* Reads a secret file: regular, at most SECRET_MAX_FILE bytes. label names
 * the reference in messages. The caller drops the trailing newline. */
static int read_secret_file(const char *label, const char *path, char **out, size_t *out_len,
                            char **err)
{
    /* O_NONBLOCK so that a FIFO put in the way cannot hang the runner; it
     * has no effect on a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        *err = cd_sprintf("secret %s: %s", label, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        *err = cd_sprintf("secret %s: %s", label, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        *err = cd_sprintf("secret %s: not a regular file", label);
        close(fd);
        return -1;
    }
    if (st.st_size > SECRET_MAX_FILE) {
        *err = cd_sprintf("secret %s: larger than 64 KiB", label);
        close(fd);
        return -1;
    }
    /* Read up to one byte past the limit: the file may grow after fstat. */
    char *buf = cd_xmalloc(SECRET_MAX_FILE + 2);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, SECRET_MAX_FILE + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *err = cd_sprintf("secret %s: %s", label, strerror(errno));
            close(fd);
            explicit_bzero(buf, len);
            free(buf);
            return -1;
        }
        if (n == 0 || (len += (size_t)n) > SECRET_MAX_FILE)
            break;
    }
    close(fd);
    if (len > SECRET_MAX_FILE) {
        *err = cd_sprintf("secret %s: larger than 64 KiB", label);
        explicit_bzero(buf, len);
        free(buf);
        return -1;
    }
    /* `echo secret > file` and editors add one newline that is not part of
     * the secret; only one is dropped so that deliberate ones survive. */
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
        if (len > 0 && buf[len - 1] == '\r')
            len--;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

int cd_secret_reference_check(const char *reference, char **why)
{
    if (!reference) {
        *why = cd_xstrdup("secret reference is missing");
        return -1;
    }
    if (strncmp(reference, "env:", 4) == 0) {
        const char *name = reference + 4;
        if (!*name || strchr(name, '=')) {
            *why = cd_sprintf("secret %s: invalid variable name", reference);
            return -1;
        }
        return 0;
    }
    if (strncmp(reference, "file:", 5) == 0) {
        if (reference[5] != '/') {
            *why = cd_sprintf("secret %s: the path must be absolute", reference);
            return -1;
        }
        return 0;
    }
    if (strncmp(reference, "cred:", 5) == 0) {
        const char *name = reference + 5;
        if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            *why = cd_sprintf("secret %s: invalid credential name", reference);
            return -1;
        }
        return 0;
    }
    *why = cd_xstrdup("secret reference has an unknown scheme "
                      "(accepted: env:NAME, file:/ABS/PATH, cred:NAME)");
    return -1;
}

int cd_secret_resolve(const char *reference, char **out, size_t *out_len, char **err)
{
    *out = NULL;
    *out_len = 0;
    if (cd_secret_reference_check(reference, err) != 0)
        return -1;
    if (strncmp(reference, "env:", 4) == 0) {
        const char *value = getenv(reference + 4);
        if (!value) {
            *err = cd_sprintf("secret %s is not set", reference);
            return -1;
        }
        *out_len = strlen(value);
        *out = cd_xstrndup(value, *out_len);
        return 0;
    }
    if (strncmp(reference, "file:", 5) == 0)
        return read_secret_file(reference, reference + 5, out, out_len, err);
    /* cred: */
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (!dir || !*dir) {
        *err = cd_sprintf("secret %s: CREDENTIALS_DIRECTORY is not set "
                          "(LoadCredential= in the unit)",
                          reference);
        return -1;
    }
    char *path = cd_sprintf("%s/%s", dir, reference + 5);
    int rc = read_secret_file(reference, path, out, out_len, err);
    free(path);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* The set of values to scrub.                                             */
/* ---------------------------------------------------------------------- */

typedef struct secret_value {
    char *data;
    size_t len;
} secret_value;

struct cd_secret_set {
    secret_value *values; /* longest first, no duplicates */
    size_t count;
    size_t cap;
    /* first[c] is 1 when some value starts with byte c: most positions of a
     * log line are rejected with one lookup. */
    unsigned char first[256];
};

cd_secret_set *cd_secret_set_new(void) { return cd_xcalloc(1, sizeof(cd_secret_set)); }

void cd_secret_set_free(cd_secret_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++) {
        explicit_bzero(set->values[i].data, set->values[i].len);
        free(set->values[i].data);
    }
    free(set->values);
    free(set);
}

void cd_secret_set_add(cd_secret_set *set, const char *value, size_t len)
{
    if (!set || !value || len < SECRET_MIN_SCRUB)
        return;
    /* Keep longest first, so that scrubbing replaces a value that contains
     * another one whole rather than leaving its remainder visible. */
    size_t pos = 0;
    while (pos < set->count && set->values[pos].len >= len) {
        if (set->values[pos].len == len && memcmp(set->values[pos].data, value, len) == 0)
            return;
        pos++;
    }
    if (set->count == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 8;
        set->values = cd_xrealloc(set->values, set->cap * sizeof *set->values);
    }
    memmove(&set->values[pos + 1], &set->values[pos], (set->count - pos) * sizeof *set->values);
    set->values[pos].data = cd_xstrndup(value, len);
    set->values[pos].len = len;
    set->count++;
    set->first[(unsigned char)value[0]] = 1;
}

size_t cd_secret_longest(const cd_secret_set *set)
{
    return set && set->count ? set->values[0].len : 0; /* kept longest first */
}

char *cd_secret_scrub(const cd_secret_set *set, const char *text)
{
    if (!text)
        return cd_xstrdup("");
    size_t n = strlen(text);
    if (!set || set->count == 0)
        return cd_xstrndup(text, n);
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_reserve(&b, n);
    size_t i = 0, plain = 0; /* text[plain, i) is pending unmasked output */
    while (i < n) {
        size_t hit = 0;
        if (set->first[(unsigned char)text[i]]) {
            for (size_t k = 0; k < set->count; k++) {
                const secret_value *v = &set->values[k];
                if (v->len <= n - i && memcmp(text + i, v->data, v->len) == 0) {
                    hit = v->len;
                    break;
                }
            }
        }
        if (hit) {
            cd_buf_append(&b, text + plain, i - plain);
            cd_buf_puts(&b, SECRET_MASK);
            i += hit;
            plain = i;
        } else {
            i++;
        }
    }
    cd_buf_append(&b, text + plain, n - plain);
    return cd_buf_take(&b);
}

/* ---------------------------------------------------------------------- */
/* Walking connection_config.                                              */
/* ---------------------------------------------------------------------- */

/* The JSON path for messages: "(root)" for the top. */
static const char *path_or_root(const cd_buf *path) { return path->len ? path->data : "(root)"; }

/* Resolves one reference object into a new JSON string. */
static json_t *resolve_reference(const json_t *ref, const cd_buf *path, cd_secret_set *set,
                                 char **err)
{
    const char *reference = json_string_value(json_object_get(ref, "secret"));
    char *value = NULL, *why = NULL;
    size_t len = 0;
    if (cd_secret_resolve_guarded(reference, &value, &len, &why) < 0) {
        *err = cd_sprintf("%s: %s", path_or_root(path), why);
        free(why);
        return NULL;
    }
    json_t *s = json_stringn(value, len);
    if (!s) {
        /* jansson refuses invalid UTF-8; a binary key file does not belong
         * in a JSON configuration. */
        *err = cd_sprintf("%s: secret %s is not valid UTF-8 text", path_or_root(path), reference);
    } else {
        cd_secret_set_add(set, value, len);
    }
    explicit_bzero(value, len);
    free(value);
    return s;
}

static int resolve_node(json_t *node, cd_buf *path, cd_secret_set *set, char **err);

/* Looks at one child: replaces it if it is a reference, else descends.
 * Returns the replacement (new reference) in *replacement, or NULL. */
static int resolve_child(json_t *child, cd_buf *path, cd_secret_set *set, json_t **replacement,
                         char **err)
{
    *replacement = NULL;
    if (cd_secret_is_reference(child)) {
        *replacement = resolve_reference(child, path, set, err);
        return *replacement ? 0 : -1;
    }
    if (is_malformed_reference(child)) {
        *err = cd_sprintf("%s: \"secret\" must be a string such as \"env:NAME\"",
                          path_or_root(path));
        return -1;
    }
    return resolve_node(child, path, set, err);
}

/* Recursively resolves references below node; path is node's JSON path
 * and is restored before returning. */
static int resolve_node(json_t *node, cd_buf *path, cd_secret_set *set, char **err)
{
    size_t mark = path->len;
    if (json_is_object(node)) {
        void *it;
        for (it = json_object_iter(node); it; it = json_object_iter_next(node, it)) {
            const char *key = json_object_iter_key(it);
            if (mark)
                cd_buf_putc(path, '.');
            cd_buf_puts(path, key);
            json_t *rep;
            int rc = resolve_child(json_object_iter_value(it), path, set, &rep, err);
            path->len = mark;
            path->data[mark] = '\0';
            if (rc < 0)
                return -1;
            if (rep)
                json_object_iter_set_new(node, it, rep);
        }
    } else if (json_is_array(node)) {
        for (size_t i = 0; i < json_array_size(node); i++) {
            cd_buf_printf(path, "[%zu]", i);
            json_t *rep;
            int rc = resolve_child(json_array_get(node, i), path, set, &rep, err);
            path->len = mark;
            path->data[mark] = '\0';
            if (rc < 0)
                return -1;
            if (rep)
                json_array_set_new(node, i, rep);
        }
    }
    return 0;
}

int cd_secrets_resolve_tree(json_t *config, cd_secret_set *set, char **err)
{
    if (cd_secret_is_reference(config) || is_malformed_reference(config)) {
        *err = cd_xstrdup("(root): a secret reference cannot stand for the whole configuration");
        return -1;
    }
    cd_buf path;
    cd_buf_init(&path);
    cd_buf_reserve(&path, 64);
    path.data[0] = '\0';
    int rc = resolve_node(config, &path, set, err);
    cd_buf_free(&path);
    return rc;
}

/* Follows a local "$ref" ("#/$defs/x"), as a JSON pointer into root. NULL
 * for anything else: remote references are not fetched. */
static const json_t *follow_ref(const json_t *root, const char *ref)
{
    if (ref[0] != '#')
        return NULL;
    const json_t *node = root;
    const char *p = ref + 1;
    while (*p == '/') {
        p++;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        /* Unescape "~1" -> "/" and "~0" -> "~" (RFC 6901). */
        char *key = cd_xmalloc(len + 1);
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1')) {
                key[k++] = p[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                key[k++] = p[i];
            }
        }
        key[k] = '\0';
        node = json_is_object(node) ? json_object_get(node, key) : NULL;
        free(key);
        if (!node)
            return NULL;
        p += len;
    }
    return *p == '\0' ? node : NULL;
}

static void collect(const json_t *config, const json_t *schema, const json_t *root,
                    cd_secret_set *set, int depth);

/* Collects for one property value whose schema is sub. */
static void collect_property(const json_t *value, const json_t *sub, const json_t *root,
                             cd_secret_set *set, int depth)
{
    if (!json_is_object(sub))
        return;
    if (json_is_true(json_object_get(sub, "writeOnly")) && json_is_string(value))
        cd_secret_set_add(set, json_string_value(value), json_string_length(value));
    collect(value, sub, root, set, depth + 1);
}

/* Walks config alongside schema. Over-collecting is harmless (more text is
 * masked), missing a secret is not, so every branch of allOf/anyOf/oneOf
 * is followed. */
static void collect(const json_t *config, const json_t *schema, const json_t *root,
                    cd_secret_set *set, int depth)
{
    if (!json_is_object(schema) || depth > SCHEMA_MAX_DEPTH)
        return;

    const json_t *ref = json_object_get(schema, "$ref");
    if (json_is_string(ref)) {
        const json_t *target = follow_ref(root, json_string_value(ref));
        if (target) {
            if (json_is_true(json_object_get(target, "writeOnly")) && json_is_string(config))
                cd_secret_set_add(set, json_string_value(config), json_string_length(config));
            collect(config, target, root, set, depth + 1);
        }
    }
    static const char *const combinators[] = {"allOf", "anyOf", "oneOf"};
    for (size_t c = 0; c < sizeof combinators / sizeof combinators[0]; c++) {
        const json_t *list = json_object_get(schema, combinators[c]);
        size_t i;
        const json_t *sub;
        json_array_foreach(list, i, sub) {
            if (json_is_true(json_object_get(sub, "writeOnly")) && json_is_string(config))
                cd_secret_set_add(set, json_string_value(config), json_string_length(config));
            collect(config, sub, root, set, depth + 1);
        }
    }

    if (json_is_object(config)) {
        const json_t *props = json_object_get(schema, "properties");
        const json_t *extra = json_object_get(schema, "additionalProperties");
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)config, key, value) {
            const json_t *sub = json_object_get(props, key);
            if (!sub)
                sub = extra; /* a map of headers, say, all of them secret */
            collect_property(value, sub, root, set, depth);
        }
    } else if (json_is_array(config)) {
        const json_t *items = json_object_get(schema, "items");
        size_t i;
        const json_t *value;
        json_array_foreach(config, i, value) {
            collect_property(value, items, root, set, depth);
        }
    }
}

void cd_secrets_collect_marked(const json_t *config, const json_t *schema, cd_secret_set *set)
{
    if (!config || !schema || !set)
        return;
    collect(config, schema, schema, set, 0);
}
