# How ferry finds what it depends on: CMake packages and pkg-config, the same lookups on Linux
# (Debian's -dev packages), in the Windows cross-build (the prefix third_party/windows/
# build-deps.sh fills from Debian's source packages; the mingw-w64 toolchain file makes it a
# find root) and natively on Windows (MSYS2's or vcpkg's prefix). Nothing is downloaded.
# Each lookup defines an imported target the areas link against.

if(WIN32 AND CMAKE_CROSSCOMPILING AND NOT EXISTS "${FERRY_WINDOWS_DEPS}/lib/cmake/spdlog")
    message(FATAL_ERROR "No Windows dependencies in '${FERRY_WINDOWS_DEPS}': run "
                        "third_party/windows/build-deps.sh build/windows-deps")
endif()

include(${CMAKE_CURRENT_LIST_DIR}/find_libuv.cmake)
# spdlog ships a CMake package (libspdlog-dev, MSYS2, vcpkg); it brings fmt with it.
find_package(spdlog CONFIG REQUIRED)
find_package(Threads REQUIRED)
# OpenSSL 3 (libssl-dev; for Windows, the static libraries build-deps.sh cross-builds from
# Debian's source, with the system libraries they need) for TLS. Without it ferry builds
# without TLS: TlsContext's factories throw errc::not_supported.
if(WIN32 AND CMAKE_CROSSCOMPILING)
    set(OPENSSL_USE_STATIC_LIBS TRUE)
endif()
find_package(OpenSSL 3 COMPONENTS SSL Crypto)
set(FERRY_HAVE_TLS ${OPENSSL_FOUND})
if(FERRY_BUILD_TESTS)
    find_package(GTest CONFIG REQUIRED)
endif()

if(FERRY_BUILD_SAMPLES OR FERRY_BUILD_BENCHMARKS)
    # CLI11 (libcli11-dev) parses the samples' command lines; header-only with a CMake package.
    find_package(CLI11 CONFIG REQUIRED)
endif()

if(FERRY_BUILD_BENCHMARKS)
    find_package(benchmark CONFIG REQUIRED)
    # Asio (libasio-dev) is header-only and has no CMake package: find its header.
    find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
    add_library(ferry_asio INTERFACE)
    target_include_directories(ferry_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
    target_compile_definitions(ferry_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
    target_link_libraries(ferry_asio INTERFACE Threads::Threads)
endif()
