/* missing_run.c — init forgets the required run callback. */
#include <connectord/plugin.h>

static const char *schema(void) { return "{\"type\":\"object\"}"; }
static int test(cd_run *run)
{
    (void)run;
    return CD_OK;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)h;
    cb->describe_config = schema;
    cb->test = test;
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("missing_run", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "no run callback");
CONNECTORD_DRIVER(magic, init)
