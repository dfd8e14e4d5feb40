/*
 * fuzz_config.c — libFuzzer target for the YAML configuration reader:
 * arbitrary bytes through cd_config_from_string, then cd_config_check and
 * the accessors on whatever parsed. Crashes, leaks and sanitizer reports
 * are the findings; refusals are expected.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *err = NULL;
    cd_config *cfg = cd_config_from_string((const char *)data, size, &err);
    if (!cfg) {
        free(err);
        return 0;
    }
    if (cd_config_check(cfg, &err) < 0)
        free(err);
    /* The accessors walk whatever shape the input produced. */
    (void)cd_config_string(cfg, "http.port", NULL);
    (void)cd_config_int(cfg, "runner.timeout_seconds", 0, NULL);
    (void)cd_config_get(cfg, "a.b.c");
    cd_config_free(cfg);
    return 0;
}
