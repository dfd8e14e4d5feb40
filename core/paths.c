/* paths.c — see paths.h. */
#include "paths.h"

#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

char *cd_self_exe(void)
{
    /* realpath of /proc/self/exe also resolves a symlinked binary. */
    return realpath("/proc/self/exe", NULL);
}

char *cd_path_from_prefix(const char *rel)
{
    char *exe = cd_self_exe();
    if (!exe)
        return cd_sprintf("/usr/%s", rel);
    char *bindir = dirname(exe); /* modifies exe in place */
    char *out = cd_sprintf("%s/../%s", bindir, rel);
    free(exe);
    char *real = realpath(out, NULL);
    if (real) {
        free(out);
        return real;
    }
    return out;
}

char *cd_default_config_path(void)
{
    char *p = cd_path_from_prefix("etc/connectord/connectord.yaml");
    if (access(p, R_OK) == 0)
        return p;
    free(p);
    return cd_xstrdup("/etc/connectord/connectord.yaml");
}
