# Warnings are errors on our own targets only (system headers stay quiet).
function(lrp_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Werror)
endfunction()
