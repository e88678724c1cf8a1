#include "common/text_rules.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "common/utf8.h"

namespace parley {

namespace {

// Decodes valid UTF-8 (checked before) into code points.
std::vector<char32_t> CodePoints(std::string_view text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    char32_t cp = 0;
    size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else if (c < 0xE0) {
      cp = c & 0x1F;
      len = 2;
    } else if (c < 0xF0) {
      cp = c & 0x0F;
      len = 3;
    } else {
      cp = c & 0x07;
      len = 4;
    }
    for (size_t k = 1; k < len && i + k < text.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

bool IsControl(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

bool IsBidiControl(char32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

bool IsVariationSelector(char32_t cp) {
  return (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF) ||
         (cp >= 0x180B && cp <= 0x180D) || cp == 0x180F;
}

// Characters that render as nothing (or as blank space indistinguishable from nothing).
bool IsInvisible(char32_t cp) {
  return cp == 0x00AD ||                      // soft hyphen
         cp == 0x034F ||                      // combining grapheme joiner
         cp == 0x115F || cp == 0x1160 ||      // Hangul choseong / jungseong fillers
         cp == 0x17B4 || cp == 0x17B5 ||      // Khmer inherent vowels
         cp == 0x180E ||                      // Mongolian vowel separator
         (cp >= 0x200B && cp <= 0x200D) ||    // zero-width space, non-joiner, joiner
         cp == 0x2028 || cp == 0x2029 ||      // line / paragraph separator
         (cp >= 0x2060 && cp <= 0x2064) ||    // word joiner, invisible operators
         (cp >= 0x206A && cp <= 0x206F) ||    // deprecated format characters
         cp == 0x3164 || cp == 0xFFA0 ||      // Hangul fillers
         cp == 0xFEFF ||                      // zero-width no-break space (BOM)
         (cp >= 0xFFF9 && cp <= 0xFFFB) ||    // interlinear annotation controls
         (cp >= 0x1D173 && cp <= 0x1D17A) ||  // musical symbol format controls
         (cp >= 0xE0000 && cp <= 0xE007F);    // tag characters
}

bool IsEmoji(char32_t cp) {
  return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
         (cp >= 0x2B00 && cp <= 0x2BFF);
}

bool IsSpace(char32_t cp) {
  return cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string Hex(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

}  // namespace

Status CheckVisibleText(std::string_view text, std::string_view what) {
  if (!IsValidUtf8(text)) return Error::InvalidRequest(std::string(what) + " must be valid UTF-8");
  const std::vector<char32_t> cps = CodePoints(text);
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t cp = cps[i];
    if (IsControl(cp)) {
      return Error::InvalidRequest(std::string(what) + " must not contain control characters");
    }
    if (IsBidiControl(cp)) {
      return Error::InvalidRequest(std::string(what) +
                                   " must not contain bidirectional control characters (" +
                                   Hex(cp) + ")");
    }
    if (cp == 0x200D && i > 0 && i + 1 < cps.size() && IsEmoji(cps[i - 1]) &&
        (IsEmoji(cps[i + 1]))) {
      continue;  // an emoji ZWJ sequence
    }
    if (cp == 0x200D && i > 1 && i + 1 < cps.size() && cps[i - 1] == 0xFE0F &&
        IsEmoji(cps[i - 2]) && IsEmoji(cps[i + 1])) {
      continue;  // the same, after an emoji presentation selector
    }
    if (IsVariationSelector(cp)) {
      const bool after_visible = i > 0 && !IsControl(cps[i - 1]) && !IsSpace(cps[i - 1]) &&
                                 !IsInvisible(cps[i - 1]) && !IsVariationSelector(cps[i - 1]) &&
                                 !IsBidiControl(cps[i - 1]);
      if (after_visible) continue;
      return Error::InvalidRequest(std::string(what) + " must not contain a variation selector (" +
                                   Hex(cp) + ") that follows no visible character");
    }
    if (IsInvisible(cp)) {
      return Error::InvalidRequest(std::string(what) + " must not contain invisible characters (" +
                                   Hex(cp) + ")");
    }
  }
  return Status::Ok();
}

Status CheckLabel(std::string_view text, size_t max_bytes, std::string_view what) {
  if (text.size() > max_bytes || !IsValidUtf8(text)) {
    return Error::InvalidRequest(std::string(what) + " must be valid UTF-8 of at most " +
                                 std::to_string(max_bytes) + " bytes");
  }
  return CheckVisibleText(text, what);
}

std::string FoldForUsername(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (!IsValidUtf8(text)) return std::string(text);
  for (char32_t cp : CodePoints(text)) {
    if (cp >= 0xFF01 && cp <= 0xFF5E) cp = cp - 0xFF01 + 0x21;  // fullwidth forms
    if (cp == 0x3000) cp = 0x20;                                // ideographic space
    if (cp < 0x80) {
      char c = static_cast<char>(cp);
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out.push_back(c);
      continue;
    }
    // Anything else is kept as it was: no username contains it, so it never matches.
    char buf[4];
    size_t len = 0;
    if (cp < 0x800) {
      buf[0] = static_cast<char>(0xC0 | (cp >> 6));
      buf[1] = static_cast<char>(0x80 | (cp & 0x3F));
      len = 2;
    } else if (cp < 0x10000) {
      buf[0] = static_cast<char>(0xE0 | (cp >> 12));
      buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      buf[2] = static_cast<char>(0x80 | (cp & 0x3F));
      len = 3;
    } else {
      buf[0] = static_cast<char>(0xF0 | (cp >> 18));
      buf[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      buf[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      buf[3] = static_cast<char>(0x80 | (cp & 0x3F));
      len = 4;
    }
    out.append(buf, len);
  }
  const size_t first = out.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  const size_t last = out.find_last_not_of(' ');
  out = out.substr(first, last - first + 1);
  if (!out.empty() && out.front() == '@') out.erase(0, 1);
  return out;
}

Status CheckNotAnotherUsername(std::string_view display_name, std::string_view own_username,
                               const std::function<bool(std::string_view)>& username_exists) {
  const std::string folded = FoldForUsername(display_name);
  if (folded.empty() || folded == own_username) return Status::Ok();
  if (username_exists(folded)) {
    return Error::InvalidRequest("display_name must not be another user's username (\"" + folded +
                                 "\")");
  }
  return Status::Ok();
}

}  // namespace parley
