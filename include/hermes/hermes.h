/* Umbrella header: everything a Hermes application needs. */
#ifndef HERMES_HERMES_H
#define HERMES_HERMES_H

#include <hermes/bus.h>
#include <hermes/durable.h>
#include <hermes/error.h>
#include <hermes/net.h>
#include <hermes/protocol.h>
#include <hermes/replay.h>
#include <hermes/version.h>

#endif
