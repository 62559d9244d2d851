#include "trainer/promoter.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_join.h>
#include <grpcpp/grpcpp.h>

#include "base/file_util.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "medgemma/v1/classifier.grpc.pb.h"
#include "rpc/credentials.h"
#include "rpc/grpc_status.h"
#include "trainer/replica_addresses.h"

namespace medgemma::trainer {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(60);

struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::string token;
  void Prepare(grpc::ClientContext* context) const {
    context->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  }
};

// `tls_name`: the name the server's certificate must carry when `address` is one of its IPs.
absl::StatusOr<Connection> Connect(const TrainerConfig& config, const std::string& address,
                                   const std::string& tls_name) {
  MG_ASSIGN_OR_RETURN(auto credentials, rpc::MakeChannelCredentials(config.server_tls));
  grpc::ChannelArguments args;
  if (!config.server_tls.ca.empty() && tls_name != address) args.SetSslTargetNameOverride(tls_name);
  Connection c{grpc::CreateCustomChannel(address, credentials, args), ""};
  MG_ASSIGN_OR_RETURN(c.token, rpc::ReadBearerToken(config.server_token_file, config.server_token_env));
  return c;
}

// The accuracy of whatever `address` serves by default, on the eval images.
absl::StatusOr<double> ServedAccuracy(const Connection& c, const std::vector<LabeledImage>& images) {
  auto stub = v1::Classifier::NewStub(c.channel);
  int correct = 0;
  for (const auto& image : images) {
    v1::ClassifyRequest request;
    MG_ASSIGN_OR_RETURN(*request.mutable_image()->mutable_encoded(), ReadFileToString(image.path));
    v1::ClassifyResponse response;
    grpc::ClientContext context;
    c.Prepare(&context);
    MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->Classify(&context, request, &response)));
    correct += response.label() == image.label;
  }
  return images.empty() ? 0.0 : static_cast<double>(correct) / images.size();
}

absl::StatusOr<v1::AdapterInfo> LoadAsDefault(const Connection& c, const std::string& name, const std::string& path) {
  auto stub = v1::AdapterAdmin::NewStub(c.channel);
  v1::LoadAdapterRequest request;
  request.set_name(name);
  request.set_path(path);
  request.set_set_default(true);
  v1::AdapterInfo info;
  grpc::ClientContext context;
  c.Prepare(&context);
  MG_RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->LoadAdapter(&context, request, &info)));
  return info;
}

}  // namespace

PromotionOutcome Promote(const TrainerConfig& config, const v1::Promotion& promotion, const std::string& adapter_name,
                         const std::string& adapter_dir, const EvalMetrics& final_metrics,
                         const std::vector<LabeledImage>& eval_images) {
  if (final_metrics.accuracy < promotion.min_accuracy()) {
    return {false, false, absl::StrFormat("not promoted: accuracy %.4f < min_accuracy %.4f", final_metrics.accuracy,
                                   promotion.min_accuracy())};
  }
  std::vector<std::string> report{absl::StrFormat("gate passed: accuracy %.4f >= %.4f", final_metrics.accuracy,
                                                  promotion.min_accuracy())};
  if (promotion.require_improvement()) {
    auto first = Connect(config, config.servers.front(), config.servers.front());
    auto served = first.ok() ? ServedAccuracy(*first, eval_images) : absl::StatusOr<double>(first.status());
    if (!served.ok()) {
      return {false, true, absl::StrCat("not promoted: cannot measure ", config.servers.front(),
                                  "'s current default: ", served.status().ToString())};
    }
    if (final_metrics.accuracy <= *served) {
      return {false, false, absl::StrFormat("not promoted: accuracy %.4f is not better than the current default's %.4f on %s",
                                     final_metrics.accuracy, *served, config.servers.front())};
    }
    report.push_back(absl::StrFormat("current default on %s scores %.4f", config.servers.front(), *served));
  }
  bool all = true;
  std::vector<ReplicaAddress> replicas;
  for (const auto& server : config.servers) {
    for (auto& replica : ResolveReplicas(server)) replicas.push_back(std::move(replica));
  }
  for (const auto& [address, host] : replicas) {
    auto connection = Connect(config, address, host);
    auto info = connection.ok() ? LoadAsDefault(*connection, adapter_name, adapter_dir)
                                : absl::StatusOr<v1::AdapterInfo>(connection.status());
    if (info.ok()) {
      LogInfo("promoted", {{"server", address}, {"adapter_name", adapter_name}, {"version", info->version()}});
      report.push_back(absl::StrCat(address, ": serving '", adapter_name, "' version ", info->version().substr(0, 12),
                                    " as default"));
    } else {
      all = false;
      LogError("promotion failed",
               {{"server", address}, {"adapter_name", adapter_name}, {"error", info.status().ToString()}});
      report.push_back(absl::StrCat(address, ": failed: ", info.status().ToString()));
    }
  }
  return {all, !all, absl::StrJoin(report, "; ")};
}

}  // namespace medgemma::trainer
