/*
 * test_bank_sftp_parsers.c — the bank_sftp parsers without a network: exact
 * paise from every amount spelling banks use, dates in each template
 * format and as Excel serials, the CSV push parser across chunk
 * boundaries, file patterns with date placeholders and {SEQ}, and whole
 * files read through the mapper into a mock host's records and record
 * errors.
 */
#include <connectord/mockhost.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include <cmocka.h>

#include "amount.h"
#include "csv.h"
#include "date.h"
#include "discover.h"
#include "format.h"
#include "mapper.h"
#include "reader.h"

static int64_t paise(const char *s, unsigned flags, bs_dir *dir)
{
    int64_t p = 0;
    bs_dir d;
    const char *why = NULL;
    int rc = bs_amount_parse(s, strlen(s), flags, &p, &d, &why);
    if (rc != 0)
        fail_msg("'%s' refused: %s", s, why ? why : "blank");
    if (dir)
        *dir = d;
    return p;
}

static void refused(const char *s, unsigned flags)
{
    int64_t p;
    bs_dir d;
    const char *why = NULL;
    if (bs_amount_parse(s, strlen(s), flags, &p, &d, &why) != -1)
        fail_msg("'%s' accepted as %lld", s, (long long)p);
    assert_non_null(why);
}

static void test_amounts(void **state)
{
    bs_dir d;
    assert_int_equal(paise("1,00,000.00", 0, NULL), 10000000);
    assert_int_equal(paise("100000", 0, NULL), 10000000);
    assert_int_equal(paise("100,000.5", 0, NULL), 10000050);
    assert_int_equal(paise("(1,250.50)", 0, &d), -125050);
    assert_int_equal(d, BS_DIR_DEBIT);
    assert_int_equal(paise("1,250.50 Cr", 0, &d), 125050);
    assert_int_equal(d, BS_DIR_CREDIT);
    assert_int_equal(paise("1250.50DR", 0, &d), -125050);
    assert_int_equal(d, BS_DIR_DEBIT);
    assert_int_equal(paise("99.9 cr.", 0, NULL), 9990);
    assert_int_equal(paise("-0.01", 0, NULL), -1);
    assert_int_equal(paise(" INR 12.30 ", 0, NULL), 1230);
    assert_int_equal(paise("Rs. 5", 0, NULL), 500);
    assert_int_equal(paise("\xE2\x82\xB9" "7.05", 0, NULL), 705);
    assert_int_equal(paise(".5", 0, NULL), 50);
    assert_int_equal(paise("12.500", 0, NULL), 1250);
    assert_int_equal(paise("12345", BS_AMT_PAISE, NULL), 12345);
    /* XLSX doubles */
    assert_int_equal(paise("100.09999999999999", BS_AMT_NUMERIC, NULL), 10010);
    assert_int_equal(paise("1.2505E3", BS_AMT_NUMERIC, NULL), 125050);
    assert_int_equal(paise("2.5E-2", BS_AMT_NUMERIC, NULL), 3);
    assert_int_equal(paise("1E-5", BS_AMT_NUMERIC, NULL), 0);
    assert_int_equal(paise("92233720368547758.07", 0, NULL), INT64_MAX);
    refused("92233720368547758.08", 0);
    /* grouping: Indian (lakh, crore) and international, nothing else */
    assert_int_equal(paise("12,34,56,789.10", 0, NULL), 123456789 * 100LL + 10);
    assert_int_equal(paise("1,234,567", 0, NULL), 123456700);
    assert_int_equal(paise("12,345", 0, NULL), 1234500);
    assert_int_equal(paise("1,00,000", BS_AMT_PAISE, NULL), 100000);
    refused("12,50", 0);      /* a decimal comma: 1250,50 is not 1,25,050 */
    refused("1250,50", 0);
    refused("1,2345", 0);
    refused("1234,567", 0);
    refused("123,45,678", 0); /* Indian grouping starts with 1 or 2 digits */
    refused("1,234,56,789", 0); /* mixed */
    refused("12.345", 0);
    refused("1,,000", 0);
    refused(",100", 0);
    refused("100,", 0);
    refused("12a", 0);
    refused("abc", 0);
    refused("1.5", BS_AMT_PAISE);
    refused("12345.0", BS_AMT_PAISE); /* text: no point at all */
    /* a number cell in paise, as a writer of doubles shows whole numbers */
    assert_int_equal(paise("12345.0", BS_AMT_PAISE | BS_AMT_NUMERIC, NULL), 12345);
    assert_int_equal(paise("1.2345E4", BS_AMT_PAISE | BS_AMT_NUMERIC, NULL), 12345);
    assert_int_equal(paise("-250.00", BS_AMT_PAISE | BS_AMT_NUMERIC, NULL), -250);
    assert_int_equal(paise("1.5E1", BS_AMT_PAISE | BS_AMT_NUMERIC, NULL), 15);
    refused("12345.5", BS_AMT_PAISE | BS_AMT_NUMERIC);
    refused("1.23456E2", BS_AMT_PAISE | BS_AMT_NUMERIC); /* 123.456 paise */
    refused("5E-1", BS_AMT_PAISE | BS_AMT_NUMERIC);
    refused("1e5", 0);
    refused("-", 0);
    /* two signs that disagree, or a guess at which one was meant */
    refused("-100.00 Cr", 0);
    refused("(100.00) Cr", 0);
    refused("(-100.00)", 0);
    refused("(+100.00)", 0);
    assert_int_equal(paise("-100.00 Dr", 0, &d), -10000); /* both say debit */
    assert_int_equal(d, BS_DIR_DEBIT);
    assert_int_equal(paise("+100.00 Cr", 0, &d), 10000);
    assert_int_equal(d, BS_DIR_CREDIT);
    int64_t p;
    const char *why;
    assert_int_equal(bs_amount_parse("  ", 2, 0, &p, &d, &why), 1);
}

static void date_is(const char *fmt, const char *in, const char *want)
{
    char out[11];
    const char *why = NULL;
    if (bs_date_parse(fmt, in, strlen(in), out, &why) != 0)
        fail_msg("'%s' with %s refused: %s", in, fmt ? fmt : "(auto)", why);
    assert_string_equal(out, want);
}

static void date_refused(const char *fmt, const char *in)
{
    char out[11];
    const char *why = NULL;
    if (bs_date_parse(fmt, in, strlen(in), out, &why) != -1)
        fail_msg("'%s' with %s accepted as %s", in, fmt ? fmt : "(auto)", out);
}

