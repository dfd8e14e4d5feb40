/*
 * pg_database.c — the built-in PG_DATABASE driver: rows from another
 * PostgreSQL database, by a configured query.
 *
 * The query gets $1 = window_from and $2 = window_to (as text; cast them in
 * SQL). The source session is made read-only and gets a statement_timeout
 * before anything runs, so a mistyped query cannot change the source or
 * hold it for ever. Rows are streamed in single-row mode: memory stays flat
 * however many rows the window has. Result columns are the target columns
 * by name, or are renamed through column_map {"target": "source"}.
 *
 * Incremental pulls (cursor_column): the query is wrapped as
 *     SELECT * FROM (<query>) AS cd_src [WHERE "col" > $N] ORDER BY "col"
 * where $N is the cursor the host kept from the last successful run (the
 * type of $N is inferred from the column, so ids, timestamps and text all
 * compare as themselves). The last row's value is the new cursor; the host
 * commits it with the records, so a failed run leaves it where it was.
 * A row whose cursor value is NULL has no place after any cursor: it is
 * read on every pull (OR "col" IS NULL) and refused as a record error each
 * time, rather than loaded once and then never seen again.
 */
#include <connectord/plugin.h>

#include "cdc.h"
#include "cursor_overlap.h"
#include "source_hosts.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const cd_host_api *hostapi;

static const cd_driver_magic pg_database_magic = CD_DRIVER_MAGIC_INIT(
    "pg_database", "1.0.0", "connectord", CD_CATEGORY_PG_DATABASE, CD_DATASET_CONFIGURED,
    "Rows of a read-only query on another PostgreSQL database");

static const char pg_database_schema[] =
    "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
    "\"title\": \"PostgreSQL source database\","
    "\"type\": \"object\","
    "\"required\": [\"conninfo\", \"query\", \"dataset\"],"
    "\"additionalProperties\": false,"
    "\"properties\": {"
    "\"conninfo\": {\"description\": \"libpq connection string or URI (with its password)\","
    "\"writeOnly\": true, \"oneOf\": [{\"type\": \"string\", \"minLength\": 1},"
    "{\"type\": \"object\", \"required\": [\"secret\"], \"additionalProperties\": false,"
    "\"properties\": {\"secret\": {\"type\": \"string\", \"pattern\": \"^(env|file|cred):.+\"}}}]},"
    "\"query\": {\"type\": \"string\", \"minLength\": 1,"
    "\"description\": \"SELECT with $1 = window_from, $2 = window_to (text)\"},"
    "\"dataset\": {\"enum\": [\"pg_transaction\", \"bank_statement\"]},"
    "\"column_map\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"},"
    "\"description\": \"target column -> result column\"},"
    "\"cursor_column\": {\"type\": \"string\"},"
    "\"cursor_overlap\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 1000000000,"
    "\"description\": \"read again this far before the cursor each pull, for rows committed "
    "late: units of a number cursor, seconds of a date or timestamp one\"},"
    "\"statement_timeout_seconds\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 86400,"
    "\"description\": \"default: what is left of the run's timeout (300 s for a run without one)\"}"
    "}}";

static const char *describe_config(void)
{
    return pg_database_schema;
}

static const char *const pg_targets[] = {
    "transaction_id", "merchant_id", "amount_paise", "amount", "transaction_date",
    "transaction_timestamp", "currency", "source_type", "source_name", "batch_id",
    "payment_method", "gateway_ref", "utr", "rrn", "status", "bank_fee_paise", "bank_fee",
    "settlement_amount_paise", "settlement_amount", "acquirer_code", "merchant_name", NULL};
static const char *const bank_targets[] = {
    "bank_ref", "bank_name", "amount_paise", "amount", "transaction_date", "value_date", "utr",
    "rrn", "remarks", "debit_credit", "net_amount_paise", "net_amount", "source_type",
    "source_file", "batch_id", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

static int validating;

/* config_error during validate(), the run log otherwise. */
#define report(run, field, ...) cdc_report(hostapi, validating, (run), (field), __VA_ARGS__)

/* Highest $N the query uses (naive scan: a "$3" inside a string literal
 * counts too, which only makes validation stricter). */
static int max_param(const char *q)
{
    int max = 0;
    for (const char *p = q; *p; p++) {
        if (*p == '$' && isdigit((unsigned char)p[1]) && (p == q || !isalnum((unsigned char)p[-1]))) {
            int n = atoi(p + 1);
            if (n > max)
                max = n;
        }
    }
    return max;
}

/* The end of the dollar-quote tag starting at p ("$$", "$body$"), or NULL
 * when p starts no tag ("$1" is a parameter). */
static const char *dollar_tag_end(const char *p)
{
    const char *t = p + 1;
    if (*t != '$' && !(isalpha((unsigned char)*t) || *t == '_' || (unsigned char)*t >= 0x80))
        return NULL;
    while (*t && *t != '$') {
        if (!(isalnum((unsigned char)*t) || *t == '_' || (unsigned char)*t >= 0x80))
            return NULL;
        t++;
    }
    return *t == '$' ? t + 1 : NULL;
}

/* The first LIMIT, OFFSET or FETCH of the query's own SELECT, outside
 * parentheses, literals, quoted names and comments (a static upper-case
 * name), or NULL. The wrapping of an incremental pull filters the query's
 * result on the cursor: under such a clause every pull would read the same
 * first rows, all at or below the cursor, load nothing and succeed. */
static const char *top_level_limit(const char *q)
{
    static const char *const words[] = {"LIMIT", "OFFSET", "FETCH", NULL};
    int depth = 0;
    int label = 0; /* after AS or '.': a word there is a name ("AS limit", "t.offset") */
    for (const char *p = q; *p;) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        int was_label = label;
        label = 0;
        if (*p == '\'') { /* '...' ('' inside), E'...' with backslash escapes */
            int esc = p > q && (p[-1] == 'E' || p[-1] == 'e') &&
                      (p - 1 == q || !(isalnum((unsigned char)p[-2]) || p[-2] == '_'));
            for (p++; *p && *p != '\''; p++)
                if (esc && *p == '\\' && p[1])
                    p++;
            if (*p)
                p++;
        } else if (*p == '"') {
            p = strchr(p + 1, '"');
            p = p ? p + 1 : q + strlen(q);
        } else if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') { /* nested, as PostgreSQL's */
            int nest = 1;
            for (p += 2; *p && nest; p++) {
                if (p[0] == '/' && p[1] == '*')
                    nest++, p++;
                else if (p[0] == '*' && p[1] == '/')
                    nest--, p++;
            }
        } else if (*p == '$' && dollar_tag_end(p) &&
                   (p == q || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
            const char *te = dollar_tag_end(p);
            size_t tn = (size_t)(te - p);
            const char *close = te;
            while ((close = strchr(close, '$')) && strncmp(close, p, tn) != 0)
                close++;
            p = close ? close + tn : q + strlen(q);
        } else if (*p == '(') {
            depth++, p++;
        } else if (*p == ')') {
            depth--, p++;
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            const char *w = p;
            while (isalnum((unsigned char)*p) || *p == '_' || *p == '$')
                p++;
            for (const char *const *k = words; depth == 0 && !was_label && *k; k++)
                if ((size_t)(p - w) == strlen(*k) && strncasecmp(w, *k, strlen(*k)) == 0)
                    return *k;
            label = p - w == 2 && strncasecmp(w, "AS", 2) == 0;
        } else {
            label = *p == '.';
            p++;
        }
    }
    return NULL;
}

