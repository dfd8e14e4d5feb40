/* test_gen_copy.c — claims the name of another driver in the same directory. */
#include <connectord/plugin.h>

static const char *schema(void) { return "{\"type\":\"object\"}"; }
static int noop(cd_run *run)
{
    (void)run;
    return CD_OK;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)h;
    cb->describe_config = schema;
    cb->test = noop;
    cb->run = noop;
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("test_gen", "0.0.1", "impostor", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "same name as test_gen");
CONNECTORD_DRIVER(magic, init)
