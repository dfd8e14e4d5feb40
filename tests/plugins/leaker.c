/* leaker.c — leaks memory on every record and never frees it. */
#include <connectord/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cd_host_api *host;
static const char *schema(void) { return "{\"type\":\"object\"}"; }
static int test(cd_run *run)
{
    (void)run;
    return CD_OK;
}

static int run_leak(cd_run *run)
{
    static const char *const cols[] = {"bank_ref", "bank_name", "amount_paise",
                                       "transaction_date"};
    int rc = host->records_begin(run, cols, 4);
    if (rc != CD_OK)
        return rc;
    for (int i = 0; i < 100; i++) {
        char *ref = malloc(64 * 1024); /* never freed, on purpose */
        if (!ref)
            return CD_ERR_TRANSIENT;
        memset(ref, 'x', 64 * 1024);
        snprintf(ref, 64, "LEAK-%d", i);
        const char *vals[] = {ref, "LEAKBANK", "250", host->run_info(run)->run_date};
        size_t lens[4];
        for (int k = 0; k < 4; k++)
            lens[k] = strlen(vals[k]);
        rc = host->record_emit(run, vals, lens, "leak");
        if (rc != CD_OK)
            return rc;
    }
    return CD_OK;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    host = h;
    cb->describe_config = schema;
    cb->test = test;
    cb->run = run_leak;
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("leaker", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "leaks memory");
CONNECTORD_DRIVER(magic, init)
