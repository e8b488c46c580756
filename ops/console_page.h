// The fleet console: one self-contained HTML page (styles and script inline, no external
// files, so it works with no network beyond the admin listener). It reads /api/* with the
// page's ?token= and follows /api/events (server-sent events) for live updates; devices
// are paged (100 a page) so 10,000 of them cost one page of rows.
#pragma once

#include <string_view>

namespace outpost::ops {

std::string_view console_page();

}  // namespace outpost::ops
