/* log.c — see log.h. */
#include "log.h"

#include <stdio.h>

static cd_log_level threshold = CD_LOG_INFO;

void cd_log_set_threshold(cd_log_level level) { threshold = level; }

void cd_vlog(cd_log_level level, const char *fmt, va_list ap)
{
    if (level > threshold)
        return;
    /* One fprintf per line keeps lines from concurrent threads whole. */
    char line[2048];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0)
        return;
    fprintf(stderr, "<%d>%s%s\n", (int)level, line, (size_t)n >= sizeof line ? "..." : "");
}

void cd_log(cd_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cd_vlog(level, fmt, ap);
    va_end(ap);
}
