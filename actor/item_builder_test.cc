#include "actor/item_builder.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shoal/v1/tensor.pb.h"

#include "actor/envs/env.h"
#include "actor/envs/env_factory.h"
#include "actor/item_builder_testing.h"
#include "common/config.h"

namespace shoal {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_internal::MakeConfig;

EnvSpec SpecOf(const std::string& name) {
  EnvOptions options;
  options.name = name;
  auto env = MakeEnv(options);
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? (*env)->spec() : EnvSpec();
}

std::vector<ColumnConfig> ToColumns(const std::vector<v1::TensorSpec>& sig) {
  std::vector<ColumnConfig> out;
  for (const v1::TensorSpec& s : sig) {
    ColumnConfig c;
    c.name = s.name();
    c.dtype = s.dtype();
    c.shape.assign(s.shape().begin(), s.shape().end());
    out.push_back(c);
  }
  return out;
}

// "name dtype [shape]" per column, for compact expectations.
std::vector<std::string> Describe(const std::vector<v1::TensorSpec>& sig) {
  std::vector<std::string> out;
  for (const v1::TensorSpec& s : sig) {
    out.push_back(s.name() + " " + std::string(EnumName(s.dtype())) + " " +
                  ShapeString(s.shape()));
  }
  return out;
}

// A config for `algorithm` on `spec` whose table has ItemSignature's
// columns.
ExperimentConfig MakeCheckedConfig(AlgorithmKind algorithm,
                                   const EnvSpec& spec) {
  ExperimentConfig config = MakeConfig(algorithm, /*num_envs=*/2, 0.99);
  config.tables[0].signature = ToColumns(ItemSignature(config.algorithm, spec));
  return config;
}

TEST(ItemSignatureTest, DqnOnCartPoleHasScalarActions) {
  ExperimentConfig config = MakeConfig(AlgorithmKind::kDqn, 1, 0.99);
  EXPECT_THAT(Describe(ItemSignature(config.algorithm, SpecOf("cartpole"))),
              ElementsAre("observation float32 [4]", "action int64 []",
                          "reward float32 []", "discount float32 []",
                          "next_observation float32 [4]"));
}

TEST(ItemSignatureTest, SacOnPendulumHasVectorActions) {
  ExperimentConfig config = MakeConfig(AlgorithmKind::kSac, 1, 0.99);
  EXPECT_THAT(Describe(ItemSignature(config.algorithm, SpecOf("pendulum"))),
              ElementsAre("observation float32 [3]", "action float32 [1]",
                          "reward float32 []", "discount float32 []",
                          "next_observation float32 [3]"));
}

TEST(ItemSignatureTest, ImpalaHasUnrollsWithABootstrapRowAndAMask) {
  ExperimentConfig config = MakeConfig(AlgorithmKind::kImpala, 1, 0.99);
  config.algorithm.impala.unroll_length = 5;
  EXPECT_THAT(
      Describe(ItemSignature(config.algorithm, SpecOf("cartpole"))),
      ElementsAre("observation float32 [6, 4]", "action int64 [5]",
                  "reward float32 [5]", "discount float32 [5]",
                  "behaviour_log_prob float32 [5]", "mask float32 [5]"));
}

TEST(CheckItemSignatureTest, AcceptsAnEmptyAnExactOrAReorderedSignature) {
  const EnvSpec spec = SpecOf("cartpole");
  ExperimentConfig config = MakeConfig(AlgorithmKind::kDqn, 1, 0.99);
  EXPECT_TRUE(
      CheckItemSignature(config.tables[0], config.algorithm, spec).ok());
  config = MakeCheckedConfig(AlgorithmKind::kDqn, spec);
  EXPECT_TRUE(
      CheckItemSignature(config.tables[0], config.algorithm, spec).ok());
  std::swap(config.tables[0].signature[0], config.tables[0].signature[4]);
  config.tables[0].signature[1].shape = {};
  config.tables[0].signature[0].shape = {-1};  // Any size.
  EXPECT_TRUE(
      CheckItemSignature(config.tables[0], config.algorithm, spec).ok());
}

TEST(CheckItemSignatureTest, WrongDtypeNamesTheColumn) {
  const EnvSpec spec = SpecOf("cartpole");
  ExperimentConfig config = MakeCheckedConfig(AlgorithmKind::kDqn, spec);
  config.tables[0].signature[1].dtype = v1::DTYPE_FLOAT32;
  absl::Status status =
      CheckItemSignature(config.tables[0], config.algorithm, spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      status.message(),
      AllOf(HasSubstr("table 'transitions' column 'action'"),
            HasSubstr("float32"), HasSubstr("int64"), HasSubstr("cartpole")));
}

TEST(CheckItemSignatureTest, ActionBoundsMustBeTheEnvsActionSpace) {
  const EnvSpec cartpole = SpecOf("cartpole");
  ExperimentConfig config = MakeCheckedConfig(AlgorithmKind::kDqn, cartpole);
  ColumnConfig& action = config.tables[0].signature[1];
  action.minimum = {0};
  action.maximum = {1};
  EXPECT_TRUE(
      CheckItemSignature(config.tables[0], config.algorithm, cartpole).ok());
  action.maximum = {2};
  absl::Status status =
      CheckItemSignature(config.tables[0], config.algorithm, cartpole);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("table 'transitions' column 'action': minimum [0] and "
                        "maximum [2], but env 'cartpole' has actions in [0] .. "
                        "[1]"));

