/* test_supervise.c — reading a runner's stderr: what is echoed to the
 * worker's stderr is bounded, and draining after the runner ended stops
 * though a process it left behind keeps the pipe full. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "supervise.h"

/* The worker's stderr goes to /dev/null while a test floods it. */
static int quiet_stderr(void)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int null = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && null >= 0);
    dup2(null, STDERR_FILENO);
    close(null);
    return saved;
}

static void restore_stderr(int saved)
{
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
}

/* A child whose stderr pipe can hold `capacity` bytes; *writer is the
 * other end, held open as a process the runner left behind would. */
static void child_with_pipe(cd_child *c, int capacity, int *writer)
{
    memset(c, 0, sizeof *c);
    c->channel_fd = -1;
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    if (capacity > 0)
        assert_true(fcntl(p[1], F_SETPIPE_SZ, capacity) >= capacity);
    c->stderr_fd = p[0];
    *writer = p[1];
}

static void fill(int fd, size_t bytes, char byte)
{
    char block[4096];
    memset(block, byte, sizeof block);
    block[sizeof block - 1] = '\n';
    while (bytes > 0) {
        size_t n = bytes < sizeof block ? bytes : sizeof block;
        ssize_t w = write(fd, block, n);
        assert_true(w > 0);
        bytes -= (size_t)w;
    }
}

static void test_drain_rest_is_bounded_with_a_writer_left_behind(void **state)
{
    (void)state;
    cd_child c;
    int writer;
    child_with_pipe(&c, 1 << 20, &writer);
    fill(writer, 1 << 20, 'x'); /* a megabyte waiting, and the writer still there */
    int saved = quiet_stderr();
    cd_child_drain_rest(&c);
    restore_stderr(saved);
    assert_int_equal(c.stderr_fd, -1);
    /* What one default pipe holds, not everything a flood puts there. */
    assert_int_equal(c.echoed + c.unechoed, 64 * 1024);
    close(writer);
}

static void test_drain_rest_reads_what_the_runner_left(void **state)
{
    (void)state;
    cd_child c;
    int writer;
    child_with_pipe(&c, 0, &writer);
    const char *last = "<3>run 7: FAILED: the source went away\n";
    fill(writer, 8192, 'y');
    assert_int_equal(write(writer, last, strlen(last)), (ssize_t)strlen(last));
    close(writer); /* the runner ended, nobody else holds the pipe */
    int saved = quiet_stderr();
    cd_child_drain_rest(&c);
    restore_stderr(saved);
    assert_int_equal(c.stderr_fd, -1);
    assert_int_equal(c.echoed, 8192 + strlen(last));
    assert_int_equal(c.unechoed, 0);
    assert_string_equal(c.tail, "<3>run 7: FAILED: the source went away");
}

static void test_echo_stops_at_its_bound_and_lines_are_still_read(void **state)
{
    (void)state;
    cd_child c;
    int writer;
    child_with_pipe(&c, 1 << 20, &writer);
    int saved = quiet_stderr();
    for (int round = 0; round < 3; round++) {
        fill(writer, 1 << 20, 'z');
        while (cd_child_drain(&c) == 1)
            ;
    }
    const char *last = "<6>run 8: SUCCESS\n";
    assert_int_equal(write(writer, last, strlen(last)), (ssize_t)strlen(last));
    close(writer);
    cd_child_drain_rest(&c);
    restore_stderr(saved);
    assert_true(c.echoed == CD_CHILD_ECHO_MAX);
    assert_true(c.unechoed == 3 * (1u << 20) + strlen(last) - CD_CHILD_ECHO_MAX);
    assert_string_equal(c.tail, "<6>run 8: SUCCESS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drain_rest_is_bounded_with_a_writer_left_behind),
        cmocka_unit_test(test_drain_rest_reads_what_the_runner_left),
        cmocka_unit_test(test_echo_stops_at_its_bound_and_lines_are_still_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
