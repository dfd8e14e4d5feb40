/*
 * amount.h — bank amounts to exact integer paise. No floating point: the
 * text is read digit by digit, so "1,00,000.10" is 10000010 paise exactly.
 *
 * Accepted: optional "INR" / "Rs." / "₹" prefix, a sign or parentheses
 * ("(1,250.50)" is negative), digits with thousands or Indian (lakh)
 * grouping commas, up to two decimals (more only when they are zeros), a
 * trailing "Cr" / "Dr" (any case, optional dot). With BS_AMT_NUMERIC (an
 * XLSX number cell, written by Excel as a double: "100.09999999999999",
 * "1.2505E3") an exponent is allowed and the value is rounded half away
 * from zero to the paisa. With BS_AMT_PAISE the text is already paise: no
 * decimals (a number cell's "12345.0" or "1.2345E4" is a whole number).
 */
#ifndef BS_AMOUNT_H
#define BS_AMOUNT_H

#include <stddef.h>
#include <stdint.h>

#define BS_AMT_NUMERIC 0x1u
#define BS_AMT_PAISE 0x2u

/* Direction the text itself states. */
typedef enum bs_dir { BS_DIR_NONE = 0, BS_DIR_CREDIT = 1, BS_DIR_DEBIT = 2 } bs_dir;

/* Parses s[0..len). Returns 0 with *paise (negative for "-", "(...)" and
 * "Dr") and *dir (the Cr/Dr suffix, DEBIT also for "-"/"(...)"), 1 for an
 * empty or blank value, -1 with *why (static text) for anything else. */
int bs_amount_parse(const char *s, size_t len, unsigned flags, int64_t *paise, bs_dir *dir,
                    const char **why);

#endif
