#!/usr/bin/env bash
# Builds shoal on a CUDA host against the LibTorch of its PyTorch wheel and
# Debian 12's gRPC/Protobuf/Abseil unpacked into a prefix (the .debs come
# from deploy/gpu/fetch_debs.sh). See README "Building on a CUDA host".
#
#   deploy/gpu/build.sh [BUILD_DIR]        # default build-gpu
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$repo/build-gpu}
prefix=${SHOAL_DEB_PREFIX:-$repo/deploy/gpu/prefix}
debs=$repo/deploy/gpu/debs

if [ ! -d "$prefix/usr" ]; then
  ls "$debs"/*.deb >/dev/null 2>&1 || {
    echo "build.sh: no .deb files in $debs: run deploy/gpu/fetch_debs.sh first" >&2
    exit 1
  }
  mkdir -p "$prefix"
  for f in "$debs"/*.deb; do dpkg -x "$f" "$prefix"; done
fi
torch_prefix=$(python3 -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
lib=$prefix/usr/lib/x86_64-linux-gnu
export LIBRARY_PATH=$lib${LIBRARY_PATH:+:$LIBRARY_PATH}
export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PATH=$prefix/usr/bin:$PATH

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$prefix/usr" \
  -DProtobuf_PROTOC_EXECUTABLE="$prefix/usr/bin/protoc" \
  -DProtobuf_INCLUDE_DIR="$prefix/usr/include" \
  -DProtobuf_LIBRARY="$lib/libprotobuf.so" \
  -DSHOAL_PROTOC="$prefix/usr/bin/protoc" \
  -DSHOAL_GRPC_CPP_PLUGIN="$prefix/usr/bin/grpc_cpp_plugin"
cmake --build "$build" -j"$(nproc)"
echo "built into $build (run binaries with LD_LIBRARY_PATH=$lib)"
