#include "store/sqlite/sqlite_search.h"

#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <utility>

namespace parley::sqlite {

struct SearchTokenizer::Impl {
  fts5_tokenizer api{};
  Fts5Tokenizer* tokenizer = nullptr;
  ~Impl() {
    if (tokenizer != nullptr) api.xDelete(tokenizer);
  }
};

SearchTokenizer::SearchTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SearchTokenizer::~SearchTokenizer() = default;

Result<std::unique_ptr<SearchTokenizer>> SearchTokenizer::Create(Database& db) {
  // The documented way to reach the FTS5 API: `SELECT fts5(?)` with a pointer binding.
  sqlite3* handle = db.native_handle();
  fts5_api* fts = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(handle, "SELECT fts5(?1)", -1, &stmt, nullptr) != SQLITE_OK) {
    return Error::Internal(std::string("sqlite: FTS5 is not available: ") + sqlite3_errmsg(handle));
  }
  sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&fts), "fts5_api_ptr", nullptr);
  sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (fts == nullptr) return Error::Internal("sqlite: FTS5 API not found");

  auto impl = std::make_unique<Impl>();
  void* user_data = nullptr;
  if (fts->xFindTokenizer(fts, "unicode61", &user_data, &impl->api) != SQLITE_OK) {
    return Error::Internal("sqlite: FTS5 has no unicode61 tokenizer");
  }
  const char* args[] = {"remove_diacritics", "2"};
  if (impl->api.xCreate(user_data, args, 2, &impl->tokenizer) != SQLITE_OK) {
    impl->tokenizer = nullptr;
    return Error::Internal("sqlite: could not create the unicode61 tokenizer");
  }
  return std::unique_ptr<SearchTokenizer>(new SearchTokenizer(std::move(impl)));
}

Result<std::vector<std::string>> SearchTokenizer::Words(std::string_view text) const {
  std::vector<std::string> words;
  if (text.empty()) return words;
  if (text.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Error::InvalidRequest("text too long to index");
  }
  auto on_token = [](void* ctx, int /*flags*/, const char* token, int size, int /*start*/,
                     int /*end*/) -> int {
    auto* out = static_cast<std::vector<std::string>*>(ctx);
    std::string word;
    word.reserve(static_cast<size_t>(size));
    for (int i = 0; i < size; ++i) {
      const auto c = static_cast<unsigned char>(token[i]);
      // unicode61 emits only letters and digits; an ASCII separator here would split the
      // tagged term in the 'ascii'-tokenized index, so it is dropped defensively.
      if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        continue;
      word += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    if (!word.empty()) out->push_back(std::move(word));
    return SQLITE_OK;
  };
  const int rc = impl_->api.xTokenize(impl_->tokenizer, &words, FTS5_TOKENIZE_DOCUMENT, text.data(),
                                      static_cast<int>(text.size()), on_token);
  if (rc != SQLITE_OK) return Error::Internal("sqlite: tokenizing failed");
  return words;
}

std::string ConversationTag(std::string_view conv_id) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : conv_id) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag(17, 'x');
  for (int i = 16; i >= 1; --i) {
    tag[static_cast<size_t>(i)] = kHex[hash & 0xf];
    hash >>= 4;
  }
  return tag;
}

Result<std::string> IndexedText(const SearchTokenizer& tokenizer, std::string_view tag,
                                std::string_view body) {
  Result<std::vector<std::string>> words = tokenizer.Words(body);
  if (!words.ok()) return std::move(words).error();
  std::string text;
  text.reserve(body.size() + words->size() * (tag.size() + 1));
  for (const std::string& word : *words) {
    if (!text.empty()) text += ' ';
    text += tag;
    text += word;
  }
  return text;
}

namespace {

bool IsSpace(char c) {
  // A NUL would end the match expression early in C APIs; it separates words like a space.
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '\0';
}

size_t CodePoints(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80 ? 1 : 0;
  return n;
}

}  // namespace

Result<SearchQuery> ParseSearchQuery(const SearchTokenizer& tokenizer, std::string_view query) {
  std::vector<std::string_view> raw_words;
  for (size_t i = 0; i < query.size();) {
    while (i < query.size() && IsSpace(query[i])) ++i;
    const size_t start = i;
    while (i < query.size() && !IsSpace(query[i])) ++i;
    if (i > start) raw_words.push_back(query.substr(start, i - start));
  }
  if (raw_words.empty()) return Error::InvalidRequest("the search query is empty");
  if (raw_words.size() > kMaxSearchWords) {
    return Error::InvalidRequest("the search query has more than " +
                                 std::to_string(kMaxSearchWords) + " words");
  }
  SearchQuery parsed;
  for (std::string_view raw : raw_words) {
    Result<std::vector<std::string>> words = tokenizer.Words(raw);
    if (!words.ok()) return std::move(words).error();
    if (words->empty()) continue;
    SearchQuery::Phrase phrase;
    phrase.prefix = CodePoints(words->back()) >= kMinPrefixChars;
    phrase.words = std::move(*words);
    parsed.phrases.push_back(std::move(phrase));
  }
  return parsed;
}

std::string MatchExpression(const SearchQuery& query, std::string_view tag) {
  std::string match;
  for (const SearchQuery::Phrase& phrase : query.phrases) {
    if (!match.empty()) match += " AND ";
    match += '"';
    for (size_t i = 0; i < phrase.words.size(); ++i) {
      if (i > 0) match += ' ';
      match += tag;
      // Words never hold a quote (see SearchTokenizer::Words); doubling one would still keep
      // it inside the string.
      for (char c : phrase.words[i]) {
        if (c == '"') match += '"';
        match += c;
      }
    }
    match += '"';
    if (phrase.prefix) match += '*';
  }
  return match;
}

}  // namespace parley::sqlite
