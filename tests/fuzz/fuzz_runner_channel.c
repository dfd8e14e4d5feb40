/*
 * fuzz_runner_channel.c — libFuzzer target for what a worker reads from a
 * runner: arbitrary bytes split at an arbitrary point through the
 * channel's line reader (a driver runs inside the runner and could write
 * anything there), and the same bytes as the run row a runner reads.
 * Findings are crashes, sanitizer reports and leaks; refusals are
 * expected.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "runner_channel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    /* Every refused line is a warning; they would drown the fuzzer's output. */
    cd_log_set_threshold(CD_LOG_ERROR);
    size_t cut = size ? data[0] % (size + 1) : 0;
    cd_buf in;
    cd_buf_init(&in);
    cd_buf_append(&in, data, cut);
    json_t *m;
    while ((m = cd_channel_next(&in)) != NULL)
        json_decref(m);
    cd_buf_append(&in, data + cut, size - cut);
    while ((m = cd_channel_next(&in)) != NULL)
        json_decref(m);
    cd_buf_free(&in);

    int fd = memfd_create("fuzz-run", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    cd_run_row row;
    char *err = NULL;
    if (cd_channel_read_row(fd, &row, &err) == 0)
        cd_run_row_free(&row);
    free(err);
    return 0;
}
