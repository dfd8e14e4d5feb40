/*
 * test_record_schema.c — column declarations, every row rule, and the
 * exact COPY text a good row becomes.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record_schema.h"
#include "util.h"

static const char *const bank_cols[] = {"bank_ref", "bank_name", "amount", "transaction_date",
                                        "remarks", "net_amount_paise", "net_amount"};
#define NBANK (sizeof bank_cols / sizeof bank_cols[0])

static const char *const txn_cols[] = {"transaction_id", "merchant_id", "amount_paise",
                                       "transaction_date", "currency", "merchant_name"};
#define NTXN (sizeof txn_cols / sizeof txn_cols[0])

/* Builds a layout that must succeed. */
static void layout_ok(cd_rs_layout *l, cd_dataset ds, const char *const *names, size_t n)
{
    char *err = NULL;
    if (cd_rs_layout_init(l, cd_rs_dataset_get(ds), names, n, &err) != 0)
        fail_msg("layout refused: %s", err);
}

/* Encodes a row of NUL-terminated values (NULL: no value); returns the
 * COPY line or NULL with the reason in *reason (caller frees both). */
static char *encode(const cd_rs_layout *l, const char *const *vals, const char **field,
                    char **reason)
{
    size_t lens[32];
    for (size_t i = 0; i < l->ninput; i++)
        lens[i] = vals[i] ? strlen(vals[i]) : 0;
    cd_buf out;
    cd_buf_init(&out);
    cd_buf_puts(&out, "PREV|");
    *reason = NULL;
    int rc = cd_rs_encode_row(l, 7, vals, lens, &out, field, reason);
    if (rc != 0) {
        assert_string_equal(out.data, "PREV|"); /* nothing of a bad row is left */
        cd_buf_free(&out);
        return NULL;
    }
    char *line = cd_xstrdup(out.data + 5);
    cd_buf_free(&out);
    return line;
}

/* Asserts the bank row (ref, name, amount, date, remarks, net_paise,
 * net) is rejected with exactly `want`. */
static void bank_bad(const char *const *vals, const char *want_field, const char *want)
{
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_BANK_STATEMENT, bank_cols, NBANK);
    const char *field = NULL;
    char *reason = NULL;
    char *line = encode(&l, vals, &field, &reason);
    if (line)
        fail_msg("accepted: %s", line);
    assert_string_equal(reason, want);
    assert_string_equal(field, want_field);
    free(reason);
    cd_rs_layout_free(&l);
}

static void test_layout_errors(void **state)
{
    (void)state;
    const cd_rs_dataset *ds = cd_rs_dataset_get(CD_DATASET_BANK_STATEMENT);
    cd_rs_layout l;
    char *err = NULL;
    const char *const bad[] = {"bank_ref", "bank_ref", "colour", "amount"};
    assert_int_equal(cd_rs_layout_init(&l, ds, bad, 4, &err), -1);
    assert_non_null(strstr(err, "unknown column 'colour'"));
    assert_non_null(strstr(err, "declared twice: 'bank_ref'"));
    assert_non_null(strstr(err, "'bank_name'"));
    assert_non_null(strstr(err, "'transaction_date'"));
    free(err);
    const char *const no_amount[] = {"bank_ref", "bank_name", "transaction_date"};
    assert_int_equal(cd_rs_layout_init(&l, ds, no_amount, 3, &err), -1);
    assert_non_null(strstr(err, "missing required column 'amount_paise' or 'amount'"));
    free(err);
    assert_null(cd_rs_dataset_get(CD_DATASET_CONFIGURED));
    assert_string_equal(cd_rs_dataset_get(CD_DATASET_PG_TRANSACTION)->table, "sp_v2_transactions");
}

static void test_layout_staging_columns(void **state)
{
    (void)state;
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_PG_TRANSACTION, txn_cols, NTXN);
    /* Declared columns in table order, plus the ALWAYS ones undeclared. */
    const char *want[] = {"transaction_id", "merchant_id", "amount_paise", "currency",
                          "transaction_date", "transaction_timestamp", "source_type",
                          "merchant_name"};
    assert_int_equal(l.nstage, 8);
    for (size_t k = 0; k < l.nstage; k++)
        assert_string_equal(l.stage[k].col->name, want[k]);
    assert_false(l.stage[5].declared);
    assert_false(l.stage[6].declared);
    assert_true(l.stage[3].declared);
    cd_rs_layout_free(&l);
}

