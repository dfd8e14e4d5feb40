/* fuzz_bank_sftp_xlsx.c — the streaming XLSX reader (libzip + expat) on
 * arbitrary bytes: a broken zip, missing members, bad XML, shared-string
 * indexes out of range, absurd cell references. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "xlsx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_row(void *ud, const bs_row *r)
{
    size_t *total = ud;
    for (size_t i = 0; i < r->n; i++)
        *total += r->v_len[i] + (size_t)r->numeric[i];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t total = 0;
    char *why = NULL;
    bs_xlsx_read_mem(data, size, NULL, on_row, &total, &why);
    free(why);
    return 0;
}
