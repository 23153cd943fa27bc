#!/usr/bin/env python3
"""python_replay_client_test: replay_client.py against the real shoal-replay.

Starts the shoal-replay binary on a free port with a config written to a
temporary directory, then, over gRPC from Python only: Info shows the table
empty; 10 inserted items make it size 10; 5 samples decode to exactly what
was inserted (values and wire bytes); an item with a wrong dtype is
rejected with INVALID_ARGUMENT naming the column, and a resend of the same
sequence numbers is dropped, both leaving the size at 10; the command line
inserts and samples too. Finally SIGTERM must stop the server with exit 0.
The tensor codec is also checked on its own, without a server.

    python3 tests/python/replay_client_test.py \\
        [--replay_binary build/replay/shoal-replay] [--proto_dir proto]

Defaults: $SHOAL_BINARY_DIR/replay/shoal-replay and $SHOAL_SOURCE_DIR/proto,
else build/replay/shoal-replay and proto/ of this checkout. Python with
grpcio and grpc_tools is a project dependency: without them this FAILS.
"""

import argparse
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import replay_client  # noqa: E402
import shoal_stubs  # noqa: E402

START_TIMEOUT_S = 30
EXIT_TIMEOUT_S = 15

CONFIG = """\
experiment: python_replay_client
stop: {wall_time_s: 60}
replay:
  checkpoint_every_s: 0
tables:
  - name: transitions
    max_size: 1000
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: observation, dtype: float32, shape: [4]}
      - {name: action, dtype: int64, shape: []}
      - {name: reward, dtype: float64, shape: []}
      - {name: done, dtype: bool, shape: []}
      - {name: pixels, dtype: uint8, shape: [2, 3]}
      - {name: steps, dtype: int32, shape: [-1]}
  - name: cli
    max_size: 100
    rate_limiter: {kind: min_size, min_size_to_sample: 1}
    signature:
      - {name: observation, dtype: float32, shape: [2]}
      - {name: action, dtype: int64, shape: []}
"""

# Set by main() from the command line.
OPTIONS = argparse.Namespace(replay_binary=None, proto_dir=None)


def make_item(i):
    """Item i of the transitions table. float32 values are exact binary32
    numbers (multiples of 1/8), so they read back unchanged."""
    return {
        "observation": [i + 0.125, -i - 0.5, i * 2.0, 1e6 + i],
        "action": (-1) ** i * (1 << 40) * i,  # needs all of int64
        "reward": i / 3.0,                   # float64: exact
        "done": i % 2 == 0,
        "pixels": [[i, 255, 0], [1, 2, 3 + i]],
        "steps": list(range(i % 3 + 1)),     # shape [-1]: 1 to 3 elements
    }