/* libpq's message without its trailing newline, into a static-free copy. */
static char *pq_message(const char *m)
{
    char *s = strdup(m && *m ? m : "unknown libpq error");
    if (s)
        for (size_t n = strlen(s); n > 0 && isspace((unsigned char)s[n - 1]);)
            s[--n] = '\0';
    return s;
}

/* Whether the query uses $n (the same naive scan as max_param). */
static int param_used(const char *q, int n)
{
    for (const char *p = q; *p; p++)
        if (*p == '$' && isdigit((unsigned char)p[1]) &&
            (p == q || !isalnum((unsigned char)p[-1])) && atoi(p + 1) == n)
            return 1;
    return 0;
}

/* The types the pull is prepared with: the server infers those of the
 * parameters the query uses (and of the cursor's); one it skips ($1 in a
 * query that uses only $2) is text, for else PostgreSQL cannot tell its
 * type and refuses the whole query ("could not determine data type of
 * parameter $1"). */
static void param_types(const char *query, int query_params, Oid types[3])
{
    for (int k = 0; k < 3; k++)
        types[k] = k < query_params && !param_used(query, k + 1) ? 25 /* text */ : 0;
}

/* The query of an incremental pull: query without its trailing ';'s,
 * cursor_col's rows after $cursor_param (none: the first pull) and those
 * where it is NULL, in its order. The query stands on lines of its own, so
 * a "-- comment" on its last line does not swallow the wrapping. NULL
 * with the run's message and *rc set. */
static char *wrap_for_cursor(cd_run *run, PGconn *c, const char *query, const char *cursor_col,
                             int cursor_param, int *rc)
{
    size_t qn = strlen(query);
    while (qn > 0 && (isspace((unsigned char)query[qn - 1]) || query[qn - 1] == ';'))
        qn--;
    char *ident = PQescapeIdentifier(c, cursor_col, strlen(cursor_col));
    if (!ident) {
        char *m = pq_message(PQerrorMessage(c));
        hostapi->set_message(run, "cursor_column cannot be quoted: %s", m ? m : "");
        free(m);
        *rc = CD_ERR_CONFIG;
        return NULL;
    }
    /* NULL cursor values pass the WHERE so that every pull reports them
     * (run_driver), not only the first; ORDER BY puts them last. */
    char *wrapped =
        cursor_param
            ? cdc_printf("SELECT * FROM (\n%.*s\n) AS cd_src WHERE %s > $%d OR %s IS NULL "
                         "ORDER BY %s",
                         (int)qn, query, ident, cursor_param, ident, ident)
            : cdc_printf("SELECT * FROM (\n%.*s\n) AS cd_src ORDER BY %s", (int)qn, query,
                         ident);
    PQfreemem(ident);
    if (!wrapped) {
        hostapi->set_message(run, "out of memory");
        *rc = CD_ERR_TRANSIENT;
        return NULL;
    }
    *rc = CD_OK;
    return wrapped;
}

/* The result column named name: exactly as the query returns it first (a
 * quoted "TxnRef"), then as PQfnumber reads an unquoted name (folded to
 * lower case, so TXNREF finds txnref). -1 when there is none. */
static int result_column(const PGresult *desc, const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < PQnfields(desc); i++)
        if (strcmp(PQfname(desc, i), name) == 0)
            return i;
    return PQfnumber(desc, name);
}

