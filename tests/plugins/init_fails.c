/* init_fails.c — init refuses to start and says why. */
#include <connectord/plugin.h>

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)cb;
    h->init_error("licence file /etc/acme/licence.key not found");
    return CD_ERR_CONFIG;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("init_fails", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "init fails");
CONNECTORD_DRIVER(magic, init)
