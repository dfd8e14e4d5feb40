/* loader.c — see loader.h. */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "run_policy.h"
#include "util.h"

const char *cd_category_name(cd_category c)
{
    switch (c) {
    case CD_CATEGORY_PG_API: return "PG_API";
    case CD_CATEGORY_BANK_SFTP: return "BANK_SFTP";
    case CD_CATEGORY_BANK_API: return "BANK_API";
    case CD_CATEGORY_PG_DATABASE: return "PG_DATABASE";
    }
    return NULL;
}

const char *cd_dataset_name(cd_dataset d)
{
    switch (d) {
    case CD_DATASET_PG_TRANSACTION: return "pg_transaction";
    case CD_DATASET_BANK_STATEMENT: return "bank_statement";
    case CD_DATASET_CONFIGURED: return "configured";
    }
    return NULL;
}

static int name_is_valid(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return 0;
    return 1;
}

/* The most useful difference first, as PostgreSQL's
 * incompatible_module_error() does. */
char *cd_magic_check(const cd_driver_magic *m)
{
    if (!m)
        return cd_xstrdup("connectord_driver_magic() returned NULL");
    if (m->magic != CD_DRIVER_MAGIC)
        return cd_sprintf("not a connectord driver descriptor (magic 0x%08x, expected 0x%08x)",
                          (unsigned)m->magic, (unsigned)CD_DRIVER_MAGIC);
    if (m->abi_major != CD_PLUGIN_ABI_MAJOR)
        return cd_sprintf("built for plugin ABI %u, this connectord provides %d "
                          "(rebuild the driver against this connectord's plugin.h)",
                          (unsigned)m->abi_major, CD_PLUGIN_ABI_MAJOR);
    if (m->struct_size < sizeof(cd_driver_magic))
        return cd_sprintf("descriptor is %u bytes, ABI %d.%d needs at least %zu "
                          "(built against a broken or older plugin.h)",
                          (unsigned)m->struct_size, CD_PLUGIN_ABI_MAJOR, CD_PLUGIN_ABI_MINOR,
                          sizeof(cd_driver_magic));
    if (!name_is_valid(m->name))
        return cd_xstrdup("driver name missing or not of [a-z0-9_]{1,64}");
    if (!m->version || !*m->version)
        return cd_sprintf("driver %s has no version", m->name);
    if (!cd_category_name(m->category))
        return cd_sprintf("driver %s has unknown category %d", m->name, (int)m->category);
    if (!cd_dataset_name(m->dataset))
        return cd_sprintf("driver %s has unknown dataset %d", m->name, (int)m->dataset);
    return NULL;
}

/* Everything is judged on the descriptor's fstat, so that whoever copies or
 * loads from that descriptor gets the file that was judged, not one renamed
 * over it since. O_NONBLOCK: opening a FIFO dropped there must not hang. */
int cd_plugin_file_open(const char *path, struct stat *st, char **reason)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *reason = errno == ELOOP ? cd_xstrdup("is a symbolic link; only regular files are loaded")
                                 : cd_sprintf("cannot open: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        *reason = cd_sprintf("cannot stat: %s", strerror(errno));
    } else if (!S_ISREG(st->st_mode)) {
        *reason = cd_xstrdup("not a regular file");
    } else if (st->st_uid != 0 && st->st_uid != geteuid()) {
        *reason = cd_sprintf("owned by uid %u, not by root or this service's user",
                             (unsigned)st->st_uid);
    } else if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        *reason = cd_sprintf("writable by %s (mode %04o); run chmod go-w on it",
                             (st->st_mode & S_IWOTH) ? "others" : "its group",
                             (unsigned)(st->st_mode & 07777));
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

char *cd_plugin_file_check(const char *path)
{
    struct stat st;
    char *reason = NULL;
    int fd = cd_plugin_file_open(path, &st, &reason);
    if (fd >= 0)
        close(fd);
    return reason;
}

/* A file's own checks mean nothing if someone else can rename another file
 * over it: that takes write access to the directory, unless the sticky bit
 * limits renames to the owner of the file replaced. */