static void test_good_txn_row_and_defaults(void **state)
{
    (void)state;
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_PG_TRANSACTION, txn_cols, NTXN);
    const char *field;
    char *reason;
    const char *v1[] = {"  TXN1 ", "M1", "-50", "2024-02-29", NULL, "  "};
    char *line = encode(&l, v1, &field, &reason);
    assert_non_null(line);
    /* seq, id trimmed, merchant, paise, currency default, date, timestamp
     * default (the date: midnight in the session zone), source_type
     * default, blank merchant_name as NULL. */
    assert_string_equal(line, "7\tTXN1\tM1\t-50\tINR\t2024-02-29\t2024-02-29\tCONNECTOR\t\\N\n");
    free(line);
    const char *v2[] = {"T2", "M1", "100", "2024-03-01", "USD", "Caf\xc3\xa9 \xe0\xa4\x95"};
    line = encode(&l, v2, &field, &reason);
    assert_string_equal(line,
                        "7\tT2\tM1\t100\tUSD\t2024-03-01\t2024-03-01\tCONNECTOR\tCaf\xc3\xa9 \xe0\xa4\x95\n");
    free(line);
    cd_rs_layout_free(&l);
}

static void test_txn_rules(void **state)
{
    (void)state;
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_PG_TRANSACTION, txn_cols, NTXN);
    const char *field;
    char *reason;
    struct {
        const char *vals[6];
        const char *field, *reason;
    } cases[] = {
        {{NULL, "M", "1", "2024-01-01", NULL, NULL}, "transaction_id", "transaction_id: missing"},
        {{"   ", "M", "1", "2024-01-01", NULL, NULL}, "transaction_id", "transaction_id: missing"},
        {{"T", "", "1", "2024-01-01", NULL, NULL}, "merchant_id", "merchant_id: missing"},
        {{"T", "M", "1.00", "2024-01-01", NULL, NULL}, "amount_paise",
         "amount_paise: '1.00' is not a whole number of paise"},
        {{"T", "M", NULL, "2024-01-01", NULL, NULL}, "amount_paise", "amount_paise: missing"},
        {{"T", "M", "1", "2023-02-29", NULL, NULL}, "transaction_date",
         "transaction_date: '2023-02-29' has no such day in its month"},
        {{"T", "M", "1", "01/02/2024", NULL, NULL}, "transaction_date",
         "transaction_date: '01/02/2024' is not a date in the form YYYY-MM-DD"},
        {{"T", "M", "1", "2024-01-01", "inr", NULL}, "currency",
         "currency: 'inr' is not a 3-letter uppercase code"},
        {{"T", "M", "1", "2024-01-01", "RUPEE", NULL}, "currency",
         "currency: 'RUPEE' is not a 3-letter uppercase code"},
        {{"T", "M", "1", "2024-01-01", NULL, "bad \xff byte"}, "merchant_name",
         "merchant_name: 'bad \\xFF byte' is not valid UTF-8"},
        {{"T", "M", "1", "2024-01-01", NULL, "\xc0\xafoverlong"}, "merchant_name",
         "merchant_name: '\\xC0\\xAFoverlong' is not valid UTF-8"},
        {{"T", "M", "1", "2024-01-01", NULL, "\xed\xa0\x80surrogate"}, "merchant_name",
         "merchant_name: '\\xED\\xA0\\x80surrogate' is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *line = encode(&l, cases[i].vals, &field, &reason);
        if (line)
            fail_msg("case %zu accepted: %s", i, line);
        assert_string_equal(reason, cases[i].reason);
        assert_string_equal(field, cases[i].field);
        free(reason);
    }
    cd_rs_layout_free(&l);
}

static void test_lengths_in_characters(void **state)
{
    (void)state;
    const char *const cols[] = {"transaction_id", "merchant_id", "amount_paise",
                                "transaction_date"};
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_PG_TRANSACTION, cols, 4);
    const char *field;
    char *reason;
    /* 50 characters of 3 bytes each fit merchant_id VARCHAR(50). */
    char m50[151], m51[154], ascii51[52];
    for (int i = 0; i < 50; i++)
        memcpy(m50 + 3 * i, "\xe2\x82\xb9", 3);
    m50[150] = '\0';
    memcpy(m51, m50, 150);
    memcpy(m51 + 150, "\xe2\x82\xb9", 4);
    memset(ascii51, 'x', 51);
    ascii51[51] = '\0';
    const char *ok[] = {"T", m50, "1", "2024-01-01"};
    char *line = encode(&l, ok, &field, &reason);
    assert_non_null(line);
    free(line);
    const char *bad1[] = {"T", m51, "1", "2024-01-01"};
    assert_null(encode(&l, bad1, &field, &reason));
    assert_string_equal(reason, "merchant_id: longer than 50 characters");
    free(reason);
    const char *bad2[] = {"T", ascii51, "1", "2024-01-01"};
    assert_null(encode(&l, bad2, &field, &reason));
    assert_string_equal(reason, "merchant_id: longer than 50 characters");
    free(reason);
    /* A NUL byte inside a value, with the length covering it. */
    const char *vals[] = {"T", "M\0X", "1", "2024-01-01"};
    size_t lens[] = {1, 3, 1, 10};
    cd_buf out;
    cd_buf_init(&out);
    assert_int_equal(cd_rs_encode_row(&l, 1, vals, lens, &out, &field, &reason), -1);
    assert_string_equal(reason, "merchant_id: contains a NUL byte");
    assert_int_equal(out.len, 0);
    free(reason);
    cd_buf_free(&out);
    cd_rs_layout_free(&l);
}

