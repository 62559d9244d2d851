// The CSV reader against RFC 4180: quoted fields with commas, line breaks and doubled quotes, CRLF,
// a byte-order mark, blank lines kept as rows, and bad quoting named by line; the writer's output
// reads back exactly.
#include <gtest/gtest.h>

#include "base/csv.h"

namespace medgemma {
namespace {

using Fields = std::vector<std::string>;

std::vector<Fields> FieldsOf(const std::vector<CsvRecord>& records) {
  std::vector<Fields> out;
  for (const auto& r : records) out.push_back(r.fields);
  return out;
}

TEST(CsvTest, PlainFieldsAreKeptAsWritten) {
  auto records = ParseCsv("path,label\na.png, benign \n,\nlast,row");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(FieldsOf(*records),
            (std::vector<Fields>{{"path", "label"}, {"a.png", " benign "}, {"", ""}, {"last", "row"}}));
  EXPECT_EQ((*records)[3].line, 4);
}

TEST(CsvTest, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  auto records = ParseCsv("\"dir, with comma/a.png\",1\n\"say \"\"hi\"\"\",\"two\nlines\"\n\"\",x\nnext,2\n");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(FieldsOf(*records), (std::vector<Fields>{{"dir, with comma/a.png", "1"},
                                                     {"say \"hi\"", "two\nlines"},
                                                     {"", "x"},
                                                     {"next", "2"}}));
  // Each record knows the line it starts on, past the line break inside the quotes.
  EXPECT_EQ((*records)[1].line, 2);
  EXPECT_EQ((*records)[2].line, 4);
  EXPECT_EQ((*records)[3].line, 5);
}

TEST(CsvTest, CrlfLoneCrAndAByteOrderMark) {
  auto records = ParseCsv("\xEF\xBB\xBFpath,label\r\n\"a\r\nb\",1\r\nc,2\rd,3\r\n");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(FieldsOf(*records), (std::vector<Fields>{{"path", "label"}, {"a\r\nb", "1"}, {"c", "2"}, {"d", "3"}}));
  EXPECT_EQ((*records)[2].line, 4);  // the CRLF inside the quotes is one line break
  EXPECT_EQ((*records)[3].line, 5);  // and so is the lone CR
}

TEST(CsvTest, BlankLinesAreRowsWithoutFields) {
  auto records = ParseCsv("a\n\nb\n");
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(FieldsOf(*records), (std::vector<Fields>{{"a"}, {}, {"b"}}));
  ASSERT_TRUE(ParseCsv("").ok());
  EXPECT_TRUE(ParseCsv("")->empty());
}

TEST(CsvTest, BadQuotingIsAnErrorNamingTheLine) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"a,b\nc,\"open\nstill open,1\n", "line 2: a quoted field is never closed"},
           {"a,b\n\"x\ny\"z,1\n", "line 3: 'z' after a closing quote"},
           {"\"x\" ,1\n", "line 1: ' ' after a closing quote"},
           {"\"x\"\x01,1\n", "line 1: byte 0x01 after a closing quote"},
           {"ok,1\nsay \"hi\",2\n", "line 2: a quote inside an unquoted field"},
       }) {
    auto records = ParseCsv(c.text);
    EXPECT_EQ(records.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(records.status().message().find(c.message), std::string::npos) << records.status();
  }
}

TEST(CsvTest, WrittenRecordsReadBackExactly) {
  const std::vector<Fields> rows = {{"plain", "1"},   {"a,b", "say \"hi\""}, {"two\nlines", "cr\r\nlf"},
                                    {""},             {"", ""},              {" padded ", "\"\""},
                                    {"caf\xC3\xA9"}};
  std::string text;
  for (const auto& row : rows) text += FormatCsvRecord(row);
  EXPECT_EQ(FormatCsvRecord({"plain", "1"}), "plain,1\n");
  EXPECT_EQ(FormatCsvRecord({"a,b"}), "\"a,b\"\n");
  auto records = ParseCsv(text);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(FieldsOf(*records), rows);
}

}  // namespace
}  // namespace medgemma
