#!/usr/bin/env bash
# Cross-builds ferry's dependencies for Windows (mingw-w64) from Debian's own sources, into
# PREFIX (default: build/windows-deps). Nothing is downloaded from anywhere but Debian's
# archive: libuv, fmt, spdlog, CLI11 and OpenSSL from their Debian source packages (apt-get source,
# through a private deb-src list so the machine's apt configuration is left alone), GoogleTest
# from the sources libgtest-dev installs in /usr/src/googletest. Each is built and installed
# with its own CMake, so the prefix holds the same CMake packages (and libuv's pkg-config
# file) that MSYS2 or vcpkg install on Windows, and ferry finds them the same way.
# Idempotent: what is already built is kept.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="$(realpath -m "${1:-$here/../../build/windows-deps}")"
toolchain="$here/mingw-w64.cmake"
work="$prefix/src"
mkdir -p "$work" "$prefix/include"

# socat: tests/windows/run_under_wine.sh joins the test COM ports through a pty pair.
packages=(g++-mingw-w64-x86-64-posix wine64 wine dpkg-dev libgtest-dev libgmock-dev
          cmake ninja-build socat)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# Debian source packages, fetched through a private deb-src list.
apt_dir="$work/apt"
apt_options=(-o "Dir::Etc::SourceList=/dev/null"
             -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
             -o "Dir::State::Lists=$apt_dir/lists" -o "APT::Sandbox::User=root")
fetch_source() { # PACKAGE DIRECTORY
    if [ ! -d "$apt_dir/lists" ] || [ -z "$(ls "$apt_dir/lists" | grep -v partial)" ]; then
        mkdir -p "$apt_dir/lists/partial" "$apt_dir/sources.list.d"
        # apt reads the deb822 form only from files named *.sources in a parts directory.
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
            > "$apt_dir/sources.list.d/debian-src.sources"
        apt-get "${apt_options[@]}" update -qq
    fi
    # The newest version first; an archive mirror that lacks its files (a security update
    # not mirrored yet) falls back to the next version Debian lists.
    local version fetched=""
    for version in $(apt-cache "${apt_options[@]}" showsrc "$1" 2>/dev/null |
        sed -n 's/^Version: //p' | sort -r -V); do
        (cd "$work" && rm -rf "$2" "${1}_"* &&
            apt-get "${apt_options[@]}" source --download-only -qq "$1=$version" 2> /dev/null) &&
            fetched="$version" && break
    done
    if [ -z "$fetched" ]; then
        echo "cannot fetch the Debian source package $1" >&2
        exit 1
    fi
    # dpkg-source cannot check the signature without Debian's keyring in gpg's form; apt
    # already checked every file against the signed Release.
    (cd "$work" && dpkg-source --no-check -x "${1}"_*.dsc "$2" > /dev/null)
}
cross_build() { # SOURCE_DIRECTORY BUILD_NAME CMAKE_OPTIONS...
    local source="$1" build="$work/$2"
    shift 2
    cmake -S "$source" -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
        -DFERRY_WINDOWS_DEPS="$prefix" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$prefix" "$@" > /dev/null
    cmake --build "$build" > /dev/null
    cmake --install "$build" > /dev/null
}

# libuv: built static with libuv's own CMake.
if [ ! -f "$prefix/lib/libuv_a.a" ]; then
    fetch_source libuv1 libuv
    cross_build "$work/libuv" libuv-build -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF
fi

# fmt, compiled once (used header-only, it cost ~8 s in every file that logs).
if [ ! -f "$prefix/lib/libfmt.a" ]; then
    fetch_source fmtlib fmt
    cross_build "$work/fmt" fmt-build -DFMT_TEST=OFF -DFMT_DOC=OFF -DBUILD_SHARED_LIBS=OFF
fi

# spdlog, compiled, over the fmt above (Debian's source has fmt's bundled copy removed).
if [ ! -f "$prefix/lib/cmake/spdlog/spdlogConfig.cmake" ]; then
    fetch_source spdlog spdlog
    cross_build "$work/spdlog" spdlog-build -DSPDLOG_FMT_EXTERNAL=ON -DSPDLOG_BUILD_EXAMPLE=OFF \
        -DSPDLOG_BUILD_TESTS=OFF -DSPDLOG_BUILD_BENCH=OFF -DSPDLOG_INSTALL=ON
fi

# CLI11, header-only; installed for its CMake package.
if [ ! -f "$prefix/share/cmake/CLI11/CLI11Config.cmake" ] &&
    [ ! -f "$prefix/lib/cmake/CLI11/CLI11Config.cmake" ]; then
    fetch_source cli11 cli11
    cross_build "$work/cli11" cli11-build -DCLI11_BUILD_TESTS=OFF -DCLI11_BUILD_EXAMPLES=OFF \
        -DCLI11_BUILD_DOCS=OFF -DCLI11_INSTALL=ON
fi

# OpenSSL 3 for TLS: static libcrypto and libssl with OpenSSL's own Configure (mingw64 target);
# no engines or modules to load at run time; only the libraries are built.
if [ ! -f "$prefix/lib/libssl.a" ]; then
    fetch_source openssl openssl
    (cd "$work/openssl" &&
        ./Configure mingw64 --cross-compile-prefix=x86_64-w64-mingw32- no-shared no-module \
            no-engine no-tests --prefix="$prefix" --libdir=lib > /dev/null &&
        make -j"$(nproc)" build_libs > /dev/null &&
        make install_dev > /dev/null)
fi

# GoogleTest and GoogleMock: the sources Debian's libgtest-dev ships.
if [ ! -f "$prefix/lib/libgtest.a" ]; then
    cross_build /usr/src/googletest googletest-build
fi
echo "Windows dependencies in $prefix"