/* A SQL_ASCII database counts bytes: there the sink checks lengths in
 * bytes, or a value of fewer characters than its column but more bytes
 * would make the server refuse the COPY and fail the whole run. */
static void test_lengths_in_bytes_for_sql_ascii(void **state)
{
    (void)state;
    const char *const cols[] = {"transaction_id", "merchant_id", "amount_paise",
                                "transaction_date"};
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_PG_TRANSACTION, cols, 4);
    assert_int_equal(l.count_bytes, 0); /* characters unless the sink says otherwise */
    const char *field;
    char *reason;
    /* 17 characters of 3 bytes: 51 bytes; 16 of them: 48 bytes. */
    char m17[52], m16[49];
    for (int i = 0; i < 17; i++)
        memcpy(m17 + 3 * i, "\xe0\xa4\x95", 3);
    m17[51] = '\0';
    memcpy(m16, m17, 48);
    m16[48] = '\0';
    const char *wide[] = {"T", m17, "1", "2024-01-01"};
    const char *fits[] = {"T", m16, "1", "2024-01-01"};
    char *line = encode(&l, wide, &field, &reason);
    assert_non_null(line); /* a UTF8 database: 17 characters fit VARCHAR(50) */
    free(line);
    l.count_bytes = 1;
    assert_null(encode(&l, wide, &field, &reason));
    assert_string_equal(field, "merchant_id");
    assert_string_equal(reason, "merchant_id: longer than 50 bytes (17 characters; the "
                                "database's encoding is SQL_ASCII, which counts bytes)");
    free(reason);
    line = encode(&l, fits, &field, &reason);
    assert_non_null(line);
    free(line);
    cd_rs_layout_free(&l);

    /* debit_credit text kept beside an amount is checked the same way. */
    const char *const bcols[] = {"bank_ref", "bank_name", "amount", "transaction_date",
                                 "debit_credit"};
    layout_ok(&l, CD_DATASET_BANK_STATEMENT, bcols, 5);
    l.count_bytes = 1;
    const char *dc[] = {"R1", "HDFC", "1.00", "2024-01-01",
                        "\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95"};
    assert_null(encode(&l, dc, &field, &reason));
    assert_string_equal(field, "debit_credit");
    assert_string_equal(reason, "debit_credit: longer than 10 bytes (4 characters; the "
                                "database's encoding is SQL_ASCII, which counts bytes)");
    free(reason);
    cd_rs_layout_free(&l);
}

/* A stand-in for the sink's conversion check: "no U+20B9 (the rupee
 * sign)", as a LATIN1 database; counts its calls. */
static int storable_calls;
static int no_rupee_sign(void *ctx, const char *s, size_t len)
{
    assert_ptr_equal(ctx, &storable_calls);
    storable_calls++;
    for (size_t i = 0; i + 2 < len; i++)
        if (memcmp(s + i, "\xe2\x82\xb9", 3) == 0)
            return 0;
    return 1;
}

/* A database in an encoding that lacks a character refuses the COPY line,
 * the whole run: the record schema asks the sink's check and makes such a
 * value a record error; plain ASCII is never checked. */
static void test_characters_the_database_cannot_hold(void **state)
{
    (void)state;
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_PG_TRANSACTION, txn_cols, NTXN);
    l.storable = no_rupee_sign;
    l.storable_ctx = &storable_calls;
    l.encoding = "LATIN1";
    const char *field;
    char *reason;
    storable_calls = 0;
    const char *ascii[] = {"T", "M", "1", "2024-01-01", "INR", "plain shop"};
    char *line = encode(&l, ascii, &field, &reason);
    assert_non_null(line);
    free(line);
    assert_int_equal(storable_calls, 0);
    const char *latin[] = {"T", "M", "1", "2024-01-01", "INR", "Caf\xc3\xa9"};
    line = encode(&l, latin, &field, &reason);
    assert_non_null(line);
    free(line);
    assert_int_equal(storable_calls, 1);
    const char *rupee[] = {"T", "M", "1", "2024-01-01", "INR", "\xe2\x82\xb9 shop"};
    assert_null(encode(&l, rupee, &field, &reason));
    assert_string_equal(field, "merchant_name");
    assert_string_equal(reason, "merchant_name: '\\xE2\\x82\\xB9 shop' has a character the "
                                "database's encoding (LATIN1) cannot hold");
    free(reason);
    /* Invalid UTF-8 is refused as such before any conversion. */
    const char *bad[] = {"T", "M", "1", "2024-01-01", "INR", "\xff"};
    storable_calls = 0;
    assert_null(encode(&l, bad, &field, &reason));
    assert_string_equal(reason, "merchant_name: '\\xFF' is not valid UTF-8");
    assert_int_equal(storable_calls, 0);
    free(reason);
    cd_rs_layout_free(&l);
}

