/*
 * cdc.h — helpers shared by the built-in drivers (static library
 * connectord_driver_common; symbols are hidden in each driver .so).
 *
 * Only things that every driver would otherwise duplicate: reading the
 * connection_config with jansson, date placeholders, a growable buffer,
 * curl setup that honours the host's HTTP defaults, deadline and cancel
 * flag, and mapping HTTP/curl outcomes to cd_status codes.
 */
#ifndef CONNECTORD_DRIVER_COMMON_H
#define CONNECTORD_DRIVER_COMMON_H

#include <connectord/plugin.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

/* ---- growable byte buffer ---- */
typedef struct cdc_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} cdc_buf;

/* Appends n bytes; 0 on success, -1 on ENOMEM (buffer unchanged). */
int cdc_buf_append(cdc_buf *b, const void *p, size_t n);
void cdc_buf_free(cdc_buf *b);

/* asprintf that returns NULL on failure instead of an undefined pointer. */
char *cdc_printf(const char *fmt, ...) CD_PRINTF(1, 2);

/* A problem with one connection_config field: reported through
 * host->config_error while validating (the API shows it by the field), into
 * the run log otherwise (as "connection_config.FIELD: ..."). */
void cdc_report(const cd_host_api *host, int validating, cd_run *run, const char *field,
                const char *fmt, ...) CD_PRINTF(5, 6);

/* A driver's validate(): parses connection_config, runs check (which
 * reports through cdc_report and returns the number of problems) with
 * *validating set, and returns CD_OK or CD_ERR_CONFIG. */
int cdc_validate_with(const cd_host_api *host, cd_run *run, int *validating,
                      int (*check)(cd_run *run, const json_t *config));

/* The value of a "Name: value" header line (namelen covers "Name:"),
 * trimmed of blanks and CRLF; malloc'd, or NULL when out of memory. */
char *cdc_header_value(const char *line, size_t len, size_t namelen);

/* ---- configuration ---- */

/* Parses run_info's config_json. NULL on error with the reason in *err. */
json_t *cdc_config_parse(const cd_run_info *info, json_error_t *err);
/* The string value of key, or dflt when absent / not a string. */
const char *cdc_json_str(const json_t *obj, const char *key, const char *dflt);
/* A secret field's resolved string value; NULL when absent, empty or still
 * a reference object (validate() sees unresolved references). */
const char *cdc_secret_str(const json_t *obj, const char *key);
/* 1 if a secret field is present either as a non-empty string or as
 * {"secret": "<non-empty string>"}. */
int cdc_secret_present(const json_t *obj, const char *key);
/* Reports through config_error if the secret field exists but is neither
 * form; returns 1 if it reported. */
int cdc_check_secret_shape(const cd_host_api *host, cd_run *run, const json_t *obj,
                           const char *key, const char *path);
/* Integer value of key, or dflt when absent / not an integer. */
long long cdc_json_int(const json_t *obj, const char *key, long long dflt);

/* 1 if s[0..len) is valid UTF-8 without NUL bytes (overlong forms,
 * surrogates and code points past U+10FFFF are invalid). */
int cdc_utf8_valid(const char *s, size_t len);

/* ---- dates ---- */

/* 1 if s is a real calendar date "YYYY-MM-DD". */
int cdc_is_iso_date(const char *s);
/* The instant of an ISO timestamp that names its zone,
 * "YYYY-MM-DD[T ]HH:MM[:SS[.fff]](Z|+hh[:mm]|-hh[:mm])", as seconds since
 * 1970-01-01 UTC: 1 and *unix_seconds; 0 when it names no zone (a local
 * time) or is no such timestamp. */
int cdc_timestamp_instant(const char *s, int64_t *unix_seconds);
/* Formats an ISO date with a pattern made of the tokens YYYY, YY, MM, DD
 * and literal characters ("DD-MM-YYYY", "YYYYMMDD"). Malloc'd; NULL when
 * iso is not a date or on ENOMEM. */
char *cdc_format_date(const char *pattern, const char *iso);
/* Replaces {date} / {YYYY-MM-DD}, {YYYYMMDD}, {DDMMYYYY} and {DD-MM-YYYY}
 * in tmpl with iso formatted accordingly; unknown {...} stay as they are.
 * Malloc'd; NULL on bad date or ENOMEM. */
char *cdc_expand_date_placeholders(const char *tmpl, const char *iso);

/* ---- strings ---- */

/* Anchored glob: '*' any run, '?' one byte, everything else literal. */
int cdc_glob_match(const char *pattern, const char *s);

/* ---- HTTP ---- */

/* Per-transfer state for the callbacks cdc_curl_setup installs. */
typedef struct cdc_xfer {
    const cd_host_api *host;
    cd_run *run;
    int cancelled;         /* set when is_cancelled stopped the transfer */
    long timeout_ms;       /* overall limit applied (0: none) */
    char errbuf[CURL_ERROR_SIZE];
    /* response headers of the final response */
    long status;
    char *reason;          /* reason phrase of the status line, malloc'd */
    char *retry_after;     /* Retry-After header value, malloc'd */
    char *location;        /* Location header value (a redirect's target), malloc'd */
} cdc_xfer;