  const EnvSpec pendulum = SpecOf("pendulum");
  config = MakeCheckedConfig(AlgorithmKind::kSac, pendulum);
  ColumnConfig& box = config.tables[0].signature[1];
  box.minimum = {-2};
  box.maximum = {2};
  EXPECT_TRUE(
      CheckItemSignature(config.tables[0], config.algorithm, pendulum).ok());
  box.minimum = {-1};
  EXPECT_THAT(
      CheckItemSignature(config.tables[0], config.algorithm, pendulum)
          .message(),
      HasSubstr("minimum [-1] and maximum [2], but env 'pendulum' has actions "
                "in [-2] .. [2]"));
}

TEST(CheckItemSignatureTest, WrongShapeNamesTheColumn) {
  const EnvSpec spec = SpecOf("cartpole");
  ExperimentConfig config = MakeCheckedConfig(AlgorithmKind::kImpala, spec);
  config.tables[0].signature[0].shape = {20, 4};  // T rows, not T+1.
  absl::Status status =
      CheckItemSignature(config.tables[0], config.algorithm, spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("column 'observation'"), HasSubstr("[20, 4]"),
                    HasSubstr("[21, 4]")));
}

TEST(CheckItemSignatureTest, MissingColumnIsNamed) {
  const EnvSpec spec = SpecOf("cartpole");
  ExperimentConfig config = MakeCheckedConfig(AlgorithmKind::kImpala, spec);
  config.tables[0].signature.pop_back();
  absl::Status status =
      CheckItemSignature(config.tables[0], config.algorithm, spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("has no column 'mask'"));
}

TEST(CheckItemSignatureTest, UnknownColumnIsNamed) {
  const EnvSpec spec = SpecOf("pendulum");
  ExperimentConfig config = MakeCheckedConfig(AlgorithmKind::kSac, spec);
  config.tables[0].signature[2].name = "rewards";
  absl::Status status =
      CheckItemSignature(config.tables[0], config.algorithm, spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              AllOf(HasSubstr("signature[2] column 'rewards'"),
                    HasSubstr("sac items for pendulum")));
}

TEST(MakeItemBuilderTest, RejectsAMismatchedTableSignature) {
  const EnvSpec spec = SpecOf("cartpole");
  ExperimentConfig config = MakeCheckedConfig(AlgorithmKind::kDqn, spec);
  config.tables[0].signature[4].dtype = v1::DTYPE_FLOAT64;
  auto builder = MakeItemBuilder(config, spec, ItemBuilderOptions());
  EXPECT_EQ(builder.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(builder.status().message(),
              HasSubstr("column 'next_observation'"));
}

TEST(MakeItemBuilderTest, RejectsAnUnknownTable) {
  ExperimentConfig config = MakeConfig(AlgorithmKind::kDqn, 1, 0.99);
  config.actor.table = "nope";
  auto builder =
      MakeItemBuilder(config, SpecOf("cartpole"), ItemBuilderOptions());
  EXPECT_EQ(builder.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(builder.status().message(), HasSubstr("'nope'"));
}

TEST(MakeItemBuilderTest, RejectsBadLengthsAndPriorities) {
  const EnvSpec spec = SpecOf("cartpole");
  ExperimentConfig config = MakeConfig(AlgorithmKind::kDqn, 1, 0.99);
  config.algorithm.n_step = 0;
  EXPECT_THAT(
      MakeItemBuilder(config, spec, ItemBuilderOptions()).status().message(),
      HasSubstr("n_step must be in [1, 2^20], got 0"));
  config = MakeConfig(AlgorithmKind::kImpala, 1, 0.99);
  config.algorithm.impala.unroll_length = 4;
  config.algorithm.impala.unroll_overlap = 4;
  EXPECT_THAT(
      MakeItemBuilder(config, spec, ItemBuilderOptions()).status().message(),
      HasSubstr("unroll_overlap must be in [0, unroll_length = 4)"));
  ItemBuilderOptions options;
  options.initial_priority = -1.0;
  EXPECT_THAT(MakeItemBuilder(config, spec, options).status().message(),
              HasSubstr("initial_priority"));
}

TEST(MakeItemBuilderTest, BuildsTheRightBuilderForEachAlgorithm) {
  const EnvSpec cartpole = SpecOf("cartpole");
  for (AlgorithmKind algorithm :
       {AlgorithmKind::kDqn, AlgorithmKind::kImpala}) {
    ExperimentConfig config = MakeCheckedConfig(algorithm, cartpole);
    ItemBuilderOptions options;
    options.actor_index = 3;
    auto builder = MakeItemBuilder(config, cartpole, options);
    ASSERT_TRUE(builder.ok()) << builder.status();
    EXPECT_EQ((*builder)->layout().num_envs, 2);
    EXPECT_EQ((*builder)->layout().actor_index, 3);
    EXPECT_EQ((*builder)->layout().num_columns,
              static_cast<int>(config.tables[0].signature.size()));
  }
}

}  // namespace
}  // namespace shoal
