/* cdc_resolve.c — see cdc_resolve.h. */
#include "cdc_resolve.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc.h"

/* One lookup handed to glibc's resolver thread. It must stay valid until
 * that thread is done with it, which after a timeout may be never for us. */
typedef struct lookup {
    struct gaicb cb;
    struct addrinfo hints;
    char *name;
    char *service;
    struct lookup *next_abandoned;
} lookup;

/* Lookups given up on while the resolver thread still held them: kept
 * reachable (not leaked) until the process ends, since freeing them under
 * that thread would be a use after free. A runner gives up on at most a
 * few, just before its run fails. */
static lookup *abandoned;
static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void lookup_free(lookup *l)
{
    free(l->name);
    free(l->service);
    free(l);
}

int cdc_resolve(const cd_host_api *host, cd_run *run, const char *hostname, const char *service,
                long timeout_ms, struct addrinfo **res, char **why)
{
    *res = NULL;
    lookup *l = calloc(1, sizeof *l);
    if (l) {
        l->name = strdup(hostname);
        l->service = strdup(service);
    }
    if (!l || !l->name || !l->service) {
        if (l)
            lookup_free(l);
        *why = cdc_printf("cannot resolve %s: out of memory", hostname);
        return -1;
    }
    l->hints.ai_family = AF_UNSPEC;
    l->hints.ai_socktype = SOCK_STREAM;
    l->cb.ar_name = l->name;
    l->cb.ar_service = l->service;
    l->cb.ar_request = &l->hints;
    struct gaicb *list[1] = {&l->cb};
    int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
    if (rc != 0) {
        *why = cdc_printf("cannot resolve %s: %s", hostname, gai_strerror(rc));
        lookup_free(l);
        return -1;
    }
    int64_t start = now_ms();
    int cancelled = 0;
    for (;;) {
        rc = gai_error(&l->cb);
        if (rc != EAI_INPROGRESS)
            break;
        int64_t left = timeout_ms - (now_ms() - start);
        if (left <= 0)
            break;
        if (host->is_cancelled(run)) {
            cancelled = 1;
            break;
        }
        /* Short slices: a cancel is noticed within 200 ms. */
        long slice = left < 200 ? (long)left : 200;
        struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};
        const struct gaicb *const wait[1] = {&l->cb};
        gai_suspend(wait, 1, &ts);
    }
    if (rc == 0) {
        *res = l->cb.ar_result;
        lookup_free(l);
        return 0;
    }
    if (rc != EAI_INPROGRESS) {
        /* EAI_SYSTEM's errno was the resolver thread's, not ours. */
        *why = cdc_printf("cannot resolve %s: %s", hostname, gai_strerror(rc));
        lookup_free(l);
        return -1;
    }
    if (cancelled)
        *why = cdc_printf("cannot resolve %s: cancelled", hostname);
    else
        *why = cdc_printf("cannot resolve %s: timed out after %.1f s", hostname,
                          (double)timeout_ms / 1000.0);
    switch (gai_cancel(&l->cb)) {
    case EAI_CANCELED:
        lookup_free(l);
        break;
    case EAI_ALLDONE:
        /* It finished between the last look and the cancel. */
        if (gai_error(&l->cb) == 0)
            freeaddrinfo(l->cb.ar_result);
        lookup_free(l);
        break;
    default: /* EAI_NOTCANCELED: the resolver thread still uses it */
        pthread_mutex_lock(&abandoned_lock);
        l->next_abandoned = abandoned;
        abandoned = l;
        pthread_mutex_unlock(&abandoned_lock);
    }
    return -1;
}