static int check_config(cd_run *run, const json_t *root)
{
    int bad = 0;
    if (!cdc_secret_present(root, "conninfo")) {
        report(run, "conninfo", "is required");
        bad++;
    }
    bad += cdc_check_secret_shape(hostapi, run, root, "conninfo", "conninfo");
    const char *q = cdc_json_str(root, "query", NULL);
    const char *qs = q;
    while (qs && isspace((unsigned char)*qs))
        qs++;
    if (!qs || !*qs) {
        report(run, "query", json_object_get(root, "query") ? "must be a non-empty string"
                                                            : "is required");
        bad++;
    } else if (max_param(qs) > 2) {
        report(run, "query", "only $1 (window_from) and $2 (window_to) can be used, not $%d",
               max_param(qs));
        bad++;
    }
    const char *ds = cdc_json_str(root, "dataset", NULL);
    const char *const *targets = NULL;
    if (!ds) {
        report(run, "dataset", "is required (pg_transaction or bank_statement)");
        bad++;
    } else if (strcmp(ds, "pg_transaction") == 0) {
        targets = pg_targets;
    } else if (strcmp(ds, "bank_statement") == 0) {
        targets = bank_targets;
    } else {
        report(run, "dataset", "must be pg_transaction or bank_statement, not \"%s\"", ds);
        bad++;
    }
    json_t *map = json_object_get(root, "column_map");
    if (map && !json_is_object(map)) {
        report(run, "column_map", "must be an object {\"target column\": \"result column\"}");
        bad++;
    } else if (map) {
        const char *k;
        json_t *v;
        json_object_foreach(map, k, v) {
            char *path = cdc_printf("column_map.%s", k);
            if (targets && !in_list(targets, k)) {
                report(run, path ? path : "column_map", "\"%s\" is not a column of %s", k, ds);
                bad++;
            } else if (!json_is_string(v) || json_string_length(v) == 0) {
                report(run, path ? path : "column_map", "must name a result column");
                bad++;
            }
            free(path);
        }
    }
    json_t *to = json_object_get(root, "statement_timeout_seconds");
    if (to && (!json_is_integer(to) || json_integer_value(to) < 1 ||
               json_integer_value(to) > 86400)) {
        report(run, "statement_timeout_seconds", "must be an integer from 1 to 86400");
        bad++;
    }
    json_t *cc = json_object_get(root, "cursor_column");
    if (cc && (!json_is_string(cc) || json_string_length(cc) == 0)) {
        report(run, "cursor_column", "must name a result column");
        bad++;
    }
    const char *lim = json_is_string(cc) && qs ? top_level_limit(qs) : NULL;
    if (lim) {
        report(run, "query", "has %s outside any parentheses, which does not work with "
                             "cursor_column: an incremental pull filters the query's result on "
                             "the cursor, so every pull would read the same first rows, all at "
                             "or below the cursor, and load nothing; drop the %s (each pull "
                             "reads every row after the cursor)",
               lim, lim);
        bad++;
    }
    json_t *co = json_object_get(root, "cursor_overlap");
    if (co && (!json_is_integer(co) || json_integer_value(co) < 0 ||
               json_integer_value(co) > 1000000000)) {
        report(run, "cursor_overlap", "must be an integer from 0 to 1000000000");
        bad++;
    } else if (co && !cc) {
        report(run, "cursor_overlap", "needs cursor_column");
        bad++;
    }
    return bad;
}

static int validate(cd_run *run)
{
    return cdc_validate_with(hostapi, run, &validating, check_config);
}

/* cd_status for a failed statement, from its SQLSTATE class. */
static int status_for_result(const PGresult *r)
{
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!st)
        return CD_ERR_TRANSIENT; /* no SQLSTATE: the connection broke */
    /* 55P03: the source's lock_timeout (often set per role on a busy
     * database) fired while a maintenance job held the table: gone once
     * the job ends, so worth a retry like a deadlock. */
    if (strncmp(st, "08", 2) == 0 || strcmp(st, "57014") == 0 || strncmp(st, "53", 2) == 0 ||
        strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strncmp(st, "57P", 3) == 0 ||
        strcmp(st, "55P03") == 0)
        return CD_ERR_TRANSIENT;
    if (strncmp(st, "42", 2) == 0 || strncmp(st, "28", 2) == 0 || strcmp(st, "25006") == 0)
        return CD_ERR_CONFIG; /* bad SQL, no privilege, tried to write */
    return CD_ERR_PERMANENT;
}

/* Whether a host list has a name with an '@' past its first character,
 * which no host name has (a Unix socket's directory, "/...", and an
 * abstract socket, "@...", are left alone). */
static int host_has_at(const char *hosts)
{
    for (const char *h = hosts; *h;) {
        size_t n = strcspn(h, ",");
        if (*h != '/' && n > 1 && memchr(h + 1, '@', n - 1))
            return 1;
        h += n;
        if (*h == ',')
            h++;
    }
    return 0;
}

/* Whether every entry of a port list is digits (or empty: the default). */
static int ports_numeric(const char *ports)
{
    for (const char *p = ports; *p; p++)
        if (*p != ',' && !isdigit((unsigned char)*p))
            return 0;
    return 1;
}

/* Whether a failed connection's message says that trying again cannot
 * help until someone changes the conninfo or the source's configuration:
 * a login refused (password, pg_hba.conf, no CONNECT privilege), a missing
 * database or role, an option libpq refuses. libpq gives no SQLSTATE for
 * a failed connection, so its text is all there is. */
static int refused_for_good(const char *m)
{
    static const char *const signs[] = {
        "authentication failed", "does not exist", "invalid connection option", "missing \"=\"",
        "pg_hba.conf", "permission denied for database", "definition of service",
        "invalid integer value", NULL};
    for (const char *const *s = signs; *s; s++)
        if (strstr(m, *s))
            return 1;
    /* libpq's "invalid sslmode value: \"x\"" and the like */
    const char *inv = strstr(m, "invalid ");
    return inv && strstr(inv, " value: \"") != NULL;
}

/* Opens the read-only session. Returns the connection or NULL with the
 * run's message set and *rc the status. */
