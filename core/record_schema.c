/*
 * record_schema.c — dataset columns, row validation and COPY-text encoding
 * (see record_schema.h).
 *
 * Every rule a target table enforces is checked here first, so that
 * PostgreSQL never refuses a COPY line: a refused line would abort the
 * whole run instead of rejecting one record.
 */
#include "record_schema.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datetime.h"
#include "money.h"

#define T CD_RS_TEXT
#define REQ CD_RS_REQUIRED
#define KEY CD_RS_KEY
#define ALW CD_RS_ALWAYS

/* Column order is the staging and merge order; transaction_date precedes
 * transaction_timestamp so a row's date is checked before it is used as
 * the timestamp's default. Fallbacks mirror the table defaults: a new row
 * gets the same value from a NULL a driver sends as from a column it did
 * not send. An existing row differs: a column the driver declared takes
 * what the source says now, its fallback for a NULL included (the latest
 * load is the source's truth), while an undeclared one is never touched
 * (sink.c, the merge). */
static const cd_rs_column pg_transaction_columns[] = {
    {"transaction_id", NULL, "text", T, 100, REQ | KEY, NULL},
    {"merchant_id", NULL, "text", T, 50, REQ, NULL},
    {"amount_paise", "amount", "bigint", CD_RS_PAISE, 0, REQ, NULL},
    {"currency", NULL, "text", CD_RS_CURRENCY, 3, 0, "INR"},
    {"transaction_date", NULL, "date", CD_RS_DATE, 0, REQ, NULL},
    {"transaction_timestamp", NULL, "timestamptz", CD_RS_TIMESTAMP, 0, ALW, NULL},
    {"source_type", NULL, "text", T, 20, ALW, "CONNECTOR"},
    {"source_name", NULL, "text", T, 100, 0, NULL},
    {"batch_id", NULL, "text", T, 100, 0, NULL},
    {"payment_method", NULL, "text", T, 50, 0, NULL},
    {"gateway_ref", NULL, "text", T, 100, 0, NULL},
    {"utr", NULL, "text", T, 50, 0, NULL},
    {"rrn", NULL, "text", T, 50, 0, NULL},
    {"status", NULL, "text", T, 20, 0, "PENDING"},
    {"bank_fee_paise", "bank_fee", "bigint", CD_RS_PAISE, 0, 0, "0"},
    {"settlement_amount_paise", "settlement_amount", "bigint", CD_RS_PAISE, 0, 0, "0"},
    {"acquirer_code", NULL, "text", T, 50, 0, NULL},
    {"merchant_name", NULL, "text", T, 255, 0, NULL},
};

static const cd_rs_column bank_statement_columns[] = {
    {"bank_ref", NULL, "text", T, 100, REQ | KEY, NULL},
    {"bank_name", NULL, "text", T, 100, REQ | KEY, NULL},
    /* The magnitude precedes its direction: encoding the amount decides
     * what debit_credit stores. */
    {"amount_paise", "amount", "bigint", CD_RS_PAISE, 0, REQ | CD_RS_MAGNITUDE, NULL},
    {"transaction_date", NULL, "date", CD_RS_DATE, 0, REQ, NULL},
    {"value_date", NULL, "date", CD_RS_DATE, 0, 0, NULL},
    {"utr", NULL, "text", T, 50, 0, NULL},
    {"rrn", NULL, "text", T, 50, 0, NULL},
    {"remarks", NULL, "text", T, 0, 0, NULL},
    {"debit_credit", NULL, "text", T, 10, ALW | CD_RS_DIRECTION, NULL},
    {"net_amount_paise", "net_amount", "bigint", CD_RS_PAISE, 0, 0, NULL},
    {"source_type", NULL, "text", T, 20, ALW, "CONNECTOR"},
    {"source_file", NULL, "text", T, 255, 0, NULL},
    {"batch_id", NULL, "text", T, 100, 0, NULL},
};

#undef T
#undef REQ
#undef KEY
#undef ALW

static const cd_rs_dataset datasets[] = {
    {CD_DATASET_PG_TRANSACTION, "sp_v2_transactions", pg_transaction_columns,
     sizeof pg_transaction_columns / sizeof pg_transaction_columns[0]},
    {CD_DATASET_BANK_STATEMENT, "sp_v2_bank_statements", bank_statement_columns,
     sizeof bank_statement_columns / sizeof bank_statement_columns[0]},
};

