/*
 * mock_razorpay.h — a stand-in for Razorpay's payments API
 * (GET /v1/payments?from=&to=&count=&skip=, HTTP basic auth with key_id and
 * key_secret), in-process for the razorpay driver's unit tests or as a
 * program (mock_razorpay) for integration tests.
 *
 * It holds `payments` payments created on `date` (Asia/Kolkata): payment i
 * (1-based) is "pay_MOCK%06d", amount 10000 + 7*i paise, fee 2% (rounded
 * down), created at 00:00 IST + 37*i seconds (so at most 2335 fit in the
 * day), method upi/card/netbanking/wallet in turn, every tenth one
 * "failed", the others "captured"; upi and card carry acquirer_data.rrn.
 * A request gets those with from <= created_at <= to, oldest first, then
 * skip and count (count capped at 100, as Razorpay does).
 *
 * Wrong or missing credentials get 401 with Razorpay's error body. With
 * fail_first K the first K requests get 500 (or fail_status; a 429 or
 * 503 with "Retry-After: 120"). With slow_ms each page waits
 * that long before answering (a run that takes a while). With bad_item
 * set, payment 2 carries its amount as a string (a record error). With
 * page_cap N a page holds at most N payments whatever count asks (an API
 * that sends fewer than asked).
 */
#ifndef MOCK_RAZORPAY_H
#define MOCK_RAZORPAY_H

#include <stdint.h>

typedef struct mock_razorpay mock_razorpay;

typedef struct mock_razorpay_opts {
    uint16_t port;          /* 0: an ephemeral port on 127.0.0.1 */
    unsigned payments;      /* default 250 */
    const char *date;       /* "YYYY-MM-DD", default "2025-10-02" */
    const char *key_id;     /* default "rzp_test_mock" */
    const char *key_secret; /* default "mock_secret" */
    unsigned long fail_first;
    unsigned fail_status; /* what fail_first answers: 0 is 500; 429 and 503 carry Retry-After: 120 */
    unsigned slow_ms;
    int bad_item;
    unsigned page_cap; /* 0: count alone */
} mock_razorpay_opts;

mock_razorpay *mock_razorpay_start(const mock_razorpay_opts *opts, uint16_t *port_out);
void mock_razorpay_stop(mock_razorpay *m);
unsigned long mock_razorpay_requests(mock_razorpay *m);
/* Copy of the last request's query string ("from=..&to=..&count=100&skip=0"); free it. */
char *mock_razorpay_last_query(mock_razorpay *m);

#endif /* MOCK_RAZORPAY_H */
