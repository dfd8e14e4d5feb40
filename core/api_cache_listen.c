/*
 * api_cache_listen.c — the API cache's own LISTEN connection (see
 * api_cache.h and schema/011_api_cache.sql). A thread of its own, not
 * serve's loop, so that a notification is applied the moment it arrives,
 * however busy the loop is with the scheduler or the dispatcher. While the
 * connection is down the cache is bypassed; every (re)connection flushes it.
 */
#include "api_cache_listen.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "util.h"

struct cd_api_cache_listener {
    cd_api_cache *cache;
    char *url;
    int stop_fd;
    pthread_t thread;
    int started;
};

/* Waits up to ms for the stop signal; 1 when it came. */
static int wait_stop(cd_api_cache_listener *l, int ms)
{
    struct pollfd p = {.fd = l->stop_fd, .events = POLLIN};
    return poll(&p, 1, ms) > 0;
}

static PGconn *connect_listen(cd_api_cache_listener *l, char **err)
{
    PGconn *c = cd_db_connect(l->url, "connectord-api-cache", err);
    if (!c)
        return NULL;
    if (cd_db_command(c, "LISTEN", "LISTEN " CD_API_CACHE_CHANNEL, 0, NULL, err) != 0) {
        PQfinish(c);
        return NULL;
    }
    PQsetnonblocking(c, 1);
    return c;
}

static void *listen_main(void *arg)
{
    cd_api_cache_listener *l = arg;
    PGconn *conn = NULL;
    int warned = 0;
    for (;;) {
        if (!conn) {
            char *err = NULL;
            conn = connect_listen(l, &err);
            if (!conn) {
                if (!warned++)
                    cd_warn("api cache: no notification channel (%s): serving without the "
                            "cache until it is back", err);
                free(err);
                if (wait_stop(l, 1000))
                    break;
                continue;
            }
            if (warned)
                cd_info("api cache: notification channel restored");
            warned = 0;
            /* LISTEN is in effect: from here on every commit is heard of.
             * What was rendered before may be stale: flush, then serve. */
            cd_api_cache_set_live(l->cache, 1);
        }
        struct pollfd p[2] = {{.fd = l->stop_fd, .events = POLLIN},
                              {.fd = PQsocket(conn), .events = POLLIN}};
        int rc = poll(p, 2, 5000);
        if (rc < 0 && errno != EINTR)
            cd_warn("api cache: poll: %s", strerror(errno));
        if (p[0].revents & POLLIN)
            break;
        int broken = PQstatus(conn) != CONNECTION_OK;
        if (!broken && (p[1].revents & (POLLIN | POLLERR | POLLHUP)))
            broken = !PQconsumeInput(conn);
        PGnotify *n;
        while (!broken && (n = PQnotifies(conn)) != NULL) {
            cd_api_cache_notify(l->cache, n->extra);
            PQfreemem(n);
        }
        if (broken) {
            cd_api_cache_set_live(l->cache, 0);
            char *m = cd_xstrdup(PQerrorMessage(conn));
            size_t len = strlen(m);
            while (len && m[len - 1] == '\n')
                m[--len] = '\0';
            cd_warn("api cache: notification channel lost (%s): serving without the cache "
                    "until it is back", m);
            warned = 1;
            free(m);
            PQfinish(conn);
            conn = NULL;
        }
    }
    cd_api_cache_set_live(l->cache, 0);
    if (conn)
        PQfinish(conn);
    return NULL;
}

cd_api_cache_listener *cd_api_cache_listen_start(cd_api_cache *cache, const char *url,
                                                 char **err)
{
    cd_api_cache_listener *l = cd_xcalloc(1, sizeof *l);
    l->cache = cache;
    l->url = cd_xstrdup(url ? url : "");
    l->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->stop_fd < 0) {
        *err = cd_sprintf("eventfd: %s", strerror(errno));
        free(l->url);
        free(l);
        return NULL;
    }
    int rc = pthread_create(&l->thread, NULL, listen_main, l);
    if (rc != 0) {
        *err = cd_sprintf("cannot start the API cache's listener thread: %s", strerror(rc));
        close(l->stop_fd);
        free(l->url);
        free(l);
        return NULL;
    }
    l->started = 1;
    return l;
}

void cd_api_cache_listen_stop(cd_api_cache_listener *l)
{
    if (!l)
        return;
    uint64_t one = 1;
    if (write(l->stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
        cd_warn("api cache: cannot signal the listener thread: %s", strerror(errno));
    if (l->started)
        pthread_join(l->thread, NULL);
    close(l->stop_fd);
    free(l->url);
    free(l);
}
