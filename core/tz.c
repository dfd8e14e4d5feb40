/*
 * tz.c — IANA time zones read from the system's TZif files (see cron.h,
 * tz_internal.h and tzif.h).
 *
 * glibc only converts local time through the process-wide TZ variable,
 * which is neither thread-safe nor per connector, and ICU carries its own
 * copy of the tz database, which lags the system's (Debian 12's ICU has
 * 2022e: Mexico City still had DST there). PostgreSQL reads
 * /usr/share/zoneinfo, so reading the same files here is what makes the
 * scheduler and the database agree on every zone's rules.
 *
 * A zone is parsed once per process and never changes afterwards, so
 * every function here is safe to call from any thread at once.
 */
#include "tz_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cron.h"
#include "datetime.h"
#include "tzif.h"
#include "util.h"

/* Longest zone name accepted. The longest IANA name is 32 characters
 * ("America/Argentina/ComodRivadavia"); anything longer is not a zone. */
#define TZ_ID_MAX 64

#define TZ_DIR_DEFAULT "/usr/share/zoneinfo"

struct cd_tzcal {
    cd_tzif *zone;
    char *name;
    char *dir; /* the directory it was read from: $TZDIR may change (tests) */
};

/* ---- zone names ---------------------------------------------------------- */

static int name_char_ok(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '/' || ch == '_' || ch == '+' || ch == '-' || ch == '.';
}

/* Whether tz can name a zone file: a relative path of IANA-style
 * components, so that no name reaches outside the zone directory, and not
 * one of the files there that are not zones of their own. */
static int zone_name_ok(const char *tz)
{
    if (!tz || !*tz || strnlen(tz, TZ_ID_MAX + 1) > TZ_ID_MAX)
        return 0;
    const char *comp = tz;
    for (const char *p = tz;; p++) {
        if (*p && !name_char_ok(*p))
            return 0;
        if (*p == '/' || !*p) {
            size_t n = (size_t)(p - comp);
            /* empty (leading, trailing or doubled '/'), "." or ".." */
            if (n == 0 || (comp[0] == '.' && (n == 1 || (n == 2 && comp[1] == '.'))))
                return 0;
            if (!*p)
                break;
            comp = p + 1;
        }
    }
    /* localtime is the machine's zone, posixrules a template for TZ
     * strings; right/ zones count leap seconds, which civil time and
     * PostgreSQL do not. */
    return strcmp(tz, "localtime") != 0 && strcmp(tz, "posixrules") != 0 &&
           strncmp(tz, "right/", 6) != 0;
}

/* The zone directory as glibc finds it: $TZDIR when set. */
static const char *zone_dir(void)
{
    const char *d = getenv("TZDIR");
    return d && *d ? d : TZ_DIR_DEFAULT;
}

static void set_err(char **err, char *msg)
{
    if (err)
        *err = msg;
    else
        free(msg);
}

/* "unknown time zone ..." naming tz only when it is printable ASCII of a
 * sane length: it comes from requests and ends up in logs. */
static char *unknown_zone(const char *tz)
{
    if (!tz)
        return cd_xstrdup("no time zone given");
    size_t n = strnlen(tz, TZ_ID_MAX + 1);
    if (n > TZ_ID_MAX)
        return cd_xstrdup("unknown time zone (too long)");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)tz[i] <= 0x20 || (unsigned char)tz[i] >= 0x7f)
            return cd_xstrdup("unknown time zone (not an IANA zone name)");
    return cd_sprintf("unknown time zone '%s'", tz);
}

/* Reads the whole file at path (at most CD_TZIF_MAX_BYTES) into *data.
 * 0; 1 when there is no such zone (missing, or not a regular file); -1
 * with *err for anything else. */
static int read_zone_file(const char *path, const char *tz, unsigned char **data, size_t *len,
                          char **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG || errno == ELOOP)
            return 1;
        set_err(err, cd_sprintf("time zone '%s': cannot open %s: %s", tz, path, strerror(errno)));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        set_err(err, cd_sprintf("time zone '%s': cannot stat %s: %s", tz, path, strerror(errno)));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return 1; /* a directory such as "America", or a device */
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > CD_TZIF_MAX_BYTES) {
        set_err(err, cd_sprintf("time zone '%s': %s is larger than %zu bytes, not a zone file",
                                tz, path, (size_t)CD_TZIF_MAX_BYTES));
        close(fd);
        return -1;
    }
    /* One byte more than the size, to notice a file growing under us. */
    size_t cap = (size_t)st.st_size + 1;
    unsigned char *buf = cd_xmalloc(cap);
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_err(err, cd_sprintf("time zone '%s': cannot read %s: %s", tz, path, strerror(errno)));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got == cap) {
        set_err(err, cd_sprintf("time zone '%s': %s changed while it was read", tz, path));
        free(buf);
        return -1;
    }
    *data = buf;
    *len = got;
    return 0;
}

