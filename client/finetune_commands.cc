#include "client/finetune_commands.h"

#include <absl/strings/str_format.h>

#include <unistd.h>

#include <chrono>
#include <iostream>

#include "client/connection.h"
#include "base/status_macros.h"
#include "medgemma/v1/trainer.grpc.pb.h"
#include "rpc/grpc_status.h"
#include "trainer/proto_flags.h"

namespace medgemma::cli {
namespace {

std::string StatusLine(const v1::JobStatus& s) {
  return absl::StrFormat(
      "%s  %s  %-9s epoch %d/%d  step %d/%d  loss %.4f  lr %.2e  %.1f samples/s  peak GPU %.1f GiB  eta %.0fs",
      s.job_id(), s.adapter_name(), v1::JobState_Name(s.state()), s.epoch(), s.total_epochs(), s.step(),
      s.total_steps(), s.train_loss(), s.learning_rate(), s.samples_per_second(),
      s.peak_gpu_memory_allocated_bytes() / double{1 << 30}, s.eta_seconds());
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
  // `finetune start` offers every FineTuneRequest field as a flag.
  MG_ASSIGN_OR_RETURN(trainer::MessageFlags start_flags, trainer::MessageFlags::For(v1::FineTuneRequest::descriptor()));
  const FlagSet flags =
      FlagSet("medgemma-cli finetune start|status JOB|watch JOB|cancel JOB|list --trainer HOST:PORT [flags]\n"
              "       (start takes FineTuneRequest's fields as flags)",
              {{"watch", "", "start: then follow the job until it ends"}})
          .Add(ConnectionFlags("trainer"))
          .Add(start_flags.Flags());
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
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
    v1::FineTuneRequest request;
    MG_RETURN_IF_ERROR(start_flags.Fill(args, &request));
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
