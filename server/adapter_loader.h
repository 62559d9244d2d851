// Adapter loads (file reads, validation, the copy to the device) on a thread of their own: never on
// gRPC's callback threads, whose starvation would stall Classify and every other call, and never
// on the batcher's. One load runs at a time (they compete for the same disk and device); a bounded
// number wait. Each load has a deadline: past it the caller is answered DEADLINE_EXCEEDED, and a
// load that still finishes afterwards is dropped, never published.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/status/statusor.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "server/adapter_registry.h"

namespace medgemma::server {

class AdapterLoader {
 public:
  using Prepare = std::function<absl::StatusOr<AdapterHandle>(const std::string& name, const std::string& path)>;
  using Publish = std::function<AdapterHandle(AdapterHandle prepared, bool set_default)>;
  using Done = std::function<void(absl::StatusOr<AdapterHandle>)>;

  struct Options {
    int max_waiting = 4;                 // loads queued behind the running one
    absl::Duration timeout = absl::Minutes(2);
  };

  // Prepares through `registry` and publishes into it.
  AdapterLoader(AdapterRegistry* registry, Options options);
  AdapterLoader(Prepare prepare, Publish publish, Options options);
  ~AdapterLoader();
  // Answers every load not yet answered UNAVAILABLE and waits for the running one to return; later
  // Submits are UNAVAILABLE. Idempotent. Called before the gRPC server drains, whose shutdown
  // waits for every call to be answered.
  void Stop();

  // `done` runs exactly once, on the loader's threads: with the published adapter, the load's
  // error, DEADLINE_EXCEEDED after the timeout, or UNAVAILABLE at shutdown. RESOURCE_EXHAUSTED (and
  // no call of `done`) when max_waiting loads already wait.
  absl::Status Submit(std::string name, std::string path, bool set_default, Done done);

 private:
  // The one answer to one load, given by whichever of the worker or the watchdog claims it first.
  struct Pending;

  void WorkLoop();
  void WatchLoop();

  const Prepare prepare_;
  const Publish publish_;
  const Options options_;
  absl::Mutex mu_;
  std::deque<std::shared_ptr<Pending>> waiting_ ABSL_GUARDED_BY(mu_);
  // Every load not yet answered, waiting or running, for the watchdog.
  std::deque<std::shared_ptr<Pending>> unanswered_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_, watchdog_;
};

}  // namespace medgemma::server
