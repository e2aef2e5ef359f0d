add_library(oxide_warnings INTERFACE)
target_compile_options(oxide_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wsuggest-override -Wold-style-cast)
if(OXIDE_WERROR)
  target_compile_options(oxide_warnings INTERFACE -Werror)
endif()
