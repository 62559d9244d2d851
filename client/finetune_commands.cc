#include "client/finetune_commands.h"

#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>

#include <unistd.h>

#include <chrono>
#include <iostream>

#include "client/connection.h"
#include "engine/status_macros.h"
#include "medgemma/v1/trainer.grpc.pb.h"
#include "rpc/grpc_status.h"

namespace medgemma::cli {
namespace {

const std::set<std::string> kStartFlags = {
    "adapter-name", "breakhis-root", "folds-csv", "fold", "magnification", "train-csv", "eval-csv", "r", "alpha",
    "dropout", "target-modules", "epochs", "lr", "micro-batch-size", "grad-accum", "warmup-ratio", "max-grad-norm",
    "seed", "loss", "max-steps", "min-accuracy"};

absl::StatusOr<v1::FineTuneRequest> StartRequest(const Args& args) {
  v1::FineTuneRequest r;
  MG_ASSIGN_OR_RETURN(*r.mutable_adapter_name(), args.Require("adapter-name"));
  if (args.Has("breakhis-root")) {
    auto* b = r.mutable_dataset()->mutable_breakhis();
    b->set_root(args.Get("breakhis-root"));
    b->set_folds_csv(args.Get("folds-csv"));
    MG_ASSIGN_OR_RETURN(int64_t fold, args.GetInt("fold", 1));
    MG_ASSIGN_OR_RETURN(int64_t mag, args.GetInt("magnification", 100));
    b->set_fold(static_cast<int32_t>(fold));
    b->set_magnification(static_cast<int32_t>(mag));
    b->set_balance(!args.Has("no-balance"));
  } else if (args.Has("train-csv") || args.Has("eval-csv")) {
    r.mutable_dataset()->mutable_manifest()->set_train_csv(args.Get("train-csv"));
    r.mutable_dataset()->mutable_manifest()->set_eval_csv(args.Get("eval-csv"));
  }
  auto* h = r.mutable_hyperparameters();
  MG_ASSIGN_OR_RETURN(int64_t rank, args.GetInt("r", 0));
  MG_ASSIGN_OR_RETURN(double alpha, args.GetDouble("alpha", 0));
  MG_ASSIGN_OR_RETURN(double dropout, args.GetDouble("dropout", 0));
  MG_ASSIGN_OR_RETURN(int64_t epochs, args.GetInt("epochs", 0));
  MG_ASSIGN_OR_RETURN(double lr, args.GetDouble("lr", 0));
  MG_ASSIGN_OR_RETURN(int64_t micro, args.GetInt("micro-batch-size", 0));
  MG_ASSIGN_OR_RETURN(int64_t accum, args.GetInt("grad-accum", 0));
  MG_ASSIGN_OR_RETURN(double warmup, args.GetDouble("warmup-ratio", 0));
  MG_ASSIGN_OR_RETURN(double clip, args.GetDouble("max-grad-norm", 0));
  MG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0));
  MG_ASSIGN_OR_RETURN(int64_t max_steps, args.GetInt("max-steps", 0));
  h->set_lora_r(static_cast<int32_t>(rank));
  h->set_lora_alpha(static_cast<float>(alpha));
  h->set_lora_dropout(static_cast<float>(dropout));
  if (args.Has("target-modules")) {
    for (const auto& m : absl::StrSplit(args.Get("target-modules"), ',')) h->add_target_modules(std::string(m));
  }
  h->set_epochs(static_cast<int32_t>(epochs));
  h->set_learning_rate(static_cast<float>(lr));
  h->set_micro_batch_size(static_cast<int32_t>(micro));
  h->set_gradient_accumulation_steps(static_cast<int32_t>(accum));
  h->set_warmup_ratio(static_cast<float>(warmup));
  h->set_max_grad_norm(static_cast<float>(clip));
  h->set_seed(seed);
  h->set_max_steps(static_cast<int32_t>(max_steps));
  const std::string loss = args.Get("loss", "full");
  if (loss != "full" && loss != "answer") return absl::InvalidArgumentError("--loss must be full or answer");
  h->set_loss(loss == "answer" ? v1::ANSWER_ONLY : v1::FULL_SEQUENCE);
  MG_ASSIGN_OR_RETURN(double min_accuracy, args.GetDouble("min-accuracy", 0));
  r.mutable_promote()->set_enabled(args.Has("promote"));
  r.mutable_promote()->set_min_accuracy(static_cast<float>(min_accuracy));
  r.mutable_promote()->set_require_improvement(args.Has("require-improvement"));
  return r;
}

std::string StatusLine(const v1::JobStatus& s) {
  return absl::StrFormat("%s  %s  %-9s epoch %d/%d  step %d/%d  loss %.4f  lr %.2e  %.1f samples/s  eta %.0fs",
                         s.job_id(), s.adapter_name(), v1::JobState_Name(s.state()), s.epoch(), s.total_epochs(),
                         s.step(), s.total_steps(), s.train_loss(), s.learning_rate(), s.samples_per_second(),
                         s.eta_seconds());
}

