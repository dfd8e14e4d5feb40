/*
 * migrate.h — forward-only schema migrations.
 *
 * schema_dir holds NNN_name.sql files. Each not yet recorded in
 * connectord_schema_migrations is applied in name order, each in its own
 * transaction together with its record, all under a transaction-level
 * advisory lock so that two hosts migrating at once apply each file once.
 * A failing file rolls back entirely and *err names the file, the statement
 * (its line number within the file) and PostgreSQL's message.
 */
#ifndef CD_MIGRATE_H
#define CD_MIGRATE_H

#include <libpq-fe.h>

typedef struct cd_migrate_result {
    int applied;  /* files applied by this call */
    int skipped;  /* files found already applied */
} cd_migrate_result;

int cd_migrate(PGconn *conn, const char *schema_dir, cd_migrate_result *result, char **err);

/* 0 if every file in schema_dir is applied, 1 if some are pending, -1 on
 * error (used by serve to refuse a database that is behind). */
int cd_migrate_pending(PGconn *conn, const char *schema_dir, char **err);

#endif
