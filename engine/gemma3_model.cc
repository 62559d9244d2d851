#include "engine/gemma3_model.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include "engine/checkpoint.h"
#include "engine/multimodal_projector.h"
#include "engine/torch_guard.h"
#include "engine/vision_tower.h"

namespace medgemma {

absl::StatusOr<ModelOptions> ParseModelOptions(const std::string& device, const std::string& dtype,
                                               const std::string& attention) {
  ModelOptions options;
  const bool cuda = torch::cuda::is_available();
  if (device == "auto") {
    options.device = cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  } else {
    try {
      options.device = torch::Device(device);
    } catch (const std::exception&) {
      return absl::InvalidArgumentError(absl::StrCat("unknown device '", device, "' (cpu, cuda, cuda:N or auto)"));
    }
    if (options.device.is_cuda() && !cuda) {
      return absl::FailedPreconditionError(absl::StrCat("device ", device, " requested but CUDA is not available"));
    }
  }
  if (dtype == "auto") {
    options.dtype = options.device.is_cuda() ? torch::kBFloat16 : torch::kFloat;
  } else if (dtype == "float32" || dtype == "fp32") {
    options.dtype = torch::kFloat;
  } else if (dtype == "bfloat16" || dtype == "bf16") {
    options.dtype = torch::kBFloat16;
  } else if (dtype == "float16" || dtype == "fp16") {
    options.dtype = torch::kHalf;  // overflows to NaN in Gemma 3; offered for experiments only
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown dtype '", dtype, "' (float32, bfloat16, float16, auto)"));
  }
  if (attention == "eager") {
    options.attention = AttentionBackend::kEager;
  } else if (attention == "sdpa") {
    if (DefaultAttentionBackend() != AttentionBackend::kSdpa) {
      return absl::FailedPreconditionError("SDPA attention needs libtorch 2.x");
    }
    options.attention = AttentionBackend::kSdpa;
  } else if (attention != "auto") {
    return absl::InvalidArgumentError(absl::StrCat("unknown attention '", attention, "' (sdpa, eager, auto)"));
  }
  return options;
}

std::string DtypeName(torch::ScalarType dtype) {
  switch (dtype) {
    case torch::kFloat: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kHalf: return "float16";
    default: return c10::toString(dtype);
  }
}

Gemma3Model::Gemma3Model(ModelConfig config, ModelWeights weights, const ModelOptions& options)
    : config_(std::move(config)),
      weights_(std::move(weights)),
      options_(options),
      rotaries_(DecoderRotaries::Create(config_.text, options.device)),
      // transformers keeps the scale as a buffer in the model's dtype: sqrt(hidden) rounded to it.
      embed_scale_(torch::scalar_tensor(std::sqrt(static_cast<double>(config_.text.hidden_size)))
                       .to(options.dtype)
                       .item<double>()) {}

absl::StatusOr<std::shared_ptr<const Gemma3Model>> Gemma3Model::Load(const std::filesystem::path& model_dir,
                                                                     const ModelOptions& options) {
  MG_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(model_dir));
  if (options.device.is_cuda() && options.dtype == torch::kFloat) {
    // float32 was asked for: keep cuBLAS and cuDNN (the patch conv) off TF32's 10-bit mantissa.
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }
  MG_ASSIGN_OR_RETURN(ModelWeights weights, LoadModelWeights(model_dir, config, options.device, options.dtype));
  return GuardTorch("model init", [&]() -> absl::StatusOr<std::shared_ptr<const Gemma3Model>> {
    return FromWeights(std::move(config), std::move(weights), options);
  });
}

std::shared_ptr<const Gemma3Model> Gemma3Model::FromWeights(ModelConfig config, ModelWeights weights,
                                                            const ModelOptions& options) {
  return std::shared_ptr<const Gemma3Model>(new Gemma3Model(std::move(config), std::move(weights), options));
}

torch::Tensor Gemma3Model::ImageSoftTokens(const torch::Tensor& pixel_values, const LoraContext& lora) const {
  auto vision = VisionTowerForward(config_.vision, weights_.vision, pixel_values.to(options_.device, /*non_blocking=*/true), lora,
                                   options_.attention);
  return ProjectImageFeatures(config_, weights_.projector, vision);
}

