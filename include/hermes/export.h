/* Symbol visibility for libhermes-ipc. The library is built with hidden
 * visibility; only declarations marked HERMES_API are exported. */
#ifndef HERMES_EXPORT_H
#define HERMES_EXPORT_H

#if defined(HERMES_STATIC_DEFINE)
#define HERMES_API
#else
#define HERMES_API __attribute__((visibility("default")))
#endif

#endif