static void test_dates(void **state)
{
    date_is("dd-MM-yyyy", "02-10-2025", "2025-10-02");
    date_is("dd/MM/yyyy", "2/10/2025", "2025-10-02");
    date_is("dd/MM/yy", "02/10/25", "2025-10-02");
    date_is("dd-MMM-yyyy", "02-Oct-2025", "2025-10-02");
    date_is("dd-MMM-yyyy", "02-OCT-2025 14:05:09", "2025-10-02");
    date_is("dd-MMM-yyyy", "02-September-2025", "2025-09-02");
    date_is("yyyy-MM-dd", "2025-10-02T10:00:00", "2025-10-02");
    date_is("dd-MM-yyyy HH:mm:ss", "02-10-2025 23:59:59", "2025-10-02");
    date_is("dd-MM-yyyy", "45932", "2025-10-02");      /* an Excel serial */
    date_is("dd-MM-yyyy", "45932.75", "2025-10-02");
    /* date-time cells as libxlsxwriter and Excel write them */
    date_is("dd-MM-yyyy", "45932.60416666666", "2025-10-02");
    date_is("dd-MM-yyyy", "45932.604166666664", "2025-10-02");
    date_is("dd-MM-yyyy", "45932.999988425923", "2025-10-02");
    /* 2025-10-02 00:00 a hair below its day: rounded to the millisecond */
    date_is("dd-MM-yyyy", "45931.999999999993", "2025-10-02");
    date_is(NULL, "45931.99999999999", "2025-10-02"); /* 23:59:59.9999991 */
    date_is(NULL, "45931.9999999", "2025-10-01");     /* 23:59:59.991 */
    date_refused("dd-MM-yyyy", "459321234.5");
    date_is(NULL, "2025-10-02", "2025-10-02");
    date_is(NULL, "02/10/2025", "2025-10-02");
    date_is(NULL, "20251002", "2025-10-02");
    date_is("yyyyMMdd", "20251002", "2025-10-02");
    /* between digit tokens a field has its full width: "2102025" is not
     * 2102-02-05, nor "2025102" 2025-10-02 */
    date_refused("yyyyMMdd", "2025102");
    date_refused("ddMMyyyy", "2102025");
    date_is("ddMMyyyy", "02102025", "2025-10-02");
    date_is("dd/M/yyyy", "2/1/2025", "2025-01-02");
    date_is("dd-MMM-yyyy HH:mm", "2-Oct-2025 9:05", "2025-10-02");
    date_is(NULL, "61", "1900-03-01");
    date_refused("dd-MM-yyyy", "31-02-2025");
    date_refused("dd-MM-yyyy", "2025-10-02");
    date_refused("dd-MMM-yyyy", "02-Foo-2025");
    date_refused("dd-MM-yyyy", "02-10-2025x");
    date_refused(NULL, "60");
    /* the 1904 date system: serial 0 is 1904-01-01, no phantom leap day */
    char out[11];
    const char *why;
    assert_int_equal(bs_date_parse_in("dd-MM-yyyy", "44470", 5, BS_DATE_1904, out, &why), 0);
    assert_string_equal(out, "2025-10-02");
    assert_int_equal(bs_date_parse_in(NULL, "44469.999999999993", 18, BS_DATE_1904, out, &why), 0);
    assert_string_equal(out, "2025-10-02");
    assert_int_equal(bs_date_parse_in(NULL, "0", 1, BS_DATE_1904, out, &why), 0);
    assert_string_equal(out, "1904-01-01");
    assert_int_equal(bs_date_parse_in(NULL, "60", 2, BS_DATE_1904, out, &why), 0);
    assert_string_equal(out, "1904-03-01");
    assert_int_equal(bs_date_parse_in(NULL, "2957003", 7, BS_DATE_1904, out, &why), 0);
    assert_string_equal(out, "9999-12-31");
    assert_int_equal(bs_date_parse_in(NULL, "2957004", 7, BS_DATE_1904, out, &why), -1);
    /* text dates do not depend on the date system */
    assert_int_equal(bs_date_parse_in(NULL, "02-10-2025", 10, BS_DATE_1904, out, &why), 0);
    assert_string_equal(out, "2025-10-02");
    /* In text, a bare number is a serial only as Excel shows one: a ddMMyy
     * or yyMMdd date is checked against the formats, not read as a serial
     * of 1957 or 2587. An XLSX number cell is a serial whatever its size. */
    assert_int_equal(bs_date_parse_cell("dd-MM-yyyy", "021025", 6, BS_DATE_1900, 0, out, &why), -1);
    assert_int_equal(bs_date_parse_cell(NULL, "251002", 6, BS_DATE_1900, 0, out, &why), -1);
    assert_int_equal(bs_date_parse_cell(NULL, "311025", 6, BS_DATE_1900, 0, out, &why), -1);
    assert_int_equal(bs_date_parse_cell(NULL, "2102025", 7, BS_DATE_1900, 0, out, &why), -1);
    assert_int_equal(bs_date_parse_cell(NULL, "045932", 6, BS_DATE_1900, 0, out, &why), -1);
    assert_int_equal(bs_date_parse_cell("dd-MM-yyyy", "45932.5", 7, BS_DATE_1900, 0, out, &why), 0);
    assert_string_equal(out, "2025-10-02");
    assert_int_equal(bs_date_parse_cell(NULL, "20251002", 8, BS_DATE_1900, 0, out, &why), 0);
    assert_string_equal(out, "2025-10-02");
    assert_int_equal(bs_date_parse_cell(NULL, "2957003", 7, BS_DATE_1904, 1, out, &why), 0);
    assert_string_equal(out, "9999-12-31");
    assert_true(bs_date_format_ok("dd-MMM-yyyy"));
    assert_false(bs_date_format_ok("HH:mm"));
    assert_true(bs_date_format_ok("dd/MM/yyyy HH:mm:ss"));
    assert_true(bs_date_format_ok("yyyy-MM-ddTHH:mm"));
    assert_true(bs_date_format_ok("d-MMMM-yy"));
    /* letters no token knows would match no date: every row refused */
    assert_false(bs_date_format_ok("dd/MM/yyyy hh:mm:ss a"));
    assert_false(bs_date_format_ok("dd-MM-YYYY"));
    assert_false(bs_date_format_ok("dd-MM-yyy"));
    assert_false(bs_date_format_ok("EEE dd-MM-yyyy"));
}

typedef struct collected {
    char out[4096];
    size_t len;
    int rows, bad;
    size_t header_n; /* as the mapper: a record over lines with another count is read again */
} collected;

static int on_row(void *ud, const bs_row *r)
{
    collected *c = ud;
    if (c->header_n && r->reread_line && r->n != c->header_n) {
        c->len += (size_t)snprintf(c->out + c->len, sizeof c->out - c->len,
                                   "REREAD %ld (%zu cells) from %ld\n", r->line, r->n,
                                   r->reread_line);
        return BS_ROW_REREAD;
    }
    c->len += (size_t)snprintf(c->out + c->len, sizeof c->out - c->len, "%ld:", r->line);
    for (size_t i = 0; i < r->n; i++)
        c->len += (size_t)snprintf(c->out + c->len, sizeof c->out - c->len, "[%.*s]",
                                   (int)r->v_len[i], r->v[i]);
    c->len += (size_t)snprintf(c->out + c->len, sizeof c->out - c->len, "\n");
    c->rows++;
    return 0;
}

static int on_bad(void *ud, long line, const char *reason, const char *raw, size_t n)
{
    collected *c = ud;
    c->len += (size_t)snprintf(c->out + c->len, sizeof c->out - c->len, "BAD %ld %s\n", line,
                               reason);
    c->bad++;
    return 0;
}

/* Parses input in chunks of every size from 1 up; all must agree. With
 * header_n, a record over lines with another cell count is refused. */
static void csv_counted(char delim, size_t header_n, const char *in, const char *want)
{
    for (size_t chunk = 1; chunk <= strlen(in) + 1; chunk++) {
        collected c;
        memset(&c, 0, sizeof c);
        c.header_n = header_n;
        bs_csv *p = bs_csv_new(delim, '"', 64, on_row, on_bad, &c);
        for (size_t o = 0; o < strlen(in); o += chunk) {
            size_t n = strlen(in) - o < chunk ? strlen(in) - o : chunk;
            assert_int_equal(bs_csv_feed(p, in + o, n), 0);
        }
        assert_int_equal(bs_csv_finish(p), 0);
        bs_csv_free(p);
        if (strcmp(c.out, want) != 0)
            fail_msg("chunk %zu:\n%s\nwanted:\n%s", chunk, c.out, want);
    }
}

static void csv_is(char delim, const char *in, const char *want)
{
    csv_counted(delim, 0, in, want);
}

/* Reading again must not depend on where the chunks of a download end:
 * random texts of quotes, delimiters and line breaks, every chunk size
 * agreeing with the whole text at once. */
static void test_csv_chunks_agree(void **state)
{
    (void)state;
    static const char alphabet[] = "ab,,\"\"\"\n\n\r";
    uint32_t seed = 12345;
    for (int round = 0; round < 2000; round++) {
        char in[100]; /* some over the record limit of 64 */
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % (sizeof in - 1);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        in[n] = '\0';
        collected whole;
        memset(&whole, 0, sizeof whole);
        whole.header_n = round % 2 ? 2 : 0;
        bs_csv *p = bs_csv_new(',', '"', 64, on_row, on_bad, &whole);
        assert_int_equal(bs_csv_feed(p, in, n), 0);
        assert_int_equal(bs_csv_finish(p), 0);
        bs_csv_free(p);
        csv_counted(',', whole.header_n, in, whole.out);
    }
}

