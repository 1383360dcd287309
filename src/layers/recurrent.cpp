#include "lrp/layers/recurrent.hpp"

namespace lrp {

const char* recurrent_direction_name(RecurrentDirection d) {
  switch (d) {
    case RecurrentDirection::Forward: return "forward";
    case RecurrentDirection::Reverse: return "reverse";
    case RecurrentDirection::Bidirectional: return "bidirectional";
  }
  return "?";
}

}  // namespace lrp
