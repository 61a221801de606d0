# Defines ferry::libuv, for the build and for the installed CMake package. libuv's own CMake
# package where it installed one (targets libuv::uv / libuv::uv_a since libuv 1.45, as vcpkg
# ships it; uv / uv_a before, as build-deps.sh cross-builds it), otherwise its pkg-config file
# (Debian 12's libuv1-dev ships no CMake package). Windows links libuv statically when the
# static library is there, so programs run without a libuv DLL beside them.
if(NOT TARGET ferry::libuv)
    find_package(libuv CONFIG QUIET)
    if(WIN32)
        set(ferry_libuv_candidates libuv::uv_a uv_a libuv::uv uv)
    else()
        set(ferry_libuv_candidates libuv::uv uv libuv::uv_a uv_a)
    endif()
    set(ferry_libuv_target "")
    foreach(candidate IN LISTS ferry_libuv_candidates)
        if(TARGET ${candidate} AND NOT ferry_libuv_target)
            set(ferry_libuv_target ${candidate})
        endif()
    endforeach()
    if(NOT ferry_libuv_target)
        find_package(PkgConfig REQUIRED)
        pkg_search_module(LIBUV REQUIRED IMPORTED_TARGET GLOBAL libuv>=1.44)
        set(ferry_libuv_target PkgConfig::LIBUV)
    endif()
    add_library(ferry::libuv INTERFACE IMPORTED GLOBAL)
    target_link_libraries(ferry::libuv INTERFACE ${ferry_libuv_target})
    if(WIN32)
        # What libuv calls on Windows (pkg-config's plain lookup leaves Libs.private out).
        target_link_libraries(ferry::libuv INTERFACE ws2_32 iphlpapi userenv psapi user32
                                                     advapi32 dbghelp ole32 shell32)
    endif()
endif()