const cd_rs_dataset *cd_rs_dataset_get(cd_dataset dataset)
{
    for (size_t i = 0; i < sizeof datasets / sizeof datasets[0]; i++)
        if (datasets[i].dataset == dataset)
            return &datasets[i];
    return NULL;
}

/* Appends "sep'name'" to an error list, starting it with head. */
static void list_add(cd_buf *b, const char *head, const char *item)
{
    cd_buf_puts(b, b->len ? ", " : head);
    cd_buf_printf(b, "'%s'", item);
}

int cd_rs_layout_init(cd_rs_layout *layout, const cd_rs_dataset *ds, const char *const *names,
                      size_t n, char **err)
{
    memset(layout, 0, sizeof *layout);
    layout->ds = ds;
    layout->ninput = n;
    layout->date_input = -1;
    layout->dir_input = -1;
    long *paise_in = cd_xmalloc(ds->ncolumns * sizeof *paise_in);
    long *rupee_in = cd_xmalloc(ds->ncolumns * sizeof *rupee_in);
    for (size_t c = 0; c < ds->ncolumns; c++)
        paise_in[c] = rupee_in[c] = -1;

    cd_buf unknown, dup, missing;
    cd_buf_init(&unknown), cd_buf_init(&dup), cd_buf_init(&missing);
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i] ? names[i] : "(null)";
        bool found = false;
        for (size_t c = 0; c < ds->ncolumns && !found; c++) {
            long *slot = NULL;
            if (strcmp(name, ds->columns[c].name) == 0)
                slot = &paise_in[c];
            else if (ds->columns[c].rupee_name && strcmp(name, ds->columns[c].rupee_name) == 0)
                slot = &rupee_in[c];
            if (!slot)
                continue;
            found = true;
            if (*slot >= 0)
                list_add(&dup, "declared twice: ", name);
            else
                *slot = (long)i;
        }
        if (!found)
            list_add(&unknown, "", name);
    }
    for (size_t c = 0; c < ds->ncolumns; c++) {
        const cd_rs_column *col = &ds->columns[c];
        if ((col->flags & CD_RS_REQUIRED) && paise_in[c] < 0 && rupee_in[c] < 0) {
            char *item = col->rupee_name ? cd_sprintf("%s' or '%s", col->name, col->rupee_name)
                                         : cd_xstrdup(col->name);
            list_add(&missing, "missing required column ", item);
            free(item);
        }
    }

    int rc = 0;
    if (unknown.len || dup.len || missing.len) {
        cd_buf msg;
        cd_buf_init(&msg);
        cd_buf_printf(&msg, "columns for %s: ", ds->table);
        const char *sep = "";
        if (unknown.len) {
            cd_buf_printf(&msg, "unknown column%s %s", strchr(unknown.data, ',') ? "s" : "",
                          unknown.data);
            sep = "; ";
        }
        if (dup.len) {
            cd_buf_printf(&msg, "%s%s", sep, dup.data);
            sep = "; ";
        }
        if (missing.len)
            cd_buf_printf(&msg, "%s%s", sep, missing.data);
        *err = cd_buf_take(&msg);
        rc = -1;
    } else {
        layout->stage = cd_xcalloc(ds->ncolumns, sizeof *layout->stage);
        for (size_t c = 0; c < ds->ncolumns; c++) {
            const cd_rs_column *col = &ds->columns[c];
            bool declared = paise_in[c] >= 0 || rupee_in[c] >= 0;
            if (strcmp(col->name, "transaction_date") == 0)
                layout->date_input = paise_in[c];
            if (col->flags & CD_RS_DIRECTION)
                layout->dir_input = paise_in[c];
            if (!declared && !(col->flags & CD_RS_ALWAYS))
                continue;
            cd_rs_stage_col *sc = &layout->stage[layout->nstage++];
            sc->col = col;
            sc->paise_input = paise_in[c];
            sc->rupee_input = rupee_in[c];
            /* The direction is the amount's sign as much as the
             * indicator's: a load that changes an amount's sign must
             * change its debit_credit too, declared or not. */
            sc->declared = declared || (col->flags & CD_RS_DIRECTION);
        }
    }
    cd_buf_free(&unknown), cd_buf_free(&dup), cd_buf_free(&missing);
    free(paise_in);
    free(rupee_in);
    return rc;
}

