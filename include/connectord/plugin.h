/*
 * connectord/plugin.h — the one header a connectord driver needs.
 *
 * A driver is a shared object (.so) that connectord loads from its plugin
 * directory at run time. It links against nothing of connectord: the host
 * hands it a versioned table of function pointers (cd_host_api) and the
 * driver fills a table of callbacks (cd_driver_callbacks). Plain C99.
 *
 * A driver exports exactly two functions, with these names:
 *
 *   const cd_driver_magic *connectord_driver_magic(void);
 *       Returns a pointer to a constant, statically allocated descriptor.
 *       The host calls it first and checks magic, ABI major and struct size
 *       before it runs any other code of the driver. It must not allocate,
 *       print or touch global state.
 *
 *   int connectord_driver_init(const cd_host_api *host,
 *                              cd_driver_callbacks *callbacks);
 *       Called once after the descriptor was accepted. The host passes a
 *       zeroed callbacks table whose struct_size it has set; the driver
 *       fills the entries it implements and returns CD_OK, or an error code
 *       (the driver is then refused with the message set through
 *       host->init_error, if any). `host` stays valid until destroy.
 *
 * Build drivers with -fvisibility=hidden and mark only those two functions
 * with CD_EXPORT (see CONNECTORD_DRIVER below).
 *
 * Lifecycle in the runner: one process per run. The host loads the driver,
 * calls init, then exactly one of validate / test / run, then (ABI 1.2,
 * only after a run whose records were committed) committed, then destroy,
 * then the process exits. A driver may therefore keep per-run state in static
 * storage, but must not rely on being unloaded cleanly (a crash or a kill
 * ends the process; the host records why).
 *
 * Compatibility: the ABI major changes only on a break. Minor versions only
 * append fields to the end of structs that carry their own size, so:
 *   - a driver must check host->struct_size (or CD_HOST_HAS) before it uses
 *     an entry added after ABI 1.0;
 *   - a driver must check callbacks->struct_size (or CD_CALLBACKS_HAS)
 *     before it sets an entry added after ABI 1.0: an older host hands it a
 *     shorter table;
 *   - the host zeroes the callbacks table, so entries a driver built
 *     against an older plugin.h does not know stay NULL ("not
 *     implemented"): drivers of ABI 1.0 and 1.1 load and run unchanged.
 *
 * ABI history: 1.0 the first; 1.1 the file ledger and work directory
 * (file_lookup, file_record, work_dir); 1.2 the committed callback and
 * file_size_loaded; 1.3 local_date.
 */
#ifndef CONNECTORD_PLUGIN_H
#define CONNECTORD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "CDRV" read as a little-endian 32-bit number. */
#define CD_DRIVER_MAGIC 0x56524443u
#define CD_PLUGIN_ABI_MAJOR 1
#define CD_PLUGIN_ABI_MINOR 3

/* The longest cursor the host stores (host->cursor_set), in bytes. */
#define CD_CURSOR_MAX 4096

#if defined(__GNUC__)
#define CD_EXPORT __attribute__((visibility("default")))
#define CD_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define CD_EXPORT
#define CD_PRINTF(fmt_index, first_arg)
#endif

/* ---------------------------------------------------------------------- */
/* Return codes: they tell the scheduler what to do next.                  */
/* ---------------------------------------------------------------------- */
typedef enum cd_status {
    CD_OK = 0,               /* done; the run's records are committed */
    CD_ERR_CONFIG = 1,       /* the connector's configuration is wrong: never retried */
    CD_ERR_TRANSIENT = 2,    /* try again later (network, 5xx, 429, file not there yet) */
    CD_ERR_PERMANENT = 3,    /* will not work by retrying (bad data, unsupported source) */
    CD_CANCELLED = 4         /* stopped because host->is_cancelled() said so */
} cd_status;

/* The connector_type a driver serves (the sp_v2_connectors column). */
typedef enum cd_category {
    CD_CATEGORY_PG_API = 1,
    CD_CATEGORY_BANK_SFTP = 2,
    CD_CATEGORY_BANK_API = 3,
    CD_CATEGORY_PG_DATABASE = 4
} cd_category;

/* The target table a driver's records are loaded into. */
typedef enum cd_dataset {
    CD_DATASET_PG_TRANSACTION = 1, /* sp_v2_transactions, key transaction_id */
    CD_DATASET_BANK_STATEMENT = 2, /* sp_v2_bank_statements, key (bank_name, bank_ref) */
    CD_DATASET_CONFIGURED = 3      /* chosen per connector: connection_config.dataset */
} cd_dataset;

