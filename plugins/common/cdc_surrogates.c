/* cdc_surrogates.c — see cdc_surrogates.h. */
#include "cdc_surrogates.h"

#include <ctype.h>

enum {
    SC_OUT, SC_IN, SC_ESC, SC_HEX, SC_AFTER_HIGH, SC_ESC_AFTER_HIGH,
    SC_SLASH, SC_LINE, SC_BLOCK, SC_BLOCK_STAR /* comments: no quote opens a string */
};

size_t cdc_surrogate_scan_next(cdc_surrogate_scan *s, const unsigned char *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = d[i];
        int lone = 0;
        switch (s->state) {
        case SC_OUT:
            if (c == '"') {
                s->state = SC_IN;
                s->flagged = 0;
                s->high = 0;
            } else if (c == '/') {
                s->state = SC_SLASH;
            }
            break;
        case SC_SLASH:
            s->state = c == '/' ? SC_LINE : c == '*' ? SC_BLOCK : SC_OUT;
            break;
        case SC_LINE:
            if (c == '\n')
                s->state = SC_OUT;
            break;
        case SC_BLOCK:
        case SC_BLOCK_STAR:
            s->state = c == '*' ? SC_BLOCK_STAR
                       : s->state == SC_BLOCK_STAR && c == '/' ? SC_OUT
                                                               : SC_BLOCK;
            break;
        case SC_IN:
            if (c == '\\')
                s->state = SC_ESC;
            else if (c == '"')
                s->state = SC_OUT;
            break;
        case SC_ESC:
        case SC_ESC_AFTER_HIGH:
            if (c == 'u') {
                s->state = SC_HEX;
                s->digits = 0;
                s->cp = 0;
            } else {
                lone = s->state == SC_ESC_AFTER_HIGH; /* "\uD800\n" */
                s->high = 0;
                s->state = SC_IN;
            }
            break;
        case SC_HEX:
            if (!isxdigit(c)) {
                s->high = 0; /* yajl refuses the escape */
                s->state = SC_IN;
                break;
            }
            s->cp = s->cp * 16 + (unsigned)(isdigit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
            if (++s->digits < 4)
                break;
            s->state = SC_IN;
            if (s->cp >= 0xDC00 && s->cp <= 0xDFFF) {
                lone = !s->high;
                s->high = 0;
            } else if (s->high) {
                lone = 1; /* "\uD800\u0041" */
                s->high = 0;
            } else if (s->cp >= 0xD800 && s->cp <= 0xDBFF) {
                s->high = 1;
                s->state = SC_AFTER_HIGH;
            }
            break;
        case SC_AFTER_HIGH:
            if (c == '\\') {
                s->state = SC_ESC_AFTER_HIGH;
            } else {
                lone = 1; /* "\uD800" then a character or the string's end */
                s->high = 0;
                s->state = c == '"' ? SC_OUT : SC_IN;
            }
            break;
        }
        if (lone && !s->flagged) {
            s->flagged = 1;
            return i;
        }
    }
    return n;
}