void cd_rs_layout_free(cd_rs_layout *layout)
{
    free(layout->stage);
    memset(layout, 0, sizeof *layout);
}

/* Word-at-a-time tests on 8 bytes (exact as yes/no answers): any byte
 * zero, any byte below n (n <= 128), any byte with its high bit set. */
#define RS_ONES UINT64_C(0x0101010101010101)
#define RS_HIGHS UINT64_C(0x8080808080808080)
#define RS_HAS_ZERO(w) (((w) - RS_ONES) & ~(w) & RS_HIGHS)
#define RS_HAS_LESS(w, n) (((w) - RS_ONES * (n)) & ~(w) & RS_HIGHS)

long cd_rs_utf8_chars(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    long chars = 0;
    size_t i = 0;
    while (i < len) {
        /* Runs of ASCII without NUL, 8 bytes at a time: most values are
         * nothing else. */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & RS_HIGHS) || RS_HAS_ZERO(w))
                break;
            i += 8, chars += 8;
        }
        if (i == len)
            break;
        unsigned char c = p[i];
        if (c == 0)
            return -1;
        if (c < 0x80) {
            i++, chars++;
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
            return -1; /* stray continuation byte, C0/C1 overlong lead, or > U+10FFFF */
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
        chars++;
    }
    return chars;
}

void cd_rs_copy_escape(cd_buf *out, const char *s, size_t len)
{
    /* The escape letter of each byte COPY text must escape, else 0. */
    static const char esc[256] = {['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r'};
    /* Worst case every byte doubles; reserving once keeps the loop free
     * of capacity checks on the hot path. */
    cd_buf_reserve(out, 2 * len);
    char *d = out->data + out->len;
    size_t i = 0;
    while (i < len) {
        /* The run up to the next byte to escape: skipped 8 bytes at a time
         * while a word holds no byte below 0x0E and no backslash (0x5C),
         * then byte by byte, and copied at once. */
        size_t run = i;
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (RS_HAS_LESS(w, 0x0E) || RS_HAS_ZERO(w ^ (RS_ONES * 0x5C)))
                break;
            i += 8;
        }
        while (i < len && !esc[(unsigned char)s[i]])
            i++;
        memcpy(d, s + run, i - run);
        d += i - run;
        if (i < len) {
            *d++ = '\\';
            *d++ = esc[(unsigned char)s[i++]];
        }
    }
    out->len = (size_t)(d - out->data);
    out->data[out->len] = '\0';
}

/* Trims ASCII spaces around values[idx]; false when there is no value or
 * only spaces. */
static bool input_value(const char *const *values, const size_t *lengths, long idx,
                        const char **s, size_t *len)
{
    if (idx < 0 || !values[idx])
        return false;
    const char *v = values[idx];
    size_t n = lengths ? lengths[idx] : strlen(v);
    while (n && v[0] == ' ')
        v++, n--;
    while (n && v[n - 1] == ' ')
        n--;
    *s = v, *len = n;
    return n > 0;
}

/* A printable, always-valid-UTF-8 quotation of a bad value for a reason
 * text: bytes outside printable ASCII as \xNN, long values cut short. */
static void quote_value(cd_buf *b, const char *s, size_t len)
{
    const size_t max = 40;
    cd_buf_putc(b, '\'');
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            cd_buf_putc(b, (char)c);
        else
            cd_buf_printf(b, "\\x%02X", c);
    }
    cd_buf_puts(b, len > max ? "'..." : "'");
}

/* Builds "<name>: '<value>' <why>" (value omitted when s is NULL). */
static char *reason_with_value(const char *name, const char *s, size_t len, const char *why)
{
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_printf(&b, "%s: ", name);
    if (s) {
        quote_value(&b, s, len);
        cd_buf_putc(&b, ' ');
    }
    cd_buf_puts(&b, why);
    return cd_buf_take(&b);
}

