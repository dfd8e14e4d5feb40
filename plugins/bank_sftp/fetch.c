/* fetch.c — see fetch.h. */
#include "fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cdc.h"

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char x[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void bs_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        memset(out, '0', 64);
        out[64] = '\0';
        return;
    }
    hex(md, 32, out);
}

typedef struct slot {
    char *buf;
    size_t len;
} slot;

/* One transfer. The producer (download thread, or the caller itself when
 * nothing consumes) fills slots; the consumer empties them in order. */
typedef struct xfer {
    bs_sftp *c;
    const char *remote_path;
    const char *local;
    int fd;
    uint64_t have;  /* bytes on disk from a broken attempt */
    int64_t rsize;
    EVP_MD_CTX *sha, *md5;
    int threaded;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot slots[BS_FETCH_QUEUE];
    size_t head;    /* oldest filled slot (or the one being consumed) */
    size_t count;   /* filled, not yet taken */
    int busy;       /* the consumer holds slots[head] */
    int done;       /* the producer has finished (rc says how) */
    atomic_int stop;

    /* the producer's outcome */
    int rc;
    char *err;
    uint64_t got;   /* bytes downloaded (after `have`) */
} xfer;

static int hash_update(xfer *x, const void *p, size_t n)
{
    if (EVP_DigestUpdate(x->sha, p, n) != 1 || (x->md5 && EVP_DigestUpdate(x->md5, p, n) != 1)) {
        x->err = cdc_printf("hashing %s failed (OpenSSL)", x->local);
        return -1;
    }
    return 0;
}

/* A free slot to fill, or NULL once the consumer asked to stop. */
static slot *acquire(xfer *x)
{
    if (!x->threaded)
        return &x->slots[0];
    pthread_mutex_lock(&x->mu);
    while (x->busy + x->count >= BS_FETCH_QUEUE && !atomic_load(&x->stop))
        pthread_cond_wait(&x->cv, &x->mu);
    slot *s = atomic_load(&x->stop)
                  ? NULL
                  : &x->slots[(x->head + (size_t)x->busy + x->count) % BS_FETCH_QUEUE];
    pthread_mutex_unlock(&x->mu);
    return s;
}

