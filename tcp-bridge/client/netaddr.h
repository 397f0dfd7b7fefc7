/* "HOST:PORT" addresses for the bridge and its clients. */
#ifndef HM_BRIDGE_NETADDR_H
#define HM_BRIDGE_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Split "HOST:PORT" or "[IPV6]:PORT" into host and port. 0 on success, -1
 * when malformed (no port, port out of range, host too long). */
int hm_netaddr_split(const char *addr, char *host, size_t hostlen, uint16_t *port);

/* Resolve to the first address (numeric or by name); passive for bind().
 * 0 on success, -1 with errno-free failure (the name does not resolve). */
int hm_netaddr_resolve(const char *host, uint16_t port, bool passive,
		       struct sockaddr_storage *ss, socklen_t *len);

/* Is sa a loopback address (127.0.0.0/8, ::1, IPv4-mapped loopback)? */
bool hm_netaddr_is_loopback(const struct sockaddr *sa);

/* "1.2.3.4:5" or "[::1]:5". */
void hm_netaddr_format(const struct sockaddr *sa, char *buf, size_t len);

#endif
