#include "actor/eval_round.h"

#include "gtest/gtest.h"

namespace shoal {
namespace {

TEST(EvalRoundTest, CountsTheFirstEpisodeOfEachEnvOnly) {
  EvalRound round(3);
  round.Start(/*version=*/7);
  EXPECT_TRUE(round.Record(0, 10.0));
  EXPECT_FALSE(round.Record(0, 500.0));  // env 0 auto-reset: not counted
  EXPECT_FALSE(round.complete());
  EXPECT_TRUE(round.Record(2, 20.0));
  EXPECT_TRUE(round.Record(1, 30.0));
  EXPECT_TRUE(round.complete());
  EXPECT_EQ(round.episodes(), 3);
  EXPECT_DOUBLE_EQ(round.mean_return(), 20.0);
  EXPECT_EQ(round.version(), 7);
  EXPECT_FALSE(round.Record(3, 1.0));  // no such env
  EXPECT_FALSE(round.Record(-1, 1.0));

  round.Start(/*version=*/8);
  EXPECT_EQ(round.rounds(), 2);
  EXPECT_EQ(round.episodes(), 0);
  EXPECT_DOUBLE_EQ(round.mean_return(), 0.0);
  EXPECT_TRUE(round.Record(0, 4.0));
  EXPECT_DOUBLE_EQ(round.mean_return(), 4.0);
}

}  // namespace
}  // namespace shoal
