#include "engine/decode_batch.h"

#include <absl/strings/str_cat.h>
#include <torch/torch.h>

#include <algorithm>
#include <unordered_set>

#include "engine/prompt_batch.h"
#include "engine/torch_guard.h"

namespace medgemma {
namespace {

// The first `rows` slots of `cache`, sharing its storage: a step computes only up to the highest
// occupied slot.
KvCache FirstRows(const KvCache& cache, int64_t rows) {
  KvCache view;
  for (const auto& k : cache.keys) view.keys.push_back(k.narrow(0, 0, rows));
  for (const auto& v : cache.values) view.values.push_back(v.narrow(0, 0, rows));
  view.layout = {cache.layout.positions.narrow(0, 0, rows), cache.layout.valid.narrow(0, 0, rows),
                 cache.layout.image_group.narrow(0, 0, rows)};
  return view;
}

// Moves a prefilled scratch cache (n, prompt_len) into the slots `rows` (n) of `cache`, clearing
// whatever the slots' previous sequences left beyond it.
void CopyIntoSlots(const KvCache& scratch, const torch::Tensor& rows, KvCache& cache) {
  const int64_t len = scratch.layout.positions.size(1);
  cache.layout.valid.index_fill_(0, rows, false);
  for (size_t l = 0; l < cache.keys.size(); ++l) {
    cache.keys[l].narrow(2, 0, len).index_copy_(0, rows, scratch.keys[l]);
    cache.values[l].narrow(2, 0, len).index_copy_(0, rows, scratch.values[l]);
  }
  cache.layout.positions.narrow(1, 0, len).index_copy_(0, rows, scratch.layout.positions);
  cache.layout.valid.narrow(1, 0, len).index_copy_(0, rows, scratch.layout.valid);
  cache.layout.image_group.narrow(1, 0, len).index_copy_(0, rows, scratch.layout.image_group);
}

torch::Tensor LongColumn(const std::vector<int64_t>& values, torch::Device device) {
  return torch::tensor(values, torch::kLong).view({-1, 1}).to(device, /*non_blocking=*/true);
}

}  // namespace

DecodeBatch::DecodeBatch(std::shared_ptr<const Gemma3Model> model, const DecodeBatchOptions& options, KvCache cache)
    : model_(std::move(model)), options_(options), cache_(std::move(cache)), slots_(options.max_sequences) {}

absl::StatusOr<DecodeBatch> DecodeBatch::Create(std::shared_ptr<const Gemma3Model> model,
                                                const DecodeBatchOptions& options) {
  if (model == nullptr) return absl::InvalidArgumentError("DecodeBatch needs a model");
  if (options.max_sequences <= 0 || options.capacity <= 1) {
    return absl::InvalidArgumentError(absl::StrCat("a decode batch needs max_sequences > 0 and capacity > 1, got ",
                                                   options.max_sequences, " and ", options.capacity));
  }
  MG_ASSIGN_OR_RETURN(KvCache cache, GuardTorch("decode batch cache", [&]() -> absl::StatusOr<KvCache> {
                        return KvCache::Allocate(model->config().text, options.max_sequences, options.capacity + 1,
                                                 model->options().device, model->options().dtype);
                      }));
  return DecodeBatch(std::move(model), options, std::move(cache));
}

absl::Status CheckSequenceRequest(const ModelConfig& config, int64_t capacity, const SequenceRequest& r) {
  const auto& ids = r.prompt.ids;
  const int64_t length = static_cast<int64_t>(ids.size());
  if (length == 0) return absl::InvalidArgumentError("empty prompt");
  if (r.prompt.token_type_ids.size() != ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt has ", length, " ids but ", r.prompt.token_type_ids.size(),
                                                   " token types"));
  }
  if (length >= capacity) {
    return absl::InvalidArgumentError(absl::StrCat("prompt of ", length, " tokens leaves no room for an answer in a ",
                                                   capacity, "-token sequence"));
  }
  if (r.max_new_tokens <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_new_tokens must be > 0, got ", r.max_new_tokens));
  }
  MG_RETURN_IF_ERROR(r.sampling.Validate());
  int64_t image_tokens = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const bool image = ids[i] == config.image_token_id;
    if (!image && (ids[i] < 0 || ids[i] >= config.text.vocab_size)) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", ids[i], " at ", i, " is outside the vocabulary"));
    }
    if (image != (r.prompt.token_type_ids[i] == 1)) {
      return absl::InvalidArgumentError(absl::StrCat("token type at ", i, " disagrees with the image placeholder"));
    }
    image_tokens += image;
  }
  const auto& pixels = r.pixel_values;
  int64_t images = 0;
  if (pixels.defined() && pixels.numel() > 0) {
    const int64_t s = config.vision.image_size;
    if (pixels.dim() != 4 || pixels.size(1) != 3 || pixels.size(2) != s || pixels.size(3) != s ||
        !pixels.is_floating_point()) {
      return absl::InvalidArgumentError(absl::StrCat("pixel_values must be floating point (N, 3, ", s, ", ", s,
                                                     "), got ", c10::str(pixels.sizes()), " ",
                                                     c10::toString(pixels.scalar_type())));
    }
    images = pixels.size(0);
  }
  if (image_tokens != images * config.mm_tokens_per_image) {
    return absl::InvalidArgumentError(absl::StrCat("prompt has ", image_tokens, " image placeholders but ", images,
                                                   " images give ", images * config.mm_tokens_per_image));
  }
  return absl::OkStatus();
}

