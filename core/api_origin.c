/*
 * api_origin.c — whom the API answers to, beyond the token.
 *
 * A browser on the operator's machine can be made to send requests to
 * 127.0.0.1:5103 by any page it visits. Two attacks follow, and the token
 * stops neither when none is configured (every caller is then admin):
 *  - a cross-site write: a form on another site posts to /connectors/1/run;
 *    the browser marks it with Origin (and Sec-Fetch-Site), which names
 *    another site than the Host it is sent to;
 *  - DNS rebinding: another site's name is made to resolve to 127.0.0.1,
 *    so its script reads and writes the API as "same origin"; its requests
 *    carry that name in Host.
 * Writes whose Origin is not the API's own are refused always; with no
 * tokens, a Host that is not a loopback name is refused too. Clients that
 * are not browsers (curl, connectorctl) send neither header and pass.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_internal.h"
#include "util.h"

/* The host part of a Host header value: "name", "name:port", "[v6]:port". */
static char *host_part(const char *host)
{
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        return close ? cd_xstrndup(host + 1, (size_t)(close - host - 1)) : NULL;
    }
    const char *colon = strchr(host, ':');
    return cd_xstrndup(host, colon ? (size_t)(colon - host) : strlen(host));
}

int cd_api_host_is_loopback(const char *host)
{
    char *h = host_part(host);
    if (!h)
        return 0;
    size_t n = strlen(h);
    if (n && h[n - 1] == '.')
        h[--n] = '\0'; /* "localhost." is the same name */
    struct in_addr v4;
    struct in6_addr v6;
    int ok = strcasecmp(h, "localhost") == 0 ||
             (n > 10 && strcasecmp(h + n - 10, ".localhost") == 0) ||
             (inet_pton(AF_INET, h, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127) ||
             (inet_pton(AF_INET6, h, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6));
    free(h);
    return ok;
}

/* "scheme://authority" -> whether authority is the Host header's value. */
static int origin_matches_host(const char *origin, const char *host)
{
    const char *sep = strstr(origin, "://");
    if (!sep || !host)
        return 0;
    const char *authority = sep + 3;
    size_t n = strcspn(authority, "/");
    return strlen(host) == n && strncasecmp(authority, host, n) == 0;
}

char *cd_api_origin_refusal(struct MHD_Connection *c, int is_write, int open_api)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (open_api && host && !cd_api_host_is_loopback(host))
        return cd_sprintf("Host %s refused: with no auth.tokens the API answers only to loopback "
                          "names (localhost, 127.0.0.1, [::1]); configure tokens to serve others",
                          host);
    if (!is_write)
        return NULL;
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0)
        return cd_sprintf("Cross-site request refused (Sec-Fetch-Site: %s)", site);
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (origin && !origin_matches_host(origin, host))
        return cd_sprintf("Cross-origin request refused: Origin %s is not this API (Host %s)",
                          origin, host ? host : "missing");
    return NULL;
}
