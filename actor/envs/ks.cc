#include "actor/envs/ks.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"

#include "actor/envs/ks_init_data.h"
#include "common/status_macros.h"

namespace shoal {
namespace {

static_assert(Ks::kGridSize == env_internal::kKsInitCols, "grid size");
static_assert(Ks::kNumInitialStates == env_internal::kKsInitRows, "rows");

constexpr int kN = Ks::kGridSize;
// Ghost cells on each side, enough for the widest (9-point) stencil.
constexpr int kHalo = 4;
constexpr int kPadded = kN + 2 * kHalo;
constexpr double kPi = 3.141592653589793;
constexpr double kLength = 8 * kPi;
constexpr double kDx = kLength / kN;
constexpr float kDt = 0.001f;
constexpr float kSubstepsF = static_cast<float>(Ks::kSubsteps);

// Stencil weights, rounded to float32 as in PIMBRL's float32 matrices,
// ordered from the lowest offset to the highest.
// u_xx * dx^2, 6th order, offsets -3..3.
constexpr float kLap[7] = {1.0 / 90, -3.0 / 20, 3.0 / 2, -49.0 / 18,
                           3.0 / 2,  -3.0 / 20, 1.0 / 90};
// u_xxxx * dx^4, offsets -4..4.
constexpr float kLap2[9] = {7.0 / 240,   -2.0 / 5, 169.0 / 60,
                            -122.0 / 15, 91.0 / 8, -122.0 / 15,
                            169.0 / 60,  -2.0 / 5, 7.0 / 240};
// (u^2)_x * dx, 4th-order upwind: backward (offsets -4..0) where u >= 0,
// forward (offsets 0..4) where u < 0.
constexpr float kBackward[5] = {1.0 / 4, -4.0 / 3, 3.0, -4.0, 25.0 / 12};
constexpr float kForward[5] = {-25.0 / 12, 4.0, -3.0, 4.0 / 3, -1.0 / 4};

// RHS = -lapa2/dx^4 - lapa/dx^2 - gradient/2/dx + f, with the divisions
// folded into float32 factors.
const float kLap2Scale = static_cast<float>(1.0 / std::pow(kDx, 4));
const float kLapScale = static_cast<float>(1.0 / std::pow(kDx, 2));
const float kGradScale = static_cast<float>(1.0 / (2.0 * kDx));

// Scratch for one env step; lives on the integrator's stack.
struct Work {
  alignas(64) float k1[kN];
  alignas(64) float k2[kN];
  alignas(64) float k3[kN];
  alignas(64) float k4[kN];
  alignas(64) float stage[kN];
  alignas(64) float lapa[kN];
  alignas(64) float gradient[kN];
  alignas(64) float scratch_lapa[kN];
  alignas(64) float scratch_gradient[kN];
  alignas(64) float u_pad[kPadded];
  alignas(64) float w_pad[kPadded];
};

// out = RHS(u); also writes the unscaled stencil outputs lapa (u_xx dx^2)
// and gradient ((u^2)_x dx) that the reward uses. Banded loops over a
// periodically padded copy of u, which the compiler vectorizes.
inline __attribute__((always_inline)) void Rhs(
    const float* __restrict u, const float* __restrict forcing,
    float* __restrict out, float* __restrict lapa, float* __restrict gradient,
    float* __restrict u_pad, float* __restrict w_pad) {
  for (int i = 0; i < kHalo; ++i) {
    u_pad[i] = u[kN - kHalo + i];
    u_pad[kHalo + kN + i] = u[i];
  }
  for (int j = 0; j < kN; ++j) u_pad[kHalo + j] = u[j];
  for (int i = 0; i < kPadded; ++i) w_pad[i] = u_pad[i] * u_pad[i];
  for (int j = 0; j < kN; ++j) {
    const float* p = u_pad + kHalo + j;
    const float* w = w_pad + kHalo + j;
    const float l = kLap[0] * p[-3] + kLap[1] * p[-2] + kLap[2] * p[-1] +
                    kLap[3] * p[0] + kLap[4] * p[1] + kLap[5] * p[2] +
                    kLap[6] * p[3];
    const float l2 = kLap2[0] * p[-4] + kLap2[1] * p[-3] + kLap2[2] * p[-2] +
                     kLap2[3] * p[-1] + kLap2[4] * p[0] + kLap2[5] * p[1] +
                     kLap2[6] * p[2] + kLap2[7] * p[3] + kLap2[8] * p[4];
    const float back = kBackward[0] * w[-4] + kBackward[1] * w[-3] +
                       kBackward[2] * w[-2] + kBackward[3] * w[-1] +
                       kBackward[4] * w[0];
    const float fwd = kForward[0] * w[0] + kForward[1] * w[1] +
                      kForward[2] * w[2] + kForward[3] * w[3] +
                      kForward[4] * w[4];
    // PIMBRL's (fc @ w) * (u < 0) + (bc @ w) * (u >= 0), kept as
    // arithmetic: it is branch-free, so it vectorizes on every ISA.
    const float g = fwd * static_cast<float>(p[0] < 0.0f) +
                    back * static_cast<float>(p[0] >= 0.0f);
    lapa[j] = l;
    gradient[j] = g;
    out[j] = -(l2 * kLap2Scale) - l * kLapScale - g * kGradScale + forcing[j];
  }
}

// Mean of a[j] * b[j] over the grid, summed in 8 interleaved lanes (as a
// vectorized reduction would).
inline __attribute__((always_inline)) float MeanOfProducts(
    const float* __restrict a, const float* __restrict b) {
  constexpr int kLanes = 8;
  float acc[kLanes] = {};
  for (int j = 0; j < kN; j += kLanes) {
    for (int k = 0; k < kLanes; ++k) acc[k] += a[j + k] * b[j + k];
  }
  const float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
                    ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  return sum / static_cast<float>(kN);
}

// Advances u by Ks::kSubsteps RK4 substeps with the forcing held fixed;
// returns the float32 sum over substeps of mean(lapa^2) + mean(gradient^2)
// + mean(u f). Compiled for several ISAs; the best one is picked at load.
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3",
                             "default"))) float
