// Built with OXIDE_WITH_INFERENCE=OFF: no runtime; callers report "built without inference".
#include "inference/runtime.hpp"

namespace oxide::inference {

std::unique_ptr<Runtime> MakeRuntime() { return nullptr; }

}  // namespace oxide::inference
