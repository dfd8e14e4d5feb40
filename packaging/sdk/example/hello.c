/* hello.c — the smallest useful connectord driver: one bank statement line
 * per day of the window, amount from connection_config.amount_paise. */
#include <connectord/plugin.h>

#include <stdio.h>
#include <string.h>

static const cd_host_api *host;

static const cd_driver_magic hello_magic =
    CD_DRIVER_MAGIC_INIT("hello", "1.0.0", "Example Vendor", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "example: one statement line per run");

static const char *describe_config(void)
{
    return "{\"type\": \"object\", \"properties\": {\"amount_paise\": {\"type\": \"integer\"}}}";
}

static int test(cd_run *run)
{
    host->test_step(run, "hello", 1, "nothing to reach");
    host->set_message(run, "hello driver ready");
    return CD_OK;
}

static int run_driver(cd_run *run)
{
    static const char *const columns[] = {"bank_ref", "bank_name", "amount_paise",
                                          "transaction_date"};
    const cd_run_info *info = host->run_info(run);
    int rc = host->records_begin(run, columns, 4);
    if (rc != CD_OK)
        return rc;
    char ref[64];
    snprintf(ref, sizeof ref, "HELLO-%s", info->run_date);
    const char *values[4] = {ref, "HELLO BANK", "100", info->run_date};
    size_t lengths[4];
    for (int i = 0; i < 4; i++)
        lengths[i] = strlen(values[i]);
    rc = host->record_emit(run, values, lengths, "line 1");
    if (rc != CD_OK)
        return rc;
    host->log(run, CD_LOG_INFO, "hello: 1 line for %s", info->run_date);
    return CD_OK;
}

static int hello_init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    host = h;
    cb->describe_config = describe_config;
    cb->test = test;
    cb->run = run_driver;
    return CD_OK;
}

CONNECTORD_DRIVER(hello_magic, hello_init)
