/* zygote.c — see zygote.h. */
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "paths.h"
#include "runner.h"
#include "runner_channel.h"
#include "supervise.h"
#include "util.h"

/* One message either way on a SOCK_SEQPACKET socket: a record each. */
enum { MSG_SPAWN = 'S', MSG_REAP = 'R', MSG_STARTED = 'P', MSG_EXITED = 'X' };

typedef struct zmsg {
    uint32_t type;
    int32_t pid;
    int32_t value; /* SPAWN: number of fds; STARTED: errno (0: ok); EXITED: wait status */
    int32_t pad;
    int64_t run_id;
    char config_path[4096];
} zmsg;

#define ZMSG_HEADER offsetof(zmsg, config_path)
/* How long the worker waits for the zygote to answer a spawn. */
#define SPAWN_REPLY_MS 5000

typedef struct exit_report {
    pid_t pid;
    int status;
} exit_report;

struct cd_zygote {
    pid_t pid;
    int fd;
    int dead;
    exit_report *exits; /* reported, not yet taken */
    size_t nexits, cap;
};

/* --- the worker's side --- */

cd_zygote *cd_zygote_start(const char *self_exe, char **err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        *err = cd_sprintf("cannot create the runner zygote's socket: %s", strerror(errno));
        return NULL;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    /* Only that: the zygote lives long and every runner it forks would
     * inherit whatever else the worker holds without close-on-exec at this
     * moment (libcurl's sockets, while an alert is being sent). */
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    posix_spawnattr_t attr;
    cd_spawnattr_init_clean(&attr, 0);
    char parent_env[48];
    snprintf(parent_env, sizeof parent_env, "CONNECTORD_PARENT_PID=%ld", (long)getpid());
    /* Every symbol of every library bound once, in the zygote: each runner
     * it forks would otherwise resolve its lazy calls again, faulting in
     * the symbol tables of some forty libraries (about a tenth of an empty
     * run). The zygote drops the variable again unless the operator set it,
     * so that what drivers start is not affected. */
    int bind_now = getenv("LD_BIND_NOW") == NULL;
    char bind_env[] = "LD_BIND_NOW=1";
    char **envp = cd_child_environment(parent_env, bind_now ? bind_env : NULL);
    char *argv[] = {(char *)self_exe, "runner-zygote", "3", bind_now ? "bind-now" : NULL, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, self_exe, &fa, &attr, argv, envp);
    free(envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        *err = cd_sprintf("cannot start the runner zygote %s: %s", self_exe, strerror(rc));
        return NULL;
    }
    cd_zygote *z = cd_xcalloc(1, sizeof *z);
    z->pid = pid;
    z->fd = sv[0];
    return z;
}

void cd_zygote_stop(cd_zygote *z)
{
    if (!z)
        return;
    if (z->fd >= 0)
        close(z->fd); /* the zygote exits at end of file */
    for (int i = 0; i < 100; i++) {
        pid_t r = waitpid(z->pid, NULL, WNOHANG);
        if (r == z->pid || (r < 0 && errno != EINTR))
            break;
        if (i == 50)
            kill(z->pid, SIGKILL);
        usleep(20000);
    }
    free(z->exits);
    free(z);
}

int cd_zygote_fd(const cd_zygote *z) { return z && !z->dead ? z->fd : -1; }
int cd_zygote_alive(const cd_zygote *z) { return z && !z->dead; }

static void gone(cd_zygote *z)
{
    if (z->dead)
        return;
    z->dead = 1;
    close(z->fd);
    z->fd = -1;
}

/* Handles one message from the zygote; returns it in *m. 1 read, 0 none
 * waiting (non-blocking), -1 gone. */
