# How the Windows build finds its dependencies: in FERRY_WINDOWS_DEPS, where
# third_party/windows/build-deps.sh put them (cross-built from Debian's sources).
set(FERRY_WINDOWS_DEPS "${CMAKE_SOURCE_DIR}/build/windows-deps"
    CACHE PATH "Where build-deps.sh installed the Windows dependencies")
if(NOT EXISTS "${FERRY_WINDOWS_DEPS}/lib/libuv_a.a" OR NOT EXISTS "${FERRY_WINDOWS_DEPS}/lib/libfmt.a")
    message(FATAL_ERROR "No Windows libuv in ${FERRY_WINDOWS_DEPS}: run "
                        "third_party/windows/build-deps.sh ${FERRY_WINDOWS_DEPS}")
endif()

# libuv, static, and the Windows libraries it calls.
add_library(ferry::libuv INTERFACE IMPORTED GLOBAL)
target_include_directories(ferry::libuv SYSTEM INTERFACE "${FERRY_WINDOWS_DEPS}/include")
target_link_libraries(ferry::libuv INTERFACE "${FERRY_WINDOWS_DEPS}/lib/libuv_a.a"
    ws2_32 iphlpapi userenv psapi user32 advapi32 dbghelp ole32 shell32)

# spdlog header-only over the static fmt (Debian's spdlog headers use the external fmt).
add_library(spdlog::spdlog INTERFACE IMPORTED GLOBAL)
target_include_directories(spdlog::spdlog SYSTEM INTERFACE "${FERRY_WINDOWS_DEPS}/include")
target_link_libraries(spdlog::spdlog INTERFACE "${FERRY_WINDOWS_DEPS}/lib/libfmt.a")

# CLI11, header-only.
add_library(CLI11::CLI11 INTERFACE IMPORTED GLOBAL)
target_include_directories(CLI11::CLI11 SYSTEM INTERFACE "${FERRY_WINDOWS_DEPS}/include")

if(FERRY_BUILD_TESTS)
    find_package(GTest CONFIG REQUIRED PATHS "${FERRY_WINDOWS_DEPS}" NO_DEFAULT_PATH
                 NO_CMAKE_FIND_ROOT_PATH)
endif()
