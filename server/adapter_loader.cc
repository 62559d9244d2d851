#include "server/adapter_loader.h"

#include <absl/strings/str_cat.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "base/log.h"

namespace medgemma::server {

struct AdapterLoader::Pending {
  std::string name, path;
  bool set_default = false;
  absl::Time deadline;
  Done done;
  std::atomic<bool> claimed{false};

  // True for the first caller only: the one that answers.
  bool Claim() { return !claimed.exchange(true); }
  void Answer(absl::StatusOr<AdapterHandle> result) {
    if (Claim()) done(std::move(result));
  }
};

AdapterLoader::AdapterLoader(AdapterRegistry* registry, Options options)
    : AdapterLoader([registry](const std::string& name, const std::string& path) { return registry->Prepare(name, path); },
                    [registry](AdapterHandle prepared, bool set_default) {
                      return registry->Publish(std::move(prepared), set_default);
                    },
                    options) {}

AdapterLoader::AdapterLoader(Prepare prepare, Publish publish, Options options)
    : prepare_(std::move(prepare)), publish_(std::move(publish)), options_(options) {
  worker_ = std::thread([this] { WorkLoop(); });
  watchdog_ = std::thread([this] { WatchLoop(); });
}

AdapterLoader::~AdapterLoader() { Stop(); }

void AdapterLoader::Stop() {
  std::deque<std::shared_ptr<Pending>> unanswered;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    unanswered.swap(unanswered_);
    waiting_.clear();
  }
  for (auto& pending : unanswered) pending->Answer(absl::UnavailableError("the server is shutting down"));
  watchdog_.join();
  worker_.join();
}

absl::Status AdapterLoader::Submit(std::string name, std::string path, bool set_default, Done done) {
  auto pending = std::make_shared<Pending>();
  pending->name = std::move(name);
  pending->path = std::move(path);
  pending->set_default = set_default;
  pending->deadline = absl::Now() + options_.timeout;
  pending->done = std::move(done);
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (static_cast<int>(waiting_.size()) >= options_.max_waiting) {
    return absl::ResourceExhaustedError(
        absl::StrCat(waiting_.size(), " adapter loads are already waiting; try again when they are done"));
  }
  waiting_.push_back(pending);
  unanswered_.push_back(std::move(pending));
  return absl::OkStatus();
}

void AdapterLoader::WorkLoop() {
  while (true) {
    std::shared_ptr<Pending> pending;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AdapterLoader* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->waiting_.empty();
          },
          this));
      if (stopping_) return;
      pending = waiting_.front();
      waiting_.pop_front();
    }
    if (pending->claimed) continue;  // timed out while it waited
    auto prepared = prepare_(pending->name, pending->path);
    if (!pending->Claim()) {
      LogWarning("adapter load finished after its caller was answered; not published",
                 {{"name", pending->name}, {"path", pending->path}});
      continue;
    }
    if (prepared.ok()) prepared = publish_(std::move(*prepared), pending->set_default);
    pending->done(std::move(prepared));
  }
}

void AdapterLoader::WatchLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = absl::Now();
    absl::Time next = now + absl::Seconds(1);
    std::deque<std::shared_ptr<Pending>> all;
    all.swap(unanswered_);
    std::vector<std::shared_ptr<Pending>> expired;
    for (auto& pending : all) {
      if (pending->claimed) continue;
      if (pending->deadline <= now) {
        expired.push_back(std::move(pending));
      } else {
        next = std::min(next, pending->deadline);
        unanswered_.push_back(std::move(pending));
      }
    }
    if (!expired.empty()) {
      mu_.Unlock();  // `done` finishes a gRPC call: never under our lock
      for (auto& pending : expired) {
        pending->Answer(absl::DeadlineExceededError(absl::StrCat("loading adapter '", pending->name, "' from ",
                                                                 pending->path, " took longer than ",
                                                                 absl::FormatDuration(options_.timeout))));
      }
      mu_.Lock();
      continue;
    }
    mu_.AwaitWithDeadline(absl::Condition(&stopping_), next);
  }
}

}  // namespace medgemma::server