static void test_bank_amounts(void **state)
{
    (void)state;
    const char *a1[] = {"R1", "HDFC", "12.345", "2024-01-01", NULL, NULL, NULL};
    bank_bad(a1, "amount", "amount: '12.345' has more than 2 decimals");
    const char *a2[] = {"R1", "HDFC", "1,000.00", "2024-01-01", NULL, NULL, NULL};
    bank_bad(a2, "amount", "amount: '1,000.00' has digit grouping (write 1000.00, not 1,000.00)");
    const char *a3[] = {"R1", "HDFC", NULL, "2024-01-01", NULL, NULL, NULL};
    bank_bad(a3, "amount", "amount: missing");
    const char *a4[] = {"R1", "HDFC", "1.00", "2024-01-01", NULL, "10", "0.10"};
    bank_bad(a4, "net_amount_paise",
             "net_amount_paise: both net_amount_paise and net_amount are given; send one");
    const char *a5[] = {"R1", "", "1.00", "2024-01-01", NULL, NULL, NULL};
    bank_bad(a5, "bank_name", "bank_name: missing");

    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_BANK_STATEMENT, bank_cols, NBANK);
    const char *field;
    char *reason;
    /* One twin blank and the other given is fine; rupees become paise. */
    const char *ok[] = {"R1", "HDFC", " 10.10 ", "2024-01-01", NULL, "  ", "-0.05"};
    char *line = encode(&l, ok, &field, &reason);
    assert_string_equal(line, "7\tR1\tHDFC\t1010\t2024-01-01\t\\N\t\\N\t-5\tCONNECTOR\n");
    free(line);
    /* A numeric(18,4) source prints its zeros: the amount is exact. */
    const char *ok4[] = {"R1", "HDFC", "100.5000", "2024-01-01", NULL, NULL, "7.0000"};
    line = encode(&l, ok4, &field, &reason);
    assert_string_equal(line, "7\tR1\tHDFC\t10050\t2024-01-01\t\\N\t\\N\t700\tCONNECTOR\n");
    free(line);
    /* A debit's magnitude is stored (DR: debit_credit is always staged);
     * net_amount keeps its sign. */
    const char *neg[] = {"R1", "HDFC", "-10.10", "2024-01-01", NULL, NULL, "-0.05"};
    line = encode(&l, neg, &field, &reason);
    assert_string_equal(line, "7\tR1\tHDFC\t1010\t2024-01-01\t\\N\tDR\t-5\tCONNECTOR\n");
    free(line);
    cd_rs_layout_free(&l);
}

/* sp_v2_bank_statements: the amount is stored as its magnitude and
 * debit_credit as CR / DR, whatever spelling or sign a driver sends (the
 * rule bank_sftp and bank_api apply), enforced for every driver. */
static const char *const dc_cols[] = {"bank_ref", "bank_name", "amount", "transaction_date",
                                      "debit_credit"};

/* The COPY line of a (amount, debit_credit) row, or NULL with the reason
 * and field. */
static char *dc_encode(const char *amount, const char *dc, const char **field, char **reason)
{
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_BANK_STATEMENT, dc_cols, 5);
    const char *v[] = {"R1", "HDFC", amount, "2024-01-01", dc};
    char *line = encode(&l, v, field, reason);
    cd_rs_layout_free(&l);
    return line;
}

