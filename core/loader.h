/*
 * loader.h — finding, checking and loading driver .so files.
 *
 * The loader reads a file's descriptor (connectord_driver_magic) and checks
 * magic, ABI major, struct size, name and category before it calls any
 * other code of the driver, then calls init with a zeroed callbacks table
 * and checks the required entries. Every refusal carries the file name and
 * an exact reason, and the rest of the directory loads on.
 *
 * Only the runner (one child process per run) and the plugin probe (one
 * child process per file) load drivers: the serving process never runs
 * driver code, so a driver that crashes in init cannot take it down.
 */
#ifndef CD_LOADER_H
#define CD_LOADER_H

#include <jansson.h>
#include <sys/stat.h>

#include <connectord/plugin.h>

typedef struct cd_driver {
    char *path;                     /* absolute path of the .so */
    void *handle;                   /* dlopen handle */
    const cd_driver_magic *magic;   /* points into the driver */
    cd_driver_callbacks callbacks;  /* filled by init */
    json_t *config_schema;          /* parsed describe_config() */
} cd_driver;

/* The host table the runner hands to drivers (defined in host.c). */
extern const cd_host_api cd_host_table;

/* Checks a descriptor without touching anything else of the driver.
 * Returns NULL when acceptable, else a malloc'd reason. */
char *cd_magic_check(const cd_driver_magic *magic);

/* Opens path (without following a link) and checks that it may be loaded:
 * a regular file owned by root or by us, not writable by group or others.
 * Returns the descriptor (O_CLOEXEC) with *st its fstat, or -1 with
 * *reason (malloc'd). */
int cd_plugin_file_open(const char *path, struct stat *st, char **reason);
/* cd_plugin_file_open without keeping the descriptor: NULL or a reason. */
char *cd_plugin_file_check(const char *path);

/* Loads one file completely (dlopen, descriptor check, init, required
 * callbacks, describe_config parsed). Returns 0, or -1 with *reason. */
int cd_driver_load(const char *path, cd_driver *out, char **reason);

/* Calls destroy and dlcloses. */
void cd_driver_unload(cd_driver *drv);

/* Calls destroy and frees what the loader allocated, but keeps the library
 * mapped: for a runner that exits next, where unmapping it and its
 * dependencies one by one is wasted work. */
void cd_driver_unload_at_exit(cd_driver *drv);

/* Finds the driver named `name` in dir: first dir/<name>.so, then any
 * other .so in dir whose descriptor has that name (reading descriptors
 * only). Returns 0 with *out loaded, or -1 with *reason. */
int cd_driver_find(const char *dir, const char *name, cd_driver *out, char **reason);

/* Lists the regular *.so files of dir, sorted by name (malloc'd array of
 * malloc'd absolute paths, *n set). Returns 0, or -1 with *err, also when
 * dir is not owned by root or by us, or is writable by group or others
 * without the sticky bit. */
int cd_plugin_dir_list(const char *dir, char ***paths, size_t *n, char **err);

/* Names for the enums, or NULL when out of range. */
const char *cd_category_name(cd_category c);
const char *cd_dataset_name(cd_dataset d);

/* JSON description of a loaded driver (for `plugins --json`). New ref. */
json_t *cd_driver_describe(const cd_driver *drv);

#endif
