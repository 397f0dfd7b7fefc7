/* Run a command line under callgrind and read back its instruction count
 * (`hermes-bench instructions`, `hermes-journal-bench --instructions`). */
#ifndef HERMES_BENCH_CALLGRIND_H
#define HERMES_BENCH_CALLGRIND_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The instructions `valgrind --tool=callgrind` collected running args (a
 * shell command line, quoted by the caller); 0 when it failed. */
static inline unsigned long long callgrind_ir(const char *args)
{
	char cmd[4352], line[512]; /* room for a PATH_MAX command line */
	snprintf(cmd, sizeof cmd, "valgrind --tool=callgrind --callgrind-out-file=/dev/null %s 2>&1", args);
	FILE *f = popen(cmd, "r");
	if (!f)
		return 0;
	unsigned long long ir = 0;
	while (fgets(line, sizeof line, f)) {
		const char *c = strstr(line, "Collected : ");
		if (c)
			ir = strtoull(c + 12, NULL, 10);
	}
	return pclose(f) == 0 ? ir : 0;
}

#endif
