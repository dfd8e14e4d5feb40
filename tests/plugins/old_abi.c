/*
 * old_abi.c — a driver as built against plugin ABI 1.0: its descriptor says
 * 1.0 and it fills only the callbacks 1.0 had (up to destroy), so it leaves
 * later entries such as committed (1.2) at the host's NULL. The loader must
 * accept it, and list it as ABI 1.0.
 */
#include <connectord/plugin.h>
#include <stddef.h>

static const char *schema(void) { return "{\"type\":\"object\"}"; }

static int test(cd_run *run)
{
    (void)run;
    return CD_OK;
}

static int run_old(cd_run *run)
{
    (void)run;
    return CD_OK;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)h;
    /* A 1.0 driver knows the table only up to destroy. */
    if (cb->struct_size < offsetof(cd_driver_callbacks, destroy) + sizeof cb->destroy)
        return CD_ERR_PERMANENT;
    cb->describe_config = schema;
    cb->test = test;
    cb->run = run_old;
    return CD_OK;
}

static const cd_driver_magic magic = {CD_DRIVER_MAGIC, 1, 0, (uint32_t)sizeof(cd_driver_magic), 0,
                                      "old_abi", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                                      CD_DATASET_BANK_STATEMENT, "built against plugin ABI 1.0"};
CONNECTORD_DRIVER(magic, init)
