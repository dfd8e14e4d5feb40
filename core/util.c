/* util.c — see util.h. */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t n)
{
    fprintf(stderr, "<2>connectord: out of memory allocating %zu bytes\n", n);
    abort();
}

void *cd_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *cd_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *cd_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *cd_xstrdup(const char *s) { return cd_xstrndup(s, strlen(s)); }

char *cd_xstrndup(const char *s, size_t n)
{
    char *p = cd_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *cd_vsprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return cd_xstrdup("(unformattable message)");
    char *p = cd_xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *cd_sprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = cd_vsprintf(fmt, ap);
    va_end(ap);
    return p;
}

void cd_buf_init(cd_buf *b) { b->data = NULL, b->len = 0, b->cap = 0; }

void cd_buf_free(cd_buf *b)
{
    free(b->data);
    cd_buf_init(b);
}

void cd_buf_reset(cd_buf *b) { b->len = 0; }

void cd_buf_reserve(cd_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = cd_xrealloc(b->data, cap);
    b->cap = cap;
}

void cd_buf_append(cd_buf *b, const void *data, size_t len)
{
    cd_buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void cd_buf_putc(cd_buf *b, char c)
{
    /* The JSON writers put one character at a time: no memcpy for that. */
    if (b->len + 2 > b->cap)
        cd_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void cd_buf_puts(cd_buf *b, const char *s) { cd_buf_append(b, s, strlen(s)); }

void cd_buf_printf(cd_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n > 0) {
        cd_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
    }
    va_end(ap);
}

void cd_buf_put_i64(cd_buf *b, int64_t v)
{
    /* Digits from the end; the magnitude as unsigned so INT64_MIN works. */
    char tmp[24];
    size_t i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    cd_buf_append(b, tmp + i, sizeof tmp - i);
}

char *cd_buf_take(cd_buf *b)
{
    if (!b->data)
        return cd_xstrdup("");
    char *p = b->data;
    cd_buf_init(b);
    return p;
}
