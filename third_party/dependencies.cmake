# How ferry finds what it depends on. Everything comes from Debian packages; nothing is
# downloaded. Each lookup defines an imported target the areas link against.

if(WIN32)
    # Cross-built for Windows by third_party/windows/build-deps.sh from Debian's sources.
    include(${CMAKE_CURRENT_LIST_DIR}/windows/dependencies.cmake)
else()
    find_package(PkgConfig REQUIRED)
    # libuv ships a pkg-config file (libuv1-dev) but no CMake package on Debian 12.
    pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET GLOBAL libuv>=1.44)
    add_library(ferry::libuv ALIAS PkgConfig::LIBUV)
    # spdlog (libspdlog-dev) ships a CMake package; it brings fmt with it.
    find_package(spdlog CONFIG REQUIRED)
    if(FERRY_BUILD_TESTS)
        find_package(GTest CONFIG REQUIRED)
    endif()
endif()

find_package(Threads REQUIRED)

if(FERRY_BUILD_BENCHMARKS)
    find_package(benchmark CONFIG REQUIRED)
    # Asio (libasio-dev) is header-only and has no CMake package: find its header.
    find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
    add_library(ferry_asio INTERFACE)
    target_include_directories(ferry_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
    target_compile_definitions(ferry_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
    target_link_libraries(ferry_asio INTERFACE Threads::Threads)
endif()

if(FERRY_BUILD_SAMPLES AND NOT WIN32)
    # CLI11 (libcli11-dev) parses the samples' command lines; header-only with a CMake package.
    find_package(CLI11 CONFIG REQUIRED)
endif()
