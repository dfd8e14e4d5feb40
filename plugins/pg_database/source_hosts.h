/*
 * source_hosts.h — the source's host names resolved before libpq connects.
 *
 * libpq looks a host name up with a blocking getaddrinfo() that
 * connect_timeout does not bound and a cancel cannot interrupt: a name
 * server that never answers holds the run for resolv.conf's whole retry
 * budget. The names are resolved here instead (cdc_resolve: bounded,
 * cancellable) and handed to libpq as hostaddr, next to the unchanged host
 * that TLS verification, .pgpass and error messages use.
 */
#ifndef PG_DATABASE_SOURCE_HOSTS_H
#define PG_DATABASE_SOURCE_HOSTS_H

#include <connectord/plugin.h>

/* The pinned connection lists for a conninfo: *host, *hostaddr and *port
 * (malloc'd, comma-separated, one entry per address to try), or all three
 * NULL when nothing needs resolving (Unix sockets only, or a hostaddr set
 * by the operator). 0, or -1 with a malloc'd *why (the caller tells a
 * cancel by the run's flag). */
int pgd_resolve_hosts(const cd_host_api *host, cd_run *run, const char *conninfo,
                      long timeout_ms, char **hosts, char **hostaddrs, char **ports, char **why);

#endif