static void test_bank_direction_normalised(void **state)
{
    (void)state;
    static const struct {
        const char *amount, *dc, *paise, *stored;
    } cases[] = {
        /* a minus is a debit: the magnitude, DR */
        {"-100.00", NULL, "10000", "DR"},
        {"-100.00", "", "10000", "DR"},
        {"-100.00", "   ", "10000", "DR"},
        {"-100.00", "D", "10000", "DR"},
        {"-100.00", "d", "10000", "DR"},
        {"-100.00", "DR", "10000", "DR"},
        {"-100.00", "dr", "10000", "DR"},
        {"-100.00", "Dr.", "10000", "DR"},
        {"-100.00", "DEBIT", "10000", "DR"},
        {"-100.00", "Debit", "10000", "DR"},
        {"-100.00", "debit.", "10000", "DR"},
        {"-100.00", " D. ", "10000", "DR"},
        {"-100.00", "\tDr\xc2\xa0", "10000", "DR"}, /* tab, no-break space */
        {"-0.00", NULL, "0", "DR"},                   /* the source wrote a debit */
        {"-0.01", "dr", "1", "DR"},
        {"-92233720368547758.07", NULL, "9223372036854775807", "DR"},
        /* without a minus the indicator says it */
        {"100.00", "C", "10000", "CR"},
        {"100.00", "c", "10000", "CR"},
        {"100.00", "CR", "10000", "CR"},
        {"100.00", "cr", "10000", "CR"},
        {"100.00", "Cr.", "10000", "CR"},
        {"100.00", "C.", "10000", "CR"},
        {"100.00", "CREDIT", "10000", "CR"},
        {"100.00", "credit", "10000", "CR"},
        {"100.00", " Credit ", "10000", "CR"},
        {"100.00", "D", "10000", "DR"},
        {"100.00", "Dr", "10000", "DR"},
        {"100.00", "DEBIT", "10000", "DR"},
        {"+5.00", "Dr", "500", "DR"}, /* a plus is no direction */
        {"0.00", "C", "0", "CR"},
        /* no indicator beside a plain amount: none stored */
        {"100.00", NULL, "10000", "\\N"},
        {"100.00", "  ", "10000", "\\N"},
        /* other text beside a plain amount is kept, as the drivers keep it */
        {"100.00", "REV", "10000", "REV"},
        {"100.00", " NEFT ", "10000", "NEFT"},
        {"100.00", "Dr..", "10000", "Dr.."},
        {"100.00", "CRE", "10000", "CRE"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *field = NULL;
        char *reason = NULL;
        char *line = dc_encode(cases[i].amount, cases[i].dc, &field, &reason);
        if (!line)
            fail_msg("case %zu (%s, %s) refused: %s", i, cases[i].amount,
                     cases[i].dc ? cases[i].dc : "NULL", reason);
        char *want = cd_sprintf("7\tR1\tHDFC\t%s\t2024-01-01\t%s\tCONNECTOR\n", cases[i].paise,
                                cases[i].stored);
        if (strcmp(line, want) != 0)
            fail_msg("case %zu (%s, %s): got '%s', want '%s'", i, cases[i].amount,
                     cases[i].dc ? cases[i].dc : "NULL", line, want);
        free(want);
        free(line);
    }
}

static void test_bank_direction_errors(void **state)
{
    (void)state;
    static const struct {
        const char *amount, *dc, *field, *reason;
    } cases[] = {
        /* an indicator that contradicts the minus */
        {"-100.00", "C", "debit_credit",
         "debit_credit: 'C' says credit, the amount '-100.00' says debit"},
        {"-100.00", "cr", "debit_credit",
         "debit_credit: 'cr' says credit, the amount '-100.00' says debit"},
        {"-100.00", "Cr.", "debit_credit",
         "debit_credit: 'Cr.' says credit, the amount '-100.00' says debit"},
        {"-100.00", " CREDIT ", "debit_credit",
         "debit_credit: 'CREDIT' says credit, the amount '-100.00' says debit"},
        {"-0.00", "CR", "debit_credit",
         "debit_credit: 'CR' says credit, the amount '-0.00' says debit"},
        /* text that is neither beside a minus: DR or the text would lose one */
        {"-100.00", "REV", "debit_credit",
         "debit_credit: 'REV' is neither credit nor debit, and the amount '-100.00' is a debit: "
         "its direction would be lost (send C/CR/Credit, D/DR/Debit or nothing)"},
        {"-100.00", "D R", "debit_credit",
         "debit_credit: 'D R' is neither credit nor debit, and the amount '-100.00' is a debit: "
         "its direction would be lost (send C/CR/Credit, D/DR/Debit or nothing)"},
        {"-1", "Dr..", "debit_credit",
         "debit_credit: 'Dr..' is neither credit nor debit, and the amount '-1' is a debit: "
         "its direction would be lost (send C/CR/Credit, D/DR/Debit or nothing)"},
        {"-1", ".", "debit_credit",
         "debit_credit: '.' is neither credit nor debit, and the amount '-1' is a debit: "
         "its direction would be lost (send C/CR/Credit, D/DR/Debit or nothing)"},
        {"-1", "\xff", "debit_credit",
         "debit_credit: '\\xFF' is neither credit nor debit, and the amount '-1' is a debit: "
         "its direction would be lost (send C/CR/Credit, D/DR/Debit or nothing)"},
        /* kept text is checked as the column's text */
        {"100.00", "REVERSAL-01", "debit_credit", "debit_credit: longer than 10 characters"},
        {"100.00", "R\xffV", "debit_credit", "debit_credit: 'R\\xFFV' is not valid UTF-8"},
        /* the amount's own errors come first */
        {"-1.001", "C", "amount", "amount: '-1.001' has more than 2 decimals"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *field = NULL;
        char *reason = NULL;
        char *line = dc_encode(cases[i].amount, cases[i].dc, &field, &reason);
        if (line)
            fail_msg("case %zu (%s, %s) accepted: %s", i, cases[i].amount, cases[i].dc, line);
        if (strcmp(reason, cases[i].reason) != 0 || strcmp(field, cases[i].field) != 0)
            fail_msg("case %zu: got %s / '%s'", i, field, reason);
        free(reason);
    }
}

/* A driver that declares no debit_credit still gets DR for a minus, and
 * its direction is written on updates too (it comes with the amount). */
static void test_bank_direction_undeclared(void **state)
{
    (void)state;
    const char *const cols[] = {"bank_ref", "bank_name", "amount_paise", "transaction_date"};
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_BANK_STATEMENT, cols, 4);
    const char *want[] = {"bank_ref", "bank_name", "amount_paise", "transaction_date",
                          "debit_credit", "source_type"};
    assert_int_equal(l.nstage, 6);
    for (size_t k = 0; k < l.nstage; k++)
        assert_string_equal(l.stage[k].col->name, want[k]);
    assert_true(l.stage[4].declared);
    assert_int_equal(l.stage[4].paise_input, -1);
    assert_false(l.stage[5].declared);
    const char *field;
    char *reason;
    const char *v1[] = {"R1", "HDFC", "-12345", "2024-01-01"};
    char *line = encode(&l, v1, &field, &reason);
    assert_string_equal(line, "7\tR1\tHDFC\t12345\t2024-01-01\tDR\tCONNECTOR\n");
    free(line);
    const char *v2[] = {"R1", "HDFC", "500", "2024-01-01"};
    line = encode(&l, v2, &field, &reason);
    assert_string_equal(line, "7\tR1\tHDFC\t500\t2024-01-01\t\\N\tCONNECTOR\n");
    free(line);
    const char *v3[] = {"R1", "HDFC", "9223372036854775807", "2024-01-01"};
    line = encode(&l, v3, &field, &reason);
    assert_string_equal(line, "7\tR1\tHDFC\t9223372036854775807\t2024-01-01\t\\N\tCONNECTOR\n");
    free(line);
    const char *v4[] = {"R1", "HDFC", "-9223372036854775807", "2024-01-01"};
    line = encode(&l, v4, &field, &reason);
    assert_string_equal(line, "7\tR1\tHDFC\t9223372036854775807\t2024-01-01\tDR\tCONNECTOR\n");
    free(line);
    /* -2^63 paise fits a bigint; its magnitude does not. */
    const char *v5[] = {"R1", "HDFC", "-9223372036854775808", "2024-01-01"};
    assert_null(encode(&l, v5, &field, &reason));
    assert_string_equal(field, "amount_paise");
    assert_string_equal(reason, "amount_paise: '-9223372036854775808' is out of range (its "
                                "magnitude is no bigint)");
    free(reason);
    cd_rs_layout_free(&l);
    /* sp_v2_transactions keeps signed amounts as they are. */
    layout_ok(&l, CD_DATASET_PG_TRANSACTION, txn_cols, NTXN);
    const char *t[] = {"T1", "M1", "-50", "2024-02-29", NULL, NULL};
    line = encode(&l, t, &field, &reason);
    assert_string_equal(line, "7\tT1\tM1\t-50\tINR\t2024-02-29\t2024-02-29\tCONNECTOR\t\\N\n");
    free(line);
    cd_rs_layout_free(&l);
}

static void test_copy_escaping(void **state)
{
    (void)state;
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_BANK_STATEMENT, bank_cols, NBANK);
    const char *field;
    char *reason;
    const char *v[] = {"R\\1", "HDFC", "1", "2024-01-01", "a\tb\nc\rd\\e \\N \xe2\x82\xb9",
                       NULL, NULL};
    char *line = encode(&l, v, &field, &reason);
    assert_string_equal(line, "7\tR\\\\1\tHDFC\t100\t2024-01-01\ta\\tb\\nc\\rd\\\\e \\\\N \xe2\x82\xb9"
                              "\t\\N\t\\N\tCONNECTOR\n");
    free(line);
    cd_rs_layout_free(&l);
    cd_buf b;
    cd_buf_init(&b);
    cd_rs_copy_escape(&b, "", 0);
    assert_int_equal(b.len, 0);
    cd_rs_copy_escape(&b, "\\\\\t", 3);
    assert_string_equal(b.data, "\\\\\\\\\\t");
    cd_buf_free(&b);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_int_equal(cd_rs_utf8_chars("", 0), 0);
    assert_int_equal(cd_rs_utf8_chars("abc", 3), 3);
    assert_int_equal(cd_rs_utf8_chars("\xc3\xa9", 2), 1);
    assert_int_equal(cd_rs_utf8_chars("\xf0\x9f\x92\xb0", 4), 1);     /* U+1F4B0 */
    assert_int_equal(cd_rs_utf8_chars("\xf4\x8f\xbf\xbf", 4), 1);     /* U+10FFFF */
    assert_int_equal(cd_rs_utf8_chars("\xf4\x90\x80\x80", 4), -1);    /* > U+10FFFF */
    assert_int_equal(cd_rs_utf8_chars("\xe0\x80\xaf", 3), -1);        /* overlong */
    assert_int_equal(cd_rs_utf8_chars("\xf0\x80\x80\xaf", 4), -1);    /* overlong */
    assert_int_equal(cd_rs_utf8_chars("\xc3", 1), -1);                /* truncated */
    assert_int_equal(cd_rs_utf8_chars("\xe2\x82", 2), -1);            /* truncated */
    assert_int_equal(cd_rs_utf8_chars("\x80", 1), -1);                /* stray */
    assert_int_equal(cd_rs_utf8_chars("\xc3\x28", 2), -1);            /* bad continuation */
    assert_int_equal(cd_rs_utf8_chars("\xed\xbf\xbf", 3), -1);        /* surrogate */
    assert_int_equal(cd_rs_utf8_chars("a\0b", 3), -1);
}

