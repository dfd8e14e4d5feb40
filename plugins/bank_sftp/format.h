/*
 * format.h — what a bank file looks like: a template's body (resolved by
 * the host from conf.d/templates/NAME.yaml and handed in as
 * connection_config.template_format) with the connector's own `format`
 * keys laid over it, key by key (columns too, column by column).
 */
#ifndef BS_FORMAT_H
#define BS_FORMAT_H

#include <jansson.h>

typedef enum bs_field {
    BF_BANK_REF,
    BF_AMOUNT,
    BF_CREDIT,
    BF_DEBIT,
    BF_NET_AMOUNT,
    BF_TXN_DATE,
    BF_VALUE_DATE,
    BF_UTR,
    BF_RRN,
    BF_REMARKS,
    BF_DEBIT_CREDIT,
    BF_COUNT
} bs_field;

/* The target field names, as connection_config.format.columns keys. */
extern const char *const bs_field_names[BF_COUNT];

typedef enum bs_type { BS_CSV, BS_TXT, BS_XLSX } bs_type;

typedef struct bs_format {
    bs_type type;
    char delimiter;
    char quote;              /* 0: none */
    char *encoding;          /* iconv name; NULL for UTF-8 */
    long header_row;         /* 1-based */
    long skip_footer_rows;
    char *sheet;             /* XLSX; NULL: the first sheet */
    char *date_format;       /* NULL: the common formats */
    int amount_in_paise;     /* amount_unit: paise */
    char *columns[BF_COUNT]; /* the file's column name per field, or NULL */
    char *template_name;     /* NULL for an inline format */
} bs_format;

/* Reports one problem at a JSON path of connection_config. */
typedef void (*bs_problem_fn)(void *ud, const char *path, const char *msg);

/* Reads the effective format of a connection_config. Returns the number of
 * problems reported (0: *f is complete; free it with bs_format_free). */
int bs_format_load(const json_t *config, bs_format *f, bs_problem_fn report, void *ud);
void bs_format_free(bs_format *f);

#endif
