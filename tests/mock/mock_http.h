/*
 * mock_http.h — what the loopback mock servers share: listening on
 * 127.0.0.1 with libmicrohttpd, and, as a program, printing the port and
 * serving until SIGINT or SIGTERM.
 */
#ifndef MOCK_HTTP_H
#define MOCK_HTTP_H

#include <microhttpd.h>
#include <signal.h>
#include <stdint.h>

/* Starts a daemon on 127.0.0.1:port (0: any free port), a thread per
 * connection, handle called with cls. *port_out is the port it listens on.
 * NULL (after a message on stderr naming `name`) when it cannot listen. */
struct MHD_Daemon *mock_http_listen(const char *name, uint16_t port,
                                    MHD_AccessHandlerCallback handle, void *cls,
                                    uint16_t *port_out);

/* Blocks SIGINT and SIGTERM in this thread and those it starts from now on
 * (call before starting a daemon, so that its threads never take them) and
 * ignores SIGPIPE. *set receives the blocked set for
 * mock_http_announce_and_wait. */
void mock_http_block_stop_signals(sigset_t *set);

/* Prints port on its own line (the test reads it), then waits for one of
 * the signals in set. */
void mock_http_announce_and_wait(uint16_t port, const sigset_t *set);

#endif