class ReplayServer:
    """A shoal-replay subprocess; stdout and stderr go to files."""

    def __init__(self, binary, config, work_dir):
        self.stdout_path = os.path.join(work_dir, "replay.stdout")
        self.stderr_path = os.path.join(work_dir, "replay.stderr")
        with open(self.stdout_path, "wb") as out, \
                open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [binary, "--config", config, "--port", "0",
                 "--host", "127.0.0.1"], stdout=out, stderr=err)
        self.address = self._wait_for_port()

    def _wait_for_port(self):
        """Reads "shoal-replay listening on HOST port N" from stdout."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with open(self.stdout_path, encoding="utf-8") as f:
                for line in f:
                    words = line.split()
                    if line.startswith("shoal-replay listening on ") \
                            and len(words) == 6 and words[4] == "port":
                        return "%s:%s" % (words[3], words[5])
            if self.process.poll() is not None:
                raise RuntimeError("shoal-replay exited %d before listening: "
                                   "%s" % (self.process.returncode,
                                           self.stderr()))
            time.sleep(0.05)
        raise RuntimeError("shoal-replay printed no port in %d s: %s"
                           % (START_TIMEOUT_S, self.stderr()))

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def terminate(self):
        """SIGTERM; returns the exit code (None if it did not exit)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class TensorCodecTest(unittest.TestCase):
    """encode_tensor / decode_tensor against tensor.proto's layout."""

    def test_little_endian_row_major_bytes(self):
        t = replay_client.encode_tensor([[1, 2], [3, 4]], "int32")
        self.assertEqual(list(t.shape), [2, 2])
        self.assertEqual(t.data, struct.pack("<4i", 1, 2, 3, 4))
        self.assertEqual(t.data[:4], b"\x01\x00\x00\x00")
        f = replay_client.encode_tensor(1.0, "float32")
        self.assertEqual(list(f.shape), [])
        self.assertEqual(f.data, b"\x00\x00\x80\x3f")
        b = replay_client.encode_tensor([True, False, 1], "bool")
        self.assertEqual(b.data, b"\x01\x00\x01")

    def test_round_trip_every_dtype(self):
        cases = [("float32", [[0.5, -2.0, 3.25]]), ("float64", 1 / 3),
                 ("int32", [-(1 << 31), (1 << 31) - 1]),
                 ("int64", [[-(1 << 63)], [(1 << 63) - 1]]),
                 ("uint8", [0, 255, 7]), ("bool", [[True], [False]]),
                 ("int64", []), ("float32", float("inf"))]
        for dtype, values in cases:
            with self.subTest(dtype=dtype, values=values):
                t = replay_client.encode_tensor(values, dtype)
                self.assertEqual(replay_client.dtype_name(t.dtype), dtype)
                self.assertEqual(replay_client.decode_tensor(t), values)

    def test_explicit_shape(self):
        t = replay_client.encode_tensor([1, 2, 3, 4, 5, 6], "uint8",
                                        shape=[2, 3])
        self.assertEqual(replay_client.decode_tensor(t),
                         [[1, 2, 3], [4, 5, 6]])
        empty = replay_client.encode_tensor([], "float32", shape=[0, 4])
        self.assertEqual(list(empty.shape), [0, 4])
        self.assertEqual(empty.data, b"")
        with self.assertRaisesRegex(ValueError, r"needs 6 elements, got 5"):
            replay_client.encode_tensor([1] * 5, "uint8", shape=[2, 3])

    def test_encode_rejects_what_the_dtype_cannot_hold(self):
        bad = [([1.5], "int64", "cannot encode"), ([256], "uint8", "uint8"),
               ([-1], "uint8", "uint8"), ([1 << 31], "int32", "int32"),
               ([2], "bool", "want a bool"), ([0.0], "bool", "want a bool"),
               ([[1, 2], [3]], "float32", "ragged"),
               (["x"], "float64", "cannot encode"),
               ([1e39], "float32", "float32"), (1, "complex64", "unknown")]
        for values, dtype, message in bad:
            with self.subTest(values=values, dtype=dtype):
                with self.assertRaisesRegex(ValueError, message):
                    replay_client.encode_tensor(values, dtype, where="col")

    def test_decode_checks_the_bytes(self):
        tensor_pb2 = shoal_stubs.load("replay").tensor_pb2
        short = tensor_pb2.Tensor(dtype=tensor_pb2.DTYPE_INT64, shape=[2],
                                  data=b"\x00" * 15)
        with self.assertRaisesRegex(ValueError, "needs 16 bytes, got 15"):
            replay_client.decode_tensor(short)
        bad_bool = tensor_pb2.Tensor(dtype=tensor_pb2.DTYPE_BOOL, shape=[1],
                                     data=b"\x02")
        with self.assertRaisesRegex(ValueError, "want 0 or 1"):
            replay_client.decode_tensor(bad_bool)
        unspecified = tensor_pb2.Tensor(shape=[], data=b"")
        with self.assertRaisesRegex(ValueError, "unknown dtype"):
            replay_client.decode_tensor(unspecified)

    def test_stubs_of_several_protos_share_one_package(self):
        replay = shoal_stubs.load("replay")
        env = shoal_stubs.load("env")
        self.assertIs(replay.tensor_pb2, env.tensor_pb2)
        self.assertTrue(hasattr(env.env_pb2_grpc, "EnvServiceStub"))


class NoServerTest(unittest.TestCase):
    """Inserts to an address nobody listens on fail after the retries."""

    def test_unavailable_after_retries(self):
        import grpc
        import socket
        with socket.socket() as s:  # a port that was free a moment ago
            s.bind(("127.0.0.1", 0))
            address = "127.0.0.1:%d" % s.getsockname()[1]
        replay_pb2 = shoal_stubs.load("replay").replay_pb2
        item = replay_pb2.Item(table="t", priority=1.0, columns=[
            replay_client.encode_tensor([1.0], "float32")])
        with replay_client.ReplayClient(address, retries=2,
                                        timeout_s=10) as client:
            start = time.monotonic()
            with self.assertRaises(grpc.RpcError) as caught:
                client.insert("t", [item])
            self.assertEqual(caught.exception.code(),
                             grpc.StatusCode.UNAVAILABLE)
            self.assertLess(time.monotonic() - start, 9)
            # The numbers stay spent: the next insert never reuses them.
            self.assertEqual(client.next_sequence, 2)


