/*
 * listener.h - the listening socket, TCP ("host:port") or unix ("unix:/path").
 */
#ifndef RINHA_LISTENER_H
#define RINHA_LISTENER_H

/* Returns a non-blocking, listening, close-on-exec fd, or -1 with a message
 * on stderr. A unix socket file is replaced if present and gets mode 0660,
 * its group set to `group` (a name or number; NULL keeps the process's):
 * nginx's workers run as another user, in that group. */
int listener_open(const char *spec, const char *group);

/* Removes the unix socket file of `spec`, if it is one. */
void listener_unlink(const char *spec);

#endif
