/*
 * abi_misuse.c — a driver that misuses the host API the way a careless
 * vendor's might, chosen by connection_config {"mode": ...}:
 *   begin_twice  records_begin again with the columns swapped, the refusal
 *                ignored, then a row in the second layout;
 *   bad_column   a column name that is not valid UTF-8;
 *   ledger_path  file_record LOADED for a name that is not valid UTF-8;
 *   ledger_reason file_record LOADED with a reason that is not valid UTF-8;
 *   ignore_cancel one row, then waits (up to 30 s) until is_cancelled says
 *                stop, and returns CD_OK all the same;
 *   fork_crash   20,000 rows (the load's COPY is under way), then forks a
 *                helper that sleeps a minute and crashes (SIGSEGV);
 *   pgid_hang    forks a helper that sleeps a minute, moves itself into its
 *                parent's process group and hangs, deaf to cancellation;
 *   stdout       prints to stdout, then one row;
 *   chan_flood   writes 320 MiB without a newline to the worker's channel
 *                (fd 4), then sleeps;
 *   cancel_flood waits (up to 60 s) until is_cancelled, then floods fd 4
 *                with 40 MiB;
 *   exit_on_stop replaces the runner's SIGTERM, SIGINT and SIGUSR1 handlers
 *                with its own, which _exit(0) (as a runtime embedded in a
 *                driver may), then waits up to 60 s;
 *   chan_garbage writes, in one write() to the worker's channel (fd 4), a
 *                well-formed log line, one with fields of the wrong types,
 *                one whose message is an object,
 *                and a line that is not JSON; then returns OK;
 *   wait_file    logs "before", waits (up to 60 s, deaf to cancellation)
 *                until the file {"file": PATH} exists, logs "after";
 *   fds          logs "fd N -> TARGET" for each descriptor it holds (what
 *                the runner was started with, and its own), then one row;
 *   out_flood    writes {"mib": N} MiB to stderr and as much to stdout, then
 *                one row (a driver, or a library of its, gone verbose);
 *   rows         {"rows": [[bank_ref, amount], ...]}: plain rows, for the
 *                load-path tests.
 * The host's answers are logged ("rc <call> <code>") and otherwise ignored.
 */
#include <connectord/plugin.h>
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const cd_host_api *host;

static const char *schema(void) { return "{\"type\":\"object\"}"; }

static int test(cd_run *run)
{
    host->set_message(run, "ok");
    return CD_OK;
}

static const char *const cols[] = {"bank_ref", "bank_name", "amount", "transaction_date", "utr",
                                   "rrn"};

static int emit(cd_run *run, const char *ref, const char *amount, const char *a, const char *b)
{
    const char *vals[] = {ref, "MISUSE", amount, host->run_info(run)->run_date, a, b};
    size_t lens[6];
    for (int k = 0; k < 6; k++)
        lens[k] = strlen(vals[k]);
    return host->record_emit(run, vals, lens, ref);
}

