/* source_hosts.c — see source_hosts.h. */
#include "source_hosts.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cdc.h"
#include "cdc_resolve.h"

/* The value of keyword in libpq's parse of a conninfo, or NULL. */
static const char *option(const PQconninfoOption *opts, const char *keyword)
{
    for (const PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return o->val && *o->val ? o->val : NULL;
    return NULL;
}

/* Item i of a comma-separated list (malloc'd; "" past its end). */
static char *item(const char *list, size_t i)
{
    const char *p = list ? list : "";
    for (size_t k = 0; k < i && p; k++) {
        p = strchr(p, ',');
        if (p)
            p++;
    }
    if (!p)
        return strdup("");
    size_t n = strcspn(p, ",");
    return strndup(p, n);
}

static int is_address(const char *name)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static size_t count_items(const char *list)
{
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    return n;
}

/* The three lists being built, one entry each per address to try. */
typedef struct lists {
    cdc_buf host, addr, port;
    size_t entries;
    int with_port; /* the conninfo named a port */
} lists;

/* Appends one entry to each list. 0 or -1 (out of memory). */
static int add_entry(lists *l, const char *host, const char *addr, const char *port)
{
    const char *sep = l->entries ? "," : "";
    size_t sl = strlen(sep);
    if (cdc_buf_append(&l->host, sep, sl) || cdc_buf_append(&l->host, host, strlen(host)) ||
        cdc_buf_append(&l->addr, sep, sl) || cdc_buf_append(&l->addr, addr, strlen(addr)))
        return -1;
    if (l->with_port &&
        (cdc_buf_append(&l->port, sep, sl) || cdc_buf_append(&l->port, port, strlen(port))))
        return -1;
    l->entries++;
    return 0;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

int pgd_resolve_hosts(const cd_host_api *host, cd_run *run, const char *conninfo,
                      long timeout_ms, char **hosts, char **hostaddrs, char **ports, char **why)
{
    *hosts = *hostaddrs = *ports = NULL;
    *why = NULL;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    PQfreemem(perr);
    if (!opts)
        return 0; /* the caller reports the parse error itself */
    const char *h = option(opts, "host");
    const char *p = option(opts, "port");
    int rc = 0;
    /* What the conninfo leaves out, libpq takes from PGHOST, PGHOSTADDR
     * and PGPORT: a name that comes from there is looked up here too, or
     * libpq's own lookup would have no bound. */
    if (!h && !option(opts, "hostaddr") && !getenv("PGHOSTADDR")) {
        h = getenv("PGHOST");
        if (h && !*h)
            h = NULL;
        if (h && !p)
            p = getenv("PGPORT");
        if (p && !*p)
            p = NULL;
    }
    /* An operator's hostaddr is an address already; no host: libpq's
     * default, a Unix socket. */
    if (!h || option(opts, "hostaddr")) {
        PQconninfoFree(opts);
        return 0;
    }
    size_t n = count_items(h), np = p ? count_items(p) : 0;
    if (np > 1 && np != n) { /* libpq refuses it, and says why */
        PQconninfoFree(opts);
        return 0;
    }
    lists l = {.with_port = np > 0};
    int resolved_any = 0;
    char *first_why = NULL; /* a name that failed: the others are still tried, as libpq does */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *name = item(h, i);
        char *port = np == 0 ? strdup("") : item(p, np == 1 ? 0 : i);
        if (!name || !port) {
            rc = -1;
        } else if (!*name || name[0] == '/' || name[0] == '@' || is_address(name)) {
            /* a Unix socket or an address: nothing to look up */
            rc = add_entry(&l, name, "", port);
        } else if (!host->is_cancelled(run)) {
            struct addrinfo *res = NULL;
            /* What is left of the budget, but never so little that a
             * slow first name leaves none to the next. */
            long left = timeout_ms - elapsed_ms(&t0);
            char *name_why = NULL;
            if (cdc_resolve(host, run, name, *port ? port : "5432", left > 1000 ? left : 1000,
                            &res, &name_why) != 0) {
                if (!first_why)
                    first_why = name_why;
                else
                    free(name_why);
            }
            for (struct addrinfo *ai = res; rc == 0 && ai; ai = ai->ai_next) {
                char addr[NI_MAXHOST];
                if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr, NULL, 0,
                                NI_NUMERICHOST) != 0)
                    continue;
                rc = add_entry(&l, name, addr, port);
                resolved_any = 1;
            }
            if (res)
                freeaddrinfo(res);
        }
        if (rc != 0 && !*why)
            *why = cdc_printf("out of memory");
        free(name);
        free(port);
    }
    PQconninfoFree(opts);
    if (rc == 0 && l.entries == 0) {
        /* not one address to try: the (first) lookup's failure */
        rc = -1;
        *why = first_why ? first_why : cdc_printf("cannot resolve %s: cancelled", h);
        first_why = NULL;
    }
    free(first_why);
    if (rc == 0 && resolved_any) {
        *hosts = l.host.data;
        *hostaddrs = l.addr.data;
        *ports = l.port.data;
        return 0;
    }
    cdc_buf_free(&l.host);
    cdc_buf_free(&l.addr);
    cdc_buf_free(&l.port);
    return rc;
}
