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

struct bs_text_reader {
    bs_csv *csv;
    bs_mapper *m;
    iconv_t cd;
    char *conv;
    size_t convcap;
};

void bs_text_reader_free(bs_text_reader *tr)
{
    if (!tr)
        return;
    if (tr->cd != (iconv_t)-1)
        iconv_close(tr->cd);
    bs_csv_free(tr->csv);
    free(tr->conv);
    free(tr);
}

bs_text_reader *bs_text_reader_new(const bs_format *f, bs_mapper *m, int *rc, char **why)
{
    bs_text_reader *tr = calloc(1, sizeof *tr);
    if (!tr) {
        *why = cdc_printf("out of memory");
        *rc = CD_ERR_TRANSIENT;
        return NULL;
    }
    tr->m = m;
    tr->cd = (iconv_t)-1;
    if (f->encoding) {
        tr->cd = iconv_open("UTF-8", f->encoding);
        if (tr->cd == (iconv_t)-1) {
            *why = cdc_printf("encoding %s is not available: %s", f->encoding, strerror(errno));
            *rc = CD_ERR_PERMANENT;
            bs_text_reader_free(tr);
            return NULL;
        }
        /* a single-byte code page grows at most 3x into UTF-8 */
        tr->convcap = CHUNK * 3 + 16;
        tr->conv = malloc(tr->convcap);
    }
    tr->csv = bs_csv_new(f->delimiter, f->quote, 0, bs_mapper_row, bs_mapper_bad, m);
    if (!tr->csv || (f->encoding && !tr->conv)) {
        *why = cdc_printf("out of memory");
        *rc = CD_ERR_TRANSIENT;
        bs_text_reader_free(tr);
        return NULL;
    }
    return tr;
}

int bs_text_reader_feed(void *ud, const char *data, size_t len)
{
    bs_text_reader *tr = ud;
    if (tr->cd == (iconv_t)-1)
        return bs_csv_feed(tr->csv, data, len);
    /* iconv's output buffer is sized for CHUNK bytes of input */
    while (len > 0) {
        size_t n = len < CHUNK ? len : CHUNK;
        int rc = feed_converted(tr->cd, tr->csv, (char *)data, n, tr->conv, tr->convcap);
        if (rc)
            return rc;
        data += n;
        len -= n;
    }
    return 0;
}

int bs_text_reader_finish(bs_text_reader *tr)
{
    int rc = bs_csv_finish(tr->csv);
    if (rc == 0)
        rc = bs_mapper_finish(tr->m);
    return rc;
}

static int read_text(const char *path, const bs_format *f, bs_mapper *m, char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = cdc_printf("cannot open %s: %s", path, strerror(errno));
        return CD_ERR_TRANSIENT;
    }
    int rc = CD_OK;
    bs_text_reader *tr = bs_text_reader_new(f, m, &rc, why);
    char *buf = malloc(CHUNK);
    if (!tr || !buf) {
        if (tr) {
            *why = cdc_printf("out of memory");
            rc = CD_ERR_TRANSIENT;
        }
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
        rc = bs_text_reader_feed(tr, buf, (size_t)n);
        if (rc)
            goto out;
    }
    rc = bs_text_reader_finish(tr);
out:
    bs_text_reader_free(tr);
    free(buf);
    close(fd);
    return rc;
}

int bs_read_file(const char *path, const bs_format *f, bs_mapper *m, char **why)
{
    if (f->type != BS_XLSX)
        return read_text(path, f, m, why);
    char *note = NULL;
    int rc = bs_xlsx_read_noted(path, f->sheet, bs_mapper_row, m, &note, why);
    if (note)
        bs_mapper_log(m, CD_LOG_INFO, note);
    free(note);
    if (rc == -1)
        return CD_ERR_PERMANENT;
    if (rc == 0)
        rc = bs_mapper_finish(m);
    return rc;
}
