/* plugin_probe.c — see plugin_probe.h. */
#include "plugin_probe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "child_capture.h"
#include "host.h"
#include "loader.h"
#include "supervise.h"
#include "util.h"

#define PROBE_TIMEOUT_MS 10000
#define PROBE_MAX_OUTPUT (4 * 1024 * 1024)
/* Files probed at once. A probe is a short child that mostly waits (for
 * the loader, or for a hanging init to hit its deadline): a folder of
 * several broken drivers costs one timeout, not one each, and start-up
 * and SIGHUP wait that much less. */
#define PROBE_PARALLEL 8

int cd_plugin_probe_main(const char *path)
{
    cd_driver drv;
    char *reason = NULL;
    json_t *out;
    if (cd_driver_load(path, &drv, &reason) == 0) {
        out = cd_driver_describe(&drv);
        cd_driver_unload(&drv);
    } else {
        out = json_pack("{s:s}", "refused", reason);
        free(reason);
    }
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    /* The driver may have printed to stdout: the description is the last line. */
    fputc('\n', stdout);
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Runs the probe child for one file; returns its JSON or a refusal. */
static json_t *probe_one(const char *self_exe, const char *path)
{
    char *argv[] = {(char *)self_exe, "probe-plugin", (char *)path, NULL};
    cd_capture c;
    char *err = NULL;
    if (cd_capture_run(argv, NULL, 0, PROBE_TIMEOUT_MS, PROBE_MAX_OUTPUT, &c, &err) != 0) {
        json_t *r = json_pack("{s:s+}", "refused", "cannot start the probe process: ", err);
        free(err);
        return r;
    }
    json_t *result = NULL;
    if (c.timed_out)
        result = json_pack("{s:s}", "refused", "init did not return within 10 s (hangs?)");
    else if (WIFSIGNALED(c.status))
        result = json_pack("{s:s+}", "refused", "driver crashed while loading: ",
                           cd_signal_name(WTERMSIG(c.status)));
    else
        result = json_loads(cd_capture_last_line(&c), 0, NULL);
    if (!result || !json_is_object(result)) {
        json_decref(result);
        result = json_pack("{s:s}", "refused", "the probe process printed no description");
    }
    cd_capture_free(&c);
    return result;
}

typedef struct probe_batch {
    const char *self_exe;
    char **paths;
    json_t **results;
    size_t n;
    atomic_size_t next;
} probe_batch;

static void *probe_worker(void *arg)
{
    probe_batch *b = arg;
    for (size_t i; (i = atomic_fetch_add(&b->next, 1)) < b->n;)
        b->results[i] = probe_one(b->self_exe, b->paths[i]);
    return NULL;
}

/* Probes every path, PROBE_PARALLEL at a time; results[i] is paths[i]'s. */
static void probe_all(const char *self_exe, char **paths, json_t **results, size_t n)
{
    probe_batch b = {.self_exe = self_exe, .paths = paths, .results = results, .n = n};
    atomic_init(&b.next, 0);
    pthread_t threads[PROBE_PARALLEL];
    size_t started = 0;
    while (started + 1 < n && started < PROBE_PARALLEL &&
           pthread_create(&threads[started], NULL, probe_worker, &b) == 0)
        started++;
    probe_worker(&b); /* this thread too; alone if no thread could start */
    for (size_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
}

json_t *cd_plugins_probe(const char *self_exe, const char *dir, char **err)
{
    char **paths;
    size_t n;
    if (cd_plugin_dir_list(dir, &paths, &n, err) != 0)
        return NULL;
    json_t **results = cd_xcalloc(n ? n : 1, sizeof *results);
    probe_all(self_exe, paths, results, n);
    json_t *loaded = json_array();
    json_t *refused = json_array();
    json_t *by_name = json_object();
    /* Of two files with one driver name, the one a run loads
     * (cd_driver_find): NAME.so when it declares NAME, else the first by
     * file name, whatever order the probes finished in. Listing the first
     * by file name alone showed razorpay-2.1.so as loaded while every run
     * used razorpay.so beside it. */
    for (size_t i = 0; i < n; i++) {
        const char *slash = strrchr(paths[i], '/');
        const char *file = slash ? slash + 1 : paths[i];
        json_t *r = results[i];
        const char *name = json_string_value(json_object_get(r, "name"));
        if (json_object_get(r, "refused") || !name)
            continue;
        size_t len = strlen(name);
        if (strncmp(file, name, len) == 0 && strcmp(file + len, ".so") == 0)
            json_object_set_new(by_name, name, json_string(file));
    }
    for (size_t i = 0; i < n; i++) {
        const char *slash = strrchr(paths[i], '/');
        const char *file = slash ? slash + 1 : paths[i];
        json_t *r = results[i];
        const char *why = json_string_value(json_object_get(r, "refused"));
        const char *name = json_string_value(json_object_get(r, "name"));
        if (why) {
            json_array_append_new(refused, json_pack("{s:s, s:s}", "file", file, "reason", why));
        } else if (!name) {
            json_array_append_new(refused, json_pack("{s:s, s:s}", "file", file, "reason",
                                                     "the probe described no driver name"));
        } else if (json_object_get(by_name, name) &&
                   strcmp(json_string_value(json_object_get(by_name, name)), file) != 0) {
            char *reason = cd_sprintf("duplicate driver name %s (already provided by %s)", name,
                                      json_string_value(json_object_get(by_name, name)));
            json_array_append_new(refused,
                                  json_pack("{s:s, s:s}", "file", file, "reason", reason));
            free(reason);
        } else {
            if (!json_object_get(by_name, name))
                json_object_set_new(by_name, name, json_string(file));
            json_array_append(loaded, r);
        }
        json_decref(r);
        free(paths[i]);
    }
    free(paths);
    free(results);
    json_decref(by_name);
    return json_pack("{s:s, s:o, s:o}", "plugins_dir", dir, "loaded", loaded, "refused",
                     refused);
}
