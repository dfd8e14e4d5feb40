/* supervise.c — see supervise.h. */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "runner_channel.h"
#include "zygote.h"
#include "util.h"

extern char **environ;

const char *cd_signal_name(int signo)
{
    const char *abbrev = sigabbrev_np(signo);
    static __thread char buf[24];
    if (!abbrev) {
        snprintf(buf, sizeof buf, "signal %d", signo);
        return buf;
    }
    snprintf(buf, sizeof buf, "SIG%s", abbrev);
    return buf;
}

char **cd_child_environment(char *extra1, char *extra2)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = cd_xcalloc(n + 3, sizeof *envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "CONNECTORD_PARENT_PID=", 22) != 0 &&
            strncmp(environ[i], CD_CHANNEL_ENV "=", sizeof CD_CHANNEL_ENV) != 0)
            envp[k++] = environ[i];
    if (extra1)
        envp[k++] = extra1;
    if (extra2)
        envp[k++] = extra2;
    envp[k] = NULL;
    return envp;
}

/* A descriptor numbered above the channel's fixed numbers, so that the
 * dup2 onto 3 and 4 in the child cannot overwrite one another's source. */
static int above_channel_fds(int fd)
{
    if (fd > CD_CHANNEL_FD)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, CD_CHANNEL_FD + 1);
    close(fd);
    return moved;
}

/* The run row in a memory file (the runner reads it from offset 0) and the
 * channel pipe. 0 or -1 with *err; on success the caller closes *memfd and
 * chan[1] after the spawn. */
static int make_channel(const char *row_json, int *memfd, int chan[2], char **err)
{
    *memfd = above_channel_fds(memfd_create("connectord-run", MFD_CLOEXEC));
    if (*memfd < 0) {
        *err = cd_sprintf("cannot create the runner's run file: %s", strerror(errno));
        return -1;
    }
    size_t len = strlen(row_json), off = 0;
    while (off < len) {
        ssize_t n = write(*memfd, row_json + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = cd_sprintf("cannot write the runner's run file: %s", strerror(errno));
            close(*memfd);
            return -1;
        }
        off += (size_t)n;
    }
    if (pipe2(chan, O_CLOEXEC) != 0) {
        *err = cd_sprintf("cannot create the runner's channel: %s", strerror(errno));
        close(*memfd);
        return -1;
    }
    chan[0] = above_channel_fds(chan[0]);
    chan[1] = above_channel_fds(chan[1]);
    if (chan[0] < 0 || chan[1] < 0 || fcntl(chan[0], F_SETFL, O_NONBLOCK) != 0) {
        *err = cd_sprintf("cannot set up the runner's channel: %s", strerror(errno));
        if (chan[0] >= 0)
            close(chan[0]);
        if (chan[1] >= 0)
            close(chan[1]);
        close(*memfd);
        return -1;
    }
    return 0;
}

