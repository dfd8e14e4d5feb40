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
/* The longest encoded form of a value, in bytes for each of its bytes. */
#define SECRET_MAX_EXPANSION 8
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

/* A value is searched for as its "form": the value with every '+' read as
 * a space, compared with text read the same way. A form body or query
 * string writes a space as '+', and equal text is always equal forms, so
 * one search finds the value as written and as a form encoder wrote it. */
static unsigned char form_byte(unsigned char c) { return c == '+' ? ' ' : c; }

typedef struct secret_value {
    char *data;
    size_t len;
    unsigned char *form; /* form_byte of every byte of data */
    size_t *next;        /* Knuth-Morris-Pratt failure function of form */
} secret_value;

struct cd_secret_set {
    secret_value *values; /* longest first, no duplicates */
    size_t count;
    size_t cap;
};

cd_secret_set *cd_secret_set_new(void) { return cd_xcalloc(1, sizeof(cd_secret_set)); }

static void value_free(secret_value *v)
{
    explicit_bzero(v->data, v->len);
    explicit_bzero(v->form, v->len);
    free(v->data);
    free(v->form);
    free(v->next);
}

void cd_secret_set_free(cd_secret_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        value_free(&set->values[i]);
    free(set->values);
    free(set);
}

void cd_secret_set_add(cd_secret_set *set, const char *value, size_t len)
{
    if (!set || !value || len < SECRET_MIN_SCRUB)
        return;
    /* Kept longest first: cd_secret_longest reads the first. */
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
    secret_value *v = &set->values[pos];
    v->data = cd_xstrndup(value, len);
    v->len = len;
    v->form = cd_xmalloc(len);
    for (size_t i = 0; i < len; i++)
        v->form[i] = form_byte((unsigned char)value[i]);
    v->next = cd_xmalloc(len * sizeof *v->next);
    v->next[0] = 0;
    for (size_t i = 1, k = 0; i < len; i++) {
        while (k > 0 && v->form[i] != v->form[k])
            k = v->next[k - 1];
        if (v->form[i] == v->form[k])
            k++;
        v->next[i] = k;
    }
    set->count++;
}

size_t cd_secret_longest(const cd_secret_set *set)
{
    if (!set || !set->count)
        return 0;
    /* Kept longest first. The longest encoded form searched is JSON
     * inside a percent-encoding, a control character written %5Cu001f:
     * 8 bytes for each byte (JSON inside JSON, \\u001f, is 7). A
     * Basic credential's base64 needs 4 for 3, and only the part that
     * encodes the value must lie before a cut. */
    return set->values[0].len * SECRET_MAX_EXPANSION;
}

/* ---------------------------------------------------------------------- */
/* Scrubbing: the text as written, and decoded.                            */
/* ---------------------------------------------------------------------- */

/* A reading of the text: bytes d[0, m), each of which came from the bytes
 * [from[i], to[i]) of the original (identity when from is NULL). */
typedef struct view {
    const unsigned char *d;
    size_t m;
    unsigned char *own;
    size_t *from, *to;
} view;

static size_t view_from(const view *v, size_t i) { return v->from ? v->from[i] : i; }
static size_t view_to(const view *v, size_t i) { return v->to ? v->to[i] : i + 1; }

static void view_free(view *v)
{
    if (v->own)
        explicit_bzero(v->own, v->m);
    free(v->own);
    free(v->from);
    free(v->to);
    memset(v, 0, sizeof *v);
}

/* Decoding never lengthens: a view of src fits in src->m bytes. */
static void view_alloc(view *out, size_t m)
{
    out->own = cd_xmalloc(m ? m : 1);
    out->from = cd_xmalloc((m ? m : 1) * sizeof *out->from);
    out->to = cd_xmalloc((m ? m : 1) * sizeof *out->to);
    out->d = out->own;
    out->m = 0;
}

