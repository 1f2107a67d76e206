/* Wake-up datagrams for the notification dispatcher; see outbox_wake.h. */
#include "outbox_wake.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int
edge_outbox_wake_path(char *out, size_t out_size)
{
	struct sockaddr_un address;
	const char *setting = getenv("DISPATCH_WAKE_SOCKET");
	const char *state_dir = getenv("EDGE_STATE_DIR");
	int written;

	if (setting != NULL)
		written = snprintf(out, out_size, "%s", setting);
	else if (state_dir != NULL && state_dir[0] != '\0')
		written = snprintf(out, out_size, "%s/%s", state_dir,
		    EDGE_OUTBOX_WAKE_STATE_NAME);
	else
		written = snprintf(out, out_size, "%s",
		    EDGE_OUTBOX_WAKE_DEFAULT_PATH);
	if (written < 0 || (size_t)written >= out_size ||
	    (size_t)written >= sizeof(address.sun_path)) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* Fills address for path; returns -1 when path is empty or too long. */
static int
fill_address(struct sockaddr_un *address, const char *path)
{
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(address->sun_path))
		return -1;
	memset(address, 0, sizeof(*address));
	address->sun_family = AF_UNIX;
	memcpy(address->sun_path, path, len + 1);
	return 0;
}

void
edge_outbox_wake_send(int *fd, const char *path)
{
	struct sockaddr_un address;

	if (fill_address(&address, path) != 0)
		return;
	if (*fd < 0)
		*fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return;
	/* An empty datagram is enough: its arrival is the whole message. */
	(void)sendto(*fd, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (const struct sockaddr *)&address, sizeof(address));
}

int
edge_outbox_wake_listen(const char *path)
{
	struct sockaddr_un address;
	struct stat existing;
	int fd, saved;

	if (fill_address(&address, path) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;

	/* A socket file left by a dispatcher that died would make bind fail,
	 * so it is removed, but only when no process listens on it, because a
	 * live dispatcher keeps its socket. Other kinds of file are never
	 * removed. */
	if (lstat(path, &existing) == 0 && S_ISSOCK(existing.st_mode)) {
		if (connect(fd, (const struct sockaddr *)&address,
		    sizeof(address)) == 0) {
			close(fd);
			errno = EADDRINUSE;
			return -1;
		}
		unlink(path);
	}
	if (bind(fd, (const struct sockaddr *)&address, sizeof(address)) != 0 ||
	    chmod(path, 0666) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void
edge_outbox_wake_drain(int fd)
{
	char scratch[64];

	while (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) >= 0)
		continue;
}
