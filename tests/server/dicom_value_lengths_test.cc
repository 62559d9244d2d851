// FirstOverrunningLength: impossible lengths are found wherever DCMTK would read them (top level,
// inside sequences and items, fragment items), and the bytes of fragments are never read as
// headers.
#include "server/dicom_value_lengths.h"

#include <gtest/gtest.h>

#include <string>

namespace medgemma::server {
namespace {

std::string Le16(uint16_t v) { return std::string{char(v & 0xff), char(v >> 8)}; }
std::string Le32(uint32_t v) { return Le16(v & 0xffff) + Le16(v >> 16); }
std::string Tag(uint16_t group, uint16_t element) { return Le16(group) + Le16(element); }
std::string Short(uint16_t group, uint16_t element, const std::string& vr, const std::string& value) {
  return Tag(group, element) + vr + Le16(static_cast<uint16_t>(value.size())) + value;
}
std::string Long(uint16_t group, uint16_t element, const std::string& vr, uint32_t length) {
  return Tag(group, element) + vr + Le16(0) + Le32(length);
}
std::string Item(uint32_t length) { return Tag(0xFFFE, 0xE000) + Le32(length); }
std::string SequenceEnd() { return Tag(0xFFFE, 0xE0DD) + Le32(0); }

constexpr DicomEncoding kExplicit{true, false}, kImplicit{false, false};
const std::string kRows = Short(0x0028, 0x0010, "US", Le16(8));

TEST(DicomValueLengthsTest, AWellFormedDatasetHasNone) {
  const std::string fragment("\x10\x00\x10\x00OB\x00\x00\xff\xff\xff\x7f", 12);  // a header's look-alike, as pixel bytes
  const std::string pixels = Long(0x7FE0, 0x0010, "OB", 0xFFFFFFFF) + Item(0) + Item(fragment.size()) + fragment +
                             SequenceEnd();
  const std::string nested = Short(0x0008, 0x0100, "SH", "CODE");
  const std::string sequence = Long(0x0008, 0x1140, "SQ", 8 + nested.size()) + Item(nested.size()) + nested;
  EXPECT_EQ(FirstOverrunningLength(kRows + sequence + pixels, kExplicit), std::nullopt);
  EXPECT_EQ(FirstOverrunningLength("", kExplicit), std::nullopt);
}

TEST(DicomValueLengthsTest, FindsImpossibleLengthsAtEveryLevel) {
  const std::string top = kRows + Long(0x0011, 0x1010, "OB", 0xFFFFFFF0) + std::string(16, '\0');
  EXPECT_EQ(FirstOverrunningLength(top, kExplicit), 0xFFFFFFF0u);
  // Inside an item of an undefined-length sequence.
  const std::string nested = Long(0x0008, 0x1140, "SQ", 0xFFFFFFFF) + Item(0xFFFFFFFF) +
                             Long(0x0009, 0x0010, "UT", 2483029038u) + "abcd";
  EXPECT_EQ(FirstOverrunningLength(nested, kExplicit), 2483029038u);
  // A fragment item of encapsulated pixel data.
  const std::string fragment = Long(0x7FE0, 0x0010, "OB", 0xFFFFFFFF) + Item(0) + Item(1u << 30) + "xx";
  EXPECT_EQ(FirstOverrunningLength(fragment, kExplicit), 1u << 30);
  // Implicit VR: a 4-byte length after every tag.
  const std::string implicit = Tag(0x0028, 0x0010) + Le32(2) + Le16(8) + Tag(0x0011, 0x1010) + Le32(0x7FFFFFFF) + "zz";
  EXPECT_EQ(FirstOverrunningLength(implicit, kImplicit), 0x7FFFFFFFu);
  // Big endian: the same length in the other byte order.
  const std::string big = std::string("\x00\x28\x00\x10", 4) + "US" + std::string("\x00\x02\x00\x08", 4) +
                          std::string("\x00\x11\x10\x10", 4) + "OB" + std::string("\x00\x00\x40\x00\x00\x00", 6);
  EXPECT_EQ(FirstOverrunningLength(big, DicomEncoding{true, true}), 0x40000000u);
}

TEST(DicomValueLengthsTest, StopsWithoutAVerdictWhereAHeaderIsNotOne) {
  // Not a VR: the walk cannot know where the next header is, and leaves the file to the parser.
  EXPECT_EQ(FirstOverrunningLength(Tag(0x0011, 0x1010) + "\x01\x02" + Le32(0xFFFFFFF0), kExplicit), std::nullopt);
  // An undefined-length UN holds implicit-VR elements: not walked.
  const std::string un = Long(0x0011, 0x1010, "UN", 0xFFFFFFFF) + Tag(0x0011, 0x1011) + Le32(0x7FFFFFFF);
  EXPECT_EQ(FirstOverrunningLength(un, kExplicit), std::nullopt);
}

}  // namespace
}  // namespace medgemma::server