/* ---------------------------------------------------------------------- */
/* The descriptor returned by connectord_driver_magic().                   */
/* ---------------------------------------------------------------------- */
typedef struct cd_driver_magic {
    uint32_t magic;        /* CD_DRIVER_MAGIC */
    uint16_t abi_major;    /* CD_PLUGIN_ABI_MAJOR the driver was built with */
    uint16_t abi_minor;    /* CD_PLUGIN_ABI_MINOR the driver was built with */
    uint32_t struct_size;  /* sizeof(cd_driver_magic) as the driver saw it */
    uint32_t reserved;     /* zero */
    const char *name;      /* driver name, [a-z0-9_]+, unique per host: "pg_api" */
    const char *version;   /* the driver's own version: "1.2.0" */
    const char *vendor;    /* who ships it: "connectord", "Acme Payments Ltd" */
    cd_category category;  /* connector_type it serves */
    cd_dataset dataset;    /* target table of its records */
    const char *description; /* one line for `connectord plugins` */
} cd_driver_magic;

/* Fills a cd_driver_magic initializer with the ABI fields set. */
#define CD_DRIVER_MAGIC_INIT(name_, version_, vendor_, category_, dataset_, description_) \
    {CD_DRIVER_MAGIC, CD_PLUGIN_ABI_MAJOR, CD_PLUGIN_ABI_MINOR,                            \
     (uint32_t)sizeof(cd_driver_magic), 0u, (name_), (version_), (vendor_),                \
     (category_), (dataset_), (description_)}

/* ---------------------------------------------------------------------- */
/* Host services.                                                          */
/* ---------------------------------------------------------------------- */

/* Opaque per-call context: a run, a test, or a validation. */
typedef struct cd_run cd_run;

/* A file a driver found at its source (ABI 1.1), for the file ledger. */
typedef struct cd_file_info {
    uint32_t struct_size;     /* sizeof(cd_file_info) */
    const char *remote_path;  /* "/upload/AXIS_RECON_20251002.csv" */
    int64_t size;             /* bytes, -1 when unknown */
    int64_t mtime;            /* seconds since the epoch, -1 when unknown */
    const char *sha256_hex;   /* 64 lower-case hex digits, or NULL before download */
} cd_file_info;

/* What the ledger knows of a file (ABI 1.1). */
typedef enum cd_file_state {
    CD_FILE_NEW = 0,       /* never loaded: load it */
    CD_FILE_LOADED = 1,    /* this content (same sha256, under any name) was loaded */
    CD_FILE_CHANGED = 2    /* this path was loaded with other content: a new version */
} cd_file_state;

typedef enum cd_log_level {
    CD_LOG_ERROR = 3,
    CD_LOG_WARNING = 4,
    CD_LOG_INFO = 6,
    CD_LOG_DEBUG = 7
} cd_log_level;

typedef enum cd_run_kind {
    CD_RUN_SCHEDULED = 1,
    CD_RUN_MANUAL = 2,
    CD_RUN_TEST = 3,
    CD_RUN_BACKFILL = 4,
    CD_RUN_VALIDATE = 5 /* not a run: only validate() is called */
} cd_run_kind;

/* What the driver is asked to fetch. All strings are UTF-8, NUL-terminated
 * and owned by the host for the duration of the call. */
typedef struct cd_run_info {
    uint32_t struct_size;
    int64_t run_id;             /* 0 for validation */
    int64_t connector_id;
    const char *connector_name;
    const char *source_entity;  /* e.g. "SABPAISA", "HDFC BANK" */
    cd_run_kind kind;
    /* The business date (run_date) and the window to fetch, both inclusive,
     * "YYYY-MM-DD", computed in the connector's zone. Equal for a daily run. */
    const char *run_date;
    const char *window_from;
    const char *window_to;
    const char *timezone;       /* IANA zone of the connector: "Asia/Kolkata" */
    uint32_t attempt;           /* 1 for the first attempt */
    /* The connector's connection_config as JSON text, with every secret
     * reference ({"secret": "env:NAME"}) already replaced by its value.
     * Never log it whole. */
    const char *config_json;
    size_t config_json_len;
} cd_run_info;

/* Network defaults the operator configured; drivers apply them to every
 * connection they open. Timeouts in seconds; 0 means "no limit of this kind". */
typedef struct cd_http_defaults {
    uint32_t struct_size;
    uint32_t connect_timeout_s;
    uint32_t request_timeout_s;
    int verify_tls;            /* 1: always verify peer and host name */
    const char *ca_file;       /* NULL: system CA store */
    const char *proxy;         /* NULL: none */
    const char *user_agent;    /* "connectord/1.0" */
} cd_http_defaults;

