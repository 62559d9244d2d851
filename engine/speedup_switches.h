// Switches that turn individual speed-ups off, for A/B runs of the parity gate (tools/parity/
// parity.py reports the gate with each one off as well). All default to on; read once per process.
//   MEDGEMMA_FUSED_KERNELS=0  the torch op chains instead of engine/cuda's fused kernels
#pragma once

namespace medgemma {

bool FusedKernelsEnabled();

}  // namespace medgemma
