/*
 * mock_sabpaisa.h — an in-process or stand-alone stand-in for SabPaisa's
 * transaction report API (GET /{from}/{to}/{client_code}), for driver tests
 * and benchmarks. Behaviour is chosen by the client code:
 *
 *   FAIL206 FAIL401 FAIL403 FAIL404 FAIL429 FAIL500 FAIL502 FAIL503
 *                 that status with a small JSON error body (429: Retry-After: 7)
 *   SLOW          stalls slow_ms before answering (timeouts)
 *   TRUNC         200 with a JSON array cut in the middle of an item
 *   BADJSON       200 with a syntax error inside the array
 *   OBJECT        200 with a JSON object instead of an array
 *   HTML          200 with an HTML maintenance page (text/html)
 *   HTMLSTRAY     200, text/html, holding the start of a JSON array
 *   EMPTY         200 with []
 *   NOCONTENT     204 No Content
 *   BOM           200 with one item after a UTF-8 byte-order mark
 *   MOVED         301 to https://reportapi.example/v2/txnData
 *   ACCEPTED      202 Accepted with [] and Retry-After: 30 (not ready yet)
 *   AMOUNTS       4 items with amounts "10.10", 10.1, 10 and "0.5"
 *   NOID          3 items, the second one without transaction_id/txn_id
 *   BLANKS        4 items whose first choice of id, amount or date is empty
 *                 or blank and the fallback set (the last has neither id)
 *   BLANKOPT      2 items: blank client_code, payment_mode and pg_name next
 *                 to pg_pay_mode; an empty client_code with every field set
 *   MIXED         7 items: amounts as strings and numbers with 0, 1 and 2
 *                 decimals, every date form, client codes to trim/upper-case
 *   BADROWS       6 items: no id, amounts "12.3x" and "abc", invalid UTF-8
 *                 in utr, invalid UTF-8 in an unmapped field
 *   ENDLESS       an item whose transaction_id runs on for 8 MiB, then
 *                 the stream ends
 *   NULS          5 items: \u0000 in two ids that differ after it, in an
 *                 amount and in a utr; one id with an escaped backslash
 *                 before "u0000" (text, not a NUL)
 *   CUT           `count` generated items, then half an item and the
 *                 connection drops (no final chunk)
 *   anything else `count` generated items (query ?count=N overrides),
 *                 streamed as they are generated, never held in memory
 *
 * With `bearer` set, requests without "Authorization: Bearer <bearer>" get
 * 401; with `basic` ("user:password") set, those without that user and
 * password in HTTP basic authentication do. With `fail_first` K > 0 the
 * first K requests (any path) get `fail_status` (default 500; 429 and 503 carry Retry-After: 1), the rest
 * are answered normally: "500, then success on the next attempt". With
 * `expire_after` K > 0, every request after the first K gets 401.
 */
#ifndef MOCK_SABPAISA_H
#define MOCK_SABPAISA_H

#include <stdint.h>

typedef struct mock_sabpaisa mock_sabpaisa;

typedef struct mock_sabpaisa_opts {
    uint16_t port;            /* 0: an ephemeral port on 127.0.0.1 */
    unsigned long long count; /* generated items per request (default 3) */
    unsigned slow_ms;         /* SLOW stall (default 30000) */
    /* bearer and basic are used in place: they must outlive the mock */
    const char *bearer;       /* required bearer token, or NULL */
    const char *basic;        /* required "user:password" (basic auth), or NULL */
    unsigned long fail_first; /* the first K requests fail (see above) */
    unsigned fail_status;     /* their status; 0: 500 */
    unsigned long expire_after; /* > 0: requests after the first K get 401
                                   (a credential that expires mid-run) */
} mock_sabpaisa_opts;

/* Starts serving on 127.0.0.1; *port_out gets the bound port. NULL on
 * failure (reason on stderr). */
mock_sabpaisa *mock_sabpaisa_start(const mock_sabpaisa_opts *opts, uint16_t *port_out);
/* Stops the server, ending stalled requests at once. */
void mock_sabpaisa_stop(mock_sabpaisa *m);
/* Requests answered so far. */
unsigned long mock_sabpaisa_requests(mock_sabpaisa *m);
/* Copy of the last request's path ("/2025-01-02/2025-01-02/ABC"); free it. */
char *mock_sabpaisa_last_path(mock_sabpaisa *m);

#endif /* MOCK_SABPAISA_H */