bool DecodeBatch::Contains(SequenceId id) const {
  return std::any_of(slots_.begin(), slots_.end(), [id](const auto& s) { return s && s->id == id; });
}

absl::Status DecodeBatch::CheckAdmission(const std::vector<SequenceRequest>& requests) const {
  if (static_cast<int64_t>(requests.size()) > free_slots()) {
    return absl::ResourceExhaustedError(absl::StrCat(requests.size(), " sequences to admit but ", free_slots(), " of ",
                                                     options_.max_sequences, " slots free"));
  }
  std::unordered_set<SequenceId> ids;
  for (const auto& r : requests) {
    if (!ids.insert(r.id).second || Contains(r.id)) {
      return absl::AlreadyExistsError(absl::StrCat("sequence ", r.id, " is already in the batch"));
    }
    absl::Status status = CheckSequenceRequest(model_->config(), options_.capacity, r);
    if (!status.ok()) return absl::Status(status.code(), absl::StrCat("sequence ", r.id, ": ", status.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TokenEvent>> DecodeBatch::Admit(std::vector<SequenceRequest> requests) {
  MG_RETURN_IF_ERROR(CheckAdmission(requests));
  if (requests.empty()) return std::vector<TokenEvent>{};
  std::vector<size_t> free;
  for (size_t s = 0; s < slots_.size() && free.size() < requests.size(); ++s) {
    if (!slots_[s]) free.push_back(s);
  }
  return GuardTorch("prefill", [&]() -> absl::StatusOr<std::vector<TokenEvent>> {
    torch::NoGradGuard no_grad;
    const auto device = model_->options().device;
    // One prefill pass per adapter; `order` lists the requests in the order their hidden rows come.
    std::vector<size_t> order;
    std::vector<torch::Tensor> last_hidden;
    std::vector<bool> done(requests.size(), false);
    for (size_t first = 0; first < requests.size(); ++first) {
      if (done[first]) continue;
      const LoraAdapter* adapter = requests[first].adapter.get();
      std::vector<PromptTokens> prompts;
      std::vector<torch::Tensor> pixels;
      std::vector<int64_t> rows;
      for (size_t i = first; i < requests.size(); ++i) {
        if (done[i] || requests[i].adapter.get() != adapter) continue;
        done[i] = true;
        order.push_back(i);
        prompts.push_back(requests[i].prompt);
        rows.push_back(static_cast<int64_t>(free[i]));
        if (requests[i].pixel_values.defined() && requests[i].pixel_values.numel() > 0) {
          pixels.push_back(requests[i].pixel_values);
        }
      }
      ModelInputs inputs = BatchPrompts(prompts, model_->config().text.pad_token_id);
      if (!pixels.empty()) inputs.pixel_values = torch::cat(pixels);
      KvCache scratch = KvCache::Allocate(model_->config().text, inputs.input_ids.size(0), inputs.input_ids.size(1),
                                          device, model_->options().dtype);
      auto hidden = model_->Hidden(inputs, LoraContext{adapter, false}, &scratch);
      last_hidden.push_back(LastTokenHidden(hidden, inputs.attention_mask));
      CopyIntoSlots(scratch, torch::tensor(rows, torch::kLong).to(device), cache_);
    }
    std::vector<TokenSampler> samplers;
    std::vector<TokenSampler*> sampler_rows;
    for (size_t i : order) samplers.emplace_back(requests[i].sampling);
    for (auto& sampler : samplers) sampler_rows.push_back(&sampler);
    auto tokens = SampleTokens(model_->Logits(torch::cat(last_hidden)), sampler_rows);
    // Nothing below throws: the batch changes only once the whole admission has succeeded.
    std::vector<TokenEvent> events(requests.size());
    for (size_t k = 0; k < order.size(); ++k) {
      SequenceRequest& r = requests[order[k]];
      const size_t slot = free[order[k]];
      slots_[slot] = Sequence{r.id, std::move(r.adapter), r.max_new_tokens, std::move(r.stop_ids),
                              std::move(samplers[k]), static_cast<int64_t>(r.prompt.ids.size()), 0, 0};
      active_ += 1;
      events[order[k]] = Emit(slot, tokens[k].item<int64_t>());
    }
    return events;
  });
}

int64_t DecodeBatch::HighWater() const {
  for (int64_t s = static_cast<int64_t>(slots_.size()); s > 0; --s) {
    if (slots_[s - 1]) return s;
  }
  return 0;
}

absl::StatusOr<std::vector<TokenEvent>> DecodeBatch::Step() {
  if (active_ == 0) return std::vector<TokenEvent>{};
  return GuardTorch("decode step", [&]() -> absl::StatusOr<std::vector<TokenEvent>> {
    torch::NoGradGuard no_grad;
    const auto device = model_->options().device;
    const int64_t rows = HighWater();
    std::vector<int64_t> feed(rows, model_->config().text.pad_token_id), active_rows;
    std::vector<const LoraAdapter*> adapters;
    for (int64_t r = 0; r < rows; ++r) {
      if (!slots_[r]) continue;
      feed[r] = slots_[r]->last_token;
      active_rows.push_back(r);
      const LoraAdapter* a = slots_[r]->adapter.get();
      if (std::find(adapters.begin(), adapters.end(), a) == adapters.end()) adapters.push_back(a);
    }
    auto embeds = model_->Embed(torch::tensor(feed, torch::kLong).view({rows, 1}), torch::Tensor());
    torch::Tensor hidden;  // (rows, D), each row from its own adapter's pass
    for (const LoraAdapter* adapter : adapters) {
      // Rows of this adapter write at their length; the others into the discarded column.
      std::vector<int64_t> slot(rows, options_.capacity), position(rows, 0), valid(rows, 0);
      KvCache view = FirstRows(cache_, rows);
      for (int64_t r : active_rows) {
        if (slots_[r]->adapter.get() != adapter) continue;
        slot[r] = position[r] = slots_[r]->length;
        valid[r] = 1;
        view.length = std::max(view.length, slots_[r]->length);
      }
      view.row_slots = torch::tensor(slot, torch::kLong).to(device, /*non_blocking=*/true);
      auto in_pass = LongColumn(valid, device).to(torch::kBool);
      const TokenLayout layout{LongColumn(position, device), in_pass,
                               torch::full({rows, 1}, -1, torch::TensorOptions(device).dtype(torch::kLong))};
      auto out = model_->DecodeEmbeddings(embeds, layout, LoraContext{adapter, false}, &view).squeeze(1);
      hidden = hidden.defined() ? torch::where(in_pass, out, hidden) : out;
    }
    std::vector<TokenSampler*> samplers;
    for (int64_t r : active_rows) samplers.push_back(&slots_[r]->sampler);
    auto picked = hidden.index_select(0, torch::tensor(active_rows, torch::kLong).to(device, /*non_blocking=*/true));
    auto tokens = SampleTokens(model_->Logits(picked), samplers);
    std::vector<TokenEvent> events;
    for (size_t k = 0; k < active_rows.size(); ++k) {
      slots_[active_rows[k]]->length += 1;
      events.push_back(Emit(active_rows[k], tokens[k].item<int64_t>()));
    }
    return events;
  });
}

TokenEvent DecodeBatch::Emit(size_t slot, int64_t token) {
  Sequence& s = *slots_[slot];
  s.generated += 1;
  s.last_token = token;
  TokenEvent event{s.id, token, std::nullopt};
  if (std::find(s.stop_ids.begin(), s.stop_ids.end(), token) != s.stop_ids.end()) {
    event.finish = FinishReason::kStop;
  } else if (s.generated >= s.max_new_tokens) {
    event.finish = FinishReason::kMaxTokens;
  } else if (s.length >= options_.capacity) {
    event.finish = FinishReason::kCapacity;
  }
  if (event.finish) {
    slots_[slot].reset();
    active_ -= 1;
  }
  return event;
}

bool DecodeBatch::Cancel(SequenceId id) {
  for (auto& s : slots_) {
    if (s && s->id == id) {
      s.reset();
      active_ -= 1;
      return true;
    }
  }
  return false;
}

}  // namespace medgemma
