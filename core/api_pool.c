/* api_pool.c — see api_pool.h. */
#include "api_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "util.h"

struct cd_api_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *url;
    int size;        /* most connections */
    int open;        /* opened so far (free or in use) */
    PGconn **free;   /* idle connections */
    int nfree;
};

cd_api_pool *cd_api_pool_new(const char *url, int size)
{
    cd_api_pool *p = cd_xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->url = cd_xstrdup(url ? url : "");
    p->size = size > 0 ? size : 1;
    p->free = cd_xcalloc((size_t)p->size, sizeof *p->free);
    return p;
}

void cd_api_pool_free(cd_api_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nfree; i++)
        PQfinish(p->free[i]);
    free(p->free);
    free(p->url);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p);
}

/* Timestamps come back in UTC and are rewritten to ISO 8601 with "Z":
 * for a new connection and again after a reset, which starts over. */
static int set_session(PGconn *c, char **err)
{
    return cd_db_command(c, "setting the API session", "SET TIME ZONE 'UTC'", 0, NULL, err) ||
           cd_db_command(c, "setting the API session", "SET DateStyle = 'ISO, YMD'", 0, NULL, err);
}

static PGconn *open_one(cd_api_pool *p, char **err)
{
    PGconn *c = cd_db_connect(p->url, "connectord-api", err);
    if (!c)
        return NULL;
    if (set_session(c, err) != 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

PGconn *cd_api_pool_acquire(cd_api_pool *p, int wait_ms, char **err)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    while (p->nfree == 0 && p->open >= p->size) {
        if (pthread_cond_timedwait(&p->freed, &p->lock, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->lock);
            *err = cd_xstrdup("no free database connection (the API is overloaded)");
            return NULL;
        }
    }
    PGconn *c = NULL;
    if (p->nfree > 0) {
        c = p->free[--p->nfree];
        pthread_mutex_unlock(&p->lock);
        if (PQstatus(c) == CONNECTION_OK)
            return c;
        /* The server restarted or the socket broke: try once to reconnect. */
        PQreset(c);
        if (PQstatus(c) == CONNECTION_OK && set_session(c, err) == 0)
            return c;
        free(*err);
        *err = NULL;
        PQfinish(c);
        pthread_mutex_lock(&p->lock);
        p->open--;
    }
    p->open++; /* reserve the slot while connecting outside the lock */
    pthread_mutex_unlock(&p->lock);
    c = open_one(p, err);
    if (!c) {
        pthread_mutex_lock(&p->lock);
        p->open--;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
    }
    return c;
}

void cd_api_pool_release(cd_api_pool *p, PGconn *c)
{
    if (!c)
        return;
    if (PQtransactionStatus(c) != PQTRANS_IDLE && PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, "ROLLBACK");
        PQclear(r);
    }
    pthread_mutex_lock(&p->lock);
    if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE) {
        PQfinish(c);
        p->open--;
    } else {
        p->free[p->nfree++] = c;
    }
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}
