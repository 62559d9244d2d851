#include "client/latency_stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace medgemma::cli {
namespace {

std::vector<double> OneTo(int n) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), 1.0);
  return v;
}

TEST(NearestRankPercentile, PicksAnObservedValueAtTheRank) {
  const std::vector<double> ten = OneTo(10);
  EXPECT_EQ(NearestRankPercentile(ten, 50), 5);
  EXPECT_EQ(NearestRankPercentile(ten, 90), 9);
  EXPECT_EQ(NearestRankPercentile(ten, 99), 10);
  EXPECT_EQ(NearestRankPercentile(ten, 100), 10);
  EXPECT_EQ(NearestRankPercentile(ten, 1), 1);
  EXPECT_EQ(NearestRankPercentile(ten, 55), 6);  // rank ceil(5.5) = 6
}

TEST(NearestRankPercentile, IntegerPercentilesOfHundredsAreExactRanks) {
  // 0.29 * 100 is 28.999... in floating point; the rank must still be 29, never 30 or 28.
  const std::vector<double> hundred = OneTo(100);
  for (int p = 1; p <= 100; ++p) EXPECT_EQ(NearestRankPercentile(hundred, p), p) << "p" << p;
  const std::vector<double> thousand = OneTo(1000);
  EXPECT_EQ(NearestRankPercentile(thousand, 99), 990);
  EXPECT_EQ(NearestRankPercentile(thousand, 99.9), 999);
}

TEST(NearestRankPercentile, SmallAndEmptyInputs) {
  EXPECT_EQ(NearestRankPercentile({}, 50), 0);
  EXPECT_EQ(NearestRankPercentile({7.5}, 1), 7.5);
  EXPECT_EQ(NearestRankPercentile({7.5}, 99), 7.5);
  EXPECT_EQ(NearestRankPercentile({1, 2}, 50), 1);
  EXPECT_EQ(NearestRankPercentile({1, 2}, 51), 2);
}

TEST(Summarize, SortsAndReportsMeanPercentilesAndMax) {
  std::vector<double> v = OneTo(200);
  std::shuffle(v.begin(), v.end(), std::mt19937(7));
  const LatencySummary s = Summarize(v);
  EXPECT_EQ(s.count, 200u);
  EXPECT_DOUBLE_EQ(s.mean_ms, 100.5);
  EXPECT_EQ(s.p50_ms, 100);
  EXPECT_EQ(s.p90_ms, 180);
  EXPECT_EQ(s.p99_ms, 198);
  EXPECT_EQ(s.max_ms, 200);
  EXPECT_LE(s.p50_ms, s.p90_ms);
  EXPECT_LE(s.p90_ms, s.p99_ms);
  EXPECT_LE(s.p99_ms, s.max_ms);
}

TEST(Summarize, OneSlowRequestShowsInTheTailOnly) {
  std::vector<double> v(99, 10.0);
  v.push_back(500);
  const LatencySummary s = Summarize(v);
  EXPECT_EQ(s.p50_ms, 10);
  EXPECT_EQ(s.p99_ms, 10);  // rank 99 of 100
  EXPECT_EQ(s.max_ms, 500);
  EXPECT_DOUBLE_EQ(s.mean_ms, (99 * 10.0 + 500) / 100);
}

TEST(Summarize, EmptyWindowIsAllZero) {
  const LatencySummary s = Summarize({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.mean_ms, 0);
  EXPECT_EQ(s.p50_ms, 0);
  EXPECT_EQ(s.p99_ms, 0);
  EXPECT_EQ(s.max_ms, 0);
}

}  // namespace
}  // namespace medgemma::cli
