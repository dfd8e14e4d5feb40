/* probe_forker.c — a good driver whose init leaves a helper process
 * behind, holding stdout open. */
#include <connectord/plugin.h>
#include <unistd.h>

static const char *schema(void) { return "{\"type\":\"object\"}"; }
static int ok(cd_run *run)
{
    (void)run;
    return CD_OK;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)h;
    if (fork() == 0) {
        sleep(60);
        _exit(0);
    }
    cb->describe_config = schema;
    cb->test = ok;
    cb->run = ok;
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("forker", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "leaves a helper process behind");
CONNECTORD_DRIVER(magic, init)
