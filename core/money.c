/*
 * money.c — exact parsing of amounts into integer paise (see money.h).
 *
 * Money never goes through a double: the digits are accumulated into an
 * unsigned 64-bit magnitude with explicit overflow checks, so "10.10" is
 * 1010 paise and not 1009.9999. Anything that is not plainly a number in
 * the accepted form is refused with a reason instead of being "fixed":
 * a bank's figures are not ours to round or reinterpret.
 */
#include "money.h"

#include <stdbool.h>

/* Largest magnitude allowed for a sign: 2^63 for negatives, 2^63-1 else. */
static uint64_t magnitude_limit(bool negative)
{
    return negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
}

/* Turns a sign and a checked magnitude into an int64 without overflow in
 * the INT64_MIN case (negating 2^63 as a signed value is undefined). */
static int64_t apply_sign(uint64_t mag, bool negative)
{
    if (!negative)
        return (int64_t)mag;
    if (mag == (uint64_t)INT64_MAX + 1u)
        return INT64_MIN;
    return -(int64_t)mag;
}

/* Explains why a character cannot appear in an amount; the specific
 * reasons tell a driver author what their source actually sends. */
static const char *bad_char_reason(char c)
{
    if (c == ',' || c == '_' || c == '\'')
        return "has digit grouping (write 1000.00, not 1,000.00)";
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        return "contains spaces";
    if (c == 'e' || c == 'E')
        return "has an exponent";
    return "is not a number";
}

/* Reads an optional leading sign; returns the index of the first digit. */
static size_t read_sign(const char *s, size_t len, bool *negative)
{
    *negative = false;
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        *negative = s[0] == '-';
        return 1;
    }
    return 0;
}

/* Accumulates one decimal digit into *mag; false on overflow of limit. */
static bool push_digit(uint64_t *mag, int digit, uint64_t limit)
{
    if (*mag > (limit - (uint64_t)digit) / 10u)
        return false;
    *mag = *mag * 10u + (uint64_t)digit;
    return true;
}

int cd_money_parse_rupees(const char *s, size_t len, int64_t *paise, const char **why)
{
    if (!s || len == 0) {
        *why = "is empty";
        return -1;
    }
    bool negative;
    size_t i = read_sign(s, len, &negative);
    uint64_t limit = magnitude_limit(negative);
    uint64_t mag = 0;
    size_t int_digits = 0, frac_digits = 0;
    bool point = false;

    /* Whole rupees first, then at most two decimals; each digit is pushed
     * into the paise magnitude, and the missing decimals are padded after
     * the loop, so the result is exact or an error. Zeros past the second
     * decimal change nothing and are skipped: a numeric(18,4) column
     * prints 100.50 as "100.5000", and refusing it would be refusing the
     * notation, not the amount. Any other digit there is a fraction of a
     * paisa, refused. */
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (point) {
                if (frac_digits == 2) {
                    if (c != '0') {
                        *why = "has more than 2 decimals";
                        return -1;
                    }
                    continue;
                }
                frac_digits++;
            } else {
                int_digits++;
            }
            if (!push_digit(&mag, c - '0', limit)) {
                *why = "is out of range";
                return -1;
            }
        } else if (c == '.' && !point) {
            point = true;
        } else if (c == '.') {
            *why = "is not a number";
            return -1;
        } else {
            *why = bad_char_reason(c);
            return -1;
        }
    }
    if (int_digits == 0) {
        /* ".5" and "-" are refused: a source that drops the leading zero
         * is likely to be mangling the number in other ways too. */
        *why = point && frac_digits ? "has no digit before the decimal point" : "is not a number";
        return -1;
    }
    if (point && frac_digits == 0) {
        *why = "has no digit after the decimal point";
        return -1;
    }
    for (; frac_digits < 2; frac_digits++) {
        if (!push_digit(&mag, 0, limit)) {
            *why = "is out of range";
            return -1;
        }
    }
    *paise = apply_sign(mag, negative);
    return 0;
}

int cd_money_parse_paise(const char *s, size_t len, int64_t *paise, const char **why)
{
    if (!s || len == 0) {
        *why = "is empty";
        return -1;
    }
    bool negative;
    size_t i = read_sign(s, len, &negative);
    if (i == len) {
        *why = "is not a number";
        return -1;
    }
    uint64_t limit = magnitude_limit(negative);
    uint64_t mag = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (!push_digit(&mag, c - '0', limit)) {
                *why = "is out of range";
                return -1;
            }
        } else if (c == '.') {
            *why = "is not a whole number of paise";
            return -1;
        } else {
            *why = bad_char_reason(c);
            return -1;
        }
    }
    *paise = apply_sign(mag, negative);
    return 0;
}