static void test_timestamp_column(void **state)
{
    (void)state;
    const char *const cols[] = {"transaction_id", "merchant_id", "amount", "transaction_date",
                                "transaction_timestamp", "source_type"};
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_PG_TRANSACTION, cols, 6);
    const char *field;
    char *reason;
    const char *v1[] = {"T", "M", "1", "2024-01-01", "2024-01-01T10:00:00+05:30", "API"};
    char *line = encode(&l, v1, &field, &reason);
    assert_string_equal(line, "7\tT\tM\t100\t2024-01-01\t2024-01-01T10:00:00+05:30\tAPI\n");
    free(line);
    const char *v2[] = {"T", "M", "1", "2024-01-01", NULL, NULL};
    line = encode(&l, v2, &field, &reason);
    assert_string_equal(line, "7\tT\tM\t100\t2024-01-01\t2024-01-01\tCONNECTOR\n");
    free(line);
    const char *v3[] = {"T", "M", "1", "2024-01-01", "2024-01-01T24:00:00", NULL};
    assert_null(encode(&l, v3, &field, &reason));
    assert_string_equal(reason,
                        "transaction_timestamp: '2024-01-01T24:00:00' has a time of day out of range");
    free(reason);
    const char *v4[] = {"T", "M", "1", "2024-01-01", NULL, "A_SOURCE_TYPE_OF_21_C"};
    assert_null(encode(&l, v4, &field, &reason));
    assert_string_equal(reason, "source_type: longer than 20 characters");
    free(reason);
    cd_rs_layout_free(&l);
}

