#include "store/privacy_store.h"

namespace parley {

std::string_view GroupAddsName(GroupAdds adds) {
  switch (adds) {
    case GroupAdds::kAnyone:
      return "anyone";
    case GroupAdds::kContacts:
      return "contacts";
    case GroupAdds::kNobody:
      return "nobody";
  }
  return "anyone";
}

std::optional<GroupAdds> ParseGroupAdds(std::string_view name) {
  if (name == "anyone") return GroupAdds::kAnyone;
  if (name == "contacts") return GroupAdds::kContacts;
  if (name == "nobody") return GroupAdds::kNobody;
  return std::nullopt;
}

}  // namespace parley
