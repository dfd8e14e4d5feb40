/*
 * fuzz_bank_api_records.c — bank_api's record extraction: records_path
 * walking and column mapping over a JSON body, or the CSV reader and header
 * mapping over a CSV body (bank_api_emit_body through fuzz_host.h), plus
 * the Link header parser. Input: first byte picks JSON / CSV / Link (and
 * the size of the pieces a JSON body is fed in), the first line is the
 * records_path, the rest is the body.
 */
#include "../../plugins/bank_api/bank_api_internal.h"
#include "fuzz_host.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 3;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    if (mode == 2) {
        char *s = strndup(in, n);
        if (s) {
            char *next = bank_api_link_next(s);
            if (next && strchr(next, '>'))
                abort(); /* the target never includes the closing bracket */
            free(next);
            free(s);
        }
        return 0;
    }
    const char *nl = memchr(in, '\n', n);
    size_t plen = nl ? (size_t)(nl - in) : 0;
    char *path = strndup(in, plen);
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "base_url",
                            "http://127.0.0.1", "endpoint", "/x", "response_format",
                            mode ? "csv" : "json", "bank_name", "FUZZ", "columns", "bank_ref",
                            mode ? "Ref" : "ref", "amount", mode ? "Amount" : "amount",
                            "transaction_date", mode ? "Date" : "date", "remarks",
                            mode ? "Note" : "note");
    json_t *p = path ? json_string(path) : NULL; /* NULL for invalid UTF-8 */
    if (cfg && p)
        json_object_set_new(cfg, "records_path", p); /* takes p */
    else
        json_decref(p);
    char *text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    if (text) {
        cd_run run;
        fuzz_run_init(&run, text);
        uint64_t count = 0;
        size_t off = nl ? plen + 1 : 0;
        /* JSON is parsed as it streams in: the rest of the first byte
         * picks the size of the pieces it arrives in (0: whole) */
        size_t chunk = (size_t)(data[0] / 3) % 8;
        int rc = bank_api_emit_chunks(&run, in + off, n - off, chunk, &count);
        if (rc == CD_OK && run.records + run.errors > count)
            abort();
    }
    free(text);
    json_decref(cfg);
    free(path);
    return 0;
}
