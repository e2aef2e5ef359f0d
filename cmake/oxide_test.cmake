# oxide_add_test(NAME name SOURCES a.cpp b.cpp LIBS lib1 lib2)
# One test executable per module; gtest_discover_tests registers each TEST with CTest.
function(oxide_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(NOT OXIDE_BUILD_TESTS)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} oxide_testing GTest::gtest GTest::gtest_main oxide_warnings)
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
  oxide_unit_test_target(${T_NAME})
endfunction()

# oxide_unit_test_target(name): `name` is an executable that a test outside the integration label
# runs. The target oxide_unit_tests (top-level CMakeLists.txt) builds them all and nothing else:
# the sanitizer build of `make test` runs only those tests, so it skips the binaries, benchmarks
# and release-only code that they never execute.
function(oxide_unit_test_target name)
  set_property(GLOBAL APPEND PROPERTY OXIDE_UNIT_TEST_TARGETS ${name})
endfunction()
