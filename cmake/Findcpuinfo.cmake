# SPDX-License-Identifier: BSD-3-Clause
# Finds pytorch/cpuinfo and defines the imported target cpuinfo::cpuinfo.
#
# A find module instead of cpuinfo's own package config: the config that
# Debian 12's libcpuinfo-dev ships computes its prefix one level too high and
# points at /usr/lib/lib/x86_64-linux-gnu/libclog.a, so
# find_package(cpuinfo CONFIG) fails there.
find_path(cpuinfo_INCLUDE_DIR cpuinfo.h)
find_library(cpuinfo_LIBRARY cpuinfo)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(cpuinfo REQUIRED_VARS cpuinfo_LIBRARY cpuinfo_INCLUDE_DIR)

if(cpuinfo_FOUND AND NOT TARGET cpuinfo::cpuinfo)
  add_library(cpuinfo::cpuinfo UNKNOWN IMPORTED)
  set_target_properties(cpuinfo::cpuinfo PROPERTIES
    IMPORTED_LOCATION "${cpuinfo_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${cpuinfo_INCLUDE_DIR}")
endif()
mark_as_advanced(cpuinfo_INCLUDE_DIR cpuinfo_LIBRARY)
