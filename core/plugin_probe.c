/* plugin_probe.c — see plugin_probe.h. */
#include "plugin_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "loader.h"
#include "supervise.h"
#include "util.h"

extern char **environ;

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
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Runs the probe child for one file; returns its JSON or a refusal. */
static json_t *probe_one(const char *self_exe, const char *path)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return json_pack("{s:s}", "refused", "cannot create a pipe to probe it");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
    char *argv[] = {(char *)self_exe, "probe-plugin", (char *)path, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, self_exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return json_pack("{s:s}", "refused", "cannot start the probe process");
    }
    cd_buf out;
    cd_buf_init(&out);
    int64_t deadline = cd_now_ms() + PROBE_TIMEOUT_MS;
    int timed_out = 0;
    for (;;) {
        int64_t left = deadline - cd_now_ms();
        if (left <= 0) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        char buf[8192];
        ssize_t r = read(pipefd[0], buf, sizeof buf);
        if (r <= 0)
            break;
        if (out.len + (size_t)r <= PROBE_MAX_OUTPUT)
            cd_buf_append(&out, buf, (size_t)r);
    }
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    json_t *result = NULL;
    if (timed_out)
        result = json_pack("{s:s}", "refused", "init did not return within 10 s (hangs?)");
    else if (WIFSIGNALED(status))
        result = json_pack("{s:s+}", "refused", "driver crashed while loading: ",
                           cd_signal_name(WTERMSIG(status)));
    else if (out.len)
        result = json_loadb(out.data, out.len, 0, NULL);
    if (!result || !json_is_object(result)) {
        json_decref(result);
        result = json_pack("{s:s}", "refused", "the probe process printed no description");
    }
    cd_buf_free(&out);
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
