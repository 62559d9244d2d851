#include "client/server_commands.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <iostream>
#include <algorithm>
#include <map>
#include <vector>

#include "base/flags.h"
#include "client/connection.h"
#include "client/dicom_sr.h"
#include "client/image_files.h"
#include "base/file_util.h"
#include "base/status_macros.h"
#include "medgemma/v1/classifier.grpc.pb.h"
#include "rpc/credentials.h"
#include "rpc/grpc_status.h"

namespace medgemma::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
json DicomJson(const v1::DicomInstance& d) {
  return {{"study_instance_uid", d.study_instance_uid()}, {"series_instance_uid", d.series_instance_uid()},
          {"sop_instance_uid", d.sop_instance_uid()}, {"frame", d.frame()}, {"frames", d.frames()}};
}

// How many responses a file's request gets: one per frame for a multi-frame DICOM file (sent
// without a frame), else one. Known from any of its responses.
size_t ExpectedResponses(const v1::ClassifyResponse& r) {
  return r.has_dicom() && r.dicom().frames() > 1 ? static_cast<size_t>(r.dicom().frames()) : 1;
}

json ResponseJson(const v1::ClassifyResponse& r) {
  json probs = json::array();
  for (const auto& p : r.probabilities()) probs.push_back({{"label", p.label()}, {"name", p.name()}, {"probability", p.probability()}});
  json out = {{"label", r.label()}, {"label_name", r.label_name()}, {"confidence", r.confidence()}, {"group", r.group()},
              {"group_probability", r.group_probability()}, {"adapter", r.adapter()}, {"adapter_version", r.adapter_version()},
              {"batch_size", r.batch_size()}, {"total_ms", r.timing().total_ms()}, {"probabilities", probs}};
  if (r.has_dicom()) out["dicom"] = DicomJson(r.dicom());
  return out;
}

json AdapterJson(const v1::AdapterInfo& a) {
  return {{"name", a.name()}, {"version", a.version()}, {"path", a.path()}, {"rank", a.rank()}, {"alpha", a.alpha()},
          {"loaded_at", a.loaded_at()}, {"is_default", a.is_default()}};
}
}  // namespace

absl::Status ClassifyRemote(const std::vector<std::string>& argv) {
  static const FlagSet flags = FlagSet("medgemma-cli classify --server HOST:PORT [flags] FILE|DIR...\n"
                                       "       (DICOM files, .dcm: every frame, one line each)",
                                       {{"adapter", "NAME", "adapter to classify with (default: the server's default)"},
                                        {"json", "", "print JSON instead of one line per image"},
                                        {"dicom-sr", "DIR", "write a DICOM Structured Report per DICOM file classified (DIR/<name>.sr.dcm)"}})
                                   .Add(ConnectionFlags("server"));
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
  MG_ASSIGN_OR_RETURN(std::vector<fs::path> files, ExpandImagePaths(args.positional(), /*dicom=*/true));
  const fs::path sr_dir = args.Get("dicom-sr");
  if (!sr_dir.empty() && !fs::is_directory(sr_dir)) {
    return absl::InvalidArgumentError(absl::StrCat("--dicom-sr ", sr_dir.string(), ": not a directory"));
  }
  MG_ASSIGN_OR_RETURN(Connection connection, Connect(args, "server"));
  bool any_directory = false;
  for (const auto& p : args.positional()) any_directory |= fs::is_directory(p);
  auto stub = v1::Classifier::NewStub(connection.channel);
  grpc::ClientContext context;
  connection.Authorize(&context);
  // One stream for the whole set, as a PACS sends a study: the server batches across it.
  auto stream = stub->ClassifyStream(&context);
  // At most kWindow files in flight: the server bounds its queue, and a study of thousands of
  // images must not overrun it (the server paces a multi-frame file's frames itself).
  constexpr size_t kWindow = 64;
  std::mutex mu;
  std::condition_variable answered;
  size_t received = 0;
  std::thread writer([&] {
    for (size_t i = 0; i < files.size(); ++i) {
      {
        std::unique_lock<std::mutex> lock(mu);
        answered.wait(lock, [&] { return i < received + kWindow; });
      }
      v1::ClassifyRequest request;
      request.set_request_id(std::to_string(i));
      request.set_adapter(args.Get("adapter"));
      auto bytes = ReadFileToString(files[i]);
      if (bytes.ok() && IsDicomFile(files[i])) {
        request.mutable_image()->set_dicom(*std::move(bytes));  // every frame: one response each
      } else if (bytes.ok()) {
        request.mutable_image()->set_encoded(*std::move(bytes));
      }
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  std::map<size_t, std::vector<v1::ClassifyResponse>> responses;  // by file, then frame
  v1::ClassifyResponse response;
  size_t files_done = 0;
  while (stream->Read(&response)) {
    std::vector<v1::ClassifyResponse>& of_file = responses[std::stoul(response.request_id())];
    of_file.push_back(response);
    if (of_file.size() != ExpectedResponses(response)) continue;
    ++files_done;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++received;
    }
    answered.notify_one();
    if (any_directory) DrawProgress(files_done, files.size());
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    received = files.size() + kWindow;  // a broken stream releases the writer
  }
  answered.notify_one();
  writer.join();
  MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stream->Finish()));
  json all = json::array();
  bool any_failed = false;
  for (size_t i = 0; i < files.size(); ++i) {
    std::vector<v1::ClassifyResponse> answers = responses[i];
    std::sort(answers.begin(), answers.end(),
              [](const v1::ClassifyResponse& a, const v1::ClassifyResponse& b) { return a.dicom().frame() < b.dicom().frame(); });
    if (answers.empty()) answers.emplace_back().mutable_error()->set_message("no response");
    for (const v1::ClassifyResponse& r : answers) {
      const bool failed = r.has_error();
      any_failed |= failed;
      // A frame of a multi-frame file is named FILE#FRAME.
      const bool frame_of_many = r.has_dicom() && r.dicom().frames() > 1;
      const std::string name = frame_of_many ? absl::StrCat(files[i].string(), "#", r.dicom().frame()) : files[i].string();
      if (args.Has("json")) {
        json out = failed ? json{{"error", r.error().message()}} : ResponseJson(r);
        if (failed && r.has_dicom()) out["dicom"] = DicomJson(r.dicom());
        out["file"] = files[i].string();
        all.push_back(out);
      } else if (failed) {
        std::cerr << name << ": " << r.error().message() << "\n";
      } else {
        std::printf("%s\t%d %s\tp=%.3f\t%s %.3f\tadapter=%s\n", name.c_str(), r.label(), r.label_name().c_str(),
                    r.confidence(), r.group().c_str(), r.group_probability(), r.adapter().empty() ? "base" : r.adapter().c_str());
      }
    }
    if (!sr_dir.empty() && IsDicomFile(files[i])) {
      absl::StatusOr<fs::path> report = WriteClassificationSr(files[i], answers, sr_dir);
      any_failed |= !report.ok();
      if (report.ok()) {
        std::cerr << files[i].string() << ": DICOM SR " << report->string() << "\n";
      } else {
        std::cerr << files[i].string() << ": " << report.status().message() << "\n";
      }
    }
  }
  if (args.Has("json")) std::cout << all.dump(2) << "\n";
  return any_failed ? absl::InvalidArgumentError("some images could not be classified") : absl::OkStatus();
}

