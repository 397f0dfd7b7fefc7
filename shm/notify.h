/* Moved to daemon/notify.h (the daemons' helpers, not part of libhermes-ipc).
 * Kept only for journal/recorder/main.c until that file includes the new
 * path; nothing else may include this. */
#include "daemon/notify.h"
