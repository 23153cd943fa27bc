// What shoalctl's client subcommands print: each server answer as one JSON
// object (for scripts; always valid JSON, non-finite floats become null)
// and as a human report (aligned tables, sizes in KiB/MiB, the first few
// values of each tensor).
//
//   Json report = InfoJson("127.0.0.1:7000", info);
//   out << report.dump() << "\n";      // --json
//   PrintInfo("127.0.0.1:7000", info, out);  // otherwise
//
// Stateless and thread-safe.
#ifndef SHOAL_TOOLS_CLIENT_REPORT_H_
#define SHOAL_TOOLS_CLIENT_REPORT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "shoal/v1/replay.pb.h"
#include "shoal/v1/tensor.pb.h"

#include "nlohmann/json.hpp"
#include "tools/client_rpc.h"

namespace shoal {

using Json = nlohmann::ordered_json;

// Values of a tensor that a report shows; the rest are counted.
inline constexpr int kPreviewValues = 8;

// "512 B", "1.5 KiB", "3.0 MiB", "1.2 GiB".
std::string HumanBytes(int64_t bytes);

// dtype, shape, number of values and the first kPreviewValues values of
// `tensor` under "name". A malformed tensor gets "error" instead of values.
Json TensorJson(const std::string& name, const v1::Tensor& tensor);
// The first values as text: "0.5, 1, 2 ... (+7)"; "<error>" when the tensor
// is malformed.
std::string TensorPreview(const v1::Tensor& tensor);

// ReplayService.Info of the shard at `address`.
Json InfoJson(const std::string& address, const v1::InfoResponse& info);
void PrintInfo(const std::string& address, const v1::InfoResponse& info,
               std::ostream& out);

// Sampled items of `table`, whose columns are named by `signature` (an
// empty or shorter signature names the rest "column<i>").
Json SampleJson(const std::string& address, const v1::TableInfo& table,
                const std::vector<v1::SampledItem>& items);
void PrintSample(const std::string& address, const v1::TableInfo& table,
                 const std::vector<v1::SampledItem>& items, std::ostream& out);

// A checkpoint the shard at `address` wrote.
Json CheckpointJson(const std::string& address,
                    const v1::CheckpointResponse& checkpoint);
void PrintCheckpoint(const std::string& address,
                     const v1::CheckpointResponse& checkpoint,
                     std::ostream& out);

// The learner's published parameters, with their age at `now`.
Json ParamsJson(const std::string& address, const AssembledParameters& params,
                absl::Time now);
void PrintParams(const std::string& address, const AssembledParameters& params,
                 absl::Time now, std::ostream& out);

}  // namespace shoal

#endif  // SHOAL_TOOLS_CLIENT_REPORT_H_
