# cmake/StrataDeps.cmake — finds every external dependency and gathers them in
# the INTERFACE target strata::deps. A missing one stops the configure step with
# the Debian package that provides it.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

function(strata_require_pkg prefix module debian)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR "strata needs ${module} (pkg-config) — install it with: apt-get install ${debian}")
  endif()
endfunction()

# OpenBLAS is BLAS and LAPACK; models/linalg calls LAPACK through LAPACKE (the
# required stack). LAPACKE is linked from Debian's static archive where it is
# installed (liblapacke-dev ships liblapacke.a): its C wrappers then resolve
# dpotrf_ and the rest to libopenblas, and no process loads liblapacke.so with
# the reference liblapack, libblas and libtmglib behind it (four shared
# libraries, ~1 ms of every command's start: issue 19, docs/glm.md#lapack).
# Its symbols stay inside libstrata.so (--exclude-libs, CMakeLists.txt).
strata_require_pkg(OPENBLAS openblas libopenblas-dev)
strata_require_pkg(LAPACKE lapacke liblapacke-dev)
find_library(STRATA_LAPACKE_STATIC NAMES liblapacke.a HINTS ${LAPACKE_LIBRARY_DIRS})
add_library(strata_dep_lapacke INTERFACE)
if(STRATA_LAPACKE_STATIC)
  target_include_directories(strata_dep_lapacke INTERFACE ${LAPACKE_INCLUDE_DIRS})
  target_link_libraries(strata_dep_lapacke INTERFACE ${STRATA_LAPACKE_STATIC} PkgConfig::OPENBLAS)
else()
  target_link_libraries(strata_dep_lapacke INTERFACE PkgConfig::LAPACKE)
endif()
# The CLI links OpenBLAS's static archive where Debian ships one beside the
# shared library (libopenblas-dev: openblas-pthread/libopenblas.a) and it links
# by itself (no libgfortran for the LAPACK entries strata calls); libstrata.so,
# the tests, MPI and sanitizer builds keep the shared one (CMakeLists.txt).
find_library(STRATA_OPENBLAS_STATIC NAMES libopenblas.a HINTS ${OPENBLAS_LIBRARY_DIRS} NO_DEFAULT_PATH)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
if(STRATA_OPENBLAS_STATIC AND STRATA_LAPACKE_STATIC AND NOT DEFINED STRATA_OPENBLAS_STATIC_OK)
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_INCLUDES ${LAPACKE_INCLUDE_DIRS} ${OPENBLAS_INCLUDE_DIRS})
  set(CMAKE_REQUIRED_LIBRARIES ${STRATA_LAPACKE_STATIC} ${STRATA_OPENBLAS_STATIC} Threads::Threads m)
  check_c_source_compiles([=[
#include <cblas.h>
#include <lapacke.h>
int main(void)
{
    double a[1] = {4}, b[1] = {2}, y[1] = {0};
    openblas_set_num_threads(1);
    cblas_dgemv(CblasColMajor, CblasNoTrans, 1, 1, 1.0, a, 1, b, 1, 0.0, y, 1);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0, a, 1, b, 1, 0.0, y, 1);
    return LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', 1, a, 1) + LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', 1, 1, a, 1, b, 1)
           + LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', 1, a, 1) + (openblas_get_config() == 0);
}]=] STRATA_OPENBLAS_STATIC_OK)
  unset(CMAKE_REQUIRED_INCLUDES)
  unset(CMAKE_REQUIRED_LIBRARIES)
endif()
strata_require_pkg(YAML yaml-0.1 libyaml-dev)
strata_require_pkg(JANSSON jansson libjansson-dev)
strata_require_pkg(LIBCRYPTO libcrypto libssl-dev)
# Excel workbooks (outputs.xlsx): typed cells, shading, filters (engine/io/xlsx.c).
strata_require_pkg(XLSXWRITER xlsxwriter libxlsxwriter-dev)