static void test_csv(void **state)
{
    csv_is(',', "a,b\n1,2\n", "1:[a][b]\n2:[1][2]\n");
    csv_is(',', "\xEF\xBB\xBF" "a,b\r\n1,2", "1:[a][b]\n2:[1][2]\n");
    csv_is(',', "\xEF\xBBx", "1:[\xEF\xBBx]\n");
    csv_is('~', "a~\"x~y\"~\"he said \"\"hi\"\"\"\n", "1:[a][x~y][he said \"hi\"]\n");
    csv_is(',', "a,\"multi\nline\",c\nd,e,f\n", "1:[a][multi\nline][c]\n3:[d][e][f]\n");
    csv_is(',', "a,,\n\n,b\n", "1:[a][][]\n2:\n3:[][b]\n");
    csv_is('|', "a|b\rc|d\r", "1:[a][b]\n2:[c][d]\n");
    csv_is(',', "x,ab\"c\"d,y\n", "1:[x][ab\"c\"d][y]\n");
    csv_is(',', "a,\"unterminated\n", "BAD 1 unterminated quoted field at the end of the file\n");
    csv_is(',', "a,b\n1,\"unterminated", "1:[a][b]\nBAD 2 unterminated quoted field at the end of the file\n");
    /* "abc"def on one line stays one cell */
    csv_is(',', "\"abc\"def,y\n", "1:[abcdef][y]\n");
    csv_is(',', "a,\"multi\r\nline\",c\r\nd\r\n", "1:[a][multi\r\nline][c]\n3:[d]\n");
    csv_is(',', "a,\"lone\rcr\"\rd\r", "1:[a][lone\rcr]\n3:[d]\n");
    csv_is(',', "a,\"x\ry\nz\"\nb\n", "1:[a][x\ry\nz]\n4:[b]\n");
}

#define REREAD_TEXT "text after the closing quote of a field that runs over a line break"
#define REREAD_EOF "a quoted field runs over a line break to the end of the file"
#define REREAD_LONG "record too long"
#define FROM(open, next) " (a quote left open on line " #open "?); read again as records from line " #next

/* A quote left open takes the lines after it into its field; the record
 * is reported and those lines are read again as records. */
static void test_csv_unclosed_quote(void **state)
{
    (void)state;
    /* the opening quote of a later field closes it, text follows */
    csv_is(',', "h,r\n1,\"x\n2,\"ok\"\n3,fine\n",
           "1:[h][r]\nBAD 2 " REREAD_TEXT FROM(2, 3) "\n3:[2][ok]\n4:[3][fine]\n");
    csv_is(',', "h,r\r\n1,\"x\r\n2,\"ok\"\r\n3,fine\r\n",
           "1:[h][r]\nBAD 2 " REREAD_TEXT FROM(2, 3) "\n3:[2][ok]\n4:[3][fine]\n");
    csv_is('|', "h|r\r1|\"x\r2|\"ok\"\r3|fine\r",
           "1:[h][r]\nBAD 2 " REREAD_TEXT FROM(2, 3) "\n3:[2][ok]\n4:[3][fine]\n");
    /* a field over a line break, closed, then text: the same */
    csv_is(',', "a,\"multi\nline\"x,c\nd,e\n",
           "BAD 1 " REREAD_TEXT FROM(1, 2) "\n2:[line\"x][c]\n3:[d][e]\n");
    /* reading again starts after the record's first quoted line break */
    csv_is(',', "\"a\nb\",\"c\nd\"e\nf\n",
           "BAD 1 " REREAD_TEXT FROM(1, 2) "\nBAD 2 " REREAD_TEXT FROM(2, 3) "\n3:[d\"e]\n4:[f]\n");
    /* never closed: read again at the end of the file, with or without a last break */
    csv_is(',', "h,r\n1,\"x\n2,y\n3,z\n",
           "1:[h][r]\nBAD 2 " REREAD_EOF FROM(2, 3) "\n3:[2][y]\n4:[3][z]\n");
    csv_is(',', "h,r\n1,\"x\n2,y\n3,z", "1:[h][r]\nBAD 2 " REREAD_EOF FROM(2, 3) "\n3:[2][y]\n4:[3][z]\n");
    /* refused again while read again: each bad record reported once */
    csv_is(',', "1,\"a\n2,\"b\n3,\"c\n4,d\n",
           "BAD 1 " REREAD_TEXT FROM(1, 2) "\nBAD 2 " REREAD_TEXT FROM(2, 3) "\nBAD 3 " REREAD_EOF
           FROM(3, 4) "\n4:[4][d]\n");
    /* closed before a delimiter: the cell count gives it away */
    csv_counted(',', 2, "h,r\n1,\"x\n2,\",y\n3,z\n",
                "1:[h][r]\nREREAD 2 (3 cells) from 3\nBAD 3 " REREAD_EOF FROM(3, 4) "\n4:[3][z]\n");
    /* a well-formed field over lines with the header's count stands */
    csv_counted(',', 2, "h,r\n1,\"x\ny\"\n2,z\n", "1:[h][r]\n2:[1][x\ny]\n4:[2][z]\n");
    /* longer than the record limit (64 here): its lines are read again too */
    csv_is(',', "1,\"a\n2,y\n3,y\n4,y\n5,y\n6,y\n7,y\n8,y\n9,y\n10,y\n11,y\n12,y\n13,y\n14,y\n15,y\n16,y\n17,y\n",
           "BAD 1 " REREAD_LONG FROM(1, 2) "\n2:[2][y]\n3:[3][y]\n4:[4][y]\n5:[5][y]\n6:[6][y]\n"
           "7:[7][y]\n8:[8][y]\n9:[9][y]\n10:[10][y]\n11:[11][y]\n12:[12][y]\n13:[13][y]\n"
           "14:[14][y]\n15:[15][y]\n16:[16][y]\n17:[17][y]\n");
    csv_is(',', "a,0123456789012345678901234567890123456789012345678901234567890123456789\nb\n",
           "BAD 1 record too long or unreadable (missing quote?)\n2:[b]\n");
}

