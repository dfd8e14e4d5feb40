/* templates.c — see templates.h. */
#include "templates.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

char *cd_templates_dir(const cd_config *cfg)
{
    const char *dir = cd_config_string(cfg, "templates.dir", NULL);
    if (dir)
        return cd_xstrdup(dir);
    /* beside the main configuration file: <dir>/conf.d/templates */
    const json_t *src = cd_config_sources(cfg);
    const char *main_file = json_string_value(json_array_get(src, 0));
    if (!main_file)
        return cd_xstrdup("conf.d/templates");
    const char *slash = strrchr(main_file, '/');
    if (!slash)
        return cd_xstrdup("conf.d/templates");
    return cd_sprintf("%.*s/conf.d/templates", (int)(slash - main_file), main_file);
}

static int by_name(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "name")),
                  json_string_value(json_object_get(y, "name")));
}

/* Name, then file: of two files with one template name the first by file
 * name is used, whatever order readdir gave them in (on tmpfs, the
 * newest first: which bank format parsed statements changed with the
 * order the files were written). */
static int by_name_then_file(const void *a, const void *b)
{
    int c = by_name(a, b);
    if (c != 0)
        return c;
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "file")),
                  json_string_value(json_object_get(y, "file")));
}

static char *read_file(const char *path, size_t *len, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = cd_sprintf("cannot open: %s", strerror(errno));
        return NULL;
    }
    cd_buf b;
    cd_buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > (size_t)1 << 20) {
            *err = cd_xstrdup("larger than 1 MiB");
            fclose(f);
            cd_buf_free(&b);
            return NULL;
        }
        cd_buf_append(&b, chunk, n);
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        *err = cd_xstrdup("read error");
        cd_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return cd_buf_take(&b);
}

json_t *cd_templates_load(const cd_config *cfg, json_t **bad)
{
    json_t *list = json_array();
    if (bad)
        *bad = json_array();
    char *dir = cd_templates_dir(cfg);
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return list;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".yaml") != 0 || de->d_name[0] == '.')
            continue;
        char *path = cd_sprintf("%s/%s", dir, de->d_name);
        char *err = NULL;
        size_t len = 0;
        char *text = read_file(path, &len, &err);
        cd_config *t = text ? cd_config_from_string(text, len, &err) : NULL;
        json_t *root = t ? cd_config_get(t, "") : NULL;
        const char *name = json_string_value(json_object_get(root, "name"));
        json_t *format = json_object_get(root, "format");
        if (t && (!name || !*name || !json_is_object(format)))
            err = cd_xstrdup("needs a name and a format mapping");
        if (err) {
            if (bad)
                json_array_append_new(*bad, json_pack("{s:s, s:s}", "file", path, "error", err));
        } else {
            json_t *desc = json_object_get(root, "description");
            json_array_append_new(list, json_pack("{s:s, s:s, s:O, s:O}", "name", name, "file",
                                                  path, "description", desc ? desc : json_null(),
                                                  "format", format));
        }
        free(err);
        cd_config_free(t);
        free(text);
        free(path);
    }
    closedir(d);
    free(dir);
    /* sorted by name; of one name, the first file by name is used and
     * the others are reported, not used */
    size_t n = json_array_size(list);
    json_t **items = cd_xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(list, i));
    qsort(items, n, sizeof *items, by_name_then_file);
    json_t *sorted = json_array();
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && by_name(&items[i - 1], &items[i]) == 0) {
            if (bad)
                json_array_append_new(*bad, json_pack("{s:O, s:s}", "file",
                                                      json_object_get(items[i], "file"), "error",
                                                      "duplicate template name"));
            json_decref(items[i]);
            continue;
        }
        json_array_append_new(sorted, items[i]);
    }
    free(items);
    json_decref(list);
    return sorted;
}

void cd_templates_inject(const cd_config *cfg, const json_t *schema, json_t *config)
{
    if (!json_object_get(json_object_get(schema, "properties"), "template_format"))
        return;
    /* Never taken from the stored config, with a template or without: it
     * is what the named template says, or nothing. */
    json_object_del(config, "template_format");
    const char *name = json_string_value(json_object_get(config, "template"));
    if (!name)
        return;
    json_t *list = cd_templates_load(cfg, NULL);
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t) {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0) {
            json_object_set(config, "template_format", json_object_get(t, "format"));
            break;
        }
    }
    json_decref(list);
}

int cd_cmd_templates(const cd_config *cfg, int argc, char **argv)
{
    int as_json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else {
            fprintf(stderr, "connectord templates: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    json_t *bad = NULL;
    json_t *list = cd_templates_load(cfg, &bad);
    char *dir = cd_templates_dir(cfg);
    if (as_json) {
        json_t *out = json_pack("{s:s, s:O, s:O}", "dir", dir, "templates", list, "refused", bad);
        char *text = json_dumps(out, JSON_INDENT(2));
        puts(text);
        free(text);
        json_decref(out);
    } else {
        printf("templates in %s:\n", dir);
        size_t i;
        json_t *t;
        json_array_foreach(list, i, t) {
            json_t *f = json_object_get(t, "format");
            json_t *cols = json_object_get(f, "columns");
            printf("  %-14s %-5s", json_string_value(json_object_get(t, "name")),
                   json_string_value(json_object_get(f, "type")) ? json_string_value(json_object_get(f, "type")) : "?");
            const char *k;
            json_t *v;
            int first = 1;
            json_object_foreach(cols, k, v) {
                printf("%s%s=%s", first ? " " : ", ", k, json_string_value(v) ? json_string_value(v) : "-");
                first = 0;
            }
            putchar('\n');
        }
        json_array_foreach(bad, i, t)
            fprintf(stderr, "refused %s: %s\n", json_string_value(json_object_get(t, "file")),
                    json_string_value(json_object_get(t, "error")));
    }
    free(dir);
    json_decref(list);
    json_decref(bad);
    return 0;
}
