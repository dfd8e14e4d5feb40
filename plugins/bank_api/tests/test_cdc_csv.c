/*
 * test_cdc_csv.c — the streaming CSV reader (plugins/common/cdc_csv.c):
 * RFC 4180 quoting, line ends, BOM, blank lines, errors, and the same
 * records whatever the pieces the bytes arrive in.
 */
#include "cdc_csv.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Records rendered as "line:f1|f2;" into a buffer. */
typedef struct out {
    char text[4096];
    size_t len;
} out;

static int collect(void *ud, const char *const *f, const size_t *l, size_t n, uint64_t line)
{
    out *o = ud;
    o->len += (size_t)snprintf(o->text + o->len, sizeof o->text - o->len, "%llu:",
                               (unsigned long long)line);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < l[i]; k++)
            o->text[o->len++] = f[i][k] ? f[i][k] : '0';
        o->text[o->len++] = i + 1 < n ? '|' : ';';
    }
    o->text[o->len] = '\0';
    return 0;
}

/* Parses s fed in pieces of `piece` bytes; returns the rendering or "ERR:". */
static char *parse(const char *s, size_t len, size_t piece, char delim)
{
    static out o;
    memset(&o, 0, sizeof o);
    cdc_csv *c = cdc_csv_new(delim, 64, collect, &o);
    assert_non_null(c);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += piece)
        rc = cdc_csv_feed(c, s + off, len - off < piece ? len - off : piece);
    if (rc == 0)
        rc = cdc_csv_finish(c);
    if (rc != 0)
        snprintf(o.text, sizeof o.text, "ERR:%s", cdc_csv_error(c));
    cdc_csv_free(c);
    return o.text;
}

static void check_all_pieces(const char *s, size_t len, char delim, const char *want)
{
    for (size_t piece = 1; piece <= len + 1; piece++)
        assert_string_equal(parse(s, len, piece, delim), want);
}

#define CHECK(lit, want) check_all_pieces(lit, sizeof lit - 1, ',', want)

static void test_basic(void **state)
{
    CHECK("a,b,c\n1,2,3\n", "1:a|b|c;2:1|2|3;");
    CHECK("a,b\r\n1,2\r\n", "1:a|b;2:1|2;");
    CHECK("a,b\r1,2", "1:a|b;2:1|2;");          /* lone CR, no final line end */
    CHECK("a,,\n,\n", "1:a||;2:|;");             /* empty fields */
    CHECK("\n\na\n\r\n\nb", "3:a;6:b;");          /* blank lines skipped, lines counted */
    CHECK("\xEF\xBB\xBFh1,h2\n", "1:h1|h2;");       /* BOM */
    CHECK("\xEF\xBBx\n", "1:\xEF\xBBx;");           /* not a BOM after all */
    CHECK("\xEF\xBB", "1:\xEF\xBB;");
}

static void test_quotes(void **state)
{
    CHECK("\"a,b\",\"c\"\"d\"\n", "1:a,b|c\"d;");
    CHECK("\"multi\nline\",x\ny\n", "1:multi\nline|x;3:y;");
    CHECK("\"\"\n", "1:;");                       /* one empty quoted field is a record */
    CHECK("12\" pipe,x\n", "1:12\" pipe|x;");      /* quote inside an unquoted field */
    CHECK("a,b\0c\n", "1:a|b0c;");                /* NUL kept as data */
}

static void test_errors(void **state)
{
    CHECK("a\n\"open", "ERR:line 2 (byte 7): end of input inside a quoted field");
    CHECK("\"a\"x,b\n", "ERR:line 1 (byte 3): unexpected character after a closing quote");
    char big[200];
    memset(big, 'x', sizeof big);
    assert_string_equal(parse(big, sizeof big, 7, ','),
                        "ERR:line 1 (byte 63): record longer than the limit");
}

static void test_delimiters(void **state)
{
    check_all_pieces("a;b|c\n", 6, ';', "1:a|b|c;");
    check_all_pieces("a\tb\n", 4, '\t', "1:a|b;");
    assert_null(cdc_csv_new('"', 0, collect, NULL));
    assert_null(cdc_csv_new('\n', 0, collect, NULL));
}

static int stop_at_two(void *ud, const char *const *f, const size_t *l, size_t n, uint64_t line)
{
    return line == 2 ? 42 : 0;
}

static void test_callback_stops(void **state)
{
    cdc_csv *c = cdc_csv_new(',', 0, stop_at_two, NULL);
    assert_int_equal(cdc_csv_feed(c, "a\nb\nc\n", 6), 42);
    assert_int_equal(cdc_csv_feed(c, "d\n", 2), 42);
    assert_int_equal(cdc_csv_finish(c), 42);
    assert_int_equal(cdc_csv_records(c), 2);
    cdc_csv_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),     cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_errors),    cmocka_unit_test(test_delimiters),
        cmocka_unit_test(test_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
