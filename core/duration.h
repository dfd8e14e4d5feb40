/*
 * duration.h — durations in the configuration ("48h", "90m", "3600"):
 * read by the scheduler and checked by the configuration, with no
 * dependency on either.
 */
#ifndef CD_DURATION_H
#define CD_DURATION_H

#include <stdint.h>

/* Parses a duration: an integer of seconds or "<n>s|m|h|d" ("48h").
 * Returns seconds, or -1 (not a duration, negative, or too large). */
int64_t cd_parse_duration(const char *text);

#endif
