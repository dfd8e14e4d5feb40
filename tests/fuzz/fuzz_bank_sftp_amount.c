/* fuzz_bank_sftp_amount.c — amounts to paise: never a crash or signed
 * overflow, and an accepted text without an exponent re-reads to the same
 * value after formatting. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amount.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & 3u;
    int64_t p = 0;
    bs_dir d;
    const char *why = NULL;
    int rc = bs_amount_parse((const char *)data + 1, size - 1, flags, &p, &d, &why);
    if (rc == -1 && !why)
        abort();
    if (rc == 0 && !(flags & BS_AMT_PAISE)) {
        /* round trip through the canonical text */
        char txt[40];
        uint64_t a = p < 0 ? (uint64_t)0 - (uint64_t)p : (uint64_t)p;
        snprintf(txt, sizeof txt, "%s%llu.%02llu", p < 0 ? "-" : "", (unsigned long long)(a / 100),
                 (unsigned long long)(a % 100));
        int64_t q;
        if (bs_amount_parse(txt, strlen(txt), 0, &q, &d, &why) != 0 || q != p)
            abort();
    }
    return 0;
}