static char *dir_check(const char *dir, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return cd_sprintf("cannot stat plugin directory %s: %s", dir, strerror(errno));
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return cd_sprintf("plugin directory %s is owned by uid %u, not by root or this "
                          "service's user; no driver in it is loaded",
                          dir, (unsigned)st.st_uid);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
        return cd_sprintf("plugin directory %s is writable by %s (mode %04o), so a driver "
                          "checked in it could be replaced before it is loaded; no driver in it "
                          "is loaded: run chmod go-w on it",
                          dir, (st.st_mode & S_IWOTH) ? "others" : "its group",
                          (unsigned)(st.st_mode & 07777));
    return NULL;
}

static char *dl_reason(const char *what)
{
    const char *e = dlerror();
    return cd_sprintf("%s: %s", what, e ? e : "unknown dlopen error");
}

/* Opens the file and returns its descriptor without calling init. */
static int open_and_read_magic(const char *path, void **handle, const cd_driver_magic **magic,
                               char **reason)
{
    char *bad = cd_plugin_file_check(path);
    if (bad) {
        *reason = bad;
        return -1;
    }
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        char *r = dl_reason("cannot load");
        *reason = cd_sprintf("%s (missing dependency? run ldd on it)", r);
        free(r);
        return -1;
    }
    dlerror();
    void *sym = dlsym(h, CD_DRIVER_MAGIC_SYMBOL);
    if (!sym) {
        *reason = cd_xstrdup("not a connectord driver: no " CD_DRIVER_MAGIC_SYMBOL
                             " symbol (built without CONNECTORD_DRIVER?)");
        dlclose(h);
        return -1;
    }
    cd_driver_magic_fn fn;
    /* POSIX guarantees a data pointer from dlsym converts to a function pointer. */
    memcpy(&fn, &sym, sizeof fn);
    const cd_driver_magic *m = fn();
    char *why = cd_magic_check(m);
    if (why) {
        *reason = why;
        dlclose(h);
        return -1;
    }
    *handle = h;
    *magic = m;
    return 0;
}

static const char *const required_names[] = {"describe_config", "test", "run"};

int cd_driver_load(const char *path, cd_driver *out, char **reason)
{
    memset(out, 0, sizeof *out);
    void *h;
    const cd_driver_magic *m;
    if (open_and_read_magic(path, &h, &m, reason) != 0)
        return -1;

    dlerror();
    void *sym = dlsym(h, CD_DRIVER_INIT_SYMBOL);
    if (!sym) {
        *reason = cd_sprintf("driver %s has no " CD_DRIVER_INIT_SYMBOL " symbol", m->name);
        dlclose(h);
        return -1;
    }
    cd_driver_init_fn init;
    memcpy(&init, &sym, sizeof init);

    cd_driver_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = (uint32_t)sizeof cb;
    cd_host_clear_init_error();
    int rc = init(&cd_host_table, &cb);
    if (rc != CD_OK) {
        char *msg = cd_host_take_init_error();
        *reason = cd_sprintf("driver %s: init failed (code %d)%s%s", m->name, rc,
                             msg ? ": " : "", msg ? msg : "");
        free(msg);
        dlclose(h);
        return -1;
    }
    cb.struct_size = (uint32_t)sizeof cb; /* a driver may not shrink it */
    const void *entries[] = {(const void *)cb.describe_config, (const void *)cb.test,
                             (const void *)cb.run};
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        if (!entries[i]) {
            *reason = cd_sprintf("driver %s: init did not set the required callback %s",
                                 m->name, required_names[i]);
            if (cb.destroy)
                cb.destroy();
            dlclose(h);
            return -1;
        }
    }
    const char *schema_text = cb.describe_config();
    json_error_t jerr;
    json_t *schema = schema_text ? json_loads(schema_text, 0, &jerr) : NULL;
    if (!schema || !json_is_object(schema)) {
        *reason = cd_sprintf("driver %s: describe_config did not return a JSON object%s%s",
                             m->name, schema_text ? ": " : "", schema_text ? jerr.text : "");
        json_decref(schema);
        if (cb.destroy)
            cb.destroy();
        dlclose(h);
        return -1;
    }
    cd_run_policy_schema_merge(schema);
    out->path = cd_xstrdup(path);
    out->handle = h;
    out->magic = m;
    out->callbacks = cb;
    out->config_schema = schema;
    return 0;
}