static void test_patterns(void **state)
{
    char *p = bs_pattern_expand("AXIS_RECON_{YYYYMMDD}*.csv", "2025-10-02");
    assert_string_equal(p, "AXIS_RECON_20251002*.csv");
    assert_true(bs_pattern_match(p, "AXIS_RECON_20251002.csv"));
    assert_true(bs_pattern_match(p, "AXIS_RECON_20251002_2.csv"));
    assert_false(bs_pattern_match(p, "AXIS_RECON_20251003.csv"));
    assert_false(bs_pattern_match(p, "xAXIS_RECON_20251002.csv"));
    free(p);
    p = bs_pattern_expand("HDFC_{DDMMMYYYY}_{SEQ}.xlsx", "2025-10-02");
    char *shown = bs_pattern_display(p);
    assert_string_equal(shown, "HDFC_02OCT2025_{SEQ}.xlsx");
    free(shown);
    assert_true(bs_pattern_match(p, "HDFC_02OCT2025_1.xlsx"));
    assert_true(bs_pattern_match(p, "HDFC_02OCT2025_12.xlsx"));
    assert_false(bs_pattern_match(p, "HDFC_02OCT2025_.xlsx"));
    assert_false(bs_pattern_match(p, "HDFC_02OCT2025_1a.xlsx"));
    free(p);
    p = bs_pattern_expand("B_{YYMMDD}_{DD-MM-YYYY}_{DDMMYYYY}_{YYYY-MM-DD}.txt", "2025-01-09");
    assert_string_equal(p, "B_250109_09-01-2025_09012025_2025-01-09.txt");
    free(p);
    assert_null(bs_pattern_expand("x", "2025-02-30"));
    assert_true(bs_pattern_match("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
    assert_false(bs_pattern_match("*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    assert_true(bs_is_temp_name("X.csv.part"));
    assert_true(bs_is_temp_name("X.csv.filepart"));
    assert_true(bs_is_temp_name("X.TMP"));
    assert_false(bs_is_temp_name("X.csv"));
    assert_true(bs_is_sidecar("X.csv.sha256", NULL));
    assert_true(bs_is_sidecar("X.csv.ok", ".ok"));
    assert_false(bs_is_sidecar("X.csv", ".ok"));
    assert_true(bs_natural_cmp("F_2.csv", "F_10.csv") < 0);
    assert_true(bs_natural_cmp("F_10.csv", "F_10.csv") == 0);
    /* names that differ only in leading zeros are still two names, in a
     * fixed order: equal, qsort put them either way round, and which
     * file's rows won a key both hold changed from run to run */
    assert_true(bs_natural_cmp("F_02.csv", "F_2.csv") != 0);
    assert_true(bs_natural_cmp("F_02.csv", "F_2.csv") == -bs_natural_cmp("F_2.csv", "F_02.csv"));
    assert_true(bs_natural_cmp("F_02.csv", "F_3.csv") < 0);
}

/* ---- whole files through the reader and the mapper ---- */

static char tmpdir[] = "/tmp/bank_sftp_parsers.XXXXXX";

static int make_tmpdir(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *tmp_path(const char *name)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
    return p;
}

static char *write_text(const char *name, const char *text)
{
    char *path = tmp_path(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return path;
}

static void add_member(zip_t *z, const char *name, const char *text)
{
    zip_source_t *src = zip_source_buffer(z, text, strlen(text), 0);
    assert_non_null(src);
    assert_true(zip_file_add(z, name, src, ZIP_FL_OVERWRITE) >= 0);
}

static void append(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(char **out, const char *fmt, ...)
{
    char *add = NULL;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&add, fmt, ap) >= 0);
    va_end(ap);
    size_t have = *out ? strlen(*out) : 0;
    char *n = realloc(*out, have + strlen(add) + 1);
    assert_non_null(n);
    memcpy(n + have, add, strlen(add) + 1);
    *out = n;
    free(add);
}

/* One sheet of a generated workbook: its name, its state attribute in
 * xl/workbook.xml ("hidden", "veryHidden" or NULL for none), its kind
 * ("worksheet", "chartsheet"; NULL is a worksheet) and its rows. */
typedef struct xsheet {
    const char *name, *state, *kind, *data;
} xsheet;

/* A workbook written member by member so that a test says exactly what
 * the XML holds: workbook_pr is the <workbookPr/> element or "", each
 * sheet's rows are inline strings, numbers, cells left out. */
static char *write_xlsx_sheets(const char *name, const char *workbook_pr, const xsheet *sh,
                               size_t n)
{
    char *path = tmp_path(name);
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    char *sheets = strdup(""), *rels = strdup(""), *types = strdup("");
    char **parts = calloc(n, sizeof *parts);
    assert_non_null(parts);
    for (size_t i = 0; i < n; i++) {
        const char *kind = sh[i].kind ? sh[i].kind : "worksheet";
        append(&sheets, "<sheet name=\"%s\" sheetId=\"%zu\"%s%s%s r:id=\"rId%zu\"/>", sh[i].name,
               i + 1, sh[i].state ? " state=\"" : "", sh[i].state ? sh[i].state : "",
               sh[i].state ? "\"" : "", i + 1);
        append(&rels,
               "<Relationship Id=\"rId%zu\" Type=\"http://schemas.openxmlformats.org/"
               "officeDocument/2006/relationships/%s\" Target=\"%ss/sheet%zu.xml\"/>",
               i + 1, kind, kind, i + 1);
        append(&types,
               "<Override PartName=\"/xl/%ss/sheet%zu.xml\" ContentType=\"application/"
               "vnd.openxmlformats-officedocument.spreadsheetml.%s+xml\"/>",
               kind, i + 1, kind);
        assert_true(asprintf(&parts[i],
                             "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                             "<%s xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
                             "<sheetData>%s</sheetData></%s>",
                             kind, sh[i].data ? sh[i].data : "", kind) > 0);
        char *member = NULL;
        assert_true(asprintf(&member, "xl/%ss/sheet%zu.xml", kind, i + 1) > 0);
        add_member(z, member, parts[i]);
        free(member);
    }
    char *wb = NULL, *ct = NULL, *wbrels = NULL;
    assert_true(asprintf(&wb,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                         "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\""
                         " xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">"
                         "%s<sheets>%s</sheets></workbook>",
                         workbook_pr, sheets) > 0);
    assert_true(asprintf(&ct,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                         "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
                         "<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/"
                         "vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>%s</Types>",
                         types) > 0);
    assert_true(asprintf(&wbrels,
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                         "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/"
                         "relationships\">%s</Relationships>",
                         rels) > 0);
    add_member(z, "[Content_Types].xml", ct);
    add_member(z, "xl/workbook.xml", wb);
    add_member(z, "xl/_rels/workbook.xml.rels", wbrels);
    assert_int_equal(zip_close(z), 0); /* the sources are read here */
    for (size_t i = 0; i < n; i++)
        free(parts[i]);
    free(parts);
    free(wb);
    free(ct);
    free(wbrels);
    free(sheets);
    free(rels);
    free(types);
    return path;
}

/* A workbook of one sheet. */
static char *write_xlsx(const char *name, const char *workbook_pr, const char *sheet_data)
{
    xsheet one = {"Sheet1", NULL, NULL, sheet_data};
    return write_xlsx_sheets(name, workbook_pr, &one, 1);
}

static void no_problem(void *ud, const char *path, const char *msg)
{
    (void)ud;
    fail_msg("format refused: %s %s", path, msg);
}

/* What a file gave: the host's records and record errors, one line each. */
typedef struct loaded {
    cd_mock_host *host;
    int rc;
    char *why;
    char *records; /* "bank_ref|amount_paise|debit_credit|transaction_date|remarks\n"... */
    char *errors;  /* "row_ref reason\n"... */
} loaded;

static void loaded_free(loaded *l)
{
    cd_mock_free(l->host);
    free(l->why);
    free(l->records);
    free(l->errors);
}

static const char *or_empty(const char *s) { return s ? s : ""; }

/* Reads path with the format in format_json, as a run of the driver does. */
static loaded load_file(const char *format_json, const char *path)
{
    loaded l = {0};
    json_error_t jerr;
    json_t *cfg = json_loads(format_json, 0, &jerr);
    if (!cfg)
        fail_msg("test format is not JSON: %s", jerr.text);
    bs_format f;
    assert_int_equal(bs_format_load(cfg, &f, no_problem, NULL), 0);
    json_decref(cfg);
    l.host = cd_mock_new();
    assert_non_null(l.host);
    const cd_host_api *api = cd_mock_api(l.host);
    cd_run *run = cd_mock_run(l.host);
    assert_int_equal(api->records_begin(run, bs_record_columns, bs_record_ncolumns), CD_OK);
    const char *base = strrchr(path, '/') + 1;
    bs_mapper *m = bs_mapper_new(&f, api, run, base, "TEST BANK", "run:1");
    assert_non_null(m);
    l.rc = bs_read_file(path, &f, m, &l.why);
    bs_mapper_free(m);
    bs_format_free(&f);
    l.records = strdup("");
    l.errors = strdup("");
    for (size_t i = 0; i < cd_mock_record_count(l.host); i++)
        append(&l.records, "%s|%s|%s|%s|%s\n", or_empty(cd_mock_record_value(l.host, i, "bank_ref")),
               or_empty(cd_mock_record_value(l.host, i, "amount_paise")),
               or_empty(cd_mock_record_value(l.host, i, "debit_credit")),
               or_empty(cd_mock_record_value(l.host, i, "transaction_date")),
               or_empty(cd_mock_record_value(l.host, i, "remarks")));
    for (size_t i = 0; i < cd_mock_record_error_count(l.host); i++)
        append(&l.errors, "%s %s\n", cd_mock_record_error_ref(l.host, i),
               cd_mock_record_error_reason(l.host, i));
    return l;
}

#define ISTR(ref, s) "<c r=\"" ref "\" t=\"inlineStr\"><is><t>" s "</t></is></c>"
#define NUM(ref, v) "<c r=\"" ref "\"><v>" v "</v></c>"

/* A credit/debit sheet whose rows leave out their empty trailing cells, as
 * Excel writes them, with a footer row to skip: the row held back for the
 * footer has fewer cells than the Debit column's index. */
static void test_xlsx_short_rows_footer(void **state)
{
    (void)state;
    char *path = write_xlsx(
        "short_rows.xlsx", "",
        "<row r=\"1\">" ISTR("A1", "Ref") ISTR("B1", "Date") ISTR("C1", "Credit") ISTR("D1", "Debit") "</row>"
        "<row r=\"2\">" ISTR("A2", "R1") NUM("B2", "45932") NUM("C2", "100") "</row>"
        "<row r=\"3\">" ISTR("A3", "R2") NUM("B3", "45932") NUM("D3", "50.5") "</row>"
        "<row r=\"4\">" ISTR("A4", "R3") NUM("B4", "45933") NUM("C4", "7") "</row>"
        "<row r=\"5\">" ISTR("A5", "Total") "</row>");
    loaded l = load_file("{\"format\": {\"type\": \"xlsx\", \"skip_footer_rows\": 1, \"columns\":"
                         " {\"bank_ref\": \"Ref\", \"transaction_date\": \"Date\","
                         " \"credit\": \"Credit\", \"debit\": \"Debit\"}}}",
                         path);
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|10000|CR|2025-10-02|\n"
                                   "R2|5050|DR|2025-10-02|\n"
                                   "R3|700|CR|2025-10-03|\n");
    assert_string_equal(l.errors, "");
    loaded_free(&l);
    free(path);
}

/* A workbook saved in the 1904 date system: its serials count from
 * 1904-01-01, 1462 days fewer than the same day's 1900 serial; also in a
 * row held back for the footer. */
static void test_xlsx_1904(void **state)
{
    (void)state;
    const char *rows =
        "<row r=\"1\">" ISTR("A1", "Ref") ISTR("B1", "Amount") ISTR("C1", "Date") "</row>"
        "<row r=\"2\">" ISTR("A2", "R1") NUM("B2", "100") NUM("C2", "44470") "</row>"
        "<row r=\"3\">" ISTR("A3", "R2") NUM("B3", "200") NUM("C3", "44469.999999999993") "</row>"
        "<row r=\"4\">" ISTR("A4", "R3") NUM("B4", "300") ISTR("C4", "03-10-2025") "</row>"
        "<row r=\"5\">" ISTR("A5", "Total") NUM("B5", "600") "</row>";
    const char *fmt = "{\"format\": {\"type\": \"xlsx\", \"skip_footer_rows\": 1, \"columns\":"
                      " {\"bank_ref\": \"Ref\", \"amount\": \"Amount\", \"transaction_date\": \"Date\"}}}";
    static const struct {
        const char *pr, *want;
    } cases[] = {
        {"<workbookPr date1904=\"1\"/>",
         "R1|10000||2025-10-02|\nR2|20000||2025-10-02|\nR3|30000||2025-10-03|\n"},
        {"<workbookPr defaultThemeVersion=\"166925\" date1904=\"true\"/>",
         "R1|10000||2025-10-02|\nR2|20000||2025-10-02|\nR3|30000||2025-10-03|\n"},
        {"<workbookPr date1904=\"false\"/>",
         "R1|10000||2021-10-01|\nR2|20000||2021-10-01|\nR3|30000||2025-10-03|\n"},
        {"", "R1|10000||2021-10-01|\nR2|20000||2021-10-01|\nR3|30000||2025-10-03|\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = write_xlsx("dates.xlsx", cases[i].pr, rows);
        loaded l = load_file(fmt, path);
        assert_int_equal(l.rc, CD_OK);
        if (strcmp(l.records, cases[i].want) != 0)
            fail_msg("%s:\n%s\nwanted:\n%s", cases[i].pr, l.records, cases[i].want);
        assert_string_equal(l.errors, "");
        loaded_free(&l);
        free(path);
    }
}

/* A date-time at midnight stored a hair below its day, in a 1900 workbook. */
static void test_xlsx_datetime_midnight(void **state)
{
    (void)state;
    char *path = write_xlsx(
        "midnight.xlsx", "",
        "<row r=\"1\">" ISTR("A1", "Ref") ISTR("B1", "Amount") ISTR("C1", "Date") "</row>"
        "<row r=\"2\">" ISTR("A2", "R1") NUM("B2", "1") NUM("C2", "45931.999999999993") "</row>"
        "<row r=\"3\">" ISTR("A3", "R2") NUM("B3", "2") NUM("C3", "45932.604166666664") "</row>");
    loaded l = load_file("{\"format\": {\"type\": \"xlsx\", \"columns\": {\"bank_ref\": \"Ref\","
                         " \"amount\": \"Amount\", \"transaction_date\": \"Date\"}}}",
                         path);
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|100||2025-10-02|\nR2|200||2025-10-02|\n");
    loaded_free(&l);
    free(path);
}

/* References in number cells, as a writer that stores them as doubles
 * writes them: "12345.0" and "1.23456789012E11" are those integers; a
 * mantissa of 17 digits has lost the reference's last digits, and two
 * references could load as one key. */
static void test_xlsx_numeric_refs(void **state)
{
    (void)state;
    char *path = write_xlsx(
        "refs.xlsx", "",
        "<row r=\"1\">" ISTR("A1", "Ref") ISTR("B1", "Amount") ISTR("C1", "Date") ISTR("D1", "UTR") "</row>"
        "<row r=\"2\">" NUM("A2", "12345.0") NUM("B2", "1") NUM("C2", "45932") NUM("D2", "512345678901") "</row>"
        "<row r=\"3\">" NUM("A3", "1.23456789012E+11") NUM("B3", "2") NUM("C3", "45932") NUM("D3", "5.12345678902E11") "</row>"
        "<row r=\"4\">" NUM("A4", "1.2345678901234568E+17") NUM("B4", "3") NUM("C4", "45932") "</row>"
        "<row r=\"5\">" NUM("A5", "1.2345678901234569E+17") NUM("B5", "4") NUM("C5", "45932") "</row>"
        "<row r=\"6\">" ISTR("A6", "1.2345678901234568E+17") NUM("B6", "5") NUM("C6", "45932") "</row>"
        "<row r=\"7\">" NUM("A7", "77") NUM("B7", "6") NUM("C7", "45932") NUM("D7", "9.9999999999999999E+21") "</row>");
    loaded l = load_file("{\"format\": {\"type\": \"xlsx\", \"columns\": {\"bank_ref\": \"Ref\","
                         " \"amount\": \"Amount\", \"transaction_date\": \"Date\", \"utr\": \"UTR\"}}}",
                         path);
    assert_int_equal(l.rc, CD_OK);
    /* text cells are the bank's own text */
    assert_string_equal(l.records, "12345|100||2025-10-02|\n"
                                   "123456789012|200||2025-10-02|\n"
                                   "1.2345678901234568E+17|500||2025-10-02|\n");
    assert_non_null(strstr(l.errors, "refs.xlsx:4 bank_ref: '1.2345678901234568E+17' in column Ref "
                                     "is a number with more than 15 significant digits"));
    assert_non_null(strstr(l.errors, "refs.xlsx:5 bank_ref:"));
    assert_non_null(strstr(l.errors, "refs.xlsx:7 utr: '9.9999999999999999E+21'"));
    assert_int_equal(cd_mock_record_count(l.host), 3);
    assert_string_equal(cd_mock_record_value(l.host, 1, "utr"), "512345678902");
    assert_string_equal(cd_mock_record_value(l.host, 0, "utr"), "512345678901");
    loaded_free(&l);
    free(path);
}

/* A workbook whose first sheet is hidden (a lookup or macro sheet a bank's
 * template keeps in front): without `sheet`, the first visible worksheet
 * is read, not the hidden one; a chart sheet is passed over too. A `sheet`
 * naming a hidden sheet still reads it, and says so in the log. */
static void test_xlsx_hidden_first_sheet(void **state)
{
    (void)state;
    const char *lookup = "<row r=\"1\">" ISTR("A1", "Code") ISTR("B1", "Bank") "</row>"
                         "<row r=\"2\">" ISTR("A2", "AX") ISTR("B2", "Axis") "</row>";
    const char *data =
        "<row r=\"1\">" ISTR("A1", "Ref") ISTR("B1", "Amount") ISTR("C1", "Date") "</row>"
        "<row r=\"2\">" ISTR("A2", "R1") NUM("B2", "100") NUM("C2", "45932") "</row>";
    const char *hidden_data =
        "<row r=\"1\">" ISTR("A1", "Ref") ISTR("B1", "Amount") ISTR("C1", "Date") "</row>"
        "<row r=\"2\">" ISTR("A2", "OLD") NUM("B2", "1") NUM("C2", "45931") "</row>";
    const char *fmt = "{\"format\": {\"type\": \"xlsx\", \"columns\": {\"bank_ref\": \"Ref\","
                      " \"amount\": \"Amount\", \"transaction_date\": \"Date\"}}}";
    static const char *const states[] = {"hidden", "veryHidden"};
    for (size_t i = 0; i < 2; i++) {
        xsheet sh[] = {{"Lookup", states[i], NULL, lookup},
                       {"Chart1", NULL, "chartsheet", NULL},
                       {"Statement", NULL, NULL, data}};
        char *path = write_xlsx_sheets("hidden.xlsx", "", sh, 3);
        loaded l = load_file(fmt, path);
        if (l.rc != CD_OK)
            fail_msg("%s: rc %d (%s)", states[i], l.rc, l.why ? l.why : "");
        assert_string_equal(l.records, "R1|10000||2025-10-02|\n");
        assert_string_equal(l.errors, "");
        assert_true(cd_mock_log_contains(l.host, "hidden.xlsx: sheet \"Lookup\" is hidden"));
        assert_true(cd_mock_log_contains(l.host, "reading sheet \"Statement\""));
        loaded_free(&l);
        free(path);
    }
    /* the sheet named in the format, hidden: read as configured */
    xsheet sh[] = {{"Statement", NULL, NULL, data}, {"Old", "hidden", NULL, hidden_data}};
    char *path = write_xlsx_sheets("named.xlsx", "", sh, 2);
    loaded l = load_file("{\"format\": {\"type\": \"xlsx\", \"sheet\": \"Old\", \"columns\":"
                         " {\"bank_ref\": \"Ref\", \"amount\": \"Amount\", \"transaction_date\": \"Date\"}}}",
                         path);
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "OLD|100||2025-10-01|\n");
    assert_true(cd_mock_log_contains(l.host, "named.xlsx: sheet \"Old\" (named by the format) is hidden"));
    loaded_free(&l);
    /* sheet names without regard to case, as Excel's are: "old" is "Old" */
    l = load_file("{\"format\": {\"type\": \"xlsx\", \"sheet\": \"OLD\", \"columns\":"
                  " {\"bank_ref\": \"Ref\", \"amount\": \"Amount\", \"transaction_date\": \"Date\"}}}",
                  path);
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "OLD|100||2025-10-01|\n");
    loaded_free(&l);
    /* a visible first sheet: read as before, nothing logged about sheets */
    l = load_file(fmt, path);
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|10000||2025-10-02|\n");
    assert_false(cd_mock_log_contains(l.host, "hidden"));
    loaded_free(&l);
    free(path);
}

/* Shared strings in a part not named xl/sharedStrings.xml, as some
 * reporting systems write them ("xl/SharedStrings.xml"): the workbook's
 * relationships name the part, and zip names are matched without case
 * when the exact one is missing. Read from xl/sharedStrings.xml only,
 * every text cell was "shared string 0 does not exist" and the file
 * failed. */
static void test_xlsx_shared_strings_part(void **state)
{
    (void)state;
    static const struct {
        const char *member, *rel; /* rel NULL: no relationship for it */
    } cases[] = {
        {"xl/SharedStrings.xml", "SharedStrings.xml"},
        {"xl/SharedStrings.xml", NULL},
        {"xl/strings/sst1.xml", "/xl/strings/sst1.xml"},
        {"xl/sharedStrings.xml", "sharedStrings.xml"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *path = tmp_path("sst.xlsx");
        int err = 0;
        zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
        assert_non_null(z);
        add_member(z, "xl/workbook.xml",
                   "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\""
                   " xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">"
                   "<sheets><sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>");
        char *rels = NULL;
        assert_true(asprintf(&rels,
                             "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/"
                             "relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas."
                             "openxmlformats.org/officeDocument/2006/relationships/worksheet\" "
                             "Target=\"worksheets/sheet1.xml\"/>%s%s%s</Relationships>",
                             cases[k].rel ? "<Relationship Id=\"rId9\" Type=\"http://schemas."
                                            "openxmlformats.org/officeDocument/2006/relationships/"
                                            "sharedStrings\" Target=\""
                                          : "",
                             cases[k].rel ? cases[k].rel : "", cases[k].rel ? "\"/>" : "") > 0);
        add_member(z, "xl/_rels/workbook.xml.rels", rels);
        add_member(z, "xl/worksheets/sheet1.xml",
                   "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
                   "<sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\">"
                   "<v>1</v></c><c r=\"C1\" t=\"s\"><v>2</v></c></row>"
                   "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>3</v></c>" NUM("B2", "12.5")
                   NUM("C2", "45932") "</row></sheetData></worksheet>");
        add_member(z, cases[k].member,
                   "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
                   "<si><t>Ref</t></si><si><t>Amount</t></si><si><t>Date</t></si>"
                   "<si><t>S1</t></si></sst>");
        assert_int_equal(zip_close(z), 0);
        free(rels);
        loaded l = load_file("{\"format\": {\"type\": \"xlsx\", \"columns\": {\"bank_ref\":"
                             " \"Ref\", \"amount\": \"Amount\", \"transaction_date\": \"Date\"}}}",
                             path);
        if (l.rc != CD_OK)
            fail_msg("%s: rc %d (%s)", cases[k].member, l.rc, l.why ? l.why : "");
        assert_string_equal(l.records, "S1|1250||2025-10-02|\n");
        loaded_free(&l);
        free(path);
    }
}

#define CSV_FMT "{\"format\": {\"type\": \"csv\", %s\"columns\": {\"bank_ref\": \"ref\"," \
                " \"amount\": \"amount\", \"transaction_date\": \"date\", \"remarks\": \"remarks\"}}}"

static loaded load_csv(const char *name, const char *extra_format, const char *text)
{
    char *path = write_text(name, text);
    char *fmt = NULL;
    assert_true(asprintf(&fmt, CSV_FMT, extra_format) > 0);
    loaded l = load_file(fmt, path);
    free(fmt);
    free(path);
    return l;
}

/* Credit and debit columns: a debit may be written negative, a negative or
 * Dr credit is a reversal, refused rather than loaded as a credit. */
static void test_credit_debit_sign(void **state)
{
    (void)state;
    char *path = write_text("cd.csv", "Ref,Date,Credit,Debit\n"
                                      "R1,02-10-2025,-500.00,\n"
                                      "R2,02-10-2025,250.00,\n"
                                      "R3,02-10-2025,,-75.00\n"
                                      "R4,02-10-2025,10.00 Dr,\n"
                                      "R5,02-10-2025,,20.00 Cr\n");
    loaded l = load_file("{\"format\": {\"type\": \"csv\", \"date_format\": \"dd-MM-yyyy\","
                         " \"columns\": {\"bank_ref\": \"Ref\", \"transaction_date\": \"Date\","
                         " \"credit\": \"Credit\", \"debit\": \"Debit\"}}}",
                         path);
    free(path);
    assert_string_equal(l.records, "R2|25000|CR|2025-10-02|\nR3|7500|DR|2025-10-02|\n");
    assert_non_null(strstr(l.errors, "credit: '-500.00' in column Credit is negative or marked Dr"));
    assert_non_null(strstr(l.errors, "credit: '10.00 Dr'"));
    assert_non_null(strstr(l.errors, "debit: '20.00 Cr' in column Debit is marked Cr"));
    loaded_free(&l);
}

/* A spreadsheet's accounting format writes zero as "-": in a credit or
 * debit column that is the side a row does not use. Every row of such a
 * file was refused as "'-' is not an amount". */
static void test_credit_debit_dash(void **state)
{
    (void)state;
    char *path = write_text("cdd.csv", "Ref,Date,Credit,Debit\n"
                                       "D1,02-10-2025,250.00,-\n"
                                       "D2,02-10-2025, - ,75.00\n"
                                       "D3,02-10-2025,-,-\n"
                                       "D4,02-10-2025,\xe2\x80\x93,5.00\n"
                                       "D5,02-10-2025,--,5.00\n");
    loaded l = load_file("{\"format\": {\"type\": \"csv\", \"date_format\": \"dd-MM-yyyy\","
                         " \"columns\": {\"bank_ref\": \"Ref\", \"transaction_date\": \"Date\","
                         " \"credit\": \"Credit\", \"debit\": \"Debit\"}}}",
                         path);
    free(path);
    assert_string_equal(l.records, "D1|25000|CR|2025-10-02|\nD2|7500|DR|2025-10-02|\n"
                                   "D4|500|DR|2025-10-02|\n");
    assert_non_null(strstr(l.errors, "neither credit nor debit is set"));
    assert_non_null(strstr(l.errors, "credit: '--'"));
    loaded_free(&l);
}

/* A lone dash in an optional column (net_amount, value_date) is "none", as
 * a spreadsheet's accounting format or a report writes it for an unsettled
 * row: the row loads without that value. Refused, the whole transaction
 * was lost to reconciliation over a column it does not need. A dash in
 * the required amount or transaction_date is still an error. */
static void test_optional_dash(void **state)
{
    (void)state;
    char *path = write_text("opt.csv", "Ref,Date,Amount,Net,Settled\n"
                                       "O1,02-10-2025,100.00,-,-\n"
                                       "O2,02-10-2025,200.00,\xe2\x80\x93,03-10-2025\n"
                                       "O3,02-10-2025,300.00,299.00, - \n"
                                       "O4,-,400.00,399.00,03-10-2025\n"
                                       "O5,02-10-2025,-,1.00,03-10-2025\n");
    loaded l = load_file("{\"format\": {\"type\": \"csv\", \"date_format\": \"dd-MM-yyyy\","
                         " \"columns\": {\"bank_ref\": \"Ref\", \"transaction_date\": \"Date\","
                         " \"amount\": \"Amount\", \"net_amount\": \"Net\", \"value_date\": \"Settled\"}}}",
                         path);
    free(path);
    assert_string_equal(l.records, "O1|10000||2025-10-02|\nO2|20000||2025-10-02|\n"
                                   "O3|30000||2025-10-02|\n");
    assert_null(cd_mock_record_value(l.host, 0, "net_amount_paise"));
    assert_null(cd_mock_record_value(l.host, 0, "value_date"));
    assert_string_equal(cd_mock_record_value(l.host, 1, "value_date"), "2025-10-03");
    assert_string_equal(cd_mock_record_value(l.host, 2, "net_amount_paise"), "29900");
    assert_non_null(strstr(l.errors, "opt.csv:5 transaction_date: '-'"));
    assert_non_null(strstr(l.errors, "opt.csv:6 amount: '-'"));
    loaded_free(&l);
}

/* A Dr/Cr indicator column that disagrees with the amount's own direction
 * is a record error: "-100.00" marked C loaded as a credit of 100. */
static void test_dc_column_disagrees(void **state)
{
    (void)state;
    char *path = write_text("dc.csv", "Ref,Date,Amount,Type\n"
                                      "R1,02-10-2025,100.00,C\n"
                                      "R2,02-10-2025,100.00,D\n"
                                      "R3,02-10-2025,-100.00,C\n"
                                      "R4,02-10-2025,-100.00,Dr\n"
                                      "R5,02-10-2025,100.00 Cr,debit\n"
                                      "R6,02-10-2025,(100.00),credit\n"
                                      "R7,02-10-2025,-100.00,REV\n"
                                      "R8,02-10-2025,5.00,Dr.\n"
                                      "R9,02-10-2025,6.00,cr.\n"
                                      "R10,02-10-2025,7.00,NEFT\n");
    loaded l = load_file("{\"format\": {\"type\": \"csv\", \"date_format\": \"dd-MM-yyyy\","
                         " \"columns\": {\"bank_ref\": \"Ref\", \"transaction_date\": \"Date\","
                         " \"amount\": \"Amount\", \"debit_credit\": \"Type\"}}}",
                         path);
    free(path);
    assert_string_equal(l.records, "R1|10000|CR|2025-10-02|\nR2|10000|DR|2025-10-02|\n"
                                   "R4|10000|DR|2025-10-02|\n"
                                   "R8|500|DR|2025-10-02|\nR9|600|CR|2025-10-02|\n"
                                   "R10|700|NEFT|2025-10-02|\n");
    /* REV kept as the indicator stored a debit of 100 as 10000 "REV" */
    assert_non_null(strstr(l.errors, "dc.csv:8 debit_credit: 'REV' in column Type is neither "
                                     "credit nor debit, and the amount is a debit"));
    assert_non_null(strstr(l.errors, "dc.csv:4 debit_credit: 'C' in column Type says credit, "
                                     "the amount says debit"));
    assert_non_null(strstr(l.errors, "dc.csv:6 debit_credit: 'debit'"));
    assert_non_null(strstr(l.errors, "dc.csv:7 debit_credit: 'credit'"));
    loaded_free(&l);

    /* credit and debit columns: the column the value is in is its direction */
    path = write_text("dc2.csv", "Ref,Date,Credit,Debit,Type\n"
                                 "R1,02-10-2025,50.00,,CR\n"
                                 "R2,02-10-2025,50.00,,DR\n"
                                 "R3,02-10-2025,,50.00,C\n");
    l = load_file("{\"format\": {\"type\": \"csv\", \"date_format\": \"dd-MM-yyyy\","
                  " \"columns\": {\"bank_ref\": \"Ref\", \"transaction_date\": \"Date\","
                  " \"credit\": \"Credit\", \"debit\": \"Debit\", \"debit_credit\": \"Type\"}}}",
                  path);
    free(path);
    assert_string_equal(l.records, "R1|5000|CR|2025-10-02|\n");
    assert_non_null(strstr(l.errors, "dc2.csv:3 debit_credit: 'DR'"));
    assert_non_null(strstr(l.errors, "dc2.csv:4 debit_credit: 'C'"));
    loaded_free(&l);
}

/* A mapped name twice in the header: the first was taken silently. */
static void test_header_twice(void **state)
{
    (void)state;
    char *path = write_text("twice.csv", "Ref,Date,Amount,Count,Amount,Count\n"
                                         "R1,02-10-2025,100.00,1,,\n"
                                         "R2,02-10-2025,,,50.00,1\n");
    loaded l = load_file("{\"format\": {\"type\": \"csv\", \"columns\": {\"bank_ref\": \"Ref\","
                         " \"transaction_date\": \"Date\", \"amount\": \"amount\"}}}",
                         path);
    free(path);
    assert_int_equal(l.rc, BS_STOP_HEADER);
    assert_string_equal(l.records, "");
    loaded_free(&l);
    /* the same name for two fields is one column, read twice: fine */
    path = write_text("shared.csv", "Ref,Date,Amount\nR1,02-10-2025,100.00\n");
    l = load_file("{\"format\": {\"type\": \"csv\", \"columns\": {\"bank_ref\": \"Ref\","
                  " \"transaction_date\": \"Date\", \"value_date\": \"Date\","
                  " \"amount\": \"Amount\"}}}",
                  path);
    free(path);
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|10000||2025-10-02|\n");
    loaded_free(&l);
}

/* A delimiter at the end of every data line but not of the header (or the
 * other way round): empty cells at the end shift nothing. Every row was a
 * record error. Cells with text beyond the header still are. */
static void test_trailing_delimiter(void **state)
{
    (void)state;
    loaded l = load_csv("trail.csv", "",
                        "ref,amount,date,remarks\n"
                        "R1,1.00,2025-10-02,a,\n"
                        "R2,2.00,2025-10-02,b,,\n"
                        "R3,3.00,2025-10-02,c\n"
                        "R4,4.00,2025-10-02,d,x\n"
                        "R5,5.00,2025-10-02\n");
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|100||2025-10-02|a\nR2|200||2025-10-02|b\n"
                                   "R3|300||2025-10-02|c\n");
    assert_string_equal(l.errors, "trail.csv:5 has 5 columns, the header has 4\n"
                                  "trail.csv:6 has 3 columns, the header has 4\n");
    loaded_free(&l);
    l = load_csv("trail2.csv", "",
                 "ref,amount,date,remarks,\n"
                 "R1,1.00,2025-10-02,a\n"
                 "R2,2.00,2025-10-02,b,\n");
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|100||2025-10-02|a\nR2|200||2025-10-02|b\n");
    assert_string_equal(l.errors, "");
    loaded_free(&l);
}

/* Empty lines before the header are skipped, as the README says: ",,,"
 * lines and an XLSX row of styled empty cells as well. They were taken
 * for the header, and the file failed. */
static void test_blank_before_header(void **state)
{
    (void)state;
    loaded l = load_csv("lead.csv", "", ",,,\n \n\nref,amount,date,remarks\nR1,1.00,2025-10-02,a\n");
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|100||2025-10-02|a\n");
    loaded_free(&l);
    char *path = write_xlsx(
        "lead.xlsx", "",
        "<row r=\"1\"><c r=\"A1\" s=\"1\"/><c r=\"B1\" s=\"1\"></c></row>"
        "<row r=\"2\">" ISTR("A2", "Ref") ISTR("B2", "Amount") ISTR("C2", "Date") "</row>"
        "<row r=\"3\">" ISTR("A3", "R1") NUM("B3", "1") NUM("C3", "45932") "</row>");
    l = load_file("{\"format\": {\"type\": \"xlsx\", \"columns\": {\"bank_ref\": \"Ref\","
                  " \"amount\": \"Amount\", \"transaction_date\": \"Date\"}}}",
                  path);
    free(path);
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|100||2025-10-02|\n");
    loaded_free(&l);
}

/* No-break spaces around values (spreadsheet and web exports): trimmed as
 * blanks are, so that a reference matches and a header is found. */
static void test_nbsp_trimmed(void **state)
{
    (void)state;
    loaded l = load_csv("nbsp.csv", "",
                        "ref,amount\xC2\xA0,date,remarks\n"
                        "\xC2\xA0R1\xC2\xA0,1.00,2025-10-02\xC2\xA0,a\xC2\xA0" "b\xC2\xA0\n");
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|100||2025-10-02|a\xC2\xA0" "b\n");
    assert_string_equal(l.errors, "");
    loaded_free(&l);
}

/* A lookup that found nothing leaves #N/A in the reference column: as an
 * XLSX error cell, or as the text a CSV export writes. Loaded, every such
 * row had the key "#N/A" and replaced the one before. */
static void test_sheet_error_refs(void **state)
{
    (void)state;
    char *path = write_xlsx(
        "err.xlsx", "",
        "<row r=\"1\">" ISTR("A1", "Ref") ISTR("B1", "Amount") ISTR("C1", "Date") ISTR("D1", "RRN") "</row>"
        "<row r=\"2\"><c r=\"A2\" t=\"e\"><f>VLOOKUP(X2,S!A:B,2,0)</f><v>#N/A</v></c>" NUM("B2", "1") NUM("C2", "45932") "</row>"
        "<row r=\"3\"><c r=\"A3\" t=\"e\"><v>#N/A</v></c>" NUM("B3", "2") NUM("C3", "45932") "</row>"
        "<row r=\"4\">" ISTR("A4", "R4") NUM("B4", "3") NUM("C4", "45932") "<c r=\"D4\" t=\"e\"><v>#REF!</v></c></row>"
        "<row r=\"5\">" ISTR("A5", "R5") NUM("B5", "4") NUM("C5", "45932") ISTR("D5", "RRN5") "</row>");
    loaded l = load_file("{\"format\": {\"type\": \"xlsx\", \"columns\": {\"bank_ref\": \"Ref\","
                         " \"amount\": \"Amount\", \"transaction_date\": \"Date\", \"rrn\": \"RRN\"}}}",
                         path);
    free(path);
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R5|400||2025-10-02|\n");
    assert_non_null(strstr(l.errors, "err.xlsx:2 bank_ref: the cell in column Ref holds the "
                                     "spreadsheet error #N/A, not a reference"));
    assert_non_null(strstr(l.errors, "err.xlsx:3 bank_ref:"));
    assert_non_null(strstr(l.errors, "err.xlsx:4 rrn: the cell in column RRN holds the "
                                     "spreadsheet error #REF!"));
    loaded_free(&l);
    l = load_csv("err.csv", "", "ref,amount,date,remarks\n#N/A,1.00,2025-10-02,#N/A\nR2,2.00,2025-10-02,x\n");
    assert_string_equal(l.records, "R2|200||2025-10-02|x\n");
    assert_non_null(strstr(l.errors, "err.csv:2 bank_ref: the cell in column ref holds the "
                                     "spreadsheet error #N/A"));
    loaded_free(&l);
}

/* ddMMyy dates in a CSV with the templates' dd-MM-yyyy: record errors, not
 * serials of 1957. */
static void test_csv_compact_dates(void **state)
{
    (void)state;
    loaded l = load_csv("compact.csv", "\"date_format\": \"dd-MM-yyyy\", ",
                        "ref,amount,date,remarks\n"
                        "R1,1.00,021025,x\n"
                        "R2,2.00,45932,serial\n");
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R2|200||2025-10-02|serial\n");
    assert_non_null(strstr(l.errors, "compact.csv:2 transaction_date: '021025' does not match"));
    loaded_free(&l);
}

/* A timestamp that names its zone is an instant: its business date is the
 * connector's local day of it (Asia/Kolkata here), not the day in its text.
 * "2025-10-02T20:00:00Z" is 2025-10-03 01:30 in India; read as written it
 * loaded on the day before. A local time (no zone) is its own day. */
static void test_dates_with_offset(void **state)
{
    (void)state;
    loaded l = load_csv("utc.csv", "",
                        "ref,amount,date,remarks\n"
                        "R1,1.00,2025-10-02T20:00:00Z,utc evening\n"
                        "R2,2.00,2025-10-02T17:00:00Z,utc afternoon\n"
                        "R3,3.00,2025-10-02 23:30:00+05:30,ist\n"
                        "R4,4.00,2025-10-02T23:30:00,local\n"
                        "R5,5.00,2025-10-02T22:00:00-04:00,new york\n");
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|100||2025-10-03|utc evening\n"
                                   "R2|200||2025-10-02|utc afternoon\n"
                                   "R3|300||2025-10-02|ist\n"
                                   "R4|400||2025-10-02|local\n"
                                   "R5|500||2025-10-03|new york\n");
    assert_string_equal(l.errors, "");
    loaded_free(&l);
}

/* The reviewer's file: R1's remarks never close their quote. It took R2
 * into R1's remarks and loaded the file with R2 gone; now R1 is a record
 * error naming its line and R2 and R3 load. */
static void test_csv_file_unclosed_quote(void **state)
{
    (void)state;
    loaded l = load_csv("unclosed.csv", "",
                        "ref,amount,date,remarks\n"
                        "R1,100.00,2025-10-02,\"Payment to X\n"
                        "R2,200.00,2025-10-02,\"ok\"\n"
                        "R3,300.00,2025-10-02,fine\n");
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R2|20000||2025-10-02|ok\n"
                                   "R3|30000||2025-10-02|fine\n");
    assert_string_equal(l.errors, "unclosed.csv:2 " REREAD_TEXT FROM(2, 3) "\n");
    loaded_free(&l);

    /* closed by a quote before a delimiter on a later line: the record's
     * cell count gives it away (also with a footer held back) */
    l = load_csv("count.csv", "\"skip_footer_rows\": 1, ",
                 "ref,amount,date,remarks\n"
                 "R1,100.00,2025-10-02,\"Payment to X\n"
                 "R2,200.00,2025-10-02,\",ref\"\n"
                 "R3,300.00,2025-10-02,fine\n"
                 "TOTAL,600.00,,\n");
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R2|20000||2025-10-02|,ref\n"
                                   "R3|30000||2025-10-02|fine\n");
    assert_string_equal(l.errors, "count.csv:2 has 5 columns, the header has 4" FROM(2, 3) "\n");
    loaded_free(&l);

    /* to the end of the file */
    l = load_csv("eof.csv", "",
                 "ref,amount,date,remarks\n"
                 "R1,100.00,2025-10-02,\"Payment to X\n"
                 "R2,200.00,2025-10-02,ok\n"
                 "R3,300.00,2025-10-02,fine\n");
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R2|20000||2025-10-02|ok\n"
                                   "R3|30000||2025-10-02|fine\n");
    assert_string_equal(l.errors, "eof.csv:2 " REREAD_EOF FROM(2, 3) "\n");
    loaded_free(&l);

    /* remarks over two lines, well formed, stay one record */
    l = load_csv("multi.csv", "",
                 "ref,amount,date,remarks\n"
                 "R1,100.00,2025-10-02,\"Payment to X\n, branch 5\"\n"
                 "R2,200.00,2025-10-02,ok\n");
    assert_int_equal(l.rc, CD_OK);
    assert_string_equal(l.records, "R1|10000||2025-10-02|Payment to X\n, branch 5\n"
                                   "R2|20000||2025-10-02|ok\n");
    assert_string_equal(l.errors, "");
    loaded_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amounts),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_csv_unclosed_quote),
        cmocka_unit_test(test_credit_debit_sign),
        cmocka_unit_test(test_credit_debit_dash),
        cmocka_unit_test(test_optional_dash),
        cmocka_unit_test(test_dc_column_disagrees),
        cmocka_unit_test(test_csv_compact_dates),
        cmocka_unit_test(test_dates_with_offset),
        cmocka_unit_test(test_header_twice),
        cmocka_unit_test(test_trailing_delimiter),
        cmocka_unit_test(test_blank_before_header),
        cmocka_unit_test(test_nbsp_trimmed),
        cmocka_unit_test(test_sheet_error_refs),
        cmocka_unit_test(test_csv_chunks_agree),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_csv_file_unclosed_quote),
        cmocka_unit_test(test_xlsx_short_rows_footer),
        cmocka_unit_test(test_xlsx_1904),
        cmocka_unit_test(test_xlsx_datetime_midnight),
        cmocka_unit_test(test_xlsx_numeric_refs),
        cmocka_unit_test(test_xlsx_hidden_first_sheet),
        cmocka_unit_test(test_xlsx_shared_strings_part),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
