// PIMBRL's 200 x 64 table of KS initial states (ks_init.tensor), compiled
// into the library by a build step (see CMakeLists.txt,
// gen_ks_init_data.cmake) from actor/envs/data/ks_init.tensor.
#ifndef SHOAL_ACTOR_ENVS_KS_INIT_DATA_H_
#define SHOAL_ACTOR_ENVS_KS_INIT_DATA_H_

namespace shoal {
namespace env_internal {

inline constexpr int kKsInitRows = 200;
inline constexpr int kKsInitCols = 64;

// Row-major little-endian float32 bytes: row k, column j starts at byte
// 4 * (64 * k + j).
extern const unsigned char kKsInitBytes[kKsInitRows * kKsInitCols * 4];

}  // namespace env_internal
}  // namespace shoal

#endif  // SHOAL_ACTOR_ENVS_KS_INIT_DATA_H_
