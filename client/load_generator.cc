#include "client/load_generator.h"

#include <absl/base/thread_annotations.h>
#include <absl/status/status.h>
#include <absl/synchronization/mutex.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

namespace medgemma::cli {
namespace {

using Clock = std::chrono::steady_clock;

enum class Phase { kWarmUp, kWindow, kCoolDown, kStop };

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string CodeName(int grpc_code) { return absl::StatusCodeToString(static_cast<absl::StatusCode>(grpc_code)); }

// One stream's requests in flight, shared by its writer and its reader.
struct StreamState {
  explicit StreamState(int in_flight) : in_flight(static_cast<size_t>(in_flight)) {}

  const size_t in_flight;  // the most requests the writer keeps unanswered
  absl::Mutex mu;
  std::map<std::string, Clock::time_point> outstanding ABSL_GUARDED_BY(mu);  // request id -> sent
  bool read_done ABSL_GUARDED_BY(mu) = false;
};

}  // namespace

// What the workers of one level share.
struct LoadGenerator::Level {
  explicit Level(int64_t target) : window_target(target) {}

  std::atomic<Phase> phase{Phase::kWarmUp};
  std::atomic<uint64_t> next_request{0};
  const int64_t window_target;  // 0: none
  absl::Mutex mu;
  int64_t in_window ABSL_GUARDED_BY(mu) = 0;  // completions recorded in the window
  int workers_running ABSL_GUARDED_BY(mu) = 0;
  // Open streams, so that Run can cancel the ones that do not drain once load stops.
  std::set<grpc::ClientContext*> streams ABSL_GUARDED_BY(mu);
};

// One worker's own counts, merged after the join (no lock on the per-request path but `in_window`).
struct LoadGenerator::WorkerTally {
  int64_t ok = 0;
  std::map<std::string, int64_t> errors;
  std::vector<double> latencies_ms;

  // A completion: counted only inside the window. `error` empty: the request succeeded.
  void Record(Level& level, const std::string& error, double ms) {
    if (level.phase.load() != Phase::kWindow) return;
    if (error.empty()) {
      ++ok;
      latencies_ms.push_back(ms);
    } else {
      ++errors[error];
    }
    absl::MutexLock lock(&level.mu);
    ++level.in_window;
  }
};

int64_t LevelTally::error_count() const {
  int64_t n = 0;
  for (const auto& [code, count] : errors) n += count;
  return n;
}

LoadGenerator::LoadGenerator(Connection connection, std::vector<v1::ClassifyRequest> requests, LoadOptions options)
    : connection_(std::move(connection)),
      stub_(v1::Classifier::NewStub(connection_.channel)),
      requests_(std::move(requests)),
      options_(options) {}

const v1::ClassifyRequest& LoadGenerator::NextRequest(Level& level) const {
  return requests_[level.next_request.fetch_add(1) % requests_.size()];
}

void LoadGenerator::UnaryWorker(Level& level, WorkerTally& tally) const {
  while (level.phase.load() != Phase::kStop) {
    const v1::ClassifyRequest& request = NextRequest(level);
    grpc::ClientContext context;
    connection_.Authorize(&context);
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.request_timeout));
    v1::ClassifyResponse response;
    const Clock::time_point sent = Clock::now();
    const grpc::Status status = stub_->Classify(&context, request, &response);
    tally.Record(level, status.ok() ? "" : CodeName(status.error_code()), MsSince(sent));
  }
}

void LoadGenerator::StreamWorker(Level& level, WorkerTally& tally, int in_flight) const {
  // A broken stream (the server restarting, a stream-level error) is replaced while load runs.
  while (level.phase.load() != Phase::kStop) RunStream(level, tally, in_flight);
}

