/*
 * ctl.h — what connectorctl's files share: the HTTP client to the REST API
 * (libcurl + jansson) and the table printer.
 */
#ifndef CD_CTL_H
#define CD_CTL_H

#include <jansson.h>

enum { CTL_OK = 0, CTL_RUN_FAILED = 1, CTL_USAGE = 2, CTL_API_ERROR = 3 };

typedef struct ctl {
    const char *url;     /* base, without a trailing slash */
    const char *token;   /* NULL: none */
    int json;            /* --json: print the API's JSON as is */
} ctl;

/* One request. body may be NULL. On a response (any status) returns 0 and
 * sets *status and *out (parsed JSON, or NULL when the body is not JSON);
 * on a transport failure returns -1 and prints why. timeout_s 0: none. */
int ctl_request(const ctl *c, const char *method, const char *path, const json_t *body,
                long timeout_s, long *status, json_t **out);

/* Requests and, on a non-2xx status or a transport failure, prints the
 * API's error and its field errors to stderr and returns NULL. */
json_t *ctl_call(const ctl *c, const char *method, const char *path, const json_t *body,
                 long timeout_s);

/* GET for a --wait loop: as ctl_call, but a failure that is over in a
 * moment (no answer, 408, 429, 502, 503, 504: connectord restarting, a
 * proxy in front of it) is asked again, 1 s backing off to 10 s, for up
 * to patience_s seconds, saying so once on stderr. */
json_t *ctl_follow(const ctl *c, const char *path, long timeout_s, long patience_s);

/* How long a --wait keeps asking through such failures. */
enum { CTL_FOLLOW_PATIENCE_S = 300 };

/* Prints the API's {"error", "errors"} body to stderr. */
void ctl_print_error(long status, const json_t *body);

/* Prints JSON indented to stdout. */
void ctl_print_json(const json_t *j);

/* A table: columns, then rows of strings (NULL shown as "-"). Column widths
 * fit the content up to max_width characters each. */
typedef struct ctl_table ctl_table;
ctl_table *ctl_table_new(const char *const *headers, size_t ncols);
void ctl_table_add(ctl_table *t, const char *const *cells);
void ctl_table_print(ctl_table *t, size_t max_width);
void ctl_table_free(ctl_table *t);

/* A member rendered as text for a cell ("-" for null/missing), malloc'd. */
char *ctl_text(const json_t *obj, const char *key);

/* Reads a connector definition from FILE ("-": stdin), JSON or YAML. */
json_t *ctl_read_definition(const char *path);

#endif
