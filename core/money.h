/*
 * money.h — amounts as integer paise, never floating point.
 */
#ifndef CD_MONEY_H
#define CD_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Parses decimal rupees ("1234.5", "-0.05", "+10", "10.10") into paise
 * exactly. At most two decimals (more only when they are zeros:
 * "100.5000" is 10050); no grouping, no spaces, no exponent.
 * Returns 0, or -1 with *why a static reason string. */
int cd_money_parse_rupees(const char *s, size_t len, int64_t *paise, const char **why);

/* Parses an integer amount of paise ("123456", "-50"). */
int cd_money_parse_paise(const char *s, size_t len, int64_t *paise, const char **why);

#endif
