// Continuous batching on the tiny model (float32, CPU): sequences that join and leave a running
// batch decode exactly the tokens they decode alone, and GenerateGreedy's; seeded sampling does not
// depend on the batch; cancelling frees a slot at once; bad requests get a clear status.
#include "engine/decode_batch.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "engine/generator.h"
#include "engine/lora_adapter.h"
#include "tests/engine/test_support.h"

namespace medgemma {
namespace {
using testing::RandomPixels;
using testing::TinyBundle;

struct Case {
  PromptTokens prompt;
  torch::Tensor pixels;  // (1, 3, S, S), or undefined for a text-only prompt
};

// Prompts of many lengths: one-image chat prompts and bare text ones (every third).
std::vector<Case> Cases(int count) {
  const auto& b = TinyBundle();
  auto chat = ChatPrompt::Create(b.tokenizer.get(), b.model->config(), b.add_bos_token);
  EXPECT_TRUE(chat.ok()) << chat.status();
  const std::vector<std::string> words = {"tissue", "slide", "benign", "cells", "stroma", "what", "is", "this"};
  std::vector<Case> cases;
  for (int i = 0; i < count; ++i) {
    std::string text;
    for (int w = 0; w <= (i * 7) % 23; ++w) text += words[(i + w) % words.size()] + " ";
    text += "?";
    if (i % 3 == 0) {
      PromptTokens p;
      p.ids.push_back(b.tokenizer->bos_id());
      for (int id : b.tokenizer->Encode(text)) p.ids.push_back(id);
      p.token_type_ids.assign(p.ids.size(), 0);
      cases.push_back({p, torch::Tensor()});
    } else {
      cases.push_back({chat->ForImageAndText(text), RandomPixels(1, 100 + i)});
    }
  }
  return cases;
}

std::vector<int64_t> StopIds() {
  const auto& b = TinyBundle();
  auto chat = ChatPrompt::Create(b.tokenizer.get(), b.model->config(), b.add_bos_token);
  return {b.tokenizer->eos_id(), chat->end_of_turn_id()};
}

SequenceRequest Request(SequenceId id, const Case& c, int64_t max_new_tokens) {
  SequenceRequest r;
  r.id = id;
  r.prompt = c.prompt;
  r.pixel_values = c.pixels;
  r.max_new_tokens = max_new_tokens;
  r.stop_ids = StopIds();
  return r;
}

// Every sequence's tokens and finish, checking that no token arrives after a finish.
struct Transcript {
  std::map<SequenceId, std::vector<int64_t>> tokens;
  std::map<SequenceId, FinishReason> finish;

