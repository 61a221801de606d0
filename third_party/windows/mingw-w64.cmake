# CMake toolchain file: cross-compile for 64-bit Windows with Debian's mingw-w64 (posix thread
# model: the win32 one lacks std::mutex and std::thread). Used by the `windows` preset and by
# build-deps.sh for the dependencies.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
# The prefix build-deps.sh fills is a second root: find_package and pkg-config look there (and
# never at the Linux host's own libraries), as a native Windows build looks in MSYS2's or
# vcpkg's prefix.
if(FERRY_WINDOWS_DEPS)
    list(APPEND CMAKE_FIND_ROOT_PATH "${FERRY_WINDOWS_DEPS}")
    set(ENV{PKG_CONFIG_LIBDIR} "${FERRY_WINDOWS_DEPS}/lib/pkgconfig")
    set(ENV{PKG_CONFIG_PATH} "")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Programs run under Wine without the mingw runtime DLLs beside them.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_CROSSCOMPILING_EMULATOR wine)
