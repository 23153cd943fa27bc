// shoalctl: the operator's client. Its subcommands (run, info, sample,
// checkpoint, params, health) arrive with the main-job issue; until then it
// says so and exits non-zero.
#include <cstdio>

int main() {
  std::fprintf(stderr,
               "shoalctl: no subcommands yet (run, info, sample, checkpoint, "
               "params and health come with the main-job issue)\n");
  return 2;
}