  void Record(const absl::StatusOr<std::vector<TokenEvent>>& events) {
    ASSERT_TRUE(events.ok()) << events.status();
    for (const auto& e : *events) {
      EXPECT_EQ(finish.count(e.id), 0u) << "token after the end of sequence " << e.id;
      tokens[e.id].push_back(e.token);
      if (e.finish) finish[e.id] = *e.finish;
    }
  }
};

void RunToEnd(DecodeBatch& batch, Transcript& out) {
  while (batch.active() > 0) out.Record(batch.Step());
}

std::vector<int64_t> Alone(std::shared_ptr<const Gemma3Model> model, SequenceRequest request, int64_t capacity = 512) {
  auto batch = DecodeBatch::Create(std::move(model), {1, capacity});
  EXPECT_TRUE(batch.ok()) << batch.status();
  const SequenceId id = request.id;
  Transcript t;
  t.Record(batch->Admit({std::move(request)}));
  RunToEnd(*batch, t);
  return t.tokens[id];
}

std::shared_ptr<const LoraAdapter> NonZeroAdapter(uint64_t seed) {
  auto adapter = LoraAdapter::Create(LoraConfig{}, TinyBundle().model->weights(), torch::kCPU, seed);
  EXPECT_TRUE(adapter.ok()) << adapter.status();
  torch::manual_seed(seed);
  torch::NoGradGuard no_grad;
  for (auto& [name, w] : (*adapter)->Modules()) w->b.normal_(0.0, 0.2);
  return *adapter;
}

// Admits the requests a few at a time between steps (up to `per_step[step % size]` each time,
// as slots allow) until all have finished.
Transcript Staggered(DecodeBatch& batch, std::deque<SequenceRequest> pending, const std::vector<int>& per_step) {
  Transcript t;
  for (int step = 0; !pending.empty() || batch.active() > 0; ++step) {
    std::vector<SequenceRequest> admit;
    const int64_t n = std::min<int64_t>({per_step[step % per_step.size()], batch.free_slots(),
                                         static_cast<int64_t>(pending.size())});
    for (int64_t i = 0; i < n; ++i) {
      admit.push_back(std::move(pending.front()));
      pending.pop_front();
    }
    if (!admit.empty()) t.Record(batch.Admit(std::move(admit)));
    t.Record(batch.Step());
  }
  return t;
}

TEST(DecodeBatchTest, SixteenStaggeredSequencesEqualEachAloneAndGenerateGreedy) {
  const auto& b = TinyBundle();
  ModelOptions sdpa = b.model->options();
  sdpa.attention = AttentionBackend::kSdpa;
  auto sdpa_model = Gemma3Model::Load(testing::TinyModelDir(), sdpa);
  ASSERT_TRUE(sdpa_model.ok()) << sdpa_model.status();
  const auto cases = Cases(16);
  for (auto model : {b.model, *sdpa_model}) {
    const bool eager = model == b.model;
    std::deque<SequenceRequest> pending;
    for (int i = 0; i < 16; ++i) pending.push_back(Request(i, cases[i], 3 + (i * 5) % 17));
    // 6 slots for 16 sequences: admissions wait for slots and reuse them.
    auto batch = DecodeBatch::Create(model, {6, 512});
    ASSERT_TRUE(batch.ok()) << batch.status();
    const Transcript t = Staggered(*batch, pending, {3, 0, 1, 2});
    std::set<std::vector<int64_t>> distinct;
    for (int i = 0; i < 16; ++i) {
      const auto& got = t.tokens.at(i);
      ASSERT_EQ(t.finish.count(i), 1u) << i;
      // (Alone is GenerateGreedy's equal too; checking it once keeps the test short under ctest -j.)
      if (eager) EXPECT_EQ(got, Alone(model, pending[i])) << "sequence " << i;
      GenerationOptions options;
      options.max_new_tokens = pending[i].max_new_tokens;
      options.stop_ids = StopIds();
      auto greedy = GenerateGreedy(*model, {cases[i].prompt}, cases[i].pixels, nullptr, options);
      ASSERT_TRUE(greedy.ok()) << greedy.status();
      EXPECT_EQ(got, (*greedy)[0]) << "sequence " << i;
      distinct.insert(got);
    }
    // The prompts lead to different answers: the check compares something.
    EXPECT_GE(distinct.size(), 4u);
  }
}

TEST(DecodeBatchTest, SequencesOfDifferentAdaptersShareABatch) {
  const auto& b = TinyBundle();
  const auto cases = Cases(6);
  const std::vector<std::shared_ptr<const LoraAdapter>> adapters = {nullptr, NonZeroAdapter(21), NonZeroAdapter(22)};
  std::deque<SequenceRequest> pending;
  for (int i = 0; i < 6; ++i) {
    pending.push_back(Request(i, cases[i], 8));
    pending.back().adapter = adapters[i % 3];
    pending.back().stop_ids.clear();
  }
  auto batch = DecodeBatch::Create(b.model, {6, 512});
  ASSERT_TRUE(batch.ok());
  const Transcript t = Staggered(*batch, pending, {2, 1});
  bool adapter_changed_an_answer = false;
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(t.tokens.at(i), Alone(b.model, pending[i])) << "sequence " << i;
    SequenceRequest base = pending[i];
    base.adapter = nullptr;
    adapter_changed_an_answer |= i % 3 != 0 && Alone(b.model, base) != t.tokens.at(i);
  }
  EXPECT_TRUE(adapter_changed_an_answer);
}

TEST(DecodeBatchTest, SeededSamplingIsTheSameAloneAndInABatch) {
  const auto& b = TinyBundle();
  const auto cases = Cases(5);
  std::deque<SequenceRequest> pending;
  for (int i = 0; i < 5; ++i) {
    pending.push_back(Request(i, cases[i], 12));
    pending.back().stop_ids.clear();
    // Two greedy neighbours, three sampled ones (two share a prompt, with different seeds).
    if (i >= 2) pending.back().sampling = {0.9, 0.95, static_cast<uint64_t>(40 + i)};
  }
  pending[4].prompt = pending[3].prompt;
  pending[4].pixel_values = pending[3].pixel_values;
  auto batch = DecodeBatch::Create(b.model, {4, 512});
  ASSERT_TRUE(batch.ok());
  const Transcript t = Staggered(*batch, pending, {2, 1, 0});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.tokens.at(i), Alone(b.model, pending[i])) << "sequence " << i;
  SequenceRequest greedy = pending[3];
  greedy.sampling = {};
  EXPECT_NE(t.tokens.at(3), Alone(b.model, greedy));  // sampling does sample
  EXPECT_NE(t.tokens.at(3), t.tokens.at(4));          // and the seed matters
}