static cd_tzcal *open_in(const char *dir, const char *tz, char **err)
{
    if (!zone_name_ok(tz)) {
        set_err(err, unknown_zone(tz));
        return NULL;
    }
    char *path = cd_sprintf("%s/%s", dir, tz);
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = read_zone_file(path, tz, &data, &len, err);
    if (rc != 0) {
        if (rc > 0)
            set_err(err, unknown_zone(tz));
        free(path);
        return NULL;
    }
    char *why = NULL;
    cd_tzif *zone = cd_tzif_parse(data, len, &why);
    free(data);
    if (!zone) {
        set_err(err, cd_sprintf("time zone '%s': %s is malformed (%s)", tz, path, why));
        free(why);
        free(path);
        return NULL;
    }
    free(path);
    cd_tzcal *c = cd_xcalloc(1, sizeof *c);
    c->zone = zone;
    c->name = cd_xstrdup(tz);
    c->dir = cd_xstrdup(dir);
    return c;
}

cd_tzcal *cd_tzcal_open(const char *tz, char **err) { return open_in(zone_dir(), tz, err); }

void cd_tzcal_close(cd_tzcal *c)
{
    if (!c)
        return;
    cd_tzif_free(c->zone);
    free(c->name);
    free(c->dir);
    free(c);
}

int cd_tz_valid(const char *tz) { return cd_tzcal_get(tz, NULL) != NULL; }

/* ---- the process-wide cache ---------------------------------------------- */

/* Parsed zones, kept until the process exits: there are a few hundred zone
 * files at most (a few kB each once parsed) and connectors share a handful.
 * Readers walk a bucket's list without a lock: an entry is complete before
 * the release store that publishes it and is never changed or freed, so
 * the acquire load sees it whole. The mutex only orders insertions (and
 * keeps two threads from parsing the same file at once). Unknown zones are
 * not cached: they cost a failed open() each time, and caching them would
 * let requests with made-up names grow the cache without bound. */
#define CACHE_BUCKETS 64

typedef struct cache_entry {
    struct cache_entry *next;
    cd_tzcal *cal;
} cache_entry;

static _Atomic(cache_entry *) cache[CACHE_BUCKETS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % CACHE_BUCKETS;
}

static cd_tzcal *cache_find(unsigned bucket, const char *dir, const char *tz)
{
    for (cache_entry *e = atomic_load_explicit(&cache[bucket], memory_order_acquire); e;
         e = e->next)
        if (strcmp(e->cal->name, tz) == 0 && strcmp(e->cal->dir, dir) == 0)
            return e->cal;
    return NULL;
}