/* Appends the checked text value of a TEXT or CURRENCY column: valid
 * UTF-8 without NUL, storable in the database's encoding, not longer than
 * the column (in bytes with count_bytes: a SQL_ASCII database). */
static int put_text(const cd_rs_layout *layout, const cd_rs_column *col, const char *s,
                    size_t len, cd_buf *out, char **reason)
{
    bool count_bytes = layout->count_bytes;
    long chars = cd_rs_utf8_chars(s, len); /* -1 for a NUL byte too */
    if (chars < 0) {
        if (memchr(s, '\0', len))
            *reason = cd_sprintf("%s: contains a NUL byte", col->name);
        else
            *reason = reason_with_value(col->name, s, len, "is not valid UTF-8");
        return -1;
    }
    if (col->kind == CD_RS_CURRENCY) {
        bool ok = len == 3;
        for (size_t i = 0; ok && i < 3; i++)
            ok = s[i] >= 'A' && s[i] <= 'Z';
        if (!ok) {
            *reason = reason_with_value(col->name, s, len, "is not a 3-letter uppercase code");
            return -1;
        }
    }
    /* Fewer characters than bytes: there is a byte past ASCII, which every
     * server encoding holds as it is. A character the database's encoding
     * lacks would make the server refuse the COPY, the whole run. */
    if ((size_t)chars < len && layout->storable &&
        !layout->storable(layout->storable_ctx, s, len)) {
        char *why = cd_sprintf("has a character the database's encoding (%s) cannot hold",
                               layout->encoding ? layout->encoding : "?");
        *reason = reason_with_value(col->name, s, len, why);
        free(why);
        return -1;
    }
    if (col->max_chars && (unsigned long)chars > col->max_chars) {
        *reason = cd_sprintf("%s: longer than %u characters", col->name, col->max_chars);
        return -1;
    }
    /* A SQL_ASCII database takes each byte of UTF-8 text for a character:
     * its VARCHAR(n) holds n bytes, and a longer value would make the
     * server refuse the COPY, the whole run, instead of this one row. */
    if (count_bytes && col->max_chars && len > col->max_chars) {
        *reason = cd_sprintf("%s: longer than %u bytes (%ld characters; the database's "
                             "encoding is SQL_ASCII, which counts bytes)",
                             col->name, col->max_chars, chars);
        return -1;
    }
    cd_rs_copy_escape(out, s, len);
    return 0;
}

/* Reads the amount of a PAISE column from whichever twin the row gives.
 * 1 with *paise, the trimmed text (*s, *len) and the input name it came
 * from (*name); 0 when neither twin has a value and the column is
 * optional; -1 with *field and *reason on error. */
static int read_amount(const cd_rs_stage_col *sc, const char *const *values,
                       const size_t *lengths, int64_t *paise, const char **s, size_t *len,
                       const char **name, const char **field, char **reason)
{
    const cd_rs_column *col = sc->col;
    const char *ps = NULL, *rs = NULL;
    size_t plen = 0, rlen = 0;
    bool has_p = input_value(values, lengths, sc->paise_input, &ps, &plen);
    bool has_r = input_value(values, lengths, sc->rupee_input, &rs, &rlen);
    const char *why;
    if (has_p && has_r) {
        *field = col->name;
        *reason = cd_sprintf("%s: both %s and %s are given; send one", col->name, col->name,
                             col->rupee_name);
        return -1;
    }
    if (has_p) {
        if (cd_money_parse_paise(ps, plen, paise, &why) != 0) {
            *field = col->name;
            *reason = reason_with_value(col->name, ps, plen, why);
            return -1;
        }
        *s = ps, *len = plen, *name = col->name;
        return 1;
    }
    if (has_r) {
        if (cd_money_parse_rupees(rs, rlen, paise, &why) != 0) {
            *field = col->rupee_name;
            *reason = reason_with_value(col->rupee_name, rs, rlen, why);
            return -1;
        }
        *s = rs, *len = rlen, *name = col->rupee_name;
        return 1;
    }
    /* Name the column the driver declared, so the message matches what
     * its author wrote. */
    *name = sc->paise_input >= 0 ? col->name : col->rupee_name;
    if (col->flags & CD_RS_REQUIRED) {
        *field = *name;
        *reason = cd_sprintf("%s: missing", *name);
        return -1;
    }
    return 0;
}

