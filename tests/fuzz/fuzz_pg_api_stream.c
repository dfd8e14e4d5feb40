/*
 * fuzz_pg_api_stream.c — pg_api's streaming parser and item mapping
 * (pg_api_parse_buffer) on arbitrary bodies, through fuzz_host.h, fed in
 * pieces whose size the first input byte picks: yajl's state must survive
 * every split of the input, and the mapping every item shape.
 */
#include "../../plugins/pg_api/pg_api_internal.h"
#include "fuzz_host.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cd_run run;
    fuzz_run_init(&run, NULL);
    size_t chunk = size ? (size_t)(data[0] % 64) : 0;
    uint64_t items = 0;
    int rc = pg_api_parse_buffer(&run, size ? "FUZZ" : "ALL", size ? data + 1 : data,
                                 size ? size - 1 : 0, chunk, &items);
    if (rc == CD_OK && run.records + run.errors > items)
        abort(); /* never more records and errors than items */
    return 0;
}
