// An untrusted FineTuneRequest (wire format) resolved as medgemma-trainer resolves a submitted
// one: adapter name, hyper-parameters, target modules against the tiny model, promotion, an
// initial adapter and the data set under the data root "data" (fuzz_support's small tree, with an
// adapter at data/adapter). Relative paths in the input are taken under ScratchDir(), so seeds
// hold paths like "data/train.csv".
#include <google/protobuf/stubs/logging.h>
#include <torch/torch.h>

#include <cmath>

#include "engine/lora_adapter.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/fuzz_target.h"
#include "trainer/fine_tune_request.h"

namespace {
const medgemma::trainer::FineTuneContext& Context() {
  static const medgemma::trainer::FineTuneContext* context = [] {
    const auto& base = medgemma::fuzz::TinyModel().model->weights();
    const std::filesystem::path& data = medgemma::fuzz::SmallBreakHis();
    // Parsing invalid UTF-8 in string fields logs an error each time: noise at fuzzing speed.
    google::protobuf::SetLogHandler(nullptr);
    auto adapter = medgemma::LoraAdapter::Create(medgemma::LoraConfig{}, base, torch::kCPU, 7);
    MEDGEMMA_FUZZ_CHECK(adapter.ok() && (*adapter)->Save(data / "adapter").ok());
    auto* c = new medgemma::trainer::FineTuneContext();
    c->data_roots = {data.string()};
    c->can_promote = true;
    return c;
  }();
  return *context;
}

// The working directory is not ours to change (libFuzzer reads its corpus by relative path).
void UnderScratch(std::string* path) {
  if (!path->empty() && (*path)[0] != '/') *path = (medgemma::fuzz::ScratchDir() / *path).string();
}
}  // namespace

MEDGEMMA_FUZZ_TARGET(fine_tune_request) {
  const auto& context = Context();
  medgemma::v1::FineTuneRequest request;
  if (!request.ParseFromArray(data.data(), static_cast<int>(data.size()))) return;
  auto* dataset = request.mutable_dataset();
  if (dataset->has_breakhis()) UnderScratch(dataset->mutable_breakhis()->mutable_root());
  if (dataset->has_manifest()) {
    UnderScratch(dataset->mutable_manifest()->mutable_train_csv());
    UnderScratch(dataset->mutable_manifest()->mutable_eval_csv());
  }
  UnderScratch(request.mutable_init_adapter());
  auto spec = medgemma::trainer::ResolveFineTuneRequest(request, context, medgemma::fuzz::TinyModel().model->weights());
  if (!spec.ok()) {
    MEDGEMMA_FUZZ_CHECK(spec.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  const medgemma::TrainingOptions& o = spec->options;
  MEDGEMMA_FUZZ_CHECK(o.Validate().ok());
  MEDGEMMA_FUZZ_CHECK(medgemma::ValidateAdapterName(spec->adapter_name).ok());
  // A job runs on these numbers for hours: none may be NaN or infinite.
  for (double v : {o.lora.alpha, o.lora.dropout, o.learning_rate, o.warmup_ratio, o.max_grad_norm, o.weight_decay}) {
    MEDGEMMA_FUZZ_CHECK(std::isfinite(v));
  }
  const float min_accuracy = request.promote().min_accuracy();
  MEDGEMMA_FUZZ_CHECK(min_accuracy >= 0 && min_accuracy <= 1);
  MEDGEMMA_FUZZ_CHECK(!spec->data.train.empty() && !spec->data.eval.empty());
}
