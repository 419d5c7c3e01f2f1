# Every dependency is a Debian 12 package (scripts/install-deps.sh); find_package/pkg-config only.

if(WA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  # GCC's sanitizer instrumentation defeats its flow analysis: -Wmaybe-uninitialized then fires
  # inside libstdc++ (std::regex, std::function) on code that is clean under dev and release,
  # which still check for it.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
endif()
if(WA_FUZZ)
  add_compile_options(-fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
  set(WA_FUZZ_SECONDS 60 CACHE STRING "Seconds each fuzzer runs under ctest")
endif()

# shared/ (protocol vectors) sits beside the repository; tests read it from there.
get_filename_component(_wa_parent ${PROJECT_SOURCE_DIR} DIRECTORY)
set(WA_SHARED_DIR "${_wa_parent}/shared" CACHE PATH "The shared/ folder with protocol vectors")

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Protobuf 3.21 REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(SIGNAL REQUIRED IMPORTED_TARGET libsignal-protocol-c)

find_package(Boost 1.81 REQUIRED COMPONENTS json url)
find_package(SQLite3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
include(GoogleTest)
