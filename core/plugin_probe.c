/* plugin_probe.c — see plugin_probe.h. */
#include "plugin_probe.h"

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

json_t *cd_plugins_probe(const char *self_exe, const char *dir, char **err)
{
    char **paths;
    size_t n;
    if (cd_plugin_dir_list(dir, &paths, &n, err) != 0)
        return NULL;
    json_t *loaded = json_array();
    json_t *refused = json_array();
    json_t *by_name = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *slash = strrchr(paths[i], '/');
        const char *file = slash ? slash + 1 : paths[i];
        json_t *r = probe_one(self_exe, paths[i]);
        const char *why = json_string_value(json_object_get(r, "refused"));
        const char *name = json_string_value(json_object_get(r, "name"));
        if (why) {
            json_array_append_new(refused, json_pack("{s:s, s:s}", "file", file, "reason", why));
        } else if (!name) {
            json_array_append_new(refused, json_pack("{s:s, s:s}", "file", file, "reason",
                                                     "the probe described no driver name"));
        } else if (json_object_get(by_name, name)) {
            char *reason = cd_sprintf("duplicate driver name %s (already provided by %s)", name,
                                      json_string_value(json_object_get(by_name, name)));
            json_array_append_new(refused,
                                  json_pack("{s:s, s:s}", "file", file, "reason", reason));
            free(reason);
        } else {
            json_object_set_new(by_name, name, json_string(file));
            json_array_append(loaded, r);
        }
        json_decref(r);
        free(paths[i]);
    }
    free(paths);
    json_decref(by_name);
    return json_pack("{s:s, s:o, s:o}", "plugins_dir", dir, "loaded", loaded, "refused",
                     refused);
}
