/* Hermes durable subscribers: a cursor that outlives its process.
 *
 * An ordinary subscriber's cursor goes when its process closes it or dies
 * (hermesd releases a dead one within a second), so a block ring stops
 * waiting for it. A durable subscriber's cursor stays: when its process dies
 * (or closes it), the slot becomes *orphaned* and keeps holding a block
 * ring's producers at what was last released, until a process opens the same
 * name again and *adopts* it, going on from exactly that sequence, or an
 * operator drops it (`hermes-ctl durable drop RING NAME`). This is what a
 * recorder that must not miss a message needs (hermes-journal with
 * `durable = true`); it is also how one process can stop every producer of a
 * ring for as long as it stays away, so use it only where that is wanted.
 * `hermes-ctl inspect RING` shows such a slot as "durable, orphaned".
 *
 * On an overwrite ring a durable cursor holds nothing back (producers never
 * wait there); adoption still resumes at its sequence, and the first poll
 * reports what the ring overwrote meanwhile as lost.
 *
 * One process per name at a time. The name is 1..31 characters of
 * [A-Za-z0-9._:-]; slots are found by a 64-bit hash of it. */
#ifndef HERMES_DURABLE_H
#define HERMES_DURABLE_H

#include <hermes/bus.h>
#include <hermes/error.h>
#include <hermes/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Open the durable subscriber `name` of `ring`. If the ring has an orphaned
 * slot of that name, it is adopted: the subscriber goes on at the slot's
 * cursor (hermes_sub_next_seq says where) and start/seq are ignored;
 * *adopted (may be NULL) is set to 1. Otherwise a new subscriber is opened
 * as hermes_sub_open(bus, ring, start, seq) would and marked durable;
 * *adopted is 0. hermes_sub_close leaves the slot orphaned (its cursor
 * holding) instead of freeing it. Errors: those of hermes_sub_open, plus
 * HERMES_EINVAL (a bad name) and HERMES_EBUSY (a live process has that
 * durable subscriber open). Control path: allocates; may wait up to 2 s for
 * a safe join, as hermes_sub_open. */
HERMES_API hermes_err hermes_sub_open_durable(hermes_bus *bus, const char *ring, const char *name,
					      hermes_start start, uint64_t seq, hermes_sub **out,
					      int *adopted);

/* Drop the orphaned durable subscriber `name` of `ring`: its slot is freed
 * and the producers it held go on. Errors: HERMES_ENOENT (no durable
 * subscriber of that name), HERMES_EBUSY (a live process has it open: stop
 * that process first), HERMES_EINVAL, HERMES_EPERM (read-only bus).
 * Control path; never blocks. */
HERMES_API hermes_err hermes_sub_drop_durable(hermes_bus *bus, const char *ring, const char *name);

#ifdef __cplusplus
}
#endif

#endif