/* Random bytes in every column must give a line or a reason, never a
 * crash, and an accepted line never holds a raw tab or newline inside
 * a field. */
/* Random rows from alphabet; with tame, only debit_credit and half of the
 * amounts are random, the rest well formed, so most rows are accepted. */
static void random_rows(const char *const *cols, size_t ncols, const char *alphabet,
                        size_t nalpha, bool tame)
{
    cd_rs_layout l;
    layout_ok(&l, CD_DATASET_BANK_STATEMENT, cols, ncols);
    unsigned seed = 12345;
    char vals_store[16][24];
    const char *vals[16];
    size_t lens[16];
    cd_buf out;
    cd_buf_init(&out);
    long accepted = 0;
    for (int iter = 0; iter < 200000; iter++) {
        for (size_t c = 0; c < ncols; c++) {
            seed = seed * 1103515245u + 12345u;
            lens[c] = (seed >> 16) % 16;
            for (size_t k = 0; k < lens[c]; k++) {
                seed = seed * 1103515245u + 12345u;
                vals_store[c][k] = alphabet[(seed >> 16) % nalpha];
            }
            vals[c] = (seed >> 8) % 11 == 0 ? NULL : vals_store[c];
            if (!tame || strcmp(cols[c], "debit_credit") == 0 ||
                (strcmp(cols[c], "amount") == 0 && (seed >> 4) % 2))
                continue;
            vals[c] = vals_store[c];
            if (strcmp(cols[c], "amount") == 0) /* "-12.34", "5", "-0.07" ... */
                lens[c] = (size_t)snprintf(vals_store[c], sizeof vals_store[c], "%s%u.%02u",
                                           (seed >> 6) % 2 ? "-" : "", (seed >> 8) % 1000,
                                           (seed >> 18) % 100);
            else if (strcmp(cols[c], "transaction_date") == 0)
                lens[c] = (size_t)snprintf(vals_store[c], sizeof vals_store[c], "2024-01-01");
            else
                lens[c] = (size_t)snprintf(vals_store[c], sizeof vals_store[c], "K%u", seed % 97);
        }
        const char *field = NULL;
        char *reason = NULL;
        cd_buf_reset(&out);
        if (cd_rs_encode_row(&l, iter, vals, lens, &out, &field, &reason) == 0) {
            size_t tabs = 0;
            for (size_t k = 0; k < out.len; k++)
                tabs += out.data[k] == '\t';
            assert_int_equal(tabs, l.nstage);
            assert_ptr_equal(memchr(out.data, '\n', out.len), out.data + out.len - 1);
            /* a bank amount (the third staged column) is never stored
             * negative */
            const char *amount = out.data;
            for (int tab = 0; tab < 3; tab++)
                amount = strchr(amount, '\t') + 1;
            assert_int_not_equal(amount[0], '-');
            accepted++;
        } else {
            assert_non_null(reason);
            assert_true(cd_rs_utf8_chars(reason, strlen(reason)) >= 0);
            free(reason);
        }
    }
    if (tame) /* the accepted branch was exercised */
        assert_true(accepted > 20000);
    cd_buf_free(&out);
    cd_rs_layout_free(&l);
}

