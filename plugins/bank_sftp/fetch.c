/* fetch.c — see fetch.h. */
#include "fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

typedef struct sink_state {
    int fd;
    EVP_MD_CTX *sha, *md5;
    const char *local;
    char *err;
    uint64_t written;
    const cd_host_api *host;
    cd_run *run;
    uint64_t total;
} sink_state;

static int hash_update(sink_state *s, const void *p, size_t n)
{
    if (EVP_DigestUpdate(s->sha, p, n) != 1 || EVP_DigestUpdate(s->md5, p, n) != 1) {
        s->err = cdc_printf("hashing %s failed (OpenSSL)", s->local);
        return -1;
    }
    return 0;
}

static int write_chunk(void *ud, const char *data, size_t len)
{
    sink_state *s = ud;
    if (hash_update(s, data, len) != 0)
        return CD_ERR_TRANSIENT;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(s->fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            s->err = cdc_printf("writing %s failed: %s", s->local, strerror(errno));
            return CD_ERR_TRANSIENT;
        }
        off += (size_t)w;
    }
    s->written += len;
    s->host->progress(s->run, s->written, s->total);
    return 0;
}

/* Hashes the first `n` bytes already on disk. */
static int hash_existing(sink_state *s, uint64_t n)
{
    char *buf = malloc(1 << 20);
    if (!buf) {
        s->err = cdc_printf("out of memory");
        return -1;
    }
    uint64_t done = 0;
    int rc = 0;
    while (done < n) {
        size_t want = n - done < (1u << 20) ? (size_t)(n - done) : (1u << 20);
        ssize_t r = pread(s->fd, buf, want, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            s->err = cdc_printf("reading %s failed: %s", s->local, r < 0 ? strerror(errno) : "short file");
            rc = -1;
            break;
        }
        if (hash_update(s, buf, (size_t)r) != 0) {
            rc = -1;
            break;
        }
        done += (uint64_t)r;
    }
    free(buf);
    return rc;
}

int bs_fetch(bs_sftp *c, const char *work_dir, const char *remote_path, int64_t rsize,
             int64_t rmtime, bs_fetched *out, char **why)
{
    memset(out, 0, sizeof *out);
    char key[65];
    bs_sha256_hex(remote_path, strlen(remote_path), key);
    char *local = cdc_printf("%s/dl-%.24s.part", work_dir, key);
    char *meta = cdc_printf("%s/dl-%.24s.meta", work_dir, key);
    char *note = cdc_printf("%lld %lld %s\n", (long long)rsize, (long long)rmtime, remote_path);
    sink_state s = {-1, EVP_MD_CTX_new(), EVP_MD_CTX_new(), local, NULL, 0, c->host, c->run,
                    rsize > 0 ? (uint64_t)rsize : 0};
    int rc = CD_ERR_TRANSIENT;
    if (!local || !meta || !note || !s.sha || !s.md5) {
        *why = cdc_printf("out of memory");
        goto out;
    }
    if (EVP_DigestInit_ex(s.sha, EVP_sha256(), NULL) != 1 ||
        EVP_DigestInit_ex(s.md5, EVP_md5(), NULL) != 1) {
        *why = cdc_printf("OpenSSL digest setup failed");
        goto out;
    }
    /* Resume only a copy of this very version of the remote file. */
    uint64_t have = 0;
    FILE *mf = fopen(meta, "r");
    if (mf) {
        char line[64 + 4096] = "";
        size_t n = fread(line, 1, sizeof line - 1, mf);
        fclose(mf);
        line[n] = '\0';
        struct stat st;
        if (strcmp(line, note) == 0 && stat(local, &st) == 0 && st.st_size > 0 &&
            (rsize < 0 || st.st_size <= rsize))
            have = (uint64_t)st.st_size;
    }
    s.fd = open(local, O_RDWR | O_CREAT | O_CLOEXEC | (have ? 0 : O_TRUNC), 0600);
    if (s.fd < 0) {
        *why = cdc_printf("cannot create %s: %s", local, strerror(errno));
        goto out;
    }
    if (!have) {
        FILE *w = fopen(meta, "w");
        if (!w || fputs(note, w) == EOF || fclose(w) != 0) {
            if (w)
                fclose(w);
            *why = cdc_printf("cannot write %s: %s", meta, strerror(errno));
            goto out;
        }
    } else {
        if (hash_existing(&s, have) != 0) {
            *why = s.err;
            s.err = NULL;
            goto out;
        }
        if (lseek(s.fd, (off_t)have, SEEK_SET) < 0) {
            *why = cdc_printf("cannot seek in %s: %s", local, strerror(errno));
            goto out;
        }
        c->host->log(c->run, CD_LOG_INFO, "resuming the download of %s at byte %llu of %lld",
                     remote_path, (unsigned long long)have, (long long)rsize);
        out->resumed_at = have;
    }
    s.written = have;
    uint64_t got = 0;
    if (rsize < 0 || have < (uint64_t)rsize) {
        rc = bs_sftp_download(c, remote_path, have, write_chunk, &s, &got, why);
        if (rc != CD_OK) {
            if (s.err) {
                free(*why);
                *why = s.err;
                s.err = NULL;
            }
            goto out;
        }
    }
    if (fsync(s.fd) != 0) {
        *why = cdc_printf("cannot flush %s: %s", local, strerror(errno));
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    out->size = have + got;
    if (rsize >= 0 && out->size != (uint64_t)rsize) {
        *why = cdc_printf("transfer of %s truncated: got %llu of %lld bytes", remote_path,
                          (unsigned long long)out->size, (long long)rsize);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    if (EVP_DigestFinal_ex(s.sha, md, &mdn) != 1 || mdn != 32) {
        *why = cdc_printf("hashing %s failed (OpenSSL)", local);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    hex(md, 32, out->sha256);
    if (EVP_DigestFinal_ex(s.md5, md, &mdn) != 1 || mdn != 16) {
        *why = cdc_printf("hashing %s failed (OpenSSL)", local);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    hex(md, 16, out->md5);
    out->local_path = local;
    local = NULL;
    rc = CD_OK;
out:
    if (s.fd >= 0)
        close(s.fd);
    EVP_MD_CTX_free(s.sha);
    EVP_MD_CTX_free(s.md5);
    free(s.err);
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
