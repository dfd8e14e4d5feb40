/*
 * test_loader.c — the checks the loader makes before it runs any driver
 * code: the descriptor (magic, ABI major, struct size, name, category,
 * dataset) and the file itself (regular, owner, permissions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    assert_non_null(strstr(why, "cannot stat"));
    free(why);
    unlink(link_path);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
