/*
 * test_loader.c — the checks the loader makes before it runs any driver
 * code: the descriptor (magic, ABI major, struct size, name, category,
 * dataset), the file itself (regular, owner, permissions) and the
 * directory it is in (owner, permissions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loader.h"

static cd_driver_magic good(void)
{
    cd_driver_magic m = CD_DRIVER_MAGIC_INIT("acme_bank", "1.0.0", "Acme", CD_CATEGORY_BANK_API,
                                             CD_DATASET_BANK_STATEMENT, "test");
    return m;
}

static void expect_reason(const cd_driver_magic *m, const char *needle)
{
    char *why = cd_magic_check(m);
    assert_non_null(why);
    if (!strstr(why, needle))
        fail_msg("reason [%s] does not contain [%s]", why, needle);
    free(why);
}

static void accepts_a_well_formed_descriptor(void **state)
{
    (void)state;
    cd_driver_magic m = good();
    assert_null(cd_magic_check(&m));
}

static void accepts_a_newer_minor_version(void **state)
{
    (void)state;
    cd_driver_magic m = good();
    m.abi_minor = CD_PLUGIN_ABI_MINOR + 5;
    assert_null(cd_magic_check(&m));
}

/* Drivers built against ABI 1.0 and 1.1: the descriptor did not change
 * size, so they pass the struct_size check. */
static void accepts_older_minor_versions(void **state)
{
    (void)state;
    for (uint16_t minor = 0; minor < CD_PLUGIN_ABI_MINOR; minor++) {
        cd_driver_magic m = good();
        m.abi_minor = minor;
        assert_int_equal(m.struct_size, sizeof(cd_driver_magic));
        assert_null(cd_magic_check(&m));
    }
}

/* ABI 1.2 appended committed after destroy: a table of the 1.1 size (what
 * an older host hands a driver) does not hold it, and a driver asking with
 * CD_CALLBACKS_HAS learns so; the 1.0 entries are where they were. */
static void callbacks_grow_only_at_the_end(void **state)
{
    (void)state;
    size_t v11 = offsetof(cd_driver_callbacks, destroy) + sizeof(void (*)(void));
    assert_int_equal(offsetof(cd_driver_callbacks, committed), v11);
    assert_true(sizeof(cd_driver_callbacks) >= v11 + sizeof(void (*)(cd_run *)));
    cd_driver_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = (uint32_t)v11;
    assert_true(CD_CALLBACKS_HAS(&cb, destroy));
    assert_false(CD_CALLBACKS_HAS(&cb, committed));
    cb.struct_size = (uint32_t)sizeof cb;
    assert_true(CD_CALLBACKS_HAS(&cb, committed));
    /* the host table: file_size_loaded (1.2) after work_dir (1.1) */
    size_t h11 = offsetof(cd_host_api, work_dir) + sizeof(void *);
    assert_int_equal(offsetof(cd_host_api, file_size_loaded), h11);
    cd_host_api h;
    memset(&h, 0, sizeof h);
    h.struct_size = (uint32_t)h11;
    assert_true(CD_HOST_HAS(&h, work_dir));
    assert_false(CD_HOST_HAS(&h, file_size_loaded));
}

static void refuses_a_null_descriptor(void **state)
{
    (void)state;
    expect_reason(NULL, "returned NULL");
}

static void refuses_a_wrong_magic_number(void **state)
{
    (void)state;
    cd_driver_magic m = good();
    m.magic = 0x12345678u;
    expect_reason(&m, "not a connectord driver descriptor (magic 0x12345678");
}

static void refuses_another_abi_major_first(void **state)
{
    (void)state;
    cd_driver_magic m = good();
    m.abi_major = 2;
    m.struct_size = 4; /* also wrong, but the major is the useful news */
    expect_reason(&m, "built for plugin ABI 2, this connectord provides 1");
}

static void refuses_a_short_struct(void **state)
{
    (void)state;
    cd_driver_magic m = good();
    m.struct_size = 12;
    expect_reason(&m, "descriptor is 12 bytes");
}

