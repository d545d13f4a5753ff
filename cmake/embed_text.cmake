# Writes OUT: the text file IN as a C++ string constant NS::SYMBOL, so a pure library carries its data
# (the firmware catalog, the settings layouts) without doing I/O.
file(READ "${IN}" text)
get_filename_component(name "${IN}" NAME)
file(WRITE "${OUT}.tmp" "// Generated from ${name} by cmake/embed_text.cmake. Do not edit.\nnamespace ${NS} {\nextern const char* const ${SYMBOL};\nconst char* const ${SYMBOL} = R\"fleetembed(${text})fleetembed\";\n}  // namespace ${NS}\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
