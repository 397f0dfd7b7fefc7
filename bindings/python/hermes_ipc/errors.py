"""One exception type for every Hermes error code (include/hermes/error.h)."""

from ._lib import lib

OK, EAGAIN, ETIMEDOUT, EINVAL, ENOMEM, ENOSPC, ENOENT, EEXIST, EMSGSIZE, ELOST = range(10)
EBADSEGMENT, EVERSION, ETRUNCATED, ENOTREADY, EACCES, ETOOMANY, ESYS = range(10, 17)
EBADMAGIC, EBADVERSION, EBADTYPE, EBADFLAGS, ETOOBIG, ENEEDMORE, EHANDSHAKE = range(17, 24)
ENOBUFS, ECLOSED, EPERM, ENOTSUP, EBADPAYLOAD, ENOSUPERVISOR, EBUSY = range(24, 31)


class HermesError(Exception):
    """A failed Hermes call: code (the hermes_err number), name
    ("HERMES_ENOENT"), detail (what the library said about the failure on
    control-path calls, else ""), and lost (with HERMES_ELOST: how many
    messages were lost). Codes newer than this module work the same way."""

    def __init__(self, code, detail="", lost=0):
        self.code = code
        self.name = lib.hermes_err_name(code).decode()
        self.detail = detail
        self.lost = lost
        text = "%s (%s)" % (lib.hermes_strerror(code).decode(), self.name)
        if code == ELOST and lost:
            text += ": %d messages lost" % lost
        if detail:
            text += ": " + detail
        super().__init__(text)


def check(code):
    """Control path: raise with the thread's detail message."""
    if code:
        raise HermesError(code, lib.hermes_last_error_detail().decode(errors="replace"))


def check_bare(code):
    """Hot path: raise with the code only."""
    if code:
        raise HermesError(code)