cd_tzcal *cd_tzcal_get(const char *tz, char **err)
{
    if (!zone_name_ok(tz)) {
        set_err(err, unknown_zone(tz));
        return NULL;
    }
    const char *dir = zone_dir();
    unsigned bucket = name_hash(tz);
    cd_tzcal *c = cache_find(bucket, dir, tz);
    if (c)
        return c;
    pthread_mutex_lock(&cache_lock);
    c = cache_find(bucket, dir, tz);
    if (!c) {
        c = open_in(dir, tz, err);
        if (c) {
            cache_entry *e = cd_xmalloc(sizeof *e);
            e->cal = c;
            e->next = atomic_load_explicit(&cache[bucket], memory_order_relaxed);
            atomic_store_explicit(&cache[bucket], e, memory_order_release);
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return c;
}

/* ---- conversions --------------------------------------------------------- */

static int instant_ok(int64_t t) { return t >= CD_TZ_MIN_INSTANT && t <= CD_TZ_MAX_INSTANT; }

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int cd_tzcal_offset(cd_tzcal *c, int64_t t, int *offset_s)
{
    if (!c || !instant_ok(t))
        return -1;
    *offset_s = cd_tzif_offset(c->zone, t);
    return 0;
}

int cd_tzcal_fields(cd_tzcal *c, int64_t t, int *year, int *month, int *day, int *hour,
                    int *minute, int *offset_s)
{
    if (!c || !instant_ok(t))
        return -1;
    int32_t off = cd_tzif_offset(c->zone, t);
    int64_t local = t + off;
    int64_t days = floor_div(local, 86400);
    int secs = (int)(local - days * 86400);
    int y, mo, d;
    cd_civil_from_days((long)days, &y, &mo, &d);
    if (year)
        *year = y;
    if (month)
        *month = mo;
    if (day)
        *day = d;
    if (hour)
        *hour = secs / 3600;
    if (minute)
        *minute = secs / 60 % 60;
    if (offset_s)
        *offset_s = off;
    return 0;
}

/* Years a wall time may name: the instant range plus the years a cron
 * search looks ahead past 9999; beyond that the day count is meaningless. */
#define WALL_YEAR_MIN 0
#define WALL_YEAR_MAX 10100

int cd_tzcal_resolve(cd_tzcal *c, int y, int mo, int d, int h, int mi, int64_t *first,
                     int64_t *last)
{
    if (!c || y < WALL_YEAR_MIN || y > WALL_YEAR_MAX || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h < 0 || h > 23 || mi < 0 || mi > 59)
        return -1;
    int64_t wall = (int64_t)cd_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
    return cd_tzif_resolve(c->zone, wall, first, last);
}

/* ---- cron.h's public zone functions --------------------------------------- */

int cd_tz_local_fields(const char *tz, int64_t t, int *year, int *month, int *day, int *hour,
                       int *minute, int *utc_offset_seconds)
{
    cd_tzcal *c = cd_tzcal_get(tz, NULL);
    if (!c)
        return -1;
    return cd_tzcal_fields(c, t, year, month, day, hour, minute, utc_offset_seconds);
}

/* Bound on days_back: far more than any sync_days_back, small enough that
 * the day arithmetic below cannot overflow. */
#define DAYS_BACK_MAX 1000000

static int days_back_ok(int days_back, char **err)
{
    if (days_back >= -DAYS_BACK_MAX && days_back <= DAYS_BACK_MAX)
        return 1;
    if (err)
        *err = cd_sprintf("days back %d is out of range -%d..%d", days_back, DAYS_BACK_MAX,
                          DAYS_BACK_MAX);
    return 0;
}

int cd_tz_date_back(long days, int days_back, char out[11], char **err)
{
    if (!days_back_ok(days_back, err))
        return -1;
    /* Days of years 1..9999 (and the search's few years past them). */
    if (days < -800000 || days > 3000000) {
        if (err)
            *err = cd_sprintf("day %ld is outside years 1..9999", days);
        return -1;
    }
    int y, mo, d;
    cd_civil_from_days(days - days_back, &y, &mo, &d);
    if (y < 1 || y > 9999) {
        if (err)
            *err = cd_sprintf("date %d days before the local date is outside years 1..9999",
                              days_back);
        return -1;
    }
    /* snprintf into out[11] would need a bigger buffer to please
     * -Wformat-truncation; the digits are written directly instead. */
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + mo / 10);
    out[6] = (char)('0' + mo % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
    return 0;
}

int cd_tz_local_date(const char *tz, int64_t t, int days_back, char out[11], char **err)
{
    if (!days_back_ok(days_back, err))
        return -1;
    if (!instant_ok(t)) {
        if (err)
            *err = cd_sprintf("instant %lld is outside years 1..9999", (long long)t);
        return -1;
    }
    cd_tzcal *c = cd_tzcal_get(tz, err);
    if (!c)
        return -1;
    int y, mo, d;
    if (cd_tzcal_fields(c, t, &y, &mo, &d, NULL, NULL, NULL) != 0) {
        if (err)
            *err = cd_sprintf("time zone '%s': cannot compute the local date", tz);
        return -1;
    }
    /* Days are subtracted on the local calendar date, not on the instant:
     * "yesterday" at 00:30 IST is the previous IST date, whatever the UTC
     * date is, and a DST day of 23 or 25 hours is still one day. */
    return cd_tz_date_back(cd_days_from_civil(y, mo, d), days_back, out, err);
}