TEST(DecodeBatchTest, ASampledImagePlaceholderIsFedBackAsAnOrdinaryToken) {
  // Near-uniform sampling over the tiny vocabulary (656 ids, 1600 draws) draws <image_soft_token>
  // now and then; the next step embeds it as text (transformers' generate does the same) instead of
  // failing the batch.
  const auto& b = TinyBundle();
  const auto cases = Cases(8);
  std::deque<SequenceRequest> pending;
  for (int i = 0; i < 8; ++i) {
    pending.push_back(Request(i, cases[i], 200));
    pending.back().stop_ids.clear();
    pending.back().sampling = {1000.0, 1.0, static_cast<uint64_t>(7 + i)};
  }
  auto batch = DecodeBatch::Create(b.model, {8, 512});
  ASSERT_TRUE(batch.ok());
  const Transcript t = Staggered(*batch, pending, {8});
  int64_t placeholders = 0;
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(t.tokens.at(i).size(), 200u);
    placeholders += std::count(t.tokens.at(i).begin(), t.tokens.at(i).end(), b.model->config().image_token_id);
  }
  EXPECT_GT(placeholders, 0);
}

TEST(SamplingTest, TopPKeepsOnlyTheNucleusAndTinyTemperatureIsGreedy) {
  // Probabilities 0.5, 0.3, 0.2: top_p 0.6 keeps the first two only.
  auto logits = torch::log(torch::tensor({{0.2, 0.5, 0.3}}, torch::kFloat));
  TokenSampler nucleus({1.0, 0.6, 7});
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(SampleTokens(logits, {&nucleus})[0].item<int64_t>());
  EXPECT_EQ(seen, (std::set<int64_t>{1, 2}));
  TokenSampler cold({1e-4, 1.0, 7});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(SampleTokens(logits, {&cold})[0].item<int64_t>(), 1);
  EXPECT_EQ(SamplingParams({-1, 1, 0}).Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SamplingParams({1, 0, 0}).Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SamplingParams({1, 1.5, 0}).Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DecodeBatchTest, CancelStopsASequenceAndFreesItsSlot) {
  const auto& b = TinyBundle();
  const auto cases = Cases(3);
  auto batch = DecodeBatch::Create(b.model, {2, 512});
  ASSERT_TRUE(batch.ok());
  std::vector<SequenceRequest> requests = {Request(10, cases[1], 30), Request(11, cases[2], 20)};
  for (auto& r : requests) r.stop_ids.clear();
  Transcript t;
  t.Record(batch->Admit(requests));
  t.Record(batch->Step());
  t.Record(batch->Step());
  EXPECT_EQ(batch->Admit({Request(12, cases[0], 9)}).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(batch->Cancel(10));
  EXPECT_FALSE(batch->Cancel(10));
  EXPECT_FALSE(batch->Contains(10));
  EXPECT_EQ(batch->active(), 1);
  const size_t cancelled_at = t.tokens[10].size();
  // The freed slot (which held the longer prompt) takes a new sequence at once.
  SequenceRequest late = Request(12, cases[0], 9);
  late.stop_ids.clear();
  t.Record(batch->Admit({late}));
  RunToEnd(*batch, t);
  EXPECT_EQ(t.tokens[10].size(), cancelled_at);
  const auto uncancelled = Alone(b.model, requests[0]);
  EXPECT_EQ(t.tokens[10], std::vector<int64_t>(uncancelled.begin(), uncancelled.begin() + cancelled_at));
  EXPECT_EQ(t.tokens[11], Alone(b.model, requests[1]));
  EXPECT_EQ(t.tokens[12], Alone(b.model, late));
  EXPECT_EQ(t.finish.at(12), FinishReason::kMaxTokens);
}

TEST(DecodeBatchTest, FinishesAtMaxTokensAndAtCapacity) {
  const auto& b = TinyBundle();
  const Case c = Cases(1)[0];
  const int64_t prompt = static_cast<int64_t>(c.prompt.ids.size());
  auto batch = DecodeBatch::Create(b.model, {2, prompt + 3});
  ASSERT_TRUE(batch.ok());
  SequenceRequest one = Request(1, c, 1);
  SequenceRequest long_answer = Request(2, c, 100);
  one.stop_ids.clear();
  long_answer.stop_ids.clear();
  Transcript t;
  t.Record(batch->Admit({one, long_answer}));
  EXPECT_EQ(t.finish.at(1), FinishReason::kMaxTokens);  // at admission: its slot is free already
  EXPECT_EQ(batch->active(), 1);
  RunToEnd(*batch, t);
  EXPECT_EQ(t.finish.at(2), FinishReason::kCapacity);
  // Each token but the last is cached: a prompt of P in a capacity of P + 3 leaves room for 4.
  ASSERT_EQ(t.tokens.at(2).size(), 4u);
  GenerationOptions options;
  options.max_new_tokens = 4;
  auto greedy = GenerateGreedy(*b.model, {c.prompt}, c.pixels, nullptr, options);
  ASSERT_TRUE(greedy.ok());
  EXPECT_EQ(t.tokens.at(2), (*greedy)[0]);
}

TEST(DecodeBatchTest, BadRequestsGetAClearStatusAndAdmitNothing) {
  const auto& b = TinyBundle();
  const auto cases = Cases(3);
  auto batch = DecodeBatch::Create(b.model, {2, 256});
  ASSERT_TRUE(batch.ok());
  auto expect = [&](std::vector<SequenceRequest> requests, absl::StatusCode code, const std::string& words) {
    auto admitted = batch->Admit(std::move(requests));
    EXPECT_EQ(admitted.status().code(), code) << admitted.status();
    EXPECT_NE(std::string(admitted.status().message()).find(words), std::string::npos) << admitted.status();
    EXPECT_EQ(batch->active(), 0);
  };
  SequenceRequest empty = Request(1, cases[0], 4);
  empty.prompt = {};
  expect({empty}, absl::StatusCode::kInvalidArgument, "empty prompt");
  // The same checks, off the batch (what a service runs on its request threads).
  EXPECT_EQ(CheckSequenceRequest(b.model->config(), 64, empty).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckSequenceRequest(b.model->config(), 64, Request(1, cases[0], 4)).ok());
  auto full = DecodeBatch::Create(b.model, {2, static_cast<int64_t>(cases[1].prompt.ids.size())});
  ASSERT_TRUE(full.ok());
  auto too_long = full->Admit({Request(1, cases[1], 4)});
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(too_long.status().message()).find("leaves no room"), std::string::npos) << too_long.status();
  SequenceRequest zero = Request(1, cases[0], 0);
  expect({zero}, absl::StatusCode::kInvalidArgument, "max_new_tokens");
  SequenceRequest hot = Request(1, cases[0], 4);
  hot.sampling.temperature = -1;
  expect({hot}, absl::StatusCode::kInvalidArgument, "temperature");
  SequenceRequest bad_id = Request(1, cases[0], 4);
  bad_id.prompt.ids[0] = 100000;
  expect({bad_id}, absl::StatusCode::kInvalidArgument, "outside the vocabulary");
  SequenceRequest no_image = Request(1, cases[0], 4);
  no_image.pixel_values = RandomPixels(1, 3);
  expect({no_image}, absl::StatusCode::kInvalidArgument, "image placeholders");
  for (const auto& pixels : {torch::tensor(1.0), torch::zeros({1, 3, 8, 8}), RandomPixels(1, 3).to(torch::kByte)}) {
    SequenceRequest odd = Request(1, cases[1], 4);
    odd.pixel_values = pixels;
    expect({odd}, absl::StatusCode::kInvalidArgument, "pixel_values must be");
  }
  expect({Request(1, cases[0], 4), Request(2, cases[0], 4), Request(3, cases[0], 4)},
         absl::StatusCode::kResourceExhausted, "slots free");
  expect({Request(1, cases[0], 4), Request(1, cases[0], 4)}, absl::StatusCode::kAlreadyExists, "already");
  // A good request in the same call is not admitted either; alone it is.
  expect({Request(5, cases[0], 4), empty}, absl::StatusCode::kInvalidArgument, "empty prompt");
  EXPECT_TRUE(batch->Admit({Request(5, cases[0], 4)}).ok());
  EXPECT_EQ(batch->Admit({Request(5, cases[0], 4)}).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(DecodeBatch::Create(b.model, {0, 64}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeBatch::Create(b.model, {4, 1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeBatch::Create(nullptr, {4, 64}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medgemma