void LoadGenerator::RunStream(Level& level, WorkerTally& tally, int in_flight) const {
  grpc::ClientContext context;
  connection_.Authorize(&context);
  {
    absl::MutexLock lock(&level.mu);
    // Checked under the lock Run cancels under: no stream opens after that cancel.
    if (level.phase.load() == Phase::kStop) return;
    level.streams.insert(&context);
  }
  auto stream = stub_->ClassifyStream(&context);
  StreamState state(in_flight);
  // The reader owns `tally` until it is joined; the writer is this thread.
  std::thread reader([&] {
    v1::ClassifyResponse response;
    while (stream->Read(&response)) {
      Clock::time_point sent;
      {
        absl::MutexLock lock(&state.mu);
        auto it = state.outstanding.find(response.request_id());
        if (it == state.outstanding.end()) continue;
        sent = it->second;
        state.outstanding.erase(it);
      }
      tally.Record(level, response.has_error() ? CodeName(response.error().code()) : "", MsSince(sent));
    }
    absl::MutexLock lock(&state.mu);
    state.read_done = true;
  });
  for (uint64_t sequence = 0; level.phase.load() != Phase::kStop; ++sequence) {
    {
      absl::MutexLock lock(&state.mu);
      state.mu.Await(absl::Condition(
          +[](StreamState* s)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return s->read_done || s->outstanding.size() < s->in_flight; },
          &state));
      if (state.read_done) break;
    }
    v1::ClassifyRequest request = NextRequest(level);
    request.set_request_id(std::to_string(sequence));
    {
      absl::MutexLock lock(&state.mu);
      state.outstanding[request.request_id()] = Clock::now();
    }
    if (!stream->Write(request)) break;
  }
  stream->WritesDone();
  reader.join();
  const grpc::Status status = stream->Finish();
  {
    absl::MutexLock lock(&level.mu);
    level.streams.erase(&context);
  }
  // Requests the stream never answered failed with it.
  size_t unanswered;
  {
    absl::MutexLock lock(&state.mu);
    unanswered = state.outstanding.size();
  }
  const std::string code = status.ok() ? "NO_RESPONSE" : CodeName(status.error_code());
  for (size_t i = 0; i < unanswered; ++i) tally.Record(level, code, 0);
}

LevelTally LoadGenerator::Run(int concurrency, const std::function<void()>& at_window_open,
                              const std::function<void()>& at_window_close) const {
  Level level(options_.window_requests);
  std::vector<int> in_flight;  // per worker
  if (options_.mode == LoadOptions::Mode::kUnary) {
    in_flight.assign(concurrency, 1);
  } else {
    const int streams = std::min(options_.streams, concurrency);
    for (int i = 0; i < streams; ++i) in_flight.push_back(concurrency / streams + (i < concurrency % streams ? 1 : 0));
  }
  std::vector<WorkerTally> tallies(in_flight.size());
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&level.mu);
    level.workers_running = static_cast<int>(in_flight.size());
  }
  for (size_t i = 0; i < in_flight.size(); ++i) {
    workers.emplace_back([this, &level, &tally = tallies[i], n = in_flight[i]] {
      if (options_.mode == LoadOptions::Mode::kUnary) {
        UnaryWorker(level, tally);
      } else {
        StreamWorker(level, tally, n);
      }
      absl::MutexLock lock(&level.mu);
      --level.workers_running;
    });
  }

  absl::SleepFor(options_.warm_up);
  at_window_open();
  const Clock::time_point open = Clock::now();
  level.phase.store(Phase::kWindow);
  {
    absl::MutexLock lock(&level.mu);
    level.mu.AwaitWithTimeout(absl::Condition(
                                  +[](Level* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->mu) {
                                    return l->window_target > 0 && l->in_window >= l->window_target;
                                  },
                                  &level),
                              options_.window);
  }
  level.phase.store(Phase::kCoolDown);
  const Clock::time_point close = Clock::now();
  at_window_close();
  level.phase.store(Phase::kStop);
  {
    // Unary calls end by their deadline; a stream that does not drain in as long is cancelled.
    absl::MutexLock lock(&level.mu);
    const bool drained = level.mu.AwaitWithTimeout(
        absl::Condition(
            +[](Level* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->mu) { return l->workers_running == 0; }, &level),
        options_.request_timeout);
    if (!drained) {
      for (grpc::ClientContext* stream : level.streams) stream->TryCancel();
    }
  }
  for (std::thread& worker : workers) worker.join();

  LevelTally result;
  result.concurrency = concurrency;
  result.window_seconds = std::chrono::duration<double>(close - open).count();
  for (WorkerTally& t : tallies) {
    result.ok += t.ok;
    for (const auto& [code, n] : t.errors) result.errors[code] += n;
    result.latencies_ms.insert(result.latencies_ms.end(), t.latencies_ms.begin(), t.latencies_ms.end());
  }
  return result;
}

}  // namespace medgemma::cli
