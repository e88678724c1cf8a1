#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace parley {

/// Free text shown to other people (display names, device names, titles): valid UTF-8, at
/// most `max_bytes`, and nothing that could make it lie about what it says (issue 17, #14):
/// - no control characters: C0, DEL and C1 (U+0080-U+009F), which garble terminals and logs;
/// - no bidirectional controls (U+061C, U+200E/U+200F, U+202A-U+202E, U+2066-U+2069), which
///   reorder what follows them ("gpj.exe" shown as "exe.jpg");
/// - no invisible characters (zero-width spaces and joiners, word joiner, invisible operators,
///   BOM, soft hyphen, Mongolian vowel separator, Hangul fillers, tag characters, line and
///   paragraph separators...), which make two different names look the same. A zero-width
///   joiner is allowed only between two emoji (family and profession sequences), and a
///   variation selector only right after a visible character (U+FE0F makes an emoji).
/// kInvalidRequest naming `what` and the offending code point otherwise. Empty is allowed.
Status CheckLabel(std::string_view text, size_t max_bytes, std::string_view what);

/// The code point rules of CheckLabel alone (no length limit), for text with its own
/// length rule (presence status text).
Status CheckVisibleText(std::string_view text, std::string_view what);

/// `text` folded for comparing with usernames: fullwidth ASCII (U+FF01-U+FF5E) mapped to
/// ASCII, ASCII letters lower-cased, surrounding spaces and one leading '@' dropped. Cheap
/// stand-in for NFKC case folding: it catches the look-alikes a username can be written with.
std::string FoldForUsername(std::string_view text);

/// Refuses (kInvalidRequest) a display name that, folded, is the username of a user other
/// than its owner, so that nobody can call themselves "alice" while alice exists.
/// `username_exists` is asked only about the folded text; `own_username` is the owner's.
Status CheckNotAnotherUsername(std::string_view display_name, std::string_view own_username,
                               const std::function<bool(std::string_view)>& username_exists);

}  // namespace parley
