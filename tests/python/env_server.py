#!/usr/bin/env python3
"""A pure-Python EnvService server (proto/shoal/v1/env.proto).

Serves "point_mass", a 1-D point mass pushed by a bounded force, so tests
can step a non-C++ simulator through shoal's remote Env:

    python3 tests/python/env_server.py --port 0
    -> env_server.py listening on 127.0.0.1 port 40513

The Python stubs are generated at start-up with `python3 -m grpc_tools.protoc`
from proto/ into a temporary directory (shoal_stubs.py). The one line on
stdout names the bound address (the shape of every shoal server's line); SIGTERM or SIGINT stops the server and
exits 0.

point_mass: observation float32 [x, v]; action float32 [1], the force,
clipped to [-1, 1]. Each step (in float64): v += 0.1 * a; x += 0.1 * v;
reward = -(x * x) - 0.01 * (a * a); terminated when |x| > 2; truncated on
step 50. Reset(seed) starts at x = (seed % 101) / 100 - 0.5, v = 0.
python_env_test.cc replays the same arithmetic in C++.
"""

import argparse
import math
import os
import random
import signal
import struct
import sys
import threading
from concurrent import futures

import shoal_stubs

MAX_EPISODE_STEPS = 50
DT = 0.1
X_LIMIT = 2.0


class PointMass:
    """One episode's state. Arithmetic in float64, as documented above."""

    def __init__(self):
        self.x = 0.0
        self.v = 0.0
        self.steps = 0
        self.running = False

    def reset(self, seed):
        self.x = (seed % 101) / 100.0 - 0.5
        self.v = 0.0
        self.steps = 0
        self.running = True

    def step(self, force):
        a = min(max(force, -1.0), 1.0)
        self.v = self.v + DT * a
        self.x = self.x + DT * self.v
        reward = -(self.x * self.x) - 0.01 * (a * a)
        self.steps += 1
        terminated = abs(self.x) > X_LIMIT
        truncated = not terminated and self.steps >= MAX_EPISODE_STEPS
        if terminated or truncated:
            self.running = False
        return reward, terminated, truncated


def make_servicer(grpc, env_pb2, env_pb2_grpc, tensor_pb2):
    class PointMassService(env_pb2_grpc.EnvServiceServicer):
        def __init__(self):
            self._lock = threading.Lock()
            self._sessions = {}
            self._rng = random.SystemRandom()

        def _session(self, session_id, context):
            with self._lock:
                env = self._sessions.get(session_id)
            if env is None:
                context.abort(grpc.StatusCode.NOT_FOUND,
                              "session_id %d is not an open session"
                              % session_id)
            return env

        def _observation(self, env):
            return tensor_pb2.Tensor(
                dtype=tensor_pb2.DTYPE_FLOAT32, shape=[2],
                data=struct.pack("<2f", env.x, env.v))

        def Open(self, request, context):
            env = PointMass()
            with self._lock:
                session_id = 0
                while session_id == 0 or session_id in self._sessions:
                    session_id = self._rng.getrandbits(63)
                self._sessions[session_id] = env
            spec = env_pb2.EnvSpec(
                name="point_mass",
                observation=tensor_pb2.TensorSpec(
                    name="observation", dtype=tensor_pb2.DTYPE_FLOAT32,
                    shape=[2]),
                box=env_pb2.BoxSpace(low=[-1.0], high=[1.0]),
                max_episode_steps=MAX_EPISODE_STEPS)
            return env_pb2.OpenResponse(session_id=session_id, spec=spec)

        def Reset(self, request, context):
            env = self._session(request.session_id, context)
            env.reset(request.seed)
            return env_pb2.EnvResetResponse(observation=self._observation(env))

        def Step(self, request, context):
            env = self._session(request.session_id, context)
            invalid = grpc.StatusCode.INVALID_ARGUMENT
            if not request.HasField("action"):
                context.abort(invalid, "StepRequest.action is missing")
            action = request.action
            if action.dtype != tensor_pb2.DTYPE_FLOAT32:
                context.abort(invalid, "StepRequest.action.dtype is %s, "
                              "want DTYPE_FLOAT32"
                              % tensor_pb2.DType.Name(action.dtype))
            if list(action.shape) != [1] or len(action.data) != 4:
                context.abort(invalid, "StepRequest.action.shape %s with %d "
                              "bytes, want [1] with 4"
                              % (list(action.shape), len(action.data)))
            (force,) = struct.unpack("<f", action.data)
            if not math.isfinite(force):
                context.abort(invalid, "StepRequest.action[0] is %r, want "
                              "finite" % force)
            if not env.running:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              "no running episode; call Reset")
            reward, terminated, truncated = env.step(force)
            return env_pb2.StepResponse(
                observation=self._observation(env), reward=reward,
                terminated=terminated, truncated=truncated)

        def Close(self, request, context):
            with self._lock:
                found = self._sessions.pop(request.session_id, None)
            if found is None:
                context.abort(grpc.StatusCode.NOT_FOUND,
                              "CloseRequest.session_id %d is not an open "
                              "session" % request.session_id)
            return env_pb2.CloseResponse()

    return PointMassService()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on; 0 picks a free one")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--proto_dir",
                        default=os.path.join(here, "..", "..", "proto"))
    args = parser.parse_args()

    try:  # project dependencies: python3-grpcio, python3-grpc-tools
        import grpc
        import grpc_tools  # noqa: F401
    except ImportError as e:
        print("env_server.py: %s under %s; install python3-grpcio and "
              "python3-grpc-tools" % (e, sys.executable), file=sys.stderr)
        return 1

    stubs = shoal_stubs.load("env", proto_dir=args.proto_dir)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    stubs.env_pb2_grpc.add_EnvServiceServicer_to_server(
        make_servicer(grpc, stubs.env_pb2, stubs.env_pb2_grpc,
                      stubs.tensor_pb2), server)
    port = server.add_insecure_port("%s:%d" % (args.address, args.port))
    if port == 0:
        print("cannot bind %s:%d" % (args.address, args.port),
              file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print("env_server.py listening on %s port %d" % (args.address, port),
          flush=True)
    while not stop.wait(0.5):
        pass
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
