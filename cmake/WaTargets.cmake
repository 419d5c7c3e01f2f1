# Target helpers: one library per source folder; its unit tests (*_test.cc), fuzzers (*_fuzz.cc)
# and benchmarks (*_bench.cc) are globbed so that none silently falls out of the build.

# -Wmismatched-new-delete: g++ 12 false positive on coroutine frames at -O1 and above.
set(WA_WARNINGS -Wall -Wextra -Wno-missing-field-initializers -Wno-mismatched-new-delete)
if(WA_WERROR)
  list(APPEND WA_WARNINGS -Werror)
endif()

function(wa_apply_flags target)
  target_compile_options(${target} PRIVATE ${WA_WARNINGS})
  target_compile_definitions(${target} PUBLIC BOOST_ASIO_NO_DEPRECATED)
endfunction()

function(_wa_glob out dir pattern)
  file(GLOB found CONFIGURE_DEPENDS ${dir}/${pattern})
  set(${out} ${found} PARENT_SCOPE)
endfunction()

# wa_library(NAME [SOURCES extra...] [DEPS public deps...])
# Compiles every *.cc of the current folder that is not a test, fuzzer or benchmark.
function(wa_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  _wa_glob(all ${CMAKE_CURRENT_SOURCE_DIR} "*.cc")
  list(FILTER all EXCLUDE REGEX "_(test|fuzz|bench)\\.cc$")
  add_library(${name} STATIC ${all} ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/src)
  target_link_libraries(${name} PUBLIC ${A_DEPS})
  wa_apply_flags(${name})
endfunction()

# wa_tests(LIBRARY [DEPS extra...] [LABELS ...]): one gtest binary from the folder's *_test.cc.
function(wa_tests lib)
  cmake_parse_arguments(A "" "" "DEPS;LABELS" ${ARGN})
  if(NOT WA_BUILD_TESTS OR WA_FUZZ)
    return()
  endif()
  _wa_glob(tests ${CMAKE_CURRENT_SOURCE_DIR} "*_test.cc")
  if(NOT tests)
    return()
  endif()
  set(exe ${lib}_test)
  add_executable(${exe} ${tests})
  target_link_libraries(${exe} PRIVATE ${lib} ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${exe} PRIVATE
    WA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    WA_SHARED_DIR="${WA_SHARED_DIR}")
  wa_apply_flags(${exe})
  set(labels unit ${A_LABELS})
  gtest_discover_tests(${exe} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS "${labels}")
endfunction()

# wa_fuzzers(LIBRARY): one libFuzzer binary per *_fuzz.cc; registered as a ctest running for
# WA_FUZZ_SECONDS over the seed corpus tests/fuzz/<name>/.
function(wa_fuzzers lib)
  if(NOT WA_FUZZ)
    return()
  endif()
  _wa_glob(fuzzers ${CMAKE_CURRENT_SOURCE_DIR} "*_fuzz.cc")
  foreach(src ${fuzzers})
    get_filename_component(stem ${src} NAME_WE)
    add_executable(${stem} ${src})
    target_link_libraries(${stem} PRIVATE ${lib})
    target_compile_options(${stem} PRIVATE -fsanitize=fuzzer)
    target_link_options(${stem} PRIVATE -fsanitize=fuzzer)
    set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/${stem})
    set(work ${PROJECT_BINARY_DIR}/fuzz-work/${stem})
    add_test(NAME fuzz.${stem}
      COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
        ${PROJECT_SOURCE_DIR}/scripts/run-fuzzer.sh $<TARGET_FILE:${stem}> ${corpus} ${work} ${WA_FUZZ_SECONDS})
    set_tests_properties(fuzz.${stem} PROPERTIES LABELS fuzz TIMEOUT 600)
  endforeach()
endfunction()

# wa_benches(LIBRARY): one Google Benchmark binary from the folder's *_bench.cc.
function(wa_benches lib)
  cmake_parse_arguments(A "" "" "DEPS" ${ARGN})
  if(NOT WA_BUILD_BENCH OR WA_FUZZ)
    return()
  endif()
  _wa_glob(benches ${CMAKE_CURRENT_SOURCE_DIR} "*_bench.cc")
  if(NOT benches)
    return()
  endif()
  add_executable(${lib}_bench ${benches})
  target_link_libraries(${lib}_bench PRIVATE ${lib} ${A_DEPS} benchmark::benchmark)
  target_compile_definitions(${lib}_bench PRIVATE
    WA_SOURCE_DIR="${PROJECT_SOURCE_DIR}" WA_SHARED_DIR="${WA_SHARED_DIR}")
  wa_apply_flags(${lib}_bench)
  set_property(GLOBAL APPEND PROPERTY WA_BENCH_TARGETS ${lib}_bench)
endfunction()
