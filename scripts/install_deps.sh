#!/usr/bin/env bash
# Installs every Debian 12 package shoal needs to build, test and run.
# Idempotent and quiet: does nothing when everything is there already.
# Runs as root, or through sudo otherwise.
#
#   scripts/install_deps.sh            # everything (make test, make demo)
#   SHOAL_DEPS=build scripts/install_deps.sh
#                                      # only what compiles the binaries
#                                      # (the Docker image's build stage)
set -euo pipefail

BUILD_PACKAGES=(
  # toolchain
  build-essential cmake pkg-config
  # libraries
  libtorch-dev libopenblas0-pthread
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libyaml-cpp-dev prometheus-cpp-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libcpp-httplib-dev
  # CMake finds GoogleTest even when the tests are off
  libgtest-dev libgmock-dev
)
DEV_PACKAGES=(
  git clang-14 libclang-rt-14-dev clang-format
  # tests and benchmarks
  libbenchmark-dev
  openssl iproute2 procps curl
  python3 python3-grpcio python3-grpc-tools python3-protobuf
  # deployment checks (tests/deploy): compose files, k8s manifests, flags
  docker-compose python3-yaml
  # learning curves and scaling charts (scripts/plot_*.sh)
  gnuplot-nox
  # background load for `make stress` (scripts/stress.sh)
  stress-ng
  # a real Prometheus and promtool scrape a live cluster (tests/monitoring)
  prometheus
)

case "${SHOAL_DEPS:-all}" in
  all) PACKAGES=("${BUILD_PACKAGES[@]}" "${DEV_PACKAGES[@]}") ;;
  build) PACKAGES=("${BUILD_PACKAGES[@]}") ;;
  *) echo "install_deps: SHOAL_DEPS must be all or build, got '${SHOAL_DEPS}'" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The k8s manifest check runs on Node.js with npm. Any npm on PATH will do
# (e.g. one that came with another Node.js package); else Debian's.
if [ "${SHOAL_DEPS:-all}" = all ] && ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "install_deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install_deps: done"
