#include "api/chat_api.h"

#include <algorithm>
#include <charconv>
#include <future>

#include "api/auth_api.h"
#include "api/json_fields.h"
#include "chat/encode.h"

namespace parley {

namespace json = boost::json;

namespace {

constexpr int kDefaultHistoryLimit = 50;
constexpr int kDefaultSearchLimit = 20;

// HTTP handlers run on the blocking pool, so they may wait for the sequencer's answer.
template <class T, class Start>
Result<T> Wait(Start start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  start([promise](Result<T> result) { promise->set_value(std::move(result)); });
  return future.get();
}

Result<std::optional<int64_t>> QueryInt(const HttpRequest& request, const std::string& name) {
  auto it = request.query.find(name);
  if (it == request.query.end() || it->second.empty()) return std::optional<int64_t>();
  int64_t value = 0;
  const std::string& text = it->second;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Error::InvalidRequest(name + " must be an integer");
  }
  return std::optional<int64_t>(value);
}

// ?name=true|false; absent or empty: `fallback`.
Result<bool> QueryBool(const HttpRequest& request, const std::string& name, bool fallback) {
  auto it = request.query.find(name);
  if (it == request.query.end() || it->second.empty()) return fallback;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  return Error::InvalidRequest(name + " must be true or false");
}

// Limits are checked by the service; out-of-int values become -1 so that they fail that check
// instead of wrapping around to something valid.
int AsLimit(std::optional<int64_t> value, int fallback) {
  if (!value) return fallback;
  return static_cast<int>(std::clamp<int64_t>(*value, -1, 1'000'000));
}

Result<int64_t> PathSeq(const HttpRequest& request) {
  const std::string& text = request.params.at("seq");
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 1) {
    return Error::InvalidRequest("seq must be a positive integer");
  }
  return value;
}

Status RateLimit(RateLimiter& limiter, const std::string& user_id) {
  if (int64_t wait = limiter.Take(user_id); wait > 0) return Error::RateLimited(wait);
  return Status::Ok();
}

// An optional limiter (null: none); a refusal is counted under `name`.
Status RateLimit(RateLimiter* limiter, const std::string& user_id, const ChatApiDeps& deps,
                 std::string_view name) {
  if (limiter == nullptr) return Status::Ok();
  Status s = RateLimit(*limiter, user_id);
  if (!s.ok() && deps.on_refused) deps.on_refused(name);
  return s;
}

// The fields of a history page: "messages":[entries...],"has_more":bool.
void WritePageFields(JsonWriter& w, const LogPage& page) {
  w.Key("messages").BeginArray();
  for (const LogEntry& e : page.entries) {
    w.BeginObject();
    WriteEntryFields(w, e);
    w.EndObject();
  }
  w.EndArray().Field("has_more", page.has_more);
}

// "conversations":[summaries...]
void WriteSummaries(JsonWriter& w, const std::vector<ConversationSummary>& summaries,
                    bool with_members = true) {
  w.Key("conversations").BeginArray();
  for (const auto& s : summaries) {
    w.BeginObject();
    WriteSummaryFields(w, s, with_members);
    w.EndObject();
  }
  w.EndArray();
}

// "conversations":[...],"has_more":bool[,"next_cursor":"..."]
void WritePage(JsonWriter& w, const ConversationPage& page, bool with_members) {
  WriteSummaries(w, page.conversations, with_members);
  w.Field("has_more", page.has_more);
  if (page.has_more) w.Field("next_cursor", std::string_view(page.next_cursor));
}

// A WebSocket reply {"type":TYPE,"re":ID, ...fields `write` writes}, as ReplyFrame makes it.
template <class Write>
Frame ReplyText(std::string_view type, const json::value& id, Write&& write) {
  // The replies that carry many entries or conversations are written straight to text rather
  // than built as trees (see JsonWriter).
  return MakeFrame(JsonObjectText([&](JsonWriter& w) {
    w.Field("type", type);
    if (!id.is_null()) w.Key("re").Raw(json::serialize(id));
    write(w);
  }));
}

HttpReply Ok(int status, json::object body) {
  return HttpReply::Json(status, json::serialize(body));
}
HttpReply Fail(const Error& e) { return HttpReply::FromError(e); }

// Every handler below: authenticate, decode, call the service, encode. Errors leave early.
#define PARLEY_TRY(var, expr) \
  auto var = (expr);          \
  if (!var.ok()) return Fail(var.error())

