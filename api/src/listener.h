/*
 * listener.h - the listening socket, TCP ("host:port") or unix ("unix:/path").
 */
#ifndef RINHA_LISTENER_H
#define RINHA_LISTENER_H

#include <h2o.h>

/* Returns a non-blocking, listening, close-on-exec fd, or -1 with a message
 * on stderr. A unix socket file is replaced if present and gets mode 0660,
 * its group set to `group` (a name or number; NULL keeps the process's):
 * nginx's workers run as another user, in that group. */
int listener_open(const char *spec, const char *group);

/* Accepts the connections waiting on `listener` into `ctx`, a few per
 * wake-up (as the TechEmpower h2o app does) so as not to starve the rest of
 * the loop. The read callback of a listening socket, for every listener. */
void listener_accept(h2o_socket_t *listener, h2o_accept_ctx_t *ctx);

/* Removes the unix socket file of `spec`, if it is one. */
void listener_unlink(const char *spec);

#endif
