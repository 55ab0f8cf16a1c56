/* engine/io/build_info.c — the build configuration `strata --version` and the
 * Python binding print: version, build type, compiler and flags (fixed at
 * compile time by cmake/StrataInstall.cmake), OpenMP, and the versions of the
 * libraries actually loaded (OpenBLAS configuration, HDF5, libyaml, jansson). */
#include "internal.h"

#include <hdf5.h>
#include <jansson.h>
#include <stdio.h>
#include <yaml.h>

#ifndef STRATA_BUILD_TYPE
#define STRATA_BUILD_TYPE "unknown"
#endif
#ifndef STRATA_BUILD_COMPILER
#define STRATA_BUILD_COMPILER "unknown"
#endif
#ifndef STRATA_BUILD_FLAGS
#define STRATA_BUILD_FLAGS ""
#endif
#ifndef STRATA_BUILD_SYSTEM
#define STRATA_BUILD_SYSTEM ""
#endif
#ifdef _OPENMP
#define STRATA_OPENMP_STR_(x) #x
#define STRATA_OPENMP_STR(x) STRATA_OPENMP_STR_(x)
#define STRATA_OPENMP STRATA_OPENMP_STR(_OPENMP)
#else
#define STRATA_OPENMP "off"
#endif

void strata_build_info(char *buf, size_t size)
{
    char blas[256];
    unsigned maj = 0, min = 0, rel = 0;
    if (!buf || size == 0)
        return;
    H5get_libversion(&maj, &min, &rel);
    strata_blas_config(blas, sizeof blas);
    snprintf(buf, size,
             "build:    %s, %s, %s\n"
             "cflags:   %s\n"
             "openmp:   %s\n"
             "openblas: %s\n"
             "hdf5:     %u.%u.%u\n"
             "libyaml:  %s\n"
             "jansson:  %s\n",
             STRATA_BUILD_TYPE, STRATA_BUILD_COMPILER, STRATA_BUILD_SYSTEM, STRATA_BUILD_FLAGS,
             STRATA_OPENMP, blas, maj, min, rel, yaml_get_version_string(), JANSSON_VERSION);
}