Integrate(float* __restrict u, const float* __restrict forcing) {
  Work w;
  float r = 0.0f;
  for (int s = 0; s < Ks::kSubsteps; ++s) {
    Rhs(u, forcing, w.k1, w.lapa, w.gradient, w.u_pad, w.w_pad);
    r += MeanOfProducts(w.lapa, w.lapa) +
         MeanOfProducts(w.gradient, w.gradient) + MeanOfProducts(u, forcing);
    for (int j = 0; j < kN; ++j) w.stage[j] = u[j] + kDt * w.k1[j] / 2.0f;
    Rhs(w.stage, forcing, w.k2, w.scratch_lapa, w.scratch_gradient, w.u_pad,
        w.w_pad);
    for (int j = 0; j < kN; ++j) w.stage[j] = u[j] + kDt * w.k2[j] / 2.0f;
    Rhs(w.stage, forcing, w.k3, w.scratch_lapa, w.scratch_gradient, w.u_pad,
        w.w_pad);
    for (int j = 0; j < kN; ++j) w.stage[j] = u[j] + kDt * w.k3[j];
    Rhs(w.stage, forcing, w.k4, w.scratch_lapa, w.scratch_gradient, w.u_pad,
        w.w_pad);
    for (int j = 0; j < kN; ++j) {
      u[j] = u[j] +
             kDt * (w.k1[j] + 2.0f * w.k2[j] + 2.0f * w.k3[j] + w.k4[j]) / 6.0f;
    }
  }
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Ks>> Ks::Create(int max_episode_steps) {
  if (max_episode_steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_episode_steps must be >= 0, got ", max_episode_steps));
  }
  return std::unique_ptr<Ks>(new Ks(
      max_episode_steps == 0 ? kDefaultMaxEpisodeSteps : max_episode_steps));
}

void Ks::InitialState(int index, float* u) {
  const unsigned char* row = env_internal::kKsInitBytes + 4 * kN * index;
  for (int j = 0; j < kN; ++j) {
    const unsigned char* b = row + 4 * j;
    const uint32_t bits =
        static_cast<uint32_t>(b[0]) | static_cast<uint32_t>(b[1]) << 8 |
        static_cast<uint32_t>(b[2]) << 16 | static_cast<uint32_t>(b[3]) << 24;
    std::memcpy(&u[j], &bits, sizeof(float));
  }
}

Ks::Ks(int max_episode_steps) : clock_(max_episode_steps) {
  spec_.name = "ks";
  spec_.observation_shape = {kGridSize};
  spec_.action_space.kind = ActionSpace::Kind::kBox;
  spec_.action_space.low.assign(kNumActuators, -kActionLimit);
  spec_.action_space.high.assign(kNumActuators, kActionLimit);
  spec_.max_episode_steps = max_episode_steps;
  // PIMBRL's grid is torch.linspace(0, L - dx, N) in float32; the
  // actuators are Gaussians exp(-(x - c)^2 / 2) / sqrt(2 pi) centred at
  // c = k L / 4, not periodized.
  const float end = static_cast<float>(kLength - kDx);
  const float step = end / static_cast<float>(kN - 1);
  for (int j = 0; j < kN; ++j) {
    const float x = j < kN / 2 ? step * static_cast<float>(j)
                               : end - step * static_cast<float>(kN - 1 - j);
    for (int k = 0; k < kNumActuators; ++k) {
      const double d = static_cast<double>(x) - k * kLength / kNumActuators;
      profiles_[k][j] =
          static_cast<float>(std::exp(-d * d / 2) / std::sqrt(2 * kPi));
    }
  }
}

absl::Status Ks::Reset(uint64_t seed, absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("observation", observation.size(), kGridSize));
  env_internal::SeededRng rng(seed);
  InitialState(static_cast<int>(rng.Below(kNumInitialStates)), u_);
  clock_.Start();
  std::memcpy(observation.data(), u_, sizeof(u_));
  return absl::OkStatus();
}

