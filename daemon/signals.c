/* The daemons' signals (see signals.h). */
#include "daemon/signals.h"

#include <pthread.h>
#include <sys/signalfd.h>

void hm_signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int hm_signals_fd(void)
{
	sigset_t set;
	hm_signals_block(&set);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}
