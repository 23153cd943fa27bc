#!/usr/bin/env bash
# Run on a Debian 12 machine WITH package access: downloads the .deb files of
# Debian's gRPC, Protobuf and Abseil (and what they link) into
# deploy/gpu/debs/ (git-ignored), for deploy/gpu/build.sh on a CUDA host that
# has a PyTorch wheel but no Debian package access.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/debs"
cd "$here/debs"
apt-get download -q \
  libgrpc++-dev libgrpc++1.51 libgrpc-dev libgrpc29 \
  libprotobuf-dev libprotobuf32 libprotobuf-lite32 libprotoc32 \
  protobuf-compiler protobuf-compiler-grpc \
  libabsl-dev libabsl20220623 libre2-dev libre2-9 libc-ares-dev libc-ares2 \
  libssl-dev zlib1g-dev \
  libyaml-cpp-dev libyaml-cpp0.7 prometheus-cpp-dev libprometheus-cpp-core1.0 \
  libprometheus-cpp-pull1.0 libprometheus-cpp-push1.0 libcivetweb-dev libcivetweb1 \
  libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 \
  libgtest-dev libgmock-dev nlohmann-json3-dev libcpp-httplib-dev
echo "fetched $(ls *.deb | wc -l) packages into $here/debs"
