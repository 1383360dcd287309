# Warnings are errors on our own targets only (system headers stay quiet).
function(lrp_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Werror
    # GCC 12 reports false -Wrestrict positives inside std::string operator+ (GCC bug 105329).
    -Wno-restrict)
endfunction()
