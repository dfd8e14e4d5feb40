/*
 * test_migrate_split.c — unit tests of the migration statement splitter
 * (core/migrate_split.h): where statements end, which line each starts on,
 * and which broken inputs are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "migrate_split.h"

/* Splits src, which must succeed, into *s. */
static void split_ok(const char *src, cd_sql_script *s)
{
    char *err = NULL;
    int rc = cd_sql_split(src, strlen(src), s, &err);
    if (rc != 0)
        fail_msg("split failed: %s", err ? err : "(no message)");
    assert_null(err);
}

/* Splits src, which must fail, and returns the message (caller frees). */
static char *split_err(const char *src, size_t len)
{
    cd_sql_script s;
    char *err = NULL;
    assert_int_equal(cd_sql_split(src, len, &s, &err), -1);
    assert_non_null(err);
    cd_sql_script_free(&s);
    return err;
}

static void expect_stmt(const cd_sql_script *s, size_t k, const char *text, unsigned line)
{
    assert_true(k < s->count);
    assert_string_equal(s->stmts[k].text, text);
    assert_int_equal(s->stmts[k].len, strlen(text));
    assert_int_equal(s->stmts[k].line, line);
}

static void splits_on_semicolons_and_tracks_lines(void **state)
{
    cd_sql_script s;
    split_ok("CREATE TABLE a (x int);\n\nINSERT INTO a\n  VALUES (1);\nSELECT 1", &s);
    assert_int_equal(s.count, 3);
    expect_stmt(&s, 0, "CREATE TABLE a (x int)", 1);
    expect_stmt(&s, 1, "INSERT INTO a\n  VALUES (1)", 3);
    expect_stmt(&s, 2, "SELECT 1", 5);
    cd_sql_script_free(&s);
}

static void leading_comments_are_not_the_statement(void **state)
{
    cd_sql_script s;
    split_ok("-- header; not a statement\n/* block;\n   comment */\n  SELECT 1; -- trailing;\n", &s);
    assert_int_equal(s.count, 1);
    expect_stmt(&s, 0, "SELECT 1", 4);
    cd_sql_script_free(&s);
}

static void empty_input_and_empty_statements_give_nothing(void **state)
{
    cd_sql_script s;
    split_ok("", &s);
    assert_int_equal(s.count, 0);
    cd_sql_script_free(&s);
    split_ok(" ;;\n; -- only a comment\n/* and another */", &s);
    assert_int_equal(s.count, 0);
    cd_sql_script_free(&s);
}

static void quotes_hide_semicolons(void **state)
{
    cd_sql_script s;
    split_ok("SELECT 'a;b''c;--', \"we;ird\"\"id\";\nSELECT E'it\\'s;\\\\';\nSELECT date'2024-01-01';",
             &s);
    assert_int_equal(s.count, 3);
    expect_stmt(&s, 0, "SELECT 'a;b''c;--', \"we;ird\"\"id\"", 1);
    expect_stmt(&s, 1, "SELECT E'it\\'s;\\\\'", 2);
    expect_stmt(&s, 2, "SELECT date'2024-01-01'", 3);
    cd_sql_script_free(&s);
}

/* Without E, a backslash is an ordinary character (standard strings). */
static void backslash_is_literal_in_standard_strings(void **state)
{
    cd_sql_script s;
    split_ok("SELECT 'C:\\';SELECT 2;", &s);
    assert_int_equal(s.count, 2);
    expect_stmt(&s, 0, "SELECT 'C:\\'", 1);
    expect_stmt(&s, 1, "SELECT 2", 1);
    cd_sql_script_free(&s);
}

static void dollar_quotes_hide_everything(void **state)
{
    cd_sql_script s;
    const char *src = "DO $$ BEGIN PERFORM 1; END $$;\n"
                      "CREATE FUNCTION f() RETURNS int AS $body$\n"
                      "  SELECT $$;'\"$$ ; -- $inner$\n"
                      "  SELECT 1; /* unclosed in here is fine\n"
                      "$body$ LANGUAGE sql;\n"
                      "PREPARE p AS SELECT $1;\n"
                      "SELECT 1 AS a$b;\n";
    split_ok(src, &s);
    assert_int_equal(s.count, 4);
    expect_stmt(&s, 0, "DO $$ BEGIN PERFORM 1; END $$", 1);
    assert_int_equal(s.stmts[1].line, 2);
    expect_stmt(&s, 2, "PREPARE p AS SELECT $1", 6);
    expect_stmt(&s, 3, "SELECT 1 AS a$b", 7);
    cd_sql_script_free(&s);
}

