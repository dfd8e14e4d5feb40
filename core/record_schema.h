/*
 * record_schema.h — the columns of each dataset, the validation of one
 * record, and its encoding as a line of COPY text. No database here: this
 * is everything the sink decides before a byte goes to PostgreSQL, so it
 * can be unit-tested and fuzzed on its own.
 */
#ifndef CD_RECORD_SCHEMA_H
#define CD_RECORD_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <connectord/plugin.h>

#include "util.h"

typedef enum cd_rs_kind {
    CD_RS_TEXT,      /* UTF-8 text, at most max_chars characters (0: no limit) */
    CD_RS_CURRENCY,  /* three uppercase ASCII letters */
    CD_RS_PAISE,     /* bigint paise; also fed by a rupee twin */
    CD_RS_DATE,      /* date */
    CD_RS_TIMESTAMP  /* timestamptz; zone-less values read in the session zone */
} cd_rs_kind;

/* Column flags. */
#define CD_RS_REQUIRED 0x1u /* must be present and non-empty in every row */
#define CD_RS_KEY 0x2u      /* part of the natural key of the target table */
#define CD_RS_ALWAYS 0x4u   /* staged even when not declared (insert-only then) */
/* sp_v2_bank_statements keeps an amount as its magnitude and its direction
 * in debit_credit (CR/DR), whatever the driver sent: */
#define CD_RS_MAGNITUDE 0x8u /* CD_RS_PAISE: stored without its sign; a minus says DR */
#define CD_RS_DIRECTION 0x10u /* the MAGNITUDE column's direction: always staged and
                                 counted as declared (it comes with the amount) */

/* One column of a target table that records can fill. */
typedef struct cd_rs_column {
    const char *name;       /* target column; also the input name (amount_paise) */
    const char *rupee_name; /* CD_RS_PAISE only: the decimal-rupee twin (amount), or NULL */
    const char *sql_type;   /* type of the staging column */
    cd_rs_kind kind;
    unsigned max_chars;
    unsigned flags;
    const char *fallback;   /* stored when the value is NULL or blank, or NULL */
} cd_rs_column;

typedef struct cd_rs_dataset {
    cd_dataset dataset;
    const char *table;
    const cd_rs_column *columns;
    size_t ncolumns;
} cd_rs_dataset;

/* The static description of a dataset, or NULL for an unknown one. */
const cd_rs_dataset *cd_rs_dataset_get(cd_dataset dataset);

/* One staging column of a load: which input positions feed it. */
typedef struct cd_rs_stage_col {
    const cd_rs_column *col;
    long paise_input; /* input index of the column itself, or -1 */
    long rupee_input; /* input index of the rupee twin, or -1 */
    int declared;     /* 0: ALWAYS column the driver did not send (insert-only) */
} cd_rs_stage_col;

/* The mapping of the columns a driver declared onto staging columns, in
 * the dataset's column order. */
typedef struct cd_rs_layout {
    const cd_rs_dataset *ds;
    size_t ninput;
    cd_rs_stage_col *stage;
    size_t nstage;
    long date_input; /* transaction_date input index (default timestamp), or -1 */
    long dir_input;  /* input index of the DIRECTION column (debit_credit), or -1 */
    int count_bytes; /* 0 (cd_rs_layout_init's default): max_chars counts characters, as
                        a UTF8 database does; 1: bytes, as a SQL_ASCII database stores
                        every byte as a character (the sink sets it from server_encoding) */
    /* A database in another encoding (LATIN1, WIN1252, ...) cannot hold every
     * character: when set (by the sink), storable says whether the valid
     * UTF-8 text s[0..len), which has a byte past ASCII, converts to it
     * (1) or not (0); encoding names it in the record error. NULL: UTF8
     * and SQL_ASCII databases, which hold any UTF-8 text. */
    int (*storable)(void *ctx, const char *s, size_t len);
    void *storable_ctx;
    const char *encoding;
} cd_rs_layout;

/* Builds a layout from the declared column names. Unknown names,
 * duplicates (a name twice) and missing required columns fail with a
 * malloc'd *err naming every offender. 0 or -1. */
int cd_rs_layout_init(cd_rs_layout *layout, const cd_rs_dataset *ds, const char *const *names,
                      size_t n, char **err);
void cd_rs_layout_free(cd_rs_layout *layout);

/* Validates one row (values[i] / lengths[i] as declared; values[i] NULL
 * means no value) and, when it is good, appends it to out as one line of
 * COPY text: `lead` (the sink puts the run id there, for the target's
 * loaded_by_run_id), then each staging column, tab-separated, "\n"-ended.
 * On a bad row returns -1, leaves out as it was, sets *field to the
 * column at fault (static) and *reason to a malloc'd sentence starting
 * with that column ("amount: '12.345' has more than 2 decimals").
 *
 * A bank statement's amount is stored as its magnitude, and debit_credit
 * says its direction: an indicator the drivers accept (C, CR, Credit /
 * D, DR, Debit, any case, an optional trailing dot, blanks around it) is
 * stored as CR or DR; a negative amount ("-100.00", also "-0.00") is DR,
 * and an indicator that says credit, or text that is neither, beside it
 * is a record error on debit_credit (the stored magnitude would lose the
 * direction). Other text beside an amount without a minus is kept, as
 * bank_sftp and bank_api keep it. No allocation unless the row is bad. */
int cd_rs_encode_row(const cd_rs_layout *layout, int64_t lead, const char *const *values,
                     const size_t *lengths, cd_buf *out, const char **field, char **reason);

/* Appends s as a COPY text field: backslash, tab, newline and CR escaped. */
void cd_rs_copy_escape(cd_buf *out, const char *s, size_t len);

/* Number of characters of s if it is valid UTF-8 without NUL bytes,
 * else -1 (overlong forms, surrogates and code points past U+10FFFF are
 * invalid, as PostgreSQL holds them). */
long cd_rs_utf8_chars(const char *s, size_t len);

#endif