static PGconn *open_source(cd_run *run, const json_t *root, int *rc, int test_steps)
{
    const char *conninfo = cdc_secret_str(root, "conninfo");
    const cd_http_defaults *d = hostapi->http_defaults(run);
    long timeout_s = d && d->connect_timeout_s ? (long)d->connect_timeout_s : 30;
    int64_t left = hostapi->remaining_ms(run);
    if (left >= 0 && left / 1000 < timeout_s)
        timeout_s = (long)(left / 1000);
    if (timeout_s < 2) /* libpq's floor; less means "wait for ever" */
        timeout_s = 2;
    char ct[24];
    snprintf(ct, sizeof ct, "%ld", timeout_s);
    if (!conninfo) {
        hostapi->set_message(run, "conninfo was not resolved to a value");
        *rc = CD_ERR_CONFIG;
        return NULL;
    }
    /* libpq's parse errors quote the text they stumble on, which may be
     * the password ("invalid percent-encoded token: \"s3cr%ZZet\""), and a
     * secret is scrubbed only whole: say where, not what. */
    char *perr = NULL;
    PQconninfoOption *parsed = PQconninfoParse(conninfo, &perr);
    if (!parsed) {
        PQfreemem(perr);
        const char *m = "conninfo is not a valid libpq connection string or URI (the text is not "
                        "shown: it may hold the password)";
        if (test_steps)
            hostapi->test_step(run, "connect", 0, "%s", m);
        hostapi->set_message(run, "%s", m);
        *rc = CD_ERR_CONFIG;
        return NULL;
    }
    /* libpq names only the address it was given; the message names the
     * host as the operator wrote it too. */
    char *host_label = NULL;
    const char *garbled = NULL;
    for (PQconninfoOption *o = parsed; o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0 && o->val && *o->val && o->val[0] != '/')
            host_label = cdc_printf(" at %s", o->val);
        if (!garbled && o->val && strcmp(o->keyword, "host") == 0 && host_has_at(o->val))
            garbled = "a host name with an '@' in it";
        if (!garbled && o->val && strcmp(o->keyword, "port") == 0 && !ports_numeric(o->val))
            garbled = "a port that is not a number";
    }
    PQconninfoFree(parsed);
    /* A password with an '@' or '/' written as is in a URI: libpq takes
     * what follows the first '@' for the host, or the password for the
     * port, and the lookup or libpq would quote that piece of the password
     * (the host masks the whole conninfo, not its pieces). */
    if (garbled) {
        char *m = cdc_printf("conninfo gives %s: in a postgresql:// URI, an '@' or '/' in the "
                             "user name or password must be percent-encoded ('@' is %%40, '/' "
                             "is %%2F) (the text is not shown: it may hold the password)",
                             garbled);
        if (test_steps)
            hostapi->test_step(run, "connect", 0, "%s", m ? m : garbled);
        hostapi->set_message(run, "%s", m ? m : garbled);
        free(m);
        free(host_label);
        *rc = CD_ERR_CONFIG;
        return NULL;
    }
    char *hosts = NULL, *addrs = NULL, *ports = NULL, *why = NULL;
    int64_t before_lookup = hostapi->remaining_ms(run);
    if (pgd_resolve_hosts(hostapi, run, conninfo, timeout_s * 1000, &hosts, &addrs, &ports,
                          &why) != 0) {
        if (test_steps)
            hostapi->test_step(run, "connect", 0, "%s", why ? why : "failed");
        hostapi->set_message(run, "cannot connect to the source database: %s",
                             why ? why : "failed");
        free(why);
        free(host_label);
        *rc = hostapi->is_cancelled(run) ? CD_CANCELLED : CD_ERR_TRANSIENT;
        return NULL;
    }
    /* The lookups and the connect share the one connect timeout. */
    int64_t after_lookup = hostapi->remaining_ms(run);
    if (before_lookup >= 0 && after_lookup >= 0) {
        timeout_s -= (long)((before_lookup - after_lookup) / 1000);
        if (timeout_s < 2)
            timeout_s = 2;
        snprintf(ct, sizeof ct, "%ld", timeout_s);
    }
    /* Later keywords override what the conninfo (expanded from dbname)
     * says: the same hosts, with the addresses just looked up. */
    /* client_encoding: the load takes UTF-8 only, and a server sends text
     * in its database's encoding unless told otherwise (a LATIN1 source's
     * "Café" arrived as invalid UTF-8 and its row was refused); told, the
     * server converts. */
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "client_encoding",
                          "host", "hostaddr", "port", NULL};
    const char *vals[] = {conninfo, ct, "connectord pg_database", "UTF8", hosts, addrs, ports,
                          NULL};
    if (!hosts)
        keys[4] = NULL;
    else if (!ports)
        keys[6] = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!hosts) { /* libpq looked the name up (or there was none): it says which */
        free(host_label);
        host_label = NULL;
    }
    free(hosts);
    free(addrs);
    free(ports);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char *m = pq_message(c ? PQerrorMessage(c) : "out of memory");
        *rc = m && refused_for_good(m) ? CD_ERR_CONFIG : CD_ERR_TRANSIENT;
        if (test_steps)
            hostapi->test_step(run, "connect", 0, "%s", m ? m : "failed");
        hostapi->set_message(run, "cannot connect to the source database%s: %s",
                             host_label ? host_label : "", m ? m : "failed");
        free(m);
        free(host_label);
        PQfinish(c);
        return NULL;
    }
    free(host_label);
    if (test_steps)
        hostapi->test_step(run, "connect", 1, "connected to %s as %s (server %d)", PQdb(c),
                           PQuser(c), PQserverVersion(c));
    /* The statement runs while its rows stream into the load, so by default
     * it may take what is left of the run: a fixed 300 s failed every pull
     * of a table too big to stream in that time. */
    long st = (long)cdc_json_int(root, "statement_timeout_seconds", left >= 0 ? 0 : 300);
    if (left >= 0 && (st == 0 || left / 1000 < st))
        st = left / 1000 > 1 ? (long)(left / 1000) : 1;
    /* One read-only transaction holds everything the run asks the source,
     * and every setting is LOCAL to it: behind a pooler in transaction
     * mode (PgBouncer) the statements then all reach one server session,
     * and nothing of ours is left on that session for its next client.
     * REPEATABLE READ: the pull and the cursor arithmetic see one snapshot. */
    char *sql = cdc_printf("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
                           "SET LOCAL statement_timeout = %ld",
                           st * 1000);
    PGresult *r = sql ? PQexec(c, sql) : NULL;
    free(sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char *m = pq_message(PQerrorMessage(c));
        if (test_steps)
            hostapi->test_step(run, "read-only", 0, "%s", m ? m : "failed");
        hostapi->set_message(run, "cannot make the source session read-only: %s", m ? m : "");
        free(m);
        *rc = r ? status_for_result(r) : CD_ERR_TRANSIENT;
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    /* The run's dates ($1, $2) are the connector's local dates: casts to
     * timestamptz and ::date happen in its zone, not the server's, and
     * dates come back as ISO whatever the source's DateStyle. */
    const char *tzp[] = {hostapi->run_info(run)->timezone};
    r = PQexecParams(c, "SELECT set_config('TimeZone', $1, true), "
                        "set_config('DateStyle', 'ISO, YMD', true), "
                        "set_config('IntervalStyle', 'postgres', true)",
                     1, NULL, tzp, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char *m = pq_message(PQerrorMessage(c));
        hostapi->set_message(run, "cannot set the source session's time zone to %s: %s",
                             tzp[0], m ? m : "");
        free(m);
        *rc = r ? status_for_result(r) : CD_ERR_TRANSIENT;
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    if (test_steps)
        hostapi->test_step(run, "read-only", 1, "read-only session, statement_timeout %ld s", st);
    *rc = CD_OK;
    return c;
}

/* Which result column feeds each target column. Fills targets/sources
 * (n entries, malloc'd arrays of pointers into the result/config). */
typedef struct colmap {
    const char **targets;
    int *sources;
    size_t n;
} colmap;

static int build_colmap(cd_run *run, const json_t *root, const PGresult *desc, colmap *cm)
{
    json_t *map = json_object_get(root, "column_map");
    int nf = PQnfields(desc);
    size_t cap = (map ? json_object_size(map) : 0) + (size_t)nf;
    cm->targets = calloc(cap ? cap : 1, sizeof *cm->targets);
    cm->sources = calloc(cap ? cap : 1, sizeof *cm->sources);
    cm->n = 0;
    if (!cm->targets || !cm->sources) {
        hostapi->set_message(run, "out of memory");
        return CD_ERR_TRANSIENT;
    }
    if (map && json_object_size(map) > 0) {
        const char *k;
        json_t *v;
        json_object_foreach(map, k, v) {
            int idx = result_column(desc, json_string_value(v));
            if (idx < 0) {
                hostapi->set_message(run, "column_map.%s names \"%s\", which the query does not "
                                          "return", k, json_string_value(v));
                return CD_ERR_CONFIG;
            }
            cm->targets[cm->n] = k;
            cm->sources[cm->n++] = idx;
        }
        return CD_OK;
    }
    for (int i = 0; i < nf; i++) {
        cm->targets[cm->n] = PQfname(desc, i);
        cm->sources[cm->n++] = i;
    }
    return CD_OK;
}

static void colmap_free(colmap *cm)
{
    free(cm->targets);
    free(cm->sources);
}

/* The pull is a named statement: the cursor arithmetic (cursor_overlap.c)
 * runs unnamed ones in between. */
#define PULL_STATEMENT "cd_pull"

/* Ends the source session. After a pull that went through, the prepared
 * statement is dropped and the transaction closed, so a pooler hands the
 * server session on clean (a prepared statement outlives its transaction,
 * and the next run there would find cd_pull taken). After a failure the
 * connection is simply closed: the server rolls back, and a pooler drops a
 * session its client left in a transaction. */
static void close_source(PGconn *c, int clean)
{
    if (c && clean && PQstatus(c) == CONNECTION_OK &&
        PQtransactionStatus(c) == PQTRANS_INTRANS)
        PQclear(PQexec(c, "DEALLOCATE " PULL_STATEMENT "; COMMIT"));
    PQfinish(c);
}

/* Prepares the query as PULL_STATEMENT and describes it. Returns the
 * description or NULL with message and *rc set. */

static PGresult *prepare_query(cd_run *run, PGconn *c, const char *query, int nparams,
                               const Oid *types, int *rc)
{
    PGresult *r = PQprepare(c, PULL_STATEMENT, query, nparams, types);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char *m = pq_message(PQerrorMessage(c));
        hostapi->set_message(run, "the query does not prepare: %s", m ? m : "");
        free(m);
        *rc = r ? status_for_result(r) : CD_ERR_TRANSIENT;
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    r = PQdescribePrepared(c, PULL_STATEMENT);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char *m = pq_message(PQerrorMessage(c));
        hostapi->set_message(run, "cannot describe the query: %s", m ? m : "");
        free(m);
        *rc = CD_ERR_TRANSIENT;
        PQclear(r);
        return NULL;
    }
    *rc = CD_OK;
    return r;
}

