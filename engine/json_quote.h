// Text as a JSON string literal: the one escaper of the CLI's and the benchmark's JSON
// output, the C API's JSON rows and the admin listener's answers.
// Thread rules: a pure function.
#pragma once

#include <string>
#include <string_view>

namespace outpost {

// `text` in double quotes with quotes, backslashes and control characters escaped (\n, \r,
// \t by name, the others as \u00XX). Bytes from 0x80 pass through: UTF-8 stays as it is.
std::string json_quote(std::string_view text);

}  // namespace outpost
