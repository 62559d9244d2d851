#include "server/classifier_server.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include <filesystem>

#include "base/log.h"
#include "base/status_macros.h"

namespace medgemma::server {
namespace fs = std::filesystem;

namespace {
v1::ModelInfo DescribeModel(const ServerConfig& config, const ModelBundle& bundle, const Classifier& classifier) {
  v1::ModelInfo info;
  info.set_model_id(config.model_id.empty() ? rpc::ModelIdFromDir(config.model_dir) : config.model_id);
  info.set_dtype(DtypeName(bundle.model->options().dtype));
  info.set_device(bundle.model->options().device.str());
  for (size_t i = 0; i < config.task.labels.size(); ++i) {
    auto* label = info.add_labels();
    label->set_label(static_cast<int32_t>(i));
    label->set_name(config.task.labels[i].name);
    label->set_group(config.task.labels[i].group);
  }
  for (const auto& g : config.task.groups) info.add_groups(g);
  auto* batching = info.mutable_batching();
  batching->set_max_batch_size(config.batching.max_batch_size);
  batching->set_max_queue_delay_us(config.batching.max_queue_delay_us);
  for (int s : config.batching.preferred_batch_sizes) batching->add_preferred_batch_sizes(s);
  batching->set_max_queue_size(config.batching.max_queue_size);
  info.set_image_size(static_cast<int32_t>(bundle.model->config().vision.image_size));
  info.set_prompt_tokens(static_cast<int32_t>(classifier.prompt().ids.size()));
  return info;
}

BatchPolicy PolicyOf(const BatchingConfig& batching) {
  BatchPolicy policy;
  policy.max_batch_size = batching.max_batch_size;
  policy.preferred_batch_sizes = batching.preferred_batch_sizes;
  policy.max_queue_delay = std::chrono::microseconds(batching.max_queue_delay_us);
  policy.max_queue_size = batching.max_queue_size;
  return policy;
}
}  // namespace

absl::Status ClassifierServer::LoadConfiguredAdapters(const ServerConfig& config) {
  std::vector<AdapterSpec> specs = config.adapters;
  if (!config.adapters_dir.empty() && fs::is_directory(config.adapters_dir)) {
    for (const auto& entry : fs::directory_iterator(config.adapters_dir)) {
      if (fs::exists(entry.path() / "adapter_config.json")) specs.push_back({entry.path().filename().string(), entry.path().string()});
    }
  }
  for (const auto& spec : specs) {
    auto loaded = registry_->Load(spec.name, spec.path, false);
    if (!loaded.ok()) return absl::Status(loaded.status().code(), absl::StrCat("adapter ", spec.name, ": ", loaded.status().message()));
  }
  if (!config.default_adapter.empty()) {
    MG_RETURN_IF_ERROR(registry_->SetDefault(config.default_adapter).status());
  }
  metrics_->SetAdapters(static_cast<int>(registry_->List().size()), registry_->swaps());
  return absl::OkStatus();
}

absl::StatusOr<double> ClassifierServer::WarmUp() {
  const int64_t size = bundle_.model->config().vision.image_size;
  auto pixels = torch::zeros({1, 3, size, size});
  MG_RETURN_IF_ERROR(classifier_->Classify(pixels, nullptr).status());  // first call: one-off setup
  const auto start = std::chrono::steady_clock::now();
  MG_RETURN_IF_ERROR(classifier_->Classify(pixels, nullptr).status());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& adapter : registry_->List()) {
    MG_RETURN_IF_ERROR(classifier_->Classify(pixels, adapter->adapter.get()).status());
  }
  return seconds;
}

