// Closed-loop load on medgemma-server's Classifier at one concurrency level, generated as Triton's
// perf_analyzer does in concurrency mode: a fixed number of requests always outstanding, a warm-up
// whose completions are not counted, then a measurement window in which every completion is.
//
// unary:  `concurrency` threads, each keeping one Classify call in flight (a new one as soon as the
//         last is answered).
// stream: `concurrency` requests in flight over min(streams, concurrency) ClassifyStream calls,
//         split as evenly as possible; each stream sends as soon as it has a free slot. One stream
//         (the default) is a PACS sending a study; more streams model several studies at once.
#pragma once

#include <absl/time/time.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/connection.h"
#include "medgemma/v1/classifier.grpc.pb.h"

namespace medgemma::cli {

struct LoadOptions {
  enum class Mode { kUnary, kStream };
  Mode mode = Mode::kUnary;
  int streams = 1;
  absl::Duration warm_up = absl::Seconds(2);
  absl::Duration window = absl::Seconds(5);
  int64_t window_requests = 0;  // > 0: the window also closes once this many requests completed in it
  // unary: each call's deadline; both: how long a level's last requests may take once load stops
  // (then open streams are cancelled).
  absl::Duration request_timeout = absl::Seconds(30);
};

// Requests completed inside one window.
struct LevelTally {
  int concurrency = 0;
  double window_seconds = 0;
  int64_t ok = 0;
  // By gRPC status code name (a stream request that failed alone carries its own code in the
  // answer); NO_RESPONSE: a stream ended without answering the request.
  std::map<std::string, int64_t> errors;
  std::vector<double> latencies_ms;  // of the ok requests, send to answer

  int64_t error_count() const;
};

class LoadGenerator {
 public:
  // `requests` (one per image, adapter set) are sent round-robin, shared by all workers.
  LoadGenerator(Connection connection, std::vector<v1::ClassifyRequest> requests, LoadOptions options);

  // Warm-up, then the window. `at_window_open` runs just before the window opens and
  // `at_window_close` just after it closes, on this thread, with the load still running (the bench
  // scrapes the server's metrics there, so they cover the window alone).
  LevelTally Run(int concurrency, const std::function<void()>& at_window_open,
                 const std::function<void()>& at_window_close) const;

 private:
  struct Level;
  struct WorkerTally;

  void UnaryWorker(Level& level, WorkerTally& tally) const;
  void StreamWorker(Level& level, WorkerTally& tally, int in_flight) const;
  // One ClassifyStream until load stops or the stream breaks.
  void RunStream(Level& level, WorkerTally& tally, int in_flight) const;
  const v1::ClassifyRequest& NextRequest(Level& level) const;

  const Connection connection_;
  const std::unique_ptr<v1::Classifier::Stub> stub_;
  const std::vector<v1::ClassifyRequest> requests_;
  const LoadOptions options_;
};

}  // namespace medgemma::cli