/* Applies the host's HTTP defaults (TLS verification, CA file, proxy, user
 * agent, connect and request timeouts bounded by remaining_ms and by
 * config_timeout_s if > 0), NOSIGNAL, a progress callback that aborts the
 * transfer when host->is_cancelled says so, and a header callback filling
 * x->status / reason / retry_after. Returns CURLE_OK or the first failing
 * setopt's code; CURLE_OPERATION_TIMEDOUT if the deadline already passed. */
CURLcode cdc_curl_setup(CURL *c, cdc_xfer *x, const cd_host_api *host, cd_run *run,
                        long config_timeout_s, const char *ca_bundle);
/* One GET as a driver asks for it: what cdc_curl_setup does not cover. */
typedef struct cdc_request {
    const char *url;
    struct curl_slist *headers;
    curl_write_callback write_cb;
    void *write_data;
    curl_write_callback header_cb; /* NULL: the cdc_xfer_header cdc_curl_setup installs */
    void *header_data;
    const char *basic_user;        /* non-NULL: HTTP basic authentication */
    const char *basic_password;
    long config_timeout_s;         /* as for cdc_curl_setup */
    const char *ca_bundle;
} cdc_request;
/* Appends a header line to *list: 0, or -1 (out of memory, or header
 * NULL) with *list as it was. A request must never go out without a
 * header it was meant to carry, such as its credential. */
int cdc_header_add(struct curl_slist **list, const char *header);

/* cdc_curl_setup, then the request's URL, headers, callbacks and basic
 * authentication. CD_OK, or a cd_status with the run's message set, naming
 * host_name: no time left before the run's deadline (CD_ERR_TRANSIENT), or
 * an option libcurl refused. */
int cdc_curl_prepare(CURL *c, cdc_xfer *x, const cd_host_api *host, cd_run *run,
                     const cdc_request *req, const char *host_name);
/* The init every HTTP driver does: checks the host's ABI major and that it
 * can report init errors, and initialises libcurl (reported through
 * host->init_error). CD_OK or CD_ERR_PERMANENT. Pair with
 * cdc_http_driver_destroy as the driver's destroy callback. */
int cdc_http_driver_init(const cd_host_api *host);
void cdc_http_driver_destroy(void);
/* The header callback cdc_curl_setup installs (userdata: the cdc_xfer). A
 * driver that needs more headers installs its own callback and calls this
 * one first, so status, reason and Retry-After are still kept. */
size_t cdc_xfer_header(char *line, size_t size, size_t nitems, void *userdata);
/* Records a Retry-After header value in the run's details for the
 * scheduler: "retry_after" (the text) and, when it is delta-seconds or an
 * HTTP-date, "retry_after_seconds" (from now, never negative). */
void cdc_note_retry_after(const cd_host_api *host, cd_run *run, const char *value);
/* Frees the header copies in x. */
void cdc_xfer_cleanup(cdc_xfer *x);

/* 1 if a Content-Type (parameters allowed) is an HTML or XML page:
 * text/html, application/xhtml+xml, text/xml, application/xml. What a
 * gateway's or bank's error, login or maintenance page comes as with
 * status 200; never a report. */
int cdc_markup_type(const char *content_type);

/* Sets the run's message for a response whose status is no data
 * ("API responded with status 404: Not Found"), naming the target of a
 * redirect, which is never followed. */
void cdc_status_message(const cd_host_api *host, cd_run *run, long status, const cdc_xfer *x);

/* The reason phrase ops see for a status ("Unauthorized"); falls back to
 * the server's own reason, then "HTTP error". */
const char *cdc_http_reason(long status, const char *server_reason);
/* 401/403 -> CONFIG, 202/206/408/429/5xx -> TRANSIENT, other 4xx -> PERMANENT. */
int cdc_status_for_http(long status);
/* 1 for a status whose body is the data asked for: 2xx but 202 Accepted
 * (the server took the request and will answer later: a report still
 * being prepared, whatever its body says) and 206 Partial Content (a
 * part of it, never asked for). */
int cdc_http_data_status(long status);
/* Maps a failed transfer: cancelled -> CD_CANCELLED, bad URL/protocol or
 * TLS verification -> CONFIG, everything else (DNS, refused, timeout,
 * reset) -> TRANSIENT. */
int cdc_status_for_curl(CURLcode rc, const cdc_xfer *x);
/* Host name of an URL for messages ("reportapi.sabpaisa.in"); malloc'd,
 * NULL if the URL does not parse. */
char *cdc_url_host(const char *url);
/* Percent-encodes s for a path segment; malloc'd, NULL on ENOMEM. */
char *cdc_url_escape(const char *s);

#endif /* CONNECTORD_DRIVER_COMMON_H */
