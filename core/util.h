/*
 * util.h — small things every module needs: checked allocation, formatted
 * strings, a growable byte buffer.
 */
#ifndef CD_UTIL_H
#define CD_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <connectord/plugin.h>

/* Allocation that aborts on out-of-memory (the process cannot do anything
 * useful after it, and the parent records the crash). */
void *cd_xmalloc(size_t n);
void *cd_xcalloc(size_t n, size_t size);
void *cd_xrealloc(void *p, size_t n);
char *cd_xstrdup(const char *s);
char *cd_xstrndup(const char *s, size_t n);

/* malloc'd printf. */
char *cd_sprintf(const char *fmt, ...) CD_PRINTF(1, 2);
char *cd_vsprintf(const char *fmt, va_list ap) CD_PRINTF(1, 0);

typedef struct cd_buf {
    char *data;
    size_t len;
    size_t cap;
} cd_buf;

void cd_buf_init(cd_buf *b);
void cd_buf_free(cd_buf *b);
void cd_buf_reset(cd_buf *b);
void cd_buf_reserve(cd_buf *b, size_t extra);
void cd_buf_append(cd_buf *b, const void *data, size_t len);
void cd_buf_putc(cd_buf *b, char c);
void cd_buf_puts(cd_buf *b, const char *s);
void cd_buf_printf(cd_buf *b, const char *fmt, ...) CD_PRINTF(2, 3);
/* Takes the NUL-terminated contents; b is left empty. */
/* Appends v in decimal (the sink's hot path: no printf per value). */
void cd_buf_put_i64(cd_buf *b, int64_t v);
char *cd_buf_take(cd_buf *b);

#endif
