"""The ctypes binding of libtokenwell (tokenwell.h); see the package docstring."""

import ctypes
import ctypes.util
import os
import threading

# Return codes of tokenwell.h (its range is 0-99); never renumbered.
OK, EINVAL, ENOTFOUND, ENOVALUE, EUNAVAILABLE, EFORMAT, EVERSION = 0, 1, 2, 3, 4, 5, 6
ETOOSMALL, ETIMEOUT, EBUSY, ENOMEM, ESYSTEM = 7, 8, 9, 10, 11
# The C names (TOKENWELL_ without its prefix), the same in every binding.
NAMES = {OK: "OK", EINVAL: "EINVAL", ENOTFOUND: "ENOTFOUND", ENOVALUE: "ENOVALUE", EUNAVAILABLE: "EUNAVAILABLE",
         EFORMAT: "EFORMAT", EVERSION: "EVERSION", ETOOSMALL: "ETOOSMALL", ETIMEOUT: "ETIMEOUT", EBUSY: "EBUSY",
         ENOMEM: "ENOMEM", ESYSTEM: "ESYSTEM"}
KIND_CREDENTIAL, KIND_KEYSET = 1, 2
FIELD_SECRET, FIELD_USERNAME, FIELD_PUBLIC = 1, 2, 4  # tokenwell_entry.too_small bits
OPEN_MISSING_OK = 1  # tokenwell_open_v2() flag
USERNAME_MAX = 256


class _Entry(ctypes.Structure):
    """struct tokenwell_entry (tokenwell.h), member for member."""

    _fields_ = [("struct_size", ctypes.c_size_t),
                ("secret", ctypes.c_void_p), ("secret_size", ctypes.c_size_t),
                ("username", ctypes.c_void_p), ("username_size", ctypes.c_size_t),
                ("public_data", ctypes.c_void_p), ("public_size", ctypes.c_size_t),
                ("kind", ctypes.c_int), ("has_value", ctypes.c_int), ("too_small", ctypes.c_uint),
                ("secret_len", ctypes.c_size_t), ("username_len", ctypes.c_size_t),
                ("public_len", ctypes.c_size_t), ("expires_at", ctypes.c_int64),
                ("generation", ctypes.c_uint64), ("updated_ms", ctypes.c_int64)]

_lib = None
_lib_lock = threading.Lock()


def _load():
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        path = os.environ.get("TOKENWELL_LIB") or ctypes.util.find_library("tokenwell") or "libtokenwell.so.0"
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise Error(EUNAVAILABLE, f"cannot load libtokenwell ({path}): {e}; set TOKENWELL_LIB") from None
        c_int, c_size, c_i64, c_u64, c_char_p, c_void_p = (ctypes.c_int, ctypes.c_size_t, ctypes.c_int64,
                                                            ctypes.c_uint64, ctypes.c_char_p, ctypes.c_void_p)

        P = ctypes.POINTER
        lib.tokenwell_strerror.argtypes, lib.tokenwell_strerror.restype = [c_int], c_char_p
        lib.tokenwell_version.argtypes, lib.tokenwell_version.restype = [], c_char_p
        lib.tokenwell_open_v2.argtypes = [c_char_p, ctypes.c_uint, P(c_void_p)]
        lib.tokenwell_open_v2.restype = c_int
        lib.tokenwell_close.argtypes, lib.tokenwell_close.restype = [c_void_p], None
        lib.tokenwell_read_entry.argtypes = [c_void_p, c_char_p, c_int, P(_Entry)]
        lib.tokenwell_read_entry.restype = c_int
        lib.tokenwell_wait.argtypes = [c_void_p, c_char_p, c_u64, c_i64, P(c_u64)]
        lib.tokenwell_wait.restype = c_int
        lib.tokenwell_list.argtypes = [c_void_p, c_void_p, c_size, P(c_size)]
        lib.tokenwell_list.restype = c_int
        _lib = lib
        return lib


class Error(Exception):
    """A libtokenwell error: .code is the TOKENWELL_* code, .name its C name ("ENOVALUE")."""

    def __init__(self, code, message=None):
        self.code = code
        if message is None:
            message = _load().tokenwell_strerror(code).decode()
        super().__init__(message)

    @property
    def name(self):
        return NAMES.get(self.code, f"E{self.code}")


def library_version():
    return _load().tokenwell_version().decode()


class Credential:
    """One published value. repr() never shows the token."""

    __slots__ = ("name", "username", "token", "expires_at", "generation")

    def __init__(self, name, username, token, expires_at, generation):
        self.name, self.username, self.token = name, username, token
        self.expires_at, self.generation = expires_at, generation

    def __repr__(self):
        return (f"Credential(name={self.name!r}, username={self.username!r}, token=<{len(self.token)} chars>, "
                f"expires_at={self.expires_at}, generation={self.generation})")