typedef struct cd_host_api {
    uint32_t struct_size;   /* sizeof(cd_host_api) in the host */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* --- ABI 1.0 --- */

    /* A line in the run's log (and the service log). Secret values the host
     * resolved for this run are replaced by ******** before storing. */
    void (*log)(cd_run *run, cd_log_level level, const char *fmt, ...) CD_PRINTF(3, 4);

    /* The run's parameters. Never NULL during a callback. */
    const cd_run_info *(*run_info)(cd_run *run);

    /* Declares the columns of the records that follow, by target-table
     * column name (see "Record columns" below). Call once before the first
     * record_emit. Returns CD_OK, or CD_ERR_CONFIG for an unknown column
     * (the reason is in the run log). */
    int (*records_begin)(cd_run *run, const char *const *columns, size_t ncolumns);

    /* One record: values[i] is the text of columns[i] (not necessarily
     * NUL-terminated; lengths[i] bytes), or NULL for "no value". row_ref says
     * where the record came from ("HDFC_20251002.xlsx:17", "page 3 item 41")
     * and is copied into a record error if the host rejects the row.
     * Returns CD_OK (stored or rejected as a record error: both are fine, go
     * on), CD_CANCELLED, or CD_ERR_PERMANENT if the host can take no more
     * (the driver must stop and return that code). */
    int (*record_emit)(cd_run *run, const char *const *values, const size_t *lengths,
                       const char *row_ref);

    /* A record the driver itself could not read (broken CSV line, bad JSON
     * item). raw may be NULL; the host keeps at most a few hundred bytes of
     * it. Counts as a failed record and makes the run PARTIAL_SUCCESS. */
    void (*record_error)(cd_run *run, const char *row_ref, const char *reason,
                         const char *raw, size_t raw_len);

    /* Progress, for the run's details; total may be 0 when unknown. */
    void (*progress)(cd_run *run, uint64_t done, uint64_t total);

    /* 1 once the run was asked to stop (cancelled or past its deadline).
     * Check it in every loop and in curl's progress callback; return
     * CD_CANCELLED soon after it says 1. */
    int (*is_cancelled)(cd_run *run);

    /* Milliseconds left before the host kills the run; -1 when unlimited.
     * Use it to bound connect and read timeouts. */
    int64_t (*remaining_ms)(cd_run *run);

    /* Resolves a secret reference given as its string form ("env:NAME",
     * "file:/etc/x", "cred:NAME"). On CD_OK *out is a NUL-terminated copy
     * the driver releases with host->free. Needed only for references the
     * driver builds itself: config_json arrives resolved already. */
    int (*secret_resolve)(cd_run *run, const char *reference, char **out, size_t *out_len);

    /* Releases memory the host handed out. */
    void (*free)(void *ptr);

    /* The incremental-pull cursor of this connector: the value stored by
     * the last successful run, or NULL. *out is released with host->free. */
    int (*cursor_get)(cd_run *run, char **out);
    /* Stores a new cursor; it is committed together with the run's records
     * and discarded if the run fails. The value must be valid UTF-8 of at
     * most CD_CURSOR_MAX bytes: anything else is refused with
     * CD_ERR_PERMANENT and the cursor stays as it was (a cut or mended
     * cursor would resume the next run from a wrong position). */
    int (*cursor_set)(cd_run *run, const char *value);

    const cd_http_defaults *(*http_defaults)(cd_run *run);

    /* Sets the run's error message (what ops read first). For test runs
     * with CD_OK it is the success message. */
    void (*set_message)(cd_run *run, const char *fmt, ...) CD_PRINTF(2, 3);

    /* Adds a key to the run's details object. json_value must be valid JSON
     * text ("3", "\"a.csv\"", "[1,2]"); invalid JSON is stored as a string. */
    void (*set_detail)(cd_run *run, const char *key, const char *json_value);

    /* A step of a test ("connect", "host key", "auth", "list"): shown to ops
     * in order, passed or failed, with a short detail. */
    void (*test_step)(cd_run *run, const char *step, int passed, const char *fmt, ...)
        CD_PRINTF(4, 5);

    /* During validate() only (elsewhere it is ignored; use log and
     * set_message): an error about one field of connection_config,
     * named as a JSON path ("merchant_codes[2]", "format.columns.amount"). */
    void (*config_error)(cd_run *run, const char *field, const char *fmt, ...) CD_PRINTF(3, 4);

    /* During connectord_driver_init(): why init refused to start. */
    void (*init_error)(const char *fmt, ...) CD_PRINTF(1, 2);

    /* --- ABI 1.1 --- */

    /* Looks a file up in this connector's file ledger. With sha256_hex it
     * says whether that content was loaded before (under any name); without,
     * only whether the path was loaded. */
    int (*file_lookup)(cd_run *run, const cd_file_info *file, cd_file_state *state);

    /* Records what happened to a file: status is "SEEN", "DOWNLOADED",
     * "LOADED", "SKIPPED_DUPLICATE" or "FAILED" (reason says why), rows the
     * records it gave. "LOADED" is committed together with the run's records
     * (and disappears if the run fails); the others are kept at once. */
    int (*file_record)(cd_run *run, const cd_file_info *file, const char *status, int64_t rows,
                       const char *reason);

    /* A directory private to this connector that outlives the run (partial
     * downloads to resume, decrypted temporaries). Never NULL during run. */
    const char *(*work_dir)(cd_run *run);

    /* --- ABI 1.2 --- */

    /* Whether content of exactly file->size bytes was loaded before for
     * this connector, under any name (a LOADED or SKIPPED_DUPLICATE ledger
     * row of that size, this run's LOADED files included): *possible is 1
     * if so. When it is 0 no loaded sha256 can match the file either, so a
     * driver may load the file while it downloads it and learn its sha256
     * only at the end, without loading the same content twice. */
    int (*file_size_loaded)(cd_run *run, const cd_file_info *file, int *possible);

    /* --- ABI 1.3 --- */

    /* The calendar date ("YYYY-MM-DD") in the connector's time zone of the
     * instant unix_seconds: the business date of a source's timestamp that
     * carries its own offset ("2025-10-02T20:00:00Z" is 2025-10-03 in
     * Asia/Kolkata). CD_OK, or CD_ERR_PERMANENT for an instant out of range. */
    int (*local_date)(cd_run *run, int64_t unix_seconds, char out[11]);

    /* Append new entries here only, and bump CD_PLUGIN_ABI_MINOR. */
} cd_host_api;