class HttpHandlers {
 public:
  explicit HttpHandlers(ChatApiDeps deps) : d_(std::move(deps)) {}

  HttpReply Create(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"type", "title", "members"}); !s.ok())
      return Fail(s.error());
    PARLEY_TRY(type, RequireString(*body, "type"));
    PARLEY_TRY(title, OptionalString(*body, "title"));
    if (Status s = RateLimit(d_.create_limiter, claims->user_id, d_, "conversation_create_rate");
        !s.ok()) {
      return Fail(s.error());
    }
    CreateRequest request{claims->user_id, *type, title->value_or(""), {}};
    const json::value* members = body->if_contains("members");
    if (members == nullptr || !members->is_array()) {
      return Fail(Error::InvalidRequest("members must be an array of user ids"));
    }
    for (const auto& m : members->get_array()) {
      if (!m.is_string())
        return Fail(Error::InvalidRequest("members must be an array of user ids"));
      request.members.emplace_back(m.get_string());
    }
    auto result = Wait<CreateResult>(
        [&](auto done) { d_.chat.CreateConversation(std::move(request), std::move(done)); });
    if (!result.ok()) return Fail(result.error());
    json::object out{{"conversation", ConversationJson(result->conversation)}};
    // Members whose group_adds setting made the add an invitation.
    if (!result->invited.empty()) {
      json::array invited;
      for (const std::string& user : result->invited) invited.emplace_back(user);
      out["invited"] = std::move(invited);
    }
    return Ok(result->created ? 201 : 200, std::move(out));
  }

  HttpReply List(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(with_members, QueryBool(r, "members", true));
    PARLEY_TRY(limit, QueryInt(r, "limit"));
    auto after = r.query.find("after");
    // Paged (issue 17 #6): a flood of conversations cannot make one reply huge.
    PARLEY_TRY(page, d_.chat.SyncPage(claims->user_id, after == r.query.end() ? "" : after->second,
                                      AsLimit(*limit, 0), *with_members));
    return HttpReply::Json(
        200, JsonObjectText([&](JsonWriter& w) { WritePage(w, *page, *with_members); }));
  }

  HttpReply Get(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(summary, d_.chat.GetConversation(claims->user_id, r.params["id"]));
    return Ok(200, {{"conversation", SummaryJson(*summary)}});
  }

  HttpReply Rename(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"title"}); !s.ok()) return Fail(s.error());
    PARLEY_TRY(title, RequireString(*body, "title"));
    auto result = Wait<ConversationRecord>([&](auto done) {
      d_.chat.Rename(claims->user_id, r.params["id"], *title, std::move(done));
    });
    if (!result.ok()) return Fail(result.error());
    return Ok(200, {{"conversation", ConversationJson(*result)}});
  }

  HttpReply History(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(after, QueryInt(r, "after_seq"));
    PARLEY_TRY(before, QueryInt(r, "before_seq"));
    PARLEY_TRY(limit, QueryInt(r, "limit"));
    PARLEY_TRY(page, d_.chat.History(claims->user_id, r.params["id"], *after, *before,
                                     AsLimit(*limit, kDefaultHistoryLimit)));
    return HttpReply::Json(200, JsonObjectText([&](JsonWriter& w) { WritePageFields(w, *page); }));
  }

  HttpReply Send(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"client_msg_id", "body", "reply_to"}); !s.ok()) {
      return Fail(s.error());
    }
    PARLEY_TRY(client_msg_id, OptionalString(*body, "client_msg_id"));
    PARLEY_TRY(text, RequireString(*body, "body"));
    PARLEY_TRY(reply_to, OptionalInt(*body, "reply_to"));
    if (Status s = RateLimit(d_.send_limiter, claims->user_id); !s.ok()) return Fail(s.error());
    SendRequest request{claims->user_id, r.params["id"], client_msg_id->value_or(""), *text,
                        reply_to->value_or(0)};
    auto entry = Wait<LogEntry>(
        [&](auto done) { d_.chat.Send(std::move(request), nullptr, std::move(done)); });
    if (!entry.ok()) return Fail(entry.error());
    return Ok(201, {{"message", EntryJson(*entry)}});
  }

  HttpReply Edit(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(seq, PathSeq(r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"body"}); !s.ok()) return Fail(s.error());
    PARLEY_TRY(text, RequireString(*body, "body"));
    if (Status s = RateLimit(d_.send_limiter, claims->user_id); !s.ok()) return Fail(s.error());
    auto entry = Wait<LogEntry>([&](auto done) {
      d_.chat.Edit(claims->user_id, r.params["id"], *seq, *text, nullptr, std::move(done));
    });
    if (!entry.ok()) return Fail(entry.error());
    return Ok(200, {{"entry", EntryJson(*entry)}});
  }

  HttpReply Delete(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(seq, PathSeq(r));
    if (Status s = RateLimit(d_.send_limiter, claims->user_id); !s.ok()) return Fail(s.error());
    auto entry = Wait<LogEntry>([&](auto done) {
      d_.chat.Delete(claims->user_id, r.params["id"], *seq, nullptr, std::move(done));
    });
    if (!entry.ok()) return Fail(entry.error());
    return Ok(200, {{"entry", EntryJson(*entry)}});
  }

  HttpReply React(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(seq, PathSeq(r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"emoji"}); !s.ok()) return Fail(s.error());
    PARLEY_TRY(emoji, RequireString(*body, "emoji"));
    if (Status s = RateLimit(d_.send_limiter, claims->user_id); !s.ok()) return Fail(s.error());
    auto entry = Wait<LogEntry>([&](auto done) {
      d_.chat.React(claims->user_id, r.params["id"], *seq, *emoji, nullptr, std::move(done));
    });
    if (!entry.ok()) return Fail(entry.error());
    return Ok(200, {{"entry", EntryJson(*entry)}});
  }

  HttpReply AddMember(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"user_id"}); !s.ok()) return Fail(s.error());
    PARLEY_TRY(user_id, RequireString(*body, "user_id"));
    if (Status s = RateLimit(d_.member_limiter, claims->user_id, d_, "member_add_rate"); !s.ok())
      return Fail(s.error());
    auto result = Wait<ConversationRecord>([&](auto done) {
      d_.chat.AddMember(claims->user_id, r.params["id"], *user_id, std::move(done));
    });
    if (!result.ok()) return Fail(result.error());
    const bool member = std::any_of(result->members.begin(), result->members.end(),
                                    [&](const MemberRecord& m) { return m.user_id == *user_id; });
    // Not a member afterwards: their group_adds setting turned the add into an invitation.
    if (!member) {
      return Ok(202, {{"conversation", ConversationJson(*result)}, {"invited", *user_id}});
    }
    return Ok(200, {{"conversation", ConversationJson(*result)}});
  }

  HttpReply RemoveMember(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    auto result = Wait<ConversationRecord>([&](auto done) {
      d_.chat.RemoveMember(claims->user_id, r.params["id"], r.params["user_id"], std::move(done));
    });
    if (!result.ok()) return Fail(result.error());
    return HttpReply::NoContent();
  }

  HttpReply SetRole(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"role"}); !s.ok()) return Fail(s.error());
    PARLEY_TRY(role_name, RequireString(*body, "role"));
    const std::optional<Role> role = ParseRole(*role_name);
    if (!role) return Fail(Error::InvalidRequest("role must be owner, admin or member"));
    auto result = Wait<ConversationRecord>([&](auto done) {
      d_.chat.SetRole(claims->user_id, r.params["id"], r.params["user_id"], *role, std::move(done));
    });
    if (!result.ok()) return Fail(result.error());
    return Ok(200, {{"conversation", ConversationJson(*result)}});
  }

  HttpReply Read(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(body, ParseJsonObject(r.body));
    if (Status s = RejectUnknownFields(*body, {"seq"}); !s.ok()) return Fail(s.error());
    PARLEY_TRY(seq, RequireInt(*body, "seq"));
    auto read = Wait<int64_t>([&](auto done) {
      d_.chat.MarkRead(claims->user_id, r.params["id"], *seq, std::move(done));
    });
    if (!read.ok()) return Fail(read.error());
    return Ok(200, {{"read_seq", *read}});
  }

  HttpReply Search(HttpRequest& r) {
    PARLEY_TRY(claims, Authenticated(d_.auth, r));
    PARLEY_TRY(limit, QueryInt(r, "limit"));
    PARLEY_TRY(before, QueryInt(r, "before"));
    auto q = r.query.find("q");
    if (d_.search_limiter != nullptr) {
      if (Status s = RateLimit(*d_.search_limiter, claims->user_id); !s.ok()) {
        if (d_.search_rate_refused != nullptr) d_.search_rate_refused->Inc();
        return Fail(s.error());
      }
    }
    PARLEY_TRY(page, d_.chat.Search(claims->user_id, q == r.query.end() ? "" : q->second,
                                    AsLimit(*limit, kDefaultSearchLimit), before->value_or(0)));
    json::array results;
    for (const SearchHit& hit : page->hits) {
      results.push_back(json::object{{"message", EntryJson(hit.message)}, {"cursor", hit.cursor}});
    }
    json::object out{{"results", std::move(results)}, {"truncated", page->truncated}};
    if (!page->hits.empty()) out["next_before"] = page->hits.back().cursor;
    return Ok(200, std::move(out));
  }

 private:
  ChatApiDeps d_;
};

