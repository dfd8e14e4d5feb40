/* init_crash.c — init dereferences NULL. */
#include <connectord/plugin.h>
#include <signal.h>

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)h, (void)cb;
    raise(SIGSEGV);
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("init_crash", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "crashes in init");
CONNECTORD_DRIVER(magic, init)
