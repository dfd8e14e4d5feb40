/* fuzz_bank_sftp_csv.c — the bank_sftp CSV push parser on arbitrary bytes,
 * fed in chunks whose size the first byte picks (chunk boundaries inside
 * quotes, CRLF pairs and the BOM are where push parsers break), with the
 * delimiter the second byte picks. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_row(void *ud, const bs_row *r)
{
    size_t *total = ud;
    for (size_t i = 0; i < r->n; i++)
        *total += r->v_len[i] + (r->v[i][r->v_len[i]] == '\0'); /* each cell NUL-terminated */
    return 0;
}

static int on_bad(void *ud, long line, const char *reason, const char *raw, size_t n)
{
    (void)ud, (void)line, (void)reason;
    volatile char c = n ? raw[n - 1] : 0; /* raw must be readable */
    (void)c;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1;
    char delim = (char)(data[1] ? data[1] : ',');
    if (delim == '"' || delim == '\n' || delim == '\r')
        delim = ',';
    size_t total = 0;
    bs_csv *c = bs_csv_new(delim, '"', 256, on_row, on_bad, &total);
    if (!c)
        return 0;
    for (size_t o = 2; o < size; o += chunk) {
        size_t n = size - o < chunk ? size - o : chunk;
        bs_csv_feed(c, (const char *)data + o, n);
    }
    bs_csv_finish(c);
    bs_csv_free(c);
    return 0;
}
