/*
 * fuzz_migrate_split.c — the migration statement splitter on arbitrary
 * bytes: it must split or refuse, never crash, read out of bounds or leak,
 * and every statement it returns must lie within the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate_split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cd_sql_script script = {0};
    char *err = NULL;
    if (cd_sql_split((const char *)data, size, &script, &err) == 0) {
        for (size_t i = 0; i < script.count; i++) {
            if (script.stmts[i].len != strlen(script.stmts[i].text) ||
                script.stmts[i].len > size || script.stmts[i].line == 0)
                abort();
        }
    }
    cd_sql_script_free(&script);
    free(err);
    return 0;
}
