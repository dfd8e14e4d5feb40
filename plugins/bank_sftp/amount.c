/* amount.c — see amount.h. */
#include "amount.h"

#include <string.h>

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Skips blanks and the UTF-8 no-break space (C2 A0) Excel exports love. */
static void trim(const char **s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)*s;
    size_t n = *len;
    for (;;) {
        if (n && is_space(p[0]))
            p++, n--;
        else if (n >= 2 && p[0] == 0xC2 && p[1] == 0xA0)
            p += 2, n -= 2;
        else
            break;
    }
    for (;;) {
        if (n && is_space(p[n - 1]))
            n--;
        else if (n >= 2 && p[n - 2] == 0xC2 && p[n - 1] == 0xA0)
            n -= 2;
        else
            break;
    }
    *s = (const char *)p;
    *len = n;
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* 1 if s[0..len) starts with word, case-insensitively. */
static int starts_ci(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (len < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != lower((unsigned char)word[i]))
            return 0;
    return 1;
}

int bs_amount_parse(const char *s, size_t len, unsigned flags, int64_t *paise, bs_dir *dir,
                    const char **why)
{
    *paise = 0;
    *dir = BS_DIR_NONE;
    *why = NULL;
    trim(&s, &len);
    if (len == 0)
        return 1;
    int negative = 0;
    bs_dir suffix = BS_DIR_NONE;

    /* Cr / Dr suffix, optionally with a dot and a space before it. */
    if (len >= 2) {
        size_t n = len;
        if (s[n - 1] == '.')
            n--;
        if (n >= 2 && (starts_ci(s + n - 2, 2, "cr") || starts_ci(s + n - 2, 2, "dr"))) {
            suffix = lower((unsigned char)s[n - 2]) == 'c' ? BS_DIR_CREDIT : BS_DIR_DEBIT;
            len = n - 2;
            trim(&s, &len);
        }
    }
    /* Parentheses: accounting negative. */
    int parens = 0;
    if (len >= 2 && s[0] == '(' && s[len - 1] == ')') {
        negative = parens = 1;
        s++, len -= 2;
        trim(&s, &len);
    }
    if (len && (s[0] == '-' || s[0] == '+')) {
        /* "(-100.00)": two signs; which one the bank meant is a guess. */
        if (parens) {
            *why = "a sign inside accounting parentheses";
            return -1;
        }
        negative = s[0] == '-';
        s++, len--;
        trim(&s, &len);
    }
    /* Currency prefixes. */
    if (starts_ci(s, len, "inr"))
        s += 3, len -= 3;
    else if (starts_ci(s, len, "rs."))
        s += 3, len -= 3;
    else if (starts_ci(s, len, "rs"))
        s += 2, len -= 2;
    else if (len >= 3 && memcmp(s, "\xE2\x82\xB9", 3) == 0)
        s += 3, len -= 3;
    trim(&s, &len);
    if (len && s[0] == '-' && !negative) {
        negative = 1;
        s++, len--;
    }
    if (len == 0) {
        *why = "no digits";
        return -1;
    }

    /* Integer part with grouping commas between digits. */
    uint64_t units = 0; /* paise, or the integer for BS_AMT_PAISE */
    const uint64_t limit = (uint64_t)INT64_MAX;
    size_t i = 0, digits = 0;
    int last_comma = 0;
    /* Groups between commas: a comma elsewhere is a decimal comma
     * ("1250,50") or a typo, and read as grouping it would be off by 100. */
    size_t run = 0, first_group = 0, groups = 0;
    unsigned middle_sizes = 0; /* bit 0: a middle group of 2, bit 1: of 3, bit 2: other */
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= '0' && c <= '9') {
            if (units > (limit - (c - '0')) / 10) {
                *why = "amount too large";
                return -1;
            }
            units = units * 10 + (c - '0');
            digits++;
            run++;
            last_comma = 0;
        } else if (c == ',') {
            if (digits == 0 || last_comma || (flags & BS_AMT_NUMERIC)) {
                *why = "misplaced comma";
                return -1;
            }
            if (groups++ == 0)
                first_group = run;
            else
                middle_sizes |= run == 2 ? 1u : run == 3 ? 2u : 4u;
            run = 0;
            last_comma = 1;
        } else {
            break;
        }
    }
    /* Indian (1,00,00,000: middle groups of 2) or international
     * (10,000,000: of 3); the last group has 3 digits, the first 1 to 3
     * (1 or 2 when the middle groups have 2). */
    if (groups && (run != 3 || first_group < 1 || first_group > 3 || middle_sizes == 3 ||
                   (middle_sizes & 4u) || (middle_sizes == 1 && first_group == 3))) {
        *why = "commas not in thousands or Indian (lakh) grouping";
        return -1;
    }
    if (last_comma) {
        *why = "misplaced comma";
        return -1;
    }
    int frac[2] = {0, 0};
    int round_up = 0;
    size_t nfrac = 0;
    int exp10 = 0;
    int frac_nonzero = 0; /* a decimal other than 0 (paise: not a whole number) */
    if (i < len && s[i] == '.') {
        /* Paise in text have no point. An XLSX number cell is a double,
         * which a writer may show as "12345.0" or "1.2345E4" (Apache POI
         * does): whole numbers all the same, checked below. */
        if ((flags & BS_AMT_PAISE) && !(flags & BS_AMT_NUMERIC)) {
            *why = "paise amounts have no decimals";
            return -1;
        }
        i++;
        size_t fstart = i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (s[i] != '0')
                frac_nonzero = 1;
            if (nfrac < 2)
                frac[nfrac++] = s[i] - '0';
            else if (!(flags & BS_AMT_NUMERIC) && s[i] != '0') {
                *why = "more than 2 decimals";
                return -1;
            } else if (nfrac == 2 && i == fstart + 2) {
                round_up = s[i] >= '5'; /* the third decimal decides */
            }
        }
        if (i == fstart && digits == 0) {
            *why = "no digits";
            return -1;
        }
    } else if (digits == 0) {
        *why = "no digits";
        return -1;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E') && (flags & BS_AMT_NUMERIC)) {
        /* Excel writes large or tiny doubles in scientific notation. Such
         * exponents shift the decimal point; handled by re-reading the
         * mantissa digits as a digit string. */
        i++;
        int eneg = 0;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        size_t e0 = i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (exp10 < 100)
                exp10 = exp10 * 10 + (s[i] - '0');
        if (i == e0) {
            *why = "bad exponent";
            return -1;
        }
        if (eneg)
            exp10 = -exp10;
    }
    if (i != len) {
        *why = "unexpected character";
        return -1;
    }
    if (exp10 != 0) {
        /* Collect all mantissa digits and place the point exp10 further. */
        char dg[64];
        size_t nd = 0, point = 0;
        int seen_point = 0;
        for (size_t k = 0; k < len && s[k] != 'e' && s[k] != 'E'; k++) {
            if (s[k] == '.') {
                seen_point = 1;
                continue;
            }
            if (s[k] < '0' || s[k] > '9')
                continue;
            if (nd == sizeof dg) {
                *why = "too many digits";
                return -1;
            }
            dg[nd++] = s[k];
            if (!seen_point)
                point++;
        }
        long p = (long)point + exp10;
        /* what the exponent leaves after the point */
        frac_nonzero = 0;
        for (long k = p < 0 ? 0 : p; k < (long)nd; k++)
            if (dg[k] != '0')
                frac_nonzero = 1;
        units = 0;
        nfrac = 2;
        frac[0] = frac[1] = 0;
        round_up = 0;
        for (long k = 0; k < p + 3 && k < (long)nd + 0; k++) {
            if (k < 0)
                continue;
            int d = dg[k] - '0';
            if (k < p) {
                if (units > (limit - (uint64_t)d) / 10) {
                    *why = "amount too large";
                    return -1;
                }
                units = units * 10 + (uint64_t)d;
            } else if (k == p) {
                frac[0] = d;
            } else if (k == p + 1) {
                frac[1] = d;
            } else if (k == p + 2) {
                round_up = d >= 5;
            }
        }
        for (long k = (long)nd; k < p; k++) {
            if (units > limit / 10) {
                *why = "amount too large";
                return -1;
            }
            units *= 10;
        }
    }
    if ((flags & BS_AMT_PAISE) && frac_nonzero) {
        *why = "paise amounts have no decimals";
        return -1;
    }
    if (!(flags & BS_AMT_PAISE)) {
        if (units > limit / 100) {
            *why = "amount too large";
            return -1;
        }
        uint64_t f = (uint64_t)(frac[0] * 10 + frac[1]);
        if (units * 100 > limit - f) {
            *why = "amount too large";
            return -1;
        }
        units = units * 100 + f;
        if (round_up) {
            if (units == limit) {
                *why = "amount too large";
                return -1;
            }
            units++;
        }
    }
    /* "-100.00 Cr": a minus (or parentheses) says debit, the suffix says
     * credit; loaded either way it may be wrong by twice the amount. */
    if (suffix == BS_DIR_CREDIT && negative && units != 0) {
        *why = "negative and marked Cr";
        return -1;
    }
    if (suffix == BS_DIR_DEBIT)
        negative = 1; /* "Dr" is the sign, and a minus with it says the same */
    *paise = negative ? -(int64_t)units : (int64_t)units;
    *dir = suffix != BS_DIR_NONE ? suffix : negative ? BS_DIR_DEBIT : BS_DIR_NONE;
    return 0;
}