/* Appends byte c that decodes src[a, b]. */
static void view_put(view *out, const view *src, unsigned char c, size_t a, size_t b)
{
    out->own[out->m] = c;
    out->from[out->m] = view_from(src, a);
    out->to[out->m] = view_to(src, b);
    out->m++;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The 16-bit number of 4 hex digits at p, or -1. */
static long hex4(const unsigned char *p)
{
    long u = 0;
    for (int k = 0; k < 4; k++) {
        int h = hex_value(p[k]);
        if (h < 0)
            return -1;
        u = u * 16 + h;
    }
    return u;
}

/* src with JSON string escapes decoded: \" \\ \/ \b \f \n \r \t, and \u with
 * four hex digits in either case (a surrogate pair as one character) as
 * UTF-8. Anything else, a lone surrogate included, stays as written.
 * Returns 1 if some escape was decoded (out is then set), else 0. */
static int json_unescape(const view *src, view *out)
{
    const unsigned char *d = src->d;
    size_t m = src->m;
    if (!memchr(d, '\\', m))
        return 0;
    view_alloc(out, m);
    int changed = 0;
    size_t i = 0;
    while (i < m) {
        if (d[i] != '\\' || i + 1 >= m) {
            view_put(out, src, d[i], i, i);
            i++;
            continue;
        }
        static const char simple_in[] = "\"\\/bfnrt";
        static const char simple_out[] = "\"\\/\b\f\n\r\t";
        const char *s = d[i + 1] ? strchr(simple_in, d[i + 1]) : NULL;
        if (s) {
            view_put(out, src, (unsigned char)simple_out[s - simple_in], i, i + 1);
            i += 2;
            changed = 1;
            continue;
        }
        long u = d[i + 1] == 'u' && i + 6 <= m ? hex4(d + i + 2) : -1;
        size_t end = i + 6;
        if (u >= 0xD800 && u <= 0xDBFF) {
            long lo = i + 12 <= m && d[i + 6] == '\\' && d[i + 7] == 'u' ? hex4(d + i + 8) : -1;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                end = i + 12;
            } else {
                u = -1;
            }
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            u = -1;
        }
        if (u < 0) {
            view_put(out, src, d[i], i, i);
            i++;
            continue;
        }
        unsigned char b[4];
        size_t n;
        if (u < 0x80) {
            b[0] = (unsigned char)u;
            n = 1;
        } else if (u < 0x800) {
            b[0] = (unsigned char)(0xC0 | (u >> 6));
            b[1] = (unsigned char)(0x80 | (u & 0x3F));
            n = 2;
        } else if (u < 0x10000) {
            b[0] = (unsigned char)(0xE0 | (u >> 12));
            b[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
            b[2] = (unsigned char)(0x80 | (u & 0x3F));
            n = 3;
        } else {
            b[0] = (unsigned char)(0xF0 | (u >> 18));
            b[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3F));
            b[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
            b[3] = (unsigned char)(0x80 | (u & 0x3F));
            n = 4;
        }
        for (size_t k = 0; k < n; k++)
            view_put(out, src, b[k], i, end - 1);
        i = end;
        changed = 1;
    }
    if (!changed)
        view_free(out);
    return changed;
}

/* src with percent-encoding (%2f, %2F) decoded; '+' is left to the
 * search (form_byte). Returns 1 if something was decoded, else 0. */
static int url_unescape(const view *src, view *out)
{
    const unsigned char *d = src->d;
    size_t m = src->m;
    if (!memchr(d, '%', m))
        return 0;
    view_alloc(out, m);
    int changed = 0;
    size_t i = 0;
    while (i < m) {
        int hi = d[i] == '%' && i + 2 < m ? hex_value(d[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(d[i + 2]) : -1;
        if (lo >= 0) {
            view_put(out, src, (unsigned char)(hi * 16 + lo), i, i + 2);
            i += 3;
            changed = 1;
        } else {
            view_put(out, src, d[i], i, i);
            i++;
        }
    }
    if (!changed)
        view_free(out);
    return changed;
}

/* Where to mask: +1 at each start, -1 at each end (a difference array, so
 * that any number of overlapping finds costs one step each). */
typedef struct marks {
    long *delta; /* n + 1, allocated on the first find */
    size_t n;
} marks;

static void mark(marks *mk, size_t a, size_t b)
{
    if (!mk->delta)
        mk->delta = cd_xcalloc(mk->n + 1, sizeof *mk->delta);
    mk->delta[a]++;
    mk->delta[b]--;
}

/* Calls back for every place (overlapping ones too) where v's form is in
 * d[0, m) read as forms; stops at the first when first_only. Returns the
 * number found. Linear in m (Knuth-Morris-Pratt). */
static size_t find_value(const secret_value *v, const unsigned char *d, size_t m, int first_only,
                         const view *src, marks *mk)
{
    size_t found = 0, k = 0;
    for (size_t i = 0; i < m; i++) {
        unsigned char c = form_byte(d[i]);
        if (k == 0 && c != v->form[0]) {
            /* the common case: skip to the next byte that can start it */
            if (v->form[0] == ' ')
                continue;
            const unsigned char *p = memchr(d + i + 1, v->form[0], m - i - 1);
            if (!p)
                break;
            i = (size_t)(p - d);
            c = v->form[0];
        }
        while (k > 0 && c != v->form[k])
            k = v->next[k - 1];
        if (c == v->form[k])
            k++;
        if (k == v->len) {
            found++;
            if (first_only)
                return found;
            if (src)
                mark(mk, view_from(src, i + 1 - v->len), view_to(src, i));
            k = v->next[k - 1];
        }
    }
    return found;
}

static void find_all(const cd_secret_set *set, const view *v, marks *mk)
{
    for (size_t k = 0; k < set->count; k++)
        find_value(&set->values[k], v->d, v->m, 0, v, mk);
}

/* The 6-bit value of a base64 character, standard (+/) or URL-safe (-_),
 * or -1. */
static const signed char b64_table[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, 62, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static int b64_value(unsigned char c) { return b64_table[c]; }

/* Decodes base64 (standard or URL-safe, no padding) p[0, n) into out,
 * dropping a last incomplete character. Returns the bytes written. */
static size_t b64_decode(const unsigned char *p, size_t n, unsigned char *out)
{
    size_t o = 0;
    unsigned long acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 6) | (unsigned long)b64_value(p[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1UL << bits) - 1;
        }
    }
    return o;
}

/* Masks every base64 word of v that decodes to text holding a value: an
 * HTTP Basic credential ("Authorization: Basic dXNlcjpwYXNz") or a token
 * wrapped in base64. A word is decoded from each of its first four
 * characters, so one glued to other letters ("key/dXNl...") is found too.
 * Linear: every byte is decoded four times. */
static void find_base64(const cd_secret_set *set, const view *v, marks *mk)
{
    const unsigned char *d = v->d;
    size_t m = v->m, i = 0;
    unsigned char *buf = NULL;
    size_t cap = 0;
    while (i < m) {
        if (b64_value(d[i]) < 0) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < m && b64_value(d[i]) >= 0)
            i++;
        size_t end = i;
        while (i < m && d[i] == '=')
            i++;
        /* too short to hold the shortest value (6 bits a character) */
        if ((end - start) * 6 / 8 < set->values[set->count - 1].len)
            continue;
        if (cap < end - start) {
            if (buf)
                explicit_bzero(buf, cap); /* may hold a decoded value */
            cap = end - start;
            free(buf);
            buf = cd_xmalloc(cap);
        }
        int hit = 0;
        for (size_t off = 0; off < 4 && !hit; off++) {
            size_t n = b64_decode(d + start + off, end - start - off, buf);
            for (size_t k = 0; k < set->count && !hit; k++)
                hit = find_value(&set->values[k], buf, n, 1, NULL, NULL) > 0;
        }
        if (hit)
            mark(mk, view_from(v, start), view_to(v, i - 1));
    }
    if (buf)
        explicit_bzero(buf, cap);
    free(buf);
}

char *cd_secret_scrub(const cd_secret_set *set, const char *text)
{
    if (!text)
        return cd_xstrdup("");
    size_t n = strlen(text);
    if (!set || set->count == 0 || n == 0)
        return cd_xstrndup(text, n);
    marks mk = {NULL, n};
    view raw = {(const unsigned char *)text, n, NULL, NULL, NULL};
    /* Each reading is searched: as written; JSON-escaped ("p\"w", "\u00e9",
     * "a\/b"), and escaped twice (a JSON body logged inside a JSON string);
     * percent-encoded (of the text, or of its JSON reading); JSON inside a
     * percent-encoded query. Base64 words are decoded from the text and
     * from every reading that decodes a '\\' ("dXNl\\/cjpw" is one word
     * only once its slash is unescaped, twice for a JSON body logged inside
     * a JSON string) or a '%'. A reading is made only when the text
     * holds a '\\' or '%' to decode. */
    view json = {0}, json2 = {0}, url = {0}, url_json = {0};
    find_all(set, &raw, &mk);
    find_base64(set, &raw, &mk);
    int has_json = json_unescape(&raw, &json);
    const view *base = &raw;
    if (has_json) {
        find_all(set, &json, &mk);
        if (json_unescape(&json, &json2)) {
            find_all(set, &json2, &mk);
            find_base64(set, &json2, &mk);
        }
        base = &json;
    }
    if (url_unescape(base, &url)) {
        find_all(set, &url, &mk);
        if (json_unescape(&url, &url_json)) {
            find_all(set, &url_json, &mk);
            find_base64(set, &url_json, &mk);
        }
        base = &url;
    }
    if (base != &raw)
        find_base64(set, base, &mk);
    view_free(&json);
    view_free(&json2);
    view_free(&url);
    view_free(&url_json);
    if (!mk.delta)
        return cd_xstrndup(text, n);
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_reserve(&b, n);
    long depth = 0;
    size_t plain = 0; /* text[plain, i) is pending unmasked output */
    for (size_t i = 0; i < n; i++) {
        long was = depth;
        depth += mk.delta[i];
        if (was == 0 && depth > 0) {
            cd_buf_append(&b, text + plain, i - plain);
            cd_buf_puts(&b, SECRET_MASK);
        } else if (was > 0 && depth == 0) {
            plain = i;
        }
    }
    if (depth == 0)
        cd_buf_append(&b, text + plain, n - plain);
    free(mk.delta);
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

const json_t *cd_secrets_schema_ref(const json_t *root, const char *ref)
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
        const json_t *target = cd_secrets_schema_ref(root, json_string_value(ref));
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
