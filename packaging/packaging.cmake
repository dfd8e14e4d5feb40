# packaging.cmake — what ops and driver vendors install besides the build
# itself: the systemd unit and sysusers file, the package documentation,
# and the CPack configuration of the two Debian packages
#
#   connectord      binaries, drivers, schema, /etc/connectord (conffiles),
#                   the unit, the sysusers file, the ops page
#   connectord-dev  the plugin SDK (component "sdk": plugin.h, mockhost.h,
#                   the static mock host, pkg-config files, a CMake package
#                   and an example project; see plugins/sdk/CMakeLists.txt)
#
# Build packages from a tree configured for them (no test hooks, no tests,
# installed under /usr, so GNUInstallDirs picks Debian's multiarch libdir):
#
#   cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
#         -DCONNECTORD_TEST_HOOKS=OFF -DCONNECTORD_TESTS=OFF
#   cmake --build build-pkg && (cd build-pkg && cpack -G DEB)
#
# Every install() rule without a COMPONENT lands in the default component,
# which is the connectord package, so new files need no change here.

set(CD_PKG_DIR ${CMAKE_CURRENT_LIST_DIR})
set(CD_DEB_MAINTAINER "connectord maintainers <connectord@settlepaisa.com>")
set(CD_DEB_SOURCE connectord)
set(CD_DEB_VERSION ${PROJECT_VERSION}-1)

# --- systemd ---------------------------------------------------------------
# lib/ under the prefix: /usr/lib/systemd/system is where Debian's systemd
# looks (lintian: systemd-service-in-odd-location for anything else).
install(FILES ${CD_PKG_DIR}/systemd/connectord.service DESTINATION lib/systemd/system)
install(FILES ${CD_PKG_DIR}/sysusers.d/connectord.conf DESTINATION lib/sysusers.d)

# --- documentation every Debian package carries ------------------------------
set(CD_PKG_GEN ${CMAKE_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${CD_PKG_GEN})
configure_file(${CD_PKG_DIR}/debian/changelog.in ${CD_PKG_GEN}/changelog.Debian @ONLY)
# gzip -n: no name or time stamp inside, so the package is reproducible.
find_program(CD_GZIP gzip REQUIRED)
execute_process(COMMAND ${CD_GZIP} -9nf ${CD_PKG_GEN}/changelog.Debian RESULT_VARIABLE cd_gz_rc)
if(NOT cd_gz_rc EQUAL 0)
  message(FATAL_ERROR "gzip of the Debian changelog failed")
endif()
foreach(pkg connectord connectord-dev)
  if(pkg STREQUAL connectord)
    set(comp Unspecified)
  else()
    set(comp sdk)
  endif()
  install(FILES ${CD_PKG_DIR}/debian/copyright ${CD_PKG_GEN}/changelog.Debian.gz
          DESTINATION share/doc/${pkg} COMPONENT ${comp})
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/connectord)

# --- CPack -------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME connectord)
set(CPACK_PACKAGE_VENDOR "The connectord authors")
set(CPACK_PACKAGE_CONTACT "${CD_DEB_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Unspecified sdk)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CD_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_NAME connectord)
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_SECTION net)
set(CPACK_COMPONENT_UNSPECIFIED_DESCRIPTION
  "payment and bank data connector service\nconnectord keeps connector definitions in PostgreSQL, runs them on schedule\nor on demand through driver plugins (SabPaisa and other gateway APIs, bank\nSFTP drop boxes, bank APIs, other databases) and loads what they fetch into\nPostgreSQL idempotently, with an audit trail of every run. It runs as a\nsystemd service with a REST API, a command line client and an ops page.")
# The maintainer scripts create the user with systemd-sysusers (useradd
# where systemd is absent) and tell systemd about the unit; conffiles is
# written by the pre-build script from what lands under /etc.
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_CONTROL_EXTRA
    ${CD_PKG_DIR}/debian/postinst ${CD_PKG_DIR}/debian/prerm ${CD_PKG_DIR}/debian/postrm
    ${CD_PKG_GEN}/conffiles)
# The scheduler reads zones from /usr/share/zoneinfo (core/tz.c), which no
# shared library dependency brings in.
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_DEPENDS "tzdata")
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_RECOMMENDS "postgresql-client")
set(CPACK_DEBIAN_UNSPECIFIED_PACKAGE_SUGGESTS "postgresql")

set(CPACK_DEBIAN_SDK_PACKAGE_NAME connectord-dev)
set(CPACK_DEBIAN_SDK_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_SDK_PACKAGE_DEPENDS "pkgconf | pkg-config")
set(CPACK_DEBIAN_SDK_PACKAGE_SUGGESTS "connectord, libcmocka-dev")
set(CPACK_COMPONENT_SDK_DESCRIPTION
  "connectord plugin SDK for driver vendors\nThe header of the connectord plugin ABI (connectord/plugin.h), a static mock\nhost library (connectord/mockhost.h) to unit-test a driver without a running\nconnectord, pkg-config files (connectord-plugin, connectord-mockhost), a CMake\npackage and an example driver project.")

# Debian wants configuration under /etc, not /usr/etc: move what the
# build installs to etc/ under the prefix, and list it as conffiles.
set(CPACK_PRE_BUILD_SCRIPTS ${CD_PKG_DIR}/debian/prebuild.cmake)
set(CD_PKG_CONFFILES ${CD_PKG_GEN}/conffiles)
set(CPACK_PROJECT_CONFIG_FILE ${CD_PKG_GEN}/CPackProjectConfig.cmake)
file(WRITE ${CD_PKG_GEN}/CPackProjectConfig.cmake
     "set(CD_PKG_CONFFILES \"${CD_PKG_CONFFILES}\")\n")
# CPack reads the CONTROL_EXTRA files when it builds the package; an empty
# one exists from configure time on so that a plain `cpack` never trips.
if(NOT EXISTS ${CD_PKG_CONFFILES})
  file(WRITE ${CD_PKG_CONFFILES} "")
endif()

include(CPack)
cpack_add_component(Unspecified DISPLAY_NAME "connectord service")
cpack_add_component(sdk DISPLAY_NAME "connectord plugin SDK")
