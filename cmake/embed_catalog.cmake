# Writes OUT: planner/catalog.json as a C++ string, so the planner carries its catalog without I/O.
file(READ "${IN}" json)
file(WRITE "${OUT}.tmp" "// Generated from planner/catalog.json by cmake/embed_catalog.cmake. Do not edit.\nnamespace fleet::planner {\nextern const char* const kBuiltinCatalog;\nconst char* const kBuiltinCatalog = R\"fleetcatalog(${json})fleetcatalog\";\n}  // namespace fleet::planner\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
