#include "actor/envs/env_registry.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace shoal {

const BuiltinEnv* FindBuiltinEnv(absl::string_view name) {
  for (const BuiltinEnv& env : BuiltinEnvs()) {
    if (name == env.name) return &env;
  }
  return nullptr;
}

std::vector<std::string> BuiltinEnvNames() {
  std::vector<std::string> names;
  for (const BuiltinEnv& env : BuiltinEnvs()) names.emplace_back(env.name);
  return names;
}

absl::StatusOr<EnvSpec> BuiltinEnvSpec(const BuiltinEnv& env) {
  absl::StatusOr<std::unique_ptr<Env>> made =
      env.create(/*max_episode_steps=*/0);
  if (!made.ok()) return made.status();
  return (*made)->spec();
}

const EnvCatalog& BuiltinEnvCatalog() {
  static const EnvCatalog* const kCatalog = [] {
    auto* catalog = new EnvCatalog;
    for (const BuiltinEnv& env : BuiltinEnvs()) {
      absl::StatusOr<EnvSpec> spec = BuiltinEnvSpec(env);
      if (!spec.ok()) {
        std::fprintf(stderr, "built-in env %s cannot be created: %s\n",
                     env.name, spec.status().ToString().c_str());
        std::abort();
      }
      catalog->push_back({env.name, spec->action_space.discrete()});
    }
    return catalog;
  }();
  return *kCatalog;
}

}  // namespace shoal