static int test(cd_run *run)
{
    json_error_t err;
    json_t *root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!root) {
        hostapi->set_message(run, "connection_config is not valid JSON: %s", err.text);
        return CD_ERR_CONFIG;
    }
    int rc;
    PGconn *c = NULL;
    PGresult *desc = NULL;
    colmap cm = {0};
    cdc_buf names = {0};
    char *wrapped = NULL;
    if (check_config(run, root) > 0) {
        hostapi->test_step(run, "config", 0, "connection_config is invalid (see the log)");
        hostapi->set_message(run, "connection_config is invalid (see the run's log)");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    c = open_source(run, root, &rc, 1);
    if (!c)
        goto out;
    PGresult *r = PQexec(c, "SELECT 1");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char *m = pq_message(PQerrorMessage(c));
        hostapi->test_step(run, "select 1", 0, "%s", m ? m : "");
        hostapi->set_message(run, "SELECT 1 failed: %s", m ? m : "");
        free(m);
        rc = r ? status_for_result(r) : CD_ERR_TRANSIENT;
        PQclear(r);
        goto out;
    }
    PQclear(r);
    hostapi->test_step(run, "select 1", 1, "ok");
    const char *query = cdc_json_str(root, "query", "");
    int nparams = max_param(query);
    Oid types[3];
    param_types(query, nparams, types);
    const char *cursor_col = cdc_json_str(root, "cursor_column", NULL);
    desc = prepare_query(run, c, query, nparams, types, &rc);
    if (!desc) {
        hostapi->test_step(run, "query", 0, "%s", "the query does not prepare (see message)");
        goto out;
    }
    for (int i = 0; i < PQnfields(desc); i++) {
        if ((i && cdc_buf_append(&names, ", ", 2) != 0) ||
            cdc_buf_append(&names, PQfname(desc, i), strlen(PQfname(desc, i))) != 0) {
            rc = CD_ERR_TRANSIENT;
            goto out;
        }
    }
    rc = build_colmap(run, root, desc, &cm);
    /* A run hands these columns to the load, which refuses a name its
     * dataset does not have: the test says so now, not the first run. */
    const char *ds = cdc_json_str(root, "dataset", "");
    const char *const *targets = strcmp(ds, "bank_statement") == 0 ? bank_targets : pg_targets;
    for (size_t i = 0; rc == CD_OK && i < cm.n; i++) {
        if (!in_list(targets, cm.targets[i])) {
            hostapi->set_message(run, "the query returns \"%s\", which is not a column of %s: "
                                      "rename it in the query or map the columns with column_map",
                                 cm.targets[i], ds);
            rc = CD_ERR_CONFIG;
        }
    }
    if (rc == CD_OK && cursor_col) {
        char *quoted = cdc_printf("\"%s\"", cursor_col);
        int idx = quoted && !strchr(cursor_col, '"') ? PQfnumber(desc, quoted) : -1;
        free(quoted);
        if (idx < 0) {
            hostapi->set_message(run, "cursor_column \"%s\" is not returned by the query",
                                 cursor_col);
            rc = CD_ERR_CONFIG;
        } else if (cdc_json_int(root, "cursor_overlap", 0) > 0 &&
                   !pgd_overlap_type_ok(PQftype(desc, idx))) {
            hostapi->set_message(run, "cursor_overlap needs a cursor_column of a number, date or "
                                      "timestamp type; \"%s\" is not one",
                                 cursor_col);
            rc = CD_ERR_CONFIG;
        }
    }
    if (rc == CD_OK && cursor_col) {
        /* What an incremental pull prepares: the query wrapped (unnamed,
         * gone with the next unnamed statement), so that the test fails
         * where the run would. */
        wrapped = wrap_for_cursor(run, c, query, cursor_col, 0, &rc);
        if (wrapped) {
            r = PQprepare(c, "", wrapped, nparams, types);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                char *m = pq_message(PQerrorMessage(c));
                hostapi->set_message(run, "the query wrapped for cursor_column does not prepare: %s",
                                     m ? m : "");
                free(m);
                rc = r ? status_for_result(r) : CD_ERR_TRANSIENT;
            }
            PQclear(r);
        }
    }
    hostapi->test_step(run, "query", rc == CD_OK, "%d column(s): %s", PQnfields(desc),
                       names.data ? names.data : "");
    if (rc == CD_OK)
        hostapi->set_message(run, "source database reachable; the query returns %d column(s): %s",
                             PQnfields(desc), names.data ? names.data : "");
