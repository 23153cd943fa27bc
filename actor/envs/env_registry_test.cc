#include "actor/envs/env_registry.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "actor/envs/env_factory.h"
#include "common/config.h"

namespace shoal {
namespace {

using ::testing::IsSupersetOf;
using ::testing::StartsWith;

// The message of loading `yaml` with the registry's catalog.
std::string ConfigError(const std::string& yaml) {
  absl::StatusOr<ExperimentConfig> c = ParseExperimentConfig(
      yaml, "cfg.yaml", /*overrides=*/{}, &BuiltinEnvCatalog());
  return c.ok() ? "OK" : std::string(c.status().message());
}

TEST(EnvRegistryTest, NamesAreUniqueAndEachEnvCarriesItsName) {
  std::set<std::string> seen;
  for (const BuiltinEnv& env : BuiltinEnvs()) {
    EXPECT_TRUE(seen.insert(env.name).second) << "duplicate " << env.name;
    absl::StatusOr<std::unique_ptr<Env>> made =
        env.create(/*max_episode_steps=*/0);
    ASSERT_TRUE(made.ok()) << env.name << ": " << made.status();
    EXPECT_EQ((*made)->spec().name, env.name);
    EXPECT_EQ(FindBuiltinEnv(env.name), &env);
  }
  EXPECT_EQ(FindBuiltinEnv(kRemoteEnvName), nullptr);
  EXPECT_EQ(FindBuiltinEnv("cartpol"), nullptr);
}

TEST(EnvRegistryTest, TheShippedEnvsAreRegistered) {
  EXPECT_THAT(BuiltinEnvNames(),
              IsSupersetOf({"cartpole", "pendulum", "acrobot", "mountain_car",
                            "mountain_car_continuous", "ks"}));
}

TEST(EnvRegistryTest, TheShippedEnvsHaveTheDevirtualisedBatchPath) {
  // A StepUnchecked that RegisterEnv cannot see (say, a private one) would
  // silently send VectorEnv down the virtual path.
  for (const char* name : {"cartpole", "pendulum", "acrobot", "mountain_car",
                           "mountain_car_continuous", "ks"}) {
    const BuiltinEnv* builtin = FindBuiltinEnv(name);
    ASSERT_NE(builtin, nullptr) << name;
    const BuiltinEnv& env = *builtin;
    EXPECT_NE(env.is_exactly, nullptr) << env.name;
    EXPECT_NE(env.step_discrete, nullptr) << env.name;
    EXPECT_NE(env.step_box, nullptr) << env.name;
  }
}

TEST(EnvRegistryTest, IsExactlyRefusesOtherClasses) {
  const BuiltinEnv* cartpole = FindBuiltinEnv("cartpole");
  const BuiltinEnv* pendulum = FindBuiltinEnv("pendulum");
  ASSERT_NE(cartpole, nullptr);
  ASSERT_NE(pendulum, nullptr);
  absl::StatusOr<std::unique_ptr<Env>> env = cartpole->create(0);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_TRUE(cartpole->is_exactly(**env));
  EXPECT_FALSE(pendulum->is_exactly(**env));
}

TEST(EnvRegistryTest, CatalogHasEveryEnvWithItsActionSpace) {
  const EnvCatalog& catalog = BuiltinEnvCatalog();
  ASSERT_EQ(catalog.size(), BuiltinEnvs().size());
  for (size_t i = 0; i < catalog.size(); ++i) {
    absl::StatusOr<EnvSpec> spec = BuiltinEnvSpec(BuiltinEnvs()[i]);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(catalog[i].name, BuiltinEnvs()[i].name);
    EXPECT_EQ(catalog[i].discrete, spec->action_space.discrete())
        << catalog[i].name;
  }
}

TEST(EnvRegistryTest, ConfigRejectsAnUnknownEnvNameListingTheRegisteredOnes) {
  EXPECT_EQ(ConfigError("experiment: t\nenv: {name: cartpol}\n"),
            absl::StrCat("cfg.yaml:2: env.name: expected one of ",
                         absl::StrJoin(BuiltinEnvNames(), "|"),
                         "|remote, got 'cartpol'"));
  // The shipped ones, as config_test's stand-in catalog lists them.
  EXPECT_THAT(ConfigError("experiment: t\nenv: {name: cartpol}\n"),
              StartsWith("cfg.yaml:2: env.name: expected one of cartpole|"
                         "pendulum|acrobot|mountain_car|"
                         "mountain_car_continuous|ks|"));
}

TEST(EnvRegistryTest, ConfigChecksTheAlgorithmAgainstTheEnvsActionSpace) {
  EXPECT_EQ(ConfigError("experiment: t\nstop: {env_steps: 1}\n"
                        "env: {name: acrobot}\nalgorithm:\n  name: sac\n"),
            "cfg.yaml:5: algorithm.name: sac needs a box action space, but "
            "env.name acrobot has discrete actions");
  EXPECT_EQ(ConfigError("experiment: t\nstop: {env_steps: 1}\n"
                        "env: {name: ks}\nalgorithm:\n  name: sac\n"),
            "OK");
  EXPECT_EQ(ConfigError("experiment: t\nstop: {env_steps: 1}\n"
                        "env: {name: remote, remote: {address: 'h:1'}}\n"),
            "OK");
}

TEST(EnvRegistryTest, ReadmeEnvironmentsSectionNamesEveryBuiltin) {
  const char* src = std::getenv("SHOAL_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  std::ifstream in(absl::StrCat(src, "/README.md"));
  ASSERT_TRUE(in.is_open()) << src << "/README.md";
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const size_t begin = readme.find("\n## Environments\n");
  ASSERT_NE(begin, std::string::npos);
  const size_t end = readme.find("\n## ", begin + 1);
  const std::string section = readme.substr(begin, end - begin);
  for (const std::string& name : BuiltinEnvNames()) {
    EXPECT_NE(section.find(absl::StrCat("`", name, "`")), std::string::npos)
        << "README.md's Environments section does not list `" << name << "`";
  }
}

}  // namespace
}  // namespace shoal