/* Appends the amount of a PAISE column, or its fallback. */
static int put_amount(const cd_rs_stage_col *sc, const char *const *values, const size_t *lengths,
                      cd_buf *out, const char **field, char **reason)
{
    int64_t paise;
    const char *s, *name;
    size_t len;
    int rc = read_amount(sc, values, lengths, &paise, &s, &len, &name, field, reason);
    if (rc < 0)
        return -1;
    if (rc == 0)
        cd_buf_puts(out, sc->col->fallback ? sc->col->fallback : "\\N");
    else
        cd_buf_put_i64(out, paise);
    return 0;
}

/* The debit/credit indicator at values[idx] without the blanks around it
 * (ASCII white space, and the no-break space C2 A0 spreadsheet exports
 * leave); false when there is none or only blanks. */
static bool dir_value(const char *const *values, const size_t *lengths, long idx,
                      const char **s, size_t *len)
{
    if (idx < 0 || !values[idx])
        return false;
    const unsigned char *p = (const unsigned char *)values[idx];
    size_t n = lengths ? lengths[idx] : strlen(values[idx]);
    for (;;) {
        if (n && (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r')))
            p++, n--;
        else if (n >= 2 && p[0] == 0xC2 && p[1] == 0xA0)
            p += 2, n -= 2;
        else
            break;
    }
    for (;;) {
        if (n && (p[n - 1] == ' ' || (p[n - 1] >= '\t' && p[n - 1] <= '\r')))
            n--;
        else if (n >= 2 && p[n - 2] == 0xC2 && p[n - 1] == 0xA0)
            n -= 2;
        else
            break;
    }
    *s = (const char *)p, *len = n;
    return n > 0;
}

/* Whether s[0..len) is word (lowercase ASCII), in any case. */
static bool same_ci(const char *s, size_t len, const char *word)
{
    size_t i = 0;
    for (; i < len && word[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != (unsigned char)word[i])
            return false;
    }
    return i == len && !word[i];
}

typedef enum rs_dir { RS_DIR_OTHER = 0, RS_DIR_CREDIT, RS_DIR_DEBIT } rs_dir;

static const char rs_credit[] = "CR", rs_debit[] = "DR";

/* What an indicator says, as bank_sftp and bank_api read one: C, CR,
 * Credit / D, DR, Debit, any case, one trailing dot allowed ("Dr."). */
static rs_dir indicator(const char *s, size_t len)
{
    if (len > 1 && s[len - 1] == '.')
        len--;
    if (len == 0 || len > 6)
        return RS_DIR_OTHER;
    if (same_ci(s, len, "c") || same_ci(s, len, "cr") || same_ci(s, len, "credit"))
        return RS_DIR_CREDIT;
    if (same_ci(s, len, "d") || same_ci(s, len, "dr") || same_ci(s, len, "debit"))
        return RS_DIR_DEBIT;
    return RS_DIR_OTHER;
}

/* Appends the magnitude of a bank statement's amount and decides its
 * direction: *dir / *dir_len is what debit_credit stores (NULL: nothing).
 * A minus says debit; an indicator is normalised to CR / DR; one that
 * contradicts the minus, or text that is neither beside it, is an error on
 * the direction column. */
static int put_magnitude(const cd_rs_layout *layout, const cd_rs_stage_col *sc,
                         const char *const *values, const size_t *lengths, cd_buf *out,
                         const char **dir, size_t *dir_len, const char **field, char **reason)
{
    int64_t paise;
    const char *s, *name;
    size_t len;
    if (read_amount(sc, values, lengths, &paise, &s, &len, &name, field, reason) != 1)
        return -1; /* the magnitude column is required: 0 cannot happen */
    const char *ind = NULL;
    size_t ilen = 0;
    bool has_ind = dir_value(values, lengths, layout->dir_input, &ind, &ilen);
    rs_dir said = has_ind ? indicator(ind, ilen) : RS_DIR_OTHER;
    if (s[0] == '-') { /* "-0.00" too: the source wrote a debit */
        if (paise == INT64_MIN) {
            *field = name;
            *reason =
                reason_with_value(name, s, len, "is out of range (its magnitude is no bigint)");
            return -1;
        }
        if (has_ind && said != RS_DIR_DEBIT) {
            cd_buf b;
            cd_buf_init(&b);
            cd_buf_puts(&b, "debit_credit: ");
            quote_value(&b, ind, ilen);
            cd_buf_puts(&b, said == RS_DIR_CREDIT
                                ? " says credit, the amount "
                                : " is neither credit nor debit, and the amount ");
            quote_value(&b, s, len);
            cd_buf_puts(&b, said == RS_DIR_CREDIT
                                ? " says debit"
                                : " is a debit: its direction would be lost (send C/CR/Credit, "
                                  "D/DR/Debit or nothing)");
            *field = "debit_credit";
            *reason = cd_buf_take(&b);
            return -1;
        }
        paise = -paise;
        *dir = rs_debit, *dir_len = 2;
    } else if (has_ind) {
        if (said == RS_DIR_CREDIT)
            *dir = rs_credit, *dir_len = 2;
        else if (said == RS_DIR_DEBIT)
            *dir = rs_debit, *dir_len = 2;
        else
            *dir = ind, *dir_len = ilen; /* kept; checked as text with its column */
    }
    cd_buf_put_i64(out, paise);
    return 0;
}

int cd_rs_encode_row(const cd_rs_layout *layout, int64_t lead, const char *const *values,
                     const size_t *lengths, cd_buf *out, const char **field, char **reason)
{
    size_t start = out->len;
    const char *dir = NULL; /* debit_credit as the amount decided it */
    size_t dir_len = 0;
    cd_buf_put_i64(out, lead);
    for (size_t k = 0; k < layout->nstage; k++) {
        const cd_rs_stage_col *sc = &layout->stage[k];
        const cd_rs_column *col = sc->col;
        cd_buf_putc(out, '\t');
        if (col->kind == CD_RS_PAISE) {
            if (col->flags & CD_RS_MAGNITUDE
                    ? put_magnitude(layout, sc, values, lengths, out, &dir, &dir_len, field,
                                    reason) != 0
                    : put_amount(sc, values, lengths, out, field, reason) != 0)
                goto bad;
            continue;
        }
        const char *s;
        size_t len;
        *field = col->name;
        if (col->flags & CD_RS_DIRECTION) {
            /* CR / DR as they are; text kept from the row is checked as
             * any text (UTF-8, at most 10 characters). */
            if (!dir)
                cd_buf_puts(out, "\\N");
            else if (dir == rs_credit || dir == rs_debit)
                cd_buf_append(out, dir, 2);
            else if (put_text(layout, col, dir, dir_len, out, reason) != 0)
                goto bad;
            continue;
        }
        if (!input_value(values, lengths, sc->paise_input, &s, &len)) {
            if (col->flags & CD_RS_REQUIRED) {
                *reason = cd_sprintf("%s: missing", col->name);
                goto bad;
            }
            if (col->kind == CD_RS_TIMESTAMP && layout->date_input >= 0 &&
                input_value(values, lengths, layout->date_input, &s, &len)) {
                /* A date alone is read by PostgreSQL as its midnight in
                 * the session zone, the connector's; it was checked as
                 * transaction_date already. */
                cd_buf_append(out, s, len);
            } else {
                cd_buf_puts(out, col->fallback ? col->fallback : "\\N");
            }
            continue;
        }
        const char *why;
        int has_zone;
        switch (col->kind) {
        case CD_RS_DATE:
            if (cd_date_valid(s, len, &why) != 0) {
                *reason = reason_with_value(col->name, s, len, why);
                goto bad;
            }
            cd_buf_append(out, s, len);
            break;
        case CD_RS_TIMESTAMP:
            if (cd_timestamp_valid(s, len, &has_zone, &why) != 0) {
                *reason = reason_with_value(col->name, s, len, why);
                goto bad;
            }
            cd_buf_append(out, s, len);
            break;
        default:
            if (put_text(layout, col, s, len, out, reason) != 0)
                goto bad;
        }
    }
    cd_buf_putc(out, '\n');
    return 0;
bad:
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return -1;
}