out:
    free(wrapped);
    cdc_buf_free(&names);
    colmap_free(&cm);
    close_source(c, desc != NULL);
    PQclear(desc);
    json_decref(root);
    return rc;
}

/* Waits until the next result can be read without blocking, watching the
 * run's cancellation meanwhile: a query that sorts for minutes before its
 * first row, or a source gone silent, would otherwise hold the driver in
 * PQgetResult past any cancel. 0 ready (or the connection failed, which
 * PQgetResult then reports), 1 cancelled. */
static int wait_for_result(PGconn *c, cd_run *run)
{
    while (PQisBusy(c)) {
        if (hostapi->is_cancelled(run))
            return 1;
        struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
        int n = poll(&p, 1, 200);
        if ((n < 0 && errno != EINTR) || (n > 0 && !PQconsumeInput(c)))
            return 0;
    }
    return 0;
}

/* Stops a running statement and drains its results. */
static void cancel_query(PGconn *c)
{
    char errbuf[256];
    PGcancel *cn = PQgetCancel(c);
    if (cn) {
        PQcancel(cn, errbuf, sizeof errbuf);
        PQfreeCancel(cn);
    }
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
}

/* The stored cursor, as the value to pull after (malloc'd), or NULL for a
 * pull from the start. The driver stores {"cursor_column": C, "value": V}:
 * a position is a position in one column only, so a cursor stored for
 * another column than today's cursor_column (the config was edited) is
 * not applied to it, where it would fail every run (a number bound as a
 * timestamp) or, worse, skip rows (one id column's position applied to
 * another); the pull starts from the beginning instead, and the rows
 * already loaded come back unchanged. A cursor stored as a bare value
 * (before the column was kept with it) is taken as today's column's. */
static char *stored_cursor(cd_run *run, const char *cursor_col)
{
    char *stored = NULL;
    if (hostapi->cursor_get(run, &stored) != CD_OK || !stored)
        return NULL;
    char *value = NULL;
    json_t *j = json_loads(stored, 0, NULL);
    const char *col = json_string_value(json_object_get(j, "cursor_column"));
    const char *val = json_string_value(json_object_get(j, "value"));
    if (json_is_object(j) && json_object_size(j) == 2 && col && val) {
        if (strcmp(col, cursor_col) == 0)
            value = strdup(val);
        else
            hostapi->log(run, CD_LOG_WARNING,
                         "the stored cursor %s is a position in \"%s\", not in cursor_column "
                         "\"%s\": pulling from the start (rows already loaded load as unchanged)",
                         val, col, cursor_col);
    } else {
        value = strdup(stored);
    }
    json_decref(j);
    hostapi->free(stored);
    /* Stored by a version that let an infinite value become the cursor:
     * nothing comes after it, so the connector would stay stuck. */
    if (value && (strcmp(value, "infinity") == 0 || strcmp(value, "Infinity") == 0 ||
                  strcmp(value, "NaN") == 0)) {
        hostapi->log(run, CD_LOG_WARNING,
                     "the stored cursor is %s, after which no row can come: pulling from the "
                     "start (rows already loaded load as unchanged)",
                     value);
        free(value);
        value = NULL;
    }
    return value;
}

/* Stores value as the position in cursor_col (see stored_cursor). */
static void store_cursor(cd_run *run, const char *cursor_col, const char *value)
{
    json_t *j = json_pack("{s:s, s:s}", "cursor_column", cursor_col, "value", value);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!text || hostapi->cursor_set(run, text) != CD_OK)
        hostapi->log(run, CD_LOG_WARNING, "the host did not store the cursor %s%s", value,
                     text ? "" : " (not valid UTF-8)");
    free(text);
}

