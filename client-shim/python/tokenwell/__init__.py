"""tokenwell -- read credentials published by tokenwell-agent, from Python.

ctypes over libtokenwell (found through $TOKENWELL_LIB, else the standard
loader); no other dependency. A read is a copy out of shared memory: no
system call, no IdP call.

    import tokenwell
    with tokenwell.Client() as tw:              # $TOKENWELL_DIR or /run/tokenwell
        cred = tw.get("redis")
        redis_auth(cred.username, cred.token)
        tw.wait("redis", after=cred.generation, timeout=60)   # next rotation

Errors are tokenwell.Error with the library's code (`.code`, e.g.
tokenwell.ENOVALUE), its C name (`.name`, "ENOVALUE") and its text. A Client may be used by many threads at
once; close() must not race with other calls. For redis-py see
tokenwell.redis.
"""

from ._lib import (EBUSY, EFORMAT, EINVAL, ENOMEM, ENOTFOUND, ENOVALUE, ESYSTEM, ETIMEOUT, ETOOSMALL,
                   EUNAVAILABLE, EVERSION, NAMES, OK, Client, Credential, Error, library_version)

__all__ = ["Client", "Credential", "Error", "library_version", "NAMES", "OK", "EINVAL", "ENOTFOUND", "ENOVALUE",
           "EUNAVAILABLE", "EFORMAT", "EVERSION", "ETOOSMALL", "ETIMEOUT", "EBUSY", "ENOMEM", "ESYSTEM"]
