# Debian packages with CPack (packaging/build-deb.sh builds them):
#   libhermes-ipc0      the shared library
#   libhermes-ipc-dev   headers, static library, CMake package, pkg-config
#   hermes-ipc          hermesd, hermes-bridge, hermes-nats, hermes-ctl,
#                       hermes-remote, systemd units, man pages, the hermes
#                       system user (postinst), examples and JSON schemas
# Configure with -DCMAKE_INSTALL_PREFIX=/usr so the library goes to the
# multiarch libdir with no RUNPATH.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hermes-ipc)
set(CPACK_PACKAGE_VENDOR "Hermes")
set(CPACK_PACKAGE_CONTACT "Hermes maintainers <hermes@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev daemons)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# hermes-remote links the library of the lib package, which is not installed
# while the packages are made: look for it in the build tree.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${PROJECT_BINARY_DIR}")
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_DEBIAN_LIB_PACKAGE_NAME libhermes-ipc0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_LIB_DESCRIPTION "Hermes shared-memory message bus: shared library
 libhermes-ipc publishes and subscribes to the rings of a Hermes bus in shared
 memory, and to remote buses through hermes-bridge.")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/packaging/debian/lib/triggers")
set(CPACK_DEBIAN_LIB_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libhermes-ipc-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "Hermes shared-memory message bus: development files
 Headers, the static library, the CMake package (find_package(hermes-ipc))
 and the pkg-config file (hermes-ipc) of libhermes-ipc.")
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libsodium-dev")

set(CPACK_DEBIAN_DAEMONS_PACKAGE_NAME hermes-ipc)
set(CPACK_DEBIAN_DAEMONS_DESCRIPTION "Hermes shared-memory message bus: daemons and tools
 hermesd (the bus supervisor), hermes-bridge (the bus over TCP), hermes-nats
 (rings over NATS) and hermes-ctl, with systemd units that run them as the
 system user hermes. Applications join the group hermes to use a bus.")
set(CPACK_DEBIAN_DAEMONS_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_DAEMONS_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_DAEMONS_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/debian/daemons/postinst"
    "${PROJECT_SOURCE_DIR}/packaging/debian/daemons/prerm"
    "${PROJECT_SOURCE_DIR}/packaging/debian/daemons/postrm")
set(CPACK_DEBIAN_DAEMONS_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
cpack_add_component(lib DISPLAY_NAME "libhermes-ipc0")
cpack_add_component(dev DISPLAY_NAME "libhermes-ipc-dev" DEPENDS lib)
cpack_add_component(daemons DISPLAY_NAME "hermes-ipc" DEPENDS lib)
