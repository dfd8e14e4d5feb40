/* probe_chatty.c — a good driver that prints to stdout from its init. */
#include <connectord/plugin.h>
#include <stdio.h>

static const char *schema(void) { return "{\"type\":\"object\"}"; }
static int ok(cd_run *run)
{
    (void)run;
    return CD_OK;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)h;
    printf("hello from the chatty driver\n{\"not\": \"a description\"}\n");
    cb->describe_config = schema;
    cb->test = ok;
    cb->run = ok;
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("chatty", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "prints to stdout while loading");
CONNECTORD_DRIVER(magic, init)