absl::StatusOr<std::unique_ptr<ClassifierServer>> ClassifierServer::Start(const ServerConfig& config) {
  MG_RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<ClassifierServer> s(new ClassifierServer());
  s->config_ = config;
  MG_ASSIGN_OR_RETURN(ModelOptions options, ParseModelOptions(config.device, config.dtype, config.attention));
  MG_ASSIGN_OR_RETURN(s->bundle_, LoadModelBundle(config.model_dir, options));
  LogInfo("model loaded", {{"model_dir", config.model_dir},
                           {"device", options.device.str()},
                           {"dtype", DtypeName(options.dtype)}});
  MG_ASSIGN_OR_RETURN(Classifier classifier,
                      Classifier::Create(s->bundle_.model, *s->bundle_.tokenizer, config.task, s->bundle_.add_bos_token));
  s->classifier_ = std::make_unique<Classifier>(std::move(classifier));
  MG_ASSIGN_OR_RETURN(s->auth_, rpc::TokenAuthorizer::Load(config.auth_tokens_file, config.auth_tokens_env));
  MG_ASSIGN_OR_RETURN(s->audit_, AuditLog::Open(config.audit));
  s->metrics_ = std::make_unique<ServerMetrics>();
  s->metrics_->SetQueueCapacity(config.batching.max_queue_size);
  const std::vector<std::string> allowed = config.AllowedAdapterRoots();
  std::vector<fs::path> roots(allowed.begin(), allowed.end());
  s->registry_ = std::make_unique<AdapterRegistry>(s->bundle_.model, roots);
  MG_RETURN_IF_ERROR(s->LoadConfiguredAdapters(config));
  MG_ASSIGN_OR_RETURN(const double batch_seconds, s->WarmUp());
  s->executor_ = std::make_unique<ClassifierExecutor>(
      s->classifier_.get(), s->bundle_.preprocess, s->metrics_.get(),
      std::chrono::duration_cast<BatchClock::duration>(std::chrono::duration<double>(batch_seconds)));
  s->batcher_ = std::make_unique<ClassifyScheduler>(
      PolicyOf(config.batching), s->executor_.get(),
      [metrics = s->metrics_.get()](int depth) { metrics->SetQueueDepth(depth); });
  s->pool_ = std::make_unique<ThreadPool>(config.batching.preprocess_threads);
  v1::ModelInfo info = DescribeModel(config, s->bundle_, *s->classifier_);
  s->pipeline_ = std::make_unique<ClassificationPipeline>(ClassificationPipeline::Parts{
      info.model_id(), config.task, s->bundle_.preprocess, config.image_limits, s->registry_.get(), s->batcher_.get(),
      s->pool_.get(), s->metrics_.get(), config.max_inflight_bytes});
  const auto make_classifier_service = [&] {
    return std::make_unique<ClassifierService>(s->pipeline_.get(), &s->auth_, s->registry_.get(), info,
                                               config.max_stream_inflight_bytes, s->audit_.get());
  };
  s->classifier_service_ = make_classifier_service();
  s->oip_model_ = std::make_unique<OipModel>(
      OipModel::Options{info.model_id(), static_cast<int>(config.task.labels.size()), config.batching.max_batch_size,
                        config.batching.preferred_batch_sizes, config.batching.max_queue_delay_us},
      s->pipeline_.get(), s->registry_.get(), s->audit_.get());
  s->oip_service_ = std::make_unique<OpenInferenceService>(s->oip_model_.get(), &s->auth_, s->audit_.get());
  s->loader_ = std::make_unique<AdapterLoader>(
      s->registry_.get(), AdapterLoader::Options{config.adapter_loading.max_waiting,
                                                 absl::Seconds(config.adapter_loading.timeout_seconds)});
  s->admin_service_ =
      std::make_unique<AdapterAdminService>(s->registry_.get(), s->loader_.get(), &s->auth_, s->metrics_.get());

  // Warm-up ran before the port opens, so health may answer SERVING from the first call.
  std::vector<grpc::Service*> services = {s->classifier_service_.get(), s->oip_service_.get()};
  rpc::ServiceHost::Endpoint admin;
  if (config.admin_listen.empty()) {
    services.push_back(s->admin_service_.get());
  } else {
    s->admin_classifier_service_ = make_classifier_service();
    admin = {config.admin_listen, {s->admin_classifier_service_.get(), s->admin_service_.get()}};
  }
  const rpc::ActionAudit audit{s->audit_.get(), &s->auth_, {"medgemma.v1.AdapterAdmin"}};
  MG_ASSIGN_OR_RETURN(s->host_, rpc::ServiceHost::Start(config, services, s->metrics_->registry(), admin, audit));
  if (!config.http_listen.empty()) {
    MG_ASSIGN_OR_RETURN(s->http_, HttpEndpoint::Start(config.http_listen, config.tls,
                                                      {s->oip_model_.get(), s->pipeline_.get(), &s->auth_,
                                                       s->audit_.get(), config.max_message_bytes, config.http_threads}));
  }
  return s;
}

void ClassifierServer::Shutdown(std::chrono::seconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  oip_model_->SetServing(false);
  if (http_) http_->Stop();  // waits for its requests, answered by the batcher still running
  loader_->Stop();  // answers the loads still open: the drain below waits for every call's answer
  host_->Shutdown(grace);  // in-flight calls finish on the running batcher
  batcher_->Stop();
  executor_->Stop();
}

ClassifierServer::~ClassifierServer() {
  if (host_) Shutdown(std::chrono::seconds(config_.shutdown_grace_seconds));
}

}  // namespace medgemma::server
