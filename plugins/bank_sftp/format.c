/* format.c — see format.h. */
#include "format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "date.h"

const char *const bs_field_names[BF_COUNT] = {
    "bank_ref", "amount", "credit", "debit", "net_amount", "transaction_date",
    "value_date", "utr", "rrn", "remarks", "debit_credit"};

static const char *const known_keys[] = {"type",        "delimiter",  "quote",
                                         "encoding",    "header_row", "skip_footer_rows",
                                         "sheet",       "date_format", "amount_unit",
                                         "columns",     "name",       "description"};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* One byte from "," / "~" / "|" / "\t" / "tab" / "pipe". -1 if not. */
static int one_byte(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "\\t") == 0 || strcasecmp(s, "tab") == 0)
        return '\t';
    if (strcasecmp(s, "pipe") == 0)
        return '|';
    if (strlen(s) == 1 && (unsigned char)s[0] < 0x80 && s[0] != '\n' && s[0] != '\r')
        return s[0];
    return -1;
}

static void problem(bs_problem_fn report, void *ud, int *bad, const char *path, const char *msg)
{
    report(ud, path, msg);
    (*bad)++;
}

int bs_format_load(const json_t *config, bs_format *f, bs_problem_fn report, void *ud)
{
    memset(f, 0, sizeof *f);
    int bad = 0;
    const char *tname = json_string_value(json_object_get(config, "template"));
    json_t *tbody = json_object_get(config, "template_format");
    json_t *own = json_object_get(config, "format");
    if (own && !json_is_object(own)) {
        problem(report, ud, &bad, "format", "must be an object");
        return bad;
    }
    if (!tname && !own) {
        problem(report, ud, &bad, "template",
                "a template (see `connectord templates`) or an inline format is required");
        return bad;
    }
    if (tname && !json_is_object(tbody)) {
        char *m = NULL;
        if (asprintf(&m, "unknown template \"%s\" (`connectord templates` lists them)", tname) < 0)
            m = NULL;
        problem(report, ud, &bad, "template", m ? m : "unknown template");
        free(m);
        return bad;
    }
    /* merged = template, then own keys; columns merged column by column */
    json_t *m = tbody ? json_deep_copy(tbody) : json_object();
    json_t *cols = json_object_get(m, "columns");
    cols = cols ? json_deep_copy(cols) : json_object();
    if (own) {
        json_object_update(m, own);
        json_t *oc = json_object_get(own, "columns");
        if (json_is_object(oc))
            json_object_update(cols, oc);
    }
    json_object_set_new(m, "columns", cols);
    const char *base = own ? "format" : "template_format";
    char path[128];

    const char *key;
    json_t *val;
    json_object_foreach(m, key, val) {
        size_t i = 0;
        for (; i < sizeof known_keys / sizeof known_keys[0]; i++)
            if (strcmp(key, known_keys[i]) == 0)
                break;
        if (i == sizeof known_keys / sizeof known_keys[0]) {
            snprintf(path, sizeof path, "%s.%.60s", base, key);
            problem(report, ud, &bad, path, "is not a format key");
        }
    }
    /* Keys whose value is text: a number or a list there was read as
     * absent, so "sheet": 2 quietly read the first sheet and
     * "amount_unit": ["paise"] loaded paise as rupees, 100 times over.
     * (null is absent, as an override's way to drop a template's key.) */
    static const char *const text_keys[] = {"encoding", "sheet", "date_format", "amount_unit",
                                            "name", "description"};
    for (size_t i = 0; i < sizeof text_keys / sizeof text_keys[0]; i++) {
        json_t *v = json_object_get(m, text_keys[i]);
        if (v && !json_is_string(v) && !json_is_null(v)) {
            snprintf(path, sizeof path, "%s.%s", base, text_keys[i]);
            problem(report, ud, &bad, path,
                    strcmp(text_keys[i], "sheet") == 0
                        ? "must be the sheet's name, as text (the first visible sheet is read "
                          "when it is not set)"
                        : "must be a string");
        }
    }
    const char *type = json_string_value(json_object_get(m, "type"));
    snprintf(path, sizeof path, "%s.type", base);
    if (!type)
        problem(report, ud, &bad, path, "is required: csv, txt or xlsx");
    else if (strcmp(type, "csv") == 0)
        f->type = BS_CSV;
    else if (strcmp(type, "txt") == 0)
        f->type = BS_TXT;
    else if (strcmp(type, "xlsx") == 0)
        f->type = BS_XLSX;
    else
        problem(report, ud, &bad, path, "must be csv, txt or xlsx");

    json_t *d = json_object_get(m, "delimiter");
    snprintf(path, sizeof path, "%s.delimiter", base);
    if (d) {
        int b = one_byte(json_string_value(d));
        if (b < 0 || b == '"')
            problem(report, ud, &bad, path, "must be a single ASCII character (or \"\\t\")");
        else
            f->delimiter = (char)b;
    } else if (type && strcmp(type, "txt") == 0) {
        problem(report, ud, &bad, path, "is required for txt files (\"~\", \"|\", \"\\t\"...)");
    } else {
        f->delimiter = ',';
    }
    json_t *q = json_object_get(m, "quote");
    f->quote = '"';
    if (q) {
        const char *qs = json_string_value(q);
        if (qs && (!*qs || strcasecmp(qs, "none") == 0))
            f->quote = 0;
        else if (one_byte(qs) > 0 && one_byte(qs) != f->delimiter)
            f->quote = (char)one_byte(qs);
        else {
            snprintf(path, sizeof path, "%s.quote", base);
            problem(report, ud, &bad, path, "must be one character other than the delimiter, or \"\"");
        }
    }
    const char *enc = json_string_value(json_object_get(m, "encoding"));
    if (enc && strcasecmp(enc, "utf-8") != 0 && strcasecmp(enc, "utf8") != 0) {
        static const char *const ok[] = {"windows-1252", "cp1252", "iso-8859-1", "latin1",
                                         "iso-8859-15"};
        size_t i = 0;
        for (; i < sizeof ok / sizeof ok[0]; i++)
            if (strcasecmp(enc, ok[i]) == 0)
                break;
        if (i == sizeof ok / sizeof ok[0]) {
            snprintf(path, sizeof path, "%s.encoding", base);
            problem(report, ud, &bad, path,
                    "must be utf-8, windows-1252 (cp1252), iso-8859-1 (latin1) or iso-8859-15");
        } else {
            f->encoding = strdup(strcasecmp(enc, "cp1252") == 0 ? "WINDOWS-1252"
                                 : strcasecmp(enc, "latin1") == 0 ? "ISO-8859-1"
                                                                  : enc);
        }
    }
    json_t *hr = json_object_get(m, "header_row");
    f->header_row = hr ? (long)json_integer_value(hr) : 1;
    if (hr && (!json_is_integer(hr) || f->header_row < 1 || f->header_row > 1000)) {
        snprintf(path, sizeof path, "%s.header_row", base);
        problem(report, ud, &bad, path, "must be an integer from 1 to 1000");
    }
    json_t *sf = json_object_get(m, "skip_footer_rows");
    f->skip_footer_rows = sf ? (long)json_integer_value(sf) : 0;
    if (sf && (!json_is_integer(sf) || f->skip_footer_rows < 0 || f->skip_footer_rows > 1000)) {
        snprintf(path, sizeof path, "%s.skip_footer_rows", base);
        problem(report, ud, &bad, path, "must be an integer from 0 to 1000");
    }
    f->sheet = dup_or_null(json_string_value(json_object_get(m, "sheet")));
    const char *df = json_string_value(json_object_get(m, "date_format"));
    if (df && !bs_date_format_ok(df)) {
        snprintf(path, sizeof path, "%s.date_format", base);
        problem(report, ud, &bad, path,
                "must use dd, MM or MMM and yyyy or yy (e.g. dd-MM-yyyy, dd-MMM-yyyy, yyyy-MM-dd)");
    }
    f->date_format = dup_or_null(df);
    const char *unit = json_string_value(json_object_get(m, "amount_unit"));
    if (unit && strcmp(unit, "paise") == 0)
        f->amount_in_paise = 1;
    else if (unit && strcmp(unit, "rupees") != 0) {
        snprintf(path, sizeof path, "%s.amount_unit", base);
        problem(report, ud, &bad, path, "must be rupees or paise");
    }

    json_object_foreach(cols, key, val) {
        snprintf(path, sizeof path, "%s.columns.%.60s", base, key);
        size_t i = 0;
        for (; i < BF_COUNT; i++)
            if (strcmp(key, bs_field_names[i]) == 0)
                break;
        if (i == BF_COUNT) {
            problem(report, ud, &bad, path, "is not a target field (bank_ref, amount, credit, "
                                            "debit, net_amount, transaction_date, value_date, "
                                            "utr, rrn, remarks, debit_credit)");
        } else if (json_is_null(val)) {
            continue; /* an override may remove a template's column */
        } else if (!json_is_string(val) || json_string_length(val) == 0) {
            problem(report, ud, &bad, path, "must be the file's column name");
        } else {
            f->columns[i] = strdup(json_string_value(val));
        }
    }
    if (!f->columns[BF_BANK_REF]) {
        snprintf(path, sizeof path, "%s.columns.bank_ref", base);
        problem(report, ud, &bad, path, "is required");
    }
    if (!f->columns[BF_TXN_DATE]) {
        snprintf(path, sizeof path, "%s.columns.transaction_date", base);
        problem(report, ud, &bad, path, "is required");
    }
    int pair = f->columns[BF_CREDIT] || f->columns[BF_DEBIT];
    if (!f->columns[BF_AMOUNT] && !pair) {
        snprintf(path, sizeof path, "%s.columns.amount", base);
        problem(report, ud, &bad, path, "is required (or the credit / debit pair)");
    } else if (f->columns[BF_AMOUNT] && pair) {
        snprintf(path, sizeof path, "%s.columns.amount", base);
        problem(report, ud, &bad, path, "give amount or credit/debit, not both");
    }
    f->template_name = dup_or_null(tname);
    json_decref(m);
    if (bad)
        bs_format_free(f);
    return bad;
}

void bs_format_free(bs_format *f)
{
    free(f->encoding);
    free(f->sheet);
    free(f->date_format);
    free(f->template_name);
    for (int i = 0; i < BF_COUNT; i++)
        free(f->columns[i]);
    memset(f, 0, sizeof *f);
}
