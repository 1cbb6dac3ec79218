# SPDX-License-Identifier: BSD-3-Clause
# Install rules: the library, the headers, a CMake package (adagrad::adagrad
# through find_package(adagrad CONFIG)) and a pkg-config file.
include(CMakePackageConfigHelpers)

install(TARGETS adagrad EXPORT adagradTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES include/adagrad/adagrad.h include/adagrad/adagrad.hpp include/adagrad/isa_list.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/adagrad)

set(ADAGRAD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/adagrad)
install(EXPORT adagradTargets NAMESPACE adagrad:: DESTINATION ${ADAGRAD_CMAKE_DIR})
configure_package_config_file(cmake/adagradConfig.cmake.in
  ${PROJECT_BINARY_DIR}/adagradConfig.cmake
  INSTALL_DESTINATION ${ADAGRAD_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/adagradConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/adagradConfig.cmake
  ${PROJECT_BINARY_DIR}/adagradConfigVersion.cmake
  DESTINATION ${ADAGRAD_CMAKE_DIR})

# A static libadagrad needs its private dependencies at the consumer's link.
if(ADAGRAD_BUILD_SHARED)
  set(ADAGRAD_PC_PRIVATE_LIBS "")
  set(ADAGRAD_PC_CFLAGS "")
else()
  set(ADAGRAD_PC_PRIVATE_LIBS "-lpthread -lstdc++ -lm")
  set(ADAGRAD_PC_CFLAGS "-DADAGRAD_STATIC_DEFINE")
endif()
configure_file(cmake/adagrad.pc.in ${PROJECT_BINARY_DIR}/adagrad.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/adagrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
