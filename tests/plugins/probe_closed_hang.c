/* probe_closed_hang.c — closes stdout, then never returns from init. */
#include <connectord/plugin.h>
#include <unistd.h>

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)h;
    (void)cb;
    close(STDOUT_FILENO);
    for (;;)
        pause();
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("closed_hang", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "closes stdout and hangs while loading");
CONNECTORD_DRIVER(magic, init)
