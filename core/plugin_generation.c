/* plugin_generation.c — see plugin_generation.h. */
#include "plugin_generation.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "plugin_probe.h"
#include "util.h"

/* Copies the already-checked descriptor in (of checked) to dst (created
 * exclusively, mode 0600) and closes it. Reading the descriptor that was
 * checked, not the path again, is what keeps a file renamed over the
 * checked one in the meantime out of the copy. */
static char *copy_checked(int in, const struct stat *checked, const char *dst)
{
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        char *e = cd_sprintf("cannot copy to %s: %s", dst, strerror(errno));
        close(in);
        return e;
    }
    char buf[65536];
    char *err = NULL;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = cd_sprintf("cannot read: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                err = cd_sprintf("cannot copy to %s: %s", dst, strerror(errno));
                break;
            }
            off += w;
        }
        if (err)
            break;
    }
    /* The owner may still be writing it in place (cp over the live file):
     * a copy taken meanwhile would be half of each. */
    struct stat after;
    if (!err && (fstat(in, &after) != 0 || after.st_size != checked->st_size ||
                 after.st_mtim.tv_sec != checked->st_mtim.tv_sec ||
                 after.st_mtim.tv_nsec != checked->st_mtim.tv_nsec))
        err = cd_xstrdup("changed while it was being read; send SIGHUP again once it is in place");
    close(in);
    if (close(out) != 0 && !err)
        err = cd_sprintf("cannot copy to %s: %s", dst, strerror(errno));
    if (err)
        unlink(dst);
    return err;
}

json_t *cd_plugins_accept(const char *self_exe, const char *live_dir, const char *base,
                          unsigned gen, char **gen_dir, char **err)
{
    char **paths;
    size_t n;
    if (cd_plugin_dir_list(live_dir, &paths, &n, err) != 0)
        return NULL;
    char *dir = cd_sprintf("%s/plugins-%u", base, gen);
    if (mkdir(dir, 0700) != 0) {
        *err = cd_sprintf("cannot create %s: %s", dir, strerror(errno));
        for (size_t i = 0; i < n; i++)
            free(paths[i]);
        free(paths);
        free(dir);
        return NULL;
    }
    json_t *refused_early = json_array();
    for (size_t i = 0; i < n; i++) {
        const char *name = strrchr(paths[i], '/') + 1;
        char *why = NULL;
        struct stat st;
        int fd = cd_plugin_file_open(paths[i], &st, &why);
        if (fd >= 0) {
            char *dst = cd_sprintf("%s/%s", dir, name);
            why = copy_checked(fd, &st, dst);
            free(dst);
        }
        if (why) {
            json_array_append_new(refused_early,
                                  json_pack("{s:s, s:s}", "file", name, "reason", why));
            free(why);
        }
        free(paths[i]);
    }
    free(paths);
    json_t *list = cd_plugins_probe(self_exe, dir, err);
    if (!list) {
        json_decref(refused_early);
        cd_plugins_generation_remove(dir);
        free(dir);
        return NULL;
    }
    /* A refused copy must not be found by a runner looking for its name. */
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(list, "refused"), i, r) {
        const char *file = json_string_value(json_object_get(r, "file"));
        if (file && !strchr(file, '/')) {
            char *p = cd_sprintf("%s/%s", dir, file);
            unlink(p);
            free(p);
        }
    }
    json_array_extend(json_object_get(list, "refused"), refused_early);
    json_decref(refused_early);
    json_object_set_new(list, "plugins_dir", json_string(live_dir));
    *gen_dir = dir;
    return list;
}

void cd_plugins_generation_remove(const char *gen_dir)
{
    DIR *d = opendir(gen_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *p = cd_sprintf("%s/%s", gen_dir, e->d_name);
            unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(gen_dir);
}
