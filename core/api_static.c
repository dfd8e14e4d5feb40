/*
 * api_static.c — the ops page's files: GET / redirects to /ops/connectors,
 * and /ops/PATH serves share/connectord/web/PATH. A path without an
 * extension that names no file gets index.html (the page routes on the
 * client). Only plain files under the web root are served: no "..", no
 * hidden files, no symbolic link out of the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_internal.h"
#include "util.h"

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},           {".svg", "image/svg+xml"},
        {".png", "image/png"},                   {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},                {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static void redirect(cd_api_resp *r, const char *to)
{
    r->raw = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r->raw, MHD_HTTP_HEADER_LOCATION, to);
    r->status = MHD_HTTP_FOUND;
}

/* Opens root/rel if it is a regular file inside root. -1 otherwise. */
static int open_under(const char *root_real, const char *root, const char *rel, struct stat *st)
{
    char *path = cd_sprintf("%s/%s", root, rel);
    char *real = realpath(path, NULL);
    free(path);
    if (!real)
        return -1;
    size_t n = strlen(root_real);
    int inside = strncmp(real, root_real, n) == 0 && real[n] == '/';
    int fd = inside ? open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    free(real);
    if (fd >= 0 && (fstat(fd, st) != 0 || !S_ISREG(st->st_mode))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

void cd_api_static(cd_api_req *q, cd_api_resp *r)
{
    if (q->nseg == 0 || q->nseg == 1) {
        redirect(r, "/ops/connectors");
        return;
    }
    cd_buf rel;
    cd_buf_init(&rel);
    int bad = 0;
    for (size_t i = 1; i < q->nseg; i++) {
        const char *s = q->seg[i];
        if (s[0] == '.' || strchr(s, '\\') || strlen(s) > 255)
            bad = 1;
        cd_buf_puts(&rel, i > 1 ? "/" : "");
        cd_buf_puts(&rel, s);
    }
    cd_buf_putc(&rel, '\0');
    if (bad) {
        cd_buf_free(&rel);
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Not found");
        return;
    }
    char *root_real = realpath(q->api->web_root, NULL);
    if (!root_real) {
        cd_buf_free(&rel);
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "The ops page is not installed");
        return;
    }
    struct stat st;
    const char *name = rel.data;
    int fd = open_under(root_real, q->api->web_root, name, &st);
    const char *last = q->seg[q->nseg - 1];
    if (fd < 0 && !strchr(last, '.')) {
        name = "index.html";
        fd = open_under(root_real, q->api->web_root, name, &st);
    }
    free(root_real);
    if (fd < 0) {
        cd_buf_free(&rel);
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Not found");
        return;
    }
    r->raw = MHD_create_response_from_fd((size_t)st.st_size, fd);
    MHD_add_response_header(r->raw, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(name));
    MHD_add_response_header(r->raw, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    /* The page talks only to this origin and loads nothing from elsewhere.
     * No other site may frame it: a page framing it could lay its own
     * content over the buttons and have the operator click Delete and
     * confirm without seeing them (with no tokens, the framed page acts
     * as admin; with tokens, as whoever gave it theirs in that frame). */
    MHD_add_response_header(r->raw, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
                            " frame-ancestors 'none'");
    MHD_add_response_header(r->raw, "X-Frame-Options", "DENY");
    r->status = MHD_HTTP_OK;
    cd_buf_free(&rel);
}