static void refuses_bad_names(void **state)
{
    (void)state;
    const char *bad[] = {"", "Acme", "acme-bank", "acme bank", "ä", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cd_driver_magic m = good();
        m.name = bad[i];
        expect_reason(&m, "driver name missing or not of [a-z0-9_]{1,64}");
    }
    cd_driver_magic m = good();
    char long_name[80];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    m.name = long_name;
    expect_reason(&m, "driver name missing");
}

static void refuses_missing_version_and_unknown_enums(void **state)
{
    (void)state;
    cd_driver_magic m = good();
    m.version = "";
    expect_reason(&m, "has no version");
    m = good();
    m.category = (cd_category)9;
    expect_reason(&m, "unknown category 9");
    m = good();
    m.dataset = (cd_dataset)0;
    expect_reason(&m, "unknown dataset 0");
}

static void names_categories_and_datasets(void **state)
{
    (void)state;
    assert_string_equal(cd_category_name(CD_CATEGORY_PG_API), "PG_API");
    assert_string_equal(cd_category_name(CD_CATEGORY_BANK_SFTP), "BANK_SFTP");
    assert_string_equal(cd_category_name(CD_CATEGORY_BANK_API), "BANK_API");
    assert_string_equal(cd_category_name(CD_CATEGORY_PG_DATABASE), "PG_DATABASE");
    assert_null(cd_category_name((cd_category)0));
    assert_string_equal(cd_dataset_name(CD_DATASET_PG_TRANSACTION), "pg_transaction");
    assert_string_equal(cd_dataset_name(CD_DATASET_BANK_STATEMENT), "bank_statement");
    assert_string_equal(cd_dataset_name(CD_DATASET_CONFIGURED), "configured");
}

static void file_checks_refuse_links_dirs_and_writable_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/cd-loader-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[256], link_path[256], missing[256];
    snprintf(file, sizeof file, "%s/a.so", dir);
    snprintf(link_path, sizeof link_path, "%s/b.so", dir);
    snprintf(missing, sizeof missing, "%s/none.so", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
    assert_int_equal(chmod(file, 0644), 0);
    char *why = cd_plugin_file_check(file);
    assert_null(why);
    assert_int_equal(symlink(file, link_path), 0);
    why = cd_plugin_file_check(link_path);
    assert_non_null(why);
    assert_non_null(strstr(why, "symbolic link"));
    free(why);
    why = cd_plugin_file_check(dir);
    assert_non_null(why);
    assert_non_null(strstr(why, "not a regular file"));
    free(why);
    assert_int_equal(chmod(file, 0664), 0);
    why = cd_plugin_file_check(file);
    assert_non_null(why);
    assert_non_null(strstr(why, "writable by its group"));
    free(why);
    assert_int_equal(chmod(file, 0646), 0);
    why = cd_plugin_file_check(file);
    assert_non_null(why);
    assert_non_null(strstr(why, "writable by others (mode 0646)"));
    free(why);
    why = cd_plugin_file_check(missing);
    assert_non_null(why);
    assert_non_null(strstr(why, "cannot open"));
    free(why);
    unlink(link_path);
    unlink(file);
    rmdir(dir);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* What is checked is what is read: a file renamed over the checked one
 * after the check must not be what the descriptor gives. */
static void file_open_keeps_the_checked_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/cd-loader-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[256], other[256], fifo[256];
    snprintf(file, sizeof file, "%s/a.so", dir);
    snprintf(other, sizeof other, "%s/evil.tmp", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo.so", dir);
    write_file(file, "checked", 0644);
    write_file(other, "swapped in", 0644);
    struct stat st;
    char *why = NULL;
    int fd = cd_plugin_file_open(file, &st, &why);
    assert_true(fd >= 0);
    assert_null(why);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 7);
    assert_int_equal(rename(other, file), 0);
    char buf[32] = {0};
    assert_int_equal(read(fd, buf, sizeof buf - 1), 7);
    assert_string_equal(buf, "checked");
    struct stat now;
    assert_int_equal(fstat(fd, &now), 0);
    assert_true(now.st_ino == st.st_ino);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
    /* A FIFO with no writer must be refused, not block the open. */
    assert_int_equal(mkfifo(fifo, 0644), 0);
    fd = cd_plugin_file_open(fifo, &st, &why);
    assert_int_equal(fd, -1);
    assert_non_null(why);
    assert_non_null(strstr(why, "not a regular file"));
    free(why);
    unlink(fifo);
    unlink(file);
    rmdir(dir);
}