/* True if the host table is large enough to hold `member`. */
#define CD_HOST_HAS(host, member) \
    ((host)->struct_size >= offsetof(cd_host_api, member) + sizeof((host)->member))

/* ---------------------------------------------------------------------- */
/* Driver callbacks.                                                        */
/* ---------------------------------------------------------------------- */
typedef struct cd_driver_callbacks {
    uint32_t struct_size; /* set by the host before init */

    /* Required. A JSON Schema (draft 2020-12) of connection_config, as a
     * static string. Mark every field holding a secret with
     * "writeOnly": true: the host masks such fields in every response and
     * log, and accepts {"secret": "env:NAME"} references in their place. */
    const char *(*describe_config)(void);

    /* Optional. Checks rules the schema cannot express, reporting each
     * problem with host->config_error. Returns CD_OK or CD_ERR_CONFIG.
     * Must not touch the network. run_info(run)->config_json is what is
     * checked (secret references not resolved: do not test their values). */
    int (*validate)(cd_run *run);

    /* Required. Checks that the source is reachable and the credentials
     * work, without loading anything; reports steps with host->test_step
     * and a summary with host->set_message. */
    int (*test)(cd_run *run);

    /* Required. Fetches the window of run_info(run) and emits its records. */
    int (*run)(cd_run *run);

    /* Optional. Releases what init allocated. */
    void (*destroy)(void);

    /* --- ABI 1.2 --- */

    /* Optional. Called once after run() returned CD_OK, emitted records
     * and the host has committed them and the file-ledger rows
     * (file_record "LOADED") together with the run row (SUCCESS or
     * PARTIAL_SUCCESS). Never called after a failed, cancelled or test
     * run, after a run that emitted no records, nor when that commit
     * failed. It is the place for what must wait until the data is
     * safe: moving or deleting the source files (an SFTP post action),
     * acknowledging a batch to the source. run_info(run) and host->log work
     * as during run() (the log lines reach the run's log); the run row is
     * final, so record_emit, record_error, records_begin and
     * file_record("LOADED") are refused and set_message / set_detail
     * change nothing. Best effort: it cannot fail the run. If it fails, log
     * a warning; the process may also die before or during it (killed,
     * deadline, crash). So make the action idempotent and let a later run
     * catch up on what was committed but not acted on (bank_sftp: files
     * the ledger says were loaded that are still in the drop box). Bounded
     * by the run's deadline (remaining_ms, is_cancelled). */
    void (*committed)(cd_run *run);

    /* Append new entries here only, and bump CD_PLUGIN_ABI_MINOR. */
} cd_driver_callbacks;

