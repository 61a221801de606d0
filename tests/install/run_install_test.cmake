# Script run by CTest: install the built tree into WORK_DIR/prefix, then configure, build and
# run the consumer against it through the CMake package, through pkg-config from CMake, and with
# exactly the README's command line; then compile (and run) every C++ example in README.md and
# docs/ against the installed package.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
endfunction()

run(${CMAKE_COMMAND} --install ${FERRY_BINARY_DIR} --prefix ${prefix})

foreach(mode cmake pkgconfig)
    set(build ${WORK_DIR}/consumer-${mode})
    if(mode STREQUAL "pkgconfig")
        set(extra -DUSE_PKG_CONFIG=ON)
        set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig:$ENV{PKG_CONFIG_PATH}")
    else()
        set(extra -DCMAKE_PREFIX_PATH=${prefix})
    endif()
    run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${build} -G Ninja
        -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER} "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
        "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}" ${extra})
    run(${CMAKE_COMMAND} --build ${build})
    run(${build}/consumer)
    message(STATUS "consumer via ${mode}: ok")
endforeach()

# The README's command, nothing added but the build's own flags (sanitizers).
set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
run(sh -c "\"$1\" $2 \"$3\" $(pkg-config --cflags --libs ferry) -o \"$4\""
    sh ${CMAKE_CXX_COMPILER} "${CXX_FLAGS} ${LINKER_FLAGS}" ${CONSUMER_SOURCE_DIR}/main.cpp
    ${WORK_DIR}/consumer-readme)
run(${WORK_DIR}/consumer-readme)
message(STATUS "consumer via the README's pkg-config command: ok")

file(GLOB doc_pages ${SOURCE_DIR}/docs/*.md)
run(/usr/bin/python3 ${DOCS_CHECK} --cxx ${CMAKE_CXX_COMPILER} "--flags=${CXX_FLAGS} ${LINKER_FLAGS}"
    ${SOURCE_DIR}/README.md ${doc_pages})
message(STATUS "README and docs examples: ok")
