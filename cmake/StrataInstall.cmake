# cmake/StrataInstall.cmake — what an installed strata needs to find at run
# time, decided before the targets are created (CMakeLists.txt includes it
# right after the dependencies; the install() rules stay in CMakeLists.txt):
#  - STRATA_DATADIR_DEFINES: compile-time defaults for the reference data
#    (engine/synth/synth_ref.c): <prefix>/share/strata, then <source>/data, so
#    an installed binary, an out-of-tree build and a Python process (whose
#    /proc/self/exe is python3) all find data/reference;
#  - STRATA_BUILD_INFO_DEFINES: compiler, flags and build type for
#    `strata --version` (engine/io/build_info.c);
#  - rpath: the installed CLI finds lib/, the installed library its
#    neighbours, both keep non-system link directories (a private HDF5 or
#    OpenBLAS), so nothing needs LD_LIBRARY_PATH (the CLI's list is made in
#    CMakeLists.txt).
set(STRATA_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/strata)
set(STRATA_DATADIR_DEFINES
    STRATA_DATADIR="${CMAKE_INSTALL_FULL_DATADIR}/strata"
    STRATA_SOURCE_DATADIR="${CMAKE_SOURCE_DIR}/data")

string(TOUPPER "${CMAKE_BUILD_TYPE}" _strata_bt)
set(_strata_flags "${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${_strata_bt}}")
if(STRATA_SANITIZE)
  string(APPEND _strata_flags " -fsanitize=address,undefined")
endif()
string(STRIP "${_strata_flags}" _strata_flags)
string(REGEX REPLACE "  +" " " _strata_flags "${_strata_flags}")
set(STRATA_BUILD_INFO_DEFINES
    STRATA_BUILD_TYPE="${CMAKE_BUILD_TYPE}"
    STRATA_BUILD_COMPILER="${CMAKE_C_COMPILER_ID} ${CMAKE_C_COMPILER_VERSION}"
    STRATA_BUILD_FLAGS="${_strata_flags}"
    STRATA_BUILD_SYSTEM="${CMAKE_SYSTEM_NAME} ${CMAKE_SYSTEM_PROCESSOR}")

set(CMAKE_INSTALL_RPATH_USE_LINK_PATH ON)
set(STRATA_RPATH_BIN "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
set(STRATA_RPATH_LIB "$ORIGIN")
