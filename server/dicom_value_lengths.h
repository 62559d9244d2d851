// A walk over a DICOM dataset's element headers that finds a declared value length running past
// the end of the bytes, before DCMTK parses them: DCMTK allocates each value's declared length
// before it reads the value (a 300-byte file can ask for 4 GB), and a memory stream gives it no way
// to defer the load.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace medgemma::server {

struct DicomEncoding {
  bool explicit_vr = true;
  bool big_endian = false;
};

// The first declared length (of an element, item or fragment) that runs past the end of
// `dataset`, walking into sequences and items as DCMTK reads them. The walk stops without a verdict
// where a header is not one (an unknown VR, a truncated header): the parser then refuses the file
// itself, so only a well-formed header with an impossible length is reported. In implicit VR a
// sequence of defined length is stepped over whole (telling it from other values needs the data
// dictionary), so lengths nested inside one are not checked.
std::optional<uint64_t> FirstOverrunningLength(std::string_view dataset, DicomEncoding encoding);

}  // namespace medgemma::server
