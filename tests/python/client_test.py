#!/usr/bin/env python3
"""tokenwell.Client (client-shim/python) over libtokenwell and the real agent.

Needs TOKENWELL_LIB (the shared library) and TOKENWELL_AGENT (the agent
binary). The agent publishes a `file` credential larger than the binding's
first buffer and a generated keyset; a Client opened with missing_ok before
the agent started waits for them through the library (no polling here).
"""

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../client-shim/python"))

import tokenwell  # noqa: E402

BIG_TOKEN = "x" * 20000  # more than the binding's first 8 KiB buffer


class FailedOpen(unittest.TestCase):
    def test_a_client_whose_open_failed_is_collected_without_an_error(self):
        unraisable = []
        previous = sys.unraisablehook
        sys.unraisablehook = lambda args: unraisable.append(f"{args.exc_type.__name__}: {args.exc_value}")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                with self.assertRaises(tokenwell.Error) as raised:
                    tokenwell.Client(os.path.join(tmp, "no-agent-here"))
                self.assertEqual(raised.exception.code, tokenwell.EUNAVAILABLE)
                del raised  # its traceback holds the half-built Client
                gc.collect()
        finally:
            sys.unraisablehook = previous
        self.assertEqual(unraisable, [], "Client.__del__ raised after a failed open")

    def test_missing_ok_opens_before_the_segment_and_reads_are_unavailable(self):
        with tempfile.TemporaryDirectory() as tmp, tokenwell.Client(tmp, missing_ok=True) as client:
            with self.assertRaises(tokenwell.Error) as raised:
                client.get("redis")
            self.assertEqual(raised.exception.code, tokenwell.EUNAVAILABLE)
            with self.assertRaises(tokenwell.Error) as raised:
                client.wait("redis", timeout=0)
            self.assertEqual(raised.exception.code, tokenwell.ETIMEOUT)


class WithAgent(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tokenwell-python-")
        run_dir = os.path.join(cls.tmp, "run")
        secret = os.path.join(cls.tmp, "secret")
        with open(secret, "w") as f:
            f.write(BIG_TOKEN)
        config = os.path.join(cls.tmp, "agent.json")
        with open(config, "w") as f:
            json.dump({"runtime_dir": run_dir, "listen": "127.0.0.1:0",
                       "credentials": [{"name": "legacy", "source": "file", "path": secret,
                                        "username": "app-user"}],
                       "keysets": [{"name": "dev", "source": "generated", "algorithm": "ES256"}]}, f)
        # Opened before the agent exists: the library waits for the segment.
        cls.client = tokenwell.Client(run_dir, missing_ok=True)
        cls.log = open(os.path.join(cls.tmp, "agent.log"), "w")
        cls.agent = subprocess.Popen([os.environ["TOKENWELL_AGENT"], "--config", config],
                                     stdout=cls.log, stderr=subprocess.STDOUT)
        try:
            cls.first_generation = cls.client.wait("legacy", after=0, timeout=60)
        except tokenwell.Error:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.agent.send_signal(signal.SIGTERM)
        cls.agent.wait(timeout=30)
        cls.log.close()
        shutil.rmtree(cls.tmp)

    def test_get_reads_a_token_larger_than_the_first_buffer(self):
        c = self.client.get("legacy")
        self.assertEqual(c.token, BIG_TOKEN)
        self.assertEqual(c.username, "app-user")
        self.assertEqual(c.expires_at, 0)
        self.assertGreaterEqual(c.generation, self.first_generation)
        self.assertNotIn("xxxx", repr(c))

    def test_generation_is_the_one_get_reads(self):
        self.assertEqual(self.client.generation("legacy"), self.client.get("legacy").generation)

    def test_a_keyset_is_not_a_credential(self):
        self.client.wait("dev", after=0, timeout=60)
        with self.assertRaises(tokenwell.Error) as raised:
            self.client.get("dev")
        self.assertEqual(raised.exception.code, tokenwell.ENOTFOUND)
        self.assertGreater(self.client.generation("dev"), 0)  # any kind has a generation

    def test_unknown_and_invalid_names(self):
        for name, code in (("nope", tokenwell.ENOTFOUND), ("", tokenwell.EINVAL), ("n" * 65, tokenwell.EINVAL)):
            with self.assertRaises(tokenwell.Error) as raised:
                self.client.get(name)
            self.assertEqual(raised.exception.code, code, name)

    def test_a_client_opened_normally_reads_the_same(self):
        with tokenwell.Client(self.client_dir()) as other:
            self.assertEqual(other.get("legacy").token, BIG_TOKEN)
            self.assertIn("legacy", other.list())

    def client_dir(self):
        return os.path.join(self.tmp, "run")


if __name__ == "__main__":
    unittest.main()
