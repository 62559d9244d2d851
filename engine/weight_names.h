// Tensor and module names across the layouts Gemma 3 checkpoints come in. Inside the engine every
// name is "canonical": transformers 5.17's in-memory module path (model.language_model.layers.0...,
// model.vision_tower.encoder..., model.multi_modal_projector..., lm_head).
#pragma once

#include <string>

namespace medgemma {

// Maps any accepted layout to the canonical name:
//   language_model.model.X        (transformers save_pretrained)   -> model.language_model.X
//   language_model.lm_head.X                                       -> lm_head.X
//   vision_tower[.vision_model].X (4.x hub / 5.x save)             -> model.vision_tower.X
//   multi_modal_projector.X                                        -> model.multi_modal_projector.X
//   model.vision_tower.vision_model.X (4.x in-memory)              -> model.vision_tower.X
std::string CanonicalTensorName(const std::string& name);

// The name transformers 5.17 save_pretrained writes for a canonical name.
std::string SavedTensorName(const std::string& canonical);

}  // namespace medgemma
