/* reader.c — see reader.h. */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc.h"
#include "csv.h"
#include "xlsx.h"

#define CHUNK ((size_t)1 << 20)

/* Converts in[0..n) to UTF-8 and feeds the parser. Bytes a code page does
 * not define (0x81 in Windows-1252) become '?': the row is kept, and the
 * host would have replaced them anyway. */
static int feed_converted(iconv_t cd, bs_csv *csv, char *in, size_t n, char *out, size_t outcap)
{
    char *ip = in;
    size_t left = n;
    while (left > 0) {
        char *op = out;
        size_t oleft = outcap;
        size_t r = iconv(cd, &ip, &left, &op, &oleft);
        int rc = bs_csv_feed(csv, out, (size_t)(op - out));
        if (rc)
            return rc;
        if (r == (size_t)-1) {
            if (errno == EILSEQ || errno == EINVAL) {
                ip++, left--; /* single-byte code pages: skip the byte */
                rc = bs_csv_feed(csv, "?", 1);
                if (rc)
                    return rc;
            } else if (errno != E2BIG) {
                return CD_ERR_PERMANENT;
            }
        }
    }
    return 0;
}

static int read_text(const char *path, const bs_format *f, bs_mapper *m, char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = cdc_printf("cannot open %s: %s", path, strerror(errno));
        return CD_ERR_TRANSIENT;
    }
    iconv_t cd = (iconv_t)-1;
    if (f->encoding) {
        cd = iconv_open("UTF-8", f->encoding);
        if (cd == (iconv_t)-1) {
            *why = cdc_printf("encoding %s is not available: %s", f->encoding, strerror(errno));
            close(fd);
            return CD_ERR_PERMANENT;
        }
    }
    bs_csv *csv = bs_csv_new(f->delimiter, f->quote, 0, bs_mapper_row, bs_mapper_bad, m);
    char *buf = malloc(CHUNK);
    /* a single-byte code page grows at most 3x into UTF-8 */
    char *conv = f->encoding ? malloc(CHUNK * 3 + 16) : NULL;
    int rc = CD_OK;
    if (!csv || !buf || (f->encoding && !conv)) {
        *why = cdc_printf("out of memory");
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *why = cdc_printf("reading %s failed: %s", path, strerror(errno));
            rc = CD_ERR_TRANSIENT;
            goto out;
        }
        if (n == 0)
            break;
        rc = f->encoding ? feed_converted(cd, csv, buf, (size_t)n, conv, CHUNK * 3 + 16)
                         : bs_csv_feed(csv, buf, (size_t)n);
        if (rc)
            goto out;
    }
    rc = bs_csv_finish(csv);
    if (rc == 0)
        rc = bs_mapper_finish(m);
out:
    if (cd != (iconv_t)-1)
        iconv_close(cd);
    bs_csv_free(csv);
    free(buf);
    free(conv);
    close(fd);
    return rc;
}

int bs_read_file(const char *path, const bs_format *f, bs_mapper *m, char **why)
{
    if (f->type != BS_XLSX)
        return read_text(path, f, m, why);
    int rc = bs_xlsx_read(path, f->sheet, bs_mapper_row, m, why);
    if (rc == -1)
        return CD_ERR_PERMANENT;
    if (rc == 0)
        rc = bs_mapper_finish(m);
    return rc;
}
