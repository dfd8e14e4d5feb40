/*
 * tzif.h — one time zone read from a TZif file (RFC 8536), as the system's
 * tz database under /usr/share/zoneinfo has them. PostgreSQL reads the same
 * files, so the scheduler and the database agree on every zone's rules.
 *
 * A parsed zone is immutable: any number of threads may use one at once.
 */
#ifndef CD_TZIF_H
#define CD_TZIF_H

#include <stddef.h>
#include <stdint.h>

/* Largest TZif file accepted. The biggest zone in the database is under
 * 4 kB; a file a thousand times that size is not a zone. */
#define CD_TZIF_MAX_BYTES ((size_t)1 << 20)

/* Largest |UTC offset| accepted, in seconds: RFC 8536 wants offsets within
 * -25:59:59..+25:59:59, which also bounds where the instants of one wall
 * time can be (cd_tzif_resolve searches that window). */
#define CD_TZIF_MAX_OFFSET 93599

typedef struct cd_tzif cd_tzif;

/* Parses the TZif file in buf[0..len) (versions 1 to 4; the 64-bit data of
 * version 2+ and its footer TZ string). NULL with *err (malloc'd; err may
 * be NULL) saying what is wrong: truncated, counts that do not fit the
 * file, leap-second records, unordered transitions, a bad footer. buf is
 * not kept. */
cd_tzif *cd_tzif_parse(const unsigned char *buf, size_t len, char **err);

/* A zone given only by a POSIX TZ string ("EST5EDT,M3.2.0,M11.1.0"; the
 * RFC 8536 extensions included), as a TZif footer would carry it. len
 * bytes, no NUL needed. NULL with *err, as above. */
cd_tzif *cd_tzif_from_posix(const char *tz, size_t len, char **err);

void cd_tzif_free(cd_tzif *z);

/* UTC offset in seconds (standard + daylight) at instant t. */
int32_t cd_tzif_offset(const cd_tzif *z, int64_t t);

/* The instants whose local time is `wall` (local seconds counted like
 * instants: days since 1970-01-01 * 86400 + seconds of the day).
 * Returns CD_WALL_NORMAL (one instant: *first == *last), CD_WALL_REPEATED
 * (*first < *last, the first and the last of them) or CD_WALL_SKIPPED
 * (none: *first == *last == the instant of the transition that skipped
 * it), as tz_internal.h describes; -1 for a zone too pathological to
 * search (thousands of transitions within two days). */
int cd_tzif_resolve(const cd_tzif *z, int64_t wall, int64_t *first, int64_t *last);

#endif
