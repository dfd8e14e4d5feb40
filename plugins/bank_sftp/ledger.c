/* ledger.c — see ledger.h. */
#include "ledger.h"

int bs_ledger_available(const cd_host_api *host)
{
    return CD_HOST_HAS(host, file_lookup) && CD_HOST_HAS(host, file_record) &&
           CD_HOST_HAS(host, work_dir) && host->file_lookup && host->file_record && host->work_dir;
}

static cd_file_info info(const char *path, int64_t size, int64_t mtime, const char *sha256)
{
    cd_file_info f = {(uint32_t)sizeof(cd_file_info), path, size, mtime, sha256};
    return f;
}

int bs_ledger_lookup(bs_ledger *l, const char *path, int64_t size, int64_t mtime,
                     const char *sha256, cd_file_state *state)
{
    cd_file_info f = info(path, size, mtime, sha256);
    int rc = l->host->file_lookup(l->run, &f, state);
    if (rc != CD_OK)
        l->host->log(l->run, CD_LOG_ERROR, "file ledger lookup of %s failed", path);
    return rc;
}

int bs_ledger_record(bs_ledger *l, const char *path, int64_t size, int64_t mtime,
                     const char *sha256, const char *status, int64_t rows, const char *reason)
{
    cd_file_info f = info(path, size, mtime, sha256);
    int rc = l->host->file_record(l->run, &f, status, rows, reason);
    if (rc != CD_OK)
        l->host->log(l->run, CD_LOG_ERROR, "file ledger: recording %s as %s failed", path,
                     status);
    return rc;
}
