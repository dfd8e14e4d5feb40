/*
 * migrate_split.h — splits a migration file into single SQL statements, so
 * that each can be run on its own and a failure named by the line it starts
 * on. Kept apart from migrate.c so that it can be unit-tested and fuzzed
 * without a database.
 *
 * The splitter knows as much PostgreSQL lexing as finding the statement
 * ends needs: 'strings' ('' escapes), E'strings' (backslash escapes),
 * "identifiers" ("" escapes), $$dollar$$ and $tag$dollar$tag$ quoting,
 * -- line comments and nested block comments. A ';' ends a statement only
 * outside all of those and outside parentheses (as in psql, so that
 * CREATE RULE ... DO (a; b) stays whole). SQL-standard function bodies
 * (BEGIN ATOMIC ... END) are not recognised: dollar-quote them.
 */
#ifndef CD_MIGRATE_SPLIT_H
#define CD_MIGRATE_SPLIT_H

#include <stddef.h>

typedef struct cd_sql_statement {
    char *text;   /* malloc'd, NUL-terminated; without leading blanks and
                     comments and without the terminating ';' */
    size_t len;   /* strlen(text) */
    unsigned line; /* 1-based line of the file where text begins */
} cd_sql_statement;

typedef struct cd_sql_script {
    cd_sql_statement *stmts;
    size_t count;
} cd_sql_script;

/* Splits src[0..len) into statements, in order, into *out (which the caller
 * releases with cd_sql_script_free, also after an error). Empty statements
 * (";;", a file of only comments) are dropped. Returns 0, or -1 with *err
 * (malloc'd) for input that cannot be a script: a NUL byte, or a quote or
 * comment still open at the end ("unterminated dollar-quoted string $body$
 * starting at line 12"). */
int cd_sql_split(const char *src, size_t len, cd_sql_script *out, char **err);

void cd_sql_script_free(cd_sql_script *script);

#endif