absl::Status Adapters(const std::vector<std::string>& argv) {
  static const FlagSet flags =
      FlagSet("medgemma-cli adapters list | load NAME PATH | unload NAME | set-default [NAME]  --server HOST:PORT [flags]",
              {{"default", "", "load: also make it the default adapter"}})
          .Add(ConnectionFlags("server"));
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
  const auto& pos = args.positional();
  if (pos.empty()) return absl::InvalidArgumentError("adapters needs list, load, unload or set-default");
  MG_ASSIGN_OR_RETURN(Connection connection, Connect(args, "server"));
  auto stub = v1::AdapterAdmin::NewStub(connection.channel);
  grpc::ClientContext context;
  connection.Authorize(&context);
  const std::string& verb = pos[0];
  if (verb == "list") {
    v1::ListAdaptersResponse response;
    MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->ListAdapters(&context, v1::ListAdaptersRequest(), &response)));
    json out = {{"default_adapter", response.default_adapter()}, {"adapters", json::array()}};
    for (const auto& a : response.adapters()) out["adapters"].push_back(AdapterJson(a));
    std::cout << out.dump(2) << "\n";
  } else if (verb == "load" && pos.size() == 3) {
    v1::LoadAdapterRequest request;
    request.set_name(pos[1]);
    request.set_path(fs::absolute(pos[2]).string());
    request.set_set_default(args.Has("default"));
    v1::AdapterInfo info;
    MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->LoadAdapter(&context, request, &info)));
    std::cout << AdapterJson(info).dump(2) << "\n";
  } else if (verb == "unload" && pos.size() == 2) {
    v1::UnloadAdapterRequest request;
    request.set_name(pos[1]);
    v1::UnloadAdapterResponse response;
    MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->UnloadAdapter(&context, request, &response)));
    std::cout << "unloaded " << pos[1] << "\n";
  } else if (verb == "set-default" && pos.size() <= 2) {
    v1::SetDefaultAdapterRequest request;
    request.set_name(pos.size() == 2 ? pos[1] : "");
    v1::AdapterInfo info;
    MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->SetDefaultAdapter(&context, request, &info)));
    std::cout << "default adapter: " << (request.name().empty() ? "(base model)" : request.name()) << "\n";
  } else {
    return absl::InvalidArgumentError("usage: adapters list | load NAME PATH [--default] | unload NAME | set-default [NAME]");
  }
  return absl::OkStatus();
}

}  // namespace medgemma::cli
