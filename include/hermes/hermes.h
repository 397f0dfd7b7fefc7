/* Umbrella header: everything a Hermes application needs. */
#ifndef HERMES_HERMES_H
#define HERMES_HERMES_H

#include <hermes/bus.h>
#include <hermes/error.h>
#include <hermes/net.h>
#include <hermes/protocol.h>

#define HERMES_VERSION_MAJOR 0
#define HERMES_VERSION_MINOR 1
#define HERMES_VERSION_PATCH 0

#endif