if(STRATA_MPI)
  # The MPI build (docs/scale.md#mpi): Open MPI and the parallel HDF5 that
  # Debian installs beside the serial one (libhdf5-openmpi-dev).
  find_package(MPI COMPONENTS C QUIET)
  if(NOT MPI_C_FOUND)
    message(FATAL_ERROR "STRATA_MPI=ON needs MPI — install it with: apt-get install libopenmpi-dev openmpi-bin")
  endif()
  set(STRATA_H5P_DIR /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/hdf5/openmpi)
  find_path(STRATA_H5P_INCLUDE H5FDmpio.h PATHS /usr/include/hdf5/openmpi NO_DEFAULT_PATH)
  find_library(STRATA_H5P_LIBRARY hdf5 PATHS ${STRATA_H5P_DIR}/lib ${STRATA_H5P_DIR} NO_DEFAULT_PATH)
  if(NOT STRATA_H5P_INCLUDE OR NOT STRATA_H5P_LIBRARY)
    message(FATAL_ERROR "STRATA_MPI=ON needs parallel HDF5 — install it with: apt-get install libhdf5-openmpi-dev")
  endif()
  set(HDF5_C_INCLUDE_DIRS ${STRATA_H5P_INCLUDE} ${MPI_C_INCLUDE_DIRS})
  set(HDF5_C_LIBRARIES ${STRATA_H5P_LIBRARY} MPI::MPI_C)
  set(HDF5_C_DEFINITIONS "")
  set(HDF5_FOUND TRUE)
else()
  find_package(HDF5 COMPONENTS C QUIET)
endif()
if(NOT HDF5_FOUND)
  message(FATAL_ERROR "strata needs the HDF5 C library — install it with: apt-get install libhdf5-dev")
endif()

find_package(OpenMP COMPONENTS C QUIET)
if(NOT OpenMP_C_FOUND)
  message(FATAL_ERROR "strata needs OpenMP for C — install it with: apt-get install libgomp1 (gcc) or libomp-dev (clang)")
endif()

# libcsv (RFC 4180 parser) ships no pkg-config file.
find_path(LIBCSV_INCLUDE_DIR csv.h)
find_library(LIBCSV_LIBRARY csv)
if(NOT LIBCSV_INCLUDE_DIR OR NOT LIBCSV_LIBRARY)
  message(FATAL_ERROR "strata needs libcsv — install it with: apt-get install libcsv-dev")
endif()

# Per-layer dependency targets (each layer links only what it may call).
add_library(strata_dep_blas INTERFACE)
add_library(strata::blas ALIAS strata_dep_blas)
target_link_libraries(strata_dep_blas INTERFACE strata_dep_lapacke PkgConfig::OPENBLAS)
add_library(strata_dep_h5 INTERFACE)
add_library(strata::h5 ALIAS strata_dep_h5)
target_include_directories(strata_dep_h5 INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_compile_definitions(strata_dep_h5 INTERFACE ${HDF5_C_DEFINITIONS})
target_link_libraries(strata_dep_h5 INTERFACE ${HDF5_C_LIBRARIES})
add_library(strata_dep_text INTERFACE)
add_library(strata::text ALIAS strata_dep_text)
target_include_directories(strata_dep_text INTERFACE ${LIBCSV_INCLUDE_DIR})
target_link_libraries(strata_dep_text INTERFACE PkgConfig::YAML PkgConfig::JANSSON
                      PkgConfig::LIBCRYPTO PkgConfig::XLSXWRITER ${LIBCSV_LIBRARY})

add_library(strata_deps INTERFACE)
add_library(strata::deps ALIAS strata_deps)
target_include_directories(strata_deps INTERFACE ${HDF5_C_INCLUDE_DIRS} ${LIBCSV_INCLUDE_DIR})
target_compile_definitions(strata_deps INTERFACE ${HDF5_C_DEFINITIONS})
target_link_libraries(strata_deps INTERFACE
  strata_dep_lapacke PkgConfig::OPENBLAS PkgConfig::YAML PkgConfig::JANSSON PkgConfig::LIBCRYPTO
  PkgConfig::XLSXWRITER ${HDF5_C_LIBRARIES} ${LIBCSV_LIBRARY} OpenMP::OpenMP_C m)

if(STRATA_BUILD_TESTS)
  pkg_check_modules(CMOCKA QUIET IMPORTED_TARGET cmocka)
  if(NOT CMOCKA_FOUND)
    message(FATAL_ERROR "the tests need cmocka — install it with: apt-get install libcmocka-dev (or configure with -DSTRATA_BUILD_TESTS=OFF)")
  endif()
endif()
