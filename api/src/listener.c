/*
 * listener.c - opens the replica's listening socket (see listener.h).
 */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define UNIX_PREFIX "unix:"
#define LISTEN_BACKLOG 4096

static int finish_listen(int fd, const char *spec)
{
    if (listen(fd, LISTEN_BACKLOG) != 0) {
        LOG_E("listen(%s): %s", spec, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Resolves a group name or number; -1 if unknown. */
static int group_id(const char *group, gid_t *gid)
{
    char *end;
    unsigned long n = strtoul(group, &end, 10);
    if (group[0] != '\0' && *end == '\0') {
        *gid = (gid_t)n;
        return 0;
    }
    const struct group *gr = getgrnam(group); /* once, at start-up: nothing else runs yet */
    if (gr == NULL)
        return -1;
    *gid = gr->gr_gid;
    return 0;
}

/* Only the socket's owner and its group (nginx's workers, LISTEN_GROUP) may
 * connect: any other local user gets EACCES. */
static int restrict_socket(const char *path, const char *group)
{
    if (group != NULL) {
        gid_t gid;
        if (group_id(group, &gid) != 0) {
            LOG_E("listen: unknown group %s (LISTEN_GROUP)", group);
            return -1;
        }
        if (chown(path, (uid_t)-1, gid) != 0) {
            LOG_E("chown(%s): %s", path, strerror(errno));
            return -1;
        }
    }
    if (chmod(path, 0660) != 0) {
        LOG_E("chmod(%s): %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int open_unix(const char *path, const char *group)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        LOG_E("listen: unix socket path too long: %s", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        LOG_E("socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        LOG_W("could not remove stale socket %s: %s", path, strerror(errno));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        LOG_E("bind(%s): %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (restrict_socket(path, group) != 0) {
        close(fd);
        return -1;
    }
    return finish_listen(fd, path);
}

static int open_tcp(const char *spec)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || (size_t)(colon - spec) >= sizeof(host)) {
        LOG_E("listen: expected host:port or unix:/path, got %s", spec);
        return -1;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res;
    int rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0) {
        LOG_E("listen(%s): %s", spec, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        LOG_E("listen(%s): %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return finish_listen(fd, spec);
}

int listener_open(const char *spec, const char *group)
{
    if (strncmp(spec, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0)
        return open_unix(spec + strlen(UNIX_PREFIX), group);
    return open_tcp(spec);
}

void listener_accept(h2o_socket_t *listener, h2o_accept_ctx_t *ctx)
{
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        h2o_accept(ctx, sock);
    }
}

void listener_unlink(const char *spec)
{
    if (strncmp(spec, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0)
        unlink(spec + strlen(UNIX_PREFIX));
}
