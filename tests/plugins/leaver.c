/* leaver.c — succeeds, leaving behind a process that holds the runner's
 * stderr open for "linger_s" seconds (a helper a vendor's driver forgot to
 * reap). Writes that process's pid to "pid_file". */
#include <connectord/plugin.h>
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

static const cd_host_api *host;

static const char *schema(void)
{
    return "{\"type\":\"object\",\"properties\":{\"pid_file\":{\"type\":\"string\"},"
           "\"linger_s\":{\"type\":\"integer\"}}}";
}

static int test(cd_run *run)
{
    (void)run;
    return CD_OK;
}

static int run_leave(cd_run *run)
{
    json_t *c = json_loads(host->run_info(run)->config_json, 0, NULL);
    const char *pid_file = json_string_value(json_object_get(c, "pid_file"));
    int linger = (int)json_integer_value(json_object_get(c, "linger_s"));
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < linger; i++) /* stderr stays open all along */
            sleep(1);
        _exit(0);
    }
    if (pid > 0 && pid_file) {
        FILE *f = fopen(pid_file, "w");
        if (f) {
            fprintf(f, "%ld\n", (long)pid);
            fclose(f);
        }
    }
    json_decref(c);
    host->log(run, CD_LOG_INFO, "left helper %ld behind", (long)pid);
    return pid > 0 ? CD_OK : CD_ERR_PERMANENT;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    host = h;
    cb->describe_config = schema;
    cb->test = test;
    cb->run = run_leave;
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("leaver", "1.0.0", "tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "leaves a process holding stderr");
CONNECTORD_DRIVER(magic, init)