#undef PARLEY_TRY

// ---------------------------------------------------------------------------------------------
// WebSocket requests. Handlers run on the connection's io thread: writes are handed to the
// sequencer, reads to the blocking pool; answers come back through Connection::Deliver.

using ConnectionPtr = std::shared_ptr<Connection>;

template <class T>
Done<T> Reply(ConnectionPtr connection, json::value id,
              std::function<Frame(const json::value&, const T&)> encode) {
  return [connection = std::move(connection), id = std::move(id),
          encode = std::move(encode)](Result<T> result) {
    connection->Deliver(result.ok() ? encode(id, *result) : ErrorFrame(id, result.error()));
  };
}

Frame AckFrame(const json::value& id, const LogEntry& entry) {
  return ReplyText("ack", id, [&](JsonWriter& w) {
    w.Field("conv", entry.conv_id)
        .Field("seq", entry.seq)
        .Field("msg_id", entry.id)
        .Field("ts", entry.ts);
    // A reaction toggles: the reacting client learns which way from its ack.
    if (entry.kind == EntryKind::kReaction) w.Field("added", entry.reaction_added);
  });
}

// Reads the fields common to requests that name a conversation and a message.
struct Target {
  std::string conv;
  int64_t seq = 0;
};
// As over HTTP, a misspelt field is an error rather than silently ignored (a misspelt
// client_msg_id would silently lose idempotency).
Status Fields(const ClientFrame& f, std::initializer_list<std::string_view> allowed) {
  for (const auto& field : f.fields) {
    const std::string_view key = field.key();
    if (key == "type" || key == "id") continue;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error::InvalidRequest("unknown field: " + std::string(key));
    }
  }
  return Status::Ok();
}

