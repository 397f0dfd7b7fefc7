/* The version of the Hermes headers, and of the library at run time.
 *
 * The macros describe the headers an application was compiled with;
 * hermes_version() the libhermes-ipc it runs with. The shared library's
 * soname changes only when its ABI does (libhermes-ipc.so.0 for 0.x), and its
 * symbols carry the version node of the release that added them (HERMES_0.1).
 */
#ifndef HERMES_VERSION_H
#define HERMES_VERSION_H

#include <hermes/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HERMES_VERSION_MAJOR 0
#define HERMES_VERSION_MINOR 1
#define HERMES_VERSION_PATCH 0
#define HERMES_VERSION_STRING "0.1.0"
/* One number that orders versions: 0.1.0 is 100, 1.2.3 is 10203. */
#define HERMES_VERSION_NUMBER \
	(HERMES_VERSION_MAJOR * 10000 + HERMES_VERSION_MINOR * 100 + HERMES_VERSION_PATCH)

/* The version of the library in use, e.g. "0.1.0" (a static string). */
HERMES_API const char *hermes_version(void);

/* The same as a number (HERMES_VERSION_NUMBER of the library in use), to
 * compare with the headers: hermes_version_number() >= HERMES_VERSION_NUMBER. */
HERMES_API int hermes_version_number(void);

#ifdef __cplusplus
}
#endif

#endif
