/*
 * test_runner_channel.c — the pipe between a worker and the runner it
 * started: the run row survives the trip through a memory file, messages
 * come out whole however the bytes arrive, a malformed line is skipped and
 * does not take the next message with it, and a runner whose worker is
 * gone learns it from the write.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "runner_channel.h"

static int memfd_with(const char *text)
{
    int fd = memfd_create("test-run", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal((ssize_t)strlen(text), write(fd, text, strlen(text)));
    return fd;
}

static void row_round_trip(void **state)
{
    (void)state;
    cd_run_row in = {0};
    in.id = 42;
    in.connector_id = 7;
    in.run_type = "BACKFILL";
    in.status = "RUNNING";
    in.run_date = "2024-02-29";
    in.attempt = 2;
    in.max_attempts = 4;
    in.timeout_seconds = 30;
    in.connector_name = "HDFC \"recon\"\nline two";
    in.connector_type = "BANK_SFTP";
    in.connector_status = "ACTIVE";
    in.source_entity = "HDFC BANK";
    in.driver = "bank_sftp";
    in.timezone = "Asia/Kolkata";
    in.config_json = "{\"host\": \"127.0.0.1\", \"password\": {\"secret\": \"env:X\"}}";
    in.sync_cursor = NULL;
    char *json = cd_channel_row_json(&in);
    assert_non_null(json);
    int fd = memfd_with(json); /* written: the offset is at the end, as in the worker */
    free(json);
    cd_run_row out;
    char *err = NULL;
    assert_int_equal(0, cd_channel_read_row(fd, &out, &err));
    assert_int_equal(42, out.id);
    assert_int_equal(7, out.connector_id);
    assert_int_equal(2, out.attempt);
    assert_int_equal(4, out.max_attempts);
    assert_int_equal(30, out.timeout_seconds);
    assert_string_equal("BACKFILL", out.run_type);
    assert_string_equal("2024-02-29", out.run_date);
    assert_string_equal("HDFC \"recon\"\nline two", out.connector_name);
    assert_string_equal(in.config_json, out.config_json);
    assert_string_equal("Asia/Kolkata", out.timezone);
    assert_null(out.sync_cursor);
    cd_run_row_free(&out);
}

static void row_refused_when_incomplete_or_garbage(void **state)
{
    (void)state;
    const char *bad[] = {"", "not json", "[1, 2]", "{\"id\": 5}",
                         "{\"id\": 0, \"run_type\": \"MANUAL\", \"status\": \"RUNNING\","
                         " \"driver\": \"x\", \"connector_type\": \"BANK_API\","
                         " \"timezone\": \"UTC\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fd = memfd_with(bad[i]);
        cd_run_row out;
        char *err = NULL;
        assert_int_equal(-1, cd_channel_read_row(fd, &out, &err));
        assert_non_null(err);
        free(err);
    }
}

/* Messages written by the runner side come out of the reader side whole,
 * even when the bytes arrive one at a time. */
static void messages_survive_any_split(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(0, pipe(p));
    assert_int_equal(0, cd_channel_send_log(p[1], 4, 2, "line with \"quotes\"\nand a newline"));
    json_t *v = json_pack("{s:s, s:s}", "op", "finalize", "status", "SUCCESS");
    assert_int_equal(0, cd_channel_send_verdict(p[1], v));
    json_decref(v);
    close(p[1]);
    cd_buf all;
    cd_buf_init(&all);
    assert_int_equal(0, cd_channel_fill(p[0], &all)); /* blocking pipe: reads to EOF */
    close(p[0]);
    cd_buf in;
    cd_buf_init(&in);
    json_t *got[2] = {NULL, NULL};
    size_t n = 0;
    for (size_t i = 0; i < all.len; i++) {
        cd_buf_append(&in, all.data + i, 1);
        json_t *m;
        while ((m = cd_channel_next(&in)) != NULL) {
            assert_true(n < 2);
            got[n++] = m;
        }
    }
    assert_int_equal(2, n);
    json_t *log = json_object_get(got[0], "log");
    assert_int_equal(4, json_integer_value(json_object_get(log, "level")));
    assert_int_equal(2, json_integer_value(json_object_get(log, "attempt")));
    assert_string_equal("line with \"quotes\"\nand a newline",
                        json_string_value(json_object_get(log, "message")));
    assert_string_equal("finalize", json_string_value(json_object_get(
                                        json_object_get(got[1], "verdict"), "op")));
    json_decref(got[0]);
    json_decref(got[1]);
    assert_int_equal(0, in.len);
    cd_buf_free(&in);
    cd_buf_free(&all);
}

static void malformed_line_is_skipped(void **state)
{
    (void)state;
    cd_buf in;
    cd_buf_init(&in);
    cd_buf_puts(&in, "{\"log\": oops}\n[1]\n{\"verdict\": {\"op\": \"requeue\"}}\n{\"partial\"");
    json_t *m = cd_channel_next(&in);
    assert_non_null(m);
    assert_string_equal("requeue",
                        json_string_value(json_object_get(json_object_get(m, "verdict"), "op")));
    json_decref(m);
    assert_null(cd_channel_next(&in)); /* the unfinished line waits */
    assert_int_equal(strlen("{\"partial\""), in.len);
    cd_buf_free(&in);
}

static void write_to_a_gone_worker_fails(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    assert_int_equal(0, pipe(p));
    close(p[0]);
    assert_int_equal(-1, cd_channel_send_log(p[1], 6, 1, "nobody listens"));
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(row_round_trip),
        cmocka_unit_test(row_refused_when_incomplete_or_garbage),
        cmocka_unit_test(messages_survive_any_split),
        cmocka_unit_test(malformed_line_is_skipped),
        cmocka_unit_test(write_to_a_gone_worker_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
