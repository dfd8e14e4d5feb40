/*
 * fixture.c — writes XLSX fixtures with libxlsxwriter for the bank_sftp
 * integration tests and benchmark (not part of the driver).
 *
 *   bank_sftp_fixture OUT.xlsx [--sheet NAME] [--title LINE] [--hidden NAME] < rows.tsv
 *       One sheet from tab-separated lines (--hidden: after a hidden first
 *       sheet of that name holding a small lookup table, as banks keep one). A cell that reads as a plain
 *       number is written as a number; "D:YYYY-MM-DD" as an Excel date
 *       (a serial with a date format); "S:text" forces a string.
 *   bank_sftp_fixture OUT.xlsx --gen N
 *       N rows of an HDFC-style sheet (constant-memory mode).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xlsxwriter.h>

static int is_number(const char *s)
{
    char *end;
    if (!*s)
        return 0;
    strtod(s, &end);
    return *end == '\0' && strspn(s, "-0123456789.") == strlen(s);
}

static int check(lxw_error e, const char *what)
{
    if (e != LXW_NO_ERROR) {
        fprintf(stderr, "bank_sftp_fixture: %s: %s\n", what, lxw_strerror(e));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT.xlsx [--sheet NAME] [--title LINE] [--hidden NAME] [--gen N]"
                        " < rows.tsv\n",
                argv[0]);
        return 2;
    }
    const char *sheet = NULL, *title = NULL, *hidden = NULL;
    long gen = -1;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--sheet") == 0)
            sheet = argv[i + 1];
        else if (strcmp(argv[i], "--title") == 0)
            title = argv[i + 1];
        else if (strcmp(argv[i], "--hidden") == 0)
            hidden = argv[i + 1];
        else if (strcmp(argv[i], "--gen") == 0)
            gen = atol(argv[i + 1]);
    }
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = NULL};
    lxw_workbook *wb = workbook_new_opt(argv[1], &opt);
    if (!wb) {
        fprintf(stderr, "bank_sftp_fixture: cannot create %s\n", argv[1]);
        return 1;
    }
    int bad = 0;
    lxw_worksheet *lookup = hidden ? workbook_add_worksheet(wb, hidden) : NULL;
    if (lookup) {
        bad |= check(worksheet_write_string(lookup, 0, 0, "Code", NULL), "lookup");
        bad |= check(worksheet_write_string(lookup, 0, 1, "Bank", NULL), "lookup");
        bad |= check(worksheet_write_string(lookup, 1, 0, "HD", NULL), "lookup");
        bad |= check(worksheet_write_string(lookup, 1, 1, "HDFC", NULL), "lookup");
    }
    lxw_worksheet *ws = workbook_add_worksheet(wb, sheet);
    if (lookup) {
        /* the active and first shown sheet cannot be hidden */
        worksheet_activate(ws);
        worksheet_set_first_sheet(ws);
        worksheet_hide(lookup);
    }
    lxw_format *datefmt = workbook_add_format(wb);
    format_set_num_format(datefmt, "dd-mm-yyyy");
    lxw_row_t row = 0;
    if (title)
        bad |= check(worksheet_write_string(ws, row++, 0, title, NULL), "title");
    if (gen >= 0) {
        const char *hdr[] = {"MERCHANT_TRACKID", "DOMESTIC AMT", "Net Amount", "TRANS DATE",
                             "SETTLE DATE"};
        for (int c = 0; c < 5; c++)
            bad |= check(worksheet_write_string(ws, row, (lxw_col_t)c, hdr[c], NULL), "header");
        row++;
        lxw_datetime d = {2025, 10, 2, 0, 0, 0};
        for (long i = 0; i < gen && !bad; i++, row++) {
            char ref[32];
            snprintf(ref, sizeof ref, "HDFC%010ld", i);
            double amt = (double)((i * 7919) % 1000000) / 100.0 + 1;
            bad |= check(worksheet_write_string(ws, row, 0, ref, NULL), "ref");
            bad |= check(worksheet_write_number(ws, row, 1, amt, NULL), "amount");
            bad |= check(worksheet_write_number(ws, row, 2, amt - 0.5, NULL), "net");
            bad |= check(worksheet_write_datetime(ws, row, 3, &d, datefmt), "date");
            bad |= check(worksheet_write_datetime(ws, row, 4, &d, datefmt), "date");
        }
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, stdin)) > 0 && !bad) {
            if (line[n - 1] == '\n')
                line[--n] = '\0';
            lxw_col_t col = 0;
            char *save = NULL;
            for (char *cell = strtok_r(line, "\t", &save); cell;
                 cell = strtok_r(NULL, "\t", &save), col++) {
                if (strcmp(cell, "-") == 0)
                    continue; /* an empty cell */
                if (strncmp(cell, "D:", 2) == 0) {
                    int y = 1900, mo = 1, da = 1;
                    sscanf(cell + 2, "%d-%d-%d", &y, &mo, &da);
                    lxw_datetime d = {y, mo, da, 0, 0, 0};
                    bad |= check(worksheet_write_datetime(ws, row, col, &d, datefmt), "date");
                } else if (strncmp(cell, "S:", 2) == 0) {
                    bad |= check(worksheet_write_string(ws, row, col, cell + 2, NULL), "string");
                } else if (is_number(cell)) {
                    bad |= check(worksheet_write_number(ws, row, col, strtod(cell, NULL), NULL),
                                 "number");
                } else {
                    bad |= check(worksheet_write_string(ws, row, col, cell, NULL), "string");
                }
            }
            row++;
        }
        free(line);
    }
    bad |= check(workbook_close(wb), "closing the workbook");
    return bad;
}
