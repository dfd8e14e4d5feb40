/*
 * cdc_surrogates.h — finds lone UTF-16 surrogate escapes in JSON text as it
 * streams in, before yajl decodes them.
 *
 * yajl decodes a \uD800-\uDBFF escape not followed by a \uDC00-\uDFFF one
 * into '?', or with another escape after it into an unrelated character,
 * and a lone \uDC00-\uDFFF into bytes no UTF-8 has: a transaction id or a
 * UTR cut between the halves of a pair (a Java gateway's substring) would
 * load altered. The scan carries its state over the pieces a body arrives
 * in, and skips comments (which yajl may be told to allow): a quote in one
 * opens no string.
 */
#ifndef CDC_SURROGATES_H
#define CDC_SURROGATES_H

#include <stddef.h>

typedef struct {
    int state;     /* where in the JSON text the scan is */
    int digits;    /* hex digits of a \u escape read */
    unsigned cp;   /* their value */
    int high;      /* a high surrogate escape waits for its low half */
    int flagged;   /* the open string was found to hold a lone one */
} cdc_surrogate_scan;

/* A zeroed struct is a scan at the start of a body. */

/* Scans d[0..n): the index of the byte that shows the first lone surrogate
 * of a string (the scan has read up to it, included), or n. Each string is
 * reported once. */
size_t cdc_surrogate_scan_next(cdc_surrogate_scan *s, const unsigned char *d, size_t n);

#endif
