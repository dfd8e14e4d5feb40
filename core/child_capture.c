/* child_capture.c — see child_capture.h. */
#include "child_capture.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "supervise.h"

extern char **environ;

/* How often a child that closed its pipes is checked for having exited. */
#define EXIT_POLL_MS 20

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Reads what is there now; 0 at end of file or on an error, 1 otherwise. */
static int read_some(int fd, cd_capture *c, size_t max_out)
{
    char buf[8192];
    for (int reads = 0; reads < 64; reads++) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        if (r <= 0)
            return 0;
        if (c->out.len + (size_t)r <= max_out)
            cd_buf_append(&c->out, buf, (size_t)r);
    }
    return 1;
}

int cd_capture_run(char *const argv[], const char *input, int quiet_stderr, int timeout_ms,
                   size_t max_out, cd_capture *c, char **err)
{
    memset(c, 0, sizeof *c);
    cd_buf_init(&c->out);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) {
        *err = cd_sprintf("cannot create a pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
        *err = cd_sprintf("cannot create a pipe: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    if (quiet_stderr)
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    /* Nothing else: what another thread holds without close-on-exec
     * (libcurl's sockets) is not for driver code. */
    posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
    /* Its own group, so that what the driver starts is killed with it;
     * the worker's blocked signals are not the child's. */
    posix_spawnattr_t attr;
    cd_spawnattr_init_clean(&attr, 1);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        *err = cd_sprintf("cannot start %s: %s", argv[0], strerror(rc));
        return -1;
    }
    int wfd = in[1], rfd = out[0];
    fcntl(wfd, F_SETFL, O_NONBLOCK);
    fcntl(rfd, F_SETFL, O_NONBLOCK);
    size_t total = input ? strlen(input) : 0, written = 0;
    if (total == 0)
        close_fd(&wfd);
    int64_t deadline = cd_now_ms() + timeout_ms;
    int exited = 0;
    while (!exited) {
        pid_t w = waitpid(pid, &c->status, WNOHANG);
        if (w == pid) {
            exited = 1;
            break;
        }
        int64_t left = deadline - cd_now_ms();
        if (left <= 0) {
            c->timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        struct pollfd p[2];
        nfds_t n = 0;
        if (rfd >= 0)
            p[n++] = (struct pollfd){.fd = rfd, .events = POLLIN};
        if (wfd >= 0)
            p[n++] = (struct pollfd){.fd = wfd, .events = POLLOUT};
        int wait_ms = (int)(left < EXIT_POLL_MS ? left : EXIT_POLL_MS);
        if (poll(p, n, wait_ms) <= 0)
            continue;
        for (nfds_t k = 0; k < n; k++) {
            if (p[k].fd == rfd && (p[k].revents & (POLLIN | POLLHUP | POLLERR)) &&
                !read_some(rfd, c, max_out))
                close_fd(&rfd);
            if (p[k].fd == wfd && (p[k].revents & (POLLOUT | POLLERR | POLLHUP))) {
                ssize_t wr = write(wfd, input + written, total - written);
                if (wr > 0)
                    written += (size_t)wr;
                else if (wr < 0 && errno != EAGAIN && errno != EINTR)
                    written = total; /* it stopped reading: let it answer */
                if (written >= total)
                    close_fd(&wfd);
            }
        }
    }
    if (exited && rfd >= 0)
        read_some(rfd, c, max_out); /* what it wrote just before it ended */
    close_fd(&wfd);
    close_fd(&rfd);
    kill(-pid, SIGKILL); /* whatever it left behind in its group */
    return 0;
}

const char *cd_capture_last_line(cd_capture *c)
{
    cd_buf_putc(&c->out, '\0');
    char *end = c->out.data + strlen(c->out.data);
    while (end > c->out.data && (end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    char *line = strrchr(c->out.data, '\n');
    return line ? line + 1 : c->out.data;
}

void cd_capture_free(cd_capture *c) { cd_buf_free(&c->out); }
