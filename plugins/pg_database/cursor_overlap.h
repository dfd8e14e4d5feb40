/*
 * cursor_overlap.h — an incremental pull that starts a little before its
 * cursor.
 *
 * A source's ids (or timestamps) are handed out when a row is written but
 * become visible when its transaction commits: a row committed after a
 * pull, with an id below that pull's last one, is behind the cursor for
 * ever. cursor_overlap reads that far back again each pull; the rows read
 * twice load as unchanged (the load is idempotent by natural key), and the
 * stored cursor never moves back.
 */
#ifndef PG_DATABASE_CURSOR_OVERLAP_H
#define PG_DATABASE_CURSOR_OVERLAP_H

#include <libpq-fe.h>

/* Whether a cursor column of this type can overlap: a number (the overlap
 * counts in its units), a date or a timestamp (in seconds). */
int pgd_overlap_type_ok(Oid type);

/* The cursor less overlap, computed by the source in type's own arithmetic
 * and kept within the type's range (malloc'd text), or NULL with a
 * malloc'd *why and *bad_value set when the source refused the values
 * (a stored cursor that is not of the column's type, a date out of range)
 * rather than failed. */
char *pgd_cursor_lowered(PGconn *c, Oid type, const char *cursor, long long overlap,
                         int *bad_value, char **why);

/* The greater of two cursor values of type (malloc'd text), or NULL as
 * pgd_cursor_lowered. */
char *pgd_cursor_greatest(PGconn *c, Oid type, const char *a, const char *b, int *bad_value,
                          char **why);

#endif
