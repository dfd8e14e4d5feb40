/* duration.c — see duration.h. */
#include "duration.h"

#include <ctype.h>
#include <stdlib.h>

int64_t cd_parse_duration(const char *text)
{
    if (!text || !*text)
        return -1;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || v < 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    long long mult = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mult = 60, end++;
    else if (*end == 'h')
        mult = 3600, end++;
    else if (*end == 'd')
        mult = 86400, end++;
    if (*end != '\0' || v > (long long)(INT64_MAX / 86400))
        return -1;
    return (int64_t)(v * mult);
}
