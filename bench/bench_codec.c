/* hermes-bench-codec: the component table on its own (the same code as
 * `hermes-bench codec`, in codec_bench.c): ring operation, mmap write,
 * protocol encode, batch encode and decode of 64-byte messages. */
#include "bench.h"

#include <stdio.h>
#include <string.h>

#define RUNS 5

static void usage(FILE *to)
{
	fprintf(to,
		"usage: hermes-bench-codec [--quick] [--json]\n"
		"  Component costs per 64-byte message; median of %d runs.\n"
		"  --quick  fewer messages per run (well under 5 s in all)\n"
		"  --json   print the results as one JSON object\n"
		"  (hermes-bench codec prints the same table next to the other benchmarks)\n",
		RUNS);
}

int main(int argc, char **argv)
{
	bool quick = false, json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "hermes-bench-codec: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (bench_proc_init() != 0)
		return 1;
	static results res;
	int n = codec_bench_run(quick, RUNS, res.codec);
	if (n < 0)
		return 1;
	res.ncodec = (unsigned)n;
	if (json) {
		bench_opts o;
		memset(&o, 0, sizeof o);
		o.quick = quick;
		machine_info m;
		machine_probe(&m);
		report_json("codec", &o, &m, &res, false);
	} else {
		report_codec(&res);
	}
	return 0;
}
