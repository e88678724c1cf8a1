#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace parley {

/// Free text shown to other people (display names, device names, titles): valid UTF-8, at
/// most `max_bytes`, and no control characters, which could garble a terminal or a log line.
/// kInvalidRequest naming `what` otherwise. Empty is allowed.
Status CheckLabel(std::string_view text, size_t max_bytes, std::string_view what);

}  // namespace parley