static void test_random_bytes(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789.-+ \t\n\\\xc3\xa9\xff\0aZ:T";
    random_rows(bank_cols, NBANK, alphabet, sizeof alphabet - 1, false);
    /* with debit_credit, and letters that spell indicators */
    static const char *const cols[] = {"bank_ref", "debit_credit", "bank_name", "amount",
                                       "transaction_date"};
    static const char dc_alphabet[] = "0123456789.-+ \tCcDdRrEeIiTtBb\xc2\xa0\xff\0";
    random_rows(cols, 5, dc_alphabet, sizeof dc_alphabet - 1, true);
}

/* The byte-at-a-time forms of escaping and UTF-8 counting, for checking
 * the word-at-a-time ones against. */
static void naive_escape(cd_buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '\\': cd_buf_puts(out, "\\\\"); break;
        case '\t': cd_buf_puts(out, "\\t"); break;
        case '\n': cd_buf_puts(out, "\\n"); break;
        case '\r': cd_buf_puts(out, "\\r"); break;
        default: cd_buf_putc(out, s[i]);
        }
    }
}

static long naive_utf8_chars(const unsigned char *p, size_t len)
{
    long chars = 0;
    for (size_t i = 0; i < len; chars++) {
        unsigned char c = p[i];
        if (c == 0)
            return -1;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1, cp = c & 0x1Fu, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2, cp = c & 0x0Fu, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3, cp = c & 0x07u, min = 0x10000;
        else
            return -1;
        if (len - i - 1 < need)
            return -1;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        i += need + 1;
    }
    return chars;
}

/* Escaping and UTF-8 counting skip 8 bytes at a time where they can: the
 * same results as byte by byte, at every length and alignment, with the
 * bytes that matter (escapes, other control bytes, NUL, 0x5C's neighbours,
 * multi-byte sequences, bad bytes) anywhere. */
static void test_word_at_a_time(void **state)
{
    (void)state;
    static const char *const pieces[] = {"a", "Z", "0", " ", "\\", "\t", "\n", "\r", "\x01",
                                         "\x0d", "\x0e", "\x0f", "\x5b", "\x5d", "\x7f", "\0",
                                         "\xc3\xa9", "\xe2\x82\xb9", "\xf0\x9f\x92\xb0", "\xff",
                                         "\x80", "\xc3", "\xed\xa0\x80", "abcdefgh"};
    static const size_t npieces = sizeof pieces / sizeof pieces[0];
    unsigned seed = 777;
    char str[128];
    cd_buf fast, slow;
    cd_buf_init(&fast), cd_buf_init(&slow);
    for (int iter = 0; iter < 300000; iter++) {
        size_t len = 0;
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % 12;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            /* Mostly plain letters, so that words without specials occur. */
            const char *piece = (seed >> 16) % 3 ? "abcdefgh" : pieces[(seed >> 8) % npieces];
            size_t plen = piece[0] ? strlen(piece) : 1;
            if ((seed >> 20) % 4 == 0 && plen > 1)
                plen = 1 + (seed >> 24) % plen; /* a cut piece: truncated sequences */
            memcpy(str + len, piece, plen);
            len += plen;
        }
        size_t off = (seed >> 4) % 8; /* any alignment */
        memmove(str + off, str, len);
        cd_buf_reset(&fast), cd_buf_reset(&slow);
        cd_buf_puts(&fast, "x"), cd_buf_puts(&slow, "x");
        cd_rs_copy_escape(&fast, str + off, len);
        naive_escape(&slow, str + off, len);
        assert_int_equal(fast.len, slow.len);
        assert_memory_equal(fast.data, slow.data, slow.len);
        assert_int_equal(cd_rs_utf8_chars(str + off, len),
                         naive_utf8_chars((const unsigned char *)str + off, len));
    }
    cd_buf_free(&fast), cd_buf_free(&slow);
}

/* The encoder's integer formatting, at the edges printf would get right. */
static void test_put_i64(void **state)
{
    (void)state;
    const int64_t values[] = {0, 7, -7, 10, 1234567890123LL, INT64_MAX, INT64_MIN, -100};
    const char *want[] = {"0", "7", "-7", "10", "1234567890123", "9223372036854775807",
                          "-9223372036854775808", "-100"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        cd_buf b;
        cd_buf_init(&b);
        cd_buf_puts(&b, "x");
        cd_buf_put_i64(&b, values[i]);
        cd_buf_putc(&b, '\0');
        assert_string_equal(want[i], b.data + 1);
        cd_buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_i64),
        cmocka_unit_test(test_layout_errors),
        cmocka_unit_test(test_layout_staging_columns),
        cmocka_unit_test(test_good_txn_row_and_defaults),
        cmocka_unit_test(test_txn_rules),
        cmocka_unit_test(test_lengths_in_characters),
        cmocka_unit_test(test_bank_amounts),
        cmocka_unit_test(test_bank_direction_normalised),
        cmocka_unit_test(test_bank_direction_errors),
        cmocka_unit_test(test_bank_direction_undeclared),
        cmocka_unit_test(test_copy_escaping),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_word_at_a_time),
        cmocka_unit_test(test_timestamp_column),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_lengths_in_bytes_for_sql_ascii),
        cmocka_unit_test(test_characters_the_database_cannot_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
