// A fine-tune's hyper-parameters, resolved (no "use the default" values left): the plain struct the
// engine trains with. The defaults are the reference notebook's recipe. People set these through
// the Hyperparameters message of proto/medgemma/v1/trainer.proto (requests, CLI flags and the
// trainer's YAML defaults alike); trainer/fine_tune_request.cc is the one mapping between the two.
#pragma once

#include <absl/status/status.h>

#include <cstdint>

#include "engine/lora_adapter.h"

namespace medgemma {

enum class LossMode {
  kFullSequence,  // the notebook: every token but padding, <start_of_image> and image soft tokens
  kAnswerOnly,    // only the answer and the <end_of_turn> after it
};

struct TrainingOptions {
  LoraConfig lora;  // r 8, alpha 16, dropout 0.1, all-linear
  int epochs = 5;
  double learning_rate = 5e-4;
  int micro_batch_size = 1;
  int gradient_accumulation_steps = 8;
  double warmup_ratio = 0.03;
  double max_grad_norm = 0.3;  // 0: no clipping
  uint64_t seed = 42;
  LossMode loss = LossMode::kFullSequence;
  int64_t max_steps = 0;  // > 0: stop after this many optimizer steps
  double weight_decay = 0;
  bool activation_checkpointing = false;
  int64_t checkpoint_every_steps = 20;
  int eval_batch_size = 8;
  bool shuffle = true;  // false keeps the data set's order (parity checks against another trainer)

  // Every field that is out of range, named, in one INVALID_ARGUMENT.
  absl::Status Validate() const;
};

}  // namespace medgemma
