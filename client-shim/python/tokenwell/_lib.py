"""The ctypes binding of libtokenwell (tokenwell.h); see the package docstring."""

import ctypes
import ctypes.util
import os
import threading

# Return codes of tokenwell.h; never renumbered.
OK, EINVAL, ENOTFOUND, ENOVALUE, EUNAVAILABLE, EFORMAT, EVERSION = 0, 1, 2, 3, 4, 5, 6
ETOOSMALL, ETIMEOUT, EBUSY, ENOMEM, ESYSTEM = 7, 8, 9, 10, 11
USERNAME_MAX = 256

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
        lib.tokenwell_open.argtypes, lib.tokenwell_open.restype = [c_char_p, P(c_void_p)], c_int
        lib.tokenwell_close.argtypes, lib.tokenwell_close.restype = [c_void_p], None
        lib.tokenwell_read.argtypes = [c_void_p, c_char_p, c_void_p, c_size, P(c_size), c_void_p, c_size,
                                       P(c_i64), P(c_u64)]
        lib.tokenwell_read.restype = c_int
        lib.tokenwell_stat.argtypes = [c_void_p, c_char_p, P(c_int), P(c_i64), P(c_u64)]
        lib.tokenwell_stat.restype = c_int
        lib.tokenwell_wait.argtypes = [c_void_p, c_char_p, c_u64, c_i64, P(c_u64)]
        lib.tokenwell_wait.restype = c_int
        lib.tokenwell_list.argtypes = [c_void_p, c_void_p, c_size, P(c_size)]
        lib.tokenwell_list.restype = c_int
        _lib = lib
        return lib


class Error(Exception):
    """A libtokenwell error: .code is the TOKENWELL_* code."""

    def __init__(self, code, message=None):
        self.code = code
        if message is None:
            message = _load().tokenwell_strerror(code).decode()
        super().__init__(message)


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
    """An open segment. Client(dir=None): dir, else $TOKENWELL_DIR, else /run/tokenwell."""

    def __init__(self, dir=None):
        self._lib = _load()
        handle = ctypes.c_void_p()
        rc = self._lib.tokenwell_open(os.fsencode(dir) if dir else None, ctypes.byref(handle))
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

    def get(self, name):
        """The current value of credential `name`, or Error (ENOTFOUND, ENOVALUE, ...)."""
        key = _name(name)
        size = 8192
        while True:
            token = ctypes.create_string_buffer(size)
            user = ctypes.create_string_buffer(USERNAME_MAX + 1)
            length, expires_at, generation = ctypes.c_size_t(), ctypes.c_int64(), ctypes.c_uint64()
            rc = self._lib.tokenwell_read(self._handle, key, token, size, ctypes.byref(length), user,
                                          USERNAME_MAX + 1, ctypes.byref(expires_at), ctypes.byref(generation))
            if rc == ETOOSMALL and length.value >= size:
                size = length.value + 1
                continue
            self._check(rc, name)
            value = token.raw[:length.value].decode()
            ctypes.memset(token, 0, size)
            return Credential(name, user.value.decode(), value, expires_at.value, generation.value)

    def generation(self, name):
        """The credential's generation (no secret copied, no system call); raises ENOTFOUND/EUNAVAILABLE
        but not ENOVALUE: an expired value still has a generation."""
        generation = ctypes.c_uint64()
        rc = self._lib.tokenwell_stat(self._handle, _name(name), None, None, ctypes.byref(generation))
        if rc not in (OK, ENOVALUE):
            self._check(rc, name)
        return generation.value

    def wait(self, name, after=None, timeout=None):
        """Blocks until `name` has a generation > after (default: the current one) or timeout seconds
        pass (Error ETIMEOUT); returns the new generation. Releases the GIL while waiting."""
        if after is None:
            try:
                after = self.generation(name)
            except Error as e:
                if e.code != ENOTFOUND:
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
