# Finds every third-party package. Order matters on CUDA hosts where LibTorch
# comes from the PyTorch wheel (see README "Building on a CUDA host"):
# Protobuf and gRPC are found BEFORE Torch, and Protobuf is linked by path,
# because the wheel's Torch config defines a `protobuf::libprotobuf` target
# that links nothing and ships old google/protobuf headers of its own.
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark CONFIG QUIET)

find_program(SHOAL_PROTOC NAMES protoc REQUIRED)
find_program(SHOAL_GRPC_CPP_PLUGIN NAMES grpc_cpp_plugin REQUIRED)

if(SHOAL_WITH_TORCH)
  find_package(Torch REQUIRED)
endif()

# Absolute path of libprotobuf (never the protobuf::libprotobuf target).
if(Protobuf_LIBRARY)
  set(SHOAL_PROTOBUF_LIB ${Protobuf_LIBRARY})
else()
  set(SHOAL_PROTOBUF_LIB ${Protobuf_LIBRARIES})
endif()
