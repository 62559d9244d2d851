// CSV as RFC 4180 defines it, the one reader and writer of the project: fields separated by commas,
// records by CRLF or LF (a lone CR too, as old spreadsheets write); a field in double quotes may
// hold commas, line breaks and quotes written twice (""). A UTF-8 byte-order mark at the start is
// skipped. Fields are returned as written: no whitespace is trimmed.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <string_view>
#include <vector>

namespace medgemma {

struct CsvRecord {
  std::vector<std::string> fields;  // empty for a blank line
  int line = 0;                     // 1-based line of the file on which the record starts
};

// Every record of `text`, blank lines included (as records without fields), so that record i is
// row i + 1 as a spreadsheet numbers it. A quoted field left open, a quote inside an unquoted field
// or anything but a comma or a line break after a closing quote is INVALID_ARGUMENT naming the line.
absl::StatusOr<std::vector<CsvRecord>> ParseCsv(std::string_view text);

// One record as a CSV line ending in "\n", each field quoted where it must be (a comma, a quote or
// a line break in it) so that ParseCsv reads back exactly `fields`.
std::string FormatCsvRecord(const std::vector<std::string>& fields);

}  // namespace medgemma