static int read_one(cd_zygote *z, zmsg *m, int flags)
{
    if (z->dead)
        return -1;
    ssize_t n = recv(z->fd, m, sizeof *m, flags);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n < (ssize_t)ZMSG_HEADER) {
        gone(z);
        return -1;
    }
    if (m->type == MSG_EXITED) {
        if (z->nexits == z->cap) {
            z->cap = z->cap ? z->cap * 2 : 16;
            z->exits = realloc(z->exits, z->cap * sizeof *z->exits);
            if (!z->exits)
                abort();
        }
        z->exits[z->nexits++] = (exit_report){m->pid, m->value};
    }
    return 1;
}

int cd_zygote_read(cd_zygote *z)
{
    zmsg m;
    int rc;
    while ((rc = read_one(z, &m, MSG_DONTWAIT)) == 1)
        ;
    return rc < 0 ? -1 : 0;
}

int cd_zygote_spawn(cd_zygote *z, const char *config_path, int64_t run_id, int stderr_fd,
                    int row_fd, int channel_fd, pid_t *pid, char **err)
{
    if (z->dead) {
        *err = cd_xstrdup("the runner zygote is gone");
        return -1;
    }
    zmsg m;
    memset(&m, 0, ZMSG_HEADER);
    size_t plen = strlen(config_path);
    if (plen >= sizeof m.config_path) {
        *err = cd_xstrdup("configuration path too long for the runner zygote");
        return -1;
    }
    m.type = MSG_SPAWN;
    m.run_id = run_id;
    int fds[3] = {stderr_fd, row_fd, channel_fd};
    int nfds = row_fd >= 0 ? 3 : 1;
    m.value = nfds;
    memcpy(m.config_path, config_path, plen + 1);
    char control[CMSG_SPACE(sizeof fds)];
    memset(control, 0, sizeof control);
    struct iovec iov = {.iov_base = &m, .iov_len = ZMSG_HEADER + plen + 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    ssize_t sent;
    do
        sent = sendmsg(z->fd, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        *err = cd_sprintf("the runner zygote does not take requests: %s", strerror(errno));
        gone(z);
        return -1;
    }
    /* The answer comes at once (a fork); end reports of other runners that
     * arrive first are kept for cd_zygote_take_exit. */
    int64_t deadline = cd_now_ms() + SPAWN_REPLY_MS;
    for (;;) {
        int64_t left = deadline - cd_now_ms();
        struct pollfd p = {.fd = z->fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) == 0) {
            *err = cd_xstrdup("the runner zygote did not answer within 5 s");
            gone(z);
            return -1;
        }
        zmsg r;
        int rc = read_one(z, &r, MSG_DONTWAIT);
        if (rc < 0) {
            *err = cd_xstrdup("the runner zygote died");
            return -1;
        }
        if (rc == 1 && r.type == MSG_STARTED && r.run_id == run_id) {
            if (r.value != 0) {
                *err = cd_sprintf("the runner zygote cannot fork: %s", strerror(r.value));
                return -1;
            }
            *pid = r.pid;
            return 0;
        }
    }
}

int cd_zygote_take_exit(cd_zygote *z, pid_t pid, int *status)
{
    for (size_t i = 0; i < z->nexits; i++) {
        if (z->exits[i].pid != pid)
            continue;
        *status = z->exits[i].status;
        z->exits[i] = z->exits[--z->nexits];
        /* Still a zombie in the zygote until the reap below. */
        cd_child_kill_leftovers(pid, WIFEXITED(*status), WIFEXITED(*status) ? WEXITSTATUS(*status) : 0);
        if (!z->dead) {
            zmsg m;
            memset(&m, 0, ZMSG_HEADER);
            m.type = MSG_REAP;
            m.pid = pid;
            if (send(z->fd, &m, ZMSG_HEADER, MSG_NOSIGNAL) < 0)
                gone(z);
        }
        return 1;
    }
    if (z->dead) {
        *status = SIGKILL; /* as waitpid reports a process killed by SIGKILL */
        return 2;
    }
    return 0;
}

/* --- the zygote process --- */

