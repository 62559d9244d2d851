// Continuous batching of free-text generation: requests join and leave a running batch between
// decode steps, and every step decodes one token for all active requests together, so a long
// answer never holds a short one back (vLLM's scheduler/sequence split, on a static cache).
//
// The KV cache: one preallocated (max_sequences, capacity + 1) cache whose rows are slots, one per
// active sequence, each written at its own length (KvCache::row_slots). Why fixed slots rather
// than per-sequence caches gathered every step: a decode step is bound by reading the weights and
// the cache, and gathering would copy every active cache once per token; slots keep the step's
// shapes static (what CUDA graphs and cache-friendly kernels want), cost one allocation at start,
// and free a sequence's memory at once (the slot is simply reused). The price is memory reserved
// for max_sequences x capacity whether used or not, and a step over the first `high-water` rows,
// idle ones included (lowest free slot first keeps that short). Masks come from each slot's
// recorded positions, exactly as in GenerateGreedy, so sliding-window and global layers keep the
// cache semantics that match transformers: a row's tokens equal those of the row decoded alone.
//
// Adapters: a sequence may name any LoRA adapter, and sequences of different adapters share the
// batch. A step runs one forward pass per distinct adapter over the same rows; rows of the other
// adapters (and idle rows) write their keys into the extra column `capacity`, which no query ever
// reads, so each adapter's pass leaves the others' caches intact. One pass per adapter is what a
// decode step costs without per-row LoRA kernels (S-LoRA/Punica): the weights are read once per
// pass, whatever the rows. A scheduler that wants fewer passes groups requests by adapter.
//
// Threading: a DecodeBatch is owned by one thread (the GPU-owner thread); nothing here locks.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "engine/chat_prompt.h"
#include "engine/gemma3_model.h"
#include "engine/kv_cache.h"
#include "engine/sampling.h"

namespace medgemma {

class LoraAdapter;

using SequenceId = uint64_t;

struct SequenceRequest {
  SequenceId id = 0;  // the caller's; unique among active sequences
  PromptTokens prompt;
  torch::Tensor pixel_values;                  // (N, C, S, S), one per image placeholder run; or undefined
  std::shared_ptr<const LoraAdapter> adapter;  // null: the base model; held until the sequence ends
  int64_t max_new_tokens = 256;
  std::vector<int64_t> stop_ids;  // the sequence ends after emitting one of these
  SamplingParams sampling;        // greedy by default
};

// Why `request` cannot be decoded by a batch of `config`'s model with sequences of `capacity`
// tokens (not counting free slots or id clashes). Reads no batch state: a service can run it on
// its request threads, off the thread that owns the batch.
absl::Status CheckSequenceRequest(const ModelConfig& config, int64_t capacity, const SequenceRequest& request);

enum class FinishReason { kStop, kMaxTokens, kCapacity };

// One new token of one sequence. `finish` is set on its last token; the slot is free by then.
struct TokenEvent {
  SequenceId id = 0;
  int64_t token = 0;
  std::optional<FinishReason> finish;
};

struct DecodeBatchOptions {
  int64_t max_sequences = 16;
  int64_t capacity = 2048;  // tokens per sequence, prompt and answer together
};

class DecodeBatch {
 public:
  static absl::StatusOr<DecodeBatch> Create(std::shared_ptr<const Gemma3Model> model,
                                            const DecodeBatchOptions& options);
  DecodeBatch(DecodeBatch&&) = default;
  DecodeBatch& operator=(DecodeBatch&&) = default;

  // Prefills the requests together (one forward pass per adapter among them) into free slots and
  // returns each one's first token. All or nothing: a bad request, a duplicate id or too few free
  // slots admits none of them.
  absl::StatusOr<std::vector<TokenEvent>> Admit(std::vector<SequenceRequest> requests);
  // One decode step for every active sequence: one event per sequence, in slot order. After an
  // error the batch is unchanged but for cache slots the next Step overwrites, so it may be retried.
  absl::StatusOr<std::vector<TokenEvent>> Step();
  // Ends a sequence now: it gets no more tokens and its slot is free for the next Admit. False when
  // it was not active (finished already, or never admitted).
  bool Cancel(SequenceId id);

  int64_t active() const { return active_; }
  int64_t free_slots() const { return options_.max_sequences - active_; }
  bool Contains(SequenceId id) const;
  const DecodeBatchOptions& options() const { return options_; }

 private:
  struct Sequence {
    SequenceId id = 0;
    std::shared_ptr<const LoraAdapter> adapter;
    int64_t max_new_tokens = 0;
    std::vector<int64_t> stop_ids;
    TokenSampler sampler;
    int64_t length = 0;     // tokens cached in the slot; the next one goes to slot `length`
    int64_t generated = 0;  // tokens emitted, the last one not yet cached
    int64_t last_token = 0;
  };

  DecodeBatch(std::shared_ptr<const Gemma3Model> model, const DecodeBatchOptions& options, KvCache cache);
  absl::Status CheckAdmission(const std::vector<SequenceRequest>& requests) const;
  // Records `token` as the sequence's newest and frees the slot when it was the last.
  TokenEvent Emit(size_t slot, int64_t token);
  int64_t HighWater() const;

  std::shared_ptr<const Gemma3Model> model_;
  DecodeBatchOptions options_;
  KvCache cache_;                              // (max_sequences, capacity + 1): the last column takes discarded writes
  std::vector<std::optional<Sequence>> slots_;  // by cache row
  int64_t active_ = 0;
};

}  // namespace medgemma