static int spawn_runner(cd_child *child, cd_zygote *zygote, const char *self_exe,
                        const char *config_path, int64_t run_id, int capture_stderr,
                        const char *row_json, char **err)
{
    memset(child, 0, sizeof *child);
    child->stderr_fd = -1;
    child->channel_fd = -1;
    int pipefd[2] = {-1, -1};
    int memfd = -1, chan[2] = {-1, -1};
    if (row_json && make_channel(row_json, &memfd, chan, err) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (row_json) {
        posix_spawn_file_actions_adddup2(&fa, memfd, CD_CHANNEL_ROW_FD);
        posix_spawn_file_actions_adddup2(&fa, chan[1], CD_CHANNEL_FD);
    }
    if (capture_stderr) {
        if (pipe2(pipefd, O_CLOEXEC) != 0) {
            *err = cd_sprintf("cannot create a pipe for the runner: %s", strerror(errno));
            posix_spawn_file_actions_destroy(&fa);
            if (row_json) {
                close(memfd);
                close(chan[0]);
                close(chan[1]);
            }
            return -1;
        }
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        /* Our end never blocks: once the runner is gone, a process it left
         * behind may hold the pipe open for as long as it lives. */
        fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    }
    /* A driver's stdout goes where its stderr goes: `connectord run` prints
     * the run's JSON on its own stdout, and nothing else may be there. */
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    if (zygote) {
        pid_t pid;
        int rc = cd_zygote_spawn(zygote, config_path, run_id, pipefd[1],
                                 row_json ? memfd : -1, row_json ? chan[1] : -1, &pid, err);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (row_json) {
            close(memfd);
            close(chan[1]);
        }
        if (rc != 0) {
            close(pipefd[0]);
            if (row_json)
                close(chan[0]);
            return -1;
        }
        child->pid = pid;
        child->zygote = zygote;
        child->stderr_fd = pipefd[0];
        child->channel_fd = row_json ? chan[0] : -1;
        cd_buf_init(&child->channel_in);
        child->started_ms = cd_now_ms();
        return 0;
    }
    /* Nothing else of ours: a descriptor another thread holds without
     * close-on-exec (libcurl's sockets, an alert being sent) is not the
     * driver's to have. */
    posix_spawn_file_actions_addclosefrom_np(&fa, row_json ? CD_CHANNEL_FD + 1
                                                           : STDERR_FILENO + 1);
    /* The runner gets its own process group so that a kill reaches anything
     * a driver started. */
    posix_spawnattr_t attr;
    cd_spawnattr_init_clean(&attr, 1);

    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    char *argv[] = {(char *)self_exe, "-c", (char *)config_path, "exec-run", id, NULL};
    /* The runner dies with us (PR_SET_PDEATHSIG) and checks that we were its
     * parent when it set that up. */
    char parent_env[48];
    snprintf(parent_env, sizeof parent_env, "CONNECTORD_PARENT_PID=%ld", (long)getpid());
    char channel_env[48];
    snprintf(channel_env, sizeof channel_env, "%s=%d,%d", CD_CHANNEL_ENV, CD_CHANNEL_ROW_FD,
             CD_CHANNEL_FD);
    char **envp = cd_child_environment(parent_env, row_json ? channel_env : NULL);
    pid_t pid;
    int rc = posix_spawn(&pid, self_exe, &fa, &attr, argv, envp);
    free(envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (capture_stderr)
        close(pipefd[1]);
    if (row_json) {
        close(memfd);
        close(chan[1]);
    }
    if (rc != 0) {
        *err = cd_sprintf("cannot start the runner %s: %s", self_exe, strerror(rc));
        if (capture_stderr)
            close(pipefd[0]);
        if (row_json)
            close(chan[0]);
        return -1;
    }
    child->pid = pid;
    child->stderr_fd = capture_stderr ? pipefd[0] : -1;
    child->channel_fd = row_json ? chan[0] : -1;
    cd_buf_init(&child->channel_in);
    child->started_ms = cd_now_ms();
    return 0;
}

int cd_child_spawn(cd_child *child, const char *self_exe, const char *config_path,
                   int64_t run_id, int capture_stderr, char **err)
{
    return spawn_runner(child, NULL, self_exe, config_path, run_id, capture_stderr, NULL, err);
}

int cd_child_spawn_channel(cd_child *child, const char *self_exe, const char *config_path,
                           int64_t run_id, const char *row_json, char **err)
{
    return spawn_runner(child, NULL, self_exe, config_path, run_id, 1, row_json, err);
}

int cd_child_spawn_zygote(cd_child *child, cd_zygote *zygote, const char *config_path,
                          int64_t run_id, const char *row_json, char **err)
{
    return spawn_runner(child, zygote, NULL, config_path, run_id, 1, row_json, err);
}

void cd_child_close_channel(cd_child *child)
{
    if (child->channel_fd >= 0)
        close(child->channel_fd);
    child->channel_fd = -1;
    cd_buf_free(&child->channel_in);
}

/* A whole stderr line of the child: it becomes the tail when it is the
 * runner's own log ("<3>..."), whose driver text went through the run's secret
 * scrubbing. What a driver writes to stderr itself did not, and may hold a
 * resolved secret: it goes to the journal only, never into the run's error
 * message that the API shows (nor does the runner line before it, which
 * would not be why the runner ended). */
static void take_line(cd_child *c)
{
    size_t n = c->line_len;
    while (n > 0 && c->line[n - 1] == '\r')
        n--;
    c->line_len = 0;
    if (n == 0)
        return;
    if (n >= 3 && c->line[0] == '<' && c->line[1] >= '0' && c->line[1] <= '7' &&
        c->line[2] == '>') {
        memcpy(c->tail, c->line, n);
        c->tail[n] = '\0';
    } else {
        c->tail[0] = '\0';
    }
}

/* Forwards what the child wrote to stderr and remembers its last line,
 * however the reads cut it. */
int cd_child_drain(cd_child *c)
{
    /* A pipe's worth at once: a read per page would make a driver that
     * writes a lot wait on the worker's loop for every 4 KiB. */
    char buf[CD_CHILD_READ_MAX];
    ssize_t n;
    do
        n = read(c->stderr_fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0) {
        take_line(c); /* a last line without its newline */
        close(c->stderr_fd);
        c->stderr_fd = -1;
        return -1;
    }
    if (c->echoed < CD_CHILD_ECHO_MAX) {
        size_t echo = (size_t)n;
        if (echo > CD_CHILD_ECHO_MAX - c->echoed)
            echo = (size_t)(CD_CHILD_ECHO_MAX - c->echoed);
        fwrite(buf, 1, echo, stderr);
        c->echoed += echo;
        c->unechoed += (uint64_t)n - echo;
    } else {
        c->unechoed += (uint64_t)n;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n')
            take_line(c);
        else if (c->line_len < sizeof c->line) /* a longer line is cut short */
            c->line[c->line_len++] = buf[i];
    }
    return 1;
}

void cd_child_drain_rest(cd_child *c)
{
    /* A default pipe's capacity (64 KiB, one read): everything the runner
     * wrote before it ended. A process it left behind that keeps writing is
     * cut off. */
    for (int reads = 0; reads < (int)(65536 / CD_CHILD_READ_MAX) && c->stderr_fd >= 0 &&
                        cd_child_drain(c) == 1;
         reads++)
        ;
    if (c->stderr_fd >= 0) { /* still open: a process the runner left holds it */
        take_line(c);
        close(c->stderr_fd);
        c->stderr_fd = -1;
    }
    if (c->unechoed)
        fprintf(stderr, "<4>runner %ld: %llu bytes of its stderr were not echoed (more than %llu)\n",
                (long)c->pid, (unsigned long long)c->unechoed,
                (unsigned long long)CD_CHILD_ECHO_MAX);
}

void cd_child_signal(cd_child *c, int sig)
{
    /* Both, always: a driver can move the runner into another group and
     * leave a helper in its own, and signalling that group alone succeeds
     * without ever reaching the runner. */
    kill(-c->pid, sig);
    kill(c->pid, sig);
}

void cd_child_kill_leftovers(pid_t pid, int exited, int exit_code)
{
    /* A helper a crashed driver forked still holds the runner's database
     * socket, and with it the run's open load transaction: the next load
     * of that day would wait on its locks for as long as it lives. Called
     * while the runner is a zombie, so its pid, and its group's id, are
     * not anyone else's yet. */
    if (!(exited && exit_code == 0))
        kill(-pid, SIGKILL);
}

int cd_child_try_reap(cd_child *c)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno == EINTR ? 0 : -1;
    if (si.si_pid != c->pid)
        return 0;
    cd_child_kill_leftovers(c->pid, si.si_code == CLD_EXITED, si.si_status);
    int status;
    pid_t r;
    do
        r = waitpid(c->pid, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r != c->pid)
        return -1;
    cd_child_set_status(c, status);
    return 1;
}

void cd_child_set_status(cd_child *c, int status)
{
    if (WIFEXITED(status)) {
        c->exited = 1;
        c->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        c->signaled = 1;
        c->signo = WTERMSIG(status);
    }
}

void cd_child_wait(cd_child *c, int timeout_s, int grace_s, int (*cancelled)(void *arg),
                   void *arg)
{
    for (;;) {
        int r = cd_child_try_reap(c);
        if (r == 1)
            break;
        if (r < 0) {
            c->exited = 1;
            c->exit_code = 255;
            break;
        }
        int64_t now = cd_now_ms();
        if (!c->term_sent_ms) {
            int over = timeout_s > 0 && now - c->started_ms >= (int64_t)timeout_s * 1000;
            int cancel_now = cancelled && cancelled(arg);
            if (over || cancel_now) {
                c->timed_out = over;
                c->cancelled = !over;
                cd_child_signal(c, over ? SIGUSR1 : SIGTERM); /* runner.c says why */
                c->term_sent_ms = now;
            }
        } else if (now - c->term_sent_ms >= (int64_t)grace_s * 1000) {
            cd_child_signal(c, SIGKILL);
        }
        /* The stderr pipe hangs up when the child exits, which wakes us at
         * once; the timeout is the tick for deadlines and for a child whose
         * stderr is not ours (or is held open by a grandchild). */
        struct pollfd fd = {.fd = c->stderr_fd, .events = POLLIN};
        int rc = poll(&fd, c->stderr_fd >= 0 ? 1 : 0, c->stderr_fd >= 0 ? 200 : 50);
        if (rc > 0 && (fd.revents & (POLLIN | POLLHUP)))
            cd_child_drain(c);
    }
    cd_child_drain_rest(c);
}

char *cd_child_failure_reason(const cd_child *c, int timeout_s)
{
    if (c->timed_out)
        return cd_sprintf("timed out after %d s", timeout_s);
    if (c->cancelled)
        return cd_xstrdup("cancelled by USER");
    if (c->lost)
        return cd_xstrdup("runner lost: the worker's runner zygote died");
    if (c->signaled)
        return cd_sprintf("driver crashed: %s", cd_signal_name(c->signo));
    if (c->exited && c->exit_code != 0) {
        /* The runner's last log line usually says why ("<3>run 7: ..."). */
        const char *t = c->tail;
        if (t[0] == '<' && t[1] && t[2] == '>')
            t += 3;
        return *t ? cd_sprintf("runner exited with status %d: %s", c->exit_code, t)
                  : cd_sprintf("runner exited with status %d", c->exit_code);
    }
    return NULL;
}

void cd_spawnattr_init_clean(posix_spawnattr_t *attr, int own_group)
{
    posix_spawnattr_init(attr);
    posix_spawnattr_setflags(attr, (short)(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                           (own_group ? POSIX_SPAWN_SETPGROUP : 0)));
    if (own_group)
        posix_spawnattr_setpgroup(attr, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &all);
}