void PrintEvalTable(const v1::JobStatus& s) {
  std::cout << absl::StrFormat("%-10s %9s %11s %10s %9s %6s\n", "eval", "accuracy", "f1_weighted", "binary_acc",
                               "binary_f1", "n");
  auto row = [](const std::string& name, const v1::EvalMetrics& m) {
    std::cout << absl::StrFormat("%-10s %9.4f %11.4f %10.4f %9.4f %6d\n", name, m.accuracy(), m.f1_weighted(),
                                 m.binary_accuracy(), m.binary_f1(), m.num_examples());
  };
  if (s.has_baseline()) row("baseline", s.baseline());
  for (int i = 0; i < s.per_epoch_size(); ++i) row(absl::StrCat("epoch ", i + 1), s.per_epoch(i));
}

void PrintOutcome(const v1::JobStatus& s) {
  std::cout << StatusLine(s) << "\n";
  PrintEvalTable(s);
  if (!s.adapter_path().empty()) std::cout << "adapter: " << s.adapter_path() << "\n";
  if (!s.promotion_message().empty()) {
    std::cout << (s.promoted() ? "promoted: " : "not promoted: ") << s.promotion_message() << "\n";
  }
  if (!s.error().empty()) std::cout << "error: " << s.error() << "\n";
}

absl::Status Outcome(const v1::JobStatus& s) {
  if (s.state() == v1::SUCCEEDED) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat("job ", s.job_id(), " ended ", v1::JobState_Name(s.state()),
                                         s.error().empty() ? "" : ": ", s.error()));
}

absl::Status Watch(const Connection& c, const std::string& job_id) {
  auto stub = v1::Trainer::NewStub(c.channel);
  grpc::ClientContext context;
  c.Authorize(&context);
  v1::GetStatusRequest request;
  request.set_job_id(job_id);
  auto reader = stub->WatchJob(&context, request);
  v1::JobStatus status;
  bool any = false;
  // A terminal gets a live bar (redrawn at most 5 times a second); a log gets one line per epoch.
  const bool live = isatty(STDERR_FILENO);
  auto last_draw = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  int last_epoch = -1;
  while (reader->Read(&status)) {
    any = true;
    if (status.total_steps() == 0) continue;
    const auto now = std::chrono::steady_clock::now();
    const bool done = status.step() == status.total_steps();
    const std::string suffix = absl::StrFormat(" epoch %d/%d  loss %.4f  %.1f samples/s  eta %.0fs ", status.epoch(),
                                               status.total_epochs(), status.train_loss(),
                                               status.samples_per_second(), status.eta_seconds());
    if (live && (done || now - last_draw >= std::chrono::milliseconds(200))) {
      DrawProgress(static_cast<size_t>(status.step()), static_cast<size_t>(status.total_steps()), suffix);
      last_draw = now;
    } else if (!live && status.epoch() != last_epoch) {
      std::cerr << "step " << status.step() << "/" << status.total_steps() << suffix << "\n";
      last_epoch = status.epoch();
    }
  }
  MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(reader->Finish()));
  if (!any) return absl::UnavailableError("the trainer sent no status");
  PrintOutcome(status);
  return Outcome(status);
}

}  // namespace

absl::Status Finetune(const std::vector<std::string>& argv) {
  std::set<std::string> value_flags = ConnectionFlags("trainer");
  value_flags.insert(kStartFlags.begin(), kStartFlags.end());
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, value_flags,
                                             {"promote", "require-improvement", "no-balance", "watch"}));
  if (args.positional().empty()) return absl::InvalidArgumentError("finetune needs start|status|watch|cancel|list");
  const std::string& verb = args.positional()[0];
  MG_ASSIGN_OR_RETURN(Connection c, Connect(args, "trainer"));
  auto stub = v1::Trainer::NewStub(c.channel);
  grpc::ClientContext context;
  c.Authorize(&context);
  auto job_id = [&]() -> absl::StatusOr<std::string> {
    if (args.positional().size() != 2) return absl::InvalidArgumentError(absl::StrCat("finetune ", verb, " JOB_ID"));
    return args.positional()[1];
  };
  if (verb == "start") {
    MG_ASSIGN_OR_RETURN(v1::FineTuneRequest request, StartRequest(args));
    v1::Job job;
    MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->StartFineTune(&context, request, &job)));
    std::cout << job.job_id() << "\n" << std::flush;
    return args.Has("watch") ? Watch(c, job.job_id()) : absl::OkStatus();
  }
  if (verb == "status" || verb == "cancel") {
    MG_ASSIGN_OR_RETURN(std::string id, job_id());
    v1::JobStatus status;
    if (verb == "status") {
      v1::GetStatusRequest request;
      request.set_job_id(id);
      MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->GetStatus(&context, request, &status)));
    } else {
      v1::CancelJobRequest request;
      request.set_job_id(id);
      MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->CancelJob(&context, request, &status)));
    }
    PrintOutcome(status);
    return absl::OkStatus();
  }
  if (verb == "watch") {
    MG_ASSIGN_OR_RETURN(std::string id, job_id());
    return Watch(c, id);
  }
  if (verb == "list") {
    v1::ListJobsResponse response;
    MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->ListJobs(&context, v1::ListJobsRequest(), &response)));
    for (const auto& s : response.jobs()) std::cout << StatusLine(s) << "\n";
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown finetune command '", verb, "'"));
}

}  // namespace medgemma::cli