/* True if the callbacks table the host handed to init is large enough to
 * hold `member`: check it before setting an entry added after ABI 1.0, e.g.
 *   if (CD_CALLBACKS_HAS(cb, committed)) cb->committed = my_committed; */
#define CD_CALLBACKS_HAS(cb, member) \
    ((cb)->struct_size >= offsetof(cd_driver_callbacks, member) + sizeof((cb)->member))

/* ---------------------------------------------------------------------- */
/* Record columns (names for records_begin).                               */
/* ---------------------------------------------------------------------- */
/*
 * Dates are "YYYY-MM-DD". Timestamps are ISO 8601, "YYYY-MM-DDTHH:MM:SS"
 * with optional fraction and zone ("Z", "+05:30"); without a zone they are
 * read in the connector's zone. Amounts: either "amount_paise" style columns
 * as integers ("123456", "-50"), or the same name without "_paise" as
 * decimal rupees with at most two decimals ("1234.56"), converted exactly.
 *
 * CD_DATASET_PG_TRANSACTION (sp_v2_transactions), required marked *:
 *   transaction_id*, merchant_id*, amount_paise* | amount*, transaction_date*,
 *   transaction_timestamp (default: transaction_date 00:00 local), currency,
 *   source_type (default "CONNECTOR"), source_name, batch_id, payment_method,
 *   gateway_ref, utr, rrn, status, bank_fee_paise | bank_fee,
 *   settlement_amount_paise | settlement_amount, acquirer_code, merchant_name
 *
 * CD_DATASET_BANK_STATEMENT (sp_v2_bank_statements):
 *   bank_ref*, bank_name*, amount_paise* | amount*, transaction_date*,
 *   value_date, utr, rrn, remarks, debit_credit, net_amount_paise | net_amount,
 *   source_type (default "CONNECTOR"), source_file, batch_id
 *
 *   The host enforces one convention for every driver's bank statements:
 *   amount_paise is stored as the magnitude and debit_credit says the
 *   direction, as CR or DR. An indicator spelt C, CR, Credit / D, DR,
 *   Debit (any case, an optional trailing dot, blanks around it) is stored
 *   as CR / DR. A negative amount ("-100.00", "-0.00") is stored as its
 *   magnitude with DR, also when debit_credit is empty or not declared;
 *   beside it an indicator saying credit, or any other text, is a record
 *   error on debit_credit ("debit_credit: 'CR' says credit, the amount
 *   '-20.00' says debit"). Other text beside an amount without a minus is
 *   kept as it is (at most 10 characters). debit_credit is written
 *   together with the amount on every load, declared or not, so an
 *   amount whose sign changed never keeps the old direction.
 *   net_amount_paise keeps its sign. A driver may send signed amounts and
 *   any of these spellings; the built-in bank drivers already send the
 *   normalised form.
 */

/* ---------------------------------------------------------------------- */
/* Entry points.                                                            */
/* ---------------------------------------------------------------------- */
#define CD_DRIVER_MAGIC_SYMBOL "connectord_driver_magic"
#define CD_DRIVER_INIT_SYMBOL "connectord_driver_init"

typedef const cd_driver_magic *(*cd_driver_magic_fn)(void);
typedef int (*cd_driver_init_fn)(const cd_host_api *host, cd_driver_callbacks *callbacks);

/* Declares the two exported functions of a driver, e.g.
 *
 *   static const cd_driver_magic magic = CD_DRIVER_MAGIC_INIT(
 *       "acme_bank", "1.0.0", "Acme", CD_CATEGORY_BANK_API,
 *       CD_DATASET_BANK_STATEMENT, "Acme Bank statements API");
 *   CONNECTORD_DRIVER(magic, acme_init)
 *
 * where acme_init has the type cd_driver_init_fn. */
#define CONNECTORD_DRIVER(magic_var, init_function)                                      \
    CD_EXPORT const cd_driver_magic *connectord_driver_magic(void);                       \
    CD_EXPORT const cd_driver_magic *connectord_driver_magic(void) { return &(magic_var); } \
    CD_EXPORT int connectord_driver_init(const cd_host_api *cd_host_,                     \
                                         cd_driver_callbacks *cd_callbacks_);             \
    CD_EXPORT int connectord_driver_init(const cd_host_api *cd_host_,                     \
                                         cd_driver_callbacks *cd_callbacks_)              \
    {                                                                                     \
        return (init_function)(cd_host_, cd_callbacks_);                                  \
    }

#ifdef __cplusplus
}
#endif

#endif /* CONNECTORD_PLUGIN_H */