/* Whether a cursor value sorts after every value to come: a timestamp's or
 * date's "infinity", a number's "Infinity" or "NaN" (PostgreSQL puts NaN
 * above all numbers). Made the cursor, it would end the connector's pulls
 * for good: no later row is ever "> infinity", and every run after it
 * would load nothing and call that a success. */
static int cursor_unbounded(Oid type, const char *v)
{
    switch (type) {
    case 1082: /* date */
    case 1114: /* timestamp */
    case 1184: /* timestamptz */
        return strcmp(v, "infinity") == 0;
    case 700:  /* float4 */
    case 701:  /* float8 */
    case 1700: /* numeric */
        return strcmp(v, "Infinity") == 0 || strcmp(v, "NaN") == 0;
    default:
        return 0;
    }
}

/* A row whose cursor_column is NULL, as a record error: loading it would
 * be a one-off, as no later pull's "> cursor" selects it, and a missing
 * payment must show. raw: its values as target=value, for finding it. */
static void null_cursor_error(cd_run *run, const char *cursor_col, const char *ref,
                              const colmap *cm, const char *const *values, const size_t *lengths)
{
    char raw[512];
    size_t o = 0;
    for (size_t i = 0; i < cm->n && o < sizeof raw - 1; i++) {
        int n = snprintf(raw + o, sizeof raw - o, "%s%s=%.*s", i ? ", " : "", cm->targets[i],
                         values[i] ? (int)(lengths[i] > 200 ? 200 : lengths[i]) : 4,
                         values[i] ? values[i] : "NULL");
        if (n < 0)
            break;
        o = (size_t)n < sizeof raw - o ? o + (size_t)n : sizeof raw - 1;
    }
    char *why = cdc_printf("cursor_column \"%s\" is NULL: an incremental pull cannot place the "
                           "row after a cursor, so it is not loaded",
                           cursor_col);
    hostapi->record_error(run, ref, why ? why : "cursor_column is NULL", raw, o);
    free(why);
}