class ReplayServiceTest(unittest.TestCase):
    """The scenario against one real shoal-replay process."""

    @classmethod
    def setUpClass(cls):
        cls.work_dir = tempfile.mkdtemp(prefix="python_replay_client_")
        config = os.path.join(cls.work_dir, "replay.yaml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(CONFIG)
        cls.server = ReplayServer(OPTIONS.replay_binary, config, cls.work_dir)

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.server.terminate()
            if code != 0:
                raise AssertionError(
                    "shoal-replay after SIGTERM: exit %s, want 0; stderr:\n%s"
                    % (code, cls.server.stderr()))
        finally:
            cls.server.kill()
            shutil.rmtree(cls.work_dir, ignore_errors=True)

    def setUp(self):
        self.client = replay_client.ReplayClient(
            self.server.address, timeout_s=20, proto_dir=OPTIONS.proto_dir)
        self.addCleanup(self.client.close)

    def size(self, table):
        info = self.client.info(table)
        self.assertEqual([t.name for t in info.tables], [table])
        return info.tables[0].size

    def test_insert_sample_reject_dedupe(self):
        info = self.client.info()
        self.assertEqual(info.shard_index, 0)
        self.assertEqual(sorted(t.name for t in info.tables),
                         ["cli", "transitions"])
        self.assertEqual(
            [replay_client.spec_string(s)
             for s in self.client.signature("transitions")],
            ["observation float32 [4]", "action int64 []",
             "reward float64 []", "done bool []", "pixels uint8 [2, 3]",
             "steps int32 [-1]"])
        self.assertEqual(self.size("transitions"), 0)

        # 10 items, with priorities, in batches of about 3 items: the client
        # splits them across several InsertRequests on one stream.
        items = [make_item(i) for i in range(10)]
        self.client._max_request_bytes = 300
        done = self.client.insert("transitions", items,
                                  [1.0 + i for i in range(10)],
                                  policy_version=7, actor_index=2, env_id=5)
        self.assertEqual(done, range(1, 11))
        self.assertEqual(self.client.next_sequence, 11)
        self.assertEqual(self.size("transitions"), 10)

        # Samples decode to what was inserted; action identifies the item.
        by_action = {item["action"]: i for i, item in enumerate(items)}
        samples = self.client.sample("transitions", 5, timeout_ms=10000)
        self.assertEqual(len(samples), 5)
        for s in samples:
            i = by_action[s.columns["action"]]
            self.assertEqual(s.columns, items[i])
            self.assertEqual(s.priority, 1.0 + i)
            self.assertEqual(s.table_size, 10)
            self.assertGreater(s.probability, 0.0)
            self.assertGreaterEqual(s.times_sampled, 1)
            self.assertEqual((s.item.table, s.item.policy_version,
                              s.item.actor_index, s.item.env_id),
                             ("transitions", 7, 2, 5))
            # Byte for byte the tensors the client sent.
            sent = self.client.encode_item("transitions", items[i])
            self.assertEqual(list(s.item.columns), list(sent.columns))

        # A wrong dtype: the batch is rejected, naming the column; nothing
        # of it is stored.
        wrong = dict(make_item(10))
        wrong["action"] = replay_client.encode_tensor(1.5, "float32")
        with self.assertRaises(replay_client.InsertRejected) as caught:
            self.client.insert("transitions", [wrong])
        self.assertEqual(caught.exception.code_name, "INVALID_ARGUMENT")
        self.assertEqual(caught.exception.code, 3)
        self.assertIn("items[0].columns[1] (action)", caught.exception.message)
        self.assertIn("dtype float32 != signature dtype int64",
                      caught.exception.message)
        self.assertEqual(caught.exception.errors[0][2:], (11, 11))
        self.assertEqual(self.size("transitions"), 10)

        # Exactly-once: the same writer resending sequences 1..10 (as after
        # a reconnect) is acknowledged and stores nothing.
        again = replay_client.ReplayClient(
            self.server.address, writer_id=self.client.writer_id,
            first_sequence=1, timeout_s=20)
        self.addCleanup(again.close)
        self.assertEqual(again.insert("transitions", items), range(1, 11))
        self.assertEqual(self.size("transitions"), 10)

        # Client-side checks send nothing.
        with self.assertRaisesRegex(ValueError, r"missing \['reward'\]"):
            self.client.insert("transitions", [
                {k: v for k, v in items[0].items() if k != "reward"}])
        with self.assertRaisesRegex(ValueError, r"items\[0\].columns\[1\] "
                                    r"\(action\): cannot encode"):
            self.client.insert("transitions", [dict(items[0], action=0.5)])
        self.assertEqual(self.size("transitions"), 10)
        self.assertEqual(self.client.info("transitions").tables[0].inserts,
                         10)

    def test_command_line(self):
        base = [sys.executable, os.path.join(HERE, "replay_client.py"),
                "--replay", self.server.address]
        if OPTIONS.proto_dir:
            base += ["--proto_dir", OPTIONS.proto_dir]

        def run(*args, stdin=None):
            done = subprocess.run(base + list(args), capture_output=True,
                                  text=True, input=stdin, timeout=60)
            return done.returncode, done.stdout, done.stderr

        rc, out, err = run("info", "--table", "cli")
        self.assertEqual(rc, 0, err)
        self.assertIn("table cli: size 0 (max 100)", out)
        self.assertIn("signature: observation float32 [2], action int64 []",
                      out)

        rc, out, err = run("insert", "--table", "cli", "--items_file", "-",
                           '{"observation": [0.5, 1.5], "action": 4}',
                           stdin='[[2.5, 3.5], 5]\n\n[[4.5, 5.5], 6]\n')
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^inserted 3 items into cli: writer \d+, "
                              r"sequences 1..3\n$")

        rc, out, err = run("sample", "--table", "cli", "4")
        self.assertEqual(rc, 0, err)
        lines = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(lines), 4)
        inserted = [{"observation": [0.5, 1.5], "action": 4},
                    {"observation": [2.5, 3.5], "action": 5},
                    {"observation": [4.5, 5.5], "action": 6}]
        for line in lines:
            self.assertIn(line["columns"], inserted)

        rc, out, err = run("info", "--json", "--table", "cli")
        self.assertEqual(rc, 0, err)
        self.assertEqual(int(json.loads(out)["tables"][0]["size"]), 3)

        # Errors: exit 1 and one line naming the problem.
        rc, out, err = run("insert", "--table", "cli", '[[1, 2], 3, 4]')
        self.assertEqual(rc, 1)
        self.assertIn("3 columns, the signature of 'cli' has 2", err)
        rc, out, err = run("sample", "--table", "nope", "1")
        self.assertEqual(rc, 1)
        self.assertIn("NOT_FOUND: table: no table named 'nope'", err)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    binary_dir = os.environ.get("SHOAL_BINARY_DIR",
                                os.path.join(ROOT, "build"))
    source_dir = os.environ.get("SHOAL_SOURCE_DIR", ROOT)
    parser.add_argument("--replay_binary",
                        default=os.path.join(binary_dir, "replay",
                                             "shoal-replay"))
    parser.add_argument("--proto_dir",
                        default=os.path.join(source_dir, "proto"))
    args, rest = parser.parse_known_args()
    OPTIONS.replay_binary = args.replay_binary
    OPTIONS.proto_dir = os.path.abspath(args.proto_dir)
    if not os.access(args.replay_binary, os.X_OK):
        print("replay_client_test.py: no shoal-replay binary at %s (build "
              "target shoal-replay)" % args.replay_binary, file=sys.stderr)
        return 1
    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
    except ImportError as e:
        print("replay_client_test.py: %s under %s; install python3-grpcio and "
              "python3-grpc-tools (a project dependency)"
              % (e, sys.executable), file=sys.stderr)
        return 1
    # Stubs from the chosen proto dir, before anything loads the default.
    shoal_stubs.load("replay", proto_dir=OPTIONS.proto_dir)
    program = unittest.main(argv=[sys.argv[0]] + rest, exit=False,
                            verbosity=2)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