Result<Target> ConvAndSeq(const ClientFrame& f) {
  auto conv = RequireString(f.fields, "conv");
  if (!conv.ok()) return std::move(conv).error();
  auto seq = RequireInt(f.fields, "seq");
  if (!seq.ok()) return std::move(seq).error();
  return Target{std::move(*conv), *seq};
}

}  // namespace

void AddChatRoutes(Router& router, ChatApiDeps deps) {
  auto h = std::make_shared<HttpHandlers>(std::move(deps));
  auto bind = [h](HttpReply (HttpHandlers::*method)(HttpRequest&)) {
    return [h, method](HttpRequest& r) { return ((*h).*method)(r); };
  };
  const auto kBlocking = HandlerKind::kBlocking;
  router.Add("POST", "/v1/conversations", kBlocking, bind(&HttpHandlers::Create));
  router.Add("GET", "/v1/conversations", kBlocking, bind(&HttpHandlers::List));
  router.Add("GET", "/v1/conversations/{id}", kBlocking, bind(&HttpHandlers::Get));
  router.Add("PATCH", "/v1/conversations/{id}", kBlocking, bind(&HttpHandlers::Rename));
  router.Add("GET", "/v1/conversations/{id}/messages", kBlocking, bind(&HttpHandlers::History));
  router.Add("POST", "/v1/conversations/{id}/messages", kBlocking, bind(&HttpHandlers::Send));
  router.Add("PATCH", "/v1/conversations/{id}/messages/{seq}", kBlocking,
             bind(&HttpHandlers::Edit));
  router.Add("DELETE", "/v1/conversations/{id}/messages/{seq}", kBlocking,
             bind(&HttpHandlers::Delete));
  router.Add("POST", "/v1/conversations/{id}/messages/{seq}/reactions", kBlocking,
             bind(&HttpHandlers::React));
  router.Add("POST", "/v1/conversations/{id}/members", kBlocking, bind(&HttpHandlers::AddMember));
  router.Add("DELETE", "/v1/conversations/{id}/members/{user_id}", kBlocking,
             bind(&HttpHandlers::RemoveMember));
  router.Add("PUT", "/v1/conversations/{id}/members/{user_id}", kBlocking,
             bind(&HttpHandlers::SetRole));
  router.Add("POST", "/v1/conversations/{id}/read", kBlocking, bind(&HttpHandlers::Read));
  router.Add("GET", "/v1/search", kBlocking, bind(&HttpHandlers::Search));
}