typedef struct zchild {
    pid_t pid;
    int reported;
} zchild;

static void send_msg(int fd, zmsg *m)
{
    ssize_t n;
    do
        n = send(fd, m, ZMSG_HEADER, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        _exit(0); /* the worker is gone: so are we (and our runners) */
}

/* The configuration as the zygote last read it, and which file that was:
 * runners forked while the file is unchanged skip parsing it. */
typedef struct config_cache {
    char *path;
    struct stat st;
    cd_config *cfg;
} config_cache;

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The configuration at path, read again when the file changed; NULL when
 * it cannot be read or checked (the runner then reports why itself). */
static const cd_config *cached_config(config_cache *cc, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return NULL;
    if (cc->cfg && strcmp(cc->path, path) == 0 && same_file(&cc->st, &st))
        return cc->cfg;
    cd_config_free(cc->cfg);
    free(cc->path);
    cc->cfg = NULL;
    cc->path = NULL;
    char *err = NULL;
    cd_config *cfg = cd_config_load(path, &err);
    if (!cfg || cd_config_check(cfg, &err) != 0) {
        free(err);
        cd_config_free(cfg);
        return NULL;
    }
    cc->cfg = cfg;
    cc->path = cd_xstrdup(path);
    cc->st = st;
    return cfg;
}

/* Ends a forked runner. Without the sanitizers, _exit skips the exit
 * handlers and the unmapping of every library one by one (a tenth of an
 * empty run's cost); what stdio holds is flushed first. The sanitizers'
 * leak check runs from an exit handler, so there the runner exits fully. */
static _Noreturn void end_runner(int code)
{
#if defined(__SANITIZE_ADDRESS__)
    exit(code);
#else
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
    exit(code);
#endif
#endif
    fflush(NULL);
    _exit(code);
#endif
}

/* In the forked child: becomes the runner of run m->run_id, as
 * `connectord -c PATH exec-run ID` would. */
static void become_runner(const zmsg *m, int *fds, int nfds, int sock, int sigfd,
                          const cd_config *cfg, int (*entry)(int, char **),
                          cd_zygote_run_fn run, zchild *kids)
{
    /* The zygote's list of runners is not the runner's to keep (held only
     * in a register, it would be reported as leaked). */
    free(kids);
    close(sock);
    close(sigfd);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0); /* a kill of the run reaches whatever its driver started */
    /* Move the fds above 4 first, so that no dup2 overwrites another's source. */
    for (int i = 0; i < nfds; i++) {
        if (fds[i] <= CD_CHANNEL_FD) {
            int moved = fcntl(fds[i], F_DUPFD, CD_CHANNEL_FD + 1);
            if (moved < 0)
                _exit(CD_RUNNER_NOT_FINALIZED);
            close(fds[i]);
            fds[i] = moved;
        }
    }
    /* stdout too: what a driver prints must not reach the worker's
     * journal unbounded, past the stderr echo cap. */
    if (dup2(fds[0], STDERR_FILENO) < 0 || dup2(fds[0], STDOUT_FILENO) < 0)
        _exit(CD_RUNNER_NOT_FINALIZED);
    if (nfds == 3 && (dup2(fds[1], CD_CHANNEL_ROW_FD) < 0 || dup2(fds[2], CD_CHANNEL_FD) < 0))
        _exit(CD_RUNNER_NOT_FINALIZED);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    char parent[32], id[32], channel[16];
    snprintf(parent, sizeof parent, "%ld", (long)getppid());
    snprintf(id, sizeof id, "%lld", (long long)m->run_id);
    snprintf(channel, sizeof channel, "%d,%d", CD_CHANNEL_ROW_FD, CD_CHANNEL_FD);
    setenv("CONNECTORD_PARENT_PID", parent, 1);
    if (nfds == 3)
        setenv(CD_CHANNEL_ENV, channel, 1);
    else
        unsetenv(CD_CHANNEL_ENV);
    prctl(PR_SET_NAME, "connectord-run");
    if (cfg)
        end_runner(run(cfg, m->run_id));
    char *argv[] = {"connectord", "-c", (char *)m->config_path, "exec-run", id, NULL};
    end_runner(entry(5, argv));
}

