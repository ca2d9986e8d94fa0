/*
 * listener.h - the listening socket, TCP ("host:port") or unix ("unix:/path").
 */
#ifndef RINHA_LISTENER_H
#define RINHA_LISTENER_H

/* Returns a non-blocking, listening, close-on-exec fd, or -1 with a message
 * on stderr. A unix socket file is replaced if present and made
 * world-connectable (nginx's workers run as another user). */
int listener_open(const char *spec);

/* Removes the unix socket file of `spec`, if it is one. */
void listener_unlink(const char *spec);

#endif