void AddChatRequests(WsApi& ws, ChatApiDeps deps) {
  auto d = std::make_shared<ChatApiDeps>(std::move(deps));

  ws.Add("send", [d](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = Fields(f, {"conv", "client_msg_id", "body", "reply_to"}); !s.ok())
      return c->Deliver(ErrorFrame(f.id, s.error()));
    auto conv = RequireString(f.fields, "conv");
    auto cmid = OptionalString(f.fields, "client_msg_id");
    auto body = RequireString(f.fields, "body");
    auto reply_to = OptionalInt(f.fields, "reply_to");
    for (const Error* e :
         {conv.ok() ? nullptr : &conv.error(), cmid.ok() ? nullptr : &cmid.error(),
          body.ok() ? nullptr : &body.error(), reply_to.ok() ? nullptr : &reply_to.error()}) {
      if (e != nullptr) return c->Deliver(ErrorFrame(f.id, *e));
    }
    if (Status s = RateLimit(d->send_limiter, c->user_id()); !s.ok()) {
      return c->Deliver(ErrorFrame(f.id, s.error()));
    }
    d->chat.Send({c->user_id(), std::move(*conv), cmid->value_or(""), std::move(*body),
                  reply_to->value_or(0)},
                 c.get(), Reply<LogEntry>(c, f.id, AckFrame));
  });

  ws.Add("edit", [d](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = Fields(f, {"conv", "seq", "body"}); !s.ok())
      return c->Deliver(ErrorFrame(f.id, s.error()));
    auto target = ConvAndSeq(f);
    if (!target.ok()) return c->Deliver(ErrorFrame(f.id, target.error()));
    auto body = RequireString(f.fields, "body");
    if (!body.ok()) return c->Deliver(ErrorFrame(f.id, body.error()));
    if (Status s = RateLimit(d->send_limiter, c->user_id()); !s.ok()) {
      return c->Deliver(ErrorFrame(f.id, s.error()));
    }
    d->chat.Edit(c->user_id(), target->conv, target->seq, std::move(*body), c.get(),
                 Reply<LogEntry>(c, f.id, AckFrame));
  });

  ws.Add("delete", [d](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = Fields(f, {"conv", "seq"}); !s.ok())
      return c->Deliver(ErrorFrame(f.id, s.error()));
    auto target = ConvAndSeq(f);
    if (!target.ok()) return c->Deliver(ErrorFrame(f.id, target.error()));
    if (Status s = RateLimit(d->send_limiter, c->user_id()); !s.ok()) {
      return c->Deliver(ErrorFrame(f.id, s.error()));
    }
    d->chat.Delete(c->user_id(), target->conv, target->seq, c.get(),
                   Reply<LogEntry>(c, f.id, AckFrame));
  });

  ws.Add("react", [d](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = Fields(f, {"conv", "seq", "emoji"}); !s.ok())
      return c->Deliver(ErrorFrame(f.id, s.error()));
    auto target = ConvAndSeq(f);
    if (!target.ok()) return c->Deliver(ErrorFrame(f.id, target.error()));
    auto emoji = RequireString(f.fields, "emoji");
    if (!emoji.ok()) return c->Deliver(ErrorFrame(f.id, emoji.error()));
    if (Status s = RateLimit(d->send_limiter, c->user_id()); !s.ok()) {
      return c->Deliver(ErrorFrame(f.id, s.error()));
    }
    d->chat.React(c->user_id(), target->conv, target->seq, std::move(*emoji), c.get(),
                  Reply<LogEntry>(c, f.id, AckFrame));
  });

  ws.Add("read", [d](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = Fields(f, {"conv", "seq"}); !s.ok())
      return c->Deliver(ErrorFrame(f.id, s.error()));
    auto target = ConvAndSeq(f);
    if (!target.ok()) return c->Deliver(ErrorFrame(f.id, target.error()));
    d->chat.MarkRead(c->user_id(), target->conv, target->seq,
                     Reply<int64_t>(c, f.id, [](const json::value& id, const int64_t& seq) {
                       return ReplyFrame("ok", id, {{"read_seq", seq}});
                     }));
  });

  ws.Add("delivered", [d](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = Fields(f, {"conv", "seq"}); !s.ok())
      return c->Deliver(ErrorFrame(f.id, s.error()));
    auto target = ConvAndSeq(f);
    if (!target.ok()) return c->Deliver(ErrorFrame(f.id, target.error()));
    d->chat.MarkDelivered(c->user_id(), target->conv, target->seq,
                          Reply<int64_t>(c, f.id, [](const json::value& id, const int64_t& seq) {
                            return ReplyFrame("ok", id, {{"delivered_seq", seq}});
                          }));
  });

  ws.Add("typing", [d](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = Fields(f, {"conv"}); !s.ok()) return c->Deliver(ErrorFrame(f.id, s.error()));
    auto conv = RequireString(f.fields, "conv");
    if (!conv.ok()) return c->Deliver(ErrorFrame(f.id, conv.error()));
    if (Status s = RateLimit(d->typing_limiter, c->user_id()); !s.ok()) {
      return c->Deliver(ErrorFrame(f.id, s.error()));
    }
    const bool wants_reply = !f.id.is_null();
    d->chat.Typing(c->user_id(), std::move(*conv),
                   [c, id = f.id, wants_reply](Result<bool> result) {
                     if (!result.ok()) return c->Deliver(ErrorFrame(id, result.error()));
                     if (wants_reply) c->Deliver(ReplyFrame("ok", id));
                   });
  });

  ws.Add("history", [d](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = Fields(f, {"conv", "after_seq", "before_seq", "limit"}); !s.ok())
      return c->Deliver(ErrorFrame(f.id, s.error()));
    auto conv = RequireString(f.fields, "conv");
    auto after = OptionalInt(f.fields, "after_seq");
    auto before = OptionalInt(f.fields, "before_seq");
    auto limit = OptionalInt(f.fields, "limit");
    for (const Error* e :
         {conv.ok() ? nullptr : &conv.error(), after.ok() ? nullptr : &after.error(),
          before.ok() ? nullptr : &before.error(), limit.ok() ? nullptr : &limit.error()}) {
      if (e != nullptr) return c->Deliver(ErrorFrame(f.id, *e));
    }
    d->run_blocking([d, c, id = f.id, conv = std::move(*conv), after = *after, before = *before,
                     limit = AsLimit(*limit, kDefaultHistoryLimit)] {
      auto page = d->chat.History(c->user_id(), conv, after, before, limit);
      if (!page.ok()) return c->Deliver(ErrorFrame(id, page.error()));
      c->Deliver(ReplyText("history", id, [&](JsonWriter& w) {
        WritePageFields(w, *page);
        w.Field("conv", conv);
      }));
    });
  });

  ws.Add("sync", [d](const ClientFrame& f, const ConnectionPtr& c) {
    if (Status s = Fields(f, {"members", "limit", "after"}); !s.ok())
      return c->Deliver(ErrorFrame(f.id, s.error()));
    bool with_members = true;
    if (const json::value* v = f.fields.if_contains("members")) {
      if (!v->is_bool()) {
        return c->Deliver(ErrorFrame(f.id, Error::InvalidRequest("members must be a boolean")));
      }
      with_members = v->as_bool();
    }
    auto limit = OptionalInt(f.fields, "limit");
    if (!limit.ok()) return c->Deliver(ErrorFrame(f.id, limit.error()));
    auto after = OptionalString(f.fields, "after");
    if (!after.ok()) return c->Deliver(ErrorFrame(f.id, after.error()));
    d->run_blocking([d, c, id = f.id, with_members, limit = AsLimit(*limit, 0),
                     after = after->value_or("")] {
      auto page = d->chat.SyncPage(c->user_id(), after, limit, with_members);
      if (!page.ok()) return c->Deliver(ErrorFrame(id, page.error()));
      c->Deliver(ReplyText("sync", id, [&](JsonWriter& w) { WritePage(w, *page, with_members); }));
    });
  });
}

}  // namespace parley
