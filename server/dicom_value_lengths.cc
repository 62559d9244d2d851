#include "server/dicom_value_lengths.h"

#include <cctype>

namespace medgemma::server {
namespace {

constexpr uint32_t kUndefinedLength = 0xFFFFFFFFu;
constexpr uint16_t kItemGroup = 0xFFFE;
constexpr uint16_t kItem = 0xE000, kSequenceDelimiter = 0xE0DD;
constexpr uint16_t kPixelDataGroup = 0x7FE0, kPixelData = 0x0010;

class Reader {
 public:
  Reader(std::string_view b, bool big_endian) : b_(b), big_endian_(big_endian) {}
  bool Has(size_t at, size_t n) const { return at <= b_.size() && n <= b_.size() - at; }
  uint32_t U16(size_t at) const {
    const uint32_t lo = uint8_t(b_[at]), hi = uint8_t(b_[at + 1]);
    return big_endian_ ? lo << 8 | hi : hi << 8 | lo;
  }
  uint32_t U32(size_t at) const {
    return big_endian_ ? U16(at) << 16 | U16(at + 2) : U16(at + 2) << 16 | U16(at);
  }
  std::string_view Vr(size_t at) const { return b_.substr(at, 2); }
  size_t size() const { return b_.size(); }

 private:
  std::string_view b_;
  bool big_endian_;
};

// PS3.5 7.1.2: the VRs with a reserved word and a 32-bit length.
bool LongFormVr(std::string_view vr) {
  for (std::string_view v : {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}) {
    if (vr == v) return true;
  }
  return false;
}

bool LooksLikeVr(std::string_view vr) { return std::isupper(uint8_t(vr[0])) && std::isupper(uint8_t(vr[1])); }

}  // namespace

std::optional<uint64_t> FirstOverrunningLength(std::string_view dataset, DicomEncoding encoding) {
  const Reader r(dataset, encoding.big_endian);
  // Inside encapsulated pixel data (undefined length, up to its sequence delimiter) items hold raw
  // fragments, stepped over; elsewhere items hold elements, walked into.
  bool in_fragments = false;
  size_t at = 0;
  while (r.Has(at, 8)) {
    const uint32_t group = r.U16(at), element = r.U16(at + 2);
    size_t value_at;
    uint32_t length;
    bool walk_into;
    if (group == kItemGroup) {
      length = r.U32(at + 4);
      value_at = at + 8;
      if (element == kSequenceDelimiter) in_fragments = false;
      walk_into = element == kItem && !in_fragments;
    } else if (encoding.explicit_vr) {
      const std::string_view vr = r.Vr(at + 4);
      if (!LooksLikeVr(vr)) return std::nullopt;
      const bool long_form = LongFormVr(vr);
      if (long_form && !r.Has(at, 12)) return std::nullopt;
      length = long_form ? r.U32(at + 8) : r.U16(at + 6);
      value_at = at + (long_form ? 12 : 8);
      // An undefined-length UN holds implicit-VR elements (PS3.5 6.2.2): not walked, in either sense.
      if (vr == "UN" && length == kUndefinedLength) return std::nullopt;
      walk_into = vr == "SQ" || length == kUndefinedLength;
    } else {
      length = r.U32(at + 4);
      value_at = at + 8;
      walk_into = length == kUndefinedLength;
    }
    if (length == kUndefinedLength) {
      if (group == kPixelDataGroup && element == kPixelData) in_fragments = true;
      at = value_at;
      continue;
    }
    if (length > r.size() - value_at) return length;
    at = walk_into ? value_at : value_at + length;
  }
  return std::nullopt;
}

}  // namespace medgemma::server
