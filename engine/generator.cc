#include "engine/generator.h"

#include <torch/torch.h>

#include <algorithm>

#include "engine/prompt_batch.h"
#include "engine/torch_guard.h"

namespace medgemma {

absl::StatusOr<std::vector<std::vector<int64_t>>> GenerateGreedy(const Gemma3Model& model,
                                                                 const std::vector<PromptTokens>& prompts,
                                                                 const torch::Tensor& pixel_values,
                                                                 const LoraAdapter* adapter,
                                                                 const GenerationOptions& options) {
  if (prompts.empty()) return std::vector<std::vector<int64_t>>{};
  if (options.max_new_tokens <= 0) return absl::InvalidArgumentError("max_new_tokens must be > 0");
  return GuardTorch("generate", [&]() -> absl::StatusOr<std::vector<std::vector<int64_t>>> {
    torch::NoGradGuard no_grad;
    const auto device = model.options().device;
    const LoraContext lora{adapter, false};
    ModelInputs inputs = BatchPrompts(prompts, model.config().text.pad_token_id);
    inputs.pixel_values = pixel_values;
    const int64_t batch = inputs.input_ids.size(0), prompt_len = inputs.input_ids.size(1);
    KvCache cache = KvCache::Allocate(model.config().text, batch, prompt_len + options.max_new_tokens, device,
                                      model.options().dtype);
    auto hidden = model.Hidden(inputs, lora, &cache);
    auto lengths = LastTokenIndex(inputs.attention_mask).to(device) + 1;
    auto last = LastTokenHidden(hidden, inputs.attention_mask);

    std::vector<std::vector<int64_t>> out(batch);
    std::vector<bool> done(batch, false);
    for (int64_t step = 0; step < options.max_new_tokens; ++step) {
      auto next = model.Logits(last).argmax(-1);  // (B)
      auto next_cpu = next.to(torch::kCPU);
      for (int64_t row = 0; row < batch; ++row) {
        if (done[row]) continue;
        const int64_t id = next_cpu[row].item<int64_t>();
        out[row].push_back(id);
        done[row] = std::find(options.stop_ids.begin(), options.stop_ids.end(), id) != options.stop_ids.end();
      }
      if (std::all_of(done.begin(), done.end(), [](bool d) { return d; }) || step + 1 == options.max_new_tokens) break;
      TokenLayout layout{(lengths + step).view({batch, 1}), torch::ones({batch, 1}, torch::TensorOptions(device).dtype(torch::kBool)),
                         torch::full({batch, 1}, -1, torch::TensorOptions(device).dtype(torch::kLong))};
      auto embeds = model.Embed(next_cpu.view({batch, 1}), torch::Tensor());
      last = model.DecodeEmbeddings(embeds, layout, lora, &cache).squeeze(1);
    }
    return out;
  });
}

}  // namespace medgemma