absl::Status Ks::SetState(absl::Span<const double> state,
                          absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("state", state.size(), kGridSize));
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("observation", observation.size(), kGridSize));
  for (int j = 0; j < kN; ++j) u_[j] = static_cast<float>(state[j]);
  clock_.Start();
  std::memcpy(observation.data(), u_, sizeof(u_));
  return absl::OkStatus();
}

absl::StatusOr<StepResult> Ks::Step(const Action& action,
                                    absl::Span<float> observation) {
  SHOAL_RETURN_IF_ERROR(clock_.CheckActive());
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckBoxAction(action.box, kNumActuators));
  SHOAL_RETURN_IF_ERROR(
      env_internal::CheckSize("observation", observation.size(), kGridSize));
  return StepUnchecked(action, observation.data());
}

StepResult Ks::StepUnchecked(const Action& action, float* observation) {
  alignas(64) float forcing[kN];
  const float* a = action.box.data();
  for (int j = 0; j < kN; ++j) {
    forcing[j] = a[0] * profiles_[0][j] + a[1] * profiles_[1][j] +
                 a[2] * profiles_[2][j] + a[3] * profiles_[3][j];
  }
  const float r = Integrate(u_, forcing);
  StepResult result;
  result.reward = static_cast<double>(-r / kSubstepsF);
  result.terminated = false;
  result.truncated = clock_.Tick(/*terminated=*/false);
  std::memcpy(observation, u_, sizeof(u_));
  return result;
}

}  // namespace shoal
