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
#include <map>

#include "base/flags.h"
#include "client/connection.h"
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
json ResponseJson(const v1::ClassifyResponse& r) {
  json probs = json::array();
  for (const auto& p : r.probabilities()) probs.push_back({{"label", p.label()}, {"name", p.name()}, {"probability", p.probability()}});
  return {{"label", r.label()}, {"label_name", r.label_name()}, {"confidence", r.confidence()}, {"group", r.group()},
          {"group_probability", r.group_probability()}, {"adapter", r.adapter()}, {"adapter_version", r.adapter_version()},
          {"batch_size", r.batch_size()}, {"total_ms", r.timing().total_ms()}, {"probabilities", probs}};
}

json AdapterJson(const v1::AdapterInfo& a) {
  return {{"name", a.name()}, {"version", a.version()}, {"path", a.path()}, {"rank", a.rank()}, {"alpha", a.alpha()},
          {"loaded_at", a.loaded_at()}, {"is_default", a.is_default()}};
}
}  // namespace

absl::Status ClassifyRemote(const std::vector<std::string>& argv) {
  static const FlagSet flags = FlagSet("medgemma-cli classify --server HOST:PORT [flags] FILE|DIR...",
                                       {{"adapter", "NAME", "adapter to classify with (default: the server's default)"},
                                        {"json", "", "print JSON instead of one line per image"}})
                                   .Add(ConnectionFlags("server"));
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
  MG_ASSIGN_OR_RETURN(std::vector<fs::path> files, ExpandImagePaths(args.positional()));
  MG_ASSIGN_OR_RETURN(Connection connection, Connect(args, "server"));
  bool any_directory = false;
  for (const auto& p : args.positional()) any_directory |= fs::is_directory(p);
  auto stub = v1::Classifier::NewStub(connection.channel);
  grpc::ClientContext context;
  connection.Authorize(&context);
  // One stream for the whole set, as a PACS sends a study: the server batches across it.
  auto stream = stub->ClassifyStream(&context);
  // At most kWindow requests in flight: the server bounds its queue, and a study of thousands of
  // images must not overrun it.
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
      if (bytes.ok()) request.mutable_image()->set_encoded(*std::move(bytes));
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  std::map<size_t, v1::ClassifyResponse> responses;
  v1::ClassifyResponse response;
  while (stream->Read(&response)) {
    responses[std::stoul(response.request_id())] = response;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++received;
    }
    answered.notify_one();
    if (any_directory) DrawProgress(responses.size(), files.size());
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
    auto it = responses.find(i);
    const bool failed = it == responses.end() || it->second.has_error();
    any_failed |= failed;
    const std::string error = it == responses.end() ? "no response" : it->second.error().message();
    if (args.Has("json")) {
      json r = failed ? json{{"error", error}} : ResponseJson(it->second);
      r["file"] = files[i].string();
      all.push_back(r);
    } else if (failed) {
      std::cerr << files[i].string() << ": " << error << "\n";
    } else {
      const auto& r = it->second;
      std::printf("%s\t%d %s\tp=%.3f\t%s %.3f\tadapter=%s\n", files[i].c_str(), r.label(), r.label_name().c_str(),
                  r.confidence(), r.group().c_str(), r.group_probability(), r.adapter().empty() ? "base" : r.adapter().c_str());
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
