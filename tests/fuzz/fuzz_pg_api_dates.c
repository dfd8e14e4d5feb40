/*
 * fuzz_pg_api_dates.c — pg_api's gateway date-time reader. Whatever it
 * accepts must give a real calendar date and a timestamp that starts with
 * that date.
 */
#include "../../plugins/common/cdc.h"
#include "../../plugins/pg_api/pg_api_internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char date[11];
    char *ts = NULL;
    if (pg_api_split_datetime(s, date, &ts) == 0) {
        if (!cdc_is_iso_date(date))
            abort();
        if (ts && (strncmp(ts, date, 10) != 0 || ts[10] != 'T'))
            abort();
    } else if (ts) {
        abort(); /* a refusal hands back nothing */
    }
    free(ts);
    free(s);
    return 0;
}
