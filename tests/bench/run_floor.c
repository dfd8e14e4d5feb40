/*
 * run_floor.c — the reference bench_scheduler.sh compares connectord's cost
 * per run against, measured on this machine in the same run: what one run
 * costs at the least when each run is its own process and its start and
 * end are each a committed row in PostgreSQL.
 *
 *   run_floor DATABASE_URL N
 *
 * - process: fork of this small process (libc and libpq only), the child
 *   _exits at once, the parent waits for it;
 * - transaction: one single-row UPDATE ... RETURNING, committed, on one
 *   connection (a claim and a finalize are at least one each).
 *
 * Each is timed N times one after another, so the wall time of one is the
 * machine time it costs (client, kernel and server together). Prints one
 * line: "PROCESS_MS TRANSACTION_MS".
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "run_floor: %s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
    return ok;
}

static double process_ms(int n)
{
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("run_floor: fork");
            exit(1);
        }
        if (pid == 0)
            _exit(0);
        int status;
        if (waitpid(pid, &status, 0) != pid) {
            perror("run_floor: waitpid");
            exit(1);
        }
    }
    return (now_ms() - t0) / n;
}

static double transaction_ms(PGconn *conn, int n)
{
    /* A logged table, as the runs table is: a temporary one skips the WAL. */
    if (!exec_ok(conn, "CREATE TABLE run_floor_logged (id int PRIMARY KEY, n bigint NOT NULL)") ||
        !exec_ok(conn, "INSERT INTO run_floor_logged VALUES (1, 0)"))
        exit(1);
    const char *params[1] = {"1"};
    double t0 = now_ms();
    for (int i = 0; i < n; i++) {
        PGresult *res =
            PQexecParams(conn, "UPDATE run_floor_logged SET n = n + 1 WHERE id = $1 RETURNING n",
                         1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            fprintf(stderr, "run_floor: update: %s", PQerrorMessage(conn));
            PQclear(res);
            exit(1);
        }
        PQclear(res);
    }
    double ms = (now_ms() - t0) / n;
    exec_ok(conn, "DROP TABLE run_floor_logged");
    return ms;
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[2]) <= 0) {
        fprintf(stderr, "usage: run_floor DATABASE_URL N\n");
        return 2;
    }
    int n = atoi(argv[2]);
    PGconn *conn = PQconnectdb(argv[1]);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "run_floor: connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    double tx = transaction_ms(conn, n);
    /* The child must not share the connection's socket with us. */
    PQfinish(conn);
    double proc = process_ms(n);
    printf("%.3f %.3f\n", proc, tx);
    return 0;
}
