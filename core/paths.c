/* paths.c — see paths.h. */
#include "paths.h"

#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

char *cd_self_exe(void)
{
    /* realpath of /proc/self/exe also resolves a symlinked binary. */
    return realpath("/proc/self/exe", NULL);
}

/* The prefix cannot change while the process lives, and resolving it is a
 * readlink per path component: every runner asked for it (its work
 * directory), so it is resolved once, and a zygote resolves it before it
 * forks (cd_paths_prepare). NULL: /proc/self/exe could not be read. */
static char *prefix;
static pthread_once_t prefix_once = PTHREAD_ONCE_INIT;

static void resolve_prefix(void)
{
    char *exe = cd_self_exe();
    if (!exe)
        return;
    char *up = cd_sprintf("%s/..", dirname(exe)); /* dirname modifies exe in place */
    free(exe);
    prefix = realpath(up, NULL);
    if (prefix)
        free(up);
    else
        prefix = up;
}

void cd_paths_prepare(void) { pthread_once(&prefix_once, resolve_prefix); }

char *cd_path_from_prefix(const char *rel)
{
    cd_paths_prepare();
    return prefix ? cd_sprintf("%s/%s", prefix, rel) : cd_sprintf("/usr/%s", rel);
}

char *cd_path_state(const char *rel)
{
    /* systemd's StateDirectory= (a list: the first is ours), then the
     * prefix's var/lib, except that a /usr install keeps its state in
     * /var/lib like every package (/usr is read-only under ProtectSystem). */
    const char *state = getenv("STATE_DIRECTORY");
    if (state && state[0] == '/') {
        size_t n = strcspn(state, ":");
        return cd_sprintf("%.*s/%s", (int)n, state, rel);
    }
    cd_paths_prepare();
    if (!prefix || strcmp(prefix, "/usr") == 0)
        return cd_sprintf("/var/lib/connectord/%s", rel);
    return cd_sprintf("%s/var/lib/connectord/%s", prefix, rel);
}

char *cd_default_config_path(void)
{
    char *p = cd_path_from_prefix("etc/connectord/connectord.yaml");
    if (access(p, R_OK) == 0)
        return p;
    free(p);
    return cd_xstrdup("/etc/connectord/connectord.yaml");
}
