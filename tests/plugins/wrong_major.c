/* wrong_major.c — a driver built for plugin ABI 2. */
#include <connectord/plugin.h>

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)h, (void)cb;
    return CD_OK;
}

static const cd_driver_magic magic = {CD_DRIVER_MAGIC, 2, 0, (uint32_t)sizeof(cd_driver_magic), 0,
                                      "future_bank", "9.0.0", "tests", CD_CATEGORY_BANK_API,
                                      CD_DATASET_BANK_STATEMENT, "built for ABI 2"};
CONNECTORD_DRIVER(magic, init)