static void unload(cd_driver *drv, int close_library)
{
    if (!drv->handle)
        return;
    if (drv->callbacks.destroy)
        drv->callbacks.destroy();
    json_decref(drv->config_schema);
    if (close_library)
        dlclose(drv->handle);
    free(drv->path);
    memset(drv, 0, sizeof *drv);
}

void cd_driver_unload(cd_driver *drv) { unload(drv, 1); }
void cd_driver_unload_at_exit(cd_driver *drv) { unload(drv, 0); }

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cd_plugin_dir_list(const char *dir, char ***paths, size_t *n, char **err)
{
    *paths = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        *err = cd_sprintf("cannot open plugin directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if ((*err = dir_check(dir, dirfd(d))) != NULL) {
        closedir(d);
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0 || e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *paths = cd_xrealloc(*paths, cap * sizeof **paths);
        }
        (*paths)[(*n)++] = cd_sprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(*paths, *n, sizeof **paths, cmp_str);
    return 0;
}

int cd_driver_find(const char *dir, const char *name, cd_driver *out, char **reason)
{
    if (!name_is_valid(name)) {
        *reason = cd_sprintf("driver name '%s' is not of [a-z0-9_]{1,64}", name);
        return -1;
    }
    char *first = cd_sprintf("%s/%s.so", dir, name);
    char *first_reason = NULL;
    if (access(first, F_OK) == 0) {
        if (cd_driver_load(first, out, &first_reason) == 0) {
            if (strcmp(out->magic->name, name) == 0) {
                free(first);
                return 0;
            }
            cd_driver_unload(out);
        }
    }
    /* Not under its own name: look at the descriptors of the others. */
    char **paths;
    size_t n;
    char *err = NULL;
    int found = -1;
    if (cd_plugin_dir_list(dir, &paths, &n, &err) != 0) {
        *reason = err;
        free(first);
        free(first_reason);
        return -1;
    }
    for (size_t i = 0; i < n && found < 0; i++) {
        if (strcmp(paths[i], first) == 0)
            continue;
        void *h;
        const cd_driver_magic *m;
        char *r = NULL;
        if (open_and_read_magic(paths[i], &h, &m, &r) != 0) {
            free(r);
            continue;
        }
        int match = strcmp(m->name, name) == 0;
        dlclose(h);
        if (match)
            found = (int)i;
    }
    if (found >= 0) {
        char *r = NULL;
        int rc = cd_driver_load(paths[found], out, &r);
        if (rc != 0)
            *reason = cd_sprintf("%s: %s", paths[found], r);
        free(r);
        for (size_t i = 0; i < n; i++)
            free(paths[i]);
        free(paths);
        free(first);
        free(first_reason);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    if (first_reason)
        *reason = cd_sprintf("%s: %s", first, first_reason);
    else
        *reason = cd_sprintf("no driver named '%s' in %s", name, dir);
    free(first);
    free(first_reason);
    return -1;
}

json_t *cd_driver_describe(const cd_driver *drv)
{
    const cd_driver_magic *m = drv->magic;
    char abi[32];
    snprintf(abi, sizeof abi, "%u.%u", (unsigned)m->abi_major, (unsigned)m->abi_minor);
    const char *slash = strrchr(drv->path, '/');
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "name", m->name,
                     "version", m->version, "vendor", m->vendor ? m->vendor : "",
                     "category", cd_category_name(m->category), "dataset",
                     cd_dataset_name(m->dataset), "abi", abi, "description",
                     m->description ? m->description : "", "file", slash ? slash + 1 : drv->path,
                     "path", drv->path, "config_schema", drv->config_schema);
}
