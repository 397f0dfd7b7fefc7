/* hermes_version(): the library's own version, compiled from the same header
 * the applications include (CMake checks it against project()). */
#include <hermes/version.h>

const char *hermes_version(void)
{
	return HERMES_VERSION_STRING;
}

int hermes_version_number(void)
{
	return HERMES_VERSION_NUMBER;
}
