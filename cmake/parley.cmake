# parley_library(NAME SOURCES ... DEPS ...): one static library per component.
function(parley_library name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${L_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${L_DEPS})
endfunction()

# parley_test(NAME LABEL unit|integration|e2e|cluster SOURCES ... DEPS ...):
# a GoogleTest binary whose tests ctest runs under the given label.
function(parley_test name)
  if(NOT PARLEY_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "LABEL" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name} PROPERTIES LABELS ${T_LABEL} DISCOVERY_TIMEOUT 120)
endfunction()