static void publish(xfer *x, slot *s, size_t len)
{
    s->len = len;
    if (!x->threaded)
        return;
    pthread_mutex_lock(&x->mu);
    x->count++;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static int stopping(xfer *x)
{
    if (atomic_load(&x->stop))
        return 1;
    /* Without a thread we are on the caller's thread: the host may be asked. */
    if (!x->threaded && x->c->host->is_cancelled(x->c->run)) {
        atomic_store(&x->stop, 1);
        return 1;
    }
    return 0;
}

/* The part a broken attempt left on disk: hashed and handed on again
 * (its rows went away with that attempt's load). */
static int produce_prefix(xfer *x)
{
    uint64_t off = 0;
    while (off < x->have) {
        if (stopping(x))
            return CD_CANCELLED;
        slot *s = acquire(x);
        if (!s)
            return CD_CANCELLED;
        size_t want = x->have - off < BS_FETCH_CHUNK ? (size_t)(x->have - off) : BS_FETCH_CHUNK;
        ssize_t r = pread(x->fd, s->buf, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            x->err = cdc_printf("reading %s failed: %s", x->local,
                                r < 0 ? strerror(errno) : "short file");
            return CD_ERR_TRANSIENT;
        }
        if (hash_update(x, s->buf, (size_t)r) != 0)
            return CD_ERR_TRANSIENT;
        publish(x, s, (size_t)r);
        off += (uint64_t)r;
    }
    return CD_OK;
}

static int write_all(xfer *x, const char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(x->fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            x->err = cdc_printf("writing %s failed: %s", x->local, strerror(errno));
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

static int produce_download(xfer *x)
{
    if (x->rsize >= 0 && x->have >= (uint64_t)x->rsize)
        return CD_OK;
    LIBSSH2_SFTP_HANDLE *h = NULL;
    int rc = bs_sftp_open_read(x->c, x->remote_path, x->have, &h, &x->err);
    if (rc != CD_OK)
        return rc;
    for (;;) {
        if (stopping(x)) {
            rc = CD_CANCELLED;
            break;
        }
        slot *s = acquire(x);
        if (!s) {
            rc = CD_CANCELLED;
            break;
        }
        ssize_t r = libssh2_sftp_read(h, s->buf, BS_FETCH_CHUNK);
        if (r == 0)
            break;
        if (r < 0) {
            x->err = cdc_printf("download of %s broke off after %llu bytes: %s", x->remote_path,
                                (unsigned long long)(x->have + x->got),
                                r == LIBSSH2_ERROR_TIMEOUT ? "timed out" : bs_sftp_error(x->c));
            rc = CD_ERR_TRANSIENT;
            break;
        }
        if (hash_update(x, s->buf, (size_t)r) != 0 || write_all(x, s->buf, (size_t)r) != 0) {
            rc = CD_ERR_TRANSIENT;
            break;
        }
        x->got += (uint64_t)r;
        publish(x, s, (size_t)r);
        if (!x->threaded)
            x->c->host->progress(x->c->run, x->have + x->got,
                                 x->rsize > 0 ? (uint64_t)x->rsize : 0);
    }
    libssh2_sftp_close(h);
    return rc;
}

static void *producer(void *arg)
{
    xfer *x = arg;
    int rc = produce_prefix(x);
    if (rc == CD_OK)
        rc = produce_download(x);
    pthread_mutex_lock(&x->mu);
    x->rc = rc;
    x->done = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

/* The caller's side of a streamed transfer: runs the consumer on each
 * chunk in order, watches for cancellation. 0, or the consumer's code. */
static int consume_all(xfer *x, const bs_fetch_opts *o)
{
    uint64_t seen = 0;
    int crc = 0;
    for (;;) {
        pthread_mutex_lock(&x->mu);
        while (x->count == 0 && !x->done) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L)
                ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&x->cv, &x->mu, &ts);
            if (x->count == 0 && !x->done && x->c->host->is_cancelled(x->c->run)) {
                crc = CD_CANCELLED;
                break;
            }
        }
        if (crc || x->count == 0) { /* cancelled, or the producer is done */
            pthread_mutex_unlock(&x->mu);
            break;
        }
        slot *s = &x->slots[x->head];
        x->busy = 1;
        x->count--;
        pthread_mutex_unlock(&x->mu);

        crc = o->consume(o->consume_ud, s->buf, s->len);
        seen += s->len;
        x->c->host->progress(x->c->run, seen, x->rsize > 0 ? (uint64_t)x->rsize : 0);

        pthread_mutex_lock(&x->mu);
        x->busy = 0;
        x->head = (x->head + 1) % BS_FETCH_QUEUE;
        pthread_cond_broadcast(&x->cv);
        pthread_mutex_unlock(&x->mu);
        if (crc)
            break;
    }
    if (crc) {
        pthread_mutex_lock(&x->mu);
        atomic_store(&x->stop, 1);
        pthread_cond_broadcast(&x->cv);
        pthread_mutex_unlock(&x->mu);
    }
    return crc;
}

/* Reads the ".meta" note: how many bytes of this very version of the
 * remote file a broken attempt left in local. */
static uint64_t resumable_bytes(const char *meta, const char *local, const char *note,
                                int64_t rsize)
{
    FILE *mf = fopen(meta, "r");
    if (!mf)
        return 0;
    char line[64 + 4096] = "";
    size_t n = fread(line, 1, sizeof line - 1, mf);
    fclose(mf);
    line[n] = '\0';
    struct stat st;
    if (strcmp(line, note) == 0 && stat(local, &st) == 0 && st.st_size > 0 &&
        (rsize < 0 || st.st_size <= rsize))
        return (uint64_t)st.st_size;
    return 0;
}

int bs_fetch(bs_sftp *c, const char *work_dir, const char *remote_path, int64_t rsize,
             int64_t rmtime, const bs_fetch_opts *opts, bs_fetched *out, char **why)
{
    static const bs_fetch_opts none = {0, NULL, NULL};
    const bs_fetch_opts *o = opts ? opts : &none;
    memset(out, 0, sizeof *out);
    char key[65];
    bs_sha256_hex(remote_path, strlen(remote_path), key);
    char *local = cdc_printf("%s/dl-%.24s.part", work_dir, key);
    char *meta = cdc_printf("%s/dl-%.24s.meta", work_dir, key);
    char *note = cdc_printf("%lld %lld %s\n", (long long)rsize, (long long)rmtime, remote_path);
    xfer x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.remote_path = remote_path;
    x.local = local;
    x.fd = -1;
    x.rsize = rsize;
    x.threaded = o->consume != NULL;
    x.sha = EVP_MD_CTX_new();
    x.md5 = o->want_md5 ? EVP_MD_CTX_new() : NULL;
    atomic_init(&x.stop, 0);
    int sync_ok = 0, rc = CD_ERR_TRANSIENT;
    size_t nslots = x.threaded ? BS_FETCH_QUEUE : 1;
    for (size_t i = 0; i < nslots; i++)
        x.slots[i].buf = malloc(BS_FETCH_CHUNK);
    int slots_ok = 1;
    for (size_t i = 0; i < nslots; i++)
        slots_ok = slots_ok && x.slots[i].buf;
    if (!local || !meta || !note || !x.sha || (o->want_md5 && !x.md5) || !slots_ok) {
        *why = cdc_printf("out of memory");
        goto out;
    }
    if (pthread_mutex_init(&x.mu, NULL) != 0) {
        *why = cdc_printf("cannot set up the download thread's lock");
        goto out;
    }
    if (pthread_cond_init(&x.cv, NULL) != 0) {
        pthread_mutex_destroy(&x.mu);
        *why = cdc_printf("cannot set up the download thread's lock");
        goto out;
    }
    sync_ok = 1;
    if (EVP_DigestInit_ex(x.sha, EVP_sha256(), NULL) != 1 ||
        (x.md5 && EVP_DigestInit_ex(x.md5, EVP_md5(), NULL) != 1)) {
        *why = cdc_printf("OpenSSL digest setup failed");
        goto out;
    }
    /* Resume only a copy of this very version of the remote file. */
    x.have = resumable_bytes(meta, local, note, rsize);
    x.fd = open(local, O_RDWR | O_CREAT | O_CLOEXEC | (x.have ? 0 : O_TRUNC), 0600);
    if (x.fd < 0) {
        *why = cdc_printf("cannot create %s: %s", local, strerror(errno));
        goto out;
    }
    if (!x.have) {
        FILE *w = fopen(meta, "w");
        if (!w || fputs(note, w) == EOF || fclose(w) != 0) {
            if (w)
                fclose(w);
            *why = cdc_printf("cannot write %s: %s", meta, strerror(errno));
            goto out;
        }
        /* one line per transfer: what a run costs the bank's server */
        c->host->log(c->run, CD_LOG_INFO, "downloading %s (%lld bytes)", remote_path,
                     (long long)rsize);
    } else {
        if (lseek(x.fd, (off_t)x.have, SEEK_SET) < 0) {
            *why = cdc_printf("cannot seek in %s: %s", local, strerror(errno));
            goto out;
        }
        c->host->log(c->run, CD_LOG_INFO, "resuming the download of %s at byte %llu of %lld",
                     remote_path, (unsigned long long)x.have, (long long)rsize);
        out->resumed_at = x.have;
    }
    out->local_path = local;
    local = NULL;

    if (!x.threaded) {
        /* Nothing to overlap with: the prefix is only hashed. */
        producer(&x);
        rc = x.rc;
    } else {
        pthread_t th;
        if (pthread_create(&th, NULL, producer, &x) != 0) {
            *why = cdc_printf("cannot start the download thread");
            goto out;
        }
        int crc = consume_all(&x, o);
        /* Cancelled: the download thread may sit in a read that a hung
         * server would hold for the whole request timeout. */
        if (crc == CD_CANCELLED)
            bs_sftp_abort(c);
        pthread_join(th, NULL);
        if (crc) {
            out->stopped = 1;
            rc = crc;
            goto out;
        }
        rc = x.rc;
    }
    if (rc != CD_OK) {
        *why = x.err ? x.err : cdc_printf("download of %s stopped", remote_path);
        x.err = NULL;
        /* what arrived stays for the next attempt to resume from */
        if (fdatasync(x.fd) != 0)
            c->host->log(c->run, CD_LOG_WARNING, "cannot flush %s: %s", out->local_path,
                         strerror(errno));
        goto out;
    }
    out->size = x.have + x.got;
    if (rsize >= 0 && out->size > (uint64_t)rsize) {
        /* read to its end, the file was longer than listed: still being
         * written, not a transfer that broke off */
        *why = cdc_printf("%s grew while it was downloaded: %llu bytes, %lld when listed (still "
                          "being written?)",
                          remote_path, (unsigned long long)out->size, (long long)rsize);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    if (rsize >= 0 && out->size != (uint64_t)rsize) {
        *why = cdc_printf("transfer of %s truncated: got %llu of %lld bytes", remote_path,
                          (unsigned long long)out->size, (long long)rsize);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    if (EVP_DigestFinal_ex(x.sha, md, &mdn) != 1 || mdn != 32) {
        *why = cdc_printf("hashing %s failed (OpenSSL)", out->local_path);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    hex(md, 32, out->sha256);
    if (x.md5) {
        if (EVP_DigestFinal_ex(x.md5, md, &mdn) != 1 || mdn != 16) {
            *why = cdc_printf("hashing %s failed (OpenSSL)", out->local_path);
            rc = CD_ERR_TRANSIENT;
            goto out;
        }
        hex(md, 16, out->md5);
    }
    rc = CD_OK;
out:
    if (x.fd >= 0)
        close(x.fd);
    if (sync_ok) {
        pthread_cond_destroy(&x.cv);
        pthread_mutex_destroy(&x.mu);
    }
    for (size_t i = 0; i < BS_FETCH_QUEUE; i++)
        free(x.slots[i].buf);
    EVP_MD_CTX_free(x.sha);
    EVP_MD_CTX_free(x.md5);
    free(x.err);
    free(local);
    free(meta);
    free(note);
    return rc;
}

void bs_fetch_discard(bs_fetched *f)
{
    if (!f->local_path)
        return;
    unlink(f->local_path);
    size_t n = strlen(f->local_path);
    if (n > 5) {
        char *meta = strdup(f->local_path);
        if (meta) {
            memcpy(meta + n - 5, ".meta", 5);
            unlink(meta);
            free(meta);
        }
    }
}

void bs_fetched_free(bs_fetched *f)
{
    free(f->local_path);
    memset(f, 0, sizeof *f);
}
