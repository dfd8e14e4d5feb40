/*
 * xlsx.h — a streaming XLSX reader (libzip + expat): the sheet's XML is
 * inflated and parsed in chunks, one row at a time, so memory grows with
 * the shared-string table (which XLSX needs random access to) but not with
 * the number of rows.
 *
 * Reads the sheet named (hidden or not), else the first visible worksheet, shared strings (rich-text runs
 * joined, phonetic runs skipped), inline strings, formula string results,
 * booleans and numbers (marked numeric, so amounts and Excel date serials
 * are read as numbers); empty cells and skipped columns are empty strings.
 */
#ifndef BS_XLSX_H
#define BS_XLSX_H

#include "row.h"

/* Reads path. Returns 0, the first nonzero callback result, or -1 with
 * *why (malloc'd) for a file that is not a readable workbook. */
int bs_xlsx_read(const char *path, const char *sheet, bs_row_fn on_row, void *ud, char **why);
/* The same; *note (malloc'd, or left NULL) says which sheet was read when
 * that is not the obvious one: a hidden first sheet passed over, or a
 * hidden sheet read because the format names it. For the run's log. */
int bs_xlsx_read_noted(const char *path, const char *sheet, bs_row_fn on_row, void *ud,
                       char **note, char **why);

/* The same over a workbook held in memory (fuzzing, tests). */
int bs_xlsx_read_mem(const void *data, size_t len, const char *sheet, bs_row_fn on_row, void *ud,
                     char **why);

#endif
