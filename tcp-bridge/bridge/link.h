/* Outgoing links to other bridges (see link.c). Driven by the event loop. */
#ifndef HM_BRIDGE_LINK_H
#define HM_BRIDGE_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "tcp-bridge/bridge/server.h"

/* Set up link number index of the configuration; it connects on the first
 * hm_link_tick. NULL on failure (logged). */
hm_link *hm_link_create(hm_server *s, const hm_link_cfg *cfg, unsigned index, int epfd);
void hm_link_destroy(hm_link *l);

/* Socket events for the link (epoll flags). */
void hm_link_on_io(hm_link *l, uint32_t events);

/* Timers, reconnects, flushing. Returns the next time (ns, CLOCK_MONOTONIC)
 * it wants to be called, UINT64_MAX for "only on I/O". */
uint64_t hm_link_tick(hm_link *l);

/* Did this link send nonce in its AUTH_RESPONSE (of the connection now in
 * progress)? The server refuses such a response: it is our own link
 * reflected back onto our own listener. */
bool hm_link_sent_nonce(const hm_link *l, const uint8_t nonce[HERMES_NONCE_SIZE]);

#endif
