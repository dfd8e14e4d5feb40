/*
 * discover.h — which names in a remote directory are the run's data files.
 *
 * A file_pattern is an anchored glob ('*', '?') with date placeholders for
 * the run date — {YYYYMMDD}, {YYYY-MM-DD}, {DDMMYYYY}, {DD-MM-YYYY},
 * {YYMMDD}, {DDMMMYYYY} (02OCT2025), {date} — and {SEQ}, one or more
 * digits (several files a day). Sidecars (.sha256, .md5, the done marker)
 * and temporary names (.part, .tmp, .filepart) are never data files.
 */
#ifndef BS_DISCOVER_H
#define BS_DISCOVER_H

#include <stddef.h>

/* The pattern for an ISO date: placeholders replaced, {SEQ} kept as a
 * marker for bs_pattern_match. Malloc'd; NULL for a bad date. */
char *bs_pattern_expand(const char *pattern, const char *iso_date);
/* The pattern for any date: each date placeholder becomes '*' ({SEQ} as
 * in bs_pattern_expand). Malloc'd; NULL on ENOMEM. */
char *bs_pattern_any_date(const char *pattern);
/* The length of the first "{...}" in pattern that is no placeholder
 * (*at set to it), or 0 when every brace is one. A typo such as
 * {YYYYMMD} would otherwise match nothing, day after day, as a late file. */
size_t bs_pattern_unknown_placeholder(const char *pattern, const char **at);
/* The expanded pattern as ops should read it ({SEQ} spelled out). */
char *bs_pattern_display(const char *expanded);
/* 1 if name matches the expanded pattern. */
int bs_pattern_match(const char *expanded, const char *name);

/* 1 for .part / .tmp / .filepart names and dot files being uploaded. */
int bs_is_temp_name(const char *name);
/* 1 for .sha256 / .md5 sidecars and names ending in marker_suffix. */
int bs_is_sidecar(const char *name, const char *marker_suffix);

/* strcmp with digit runs compared as numbers: FILE_2 before FILE_10; names
 * equal as numbers (FILE_02, FILE_2) in byte order, 0 only for equal names. */
int bs_natural_cmp(const char *a, const char *b);

#endif
