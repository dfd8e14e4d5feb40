/*
 * log.h — the service log: one line per event on stderr, each prefixed with
 * its syslog priority ("<3>") so journald keeps the level.
 */
#ifndef CD_LOG_H
#define CD_LOG_H

#include <stdarg.h>

#include <connectord/plugin.h>

void cd_log(cd_log_level level, const char *fmt, ...) CD_PRINTF(2, 3);
void cd_vlog(cd_log_level level, const char *fmt, va_list ap) CD_PRINTF(2, 0);

/* Lines below this level are dropped (default CD_LOG_INFO). */
void cd_log_set_threshold(cd_log_level level);

#define cd_error(...) cd_log(CD_LOG_ERROR, __VA_ARGS__)
#define cd_warn(...) cd_log(CD_LOG_WARNING, __VA_ARGS__)
#define cd_info(...) cd_log(CD_LOG_INFO, __VA_ARGS__)
#define cd_debug(...) cd_log(CD_LOG_DEBUG, __VA_ARGS__)

#endif
