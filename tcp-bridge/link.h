/* Outgoing links to other bridges (see link.c). Driven by the event loop. */
#ifndef HM_BRIDGE_LINK_H
#define HM_BRIDGE_LINK_H

#include <stdint.h>

#include "tcp-bridge/server.h"

/* Set up link number index of the configuration; it connects on the first
 * hm_link_tick. NULL on failure (logged). */
hm_link *hm_link_create(hm_server *s, const hm_link_cfg *cfg, unsigned index, int epfd);
void hm_link_destroy(hm_link *l);

/* Socket events for the link (epoll flags). */
void hm_link_on_io(hm_link *l, uint32_t events);

/* Timers, reconnects, flushing. Returns the next time (ns, CLOCK_MONOTONIC)
 * it wants to be called, UINT64_MAX for "only on I/O". */
uint64_t hm_link_tick(hm_link *l);

#endif