def _name(name):
    if not isinstance(name, str) or not name:
        raise Error(EINVAL, "credential name must be a non-empty str")
    return name.encode()


class Client:
    """An open segment. Client(dir=None): dir, else $TOKENWELL_DIR, else /run/tokenwell.

    missing_ok=True opens even before the agent has created the segment
    (TOKENWELL_OPEN_MISSING_OK): reads raise EUNAVAILABLE until it exists, and
    wait() waits for it too.
    """

    _handle = None  # also when __init__ raised: close() and __del__ find nothing to close

    def __init__(self, dir=None, missing_ok=False):
        self._lib = _load()
        handle = ctypes.c_void_p()
        flags = OPEN_MISSING_OK if missing_ok else 0
        rc = self._lib.tokenwell_open_v2(os.fsencode(dir) if dir else None, flags, ctypes.byref(handle))
        if rc != OK:
            raise Error(rc, f"{self._lib.tokenwell_strerror(rc).decode()} (dir {dir or os.environ.get('TOKENWELL_DIR') or '/run/tokenwell'})")
        self._handle = handle

    def close(self):
        if self._handle:
            self._lib.tokenwell_close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _check(self, rc, name):
        if rc != OK:
            raise Error(rc, f"{name}: {self._lib.tokenwell_strerror(rc).decode()}")

    def _read(self, name, kind, secret_size=0, username_size=0):
        """tokenwell_read_entry(); buffers named too small are grown to the size reported and the read
        repeated. Returns (rc, entry, secret buffer, username buffer)."""
        key = _name(name)
        for _ in range(8):
            secret = ctypes.create_string_buffer(secret_size) if secret_size else None
            user = ctypes.create_string_buffer(username_size) if username_size else None
            e = _Entry(struct_size=ctypes.sizeof(_Entry),
                       secret=ctypes.cast(secret, ctypes.c_void_p) if secret else None, secret_size=secret_size,
                       username=ctypes.cast(user, ctypes.c_void_p) if user else None, username_size=username_size)
            rc = self._lib.tokenwell_read_entry(self._handle, key, kind, ctypes.byref(e))
            if rc != ETOOSMALL:
                return rc, e, secret, user
            # Nothing was copied: the bigger buffers are filled by the next read.
            if e.too_small & FIELD_SECRET:
                secret_size = e.secret_len + 1
            if e.too_small & FIELD_USERNAME:
                username_size = e.username_len + 1
        return EBUSY, e, None, None

    def get(self, name):
        """The current value of credential `name`, or Error (ENOTFOUND, ENOVALUE, ...)."""
        rc, e, token, user = self._read(name, KIND_CREDENTIAL, 8192, USERNAME_MAX + 1)
        self._check(rc, name)
        value = token.raw[:e.secret_len].decode()
        ctypes.memset(token, 0, len(token))
        return Credential(name, user.raw[:e.username_len].decode(), value, e.expires_at, e.generation)

    def generation(self, name):
        """The entry's generation (no secret copied, no system call); raises ENOTFOUND/EUNAVAILABLE
        but not ENOVALUE: an expired value still has a generation."""
        rc, e, _, _ = self._read(name, 0)
        if rc not in (OK, ENOVALUE):
            self._check(rc, name)
        return e.generation

    def wait(self, name, after=None, timeout=None):
        """Blocks until `name` has a generation > after (default: the current one) or timeout seconds
        pass (Error ETIMEOUT); returns the new generation. Releases the GIL while waiting. Before the
        entry (or, with missing_ok, the segment) exists, the default `after` is 0: any counts."""
        if after is None:
            try:
                after = self.generation(name)
            except Error as e:
                if e.code not in (ENOTFOUND, EUNAVAILABLE):
                    raise
                after = 0
        generation = ctypes.c_uint64()
        timeout_ms = -1 if timeout is None else int(timeout * 1000)
        rc = self._lib.tokenwell_wait(self._handle, _name(name), after, timeout_ms, ctypes.byref(generation))
        self._check(rc, name)
        return generation.value

    def list(self):
        """Names of every entry (no secrets)."""
        need = ctypes.c_size_t()
        rc = self._lib.tokenwell_list(self._handle, None, 0, ctypes.byref(need))
        if rc not in (OK, ETOOSMALL):
            self._check(rc, "list")
        buf = ctypes.create_string_buffer(max(need.value, 1))
        self._check(self._lib.tokenwell_list(self._handle, buf, need.value, ctypes.byref(need)), "list")
        return [n.decode() for n in buf.raw[:need.value].split(b"\0") if n]
