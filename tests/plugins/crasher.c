/* crasher.c — emits a few records, then crashes with SIGSEGV mid-run. */
#include <connectord/plugin.h>
#include <signal.h>
#include <string.h>

static const cd_host_api *host;
static const char *schema(void) { return "{\"type\":\"object\"}"; }
static int test(cd_run *run)
{
    (void)run;
    return CD_OK;
}

static int run_crash(cd_run *run)
{
    static const char *const cols[] = {"bank_ref", "bank_name", "amount_paise",
                                       "transaction_date"};
    if (host->records_begin(run, cols, 4) != CD_OK)
        return CD_ERR_PERMANENT;
    const char *vals[] = {"CRASH-1", "CRASHBANK", "100", host->run_info(run)->run_date};
    size_t lens[4];
    for (int k = 0; k < 4; k++)
        lens[k] = strlen(vals[k]);
    host->record_emit(run, vals, lens, "row 1");
    raise(SIGSEGV);
    return CD_OK;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    host = h;
    cb->describe_config = schema;
    cb->test = test;
    cb->run = run_crash;
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("crasher", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "segfaults during run");
CONNECTORD_DRIVER(magic, init)