static void report_exits(int sock, zchild *kids, size_t *nkids)
{
    for (size_t i = 0; i < *nkids; i++) {
        if (kids[i].reported)
            continue;
        siginfo_t si;
        memset(&si, 0, sizeof si);
        /* WNOWAIT: the runner stays a zombie, its pid taken, until the
         * worker says it has read this report. */
        if (waitid(P_PID, (id_t)kids[i].pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            si.si_pid != kids[i].pid)
            continue;
        zmsg m;
        memset(&m, 0, ZMSG_HEADER);
        m.type = MSG_EXITED;
        m.pid = kids[i].pid;
        if (si.si_code == CLD_EXITED)
            m.value = (si.si_status & 0xff) << 8;
        else
            m.value = (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
        kids[i].reported = 1;
        send_msg(sock, &m);
    }
}

int cd_zygote_main(int argc, char **argv, int (*entry)(int, char **), cd_zygote_run_fn run)
{
    if (argc != 1 && !(argc == 2 && strcmp(argv[1], "bind-now") == 0))
        return 2;
    if (argc == 2)
        unsetenv("LD_BIND_NOW"); /* bound already; see cd_zygote_start */
    int sock = atoi(argv[0]);
    /* Die with the worker; the check covers a worker that died before. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const char *parent = getenv("CONNECTORD_PARENT_PID");
    if (!parent || getppid() != (pid_t)atol(parent))
        return 1;
    fcntl(sock, F_SETFD, FD_CLOEXEC);
    cd_paths_prepare(); /* every runner's work directory is under the prefix */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0)
        return 1;
    zchild *kids = NULL;
    size_t nkids = 0, cap = 0;
    config_cache cc = {0};
    for (;;) {
        struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
                ;
            report_exits(sock, kids, &nkids);
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        zmsg m;
        int fds[3] = {-1, -1, -1};
        char control[CMSG_SPACE(sizeof fds)];
        struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control,
                             .msg_controllen = sizeof control};
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the worker closed its end */
        int nfds = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                if (nfds > 3)
                    nfds = 3;
                memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)nfds);
            }
        if (n < (ssize_t)ZMSG_HEADER) {
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            continue;
        }
        if (m.type == MSG_REAP) {
            for (size_t i = 0; i < nkids; i++)
                if (kids[i].pid == m.pid && kids[i].reported) {
                    waitpid(m.pid, NULL, 0);
                    kids[i] = kids[--nkids];
                    break;
                }
            continue;
        }
        if (m.type != MSG_SPAWN)
            continue;
        m.config_path[sizeof m.config_path - 1] = '\0';
        zmsg reply;
        memset(&reply, 0, ZMSG_HEADER);
        reply.type = MSG_STARTED;
        reply.run_id = m.run_id;
        if (nfds != m.value || (nfds != 1 && nfds != 3)) {
            reply.value = EINVAL;
        } else {
            if (nkids == cap) {
                cap = cap ? cap * 2 : 16;
                kids = realloc(kids, cap * sizeof *kids);
                if (!kids)
                    abort();
            }
            const cd_config *cfg = cached_config(&cc, m.config_path);
            pid_t pid = fork();
            if (pid == 0)
                become_runner(&m, fds, nfds, sock, sigfd, cfg, entry, run, kids);
            if (pid < 0) {
                reply.value = errno;
            } else {
                reply.pid = pid;
                kids[nkids++] = (zchild){pid, 0};
            }
        }
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        send_msg(sock, &reply);
    }
    free(kids);
    cd_config_free(cc.cfg);
    free(cc.path);
    return 0;
}
