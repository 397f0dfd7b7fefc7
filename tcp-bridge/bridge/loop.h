/* hermes-bridge's event loop (loop.c). */
#ifndef HM_BRIDGE_LOOP_H
#define HM_BRIDGE_LOOP_H

#include "tcp-bridge/bridge/config.h"

/* Attach to the bus, listen, serve until SIGTERM/SIGINT, clean up.
 * Returns the process exit status (0 after a graceful stop, 1 on errors). */
int hm_bridge_run(hm_bridge_cfg *cfg);

#endif