static int run_driver(cd_run *run)
{
    json_error_t err;
    json_t *root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!root) {
        hostapi->set_message(run, "connection_config is not valid JSON: %s", err.text);
        return CD_ERR_CONFIG;
    }
    int rc;
    PGconn *c = NULL;
    PGresult *desc = NULL;
    colmap cm = {0};
    const char **values = NULL;
    size_t *lengths = NULL;
    char *cursor = NULL, *prev_cursor = NULL, *wrapped = NULL, *lowered = NULL;
    if (check_config(run, root) > 0) {
        hostapi->set_message(run, "connection_config is invalid (see the run's log)");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    long long overlap = cdc_json_int(root, "cursor_overlap", 0);
    c = open_source(run, root, &rc, 0);
    if (!c)
        goto out;
    const char *query = cdc_json_str(root, "query", "");
    int nparams = max_param(query);
    Oid types[3];
    param_types(query, nparams, types);
    const char *cursor_col = cdc_json_str(root, "cursor_column", NULL);
    if (cursor_col) {
        prev_cursor = stored_cursor(run, cursor_col);
        wrapped = wrap_for_cursor(run, c, query, cursor_col, prev_cursor ? nparams + 1 : 0, &rc);
        if (!wrapped)
            goto out;
        hostapi->log(run, CD_LOG_INFO, "incremental pull on %s %s%s", cursor_col,
                     prev_cursor ? "after " : "from the start", prev_cursor ? prev_cursor : "");
        query = wrapped;
        if (prev_cursor)
            nparams++;
    }
    desc = prepare_query(run, c, query, nparams, types, &rc);
    if (!desc || (rc = build_colmap(run, root, desc, &cm)) != CD_OK)
        goto out;
    int cursor_idx = -1;
    if (cursor_col) {
        /* PQfnumber folds unquoted names to lower case; ask for it as is */
        char *quoted = cdc_printf("\"%s\"", cursor_col);
        cursor_idx = quoted && !strchr(cursor_col, '"') ? PQfnumber(desc, quoted) : -1;
        free(quoted);
    }
    if (cursor_col && cursor_idx < 0) {
        hostapi->set_message(run, "cursor_column \"%s\" is not returned by the query", cursor_col);
        rc = CD_ERR_CONFIG;
        goto out;
    }
    Oid cursor_type = cursor_idx >= 0 ? PQftype(desc, cursor_idx) : 0;
    if (overlap > 0 && !pgd_overlap_type_ok(cursor_type)) {
        hostapi->set_message(run, "cursor_overlap needs a cursor_column of a number, date or "
                                  "timestamp type; \"%s\" is not one",
                             cursor_col);
        rc = CD_ERR_CONFIG;
        goto out;
    }
    if (overlap == 0 && prev_cursor && cursor_type == 1082 /* date */) {
        /* A date is shared by every row of its day: behind a "> day"
         * cursor, a row added to the cursor's day after the pull would never
         * be read. The day is read again instead (its rows load as
         * unchanged), as an overlap of one day would. */
        overlap = 1;
        hostapi->log(run, CD_LOG_INFO, "cursor_column \"%s\" is a date: its last day %s is read "
                                       "again, for rows added to it since",
                     cursor_col, prev_cursor);
    }
    if (overlap > 0 && prev_cursor) {
        char *why = NULL;
        int bad_value = 0;
        lowered = pgd_cursor_lowered(c, cursor_type, prev_cursor, overlap, &bad_value, &why);
        if (!lowered) {
            hostapi->set_message(run, "cannot step the cursor %s back by %lld: %s", prev_cursor,
                                 overlap, why ? why : "");
            free(why);
            rc = bad_value ? CD_ERR_CONFIG : CD_ERR_TRANSIENT;
            goto out;
        }
        hostapi->log(run, CD_LOG_INFO, "cursor_overlap %lld: reading again from after %s",
                     overlap, lowered);
    }
    rc = hostapi->records_begin(run, cm.targets, cm.n);
    if (rc != CD_OK) {
        hostapi->set_message(run, "the host refused the result columns (see the run's log)");
        goto out;
    }
    values = calloc(cm.n ? cm.n : 1, sizeof *values);
    lengths = calloc(cm.n ? cm.n : 1, sizeof *lengths);
    if (!values || !lengths) {
        hostapi->set_message(run, "out of memory");
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    const cd_run_info *info = hostapi->run_info(run);
    const char *params[3] = {info->window_from, info->window_to, NULL};
    if (cursor_col && prev_cursor)
        params[nparams - 1] = lowered ? lowered : prev_cursor;
    if (!PQsendQueryPrepared(c, PULL_STATEMENT, nparams, params, NULL, NULL, 0) ||
        !PQsetSingleRowMode(c)) {
        char *m = pq_message(PQerrorMessage(c));
        hostapi->set_message(run, "cannot start the query: %s", m ? m : "");
        free(m);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    uint64_t rows = 0, null_cursor_rows = 0, unbounded_rows = 0;
    PGresult *r;
    rc = CD_OK;
    for (;;) {
        if (rc == CD_OK && wait_for_result(c, run)) {
            cancel_query(c);
            hostapi->set_message(run, "cancelled after %llu row(s)", (unsigned long long)rows);
            rc = CD_CANCELLED;
            break;
        }
        if ((r = PQgetResult(c)) == NULL)
            break;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && rc == CD_OK) {
            if (hostapi->is_cancelled(run)) {
                PQclear(r);
                cancel_query(c);
                hostapi->set_message(run, "cancelled after %llu row(s)", (unsigned long long)rows);
                rc = CD_CANCELLED;
                break;
            }
            rows++;
            for (size_t i = 0; i < cm.n; i++) {
                int col = cm.sources[i];
                if (PQgetisnull(r, 0, col)) {
                    values[i] = NULL;
                    lengths[i] = 0;
                    continue;
                }
                char *v = PQgetvalue(r, 0, col);
                Oid t = PQftype(r, col);
                /* timestamp / timestamptz text uses a space; the host
                 * takes ISO 8601 with a 'T' */
                if ((t == 1114 || t == 1184) && PQgetlength(r, 0, col) > 10 && v[10] == ' ')
                    v[10] = 'T';
                values[i] = v;
                lengths[i] = (size_t)PQgetlength(r, 0, col);
            }
            char ref[48];
            snprintf(ref, sizeof ref, "row %llu", (unsigned long long)rows);
            if (cursor_idx >= 0 && PQgetisnull(r, 0, cursor_idx)) {
                null_cursor_error(run, cursor_col, ref, &cm, values, lengths);
                null_cursor_rows++;
                PQclear(r);
                continue;
            }
            int er = hostapi->record_emit(run, values, lengths, ref);
            if (cursor_idx >= 0 && !PQgetisnull(r, 0, cursor_idx)) {
                const char *cv = PQgetvalue(r, 0, cursor_idx);
                if (cursor_unbounded(cursor_type, cv)) {
                    unbounded_rows++;
                } else {
                    free(cursor);
                    cursor = strdup(cv);
                }
            }
            PQclear(r);
            if (er != CD_OK) {
                cancel_query(c);
                hostapi->set_message(run, "the host stopped taking records after %llu row(s)",
                                     (unsigned long long)rows);
                rc = er;
                break;
            }
            if (rows % 1000 == 0)
                hostapi->progress(run, rows, 0);
        } else if (st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE) {
            PQclear(r);
        } else if (rc == CD_OK) {
            /* The first error says why; what may follow it (a source that
             * ends the session sends its reason, then closes: "server
             * closed the connection unexpectedly") would hide it. */
            char *m = pq_message(PQresultErrorMessage(r));
            hostapi->set_message(run, "the query failed after %llu row(s): %s",
                                 (unsigned long long)rows, m ? m : "");
            free(m);
            rc = status_for_result(r);
            PQclear(r);
        } else {
            PQclear(r);
        }
    }
    if (rc == CD_OK && lowered && cursor) {
        /* Rows read again end at or below the old cursor: it never moves
         * back. */
        char *why = NULL;
        int bad_value = 0;
        char *top = pgd_cursor_greatest(c, cursor_type, prev_cursor, cursor, &bad_value, &why);
        if (!top) {
            hostapi->set_message(run, "cannot compare the cursors %s and %s: %s", prev_cursor,
                                 cursor, why ? why : "");
            free(why);
            rc = bad_value ? CD_ERR_CONFIG : CD_ERR_TRANSIENT;
        }
        free(cursor);
        cursor = top;
    }
    if (rc == CD_OK) {
        hostapi->progress(run, rows, rows);
        if (cursor)
            store_cursor(run, cursor_col, cursor);
        if (unbounded_rows)
            hostapi->log(run, CD_LOG_WARNING,
                         "%llu row(s) with cursor_column \"%s\" infinity or NaN: loaded, but the "
                         "cursor stays below them (after them no row could ever be read), so "
                         "every pull reads them again",
                         (unsigned long long)unbounded_rows, cursor_col);
        if (null_cursor_rows)
            hostapi->log(run, CD_LOG_WARNING,
                         "%llu row(s) with cursor_column \"%s\" NULL not loaded (record errors); "
                         "give them a value in the query, e.g. COALESCE",
                         (unsigned long long)null_cursor_rows, cursor_col);
        hostapi->log(run, CD_LOG_INFO, "%llu row(s) read", (unsigned long long)rows);
    }
out:
    free(values);
    free(lengths);
    free(cursor);
    free(wrapped);
    free(lowered);
    free(prev_cursor);
    colmap_free(&cm);
    close_source(c, desc != NULL && rc == CD_OK);
    PQclear(desc);
    json_decref(root);
    return rc;
}

static int pg_database_init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    if (h->abi_major != CD_PLUGIN_ABI_MAJOR || !CD_HOST_HAS(h, init_error))
        return CD_ERR_PERMANENT;
    hostapi = h;
    cb->describe_config = describe_config;
    cb->validate = validate;
    cb->test = test;
    cb->run = run_driver;
    return CD_OK;
}

CONNECTORD_DRIVER(pg_database_magic, pg_database_init)
