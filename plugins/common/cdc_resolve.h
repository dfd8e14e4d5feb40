/*
 * cdc_resolve.h — host name resolution with a deadline and the run's
 * cancel flag.
 *
 * getaddrinfo() blocks for as long as the system's resolver keeps trying
 * (resolv.conf's timeout x attempts x name servers, and a dead server is
 * tried again for every search domain): minutes, during which a run can be
 * neither timed out by its own connect timeout nor cancelled. Drivers that
 * open their own sockets resolve through this instead.
 */
#ifndef CONNECTORD_DRIVER_COMMON_RESOLVE_H
#define CONNECTORD_DRIVER_COMMON_RESOLVE_H

#include <connectord/plugin.h>

#include <netdb.h>

/* Resolves host:service (SOCK_STREAM, any family) within timeout_ms,
 * giving up early when the run is cancelled. 0 with *res (freeaddrinfo
 * it), or -1 with a malloc'd *why ("cannot resolve bank.example: timed out
 * after 5 s", "...: Name or service not known", "...: cancelled"). */
int cdc_resolve(const cd_host_api *host, cd_run *run, const char *hostname, const char *service,
                long timeout_ms, struct addrinfo **res, char **why);

#endif