static int ledger(cd_run *run, const char *path, const char *reason)
{
    cd_file_info f = {.struct_size = sizeof f, .remote_path = path, .size = 1, .mtime = 1,
                      .sha256_hex = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"};
    int rc = host->file_record(run, &f, "LOADED", 1, reason);
    host->log(run, CD_LOG_INFO, "rc file_record %d", rc);
    return rc;
}

static void exit_now(int sig)
{
    (void)sig;
    _exit(0);
}

static int run_misuse(cd_run *run)
{
    const cd_run_info *info = host->run_info(run);
    json_t *c = json_loadb(info->config_json, info->config_json_len, 0, NULL);
    const char *mode = json_string_value(json_object_get(c, "mode"));
    int rc = CD_OK;
    if (mode && strcmp(mode, "begin_twice") == 0) {
        host->records_begin(run, cols, 6);
        const char *swapped[] = {"bank_ref", "bank_name", "amount", "transaction_date", "rrn",
                                 "utr"};
        host->log(run, CD_LOG_INFO, "rc records_begin %d", host->records_begin(run, swapped, 6));
        emit(run, "TWICE1", "1.00", "RRN-111", "UTR-222");
    } else if (mode && strcmp(mode, "bad_column") == 0) {
        const char *bad[] = {"bank_ref", "bank_name", "amount", "transaction_date", "rem\xff"
                                                                                   "arks"};
        rc = host->records_begin(run, bad, 5);
    } else if (mode && strcmp(mode, "ignore_cancel") == 0) {
        rc = host->records_begin(run, cols, 6);
        if (rc == CD_OK)
            rc = emit(run, "IGN1", "1.00", "", "");
        for (int i = 0; i < 300 && !host->is_cancelled(run); i++) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        rc = CD_OK; /* "done", as a careless driver would say */
    } else if (mode && strcmp(mode, "fork_crash") == 0) {
        rc = host->records_begin(run, cols, 6);
        char ref[32];
        for (int i = 0; i < 20000 && rc == CD_OK; i++) {
            snprintf(ref, sizeof ref, "FC%05d", i);
            rc = emit(run, ref, "1.00", "", "");
        }
        if (fork() == 0) {
            for (int i = 0; i < 60; i++)
                sleep(1);
            _exit(0);
        }
        raise(SIGSEGV);
    } else if (mode && strcmp(mode, "pgid_hang") == 0) {
        if (fork() == 0) {
            for (int i = 0; i < 60; i++)
                sleep(1);
            _exit(0);
        }
        setpgid(0, getpgid(getppid()));
        for (int i = 0; i < 120; i++)
            sleep(1);
    } else if (mode && (strcmp(mode, "chan_flood") == 0 || strcmp(mode, "cancel_flood") == 0)) {
        int on_cancel = strcmp(mode, "cancel_flood") == 0;
        for (int i = 0; on_cancel && i < 600 && !host->is_cancelled(run); i++) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        static char block[1 << 20];
        memset(block, 'x', sizeof block);
        for (int i = 0; i < (on_cancel ? 40 : 320); i++)
            if (write(4, block, sizeof block) < 0)
                break;
        for (int i = 0; i < 60; i++)
            sleep(1);
    } else if (mode && strcmp(mode, "exit_on_stop") == 0) {
        signal(SIGTERM, exit_now);
        signal(SIGINT, exit_now);
        signal(SIGUSR1, exit_now);
        host->log(run, CD_LOG_INFO, "waiting, my own signal handlers in place");
        for (int i = 0; i < 600; i++) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    } else if (mode && strcmp(mode, "chan_garbage") == 0) {
        static const char lines[] =
            "{\"log\": {\"level\": 6, \"attempt\": 1, \"message\": \"a well-formed line\"}}\n"
            "{\"log\": {\"level\": \"loud\", \"attempt\": \"first\", "
            "\"message\": \"bad fields\"}}\n"
            "{\"log\": {\"level\": 6, \"attempt\": 1, \"message\": {\"an\": \"object\"}}}\n"
            "not json at all\n";
        if (write(4, lines, sizeof lines - 1) < 0)
            rc = CD_ERR_PERMANENT;
    } else if (mode && strcmp(mode, "wait_file") == 0) {
        const char *file = json_string_value(json_object_get(c, "file"));
        host->log(run, CD_LOG_INFO, "before");
        for (int i = 0; file && i < 600 && access(file, F_OK) != 0; i++) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        host->log(run, CD_LOG_INFO, "after");
    } else if (mode && strcmp(mode, "fds") == 0) {
        DIR *dir = opendir("/proc/self/fd");
        struct dirent *e;
        while (dir && (e = readdir(dir)) != NULL) {
            char path[300], target[512];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
            ssize_t n = readlink(path, target, sizeof target - 1);
            target[n > 0 ? n : 0] = '\0';
            host->log(run, CD_LOG_INFO, "fd %s -> %s", e->d_name, target);
        }
        if (dir)
            closedir(dir);
        rc = host->records_begin(run, cols, 6);
        if (rc == CD_OK)
            rc = emit(run, "FDS1", "1.00", "", "");
    } else if (mode && strcmp(mode, "out_flood") == 0) {
        long long mib = json_integer_value(json_object_get(c, "mib"));
        static char line[1 << 16];
        memset(line, 'y', sizeof line);
        line[sizeof line - 1] = '\n';
        for (long long i = 0; i < mib * 16; i++) {
            if (write(i % 2 ? STDOUT_FILENO : STDERR_FILENO, line, sizeof line) < 0)
                break;
        }
        rc = host->records_begin(run, cols, 6);
        if (rc == CD_OK)
            rc = emit(run, "FLOOD1", "1.00", "", "");
    } else if (mode && strcmp(mode, "stdout") == 0) {
        printf("a driver talking on stdout\n");
        fflush(stdout);
        rc = host->records_begin(run, cols, 6);
        if (rc == CD_OK)
            rc = emit(run, "OUT1", "1.00", "", "");
    } else if (mode && strcmp(mode, "env") == 0) {
        /* What a driver (and all it starts) sees of one variable. */
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *value = name ? getenv(name) : NULL;
        host->log(run, CD_LOG_INFO, "env %s=%s", name ? name : "?", value ? value : "(unset)");
    } else if (mode && strcmp(mode, "ledger_path") == 0) {
        rc = ledger(run, "/upload/AXIS_\xe9.csv", NULL);
    } else if (mode && strcmp(mode, "ledger_reason") == 0) {
        rc = ledger(run, "/upload/ok.csv", "o\xe9.");
    } else {
        json_t *rows = json_object_get(c, "rows");
        size_t i;
        json_t *r;
        rc = host->records_begin(run, cols, 6);
        json_array_foreach(rows, i, r)
        {
            if (rc == CD_OK)
                rc = emit(run, json_string_value(json_array_get(r, 0)),
                          json_string_value(json_array_get(r, 1)), "", "");
        }
    }
    json_decref(c);
    return rc;
}

static int init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    host = h;
    cb->describe_config = schema;
    cb->test = test;
    cb->run = run_misuse;
    return CD_OK;
}

static const cd_driver_magic magic =
    CD_DRIVER_MAGIC_INIT("abi_misuse", "1.0.0", "connectord tests", CD_CATEGORY_BANK_API,
                         CD_DATASET_BANK_STATEMENT, "misuses the host API on purpose");
CONNECTORD_DRIVER(magic, init)