static void expect_dir_refused(const char *dir, const char *needle)
{
    char **paths = NULL;
    size_t n = 0;
    char *err = NULL;
    assert_int_equal(cd_plugin_dir_list(dir, &paths, &n, &err), -1);
    assert_non_null(err);
    if (!strstr(err, needle))
        fail_msg("\"%s\" does not say \"%s\"", err, needle);
    assert_non_null(strstr(err, dir));
    free(err);
}

static void expect_dir_accepted(const char *dir)
{
    char **paths = NULL;
    size_t n = 0;
    char *err = NULL;
    if (cd_plugin_dir_list(dir, &paths, &n, &err) != 0)
        fail_msg("%s refused: %s", dir, err);
    assert_int_equal(n, 1);
    free(paths[0]);
    free(paths);
}

/* Anyone who can rename files in the directory can swap a driver after it
 * was checked, so such a directory is refused as a whole, unless the sticky
 * bit keeps them to their own files (which the owner check refuses). */
static void dir_listing_refuses_a_directory_others_can_rename_in(void **state)
{
    (void)state;
    char dir[] = "/tmp/cd-loader-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[256];
    snprintf(file, sizeof file, "%s/a.so", dir);
    write_file(file, "x", 0644);
    expect_dir_accepted(dir); /* mkdtemp's 0700 */
    assert_int_equal(chmod(dir, 0755), 0);
    expect_dir_accepted(dir);
    assert_int_equal(chmod(dir, 0777), 0);
    expect_dir_refused(dir, "is writable by others (mode 0777)");
    assert_int_equal(chmod(dir, 0775), 0);
    expect_dir_refused(dir, "is writable by its group (mode 0775)");
    assert_int_equal(chmod(dir, 01777), 0);
    expect_dir_accepted(dir);
    assert_int_equal(chmod(dir, 0755), 0);
    /* Only root can give a directory away; as anyone else, skip that. */
    if (geteuid() == 0) {
        assert_int_equal(chown(dir, 65534, (gid_t)-1), 0);
        expect_dir_refused(dir, "is owned by uid 65534, not by root or this service's user");
    }
    unlink(file);
    rmdir(dir);
}

static void dir_listing_is_sorted_and_only_so_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/cd-loader-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *names[] = {"b.so", "a.so", "c.txt", ".hidden.so", "so", "d.so.1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fclose(f);
    }
    char **paths;
    size_t n;
    char *err = NULL;
    assert_int_equal(cd_plugin_dir_list(dir, &paths, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_non_null(strstr(paths[0], "/a.so"));
    assert_non_null(strstr(paths[1], "/b.so"));
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    assert_int_equal(cd_plugin_dir_list("/nonexistent-dir", &paths, &n, &err), -1);
    assert_non_null(strstr(err, "cannot open plugin directory /nonexistent-dir"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_a_well_formed_descriptor),
        cmocka_unit_test(accepts_a_newer_minor_version),
        cmocka_unit_test(accepts_older_minor_versions),
        cmocka_unit_test(callbacks_grow_only_at_the_end),
        cmocka_unit_test(refuses_a_null_descriptor),
        cmocka_unit_test(refuses_a_wrong_magic_number),
        cmocka_unit_test(refuses_another_abi_major_first),
        cmocka_unit_test(refuses_a_short_struct),
        cmocka_unit_test(refuses_bad_names),
        cmocka_unit_test(refuses_missing_version_and_unknown_enums),
        cmocka_unit_test(names_categories_and_datasets),
        cmocka_unit_test(file_checks_refuse_links_dirs_and_writable_files),
        cmocka_unit_test(dir_listing_is_sorted_and_only_so_files),
        cmocka_unit_test(file_open_keeps_the_checked_file),
        cmocka_unit_test(dir_listing_refuses_a_directory_others_can_rename_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
