/* short_struct.c — a descriptor claiming to be smaller than ABI 1 needs. */
#include <connectord/plugin.h>

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)h, (void)cb;
    return CD_OK;
}

static const cd_driver_magic magic = {CD_DRIVER_MAGIC, CD_PLUGIN_ABI_MAJOR, 0, 12, 0,
                                      "short_bank", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                                      CD_DATASET_BANK_STATEMENT, "short struct"};
CONNECTORD_DRIVER(magic, init)