static void nested_block_comments(void **state)
{
    cd_sql_script s;
    split_ok("/* a /* b; */ c; */ SELECT 1 /* x; /* y */ ; */;\nSELECT 2;", &s);
    assert_int_equal(s.count, 2);
    expect_stmt(&s, 0, "SELECT 1 /* x; /* y */ ; */", 1);
    expect_stmt(&s, 1, "SELECT 2", 2);
    cd_sql_script_free(&s);
}

/* As psql does: CREATE RULE ... DO (a; b) is one statement. */
static void parentheses_hold_semicolons(void **state)
{
    cd_sql_script s;
    split_ok("CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2);\nSELECT 3);SELECT 4;",
             &s);
    assert_int_equal(s.count, 3);
    expect_stmt(&s, 0, "CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; SELECT 2)", 1);
    expect_stmt(&s, 1, "SELECT 3)", 2);
    expect_stmt(&s, 2, "SELECT 4", 2);
    cd_sql_script_free(&s);
}

static void lines_count_inside_quotes_and_comments(void **state)
{
    cd_sql_script s;
    split_ok("SELECT 'a\nb';\n/*\n\n*/SELECT $x$\n$x$;\n\"q\n\";\nSELECT E'\\\n';\nSELECT 9;", &s);
    assert_int_equal(s.count, 5);
    assert_int_equal(s.stmts[0].line, 1);
    assert_int_equal(s.stmts[1].line, 5);
    assert_int_equal(s.stmts[2].line, 7);
    assert_int_equal(s.stmts[3].line, 9);
    assert_int_equal(s.stmts[4].line, 11);
    cd_sql_script_free(&s);
}

static void crlf_files(void **state)
{
    cd_sql_script s;
    split_ok("SELECT 1;\r\n\r\nSELECT 2\r\n;\r\n", &s);
    assert_int_equal(s.count, 2);
    expect_stmt(&s, 0, "SELECT 1", 1);
    expect_stmt(&s, 1, "SELECT 2", 3);
    cd_sql_script_free(&s);
}

static void unterminated_inputs_are_refused(void **state)
{
    static const struct {
        const char *src;
        const char *message;
    } cases[] = {
        {"SELECT 1;\nSELECT 'abc;\n", "unterminated quoted string starting at line 2"},
        {"SELECT \"abc;", "unterminated quoted identifier starting at line 1"},
        {"\n\nDO $fn$ BEGIN END $f$;", "unterminated dollar-quoted string $fn$ starting at line 3"},
        {"SELECT 1; /* a /* b */", "unterminated /* comment starting at line 1"},
        {"SELECT E'\\';", "unterminated quoted string starting at line 1"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *err = split_err(cases[k].src, strlen(cases[k].src));
        assert_string_equal(err, cases[k].message);
        free(err);
    }
}

static void nul_bytes_are_refused(void **state)
{
    static const char src[] = "SELECT 1;\nSELECT\0 2;";
    char *err = split_err(src, sizeof src - 1);
    assert_string_equal(err, "NUL byte at line 2 (not a text file?)");
    free(err);
    /* Inside a quote too: PQexec would stop reading the statement there. */
    static const char quoted[] = "SELECT 1;\n\nSELECT 'a\0b';";
    err = split_err(quoted, sizeof quoted - 1);
    assert_string_equal(err, "NUL byte at line 3 (not a text file?)");
    free(err);
}

/* Input ending in the middle of a possible token must neither read past
 * the end nor lose the statement. */
static void truncated_tokens_at_the_end(void **state)
{
    static const char *const srcs[] = {"SELECT $", "SELECT $a", "SELECT -", "SELECT /", "SELECT E"};
    for (size_t k = 0; k < sizeof srcs / sizeof srcs[0]; k++) {
        cd_sql_script s;
        char *src = strdup(srcs[k]); /* exact-size heap copy, for ASan */
        char *err = NULL;
        assert_int_equal(cd_sql_split(src, strlen(src), &s, &err), 0);
        assert_int_equal(s.count, 1);
        assert_string_equal(s.stmts[0].text, src);
        cd_sql_script_free(&s);
        free(src);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(splits_on_semicolons_and_tracks_lines),
        cmocka_unit_test(leading_comments_are_not_the_statement),
        cmocka_unit_test(empty_input_and_empty_statements_give_nothing),
        cmocka_unit_test(quotes_hide_semicolons),
        cmocka_unit_test(backslash_is_literal_in_standard_strings),
        cmocka_unit_test(dollar_quotes_hide_everything),
        cmocka_unit_test(nested_block_comments),
        cmocka_unit_test(parentheses_hold_semicolons),
        cmocka_unit_test(lines_count_inside_quotes_and_comments),
        cmocka_unit_test(crlf_files),
        cmocka_unit_test(unterminated_inputs_are_refused),
        cmocka_unit_test(nul_bytes_are_refused),
        cmocka_unit_test(truncated_tokens_at_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
