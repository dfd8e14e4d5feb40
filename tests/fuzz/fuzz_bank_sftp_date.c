/* fuzz_bank_sftp_date.c — dates in each template format (the first byte
 * picks it) and as Excel serials: an accepted value is always a real
 * calendar date "YYYY-MM-DD". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fmts[] = {NULL,          "dd-MM-yyyy", "dd/MM/yyyy", "dd/MM/yy",
                                       "dd-MMM-yyyy", "yyyy-MM-dd", "yyyyMMdd",
                                       "dd-MM-yyyy HH:mm:ss"};
    if (size < 1)
        return 0;
    const char *fmt = fmts[data[0] % (sizeof fmts / sizeof fmts[0])];
    char out[11];
    const char *why = NULL;
    int rc = bs_date_parse(fmt, (const char *)data + 1, size - 1, out, &why);
    if (rc == 0) {
        if (strlen(out) != 10 || out[4] != '-' || out[7] != '-')
            abort();
        int m = atoi(out + 5), d = atoi(out + 8);
        if (m < 1 || m > 12 || d < 1 || d > 31)
            abort();
    } else if (rc == -1 && !why) {
        abort();
    }
    return 0;
}
