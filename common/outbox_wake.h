/* Wake-up of the local notification dispatcher: after webhook-ingest commits
 * a payload it sends one empty datagram to a unix datagram socket that the
 * dispatcher on this host listens on. The datagram carries nothing; it only
 * cuts the dispatcher's wait short. Dispatchers on other hosts, or a
 * dispatcher that is down, find the row by polling instead, so a lost
 * datagram delays a notification by at most DISPATCH_POLL_MS. */
#ifndef EDGE_OUTBOX_WAKE_H
#define EDGE_OUTBOX_WAKE_H

#include <stddef.h>

/* Socket path when DISPATCH_WAKE_SOCKET is unset and EDGE_STATE_DIR is
 * unset: the RuntimeDirectory of systemd/mc-edge-dispatcher.service. */
#define EDGE_OUTBOX_WAKE_DEFAULT_PATH "/run/mc-edge-dispatcher/wake.sock"
/* File name under EDGE_STATE_DIR when that is set. */
#define EDGE_OUTBOX_WAKE_STATE_NAME "dispatcher-wake.sock"

/* Writes the wake socket path into out (size out_size): DISPATCH_WAKE_SOCKET
 * when set, "" when it is set but blank (wake-ups off), else
 * EDGE_STATE_DIR/dispatcher-wake.sock, else EDGE_OUTBOX_WAKE_DEFAULT_PATH.
 * Returns 0, or -1 when the path does not fit a unix socket address. */
int edge_outbox_wake_path(char *out, size_t out_size);

/* Sends one wake-up datagram to path without blocking. Every failure (no
 * socket file, no listener, a full queue) is ignored: the dispatcher polls
 * anyway. *fd caches the sending socket between calls; start it at -1. */
void edge_outbox_wake_send(int *fd, const char *path);

/* Creates, binds (mode 0666, replacing a stale socket file) and returns a
 * non-blocking datagram socket on path, or -1 with errno set. Any local
 * process that may reach the folder can wake the dispatcher, which only
 * makes it look for due rows sooner. */
int edge_outbox_wake_listen(const char *path);

/* Reads and discards every queued wake-up datagram on fd. */
void edge_outbox_wake_drain(int fd);

#endif
