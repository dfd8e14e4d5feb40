/* hanger.c — never returns from run and ignores cancellation and SIGTERM. */
#include <connectord/plugin.h>
#include <signal.h>
#include <unistd.h>

static const char *schema(void) { return "{\"type\":\"object\"}"; }
static int test(cd_run *run)
{
    (void)run;
    return CD_OK;
}

static int run_hang(cd_run *run)
{
    (void)run;
    signal(SIGTERM, SIG_IGN);
    for (;;)
        pause();
    return CD_OK;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    (void)h;
    cb->describe_config = schema;
    cb->test = test;
    cb->run = run_hang;
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("hanger", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "hangs and ignores cancel");
CONNECTORD_DRIVER(magic, init)