torch::Tensor Gemma3Model::Embed(const torch::Tensor& input_ids, const torch::Tensor& image_soft_tokens) const {
  const auto& table = weights_.text.embed_tokens;
  // The placeholders are counted and located where the ids are: for host ids (every prompt) that
  // costs no wait on the device, which a training step or a batch would otherwise pay per call.
  auto is_image = input_ids.eq(config_.image_token_id);
  const int64_t provided = image_soft_tokens.defined() ? image_soft_tokens.size(0) * image_soft_tokens.size(1) : 0;
  if (image_soft_tokens.defined()) {
    const int64_t placeholders = is_image.sum().item<int64_t>();
    TORCH_CHECK(placeholders == provided, "the input has ", placeholders, " image soft tokens but the images give ",
                provided);
  }
  // The soft-token id may lie outside the embedding table; its rows are overwritten anyway.
  auto lookup_ids = config_.image_token_id >= table.size(0) ? input_ids.masked_fill(is_image, config_.text.pad_token_id)
                                                            : input_ids;
  auto embeds = torch::embedding(table, lookup_ids.to(options_.device, /*non_blocking=*/true)) * embed_scale_;
  if (provided == 0) return embeds;
  auto rows = is_image.flatten().nonzero().squeeze(1).to(options_.device, /*non_blocking=*/true);
  const int64_t width = embeds.size(-1);
  return embeds.view({-1, width})
      .index_copy(0, rows, image_soft_tokens.reshape({-1, width}).to(embeds.scalar_type()))
      .view(embeds.sizes());
}

torch::Tensor Gemma3Model::DecodeEmbeddings(const torch::Tensor& embeds, const TokenLayout& layout,
                                            const LoraContext& lora, KvCache* cache) const {
  return TextDecoderForward(config_.text, weights_.text, rotaries_, embeds, layout, lora, options_.attention, cache);
}

torch::Tensor Gemma3Model::Hidden(const ModelInputs& inputs, const LoraContext& lora, KvCache* cache) const {
  // Small host tensors go up without waiting for the device (cudaMemcpyAsync stages pageable
  // memory at once); a plain .to() would synchronise the stream at every call.
  const auto& ids = inputs.input_ids;
  auto attention_mask = inputs.attention_mask.defined() ? inputs.attention_mask : torch::ones_like(ids);
  auto token_types = inputs.token_type_ids.defined() ? inputs.token_type_ids : ids.eq(config_.image_token_id).to(torch::kLong);
  torch::Tensor soft_tokens;
  if (inputs.pixel_values.defined() && inputs.pixel_values.size(0) > 0) {
    soft_tokens = ImageSoftTokens(inputs.pixel_values, lora);
  }
  auto embeds = Embed(ids, soft_tokens);
  const auto layout = TokenLayout::FromMasks(attention_mask.to(options_.device, /*non_blocking=*/true),
                                             token_types.to(options_.device, /*non_blocking=*/true));
  return DecodeEmbeddings(embeds, layout, lora, cache);
}

torch::Tensor Gemma3Model::Logits(const torch::Tensor& hidden, const torch::Tensor& vocab_rows) const {
  const auto& head = weights_.text.lm_head;
  if (!vocab_rows.defined()) {
    return torch::linear(GemmaRmsNorm(hidden, weights_.text.norm, config_.text.rms_norm_eps), head);
  }
  // A few rows (the label answers): the final norm and the head in float32 cost nothing here and
  // spare the logits bf16's rounding, which alone moves a softmax over logits near 20 by ~1%.
  auto normed = GemmaRmsNorm(hidden.to(torch::kFloat), weights_.text.norm, config_.text.rms_norm_eps);
  return torch::linear(normed, head.index_select(0, vocab_rows.to(head.device(), /*non_blocking=*/true)).to(torch::kFloat));
}

absl::StatusOr<torch::Tensor> Gemma3Model::ForwardLogits(const ModelInputs& inputs, const LoraAdapter* adapter) const {
  return GuardTorch("forward", [&]() -> absl::StatusOr<torch::Tensor> {
    torch::NoGradGuard no_grad;
    return Logits(Hidden(inputs, LoraContext{adapter, false}, nullptr)).to(torch::kFloat);
  });
}

}  // namespace medgemma
