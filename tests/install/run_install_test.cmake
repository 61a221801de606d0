# Script run by CTest: install the built tree into WORK_DIR/prefix, then configure, build and
# run the consumer against it through the CMake package and through pkg-config.
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
