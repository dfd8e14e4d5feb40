/*
 * clock.h — the scheduler's idea of "now". In builds with CD_TEST_HOOKS
 * (the test builds, not the packaged one), CONNECTORD_TEST_NOW_FILE names a
 * file holding seconds since the epoch that tests advance to run the
 * scheduler through days and DST changes in seconds of real time.
 */
#ifndef CD_CLOCK_H
#define CD_CLOCK_H

#include <stdint.h>

/* Seconds since the epoch (UTC). */
int64_t cd_clock_now(void);

/* 1 when the test clock is in use. */
int cd_clock_is_fake(void);

#endif
