/* hermes-journal-loop: the one-thread loop `hermes-journal-bench
 * --instructions` runs under callgrind (instructions are exact whatever the
 * machine does, unlike time): publish a run of messages on a block ring of an
 * embedded bus, then let the recorder's own step (hm_rec_recorder_step: poll,
 * journal, release) record them, N messages in all. The `ring` mode does the
 * same with a plain subscriber (poll + release) in place of the recorder: the
 * ring's share, to subtract.
 * Usage: hermes-journal-loop record|ring SIZE N [DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hermes/bus.h>

#include "journal/recorder/recorder.h"

#define RUN 256u /* messages published per step */

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "record") && strcmp(argv[1], "ring"))) {
		fprintf(stderr, "usage: hermes-journal-loop record|ring SIZE N [DIR]\n");
		return 2;
	}
	bool recording = !strcmp(argv[1], "record");
	uint32_t size = (uint32_t)strtoul(argv[2], NULL, 10);
	unsigned long n = strtoul(argv[3], NULL, 10);
	if (size == 0 || size > 4096 || n == 0)
		return 2;
	char dir[300], bus_name[64];
	snprintf(dir, sizeof dir, "%s/hermes-journal-loop.%d", argc > 4 ? argv[4] : "/var/tmp", (int)getpid());
	snprintf(bus_name, sizeof bus_name, "jloop-%d", (int)getpid());
	hermes_bus *bus;
	hermes_ring_config rc = {.name = "loop", .capacity = 4u << 20, .max_msg = 4096,
				 .policy = HERMES_POLICY_BLOCK};
	if (hermes_bus_create(bus_name, 16u << 20, 0600, &bus) != HERMES_OK ||
	    hermes_ring_create(bus, &rc) != HERMES_OK) {
		fprintf(stderr, "bus: %s\n", hermes_last_error_detail());
		return 1;
	}
	static hm_rec_ring_conf conf;
	snprintf(conf.name, sizeof conf.name, "loop");
	snprintf(conf.dir, sizeof conf.dir, "%s", dir);
	conf.opts.file_size = 1ull << 30;
	static hm_rec_recorder rec;
	static atomic_bool stop;
	hermes_sub *sub = NULL;
	hm_dlog_set_level(HM_DLOG_WARN);
	if (recording) {
		if (hm_rec_recorder_open(&rec, bus, &conf, hermes_bus_id(bus), &stop) != HERMES_OK ||
		    !hm_rec_recorder_subscribe(&rec))
			return 1;
	} else if (hermes_sub_open(bus, "loop", HERMES_START_LATEST, 0, &sub) != HERMES_OK) {
		return 1;
	}
	hermes_pub *pub;
	if (hermes_pub_open(bus, "loop", &pub) != HERMES_OK)
		return 1;
	static uint8_t msg[4096];
	memset(msg, 0x5a, sizeof msg);
	unsigned long done = 0;
	int status = 0;
	while (done < n) {
		unsigned k = n - done < RUN ? (unsigned)(n - done) : RUN;
		for (unsigned i = 0; i < k; i++)
			if (hermes_pub_send(pub, msg, size, NULL) != HERMES_OK) {
				fprintf(stderr, "publish: %s\n", hermes_last_error_detail());
				return 1;
			}
		unsigned got = 0;
		if (recording) {
			got = hm_rec_recorder_step(&rec);
		} else {
			hermes_msg m;
			while (hermes_sub_poll(sub, &m) == HERMES_OK)
				got++;
			hermes_sub_release(sub);
		}
		if (got != k) {
			fprintf(stderr, "step took %u of %u\n", got, k);
			status = 1;
			break;
		}
		done += k;
	}
	hermes_pub_close(pub);
	if (recording)
		hm_rec_recorder_close(&rec);
	else
		hermes_sub_close(sub);
	hermes_bus_detach(bus);
	hermes_bus_unlink(bus_name);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		status = 1;
	printf("%lu\n", done);
	return status;
}
